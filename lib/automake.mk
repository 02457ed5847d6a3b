# libibbridge: plain C, no OVS headers.  Wire formats, CRCs, conversion,
# address maps, option parsing and the IB port backends.
noinst_LTLIBRARIES += lib/libibbridge.la
lib_libibbridge_la_SOURCES = \
	lib/ibb-version.h \
	lib/ibb-options.c \
	lib/ibb-options.h
lib_libibbridge_la_LIBADD = $(JANSSON_LIBS)
lib_libibbridge_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)

# IB port interface and its simulated-fabric backend (utilities/ibsim-*).
lib_libibbridge_la_SOURCES += \
	lib/fabric-proto.h \
	lib/ibport.c \
	lib/ibport.h \
	lib/ibport-provider.h \
	lib/ibport-sim.c
