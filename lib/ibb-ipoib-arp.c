/*
 * IPoIB ARP: parsing, writing and the bridge's answers (see the header).
 */
#include <config.h>

#include "ibb-ipoib-arp.h"

#include <errno.h>
#include <string.h>

#include "addr-map.h"
#include "ib-gid.h"
#include "ibb-bytes.h"

#define IPOIB_ETHERTYPE_ARP 0x0806
#define ARPHRD_INFINIBAND 32
#define ARP_PRO_IPV4 0x0800

void
ibb_ipoib_bcast_mgid(uint16_t pkey, uint8_t mgid[16])
{
    static const uint8_t base[16] = {
        0xff, 0x12, 0x40, 0x1b, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
    };

    memcpy(mgid, base, 16);
    ibb_put_be16(mgid + 4, pkey | 0x8000);
}

void
ibb_ipoib_hwaddr_parse(const uint8_t *p, struct ibb_ipoib_hwaddr *hw)
{
    hw->flags = p[0];
    hw->qpn = ibb_get_be32(p) & 0xffffff;
    memcpy(hw->gid, p + 4, 16);
}

static void
write_hwaddr(uint8_t *p, const struct ibb_ipoib_hwaddr *hw)
{
    ibb_put_be32(p, (uint32_t) hw->flags << 24 | (hw->qpn & 0xffffff));
    memcpy(p + 4, hw->gid, 16);
}

int
ibb_ipoib_arp_parse(const uint8_t *p, size_t len, struct ibb_ipoib_arp *arp)
{
    uint16_t op;

    if (len < 4 || ibb_get_be16(p) != IPOIB_ETHERTYPE_ARP) {
        return ENOENT;
    }
    /* Padding may follow (datagrams are padded to 4 bytes). */
    if (len < IBB_IPOIB_ARP_LEN
        || ibb_get_be16(p + 4) != ARPHRD_INFINIBAND
        || ibb_get_be16(p + 6) != ARP_PRO_IPV4
        || p[8] != IBB_IPOIB_HWADDR_LEN || p[9] != 4) {
        return EINVAL;
    }
    op = ibb_get_be16(p + 10);
    if (op != IBB_IPOIB_ARP_REQUEST && op != IBB_IPOIB_ARP_REPLY) {
        return EINVAL;
    }
    memset(arp, 0, sizeof *arp);
    arp->op = op;
    ibb_ipoib_hwaddr_parse(p + 12, &arp->sha);
    ibb_gid_from_ipv4(arp->spa, p + 32);
    ibb_ipoib_hwaddr_parse(p + 36, &arp->tha);
    ibb_gid_from_ipv4(arp->tpa, p + 56);
    return 0;
}

void
ibb_ipoib_arp_write(const struct ibb_ipoib_arp *arp, uint8_t *p)
{
    uint8_t v4[4];

    ibb_put_be16(p, IPOIB_ETHERTYPE_ARP);
    ibb_put_be16(p + 2, 0);
    ibb_put_be16(p + 4, ARPHRD_INFINIBAND);
    ibb_put_be16(p + 6, ARP_PRO_IPV4);
    p[8] = IBB_IPOIB_HWADDR_LEN;
    p[9] = 4;
    ibb_put_be16(p + 10, arp->op);
    write_hwaddr(p + 12, &arp->sha);
    memset(v4, 0, sizeof v4);
    ibb_gid_to_ipv4(arp->spa, v4);
    memcpy(p + 32, v4, 4);
    write_hwaddr(p + 36, &arp->tha);
    memset(v4, 0, sizeof v4);
    ibb_gid_to_ipv4(arp->tpa, v4);
    memcpy(p + 56, v4, 4);
}

enum ibb_ipoib_arp_result
ibb_ipoib_arp_answer(const struct ibb_addr_map *map,
                     const struct ibb_ipoib_arp_self *self,
                     const struct ibb_ipoib_arp *req,
                     struct ibb_ipoib_arp *reply)
{
    const struct ibb_host *h;

    if (req->op != IBB_IPOIB_ARP_REQUEST
        || !memcmp(req->spa, req->tpa, 16)) {
        return IBB_IPOIB_ARP_IGNORED;
    }
    h = ibb_addr_map_find_ip(map, req->tpa);
    if (!h || h->has_gid) {
        return IBB_IPOIB_ARP_NOT_ROCE;
    }

    memset(reply, 0, sizeof *reply);
    reply->op = IBB_IPOIB_ARP_REPLY;
    reply->sha.qpn = self->qpn;
    memcpy(reply->sha.gid, self->host_gids ? req->tpa : self->gid, 16);
    memcpy(reply->spa, req->tpa, 16);
    reply->tha = req->sha;
    memcpy(reply->tpa, req->spa, 16);
    return IBB_IPOIB_ARP_ANSWERED;
}

void
ibb_ipoib_arp_announce(const struct ibb_ipoib_arp_self *self,
                       const uint8_t ip[16], struct ibb_ipoib_arp *arp)
{
    memset(arp, 0, sizeof *arp);
    arp->op = IBB_IPOIB_ARP_REQUEST;
    arp->sha.qpn = self->qpn;
    memcpy(arp->sha.gid, self->host_gids ? ip : self->gid, 16);
    memcpy(arp->spa, ip, 16);
    memcpy(arp->tpa, ip, 16);
}
