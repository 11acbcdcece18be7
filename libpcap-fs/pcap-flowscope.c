/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The libpcap module of flowscope: maps the pcap API (activate, read,
 * stats, breakloop, non-blocking, selectable fd, close) onto a
 * libflowscope capture. All state lives in struct pcap_flowscope (p->priv).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pcap-int.h"
#include "pcap-flowscope.h"
#include "flowscope.h"

#define BATCH 256	/* packets taken from the engine at a time */

/*
 * The end of a capture whose sources end (file=, gen_packets). A live
 * handle has no way to say "end of file": pcap_loop() repeats read_op
 * while it returns 0, and a negative value is an error or a break to
 * every program (tcpdump prints a blank line, ngrep loops, arpwatch
 * exits 1). So at the end the handle turns into an exhausted savefile:
 * p->rfile is set to a dummy stream and next_packet_op says end of file.
 * Then pcap_loop() returns 0, pcap_next_ex() returns PCAP_ERROR_BREAK,
 * and pcap_dispatch() (through ended_read) PCAP_ERROR_BREAK, as for a
 * file read to its end; poll/select users (dumpcap, argus) find the
 * descriptor readable until that end has been reported, and quiet after
 * it (softflowd, scapy, p0f stop spinning). Every other op stays ours.
 */
enum end_state {
	LIVE = 0,
	ENDED,		/* switched; the end not yet reported to a caller */
	REPORTED,	/* a caller has seen the end: the descriptor is quiet */
};

struct pcap_flowscope {
	fs_capture *cap;
	struct fs_packet batch[BATCH];
	unsigned pos, n;	/* undelivered part of batch */
	enum end_state end;
	FILE *ended;		/* p->rfile once ended */
	int failed;		/* an error waits to be returned */
	uint64_t filtered;	/* rejected by the application's filter */
};

static char ended_byte;	/* what the dummy stream "holds" */

static void fill_header(const pcap_t *p, const struct fs_packet *pk,
			struct pcap_pkthdr *h)
{
	h->ts.tv_sec = (time_t)(pk->ts_ns / 1000000000u);
	if (p->opt.tstamp_precision == PCAP_TSTAMP_PRECISION_NANO)
		h->ts.tv_usec = (suseconds_t)(pk->ts_ns % 1000000000u);
	else
		h->ts.tv_usec = (suseconds_t)(pk->ts_ns % 1000000000u / 1000u);
	h->caplen = pk->caplen < (uint32_t)p->snapshot ? pk->caplen
						       : (uint32_t)p->snapshot;
	h->len = pk->wirelen;
}

/* The end has been seen by a caller: nothing will wake the descriptor
 * again, so drain what is left in it. */
static void report_end(pcap_t *p)
{
	struct pcap_flowscope *pf = p->priv;
	uint64_t v;

	pf->end = REPORTED;
	while (read(p->fd, &v, sizeof(v)) > 0)
		;
}

/* next_packet_op once ended: end of file (pcap_loop, pcap_next_ex). */
static int ended_next(pcap_t *p, struct pcap_pkthdr *h, u_char **data)
{
	(void)h;
	(void)data;
	report_end(p);
	return 0;
}

/* read_op once ended (pcap_dispatch, pcap_next): the end every time. */
static int ended_read(pcap_t *p, int cnt, pcap_handler cb, u_char *user)
{
	(void)cnt;
	(void)cb;
	(void)user;
	p->break_loop = 0;
	report_end(p);
	return PCAP_ERROR_BREAK;
}

/* Turn the handle into an exhausted savefile (see enum end_state). The
 * stream was made at activation, so this cannot fail. */
static void switch_to_ended(pcap_t *p)
{
	struct pcap_flowscope *pf = p->priv;

	pf->end = ENDED;
	p->rfile = pf->ended;
	p->next_packet_op = ended_next;
	p->read_op = ended_read;
	/* darkstat prints it; argus must not see "recvfrom" first */
	snprintf(p->errbuf, PCAP_ERRBUF_SIZE, "flowscope: the capture ended: "
		 "every source was read and delivered");
}

/*
 * What the call that found the end returns when it delivered nothing:
 * pcap_next()/pcap_next_ex() get the end at once; for pcap_loop() a
 * positive count without a callback makes its next round take the file
 * path, which returns 0 (pcap_dispatch() callers see one empty round,
 * then the end).
 */
static int end_with_nothing(pcap_t *p, pcap_handler cb)
{
	if (cb == p->oneshot_callback) {
		report_end(p);
		return PCAP_ERROR_BREAK;
	}
	return 1;
}

static int take_error(pcap_t *p)
{
	struct pcap_flowscope *pf = p->priv;

	pf->failed = 0;
	snprintf(p->errbuf, PCAP_ERRBUF_SIZE, "%s",
		 fs_capture_error(pf->cap));
	return PCAP_ERROR;
}

/*
 * Once cnt packets went out and the batch is used up, look once more
 * without waiting: if the capture has ended, say so with this batch
 * (callers of pcap_dispatch(1) then end without an empty round).
 */
static void peek_end(pcap_t *p)
{
	struct pcap_flowscope *pf = p->priv;
	int n;

	if (pf->pos < pf->n)
		return;
	n = fs_capture_read(pf->cap, pf->batch, BATCH);
	if (n == FS_EOF) {
		switch_to_ended(p);
	} else if (n < 0) {
		pf->failed = 1;
	} else {
		pf->pos = 0;
		pf->n = (unsigned)n;
	}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Milliseconds left of a timeout of to_ms whose deadline (0: not set
 * yet) the first wait sets; 0 once it ran out. */
static int left_ms(uint64_t *deadline, int to_ms)
{
	uint64_t now = mono_ms();

	if (*deadline == 0) {
		*deadline = now + (uint64_t)to_ms;
		return to_ms;
	}
	return now < *deadline ? (int)(*deadline - now) : 0;
}

/*
 * read_op: deliver up to cnt packets (all waiting ones if cnt <= 0).
 * Blocks up to the timeout unless non-blocking; returns the number of
 * packets processed, 0 when none came, PCAP_ERROR_BREAK after
 * pcap_breakloop(), PCAP_ERROR on errors. At the end of the capture it
 * switches the handle to its ended state (see enum end_state).
 */
static int pcap_flowscope_read(pcap_t *p, int cnt, pcap_handler cb,
			       u_char *user)
{
	struct pcap_flowscope *pf = p->priv;
	int done = 0;
	/* "all the packets of one buffer", as libpcap's own modules read
	 * it: one batch (that delivered something), so that an event loop
	 * around pcap_dispatch() gets control back however fast packets
	 * come */
	int one_batch = PACKET_COUNT_IS_UNLIMITED(cnt);
	uint64_t deadline = 0;	/* of the timeout, once waited for */
	int swept = 0;		/* a batch was taken */

	if (one_batch)
		cnt = INT_MAX;
	for (;;) {
		if (p->break_loop) {
			p->break_loop = 0;
			return PCAP_ERROR_BREAK;
		}
		if (pf->pos == pf->n) {
			int n;

			/* a batch went by that the filter rejected whole: a
			 * non-blocking read returns, a blocking one once its
			 * timeout ran out, as libpcap's own modules return
			 * after a buffer of such packets */
			if (swept && done == 0 &&
			    (p->opt.nonblock || (p->opt.timeout > 0 &&
			     left_ms(&deadline, p->opt.timeout) == 0)))
				return 0;
			if (pf->failed)
				return done ? done : take_error(p);
			n = fs_capture_read(pf->cap, pf->batch, BATCH);
			if (n == FS_EOF) {
				switch_to_ended(p);
				return done ? done : end_with_nothing(p, cb);
			}
			if (n < 0) {
				pf->failed = 1;
				return done ? done : take_error(p);
			}
			pf->pos = 0;
			pf->n = (unsigned)n;
			if (n == 0) {
				int w, ms = -1;

				if (done || p->opt.nonblock)
					return done;
				/* a wake that delivered nothing (the reader
				 * was woken to help analyze, say) waits only
				 * for what is left of the timeout */
				if (p->opt.timeout > 0 &&
				    (ms = left_ms(&deadline, p->opt.timeout)) == 0)
					return 0;
				w = fs_capture_wait(pf->cap, ms);
				if (w < 0) {
					pcap_fmt_errmsg_for_errno(p->errbuf,
					    PCAP_ERRBUF_SIZE, errno,
					    "flowscope: waiting for packets");
					return PCAP_ERROR;
				}
				if (w == 0 && !p->break_loop)
					return 0;	/* timeout expired */
				continue;
			}
			swept = 1;
		}
		while (pf->pos < pf->n && done < cnt) {
			const struct fs_packet *pk = &pf->batch[pf->pos++];
			struct pcap_pkthdr h;

			if (p->fcode.bf_insns != NULL &&
			    pcap_filter(p->fcode.bf_insns, pk->data,
					pk->wirelen, pk->caplen) == 0) {
				pf->filtered++;
				continue;
			}
			fill_header(p, pk, &h);
			cb(user, &h, pk->data);
			done++;
			/* leave break_loop set: the next call (pcap_loop
			 * makes one) returns PCAP_ERROR_BREAK */
			if (p->break_loop)
				return done;
		}
		if (done >= cnt || (one_batch && done > 0)) {
			/* pf->batch may be refilled now: the application
			 * is done with the packets it was handed */
			if (cb != p->oneshot_callback)
				peek_end(p);
			return done;
		}
	}
}

static int pcap_flowscope_stats(pcap_t *p, struct pcap_stat *ps)
{
	struct pcap_flowscope *pf = p->priv;
	struct fs_stats s;

	fs_capture_stats(pf->cap, &s);
	ps->ps_recv = (u_int)s.recv;
	ps->ps_drop = (u_int)s.drop;
	ps->ps_ifdrop = (u_int)s.ifdrop;
	return 0;
}

static void pcap_flowscope_breakloop(pcap_t *p)
{
	struct pcap_flowscope *pf = p->priv;

	pcap_breakloop_common(p);
	/* once the end was reported the descriptor stays quiet */
	if (pf->cap != NULL && pf->end != REPORTED)
		fs_capture_wake(pf->cap);
}

/* setdirection_op: inout always; in and out when every source can tell
 * (kernel interfaces), else an error that says which cannot. */
/* The filter runs here, as for any savefile or socket; the engine only
 * learns it, so that a spool= source can leave out what cannot pass. */
static int pcap_flowscope_setfilter(pcap_t *p, struct bpf_program *fp)
{
	struct pcap_flowscope *pf = p->priv;

	if (install_bpf_program(p, fp) < 0)
		return -1;
	if (pf->cap != NULL)
		fs_capture_set_filter(pf->cap, fp->bf_insns, fp->bf_len);
	return 0;
}

static int pcap_flowscope_setdirection(pcap_t *p, pcap_direction_t d)
{
	struct pcap_flowscope *pf = p->priv;
	enum fs_direction fd = d == PCAP_D_IN ? FS_DIR_IN :
			       d == PCAP_D_OUT ? FS_DIR_OUT : FS_DIR_INOUT;

	if (fs_capture_set_direction(pf->cap, fd, p->errbuf,
				     PCAP_ERRBUF_SIZE) < 0)
		return PCAP_ERROR;
	p->direction = d;
	return 0;
}

static int pcap_flowscope_getnonblock(pcap_t *p)
{
	return p->opt.nonblock;
}

static int pcap_flowscope_setnonblock(pcap_t *p, int nonblock)
{
	p->opt.nonblock = nonblock ? 1 : 0;
	return 0;
}

static int pcap_flowscope_inject(pcap_t *p, const void *buf _U_,
				 int size _U_)
{
	snprintf(p->errbuf, PCAP_ERRBUF_SIZE,
		 "flowscope devices are capture-only; sending is not supported");
	return PCAP_ERROR;
}

static void pcap_flowscope_cleanup(pcap_t *p)
{
	struct pcap_flowscope *pf = p->priv;

	fs_capture_close(pf->cap);
	pf->cap = NULL;
	if (pf->ended != NULL)
		fclose(pf->ended);
	pf->ended = NULL;
	p->rfile = NULL;
	pcap_remove_from_pcaps_to_close(p);
	/* the descriptor belonged to the capture and is closed with it */
	p->fd = -1;
	p->selectable_fd = -1;
	pcap_cleanup_live_common(p);
}

/* pcap's time stamp type (pcap_set_tstamp_type; -1: not set) as the
 * engine's. Only types of p->tstamp_type_list get this far. */
static enum fs_tstamp engine_tstamp(int type)
{
	switch (type) {
	case PCAP_TSTAMP_HOST:
		return FS_TSTAMP_HOST;
	case PCAP_TSTAMP_ADAPTER:
		return FS_TSTAMP_ADAPTER;
	case PCAP_TSTAMP_ADAPTER_UNSYNCED:
		return FS_TSTAMP_ADAPTER_UNSYNCED;
	default:
		return FS_TSTAMP_DEFAULT;
	}
}

/*
 * The time stamp types of the device (pcap_list_tstamp_types, tcpdump
 * -J), in libpcap's order. A device with host stamps only keeps an empty
 * list, as stock libpcap does for such an interface: pcap.c then offers
 * PCAP_TSTAMP_HOST alone, and pcap_set_tstamp_type() answers every other
 * type with PCAP_WARNING_TSTAMP_TYPE_NOTSUP. Returns 0 or -1 with ebuf.
 */
static int list_tstamp_types(pcap_t *p, const char *device, char *ebuf)
{
	static const struct {
		enum fs_tstamp fs;
		u_int pcap;
	} map[] = {
		{ FS_TSTAMP_HOST, PCAP_TSTAMP_HOST },
		{ FS_TSTAMP_ADAPTER, PCAP_TSTAMP_ADAPTER },
		{ FS_TSTAMP_ADAPTER_UNSYNCED, PCAP_TSTAMP_ADAPTER_UNSYNCED },
	};
	unsigned types = fs_device_tstamp_types(device);
	int n = 0;

	if (types == FS_TSTAMP_BIT(FS_TSTAMP_HOST))
		return 0;
	p->tstamp_type_list = malloc(sizeof(map) / sizeof(map[0]) *
				     sizeof(u_int));
	if (p->tstamp_type_list == NULL) {
		pcap_fmt_errmsg_for_errno(ebuf, PCAP_ERRBUF_SIZE, errno,
					  "malloc");
		return -1;
	}
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (types & FS_TSTAMP_BIT(map[i].fs))
			p->tstamp_type_list[n++] = map[i].pcap;
	p->tstamp_type_count = n;
	return 0;
}

static int pcap_flowscope_activate(pcap_t *p)
{
	struct pcap_flowscope *pf = p->priv;
	struct fs_open_params params;
	int status = 0;

	if (p->snapshot <= 0 || p->snapshot > MAXIMUM_SNAPLEN)
		p->snapshot = MAXIMUM_SNAPLEN;
	params.snaplen = p->snapshot;
	params.promisc = p->opt.promisc;
	params.immediate = p->opt.immediate;
	params.timeout_ms = p->opt.timeout;
	params.buffer_size = p->opt.buffer_size;
	params.flags = 0;
	params.tstamp = engine_tstamp(p->opt.tstamp_type);
	/* made now so that reaching the end cannot fail */
	pf->ended = fmemopen(&ended_byte, 1, "r");
	if (pf->ended == NULL) {
		pcap_fmt_errmsg_for_errno(p->errbuf, PCAP_ERRBUF_SIZE, errno,
					  "flowscope: fmemopen");
		return PCAP_ERROR;
	}
	pf->cap = fs_capture_open(p->opt.device, &params, p->errbuf,
				  PCAP_ERRBUF_SIZE);
	if (pf->cap == NULL) {
		fclose(pf->ended);
		pf->ended = NULL;
		return PCAP_ERROR;
	}

	/* as stock libpcap when an adapter cannot stamp every packet: a
	 * warning, and the host's stamps */
	if (fs_capture_tstamp_fell_back(pf->cap))
		status = PCAP_WARNING_TSTAMP_TYPE_NOTSUP;
	p->linktype = DLT_EN10MB;
	p->fd = fs_capture_fd(pf->cap);
	p->selectable_fd = p->fd;
	p->read_op = pcap_flowscope_read;
	p->inject_op = pcap_flowscope_inject;
	p->setfilter_op = pcap_flowscope_setfilter;
	p->setdirection_op = pcap_flowscope_setdirection;
	p->set_datalink_op = NULL;
	p->getnonblock_op = pcap_flowscope_getnonblock;
	p->setnonblock_op = pcap_flowscope_setnonblock;
	p->stats_op = pcap_flowscope_stats;
	p->breakloop_op = pcap_flowscope_breakloop;
	p->cleanup_op = pcap_flowscope_cleanup;

	/* stop the threads even if the application exits without closing */
	if (!pcap_do_addexit(p)) {
		pcap_flowscope_cleanup(p);
		return PCAP_ERROR;
	}
	pcap_add_to_pcaps_to_close(p);
	return status;
}

pcap_t *pcap_flowscope_create(const char *device, char *ebuf, int *is_ours)
{
	pcap_t *p;

	*is_ours = fs_device_is_ours(device);
	if (!*is_ours)
		return NULL;
	p = PCAP_CREATE_COMMON(ebuf, struct pcap_flowscope);
	if (p == NULL)
		return NULL;
	p->activate_op = pcap_flowscope_activate;
	p->tstamp_precision_list = malloc(2 * sizeof(u_int));
	if (p->tstamp_precision_list == NULL) {
		pcap_fmt_errmsg_for_errno(ebuf, PCAP_ERRBUF_SIZE, errno,
					  "malloc");
		pcap_close(p);
		return NULL;
	}
	p->tstamp_precision_list[0] = PCAP_TSTAMP_PRECISION_MICRO;
	p->tstamp_precision_list[1] = PCAP_TSTAMP_PRECISION_NANO;
	p->tstamp_precision_count = 2;
	if (list_tstamp_types(p, device, ebuf) < 0) {
		pcap_close(p);
		return NULL;
	}
	return p;
}

/*
 * pcap.c keeps its device list in this one-member struct, private to it;
 * build.sh checks that the libpcap being built still declares it so.
 * Our devices go at the end of the list instead of through add_dev(),
 * which sorts by interface state: the stock devices keep their numbers
 * in `tcpdump -D` and scripts' `tcpdump -i N` still open the same one.
 */
struct pcap_if_list {
	pcap_if_t *beginning;
};

static int add_one(void *arg, const char *name, const char *desc,
		   unsigned flags)
{
	void **a = arg;
	pcap_if_list_t *list = a[0];
	pcap_if_t **tail = &list->beginning, *dev;

	while (*tail != NULL)
		tail = &(*tail)->next;
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL || (dev->name = strdup(name)) == NULL ||
	    (dev->description = strdup(desc)) == NULL) {
		if (dev != NULL)
			free(dev->name);
		free(dev);
		pcap_fmt_errmsg_for_errno(a[1], PCAP_ERRBUF_SIZE, errno,
					  "malloc");
		return -1;
	}
	/* what pcap_freealldevs() frees: name, description, the struct */
	dev->flags = flags;
	*tail = dev;
	return 0;
}

int pcap_flowscope_findalldevs(pcap_if_list_t *devlistp, char *ebuf)
{
	void *a[2] = { devlistp, ebuf };

	return fs_list_devices(add_one, a, ebuf, PCAP_ERRBUF_SIZE) == 0 ? 0
								   : -1;
}

int pcap_flowscope_is_ours(const char *device)
{
	return fs_device_is_ours(device);
}
