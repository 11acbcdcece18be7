/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The analyzer of one ring lane: flow key, flow table, history index,
 * trigger filter, and the copy of triggered flows (history first) into
 * the lane's delivery lane. It follows the lane with a cursor of its own
 * and reads the published records in place. One thread at a time owns
 * it (fs_analyzer_try): the lane's receive thread, or the application's
 * reader, which analyzes whenever it has caught up with the packets, so
 * that the receive thread mostly receives and stores (rx.c, capture.c).
 * The receive thread never gives up a chunk the cursor has not passed:
 * it catches the analysis up first. The checker (flow expiry) runs after each run.
 * Other threads reach a lane's flows only through its mailbox, which the
 * owner serves between runs.
 */
#ifndef FS_ANALYZER_H
#define FS_ANALYZER_H

#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "flow.h"
#include "flowkey.h"
#include "ring.h"

/* Record flag: first delivered packet of a triggered flow. */
#define FS_REC_FIRST 0x01

/* One history index entry per stored packet, by lane packet number. */
struct fs_hist {
	uint64_t seq;		/* chunk of the record */
	uint32_t off;		/* offset in the chunk */
	uint32_t back;		/* packets back to the flow's previous one, 0: none */
};

enum fs_req_type { FS_REQ_FLOWS, FS_REQ_TRIGGER, FS_REQ_TOP,
		   FS_REQ_TRIGGER_KEY };

struct fs_top_entry {
	struct fs_flow_key key;
	uint64_t pkts, bytes;	/* over the last complete second */
	bool triggered;
};

/* A request of the control thread to one lane. */
struct fs_request {
	enum fs_req_type type;
	const struct bpf_program *filter;	/* may be NULL */
	FILE *out;				/* FLOWS: lines go here */
	unsigned n;				/* TOP: entries wanted */
	struct fs_top_entry *top;		/* TOP: n entries */
	unsigned ntop;				/* TOP: filled */
	uint64_t count;				/* TRIGGER/FLOWS: flows */
	const struct fs_flow_key *key;		/* TRIGGER_KEY: the flow */
};

#define FS_AN_BURST 64	/* records per burst of analysis */

/* The flow of a fragmented IPv4 datagram, learnt from its first fragment
 * (which has the ports) for its later fragments (which have none). */
struct fs_frag {
	uint32_t tag;			/* fs_pkt_info.frag_tag, 0: empty */
	uint8_t dir;
	uint32_t hash;
	uint64_t ts;
	struct fs_flow_key key;
};
#define FS_FRAGS 1024u

/* Learn from a first fragment, or give a later one its datagram's flow
 * (info's key, hash and direction), with frags[FS_FRAGS] as memory. */
void fs_frag_fixup(struct fs_frag *frags, struct fs_pkt_info *info,
		   uint64_t ts);

/* A trigger by key (FS_REQ_TRIGGER_KEY) of a flow not seen yet: its
 * first packet triggers it, up to flow_timeout after the request. */
#define FS_PENDING 64
struct fs_pending {
	struct fs_flow_key key;
	uint64_t until;		/* packet time; 0: a free entry */
};

/* A record read ahead of the analysis (fs_analyzer_step_ahead): parsed,
 * its flow's slot and then entry asked for from memory, analyzed later. */
#define FS_AN_AHEAD 256u
struct fs_an_ahead {
	uint64_t k;		/* lane packet number; UINT64_MAX: none */
	struct fs_pkt_info info;
};

struct fs_analyzer {
	struct fs_frag frags[FS_FRAGS];
	struct fs_an_ahead ahead[FS_AN_AHEAD];	/* by k % FS_AN_AHEAD */
	/* read ahead up to pcur; entries asked for up to packet pf_pkt
	 * (acur.pkt <= pf_pkt <= pcur.pkt) */
	struct fs_cursor pcur;
	uint64_t pf_pkt;
	struct fs_pending pending[FS_PENDING];
	unsigned npending;	/* entries in use */
	struct fs_lane *lane;		/* where packets are stored */
	struct fs_lane *deliv;		/* where triggered packets go, or NULL */
	struct fs_flow_table table;
	struct fs_hist *hist;		/* index ring */
	uint64_t hist_mask;		/* entries - 1 */
	size_t hist_len;		/* bytes mapped */
	struct bpf_program trigger;	/* bf_insns NULL: none */
	uint64_t now;			/* newest packet time */
	uint64_t cutoff;		/* bytes of history a flow keeps, 0: all */
	/* chunks the lane gives up are spooled: a trigger refers to the
	 * older history on disk (spool_hist.h) instead of losing it */
	bool spooled;
	uint32_t snap;			/* largest record data */
	uint8_t *scratch;		/* one record, for history copies */
	/* waits before a delivery copy would overrun a lossless reader */
	void (*wait)(void *arg, uint32_t cap);
	void *wait_arg;
	/* a packet matched the trigger (not an operator's or the bus's
	 * trigger): the bus publishes it (bus.h); NULL: no bus */
	void (*on_trigger)(void *arg, const struct fs_flow_key *k,
			   uint64_t ts_ns);
	void *on_trigger_arg;
	unsigned delivered;		/* copied since the owner zeroed it */
	/* packets analyzed that no trigger has selected (yet): each one of
	 * an untriggered or untracked flow adds one, a trigger takes its
	 * flow's packets off again (they are delivered or history_lost) */
	uint64_t untriggered;
	/* the cursor: next record to analyze */
	struct fs_cursor acur;
	bool shared;			/* the reader may help (lossy sources) */
	/* what the receive thread looks at per burst, away from the lines
	 * the owner writes per packet: the cursor's position (stored once
	 * per run), ownership, and whether the reader helps */
	_Atomic uint64_t analyzed __attribute__((aligned(64)));	/* acur.pkt */
	_Atomic uint64_t aseq;		/* acur.seq */
	_Atomic int owner __attribute__((aligned(64)));	/* 1: owned */
	_Atomic int helper;		/* the application's reader helps */
	/* mailbox: 0 empty, 1 posted, 3 being served, 2 done */
	_Atomic int mbox_state __attribute__((aligned(64)));
	struct fs_request *mbox;
	/* an eventfd the serving thread sleeps on (poll) when it has no
	 * packets, written when a request is posted; -1: it never sleeps
	 * long. Set before that thread starts, cleared after it ended. */
	_Atomic int wake_fd;
	/* one caller of fs_analyzer_call at a time (the control thread,
	 * the bus's delivery threads) */
	pthread_mutex_t call_lock;
	/* counters other threads read */
	_Atomic uint64_t flows_active, flows_triggered, flows_ended;
	_Atomic uint64_t history_lost, untracked_packets;
	_Atomic uint64_t cut_packets, cut_bytes;	/* past the cutoff */
	_Atomic uint64_t not_triggered;	/* untriggered, as of the last tick */
	/* a lane another process writes (flowscope:@NAME), which never
	 * waits for this analyzer: fs_analyzer_foreign() */
	struct fs_foreign *foreign;
};

/*
 * What a lane that another process writes needs (fs_analyzer_foreign):
 * its records are copied out a burst at a time and checked before they
 * are analyzed, because the writer may reuse a chunk at any moment, and
 * what it gave up before we copied it is counted in *lost. keep (may be
 * NULL) says which records are ours (a group's steering); the others
 * are not analyzed. A record before act_pkt (lane packet number) or
 * older than act_ts is tracked but cannot trigger: the flows that were
 * in the ring when the reader attached have their history, and only
 * what arrives from then on (or from since on) selects flows.
 */
struct fs_foreign {
	uint8_t *buf;
	size_t len;
	struct fs_rec_where where[FS_AN_BURST];
	bool (*keep)(void *arg, const struct fs_pkt_hdr *h, uint32_t tag);
	void *keep_arg;
	uint64_t act_pkt, act_ts;
	/* records that could trigger: analyzed, and given up before we
	 * read them (the reader's ps_recv and ps_drop) */
	_Atomic uint64_t *seen, *lost;
};

/* Bytes of resident memory fs_analyzer_init maps for a lane of
 * lane_bytes and max_flows (history index and flow slots). */
uint64_t fs_analyzer_mem_size(uint64_t lane_bytes, uint32_t max_flows);

/*
 * Set up the analyzer of lane (deliv may be NULL when nothing is ever
 * delivered from it). trigger: a compiled program to copy, or NULL.
 * Returns 0 or -1 with err.
 */
int fs_analyzer_init(struct fs_analyzer *a, struct fs_lane *lane,
		     struct fs_lane *deliv, uint64_t lane_bytes,
		     uint32_t max_flows, uint32_t timeout_s,
		     const struct bpf_program *trigger, uint32_t snap,
		     char *err, size_t errlen);
void fs_analyzer_free(struct fs_analyzer *a);

/* Make a's lane a foreign one (struct fs_foreign, whose buf and len this
 * sets up; the analyzer frees them) and put its cursor at cur. Returns 0
 * or -1 with err. */
int fs_analyzer_foreign(struct fs_analyzer *a, struct fs_foreign *f,
			const struct fs_cursor *cur, char *err, size_t errlen);

/* Ownership: take it if free (true), wait for it, give it back. Every
 * function below but fs_analyzer_call wants the caller to own it. */
static inline bool fs_analyzer_try(struct fs_analyzer *a)
{
	int free_ = 0;

	return atomic_load_explicit(&a->owner, memory_order_relaxed) == 0 &&
		atomic_compare_exchange_strong_explicit(&a->owner, &free_, 1,
			memory_order_acquire, memory_order_relaxed);
}
void fs_analyzer_hold(struct fs_analyzer *a);
static inline void fs_analyzer_release(struct fs_analyzer *a)
{
	atomic_store_explicit(&a->owner, 0, memory_order_release);
}

/* Published packets of the lane not analyzed yet (any thread). */
static inline uint64_t fs_analyzer_backlog(struct fs_analyzer *a)
{
	return atomic_load_explicit(&a->lane->pkts, memory_order_acquire) -
		atomic_load_explicit(&a->analyzed, memory_order_acquire);
}

/*
 * Analyze up to max published records from the cursor on, in bursts
 * whose flow lookups are prefetched before any is made. Hot path: no
 * allocation but table growth, no locks. Returns how many.
 */
unsigned fs_analyzer_run(struct fs_analyzer *a, unsigned max);

/* After a run (and when idle): expire flows, serve the mailbox. */
void fs_analyzer_tick(struct fs_analyzer *a, uint64_t now);

/* A run of up to max records, then the tick at time now (0: packet
 * time); what it delivered is published. Returns the packets delivered. */
unsigned fs_analyzer_step(struct fs_analyzer *a, unsigned max, uint64_t now);

/*
 * The step of a receive thread that analyzes its own records as they
 * come, a burst at a time: it analyzes what it read ahead two calls ago,
 * whose flow entries it asked for in the previous call, asks for the
 * entries of what it read ahead then, and reads the newest records
 * ahead (parses them, asks for their flow slots). So each packet's two
 * memory loads (slot, then entry) have a burst's time to arrive. What
 * it leaves behind is analyzed by the next step of either kind; with
 * more than FS_AN_AHEAD records waiting it is fs_analyzer_step.
 */
unsigned fs_analyzer_step_ahead(struct fs_analyzer *a);

/* Serve a posted request, if any (receive thread). */
void fs_analyzer_serve(struct fs_analyzer *a);

/*
 * Control thread: run req on the lane's thread and wait for it (up to
 * timeout_ms). Callers of several threads take turns. When the lane's thread is gone (stopped), the request is
 * served by the caller. Returns 0, or -1 on timeout.
 */
int fs_analyzer_call(struct fs_analyzer *a, struct fs_request *req,
		     bool thread_alive, int timeout_ms);

#endif
