/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-flow pcap files of triggered flows (see dumper.h). The dumper reads
 * the delivery lanes like any reader; the first delivered packet of a
 * triggered flow carries FS_REC_FIRST and opens that flow's file, named
 * after its first timestamp and its 5-tuple.
 *
 * Open files are bounded (a quarter of the soft RLIMIT_NOFILE, at most
 * MAX_OPEN): the least recently written one is closed when another flow
 * needs a descriptor, and reopened for appending when its flow writes
 * again. The files are nanosecond pcap written here directly (a header
 * once, when the file is created, then records), since a reopened file
 * must not get a second header.
 */
#define _GNU_SOURCE
#include "dumper.h"
#include "thread.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uthash.h>

#include "analyzer.h"
#include "flowkey.h"
#include "spool_hist.h"

#define STAGE (1u << 20)
#define MAX_OPEN 256u		/* open dump files, at most */
#define MIN_OPEN 2u
#define FLUSH_EVERY 64u		/* packets */
#define REPORT_MS 10000		/* one line about errors per 10 s, at most */
#define NAME_TRIES 100		/* name, name-1, ... name-99 */

#define PCAP_NSEC_MAGIC 0xa1b23c4du
#define LINKTYPE_ETHERNET 1u

/* A flow's file: open (fp), closed for room (reopened when its flow
 * writes again), or failed (nothing more is written for the flow). */
struct dfile {
	struct fs_flow_key key;
	FILE *fp;
	bool failed;
	bool created;		/* dev, ino and name are the file's */
	dev_t dev;
	ino_t ino;
	uint64_t last_ts;
	int64_t good;		/* file size after the last good flush */
	int64_t pending;	/* bytes written into fp since then */
	unsigned unflushed;
	struct dfile *newer, *older;	/* the open files, by last write */
	UT_hash_handle hh;
	char name[FS_PS_NAME_MAX + 1];
};

struct fs_dumper {
	int dirfd;
	char *dir;
	fs_privsep *ps;
	unsigned n;
	struct fs_lane **lanes;
	struct fs_cursor *cur;
	_Atomic uint64_t *seq;
	uint8_t *buf;
	uint8_t hdr[24];	/* the pcap file header of every file */
	uint64_t timeout_ns, newest;
	fs_hist_open_fn hist_open;	/* history references: expanded so */
	void *hist_arg;
	_Atomic uint64_t *const *hist_lost;
	uint32_t snap;
	struct dfile *files;
	struct dfile *lru_new, *lru_old;	/* open files */
	unsigned nopen, max_open;
	struct fs_frag frags[FS_FRAGS];	/* same flows as the analyzer's */
	/* error lines on stderr */
	uint64_t reported;	/* errors counted when the last line went out */
	int64_t reported_ms;
	char last_err[FS_PS_NAME_MAX + 160];
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	_Atomic uint64_t nfiles, npkts, nerrors, nlost, nreopen;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line on stderr, in one write so that it does not interleave with
 * the application's; never stdout, which may carry its packets. */
static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

/* Errors not told yet: one line with their count, unless the last line
 * is younger than REPORT_MS (final: at the end, whatever its age). */
static void report_pending(fs_dumper *d, bool final)
{
	uint64_t n = atomic_load(&d->nerrors);

	if (n == d->reported || (!final && now_ms() - d->reported_ms <
				 REPORT_MS))
		return;
	say("flowscope: dump_dir %s: %" PRIu64 " more dump error%s "
	    "(dump_errors %" PRIu64 "), the last: %s; capture goes on",
	    d->dir, n - d->reported, n - d->reported == 1 ? "" : "s", n,
	    d->last_err);
	d->reported = n;
	d->reported_ms = now_ms();
}

/*
 * Count a failure of file name (what: "cannot create", ...) with errno
 * err. The first one is said at once: a user who set dump_dir must learn
 * while capturing that files are missing, not only from stats. Later
 * ones at most once per REPORT_MS, with their count.
 */
static void dump_error(fs_dumper *d, const char *what, const char *name,
		       int err)
{
	char eb[128];
	uint64_t n = atomic_fetch_add(&d->nerrors, 1) + 1;
	const char *why = err == ESTALE
		? "it is no longer the file flowscope created"
		: strerror_r(err, eb, sizeof(eb));

	snprintf(d->last_err, sizeof(d->last_err), "%s %s: %s", what, name,
		 why);
	if (n == 1) {
		say("flowscope: dump_dir %s: %s; capture goes on, this flow's "
		    "file is incomplete or missing (counted in dump_errors; "
		    "further errors are summed up every %d s)", d->dir,
		    d->last_err, REPORT_MS / 1000);
		d->reported = n;
		d->reported_ms = now_ms();
	} else {
		report_pending(d, false);
	}
}

/* ---- the open files, least recently written last ---- */

static void lru_remove(fs_dumper *d, struct dfile *f)
{
	if (f->newer != NULL)
		f->newer->older = f->older;
	else
		d->lru_new = f->older;
	if (f->older != NULL)
		f->older->newer = f->newer;
	else
		d->lru_old = f->newer;
	f->newer = f->older = NULL;
	d->nopen--;
}

static void lru_add(fs_dumper *d, struct dfile *f)
{
	f->newer = NULL;
	f->older = d->lru_new;
	if (d->lru_new != NULL)
		d->lru_new->newer = f;
	else
		d->lru_old = f;
	d->lru_new = f;
	d->nopen++;
}

static void lru_touch(fs_dumper *d, struct dfile *f)
{
	if (d->lru_new == f)
		return;
	lru_remove(d, f);
	lru_add(d, f);
}

/*
 * The file of f failed (what, err): cut it back to its last good size, so
 * that what it holds stays a valid capture file, and write nothing more
 * for this flow.
 */
static void fail_file(fs_dumper *d, struct dfile *f, const char *what,
		      int err)
{
	dump_error(d, what, f->name, err);
	if (f->fp != NULL) {
		clearerr(f->fp);
		/* drop what stdio still holds, then cut */
		__fpurge(f->fp);
		(void)!ftruncate(fileno(f->fp), f->good);
		fclose(f->fp);
		f->fp = NULL;
		lru_remove(d, f);
	}
	f->failed = true;
}

/* Flush f (open). Returns 0, or -1 after fail_file(). */
static int flush(fs_dumper *d, struct dfile *f)
{
	errno = 0;
	if (!ferror(f->fp) && fflush(f->fp) == 0) {
		f->good += f->pending;
		f->pending = 0;
		f->unflushed = 0;
		return 0;
	}
	fail_file(d, f, "cannot write", errno ? errno : EIO);
	return -1;
}

/* Close f's descriptor (flushing), keeping the flow: it is reopened when
 * it writes again. */
static void shut(fs_dumper *d, struct dfile *f)
{
	if (f->fp == NULL || flush(d, f) < 0)
		return;
	lru_remove(d, f);
	if (fclose(f->fp) != 0) {
		f->fp = NULL;
		fail_file(d, f, "cannot write", errno);
		return;
	}
	f->fp = NULL;
}

/* Room for one more open file: close the least recently written ones
 * beyond the bound. */
static void make_room(fs_dumper *d)
{
	while (d->nopen >= d->max_open && d->lru_old != NULL)
		shut(d, d->lru_old);
}

/* An open call failed for want of descriptors: give one of ours back
 * (the application's and control's needs come first). Returns whether
 * trying again makes sense. */
static bool out_of_fds(fs_dumper *d, int err)
{
	if ((err != EMFILE && err != ENFILE) || d->lru_old == NULL)
		return false;
	shut(d, d->lru_old);
	return true;
}

static int attach(fs_dumper *d, struct dfile *f, int fd, const char *mode)
{
	f->fp = fdopen(fd, mode);
	if (f->fp == NULL) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	lru_add(d, f);
	return 0;
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

/* Create the file of flow f: owner-only, never over an existing file and
 * never through a symlink; a clash gets a suffix. Returns 0 or -1 (f
 * failed, counted and reported). */
static int create(fs_dumper *d, struct dfile *f, uint64_t ts)
{
	char base[FS_PS_NAME_MAX - 8];
	int fd = -1, err = 0;

	file_name(&f->key, ts, base, sizeof(base));
	make_room(d);
	for (unsigned i = 0; i < NAME_TRIES && fd < 0; i++) {
		if (i == 0)
			snprintf(f->name, sizeof(f->name), "%s.pcap", base);
		else
			snprintf(f->name, sizeof(f->name), "%s-%u.pcap", base,
				 i);
		fd = fs_privsep_create(d->ps, d->dirfd, f->name, d->hdr,
				       sizeof(d->hdr), &f->dev, &f->ino);
		if (fd >= 0)
			break;
		err = errno;
		if (out_of_fds(d, err))
			fd = fs_privsep_create(d->ps, d->dirfd, f->name,
					       d->hdr, sizeof(d->hdr), &f->dev,
					       &f->ino);
		if (fd < 0 && (err = errno) != EEXIST)
			break;
	}
	if (fd >= 0) {
		f->created = true;
		f->good = (int64_t)sizeof(d->hdr);
		atomic_fetch_add(&d->nfiles, 1);
		if (attach(d, f, fd, "w") == 0)
			return 0;
		err = errno;
	}
	fail_file(d, f, f->created ? "cannot write" : "cannot create", err);
	return -1;
}

/* Make sure f has its file open. Returns 0 or -1 (failed). */
static int reopen(fs_dumper *d, struct dfile *f)
{
	int fd;

	if (f->fp != NULL) {
		lru_touch(d, f);
		return 0;
	}
	if (f->failed)
		return -1;
	make_room(d);
	fd = fs_privsep_reopen(d->ps, d->dirfd, f->name, f->dev, f->ino);
	if (fd < 0 && out_of_fds(d, errno))
		fd = fs_privsep_reopen(d->ps, d->dirfd, f->name, f->dev,
				       f->ino);
	if (fd < 0 || attach(d, f, fd, "a") < 0) {
		fail_file(d, f, "cannot reopen", errno);
		return -1;
	}
	atomic_fetch_add_explicit(&d->nreopen, 1, memory_order_relaxed);
	return 0;
}

/* The flow of f is done: complete its file and forget it. */
static void close_file(fs_dumper *d, struct dfile *f)
{
	HASH_DEL(d->files, f);
	shut(d, f);
	if (f->created)
		fs_privsep_forget(d->ps, f->dev, f->ino);
	free(f);
}

static void write_one(fs_dumper *d, const struct fs_pkt_hdr *h)
{
	struct fs_pkt_info info;
	struct dfile *f;
	uint32_t rec[4];

	fs_flow_parse((const uint8_t *)(h + 1), h->cap_len, &info);
	if (info.frag_tag != 0)
		fs_frag_fixup(d->frags, &info, h->ts_ns);
	HASH_FIND(hh, d->files, &info.key, sizeof(info.key), f);
	if (f != NULL && (h->flags & FS_REC_FIRST)) {
		close_file(d, f);	/* a new instance of the same 5-tuple */
		f = NULL;
	}
	if (h->ts_ns > d->newest)
		d->newest = h->ts_ns;
	if (f == NULL) {
		f = calloc(1, sizeof(*f));
		if (f == NULL) {
			dump_error(d, "cannot keep track of a flow for",
				   "its file", ENOMEM);
			return;
		}
		f->key = info.key;
		f->last_ts = h->ts_ns;
		HASH_ADD(hh, d->files, key, sizeof(f->key), f);
		if (create(d, f, h->ts_ns) < 0)
			return;
	}
	f->last_ts = h->ts_ns;
	if (reopen(d, f) < 0)
		return;
	rec[0] = (uint32_t)(h->ts_ns / 1000000000u);
	rec[1] = (uint32_t)(h->ts_ns % 1000000000u);
	rec[2] = h->cap_len;
	rec[3] = h->wire_len;
	errno = 0;
	if (fwrite(rec, sizeof(rec), 1, f->fp) != 1 ||
	    fwrite(h + 1, 1, h->cap_len, f->fp) != h->cap_len) {
		/* disk full or gone: the file keeps what was flushed, the
		 * flow's file stops here, capture goes on */
		fail_file(d, f, "cannot write", errno ? errno : EIO);
		return;
	}
	f->pending += (int64_t)(sizeof(rec) + h->cap_len);
	if (++f->unflushed >= FLUSH_EVERY && flush(d, f) < 0)
		return;
	atomic_fetch_add_explicit(&d->npkts, 1, memory_order_relaxed);
}

/* A triggered flow's history on disk (h, its reference on lane i): it
 * opens the flow's file (a new instance of a 5-tuple gets a new one),
 * then its packets are written from the spool. */
static unsigned history(fs_dumper *d, unsigned i, const struct fs_pkt_hdr *h)
{
	struct fs_hist_ref ref;
	struct dfile *f;
	fs_spool_hist *it;
	const uint8_t *recs;
	unsigned np, total = 0;
	size_t n;

	if (fs_hist_ref_get(h, &ref) < 0)
		return 0;
	HASH_FIND(hh, d->files, &ref.key, sizeof(ref.key), f);
	if (f != NULL)
		close_file(d, f);
	it = d->hist_open != NULL ? d->hist_open(d->hist_arg, i, h, d->snap)
				  : NULL;
	while (it != NULL && (n = fs_spool_hist_next(it, &recs, &np)) > 0) {
		for (size_t off = 0; off < n;) {
			const struct fs_pkt_hdr *r = (const void *)(recs + off);

			write_one(d, r);
			off += FS_REC_SIZE(r->cap_len);
		}
		total += np;
	}
	if (d->hist_lost != NULL)
		atomic_fetch_add_explicit(d->hist_lost[i], it != NULL ?
					  fs_spool_hist_missing(it) : ref.expect,
					  memory_order_relaxed);
	fs_spool_hist_close(it);
	return total;
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

				if (h->flags & FS_REC_HIST)
					total += history(d, i, h);
				else
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

/* Close files of flows idle for the timeout (packet time); flush the
 * others, so that what was written is on disk within a second. */
static void close_idle(fs_dumper *d)
{
	struct dfile *f, *tmp;

	HASH_ITER(hh, d->files, f, tmp)
		if (f->last_ts + d->timeout_ns < d->newest)
			close_file(d, f);
		else if (f->fp != NULL && f->unflushed > 0)
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
			report_pending(d, false);
		}
	}
	return NULL;
}

void fs_dumper_stop(fs_dumper *d, struct fs_dumper_stats *last)
{
	struct dfile *f, *tmp;

	if (d == NULL)
		return;
	if (d->started) {
		atomic_store(&d->stop, true);
		pthread_join(d->thread, NULL);
	}
	if (d->cur != NULL && d->buf != NULL)
		drain(d);
	HASH_ITER(hh, d->files, f, tmp)
		close_file(d, f);
	report_pending(d, true);
	if (last != NULL)
		fs_dumper_stats(d, last);
	free(d->cur);
	free(d->buf);
	free(d->dir);
	free(d);
}

/* A quarter of the descriptors we may have, within [MIN_OPEN, MAX_OPEN]:
 * the rest stays for the application, the EAL and the control socket. */
static unsigned open_bound(void)
{
	struct rlimit rl;
	rlim_t n = MAX_OPEN;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		n = rl.rlim_cur / 4;
	if (n > MAX_OPEN)
		n = MAX_OPEN;
	if (n < MIN_OPEN)
		n = MIN_OPEN;
	return (unsigned)n;
}

fs_dumper *fs_dumper_start(const char *dir, int dirfd, fs_privsep *ps,
			   struct fs_lane **lanes, unsigned n,
			   _Atomic uint64_t *seq, uint32_t snap,
			   uint32_t timeout_s, char *err, size_t errlen)
{
	fs_dumper *d = calloc(1, sizeof(*d));
	const struct {
		uint32_t magic;
		uint16_t major, minor;
		int32_t thiszone;
		uint32_t sigfigs, snaplen, linktype;
	} hdr = { PCAP_NSEC_MAGIC, 2, 4, 0, 0, snap, LINKTYPE_ETHERNET };
	int rc;

	if (d == NULL) {
		snprintf(err, errlen, "dump_dir: out of memory");
		return NULL;
	}
	_Static_assert(sizeof(hdr) == sizeof(d->hdr), "pcap file header");
	memcpy(d->hdr, &hdr, sizeof(d->hdr));
	d->dirfd = dirfd;
	d->ps = ps;
	d->dir = strdup(dir);
	d->n = n;
	d->lanes = lanes;
	d->seq = seq;
	d->timeout_ns = (uint64_t)timeout_s * 1000000000u;
	d->snap = snap;
	d->max_open = open_bound();
	d->cur = calloc(n, sizeof(*d->cur));
	d->buf = malloc(STAGE);
	if (d->dir == NULL || d->cur == NULL || d->buf == NULL) {
		snprintf(err, errlen, "dump_dir: out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		fs_cursor_oldest(lanes[i], &d->cur[i]);
		atomic_store(&seq[i], d->cur[i].seq);
	}
	rc = fs_thread_start(&d->thread, run, d);
	if (rc != 0) {
		snprintf(err, errlen, "dump_dir: cannot start the dumper: %s",
			 strerror(rc));
		goto fail;
	}
	d->started = true;
	return d;
fail:
	fs_dumper_stop(d, NULL);
	return NULL;
}

void fs_dumper_set_history(fs_dumper *d, fs_hist_open_fn open, void *arg,
			   _Atomic uint64_t *const *lost)
{
	if (d == NULL)
		return;
	d->hist_open = open;
	d->hist_arg = arg;
	d->hist_lost = lost;
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
	s->reopened = atomic_load(&d->nreopen);
}
