/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of triggers across hosts (bench/bus.sh). The process opens a
 * flowscope device in trigger mode on a bus (the FLOWSCOPE_* variables say
 * which), as a capture host would, and plays the other host itself over
 * a NATS connection of its own:
 *   fs-busbench latency URL DEVICE KEYS N
 *     N times: publish a trigger of the next flow of KEYS (lines "flow
 *     ..." as busmsg.h has them) and time it until the first packet of
 *     that flow comes out of pcap_dispatch; prints the median, the 99th
 *     percentile and the worst, in microseconds.
 *   fs-busbench rate URL DEVICE SECONDS TPS
 *     receive for SECONDS while TPS triggers a second (of flows nobody
 *     tracks: each is decoded, looked up and answered) arrive; prints the
 *     capture's receive rate (ps_recv) and the triggers sent.
 *   fs-busbench rate-core URL DEVICE SECONDS TPS
 *     the same with an application that never reads (pcap_stats only):
 *     the receive thread does all the analysis on its one core, and the
 *     other core is left to the bus, the publisher and the server.
 */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "busmsg.h"
#include "flowkey.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static natsConnection *nc;
static const char *subject = "flowscope.trigger";

static void publish_key(const struct fs_flow_key *k)
{
	struct fs_bus_msg m;
	char buf[FS_BUS_MSG_MAX];
	size_t n;

	memset(&m, 0, sizeof(m));
	snprintf(m.host, sizeof(m.host), "bench");
	snprintf(m.capture, sizeof(m.capture), "fs-busbench");
	m.instance = 0xbe4c4;
	m.time_ns = (uint64_t)(now() * 1e9);
	m.has_key = true;
	m.key = *k;
	n = fs_bus_encode(&m, buf, sizeof(buf));
	/* the connection sends at once (SendAsap): no round trip here */
	if (n == 0 || natsConnection_Publish(nc, subject, buf, (int)n) != NATS_OK) {
		fprintf(stderr, "fs-busbench: cannot publish\n");
		exit(1);
	}
}

/* ---- latency ---- */

static struct fs_flow_key want;
static int seen;

static void match(u_char *u, const struct pcap_pkthdr *h, const u_char *d)
{
	struct fs_pkt_info info;

	(void)u;
	fs_flow_parse(d, h->caplen, &info);
	if (memcmp(&info.key, &want, sizeof(want)) == 0)
		seen = 1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int latency(pcap_t *p, const char *keys, int n)
{
	struct fs_flow_key *k = NULL;
	double *lat = calloc((size_t)n, sizeof(*lat));
	size_t nk = 0, cap = 0;
	char line[512];
	int got = 0, missing = 0;
	FILE *f = NULL;
	double t0 = now();

	/* the script lists the flows once the capture tracks them */
	while ((f = fopen(keys, "r")) == NULL && now() - t0 < 20)
		(void)pcap_dispatch(p, -1, match, NULL);
	if (f == NULL || lat == NULL) {
		perror(keys);
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct fs_bus_msg m;
		char msg[FS_BUS_MSG_MAX];
		int len = snprintf(msg, sizeof(msg), "flowscope-trigger 1\n"
				   "origin h c 0000000000000001\ntime 1\n%s",
				   line);

		if (len <= 0 || fs_bus_decode(msg, (size_t)len, &m) != FS_BUS_OK)
			continue;
		if (nk == cap) {
			cap = cap ? 2 * cap : 1024;
			k = realloc(k, cap * sizeof(*k));
			if (k == NULL)
				return 1;
		}
		k[nk++] = m.key;
	}
	fclose(f);
	if (nk < (size_t)n) {
		fprintf(stderr, "fs-busbench: %zu flows in %s, %d wanted\n", nk,
			keys, n);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		double t0, t1;

		want = k[i];
		seen = 0;
		t0 = now();
		publish_key(&want);
		while (!seen && now() - t0 < 1.0)
			if (pcap_dispatch(p, -1, match, NULL) < 0)
				return 1;
		t1 = now();
		if (!seen) {
			missing++;
			continue;
		}
		lat[got++] = (t1 - t0) * 1e6;
	}
	qsort(lat, (size_t)got, sizeof(*lat), cmp);
	printf("triggers=%d answered=%d median_us=%.0f p99_us=%.0f max_us=%.0f\n",
	       n, got, got ? lat[got / 2] : 0, got ? lat[(got * 99) / 100] : 0,
	       got ? lat[got - 1] : 0);
	free(k);
	free(lat);
	return missing > n / 100;
}

/* ---- rate ---- */

static _Atomic int stop;
static atomic_ulong sent;
static int tps;
static int core_only;	/* rate-core: never read */

static void *trigger_thread(void *arg)
{
	struct fs_flow_key k;
	double t0 = now();
	unsigned long i = 0;

	(void)arg;
	memset(&k, 0, sizeof(k));
	k.kind = FS_FLOW_IP4;
	k.ethertype = 0x0800;
	k.proto = 17;
	while (!atomic_load(&stop)) {
		double due = t0 + (double)i / tps, left = due - now();

		if (left > 0) {
			struct timespec ts = { 0, (long)(left * 1e9) };

			nanosleep(&ts, NULL);
			continue;
		}
		/* 192.0.2.x <> 198.51.100.y: flows nobody has */
		k.a[0] = 192, k.a[1] = 0, k.a[2] = 2, k.a[3] = (uint8_t)i;
		k.b[0] = 198, k.b[1] = 51, k.b[2] = 100, k.b[3] = (uint8_t)(i >> 8);
		k.port_a = (uint16_t)i;
		k.port_b = 53;
		publish_key(&k);
		atomic_fetch_add(&sent, 1);
		i++;
	}
	return NULL;
}

static void discard(u_char *u, const struct pcap_pkthdr *h, const u_char *d)
{
	(void)u;
	(void)h;
	(void)d;
}

/* Read (or, core_only, wait) until secs after t0. */
static void run_until(pcap_t *p, double t0, double secs)
{
	while (now() - t0 < secs) {
		if (core_only) {
			struct timespec ts = { 0, 10000000 };

			nanosleep(&ts, NULL);
		} else {
			(void)pcap_dispatch(p, -1, discard, NULL);
		}
	}
}

static int rate(pcap_t *p, double secs)
{
	struct pcap_stat s0, s1;
	pthread_t t;
	double t0, t1;

	run_until(p, now(), 1.0);	/* warm-up */
	if (tps > 0 && pthread_create(&t, NULL, trigger_thread, NULL) != 0)
		return 1;
	pcap_stats(p, &s0);
	t0 = now();
	run_until(p, t0, secs);
	pcap_stats(p, &s1);
	t1 = now();
	atomic_store(&stop, 1);
	if (tps > 0)
		pthread_join(t, NULL);
	printf("recv_pps=%.0f triggers_per_s=%.0f drop=%u\n",
	       (s1.ps_recv - s0.ps_recv) / (t1 - t0),
	       atomic_load(&sent) / (t1 - t0), s1.ps_drop - s0.ps_drop);
	return 0;
}

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p;
	int rc;

	if (argc != 6 || (strcmp(argv[1], "latency") != 0 &&
			  strcmp(argv[1], "rate") != 0 &&
			  strcmp(argv[1], "rate-core") != 0)) {
		fprintf(stderr, "usage: fs-busbench latency URL DEVICE KEYS N\n"
			"       fs-busbench rate|rate-core URL DEVICE SECONDS TPS\n");
		return 2;
	}
	natsOptions *o = NULL;

	if (natsOptions_Create(&o) != NATS_OK ||
	    natsOptions_SetURL(o, argv[2]) != NATS_OK ||
	    natsOptions_SetSendAsap(o, true) != NATS_OK ||
	    natsConnection_Connect(&nc, o) != NATS_OK) {
		fprintf(stderr, "fs-busbench: cannot connect to %s\n", argv[2]);
		return 1;
	}
	p = pcap_create(argv[3], err);
	if (p == NULL || pcap_set_immediate_mode(p, 1) != 0 ||
	    pcap_set_timeout(p, 1) != 0 || pcap_activate(p) < 0) {
		fprintf(stderr, "fs-busbench: %s: %s\n", argv[3],
			p ? pcap_geterr(p) : err);
		return 1;
	}
	if (strcmp(argv[1], "latency") == 0) {
		rc = latency(p, argv[4], atoi(argv[5]));
	} else {
		tps = atoi(argv[5]);
		core_only = strcmp(argv[1], "rate-core") == 0;
		rc = rate(p, atof(argv[4]));
	}
	pcap_close(p);
	natsConnection_Destroy(nc);
	return rc;
}
