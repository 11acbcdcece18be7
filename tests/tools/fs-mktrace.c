/* SPDX-License-Identifier: BSD-3-Clause */
/* fs-mktrace: write a classic pcap file of known, deterministic traffic (flows,
 * sizes, VLAN tags, IPv4/IPv6, UDP/TCP) for flowscope's integration tests. */

/*
 * Packet i (0-based) belongs to flow f = i % flows. Flow f carries
 *   MACs      02:f5:5c:00:HH:LL -> 02:f5:d5:00:HH:LL   (HH:LL = f; locally
 *             administered unicast, so no host ever answers them)
 *   IPv4      10.1.(f >> 8).(f & 255) -> 10.1.(128 + (f >> 8)).(f & 255)
 *   IPv6      fd00::1:f -> fd00::2:f
 *   ports     sport + f -> dport + f (defaults 10000 + f -> 30000 + f)
 *   protocol  --proto udp|tcp, or with mixed: UDP for even f, TCP for odd f
 * and every packet is distinct: the IPv4 ID / IPv6 flow label hold the low
 * bits of i and the payload starts with i as a 64-bit big-endian number.
 * Timestamps are start + (i + 1) * gap (plus i % 997 + 1 ns in --nano files),
 * nudged by 1 us wherever the microsecond part would be zero, so they are
 * strictly increasing with non-zero sub-second parts. Checksums (IPv4
 * header, UDP, TCP) are computed over the full packet before --snaplen
 * truncation.
 *
 * Flow ends and trigger markers (none of them unless asked for, so the
 * traces above stay byte for byte what they were): let n be the number of
 * packets of flow f and k the index of a packet within its flow (0-based).
 *   --rst-every K    flows with f % K == 0 are TCP; their last packet
 *                    (k = n - 1) carries RST|ACK instead of PSH|ACK
 *   --fin-every K    flows with f % K == 0 (not RST flows) are TCP; packet
 *                    k = n - 2 is FIN|ACK from the client, k = n - 1 FIN|ACK
 *                    from the server (addresses, ports and MACs swapped)
 *   --marker-every K UDP flows with f % K == 0: the payload of packet
 *                    k = n / 2 starts with de ad be ef, then the packet
 *                    index (the frame grows to hold them if needed); every
 *                    other payload starts with 4 zero bytes (the high half
 *                    of the 64-bit index), so never with de ad be ef
 *   --late-trigger   with --rst-every: the trace opens with the first
 *                    packet of every RST flow (in flow order) and closes
 *                    with their RST packets; the rest keeps the round robin
 *                    order. Each flow's own packets stay in order.
 * Since flows take turns, the flow ends are all in the last rounds of the
 * trace and no flow has a packet after its RST or second FIN. The IPv4
 * ID, IPv6 flow label, payload index and timestamp belong to the position
 * of the packet in the file, so packets stay distinct in every schedule.
 * --summary prints what was written as "name value" lines on stdout.
 *
 * --profile realistic writes the generator's realistic profile instead
 * (src/traffic.c, the same frames as flowscope:gen with gen_profile =
 * realistic for the same seed and --flows as gen_flows): --flows
 * connections at a time (default 1000), TCP with handshakes, data both
 * ways and FIN or RST ends, UDP exchanges and streams, sizes from a heavy
 * tail. --packets, --seed, --start, --gap-us, --nano and --snaplen work as
 * above (timestamps too); the options that shape the uniform traffic are
 * refused. Its --summary counts the connections as tshark's conversations
 * would: packets, flows, tcp_flows, udp_flows, bytes (frame bytes),
 * large_flows and large_bytes (connections of more than 20480 frame bytes,
 * and their bytes), handshakes (SYN, SYN-ACK and ACK seen), fin_flows,
 * rst_flows, ended_flows (whose last packet is in the trace).
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "traffic.h"

#define MAX_FRAME 9000u
#define MAX_FLOWS 16384u	/* keeps source and destination port ranges apart */
#define MAX_CONNS (1u << 20)	/* --profile realistic: connections at a time */
#define DEFAULT_CONNS 1000u	/* as gen_flows */
#define DEFAULT_SNAPLEN 262144u
#define ETH_HLEN 14u
#define VLAN_HLEN 4u
#define IP4_HLEN 20u
#define IP6_HLEN 40u
#define UDP_HLEN 8u
#define TCP_HLEN 20u
#define NS_PER_S 1000000000ull

enum proto { PROTO_UDP, PROTO_TCP, PROTO_MIXED };

struct opts {
	const char *out;
	uint64_t packets;
	uint64_t flows;
	uint64_t size;
	bool mixed;
	bool size_given;
	enum proto proto;
	bool ipv6;
	bool nano;
	int64_t vlan;		/* -1: untagged */
	bool qinq;
	int64_t inner_vlan;	/* -1: vlan + 1 */
	uint64_t start;
	uint64_t gap_us;
	uint64_t seed;
	uint64_t snaplen;	/* 0: no truncation */
	uint64_t sport;
	uint64_t dport;
	uint64_t rst_every;	/* 0: no RST flows */
	uint64_t fin_every;	/* 0: no FIN flows */
	uint64_t marker_every;	/* 0: no marker packets */
	bool late_trigger;
	bool summary;
	bool realistic;		/* --profile realistic */
	bool flows_given;
	const char *uniform_opt;	/* an option only the uniform profile takes */
};

/* What a packet is within its flow. */
enum kind { K_DATA, K_RST, K_FIN_CLIENT, K_FIN_SERVER, K_MARKER };

static void usage(FILE *f)
{
	fprintf(f,
"usage: fs-mktrace -o FILE [options]\n"
"  -o, --output FILE   pcap file to write (required)\n"
"  --packets N         number of packets (default 1000)\n"
"  --flows N           packet i belongs to flow i %% N (default 10, max %u)\n"
"  --size BYTES        frame length (default 64; min: the headers, 42 for\n"
"                      IPv4/UDP, 62 for IPv6/UDP; max %u)\n"
"  --mixed             cycle frame lengths 60 64 128 512 1500 9000 R R, R\n"
"                      random (seeded by --seed); raised to the headers' size\n"
"  --proto P           udp, tcp or mixed (even flows UDP, odd TCP); default udp\n"
"  --ipv6              IPv6 instead of IPv4\n"
"  --vlan ID           one 802.1Q tag (TPID 0x8100) with VLAN ID\n"
"  --qinq[=INNER]      with --vlan: outer 802.1ad tag (TPID 0x88a8) VLAN ID,\n"
"                      inner 802.1Q tag INNER (default ID + 1)\n"
"  --nano              nanosecond-precision file\n"
"  --start SEC         first timestamp's seconds (default 1600000000)\n"
"  --gap-us N          microseconds between packets (default 10, 1..1000000)\n"
"  --seed N            seed of the random sizes (default 1)\n"
"  --snaplen N         truncate caplen to N bytes (len keeps the frame length)\n"
"  --sport N, --dport N  port bases: flow f uses N + f (default 10000, 30000)\n"
"  --rst-every K       flows with f %% K == 0 are TCP and end with a RST|ACK\n"
"  --fin-every K       flows with f %% K == 0 (not RST flows) are TCP and end\n"
"                      with FIN|ACK from the client, then from the server\n"
"  --marker-every K    UDP flows with f %% K == 0: the middle packet (n / 2) of\n"
"                      the flow has a payload starting with de ad be ef\n"
"  --late-trigger      with --rst-every: the RST flows send the trace's first\n"
"                      packets and its last ones (the RSTs)\n"
"  --summary           print packets, flows, tcp_flows, udp_flows, rst_flows,\n"
"                      rst_flow_packets, fin_flows, fin_flow_packets,\n"
"                      marker_flows, marker_flow_packets on stdout\n"
"  --profile P         uniform (the traffic above, default) or realistic:\n"
"                      flowscope's gen_profile = realistic, --flows (default\n"
"                      %u, max %u) TCP/UDP connections at a time,\n"
"                      heavy-tailed sizes; takes --packets, --flows, --seed,\n"
"                      --start, --gap-us, --nano, --snaplen, --summary (then:\n"
"                      packets, flows, tcp_flows, udp_flows, bytes, large_flows,\n"
"                      large_bytes, handshakes, fin_flows, rst_flows,\n"
"                      ended_flows; large: over %u frame bytes)\n",
		MAX_FLOWS, MAX_FRAME, DEFAULT_CONNS, MAX_CONNS, FS_TRAFFIC_LARGE);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Print "fs-mktrace: MESSAGE" on stderr and exit 1. */
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("fs-mktrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Parse a decimal number in [min, max] or exit with a message naming opt. */
static uint64_t parse_num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		die("%s needs a decimal number", opt);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		die("%s: '%s' is not a number in %" PRIu64 "..%" PRIu64, opt, s, min, max);
	}
	return v;
}

/* splitmix64: small, good enough and identical on every platform. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* One's complement sum of len bytes, added to sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t k;

	for (k = 0; k + 1 < len; k += 2)
		sum += (uint32_t)p[k] << 8 | p[k + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static bool flow_is_rst(const struct opts *o, uint64_t f)
{
	return o->rst_every != 0 && f % o->rst_every == 0;
}

static bool flow_is_fin(const struct opts *o, uint64_t f)
{
	return o->fin_every != 0 && f % o->fin_every == 0 && !flow_is_rst(o, f);
}

static bool flow_is_tcp(const struct opts *o, uint64_t f)
{
	return o->proto == PROTO_TCP || (o->proto == PROTO_MIXED && (f & 1)) ||
	       flow_is_rst(o, f) || flow_is_fin(o, f);
}

static bool flow_is_marker(const struct opts *o, uint64_t f)
{
	return o->marker_every != 0 && f % o->marker_every == 0 && !flow_is_tcp(o, f);
}

/* Number of packets of flow f (round robin over --flows). */
static uint64_t flow_packets(const struct opts *o, uint64_t f)
{
	return o->packets / o->flows + (f < o->packets % o->flows ? 1 : 0);
}

/* What packet k of flow f is. */
static enum kind kind_of(const struct opts *o, uint64_t f, uint64_t k)
{
	uint64_t n = flow_packets(o, f);

	if (flow_is_rst(o, f) && k == n - 1)
		return K_RST;
	if (flow_is_fin(o, f) && k == n - 2)
		return K_FIN_CLIENT;
	if (flow_is_fin(o, f) && k == n - 1)
		return K_FIN_SERVER;
	if (flow_is_marker(o, f) && k == n / 2)
		return K_MARKER;
	return K_DATA;
}

/*
 * The order of the packets in the file: which flow and which of its packets
 * comes next. Round robin (packet i is packet i / flows of flow i % flows),
 * or with --late-trigger: the first packets of the RST flows, the round robin
 * without them and without the RSTs, then the RSTs.
 */
struct sched {
	int phase;
	uint64_t j;		/* round robin position or flow of the phase */
};

static bool sched_next(const struct opts *o, struct sched *s, uint64_t *f, uint64_t *k)
{
	uint64_t n;

	if (!o->late_trigger) {
		if (s->j >= o->packets)
			return false;
		*f = s->j % o->flows;
		*k = s->j / o->flows;
		s->j++;
		return true;
	}
	for (;;) {
		if (s->phase == 0) {		/* first packets of RST flows */
			for (; s->j < o->flows; s->j++) {
				n = flow_packets(o, s->j);
				if (flow_is_rst(o, s->j) && n >= 2) {
					*f = s->j++;
					*k = 0;
					return true;
				}
			}
		} else if (s->phase == 1) {	/* the round robin between them */
			while (s->j < o->packets) {
				*f = s->j % o->flows;
				*k = s->j / o->flows;
				s->j++;
				n = flow_packets(o, *f);
				if (!flow_is_rst(o, *f) || (*k != n - 1 && (*k != 0 || n < 2)))
					return true;
			}
		} else if (s->phase == 2) {	/* the RSTs */
			for (; s->j < o->flows; s->j++) {
				n = flow_packets(o, s->j);
				if (flow_is_rst(o, s->j) && n >= 1) {
					*f = s->j++;
					*k = n - 1;
					return true;
				}
			}
		} else {
			return false;
		}
		s->phase++;
		s->j = 0;
	}
}

static unsigned l2_len(const struct opts *o)
{
	return ETH_HLEN + (o->vlan < 0 ? 0 : (o->qinq ? 2 : 1) * VLAN_HLEN);
}

static unsigned hdr_len(const struct opts *o, bool tcp)
{
	return l2_len(o) + (o->ipv6 ? IP6_HLEN : IP4_HLEN) + (tcp ? TCP_HLEN : UDP_HLEN);
}

/* Frame length of packet i: --size, or the --mixed cycle. */
static unsigned frame_len(const struct opts *o, uint64_t i, unsigned hlen, uint64_t *rng)
{
	static const unsigned cycle[] = { 60, 64, 128, 512, 1500, 9000, 0, 0 };
	unsigned len;

	if (!o->mixed)
		return (unsigned)o->size;
	len = cycle[i % (sizeof(cycle) / sizeof(cycle[0]))];
	if (len == 0)
		len = hlen + (unsigned)(rng_next(rng) % (MAX_FRAME - hlen + 1));
	return len < hlen ? hlen : len;
}

/* Build the packet at position i of the file, a packet of flow f of the
 * given kind, into pkt (MAX_FRAME bytes); returns its length. */
static unsigned build(const struct opts *o, uint64_t i, uint64_t f, enum kind kind,
		      uint32_t *seq, uint64_t *rng, uint8_t *pkt)
{
	bool tcp = flow_is_tcp(o, f);
	bool rev = kind == K_FIN_SERVER;	/* server to client */
	unsigned hlen = hdr_len(o, tcp);
	unsigned len = frame_len(o, i, hlen, rng);
	unsigned l3 = l2_len(o);
	unsigned l4 = l3 + (o->ipv6 ? IP6_HLEN : IP4_HLEN);
	unsigned pay = l4 + (tcp ? TCP_HLEN : UDP_HLEN);
	unsigned l4len;
	uint8_t proto = tcp ? 6 : 17;
	uint32_t sum;
	unsigned k, off;
	unsigned cli = rev ? 1 : 0;	/* the client's side: source or destination */

	if (kind == K_MARKER && len < pay + 12)
		len = pay + 12;		/* de ad be ef and the index */
	l4len = len - l4;
	memset(pkt, 0, len);

	/* Ethernet and tags */
	static const uint8_t srv_mac[4] = { 0x02, 0xf5, 0xd5, 0x00 };
	static const uint8_t cli_mac[4] = { 0x02, 0xf5, 0x5c, 0x00 };
	memcpy(pkt + 6 * cli, srv_mac, 4);		/* destination first */
	put16(pkt + 6 * cli + 4, (uint32_t)f);
	memcpy(pkt + 6 - 6 * cli, cli_mac, 4);
	put16(pkt + 6 - 6 * cli + 4, (uint32_t)f);
	off = 12;
	if (o->vlan >= 0) {
		put16(pkt + off, o->qinq ? 0x88a8 : 0x8100);
		put16(pkt + off + 2, (uint32_t)o->vlan);
		off += 4;
		if (o->qinq) {
			put16(pkt + off, 0x8100);
			put16(pkt + off + 2, (uint32_t)o->inner_vlan);
			off += 4;
		}
	}
	put16(pkt + off, o->ipv6 ? 0x86dd : 0x0800);

	/* IP header; the L4 checksum starts with the pseudo header */
	uint8_t *ip = pkt + l3;
	if (o->ipv6) {
		put32(ip, 6u << 28 | (uint32_t)(i & 0xfffff));
		put16(ip + 4, l4len);
		ip[6] = proto;
		ip[7] = 64;
		ip[8 + 16 * cli] = 0xfd;	/* client fd00::1:f */
		put16(ip + 20 + 16 * cli, 1);
		put16(ip + 22 + 16 * cli, (uint32_t)f);
		ip[24 - 16 * cli] = 0xfd;	/* server fd00::2:f */
		put16(ip + 36 - 16 * cli, 2);
		put16(ip + 38 - 16 * cli, (uint32_t)f);
		sum = csum_add(0, ip + 8, 32);
		sum += l4len + proto;
	} else {
		ip[0] = 0x45;
		put16(ip + 2, len - l3);
		put16(ip + 4, (uint32_t)(i & 0xffff));
		put16(ip + 6, 0x4000);		/* DF */
		ip[8] = 64;
		ip[9] = proto;
		ip[12 + 4 * cli] = 10;		/* client 10.1.(f >> 8).(f & 255) */
		ip[13 + 4 * cli] = 1;
		put16(ip + 14 + 4 * cli, (uint32_t)f);
		ip[16 - 4 * cli] = 10;		/* server 10.1.(128 + (f >> 8)).(f & 255) */
		ip[17 - 4 * cli] = 1;
		put16(ip + 18 - 4 * cli, (uint32_t)f + 0x8000);
		put16(ip + 10, csum_fold(csum_add(0, ip, IP4_HLEN)));
		sum = csum_add(0, ip + 12, 8);
		sum += l4len + proto;
	}

	/* payload: the packet index, then a pattern */
	for (k = 0; pay + k < len; k++)
		pkt[pay + k] = k < 8 ? (uint8_t)(i >> (56 - 8 * k))
				     : (uint8_t)(i + k + o->seed);
	if (kind == K_MARKER) {
		static const uint8_t marker[4] = { 0xde, 0xad, 0xbe, 0xef };
		memcpy(pkt + pay, marker, 4);
		for (k = 0; k < 8; k++)
			pkt[pay + 4 + k] = (uint8_t)(i >> (56 - 8 * k));
	}

	/* transport header */
	uint8_t *th = pkt + l4;
	put16(th + 2 * cli, (uint32_t)(o->sport + f));
	put16(th + 2 - 2 * cli, (uint32_t)(o->dport + f));
	if (tcp) {
		/* the server's sequence numbers start at 1: what the client acks */
		put32(th + 4, rev ? 1 : seq[f]);
		put32(th + 8, rev ? seq[f] : 1);
		th[12] = 5 << 4;
		switch (kind) {
		case K_RST: th[13] = 0x14; break;		/* RST | ACK */
		case K_FIN_CLIENT:
		case K_FIN_SERVER: th[13] = 0x11; break;	/* FIN | ACK */
		default: th[13] = 0x18; break;			/* PSH | ACK */
		}
		put16(th + 14, 65535);
		if (!rev)
			seq[f] += len - pay + (kind == K_FIN_CLIENT ? 1 : 0);
		put16(th + 16, csum_fold(csum_add(sum, th, l4len)));
	} else {
		put16(th + 4, l4len);
		uint16_t c = csum_fold(csum_add(sum, th, l4len));
		put16(th + 6, c == 0 ? 0xffff : c);
	}
	return len;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_PACKETS = 256, O_FLOWS, O_SIZE, O_MIXED, O_PROTO, O_IPV6,
	       O_VLAN, O_QINQ, O_NANO, O_START, O_GAP, O_SEED, O_SNAPLEN,
	       O_SPORT, O_DPORT, O_RST, O_FIN, O_MARKER, O_LATE, O_SUMMARY,
	       O_PROFILE };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "packets", required_argument, NULL, O_PACKETS },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "size", required_argument, NULL, O_SIZE },
		{ "mixed", no_argument, NULL, O_MIXED },
		{ "proto", required_argument, NULL, O_PROTO },
		{ "ipv6", no_argument, NULL, O_IPV6 },
		{ "vlan", required_argument, NULL, O_VLAN },
		{ "qinq", optional_argument, NULL, O_QINQ },
		{ "nano", no_argument, NULL, O_NANO },
		{ "start", required_argument, NULL, O_START },
		{ "gap-us", required_argument, NULL, O_GAP },
		{ "seed", required_argument, NULL, O_SEED },
		{ "snaplen", required_argument, NULL, O_SNAPLEN },
		{ "sport", required_argument, NULL, O_SPORT },
		{ "dport", required_argument, NULL, O_DPORT },
		{ "rst-every", required_argument, NULL, O_RST },
		{ "fin-every", required_argument, NULL, O_FIN },
		{ "marker-every", required_argument, NULL, O_MARKER },
		{ "late-trigger", no_argument, NULL, O_LATE },
		{ "summary", no_argument, NULL, O_SUMMARY },
		{ "profile", required_argument, NULL, O_PROFILE },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	*o = (struct opts){ .packets = 1000, .flows = 10, .size = 64,
			    .proto = PROTO_UDP, .vlan = -1, .inner_vlan = -1,
			    .start = 1600000000, .gap_us = 10, .seed = 1,
			    .sport = 10000, .dport = 30000 };
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		/* the options that shape the uniform traffic, for refusal */
		if (o->uniform_opt == NULL && c >= O_SIZE && c <= O_LATE &&
		    c != O_NANO && c != O_START && c != O_GAP && c != O_SEED &&
		    c != O_SNAPLEN) {
			for (const struct option *l = longopts; l->name; l++)
				if (l->val == c)
					o->uniform_opt = l->name;
		}
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'h': usage(stdout); exit(0);
		case O_PACKETS: o->packets = parse_num("--packets", optarg, 0, 1000000000); break;
		case O_FLOWS:
			o->flows = parse_num("--flows", optarg, 1, MAX_CONNS);
			o->flows_given = true;
			break;
		case O_SIZE:
			o->size = parse_num("--size", optarg, 1, MAX_FRAME);
			o->size_given = true;
			break;
		case O_MIXED: o->mixed = true; break;
		case O_PROTO:
			if (strcmp(optarg, "udp") == 0)
				o->proto = PROTO_UDP;
			else if (strcmp(optarg, "tcp") == 0)
				o->proto = PROTO_TCP;
			else if (strcmp(optarg, "mixed") == 0)
				o->proto = PROTO_MIXED;
			else
				die("--proto: '%s' is not udp, tcp or mixed", optarg);
			break;
		case O_IPV6: o->ipv6 = true; break;
		case O_VLAN: o->vlan = (int64_t)parse_num("--vlan", optarg, 0, 4095); break;
		case O_QINQ:
			o->qinq = true;
			if (optarg != NULL)
				o->inner_vlan = (int64_t)parse_num("--qinq", optarg, 0, 4095);
			break;
		case O_NANO: o->nano = true; break;
		case O_START: o->start = parse_num("--start", optarg, 0, UINT32_MAX); break;
		case O_GAP: o->gap_us = parse_num("--gap-us", optarg, 1, 1000000); break;
		case O_SEED: o->seed = parse_num("--seed", optarg, 0, UINT64_MAX); break;
		case O_SNAPLEN: o->snaplen = parse_num("--snaplen", optarg, 1, DEFAULT_SNAPLEN); break;
		case O_SPORT: o->sport = parse_num("--sport", optarg, 1, 65535); break;
		case O_DPORT: o->dport = parse_num("--dport", optarg, 1, 65535); break;
		case O_RST: o->rst_every = parse_num("--rst-every", optarg, 1, MAX_FLOWS); break;
		case O_FIN: o->fin_every = parse_num("--fin-every", optarg, 1, MAX_FLOWS); break;
		case O_MARKER:
			o->marker_every = parse_num("--marker-every", optarg, 1, MAX_FLOWS);
			break;
		case O_LATE: o->late_trigger = true; break;
		case O_SUMMARY: o->summary = true; break;
		case O_PROFILE:
			if (strcmp(optarg, "uniform") == 0)
				o->realistic = false;
			else if (strcmp(optarg, "realistic") == 0)
				o->realistic = true;
			else
				die("--profile: '%s' is not uniform or realistic", optarg);
			break;
		default: usage(stderr); exit(1);
		}
	}
	if (optind != argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (o->out == NULL)
		die("-o FILE is required (see --help)");
	if (o->summary && strcmp(o->out, "-") == 0)
		die("--summary writes to stdout: give -o a file");
	if (o->realistic) {
		if (o->uniform_opt != NULL)
			die("--%s: not taken with --profile realistic, whose traffic "
			    "has its own shape", o->uniform_opt);
		if (!o->flows_given)
			o->flows = DEFAULT_CONNS;
		if (o->start + (o->packets + 1) * o->gap_us / 1000000 + 2 > UINT32_MAX)
			die("--start + --packets * --gap-us runs past 2106");
		return;
	}
	if (o->flows > MAX_FLOWS)
		die("--flows: '%" PRIu64 "' is not a number in 1..%u", o->flows, MAX_FLOWS);
	if (o->mixed && o->size_given)
		die("--size and --mixed exclude each other");
	if (o->qinq && o->vlan < 0)
		die("--qinq needs --vlan ID (the outer tag)");
	if (o->qinq && o->inner_vlan < 0)
		o->inner_vlan = (o->vlan + 1) % 4096;
	if (o->sport + o->flows - 1 > 65535 || o->dport + o->flows - 1 > 65535)
		die("--sport/--dport + --flows run past port 65535");
	if (o->late_trigger && o->rst_every == 0)
		die("--late-trigger needs --rst-every K");
	for (uint64_t f = 0; o->fin_every != 0 && f < o->flows; f++) {
		uint64_t n = flow_packets(o, f);
		if (flow_is_fin(o, f) && n > 0 && n < 2) {
			die("--fin-every: flow %" PRIu64 " has %" PRIu64 " packet, too few for"
			    " two FINs (raise --packets to %" PRIu64 " or more)",
			    f, n, 2 * o->flows);
		}
	}
	if (!o->mixed) {
		unsigned need = hdr_len(o, o->proto != PROTO_UDP || o->rst_every != 0 ||
					   o->fin_every != 0);
		if (o->size < need) {
			die("--size %" PRIu64 " is below the %u bytes of this trace's headers",
			    o->size, need);
		}
	}
	/* last timestamp: start + packets * gap + at most 1 s of nudges */
	if (o->start + (o->packets + 1) * o->gap_us / 1000000 + 2 > UINT32_MAX)
		die("--start + --packets * --gap-us runs past 2106");
}

/* --summary: what the trace holds, as "name value" lines. */
static void print_summary(const struct opts *o)
{
	uint64_t f, n, flows = 0, tcp = 0, rst = 0, rst_p = 0, fin = 0, fin_p = 0;
	uint64_t marker = 0, marker_p = 0;

	for (f = 0; f < o->flows; f++) {
		n = flow_packets(o, f);
		if (n == 0)
			continue;
		flows++;
		tcp += flow_is_tcp(o, f);
		if (flow_is_rst(o, f)) {
			rst++;
			rst_p += n;
		}
		if (flow_is_fin(o, f)) {
			fin++;
			fin_p += n;
		}
		if (flow_is_marker(o, f)) {
			marker++;
			marker_p += n;
		}
	}
	printf("packets %" PRIu64 "\nflows %" PRIu64 "\ntcp_flows %" PRIu64
	       "\nudp_flows %" PRIu64 "\nrst_flows %" PRIu64 "\nrst_flow_packets %" PRIu64
	       "\nfin_flows %" PRIu64 "\nfin_flow_packets %" PRIu64
	       "\nmarker_flows %" PRIu64 "\nmarker_flow_packets %" PRIu64 "\n",
	       o->packets, flows, tcp, flows - tcp, rst, rst_p, fin, fin_p, marker, marker_p);
}

/* --profile realistic: what each slot's connection has had so far. */
struct conn_acct {
	uint64_t bytes;
	unsigned flags;		/* FS_TRAFFIC_* of its packets, or'ed */
	bool live;		/* it has packets not yet counted */
};

struct real_summary {
	uint64_t flows, tcp, bytes, large, large_bytes, handshakes, fin, rst;
	uint64_t ended;
};

static void count_conn(struct real_summary *rs, struct conn_acct *a)
{
	rs->flows++;
	rs->tcp += (a->flags & FS_TRAFFIC_TCP) != 0;
	rs->bytes += a->bytes;
	if (a->bytes > FS_TRAFFIC_LARGE) {
		rs->large++;
		rs->large_bytes += a->bytes;
	}
	rs->handshakes += (a->flags & FS_TRAFFIC_HANDSHAKE) != 0;
	rs->fin += (a->flags & FS_TRAFFIC_FIN) != 0;
	rs->rst += (a->flags & FS_TRAFFIC_RST) != 0;
	rs->ended += (a->flags & FS_TRAFFIC_LAST) != 0;
	a->live = false;
}

static void account(struct conn_acct *acct, struct real_summary *rs,
		    const struct fs_traffic_pkt *tp)
{
	struct conn_acct *a = &acct[tp->slot];

	if (tp->flags & FS_TRAFFIC_FIRST)
		*a = (struct conn_acct){ .live = true };
	a->bytes += tp->len;
	a->flags |= tp->flags;
	if (tp->flags & FS_TRAFFIC_LAST)
		count_conn(rs, a);
}

static void print_real_summary(const struct opts *o, struct conn_acct *acct,
			       struct real_summary *rs)
{
	for (uint64_t s = 0; s < o->flows; s++)
		if (acct[s].live)
			count_conn(rs, &acct[s]);
	printf("packets %" PRIu64 "\nflows %" PRIu64 "\ntcp_flows %" PRIu64
	       "\nudp_flows %" PRIu64 "\nbytes %" PRIu64 "\nlarge_flows %" PRIu64
	       "\nlarge_bytes %" PRIu64 "\nhandshakes %" PRIu64 "\nfin_flows %" PRIu64
	       "\nrst_flows %" PRIu64 "\nended_flows %" PRIu64 "\n",
	       o->packets, rs->flows, rs->tcp, rs->flows - rs->tcp, rs->bytes,
	       rs->large, rs->large_bytes, rs->handshakes, rs->fin, rs->rst, rs->ended);
}

int main(int argc, char **argv)
{
	static uint8_t pkt[MAX_FRAME];
	struct opts o;
	pcap_t *p = NULL;
	pcap_dumper_t *d = NULL;
	uint32_t *seq = NULL;
	uint64_t rng, i, f, k, bump = 0;
	struct sched sched = { 0, 0 };
	fs_traffic *tr = NULL;
	struct conn_acct *acct = NULL;
	struct real_summary rs = { 0 };
	int rc = 1;

	parse_args(argc, argv, &o);
	rng = o.seed;
	if (o.realistic) {
		tr = fs_traffic_create((uint32_t)o.flows, o.seed);
		acct = calloc(o.flows, sizeof(*acct));
		if (tr == NULL || acct == NULL) {
			perror("fs-mktrace: the realistic profile");
			goto done;
		}
	} else {
		seq = calloc(o.flows, sizeof(*seq));
		if (seq == NULL) {
			perror("fs-mktrace: calloc");
			goto done;
		}
		for (i = 0; i < o.flows; i++)
			seq[i] = (uint32_t)(i * 2654435761u) + 1;
	}

	p = pcap_open_dead_with_tstamp_precision(DLT_EN10MB,
		o.snaplen ? (int)o.snaplen : (int)DEFAULT_SNAPLEN,
		o.nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
	if (p == NULL) {
		fputs("fs-mktrace: pcap_open_dead failed\n", stderr);
		goto done;
	}
	d = pcap_dump_open(p, o.out);
	if (d == NULL) {
		fprintf(stderr, "fs-mktrace: %s\n", pcap_geterr(p));
		goto done;
	}
	for (i = 0; i < o.packets; i++) {
		struct pcap_pkthdr h;
		uint64_t t = o.start * NS_PER_S + (i + 1) * o.gap_us * 1000 + bump
			     + (o.nano ? i % 997 + 1 : 0);

		if ((t % NS_PER_S) / 1000 == 0) {	/* keep sub-second parts non-zero */
			bump += 1000;
			t += 1000;
		}
		const uint8_t *frame = pkt;

		if (o.realistic) {
			struct fs_traffic_pkt tp;

			fs_traffic_next(tr, &tp);
			account(acct, &rs, &tp);
			frame = tp.frame;
			h.len = tp.len;
		} else {
			if (!sched_next(&o, &sched, &f, &k)) {
				fputs("fs-mktrace: internal error: the schedule ended early\n",
				      stderr);
				goto done;
			}
			h.len = build(&o, i, f, kind_of(&o, f, k), seq, &rng, pkt);
		}
		h.caplen = o.snaplen && o.snaplen < h.len ? (bpf_u_int32)o.snaplen : h.len;
		h.ts.tv_sec = (time_t)(t / NS_PER_S);
		h.ts.tv_usec = (suseconds_t)(o.nano ? t % NS_PER_S : t % NS_PER_S / 1000);
		pcap_dump((u_char *)d, &h, frame);
	}
	if (!o.realistic && sched_next(&o, &sched, &f, &k)) {
		fputs("fs-mktrace: internal error: the schedule has packets left\n", stderr);
		goto done;
	}
	if (pcap_dump_flush(d) != 0 || ferror(pcap_dump_file(d))) {
		fprintf(stderr, "fs-mktrace: %s: write error\n", o.out);
		goto done;
	}
	if (o.summary && o.realistic)
		print_real_summary(&o, acct, &rs);
	else if (o.summary)
		print_summary(&o);
	rc = 0;
done:
	if (d != NULL)
		pcap_dump_close(d);
	if (p != NULL)
		pcap_close(p);
	if (rc != 0 && d != NULL && strcmp(o.out, "-") != 0)
		unlink(o.out);		/* no half-written trace left behind */
	free(seq);
	free(acct);
	fs_traffic_free(tr);
	return rc;
}
