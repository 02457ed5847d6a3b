# bench-lib.sh: the set-up that the end-to-end benchmarks (tests/bench-e2e,
# tests/bench-appctl) share, sourced by them after they set
#
#   prog       the benchmark's name, for messages
#   builddir   a configured ibbridge build tree (or empty: . or
#              $IBBRIDGE_BUILDDIR)
#   vswitchd   the ovs-vswitchd to measure (or empty: the build tree's)
#   keep       true to keep the temporary directory at the end
#
# bench_init checks the build tree and the OVS tools, makes a private
# temporary directory $dir (OVS_RUNDIR and friends point there, never at a
# system OVS), changes to it and sets a trap that stops every daemon and
# background process started here and deletes $dir on exit, pass or fail.
# A benchmark that makes more (network namespaces, links) defines
# bench_cleanup_hook, which the trap calls after stopping the daemons.

die() { echo "$prog: $*" >&2; exit 1; }

# bench_init PROGRAM...: also checks that each PROGRAM (relative to the
# build tree) is built.
bench_init() {
    local f tool

    test -n "$builddir" || builddir=${IBBRIDGE_BUILDDIR:-.}
    test -f "$builddir/config.status" || \
        die "$builddir is not a configured ibbridge build tree (--builddir)"
    builddir=$(cd "$builddir" && pwd)
    : "${vswitchd:=$builddir/vswitchd-plugin/ovs-vswitchd}"
    for f in "$vswitchd" "${@/#/$builddir/}"; do
        test -x "$f" || die "$f not found: build first (make)"
    done
    ovs_builddir=$(sed -n "s/^OVS_BUILDDIR = //p" "$builddir/Makefile")
    schema=$ovs_builddir/vswitchd/vswitch.ovsschema
    test -r "$schema" || die "cannot read schema $schema"
    for tool in ovsdb-tool ovsdb-server ovs-vsctl ovs-ofctl ovs-appctl; do
        command -v $tool >/dev/null || die "$tool not found"
    done
    export PATH=$builddir/vswitchd-plugin:$builddir/utilities:$PATH

    dir=$(mktemp -d "${TMPDIR:-/tmp}/ibb-$prog.XXXXXX") || die "mktemp failed"
    export OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir
    export OVS_SYSCONFDIR=$dir OVS_PKGDATADIR=$dir
    export OVS_CTL_TIMEOUT=30
    bg_pids=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM HUP
    cd "$dir" || die "cannot cd to $dir"

    # OVS names a daemon's pidfile and control socket after its program
    # name, which the tools and the cleanup here look for: a --vswitchd of
    # another name runs through a link named ovs-vswitchd.
    if test "${vswitchd##*/}" != ovs-vswitchd; then
        mkdir -p "$dir/bin" || die "cannot make $dir/bin"
        case $vswitchd in
            /*) ln -s "$vswitchd" "$dir/bin/ovs-vswitchd" ;;
            *) ln -s "$OLDPWD/$vswitchd" "$dir/bin/ovs-vswitchd" ;;
        esac || die "cannot link $vswitchd"
        vswitchd=$dir/bin/ovs-vswitchd
    fi
}

bench_cleanup() {
    local pid daemon

    trap '' INT TERM HUP        # A second signal must not cut it short.
    for pid in "${bg_pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for daemon in ovs-vswitchd ovsdb-server ibsim-fabric; do
        test -e "$dir/$daemon.pid" || continue
        pid=$(cat "$dir/$daemon.pid")
        kill "$pid" 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null
    done
    if declare -F bench_cleanup_hook >/dev/null; then
        bench_cleanup_hook
    fi
    if $keep; then
        echo "$prog: kept $dir"
    else
        rm -rf "$dir"
    fi
}

run() {                         # run COMMAND...: dies if it fails
    "$@" >>setup.log 2>&1 || {
        tail -20 setup.log >&2
        die "set-up failed: $*"
    }
}

# bench_start_daemons [PREFIX...]: a fresh ibsim-fabric ($dir/fabric.sock),
# ovsdb-server with an empty database, and ovs-vswitchd run by PREFIX
# (e.g. "ip netns exec NS"; nothing: in this namespace).
bench_start_daemons() {
    run ibsim-fabric --detach --no-chdir --pidfile --log-file \
        "$dir/fabric.sock"
    run ovsdb-tool create conf.db "$schema"
    run ovsdb-server --detach --no-chdir --pidfile --log-file \
        --remote=punix:"$dir/db.sock" conf.db
    run ovs-vsctl --no-wait init
    run "$@" "$vswitchd" --enable-dummy --disable-system \
        --disable-system-route --detach --no-chdir --pidfile --log-file
}

# bench_wait_active IFACE: waits up to 10 s for an ibbridge port to be
# active, and sets $BLID and $BGID to its LID and GID.  It asks the port
# itself (ibbridge/show): after a change that reopened the port, the
# database's status can still be the old port's for a few seconds.
bench_wait_active() {
    local show=

    for _ in $(seq 100); do
        show=$(ovs-appctl ibbridge/show "$1" 2>/dev/null)
        echo "$show" | grep -q '^  device: .* (active)$' && break
        sleep 0.1
    done
    echo "$show" | grep -q '^  device: .* (active)$' || \
        die "$1 did not become active: $(ovs-vsctl get interface "$1" error)"
    BLID=$(echo "$show" | sed -n 's/^  lid: \([0-9]*\)  gid: .*/\1/p')
    BGID=$(echo "$show" | sed -n 's/^  lid: [0-9]*  gid: \([^ ]*\) .*/\1/p')
}

# start_bg OUT COMMAND...: starts COMMAND in the background, its standard
# output to file OUT, its pid in $last_pid (which the trap kills).
start_bg() {
    local out=$1
    shift
    "$@" </dev/null >>"$out" 2>>bg.err &
    last_pid=$!
    bg_pids+=("$last_pid")
}
stop_bg() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
