# The programs people run.  ibbridge-sandbox is made from its .in with the
# installation's paths filled in, so that an installed copy finds the
# installed daemon and schemas (as automake's manual does for scripts:
# in make, where they are fully expanded, not in configure).
bin_SCRIPTS += utilities/ibbridge-sandbox
CLEANFILES += utilities/ibbridge-sandbox
EXTRA_DIST += utilities/ibbridge-sandbox.in
utilities/ibbridge-sandbox: utilities/ibbridge-sandbox.in Makefile
	$(AM_V_GEN)$(MKDIR_P) utilities && rm -f $@ $@.tmp && \
	sed -e 's|@bindir[@]|$(bindir)|g' \
	    -e 's|@pkglibexecdir[@]|$(pkglibexecdir)|g' \
	    -e 's|@pkgdatadir[@]|$(pkgdatadir)|g' \
	    -e 's|@ovspkgdatadir[@]|$(ovspkgdatadir)|g' \
	    $(srcdir)/utilities/ibbridge-sandbox.in > $@.tmp && \
	chmod +x $@.tmp && chmod a-w $@.tmp && mv $@.tmp $@
EXTRA_DIST += \
	utilities/ibbridge-build-ovs \
	utilities/ibbridge-quickstart \
	utilities/ibbridge-demo

# Simulated IB fabric (links OVS's library: daemon, vlog, unixctl).
bin_PROGRAMS += utilities/ibsim-fabric
utilities_ibsim_fabric_SOURCES = \
	utilities/ibsim-fabric.c \
	utilities/ibsim-fabric-port.c \
	utilities/ibsim-fabric-port.h \
	utilities/ibsim-sa.c \
	utilities/ibsim-sa.h
utilities_ibsim_fabric_CPPFLAGS = $(OVS_PLUGIN_CPPFLAGS)
utilities_ibsim_fabric_LDADD = lib/libibbridge.la $(OVS_LDADD) $(OVS_LIBS)

# Test hosts: IB UD on the simulated fabric, RoCEv2 UD on a UDP socket.
bin_PROGRAMS += utilities/ibsim-host
utilities_ibsim_host_SOURCES = \
	utilities/host-common.c \
	utilities/host-common.h \
	utilities/ibsim-host.c \
	utilities/ibsim-ipoib.c \
	utilities/ibsim-ipoib.h
utilities_ibsim_host_LDADD = lib/libibbridge.la
bin_PROGRAMS += utilities/roce-host
utilities_roce_host_SOURCES = \
	utilities/host-common.c \
	utilities/host-common.h \
	utilities/roce-host.c
utilities_roce_host_LDADD = lib/libibbridge.la

# Offline converter between IB and RoCEv2 captures (plain C, lib/ only).
bin_PROGRAMS += utilities/ibbridge-pcap
utilities_ibbridge_pcap_SOURCES = utilities/ibbridge-pcap.c
utilities_ibbridge_pcap_LDADD = lib/libibbridge.la

# One manual page per installed program, and ibbridge(7) for what the
# ibbridge port adds to ovs-vswitchd (options, ibbridge/* commands,
# counters), which the others refer to.
IBB_MANPAGES = \
	utilities/ibbridge-pcap.1 \
	utilities/ibbridge-sandbox.1 \
	utilities/ibsim-fabric.1 \
	utilities/ibsim-host.1 \
	utilities/roce-host.1 \
	utilities/ibbridge.7
man_MANS += $(IBB_MANPAGES)
EXTRA_DIST += $(IBB_MANPAGES)

# "make check" checks that every installed program has its page and that
# groff has nothing to warn about in any page.
check-manpages:
	@status=0; \
	for p in $(bin_PROGRAMS) $(bin_SCRIPTS) $(dist_bin_SCRIPTS); do \
	    name=`basename $$p $(EXEEXT)`; \
	    case " $(IBB_MANPAGES) " in \
	        *"/$$name.1 "*) ;; \
	        *) echo "$$name: no manual page in IBB_MANPAGES"; status=1 ;; \
	    esac; \
	done; \
	if (groff --version) >/dev/null 2>&1; then \
	    for m in $(IBB_MANPAGES); do \
	        out=`LC_ALL=C groff -man -ww -z $(srcdir)/$$m 2>&1`; \
	        test -z "$$out" || { echo "$$out"; status=1; }; \
	    done; \
	else \
	    echo "check-manpages: no groff, pages not checked"; \
	fi; \
	exit $$status
check-local: check-manpages
.PHONY: check-manpages

# HCA model: libibverbs/librdmacm entry points over the simulated fabric,
# loaded with LD_PRELOAD (tests/ibsim-verbs.at).  Built as a shared object
# although libtool is configured static-only, so as a "program" with its
# own link command, from position-independent copies of lib/'s objects.  It
# exports only the ibv_* and rdma_* symbols (utilities/ibsim-verbs.map) and
# binds its own copy of lib/ to itself (-Bsymbolic): ovs-vswitchd has
# another.
if HAVE_IBVERBS
noinst_PROGRAMS += utilities/libibsim-verbs.so
utilities_libibsim_verbs_so_SOURCES = \
	utilities/ibsim-rdmacm.c \
	utilities/ibsim-verbs-line-rate.c \
	utilities/ibsim-verbs-private.h \
	utilities/ibsim-verbs-qp.c \
	utilities/ibsim-verbs-wire.c \
	utilities/ibsim-verbs.c \
	$(lib_libibbridge_la_SOURCES)
utilities_libibsim_verbs_so_CFLAGS = \
	$(AM_CFLAGS) $(JANSSON_CFLAGS) $(LIBNL_CFLAGS) -fPIC
utilities_libibsim_verbs_so_LDADD = \
	$(lib_libibbridge_la_LIBADD) $(VERBS_LIBS) -lpthread
utilities_libibsim_verbs_so_LINK = \
	$(CCLD) -shared -fPIC $(AM_CFLAGS) $(CFLAGS) $(AM_LDFLAGS) $(LDFLAGS) \
	-Wl,-Bsymbolic -Wl,--no-undefined \
	-Wl,--version-script=$(srcdir)/utilities/ibsim-verbs.map -o $@
EXTRA_utilities_libibsim_verbs_so_DEPENDENCIES = \
	utilities/ibsim-verbs.map
endif
EXTRA_DIST += utilities/ibsim-verbs.map
