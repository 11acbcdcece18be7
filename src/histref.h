/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The reference record to a triggered flow's history on disk: the data
 * of a FS_REC_HIST record in a delivery lane (spool_hist.h reads it).
 */
#ifndef FS_HISTREF_H
#define FS_HISTREF_H

#include <stdint.h>

#include "flowkey.h"

#define FS_HIST_MAGIC 0x31485346u	/* "FSH1" */

struct fs_hist_ref {
	uint32_t magic;		/* FS_HIST_MAGIC */
	uint32_t lane;		/* the flow's lane */
	uint64_t first_ts;	/* the flow's first packet */
	uint64_t before_seq;	/* the history is in chunks before this one */
	uint64_t expect;	/* packets of the flow there */
	uint32_t hash;		/* fs_flow_hash of key */
	uint32_t pad;
	struct fs_flow_key key;
};

#endif
