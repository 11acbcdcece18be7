/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Expanding a triggered flow's history reference (spool_hist.h). The
 * candidate blocks come from the spool's flow indexes, per recorded lane
 * in order; each is read whole, its CRC checked, and the flow's packets
 * picked out by their flow key. Lanes are merged by time the way the
 * spool= reader merges them (the oldest packet first, the lower lane on
 * a tie), so that a flow read back from a spool= source comes in the
 * order its capture received it.
 */
#define _GNU_SOURCE
#include "spool_hist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyzer.h"

#define WAIT_MS 3000	/* for the writer to reach the boundary, at most */
#define OUT_BYTES (256u << 10)	/* records handed out per call, about */
#define READ_AHEAD 8u	/* blocks asked for ahead, per lane */

/* One recorded lane's candidate blocks and where its reading is. */
struct hlane {
	uint32_t lane;
	struct fs_spool_blkref *b;
	size_t n, next;
	size_t ahead;		/* blocks before it were read ahead */
	int fd;			/* segment fd_seg, or -1 */
	uint64_t fd_seg;
	uint8_t *buf;		/* the block being read */
	size_t room, pos, end;
	bool have, over;	/* a packet of the flow at pos; lane done */
	uint64_t ts;
};

struct fs_spool_hist {
	struct fs_hist_ref ref;
	uint32_t snap;
	int (*open_seg)(void *arg, uint64_t seg);
	void *arg;
	bool own_fds;		/* close what open_seg gave */
	struct fs_spool_blkref *all;
	struct hlane *l;
	unsigned nl;
	uint8_t *out;
	size_t out_room;
	uint64_t found;
	bool started;
	/* every packet, not one flow's (fs_spool_hist_every) */
	bool every;
	void (*release)(void *arg);
	void *release_arg;
	struct fs_frag frags[FS_FRAGS];
};

static int cmp_lane(const void *a, const void *b)
{
	const struct fs_spool_blkref *x = a, *y = b;

	/* by lane, keeping each lane's blocks in their order */
	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

fs_spool_hist *fs_hist_from_blocks(const struct fs_hist_ref *ref,
				   struct fs_spool_blkref *b, size_t n,
				   uint32_t snap,
				   int (*open_seg)(void *arg, uint64_t seg),
				   void *arg, bool own_fds)
{
	fs_spool_hist *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		free(b);
		return NULL;
	}
	h->ref = *ref;
	h->snap = snap;
	h->open_seg = open_seg;
	h->arg = arg;
	h->own_fds = own_fds;
	h->all = b;
	h->out_room = OUT_BYTES + FS_REC_SIZE(65535);
	h->out = malloc(h->out_room);
	for (size_t i = 0; i < n; i++)
		b[i].order = i;
	if (n > 1)
		qsort(b, n, sizeof(*b), cmp_lane);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || b[i].lane != b[i - 1].lane)
			h->nl++;
	h->l = calloc(h->nl + 1, sizeof(*h->l));
	if (h->out == NULL || h->l == NULL) {
		fs_spool_hist_close(h);
		return NULL;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		if (i > 0 && b[i].lane != b[i - 1].lane)
			k++;
		if (h->l[k].b == NULL) {
			h->l[k].b = &b[i];
			h->l[k].lane = b[i].lane;
			h->l[k].fd = -1;
		}
		h->l[k].n++;
	}
	return h;
}

static int open_own(void *arg, uint64_t seg)
{
	return fs_spool_open_segment(arg, seg);
}

fs_spool_hist *fs_spool_hist_open(fs_spool *s, const struct fs_pkt_hdr *rec,
				  uint32_t snap)
{
	struct fs_hist_ref ref;
	struct fs_spool_blkref *v;
	size_t n;

	if (s == NULL || fs_hist_ref_get(rec, &ref) < 0)
		return NULL;
	/* a spool that stopped or fell far behind: what is there counts */
	(void)fs_spool_wait_done(s, ref.lane, ref.before_seq, WAIT_MS);
	if (fs_spool_flow_blocks(s, ref.lane, ref.hash, ref.first_ts, &v,
				 &n) < 0)
		return NULL;
	return fs_hist_from_blocks(&ref, v, n, snap, open_own, s, true);
}

int fs_hist_ref_get(const struct fs_pkt_hdr *rec, struct fs_hist_ref *ref)
{
	if (!(rec->flags & FS_REC_HIST) || rec->cap_len != sizeof(*ref))
		return -1;
	memcpy(ref, rec + 1, sizeof(*ref));
	return ref->magic == FS_HIST_MAGIC ? 0 : -1;
}

/* Read lane x's next candidate block whole into its buffer, positioned
 * at its first EPB; false when the lane has no more. */
static bool load(fs_spool_hist *h, struct hlane *x)
{
	while (x->next < x->n) {
		const struct fs_spool_blkref *r = &x->b[x->next++];
		struct fs_spool_blk bh;

		if (x->fd < 0 || x->fd_seg != r->seg) {
			if (x->fd >= 0 && h->own_fds)
				close(x->fd);
			x->fd = h->open_seg(h->arg, r->seg);
			x->fd_seg = r->seg;
			if (x->fd < 0)
				continue;	/* recycled meanwhile */
		}
		/* the lane's next blocks are fetched while this one is
		 * read and used */
		for (size_t i = x->next; i < x->n && i < x->next + READ_AHEAD; i++)
			if (x->b[i].seg == r->seg && i >= x->ahead) {
				(void)posix_fadvise(x->fd, (off_t)x->b[i].off,
						    (off_t)x->b[i].total,
						    POSIX_FADV_WILLNEED);
				x->ahead = i + 1;
			}
		if (r->total > x->room) {
			uint8_t *nb = realloc(x->buf, r->total);

			if (nb == NULL)
				return false;
			x->buf = nb;
			x->room = r->total;
		}
		if (pread(x->fd, x->buf, r->total, (off_t)r->off) !=
		    (ssize_t)r->total ||
		    fs_spool_check_block(x->buf, r->total, true) == 0)
			continue;
		memcpy(&bh, x->buf, sizeof(bh));
		/* the RAM ring has the rest, and later blocks are later */
		if (bh.lane == h->ref.lane && bh.chunk_seq >= h->ref.before_seq)
			return false;
		if (bh.last_ts < h->ref.first_ts)
			continue;
		x->pos = sizeof(bh);
		x->end = sizeof(bh) + bh.payload;
		return true;
	}
	return false;
}

/* Position lane x at its next packet of the flow (have, ts). */
static void advance(fs_spool_hist *h, struct hlane *x)
{
	x->have = false;
	while (!x->over) {
		while (x->pos < x->end) {
			struct fs_epb e;
			struct fs_pkt_info info;

			if (!fs_spool_epb(x->buf + x->pos, x->end - x->pos, &e)) {
				x->pos = x->end;	/* not an EPB: the rest goes */
				break;
			}
			if (h->every) {
				if (e.ts >= h->ref.first_ts) {
					x->ts = e.ts;
					x->have = true;
					return;
				}
				x->pos += e.len;
				continue;
			}
			fs_flow_parse(e.data, e.caplen, &info);
			if (info.frag_tag != 0)
				fs_frag_fixup(h->frags, &info, e.ts);
			if (e.ts >= h->ref.first_ts &&
			    memcmp(&info.key, &h->ref.key, sizeof(info.key)) == 0) {
				x->ts = e.ts;
				x->have = true;
				return;
			}
			x->pos += e.len;
		}
		if (!load(h, x))
			x->over = true;
	}
}

size_t fs_spool_hist_next(fs_spool_hist *h, const uint8_t **recs,
			  unsigned *npkts)
{
	size_t o = 0;

	*npkts = 0;
	if (!h->started) {
		h->started = true;
		for (unsigned i = 0; i < h->nl; i++)
			advance(h, &h->l[i]);
	}
	while (o < OUT_BYTES && h->found < h->ref.expect) {
		struct hlane *best = NULL;
		struct fs_epb e;
		struct fs_pkt_hdr rec;
		uint32_t cap;

		for (unsigned i = 0; i < h->nl; i++)
			if (h->l[i].have && (best == NULL || h->l[i].ts < best->ts))
				best = &h->l[i];
		if (best == NULL)
			break;
		/* advance() found it whole */
		if (!fs_spool_epb(best->buf + best->pos, best->end - best->pos, &e))
			break;
		cap = e.caplen < h->snap ? e.caplen : h->snap;
		if (cap > 65535)
			cap = 65535;
		rec.ts_ns = e.ts;
		rec.wire_len = e.wirelen;
		rec.cap_len = (uint16_t)cap;
		rec.source = (uint8_t)e.ifid;
		rec.flags = fs_spool_epb_flags(best->buf + best->pos, e.len, e.caplen);
		memcpy(h->out + o, &rec, sizeof(rec));
		memcpy(h->out + o + sizeof(rec), e.data, cap);
		o += FS_REC_SIZE(cap);
		h->found++;
		(*npkts)++;
		best->pos += e.len;
		advance(h, best);
	}
	*recs = h->out;
	return o;
}

uint64_t fs_spool_hist_missing(const fs_spool_hist *h)
{
	if (h->every)
		return 0;
	return h->ref.expect > h->found ? h->ref.expect - h->found : 0;
}

void fs_spool_hist_on_close(fs_spool_hist *h, void (*release)(void *arg),
			    void *arg)
{
	h->release = release;
	h->release_arg = arg;
}

void fs_spool_hist_every(fs_spool_hist *h, void (*release)(void *arg),
			 void *arg)
{
	h->every = true;
	h->ref.expect = UINT64_MAX;
	fs_spool_hist_on_close(h, release, arg);
}

void fs_spool_hist_close(fs_spool_hist *h)
{
	if (h == NULL)
		return;
	for (unsigned i = 0; h->l != NULL && i < h->nl; i++) {
		if (h->l[i].fd >= 0 && h->own_fds)
			close(h->l[i].fd);
		free(h->l[i].buf);
	}
	free(h->l);
	free(h->all);
	free(h->out);
	if (h->release != NULL)
		h->release(h->release_arg);
	free(h);
}
