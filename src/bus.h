/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Several capture hosts (DESIGN §8): a capture with bus = nats://HOST:PORT
 * publishes its triggers on bus_subject and acts on the triggers the
 * others publish there, each with its own history. The message is
 * busmsg.h's.
 *
 * Threads. Everything that talks to the NATS client starts on a thread of
 * ours with every signal blocked, so that the client's own threads (its
 * reader, flusher, timers and the delivery thread of each subscription),
 * which it starts from there, inherit the mask, as the EAL's do. The
 * client never prints: its asynchronous errors come to a handler that
 * counts them. The capture's threads hand what they want published to a
 * queue (a mutex held only to copy an entry in or out) and never wait
 * for the bus: the bus thread publishes while connected, and counts what
 * it could not (disconnected, the queue full) as unsent. Messages from
 * the bus are acted on in the subscription's delivery thread, through
 * the capture's control path; nothing received is published again.
 *
 * Subjects. Triggers travel on bus_subject. Requests of flowscope-ctl
 * --bus (list, stats) come on bus_subject.ctl; a trigger that carries a
 * reply subject (flowscope-ctl --bus trigger) is answered with the
 * number of flows it triggered. A capture subscribes to those two
 * subjects only, and a message of the one kind on the other's subject is
 * refused and counted.
 *
 * Limits. A trigger of one flow costs the capture a lookup; a filter
 * trigger walks its flow table on the analyzer's thread, and a list or
 * stats request composes an answer. So a capture acts on at most 10
 * filter triggers and answers at most 20 requests a second (token
 * buckets, as bursts of as many): beyond that a filter trigger is
 * answered "busy", a request gets no answer, and both are counted in
 * bus_limited. Whoever floods the bus slows no capture.
 */
#ifndef FS_BUS_H
#define FS_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "busmsg.h"
#include "config.h"
#include "flowkey.h"

typedef struct fs_bus fs_bus;

struct fs_bus_ops {
	void *arg;
	/* Trigger what m names: its flow, or the flows its filter matches.
	 * Returns the flows triggered, or -1 with err (a filter that does
	 * not compile). Never publishes. */
	long (*trigger)(void *arg, const struct fs_bus_msg *m, char *err,
			size_t errlen);
	/* The capture's stats lines (flowscope-ctl stats). */
	void (*stats)(void *arg, FILE *out);
	/* Its mode, for list ("live", "trigger"). */
	const char *(*mode)(void *arg);
};

struct fs_bus_stats {
	uint64_t sent;		/* triggers published */
	uint64_t unsent;	/* triggers that could not be */
	uint64_t received;	/* triggers from others, acted on */
	uint64_t refused;	/* messages refused (any reason) */
	uint64_t flows;		/* flows those triggers selected here */
	uint64_t errors;	/* the client's asynchronous errors */
	uint64_t limited;	/* requests over the rate a capture answers */
	bool connected;
};

/*
 * Join the bus cfg names as capture (a name for list). Connects in the
 * background: a server that is down now is retried for as long as the
 * capture runs. Returns NULL with err only for what can never work (the
 * client library refuses the options, a thread cannot start).
 */
fs_bus *fs_bus_start(const struct fs_config *cfg, const char *capture,
		     const struct fs_bus_ops *ops, char *err, size_t errlen);
/* Leave the bus: no callback runs after it. The counters stay readable
 * until fs_bus_free. */
void fs_bus_stop(fs_bus *b);
void fs_bus_free(fs_bus *b);

/* Publish a trigger of the flow with key k at time ts_ns (any thread;
 * never waits for the bus). */
void fs_bus_publish_key(fs_bus *b, const struct fs_flow_key *k,
			uint64_t ts_ns);
/* Publish an operator's trigger of the flows matching filter ("": all). */
void fs_bus_publish_filter(fs_bus *b, const char *filter);

void fs_bus_get_stats(fs_bus *b, struct fs_bus_stats *s);

#endif
