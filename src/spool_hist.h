/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A triggered flow's history on disk. When a trigger finds that the RAM
 * ring gave up some of its flow's packets to the spool, the analyzer puts
 * a reference record (FS_REC_HIST, a struct fs_hist_ref) into the
 * delivery lane ahead of the packets still in RAM. A reader of that lane
 * (the application's, the dumper) expands it in place with an iterator:
 * the flow's packets of the spool's blocks of that lane, chunks before
 * the boundary, found through the segments' flow indexes, in order and
 * each once. What the reference expected and the spool no longer has (a
 * disk that fell behind, segments recycled) is counted as lost.
 */
#ifndef FS_SPOOL_HIST_H
#define FS_SPOOL_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histref.h"
#include "ring.h"
#include "spool.h"

typedef struct fs_spool_hist fs_spool_hist;

/* The reference of record rec (a FS_REC_HIST record) into *ref: 0, or
 * -1 when rec is not one. */
int fs_hist_ref_get(const struct fs_pkt_hdr *rec, struct fs_hist_ref *ref);

/*
 * Start expanding the reference record rec (a FS_REC_HIST record of a
 * delivery lane) from the capture's own spool s, records cut to snap
 * bytes. Waits (up to a few seconds) for the spool to have written the
 * boundary. Returns NULL on ENOMEM or a record that is not a reference.
 */
fs_spool_hist *fs_spool_hist_open(fs_spool *s, const struct fs_pkt_hdr *rec,
				  uint32_t snap);


/*
 * The same over any spool's candidate blocks b[0..n) (each lane's in
 * order; the iterator takes b and frees it): open_seg(arg, seg) gives a
 * segment's descriptor, closed at the end when own_fds. Blocks of the
 * reference's lane from its before_seq on end that lane (UINT64_MAX: no
 * such bound). NULL on ENOMEM.
 */
fs_spool_hist *fs_hist_from_blocks(const struct fs_hist_ref *ref,
				   struct fs_spool_blkref *b, size_t n,
				   uint32_t snap,
				   int (*open_seg)(void *arg, uint64_t seg),
				   void *arg, bool own_fds);

/*
 * The next packets of the history, laid out as ring records (header,
 * data, padding) in the iterator's memory, valid until the next call:
 * returns their bytes and *npkts, or 0 at the end.
 */
size_t fs_spool_hist_next(fs_spool_hist *h, const uint8_t **recs,
			  unsigned *npkts);

/* Make h give every packet of its blocks from the reference's first_ts
 * on, not one flow's, up to the lane's before_seq (an attached reader's
 * history before the ring: capture.c); release(arg) when it is closed. */
void fs_spool_hist_every(fs_spool_hist *h, void (*release)(void *arg),
			 void *arg);

/* Call release(arg) when h is closed. */
void fs_spool_hist_on_close(fs_spool_hist *h, void (*release)(void *arg),
			    void *arg);

/* Packets the reference expected that the spool did not give (so far). */
uint64_t fs_spool_hist_missing(const fs_spool_hist *h);

void fs_spool_hist_close(fs_spool_hist *h);

#endif
