# ovs-vswitchd with the ibbridge netdev class linked in: OVS's own main,
# bridge and libraries from the (unpatched) OVS build tree, plus the plugin,
# which registers its class from a constructor.  Installed in its own
# directory so that packages can offer it as an alternative to the stock
# binary.
pkglibexec_PROGRAMS += vswitchd-plugin/ovs-vswitchd
vswitchd_plugin_ovs_vswitchd_SOURCES = \
	vswitchd-plugin/ibbridge-addr.c \
	vswitchd-plugin/ibbridge-router.c \
	vswitchd-plugin/ibbridge-config.c \
	vswitchd-plugin/ibbridge-unixctl.c \
	vswitchd-plugin/netdev-ibbridge.c \
	vswitchd-plugin/netdev-ibbridge.h \
	vswitchd-plugin/netdev-ibbridge-private.h \
	vswitchd-plugin/plugin-init.c
vswitchd_plugin_ovs_vswitchd_CPPFLAGS = $(OVS_PLUGIN_CPPFLAGS)
vswitchd_plugin_ovs_vswitchd_LDADD = \
	$(OVS_BUILDDIR)/vswitchd/ovs-vswitchd.o \
	$(OVS_BUILDDIR)/vswitchd/bridge.o \
	$(OVS_BUILDDIR)/vswitchd/system-stats.o \
	lib/libibbridge.la \
	$(OVS_LDADD) $(OVS_LIBS)
