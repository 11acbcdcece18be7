/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark sender: floods an interface with the packets of a capture
 * file, looped, as fast as one AF_PACKET socket takes them (batches of
 * sendmmsg, qdisc bypassed), for SECONDS. Prints packets sent per second.
 *   veth-flood IFNAME FILE SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXPKTS 4096
#define BATCH 64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static unsigned char data[MAXPKTS][2048];
	static struct iovec iov[MAXPKTS];
	struct mmsghdr msg[BATCH];
	char eb[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const unsigned char *d;
	struct sockaddr_ll sll;
	unsigned n = 0, next = 0;
	unsigned long long sent = 0;
	double secs, t0;
	int fd, one = 1;
	pcap_t *p;

	if (argc != 4) {
		fprintf(stderr, "usage: veth-flood IFNAME FILE SECONDS\n");
		return 2;
	}
	secs = atof(argv[3]);
	p = pcap_open_offline(argv[2], eb);
	if (p == NULL) {
		fprintf(stderr, "veth-flood: %s\n", eb);
		return 1;
	}
	while (n < MAXPKTS && pcap_next_ex(p, &h, &d) == 1) {
		unsigned len = h->caplen < sizeof(data[0]) ? h->caplen : sizeof(data[0]);

		memcpy(data[n], d, len);
		iov[n].iov_base = data[n];
		iov[n].iov_len = len;
		n++;
	}
	pcap_close(p);
	if (n == 0)
		return 1;
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("veth-flood: socket");
		return 1;
	}
	(void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (sll.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("veth-flood: bind");
		return 1;
	}
	memset(msg, 0, sizeof(msg));
	t0 = now();
	while (now() - t0 < secs) {
		int k;

		for (int i = 0; i < BATCH; i++) {
			msg[i].msg_hdr.msg_iov = &iov[next];
			msg[i].msg_hdr.msg_iovlen = 1;
			next = next + 1 == n ? 0 : next + 1;
		}
		k = sendmmsg(fd, msg, BATCH, 0);
		if (k > 0)
			sent += (unsigned)k;
	}
	printf("sent_pps=%.0f\n", sent / (now() - t0));
	return 0;
}
