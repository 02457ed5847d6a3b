/*
 * IB port backends: what lib/ibport.c expects from each (one struct
 * ibb_port_class per backend) and the state they share.
 */
#ifndef IBPORT_PROVIDER_H
#define IBPORT_PROVIDER_H 1

#include <stdarg.h>

#include "ibb-options.h"
#include "ibport.h"

/* A multicast membership to restore on reconnect. */
struct ibb_port_group {
    uint8_t mgid[16];           /* Multicast GID. */
    enum ibb_mcast_join join;   /* Join state. */
    uint32_t qkey;              /* Q_Key given at join. */
    uint16_t pkey;              /* P_Key given at join. */
    uint16_t mlid;              /* MLID once joined, 0 while joining. */
};

/* A QP opened in strict mode, restored on reconnect. */
struct ibb_port_qp {
    uint32_t qpn;               /* QP number. */
    uint32_t qkey;              /* Q_Key checked on receive. */
};

/* State common to every backend; each embeds it as its first member. */
struct ibb_port {
    const struct ibb_port_class *class; /* Backend. */
    struct ibb_device_spec spec;        /* Parsed device string. */
    char *device;                       /* Device string as given. */
    struct ibb_port_options opts;       /* Options; 'name' is our copy. */
    char *error;                        /* Last error message (malloc'd),
                                         * NULL if none. */

    uint8_t (*aliases)[16];             /* Alias GIDs. */
    size_t n_aliases;                   /* Number of 'aliases'. */
    struct ibb_port_qp *qps;            /* Opened QPs. */
    size_t n_qps;                       /* Number of 'qps'. */
    struct ibb_port_group *groups;      /* Multicast memberships. */
    size_t n_groups;                    /* Number of 'groups'. */
    size_t allocated_groups;            /* Room in 'groups'. */
    struct ibb_port_group_ix *group_ix; /* 'groups' by MGID (ibport.c). */
    struct ibb_port_route *routes;      /* Prefixes it routes. */
    size_t n_routes;                    /* Number of 'routes'. */
    bool qps_lost;                      /* Reopened: created QPs gone. */
};

/* A backend.  Every int function returns 0 or a positive errno value and,
 * on error, describes it with ibb_port_set_error(). */
struct ibb_port_class {
    const char *type;                   /* "sim", "verbs". */

    struct ibb_port *(*alloc)(void);
    void (*dealloc)(struct ibb_port *);

    /* Attaches to the fabric or HCA using port->spec and port->opts. */
    int (*connect)(struct ibb_port *);
    void (*disconnect)(struct ibb_port *);
    bool (*is_up)(const struct ibb_port *);

    int (*get_fd)(const struct ibb_port *);
    bool (*has_pending)(const struct ibb_port *);
    int (*recv)(struct ibb_port *, struct ibb_port_buf bufs[], size_t n,
                size_t *n_recv);
    int (*send)(struct ibb_port *, const struct ibb_port_buf bufs[],
                size_t n, size_t *n_sent);

    /* Several receive queues (lib/ibport.h); NULL: one, the calls
     * above. */
    unsigned int (*n_rxq)(const struct ibb_port *);
    int (*recv_queue)(struct ibb_port *, unsigned int qid,
                      struct ibb_port_buf bufs[], size_t n, size_t *n_recv);
    int (*queue_fd)(const struct ibb_port *, unsigned int qid);
    bool (*queue_has_pending)(const struct ibb_port *, unsigned int qid);

    int (*query)(struct ibb_port *, struct ibb_port_attr *);
    int (*path_query)(struct ibb_port *, const uint8_t gid[16],
                      uint16_t *lid);
    int (*mcast_join)(struct ibb_port *, const struct ibb_port_group *,
                      uint16_t *mlid);
    int (*mcast_leave)(struct ibb_port *, const uint8_t mgid[16]);
    int (*alias)(struct ibb_port *, const uint8_t gid[16], bool add);
    int (*qp)(struct ibb_port *, uint32_t qpn, uint32_t qkey, bool open);

    /* Optional (NULL: not supported, or see ibport.c's defaults). */
    int (*qp_create)(struct ibb_port *, uint32_t qkey, uint32_t *qpn);
    int (*qp_destroy)(struct ibb_port *, uint32_t qpn);
    int (*route)(struct ibb_port *, const struct ibb_port_route *, bool add);
    bool hw_crcs;                       /* HCA makes/checks ICRC, VCRC. */
    int (*mcast_status)(struct ibb_port *, const uint8_t mgid[16],
                        struct ibb_mcast_status *);
    bool (*run)(struct ibb_port *);
    int (*ctl_fd)(const struct ibb_port *);
    size_t (*counters)(const struct ibb_port *, struct ibb_port_counter *,
                       size_t max);
    long long (*next_wakeup)(const struct ibb_port *);
    bool (*mcast_take_changed)(struct ibb_port *, uint8_t mgid[16],
                               struct ibb_mcast_status *);
    bool async_joins;                   /* Joins are asynchronous whatever
                                         * opts.async_joins says. */
    bool (*needs_reopen)(const struct ibb_port *); /* Event-driven backends:
                                                    * only a new open can
                                                    * bring it back. */

    /* SA multicast group table and notices (lib/ibport.h).  NULL: ENOTSUP
     * from ibport.c. */
    int (*mcg_subscribe)(struct ibb_port *, bool on);
    int (*mcg_list)(struct ibb_port *);
    bool (*mcg_take_event)(struct ibb_port *, struct ibb_mcg_event *);
};

extern const struct ibb_port_class ibb_port_sim_class;
#ifdef HAVE_IBVERBS
extern const struct ibb_port_class ibb_port_verbs_class;
#endif

/* Stores a message for 'error' in 'port', whole however long, and returns
 * 'error'. */
int ibb_port_set_error(struct ibb_port *port, int error,
                       const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Forgets 'port''s last error message (after a successful reconnect). */
void ibb_port_clear_error(struct ibb_port *port);

#endif /* ibport-provider.h */
