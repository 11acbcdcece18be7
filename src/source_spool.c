/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spool=DIR: the history a spool keeps (spool.h), read back through the
 * engine like a file= source: lossless, in time order, then the end of
 * the capture. The segments and blocks there are when the capture starts
 * are read; a recorder may go on writing meanwhile.
 *
 * Each recorded lane's blocks are in packet order; lanes overlap in
 * time, so the reader merges them: one block a lane in memory, the lane
 * whose next packet is oldest goes first. Blocks come from each
 * segment's index when it is there and whole, else from a walk over the
 * segment's block headers (the segment being written has no index yet).
 */
#define _GNU_SOURCE
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpfhint.h"
#include "spool.h"
#include "spool_index.h"
#include "spool_hist.h"

#define MAX_LANES 256u
#define BATCH 64u
#define READ_AHEAD 8u	/* blocks a lane asks the disk for ahead */

struct blkref {
	uint32_t seg;		/* index into fds */
	uint32_t blk;		/* in its segment's index; UINT32_MAX: none */
	uint32_t total;
	uint64_t off;
	uint64_t first_ts, last_ts;
	uint64_t chunk_seq;	/* the ring chunk it was; NO_SEQ: not known
				 * (a segment read through its index) */
};

#define NO_SEQ UINT64_MAX

struct stream {
	struct blkref *b;
	size_t n, cap, next;	/* blocks; the next one to load */
	size_t ahead;		/* blocks before it were read ahead */
	uint8_t *buf;		/* the loaded block */
	size_t room;
	size_t pos, end;	/* next EPB, end of the EPBs */
	uint64_t ts;		/* of the packet at pos, when have */
	bool have;
};

/* Which blocks of each indexed segment can hold a packet the filter
 * accepts (bit per block; NULL: every block of that segment). */
struct cands {
	uint8_t **bits;		/* per segment */
	struct cands *older;	/* replaced by a later filter, freed at close */
};

struct fs_spool_reader {
	int *fds;
	struct fs_spool_index *idx;	/* per segment; h.nblocks 0: none */
	size_t nseg;
	_Atomic(struct cands *) cands;	/* the filter's, or NULL: no skipping */
	_Atomic uint64_t blocks_read, blocks_skipped;
	unsigned nlanes;
	struct stream *s;
	uint64_t damaged;	/* blocks skipped: no longer whole */
	/* the application set its filter or began to read: blocks can be
	 * chosen (a filter set later still narrows what is left) */
	_Atomic bool go;
};

#define GO_WAIT_MS 500	/* for the application's filter, at most */

static int add_ref(struct fs_spool_reader *rd, uint32_t lane, uint32_t seg,
		   uint32_t blk, uint64_t off, uint32_t total,
		   uint64_t first_ts, uint64_t last_ts, uint64_t chunk_seq)
{
	struct stream *st;

	if (lane >= MAX_LANES)
		return 0;	/* not a block of ours: skipped */
	if (lane >= rd->nlanes) {
		struct stream *n = realloc(rd->s, (lane + 1) * sizeof(*n));

		if (n == NULL)
			return -1;
		memset(n + rd->nlanes, 0, (lane + 1 - rd->nlanes) * sizeof(*n));
		rd->s = n;
		rd->nlanes = lane + 1;
	}
	st = &rd->s[lane];
	if (st->n == st->cap) {
		size_t c = st->cap ? 2 * st->cap : 64;
		struct blkref *b = realloc(st->b, c * sizeof(*b));

		if (b == NULL)
			return -1;
		st->b = b;
		st->cap = c;
	}
	st->b[st->n].seg = seg;
	st->b[st->n].blk = blk;
	st->b[st->n].off = off;
	st->b[st->n].total = total;
	st->b[st->n].first_ts = first_ts;
	st->b[st->n].last_ts = last_ts;
	st->b[st->n].chunk_seq = chunk_seq;
	st->n++;
	return 0;
}

/* The blocks of segment fd from its header walk (no index). */
static int walk_blocks(struct fs_spool_reader *rd, uint32_t seg, int fd)
{
	struct stat st;
	uint64_t off, size;

	if (fstat(fd, &st) < 0)
		return -1;
	size = (uint64_t)st.st_size;
	off = fs_spool_header_end(fd, size);
	if (off == 0)
		return 0;	/* not even a whole header yet: empty */
	while (off + sizeof(struct fs_spool_blk) <= size) {
		struct fs_spool_blk h;
		size_t total;

		if (pread(fd, &h, sizeof(h), (off_t)off) != sizeof(h))
			break;
		total = fs_spool_check_block((const uint8_t *)&h, sizeof(h),
					     false);
		if (total == 0 || off + total > size)
			break;	/* the end, or a block still being written */
		if (add_ref(rd, h.lane, seg, UINT32_MAX, off, (uint32_t)total,
			    h.first_ts, h.last_ts, h.chunk_seq) < 0)
			return -1;
		off += total;
	}
	return 0;
}

static int cmp_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_segment(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return n == 27 && strncmp(e->d_name, "seg-", 4) == 0 &&
	       strcmp(e->d_name + 20, ".pcapng") == 0;
}

static void reader_free(struct fs_spool_reader *rd)
{
	if (rd == NULL)
		return;
	struct cands *c = atomic_load(&rd->cands);

	while (c != NULL) {
		struct cands *o = c->older;

		for (size_t i = 0; i < rd->nseg; i++)
			free(c->bits[i]);
		free(c->bits);
		free(c);
		c = o;
	}
	for (size_t i = 0; i < rd->nseg; i++) {
		if (rd->fds[i] >= 0)
			close(rd->fds[i]);
		if (rd->idx != NULL)
			fs_idx_free(&rd->idx[i]);
	}
	free(rd->fds);
	free(rd->idx);
	for (unsigned l = 0; l < rd->nlanes; l++) {
		free(rd->s[l].b);
		free(rd->s[l].buf);
	}
	free(rd->s);
	free(rd);
}

/* Open the segments of spool directory dir and list their blocks, per
 * lane, into a new reader. Returns it, or NULL with err. */
static struct fs_spool_reader *reader_open(const char *dir, char *err,
					   size_t errlen)
{
	struct fs_spool_reader *rd = calloc(1, sizeof(*rd));
	struct dirent **e = NULL;
	int dfd, n;

	if (rd == NULL) {
		snprintf(err, errlen, "spool=%.128s: out of memory", dir);
		return NULL;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "spool=%.128s: %s", dir,
			 errno == ENOTDIR ? "not a directory" : strerror(errno));
		free(rd);
		return NULL;
	}
	n = scandir(dir, &e, is_segment, cmp_name);
	if (n < 0) {
		snprintf(err, errlen, "spool=%.128s: %s", dir, strerror(errno));
		goto fail;
	}
	rd->fds = calloc((size_t)n + 1, sizeof(*rd->fds));
	rd->idx = calloc((size_t)n + 1, sizeof(*rd->idx));
	if (rd->fds == NULL || rd->idx == NULL)
		goto oom;
	for (int i = 0; i < n; i++) {
		char idx[64];
		struct fs_spool_index x;
		int fd = openat(dfd, e[i]->d_name, O_RDONLY | O_NOFOLLOW |
				O_CLOEXEC);

		if (fd < 0) {
			/* removed by the recorder since the listing: older
			 * history that is gone */
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "spool=%.128s: %s: %s", dir,
				 e[i]->d_name, strerror(errno));
			goto fail;
		}
		rd->fds[rd->nseg] = fd;
		snprintf(idx, sizeof(idx), "%.20s.idx", e[i]->d_name);
		if (fs_idx_read(&x, dfd, idx) == 0) {
			for (uint32_t b = 0; b < x.h.nblocks; b++)
				if (add_ref(rd, x.blocks[b].lane,
					    (uint32_t)rd->nseg, b, x.blocks[b].off,
					    x.blocks[b].total, x.blocks[b].first_ts,
					    x.blocks[b].last_ts, NO_SEQ) < 0) {
					fs_idx_free(&x);
					goto oom;
				}
			/* kept: a filter set later picks blocks with it */
			rd->idx[rd->nseg] = x;
		} else if (walk_blocks(rd, (uint32_t)rd->nseg, fd) < 0) {
			goto oom;
		}
		rd->nseg++;
	}
	for (int i = 0; i < n; i++)
		free(e[i]);
	free(e);
	close(dfd);
	return rd;
oom:
	snprintf(err, errlen, "spool=%.128s: out of memory", dir);
fail:
	for (int i = 0; i < n; i++)
		free(e[i]);
	free(e);
	close(dfd);
	reader_free(rd);
	return NULL;
}

int fs_spoolsrc_open(struct fs_source *src, const struct fs_config *cfg,
		     char *err, size_t errlen)
{
	(void)cfg;
	src->spool = reader_open(src->spec.arg, err, errlen);
	if (src->spool == NULL)
		return -1;
	src->nq = 1;
	src->lossless = true;
	return 0;
}

static int open_seg(void *arg, uint64_t seg)
{
	struct fs_spool_reader *rd = arg;

	return seg < rd->nseg ? rd->fds[seg] : -1;
}

/* For each indexed segment of rd, a bit per block that may hold a packet
 * of the flow of hash (an entry NULL: any block may); NULL when out of
 * memory. Freed with flow_bits_free(). */
static uint8_t **flow_bits(const struct fs_spool_reader *rd, uint32_t hash)
{
	uint8_t **bits = calloc(rd->nseg + 1, sizeof(*bits));

	for (size_t i = 0; bits != NULL && i < rd->nseg; i++) {
		const struct fs_spool_index *x = &rd->idx[i];

		if (x->h.nblocks == 0)
			continue;
		bits[i] = calloc(x->h.nblocks / 8 + 1, 1);
		if (bits[i] != NULL)
			fs_idx_mark_flow(x, hash, bits[i]);
	}
	return bits;
}

static void flow_bits_free(const struct fs_spool_reader *rd, uint8_t **bits)
{
	for (size_t i = 0; bits != NULL && i < rd->nseg; i++)
		free(bits[i]);
	free(bits);
}

/* Does bits (per segment, as flow_bits makes them) rule block r out? */
static bool ruled_out(uint8_t *const *bits, const struct blkref *r)
{
	return r->blk != UINT32_MAX && bits[r->seg] != NULL &&
	       !(bits[r->seg][r->blk / 8] & (1u << (r->blk % 8)));
}

/* What the history iterator takes of block r of lane. */
static struct fs_spool_blkref hist_ref(const struct blkref *r, unsigned lane)
{
	struct fs_spool_blkref b = {
		.seg = r->seg, .off = r->off, .total = r->total, .lane = lane,
	};

	return b;
}

/* One reader behind the history iterators of several lanes: the last
 * one closed frees it. */
struct shared_reader {
	struct fs_spool_reader *rd;
	unsigned refs;
};

static int shared_seg(void *arg, uint64_t seg)
{
	const struct shared_reader *sh = arg;

	return open_seg(sh->rd, seg);
}

static void shared_release(void *arg)
{
	struct shared_reader *sh = arg;

	if (--sh->refs == 0) {
		reader_free(sh->rd);
		free(sh);
	}
}

fs_spool_hist *fs_spooldir_flow_history(const char *dir,
					const struct fs_pkt_hdr *rec,
					uint32_t snap)
{
	struct shared_reader *sh;
	struct fs_hist_ref ref;
	struct fs_spool_blkref *v = NULL;
	const struct stream *st;
	fs_spool_hist *h = NULL;
	uint8_t **flow = NULL;
	char err[256];
	size_t n = 0;

	if (fs_hist_ref_get(rec, &ref) < 0)
		return NULL;
	sh = calloc(1, sizeof(*sh));
	if (sh == NULL)
		return NULL;
	/* a scan of its own: segments come and go while the reader runs */
	sh->rd = reader_open(dir, err, sizeof(err));
	if (sh->rd == NULL) {
		free(sh);
		return NULL;
	}
	sh->refs = 1;
	if (ref.lane >= sh->rd->nlanes)
		goto empty;
	st = &sh->rd->s[ref.lane];
	v = calloc(st->n + 1, sizeof(*v));
	flow = flow_bits(sh->rd, ref.hash);
	if (v == NULL || flow == NULL)
		goto out;
	/* the blocks each segment's flow index does not rule out */
	for (size_t k = 0; k < st->n; k++)
		if (st->b[k].last_ts >= ref.first_ts &&
		    !ruled_out(flow, &st->b[k]))
			v[n++] = hist_ref(&st->b[k], ref.lane);
empty:
	/* even with no block: the iterator counts what is missing */
	h = fs_hist_from_blocks(&ref, v, n, snap, shared_seg, sh, false);
	v = NULL;
	if (h != NULL) {
		fs_spool_hist_on_close(h, shared_release, sh);
		sh->refs++;
	}
out:
	flow_bits_free(sh->rd, flow);
	free(v);
	shared_release(sh);
	return h;
}

/*
 * Where the spool's part of an attached reader's history should give way
 * to the ring, at chunk tail (the ring's oldest) or later: past every
 * chunk from tail on that the spool holds without a gap, so that the
 * ring's part begins at a chunk the publisher will keep for long, not
 * at the next one it recycles.
 */
static uint64_t seam(const struct stream *st, uint64_t tail)
{
	uint64_t next = tail;

	for (size_t k = 0; k < st->n; k++) {
		uint64_t q = st->b[k].chunk_seq;

		if (q == NO_SEQ || q < next)
			continue;
		if (q > next)
			break;
		next++;
	}
	return next;
}

int fs_spooldir_history(const char *dir, unsigned nlanes, uint64_t since,
			uint64_t *before, const uint64_t *limit, uint32_t snap,
			fs_spool_hist **out, char *err, size_t errlen)
{
	struct shared_reader *sh;

	for (unsigned l = 0; l < nlanes; l++)
		out[l] = NULL;
	sh = calloc(1, sizeof(*sh));
	if (sh == NULL) {
		snprintf(err, errlen, "spool=%.128s: out of memory", dir);
		return -1;
	}
	sh->rd = reader_open(dir, err, errlen);
	if (sh->rd == NULL) {
		free(sh);
		return -1;
	}
	sh->refs = 1;	/* ours, until the end of this function */
	for (unsigned l = 0; l < nlanes && l < sh->rd->nlanes; l++) {
		const struct stream *st = &sh->rd->s[l];
		struct fs_spool_blkref *v;
		struct fs_hist_ref ref;
		size_t n = 0;

		if (before[l] == 0 || st->n == 0)
			continue;	/* the ring holds all of it */
		if (limit != NULL) {
			uint64_t q = seam(st, before[l]);

			before[l] = q < limit[l] ? q : limit[l];
		}
		v = calloc(st->n, sizeof(*v));
		if (v == NULL)
			goto oom;
		for (size_t k = 0; k < st->n; k++)
			if (st->b[k].last_ts >= since)
				v[n++] = hist_ref(&st->b[k], l);
		if (n == 0) {
			free(v);
			continue;
		}
		memset(&ref, 0, sizeof(ref));
		ref.magic = FS_HIST_MAGIC;
		ref.lane = l;
		ref.first_ts = since;
		ref.before_seq = before[l];
		out[l] = fs_hist_from_blocks(&ref, v, n, snap, shared_seg, sh,
					     false);
		if (out[l] == NULL)
			goto oom;
		fs_spool_hist_every(out[l], shared_release, sh);
		sh->refs++;
	}
	shared_release(sh);
	return 0;
oom:
	snprintf(err, errlen, "spool=%.128s: out of memory", dir);
	for (unsigned l = 0; l < nlanes; l++) {
		fs_spool_hist_close(out[l]);
		out[l] = NULL;
	}
	shared_release(sh);
	return -1;
}

/* Can block b hold a packet of the window [lo, hi) that the filter's
 * candidates c (NULL: any) accept? *ruled: the index ruled it out. */
static bool wanted(const struct blkref *b, const struct cands *c,
		   uint64_t lo, uint64_t hi, bool *ruled)
{
	*ruled = false;
	if (b->last_ts < lo || b->first_ts >= hi)
		return false;
	if (c != NULL && b->blk != UINT32_MAX && c->bits[b->seg] != NULL &&
	    !(c->bits[b->seg][b->blk / 8] & (1u << (b->blk % 8)))) {
		*ruled = true;
		return false;
	}
	return true;
}

/* Ask the kernel for the lane's next READ_AHEAD wanted blocks now, so
 * that the disk works on them (several at once when they are scattered)
 * while this one is used. */
static void read_ahead(struct fs_spool_reader *rd, struct stream *st,
		       const struct cands *c, uint64_t lo, uint64_t hi)
{
	unsigned asked = 0;
	bool ruled;

	if (st->ahead < st->next)
		st->ahead = st->next;
	for (size_t i = st->next; i < st->n && asked < READ_AHEAD; i++) {
		const struct blkref *b = &st->b[i];

		if (!wanted(b, c, lo, hi, &ruled))
			continue;
		asked++;
		if (i < st->ahead)
			continue;	/* asked for already */
		(void)posix_fadvise(rd->fds[b->seg], (off_t)b->off,
				    (off_t)b->total, POSIX_FADV_WILLNEED);
		st->ahead = i + 1;
	}
}

/* Load the lane's next whole block that can hold a packet of the
 * window [lo, hi); false when it has none left. */
static bool load(struct fs_spool_reader *rd, struct stream *st, uint64_t lo,
		 uint64_t hi)
{
	while (st->next < st->n) {
		const struct blkref *b = &st->b[st->next++];
		struct fs_spool_blk h;
		struct cands *c = atomic_load_explicit(&rd->cands,
						       memory_order_acquire);
		bool ruled;

		if (!wanted(b, c, lo, hi, &ruled)) {
			/* the index says no packet of it can pass the
			 * filter (else: outside the window, not counted) */
			if (ruled)
				atomic_fetch_add_explicit(&rd->blocks_skipped,
							  1, memory_order_relaxed);
			continue;
		}
		read_ahead(rd, st, c, lo, hi);
		atomic_fetch_add_explicit(&rd->blocks_read, 1,
					  memory_order_relaxed);
		if (b->total > st->room) {
			uint8_t *n = realloc(st->buf, b->total);

			if (n == NULL)
				return false;
			st->buf = n;
			st->room = b->total;
		}
		if (pread(rd->fds[b->seg], st->buf, b->total, (off_t)b->off) !=
		    (ssize_t)b->total ||
		    fs_spool_check_block(st->buf, b->total, true) == 0) {
			rd->damaged++;
			continue;
		}
		memcpy(&h, st->buf, sizeof(h));
		st->pos = sizeof(h);
		st->end = sizeof(h) + h.payload;
		return true;
	}
	return false;
}

/* Position the stream at its next packet (have, ts). */
static void advance(struct fs_spool_reader *rd, struct stream *st,
		    uint64_t lo, uint64_t hi)
{
	for (;;) {
		struct fs_epb e;

		while (st->pos < st->end) {
			if (!fs_spool_epb(st->buf + st->pos, st->end - st->pos, &e)) {
				st->pos = st->end;	/* not an EPB: the rest goes */
				break;
			}
			/* outside the window: on to the next */
			if (e.ts < lo || e.ts >= hi) {
				st->pos += e.len;
				continue;
			}
			st->ts = e.ts;
			st->have = true;
			return;
		}
		if (!load(rd, st, lo, hi)) {
			st->have = false;
			return;
		}
	}
}

static void *spool_thread(void *arg)
{
	struct fs_rxq *r = arg;
	struct fs_source *src = r->src;
	struct fs_spool_reader *rd = src->spool;
	uint32_t snap = r->sink->caplen;
	unsigned batch = 0;

	fs_rx_begin(r, "fs-spool");
	/* tcpdump sets its filter right after pcap_activate(): choosing
	 * blocks before it arrives would read what the index could skip */
	for (int ms = 0; ms < GO_WAIT_MS &&
	     !atomic_load_explicit(&rd->go, memory_order_acquire) &&
	     !atomic_load_explicit(&r->stop, memory_order_relaxed); ms++) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	for (unsigned l = 0; l < rd->nlanes; l++)
		advance(rd, &rd->s[l], src->win_lo, src->win_hi);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		struct stream *best = NULL;
		struct fs_pkt_hdr *h;
		struct fs_epb e;
		uint32_t cap;

		for (unsigned l = 0; l < rd->nlanes; l++)
			if (rd->s[l].have && (best == NULL || rd->s[l].ts < best->ts))
				best = &rd->s[l];
		if (best == NULL)
			break;
		/* advance() found it whole */
		if (!fs_spool_epb(best->buf + best->pos, best->end - best->pos, &e))
			break;
		cap = e.caplen < snap ? e.caplen : snap;
		h = fs_rx_reserve(r, cap);
		h->ts_ns = best->ts;
		h->wire_len = e.wirelen;
		h->cap_len = (uint16_t)cap;
		h->source = (uint8_t)src->index;
		h->flags = fs_spool_epb_flags(best->buf + best->pos, e.len, e.caplen);
		memcpy(h + 1, e.data, cap);
		best->pos += e.len;
		advance(rd, best, src->win_lo, src->win_hi);
		if (++batch == BATCH) {
			fs_lane_publish(r->lane);
			fs_rx_burst_done(r, batch);
			batch = 0;
		}
	}
	if (batch > 0) {
		fs_lane_publish(r->lane);
		fs_rx_burst_done(r, batch);
	}
	fs_rx_end(r);
	return NULL;
}

int fs_spoolsrc_start(struct fs_source *src, const struct fs_sink *sink,
		      char *err, size_t errlen)
{
	struct fs_rxq *r = &src->rxq[0];
	int rc;

	r->src = src;
	r->sink = sink;
	r->port = 0;
	r->queue = 0;
	rc = fs_thread_start(&r->thread, spool_thread, r);
	if (rc != 0) {
		snprintf(err, errlen, "spool=%.128s: cannot start its reader: %s",
			 src->spec.arg, strerror(rc));
		return -1;
	}
	r->started = true;
	return 0;
}

void fs_spoolsrc_close(struct fs_source *src)
{
	struct fs_rxq *r = &src->rxq[0];

	atomic_store(&r->stop, true);
	if (r->started) {
		pthread_join(r->thread, NULL);
		r->started = false;
	}
	reader_free(src->spool);
	src->spool = NULL;
}

/* Mark the blocks of x that may hold a packet of alternative a. */
static void mark_alt(const struct fs_spool_index *x,
		     const struct fs_bpf_alt *a, uint8_t *bits)
{
	if (a->kind == FS_FLOW_L2) {
		fs_idx_mark_addr(x, fs_idx_ethertype_hash(a->ethertype), bits);
		return;
	}
	if (a->flags & FS_BPF_ALT_TUPLE) {
		/* one flow: its own blocks, by the flow index. The key is
		 * made into a frame and parsed back, so that it is the
		 * tracker's own; without a protocol, every one with ports */
		static const uint8_t protos[] = { 6, 17, 33, 132, 136 };

		for (size_t i = 0; i < sizeof(protos); i++) {
			struct fs_flow_key k;
			struct fs_pkt_info info;
			uint8_t frame[160];
			size_t len;

			if (a->proto != 0 && a->proto != protos[i])
				continue;
			memset(&k, 0, sizeof(k));
			memcpy(k.a, a->addr, sizeof(k.a));
			memcpy(k.b, a->peer, sizeof(k.b));
			k.port_a = a->port;
			k.port_b = a->peer_port;
			k.ethertype = a->kind == FS_FLOW_IP4 ? 0x0800 : 0x86dd;
			k.proto = protos[i];
			k.kind = a->kind;
			len = fs_flow_synth(&k, 0, 0x10, frame, sizeof(frame));
			if (len == 0)
				goto by_address;
			fs_flow_parse(frame, (uint32_t)len, &info);
			/* a key the parse does not give back as it is (a
			 * protocol the frame cannot carry): by address */
			if (memcmp(&info.key, &k, sizeof(k)) != 0)
				goto by_address;
			fs_idx_mark_flow(x, info.hash, bits);
		}
		return;
	}
by_address:
	/* by the address alone: looser than a port, never stricter, and
	 * the filter still judges every packet read */
	fs_idx_mark_addr(x, fs_idx_addr_hash(a->addr), bits);
}

void fs_spoolsrc_set_filter(struct fs_source *src, const struct bpf_insn *insns,
			    unsigned n)
{
	struct fs_spool_reader *rd = src->spool;
	struct fs_bpf_hint *h = malloc(sizeof(*h));
	struct cands *c = NULL;

	if (rd == NULL || h == NULL)
		goto out;
	if (fs_bpf_hint(insns, n, h) < 0 || h->none)
		goto publish;	/* anything may match: read every block */
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->bits = calloc(rd->nseg + 1, sizeof(*c->bits))) == NULL) {
		free(c);
		goto out;	/* nothing changes: every block is read */
	}
	for (size_t i = 0; i < rd->nseg; i++) {
		const struct fs_spool_index *x = &rd->idx[i];

		if (x->h.nblocks == 0)
			continue;
		c->bits[i] = calloc(x->h.nblocks / 8 + 1, 1);
		if (c->bits[i] == NULL)
			continue;	/* that segment: every block */
		for (unsigned k = 0; k < h->n; k++)
			mark_alt(x, &h->alt[k], c->bits[i]);
	}
publish:
	if (c != NULL)
		c->older = atomic_load(&rd->cands);
	else if (atomic_load(&rd->cands) != NULL) {
		/* a later filter that can match anything: keep the older
		 * sets for freeing, read everything from now on */
		c = calloc(1, sizeof(*c));
		if (c == NULL || (c->bits = calloc(rd->nseg + 1,
						   sizeof(*c->bits))) == NULL) {
			free(c);
			goto out;
		}
		c->older = atomic_load(&rd->cands);
	}
	if (c != NULL)
		atomic_store_explicit(&rd->cands, c, memory_order_release);
out:
	free(h);
	if (rd != NULL)
		atomic_store_explicit(&rd->go, true, memory_order_release);
}

void fs_spoolsrc_go(struct fs_source *src)
{
	if (src->spool != NULL)
		atomic_store_explicit(&src->spool->go, true,
				      memory_order_release);
}

void fs_spoolsrc_counts(struct fs_source *src, uint64_t *read,
			uint64_t *skipped)
{
	struct fs_spool_reader *rd = src->spool;

	*read = rd ? atomic_load(&rd->blocks_read) : 0;
	*skipped = rd ? atomic_load(&rd->blocks_skipped) : 0;
}

fs_spool_hist *fs_spoolsrc_hist_open(struct fs_source *src,
				     const struct fs_pkt_hdr *rec, uint32_t snap)
{
	struct fs_spool_reader *rd = src->spool;
	struct cands *c;
	struct fs_hist_ref ref;
	struct fs_spool_blkref *b = NULL;
	uint8_t **flow = NULL;
	size_t n = 0, cap = 0;

	if (rd == NULL || fs_hist_ref_get(rec, &ref) < 0)
		return NULL;
	/* the spool read back: no chunk of the capture bounds it, the
	 * reference's count does */
	ref.before_seq = UINT64_MAX;
	c = atomic_load_explicit(&rd->cands, memory_order_acquire);
	flow = flow_bits(rd, ref.hash);
	if (flow == NULL)
		return NULL;
	/* the blocks the source reads (its window, its filter's), those
	 * the flow index does not rule out */
	for (unsigned l = 0; l < rd->nlanes; l++)
		for (size_t k = 0; k < rd->s[l].n; k++) {
			const struct blkref *r = &rd->s[l].b[k];

			if (r->last_ts < ref.first_ts || r->last_ts < src->win_lo ||
			    r->first_ts >= src->win_hi)
				continue;
			if ((c != NULL && ruled_out(c->bits, r)) ||
			    ruled_out(flow, r))
				continue;
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 64;
				struct fs_spool_blkref *nb = realloc(b, nc * sizeof(*nb));

				if (nb == NULL)
					goto oom;
				b = nb;
				cap = nc;
			}
			b[n++] = hist_ref(r, l);
		}
	flow_bits_free(rd, flow);
	return fs_hist_from_blocks(&ref, b, n, snap, open_seg, rd, false);
oom:
	flow_bits_free(rd, flow);
	free(b);
	return NULL;
}
