/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sources of a capture (DESIGN §1) and their receive queues. A kernel
 * interface is read through TPACKET_V3 packet socket rings, one per
 * queue (source_tpacket.c); every other source ends up as a DPDK ethdev
 * port (source_dpdk.c). Each rx queue has one receive thread that copies
 * what arrives into its own ring lane through the steps of rx.c. file=
 * and gen are fed by a feeder thread into DPDK ring devices, the way a
 * NIC fills its rx queues.
 */
#ifndef FS_SOURCE_H
#define FS_SOURCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "thread.h"
#include "config.h"
#include "devname.h"
#include "flowscope.h"
#include "hwclock.h"
#include "ring.h"

#define FS_MAX_QUEUES 64
#define FS_BURST 32

struct fs_source;
struct fs_traffic;
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
	/* the spool's next chunk per lane, or NULL: no spool (lossless
	 * sources wait for it too, once per chunk) */
	_Atomic uint64_t *spool_seq;
	bool trigger_mode;
	/* an application reads (false: FS_OPEN_NO_READER): only then is
	 * reader_seq waited for */
	bool reader;
	/* packets were published: n since the last wake-up the capture
	 * accepted; now: wake a sleeping reader whatever n is (the queue ran
	 * dry, or analysis waits for it). Returns true when the count starts
	 * over (the reader was woken or is awake anyway). */
	bool (*notify)(void *arg, unsigned n, bool now);
	void *notify_arg;
	/* a receive queue ended (after its last notify); NULL: nothing to
	 * do beyond notify */
	void (*ended)(void *arg);
	uint32_t caplen;		/* bytes kept per packet */
	/* the reader's counts, which an attached source reports to its
	 * publisher (NULL: none) */
	const _Atomic uint64_t *delivered, *lost;
};

/* The packet socket and kernel ring of one queue of an interface. */
struct fs_tpq {
	int fd;			/* valid when open */
	bool open;
	uint8_t *map;		/* the ring, mapped; NULL: not mapped */
	size_t map_len;
	uint32_t block_size, nblocks;
	uint32_t next;		/* block the receive thread reads next */
	int wake_fd;		/* a posted control request (analyzer.h) */
	bool wake_open;
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
	bool wait_main;		/* lossless live source: wait for the reader */
	struct fs_tpq tp;	/* IFACE */
	/* dpdkN stamped by the NIC (copies of the source's, see there);
	 * the thread refines its own clk */
	uint64_t hw_flag;
	int hw_off;
	bool hw_map;
	struct fs_hwclock clk;
	uint64_t clk_next;	/* CLOCK_MONOTONIC ns of its next reading */
	/* stamps of a NIC's own clock, maybe far from the host's: a quiet
	 * queue ages its flows by host time moved by skew_ns, the newest
	 * stamp less the host's time when it was taken */
	bool own_clock;
	int64_t skew_ns;
};

struct fs_source {
	struct fs_source_spec spec;
	unsigned index;		/* position in the device name */
	uint16_t vlan;		/* source_vlans: VLAN id pushed onto every
				 * packet of this source, 0: none */
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
	bool loopback;		/* IFACE: lo, whose packets are seen twice */
	int stop_fd;		/* IFACE: eventfd that wakes its threads to
				 * stop; valid when stop_fd_open */
	bool stop_fd_open;
	_Atomic uint64_t kernel_drops;	/* IFACE: tp_drops summed so far */
	struct fs_spool_reader *spool;	/* SPOOL: what it reads */
	struct fs_attach *att;		/* ATTACH: the publisher, its ring */
	/* FILE, SPOOL: what is delivered, win_lo <= ts < win_hi (ns) */
	uint64_t win_lo, win_hi;
	enum fs_tstamp tstamp;	/* the kind asked for (never DEFAULT) */
	bool tstamp_fell_back;	/* not to be had: host time instead */
	/* dpdkN with the rx timestamp offload on: the mbuf flag and field
	 * of the NIC's stamp (hw_flag 0: not taken), and whether its ticks
	 * are mapped onto host time through clk (else they are taken as
	 * nanoseconds of the NIC's clock) */
	uint64_t hw_flag;
	int hw_off;
	bool hw_map;
	struct fs_hwclock clk;

	/* feeder of file= and gen */
	struct rte_ring *rings[FS_MAX_QUEUES];
	pthread_t feeder;
	bool feeder_started;
	_Atomic bool feeder_stop;
	_Atomic bool feeder_done;
	struct pcap *file;
	struct fs_traffic *traffic;	/* gen, realistic profile; or NULL */
	const struct fs_config *cfg;
	char feeder_err[256];	/* why the source ended early, or "" */
};

/* How the application opens its sources (fs_source_open). */
struct fs_source_params {
	uint32_t caplen;	/* bytes kept per packet (as fs_sink.caplen) */
	int promisc;		/* interfaces: take promiscuous mode */
	int immediate;		/* the application wants every packet at once */
	int timeout_ms;		/* its buffering timeout (<= 0: none) */
	enum fs_tstamp tstamp;	/* timestamps wanted (never DEFAULT) */
};

/*
 * The interface every kind of source offers (source.c picks the
 * backend by kind).
 *
 * Open src (spec, index set by the caller) with nq rx queues: open the
 * interface's packet sockets, or create or claim its DPDK port and start
 * it. Returns 0 or -1 with err; on error fs_source_close() releases what
 * was set up.
 */
int fs_source_open(struct fs_source *src, const struct fs_config *cfg,
		   const struct fs_source_params *p, char *err, size_t errlen);

/* Does a source of this kind need DPDK's EAL? (Interfaces do not.) */
bool fs_source_needs_eal(enum fs_source_kind kind);

/* Start the feeder (file=, gen) and the receive threads (lanes set by the
 * caller). Returns 0 or -1 with err. */
int fs_source_start(struct fs_source *src, const struct fs_sink *sink,
		    char *err, size_t errlen);

/* Stop threads, close sockets or stop and close the port, free its
 * memory. Idempotent; fine on a source that was never opened. */
void fs_source_close(struct fs_source *src);

/* Packets the NIC, driver or kernel ring missed. Any thread. */
uint64_t fs_source_ifdrop(struct fs_source *src);

/*
 * The kinds of timestamp a source of spec can deliver, as
 * FS_TSTAMP_BIT()s (FS_TSTAMP_HOST always). A dpdkN port is asked, so
 * the EAL must run. Never fails: what cannot be looked at offers
 * FS_TSTAMP_HOST only.
 */
unsigned fs_source_tstamp_types(const struct fs_source_spec *spec);

/* The DPDK backend (source_dpdk.c): dpdkN, file=, gen. */
int fs_dpdk_open(struct fs_source *src, const struct fs_config *cfg,
		 const struct fs_source_params *p, char *err, size_t errlen);
int fs_dpdk_start(struct fs_source *src, const struct fs_sink *sink,
		  char *err, size_t errlen);
void fs_dpdk_close(struct fs_source *src);
uint64_t fs_dpdk_ifdrop(struct fs_source *src);
/* An open dpdkN port's device on a real bus (its name, such as a PCI
 * address, into name): true; a virtual one, or not a port: false. */
bool fs_dpdk_device(const struct fs_source *src, char *name, size_t len);
unsigned fs_dpdk_tstamp_types(uint16_t port);
/* Read port's clock and the host's together into p (the best of a few
 * tries). Returns 0, or -1 when the port's clock cannot be read. */
int fs_dpdk_read_clocks(uint16_t port, struct fs_clock_pair *p);

/* The interface backend (source_tpacket.c): IFNAME through TPACKET_V3
 * rings, without DPDK. */
int fs_tpacket_open(struct fs_source *src, const struct fs_config *cfg,
		    const struct fs_source_params *p, char *err,
		    size_t errlen);
int fs_tpacket_start(struct fs_source *src, const struct fs_sink *sink,
		     char *err, size_t errlen);
void fs_tpacket_close(struct fs_source *src);
uint64_t fs_tpacket_ifdrop(struct fs_source *src);
unsigned fs_tpacket_tstamp_types(const char *ifname);

/* The spool reader (source_spool.c): spool=DIR, the history a spool
 * keeps, in time order, without DPDK. */
int fs_spoolsrc_open(struct fs_source *src, const struct fs_config *cfg,
		     char *err, size_t errlen);
int fs_spoolsrc_start(struct fs_source *src, const struct fs_sink *sink,
		      char *err, size_t errlen);
void fs_spoolsrc_close(struct fs_source *src);
/* The application's filter: blocks whose index says no packet of them
 * can pass it are not read from then on (bpfhint.h). Any thread. */
struct bpf_insn;
void fs_spoolsrc_set_filter(struct fs_source *src, const struct bpf_insn *insns,
			    unsigned n);
/* Blocks read and skipped by the index so far. */
/* The application reads (without a filter): the reader may choose its
 * blocks now instead of waiting a moment for a filter. */
void fs_spoolsrc_go(struct fs_source *src);
/* A triggered flow's history (the reference record rec) read back from
 * the spool the source reads, records cut to snap; NULL on ENOMEM. */
struct fs_spool_hist;
struct fs_spool_hist *fs_spoolsrc_hist_open(struct fs_source *src,
					    const struct fs_pkt_hdr *rec,
					    uint32_t snap);
/*
 * An attached reader's history before the ring, from its publisher's
 * spool directory dir: for each lane l < nlanes with before[l] != 0 (the
 * ring's oldest chunk there is before[l], and it does not reach back to
 * since), an iterator of every packet of the lane from since on, up to
 * chunk before[l], into out[l] (NULL: nothing on disk). With limit, the
 * seam may move later, up to chunk limit[l] (the ring's newest): past
 * every chunk from before[l] on that the spool already holds, so that
 * the ring's part starts where the publisher will not recycle it soon;
 * before[l] then says where. Returns 0, or -1 with err (out all NULL).
 */
/* A triggered flow's history (the reference record rec of an attached
 * reader's analyzer) from its publisher's spool directory dir, scanned
 * anew; records cut to snap. NULL when it cannot be read. */
struct fs_spool_hist *fs_spooldir_flow_history(const char *dir,
					       const struct fs_pkt_hdr *rec,
					       uint32_t snap);
int fs_spooldir_history(const char *dir, unsigned nlanes, uint64_t since,
			uint64_t *before, const uint64_t *limit, uint32_t snap,
			struct fs_spool_hist **out, char *err, size_t errlen);
void fs_spoolsrc_counts(struct fs_source *src, uint64_t *read,
			uint64_t *skipped);

/* The attached ring (source_attach.c): @NAME, a ring another process
 * publishes (share.h). fs_attachsrc_connect() attaches before the
 * capture sets up its lanes, which are the ring's; open gives the source
 * one queue per lane; the thread watches the publisher and wakes the
 * reader. */
int fs_attachsrc_connect(struct fs_source *src, const struct fs_config *cfg,
			 char *err, size_t errlen);
fs_ring *fs_attachsrc_ring(struct fs_source *src);
int fs_attachsrc_open(struct fs_source *src, char *err, size_t errlen);
int fs_attachsrc_start(struct fs_source *src, const struct fs_sink *sink,
		       char *err, size_t errlen);
void fs_attachsrc_close(struct fs_source *src);
/* Is the record of chunk tag ours (the group's steering)? */
struct fs_pkt_hdr;
struct fs_frag;
bool fs_attachsrc_mine(struct fs_source *src, const struct fs_pkt_hdr *h,
		       uint32_t tag, struct fs_frag *frags, bool *unknown);
bool fs_attachsrc_grouped(const struct fs_source *src);


/* Feeders (source_file.c, gen.c): open their input; run in a thread. */
int fs_file_open(struct fs_source *src, char *err, size_t errlen);
void *fs_file_feeder(void *arg);
void *fs_gen_feeder(void *arg);

/* gen's profile (gen.c): the realistic model when gen_profile asks for
 * it; 0, or -1 with err naming the key. fs_gen_close() frees it
 * (idempotent). */
int fs_gen_open(struct fs_source *src, const struct fs_config *cfg,
		char *err, size_t errlen);
void fs_gen_close(struct fs_source *src);

/* Hand n mbufs to queue q's ring, waiting while it is full. Returns false
 * when the feeder was told to stop. (source_dpdk.c) */
struct rte_mbuf;
bool fs_feed(struct fs_source *src, unsigned q, struct rte_mbuf **m,
	     unsigned n);

/* An mbuf (chained when longer than one segment) holding len bytes of
 * data, or NULL when the pool is empty. (source_dpdk.c) */
struct rte_mbuf *fs_mbuf_from(struct rte_mempool *pool, const void *data,
			      uint32_t len);

/* Receive thread of a DPDK port's queue (rx.c). */
void *fs_rx_thread(void *arg);

/*
 * The steps every receive thread takes with its lane (rx.c), whatever
 * the packets come from. A thread calls fs_rx_begin() first; per packet
 * fs_rx_reserve() and fills the record; after each burst
 * fs_lane_publish() and fs_rx_burst_done(); when nothing came
 * fs_rx_idle(); and fs_rx_end() last. None of them allocates or takes a
 * lock per packet.
 */
void fs_rx_begin(struct fs_rxq *r, const char *name);

/* Slow paths of fs_rx_reserve. */
void fs_rx_wait_reader(struct fs_rxq *r, uint32_t cap);
void fs_rx_new_chunk(struct fs_rxq *r, uint32_t cap);

/* Room for one record of cap bytes in the lane: a lossless source waits
 * for its reader first, and a new chunk never gives up one the analysis
 * has not passed. Never fails. */
static inline struct fs_pkt_hdr *fs_rx_reserve(struct fs_rxq *r,
					       uint32_t cap)
{
	struct fs_lane *l = r->lane;

	if (r->wait_main)
		fs_rx_wait_reader(r, cap);
	if (__builtin_expect(l->cur_used + FS_REC_SIZE(cap) > l->data_size, 0))
		fs_rx_new_chunk(r, cap);
	return fs_lane_reserve(l, cap, NULL);
}

/* n packets were just published: analyze them here or leave them to the
 * application's reader, and wake the reader when it is due. */
void fs_rx_burst_done(struct fs_rxq *r, unsigned n);

/* Nothing arrived: analyze what is left (aging flows by the clock when
 * clock is set, the clock of the queue's stamps: see own_clock) and let
 * a waiting reader have what there is. */
void fs_rx_idle(struct fs_rxq *r, bool clock);

/* A queue whose stamps are of its NIC's own clock (own_clock) took a
 * packet stamped newest just now. */
void fs_rx_own_clock(struct fs_rxq *r, uint64_t newest);

/* The thread ends: publish and analyze the rest, mark the queue done,
 * wake the reader. */
void fs_rx_end(struct fs_rxq *r);

/* Did the interface of src disappear or go down? Then feeder_err says
 * which and true is returned. */
bool fs_rx_iface_gone(struct fs_source *src);

#endif
