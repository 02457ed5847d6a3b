# Two kinds of tests, run together by "make check" (tests/run-suite):
#  - UNIT_TESTS: cmocka programs, one per lib/ module, named tests/test-*.
#    Add yours with "UNIT_TESTS += tests/test-foo" and the usual
#    tests_test_foo_SOURCES/_LDADD lines (link lib/libibbridge.la and
#    $(CMOCKA_LIBS)).
#  - TESTSUITE_AT: the autotest suite (tests/testsuite.at), OVS style, which
#    drives the ibbridge ovs-vswitchd with the stock OVS clients.
EXTRA_DIST += tests/run-suite tests/atlocal.in $(TESTSUITE_AT)
TESTSUITE_AT += \
	tests/testsuite.at \
	tests/ibbridge-macros.at \
	tests/netdev-ibbridge.at

UNIT_TESTS += tests/test-options
tests_test_options_SOURCES = tests/test-options.c
tests_test_options_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_options_LDADD = lib/libibbridge.la $(CMOCKA_LIBS)

check_PROGRAMS += $(UNIT_TESTS)

# The suite is generated in the build tree: it includes OVS's own
# tests/ovs-macros.at from the OVS source the build was configured with.
TESTSUITE = tests/testsuite
AUTOM4TE = autom4te
AUTOTEST = $(AUTOM4TE) -l autotest
AUTOTEST_PATH = vswitchd-plugin:utilities:tests:$(srcdir)/utilities
DISTCLEANFILES += tests/atconfig tests/atlocal
CLEANFILES += tests/testsuite tests/package.m4 tests/testsuite.out \
	tests/unit-*.tap

tests/package.m4: $(top_srcdir)/configure.ac
	$(AM_V_GEN):;{ \
	  echo '# Signature of the current package.' && \
	  echo 'm4_define([AT_PACKAGE_NAME],      [$(PACKAGE_NAME)])' && \
	  echo 'm4_define([AT_PACKAGE_TARNAME],   [$(PACKAGE_TARNAME)])' && \
	  echo 'm4_define([AT_PACKAGE_VERSION],   [$(PACKAGE_VERSION)])' && \
	  echo 'm4_define([AT_PACKAGE_STRING],    [$(PACKAGE_STRING)])' && \
	  echo 'm4_define([AT_PACKAGE_BUGREPORT], [$(PACKAGE_BUGREPORT)])'; \
	} >$@

$(TESTSUITE): tests/package.m4 $(TESTSUITE_AT)
	$(AM_V_GEN)$(AUTOTEST) -I tests -I '$(srcdir)' -I '$(OVS_SRCDIR)' \
	    -o $@.tmp $(srcdir)/tests/testsuite.at && mv $@.tmp $@

# TESTSUITEFLAGS, e.g. make check TESTSUITEFLAGS='-j2 -k ibbridge'.
check-local: tests/atconfig tests/atlocal $(TESTSUITE) $(UNIT_TESTS)
	$(SHELL) $(srcdir)/tests/run-suite $(TESTSUITE) $(UNIT_TESTS) -- \
	    AUTOTEST_PATH='$(AUTOTEST_PATH)' $(TESTSUITEFLAGS)

check-unit: $(UNIT_TESTS)
	UNIT_TESTS_ONLY=yes $(SHELL) $(srcdir)/tests/run-suite \
	    $(TESTSUITE) $(UNIT_TESTS)
.PHONY: check-unit
