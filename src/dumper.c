/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-flow pcap files of triggered flows (see dumper.h). The dumper reads
 * the delivery lanes like any reader; the first delivered packet of a
 * triggered flow carries FS_REC_FIRST and opens that flow's file, named
 * after its first timestamp and its 5-tuple.
 */
#define _GNU_SOURCE
#include "dumper.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uthash.h>

#include "analyzer.h"
#include "flowkey.h"

#define STAGE (1u << 20)

struct dfile {
	struct fs_flow_key key;
	pcap_dumper_t *pd;	/* NULL: creating or writing failed */
	uint64_t last_ts;
	int64_t good;		/* file size after the last good flush */
	unsigned unflushed;
	UT_hash_handle hh;
};

struct fs_dumper {
	int dirfd;
	char *dir;
	unsigned n;
	struct fs_lane **lanes;
	struct fs_cursor *cur;
	_Atomic uint64_t *seq;
	pcap_t *dead;		/* gives pcap_dump_fopen its link type */
	uint8_t *buf;
	uint64_t timeout_ns, newest;
	struct dfile *files;
	struct fs_frag frags[FS_FRAGS];	/* same flows as the analyzer's */
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	_Atomic uint64_t nfiles, npkts, nerrors, nlost;
};

/*
 * Flush f; on failure (disk full, file system gone) cut the file back to
 * its last good size, so that what it holds stays a valid capture file,
 * and stop writing this flow. Returns 0 or -1.
 */
static int flush(fs_dumper *d, struct dfile *f)
{
	FILE *fp = pcap_dump_file(f->pd);

	if (!ferror(fp) && pcap_dump_flush(f->pd) == 0) {
		f->good = pcap_dump_ftell64(f->pd);
		f->unflushed = 0;
		return 0;
	}
	atomic_fetch_add(&d->nerrors, 1);
	clearerr(fp);
	/* drop what stdio still holds, then cut at the last good size */
	(void)ftruncate(fileno(fp), f->good);
	__fpurge(fp);
	pcap_dump_close(f->pd);
	f->pd = NULL;
	return -1;
}

static void close_file(fs_dumper *d, struct dfile *f)
{
	HASH_DEL(d->files, f);
	if (f->pd != NULL && flush(d, f) == 0)
		pcap_dump_close(f->pd);
	free(f);
}

/* "<a>" with IPv6 ':' as '.', MACs with '-'. */
static void addr_str(const struct fs_flow_key *k, const uint8_t *a, char *buf,
		     size_t len)
{
	if (k->kind == FS_FLOW_IP4) {
		inet_ntop(AF_INET, a, buf, (socklen_t)len);
	} else if (k->kind == FS_FLOW_IP6) {
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
		for (char *p = buf; *p; p++)
			if (*p == ':')
				*p = '.';
	} else {
		snprintf(buf, len, "%02x-%02x-%02x-%02x-%02x-%02x", a[0], a[1],
			 a[2], a[3], a[4], a[5]);
	}
}

static void file_name(const struct fs_flow_key *k, uint64_t ts, char *buf,
		      size_t len)
{
	char a[64], b[64], proto[32], when[32];
	time_t sec = (time_t)(ts / 1000000000u);
	struct tm tm;
	char *sp;

	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
	fs_flow_key_str(k, proto, sizeof(proto));
	sp = strchr(proto, ' ');
	if (sp != NULL)
		*sp = '\0';
	addr_str(k, k->a, a, sizeof(a));
	addr_str(k, k->b, b, sizeof(b));
	snprintf(buf, len, "%s.%09u_%s_%s_%u_%s_%u", when,
		 (unsigned)(ts % 1000000000u), proto, a, (unsigned)k->port_a,
		 b, (unsigned)k->port_b);
}

/* Create the file of a flow: owner-only, never over an existing file and
 * never through a symlink (O_EXCL | O_NOFOLLOW); a clash gets a suffix. */
static pcap_dumper_t *create(fs_dumper *d, const struct fs_flow_key *k,
			     uint64_t ts)
{
	char base[256], name[300];
	int fd = -1;
	FILE *fp;
	pcap_dumper_t *pd;

	file_name(k, ts, base, sizeof(base));
	for (unsigned i = 0; i < 100 && fd < 0; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "%s.pcap", base);
		else
			snprintf(name, sizeof(name), "%s-%u.pcap", base, i);
		fd = openat(d->dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return NULL;
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		close(fd);
		return NULL;
	}
	pd = pcap_dump_fopen(d->dead, fp);
	if (pd == NULL || pcap_dump_flush(pd) != 0) {
		/* not even the file header fits */
		if (pd != NULL)
			pcap_dump_close(pd);
		else
			fclose(fp);
		unlinkat(d->dirfd, name, 0);
		return NULL;
	}
	atomic_fetch_add(&d->nfiles, 1);
	return pd;
}

static void write_one(fs_dumper *d, const struct fs_pkt_hdr *h)
{
	struct fs_pkt_info info;
	struct dfile *f;
	struct pcap_pkthdr ph;

	fs_flow_parse((const uint8_t *)(h + 1), h->cap_len, &info);
	if (info.frag_tag != 0)
		fs_frag_fixup(d->frags, &info, h->ts_ns);
	HASH_FIND(hh, d->files, &info.key, sizeof(info.key), f);
	if (f != NULL && (h->flags & FS_REC_FIRST)) {
		close_file(d, f);	/* a new instance of the same 5-tuple */
		f = NULL;
	}
	if (f == NULL) {
		f = calloc(1, sizeof(*f));
		if (f == NULL) {
			atomic_fetch_add(&d->nerrors, 1);
			return;
		}
		f->key = info.key;
		f->pd = create(d, &info.key, h->ts_ns);
		if (f->pd == NULL)
			atomic_fetch_add(&d->nerrors, 1);
		else
			f->good = pcap_dump_ftell64(f->pd);
		HASH_ADD(hh, d->files, key, sizeof(f->key), f);
	}
	f->last_ts = h->ts_ns;
	if (h->ts_ns > d->newest)
		d->newest = h->ts_ns;
	if (f->pd == NULL)
		return;
	ph.ts.tv_sec = (time_t)(h->ts_ns / 1000000000u);
	ph.ts.tv_usec = (suseconds_t)(h->ts_ns % 1000000000u);
	ph.caplen = h->cap_len;
	ph.len = h->wire_len;
	pcap_dump((u_char *)f->pd, &ph, (const u_char *)(h + 1));
	/* disk full or gone: the file keeps what was flushed, the flow's
	 * file stops here, capture goes on */
	if ((ferror(pcap_dump_file(f->pd)) || ++f->unflushed >= 64) &&
	    flush(d, f) < 0)
		return;
	atomic_fetch_add_explicit(&d->npkts, 1, memory_order_relaxed);
}

/* Write everything the lanes hold now; returns records written. */
static unsigned drain(fs_dumper *d)
{
	unsigned total = 0;

	for (unsigned i = 0; i < d->n; i++) {
		unsigned n;
		uint64_t lost = 0;

		while ((n = fs_lane_read(d->lanes[i], &d->cur[i], d->buf, STAGE,
					 4096, &lost)) > 0) {
			const uint8_t *p = d->buf;

			for (unsigned k = 0; k < n; k++) {
				const struct fs_pkt_hdr *h = (const void *)p;

				write_one(d, h);
				p += FS_REC_SIZE(h->cap_len);
			}
			total += n;
			atomic_store_explicit(&d->seq[i], d->cur[i].seq,
					      memory_order_release);
		}
		if (lost)
			atomic_fetch_add(&d->nlost, lost);
		atomic_store_explicit(&d->seq[i], d->cur[i].seq,
				      memory_order_release);
	}
	return total;
}

/* Close files of flows idle for the timeout (packet time). */
static void close_idle(fs_dumper *d)
{
	struct dfile *f, *tmp;

	HASH_ITER(hh, d->files, f, tmp)
		if (f->last_ts + d->timeout_ns < d->newest)
			close_file(d, f);
		else if (f->pd != NULL)
			flush(d, f);
}

static void *run(void *arg)
{
	fs_dumper *d = arg;
	time_t last = time(NULL);

	pthread_setname_np(pthread_self(), "fs-dump");
	while (!atomic_load(&d->stop)) {
		if (drain(d) == 0) {
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
		}
		if (time(NULL) != last) {
			last = time(NULL);
			close_idle(d);
		}
	}
	return NULL;
}

void fs_dumper_stop(fs_dumper *d)
{
	struct dfile *f, *tmp;

	if (d == NULL)
		return;
	if (d->started) {
		atomic_store(&d->stop, true);
		pthread_join(d->thread, NULL);
	}
	drain(d);
	HASH_ITER(hh, d->files, f, tmp)
		close_file(d, f);
	if (d->dead != NULL)
		pcap_close(d->dead);
	if (d->dirfd >= 0)
		close(d->dirfd);
	free(d->cur);
	free(d->buf);
	free(d->dir);
	free(d);
}

fs_dumper *fs_dumper_start(const char *dir, struct fs_lane **lanes,
			   unsigned n, _Atomic uint64_t *seq, uint32_t snap,
			   uint32_t timeout_s, char *err, size_t errlen)
{
	fs_dumper *d = calloc(1, sizeof(*d));
	sigset_t all, old;
	int rc;

	if (d == NULL) {
		snprintf(err, errlen, "dump_dir: out of memory");
		return NULL;
	}
	d->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->dirfd < 0) {
		snprintf(err, errlen, "dump_dir: cannot open '%s': %s", dir,
			 strerror(errno));
		goto fail;
	}
	d->dir = strdup(dir);
	d->n = n;
	d->lanes = lanes;
	d->seq = seq;
	d->timeout_ns = (uint64_t)timeout_s * 1000000000u;
	d->cur = calloc(n, sizeof(*d->cur));
	d->buf = malloc(STAGE);
	d->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)snap,
			PCAP_TSTAMP_PRECISION_NANO);
	if (d->dir == NULL || d->cur == NULL || d->buf == NULL ||
	    d->dead == NULL) {
		snprintf(err, errlen, "dump_dir: out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		fs_cursor_oldest(lanes[i], &d->cur[i]);
		atomic_store(&seq[i], d->cur[i].seq);
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&d->thread, NULL, run, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "dump_dir: cannot start the dumper: %s",
			 strerror(rc));
		goto fail;
	}
	d->started = true;
	return d;
fail:
	fs_dumper_stop(d);
	return NULL;
}

void fs_dumper_stats(fs_dumper *d, struct fs_dumper_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (d == NULL)
		return;
	s->files = atomic_load(&d->nfiles);
	s->packets = atomic_load(&d->npkts);
	s->errors = atomic_load(&d->nerrors);
	s->lost = atomic_load(&d->nlost);
}
