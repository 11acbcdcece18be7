/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of filter hints: filters compiled by libpcap for Ethernet,
 * their hints compared with what each filter means, and the soundness
 * of every hint checked against libpcap's own verdict on many random and
 * crafted frames (every frame the filter accepts must have a flow key
 * the hint matches).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpfhint.h"
#include "flowkey.h"

/* ---- compiling and printing ---- */

static void compile(const char *filter, int optimize, struct bpf_program *prog)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);

	ck_assert_ptr_nonnull(p);
	if (pcap_compile(p, prog, filter, optimize, PCAP_NETMASK_UNKNOWN))
		ck_abort_msg("pcap_compile \"%s\": %s", filter, pcap_geterr(p));
	pcap_close(p);
}

static void hint_of(const char *filter, int optimize, struct fs_bpf_hint *h)
{
	struct bpf_program prog;

	compile(filter, optimize, &prog);
	ck_assert_int_eq(fs_bpf_hint(prog.bf_insns, prog.bf_len, h), 0);
	pcap_freecode(&prog);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The alternatives of a " | " list, sorted and joined again, so that
 * two lists compare as sets. */
static void normalize(const char *in, char *out, size_t len)
{
	char tmp[8192], *parts[256], *s, *save = NULL;
	unsigned n = 0;

	snprintf(tmp, sizeof(tmp), "%s", in);
	for (s = strtok_r(tmp, "|", &save); s && n < 256;
	     s = strtok_r(NULL, "|", &save)) {
		while (*s == ' ')
			s++;
		for (char *e = s + strlen(s); e > s && e[-1] == ' ';)
			*--e = '\0';
		parts[n++] = s;
	}
	qsort(parts, n, sizeof(parts[0]), cmp_str);
	out[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		strncat(out, i ? " | " : "", len - strlen(out) - 1);
		strncat(out, parts[i], len - strlen(out) - 1);
	}
}

static void hint_text(const struct fs_bpf_hint *h, char *out, size_t len)
{
	char raw[8192];
	int r = fs_bpf_hint_str(h, raw, sizeof(raw));

	ck_assert_int_gt(r, 0);
	ck_assert_int_lt(r, (int)sizeof(raw));
	normalize(raw, out, len);
}

/* ---- the filters and what their hints must be ---- */

/* pcap's "host A" also accepts ARP and RARP frames that carry A */
#define ARP " | ethertype 0x0806 | ethertype 0x8035"
#define PROTOS(x) x " proto 6 | " x " proto 17 | " x " proto 132"

static const struct {
	const char *filter;
	const char *hint;
} table[] = {
	{ "host 10.0.0.1", "10.0.0.1" ARP },
	{ "src host 10.0.0.1", "10.0.0.1" ARP },
	{ "dst host 10.0.0.1", "10.0.0.1" ARP },
	{ "ip host 10.0.0.1", "10.0.0.1" },
	{ "host 10.0.0.1 or host 10.0.0.2", "10.0.0.1 | 10.0.0.2" ARP },
	{ "host 10.0.0.1 and host 10.0.0.2", "10.0.0.1 <> 10.0.0.2" ARP },
	{ "host 10.0.0.1 and port 80", PROTOS("10.0.0.1 port 80") },
	{ "port 80 and host 10.0.0.1", PROTOS("10.0.0.1 port 80") },
	{ "host 10.0.0.1 and tcp port 80", "10.0.0.1 port 80 proto 6" },
	{ "host 10.0.0.1 and icmp", "10.0.0.1 proto 1" },
	{ "host 10.0.0.1 and tcp[13] & 2 != 0", "10.0.0.1 proto 6" },
	{ "ip6 host fd00::1", "fd00::1" },
	{ "host fd00::1", "fd00::1" },
	{ "host fd00::1 and udp port 53", "fd00::1 port 53 proto 17" },
	{ "ip6 and tcp and host fd00::1", "fd00::1 proto 6" },
	{ "host fd00::1 or host 10.0.0.1", "fd00::1 | 10.0.0.1" ARP },
	{ "host 10.0.0.1 and host 10.0.0.2 and port 1 and port 2 and tcp",
	  "10.0.0.1:1 <> 10.0.0.2:2 proto 6 | 10.0.0.1:2 <> 10.0.0.2:1 proto 6" },
	{ "src 10.0.0.1 and src port 1 and dst 10.0.0.2 and dst port 2",
	  PROTOS("10.0.0.1:1 <> 10.0.0.2:2") },
	{ "dst 10.0.0.1 and dst port 1 and src 10.0.0.2 and src port 2 and udp",
	  "10.0.0.1:1 <> 10.0.0.2:2 proto 17" },
	{ "ip6 src fd00::2 and dst fd00::1 and tcp src port 1 and dst port 2",
	  "[fd00::1]:2 <> [fd00::2]:1 proto 6" },
	{ "host 10.0.0.1 and not port 22", "10.0.0.1" ARP },
	{ "(host 10.0.0.1 or host 10.0.0.2) and port 80",
	  PROTOS("10.0.0.1 port 80") " | " PROTOS("10.0.0.2 port 80") },
	{ "host 10.0.0.1 or (host 10.0.0.1 and port 80)", "10.0.0.1" ARP },
	{ "vlan and host 10.0.0.1", "10.0.0.1" ARP },
	{ "vlan 5 and host 10.0.0.1 and tcp", "10.0.0.1 proto 6" },
	{ "vlan and vlan and host fd00::1", "fd00::1" },
	{ "arp", "ethertype 0x0806" },
	{ "ether proto 0x88cc", "ethertype 0x88cc" },
	{ "arp or host fd00::1", "ethertype 0x0806 | fd00::1" },
	/* nothing can be proved */
	{ "", "none" },
	{ "tcp port 80", "none" },
	{ "net 10.0.0.0/8", "none" },
	{ "not host 10.0.0.1", "none" },
	{ "host 10.0.0.1 or port 80", "none" },
	{ "udp", "none" },
	{ "ip", "none" },
	{ "vlan", "none" },
	{ "greater 100", "none" },
	{ "ether host 00:11:22:33:44:55", "none" },
	{ "ether host 00:11:22:33:44:55 and host 10.0.0.1", "10.0.0.1" ARP },
	{ "host 10.0.0.1 and greater 100", "10.0.0.1" ARP },
	{ "ip[8] = 64 and host 10.0.0.1", "10.0.0.1" },
	{ "ip6 net fd00::/64", "none" },
};

#define NTABLE (sizeof(table) / sizeof(table[0]))

START_TEST(hints_of_filters)
{
	char got[8192], want[8192];
	struct fs_bpf_hint h;

	for (int opt = 1; opt >= 0; opt--) {
		for (unsigned i = 0; i < NTABLE; i++) {
			hint_of(table[i].filter, opt, &h);
			hint_text(&h, got, sizeof(got));
			normalize(table[i].hint, want, sizeof(want));
			ck_assert_msg(!strcmp(got, want),
				      "\"%s\" (optimize %d): hint \"%s\", "
				      "expected \"%s\"", table[i].filter, opt,
				      got, want);
			ck_assert(h.none == !strcmp(want, "none"));
		}
	}
}
END_TEST

/* A filter on more hosts than a hint holds: first the protocols go,
 * then ports; a filter on too many hosts has no hint. */
START_TEST(loosened_when_too_many)
{
	char filter[4096], want[8192], got[8192];
	struct fs_bpf_hint h;
	size_t f = 0, w = 0;

	f += (size_t)snprintf(filter + f, sizeof(filter) - f, "(");
	for (unsigned i = 1; i <= 30; i++) {
		f += (size_t)snprintf(filter + f, sizeof(filter) - f,
				      "%shost 10.0.1.%u", i > 1 ? " or " : "", i);
		w += (size_t)snprintf(want + w, sizeof(want) - w,
				      "%s10.0.1.%u port 80", i > 1 ? " | " : "",
				      i);
	}
	snprintf(filter + f, sizeof(filter) - f, ") and port 80");
	hint_of(filter, 1, &h);
	hint_text(&h, got, sizeof(got));
	normalize(want, want, sizeof(want));
	ck_assert_msg(!strcmp(got, want), "30 hosts: %s", got);

	/* 62 hosts and ARP, RARP: 64 alternatives */
	f = w = 0;
	for (unsigned i = 1; i <= 62; i++)
		f += (size_t)snprintf(filter + f, sizeof(filter) - f,
				      "%shost 10.0.1.%u", i > 1 ? " or " : "", i);
	hint_of(filter, 1, &h);
	ck_assert(!h.none);
	ck_assert_uint_eq(h.n, 64);
	/* 63: too many */
	snprintf(filter + f, sizeof(filter) - f, " or host 10.0.1.63");
	hint_of(filter, 1, &h);
	ck_assert(h.none);
	ck_assert_uint_eq(h.n, 0);
}
END_TEST

/* ---- hand-made programs ---- */

#define STMT(c, k) { (uint16_t)(c), 0, 0, (uint32_t)(k) }
#define JUMP(c, k, t, f) { (uint16_t)(c), (uint8_t)(t), (uint8_t)(f), (uint32_t)(k) }

START_TEST(invalid_programs)
{
	static const struct bpf_insn off_end[] = {
		STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x800, 0, 1),
		STMT(BPF_RET | BPF_K, 1),
	};
	static const struct bpf_insn jump_out[] = {
		STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x800, 0, 5),
		STMT(BPF_RET | BPF_K, 1),
	};
	static const struct bpf_insn bad_mem[] = {
		STMT(BPF_LD | BPF_MEM, 16),
		STMT(BPF_RET | BPF_A, 0),
	};
	static const struct bpf_insn bad_op[] = {
		STMT(BPF_ALU | 0xf0 | BPF_K, 1),
		STMT(BPF_RET | BPF_K, 1),
	};
	static const struct bpf_insn reject[] = {
		STMT(BPF_RET | BPF_K, 0),
	};
	struct {
		const struct bpf_insn *p;
		unsigned n;
	} bad[] = {
		{ off_end, 3 }, { jump_out, 3 }, { bad_mem, 2 }, { bad_op, 2 },
	};
	struct fs_bpf_hint h;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h.none = false;
		errno = 0;
		ck_assert_int_eq(fs_bpf_hint(bad[i].p, bad[i].n, &h), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert(h.none);
	}
	/* no program accepts everything; "ret 0" accepts nothing */
	ck_assert_int_eq(fs_bpf_hint(NULL, 0, &h), 0);
	ck_assert(h.none);
	ck_assert_int_eq(fs_bpf_hint(reject, 1, &h), 0);
	ck_assert(!h.none);
	ck_assert_uint_eq(h.n, 0);
}
END_TEST

/* Unoptimized, "ip and ip6" tests both EtherTypes: no path survives. */
START_TEST(contradiction)
{
	struct fs_bpf_hint h;
	char got[256];

	hint_of("ip and ip6", 0, &h);
	hint_text(&h, got, sizeof(got));
	ck_assert_str_eq(got, "nothing");
}
END_TEST

/* 40 tests that both go on: 2^40 paths end in the budget, quickly. */
START_TEST(path_explosion)
{
	struct bpf_insn p[100];
	struct fs_bpf_hint h;
	unsigned n = 0;
	clock_t t0 = clock();

	p[n++] = (struct bpf_insn)STMT(BPF_LD | BPF_H | BPF_ABS, 12);
	p[n++] = (struct bpf_insn)JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x800, 0, 0);
	p[n++] = (struct bpf_insn)STMT(BPF_LD | BPF_W | BPF_ABS, 26);
	p[n++] = (struct bpf_insn)JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0a000001,
				       0, 0);
	for (unsigned i = 0; i < 40; i++) {
		p[n++] = (struct bpf_insn)STMT(BPF_LD | BPF_B | BPF_ABS, 40 + i);
		p[n++] = (struct bpf_insn)JUMP(BPF_JMP | BPF_JGT | BPF_K, 7,
					       0, 0);
	}
	p[n++] = (struct bpf_insn)STMT(BPF_RET | BPF_K, 1);
	ck_assert_int_eq(fs_bpf_hint(p, n, &h), 0);
	ck_assert(h.none);
	ck_assert_msg(clock() - t0 < CLOCKS_PER_SEC, "took %ld clocks",
		      (long)(clock() - t0));
}
END_TEST

/*
 * What libpcap emits for "vlan and host 10.0.0.1" on a Linux socket,
 * where the kernel takes the outer tag off and says so in the "vlanp"
 * special load: the offsets of the inner headers live in M[0] and M[1]
 * and reach the loads through X. Either way the frame bytes tested are
 * IPv4 with the address.
 */
START_TEST(vlan_through_scratch_memory)
{
	static const struct bpf_insn prog[] = {
		STMT(BPF_LD | BPF_IMM, 0),			/* 0 */
		STMT(BPF_ST, 0),
		STMT(BPF_ST, 1),
		STMT(BPF_LD | BPF_B | BPF_ABS, 0xfffff02c),	/* vlanp */
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 7, 0),	/* -> 12 */
		STMT(BPF_LD | BPF_IMM, 4),			/* 5 */
		STMT(BPF_ST, 0),
		STMT(BPF_ST, 1),
		STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x8100, 2, 0),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x88a8, 1, 0),	/* 10 */
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x9100, 0, 18),
		STMT(BPF_LDX | BPF_MEM, 1),			/* 12 */
		STMT(BPF_LD | BPF_H | BPF_IND, 12),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x800, 0, 6),
		STMT(BPF_LDX | BPF_MEM, 0),			/* 15 */
		STMT(BPF_LD | BPF_W | BPF_IND, 26),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0a000001, 11, 0),
		STMT(BPF_LDX | BPF_MEM, 0),
		STMT(BPF_LD | BPF_W | BPF_IND, 30),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0a000001, 8, 9), /* 20 */
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x806, 1, 0),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x8035, 0, 7),
		STMT(BPF_LDX | BPF_MEM, 0),
		STMT(BPF_LD | BPF_W | BPF_IND, 28),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0a000001, 3, 0), /* 25 */
		STMT(BPF_LDX | BPF_MEM, 0),
		STMT(BPF_LD | BPF_W | BPF_IND, 38),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0a000001, 0, 1),
		STMT(BPF_RET | BPF_K, 262144),
		STMT(BPF_RET | BPF_K, 0),			/* 30 */
	};
	struct fs_bpf_hint h;
	char got[256], want[256];

	ck_assert_int_eq(fs_bpf_hint(prog, 31, &h), 0);
	hint_text(&h, got, sizeof(got));
	normalize("10.0.0.1" ARP, want, sizeof(want));
	ck_assert_str_eq(got, want);
}
END_TEST

/* ---- random and crafted frames ---- */

struct rng {
	uint64_t s;
};

static uint32_t rnd(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s >> 16);
}

/* 0 .. n-1 */
static unsigned pick(struct rng *r, unsigned n)
{
	return rnd(r) % n;
}

struct frame {
	uint8_t b[256];
	uint32_t n;
};

static void put8(struct frame *f, unsigned v)
{
	if (f->n < sizeof(f->b))
		f->b[f->n++] = (uint8_t)v;
}

static void put16(struct frame *f, unsigned v)
{
	put8(f, v >> 8);
	put8(f, v);
}

static void putn(struct frame *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(f, p[i]);
}

static void junk(struct rng *r, struct frame *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put8(f, rnd(r));
}

/* Addresses of the filters above and a few others. */
static const char *const V4[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3",
				  "10.0.1.7", "192.168.0.1" };
static const char *const V6[] = { "fd00::1", "fd00::2", "fd00::3",
				  "2001:db8::1" };
static const unsigned PORTS[] = { 1, 2, 22, 53, 80, 443, 0 };
static const unsigned PROTOS4[] = { 6, 17, 132, 1, 33, 136, 47, 50 };
static const unsigned PROTOS6[] = { 6, 17, 132, 58, 33, 136, 50, 59 };
static const unsigned EXT6[] = { 0, 43, 44, 60, 51 };
static const uint16_t TAGS[] = { 0x8100, 0x88a8, 0x9100 };

/* What goes into a frame, chosen before it is written. */
struct plan {
	uint16_t et;
	uint8_t src[16], dst[16];
	unsigned sport, dport, proto;
};

static void pool_addr(struct rng *r, bool v6, uint8_t *a)
{
	memset(a, 0, 16);
	if (!v6 && pick(r, 8) == 0) {
		for (unsigned i = 0; i < 4; i++)
			a[i] = (uint8_t)rnd(r);
		return;
	}
	if (v6)
		inet_pton(AF_INET6, V6[pick(r, 4)], a);
	else
		inet_pton(AF_INET, V4[pick(r, 5)], a);
	if (v6 && pick(r, 10) == 0)
		a[pick(r, 16)] ^= (uint8_t)(1u << pick(r, 8));
}

static unsigned port(struct rng *r)
{
	return pick(r, 4) ? PORTS[pick(r, 7)] : rnd(r) & 0xffff;
}

static void random_plan(struct rng *r, struct plan *pl)
{
	static const uint16_t types[] = { 0x0800, 0x0800, 0x0800, 0x86dd,
					  0x86dd, 0x0806, 0x8035, 0x88cc,
					  0x0026 };

	pl->et = types[pick(r, 9)];
	pool_addr(r, pl->et == 0x86dd, pl->src);
	pool_addr(r, pl->et == 0x86dd, pl->dst);
	pl->sport = port(r);
	pl->dport = port(r);
	if (pick(r, 6) == 0)
		pl->proto = rnd(r) & 0xff;
	else
		pl->proto = pl->et == 0x86dd ? PROTOS6[pick(r, 8)] :
			    PROTOS4[pick(r, 8)];
}

/* A plan with what one alternative of the hint asks for, in a random
 * direction; the rest random. */
static void hint_plan(struct rng *r, const struct fs_bpf_alt *x,
		      struct plan *pl)
{
	bool v6 = x->kind == FS_FLOW_IP6, swap = pick(r, 2);
	uint8_t other[16];

	if (x->kind == FS_FLOW_L2) {
		pl->et = x->ethertype;
		return;
	}
	pl->et = v6 ? 0x86dd : 0x0800;
	pool_addr(r, v6, other);
	memcpy(swap ? pl->dst : pl->src, x->addr, 16);
	memcpy(swap ? pl->src : pl->dst,
	       x->flags & FS_BPF_ALT_PEER ? x->peer : other, 16);
	if (x->flags & FS_BPF_ALT_TUPLE) {
		pl->sport = swap ? x->peer_port : x->port;
		pl->dport = swap ? x->port : x->peer_port;
	} else if (x->flags & FS_BPF_ALT_PORT) {
		if (pick(r, 2))
			pl->sport = x->port;
		else
			pl->dport = x->port;
	}
	if (x->proto)
		pl->proto = x->proto;
}

static void l4(struct rng *r, struct frame *f, const struct plan *pl)
{
	put16(f, pl->sport);
	put16(f, pl->dport);
	junk(r, f, 16);
}

static void ipv4(struct rng *r, struct frame *f, const struct plan *pl)
{
	static const unsigned frag[] = { 0, 0, 0, 0x4000, 0x2000, 0x0010,
					 0x2010 };
	unsigned ihl = pick(r, 4) ? 5 : 3 + pick(r, 5);	/* 3 .. 7 */
	unsigned ver = pick(r, 20) ? 4 : 6;

	put8(f, ver << 4 | ihl);
	put8(f, 0);
	put16(f, 20 + 4 * pick(r, 20));
	put16(f, rnd(r));
	put16(f, frag[pick(r, 7)]);
	put8(f, pick(r, 2) ? 64 : 1 + pick(r, 255));
	put8(f, pl->proto);
	put16(f, 0);
	putn(f, pl->src, 4);
	putn(f, pl->dst, 4);
	for (unsigned i = 5; i < ihl; i++) {
		put16(f, 0x0101);
		put16(f, 0x0100);
	}
	l4(r, f, pl);
}

static void ipv6(struct rng *r, struct frame *f, const struct plan *pl)
{
	unsigned n = pick(r, 3) ? 0 : 1 + pick(r, 2), ext[2];

	for (unsigned i = 0; i < n; i++)
		ext[i] = EXT6[pick(r, 5)];
	put16(f, pick(r, 20) ? 0x6000 : 0x4000);
	put16(f, 0);
	put16(f, 40);
	put8(f, n ? ext[0] : pl->proto);
	put8(f, 64);
	putn(f, pl->src, 16);
	putn(f, pl->dst, 16);
	for (unsigned i = 0; i < n; i++) {
		put8(f, i + 1 < n ? ext[i + 1] : pl->proto);
		put8(f, 0);	/* 8 bytes long, AH as well */
		if (ext[i] == 44) {
			put16(f, pick(r, 2) ? 1 : 0x0108);
			junk(r, f, 4);
		} else {
			junk(r, f, 6);
		}
	}
	l4(r, f, pl);
}

static void arp(struct rng *r, struct frame *f, const struct plan *pl)
{
	put16(f, 1);
	put16(f, 0x0800);
	put8(f, 6);
	put8(f, 4);
	put16(f, 1 + pick(r, 2));
	junk(r, f, 6);
	putn(f, pl->src, 4);
	junk(r, f, 6);
	putn(f, pl->dst, 4);
}

/*
 * One Ethernet frame: 0-2 VLAN tags, IPv4 (with options, fragments, bad
 * versions and header lengths), IPv6 (with extension headers), ARP,
 * RARP or other EtherTypes; addresses and ports from small pools or, a
 * quarter of the time, what an alternative of the hint names; then
 * sometimes a flipped byte or a cut capture length.
 */
static void gen(struct rng *r, const struct fs_bpf_hint *h, struct frame *f,
		uint32_t *caplen)
{
	unsigned ntags = pick(r, 10) < 6 ? 0 : 1 + pick(r, 2);
	struct plan pl;

	random_plan(r, &pl);
	if (h->n && pick(r, 4) == 0)
		hint_plan(r, &h->alt[pick(r, h->n)], &pl);
	f->n = 0;
	put16(f, 0x0011);
	put16(f, pick(r, 2) ? 0x2233 : 0x4455);
	put16(f, 0x4455);
	junk(r, f, 6);
	for (unsigned i = 0; i < ntags; i++) {
		put16(f, TAGS[pick(r, 3)]);
		put16(f, pick(r, 2) ? 5 : rnd(r) & 0xffff);
	}
	put16(f, pl.et);
	if (pl.et == 0x0800)
		ipv4(r, f, &pl);
	else if (pl.et == 0x86dd)
		ipv6(r, f, &pl);
	else if (pl.et == 0x0806 || pl.et == 0x8035)
		arp(r, f, &pl);
	junk(r, f, pick(r, 90));
	if (pick(r, 10) == 0)
		f->b[pick(r, f->n)] ^= (uint8_t)(1u << pick(r, 8));
	*caplen = pick(r, 4) ? f->n : pick(r, f->n + 1);
}

/* Frames the filter accepts, and frames outside the hint. */
struct tally {
	unsigned accepted, outside;
};

static struct tally check_prog(const struct bpf_program *prog,
			       const char *name, unsigned n, uint64_t seed)
{
	struct fs_bpf_hint h;
	struct tally t = { 0, 0 };
	struct rng r = { seed };
	struct frame f;
	char text[8192];

	ck_assert_int_eq(fs_bpf_hint(prog->bf_insns, prog->bf_len, &h), 0);
	fs_bpf_hint_str(&h, text, sizeof(text));
	for (unsigned i = 0; i < n; i++) {
		struct pcap_pkthdr hdr = { 0 };
		struct fs_pkt_info info;
		bool in;

		gen(&r, &h, &f, &hdr.caplen);
		hdr.len = f.n;
		fs_flow_parse(f.b, hdr.caplen, &info);
		in = fs_bpf_hint_match(&h, &info.key);
		t.outside += !in;
		if (!pcap_offline_filter(prog, &hdr, f.b))
			continue;
		t.accepted++;
		if (!in) {
			char key[256];

			fs_flow_key_str(&info.key, key, sizeof(key));
			ck_abort_msg("%s accepts frame %u (%u of %u bytes, "
				     "flow %s) outside its hint %s", name, i,
				     hdr.caplen, f.n, key, text);
		}
	}
	return t;
}

static struct tally check_frames(const char *filter, int opt, unsigned n,
				 uint64_t seed)
{
	struct bpf_program prog;
	struct tally t;
	char name[4096];

	snprintf(name, sizeof(name), "\"%s\" (optimize %d)", filter, opt);
	compile(filter, opt, &prog);
	t = check_prog(&prog, name, n, seed);
	pcap_freecode(&prog);
	return t;
}

/*
 * A program that reads TCP ports without testing the fragment offset:
 * a later fragment has no ports for the flow parser (and gets those of
 * its first fragment in the analyzer), so the ports must not count.
 */
START_TEST(ports_need_first_fragment)
{
	static struct bpf_insn insns[] = {
		STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x800, 0, 7),
		STMT(BPF_LD | BPF_W | BPF_ABS, 26),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0a000001, 0, 5),
		STMT(BPF_LD | BPF_B | BPF_ABS, 23),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 3),
		STMT(BPF_LDX | BPF_B | BPF_MSH, 14),
		STMT(BPF_LD | BPF_H | BPF_IND, 14),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 80, 1, 0),
		STMT(BPF_RET | BPF_K, 0),
		STMT(BPF_RET | BPF_K, 65535),
	};
	static struct bpf_insn checked[] = {
		STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x800, 0, 9),
		STMT(BPF_LD | BPF_W | BPF_ABS, 26),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0a000001, 0, 7),
		STMT(BPF_LD | BPF_B | BPF_ABS, 23),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 5),
		STMT(BPF_LD | BPF_H | BPF_ABS, 20),
		JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 3, 0),
		STMT(BPF_LDX | BPF_B | BPF_MSH, 14),
		STMT(BPF_LD | BPF_H | BPF_IND, 16),
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 80, 1, 0),
		STMT(BPF_RET | BPF_K, 0),
		STMT(BPF_RET | BPF_K, 65535),
	};
	struct bpf_program prog = { sizeof(insns) / sizeof(insns[0]), insns };
	struct fs_bpf_hint h;
	char got[256];
	struct tally t;

	ck_assert_int_eq(fs_bpf_hint(insns, prog.bf_len, &h), 0);
	hint_text(&h, got, sizeof(got));
	ck_assert_str_eq(got, "10.0.0.1 proto 6");
	t = check_prog(&prog, "tcp port 80 without the fragment test", 6000,
		       5);
	ck_assert_uint_gt(t.accepted, 0);

	/* with the test, the port counts */
	prog.bf_insns = checked;
	prog.bf_len = sizeof(checked) / sizeof(checked[0]);
	ck_assert_int_eq(fs_bpf_hint(checked, prog.bf_len, &h), 0);
	hint_text(&h, got, sizeof(got));
	ck_assert_str_eq(got, "10.0.0.1 port 80 proto 6");
	t = check_prog(&prog, "tcp dst port 80 by hand", 6000, 7);
	ck_assert_uint_gt(t.accepted, 0);
}
END_TEST

START_TEST(hints_are_sound)
{
	static const char *const more[] = {
		"(host 10.0.1.1 or host 10.0.1.2 or host 10.0.1.3 or "
		"host 10.0.1.4 or host 10.0.1.5 or host 10.0.1.6 or "
		"host 10.0.1.7 or host 10.0.1.8 or host 10.0.1.9 or "
		"host 10.0.1.10 or host 10.0.1.11 or host 10.0.1.12 or "
		"host 10.0.1.13 or host 10.0.1.14 or host 10.0.1.15 or "
		"host 10.0.1.16 or host 10.0.1.17 or host 10.0.1.18 or "
		"host 10.0.1.19 or host 10.0.1.20 or host 10.0.1.21 or "
		"host 10.0.1.22 or host 10.0.1.23 or host 10.0.1.24) "
		"and port 80",
		"ip6 and src fd00::1 and src port 53",
		"ip6 proto 44 and host fd00::1",
		"ip6 and host fd00::1 and ip6[40] = 6",
		"host 10.0.0.1 and ip[6:2] & 0x1fff = 0 and tcp[0:2] = 80",
		"host 10.0.0.1 and (tcp[0:4] = 0x00010002 or udp[2:2] = 2)",
		"vlan and (host 10.0.0.1 and port 53)",
		"vlan 5 and vlan and host fd00::1 and udp",
		"src host 10.0.0.1 and dst host 10.0.0.1",
		"arp and host 10.0.0.1",
		"sctp and host 10.0.0.2 and dst port 22",
	};
	unsigned total = 0;

	for (int opt = 1; opt >= 0; opt--) {
		for (unsigned i = 0; i < NTABLE + sizeof(more) / sizeof(more[0]);
		     i++) {
			const char *filter = i < NTABLE ? table[i].filter :
					     more[i - NTABLE];
			struct fs_bpf_hint h;
			struct tally t;

			t = check_frames(filter, opt, 6000, 0x9e3779b97f4a7c15ULL + i);
			/* the check means something: the filter accepts
			 * frames, and a hint leaves some out */
			ck_assert_msg(t.accepted > 0, "\"%s\" accepts nothing",
				      filter);
			hint_of(filter, opt, &h);
			ck_assert_msg(h.none || t.outside > 0,
				      "\"%s\": every frame in its hint", filter);
			total += t.accepted;
		}
	}
	ck_assert_uint_gt(total, 10000);
}
END_TEST

/*
 * Random programs, biased toward the loads and constants of the frames
 * above so that some of them prove something: their hints must be as
 * sound as those of compiled filters.
 */
static uint32_t random_const(struct rng *r)
{
	static const uint32_t k[] = { 0x0800, 0x86dd, 0x8100, 0x0806, 6, 17,
				      132, 44, 1, 2, 22, 53, 80, 0x1fff,
				      0x0a000001, 0x0a000002, 0xfd000000, 0,
				      0xff, 0xf0, 4, 14, 18 };

	return pick(r, 8) ? k[pick(r, sizeof(k) / sizeof(k[0]))] : rnd(r);
}

static uint32_t random_off(struct rng *r)
{
	static const uint32_t k[] = { 12, 16, 20, 23, 26, 30, 22, 34, 38, 50,
				      54, 56, 14, 18, 27, 0xfffff02c };

	return pick(r, 8) ? k[pick(r, sizeof(k) / sizeof(k[0]))] :
			    pick(r, 80);
}

/* One instruction that is neither a test nor a return. */
static struct bpf_insn random_stmt(struct rng *r, unsigned left)
{
	static const uint16_t sizes[] = { BPF_B, BPF_H, BPF_W };
	static const uint16_t alu[] = { BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV,
					BPF_OR, BPF_AND, BPF_LSH, BPF_RSH,
					BPF_NEG, BPF_MOD, BPF_XOR };
	uint16_t sz = sizes[pick(r, 3)];
	uint32_t k = random_off(r);
	uint16_t code;

	switch (pick(r, 10)) {
	case 0: case 1: code = BPF_LD | sz | BPF_ABS; break;
	case 2: code = BPF_LD | sz | BPF_IND; break;
	case 3:
		code = BPF_LDX | BPF_B | BPF_MSH;
		k = pick(r, 3) ? 14 : random_off(r);
		break;
	case 4:
		code = pick(r, 2) ? BPF_LDX | BPF_IMM : BPF_LD | BPF_IMM;
		k = pick(r, 2) ? 4 * pick(r, 3) : random_const(r);
		break;
	case 5:
		code = (uint16_t)(pick(r, 2) ? BPF_ST : BPF_STX);
		k = pick(r, BPF_MEMWORDS);
		break;
	case 6:
		code = (uint16_t)((pick(r, 2) ? BPF_LD : BPF_LDX) | BPF_MEM);
		k = pick(r, BPF_MEMWORDS);
		break;
	case 7:
		code = BPF_ALU | alu[pick(r, 11)] |
		       (pick(r, 4) ? BPF_K : BPF_X);
		k = random_const(r);
		/* what libpcap's interpreter refuses or traps on */
		if (BPF_OP(code) == BPF_NEG)
			code = BPF_ALU | BPF_NEG;
		if (BPF_SRC(code) == BPF_K && !k &&
		    (BPF_OP(code) == BPF_DIV || BPF_OP(code) == BPF_MOD))
			k = 3;
		break;
	case 8:
		code = BPF_MISC | (pick(r, 2) ? BPF_TAX : BPF_TXA);
		break;
	default:
		code = BPF_JMP | BPF_JA;
		k = pick(r, left);
		break;
	}
	return (struct bpf_insn){ code, 0, 0, k };
}

/* Header fields of the frames above, with values they often have. */
static const struct field {
	uint8_t ind;		/* after ldxb 4*([14]&0xf) */
	uint8_t width;
	uint16_t off;
	uint32_t v[4];		/* 0-terminated, v[0] may be 0 */
} FIELDS[] = {
	{ 0, 2, 12, { 0x0800, 0x86dd, 0x8100, 0x0806 } },
	{ 0, 2, 16, { 0x0800, 0x86dd, 0x0806, 0 } },
	{ 0, 2, 20, { 0x0800, 0x86dd, 0, 0 } },
	{ 0, 4, 26, { 0x0a000001, 0x0a000002, 0, 0 } },
	{ 0, 4, 30, { 0x0a000001, 0x0a000002, 0, 0 } },
	{ 0, 4, 34, { 0x0a000001, 0x0a000002, 0, 0 } },
	{ 0, 4, 28, { 0x0a000001, 0, 0, 0 } },
	{ 0, 1, 23, { 6, 17, 132, 1 } },
	{ 0, 1, 27, { 6, 17, 0, 0 } },
	{ 0, 1, 20, { 6, 17, 44, 58 } },
	{ 0, 2, 20, { 0x1fff, 0x2000, 0, 0 } },
	{ 0, 2, 24, { 0x1fff, 0, 0, 0 } },
	{ 0, 4, 22, { 0xfd000000, 0, 0, 0 } },
	{ 0, 4, 26, { 0, 0, 0, 0 } },
	{ 0, 4, 30, { 0, 0, 0, 0 } },
	{ 0, 4, 34, { 1, 2, 0, 0 } },
	{ 0, 4, 38, { 0xfd000000, 0, 0, 0 } },
	{ 0, 4, 50, { 1, 2, 0, 0 } },
	{ 0, 2, 54, { 53, 80, 1, 0 } },
	{ 0, 2, 56, { 53, 80, 2, 0 } },
	{ 0, 1, 54, { 6, 17, 0, 0 } },
	{ 1, 2, 14, { 1, 2, 53, 80 } },
	{ 1, 2, 16, { 1, 2, 53, 80 } },
	{ 1, 2, 18, { 1, 2, 53, 80 } },
	{ 1, 4, 14, { 0x00010002, 0x00500035, 0, 0 } },
};

static uint16_t size_code(unsigned width)
{
	return width == 4 ? BPF_W : width == 2 ? BPF_H : BPF_B;
}

/* An IPv6 address test of pcap's shape at p[i]: four words, the first
 * that differs goes to the end of the test or to "reject". */
static unsigned ip6_addr(struct rng *r, struct bpf_insn *p, unsigned i,
			 unsigned n)
{
	static const uint32_t words[] = { 0xfd000000, 0, 0, 1 };
	uint32_t off = pick(r, 2) ? 22 : 38;
	bool skip = pick(r, 2);

	for (unsigned j = 0; j < 4; j++) {
		uint32_t v = words[j];

		if (j == 3)
			v = 1 + pick(r, 3);
		p[i++] = (struct bpf_insn){ BPF_LD | BPF_W | BPF_ABS, 0, 0,
					    off + 4 * j };
		p[i] = (struct bpf_insn){ BPF_JMP | BPF_JEQ | BPF_K, 0,
					  (uint8_t)(skip ? 2 * (3 - j) :
						    n - i - 2), v };
		if (j == 3 && pick(r, 2))
			p[i].jt = (uint8_t)pick(r, n - i - 2);
		i++;
	}
	return i;
}

/*
 * A program of pcap-like tests (a load of a header field, a comparison
 * with a value the frames use, mostly in the shapes of "and" and "or")
 * among random statements, ending in "accept" and "reject".
 */
static unsigned random_prog(struct rng *r, struct bpf_insn *p, unsigned max)
{
	static const uint16_t jmp[] = { BPF_JEQ, BPF_JEQ, BPF_JEQ, BPF_JEQ,
					BPF_JGT, BPF_JGE, BPF_JSET };
	unsigned n = 6 + pick(r, max - 6), i = 0;

	while (i + 4 < n) {
		const struct field *f = &FIELDS[pick(r, sizeof(FIELDS) /
						      sizeof(FIELDS[0]))];
		unsigned nv = 1, last, op = jmp[pick(r, 7)];
		uint32_t v;

		if (i == 0 && pick(r, 4)) {
			/* most start like pcap's: the EtherType */
			f = &FIELDS[0];
			op = BPF_JEQ;
		} else if (i + 10 < n && pick(r, 8) == 0) {
			i = ip6_addr(r, p, i, n);
			continue;
		}
		if (pick(r, 6) == 0) {
			p[i] = random_stmt(r, n - i - 1);
			i++;
			continue;
		}
		while (nv < 4 && f->v[nv])
			nv++;
		v = pick(r, 10) ? f->v[pick(r, nv)] : random_const(r);
		if (f->ind && pick(r, 4))
			p[i++] = (struct bpf_insn){ BPF_LDX | BPF_B | BPF_MSH,
						    0, 0, 14 };
		p[i++] = (struct bpf_insn){ BPF_LD | size_code(f->width) |
					    (f->ind ? BPF_IND : BPF_ABS),
					    0, 0, f->off };
		last = n - i - 2;	/* the jump offset to "reject" */
		if (last > 255)
			last = 255;
		p[i] = (struct bpf_insn){ (uint16_t)(BPF_JMP | op | BPF_K),
					  0, 0, v };
		switch (pick(r, 4)) {
		case 0:
		case 1:		/* and: go on or reject */
			p[i].jf = (uint8_t)last;
			break;
		case 2:		/* or: accept (or a later test) or go on */
			p[i].jt = (uint8_t)pick(r, last);
			break;
		default:
			p[i].jt = (uint8_t)pick(r, last + 1);
			p[i].jf = (uint8_t)pick(r, last + 1);
			break;
		}
		i++;
	}
	while (i < n - 2) {
		p[i] = random_stmt(r, n - i - 1);
		i++;
	}
	p[n - 2] = (struct bpf_insn){ BPF_RET | BPF_K, 0, 0, 65535 };
	p[n - 1] = (struct bpf_insn){ BPF_RET | (pick(r, 4) ? BPF_K : BPF_A),
				      0, 0, 0 };
	return n;
}

START_TEST(random_programs_are_sound)
{
	struct rng r = { 0x2545f4914f6cdd1dULL };
	unsigned proved = 0, useful = 0;

	for (unsigned it = 0; it < 30000; it++) {
		struct bpf_insn insns[48];
		struct bpf_program prog;
		struct fs_bpf_hint h;
		struct tally t;

		prog.bf_len = random_prog(&r, insns, 48);
		prog.bf_insns = insns;
		ck_assert_int_eq(fs_bpf_hint(insns, prog.bf_len, &h), 0);
		if (h.none)
			continue;
		proved++;
		t = check_prog(&prog, "a random program", 300, it);
		useful += t.accepted > 0;
	}
	/* enough programs proved something and accepted frames */
	ck_assert_uint_gt(proved, 3000);
	ck_assert_uint_gt(useful, 300);
}
END_TEST

/* Keys built for flows, checked one by one. */
START_TEST(match_keys)
{
	struct fs_bpf_hint h;
	struct fs_flow_key k;

	hint_of("host 10.0.0.1 and host 10.0.0.2 and tcp port 80 and port 1234",
		1, &h);
	memset(&k, 0, sizeof(k));
	k.kind = FS_FLOW_IP4;
	k.ethertype = 0x0800;
	k.proto = 6;
	inet_pton(AF_INET, "10.0.0.1", k.a);
	inet_pton(AF_INET, "10.0.0.2", k.b);
	k.port_a = 1234;
	k.port_b = 80;
	ck_assert(fs_bpf_hint_match(&h, &k));
	k.port_a = 80;
	k.port_b = 1234;
	ck_assert(fs_bpf_hint_match(&h, &k));
	k.port_b = 1235;
	ck_assert(!fs_bpf_hint_match(&h, &k));
	/* no ports: cut before them, so it may match */
	k.port_a = k.port_b = 0;
	ck_assert(fs_bpf_hint_match(&h, &k));
	k.port_a = 1234;
	k.port_b = 80;
	k.proto = 17;
	ck_assert(!fs_bpf_hint_match(&h, &k));
	k.proto = 6;
	inet_pton(AF_INET, "10.0.0.3", k.b);
	ck_assert(!fs_bpf_hint_match(&h, &k));
	/* an IPv4 frame the parser keyed by MACs */
	memset(&k, 0, sizeof(k));
	k.kind = FS_FLOW_L2;
	k.ethertype = 0x0800;
	ck_assert(fs_bpf_hint_match(&h, &k));
	k.ethertype = 0x86dd;
	ck_assert(!fs_bpf_hint_match(&h, &k));
	k.ethertype = 0x0806;
	ck_assert(!fs_bpf_hint_match(&h, &k));
	hint_of("host 10.0.0.1", 1, &h);
	ck_assert(fs_bpf_hint_match(&h, &k));
	hint_of("tcp", 1, &h);
	ck_assert(fs_bpf_hint_match(&h, &k));
}
END_TEST

START_TEST(hint_text_bounds)
{
	struct fs_bpf_hint h;
	char big[4096], small[16];
	int n;

	hint_of("host 10.0.0.1 or host fd00::1", 1, &h);
	n = fs_bpf_hint_str(&h, big, sizeof(big));
	ck_assert_int_eq(n, (int)strlen(big));
	ck_assert_int_eq(fs_bpf_hint_str(&h, small, sizeof(small)), n);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert(!strncmp(big, small, sizeof(small) - 1));
	ck_assert_int_eq(fs_bpf_hint_str(&h, NULL, 0), n);
}
END_TEST

static Suite *bpfhint_suite(void)
{
	Suite *s = suite_create("bpfhint");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hints_of_filters);
	tcase_add_test(tc, loosened_when_too_many);
	tcase_add_test(tc, invalid_programs);
	tcase_add_test(tc, contradiction);
	tcase_add_test(tc, path_explosion);
	tcase_add_test(tc, vlan_through_scratch_memory);
	tcase_add_test(tc, ports_need_first_fragment);
	tcase_add_test(tc, hints_are_sound);
	tcase_add_test(tc, random_programs_are_sound);
	tcase_add_test(tc, match_keys);
	tcase_add_test(tc, hint_text_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bpfhint_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
