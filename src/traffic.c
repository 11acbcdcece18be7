/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The realistic traffic profile (traffic.h). Each slot runs a small state
 * machine for its connection and writes one frame per call into one of
 * four buffers (TCP, SYN, UDP, DNS), the payload bytes of the TCP and UDP
 * ones filled once at creation: a frame costs its headers (about 54 bytes
 * written, two checksums over them) and one table look-up for the
 * payload's share of the TCP or UDP checksum, whatever its length. Only the choice of slot and the start of a
 * connection draw random numbers.
 *
 * Sizes: a connection's payload (both directions) is drawn from a mix of
 * a lognormal body (median 500 bytes, below BODY_MAX) and, with
 * probability LARGE_SHARE, a Pareto tail from FS_TRAFFIC_LARGE bytes up
 * (shape TAIL_ALPHA, at most TAIL_MAX). Since every body connection stays
 * below 20 KiB of frames and every tail one is above, about LARGE_SHARE
 * of the connections are large, and the tail's weight gives them most of
 * the bytes; the figures are those measured in edge traffic (the Time
 * Machine's: 12-15 % of connections above a 20 KB cutoff, 87-99.9 % of
 * the bytes), and tests/integration/gen_profile.sh keeps them there.
 */
#include "traffic.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LARGE_SHARE 0.135	/* connections drawn from the tail */
#define TAIL_ALPHA 0.9		/* Pareto shape: the lower, the heavier */
#define TAIL_MAX (64u << 20)	/* bytes; bounds the longest connection */
#define BODY_MEDIAN 500.0	/* bytes of payload */
#define BODY_SIGMA 1.2		/* of the body's log */
#define BODY_MAX (14u << 10)	/* with headers still below 20 KiB */

#define MSS 1460u		/* TCP payload per segment */
#define DGRAM 1200u		/* payload of a bulk UDP datagram */
#define WINDOW 64240u		/* receive window, never filled */
#define ACK_EVERY 2u		/* TCP: segments per acknowledgement */
#define BULK_ACK_EVERY 10u	/* UDP bulk: datagrams per client reply */

#define ETH_HLEN 14u
#define IP_HLEN 20u
#define TCP_HLEN 20u
#define UDP_HLEN 8u
#define MSS_OPT_LEN 4u		/* SYN and SYN-ACK carry an MSS option */
#define PAYLOAD_MAX (FS_TRAFFIC_FRAME_MAX - ETH_HLEN - IP_HLEN - UDP_HLEN)

/* DNS exchanges: a query of one name, an answer of up to DNS_ANSWERS
 * address records (16 bytes each, 28 for IPv6 addresses) */
#define DNS_QLEN 37u		/* header, h??????.example.net, type, class */
#define DNS_ANSWERS 16u
#define DNS_MAX (DNS_QLEN + DNS_ANSWERS * 28u)

/* Clients: 4064 hosts 10.1.1-16.1-254, ports 32768-60999 (Linux's
 * ephemeral range); servers: 10.2.x.y, a few of them popular. A
 * connection's client address and port follow from its number, so no two
 * connections of 115 million share a 5-tuple. */
#define CLIENTS 4064u		/* 16 * 254 */
#define CLIENT_STEP 1531u	/* prime to CLIENTS: spreads neighbours */
#define EPH_BASE 32768u
#define EPH_SPAN 28232u
#define SERVERS 8128u		/* 32 * 254 */
#define HOT_SERVERS 64u

enum side { CLI = 0, SRV = 1 };

enum phase {
	PH_NEW = 0,	/* the slot starts a connection at its next packet */
	PH_SYN, PH_SYNACK, PH_ACK,	/* handshake */
	PH_REQ, PH_RESP,		/* one request/response round */
	PH_CLOSE1, PH_CLOSE2, PH_CLOSE3,	/* FIN, FIN, ACK (or a RST) */
	PH_REFUSE,			/* RST to the SYN */
	PH_UREQ, PH_URESP,		/* UDP request and answer */
	PH_BULK,			/* UDP stream from the server */
};

enum end { END_FIN, END_RST, END_REFUSED };

struct conn {
	uint64_t id;
	uint32_t ip[2];		/* client, server; host order */
	uint32_t seq[2];	/* next sequence number of each side */
	uint32_t left;		/* payload bytes left in this phase */
	uint32_t req, resp;	/* payload of each round's two halves */
	uint16_t port[2];
	uint16_t ipid[2];
	uint8_t phase;
	uint8_t end;		/* enum end */
	uint8_t closer;		/* side that ends it */
	uint8_t rounds;		/* rounds after this one */
	uint8_t unacked;	/* segments not acknowledged yet */
	uint8_t ttl;		/* of the server's packets */
	bool tcp, bulk, dns;
};

struct fs_traffic {
	uint64_t rng;
	uint64_t next_id;
	uint32_t nslots;
	struct conn *conn;
	/* payload pattern and psum[j]: the one's complement sum of its
	 * first j 16-bit words (without carries folded) */
	uint8_t pattern[PAYLOAD_MAX];
	uint32_t psum[PAYLOAD_MAX / 2 + 1];
	/* frame buffers: payload at the offset of each kind's headers */
	uint8_t tcp[FS_TRAFFIC_FRAME_MAX];
	uint8_t udp[FS_TRAFFIC_FRAME_MAX];
	uint8_t dns[ETH_HLEN + IP_HLEN + UDP_HLEN + DNS_MAX];
	uint8_t syn[ETH_HLEN + IP_HLEN + TCP_HLEN + MSS_OPT_LEN];
};

/* splitmix64, as fs-mktrace's: small and the same everywhere */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double unit(uint64_t *s)
{
	return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in [0, n). */
static uint32_t below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((rnd(s) >> 32) * (uint64_t)n) >> 32);
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

/* One's complement sum of n bytes (n even), added to sum. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The sum of the first len payload bytes (an odd last byte padded). */
static uint32_t payload_sum(const fs_traffic *t, uint32_t len)
{
	uint32_t s = t->psum[len / 2];

	if (len & 1)
		s += (uint32_t)t->pattern[len - 1] << 8;
	return s;
}

/* ------------------------------------------------------------------ */
/* Sizes */

/* Payload bytes of a large connection: Pareto from FS_TRAFFIC_LARGE. */
static uint32_t tail_size(uint64_t *s)
{
	double v = FS_TRAFFIC_LARGE * pow(1.0 - unit(s), -1.0 / TAIL_ALPHA);

	return v >= TAIL_MAX ? TAIL_MAX : (uint32_t)v;
}

/* Payload bytes of a small one: lognormal, drawn again above BODY_MAX. */
static uint32_t body_size(uint64_t *s)
{
	for (;;) {
		double u1 = 1.0 - unit(s), u2 = unit(s);
		double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
		double v = BODY_MEDIAN * exp(BODY_SIGMA * z);

		if (v < BODY_MAX)
			return v < 1.0 ? 1 : (uint32_t)v;
	}
}

/* ------------------------------------------------------------------ */
/* Connections */

/* Server ports, with how many of every 100 connections of the kind use
 * each. */
struct port_share {
	uint16_t port, share;
};

static const struct port_share tcp_ports[] = {
	{ 443, 62 }, { 80, 20 }, { 8443, 6 }, { 8080, 4 }, { 993, 4 },
	{ 9000, 4 },
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The port of tab whose share holds r (0..99). */
static uint16_t pick_port(const struct port_share *tab, size_t n, uint32_t r)
{
	uint32_t acc = 0;
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		acc += tab[i].share;
		if (r < acc)
			break;
	}
	return tab[i].port;
}

static void addresses(fs_traffic *t, struct conn *c)
{
	uint32_t h = (uint32_t)((c->id % CLIENTS) * CLIENT_STEP % CLIENTS);
	uint32_t srv = below(&t->rng, 4) != 0 ? below(&t->rng, HOT_SERVERS)
					       : below(&t->rng, SERVERS);

	c->ip[CLI] = 0x0a010000u | (1 + h / 254) << 8 | (1 + h % 254);
	c->ip[SRV] = 0x0a020000u | (1 + srv / 254) << 8 | (1 + srv % 254);
	c->port[CLI] = (uint16_t)(EPH_BASE + (c->id / CLIENTS) % EPH_SPAN);
	c->ttl = (uint8_t)(64 - 4 - srv % 16);	/* a few hops away */
	c->ipid[CLI] = (uint16_t)rnd(&t->rng);
	c->ipid[SRV] = (uint16_t)rnd(&t->rng);
}

/* A TCP connection of size bytes; large ones are mostly downloads in one
 * to three rounds, small ones one request and its answer. */
static void start_tcp(fs_traffic *t, struct conn *c, uint32_t size,
		      bool large)
{
	uint32_t r = below(&t->rng, 100);

	c->tcp = true;
	c->port[SRV] = pick_port(tcp_ports, NELEMS(tcp_ports),
				  below(&t->rng, 100));
	c->seq[CLI] = (uint32_t)rnd(&t->rng);
	c->seq[SRV] = (uint32_t)rnd(&t->rng);
	c->phase = PH_SYN;
	c->rounds = 0;
	if (large) {
		uint32_t n = 1 + below(&t->rng, 3);

		c->rounds = (uint8_t)(n - 1);
		if (below(&t->rng, 100) < 85) {		/* download */
			c->req = 200 + below(&t->rng, 600);
			c->resp = size / n;
		} else {				/* upload */
			c->req = size / n;
			c->resp = 100 + below(&t->rng, 300);
		}
	} else {
		c->req = 1 + size / 3;
		c->resp = 1 + size - size / 3;
	}
	/* how it ends: 2 % of small ones are refused, 10 % end with a RST,
	 * the rest with FINs, closed by the client more often */
	c->end = !large && r < 2 ? END_REFUSED : r < 12 ? END_RST : END_FIN;
	c->closer = below(&t->rng, 100) < 60 ? CLI : SRV;
}

/* A UDP exchange: large ones stream from the server (media, QUIC-like),
 * small ones are one to three queries and answers, most of them DNS
 * (real DNS messages, which tshark decodes: random bytes on port 53
 * would be malformed DNS). */
static void start_udp(fs_traffic *t, struct conn *c, uint32_t size,
		      bool large)
{
	c->tcp = false;
	c->bulk = large;
	c->phase = PH_UREQ;
	c->rounds = 0;
	c->port[SRV] = 443;
	if (large) {
		c->req = DGRAM;
		c->resp = size;
		return;
	}
	c->rounds = (uint8_t)(below(&t->rng, 4) == 0 ?
			      1 + below(&t->rng, 2) : 0);
	if (below(&t->rng, 100) < 80) {
		c->dns = true;
		c->port[SRV] = 53;
		/* resp: address records in each answer */
		c->resp = size <= DNS_QLEN + 16 ? 1 :
			  (size - DNS_QLEN) / 16 > DNS_ANSWERS ? DNS_ANSWERS :
			  (size - DNS_QLEN) / 16;
	} else {
		c->req = 20 + below(&t->rng, 60);
		c->resp = size > DGRAM ? DGRAM : size;
	}
}

static void start(fs_traffic *t, struct conn *c)
{
	bool large = unit(&t->rng) < LARGE_SHARE;
	uint32_t size = large ? tail_size(&t->rng) : body_size(&t->rng);

	memset(c, 0, sizeof(*c));
	c->id = t->next_id++;
	addresses(t, c);
	/* small ones below 600 bytes: often a DNS-like UDP exchange;
	 * large ones: one in ten a UDP stream */
	if (large ? below(&t->rng, 10) == 0
		  : size < 600 && below(&t->rng, 100) < 45)
		start_udp(t, c, size, large);
	else
		start_tcp(t, c, size, large);
}

/* ------------------------------------------------------------------ */
/* Frames */

/* Ethernet and IPv4 headers of a frame from side `from` of c; returns the
 * IPv4 header. */
static uint8_t *l3(struct conn *c, uint8_t *f, int from, uint32_t len,
		   uint8_t proto)
{
	static const uint8_t host[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t gw[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
	uint8_t *ip = f + ETH_HLEN;

	memcpy(f, from == CLI ? gw : host, 6);
	memcpy(f + 6, from == CLI ? host : gw, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, len - ETH_HLEN);
	put16(ip + 4, c->ipid[from]++);
	put16(ip + 6, 0x4000);			/* DF */
	ip[8] = from == CLI ? 64 : c->ttl;
	ip[9] = proto;
	put16(ip + 10, 0);
	put32(ip + 12, c->ip[from]);
	put32(ip + 16, c->ip[!from]);
	put16(ip + 10, fold(sum16(0, ip, IP_HLEN)));
	return ip;
}

/* TCP flag bits */
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

/* A TCP segment from side `from` with flags and pay payload bytes; seq
 * is the side's next, ack (with F_ACK) what the other side sent. */
static void tcp_frame(fs_traffic *t, struct conn *c, int from, unsigned fl,
		      uint32_t pay, struct fs_traffic_pkt *pkt)
{
	bool opt = (fl & F_SYN) != 0;
	uint32_t hl = TCP_HLEN + (opt ? MSS_OPT_LEN : 0);
	uint32_t len = ETH_HLEN + IP_HLEN + hl + pay;
	uint8_t *f = opt ? t->syn : t->tcp;
	uint8_t *ip = l3(c, f, from, len, 6);
	uint8_t *th = ip + IP_HLEN;
	uint32_t sum;

	put16(th, c->port[from]);
	put16(th + 2, c->port[!from]);
	put32(th + 4, c->seq[from]);
	put32(th + 8, fl & F_ACK ? c->seq[!from] : 0);
	th[12] = (uint8_t)(hl / 4 << 4);
	th[13] = (uint8_t)fl;
	put16(th + 14, fl & F_RST ? 0 : WINDOW);
	put16(th + 16, 0);
	put16(th + 18, 0);
	if (opt) {
		th[20] = 2;	/* MSS */
		th[21] = 4;
		put16(th + 22, MSS);
	}
	/* pseudo header, TCP header, payload */
	sum = sum16(0, ip + 12, 8) + 6 + hl + pay;
	sum = sum16(sum, th, hl) + payload_sum(t, pay);
	put16(th + 16, fold(sum));
	pkt->frame = f;
	pkt->len = len;
}

/* A datagram in frame buffer f whose pay payload bytes (already there)
 * sum to paysum. */
static void udp_frame(struct conn *c, uint8_t *f, int from, uint32_t pay,
		      uint32_t paysum, struct fs_traffic_pkt *pkt)
{
	uint32_t len = ETH_HLEN + IP_HLEN + UDP_HLEN + pay;
	uint8_t *ip = l3(c, f, from, len, 17);
	uint8_t *uh = ip + IP_HLEN;
	uint32_t sum;
	uint16_t ck;

	put16(uh, c->port[from]);
	put16(uh + 2, c->port[!from]);
	put16(uh + 4, UDP_HLEN + pay);
	put16(uh + 6, 0);
	sum = sum16(0, ip + 12, 8) + 17 + UDP_HLEN + pay;
	sum = sum16(sum, uh, UDP_HLEN) + paysum;
	ck = fold(sum);
	put16(uh + 6, ck == 0 ? 0xffff : ck);	/* 0 means "none" */
	pkt->frame = f;
	pkt->len = len;
}

/* A datagram of the pattern's first pay bytes. */
static void udp_data(fs_traffic *t, struct conn *c, int from, uint32_t pay,
		     struct fs_traffic_pkt *pkt)
{
	udp_frame(c, t->udp, from, pay, payload_sum(t, pay), pkt);
}

/* A DNS query (the client's) or its answer: round c->rounds of the
 * exchange asks for the address (IPv4 first, then IPv6) of a name made
 * of the connection's number, answered by c->resp records. */
static void dns_frame(fs_traffic *t, struct conn *c, int from,
		      struct fs_traffic_pkt *pkt)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t *d = t->dns + ETH_HLEN + IP_HLEN + UDP_HLEN, *p;
	bool v6 = c->rounds % 2 == 1;
	uint32_t n = from == SRV ? c->resp : 0, len, sum;

	put16(d, (uint16_t)(c->id * 7919 + c->rounds));	/* id */
	put16(d + 2, from == SRV ? 0x8180 : 0x0100);	/* RD (and QR RA) */
	put16(d + 4, 1);
	put16(d + 6, n);
	put16(d + 8, 0);
	put16(d + 10, 0);
	p = d + 12;
	*p++ = 7;
	*p++ = 'h';
	for (int i = 5; i >= 0; i--)
		*p++ = (uint8_t)hex[(c->id >> (4 * i)) & 15];
	memcpy(p, "\7example\3net", 13);
	p += 13;
	put16(p, v6 ? 28 : 1);		/* AAAA or A */
	put16(p + 2, 1);		/* IN */
	p += 4;
	for (uint32_t i = 0; i < n; i++) {
		put16(p, 0xc00c);	/* the question's name */
		put16(p + 2, v6 ? 28 : 1);
		put16(p + 4, 1);
		put32(p + 6, 300);	/* TTL */
		put16(p + 10, v6 ? 16 : 4);
		p += 12;
		if (v6) {
			put32(p, 0xfd000000u);	/* fd00::a03:ID:i */
			put32(p + 4, 0);
			put32(p + 8, 0x0a03u);
			put16(p + 12, (uint32_t)c->id);
			put16(p + 14, i + 1);
			p += 16;
		} else {
			put32(p, 0x0a030000u | (uint32_t)(c->id % 254 + 1) << 8 |
				 (i + 1));	/* 10.3.x.i */
			p += 4;
		}
	}
	len = (uint32_t)(p - d);
	sum = sum16(0, d, len & ~1u);
	if (len & 1)
		sum += (uint32_t)d[len - 1] << 8;
	udp_frame(c, t->dns, from, len, sum, pkt);
}

/* Data from side `from`: the next segment of c->left. */
static void segment(fs_traffic *t, struct conn *c, int from,
		    struct fs_traffic_pkt *pkt)
{
	uint32_t n = c->left < MSS ? c->left : MSS;

	c->left -= n;
	tcp_frame(t, c, from, F_ACK | (c->left == 0 ? F_PSH : 0), n, pkt);
	c->seq[from] += n;
	c->unacked++;
}

/* After a response: another round, or the close. */
static void next_round(struct conn *c)
{
	if (c->rounds > 0) {
		c->rounds--;
		c->phase = PH_REQ;
		c->left = c->req;
	} else {
		c->phase = PH_CLOSE1;
	}
	c->unacked = 0;
}

/* One packet of TCP connection c; its flags go to pkt->flags. */
static void tcp_step(fs_traffic *t, struct conn *c, struct fs_traffic_pkt *pkt)
{
	int other = !c->closer;

	switch (c->phase) {
	case PH_SYN:
		tcp_frame(t, c, CLI, F_SYN, 0, pkt);
		c->seq[CLI]++;
		c->phase = c->end == END_REFUSED ? PH_REFUSE : PH_SYNACK;
		break;
	case PH_REFUSE:
		c->seq[SRV] = 0;
		tcp_frame(t, c, SRV, F_RST | F_ACK, 0, pkt);
		pkt->flags |= FS_TRAFFIC_RST | FS_TRAFFIC_LAST;
		c->phase = PH_NEW;
		break;
	case PH_SYNACK:
		tcp_frame(t, c, SRV, F_SYN | F_ACK, 0, pkt);
		c->seq[SRV]++;
		pkt->flags |= FS_TRAFFIC_SYNACK;
		c->phase = PH_ACK;
		break;
	case PH_ACK:
		tcp_frame(t, c, CLI, F_ACK, 0, pkt);
		pkt->flags |= FS_TRAFFIC_HANDSHAKE;
		c->phase = PH_REQ;
		c->left = c->req;
		c->unacked = 0;
		break;
	case PH_REQ:
		if (c->unacked >= ACK_EVERY) {
			tcp_frame(t, c, SRV, F_ACK, 0, pkt);
			c->unacked = 0;
			break;
		}
		segment(t, c, CLI, pkt);
		if (c->left == 0) {
			/* the answer's first segment acknowledges it */
			c->phase = PH_RESP;
			c->left = c->resp;
			c->unacked = 0;
		}
		break;
	case PH_RESP:
		if (c->unacked >= ACK_EVERY || (c->left == 0 && c->unacked)) {
			tcp_frame(t, c, CLI, F_ACK, 0, pkt);
			c->unacked = 0;
			if (c->left == 0)
				next_round(c);
			break;
		}
		segment(t, c, SRV, pkt);
		break;
	case PH_CLOSE1:
		if (c->end == END_RST) {
			tcp_frame(t, c, c->closer, F_RST | F_ACK, 0, pkt);
			pkt->flags |= FS_TRAFFIC_RST | FS_TRAFFIC_LAST;
			c->phase = PH_NEW;
			break;
		}
		tcp_frame(t, c, c->closer, F_FIN | F_ACK, 0, pkt);
		pkt->flags |= FS_TRAFFIC_FIN;
		c->seq[c->closer]++;
		c->phase = PH_CLOSE2;
		break;
	case PH_CLOSE2:
		tcp_frame(t, c, other, F_FIN | F_ACK, 0, pkt);
		pkt->flags |= FS_TRAFFIC_FIN;
		c->seq[other]++;
		c->phase = PH_CLOSE3;
		break;
	default:	/* PH_CLOSE3 */
		tcp_frame(t, c, c->closer, F_ACK, 0, pkt);
		pkt->flags |= FS_TRAFFIC_LAST;
		c->phase = PH_NEW;
		break;
	}
}

/* One packet of UDP exchange c. */
static void udp_step(fs_traffic *t, struct conn *c, struct fs_traffic_pkt *pkt)
{
	uint32_t n;

	switch (c->phase) {
	case PH_UREQ:
		if (c->dns)
			dns_frame(t, c, CLI, pkt);
		else
			udp_data(t, c, CLI, c->req, pkt);
		c->phase = c->bulk ? PH_BULK : PH_URESP;
		c->left = c->resp;
		c->unacked = 0;
		break;
	case PH_URESP:
		if (c->dns)
			dns_frame(t, c, SRV, pkt);
		else
			udp_data(t, c, SRV, c->resp, pkt);
		if (c->rounds > 0) {
			c->rounds--;
			c->phase = PH_UREQ;
		} else {
			pkt->flags |= FS_TRAFFIC_LAST;
			c->phase = PH_NEW;
		}
		break;
	default:	/* PH_BULK */
		if (c->unacked >= BULK_ACK_EVERY || c->left == 0) {
			udp_data(t, c, CLI, 40, pkt);
			c->unacked = 0;
			if (c->left == 0) {
				pkt->flags |= FS_TRAFFIC_LAST;
				c->phase = PH_NEW;
			}
			break;
		}
		n = c->left < DGRAM ? c->left : DGRAM;
		c->left -= n;
		udp_data(t, c, SRV, n, pkt);
		c->unacked++;
		break;
	}
}

void fs_traffic_next(fs_traffic *t, struct fs_traffic_pkt *pkt)
{
	uint32_t s = t->nslots == 1 ? 0 : below(&t->rng, t->nslots);
	struct conn *c = &t->conn[s];

	pkt->flags = 0;
	if (c->phase == PH_NEW) {
		start(t, c);
		pkt->flags |= FS_TRAFFIC_FIRST;
	}
	pkt->slot = s;
	pkt->conn = c->id;
	if (c->tcp) {
		pkt->flags |= FS_TRAFFIC_TCP;
		tcp_step(t, c, pkt);
	} else {
		udp_step(t, c, pkt);
	}
}

fs_traffic *fs_traffic_create(uint32_t slots, uint64_t seed)
{
	fs_traffic *t;
	uint64_t ps = 0x666c6f7773636f70ull;	/* the pattern's own seed */

	if (slots == 0 || slots > FS_TRAFFIC_SLOTS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->conn = calloc(slots, sizeof(*t->conn));
	if (t->conn == NULL) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->nslots = slots;
	t->rng = seed;
	/* payload bytes: fixed noise, as encrypted data looks */
	for (uint32_t i = 0; i < PAYLOAD_MAX; i++)
		t->pattern[i] = (uint8_t)(rnd(&ps) >> 56);
	t->psum[0] = 0;
	for (uint32_t j = 0; j < PAYLOAD_MAX / 2; j++)
		t->psum[j + 1] = t->psum[j] +
			((uint32_t)t->pattern[2 * j] << 8 | t->pattern[2 * j + 1]);
	memcpy(t->tcp + ETH_HLEN + IP_HLEN + TCP_HLEN, t->pattern,
	       FS_TRAFFIC_FRAME_MAX - ETH_HLEN - IP_HLEN - TCP_HLEN);
	memcpy(t->udp + ETH_HLEN + IP_HLEN + UDP_HLEN, t->pattern,
	       PAYLOAD_MAX);
	return t;
}

void fs_traffic_free(fs_traffic *t)
{
	if (t == NULL)
		return;
	free(t->conn);
	free(t);
}
