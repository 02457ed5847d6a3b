# Debian packaging: "dpkg-buildpackage -us -uc -b" from the top of a git
# checkout (see debian/rules).
EXTRA_DIST += \
	debian/changelog \
	debian/control \
	debian/copyright \
	debian/ibbridge-tools.install \
	debian/ibbridge-tools.lintian-overrides \
	debian/openvswitch-switch-ibbridge.README.Debian \
	debian/openvswitch-switch-ibbridge.docs \
	debian/openvswitch-switch-ibbridge.install \
	debian/openvswitch-switch-ibbridge.lintian-overrides \
	debian/openvswitch-switch-ibbridge.postinst \
	debian/openvswitch-switch-ibbridge.postrm \
	debian/openvswitch-switch-ibbridge.prerm \
	debian/rules \
	debian/source/format \
	debian/source/options
