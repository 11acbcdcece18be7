/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32C (crc32c.h). The CRC32 instruction takes 8 bytes a cycle but
 * needs 3 cycles for its result, so one chain of them runs at a third
 * of what the unit can do. Three chains over three consecutive stretches
 * of LONG (then SHORT) bytes run side by side; since the CRC is linear,
 * the CRC of A then B is that of A moved past |B| zero bytes, xor that
 * of B started from 0, and moving past a fixed number of zero bytes is a
 * linear map of the 32-bit register, tabulated once per byte lane.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#include <rte_hash_crc.h>

#define POLY 0x82f63b78u	/* CRC-32C, bit-reflected */
#define LONG 8192u
#define SHORT 256u

static uint32_t zlong[4][256], zshort[4][256];
static int hw;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* mat (32 columns) times vec over GF(2) */
static uint32_t times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;

	for (; vec != 0; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

static void square(uint32_t *sq, const uint32_t *mat)
{
	for (unsigned n = 0; n < 32; n++)
		sq[n] = times(mat, mat[n]);
}

/* The map of moving a register past len zero bytes (len a power of 2),
 * as a table per byte of the register. */
static void zeros_table(uint32_t t[4][256], size_t len)
{
	uint32_t a[32], b[32], *op = a, *other = b, *tmp;
	uint32_t row = 1;

	/* one zero bit: shift right, feed the polynomial back */
	a[0] = POLY;
	for (unsigned n = 1; n < 32; n++, row <<= 1)
		a[n] = row;
	/* square up to one byte (8 bits), then once per doubling */
	for (unsigned k = 0; k < 3; k++) {
		square(other, op);
		tmp = op, op = other, other = tmp;
	}
	for (; len > 1; len >>= 1) {
		square(other, op);
		tmp = op, op = other, other = tmp;
	}
	for (unsigned k = 0; k < 4; k++)
		for (unsigned v = 0; v < 256; v++)
			t[k][v] = times(op, v << (8 * k));
}

static void init(void)
{
	__builtin_cpu_init();
	hw = __builtin_cpu_supports("sse4.2");
	zeros_table(zlong, LONG);
	zeros_table(zshort, SHORT);
}

static inline uint32_t shift(uint32_t t[4][256], uint32_t crc)
{
	return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^
	       t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t hw_crc(const uint8_t *p, size_t n, uint32_t crc)
{
	uint64_t c0 = crc;

	while (n > 0 && ((uintptr_t)p & 7u) != 0) {
		c0 = __builtin_ia32_crc32qi((uint32_t)c0, *p++);
		n--;
	}
	for (size_t len = LONG; len >= SHORT; len = len == LONG ? SHORT : 0) {
		uint32_t (*t)[256] = len == LONG ? zlong : zshort;

		while (n >= 3 * len) {
			uint64_t c1 = 0, c2 = 0, w0, w1, w2;

			for (size_t i = 0; i < len; i += 8) {
				memcpy(&w0, p + i, 8);
				memcpy(&w1, p + len + i, 8);
				memcpy(&w2, p + 2 * len + i, 8);
				c0 = __builtin_ia32_crc32di(c0, w0);
				c1 = __builtin_ia32_crc32di(c1, w1);
				c2 = __builtin_ia32_crc32di(c2, w2);
			}
			c0 = shift(t, (uint32_t)c0) ^ (uint32_t)c1;
			c0 = shift(t, (uint32_t)c0) ^ (uint32_t)c2;
			p += 3 * len;
			n -= 3 * len;
		}
		if (len == SHORT)
			break;
	}
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c0 = __builtin_ia32_crc32di(c0, w);
	}
	while (n-- > 0)
		c0 = __builtin_ia32_crc32qi((uint32_t)c0, *p++);
	return (uint32_t)c0;
}

uint32_t fs_crc32c(const void *p, size_t n, uint32_t crc)
{
	const uint8_t *b = p;

	pthread_once(&once, init);
	if (hw)
		return hw_crc(b, n, crc);
	/* DPDK's: its word loop reads 8 bytes at a time, so it is fed
	 * bytes until the start is aligned (the same sum) */
	while (n > 0 && ((uintptr_t)b & 7u) != 0) {
		crc = rte_hash_crc_1byte(*b++, crc);
		n--;
	}
	return rte_hash_crc(b, (uint32_t)n, crc);
}
