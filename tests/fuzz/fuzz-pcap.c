/*
 * libFuzzer target: the pcap/ERF reader (lib/ibb-pcap.h), as ibbridge-pcap
 * uses it on any file.  Properties: no crash, leak or hang; every record
 * read fits its buffer.
 */
#include <config.h>

#define _GNU_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ibb-pcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(COND) do { if (!(COND)) { abort(); } } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char name[64];
    static int fd = -1;
    struct ibb_pcap_reader *r = NULL;
    struct ibb_pcap_rec rec;
    static uint8_t buf[65536];
    char err[256];

    if (fd < 0) {
        fd = memfd_create("fuzz-pcap", 0);
        CHECK(fd >= 0);
        snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
    }
    CHECK(!ftruncate(fd, 0));
    CHECK(pwrite(fd, data, size, 0) == (ssize_t) size);

    err[0] = '\0';
    if (!ibb_pcap_reader_open(name, &r, err, sizeof err)) {
        for (int i = 0; i < 10000; i++) {
            int error = ibb_pcap_read(r, &rec, buf, sizeof buf, err,
                                      sizeof err);

            if (error) {
                CHECK(error == EOF || err[0]);
                break;
            }
            CHECK(rec.len <= sizeof buf);
        }
        ibb_pcap_reader_close(r);
    } else {
        CHECK(err[0]);
    }
    return 0;
}
