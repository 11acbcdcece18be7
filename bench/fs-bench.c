/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark consumer: what an application gets at the pcap callback.
 * Opens a device (or loops over a capture file with pcap_open_offline),
 * counts packets in the callback for SECONDS after a warm-up, and prints
 * packets/s, ns per packet and the CPU cores the process used.
 *   fs-bench DEVICE SECONDS          live device (any libpcap module)
 *   fs-bench -r FILE SECONDS         stock offline reading, file re-opened
 *   fs-bench -s DEVICE SECONDS       never reads: only pcap_stats (what
 *                                    the device does with no help from
 *                                    the application's thread)
 */
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static unsigned long long pkts, bytes;
static volatile unsigned char sink;

static void cb(u_char *u, const struct pcap_pkthdr *h, const u_char *d)
{
	(void)u;
	pkts++;
	bytes += h->len;
	sink ^= d[0];	/* touch the packet, as any application does */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/*
 * CPU seconds of this process's threads named fs-gen (flowscope's
 * generator, gen = ...): the traffic's cost, not the capture's, which
 * the figures below leave out and report on their own.
 */
static double gen_cpu(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	double ticks = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[512], *p;
		unsigned long ut, st;
		FILE *f;
		size_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* pid (comm) state ppid ... utime stime: fields 14 and 15 */
		p = strchr(buf, '(');
		if (p == NULL || strncmp(p, "(fs-gen", 7) != 0 ||
		    (p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &ut, &st) != 2)
			continue;
		ticks += (double)(ut + st);
	}
	closedir(d);
	return ticks / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv)
{
	char eb[PCAP_ERRBUF_SIZE];
	const char *file = NULL, *dev;
	int stats_only = 0;
	double secs, warm = 1.0, t0, t1, c0, c1, g0 = 0, g1, start;
	unsigned long long p0 = 0;
	struct pcap_stat st = { 0 }, st0 = { 0 };
	pcap_t *p;
	int measuring = 0;

	if (argc == 4 && strcmp(argv[1], "-r") == 0) {
		file = argv[2];
		secs = atof(argv[3]);
	} else if (argc == 4 && strcmp(argv[1], "-s") == 0) {
		stats_only = 1;
		argv++;
		secs = atof(argv[2]);
	} else if (argc == 3) {
		secs = atof(argv[2]);
	} else {
		fprintf(stderr, "usage: fs-bench DEVICE SECONDS | -r FILE SECONDS | "
			"-s DEVICE SECONDS\n");
		return 2;
	}
	dev = file ? file : argv[1];
	if (file) {
		p = pcap_open_offline(file, eb);
		if (p == NULL) {
			fprintf(stderr, "fs-bench: %s\n", eb);
			return 1;
		}
	} else {
		p = pcap_create(dev, eb);
		if (p == NULL) {
			fprintf(stderr, "fs-bench: %s\n", eb);
			return 1;
		}
		pcap_set_snaplen(p, 262144);
		pcap_set_promisc(p, 1);
		pcap_set_timeout(p, 10);
		if (pcap_activate(p) < 0) {
			fprintf(stderr, "fs-bench: %s: %s\n", dev, pcap_geterr(p));
			return 1;
		}
	}
	start = now();
	t0 = c0 = 0;
	if (stats_only) {
		/* the warm-up, then the counters over secs; the reading
		 * thread only sleeps */
		usleep((useconds_t)(warm * 1e6));
		t0 = now();
		c0 = cpu();
		g0 = gen_cpu();
		pcap_stats(p, &st0);
		usleep((useconds_t)(secs * 1e6));
	}
	while (!stats_only) {
		int n = pcap_dispatch(p, 4096, cb, NULL);
		double t = now();

		if (n <= 0 && file) {	/* end of the file: read it again */
			pcap_close(p);
			p = pcap_open_offline(file, eb);
			if (p == NULL)
				return 1;
		} else if (n < 0) {
			fprintf(stderr, "fs-bench: %s\n", pcap_geterr(p));
			return 1;
		}
		if (!measuring && t - start >= warm) {
			measuring = 1;
			t0 = t;
			c0 = cpu();
			g0 = gen_cpu();
			p0 = pkts;
			if (!file)
				pcap_stats(p, &st0);
		}
		if (measuring && t - t0 >= secs)
			break;
	}
	t1 = now();
	c1 = cpu();
	g1 = gen_cpu();
	if (!file)
		pcap_stats(p, &st);
	{
		double n = (double)(pkts - p0), dt = t1 - t0;
		double r = (double)(st.ps_recv - st0.ps_recv);
		double gen = g1 - g0, c = c1 - c0 - gen;

		/* ns per packet: CPU time over packets received (for trigger
		 * mode, where few are delivered) or delivered; the
		 * generator's own threads apart (gen_cores) */
		printf("pps=%.0f recv_pps=%.0f ns_per_pkt=%.2f cores=%.2f "
		       "packets=%.0f drop=%u ifdrop=%u gen_cores=%.2f\n", n / dt,
		       file ? n / dt : r / dt,
		       c * 1e9 / (n > r ? (n > 0 ? n : 1) : r),
		       c / dt, n, st.ps_drop - st0.ps_drop,
		       st.ps_ifdrop - st0.ps_ifdrop, gen / dt);
	}
	pcap_close(p);
	return 0;
}
