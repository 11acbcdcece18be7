/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The spool's writer: segment files of spool blocks, the lock, recovery
 * of a segment cut short, removal of the oldest segments (spool.h).
 */
#define _GNU_SOURCE
#include "spool.h"
#include "thread.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <signal.h>

#include <rte_hash_crc.h>

#include "spool_index.h"

#define SEG_PREFIX "seg-"
#define SEG_SUFFIX ".pcapng"
#define SEG_NAME_LEN (sizeof(SEG_PREFIX) - 1 + 16 + sizeof(SEG_SUFFIX) - 1)
#define LOCK_NAME "spool.lock"
#define WRITE_BYTES (4u << 20)	/* one write, at most */
#define SEG_MIN (4ull << 20)
#define SEG_MAX (1ull << 30)
#define IDLE_NS 2000000L	/* nothing to write: look again after */
#define HDR_ROOM FS_SPOOL_HDR_MAX	/* a segment's header, at most */

/* One segment on disk, oldest first in the list. */
struct seg {
	uint64_t num;
	uint64_t bytes;
	uint64_t first_ts, last_ts;
};

struct lane_state {
	uint64_t next_seq;	/* chunk to write next */
	uint64_t next_pkt;	/* lane packet index expected next */
};

struct fs_spool {
	int dfd;		/* the directory */
	fs_privsep *ps;		/* creates and removes files, or NULL */
	int lock_fd;
	char dir[4096];
	uint64_t limit, seg_size;
	unsigned nsources;
	char **names;
	uint32_t snaplen;
	fs_ring *ring;
	unsigned nlanes;
	_Atomic uint64_t *const *analyzed_seq;
	_Atomic uint64_t *spool_seq;
	/* per lane: every chunk before it is on disk, or was counted
	 * dropped (what a flow's history waits for) */
	_Atomic uint64_t *done_seq;
	_Atomic bool flush_now;	/* a reader waits: write what is placed */
	struct lane_state *lanes;
	bool direct;		/* O_DIRECT works on this file system */
	bool told;		/* the lack of rights was reported */

	/* segments: seg[0] oldest; the last one is being written when fd
	 * is open */
	struct seg *seg;
	size_t nseg, segcap;
	uint64_t next_num;
	int fd;
	uint64_t off;		/* of the open segment: bytes written */
	struct fs_spool_index idx;	/* of the open segment (changed and
					 * looked up under lock) */
	bool idx_live;		/* idx is the open segment's (under lock) */
	bool idx_bad;		/* out of memory while building it */
	uint32_t idx_flushed;	/* its blocks already on disk */
	uint64_t disk;		/* bytes of every segment */

	uint8_t *hdr;		/* a segment's header, aligned */
	uint8_t *chunk;		/* one chunk's records */
	uint8_t *buf;		/* blocks waiting to be written, aligned */
	size_t buf_len, buf_room;
	uint64_t buf_pkts, buf_first_ts, buf_last_ts;

	pthread_t thread;
	bool started;
	_Atomic bool stop;
	pthread_mutex_t lock;	/* the fields stats reads that the thread
				 * changes in several steps */

	/* counters */
	_Atomic uint64_t written, packets, dropped, errors;
	_Atomic uint64_t rate;
	uint64_t rate_t0, rate_b0;
};

/* ---- the pcapng format ---- */

static inline size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
	return p + 2;
}

/* An option: code, length, value padded to 4 bytes. */
static uint8_t *put_opt(uint8_t *p, uint16_t code, const void *v,
			uint16_t len)
{
	p = put16(p, code);
	p = put16(p, len);
	memcpy(p, v, len);
	memset(p + len, 0, pad4(len) - len);
	return p + pad4(len);
}

/* A padding block of n bytes (n >= 12, a multiple of 4). */
static void put_pad(uint8_t *p, size_t n)
{
	put32(p, FS_SPOOL_BT_PAD);
	put32(p + 4, (uint32_t)n);
	memset(p + 8, 0, n - 12);
	put32(p + n - 4, (uint32_t)n);
}

/* Bytes to add to len so that it ends on the alignment with room for a
 * padding block (at least 12 bytes). */
static size_t pad_to_align(size_t len)
{
	size_t n = FS_SPOOL_ALIGN - len % FS_SPOOL_ALIGN;

	if (n < 12)
		n += FS_SPOOL_ALIGN;
	return n;
}

size_t fs_spool_format_header(uint8_t *buf, size_t room, unsigned nsources,
			      const char *const *names, uint32_t snaplen)
{
	static const char app[] = "flowscope";
	uint8_t *p = buf, *start;
	size_t need = 64, len, n;
	uint8_t tsresol = 9;

	for (unsigned i = 0; i < nsources; i++)
		need += 48 + pad4(strnlen(names[i], 256));
	if (need + 2 * FS_SPOOL_ALIGN > room)
		return 0;
	/* section header: byte-order magic, version 1.0, unknown length */
	start = p;
	p = put32(p, 0x0a0d0d0au);
	p += 4;
	p = put32(p, 0x1a2b3c4du);
	p = put16(p, 1);
	p = put16(p, 0);
	p = put32(p, 0xffffffffu);
	p = put32(p, 0xffffffffu);
	p = put_opt(p, 4, app, sizeof(app) - 1);	/* shb_userappl */
	p = put32(p, 0);				/* opt_endofopt */
	len = (size_t)(p - start) + 4;
	put32(start + 4, (uint32_t)len);
	p = put32(p, (uint32_t)len);
	for (unsigned i = 0; i < nsources; i++) {
		size_t nl = strnlen(names[i], 256);

		start = p;
		p = put32(p, 1);
		p += 4;
		p = put16(p, 1);		/* LINKTYPE_ETHERNET */
		p = put16(p, 0);
		p = put32(p, snaplen);
		p = put_opt(p, 2, names[i], (uint16_t)nl);	/* if_name */
		p = put_opt(p, 9, &tsresol, 1);			/* if_tsresol */
		p = put32(p, 0);
		len = (size_t)(p - start) + 4;
		put32(start + 4, (uint32_t)len);
		p = put32(p, (uint32_t)len);
	}
	len = (size_t)(p - buf);
	n = pad_to_align(len);
	put_pad(p, n);
	return len + n;
}

size_t fs_spool_format_block(uint8_t *out, size_t room, const uint8_t *rec,
			     size_t len, unsigned lane, uint64_t chunk_seq,
			     uint64_t first_pkt, uint32_t npkts)
{
	struct fs_spool_blk h;
	uint8_t *p = out + sizeof(h), *payload = p;
	size_t off = 0, total, n;
	uint32_t count = 0, skipped = 0;
	uint64_t first_ts = 0, last_ts = 0;

	if (room < FS_SPOOL_BLOCK_ROOM(len))
		return 0;
	while (off < len) {
		struct fs_pkt_hdr ph;
		size_t sz, epb;
		bool out;

		if (len - off < sizeof(ph))
			return 0;
		memcpy(&ph, rec + off, sizeof(ph));
		sz = FS_REC_SIZE(ph.cap_len);
		if (sz > len - off || ph.cap_len > ph.wire_len)
			return 0;
		if (ph.flags & FS_REC_CUT) {
			/* past its flow's cutoff: not history */
			off += sz;
			skipped++;
			continue;
		}
		/* a packet the interface sent says so (epb_flags:
		 * outbound); the others cannot tell inbound from unknown */
		out = (ph.flags & FS_REC_OUTGOING) != 0;
		epb = 32 + pad4(ph.cap_len) + (out ? 12 : 0);
		p = put32(p, 6);
		p = put32(p, (uint32_t)epb);
		p = put32(p, ph.source);
		p = put32(p, (uint32_t)(ph.ts_ns >> 32));
		p = put32(p, (uint32_t)ph.ts_ns);
		p = put32(p, ph.cap_len);
		p = put32(p, ph.wire_len);
		memcpy(p, rec + off + sizeof(ph), ph.cap_len);
		memset(p + ph.cap_len, 0, pad4(ph.cap_len) - ph.cap_len);
		p += pad4(ph.cap_len);
		if (out) {
			p = put16(p, FS_EPB_FLAGS);
			p = put16(p, 4);
			p = put32(p, FS_EPB_OUTBOUND);
			p = put32(p, 0);	/* opt_endofopt */
		}
		p = put32(p, (uint32_t)epb);
		if (count == 0)
			first_ts = ph.ts_ns;
		last_ts = ph.ts_ns;
		count++;
		off += sz;
	}
	if (count + skipped != npkts)
		return 0;
	memset(&h, 0, sizeof(h));
	h.type = FS_SPOOL_BT_BLOCK;
	h.len = h.len2 = sizeof(h);
	h.magic = FS_SPOOL_MAGIC;
	h.lane = lane;
	h.chunk_seq = chunk_seq;
	h.first_pkt = first_pkt;
	h.first_ts = first_ts;
	h.last_ts = last_ts;
	h.npkts = count;
	h.payload = (uint32_t)(p - payload);
	n = pad_to_align(sizeof(h) + h.payload);
	total = sizeof(h) + h.payload + n;
	h.total = (uint32_t)total;
	h.crc = fs_crc32c(payload, h.payload, 0);
	h.hcrc = fs_crc32c(&h, offsetof(struct fs_spool_blk, hcrc), 0);
	memcpy(out, &h, sizeof(h));
	put_pad(p, n);
	return total;
}

size_t fs_spool_check_block(const uint8_t *buf, size_t len, bool payload)
{
	struct fs_spool_blk h;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	if (h.type != FS_SPOOL_BT_BLOCK || h.len != sizeof(h) ||
	    h.len2 != sizeof(h) || h.magic != FS_SPOOL_MAGIC ||
	    h.hcrc != fs_crc32c(&h, offsetof(struct fs_spool_blk, hcrc), 0))
		return 0;
	if (h.total % FS_SPOOL_ALIGN != 0 ||
	    (uint64_t)sizeof(h) + h.payload + 12 > h.total)
		return 0;
	if (!payload)
		return h.total;
	if (len < h.total ||
	    fs_crc32c(buf + sizeof(h), h.payload, 0) != h.crc)
		return 0;
	return h.total;
}

uint64_t fs_spool_header_end(int fd, uint64_t size)
{
	uint8_t h8[8];
	uint64_t off = 0;

	/* a section header, interface blocks, and our padding block */
	for (;;) {
		uint32_t bt, bl;

		if (pread(fd, h8, 8, (off_t)off) != 8)
			return 0;
		memcpy(&bt, h8, 4);
		memcpy(&bl, h8 + 4, 4);
		if ((off == 0 && bt != 0x0a0d0d0au) || bl < 12 || bl % 4 ||
		    off + bl > size || off + bl > FS_SPOOL_HDR_MAX)
			return 0;
		off += bl;
		if (bt == FS_SPOOL_BT_PAD)
			return off;
	}
}

/* ---- segments on disk ---- */

static void seg_name(char *b, size_t n, uint64_t num)
{
	snprintf(b, n, SEG_PREFIX "%016" PRIx64 SEG_SUFFIX, num);
}

static void idx_name(char *b, size_t n, uint64_t num)
{
	snprintf(b, n, SEG_PREFIX "%016" PRIx64 ".idx", num);
}

/* Write x as seg-N.idx: through seg-N.idx.tmp and a rename, so that a
 * reader never sees half an index; none at all when that fails. */
static uint64_t write_index(fs_spool *s, struct fs_spool_index *x)
{
	char name[64], tmp[80];
	struct stat st;
	int fd;

	idx_name(name, sizeof(name), x->h.seg_num);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	(void)fs_privsep_spool_unlink(s->ps, s->dfd, tmp);
	fd = fs_privsep_spool_create(s->ps, s->dfd, tmp, false);
	if (fd >= 0 && fs_idx_write_fd(x, fd) == 0) {
		uint64_t bytes = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;

		close(fd);
		if (fs_privsep_spool_commit(s->ps, s->dfd, tmp) == 0)
			return bytes;
	} else if (fd >= 0) {
		close(fd);
	}
	(void)fs_privsep_spool_unlink(s->ps, s->dfd, tmp);
	(void)fs_privsep_spool_unlink(s->ps, s->dfd, name);
	return 0;
}

/* The index of segment num (open as fd, size bytes): kept if it is
 * there and whole, else rebuilt from the segment and written. */
static uint64_t ensure_index(fs_spool *s, uint64_t num, int fd,
			     uint64_t size, bool cut)
{
	struct fs_spool_index x;
	char name[64];
	struct stat st;
	uint64_t bytes = 0;

	idx_name(name, sizeof(name), num);
	if (!cut && fs_idx_read(&x, s->dfd, name) == 0) {
		fs_idx_free(&x);
		return fstatat(s->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ?
			(uint64_t)st.st_size : 0;
	}
	if (fs_idx_rebuild(&x, num, fd, size) == 0) {
		bytes = write_index(s, &x);
		fs_idx_free(&x);
	}
	return bytes;
}

/* Is name a segment's? Then *num is its number. */
static bool parse_seg_name(const char *name, uint64_t *num)
{
	char *end;

	if (strlen(name) != SEG_NAME_LEN ||
	    strncmp(name, SEG_PREFIX, sizeof(SEG_PREFIX) - 1) != 0 ||
	    strcmp(name + SEG_NAME_LEN - (sizeof(SEG_SUFFIX) - 1),
		   SEG_SUFFIX) != 0)
		return false;
	errno = 0;
	*num = strtoull(name + sizeof(SEG_PREFIX) - 1, &end, 16);
	return errno == 0 && end == name + sizeof(SEG_PREFIX) - 1 + 16;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

static int seg_push(fs_spool *s, const struct seg *g)
{
	if (s->nseg == s->segcap) {
		size_t cap = s->segcap ? 2 * s->segcap : 16;
		struct seg *n = realloc(s->seg, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		s->seg = n;
		s->segcap = cap;
	}
	s->seg[s->nseg++] = *g;
	return 0;
}

/*
 * Walk the blocks of segment fd (size bytes): the time range of the
 * complete ones, and where the first incomplete one starts (*good).
 * A segment's section header is skipped by its length.
 */
static int scan_segment(int fd, uint64_t size, uint64_t *good,
			uint64_t *first_ts, uint64_t *last_ts)
{
	uint64_t off = fs_spool_header_end(fd, size);
	uint8_t *blk = NULL;
	size_t blk_room = 0;

	*good = 0;
	*first_ts = *last_ts = 0;
	if (off == 0)
		return -1;
	*good = off;
	while (off + sizeof(struct fs_spool_blk) <= size) {
		struct fs_spool_blk h;
		size_t total;

		if (pread(fd, &h, sizeof(h), (off_t)off) != sizeof(h))
			break;
		total = fs_spool_check_block((const uint8_t *)&h, sizeof(h),
					     false);
		if (total == 0 || off + total > size)
			break;
		if (total > blk_room) {
			uint8_t *n = realloc(blk, total);

			if (n == NULL)
				break;
			blk = n;
			blk_room = total;
		}
		if (pread(fd, blk, total, (off_t)off) != (ssize_t)total ||
		    fs_spool_check_block(blk, total, true) == 0)
			break;
		if (*first_ts == 0 || h.first_ts < *first_ts)
			*first_ts = h.first_ts;
		if (h.last_ts > *last_ts)
			*last_ts = h.last_ts;
		off += total;
		*good = off;
	}
	free(blk);
	return 0;
}

/* Does segment g (size bytes) have an index that covers it to its end?
 * Then g gets its times and bytes (the index's counted) from it. */
static bool indexed(fs_spool *s, struct seg *g, uint64_t size)
{
	struct fs_spool_index x;
	char name[64];
	struct stat st;
	bool ok;

	idx_name(name, sizeof(name), g->num);
	if (fs_idx_read(&x, s->dfd, name) < 0)
		return false;
	ok = x.h.nblocks > 0 && x.blocks[x.h.nblocks - 1].off +
		x.blocks[x.h.nblocks - 1].total == size &&
		fstatat(s->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (ok) {
		g->first_ts = x.h.first_ts;
		g->last_ts = x.h.last_ts;
		g->bytes = size + (uint64_t)st.st_size;
	}
	fs_idx_free(&x);
	return ok;
}

/* What the directory holds already: every segment, oldest first; a
 * segment cut short is cut back to its last complete block. */
static int recover(fs_spool *s, char *err, size_t errlen)
{
	int fd = dup(s->dfd);
	DIR *d;
	struct dirent *e;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "spool_dir: %s: %s", s->dir,
			 strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		struct seg g = { 0 };

		if (parse_seg_name(e->d_name, &g.num) && seg_push(s, &g) < 0) {
			closedir(d);
			snprintf(err, errlen, "spool_dir: out of memory");
			return -1;
		}
	}
	closedir(d);
	if (s->nseg > 1)
		qsort(s->seg, s->nseg, sizeof(*s->seg), seg_cmp);
	for (size_t i = 0; i < s->nseg; i++) {
		struct seg *g = &s->seg[i];
		char name[64];
		struct stat st;
		uint64_t good;

		seg_name(name, sizeof(name), g->num);
		fd = openat(s->dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "spool_dir: %s/%s: %s", s->dir,
				 name, fd < 0 ? strerror(errno)
					      : "not a regular file");
			if (fd >= 0)
				close(fd);
			return -1;
		}
		/* a closed segment whose index covers it whole is taken as
		 * the index says, unread: a restart does not read the
		 * history back; only the newest one can be torn */
		if (i + 1 < s->nseg && indexed(s, g, (uint64_t)st.st_size)) {
			close(fd);
			s->disk += g->bytes;
			s->next_num = g->num + 1;
			continue;
		}
		/* a torn tail (killed while writing): keep what is whole;
		 * a file whose header is not a segment's is left alone */
		if (scan_segment(fd, (uint64_t)st.st_size, &good,
				 &g->first_ts, &g->last_ts) < 0 ||
		    (good < (uint64_t)st.st_size &&
		     ftruncate(fd, (off_t)good) < 0))
			good = (uint64_t)st.st_size;
		else
			g->bytes = ensure_index(s, g->num, fd, good,
						good < (uint64_t)st.st_size);
		close(fd);
		g->bytes += good;
		s->disk += g->bytes;
		s->next_num = g->num + 1;
	}
	return 0;
}

static void remove_oldest(fs_spool *s)
{
	char name[64];

	seg_name(name, sizeof(name), s->seg[0].num);
	(void)fs_privsep_spool_unlink(s->ps, s->dfd, name);
	idx_name(name, sizeof(name), s->seg[0].num);
	(void)fs_privsep_spool_unlink(s->ps, s->dfd, name);
	pthread_mutex_lock(&s->lock);
	s->disk -= s->seg[0].bytes;
	memmove(s->seg, s->seg + 1, (s->nseg - 1) * sizeof(*s->seg));
	s->nseg--;
	pthread_mutex_unlock(&s->lock);
}

/* Make room for n more bytes within the limit (never the open segment). */
static void make_room(fs_spool *s, uint64_t n)
{
	size_t keep = s->fd >= 0 ? 1 : 0;

	while (s->nseg > keep && s->disk + n > s->limit)
		remove_oldest(s);
}

static int write_all(fs_spool *s, const uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t w = pwrite(s->fd, b, n, (off_t)s->off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
		s->off += (uint64_t)w;
	}
	return 0;
}

static void close_segment(fs_spool *s)
{
	char name[64];

	if (s->fd < 0)
		return;
	/* blocks that never reached the disk are not indexed; a lookup
	 * finds the index in memory or, from now on, in its file */
	pthread_mutex_lock(&s->lock);
	fs_idx_truncate(&s->idx, s->idx_flushed);
	idx_name(name, sizeof(name), s->idx.h.seg_num);
	if (s->idx_bad) {
		(void)fs_privsep_spool_unlink(s->ps, s->dfd, name);
	} else {
		/* the index counts within spool_size with its segment */
		uint64_t n = write_index(s, &s->idx);

		s->seg[s->nseg - 1].bytes += n;
		s->disk += n;
	}
	fs_idx_free(&s->idx);
	s->idx_live = false;
	pthread_mutex_unlock(&s->lock);
	/* a write cut short leaves a tail no block starts in: cut it */
	if (ftruncate(s->fd, (off_t)s->off) < 0) {
		/* keeping it is harmless: recovery stops at it */
	}
	fdatasync(s->fd);
	close(s->fd);
	s->fd = -1;
}

static int open_segment(fs_spool *s)
{
	char name[64];
	struct seg g = { 0 };
	size_t n;

	make_room(s, s->seg_size);
	g.num = s->next_num;
	seg_name(name, sizeof(name), g.num);
	s->fd = fs_privsep_spool_create(s->ps, s->dfd, name, s->direct);
	if (s->fd < 0 && s->direct && errno == EINVAL) {
		/* tmpfs and some others: buffered writes then */
		s->direct = false;
		s->fd = fs_privsep_spool_create(s->ps, s->dfd, name, false);
	}
	if (s->fd < 0) {
		if ((errno == EACCES || errno == EPERM) && !s->told) {
			/* said once: every later chunk meets the same */
			s->told = true;
			fprintf(stderr, "flowscope: spool_dir %s: cannot create "
				"%s: %s (did the application give up the "
				"privileges it was started with? tcpdump -Z "
				"root keeps them)\n", s->dir, name,
				strerror(errno));
		}
		return -1;
	}
	s->next_num++;
	s->off = 0;
	pthread_mutex_lock(&s->lock);
	fs_idx_init(&s->idx, g.num);
	s->idx_flushed = 0;
	s->idx_bad = false;
	pthread_mutex_unlock(&s->lock);
	n = fs_spool_format_header(s->hdr, HDR_ROOM, s->nsources,
				   (const char *const *)s->names, s->snaplen);
	if (n == 0 || write_all(s, s->hdr, n) < 0) {
		close(s->fd);
		s->fd = -1;
		(void)fs_privsep_spool_unlink(s->ps, s->dfd, name);
		return -1;
	}
	g.bytes = n;
	pthread_mutex_lock(&s->lock);
	s->disk += n;
	if (seg_push(s, &g) < 0) {
		pthread_mutex_unlock(&s->lock);
		close(s->fd);
		s->fd = -1;
		(void)fs_privsep_spool_unlink(s->ps, s->dfd, name);
		return -1;
	}
	s->idx_live = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Write the waiting blocks to the open segment (opening one first when
 * needed). On failure their packets count as dropped. */
/* Everything placed so far is written (or counted): say so per lane. */
static void publish_done(fs_spool *s)
{
	for (unsigned i = 0; i < s->nlanes; i++)
		atomic_store_explicit(&s->done_seq[i], s->lanes[i].next_seq,
				      memory_order_release);
}

static void flush(fs_spool *s)
{
	struct seg *g;
	uint64_t start;

	if (s->buf_len == 0) {
		publish_done(s);
		return;
	}
	/* the blocks were placed for the open segment (place()) */
	if (s->fd < 0)
		goto failed;
	make_room(s, s->buf_len);
	start = s->off;
	if (write_all(s, s->buf, s->buf_len) < 0) {
		/* a full disk, an I/O error: cut the segment back to where
		 * this write began, so that the disk holds what the counters
		 * say, and start a new one next time */
		s->off = start;
		close_segment(s);
		goto failed;
	}
	pthread_mutex_lock(&s->lock);
	s->idx_flushed = s->idx.h.nblocks;
	g = &s->seg[s->nseg - 1];
	g->bytes += s->buf_len;
	s->disk += s->buf_len;
	if (g->first_ts == 0)
		g->first_ts = s->buf_first_ts;
	if (s->buf_last_ts > g->last_ts)
		g->last_ts = s->buf_last_ts;
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&s->written, s->buf_len);
	atomic_fetch_add(&s->packets, s->buf_pkts);
	goto done;
failed:
	atomic_fetch_add(&s->errors, 1);
	atomic_fetch_add(&s->dropped, s->buf_pkts);
	if (s->fd >= 0) {
		pthread_mutex_lock(&s->lock);
		fs_idx_truncate(&s->idx, s->idx_flushed);
		pthread_mutex_unlock(&s->lock);
	}
done:
	s->buf_len = 0;
	s->buf_pkts = 0;
	s->buf_first_ts = s->buf_last_ts = 0;
	publish_done(s);
}

/* Index the block h just placed in the buffer (its records are still
 * in s->chunk, used bytes). */
static void index_block(fs_spool *s, const struct fs_spool_blk *h,
			size_t used)
{
	struct fs_idx_blk b = { 0 };
	size_t off = 0;

	if (s->idx_bad)
		return;
	pthread_mutex_lock(&s->lock);
	while (off < used) {
		const struct fs_pkt_hdr *ph = (const void *)(s->chunk + off);

		if (!(ph->flags & FS_REC_CUT) &&
		    fs_idx_add_packet(&s->idx, (const uint8_t *)(ph + 1),
				      ph->cap_len) < 0)
			goto bad;
		off += FS_REC_SIZE(ph->cap_len);
	}
	b.off = s->off + s->buf_len;
	b.total = h->total;
	b.npkts = h->npkts;
	b.first_ts = h->first_ts;
	b.last_ts = h->last_ts;
	b.first_pkt = h->first_pkt;
	b.lane = h->lane;
	if (fs_idx_add_block(&s->idx, &b) == 0) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
bad:
	/* no index beats one that misses blocks: readers rebuild it */
	s->idx_bad = true;
	pthread_mutex_unlock(&s->lock);
}

/* Write chunk seq of lane i, if it is ready. Returns 1 when it moved
 * on, 0 when there is nothing to do yet. */
static int spool_chunk(fs_spool *s, unsigned i, bool final)
{
	struct fs_lane *l = fs_ring_lane(s->ring, i);
	struct lane_state *ls = &s->lanes[i];
	uint64_t tail = atomic_load_explicit(&l->tail, memory_order_acquire);
	uint64_t first;
	uint32_t npkts;
	long used;
	size_t n;

	if (ls->next_seq < tail)
		ls->next_seq = tail;	/* given up unwritten: counted below */
	if (!final && s->analyzed_seq != NULL && s->analyzed_seq[i] != NULL &&
	    ls->next_seq >= atomic_load_explicit(s->analyzed_seq[i],
						 memory_order_acquire))
		return 0;
	used = fs_lane_copy_chunk(l, ls->next_seq, s->chunk, final, &first,
				  &npkts);
	if (used == 0)
		return 0;
	if (used < 0) {
		ls->next_seq++;
		return 1;
	}
	if (first > ls->next_pkt)
		atomic_fetch_add(&s->dropped, first - ls->next_pkt);
	if (npkts == 0) {
		ls->next_seq++;
		ls->next_pkt = first;
		goto published;
	}
	if (s->buf_room - s->buf_len < FS_SPOOL_BLOCK_ROOM(used))
		flush(s);
	/* a block is placed for the open segment, where it will be written:
	 * start the next one first when it might not fit */
	if (s->fd >= 0 && s->off + s->buf_len + FS_SPOOL_BLOCK_ROOM(used) >
	    s->seg_size) {
		flush(s);
		close_segment(s);
	}
	if (s->fd < 0 && open_segment(s) < 0) {
		atomic_fetch_add(&s->errors, 1);
		atomic_fetch_add(&s->dropped, npkts);
		n = 0;
	} else {
		n = fs_spool_format_block(s->buf + s->buf_len,
					  s->buf_room - s->buf_len, s->chunk,
					  (size_t)used, i, ls->next_seq, first,
					  npkts);
		if (n == 0)	/* records that make no sense: not kept */
			atomic_fetch_add(&s->dropped, npkts);
	}
	/* a chunk of only packets past their cutoff leaves nothing */
	if (n != 0 && ((const struct fs_spool_blk *)(s->buf + s->buf_len))->npkts
	    == 0)
		n = 0;
	if (n != 0) {
		const struct fs_spool_blk *h = (const void *)(s->buf + s->buf_len);

		index_block(s, h, (size_t)used);

		if (s->buf_pkts == 0)
			s->buf_first_ts = h->first_ts;
		if (h->last_ts > s->buf_last_ts)
			s->buf_last_ts = h->last_ts;
		s->buf_len += n;
		s->buf_pkts += h->npkts;
	}
	ls->next_seq++;
	ls->next_pkt = first + npkts;
published:
	atomic_store_explicit(&s->spool_seq[i], ls->next_seq,
			      memory_order_release);
	return 1;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void update_rate(fs_spool *s)
{
	uint64_t t = now_ns(), b = atomic_load(&s->written);

	if (t - s->rate_t0 < 1000000000u)
		return;
	atomic_store(&s->rate, (b - s->rate_b0) * 1000000000u /
		     (t - s->rate_t0));
	s->rate_t0 = t;
	s->rate_b0 = b;
}

static void *spool_thread(void *arg)
{
	fs_spool *s = arg;

	while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
		unsigned moved = 0;

		for (unsigned i = 0; i < s->nlanes; i++)
			while (spool_chunk(s, i, false) > 0 && ++moved < 64)
				;
		update_rate(s);
		if (atomic_exchange_explicit(&s->flush_now, false,
					     memory_order_acq_rel))
			flush(s);
		if (moved == 0) {
			struct timespec ts = { 0, IDLE_NS };

			/* nothing new: what waits goes to disk now, so
			 * that slow traffic is not held back */
			flush(s);
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* ---- a flow's history ---- */

int fs_spool_wait_done(fs_spool *s, unsigned lane, uint64_t seq,
		       int timeout_ms)
{
	struct timespec ts = { 0, 500000 };

	if (lane >= s->nlanes)
		return -1;
	for (int waited = 0;; waited++) {
		if (atomic_load_explicit(&s->done_seq[lane],
					 memory_order_acquire) >= seq)
			return 0;
		if (!s->started || waited / 2 >= timeout_ms)
			return -1;
		atomic_store_explicit(&s->flush_now, true, memory_order_release);
		nanosleep(&ts, NULL);
	}
}

int fs_spool_open_segment(fs_spool *s, uint64_t num)
{
	char name[64];

	seg_name(name, sizeof(name), num);
	return fs_privsep_spool_open(s->ps, s->dfd, name);
}

static int push_ref(struct fs_spool_blkref **v, size_t *n, size_t *cap,
		    const struct fs_spool_blkref *r)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct fs_spool_blkref *m = realloc(*v, c * sizeof(*m));

		if (m == NULL)
			return -1;
		*v = m;
		*cap = c;
	}
	(*v)[(*n)++] = *r;
	return 0;
}

/* The blocks of closed segment num that may hold the flow. */
static int closed_blocks(fs_spool *s, uint64_t num, unsigned lane,
			 uint32_t hash, uint64_t since,
			 struct fs_spool_blkref **v, size_t *n, size_t *cap)
{
	struct fs_spool_index x;
	char name[64];
	uint8_t *bits;
	int rc = 0;

	idx_name(name, sizeof(name), num);
	if (fs_idx_read_fd(&x, fs_privsep_spool_open(s->ps, s->dfd, name)) < 0) {
		/* no index (the writer was short of memory): rebuild one */
		int fd = fs_spool_open_segment(s, num);
		struct stat st;

		if (fd < 0)
			return 0;	/* removed meanwhile: gone */
		rc = fstat(fd, &st) == 0 ?
			fs_idx_rebuild(&x, num, fd, (uint64_t)st.st_size) : -1;
		close(fd);
		if (rc < 0)
			return 0;	/* unreadable: nothing found there */
	}
	bits = calloc(x.h.nblocks / 8 + 1, 1);
	if (bits == NULL) {
		fs_idx_free(&x);
		return -1;
	}
	fs_idx_mark_flow(&x, hash, bits);
	for (uint32_t b = 0; b < x.h.nblocks && rc == 0; b++)
		if ((bits[b / 8] & (1u << (b % 8))) && x.blocks[b].lane == lane &&
		    x.blocks[b].last_ts >= since)
			rc = push_ref(v, n, cap, &(struct fs_spool_blkref){
					.seg = num, .off = x.blocks[b].off,
					.total = x.blocks[b].total, .lane = lane });
	free(bits);
	fs_idx_free(&x);
	return rc;
}

int fs_spool_flow_blocks(fs_spool *s, unsigned lane, uint32_t hash,
			 uint64_t since, struct fs_spool_blkref **out,
			 size_t *n)
{
	struct fs_spool_blkref *v = NULL, *open_v = NULL;
	size_t nv = 0, cap = 0, nopen = 0, capo = 0, nclosed = 0;
	uint64_t *closed = NULL;
	int rc = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	closed = malloc((s->nseg + 1) * sizeof(*closed));
	if (closed == NULL) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	for (size_t i = 0; i < s->nseg; i++) {
		const struct seg *g = &s->seg[i];
		bool open_ = s->idx_live && g->num == s->idx.h.seg_num;

		if (!open_ && g->last_ts != 0 && g->last_ts < since)
			continue;
		if (!open_) {
			closed[nclosed++] = g->num;
			continue;
		}
		/* the open segment: its entries are in block order; only
		 * the blocks written so far */
		if (s->idx_bad)
			continue;
		for (uint32_t e = 0; e < s->idx.h.nflows && rc == 0; e++) {
			const struct fs_idx_ent *x = &s->idx.flows[e];
			const struct fs_idx_blk *b;

			if (x->hash != hash || x->block >= s->idx_flushed)
				continue;
			b = &s->idx.blocks[x->block];
			if (b->lane == lane && b->last_ts >= since &&
			    (nopen == 0 || open_v[nopen - 1].off != b->off))
				rc = push_ref(&open_v, &nopen, &capo,
					&(struct fs_spool_blkref){ .seg = g->num,
						.off = b->off, .total = b->total,
						.lane = lane });
		}
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < nclosed && rc == 0; i++)
		rc = closed_blocks(s, closed[i], lane, hash, since, &v, &nv, &cap);
	for (size_t i = 0; i < nopen && rc == 0; i++)
		rc = push_ref(&v, &nv, &cap, &open_v[i]);
	free(open_v);
	free(closed);
	if (rc < 0) {
		free(v);
		return -1;
	}
	*out = v;
	*n = nv;
	return 0;
}

/* ---- open, start, close ---- */

static int check_dir(fs_spool *s, char *err, size_t errlen)
{
	struct stat st;

	s->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dfd < 0) {
		snprintf(err, errlen, "spool_dir: %s: %s", s->dir,
			 errno == ENOTDIR ? "not a directory" : strerror(errno));
		return -1;
	}
	if (fstat(s->dfd, &st) < 0 || faccessat(s->dfd, ".", W_OK | X_OK,
						AT_EACCESS) < 0) {
		snprintf(err, errlen, "spool_dir: %s: cannot write there: %s",
			 s->dir, strerror(errno));
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "spool_dir: %s belongs to uid %u; a "
			 "spool must be the capturing user's own (uid %u)",
			 s->dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "spool_dir: %s is open to other users "
			 "(mode %04o); the history it keeps is private: chmod "
			 "700 it", s->dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	s->lock_fd = openat(s->dfd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		snprintf(err, errlen, "spool_dir: %s/" LOCK_NAME ": %s", s->dir,
			 strerror(errno));
		return -1;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "spool_dir: %s is being written by another "
			 "capture (its " LOCK_NAME " is held)", s->dir);
		return -1;
	}
	return 0;
}

fs_spool *fs_spool_open(const struct fs_spool_params *p, char *err,
			size_t errlen)
{
	fs_spool *s = calloc(1, sizeof(*s));
	size_t chunk_data;

	if (s == NULL) {
		snprintf(err, errlen, "spool_dir: out of memory");
		return NULL;
	}
	s->dfd = s->lock_fd = s->fd = -1;
	s->ps = p->ps;
	pthread_mutex_init(&s->lock, NULL);
	snprintf(s->dir, sizeof(s->dir), "%s", p->dir);
	s->limit = p->size;
	s->seg_size = p->size / 16;
	if (s->seg_size < SEG_MIN)
		s->seg_size = SEG_MIN;
	if (s->seg_size > SEG_MAX)
		s->seg_size = SEG_MAX;
	s->seg_size -= s->seg_size % FS_SPOOL_ALIGN;
	s->snaplen = p->snaplen;
	s->ring = p->ring;
	s->nlanes = fs_ring_lanes(p->ring);
	s->analyzed_seq = p->analyzed_seq;
	s->spool_seq = p->spool_seq;
	s->direct = true;
	s->nsources = p->nsources;
	s->names = calloc(p->nsources, sizeof(*s->names));
	s->lanes = calloc(s->nlanes, sizeof(*s->lanes));
	s->done_seq = calloc(s->nlanes, sizeof(*s->done_seq));
	if (s->names == NULL || s->lanes == NULL || s->done_seq == NULL)
		goto oom;
	for (unsigned i = 0; i < p->nsources; i++)
		if ((s->names[i] = strdup(p->source_names[i])) == NULL)
			goto oom;
	chunk_data = fs_ring_lane(p->ring, 0)->data_size;
	s->chunk = malloc(chunk_data);
	s->buf_room = WRITE_BYTES + FS_SPOOL_BLOCK_ROOM(chunk_data);
	s->buf_room += FS_SPOOL_ALIGN - s->buf_room % FS_SPOOL_ALIGN;
	s->buf = mmap(NULL, s->buf_room, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->buf == MAP_FAILED)
		s->buf = NULL;
	s->hdr = mmap(NULL, HDR_ROOM, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->hdr == MAP_FAILED)
		s->hdr = NULL;
	if (s->chunk == NULL || s->buf == NULL || s->hdr == NULL)
		goto oom;
	if (check_dir(s, err, errlen) < 0 || recover(s, err, errlen) < 0)
		goto fail;
	if (s->limit < s->seg_size * 2) {
		snprintf(err, errlen, "spool_size: %" PRIu64 " bytes hold fewer "
			 "than two segments of %" PRIu64, s->limit, s->seg_size);
		goto fail;
	}
	for (unsigned i = 0; i < s->nlanes; i++)
		atomic_store(&s->spool_seq[i], 0);
	s->rate_t0 = now_ns();
	return s;
oom:
	snprintf(err, errlen, "spool_dir: out of memory");
fail:
	fs_spool_close(s);
	return NULL;
}

int fs_spool_start(fs_spool *s, char *err, size_t errlen)
{
	int rc;

	/* the application's signals go to its own threads */
	rc = fs_thread_start(&s->thread, spool_thread, s);

	if (rc != 0) {
		snprintf(err, errlen, "spool_dir: cannot start its writer: %s",
			 strerror(rc));
		return -1;
	}
	s->started = true;
	return 0;
}

void fs_spool_finish(fs_spool *s)
{
	if (s == NULL)
		return;
	if (s->started) {
		s->started = false;
		atomic_store(&s->stop, true);
		pthread_join(s->thread, NULL);
		/* the receive threads are gone: everything they published,
		 * the chunks they were filling too */
		for (unsigned i = 0; i < s->nlanes; i++) {
			struct fs_lane *l = fs_ring_lane(s->ring, i);
			uint64_t head = atomic_load(&l->head);

			while (s->lanes[i].next_seq <= head &&
			       spool_chunk(s, i, true) > 0)
				;
		}
		flush(s);
	}
	close_segment(s);
}

void fs_spool_close(fs_spool *s)
{
	if (s == NULL)
		return;
	fs_spool_finish(s);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->dfd >= 0)
		close(s->dfd);
	if (s->names != NULL)
		for (unsigned i = 0; i < s->nsources; i++)
			free(s->names[i]);
	free(s->names);
	free(s->lanes);
	free((void *)s->done_seq);
	free(s->chunk);
	if (s->buf != NULL)
		munmap(s->buf, s->buf_room);
	if (s->hdr != NULL)
		munmap(s->hdr, HDR_ROOM);
	free(s->seg);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void fs_spool_stats(fs_spool *s, struct fs_spool_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->lock);
	st->bytes = s->disk;
	st->segments = s->nseg;
	for (size_t i = 0; i < s->nseg; i++)
		if (s->seg[i].first_ts != 0) {
			st->oldest_ts = s->seg[i].first_ts;
			break;
		}
	if (s->nseg > 0)
		st->newest_ts = s->seg[s->nseg - 1].last_ts;
	pthread_mutex_unlock(&s->lock);
	st->limit = s->limit;
	st->written = atomic_load(&s->written);
	st->write_rate = atomic_load(&s->rate);
	st->packets = atomic_load(&s->packets);
	st->dropped = atomic_load(&s->dropped);
	st->errors = atomic_load(&s->errors);
}
