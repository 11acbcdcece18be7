/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the mapping of a NIC's clock onto host time: rate and
 * origin from two readings, refinement from noisy readings over a long
 * run, stamps before the base, a wall clock that steps, and clocks that
 * do not run like clocks.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "hwclock.h"

#define SEC 1000000000ull
/* host time at the start of a run, as CLOCK_REALTIME and MONOTONIC */
#define REAL0 (1700000000ull * SEC)
#define MONO0 (5000ull * SEC)

/* A device clock of ticks_per_sec starting at tick0 when the host's
 * monotonic clock reads MONO0; reading it at host time t (ns after the
 * start) with an error of err ns on the host's side. */
struct dev {
	double ticks_per_sec;
	uint64_t tick0;
	int64_t real_step;	/* added to the wall clock from step_at on */
	uint64_t step_at;
};

static uint64_t ticks_at(const struct dev *d, uint64_t t)
{
	return d->tick0 + (uint64_t)((double)t * d->ticks_per_sec / 1e9);
}

static uint64_t real_at(const struct dev *d, uint64_t t)
{
	return REAL0 + t + (d->step_at && t >= d->step_at ?
			    (uint64_t)d->real_step : 0);
}

static struct fs_clock_pair reading(const struct dev *d, uint64_t t,
				    int64_t err)
{
	struct fs_clock_pair p;

	p.ticks = ticks_at(d, t);
	p.mono_ns = MONO0 + (uint64_t)((int64_t)t + err);
	p.real_ns = real_at(d, t) + (uint64_t)err;
	return p;
}

static int64_t off_by(const struct fs_hwclock *k, const struct dev *d,
		      uint64_t t)
{
	return (int64_t)(fs_hwclock_ns(k, ticks_at(d, t)) - real_at(d, t));
}

START_TEST(exact_readings)
{
	/* mlx5-like: a free-running counter near 1 GHz, far from 0 */
	struct dev d = { 1000000123.0, 987654321012345ull, 0, 0 };
	struct fs_clock_pair a = reading(&d, 0, 0);
	struct fs_clock_pair b = reading(&d, 20000000, 0);
	struct fs_hwclock k;

	ck_assert(fs_hwclock_start(&k, &a, &b));
	/* at the base and before it; a second after, within what a tick's
	 * rounding over the first 20 ms makes of it (1 in 2e7) */
	ck_assert_int_lt(llabs(off_by(&k, &d, 20000000)), 2);
	ck_assert_int_lt(llabs(off_by(&k, &d, 5000000)), 2);
	ck_assert_int_lt(llabs(off_by(&k, &d, SEC)), 60);
}
END_TEST

START_TEST(ticks_not_nanoseconds)
{
	/* a 156.25 MHz clock (6.4 ns per tick) starting at 0 */
	struct dev d = { 156250000.0, 0, 0, 0 };
	struct fs_clock_pair a = reading(&d, 0, 0);
	struct fs_clock_pair b = reading(&d, 20000000, 0);
	struct fs_hwclock k;

	ck_assert(fs_hwclock_start(&k, &a, &b));
	ck_assert(k.ns_per_tick > 6.39 && k.ns_per_tick < 6.41);
	/* one tick is 6.4 ns: the error stays within it */
	ck_assert_int_lt(llabs(off_by(&k, &d, 3 * SEC)), 8);
}
END_TEST

START_TEST(noisy_readings_refined)
{
	/* 25 ppm fast, readings off by up to 1 us either way */
	struct dev d = { 1e9 * (1 + 25e-6), 42, 0, 0 };
	struct fs_clock_pair a = reading(&d, 0, 1000);
	struct fs_clock_pair b = reading(&d, 20000000, -1000);
	struct fs_hwclock k;
	int64_t first;

	ck_assert(fs_hwclock_start(&k, &a, &b));
	/* 2 us over 20 ms: 1e-4 of rate error, 100 us a second later */
	first = llabs(off_by(&k, &d, 20000000 + SEC));
	ck_assert_int_lt(first, 120000);
	for (uint64_t s = 1; s <= 120; s++) {
		struct fs_clock_pair p = reading(&d, s * SEC,
						 s % 2 ? 1000 : -1000);

		ck_assert(fs_hwclock_update(&k, &p));
	}
	/* after two minutes: within the error of one reading, and little
	 * more a second past the newest */
	ck_assert_int_lt(llabs(off_by(&k, &d, 120 * SEC)), 1100);
	ck_assert_int_lt(llabs(off_by(&k, &d, 121 * SEC)), 1200);
	ck_assert_int_lt(llabs(off_by(&k, &d, 121 * SEC)), first);
}
END_TEST

START_TEST(wall_clock_steps)
{
	/* the wall clock is set 10 s forward at 5 s: the rate (fitted on
	 * the monotonic clock) stays, the stamps follow the wall clock */
	struct dev d = { 1e9, 1000, 10 * (int64_t)SEC, 5 * SEC };
	struct fs_clock_pair a = reading(&d, 0, 0);
	struct fs_clock_pair b = reading(&d, 20000000, 0);
	struct fs_hwclock k;

	ck_assert(fs_hwclock_start(&k, &a, &b));
	for (uint64_t s = 1; s <= 8; s++) {
		struct fs_clock_pair p = reading(&d, s * SEC, 0);

		ck_assert(fs_hwclock_update(&k, &p));
	}
	ck_assert(k.ns_per_tick > 0.999999 && k.ns_per_tick < 1.000001);
	ck_assert_int_lt(llabs(off_by(&k, &d, 8 * SEC + 500000000)), 2);
}
END_TEST

START_TEST(not_a_clock)
{
	struct dev still = { 0.0, 777, 0, 0 };
	struct dev slow = { 100000.0, 0, 0, 0 };	/* 100 kHz */
	struct dev fast = { 1e13, 0, 0, 0 };		/* 10 THz */
	struct fs_clock_pair a, b;
	struct fs_hwclock k;

	a = reading(&still, 0, 0);
	b = reading(&still, 20000000, 0);
	ck_assert(!fs_hwclock_start(&k, &a, &b));
	a = reading(&slow, 0, 0);
	b = reading(&slow, 20000000, 0);
	ck_assert(!fs_hwclock_start(&k, &a, &b));
	a = reading(&fast, 0, 0);
	b = reading(&fast, 20000000, 0);
	ck_assert(!fs_hwclock_start(&k, &a, &b));
	/* readings in the wrong order */
	ck_assert(!fs_hwclock_start(&k, &b, &a));
}
END_TEST

START_TEST(clock_reset)
{
	struct dev d = { 1e9, 50 * SEC, 0, 0 };
	struct fs_clock_pair a = reading(&d, 0, 0);
	struct fs_clock_pair b = reading(&d, 20000000, 0);
	struct fs_clock_pair p;
	struct fs_hwclock k;
	double rate;

	ck_assert(fs_hwclock_start(&k, &a, &b));
	p = reading(&d, SEC, 0);
	ck_assert(fs_hwclock_update(&k, &p));
	rate = k.ns_per_tick;
	/* at 2 s the device's clock starts over from 0 */
	d.tick0 = (uint64_t)-(int64_t)(2 * SEC);
	p = reading(&d, 2 * SEC, 0);
	ck_assert_uint_eq(p.ticks, 0);
	ck_assert(!fs_hwclock_update(&k, &p));
	ck_assert(k.ns_per_tick == rate);
	/* counted from the reading that showed the reset */
	ck_assert_int_lt(llabs(off_by(&k, &d, 2 * SEC + 300000000)), 2);
	/* and fitted anew from there */
	p = reading(&d, 3 * SEC, 0);
	ck_assert(fs_hwclock_update(&k, &p));
	ck_assert_int_lt(llabs(off_by(&k, &d, 3 * SEC + 1)), 2);
}
END_TEST

static Suite *hwclock_suite(void)
{
	Suite *s = suite_create("hwclock");
	TCase *tc = tcase_create("map");

	tcase_add_test(tc, exact_readings);
	tcase_add_test(tc, ticks_not_nanoseconds);
	tcase_add_test(tc, noisy_readings_refined);
	tcase_add_test(tc, wall_clock_steps);
	tcase_add_test(tc, not_a_clock);
	tcase_add_test(tc, clock_reset);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hwclock_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
