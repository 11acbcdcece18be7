/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of src/config.c: the key table and its defaults, every value
 * parser and its error text, the key = value file, FLOWSCOPE_* variables,
 * the precedence chain and the EAL argument splitter.
 */
/* nftw() is X/Open */
#define _XOPEN_SOURCE 700

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

/* Every file of a run lives in one mkdtemp directory that main() removes,
 * so files are cleaned up even when a forked test fails half-way. */
static char tmpdir[] = "/tmp/check_config_XXXXXX";

/* Write content (len bytes) to a new mkstemp file; its path goes to path. */
static void write_file_n(char *path, size_t size, const char *content,
			 size_t len)
{
	int fd;

	snprintf(path, size, "%s/conf_XXXXXX", tmpdir);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	close(fd);
}

static void write_file(char *path, size_t size, const char *content)
{
	write_file_n(path, size, content, strlen(content));
}

#define ck_assert_has(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) != NULL, \
		      "'%s' does not contain '%s'", (hay), (needle))

/* Field by field (memcmp would also compare padding); strings by pointer,
 * so "unchanged" also means "not reallocated". */
static bool same_config(const struct fs_config *a, const struct fs_config *b)
{
	return a->mode == b->mode && a->trigger == b->trigger &&
	       a->buffer == b->buffer && a->caplen == b->caplen &&
	       a->flow_timeout == b->flow_timeout &&
	       a->max_flows == b->max_flows && a->dump_dir == b->dump_dir &&
	       a->control == b->control && a->control_off == b->control_off &&
	       a->eal == b->eal && a->rx_queues == b->rx_queues &&
	       a->rx_slots == b->rx_slots && a->rx_mbufs == b->rx_mbufs &&
	       a->gen_flows == b->gen_flows &&
	       a->gen_rate == b->gen_rate && a->gen_packets == b->gen_packets &&
	       a->gen_size == b->gen_size && a->gen_profile == b->gen_profile &&
	       a->source == b->source &&
	       a->spool_dir == b->spool_dir && a->spool_size == b->spool_size &&
	       a->cutoff == b->cutoff && a->since == b->since &&
	       a->until == b->until && a->share == b->share &&
	       a->share_group == b->share_group && a->group == b->group &&
	       a->bus == b->bus && a->bus_subject == b->bus_subject &&
	       a->bus_creds == b->bus_creds && a->bus_ca == b->bus_ca &&
	       memcmp(&a->source_vlans, &b->source_vlans,
		      sizeof(a->source_vlans)) == 0;
}

/* fs_config_set must succeed. */
static void set_ok(struct fs_config *c, const char *key, const char *value)
{
	char err[512] = "";

	ck_assert_msg(fs_config_set(c, key, value, "test", err, sizeof(err)) == 0,
		      "%s = '%s' rejected: %s", key, value, err);
}

/*
 * fs_config_set must fail, leave c byte-for-byte unchanged, and say
 * "where: key: ..." containing part (when given).
 */
static void set_bad(struct fs_config *c, const char *key, const char *value,
		    const char *part)
{
	struct fs_config before = *c;
	char err[512] = "", prefix[128];

	ck_assert_msg(fs_config_set(c, key, value, "here:7", err, sizeof(err)) == -1,
		      "%s = '%s' accepted", key, value);
	ck_assert_msg(same_config(&before, c),
		      "%s = '%s' changed the config on error", key, value);
	snprintf(prefix, sizeof(prefix), "here:7: %s: ", key);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
		      "'%s' does not start with '%s'", err, prefix);
	if (part)
		ck_assert_has(err, part);
}

/* Check a number key: good values with their result, and its bounds. */
static uint64_t get_num(const struct fs_config *c, const char *key)
{
	if (!strcmp(key, "buffer")) return c->buffer;
	if (!strcmp(key, "caplen")) return c->caplen;
	if (!strcmp(key, "flow_timeout")) return c->flow_timeout;
	if (!strcmp(key, "max_flows")) return c->max_flows;
	if (!strcmp(key, "rx_queues")) return c->rx_queues;
	if (!strcmp(key, "rx_slots")) return c->rx_slots;
	if (!strcmp(key, "rx_mbufs")) return c->rx_mbufs;
	if (!strcmp(key, "gen_flows")) return c->gen_flows;
	if (!strcmp(key, "gen_rate")) return c->gen_rate;
	if (!strcmp(key, "gen_packets")) return c->gen_packets;
	if (!strcmp(key, "gen_size")) return c->gen_size;
	ck_abort_msg("no such number key %s", key);
	return 0;
}

static void num_ok(const char *key, const char *value, uint64_t want)
{
	struct fs_config c;

	fs_config_init(&c);
	set_ok(&c, key, value);
	ck_assert_msg(get_num(&c, key) == want, "%s = '%s' gave %llu, not %llu",
		      key, value, (unsigned long long)get_num(&c, key),
		      (unsigned long long)want);
	fs_config_release(&c);
}

static void num_bad(const char *key, const char *value, const char *part)
{
	struct fs_config c;

	fs_config_init(&c);
	set_bad(&c, key, value, part);
	fs_config_release(&c);
}

/* Bounds of a uint key: min and max accepted, min-1 and max+1 not. */
static void uint_bounds(const char *key, uint64_t min, uint64_t max)
{
	char v[32], range[64];

	snprintf(range, sizeof(range), "%llu to %llu", (unsigned long long)min,
		 (unsigned long long)max);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)min);
	num_ok(key, v, min);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)max);
	num_ok(key, v, max);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)(min - 1));
	num_bad(key, v, "out of range");
	num_bad(key, v, range);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)(max + 1));
	num_bad(key, v, "out of range");
	num_bad(key, v, range);
	/* forms no uint key takes */
	num_bad(key, "abc", "is not a number");
	num_bad(key, "abc", range);
	num_bad(key, "-1", "is not a number");
	num_bad(key, "+1", "is not a number");
	num_bad(key, " 1", "is not a number");
	num_bad(key, "1 ", "is not a number");
	num_bad(key, "1k", "is not a number");
	num_bad(key, "0x10", "is not a number");
	num_bad(key, "1.5", "is not a number");
	num_bad(key, "4294967296", "out of range");
	num_bad(key, "18446744073709551616", "out of range");
	num_bad(key, "99999999999999999999999999", "out of range");
}

/* ---- table and defaults ---- */

START_TEST(test_defaults)
{
	struct fs_config c;

	memset(&c, 0x5a, sizeof(c));
	fs_config_init(&c);
	ck_assert_int_eq(c.mode, FS_MODE_LIVE);
	ck_assert_ptr_null(c.trigger);
	ck_assert_uint_eq(c.buffer, 256ull << 20);
	ck_assert_uint_eq(c.caplen, 0);
	ck_assert_uint_eq(c.flow_timeout, 30);
	ck_assert_uint_eq(c.max_flows, 1048576);
	ck_assert_ptr_null(c.dump_dir);
	ck_assert_ptr_null(c.control);
	ck_assert(!c.control_off);
	ck_assert_ptr_null(c.eal);
	ck_assert_uint_eq(c.rx_queues, 1);
	ck_assert_uint_eq(c.rx_slots, 4096);
	ck_assert_uint_eq(c.gen_flows, 1000);
	ck_assert_uint_eq(c.gen_rate, 0);
	ck_assert_uint_eq(c.gen_packets, 0);
	ck_assert_uint_eq(c.gen_size, 64);
	ck_assert_uint_eq(c.source_vlans.n, 0);
	ck_assert(!fs_config_given(&c, "source_vlans"));
	fs_config_release(&c);
}
END_TEST

START_TEST(test_table)
{
	static const char *const names[] = {
		"mode", "trigger", "buffer", "caplen", "flow_timeout",
		"max_flows", "dump_dir", "control", "eal", "rx_queues",
		"rx_slots", "rx_mbufs", "gen_flows", "gen_rate", "gen_packets", "gen_size", "gen_profile",
		"source", "spool_dir", "spool_size", "cutoff", "since", "until", "source_vlans",
		"share", "share_group", "group", "bus", "bus_subject",
		"bus_creds", "bus_ca",
	};
	size_t n = 0;
	const struct fs_config_key *k = fs_config_keys(&n);

	ck_assert_ptr_nonnull(k);
	ck_assert_ptr_eq(fs_config_keys(NULL), k);
	ck_assert_uint_eq(n, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(k[i].name, names[i]);
		ck_assert_ptr_nonnull(k[i].def);
		ck_assert_ptr_nonnull(k[i].help);
		ck_assert_uint_gt(strlen(k[i].help), 10);
		ck_assert_uint_le(k[i].min, k[i].max);
		/* uint keys are stored in 32 bits */
		if (k[i].type == FS_KEY_UINT)
			ck_assert_uint_le(k[i].max, UINT32_MAX);
	}
	ck_assert_int_eq(k[0].type, FS_KEY_MODE);
	ck_assert_int_eq(k[1].type, FS_KEY_FILTER);
	ck_assert_int_eq(k[2].type, FS_KEY_SIZE);
	ck_assert_int_eq(k[3].type, FS_KEY_UINT);
	ck_assert_int_eq(k[6].type, FS_KEY_DIR);
	ck_assert_int_eq(k[7].type, FS_KEY_CONTROL);
	ck_assert_int_eq(k[8].type, FS_KEY_EAL);
	ck_assert_int_eq(k[13].type, FS_KEY_RATE);
	ck_assert_int_eq(k[14].type, FS_KEY_RATE);
	ck_assert_str_eq(k[7].def, "/run/flowscope/<pid>-<source>.sock");
	ck_assert_has(k[3].def, "snaplen");
	ck_assert_str_eq(k[2].def, "256m");
	ck_assert_str_eq(k[0].def, "live");
}
END_TEST

/* The docs' default texts, where they are values, give what init gives. */
START_TEST(test_table_defaults_agree)
{
	size_t n;
	const struct fs_config_key *k = fs_config_keys(&n);
	struct fs_config init, c;
	int checked = 0;

	fs_config_init(&init);
	for (size_t i = 0; i < n; i++) {
		if (k[i].type != FS_KEY_SIZE && k[i].type != FS_KEY_UINT &&
		    k[i].type != FS_KEY_RATE && k[i].type != FS_KEY_MODE)
			continue;
		if (!strcmp(k[i].name, "caplen"))
			continue;	/* "the application's snaplen" */
		fs_config_init(&c);
		set_ok(&c, k[i].name, k[i].def);
		ck_assert_msg(same_config(&c, &init),
			      "%s: def text '%s' is not the init value",
			      k[i].name, k[i].def);
		checked++;
	}
	ck_assert_int_eq(checked, 13);
}
END_TEST

START_TEST(test_release)
{
	struct fs_config c;

	fs_config_init(&c);
	set_ok(&c, "trigger", "tcp");
	set_ok(&c, "dump_dir", tmpdir);
	set_ok(&c, "control", "/tmp/x.sock");
	set_ok(&c, "eal", "-l 0");
	set_ok(&c, "buffer", "1g");
	fs_config_release(&c);
	ck_assert_ptr_null(c.trigger);
	ck_assert_ptr_null(c.dump_dir);
	ck_assert_ptr_null(c.control);
	ck_assert_ptr_null(c.eal);
	ck_assert_uint_eq(c.buffer, 256ull << 20);
	fs_config_release(&c);	/* twice is harmless */
}
END_TEST

/* ---- each key ---- */

/* source_vlans = value must give exactly the n ids of want. */
static void vlans_ok(const char *value, const uint16_t *want, uint32_t n)
{
	struct fs_config c;

	fs_config_init(&c);
	set_ok(&c, "source_vlans", value);
	ck_assert(fs_config_given(&c, "source_vlans"));
	ck_assert_msg(c.source_vlans.n == n, "'%s' gave %u ids, not %u", value,
		      c.source_vlans.n, n);
	for (uint32_t i = 0; i < n; i++)
		ck_assert_msg(c.source_vlans.id[i] == want[i],
			      "'%s': id %u is %u, not %u", value, i,
			      c.source_vlans.id[i], want[i]);
	fs_config_release(&c);
}

START_TEST(test_source_vlans)
{
	static const uint16_t two[] = { 10, 20 }, zero[] = { 0 },
		top[] = { 4095 }, three[] = { 10, 0, 30 }, lead[] = { 7, 8 };
	uint16_t many[16];
	char list[128] = "", range[] = "(0 to 4095)";
	struct fs_config c;
	size_t len = 0;

	vlans_ok("10,20", two, 2);
	vlans_ok("0", zero, 1);
	vlans_ok("4095", top, 1);
	vlans_ok("10, 0 ,\t30", three, 3);
	vlans_ok("007,0008", lead, 2);
	for (unsigned i = 0; i < 16; i++) {
		many[i] = (uint16_t)(100 + i);
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%u",
					i ? "," : "", 100 + i);
	}
	vlans_ok(list, many, 16);

	fs_config_init(&c);
	/* the last setting replaces the whole list */
	set_ok(&c, "source_vlans", "1,2,3");
	set_ok(&c, "source_vlans", "5");
	ck_assert_uint_eq(c.source_vlans.n, 1);
	ck_assert_uint_eq(c.source_vlans.id[0], 5);
	/* and a bad one leaves it as it was (set_bad checks) */
	set_bad(&c, "source_vlans", "4096", "VLAN id 4096 is out of range");
	set_bad(&c, "source_vlans", "4096", range);
	set_bad(&c, "source_vlans", "10,4096", "VLAN id 4096 is out of range");
	set_bad(&c, "source_vlans", "65546", "VLAN id 65546 is out of range");
	set_bad(&c, "source_vlans", "99999999999999999999999999",
		"is out of range");
	set_bad(&c, "source_vlans", "-1", "'-1' is not a list of VLAN ids");
	set_bad(&c, "source_vlans", "+1", "is not a list of VLAN ids");
	set_bad(&c, "source_vlans", "0x10", "is not a list of VLAN ids");
	set_bad(&c, "source_vlans", "10,,20", "is not a list of VLAN ids");
	set_bad(&c, "source_vlans", "10,", "is not a list of VLAN ids");
	set_bad(&c, "source_vlans", ",10", "is not a list of VLAN ids");
	set_bad(&c, "source_vlans", "10 20", "is not a list of VLAN ids");
	set_bad(&c, "source_vlans", "10;20", "is not a list of VLAN ids");
	set_bad(&c, "source_vlans", "none", "one per source");
	set_bad(&c, "source_vlans", "1.5", "e.g. 10,20");
	len = strlen(list);
	snprintf(list + len, sizeof(list) - len, ",0");
	set_bad(&c, "source_vlans", list, "more than 16 VLAN ids");
	ck_assert_uint_eq(c.source_vlans.n, 1);
	ck_assert_uint_eq(c.source_vlans.id[0], 5);
	fs_config_release(&c);
	ck_assert_uint_eq(c.source_vlans.n, 0);
}
END_TEST

START_TEST(test_mode)
{
	struct fs_config c;

	fs_config_init(&c);
	set_ok(&c, "mode", "trigger");
	ck_assert_int_eq(c.mode, FS_MODE_TRIGGER);
	set_ok(&c, "mode", "live");
	ck_assert_int_eq(c.mode, FS_MODE_LIVE);
	set_bad(&c, "mode", "Live", "'Live' is not a mode (live or trigger)");
	set_bad(&c, "mode", "triggered", "live or trigger");
	set_bad(&c, "mode", " live", "not a mode");
	fs_config_release(&c);
}
END_TEST

START_TEST(test_trigger)
{
	struct fs_config c;
	char err[512];

	fs_config_init(&c);
	set_ok(&c, "trigger", "tcp port 80");
	ck_assert_str_eq(c.trigger, "tcp port 80");
	/* overwrite frees the old copy (valgrind checks) */
	set_ok(&c, "trigger", "udp and dst port 53 or icmp");
	ck_assert_str_eq(c.trigger, "udp and dst port 53 or icmp");
	set_bad(&c, "trigger", "tcp port", "'tcp port' is not a valid pcap filter: ");
	set_bad(&c, "trigger", "port 99999", "not a valid pcap filter");
	set_bad(&c, "trigger", "((tcp", "not a valid pcap filter");
	ck_assert_str_eq(c.trigger, "udp and dst port 53 or icmp");
	/* the text after the colon is libpcap's own */
	ck_assert_int_eq(fs_config_set(&c, "trigger", "tcp port", NULL, err,
				       sizeof(err)), -1);
	ck_assert_has(err, "syntax error");
	fs_config_release(&c);
}
END_TEST

START_TEST(test_buffer)
{
	const char *form = "(a number with optional k, m or g suffix, 1m to 1024g)";

	num_ok("buffer", "1m", 1ull << 20);
	num_ok("buffer", "1M", 1ull << 20);
	num_ok("buffer", "2048k", 2ull << 20);
	num_ok("buffer", "2048K", 2ull << 20);
	num_ok("buffer", "4g", 4ull << 30);
	num_ok("buffer", "4G", 4ull << 30);
	num_ok("buffer", "1024g", 1ull << 40);
	num_ok("buffer", "1048576", 1ull << 20);
	num_ok("buffer", "1099511627776", 1ull << 40);
	num_ok("buffer", "0300m", 300ull << 20);	/* decimal, not octal */
	num_bad("buffer", "1048575", "out of range");
	num_bad("buffer", "1023k", "out of range");
	num_bad("buffer", "0", "out of range");
	num_bad("buffer", "1025g", form);
	num_bad("buffer", "1099511627777", "out of range");
	num_bad("buffer", "abc", "'abc' is not a size");
	num_bad("buffer", "abc", form);
	num_bad("buffer", "-1m", "is not a size");
	num_bad("buffer", "+1m", "is not a size");
	num_bad("buffer", "1 m", "is not a size");
	num_bad("buffer", "1mb", "is not a size");
	num_bad("buffer", "1.5g", "is not a size");
	num_bad("buffer", "m", "is not a size");
	num_bad("buffer", "1t", "is not a size");
	num_bad("buffer", "1kk", "is not a size");
	num_bad("buffer", "99999999999999999999k", "out of range");
	num_bad("buffer", "18446744073709551615", "out of range");
	num_bad("buffer", "18446744073709551616", "out of range");
	num_bad("buffer", "17179869184g", "out of range");	/* 2^64 */
	num_bad("buffer", "17592186044416m", "out of range");	/* 2^64 */
	/* 2^64 + 1g: wraps to a valid 1g unless the product is checked */
	num_bad("buffer", "17179869185g", "out of range");
	num_bad("buffer", "17179869185G", "out of range");
}
END_TEST

START_TEST(test_size_message)
{
	struct fs_config c;
	char err[512];

	/* the exact text users see */
	fs_config_init(&c);
	ck_assert_int_eq(fs_config_set(&c, "buffer", "abc", "edge.conf:3", err,
				       sizeof(err)), -1);
	ck_assert_str_eq(err, "edge.conf:3: buffer: 'abc' is not a size (a "
			 "number with optional k, m or g suffix, 1m to 1024g)");
	ck_assert_int_eq(fs_config_set(&c, "buffer", "abc", NULL, err,
				       sizeof(err)), -1);
	ck_assert_str_eq(err, "buffer: 'abc' is not a size (a number with "
			 "optional k, m or g suffix, 1m to 1024g)");
	ck_assert_int_eq(fs_config_set(&c, "flow_timeout", "0", "FLOWSCOPE_FLOW_TIMEOUT",
				       err, sizeof(err)), -1);
	ck_assert_str_eq(err, "FLOWSCOPE_FLOW_TIMEOUT: flow_timeout: '0' is out "
			 "of range (a whole number, 1 to 86400)");
	fs_config_release(&c);
}
END_TEST

START_TEST(test_uint_keys)
{
	uint_bounds("caplen", 1, 65535);
	uint_bounds("flow_timeout", 1, 86400);
	uint_bounds("max_flows", 1, 1u << 30);
	uint_bounds("rx_queues", 1, 64);
	uint_bounds("rx_slots", 64, 32768);
	uint_bounds("rx_mbufs", 0, 1u << 26);
	uint_bounds("gen_flows", 1, 16777216);
	uint_bounds("gen_size", 42, 9000);
	num_ok("caplen", "96", 96);
	num_ok("flow_timeout", "007", 7);
	num_ok("rx_slots", "1024", 1024);
}
END_TEST

static void rate_key(const char *key)
{
	num_ok(key, "unlimited", 0);
	num_ok(key, "0", 0);
	num_ok(key, "1", 1);
	num_ok(key, "10", 10);
	num_ok(key, "10k", 10000);
	num_ok(key, "10K", 10000);
	num_ok(key, "2m", 2000000);
	num_ok(key, "2M", 2000000);
	num_ok(key, "3g", 3000000000ull);
	num_ok(key, "3G", 3000000000ull);
	num_ok(key, "1000g", 1000000000000ull);
	num_ok(key, "1000000000000", 1000000000000ull);
	num_bad(key, "1001g", "out of range");
	num_bad(key, "1000000000001", "up to 1000g");
	num_bad(key, "99999999999999999999k", "out of range");
	num_bad(key, "18446744073709551616", "out of range");
	/* 2^55 * 10^9 and 2^61 * 10^3 wrap to 0, which would read as
	 * "unlimited" unless the product is checked */
	num_bad(key, "36028797018963968g", "out of range");
	num_bad(key, "2305843009213693952k", "out of range");
	num_bad(key, "abc", "'abc' is not a number");
	num_bad(key, "abc", "or unlimited");
	num_bad(key, "-5", "is not a number");
	num_bad(key, "10x", "is not a number");
	num_bad(key, "10kb", "is not a number");
	num_bad(key, "Unlimited", "is not a number");
	num_bad(key, "unlimitedx", "is not a number");
	num_bad(key, "infinity", "is not a number");
}

START_TEST(test_gen_rate)
{
	rate_key("gen_rate");
}
END_TEST

START_TEST(test_gen_packets)
{
	rate_key("gen_packets");
}
END_TEST

START_TEST(test_dump_dir)
{
	struct fs_config c;
	char path[256], missing[256], sub[256];

	fs_config_init(&c);
	set_ok(&c, "dump_dir", tmpdir);
	ck_assert_str_eq(c.dump_dir, tmpdir);
	set_ok(&c, "dump_dir", "/tmp");
	ck_assert_str_eq(c.dump_dir, "/tmp");

	snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
	set_bad(&c, "dump_dir", missing, "No such file or directory");
	set_bad(&c, "dump_dir", missing, missing);
	write_file(path, sizeof(path), "x");
	set_bad(&c, "dump_dir", path, "is not a directory");
	ck_assert_str_eq(c.dump_dir, "/tmp");

	/* root may write anywhere, so only a user sees this refusal */
	if (geteuid() != 0) {
		snprintf(sub, sizeof(sub), "%s/readonly", tmpdir);
		ck_assert_int_eq(mkdir(sub, 0500), 0);
		set_bad(&c, "dump_dir", sub, "cannot write to");
	}
	fs_config_release(&c);
}
END_TEST

START_TEST(test_control)
{
	struct fs_config c;
	char p107[128], p108[128];

	fs_config_init(&c);
	set_ok(&c, "control", "/tmp/x.sock");
	ck_assert_str_eq(c.control, "/tmp/x.sock");
	ck_assert(!c.control_off);
	set_ok(&c, "control", "off");
	ck_assert_ptr_null(c.control);
	ck_assert(c.control_off);
	set_ok(&c, "control", "/run/y.sock");
	ck_assert_str_eq(c.control, "/run/y.sock");
	ck_assert(!c.control_off);

	set_bad(&c, "control", "x.sock", "'x.sock' is not an absolute path or off");
	set_bad(&c, "control", "./x.sock", "not an absolute path");
	set_bad(&c, "control", "OFF", "not an absolute path");

	/* sun_path holds 108 bytes with the NUL */
	memset(p107, 'a', sizeof(p107));
	p107[0] = '/';
	p107[107] = '\0';
	set_ok(&c, "control", p107);
	ck_assert_str_eq(c.control, p107);
	memset(p108, 'b', sizeof(p108));
	p108[0] = '/';
	p108[108] = '\0';
	set_bad(&c, "control", p108, "at most 107");
	fs_config_release(&c);
}
END_TEST

START_TEST(test_eal)
{
	struct fs_config c;

	fs_config_init(&c);
	set_ok(&c, "eal", "--vdev=net_ring0 -l 0");
	ck_assert_str_eq(c.eal, "--vdev=net_ring0 -l 0");
	set_ok(&c, "eal", "--no-huge");
	ck_assert_str_eq(c.eal, "--no-huge");
	fs_config_release(&c);
}
END_TEST

/* Options after which DPDK ends the program, or that attach it to another
 * DPDK process, are refused however getopt_long would read them. */
START_TEST(test_eal_refused)
{
	static const char *const bad[] = {
		"-h", "--help", "--he", "--hel", "-vh", "-h -l 0", "-l 0 -h",
		"-v", "-vl0", "--log-level help", "--log-level=help",
		"--proc-type=secondary", "--proc-type auto", "--proc-t=auto",
		"a -h", "'-h'",
	};
	static const char *const good[] = {
		"-l 0", "-l -h", "-- -h", "--proc-type=primary", "-lh", "-nv",
		"--log-level=notice", "--log-level lib.eal:debug",
		"--h", "--vdev=net_ring0,-h", "-a 0000:03:00.0", "-d /x.so",
		"--file-prefix=x", "--huge-dir /mnt", "--trace-dir=/tmp",
	};
	struct fs_config c;

	fs_config_init(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		set_bad(&c, "eal", bad[i], "it is not passed to DPDK");
	set_bad(&c, "eal", "-h", "would make DPDK print its usage and end");
	set_bad(&c, "eal", "--proc-type=secondary", "primary process");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		set_ok(&c, "eal", good[i]);
	fs_config_release(&c);
}
END_TEST

START_TEST(test_empty_values)
{
	size_t n;
	const struct fs_config_key *k = fs_config_keys(&n);
	struct fs_config c;

	fs_config_init(&c);
	for (size_t i = 0; i < n; i++)
		set_bad(&c, k[i].name, "", "empty value (expected ");
	fs_config_release(&c);
}
END_TEST

START_TEST(test_unknown_key)
{
	struct fs_config c;
	char err[512];

	fs_config_init(&c);
	ck_assert_int_eq(fs_config_set(&c, "bufer", "1g", "x.conf:2", err,
				       sizeof(err)), -1);
	ck_assert_has(err, "x.conf:2: unknown key 'bufer'");
	ck_assert_has(err, "buffer");
	ck_assert_has(err, "gen_size");
	/* keys are case-sensitive */
	ck_assert_int_eq(fs_config_set(&c, "Mode", "live", NULL, err,
				       sizeof(err)), -1);
	ck_assert_has(err, "unknown key 'Mode'");
	fs_config_release(&c);
}
END_TEST

START_TEST(test_unchanged_on_error)
{
	struct fs_config c, before;
	char err[256];
	size_t n;
	const struct fs_config_key *k = fs_config_keys(&n);

	fs_config_init(&c);
	set_ok(&c, "trigger", "tcp");
	set_ok(&c, "eal", "-l 1");
	set_ok(&c, "control", "/tmp/c.sock");
	set_ok(&c, "dump_dir", "/tmp");
	set_ok(&c, "buffer", "2g");
	before = c;
	for (size_t i = 0; i < n; i++) {
		if (k[i].type == FS_KEY_STRING || k[i].type == FS_KEY_EAL)
			continue;	/* any text is good (a word, for eal) */
		ck_assert_int_eq(fs_config_set(&c, k[i].name, "bad value!",
					       NULL, err, sizeof(err)), -1);
		ck_assert_msg(same_config(&c, &before), "%s",
			      k[i].name);
	}
	fs_config_release(&c);
}
END_TEST

START_TEST(test_small_errbuf)
{
	struct fs_config c;
	char err[8];

	fs_config_init(&c);
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(fs_config_set(&c, "buffer", "abc", "somewhere",
				       err, sizeof(err)), -1);
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
	ck_assert_int_eq(fs_config_set(&c, "buffer", "abc", NULL, err, 4), -1);
	ck_assert_str_eq(err, "buf");
	ck_assert_int_eq(fs_config_set(&c, "buffer", "abc", NULL, err, 1), -1);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(fs_config_set(&c, "buffer", "abc", NULL, NULL, 0), -1);
	ck_assert_int_eq(fs_config_load_file(&c, "/nonexistent/x", err, 3), -1);
	ck_assert_str_eq(err, "/n");
	fs_config_release(&c);
}
END_TEST

/* ---- files ---- */

START_TEST(test_file_all_forms)
{
	struct fs_config c;
	char path[256], err[512] = "", text[1024];

	snprintf(text, sizeof(text),
		 "# flowscope test config\n"
		 "\n"
		 "   \t\n"
		 "mode = trigger\n"
		 "trigger = \"tcp port 80\"   # quoted, comment after\n"
		 "buffer=1g\n"
		 "\tcaplen\t=\t128\t\n"
		 "flow_timeout = 10\r\n"
		 "max_flows = 1000 # inline comment\n"
		 "dump_dir = %s\n"
		 "control = off\n"
		 "eal = --vdev=net_ring0 --no-huge\n"
		 "   # indented comment\n"
		 "rx_queues = 4\n"
		 "rx_slots = 1024\n"
		 "gen_flows = 10\n"
		 "gen_rate = 1m\n"
		 "gen_packets = 5k\n"
		 "gen_size = 128\n"
		 "source_vlans = 10, 0\n"
		 "flow_timeout = 20",	/* later wins; no final newline */
		 tmpdir);
	write_file(path, sizeof(path), text);
	fs_config_init(&c);
	ck_assert_msg(fs_config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(c.mode, FS_MODE_TRIGGER);
	ck_assert_str_eq(c.trigger, "tcp port 80");
	ck_assert_uint_eq(c.buffer, 1ull << 30);
	ck_assert_uint_eq(c.caplen, 128);
	ck_assert_uint_eq(c.flow_timeout, 20);
	ck_assert_uint_eq(c.max_flows, 1000);
	ck_assert_str_eq(c.dump_dir, tmpdir);
	ck_assert(c.control_off);
	ck_assert_ptr_null(c.control);
	ck_assert_str_eq(c.eal, "--vdev=net_ring0 --no-huge");
	ck_assert_uint_eq(c.rx_queues, 4);
	ck_assert_uint_eq(c.rx_slots, 1024);
	ck_assert_uint_eq(c.gen_flows, 10);
	ck_assert_uint_eq(c.gen_rate, 1000000);
	ck_assert_uint_eq(c.gen_packets, 5000);
	ck_assert_uint_eq(c.gen_size, 128);
	ck_assert_uint_eq(c.source_vlans.n, 2);
	ck_assert_uint_eq(c.source_vlans.id[0], 10);
	ck_assert_uint_eq(c.source_vlans.id[1], 0);
	fs_config_release(&c);
}
END_TEST

START_TEST(test_file_empty)
{
	struct fs_config c, d;
	char path[256], err[256];

	write_file(path, sizeof(path), "");
	fs_config_init(&c);
	fs_config_init(&d);
	ck_assert_int_eq(fs_config_load_file(&c, path, err, sizeof(err)), 0);
	ck_assert(same_config(&c, &d));
	write_file(path, sizeof(path), "# only\n\n   # comments\n");
	ck_assert_int_eq(fs_config_load_file(&c, path, err, sizeof(err)), 0);
	ck_assert(same_config(&c, &d));
}
END_TEST

START_TEST(test_file_comment_in_value)
{
	struct fs_config c;
	char path[256], err[256] = "";

	/* '#' starts a comment anywhere, even after the value's text */
	write_file(path, sizeof(path), "trigger = tcp # port 80\n");
	fs_config_init(&c);
	ck_assert_msg(fs_config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.trigger, "tcp");
	fs_config_release(&c);
}
END_TEST

/* Load a one-off file that must fail; err must hold PATH:LINE: and part. */
static void file_bad(const char *text, unsigned line, const char *part)
{
	struct fs_config c;
	char path[256], err[8192] = "", where[300];

	write_file(path, sizeof(path), text);
	fs_config_init(&c);
	ck_assert_msg(fs_config_load_file(&c, path, err, sizeof(err)) == -1,
		      "'%s' accepted", text);
	snprintf(where, sizeof(where), "%s:%u: ", path, line);
	ck_assert_msg(strncmp(err, where, strlen(where)) == 0,
		      "'%s' does not start with '%s'", err, where);
	ck_assert_has(err, part);
	fs_config_release(&c);
}

START_TEST(test_file_errors)
{
	file_bad("mode = live\njunk\n", 2, "'junk' is not of the form key = value");
	file_bad("# c\n\n= 5\n", 3, "missing key before '='");
	file_bad("mode =\n", 1, "mode: empty value");
	file_bad("mode = # nothing\n", 1, "mode: empty value");
	file_bad("mode = \"\"\n", 1, "mode: empty value");
	file_bad("mode = \"live\n", 1, "mode: unbalanced double quote");
	file_bad("mode = \"\n", 1, "unbalanced double quote");
	file_bad("mode = live\nfoo = 1\n", 2, "unknown key 'foo'");
	file_bad("MODE = live\n", 1, "unknown key 'MODE'");
	file_bad("\n\nbuffer = abc\n", 3, "buffer: 'abc' is not a size");
	file_bad("flow_timeout = 0\n", 1, "flow_timeout: '0' is out of range");
	file_bad("mode = both\n", 1, "mode: 'both' is not a mode");
	file_bad("trigger = tcp port\n", 1, "trigger: 'tcp port' is not a valid pcap filter");
	file_bad("control = rel.sock\n", 1, "control: 'rel.sock' is not an absolute path");
	file_bad("dump_dir = /nonexistent/dir\n", 1, "dump_dir: cannot use '/nonexistent/dir'");
	file_bad("gen_rate = fast\n", 1, "gen_rate: 'fast' is not a number");
}
END_TEST

START_TEST(test_file_error_exact)
{
	struct fs_config c;
	char path[256], err[512], want[600];

	write_file(path, sizeof(path), "mode = live\n\nbuffer = abc\n");
	fs_config_init(&c);
	ck_assert_int_eq(fs_config_load_file(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: buffer: 'abc' is not a size (a number "
		 "with optional k, m or g suffix, 1m to 1024g)", path);
	ck_assert_str_eq(err, want);
	fs_config_release(&c);
}
END_TEST

START_TEST(test_file_long_line)
{
	struct fs_config c;
	char path[256], err[512];
	static char text[10000];
	size_t len;

	/* exactly 4096 bytes before the newline: accepted */
	len = (size_t)snprintf(text, sizeof(text), "eal = ");
	memset(text + len, 'x', 4096 - len);
	strcpy(text + 4096, "\nmode = trigger\n");
	write_file(path, sizeof(path), text);
	fs_config_init(&c);
	ck_assert_msg(fs_config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(strlen(c.eal), 4096 - len);
	ck_assert_int_eq(c.mode, FS_MODE_TRIGGER);
	fs_config_release(&c);

	/* the same without the last newline: accepted too */
	text[4096] = '\0';
	write_file(path, sizeof(path), text);
	fs_config_init(&c);
	ck_assert_msg(fs_config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
	fs_config_release(&c);

	/* one more byte: an error, not a truncated value */
	text[4096] = 'x';
	strcpy(text + 4097, "\n");
	file_bad(text, 1, "line is longer than 4096 bytes");
	text[4097] = '\0';
	file_bad(text, 1, "line is longer than 4096 bytes");

	/* a long comment on line 2 is an error too */
	len = (size_t)snprintf(text, sizeof(text), "mode = live\n#");
	memset(text + len, 'c', 6000);
	strcpy(text + len + 6000, "\n");
	file_bad(text, 2, "longer than 4096");
}
END_TEST

START_TEST(test_file_nul_byte)
{
	struct fs_config c;
	char path[256], err[512];
	static const char text[] = "mode = trigger\0junk\nbuffer = 1g\n";

	write_file_n(path, sizeof(path), text, sizeof(text) - 1);
	fs_config_init(&c);
	ck_assert_int_eq(fs_config_load_file(&c, path, err, sizeof(err)), -1);
	ck_assert_has(err, ":1: line contains a NUL byte");
	fs_config_release(&c);
}
END_TEST

START_TEST(test_file_unreadable)
{
	struct fs_config c;
	char path[256], err[512], want[400];

	fs_config_init(&c);
	snprintf(path, sizeof(path), "%s/no-such.conf", tmpdir);
	ck_assert_int_eq(fs_config_load_file(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot read config file: %s", path,
		 strerror(ENOENT));
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(fs_config_load_file(&c, tmpdir, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: not a regular file; a config file "
		 "must be one", tmpdir);
	ck_assert_str_eq(err, want);

	if (geteuid() != 0) {
		write_file(path, sizeof(path), "mode = live\n");
		ck_assert_int_eq(chmod(path, 0), 0);
		ck_assert_int_eq(fs_config_load_file(&c, path, err, sizeof(err)), -1);
		ck_assert_has(err, "cannot read config file: ");
		ck_assert_has(err, strerror(EACCES));
	}
	fs_config_release(&c);
}
END_TEST

/* ---- environment ---- */

START_TEST(test_env_keys)
{
	struct fs_config c;
	char err[512] = "", dir[300];
	char *envp[32];
	int i = 0;

	snprintf(dir, sizeof(dir), "FLOWSCOPE_DUMP_DIR=%s", tmpdir);
	envp[i++] = "PATH=/usr/bin";
	envp[i++] = "FLOWSCOPE=ignored";
	envp[i++] = "XFLOWSCOPE_MODE=ignored";
	envp[i++] = "FLOWSCOPE_CONFIG=/nonexistent/ignored.conf";
	envp[i++] = "FLOWSCOPE_MODE=trigger";
	envp[i++] = "FLOWSCOPE_TRIGGER=udp";
	envp[i++] = "FLOWSCOPE_BUFFER=2G";
	envp[i++] = "FLOWSCOPE_CAPLEN=200";
	envp[i++] = "FLOWSCOPE_FLOW_TIMEOUT=5";
	envp[i++] = "FLOWSCOPE_MAX_FLOWS=77";
	envp[i++] = dir;
	envp[i++] = "FLOWSCOPE_CONTROL=/tmp/e.sock";
	envp[i++] = "FLOWSCOPE_EAL=-l 2 --no-huge";
	envp[i++] = "FLOWSCOPE_RX_QUEUES=2";
	envp[i++] = "FLOWSCOPE_RX_SLOTS=512";
	envp[i++] = "FLOWSCOPE_GEN_FLOWS=3";
	envp[i++] = "FLOWSCOPE_GEN_RATE=2k";
	envp[i++] = "FLOWSCOPE_GEN_PACKETS=7m";
	envp[i++] = "FLOWSCOPE_GEN_SIZE=60";
	envp[i++] = "FLOWSCOPE_SOURCE_VLANS=10,20";
	envp[i++] = "FLOWSCOPE_FLOW_TIMEOUT=6";	/* the later one wins */
	envp[i] = NULL;

	fs_config_init(&c);
	ck_assert_msg(fs_config_load_env(&c, envp, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(c.mode, FS_MODE_TRIGGER);
	ck_assert_str_eq(c.trigger, "udp");
	ck_assert_uint_eq(c.buffer, 2ull << 30);
	ck_assert_uint_eq(c.caplen, 200);
	ck_assert_uint_eq(c.flow_timeout, 6);
	ck_assert_uint_eq(c.max_flows, 77);
	ck_assert_str_eq(c.dump_dir, tmpdir);
	ck_assert_str_eq(c.control, "/tmp/e.sock");
	ck_assert_str_eq(c.eal, "-l 2 --no-huge");
	ck_assert_uint_eq(c.rx_queues, 2);
	ck_assert_uint_eq(c.rx_slots, 512);
	ck_assert_uint_eq(c.gen_flows, 3);
	ck_assert_uint_eq(c.gen_rate, 2000);
	ck_assert_uint_eq(c.gen_packets, 7000000);
	ck_assert_uint_eq(c.gen_size, 60);
	ck_assert_uint_eq(c.source_vlans.n, 2);
	ck_assert_uint_eq(c.source_vlans.id[0], 10);
	ck_assert_uint_eq(c.source_vlans.id[1], 20);
	fs_config_release(&c);

	fs_config_init(&c);
	ck_assert_int_eq(fs_config_load_env(&c, NULL, err, sizeof(err)), 0);
	envp[0] = NULL;
	ck_assert_int_eq(fs_config_load_env(&c, envp, err, sizeof(err)), 0);
	fs_config_release(&c);
}
END_TEST

static void env_bad(const char *var, const char *part1, const char *part2)
{
	struct fs_config c;
	char err[512] = "";
	char *envp[] = { "FLOWSCOPE_MODE=trigger", (char *)var, NULL };

	fs_config_init(&c);
	ck_assert_msg(fs_config_load_env(&c, envp, err, sizeof(err)) == -1,
		      "'%s' accepted", var);
	ck_assert_has(err, part1);
	if (part2)
		ck_assert_has(err, part2);
	fs_config_release(&c);
}

START_TEST(test_env_errors)
{
	env_bad("FLOWSCOPE_FOO=1", "FLOWSCOPE_FOO: unknown variable", "FLOW_TIMEOUT");
	env_bad("FLOWSCOPE_mode=live", "FLOWSCOPE_mode: unknown variable", NULL);
	env_bad("FLOWSCOPE_=1", "FLOWSCOPE_: unknown variable", NULL);
	env_bad("FLOWSCOPE_CONFIGX=a", "FLOWSCOPE_CONFIGX: unknown variable", NULL);
	env_bad("FLOWSCOPE_BUFFER=abc", "FLOWSCOPE_BUFFER: buffer: 'abc' is not a size", NULL);
	env_bad("FLOWSCOPE_BUFFER=", "FLOWSCOPE_BUFFER: buffer: empty value", NULL);
	env_bad("FLOWSCOPE_RX_QUEUES=65", "FLOWSCOPE_RX_QUEUES: rx_queues: '65' is out of range", "1 to 64");
	env_bad("FLOWSCOPE_MODE=x", "FLOWSCOPE_MODE: mode: 'x' is not a mode", NULL);
	env_bad("FLOWSCOPE_CONTROL=rel", "FLOWSCOPE_CONTROL: control:", "absolute");
	env_bad("FLOWSCOPE_TRIGGER=tcp port", "FLOWSCOPE_TRIGGER: trigger:", "pcap filter");
	env_bad("FLOWSCOPE_CTL=x", "FLOWSCOPE_CTL: unknown variable", NULL);
	env_bad("FLOWSCOPE_SOURCE_VLANS=10,4096", "FLOWSCOPE_SOURCE_VLANS: "
		"source_vlans: VLAN id 4096 is out of range", "0 to 4095");
	env_bad("FLOWSCOPE_SOURCE_VLANS=ten", "FLOWSCOPE_SOURCE_VLANS: "
		"source_vlans: 'ten' is not a list of VLAN ids", NULL);
}
END_TEST

/* flowscope-ctl's own variables live in the same environment as the
 * capture's; they are not capture keys and not errors */
START_TEST(test_env_ctl_variables_ignored)
{
	struct fs_config c;
	char err[512] = "";
	char *envp[] = { "FLOWSCOPE_CTL_SOCKET=/run/flowscope/1-eth0.sock",
			 "FLOWSCOPE_CTL_DIR=/tmp/x", "FLOWSCOPE_MODE=trigger",
			 NULL };

	fs_config_init(&c);
	ck_assert_int_eq(fs_config_load_env(&c, envp, err, sizeof(err)), 0);
	ck_assert_int_eq(c.mode, FS_MODE_TRIGGER);
	fs_config_release(&c);
}
END_TEST

/* ---- the precedence chain ---- */

START_TEST(test_load_defaults)
{
	struct fs_config c, d;
	char err[256];
	char *envp[] = { "HOME=/root", NULL };

	fs_config_init(&d);
	ck_assert_int_eq(fs_config_load(&c, NULL, envp, err, sizeof(err)), 0);
	ck_assert(same_config(&c, &d));
	fs_config_release(&c);
	ck_assert_int_eq(fs_config_load(&c, NULL, NULL, err, sizeof(err)), 0);
	ck_assert(same_config(&c, &d));
	fs_config_release(&c);
}
END_TEST

START_TEST(test_load_precedence)
{
	struct fs_config c;
	char path[256], err[512] = "";
	char *envp[] = { "FLOWSCOPE_FLOW_TIMEOUT=20", "FLOWSCOPE_EAL=env", NULL };

	write_file(path, sizeof(path),
		   "flow_timeout = 10\nbuffer = 1g\neal = file\n");
	ck_assert_msg(fs_config_load(&c, path, envp, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.flow_timeout, 20);	/* env > file */
	ck_assert_uint_eq(c.buffer, 1ull << 30);	/* file > default */
	ck_assert_str_eq(c.eal, "env");		/* old copy freed */
	ck_assert_uint_eq(c.max_flows, 1048576);	/* default */
	fs_config_release(&c);
}
END_TEST

START_TEST(test_load_config_var)
{
	struct fs_config c;
	char path[256], other[256], err[512] = "", var[300];
	char *envp[] = { var, "FLOWSCOPE_GEN_SIZE=100", NULL };

	write_file(path, sizeof(path), "gen_size = 50\ngen_flows = 5\n");
	snprintf(var, sizeof(var), "FLOWSCOPE_CONFIG=%s", path);
	/* used when the device names no file */
	ck_assert_msg(fs_config_load(&c, NULL, envp, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.gen_flows, 5);
	ck_assert_uint_eq(c.gen_size, 100);
	fs_config_release(&c);

	/* an explicit path beats it */
	write_file(other, sizeof(other), "gen_flows = 7\n");
	ck_assert_msg(fs_config_load(&c, other, envp, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.gen_flows, 7);
	ck_assert_uint_eq(c.gen_size, 100);
	fs_config_release(&c);

	/* ... even when the variable names a file that is missing */
	snprintf(var, sizeof(var), "FLOWSCOPE_CONFIG=%s/missing.conf", tmpdir);
	ck_assert_msg(fs_config_load(&c, other, envp, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.gen_flows, 7);
	fs_config_release(&c);

	/* which is an error when it is used */
	ck_assert_int_eq(fs_config_load(&c, NULL, envp, err, sizeof(err)), -1);
	ck_assert_has(err, "missing.conf: cannot read config file");

	/* an empty variable names no file */
	snprintf(var, sizeof(var), "FLOWSCOPE_CONFIG=");
	ck_assert_msg(fs_config_load(&c, NULL, envp, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.gen_flows, 1000);
	ck_assert_uint_eq(c.gen_size, 100);
	fs_config_release(&c);
}
END_TEST

START_TEST(test_load_errors_reset)
{
	struct fs_config c, d;
	char path[256], err[512] = "";
	char *envp_bad[] = { "FLOWSCOPE_EAL=x", "FLOWSCOPE_NOPE=1", NULL };
	char *envp_ok[] = { NULL };

	fs_config_init(&d);
	/* a bad file line: c back at defaults, error names file and line */
	write_file(path, sizeof(path), "trigger = tcp\neal = a\nmode = nope\n");
	ck_assert_int_eq(fs_config_load(&c, path, envp_ok, err, sizeof(err)), -1);
	ck_assert_has(err, path);
	ck_assert_has(err, ":3: mode:");
	ck_assert(same_config(&c, &d));

	/* a bad variable after a good file */
	write_file(path, sizeof(path), "trigger = tcp\ndump_dir = /tmp\n");
	ck_assert_int_eq(fs_config_load(&c, path, envp_bad, err, sizeof(err)), -1);
	ck_assert_has(err, "FLOWSCOPE_NOPE: unknown variable");
	ck_assert(same_config(&c, &d));
}
END_TEST

/* ---- EAL argument splitting ---- */

/* Split s; expect the given words, NULL-terminated list. */
static void split_ok(const char *s, ...)
{
	char **argv = (char **)1, err[256] = "";
	const char *want;
	va_list ap;
	int n, i = 0;

	n = fs_config_split_args(s, &argv, err, sizeof(err));
	ck_assert_msg(n >= 0, "'%s': %s", s ? s : "(null)", err);
	ck_assert_ptr_nonnull(argv);
	va_start(ap, s);
	while ((want = va_arg(ap, const char *)) != NULL) {
		ck_assert_msg(i < n, "'%s': only %d words", s, n);
		ck_assert_str_eq(argv[i], want);
		i++;
	}
	va_end(ap);
	ck_assert_int_eq(n, i);
	ck_assert_ptr_null(argv[n]);
	fs_config_free_argv(argv);
}

static void split_bad(const char *s, const char *part)
{
	char **argv = (char **)1, err[256] = "";

	ck_assert_int_eq(fs_config_split_args(s, &argv, err, sizeof(err)), -1);
	ck_assert_ptr_null(argv);
	ck_assert_has(err, part);
}

START_TEST(test_bus_keys)
{
	struct fs_config c;
	static const char *const good[] = {
		"nats://127.0.0.1:4222", "nats://bus.example", "tls://h:4443",
		"nats://[::1]:4222", "nats://u:p@h:1", "nats://a:1,nats://b:2",
	};
	static const char *const bad[] = {
		"http://h:1", "nats://", "nats://h:0", "nats://h:65536",
		"nats://h:x", "nats://h/path", "nats://h:1,", "nats://h h",
		"127.0.0.1:4222", "nats://[::1",
	};

	fs_config_init(&c);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		set_ok(&c, "bus", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		set_bad(&c, "bus", bad[i], "is not a NATS server URL");
	set_ok(&c, "bus_subject", "flowscope.trigger");
	set_ok(&c, "bus_subject", "site-1.edge_2.t");
	set_bad(&c, "bus_subject", "flowscope.*", "is not a subject");
	set_bad(&c, "bus_subject", "flowscope.>", "is not a subject");
	set_bad(&c, "bus_subject", "a..b", "is not a subject");
	set_bad(&c, "bus_subject", ".a", "is not a subject");
	set_bad(&c, "bus_subject", "a b", "is not a subject");
	set_ok(&c, "bus_creds", "/etc/hostname");
	set_bad(&c, "bus_creds", "/nonexistent/x.creds", "No such file");
	set_bad(&c, "bus_ca", "/etc", "is not a file");
	ck_assert_str_eq(c.bus, "nats://a:1,nats://b:2");
	ck_assert_str_eq(c.bus_subject, "site-1.edge_2.t");
	fs_config_release(&c);
}
END_TEST

START_TEST(test_split)
{
	split_ok("", NULL);
	split_ok(NULL, NULL);
	split_ok(" \t\n ", NULL);
	split_ok("--no-huge", "--no-huge", NULL);
	split_ok("  a  b\tc\nd  ", "a", "b", "c", "d", NULL);
	split_ok("--vdev=net_pcap0,iface=eth0 -l 0", "--vdev=net_pcap0,iface=eth0",
		 "-l", "0", NULL);
	split_ok("'a b' c", "a b", "c", NULL);
	split_ok("'a\\b' \"c\\\"d\"", "a\\b", "c\"d", NULL);
	split_ok("\"a \\\"b\\\" c\"", "a \"b\" c", NULL);
	split_ok("\"x\\\\y\"", "x\\y", NULL);
	split_ok("a\\ b", "a b", NULL);
	split_ok("\\'x", "'x", NULL);
	split_ok("''", "", NULL);
	split_ok("a '' b", "a", "", "b", NULL);
	split_ok("\"\"", "", NULL);
	split_ok("x'y z'w", "xy zw", NULL);
	split_ok("\"it's\"", "it's", NULL);
	split_ok("'say \"hi\"'", "say \"hi\"", NULL);
	split_ok("--vdev='net_pcap0,rx_pcap=/tmp/a b.pcap'",
		 "--vdev=net_pcap0,rx_pcap=/tmp/a b.pcap", NULL);
}
END_TEST

START_TEST(test_split_many)
{
	char s[1024], **argv = NULL, err[128];
	size_t len = 0;
	int n;

	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(s + len, sizeof(s) - len, "w%d ", i);
	n = fs_config_split_args(s, &argv, err, sizeof(err));
	ck_assert_int_eq(n, 100);
	ck_assert_str_eq(argv[0], "w0");
	ck_assert_str_eq(argv[99], "w99");
	ck_assert_ptr_null(argv[100]);
	fs_config_free_argv(argv);
	fs_config_free_argv(NULL);
}
END_TEST

START_TEST(test_split_errors)
{
	split_bad("'abc", "unbalanced single quote");
	split_bad("a 'b c", "unbalanced single quote");
	split_bad("\"abc", "unbalanced double quote");
	split_bad("\"abc\\\"", "unbalanced double quote");
	split_bad("a \"b\" \"c", "unbalanced double quote");
	split_bad("abc\\", "backslash at the end");
}
END_TEST

/* A FIFO (or any other non-regular file) is refused at once instead of
 * blocking the open until a writer comes. */
START_TEST(test_file_fifo)
{
	struct fs_config c;
	char path[256], err[512];

	fs_config_init(&c);
	snprintf(path, sizeof(path), "%s/fifo.conf", tmpdir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	alarm(5);	/* a blocking open fails the test instead of hanging */
	ck_assert_int_eq(fs_config_load_file(&c, path, err, sizeof(err)), -1);
	alarm(0);
	ck_assert_has(err, "not a regular file");
	ck_assert_int_eq(fs_config_load_file(&c, "/dev/null", err,
					     sizeof(err)), -1);
	ck_assert_has(err, "not a regular file");
	unlink(path);
	fs_config_release(&c);
}
END_TEST

/* Each load starts over on c: what an earlier one kept is released. */
static int load_secure(struct fs_config *c, const char *path,
		       char *const envp[], char *err, size_t errlen)
{
	fs_config_release(c);
	return fs_config_load_as(c, path, envp, FS_CONFIG_SECURE, err, errlen);
}

static int load_plain(struct fs_config *c, const char *path,
		      char *const envp[], char *err, size_t errlen)
{
	fs_config_release(c);
	return fs_config_load(c, path, envp, err, errlen);
}

/* A privileged program takes nothing from its environment. */
START_TEST(test_secure_env)
{
	char *const ctl[] = { "FLOWSCOPE_CTL_SOCKET=/x", "HOME=/", NULL };
	char *const eal[] = { "FLOWSCOPE_EAL=-d /tmp/evil.so", NULL };
	char *const cfg[] = { "FLOWSCOPE_CONFIG=/tmp/x.conf", NULL };
	char *const buf[] = { "FLOWSCOPE_BUFFER=1g", NULL };
	struct fs_config c;
	char err[512];

	fs_config_init(&c);
	ck_assert_msg(load_secure(&c, NULL, ctl, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(load_secure(&c, NULL, eal, err, sizeof(err)), -1);
	ck_assert_has(err, "FLOWSCOPE_EAL: not taken by a privileged program");
	ck_assert_ptr_null(c.eal);
	ck_assert_int_eq(load_secure(&c, NULL, cfg, err, sizeof(err)), -1);
	ck_assert_has(err, "FLOWSCOPE_CONFIG: not taken");
	ck_assert_int_eq(load_secure(&c, NULL, buf, err, sizeof(err)), -1);
	ck_assert_has(err, "FLOWSCOPE_BUFFER: not taken");
	ck_assert_uint_eq(c.buffer, 256u << 20);
	/* the same variables are taken by an ordinary program */
	ck_assert_msg(load_plain(&c, NULL, buf, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(c.buffer, 1u << 30);
	fs_config_release(&c);
}
END_TEST

/* A privileged program takes a config file only from root: not from a
 * directory others may write to (/tmp here), not when the file is
 * writable by others; and from such a file still no code-loading EAL
 * options. */
START_TEST(test_secure_file)
{
	char dir[] = "/run/check_config_XXXXXX";
	char path[300], link[300], err[512];
	struct fs_config c;
	FILE *f;

	char open_dir[200], want[400];

	fs_config_init(&c);

	/* a file in a directory everybody may write to */
	snprintf(open_dir, sizeof(open_dir), "%s/open", tmpdir);
	ck_assert_int_eq(mkdir(open_dir, 0777), 0);
	ck_assert_int_eq(chmod(open_dir, 0777), 0);
	snprintf(path, sizeof(path), "%s/x.conf", open_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("gen_flows = 7\n", f);
	fclose(f);
	ck_assert_msg(load_plain(&c, path, NULL, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(load_secure(&c, path, NULL, err, sizeof(err)), -1);
	ck_assert_has(err, "not taken by a privileged program");
	snprintf(want, sizeof(want), "directory %s is not root's alone",
		 open_dir);
	ck_assert_has(err, want);
	unlink(path);
	rmdir(open_dir);
	if (geteuid() != 0 || mkdtemp(dir) == NULL)
		return;	/* needs a directory chain of root's */
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/ok.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("gen_flows = 7\neal = -l 0\n", f);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_msg(load_secure(&c, path, NULL, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_uint_eq(c.gen_flows, 7);
	/* a link from /tmp to it: the real path is what is judged */
	snprintf(link, sizeof(link), "%s/link.conf", tmpdir);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_msg(load_secure(&c, link, NULL, err, sizeof(err)) == 0, "%s",
		      err);
	unlink(link);
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(load_secure(&c, path, NULL, err, sizeof(err)), -1);
	ck_assert_has(err, "it is not root's alone");
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(chmod(dir, 0775), 0);
	ck_assert_int_eq(load_secure(&c, path, NULL, err, sizeof(err)), -1);
	ck_assert_has(err, "is not root's alone");
	ck_assert_int_eq(chmod(dir, 0755), 0);
	f = fopen(path, "w");
	fputs("eal = -l 0 -d /tmp/evil.so\n", f);
	fclose(f);
	ck_assert_msg(load_plain(&c, path, NULL, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(load_secure(&c, path, NULL, err, sizeof(err)), -1);
	ck_assert_has(err, "'-d' loads a shared object");
	ck_assert_ptr_null(c.eal);
	f = fopen(path, "w");
	fputs("eal = --file-pre=x\n", f);
	fclose(f);
	ck_assert_int_eq(load_secure(&c, path, NULL, err, sizeof(err)), -1);
	ck_assert_has(err, "'--file-prefix' names files");
	unlink(path);
	rmdir(dir);
	fs_config_release(&c);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *t;

	t = tcase_create("table");
	tcase_add_test(t, test_defaults);
	tcase_add_test(t, test_table);
	tcase_add_test(t, test_table_defaults_agree);
	tcase_add_test(t, test_release);
	suite_add_tcase(s, t);

	t = tcase_create("keys");
	tcase_add_test(t, test_mode);
	tcase_add_test(t, test_trigger);
	tcase_add_test(t, test_buffer);
	tcase_add_test(t, test_size_message);
	tcase_add_test(t, test_uint_keys);
	tcase_add_test(t, test_gen_rate);
	tcase_add_test(t, test_gen_packets);
	tcase_add_test(t, test_dump_dir);
	tcase_add_test(t, test_control);
	tcase_add_test(t, test_eal);
	tcase_add_test(t, test_eal_refused);
	tcase_add_test(t, test_source_vlans);
	tcase_add_test(t, test_empty_values);
	tcase_add_test(t, test_unknown_key);
	tcase_add_test(t, test_unchanged_on_error);
	tcase_add_test(t, test_small_errbuf);
	suite_add_tcase(s, t);

	t = tcase_create("file");
	tcase_add_test(t, test_file_all_forms);
	tcase_add_test(t, test_file_empty);
	tcase_add_test(t, test_file_comment_in_value);
	tcase_add_test(t, test_file_errors);
	tcase_add_test(t, test_file_error_exact);
	tcase_add_test(t, test_file_long_line);
	tcase_add_test(t, test_file_nul_byte);
	tcase_add_test(t, test_file_unreadable);
	tcase_add_test(t, test_file_fifo);
	tcase_add_test(t, test_secure_env);
	tcase_add_test(t, test_secure_file);
	suite_add_tcase(s, t);

	t = tcase_create("env");
	tcase_add_test(t, test_env_keys);
	tcase_add_test(t, test_env_errors);
	tcase_add_test(t, test_env_ctl_variables_ignored);
	suite_add_tcase(s, t);

	t = tcase_create("load");
	tcase_add_test(t, test_load_defaults);
	tcase_add_test(t, test_load_precedence);
	tcase_add_test(t, test_load_config_var);
	tcase_add_test(t, test_load_errors_reset);
	suite_add_tcase(s, t);

	t = tcase_create("split");
	tcase_add_test(t, test_bus_keys);
	tcase_add_test(t, test_split);
	tcase_add_test(t, test_split_many);
	tcase_add_test(t, test_split_errors);
	suite_add_tcase(s, t);
	return s;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
