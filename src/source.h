/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sources of a capture (DESIGN §1) and their receive queues. Every source
 * ends up as a DPDK ethdev port; each of its rx queues has one receive
 * thread that copies bursts into its own ring lane. file= and gen are
 * fed by a feeder thread into DPDK ring devices, the way a NIC fills its
 * rx queues.
 */
#ifndef FS_SOURCE_H
#define FS_SOURCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "devname.h"
#include "ring.h"

#define FS_MAX_QUEUES 64
#define FS_BURST 32

struct fs_source;
struct rte_mempool;
struct rte_ring;
struct pcap;

/* What the receive threads need to know of their capture. */
struct fs_sink {
	/* lossless sources wait instead of overrunning a consumer; the
	 * application's reader publishes the chunk it reads per lane here
	 * (of the main lanes in live mode, of the delivery lanes in trigger
	 * mode), the dumper its chunk of each delivery lane (UINT64_MAX:
	 * no dumper) */
	_Atomic uint64_t *reader_seq;	/* indexed by lane */
	_Atomic uint64_t *dump_seq;
	bool trigger_mode;
	/* packets were published: n since the last wake-up the capture
	 * accepted; now: wake a sleeping reader whatever n is (the queue ran
	 * dry, or analysis waits for it). Returns true when the count starts
	 * over (the reader was woken or is awake anyway). */
	bool (*notify)(void *arg, unsigned n, bool now);
	void *notify_arg;
	uint32_t caplen;		/* bytes kept per packet */
};

/* One receive queue: a thread and a lane. */
struct fs_analyzer;

struct fs_rxq {
	struct fs_source *src;
	struct fs_analyzer *an;	/* flows of this lane */
	const struct fs_sink *sink;
	struct fs_lane *lane;
	uint16_t port, queue;
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	_Atomic bool done;	/* the source ended and the queue is empty */
	unsigned unwoken;	/* published since the reader was last woken */
};

struct fs_source {
	struct fs_source_spec spec;
	unsigned index;		/* position in the device name */
	uint16_t port;
	bool port_ok;		/* port configured (stop/close it) */
	bool port_owned;	/* vdev we created (remove it) */
	uint64_t owner_id;	/* dpdkN claimed with this owner id, or 0 */
	char vdev[64];
	struct rte_mempool *pool;
	bool pool_shared;	/* kept for the port's next capture */
	unsigned nq;
	struct fs_rxq rxq[FS_MAX_QUEUES];
	bool lossless;		/* file=: never overrun the reader */
	unsigned ifindex;	/* IFACE: the interface it was opened on */
	_Atomic bool gone;	/* IFACE: it disappeared or went down */

	/* feeder of file= and gen */
	struct rte_ring *rings[FS_MAX_QUEUES];
	pthread_t feeder;
	bool feeder_started;
	_Atomic bool feeder_stop;
	_Atomic bool feeder_done;
	struct pcap *file;
	const struct fs_config *cfg;
	char feeder_err[256];	/* why the source ended early, or "" */
};

/*
 * Open src (spec, index set by the caller): create or claim its port,
 * configure nq rx queues, start it. promisc: enable promiscuous mode.
 * Returns 0 or -1 with err; on error fs_source_close() releases what
 * was set up.
 */
int fs_source_open(struct fs_source *src, const struct fs_config *cfg,
		   int promisc, char *err, size_t errlen);

/* Start the feeder (file=, gen) and the receive threads (lanes set by the
 * caller). Returns 0 or -1 with err. */
int fs_source_start(struct fs_source *src, const struct fs_sink *sink,
		    char *err, size_t errlen);

/* Stop threads, stop and close the port, free its memory. Idempotent. */
void fs_source_close(struct fs_source *src);

/* Packets the NIC or driver missed. */
uint64_t fs_source_ifdrop(struct fs_source *src);

/* Feeders (source_file.c, gen.c): open their input; run in a thread. */
int fs_file_open(struct fs_source *src, char *err, size_t errlen);
void *fs_file_feeder(void *arg);
void *fs_gen_feeder(void *arg);

/* Hand n mbufs to queue q's ring, waiting while it is full. Returns false
 * when the feeder was told to stop. (source_dpdk.c) */
struct rte_mbuf;
bool fs_feed(struct fs_source *src, unsigned q, struct rte_mbuf **m,
	     unsigned n);

/* An mbuf (chained when longer than one segment) holding len bytes of
 * data, or NULL when the pool is empty. (source_dpdk.c) */
struct rte_mbuf *fs_mbuf_from(struct rte_mempool *pool, const void *data,
			      uint32_t len);

/* Receive thread (rx.c). */
void *fs_rx_thread(void *arg);

#endif
