/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A NIC's clock mapped onto the host's: the ticks a driver writes into
 * DPDK's rx timestamp field, in whatever unit and from whatever origin
 * the device counts, turned into nanoseconds since the epoch from pairs
 * of (device clock, host clock) readings. Arithmetic only: who reads the
 * clocks, and when, is source_dpdk.c's and rx.c's business.
 */
#ifndef FS_HWCLOCK_H
#define FS_HWCLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* One reading of both clocks, taken as close together as possible. */
struct fs_clock_pair {
	uint64_t ticks;		/* the device's clock */
	uint64_t mono_ns;	/* CLOCK_MONOTONIC: the rate is fitted on it,
				 * so a step of the wall clock bends nothing */
	uint64_t real_ns;	/* CLOCK_REALTIME: where the stamps land */
};

/*
 * The rate is fitted over everything since the first reading, so it gets
 * better the longer the capture runs (the error of one reading, a
 * microsecond or so, spread over ever more time), and each new reading
 * becomes the base the stamps are counted from, so that the wall clock's
 * own corrections (NTP) are followed.
 */
struct fs_hwclock {
	struct fs_clock_pair first;	/* origin of the rate's fit */
	struct fs_clock_pair base;	/* stamps are counted from here */
	double ns_per_tick;
};

/* Plausible device clocks run between 1 MHz and 1 THz. */
#define FS_HWCLOCK_NS_PER_TICK_MIN 0.001
#define FS_HWCLOCK_NS_PER_TICK_MAX 1000.0

/*
 * Start k from two readings a and b (b later). Returns false, leaving k
 * unusable, when the device's clock did not advance or the rate it gives
 * is not one a clock has: such a driver's stamps are not taken.
 */
bool fs_hwclock_start(struct fs_hwclock *k, const struct fs_clock_pair *a,
		      const struct fs_clock_pair *b);

/*
 * Refine k with a later reading p: a new rate over the whole span since
 * the first reading, and p as the new base. A reading that contradicts
 * the fit (the device's clock went back or stood still, or the rate left
 * the bounds: the clock was set or reset) makes p the first reading and
 * the base, with the rate found so far, and false is returned.
 */
bool fs_hwclock_update(struct fs_hwclock *k, const struct fs_clock_pair *p);

/* Nanoseconds since the epoch of device time ticks, which may be before
 * the base as well as after it (packets stamped before the newest
 * reading). */
static inline uint64_t fs_hwclock_ns(const struct fs_hwclock *k,
				     uint64_t ticks)
{
	int64_t d = (int64_t)(ticks - k->base.ticks);

	return k->base.real_ns + (uint64_t)(int64_t)((double)d *
						      k->ns_per_tick);
}

#endif
