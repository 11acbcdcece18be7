/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The index of one spool segment: its blocks (where, when, how many
 * packets) and, for each flow and each address seen, the blocks holding
 * them, so that a lookup reads only blocks that can match. Flows are
 * keyed by the flow tracker's own hash of the canonical flow key
 * (flowkey.h), addresses by a hash of their 16 bytes; a hash shared by
 * two flows only costs a block read more, never a packet, since readers
 * match every packet they read.
 *
 * On disk, seg-N.idx beside seg-N.pcapng, written when the segment is
 * closed (a temporary file renamed into place) and rebuilt from the
 * segment when it is missing or damaged:
 *   struct fs_idx_hdr
 *   struct fs_idx_blk     blocks[nblocks]      in file order
 *   struct fs_idx_ent     flows[nflows]        sorted by (hash, block)
 *   struct fs_idx_ent     addrs[naddrs]        sorted by (hash, block)
 * host order; crc is CRC-32C of everything after the header.
 */
#ifndef FS_SPOOL_INDEX_H
#define FS_SPOOL_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_IDX_MAGIC 0x31495346u	/* "FSI1" */
#define FS_IDX_VERSION 2		/* 2: non-IP frames by EtherType */

struct fs_idx_hdr {
	uint32_t magic;
	uint32_t version;		/* FS_IDX_VERSION */
	uint64_t seg_num;
	uint64_t first_ts, last_ts;
	uint64_t packets;
	uint32_t nblocks, nflows, naddrs;
	uint32_t crc;
};

struct fs_idx_blk {
	uint64_t off;			/* in the segment */
	uint32_t total;			/* bytes, padding included */
	uint32_t npkts;
	uint64_t first_ts, last_ts;
	uint64_t first_pkt;		/* lane packet index */
	uint32_t lane;
	uint32_t pad;
};

struct fs_idx_ent {
	uint32_t hash;
	uint32_t block;
};

struct fs_spool_index {
	struct fs_idx_hdr h;
	struct fs_idx_blk *blocks;
	struct fs_idx_ent *flows, *addrs;
	size_t cap_blocks, cap_flows, cap_addrs;
	/* the block being added */
	uint32_t *tmp_flows, *tmp_addrs;
	size_t ntmp, cap_tmp, cap_tmpa;
};

/* Hash of a 16-byte address (IPv4: the first 4 bytes, the rest zero, as
 * in struct fs_flow_key). */
uint32_t fs_idx_addr_hash(const uint8_t addr[16]);

/* What stands for a non-IP frame's addresses: its EtherType. */
uint32_t fs_idx_ethertype_hash(uint16_t ethertype);

void fs_idx_init(struct fs_spool_index *x, uint64_t seg_num);
void fs_idx_free(struct fs_spool_index *x);

/* Building: one packet of the block being added (an Ethernet frame of
 * caplen bytes), then the block itself. Return -1 on ENOMEM. */
int fs_idx_add_packet(struct fs_spool_index *x, const uint8_t *pkt,
		      uint32_t caplen);
int fs_idx_add_block(struct fs_spool_index *x, const struct fs_idx_blk *b);

/* Forget every block from nblocks on (and their entries). */
void fs_idx_truncate(struct fs_spool_index *x, uint32_t nblocks);

/* Write x (sorting its entries first) to fd, then fdatasync it.
 * Returns 0 or -1 with errno. */
int fs_idx_write_fd(struct fs_spool_index *x, int fd);

/* Write x as name (in directory dfd) through name.tmp and a rename.
 * Sorts the entries first. Returns 0 or -1 with errno. */
int fs_idx_write(struct fs_spool_index *x, int dfd, const char *name);

/* Read name from dfd into x (initialized by this call). Returns 0, or -1
 * when it is missing, short or damaged (then x is empty and freed). */
int fs_idx_read(struct fs_spool_index *x, int dfd, const char *name);
/* The same from the open descriptor fd (closed by the call; -1 gives
 * -1). */
int fs_idx_read_fd(struct fs_spool_index *x, int fd);

/* Rebuild the index of segment fd (size bytes) by reading its blocks.
 * Returns 0 or -1. */
int fs_idx_rebuild(struct fs_spool_index *x, uint64_t seg_num, int fd,
		   uint64_t size);

/* Mark in bits (one per block, x->h.nblocks of them, zeroed by the
 * caller) the blocks that may hold the flow or the address of hash. */
void fs_idx_mark_flow(const struct fs_spool_index *x, uint32_t hash,
		      uint8_t *bits);
void fs_idx_mark_addr(const struct fs_spool_index *x, uint32_t hash,
		      uint8_t *bits);

#endif
