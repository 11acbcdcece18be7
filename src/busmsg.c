/* SPDX-License-Identifier: BSD-3-Clause */
/* The bus's trigger message (busmsg.h). */
#define _GNU_SOURCE
#include "busmsg.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "flowscope-trigger"

/* A word of printable ASCII, no blank, 1..max bytes. */
static bool word_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

static bool text_ok(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s >= 0x7f)
			return false;
	return true;
}

static int mac_str(const uint8_t *m, char *buf, size_t len)
{
	return snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
			m[2], m[3], m[4], m[5]);
}

/* The address of kind at a, as text into buf (64 bytes); false if none. */
static bool addr_str(unsigned kind, const uint8_t *a, char *buf)
{
	switch (kind) {
	case FS_FLOW_IP4:
		return inet_ntop(AF_INET, a, buf, 64) != NULL;
	case FS_FLOW_IP6:
		return inet_ntop(AF_INET6, a, buf, 64) != NULL;
	case FS_FLOW_L2:
		mac_str(a, buf, 64);
		return true;
	}
	return false;
}

size_t fs_bus_encode(const struct fs_bus_msg *m, char *buf, size_t len)
{
	int n;

	if (!word_ok(m->host, sizeof(m->host) - 1) ||
	    !word_ok(m->capture, sizeof(m->capture) - 1))
		return 0;
	n = snprintf(buf, len, MAGIC " %d\norigin %s %s %016" PRIx64
		     "\ntime %" PRIu64 "\n", FS_BUS_VERSION, m->host,
		     m->capture, m->instance, m->time_ns);
	if (n < 0 || (size_t)n >= len)
		return 0;
	if (m->has_key) {
		const struct fs_flow_key *k = &m->key;
		char a[64], b[64];
		int r;

		if (!addr_str(k->kind, k->a, a) || !addr_str(k->kind, k->b, b))
			return 0;
		r = snprintf(buf + n, len - (size_t)n,
			     "flow %u %u %s %u %s %u %04x\n", k->kind, k->proto,
			     a, k->port_a, b, k->port_b, k->ethertype);
		if (r < 0 || (size_t)r >= len - (size_t)n)
			return 0;
		n += r;
	} else {
		int r;

		if (!text_ok(m->filter))
			return 0;
		r = snprintf(buf + n, len - (size_t)n, "filter %s\n", m->filter);
		if (r < 0 || (size_t)r >= len - (size_t)n)
			return 0;
		n += r;
	}
	return (size_t)n > FS_BUS_MSG_MAX ? 0 : (size_t)n;
}

/* Split the next line off *p (ended by '\n', which it must be); NULL when
 * there is none. */
static char *line(char **p)
{
	char *s = *p, *nl;

	if (s == NULL || *s == '\0')
		return NULL;
	nl = strchr(s, '\n');
	if (nl == NULL)
		return NULL;
	*nl = '\0';
	*p = nl + 1;
	return s;
}

/* A decimal number of at most max, the whole of s. */
static bool number(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9' || strlen(s) > 20)
		return false;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_addr(unsigned kind, const char *s, uint8_t *a)
{
	unsigned v[6];
	char tail;

	memset(a, 0, 16);
	switch (kind) {
	case FS_FLOW_IP4:
		return inet_pton(AF_INET, s, a) == 1;
	case FS_FLOW_IP6:
		return inet_pton(AF_INET6, s, a) == 1;
	case FS_FLOW_L2:
		if (strlen(s) != 17 ||
		    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &tail) != 6)
			return false;
		for (int i = 0; i < 6; i++)
			a[i] = (uint8_t)v[i];
		return true;
	}
	return false;
}

/* "flow KIND PROTO A PORT_A B PORT_B ETHERTYPE" (after "flow ") into k:
 * canonical as the tracker makes it, or false. */
static bool parse_key(char *s, struct fs_flow_key *k)
{
	char *f[8], *save = NULL, *end;
	uint64_t kind, proto, pa, pb;
	unsigned long et;
	int n = 0;

	for (char *t = strtok_r(s, " ", &save); t != NULL;
	     t = strtok_r(NULL, " ", &save)) {
		if (n == 7)
			return false;
		f[n++] = t;
	}
	if (n != 7)
		return false;
	memset(k, 0, sizeof(*k));
	if (!number(f[0], 255, &kind) || !number(f[1], 255, &proto) ||
	    !number(f[3], 65535, &pa) || !number(f[5], 65535, &pb) ||
	    strlen(f[6]) != 4)
		return false;
	et = strtoul(f[6], &end, 16);
	if (*end != '\0')
		return false;
	if (kind != FS_FLOW_IP4 && kind != FS_FLOW_IP6 && kind != FS_FLOW_L2)
		return false;
	if (!parse_addr((unsigned)kind, f[2], k->a) ||
	    !parse_addr((unsigned)kind, f[4], k->b))
		return false;
	k->kind = (uint8_t)kind;
	k->proto = (uint8_t)proto;
	k->port_a = (uint16_t)pa;
	k->port_b = (uint16_t)pb;
	k->ethertype = (uint16_t)et;
	/* what the tracker could have made: IP keys carry their EtherType,
	 * non-IP ones no protocol and no ports */
	if ((kind == FS_FLOW_IP4 && et != 0x0800) ||
	    (kind == FS_FLOW_IP6 && et != 0x86dd) ||
	    (kind == FS_FLOW_L2 && (proto != 0 || pa != 0 || pb != 0)))
		return false;
	/* canonical: a is the smaller endpoint by (address, port) */
	{
		int c = memcmp(k->a, k->b, sizeof(k->a));

		if (c > 0 || (c == 0 && k->port_a > k->port_b)) {
			uint8_t t[16];
			uint16_t p = k->port_a;

			memcpy(t, k->a, sizeof(t));
			memcpy(k->a, k->b, sizeof(t));
			memcpy(k->b, t, sizeof(t));
			k->port_a = k->port_b;
			k->port_b = p;
		}
	}
	return true;
}

enum fs_bus_refusal fs_bus_decode(const char *buf, size_t len,
				  struct fs_bus_msg *m)
{
	char copy[FS_BUS_MSG_MAX + 1], *p = copy, *l, *s, *save = NULL;
	char *w[4];
	uint64_t v;
	int n = 0;

	if (len > FS_BUS_MSG_MAX)
		return FS_BUS_TOO_LARGE;
	if (memchr(buf, '\0', len) != NULL)
		return FS_BUS_MALFORMED;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	memset(m, 0, sizeof(*m));
	/* the first line says what it is */
	l = line(&p);
	if (l == NULL)
		return FS_BUS_MALFORMED;
	if (strncmp(l, "flowscope-list ", 15) == 0 ||
	    strncmp(l, "flowscope-stats ", 16) == 0)
		return FS_BUS_WRONG_SUBJECT;
	if (strncmp(l, MAGIC " ", sizeof(MAGIC)) != 0)
		return FS_BUS_MALFORMED;
	if (!number(l + sizeof(MAGIC), 1000000, &v))
		return FS_BUS_MALFORMED;
	if (v != FS_BUS_VERSION)
		return FS_BUS_VERSION_UNKNOWN;
	/* origin HOST CAPTURE INSTANCE */
	l = line(&p);
	if (l == NULL || strncmp(l, "origin ", 7) != 0)
		return FS_BUS_MALFORMED;
	for (s = strtok_r(l + 7, " ", &save); s != NULL;
	     s = strtok_r(NULL, " ", &save)) {
		if (n == 3)
			return FS_BUS_MALFORMED;
		w[n++] = s;
	}
	if (n != 3 || !word_ok(w[0], sizeof(m->host) - 1) ||
	    !word_ok(w[1], sizeof(m->capture) - 1) || strlen(w[2]) != 16)
		return FS_BUS_MALFORMED;
	for (const char *h = w[2]; *h; h++)
		if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f')))
			return FS_BUS_MALFORMED;
	snprintf(m->host, sizeof(m->host), "%s", w[0]);
	snprintf(m->capture, sizeof(m->capture), "%s", w[1]);
	m->instance = strtoull(w[2], NULL, 16);
	/* time NS */
	l = line(&p);
	if (l == NULL || strncmp(l, "time ", 5) != 0 ||
	    !number(l + 5, UINT64_MAX, &m->time_ns))
		return FS_BUS_MALFORMED;
	/* flow ... or filter ... */
	l = line(&p);
	if (l == NULL)
		return FS_BUS_MALFORMED;
	if (strncmp(l, "flow ", 5) == 0) {
		if (!parse_key(l + 5, &m->key))
			return FS_BUS_MALFORMED;
		m->has_key = true;
	} else if (strncmp(l, "filter ", 7) == 0 || strcmp(l, "filter") == 0) {
		const char *f = l[6] == ' ' ? l + 7 : l + 6;

		if (strlen(f) > FS_BUS_FILTER_MAX || !text_ok(f))
			return FS_BUS_MALFORMED;
		snprintf(m->filter, sizeof(m->filter), "%s", f);
	} else {
		return FS_BUS_MALFORMED;
	}
	/* nothing after it */
	return *p == '\0' ? FS_BUS_OK : FS_BUS_MALFORMED;
}

int fs_bus_request(const char *buf, size_t len, enum fs_bus_refusal *why)
{
	if (len > FS_BUS_MSG_MAX) {
		*why = FS_BUS_TOO_LARGE;
		return 0;
	}
	if (len == 17 && memcmp(buf, "flowscope-list 1\n", 17) == 0)
		return FS_BUS_REQ_LIST;
	if (len == 18 && memcmp(buf, "flowscope-stats 1\n", 18) == 0)
		return FS_BUS_REQ_STATS;
	if (len >= sizeof(MAGIC) && memcmp(buf, MAGIC " ", sizeof(MAGIC)) == 0)
		*why = FS_BUS_WRONG_SUBJECT;
	else if ((len > 15 && memcmp(buf, "flowscope-list ", 15) == 0) ||
		 (len > 16 && memcmp(buf, "flowscope-stats ", 16) == 0))
		*why = FS_BUS_VERSION_UNKNOWN;
	else
		*why = FS_BUS_MALFORMED;
	return 0;
}

const char *fs_bus_refusal_name(enum fs_bus_refusal r)
{
	switch (r) {
	case FS_BUS_OK:
		return "ok";
	case FS_BUS_MALFORMED:
		return "malformed";
	case FS_BUS_TOO_LARGE:
		return "too large";
	case FS_BUS_VERSION_UNKNOWN:
		return "of an unknown version";
	case FS_BUS_WRONG_SUBJECT:
		return "on a subject it does not belong to";
	}
	return "?";
}

void fs_bus_word(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	if (n == 0)
		snprintf(dst, len, "-");
	else {
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	for (char *p = dst; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			*p = '_';
}
