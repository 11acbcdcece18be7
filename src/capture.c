/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A capture: configuration, the QQ ring, the sources and their receive
 * threads, and the one reader that hands packets to the application.
 * The reader copies records out of the ring lane by lane (each lane has
 * a staging buffer) and merges the lanes by timestamp. A capture opened
 * with FS_OPEN_NO_READER (a recorder) has no reader: everything else
 * runs, nothing is staged, waited for or counted for delivery.
 */
#define _GNU_SOURCE
#include "flowscope.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "analyzer.h"
#include "bus.h"
#include "claim.h"
#include "config.h"
#include "control.h"
#include "devname.h"
#include "dumper.h"
#include "eal.h"
#include "mem.h"
#include "privsep.h"
#include "ring.h"
#include "share.h"
#include "source.h"
#include "spool.h"
#include "spool_hist.h"
#include "timewin.h"

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
	/* a triggered flow's history on disk, expanded in place of the
	 * reference record at rd: its records [hrd, hwr) in hrec */
	fs_spool_hist *hist;
	const uint8_t *hrec;
	uint32_t hrd, hwr;
	/* hist is the history before the lane itself (an attached reader's
	 * since, from the publisher's spool), not a reference's */
	bool lead;
	/* attached (flowscope:@NAME): where each staged record was (for
	 * its chunk's steering tag), or NULL without a group; skip_old:
	 * records before since are still to be stepped over */
	struct fs_rec_where *where;
	bool skip_old;
	uint32_t snap;		/* bytes handed out per packet, at most */
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
	/* share = NAME: the ring is published (its memfd until then) */
	fs_share *share;
	int share_fd;
	/* @NAME: the ring is another process's, read through this source */
	struct fs_source *attached;
	_Atomic uint64_t seen;	/* attached: records that were ours */
	struct fs_frag *frags;	/* attached in a group: fragments' flows */
	struct fs_foreign *foreign;	/* attached, trigger mode: per lane */
	struct fs_claims claims;	/* what we record that others may not */
	fs_bus *bus;		/* bus = URL: triggers across hosts, or NULL */
	int dump_fd;		/* dump_dir, or -1 */
	fs_dumper *dumper;
	struct fs_lane **dlanes;	/* the dumper's lanes */
	unsigned nsources;
	struct fs_source *src;
	unsigned nlanes;
	struct reader *rd;
	_Atomic uint64_t *reader_seq;
	_Atomic uint64_t *dump_seq;
	fs_spool *spool;	/* spool_dir, or NULL (also once stopped) */
	struct fs_spool_stats spool_last;	/* its counters when it stopped */
	bool spooled;		/* there was a spool: spool_last holds them */
	int spool_fd;		/* spool_dir for the privileged helper, or -1 */
	uint64_t win_lo, win_hi;	/* since/until, resolved */
	_Atomic uint64_t *spool_seq;
	_Atomic uint64_t **aseq;	/* each analyzer's chunk, for the spool */
	_Atomic uint64_t **hist_lost;	/* each analyzer's history_lost */
	struct fs_sink sink;
	int efd;
	_Atomic int armed;	/* the reader is idle: wake it */
	/* written by the reader, read by pcap_stats and the control thread */
	_Atomic uint64_t lost;
	_Atomic uint64_t delivered;
	bool eof;
	bool reading;		/* fs_capture_read was called */
	unsigned fork_gen;	/* fork_gen when it was opened */
	bool immediate;
	bool reader;		/* an application reads (no FS_OPEN_NO_READER) */
	/* fs_capture_stop ran: the sources are closed, ifdrop_last is what
	 * they missed in all */
	bool stopped;
	uint64_t ifdrop_last;
	bool dumped;		/* dump_last holds the dumper's final counts */
	struct fs_dumper_stats dump_last;
	bool tstamp_fell_back;	/* the kind asked for is not offered */
	uint8_t dir_mask;	/* FS_REC_OUTGOING: which value is delivered */
	uint8_t dir_want;	/* (dir_mask 0: every packet) */
	char err[256];
};

/*
 * fork(): the receive threads, the EAL, the control and spool threads
 * and the ring (MADV_DONTFORK, mem.h) all stay with the parent. A child
 * that goes on using a capture opened before it (a daemon forking after
 * pcap_activate()) gets a clear error from every read, and closing it
 * there releases nothing of the parent's.
 */
static _Atomic unsigned fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void after_fork(void)
{
	atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
}

static void watch_forks(void)
{
	(void)pthread_atfork(NULL, NULL, after_fork);
}

static bool forked(const fs_capture *c)
{
	return atomic_load_explicit(&fork_gen, memory_order_relaxed) !=
		c->fork_gen;
}

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

/* Without a reader nobody waits for packets: the receive threads have
 * nothing to wake (their counts start over at once). */
static bool notify_none(void *arg, unsigned n, bool now)
{
	(void)arg;
	(void)n;
	(void)now;
	return true;
}

/* Without a reader, the end of each receive queue makes the descriptor
 * readable, so that a recorder learns that its sources ended or one
 * failed (fs_capture_read says which) without polling. */
static void queue_ended(void *arg)
{
	struct fs_capture *c = arg;
	uint64_t one = 1;

	(void)!write(c->efd, &one, sizeof(one));
}

void fs_capture_stop(fs_capture *c)
{
	if (c == NULL || forked(c))
		return;
	/* first: nothing from the bus acts on a capture that stops */
	fs_bus_stop(c->bus);
	fs_control_stop(c->ctl);
	/* a socket nobody serves must not wait for the dumper to finish */
	if (c->ctl != NULL)
		fs_privsep_control_stopped(c->ps);
	c->ctl = NULL;
	/* what the NIC missed is only known while the source is open */
	for (unsigned i = 0; c->src != NULL && !c->stopped &&
	     i < c->nsources; i++) {
		c->ifdrop_last += fs_source_ifdrop(&c->src[i]);
		fs_source_close(&c->src[i]);
	}
	c->stopped = true;
	/* the writers have published everything: readers of other
	 * processes read the rest and end (the state before the hang-up,
	 * so that they never take the end for a crash) */
	if (c->share != NULL) {
		fs_ring_set_state(c->ring, FS_RING_ENDED);
		fs_share_stop(c->share);
		c->share = NULL;
	}
	/* after the sources: the writers have stopped, the spool and the
	 * dumper write what they left and complete every file */
	/* the dumper first: a triggered flow's history it still writes
	 * is read back from the spool */
	if (c->dumper != NULL) {
		fs_dumper_stop(c->dumper, &c->dump_last);
		c->dumper = NULL;
		c->dumped = true;
	}
	if (c->spool != NULL) {
		fs_spool_finish(c->spool);
		fs_spool_stats(c->spool, &c->spool_last);
		fs_spool_close(c->spool);
		c->spool = NULL;
		c->spooled = true;
	}
	/* after the dumper, which may still reopen files through it; it
	 * removes the control socket if fs_control_stop could not (the
	 * application dropped the privileges the directory needs) */
	fs_privsep_stop(c->ps);
	c->ps = NULL;
}

void fs_capture_close(fs_capture *c)
{
	if (c == NULL)
		return;
	if (forked(c)) {
		/* the parent's: its threads, sockets and files are not ours
		 * to stop or remove; the child's copy of the handle is let go */
		if (c->efd >= 0)
			close(c->efd);
		return;
	}
	if (c->rd != NULL)
		for (unsigned i = 0; i < c->nlanes; i++) {
			fs_spool_hist_close(c->rd[i].hist);
			c->rd[i].hist = NULL;
		}
	fs_capture_stop(c);
	if (c->dump_fd >= 0)
		close(c->dump_fd);
	if (c->spool_fd >= 0)
		close(c->spool_fd);
	if (c->share_fd >= 0)
		close(c->share_fd);
	fs_claims_release(&c->claims);
	fs_bus_free(c->bus);
	free(c->frags);
	free(c->dlanes);
	free(c->hist_lost);
	free(c->src);
	if (c->an != NULL)
		for (unsigned i = 0; i < c->nlanes; i++)
			fs_analyzer_free(&c->an[i]);
	free(c->an);
	free(c->foreign);
	free((void *)c->dump_seq);
	fs_ring_free(c->dring);
	pcap_freecode(&c->trigger);
	if (c->rd != NULL)
		for (unsigned i = 0; i < c->nlanes; i++) {
			free(c->rd[i].buf);
			free(c->rd[i].where);
		}
	free(c->rd);
	free((void *)c->reader_seq);
	fs_ring_free(c->ring);
	if (c->efd >= 0)
		close(c->efd);
	fs_config_release(&c->cfg);
	fs_devname_release(&c->dev);
	free(c);
}

/* The spool, started before the receive threads: it follows every lane
 * from its first chunk. */
static int open_spool(fs_capture *c, uint32_t caplen, char *errbuf,
		      size_t errlen)
{
	struct fs_spool_params p = { 0 };
	char labels[FS_MAX_SOURCES][128];
	const char *names[FS_MAX_SOURCES];

	c->spool_seq = calloc(c->nlanes, sizeof(*c->spool_seq));
	c->aseq = calloc(c->nlanes, sizeof(*c->aseq));
	if (c->spool_seq == NULL || c->aseq == NULL) {
		snprintf(errbuf, errlen, "flowscope: out of memory");
		return -1;
	}
	for (unsigned i = 0; i < c->nlanes; i++)
		c->aseq[i] = &c->an[i].aseq;
	for (unsigned i = 0; i < c->nsources; i++)
		names[i] = fs_source_label(&c->src[i].spec, labels[i],
					   sizeof(labels[i]));
	p.dir = c->cfg.spool_dir;
	p.size = c->cfg.spool_size;
	p.nsources = c->nsources;
	p.source_names = names;
	p.snaplen = caplen;
	p.ring = c->ring;
	p.analyzed_seq = (_Atomic uint64_t *const *)c->aseq;
	p.spool_seq = c->spool_seq;
	p.ps = c->ps;
	c->spool = fs_spool_open(&p, errbuf, errlen);
	if (c->spool == NULL || fs_spool_start(c->spool, errbuf, errlen) < 0)
		return -1;
	c->sink.spool_seq = c->spool_seq;
	return 0;
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

int fs_capture_write_stats(fs_capture *c, FILE *out)
{
	struct fs_stats s;
	struct fs_dumper_stats d;
	bool dumps = c->dumper != NULL || c->dumped;

	if (forked(c))
		return -1;

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
	fprintf(out, "cut_packets %" PRIu64 "\n", s.cut_packets);
	fprintf(out, "cut_bytes %" PRIu64 "\n", s.cut_bytes);
	if (c->bus != NULL) {
		struct fs_bus_stats b;

		fs_bus_get_stats(c->bus, &b);
		fprintf(out, "bus_connected %d\n", b.connected ? 1 : 0);
		fprintf(out, "bus_sent %" PRIu64 "\n", b.sent);
		fprintf(out, "bus_unsent %" PRIu64 "\n", b.unsent);
		fprintf(out, "bus_received %" PRIu64 "\n", b.received);
		fprintf(out, "bus_flows %" PRIu64 "\n", b.flows);
		fprintf(out, "bus_refused %" PRIu64 "\n", b.refused);
		fprintf(out, "bus_errors %" PRIu64 "\n", b.errors);
		fprintf(out, "bus_limited %" PRIu64 "\n", b.limited);
	}
	if (c->share != NULL) {
		struct fs_share_stats sh;

		fs_share_get_stats(c->share, &sh);
		fprintf(out, "readers %u\n", sh.readers);
		fprintf(out, "readers_attached %" PRIu64 "\n", sh.attached);
		fprintf(out, "readers_refused %" PRIu64 "\n", sh.refused);
		fprintf(out, "group_joins %" PRIu64 "\n", sh.joins);
		fprintf(out, "group_leaves %" PRIu64 "\n", sh.leaves);
	}
	for (unsigned i = 0; c->src != NULL && !c->stopped &&
	     i < c->nsources; i++)
		if (c->src[i].spec.kind == FS_SRC_SPOOL) {
			uint64_t rd, sk;

			fs_spoolsrc_counts(&c->src[i], &rd, &sk);
			fprintf(out, "spool_blocks_read %" PRIu64 "\n", rd);
			fprintf(out, "spool_blocks_skipped %" PRIu64 "\n", sk);
		}
	if (dumps) {
		if (c->dumper != NULL)
			fs_dumper_stats(c->dumper, &d);
		else
			d = c->dump_last;
		fprintf(out, "dump_files %" PRIu64 "\n", d.files);
		fprintf(out, "dump_packets %" PRIu64 "\n", d.packets);
		fprintf(out, "dump_errors %" PRIu64 "\n", d.errors);
		fprintf(out, "dump_lost %" PRIu64 "\n", d.lost);
		fprintf(out, "dump_reopened %" PRIu64 "\n", d.reopened);
	}
	if (c->spool != NULL || c->spooled) {
		struct fs_spool_stats sp = c->spool_last;

		if (c->spool != NULL)
			fs_spool_stats(c->spool, &sp);
		fprintf(out, "spool_bytes %" PRIu64 "\n", sp.bytes);
		fprintf(out, "spool_limit %" PRIu64 "\n", sp.limit);
		fprintf(out, "spool_segments %" PRIu64 "\n", sp.segments);
		fprintf(out, "spool_packets %" PRIu64 "\n", sp.packets);
		fprintf(out, "spool_written %" PRIu64 "\n", sp.written);
		fprintf(out, "spool_write_rate %" PRIu64 "\n", sp.write_rate);
		fprintf(out, "spool_dropped %" PRIu64 "\n", sp.dropped);
		fprintf(out, "spool_errors %" PRIu64 "\n", sp.errors);
		fprintf(out, "spool_history_seconds %.3f\n",
			sp.oldest_ts && sp.newest_ts > sp.oldest_ts ?
			(double)(sp.newest_ts - sp.oldest_ts) / 1e9 : 0.0);
		fprintf(out, "spool_oldest %" PRIu64 ".%09" PRIu64 "\n",
			sp.oldest_ts / 1000000000u, sp.oldest_ts % 1000000000u);
	}
	return ferror(out) ? -1 : 0;
}

static int ctl_readers(void *arg, FILE *out, char *err, size_t errlen)
{
	fs_capture *c = arg;

	(void)err;
	(void)errlen;
	if (c->share != NULL)
		fs_share_write_readers(c->share, out, "");
	return 0;
}

static int ctl_stats(void *arg, FILE *out, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	/* the server sees a failed stream itself */
	(void)fs_capture_write_stats(arg, out);
	return 0;
}

void fs_capture_set_filter(fs_capture *c, const struct bpf_insn *insns,
			   unsigned n)
{
	if (forked(c))
		return;
	for (unsigned i = 0; c->src != NULL && !c->stopped &&
	     i < c->nsources; i++)
		if (c->src[i].spec.kind == FS_SRC_SPOOL)
			fs_spoolsrc_set_filter(&c->src[i], insns, n);
}

void fs_capture_describe(const fs_capture *c, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");
	char mem[32], lb[32];

	if (len > 0)
		buf[0] = '\0';
	if (f == NULL)
		return;
	/* the text is cut at len - 1 bytes when longer */
	setvbuf(f, NULL, _IONBF, 0);
	fprintf(f, "source%s ", c->nsources > 1 ? "s" : "");
	for (unsigned i = 0; i < c->nsources; i++) {
		const struct fs_source_spec *sp = &c->src[i].spec;

		if (i > 0)
			fputc(':', f);
		if (sp->kind == FS_SRC_FILE)
			fprintf(f, "file=%s", sp->arg);
		else
			fputs(fs_source_label(sp, lb, sizeof(lb)), f);
	}
	if (c->dev.config_path != NULL)
		fprintf(f, ", config %s", c->dev.config_path);
	fprintf(f, ", mode %s", c->cfg.mode == FS_MODE_TRIGGER ? "trigger" :
		"live");
	if (c->cfg.trigger != NULL)
		fprintf(f, ", trigger '%s'", c->cfg.trigger);
	fs_mem_fmt(fs_ring_capacity(c->ring), mem, sizeof(mem));
	fprintf(f, ", buffer %s", mem);
	if (c->cfg.spool_dir != NULL) {
		fs_mem_fmt(c->cfg.spool_size, mem, sizeof(mem));
		fprintf(f, ", spool_dir %s (%s)", c->cfg.spool_dir, mem);
	}
	if (c->cfg.dump_dir != NULL)
		fprintf(f, ", dump_dir %s", c->cfg.dump_dir);
	if (c->cfg.bus != NULL) {
		/* without a user:password@ the URL may carry */
		const char *u = c->cfg.bus, *at = strchr(u, '@'),
			   *sl = strstr(u, "://");

		if (at != NULL && sl != NULL && at > sl && !strchr(u, ','))
			fprintf(f, ", bus %.*s%s", (int)(sl + 3 - u), u, at + 1);
		else if (at == NULL)
			fprintf(f, ", bus %s", u);
		else
			fputs(", bus (servers with credentials)", f);
		fprintf(f, " subject %s", c->cfg.bus_subject ?
			c->cfg.bus_subject : FS_BUS_SUBJECT_DEFAULT);
	}
	if (c->cfg.control_off)
		fputs(", control off", f);
	else
		fprintf(f, ", control %s", c->ctl_path);
	fclose(f);
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
		       const char *text, FILE *out, char *err, size_t errlen)
{
	fs_capture *c = arg;
	struct fs_request r = { .type = FS_REQ_TRIGGER, .filter = filter };
	uint64_t one = 1, n;

	if (ctl_each_lane(c, &r, err, errlen, &n) < 0)
		return -1;
	fprintf(out, "triggered %" PRIu64 "\n", n);
	(void)!write(c->efd, &one, sizeof(one));
	/* the same flows on every capture of the bus */
	if (c->bus != NULL)
		fs_bus_publish_filter(c->bus, text);
	return 0;
}

/* ---- the bus (bus.h) ---- */

/* A trigger from another capture: its flow, or its filter's flows. */
static long bus_trigger(void *arg, const struct fs_bus_msg *m, char *err,
			size_t errlen)
{
	fs_capture *c = arg;
	struct fs_request r = { .type = FS_REQ_TRIGGER };
	struct bpf_program prog = { 0, NULL };
	uint64_t one = 1, n = 0;
	int rc;

	if (m->has_key) {
		r.type = FS_REQ_TRIGGER_KEY;
		r.key = &m->key;
	} else if (m->filter[0] != '\0') {
		/* over flows, as flowscope-ctl trigger's */
		if (fs_control_compile(m->filter, &prog, err, errlen) < 0)
			return -1;
		r.filter = &prog;
	}
	rc = ctl_each_lane(c, &r, err, errlen, &n);
	if (r.filter != NULL)
		pcap_freecode(&prog);
	if (rc < 0)
		return -1;
	(void)!write(c->efd, &one, sizeof(one));
	return (long)n;
}

static void bus_stats(void *arg, FILE *out)
{
	(void)fs_capture_write_stats(arg, out);
}

static const char *bus_mode(void *arg)
{
	const fs_capture *c = arg;

	return c->cfg.mode == FS_MODE_TRIGGER ? "trigger" : "live";
}

/* A packet matched the trigger: every capture of the bus hears of it
 * (the analyzer's thread; the bus never makes it wait). */
static void bus_publish(void *arg, const struct fs_flow_key *k, uint64_t ts)
{
	fs_capture *c = arg;

	fs_bus_publish_key(c->bus, k, ts);
}

static int start_bus(fs_capture *c, char *errbuf, size_t errlen)
{
	static const struct fs_bus_ops ops0 = {
		.trigger = bus_trigger, .stats = bus_stats, .mode = bus_mode,
	};
	struct fs_bus_ops ops = ops0;
	char name[160], lb[64];

	ops.arg = c;
	if (c->dev.named != NULL)
		snprintf(name, sizeof(name), "%s", c->dev.named);
	else
		snprintf(name, sizeof(name), "%s",
			 fs_source_label(&c->dev.sources[0], lb, sizeof(lb)));
	c->bus = fs_bus_start(&c->cfg, name, &ops, errbuf, errlen);
	if (c->bus == NULL)
		return -1;
	for (unsigned i = 0; i < c->nlanes; i++) {
		c->an[i].on_trigger = bus_publish;
		c->an[i].on_trigger_arg = c;
	}
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
	.readers = ctl_readers,
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

/* Are there delivery lanes? For the application in trigger mode, for
 * the dumper with dump_dir; a recorder without dump_dir only marks the
 * flows a trigger selects. */
static bool delivers(const fs_capture *c)
{
	return (c->cfg.mode == FS_MODE_TRIGGER && c->reader) ||
		c->cfg.dump_dir != NULL;
}

/*
 * What the capture makes resident (ring, delivery lanes, history index
 * and flow slots) against what the machine, the cgroups and the limits
 * can give, before any of it is touched: too much is an activate error
 * that names what is there, never an out-of-memory kill. ring: the
 * bytes of ring the analyzers index; own: whether we make them resident
 * (an attached reader maps the publisher's).
 */
static int check_memory(const fs_capture *c, uint64_t ring, bool own,
			char *errbuf, size_t errlen)
{
	uint64_t deliv = delivers(c) ? delivery_bytes(c) : 0, index, room;
	char why[256], need[32], r[32], d[32], x[32], have[32];

	index = c->nlanes * fs_analyzer_mem_size(ring / c->nlanes,
						 c->cfg.max_flows);
	if (!own)
		ring = 0;
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
		if ((dev->sources[i].kind == FS_SRC_FILE &&
		     access(dev->sources[i].arg, R_OK) < 0) ||
		    (dev->sources[i].kind == FS_SRC_SPOOL &&
		     access(dev->sources[i].arg, R_OK | X_OK) < 0)) {
			snprintf(errbuf, errlen, "%s%.128s: %s",
				 dev->sources[i].kind == FS_SRC_FILE ?
				 "file=" : "spool=", dev->sources[i].arg,
				 strerror(errno));
			return -1;
		}
	return 0;
}

/* since/until, now: relative times count back from the activation. Only
 * sources with a past take them. */
static int resolve_window(fs_capture *c, char *errbuf, size_t errlen)
{
	uint64_t now = fs_time_now(), lo = 0, hi = UINT64_MAX;
	const char *key = c->cfg.since ? "since" : "until";
	char why[256];

	if (c->cfg.since == NULL && c->cfg.until == NULL)
		return 0;
	for (size_t i = 0; i < c->dev.nsources; i++)
		if (c->dev.sources[i].kind == FS_SRC_ATTACH &&
		    c->cfg.until != NULL) {
			snprintf(errbuf, errlen, "until: an attached reader "
				 "(flowscope:@%s) goes on live; only since "
				 "starts it in the past", c->dev.sources[i].arg);
			return -1;
		} else if (c->dev.sources[i].kind != FS_SRC_FILE &&
			   c->dev.sources[i].kind != FS_SRC_SPOOL &&
			   c->dev.sources[i].kind != FS_SRC_ATTACH) {
			char b[64];

			snprintf(errbuf, errlen, "%s: only file=, spool= and "
				 "@NAME sources have a past to choose from; %s "
				 "is live", key, fs_source_label(&c->dev.sources[i],
							     b, sizeof(b)));
			return -1;
		}
	if (c->cfg.since != NULL &&
	    fs_time_parse(c->cfg.since, now, &lo, why, sizeof(why)) < 0) {
		snprintf(errbuf, errlen, "since: %s", why);
		return -1;
	}
	if (c->cfg.until != NULL &&
	    fs_time_parse(c->cfg.until, now, &hi, why, sizeof(why)) < 0) {
		snprintf(errbuf, errlen, "until: %s", why);
		return -1;
	}
	if (lo >= hi) {
		snprintf(errbuf, errlen, "until: %s is not after since %s",
			 c->cfg.until, c->cfg.since);
		return -1;
	}
	c->win_lo = lo;
	c->win_hi = hi;
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
	/* the spool's directory too: its segments come and go while the
	 * application may have given up root */
	if (c->cfg.spool_dir != NULL) {
		c->spool_fd = open(c->cfg.spool_dir, O_RDONLY | O_DIRECTORY |
				   O_CLOEXEC);
		if (c->spool_fd < 0) {
			snprintf(errbuf, errlen, "spool_dir: %s: %s",
				 c->cfg.spool_dir, errno == ENOTDIR ?
				 "not a directory" : strerror(errno));
			return -1;
		}
	}
	return fs_privsep_start(c->dump_fd, c->spool_fd, c->cfg.control_off ?
				NULL : c->ctl_path, &c->ps, errbuf, errlen);
}

/*
 * Parse device and load its configuration into dev and cfg (initialised
 * by the caller, released by it in any case): the sources of a named
 * capture come from its source key. Returns 0 or -1 with errbuf.
 */
static int load_device(const char *device, struct fs_devname *dev,
		       struct fs_config *cfg, bool secure, char *errbuf,
		       size_t errlen)
{
	if (fs_devname_parse(device, dev, errbuf, errlen) < 0)
		return -1;
	if (fs_config_load_as(cfg, dev->config_path, environ,
			      secure ? FS_CONFIG_SECURE : 0, errbuf, errlen) < 0)
		return -1;
	if (dev->named != NULL) {
		if (cfg->source == NULL) {
			snprintf(errbuf, errlen, "%.64s: %.128s has no source "
				 "key (the capture's sources, e.g. source = "
				 "eth0)", device, dev->config_path);
			return -1;
		}
		if (fs_devname_set_sources(dev, cfg->source, errbuf,
					   errlen) < 0)
			return -1;
	} else if (cfg->source != NULL) {
		snprintf(errbuf, errlen, "source: only a named capture ("
			 FS_DEVNAME_NAMED "NAME) takes it; this device name "
			 "gives its sources itself");
		return -1;
	}
	if (secure && check_files(dev, errbuf, errlen) < 0)
		return -1;
	return 0;
}

/* Does a capture of these sources need DPDK's EAL? */
static bool needs_eal(const struct fs_devname *dev)
{
	for (size_t i = 0; i < dev->nsources; i++)
		if (fs_source_needs_eal(dev->sources[i].kind))
			return true;
	return false;
}

/* The kinds of timestamp that every source of dev offers (EAL started
 * when dpdkN is among them). */
static unsigned common_tstamps(const struct fs_devname *dev)
{
	unsigned types = ~0u;

	for (size_t i = 0; i < dev->nsources; i++)
		types &= fs_source_tstamp_types(&dev->sources[i]);
	return types | FS_TSTAMP_BIT(FS_TSTAMP_HOST);
}

/*
 * The kind of timestamp every source of the capture is opened with.
 * Asked for: that kind when every source offers it, else host time and
 * *fell_back. Unasked: the NIC's stamps when the capture is of dpdkN
 * ports only, all mapping theirs onto host time, or of one dpdkN port
 * stamping in its own time (packets of several sources are merged by
 * timestamp, so they must be of one clock); else host time. Interfaces
 * keep the kernel's software stamp unless asked, as with stock libpcap:
 * switching a NIC to stamping in hardware changes it for every user of
 * the interface, whereas a DPDK port is the capture's own.
 */
static enum fs_tstamp pick_tstamp(const struct fs_devname *dev,
				  enum fs_tstamp want, bool *fell_back)
{
	unsigned types = common_tstamps(dev);
	bool ports = true;

	*fell_back = false;
	if (want == FS_TSTAMP_HOST)
		return FS_TSTAMP_HOST;
	if (want != FS_TSTAMP_DEFAULT) {
		if (types & FS_TSTAMP_BIT(want))
			return want;
		*fell_back = true;
		return FS_TSTAMP_HOST;
	}
	for (size_t i = 0; i < dev->nsources; i++)
		ports = ports && dev->sources[i].kind == FS_SRC_DPDK;
	if (!ports)
		return FS_TSTAMP_HOST;
	if (types & FS_TSTAMP_BIT(FS_TSTAMP_ADAPTER))
		return FS_TSTAMP_ADAPTER;
	if (dev->nsources == 1 &&
	    (types & FS_TSTAMP_BIT(FS_TSTAMP_ADAPTER_UNSYNCED)))
		return FS_TSTAMP_ADAPTER_UNSYNCED;
	return FS_TSTAMP_HOST;
}

unsigned fs_device_tstamp_types(const char *device)
{
	struct fs_devname dev;
	struct fs_config cfg;
	char err[256];
	unsigned types = FS_TSTAMP_BIT(FS_TSTAMP_HOST);

	memset(&dev, 0, sizeof(dev));
	fs_config_init(&cfg);
	if (load_device(device, &dev, &cfg, getauxval(AT_SECURE) != 0, err,
			sizeof(err)) == 0 &&
	    (!needs_eal(&dev) || fs_eal_start(cfg.eal, err, sizeof(err)) == 0))
		types = common_tstamps(&dev);
	fs_config_release(&cfg);
	fs_devname_release(&dev);
	return types;
}

bool fs_capture_tstamp_fell_back(const fs_capture *c)
{
	if (c->tstamp_fell_back)
		return true;
	for (unsigned i = 0; i < c->nsources; i++)
		if (c->src[i].tstamp_fell_back)
			return true;
	return false;
}

static fs_spool_hist *open_history(void *arg, unsigned lane,
				   const struct fs_pkt_hdr *rec, uint32_t snap);

/*
 * share and @NAME. An attached reader reads the ring another capture
 * records: what is recorded, spooled, dumped or published is that
 * capture's, so keys that would change it are refused here with the
 * reason rather than ignored (sizes and queues, which only the recording
 * capture uses, are left alone). Its mode, trigger and flow tracking are
 * its own (attach_analyzer). group needs an attached ring, share_group
 * a published one.
 */
static int check_sharing(fs_capture *c, char *errbuf, size_t errlen)
{
	static const char *const theirs[] = {
		"dump_dir", "spool_dir", "cutoff", "share", "share_group",
		"source_vlans",
	};
	const struct fs_source_spec *att = NULL;

	for (size_t i = 0; i < c->dev.nsources; i++)
		if (c->dev.sources[i].kind == FS_SRC_ATTACH)
			att = &c->dev.sources[i];
	if (att == NULL) {
		if (c->cfg.group != NULL) {
			snprintf(errbuf, errlen, "group: only an attached "
				 "reader (flowscope:@NAME) takes it");
			return -1;
		}
		if (c->cfg.share_group != NULL && c->cfg.share == NULL) {
			snprintf(errbuf, errlen, "share_group: only a capture "
				 "that publishes its ring (share = NAME) takes "
				 "it");
			return -1;
		}
		return 0;
	}
	if (c->dev.nsources > 1) {
		snprintf(errbuf, errlen, "@%s: an attached ring is "
			 "read alone (no other source in the device name)",
			 att->arg);
		return -1;
	}
	if (!c->reader) {
		snprintf(errbuf, errlen, "@%s: a recorder records "
			 "its own sources; attach with a program that reads",
			 att->arg);
		return -1;
	}
	/* the publisher's control socket lists its readers (pid, program,
	 * rate, drops); one of a reader's own only when asked for, so that
	 * a reader that is killed leaves no file behind */
	if (!fs_config_given(&c->cfg, "control"))
		c->cfg.control_off = true;
	for (size_t k = 0; k < sizeof(theirs) / sizeof(theirs[0]); k++)
		if (fs_config_given(&c->cfg, theirs[k])) {
			snprintf(errbuf, errlen, "%s: an attached reader "
				 "(flowscope:@%s) does not take it: it belongs "
				 "to the capture that publishes the ring",
				 theirs[k], att->arg);
			return -1;
		}
	return 0;
}

/*
 * Who records what (claim.h): an interface that a capture publishing its
 * ring records is refused to every other process, with the @NAME to
 * attach to; so is a DPDK port on a real bus (a NIC, which one process
 * drives) that any capture records. Interfaces are claimed before they
 * are opened, ports once open (their device is known then).
 */
static int claim(fs_capture *c, struct fs_source *s, bool opened,
		 char *errbuf, size_t errlen)
{
	char what[96], dev[64], label[32];

	if (!opened && s->spec.kind == FS_SRC_IFACE) {
		snprintf(what, sizeof(what), "if:%s", s->spec.arg);
		if (c->cfg.share == NULL)
			return fs_claim_check(what, s->spec.arg, errbuf, errlen);
		return fs_claim_take(&c->claims, what, s->spec.arg,
				     c->cfg.share, errbuf, errlen);
	}
	if (!opened || !fs_dpdk_device(s, dev, sizeof(dev)))
		return 0;
	snprintf(what, sizeof(what), "dpdk:%s", dev);
	snprintf(label, sizeof(label), "dpdk%u", (unsigned)s->spec.port);
	return fs_claim_take(&c->claims, what, label, c->cfg.share, errbuf,
			     errlen);
}

/* The directory of the publisher's spool, which it handed over with the
 * ring, as a path (its descriptor's) into buf. */
static const char *publisher_spool(const fs_capture *c, char *buf,
				   size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", c->attached->att->spool_fd);
	return buf;
}

/*
 * since on an attached reader, further back than the publisher's ring
 * reaches: what the publisher's spool holds from then on comes first,
 * lane by lane, up to the chunk the ring's oldest is, then the ring from
 * that chunk on, so that the seam has no gap and no duplicate. Without a
 * spool (or one this reader may not read) the ring's part is all there
 * is. Not for a group, whose steering the spool does not keep, nor in
 * trigger mode, whose analyzers learn from the ring (and keep the spool's
 * directory for the history of the flows they trigger: open_history).
 */
static void attach_history(fs_capture *c, uint32_t caplen)
{
	struct fs_attach *a = c->attached->att;
	uint64_t before[MAX_LANES] = { 0 }, head[MAX_LANES] = { 0 };
	uint64_t again[MAX_LANES] = { 0 };
	fs_spool_hist *h[MAX_LANES];
	char path[64], err[256];
	bool any = false, retry = false;

	if (a->spool_fd < 0 || c->win_lo == 0 || c->frags != NULL ||
	    c->dring != NULL || !c->reader)
		goto done;
	for (unsigned i = 0; i < c->nlanes; i++) {
		struct reader *r = &c->rd[i];
		uint64_t tail = atomic_load_explicit(&r->lane->tail,
						     memory_order_acquire);
		uint64_t first = atomic_load_explicit(
			&fs_lane_chunk(r->lane, r->cur.seq)->first_ts,
			memory_order_relaxed);

		/* the ring's oldest chunk is newer than since: given up
		 * chunks before it may be on disk */
		if (r->cur.seq == tail && tail > 0 && first > c->win_lo) {
			before[i] = tail;
			head[i] = atomic_load_explicit(&r->lane->head,
						       memory_order_acquire);
			any = true;
		}
	}
	if (!any || fs_spooldir_history(publisher_spool(c, path, sizeof(path)),
					c->nlanes, c->win_lo, before, head,
					caplen, h, err, sizeof(err)) < 0)
		goto done;
	for (unsigned i = 0; i < c->nlanes; i++) {
		struct reader *r = &c->rd[i];

		if (h[i] == NULL)
			continue;
		/* the ring's part from the seam the spool chose; given up
		 * while the spool was scanned (a scan slower than the
		 * ring's span), the seam goes back to the ring's oldest,
		 * as if it had never moved */
		if (before[i] != r->cur.seq &&
		    !fs_cursor_at(r->lane, &r->cur, before[i])) {
			fs_spool_hist_close(h[i]);
			again[i] = r->cur.seq;
			retry = true;
			continue;
		}
		r->hist = h[i];
		r->lead = true;
	}
	if (retry && fs_spooldir_history(publisher_spool(c, path, sizeof(path)),
					 c->nlanes, c->win_lo, again, NULL,
					 caplen, h, err, sizeof(err)) == 0)
		for (unsigned i = 0; i < c->nlanes; i++) {
			if (h[i] != NULL && again[i] != 0) {
				c->rd[i].hist = h[i];
				c->rd[i].lead = true;
			}
		}
done:
	if (a->spool_fd >= 0 && c->dring == NULL) {
		close(a->spool_fd);
		a->spool_fd = -1;
	}
}

/* Attached in a group: is the record ours? One whose chunk's table was
 * replaced before we looked is nobody's we can tell: lost (keep_ours). */
static bool keep_mine(void *arg, const struct fs_pkt_hdr *h, uint32_t tag)
{
	fs_capture *c = arg;
	bool unknown = false;

	if (fs_attachsrc_mine(c->attached, h, tag, c->frags, &unknown))
		return true;
	if (unknown)
		atomic_fetch_add_explicit(&c->lost, 1, memory_order_relaxed);
	return false;
}

/*
 * An attached reader in trigger mode tracks the flows itself, in its
 * own process: the analyzer of lane i follows the publisher's lane with
 * a cursor of its own and copies each burst out before it looks at it
 * (fs_analyzer_foreign), and triggered flows go to private delivery
 * lanes, as in a capture of our own. It starts at the oldest record the
 * ring holds, so that a flow triggered from now on comes with all of its
 * history there; what triggers is what arrives from now on, or from
 * since on (since = -30s: as if the reader had been there 30 s ago).
 */
static int attach_analyzer(fs_capture *c, unsigned i, char *errbuf,
			   size_t errlen)
{
	struct fs_lane *lane = fs_ring_lane(c->ring, i);
	struct fs_foreign *f;
	struct fs_cursor cur, now;

	if (c->foreign == NULL) {
		c->foreign = calloc(c->nlanes, sizeof(*c->foreign));
		if (c->foreign == NULL) {
			snprintf(errbuf, errlen, "flowscope: out of memory");
			return -1;
		}
	}
	f = &c->foreign[i];
	if (fs_analyzer_init(&c->an[i], lane, fs_ring_lane(c->dring, i),
			     fs_ring_capacity(c->ring) / c->nlanes,
			     c->cfg.max_flows, c->cfg.flow_timeout,
			     &c->trigger, fs_ring_max_cap(c->ring), errbuf,
			     errlen) < 0)
		return -1;
	fs_cursor_newest(lane, &now);
	if (c->win_lo != 0) {
		fs_cursor_since(lane, &cur, c->win_lo);
		f->act_ts = c->win_lo;
	} else {
		fs_cursor_oldest(lane, &cur);
		f->act_pkt = now.pkt;
	}
	if (c->frags != NULL) {
		f->keep = keep_mine;
		f->keep_arg = c;
	}
	f->seen = &c->seen;
	f->lost = &c->lost;
	return fs_analyzer_foreign(&c->an[i], f, &cur, errbuf, errlen);
}

fs_capture *fs_capture_open(const char *device,
			    const struct fs_open_params *params,
			    char *errbuf, size_t errlen)
{
	fs_capture *c = calloc(1, sizeof(*c));
	struct fs_source_params sp;
	uint32_t caplen;
	uint32_t an_cap;	/* records the analyzers and delivery take */
	unsigned lane = 0;
	bool spooled = false;
	/* setuid, setgid or file capabilities: whoever started the program
	 * may not have the rights it runs with */
	bool secure = getauxval(AT_SECURE) != 0;

	if (c == NULL) {
		snprintf(errbuf, errlen, "flowscope: out of memory");
		return NULL;
	}
	fs_claims_init(&c->claims);
	c->efd = -1;
	c->dump_fd = -1;
	c->spool_fd = -1;
	c->share_fd = -1;
	pthread_once(&fork_once, watch_forks);
	c->fork_gen = atomic_load(&fork_gen);
	c->win_hi = UINT64_MAX;
	c->reader = !(params->flags & FS_OPEN_NO_READER);
	fs_config_init(&c->cfg);
	if (load_device(device, &c->dev, &c->cfg, secure, errbuf,
			errlen) < 0)
		goto fail;
	if (resolve_window(c, errbuf, errlen) < 0 ||
	    check_sharing(c, errbuf, errlen) < 0)
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
	an_cap = caplen;

	c->nsources = (unsigned)c->dev.nsources;
	c->src = calloc(c->nsources, sizeof(*c->src));
	if (c->src == NULL)
		goto oom;
	for (unsigned i = 0; i < c->nsources; i++) {
		c->src[i].spec = c->dev.sources[i];
		c->src[i].index = i;
		c->src[i].win_lo = c->win_lo;
		c->src[i].win_hi = c->win_hi;
		if (c->dev.sources[i].kind == FS_SRC_ATTACH) {
			c->attached = &c->src[i];	/* lanes: the ring's */
			continue;
		}
		c->nlanes += c->dev.sources[i].kind == FS_SRC_FILE ||
			c->dev.sources[i].kind == FS_SRC_SPOOL ? 1
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
	if ((c->attached == NULL &&
	     check_memory(c, c->cfg.buffer, true, errbuf, errlen) < 0) ||
	    start_privsep(c, errbuf, errlen) < 0)
		goto fail;
	if (c->attached != NULL) {
		/* after the helper's fork: it must not hold our connection,
		 * whose end tells the publisher we are gone */
		if (fs_attachsrc_connect(c->attached, &c->cfg, errbuf,
					 errlen) < 0)
			goto fail;
		c->ring = fs_attachsrc_ring(c->attached);
		c->nlanes = fs_ring_lanes(c->ring);
		/* trigger mode copies the publisher's records as they are */
		if (c->cfg.mode == FS_MODE_TRIGGER) {
			an_cap = fs_ring_max_cap(c->ring);
			if (check_memory(c, fs_ring_capacity(c->ring), false,
					 errbuf, errlen) < 0)
				goto fail;
		}
		if (fs_attachsrc_grouped(c->attached)) {
			c->frags = calloc(FS_FRAGS, sizeof(*c->frags));
			if (c->frags == NULL)
				goto oom;
		}
	} else if (c->cfg.share != NULL) {
		c->ring = fs_ring_create_shared(c->cfg.buffer, c->nlanes,
						caplen, &c->share_fd);
	} else {
		c->ring = fs_ring_create(c->cfg.buffer, c->nlanes, caplen);
	}
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
	if (c->cfg.trigger != NULL && compile_trigger(c, an_cap, errbuf,
						       errlen) < 0)
		goto fail;
	if (delivers(c)) {
		uint64_t dbytes = delivery_bytes(c);

		c->dring = fs_ring_create(dbytes, c->nlanes, an_cap);
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

		if (c->attached != NULL && deliv == NULL) {
			/* live: the lane is only read */
			c->an[i].lane = main_lane;
		} else if (c->attached != NULL) {
			if (attach_analyzer(c, i, errbuf, errlen) < 0)
				goto fail;
		} else if (fs_analyzer_init(&c->an[i], main_lane, deliv,
				     fs_ring_capacity(c->ring) / c->nlanes,
				     c->cfg.max_flows, c->cfg.flow_timeout,
				     &c->trigger, caplen, errbuf, errlen) < 0) {
			goto fail;
		}
		c->an[i].cutoff = c->cfg.cutoff;
		atomic_store(&c->dump_seq[i], UINT64_MAX);
		if (!c->reader)
			continue;	/* only rd[i].rxq is used */
		c->rd[i].lane = c->cfg.mode == FS_MODE_TRIGGER ? deliv
							       : main_lane;
		c->rd[i].snap = caplen;
		c->rd[i].buf = malloc(STAGE_BYTES);
		if (c->rd[i].buf == NULL)
			goto oom;
		if (c->attached == NULL || deliv != NULL) {
			fs_cursor_oldest(c->rd[i].lane, &c->rd[i].cur);
			continue;
		}
		/* attached: from now on, or from since on */
		if (c->win_lo != 0) {
			fs_cursor_since(c->rd[i].lane, &c->rd[i].cur,
					c->win_lo);
			c->rd[i].skip_old = true;
		} else {
			fs_cursor_newest(c->rd[i].lane, &c->rd[i].cur);
		}
		if (c->frags != NULL) {
			c->rd[i].where = calloc(STAGE_PKTS,
						sizeof(*c->rd[i].where));
			if (c->rd[i].where == NULL)
				goto oom;
		}
	}
	if (c->attached != NULL)
		attach_history(c, caplen);
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
	c->sink.spool_seq = NULL;
	c->sink.trigger_mode = c->cfg.mode == FS_MODE_TRIGGER;
	c->sink.reader = c->reader;
	c->sink.notify = c->reader ? notify : notify_none;
	c->sink.ended = c->reader ? NULL : queue_ended;
	c->sink.notify_arg = c;
	c->sink.caplen = caplen;
	c->sink.delivered = &c->delivered;
	c->sink.lost = &c->lost;

	sp.caplen = caplen;
	sp.promisc = params->promisc;
	sp.immediate = params->immediate;
	sp.timeout_ms = params->timeout_ms;
	/* interfaces need no EAL: a capture of only those never starts it
	 * (its time and memory) */
	if (needs_eal(&c->dev) && fs_eal_start(c->cfg.eal, errbuf, errlen) < 0)
		goto fail;
	sp.tstamp = pick_tstamp(&c->dev, params->tstamp, &c->tstamp_fell_back);
	for (unsigned i = 0; i < c->nsources; i++) {
		struct fs_source *s = &c->src[i];

		if (claim(c, s, false, errbuf, errlen) < 0 ||
		    fs_source_open(s, &c->cfg, &sp, errbuf, errlen) < 0 ||
		    claim(c, s, true, errbuf, errlen) < 0)
			goto fail;
		/* unasked, the source's own choice was no promise */
		if (params->tstamp == FS_TSTAMP_DEFAULT)
			s->tstamp_fell_back = false;
		for (unsigned q = 0; q < s->nq; q++, lane++) {
			s->rxq[q].lane = fs_ring_lane(c->ring, lane);
			s->rxq[q].an = &c->an[lane];
			/* a lossless source waits for the reader: then the
			 * reader must never be the one analyzing */
			c->an[lane].shared = !s->lossless &&
				s->spec.kind != FS_SRC_ATTACH;
			/* what the ring gives up of a spool read back is
			 * still in that spool */
			c->an[lane].spooled = s->spec.kind == FS_SRC_SPOOL ||
				(s->spec.kind == FS_SRC_ATTACH &&
				 c->dring != NULL && s->att->spool_fd >= 0);
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
	if (c->cfg.spool_dir != NULL && open_spool(c, caplen, errbuf,
						   errlen) < 0)
		goto fail;
	if (c->spool != NULL)
		for (unsigned i = 0; i < c->nlanes; i++)
			c->an[i].spooled = true;
	for (unsigned i = 0; i < c->nlanes; i++)
		if (c->an[i].spooled)
			spooled = true;
	if (spooled) {
		/* the readers of the delivery lanes find triggered flows'
		 * older packets on disk; the application's reader counts
		 * what is missing there, else the dumper does */
		c->hist_lost = calloc(c->nlanes, sizeof(*c->hist_lost));
		if (c->hist_lost == NULL)
			goto oom;
		for (unsigned i = 0; i < c->nlanes; i++)
			c->hist_lost[i] = &c->an[i].history_lost;
		fs_dumper_set_history(c->dumper, open_history, c,
				      c->reader && c->cfg.mode == FS_MODE_TRIGGER ?
				      NULL : c->hist_lost);
	}
	/* before the receive threads, whose analyzers publish to it */
	if (c->cfg.bus != NULL && start_bus(c, errbuf, errlen) < 0)
		goto fail;
	for (unsigned i = 0; i < c->nsources; i++)
		if (fs_source_start(&c->src[i], &c->sink, errbuf, errlen) < 0)
			goto fail;
	/* after the receive threads: a command must find each lane either
	 * served by its thread or (once that ended) by the control thread,
	 * never both */
	if (!c->cfg.control_off && start_control(c, errbuf, errlen) < 0)
		goto fail;
	/* last: a reader that attaches finds the lanes written */
	if (c->cfg.share != NULL) {
		c->share = fs_share_start(c->cfg.share, c->cfg.share_group,
					  c->ring, c->share_fd,
					  c->spool != NULL ? c->spool_fd : -1, errbuf, errlen);
		if (c->share == NULL)
			goto fail;
		close(c->share_fd);
		c->share_fd = -1;
	}
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

/* A triggered flow's history on disk, the reference rec of lane: from
 * the capture's own spool, else from the spool its source reads. */
static fs_spool_hist *open_history(void *arg, unsigned lane,
				   const struct fs_pkt_hdr *rec, uint32_t snap)
{
	fs_capture *c = arg;
	struct fs_rxq *q = c->rd[lane].rxq;
	char dir[64];

	if (c->spool != NULL)
		return fs_spool_hist_open(c->spool, rec, snap);
	if (q != NULL && q->src->spec.kind == FS_SRC_SPOOL)
		return fs_spoolsrc_hist_open(q->src, rec, snap);
	if (q != NULL && q->src->spec.kind == FS_SRC_ATTACH &&
	    q->src->att->spool_fd >= 0) {
		/* the publisher's spool, which it handed over */
		return fs_spooldir_flow_history(publisher_spool(c, dir,
							sizeof(dir)), rec, snap);
	}
	return NULL;
}

/* The iterator's next records; false at its end. */
static bool next_hist(fs_capture *c, struct reader *r)
{
	unsigned n;

	r->hrd = 0;
	r->hwr = (uint32_t)fs_spool_hist_next(r->hist, &r->hrec, &n);
	if (r->lead)	/* received, as what the lane gives is */
		atomic_fetch_add_explicit(&c->seen, n, memory_order_relaxed);
	return r->hwr > 0;
}

/* The history of the reference at rd is delivered: count what the spool
 * did not have, step past the reference. */
static void end_hist(fs_capture *c, struct reader *r)
{
	const struct fs_pkt_hdr *h = (const void *)(r->buf + r->rd);
	unsigned lane = (unsigned)(r - c->rd);
	struct fs_hist_ref ref;

	if (r->lead) {
		/* the lane itself is next, from the chunk the history
		 * ended before */
		fs_spool_hist_close(r->hist);
		r->hist = NULL;
		r->lead = false;
		return;
	}
	if (r->hist != NULL) {
		atomic_fetch_add_explicit(&c->an[lane].history_lost,
					  fs_spool_hist_missing(r->hist),
					  memory_order_relaxed);
		fs_spool_hist_close(r->hist);
		r->hist = NULL;
	} else if (fs_hist_ref_get(h, &ref) == 0) {
		/* out of memory: the whole history is missing */
		atomic_fetch_add_explicit(&c->an[lane].history_lost, ref.expect,
					  memory_order_relaxed);
	}
	r->rd += FS_REC_SIZE(h->cap_len);
}

/*
 * Attached: keep of the n records just staged in r those that are ours,
 * packed at the front, and return their bytes. Records before since are
 * stepped over until the first one at or after it; in a group, those
 * that the steering of their chunk gives to another member. A record
 * whose chunk's table was replaced before we looked (we were more than
 * FS_SHARE_GENS regroupings behind) is nobody's we can tell: lost.
 */
static uint32_t keep_ours(fs_capture *c, struct reader *r, unsigned n)
{
	uint32_t in = 0, out = 0;
	uint64_t kept = 0;

	for (unsigned k = 0; k < n; k++) {
		struct fs_pkt_hdr *h = (void *)(r->buf + in);
		uint32_t sz = FS_REC_SIZE(h->cap_len);

		in += sz;
		if (r->skip_old) {
			if (h->ts_ns < c->win_lo)
				continue;
			r->skip_old = false;
		}
		if (r->where != NULL && !keep_mine(c, h, r->where[k].tag))
			continue;
		if (out != in - sz)
			memmove(r->buf + out, h, sz);
		out += sz;
		kept++;
	}
	atomic_fetch_add_explicit(&c->seen, kept, memory_order_relaxed);
	return out;
}

/* Stage what lane r has (only when its previous batch is delivered:
 * the application may still hold pointers into it until the next read). */
static void stage(fs_capture *c, unsigned i)
{
	struct reader *r = &c->rd[i];
	unsigned n;
	uint32_t off = 0;
	uint64_t lost = 0;

	if (r->hist != NULL) {
		/* the previous batch of history is delivered: the next one */
		if (r->hrd < r->hwr || next_hist(c, r))
			return;
		end_hist(c, r);
	}
	if (r->rd < r->wr)
		return;
	r->rd = r->wr = 0;
	if (__builtin_expect(c->attached != NULL && c->dring == NULL, 0)) {
		/* a batch of nothing of ours is not the end of the lane */
		do {
			n = fs_lane_read_pos(r->lane, &r->cur, r->buf,
					     STAGE_BYTES, STAGE_PKTS, &lost,
					     r->where);
			off = keep_ours(c, r, n);
		} while (off == 0 && n == STAGE_PKTS);
	} else {
		n = fs_lane_read(r->lane, &r->cur, r->buf, STAGE_BYTES,
				 STAGE_PKTS, &lost);
		for (unsigned k = 0; k < n; k++)
			off += FS_REC_SIZE(((const struct fs_pkt_hdr *)
					    (r->buf + off))->cap_len);
	}
	if (lost)
		atomic_fetch_add_explicit(&c->lost, lost, memory_order_relaxed);
	r->wr = off;
	atomic_store_explicit(&c->reader_seq[i], r->cur.seq,
			      memory_order_release);
	if (n < STAGE_PKTS)	/* caught up */
		help(c, i);
}

/* Hand out h, the record head() gave. */
static void take(struct reader *r, const struct fs_pkt_hdr *h,
		 struct fs_packet *p)
{
	p->ts_ns = h->ts_ns;
	/* a publisher's records may be longer than our snaplen */
	p->caplen = h->cap_len < r->snap ? h->cap_len : r->snap;
	p->wirelen = h->wire_len;
	p->data = (const uint8_t *)(h + 1);
	p->source = h->source;
	if (r->hist != NULL)
		r->hrd += FS_REC_SIZE(h->cap_len);
	else
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
		if (c->rd[i].rd < c->rd[i].wr || c->rd[i].lead ||
		    fs_lane_pending(c->rd[i].lane, &c->rd[i].cur))
			return true;
	return false;
}

/* A history reference is next: open its history and take its first
 * records (the iterator's memory is not handed out in this batch: its
 * last one ended when a batch was staged); false when it has none. */
static bool start_hist(fs_capture *c, struct reader *r,
		       const struct fs_pkt_hdr *h)
{
	r->hist = open_history(c, (unsigned)(r - c->rd), h, c->sink.caplen);
	if (r->hist != NULL && next_hist(c, r))
		return true;
	end_hist(c, r);
	return false;
}

/* The next staged record the application wants, or NULL: history
 * first; records of the direction it does not want (pcap_setdirection)
 * are stepped over. */
static inline const struct fs_pkt_hdr *head(fs_capture *c, struct reader *r)
{
	for (;;) {
		const struct fs_pkt_hdr *h;

		if (r->hist != NULL) {
			/* its next batch waits for the next read */
			if (r->hrd >= r->hwr)
				return NULL;
			h = (const void *)(r->hrec + r->hrd);
			if ((h->flags & c->dir_mask) == c->dir_want)
				return h;
			r->hrd += FS_REC_SIZE(h->cap_len);
			continue;
		}
		if (r->rd >= r->wr)
			return NULL;
		h = (const void *)(r->buf + r->rd);
		if (__builtin_expect(h->flags & FS_REC_HIST, 0)) {
			start_hist(c, r, h);
			continue;
		}
		if ((h->flags & c->dir_mask) == c->dir_want)
			return h;
		r->rd += FS_REC_SIZE(h->cap_len);
	}
}

static int read_once(fs_capture *c, struct fs_packet *pkts, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->nlanes; i++)
		stage(c, i);
	if (c->nlanes == 1) {
		struct reader *r = &c->rd[0];
		const struct fs_pkt_hdr *h;

		while (n < max && (h = head(c, r)) != NULL)
			take(r, h, &pkts[n++]);
	} else {
		/* merge the lanes by timestamp */
		while (n < max) {
			struct reader *best = NULL;
			const struct fs_pkt_hdr *best_h = NULL;

			for (unsigned i = 0; i < c->nlanes; i++) {
				struct reader *r = &c->rd[i];
				const struct fs_pkt_hdr *h = head(c, r);

				if (h != NULL &&
				    (best_h == NULL || h->ts_ns < best_h->ts_ns)) {
					best_h = h;
					best = r;
				}
			}
			if (best == NULL)
				break;
			take(best, best_h, &pkts[n++]);
		}
	}
	atomic_fetch_add_explicit(&c->delivered, n, memory_order_relaxed);
	return (int)n;
}

/* A source that failed (damaged file, interface gone) fails the capture:
 * its reason becomes the capture's error, once. */
static bool source_failed(fs_capture *c)
{
	for (unsigned i = 0; i < c->nsources; i++)
		if (source_ended(&c->src[i]) && c->src[i].feeder_err[0] != '\0') {
			snprintf(c->err, sizeof(c->err), "%s",
				 c->src[i].feeder_err);
			c->src[i].feeder_err[0] = '\0';
			return true;
		}
	return false;
}

/* fs_capture_read without a reader: only how the sources are doing. */
static int read_none(fs_capture *c)
{
	uint64_t v;

	while (read(c->efd, &v, sizeof(v)) > 0)
		;
	if (source_failed(c))
		return -1;
	if (all_ended(c)) {
		c->eof = true;
		v = 1;
		(void)!write(c->efd, &v, sizeof(v));
		return FS_EOF;
	}
	return 0;
}

int fs_capture_read(fs_capture *c, struct fs_packet *pkts, unsigned max)
{
	uint64_t v;
	int n;

	if (__builtin_expect(forked(c), 0)) {
		snprintf(c->err, sizeof(c->err), "flowscope: this capture was "
			 "opened before fork(), and its receive threads stayed "
			 "with the parent process: open the device in the "
			 "process that reads it (after daemonizing)");
		return -1;
	}
	if (c->eof)
		return FS_EOF;
	if (!c->reader)
		return read_none(c);
	if (__builtin_expect(!c->reading, 0)) {
		/* no filter is coming any more */
		c->reading = true;
		for (unsigned i = 0; i < c->nsources; i++)
			if (c->src[i].spec.kind == FS_SRC_SPOOL)
				fs_spoolsrc_go(&c->src[i]);
	}
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
	/* a source that failed fails the capture once what it delivered
	 * was read */
	if (source_failed(c))
		return -1;
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

	if (forked(c))
		return 1;	/* the read says why */
	if (!c->reader) {
		/* readable when a receive queue ended (queue_ended) */
		if (c->eof)
			return 1;
		rc = poll(&pfd, 1, timeout_ms);
		if (rc < 0)
			return errno == EINTR ? 0 : -1;
		return rc > 0 ? 1 : 0;
	}
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
	/* woken: look again, even when nothing is delivered yet (records a
	 * receive thread published but left to this reader to analyze, a
	 * trigger): the timeout has not run out, so 0 would end a
	 * pcap_dispatch early with nothing */
	return rc > 0 || anything_waiting(c) || all_ended(c) ? 1 : 0;
}

int fs_capture_set_direction(fs_capture *c, enum fs_direction d,
			     char *errbuf, size_t errlen)
{
	static const char *const what[] = {
		[FS_SRC_DPDK] = "dpdkN", [FS_SRC_FILE] = "file=",
		[FS_SRC_SPOOL] = "spool=", [FS_SRC_GEN] = "gen",
		[FS_SRC_ATTACH] = "@NAME",
	};
	bool blind[FS_SRC_ATTACH + 1] = { false };
	char list[96] = "";
	unsigned nblind = 0, k = 0;

	if (d == FS_DIR_INOUT) {
		c->dir_mask = c->dir_want = 0;
		return 0;
	}
	/* only a packet socket tells what the interface sent, and a spool
	 * or a published ring keeps what it told */
	for (unsigned i = 0; i < c->nsources; i++)
		if (c->src[i].spec.kind != FS_SRC_IFACE &&
		    c->src[i].spec.kind != FS_SRC_SPOOL &&
		    c->src[i].spec.kind != FS_SRC_ATTACH &&
		    !blind[c->src[i].spec.kind]) {
			blind[c->src[i].spec.kind] = true;
			nblind++;
		}
	if (nblind > 0) {
		for (unsigned kind = 0; kind <= FS_SRC_ATTACH; kind++) {
			size_t n = strlen(list);

			if (!blind[kind])
				continue;
			k++;
			snprintf(list + n, sizeof(list) - n, "%s%s",
				 k == 1 ? "" : k == nblind ? " and " : ", ",
				 what[kind]);
		}
		snprintf(errbuf, errlen, "direction: %s sources cannot tell "
			 "in from out (only kernel interfaces can, and spools "
			 "of them)", list);
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
	if (forked(c)) {
		memset(s, 0, sizeof(*s));
		return;
	}
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
	/* attached: the packets that were ours since we attached (the
	 * lanes count the publisher's since it started) */
	if (c->attached != NULL)
		s->recv = atomic_load_explicit(&c->seen, memory_order_relaxed) +
			atomic_load_explicit(&c->lost, memory_order_relaxed);
	if (c->stopped)
		s->ifdrop = c->ifdrop_last;
	else
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
		s->cut_packets += atomic_load_explicit(&c->an[i].cut_packets,
						       memory_order_relaxed);
		s->cut_bytes += atomic_load_explicit(&c->an[i].cut_bytes,
						     memory_order_relaxed);
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
