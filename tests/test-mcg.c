/* Unit tests for lib/ibb-mcg.c (the SA group table client) on its own:
 * paging, request state, the event bound, a lost connection; and through
 * a sim port (lib/ibport-sim.c) facing a fake fabric, a forked child that
 * sends malformed answers and notices (the port counts them and goes on)
 * or stops reading (the port waits for room without spinning). */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fabric-proto.h"
#include "ibb-mcg.h"
#include "ibport.h"
#include "test-pkt.h"

/* Builds an MCG_LIST answer message body in 'buf' with records 'first' ..
 * 'first + n - 1'; returns its length. */
static size_t
list_body(uint8_t *buf, uint32_t segment, bool more, int first, int n)
{
    struct ibb_fmsg_mcg_list lh = {
        .flags = more ? IBB_FMCG_MORE : 0,
        .n_records = n,
        .segment = segment,
    };

    memcpy(buf, &lh, sizeof lh);
    for (int i = 0; i < n; i++) {
        struct ibb_fmsg_mcg_record r;

        memset(&r, 0, sizeof r);
        tp_mgid_n(first + i, r.mgid);
        r.mlid = 0xc000 + first + i;
        r.pkey = 0xffff;
        r.qkey = 0x11;
        r.n_full_others = i;
        r.n_send_only_others = 1;
        memcpy(buf + sizeof lh + i * sizeof r, &r, sizeof r);
    }
    return sizeof lh + n * sizeof(struct ibb_fmsg_mcg_record);
}

static struct ibb_fmsg_hdr
hdr_of(uint16_t type, uint16_t status, uint32_t xid)
{
    struct ibb_fmsg_hdr h = { .type = type, .status = status, .xid = xid };

    return h;
}

static void
test_list_pages(void **state)
{
    struct ibb_mcg *mcg = ibb_mcg_create(0);
    uint8_t buf[IBB_FMCG_MAX_BODY];
    struct ibb_fmsg_hdr h = hdr_of(IBB_FMSG_MCG_LIST, 0, 7);
    struct ibb_mcg_event ev;
    size_t len;

    (void) state;
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_NONE);
    ibb_mcg_want_list(mcg);
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_LIST);
    ibb_mcg_sent(mcg, IBB_MCG_REQ_LIST, 7);
    assert_true(ibb_mcg_busy(mcg));
    /* Asked again while one is out: it follows, not alongside. */
    ibb_mcg_want_list(mcg);
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_NONE);

    len = list_body(buf, 1, true, 0, IBB_FMCG_RECORDS_PER_MSG);
    assert_true(len <= IBB_FMCG_MAX_BODY);
    assert_true(ibb_mcg_take_msg(mcg, &h, buf, len));
    len = list_body(buf, 2, false, IBB_FMCG_RECORDS_PER_MSG, 2);
    assert_true(ibb_mcg_take_msg(mcg, &h, buf, len));
    assert_false(ibb_mcg_busy(mcg));

    for (int i = 0; i < IBB_FMCG_RECORDS_PER_MSG + 2; i++) {
        uint8_t mgid[16];

        assert_true(ibb_mcg_take_event(mcg, &ev));
        assert_int_equal(ev.type, IBB_MCG_LISTED);
        tp_mgid_n(i, mgid);
        assert_memory_equal(ev.rec.mgid, mgid, 16);
        assert_int_equal(ev.rec.mlid, 0xc000 + i);
    }
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
    assert_int_equal(ev.error, 0);
    assert_false(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ibb_mcg_counters(mcg)->bad_msgs, 0);
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_LIST);

    /* Other message types are not the client's. */
    h = hdr_of(IBB_FMSG_MCAST_JOIN, 0, 7);
    assert_false(ibb_mcg_take_msg(mcg, &h, buf, 0));
    ibb_mcg_destroy(mcg);
}

/* Each malformed message counts once; one that belongs to the list in
 * progress ends it with EBADMSG. */
static void
test_malformed(void **state)
{
    struct ibb_mcg *mcg = ibb_mcg_create(0);
    uint8_t buf[IBB_FMCG_MAX_BODY + 64];
    struct ibb_fmsg_mcg_notice n;
    struct ibb_fmsg_hdr h;
    struct ibb_mcg_event ev;
    size_t len;

    (void) state;
    ibb_mcg_want_subscribed(mcg, true);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 1);
    h = hdr_of(IBB_FMSG_MCG_SUBSCRIBE, 0, 2);       /* Wrong xid. */
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    h = hdr_of(IBB_FMSG_MCG_SUBSCRIBE, 0, 1);
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    assert_false(ibb_mcg_busy(mcg));

    memset(&n, 0, sizeof n);
    n.trap = IBB_FMCG_TRAP_CREATED;
    tp_mgid_n(1, n.mgid);
    h = hdr_of(IBB_FMSG_MCG_NOTICE, 0, 0);
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n - 1);   /* Short. */
    h.xid = 5;                                                  /* xid. */
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    h.xid = 0;
    n.trap = 65;                                                /* Trap. */
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    n.trap = IBB_FMCG_TRAP_DELETED;
    n.mgid[0] = 0xfe;                                           /* Unicast. */
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    assert_int_equal(ibb_mcg_counters(mcg)->bad_msgs, 5);
    assert_false(ibb_mcg_has_events(mcg));

    /* List answers: unasked, then wrong segment, count beyond the
     * bound, length disagreeing with the count, unknown flags. */
    h = hdr_of(IBB_FMSG_MCG_LIST, 0, 9);
    len = list_body(buf, 1, false, 0, 1);
    ibb_mcg_take_msg(mcg, &h, buf, len);
    assert_int_equal(ibb_mcg_counters(mcg)->bad_msgs, 6);
    assert_false(ibb_mcg_has_events(mcg));

    for (int k = 0; k < 5; k++) {
        struct ibb_fmsg_mcg_list lh;

        ibb_mcg_want_list(mcg);
        ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 10 + k);
        h = hdr_of(IBB_FMSG_MCG_LIST, 0, 10 + k);
        len = list_body(buf, 1, true, 0, 2);
        memcpy(&lh, buf, sizeof lh);
        switch (k) {
        case 0:
            lh.segment = 2;
            break;
        case 1:
            lh.n_records = IBB_FMCG_RECORDS_PER_MSG + 1;
            len = sizeof lh + lh.n_records
                  * sizeof(struct ibb_fmsg_mcg_record);
            break;
        case 2:
            len -= 1;
            break;
        case 3:
            lh.flags |= 0x80;
            break;
        case 4:
            len = sizeof lh - 1;
            break;
        }
        memcpy(buf, &lh, sizeof lh);
        ibb_mcg_take_msg(mcg, &h, buf, len);
        assert_true(ibb_mcg_take_event(mcg, &ev));
        assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
        assert_int_equal(ev.error, EBADMSG);
        assert_false(ibb_mcg_busy(mcg));
        assert_false(ibb_mcg_has_events(mcg));
    }
    assert_int_equal(ibb_mcg_counters(mcg)->bad_msgs, 11);

    /* An SA error status ends the list with it, and is no bad message. */
    ibb_mcg_want_list(mcg);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 20);
    h = hdr_of(IBB_FMSG_MCG_LIST, ENOENT, 20);
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.error, ENOENT);
    assert_int_equal(ibb_mcg_counters(mcg)->bad_msgs, 11);
    ibb_mcg_destroy(mcg);
}

static void
test_bound_and_unsubscribe(void **state)
{
    struct ibb_mcg *mcg = ibb_mcg_create(2);
    struct ibb_fmsg_hdr h = hdr_of(IBB_FMSG_MCG_NOTICE, 0, 0);
    struct ibb_fmsg_mcg_notice n;
    struct ibb_mcg_event ev;

    (void) state;
    ibb_mcg_want_subscribed(mcg, true);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 1);
    h.type = IBB_FMSG_MCG_SUBSCRIBE;
    h.xid = 1;
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    h = hdr_of(IBB_FMSG_MCG_NOTICE, 0, 0);
    memset(&n, 0, sizeof n);
    n.trap = IBB_FMCG_TRAP_CREATED;
    for (int i = 0; i < 3; i++) {
        tp_mgid_n(i, n.mgid);
        ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    }
    assert_int_equal(ibb_mcg_counters(mcg)->events_dropped, 1);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_CREATED);
    assert_int_equal(ev.rec.mgid[15], 0);
    /* Room again: the ring wraps. */
    tp_mgid_n(3, n.mgid);
    n.trap = IBB_FMCG_TRAP_DELETED;
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.rec.mgid[15], 1);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_DELETED);
    assert_int_equal(ev.rec.mgid[15], 3);
    assert_false(ibb_mcg_take_event(mcg, &ev));

    /* A notice sent before the SA saw our unsubscribe makes no event. */
    ibb_mcg_want_subscribed(mcg, false);
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_UNSUBSCRIBE);
    ibb_mcg_sent(mcg, IBB_MCG_REQ_UNSUBSCRIBE, 2);
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    assert_false(ibb_mcg_has_events(mcg));
    assert_int_equal(ibb_mcg_counters(mcg)->notices, 5);
    ibb_mcg_destroy(mcg);
}

static void
test_reset(void **state)
{
    struct ibb_mcg *mcg = ibb_mcg_create(0);
    struct ibb_fmsg_hdr h;
    struct ibb_mcg_event ev;

    (void) state;
    ibb_mcg_want_subscribed(mcg, true);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 1);
    h = hdr_of(IBB_FMSG_MCG_SUBSCRIBE, 0, 1);
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    ibb_mcg_want_list(mcg);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 2);
    assert_false(ibb_mcg_has_events(mcg));

    ibb_mcg_reset(mcg);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
    assert_int_equal(ev.error, ECONNRESET);
    assert_false(ibb_mcg_busy(mcg));
    /* Back: subscribe again first, and say so once the SA agreed. */
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_SUBSCRIBE);
    ibb_mcg_sent(mcg, IBB_MCG_REQ_SUBSCRIBE, 3);
    assert_false(ibb_mcg_has_events(mcg));
    h = hdr_of(IBB_FMSG_MCG_SUBSCRIBE, 0, 3);
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_RESUBSCRIBED);
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_NONE);

    /* A refused subscription is reported and not retried. */
    ibb_mcg_reset(mcg);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 4);
    h = hdr_of(IBB_FMSG_MCG_SUBSCRIBE, EPERM, 4);
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_SUBSCRIBE_FAILED);
    assert_int_equal(ev.error, EPERM);
    assert_false(ibb_mcg_is_subscribed(mcg));
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_NONE);
    ibb_mcg_destroy(mcg);
}

/* ------------------------------------------------------------------ */
/* A sim port against a fake fabric. */

static void
fab_send(int fd, uint16_t type, uint16_t status, uint32_t xid,
         const void *body, size_t len)
{
    uint8_t msg[IBB_FABRIC_MAX_MSG];
    struct ibb_fmsg_hdr h = hdr_of(type, status, xid);

    memcpy(msg, &h, sizeof h);
    if (len) {
        memcpy(msg + sizeof h, body, len);
    }
    if (send(fd, msg, sizeof h + len, MSG_NOSIGNAL) < 0) {
        _exit(3);
    }
}

/* Reads the next request; exits if it is not of 'type'. */
static uint32_t
fab_expect(int fd, uint16_t type)
{
    uint8_t msg[IBB_FABRIC_MAX_MSG];
    struct ibb_fmsg_hdr h;
    ssize_t n = recv(fd, msg, sizeof msg, 0);

    if (n < (ssize_t) sizeof h) {
        _exit(4);
    }
    memcpy(&h, msg, sizeof h);
    if (h.type != type) {
        fprintf(stderr, "fake fabric: got message %u, expected %u\n",
                h.type, type);
        _exit(5);
    }
    return h.xid;
}

static void
fab_notice(int fd, uint16_t trap, int group, uint32_t xid, size_t len)
{
    struct ibb_fmsg_mcg_notice n;

    memset(&n, 0, sizeof n);
    n.trap = trap;
    tp_mgid_n(group, n.mgid);
    fab_send(fd, IBB_FMSG_MCG_NOTICE, 0, xid, &n, len);
}

/* The fake fabric's script, step by step with the port's (see
 * test_port_counts_bad_msgs()). */
/* Accepts the port's connection and its attach; returns the socket. */
static int
fab_accept(int lfd)
{
    struct ibb_fmsg_attach_reply ar;
    int fd = accept(lfd, NULL, NULL);
    uint32_t xid;

    if (fd < 0) {
        _exit(2);
    }
    xid = fab_expect(fd, IBB_FMSG_ATTACH);
    memset(&ar, 0, sizeof ar);
    ar.lid = 5;
    ar.mtu = 4096;
    fab_send(fd, IBB_FMSG_ATTACH, 0, xid, &ar, sizeof ar);
    return fd;
}

/* Waits for the port to close 'fd', then ends the fake fabric. */
static void
fab_finish(int fd)
{
    uint8_t buf[IBB_FABRIC_MAX_MSG];

    while (recv(fd, buf, sizeof buf, 0) > 0) {
        continue;
    }
    _exit(0);
}

static void
fake_fabric(int lfd, int go)
{
    uint8_t buf[IBB_FMCG_MAX_BODY];
    int fd = fab_accept(lfd);
    uint32_t xid;
    size_t len;

    (void) go;

    /* 1. Subscribe: bad notices and a stale answer (4 bad), then a good
     * notice, with a packet-sized junk message of unknown type between. */
    xid = fab_expect(fd, IBB_FMSG_MCG_SUBSCRIBE);
    fab_send(fd, IBB_FMSG_MCG_SUBSCRIBE, 0, xid, NULL, 0);
    fab_notice(fd, IBB_FMCG_TRAP_CREATED, 1, 0, 3);
    fab_notice(fd, 99, 1, 0, sizeof(struct ibb_fmsg_mcg_notice));
    fab_notice(fd, IBB_FMCG_TRAP_CREATED, 1, 77,
               sizeof(struct ibb_fmsg_mcg_notice));
    fab_send(fd, IBB_FMSG_MCG_SUBSCRIBE, 0, 999, NULL, 0);
    memset(buf, 0xab, sizeof buf);
    fab_send(fd, 0x7777, 0, 1, buf, sizeof buf);
    fab_notice(fd, IBB_FMCG_TRAP_CREATED, 1, 0,
               sizeof(struct ibb_fmsg_mcg_notice));

    /* 2. List: a good segment, a skipped one (ends the list), a late one
     * (2 bad), then a notice to mark the end. */
    xid = fab_expect(fd, IBB_FMSG_MCG_LIST);
    len = list_body(buf, 1, true, 0, 1);
    fab_send(fd, IBB_FMSG_MCG_LIST, 0, xid, buf, len);
    len = list_body(buf, 3, true, 1, 1);
    fab_send(fd, IBB_FMSG_MCG_LIST, 0, xid, buf, len);
    len = list_body(buf, 4, false, 2, 1);
    fab_send(fd, IBB_FMSG_MCG_LIST, 0, xid, buf, len);
    fab_notice(fd, IBB_FMCG_TRAP_DELETED, 1, 0,
               sizeof(struct ibb_fmsg_mcg_notice));

    /* 3. List: a count that disagrees with the length (1 bad). */
    xid = fab_expect(fd, IBB_FMSG_MCG_LIST);
    len = list_body(buf, 1, false, 0, 2);
    fab_send(fd, IBB_FMSG_MCG_LIST, 0, xid, buf, len - 5);

    /* 4. A good, empty list. */
    xid = fab_expect(fd, IBB_FMSG_MCG_LIST);
    len = list_body(buf, 1, false, 0, 0);
    fab_send(fd, IBB_FMSG_MCG_LIST, 0, xid, buf, len);
    fab_finish(fd);
}

/* The fake fabric of test_port_waits_for_room(): reads nothing until told
 * on 'go', then takes what the port sent and answers its join. */
static void
stalled_fabric(int lfd, int go)
{
    struct ibb_fmsg_mcast_reply reply;
    uint8_t msg[IBB_FABRIC_MAX_MSG];
    int fd = fab_accept(lfd);
    struct ibb_fmsg_hdr h;
    char c;

    if (read(go, &c, 1) != 1) {
        _exit(6);
    }
    do {
        if (recv(fd, msg, sizeof msg, 0) < (ssize_t) sizeof h) {
            _exit(7);
        }
        memcpy(&h, msg, sizeof h);
    } while (h.type == IBB_FMSG_PACKET);
    if (h.type != IBB_FMSG_MCAST_JOIN) {
        _exit(8);
    }
    memset(&reply, 0, sizeof reply);
    reply.mlid = 0xc001;
    reply.qkey = 0x11;
    fab_send(fd, IBB_FMSG_MCAST_JOIN, 0, h.xid, &reply, sizeof reply);
    fab_finish(fd);
}

/* Reads and runs the port until an SA group event comes, for up to 10 s
 * (a guard against a hang, not a timing check). */
static bool
port_next_event(struct ibb_port *port, struct ibb_mcg_event *ev)
{
    for (int i = 0; i < 1000; i++) {
        static uint8_t pkt[4200];
        struct ibb_port_buf buf = { .data = pkt, .size = sizeof pkt };
        struct pollfd pfd = { .fd = ibb_port_fd(port), .events = POLLIN };
        size_t n;

        ibb_port_run(port);
        ibb_port_recv(port, &buf, 1, &n);
        if (ibb_port_mcg_take_event(port, ev)) {
            return true;
        }
        poll(&pfd, 1, 10);
    }
    return false;
}

static uint64_t
port_counter(struct ibb_port *port, const char *name)
{
    struct ibb_port_counter c[16];
    size_t n = ibb_port_counters(port, c, 16);

    for (size_t i = 0; i < n && i < 16; i++) {
        if (!strcmp(c[i].name, name)) {
            return c[i].value;
        }
    }
    fail_msg("no counter %s", name);
    return 0;
}

/* A sim port attached to a fake fabric: a child running 'script', which
 * gets the listening socket and the read end of the pipe 'go'.  Each test
 * gets one from fake_setup(), and fake_teardown() removes what is left of
 * it, also after a failed assertion. */
struct fake {
    char dir[32];               /* Holds the socket; "" until made. */
    char sock[64];
    pid_t pid;                  /* The fake fabric, or -1. */
    int go;                     /* Write end: tells the script to go on. */
    struct ibb_port *port;
};

static int
fake_setup(void **state)
{
    struct fake *fk = calloc(1, sizeof *fk);

    if (!fk) {
        return -1;
    }
    fk->pid = -1;
    fk->go = -1;
    *state = fk;
    return 0;
}

static int
fake_teardown(void **state)
{
    struct fake *fk = *state;

    if (fk->port) {
        ibb_port_close(fk->port);
    }
    if (fk->go >= 0) {
        close(fk->go);
    }
    if (fk->pid > 0) {
        kill(fk->pid, SIGKILL);
        waitpid(fk->pid, NULL, 0);
    }
    if (fk->dir[0]) {
        unlink(fk->sock);
        rmdir(fk->dir);
    }
    free(fk);
    return 0;
}

static void
fake_start(struct fake *fk, void (*script)(int lfd, int go),
           const struct ibb_port_options *opts)
{
    struct sockaddr_un sun;
    char device[100];
    char *error = NULL;
    int lfd, go[2];

    snprintf(fk->dir, sizeof fk->dir, "/tmp/test-mcg-XXXXXX");
    if (!mkdtemp(fk->dir)) {
        fk->dir[0] = '\0';
        fail_msg("mkdtemp: %s", strerror(errno));
    }
    snprintf(fk->sock, sizeof fk->sock, "%s/fabric.sock", fk->dir);
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", fk->sock);
    lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *) &sun, sizeof sun), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(pipe(go), 0);
    fk->pid = fork();
    assert_true(fk->pid >= 0);
    if (!fk->pid) {
        close(go[1]);
        script(lfd, go[0]);
    }
    close(lfd);
    close(go[0]);
    fk->go = go[1];

    snprintf(device, sizeof device, "sim:%s", fk->sock);
    assert_int_equal(ibb_port_open(device, opts, &fk->port, &error), 0);
}

/* Closes the port and checks that the script ran to its end. */
static void
fake_stop(struct fake *fk)
{
    int status;

    ibb_port_close(fk->port);
    fk->port = NULL;
    close(fk->go);
    fk->go = -1;
    assert_int_equal(waitpid(fk->pid, &status, 0), fk->pid);
    fk->pid = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_port_counts_bad_msgs(void **state)
{
    struct ibb_port_options opts;
    struct ibb_mcg_event ev;
    struct fake *fk = *state;
    struct ibb_port *port;

    memset(&opts, 0, sizeof opts);
    fake_start(fk, fake_fabric, &opts);
    port = fk->port;

    assert_int_equal(ibb_port_mcg_subscribe(port, true), 0);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_CREATED);
    assert_int_equal(ev.rec.mgid[15], 1);
    assert_int_equal(port_counter(port, "mcg_bad_msgs"), 4);

    assert_int_equal(ibb_port_mcg_list(port), 0);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_LISTED);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
    assert_int_equal(ev.error, EBADMSG);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_DELETED);
    assert_int_equal(port_counter(port, "mcg_bad_msgs"), 6);

    assert_int_equal(ibb_port_mcg_list(port), 0);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
    assert_int_equal(ev.error, EBADMSG);
    assert_int_equal(port_counter(port, "mcg_bad_msgs"), 7);

    assert_int_equal(ibb_port_mcg_list(port), 0);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
    assert_int_equal(ev.error, 0);
    assert_int_equal(port_counter(port, "mcg_bad_msgs"), 7);
    assert_int_equal(port_counter(port, "mcg_events_dropped"), 0);
    assert_true(ibb_port_is_up(port));
    fake_stop(fk);
}

/* While the fabric reads nothing and the socket is full, a join that is
 * due asks for a wakeup a retry interval away, not now (a caller that
 * sleeps until then would spin); once the fabric reads again, the join
 * goes out and is answered. */
static void
test_port_waits_for_room(void **state)
{
    static uint8_t pkt[256];
    struct ibb_port_buf buf = { .data = pkt, .len = sizeof pkt };
    struct ibb_port_options opts;
    struct ibb_mcast_status st;
    struct ibb_port *port;
    struct fake *fk = *state;
    uint8_t mgid[16];
    uint16_t mlid;
    long long now;
    size_t n;
    int i;

    memset(&opts, 0, sizeof opts);
    opts.async_joins = true;
    fake_start(fk, stalled_fabric, &opts);
    port = fk->port;

    for (i = 0; i < 100000; i++) {
        if (ibb_port_send(port, &buf, 1, &n) == EAGAIN) {
            break;
        }
    }
    assert_true(i < 100000);

    tp_mgid_n(1, mgid);
    assert_int_equal(ibb_port_mcast_join(port, mgid, IBB_MCAST_FULL, 0x11,
                                         0xffff, &mlid), 0);
    while (ibb_port_mcast_take_changed(port, mgid, &st)) {
        continue;
    }
    now = ibb_port_now_ms();
    assert_true(ibb_port_next_wakeup(port) >= now + 5);
    assert_int_equal(ibb_port_mcast_status(port, mgid, &st), 0);
    assert_int_equal(st.state, IBB_MCAST_JOINING);

    assert_int_equal(write(fk->go, "g", 1), 1);
    for (i = 0; i < 1000; i++) {
        struct pollfd pfd = { .fd = ibb_port_fd(port), .events = POLLIN };

        ibb_port_run(port);
        assert_int_equal(ibb_port_mcast_status(port, mgid, &st), 0);
        if (st.state == IBB_MCAST_JOINED) {
            break;
        }
        poll(&pfd, 1, 10);
    }
    assert_int_equal(st.state, IBB_MCAST_JOINED);
    assert_int_equal(st.mlid, 0xc001);
    fake_stop(fk);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bound_and_unsubscribe),
        cmocka_unit_test(test_reset),
        cmocka_unit_test_setup_teardown(test_port_counts_bad_msgs,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_port_waits_for_room,
                                        fake_setup, fake_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
