/* SPDX-License-Identifier: BSD-3-Clause */
/* Triggers across capture hosts over NATS (bus.h). */
#define _GNU_SOURCE
#include "bus.h"
#include "thread.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#define QUEUE 512		/* triggers waiting to be published */
#define WAIT_MS 100		/* the bus thread's longest sleep */
#define START_MS 5000		/* for the client to take the options */
#define REJOIN_MS 2000		/* a connection the client gave up: anew */
/* What a bus user may make a capture do each second, beyond triggers of
 * one flow (a lookup each): a filter trigger walks the whole flow table
 * on the capture's analyzer, and a list or stats request composes an
 * answer. More than this waits for no one: it is counted in
 * bus_limited, a filter trigger answered "busy", a request not at all. */
#define FILTER_RATE 10		/* filter triggers per second (and burst) */
#define CTL_RATE 20		/* list and stats answers per second */

struct out {
	bool has_key;
	struct fs_flow_key key;
	uint64_t ts;
	char filter[FS_BUS_FILTER_MAX + 1];
};

/* A token bucket: rate tokens a second, at most rate held. Each is used
 * by one subscription's delivery thread only. */
struct bucket {
	uint64_t last_ns;
	double tokens;
};

struct fs_bus {
	char *url, *creds, *ca;
	/* bus_creds' user JWT and NKey seed, read at the start */
	char *jwt, *seed;
	char subject[FS_BUS_SUBJECT_MAX + 1];
	char ctl_subject[FS_BUS_SUBJECT_MAX + 8];
	char host[65], capture[129];
	uint64_t instance;
	uint64_t started_ns, joined_ns;
	struct fs_bus_ops ops;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct out q[QUEUE];
	unsigned qhead, qlen;
	bool stop;
	/* the bus thread's answer to fs_bus_start: 1 ready, -1 failed */
	int ready;
	char err[256];
	natsOptions *opts;
	natsConnection *nc;
	natsSubscription *sub, *ctl;
	_Atomic uint64_t sent, unsent, received, flows, errors, limited;
	struct bucket filters, ctls;
	/* callbacks running, and whether new ones may still act: a
	 * subscription's delivery thread may outlive its destruction, so
	 * one of a connection rejoin() replaced must not act either */
	_Atomic int inflight;
	_Atomic bool closing;
	_Atomic(natsConnection *) live;
	_Atomic uint64_t refused[FS_BUS_WRONG_SUBJECT + 1];
};

/* The NATS library is opened by the first bus of the process and closed
 * by the last. */
static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned lib_users;

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The text that follows the line holding begin in a credentials file (a
 * JWT, a seed: one word), or NULL.
 */
static char *creds_block(const char *text, const char *begin)
{
	const char *p = strstr(text, begin);
	size_t n;

	if (p == NULL || (p = strchr(p, '\n')) == NULL)
		return NULL;
	p += strspn(p, " \t\r\n");
	n = strcspn(p, " \t\r\n");
	return n > 0 && n < 16384 && p[0] != '-' ? strndup(p, n) : NULL;
}

/*
 * Read bus_creds (a user JWT and its NKey seed, as nsc writes them) once,
 * now: the client asks for them at every connect and reconnect, long
 * after the application may have given up the privileges the file
 * needs. 0, or -1 with err (which never quotes the file).
 */
static int read_creds(fs_bus *b, char *err, size_t errlen)
{
	char buf[16384 + 1];
	size_t n;
	FILE *f = fopen(b->creds, "re");

	if (f == NULL) {
		snprintf(err, errlen, "bus_creds: %s: %s", b->creds,
			 strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n == sizeof(buf) - 1)
		snprintf(err, errlen, "bus_creds: %s: larger than a "
			 "credentials file", b->creds);
	else if ((b->jwt = creds_block(buf, "BEGIN NATS USER JWT")) == NULL)
		snprintf(err, errlen, "bus_creds: %s: no user JWT (a block "
			 "-----BEGIN NATS USER JWT-----)", b->creds);
	else if ((b->seed = creds_block(buf, "BEGIN USER NKEY SEED")) == NULL)
		snprintf(err, errlen, "bus_creds: %s: no NKey seed (a block "
			 "-----BEGIN USER NKEY SEED-----)", b->creds);
	explicit_bzero(buf, sizeof(buf));
	return b->jwt != NULL && b->seed != NULL ? 0 : -1;
}

static natsStatus on_jwt(char **jwt, char **errtxt, void *closure)
{
	const fs_bus *b = closure;

	(void)errtxt;
	*jwt = strdup(b->jwt);
	return *jwt != NULL ? NATS_OK : NATS_NO_MEMORY;
}

static natsStatus on_sign(char **errtxt, unsigned char **sig, int *len,
			  const char *nonce, void *closure)
{
	const fs_bus *b = closure;

	(void)errtxt;
	return nats_Sign(b->seed, nonce, sig, len);
}

static void refuse(fs_bus *b, enum fs_bus_refusal why)
{
	if (why > FS_BUS_OK && why <= FS_BUS_WRONG_SUBJECT)
		atomic_fetch_add_explicit(&b->refused[why], 1,
					  memory_order_relaxed);
}

/* A callback of connection nc begins: false when the bus is closing or
 * nc is no longer its connection (then it must not touch the capture).
 * Paired with leave(). */
static bool enter(fs_bus *b, natsConnection *nc)
{
	atomic_fetch_add(&b->inflight, 1);
	if (atomic_load(&b->closing) || atomic_load(&b->live) != nc) {
		atomic_fetch_sub(&b->inflight, 1);
		return false;
	}
	return true;
}

static void leave(fs_bus *b)
{
	atomic_fetch_sub(&b->inflight, 1);
}

/* Whether one more request fits rate a second; a refusal is counted. */
static bool take(fs_bus *b, struct bucket *k, unsigned rate)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);

	k->tokens += (double)(now - k->last_ns) * rate / 1e9;
	if (k->tokens > rate)
		k->tokens = rate;
	k->last_ns = now;
	if (k->tokens < 1.0) {
		atomic_fetch_add_explicit(&b->limited, 1, memory_order_relaxed);
		return false;
	}
	k->tokens -= 1.0;
	return true;
}

/* Answer msg on nc, the connection it came on (its subscription keeps
 * it alive). */
static void reply(natsConnection *nc, natsMsg *msg, const char *text,
		  size_t len)
{
	const char *to = natsMsg_GetReply(msg);

	if (to != NULL && to[0] != '\0')
		(void)natsConnection_Publish(nc, to, text, (int)len);
}

/* A trigger from another capture, or from flowscope-ctl --bus (which
 * waits for the answer). Runs in the subscription's delivery thread. */
static void on_trigger(natsConnection *nc, natsSubscription *sub,
		       natsMsg *msg, void *closure)
{
	fs_bus *b = closure;
	struct fs_bus_msg m;
	enum fs_bus_refusal why;
	char text[512], err[256] = "";
	long n;
	int len;

	(void)sub;
	if (!enter(b, nc)) {
		natsMsg_Destroy(msg);
		return;
	}
	why = fs_bus_decode(natsMsg_GetData(msg),
			    (size_t)natsMsg_GetDataLength(msg), &m);
	if (why != FS_BUS_OK) {
		refuse(b, why);
		len = snprintf(text, sizeof(text), "error %s %s: refused: %s\n",
			       b->host, b->capture, fs_bus_refusal_name(why));
		reply(nc, msg, text, (size_t)len);
		natsMsg_Destroy(msg);
		leave(b);
		return;
	}
	if (m.instance == b->instance) {	/* our own */
		natsMsg_Destroy(msg);
		leave(b);
		return;
	}
	if (!m.has_key && !take(b, &b->filters, FILTER_RATE)) {
		len = snprintf(text, sizeof(text), "error %s %s: busy: more "
			       "than %d filter triggers a second\n", b->host,
			       b->capture, FILTER_RATE);
		reply(nc, msg, text, (size_t)len);
		natsMsg_Destroy(msg);
		leave(b);
		return;
	}
	n = b->ops.trigger(b->ops.arg, &m, err, sizeof(err));
	atomic_fetch_add_explicit(&b->received, 1, memory_order_relaxed);
	if (n > 0)
		atomic_fetch_add_explicit(&b->flows, (uint64_t)n,
					  memory_order_relaxed);
	if (n < 0)
		len = snprintf(text, sizeof(text), "error %s %s: %s\n",
			       b->host, b->capture, err);
	else
		len = snprintf(text, sizeof(text), "triggered %ld %s %s\n", n,
			       b->host, b->capture);
	reply(nc, msg, text, (size_t)len < sizeof(text) ? (size_t)len :
	      sizeof(text) - 1);
	natsMsg_Destroy(msg);
	leave(b);
}

/* list and stats of flowscope-ctl --bus. */
static void on_ctl(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
		   void *closure)
{
	fs_bus *b = closure;
	enum fs_bus_refusal why = FS_BUS_OK;
	int req = fs_bus_request(natsMsg_GetData(msg),
				 (size_t)natsMsg_GetDataLength(msg), &why);
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	(void)sub;
	if (!enter(b, nc)) {
		natsMsg_Destroy(msg);
		return;
	}
	/* a refused or unanswered request gets no answer: the asker waits
	 * for answers, not for each capture */
	if (req == 0 || !take(b, &b->ctls, CTL_RATE)) {
		if (req == 0)
			refuse(b, why);
		natsMsg_Destroy(msg);
		leave(b);
		return;
	}
	out = open_memstream(&buf, &len);
	if (out != NULL) {
		uint64_t up = (now_ns(CLOCK_MONOTONIC) - b->started_ns) /
			      1000000000u;

		fprintf(out, "%s %s pid %ld mode %s uptime %" PRIu64 "s\n",
			b->host, b->capture, (long)getpid(),
			b->ops.mode(b->ops.arg), up);
		if (req == FS_BUS_REQ_STATS)
			b->ops.stats(b->ops.arg, out);
		if (fclose(out) == 0)
			reply(nc, msg, buf, len);
		free(buf);
	}
	natsMsg_Destroy(msg);
	leave(b);
}

static void on_error(natsConnection *nc, natsSubscription *sub,
		     natsStatus err, void *closure)
{
	fs_bus *b = closure;

	(void)nc;
	(void)sub;
	(void)err;
	atomic_fetch_add_explicit(&b->errors, 1, memory_order_relaxed);
}

/* With it, a connect that fails at once goes on in the background
 * (without, natsConnection_Connect would retry right there, forever). */
static void on_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
}

static bool connected(fs_bus *b)
{
	return b->nc != NULL &&
	       natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED;
}

static void publish(fs_bus *b, const struct out *o)
{
	struct fs_bus_msg m;
	char buf[FS_BUS_MSG_MAX];
	size_t n;

	memset(&m, 0, sizeof(m));
	snprintf(m.host, sizeof(m.host), "%s", b->host);
	snprintf(m.capture, sizeof(m.capture), "%s", b->capture);
	m.instance = b->instance;
	m.time_ns = o->ts;
	m.has_key = o->has_key;
	m.key = o->key;
	snprintf(m.filter, sizeof(m.filter), "%s", o->filter);
	n = fs_bus_encode(&m, buf, sizeof(buf));
	/* while disconnected nothing is kept for later: a trigger is news
	 * only now */
	if (n == 0 || !connected(b) ||
	    natsConnection_Publish(b->nc, b->subject, buf, (int)n) != NATS_OK) {
		atomic_fetch_add_explicit(&b->unsent, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&b->sent, 1, memory_order_relaxed);
}

/*
 * Connect with b->opts and subscribe; 0, or -1 with b->err. A connection
 * the server refused at once (its credentials) is no error: rejoin()
 * tries again later, as for a server that is down.
 */
static int join(fs_bus *b)
{
	natsConnection *nc = NULL;
	natsStatus s;

	b->joined_ns = now_ns(CLOCK_MONOTONIC);
	s = natsConnection_Connect(&nc, b->opts);
	/* under the lock, for fs_bus_get_stats */
	pthread_mutex_lock(&b->lock);
	b->nc = nc;
	pthread_mutex_unlock(&b->lock);
	/* its callbacks may act from now on */
	atomic_store(&b->live, nc);
	if (s == NATS_CONNECTION_AUTH_FAILED)
		return 0;
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		snprintf(b->err, sizeof(b->err), "bus: %s: %s", b->url,
			 natsStatus_GetText(s));
		return -1;
	}
	s = natsConnection_Subscribe(&b->sub, b->nc, b->subject, on_trigger, b);
	if (s == NATS_OK)
		s = natsConnection_Subscribe(&b->ctl, b->nc, b->ctl_subject,
					     on_ctl, b);
	if (s != NATS_OK && natsConnection_IsClosed(b->nc))
		return 0;
	if (s != NATS_OK) {
		snprintf(b->err, sizeof(b->err), "bus: cannot subscribe to "
			 "%s: %s", b->subject, natsStatus_GetText(s));
		return -1;
	}
	return 0;
}

/* Set the client up; 0, or -1 with b->err. */
static int setup(fs_bus *b)
{
	natsStatus s;
	bool tls = strncmp(b->url, "tls://", 6) == 0 || b->ca != NULL;
	char name[256];

	s = natsOptions_Create(&b->opts);
	snprintf(name, sizeof(name), "flowscope %.64s %.128s", b->host,
		 b->capture);
	if (s == NATS_OK)
		s = natsOptions_SetURL(b->opts, b->url);
	if (s == NATS_OK)
		s = natsOptions_SetName(b->opts, name);
	/* a server down at the start is retried, and any time later, for
	 * as long as the capture runs */
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(b->opts, true,
							on_connected, b);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(b->opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(b->opts, 250);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(b->opts, 2000);
	/* a server that went away is noticed within seconds */
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(b->opts, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(b->opts, 2);
	if (s == NATS_OK)
		s = natsOptions_SetNoEcho(b->opts, true);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(b->opts, on_error, b);
	if (s == NATS_OK && b->seed != NULL) {
		unsigned char *sig = NULL;
		int len;

		/* a seed that cannot sign is an error now, not at every
		 * connect */
		if (nats_Sign(b->seed, "flowscope", &sig, &len) != NATS_OK) {
			snprintf(b->err, sizeof(b->err), "bus_creds: %s: the "
				 "NKey seed is not valid", b->creds);
			return -1;
		}
		free(sig);
		s = natsOptions_SetUserCredentialsCallbacks(b->opts, on_jwt, b,
							    on_sign, b);
	}
	if (s == NATS_OK && b->ca != NULL)
		s = natsOptions_LoadCATrustedCertificates(b->opts, b->ca);
	if (s == NATS_OK && tls)
		s = natsOptions_SetSecure(b->opts, true);
	if (s != NATS_OK) {
		snprintf(b->err, sizeof(b->err), "bus: %s: %s", b->url,
			 natsStatus_GetText(s));
		return -1;
	}
	return join(b);
}

/* No more deliveries, then the connection goes (under the lock, for
 * fs_bus_get_stats). closing stays set: see rejoin(). */
static void part(fs_bus *b)
{
	struct timespec ms = { 0, 1000000 };
	natsConnection *nc;

	/* no callback acts from now on, and none is left acting */
	atomic_store(&b->closing, true);
	atomic_store(&b->live, NULL);
	while (atomic_load(&b->inflight) > 0)
		nanosleep(&ms, NULL);
	if (b->sub != NULL)
		(void)natsSubscription_Unsubscribe(b->sub);
	if (b->ctl != NULL)
		(void)natsSubscription_Unsubscribe(b->ctl);
	if (b->nc != NULL)
		natsConnection_Close(b->nc);
	if (b->sub != NULL)
		natsSubscription_Destroy(b->sub);
	if (b->ctl != NULL)
		natsSubscription_Destroy(b->ctl);
	pthread_mutex_lock(&b->lock);
	nc = b->nc;
	b->nc = NULL;
	pthread_mutex_unlock(&b->lock);
	if (nc != NULL)
		natsConnection_Destroy(nc);
	b->sub = b->ctl = NULL;
}

static void teardown(fs_bus *b)
{
	part(b);
	if (b->opts != NULL)
		natsOptions_Destroy(b->opts);
	b->opts = NULL;
}

/*
 * The client gives a connection up for good when the server refuses its
 * credentials (and in a few other cases a server's operator can mend):
 * then, every REJOIN_MS, a new one. The client's own reconnects cover
 * everything else.
 */
static void rejoin(fs_bus *b)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);

	if (b->nc != NULL && !natsConnection_IsClosed(b->nc))
		return;
	if (now - b->joined_ns < REJOIN_MS * 1000000ull)
		return;
	part(b);
	atomic_store(&b->closing, false);
	if (join(b) < 0) {
		/* closed, so that the next round makes it anew */
		atomic_fetch_add_explicit(&b->errors, 1, memory_order_relaxed);
		if (b->nc != NULL)
			natsConnection_Close(b->nc);
	}
}

static void *bus_thread(void *arg)
{
	fs_bus *b = arg;
	struct out *batch = malloc(sizeof(struct out) * 16);
	int rc;

	pthread_setname_np(pthread_self(), "fs-bus");
	pthread_mutex_lock(&lib_lock);
	if (lib_users++ == 0)
		(void)nats_Open(-1);
	pthread_mutex_unlock(&lib_lock);
	rc = batch == NULL ? -1 : setup(b);
	if (batch == NULL)
		snprintf(b->err, sizeof(b->err), "bus: out of memory");
	pthread_mutex_lock(&b->lock);
	b->ready = rc == 0 ? 1 : -1;
	pthread_cond_broadcast(&b->cond);
	while (rc == 0 && !b->stop) {
		unsigned n = 0;

		if (b->qlen == 0) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += WAIT_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&b->cond, &b->lock, &ts);
		}
		while (b->qlen > 0 && n < 16) {
			batch[n++] = b->q[b->qhead];
			b->qhead = (b->qhead + 1) % QUEUE;
			b->qlen--;
		}
		pthread_mutex_unlock(&b->lock);
		for (unsigned i = 0; i < n; i++)
			publish(b, &batch[i]);
		rejoin(b);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	teardown(b);
	free(batch);
	pthread_mutex_lock(&lib_lock);
	if (--lib_users == 0)
		nats_CloseAndWait(2000);
	pthread_mutex_unlock(&lib_lock);
	return NULL;
}

static void bus_free(fs_bus *b)
{
	free(b->url);
	free(b->creds);
	free(b->ca);
	free(b->jwt);
	if (b->seed != NULL)
		explicit_bzero(b->seed, strlen(b->seed));
	free(b->seed);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b);
}

fs_bus *fs_bus_start(const struct fs_config *cfg, const char *capture,
		     const struct fs_bus_ops *ops, char *err, size_t errlen)
{
	fs_bus *b = calloc(1, sizeof(*b));
	pthread_condattr_t ca;
	struct timespec ts;
	char host[256];
	int rc;

	if (b == NULL) {
		snprintf(err, errlen, "bus: out of memory");
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	b->ops = *ops;
	b->url = strdup(cfg->bus);
	b->creds = cfg->bus_creds ? strdup(cfg->bus_creds) : NULL;
	b->ca = cfg->bus_ca ? strdup(cfg->bus_ca) : NULL;
	if (b->url == NULL || (cfg->bus_creds && b->creds == NULL) ||
	    (cfg->bus_ca && b->ca == NULL)) {
		snprintf(err, errlen, "bus: out of memory");
		bus_free(b);
		return NULL;
	}
	if (b->creds != NULL && read_creds(b, err, errlen) < 0) {
		bus_free(b);
		return NULL;
	}
	snprintf(b->subject, sizeof(b->subject), "%s",
		 cfg->bus_subject ? cfg->bus_subject : FS_BUS_SUBJECT_DEFAULT);
	snprintf(b->ctl_subject, sizeof(b->ctl_subject), "%s.ctl", b->subject);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "-");
	host[sizeof(host) - 1] = '\0';
	fs_bus_word(b->host, sizeof(b->host), host);
	fs_bus_word(b->capture, sizeof(b->capture), capture);
	if (getrandom(&b->instance, sizeof(b->instance), 0) !=
	    sizeof(b->instance))
		b->instance = now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
	b->started_ns = now_ns(CLOCK_MONOTONIC);
	b->filters = (struct bucket){ b->started_ns, FILTER_RATE };
	b->ctls = (struct bucket){ b->started_ns, CTL_RATE };
	/* the client's threads take the bus thread's mask: every signal
	 * is the application's */
	rc = fs_thread_start(&b->thread, bus_thread, b);
	if (rc != 0) {
		snprintf(err, errlen, "bus: cannot start a thread: %s",
			 strerror(rc));
		bus_free(b);
		return NULL;
	}
	b->running = true;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += START_MS / 1000;
	pthread_mutex_lock(&b->lock);
	while (b->ready == 0 &&
	       pthread_cond_timedwait(&b->cond, &b->lock, &ts) != ETIMEDOUT)
		;
	rc = b->ready;
	pthread_mutex_unlock(&b->lock);
	if (rc != 1) {
		snprintf(err, errlen, "%s", rc == 0 ? "bus: the NATS client "
			 "did not start" : b->err);
		fs_bus_stop(b);
		bus_free(b);
		return NULL;
	}
	return b;
}

void fs_bus_stop(fs_bus *b)
{
	if (b == NULL || !b->running)
		return;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	b->running = false;
}

void fs_bus_free(fs_bus *b)
{
	if (b == NULL)
		return;
	fs_bus_stop(b);
	bus_free(b);
}

static void enqueue(fs_bus *b, const struct out *o)
{
	pthread_mutex_lock(&b->lock);
	if (b->qlen == QUEUE || b->stop) {
		pthread_mutex_unlock(&b->lock);
		atomic_fetch_add_explicit(&b->unsent, 1, memory_order_relaxed);
		return;
	}
	b->q[(b->qhead + b->qlen) % QUEUE] = *o;
	b->qlen++;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

void fs_bus_publish_key(fs_bus *b, const struct fs_flow_key *k,
			uint64_t ts_ns)
{
	struct out o;

	o.has_key = true;
	o.key = *k;
	o.ts = ts_ns;
	o.filter[0] = '\0';
	enqueue(b, &o);
}

void fs_bus_publish_filter(fs_bus *b, const char *filter)
{
	struct out o;

	memset(&o.key, 0, sizeof(o.key));
	o.has_key = false;
	o.ts = now_ns(CLOCK_REALTIME);
	if (strlen(filter) > FS_BUS_FILTER_MAX) {
		atomic_fetch_add_explicit(&b->unsent, 1, memory_order_relaxed);
		return;
	}
	snprintf(o.filter, sizeof(o.filter), "%s", filter);
	enqueue(b, &o);
}

void fs_bus_get_stats(fs_bus *b, struct fs_bus_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->sent = atomic_load_explicit(&b->sent, memory_order_relaxed);
	s->unsent = atomic_load_explicit(&b->unsent, memory_order_relaxed);
	s->received = atomic_load_explicit(&b->received, memory_order_relaxed);
	s->flows = atomic_load_explicit(&b->flows, memory_order_relaxed);
	s->errors = atomic_load_explicit(&b->errors, memory_order_relaxed);
	s->limited = atomic_load_explicit(&b->limited, memory_order_relaxed);
	for (int r = FS_BUS_MALFORMED; r <= FS_BUS_WRONG_SUBJECT; r++)
		s->refused += atomic_load_explicit(&b->refused[r],
						   memory_order_relaxed);
	pthread_mutex_lock(&b->lock);
	s->connected = connected(b);
	pthread_mutex_unlock(&b->lock);
}
