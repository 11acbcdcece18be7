/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * @NAME: a capture that reads the ring another process publishes
 * (share.h). There is no receive thread: the publisher's threads fill
 * the lanes, and the capture's reader reads them with cursors of its
 * own, as it reads its own lanes in live mode. One thread per attached
 * capture watches: it wakes the reader when packets arrive (the
 * publisher's threads cannot reach across processes), reports what the
 * reader delivered and lost once a second, and tells the capture when
 * the publisher ended (end of capture once everything is read) or died
 * (a read error naming it). In trigger mode it also runs the capture's
 * analyzers over the lanes (capture.c: attach_analyzer), and what they
 * deliver is what wakes the reader.
 */
#define _GNU_SOURCE
#include "source.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "analyzer.h"
#include "share.h"

#define WATCH_MS 1	/* how often the watcher looks at the lanes */
#define REPORT_MS 1000
#define ANALYZE_MAX 65536u	/* records per lane between looks */

int fs_attachsrc_connect(struct fs_source *src, const struct fs_config *cfg,
			 char *err, size_t errlen)
{
	src->att = calloc(1, sizeof(*src->att));
	if (src->att == NULL) {
		snprintf(err, errlen, "flowscope: out of memory");
		return -1;
	}
	if (fs_share_attach(src->att, src->spec.arg,
			    cfg->mode == FS_MODE_TRIGGER ? "trigger" : "live",
			    cfg->group, err, errlen) < 0) {
		free(src->att);
		src->att = NULL;
		return -1;
	}
	return 0;
}

fs_ring *fs_attachsrc_ring(struct fs_source *src)
{
	return src->att->ring;
}

int fs_attachsrc_open(struct fs_source *src, char *err, size_t errlen)
{
	unsigned n = fs_ring_lanes(src->att->ring);

	if (n > FS_MAX_QUEUES) {
		snprintf(err, errlen, "@%s: the published ring has "
			 "%u lanes, more than the %u one capture reads",
			 src->spec.arg, n, FS_MAX_QUEUES);
		return -1;
	}
	src->nq = n;
	for (unsigned q = 0; q < n; q++) {
		src->rxq[q].src = src;
		src->rxq[q].queue = (uint16_t)q;
	}
	return 0;
}

bool fs_attachsrc_grouped(const struct fs_source *src)
{
	return src->att != NULL && src->att->group[0] != '\0';
}

/* Every member sees every record, so each learns the same flow for a
 * datagram's later fragments from its first one (frags). */
bool fs_attachsrc_mine(struct fs_source *src, const struct fs_pkt_hdr *h,
		       uint32_t tag, struct fs_frag *frags, bool *unknown)
{
	struct fs_pkt_info info;

	fs_flow_parse((const uint8_t *)(h + 1), h->cap_len, &info);
	if (info.frag_tag != 0)
		fs_frag_fixup(frags, &info, h->ts_ns);
	return fs_share_mine(src->att, tag, info.hash, unknown);
}

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t published(struct fs_source *src)
{
	uint64_t n = 0;

	for (unsigned q = 0; q < src->nq; q++)
		n += atomic_load_explicit(&src->rxq[q].lane->pkts,
					  memory_order_acquire);
	return n;
}

static void report(struct fs_source *src, const struct fs_sink *sk)
{
	char line[80];

	if (sk->delivered == NULL || sk->lost == NULL)
		return;
	snprintf(line, sizeof(line), "stats %llu %llu\n",
		 (unsigned long long)atomic_load_explicit(sk->delivered,
							  memory_order_relaxed),
		 (unsigned long long)atomic_load_explicit(sk->lost,
							  memory_order_relaxed));
	/* a publisher too busy to read loses a report, never stalls us */
	(void)!send(src->att->sock, line, strlen(line),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Trigger mode: run each lane's analyzer over what arrived (packet time
 * ages the flows); *more: records are left. Returns what it delivered. */
static uint64_t analyze(struct fs_source *src, bool *more)
{
	uint64_t d = 0;

	*more = false;
	for (unsigned q = 0; q < src->nq; q++) {
		struct fs_analyzer *an = src->rxq[q].an;

		fs_analyzer_hold(an);
		d += fs_analyzer_step(an, ANALYZE_MAX, 0);
		fs_analyzer_release(an);
		*more |= fs_analyzer_backlog(an) > 0;
	}
	return d;
}

/* Every queue is done: the reader reads what is left, then ends. */
static void end_all(struct fs_source *src, const struct fs_sink *sk)
{
	for (unsigned q = 0; q < src->nq; q++)
		atomic_store_explicit(&src->rxq[q].done, true,
				      memory_order_release);
	sk->notify(sk->notify_arg, 0, true);
	if (sk->ended != NULL)
		sk->ended(sk->notify_arg);
}

static void *watch_thread(void *arg)
{
	struct fs_source *src = arg;
	const struct fs_sink *sk = src->rxq[0].sink;
	struct fs_attach *a = src->att;
	uint64_t seen = published(src), unwoken = 0;
	int64_t next_report = mono_ms() + REPORT_MS;
	bool more = false;

	while (!atomic_load_explicit(&src->feeder_stop, memory_order_acquire)) {
		struct pollfd p = { .fd = a->sock, .events = POLLIN };
		uint64_t now_pkts;
		bool ended;

		(void)poll(&p, 1, more ? 0 : WATCH_MS);
		/* the state first: a publisher that ends marks its ring and
		 * only then hangs up */
		ended = fs_ring_state(a->ring) == FS_RING_ENDED;
		if (sk->trigger_mode) {
			/* all of it, once the publisher ended */
			do
				unwoken += analyze(src, &more);
			while (ended && more);
		} else {
			/* what arrived, at once: a sleeping reader is woken
			 * at most once per look (an awake one costs
			 * nothing), and never after the ring had to wait for
			 * a batch it may not hold */
			now_pkts = published(src);
			unwoken += now_pkts - seen;
			seen = now_pkts;
		}
		if (unwoken > 0 &&
		    sk->notify(sk->notify_arg, (unsigned)(unwoken > UINT32_MAX ?
			       UINT32_MAX : unwoken), true))
			unwoken = 0;
		if (ended) {
			end_all(src, sk);
			return NULL;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			char b[64];
			ssize_t n = recv(a->sock, b, sizeof(b), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN &&
				       errno != EINTR)) {
				if (fs_ring_state(a->ring) == FS_RING_ENDED) {
					end_all(src, sk);
					return NULL;
				}
				snprintf(src->feeder_err,
					 sizeof(src->feeder_err),
					 "@%s: the publisher (pid %ld, "
					 "%s) is gone: it ended without closing "
					 "its ring", a->name, (long)a->pub_pid,
					 a->pub_prog);
				end_all(src, sk);
				return NULL;
			}
		}
		if (mono_ms() >= next_report) {
			report(src, sk);
			next_report = mono_ms() + REPORT_MS;
		}
	}
	return NULL;
}

int fs_attachsrc_start(struct fs_source *src, const struct fs_sink *sink,
		       char *err, size_t errlen)
{
	int rc;

	for (unsigned q = 0; q < src->nq; q++) {
		src->rxq[q].sink = sink;
		src->rxq[q].started = true;
	}
	rc = fs_thread_start(&src->feeder, watch_thread, src);
	if (rc != 0) {
		snprintf(err, errlen, "@%s: cannot start a thread: "
			 "%s", src->spec.arg, strerror(rc));
		return -1;
	}
	src->feeder_started = true;
	return 0;
}

void fs_attachsrc_close(struct fs_source *src)
{
	if (src->feeder_started) {
		atomic_store_explicit(&src->feeder_stop, true,
				      memory_order_release);
		pthread_join(src->feeder, NULL);
		src->feeder_started = false;
	}
	if (src->att != NULL) {
		fs_share_detach(src->att);
		free(src->att);
		src->att = NULL;
	}
}
