/* SPDX-License-Identifier: BSD-3-Clause */
/* fs-pcapcmp: compare two capture files (pcap or pcapng) packet by packet, or
 * count one file's packets, for flowscope's integration tests. */

/*
 * Exit status: 0 when the check holds, 1 with a one-line description of the
 * first difference on stderr, 2 on a usage, open or read error (a truncated
 * file is a read error). Packets are numbered from 1, as tcpdump and tshark
 * number them.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#define EXIT_DIFF 1
#define EXIT_TROUBLE 2

struct opts {
	bool nano;		/* open with nanosecond precision */
	bool bytes_only;	/* ignore timestamps */
	bool subset;		/* A's packets appear in B in the same order */
	bool count_only;
	uint64_t count;		/* with count_only */
	bool print_count;
	uint64_t caplen;	/* 0, or B is A cut to caplen bytes */
};

struct file {
	const char *path;
	pcap_t *p;
	uint64_t n;			/* packets read so far */
	struct pcap_pkthdr *h;		/* the last one, valid until the next read */
	const u_char *data;
};

static void usage(FILE *f)
{
	fputs(
"usage: fs-pcapcmp [options] A B    compare capture files A and B\n"
"       fs-pcapcmp --count-only N A    check that A holds exactly N packets\n"
"       fs-pcapcmp --print-count A     print the number of packets in A\n"
"  --nano          open both files with nanosecond precision and compare\n"
"                  timestamps to the nanosecond (default: microsecond)\n"
"  --bytes-only    ignore timestamps; compare caplen, len and bytes\n"
"  --subset        every packet of A appears in B, in the same relative order\n"
"                  (B may hold other packets in between)\n"
"  --caplen N      B is A captured with caplen N: B's caplen must be\n"
"                  min(A's caplen, N), len equal, bytes equal up to B's caplen\n"
"exit status: 0 same, 1 different (first difference on stderr), 2 trouble\n",
	      f);
}

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "fs-pcapcmp: MESSAGE" on stderr. */
static void msg(const char *fmt, ...)
{
	va_list ap;

	fputs("fs-pcapcmp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int open_file(struct file *f, const char *path, const struct opts *o)
{
	char errbuf[PCAP_ERRBUF_SIZE];

	f->path = path;
	f->n = 0;
	f->p = pcap_open_offline_with_tstamp_precision(path,
		o->nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (f->p == NULL) {
		msg("%s", errbuf);
		return -1;
	}
	return 0;
}

/* Read the next packet: 1 got one, 0 end of file, -1 read error (reported). */
static int next(struct file *f)
{
	int r = pcap_next_ex(f->p, &f->h, &f->data);

	if (r == 1) {
		f->n++;
		return 1;
	}
	if (r == PCAP_ERROR_BREAK)
		return 0;
	msg("%s: packet %" PRIu64 ": %s", f->path, f->n + 1,
	    r == PCAP_ERROR ? pcap_geterr(f->p) : "unexpected pcap_next_ex result");
	return -1;
}

/* Count what is left of f; -1 on a read error. */
static int64_t count_rest(struct file *f)
{
	int r;

	while ((r = next(f)) == 1)
		;
	return r < 0 ? -1 : (int64_t)f->n;
}

static void fmt_ts(char *buf, size_t len, const struct timeval *tv, bool nano)
{
	snprintf(buf, len, nano ? "%lld.%09ld" : "%lld.%06ld",
		 (long long)tv->tv_sec, (long)tv->tv_usec);
}

/*
 * Compare packet a with packet b. Returns true when they match; otherwise,
 * when why is not NULL, writes the first difference to it.
 */
static bool same_packet(const struct opts *o, const struct file *a,
			const struct file *b, char *why, size_t whylen)
{
	const struct pcap_pkthdr *ha = a->h, *hb = b->h;
	bpf_u_int32 want_caplen = ha->caplen;
	bpf_u_int32 k;
	char ta[64], tb[64];

	if (!o->bytes_only && (ha->ts.tv_sec != hb->ts.tv_sec ||
			       ha->ts.tv_usec != hb->ts.tv_usec)) {
		if (why) {
			fmt_ts(ta, sizeof(ta), &ha->ts, o->nano);
			fmt_ts(tb, sizeof(tb), &hb->ts, o->nano);
			snprintf(why, whylen, "timestamp %s vs %s", ta, tb);
		}
		return false;
	}
	if (o->caplen && o->caplen < want_caplen)
		want_caplen = (bpf_u_int32)o->caplen;
	if (hb->caplen != want_caplen) {
		if (why && o->caplen)
			snprintf(why, whylen, "caplen %u vs %u (expected min(caplen %u, %" PRIu64
				 ") = %u)", ha->caplen, hb->caplen, ha->caplen, o->caplen,
				 want_caplen);
		else if (why)
			snprintf(why, whylen, "caplen %u vs %u", ha->caplen, hb->caplen);
		return false;
	}
	if (ha->len != hb->len) {
		if (why)
			snprintf(why, whylen, "len %u vs %u", ha->len, hb->len);
		return false;
	}
	if (memcmp(a->data, b->data, want_caplen) != 0) {
		if (why) {
			for (k = 0; a->data[k] == b->data[k]; k++)
				;
			snprintf(why, whylen, "byte %u differs (0x%02x vs 0x%02x)",
				 k, a->data[k], b->data[k]);
		}
		return false;
	}
	return true;
}

static int count_only(const struct opts *o, const char *path)
{
	struct file a;
	int64_t n;

	if (open_file(&a, path, o) < 0)
		return EXIT_TROUBLE;
	n = count_rest(&a);
	pcap_close(a.p);
	if (n < 0)
		return EXIT_TROUBLE;
	if (o->print_count) {
		printf("%" PRId64 "\n", n);
		return 0;
	}
	if ((uint64_t)n != o->count) {
		msg("%s holds %" PRId64 " packets, expected %" PRIu64, path, n, o->count);
		return EXIT_DIFF;
	}
	return 0;
}

/* Packet by packet; the first difference ends the comparison. */
static int compare(const struct opts *o, struct file *a, struct file *b)
{
	char why[256];
	int ra, rb;
	int64_t na, nb;

	for (;;) {
		ra = next(a);
		if (ra < 0)
			return EXIT_TROUBLE;
		rb = next(b);
		if (rb < 0)
			return EXIT_TROUBLE;
		if (ra == 0 && rb == 0)
			return 0;
		if (ra == 0 || rb == 0) {
			na = ra ? count_rest(a) : (int64_t)a->n;
			nb = rb ? count_rest(b) : (int64_t)b->n;
			if (na < 0 || nb < 0)
				return EXIT_TROUBLE;
			msg("packet count %" PRId64 " vs %" PRId64, na, nb);
			return EXIT_DIFF;
		}
		if (!same_packet(o, a, b, why, sizeof(why))) {
			msg("packet %" PRIu64 ": %s", a->n, why);
			return EXIT_DIFF;
		}
	}
}

/* Greedy in-order matching: each packet of A takes the first match in B
 * after the previous one's, which finds a match whenever one exists. */
static int subset(const struct opts *o, struct file *a, struct file *b)
{
	char ts[64];
	uint64_t matched_at = 0;	/* B's packet that matched A's previous one */
	int ra, rb;

	for (;;) {
		ra = next(a);
		if (ra <= 0)
			return ra < 0 ? EXIT_TROUBLE : 0;
		do {
			rb = next(b);
			if (rb < 0)
				return EXIT_TROUBLE;
			if (rb == 0) {
				fmt_ts(ts, sizeof(ts), &a->h->ts, o->nano);
				msg("packet %" PRIu64 " of A (timestamp %s, len %u) is not in B"
				    " after B's packet %" PRIu64 " (B holds %" PRIu64 " packets)",
				    a->n, ts, a->h->len, matched_at, b->n);
				return EXIT_DIFF;
			}
		} while (!same_packet(o, a, b, NULL, 0));
		matched_at = b->n;
	}
}

static uint64_t parse_num(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = (s[0] >= '0' && s[0] <= '9') ? strtoull(s, &end, 10) : 0;
	if (s[0] < '0' || s[0] > '9' || errno != 0 || *end != '\0') {
		msg("%s: '%s' is not a decimal number", opt, s);
		exit(EXIT_TROUBLE);
	}
	return v;
}

int main(int argc, char **argv)
{
	enum { O_NANO = 256, O_BYTES, O_SUBSET, O_COUNT, O_PRINT, O_CAPLEN };
	static const struct option longopts[] = {
		{ "nano", no_argument, NULL, O_NANO },
		{ "bytes-only", no_argument, NULL, O_BYTES },
		{ "subset", no_argument, NULL, O_SUBSET },
		{ "count-only", required_argument, NULL, O_COUNT },
		{ "print-count", no_argument, NULL, O_PRINT },
		{ "caplen", required_argument, NULL, O_CAPLEN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { 0 };
	struct file a = { 0 }, b = { 0 };
	int c, rc = EXIT_TROUBLE;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_NANO: o.nano = true; break;
		case O_BYTES: o.bytes_only = true; break;
		case O_SUBSET: o.subset = true; break;
		case O_COUNT:
			o.count_only = true;
			o.count = parse_num("--count-only", optarg);
			break;
		case O_PRINT: o.print_count = true; break;
		case O_CAPLEN:
			o.caplen = parse_num("--caplen", optarg);
			if (o.caplen == 0 || o.caplen > UINT32_MAX) {
				msg("--caplen must be 1..%u", UINT32_MAX);
				return EXIT_TROUBLE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_TROUBLE;
		}
	}
	if (o.count_only || o.print_count) {
		if (argc - optind != 1 || o.subset || o.bytes_only || o.caplen ||
		    (o.count_only && o.print_count)) {
			usage(stderr);
			return EXIT_TROUBLE;
		}
		return count_only(&o, argv[optind]);
	}
	if (argc - optind != 2) {
		usage(stderr);
		return EXIT_TROUBLE;
	}
	if (open_file(&a, argv[optind], &o) < 0 || open_file(&b, argv[optind + 1], &o) < 0)
		goto done;
	if (pcap_datalink(a.p) != pcap_datalink(b.p)) {
		const char *na = pcap_datalink_val_to_name(pcap_datalink(a.p));
		const char *nb = pcap_datalink_val_to_name(pcap_datalink(b.p));
		msg("link-type %s vs %s", na ? na : "?", nb ? nb : "?");
		rc = EXIT_DIFF;
		goto done;
	}
	rc = o.subset ? subset(&o, &a, &b) : compare(&o, &a, &b);
done:
	if (a.p != NULL)
		pcap_close(a.p);
	if (b.p != NULL)
		pcap_close(b.p);
	return rc;
}
