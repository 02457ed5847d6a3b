# RPM packaging: rpmbuild -bb rhel/ibbridge.spec with the "make dist"
# tarball as Source0 and openvswitch-3.1.0.tar.gz as Source1.
EXTRA_DIST += \
	rhel/ibbridge.spec \
	rhel/ovs-vswitchd-ibbridge.conf.in
