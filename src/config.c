/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration of one capture (DESIGN §2). One key table drives the file
 * parser, the FLOWSCOPE_* environment lookup, the error texts and the docs.
 * Nothing here prints or exits: every failure is -1 and a text in err.
 */
#include "config.h"
#include "timewin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "devname.h"
#include "eal_args.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)

/* Rates and counts of the generator: beyond this no run is meaningful, and
 * the bound keeps products such as rate * seconds far from overflow. */
#define RATE_MAX 1000000000000ull

#define ENV_PREFIX "FLOWSCOPE_"
#define ENV_CONFIG "FLOWSCOPE_CONFIG"
#define ENV_CONF_DIR "FLOWSCOPE_CONF_DIR"	/* devname.h: named captures */
#define ENV_CTL "FLOWSCOPE_CTL_"

/* A longer line is reported, never silently split or truncated. */
#define LINE_MAX_LEN 4096

/* sun_path must hold the path and its NUL. */
#define SUN_PATH_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

/*
 * The parsers store through offsets, so each field must have the C type its
 * key type implies: UINT -> uint32_t, SIZE and RATE -> uint64_t, strings
 * -> char *. These checks fail the build if struct fs_config drifts.
 */
#define FIELD_IS(m, T) _Generic(((struct fs_config *)0)->m, T: 1, default: 0)
_Static_assert(FIELD_IS(mode, enum fs_mode), "mode");
_Static_assert(FIELD_IS(trigger, char *), "trigger");
_Static_assert(FIELD_IS(buffer, uint64_t), "buffer");
_Static_assert(FIELD_IS(caplen, uint32_t), "caplen");
_Static_assert(FIELD_IS(flow_timeout, uint32_t), "flow_timeout");
_Static_assert(FIELD_IS(max_flows, uint32_t), "max_flows");
_Static_assert(FIELD_IS(dump_dir, char *), "dump_dir");
_Static_assert(FIELD_IS(control, char *), "control");
_Static_assert(FIELD_IS(eal, char *), "eal");
_Static_assert(FIELD_IS(rx_queues, uint32_t), "rx_queues");
_Static_assert(FIELD_IS(rx_slots, uint32_t), "rx_slots");
_Static_assert(FIELD_IS(rx_mbufs, uint32_t), "rx_mbufs");
_Static_assert(FIELD_IS(gen_flows, uint32_t), "gen_flows");
_Static_assert(FIELD_IS(gen_rate, uint64_t), "gen_rate");
_Static_assert(FIELD_IS(gen_packets, uint64_t), "gen_packets");
_Static_assert(FIELD_IS(gen_size, uint32_t), "gen_size");
_Static_assert(FIELD_IS(gen_profile, enum fs_gen_profile), "gen_profile");
_Static_assert(FIELD_IS(source, char *), "source");
_Static_assert(FIELD_IS(spool_dir, char *), "spool_dir");
_Static_assert(FIELD_IS(spool_size, uint64_t), "spool_size");
_Static_assert(FIELD_IS(cutoff, uint64_t), "cutoff");
_Static_assert(FIELD_IS(since, char *), "since");
_Static_assert(FIELD_IS(share, char *), "share");
_Static_assert(FIELD_IS(share_group, char *), "share_group");
_Static_assert(FIELD_IS(bus, char *), "bus");
_Static_assert(FIELD_IS(bus_subject, char *), "bus_subject");
_Static_assert(FIELD_IS(bus_creds, char *), "bus_creds");
_Static_assert(FIELD_IS(bus_ca, char *), "bus_ca");
_Static_assert(FIELD_IS(group, char *), "group");
_Static_assert(FIELD_IS(until, char *), "until");
_Static_assert(FIELD_IS(source_vlans, struct fs_vlans), "source_vlans");

#define OFF(m) offsetof(struct fs_config, m)

/* The `def` texts are for docs; the values themselves are in `defaults`
 * below (some defaults, such as caplen's, are not a value of the key). */
static const struct fs_config_key keys[] = {
	{ "mode", FS_KEY_MODE, "live", 0, 0, OFF(mode),
	  "live: every packet as soon as it arrives; trigger: only packets "
	  "of triggered flows, each flow's buffered history first" },
	{ "trigger", FS_KEY_FILTER, "none", 0, 0, OFF(trigger),
	  "a pcap-filter(7) expression; a packet that matches it triggers "
	  "its flow" },
	{ "buffer", FS_KEY_SIZE, "256m", MIB, TIB, OFF(buffer),
	  "QQ ring capacity in bytes (k, m, g suffixes)" },
	{ "caplen", FS_KEY_UINT, "the application's snaplen", 1,
	  FS_CAPLEN_MAX, OFF(caplen),
	  "bytes of each packet kept in the ring and delivered" },
	{ "flow_timeout", FS_KEY_UINT, "30", 1, 86400, OFF(flow_timeout),
	  "seconds without a packet after which a flow ends" },
	{ "max_flows", FS_KEY_UINT, "1048576", 1, 1u << 30, OFF(max_flows),
	  "bound on tracked flows; packets of flows beyond it are still "
	  "captured and counted" },
	{ "dump_dir", FS_KEY_DIR, "none", 0, 0, OFF(dump_dir),
	  "also write every triggered flow to its own pcap file in this "
	  "directory" },
	{ "control", FS_KEY_CONTROL, "/run/flowscope/<pid>-<source>.sock", 0, 0,
	  OFF(control), "control socket path (absolute); off disables it. "
	  "Users other than root: under $XDG_RUNTIME_DIR/flowscope (else "
	  "/run/user/UID/flowscope or /tmp/flowscope-UID)" },
	{ "eal", FS_KEY_EAL, "none", 0, 0, OFF(eal),
	  "extra DPDK EAL arguments, split on blanks with sh-like quoting" },
	{ "rx_queues", FS_KEY_UINT, "1", 1, 64, OFF(rx_queues),
	  "RSS queues per port, each with its own receive thread and ring "
	  "lane" },
	{ "rx_slots", FS_KEY_UINT, "4096", 64, 32768, OFF(rx_slots),
	  "receive descriptors per queue" },
	{ "rx_mbufs", FS_KEY_UINT, "0", 0,
	  1u << 26, OFF(rx_mbufs),
	  "mbufs in a port's packet pool (0: enough for its descriptors); "
	  "more for a driver that keeps packets, such as net_pcap with "
	  "infinite_rx=1" },
	{ "gen_flows", FS_KEY_UINT, "1000", 1, 1u << 24, OFF(gen_flows),
	  "flows of the built-in generator" },
	{ "gen_rate", FS_KEY_RATE, "unlimited", 0, RATE_MAX, OFF(gen_rate),
	  "packets/s of the built-in generator (k, m, g: thousands, "
	  "millions, billions)" },
	{ "gen_packets", FS_KEY_RATE, "unlimited", 0, RATE_MAX,
	  OFF(gen_packets),
	  "packets the built-in generator sends in all (k, m, g: "
	  "thousands, millions, billions)" },
	{ "gen_size", FS_KEY_UINT, "64", 42, 9000, OFF(gen_size),
	  "frame bytes of the built-in generator's packets (uniform "
	  "profile)" },
	{ "gen_profile", FS_KEY_PROFILE, "uniform", 0, 0, OFF(gen_profile),
	  "uniform: equal UDP flows, one packet of each in turn; realistic: "
	  "TCP and UDP connections with handshakes, data both ways and FIN "
	  "or RST ends, whose sizes follow a heavy tail (about 13 % over "
	  "20 KB, carrying most bytes)" },
	{ "source", FS_KEY_SOURCES, "none", 0, 0, OFF(source),
	  "the sources of a named capture (flowscope-NAME), written as "
	  "after flowscope: in a device name" },
	{ "spool_dir", FS_KEY_DIR, "none", 0, 0, OFF(spool_dir),
	  "keep the history that leaves the RAM ring on disk in this "
	  "directory (the capturing user's own, mode 0700): pcapng segment "
	  "files that tcpdump -r reads" },
	{ "spool_size", FS_KEY_SIZE, "10g", 64 * MIB, 1ull << 50,
	  OFF(spool_size),
	  "bound on the spool's disk use; the oldest segments go first" },
	{ "cutoff", FS_KEY_SIZE, "0", 0, 1ull << 50, OFF(cutoff),
	  "bytes of each flow (both directions) kept as history, 0: all; "
	  "a trigger lifts its flow's cutoff from then on" },
	{ "since", FS_KEY_TIME, "none", 0, 0, OFF(since),
	  "start of the time window a file=, spool= or @NAME capture "
	  "delivers: "
	  "ISO 8601 UTC, epoch seconds, or before now (-10m)" },
	{ "until", FS_KEY_TIME, "none", 0, 0, OFF(until),
	  "end of that window (packets before it are delivered)" },
	{ "source_vlans", FS_KEY_VLANS, "none", 0, FS_VLAN_ID_MAX,
	  OFF(source_vlans),
	  "one VLAN id per source, comma-separated in the order of the "
	  "device name (0: none), pushed as an outermost 802.1Q tag onto "
	  "that source's packets so aggregated inputs stay apart" },
	{ "share", FS_KEY_NAME, "none", 1, 64, OFF(share),
	  "publish the ring read-only under this name: other processes "
	  "of this machine read it with flowscope:@NAME" },
	{ "share_group", FS_KEY_NAME, "none", 1, 32, OFF(share_group),
	  "a Unix group whose members may attach to the shared ring, "
	  "besides its user (and root)" },
	{ "group", FS_KEY_NAME, "none", 1, 32, OFF(group),
	  "readers attached with the same group id split the traffic: "
	  "each flow, both directions, goes to one of them" },
	{ "bus", FS_KEY_BUS, "none", 0, 0, OFF(bus),
	  "NATS server shared by several capture hosts (nats://HOST:PORT, "
	  "tls://HOST:PORT, several comma-separated): every trigger is "
	  "published there, and triggers the others publish are acted on" },
	{ "bus_subject", FS_KEY_SUBJECT, FS_BUS_SUBJECT_DEFAULT, 0, 0,
	  OFF(bus_subject),
	  "the NATS subject triggers travel on (requests of flowscope-ctl "
	  "--bus: SUBJECT.ctl)" },
	{ "bus_creds", FS_KEY_FILE, "none", 0, 0, OFF(bus_creds),
	  "NATS user credentials file (JWT and NKey seed) to connect with" },
	{ "bus_ca", FS_KEY_FILE, "none", 0, 0, OFF(bus_ca),
	  "CA certificates (PEM) that the server's certificate must chain "
	  "to; with it, the connection is TLS" },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= 64, "given holds one bit per key");

static const struct fs_config defaults = {
	.mode = FS_MODE_LIVE,
	.trigger = NULL,
	.buffer = 256 * MIB,
	.caplen = 0,
	.flow_timeout = 30,
	.max_flows = 1048576,
	.dump_dir = NULL,
	.control = NULL,
	.control_off = false,
	.eal = NULL,
	.rx_queues = 1,
	.rx_slots = 4096,
	.rx_mbufs = 0,
	.gen_flows = 1000,
	.gen_rate = 0,
	.gen_packets = 0,
	.gen_size = 64,
	.gen_profile = FS_GEN_UNIFORM,
	.spool_dir = NULL,
	.spool_size = 10 * GIB,
	.cutoff = 0,
	.given = 0,
};

const struct fs_config_key *fs_config_keys(size_t *n)
{
	if (n)
		*n = NKEYS;
	return keys;
}

void fs_config_init(struct fs_config *c)
{
	*c = defaults;
}

void fs_config_release(struct fs_config *c)
{
	free(c->trigger);
	free(c->dump_dir);
	free(c->control);
	free(c->eal);
	free(c->source);
	free(c->spool_dir);
	free(c->since);
	free(c->until);
	free(c->share);
	free(c->share_group);
	free(c->group);
	free(c->bus);
	free(c->bus_subject);
	free(c->bus_creds);
	free(c->bus_ca);
	fs_config_init(c);
}

/* Write "WHERE: " (if any) and the message into err; always returns -1 so
 * callers can `return fail(...)`. Tolerates err == NULL or errlen == 0. */
__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, const char *where,
		const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!err || !errlen)
		return -1;
	err[0] = '\0';
	if (where) {
		n = snprintf(err, errlen, "%s: ", where);
		if (n < 0)
			n = 0;
	}
	if ((size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const struct fs_config_key *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Variables are the upper-case form of a key; the key itself is lower
 * case, so "FLOWSCOPE_mode" matches nothing. */
static const struct fs_config_key *find_key_upper(const char *s, size_t len)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const char *k = keys[i].name;
		size_t j;

		if (strlen(k) != len)
			continue;
		for (j = 0; j < len; j++) {
			char u = k[j];

			if (u >= 'a' && u <= 'z')
				u = (char)(u - 'a' + 'A');
			if (u != s[j])
				break;
		}
		if (j == len)
			return &keys[i];
	}
	return NULL;
}

/* "mode, trigger, ..." (or upper case) for unknown-key messages. */
static void list_keys(char *buf, size_t len, bool upper)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NKEYS && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s",
				 i ? ", " : "", keys[i].name);

		if (n < 0)
			break;
		if (upper)
			for (size_t j = used; j < len && buf[j]; j++)
				if (buf[j] >= 'a' && buf[j] <= 'z')
					buf[j] = (char)(buf[j] - 'a' + 'A');
		used += (size_t)n;
	}
}

/* v with the largest of k, m, g (powers of base) that divides it, so
 * bounds print the way a user would write them ("1m", "1000g"). */
static void fmt_scaled(char *buf, size_t len, uint64_t v, uint64_t base)
{
	static const char suffix[] = "kmg";
	int i = 0;

	while (v != 0 && v % base == 0 && i < 3) {
		v /= base;
		i++;
	}
	if (i)
		snprintf(buf, len, "%llu%c", (unsigned long long)v, suffix[i - 1]);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* The expected form of a key's value, with its bounds: the part of every
 * value error that tells the user what to write instead. */
static void describe(const struct fs_config_key *k, char *buf, size_t len)
{
	char lo[32], hi[32];

	switch (k->type) {
	case FS_KEY_MODE:
		snprintf(buf, len, "live or trigger");
		break;
	case FS_KEY_FILTER:
		snprintf(buf, len, "a pcap-filter(7) expression");
		break;
	case FS_KEY_SIZE:
		fmt_scaled(lo, sizeof(lo), k->min, KIB);
		fmt_scaled(hi, sizeof(hi), k->max, KIB);
		snprintf(buf, len,
			 "a number with optional k, m or g suffix, %s to %s",
			 lo, hi);
		break;
	case FS_KEY_UINT:
		snprintf(buf, len, "a whole number, %llu to %llu",
			 (unsigned long long)k->min,
			 (unsigned long long)k->max);
		break;
	case FS_KEY_RATE:
		fmt_scaled(hi, sizeof(hi), k->max, 1000);
		snprintf(buf, len,
			 "a number with optional k, m or g suffix for "
			 "thousands, millions or billions, up to %s, or "
			 "unlimited", hi);
		break;
	case FS_KEY_DIR:
		snprintf(buf, len, "an existing directory flowscope can write to");
		break;
	case FS_KEY_CONTROL:
		snprintf(buf, len, "an absolute path shorter than %zu bytes, or off",
			 SUN_PATH_LEN);
		break;
	case FS_KEY_EAL:
		snprintf(buf, len, "DPDK EAL arguments, split like a shell "
			 "would");
		break;
	case FS_KEY_SOURCES:
		snprintf(buf, len, "sources as in a device name, e.g. "
			 "eth0:eth1");
		break;
	case FS_KEY_TIME:
		snprintf(buf, len, "an ISO 8601 UTC time, epoch seconds or a "
			 "time before now such as -10m");
		break;
	case FS_KEY_PROFILE:
		snprintf(buf, len, "uniform or realistic");
		break;
	case FS_KEY_VLANS:
		snprintf(buf, len, "VLAN ids %llu to %llu separated by commas, "
			 "one per source (0: no tag), e.g. 10,20",
			 (unsigned long long)k->min,
			 (unsigned long long)k->max);
		break;
	case FS_KEY_NAME:
		snprintf(buf, len, "a name of 1 to %llu letters, digits, '.', "
			 "'_' or '-' (not starting with '.' or '-')",
			 (unsigned long long)k->max);
		break;
	case FS_KEY_BUS:
		snprintf(buf, len, "nats://HOST[:PORT] or tls://HOST[:PORT], "
			 "several comma-separated");
		break;
	case FS_KEY_SUBJECT:
		snprintf(buf, len, "a NATS subject: tokens of letters, digits, "
			 "'_' or '-' joined by '.', at most %d bytes, no "
			 "wildcard", FS_BUS_SUBJECT_MAX);
		break;
	case FS_KEY_FILE:
		snprintf(buf, len, "a file flowscope can read");
		break;
	case FS_KEY_STRING:
	default:
		snprintf(buf, len, "any text");
		break;
	}
}

/* One server URL of the bus key: nats:// or tls://, a host (an optional
 * user[:password]@ before it), an optional port 1..65535, nothing else. */
static bool bus_url_ok(const char *u, size_t n)
{
	size_t i, hs;

	if (n > 7 && strncmp(u, "nats://", 7) == 0)
		i = 7;
	else if (n > 6 && strncmp(u, "tls://", 6) == 0)
		i = 6;
	else
		return false;
	for (size_t k = i; k < n; k++)
		if (u[k] == '@')
			i = k + 1;
	hs = i;
	if (i < n && u[i] == '[') {	/* [IPv6] */
		while (i < n && u[i] != ']')
			i++;
		if (i == n)
			return false;
		i++;
	} else {
		while (i < n && u[i] != ':')
			if (u[i] <= ' ' || u[i] >= 0x7f || u[i] == '/' ||
			    u[i++] == '?')
				return false;
	}
	if (i == hs)
		return false;
	if (i < n) {
		unsigned long port = 0;

		if (u[i++] != ':' || i == n || n - i > 5)
			return false;
		for (; i < n; i++) {
			if (u[i] < '0' || u[i] > '9')
				return false;
			port = port * 10 + (unsigned long)(u[i] - '0');
		}
		if (port == 0 || port > 65535)
			return false;
	}
	return true;
}

static bool bus_ok(const char *v)
{
	while (*v) {
		size_t n = strcspn(v, ",");

		if (!bus_url_ok(v, n))
			return false;
		v += n;
		if (*v == ',' && *++v == '\0')
			return false;
	}
	return true;
}

/* A subject we may subscribe to without reaching others: no wildcard,
 * no empty token. */
static bool subject_ok(const char *v)
{
	size_t n = strlen(v), tok = 0;

	if (n == 0 || n > FS_BUS_SUBJECT_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char ch = v[i];

		if (ch == '.' || ch == '\0') {
			if (tok == 0)
				return false;
			tok = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '_' || ch == '-') {
			tok++;
		} else {
			return false;
		}
	}
	return true;
}

/*
 * Decimal digits, then (when base is not 0) one optional k/m/g suffix in
 * either case, then nothing. Hand-written rather than strtoull, which would
 * accept blanks, signs and hex. Returns 0, -1 (not of that form) or -2 (too
 * large for 64 bits); syntax is judged before size so "1x" is a bad form
 * however many digits it has.
 */
static int parse_scaled(const char *s, uint64_t base, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	bool big = false;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			big = true;
		else
			v = v * 10 + d;
	}
	if (*p && base) {
		switch (*p) {
		case 'k': case 'K':
			mult = base;
			break;
		case 'm': case 'M':
			mult = base * base;
			break;
		case 'g': case 'G':
			mult = base * base * base;
			break;
		default:
			return -1;
		}
		p++;
	}
	if (*p)
		return -1;
	if (big || v > UINT64_MAX / mult)
		return -2;
	*out = v * mult;
	return 0;
}

/* Why a filter does not compile, from libpcap itself. The dead handle
 * gives pcap_compile a link type without opening any device. */
static int check_filter(const char *expr, char *why, size_t len)
{
	struct bpf_program prog;
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);

	if (!p) {
		snprintf(why, len, "cannot check it: out of memory");
		return -1;
	}
	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(why, len, "%s", pcap_geterr(p));
		pcap_close(p);
		return -1;
	}
	pcap_freecode(&prog);
	pcap_close(p);
	return 0;
}

/* Replace the string at *slot by a copy of value (NULL stores NULL).
 * On out of memory *slot is left as it was. */
static int replace_string(char **slot, const char *value)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy)
			return -1;
	}
	free(*slot);
	*slot = copy;
	return 0;
}

static int set_value(struct fs_config *c, const struct fs_config_key *k,
		     const char *value, const char *where, char *err,
		     size_t errlen);

/*
 * A source_vlans value: decimal ids separated by commas, blanks allowed
 * around each, at most FS_MAX_SOURCES of them (a device name has no
 * more sources). The same digit rules as numbers (no sign, no hex).
 * Returns 0 with out filled, or -1 with err; out is then untouched.
 */
static int parse_vlans(const struct fs_config_key *k, const char *value,
		       const char *form, struct fs_vlans *out,
		       const char *where, char *err, size_t errlen)
{
	struct fs_vlans v = { 0 };
	const char *p = value;

	for (;;) {
		const char *start;
		uint64_t id = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return fail(err, errlen, where, "%s: '%s' is not a list "
				    "of VLAN ids (%s)", k->name, value, form);
		/* past max, id stops growing: any number of digits */
		for (start = p; *p >= '0' && *p <= '9'; p++)
			if (id <= k->max)
				id = id * 10 + (uint64_t)(*p - '0');
		if (id > k->max)
			return fail(err, errlen, where, "%s: VLAN id %.*s is "
				    "out of range (%llu to %llu)", k->name,
				    (int)(p - start > 24 ? 24 : p - start),
				    start, (unsigned long long)k->min,
				    (unsigned long long)k->max);
		if (v.n == FS_MAX_SOURCES)
			return fail(err, errlen, where, "%s: more than %u VLAN "
				    "ids; a device name has at most %u sources",
				    k->name, (unsigned)FS_MAX_SOURCES,
				    (unsigned)FS_MAX_SOURCES);
		v.id[v.n++] = (uint16_t)id;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p != ',')
			return fail(err, errlen, where, "%s: '%s' is not a list "
				    "of VLAN ids (%s)", k->name, value, form);
		p++;
	}
	*out = v;
	return 0;
}

int fs_config_set(struct fs_config *c, const char *key, const char *value,
		  const char *where, char *err, size_t errlen)
{
	const struct fs_config_key *k;

	if (!c || !key || !value)
		return fail(err, errlen, where, "invalid argument");
	k = find_key(key);
	if (!k) {
		char list[256];

		list_keys(list, sizeof(list), false);
		return fail(err, errlen, where, "unknown key '%s' (keys: %s)",
			    key, list);
	}
	if (set_value(c, k, value, where, err, errlen) < 0)
		return -1;
	c->given |= 1ull << (k - keys);
	return 0;
}

bool fs_config_given(const struct fs_config *c, const char *key)
{
	const struct fs_config_key *k = find_key(key);

	return k != NULL && (c->given & (1ull << (k - keys)));
}

static int set_value(struct fs_config *c, const struct fs_config_key *k,
		     const char *value, const char *where, char *err,
		     size_t errlen)
{
	char form[192], why[PCAP_ERRBUF_SIZE];
	void *field;
	uint64_t v;
	struct stat st;
	int rc;

	describe(k, form, sizeof(form));
	if (!*value)
		return fail(err, errlen, where, "%s: empty value (expected %s)",
			    k->name, form);
	field = (char *)c + k->offset;

	switch (k->type) {
	case FS_KEY_MODE:
		if (strcmp(value, "live") == 0)
			*(enum fs_mode *)field = FS_MODE_LIVE;
		else if (strcmp(value, "trigger") == 0)
			*(enum fs_mode *)field = FS_MODE_TRIGGER;
		else
			return fail(err, errlen, where,
				    "%s: '%s' is not a mode (%s)",
				    k->name, value, form);
		return 0;

	case FS_KEY_FILTER:
		if (check_filter(value, why, sizeof(why)) < 0)
			return fail(err, errlen, where,
				    "%s: '%s' is not a valid pcap filter: %s",
				    k->name, value, why);
		break;

	case FS_KEY_SIZE:
	case FS_KEY_UINT:
	case FS_KEY_RATE:
		if (k->type == FS_KEY_RATE && strcmp(value, "unlimited") == 0) {
			v = 0;
			rc = 0;
		} else {
			rc = parse_scaled(value, k->type == FS_KEY_SIZE ? KIB :
					  k->type == FS_KEY_RATE ? 1000 : 0, &v);
		}
		if (rc == -1)
			return fail(err, errlen, where, "%s: '%s' is not a %s (%s)",
				    k->name, value,
				    k->type == FS_KEY_SIZE ? "size" : "number",
				    form);
		if (rc == -2 || v < k->min || v > k->max)
			return fail(err, errlen, where,
				    "%s: '%s' is out of range (%s)",
				    k->name, value, form);
		if (k->type == FS_KEY_UINT)
			*(uint32_t *)field = (uint32_t)v;
		else
			*(uint64_t *)field = v;
		return 0;

	case FS_KEY_DIR:
		/* Checked now so a typo fails pcap_activate() instead of
		 * every dump later; the dumper still handles the directory
		 * going away while capturing. */
		if (stat(value, &st) < 0)
			return fail(err, errlen, where, "%s: cannot use '%s': %s",
				    k->name, value, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return fail(err, errlen, where,
				    "%s: '%s' is not a directory", k->name, value);
		/* with the effective ids: they are what creates the files */
		if (faccessat(AT_FDCWD, value, W_OK | X_OK, AT_EACCESS) < 0)
			return fail(err, errlen, where,
				    "%s: cannot write to '%s': %s",
				    k->name, value, strerror(errno));
		break;

	case FS_KEY_CONTROL:
		if (strcmp(value, "off") == 0) {
			free(c->control);
			c->control = NULL;
			c->control_off = true;
			return 0;
		}
		/* Absolute because the capture may chdir; short enough for
		 * bind() so the failure shows here, not at activation. */
		if (value[0] != '/')
			return fail(err, errlen, where,
				    "%s: '%s' is not an absolute path or off",
				    k->name, value);
		if (strlen(value) >= SUN_PATH_LEN)
			return fail(err, errlen, where,
				    "%s: path is %zu bytes, at most %zu fit in "
				    "a socket address",
				    k->name, strlen(value), SUN_PATH_LEN - 1);
		if (replace_string(&c->control, value) < 0)
			return fail(err, errlen, where, "%s: out of memory",
				    k->name);
		c->control_off = false;
		return 0;

	case FS_KEY_EAL: {
		char **argv = NULL;

		/* refused here rather than when DPDK starts, so the error
		 * names the file and line */
		if (fs_config_split_args(value, &argv, why, sizeof(why)) < 0)
			return fail(err, errlen, where, "%s: %s", k->name, why);
		rc = fs_eal_args_check(argv, 0, why, sizeof(why));
		fs_config_free_argv(argv);
		if (rc < 0)
			return fail(err, errlen, where, "%s", why);
		break;
	}

	case FS_KEY_SOURCES: {
		struct fs_devname d;
		size_t n = strlen(value) + sizeof(FS_DEVNAME_PREFIX ":");
		char *dev = malloc(n);

		if (dev == NULL)
			return fail(err, errlen, where, "%s: out of memory",
				    k->name);
		snprintf(dev, n, FS_DEVNAME_PREFIX ":%s", value);
		rc = fs_devname_parse(dev, &d, why, sizeof(why));
		free(dev);
		if (rc < 0)
			return fail(err, errlen, where, "%s: %s", k->name, why);
		fs_devname_release(&d);
		break;
	}

	case FS_KEY_VLANS:
		return parse_vlans(k, value, form, (struct fs_vlans *)field,
				   where, err, errlen);

	case FS_KEY_STRING:
		break;

	case FS_KEY_BUS:
		if (!bus_ok(value))
			return fail(err, errlen, where, "%s: '%s' is not a NATS "
				    "server URL (%s)", k->name, value, form);
		break;

	case FS_KEY_SUBJECT:
		if (!subject_ok(value))
			return fail(err, errlen, where, "%s: '%s' is not a "
				    "subject (%s)", k->name, value, form);
		break;

	case FS_KEY_FILE:
		if (stat(value, &st) < 0)
			return fail(err, errlen, where, "%s: cannot use '%s': %s",
				    k->name, value, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return fail(err, errlen, where, "%s: '%s' is not a file",
				    k->name, value);
		if (faccessat(AT_FDCWD, value, R_OK, AT_EACCESS) < 0)
			return fail(err, errlen, where, "%s: cannot read '%s': "
				    "%s", k->name, value, strerror(errno));
		break;

	case FS_KEY_NAME:
		if (!fs_name_valid(value, strlen(value), k->max))
			return fail(err, errlen, where, "%s: '%s' is not a name "
				    "(1 to %llu letters, digits, '.', '_', '-', "
				    "not starting with '.' or '-')", k->name,
				    value, (unsigned long long)k->max);
		break;

	case FS_KEY_PROFILE:
		if (strcmp(value, "uniform") == 0)
			*(enum fs_gen_profile *)field = FS_GEN_UNIFORM;
		else if (strcmp(value, "realistic") == 0)
			*(enum fs_gen_profile *)field = FS_GEN_REALISTIC;
		else
			return fail(err, errlen, where,
				    "%s: '%s' is not a profile (uniform or "
				    "realistic)", k->name, value);
		return 0;

	case FS_KEY_TIME: {
		/* checked now; relative times are taken from now again when
		 * the capture is activated */
		char why[256];
		uint64_t ns;

		if (fs_time_parse(value, fs_time_now(), &ns, why,
				  sizeof(why)) < 0)
			return fail(err, errlen, where, "%s: %s", k->name, why);
		break;
	}
	}

	/* FILTER, DIR, EAL, SOURCES, STRING and TIME keep the text as
	 * given. */
	if (replace_string((char **)field, value) < 0)
		return fail(err, errlen, where, "%s: out of memory", k->name);
	return 0;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
	       ch == '\v' || ch == '\f';
}

/* Trim blanks in place; returns the first non-blank character. */
static char *trim(char *s)
{
	char *end;

	while (is_blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_blank(end[-1]))
		end--;
	*end = '\0';
	return s;
}

/*
 * A privileged program takes a config file only from root: every
 * directory on its real path is owned by root and writable by nobody
 * else (or sticky, like /tmp), so no one else can swap the file or a
 * link on the way, and the
 * real user may read it, so no error message shows a line of a file
 * that user could not read. On success real holds the resolved path,
 * which is the one to open.
 */
static int trusted_path(const char *path, char *real, char *err,
			size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;

	if (realpath(path, real) == NULL)
		return fail(err, errlen, NULL, "%s: cannot read config file: "
			    "%s", path, strerror(errno));
	/* access() checks with the real ids, the caller's own */
	if (access(real, R_OK) < 0)
		return fail(err, errlen, NULL, "%s: cannot read config file: "
			    "%s", path, strerror(errno));
	snprintf(dir, sizeof(dir), "%s", real);
	for (char *slash = strrchr(dir, '/'); slash != NULL;
	     slash = strrchr(dir, '/')) {
		slash[slash == dir] = '\0';	/* keep "/" itself */
		if (stat(dir, &st) < 0)
			return fail(err, errlen, NULL, "%s: %s: %s", path, dir,
				    strerror(errno));
		/* writable by others only with the sticky bit (/tmp), where
		 * no one else may rename or remove root's entries */
		if (st.st_uid != 0 ||
		    ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)))
			return fail(err, errlen, NULL, "%s: not taken by a "
				    "privileged program (setuid, setgid or file "
				    "capabilities): directory %s is not root's "
				    "alone (owner uid %u, mode %04o)", path, dir,
				    (unsigned)st.st_uid,
				    (unsigned)(st.st_mode & 07777));
		if (slash == dir)
			break;
	}
	return 0;
}

static int load_file(struct fs_config *c, const char *path, unsigned flags,
		     char *err, size_t errlen)
{
	char line[LINE_MAX_LEN + 2];	/* the line, its '\n' and NUL */
	char real[PATH_MAX];
	char *where = NULL;
	unsigned lineno = 0;
	size_t wlen;
	struct stat st;
	FILE *f;
	int fd, rc = -1;

	if (!c || !path)
		return fail(err, errlen, NULL, "invalid argument");
	if ((flags & FS_CONFIG_SECURE) &&
	    trusted_path(path, real, err, errlen) < 0)
		return -1;
	/* O_NONBLOCK: a FIFO must not block the open before it is seen
	 * not to be a file; O_CLOEXEC: no descriptor leaks into programs
	 * the application runs */
	fd = open(flags & FS_CONFIG_SECURE ? real : path,
		  O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return fail(err, errlen, NULL, "%s: cannot read config file: %s",
			    path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = errno;
		close(fd);
		return fail(err, errlen, NULL, "%s: cannot read config file: %s",
			    path, strerror(rc));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, NULL, "%s: not a regular file; a "
			    "config file must be one", path);
	}
	if ((flags & FS_CONFIG_SECURE) && (st.st_uid != 0 ||
					   (st.st_mode & 022))) {
		close(fd);
		return fail(err, errlen, NULL, "%s: not taken by a privileged "
			    "program (setuid, setgid or file capabilities): it "
			    "is not root's alone (owner uid %u, mode %04o)", path,
			    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	}
	f = fdopen(fd, "r");
	if (!f) {
		rc = errno;
		close(fd);
		return fail(err, errlen, NULL, "%s: cannot read config file: %s",
			    path, strerror(rc));
	}
	rc = -1;
	wlen = strlen(path) + 16;	/* ":" and a line number */
	where = malloc(wlen);
	if (!where) {
		fail(err, errlen, NULL, "%s: out of memory", path);
		goto done;
	}

	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		char *s, *eq, *key, *value;

		lineno++;
		snprintf(where, wlen, "%s:%u", path, lineno);
		if (len > 0 && line[len - 1] == '\n') {
			line[--len] = '\0';
		} else if (len == sizeof(line) - 1) {
			fail(err, errlen, where, "line is longer than %d bytes",
			     LINE_MAX_LEN);
			goto done;
		} else if (ferror(f)) {
			break;	/* reported below */
		} else if (!feof(f)) {
			/* fgets stopped at the newline but strlen at a NUL:
			 * the rest of the line would be silently dropped. */
			fail(err, errlen, where, "line contains a NUL byte");
			goto done;
		}

		s = strchr(line, '#');
		if (s)
			*s = '\0';
		s = trim(line);
		if (!*s)
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			fail(err, errlen, where,
			     "'%s' is not of the form key = value", s);
			goto done;
		}
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
		if (!*key) {
			fail(err, errlen, where, "missing key before '='");
			goto done;
		}
		if (value[0] == '"') {
			len = strlen(value);
			if (len < 2 || value[len - 1] != '"') {
				fail(err, errlen, where,
				     "%s: unbalanced double quote in value", key);
				goto done;
			}
			value[len - 1] = '\0';
			value++;
		}
		if (fs_config_set(c, key, value, where, err, errlen) < 0)
			goto done;
	}
	if (ferror(f)) {
		fail(err, errlen, NULL, "%s: cannot read config file: %s",
		     path, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	free(where);
	fclose(f);
	return rc;
}

int fs_config_load_file(struct fs_config *c, const char *path,
			char *err, size_t errlen)
{
	return load_file(c, path, 0, err, errlen);
}

static int load_env(struct fs_config *c, char *const envp[], unsigned flags,
		    char *err, size_t errlen)
{
	const size_t plen = strlen(ENV_PREFIX);

	if (!c)
		return fail(err, errlen, NULL, "invalid argument");
	if (!envp)
		return 0;
	for (size_t i = 0; envp[i]; i++) {
		const char *e = envp[i], *eq;
		const struct fs_config_key *k;
		char name[64];
		size_t nlen;

		if (strncmp(e, ENV_PREFIX, plen) != 0)
			continue;
		eq = strchr(e, '=');
		if (!eq)
			continue;	/* not a variable at all */
		nlen = (size_t)(eq - e);
		/* FLOWSCOPE_CTL_*: flowscope-ctl's own, not a capture's */
		if (nlen > strlen(ENV_CTL) &&
		    strncmp(e, ENV_CTL, strlen(ENV_CTL)) == 0)
			continue;
		if (flags & FS_CONFIG_SECURE)
			return fail(err, errlen, NULL, "%.*s: not taken by a "
				    "privileged program (setuid, setgid or file "
				    "capabilities), which takes nothing from its "
				    "environment; put the key in a config file "
				    "of root's and name it in the device "
				    "(flowscope/PATH:SOURCE)",
				    (int)(nlen > 64 ? 64 : nlen), e);
		if ((nlen == strlen(ENV_CONFIG) &&
		     strncmp(e, ENV_CONFIG, nlen) == 0) ||
		    (nlen == strlen(ENV_CONF_DIR) &&
		     strncmp(e, ENV_CONF_DIR, nlen) == 0))
			continue;
		k = find_key_upper(e + plen, nlen - plen);
		if (!k) {
			char list[256];

			list_keys(list, sizeof(list), true);
			return fail(err, errlen, NULL,
				    "%.*s: unknown variable (expected "
				    ENV_CONFIG " or " ENV_PREFIX "<KEY> with "
				    "KEY one of %s)", (int)nlen, e, list);
		}
		/* A key matched, so the name is short. */
		snprintf(name, sizeof(name), "%.*s", (int)nlen, e);
		if (fs_config_set(c, k->name, eq + 1, name, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int fs_config_load_env(struct fs_config *c, char *const envp[],
		       char *err, size_t errlen)
{
	return load_env(c, envp, 0, err, errlen);
}

/* The value of variable name in envp, or NULL. */
static const char *env_value(char *const envp[], const char *name)
{
	size_t len = strlen(name);

	if (!envp)
		return NULL;
	for (size_t i = 0; envp[i]; i++)
		if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
			return envp[i] + len + 1;
	return NULL;
}

/* c is treated as uninitialised on entry, like fs_config_init's. */
int fs_config_load_as(struct fs_config *c, const char *path,
		      char *const envp[], unsigned flags, char *err,
		      size_t errlen)
{
	if (!c)
		return fail(err, errlen, NULL, "invalid argument");
	fs_config_init(c);
	/* first: a privileged program refuses its environment before it
	 * reads any file that environment names */
	if ((flags & FS_CONFIG_SECURE) &&
	    load_env(c, envp, flags, err, errlen) < 0)
		goto fail;
	if (!path) {
		path = env_value(envp, ENV_CONFIG);
		if (path && !*path)
			path = NULL;
	}
	if (path && load_file(c, path, flags, err, errlen) < 0)
		goto fail;
	if (load_env(c, envp, flags, err, errlen) < 0)
		goto fail;
	if ((flags & FS_CONFIG_SECURE) && c->eal != NULL) {
		char **argv = NULL;
		char why[256];
		int rc = fs_config_split_args(c->eal, &argv, why, sizeof(why));

		if (rc >= 0)
			rc = fs_eal_args_check(argv, FS_EAL_ARGS_SECURE, why,
					       sizeof(why));
		fs_config_free_argv(argv);
		if (rc < 0) {
			fail(err, errlen, path, "%s", why);
			goto fail;
		}
	}
	return 0;
fail:
	/* Nothing starts half-configured. */
	fs_config_release(c);
	return -1;
}

int fs_config_load(struct fs_config *c, const char *path,
		   char *const envp[], char *err, size_t errlen)
{
	return fs_config_load_as(c, path, envp, 0, err, errlen);
}

void fs_config_free_argv(char **argv)
{
	if (!argv)
		return;
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* Append arg (len bytes of buf) to *argvp, keeping it NULL-terminated. */
static int push_arg(char ***argvp, size_t *n, size_t *cap,
		    const char *buf, size_t len)
{
	char *a;

	if (*n + 1 >= *cap) {
		size_t ncap = *cap * 2;
		char **na = realloc(*argvp, ncap * sizeof(*na));

		if (!na)
			return -1;
		*argvp = na;
		*cap = ncap;
	}
	a = malloc(len + 1);
	if (!a)
		return -1;
	memcpy(a, buf, len);
	a[len] = '\0';
	(*argvp)[(*n)++] = a;
	(*argvp)[*n] = NULL;
	return 0;
}

/*
 * sh-like word splitting without expansions: blanks are space, tab and
 * newline; '...' is literal; inside "..." and outside quotes a backslash
 * takes the next character literally. Quotes may join parts of one word
 * (a'b c'd is "ab cd"), and '' is an empty word.
 */
int fs_config_split_args(const char *s, char ***argvp, char *err, size_t errlen)
{
	char **argv = NULL, *buf = NULL;
	size_t n = 0, cap = 0;
	const char *p;
	int rc = -1;

	if (!argvp)
		return fail(err, errlen, NULL, "invalid argument");
	*argvp = NULL;
	if (!s)
		s = "";
	/* A word is never longer than the input it came from. */
	buf = malloc(strlen(s) + 1);
	cap = 8;
	argv = calloc(cap, sizeof(*argv));
	if (!buf || !argv) {
		fail(err, errlen, NULL, "out of memory");
		goto done;
	}

	p = s;
	for (;;) {
		size_t len = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
			if (*p == '\'') {
				const char *q = strchr(p + 1, '\'');

				if (!q) {
					fail(err, errlen, NULL,
					     "unbalanced single quote in '%s'", s);
					goto done;
				}
				memcpy(buf + len, p + 1, (size_t)(q - p - 1));
				len += (size_t)(q - p - 1);
				p = q + 1;
			} else if (*p == '"') {
				p++;
				while (*p && *p != '"') {
					if (*p == '\\' && p[1])
						p++;
					buf[len++] = *p++;
				}
				if (!*p) {
					fail(err, errlen, NULL,
					     "unbalanced double quote in '%s'", s);
					goto done;
				}
				p++;
			} else if (*p == '\\') {
				if (!p[1]) {
					fail(err, errlen, NULL,
					     "backslash at the end of '%s'", s);
					goto done;
				}
				buf[len++] = p[1];
				p += 2;
			} else {
				buf[len++] = *p++;
			}
		}
		if (push_arg(&argv, &n, &cap, buf, len) < 0) {
			fail(err, errlen, NULL, "out of memory");
			goto done;
		}
	}
	*argvp = argv;
	argv = NULL;
	rc = (int)n;
done:
	fs_config_free_argv(argv);
	free(buf);
	return rc;
}
