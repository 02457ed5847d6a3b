/*
 * Code shared by the two test hosts, ibsim-host (IB UD on the simulated
 * fabric) and roce-host (RoCEv2 UD over a UDP socket): one option table,
 * one usage text style, one JSON format, and the transport part of a UD
 * packet (BTH, DETH, ImmDt, payload, pad) that both build and parse.
 *
 * Exit codes of both programs: 0 success, 1 bad usage or a receive timeout,
 * 2 a failure of the fabric or network (e.g. the fabric went away and did
 * not come back).
 */
#ifndef HOST_COMMON_H
#define HOST_COMMON_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOST_EXIT_USAGE 1
#define HOST_EXIT_FABRIC 2

/* Largest payload a host sends (the largest IB MTU). */
#define HOST_MAX_PAYLOAD 4096

/* Command-line settings of either host. */
struct host_opts {
    bool roce;                  /* roce-host (else ibsim-host). */
    const char *cmd;            /* send, recv, join, pingpong, flood,
                                 * replay, arp, mcgs. */
    const char *arg;            /* join: the group. */

    /* ibsim-host's own port. */
    const char *fabric;         /* --fabric: fabric socket path. */
    uint8_t gid[16];            /* --gid: requested GID (GUID part used). */
    bool has_gid;
    unsigned int lid;           /* --lid: requested LID, 0 = any. */
    bool raw;                   /* --raw: raw instead of strict mode. */
    double reconnect;           /* --reconnect: seconds to retry, 0 = no. */

    /* roce-host's own address; ibsim-host's IPoIB address (the sender of
     * its ARP requests). */
    const char *ip;             /* --ip: source address. */
    uint8_t my_ip[16];          /* ibsim-host: --ip parsed, else 0. */
    const char *dev;            /* --dev: interface for multicast. */

    /* Peer and transport. */
    uint8_t dgid[16];           /* --dgid / --dip. */
    bool has_dgid;
    uint8_t dip[16];            /* --dip (ibsim-host): resolve through
                                 * IPoIB ARP and a path query. */
    bool has_dip;
    unsigned int dlid;          /* --dlid (ibsim-host). */
    bool has_dlid;
    uint32_t qpn;               /* --qpn: own QPN (DETH SrcQP). */
    uint32_t dqpn;              /* --dqpn. */
    bool has_dqpn;
    uint32_t qkey;              /* --qkey. */
    uint16_t pkey;              /* --pkey. */
    uint32_t imm;               /* --imm: send with immediate. */
    bool has_imm;
    bool send_only;             /* join --send-only. */
    bool follow;                /* mcgs --follow: print notices. */
    unsigned int groups;        /* join --groups=N: N consecutive MGIDs,
                                 * 0 = 1. */
    unsigned long long unsub_after; /* mcgs --unsubscribe-after=N, 0 =
                                     * never. */

    /* Amount and pacing. */
    unsigned long long count;   /* --count, 0 = unlimited (recv). */
    bool has_count;
    double timeout;             /* --timeout in seconds, 0 = none. */
    bool json;                  /* --json. */
    size_t size;                /* --size: payload bytes. */
    uint8_t *payload;           /* --payload: bytes, or NULL. */
    unsigned int delay_us;      /* --delay: microseconds per packet. */
    const char *inject;         /* --inject: kind of bad packet. */

    /* Header fields of what is sent, -1 = the default (see --help). */
    int tclass;                 /* --tclass: GRH TClass, IP DSCP+ECN. */
    int hop_limit;              /* --hop-limit: GRH HopLmt, IP TTL. */
    int flow_label;             /* --flow-label: GRH/IPv6 flow label. */
    int sl;                     /* --sl: LRH SL (ibsim-host). */
    bool fecn, becn;            /* --fecn, --becn: BTH bits. */
};

/* A received (or parsed) UD datagram. */
struct host_msg {
    uint8_t sgid[16];           /* Source GID (RoCE: IP as GID). */
    uint8_t dgid[16];           /* Destination GID. */
    int slid, dlid;             /* LIDs, -1 for RoCE. */
    uint32_t sqpn, dqpn;        /* Source and destination QPN. */
    uint32_t qkey;              /* DETH Q_Key. */
    uint16_t pkey;              /* BTH P_Key. */
    uint32_t psn;               /* BTH PSN. */
    bool has_imm;               /* ImmDt present. */
    uint32_t imm;               /* ImmDt. */
    const uint8_t *payload;     /* Payload, without pad. */
    size_t len;                 /* Payload length. */
    bool icrc_ok;               /* ICRC verified. */

    /* Header fields a fabric or network may set or change on the way,
     * -1 where the packet has none (or the socket did not tell). */
    int sl;                     /* LRH SL (IB only). */
    int tclass;                 /* GRH TClass, IPv4 TOS, IPv6 TC. */
    int hop_limit;              /* GRH HopLmt, IPv4 TTL, IPv6 hop limit. */
    int flow_label;             /* GRH or IPv6 flow label. */
    bool fecn, becn;            /* BTH FECN and BECN. */
};

/* Clears 'm', with every field a packet may lack (LIDs included) -1. */
void host_msg_init(struct host_msg *m);

/* Parses the command line into 'o' or exits with HOST_EXIT_USAGE. */
void host_parse_options(int argc, char *argv[], bool roce,
                        struct host_opts *o);

/* Fills 'buf' with the payload to send; returns its length. */
size_t host_payload(const struct host_opts *, uint8_t *buf, uint32_t seq);

/* Writes BTH, DETH, [ImmDt], payload and pad at 'p'; returns the length
 * (the ICRC follows and is not written). */
size_t host_build_transport(uint8_t *p, const struct host_opts *,
                            uint32_t dqpn, uint32_t psn,
                            const uint8_t *payload, size_t len);

/* Parses the transport part 'p' of 'len' bytes (BTH through ICRC) into
 * 'm'.  Returns 0 or EINVAL. */
int host_parse_transport(const uint8_t *p, size_t len, struct host_msg *m);

/* Prints 'm' as one JSON object per line (--json) or as text. */
void host_print_msg(const struct host_opts *, const struct host_msg *);

/* How a host sends and receives UD datagrams, for the commands that
 * host-common.c runs on its behalf. */
struct host_io {
    /* Sends a datagram with PSN 'psn' and the 'len' bytes at 'payload' to
     * the sender of 'to' or, if 'to' is NULL, to the command line's
     * destination. */
    void (*send)(const struct host_msg *to, uint32_t psn,
                 const uint8_t *payload, size_t len);

    /* Receives one datagram into 'm', waiting until 'deadline' (0 =
     * forever).  Returns 0, ETIMEDOUT if 'deadline' passed, or EINVAL for
     * a packet that could not be parsed (the caller skips it). */
    int (*recv)(struct host_msg *m, double deadline);
};

/* The commands "send" ('flood' false) and "flood": sends --count
 * datagrams and reports on stdout.  Returns the exit code. */
int host_cmd_send(const struct host_opts *, const struct host_io *,
                  bool flood);

/* The command "pingpong": without --dgid/--dip the server, which echoes
 * every datagram to its sender, else the client, which reports the round
 * trip times.  Returns the exit code. */
int host_cmd_pingpong(const struct host_opts *, const struct host_io *);

/* Ends a receive command that got 'n' datagrams: reports a timeout if
 * fewer than --count came.  Returns the exit code. */
int host_recv_result(const struct host_opts *, unsigned long long n);

double host_now(void);

void host_fatal(int exit_code, const char *format, ...)
    __attribute__((format(printf, 2, 3), noreturn));

extern const char *host_program_name;

#endif /* host-common.h */
