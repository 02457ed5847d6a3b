/*
 * Proxy QPs: how RoCE endpoints appear on the IB side under HCA rules.
 *
 * An HCA delivers a UD packet only to a QP of its own with that DestQP and
 * Q_Key, and stamps its own QPN as DETH SrcQP on what it sends.  So each
 * RoCE endpoint (IP address + UD QPN) that talks to IB gets a proxy QP on
 * the bridge's IB port: IB hosts send to (bridge LID, bridge GID, proxy
 * QPN) and the bridge forwards to the endpoint; the endpoint's datagrams
 * leave the bridge from its proxy QP, so IB hosts see one stable source
 * per endpoint and can reply to it.
 *
 * This table maps endpoint <-> proxy QPN in O(1) both ways and bounds the
 * number of proxies; ibb_proxy_open() creates the QP on the port
 * (lib/ibport.h ibb_port_qp_create()) and adds it.  The RoCE -> IB
 * converter notes the endpoint it found no proxy for
 * (ibb_proxy_note_missing()), so that its caller can open one and convert
 * the same packet again.
 */
#ifndef IBB_PROXY_H
#define IBB_PROXY_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default bound on proxies per port: a ConnectX port has room for far
 * more QPs, but each costs HCA context memory and a cache line of ours. */
#define IBB_PROXY_DEFAULT_MAX 1024

/* A RoCE endpoint as the IB side sees it. */
struct ibb_proxy_endpoint {
    uint8_t ip[16];             /* Endpoint IP (lib/ib-gid.h form). */
    uint32_t qpn;               /* Endpoint's UD QPN (24 bits). */
};

struct ibb_proxy {
    struct ibb_proxy_endpoint ep;   /* Endpoint it stands for. */
    uint32_t proxy_qpn;             /* QPN on the bridge's IB port. */
    uint32_t qkey;                  /* The proxy QP's Q_Key. */
    bool configured;                /* Added by an operator, not learned. */
    uint64_t to_ib;                 /* Packets sent from it. */
    uint64_t to_roce;               /* Packets received on it. */
    uint64_t seen;                  /* to_ib + to_roce at the last sweep. */
    long long idle_since;           /* When 'seen' last changed (ms). */
};

struct ibb_port;
struct ibb_proxy_table;

struct ibb_proxy_table *ibb_proxy_table_create(size_t max);
void ibb_proxy_table_destroy(struct ibb_proxy_table *);

size_t ibb_proxy_table_count(const struct ibb_proxy_table *);
size_t ibb_proxy_table_max(const struct ibb_proxy_table *);

/* Adds a proxy.  Returns 0, EEXIST if the endpoint or QPN is there
 * already, ENOSPC at the bound, or ENOMEM. */
int ibb_proxy_add(struct ibb_proxy_table *,
                  const struct ibb_proxy_endpoint *, uint32_t proxy_qpn,
                  uint32_t qkey, bool configured);

/* Creates a proxy QP for 'ep' on 'port' with Q_Key 'qkey' and adds it.
 * Returns 0 and the entry in '*proxyp' (also if it existed), ENOSPC at
 * the bound (no QP is created), or the port's error (see
 * ibb_port_error()). */
int ibb_proxy_open(struct ibb_proxy_table *, struct ibb_port *,
                   const struct ibb_proxy_endpoint *, uint32_t qkey,
                   bool configured, struct ibb_proxy **proxyp);

/* Destroys the QP of the proxy with 'proxy_qpn' on 'port' and removes
 * the proxy.  Returns 0, ENOENT, or the port's error (the proxy stays). */
int ibb_proxy_close(struct ibb_proxy_table *, struct ibb_port *,
                    uint32_t proxy_qpn);

/* Closes learned proxies that carried no packet for 'idle_ms' by 'now_ms'
 * (operator-added ones stay).  Returns how many it closed. */
size_t ibb_proxy_expire(struct ibb_proxy_table *, struct ibb_port *,
                        long long now_ms, long long idle_ms);

/* Removes the proxy with 'proxy_qpn'; returns 0 or ENOENT. */
int ibb_proxy_del(struct ibb_proxy_table *, uint32_t proxy_qpn);

struct ibb_proxy *ibb_proxy_find_endpoint(const struct ibb_proxy_table *,
                                          const uint8_t ip[16],
                                          uint32_t qpn);
struct ibb_proxy *ibb_proxy_find_qpn(const struct ibb_proxy_table *,
                                     uint32_t proxy_qpn);

/* Iterates in the order proxies were added: pass NULL for the first. */
const struct ibb_proxy *ibb_proxy_next(const struct ibb_proxy_table *,
                                       const struct ibb_proxy *prev);

/* The converter's note of an endpoint without a proxy (the last one), and
 * the Q_Key its packet carried. */
void ibb_proxy_note_missing(struct ibb_proxy_table *,
                            const uint8_t ip[16], uint32_t qpn,
                            uint32_t qkey);
bool ibb_proxy_take_missing(struct ibb_proxy_table *,
                            struct ibb_proxy_endpoint *, uint32_t *qkey);

#endif /* ibb-proxy.h */
