/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the QQ ring: wrap-around, overrun counting, peek versus
 * consume, random access, mixed sizes up to 9000 bytes, and one writer
 * racing one reader.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring.h"

/* Write one packet whose bytes and timestamp are derived from i. */
static void put(struct fs_lane *l, uint64_t i, uint16_t cap,
		struct fs_ring_pos *pos)
{
	struct fs_pkt_hdr *h = fs_lane_reserve(l, cap, pos);
	uint8_t *d = (uint8_t *)(h + 1);

	h->ts_ns = 1000 + i;
	h->wire_len = cap + 4u;
	h->cap_len = cap;
	h->source = (uint8_t)(i & 7);
	h->flags = 0;
	for (uint16_t k = 0; k < cap; k++)
		d[k] = (uint8_t)(i * 31 + k);
}

/* Check that the record at p is packet i. */
static void check_rec(const uint8_t *p, uint64_t i)
{
	const struct fs_pkt_hdr *h = (const void *)p;
	const uint8_t *d = p + sizeof(*h);

	ck_assert_uint_eq(h->ts_ns, 1000 + i);
	ck_assert_uint_eq(h->wire_len, h->cap_len + 4u);
	for (uint16_t k = 0; k < h->cap_len; k++)
		if (d[k] != (uint8_t)(i * 31 + k))
			ck_abort_msg("packet %lu byte %u differs",
				     (unsigned long)i, k);
}

/* Read everything pending; check sequence from *next; return count. */
static unsigned drain(struct fs_lane *l, struct fs_cursor *c, uint64_t *next,
		      uint64_t *lost)
{
	static uint8_t buf[1 << 20];
	unsigned total = 0, n;
	uint64_t before = *lost;

	while ((n = fs_lane_read(l, c, buf, sizeof(buf), 1000, lost)) > 0) {
		uint8_t *p = buf;

		/* what was skipped is exactly what was counted lost */
		*next += *lost - before;
		before = *lost;
		ck_assert_uint_eq(c->pkt - n, *next);
		for (unsigned k = 0; k < n; k++) {
			const struct fs_pkt_hdr *h = (const void *)p;

			check_rec(p, *next);
			(*next)++;
			p += FS_REC_SIZE(h->cap_len);
		}
		total += n;
	}
	return total;
}

START_TEST(create_bounds)
{
	errno = 0;
	ck_assert_ptr_null(fs_ring_create(1 << 20, 0, 1500));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(fs_ring_create(1 << 20, 1, 0));
	ck_assert_ptr_null(fs_ring_create(1 << 20, 1, 70000));
	/* 64 KiB cannot hold 4 chunks of a 64 KiB record */
	ck_assert_ptr_null(fs_ring_create(64 << 10, 1, 65535));

	fs_ring *r = fs_ring_create(256u << 20, 1, 1500);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(fs_ring_lanes(r), 1);
	ck_assert_uint_le(fs_ring_capacity(r), 256u << 20);
	ck_assert_uint_ge(fs_ring_capacity(r), 255u << 20);
	fs_ring_free(r);
}
END_TEST

START_TEST(fifo_and_peek)
{
	fs_ring *r = fs_ring_create(1 << 20, 1, 1500);
	struct fs_lane *l = fs_ring_lane(r, 0);
	struct fs_cursor c, peek;
	uint64_t next = 0, lost = 0;
	uint8_t buf[4096];

	fs_cursor_oldest(l, &c);
	ck_assert(!fs_lane_pending(l, &c));
	ck_assert_uint_eq(fs_lane_read(l, &c, buf, sizeof(buf), 10, &lost), 0);

	for (uint64_t i = 0; i < 10; i++)
		put(l, i, 60, NULL);
	/* nothing is visible before publish */
	ck_assert(!fs_lane_pending(l, &c));
	ck_assert_uint_eq(fs_lane_read(l, &c, buf, sizeof(buf), 10, &lost), 0);
	fs_lane_publish(l);
	ck_assert(fs_lane_pending(l, &c));

	/* peeking with a copy of the cursor consumes nothing */
	peek = c;
	ck_assert_uint_eq(fs_lane_read(l, &peek, buf, sizeof(buf), 3, &lost), 3);
	check_rec(buf, 0);
	ck_assert_uint_eq(c.pkt, 0);
	ck_assert_uint_eq(peek.pkt, 3);

	ck_assert_uint_eq(drain(l, &c, &next, &lost), 10);
	ck_assert_uint_eq(next, 10);
	ck_assert_uint_eq(lost, 0);
	ck_assert(!fs_lane_pending(l, &c));

	/* a second reader sees the same history from the oldest record */
	fs_cursor_oldest(l, &peek);
	next = 0;
	ck_assert_uint_eq(drain(l, &peek, &next, &lost), 10);

	/* a reader starting at the newest record sees only later packets */
	fs_cursor_newest(l, &peek);
	ck_assert_uint_eq(peek.pkt, 10);
	put(l, 10, 60, NULL);
	fs_lane_publish(l);
	next = 10;
	ck_assert_uint_eq(drain(l, &peek, &next, &lost), 1);
	fs_ring_free(r);
}
END_TEST

START_TEST(small_buffer_and_max)
{
	fs_ring *r = fs_ring_create(1 << 20, 1, 1500);
	struct fs_lane *l = fs_ring_lane(r, 0);
	struct fs_cursor c;
	uint64_t lost = 0;
	uint8_t buf[200];

	fs_cursor_oldest(l, &c);
	for (uint64_t i = 0; i < 5; i++)
		put(l, i, 100, NULL);
	fs_lane_publish(l);
	/* 200 bytes hold one 120-byte record, never half of one */
	ck_assert_uint_eq(fs_lane_read(l, &c, buf, sizeof(buf), 10, &lost), 1);
	check_rec(buf, 0);
	ck_assert_uint_eq(fs_lane_read(l, &c, buf, 50, 10, &lost), 0);
	ck_assert_uint_eq(fs_lane_read(l, &c, buf, sizeof(buf), 10, &lost), 1);
	check_rec(buf, 1);
	fs_ring_free(r);
}
END_TEST

START_TEST(wrap_and_overrun)
{
	fs_ring *r = fs_ring_create(1 << 20, 1, 1500);
	struct fs_lane *l = fs_ring_lane(r, 0);
	struct fs_cursor c, late;
	struct fs_lane_usage u;
	uint64_t next = 0, lost = 0, i;
	const uint64_t total = 100000;	/* ~10 MB through a 1 MB ring */

	fs_cursor_oldest(l, &c);
	fs_cursor_oldest(l, &late);
	for (i = 0; i < total; i++) {
		put(l, i, (uint16_t)(60 + i % 64), NULL);
		if (i % 32 == 31)
			fs_lane_publish(l);
		/* c keeps up: it never loses anything */
		if (i % 1000 == 999)
			drain(l, &c, &next, &lost);
	}
	fs_lane_publish(l);
	drain(l, &c, &next, &lost);
	ck_assert_uint_eq(lost, 0);
	ck_assert_uint_eq(next, total);
	ck_assert_uint_gt(atomic_load(&l->chunks_dropped), 0);

	/* late never read: everything given up is counted, the rest read */
	next = 0;
	uint64_t got = drain(l, &late, &next, &lost);
	ck_assert_uint_gt(lost, 0);
	ck_assert_uint_eq(got + lost, total);
	ck_assert_uint_eq(next, total);

	fs_lane_usage(l, &u);
	ck_assert_uint_eq(u.pkts, got);
	ck_assert_uint_eq(u.dropped_pkts, lost);
	ck_assert_uint_eq(u.newest_ts, 1000 + total - 1);
	ck_assert_uint_eq(u.oldest_ts, 1000 + lost);
	ck_assert_uint_le(u.bytes, fs_ring_capacity(r));
	fs_ring_free(r);
}
END_TEST

START_TEST(random_access)
{
	fs_ring *r = fs_ring_create(1 << 20, 2, 9000);
	struct fs_lane *l = fs_ring_lane(r, 1);
	struct fs_ring_pos pos[2000];
	uint8_t buf[FS_REC_SIZE(9000)];
	static const uint16_t sizes[] = { 60, 64, 1500, 9000, 1, 333 };
	uint64_t i;

	ck_assert_ptr_null(fs_ring_lane(r, 2));
	for (i = 0; i < 2000; i++)
		put(l, i, sizes[i % 6], &pos[i]);
	/* not yet published: not readable */
	ck_assert_int_eq(fs_lane_read_at(l, pos[0], buf, sizeof(buf)), 0);
	fs_lane_publish(l);

	/* the lane holds 512 KiB: early packets are gone, late ones intact */
	ck_assert_int_eq(fs_lane_read_at(l, pos[0], buf, sizeof(buf)), 0);
	for (i = 1999; i > 1900; i--) {
		int n = fs_lane_read_at(l, pos[i], buf, sizeof(buf));

		ck_assert_int_eq(n, (int)FS_REC_SIZE(sizes[i % 6]));
		check_rec(buf, i);
	}
	/* too small a buffer is an error, not a truncation */
	errno = 0;
	ck_assert_int_eq(fs_lane_read_at(l, pos[1995], buf, 100), -1);
	ck_assert_int_eq(errno, ENOSPC);
	/* a position past the head is not there */
	struct fs_ring_pos future = { pos[1999].seq + 5, 0 };
	ck_assert_int_eq(fs_lane_read_at(l, future, buf, sizeof(buf)), 0);
	/* the other lane is untouched */
	struct fs_cursor c;
	uint64_t lost = 0;
	fs_cursor_oldest(fs_ring_lane(r, 0), &c);
	ck_assert_uint_eq(fs_lane_read(fs_ring_lane(r, 0), &c, buf,
				       sizeof(buf), 10, &lost), 0);
	fs_ring_free(r);
}
END_TEST

START_TEST(mixed_sizes_in_order)
{
	fs_ring *r = fs_ring_create(8u << 20, 1, 9000);
	struct fs_lane *l = fs_ring_lane(r, 0);
	struct fs_cursor c;
	uint64_t next = 0, lost = 0;
	unsigned seed = 7, n = 0;

	fs_cursor_oldest(l, &c);
	for (uint64_t i = 0; i < 3000; i++) {
		uint16_t cap = (uint16_t)(1 + rand_r(&seed) % 9000);

		put(l, i, cap, NULL);
		if (i % 7 == 0)
			fs_lane_publish(l);
		if (i % 100 == 0)
			n += drain(l, &c, &next, &lost);
	}
	fs_lane_publish(l);
	n += drain(l, &c, &next, &lost);
	ck_assert_uint_eq(lost, 0);
	ck_assert_uint_eq(n, 3000);
	fs_ring_free(r);
}
END_TEST

struct race {
	struct fs_lane *l;
	uint64_t total;
	_Atomic int done;
};

static void *writer(void *arg)
{
	struct race *rc = arg;

	for (uint64_t i = 0; i < rc->total; i++) {
		put(rc->l, i, (uint16_t)(40 + i % 200), NULL);
		if (i % 16 == 15)
			fs_lane_publish(rc->l);
	}
	fs_lane_publish(rc->l);
	atomic_store(&rc->done, 1);
	return NULL;
}

START_TEST(writer_races_reader)
{
	/* a small ring so the writer laps the reader again and again; every
	 * record the reader gets must be intact and in order */
	fs_ring *r = fs_ring_create(512 << 10, 1, 1500);
	struct race rc = { fs_ring_lane(r, 0), 2000000, 0 };
	struct fs_cursor c;
	uint64_t next = 0, lost = 0, got = 0;
	pthread_t t;

	fs_cursor_oldest(rc.l, &c);
	ck_assert_int_eq(pthread_create(&t, NULL, writer, &rc), 0);
	while (!atomic_load(&rc.done) || fs_lane_pending(rc.l, &c))
		got += drain(rc.l, &c, &next, &lost);
	pthread_join(t, NULL);
	ck_assert_uint_eq(got + lost, rc.total);
	ck_assert_uint_eq(next, rc.total);
	fs_ring_free(r);
}
END_TEST

START_TEST(shared_ring_is_read_only_elsewhere)
{
	/* a second mapping of the descriptor (as another process gets it)
	 * reads what the writer publishes, at its own address, and cannot
	 * be made writable in any way */
	int fd = -1;
	fs_ring *w = fs_ring_create_shared(1 << 20, 2, 1500, &fd);
	fs_ring *r;
	struct fs_cursor c;
	uint64_t next = 0, lost = 0;
	char err[256];
	uint8_t b = 0;

	ck_assert_ptr_nonnull(w);
	ck_assert_int_ge(fd, 0);
	r = fs_ring_attach(fd, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(fs_ring_lanes(r), 2);
	ck_assert_uint_eq(fs_ring_capacity(r), fs_ring_capacity(w));
	fs_cursor_oldest(fs_ring_lane(r, 1), &c);
	atomic_store(fs_ring_tag(w), 7);
	for (uint64_t i = 0; i < 3000; i++)
		put(fs_ring_lane(w, 1), i, (uint16_t)(60 + i % 1400), NULL);
	fs_lane_publish(fs_ring_lane(w, 1));
	/* the lane wrapped: what the reader gets is intact and in order */
	ck_assert_uint_gt(drain(fs_ring_lane(r, 1), &c, &next, &lost), 0);
	ck_assert_uint_eq(next, 3000);
	ck_assert_uint_gt(lost, 0);
	/* chunks started after the tag was set carry it */
	ck_assert_uint_eq(atomic_load(&fs_lane_chunk(fs_ring_lane(r, 1),
		fs_ring_lane(r, 1)->head)->tag), 7);
	ck_assert_int_eq(fs_ring_state(r), FS_RING_RUNNING);
	fs_ring_set_state(w, FS_RING_ENDED);
	ck_assert_int_eq(fs_ring_state(r), FS_RING_ENDED);
	ck_assert_ptr_eq(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			      fd, 0), MAP_FAILED);
	ck_assert_int_lt(pwrite(fd, &b, 1, 0), 0);
	ck_assert_int_lt(ftruncate(fd, 0), 0);
	fs_ring_free(r);
	fs_ring_free(w);
	close(fd);
}
END_TEST

START_TEST(attach_refuses_what_is_not_a_ring)
{
	char err[256];
	int fd = memfd_create("x", MFD_ALLOW_SEALING);

	/* unsealed */
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	ck_assert_ptr_null(fs_ring_attach(fd, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "sealed"));
	/* sealed, but garbage */
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
			       F_SEAL_FUTURE_WRITE), 0);
	ck_assert_ptr_null(fs_ring_attach(fd, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "version"));
	close(fd);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, create_bounds);
	tcase_add_test(tc, fifo_and_peek);
	tcase_add_test(tc, small_buffer_and_max);
	tcase_add_test(tc, wrap_and_overrun);
	tcase_add_test(tc, random_access);
	tcase_add_test(tc, mixed_sizes_in_order);
	tcase_add_test(tc, shared_ring_is_read_only_elsewhere);
	tcase_add_test(tc, attach_refuses_what_is_not_a_ring);
#ifndef __SANITIZE_THREAD__
	/* the seqlock's byte races are by design (see tests/tsan.supp), and
	 * reporting each of them makes this test take many minutes */
	tcase_add_test(tc, writer_races_reader);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ring_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
