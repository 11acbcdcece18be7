/* SPDX-License-Identifier: BSD-3-Clause */
/* fs-pcapcmp: compare two capture files (pcap or pcapng) packet by packet or
 * flow by flow (--per-flow), or count one file's packets or flows, for
 * flowscope's integration tests. */

/*
 * Exit status: 0 when the check holds, 1 with a one-line description of the
 * first difference on stderr, 2 on a usage, open or read error (a truncated
 * file is a read error). Packets are numbered from 1, as tcpdump and tshark
 * number them.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <pcap/pcap.h>

#define EXIT_DIFF 1
#define EXIT_TROUBLE 2

struct opts {
	bool nano;		/* open with nanosecond precision */
	bool bytes_only;	/* ignore timestamps */
	bool subset;		/* A's packets appear in B in the same order */
	bool count_only;
	uint64_t count;		/* with count_only */
	bool print_count;
	uint64_t caplen;	/* 0, or B is A cut to caplen bytes */
	bool per_flow;		/* compare flow by flow */
	bool suffix;		/* per flow, A is the end of B */
	bool count_flows;
	bool list_flows;
	int64_t push_vlan;	/* -1, or B is A with this VLAN tag pushed */
};

struct file {
	const char *path;
	pcap_t *p;
	uint64_t n;			/* packets read so far */
	struct pcap_pkthdr *h;		/* the last one, valid until the next read */
	const u_char *data;
	int64_t push_vlan;		/* -1, or push this tag onto each packet */
	struct pcap_pkthdr th;		/* the packet with the tag pushed */
	u_char *tagged;
	size_t tagged_cap;
};

static void usage(FILE *f)
{
	fputs(
"usage: fs-pcapcmp [options] A B    compare capture files A and B\n"
"       fs-pcapcmp --count-only N A    check that A holds exactly N packets\n"
"       fs-pcapcmp --print-count A     print the number of packets in A\n"
"  --nano          open both files with nanosecond precision and compare\n"
"                  timestamps to the nanosecond (default: microsecond)\n"
"  --bytes-only    ignore timestamps; compare caplen, len and bytes\n"
"  --subset        every packet of A appears in B, in the same relative order\n"
"                  (B may hold other packets in between)\n"
"  --caplen N      B is A captured with caplen N: B's caplen must be\n"
"                  min(A's caplen, N), len equal, bytes equal up to B's caplen\n"
"  --pushed-vlan ID  B is A with an 802.1Q tag (TPID 0x8100, priority 0,\n"
"                  DEI 0, VLAN ID) inserted after the MAC addresses of every\n"
"                  packet of at least 12 bytes: len and caplen 4 more (with\n"
"                  --caplen: caplen min(A's + 4, N)), bytes 12-15 the tag,\n"
"                  bytes from 16 on A's from 12 on\n"
"\n"
"       fs-pcapcmp --per-flow [options] A B [B2...]\n"
"  A and B hold the same packets (a multiset: timestamp, caplen, len, bytes)\n"
"  and each flow's packets come in the same order in both; flows may\n"
"  interleave differently. With several B files, B is their concatenation.\n"
"  With --subset: every packet of A is in B, in the same order within its\n"
"  flow (B may hold more). With --suffix: in each flow, A's packets are the\n"
"  last ones of B's packets of that flow, in order. A flow is the\n"
"  bidirectional 5-tuple inside any VLAN tags, IPv4/IPv6; TCP/UDP/SCTP/DCCP/\n"
"  UDP-Lite ports; other IP packets by addresses and protocol; non-IP frames\n"
"  by MAC pair and EtherType.\n"
"       fs-pcapcmp --count-flows A     print the number of flows in A\n"
"       fs-pcapcmp --count-flows A A2...  one line \"N FILE\" per file\n"
"       fs-pcapcmp --list-flows A      one line per flow, in order of first\n"
"                  packet: FIRST_TIME PROTO ADDR_A PORT_A ADDR_B PORT_B PACKETS\n"
"                  BYTES (A is the smaller address/port; port 0 when none;\n"
"                  time in us, in ns with --nano); with several files, each\n"
"                  line ends with the name of its file\n"
"exit status: 0 same, 1 different (first difference on stderr), 2 trouble\n",
	      f);
}

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "fs-pcapcmp: MESSAGE" on stderr. */
static void msg(const char *fmt, ...)
{
	va_list ap;

	fputs("fs-pcapcmp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int open_file(struct file *f, const char *path, const struct opts *o)
{
	char errbuf[PCAP_ERRBUF_SIZE];

	f->path = path;
	f->n = 0;
	f->push_vlan = -1;
	f->p = pcap_open_offline_with_tstamp_precision(path,
		o->nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (f->p == NULL) {
		msg("%s", errbuf);
		return -1;
	}
	return 0;
}

/* With --pushed-vlan, make A's packet what B should hold: the tag
 * inserted after the MAC addresses, 4 bytes more of len and caplen.
 * Returns -1 when out of memory. */
static int push_tag(struct file *f)
{
	uint32_t cap = f->h->caplen;

	if (f->push_vlan < 0 || cap < 12)
		return 0;
	if (f->tagged_cap < (size_t)cap + 4) {
		u_char *t = realloc(f->tagged, (size_t)cap + 4);

		if (t == NULL)
			return -1;
		f->tagged = t;
		f->tagged_cap = (size_t)cap + 4;
	}
	memcpy(f->tagged, f->data, 12);
	f->tagged[12] = 0x81;
	f->tagged[13] = 0x00;
	f->tagged[14] = (u_char)((f->push_vlan >> 8) & 0x0f);
	f->tagged[15] = (u_char)f->push_vlan;
	memcpy(f->tagged + 16, f->data + 12, cap - 12);
	f->th = *f->h;
	f->th.caplen = cap + 4;
	f->th.len = f->h->len + 4;
	f->h = &f->th;
	f->data = f->tagged;
	return 0;
}

/* Read the next packet: 1 got one, 0 end of file, -1 read error (reported). */
static int next(struct file *f)
{
	int r = pcap_next_ex(f->p, &f->h, &f->data);

	if (r == 1) {
		f->n++;
		if (push_tag(f) < 0) {
			msg("%s: packet %" PRIu64 ": out of memory", f->path,
			    f->n);
			return -1;
		}
		return 1;
	}
	if (r == PCAP_ERROR_BREAK)
		return 0;
	msg("%s: packet %" PRIu64 ": %s", f->path, f->n + 1,
	    r == PCAP_ERROR ? pcap_geterr(f->p) : "unexpected pcap_next_ex result");
	return -1;
}

/* Count what is left of f; -1 on a read error. */
static int64_t count_rest(struct file *f)
{
	int r;

	while ((r = next(f)) == 1)
		;
	return r < 0 ? -1 : (int64_t)f->n;
}

static void fmt_ts(char *buf, size_t len, const struct timeval *tv, bool nano)
{
	snprintf(buf, len, nano ? "%lld.%09ld" : "%lld.%06ld",
		 (long long)tv->tv_sec, (long)tv->tv_usec);
}

/*
 * Compare packet a with packet b. Returns true when they match; otherwise,
 * when why is not NULL, writes the first difference to it.
 */
static bool same_packet(const struct opts *o, const struct file *a,
			const struct file *b, char *why, size_t whylen)
{
	const struct pcap_pkthdr *ha = a->h, *hb = b->h;
	bpf_u_int32 want_caplen = ha->caplen;
	bpf_u_int32 k;
	char ta[64], tb[64];

	if (!o->bytes_only && (ha->ts.tv_sec != hb->ts.tv_sec ||
			       ha->ts.tv_usec != hb->ts.tv_usec)) {
		if (why) {
			fmt_ts(ta, sizeof(ta), &ha->ts, o->nano);
			fmt_ts(tb, sizeof(tb), &hb->ts, o->nano);
			snprintf(why, whylen, "timestamp %s vs %s", ta, tb);
		}
		return false;
	}
	if (o->caplen && o->caplen < want_caplen)
		want_caplen = (bpf_u_int32)o->caplen;
	if (hb->caplen != want_caplen) {
		if (why && o->caplen)
			snprintf(why, whylen, "caplen %u vs %u (expected min(caplen %u, %" PRIu64
				 ") = %u)", ha->caplen, hb->caplen, ha->caplen, o->caplen,
				 want_caplen);
		else if (why)
			snprintf(why, whylen, "caplen %u vs %u", ha->caplen, hb->caplen);
		return false;
	}
	if (ha->len != hb->len) {
		if (why)
			snprintf(why, whylen, "len %u vs %u", ha->len, hb->len);
		return false;
	}
	if (memcmp(a->data, b->data, want_caplen) != 0) {
		if (why) {
			for (k = 0; a->data[k] == b->data[k]; k++)
				;
			snprintf(why, whylen, "byte %u differs (0x%02x vs 0x%02x)",
				 k, a->data[k], b->data[k]);
		}
		return false;
	}
	return true;
}

static int count_only(const struct opts *o, const char *path)
{
	struct file a;
	int64_t n;

	if (open_file(&a, path, o) < 0)
		return EXIT_TROUBLE;
	n = count_rest(&a);
	pcap_close(a.p);
	if (n < 0)
		return EXIT_TROUBLE;
	if (o->print_count) {
		printf("%" PRId64 "\n", n);
		return 0;
	}
	if ((uint64_t)n != o->count) {
		msg("%s holds %" PRId64 " packets, expected %" PRIu64, path, n, o->count);
		return EXIT_DIFF;
	}
	return 0;
}

/* Packet by packet; the first difference ends the comparison. */
static int compare(const struct opts *o, struct file *a, struct file *b)
{
	char why[256];
	int ra, rb;
	int64_t na, nb;

	for (;;) {
		ra = next(a);
		if (ra < 0)
			return EXIT_TROUBLE;
		rb = next(b);
		if (rb < 0)
			return EXIT_TROUBLE;
		if (ra == 0 && rb == 0)
			return 0;
		if (ra == 0 || rb == 0) {
			na = ra ? count_rest(a) : (int64_t)a->n;
			nb = rb ? count_rest(b) : (int64_t)b->n;
			if (na < 0 || nb < 0)
				return EXIT_TROUBLE;
			msg("packet count %" PRId64 " vs %" PRId64, na, nb);
			return EXIT_DIFF;
		}
		if (!same_packet(o, a, b, why, sizeof(why))) {
			msg("packet %" PRIu64 ": %s", a->n, why);
			return EXIT_DIFF;
		}
	}
}

/* Greedy in-order matching: each packet of A takes the first match in B
 * after the previous one's, which finds a match whenever one exists. */
static int subset(const struct opts *o, struct file *a, struct file *b)
{
	char ts[64];
	uint64_t matched_at = 0;	/* B's packet that matched A's previous one */
	int ra, rb;

	for (;;) {
		ra = next(a);
		if (ra <= 0)
			return ra < 0 ? EXIT_TROUBLE : 0;
		do {
			rb = next(b);
			if (rb < 0)
				return EXIT_TROUBLE;
			if (rb == 0) {
				fmt_ts(ts, sizeof(ts), &a->h->ts, o->nano);
				msg("packet %" PRIu64 " of A (timestamp %s, len %u) is not in B"
				    " after B's packet %" PRIu64 " (B holds %" PRIu64 " packets)",
				    a->n, ts, a->h->len, matched_at, b->n);
				return EXIT_DIFF;
			}
		} while (!same_packet(o, a, b, NULL, 0));
		matched_at = b->n;
	}
}

/* ---- --per-flow, --count-flows, --list-flows ----------------------------
 *
 * These load whole files into memory (the traces of the tests are small)
 * and key each packet by its flow, the way flowscope does (DESIGN §3): the
 * bidirectional 5-tuple inside any 802.1Q/802.1ad tags, IPv4 and IPv6
 * (extension headers walked), ports for TCP, UDP, UDP-Lite, SCTP and DCCP
 * (not for non-first fragments), addresses and protocol for other IP
 * packets, MAC pair and EtherType for non-IP frames. Each key is
 * canonical: endpoint a is the smaller (address, port), so both directions
 * of a flow give the same key.
 */

enum { FK_L2 = 2, FK_IP4 = 4, FK_IP6 = 6 };

struct fkey {
	uint8_t a[16], b[16];	/* IPv4: first 4 bytes; L2: MACs in first 6 */
	uint16_t port_a, port_b;
	uint16_t ethertype;
	uint8_t proto;		/* IP protocol; 0 for L2 */
	uint8_t kind;		/* FK_* */
};

struct pkt {
	struct pcap_pkthdr h;
	u_char *data;
	uint64_t hash;		/* of what same_content() compares */
	uint64_t num;		/* packet number in its file, from 1 */
	unsigned file;		/* index of its file (0: A, 1...: B files) */
	uint32_t flow;		/* index into the flow table */
	uint32_t pos;		/* position within its flow in its side, from 0 */
	struct pkt *match;	/* the identical packet of the other side */
};

struct side {
	struct pkt *v;
	size_t n, cap;
};

struct flow {
	struct fkey key;
	uint64_t first_sec, first_frac;	/* first packet's timestamp (either side) */
	uint64_t bytes;			/* --list-flows: A's bytes (len) */
	size_t na, nb;			/* packets in A and in B */
	struct pkt **la, **lb;		/* in file order */
};

struct flowtab {
	struct flow *v;
	size_t n, cap;
	uint32_t *slot;			/* open addressing: index + 1, 0 empty */
	size_t nslot;
};

static const char *const *g_names;	/* file names for messages */

static uint16_t get16(const u_char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 33 || proto == 132 || proto == 136;
}

/* Key of an Ethernet frame of caplen bytes; never reads past caplen. */
static void flow_parse(const u_char *p, uint32_t caplen, struct fkey *k)
{
	uint32_t off = 14, l4 = 0;
	uint16_t et = caplen >= 14 ? get16(p + 12) : 0;
	bool frag = false;
	unsigned hops;
	uint8_t nh;

	memset(k, 0, sizeof(*k));
	while ((et == 0x8100 || et == 0x88a8 || et == 0x9100) && off + 4 <= caplen) {
		et = get16(p + off + 2);
		off += 4;
	}
	if (et == 0x0800 && off + 20 <= caplen && p[off] >> 4 == 4) {
		k->kind = FK_IP4;
		k->proto = p[off + 9];
		memcpy(k->a, p + off + 12, 4);
		memcpy(k->b, p + off + 16, 4);
		frag = (get16(p + off + 6) & 0x1fff) != 0;
		l4 = off + (p[off] & 15u) * 4;
	} else if (et == 0x86dd && off + 40 <= caplen && p[off] >> 4 == 6) {
		k->kind = FK_IP6;
		memcpy(k->a, p + off + 8, 16);
		memcpy(k->b, p + off + 24, 16);
		nh = p[off + 6];
		l4 = off + 40;
		for (hops = 0; hops < 8; hops++) {
			if (nh == 0 || nh == 43 || nh == 60) {
				if (l4 + 2 > caplen)
					break;
				nh = p[l4];
				l4 += (p[l4 + 1] + 1u) * 8;
			} else if (nh == 44) {
				if (l4 + 8 > caplen)
					break;
				frag = (get16(p + l4 + 2) & 0xfff8) != 0;
				nh = p[l4];
				l4 += 8;
			} else if (nh == 51) {
				if (l4 + 2 > caplen)
					break;
				nh = p[l4];
				l4 += (p[l4 + 1] + 2u) * 4;
			} else {
				break;
			}
		}
		k->proto = nh;
	} else {
		k->kind = FK_L2;
		k->ethertype = et;
		if (caplen >= 6)
			memcpy(k->a, p, 6);
		if (caplen >= 12)
			memcpy(k->b, p + 6, 6);
	}
	if (k->kind != FK_L2) {
		k->ethertype = et;
		if (has_ports(k->proto) && !frag && l4 + 4 <= caplen) {
			k->port_a = get16(p + l4);
			k->port_b = get16(p + l4 + 2);
		}
	}
	/* canonical order: a is the smaller (address, port) */
	int c = memcmp(k->a, k->b, sizeof(k->a));
	if (c > 0 || (c == 0 && k->port_a > k->port_b)) {
		uint8_t t[16];
		uint16_t tp;

		memcpy(t, k->a, sizeof(t));
		memcpy(k->a, k->b, sizeof(t));
		memcpy(k->b, t, sizeof(t));
		tp = k->port_a;
		k->port_a = k->port_b;
		k->port_b = tp;
	}
}

static const char *proto_name(const struct fkey *k, char *buf, size_t len)
{
	switch (k->kind == FK_L2 ? 256 : k->proto) {
	case 256: return "l2";
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 33: return "dccp";
	case 47: return "gre";
	case 50: return "esp";
	case 51: return "ah";
	case 58: return "icmp6";
	case 132: return "sctp";
	case 136: return "udplite";
	default:
		snprintf(buf, len, "proto%u", k->proto);
		return buf;
	}
}

static void addr_str(const struct fkey *k, const uint8_t *a, char *buf, size_t len)
{
	if (k->kind == FK_L2)
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x",
			 a[0], a[1], a[2], a[3], a[4], a[5]);
	else if (inet_ntop(k->kind == FK_IP4 ? AF_INET : AF_INET6, a, buf,
			   (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

/* "tcp 10.0.0.1:1234 <> 10.0.0.2:80", "tcp [fd00::1]:1 <> [fd00::2]:2",
 * "icmp 10.0.0.1 <> 10.0.0.2", "l2 02:..:01 <> 02:..:02 type 0x88cc" */
static void flow_str(const struct fkey *k, char *buf, size_t len)
{
	char pn[16], a[64], b[64];
	const char *proto = proto_name(k, pn, sizeof(pn));

	addr_str(k, k->a, a, sizeof(a));
	addr_str(k, k->b, b, sizeof(b));
	if (k->kind == FK_L2)
		snprintf(buf, len, "%s %s <> %s type 0x%04x", proto, a, b, k->ethertype);
	else if (!has_ports(k->proto))
		snprintf(buf, len, "%s %s <> %s", proto, a, b);
	else if (k->kind == FK_IP6)
		snprintf(buf, len, "%s [%s]:%u <> [%s]:%u", proto, a, k->port_a, b, k->port_b);
	else
		snprintf(buf, len, "%s %s:%u <> %s:%u", proto, a, k->port_a, b, k->port_b);
}

static uint64_t mix64(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

static uint64_t key_hash(const struct fkey *k)
{
	uint64_t h = 0;
	const uint8_t *p = (const uint8_t *)k;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = mix64(h, p[i]);
	return h;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL) {
		msg("out of memory");
		exit(EXIT_TROUBLE);
	}
	return q;
}

/* Index of the flow with key k, added when new. */
static uint32_t flow_index(struct flowtab *t, const struct fkey *k)
{
	size_t i, mask;

	if (2 * (t->n + 1) > t->nslot) {	/* grow: keep the load under 1/2 */
		size_t ns = t->nslot ? 2 * t->nslot : 1024;

		free(t->slot);
		t->slot = calloc(ns, sizeof(*t->slot));
		if (t->slot == NULL) {
			msg("out of memory");
			exit(EXIT_TROUBLE);
		}
		t->nslot = ns;
		for (size_t f = 0; f < t->n; f++) {
			for (i = key_hash(&t->v[f].key) & (ns - 1); t->slot[i]; i = (i + 1) & (ns - 1))
				;
			t->slot[i] = (uint32_t)f + 1;
		}
	}
	mask = t->nslot - 1;
	for (i = key_hash(k) & mask; t->slot[i]; i = (i + 1) & mask) {
		if (memcmp(&t->v[t->slot[i] - 1].key, k, sizeof(*k)) == 0)
			return t->slot[i] - 1;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 256;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
	t->v[t->n].key = *k;
	t->slot[i] = (uint32_t)t->n + 1;
	return (uint32_t)t->n++;
}

static uint64_t content_hash(const struct opts *o, const struct pkt *p)
{
	uint64_t h = mix64(0, p->h.caplen);

	h = mix64(h, p->h.len);
	if (!o->bytes_only) {
		h = mix64(h, (uint64_t)p->h.ts.tv_sec);
		h = mix64(h, (uint64_t)p->h.ts.tv_usec);
	}
	for (bpf_u_int32 i = 0; i < p->h.caplen; i++)
		h = mix64(h, p->data[i]);
	return h;
}

/* Order of packets by content: hash, timestamp, caplen, len, bytes. */
static int cmp_content(const struct opts *o, const struct pkt *x, const struct pkt *y)
{
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (!o->bytes_only) {
		if (x->h.ts.tv_sec != y->h.ts.tv_sec)
			return x->h.ts.tv_sec < y->h.ts.tv_sec ? -1 : 1;
		if (x->h.ts.tv_usec != y->h.ts.tv_usec)
			return x->h.ts.tv_usec < y->h.ts.tv_usec ? -1 : 1;
	}
	if (x->h.caplen != y->h.caplen)
		return x->h.caplen < y->h.caplen ? -1 : 1;
	if (x->h.len != y->h.len)
		return x->h.len < y->h.len ? -1 : 1;
	return memcmp(x->data, y->data, x->h.caplen);
}

static const struct opts *g_opts;	/* for qsort */

static int qsort_content(const void *x, const void *y)
{
	const struct pkt *a = *(struct pkt *const *)x, *b = *(struct pkt *const *)y;
	int c = cmp_content(g_opts, a, b);

	if (c != 0)
		return c;
	/* stable among equals: file, then packet number */
	if (a->file != b->file)
		return a->file < b->file ? -1 : 1;
	return a->num < b->num ? -1 : a->num > b->num;
}

/*
 * Append every packet of path to s, its flows to t; with cut (the A side of
 * --caplen) each packet is cut as B's would be. Returns the link-type, or -1
 * on trouble (reported).
 */
static int load(const struct opts *o, const char *path, unsigned file, bool cut,
		struct side *s, struct flowtab *t)
{
	struct file f;
	struct fkey k;
	int r, dlt;

	if (open_file(&f, path, o) < 0)
		return -1;
	dlt = pcap_datalink(f.p);
	if (dlt != DLT_EN10MB) {
		const char *n = pcap_datalink_val_to_name(dlt);
		msg("%s: link-type %s: flows are only found in Ethernet (EN10MB) files",
		    path, n ? n : "?");
		pcap_close(f.p);
		return -1;
	}
	while ((r = next(&f)) == 1) {
		struct pkt *p;

		if (s->n == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 4096;
			s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
		}
		p = &s->v[s->n++];
		memset(p, 0, sizeof(*p));
		p->h = *f.h;
		if (cut && o->caplen && o->caplen < p->h.caplen)
			p->h.caplen = (bpf_u_int32)o->caplen;
		p->data = xrealloc(NULL, p->h.caplen);
		memcpy(p->data, f.data, p->h.caplen);
		p->num = f.n;
		p->file = file;
		p->hash = content_hash(o, p);
		flow_parse(p->data, p->h.caplen, &k);
		p->flow = flow_index(t, &k);
	}
	pcap_close(f.p);
	return r < 0 ? -1 : dlt;
}

/* Per-flow lists of a side, in file order (files in command-line order). */
static void build_lists(struct side *s, struct flowtab *t, bool is_a)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct flow *fl = &t->v[s->v[i].flow];
		size_t *n = is_a ? &fl->na : &fl->nb;
		struct pkt ***l = is_a ? &fl->la : &fl->lb;

		/* sizes double, so the realloc count stays small */
		if ((*n & (*n - 1)) == 0)
			*l = xrealloc(*l, (*n ? 2 * *n : 1) * sizeof(**l));
		s->v[i].pos = (uint32_t)*n;
		(*l)[(*n)++] = &s->v[i];
	}
}

/* Match A's packets with identical ones of B (a multiset match). */
static void match_sides(const struct opts *o, struct side *a, struct side *b,
			size_t *a_only, size_t *b_only)
{
	struct pkt **pa = xrealloc(NULL, a->n * sizeof(*pa));
	struct pkt **pb = xrealloc(NULL, b->n * sizeof(*pb));
	size_t i = 0, j = 0;
	int c;

	for (i = 0; i < a->n; i++)
		pa[i] = &a->v[i];
	for (j = 0; j < b->n; j++)
		pb[j] = &b->v[j];
	g_opts = o;
	qsort(pa, a->n, sizeof(*pa), qsort_content);
	qsort(pb, b->n, sizeof(*pb), qsort_content);
	*a_only = *b_only = 0;
	i = j = 0;
	while (i < a->n || j < b->n) {
		c = i == a->n ? 1 : j == b->n ? -1 : cmp_content(o, pa[i], pb[j]);
		if (c == 0) {
			pa[i]->match = pb[j];
			pb[j]->match = pa[i];
			i++;
			j++;
		} else if (c < 0) {
			(*a_only)++;
			i++;
		} else {
			(*b_only)++;
			j++;
		}
	}
	free(pa);
	free(pb);
}

/* "A's packet 12 (time 1600000000.000120, len 64)" */
static void pkt_str(const struct opts *o, const struct pkt *p, char *buf, size_t len)
{
	char ts[64];

	fmt_ts(ts, sizeof(ts), &p->h.ts, o->nano);
	if (p->file == 0)
		snprintf(buf, len, "A's packet %" PRIu64 " (time %s, len %u)", p->num, ts, p->h.len);
	else if (g_names[2] == NULL)
		snprintf(buf, len, "B's packet %" PRIu64 " (time %s, len %u)", p->num, ts, p->h.len);
	else
		snprintf(buf, len, "packet %" PRIu64 " of B file %s (time %s, len %u)",
			 p->num, g_names[p->file], ts, p->h.len);
}

/* ", a duplicate of ..." when another packet of list l is identical to p. */
static void dup_str(const struct opts *o, const struct pkt *p, struct pkt *const *l,
		    size_t n, char *buf, size_t len)
{
	char ps[160];

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (l[i] != p && cmp_content(o, l[i], p) == 0) {
			pkt_str(o, l[i], ps, sizeof(ps));
			snprintf(buf, len, ", a duplicate of %s", ps);
			return;
		}
	}
}

/*
 * Check one flow; on the first difference write it to why and return false.
 * Without subset: the flow's packets are the same, in the same order, in A
 * and B. With subset: A's packets of the flow are all in B, in B's order.
 */
static bool check_flow(const struct opts *o, const struct flow *fl, char *why, size_t len)
{
	char fs[160], ps[160], qs[160], ds[200];
	size_t i = 0, j = 0;
	uint32_t last = 0;
	bool any = false;

	flow_str(&fl->key, fs, sizeof(fs));
	if (o->suffix) {
		size_t skip = fl->nb >= fl->na ? fl->nb - fl->na : 0;

		for (i = 0; i < fl->na; i++) {
			const struct pkt *p = fl->la[i];

			pkt_str(o, p, ps, sizeof(ps));
			if (p->match == NULL) {
				dup_str(o, p, fl->la, fl->na, ds, sizeof(ds));
				snprintf(why, len, "flow %s: packet %zu of A's %zu packets of the flow, %s%s,"
					 " is missing from B (B has %zu packets of the flow)",
					 fs, i + 1, fl->na, ps, ds, fl->nb);
				return false;
			}
			if (p->match != fl->lb[skip + i]) {
				snprintf(why, len, "flow %s: A's %zu packets of the flow are not the last"
					 " %zu of B's %zu: packet %zu of them, %s, is packet %u of the"
					 " flow in B, not packet %zu", fs, fl->na, fl->na, fl->nb,
					 i + 1, ps, p->match->pos + 1, skip + i + 1);
				return false;
			}
		}
		return true;
	}
	if (o->subset) {
		for (i = 0; i < fl->na; i++) {
			const struct pkt *p = fl->la[i];

			pkt_str(o, p, ps, sizeof(ps));
			if (p->match == NULL) {
				dup_str(o, p, fl->la, fl->na, ds, sizeof(ds));
				snprintf(why, len, "flow %s: packet %zu of A's %zu packets of the flow, %s%s,"
					 " is missing from B (B has %zu packets of the flow)",
					 fs, i + 1, fl->na, ps, ds, fl->nb);
				return false;
			}
			if (any && p->match->pos <= last) {
				pkt_str(o, fl->la[i - 1], qs, sizeof(qs));
				snprintf(why, len, "flow %s: order differs: in A packet %zu of the flow, %s,"
					 " comes after %s, in B it is packet %u of the flow, before"
					 " that one (packet %u)", fs, i + 1, ps, qs,
					 p->match->pos + 1, last + 1);
				return false;
			}
			last = p->match->pos;
			any = true;
		}
		return true;
	}
	while (i < fl->na && j < fl->nb) {
		const struct pkt *p = fl->la[i], *q = fl->lb[j];

		if (p->match == q) {
			i++;
			j++;
			continue;
		}
		pkt_str(o, p, ps, sizeof(ps));
		pkt_str(o, q, qs, sizeof(qs));
		if (p->match == NULL) {
			dup_str(o, p, fl->la, fl->na, ds, sizeof(ds));
			snprintf(why, len, "flow %s: packet %zu of A (%zu packets of the flow), %s%s,"
				 " is missing from B", fs, i + 1, fl->na, ps, ds);
		} else if (q->match == NULL) {
			dup_str(o, q, fl->lb, fl->nb, ds, sizeof(ds));
			snprintf(why, len, "flow %s: packet %zu of B (%zu packets of the flow), %s%s,"
				 " is not in A", fs, j + 1, fl->nb, qs, ds);
		} else {
			snprintf(why, len, "flow %s: order differs at packet %zu of the flow: A has"
				 " %s, B has %s, which is packet %u of the flow in A",
				 fs, i + 1, ps, qs, q->match->pos + 1);
		}
		return false;
	}
	if (i < fl->na) {
		pkt_str(o, fl->la[i], ps, sizeof(ps));
		dup_str(o, fl->la[i], fl->la, fl->na, ds, sizeof(ds));
		snprintf(why, len, "flow %s: packet %zu of A (%zu packets of the flow), %s%s,"
			 " is missing from B (B has %zu packets of the flow)",
			 fs, i + 1, fl->na, ps, ds, fl->nb);
		return false;
	}
	if (j < fl->nb) {
		pkt_str(o, fl->lb[j], qs, sizeof(qs));
		dup_str(o, fl->lb[j], fl->lb, fl->nb, ds, sizeof(ds));
		snprintf(why, len, "flow %s: packet %zu of B (%zu packets of the flow), %s%s,"
			 " is not in A (A has %zu packets of the flow)",
			 fs, j + 1, fl->nb, qs, ds, fl->na);
		return false;
	}
	return true;
}

static void free_all(struct side *a, struct side *b, struct flowtab *t)
{
	size_t i;

	for (i = 0; a && i < a->n; i++)
		free(a->v[i].data);
	for (i = 0; b && i < b->n; i++)
		free(b->v[i].data);
	for (i = 0; i < t->n; i++) {
		free(t->v[i].la);
		free(t->v[i].lb);
	}
	if (a)
		free(a->v);
	if (b)
		free(b->v);
	free(t->v);
	free(t->slot);
}

/* --per-flow [--subset] A B [B2...]: B is the concatenation of the B files. */
static int per_flow(const struct opts *o, char **names, int nnames)
{
	struct side a = { 0 }, b = { 0 };
	struct flowtab t = { 0 };
	size_t a_only, b_only, f, bad = 0;
	char why[1024];
	int dlt, rc = EXIT_TROUBLE;

	g_names = (const char *const *)names;
	if (load(o, names[0], 0, true, &a, &t) < 0)
		goto done;
	for (int i = 1; i < nnames; i++) {
		dlt = load(o, names[i], (unsigned)i, false, &b, &t);
		if (dlt < 0)
			goto done;
	}
	build_lists(&a, &t, true);
	build_lists(&b, &t, false);
	match_sides(o, &a, &b, &a_only, &b_only);
	/* flows in order of first appearance: A's first (the table's order) */
	for (f = 0; f < t.n; f++) {
		if (!check_flow(o, &t.v[f], why, sizeof(why))) {
			if (bad++ == 0)
				msg("%s", why);
		}
	}
	if (bad == 0 && (a_only != 0 || (!o->subset && !o->suffix && b_only != 0))) {
		msg("internal error: the flows agree but the packets do not");
		bad = 1;
	}
	if (bad != 0) {
		if (o->subset || o->suffix)
			msg("A has %zu packets not in B; %zu of %zu flows differ (A %zu packets,"
			    " B %zu)", a_only, bad, t.n, a.n, b.n);
		else
			msg("A has %zu packets not in B, B has %zu packets not in A; %zu of %zu flows"
			    " differ (A %zu packets, B %zu)", a_only, b_only, bad, t.n, a.n, b.n);
		rc = EXIT_DIFF;
	} else {
		rc = 0;
	}
done:
	free_all(&a, &b, &t);
	return rc;
}

/* --count-flows A: the number of flows (named: followed by the file's
 * name); --list-flows A: one line each. */
static int flow_summary(const struct opts *o, const char *path, bool list,
			bool named)
{
	struct side a = { 0 };
	struct flowtab t = { 0 };
	size_t i, f;
	int rc = EXIT_TROUBLE;

	if (load(o, path, 0, false, &a, &t) < 0)
		goto done;
	if (!list) {
		if (named)
			printf("%zu %s\n", t.n, path);
		else
			printf("%zu\n", t.n);
		rc = 0;
		goto done;
	}
	for (i = 0; i < a.n; i++) {
		struct flow *fl = &t.v[a.v[i].flow];

		if (fl->na++ == 0) {
			fl->first_sec = (uint64_t)a.v[i].h.ts.tv_sec;
			fl->first_frac = (uint64_t)a.v[i].h.ts.tv_usec;	/* us, or ns with --nano */
		}
		fl->bytes += a.v[i].h.len;
	}
	for (f = 0; f < t.n; f++) {
		const struct flow *fl = &t.v[f];
		char pn[16], sa[64], sb[64];

		addr_str(&fl->key, fl->key.a, sa, sizeof(sa));
		addr_str(&fl->key, fl->key.b, sb, sizeof(sb));
		printf(o->nano ? "%" PRIu64 ".%09" PRIu64 : "%" PRIu64 ".%06" PRIu64,
		       fl->first_sec, fl->first_frac);
		printf(" %s %s %u %s %u %zu %zu", proto_name(&fl->key, pn, sizeof(pn)),
		       sa, fl->key.port_a, sb, fl->key.port_b, fl->na, fl->bytes);
		printf(named ? " %s\n" : "\n", path);
	}
	rc = 0;
done:
	free_all(&a, NULL, &t);
	return rc;
}

static uint64_t parse_num(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = (s[0] >= '0' && s[0] <= '9') ? strtoull(s, &end, 10) : 0;
	if (s[0] < '0' || s[0] > '9' || errno != 0 || *end != '\0') {
		msg("%s: '%s' is not a decimal number", opt, s);
		exit(EXIT_TROUBLE);
	}
	return v;
}

int main(int argc, char **argv)
{
	enum { O_NANO = 256, O_BYTES, O_SUBSET, O_COUNT, O_PRINT, O_CAPLEN,
	       O_PER_FLOW, O_COUNT_FLOWS, O_LIST_FLOWS, O_SUFFIX, O_PUSHED_VLAN };
	static const struct option longopts[] = {
		{ "nano", no_argument, NULL, O_NANO },
		{ "bytes-only", no_argument, NULL, O_BYTES },
		{ "subset", no_argument, NULL, O_SUBSET },
		{ "count-only", required_argument, NULL, O_COUNT },
		{ "print-count", no_argument, NULL, O_PRINT },
		{ "caplen", required_argument, NULL, O_CAPLEN },
		{ "per-flow", no_argument, NULL, O_PER_FLOW },
		{ "suffix", no_argument, NULL, O_SUFFIX },
		{ "count-flows", no_argument, NULL, O_COUNT_FLOWS },
		{ "list-flows", no_argument, NULL, O_LIST_FLOWS },
		{ "pushed-vlan", required_argument, NULL, O_PUSHED_VLAN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { .push_vlan = -1 };
	struct file a = { 0 }, b = { 0 };
	int c, rc = EXIT_TROUBLE;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_NANO: o.nano = true; break;
		case O_BYTES: o.bytes_only = true; break;
		case O_SUBSET: o.subset = true; break;
		case O_COUNT:
			o.count_only = true;
			o.count = parse_num("--count-only", optarg);
			break;
		case O_PRINT: o.print_count = true; break;
		case O_CAPLEN:
			o.caplen = parse_num("--caplen", optarg);
			if (o.caplen == 0 || o.caplen > UINT32_MAX) {
				msg("--caplen must be 1..%u", UINT32_MAX);
				return EXIT_TROUBLE;
			}
			break;
		case O_PER_FLOW: o.per_flow = true; break;
		case O_SUFFIX: o.suffix = true; break;
		case O_COUNT_FLOWS: o.count_flows = true; break;
		case O_LIST_FLOWS: o.list_flows = true; break;
		case O_PUSHED_VLAN:
			o.push_vlan = (int64_t)parse_num("--pushed-vlan", optarg);
			if (o.push_vlan > 4095) {
				msg("--pushed-vlan must be 0..4095");
				return EXIT_TROUBLE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_TROUBLE;
		}
	}
	if (o.push_vlan >= 0 && (o.count_flows || o.list_flows || o.per_flow ||
				 o.count_only || o.print_count)) {
		msg("--pushed-vlan compares two files packet by packet (or with "
		    "--subset)");
		return EXIT_TROUBLE;
	}
	if (o.count_flows || o.list_flows) {
		if (argc - optind < 1 || o.subset || o.bytes_only || o.caplen || o.per_flow || o.suffix ||
		    o.count_only || o.print_count || (o.count_flows && o.list_flows)) {
			usage(stderr);
			return EXIT_TROUBLE;
		}
		/* several files: one line each, so that thousands of dump
		 * files take one run */
		for (int i = optind; i < argc; i++) {
			rc = flow_summary(&o, argv[i], o.list_flows, argc - optind > 1);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	if (o.suffix && !o.per_flow) {
		msg("--suffix needs --per-flow");
		return EXIT_TROUBLE;
	}
	if (o.per_flow) {
		if (argc - optind < 2 || o.count_only || o.print_count) {
			usage(stderr);
			return EXIT_TROUBLE;
		}
		return per_flow(&o, argv + optind, argc - optind);
	}
	if (o.count_only || o.print_count) {
		if (argc - optind != 1 || o.subset || o.bytes_only || o.caplen ||
		    (o.count_only && o.print_count)) {
			usage(stderr);
			return EXIT_TROUBLE;
		}
		return count_only(&o, argv[optind]);
	}
	if (argc - optind != 2) {
		usage(stderr);
		return EXIT_TROUBLE;
	}
	if (open_file(&a, argv[optind], &o) < 0 || open_file(&b, argv[optind + 1], &o) < 0)
		goto done;
	a.push_vlan = o.push_vlan;
	if (pcap_datalink(a.p) != pcap_datalink(b.p)) {
		const char *na = pcap_datalink_val_to_name(pcap_datalink(a.p));
		const char *nb = pcap_datalink_val_to_name(pcap_datalink(b.p));
		msg("link-type %s vs %s", na ? na : "?", nb ? nb : "?");
		rc = EXIT_DIFF;
		goto done;
	}
	rc = o.subset ? subset(&o, &a, &b) : compare(&o, &a, &b);
done:
	free(a.tagged);
	if (a.p != NULL)
		pcap_close(a.p);
	if (b.p != NULL)
		pcap_close(b.p);
	return rc;
}
