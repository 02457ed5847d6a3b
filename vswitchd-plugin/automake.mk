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
	vswitchd-plugin/ibbridge-cluster.c \
	vswitchd-plugin/ibbridge-cluster.h \
	vswitchd-plugin/ibbridge-mcast.c \
	vswitchd-plugin/ibbridge-db.c \
	vswitchd-plugin/ibbridge-db.h \
	vswitchd-plugin/ibbridge-db-sync.c \
	vswitchd-plugin/ibbridge-db-sync.h \
	vswitchd-plugin/ibbridge-follow.c \
	vswitchd-plugin/ibbridge-igmp.c \
	vswitchd-plugin/ibbridge-port.c \
	vswitchd-plugin/ibbridge-unixctl.c \
	vswitchd-plugin/netdev-ibbridge.c \
	vswitchd-plugin/netdev-ibbridge.h \
	vswitchd-plugin/netdev-ibbridge-private.h \
	vswitchd-plugin/plugin-init.c
nodist_vswitchd_plugin_ovs_vswitchd_SOURCES = \
	vswitchd-plugin/ibbridge-idl.c \
	vswitchd-plugin/ibbridge-idl.h
vswitchd_plugin_ovs_vswitchd_CPPFLAGS = $(OVS_PLUGIN_CPPFLAGS) \
	-I$(top_builddir)/vswitchd-plugin
vswitchd_plugin_ovs_vswitchd_LDADD = \
	$(OVS_BUILDDIR)/vswitchd/ovs-vswitchd.o \
	$(OVS_BUILDDIR)/vswitchd/bridge.o \
	$(OVS_BUILDDIR)/vswitchd/system-stats.o \
	lib/libibbridge.la \
	$(OVS_LDADD) $(OVS_LIBS)

# The "ibbridge" database, where ports keep their run-time map entries
# (vswitchd-plugin/ibbridge-db.c): its schema, installed beside OVS's, and
# its C IDL, generated with the OVS tree's ovsdb-idlc as OVS generates
# lib/vswitch-idl.[ch].
dist_pkgdata_DATA += vswitchd-plugin/ibbridge.ovsschema
EXTRA_DIST += vswitchd-plugin/ibbridge-idl.ann
IBB_OVSDB_IDLC = PYTHONPATH='$(OVS_SRCDIR)/python' PYTHONDONTWRITEBYTECODE=yes \
	$(PYTHON3) '$(OVS_SRCDIR)/ovsdb/ovsdb-idlc.in'
IBB_IDL_BUILT = \
	vswitchd-plugin/ibbridge-idl.ovsidl \
	vswitchd-plugin/ibbridge-idl.c \
	vswitchd-plugin/ibbridge-idl.h
BUILT_SOURCES += $(IBB_IDL_BUILT)
CLEANFILES += $(IBB_IDL_BUILT)
vswitchd-plugin/ibbridge-idl.ovsidl: vswitchd-plugin/ibbridge.ovsschema \
		vswitchd-plugin/ibbridge-idl.ann
	$(AM_V_GEN)$(MKDIR_P) vswitchd-plugin && \
	$(IBB_OVSDB_IDLC) annotate $(srcdir)/vswitchd-plugin/ibbridge.ovsschema \
	    $(srcdir)/vswitchd-plugin/ibbridge-idl.ann > $@.tmp && mv $@.tmp $@
vswitchd-plugin/ibbridge-idl.c: vswitchd-plugin/ibbridge-idl.ovsidl
	$(AM_V_GEN)$(IBB_OVSDB_IDLC) c-idl-source $< > $@.tmp && mv $@.tmp $@
vswitchd-plugin/ibbridge-idl.h: vswitchd-plugin/ibbridge-idl.ovsidl
	$(AM_V_GEN)$(IBB_OVSDB_IDLC) c-idl-header $< > $@.tmp && mv $@.tmp $@
