/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Expanding a triggered flow's history reference (spool_hist.h): the
 * flow's blocks come from the spool's indexes; each is read whole, its
 * CRC checked, and the flow's packets picked out by their flow key.
 */
#define _GNU_SOURCE
#include "spool_hist.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyzer.h"

#define WAIT_MS 3000	/* for the writer to reach the boundary, at most */

struct fs_spool_hist {
	fs_spool *s;
	struct fs_hist_ref ref;
	uint32_t snap;
	struct fs_spool_blkref *b;
	size_t nb, next;
	int fd;			/* segment fd_seg, or -1 */
	uint64_t fd_seg;
	uint8_t *blk, *out;	/* a block read; the records made of it */
	size_t room;
	uint64_t found;
	bool done;
	struct fs_frag frags[FS_FRAGS];
};

fs_spool_hist *fs_spool_hist_open(fs_spool *s, const struct fs_pkt_hdr *rec,
				  uint32_t snap)
{
	fs_spool_hist *h;

	if (s == NULL || rec->cap_len != sizeof(struct fs_hist_ref) ||
	    !(rec->flags & FS_REC_HIST))
		return NULL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	memcpy(&h->ref, rec + 1, sizeof(h->ref));
	if (h->ref.magic != FS_HIST_MAGIC) {
		free(h);
		return NULL;
	}
	h->s = s;
	h->snap = snap;
	h->fd = -1;
	/* a spool that stopped or fell far behind: what is there counts */
	(void)fs_spool_wait_done(s, h->ref.lane, h->ref.before_seq, WAIT_MS);
	if (fs_spool_flow_blocks(s, h->ref.lane, h->ref.hash, h->ref.first_ts,
				 &h->b, &h->nb) < 0) {
		free(h);
		return NULL;
	}
	return h;
}

/* Read block r whole into h->blk; false when it is gone or damaged. */
static bool read_block(fs_spool_hist *h, const struct fs_spool_blkref *r)
{
	if (h->fd < 0 || h->fd_seg != r->seg) {
		if (h->fd >= 0)
			close(h->fd);
		h->fd = fs_spool_open_segment(h->s, r->seg);
		h->fd_seg = r->seg;
		if (h->fd < 0)
			return false;	/* recycled meanwhile */
	}
	if (r->total > h->room) {
		uint8_t *b = realloc(h->blk, r->total), *o;

		if (b == NULL)
			return false;
		h->blk = b;
		o = realloc(h->out, r->total);
		if (o == NULL)
			return false;
		h->out = o;
		h->room = r->total;
	}
	return pread(h->fd, h->blk, r->total, (off_t)r->off) ==
		(ssize_t)r->total &&
	       fs_spool_check_block(h->blk, r->total, true) != 0;
}

/* The flow's packets of the block in h->blk as records in h->out. */
static size_t pick(fs_spool_hist *h, const struct fs_spool_blk *bh,
		   unsigned *npkts)
{
	size_t p = sizeof(*bh), end = sizeof(*bh) + bh->payload, o = 0;

	while (p + 32 <= end && h->found < h->ref.expect) {
		uint32_t bt, bl, ifid, th, tl, caplen, len, cap;
		struct fs_pkt_info info;
		struct fs_pkt_hdr rec;
		const uint8_t *data = h->blk + p + 28;
		uint64_t ts;

		memcpy(&bt, h->blk + p, 4);
		memcpy(&bl, h->blk + p + 4, 4);
		memcpy(&ifid, h->blk + p + 8, 4);
		memcpy(&th, h->blk + p + 12, 4);
		memcpy(&tl, h->blk + p + 16, 4);
		memcpy(&caplen, h->blk + p + 20, 4);
		memcpy(&len, h->blk + p + 24, 4);
		if (bt != 6 || bl < 32 || caplen > bl - 32 || p + bl > end)
			break;
		p += bl;
		ts = (uint64_t)th << 32 | tl;
		fs_flow_parse(data, caplen, &info);
		if (info.frag_tag != 0)
			fs_frag_fixup(h->frags, &info, ts);
		if (ts < h->ref.first_ts ||
		    memcmp(&info.key, &h->ref.key, sizeof(info.key)) != 0)
			continue;
		cap = caplen < h->snap ? caplen : h->snap;
		if (cap > 65535)
			cap = 65535;
		rec.ts_ns = ts;
		rec.wire_len = len;
		rec.cap_len = (uint16_t)cap;
		rec.source = (uint8_t)ifid;
		rec.flags = 0;
		memcpy(h->out + o, &rec, sizeof(rec));
		memcpy(h->out + o + sizeof(rec), data, cap);
		o += FS_REC_SIZE(cap);
		h->found++;
		(*npkts)++;
	}
	return o;
}

size_t fs_spool_hist_next(fs_spool_hist *h, const uint8_t **recs,
			  unsigned *npkts)
{
	*npkts = 0;
	while (!h->done && h->next < h->nb && h->found < h->ref.expect) {
		const struct fs_spool_blkref *r = &h->b[h->next++];
		struct fs_spool_blk bh;
		size_t n;

		if (!read_block(h, r))
			continue;
		memcpy(&bh, h->blk, sizeof(bh));
		if (bh.lane != h->ref.lane)
			continue;
		/* the RAM ring has the rest, and later blocks are later */
		if (bh.chunk_seq >= h->ref.before_seq)
			break;
		if (bh.last_ts < h->ref.first_ts)
			continue;
		n = pick(h, &bh, npkts);
		if (n > 0) {
			*recs = h->out;
			return n;
		}
	}
	h->done = true;
	return 0;
}

uint64_t fs_spool_hist_missing(const fs_spool_hist *h)
{
	return h->ref.expect > h->found ? h->ref.expect - h->found : 0;
}

void fs_spool_hist_close(fs_spool_hist *h)
{
	if (h == NULL)
		return;
	if (h->fd >= 0)
		close(h->fd);
	free(h->b);
	free(h->blk);
	free(h->out);
	free(h);
}
