/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The QQ ring (see ring.h): lanes of fixed-size chunks, one writer per
 * lane, lock-free readers that validate what they copied.
 */
#include "ring.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct fs_ring {
	uint8_t *mem;
	size_t mem_len;
	unsigned nlanes;
	uint32_t max_cap;
	struct fs_lane *lanes;
};

#define CHUNK_MIN (64u * 1024)
#define CHUNK_MAX (1024u * 1024)
#define CHUNKS_WANTED 64u	/* shrink chunks until a lane has this many */
#define CHUNKS_MIN 4u

static void chunk_start(struct fs_lane *l, uint64_t seq)
{
	struct fs_chunk *c = fs_lane_chunk(l, seq);

	atomic_store_explicit(&c->seq, seq, memory_order_relaxed);
	atomic_store_explicit(&c->used, 0, memory_order_relaxed);
	atomic_store_explicit(&c->npkts, 0, memory_order_relaxed);
	atomic_store_explicit(&c->first_pkt, l->wpkts, memory_order_relaxed);
	atomic_store_explicit(&c->first_ts, 0, memory_order_relaxed);
	atomic_store_explicit(&c->last_ts, 0, memory_order_relaxed);
	l->cur = c;
	l->cur_used = 0;
	l->cur_npkts = 0;
	l->pub_npkts = 0;
	l->cur_last = 0;
}

fs_ring *fs_ring_create(uint64_t bytes, unsigned nlanes, uint32_t max_cap)
{
	fs_ring *r;
	uint64_t lane_bytes;
	uint32_t cs, n;
	unsigned i;

	if (nlanes == 0 || max_cap == 0 || max_cap > 65535) {
		errno = EINVAL;
		return NULL;
	}
	lane_bytes = bytes / nlanes;
	cs = CHUNK_MAX;
	while (cs > CHUNK_MIN && lane_bytes / cs < CHUNKS_WANTED)
		cs /= 2;
	while (cs - sizeof(struct fs_chunk) < FS_REC_SIZE(max_cap))
		cs *= 2;
	if (lane_bytes / cs < CHUNKS_MIN || lane_bytes / cs > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	n = (uint32_t)(lane_bytes / cs);

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->lanes = aligned_alloc(64, sizeof(struct fs_lane) * nlanes);
	if (r->lanes == NULL) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	memset(r->lanes, 0, sizeof(struct fs_lane) * nlanes);
	r->nlanes = nlanes;
	r->max_cap = max_cap;
	r->mem_len = (size_t)cs * n * nlanes;
	r->mem = fs_map_resident(r->mem_len);
	if (r->mem == NULL) {
		int e = errno;

		free(r->lanes);
		free(r);
		errno = e;
		return NULL;
	}

	for (i = 0; i < nlanes; i++) {
		struct fs_lane *l = &r->lanes[i];

		l->mem = r->mem + (size_t)cs * n * i;
		l->chunk_size = cs;
		l->data_size = cs - (uint32_t)sizeof(struct fs_chunk);
		l->nchunks = n;
		l->index = i;
		chunk_start(l, 0);
	}
	return r;
}

void fs_ring_free(fs_ring *r)
{
	if (r == NULL)
		return;
	munmap(r->mem, r->mem_len);
	free(r->lanes);
	free(r);
}

unsigned fs_ring_lanes(const fs_ring *r)
{
	return r->nlanes;
}

struct fs_lane *fs_ring_lane(fs_ring *r, unsigned i)
{
	return i < r->nlanes ? &r->lanes[i] : NULL;
}

uint64_t fs_ring_capacity(const fs_ring *r)
{
	return r->mem_len;
}

void fs_lane_publish(struct fs_lane *l)
{
	struct fs_chunk *c = l->cur;

	if (l->pub_npkts == l->cur_npkts)
		return;
	if (l->pub_npkts == 0) {
		const struct fs_pkt_hdr *first = (const void *)c->data;

		atomic_store_explicit(&c->first_ts, first->ts_ns,
				      memory_order_relaxed);
	}
	atomic_store_explicit(&c->last_ts,
		((const struct fs_pkt_hdr *)(c->data + l->cur_last))->ts_ns,
		memory_order_relaxed);
	atomic_store_explicit(&c->npkts, l->cur_npkts, memory_order_relaxed);
	/* release: the records above are complete before used says so */
	atomic_store_explicit(&c->used, l->cur_used, memory_order_release);
	atomic_store_explicit(&l->pkts, l->wpkts, memory_order_release);
	atomic_store_explicit(&l->bytes, l->wbytes, memory_order_relaxed);
	l->pub_npkts = l->cur_npkts;
}

/*
 * Close the current chunk and open the next one. When the lane is full,
 * the chunk about to be reused is declared gone (tail moves) before a byte
 * of it is overwritten, so readers that copied from it can tell.
 */
void fs_lane_next_chunk(struct fs_lane *l)
{
	uint64_t head = atomic_load_explicit(&l->head, memory_order_relaxed);
	uint64_t next = head + 1;

	fs_lane_publish(l);
	if (next >= l->nchunks) {
		atomic_store_explicit(&l->tail, next - l->nchunks + 1,
				      memory_order_relaxed);
		atomic_fetch_add_explicit(&l->chunks_dropped, 1,
					  memory_order_relaxed);
		/* order the tail store before the overwrite (seqlock wmb) */
		atomic_thread_fence(memory_order_seq_cst);
	}
	chunk_start(l, next);
	/* release: a reader that sees head > seq sees the final used */
	atomic_store_explicit(&l->head, next, memory_order_release);
}

/* Has chunk seq been (or is it being) reused? Call after copying from it. */
static bool gone(struct fs_lane *l, uint64_t seq)
{
	atomic_thread_fence(memory_order_acquire);
	return seq < atomic_load_explicit(&l->tail, memory_order_acquire);
}

/* Move a cursor that fell behind the tail to the oldest intact chunk,
 * adding what it skipped to *lost. */
static void catch_up(struct fs_lane *l, struct fs_cursor *c, uint64_t *lost)
{
	for (;;) {
		uint64_t tail = atomic_load_explicit(&l->tail,
						     memory_order_acquire);
		uint64_t first;

		if (c->seq >= tail)
			return;
		first = atomic_load_explicit(&fs_lane_chunk(l, tail)->first_pkt,
					     memory_order_relaxed);
		if (gone(l, tail))
			continue;	/* wrapped again while we looked */
		if (lost && first > c->pkt)
			*lost += first - c->pkt;
		c->seq = tail;
		c->off = 0;
		c->pkt = first;
	}
}

void fs_cursor_oldest(struct fs_lane *l, struct fs_cursor *c)
{
	c->seq = 0;
	c->off = 0;
	c->pkt = 0;
	catch_up(l, c, NULL);
}

void fs_cursor_newest(struct fs_lane *l, struct fs_cursor *c)
{
	for (;;) {
		uint64_t head = atomic_load_explicit(&l->head,
						     memory_order_acquire);
		struct fs_chunk *ch = fs_lane_chunk(l, head);
		uint32_t used = atomic_load_explicit(&ch->used,
						     memory_order_acquire);
		uint32_t n = atomic_load_explicit(&ch->npkts,
						  memory_order_relaxed);
		uint64_t first = atomic_load_explicit(&ch->first_pkt,
						      memory_order_relaxed);

		if (atomic_load_explicit(&l->head, memory_order_acquire)
		    != head)
			continue;
		/* npkts is stored before used: re-read it now that used is
		 * known, so both describe the same publish */
		n = atomic_load_explicit(&ch->npkts, memory_order_relaxed);
		if (atomic_load_explicit(&ch->used, memory_order_acquire)
		    != used)
			continue;
		c->seq = head;
		c->off = used;
		c->pkt = first + n;
		return;
	}
}

bool fs_lane_pending(struct fs_lane *l, const struct fs_cursor *c)
{
	return atomic_load_explicit(&l->pkts, memory_order_acquire) > c->pkt;
}

unsigned fs_lane_read(struct fs_lane *l, struct fs_cursor *c, void *buf,
		      size_t len, unsigned max, uint64_t *lost)
{
	uint8_t *out = buf;
	size_t out_used = 0;
	unsigned count = 0;

	while (count < max) {
		uint64_t head;
		struct fs_chunk *ch;
		uint32_t used, off, start;
		unsigned n = 0;

		/* a batch never spans a gap: what was lost lies before it */
		if (count > 0 && c->seq < atomic_load_explicit(&l->tail,
						memory_order_acquire))
			break;
		catch_up(l, c, lost);
		head = atomic_load_explicit(&l->head, memory_order_acquire);
		ch = fs_lane_chunk(l, c->seq);
		used = atomic_load_explicit(&ch->used, memory_order_acquire);
		if (c->off >= used) {
			if (c->seq < head) {
				/* a used below the cursor may be that of the
				 * chunk's next life: then what the cursor had
				 * not read of it is lost, and catch_up counts
				 * it */
				if (gone(l, c->seq))
					continue;
				/* closed and fully read: on to the next */
				c->seq++;
				c->off = 0;
				continue;
			}
			break;
		}
		/* find whole records that fit, reading sizes in place; a size
		 * that makes no sense means the chunk is being reused */
		start = off = c->off;
		while (off < used && count + n < max) {
			const struct fs_pkt_hdr *h = (const void *)(ch->data + off);
			uint32_t sz = FS_REC_SIZE(h->cap_len);

			if (sz > used - off)
				break;
			if (out_used + (off - start) + sz > len)
				break;
			off += sz;
			n++;
		}
		if (n == 0) {
			if (gone(l, c->seq))
				continue;	/* torn: catch up and retry */
			break;			/* buffer full */
		}
		memcpy(out + out_used, ch->data + start, off - start);
		if (gone(l, c->seq))
			continue;	/* discard the copy; catch_up counts it */
		out_used += off - start;
		count += n;
		c->off = off;
		c->pkt += n;
	}
	return count;
}

long fs_lane_copy_chunk(struct fs_lane *l, uint64_t seq, void *buf,
			bool writer_stopped, uint64_t *first_pkt,
			uint32_t *npkts)
{
	struct fs_chunk *ch = fs_lane_chunk(l, seq);
	uint64_t head = atomic_load_explicit(&l->head, memory_order_acquire);
	uint32_t used;

	if (seq > head || (seq == head && !writer_stopped))
		return 0;
	if (gone(l, seq))
		return -1;
	/* head > seq (acquire) makes used, npkts and first_pkt final */
	used = atomic_load_explicit(&ch->used, memory_order_acquire);
	*npkts = atomic_load_explicit(&ch->npkts, memory_order_relaxed);
	*first_pkt = atomic_load_explicit(&ch->first_pkt,
					  memory_order_relaxed);
	if (used > l->data_size)
		return -1;
	memcpy(buf, ch->data, used);
	if (gone(l, seq))
		return -1;
	return used;
}

int fs_lane_read_at(struct fs_lane *l, struct fs_ring_pos pos, void *buf,
		    size_t len)
{
	struct fs_chunk *ch = fs_lane_chunk(l, pos.seq);
	const struct fs_pkt_hdr *h;
	uint32_t used, sz;

	if (pos.seq > atomic_load_explicit(&l->head, memory_order_acquire) ||
	    gone(l, pos.seq))
		return 0;
	used = atomic_load_explicit(&ch->used, memory_order_acquire);
	if (pos.off >= used || used - pos.off < sizeof(*h))
		return 0;
	h = (const void *)(ch->data + pos.off);
	sz = FS_REC_SIZE(h->cap_len);
	if (sz > used - pos.off)
		return 0;	/* torn by a reuse in progress */
	if (sz > len) {
		if (gone(l, pos.seq))
			return 0;
		errno = ENOSPC;
		return -1;
	}
	memcpy(buf, h, sz);
	if (gone(l, pos.seq))
		return 0;
	return (int)sz;
}

void fs_lane_usage(struct fs_lane *l, struct fs_lane_usage *u)
{
	struct fs_cursor c;
	uint64_t pkts, head;

	fs_cursor_oldest(l, &c);
	pkts = atomic_load_explicit(&l->pkts, memory_order_acquire);
	head = atomic_load_explicit(&l->head, memory_order_acquire);
	u->pkts = pkts > c.pkt ? pkts - c.pkt : 0;
	u->dropped_pkts = c.pkt;
	u->bytes = (head - c.seq) * l->data_size +
		atomic_load_explicit(&fs_lane_chunk(l, head)->used,
				     memory_order_relaxed);
	u->oldest_ts = u->pkts ? atomic_load_explicit(
		&fs_lane_chunk(l, c.seq)->first_ts, memory_order_relaxed) : 0;
	u->newest_ts = u->pkts ? atomic_load_explicit(
		&fs_lane_chunk(l, head)->last_ts, memory_order_relaxed) : 0;
	if (u->pkts && u->newest_ts == 0 && head > c.seq)
		u->newest_ts = atomic_load_explicit(
			&fs_lane_chunk(l, head - 1)->last_ts,
			memory_order_relaxed);
}
