/*
 * Per-port cache of the converters' address resolution (lib/ibb-flow-cache.h).
 */
#include <config.h>

#include "ibb-flow-cache.h"

#include <stdlib.h>

struct ibb_flow_cache *
ibb_flow_cache_create(void)
{
    struct ibb_flow_cache *fc;

    if (posix_memalign((void **) &fc, 64, sizeof *fc)) {
        return NULL;
    }
    memset(fc, 0, sizeof *fc);
    return fc;
}

void
ibb_flow_cache_destroy(struct ibb_flow_cache *fc)
{
    free(fc);
}

void
ibb_flow_cache_flush(struct ibb_flow_cache *fc)
{
    for (size_t i = 0; i < sizeof fc->entries / sizeof fc->entries[0]; i++) {
        fc->entries[i].version = 0;
    }
}
