/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ceiling: a bare DPDK loop that only receives and frees, one queue,
 * on the same vdev as the peers. Prints packets/s after a warm-up.
 *   bare-dpdk SECONDS EAL_ARGS...
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = atof(argv[1]), t0, t;
	struct rte_eth_conf conf = { 0 };
	struct rte_mempool *mp;
	struct rte_mbuf *m[32];
	unsigned long long n = 0;
	unsigned mbufs;

	argv[1] = argv[0];
	if (rte_eal_init(argc - 1, argv + 1) < 0)
		return 1;
	/* BARE_MBUFS: a pool big enough for a large file with infinite_rx */
	mbufs = getenv("BARE_MBUFS") ? (unsigned)atoi(getenv("BARE_MBUFS")) : 8191;
	mp = rte_pktmbuf_pool_create("bare", mbufs, 256, 0,
				     RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (mp == NULL || rte_eth_dev_configure(0, 1, 0, &conf) != 0 ||
	    rte_eth_rx_queue_setup(0, 0, 4096, rte_socket_id(), NULL, mp) != 0 ||
	    rte_eth_dev_start(0) != 0)
		return 1;
	t0 = now();
	while (now() - t0 < 1.0)	/* warm-up */
		rte_pktmbuf_free_bulk(m, rte_eth_rx_burst(0, 0, m, 32));
	t0 = now();
	do {
		for (int i = 0; i < 1024; i++) {
			uint16_t k = rte_eth_rx_burst(0, 0, m, 32);

			n += k;
			rte_pktmbuf_free_bulk(m, k);
		}
		t = now();
	} while (t - t0 < secs);
	printf("pps=%.0f ns_per_pkt=%.2f cores=1.00 packets=%llu\n",
	       n / (t - t0), (t - t0) * 1e9 / n, n);
	rte_eth_dev_stop(0);
	rte_eal_cleanup();
	return 0;
}
