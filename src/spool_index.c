/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Spool segment indexes: building, writing, reading, rebuilding and
 * lookups (spool_index.h).
 */
#define _GNU_SOURCE
#include "spool_index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_hash_crc.h>

#include "flowkey.h"
#include "spool.h"

#define ADDR_SEED 0x5eed5eedu

uint32_t fs_idx_addr_hash(const uint8_t addr[16])
{
	return fs_crc32c(addr, 16, ADDR_SEED);
}

uint32_t fs_idx_ethertype_hash(uint16_t ethertype)
{
	uint8_t a[16] = { 0xff, 0xee, (uint8_t)(ethertype >> 8),
			  (uint8_t)ethertype };

	return fs_idx_addr_hash(a);
}

void fs_idx_init(struct fs_spool_index *x, uint64_t seg_num)
{
	memset(x, 0, sizeof(*x));
	x->h.magic = FS_IDX_MAGIC;
	x->h.version = FS_IDX_VERSION;
	x->h.seg_num = seg_num;
}

void fs_idx_free(struct fs_spool_index *x)
{
	free(x->blocks);
	free(x->flows);
	free(x->addrs);
	free(x->tmp_flows);
	free(x->tmp_addrs);
	fs_idx_init(x, x->h.seg_num);
}

/* Room for one more of size sz in *p (cap *cap), doubling. */
static int grow(void *pp, size_t *cap, size_t n, size_t sz)
{
	void **p = pp;
	size_t c;
	void *q;

	if (n < *cap)
		return 0;
	c = *cap ? 2 * *cap : 256;
	q = realloc(*p, c * sz);
	if (q == NULL)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

int fs_idx_add_packet(struct fs_spool_index *x, const uint8_t *pkt,
		      uint32_t caplen)
{
	struct fs_pkt_info info;
	uint32_t *a;

	fs_flow_parse(pkt, caplen, &info);
	if (grow(&x->tmp_flows, &x->cap_tmp, x->ntmp, sizeof(uint32_t)) < 0 ||
	    grow(&x->tmp_addrs, &x->cap_tmpa, 2 * x->ntmp + 1,
		 sizeof(uint32_t)) < 0)
		return -1;
	x->tmp_flows[x->ntmp] = info.hash;
	a = &x->tmp_addrs[2 * x->ntmp];
	if (info.key.kind == FS_FLOW_IP4 || info.key.kind == FS_FLOW_IP6) {
		a[0] = fs_idx_addr_hash(info.key.a);
		a[1] = fs_idx_addr_hash(info.key.b);
	} else {
		/* no address: the EtherType stands in, so that a lookup of
		 * non-IP frames of one kind (a filter's ARP) finds them */
		a[0] = a[1] = fs_idx_ethertype_hash(info.key.ethertype);
	}
	x->ntmp++;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and dedupe n hashes; returns how many are left. */
static size_t uniq(uint32_t *v, size_t n)
{
	size_t k = 0;

	if (n < 2)
		return n;
	qsort(v, n, sizeof(*v), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

static int append(struct fs_idx_ent **e, size_t *cap, uint32_t *n,
		  const uint32_t *v, size_t nv, uint32_t block)
{
	for (size_t i = 0; i < nv; i++) {
		if (grow(e, cap, *n, sizeof(**e)) < 0)
			return -1;
		(*e)[*n].hash = v[i];
		(*e)[*n].block = block;
		(*n)++;
	}
	return 0;
}

int fs_idx_add_block(struct fs_spool_index *x, const struct fs_idx_blk *b)
{
	uint32_t no = x->h.nblocks;
	size_t nf, na;

	if (grow(&x->blocks, &x->cap_blocks, x->h.nblocks,
		 sizeof(*x->blocks)) < 0)
		return -1;
	nf = uniq(x->tmp_flows, x->ntmp);
	na = uniq(x->tmp_addrs, 2 * x->ntmp);
	if (append(&x->flows, &x->cap_flows, &x->h.nflows, x->tmp_flows, nf,
		   no) < 0 ||
	    append(&x->addrs, &x->cap_addrs, &x->h.naddrs, x->tmp_addrs, na,
		   no) < 0)
		return -1;
	x->ntmp = 0;
	x->blocks[no] = *b;
	x->h.nblocks++;
	x->h.packets += b->npkts;
	if (x->h.first_ts == 0 || (b->first_ts && b->first_ts < x->h.first_ts))
		x->h.first_ts = b->first_ts;
	if (b->last_ts > x->h.last_ts)
		x->h.last_ts = b->last_ts;
	return 0;
}

static uint32_t cut(const struct fs_idx_ent *e, uint32_t n, uint32_t nblocks)
{
	/* entries were appended block by block */
	while (n > 0 && e[n - 1].block >= nblocks)
		n--;
	return n;
}

void fs_idx_truncate(struct fs_spool_index *x, uint32_t nblocks)
{
	if (nblocks >= x->h.nblocks)
		return;
	x->h.nflows = cut(x->flows, x->h.nflows, nblocks);
	x->h.naddrs = cut(x->addrs, x->h.naddrs, nblocks);
	x->h.nblocks = nblocks;
	x->h.packets = 0;
	x->h.first_ts = x->h.last_ts = 0;
	for (uint32_t i = 0; i < nblocks; i++) {
		const struct fs_idx_blk *b = &x->blocks[i];

		x->h.packets += b->npkts;
		if (x->h.first_ts == 0 || b->first_ts < x->h.first_ts)
			x->h.first_ts = b->first_ts;
		if (b->last_ts > x->h.last_ts)
			x->h.last_ts = b->last_ts;
	}
	x->ntmp = 0;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct fs_idx_ent *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->block < y->block ? -1 : x->block > y->block;
}

static uint32_t body_crc(const struct fs_spool_index *x)
{
	uint32_t crc = 0;

	crc = fs_crc32c(x->blocks, x->h.nblocks * sizeof(*x->blocks), crc);
	crc = fs_crc32c(x->flows, x->h.nflows * sizeof(*x->flows), crc);
	return fs_crc32c(x->addrs, x->h.naddrs * sizeof(*x->addrs), crc);
}

static int write_full(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int fs_idx_write_fd(struct fs_spool_index *x, int fd)
{
	if (x->h.nflows > 1)
		qsort(x->flows, x->h.nflows, sizeof(*x->flows), cmp_ent);
	if (x->h.naddrs > 1)
		qsort(x->addrs, x->h.naddrs, sizeof(*x->addrs), cmp_ent);
	x->h.crc = body_crc(x);
	if (write_full(fd, &x->h, sizeof(x->h)) < 0 ||
	    write_full(fd, x->blocks, x->h.nblocks * sizeof(*x->blocks)) < 0 ||
	    write_full(fd, x->flows, x->h.nflows * sizeof(*x->flows)) < 0 ||
	    write_full(fd, x->addrs, x->h.naddrs * sizeof(*x->addrs)) < 0 ||
	    fdatasync(fd) < 0)
		return -1;
	return 0;
}

int fs_idx_write(struct fs_spool_index *x, int dfd, const char *name)
{
	char tmp[128];
	int fd, e;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (fs_idx_write_fd(x, fd) < 0) {
		e = errno;
		close(fd);
		unlinkat(dfd, tmp, 0);
		errno = e;
		return -1;
	}
	close(fd);
	if (renameat(dfd, tmp, dfd, name) < 0) {
		e = errno;
		unlinkat(dfd, tmp, 0);
		errno = e;
		return -1;
	}
	return 0;
}

static int read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

int fs_idx_read(struct fs_spool_index *x, int dfd, const char *name)
{
	return fs_idx_read_fd(x, openat(dfd, name, O_RDONLY | O_NOFOLLOW |
					    O_CLOEXEC));
}

int fs_idx_read_fd(struct fs_spool_index *x, int fd)
{
	struct stat st;
	struct fs_idx_hdr h;
	uint64_t want;

	fs_idx_init(x, 0);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || read_full(fd, &h, sizeof(h)) < 0 ||
	    h.magic != FS_IDX_MAGIC || h.version != FS_IDX_VERSION)
		goto bad;
	want = sizeof(h) + (uint64_t)h.nblocks * sizeof(*x->blocks) +
	       ((uint64_t)h.nflows + h.naddrs) * sizeof(*x->flows);
	if ((uint64_t)st.st_size != want)
		goto bad;
	x->blocks = malloc((size_t)h.nblocks * sizeof(*x->blocks) + 1);
	x->flows = malloc((size_t)h.nflows * sizeof(*x->flows) + 1);
	x->addrs = malloc((size_t)h.naddrs * sizeof(*x->addrs) + 1);
	if (x->blocks == NULL || x->flows == NULL || x->addrs == NULL ||
	    read_full(fd, x->blocks, h.nblocks * sizeof(*x->blocks)) < 0 ||
	    read_full(fd, x->flows, h.nflows * sizeof(*x->flows)) < 0 ||
	    read_full(fd, x->addrs, h.naddrs * sizeof(*x->addrs)) < 0)
		goto bad;
	x->h = h;
	x->cap_blocks = h.nblocks;
	x->cap_flows = h.nflows;
	x->cap_addrs = h.naddrs;
	if (body_crc(x) != h.crc)
		goto bad;
	for (uint32_t i = 0; i < h.nflows; i++)
		if (x->flows[i].block >= h.nblocks)
			goto bad;
	for (uint32_t i = 0; i < h.naddrs; i++)
		if (x->addrs[i].block >= h.nblocks)
			goto bad;
	close(fd);
	return 0;
bad:
	close(fd);
	fs_idx_free(x);
	return -1;
}

int fs_idx_rebuild(struct fs_spool_index *x, uint64_t seg_num, int fd,
		   uint64_t size)
{
	uint8_t *blk = NULL;
	size_t room = 0;
	uint64_t off;

	fs_idx_init(x, seg_num);
	off = fs_spool_header_end(fd, size);
	if (off == 0)
		return -1;
	while (off + sizeof(struct fs_spool_blk) <= size) {
		struct fs_spool_blk h;
		struct fs_idx_blk b;
		size_t total, p;

		if (pread(fd, &h, sizeof(h), (off_t)off) != sizeof(h))
			break;
		total = fs_spool_check_block((const uint8_t *)&h, sizeof(h),
					     false);
		if (total == 0 || off + total > size)
			break;
		if (total > room) {
			uint8_t *n = realloc(blk, total);

			if (n == NULL)
				goto fail;
			blk = n;
			room = total;
		}
		if (pread(fd, blk, total, (off_t)off) != (ssize_t)total ||
		    fs_spool_check_block(blk, total, true) == 0)
			break;
		for (p = sizeof(h); p < sizeof(h) + h.payload;) {
			struct fs_epb e;

			if (!fs_spool_epb(blk + p, sizeof(h) + h.payload - p, &e))
				break;
			if (fs_idx_add_packet(x, e.data, e.caplen) < 0)
				goto fail;
			p += e.len;
		}
		memset(&b, 0, sizeof(b));
		b.off = off;
		b.total = (uint32_t)total;
		b.npkts = h.npkts;
		b.first_ts = h.first_ts;
		b.last_ts = h.last_ts;
		b.first_pkt = h.first_pkt;
		b.lane = h.lane;
		if (fs_idx_add_block(x, &b) < 0)
			goto fail;
		off += total;
	}
	free(blk);
	return 0;
fail:
	free(blk);
	fs_idx_free(x);
	return -1;
}

/* Mark the blocks of every entry with this hash (entries sorted). */
static void mark(const struct fs_idx_ent *e, uint32_t n, uint32_t hash,
		 uint8_t *bits)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (e[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && e[lo].hash == hash; lo++)
		bits[e[lo].block / 8] |= (uint8_t)(1u << (e[lo].block % 8));
}

void fs_idx_mark_flow(const struct fs_spool_index *x, uint32_t hash,
		      uint8_t *bits)
{
	mark(x->flows, x->h.nflows, hash, bits);
}

void fs_idx_mark_addr(const struct fs_spool_index *x, uint32_t hash,
		      uint8_t *bits)
{
	mark(x->addrs, x->h.naddrs, hash, bits);
}
