/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The QQ ring (see ring.h): lanes of fixed-size chunks, one writer per
 * lane, lock-free readers that validate what they copied.
 */
#define _GNU_SOURCE
#include "ring.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * One mapping holds a ring: a header page (geometry, state, the
 * publisher's tables), the lanes, then the chunks of every lane. A lane
 * finds its chunks by an offset from itself, so a process that maps a
 * shared ring at another address reads it with the same code.
 */
#define RING_MAGIC 0x4753514651515346ull	/* "FSQQFQSG" */
#define RING_VERSION 1u
#define HDR_BYTES (64u * 1024)

struct ring_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t nlanes;
	uint32_t max_cap;
	uint32_t lane_size;	/* sizeof(struct fs_lane) of the writer */
	uint32_t chunk_hdr;	/* sizeof(struct fs_chunk) of the writer */
	uint32_t hdr_bytes;
	uint64_t lanes_off;	/* from the start of the mapping */
	uint64_t map_len;
	_Atomic uint32_t state;
	_Atomic uint32_t tag;
	uint8_t pad[64 - 48];
	uint8_t extra[];	/* FS_RING_EXTRA bytes */
};
_Static_assert(sizeof(struct ring_hdr) + FS_RING_EXTRA <= HDR_BYTES,
	       "the header page holds the extra room");
_Static_assert(sizeof(struct fs_chunk) == 64, "a chunk header is a line");

struct fs_ring {
	uint8_t *mem;		/* the whole mapping */
	size_t mem_len;
	unsigned nlanes;
	uint32_t max_cap;
	struct ring_hdr *hdr;
	struct fs_lane *lanes;
	bool readonly;		/* attached: another process writes it */
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
	l->cur_tag = l->tag_src == NULL ? 0 :
		atomic_load_explicit(l->tag_src, memory_order_acquire);
	atomic_store_explicit(&c->tag, l->cur_tag, memory_order_relaxed);
	l->cur = c;
	l->cur_used = 0;
	l->cur_npkts = 0;
	l->pub_npkts = 0;
	l->cur_last = 0;
}

static size_t lanes_bytes(unsigned nlanes)
{
	return ((size_t)nlanes * sizeof(struct fs_lane) + 4095) & ~(size_t)4095;
}

/* Chunk size and count per lane for bytes over nlanes; false: too few. */
static bool geometry(uint64_t bytes, unsigned nlanes, uint32_t max_cap,
		     uint32_t *cs_out, uint32_t *n_out)
{
	uint64_t lane_bytes;
	uint32_t cs;

	if (nlanes == 0 || max_cap == 0 || max_cap > 65535)
		return false;
	lane_bytes = bytes / nlanes;
	cs = CHUNK_MAX;
	while (cs > CHUNK_MIN && lane_bytes / cs < CHUNKS_WANTED)
		cs /= 2;
	while (cs - sizeof(struct fs_chunk) < FS_REC_SIZE(max_cap))
		cs *= 2;
	if (lane_bytes / cs < CHUNKS_MIN || lane_bytes / cs > UINT32_MAX)
		return false;
	*cs_out = cs;
	*n_out = (uint32_t)(lane_bytes / cs);
	return true;
}

/* Lay a new ring out in mem (len bytes, zeroed). */
static fs_ring *lay_out(uint8_t *mem, size_t len, unsigned nlanes,
			uint32_t max_cap, uint32_t cs, uint32_t n)
{
	fs_ring *r = calloc(1, sizeof(*r));
	uint8_t *chunks = mem + HDR_BYTES + lanes_bytes(nlanes);

	if (r == NULL)
		return NULL;
	r->mem = mem;
	r->mem_len = len;
	r->nlanes = nlanes;
	r->max_cap = max_cap;
	r->hdr = (struct ring_hdr *)mem;
	r->lanes = (struct fs_lane *)(mem + HDR_BYTES);
	r->hdr->magic = RING_MAGIC;
	r->hdr->version = RING_VERSION;
	r->hdr->nlanes = nlanes;
	r->hdr->max_cap = max_cap;
	r->hdr->lane_size = sizeof(struct fs_lane);
	r->hdr->chunk_hdr = sizeof(struct fs_chunk);
	r->hdr->hdr_bytes = HDR_BYTES;
	r->hdr->lanes_off = HDR_BYTES;
	r->hdr->map_len = len;
	for (unsigned i = 0; i < nlanes; i++) {
		struct fs_lane *l = &r->lanes[i];

		l->mem_off = (int64_t)((chunks + (size_t)cs * n * i) -
				       (uint8_t *)l);
		l->chunk_size = cs;
		l->data_size = cs - (uint32_t)sizeof(struct fs_chunk);
		l->nchunks = n;
		l->index = i;
		l->tag_src = &r->hdr->tag;
		chunk_start(l, 0);
	}
	return r;
}

static size_t ring_len(unsigned nlanes, uint32_t cs, uint32_t n)
{
	return HDR_BYTES + lanes_bytes(nlanes) + (size_t)cs * n * nlanes;
}

fs_ring *fs_ring_create(uint64_t bytes, unsigned nlanes, uint32_t max_cap)
{
	uint32_t cs, n;
	size_t len;
	uint8_t *mem;
	fs_ring *r;

	if (!geometry(bytes, nlanes, max_cap, &cs, &n)) {
		errno = EINVAL;
		return NULL;
	}
	len = ring_len(nlanes, cs, n);
	mem = fs_map_resident(len);
	if (mem == NULL)
		return NULL;
	r = lay_out(mem, len, nlanes, max_cap, cs, n);
	if (r == NULL) {
		munmap(mem, len);
		errno = ENOMEM;
	}
	return r;
}

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

fs_ring *fs_ring_create_shared(uint64_t bytes, unsigned nlanes,
			       uint32_t max_cap, int *fd_out)
{
	uint32_t cs, n;
	size_t len;
	uint8_t *mem;
	fs_ring *r;
	int fd, e;

	if (!geometry(bytes, nlanes, max_cap, &cs, &n)) {
		errno = EINVAL;
		return NULL;
	}
	len = ring_len(nlanes, cs, n);
	fd = memfd_create("flowscope-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)len) != 0)
		goto fail;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		goto fail;
	(void)madvise(mem, len, MADV_HUGEPAGE);
	(void)madvise(mem, len, MADV_DONTFORK);
	if (madvise(mem, len, MADV_POPULATE_WRITE) != 0 && errno != EINVAL) {
		e = errno == EFAULT || errno == EAGAIN ? ENOMEM : errno;
		munmap(mem, len);
		close(fd);
		errno = e;
		return NULL;
	}
	/* from here on only this mapping writes it */
	if (fcntl(fd, F_ADD_SEALS, SEALS) != 0) {
		e = errno;
		munmap(mem, len);
		close(fd);
		errno = e;
		return NULL;
	}
	r = lay_out(mem, len, nlanes, max_cap, cs, n);
	if (r == NULL) {
		munmap(mem, len);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	*fd_out = fd;
	return r;
fail:
	e = errno;
	close(fd);
	errno = e;
	return NULL;
}

static fs_ring *bad(char *err, size_t errlen, const char *why, void *mem,
		    size_t len)
{
	snprintf(err, errlen, "the shared ring is not one this library can "
		 "read: %s", why);
	if (mem != NULL)
		munmap(mem, len);
	errno = EPROTO;
	return NULL;
}

fs_ring *fs_ring_attach(int fd, char *err, size_t errlen)
{
	struct stat st;
	const struct ring_hdr *h;
	uint8_t *mem;
	size_t len;
	fs_ring *r;
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE)) !=
	    (F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE))
		return bad(err, errlen, "not sealed against shrinking and "
			   "writing", NULL, 0);
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)HDR_BYTES)
		return bad(err, errlen, "too small", NULL, 0);
	len = (size_t)st.st_size;
	mem = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the shared ring: %s",
			 strerror(errno));
		return NULL;
	}
	(void)madvise(mem, len, MADV_DONTFORK);
	h = (const struct ring_hdr *)mem;
	if (h->magic != RING_MAGIC || h->version != RING_VERSION)
		return bad(err, errlen, "another version", mem, len);
	if (h->lane_size != sizeof(struct fs_lane) ||
	    h->chunk_hdr != sizeof(struct fs_chunk) ||
	    h->hdr_bytes != HDR_BYTES || h->lanes_off != HDR_BYTES ||
	    h->map_len != len || h->nlanes == 0 || h->nlanes > 4096 ||
	    h->max_cap == 0 || h->max_cap > 65535 ||
	    HDR_BYTES + lanes_bytes(h->nlanes) > len)
		return bad(err, errlen, "its layout", mem, len);
	for (unsigned i = 0; i < h->nlanes; i++) {
		const struct fs_lane *l = (const struct fs_lane *)
			(mem + HDR_BYTES) + i;
		int64_t lo = (int64_t)((const uint8_t *)l - mem) + l->mem_off;

		if (l->chunk_size < sizeof(struct fs_chunk) +
		    FS_REC_SIZE(h->max_cap) || l->chunk_size % 64 != 0 ||
		    l->data_size != l->chunk_size - sizeof(struct fs_chunk) ||
		    l->nchunks < CHUNKS_MIN || l->index != i || lo < 0 ||
		    (uint64_t)lo + (uint64_t)l->chunk_size * l->nchunks > len)
			return bad(err, errlen, "a lane outside it", mem, len);
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		munmap(mem, len);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->mem = mem;
	r->mem_len = len;
	r->nlanes = h->nlanes;
	r->max_cap = h->max_cap;
	r->hdr = (struct ring_hdr *)mem;
	r->lanes = (struct fs_lane *)(mem + HDR_BYTES);
	r->readonly = true;
	return r;
}

void fs_ring_free(fs_ring *r)
{
	if (r == NULL)
		return;
	munmap(r->mem, r->mem_len);
	free(r);
}

void fs_ring_set_state(fs_ring *r, enum fs_ring_state st)
{
	if (!r->readonly)
		atomic_store_explicit(&r->hdr->state, (uint32_t)st,
				      memory_order_release);
}

enum fs_ring_state fs_ring_state(const fs_ring *r)
{
	return (enum fs_ring_state)atomic_load_explicit(&r->hdr->state,
							memory_order_acquire);
}

void *fs_ring_extra(fs_ring *r)
{
	return r->hdr->extra;
}

_Atomic uint32_t *fs_ring_tag(fs_ring *r)
{
	return &r->hdr->tag;
}

unsigned fs_ring_lanes(const fs_ring *r)
{
	return r->nlanes;
}

uint32_t fs_ring_max_cap(const fs_ring *r)
{
	return r->max_cap;
}

struct fs_lane *fs_ring_lane(fs_ring *r, unsigned i)
{
	return i < r->nlanes ? &r->lanes[i] : NULL;
}

uint64_t fs_ring_capacity(const fs_ring *r)
{
	const struct fs_lane *l = &r->lanes[0];

	return (uint64_t)l->chunk_size * l->nchunks * r->nlanes;
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

bool fs_lane_retag_empty(struct fs_lane *l)
{
	if (l->cur_npkts != 0)
		return false;
	l->cur_tag = atomic_load_explicit(l->tag_src, memory_order_acquire);
	/* readers take a chunk's tag only with records, published after */
	atomic_store_explicit(&l->cur->tag, l->cur_tag, memory_order_relaxed);
	return true;
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

bool fs_cursor_at(struct fs_lane *l, struct fs_cursor *c, uint64_t seq)
{
	uint64_t head = atomic_load_explicit(&l->head, memory_order_acquire);
	uint64_t first;

	if (seq > head || gone(l, seq))
		return false;
	first = atomic_load_explicit(&fs_lane_chunk(l, seq)->first_pkt,
				     memory_order_relaxed);
	/* given up while we read it: first may be the next data's */
	if (gone(l, seq))
		return false;
	c->seq = seq;
	c->off = 0;
	c->pkt = first;
	return true;
}

void fs_cursor_since(struct fs_lane *l, struct fs_cursor *c, uint64_t ts)
{
	uint64_t head = atomic_load_explicit(&l->head, memory_order_acquire);

	fs_cursor_oldest(l, c);
	/* closed chunks whose newest record is older than ts are stepped
	 * over whole; a chunk given up while we look moves us to the tail */
	while (c->seq < head) {
		struct fs_chunk *ch = fs_lane_chunk(l, c->seq);
		uint64_t last = atomic_load_explicit(&ch->last_ts,
						     memory_order_acquire);
		uint32_t n = atomic_load_explicit(&ch->npkts,
						  memory_order_relaxed);

		if (gone(l, c->seq)) {
			fs_cursor_oldest(l, c);
			continue;
		}
		if (last >= ts)
			return;
		c->seq++;
		c->off = 0;
		c->pkt += n;
	}
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
	return fs_lane_read_pos(l, c, buf, len, max, lost, NULL);
}

unsigned fs_lane_read_pos(struct fs_lane *l, struct fs_cursor *c, void *buf,
			  size_t len, unsigned max, uint64_t *lost,
			  struct fs_rec_where *where)
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
		/* only a chunk's next life can say more than it holds */
		if (used > l->data_size) {
			if (gone(l, c->seq))
				continue;
			break;
		}
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
		if (where != NULL) {
			uint32_t tag = atomic_load_explicit(&ch->tag,
						memory_order_relaxed);
			uint32_t o = start;

			for (unsigned k = 0; k < n; k++) {
				const struct fs_pkt_hdr *h = (const void *)
					(out + out_used + (o - start));

				where[count + k].pos.seq = c->seq;
				where[count + k].pos.off = o;
				where[count + k].tag = tag;
				o += FS_REC_SIZE(h->cap_len);
			}
		}
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
