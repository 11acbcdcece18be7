/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * traffic: the realistic profile of the built-in generator
 * (gen_profile = realistic), shared with the test tool fs-mktrace so that
 * both write the same frames for the same seed. A set of connection slots
 * is kept busy: each holds one TCP or UDP connection at a time, and every
 * packet comes from a slot drawn at random, so that many connections run
 * interleaved and each one's packets stay in order. Connection sizes
 * follow a heavy tail (a lognormal body below 14 KiB, a Pareto tail from
 * 20 KiB), TCP connections open with SYN, SYN-ACK, ACK, carry requests
 * and responses with acknowledgements, and end with FINs or a RST. Frames
 * are valid IPv4 with correct checksums. Plain C, no DPDK: one call per
 * packet, no allocation after creation.
 */
#ifndef FS_TRAFFIC_H
#define FS_TRAFFIC_H

#include <stdint.h>

/* Largest frame the profile writes: Ethernet, IPv4, TCP, a 1460-byte
 * segment. */
#define FS_TRAFFIC_FRAME_MAX 1514u

/* Bytes of a connection (its frames, both directions) above which it
 * counts as large: the 20 KB cutoff the profile's figures are quoted
 * for. */
#define FS_TRAFFIC_LARGE 20480u

/* Most connection slots a model takes (its memory grows with them). */
#define FS_TRAFFIC_SLOTS_MAX (1u << 24)

/* What one packet is, for callers that count (flags). */
#define FS_TRAFFIC_FIRST (1U << 0)	/* the connection's first packet */
#define FS_TRAFFIC_LAST (1U << 1)	/* its last: the slot starts anew */
#define FS_TRAFFIC_TCP (1U << 2)	/* a TCP connection (else UDP) */
#define FS_TRAFFIC_SYNACK (1U << 3)	/* TCP: the handshake's SYN-ACK */
#define FS_TRAFFIC_HANDSHAKE (1U << 4)	/* TCP: the handshake's last ACK */
#define FS_TRAFFIC_FIN (1U << 5)	/* TCP: a FIN */
#define FS_TRAFFIC_RST (1U << 6)	/* TCP: a RST */

struct fs_traffic_pkt {
	const uint8_t *frame;	/* valid until the next call */
	uint32_t len;		/* frame bytes */
	uint32_t slot;		/* the connection's slot: steer by it */
	uint64_t conn;		/* connections numbered 0, 1, ... as started */
	unsigned flags;		/* FS_TRAFFIC_* */
};

typedef struct fs_traffic fs_traffic;

/*
 * A model of slots concurrent connections (1 to FS_TRAFFIC_SLOTS_MAX)
 * whose whole output is fixed by seed. Returns NULL with errno EINVAL
 * (slots out of range) or ENOMEM.
 */
fs_traffic *fs_traffic_create(uint32_t slots, uint64_t seed);

/* The next packet, written into the model's own frame buffer. Never
 * fails. */
void fs_traffic_next(fs_traffic *t, struct fs_traffic_pkt *pkt);

/* Release t (NULL is fine). */
void fs_traffic_free(fs_traffic *t);

#endif
