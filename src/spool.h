/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The spool: what the RAM ring gives up, kept on disk first (DESIGN §6).
 *
 * One thread follows every lane of the ring and writes each chunk the
 * receive thread has closed (and the analysis has passed) as one spool
 * block: a block header of ours, the chunk's packets as pcapng Enhanced
 * Packet Blocks (nanosecond timestamps, one interface per source), and a
 * padding block up to the next 4 KiB, so that blocks can be written with
 * O_DIRECT and found again after a crash. A segment file is a pcapng
 * section: standard tools (tcpdump -r, capinfos, Wireshark) read it and
 * skip our blocks, whose types are of pcapng's local-use range.
 *
 * The receive path never waits for the spool and makes no system call
 * for it: a chunk the ring gave up before the spool wrote it is counted
 * (spool_dropped). Lossless sources (file=) wait for it instead, through
 * the sink's spool_seq (rx.c).
 *
 * The directory holds seg-NNNNNNNNNNNNNNNN.pcapng files (NNN: hex, in
 * order), a lock (spool.lock, held with flock while a capture writes),
 * and nothing else of ours. Oldest segments go first to stay within
 * spool_size. A segment the last writer did not close (it was killed)
 * is cut back to its last complete block when the spool is opened again;
 * everything before it stays.
 */
#ifndef FS_SPOOL_H
#define FS_SPOOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"
#include "privsep.h"
#include "ring.h"

/* pcapng block types of ours (local use: the top bit set). */
#define FS_SPOOL_BT_BLOCK 0x80f50001u	/* block header, below */
#define FS_SPOOL_BT_PAD 0x80f50000u	/* padding to the alignment */
#define FS_SPOOL_MAGIC 0x31425346u	/* "FSB1" */
#define FS_SPOOL_ALIGN 4096u
#define FS_SPOOL_HDR_MAX (64u << 10)	/* a segment's header, at most */

/* Header of one spool block (a pcapng block of its own, host order). The
 * EPBs of payload bytes follow it, then a padding block. */
struct fs_spool_blk {
	uint32_t type;		/* FS_SPOOL_BT_BLOCK */
	uint32_t len;		/* sizeof(struct fs_spool_blk) */
	uint32_t magic;		/* FS_SPOOL_MAGIC */
	uint32_t lane;
	uint64_t chunk_seq;	/* the lane's chunk it was */
	uint64_t first_pkt;	/* lane packet index of the chunk's first
				 * record (packets past their flow's cutoff
				 * are left out, so the block's may be later) */
	uint64_t first_ts, last_ts;
	uint32_t npkts;		/* EPBs in the block */
	uint32_t payload;	/* bytes of EPBs after this header */
	uint32_t total;		/* bytes of the whole block, padding included */
	uint32_t crc;		/* CRC-32C of the payload */
	uint32_t hcrc;		/* CRC-32C of this header up to here */
	uint32_t len2;		/* sizeof(struct fs_spool_blk) again */
};

typedef struct fs_spool fs_spool;

struct fs_spool_params {
	const char *dir;
	uint64_t size;			/* bound on disk use */
	unsigned nsources;
	const char *const *source_names;	/* for the interface blocks */
	uint32_t snaplen;
	fs_ring *ring;
	/* the analysis cursor's chunk per lane: only chunks before it are
	 * written (the analyzer marks records first); NULL: no such bound */
	_Atomic uint64_t *const *analyzed_seq;
	/* where the spool publishes the next chunk it will write, per lane
	 * (lossless sources wait on it) */
	_Atomic uint64_t *spool_seq;
	/* creates and removes the spool's files once the application has
	 * given up root; NULL: the process does it itself */
	fs_privsep *ps;
};

/*
 * Open (and recover) the spool directory, take its lock. Errors name the
 * key: "spool_dir: ..." (not a directory, missing, not writable, open for
 * writing by another capture, open to other users). Returns NULL with
 * err set.
 */
fs_spool *fs_spool_open(const struct fs_spool_params *p, char *err,
			size_t errlen);

/* Start the writing thread. Returns 0 or -1 with err. */
int fs_spool_start(fs_spool *s, char *err, size_t errlen);

/* The receive threads have stopped: stop the thread, write what is
 * left, including the chunks they were filling, and close the segment
 * (the counters then hold everything). NULL is fine. */
void fs_spool_finish(fs_spool *s);

/* fs_spool_finish if it was not, then release the lock and free s.
 * NULL is fine. */
void fs_spool_close(fs_spool *s);

struct fs_spool_stats {
	uint64_t bytes;			/* disk use now */
	uint64_t limit;			/* spool_size */
	uint64_t segments;
	uint64_t written;		/* bytes written, ever */
	uint64_t write_rate;		/* bytes/s over the last second */
	uint64_t packets;		/* packets written, ever */
	uint64_t dropped;		/* packets the ring gave up unwritten */
	uint64_t errors;		/* failed writes (their packets are in
					 * dropped) */
	uint64_t oldest_ts, newest_ts;	/* ns; 0: empty */
};

/* Any thread. */
void fs_spool_stats(fs_spool *s, struct fs_spool_stats *st);

/* ---- a flow's history back from the spool (spool_hist.c) ---- */

/* One block that may hold a flow's packets. */
struct fs_spool_blkref {
	uint64_t seg;		/* segment number */
	uint64_t off;		/* in the segment */
	uint32_t total;		/* bytes */
	uint32_t lane;
	uint64_t order;		/* (the history iterator's) */
};

/* Wait (up to timeout_ms) until every chunk of lane before seq is on
 * disk or counted dropped; asks the writer to write what it holds.
 * Returns 0, or -1 when the time ran out. */
int fs_spool_wait_done(fs_spool *s, unsigned lane, uint64_t seq,
		       int timeout_ms);

/*
 * The blocks of lane, oldest first, that may hold packets of the flow of
 * hash (its fs_flow_hash) at or after since, from the segments' indexes
 * (the open segment's in memory; a closed one without an index is read
 * to rebuild it). *out is malloc'ed (free it), *n its entries. Returns
 * 0, or -1 on ENOMEM.
 */
int fs_spool_flow_blocks(fs_spool *s, unsigned lane, uint32_t hash,
			 uint64_t since, struct fs_spool_blkref **out,
			 size_t *n);

/* A read-only descriptor of segment num (through the privileged helper
 * when there is one), or -1 with errno (ENOENT: removed meanwhile). */
int fs_spool_open_segment(fs_spool *s, uint64_t num);

/* ---- segment format, shared with the reader and the tests ---- */

/* Write the section header and one interface block per source into buf
 * (room for at least FS_SPOOL_ALIGN bytes... see the .c), padded to
 * FS_SPOOL_ALIGN. Returns its length, or 0 when it does not fit. */
size_t fs_spool_format_header(uint8_t *buf, size_t room, unsigned nsources,
			      const char *const *names, uint32_t snaplen);

/*
 * Turn the records of one chunk (rec, len bytes, as the ring lays them
 * out) into a spool block in out (room bytes). Returns the block's total
 * length (a multiple of FS_SPOOL_ALIGN), or 0 when it does not fit or a
 * record makes no sense. FS_SPOOL_BLOCK_ROOM(len) is always enough.
 */
#define FS_SPOOL_BLOCK_ROOM(len) \
	(3 * (size_t)(len) + sizeof(struct fs_spool_blk) + 2 * FS_SPOOL_ALIGN)

/* One Enhanced Packet Block of a spool block, as readers take it. */
struct fs_epb {
	uint32_t len;		/* of the whole EPB */
	uint32_t ifid;		/* the source's interface */
	uint32_t caplen, wirelen;
	uint64_t ts;		/* ns since the epoch */
	const uint8_t *data;	/* caplen bytes */
};

/* The EPB at p, room bytes before the end of its block's EPBs: true when
 * it is a whole one, then in *e. */
static inline bool fs_spool_epb(const uint8_t *p, size_t room,
				struct fs_epb *e)
{
	uint32_t bt, th, tl;

	if (room < 32)
		return false;
	memcpy(&bt, p, 4);
	memcpy(&e->len, p + 4, 4);
	memcpy(&e->ifid, p + 8, 4);
	memcpy(&th, p + 12, 4);
	memcpy(&tl, p + 16, 4);
	memcpy(&e->caplen, p + 20, 4);
	memcpy(&e->wirelen, p + 24, 4);
	if (bt != 6 || e->len < 32 || e->caplen > e->len - 32 || e->len > room)
		return false;
	e->ts = (uint64_t)th << 32 | tl;
	e->data = p + 28;
	return true;
}

/* The EPB option of a packet the interface sent: epb_flags, outbound. */
#define FS_EPB_FLAGS 2u
#define FS_EPB_OUTBOUND 2u

/* The record flags an EPB (bl bytes, caplen of packet) stands for:
 * FS_REC_OUTGOING when its epb_flags say outbound. */
static inline uint8_t fs_spool_epb_flags(const uint8_t *epb, uint32_t bl,
					 uint32_t caplen)
{
	size_t p = 28 + (((size_t)caplen + 3) & ~(size_t)3);

	while (p + 4 <= (size_t)bl - 4) {
		uint16_t code, olen;
		uint32_t v;

		memcpy(&code, epb + p, 2);
		memcpy(&olen, epb + p + 2, 2);
		if (code == 0 || p + 4 + olen > (size_t)bl - 4)
			break;
		if (code == FS_EPB_FLAGS && olen == 4) {
			memcpy(&v, epb + p + 4, 4);
			return (v & 3u) == FS_EPB_OUTBOUND ? FS_REC_OUTGOING : 0;
		}
		p += 4 + (((size_t)olen + 3) & ~(size_t)3);
	}
	return 0;
}
size_t fs_spool_format_block(uint8_t *out, size_t room, const uint8_t *rec,
			     size_t len, unsigned lane, uint64_t chunk_seq,
			     uint64_t first_pkt, uint32_t npkts);

/* Where the header of segment fd (size bytes: its section header and
 * interface blocks, ending with our padding block) ends; 0 when the file
 * does not start with a whole one. */
uint64_t fs_spool_header_end(int fd, uint64_t size);

/*
 * Is buf (len bytes, at a block boundary) the start of a complete, intact
 * spool block? Returns its total length or 0. Only the header is looked
 * at when payload is false; with it, len must hold the whole block and
 * the payload's CRC is checked too.
 */
size_t fs_spool_check_block(const uint8_t *buf, size_t len, bool payload);

#endif
