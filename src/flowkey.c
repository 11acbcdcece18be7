/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow keys (see flowkey.h): the per-packet header walk and hash, plus the
 * cold helpers that print a key and build a frame of a flow for filters.
 */
#include "flowkey.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/*
 * Hot path: fs_flow_parse() and fs_flow_hash() run once per packet. They
 * take no lock, allocate nothing and call nothing but memset/memcpy.
 * Multi-byte fields are read with byte loads or memcpy, so any alignment
 * works and the compiler still emits one load (plus a byte swap).
 * Every read is preceded by a check against caplen written as
 * "caplen - off < n" with off <= caplen known, so no sum can overflow.
 */

#define ETH_HLEN	14
#define ET_IP4		0x0800
#define ET_IP6		0x86dd
#define ET_8021Q	0x8100
#define ET_8021AD	0x88a8
#define ET_QINQ_OLD	0x9100	/* pre-standard QinQ, still seen on the wire */
#define ET_MIN		0x0600	/* below this the field is an 802.3 length */
#define VLAN_NONE	0xffff
#define IP4_HLEN	20
#define IP6_HLEN	40
#define IP6_EXT_MAX	16	/* a longer chain is bogus or hostile */

#define P_HOPOPTS	0
#define P_ICMP		1
#define P_TCP		6
#define P_UDP		17
#define P_DCCP		33
#define P_ROUTING	43
#define P_FRAGMENT	44
#define P_GRE		47
#define P_ESP		50
#define P_AH		51
#define P_ICMP6		58
#define P_NONE		59
#define P_DSTOPTS	60
#define P_SCTP		132
#define P_UDPLITE	136

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Protocols whose first 4 transport bytes are source and destination
 * port; everything else is keyed by addresses and protocol only. */
static inline int has_ports(uint8_t proto)
{
	switch (proto) {
	case P_TCP:
	case P_UDP:
	case P_DCCP:
	case P_SCTP:
	case P_UDPLITE:
		return 1;
	default:
		return 0;
	}
}

static inline int is_tag(uint16_t et)
{
	return et == ET_8021Q || et == ET_8021AD || et == ET_QINQ_OLD;
}

static inline uint32_t flow_hash(const struct fs_flow_key *k)
{
	uint64_t w[5];

	memcpy(w, k, sizeof(w));
	return fs_flow_hash_words(w[0], w[1], w[2], w[3], w[4]);
}

uint32_t fs_flow_hash(const struct fs_flow_key *k)
{
	return flow_hash(k);
}

/*
 * The IP paths build the key as the five words it occupies in memory and
 * hash those registers. Storing the key field by field and reading it
 * back as words would make every load straddle several smaller stores,
 * which the CPU cannot forward: that stall alone cost more than the
 * whole parse.
 */
_Static_assert(sizeof(struct fs_flow_key) == 40, "key is 5 words");
_Static_assert(offsetof(struct fs_flow_key, port_a) == 32 &&
	       offsetof(struct fs_flow_key, port_b) == 34 &&
	       offsetof(struct fs_flow_key, ethertype) == 36 &&
	       offsetof(struct fs_flow_key, proto) == 38 &&
	       offsetof(struct fs_flow_key, kind) == 39, "key layout");


static inline void set_key_words(struct fs_pkt_info *in, uint64_t w0,
				 uint64_t w1, uint64_t w2, uint64_t w3,
				 uint64_t w4)
{
	uint8_t *k = (uint8_t *)&in->key;

	/* one store per word: staging them in an array would be read back
	 * wider than written and stall just the same */
	memcpy(k, &w0, 8);
	memcpy(k + 8, &w1, 8);
	memcpy(k + 16, &w2, 8);
	memcpy(k + 24, &w3, 8);
	memcpy(k + 32, &w4, 8);
	in->hash = fs_flow_hash_words(w0, w1, w2, w3, w4);
}

/*
 * MAC pair + EtherType key, and its hash. Frames shorter than the MAC
 * header are keyed by the bytes they have, zero-filled, so even a runt
 * lands in a stable flow. An 802.3 length field is not an EtherType:
 * keying by it would split one LLC conversation by frame size, so it
 * becomes 0. Rare path: built in memory, hashed from there.
 */
static void l2_key(const uint8_t *pkt, uint32_t caplen, uint16_t et,
		   struct fs_pkt_info *in)
{
	struct fs_flow_key *k = &in->key;
	uint8_t mac[12] = { 0 };	/* destination, source */
	uint64_t d, s;
	int swap;

	if (caplen)	/* pkt may be NULL when caplen is 0 */
		memcpy(mac, pkt, caplen < sizeof(mac) ? caplen : sizeof(mac));
	d = rd64(mac) >> 16;
	s = (uint64_t)rd32(mac + 6) << 16 | fs_flow_be16(mac + 10);
	swap = s > d;
	memcpy(k->a, swap ? mac : mac + 6, 6);
	memcpy(k->b, swap ? mac + 6 : mac, 6);
	k->port_a = k->port_b = 0;
	k->ethertype = et >= ET_MIN ? et : 0;
	k->proto = 0;
	k->kind = FS_FLOW_L2;
	in->dir = (uint8_t)swap;
	in->hash = flow_hash(k);
}

/*
 * Ports and TCP flags of the upper-layer header at l4 (which may lie
 * past caplen when options or extension headers were cut). The ports are
 * kept whenever their 4 bytes are there, even if the rest of the header
 * is not, so a short snaplen still groups a flow correctly.
 */
static inline void read_l4(const uint8_t *pkt, uint32_t caplen, uint32_t l4,
			   uint8_t proto, struct fs_pkt_info *in,
			   uint16_t *sp, uint16_t *dp)
{
	if (unlikely(l4 >= caplen)) {
		/* nothing of the header: only a loss if it held key bytes or
		 * if headers before it were already cut */
		if (l4 > caplen || has_ports(proto))
			in->truncated = 1;
		return;
	}
	/* l4_off is 16 bits; only a frame of >64 KiB of tags overflows it */
	in->l4_off = (uint16_t)(l4 <= 0xffff ? l4 : 0);
	if (!has_ports(proto))
		return;
	if (unlikely(caplen - l4 < 4)) {
		in->truncated = 1;
		return;
	}
	*sp = fs_flow_be16(pkt + l4);
	*dp = fs_flow_be16(pkt + l4 + 2);
	if (proto == P_TCP) {
		if (likely(caplen - l4 > 13))
			in->tcp_flags = pkt[l4 + 13];
		else
			in->truncated = 1;
	}
}

/* IPv4 at l3 (l3 <= caplen). */
static inline void parse_ip4(const uint8_t *pkt, uint32_t caplen,
			     uint32_t l3, struct fs_pkt_info *in)
{
	const uint8_t *ip = pkt + l3;
	uint16_t sp = 0, dp = 0;
	uint32_t s, d, sraw, draw;
	uint8_t proto;
	int swap;

	if (unlikely(caplen - l3 < IP4_HLEN || (ip[0] & 0xf0) != 0x40 ||
		     (ip[0] & 0x0f) < 5)) {
		/* without a sane fixed header the addresses mean nothing */
		l2_key(pkt, caplen, ET_IP4, in);
		in->truncated = caplen - l3 < IP4_HLEN;
		return;
	}
	proto = ip[9];
	if (likely((fs_flow_be16(ip + 6) & 0x3fff) == 0)) {
		read_l4(pkt, caplen, l3 + (ip[0] & 0x0fu) * 4u, proto, in,
			&sp, &dp);
	} else {
		uint32_t t = rd32(ip + 12) * 0x9e3779b1u ^
			rd32(ip + 16) * 0x85ebca77u ^
			((uint32_t)fs_flow_be16(ip + 4) << 8 | proto) * 0xc2b2ae3du;

		in->frag_tag = t ? t : 1;
		if ((fs_flow_be16(ip + 6) & 0x1fff) == 0) {
			/* the first fragment (offset 0) keeps its ports */
			in->frag_first = 1;
			read_l4(pkt, caplen, l3 + (ip[0] & 0x0fu) * 4u, proto,
				in, &sp, &dp);
		} else {
			/* a later one carries no transport header */
			in->fragment = 1;
		}
	}
	memcpy(&sraw, ip + 12, 4);
	memcpy(&draw, ip + 16, 4);
	s = rd32(ip + 12);
	d = rd32(ip + 16);
	swap = s > d || (s == d && sp > dp);
	in->dir = (uint8_t)swap;
	set_key_words(in, FS_KEY_ADDR4_WORD(swap ? draw : sraw), 0,
		      FS_KEY_ADDR4_WORD(swap ? sraw : draw), 0,
		      FS_KEY_TAIL_WORD(swap ? dp : sp, swap ? sp : dp, ET_IP4, proto,
				FS_FLOW_IP4));
}

static inline int is_ext6(uint8_t nh)
{
	return nh == P_HOPOPTS || nh == P_ROUTING || nh == P_DSTOPTS ||
	       nh == P_FRAGMENT || nh == P_AH;
}

/* IPv6 at l3 (l3 <= caplen): walk the extension headers to the
 * upper-layer protocol, which is what the key's proto holds. */
static void parse_ip6(const uint8_t *pkt, uint32_t caplen, uint32_t l3,
		      struct fs_pkt_info *in)
{
	const uint8_t *ip = pkt + l3;
	uint32_t off = l3 + IP6_HLEN, len;
	uint64_t shi, slo, dhi, dlo, raw[4];
	uint16_t sp = 0, dp = 0;
	uint8_t nh;
	int n, swap;

	if (unlikely(caplen - l3 < IP6_HLEN || (ip[0] & 0xf0) != 0x60)) {
		l2_key(pkt, caplen, ET_IP6, in);
		in->truncated = caplen - l3 < IP6_HLEN;
		return;
	}
	nh = ip[6];
	for (n = 0; is_ext6(nh); n++) {
		/* a longer chain is keyed by the header where the walk
		 * stopped */
		if (n == IP6_EXT_MAX)
			goto key;
		/* every extension header is at least 8 bytes */
		if (off > caplen || caplen - off < 8) {
			in->truncated = 1;
			goto key;
		}
		if (nh == P_FRAGMENT) {
			if (fs_flow_be16(pkt + off + 2) & 0xfff8) {
				/* later fragment: no transport header; the
				 * next header names the fragmented payload */
				in->fragment = 1;
				nh = pkt[off];
				goto key;
			}
			len = 8;
		} else if (nh == P_AH) {
			len = (pkt[off + 1] + 2u) * 4u;
		} else {
			len = (pkt[off + 1] + 1u) * 8u;
		}
		nh = pkt[off];
		off += len;
	}
	/* ESP and "no next header" have nothing to read */
	if (nh != P_NONE)
		read_l4(pkt, caplen, off, nh, in, &sp, &dp);
key:
	shi = rd64(ip + 8);
	slo = rd64(ip + 16);
	dhi = rd64(ip + 24);
	dlo = rd64(ip + 32);
	swap = shi > dhi ||
	       (shi == dhi && (slo > dlo || (slo == dlo && sp > dp)));
	memcpy(raw, ip + 8, sizeof(raw));	/* src hi, lo, dst hi, lo */
	in->dir = (uint8_t)swap;
	set_key_words(in, raw[swap ? 2 : 0], raw[swap ? 3 : 1],
		      raw[swap ? 0 : 2], raw[swap ? 1 : 3],
		      FS_KEY_TAIL_WORD(swap ? dp : sp, swap ? sp : dp, ET_IP6, nh,
				FS_FLOW_IP6));
}

void fs_flow_parse_full(const uint8_t *pkt, uint32_t caplen,
			struct fs_pkt_info *info)
{
	uint32_t off = ETH_HLEN;
	uint16_t et, vlan = VLAN_NONE;

	/* unused key bytes must be 0: keys are compared with memcmp */
	memset(info, 0, sizeof(*info));
	info->vlan = VLAN_NONE;
	if (unlikely(caplen < ETH_HLEN)) {
		l2_key(pkt, caplen, 0, info);
		info->truncated = 1;
		return;
	}
	et = fs_flow_be16(pkt + 12);
	/* No depth cap: each tag costs 4 bytes, so the walk is bounded by
	 * caplen like the copy into the ring that every packet gets. */
	while (unlikely(is_tag(et))) {
		if (caplen - off < 4) {
			/* cut inside a tag: key the frame by its MACs and the
			 * tag type, keeping the VLAN id if it was captured */
			if (vlan == VLAN_NONE && caplen - off >= 2)
				vlan = fs_flow_be16(pkt + off) & 0x0fff;
			info->truncated = 1;
			break;
		}
		if (vlan == VLAN_NONE)
			vlan = fs_flow_be16(pkt + off) & 0x0fff;
		et = fs_flow_be16(pkt + off + 2);
		off += 4;
	}
	info->vlan = vlan;
	/* each path sets key and hash; the IP paths hash from registers */
	if (likely(et == ET_IP4))
		parse_ip4(pkt, caplen, off, info);
	else if (et == ET_IP6)
		parse_ip6(pkt, caplen, off, info);
	else
		l2_key(pkt, caplen, et, info);
}

/* ---- cold helpers: text and synthetic frames ---- */

static const char *proto_name(uint8_t proto, char *tmp, size_t len)
{
	switch (proto) {
	case P_TCP:	return "tcp";
	case P_UDP:	return "udp";
	case P_UDPLITE:	return "udplite";
	case P_SCTP:	return "sctp";
	case P_DCCP:	return "dccp";
	case P_ICMP:	return "icmp";
	case P_ICMP6:	return "icmp6";
	case P_ESP:	return "esp";
	case P_AH:	return "ah";
	case P_GRE:	return "gre";
	default:
		snprintf(tmp, len, "ip%u", proto);
		return tmp;
	}
}

int fs_flow_key_str(const struct fs_flow_key *k, char *buf, size_t len)
{
	char sa[INET6_ADDRSTRLEN], sb[INET6_ADDRSTRLEN], tmp[8];
	const char *pn = proto_name(k->proto, tmp, sizeof(tmp));
	int af;

	switch (k->kind) {
	case FS_FLOW_L2:
		return snprintf(buf, len,
				"l2 %02x:%02x:%02x:%02x:%02x:%02x <> "
				"%02x:%02x:%02x:%02x:%02x:%02x type 0x%04x",
				k->a[0], k->a[1], k->a[2], k->a[3], k->a[4],
				k->a[5], k->b[0], k->b[1], k->b[2], k->b[3],
				k->b[4], k->b[5], k->ethertype);
	case FS_FLOW_IP4:
		af = AF_INET;
		break;
	case FS_FLOW_IP6:
		af = AF_INET6;
		break;
	default:
		return snprintf(buf, len, "kind%u", k->kind);
	}
	/* buffers are large enough for either family, so this cannot fail */
	inet_ntop(af, k->a, sa, sizeof(sa));
	inet_ntop(af, k->b, sb, sizeof(sb));
	/* a fragment's key of a port protocol has no ports: print none
	 * rather than a misleading ":0" */
	if (!has_ports(k->proto) || (k->port_a == 0 && k->port_b == 0))
		return snprintf(buf, len, "%s %s <> %s", pn, sa, sb);
	if (af == AF_INET6)
		return snprintf(buf, len, "%s [%s]:%u <> [%s]:%u", pn, sa,
				k->port_a, sb, k->port_b);
	return snprintf(buf, len, "%s %s:%u <> %s:%u", pn, sa, k->port_a, sb,
			k->port_b);
}

/* Bytes of transport header the synthetic frame carries for proto; just
 * enough for every field a filter expression can name by keyword. */
static size_t synth_l4_len(uint8_t proto)
{
	switch (proto) {
	case P_TCP:	return 20;
	case P_UDP:
	case P_UDPLITE:	return 8;
	case P_SCTP:	return 12;
	case P_DCCP:	return 16;
	case P_ICMP:
	case P_ICMP6:	return 8;
	default:	return 0;
	}
}

static uint16_t ip4_csum(const uint8_t *h)
{
	uint32_t sum = 0;
	int i;

	for (i = 0; i < IP4_HLEN; i += 2)
		sum += fs_flow_be16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t fs_flow_synth(const struct fs_flow_key *k, uint8_t dir,
		     uint8_t tcp_flags, uint8_t *buf, size_t len)
{
	static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	const uint8_t *src = dir ? k->b : k->a, *dst = dir ? k->a : k->b;
	uint16_t sp = dir ? k->port_b : k->port_a;
	uint16_t dp = dir ? k->port_a : k->port_b;
	size_t l3len, l4len, n;
	uint8_t *ip, *l4;

	if (k->kind == FS_FLOW_L2) {
		if (len < ETH_HLEN)
			return 0;
		memcpy(buf, dst, 6);
		memcpy(buf + 6, src, 6);
		wr16(buf + 12, k->ethertype);
		return ETH_HLEN;
	}
	if (k->kind != FS_FLOW_IP4 && k->kind != FS_FLOW_IP6)
		return 0;
	l3len = k->kind == FS_FLOW_IP4 ? IP4_HLEN : IP6_HLEN;
	l4len = synth_l4_len(k->proto);
	n = ETH_HLEN + l3len + l4len;
	if (len < n)
		return 0;
	memset(buf, 0, n);
	/* endpoint a always has MAC ...:01, so "ether src" agrees with
	 * "src host" in both directions */
	memcpy(buf, dir ? mac_a : mac_b, 6);
	memcpy(buf + 6, dir ? mac_b : mac_a, 6);
	ip = buf + ETH_HLEN;
	l4 = ip + l3len;
	if (k->kind == FS_FLOW_IP4) {
		wr16(buf + 12, ET_IP4);
		ip[0] = 0x45;
		wr16(ip + 2, (uint16_t)(l3len + l4len));
		ip[8] = 64;
		ip[9] = k->proto;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		wr16(ip + 10, ip4_csum(ip));
	} else {
		wr16(buf + 12, ET_IP6);
		ip[0] = 0x60;
		wr16(ip + 4, (uint16_t)l4len);
		ip[6] = k->proto;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
	}
	if (has_ports(k->proto)) {
		wr16(l4, sp);
		wr16(l4 + 2, dp);
	}
	switch (k->proto) {
	case P_TCP:
		l4[12] = 5 << 4;	/* data offset: 5 words, no options */
		l4[13] = tcp_flags;
		wr16(l4 + 14, 65535);	/* window */
		break;
	case P_UDP:
		wr16(l4 + 4, 8);	/* length */
		break;
	case P_DCCP:
		l4[4] = 4;		/* data offset: 4 words */
		l4[8] = 1;		/* X: 48-bit sequence numbers */
		break;
	default:
		break;
	}
	return n;
}
