/*
 * Reading and writing classic pcap files, with the link types ibbridge
 * deals in: Ethernet for RoCEv2, and native InfiniBand either as ERF records
 * (the format Mellanox ibdump writes and tshark dissects) or raw.
 *
 * File header (24 bytes, in the writer's byte order, told by the magic):
 *
 *   magic 0xa1b2c3d4 (usec timestamps) or 0xa1b23c4d (nsec) | version 2.4 |
 *   thiszone | sigfigs | snaplen | link type
 *
 * Record: ts_sec | ts_usec or ts_nsec | incl_len | orig_len | incl_len
 * bytes of data.
 *
 * Link types (tcpdump.org/linktypes.html):
 *   1   LINKTYPE_ETHERNET    Ethernet frame without FCS (RoCEv2).
 *   197 LINKTYPE_ERF         an Endace ERF record per pcap record.
 *   247 LINKTYPE_INFINIBAND  raw IB packet from the LRH (tshark 4.0 refuses
 *                            it, so ibbridge only reads it).
 *
 * ERF record (Endace "ERF types" reference; wireshark epan/dissectors/
 * packet-erf.c), as it sits in the data of a LINKTYPE_ERF pcap record:
 *
 *    0       8      9       10      12      14      16
 *   +-------+------+-------+-------+-------+-------+--------------------+
 *   | ts    | type | flags | rlen  | lctr  | wlen  | [ext hdrs] packet  |
 *   +-------+------+-------+-------+-------+-------+--------------------+
 *   ts: 32.32 fixed-point seconds, little-endian.  type: bits 6:0 record
 *   type (21 = InfiniBand), bit 7 = an extension header follows.  flags:
 *   bit 2 varying-length record.  rlen: record length including this
 *   header, big-endian; wlen: packet length on the wire.  Each extension
 *   header is 8 bytes; bit 7 of its first byte says another follows.  Type
 *   21 has no further type-specific header: the IB packet (LRH first,
 *   through the VCRC) follows directly.
 *
 * The reader checks everything it reads against the file and the lengths
 * it was given and fails with a message rather than read past either.
 * Errors are reported as a positive errno and a message in the caller's
 * buffer (without the file name; the caller adds it).
 */
#ifndef IBB_PCAP_H
#define IBB_PCAP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define IBB_PCAP_LINKTYPE_ETHERNET 1
#define IBB_PCAP_LINKTYPE_ERF 197
#define IBB_PCAP_LINKTYPE_INFINIBAND 247

#define IBB_ERF_TYPE_INFINIBAND 21
#define IBB_ERF_TYPE_MASK 0x7f
#define IBB_ERF_TYPE_EXT 0x80       /* An extension header follows. */
#define IBB_ERF_EXT_MORE 0x80       /* Another extension header follows. */
#define IBB_ERF_FLAG_VLEN 0x04      /* Varying-length record. */
#define IBB_ERF_HDR_LEN 16
#define IBB_ERF_EXT_LEN 8

/* Largest record the reader accepts (libpcap's MAXIMUM_SNAPLEN). */
#define IBB_PCAP_MAX_RECORD 262144

/* One packet read from or to be written to a pcap file. */
struct ibb_pcap_rec {
    uint32_t ts_sec;            /* Timestamp, seconds. */
    uint32_t ts_nsec;           /* Timestamp, nanoseconds (< 10^9). */
    uint32_t len;               /* Captured packet bytes (ERF header
                                 * stripped). */
    uint32_t wire_len;          /* Length on the wire (pcap orig_len, or
                                 * ERF wlen). */
    int erf_type;               /* ERF record type (bits 6:0), or -1 if the
                                 * file is not LINKTYPE_ERF. */
};

struct ibb_pcap_reader;

/* Opens 'file_name' and reads its file header.  Returns 0 and a reader in
 * '*readerp', or a positive errno and a message in 'err': the error from
 * fopen(), EINVAL for anything that is not a classic pcap file (empty,
 * short header, unknown magic, pcapng, bad version). */
int ibb_pcap_reader_open(const char *file_name,
                         struct ibb_pcap_reader **readerp,
                         char *err, size_t err_size);
void ibb_pcap_reader_close(struct ibb_pcap_reader *);

uint32_t ibb_pcap_reader_linktype(const struct ibb_pcap_reader *);

/* Number of records read so far, including the last one returned. */
unsigned long long ibb_pcap_reader_n_records(const struct ibb_pcap_reader *);

/* Reads the next record: its packet bytes into 'buf' (room for 'size'
 * bytes) and the rest into '*rec'.  For LINKTYPE_ERF files the ERF header
 * and extension headers are checked and stripped, and the packet is
 * min(wlen, the bytes captured after the headers) long; records of any
 * ERF type are returned (the caller checks 'rec->erf_type').  Returns 0,
 * EOF at a clean end of file, or a positive errno and a message in 'err':
 * EINVAL for a record cut short by the end of the file or one with bad
 * lengths or ERF headers, EMSGSIZE for a record larger than 'size' or
 * IBB_PCAP_MAX_RECORD, or a read error. */
int ibb_pcap_read(struct ibb_pcap_reader *, struct ibb_pcap_rec *rec,
                  uint8_t *buf, size_t size, char *err, size_t err_size);

/* Whether the reader's file holds IB packets (LINKTYPE_INFINIBAND or
 * LINKTYPE_ERF); if not, a message in 'err'. */
bool ibb_pcap_reader_is_ib(const struct ibb_pcap_reader *,
                           char *err, size_t err_size);

/* ibb_pcap_read() for a file that ibb_pcap_reader_is_ib() accepts: returns
 * the next IB packet, skipping the ERF records of other types and counting
 * them in '*skipped' (if not NULL). */
int ibb_pcap_read_ib(struct ibb_pcap_reader *, struct ibb_pcap_rec *rec,
                     uint8_t *buf, size_t size, unsigned long long *skipped,
                     char *err, size_t err_size);

struct ibb_pcap_writer;

/* Creates 'file_name' and writes a pcap file header (microsecond
 * timestamps, this host's byte order, snaplen IBB_PCAP_MAX_RECORD) for
 * 'linktype'.  For IBB_PCAP_LINKTYPE_ERF every record written is wrapped in
 * an ERF header of type 21 (InfiniBand).  Returns 0 or a positive errno and
 * a message in 'err'. */
int ibb_pcap_writer_open(const char *file_name, uint32_t linktype,
                         struct ibb_pcap_writer **writerp,
                         char *err, size_t err_size);

/* Same, on an open stream (not closed by ibb_pcap_writer_close()). */
int ibb_pcap_writer_fdopen(FILE *, uint32_t linktype,
                           struct ibb_pcap_writer **writerp,
                           char *err, size_t err_size);

/* Writes one packet of 'len' bytes with the timestamp in 'rec' (the other
 * members of 'rec' are ignored).  Returns 0 or a positive errno. */
int ibb_pcap_write(struct ibb_pcap_writer *, const struct ibb_pcap_rec *rec,
                   const uint8_t *pkt, size_t len);

/* Flushes and, if the writer opened the file, closes it.  Returns 0 or the
 * positive errno of the first failed write, flush or close. */
int ibb_pcap_writer_flush(struct ibb_pcap_writer *);
int ibb_pcap_writer_close(struct ibb_pcap_writer *);

/* Returns a short name for 'linktype' ("Ethernet", "ERF", "InfiniBand"),
 * or NULL if ibbridge does not know it. */
const char *ibb_pcap_linktype_name(uint32_t linktype);

#endif /* ibb-pcap.h */
