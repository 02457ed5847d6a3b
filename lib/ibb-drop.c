/*
 * Names and descriptions of drop reasons.
 */
#include <config.h>

#include "ibb-drop.h"

#include <stddef.h>

static const char *const drop_names[IBB_DROP_N_REASONS] = {
#define X(ENUM, NAME, DESC) [IBB_DROP_##ENUM] = NAME,
    IBB_DROP_REASONS
#undef X
};

static const char *const drop_descs[IBB_DROP_N_REASONS] = {
#define X(ENUM, NAME, DESC) [IBB_DROP_##ENUM] = DESC,
    IBB_DROP_REASONS
#undef X
};

const char *
ibb_drop_name(enum ibb_drop reason)
{
    return (unsigned) reason < IBB_DROP_N_REASONS
           ? drop_names[reason] : "unknown";
}

const char *
ibb_drop_desc(enum ibb_drop reason)
{
    return (unsigned) reason < IBB_DROP_N_REASONS
           ? drop_descs[reason] : "unknown";
}
