/* Rendezvous hashing of keys over live bridge nodes (ibb-shares.h). */
#include <config.h>

#include "ibb-shares.h"

#include <stdlib.h>
#include <string.h>

struct shares_node {
    char *name;
    uint64_t hash;              /* fnv1a64(name), the per-node salt. */
};

struct ibb_shares {
    struct shares_node *nodes;  /* Sorted by name, no repeats. */
    size_t n;
    int self;                   /* Index in 'nodes', or -1. */
};

static uint64_t
fnv1a64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    }
    return h;
}

/* The finaliser of splitmix64: every input bit reaches every output bit,
 * which the xor of two FNV hashes alone does not give. */
static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

uint64_t
ibb_shares_weight(const char *node, const void *key, size_t len)
{
    return mix64(fnv1a64(key, len) ^ fnv1a64(node, strlen(node)));
}

struct ibb_shares *
ibb_shares_create(void)
{
    struct ibb_shares *s = calloc(1, sizeof *s);

    if (s) {
        s->self = -1;
    }
    return s;
}

static void
clear_nodes(struct ibb_shares *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->nodes[i].name);
    }
    free(s->nodes);
    s->nodes = NULL;
    s->n = 0;
    s->self = -1;
}

void
ibb_shares_destroy(struct ibb_shares *s)
{
    if (s) {
        clear_nodes(s);
        free(s);
    }
}

static int
compare_names(const void *a_, const void *b_)
{
    const char *const *a = a_;
    const char *const *b = b_;

    return strcmp(*a, *b);
}

/* Sorts 'names' (n of them) into a new array without repeats; stores its
 * length in '*np'.  NULL if out of memory (or n is 0). */
static const char **
sorted_unique(const char *const *names, size_t n, size_t *np)
{
    const char **v;
    size_t k = 0;

    *np = 0;
    if (!n || !(v = malloc(n * sizeof *v))) {
        return NULL;
    }
    memcpy(v, names, n * sizeof *v);
    qsort(v, n, sizeof *v, compare_names);
    for (size_t i = 0; i < n; i++) {
        if (!k || strcmp(v[k - 1], v[i])) {
            v[k++] = v[i];
        }
    }
    *np = k;
    return v;
}

static bool
same_sorted(const struct ibb_shares *s, const char **v, size_t n)
{
    if (n != s->n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], s->nodes[i].name)) {
            return false;
        }
    }
    return true;
}

bool
ibb_shares_set_nodes(struct ibb_shares *s, const char *const *names,
                     size_t n, const char *self)
{
    size_t k;
    const char **v = sorted_unique(names, n, &k);
    int old_self = s->self;
    bool changed;

    if (n && !v) {
        return false;           /* Out of memory: keep the old set. */
    }
    changed = !same_sorted(s, v, k);
    if (changed) {
        struct shares_node *nodes = k ? calloc(k, sizeof *nodes) : NULL;

        if (k && !nodes) {
            free(v);
            return false;
        }
        for (size_t i = 0; i < k; i++) {
            nodes[i].name = strdup(v[i]);
            nodes[i].hash = fnv1a64(v[i], strlen(v[i]));
            if (!nodes[i].name) {
                while (i--) {
                    free(nodes[i].name);
                }
                free(nodes);
                free(v);
                return false;
            }
        }
        clear_nodes(s);
        s->nodes = nodes;
        s->n = k;
    }
    s->self = -1;
    for (size_t i = 0; self && i < s->n; i++) {
        if (!strcmp(s->nodes[i].name, self)) {
            s->self = i;
        }
    }
    free(v);
    return changed || old_self != s->self;
}

size_t
ibb_shares_n_nodes(const struct ibb_shares *s)
{
    return s->n;
}

const char *
ibb_shares_node(const struct ibb_shares *s, size_t i)
{
    return i < s->n ? s->nodes[i].name : NULL;
}

int
ibb_shares_owner(const struct ibb_shares *s, const void *key, size_t len)
{
    uint64_t kh = fnv1a64(key, len);
    uint64_t best = 0;
    int owner = -1;

    /* Nodes are sorted, and only a higher weight replaces the best: a tie
     * goes to the smaller name. */
    for (size_t i = 0; i < s->n; i++) {
        uint64_t w = mix64(kh ^ s->nodes[i].hash);

        if (owner < 0 || w > best) {
            best = w;
            owner = i;
        }
    }
    return owner;
}

bool
ibb_shares_is_mine(const struct ibb_shares *s, const void *key, size_t len)
{
    return s->self >= 0 && ibb_shares_owner(s, key, len) == s->self;
}

bool
ibb_shares_same_view(const struct ibb_shares *s, const char *const *names,
                     size_t n)
{
    size_t k;
    const char **v = sorted_unique(names, n, &k);
    bool same = (n || !s->n) && (!n || v) && same_sorted(s, v, k);

    free(v);
    return same;
}
