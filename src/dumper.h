/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dumper: a thread that follows the delivery lanes and writes every
 * triggered flow to its own pcap file in dump_dir. Files are created
 * owner-only, never through a symlink or over an existing file (through
 * the privileged helper when the capture has one, see privsep.h). It
 * keeps a bounded number of them open, reopening a file for appending
 * when its flow writes again, so any number of flows is dumped and the
 * process keeps descriptors for everything else. A full disk or a
 * directory that went away is reported on stderr, counted, and capture
 * goes on.
 */
#ifndef FS_DUMPER_H
#define FS_DUMPER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "privsep.h"
#include "ring.h"

typedef struct fs_dumper fs_dumper;

/*
 * Start a dumper writing into the directory dirfd (named dir in
 * messages; both stay the caller's), creating and reopening files through
 * ps (NULL: directly), for lanes[0..n), publishing the chunk it reads of
 * lane i in seq[i] (so lossless sources can wait for it). snap: largest
 * record data; timeout_s: a file idle this long (packet time) is closed
 * for good. Returns NULL with err.
 */
fs_dumper *fs_dumper_start(const char *dir, int dirfd, fs_privsep *ps,
			   struct fs_lane **lanes, unsigned n,
			   _Atomic uint64_t *seq, uint32_t snap,
			   uint32_t timeout_s, char *err, size_t errlen);

/* Triggered flows' history references (spool_hist.h) are expanded with
 * open(arg, lane, rec, snap); what it does not find is added to
 * *lost[lane] (lost NULL: another reader counts it). Set before the
 * lanes get records. NULL d is fine. */
struct fs_spool_hist;
typedef struct fs_spool_hist *(*fs_hist_open_fn)(void *arg, unsigned lane,
						  const struct fs_pkt_hdr *rec,
						  uint32_t snap);
void fs_dumper_set_history(fs_dumper *d, fs_hist_open_fn open, void *arg,
			   _Atomic uint64_t *const *lost);

struct fs_dumper_stats;

/* Write what is left in the lanes (their writers have stopped), close
 * every file and stop; errors not reported yet get their line on stderr.
 * The final counters go to last (NULL: not wanted). NULL d is fine. */
void fs_dumper_stop(fs_dumper *d, struct fs_dumper_stats *last);

struct fs_dumper_stats {
	uint64_t files;		/* files created */
	uint64_t packets;	/* packets written */
	uint64_t errors;	/* files that could not be created or written */
	uint64_t lost;		/* packets the dumper fell too far behind for */
	uint64_t reopened;	/* files reopened after being closed for room */
};
void fs_dumper_stats(fs_dumper *d, struct fs_dumper_stats *s);

#endif
