/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hints from compiled filters (see bpfhint.h): a walk of every path of
 * the program's control flow graph, a reading of what each accepting
 * path proves about the frame, and the reduction of those alternatives
 * to a small set the index can test.
 */
#include "bpfhint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Classic BPF only jumps forward, so the graph is acyclic and its paths
 * are finite; but their number doubles with every test, so the walk has
 * budgets. Beyond them the hint is "none", which is always true.
 */
#define MAX_PATHS	2048		/* accepting paths */
#define MAX_STEPS	(1u << 18)	/* instructions over all paths */
#define MAX_CONS	48		/* facts kept per path */
#define MAX_SET		512		/* alternatives before reduction */
#define MAX_TAGS	8		/* VLAN tags read before the EtherType */

/* Linux reads offsets from here up relative to other headers or as
 * "special" values (vlanp, ...): they say nothing about frame bytes */
#define SKF_LL_OFF	0xffe00000u

#define ET_IP4		0x0800
#define ET_IP6		0x86dd
#define ET_MIN		0x0600

/* ---- abstract values of A, X and the scratch memory ---- */

enum vkind {
	V_UNKNOWN,
	V_CONST,	/* c */
	V_PKT,		/* bytes [off, off + width) of the frame, & mask */
	V_IND,		/* the same at off + 4 * (frame[base] & 0xf) */
	V_MSH,		/* 4 * (frame[base] & 0xf) + off */
};

struct val {
	uint8_t kind;	/* enum vkind */
	uint8_t width;	/* V_PKT, V_IND: 1, 2 or 4 */
	uint32_t base;
	uint32_t off;
	uint32_t mask;
	uint32_t c;
};

/* A fact about frame bytes, true on the path: (load & mask) == v, or,
 * with neq, (load & mask) != v. The load is as in struct val (V_PKT or
 * V_IND); facts about V_IND loads compare only with those of the same
 * base, since the header length is not known. */
struct fact {
	uint8_t kind;
	uint8_t width;
	uint8_t neq;
	uint32_t base;
	uint32_t off;
	uint32_t mask;
	uint32_t v;
};

struct path {
	unsigned pc;
	struct val a, x, m[BPF_MEMWORDS];
	unsigned nfacts;
	struct fact f[MAX_CONS];
};

struct walk {
	const struct bpf_insn *insns;
	unsigned n;
	struct path *stack;	/* paths still to follow */
	unsigned depth, cap;
	unsigned steps, paths;
	bool none;		/* some accepting path proves nothing */
	struct fs_bpf_alt *set;	/* alternatives so far, reduced */
	unsigned nset;
};

static uint32_t width_mask(unsigned width)
{
	return width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
}

static struct val unknown(void)
{
	return (struct val){ .kind = V_UNKNOWN };
}

static struct val konst(uint32_t c)
{
	return (struct val){ .kind = V_CONST, .c = c };
}

static bool is_load(const struct val *v)
{
	return v->kind == V_PKT || v->kind == V_IND;
}

/* ---- facts ---- */

/* Byte i (0: the first in the frame) of a fact-sized field. */
static uint8_t byte_of(uint32_t w, unsigned width, unsigned i)
{
	return (uint8_t)(w >> (8 * (width - 1 - i)));
}

static bool same_space(const struct fact *a, uint8_t kind, uint32_t base)
{
	return a->kind == kind && (kind == V_PKT || a->base == base);
}

/*
 * What the path's equalities fix of the field (kind, base, off, width)
 * under mask: true with *v set when every bit of mask is known.
 */
static bool known(const struct path *p, uint8_t kind, uint32_t base,
		  uint32_t off, unsigned width, uint32_t mask, uint32_t *v)
{
	uint32_t val = 0;

	for (unsigned i = 0; i < width; i++) {
		uint8_t want = byte_of(mask, width, i), have = 0, bits = 0;
		uint64_t pos = (uint64_t)off + i;

		for (unsigned j = 0; j < p->nfacts && (have & want) != want;
		     j++) {
			const struct fact *f = &p->f[j];
			unsigned at;
			uint8_t fm;

			if (f->neq || !same_space(f, kind, base) ||
			    pos < f->off || pos >= (uint64_t)f->off + f->width)
				continue;
			at = (unsigned)(pos - f->off);
			fm = byte_of(f->mask, f->width, at);
			bits |= byte_of(f->v, f->width, at) & fm;
			have |= fm;
		}
		if ((have & want) != want)
			return false;
		val = val << 8 | (bits & want);
	}
	*v = val;
	return true;
}

/* Whether two equalities disagree on some bit of the same byte. */
static bool clash(const struct fact *a, const struct fact *b)
{
	for (unsigned i = 0; i < a->width; i++) {
		uint64_t pos = (uint64_t)a->off + i;
		unsigned j;
		uint8_t m;

		if (pos < b->off || pos >= (uint64_t)b->off + b->width)
			continue;
		j = (unsigned)(pos - b->off);
		m = byte_of(a->mask, a->width, i) & byte_of(b->mask, b->width, j);
		if ((byte_of(a->v, a->width, i) ^ byte_of(b->v, b->width, j)) &
		    m)
			return true;
	}
	return false;
}

/*
 * Make room for an equality: an inequality leaves, which only makes the
 * result looser (an impossible path may be kept). False if every fact is
 * an equality.
 */
static bool evict_neq(struct path *p)
{
	for (unsigned j = p->nfacts; j-- > 0;) {
		if (p->f[j].neq) {
			p->f[j] = p->f[--p->nfacts];
			return true;
		}
	}
	return false;
}

/*
 * Add a fact to the path; false if it contradicts what the path already
 * proves (the path is then impossible and is dropped). Inequalities the
 * equalities decide are dropped, since they hold anyway; a path with no
 * room left forgets an inequality first, then the new fact, which only
 * makes the result looser.
 */
static bool add_fact(struct path *p, const struct val *a, uint32_t mask,
		     uint32_t v, bool neq)
{
	struct fact nf = {
		.kind = a->kind, .width = a->width, .neq = neq,
		.base = a->base, .off = a->off, .mask = mask, .v = v & mask,
	};
	bool decided[MAX_CONS];
	uint32_t w;
	unsigned j, k;

	if (v & ~mask)	/* the masked value cannot have these bits */
		return neq;
	if (neq) {
		if (known(p, nf.kind, nf.base, nf.off, nf.width, nf.mask, &w))
			return w != nf.v;
		if (p->nfacts < MAX_CONS)
			p->f[p->nfacts++] = nf;
		return true;
	}
	for (j = 0; j < p->nfacts; j++)
		if (!p->f[j].neq && same_space(&p->f[j], nf.kind, nf.base) &&
		    clash(&nf, &p->f[j]))
			return false;
	if (p->nfacts == MAX_CONS && !evict_neq(p))
		return true;
	p->f[p->nfacts++] = nf;
	for (j = 0; j < p->nfacts; j++) {
		const struct fact *f = &p->f[j];

		decided[j] = f->neq && same_space(f, nf.kind, nf.base) &&
			     known(p, f->kind, f->base, f->off, f->width,
				   f->mask, &w);
		if (decided[j] && w == f->v)
			return false;
	}
	for (j = k = 0; j < p->nfacts; j++)
		if (!decided[j])	/* a decided one holds: it goes */
			p->f[k++] = p->f[j];
	p->nfacts = k;
	return true;
}

/* ---- reading an accepting path ---- */

static bool kn(const struct path *p, uint32_t off, unsigned width,
	       uint32_t *v)
{
	return known(p, V_PKT, 0, off, width, width_mask(width), v);
}

static bool has_ports(uint32_t proto)
{
	return proto == 6 || proto == 17 || proto == 33 || proto == 132 ||
	       proto == 136;
}

/* IPv6 extension headers the flow parser walks (flowkey.c) */
static bool is_ext6(uint32_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60;
}

static bool kn_bytes(const struct path *p, uint32_t off, unsigned len,
		     uint8_t *out)
{
	uint32_t w;

	for (unsigned i = 0; i < len; i += 4) {
		if (!kn(p, off + i, 4, &w))
			return false;
		w = htonl(w);
		memcpy(out + i, &w, 4);
	}
	return true;
}

static int addr_cmp(const struct fs_bpf_alt *x)
{
	return memcmp(x->addr, x->peer, sizeof(x->addr));
}

/* Put an alternative in its canonical form (bpfhint.h). */
static void canon(struct fs_bpf_alt *x)
{
	uint8_t t[16];
	uint16_t tp;
	int c;

	if (!(x->flags & FS_BPF_ALT_PEER))
		return;
	c = addr_cmp(x);
	if (x->flags & FS_BPF_ALT_TUPLE)
		c = c ? c : (x->port > x->peer_port) - (x->port < x->peer_port);
	if (c <= 0)
		return;
	memcpy(t, x->addr, 16);
	memcpy(x->addr, x->peer, 16);
	memcpy(x->peer, t, 16);
	if (x->flags & FS_BPF_ALT_TUPLE) {
		tp = x->port;
		x->port = x->peer_port;
		x->peer_port = tp;
	}
}

/*
 * The addresses, ports and protocol an IP path proves, at IP header
 * offset l3, into an alternative. Ports count only where the flow parser
 * reads them at the same place: IPv4 with a known protocol that has
 * ports, the fragment offset proven 0 and the ports read behind the
 * header length; IPv6 with that protocol as the first next header.
 */
static bool ip_alt(const struct path *p, unsigned kind, uint32_t l3,
		   struct fs_bpf_alt *x)
{
	unsigned alen = kind == FS_FLOW_IP4 ? 4 : 16;
	uint32_t soff = l3 + (kind == FS_FLOW_IP4 ? 12 : 8);
	uint8_t src[16] = { 0 }, dst[16] = { 0 };
	uint32_t proto = 0, nh, v, sp = 0, dp = 0;
	bool hs, hd, hsp = false, hdp = false;

	hs = kn_bytes(p, soff, alen, src);
	hd = kn_bytes(p, soff + alen, alen, dst);
	if (!hs && !hd)
		return false;
	if (kind == FS_FLOW_IP4) {
		if (kn(p, l3 + 9, 1, &proto) && has_ports(proto) &&
		    known(p, V_PKT, 0, l3 + 6, 2, 0x1fff, &v) && v == 0) {
			hsp = known(p, V_IND, l3, l3, 2, 0xffff, &sp);
			hdp = known(p, V_IND, l3, l3 + 2, 2, 0xffff, &dp);
		}
	} else if (kn(p, l3 + 6, 1, &nh)) {
		if (!is_ext6(nh)) {
			proto = nh;
			if (has_ports(nh)) {
				hsp = kn(p, l3 + 40, 2, &sp);
				hdp = kn(p, l3 + 42, 2, &dp);
			}
		} else if (nh == 44 && kn(p, l3 + 40, 1, &v) && !is_ext6(v)) {
			/* behind a fragment header: first or later fragment,
			 * the parser's protocol is that next header */
			proto = v;
		}
	}
	memset(x, 0, sizeof(*x));
	x->kind = (uint8_t)kind;
	x->proto = (uint8_t)proto;
	if (hs && hd && hsp && hdp) {
		x->flags = FS_BPF_ALT_PEER | FS_BPF_ALT_PORT | FS_BPF_ALT_TUPLE;
		memcpy(x->addr, src, 16);
		memcpy(x->peer, dst, 16);
		x->port = (uint16_t)sp;
		x->peer_port = (uint16_t)dp;
	} else {
		memcpy(x->addr, hs ? src : dst, 16);
		if (hs && hd) {
			x->flags |= FS_BPF_ALT_PEER;
			memcpy(x->peer, dst, 16);
		}
		if (hsp || hdp) {
			x->flags |= FS_BPF_ALT_PORT;
			x->port = (uint16_t)(hsp ? sp : dp);
		}
	}
	canon(x);
	return true;
}

/*
 * The alternative an accepting path proves: follow the EtherType through
 * VLAN tags as pcap lays them out (each tag shifts what follows by 4);
 * an IP EtherType needs an address, any other EtherType is an L2
 * alternative. False when the path proves too little.
 */
static bool path_alt(const struct path *p, struct fs_bpf_alt *x)
{
	uint32_t off = 12, et;

	for (unsigned t = 0;; t++) {
		if (!kn(p, off, 2, &et))
			return false;
		if (et != 0x8100 && et != 0x88a8 && et != 0x9100)
			break;
		if (t == MAX_TAGS)
			return false;
		off += 4;
	}
	if (et == ET_IP4)
		return ip_alt(p, FS_FLOW_IP4, off + 2, x);
	if (et == ET_IP6)
		return ip_alt(p, FS_FLOW_IP6, off + 2, x);
	memset(x, 0, sizeof(*x));
	x->kind = FS_FLOW_L2;
	x->ethertype = (uint16_t)(et >= ET_MIN ? et : 0);
	return true;
}

/* ---- the set of alternatives ---- */

static bool same16(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 16) == 0;
}

/* Whether every packet satisfying x satisfies y (conservative: false
 * when unsure). */
static bool implies(const struct fs_bpf_alt *x, const struct fs_bpf_alt *y)
{
	bool xpeer = x->flags & FS_BPF_ALT_PEER;

	if (x->kind != y->kind)
		return false;
	if (x->kind == FS_FLOW_L2)
		return x->ethertype == y->ethertype;
	if (y->proto && y->proto != x->proto)
		return false;
	if (!same16(y->addr, x->addr) && !(xpeer && same16(y->addr, x->peer)))
		return false;
	if (y->flags & FS_BPF_ALT_PEER) {
		/* both canonical: the pairs are sorted the same way, except
		 * that a tuple sorts by port when the addresses are equal */
		if (!xpeer ||
		    !((same16(y->addr, x->addr) && same16(y->peer, x->peer)) ||
		      (same16(y->addr, x->peer) && same16(y->peer, x->addr))))
			return false;
	}
	if (y->flags & FS_BPF_ALT_TUPLE)	/* both sorted the same way */
		return (x->flags & FS_BPF_ALT_TUPLE) &&
		       same16(x->addr, y->addr) && same16(x->peer, y->peer) &&
		       x->port == y->port && x->peer_port == y->peer_port;
	if (y->flags & FS_BPF_ALT_PORT) {
		if (x->flags & FS_BPF_ALT_TUPLE)
			return y->port == x->port || y->port == x->peer_port;
		return (x->flags & FS_BPF_ALT_PORT) && x->port == y->port;
	}
	return true;
}

/*
 * Add x to the set, which never holds an alternative implied by another:
 * x is not added if one already there is as loose, and those it is
 * looser than leave. Writes only set[0 .. *n]. False when the set is
 * full.
 */
static bool set_add(struct fs_bpf_alt *set, unsigned *n, unsigned cap,
		    const struct fs_bpf_alt *x)
{
	unsigned i, k = 0;

	for (i = 0; i < *n; i++)
		if (implies(x, &set[i]))
			return true;
	for (i = 0; i < *n; i++)
		if (!implies(&set[i], x))
			set[k++] = set[i];
	if (k == cap)
		return false;
	set[k++] = *x;
	*n = k;
	return true;
}

/* Make every alternative looser by one level: 1 drops protocols, 2
 * ports (tuples become address pairs), 3 peers. */
static void loosen(struct fs_bpf_alt *x, int level)
{
	if (x->kind == FS_FLOW_L2)
		return;
	if (level == 1) {
		x->proto = 0;
	} else if (level == 2) {
		x->flags &= (uint8_t)~(FS_BPF_ALT_PORT | FS_BPF_ALT_TUPLE);
		x->port = x->peer_port = 0;
		canon(x);
	} else {
		x->flags = 0;
		memset(x->peer, 0, sizeof(x->peer));
	}
}

static int alt_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct fs_bpf_alt));
}

/*
 * The hint from the reduced set: within FS_BPF_HINT_MAX as it is, or
 * after as many levels of loosening as it takes; "none" if addresses
 * alone are still too many.
 */
static void finish(struct walk *w, struct fs_bpf_hint *h)
{
	for (int level = 0; level <= 3; level++) {
		if (level) {
			struct fs_bpf_alt *old = w->set;
			unsigned n = w->nset;

			w->nset = 0;
			for (unsigned i = 0; i < n; i++) {
				struct fs_bpf_alt x = old[i];

				loosen(&x, level);
				/* in place: the new set never has more
				 * entries than were read, so old[i + 1 ..]
				 * is intact; it cannot be full either */
				set_add(old, &w->nset, MAX_SET, &x);
			}
		}
		if (w->nset <= FS_BPF_HINT_MAX) {
			h->n = w->nset;
			memcpy(h->alt, w->set, w->nset * sizeof(*w->set));
			qsort(h->alt, h->n, sizeof(h->alt[0]), alt_cmp);
			return;
		}
	}
	h->none = true;
}

/* ---- the walk ---- */

static struct val *mem_slot(struct path *p, uint32_t k)
{
	return k < BPF_MEMWORDS ? &p->m[k] : NULL;
}

/* A load of width bytes at k, absolute or after X. */
static struct val load(const struct path *p, uint16_t mode, unsigned width,
		       uint32_t k)
{
	struct val v = { .width = (uint8_t)width, .mask = width_mask(width) };

	if (mode == BPF_ABS) {
		v.kind = V_PKT;
		v.off = k;
	} else if (k >= SKF_LL_OFF) {
		return unknown();
	} else if (p->x.kind == V_CONST && p->x.c < SKF_LL_OFF - k) {
		v.kind = V_PKT;
		v.off = p->x.c + k;
	} else if (p->x.kind == V_MSH && p->x.off < SKF_LL_OFF - k) {
		v.kind = V_IND;
		v.base = p->x.base;
		v.off = p->x.off + k;
	}
	return v.kind && v.off < SKF_LL_OFF ? v : unknown();
}

/* A = A op operand; false when the path ends (division by zero). */
static bool alu(struct path *p, uint16_t op, const struct val *src)
{
	struct val *a = &p->a;
	uint32_t k = src->c;

	if (op == BPF_NEG) {
		*a = a->kind == V_CONST ? konst(-a->c) : unknown();
		return true;
	}
	if (src->kind != V_CONST) {
		*a = unknown();
		return true;
	}
	if ((op == BPF_DIV || op == BPF_MOD) && k == 0)
		return false;	/* BPF returns 0: the packet is rejected */
	if (a->kind == V_CONST) {
		uint32_t c = a->c;

		switch (op) {
		case BPF_ADD: c += k; break;
		case BPF_SUB: c -= k; break;
		case BPF_MUL: c *= k; break;
		case BPF_DIV: c /= k; break;
		case BPF_MOD: c %= k; break;
		case BPF_OR: c |= k; break;
		case BPF_AND: c &= k; break;
		case BPF_XOR: c ^= k; break;
		case BPF_LSH:
		case BPF_RSH:
			if (k >= 32) {
				/* what the interpreter does differs by CPU */
				*a = unknown();
				return true;
			}
			c = op == BPF_LSH ? c << k : c >> k;
			break;
		default:
			*a = unknown();
			return true;
		}
		*a = konst(c);
	} else if (is_load(a) && op == BPF_AND) {
		a->mask &= k;
	} else if (a->kind == V_MSH && op == BPF_ADD &&
		   a->off <= UINT32_MAX - k) {
		a->off += k;
	} else {
		*a = unknown();
	}
	return true;
}

static bool push(struct walk *w, const struct path *p)
{
	if (w->depth == w->cap) {
		unsigned cap = w->cap ? 2 * w->cap : 16;
		struct path *s = realloc(w->stack, cap * sizeof(*s));

		if (!s)
			return false;
		w->stack = s;
		w->cap = cap;
	}
	w->stack[w->depth++] = *p;
	return true;
}

/*
 * A conditional jump: which branches the path can take, with what it
 * learns on each. *t and *f say whether each stays possible.
 */
static void branch(const struct path *p, const struct bpf_insn *in,
		   struct path *pt, struct path *pf, bool *t, bool *f)
{
	const struct val *a = &p->a;
	uint16_t op = BPF_OP(in->code);
	uint32_t k = in->k;

	*pt = *pf = *p;
	*t = *f = true;
	if (BPF_SRC(in->code) == BPF_X) {
		if (p->x.kind != V_CONST)
			return;
		k = p->x.c;
	}
	if (a->kind == V_CONST) {
		bool r = op == BPF_JEQ ? a->c == k :
			 op == BPF_JGT ? a->c > k :
			 op == BPF_JGE ? a->c >= k : (a->c & k) != 0;

		*t = r;
		*f = !r;
		return;
	}
	if (!is_load(a))
		return;
	if (op == BPF_JEQ) {
		*t = add_fact(pt, a, a->mask, k, false);
		*f = add_fact(pf, a, a->mask, k, true);
	} else if (op == BPF_JSET) {
		uint32_t m = a->mask & k;

		if (!m) {
			*t = false;
			return;
		}
		*t = add_fact(pt, a, m, 0, true);
		*f = add_fact(pf, a, m, 0, false);
	}
}

/* An accepting path: its alternative joins the set, or (it proves too
 * little, or there are too many) the hint is "none" and the walk ends. */
static void accepted(struct walk *w, const struct path *p)
{
	struct fs_bpf_alt x;

	if (++w->paths > MAX_PATHS || !path_alt(p, &x) ||
	    !set_add(w->set, &w->nset, MAX_SET, &x))
		w->none = true;
}

/*
 * Follow path p to its end, pushing the other branch of each test for
 * later. Returns 0, or -1 with errno (invalid program, no memory); a
 * budget running out sets w->none.
 */
static int follow(struct walk *w, struct path *p)
{
	for (;;) {
		const struct bpf_insn *in;
		struct val *slot;
		unsigned width;

		if (p->pc >= w->n) {
			errno = EINVAL;
			return -1;
		}
		if (++w->steps > MAX_STEPS) {
			w->none = true;
			return 0;
		}
		in = &w->insns[p->pc++];
		width = BPF_SIZE(in->code) == BPF_W ? 4 :
			BPF_SIZE(in->code) == BPF_H ? 2 : 1;
		switch (BPF_CLASS(in->code)) {
		case BPF_LD:
		case BPF_LDX: {
			bool ldx = BPF_CLASS(in->code) == BPF_LDX;
			struct val v;

			switch (BPF_MODE(in->code)) {
			case BPF_IMM:
				v = konst(in->k);
				break;
			case BPF_LEN:
				v = unknown();
				break;
			case BPF_MEM:
				if (!(slot = mem_slot(p, in->k)))
					goto bad;
				v = *slot;
				break;
			case BPF_ABS:
			case BPF_IND:
				if (ldx || (BPF_SIZE(in->code) != BPF_W &&
					    BPF_SIZE(in->code) != BPF_H &&
					    BPF_SIZE(in->code) != BPF_B))
					goto bad;
				v = load(p, BPF_MODE(in->code), width, in->k);
				break;
			case BPF_MSH:
				if (!ldx)
					goto bad;
				v = in->k >= SKF_LL_OFF ? unknown() :
				    (struct val){ .kind = V_MSH, .base = in->k };
				break;
			default:
				goto bad;
			}
			if (ldx)
				p->x = v;
			else
				p->a = v;
			break;
		}
		case BPF_ST:
		case BPF_STX:
			if (!(slot = mem_slot(p, in->k)))
				goto bad;
			*slot = BPF_CLASS(in->code) == BPF_ST ? p->a : p->x;
			break;
		case BPF_ALU: {
			struct val src = konst(in->k);
			uint16_t op = BPF_OP(in->code);

			if (op > BPF_XOR)
				goto bad;
			if (BPF_SRC(in->code) == BPF_X && op != BPF_NEG)
				src = p->x;
			if (!alu(p, op, &src))
				return 0;	/* rejected */
			break;
		}
		case BPF_JMP: {
			struct path pf;
			bool t, f;

			if (BPF_OP(in->code) == BPF_JA) {
				if (in->k >= w->n - p->pc)
					goto bad;
				p->pc += in->k;
				break;
			}
			if (BPF_OP(in->code) > BPF_JSET ||
			    in->jt >= w->n - p->pc || in->jf >= w->n - p->pc)
				goto bad;
			branch(p, in, p, &pf, &t, &f);
			p->pc += in->jt;
			pf.pc += in->jf;
			if (t && f) {
				if (!push(w, &pf)) {
					errno = ENOMEM;
					return -1;
				}
			} else if (!t) {
				if (!f)
					return 0;
				*p = pf;
			}
			break;
		}
		case BPF_RET:
			if (BPF_RVAL(in->code) == BPF_K ? in->k == 0 :
			    BPF_RVAL(in->code) == BPF_A &&
			    p->a.kind == V_CONST && p->a.c == 0)
				return 0;	/* rejected */
			accepted(w, p);
			return 0;
		case BPF_MISC:
			if (BPF_MISCOP(in->code) == BPF_TAX)
				p->x = p->a;
			else if (BPF_MISCOP(in->code) == BPF_TXA)
				p->a = p->x;
			else
				goto bad;
			break;
		}
	}
bad:
	errno = EINVAL;
	return -1;
}

int fs_bpf_hint(const struct bpf_insn *insns, unsigned n,
		struct fs_bpf_hint *hint)
{
	struct walk w = { .insns = insns, .n = n };
	struct path *p = NULL;
	int rc = -1;

	memset(hint, 0, sizeof(*hint));
	hint->none = true;
	if (!insns || !n)
		return 0;	/* no program: everything is accepted */
	w.set = malloc(MAX_SET * sizeof(*w.set));
	p = calloc(1, sizeof(*p));
	if (!w.set || !p) {
		errno = ENOMEM;
		goto done;
	}
	for (unsigned i = 0; i < BPF_MEMWORDS; i++)
		p->m[i] = unknown();
	p->a = p->x = konst(0);
	if (!push(&w, p)) {
		errno = ENOMEM;
		goto done;
	}
	while (w.depth && !w.none) {
		*p = w.stack[--w.depth];
		if (follow(&w, p) < 0)
			goto done;
	}
	if (!w.none) {
		hint->none = false;
		finish(&w, hint);
	}
	rc = 0;
done:
	free(p);
	free(w.stack);
	free(w.set);
	return rc;
}

/* ---- using a hint ---- */

static bool ip_et(uint16_t et, uint8_t kind)
{
	if (et == 0x8100 || et == 0x88a8 || et == 0x9100)
		return true;	/* cut inside a tag */
	return (et == ET_IP4 && kind == FS_FLOW_IP4) ||
	       (et == ET_IP6 && kind == FS_FLOW_IP6);
}

static bool alt_match(const struct fs_bpf_alt *x, const struct fs_flow_key *k)
{
	unsigned len = x->kind == FS_FLOW_IP4 ? 4 : 16;
	bool noports = !k->port_a && !k->port_b;
	bool in_a, in_b;

	if (k->kind == FS_FLOW_L2)
		return x->kind == FS_FLOW_L2 ? k->ethertype == x->ethertype :
		       ip_et(k->ethertype, x->kind);
	if (x->kind != k->kind)
		return false;
	if (x->proto && x->proto != k->proto &&
	    !(k->kind == FS_FLOW_IP6 && is_ext6(k->proto)))
		return false;
	in_a = !memcmp(x->addr, k->a, len);
	in_b = !memcmp(x->addr, k->b, len);
	if (x->flags & FS_BPF_ALT_PEER) {
		if (!((in_a && !memcmp(x->peer, k->b, len)) ||
		      (in_b && !memcmp(x->peer, k->a, len))))
			return false;
	} else if (!in_a && !in_b) {
		return false;
	}
	if (noports || !(x->flags & FS_BPF_ALT_PORT))
		return true;
	if (x->flags & FS_BPF_ALT_TUPLE)
		return (!memcmp(x->addr, k->a, len) && x->port == k->port_a &&
			!memcmp(x->peer, k->b, len) && x->peer_port == k->port_b) ||
		       (!memcmp(x->addr, k->b, len) && x->port == k->port_b &&
			!memcmp(x->peer, k->a, len) && x->peer_port == k->port_a);
	return x->port == k->port_a || x->port == k->port_b;
}

bool fs_bpf_hint_match(const struct fs_bpf_hint *h,
		       const struct fs_flow_key *k)
{
	if (h->none)
		return true;
	for (unsigned i = 0; i < h->n; i++)
		if (alt_match(&h->alt[i], k))
			return true;
	return false;
}

static void addr_str(const struct fs_bpf_alt *x, const uint8_t *a,
		     uint16_t port, bool with_port, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];
	bool v6 = x->kind == FS_FLOW_IP6;

	inet_ntop(v6 ? AF_INET6 : AF_INET, a, s, sizeof(s));
	if (!with_port)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", s, port);
}

static int alt_str(const struct fs_bpf_alt *x, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN + 8], b[INET6_ADDRSTRLEN + 8];
	char port[16] = "", proto[16] = "";
	bool tuple = x->flags & FS_BPF_ALT_TUPLE;

	if (x->kind == FS_FLOW_L2)
		return snprintf(buf, len, "ethertype 0x%04x", x->ethertype);
	addr_str(x, x->addr, x->port, tuple, a, sizeof(a));
	if (x->flags & FS_BPF_ALT_PORT && !tuple)
		snprintf(port, sizeof(port), " port %u", x->port);
	if (x->proto)
		snprintf(proto, sizeof(proto), " proto %u", x->proto);
	if (!(x->flags & FS_BPF_ALT_PEER))
		return snprintf(buf, len, "%s%s%s", a, port, proto);
	addr_str(x, x->peer, x->peer_port, tuple, b, sizeof(b));
	return snprintf(buf, len, "%s <> %s%s%s", a, b, port, proto);
}

int fs_bpf_hint_str(const struct fs_bpf_hint *h, char *buf, size_t len)
{
	size_t used = 0;
	int r;

	if (h->none || !h->n)
		return snprintf(buf, len, "%s", h->none ? "none" : "nothing");
	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < h->n; i++) {
		if (i) {
			r = snprintf(used < len ? buf + used : NULL,
				     used < len ? len - used : 0, " | ");
			used += (size_t)r;
		}
		r = alt_str(&h->alt[i], used < len ? buf + used : NULL,
			    used < len ? len - used : 0);
		if (r < 0)
			return r;
		used += (size_t)r;
	}
	return used > INT32_MAX ? -1 : (int)used;
}
