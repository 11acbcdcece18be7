/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The since/until times of a capture window (DESIGN §2): absolute (ISO
 * 8601 in UTC, 2026-12-02T10:00:00Z, with optional fractional seconds and
 * Z or +00:00; or epoch seconds, 1796205600.5) or relative to now (-30s,
 * -10m, -2h, -1d; a bare -N is seconds). Times are nanoseconds since the
 * epoch. A window is half-open: since <= t < until.
 */
#ifndef FS_TIMEWIN_H
#define FS_TIMEWIN_H

#include <stddef.h>
#include <stdint.h>

/* Parse text at time now (ns). Returns 0 and *ns, or -1 with err saying
 * which form was expected (without the key's name). */
int fs_time_parse(const char *text, uint64_t now, uint64_t *ns, char *err,
		  size_t errlen);

/* Nanoseconds since the epoch, now (CLOCK_REALTIME). */
uint64_t fs_time_now(void);

#endif
