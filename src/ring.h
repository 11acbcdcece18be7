/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The QQ ring: a queue of inner queues (chunks). Each lane is written by
 * exactly one receive thread; packets are copied once into the lane's
 * current chunk, tightly packed behind a 16-byte header, and stay there
 * until the lane wraps around and gives the oldest chunk up. Readers are
 * cursors: reading (peeking) never removes anything, and a record can be
 * read again at any time through its position while it is in the ring.
 *
 * Concurrency: one writer per lane, any number of readers, no locks.
 * The writer publishes with release stores once per burst; a reader
 * copies records out and then checks that the chunk was not reused
 * meanwhile (seqlock style), so a reader can never hand out torn data.
 */
#ifndef FS_RING_H
#define FS_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header of every packet record; cap_len bytes of packet follow, and the
 * record is padded to FS_REC_ALIGN. */
struct fs_pkt_hdr {
	uint64_t ts_ns;		/* nanoseconds since the epoch */
	uint32_t wire_len;	/* length on the wire */
	uint16_t cap_len;	/* bytes stored */
	uint8_t source;		/* index of the source in the capture */
	uint8_t flags;		/* FS_REC_* bits */
};

/* Record flag: the interface sent the packet (the packet socket's
 * PACKET_OUTGOING); a source that cannot tell leaves it clear. Kept in
 * every copy of the record. (Bit 0 is the analyzer's FS_REC_FIRST.) */
#define FS_REC_OUTGOING 0x02
/* Record flag: past its flow's cutoff (the analyzer sets it in place):
 * delivered live, never kept as history (spool, triggers). */
#define FS_REC_CUT 0x04
/* Record flag: not a packet but where a triggered flow's older packets
 * are on disk (a struct fs_hist_ref, spool_hist.h), in a delivery lane
 * only; readers expand it in its place. */
#define FS_REC_HIST 0x08

#define FS_REC_ALIGN 8u
#define FS_REC_SIZE(cap) \
	((sizeof(struct fs_pkt_hdr) + (uint32_t)(cap) + FS_REC_ALIGN - 1) & \
	 ~(uint32_t)(FS_REC_ALIGN - 1))

/* Random-access address of one record: chunk sequence number and byte
 * offset inside the chunk's data. */
struct fs_ring_pos {
	uint64_t seq;
	uint32_t off;
};

/* Chunk header, at the start of each chunk's memory. */
struct fs_chunk {
	_Atomic uint64_t seq;		/* whose data the chunk holds */
	_Atomic uint32_t used;		/* published bytes of records */
	_Atomic uint32_t npkts;		/* published records */
	_Atomic uint64_t first_pkt;	/* lane packet index of the first record */
	_Atomic uint64_t first_ts;	/* timestamp of the first record */
	_Atomic uint64_t last_ts;	/* timestamp of the last published one */
	/* the ring's tag when the writer started the chunk (a shared
	 * ring's steering generation, share.h); 0 when nothing sets it */
	_Atomic uint32_t tag;
	uint8_t pad[20];
	uint8_t data[];
};

struct fs_lane {
	/* written by the lane's writer, read by everyone */
	_Atomic uint64_t head;		/* seq of the chunk being filled */
	_Atomic uint64_t tail;		/* oldest seq whose data is intact */
	_Atomic uint64_t pkts;		/* records published, ever */
	_Atomic uint64_t bytes;		/* packet bytes published, ever */
	_Atomic uint64_t chunks_dropped;/* chunks given up to wrap around */
	/* writer-private, on a cache line of its own: the writer stores to
	 * it per packet, and readers loading the fields above must not pull
	 * it away from the writer */
	struct fs_chunk *cur __attribute__((aligned(64)));/* being filled */
	uint32_t cur_used, cur_npkts;	/* reserved, published or not */
	uint32_t cur_last;		/* offset of the last reserved record */
	uint32_t pub_npkts;		/* records of cur already published */
	uint64_t wpkts, wbytes;		/* reserved ever */
	_Atomic uint32_t *tag_src;	/* stamped into each new chunk */
	uint32_t cur_tag;		/* what cur was stamped with */
	/* constant; the chunks are found from the lane's own address, so
	 * that another process mapping the ring elsewhere finds them too */
	int64_t mem_off;		/* chunk 0, from this struct */
	uint32_t chunk_size;		/* bytes per chunk, header included */
	uint32_t data_size;		/* chunk_size - header */
	uint32_t nchunks;
	uint32_t index;
} __attribute__((aligned(64)));

typedef struct fs_ring fs_ring;

/*
 * Create a ring of about bytes (rounded down to whole chunks) split evenly
 * over nlanes lanes, able to hold records of up to max_cap bytes of packet.
 * Memory is reserved with mmap and touched lazily.
 * Returns NULL with errno: EINVAL (nlanes 0, max_cap 0 or above 65535, or
 * fewer than 4 chunks per lane would fit), ENOMEM.
 */
fs_ring *fs_ring_create(uint64_t bytes, unsigned nlanes, uint32_t max_cap);

/*
 * The same in memory another process can map (share.h): a sealed memfd,
 * returned in *fd (close-on-exec). Its size cannot change and no mapping
 * made after this call can write it: every other process that is given
 * the descriptor can only read.
 */
fs_ring *fs_ring_create_shared(uint64_t bytes, unsigned nlanes,
			       uint32_t max_cap, int *fd);

/*
 * Map a shared ring's descriptor read-only and check that what it says of
 * itself fits in it (the writer's layout, every lane's chunks inside the
 * mapping, the seals). Returns NULL with err on any mismatch.
 */
fs_ring *fs_ring_attach(int fd, char *err, size_t errlen);

/* Release the ring's memory. No writer or reader may use it any more. */
void fs_ring_free(fs_ring *r);

/* State of a ring as its writer tells readers of other processes. */
enum fs_ring_state {
	FS_RING_RUNNING = 0,
	FS_RING_ENDED = 1,	/* the writer ended and published everything */
};
void fs_ring_set_state(fs_ring *r, enum fs_ring_state st);
enum fs_ring_state fs_ring_state(const fs_ring *r);

/* Room in the ring's mapping for its publisher's own tables (share.c),
 * FS_RING_EXTRA bytes, zeroed; readers of other processes see it. */
#define FS_RING_EXTRA (60u * 1024)
void *fs_ring_extra(fs_ring *r);
/* The word the writers stamp into every chunk they start (fs_chunk.tag). */
_Atomic uint32_t *fs_ring_tag(fs_ring *r);

unsigned fs_ring_lanes(const fs_ring *r);
/* The largest record data it holds (max_cap). */
uint32_t fs_ring_max_cap(const fs_ring *r);
struct fs_lane *fs_ring_lane(fs_ring *r, unsigned i);
/* Bytes of chunk memory (the ring's real capacity). */
uint64_t fs_ring_capacity(const fs_ring *r);

/*
 * Writer: reserve room for one record of cap bytes and return it; the
 * caller fills header and data. The record is invisible to readers until
 * fs_lane_publish(). When the current chunk is full the writer moves to
 * the next one, giving up the oldest chunk if the lane is full; that
 * never fails. cap must not exceed the ring's max_cap.
 * pos (may be NULL) receives the record's address.
 */
static inline struct fs_pkt_hdr *fs_lane_reserve(struct fs_lane *l,
						 uint32_t cap,
						 struct fs_ring_pos *pos);

/* Writer: make every reserved record visible. Call once per burst. */
void fs_lane_publish(struct fs_lane *l);

/* Writer: would moving to a new chunk now give up chunk seq? (Lets a
 * lossless source wait for its slowest reader instead.) */
static inline bool fs_lane_would_drop(const struct fs_lane *l, uint64_t seq,
				      uint32_t cap);

/* Reader position in one lane. */
struct fs_cursor {
	uint64_t seq;
	uint32_t off;
	uint64_t pkt;		/* lane packet index of the next record */
};

/* A cursor at the oldest record still in the lane. */
void fs_cursor_oldest(struct fs_lane *l, struct fs_cursor *c);
/* A cursor at the first record of chunk seq; false (c unchanged) when
 * the lane no longer holds that chunk or has not begun it. */
bool fs_cursor_at(struct fs_lane *l, struct fs_cursor *c, uint64_t seq);
/* A cursor at the first chunk that holds records of ts or later (the
 * chunk being filled when none does); the caller skips the older records
 * in that chunk. */
void fs_cursor_since(struct fs_lane *l, struct fs_cursor *c, uint64_t ts);
/* A cursor after the newest published record. */
void fs_cursor_newest(struct fs_lane *l, struct fs_cursor *c);

/*
 * Reader: copy up to max whole records from the cursor into buf (len
 * bytes), advance the cursor past them and return how many were copied.
 * Records that were given up before the cursor reached them are skipped
 * and their number added to *lost; a batch never spans such a gap (the
 * lost records all come before the first record returned). Returns 0 when nothing is published
 * beyond the cursor (or the next record does not fit in buf).
 * The records in buf are laid out as in the ring: header, data, padding.
 */
unsigned fs_lane_read(struct fs_lane *l, struct fs_cursor *c, void *buf,
		      size_t len, unsigned max, uint64_t *lost);

/* Where a record that fs_lane_read_pos copied is in the lane, and the tag
 * of its chunk. */
struct fs_rec_where {
	struct fs_ring_pos pos;
	uint32_t tag;
};
/* fs_lane_read, and where[k] (max entries) tells where record k was. */
unsigned fs_lane_read_pos(struct fs_lane *l, struct fs_cursor *c, void *buf,
			  size_t len, unsigned max, uint64_t *lost,
			  struct fs_rec_where *where);

/* Reader: is anything published beyond the cursor? */
bool fs_lane_pending(struct fs_lane *l, const struct fs_cursor *c);

/*
 * Random access: copy the record at pos into buf (len bytes).
 * Returns the record size, 0 if it is no longer (or not yet) in the ring,
 * -1 if buf is too small (errno ENOSPC).
 */
int fs_lane_read_at(struct fs_lane *l, struct fs_ring_pos pos, void *buf,
		    size_t len);

/*
 * Copy the records of chunk seq into buf (the lane's data_size bytes):
 * a chunk the writer has closed (seq < head), or with writer_stopped
 * also the one it was filling. *first_pkt receives the lane packet
 * index of its first record, *npkts their number. Returns the bytes
 * copied, 0 when the chunk is not closed yet, -1 when it was given up
 * (before or while it was copied: the copy is then worthless).
 */
long fs_lane_copy_chunk(struct fs_lane *l, uint64_t seq, void *buf,
			bool writer_stopped, uint64_t *first_pkt,
			uint32_t *npkts);

/* What a lane holds now: records, packet bytes, oldest timestamp (0 when
 * empty). Approximate while the writer runs. */
struct fs_lane_usage {
	uint64_t pkts, bytes, oldest_ts, newest_ts, dropped_pkts;
};
void fs_lane_usage(struct fs_lane *l, struct fs_lane_usage *u);

/* ---- inline fast path ---- */

void fs_lane_next_chunk(struct fs_lane *l);

static inline struct fs_chunk *fs_lane_chunk(const struct fs_lane *l,
					     uint64_t seq)
{
	return (struct fs_chunk *)((uintptr_t)l + (uintptr_t)l->mem_off +
		(uintptr_t)(seq % l->nchunks) * l->chunk_size);
}

static inline struct fs_pkt_hdr *fs_lane_reserve(struct fs_lane *l,
						 uint32_t cap,
						 struct fs_ring_pos *pos)
{
	uint32_t sz = FS_REC_SIZE(cap);
	struct fs_pkt_hdr *h;

	if (l->cur_used + sz > l->data_size)
		fs_lane_next_chunk(l);
	if (pos) {
		pos->seq = atomic_load_explicit(&l->head, memory_order_relaxed);
		pos->off = l->cur_used;
	}
	h = (struct fs_pkt_hdr *)(l->cur->data + l->cur_used);
	l->cur_last = l->cur_used;
	l->cur_used += sz;
	l->cur_npkts++;
	l->wpkts++;
	l->wbytes += cap;
	return h;
}

/*
 * Writer: room for n records (n >= 1) of bytes in all, the last of them
 * last_sz bytes, holding caps bytes of packets, in the current chunk; NULL
 * when they do not fit there (then reserve them one at a time). The
 * records go one after the other from the address returned, and are
 * invisible to readers until fs_lane_publish().
 */
static inline uint8_t *fs_lane_reserve_burst(struct fs_lane *l, uint32_t bytes,
					     uint32_t last_sz, unsigned n,
					     uint64_t caps)
{
	uint8_t *p;

	if (l->cur_used + bytes > l->data_size)
		return NULL;
	p = l->cur->data + l->cur_used;
	l->cur_last = l->cur_used + bytes - last_sz;
	l->cur_used += bytes;
	l->cur_npkts += n;
	l->wpkts += n;
	l->wbytes += caps;
	return p;
}

/* Writer: did the ring's tag change since the current chunk began? Then
 * the writer starts a new chunk (fs_lane_retag) before it publishes more,
 * so readers of other processes learn of the change by the next record. */
static inline bool fs_lane_tag_moved(const struct fs_lane *l)
{
	return l->tag_src != NULL &&
		atomic_load_explicit(l->tag_src, memory_order_relaxed) !=
		l->cur_tag;
}

/* Writer: take the new tag into the current chunk when it holds no record
 * yet (true), else the caller must start a new chunk (false). */
bool fs_lane_retag_empty(struct fs_lane *l);

static inline bool fs_lane_would_drop(const struct fs_lane *l, uint64_t seq,
				      uint32_t cap)
{
	uint64_t head = atomic_load_explicit(&l->head, memory_order_relaxed);

	if (l->cur_used + FS_REC_SIZE(cap) <= l->data_size)
		return false;
	/* the next chunk is head + 1; it replaces head + 1 - nchunks */
	return head + 1 >= l->nchunks && head + 1 - l->nchunks >= seq;
}

#endif
