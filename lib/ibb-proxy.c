/*
 * Proxy QP table: two uthash indexes over one list of entries.
 */
#include <config.h>

#include "ibb-proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* uthash must not exit the process on allocation failure. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(OBJ) (oom = true)
#include <uthash.h>

#include "ibport.h"

struct proxy_entry {
    struct ibb_proxy p;         /* The entry; its endpoint is a hash key. */
    struct proxy_entry *next;   /* In insertion order. */
    struct proxy_entry *prev;   /* In insertion order. */
    UT_hash_handle hh_ep;       /* In table->by_ep, keyed by p.ep. */
    UT_hash_handle hh_qpn;      /* In table->by_qpn, keyed by p.proxy_qpn. */
};

struct ibb_proxy_table {
    struct proxy_entry *by_ep;      /* Hash on endpoint. */
    struct proxy_entry *by_qpn;     /* Hash on proxy QPN. */
    struct proxy_entry *head;       /* Oldest entry. */
    struct proxy_entry *tail;       /* Newest entry. */
    size_t n;                       /* Entries. */
    size_t max;                     /* Bound on 'n'. */
    bool has_missing;               /* 'missing' is set. */
    struct ibb_proxy_endpoint missing;  /* Last endpoint without proxy. */
    uint32_t missing_qkey;          /* Q_Key its packet carried. */
};

_Static_assert(sizeof(struct ibb_proxy_endpoint) == 20,
               "endpoint has no padding: it is hashed as bytes");

struct ibb_proxy_table *
ibb_proxy_table_create(size_t max)
{
    struct ibb_proxy_table *t = calloc(1, sizeof *t);

    if (t) {
        t->max = max ? max : IBB_PROXY_DEFAULT_MAX;
    }
    return t;
}

void
ibb_proxy_table_destroy(struct ibb_proxy_table *t)
{
    if (!t) {
        return;
    }
    HASH_CLEAR(hh_ep, t->by_ep);
    HASH_CLEAR(hh_qpn, t->by_qpn);
    while (t->head) {
        struct proxy_entry *next = t->head->next;

        free(t->head);
        t->head = next;
    }
    free(t);
}

size_t
ibb_proxy_table_count(const struct ibb_proxy_table *t)
{
    return t->n;
}

size_t
ibb_proxy_table_max(const struct ibb_proxy_table *t)
{
    return t->max;
}

int
ibb_proxy_add(struct ibb_proxy_table *t, const struct ibb_proxy_endpoint *ep,
              uint32_t proxy_qpn, uint32_t qkey, bool configured)
{
    struct proxy_entry *e;
    bool oom = false;

    if (ibb_proxy_find_endpoint(t, ep->ip, ep->qpn)
        || ibb_proxy_find_qpn(t, proxy_qpn)) {
        return EEXIST;
    }
    if (t->n >= t->max) {
        return ENOSPC;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        return ENOMEM;
    }
    e->p.ep = *ep;
    e->p.proxy_qpn = proxy_qpn;
    e->p.qkey = qkey;
    e->p.configured = configured;
    HASH_ADD(hh_ep, t->by_ep, p.ep, sizeof e->p.ep, e);
    if (oom) {
        free(e);
        return ENOMEM;
    }
    HASH_ADD(hh_qpn, t->by_qpn, p.proxy_qpn, sizeof e->p.proxy_qpn, e);
    if (oom) {
        HASH_DELETE(hh_ep, t->by_ep, e);
        free(e);
        return ENOMEM;
    }
    e->prev = t->tail;
    if (t->tail) {
        t->tail->next = e;
    } else {
        t->head = e;
    }
    t->tail = e;
    t->n++;
    return 0;
}

int
ibb_proxy_open(struct ibb_proxy_table *t, struct ibb_port *port,
               const struct ibb_proxy_endpoint *ep, uint32_t qkey,
               bool configured, struct ibb_proxy **proxyp)
{
    uint32_t qpn;
    int error;

    *proxyp = ibb_proxy_find_endpoint(t, ep->ip, ep->qpn);
    if (*proxyp) {
        return 0;
    }
    if (t->n >= t->max) {
        return ENOSPC;
    }
    error = ibb_port_qp_create(port, qkey, &qpn);
    if (error) {
        return error;
    }
    error = ibb_proxy_add(t, ep, qpn, qkey, configured);
    if (error) {
        ibb_port_qp_destroy(port, qpn);
        return error;
    }
    *proxyp = ibb_proxy_find_qpn(t, qpn);
    return 0;
}

int
ibb_proxy_close(struct ibb_proxy_table *t, struct ibb_port *port,
                uint32_t proxy_qpn)
{
    int error;

    if (!ibb_proxy_find_qpn(t, proxy_qpn)) {
        return ENOENT;
    }
    error = ibb_port_qp_destroy(port, proxy_qpn);
    return error ? error : ibb_proxy_del(t, proxy_qpn);
}

size_t
ibb_proxy_expire(struct ibb_proxy_table *t, struct ibb_port *port,
                 long long now_ms, long long idle_ms)
{
    struct proxy_entry *e, *next;
    size_t n = 0;

    for (e = t->head; e; e = next) {
        struct ibb_proxy *p = &e->p;
        uint64_t count = p->to_ib + p->to_roce;

        next = e->next;
        if (count != p->seen || !p->idle_since) {
            p->seen = count;
            p->idle_since = now_ms;
        } else if (!p->configured && now_ms - p->idle_since >= idle_ms
                   && !ibb_proxy_close(t, port, p->proxy_qpn)) {
            n++;
        }
    }
    return n;
}

int
ibb_proxy_del(struct ibb_proxy_table *t, uint32_t proxy_qpn)
{
    struct proxy_entry *e = (struct proxy_entry *)
                            ibb_proxy_find_qpn(t, proxy_qpn);

    if (!e) {
        return ENOENT;
    }
    HASH_DELETE(hh_ep, t->by_ep, e);
    HASH_DELETE(hh_qpn, t->by_qpn, e);
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        t->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        t->tail = e->prev;
    }
    free(e);
    t->n--;
    return 0;
}

struct ibb_proxy *
ibb_proxy_find_endpoint(const struct ibb_proxy_table *t, const uint8_t ip[16],
                        uint32_t qpn)
{
    struct ibb_proxy_endpoint key;
    struct proxy_entry *e;

    memcpy(key.ip, ip, 16);
    key.qpn = qpn;
    HASH_FIND(hh_ep, t->by_ep, &key, sizeof key, e);
    return e ? &e->p : NULL;
}

struct ibb_proxy *
ibb_proxy_find_qpn(const struct ibb_proxy_table *t, uint32_t proxy_qpn)
{
    struct proxy_entry *e;

    HASH_FIND(hh_qpn, t->by_qpn, &proxy_qpn, sizeof proxy_qpn, e);
    return e ? &e->p : NULL;
}

const struct ibb_proxy *
ibb_proxy_next(const struct ibb_proxy_table *t, const struct ibb_proxy *prev)
{
    const struct proxy_entry *e;

    if (!prev) {
        return t->head ? &t->head->p : NULL;
    }
    /* 'p' is the first member of its entry. */
    e = (const struct proxy_entry *) prev;
    return e->next ? &e->next->p : NULL;
}

void
ibb_proxy_note_missing(struct ibb_proxy_table *t, const uint8_t ip[16],
                       uint32_t qpn, uint32_t qkey)
{
    memcpy(t->missing.ip, ip, 16);
    t->missing.qpn = qpn;
    t->missing_qkey = qkey;
    t->has_missing = true;
}

bool
ibb_proxy_take_missing(struct ibb_proxy_table *t,
                       struct ibb_proxy_endpoint *ep, uint32_t *qkey)
{
    if (!t->has_missing) {
        return false;
    }
    *ep = t->missing;
    *qkey = t->missing_qkey;
    t->has_missing = false;
    return true;
}
