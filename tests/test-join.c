/* Unit tests for lib/ibb-join.c: pacing, answers, refusals and retries,
 * timeouts, failures on the caller's side, leaves during a pending join,
 * and a lost connection.  The clock is the tests' own. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ibb-join.h"
#include "test-pkt.h"

/* Sends what the table allows at 'now', numbering from '*xid'; returns
 * how many. */
static int
send_all(struct ibb_join_table *t, long long now, uint32_t *xid)
{
    struct ibb_join_request req;
    int n = 0;

    while (ibb_join_next(t, now, &req)) {
        ibb_join_sent(t, now, (*xid)++);
        n++;
    }
    return n;
}

static enum ibb_mcast_state
state_of(struct ibb_join_table *t, int n, struct ibb_mcast_status *st)
{
    uint8_t mgid[16];

    tp_mgid_n(n, mgid);
    assert_int_equal(ibb_join_status(t, mgid, st), 0);
    return st->state;
}

/* A table with default pacing and one group, tp_mgid_n(1), stored in
 * 'mgid', added as a full member. */
static struct ibb_join_table *
table_with_group(uint8_t mgid[16])
{
    struct ibb_join_table *t = ibb_join_table_create(NULL);

    tp_mgid_n(1, mgid);
    ibb_join_add(t, mgid, IBB_MCAST_FULL, 1, 0xffff);
    return t;
}

static void
test_pacing(void **state)
{
    struct ibb_join_params p = { .rate = 1000, .max_inflight = 64 };
    struct ibb_join_table *t = ibb_join_table_create(&p);
    uint32_t xid = 1;
    uint8_t mgid[16];

    (void) state;
    for (int i = 0; i < 1000; i++) {
        tp_mgid_n(i, mgid);
        assert_int_equal(ibb_join_add(t, mgid, IBB_MCAST_FULL, 1, 0xffff),
                         0);
    }
    /* The bucket's depth, then nothing until answers and time. */
    assert_int_equal(send_all(t, 0, &xid), 64);
    assert_int_equal(send_all(t, 0, &xid), 0);
    for (uint32_t x = 1; x < xid; x++) {
        assert_true(ibb_join_reply(t, 0, x, 0, 0xc000 + x));
    }
    assert_int_equal(send_all(t, 0, &xid), 0);
    assert_true(ibb_join_next_deadline(t, 0) > 0);
    /* 1000 a second: 10 in 10 ms. */
    assert_int_equal(send_all(t, 10, &xid), 10);
    /* At most 64 unanswered, whatever the tokens. */
    assert_int_equal(send_all(t, 1000, &xid), 54);
    ibb_join_table_destroy(t);
}

static void
test_join_refused_retried(void **state)
{
    uint8_t mgid[16];
    struct ibb_mcast_status st;
    uint32_t xid = 1;
    struct ibb_join_table *t = table_with_group(mgid);

    (void) state;
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_JOINING);
    assert_int_equal(send_all(t, 0, &xid), 1);
    assert_true(ibb_join_reply(t, 0, 1, EINVAL, 0));
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_FAILED);
    assert_string_equal(st.why, "the SA refused the join (Invalid argument)");
    assert_int_equal(ibb_join_next_deadline(t, 0), 1000);

    /* Retried after 1 s, still FAILED with its reason meanwhile. */
    ibb_join_run(t, 999);
    assert_int_equal(send_all(t, 999, &xid), 0);
    ibb_join_run(t, 1000);
    assert_int_equal(send_all(t, 1000, &xid), 1);
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_FAILED);
    assert_true(ibb_join_reply(t, 1000, 2, EINVAL, 0));
    /* Then after 2 s. */
    assert_int_equal(ibb_join_next_deadline(t, 1000), 3000);
    ibb_join_run(t, 3000);
    assert_int_equal(send_all(t, 3000, &xid), 1);
    assert_true(ibb_join_reply(t, 3000, 3, 0, 0xc005));
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_JOINED);
    assert_int_equal(st.mlid, 0xc005);
    assert_int_equal(ibb_join_counters(t)->join_retries, 2);
    ibb_join_table_destroy(t);
}

/* A request that failed on the caller's side (ibb_join_fail()) shows the
 * caller's reason and is retried; an answer clears the reason.  A joined
 * membership that ends (ibb_join_lost()) fails and is retried too. */
static void
test_local_failure_and_loss(void **state)
{
    uint8_t mgid[16];
    struct ibb_mcast_status st;
    uint32_t xid = 1;
    struct ibb_join_table *t = table_with_group(mgid);

    (void) state;
    assert_int_equal(send_all(t, 0, &xid), 1);
    assert_false(ibb_join_fail(t, 0, 99, ENOSPC, "no such request"));
    assert_true(ibb_join_fail(t, 0, 1, ENOSPC, "no attach room"));
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_FAILED);
    assert_string_equal(st.why, "no attach room");
    /* Not joined: nothing to lose. */
    assert_false(ibb_join_lost(t, 0, mgid, ENETRESET, "reset"));
    ibb_join_run(t, 1000);
    assert_int_equal(send_all(t, 1000, &xid), 1);
    assert_true(ibb_join_reply(t, 1000, 2, 0, 0xc001));
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_JOINED);
    assert_string_equal(st.why, "");

    assert_true(ibb_join_lost(t, 2000, mgid, ENETRESET, "reset by a port "
                              "event"));
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_FAILED);
    assert_string_equal(st.why, "reset by a port event");
    assert_int_equal(ibb_join_next_deadline(t, 2000), 3000);
    ibb_join_run(t, 3000);
    assert_int_equal(send_all(t, 3000, &xid), 1);
    assert_true(ibb_join_reply(t, 3000, 3, EINVAL, 0));
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_FAILED);
    assert_string_equal(st.why, "the SA refused the join (Invalid argument)");
    /* Given up while failed: gone at once (the SA holds nothing). */
    assert_int_equal(ibb_join_remove(t, mgid), 0);
    assert_int_equal(ibb_join_status(t, mgid, &st), ENOENT);
    ibb_join_table_destroy(t);
}

/* Failed joins wait in a list per retry wait: each is retried when due,
 * whatever the others in the table wait for. */
static void
test_retries_by_wait(void **state)
{
    struct ibb_join_table *t = ibb_join_table_create(NULL);
    uint32_t xid = 1;
    uint8_t mgid[16];

    (void) state;
    for (int i = 1; i <= 2; i++) {
        tp_mgid_n(i, mgid);
        ibb_join_add(t, mgid, IBB_MCAST_FULL, 1, 0xffff);
    }
    assert_int_equal(send_all(t, 0, &xid), 2);
    assert_true(ibb_join_reply(t, 0, 1, EINVAL, 0));      /* Retry 1000. */
    assert_true(ibb_join_reply(t, 500, 2, EINVAL, 0));    /* Retry 1500. */
    assert_int_equal(ibb_join_next_deadline(t, 500), 1000);
    ibb_join_run(t, 1000);
    assert_int_equal(send_all(t, 1000, &xid), 1);
    assert_true(ibb_join_reply(t, 1000, 3, EINVAL, 0));   /* Retry 3000. */
    assert_int_equal(ibb_join_next_deadline(t, 1000), 1500);
    ibb_join_run(t, 1500);
    assert_int_equal(send_all(t, 1500, &xid), 1);
    assert_true(ibb_join_reply(t, 1500, 4, EINVAL, 0));   /* Retry 3500. */
    assert_int_equal(ibb_join_next_deadline(t, 1500), 3000);
    ibb_join_run(t, 3499);
    assert_int_equal(send_all(t, 3499, &xid), 1);
    ibb_join_run(t, 3500);
    assert_int_equal(send_all(t, 3500, &xid), 1);
    assert_int_equal(ibb_join_counters(t)->join_retries, 4);
    ibb_join_table_destroy(t);
}

static void
test_timeout_and_stale_answer(void **state)
{
    uint8_t mgid[16];
    struct ibb_mcast_status st;
    uint32_t xid = 1;
    struct ibb_join_table *t = table_with_group(mgid);

    (void) state;
    send_all(t, 0, &xid);
    assert_int_equal(ibb_join_next_deadline(t, 0), IBB_JOIN_TIMEOUT_MS);
    ibb_join_run(t, IBB_JOIN_TIMEOUT_MS);
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_FAILED);
    assert_string_equal(st.why, "no answer from the SA in 5 s");
    /* The late answer is not taken. */
    assert_false(ibb_join_reply(t, IBB_JOIN_TIMEOUT_MS + 1, 1, 0, 0xc000));
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_FAILED);
    ibb_join_table_destroy(t);
}

static void
test_leave_during_join(void **state)
{
    uint8_t mgid[16];
    struct ibb_join_request req;
    struct ibb_mcast_status st;
    uint32_t xid = 1;
    struct ibb_join_table *t = table_with_group(mgid);

    (void) state;
    send_all(t, 0, &xid);
    assert_int_equal(ibb_join_remove(t, mgid), 0);
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_LEAVING);
    /* Nothing more is sent before the join's answer... */
    assert_false(ibb_join_next(t, 0, &req));
    /* ...then the leave. */
    assert_true(ibb_join_reply(t, 0, 1, 0, 0xc000));
    assert_true(ibb_join_next(t, 0, &req));
    assert_int_equal(req.op, IBB_JOIN_OP_LEAVE);
    assert_memory_equal(req.mgid, mgid, 16);
    ibb_join_sent(t, 0, xid++);
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_LEAVING);
    assert_true(ibb_join_reply(t, 0, 2, 0, 0xc000));
    assert_int_equal(ibb_join_status(t, mgid, &st), ENOENT);
    assert_int_equal(ibb_join_count(t), 0);

    /* A group never sent goes at once, with nothing sent. */
    ibb_join_add(t, mgid, IBB_MCAST_FULL, 1, 0xffff);
    assert_int_equal(ibb_join_remove(t, mgid), 0);
    assert_false(ibb_join_next(t, 0, &req));
    assert_int_equal(ibb_join_count(t), 0);
    ibb_join_table_destroy(t);
}

static void
test_reset(void **state)
{
    struct ibb_join_table *t = ibb_join_table_create(NULL);
    struct ibb_mcast_status st;
    uint8_t mgid[16], got[16];
    uint32_t xid = 1;

    (void) state;
    for (int i = 1; i <= 3; i++) {
        tp_mgid_n(i, mgid);
        ibb_join_add(t, mgid, IBB_MCAST_FULL, 1, 0xffff);
    }
    send_all(t, 0, &xid);
    assert_true(ibb_join_reply(t, 0, 1, 0, 0xc000));
    assert_true(ibb_join_reply(t, 0, 2, 0, 0xc001));
    tp_mgid_n(2, mgid);
    ibb_join_remove(t, mgid);
    while (ibb_join_take_changed(t, got, &st)) {
        continue;
    }

    /* Group 1 joined, 2 leaving (not yet sent), 3 in flight. */
    ibb_join_reset(t);
    assert_int_equal(ibb_join_count(t), 2);
    assert_int_equal(state_of(t, 1, &st), IBB_MCAST_JOINING);
    assert_int_equal(st.mlid, 0);
    assert_int_equal(state_of(t, 3, &st), IBB_MCAST_JOINING);
    assert_false(ibb_join_reply(t, 0, 3, 0, 0xc002));
    assert_true(ibb_join_take_changed(t, got, &st));
    assert_int_equal(send_all(t, 0, &xid), 2);
    ibb_join_table_destroy(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pacing),
        cmocka_unit_test(test_join_refused_retried),
        cmocka_unit_test(test_local_failure_and_loss),
        cmocka_unit_test(test_retries_by_wait),
        cmocka_unit_test(test_timeout_and_stale_answer),
        cmocka_unit_test(test_leave_during_join),
        cmocka_unit_test(test_reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
