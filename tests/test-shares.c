/* Rendezvous shares over bridge nodes (lib/ibb-shares.c). */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ibb-shares.h"

#define N_KEYS 30000

/* Key i: IPv4 group address 239.x.y.z in its 16-byte IPv4-mapped form,
 * as the plugin passes it. */
static void
key_of(unsigned int i, uint8_t key[16])
{
    memset(key, 0, 16);
    key[10] = key[11] = 0xff;
    key[12] = 239;
    key[13] = i >> 16;
    key[14] = i >> 8;
    key[15] = i;
}

static struct ibb_shares *
shares_of(const char *const *names, size_t n, const char *self)
{
    struct ibb_shares *s = ibb_shares_create();

    assert_non_null(s);
    ibb_shares_set_nodes(s, names, n, self);
    return s;
}

static const char *
owner_name(const struct ibb_shares *s, unsigned int i)
{
    uint8_t key[16];

    key_of(i, key);
    return ibb_shares_node(s, ibb_shares_owner(s, key, sizeof key));
}

static void
test_empty_owns_nothing(void **state)
{
    struct ibb_shares *s = shares_of(NULL, 0, "b1");
    uint8_t key[16];

    (void) state;
    key_of(0x010101, key);
    assert_int_equal(ibb_shares_n_nodes(s), 0);
    assert_int_equal(ibb_shares_owner(s, key, sizeof key), -1);
    assert_false(ibb_shares_is_mine(s, key, sizeof key));
    ibb_shares_destroy(s);
}

/* The owner is the node of highest weight, by the documented formula,
 * whatever the order and repeats the names came in. */
static void
test_owner_is_highest_weight(void **state)
{
    const char *a[] = { "b3", "b1", "b2", "b1" };
    const char *b[] = { "b2", "b3", "b1" };
    struct ibb_shares *sa = shares_of(a, 4, "b1");
    struct ibb_shares *sb = shares_of(b, 3, "b2");

    (void) state;
    assert_int_equal(ibb_shares_n_nodes(sa), 3);
    assert_string_equal(ibb_shares_node(sa, 0), "b1");
    assert_string_equal(ibb_shares_node(sa, 2), "b3");
    for (unsigned int i = 0; i < 1000; i++) {
        uint8_t key[16];
        const char *best = NULL;
        uint64_t w_best = 0;

        key_of(i, key);
        for (size_t j = 0; j < 3; j++) {
            uint64_t w = ibb_shares_weight(b[j], key, sizeof key);

            if (!best || w > w_best) {
                best = b[j];
                w_best = w;
            }
        }
        assert_string_equal(owner_name(sa, i), best);
        assert_string_equal(owner_name(sb, i), best);
        /* Exactly one of the nodes says it is theirs. */
        assert_int_equal(ibb_shares_is_mine(sa, key, sizeof key),
                         !strcmp(best, "b1"));
        assert_int_equal(ibb_shares_is_mine(sb, key, sizeof key),
                         !strcmp(best, "b2"));
    }
    ibb_shares_destroy(sa);
    ibb_shares_destroy(sb);
}

/* Three nodes get a third each, within 3%. */
static void
test_balance(void **state)
{
    const char *names[] = { "bridge-a", "bridge-b", "bridge-c" };
    struct ibb_shares *s = shares_of(names, 3, NULL);
    unsigned int count[3] = { 0 };

    (void) state;
    for (unsigned int i = 0; i < N_KEYS; i++) {
        uint8_t key[16];

        key_of(i, key);
        count[ibb_shares_owner(s, key, sizeof key)]++;
    }
    for (size_t j = 0; j < 3; j++) {
        assert_in_range(count[j], N_KEYS / 3 * 97 / 100,
                        N_KEYS / 3 * 103 / 100);
    }
    ibb_shares_destroy(s);
}

/* A node leaves: only its keys move, spread over the survivors; it comes
 * back: exactly those keys return to it. */
static void
test_leave_and_rejoin_move_only_its_keys(void **state)
{
    const char *all[] = { "b1", "b2", "b3" };
    const char *left[] = { "b1", "b3" };
    struct ibb_shares *s3 = shares_of(all, 3, NULL);
    struct ibb_shares *s2 = shares_of(left, 2, NULL);
    unsigned int moved_to[2] = { 0 };

    (void) state;
    for (unsigned int i = 0; i < N_KEYS; i++) {
        const char *before = owner_name(s3, i);
        const char *after = owner_name(s2, i);

        if (strcmp(before, "b2")) {
            assert_string_equal(before, after);
        } else {
            moved_to[!strcmp(after, "b3")]++;
        }
    }
    assert_in_range(moved_to[0], N_KEYS / 6 * 90 / 100,
                    N_KEYS / 6 * 110 / 100);
    assert_in_range(moved_to[1], N_KEYS / 6 * 90 / 100,
                    N_KEYS / 6 * 110 / 100);

    assert_true(ibb_shares_set_nodes(s2, all, 3, NULL));
    for (unsigned int i = 0; i < N_KEYS; i++) {
        assert_string_equal(owner_name(s2, i), owner_name(s3, i));
    }
    ibb_shares_destroy(s3);
    ibb_shares_destroy(s2);
}

static void
test_set_nodes_reports_changes(void **state)
{
    const char *a[] = { "b1", "b2" };
    const char *b[] = { "b2", "b1", "b2" };
    const char *c[] = { "b1" };
    struct ibb_shares *s = shares_of(a, 2, "b1");

    (void) state;
    assert_false(ibb_shares_set_nodes(s, b, 3, "b1"));
    assert_true(ibb_shares_set_nodes(s, b, 3, "b2"));   /* Self moved. */
    assert_true(ibb_shares_set_nodes(s, c, 1, "b2"));   /* b2 left. */
    assert_false(ibb_shares_set_nodes(s, c, 1, "b2"));
    assert_true(ibb_shares_set_nodes(s, NULL, 0, "b2"));
    assert_int_equal(ibb_shares_n_nodes(s), 0);
    assert_null(ibb_shares_node(s, 0));
    ibb_shares_destroy(s);
}

static void
test_same_view(void **state)
{
    const char *live[] = { "b1", "b2", "b3" };
    const char *same[] = { "b3", "b1", "b2" };
    const char *fewer[] = { "b1", "b3" };
    const char *other[] = { "b1", "b2", "b4" };
    struct ibb_shares *s = shares_of(live, 3, "b1");
    struct ibb_shares *none = shares_of(NULL, 0, NULL);

    (void) state;
    assert_true(ibb_shares_same_view(s, same, 3));
    assert_false(ibb_shares_same_view(s, fewer, 2));
    assert_false(ibb_shares_same_view(s, other, 3));
    assert_false(ibb_shares_same_view(s, NULL, 0));
    assert_true(ibb_shares_same_view(none, NULL, 0));
    assert_false(ibb_shares_same_view(none, fewer, 2));
    ibb_shares_destroy(s);
    ibb_shares_destroy(none);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_owns_nothing),
        cmocka_unit_test(test_owner_is_highest_weight),
        cmocka_unit_test(test_balance),
        cmocka_unit_test(test_leave_and_rejoin_move_only_its_keys),
        cmocka_unit_test(test_set_nodes_reports_changes),
        cmocka_unit_test(test_same_view),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
