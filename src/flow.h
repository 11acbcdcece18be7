/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The flow table of one ring lane: flows by key (an open-addressing
 * index; running out of memory or reaching max_flows is counted, never
 * fatal), per-flow state, and the lists the checker walks to end idle and
 * closed flows, which together hold every tracked flow (the control
 * commands walk them: FS_FLOW_EACH). One thread (the lane's receive
 * thread) owns a table; nothing here locks.
 */
#ifndef FS_FLOW_H
#define FS_FLOW_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "flowkey.h"

#define FS_FLOW_LINGER_NS 1000000000ull	/* after RST or both FINs */

/*
 * A flow entry is three cache lines, and what a packet touches is in the
 * first two: line 0 what its lookup and the end test read and what every
 * packet writes (key, last time, last packet, state bits), line 1 the
 * counters, so that the analyzer's prefetch of two lines is all the
 * memory a packet of a known flow waits for. The rest (list links,
 * what only commands read) is cold.
 */
struct fs_flow {
	/* line 0 */
	struct fs_flow_key key;
	uint64_t last_ts;
	uint64_t last_pkt;	/* lane packet number of its newest packet */
	uint8_t tcp_flags;	/* every flag seen, both directions */
	uint8_t fins;		/* bit d: a FIN went in direction d */
	uint8_t closed;		/* RST or both FINs: ends after the linger */
	uint8_t triggered;
	uint8_t init_dir;	/* direction of the first packet */
	uint8_t pad[3];
	/* line 1 */
	uint64_t pkts[2], bytes[2];
	uint64_t list_ts;	/* last_ts when it was put at its list's tail */
	/* top: counters of second ep and of the second before */
	uint32_t ep;
	uint32_t ep_pkts;
	uint64_t ep_bytes;
	uint32_t hash;
	uint32_t prev_pkts;
	/* line 2 */
	uint64_t first_ts;
	uint64_t cut_pkts, cut_bytes;	/* past the cutoff, not kept */
	uint64_t prev_bytes;
	struct fs_flow *prev, *next;	/* idle or closed list, oldest first */
} __attribute__((aligned(64)));

struct fs_flow_list {
	struct fs_flow *head, *tail;
};

/* Hot-path index of every tracked flow: open addressing with linear
 * probing over (hash, flow) slots, at least twice the flows it may hold,
 * so a lookup is usually one slot and one key compare. */
struct fs_flow_slot {
	uint32_t hash;
	struct fs_flow *flow;
};

struct fs_flow_table {
	struct fs_flow_slot *slots;
	uint32_t slot_mask;
	size_t slots_len;		/* bytes mapped */
	struct fs_flow *free;		/* recycled entries */
	struct fs_flow_list open, closed;
	uint32_t max_flows;
	uint32_t count;
	uint64_t timeout_ns;
	/* counters (read by other threads: relaxed atomics) */
	uint64_t created, ended, triggered;
	uint64_t refused;	/* packets of flows that could not be tracked */
	void **slabs;			/* entry memory, freed at the end */
	unsigned nslabs, slab_cap;
};

/* Every flow of table t, f in turn: the open list, then the closed one.
 * The body must not end flows or move them between lists. */
#define FS_FLOW_EACH(t, f, li)						\
	for (int li = 0; li < 2; li++)					\
		for (struct fs_flow *f = li == 0 ? (t)->open.head :	\
		     (t)->closed.head; f != NULL; f = f->next)

/* Two-step prefetch for a burst: first the slot of a hash, then (once
 * that has arrived) the flow it points to. Hints only. */
static inline void fs_flow_prefetch_slot(const struct fs_flow_table *t,
					 uint32_t hash)
{
	__builtin_prefetch(&t->slots[hash & t->slot_mask]);
}

static inline void fs_flow_prefetch_flow(const struct fs_flow_table *t,
					 uint32_t hash)
{
	const struct fs_flow *f = t->slots[hash & t->slot_mask].flow;

	if (f != NULL) {
		__builtin_prefetch(f, 1);
		__builtin_prefetch((const char *)f + 64, 1);
	}
}

/* Set up an empty table. Returns 0 or -1 (out of memory). */
/* Bytes of resident memory fs_flow_table_init maps for max_flows. */
size_t fs_flow_table_mem_size(uint32_t max_flows);

int fs_flow_table_init(struct fs_flow_table *t, uint32_t max_flows,
		       uint32_t timeout_s);
void fs_flow_table_free(struct fs_flow_table *t);

/* The keys are 40 bytes without padding: five word compares. */
static inline bool fs_flow_key_eq(const struct fs_flow_key *a,
				  const struct fs_flow_key *b)
{
	uint64_t a0, a1, a2, a3, a4, b0, b1, b2, b3, b4;

	memcpy(&a0, a, 8);
	memcpy(&a1, (const uint8_t *)a + 8, 8);
	memcpy(&a2, (const uint8_t *)a + 16, 8);
	memcpy(&a3, (const uint8_t *)a + 24, 8);
	memcpy(&a4, (const uint8_t *)a + 32, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, (const uint8_t *)b + 8, 8);
	memcpy(&b2, (const uint8_t *)b + 16, 8);
	memcpy(&b3, (const uint8_t *)b + 24, 8);
	memcpy(&b4, (const uint8_t *)b + 32, 8);
	return ((a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2) | (a3 ^ b3) |
		(a4 ^ b4)) == 0;
}

/* The slot of key's flow (hash: its fs_flow_hash), or the empty slot that
 * ends its probe run. */
static inline struct fs_flow_slot *fs_flow_probe(const struct fs_flow_table *t,
						 const struct fs_flow_key *key,
						 uint32_t hash)
{
	uint32_t i = hash & t->slot_mask;

	for (;;) {
		struct fs_flow_slot *s = &t->slots[i];

		if (s->flow == NULL || (s->hash == hash &&
					fs_flow_key_eq(&s->flow->key, key)))
			return s;
		i = (i + 1) & t->slot_mask;
	}
}

/* Has f ended by time ts (idle for the timeout, or closed and past the
 * linger)? The checker runs once per burst; a packet within the burst
 * must not revive a flow that ended before it. */
static inline bool fs_flow_ended_by(const struct fs_flow_table *t,
				    const struct fs_flow *f, uint64_t ts)
{
	uint64_t linger = FS_FLOW_LINGER_NS < t->timeout_ns ?
		FS_FLOW_LINGER_NS : t->timeout_ns;

	return ts >= f->last_ts + (f->closed ? linger : t->timeout_ns);
}

/* fs_flow_get when slot (probed) holds no flow, or one that ended. */
struct fs_flow *fs_flow_get_new(struct fs_flow_table *t,
				const struct fs_pkt_info *info, uint64_t ts,
				struct fs_flow_slot *slot);

/* The flow of info's key, created (first_ts = ts) when new. NULL when the
 * table is full or memory ran out (the packet is counted in refused). */
static inline struct fs_flow *fs_flow_get(struct fs_flow_table *t,
					  const struct fs_pkt_info *info,
					  uint64_t ts)
{
	struct fs_flow_slot *slot = fs_flow_probe(t, &info->key, info->hash);
	struct fs_flow *f = slot->flow;

	if (__builtin_expect(f != NULL && !fs_flow_ended_by(t, f, ts), 1))
		return f;
	return fs_flow_get_new(t, info, ts, slot);
}

/* The tracked flow of key, or NULL (nothing is created). */
struct fs_flow *fs_flow_find(const struct fs_flow_table *t,
			     const struct fs_flow_key *key);

/* fs_flow_update's rarer steps: a new second of the top counters; TCP
 * flags and the lists (returns whether the packet closed the flow). */
void fs_flow_next_second(struct fs_flow *f, uint32_t sec);
bool fs_flow_update_lists(struct fs_flow_table *t, struct fs_flow *f,
			  const struct fs_pkt_info *info);

/* Account one packet to f (counters, flags, lists). Returns true when
 * this packet closed the flow (RST, or the second FIN). */
static inline bool fs_flow_update(struct fs_flow_table *t, struct fs_flow *f,
				  const struct fs_pkt_info *info, uint64_t ts,
				  uint32_t len)
{
	uint32_t sec = (uint32_t)(ts / 1000000000ull);

	if (ts > f->last_ts)
		f->last_ts = ts;
	f->pkts[info->dir]++;
	f->bytes[info->dir] += len;
	if (__builtin_expect(sec != f->ep, 0))
		fs_flow_next_second(f, sec);
	f->ep_pkts++;
	f->ep_bytes += len;
	/* an open flow without TCP flags that need not move along its list
	 * is done (see fs_flow_update_lists) */
	if (__builtin_expect(!info->tcp_flags && !f->closed &&
			     (f->last_ts - f->list_ts <= t->timeout_ns / 8 ||
			      t->open.tail == f), 1))
		return false;
	return fs_flow_update_lists(t, f, info);
}

/* End every flow idle for the timeout (or closed and past the linger) at
 * time now; end(f, arg) is called for each just before it is removed.
 * Returns how many ended. */
unsigned fs_flow_expire(struct fs_flow_table *t, uint64_t now,
			void (*end)(struct fs_flow *f, void *arg), void *arg);

#endif
