/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The trigger message that captures on a bus exchange (DESIGN §8), and
 * the requests flowscope-ctl sends them. Text, so that `nats sub` shows
 * what travels; small (FS_BUS_MSG_MAX bytes at most); versioned by its
 * first line. A trigger, version 1:
 *
 *   flowscope-trigger 1
 *   origin HOST CAPTURE INSTANCE
 *   time NS
 *   flow KIND PROTO A PORT_A B PORT_B ETHERTYPE      (a filter match)
 *   filter EXPRESSION                                (an operator's)
 *
 * One line each, in this order, each ended by a newline, with exactly one
 * of flow and filter. HOST and CAPTURE are the origin's host name and
 * capture name (no blanks), INSTANCE 16 hex digits that tell one capture
 * from another (a capture ignores its own), NS the trigger's time in ns
 * since the epoch. flow is the canonical flow key (flowkey.h): KIND 4, 6
 * or 2 (non-IP), PROTO the IP protocol number (0 for non-IP), A and B
 * addresses (IPv4, IPv6, or MAC for non-IP), ports in decimal (0 without),
 * ETHERTYPE in hex. filter is a pcap-filter(7) expression over flows, the
 * rest of its line, possibly empty (every flow); printable ASCII only.
 *
 * Requests on the control subject (bus_subject.ctl), answered in text:
 *   flowscope-list 1      one line: the capture's host, name, mode, uptime
 *   flowscope-stats 1     the capture's stats lines, after a header line
 *
 * The decoder takes nothing half: a message is accepted whole or refused
 * with the reason, and the caller counts the reason.
 */
#ifndef FS_BUSMSG_H
#define FS_BUSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowkey.h"

#define FS_BUS_VERSION 1
#define FS_BUS_MSG_MAX 2048
#define FS_BUS_FILTER_MAX 1024

struct fs_bus_msg {
	char host[65];
	char capture[129];
	uint64_t instance;
	uint64_t time_ns;
	bool has_key;		/* else a filter */
	struct fs_flow_key key;
	char filter[FS_BUS_FILTER_MAX + 1];
};

enum fs_bus_refusal {
	FS_BUS_OK = 0,
	FS_BUS_MALFORMED,	/* not a message of this format */
	FS_BUS_TOO_LARGE,	/* more than FS_BUS_MSG_MAX bytes */
	FS_BUS_VERSION_UNKNOWN,	/* a flowscope-trigger of another version */
	FS_BUS_WRONG_SUBJECT,	/* a request where a trigger belongs, or
				 * the other way round */
};

/* Encode m into buf (len bytes). Returns the message's length, 0 when it
 * does not fit or a field cannot be written (a blank in host). */
size_t fs_bus_encode(const struct fs_bus_msg *m, char *buf, size_t len);

/* Decode the trigger of len bytes at buf into m. Returns FS_BUS_OK, or
 * the reason it was refused (m is then undefined). */
enum fs_bus_refusal fs_bus_decode(const char *buf, size_t len,
				  struct fs_bus_msg *m);

enum fs_bus_request { FS_BUS_REQ_LIST = 1, FS_BUS_REQ_STATS };

/* Which request the len bytes at buf are; 0 with *why when none. */
int fs_bus_request(const char *buf, size_t len, enum fs_bus_refusal *why);

/* src as a word of the message (host, capture) in dst (len bytes): cut
 * to fit, each blank or unprintable byte '_', "-" for nothing. */
void fs_bus_word(char *dst, size_t len, const char *src);

/* What a refusal is called in stats and messages. */
const char *fs_bus_refusal_name(enum fs_bus_refusal r);

#endif
