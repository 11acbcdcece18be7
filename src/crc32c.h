/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32C (Castagnoli), as the spool's blocks and indexes carry it: the
 * plain register update with no inversion before or after, the value
 * DPDK's rte_hash_crc() gives for the same bytes and start. With SSE4.2
 * (checked at run time) three independent streams keep the CPU's CRC32
 * unit busy and are joined by table lookups; otherwise DPDK's.
 */
#ifndef FS_CRC32C_H
#define FS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes at p, continuing from crc. Any alignment. */
uint32_t fs_crc32c(const void *p, size_t n, uint32_t crc);

#endif
