/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow table (see flow.h). Entries come from slabs and are recycled
 * through a free list, so the packet path allocates only when the table
 * grows, and a failure to grow is a counted refusal.
 */
#include <stddef.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "flowkey.h"
#include "flow.h"
#include "mem.h"

_Static_assert(offsetof(struct fs_flow, pkts) == 64 &&
	       offsetof(struct fs_flow, prev_pkts) + 4 <= 128 &&
	       sizeof(struct fs_flow) == 192, "flow entry lines");

/* a slab is one 2 MiB huge page worth of entries (fewer TLB misses when
 * flows are many) */
#define SLAB_BYTES (2u << 20)
#define SLAB_FLOWS (SLAB_BYTES / sizeof(struct fs_flow))

#define SLOTS_MIN 1024u
#define SLOTS_MAX (1u << 24)

/* twice the flows it may hold: few collisions */
static uint32_t slot_count(uint32_t max_flows)
{
	uint32_t n = SLOTS_MIN;

	while (n < SLOTS_MAX && n < 2ull * max_flows)
		n <<= 1;
	return n;
}

size_t fs_flow_table_mem_size(uint32_t max_flows)
{
	return (size_t)slot_count(max_flows) * sizeof(struct fs_flow_slot);
}

int fs_flow_table_init(struct fs_flow_table *t, uint32_t max_flows,
		       uint32_t timeout_s)
{
	uint32_t n = slot_count(max_flows);

	memset(t, 0, sizeof(*t));
	t->max_flows = max_flows;
	t->timeout_ns = (uint64_t)timeout_s * 1000000000ull;
	t->slots_len = (size_t)n * sizeof(*t->slots);
	t->slots = fs_map_resident(t->slots_len);
	if (t->slots == NULL)
		return -1;
	t->slot_mask = n - 1;
	return 0;
}

void fs_flow_table_free(struct fs_flow_table *t)
{
	if (t->slots != NULL)
		munmap(t->slots, t->slots_len);
	for (unsigned i = 0; i < t->nslabs; i++)
		free(t->slabs[i]);
	free(t->slabs);
	memset(t, 0, sizeof(*t));
}

static void list_del(struct fs_flow_list *l, struct fs_flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		l->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = NULL;
}

static void list_add_tail(struct fs_flow_list *l, struct fs_flow *f)
{
	f->next = NULL;
	f->prev = l->tail;
	if (l->tail)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
}

/* One more slab of entries onto the free list. */
static int grow(struct fs_flow_table *t)
{
	struct fs_flow *slab;

	if (t->nslabs == t->slab_cap) {
		unsigned cap = t->slab_cap ? t->slab_cap * 2 : 16;
		void **s = realloc(t->slabs, cap * sizeof(*s));

		if (s == NULL)
			return -1;
		t->slabs = s;
		t->slab_cap = cap;
	}
	slab = aligned_alloc(SLAB_BYTES, SLAB_BYTES);
	if (slab == NULL)
		return -1;
	(void)madvise(slab, SLAB_BYTES, MADV_HUGEPAGE);
	t->slabs[t->nslabs++] = slab;
	for (unsigned i = 0; i < SLAB_FLOWS; i++) {
		slab[i].next = t->free;
		t->free = &slab[i];
	}
	return 0;
}

/*
 * Take f out of the slot index: find its slot along its probe run, then
 * shift later members of the run back into the hole (linear probing with
 * backward-shift deletion, so lookups never need tombstones).
 */
static void slot_remove(struct fs_flow_table *t, const struct fs_flow *f)
{
	uint32_t m = t->slot_mask, i = f->hash & m, j;

	while (t->slots[i].flow != f) {
		if (t->slots[i].flow == NULL)
			return;		/* not indexed (cannot happen) */
		i = (i + 1) & m;
	}
	for (j = (i + 1) & m; t->slots[j].flow != NULL; j = (j + 1) & m) {
		uint32_t home = t->slots[j].hash & m;

		/* may slot j's entry move back to i? only if its home is not
		 * in the cyclic range (i, j] */
		if (((j - home) & m) >= ((j - i) & m)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].flow = NULL;
}

static void remove_flow(struct fs_flow_table *t, struct fs_flow_list *l,
			struct fs_flow *f)
{
	slot_remove(t, f);
	list_del(l, f);
	f->next = t->free;
	t->free = f;
	t->count--;
	t->ended++;
}

struct fs_flow *fs_flow_find(const struct fs_flow_table *t,
			     const struct fs_flow_key *key)
{
	return fs_flow_probe(t, key, fs_flow_hash(key))->flow;
}

struct fs_flow *fs_flow_get_new(struct fs_flow_table *t,
				const struct fs_pkt_info *info, uint64_t ts,
				struct fs_flow_slot *slot)
{
	struct fs_flow *f = slot->flow;

	if (f != NULL) {
		remove_flow(t, f->closed ? &t->closed : &t->open, f);
		/* the run may have shifted */
		slot = fs_flow_probe(t, &info->key, info->hash);
	}
	/* the index stays at most 7/8 full, so probe runs stay short and
	 * always end */
	if (t->count >= t->max_flows || t->count >= t->slot_mask / 8 * 7 ||
	    (t->free == NULL && grow(t) < 0)) {
		t->refused++;
		return NULL;
	}
	f = t->free;
	t->free = f->next;
	memset(f, 0, sizeof(*f));
	f->key = info->key;
	f->hash = info->hash;
	f->first_ts = f->last_ts = f->list_ts = ts;
	f->init_dir = info->dir;
	f->ep = (uint32_t)(ts / 1000000000ull);
	list_add_tail(&t->open, f);
	t->count++;
	t->created++;
	slot->hash = f->hash;
	slot->flow = f;
	return f;
}

void fs_flow_next_second(struct fs_flow *f, uint32_t sec)
{
	if (sec == f->ep + 1) {
		f->prev_pkts = f->ep_pkts;
		f->prev_bytes = f->ep_bytes;
	} else {
		f->prev_pkts = 0;
		f->prev_bytes = 0;
	}
	f->ep = sec;
	f->ep_pkts = 0;
	f->ep_bytes = 0;
}

bool fs_flow_update_lists(struct fs_flow_table *t, struct fs_flow *f,
			  const struct fs_pkt_info *info)
{
	bool closes = false;

	if (info->tcp_flags) {
		f->tcp_flags |= info->tcp_flags;
		if (info->tcp_flags & FS_TCP_FIN)
			f->fins |= (uint8_t)(1u << info->dir);
		if (!f->closed && ((info->tcp_flags & FS_TCP_RST) ||
				   f->fins == 3))
			closes = true;
	}
	/*
	 * The lists are ordered by list_ts. Moving a flow to the tail on
	 * every packet would touch two other flows' memory per packet, so an
	 * open flow moves only when its time advanced by an eighth of the
	 * timeout; the checker looks at last_ts before it ends a flow.
	 */
	if (f->closed) {
		list_del(&t->closed, f);
		list_add_tail(&t->closed, f);
		f->list_ts = f->last_ts;
	} else if (closes) {
		f->closed = 1;
		list_del(&t->open, f);
		list_add_tail(&t->closed, f);
		f->list_ts = f->last_ts;
	} else if (f->last_ts - f->list_ts > t->timeout_ns / 8 &&
		   t->open.tail != f) {
		list_del(&t->open, f);
		list_add_tail(&t->open, f);
		f->list_ts = f->last_ts;
	}
	return closes;
}

unsigned fs_flow_expire(struct fs_flow_table *t, uint64_t now,
			void (*end)(struct fs_flow *f, void *arg), void *arg)
{
	unsigned n = 0;
	uint64_t linger = FS_FLOW_LINGER_NS < t->timeout_ns ?
		FS_FLOW_LINGER_NS : t->timeout_ns;

	while (t->open.head != NULL &&
	       t->open.head->list_ts + t->timeout_ns <= now) {
		struct fs_flow *f = t->open.head;

		if (f->last_ts + t->timeout_ns > now) {
			/* seen since it was queued: requeue, not end */
			list_del(&t->open, f);
			list_add_tail(&t->open, f);
			f->list_ts = f->last_ts;
			continue;
		}
		if (end)
			end(f, arg);
		remove_flow(t, &t->open, f);
		n++;
	}
	while (t->closed.head != NULL &&
	       t->closed.head->last_ts + linger <= now) {
		if (end)
			end(t->closed.head, arg);
		remove_flow(t, &t->closed, t->closed.head);
		n++;
	}
	return n;
}
