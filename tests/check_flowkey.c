/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of flow keys: frames built byte by byte and parsed from heap
 * copies of exactly caplen bytes; synthetic frames run through libpcap.
 */
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowkey.h"

/* ---- frame builder ---- */

struct frame {
	uint8_t b[1024];
	uint32_t n;
	uint32_t l3;	/* offset of the IP header */
	uint32_t l4;	/* offset of the last header added after IP */
};

static const uint8_t MAC1[6] = { 0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c };
static const uint8_t MAC2[6] = { 0x00, 0x1b, 0x21, 0x0d, 0x0e, 0x0f };
static const uint8_t LLDP_MAC[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };
static const uint8_t V6_1[16] = { 0xfd, [15] = 1 };	/* fd00::1 */
static const uint8_t V6_2[16] = { 0xfd, [15] = 2 };	/* fd00::2 */
static const uint8_t V6_3[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };

#define IP(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define A1 IP(10, 0, 0, 1)
#define A2 IP(10, 0, 0, 2)

static void put8(struct frame *f, unsigned v)
{
	ck_assert_uint_lt(f->n, sizeof(f->b));
	f->b[f->n++] = (uint8_t)v;
}

static void put16(struct frame *f, unsigned v)
{
	put8(f, v >> 8);
	put8(f, v);
}

static void put32(struct frame *f, uint32_t v)
{
	put16(f, v >> 16);
	put16(f, v & 0xffff);
}

static void putn(struct frame *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(f, p[i]);
}

static void fill(struct frame *f, size_t n, unsigned v)
{
	for (size_t i = 0; i < n; i++)
		put8(f, v);
}

/* Destination and source MAC; the EtherType or first tag follows. */
static void eth(struct frame *f, const uint8_t *dst, const uint8_t *src)
{
	memset(f, 0, sizeof(*f));
	putn(f, dst, 6);
	putn(f, src, 6);
}

/* IPv4 header with nopt words of options (NOPs ending in EOL). */
static void ip4(struct frame *f, unsigned proto, uint32_t src, uint32_t dst,
		unsigned frag, unsigned nopt)
{
	f->l3 = f->n;
	put8(f, 0x40 | (5 + nopt));
	put8(f, 0);
	put16(f, 0);		/* total length: finish() */
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);		/* checksum: finish() */
	put32(f, src);
	put32(f, dst);
	for (unsigned i = 0; i < nopt * 4; i++)
		put8(f, i + 1 == nopt * 4 ? 0 : 1);
	f->l4 = f->n;
}

static void ip6(struct frame *f, unsigned nh, const uint8_t *src,
		const uint8_t *dst)
{
	f->l3 = f->n;
	put32(f, 0x60000000);
	put16(f, 0);		/* payload length: finish() */
	put8(f, nh);
	put8(f, 64);
	putn(f, src, 16);
	putn(f, dst, 16);
	f->l4 = f->n;
}

/* Hop-by-hop, destination options or routing header of (len+1)*8 bytes */
static void ext6(struct frame *f, unsigned nh, unsigned len)
{
	put8(f, nh);
	put8(f, len);
	fill(f, (len + 1) * 8 - 2, 0);
	f->l4 = f->n;
}

static void frag6(struct frame *f, unsigned nh, unsigned off8, int more)
{
	put8(f, nh);
	put8(f, 0);
	put16(f, off8 << 3 | (more ? 1 : 0));
	put32(f, 0xabcdef01);
	f->l4 = f->n;
}

/* Authentication header of (len+2)*4 bytes */
static void ah6(struct frame *f, unsigned nh, unsigned len)
{
	put8(f, nh);
	put8(f, len);
	fill(f, (len + 2) * 4 - 2, 0x5a);
	f->l4 = f->n;
}

static void tcp(struct frame *f, unsigned sp, unsigned dp, unsigned flags)
{
	f->l4 = f->n;
	put16(f, sp);
	put16(f, dp);
	put32(f, 1000);
	put32(f, 0);
	put8(f, 0x50);
	put8(f, flags);
	put16(f, 8192);
	put32(f, 0);
}

/* UDP, UDP-Lite: 8 bytes; also the start of SCTP and DCCP */
static void udp(struct frame *f, unsigned sp, unsigned dp)
{
	f->l4 = f->n;
	put16(f, sp);
	put16(f, dp);
	put16(f, 8);
	put16(f, 0);
}

static void sctp(struct frame *f, unsigned sp, unsigned dp)
{
	udp(f, sp, dp);
	put32(f, 0);
}

static void dccp(struct frame *f, unsigned sp, unsigned dp)
{
	udp(f, sp, dp);
	put32(f, 0x01000000);
	put32(f, 7);
}

static void icmp(struct frame *f, unsigned type)
{
	f->l4 = f->n;
	put8(f, type);
	put8(f, 0);
	put16(f, 0);
	put32(f, 0x00010001);
}

/* Payload, then the IP length fields (and IPv4 checksum). */
static void finish(struct frame *f, size_t payload)
{
	uint8_t *ip = f->b + f->l3;

	fill(f, payload, 0x61);
	if ((ip[0] >> 4) == 4) {
		uint32_t sum = 0, tot = f->n - f->l3;

		ip[10] = ip[11] = 0;
		ip[2] = (uint8_t)(tot >> 8);
		ip[3] = (uint8_t)tot;
		for (unsigned i = 0; i < (ip[0] & 15u) * 4; i += 2)
			sum += (uint32_t)ip[i] << 8 | ip[i + 1];
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		ip[10] = (uint8_t)(~sum >> 8);
		ip[11] = (uint8_t)~sum;
	} else if ((ip[0] >> 4) == 6) {
		uint32_t pl = f->n - f->l3 - 40;

		ip[4] = (uint8_t)(pl >> 8);
		ip[5] = (uint8_t)pl;
	}
}

/* Untagged IPv4 frame of proto between (src, sp) and (dst, dp). */
static void v4(struct frame *f, unsigned proto, uint32_t src, unsigned sp,
	       uint32_t dst, unsigned dp, unsigned flags)
{
	eth(f, MAC2, MAC1);
	put16(f, 0x0800);
	ip4(f, proto, src, dst, 0, 0);
	switch (proto) {
	case 6: tcp(f, sp, dp, flags); break;
	case 17: case 136: udp(f, sp, dp); break;
	case 132: sctp(f, sp, dp); break;
	case 33: dccp(f, sp, dp); break;
	case 1: icmp(f, 8); break;
	default: put32(f, 0x1000); put32(f, 1); break;	/* ESP SPI, seq */
	}
	finish(f, 18);
}

static void v6(struct frame *f, unsigned proto, const uint8_t *src,
	       unsigned sp, const uint8_t *dst, unsigned dp, unsigned flags)
{
	eth(f, MAC2, MAC1);
	put16(f, 0x86dd);
	ip6(f, proto, src, dst);
	switch (proto) {
	case 6: tcp(f, sp, dp, flags); break;
	case 17: case 136: udp(f, sp, dp); break;
	case 132: sctp(f, sp, dp); break;
	case 33: dccp(f, sp, dp); break;
	case 58: icmp(f, 128); break;
	default: put32(f, 0x1000); put32(f, 1); break;
	}
	finish(f, 10);
}

static void arp(struct frame *f)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	eth(f, bcast, MAC1);
	put16(f, 0x0806);
	put16(f, 1);
	put16(f, 0x0800);
	put8(f, 6);
	put8(f, 4);
	put16(f, 1);
	putn(f, MAC1, 6);
	put32(f, IP(192, 168, 7, 1));
	fill(f, 6, 0);
	put32(f, IP(192, 168, 7, 2));
	fill(f, 18, 0);
}

static void lldp(struct frame *f)
{
	eth(f, LLDP_MAC, MAC1);
	put16(f, 0x88cc);
	put16(f, 0x0207);	/* chassis id TLV */
	put8(f, 4);
	putn(f, MAC1, 6);
	put16(f, 0x0403);	/* port id TLV */
	put8(f, 7);
	put16(f, 0x3031);
	put16(f, 0x0602);	/* TTL TLV */
	put16(f, 120);
	put16(f, 0);		/* end */
	fill(f, 20, 0);
}

/* ---- expected keys ---- */

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static struct fs_flow_key key4(unsigned proto, uint32_t a, unsigned pa,
			       uint32_t b, unsigned pb)
{
	struct fs_flow_key k;

	memset(&k, 0, sizeof(k));
	wr32(k.a, a);
	wr32(k.b, b);
	k.port_a = (uint16_t)pa;
	k.port_b = (uint16_t)pb;
	k.ethertype = 0x0800;
	k.proto = (uint8_t)proto;
	k.kind = FS_FLOW_IP4;
	return k;
}

static struct fs_flow_key key6(unsigned proto, const uint8_t *a, unsigned pa,
			       const uint8_t *b, unsigned pb)
{
	struct fs_flow_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.a, a, 16);
	memcpy(k.b, b, 16);
	k.port_a = (uint16_t)pa;
	k.port_b = (uint16_t)pb;
	k.ethertype = 0x86dd;
	k.proto = (uint8_t)proto;
	k.kind = FS_FLOW_IP6;
	return k;
}

static struct fs_flow_key keyl2(const uint8_t *a, const uint8_t *b,
				unsigned type)
{
	struct fs_flow_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.a, a, 6);
	memcpy(k.b, b, 6);
	k.ethertype = (uint16_t)type;
	k.kind = FS_FLOW_L2;
	return k;
}

/* Properties every parse result has, whatever the input. */
static void check_invariants(const struct fs_pkt_info *in, uint32_t caplen)
{
	const struct fs_flow_key *k = &in->key;
	static const uint8_t zero[16];
	int c = memcmp(k->a, k->b, 16);
	size_t alen = k->kind == FS_FLOW_IP4 ? 4 :
		      k->kind == FS_FLOW_L2 ? 6 : 16;

	ck_assert_uint_eq(in->hash, fs_flow_hash(k));
	ck_assert(k->kind == FS_FLOW_L2 || k->kind == FS_FLOW_IP4 ||
		  k->kind == FS_FLOW_IP6);
	/* canonical order */
	ck_assert(c < 0 || (c == 0 && k->port_a <= k->port_b));
	ck_assert_mem_eq(k->a + alen, zero, 16 - alen);
	ck_assert_mem_eq(k->b + alen, zero, 16 - alen);
	ck_assert_uint_le(in->dir, 1);
	ck_assert_uint_le(in->fragment, 1);
	ck_assert_uint_le(in->truncated, 1);
	ck_assert(in->vlan == 0xffff || in->vlan <= 0xfff);
	ck_assert(in->l4_off == 0 || in->l4_off < caplen);
	if (k->kind == FS_FLOW_L2) {
		ck_assert_uint_eq(k->proto, 0);
		ck_assert_uint_eq(k->port_a, 0);
		ck_assert_uint_eq(k->port_b, 0);
		ck_assert_uint_eq(in->l4_off, 0);
		ck_assert(k->ethertype == 0 || k->ethertype >= 0x600);
	} else {
		ck_assert_uint_eq(k->ethertype,
				  k->kind == FS_FLOW_IP4 ? 0x0800 : 0x86dd);
	}
	if (k->proto != 6)
		ck_assert_uint_eq(in->tcp_flags, 0);
	if (in->fragment)
		ck_assert(k->port_a == 0 && k->port_b == 0 && in->l4_off == 0);
}

/* Parse n bytes from a heap copy of exactly n bytes placed at a given
 * misalignment, so an over-read or a misaligned load is caught. */
static struct fs_pkt_info parse_at(const uint8_t *p, uint32_t n,
				   unsigned align)
{
	/* exact size: the byte after the frame is a redzone */
	uint8_t *mem = malloc(n + align);
	struct fs_pkt_info in;

	if (n + align)
		ck_assert_ptr_nonnull(mem);
	if (n)
		memcpy(mem + align, p, n);
	memset(&in, 0xa5, sizeof(in));	/* parse must overwrite all */
	fs_flow_parse(n ? mem + align : mem, n, &in);
	free(mem);
	check_invariants(&in, n);
	return in;
}

static struct fs_pkt_info parse(const struct frame *f)
{
	return parse_at(f->b, f->n, 0);
}

static void assert_key(const struct fs_flow_key *got,
		       const struct fs_flow_key *want)
{
	char g[160], w[160];

	if (memcmp(got, want, sizeof(*got)) == 0)
		return;
	fs_flow_key_str(got, g, sizeof(g));
	fs_flow_key_str(want, w, sizeof(w));
	ck_abort_msg("key \"%s\" (kind %u type 0x%04x ports %u %u) != "
		     "\"%s\" (kind %u type 0x%04x ports %u %u)", g, got->kind,
		     got->ethertype, got->port_a, got->port_b, w, want->kind,
		     want->ethertype, want->port_a, want->port_b);
}

/* ---- parse tests ---- */

START_TEST(ipv4_tcp)
{
	struct frame f;
	struct fs_pkt_info in;
	struct fs_flow_key want = key4(6, A1, 1234, A2, 80);

	v4(&f, 6, A1, 1234, A2, 80, FS_TCP_SYN);
	in = parse(&f);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 0);
	ck_assert_uint_eq(in.tcp_flags, FS_TCP_SYN);
	ck_assert_uint_eq(in.l4_off, 34);
	ck_assert_uint_eq(in.vlan, 0xffff);
	ck_assert_uint_eq(in.fragment, 0);
	ck_assert_uint_eq(in.truncated, 0);
	ck_assert_uint_eq(in.hash, fs_flow_hash(&want));
}
END_TEST

START_TEST(ipv4_port_protocols)
{
	static const unsigned protos[] = { 17, 132, 33, 136 };
	struct frame f;

	for (unsigned i = 0; i < 4; i++) {
		struct fs_flow_key want = key4(protos[i], A1, 5000, A2, 53);
		struct fs_pkt_info in;

		v4(&f, protos[i], A2, 53, A1, 5000, 0);
		in = parse(&f);
		assert_key(&in.key, &want);
		ck_assert_uint_eq(in.dir, 1);
		ck_assert_uint_eq(in.l4_off, 34);
		ck_assert_uint_eq(in.truncated, 0);
	}
}
END_TEST

START_TEST(ipv4_icmp_and_others)
{
	static const unsigned protos[] = { 1, 47, 50, 51, 99 };
	struct frame f;

	for (unsigned i = 0; i < 5; i++) {
		struct fs_flow_key want = key4(protos[i], A1, 0, A2, 0);
		struct fs_pkt_info in;

		v4(&f, protos[i], A2, 0, A1, 0, 0);
		in = parse(&f);
		assert_key(&in.key, &want);
		ck_assert_uint_eq(in.dir, 1);
		ck_assert_uint_eq(in.l4_off, 34);
		ck_assert_uint_eq(in.truncated, 0);
	}
}
END_TEST

START_TEST(both_directions)
{
	struct frame f, r;
	struct fs_pkt_info a, b;
	struct fs_flow_key want;

	/* the address decides even though port order is the other way */
	v4(&f, 6, IP(192, 168, 1, 9), 80, IP(192, 168, 1, 10), 40000,
	   FS_TCP_SYN | FS_TCP_ACK);
	v4(&r, 6, IP(192, 168, 1, 10), 40000, IP(192, 168, 1, 9), 80,
	   FS_TCP_ACK);
	a = parse(&f);
	b = parse(&r);
	want = key4(6, IP(192, 168, 1, 9), 80, IP(192, 168, 1, 10), 40000);
	assert_key(&a.key, &want);
	assert_key(&b.key, &want);
	ck_assert_uint_eq(a.hash, b.hash);
	ck_assert_uint_eq(a.dir, 0);
	ck_assert_uint_eq(b.dir, 1);

	/* the first address byte dominates the last */
	v4(&f, 17, IP(9, 0, 0, 200), 1, IP(10, 0, 0, 1), 2, 0);
	a = parse(&f);
	want = key4(17, IP(9, 0, 0, 200), 1, IP(10, 0, 0, 1), 2);
	assert_key(&a.key, &want);
	ck_assert_uint_eq(a.dir, 0);

	/* same address both ways: the port decides */
	v4(&f, 17, A1, 5353, A1, 53, 0);
	v4(&r, 17, A1, 53, A1, 5353, 0);
	a = parse(&f);
	b = parse(&r);
	want = key4(17, A1, 53, A1, 5353);
	assert_key(&a.key, &want);
	assert_key(&b.key, &want);
	ck_assert_uint_eq(a.dir, 1);
	ck_assert_uint_eq(b.dir, 0);

	/* IPv6, addresses differing in the first and in the last byte */
	v6(&f, 6, V6_3, 443, V6_1, 50000, 0);
	v6(&r, 6, V6_1, 50000, V6_3, 443, 0);
	a = parse(&f);
	b = parse(&r);
	want = key6(6, V6_3, 443, V6_1, 50000);
	assert_key(&a.key, &want);
	assert_key(&b.key, &want);
	ck_assert_uint_eq(a.hash, b.hash);
	ck_assert_uint_eq(a.dir, 0);
	ck_assert_uint_eq(b.dir, 1);
	v6(&f, 17, V6_2, 1, V6_1, 2, 0);
	a = parse(&f);
	want = key6(17, V6_1, 2, V6_2, 1);
	assert_key(&a.key, &want);
	ck_assert_uint_eq(a.dir, 1);
	v6(&f, 6, V6_2, 8080, V6_2, 8079, 0);
	v6(&r, 6, V6_2, 8079, V6_2, 8080, 0);
	a = parse(&f);
	b = parse(&r);
	want = key6(6, V6_2, 8079, V6_2, 8080);
	assert_key(&a.key, &want);
	assert_key(&b.key, &want);
	ck_assert_uint_eq(a.dir, 1);
	ck_assert_uint_eq(b.dir, 0);
	/* identical endpoints (a loop): nothing to swap, dir 0 */
	v6(&f, 17, V6_2, 9, V6_2, 9, 0);
	ck_assert_uint_eq(parse(&f).dir, 0);
	v4(&f, 17, A2, 9, A2, 9, 0);
	ck_assert_uint_eq(parse(&f).dir, 0);

	/* L2 */
	lldp(&f);
	a = parse(&f);
	eth(&r, MAC1, LLDP_MAC);
	putn(&r, f.b + 12, f.n - 12);
	r.n = f.n;
	b = parse(&r);
	want = keyl2(MAC1, LLDP_MAC, 0x88cc);
	assert_key(&a.key, &want);
	assert_key(&b.key, &want);
	ck_assert_uint_eq(a.dir, 0);
	ck_assert_uint_eq(b.dir, 1);
}
END_TEST

START_TEST(vlan_tags)
{
	static const unsigned tags[][3] = {
		{ 0x8100, 0, 0 },
		{ 0x88a8, 0x8100, 0 },
		{ 0x9100, 0x88a8, 0x8100 },
		{ 0x8100, 0x8100, 0x8100 },
	};
	struct fs_flow_key want = key4(6, A1, 1234, A2, 80);
	struct frame f;

	for (unsigned t = 0; t < 4; t++) {
		struct fs_pkt_info in;
		unsigned ntags = 0;

		eth(&f, MAC2, MAC1);
		for (unsigned i = 0; i < 3 && tags[t][i]; i++, ntags++) {
			put16(&f, tags[t][i]);
			/* PCP 5 and DEI set: must not leak into the id */
			put16(&f, 0xb000 | (100 * (i + 1) + t));
		}
		put16(&f, 0x0800);
		ip4(&f, 6, A2, A1, 0, 0);
		tcp(&f, 80, 1234, FS_TCP_ACK | FS_TCP_FIN);
		finish(&f, 3);
		in = parse(&f);
		assert_key(&in.key, &want);
		ck_assert_uint_eq(in.dir, 1);
		ck_assert_uint_eq(in.vlan, 100 + t);
		ck_assert_uint_eq(in.tcp_flags, FS_TCP_ACK | FS_TCP_FIN);
		ck_assert_uint_eq(in.l4_off, 34 + 4 * ntags);
		ck_assert_uint_eq(in.truncated, 0);
	}

	/* vlan 0 (priority tag) and 4095 are ids like any other */
	eth(&f, MAC2, MAC1);
	put16(&f, 0x8100);
	put16(&f, 0x0fff);
	put16(&f, 0x86dd);
	ip6(&f, 17, V6_1, V6_2);
	udp(&f, 1, 2);
	finish(&f, 0);
	ck_assert_uint_eq(parse(&f).vlan, 0xfff);
	f.b[15] = 0;
	f.b[14] = 0xe0;
	ck_assert_uint_eq(parse(&f).vlan, 0);
}
END_TEST

START_TEST(vlan_non_ip)
{
	struct frame f, u;
	struct fs_pkt_info in, untagged;

	arp(&u);
	eth(&f, u.b, u.b + 6);
	put16(&f, 0x88a8);
	put16(&f, 7);
	put16(&f, 0x8100);
	put16(&f, 8);
	putn(&f, u.b + 12, u.n - 12);
	in = parse(&f);
	ck_assert_uint_eq(in.key.kind, FS_FLOW_L2);
	ck_assert_uint_eq(in.key.ethertype, 0x0806);
	ck_assert_uint_eq(in.vlan, 7);
	/* the tags are not part of the key */
	untagged = parse(&u);
	assert_key(&in.key, &untagged.key);
}
END_TEST

START_TEST(ipv4_options)
{
	struct frame f;
	struct fs_pkt_info in;
	struct fs_flow_key want = key4(17, A1, 7, A2, 9);

	for (unsigned nopt = 1; nopt <= 10; nopt++) {
		eth(&f, MAC2, MAC1);
		put16(&f, 0x0800);
		ip4(&f, 17, A1, A2, 0, nopt);
		udp(&f, 7, 9);
		finish(&f, 4);
		in = parse(&f);
		assert_key(&in.key, &want);
		ck_assert_uint_eq(in.l4_off, 34 + 4 * nopt);
		ck_assert_uint_eq(in.truncated, 0);
	}
}
END_TEST

START_TEST(ipv4_fragments)
{
	struct frame f;
	struct fs_pkt_info in;
	struct fs_flow_key ports = key4(6, A1, 1234, A2, 80);
	struct fs_flow_key noports = key4(6, A1, 0, A2, 0);

	/* first fragment: MF set, offset 0 -> ports kept */
	eth(&f, MAC2, MAC1);
	put16(&f, 0x0800);
	ip4(&f, 6, A2, A1, 0x2000, 0);
	tcp(&f, 80, 1234, FS_TCP_ACK);
	finish(&f, 100);
	in = parse(&f);
	assert_key(&in.key, &ports);
	ck_assert_uint_eq(in.fragment, 0);
	ck_assert_uint_eq(in.tcp_flags, FS_TCP_ACK);
	ck_assert_uint_eq(in.dir, 1);

	/* DF does not make a fragment */
	f.b[20] = 0x40;
	in = parse(&f);
	assert_key(&in.key, &ports);
	ck_assert_uint_eq(in.fragment, 0);

	/* later fragments, MF set or not, smallest and largest offset: the
	 * bytes at the L4 offset are data, not ports */
	static const unsigned frag[] = { 0x2001, 0x0001, 0x3fff, 0x1fff,
					 0x00b9 };
	for (unsigned i = 0; i < 5; i++) {
		f.b[20] = (uint8_t)(frag[i] >> 8);
		f.b[21] = (uint8_t)frag[i];
		in = parse(&f);
		assert_key(&in.key, &noports);
		ck_assert_uint_eq(in.fragment, 1);
		ck_assert_uint_eq(in.tcp_flags, 0);
		ck_assert_uint_eq(in.l4_off, 0);
		ck_assert_uint_eq(in.dir, 1);
		ck_assert_uint_eq(in.truncated, 0);
	}
}
END_TEST

START_TEST(ipv6_tcp_udp)
{
	struct frame f;
	struct fs_pkt_info in;
	struct fs_flow_key want = key6(6, V6_1, 51000, V6_2, 443);

	v6(&f, 6, V6_1, 51000, V6_2, 443, FS_TCP_SYN);
	in = parse(&f);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 0);
	ck_assert_uint_eq(in.tcp_flags, FS_TCP_SYN);
	ck_assert_uint_eq(in.l4_off, 54);

	want = key6(17, V6_1, 5353, V6_2, 53);
	v6(&f, 17, V6_2, 53, V6_1, 5353, 0);
	in = parse(&f);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 1);

	static const unsigned protos[] = { 132, 33, 136 };
	for (unsigned i = 0; i < 3; i++) {
		want = key6(protos[i], V6_1, 10, V6_2, 20);
		v6(&f, protos[i], V6_1, 10, V6_2, 20, 0);
		in = parse(&f);
		assert_key(&in.key, &want);
	}
}
END_TEST

/* IPv6 UDP behind hop-by-hop, destination options, routing, fragment
 * (first) and destination options headers. */
static void v6_chain(struct frame *f, unsigned off8)
{
	eth(f, MAC2, MAC1);
	put16(f, 0x86dd);
	ip6(f, 0, V6_2, V6_1);
	ext6(f, 60, 0);
	ext6(f, 43, 2);
	ext6(f, 44, 1);
	frag6(f, 60, off8, 1);
	ext6(f, 17, 0);
	udp(f, 4789, 33000);
	finish(f, 30);
}

START_TEST(ipv6_extension_headers)
{
	struct frame f;
	struct fs_pkt_info in;
	struct fs_flow_key want = key6(17, V6_1, 33000, V6_2, 4789);

	v6_chain(&f, 0);
	in = parse(&f);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 1);
	ck_assert_uint_eq(in.fragment, 0);
	ck_assert_uint_eq(in.l4_off, 14 + 40 + 8 + 24 + 16 + 8 + 8);
	ck_assert_uint_eq(in.truncated, 0);

	/* AH: length counts 4-byte words minus 2 */
	eth(&f, MAC2, MAC1);
	put16(&f, 0x86dd);
	ip6(&f, 51, V6_1, V6_2);
	ah6(&f, 6, 4);
	tcp(&f, 22, 60000, FS_TCP_RST);
	finish(&f, 0);
	in = parse(&f);
	want = key6(6, V6_1, 22, V6_2, 60000);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.tcp_flags, FS_TCP_RST);
	ck_assert_uint_eq(in.l4_off, 14 + 40 + 24);

	/* no next header */
	eth(&f, MAC2, MAC1);
	put16(&f, 0x86dd);
	ip6(&f, 60, V6_1, V6_2);
	ext6(&f, 59, 0);
	fill(&f, 8, 0);
	in = parse(&f);
	want = key6(59, V6_1, 0, V6_2, 0);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.l4_off, 0);
	ck_assert_uint_eq(in.truncated, 0);
}
END_TEST

START_TEST(ipv6_extension_cap)
{
	struct frame f;
	struct fs_pkt_info in;
	struct fs_flow_key ports = key6(6, V6_1, 1, V6_2, 2);
	struct fs_flow_key capped = key6(60, V6_1, 0, V6_2, 0);

	/* 16 extension headers are walked, a 17th is not */
	for (unsigned n = 15; n <= 17; n++) {
		eth(&f, MAC2, MAC1);
		put16(&f, 0x86dd);
		ip6(&f, 60, V6_1, V6_2);
		for (unsigned i = 0; i < n; i++)
			ext6(&f, i + 1 < n ? 60 : 6, 0);
		tcp(&f, 1, 2, FS_TCP_SYN);
		in = parse(&f);
		assert_key(&in.key, n <= 16 ? &ports : &capped);
		ck_assert_uint_eq(in.tcp_flags, n <= 16 ? FS_TCP_SYN : 0);
		ck_assert_uint_eq(in.truncated, 0);
	}
}
END_TEST

START_TEST(ipv6_fragments)
{
	struct frame f;
	struct fs_pkt_info in;
	struct fs_flow_key want = key6(17, V6_1, 0, V6_2, 0);

	/* later fragment behind the same chain: data, not ports */
	for (unsigned off8 = 1; off8 < 8192; off8 = off8 * 3 + 1) {
		v6_chain(&f, off8);
		in = parse(&f);
		/* proto is what the fragment header names: the destination
		 * options header that starts the fragmented part */
		want.proto = 60;
		assert_key(&in.key, &want);
		ck_assert_uint_eq(in.fragment, 1);
		ck_assert_uint_eq(in.l4_off, 0);
		ck_assert_uint_eq(in.dir, 1);
	}

	/* plain later fragment of UDP */
	eth(&f, MAC2, MAC1);
	put16(&f, 0x86dd);
	ip6(&f, 44, V6_1, V6_2);
	frag6(&f, 17, 185, 0);
	udp(&f, 1, 2);
	finish(&f, 10);
	in = parse(&f);
	want.proto = 17;
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.fragment, 1);

	/* first fragment and atomic fragment keep the ports */
	for (int more = 0; more < 2; more++) {
		struct fs_flow_key ports = key6(17, V6_1, 1, V6_2, 2);

		eth(&f, MAC2, MAC1);
		put16(&f, 0x86dd);
		ip6(&f, 44, V6_1, V6_2);
		frag6(&f, 17, 0, more);
		udp(&f, 1, 2);
		finish(&f, 10);
		in = parse(&f);
		assert_key(&in.key, &ports);
		ck_assert_uint_eq(in.fragment, 0);
	}
}
END_TEST

START_TEST(icmpv6_and_esp)
{
	struct frame f;
	struct fs_pkt_info in;
	struct fs_flow_key want = key6(58, V6_1, 0, V6_2, 0);

	v6(&f, 58, V6_2, 0, V6_1, 0, 0);
	in = parse(&f);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 1);
	ck_assert_uint_eq(in.l4_off, 54);

	want = key6(50, V6_1, 0, V6_2, 0);
	v6(&f, 50, V6_1, 0, V6_2, 0, 0);
	in = parse(&f);
	assert_key(&in.key, &want);

	/* ESP behind a destination options header */
	eth(&f, MAC2, MAC1);
	put16(&f, 0x86dd);
	ip6(&f, 60, V6_1, V6_2);
	ext6(&f, 50, 1);
	put32(&f, 0x100);
	put32(&f, 1);
	in = parse(&f);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.l4_off, 14 + 40 + 16);

	want = key4(50, A1, 0, A2, 0);
	v4(&f, 50, A1, 0, A2, 0, 0);
	in = parse(&f);
	assert_key(&in.key, &want);
}
END_TEST

START_TEST(l2_frames)
{
	struct frame f;
	struct fs_pkt_info in;
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct fs_flow_key want = keyl2(MAC1, bcast, 0x0806);

	arp(&f);
	in = parse(&f);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 0);
	ck_assert_uint_eq(in.vlan, 0xffff);
	ck_assert_uint_eq(in.truncated, 0);

	lldp(&f);
	in = parse(&f);
	want = keyl2(MAC1, LLDP_MAC, 0x88cc);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 0);

	/* 802.3 length field with LLC (STP): not an EtherType */
	eth(&f, (const uint8_t[6]){ 0x01, 0x80, 0xc2, 0, 0, 0 }, MAC2);
	put16(&f, 38);
	put8(&f, 0x42);
	put8(&f, 0x42);
	put8(&f, 3);
	fill(&f, 35, 0);
	in = parse(&f);
	want = keyl2(MAC2, (const uint8_t[6]){ 0x01, 0x80, 0xc2, 0, 0, 0 },
		     0);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.truncated, 0);

	/* MPLS and friends are plain L2 */
	eth(&f, MAC2, MAC1);
	put16(&f, 0x8847);
	put32(&f, 0x00010140);
	fill(&f, 40, 0x45);
	in = parse(&f);
	want = keyl2(MAC1, MAC2, 0x8847);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 0);
}
END_TEST

START_TEST(bad_ip_headers)
{
	struct frame f;
	struct fs_pkt_info in;
	struct fs_flow_key want4 = keyl2(MAC1, MAC2, 0x0800);
	struct fs_flow_key want6 = keyl2(MAC1, MAC2, 0x86dd);

	/* version 6 in an IPv4 EtherType, and versions 0 and 15 */
	static const uint8_t vihl[] = { 0x65, 0x05, 0xf5, 0x44, 0x40, 0x41 };
	for (unsigned i = 0; i < sizeof(vihl); i++) {
		v4(&f, 6, A1, 1, A2, 2, 0);
		f.b[14] = vihl[i];
		in = parse(&f);
		assert_key(&in.key, &want4);
		ck_assert_uint_eq(in.truncated, 0);
		ck_assert_uint_eq(in.l4_off, 0);
		ck_assert_uint_eq(in.tcp_flags, 0);
	}
	v6(&f, 6, V6_1, 1, V6_2, 2, 0);
	f.b[14] = 0x45;
	in = parse(&f);
	assert_key(&in.key, &want6);
	ck_assert_uint_eq(in.truncated, 0);
	/* and with a tag in front */
	eth(&f, MAC2, MAC1);
	put16(&f, 0x8100);
	put16(&f, 9);
	put16(&f, 0x0800);
	ip4(&f, 6, A1, A2, 0, 0);
	tcp(&f, 1, 2, 0);
	f.b[18] = 0x35;
	in = parse(&f);
	assert_key(&in.key, &want4);
	ck_assert_uint_eq(in.vlan, 9);

	/* IHL 15 with a 20-byte frame behind: the options are cut */
	v4(&f, 6, A1, 1, A2, 2, 0);
	f.b[14] = 0x4f;
	in = parse(&f);
	struct fs_flow_key noports = key4(6, A1, 0, A2, 0);
	assert_key(&in.key, &noports);
	ck_assert_uint_eq(in.truncated, 1);
	ck_assert_uint_eq(in.l4_off, 0);
}
END_TEST

START_TEST(short_frames)
{
	uint8_t b[14];
	struct fs_pkt_info in;
	struct fs_flow_key want;

	for (unsigned i = 0; i < 14; i++)
		b[i] = (uint8_t)(0x10 + i);
	in = parse_at(b, 0, 0);
	want = keyl2((const uint8_t[6]){ 0 }, (const uint8_t[6]){ 0 }, 0);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.truncated, 1);
	ck_assert_uint_eq(in.vlan, 0xffff);

	/* dst 10..15 complete, src 16 17 then zero fill */
	in = parse_at(b, 8, 0);
	want = keyl2((const uint8_t[6]){ 0x10, 0x11, 0x12, 0x13, 0x14, 0x15 },
		     (const uint8_t[6]){ 0x16, 0x17 }, 0);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 1);

	/* a zero-filled source below a complete destination */
	b[6] = 0x01;
	in = parse_at(b, 7, 0);
	want = keyl2((const uint8_t[6]){ 0x01 },
		     (const uint8_t[6]){ 0x10, 0x11, 0x12, 0x13, 0x14, 0x15 },
		     0);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 0);
	b[6] = 0x16;
	ck_assert_uint_eq(in.truncated, 1);

	/* 13 bytes: both MACs, half an EtherType which is ignored */
	in = parse_at(b, 13, 0);
	want = keyl2((const uint8_t[6]){ 0x10, 0x11, 0x12, 0x13, 0x14, 0x15 },
		     (const uint8_t[6]){ 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b },
		     0);
	assert_key(&in.key, &want);
	ck_assert_uint_eq(in.dir, 1);
	ck_assert_uint_eq(in.truncated, 1);
}
END_TEST

/*
 * Truncation at every length of a frame. Below ip_at the frame has no
 * whole IP header: L2 key. From ip_at the addresses are known but not
 * yet the whole key (ports): same kind, no ports, truncated. From full_at
 * the key is the full one; from flags_at also the TCP flags, and nothing
 * is reported truncated any more.
 */
struct tcase {
	struct frame f;
	uint32_t ip_at, full_at, flags_at;
};

static void check_truncations(const struct tcase *tc)
{
	const struct frame *f = &tc->f;
	struct fs_pkt_info full = parse(f);

	ck_assert_uint_eq(full.truncated, 0);
	for (uint32_t len = 0; len <= f->n; len++) {
		struct fs_pkt_info in = parse_at(f->b, len, 0);
		const struct fs_flow_key *k = &in.key;

		if (len < tc->ip_at) {
			ck_assert_msg(k->kind == FS_FLOW_L2 && in.truncated,
				      "len %u: kind %u trunc %u", len,
				      k->kind, in.truncated);
			if (len >= 12) {
				/* the MAC pair is complete from here on */
				ck_assert(memcmp(k->a, f->b, 6) == 0 ||
					  memcmp(k->a, f->b + 6, 6) == 0);
				ck_assert(memcmp(k->b, f->b, 6) == 0 ||
					  memcmp(k->b, f->b + 6, 6) == 0);
			}
		} else if (len < tc->full_at) {
			ck_assert_msg(in.truncated && k->kind == full.key.kind,
				      "len %u: kind %u trunc %u", len,
				      k->kind, in.truncated);
			ck_assert_mem_eq(k->a, full.key.a, 16);
			ck_assert_mem_eq(k->b, full.key.b, 16);
			ck_assert_uint_eq(k->port_a, 0);
			ck_assert_uint_eq(k->port_b, 0);
			if (k->kind == FS_FLOW_IP4)
				ck_assert_uint_eq(k->proto, full.key.proto);
		} else {
			assert_key(k, &full.key);
			ck_assert_uint_eq(in.dir, full.dir);
			ck_assert_uint_eq(in.fragment, full.fragment);
			ck_assert_msg(in.truncated == (len < tc->flags_at),
				      "len %u: trunc %u", len, in.truncated);
		}
		ck_assert_uint_eq(in.tcp_flags,
				  len >= tc->flags_at ? full.tcp_flags : 0);
		if (len >= f->l3)
			ck_assert_uint_eq(in.vlan, full.vlan);
		if (len > 0) {
			/* parsing from any alignment gives the same */
			for (unsigned al = 1; al < 8; al++) {
				struct fs_pkt_info o = parse_at(f->b, len, al);

				ck_assert_mem_eq(&o, &in, sizeof(in));
			}
		}
	}
}

START_TEST(truncation_everywhere)
{
	static struct tcase tc[12];
	unsigned n = 0;
	struct frame *f;

	/* untagged IPv4 TCP */
	f = &tc[n].f;
	v4(f, 6, A1, 1234, A2, 80, FS_TCP_SYN | FS_TCP_ACK);
	tc[n].ip_at = 34;
	tc[n].full_at = 38;
	tc[n++].flags_at = 48;

	/* QinQ IPv4 UDP */
	f = &tc[n].f;
	eth(f, MAC2, MAC1);
	put16(f, 0x88a8);
	put16(f, 300);
	put16(f, 0x8100);
	put16(f, 301);
	put16(f, 0x0800);
	ip4(f, 17, A2, A1, 0, 0);
	udp(f, 53, 5353);
	finish(f, 20);
	tc[n].ip_at = 42;
	tc[n].full_at = tc[n].flags_at = 46;
	n++;

	/* triple-tagged IPv6 TCP */
	f = &tc[n].f;
	eth(f, MAC2, MAC1);
	put16(f, 0x9100);
	put16(f, 1);
	put16(f, 0x88a8);
	put16(f, 2);
	put16(f, 0x8100);
	put16(f, 3);
	put16(f, 0x86dd);
	ip6(f, 6, V6_3, V6_1);
	tcp(f, 443, 9999, FS_TCP_FIN);
	finish(f, 5);
	tc[n].ip_at = 26 + 40;
	tc[n].full_at = 66 + 4;
	tc[n++].flags_at = 66 + 14;

	/* IPv4 with options, ICMP: nothing needed past the options */
	f = &tc[n].f;
	eth(f, MAC2, MAC1);
	put16(f, 0x0800);
	ip4(f, 1, A1, A2, 0, 3);
	icmp(f, 8);
	finish(f, 16);
	tc[n].ip_at = 34;
	tc[n].full_at = tc[n].flags_at = 34 + 12;
	n++;

	/* IPv4 later fragment of UDP: the fixed header is all */
	f = &tc[n].f;
	eth(f, MAC2, MAC1);
	put16(f, 0x0800);
	ip4(f, 17, A1, A2, 0x0010, 0);
	fill(f, 30, 0x77);
	finish(f, 0);
	tc[n].ip_at = tc[n].full_at = tc[n].flags_at = 34;
	n++;

	/* IPv6 extension chain, UDP */
	f = &tc[n].f;
	v6_chain(f, 0);
	tc[n].ip_at = 54;
	tc[n].full_at = tc[n].flags_at = f->l4 + 4;
	n++;

	/* IPv6 later fragment behind the chain */
	f = &tc[n].f;
	v6_chain(f, 100);
	tc[n].ip_at = 54;
	tc[n].full_at = tc[n].flags_at = 54 + 8 + 24 + 16 + 8;
	n++;

	/* IPv6 AH, TCP */
	f = &tc[n].f;
	eth(f, MAC2, MAC1);
	put16(f, 0x86dd);
	ip6(f, 51, V6_2, V6_1);
	ah6(f, 6, 1);
	tcp(f, 5, 6, FS_TCP_SYN);
	finish(f, 0);
	tc[n].ip_at = 54;
	tc[n].full_at = 54 + 12 + 4;
	tc[n++].flags_at = 54 + 12 + 14;

	/* IPv6 ESP behind destination options */
	f = &tc[n].f;
	eth(f, MAC2, MAC1);
	put16(f, 0x86dd);
	ip6(f, 60, V6_1, V6_2);
	ext6(f, 50, 1);
	put32(f, 0x100);
	put32(f, 1);
	tc[n].ip_at = 54;
	tc[n].full_at = tc[n].flags_at = 54 + 16;
	n++;

	/* IPv4 SCTP and tagged IPv6 DCCP */
	f = &tc[n].f;
	v4(f, 132, A2, 2905, A1, 2905, 0);
	tc[n].ip_at = 34;
	tc[n].full_at = tc[n].flags_at = 38;
	n++;
	f = &tc[n].f;
	eth(f, MAC2, MAC1);
	put16(f, 0x8100);
	put16(f, 42);
	put16(f, 0x86dd);
	ip6(f, 33, V6_1, V6_2);
	dccp(f, 5004, 5005);
	finish(f, 0);
	tc[n].ip_at = 58;
	tc[n].full_at = tc[n].flags_at = 62;
	n++;

	/* LLDP: complete once the EtherType is there */
	f = &tc[n].f;
	lldp(f);
	tc[n].ip_at = tc[n].full_at = tc[n].flags_at = 14;
	n++;

	for (unsigned i = 0; i < n; i++)
		check_truncations(&tc[i]);
}
END_TEST

START_TEST(truncated_tags)
{
	struct frame f;
	struct fs_pkt_info in;

	eth(&f, MAC2, MAC1);
	put16(&f, 0x88a8);
	put16(&f, 0x123);
	put16(&f, 0x8100);
	put16(&f, 0x456);
	put16(&f, 0x0800);
	ip4(&f, 6, A1, A2, 0, 0);
	tcp(&f, 1, 2, 0);

	/* cut right after the outer TPID: no id yet */
	in = parse_at(f.b, 14, 0);
	ck_assert_uint_eq(in.vlan, 0xffff);
	ck_assert_uint_eq(in.key.ethertype, 0x88a8);
	ck_assert_uint_eq(in.truncated, 1);
	/* cut inside the outer tag after its TCI */
	in = parse_at(f.b, 16, 0);
	ck_assert_uint_eq(in.vlan, 0x123);
	ck_assert_uint_eq(in.key.ethertype, 0x88a8);
	ck_assert_uint_eq(in.truncated, 1);
	/* cut after the inner TPID */
	in = parse_at(f.b, 18, 0);
	ck_assert_uint_eq(in.vlan, 0x123);
	ck_assert_uint_eq(in.key.ethertype, 0x8100);
	ck_assert_uint_eq(in.key.kind, FS_FLOW_L2);
	ck_assert_uint_eq(in.truncated, 1);
	/* cut after the inner EtherType: IPv4 without its header */
	in = parse_at(f.b, 22, 0);
	ck_assert_uint_eq(in.key.ethertype, 0x0800);
	ck_assert_uint_eq(in.key.kind, FS_FLOW_L2);
	ck_assert_uint_eq(in.truncated, 1);
}
END_TEST

START_TEST(tcp_flags)
{
	struct frame f;

	for (unsigned fl = 0; fl < 256; fl++) {
		v4(&f, 6, A1, 1, A2, 2, fl);
		ck_assert_uint_eq(parse(&f).tcp_flags, fl);
		v6(&f, 6, V6_1, 1, V6_2, 2, fl);
		ck_assert_uint_eq(parse(&f).tcp_flags, fl);
	}
	/* byte 13 of a UDP datagram is payload, not flags */
	v4(&f, 17, A1, 1, A2, 2, 0);
	f.b[34 + 13] = 0xff;
	ck_assert_uint_eq(parse(&f).tcp_flags, 0);
}
END_TEST

/* Random bytes behind plausible headers: whatever comes, the parser must
 * stay inside caplen and keep the invariants. */
/* n pseudo-random bytes (xorshift64, state *x) into b */
static void random_bytes(uint8_t *b, size_t n, uint64_t *x)
{
	for (size_t i = 0; i < n; i++) {
		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		b[i] = (uint8_t)*x;
	}
}

START_TEST(random_frames)
{
	static const uint16_t types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8,
					  0x9100, 0x0806, 0x0026 };
	static const uint8_t nhs[] = { 0, 43, 44, 60, 51, 50, 59, 6, 17, 58 };
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	uint8_t b[160];

	for (unsigned it = 0; it < 200000; it++) {
		uint32_t len;

		random_bytes(b, sizeof(b), &x);
		len = (uint32_t)(x >> 40) % sizeof(b);
		/* bias the bytes toward deep parses */
		for (unsigned off = 12; off + 2 < sizeof(b) && b[off] & 1;
		     off += 4) {
			uint16_t t = types[b[off + 1] % 7];

			b[off] = (uint8_t)(t >> 8);
			b[off + 1] = (uint8_t)t;
			if (t == 0x0800 && b[off + 3] & 1)
				b[off + 2] = 0x45;
			if (t == 0x86dd && off + 8 < sizeof(b)) {
				b[off + 2] = 0x60;
				b[off + 8] = nhs[b[off + 8] % 10];
				for (unsigned e = off + 42; e < sizeof(b);
				     e += 8)
					b[e] = nhs[b[e] % 10];
			}
			if (t != 0x8100 && t != 0x88a8 && t != 0x9100)
				break;
		}
		(void)parse_at(b, len, (unsigned)x & 7);
	}
}
END_TEST

/*
 * The inline path of fs_flow_parse (untagged IPv4 TCP/UDP) gives what
 * the full parse gives, byte for byte, on frames near and at its edges:
 * every caplen around the TCP flags, each field it looks at set to what
 * it takes and to what sends the frame to the full parse, addresses and
 * ports equal or ordered either way.
 */
START_TEST(inline_parse_same)
{
	static const uint8_t vihl[] = { 0x45, 0x46, 0x44, 0x65, 0x4f };
	static const uint8_t protos[] = { 6, 17, 1, 33, 132, 136, 50 };
	static const uint16_t frags[] = { 0, 0x4000, 0x2000, 0x0001, 0x8000,
					  0x1fff };
	uint64_t x = 0x2545f4914f6cdd1dULL;
	unsigned inline_taken = 0, n = 0;
	uint8_t b[96];

	for (unsigned it = 0; it < 300000; it++) {
		struct fs_pkt_info fast, full;
		uint32_t len;

		random_bytes(b, sizeof(b), &x);
		if (x & 0x300) {	/* mostly what the inline path takes */
			b[12] = 0x08;
			b[13] = (x & 0xc00) != 0xc00 ? 0x00 : 0x06;
			b[14] = vihl[(x >> 11) % 5 < 3 ? 0 : (x >> 11) % 5];
			b[20] = (uint8_t)(frags[(x >> 14) % 6] >> 8);
			b[21] = (uint8_t)frags[(x >> 14) % 6];
			b[23] = protos[(x >> 17) % ((x >> 19) & 1 ? 2 : 7)];
		}
		if ((x >> 20) % 4 == 0)		/* equal addresses */
			memcpy(b + 30, b + 26, 4);
		if ((x >> 22) % 4 == 0)		/* and equal ports */
			memcpy(b + 36, b + 34, 2);
		len = 36 + (uint32_t)(x >> 40) % 30;
		memset(&fast, 0xa5, sizeof(fast));
		memset(&full, 0x5a, sizeof(full));
		fs_flow_parse(b, len, &fast);
		fs_flow_parse_full(b, len, &full);
		ck_assert_msg(memcmp(&fast, &full, sizeof(fast)) == 0,
			      "frame %u (caplen %u) parses differently", it, len);
		ck_assert_uint_eq(fast.hash, fs_flow_hash(&fast.key));
		n++;
		inline_taken += len >= 48 && b[12] == 0x08 && b[13] == 0 &&
				b[14] == 0x45 && (b[20] & 0x3f) == 0 &&
				b[21] == 0 && (b[23] == 6 || b[23] == 17);
	}
	/* both paths were exercised */
	ck_assert_uint_gt(inline_taken, n / 20);
	ck_assert_uint_lt(inline_taken, n - n / 10);
}
END_TEST

/* ---- hash ---- */

START_TEST(hash_every_byte)
{
	struct frame f;
	struct fs_flow_key keys[3];

	v6(&f, 6, V6_1, 1234, V6_3, 443, 0);
	keys[0] = parse(&f).key;
	v4(&f, 17, A1, 53, A2, 5353, 0);
	keys[1] = parse(&f).key;
	memset(&keys[2], 0, sizeof(keys[2]));

	for (unsigned k = 0; k < 3; k++) {
		uint32_t h = fs_flow_hash(&keys[k]);

		ck_assert_uint_eq(h, fs_flow_hash(&keys[k]));
		for (unsigned i = 0; i < sizeof(keys[k]); i++) {
			for (unsigned v = 1; v < 256; v++) {
				struct fs_flow_key m = keys[k];

				((uint8_t *)&m)[i] ^= (uint8_t)v;
				if (fs_flow_hash(&m) == h)
					ck_abort_msg("key %u byte %u ^ %u: "
						     "same hash", k, i, v);
			}
		}
	}
}
END_TEST

/* Chi-square of 65536 keys that differ only in one port, over 256
 * buckets taken from the low and from the high byte of the hash. */
START_TEST(hash_spread)
{
	struct fs_flow_key k = key4(17, A1, 0, A2, 53);

	for (unsigned shift = 0; shift <= 24; shift += 8) {
		unsigned cnt[256] = { 0 };
		double chi = 0;

		for (unsigned p = 0; p < 65536; p++) {
			k.port_a = (uint16_t)p;
			cnt[(fs_flow_hash(&k) >> shift) & 255]++;
		}
		for (unsigned i = 0; i < 256; i++)
			chi += (cnt[i] - 256.0) * (cnt[i] - 256.0) / 256.0;
		/* 255 degrees of freedom: mean 255, sd 22.6 */
		ck_assert_msg(chi < 400, "shift %u chi2 %.1f", shift, chi);
	}
}
END_TEST

/* ---- key text ---- */

static void assert_str(const struct fs_flow_key *k, const char *want)
{
	char buf[160];
	int n = fs_flow_key_str(k, buf, sizeof(buf));

	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(n, (int)strlen(want));
}

START_TEST(key_strings)
{
	struct fs_flow_key k;
	char small[8];

	k = key4(6, A1, 1234, A2, 80);
	assert_str(&k, "tcp 10.0.0.1:1234 <> 10.0.0.2:80");
	k = key4(1, A1, 0, A2, 0);
	assert_str(&k, "icmp 10.0.0.1 <> 10.0.0.2");
	k = keyl2((const uint8_t[6]){ 2, 0, 0, 0, 0, 1 },
		  (const uint8_t[6]){ 2, 0, 0, 0, 0, 2 }, 0x88cc);
	assert_str(&k, "l2 02:00:00:00:00:01 <> 02:00:00:00:00:02 type 0x88cc");
	k = keyl2(MAC1, MAC2, 0);
	assert_str(&k, "l2 00:1b:21:0a:0b:0c <> 00:1b:21:0d:0e:0f type 0x0000");
	k = key6(58, V6_1, 0, V6_2, 0);
	assert_str(&k, "icmp6 fd00::1 <> fd00::2");
	k = key6(17, V6_1, 53, V6_3, 5353);
	assert_str(&k, "udp [fd00::1]:53 <> [2001:db8::10]:5353");
	k = key4(136, A1, 1, A2, 2);
	assert_str(&k, "udplite 10.0.0.1:1 <> 10.0.0.2:2");
	k = key4(132, A1, 2905, A2, 2905);
	assert_str(&k, "sctp 10.0.0.1:2905 <> 10.0.0.2:2905");
	k = key6(33, V6_1, 65535, V6_2, 1);
	assert_str(&k, "dccp [fd00::1]:65535 <> [fd00::2]:1");
	k = key4(50, A1, 0, A2, 0);
	assert_str(&k, "esp 10.0.0.1 <> 10.0.0.2");
	k = key6(51, V6_1, 0, V6_2, 0);
	assert_str(&k, "ah fd00::1 <> fd00::2");
	k = key4(47, A1, 0, A2, 0);
	assert_str(&k, "gre 10.0.0.1 <> 10.0.0.2");
	k = key4(0, IP(0, 0, 0, 0), 0, IP(255, 255, 255, 255), 0);
	assert_str(&k, "ip0 0.0.0.0 <> 255.255.255.255");
	k = key6(255, V6_1, 0, V6_2, 0);
	assert_str(&k, "ip255 fd00::1 <> fd00::2");
	/* a fragment's key: a port protocol without ports */
	k = key4(6, A1, 0, A2, 0);
	assert_str(&k, "tcp 10.0.0.1 <> 10.0.0.2");
	/* a port of 0 on one side only is still printed */
	k = key4(17, A1, 0, A2, 68);
	assert_str(&k, "udp 10.0.0.1:0 <> 10.0.0.2:68");

	/* snprintf semantics: cut, terminated, full length returned */
	k = key4(6, A1, 1234, A2, 80);
	ck_assert_int_eq(fs_flow_key_str(&k, small, sizeof(small)), 32);
	ck_assert_str_eq(small, "tcp 10.");
	ck_assert_int_eq(fs_flow_key_str(&k, NULL, 0), 32);
}
END_TEST

/* ---- synthetic frames and pcap filters ---- */

static int match(const char *expr, const uint8_t *pkt, uint32_t n)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program prog;
	struct pcap_pkthdr h;
	int r;

	ck_assert_ptr_nonnull(p);
	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0)
		ck_abort_msg("compile \"%s\": %s", expr, pcap_geterr(p));
	memset(&h, 0, sizeof(h));
	h.caplen = h.len = n;
	r = pcap_offline_filter(&prog, &h, pkt);
	pcap_freecode(&prog);
	pcap_close(p);
	return r != 0;
}

/* Synthesize k in direction dir into an exact-size heap buffer. */
static int synth_match(const char *expr, const struct fs_flow_key *k,
		       uint8_t dir, uint8_t flags)
{
	uint8_t buf[128];
	size_t n = fs_flow_synth(k, dir, flags, buf, sizeof(buf));
	uint8_t *copy;
	int r;

	ck_assert_uint_gt(n, 0);
	copy = malloc(n);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, buf, n);
	r = match(expr, copy, (uint32_t)n);
	free(copy);
	return r;
}

START_TEST(synth_reparses)
{
	struct frame fr[16];
	unsigned n = 0;

	v4(&fr[n++], 6, A1, 1234, A2, 80, FS_TCP_SYN);
	v4(&fr[n++], 6, A2, 80, A1, 1234, FS_TCP_SYN | FS_TCP_ACK);
	v4(&fr[n++], 17, A2, 53, A1, 5353, 0);
	v4(&fr[n++], 136, A2, 53, A1, 5353, 0);
	v4(&fr[n++], 132, A1, 2905, A2, 2906, 0);
	v4(&fr[n++], 33, A2, 5004, A1, 5005, 0);
	v4(&fr[n++], 1, A2, 0, A1, 0, 0);
	v4(&fr[n++], 47, A1, 0, A2, 0, 0);
	v6(&fr[n++], 6, V6_3, 443, V6_1, 50000, FS_TCP_RST);
	v6(&fr[n++], 17, V6_1, 5353, V6_2, 53, 0);
	v6(&fr[n++], 58, V6_2, 0, V6_1, 0, 0);
	v6(&fr[n++], 50, V6_2, 0, V6_1, 0, 0);
	arp(&fr[n++]);
	lldp(&fr[n++]);
	v6_chain(&fr[n++], 0);

	for (unsigned i = 0; i < n; i++) {
		struct fs_pkt_info in = parse(&fr[i]);

		for (uint8_t dir = 0; dir < 2; dir++) {
			uint8_t buf[128];
			size_t len = fs_flow_synth(&in.key, dir, in.tcp_flags,
						   buf, sizeof(buf));
			struct fs_pkt_info s;

			ck_assert_uint_gt(len, 0);
			s = parse_at(buf, (uint32_t)len, 0);
			assert_key(&s.key, &in.key);
			ck_assert_uint_eq(s.dir, dir);
			ck_assert_uint_eq(s.tcp_flags, in.tcp_flags);
			ck_assert_uint_eq(s.truncated, 0);
			ck_assert_uint_eq(s.fragment, 0);
			/* one byte short is refused, nothing written past */
			ck_assert_uint_eq(fs_flow_synth(&in.key, dir, 0, buf,
							len - 1), 0);
			if (in.key.kind == FS_FLOW_IP4) {
				uint32_t sum = 0;

				for (unsigned j = 14; j < 34; j += 2)
					sum += (uint32_t)buf[j] << 8 |
					       buf[j + 1];
				while (sum >> 16)
					sum = (sum & 0xffff) + (sum >> 16);
				ck_assert_uint_eq(sum, 0xffff);
				ck_assert_uint_eq(buf[14 + 8], 64);
				ck_assert_uint_eq(buf[14 + 2] << 8 |
						  buf[14 + 3], len - 14);
			} else if (in.key.kind == FS_FLOW_IP6) {
				ck_assert_uint_eq(buf[14 + 7], 64);
				ck_assert_uint_eq(buf[14 + 4] << 8 |
						  buf[14 + 5], len - 54);
			}
		}
	}
}
END_TEST

START_TEST(synth_matches_like_real)
{
	static const char *const filters[] = {
		"ip", "ip6", "tcp", "udp", "sctp", "icmp", "icmp6", "arp",
		"not ip and not ip6", "ether proto 0x88cc",
		"host 10.0.0.1", "host 10.0.0.2", "src host 10.0.0.1",
		"dst host 10.0.0.1", "src host 10.0.0.2", "dst host 10.0.0.2",
		"net 10.0.0.0/24", "host 10.0.0.1 and port 80", "port 80",
		"src port 80", "dst port 80", "tcp port 443", "udp port 53",
		"src port 53", "dst port 5353", "port 2905", "tcp port 1234",
		"portrange 1-1024", "host fd00::1", "src host fd00::1",
		"dst host fd00::1", "host 2001:db8::10", "ip6 and tcp port 443",
		"ip6 and udp port 53", "ip proto 132", "ip proto 33",
		"ip proto 136", "ip6 proto 33", "ip proto 50", "ip6 proto 50",
		"ip proto 47", "ip6 proto 58", "icmp or icmp6",
		"tcp[tcpflags] & tcp-syn != 0",
		"tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
		"tcp[tcpflags] & tcp-rst != 0", "udp and src port 5353",
		"ether host 01:80:c2:00:00:0e",
	};
	struct frame fr[24];
	unsigned n = 0;

	v4(&fr[n++], 6, A1, 1234, A2, 80, FS_TCP_SYN);
	v4(&fr[n++], 6, A2, 80, A1, 1234, FS_TCP_SYN | FS_TCP_ACK);
	v4(&fr[n++], 6, A2, 443, A1, 1234, FS_TCP_RST);
	v4(&fr[n++], 17, A2, 53, A1, 5353, 0);
	v4(&fr[n++], 17, A1, 5353, A2, 53, 0);
	v4(&fr[n++], 136, A2, 53, A1, 5353, 0);
	v4(&fr[n++], 132, A1, 2905, A2, 2906, 0);
	v4(&fr[n++], 33, A2, 5004, A1, 5005, 0);
	v4(&fr[n++], 1, A2, 0, A1, 0, 0);
	v4(&fr[n++], 47, A1, 0, A2, 0, 0);
	v4(&fr[n++], 50, A2, 0, A1, 0, 0);
	v4(&fr[n++], 6, IP(192, 168, 0, 1), 22, A1, 80, FS_TCP_ACK);
	v6(&fr[n++], 6, V6_3, 443, V6_1, 50000, FS_TCP_SYN);
	v6(&fr[n++], 6, V6_1, 50000, V6_3, 443, FS_TCP_ACK);
	v6(&fr[n++], 17, V6_1, 5353, V6_2, 53, 0);
	v6(&fr[n++], 33, V6_1, 80, V6_2, 5000, 0);
	v6(&fr[n++], 58, V6_2, 0, V6_1, 0, 0);
	v6(&fr[n++], 50, V6_2, 0, V6_1, 0, 0);
	arp(&fr[n++]);
	lldp(&fr[n++]);
	/* IPv4 first and later fragment of a TCP segment */
	v4(&fr[n], 6, A1, 1234, A2, 80, FS_TCP_SYN);
	fr[n].b[20] = 0x20;
	finish(&fr[n++], 0);
	v4(&fr[n], 6, A1, 1234, A2, 80, FS_TCP_SYN);
	fr[n].b[21] = 0x10;
	finish(&fr[n++], 0);

	for (unsigned i = 0; i < n; i++) {
		struct fs_pkt_info in = parse(&fr[i]);

		for (unsigned j = 0; j < sizeof(filters) / sizeof(*filters);
		     j++) {
			int real = match(filters[j], fr[i].b, fr[i].n);
			int syn = synth_match(filters[j], &in.key, in.dir,
					      in.tcp_flags);
			char ks[160];

			fs_flow_key_str(&in.key, ks, sizeof(ks));
			ck_assert_msg(real == syn,
				      "frame %u (%s dir %u) \"%s\": real %d "
				      "synthetic %d", i, ks, in.dir,
				      filters[j], real, syn);
		}
	}
}
END_TEST

START_TEST(synth_directions)
{
	struct fs_flow_key k = key4(6, A1, 1234, A2, 80);
	struct fs_flow_key k6 = key6(17, V6_1, 5353, V6_2, 53);
	struct fs_flow_key l2 = keyl2(MAC1, MAC2, 0x88cc);

	/* the filters must be able to say no, or the round trip above
	 * proves nothing */
	ck_assert(synth_match("host 10.0.0.1 and port 80", &k, 0, 0));
	ck_assert(synth_match("src host 10.0.0.1 and dst port 80", &k, 0, 0));
	ck_assert(!synth_match("src host 10.0.0.2", &k, 0, 0));
	ck_assert(!synth_match("dst port 1234", &k, 0, 0));
	ck_assert(synth_match("src host 10.0.0.2 and src port 80 and "
			      "dst port 1234", &k, 1, 0));
	ck_assert(!synth_match("src host 10.0.0.1", &k, 1, 0));
	ck_assert(synth_match("tcp port 80", &k, 1, 0));
	ck_assert(!synth_match("udp", &k, 0, 0));
	ck_assert(!synth_match("ip6", &k, 0, 0));
	ck_assert(synth_match("tcp[tcpflags] == tcp-syn", &k, 0, FS_TCP_SYN));
	ck_assert(!synth_match("tcp[tcpflags] & tcp-syn != 0", &k, 0,
			       FS_TCP_ACK));
	/* endpoint a keeps its MAC in both directions */
	ck_assert(synth_match("ether src 02:00:00:00:00:01 and "
			      "src host 10.0.0.1", &k, 0, 0));
	ck_assert(synth_match("ether src 02:00:00:00:00:02 and "
			      "src host 10.0.0.2", &k, 1, 0));
	ck_assert(synth_match("ether dst 02:00:00:00:00:02", &k, 0, 0));
	ck_assert(synth_match("ether dst 02:00:00:00:00:01", &k, 1, 0));

	ck_assert(synth_match("ip6 and udp", &k6, 0, 0));
	ck_assert(synth_match("src host fd00::1 and src port 5353", &k6, 0,
			      0));
	ck_assert(synth_match("src host fd00::2 and src port 53", &k6, 1, 0));
	ck_assert(!synth_match("src host fd00::1", &k6, 1, 0));
	ck_assert(!synth_match("ip or tcp", &k6, 0, 0));

	ck_assert(synth_match("ether proto 0x88cc", &l2, 0, 0));
	ck_assert(!synth_match("ip or ip6", &l2, 0, 0));
	ck_assert(synth_match("ether src 00:1b:21:0a:0b:0c", &l2, 0, 0));
	ck_assert(synth_match("ether src 00:1b:21:0d:0e:0f and "
			      "ether dst 00:1b:21:0a:0b:0c", &l2, 1, 0));
}
END_TEST

START_TEST(synth_bounds)
{
	uint8_t buf[256];
	struct fs_flow_key k = key6(6, V6_1, 1, V6_2, 2);
	struct fs_flow_key l2 = keyl2(MAC1, MAC2, 0x0806);
	struct fs_flow_key bad = key4(6, A1, 1, A2, 2);

	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_eq(fs_flow_synth(&k, 0, 0, buf, 73), 0);
	ck_assert_uint_eq(buf[0], 0xee);	/* untouched when refused */
	ck_assert_uint_eq(fs_flow_synth(&k, 0, 0, buf, 74), 74);
	ck_assert_uint_eq(buf[74], 0xee);
	ck_assert_uint_eq(fs_flow_synth(&l2, 0, 0, buf, 13), 0);
	ck_assert_uint_eq(fs_flow_synth(&l2, 0, 0, buf, 14), 14);
	bad.kind = 9;
	ck_assert_uint_eq(fs_flow_synth(&bad, 0, 0, buf, sizeof(buf)), 0);
	/* 128 bytes suffice for every protocol */
	for (unsigned p = 0; p < 256; p++) {
		k.proto = (uint8_t)p;
		bad = key4(p, A1, 1, A2, 2);
		ck_assert_uint_gt(fs_flow_synth(&k, 1, 0, buf, 128), 0);
		ck_assert_uint_gt(fs_flow_synth(&bad, 1, 0, buf, 128), 0);
	}
}
END_TEST

static Suite *flowkey_suite(void)
{
	Suite *s = suite_create("flowkey");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ipv4_tcp);
	tcase_add_test(tc, inline_parse_same);
	tcase_add_test(tc, ipv4_port_protocols);
	tcase_add_test(tc, ipv4_icmp_and_others);
	tcase_add_test(tc, both_directions);
	tcase_add_test(tc, vlan_tags);
	tcase_add_test(tc, vlan_non_ip);
	tcase_add_test(tc, ipv4_options);
	tcase_add_test(tc, ipv4_fragments);
	tcase_add_test(tc, ipv6_tcp_udp);
	tcase_add_test(tc, ipv6_extension_headers);
	tcase_add_test(tc, ipv6_extension_cap);
	tcase_add_test(tc, ipv6_fragments);
	tcase_add_test(tc, icmpv6_and_esp);
	tcase_add_test(tc, l2_frames);
	tcase_add_test(tc, bad_ip_headers);
	tcase_add_test(tc, short_frames);
	tcase_add_test(tc, truncation_everywhere);
	tcase_add_test(tc, truncated_tags);
	tcase_add_test(tc, tcp_flags);
	tcase_add_test(tc, random_frames);
	tcase_add_test(tc, hash_every_byte);
	tcase_add_test(tc, hash_spread);
	tcase_add_test(tc, key_strings);
	tcase_add_test(tc, synth_reparses);
	tcase_add_test(tc, synth_matches_like_real);
	tcase_add_test(tc, synth_directions);
	tcase_add_test(tc, synth_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(flowkey_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
