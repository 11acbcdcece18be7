/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: a capture file as file= reads it, and its packets through
 * the ring and the analyzer (flow table, history index, triggers, expiry
 * by the file's own timestamps, delivery). Damaged files must end with an
 * error, never a crash; whatever a file holds must keep the counters
 * consistent: delivered + lost history = packets of triggered flows.
 */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer.h"
#include "ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SNAP 9000u

static uint8_t out[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bpf_program trig;
	static int compiled;
	char eb[PCAP_ERRBUF_SIZE], err[256];
	FILE *f = fmemopen((void *)data, size, "rb");
	pcap_t *p;
	fs_ring *r, *dr;
	struct fs_analyzer a;
	struct fs_cursor c;
	struct pcap_pkthdr *h;
	const u_char *pkt;
	uint64_t lost = 0;
	unsigned count = 0;

	if (f == NULL)
		return 0;
	if (!compiled) {
		pcap_t *dead = pcap_open_dead(DLT_EN10MB, SNAP);

		if (pcap_compile(dead, &trig, "udp or tcp[tcpflags] & tcp-rst "
				 "!= 0 or ip6", 1, PCAP_NETMASK_UNKNOWN) != 0)
			abort();
		pcap_close(dead);
		compiled = 1;
	}
	p = pcap_fopen_offline_with_tstamp_precision(f,
			PCAP_TSTAMP_PRECISION_NANO, eb);
	if (p == NULL)
		return 0;	/* refused with a message: fine (f closed) */
	r = fs_ring_create(1 << 20, 1, SNAP);
	dr = fs_ring_create(1 << 20, 1, SNAP);
	if (r == NULL || dr == NULL ||
	    fs_analyzer_init(&a, fs_ring_lane(r, 0), fs_ring_lane(dr, 0),
			     1 << 20, 64, 2, &trig, SNAP, err,
			     sizeof(err)) != 0)
		abort();
	fs_cursor_oldest(fs_ring_lane(dr, 0), &c);
	while (count < 20000 && pcap_next_ex(p, &h, &pkt) == 1) {
		struct fs_lane *l = fs_ring_lane(r, 0);
		uint32_t cap = h->caplen < SNAP ? h->caplen : SNAP;
		struct fs_pkt_hdr *rec = fs_lane_reserve(l, cap, NULL);

		rec->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u +
			(uint64_t)h->ts.tv_usec;
		rec->wire_len = h->len > cap ? h->len : cap;
		rec->cap_len = (uint16_t)cap;
		rec->source = 0;
		rec->flags = 0;
		memcpy(rec + 1, pkt, cap);
		/* analyzed before the next record can reuse its chunk */
		fs_lane_publish(l);
		fs_analyzer_run(&a, 1);
		if (++count % 32 == 0) {
			fs_lane_publish(fs_ring_lane(dr, 0));
			fs_analyzer_tick(&a, 0);
			while (fs_lane_read(fs_ring_lane(dr, 0), &c, out,
					    sizeof(out), 4096, &lost) > 0)
				;
		}
	}
	fs_lane_publish(fs_ring_lane(dr, 0));
	while (fs_lane_read(fs_ring_lane(dr, 0), &c, out, sizeof(out), 4096,
			    &lost) > 0)
		;
	fs_analyzer_free(&a);
	fs_ring_free(r);
	fs_ring_free(dr);
	pcap_close(p);
	return 0;
}
