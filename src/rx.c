/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hot path receive queue -> QQ ring: the steps every receive thread
 * takes with its lane (reserve, publish, analyze or hand the analysis to
 * the reader, wake it, end), and the receive thread of a DPDK port's
 * queue built from them. It works in bursts, copies each packet once
 * into the lane (pushing the source's VLAN tag, if it has one, in that
 * same copy), takes no lock, allocates nothing and publishes once per
 * burst. When idle it backs off to short sleeps so that it never starves
 * the application on a machine with few cores.
 */
#define _GNU_SOURCE
#include "source.h"
#include "tsan.h"

#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_memcpy.h>
#include <rte_pause.h>

#include "analyzer.h"
#include "eal.h"
#include "vlan.h"

#define CLOCK_REFRESH_NS 1000000000u	/* a NIC's clock is read again */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void idle_wait(unsigned idle)
{
	struct timespec ts = { 0, 0 };

	if (idle < 64) {
		rte_pause();
		return;
	}
	ts.tv_nsec = idle < 1024 ? 10000 : 100000;
	nanosleep(&ts, NULL);
}

/* Copy cap bytes of a (possibly chained) mbuf. */
static inline void copy_out(uint8_t *dst, const struct rte_mbuf *m,
			    uint32_t cap)
{
	if (likely(cap <= m->data_len)) {
		rte_memcpy(dst, rte_pktmbuf_mtod(m, const void *), cap);
		return;
	}
	for (; m != NULL && cap > 0; m = m->next) {
		uint32_t n = m->data_len < cap ? m->data_len : cap;

		rte_memcpy(dst, rte_pktmbuf_mtod(m, const void *), n);
		dst += n;
		cap -= n;
	}
}

/* Copy n bytes from offset off of a chained mbuf (off + n within it). */
static void copy_range(uint8_t *dst, const struct rte_mbuf *m, uint32_t off,
		       uint32_t n)
{
	for (; m != NULL && off >= m->data_len; m = m->next)
		off -= m->data_len;
	for (; m != NULL && n > 0; m = m->next, off = 0) {
		uint32_t k = m->data_len - off < n ? m->data_len - off : n;

		rte_memcpy(dst, rte_pktmbuf_mtod_offset(m, const uint8_t *, off),
			   k);
		dst += k;
		n -= k;
	}
}

/*
 * Copy cap bytes of the mbuf with the source's tag inserted after the
 * MAC addresses (the mbuf holds at least FS_VLAN_AFTER bytes, and cap -
 * FS_VLAN_TAG_LEN of them): in the same copy when the first segment
 * holds them all, else piece by piece.
 */
static inline void copy_out_tagged(uint8_t *dst, const struct rte_mbuf *m,
				   uint32_t cap, const uint8_t *tag)
{
	uint32_t n;

	if (likely(m->data_len >= FS_VLAN_AFTER &&
		   cap <= m->data_len + FS_VLAN_TAG_LEN)) {
		fs_vlan_copy(dst, rte_pktmbuf_mtod(m, const uint8_t *), cap,
			     tag, FS_VLAN_TAG_LEN);
		return;
	}
	n = cap < FS_VLAN_AFTER ? cap : FS_VLAN_AFTER;
	copy_range(dst, m, 0, n);
	if (cap <= FS_VLAN_AFTER)
		return;
	n = cap - FS_VLAN_AFTER;
	memcpy(dst + FS_VLAN_AFTER, tag, n < FS_VLAN_TAG_LEN ? n :
	       FS_VLAN_TAG_LEN);
	if (n > FS_VLAN_TAG_LEN)
		copy_range(dst + FS_VLAN_AFTER + FS_VLAN_TAG_LEN, m,
			   FS_VLAN_AFTER, n - FS_VLAN_TAG_LEN);
}

static inline uint64_t min_seq(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * A lossless source waits rather than overrun a consumer of lane l
 * (the reader's chunk rseq, the dumper's dseq; UINT64_MAX: none). While
 * it waits it keeps answering the control thread.
 */
static void wait_for(struct fs_rxq *r, struct fs_lane *l,
		     _Atomic uint64_t *rseq, _Atomic uint64_t *dseq,
		     uint32_t cap, bool owned)
{
	const struct fs_sink *sk = r->sink;

	for (;;) {
		uint64_t seq = UINT64_MAX;
		struct timespec ts = { 0, 50000 };

		if (rseq)
			seq = atomic_load_explicit(rseq, memory_order_acquire);
		if (dseq)
			seq = min_seq(seq, atomic_load_explicit(dseq,
						memory_order_acquire));
		if (!fs_lane_would_drop(l, seq, cap) ||
		    atomic_load_explicit(&r->stop, memory_order_relaxed))
			return;
		fs_lane_publish(l);
		if (sk->notify(sk->notify_arg, r->unwoken, true))
			r->unwoken = 0;
		/* the analyzer is ours when a delivery waits, maybe not when
		 * the main lane does */
		if (owned)
			fs_analyzer_serve(r->an);
		else if (fs_analyzer_try(r->an)) {
			fs_analyzer_serve(r->an);
			fs_analyzer_release(r->an);
		}
		nanosleep(&ts, NULL);
	}
}

/* The analyzer calls this before each copy into the delivery lane. */
static void wait_deliv(void *arg, uint32_t cap)
{
	struct fs_rxq *r = arg;
	const struct fs_sink *sk = r->sink;
	unsigned i = r->lane->index;

	wait_for(r, r->an->deliv, sk->trigger_mode && sk->reader ?
		 &sk->reader_seq[i] : NULL, &sk->dump_seq[i], cap, true);
}

/*
 * Once the application reads, the receive thread leaves the analysis to
 * the application's reader, which analyzes between its batches when it
 * has caught up (capture.c). Past HELP_WAKE packets of backlog a sleeping
 * reader is woken for it; past HELP_LAG (a reader that stopped reading,
 * or is slower than the traffic) the receive thread analyzes itself.
 */
#define HELP_WAKE 4096u
#define HELP_LAG 32768u

/* Does the receive thread analyze what it just stored? (Also before
 * the backlog spans a quarter of a small lane: a helper never holds up
 * the chunk hand-over of before_new_chunk.) */
static inline bool analyze_now(struct fs_analyzer *an,
			       const struct fs_lane *l)
{
	return !an->shared ||
		!atomic_load_explicit(&an->helper, memory_order_relaxed) ||
		fs_analyzer_backlog(an) >= HELP_LAG ||
		atomic_load_explicit(&l->head, memory_order_relaxed) -
		atomic_load_explicit(&an->aseq, memory_order_relaxed) >=
		l->nchunks / 4;
}

/* Count d packets the analyzer delivered for the reader's wake-up. */
static void delivered(struct fs_rxq *r, unsigned d)
{
	if (r->sink->trigger_mode)
		r->unwoken += d;
}

/* Run the analyzer (owned) over everything published. */
static void analyze_all(struct fs_rxq *r, uint64_t now)
{
	delivered(r, fs_analyzer_step(r->an, UINT_MAX, now));
}

/*
 * The next record of cap bytes opens a new chunk: if that would give up
 * the chunk under the analysis cursor, publish and catch the analysis up
 * first (waiting for the reader if it is analyzing now), so that no
 * packet goes unanalyzed and nobody reads a chunk while it is reused.
 */
void fs_rx_new_chunk(struct fs_rxq *r, uint32_t cap)
{
	struct fs_analyzer *an = r->an;

	/* a lossless source never gives up a chunk the spool has not
	 * written (a live one does, and the spool counts it) */
	if (r->src->lossless && r->sink->spool_seq != NULL)
		wait_for(r, r->lane, &r->sink->spool_seq[r->lane->index], NULL,
			 cap, false);
	if (!fs_lane_would_drop(r->lane, atomic_load_explicit(&an->aseq,
				memory_order_acquire), cap))
		return;
	fs_lane_publish(r->lane);
	fs_analyzer_hold(an);
	analyze_all(r, 0);
	fs_analyzer_release(an);
}

/*
 * An interface that disappeared or went down ends its source with an
 * error the application sees, instead of a capture that waits forever.
 * Returns true when the source is gone.
 */
static bool iface_vanished(const struct fs_source *src)
{
	return if_nametoindex(src->spec.arg) != src->ifindex;
}

/* 0: up, 1: down, -1: cannot tell (gone, or no socket). */
static int iface_down(const struct fs_source *src)
{
	struct ifreq ifr;
	int sock, rc;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", src->spec.arg);
	rc = ioctl(sock, SIOCGIFFLAGS, &ifr);
	close(sock);
	if (rc != 0)
		return -1;
	return !(ifr.ifr_flags & IFF_UP);
}

bool fs_rx_iface_gone(struct fs_source *src)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int i;

	if (iface_vanished(src))
		goto vanished;
	if (iface_down(src) != 1)
		return false;
	/*
	 * Deleting an interface first takes it down, and the socket reports
	 * that step; give the removal a moment so that a deleted interface
	 * is named as such rather than as one that went down.
	 */
	for (i = 0; i < 20; i++) {
		nanosleep(&pause, NULL);
		if (iface_vanished(src))
			goto vanished;
	}
	snprintf(src->feeder_err, sizeof(src->feeder_err),
		 "%s: the interface went down", src->spec.arg);
	return true;
vanished:
	snprintf(src->feeder_err, sizeof(src->feeder_err),
		 "%s: the interface disappeared", src->spec.arg);
	return true;
}

void fs_rx_wait_reader(struct fs_rxq *r, uint32_t cap)
{
	struct fs_lane *l = r->lane;

	wait_for(r, l, &r->sink->reader_seq[l->index], NULL, cap, false);
}

void fs_rx_begin(struct fs_rxq *r, const char *name)
{
	struct fs_analyzer *an = r->an;

	/* a lossless source waits for the application's reader of the
	 * main lane (live mode); without one there is nobody to wait for */
	r->wait_main = r->src->lossless && !r->sink->trigger_mode &&
		r->sink->reader;
	if (r->src->lossless && an->deliv != NULL) {
		an->wait = wait_deliv;
		an->wait_arg = r;
	}
	pthread_setname_np(pthread_self(), name);
	/* idle sleeps of a few microseconds, not the default 50 us slack */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
}

/* The ring's tag moved (a shared ring's readers regrouped, share.h):
 * the next records go into a chunk that carries the new one. */
static void retag(struct fs_rxq *r)
{
	struct fs_lane *l = r->lane;

	if (fs_lane_retag_empty(l))
		return;
	if (r->wait_main)
		fs_rx_wait_reader(r, l->data_size);
	fs_rx_new_chunk(r, l->data_size);
	fs_lane_next_chunk(l);
}

void fs_rx_burst_done(struct fs_rxq *r, unsigned n)
{
	const struct fs_sink *sk = r->sink;
	struct fs_analyzer *an = r->an;
	bool wake = false;

	if (__builtin_expect(fs_lane_tag_moved(r->lane), 0))
		retag(r);
	if (analyze_now(an, r->lane)) {
		if (fs_analyzer_try(an)) {
			/* reading ahead: the next bursts' flows load meanwhile */
			delivered(r, fs_analyzer_step_ahead(an));
			fs_analyzer_release(an);
		}
	} else {
		/* a sleeping reader is woken to take its share */
		wake = fs_analyzer_backlog(an) >= HELP_WAKE;
	}
	if (!sk->trigger_mode)
		r->unwoken += n;
	if (sk->notify(sk->notify_arg, r->unwoken, wake))
		r->unwoken = 0;
}

void fs_rx_idle(struct fs_rxq *r, bool clock)
{
	const struct fs_sink *sk = r->sink;

	if (fs_lane_tag_moved(r->lane))
		retag(r);
	/* live traffic ages by the clock when idle; a file only by its
	 * own timestamps */
	if (fs_analyzer_try(r->an)) {
		analyze_all(r, clock ? (uint64_t)((int64_t)now_ns() +
						  r->skew_ns) : 0);
		fs_analyzer_release(r->an);
	}
	/* ran dry: let a reader waiting for more have what there is */
	if (r->unwoken > 0 && sk->notify(sk->notify_arg, r->unwoken, true))
		r->unwoken = 0;
}

void fs_rx_end(struct fs_rxq *r)
{
	fs_lane_publish(r->lane);
	fs_analyzer_hold(r->an);
	analyze_all(r, 0);
	fs_analyzer_release(r->an);
	atomic_store_explicit(&r->done, true, memory_order_release);
	r->sink->notify(r->sink->notify_arg, r->unwoken, true);
	if (r->sink->ended != NULL)
		r->sink->ended(r->sink->notify_arg);
}

void fs_rx_own_clock(struct fs_rxq *r, uint64_t newest)
{
	r->skew_ns = (int64_t)(newest - now_ns());
}

/*
 * Once a second a queue that maps its NIC's ticks onto host time reads
 * both clocks again (hwclock.h); a reading that fails leaves the mapping
 * as it was.
 */
static void refresh_clock(struct fs_rxq *r)
{
	struct fs_clock_pair p;
	uint64_t now = mono_ns();

	if (now < r->clk_next)
		return;
	r->clk_next = now + CLOCK_REFRESH_NS;
	if (fs_dpdk_read_clocks(r->port, &p) == 0)
		(void)fs_hwclock_update(&r->clk, &p);
}

/* What the receive loop of a DPDK queue fills every record with. */
struct rx_env {
	int ts_off, wl_off, hw_off;	/* mbuf fields: stamp, wire length */
	uint64_t ts_flag, hw_flag;	/* and their flags */
	uint32_t caplen;
	uint8_t source;
	bool tagged;			/* source_vlans gives a tag */
	uint8_t tag[FS_VLAN_TAG_LEN];
};

/*
 * Record h of mbuf mb: len bytes (with the source's tag, if it is given
 * one), cap of them stored. *now is the host's clock, read once a burst
 * by the first packet that has no stamp of its own.
 */
static inline void fill(struct fs_rxq *r, const struct rx_env *e,
			struct fs_pkt_hdr *h, const struct rte_mbuf *mb,
			uint32_t len, uint32_t cap, uint64_t *now)
{
	uint32_t ntag = len - rte_pktmbuf_pkt_len(mb);

	if (mb->ol_flags & e->ts_flag) {
		uint32_t wl = *RTE_MBUF_DYNFIELD(mb, e->wl_off, uint32_t *);

		h->ts_ns = *RTE_MBUF_DYNFIELD(mb, e->ts_off, uint64_t *);
		wl += ntag;
		h->wire_len = wl > len ? wl : len;
	} else if (mb->ol_flags & e->hw_flag) {
		uint64_t t = *RTE_MBUF_DYNFIELD(mb, e->hw_off, uint64_t *);

		h->ts_ns = r->hw_map ? fs_hwclock_ns(&r->clk, t) : t;
		h->wire_len = len;
	} else {
		if (*now == 0)
			*now = now_ns();
		h->ts_ns = *now;
		h->wire_len = len;
	}
	h->cap_len = (uint16_t)cap;
	h->source = e->source;
	h->flags = 0;
	if (ntag)
		copy_out_tagged((uint8_t *)(h + 1), mb, cap, e->tag);
	else
		copy_out((uint8_t *)(h + 1), mb, cap);
}

/*
 * Store a burst of n mbufs: sized first, so that a burst that fits in
 * the current chunk (nearly all) is reserved at once and written as one
 * run; one that does not, or one of a source that waits for its reader
 * (wait_main), record by record.
 * Returns the last record.
 */
static inline const struct fs_pkt_hdr *store(struct fs_rxq *r,
					     const struct rx_env *e,
					     struct rte_mbuf *const *m,
					     unsigned n)
{
	uint32_t len[FS_BURST], cap[FS_BURST], bytes = 0;
	uint64_t caps = 0, now = 0;
	struct fs_pkt_hdr *h = NULL;
	uint8_t *p;

	for (unsigned i = 0; i < n; i++) {
		uint32_t plen = rte_pktmbuf_pkt_len(m[i]);

		rte_prefetch0(rte_pktmbuf_mtod(m[i], void *));
		/* tagged, the frame is 4 bytes longer, and caplen counts the
		 * tag like any other bytes */
		len[i] = plen + (e->tagged && plen >= FS_VLAN_AFTER ?
				 FS_VLAN_TAG_LEN : 0);
		cap[i] = len[i] < e->caplen ? len[i] : e->caplen;
		bytes += FS_REC_SIZE(cap[i]);
		caps += cap[i];
	}
	p = r->wait_main ? NULL :
		fs_lane_reserve_burst(r->lane, bytes, FS_REC_SIZE(cap[n - 1]),
				      n, caps);
	for (unsigned i = 0; i < n; i++) {
		if (p != NULL) {
			h = (struct fs_pkt_hdr *)p;
			p += FS_REC_SIZE(cap[i]);
		} else {
			h = fs_rx_reserve(r, cap[i]);
		}
		fill(r, e, h, m[i], len[i], cap[i], &now);
	}
	return h;
}

void *fs_rx_thread(void *arg)
{
	struct fs_rxq *r = arg;
	struct fs_source *src = r->src;
	struct fs_lane *l = r->lane;
	struct rte_mbuf *m[FS_BURST];
	struct rx_env e = {
		.ts_off = fs_eal_ts_offset(),
		.wl_off = fs_eal_wirelen_offset(),
		.hw_off = r->hw_off,
		.ts_flag = fs_eal_ts_flag(),
		.hw_flag = r->hw_flag,
		.caplen = r->sink->caplen,
		.source = (uint8_t)src->index,
		/* source_vlans: the tag every packet of this source gets */
		.tagged = src->vlan != 0,
	};
	const bool fed = src->rings[0] != NULL;
	bool registered;
	unsigned idle = 0;
	char name[32];

	fs_vlan_tag(e.tag, src->vlan);
	snprintf(name, sizeof(name), "fs-rx%u.%u", (unsigned)r->port,
		 (unsigned)r->queue);
	fs_rx_begin(r, name);
	/* an lcore id gives this thread a mempool cache; optional */
	registered = rte_thread_register() == 0;

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		bool ended = fed && atomic_load_explicit(&src->feeder_done,
							 memory_order_acquire);
		uint16_t n = rte_eth_rx_burst(r->port, r->queue, m, FS_BURST);
		const struct fs_pkt_hdr *last;

		if (n == 0) {
			if (ended)
				break;
			fs_rx_idle(r, !(fed && src->lossless));
			idle_wait(idle++);
			continue;
		}
		idle = 0;
		fs_mbufs_taken(m, n);
		if (r->hw_map)
			refresh_clock(r);
		last = store(r, &e, m, n);
		if (r->own_clock)
			fs_rx_own_clock(r, last->ts_ns);
		fs_lane_publish(l);
		fs_mbufs_given(m, n);
		rte_pktmbuf_free_bulk(m, n);
		fs_rx_burst_done(r, n);
	}
	fs_rx_end(r);
	if (registered)
		rte_thread_unregister();
	return NULL;
}
