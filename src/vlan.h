/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The 802.1Q tag a source pushes onto its packets (source_vlans), and the
 * copy that inserts tags after a frame's MAC addresses on its way into
 * the ring, so that tagging costs no pass of its own. Inline: both
 * receive paths (rx.c, source_tpacket.c) use it per packet.
 */
#ifndef FS_VLAN_H
#define FS_VLAN_H

#include <stdint.h>
#include <string.h>

#define FS_VLAN_TAG_LEN 4u	/* TPID and TCI */
#define FS_VLAN_TPID 0x8100u	/* 802.1Q */
/* Tags go after the destination and source MAC addresses. A frame
 * shorter than them has no place for a tag and is left as it is. */
#define FS_VLAN_AFTER 12u

/* The tag of VLAN id vid: TPID 0x8100, priority 0, DEI 0. */
static inline void fs_vlan_tag(uint8_t tag[FS_VLAN_TAG_LEN], uint16_t vid)
{
	tag[0] = (uint8_t)(FS_VLAN_TPID >> 8);
	tag[1] = (uint8_t)FS_VLAN_TPID;
	tag[2] = (uint8_t)((vid >> 8) & 0x0f);
	tag[3] = (uint8_t)vid;
}

/*
 * Copy the first cap bytes of the frame that pkt becomes when the ntag
 * bytes at tags are inserted after its MAC addresses: pkt's addresses,
 * the tags, the rest of pkt (its own tags included, which so end up
 * inside the new ones). pkt must hold at least FS_VLAN_AFTER bytes and
 * cap - ntag of them when cap is larger.
 */
static inline void fs_vlan_copy(uint8_t *dst, const uint8_t *pkt,
				uint32_t cap, const uint8_t *tags,
				uint32_t ntag)
{
	if (cap <= FS_VLAN_AFTER) {
		memcpy(dst, pkt, cap);
		return;
	}
	memcpy(dst, pkt, FS_VLAN_AFTER);
	if (cap <= FS_VLAN_AFTER + ntag) {
		memcpy(dst + FS_VLAN_AFTER, tags, cap - FS_VLAN_AFTER);
		return;
	}
	memcpy(dst + FS_VLAN_AFTER, tags, ntag);
	memcpy(dst + FS_VLAN_AFTER + ntag, pkt + FS_VLAN_AFTER,
	       cap - FS_VLAN_AFTER - ntag);
}

#endif
