/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A capture: configuration, the QQ ring, the sources and their receive
 * threads, and the one reader that hands packets to the application.
 * The reader copies records out of the ring lane by lane (each lane has
 * a staging buffer) and merges the lanes by timestamp.
 */
#define _GNU_SOURCE
#include "flowscope.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "analyzer.h"
#include "config.h"
#include "control.h"
#include "devname.h"
#include "dumper.h"
#include "eal.h"
#include "mem.h"
#include "privsep.h"
#include "ring.h"
#include "source.h"

#define STAGE_BYTES (512u * 1024)	/* per lane; holds any record */
#define STAGE_PKTS 4096u
#define MAX_LANES 256u
#define WAKE_BATCH 1024u	/* packets that wake an idle reader */
#define HELP_ROUNDS 16u	/* batches of analysis before the reader sleeps */
#define DELIV_MIN (4u << 20)	/* delivery bytes per lane, at least */
#define PCAP_DEFAULT_BUFFER (2 << 20)	/* libpcap's on Linux, dumpcap's */

extern char **environ;

struct reader {
	struct fs_lane *lane;
	struct fs_rxq *rxq;
	struct fs_cursor cur;
	uint8_t *buf;
	uint32_t rd, wr;	/* staged, undelivered bytes [rd, wr) */
};

struct fs_capture {
	struct fs_config cfg;
	struct fs_devname dev;
	fs_ring *ring;
	fs_ring *dring;		/* delivery lanes (triggered flows), or NULL */
	struct fs_analyzer *an;	/* one per lane */
	struct bpf_program trigger;
	fs_control *ctl;
	char ctl_path[108];	/* sun_path's size */
	fs_privsep *ps;		/* the privileged helper, or NULL */
	int dump_fd;		/* dump_dir, or -1 */
	fs_dumper *dumper;
	struct fs_lane **dlanes;	/* the dumper's lanes */
	unsigned nsources;
	struct fs_source *src;
	unsigned nlanes;
	struct reader *rd;
	_Atomic uint64_t *reader_seq;
	_Atomic uint64_t *dump_seq;
	struct fs_sink sink;
	int efd;
	_Atomic int armed;	/* the reader is idle: wake it */
	/* written by the reader, read by pcap_stats and the control thread */
	_Atomic uint64_t lost;
	_Atomic uint64_t delivered;
	bool eof;
	bool immediate;
	uint8_t dir_mask;	/* FS_REC_OUTGOING: which value is delivered */
	uint8_t dir_want;	/* (dir_mask 0: every packet) */
	char err[256];
};

bool fs_device_is_ours(const char *device)
{
	return fs_devname_is_ours(device);
}

/*
 * Receive threads call this after publishing n packets. A reader that is
 * awake needs nothing. An idle one is woken at once in immediate mode,
 * when the queue ran dry or when analysis waits for it (now), else once
 * WAKE_BATCH packets wait: at high rates it then takes big batches
 * instead of one system call per burst.
 */
static bool notify(void *arg, unsigned n, bool now)
{
	struct fs_capture *c = arg;
	uint64_t one = 1;

	/* the reader sets armed and then looks at the lanes; we published
	 * and now look at armed: a full fence on both sides means one of
	 * us sees the other (no lost wake-up) */
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(&c->armed, memory_order_relaxed))
		return true;
	if (!now && !c->immediate && n < WAKE_BATCH)
		return false;
	if (atomic_exchange(&c->armed, 0))
		(void)!write(c->efd, &one, sizeof(one));
	return true;
}

void fs_capture_close(fs_capture *c)
{
	if (c == NULL)
		return;
	fs_control_stop(c->ctl);
	/* a socket nobody serves must not wait for the dumper to finish */
	if (c->ctl != NULL)
		fs_privsep_control_stopped(c->ps);
	for (unsigned i = 0; i < c->nsources; i++)
		fs_source_close(&c->src[i]);
	/* after the sources: the writers have stopped, the dumper writes
	 * what they left and completes every file */
	fs_dumper_stop(c->dumper);
	/* after the dumper, which may still reopen files through it; it
	 * removes the control socket if fs_control_stop could not (the
	 * application dropped the privileges the directory needs) */
	fs_privsep_stop(c->ps);
	if (c->dump_fd >= 0)
		close(c->dump_fd);
	free(c->dlanes);
	free(c->src);
	if (c->an != NULL)
		for (unsigned i = 0; i < c->nlanes; i++)
			fs_analyzer_free(&c->an[i]);
	free(c->an);
	free((void *)c->dump_seq);
	fs_ring_free(c->dring);
	pcap_freecode(&c->trigger);
	if (c->rd != NULL)
		for (unsigned i = 0; i < c->nlanes; i++)
			free(c->rd[i].buf);
	free(c->rd);
	free((void *)c->reader_seq);
	fs_ring_free(c->ring);
	if (c->efd >= 0)
		close(c->efd);
	fs_config_release(&c->cfg);
	fs_devname_release(&c->dev);
	free(c);
}

static int compile_trigger(fs_capture *c, uint32_t caplen, char *errbuf,
			   size_t errlen)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, (int)caplen);
	int rc = -1;

	if (dead == NULL) {
		snprintf(errbuf, errlen, "trigger: out of memory");
		return -1;
	}
	if (pcap_compile(dead, &c->trigger, c->cfg.trigger, 1,
			 PCAP_NETMASK_UNKNOWN) < 0)
		snprintf(errbuf, errlen, "trigger: %s", pcap_geterr(dead));
	else
		rc = 0;
	pcap_close(dead);
	return rc;
}

/* ---- control socket commands ---- */

static bool lane_alive(fs_capture *c, unsigned i)
{
	return c->rd[i].rxq->started &&
	       !atomic_load_explicit(&c->rd[i].rxq->done, memory_order_acquire);
}

static int ctl_stats(void *arg, FILE *out, char *err, size_t errlen)
{
	fs_capture *c = arg;
	struct fs_stats s;

	(void)err;
	(void)errlen;
	fs_capture_stats(c, &s);
	fprintf(out, "received %" PRIu64 "\n", s.recv);
	fprintf(out, "dropped %" PRIu64 "\n", s.drop);
	fprintf(out, "nic_dropped %" PRIu64 "\n", s.ifdrop);
	fprintf(out, "delivered %" PRIu64 "\n", s.delivered);
	fprintf(out, "ring_bytes %" PRIu64 "\n", s.ring_bytes);
	fprintf(out, "ring_packets %" PRIu64 "\n", s.ring_pkts);
	fprintf(out, "ring_capacity %" PRIu64 "\n", s.ring_capacity);
	fprintf(out, "history_seconds %.3f\n", s.history_ns / 1e9);
	fprintf(out, "flows_active %" PRIu64 "\n", s.flows_active);
	fprintf(out, "flows_triggered %" PRIu64 "\n", s.flows_triggered);
	fprintf(out, "flows_ended %" PRIu64 "\n", s.flows_ended);
	fprintf(out, "untracked_packets %" PRIu64 "\n", s.untracked_packets);
	fprintf(out, "history_lost %" PRIu64 "\n", s.history_lost);
	fprintf(out, "not_triggered %" PRIu64 "\n", s.not_triggered);
	if (c->dumper != NULL) {
		struct fs_dumper_stats d;

		fs_dumper_stats(c->dumper, &d);
		fprintf(out, "dump_files %" PRIu64 "\n", d.files);
		fprintf(out, "dump_packets %" PRIu64 "\n", d.packets);
		fprintf(out, "dump_errors %" PRIu64 "\n", d.errors);
		fprintf(out, "dump_lost %" PRIu64 "\n", d.lost);
		fprintf(out, "dump_reopened %" PRIu64 "\n", d.reopened);
	}
	return 0;
}

static int ctl_each_lane(fs_capture *c, struct fs_request *r, char *err,
			 size_t errlen, uint64_t *count)
{
	*count = 0;
	for (unsigned i = 0; i < c->nlanes; i++) {
		if (fs_analyzer_call(&c->an[i], r, lane_alive(c, i), 5000) < 0) {
			snprintf(err, errlen, "the capture did not answer in "
				 "time");
			return -1;
		}
		*count += r->count;
	}
	return 0;
}

static int ctl_flows(void *arg, const struct bpf_program *filter, FILE *out,
		     char *err, size_t errlen)
{
	struct fs_request r = { .type = FS_REQ_FLOWS, .filter = filter,
				.out = out };
	uint64_t n;

	return ctl_each_lane(arg, &r, err, errlen, &n);
}

static int ctl_trigger(void *arg, const struct bpf_program *filter,
		       FILE *out, char *err, size_t errlen)
{
	fs_capture *c = arg;
	struct fs_request r = { .type = FS_REQ_TRIGGER, .filter = filter };
	uint64_t one = 1, n;

	if (ctl_each_lane(c, &r, err, errlen, &n) < 0)
		return -1;
	fprintf(out, "triggered %" PRIu64 "\n", n);
	(void)!write(c->efd, &one, sizeof(one));
	return 0;
}

static int top_cmp(const void *x, const void *y)
{
	const struct fs_top_entry *a = x, *b = y;

	return a->bytes < b->bytes ? 1 : a->bytes > b->bytes ? -1 : 0;
}

static int ctl_top(void *arg, unsigned n, FILE *out, char *err,
		   size_t errlen)
{
	fs_capture *c = arg;
	struct fs_top_entry *all = calloc((size_t)n * c->nlanes, sizeof(*all));
	unsigned total = 0;
	int rc = -1;

	if (all == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < c->nlanes; i++) {
		struct fs_request r = { .type = FS_REQ_TOP, .n = n,
					.top = all + total };

		if (fs_analyzer_call(&c->an[i], &r, lane_alive(c, i), 5000) < 0) {
			snprintf(err, errlen, "the capture did not answer in "
				 "time");
			goto done;
		}
		total += r.ntop;
	}
	qsort(all, total, sizeof(*all), top_cmp);
	for (unsigned i = 0; i < total && i < n; i++) {
		char key[160];

		fs_flow_key_str(&all[i].key, key, sizeof(key));
		fprintf(out, "%s bps %" PRIu64 " pps %" PRIu64 "%s\n", key,
			all[i].bytes * 8, all[i].pkts,
			all[i].triggered ? " triggered" : "");
	}
	rc = 0;
done:
	free(all);
	return rc;
}

static const struct fs_control_ops ctl_ops = {
	.stats = ctl_stats,
	.top = ctl_top,
	.flows = ctl_flows,
	.trigger = ctl_trigger,
};

/* The control socket's path: the control key, or the default one named
 * after the sources. */
static int control_path(fs_capture *c, char *path, size_t len,
			char *errbuf, size_t errlen)
{
	char label[128] = "", lb[32];

	if (c->cfg.control != NULL) {
		snprintf(path, len, "%s", c->cfg.control);
	} else {
		for (unsigned i = 0; i < c->nsources; i++) {
			const char *l = fs_source_label(&c->src[i].spec, lb,
							sizeof(lb));
			size_t n = strlen(label);

			snprintf(label + n, sizeof(label) - n, "%s%s",
				 i ? "+" : "", l);
		}
		if (fs_control_default_path(label, path, len) < 0) {
			char dir[256];

			fs_control_default_dir(dir, sizeof(dir));
			snprintf(errbuf, errlen, "control: the default socket "
				 "directory%s%s is too long for a UNIX socket "
				 "path; set control = PATH or off",
				 dir[0] ? " " : "", dir);
			return -1;
		}
	}
	return 0;
}

static int start_control(fs_capture *c, char *errbuf, size_t errlen)
{
	c->ctl = fs_control_start(c->ctl_path, &ctl_ops, c, errbuf, errlen);
	if (c->ctl == NULL) {
		size_t n = strlen(errbuf);

		snprintf(errbuf + n, errlen - n, " (control socket; set "
			 "control = off to run without one)");
		return -1;
	}
	/* the helper removes it at the end if we no longer may */
	(void)fs_privsep_control_bound(c->ps);
	return 0;
}

/* Delivery lanes: a quarter of the ring, at least DELIV_MIN each. */
static uint64_t delivery_bytes(const fs_capture *c)
{
	uint64_t dbytes = c->cfg.buffer / 4;

	if (dbytes < (uint64_t)DELIV_MIN * c->nlanes)
		dbytes = (uint64_t)DELIV_MIN * c->nlanes;
	return dbytes;
}

static bool delivers(const fs_capture *c)
{
	return c->cfg.mode == FS_MODE_TRIGGER || c->cfg.dump_dir != NULL;
}

/*
 * What the capture makes resident (ring, delivery lanes, history index
 * and flow slots) against what the machine, the cgroups and the limits
 * can give, before any of it is touched: too much is an activate error
 * that names what is there, never an out-of-memory kill.
 */
static int check_memory(const fs_capture *c, char *errbuf, size_t errlen)
{
	uint64_t ring = c->cfg.buffer, deliv = delivers(c) ?
		delivery_bytes(c) : 0, index, room;
	char why[256], need[32], r[32], d[32], x[32], have[32];

	index = c->nlanes * fs_analyzer_mem_size(c->cfg.buffer / c->nlanes,
						 c->cfg.max_flows);
	room = fs_mem_room(why, sizeof(why));
	if (ring + deliv + index <= room)
		return 0;
	fs_mem_fmt(ring + deliv + index, need, sizeof(need));
	fs_mem_fmt(ring, r, sizeof(r));
	fs_mem_fmt(deliv, d, sizeof(d));
	fs_mem_fmt(index, x, sizeof(x));
	fs_mem_fmt(room, have, sizeof(have));
	/* short enough for PCAP_ERRBUF_SIZE with the longest why */
	snprintf(errbuf, errlen, "buffer: cannot reserve %s (ring %s%s%s, "
		 "index %s): %s can be had (%s)", need, r,
		 deliv ? ", delivery " : "", deliv ? d : "", x, have, why);
	return -1;
}

/* A privileged program reads a file= source only when the real user may
 * read it (access() checks with the real ids). */
static int check_files(const struct fs_devname *dev, char *errbuf,
		       size_t errlen)
{
	for (size_t i = 0; i < dev->nsources; i++)
		if (dev->sources[i].kind == FS_SRC_FILE &&
		    access(dev->sources[i].arg, R_OK) < 0) {
			snprintf(errbuf, errlen, "file=%.128s: %s", dev->sources[i].arg,
				 strerror(errno));
			return -1;
		}
	return 0;
}

/*
 * source_vlans names one id per source of the device, in its order; a
 * list that does not match the device is refused rather than guessed at
 * (a missing id would merge a source with an untagged one). Every kind
 * of source delivers Ethernet frames (file= and interfaces refuse other
 * link types when they open), so each tagged frame has MAC addresses
 * for the tag to follow.
 */
static int set_vlans(fs_capture *c, char *errbuf, size_t errlen)
{
	const struct fs_vlans *v = &c->cfg.source_vlans;

	if (!fs_config_given(&c->cfg, "source_vlans"))
		return 0;
	if (v->n != c->nsources) {
		snprintf(errbuf, errlen, "source_vlans: %u VLAN id%s for %u "
			 "source%s; give one per source, in the order of the "
			 "device name (0: no tag)", (unsigned)v->n,
			 v->n == 1 ? "" : "s", c->nsources,
			 c->nsources == 1 ? "" : "s");
		return -1;
	}
	for (unsigned i = 0; i < c->nsources; i++)
		c->src[i].vlan = v->id[i];
	return 0;
}

/*
 * A capture activated as root gets its privileged helper now, before
 * the ring, the EAL and the threads exist: the fork then copies little
 * (and the big mappings made later are not inherited, see mem.h). The
 * helper needs the dump directory open and the control socket's path.
 */
static int start_privsep(fs_capture *c, char *errbuf, size_t errlen)
{
	if (c->cfg.dump_dir != NULL) {
		c->dump_fd = open(c->cfg.dump_dir, O_RDONLY | O_DIRECTORY |
				  O_CLOEXEC);
		if (c->dump_fd < 0) {
			snprintf(errbuf, errlen, "dump_dir: cannot open '%s': "
				 "%s", c->cfg.dump_dir, strerror(errno));
			return -1;
		}
	}
	if (!c->cfg.control_off &&
	    control_path(c, c->ctl_path, sizeof(c->ctl_path), errbuf,
			 errlen) < 0)
		return -1;
	return fs_privsep_start(c->dump_fd, c->cfg.control_off ? NULL
				: c->ctl_path, &c->ps, errbuf, errlen);
}

fs_capture *fs_capture_open(const char *device,
			    const struct fs_open_params *params,
			    char *errbuf, size_t errlen)
{
	fs_capture *c = calloc(1, sizeof(*c));
	struct fs_source_params sp;
	uint32_t caplen;
	unsigned lane = 0;
	/* setuid, setgid or file capabilities: whoever started the program
	 * may not have the rights it runs with */
	bool secure = getauxval(AT_SECURE) != 0;

	if (c == NULL) {
		snprintf(errbuf, errlen, "flowscope: out of memory");
		return NULL;
	}
	c->efd = -1;
	c->dump_fd = -1;
	fs_config_init(&c->cfg);
	if (fs_devname_parse(device, &c->dev, errbuf, errlen) < 0)
		goto fail;
	if (fs_config_load_as(&c->cfg, c->dev.config_path, environ,
			      secure ? FS_CONFIG_SECURE : 0, errbuf, errlen) < 0)
		goto fail;
	if (c->dev.named != NULL) {
		if (c->cfg.source == NULL) {
			snprintf(errbuf, errlen, "%.64s: %.128s has no source "
				 "key (the capture's sources, e.g. source = "
				 "eth0)", device, c->dev.config_path);
			goto fail;
		}
		if (fs_devname_set_sources(&c->dev, c->cfg.source, errbuf,
					   errlen) < 0)
			goto fail;
	} else if (c->cfg.source != NULL) {
		snprintf(errbuf, errlen, "source: only a named capture ("
			 FS_DEVNAME_NAMED "NAME) takes it; this device name "
			 "gives its sources itself");
		goto fail;
	}
	if (secure && check_files(&c->dev, errbuf, errlen) < 0)
		goto fail;
	/* pcap_set_buffer_size() (tcpdump -B) sizes the ring when buffer
	 * was not configured. Sizes up to libpcap's own default, which
	 * programs such as dumpcap pass unasked, keep the ring's default. */
	if (!fs_config_given(&c->cfg, "buffer") &&
	    params->buffer_size > PCAP_DEFAULT_BUFFER)
		c->cfg.buffer = (uint64_t)params->buffer_size;
	caplen = c->cfg.caplen ? c->cfg.caplen : (uint32_t)params->snaplen;
	if (caplen == 0 || caplen > FS_CAPLEN_MAX)
		caplen = FS_CAPLEN_MAX;

	c->nsources = (unsigned)c->dev.nsources;
	c->src = calloc(c->nsources, sizeof(*c->src));
	if (c->src == NULL)
		goto oom;
	for (unsigned i = 0; i < c->nsources; i++) {
		c->src[i].spec = c->dev.sources[i];
		c->src[i].index = i;
		c->nlanes += c->dev.sources[i].kind == FS_SRC_FILE ? 1
			: c->cfg.rx_queues;
	}
	if (set_vlans(c, errbuf, errlen) < 0)
		goto fail;
	if (c->nlanes > MAX_LANES) {
		snprintf(errbuf, errlen, "rx_queues: %u sources with %u queues "
			 "each make more than %u receive threads", c->nsources,
			 c->cfg.rx_queues, MAX_LANES);
		goto fail;
	}
	if (check_memory(c, errbuf, errlen) < 0 ||
	    start_privsep(c, errbuf, errlen) < 0)
		goto fail;
	c->ring = fs_ring_create(c->cfg.buffer, c->nlanes, caplen);
	if (c->ring == NULL) {
		if (errno == ENOMEM)
			snprintf(errbuf, errlen, "buffer: cannot reserve %llu "
				 "bytes for the ring: %s",
				 (unsigned long long)c->cfg.buffer,
				 strerror(errno));
		else
			snprintf(errbuf, errlen, "buffer: %llu bytes are too "
				 "few for %u ring lanes of packets up to %u "
				 "bytes", (unsigned long long)c->cfg.buffer,
				 c->nlanes, caplen);
		goto fail;
	}
	if (c->cfg.trigger != NULL && compile_trigger(c, caplen, errbuf,
						       errlen) < 0)
		goto fail;
	if (delivers(c)) {
		uint64_t dbytes = delivery_bytes(c);

		c->dring = fs_ring_create(dbytes, c->nlanes, caplen);
		if (c->dring == NULL) {
			snprintf(errbuf, errlen, "buffer: cannot reserve %"
				 PRIu64 " bytes for delivery: %s", dbytes,
				 strerror(errno));
			goto fail;
		}
	}
	c->rd = calloc(c->nlanes, sizeof(*c->rd));
	c->an = calloc(c->nlanes, sizeof(*c->an));
	c->reader_seq = calloc(c->nlanes, sizeof(*c->reader_seq));
	c->dump_seq = calloc(c->nlanes, sizeof(*c->dump_seq));
	if (c->rd == NULL || c->reader_seq == NULL || c->an == NULL ||
	    c->dump_seq == NULL)
		goto oom;
	for (unsigned i = 0; i < c->nlanes; i++) {
		struct fs_lane *main_lane = fs_ring_lane(c->ring, i);
		struct fs_lane *deliv = c->dring ? fs_ring_lane(c->dring, i)
						 : NULL;

		if (fs_analyzer_init(&c->an[i], main_lane, deliv,
				     fs_ring_capacity(c->ring) / c->nlanes,
				     c->cfg.max_flows, c->cfg.flow_timeout,
				     &c->trigger, caplen, errbuf, errlen) < 0)
			goto fail;
		atomic_store(&c->dump_seq[i], UINT64_MAX);
		c->rd[i].lane = c->cfg.mode == FS_MODE_TRIGGER ? deliv
							       : main_lane;
		c->rd[i].buf = malloc(STAGE_BYTES);
		if (c->rd[i].buf == NULL)
			goto oom;
		fs_cursor_oldest(c->rd[i].lane, &c->rd[i].cur);
	}
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		snprintf(errbuf, errlen, "flowscope: eventfd: %s",
			 strerror(errno));
		goto fail;
	}
	/* armed from the start: poll users may wait before the first read */
	atomic_store(&c->armed, 1);
	c->immediate = params->immediate != 0;
	c->sink.reader_seq = c->reader_seq;
	c->sink.dump_seq = c->dump_seq;
	c->sink.trigger_mode = c->cfg.mode == FS_MODE_TRIGGER;
	c->sink.notify = notify;
	c->sink.notify_arg = c;
	c->sink.caplen = caplen;

	sp.caplen = caplen;
	sp.promisc = params->promisc;
	sp.immediate = params->immediate;
	sp.timeout_ms = params->timeout_ms;
	/* interfaces need no EAL: a capture of only those never starts it
	 * (its time and memory) */
	for (unsigned i = 0; i < c->nsources; i++)
		if (fs_source_needs_eal(c->src[i].spec.kind)) {
			if (fs_eal_start(c->cfg.eal, errbuf, errlen) < 0)
				goto fail;
			break;
		}
	for (unsigned i = 0; i < c->nsources; i++) {
		struct fs_source *s = &c->src[i];

		if (fs_source_open(s, &c->cfg, &sp, errbuf, errlen) < 0)
			goto fail;
		for (unsigned q = 0; q < s->nq; q++, lane++) {
			s->rxq[q].lane = fs_ring_lane(c->ring, lane);
			s->rxq[q].an = &c->an[lane];
			/* a lossless source waits for the reader: then the
			 * reader must never be the one analyzing */
			c->an[lane].shared = !s->lossless;
			c->rd[lane].rxq = &s->rxq[q];
		}
	}
	if (c->cfg.dump_dir != NULL) {
		c->dlanes = calloc(c->nlanes, sizeof(*c->dlanes));
		if (c->dlanes == NULL)
			goto oom;
		for (unsigned i = 0; i < c->nlanes; i++)
			c->dlanes[i] = fs_ring_lane(c->dring, i);
		c->dumper = fs_dumper_start(c->cfg.dump_dir, c->dump_fd, c->ps,
					    c->dlanes, c->nlanes, c->dump_seq,
					    caplen, c->cfg.flow_timeout, errbuf,
					    errlen);
		if (c->dumper == NULL)
			goto fail;
	}
	for (unsigned i = 0; i < c->nsources; i++)
		if (fs_source_start(&c->src[i], &c->sink, errbuf, errlen) < 0)
			goto fail;
	/* after the receive threads: a command must find each lane either
	 * served by its thread or (once that ended) by the control thread,
	 * never both */
	if (!c->cfg.control_off && start_control(c, errbuf, errlen) < 0)
		goto fail;
	return c;
oom:
	snprintf(errbuf, errlen, "flowscope: out of memory");
fail:
	fs_capture_close(c);
	return NULL;
}

/*
 * The application's reader analyzes lane i (up to a batch) when it has
 * caught up with the lane, so that the receive thread only receives and
 * stores while the application keeps reading, and the analysis never
 * delays packets the application is waiting for. From its first read on
 * the receive thread leaves it that work (rx.c). Not for lossless
 * sources, whose receive thread may wait for this very reader. Returns
 * whether a backlog was left.
 */
static bool help(fs_capture *c, unsigned i)
{
	struct fs_analyzer *a = &c->an[i];

	if (!a->shared)
		return false;
	if (!atomic_load_explicit(&a->helper, memory_order_relaxed))
		atomic_store_explicit(&a->helper, 1, memory_order_relaxed);
	if (fs_analyzer_backlog(a) == 0 || !fs_analyzer_try(a))
		return false;
	fs_analyzer_step(a, STAGE_PKTS, 0);
	fs_analyzer_release(a);
	return fs_analyzer_backlog(a) > 0;
}

/* Stage what lane r has (only when its previous batch is delivered:
 * the application may still hold pointers into it until the next read). */
static void stage(fs_capture *c, unsigned i)
{
	struct reader *r = &c->rd[i];
	unsigned n;
	uint32_t off = 0;
	uint64_t lost = 0;

	if (r->rd < r->wr)
		return;
	r->rd = r->wr = 0;
	n = fs_lane_read(r->lane, &r->cur, r->buf, STAGE_BYTES, STAGE_PKTS,
			 &lost);
	if (lost)
		atomic_fetch_add_explicit(&c->lost, lost, memory_order_relaxed);
	for (unsigned k = 0; k < n; k++)
		off += FS_REC_SIZE(((const struct fs_pkt_hdr *)
				    (r->buf + off))->cap_len);
	r->wr = off;
	atomic_store_explicit(&c->reader_seq[i], r->cur.seq,
			      memory_order_release);
	if (n < STAGE_PKTS)	/* caught up */
		help(c, i);
}

static void take(struct reader *r, struct fs_packet *p)
{
	const struct fs_pkt_hdr *h = (const void *)(r->buf + r->rd);

	p->ts_ns = h->ts_ns;
	p->caplen = h->cap_len;
	p->wirelen = h->wire_len;
	p->data = (const uint8_t *)(h + 1);
	p->source = h->source;
	r->rd += FS_REC_SIZE(h->cap_len);
}

static bool source_ended(struct fs_source *s)
{
	for (unsigned q = 0; q < s->nq; q++)
		if (!atomic_load_explicit(&s->rxq[q].done, memory_order_acquire))
			return false;
	return true;
}

static bool all_ended(fs_capture *c)
{
	for (unsigned i = 0; i < c->nlanes; i++)
		if (!atomic_load_explicit(&c->rd[i].rxq->done,
					  memory_order_acquire))
			return false;
	return true;
}

static bool anything_waiting(fs_capture *c)
{
	for (unsigned i = 0; i < c->nlanes; i++)
		if (c->rd[i].rd < c->rd[i].wr ||
		    fs_lane_pending(c->rd[i].lane, &c->rd[i].cur))
			return true;
	return false;
}

/* Step over the staged records of the direction the application does
 * not want (pcap_setdirection); true when one it wants is next. */
static inline bool skip_unwanted(const fs_capture *c, struct reader *r)
{
	while (r->rd < r->wr) {
		const struct fs_pkt_hdr *h = (const void *)(r->buf + r->rd);

		if ((h->flags & c->dir_mask) == c->dir_want)
			return true;
		r->rd += FS_REC_SIZE(h->cap_len);
	}
	return false;
}

static int read_once(fs_capture *c, struct fs_packet *pkts, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->nlanes; i++)
		stage(c, i);
	if (c->nlanes == 1) {
		struct reader *r = &c->rd[0];

		while (n < max && skip_unwanted(c, r))
			take(r, &pkts[n++]);
	} else {
		/* merge the lanes by timestamp */
		while (n < max) {
			struct reader *best = NULL;
			uint64_t best_ts = UINT64_MAX;

			for (unsigned i = 0; i < c->nlanes; i++) {
				struct reader *r = &c->rd[i];
				const struct fs_pkt_hdr *h;

				if (!skip_unwanted(c, r))
					continue;
				h = (const void *)(r->buf + r->rd);
				if (h->ts_ns < best_ts) {
					best_ts = h->ts_ns;
					best = r;
				}
			}
			if (best == NULL)
				break;
			take(best, &pkts[n++]);
		}
	}
	atomic_fetch_add_explicit(&c->delivered, n, memory_order_relaxed);
	return (int)n;
}

int fs_capture_read(fs_capture *c, struct fs_packet *pkts, unsigned max)
{
	uint64_t v;
	int n;

	if (c->eof)
		return FS_EOF;
	n = read_once(c, pkts, max);
	if (n > 0)
		return n;
	/* caught up everywhere: analyze what the receive threads left
	 * (this may deliver), then sleep until they wake us */
	for (unsigned round = 0; round < HELP_ROUNDS; round++) {
		bool more = false;

		for (unsigned i = 0; i < c->nlanes; i++)
			more |= help(c, i);
		if (!more)
			break;
	}
	n = read_once(c, pkts, max);
	if (n > 0)
		return n;
	while (read(c->efd, &v, sizeof(v)) > 0)
		;
	atomic_store(&c->armed, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (anything_waiting(c)) {
		atomic_store(&c->armed, 0);
		return read_once(c, pkts, max);
	}
	/* a source that failed (damaged file, interface gone) fails the
	 * capture once what it delivered was read */
	for (unsigned i = 0; i < c->nsources; i++)
		if (source_ended(&c->src[i]) && c->src[i].feeder_err[0] != '\0') {
			snprintf(c->err, sizeof(c->err), "%s",
				 c->src[i].feeder_err);
			c->src[i].feeder_err[0] = '\0';
			return -1;
		}
	if (all_ended(c) && !anything_waiting(c)) {
		c->eof = true;
		/* keep the descriptor readable: the next read says EOF */
		v = 1;
		(void)!write(c->efd, &v, sizeof(v));
		return FS_EOF;
	}
	return 0;
}

int fs_capture_wait(fs_capture *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->efd, .events = POLLIN };
	int rc;

	if (c->eof || anything_waiting(c))
		return 1;
	atomic_store(&c->armed, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (anything_waiting(c) || all_ended(c)) {
		atomic_store(&c->armed, 0);
		return 1;
	}
	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -1;
	return anything_waiting(c) || all_ended(c) ? 1 : 0;
}

int fs_capture_set_direction(fs_capture *c, enum fs_direction d,
			     char *errbuf, size_t errlen)
{
	static const char *const what[] = {
		[FS_SRC_DPDK] = "dpdkN", [FS_SRC_FILE] = "file=",
		[FS_SRC_GEN] = "gen",
	};
	bool blind[FS_SRC_GEN + 1] = { false };
	char list[96] = "";
	unsigned nblind = 0, k = 0;

	if (d == FS_DIR_INOUT) {
		c->dir_mask = c->dir_want = 0;
		return 0;
	}
	/* only a packet socket tells what the interface sent */
	for (unsigned i = 0; i < c->nsources; i++)
		if (c->src[i].spec.kind != FS_SRC_IFACE &&
		    !blind[c->src[i].spec.kind]) {
			blind[c->src[i].spec.kind] = true;
			nblind++;
		}
	if (nblind > 0) {
		for (unsigned kind = 0; kind <= FS_SRC_GEN; kind++) {
			size_t n = strlen(list);

			if (!blind[kind])
				continue;
			k++;
			snprintf(list + n, sizeof(list) - n, "%s%s",
				 k == 1 ? "" : k == nblind ? " and " : ", ",
				 what[kind]);
		}
		snprintf(errbuf, errlen, "direction: %s sources cannot tell "
			 "in from out (only kernel interfaces can)", list);
		return -1;
	}
	c->dir_mask = FS_REC_OUTGOING;
	c->dir_want = d == FS_DIR_OUT ? FS_REC_OUTGOING : 0;
	return 0;
}

int fs_capture_fd(const fs_capture *c)
{
	return c->efd;
}

void fs_capture_wake(fs_capture *c)
{
	uint64_t one = 1;

	(void)!write(c->efd, &one, sizeof(one));
}

const char *fs_capture_error(const fs_capture *c)
{
	return c->err;
}

void fs_capture_stats(fs_capture *c, struct fs_stats *s)
{
	uint64_t oldest = UINT64_MAX, newest = 0;

	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < c->nlanes; i++) {
		struct fs_lane_usage u;

		fs_lane_usage(c->an[i].lane, &u);
		s->recv += atomic_load_explicit(&c->an[i].lane->pkts,
						memory_order_relaxed);
		s->ring_pkts += u.pkts;
		s->ring_bytes += u.bytes;
		if (u.pkts && u.oldest_ts < oldest)
			oldest = u.oldest_ts;
		if (u.newest_ts > newest)
			newest = u.newest_ts;
	}
	for (unsigned i = 0; i < c->nsources; i++)
		s->ifdrop += fs_source_ifdrop(&c->src[i]);
	s->drop = atomic_load_explicit(&c->lost, memory_order_relaxed);
	for (unsigned i = 0; i < c->nlanes; i++) {
		s->history_lost += atomic_load_explicit(&c->an[i].history_lost,
							memory_order_relaxed);
		s->flows_active += atomic_load_explicit(&c->an[i].flows_active,
							memory_order_relaxed);
		s->flows_triggered += atomic_load_explicit(
			&c->an[i].flows_triggered, memory_order_relaxed);
		s->flows_ended += atomic_load_explicit(&c->an[i].flows_ended,
						       memory_order_relaxed);
		s->untracked_packets += atomic_load_explicit(
			&c->an[i].untracked_packets, memory_order_relaxed);
		s->not_triggered += atomic_load_explicit(
			&c->an[i].not_triggered, memory_order_relaxed);
	}
	/* in live mode every packet is delivered, triggered or not */
	if (c->cfg.mode != FS_MODE_TRIGGER)
		s->not_triggered = 0;
	s->drop += s->history_lost;
	s->delivered = atomic_load_explicit(&c->delivered,
					    memory_order_relaxed);
	s->ring_capacity = fs_ring_capacity(c->ring);
	s->history_ns = oldest != UINT64_MAX && newest > oldest ?
		newest - oldest : 0;
}
