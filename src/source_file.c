/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * file=PATH: a pcap or pcapng file replayed as fast as the capture takes
 * it. A feeder thread reads the file with libpcap (nanosecond precision),
 * puts each packet with its own timestamp and wire length into an mbuf
 * and feeds the source's DPDK ring device; the end of the file is the
 * end of the source.
 */
#define _GNU_SOURCE
#include "source.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "eal.h"

int fs_file_open(struct fs_source *src, char *err, size_t errlen)
{
	char eb[PCAP_ERRBUF_SIZE];
	int dlt;

	eb[0] = '\0';
	src->file = pcap_open_offline_with_tstamp_precision(src->spec.arg,
			PCAP_TSTAMP_PRECISION_NANO, eb);
	if (src->file == NULL) {
		snprintf(err, errlen, "file=%s: %s", src->spec.arg, eb);
		return -1;
	}
	dlt = pcap_datalink(src->file);
	if (dlt != DLT_EN10MB) {
		snprintf(err, errlen, "file=%s: link type %s; flowscope "
			 "captures Ethernet (EN10MB) only", src->spec.arg,
			 pcap_datalink_val_to_name(dlt) ?
			 pcap_datalink_val_to_name(dlt) : "unknown");
		pcap_close(src->file);
		src->file = NULL;
		return -1;
	}
	return 0;
}

void *fs_file_feeder(void *arg)
{
	struct fs_source *src = arg;
	struct rte_mbuf *m[FS_BURST];
	const int ts_off = fs_eal_ts_offset();
	const int wl_off = fs_eal_wirelen_offset();
	const uint64_t ts_flag = fs_eal_ts_flag();
	bool registered;
	unsigned n = 0;

	pthread_setname_np(pthread_self(), "fs-file");
	registered = rte_thread_register() == 0;
	for (;;) {
		struct pcap_pkthdr *h;
		const u_char *data;
		struct rte_mbuf *mb;
		int rc;

		if (atomic_load_explicit(&src->feeder_stop,
					 memory_order_relaxed))
			break;
		rc = pcap_next_ex(src->file, &h, &data);
		if (rc != 1) {
			if (rc == PCAP_ERROR)
				snprintf(src->feeder_err,
					 sizeof(src->feeder_err),
					 "file=%s: %s", src->spec.arg,
					 pcap_geterr(src->file));
			break;
		}
		{
			uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u +
				      (uint64_t)h->ts.tv_usec;

			/* outside since/until: not delivered, not counted
			 * (a file need not be in time order, so read on) */
			if (ts < src->win_lo || ts >= src->win_hi)
				continue;
		}
		/* the ring device gives mbufs back as the rx thread frees
		 * them: an empty pool only means waiting */
		while ((mb = fs_mbuf_from(src->pool, data, h->caplen)) == NULL) {
			bool ok = n == 0 || fs_feed(src, 0, m, n);

			n = 0;
			if (!ok)
				goto out;
			if (atomic_load_explicit(&src->feeder_stop,
						 memory_order_relaxed))
				goto out;
			sched_yield();
		}
		*RTE_MBUF_DYNFIELD(mb, ts_off, uint64_t *) =
			(uint64_t)h->ts.tv_sec * 1000000000u +
			(uint64_t)h->ts.tv_usec;
		*RTE_MBUF_DYNFIELD(mb, wl_off, uint32_t *) = h->len;
		mb->ol_flags |= ts_flag;
		m[n++] = mb;
		if (n == FS_BURST) {
			bool ok = fs_feed(src, 0, m, n);

			n = 0;
			if (!ok)
				goto out;
		}
	}
	if (n > 0)
		fs_feed(src, 0, m, n);
out:
	atomic_store_explicit(&src->feeder_done, true, memory_order_release);
	if (registered)
		rte_thread_unregister();
	return NULL;
}
