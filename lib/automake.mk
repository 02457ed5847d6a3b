# libibbridge: plain C, no OVS headers.  Wire formats, CRCs, conversion,
# address maps, option parsing and the IB port backends.
noinst_LTLIBRARIES += lib/libibbridge.la
lib_libibbridge_la_SOURCES = \
	lib/ibb-options.c \
	lib/ibb-options.h

# Several bridge nodes: which one forwards which group and host.
lib_libibbridge_la_SOURCES += \
	lib/ibb-shares.c \
	lib/ibb-shares.h

# Wire formats, CRCs, addresses and the two converters.
lib_libibbridge_la_SOURCES += \
	lib/addr-map.c \
	lib/addr-map.h \
	lib/addr-map-json.c \
	lib/ib-crc.c \
	lib/ib-crc.h \
	lib/ib-crc-clmul.c \
	lib/ib-crc-clmul.h \
	lib/ib-gid.c \
	lib/ib-gid.h \
	lib/ib-hdr.h \
	lib/ib-icrc.c \
	lib/ib-icrc.h \
	lib/ib-mcast.c \
	lib/ib-mcast.h \
	lib/ib-opcode.c \
	lib/ibb-bytes.h \
	lib/ibb-conv.c \
	lib/ibb-conv.h \
	lib/ibb-crc-fold.c \
	lib/ibb-crc-fold.h \
	lib/ibb-fold-wide.h \
	lib/ib-ud-build.c \
	lib/ib-ud-build.h \
	lib/ibb-csum.c \
	lib/ibb-csum.h \
	lib/ibb-drop.c \
	lib/ibb-drop.h \
	lib/ibb-file-stamp.c \
	lib/ibb-file-stamp.h \
	lib/ibb-flow-cache.c \
	lib/ibb-flow-cache.h \
	lib/ibb-igmp.c \
	lib/ibb-igmp.h \
	lib/ibb-igmp-host.c \
	lib/ibb-igmp-host.h \
	lib/ibb-ipoib-arp.c \
	lib/ibb-ipoib-arp.h \
	lib/ibb-kneigh.c \
	lib/ibb-mcast-listen.c \
	lib/ibb-mcast-listen.h \
	lib/ibb-kneigh.h \
	lib/ibb-neigh.c \
	lib/ibb-neigh.h \
	lib/ibb-proxy.c \
	lib/ibb-proxy.h \
	lib/roce-hdr.h \
	lib/roce-to-ud.c \
	lib/roce-to-ud.h \
	lib/ud-to-roce.c \
	lib/ud-to-roce.h
lib_libibbridge_la_LIBADD = $(JANSSON_LIBS) $(LIBNL_LIBS)
lib_libibbridge_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(LIBNL_CFLAGS)

# IB port interface and its simulated-fabric backend (utilities/ibsim-*).
lib_libibbridge_la_SOURCES += \
	lib/fabric-proto.h \
	lib/ibb-join.c \
	lib/ibb-join.h \
	lib/ibb-mcg.c \
	lib/ibb-mcg.h \
	lib/ibport.c \
	lib/ibport.h \
	lib/ibport-provider.h \
	lib/ibport-sim.c
EXTRA_DIST += lib/ibb-version.h.in

# pcap files: Ethernet, ERF (InfiniBand records) and raw InfiniBand.
lib_libibbridge_la_SOURCES += \
	lib/ibb-pcap.c \
	lib/ibb-pcap.h

# rdma-core backend: the only files that include rdma-core headers.
if HAVE_IBVERBS
lib_libibbridge_la_SOURCES += \
	lib/ibport-verbs.c \
	lib/ibport-verbs-private.h \
	lib/ibport-verbs-rxq.c \
	lib/ibport-verbs-tx.c \
	lib/ibport-verbs-mcast.c
lib_libibbridge_la_LIBADD += $(VERBS_LIBS)
endif
