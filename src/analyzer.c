/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-lane analyzer (see analyzer.h). The history index is a ring of
 * entries, one per stored packet, each pointing back to the previous
 * packet of the same flow: a trigger walks its flow's chain backwards,
 * without scanning the ring, and copies what is still there, oldest
 * first, into the delivery lane before the ring can give it up.
 */
#define _GNU_SOURCE
#include "analyzer.h"
#include "mem.h"
#include "histref.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#define HIST_MIN 1024u
#define AVG_RECORD 64u	/* index entries: one per 64 bytes of lane */

static uint64_t hist_entries(uint64_t lane_bytes)
{
	uint64_t n = HIST_MIN;

	while (n < lane_bytes / AVG_RECORD)
		n <<= 1;
	return n;
}

uint64_t fs_analyzer_mem_size(uint64_t lane_bytes, uint32_t max_flows)
{
	return hist_entries(lane_bytes) * sizeof(struct fs_hist) +
	       fs_flow_table_mem_size(max_flows);
}

int fs_analyzer_init(struct fs_analyzer *a, struct fs_lane *lane,
		     struct fs_lane *deliv, uint64_t lane_bytes,
		     uint32_t max_flows, uint32_t timeout_s,
		     const struct bpf_program *trigger, uint32_t snap,
		     char *err, size_t errlen)
{
	uint64_t n = hist_entries(lane_bytes);

	memset(a, 0, sizeof(*a));
	atomic_store(&a->wake_fd, -1);
	pthread_mutex_init(&a->call_lock, NULL);
	a->lane = lane;
	a->deliv = deliv;
	a->snap = snap;
	a->hist_mask = n - 1;
	a->hist_len = n * sizeof(struct fs_hist);
	a->hist = fs_map_resident(a->hist_len);
	if (a->hist == NULL) {
		snprintf(err, errlen, "flowscope: cannot map the history "
			 "index (%" PRIu64 " bytes): %s", (uint64_t)a->hist_len,
			 strerror(errno));
		return -1;
	}
	fs_cursor_newest(lane, &a->acur);
	for (unsigned i = 0; i < FS_AN_AHEAD; i++)
		a->ahead[i].k = UINT64_MAX;
	a->pcur = a->acur;
	a->pf_pkt = a->acur.pkt;
	atomic_store(&a->analyzed, a->acur.pkt);
	atomic_store(&a->aseq, a->acur.seq);
	a->scratch = malloc(FS_REC_SIZE(snap));
	if (a->scratch == NULL ||
	    fs_flow_table_init(&a->table, max_flows, timeout_s) < 0) {
		snprintf(err, errlen, "flowscope: out of memory");
		return -1;
	}
	if (trigger != NULL && trigger->bf_insns != NULL) {
		size_t sz = trigger->bf_len * sizeof(struct bpf_insn);

		a->trigger.bf_insns = malloc(sz);
		if (a->trigger.bf_insns == NULL) {
			snprintf(err, errlen, "flowscope: out of memory");
			return -1;
		}
		memcpy(a->trigger.bf_insns, trigger->bf_insns, sz);
		a->trigger.bf_len = trigger->bf_len;
	}
	return 0;
}

void fs_analyzer_free(struct fs_analyzer *a)
{
	if (a->hist != NULL)
		munmap(a->hist, a->hist_len);
	fs_flow_table_free(&a->table);
	free(a->trigger.bf_insns);
	free(a->scratch);
	if (a->foreign != NULL)
		free(a->foreign->buf);
	pthread_mutex_destroy(&a->call_lock);
	memset(a, 0, sizeof(*a));
}

int fs_analyzer_foreign(struct fs_analyzer *a, struct fs_foreign *f,
			const struct fs_cursor *cur, char *err, size_t errlen)
{
	/* a whole burst of small records, and any one record */
	f->len = (size_t)FS_AN_BURST * 256 + FS_REC_SIZE(a->snap);
	f->buf = malloc(f->len);
	if (f->buf == NULL) {
		snprintf(err, errlen, "flowscope: out of memory");
		return -1;
	}
	a->foreign = f;
	a->acur = *cur;
	a->pcur = *cur;
	a->pf_pkt = cur->pkt;
	atomic_store(&a->analyzed, a->acur.pkt);
	atomic_store(&a->aseq, a->acur.seq);
	return 0;
}

/* Copy one record into the delivery lane. */
static void deliver(struct fs_analyzer *a, const struct fs_pkt_hdr *h,
		    uint8_t flags)
{
	struct fs_pkt_hdr *d;

	if (a->wait)
		a->wait(a->wait_arg, h->cap_len);
	d = fs_lane_reserve(a->deliv, h->cap_len, NULL);
	memcpy(d, h, sizeof(*h) + h->cap_len);
	d->flags = (uint8_t)((h->flags & FS_REC_OUTGOING) | flags);
	a->delivered++;
}

/* Deliver the reference to f's history on disk: the expect packets of
 * its lane's chunks before seq (spool_hist.h). It opens the flow. */
static void refer(struct fs_analyzer *a, const struct fs_flow *f,
		  uint64_t before_seq, uint64_t expect)
{
	union {
		struct fs_pkt_hdr h;
		uint8_t b[sizeof(struct fs_pkt_hdr) + sizeof(struct fs_hist_ref)];
		uint64_t align;
	} m;
	struct fs_hist_ref r;

	memset(&m, 0, sizeof(m));
	memset(&r, 0, sizeof(r));
	r.magic = FS_HIST_MAGIC;
	r.lane = a->lane->index;
	r.first_ts = f->first_ts;
	r.before_seq = before_seq;
	r.expect = expect;
	r.key = f->key;
	r.hash = fs_flow_hash(&f->key);
	m.h.ts_ns = f->first_ts;
	m.h.wire_len = sizeof(r);
	m.h.cap_len = sizeof(r);
	memcpy(m.b + sizeof(m.h), &r, sizeof(r));
	deliver(a, &m.h, FS_REC_FIRST | FS_REC_HIST);
}

/* Is the record at pos still in the lane? (A hint: the copy checks.) */
static bool intact(struct fs_lane *l, struct fs_ring_pos pos)
{
	return pos.seq >= atomic_load_explicit(&l->tail, memory_order_acquire);
}

/*
 * Trigger f, whose newest packet is lane packet k: deliver its packets
 * still in the ring, oldest first; count those already given up. The
 * history is copied out and checked (the owner may not be the writer,
 * which can give the oldest chunks up meanwhile).
 */
static void trigger_flow(struct fs_analyzer *a, struct fs_flow *f)
{
	/* packets past the cutoff were never history: not lost either */
	uint64_t total = f->pkts[0] + f->pkts[1] - f->cut_pkts;
	uint64_t newest = a->acur.pkt;	/* packets analyzed so far */
	uint64_t *ks = NULL, n = 0, k = f->last_pkt, got = 0, ondisk = 0;
	uint8_t flags = FS_REC_FIRST;
	bool need_ref;

	f->triggered = 1;
	a->table.triggered++;
	/* each of the flow's packets so far was counted untriggered; now
	 * it is delivered or counted lost below */
	a->untriggered -= f->pkts[0] + f->pkts[1];
	atomic_store_explicit(&a->flows_triggered, a->table.triggered,
			      memory_order_relaxed);
	if (a->deliv == NULL)
		return;
	ks = malloc(total * sizeof(*ks));
	while (ks != NULL && n < total) {
		const struct fs_hist *e = &a->hist[k & a->hist_mask];
		struct fs_ring_pos pos = { e->seq, e->off };

		/* the index entry was reused, or the chunk given up */
		if (newest - k > a->hist_mask || !intact(a->lane, pos))
			break;
		ks[n++] = k;
		if (e->back == 0)
			break;
		k -= e->back;
	}
	/* the walk did not reach the flow's first packet: with a spool,
	 * the older ones are on disk */
	need_ref = a->spooled && ks != NULL && n < total;
	while (n > 0) {
		const struct fs_hist *e = &a->hist[ks[--n] & a->hist_mask];
		struct fs_ring_pos pos = { e->seq, e->off };

		/* given up since the walk: counted below, or with a spool
		 * (none delivered yet) on disk before this one */
		if (fs_lane_read_at(a->lane, pos, a->scratch,
				    FS_REC_SIZE(a->snap)) <= 0) {
			need_ref |= a->spooled && got == 0;
			continue;
		}
		if (need_ref && got == 0) {
			/* what this and the n newer ones do not cover */
			ondisk = total - (n + 1);
			refer(a, f, pos.seq, ondisk);
			flags = 0;
		}
		deliver(a, (const struct fs_pkt_hdr *)a->scratch, flags);
		flags = 0;
		got++;
	}
	if (need_ref && got == 0 && total > 0) {
		/* nothing left in RAM: everything up to the flow's newest
		 * packet's chunk (given up, so closed) is on disk */
		const struct fs_hist *e = &a->hist[f->last_pkt & a->hist_mask];
		uint64_t before = newest - f->last_pkt <= a->hist_mask ?
			e->seq + 1 :
			atomic_load_explicit(&a->lane->tail, memory_order_acquire);

		ondisk = total;
		refer(a, f, before, ondisk);
	}
	/* what is on disk the reader counts, if it is missing there */
	if (total > got + ondisk)
		atomic_fetch_add_explicit(&a->history_lost, total - got - ondisk,
					  memory_order_relaxed);
	free(ks);
}

/* A new flow f: was it asked for before it came? (Only while some
 * request waits.) */
static bool pending_take(struct fs_analyzer *a, const struct fs_flow *f)
{
	for (unsigned i = 0; i < FS_PENDING; i++) {
		struct fs_pending *p = &a->pending[i];

		if (p->until == 0)
			continue;
		if (p->until < a->now) {	/* too late now */
			p->until = 0;
			a->npending--;
			continue;
		}
		if (memcmp(&p->key, &f->key, sizeof(f->key)) == 0) {
			p->until = 0;
			a->npending--;
			return true;
		}
	}
	return false;
}

/* Remember a request for key (again: its time is renewed); when all are
 * taken, the one that would expire first makes room. */
static void pending_add(struct fs_analyzer *a, const struct fs_flow_key *key)
{
	struct fs_pending *slot = NULL;

	for (unsigned i = 0; i < FS_PENDING && slot == NULL; i++)
		if (a->pending[i].until != 0 &&
		    memcmp(&a->pending[i].key, key, sizeof(*key)) == 0)
			slot = &a->pending[i];
	for (unsigned i = 0; i < FS_PENDING && slot == NULL; i++)
		if (a->pending[i].until == 0)
			slot = &a->pending[i];
	if (slot == NULL) {
		slot = &a->pending[0];
		for (unsigned i = 1; i < FS_PENDING; i++)
			if (a->pending[i].until < slot->until)
				slot = &a->pending[i];
	}
	if (slot->until == 0)
		a->npending++;
	slot->key = *key;
	/* packet time; before any packet, the clock's */
	if (a->now == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		a->now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	slot->until = a->now + a->table.timeout_ns;
}

/*
 * IPv4 fragments: the first one teaches the datagram's flow, later ones
 * (no ports) take it when their addresses and protocol agree, so a
 * fragmented datagram stays in its flow as far as the headers allow.
 * Later fragments seen before the first, or after 30 s, keep their
 * addresses-only key.
 */
void fs_frag_fixup(struct fs_frag *frags, struct fs_pkt_info *info,
		   uint64_t ts)
{
	struct fs_frag *e = &frags[info->frag_tag % FS_FRAGS];

	if (info->frag_first) {
		e->tag = info->frag_tag;
		e->key = info->key;
		e->hash = info->hash;
		e->dir = info->dir;
		e->ts = ts;
		return;
	}
	if (e->tag != info->frag_tag || ts > e->ts + 30000000000ull ||
	    memcmp(e->key.a, info->key.a, sizeof(e->key.a)) != 0 ||
	    memcmp(e->key.b, info->key.b, sizeof(e->key.b)) != 0 ||
	    e->key.proto != info->key.proto)
		return;
	info->key = e->key;
	info->hash = e->hash;
	info->dir = e->dir;
}

/* Analyze the record h at pos, lane packet k; act: it may trigger. */
static inline __attribute__((always_inline)) void
analyze(struct fs_analyzer *a, const struct fs_pkt_hdr *h,
		    struct fs_ring_pos pos, uint64_t k,
		    const struct fs_pkt_info *pinfo, bool act)
{
	const uint8_t *data = (const uint8_t *)(h + 1);
	const struct fs_pkt_info *info = pinfo;
	struct fs_pkt_info fixed;	/* a later fragment's, put right */
	struct fs_hist *e = &a->hist[k & a->hist_mask];
	struct fs_flow *f;
	int matched = 0;	/* the trigger was run and matched */
	bool asked = false;	/* a trigger by key waited for this flow */

	if (unlikely(pinfo->frag_tag != 0)) {
		fixed = *pinfo;
		fs_frag_fixup(a->frags, &fixed, h->ts_ns);
		info = &fixed;
	}
	if (h->ts_ns > a->now)
		a->now = h->ts_ns;
	e->seq = pos.seq;
	e->off = pos.off;
	e->back = 0;
	f = fs_flow_get(&a->table, info, h->ts_ns);
	if (f == NULL) {
		/* stored and counted, but not tracked: no trigger selects it */
		a->untriggered++;
		return;
	}
	/* past the cutoff (the flow kept cutoff bytes already, and no
	 * trigger lifted it): still tracked and delivered live, but never
	 * history, so not linked into the flow's chain. A packet that
	 * triggers its flow lifts the cutoff from itself on. */
	if (unlikely(a->cutoff != 0) && !f->triggered &&
	    f->bytes[0] + f->bytes[1] >= a->cutoff) {
		if (act && a->trigger.bf_insns != NULL &&
		    bpf_filter(a->trigger.bf_insns, data, h->wire_len,
			       h->cap_len) != 0) {
			matched = 1;
		} else {
			fs_flow_update(&a->table, f, info, h->ts_ns,
				       h->wire_len);
			f->cut_pkts++;
			f->cut_bytes += h->wire_len;
			__atomic_or_fetch(&((struct fs_pkt_hdr *)h)->flags,
					  FS_REC_CUT, __ATOMIC_RELAXED);
			atomic_fetch_add_explicit(&a->cut_packets, 1,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&a->cut_bytes, h->wire_len,
						  memory_order_relaxed);
			a->untriggered++;
			return;
		}
	}
	if ((f->pkts[0] | f->pkts[1]) != 0 && k - f->last_pkt <= a->hist_mask)
		e->back = (uint32_t)(k - f->last_pkt);
	else if (unlikely(a->npending > 0) && (f->pkts[0] | f->pkts[1]) == 0)
		asked = pending_take(a, f);	/* by key, before it came */
	f->last_pkt = k;
	fs_flow_update(&a->table, f, info, h->ts_ns, h->wire_len);
	if (unlikely(asked)) {
		a->untriggered++;
		trigger_flow(a, f);
		return;
	}
	if (f->triggered) {
		if (a->deliv != NULL)
			deliver(a, h, 0);
		return;
	}
	a->untriggered++;
	if (matched || (act && a->trigger.bf_insns != NULL &&
			bpf_filter(a->trigger.bf_insns, data, h->wire_len,
				   h->cap_len) != 0)) {
		trigger_flow(a, f);
		if (a->on_trigger != NULL)
			a->on_trigger(a->on_trigger_arg, &f->key, h->ts_ns);
	}
}

/* The n records of one burst, lane packet numbers k0.. (or ks[], and
 * act[] whether each may trigger): parse all and prefetch their slots,
 * then their flows, so the misses overlap, and only then use them.
 * Records read ahead were parsed and prefetched already. */
static inline void burst(struct fs_analyzer *a,
			 const struct fs_pkt_hdr *const *h,
			 const struct fs_ring_pos *pos, uint64_t k0,
			 const uint64_t *ks, const bool *act, unsigned n)
{
	struct fs_pkt_info info[FS_AN_BURST];
	const struct fs_pkt_info *pi[FS_AN_BURST];
	bool fresh = false;

	for (unsigned i = 0; i < n; i++) {
		uint64_t k = ks != NULL ? ks[i] : k0 + i;
		const struct fs_an_ahead *p = &a->ahead[k % FS_AN_AHEAD];

		if (p->k == k) {
			pi[i] = &p->info;
			continue;
		}
		fs_flow_parse((const uint8_t *)(h[i] + 1), h[i]->cap_len,
			      &info[i]);
		fs_flow_prefetch_slot(&a->table, info[i].hash);
		pi[i] = &info[i];
		fresh = true;
	}
	if (fresh)
		for (unsigned i = 0; i < n; i++)
			if (pi[i] == &info[i])
				fs_flow_prefetch_flow(&a->table, info[i].hash);
	for (unsigned i = 0; i < n; i++)
		analyze(a, h[i], pos[i], ks != NULL ? ks[i] : k0 + i, pi[i],
			act == NULL || act[i]);
}

/*
 * A foreign lane: copy a burst out (fs_lane_read_pos checks what it
 * copied), keep what is ours, analyze that. The history index points
 * into the lane itself, and trigger_flow copies from there with the
 * same check, so a chunk reused meanwhile is history lost, never torn.
 */
static unsigned run_foreign(struct fs_analyzer *a, unsigned max)
{
	struct fs_foreign *f = a->foreign;
	unsigned done = 0;

	while (done < max) {
		const struct fs_pkt_hdr *hs[FS_AN_BURST];
		struct fs_ring_pos ps[FS_AN_BURST];
		uint64_t ks[FS_AN_BURST], lost = 0, k0, acting = 0;
		bool act[FS_AN_BURST];
		unsigned n, m = 0;
		size_t off = 0;

		n = fs_lane_read_pos(a->lane, &a->acur, f->buf, f->len,
				     FS_AN_BURST, &lost, f->where);
		/* a batch never spans a gap: the lost ones came before it;
		 * those that could not have triggered were only history */
		k0 = a->acur.pkt - n;
		if (lost > 0 && k0 > f->act_pkt)
			atomic_fetch_add_explicit(f->lost, k0 - f->act_pkt < lost ?
						  k0 - f->act_pkt : lost,
						  memory_order_relaxed);
		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++) {
			const struct fs_pkt_hdr *h = (const void *)(f->buf + off);

			off += FS_REC_SIZE(h->cap_len);
			if (f->keep != NULL &&
			    !f->keep(f->keep_arg, h, f->where[i].tag))
				continue;
			hs[m] = h;
			ps[m] = f->where[i].pos;
			ks[m] = k0 + i;
			act[m] = k0 + i >= f->act_pkt && h->ts_ns >= f->act_ts;
			acting += act[m];
			m++;
		}
		if (m > 0)
			burst(a, hs, ps, 0, ks, act, m);
		if (acting > 0)
			atomic_fetch_add_explicit(f->seen, acting,
						  memory_order_relaxed);
		done += n;
	}
	atomic_store_explicit(&a->aseq, a->acur.seq, memory_order_release);
	atomic_store_explicit(&a->analyzed, a->acur.pkt, memory_order_release);
	return done;
}

/* The next published record at c (before packet end), or NULL; c moves
 * past it, and pos (may be NULL) is where it was. ch and used: c's chunk
 * and what of it was published. */
static inline const struct fs_pkt_hdr *next_record(struct fs_lane *l,
						   struct fs_cursor *c,
						   const struct fs_chunk **ch,
						   uint32_t *used, uint64_t end,
						   struct fs_ring_pos *pos)
{
	const struct fs_pkt_hdr *h;

	if (c->pkt >= end)
		return NULL;
	while (c->off >= *used) {
		/* published records past this chunk's end are in the next
		 * one (its used was final before they were published) */
		*used = atomic_load_explicit(&(*ch)->used, memory_order_acquire);
		if (c->off < *used)
			break;
		c->seq++;
		c->off = 0;
		*ch = fs_lane_chunk(l, c->seq);
		*used = atomic_load_explicit(&(*ch)->used, memory_order_acquire);
	}
	h = (const void *)((*ch)->data + c->off);
	if (pos != NULL) {
		pos->seq = c->seq;
		pos->off = c->off;
	}
	c->off += FS_REC_SIZE(h->cap_len);
	c->pkt++;
	return h;
}

unsigned fs_analyzer_run(struct fs_analyzer *a, unsigned max)
{
	struct fs_lane *l = a->lane;
	struct fs_cursor *c = &a->acur;
	uint64_t end = atomic_load_explicit(&l->pkts, memory_order_acquire);
	const struct fs_chunk *ch = fs_lane_chunk(l, c->seq);
	uint32_t used = atomic_load_explicit(&ch->used, memory_order_acquire);
	unsigned done = 0;

	if (a->foreign != NULL)
		return run_foreign(a, max);
	if (end - c->pkt > max)
		end = c->pkt + max;
	while (c->pkt < end) {
		const struct fs_pkt_hdr *hs[FS_AN_BURST];
		struct fs_ring_pos ps[FS_AN_BURST];
		uint64_t k0 = c->pkt;
		unsigned m = 0;

		while (m < FS_AN_BURST &&
		       (hs[m] = next_record(l, c, &ch, &used, end,
					    &ps[m])) != NULL)
			m++;
		burst(a, hs, ps, k0, NULL, NULL, m);
		done += m;
	}
	/* what was read ahead and is analyzed now is behind the cursor */
	if (c->pkt > a->pcur.pkt)
		a->pcur = *c;
	if (c->pkt > a->pf_pkt)
		a->pf_pkt = c->pkt;
	atomic_store_explicit(&a->aseq, c->seq, memory_order_release);
	atomic_store_explicit(&a->analyzed, c->pkt, memory_order_release);
	return done;
}

/* The end of a step: the tick at now, what was delivered published. */
static unsigned step_end(struct fs_analyzer *a, uint64_t now)
{
	fs_analyzer_tick(a, now);
	if (a->deliv != NULL && a->delivered > 0)
		fs_lane_publish(a->deliv);
	return a->delivered;
}

unsigned fs_analyzer_step_ahead(struct fs_analyzer *a)
{
	struct fs_lane *l = a->lane;
	uint64_t end = atomic_load_explicit(&l->pkts, memory_order_acquire);
	struct fs_cursor *p = &a->pcur;
	const struct fs_chunk *ch;
	uint32_t used;
	uint64_t lim;

	if (a->foreign != NULL || end - a->acur.pkt > FS_AN_AHEAD)
		return fs_analyzer_step(a, UINT_MAX, 0);
	a->delivered = 0;
	/* 1: the records whose entries were asked for a call ago */
	if (a->pf_pkt > a->acur.pkt)
		fs_analyzer_run(a, (unsigned)(a->pf_pkt - a->acur.pkt));
	/* 2: the entries of those read ahead a call ago (their slots came) */
	for (uint64_t k = a->pf_pkt; k < p->pkt; k++)
		fs_flow_prefetch_flow(&a->table,
				      a->ahead[k % FS_AN_AHEAD].info.hash);
	a->pf_pkt = p->pkt;
	/* 3: read the newest ahead, as far as the table of them reaches */
	lim = a->acur.pkt + FS_AN_AHEAD;
	if (end > lim)
		end = lim;
	ch = fs_lane_chunk(l, p->seq);
	used = atomic_load_explicit(&ch->used, memory_order_acquire);
	for (;;) {
		uint64_t k = p->pkt;
		const struct fs_pkt_hdr *h = next_record(l, p, &ch, &used, end,
							 NULL);
		struct fs_an_ahead *e;

		if (h == NULL)
			break;
		e = &a->ahead[k % FS_AN_AHEAD];
		fs_flow_parse((const uint8_t *)(h + 1), h->cap_len, &e->info);
		e->k = k;
		fs_flow_prefetch_slot(&a->table, e->info.hash);
	}
	return step_end(a, 0);
}

void fs_analyzer_hold(struct fs_analyzer *a)
{
	for (unsigned spin = 1; !fs_analyzer_try(a); spin++)
		if (spin % 256 == 0)
			sched_yield();
}

static void publish_counters(struct fs_analyzer *a)
{
	atomic_store_explicit(&a->flows_active, a->table.count,
			      memory_order_relaxed);
	atomic_store_explicit(&a->flows_ended, a->table.ended,
			      memory_order_relaxed);
	atomic_store_explicit(&a->flows_triggered, a->table.triggered,
			      memory_order_relaxed);
	atomic_store_explicit(&a->untracked_packets, a->table.refused,
			      memory_order_relaxed);
	atomic_store_explicit(&a->not_triggered, a->untriggered,
			      memory_order_relaxed);
}

void fs_analyzer_tick(struct fs_analyzer *a, uint64_t now)
{
	if (now > a->now)
		a->now = now;
	fs_flow_expire(&a->table, a->now, NULL, NULL);
	publish_counters(a);
	fs_analyzer_serve(a);
}

unsigned fs_analyzer_step(struct fs_analyzer *a, unsigned max, uint64_t now)
{
	a->delivered = 0;
	fs_analyzer_run(a, max);
	return step_end(a, now);
}

static bool matches(const struct fs_flow *f, const struct bpf_program *p)
{
	uint8_t frame[160];
	size_t len;

	if (p == NULL || p->bf_insns == NULL)
		return true;
	len = fs_flow_synth(&f->key, f->init_dir, f->tcp_flags, frame,
			    sizeof(frame));
	return len > 0 && bpf_filter(p->bf_insns, frame, (u_int)len,
				     (u_int)len) != 0;
}

/* ns since the epoch as a UTC date with nanoseconds, the form a person
 * reads and date(1) parses: 2026-12-02T07:39:35.123456789Z */
static void utc(uint64_t ns, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;
	char day[32];

	gmtime_r(&sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09uZ", day, (unsigned)(ns % 1000000000u));
}

static void print_flow(FILE *out, const struct fs_flow *f, uint64_t cutoff)
{
	char key[160], first[48], last[48];

	fs_flow_key_str(&f->key, key, sizeof(key));
	utc(f->first_ts, first, sizeof(first));
	utc(f->last_ts, last, sizeof(last));
	fprintf(out, "%s packets %" PRIu64 " bytes %" PRIu64,
		key, f->pkts[0] + f->pkts[1], f->bytes[0] + f->bytes[1]);
	if (cutoff != 0)
		fprintf(out, " cut_packets %" PRIu64 " cut_bytes %" PRIu64,
			f->cut_pkts, f->cut_bytes);
	fprintf(out, " first %s last %s%s%s\n", first, last,
		f->triggered ? " triggered" : "", f->closed ? " closed" : "");
}

/* Keep the n busiest (by bytes) in r->top, largest first. */
static void top_add(struct fs_request *r, const struct fs_flow *f,
		    uint64_t pkts, uint64_t bytes)
{
	unsigned i;

	if (r->n == 0 || (r->ntop == r->n && bytes <= r->top[r->ntop - 1].bytes))
		return;
	i = r->ntop < r->n ? r->ntop++ : r->ntop - 1;
	while (i > 0 && r->top[i - 1].bytes < bytes) {
		r->top[i] = r->top[i - 1];
		i--;
	}
	r->top[i].key = f->key;
	r->top[i].pkts = pkts;
	r->top[i].bytes = bytes;
	r->top[i].triggered = f->triggered;
}

/* One flow by its key (a trigger from the bus): a lookup, not a walk;
 * one not seen yet is triggered when it comes. */
static void trigger_key(struct fs_analyzer *a, struct fs_request *r)
{
	struct fs_flow *f = fs_flow_find(&a->table, r->key);

	if (f == NULL) {
		pending_add(a, r->key);
	} else if (!f->triggered) {
		trigger_flow(a, f);
		r->count = 1;
	}
}

static void serve(struct fs_analyzer *a, struct fs_request *r)
{
	uint32_t sec = (uint32_t)(a->now / 1000000000ull);

	r->count = 0;
	r->ntop = 0;
	if (r->type == FS_REQ_TRIGGER_KEY)
		trigger_key(a, r);
	else
		FS_FLOW_EACH(&a->table, f, li) {
			switch (r->type) {
			case FS_REQ_FLOWS:
				if (matches(f, r->filter)) {
					print_flow(r->out, f, a->cutoff);
					r->count++;
				}
				break;
			case FS_REQ_TRIGGER:
				if (!f->triggered && matches(f, r->filter)) {
					trigger_flow(a, f);
					r->count++;
				}
				break;
			case FS_REQ_TRIGGER_KEY:	/* trigger_key */
				break;
			case FS_REQ_TOP:
				/* the last complete second */
				if (f->ep == sec)
					top_add(r, f, f->prev_pkts,
						f->prev_bytes);
				else if (f->ep + 1 == sec)
					top_add(r, f, f->ep_pkts, f->ep_bytes);
				break;
			}
		}
	if ((r->type == FS_REQ_TRIGGER || r->type == FS_REQ_TRIGGER_KEY) &&
	    a->deliv != NULL)
		fs_lane_publish(a->deliv);
	publish_counters(a);
}

void fs_analyzer_serve(struct fs_analyzer *a)
{
	int posted = 1;

	/* 1 -> 3 (serving) so that the caller cannot take it back now */
	if (atomic_load_explicit(&a->mbox_state, memory_order_acquire) != 1 ||
	    !atomic_compare_exchange_strong(&a->mbox_state, &posted, 3))
		return;
	serve(a, a->mbox);
	atomic_store_explicit(&a->mbox_state, 2, memory_order_release);
}

/* The mailbox's protocol, for one caller (fs_analyzer_call holds the
 * lock). */
static int call(struct fs_analyzer *a, struct fs_request *req,
		bool thread_alive, int timeout_ms)
{
	struct timespec ts = { 0, 200000 };
	uint64_t one = 1;
	int waited = 0, wake;

	if (!thread_alive) {
		/* the application's reader may be helping right now */
		fs_analyzer_hold(a);
		serve(a, req);
		fs_analyzer_release(a);
		return 0;
	}
	a->mbox = req;
	atomic_store_explicit(&a->mbox_state, 1, memory_order_release);
	/* a thread asleep for want of packets serves it now, not at the
	 * end of its sleep */
	wake = atomic_load(&a->wake_fd);
	if (wake >= 0)
		(void)!write(wake, &one, sizeof(one));
	while (atomic_load_explicit(&a->mbox_state, memory_order_acquire) != 2) {
		nanosleep(&ts, NULL);
		waited++;
		if (waited * 0.2 > timeout_ms) {
			/* take it back unless it is being served right now */
			int posted = 1;

			if (atomic_compare_exchange_strong(&a->mbox_state,
							   &posted, 0))
				return -1;
		}
	}
	atomic_store_explicit(&a->mbox_state, 0, memory_order_relaxed);
	return 0;
}

int fs_analyzer_call(struct fs_analyzer *a, struct fs_request *req,
		     bool thread_alive, int timeout_ms)
{
	int rc;

	pthread_mutex_lock(&a->call_lock);
	rc = call(a, req, thread_alive, timeout_ms);
	pthread_mutex_unlock(&a->call_lock);
	return rc;
}
