/*
 * Classic pcap files: Ethernet, ERF (InfiniBand records) and raw
 * InfiniBand.  See lib/ibb-pcap.h for the formats.
 */
#include <config.h>

#include "ibb-pcap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ibb-bytes.h"

#define PCAP_MAGIC_USEC 0xa1b2c3d4
#define PCAP_MAGIC_NSEC 0xa1b23c4d
#define PCAPNG_MAGIC 0x0a0d0d0a     /* Section header block type. */
#define PCAP_FILE_HDR_LEN 24
#define PCAP_REC_HDR_LEN 16

struct ibb_pcap_reader {
    FILE *file;                 /* The open file. */
    bool swap;                  /* File is in the other byte order. */
    bool nsec;                  /* Nanosecond timestamps. */
    uint32_t linktype;          /* Link type from the file header. */
    unsigned long long n_records; /* Records read so far. */
};

struct ibb_pcap_writer {
    FILE *file;                 /* The open file. */
    bool own;                   /* Close 'file' in ibb_pcap_writer_close(). */
    uint32_t linktype;          /* Link type written in the header. */
    int error;                  /* First write error, or 0. */
};

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t err_size, const char *format, ...)
{
    va_list args;

    if (err_size) {
        va_start(args, format);
        vsnprintf(err, err_size, format, args);
        va_end(args);
    }
}

static uint32_t
get_u32(const struct ibb_pcap_reader *r, const uint8_t *p)
{
    return r->swap ? ibb_get_be32(p) : ibb_get_le32(p);
}

static uint16_t
get_u16(const struct ibb_pcap_reader *r, const uint8_t *p)
{
    return r->swap ? ibb_get_be16(p) : (uint16_t) (p[0] | (p[1] << 8));
}

const char *
ibb_pcap_linktype_name(uint32_t linktype)
{
    switch (linktype) {
    case IBB_PCAP_LINKTYPE_ETHERNET:
        return "Ethernet";
    case IBB_PCAP_LINKTYPE_ERF:
        return "ERF";
    case IBB_PCAP_LINKTYPE_INFINIBAND:
        return "InfiniBand";
    default:
        return NULL;
    }
}

/* ------------------------------------------------------------------ */
/* Reader. */

/* The byte-order test below reads the magic as little-endian: a file
 * written on a little-endian host gives the magic itself, a big-endian one
 * its byte swap; 'swap' is then "the file is big-endian". */
int
ibb_pcap_reader_open(const char *file_name, struct ibb_pcap_reader **readerp,
                     char *err, size_t err_size)
{
    uint8_t hdr[PCAP_FILE_HDR_LEN];
    struct ibb_pcap_reader *r;
    uint32_t magic;
    size_t n;
    int error;

    *readerp = NULL;
    r = calloc(1, sizeof *r);
    if (!r) {
        set_err(err, err_size, "out of memory");
        return ENOMEM;
    }
    r->file = fopen(file_name, "rb");
    if (!r->file) {
        error = errno;
        set_err(err, err_size, "could not open (%s)", strerror(error));
        free(r);
        return error;
    }

    n = fread(hdr, 1, sizeof hdr, r->file);
    if (n >= 4 && ibb_get_le32(hdr) == PCAPNG_MAGIC) {
        error = EINVAL;
        set_err(err, err_size, "pcapng files are not supported (convert "
                "with \"editcap -F pcap\")");
        goto error;
    }
    if (n < sizeof hdr) {
        if (ferror(r->file)) {
            error = errno ? errno : EIO;
            set_err(err, err_size, "read failed (%s)", strerror(error));
        } else {
            error = EINVAL;
            if (n == 0) {
                set_err(err, err_size, "not a pcap file (empty)");
            } else {
                set_err(err, err_size, "not a pcap file (%zu bytes, "
                        "shorter than a pcap file header)", n);
            }
        }
        goto error;
    }

    error = EINVAL;
    magic = ibb_get_le32(hdr);
    if (magic == PCAP_MAGIC_USEC || magic == PCAP_MAGIC_NSEC) {
        r->swap = false;
    } else if (ibb_get_be32(hdr) == PCAP_MAGIC_USEC
               || ibb_get_be32(hdr) == PCAP_MAGIC_NSEC) {
        r->swap = true;
        magic = ibb_get_be32(hdr);
    } else {
        set_err(err, err_size, "not a pcap file (bad magic number "
                "0x%08"PRIx32")", ibb_get_be32(hdr));
        goto error;
    }
    r->nsec = magic == PCAP_MAGIC_NSEC;
    if (get_u16(r, &hdr[4]) != 2) {
        set_err(err, err_size, "unsupported pcap version %u.%u",
                get_u16(r, &hdr[4]), get_u16(r, &hdr[6]));
        goto error;
    }
    /* The upper bits of the link type field carry FCS information in
     * some writers; the link type proper is the low 16 bits. */
    r->linktype = get_u32(r, &hdr[20]) & 0xffff;
    *readerp = r;
    return 0;

error:
    fclose(r->file);
    free(r);
    return error;
}

void
ibb_pcap_reader_close(struct ibb_pcap_reader *r)
{
    if (r) {
        fclose(r->file);
        free(r);
    }
}

uint32_t
ibb_pcap_reader_linktype(const struct ibb_pcap_reader *r)
{
    return r->linktype;
}

unsigned long long
ibb_pcap_reader_n_records(const struct ibb_pcap_reader *r)
{
    return r->n_records;
}

/* Reads exactly 'n' bytes of record 'rec_no' into 'buf'.  Returns 0 or a
 * positive errno with a message. */
static int
read_exact(struct ibb_pcap_reader *r, void *buf, size_t n, const char *what,
           char *err, size_t err_size)
{
    size_t got = fread(buf, 1, n, r->file);

    if (got == n) {
        return 0;
    }
    if (ferror(r->file)) {
        int error = errno ? errno : EIO;

        set_err(err, err_size, "record %llu: read failed (%s)",
                r->n_records, strerror(error));
        return error;
    }
    set_err(err, err_size, "record %llu: truncated %s (file ends after "
            "%zu of %zu bytes)", r->n_records, what, got, n);
    return EINVAL;
}

int
ibb_pcap_read(struct ibb_pcap_reader *r, struct ibb_pcap_rec *rec,
              uint8_t *buf, size_t size, char *err, size_t err_size)
{
    uint8_t hdr[PCAP_REC_HDR_LEN];
    uint32_t incl_len, frac;
    size_t got;
    int error;

    got = fread(hdr, 1, sizeof hdr, r->file);
    if (got == 0 && !ferror(r->file)) {
        return EOF;
    }
    r->n_records++;
    if (got < sizeof hdr) {
        if (ferror(r->file)) {
            error = errno ? errno : EIO;
            set_err(err, err_size, "record %llu: read failed (%s)",
                    r->n_records, strerror(error));
            return error;
        }
        set_err(err, err_size, "record %llu: truncated record header (file "
                "ends after %zu of %d bytes)", r->n_records, got,
                PCAP_REC_HDR_LEN);
        return EINVAL;
    }

    memset(rec, 0, sizeof *rec);
    rec->ts_sec = get_u32(r, &hdr[0]);
    frac = get_u32(r, &hdr[4]);
    if (r->nsec) {
        rec->ts_sec += frac / 1000000000;
        rec->ts_nsec = frac % 1000000000;
    } else {
        rec->ts_sec += frac / 1000000;
        rec->ts_nsec = frac % 1000000 * 1000;
    }
    incl_len = get_u32(r, &hdr[8]);
    rec->wire_len = get_u32(r, &hdr[12]);
    rec->erf_type = -1;
    if (incl_len > IBB_PCAP_MAX_RECORD) {
        set_err(err, err_size, "record %llu: length %"PRIu32" is larger "
                "than the maximum %d", r->n_records, incl_len,
                IBB_PCAP_MAX_RECORD);
        return EMSGSIZE;
    }

    if (r->linktype == IBB_PCAP_LINKTYPE_ERF) {
        uint8_t erf[IBB_ERF_HDR_LEN];
        uint32_t left, hdrs, rlen, wlen, pkt_len;
        bool ext;

        if (incl_len < IBB_ERF_HDR_LEN) {
            set_err(err, err_size, "record %llu: %"PRIu32" bytes, shorter "
                    "than an ERF header (%d bytes)", r->n_records, incl_len,
                    IBB_ERF_HDR_LEN);
            return EINVAL;
        }
        error = read_exact(r, erf, sizeof erf, "ERF header", err, err_size);
        if (error) {
            return error;
        }
        left = incl_len - IBB_ERF_HDR_LEN;
        hdrs = IBB_ERF_HDR_LEN;
        rec->erf_type = erf[8] & IBB_ERF_TYPE_MASK;
        rlen = ibb_get_be16(&erf[10]);
        wlen = ibb_get_be16(&erf[14]);

        /* Extension headers. */
        ext = erf[8] & IBB_ERF_TYPE_EXT;
        while (ext) {
            uint8_t eh[IBB_ERF_EXT_LEN];

            if (left < IBB_ERF_EXT_LEN) {
                set_err(err, err_size, "record %llu: ERF extension header "
                        "runs past the record (%"PRIu32" bytes)",
                        r->n_records, incl_len);
                return EINVAL;
            }
            error = read_exact(r, eh, sizeof eh, "ERF extension header",
                               err, err_size);
            if (error) {
                return error;
            }
            left -= IBB_ERF_EXT_LEN;
            hdrs += IBB_ERF_EXT_LEN;
            ext = eh[0] & IBB_ERF_EXT_MORE;
        }
        if (rlen < hdrs) {
            set_err(err, err_size, "record %llu: ERF rlen %"PRIu32" is "
                    "shorter than its headers (%"PRIu32" bytes)",
                    r->n_records, rlen, hdrs);
            return EINVAL;
        }

        /* The packet: what was captured, at most the record's length and
         * the wire length (the rest is padding). */
        pkt_len = left;
        if (rlen - hdrs < pkt_len) {
            pkt_len = rlen - hdrs;
        }
        if (wlen < pkt_len) {
            pkt_len = wlen;
        }
        if (left > size) {
            set_err(err, err_size, "record %llu: %"PRIu32" bytes do not fit "
                    "in the %zu-byte buffer", r->n_records, left, size);
            return EMSGSIZE;
        }
        error = read_exact(r, buf, left, "packet data", err, err_size);
        if (error) {
            return error;
        }
        rec->len = pkt_len;
        rec->wire_len = wlen;
        return 0;
    }

    if (incl_len > size) {
        set_err(err, err_size, "record %llu: %"PRIu32" bytes do not fit in "
                "the %zu-byte buffer", r->n_records, incl_len, size);
        return EMSGSIZE;
    }
    error = read_exact(r, buf, incl_len, "packet data", err, err_size);
    if (error) {
        return error;
    }
    rec->len = incl_len;
    return 0;
}

bool
ibb_pcap_reader_is_ib(const struct ibb_pcap_reader *r, char *err,
                      size_t err_size)
{
    if (r->linktype == IBB_PCAP_LINKTYPE_INFINIBAND
        || r->linktype == IBB_PCAP_LINKTYPE_ERF) {
        return true;
    }
    set_err(err, err_size, "link type %"PRIu32" is not InfiniBand (%d) or "
            "ERF (%d)", r->linktype, IBB_PCAP_LINKTYPE_INFINIBAND,
            IBB_PCAP_LINKTYPE_ERF);
    return false;
}

int
ibb_pcap_read_ib(struct ibb_pcap_reader *r, struct ibb_pcap_rec *rec,
                 uint8_t *buf, size_t size, unsigned long long *skipped,
                 char *err, size_t err_size)
{
    for (;;) {
        int error = ibb_pcap_read(r, rec, buf, size, err, err_size);

        if (error || rec->erf_type < 0
            || rec->erf_type == IBB_ERF_TYPE_INFINIBAND) {
            return error;
        }
        if (skipped) {
            (*skipped)++;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Writer. */

int
ibb_pcap_writer_fdopen(FILE *file, uint32_t linktype,
                       struct ibb_pcap_writer **writerp,
                       char *err, size_t err_size)
{
    struct {
        uint32_t magic;
        uint16_t major, minor;
        int32_t thiszone;
        uint32_t sigfigs, snaplen, network;
    } fh = { PCAP_MAGIC_USEC, 2, 4, 0, 0, IBB_PCAP_MAX_RECORD, linktype };
    struct ibb_pcap_writer *w;

    _Static_assert(sizeof fh == PCAP_FILE_HDR_LEN, "pcap file header");
    *writerp = NULL;
    w = calloc(1, sizeof *w);
    if (!w) {
        set_err(err, err_size, "out of memory");
        return ENOMEM;
    }
    w->file = file;
    w->linktype = linktype;
    if (fwrite(&fh, sizeof fh, 1, file) != 1) {
        int error = errno ? errno : EIO;

        set_err(err, err_size, "write failed (%s)", strerror(error));
        free(w);
        return error;
    }
    *writerp = w;
    return 0;
}

int
ibb_pcap_writer_open(const char *file_name, uint32_t linktype,
                     struct ibb_pcap_writer **writerp,
                     char *err, size_t err_size)
{
    FILE *file = fopen(file_name, "wb");
    int error;

    *writerp = NULL;
    if (!file) {
        error = errno;
        set_err(err, err_size, "could not create (%s)", strerror(error));
        return error;
    }
    error = ibb_pcap_writer_fdopen(file, linktype, writerp, err, err_size);
    if (error) {
        fclose(file);
        return error;
    }
    (*writerp)->own = true;
    return 0;
}

int
ibb_pcap_write(struct ibb_pcap_writer *w, const struct ibb_pcap_rec *rec,
               const uint8_t *pkt, size_t len)
{
    bool erf = w->linktype == IBB_PCAP_LINKTYPE_ERF;
    size_t rec_len = len + (erf ? IBB_ERF_HDR_LEN : 0);
    uint32_t usec = rec->ts_nsec / 1000;
    uint32_t rh[4];

    if (w->error) {
        return w->error;
    }
    if (rec_len > IBB_PCAP_MAX_RECORD || (erf && rec_len > UINT16_MAX)) {
        return EMSGSIZE;
    }
    rh[0] = rec->ts_sec + usec / 1000000;
    rh[1] = usec % 1000000;
    rh[2] = rh[3] = rec_len;
    if (fwrite(rh, sizeof rh, 1, w->file) != 1) {
        goto error;
    }
    if (erf) {
        uint64_t ts = ((uint64_t) rec->ts_sec << 32)
                      + (((uint64_t) (rec->ts_nsec % 1000000000) << 32)
                         / 1000000000);
        uint8_t eh[IBB_ERF_HDR_LEN];

        for (int i = 0; i < 8; i++) {
            eh[i] = ts >> (8 * i);
        }
        eh[8] = IBB_ERF_TYPE_INFINIBAND;
        eh[9] = IBB_ERF_FLAG_VLEN;
        ibb_put_be16(&eh[10], rec_len);
        ibb_put_be16(&eh[12], 0);
        ibb_put_be16(&eh[14], len);
        if (fwrite(eh, sizeof eh, 1, w->file) != 1) {
            goto error;
        }
    }
    if (len && fwrite(pkt, len, 1, w->file) != 1) {
        goto error;
    }
    return 0;

error:
    w->error = errno ? errno : EIO;
    return w->error;
}

/* Pushes what 'w' buffered to its file, so that a reader of a file still
 * being written (a capture of a running daemon) sees whole records. */
int
ibb_pcap_writer_flush(struct ibb_pcap_writer *w)
{
    if (fflush(w->file) && !w->error) {
        w->error = errno ? errno : EIO;
    }
    return w->error;
}

int
ibb_pcap_writer_close(struct ibb_pcap_writer *w)
{
    int error;

    if (!w) {
        return 0;
    }
    error = w->error;
    if (fflush(w->file) && !error) {
        error = errno ? errno : EIO;
    }
    if (w->own && fclose(w->file) && !error) {
        error = errno ? errno : EIO;
    }
    free(w);
    return error;
}
