/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the flow table (insert, lookup, both directions, expiry by
 * idle time and after RST / both FINs, the max_flows bound) and of the
 * analyzer's trigger bookkeeping and history index on a real ring lane.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "analyzer.h"
#include "flow.h"
#include "flowkey.h"
#include "ring.h"

#define SEC 1000000000ull

static struct fs_pkt_info info_of(uint32_t flow, uint8_t dir, uint8_t flags)
{
	struct fs_pkt_info in;

	memset(&in, 0, sizeof(in));
	in.key.kind = FS_FLOW_IP4;
	in.key.ethertype = 0x0800;
	in.key.proto = 6;
	memcpy(in.key.a, &flow, 4);
	in.key.b[0] = 0xff;
	in.key.port_a = 1000;
	in.key.port_b = 80;
	in.hash = fs_flow_hash(&in.key);
	in.dir = dir;
	in.tcp_flags = flags;
	return in;
}

START_TEST(insert_lookup_directions)
{
	struct fs_flow_table t;
	struct fs_pkt_info a = info_of(1, 0, 0), b = info_of(1, 1, 0);
	struct fs_pkt_info c = info_of(2, 0, 0);
	struct fs_flow *f1, *f2, *f3;

	ck_assert_int_eq(fs_flow_table_init(&t, 100, 30), 0);
	f1 = fs_flow_get(&t, &a, 10 * SEC);
	ck_assert_ptr_nonnull(f1);
	fs_flow_update(&t, f1, &a, 10 * SEC, 100);
	f2 = fs_flow_get(&t, &b, 11 * SEC);
	ck_assert_ptr_eq(f1, f2);	/* same flow both ways */
	fs_flow_update(&t, f2, &b, 11 * SEC, 60);
	f3 = fs_flow_get(&t, &c, 11 * SEC);
	ck_assert_ptr_ne(f3, f1);
	ck_assert_uint_eq(t.count, 2);
	ck_assert_uint_eq(f1->pkts[0], 1);
	ck_assert_uint_eq(f1->pkts[1], 1);
	ck_assert_uint_eq(f1->bytes[0] + f1->bytes[1], 160);
	ck_assert_uint_eq(f1->first_ts, 10 * SEC);
	ck_assert_uint_eq(f1->last_ts, 11 * SEC);
	fs_flow_table_free(&t);
}
END_TEST

START_TEST(expiry_idle_and_closed)
{
	struct fs_flow_table t;
	struct fs_pkt_info a = info_of(1, 0, 0), rst = info_of(2, 1, FS_TCP_RST);
	struct fs_pkt_info fin0 = info_of(3, 0, FS_TCP_FIN | FS_TCP_ACK);
	struct fs_pkt_info fin1 = info_of(3, 1, FS_TCP_FIN);
	struct fs_flow *f;

	fs_flow_table_init(&t, 100, 30);
	f = fs_flow_get(&t, &a, 0);
	fs_flow_update(&t, f, &a, 0, 64);
	f = fs_flow_get(&t, &rst, 5 * SEC);
	ck_assert(fs_flow_update(&t, f, &rst, 5 * SEC, 64));	/* closes */
	f = fs_flow_get(&t, &fin0, 5 * SEC);
	ck_assert(!fs_flow_update(&t, f, &fin0, 5 * SEC, 64));	/* one FIN */
	ck_assert(fs_flow_update(&t, f, &fin1, 5 * SEC, 64));	/* both */

	/* closed flows go one second after their last packet */
	ck_assert_uint_eq(fs_flow_expire(&t, 5 * SEC + SEC / 2, NULL, NULL), 0);
	ck_assert_uint_eq(fs_flow_expire(&t, 6 * SEC, NULL, NULL), 2);
	ck_assert_uint_eq(t.count, 1);
	/* the open one after 30 idle seconds, not before */
	ck_assert_uint_eq(fs_flow_expire(&t, 29 * SEC, NULL, NULL), 0);
	/* a packet renews it */
	f = fs_flow_get(&t, &a, 20 * SEC);
	fs_flow_update(&t, f, &a, 20 * SEC, 64);
	ck_assert_uint_eq(fs_flow_expire(&t, 31 * SEC, NULL, NULL), 0);
	ck_assert_uint_eq(fs_flow_expire(&t, 50 * SEC, NULL, NULL), 1);
	ck_assert_uint_eq(t.count, 0);
	ck_assert_uint_eq(t.ended, 3);
	/* a packet after the timeout starts a new flow even before the
	 * checker ran */
	f = fs_flow_get(&t, &a, 55 * SEC);
	fs_flow_update(&t, f, &a, 55 * SEC, 64);
	struct fs_flow *g = fs_flow_get(&t, &a, 90 * SEC);
	ck_assert_uint_eq(g->pkts[0] + g->pkts[1], 0);
	ck_assert_uint_eq(g->first_ts, 90 * SEC);
	ck_assert_uint_eq(t.ended, 4);
	fs_flow_update(&t, g, &rst, 90 * SEC, 64);
	g = fs_flow_get(&t, &a, 92 * SEC);	/* closed: after the linger */
	ck_assert_uint_eq(g->pkts[0] + g->pkts[1], 0);
	ck_assert_uint_eq(t.ended, 5);
	ck_assert_uint_eq(fs_flow_expire(&t, 200 * SEC, NULL, NULL), 1);
	/* the same key afterwards is a new flow */
	f = fs_flow_get(&t, &a, 60 * SEC);
	ck_assert_uint_eq(f->pkts[0] + f->pkts[1], 0);
	ck_assert_uint_eq(t.created, 7);
	fs_flow_table_free(&t);
}
END_TEST

START_TEST(bound_is_counted)
{
	struct fs_flow_table t;

	fs_flow_table_init(&t, 10, 30);
	for (uint32_t i = 0; i < 25; i++) {
		struct fs_pkt_info in = info_of(i, 0, 0);
		struct fs_flow *f = fs_flow_get(&t, &in, i);

		if (i < 10)
			ck_assert_ptr_nonnull(f);
		else
			ck_assert_ptr_null(f);
	}
	ck_assert_uint_eq(t.count, 10);
	ck_assert_uint_eq(t.refused, 15);
	/* known flows are still found when the table is full */
	struct fs_pkt_info in = info_of(3, 1, 0);
	ck_assert_ptr_nonnull(fs_flow_get(&t, &in, 99));
	fs_flow_table_free(&t);
}
END_TEST

START_TEST(many_flows)
{
	struct fs_flow_table t;

	fs_flow_table_init(&t, 1u << 20, 30);
	for (uint32_t i = 0; i < 200000; i++) {
		struct fs_pkt_info in = info_of(i, i & 1, 0);
		struct fs_flow *f = fs_flow_get(&t, &in, i);

		ck_assert_ptr_nonnull(f);
		fs_flow_update(&t, f, &in, i, 64);
	}
	ck_assert_uint_eq(t.count, 200000);
	ck_assert_uint_eq(fs_flow_expire(&t, 200000 + 31 * SEC, NULL, NULL),
			  200000);
	fs_flow_table_free(&t);
}
END_TEST

START_TEST(index_survives_deletions)
{
	/* flows leave the index in an order unrelated to their slots; every
	 * flow still tracked must be found, every ended one must not */
	enum { N = 60000 };
	static struct fs_flow *made[N];
	struct fs_flow_table t;

	fs_flow_table_init(&t, N, 30);
	for (uint32_t i = 0; i < N; i++) {
		struct fs_pkt_info in = info_of(i * 2654435761u, 0, 0);

		made[i] = fs_flow_get(&t, &in, (uint64_t)i * 1000);
		ck_assert_ptr_nonnull(made[i]);
		fs_flow_update(&t, made[i], &in, (uint64_t)i * 1000, 64);
	}
	for (uint32_t step = 1; step <= 6; step++) {
		uint64_t now = 30 * SEC + (uint64_t)step * 10000 * 1000;
		/* flow i was last seen at i us: i <= step * 10000 ended */
		uint32_t gone = step * 10000 + 1 < N ? step * 10000 + 1 : N;

		fs_flow_expire(&t, now, NULL, NULL);
		ck_assert_uint_eq(t.count, N - gone);
		for (uint32_t i = gone; i < N; i += 7) {
			struct fs_pkt_info in = info_of(i * 2654435761u, 1, 0);

			ck_assert_ptr_eq(fs_flow_get(&t, &in, now), made[i]);
		}
	}
	ck_assert_uint_eq(t.count, 0);
	fs_flow_table_free(&t);
}
END_TEST

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
/* Out of memory while the table grows: the flows that fit are kept and
 * found, the rest are refused and counted, nothing crashes. Runs in the
 * test's own process (check forks), with the address space capped. */
START_TEST(memory_exhausted_is_counted)
{
	struct fs_flow_table t;
	struct rlimit rl;
	uint32_t i, made = 0;
	struct fs_flow *first;
	struct fs_pkt_info in0 = info_of(0, 0, 0);

	if (getenv("CK_FORK") != NULL && strcmp(getenv("CK_FORK"), "no") == 0)
		return;		/* the cap would hit the whole test run */
	ck_assert_int_eq(fs_flow_table_init(&t, 4000000, 30), 0);
	first = fs_flow_get(&t, &in0, 0);
	ck_assert_ptr_nonnull(first);
	/* a little more than now: room for a few slabs at most */
	rl.rlim_cur = rl.rlim_max = 0;
	{
		FILE *f = fopen("/proc/self/statm", "r");
		unsigned long pages = 0;

		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(fscanf(f, "%lu", &pages), 1);
		fclose(f);
		rl.rlim_cur = rl.rlim_max = pages * 4096ul + (24ul << 20);
	}
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
	for (i = 1; i < 2000000; i++) {
		struct fs_pkt_info in = info_of(i * 2654435761u, 0, 0);

		if (fs_flow_get(&t, &in, i) != NULL)
			made++;
	}
	ck_assert_uint_gt(made, 1000);
	ck_assert_uint_lt(made, 1999999);
	ck_assert_uint_eq(t.count, made + 1);
	ck_assert_uint_eq(t.refused, 1999999 - made);
	ck_assert_ptr_eq(fs_flow_get(&t, &in0, 5), first);
}
END_TEST
#endif

/* ---- analyzer on a real lane ---- */

/* A 64-byte UDP frame of flow f (10.0.0.f:1000 -> 10.0.1.f:2000), packet
 * number seq in the IP id; marker puts 0xdeadbeef first in the payload. */
static void frame(uint8_t *p, uint8_t f, uint16_t seq, int marker, int rev)
{
	memset(p, 0, 64);
	p[12] = 0x08;
	p[14] = 0x45;
	p[17] = 50;
	p[18] = (uint8_t)(seq >> 8);
	p[19] = (uint8_t)seq;
	p[22] = 64;
	p[23] = 17;
	uint8_t s[4] = { 10, 0, 0, f }, d[4] = { 10, 0, 1, f };
	memcpy(p + 26, rev ? d : s, 4);
	memcpy(p + 30, rev ? s : d, 4);
	p[34] = rev ? 0x07 : 0x03;
	p[35] = rev ? 0xd0 : 0xe8;
	p[36] = rev ? 0x03 : 0x07;
	p[37] = rev ? 0xe8 : 0xd0;
	p[39] = 30;
	if (marker) {
		p[42] = 0xde; p[43] = 0xad; p[44] = 0xbe; p[45] = 0xef;
	}
}

/* Store one packet of flow f in the lane (unpublished). */
static void store(struct fs_lane *l, uint8_t f, uint16_t seq, int marker,
		  uint64_t ts)
{
	struct fs_pkt_hdr *h = fs_lane_reserve(l, 64, NULL);

	h->ts_ns = ts;
	h->wire_len = 64;
	h->cap_len = 64;
	h->source = 0;
	h->flags = 0;
	frame((uint8_t *)(h + 1), f, seq, marker, seq & 1);
}

/* Store, publish and analyze one packet. */
static void feed(struct fs_analyzer *a, struct fs_lane *l, uint8_t f,
		 uint16_t seq, int marker, uint64_t ts)
{
	store(l, f, seq, marker, ts);
	fs_lane_publish(l);
	ck_assert_uint_eq(fs_analyzer_run(a, UINT_MAX), 1);
}

/* Read the delivery lane; return packets, their ids in ids[]. */
static unsigned delivered(struct fs_lane *d, struct fs_cursor *c,
			  uint16_t *ids, uint8_t *flows, uint8_t *flags)
{
	static uint8_t buf[1 << 20];
	unsigned n, total = 0;
	uint64_t lost = 0;

	fs_lane_publish(d);
	while ((n = fs_lane_read(d, c, buf, sizeof(buf), 10000, &lost)) > 0) {
		const uint8_t *p = buf;

		for (unsigned i = 0; i < n; i++) {
			const struct fs_pkt_hdr *h = (const void *)p;
			const uint8_t *q = (const uint8_t *)(h + 1);

			ids[total] = (uint16_t)(q[18] << 8 | q[19]);
			flows[total] = (q[34] == 0x03) ? q[29] : q[33];
			flags[total] = h->flags;
			total++;
			p += FS_REC_SIZE(h->cap_len);
		}
	}
	ck_assert_uint_eq(lost, 0);
	return total;
}

static struct bpf_program compile(const char *expr)
{
	struct bpf_program p;
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);

	ck_assert_int_eq(pcap_compile(dead, &p, expr, 1,
				      PCAP_NETMASK_UNKNOWN), 0);
	pcap_close(dead);
	return p;
}

START_TEST(trigger_delivers_history_first)
{
	fs_ring *r = fs_ring_create(1 << 20, 1, 1500);
	fs_ring *dr = fs_ring_create(1 << 20, 1, 1500);
	struct fs_lane *l = fs_ring_lane(r, 0), *d = fs_ring_lane(dr, 0);
	struct bpf_program trig = compile("udp[8:4] = 0xdeadbeef");
	struct fs_analyzer a;
	struct fs_cursor c;
	char err[256];
	uint16_t ids[2000];
	uint8_t fl[2000], flags[2000];
	unsigned n;

	ck_assert_int_eq(fs_analyzer_init(&a, l, d, 1 << 20, 1000, 30, &trig,
					  1500, err, sizeof(err)), 0);
	fs_cursor_oldest(d, &c);
	/* 5 flows interleaved; flow 3's packet 53 carries the marker */
	for (uint16_t i = 0; i < 100; i++)
		feed(&a, l, (uint8_t)(i % 5), i, i == 53, 1000 + i);
	n = delivered(d, &c, ids, fl, flags);
	/* flow 3: packets 3, 8, ..., 98 — those before 53 (history) too */
	ck_assert_uint_eq(n, 20);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_eq(fl[i], 3);
		ck_assert_uint_eq(ids[i], 3 + 5 * i);	/* in order, once */
		ck_assert_uint_eq(flags[i], i == 0 ? FS_REC_FIRST : 0);
	}
	ck_assert_uint_eq(atomic_load(&a.flows_triggered), 1);
	ck_assert_uint_eq(atomic_load(&a.history_lost), 0);
	/* the other four flows' 80 packets: never delivered, counted */
	ck_assert_uint_eq(a.untriggered, 80);

	/* a second marker in the same flow triggers nothing again */
	feed(&a, l, 3, 103, 1, 2000);
	n = delivered(d, &c, ids, fl, flags);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ids[0], 103);
	ck_assert_uint_eq(atomic_load(&a.flows_triggered), 1);
	ck_assert_uint_eq(a.untriggered, 80);
	fs_analyzer_tick(&a, 0);
	ck_assert_uint_eq(atomic_load(&a.not_triggered), 80);

	fs_analyzer_free(&a);
	pcap_freecode(&trig);
	fs_ring_free(r);
	fs_ring_free(dr);
}
END_TEST

/* The analysis cursor follows the lane across chunks, in runs of any
 * length, and finds what was published only. */
START_TEST(cursor_follows_the_lane)
{
	fs_ring *r = fs_ring_create(1 << 20, 1, 1500);
	fs_ring *dr = fs_ring_create(1 << 20, 1, 1500);
	struct fs_lane *l = fs_ring_lane(r, 0), *d = fs_ring_lane(dr, 0);
	struct bpf_program trig = compile("udp[8:4] = 0xdeadbeef");
	struct fs_analyzer a;
	struct fs_cursor c;
	char err[256];
	static uint16_t ids[4000];
	static uint8_t fl[4000], flags[4000];
	unsigned n, runs = 0;

	ck_assert_int_eq(fs_analyzer_init(&a, l, d, 1 << 20, 1000, 30, &trig,
					  1500, err, sizeof(err)), 0);
	fs_cursor_oldest(d, &c);
	/* 3000 records of 80 bytes: four 64 KiB chunks */
	for (uint16_t i = 0; i < 3000; i++) {
		store(l, (uint8_t)(i % 5), i, i == 2903, 1000 + i);
		/* (the lane publishes by itself when it opens a chunk) */
		if (i == 99)	/* stored, not published: not seen */
			ck_assert_uint_eq(fs_analyzer_run(&a, 100), 0);
	}
	fs_lane_publish(l);
	ck_assert_uint_gt(atomic_load(&l->head), 2);
	ck_assert_uint_eq(fs_analyzer_backlog(&a), 3000);
	while (fs_analyzer_backlog(&a) > 0) {
		ck_assert_uint_le(fs_analyzer_run(&a, 7 + runs % 90),
				  7 + runs % 90);
		runs++;
	}
	ck_assert_uint_eq(atomic_load(&a.analyzed), 3000);
	ck_assert_uint_eq(a.table.count, 5);
	n = delivered(d, &c, ids, fl, flags);
	/* flow 3 (packets 3, 8, ..., 2998): its history up to the marker
	 * (2903) first, then the rest as it was analyzed */
	ck_assert_uint_eq(n, 600);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_eq(fl[i], 3);
		ck_assert_uint_eq(ids[i], 3 + 5 * i);
		ck_assert_uint_eq(flags[i], i == 0 ? FS_REC_FIRST : 0);
	}
	ck_assert_uint_eq(atomic_load(&a.history_lost), 0);
	/* published later: analyzed by the next run */
	feed(&a, l, 3, 3003, 0, 5000);
	ck_assert_uint_eq(delivered(d, &c, ids, fl, flags), 1);
	ck_assert_uint_eq(ids[0], 3003);
	fs_analyzer_free(&a);
	pcap_freecode(&trig);
	fs_ring_free(r);
	fs_ring_free(dr);
}
END_TEST

START_TEST(overwritten_history_is_counted)
{
	/* 1 MiB lane of 64 KiB chunks: ~13000 records; 40000 packets wrap it
	 * three times; the flow triggered at the end lost its early part */
	fs_ring *r = fs_ring_create(1 << 20, 1, 1500);
	fs_ring *dr = fs_ring_create(4 << 20, 1, 1500);
	struct fs_lane *l = fs_ring_lane(r, 0), *d = fs_ring_lane(dr, 0);
	struct bpf_program trig = compile("udp[8:4] = 0xdeadbeef");
	struct fs_analyzer a;
	struct fs_cursor c;
	char err[256];
	static uint16_t ids[40000];
	static uint8_t fl[40000], flags[40000];
	unsigned n, total = 0;

	fs_analyzer_init(&a, l, d, 1 << 20, 1000, 3600, &trig, 1500, err,
			 sizeof(err));
	fs_cursor_oldest(d, &c);
	for (unsigned i = 0; i < 40000; i++)
		feed(&a, l, (uint8_t)(i % 4), (uint16_t)i, i == 39999,
		     1000 + i);
	n = delivered(d, &c, ids, fl, flags);
	/* flow 3 had 10000 packets; what was delivered plus what was
	 * counted lost is all of them, and the loss is real */
	ck_assert_uint_gt(atomic_load(&a.history_lost), 0);
	ck_assert_uint_eq(n + atomic_load(&a.history_lost), 10000);
	/* and the other three flows are in no other counter */
	ck_assert_uint_eq(a.untriggered, 30000);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_eq(fl[i], 3);
		if (i > 0)	/* consecutive packets of the flow, in order */
			ck_assert_uint_eq((uint16_t)(ids[i] - ids[i - 1]), 4);
		total++;
	}
	ck_assert_uint_eq(ids[n - 1], (uint16_t)39999);
	fs_analyzer_free(&a);
	pcap_freecode(&trig);
	fs_ring_free(r);
	fs_ring_free(dr);
}
END_TEST

START_TEST(control_requests)
{
	fs_ring *r = fs_ring_create(1 << 20, 1, 1500);
	fs_ring *dr = fs_ring_create(1 << 20, 1, 1500);
	struct fs_lane *l = fs_ring_lane(r, 0), *d = fs_ring_lane(dr, 0);
	struct bpf_program f2 = compile("host 10.0.0.2");
	struct fs_analyzer a;
	struct fs_cursor c;
	struct fs_top_entry top[3];
	char err[256], *text = NULL;
	size_t len = 0;
	uint16_t ids[100];
	uint8_t fl[100], flags[100];

	fs_analyzer_init(&a, l, d, 1 << 20, 1000, 30, NULL, 1500, err,
			 sizeof(err));
	fs_cursor_oldest(d, &c);
	/* flow k gets k+1 packets in second 5, one packet in second 6 */
	for (uint8_t k = 0; k < 5; k++)
		for (uint8_t i = 0; i <= k; i++)
			feed(&a, l, k, (uint16_t)(k * 10 + i), 0, 5 * SEC + i);
	for (uint8_t k = 0; k < 5; k++)
		feed(&a, l, k, (uint16_t)(100 + k), 0, 6 * SEC);

	FILE *out = open_memstream(&text, &len);
	struct fs_request req = { .type = FS_REQ_FLOWS, .filter = &f2,
				  .out = out };
	ck_assert_int_eq(fs_analyzer_call(&a, &req, false, 1000), 0);
	fclose(out);
	ck_assert_uint_eq(req.count, 1);
	ck_assert_ptr_nonnull(strstr(text, "10.0.0.2"));
	ck_assert_ptr_nonnull(strstr(text, "packets 4 "));
	free(text);

	struct fs_request tq = { .type = FS_REQ_TOP, .n = 3, .top = top };
	fs_analyzer_call(&a, &tq, false, 1000);
	ck_assert_uint_eq(tq.ntop, 3);
	ck_assert_uint_eq(top[0].pkts, 5);	/* flow 4 in second 5 */
	ck_assert_uint_eq(top[1].pkts, 4);
	ck_assert_uint_eq(top[2].pkts, 3);

	struct fs_request trq = { .type = FS_REQ_TRIGGER, .filter = &f2 };
	ck_assert_uint_eq(a.untriggered, 20);
	fs_analyzer_call(&a, &trq, false, 1000);
	ck_assert_uint_eq(trq.count, 1);
	ck_assert_uint_eq(delivered(d, &c, ids, fl, flags), 4);
	ck_assert_uint_eq(atomic_load(&a.not_triggered), 16);
	ck_assert_uint_eq(ids[0], 20);
	ck_assert_uint_eq(ids[3], 102);
	/* triggering again finds nothing new */
	fs_analyzer_call(&a, &trq, false, 1000);
	ck_assert_uint_eq(trq.count, 0);
	/* all without a filter: the other four */
	struct fs_request all = { .type = FS_REQ_TRIGGER };
	fs_analyzer_call(&a, &all, false, 1000);
	ck_assert_uint_eq(all.count, 4);
	ck_assert_uint_eq(delivered(d, &c, ids, fl, flags), 2 + 3 + 5 + 6);
	ck_assert_uint_eq(atomic_load(&a.not_triggered), 0);
	fs_analyzer_free(&a);
	pcap_freecode(&f2);
	fs_ring_free(r);
	fs_ring_free(dr);
}
END_TEST

/* An IPv4 UDP fragment of datagram id: first (offset 0, MF, with the
 * UDP header) or later (offset 1480, no transport header). */
static void feed_frag(struct fs_analyzer *a, struct fs_lane *l, uint16_t id,
		      int first, uint64_t ts)
{
	struct fs_pkt_hdr *h = fs_lane_reserve(l, 64, NULL);
	uint8_t *p = (uint8_t *)(h + 1);

	memset(p, 0, 64);
	h->ts_ns = ts;
	h->wire_len = h->cap_len = 64;
	h->source = h->flags = 0;
	p[12] = 0x08;
	p[14] = 0x45;
	p[17] = 50;
	p[18] = (uint8_t)(id >> 8);
	p[19] = (uint8_t)id;
	if (first)
		p[20] = 0x20;			/* MF, offset 0 */
	else
		p[21] = 185;			/* offset 185 * 8 */
	p[22] = 64;
	p[23] = 17;
	p[26] = 10; p[29] = 1;
	p[30] = 10; p[33] = 2;
	if (first) {
		p[34] = 0x30; p[35] = 0x39;	/* 12345 -> 53 */
		p[37] = 53;
	}
	fs_lane_publish(l);
	ck_assert_uint_eq(fs_analyzer_run(a, UINT_MAX), 1);
}

START_TEST(fragments_stay_with_their_flow)
{
	fs_ring *r = fs_ring_create(1 << 20, 1, 1500);
	struct fs_lane *l = fs_ring_lane(r, 0);
	struct fs_analyzer a;
	char err[256], *text = NULL;
	size_t len = 0;

	fs_analyzer_init(&a, l, NULL, 1 << 20, 1000, 30, NULL, 1500, err,
			 sizeof(err));
	feed_frag(&a, l, 77, 0, 1000);	/* later before first: on its own */
	feed_frag(&a, l, 42, 1, 2000);	/* first of 42 */
	feed_frag(&a, l, 42, 0, 3000);	/* later of 42: joins it */
	feed_frag(&a, l, 42, 0, 4000);
	ck_assert_uint_eq(a.table.count, 2);

	FILE *out = open_memstream(&text, &len);
	struct fs_request req = { .type = FS_REQ_FLOWS, .out = out };
	fs_analyzer_call(&a, &req, false, 1000);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(text, "udp 10.0.0.1:12345 <> 10.0.0.2:53 packets 3 "));
	ck_assert_ptr_nonnull(strstr(text, "udp 10.0.0.1 <> 10.0.0.2 packets 1 "));
	free(text);
	fs_analyzer_free(&a);
	fs_ring_free(r);
}
END_TEST

static Suite *flow_suite(void)
{
	Suite *s = suite_create("flow");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, insert_lookup_directions);
	tcase_add_test(tc, expiry_idle_and_closed);
	tcase_add_test(tc, bound_is_counted);
	tcase_add_test(tc, many_flows);
	tcase_add_test(tc, index_survives_deletions);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	tcase_add_test(tc, memory_exhausted_is_counted);
#endif
	tcase_add_test(tc, trigger_delivers_history_first);
	tcase_add_test(tc, cursor_follows_the_lane);
	tcase_add_test(tc, overwritten_history_is_counted);
	tcase_add_test(tc, control_requests);
	tcase_add_test(tc, fragments_stay_with_their_flow);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(flow_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
