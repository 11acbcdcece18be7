/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowscope-ctl --bus URL: the captures of a NATS bus (bus.h), asked all
 * at once. A request goes out with an inbox of ours as its reply subject;
 * every capture on the bus answers there, and what comes back within the
 * wait is printed as it comes.
 */
#define _GNU_SOURCE
#include "ctl_bus.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "busmsg.h"

#define PROG "flowscope-ctl"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static natsStatus connect_bus(const struct fs_ctl_bus *o, natsConnection **nc)
{
	natsOptions *opts = NULL;
	natsStatus s = natsOptions_Create(&opts);

	if (s == NATS_OK)
		s = natsOptions_SetURL(opts, o->url);
	if (s == NATS_OK)
		s = natsOptions_SetName(opts, PROG);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(opts, 3000);
	if (s == NATS_OK && o->creds != NULL)
		s = natsOptions_SetUserCredentialsFromFiles(opts, o->creds,
							     NULL);
	if (s == NATS_OK && o->ca != NULL)
		s = natsOptions_LoadCATrustedCertificates(opts, o->ca);
	if (s == NATS_OK && (o->ca != NULL || strncmp(o->url, "tls://", 6) == 0))
		s = natsOptions_SetSecure(opts, true);
	if (s == NATS_OK)
		s = natsConnection_Connect(nc, opts);
	natsOptions_Destroy(opts);
	return s;
}

/* The trigger flowscope-ctl sends: an operator's, from this host. */
static size_t trigger_msg(const char *filter, char *buf, size_t len)
{
	struct fs_bus_msg m;
	struct timespec ts;
	char host[256];

	memset(&m, 0, sizeof(m));
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "-");
	host[sizeof(host) - 1] = '\0';
	fs_bus_word(m.host, sizeof(m.host), host);
	snprintf(m.capture, sizeof(m.capture), PROG);
	if (getrandom(&m.instance, sizeof(m.instance), 0) !=
	    sizeof(m.instance))
		m.instance = (uint64_t)getpid();
	clock_gettime(CLOCK_REALTIME, &ts);
	m.time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	snprintf(m.filter, sizeof(m.filter), "%s", filter);
	return fs_bus_encode(&m, buf, len);
}

int fs_ctl_bus(const struct fs_ctl_bus *o, const char *cmd,
	       const char *filter)
{
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	natsInbox *inbox = NULL;
	char subject[256], body[FS_BUS_MSG_MAX];
	const char *req;
	size_t blen;
	unsigned answers = 0, errors = 0;
	uint64_t flows = 0;
	int64_t end;
	natsStatus s;
	int rc = 1;

	if (strcmp(cmd, "trigger") == 0) {
		blen = trigger_msg(filter, body, sizeof(body));
		if (blen == 0) {
			fprintf(stderr, PROG ": trigger: the filter does not "
				"fit in a bus message (%d bytes at most)\n",
				FS_BUS_FILTER_MAX);
			return 2;
		}
		snprintf(subject, sizeof(subject), "%s", o->subject);
	} else {
		req = strcmp(cmd, "list") == 0 ? "flowscope-list 1\n"
					       : "flowscope-stats 1\n";
		blen = strlen(req);
		memcpy(body, req, blen);
		snprintf(subject, sizeof(subject), "%s.ctl", o->subject);
	}
	s = connect_bus(o, &nc);
	if (s != NATS_OK) {
		fprintf(stderr, PROG ": --bus %s: %s\n", o->url,
			natsStatus_GetText(s));
		goto out;
	}
	s = natsInbox_Create(&inbox);
	if (s == NATS_OK)
		s = natsConnection_SubscribeSync(&sub, nc, inbox);
	if (s == NATS_OK)
		s = natsConnection_PublishRequest(nc, subject, inbox, body,
						  (int)blen);
	if (s == NATS_OK)
		s = natsConnection_Flush(nc);
	if (s != NATS_OK) {
		fprintf(stderr, PROG ": --bus %s: %s\n", o->url,
			natsStatus_GetText(s));
		goto out;
	}
	end = now_ms() + (int64_t)(o->wait_s * 1000);
	for (;;) {
		int64_t left = end - now_ms();
		natsMsg *msg = NULL;
		const char *d;
		int n;

		if (left <= 0)
			break;
		if (natsSubscription_NextMsg(&msg, sub, left) != NATS_OK)
			break;
		d = natsMsg_GetData(msg);
		n = natsMsg_GetDataLength(msg);
		answers++;
		if (strcmp(cmd, "trigger") == 0) {
			unsigned long long k;

			if (sscanf(d, "triggered %llu ", &k) == 1)
				flows += k;
			else
				errors++;
		}
		fwrite(d, 1, (size_t)n, stdout);
		if (n > 0 && d[n - 1] != '\n')
			putchar('\n');
		if (strcmp(cmd, "stats") == 0)
			putchar('\n');
		natsMsg_Destroy(msg);
	}
	if (answers == 0) {
		fprintf(stderr, PROG ": no capture on %s answered within "
			"%.1f s (subject %s)\n", o->url, o->wait_s, subject);
		goto out;
	}
	if (strcmp(cmd, "trigger") == 0)
		printf("answered by %u capture%s: %" PRIu64 " flow%s "
		       "triggered%s\n", answers, answers == 1 ? "" : "s",
		       flows, flows == 1 ? "" : "s",
		       errors ? " (some answered with an error)" : "");
	rc = errors ? 1 : 0;
out:
	natsSubscription_Destroy(sub);
	natsInbox_Destroy(inbox);
	natsConnection_Destroy(nc);
	nats_Close();
	fflush(stdout);
	return rc;
}
