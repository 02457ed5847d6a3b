/*
 * The "ibbridge" netdev class: wraps an InfiniBand port (a simulated fabric
 * or an HCA through rdma-core) as an Open vSwitch port of the userspace
 * datapath.  Modelled on lib/netdev-dummy.c: this file is glue between
 * OVS's netdev provider interface and lib/, which holds everything that
 * knows about IB.
 */
#include <config.h>
#include "netdev-ibbridge.h"

#include <errno.h>

#include "hash.h"
#include "netdev-provider.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "smap.h"
#include "util.h"

#include "ibb-options.h"
#include "ibb-version.h"

VLOG_DEFINE_THIS_MODULE(netdev_ibbridge);

/* The MTU of the Ethernet side: a 4096-byte IB MTU plus the RoCEv2 headers
 * that replace LRH and GRH fits a jumbo frame.  Reported, not enforced,
 * until packet I/O comes. */
#define IBBRIDGE_DEFAULT_MTU 4200

struct netdev_ibbridge {
    struct netdev up;

    /* Protects all members below. */
    struct ovs_mutex mutex;

    /* The options in force, as last accepted by set_config(). */
    char *device_str OVS_GUARDED;               /* Canonical "device". */
    struct ibb_device_spec device OVS_GUARDED;  /* Parsed "device". */
    uint16_t pkey OVS_GUARDED;                  /* P_Key of our datagrams. */
    uint32_t qkey OVS_GUARDED;                  /* Q_Key of our QP. */
    struct eth_addr mac OVS_GUARDED;            /* MAC shown for IB hosts. */
    bool mac_configured OVS_GUARDED;            /* "mac" was set. */
    enum netdev_flags flags OVS_GUARDED;        /* NETDEV_UP etc. */
};

static int netdev_ibbridge_construct(struct netdev *);

static bool
is_netdev_ibbridge_class(const struct netdev_class *class)
{
    return class->construct == netdev_ibbridge_construct;
}

static struct netdev_ibbridge *
netdev_ibbridge_cast(const struct netdev *netdev)
{
    ovs_assert(is_netdev_ibbridge_class(netdev_get_class(netdev)));
    return CONTAINER_OF(netdev, struct netdev_ibbridge, up);
}

static struct netdev *
netdev_ibbridge_alloc(void)
{
    struct netdev_ibbridge *dev = xzalloc(sizeof *dev);
    return &dev->up;
}

/* A locally administered MAC derived from the port name, so that it stays
 * the same across restarts until "mac" is set. */
static struct eth_addr
netdev_ibbridge_default_mac(const char *name)
{
    uint32_t h = hash_string(name, 0x1bb1);
    struct eth_addr mac = ETH_ADDR_C(02, 1b, 00, 00, 00, 00);

    mac.ea[2] = h >> 24;
    mac.ea[3] = h >> 16;
    mac.ea[4] = h >> 8;
    mac.ea[5] = h;
    return mac;
}

static int
netdev_ibbridge_construct(struct netdev *netdev_)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ovs_mutex_init(&dev->mutex);
    ovs_mutex_lock(&dev->mutex);
    dev->pkey = IBB_DEFAULT_PKEY;
    dev->qkey = IBB_DEFAULT_QKEY;
    dev->mac = netdev_ibbridge_default_mac(netdev_get_name(netdev_));
    dev->flags = NETDEV_UP;
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static void
netdev_ibbridge_destruct(struct netdev *netdev_)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ovs_mutex_lock(&dev->mutex);
    free(dev->device_str);
    ibb_device_spec_destroy(&dev->device);
    ovs_mutex_unlock(&dev->mutex);
    ovs_mutex_destroy(&dev->mutex);
}

static void
netdev_ibbridge_dealloc(struct netdev *netdev_)
{
    free(netdev_ibbridge_cast(netdev_));
}

/* The options set_config() knows; anything else is a typo worth reporting
 * rather than ignoring. */
static const char *const netdev_ibbridge_options[] = {
    "device", "pkey", "qkey", "mac",
};

static bool
is_known_option(const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(netdev_ibbridge_options); i++) {
        if (!strcmp(key, netdev_ibbridge_options[i])) {
            return true;
        }
    }
    return false;
}

/* The options, parsed and checked before any of them is applied, so that a
 * rejected configuration leaves the port as it was. */
struct ibbridge_config {
    struct ibb_device_spec device;
    uint16_t pkey;
    uint32_t qkey;
    struct eth_addr mac;
    bool mac_configured;
};

static int
parse_config(const char *name, const struct smap *args,
             struct ibbridge_config *cfg, char **errp)
{
    struct smap_node *node;
    const char *mac;
    char *err = NULL;
    int error;

    memset(cfg, 0, sizeof *cfg);
    SMAP_FOR_EACH (node, args) {
        if (!is_known_option(node->key)) {
            *errp = xasprintf("%s: unknown option \"%s\" (known: device, "
                              "pkey, qkey, mac)", name, node->key);
            return EINVAL;
        }
    }

    error = ibb_parse_device(smap_get(args, "device"), &cfg->device, &err);
    if (!error) {
        cfg->pkey = IBB_DEFAULT_PKEY;
        if (smap_get(args, "pkey")) {
            error = ibb_parse_pkey(smap_get(args, "pkey"), &cfg->pkey, &err);
        }
    }
    if (!error) {
        cfg->qkey = IBB_DEFAULT_QKEY;
        if (smap_get(args, "qkey")) {
            error = ibb_parse_qkey(smap_get(args, "qkey"), &cfg->qkey, &err);
        }
    }
    mac = smap_get(args, "mac");
    if (!error && mac) {
        error = ibb_parse_mac(mac, cfg->mac.ea, &err);
        cfg->mac_configured = !error;
    }
    if (error) {
        *errp = xasprintf("%s: %s", name, err ? err : ovs_strerror(error));
        free(err);
        ibb_device_spec_destroy(&cfg->device);
    }
    return error;
}

static int
netdev_ibbridge_set_config(struct netdev *netdev_, const struct smap *args,
                           char **errp)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);
    const char *name = netdev_get_name(netdev_);
    struct ibbridge_config cfg;
    int error;

    error = parse_config(name, args, &cfg, errp);
    if (error) {
        VLOG_WARN("%s", *errp);
        return error;
    }

    ovs_mutex_lock(&dev->mutex);
    free(dev->device_str);
    ibb_device_spec_destroy(&dev->device);
    dev->device = cfg.device;
    dev->device_str = ibb_device_spec_to_string(&dev->device);
    dev->pkey = cfg.pkey;
    dev->qkey = cfg.qkey;
    dev->mac_configured = cfg.mac_configured;
    dev->mac = (cfg.mac_configured ? cfg.mac
                : netdev_ibbridge_default_mac(name));
    netdev_change_seq_changed(netdev_);

    /* The options are good, but this build cannot carry packets through
     * an IB port yet: refuse the port, so the Interface's error column
     * says so, instead of adding a port that silently drops everything. */
    *errp = xasprintf("%s: cannot open %s: packet I/O through IB ports is "
                      "not implemented yet", name, dev->device_str);
    error = EOPNOTSUPP;
    ovs_mutex_unlock(&dev->mutex);
    VLOG_WARN("%s", *errp);
    return error;
}

static int
netdev_ibbridge_get_config(const struct netdev *netdev_, struct smap *args)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ovs_mutex_lock(&dev->mutex);
    if (dev->device_str) {
        smap_add(args, "device", dev->device_str);
    }
    if (dev->pkey != IBB_DEFAULT_PKEY) {
        smap_add_format(args, "pkey", "0x%04"PRIx16, dev->pkey);
    }
    if (dev->qkey != IBB_DEFAULT_QKEY) {
        smap_add_format(args, "qkey", "0x%08"PRIx32, dev->qkey);
    }
    if (dev->mac_configured) {
        smap_add_format(args, "mac", ETH_ADDR_FMT, ETH_ADDR_ARGS(dev->mac));
    }
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ibbridge_get_status(const struct netdev *netdev_, struct smap *smap)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ovs_mutex_lock(&dev->mutex);
    smap_add(smap, "device", dev->device_str ? dev->device_str : "");
    smap_add(smap, "backend",
             !dev->device_str ? "none"
             : dev->device.kind == IBB_DEVICE_SIM ? "sim" : "verbs");
    smap_add_format(smap, "pkey", "0x%04"PRIx16, dev->pkey);
    smap_add_format(smap, "qkey", "0x%08"PRIx32, dev->qkey);
    smap_add_format(smap, "mac", ETH_ADDR_FMT, ETH_ADDR_ARGS(dev->mac));
    smap_add(smap, "ibbridge_version", IBB_VERSION);
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ibbridge_get_etheraddr(const struct netdev *netdev_,
                              struct eth_addr *mac)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ovs_mutex_lock(&dev->mutex);
    *mac = dev->mac;
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ibbridge_get_mtu(const struct netdev *netdev_ OVS_UNUSED, int *mtup)
{
    *mtup = IBBRIDGE_DEFAULT_MTU;
    return 0;
}

static int
netdev_ibbridge_update_flags(struct netdev *netdev_, enum netdev_flags off,
                             enum netdev_flags on,
                             enum netdev_flags *old_flagsp)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    if ((off | on) & ~(NETDEV_UP | NETDEV_PROMISC)) {
        return EINVAL;
    }
    ovs_mutex_lock(&dev->mutex);
    *old_flagsp = dev->flags;
    dev->flags = (dev->flags | on) & ~off;
    if (*old_flagsp != dev->flags) {
        netdev_change_seq_changed(netdev_);
    }
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static const struct netdev_class netdev_ibbridge_class = {
    .type = "ibbridge",
    .is_pmd = false,
    .alloc = netdev_ibbridge_alloc,
    .construct = netdev_ibbridge_construct,
    .destruct = netdev_ibbridge_destruct,
    .dealloc = netdev_ibbridge_dealloc,
    .get_config = netdev_ibbridge_get_config,
    .set_config = netdev_ibbridge_set_config,
    .get_status = netdev_ibbridge_get_status,
    .get_etheraddr = netdev_ibbridge_get_etheraddr,
    .get_mtu = netdev_ibbridge_get_mtu,
    .update_flags = netdev_ibbridge_update_flags,
};

void
netdev_ibbridge_register(void)
{
    static struct ovsthread_once once = OVSTHREAD_ONCE_INITIALIZER;

    if (ovsthread_once_start(&once)) {
        int error = netdev_register_provider(&netdev_ibbridge_class);
        if (error) {
            VLOG_ERR("failed to register the ibbridge netdev class (%s)",
                     ovs_strerror(error));
        }
        ovsthread_once_done(&once);
    }
}
