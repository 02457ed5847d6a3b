/*
 * ibsim-verbs-line-rate: the HCA model's line-rate source
 * (IBSIM_VERBS_LINE_RATE, described in ibsim-verbs.c): the IB packets of a
 * capture, which the wire brings again and again, as fast as the receive
 * queues take them.  A benchmark of the receiver (PMD threads, queues)
 * then measures the receiver, not the simulated fabric and its senders.
 */
#include <config.h>
#include "ibsim-verbs-private.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ibb-file-stamp.h"
#include "ibb-pcap.h"

/* How often the background thread looks at the file. */
#define LINE_RATE_CHECK_MS 100

/* One packet of the capture, checked once. */
struct line_rate_pkt {
    uint8_t *data;              /* LRH .. VCRC. */
    struct hca_rx_pkt rx;       /* Parsed: pointers into 'data'. */
};

struct hca_line_rate {
    struct ibb_file_stamp stamp; /* The file as read. */
    struct line_rate_pkt *pkts; /* Its packets that passed the checks. */
    size_t n;                   /* Number of 'pkts'. */
    size_t next;                /* Where the next fill starts. */
};

static long long last_check_ms;

void
hca_line_rate_free(void)
{
    struct hca_line_rate *lr = hca.line_rate;

    if (!lr) {
        return;
    }
    for (size_t i = 0; i < lr->n; i++) {
        free(lr->pkts[i].data);
    }
    free(lr->pkts);
    free(lr);
    hca.line_rate = NULL;
}

/* Appends the packet of 'len' bytes at 'pkt' to 'lr' if it passes the
 * receive checks (which count it otherwise).  Returns false only when
 * memory runs out. */
static bool
line_rate_add(struct hca_line_rate *lr, const uint8_t *pkt, size_t len)
{
    struct line_rate_pkt *p, *pkts;

    pkts = realloc(lr->pkts, (lr->n + 1) * sizeof *lr->pkts);
    if (!pkts) {
        return false;
    }
    lr->pkts = pkts;
    p = &pkts[lr->n];
    p->data = malloc(len);
    if (!p->data) {
        return false;
    }
    memcpy(p->data, pkt, len);
    if (hca_rx_parse(p->data, len, &p->rx)) {
        lr->n++;
    } else {
        free(p->data);
    }
    return true;
}

/* Reads the capture 'file' (as 'stamp' describes it) into a new source.
 * Returns NULL, after logging why, if it cannot be read: the background
 * thread tries again when the file changes. */
static struct hca_line_rate *
line_rate_read(const char *file, const struct ibb_file_stamp *stamp)
{
    static uint8_t pkt[IBB_PCAP_MAX_RECORD];
    struct ibb_pcap_reader *r;
    struct hca_line_rate *lr;
    char err[PATH_MAX + 256];
    int error;

    error = ibb_pcap_reader_open(file, &r, err, sizeof err);
    if (error) {
        hca_log("line-rate source %s: %s", file, err);
        return NULL;
    }
    if (!ibb_pcap_reader_is_ib(r, err, sizeof err)) {
        hca_log("line-rate source %s: %s", file, err);
        ibb_pcap_reader_close(r);
        return NULL;
    }
    lr = calloc(1, sizeof *lr);
    if (!lr) {
        ibb_pcap_reader_close(r);
        return NULL;
    }
    lr->stamp = *stamp;
    for (;;) {
        struct ibb_pcap_rec rec;

        error = ibb_pcap_read_ib(r, &rec, pkt, sizeof pkt, NULL, err,
                                 sizeof err);
        if (error == EOF) {
            break;
        } else if (error) {
            hca_log("line-rate source %s: %s", file, err);
            break;
        }
        if (!line_rate_add(lr, pkt, rec.len)) {
            hca_log("line-rate source %s: out of memory", file);
            break;
        }
    }
    ibb_pcap_reader_close(r);
    hca_log("line-rate source %s: %zu packets", file, lr->n);
    return lr;
}

void
hca_line_rate_check(void)
{
    struct ibb_file_stamp stamp;
    long long now;

    if (!hca.line_rate_file) {
        return;
    }
    now = ibb_port_now_ms();
    if (now - last_check_ms < LINE_RATE_CHECK_MS) {
        return;
    }
    last_check_ms = now;
    ibb_file_stamp_get(hca.line_rate_file, &stamp);
    if (!stamp.exists) {
        if (hca.line_rate) {
            hca_log("line-rate source %s: removed, stopped",
                    hca.line_rate_file);
            hca_line_rate_free();
        }
        return;
    }
    if (hca.line_rate
        && ibb_file_stamp_equal(&hca.line_rate->stamp, &stamp)) {
        return;
    }
    hca_line_rate_free();
    hca.line_rate = line_rate_read(hca.line_rate_file, &stamp);
    if (hca.line_rate) {
        /* Wake whoever waits on a completion channel. */
        hca_line_rate_start();
    }
}

void
hca_line_rate_fill(struct hca_cq *cq, unsigned int max)
{
    struct hca_line_rate *lr = hca.line_rate;
    unsigned int got = 0;
    size_t idle = 0;

    /* Round robin over the packets, until 'max' copies are in or a whole
     * round found no QP on 'cq' that takes one. */
    while (got < max && idle < lr->n) {
        int n = hca_rx_deliver(&lr->pkts[lr->next].rx, cq);

        lr->next = (lr->next + 1) % lr->n;
        if (n) {
            got += n;
            hca.c.rx_line_rate += n;
            idle = 0;
        } else {
            idle++;
        }
    }
}
