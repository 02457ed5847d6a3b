# IBB_WITH_OVS
# ------------
# Finds a configured and built Open vSwitch tree: --with-ovs=DIR, or else
# the one utilities/ibbridge-build-ovs builds (once) into its cache from
# Debian's openvswitch-source.  Sets OVS_BUILDDIR, OVS_CPPFLAGS, OVS_LDADD
# (OVS's static libraries) and OVS_LIBS (what those libraries need).
AC_DEFUN([IBB_WITH_OVS],
  [AC_ARG_WITH([ovs],
     [AS_HELP_STRING([--with-ovs=DIR],
        [an already configured and built Open vSwitch tree (default: build
         Debian's openvswitch-source once into a cache)])],
     [], [with_ovs=cache])
   AC_ARG_WITH([ovs-cache],
     [AS_HELP_STRING([--with-ovs-cache=DIR],
        [where the cached OVS build lives (default: /var/cache/ibbridge)])],
     [IBBRIDGE_OVS_CACHE=$withval; export IBBRIDGE_OVS_CACHE])
   AS_CASE([$with_ovs],
     [no], [AC_MSG_ERROR([ibbridge needs Open vSwitch (--with-ovs=DIR)])],
     [cache|yes],
       [AC_MSG_NOTICE([finding or building the cached OVS tree])
        with_ovs=`$SHELL "$srcdir/utilities/ibbridge-build-ovs"` ||
          AC_MSG_ERROR([could not build Open vSwitch; see above])])
   AC_MSG_CHECKING([for a built Open vSwitch tree])
   OVS_BUILDDIR=`cd "$with_ovs" 2>/dev/null && pwd`
   AS_IF([test -z "$OVS_BUILDDIR" ||
          test ! -f "$OVS_BUILDDIR/lib/.libs/libopenvswitch.a" ||
          test ! -f "$OVS_BUILDDIR/ofproto/.libs/libofproto.a" ||
          test ! -f "$OVS_BUILDDIR/vswitchd/bridge.o"],
     [AC_MSG_RESULT([no])
      AC_MSG_ERROR([$with_ovs is not a configured and built OVS tree (it needs
lib/.libs/libopenvswitch.a, ofproto/.libs/libofproto.a and vswitchd/bridge.o:
run "make" there)])])
   AC_MSG_RESULT([$OVS_BUILDDIR])
   AC_MSG_CHECKING([Open vSwitch version])
   OVS_VERSION=`sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' \
                "$OVS_BUILDDIR/config.h"`
   AC_MSG_RESULT([$OVS_VERSION])
   AS_CASE([$OVS_VERSION], [3.1.*], [],
     [AC_MSG_WARN([ibbridge is developed against OVS 3.1, not $OVS_VERSION])])
   dnl OVS's source is the build tree when it was built in place; a VPATH
   dnl build records its source in the Makefile.
   OVS_SRCDIR=`sed -n 's/^abs_top_srcdir = //p' "$OVS_BUILDDIR/Makefile"`
   test -n "$OVS_SRCDIR" || OVS_SRCDIR=$OVS_BUILDDIR
   OVS_CPPFLAGS="-I$OVS_BUILDDIR -I$OVS_BUILDDIR/include -I$OVS_SRCDIR/include -I$OVS_BUILDDIR/lib -I$OVS_SRCDIR/lib"
   OVS_LDADD="$OVS_BUILDDIR/ofproto/.libs/libofproto.a $OVS_BUILDDIR/lib/.libs/libsflow.a $OVS_BUILDDIR/lib/.libs/libopenvswitch.a"
   dnl Where the compiler can, OVS builds its AVX512 code as a library of
   dnl its own that libopenvswitch needs.
   AS_IF([test -f "$OVS_BUILDDIR/lib/.libs/libopenvswitchavx512.a"],
     [OVS_LDADD="$OVS_LDADD $OVS_BUILDDIR/lib/.libs/libopenvswitchavx512.a"])
   OVS_LIBS=`sed -n 's/^LIBS = //p' "$OVS_BUILDDIR/Makefile"`
   OVS_LIBS="$OVS_LIBS `sed -n 's/^SSL_LIBS = //p;s/^CAPNG_LDADD = //p' \
                        "$OVS_BUILDDIR/Makefile" | tr '\n' ' '`"
   AC_SUBST([OVS_BUILDDIR])
   AC_SUBST([OVS_SRCDIR])
   AC_SUBST([OVS_VERSION])
   AC_SUBST([OVS_CPPFLAGS])
   AC_SUBST([OVS_LDADD])
   AC_SUBST([OVS_LIBS])])
