/*
 * BTH opcode table: name, header chain length and extension header offsets
 * per opcode, in the manner of rxe_opcode.c.  Only the UD SEND opcodes are
 * bridged; a few others are named so that drop counters and dumps can say
 * what was seen.
 */
#include <config.h>

#include "ib-hdr.h"

#define IBB_UD_SEND_LEN (IBB_BTH_LEN + IBB_DETH_LEN)

const struct ibb_opcode_info ibb_opcode[256] = {
    [0x00] = { .name = "RC_SEND_FIRST", .flags = IBB_OPF_VALID,
               .length = IBB_BTH_LEN,
               .offset = { [IBB_PAYLOAD] = IBB_BTH_LEN } },
    [0x01] = { .name = "RC_SEND_MIDDLE", .flags = IBB_OPF_VALID,
               .length = IBB_BTH_LEN,
               .offset = { [IBB_PAYLOAD] = IBB_BTH_LEN } },
    [0x02] = { .name = "RC_SEND_LAST", .flags = IBB_OPF_VALID,
               .length = IBB_BTH_LEN,
               .offset = { [IBB_PAYLOAD] = IBB_BTH_LEN } },
    [0x04] = { .name = "RC_SEND_ONLY", .flags = IBB_OPF_VALID,
               .length = IBB_BTH_LEN,
               .offset = { [IBB_PAYLOAD] = IBB_BTH_LEN } },
    [0x24] = { .name = "UC_SEND_ONLY", .flags = IBB_OPF_VALID,
               .length = IBB_BTH_LEN,
               .offset = { [IBB_PAYLOAD] = IBB_BTH_LEN } },
    [IBB_OP_UD_SEND_ONLY] = {
        .name = "UD_SEND_ONLY",
        .flags = IBB_OPF_VALID | IBB_OPF_BRIDGED | IBB_OPF_DETH,
        .length = IBB_UD_SEND_LEN,
        .offset = {
            [IBB_BTH] = 0,
            [IBB_DETH] = IBB_BTH_LEN,
            [IBB_PAYLOAD] = IBB_UD_SEND_LEN,
        },
    },
    [IBB_OP_UD_SEND_ONLY_WITH_IMM] = {
        .name = "UD_SEND_ONLY_WITH_IMMEDIATE",
        .flags = (IBB_OPF_VALID | IBB_OPF_BRIDGED | IBB_OPF_DETH
                  | IBB_OPF_IMMDT),
        .length = IBB_UD_SEND_LEN + IBB_IMMDT_LEN,
        .offset = {
            [IBB_BTH] = 0,
            [IBB_DETH] = IBB_BTH_LEN,
            [IBB_IMMDT] = IBB_UD_SEND_LEN,
            [IBB_PAYLOAD] = IBB_UD_SEND_LEN + IBB_IMMDT_LEN,
        },
    },
    [IBB_OP_CNP] = { .name = "CNP", .flags = IBB_OPF_VALID,
                     .length = IBB_BTH_LEN + 16,
                     .offset = { [IBB_PAYLOAD] = IBB_BTH_LEN + 16 } },
};
