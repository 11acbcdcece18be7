/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mapping of a NIC's clock onto the host's (hwclock.h): a rate fitted
 * between two readings, and a base that follows the newest one.
 */
#include "hwclock.h"

/* ns per tick between readings a and b; 0 when it is no clock's rate. */
static double rate(const struct fs_clock_pair *a, const struct fs_clock_pair *b)
{
	double r;

	if (b->ticks <= a->ticks || b->mono_ns <= a->mono_ns)
		return 0;
	r = (double)(b->mono_ns - a->mono_ns) / (double)(b->ticks - a->ticks);
	if (r < FS_HWCLOCK_NS_PER_TICK_MIN || r > FS_HWCLOCK_NS_PER_TICK_MAX)
		return 0;
	return r;
}

bool fs_hwclock_start(struct fs_hwclock *k, const struct fs_clock_pair *a,
		      const struct fs_clock_pair *b)
{
	double r = rate(a, b);

	k->ns_per_tick = r;
	if (r == 0)
		return false;
	k->first = *a;
	k->base = *b;
	return true;
}

bool fs_hwclock_update(struct fs_hwclock *k, const struct fs_clock_pair *p)
{
	double r = p->ticks > k->base.ticks ? rate(&k->first, p) : 0;

	if (r != 0) {
		k->ns_per_tick = r;
		k->base = *p;
		return true;
	}
	/* the device's clock was set or reset: its rate is what it was,
	 * its origin is not; fit anew from here */
	k->first = *p;
	k->base = *p;
	return false;
}
