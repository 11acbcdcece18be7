/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow keys of DESIGN §3: the bidirectional 5-tuple inside any VLAN/QinQ
 * tags, for IPv4 and IPv6; addresses and protocol for packets without
 * ports; MAC pair and EtherType for non-IP frames. One parse and one hash
 * per packet; the parser never reads past the captured length.
 */
#ifndef FS_FLOWKEY_H
#define FS_FLOWKEY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum fs_flow_kind {
	FS_FLOW_L2 = 2,		/* non-IP: MAC pair + EtherType */
	FS_FLOW_IP4 = 4,
	FS_FLOW_IP6 = 6,
};

/*
 * Canonical (direction-free) key: endpoint a is the smaller of the two by
 * (address, port), so both directions give the same key. 40 bytes with
 * no padding and every unused byte zero, so keys compare with memcmp and
 * hash as bytes.
 */
struct fs_flow_key {
	uint8_t a[16];		/* IPv4: first 4 bytes; L2: MAC in first 6 */
	uint8_t b[16];
	uint16_t port_a;	/* host order; 0 when the protocol has none */
	uint16_t port_b;
	uint16_t ethertype;	/* 0x0800, 0x86dd, or the L2 EtherType */
	uint8_t proto;		/* IP protocol number; 0 for L2 */
	uint8_t kind;		/* enum fs_flow_kind */
};

/* What one parse tells about a packet. */
struct fs_pkt_info {
	struct fs_flow_key key;
	uint32_t hash;		/* fs_flow_hash(&key) */
	uint8_t dir;		/* 0: the packet goes a -> b; 1: b -> a */
	uint8_t tcp_flags;	/* TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04,
				 * ACK 0x10); 0 when not TCP */
	uint8_t fragment;	/* 1 for an IP fragment that is not the first
				 * (its key has no ports) */
	uint8_t truncated;	/* headers cut by the capture length: the key
				 * holds what could be read */
	uint16_t vlan;		/* outer VLAN id, 0xffff when untagged */
	uint16_t l4_off;	/* offset of the transport header, 0 if none */
	/* IPv4 fragments: a tag of (addresses, protocol, IP id) shared by
	 * all fragments of one datagram, so that later fragments can be put
	 * in the flow of the first; 0 when not a fragment */
	uint32_t frag_tag;
	uint8_t frag_first;	/* 1: the first fragment (offset 0, MF set) */
	uint8_t pad[3];
};

#define FS_TCP_FIN 0x01
#define FS_TCP_SYN 0x02
#define FS_TCP_RST 0x04
#define FS_TCP_ACK 0x10

/*
 * Hash: multiply-xorshift rounds in two independent lanes (words 0, 2, 4
 * and words 1, 3), so the dependency chain per packet is three rounds,
 * and for IPv4, whose words 1 and 3 are zero, the second lane folds to a
 * constant. Each round is a bijection of the lane state for a fixed word
 * and of the word for a fixed state, so keys that differ in one word
 * always differ in the combined 64 bits; murmur3's fmix64 then spreads
 * that into the 32 bits returned. No seed, so every process agrees.
 */
static inline uint64_t fs_flow_hash_round(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

/* The hash of the key whose five 8-byte words (as in memory) are w0..w4. */
static inline uint32_t fs_flow_hash_words(uint64_t w0, uint64_t w1,
					  uint64_t w2, uint64_t w3,
					  uint64_t w4)
{
	uint64_t h = fs_flow_hash_round(fs_flow_hash_round(
			fs_flow_hash_round(0x2545f4914f6cdd1dULL, w0), w2), w4);
	uint64_t g = fs_flow_hash_round(fs_flow_hash_round(
			0x6a09e667f3bcc909ULL, w1), w3);

	h ^= g;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

/*
 * Words of an IP key as they lie in memory, built in registers (storing
 * the key field by field and reading it back as words would make each
 * load straddle smaller stores, which the CPU cannot forward).
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* word 0 or 2 of an IPv4 key: 4 address bytes as loaded, then zeros */
#define FS_KEY_ADDR4_WORD(raw)	((uint64_t)(raw))
#define FS_KEY_TAIL_WORD(pa, pb, et, proto, kind) \
	((uint64_t)(pa) | (uint64_t)(pb) << 16 | (uint64_t)(et) << 32 | \
	 (uint64_t)(proto) << 48 | (uint64_t)(kind) << 56)
#else
#define FS_KEY_ADDR4_WORD(raw)	((uint64_t)(raw) << 32)
#define FS_KEY_TAIL_WORD(pa, pb, et, proto, kind) \
	((uint64_t)(pa) << 48 | (uint64_t)(pb) << 32 | (uint64_t)(et) << 16 | \
	 (uint64_t)(proto) << 8 | (uint64_t)(kind))
#endif

/*
 * Parse an Ethernet frame of caplen bytes into info. Walks 802.1Q/802.1ad
 * tags (0x8100, 0x88a8, 0x9100, any depth), IPv4 (options; fragments),
 * IPv6 (hop-by-hop, routing, fragment, destination options, AH extension
 * headers), and reads ports of TCP, UDP, UDP-Lite, SCTP and DCCP. ICMP,
 * ICMPv6, ESP and other protocols are keyed by addresses and protocol.
 * Frames too short for an IP header, non-IP frames and bad IP versions
 * get an L2 key. Never fails, never reads outside pkt[0, caplen).
 */
void fs_flow_parse_full(const uint8_t *pkt, uint32_t caplen,
			struct fs_pkt_info *info);

static inline uint16_t fs_flow_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * fs_flow_parse_full, with the common case inline: an untagged IPv4
 * frame without options that is no fragment, carrying TCP or UDP whose
 * header is captured up to the TCP flags. Both give the same info.
 */
static inline void fs_flow_parse(const uint8_t *pkt, uint32_t caplen,
				 struct fs_pkt_info *info)
{
	const uint8_t *ip = pkt + 14;
	uint32_t sraw, draw, s, d;
	uint16_t sp, dp;
	uint8_t proto;
	int swap;

	if (__builtin_expect(caplen < 14 + 20 + 14 || pkt[12] != 0x08 ||
			     pkt[13] != 0x00 || ip[0] != 0x45 ||
			     (fs_flow_be16(ip + 6) & 0x3fff) != 0 ||
			     (ip[9] != 6 && ip[9] != 17), 0)) {
		fs_flow_parse_full(pkt, caplen, info);
		return;
	}
	proto = ip[9];
	sp = fs_flow_be16(ip + 20);
	dp = fs_flow_be16(ip + 22);
	memcpy(&sraw, ip + 12, 4);
	memcpy(&draw, ip + 16, 4);
	s = (uint32_t)fs_flow_be16(ip + 12) << 16 | fs_flow_be16(ip + 14);
	d = (uint32_t)fs_flow_be16(ip + 16) << 16 | fs_flow_be16(ip + 18);
	swap = s > d || (s == d && sp > dp);
	memset(info, 0, sizeof(*info));
	info->dir = (uint8_t)swap;
	info->tcp_flags = proto == 6 ? ip[33] : 0;
	info->vlan = 0xffff;
	info->l4_off = 34;
	{
		uint64_t w0 = FS_KEY_ADDR4_WORD(swap ? draw : sraw);
		uint64_t w2 = FS_KEY_ADDR4_WORD(swap ? sraw : draw);
		uint64_t w4 = FS_KEY_TAIL_WORD(swap ? dp : sp, swap ? sp : dp,
					       0x0800, proto, FS_FLOW_IP4);
		uint8_t *k = (uint8_t *)&info->key;

		/* words 1 and 3 stay zero (the memset) */
		memcpy(k, &w0, 8);
		memcpy(k + 16, &w2, 8);
		memcpy(k + 32, &w4, 8);
		info->hash = fs_flow_hash_words(w0, 0, w2, 0, w4);
	}
}

/* Hash of a key (32 bits, well mixed; the same for both directions since
 * the key is canonical). */
uint32_t fs_flow_hash(const struct fs_flow_key *k);

/*
 * Text of a key for people and file names, e.g.
 * "tcp 10.0.0.1:1234 <> 10.0.0.2:80", "icmp6 fd00::1 <> fd00::2",
 * "l2 02:00:00:00:00:01 <> 02:00:00:00:00:02 type 0x88cc".
 * Returns what snprintf returns.
 */
int fs_flow_key_str(const struct fs_flow_key *k, char *buf, size_t len);

/*
 * Build a minimal Ethernet frame carrying k's headers in direction dir
 * (0: a -> b) into buf, so that a pcap filter can be run against a flow.
 * TCP gets flags tcp_flags. Returns the frame length, 0 if len is too
 * small (128 bytes always suffice).
 */
size_t fs_flow_synth(const struct fs_flow_key *k, uint8_t dir,
		     uint8_t tcp_flags, uint8_t *buf, size_t len);

#endif
