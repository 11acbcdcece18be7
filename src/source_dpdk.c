/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Turning a source into a started DPDK port: a port the EAL probed for
 * dpdkN, a ring device for file= and gen. Also the queue set-up shared
 * by them, and their teardown. (Interfaces: source_tpacket.c.)
 */
#define _GNU_SOURCE
/* rte_eth_read_clock() is still experimental in DPDK 22.11 */
#define ALLOW_EXPERIMENTAL_API
#include "source.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <rte_bus.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "eal.h"
#include "tsan.h"

#define POOL_CACHE 256
#define RING_SLOTS_MAX 1024u	/* feeder -> receive thread ring */
#define CLOCK_TRIES 3		/* readings of a port's clock, the best kept */
#define CLOCK_FIRST_MS 20	/* between the first two readings */

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static void dpdk_error(char *err, size_t errlen, const char *label,
		       const char *what, int e)
{
	char line[256];

	fs_eal_last_log(line, sizeof(line));
	snprintf(err, errlen, "%s: %s: %s%s%s", label, what, rte_strerror(e),
		 line[0] ? " (DPDK: " : "", line[0] ? line : "");
	if (line[0] && strlen(err) + 2 < errlen)
		strcat(err, ")");
}

static int open_ring(struct fs_source *src, char *err, size_t errlen)
{
	char name[32], lbuf[16];
	const char *label = fs_source_label(&src->spec, lbuf, sizeof(lbuf));
	/* small: the mbufs cycling between feeder and receive thread stay
	 * in cache (a few microseconds of traffic at full rate) */
	uint32_t size = pow2_at_least(src->cfg->rx_slots < RING_SLOTS_MAX ?
				      src->cfg->rx_slots : RING_SLOTS_MAX);
	int port;

	for (unsigned q = 0; q < src->nq; q++) {
		fs_eal_vdev_name("fsr", name, sizeof(name));
		src->rings[q] = rte_ring_create(name, size, (int)rte_socket_id(),
					RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (src->rings[q] == NULL) {
			dpdk_error(err, errlen, label, "cannot create ring",
				   rte_errno);
			return -1;
		}
	}
	fs_eal_vdev_name("fs", name, sizeof(name));
	/* the ring driver wants transmit queues too; they are never used */
	port = rte_eth_from_rings(name, src->rings, src->nq, src->rings,
				  src->nq, rte_socket_id());
	if (port < 0) {
		dpdk_error(err, errlen, label, "cannot create ring device",
			   rte_errno);
		return -1;
	}
	snprintf(src->vdev, sizeof(src->vdev), "net_ring_%s", name);
	src->port = (uint16_t)port;
	src->port_owned = true;
	return 0;
}

static int claim_dpdk(struct fs_source *src, char *err, size_t errlen)
{
	uint16_t port = src->spec.port;
	struct rte_eth_dev_owner owner = { 0 };
	uint16_t n = 0, p;

	if (!fs_eal_port_is_probed(port)) {
		RTE_ETH_FOREACH_DEV(p)
			if (fs_eal_port_is_probed(p))
				n++;
		snprintf(err, errlen,
			 "dpdk%u: no such DPDK port (the EAL found %u; allow a "
			 "NIC with eal = -a PCI_ADDRESS or add a virtual one "
			 "with eal = --vdev=...)", (unsigned)port, (unsigned)n);
		return -1;
	}
	if (rte_eth_dev_owner_new(&owner.id) != 0) {
		dpdk_error(err, errlen, "dpdk", "cannot take the port", rte_errno);
		return -1;
	}
	snprintf(owner.name, sizeof(owner.name), "flowscope-%u",
		 (unsigned)getpid());
	if (rte_eth_dev_owner_set(port, &owner) != 0) {
		snprintf(err, errlen, "dpdk%u: the port is in use by another "
			 "capture", (unsigned)port);
		return -1;
	}
	src->owner_id = owner.id;
	src->port = port;
	return 0;
}

bool fs_dpdk_device(const struct fs_source *src, char *name, size_t len)
{
	struct rte_eth_dev_info info;
	const struct rte_bus *bus;
	bool real = false;

	if (src->spec.kind != FS_SRC_DPDK)
		return false;
	fs_eal_lock();
	if (rte_eth_dev_info_get(src->port, &info) == 0 &&
	    info.device != NULL) {
		bus = rte_dev_bus(info.device);
		/* a vdev is this process's own (a file, a ring, a socket) */
		real = bus != NULL && strcmp(rte_bus_name(bus), "vdev") != 0;
		if (real)
			snprintf(name, len, "%s", rte_dev_name(info.device));
	}
	fs_eal_unlock();
	return real;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int fs_dpdk_read_clocks(uint16_t port, struct fs_clock_pair *p)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < CLOCK_TRIES; i++) {
		uint64_t m0, r0, ticks, r1, m1;

		m0 = clock_ns(CLOCK_MONOTONIC);
		r0 = clock_ns(CLOCK_REALTIME);
		if (rte_eth_read_clock(port, &ticks) != 0)
			return -1;
		r1 = clock_ns(CLOCK_REALTIME);
		m1 = clock_ns(CLOCK_MONOTONIC);
		/* the device was read somewhere in [m0, m1]: the middle,
		 * of the narrowest bracket */
		if (m1 - m0 < best) {
			best = m1 - m0;
			p->ticks = ticks;
			p->mono_ns = m0 + (m1 - m0) / 2;
			p->real_ns = r0 + (r1 - r0) / 2;
		}
	}
	return 0;
}

/*
 * What the NIC's stamps are worth. DPDK leaves their unit and origin to
 * the driver ("maintained the same for a given port"): in 22.11 mlx5
 * writes raw ticks of the adapter's free-running clock (nanoseconds of
 * real time only when its firmware runs a real-time clock), while ice,
 * iavf, idpf, nfb and the like write nanoseconds of the adapter's PTP
 * clock, which nothing ties to the host's. The drivers that let the clock be read (rte_eth_read_clock:
 * mlx5, cnxk) are mapped onto host time, whatever their unit: two
 * readings give the rate and origin, and the receive threads refine them
 * every second (FS_TSTAMP_ADAPTER). The others cannot be measured, and
 * are taken as the nanoseconds they are in every such driver of 22.11
 * (FS_TSTAMP_ADAPTER_UNSYNCED). A clock that reads but does not run like
 * one is not trusted: its port is stamped by the host (hw_flag 0).
 */
static void hw_clock(struct fs_source *src)
{
	struct fs_clock_pair a, b;
	struct timespec pause = { 0, CLOCK_FIRST_MS * 1000000L };
	uint64_t ticks;
	int rc = rte_eth_read_clock(src->port, &ticks);

	src->hw_map = false;
	if (rc == -ENOTSUP)
		return;
	if (rc != 0 || fs_dpdk_read_clocks(src->port, &a) != 0)
		goto untrusted;
	nanosleep(&pause, NULL);
	if (fs_dpdk_read_clocks(src->port, &b) != 0 ||
	    !fs_hwclock_start(&src->clk, &a, &b))
		goto untrusted;
	src->hw_map = true;
	return;
untrusted:
	src->hw_flag = 0;
}

/* The port's kinds of timestamp, decided the way hw_clock() decides
 * them when the port starts. */
unsigned fs_dpdk_tstamp_types(uint16_t port)
{
	struct rte_eth_dev_info info;
	unsigned types = FS_TSTAMP_BIT(FS_TSTAMP_HOST);
	uint64_t ticks;
	int rc;

	if (!fs_eal_port_is_probed(port))
		return types;
	fs_eal_lock();
	if (rte_eth_dev_info_get(port, &info) == 0 &&
	    (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP)) {
		rc = rte_eth_read_clock(port, &ticks);
		if (rc == 0)
			types |= FS_TSTAMP_BIT(FS_TSTAMP_ADAPTER);
		else if (rc == -ENOTSUP)
			types |= FS_TSTAMP_BIT(FS_TSTAMP_ADAPTER_UNSYNCED);
	}
	fs_eal_unlock();
	return types;
}

static int setup_port(struct fs_source *src, int promisc, char *err,
		      size_t errlen)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	char lbuf[32], name[32];
	const char *label = fs_source_label(&src->spec, lbuf, sizeof(lbuf));
	uint16_t nb_rxd = (uint16_t)src->cfg->rx_slots, nb_txd = 0;
	unsigned n;
	int rc, socket = rte_eth_dev_socket_id(src->port);

	if (socket < 0)
		socket = (int)rte_socket_id();
	rc = rte_eth_dev_info_get(src->port, &info);
	if (rc != 0) {
		dpdk_error(err, errlen, label, "cannot query the port", -rc);
		return -1;
	}
	if (src->nq > info.max_rx_queues) {
		snprintf(err, errlen, "%s: rx_queues = %u but the port has %u "
			 "receive queues", label, src->nq,
			 (unsigned)info.max_rx_queues);
		return -1;
	}
	memset(&conf, 0, sizeof(conf));
	if (src->tstamp != FS_TSTAMP_HOST &&
	    (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) &&
	    rte_mbuf_dyn_rx_timestamp_register(&src->hw_off,
					       &src->hw_flag) == 0)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
	else
		src->hw_flag = 0;
	if (src->nq > 1 && info.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
	}
	rc = rte_eth_dev_configure(src->port, (uint16_t)src->nq, 0, &conf);
	if (rc != 0) {
		dpdk_error(err, errlen, label, "cannot configure the port", -rc);
		return -1;
	}
	src->port_ok = true;
	rte_eth_dev_adjust_nb_rx_tx_desc(src->port, &nb_rxd, &nb_txd);

	if (src->rings[0] != NULL)	/* the ring holds them, not descriptors */
		n = src->nq * (rte_ring_get_size(src->rings[0]) +
			       4 * POOL_CACHE) + 4 * FS_BURST;
	else if (src->cfg->rx_mbufs != 0)
		n = src->cfg->rx_mbufs;
	else
		n = src->nq * (nb_rxd + 2 * FS_BURST + POOL_CACHE) + 2048;
	/*
	 * A port the EAL probed outlives the capture and may keep mbufs in
	 * its queues after it stops: its pool is kept for the next capture
	 * of the port instead of being freed under it.
	 */
	if (src->spec.kind == FS_SRC_DPDK) {
		snprintf(name, sizeof(name), "fsm_dpdk%u", (unsigned)src->port);
		src->pool = rte_mempool_lookup(name);
		src->pool_shared = true;
	} else {
		fs_eal_vdev_name("fsm", name, sizeof(name));
	}
	if (src->pool == NULL)
		src->pool = rte_pktmbuf_pool_create(name, n, POOL_CACHE, 0,
					RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (src->pool == NULL) {
		dpdk_error(err, errlen, label, "cannot create the mbuf pool",
			   rte_errno);
		return -1;
	}
	for (unsigned q = 0; q < src->nq; q++) {
		rc = rte_eth_rx_queue_setup(src->port, (uint16_t)q, nb_rxd,
					    (unsigned)socket, NULL, src->pool);
		if (rc != 0) {
			dpdk_error(err, errlen, label,
				   "cannot set up a receive queue", -rc);
			if (strstr(err, "mbufs") != NULL &&
			    strlen(err) + 40 < errlen)
				strcat(err, "; rx_mbufs sets the pool's size");
			return -1;
		}
	}
	rc = rte_eth_dev_start(src->port);
	if (rc != 0) {
		dpdk_error(err, errlen, label, "cannot start the port", -rc);
		return -1;
	}
	if (promisc)
		(void)rte_eth_promiscuous_enable(src->port);
	if (src->hw_flag != 0)
		hw_clock(src);
	src->tstamp_fell_back = src->tstamp != FS_TSTAMP_HOST &&
				src->hw_flag == 0;
	return 0;
}

int fs_dpdk_open(struct fs_source *src, const struct fs_config *cfg,
		 const struct fs_source_params *p, char *err, size_t errlen)
{
	int rc = -1;

	src->cfg = cfg;
	/* file= and gen bring their own stamps, or take the host's */
	src->tstamp = src->spec.kind == FS_SRC_DPDK ? p->tstamp
						    : FS_TSTAMP_HOST;
	src->nq = src->spec.kind == FS_SRC_FILE ? 1 : cfg->rx_queues;
	if (src->nq > FS_MAX_QUEUES)
		src->nq = FS_MAX_QUEUES;
	fs_eal_lock();
	switch (src->spec.kind) {
	case FS_SRC_IFACE:	/* not ours: source_tpacket.c */
	case FS_SRC_SPOOL:	/* nor this: source_spool.c */
	case FS_SRC_ATTACH:	/* nor this: source_attach.c */
		snprintf(err, errlen, "%s: not a DPDK source", src->spec.arg);
		break;
	case FS_SRC_DPDK:
		rc = claim_dpdk(src, err, errlen);
		break;
	case FS_SRC_FILE:
		src->lossless = true;
		rc = fs_file_open(src, err, errlen);
		if (rc == 0)
			rc = open_ring(src, err, errlen);
		break;
	case FS_SRC_GEN:
		rc = fs_gen_open(src, cfg, err, errlen);
		if (rc == 0)
			rc = open_ring(src, err, errlen);
		break;
	}
	if (rc == 0)
		rc = setup_port(src, p->promisc, err, errlen);
	fs_eal_unlock();
	return rc;
}

int fs_dpdk_start(struct fs_source *src, const struct fs_sink *sink,
		  char *err, size_t errlen)
{
	char lbuf[32];
	const char *label = fs_source_label(&src->spec, lbuf, sizeof(lbuf));
	int rc;

	for (unsigned q = 0; q < src->nq; q++) {
		struct fs_rxq *r = &src->rxq[q];

		r->src = src;
		r->sink = sink;
		r->port = src->port;
		r->queue = (uint16_t)q;
		r->hw_flag = src->hw_flag;
		r->hw_off = src->hw_off;
		r->hw_map = src->hw_map;
		r->clk = src->clk;
		r->clk_next = 0;
		r->own_clock = src->hw_flag != 0 && !src->hw_map;
		r->skew_ns = 0;
		rc = fs_thread_start(&r->thread, fs_rx_thread, r);
		if (rc != 0) {
			snprintf(err, errlen, "%s: cannot start a receive "
				 "thread: %s", label, strerror(rc));
			return -1;
		}
		r->started = true;
	}
	if (src->spec.kind == FS_SRC_FILE || src->spec.kind == FS_SRC_GEN) {
		rc = fs_thread_start(&src->feeder,
				     src->spec.kind == FS_SRC_FILE ?
				     fs_file_feeder : fs_gen_feeder, src);
		if (rc != 0) {
			snprintf(err, errlen, "%s: cannot start the feeder "
				 "thread: %s", label, strerror(rc));
			return -1;
		}
		src->feeder_started = true;
	}
	return 0;
}

/* An mbuf from the pool, reset; it may come straight from a receive thread
 * that just freed it. */
static struct rte_mbuf *mbuf_alloc(struct rte_mempool *pool)
{
	struct rte_mbuf *m = rte_mbuf_raw_alloc(pool);

	if (m != NULL) {
		fs_mbufs_taken(&m, 1);
		rte_pktmbuf_reset(m);
	}
	return m;
}

struct rte_mbuf *fs_mbuf_from(struct rte_mempool *pool, const void *data,
			      uint32_t len)
{
	struct rte_mbuf *head = mbuf_alloc(pool), *seg;
	const uint8_t *p = data;

	if (head == NULL)
		return NULL;
	for (;;) {
		uint32_t n = rte_pktmbuf_tailroom(rte_pktmbuf_lastseg(head));

		if (n > len)
			n = len;
		memcpy(rte_pktmbuf_append(head, (uint16_t)n), p, n);
		p += n;
		len -= n;
		if (len == 0)
			return head;
		seg = mbuf_alloc(pool);
		if (seg == NULL || rte_pktmbuf_chain(head, seg) != 0) {
			rte_pktmbuf_free(seg);
			rte_pktmbuf_free(head);
			return NULL;
		}
	}
}

bool fs_feed(struct fs_source *src, unsigned q, struct rte_mbuf **m,
	     unsigned n)
{
	unsigned done = 0;

	fs_mbufs_given(m, n);
	while (done < n) {
		done += rte_ring_sp_enqueue_burst(src->rings[q],
				(void *const *)(m + done), n - done, NULL);
		if (done < n) {
			if (atomic_load_explicit(&src->feeder_stop,
						 memory_order_relaxed)) {
				rte_pktmbuf_free_bulk(m + done, n - done);
				return false;
			}
			sched_yield();
		}
	}
	return true;
}

void fs_dpdk_close(struct fs_source *src)
{
	struct rte_mbuf *m;

	if (src->feeder_started) {
		atomic_store(&src->feeder_stop, true);
		pthread_join(src->feeder, NULL);
		src->feeder_started = false;
	}
	for (unsigned q = 0; q < src->nq; q++) {
		struct fs_rxq *r = &src->rxq[q];

		if (r->started) {
			atomic_store(&r->stop, true);
			pthread_join(r->thread, NULL);
			r->started = false;
		}
	}
	fs_eal_lock();
	if (src->port_ok) {
		(void)rte_eth_dev_stop(src->port);
		if (src->port_owned)
			(void)rte_eth_dev_close(src->port);
		src->port_ok = false;
	}
	if (src->owner_id != 0) {
		(void)rte_eth_dev_owner_unset(src->port, src->owner_id);
		src->owner_id = 0;
	}
	if (src->port_owned) {
		(void)rte_vdev_uninit(src->vdev);
		src->port_owned = false;
	}
	for (unsigned q = 0; q < FS_MAX_QUEUES; q++) {
		if (src->rings[q] == NULL)
			continue;
		while (rte_ring_dequeue(src->rings[q], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(src->rings[q]);
		src->rings[q] = NULL;
	}
	if (src->pool != NULL && !src->pool_shared)
		rte_mempool_free(src->pool);
	src->pool = NULL;
	fs_eal_unlock();
	if (src->file != NULL) {
		pcap_close(src->file);
		src->file = NULL;
	}
	fs_gen_close(src);
}

uint64_t fs_dpdk_ifdrop(struct fs_source *src)
{
	struct rte_eth_stats st;

	if (!src->port_ok || rte_eth_stats_get(src->port, &st) != 0)
		return 0;
	return st.imissed + st.rx_nombuf;
}
