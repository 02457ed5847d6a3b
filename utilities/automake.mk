# The programs people run.
dist_bin_SCRIPTS += \
	utilities/ibbridge-sandbox
EXTRA_DIST += \
	utilities/ibbridge-build-ovs \
	utilities/ibbridge-quickstart \
	utilities/ibbridge-demo
