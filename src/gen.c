/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gen: the built-in traffic generator. Like FlowScope's pktgen it sends
 * UDP flows between addresses of 10.0.0.0/16 with ports 1234-2234, one
 * packet per flow in turn, gen_size bytes per frame, at gen_rate packets/s
 * (or as fast as the capture takes them), gen_packets in all (or without
 * end). With gen_profile = realistic the frames come from traffic.c
 * instead: gen_flows TCP and UDP connections at a time, of heavy-tailed
 * sizes, each one's packets on one queue. Packets go through a DPDK ring
 * device, so the path is a NIC's.
 */
#define _GNU_SOURCE
#include "source.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "traffic.h"

#define PORT_BASE 1234u
#define PORT_SPAN 1001u		/* 1234..2234 */
#define PACE_PER_S 1000u	/* paced batches per second, at most */

/* Flow f: source 10.0.(f mod 2^16), destination 10.0.(f * odd mod 2^16)
 * (a bijection, so flows stay distinct), ports spread over the range. */
static void flow_tuple(uint32_t f, uint32_t *sip, uint32_t *dip,
		       uint16_t *sport, uint16_t *dport)
{
	*sip = 0x0a000000u | (f & 0xffffu);
	*dip = 0x0a000000u | ((f * 40503u + 1u) & 0xffffu);
	*sport = (uint16_t)(PORT_BASE + (f >> 16) % PORT_SPAN);
	*dport = (uint16_t)(PORT_BASE + f % PORT_SPAN);
}

static uint16_t ip_checksum(const uint8_t *h)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Write frame of flow f, packet number seq, into buf (size bytes). */
static void build(uint8_t *buf, uint32_t size, uint32_t f, uint64_t seq)
{
	static const uint8_t dst_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
	static const uint8_t src_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	uint32_t sip, dip;
	uint16_t sport, dport, v;
	uint8_t *ip = buf + 14, *udp = ip + 20;

	flow_tuple(f, &sip, &dip, &sport, &dport);
	memcpy(buf, dst_mac, 6);
	memcpy(buf + 6, src_mac, 6);
	buf[12] = 0x08;
	buf[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = 0;
	v = htons((uint16_t)(size - 14));
	memcpy(ip + 2, &v, 2);
	v = htons((uint16_t)seq);
	memcpy(ip + 4, &v, 2);
	ip[6] = 0x40;	/* don't fragment */
	ip[7] = 0;
	ip[8] = 64;
	ip[9] = 17;
	ip[10] = ip[11] = 0;
	sip = htonl(sip);
	dip = htonl(dip);
	memcpy(ip + 12, &sip, 4);
	memcpy(ip + 16, &dip, 4);
	v = htons(ip_checksum(ip));
	memcpy(ip + 10, &v, 2);
	v = htons(sport);
	memcpy(udp, &v, 2);
	v = htons(dport);
	memcpy(udp + 2, &v, 2);
	v = htons((uint16_t)(size - 34));
	memcpy(udp + 4, &v, 2);
	udp[6] = udp[7] = 0;	/* no UDP checksum (allowed for IPv4) */
	/* payload: the packet number, so that packets differ */
	if (size >= 42 + 8) {
		uint64_t s = seq;

		memcpy(udp + 8, &s, 8);
	}
}

/* Hand every queue its pending mbufs. fs_feed() takes them in any case
 * (sent, or freed when told to stop). */
static bool flush(struct fs_source *src, struct rte_mbuf *m[][FS_BURST],
		  unsigned *cnt)
{
	bool ok = true;

	for (unsigned k = 0; k < src->nq; k++) {
		if (cnt[k] > 0 && ok)
			ok = fs_feed(src, k, m[k], cnt[k]);
		else if (cnt[k] > 0)
			rte_pktmbuf_free_bulk(m[k], cnt[k]);
		cnt[k] = 0;
	}
	return ok;
}

/* The seed of the realistic profile: fs-mktrace --profile realistic
 * writes the same frames with its default --seed. */
#define REALISTIC_SEED 1u

int fs_gen_open(struct fs_source *src, const struct fs_config *cfg,
		char *err, size_t errlen)
{
	if (cfg->gen_profile != FS_GEN_REALISTIC)
		return 0;
	if (fs_config_given(cfg, "gen_size")) {
		snprintf(err, errlen, "gen_size: not taken with gen_profile = "
			 "realistic, whose frame sizes follow its connections "
			 "(up to %u bytes)", FS_TRAFFIC_FRAME_MAX);
		return -1;
	}
	src->traffic = fs_traffic_create(cfg->gen_flows, REALISTIC_SEED);
	if (src->traffic == NULL) {
		snprintf(err, errlen, "gen_flows: cannot keep %u realistic "
			 "connections: %s", cfg->gen_flows, strerror(errno));
		return -1;
	}
	return 0;
}

void fs_gen_close(struct fs_source *src)
{
	fs_traffic_free(src->traffic);
	src->traffic = NULL;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void *fs_gen_feeder(void *arg)
{
	struct fs_source *src = arg;
	const struct fs_config *cfg = src->cfg;
	const uint32_t flows = cfg->gen_flows, size = cfg->gen_size;
	const uint64_t total = cfg->gen_packets, rate = cfg->gen_rate;
	fs_traffic *const tr = src->traffic;
	struct rte_mbuf *m[FS_MAX_QUEUES][FS_BURST];
	unsigned cnt[FS_MAX_QUEUES] = { 0 };
	uint8_t frame[9216];
	uint64_t seq = 0, start = mono_ns();
	uint32_t f = 0;
	/* packets between two looks at the clock (and at feeder_stop): a
	 * whole burst at high rates, where a look per packet would only cost,
	 * fewer below PACE_PER_S bursts/s, down to one, so that a paced batch
	 * never spans more than 1/PACE_PER_S s and gen_rate=5 sends one
	 * packet every 200 ms rather than 32 every 6.4 s */
	const unsigned step = rate == 0 || rate >= (uint64_t)FS_BURST *
		PACE_PER_S ? FS_BURST : rate >= PACE_PER_S ?
		(unsigned)(rate / PACE_PER_S) : 1;
	unsigned until_pace = 0;
	bool registered;

	pthread_setname_np(pthread_self(), "fs-gen");
	registered = rte_thread_register() == 0;
	memset(frame, 0, sizeof(frame));
	while (total == 0 || seq < total) {
		const uint8_t *data = frame;
		uint32_t len = size;
		unsigned q;
		struct rte_mbuf *mb;

		if (until_pace-- == 0) {
			until_pace = step - 1;
			if (atomic_load_explicit(&src->feeder_stop,
						 memory_order_relaxed))
				goto out;
			/* pace: never ahead of rate * elapsed time; what
			 * was built is handed on before each wait */
			while (rate != 0) {
				double ahead = seq * 1000000000.0 /
					(double)rate -
					(double)(mono_ns() - start);
				/* at most 10 ms at a time: stop is seen soon */
				struct timespec ts = { 0, ahead > 1e7 ? 10000000
						       : (long)ahead };

				if (ahead <= 0)
					break;
				if (!flush(src, m, cnt))
					goto out;
				nanosleep(&ts, NULL);
				if (atomic_load_explicit(&src->feeder_stop,
							 memory_order_relaxed))
					goto out;
			}
		}
		if (tr == NULL) {
			q = src->nq > 1 ? f % src->nq : 0;
			build(frame, size, f, seq);
		} else {
			struct fs_traffic_pkt tp;

			/* a connection stays on its slot's queue, in order */
			fs_traffic_next(tr, &tp);
			q = src->nq > 1 ? tp.slot % src->nq : 0;
			data = tp.frame;
			len = tp.len;
		}
		while ((mb = fs_mbuf_from(src->pool, data, len)) == NULL) {
			if (!flush(src, m, cnt))
				goto out;
			if (atomic_load_explicit(&src->feeder_stop,
						 memory_order_relaxed))
				goto out;
			sched_yield();
		}
		m[q][cnt[q]++] = mb;
		if (cnt[q] == FS_BURST) {
			bool ok = fs_feed(src, q, m[q], cnt[q]);

			cnt[q] = 0;
			if (!ok)
				goto out;
		}
		seq++;
		if (++f == flows)
			f = 0;
	}
out:
	flush(src, m, cnt);
	atomic_store_explicit(&src->feeder_done, true, memory_order_release);
	if (registered)
		rte_thread_unregister();
	return NULL;
}
