/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A kernel interface (flowscope:IFNAME) read natively: one AF_PACKET
 * socket with a TPACKET_V3 ring per receive queue (PACKET_FANOUT_HASH
 * keeps each flow on one queue when there are several), and the receive
 * thread that copies the packets of each block the kernel hands over
 * into the queue's ring lane, with the kernel's own timestamp and
 * direction of every packet. Nothing here changes the interface:
 * promiscuous mode is a membership of the socket that the kernel drops
 * when the socket closes, and the ring is kernel memory mapped without
 * locking it. No DPDK.
 */
#define _GNU_SOURCE
#include "source.h"
#include "analyzer.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mem.h"
#include "vlan.h"

#define FRAME_BYTES 2048u	/* rx_slots counts frames of this size */
#define BLOCK_MIN (16u << 10)
#define BLOCKS_MIN 4u
/* room in a block for the kernel's headers in front of one packet */
#define BLOCK_HDR_ROOM 256u
/* how often an idle queue 0 looks whether the interface is still there */
#define IDLE_POLL_MS 100
/* longest wait for a partly filled block (ms) outside immediate mode */
#define BLOCK_TOV_MAX 8

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* " (RLIMIT_... is N)" for a failure that a resource limit may explain,
 * else "". */
static void limit_hint(int e, char *buf, size_t len)
{
	struct rlimit rl;
	char v[32];
	int which = e == EAGAIN || e == EPERM ? RLIMIT_MEMLOCK :
		    e == ENOMEM ? RLIMIT_AS : -1;

	buf[0] = '\0';
	if (which < 0 || getrlimit(which, &rl) != 0 ||
	    rl.rlim_cur == RLIM_INFINITY)
		return;
	fs_mem_fmt((uint64_t)rl.rlim_cur, v, sizeof(v));
	snprintf(buf, len, " (%s is %s)", which == RLIMIT_MEMLOCK ?
		 "RLIMIT_MEMLOCK (ulimit -l)" : "RLIMIT_AS (ulimit -v)", v);
}

/* The interface's link type and flags; only Ethernet-framed interfaces
 * (and lo, which frames like Ethernet) deliver what the DLT_EN10MB
 * handle promises. */
static int check_iface(struct fs_source *src, char *err, size_t errlen)
{
	const char *ifname = src->spec.arg;
	struct ifreq ifr;
	int sock, rc = -1;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		snprintf(err, errlen, "%s: cannot look at the interface: %s",
			 ifname, strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(sock, SIOCGIFHWADDR, &ifr) < 0) {
		snprintf(err, errlen, "%s: cannot look at the interface: %s",
			 ifname, strerror(errno));
		goto done;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER &&
	    ifr.ifr_hwaddr.sa_family != ARPHRD_LOOPBACK) {
		snprintf(err, errlen, "%s: link type %u (ARPHRD) is not "
			 "Ethernet; flowscope delivers Ethernet frames only",
			 ifname, (unsigned)ifr.ifr_hwaddr.sa_family);
		goto done;
	}
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
		snprintf(err, errlen, "%s: cannot look at the interface: %s",
			 ifname, strerror(errno));
		goto done;
	}
	/* lo shows each packet twice, sent and received: the sent copy is
	 * left out, as stock libpcap does */
	src->loopback = (ifr.ifr_flags & IFF_LOOPBACK) != 0;
	rc = 0;
done:
	close(sock);
	return rc;
}

/*
 * Ring geometry of one queue: rx_slots frames of FRAME_BYTES, in blocks
 * that each hold a packet of caplen bytes (a GRO'd packet of 64 KiB
 * when caplen allows it), at least BLOCKS_MIN of them.
 */
static void geometry(const struct fs_config *cfg, uint32_t caplen,
		     struct tpacket_req3 *req)
{
	uint32_t block = pow2_at_least(caplen + BLOCK_HDR_ROOM);
	uint64_t bytes = (uint64_t)cfg->rx_slots * FRAME_BYTES;

	if (block < BLOCK_MIN)
		block = BLOCK_MIN;
	memset(req, 0, sizeof(*req));
	req->tp_block_size = block;
	req->tp_block_nr = (uint32_t)(bytes / block);
	if (req->tp_block_nr < BLOCKS_MIN)
		req->tp_block_nr = BLOCKS_MIN;
	req->tp_frame_size = FRAME_BYTES;
	req->tp_frame_nr = req->tp_block_nr * (block / FRAME_BYTES);
}

/*
 * How long the kernel lets a partly filled block wait before it hands
 * it over: 1 ms in immediate mode, else the application's timeout up to
 * BLOCK_TOV_MAX ms. Packets keep their own timestamps either way; this
 * is only how late a quiet interface's packets reach the ring.
 */
static unsigned block_tov(const struct fs_source_params *p)
{
	if (p->immediate)
		return 1;
	if (p->timeout_ms > 0 && p->timeout_ms < BLOCK_TOV_MAX)
		return (unsigned)p->timeout_ms;
	return BLOCK_TOV_MAX;
}

static int sock_fail(struct fs_source *src, const char *what, char *err,
		     size_t errlen)
{
	int e = errno;

	snprintf(err, errlen, "%s: %s: %s%s", src->spec.arg, what, strerror(e),
		 e == EPERM || e == EACCES ?
		 " (capturing needs root or CAP_NET_RAW)" : "");
	return -1;
}

/* Open queue q's socket and ring, bound to the interface; join the
 * fanout group *fanout_id (queue 0 creates it) when there are several
 * queues. */
static int open_queue(struct fs_source *src, unsigned qi, uint32_t caplen,
		      const struct fs_source_params *p, int *fanout_id,
		      char *err, size_t errlen)
{
	struct fs_tpq *q = &src->rxq[qi].tp;
	struct tpacket_req3 req;
	struct sockaddr_ll sll;
	int v = TPACKET_V3;
	char hint[96], sz[32];

	/* protocol 0: nothing arrives before bind() names the interface */
	q->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return sock_fail(src, "cannot open a packet socket", err, errlen);
	q->open = true;
	if (setsockopt(q->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0)
		return sock_fail(src, "TPACKET_V3 is not available", err,
				 errlen);
	/* the kernel keeps caplen bytes of each packet, not the whole one */
	if (caplen < FS_CAPLEN_MAX) {
		struct sock_filter ret = BPF_STMT(BPF_RET | BPF_K, caplen);
		struct sock_fprog prog = { 1, &ret };

		if (setsockopt(q->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			       sizeof(prog)) < 0)
			return sock_fail(src, "cannot set the snap length",
					 err, errlen);
	}
	geometry(src->cfg, caplen, &req);
	req.tp_retire_blk_tov = block_tov(p);
	if (setsockopt(q->fd, SOL_PACKET, PACKET_RX_RING, &req,
		       sizeof(req)) < 0) {
		int e = errno;

		fs_mem_fmt((uint64_t)req.tp_block_size * req.tp_block_nr, sz,
			   sizeof(sz));
		snprintf(err, errlen, "%s: cannot set up a kernel ring of %s "
			 "(rx_slots = %u frames of %u bytes): %s",
			 src->spec.arg, sz, (unsigned)src->cfg->rx_slots,
			 FRAME_BYTES, strerror(e));
		return -1;
	}
	q->block_size = req.tp_block_size;
	q->nblocks = req.tp_block_nr;
	q->map_len = (size_t)req.tp_block_size * req.tp_block_nr;
	/* not MAP_LOCKED: the pages are the kernel's and stay resident, so
	 * RLIMIT_MEMLOCK does not come into it (unless the application
	 * locks all its mappings with mlockall) */
	q->map = mmap(NULL, q->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      q->fd, 0);
	if (q->map == MAP_FAILED) {
		int e = errno;

		q->map = NULL;
		fs_mem_fmt(q->map_len, sz, sizeof(sz));
		limit_hint(e, hint, sizeof(hint));
		snprintf(err, errlen, "%s: cannot map the kernel ring of %s: "
			 "%s%s", src->spec.arg, sz, strerror(e), hint);
		return -1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)src->ifindex;
	if (bind(q->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return sock_fail(src, "cannot bind a packet socket to the "
				 "interface", err, errlen);
	if (qi == 0 && p->promisc) {
		struct packet_mreq mr;

		memset(&mr, 0, sizeof(mr));
		mr.mr_ifindex = (int)src->ifindex;
		mr.mr_type = PACKET_MR_PROMISC;
		if (setsockopt(q->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
			       sizeof(mr)) < 0)
			return sock_fail(src, "cannot take promiscuous mode",
					 err, errlen);
	}
	if (src->nq > 1) {
		/* queue 0 asks the kernel for a group id nobody else uses,
		 * so that no other capture's sockets can join by chance */
		int arg = qi == 0 ?
			(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16 :
			(PACKET_FANOUT_HASH << 16) | *fanout_id;
		socklen_t len = sizeof(arg);

		if (setsockopt(q->fd, SOL_PACKET, PACKET_FANOUT, &arg,
			       sizeof(arg)) < 0)
			return sock_fail(src, "cannot spread the interface over "
					 "rx_queues sockets (PACKET_FANOUT)",
					 err, errlen);
		if (qi == 0) {
			if (getsockopt(q->fd, SOL_PACKET, PACKET_FANOUT, &arg,
				       &len) < 0)
				return sock_fail(src, "PACKET_FANOUT", err,
						 errlen);
			*fanout_id = arg & 0xffff;
		}
	}
	return 0;
}

/*
 * The kinds of timestamp the interface offers, asked the way stock
 * libpcap asks (ETHTOOL_GET_TS_INFO): the kernel's software stamp
 * always; the adapter's stamp, in the adapter's own time, when its
 * driver stamps every received packet in hardware. libpcap's "adapter"
 * (hardware stamps the kernel turned into system time) is not offered:
 * the kernel's packet sockets stopped delivering that kind long ago.
 * An interface the kernel cannot tell about offers its own stamp only.
 */
unsigned fs_tpacket_tstamp_types(const char *ifname)
{
	struct ethtool_ts_info info;
	struct ifreq ifr;
	unsigned types = FS_TSTAMP_BIT(FS_TSTAMP_HOST);
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (sock < 0)
		return types;
	memset(&ifr, 0, sizeof(ifr));
	memset(&info, 0, sizeof(info));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	info.cmd = ETHTOOL_GET_TS_INFO;
	ifr.ifr_data = (void *)&info;
	if (ioctl(sock, SIOCETHTOOL, &ifr) == 0 &&
	    (info.rx_filters & (1u << HWTSTAMP_FILTER_ALL)) &&
	    (info.so_timestamping & SOF_TIMESTAMPING_RAW_HARDWARE))
		types |= FS_TSTAMP_BIT(FS_TSTAMP_ADAPTER_UNSYNCED);
	close(sock);
	return types;
}

/*
 * Have the adapter stamp every received packet and the sockets deliver
 * that stamp, as stock libpcap does for tcpdump -j adapter_unsynced. The
 * adapter's setting is the interface's, for every program: what it
 * stamps on transmit is kept as it was (a PTP daemon may rely on it)
 * when the driver says what that is, else left off.
 * An adapter that cannot stamp every packet leaves the kernel's stamps
 * and tstamp_fell_back set; a refused permission is an error. Packets
 * the adapter did not stamp after all keep the kernel's.
 */
static int hw_stamps(struct fs_source *src, char *err, size_t errlen)
{
	struct hwtstamp_config hc;
	struct ifreq ifr;
	int how = SOF_TIMESTAMPING_RAW_HARDWARE, fd = src->rxq[0].tp.fd;

	memset(&ifr, 0, sizeof(ifr));
	memset(&hc, 0, sizeof(hc));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", src->spec.arg);
	ifr.ifr_data = (void *)&hc;
	if (ioctl(fd, SIOCGHWTSTAMP, &ifr) < 0)
		memset(&hc, 0, sizeof(hc));	/* transmit stamps off */
	hc.flags = 0;
	hc.rx_filter = HWTSTAMP_FILTER_ALL;
	if (ioctl(fd, SIOCSHWTSTAMP, &ifr) < 0) {
		if (errno == EOPNOTSUPP || errno == ERANGE) {
			src->tstamp_fell_back = true;
			return 0;
		}
		snprintf(err, errlen, "%s: cannot have the adapter stamp "
			 "packets: %s%s", src->spec.arg, strerror(errno),
			 errno == EPERM ? " (hardware timestamps need "
			 "CAP_NET_ADMIN)" : "");
		return -1;
	}
	for (unsigned q = 0; q < src->nq; q++)
		if (setsockopt(src->rxq[q].tp.fd, SOL_PACKET, PACKET_TIMESTAMP,
			       &how, sizeof(how)) < 0)
			return sock_fail(src, "cannot take the adapter's "
					 "timestamps (PACKET_TIMESTAMP)", err,
					 errlen);
	for (unsigned q = 0; q < src->nq; q++)
		src->rxq[q].own_clock = true;
	return 0;
}

int fs_tpacket_open(struct fs_source *src, const struct fs_config *cfg,
		    const struct fs_source_params *p, char *err,
		    size_t errlen)
{
	int fanout_id = 0;

	src->cfg = cfg;
	src->nq = cfg->rx_queues < FS_MAX_QUEUES ? cfg->rx_queues
						 : FS_MAX_QUEUES;
	src->ifindex = if_nametoindex(src->spec.arg);
	if (src->ifindex == 0) {
		snprintf(err, errlen, "%s: no such network interface",
			 src->spec.arg);
		return -1;
	}
	if (check_iface(src, err, errlen) < 0)
		return -1;
	src->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (src->stop_fd < 0) {
		snprintf(err, errlen, "%s: eventfd: %s", src->spec.arg,
			 strerror(errno));
		return -1;
	}
	src->stop_fd_open = true;
	for (unsigned q = 0; q < src->nq; q++) {
		struct fs_tpq *t = &src->rxq[q].tp;

		t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->wake_fd < 0) {
			snprintf(err, errlen, "%s: eventfd: %s",
				 src->spec.arg, strerror(errno));
			return -1;
		}
		t->wake_open = true;
		if (open_queue(src, q, p->caplen, p, &fanout_id, err,
			       errlen) < 0)
			return -1;
	}
	src->tstamp = p->tstamp;
	if (p->tstamp == FS_TSTAMP_ADAPTER_UNSYNCED)
		return hw_stamps(src, err, errlen);
	src->tstamp_fell_back = p->tstamp != FS_TSTAMP_HOST;
	return 0;
}

/*
 * Copy what one packet of the ring holds into the record at dst (cap
 * bytes): the source's own tag (stag, slen bytes: 0 or 4) outermost,
 * then the VLAN tag the kernel took off into its metadata (when vlan),
 * put back as it was on the wire, then the rest of the frame.
 */
static inline void copy_packet(uint8_t *dst, const uint8_t *pkt,
			       uint32_t cap, const struct tpacket3_hdr *t,
			       const uint8_t *stag, uint32_t slen, bool vlan)
{
	uint8_t tags[2 * FS_VLAN_TAG_LEN];
	uint16_t tpid, tci;

	if (!vlan) {
		if (slen == 0)
			memcpy(dst, pkt, cap);
		else
			fs_vlan_copy(dst, pkt, cap, stag, slen);
		return;
	}
	tpid = htons(t->tp_status & TP_STATUS_VLAN_TPID_VALID ?
		     t->hv1.tp_vlan_tpid : ETH_P_8021Q);
	tci = htons(t->hv1.tp_vlan_tci);
	memcpy(tags, stag, slen);
	memcpy(tags + slen, &tpid, 2);
	memcpy(tags + slen + 2, &tci, 2);
	fs_vlan_copy(dst, pkt, cap, tags, slen + FS_VLAN_TAG_LEN);
}

/*
 * The hot path: every packet of block b into the lane. No lock, no
 * allocation; one copy per packet (ring -> lane), tags included.
 * Returns how many records were stored.
 */
static unsigned take_block(struct fs_rxq *r,
			   const struct tpacket_block_desc *b, uint32_t bsize,
			   uint64_t *newest)
{
	const uint8_t *base = (const uint8_t *)b;
	const bool lo = r->src->loopback;
	const uint32_t caplen = r->sink->caplen;
	const uint8_t source = (uint8_t)r->src->index;
	const uint16_t vid = r->src->vlan;	/* source_vlans, 0: none */
	uint8_t stag[FS_VLAN_TAG_LEN];
	uint32_t npkts = b->hdr.bh1.num_pkts;
	uint32_t off = b->hdr.bh1.offset_to_first_pkt;
	unsigned n = 0;

	fs_vlan_tag(stag, vid);
	for (uint32_t i = 0; i < npkts; i++) {
		const struct tpacket3_hdr *t;
		const struct sockaddr_ll *sll;
		struct fs_pkt_hdr *h;
		uint32_t snap, len, wire, cap, slen;
		bool out, vlan;

		/* the kernel's offsets stay inside the block; a bad one ends
		 * the block instead of reading past it */
		if (off < sizeof(*b) || off + TPACKET3_HDRLEN > bsize)
			break;
		t = (const void *)(base + off);
		sll = (const void *)(base + off +
				     TPACKET_ALIGN(sizeof(*t)));
		snap = t->tp_snaplen;
		if (t->tp_mac > bsize - off || snap > bsize - off - t->tp_mac)
			break;
		out = sll->sll_pkttype == PACKET_OUTGOING;
		if (!(out && lo)) {
			vlan = (t->tp_status & TP_STATUS_VLAN_VALID) &&
			       snap >= FS_VLAN_AFTER;
			slen = vid != 0 && snap >= FS_VLAN_AFTER ?
			       FS_VLAN_TAG_LEN : 0;
			len = snap + slen + (vlan ? FS_VLAN_TAG_LEN : 0);
			wire = t->tp_len + slen + (vlan ? FS_VLAN_TAG_LEN : 0);
			cap = len < caplen ? len : caplen;
			h = fs_rx_reserve(r, cap);
			h->ts_ns = (uint64_t)t->tp_sec * 1000000000u +
				   t->tp_nsec;
			*newest = h->ts_ns;
			h->wire_len = wire > len ? wire : len;
			h->cap_len = (uint16_t)cap;
			h->source = source;
			h->flags = out ? FS_REC_OUTGOING : 0;
			copy_packet((uint8_t *)(h + 1), base + off + t->tp_mac,
				    cap, t, stag, slen, vlan);
			n++;
		}
		if (t->tp_next_offset == 0)
			break;
		off += t->tp_next_offset;
	}
	return n;
}

/* A socket error (the interface went down or away) was reported: take
 * it, so that poll() does not keep returning at once. */
static void clear_error(int fd)
{
	int e;
	socklen_t len = sizeof(e);

	(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
}

static void *tpacket_thread(void *arg)
{
	struct fs_rxq *r = arg;
	struct fs_source *src = r->src;
	struct fs_tpq *q = &r->tp;
	struct pollfd pfd[3] = {
		{ .fd = q->fd, .events = POLLIN },
		{ .fd = src->stop_fd, .events = POLLIN },
		{ .fd = q->wake_fd, .events = POLLIN },
	};
	char name[32];

	snprintf(name, sizeof(name), "fs-tp%u.%u", src->index,
		 (unsigned)r->queue);
	fs_rx_begin(r, name);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		struct tpacket_block_desc *b = (void *)(q->map +
				(size_t)q->next * q->block_size);
		int rc;

		/* the kernel hands a block over by its status (with a
		 * barrier before it), and takes it back the same way */
		if (__atomic_load_n(&b->hdr.bh1.block_status,
				    __ATOMIC_ACQUIRE) & TP_STATUS_USER) {
			uint64_t newest = 0;
			unsigned n = take_block(r, b, q->block_size, &newest);

			__atomic_store_n(&b->hdr.bh1.block_status,
					 TP_STATUS_KERNEL, __ATOMIC_RELEASE);
			q->next = q->next + 1 == q->nblocks ? 0 : q->next + 1;
			if (r->own_clock && n > 0)
				fs_rx_own_clock(r, newest);
			fs_lane_publish(r->lane);
			fs_rx_burst_done(r, n);
			continue;
		}
		fs_rx_idle(r, true);
		pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
		rc = poll(pfd, 3, IDLE_POLL_MS);
		if (rc < 0 && errno != EINTR)
			break;
		/* a control request: fs_rx_idle serves it next time round */
		if (pfd[2].revents & POLLIN) {
			uint64_t n;

			(void)!read(q->wake_fd, &n, sizeof(n));
		}
		/* down or away: the kernel reports an error on every socket
		 * bound to it; otherwise queue 0 looks after a quiet
		 * interval. Queue 0 alone writes why (feeder_err). */
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			clear_error(q->fd);
		if (r->queue == 0 && (rc == 0 || (pfd[0].revents &
		    (POLLERR | POLLHUP | POLLNVAL))) && fs_rx_iface_gone(src))
			atomic_store(&src->gone, true);
		if (atomic_load(&src->gone))
			break;
	}
	fs_rx_end(r);
	return NULL;
}

int fs_tpacket_start(struct fs_source *src, const struct fs_sink *sink,
		     char *err, size_t errlen)
{
	for (unsigned q = 0; q < src->nq; q++) {
		struct fs_rxq *r = &src->rxq[q];
		int rc;

		r->src = src;
		r->sink = sink;
		r->port = 0;
		r->queue = (uint16_t)q;
		atomic_store(&r->an->wake_fd, r->tp.wake_fd);
		rc = fs_thread_start(&r->thread, tpacket_thread, r);
		if (rc != 0) {
			snprintf(err, errlen, "%s: cannot start a receive "
				 "thread: %s", src->spec.arg, strerror(rc));
			return -1;
		}
		r->started = true;
	}
	return 0;
}

void fs_tpacket_close(struct fs_source *src)
{
	uint64_t one = 1;

	for (unsigned q = 0; q < src->nq; q++)
		atomic_store(&src->rxq[q].stop, true);
	/* wakes every thread in poll(); nobody reads it, so it stays so */
	if (src->stop_fd_open)
		(void)!write(src->stop_fd, &one, sizeof(one));
	for (unsigned q = 0; q < src->nq; q++) {
		struct fs_rxq *r = &src->rxq[q];

		if (r->started) {
			pthread_join(r->thread, NULL);
			r->started = false;
		}
	}
	for (unsigned q = 0; q < src->nq; q++) {
		struct fs_tpq *t = &src->rxq[q].tp;

		if (t->map != NULL)
			munmap(t->map, t->map_len);
		t->map = NULL;
		/* closing the socket ends its promiscuous membership and
		 * its place in the fanout group */
		if (t->open)
			close(t->fd);
		t->open = false;
		/* the control thread, stopped before, writes it no more */
		if (src->rxq[q].an != NULL)
			atomic_store(&src->rxq[q].an->wake_fd, -1);
		if (t->wake_open)
			close(t->wake_fd);
		t->wake_open = false;
	}
	if (src->stop_fd_open)
		close(src->stop_fd);
	src->stop_fd_open = false;
}

uint64_t fs_tpacket_ifdrop(struct fs_source *src)
{
	/* reading the kernel's counters resets them: what each read took
	 * is added up, by whichever thread asks */
	for (unsigned q = 0; q < src->nq; q++) {
		struct tpacket_stats_v3 st;
		socklen_t len = sizeof(st);

		if (!src->rxq[q].tp.open ||
		    getsockopt(src->rxq[q].tp.fd, SOL_PACKET,
			       PACKET_STATISTICS, &st, &len) < 0)
			continue;
		if (st.tp_drops)
			atomic_fetch_add_explicit(&src->kernel_drops,
						  st.tp_drops,
						  memory_order_relaxed);
	}
	return atomic_load_explicit(&src->kernel_drops, memory_order_relaxed);
}
