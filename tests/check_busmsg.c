/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of src/busmsg.c: the bus's trigger message. Keys that the
 * flow tracker makes from real frames come back from a round trip equal
 * byte for byte (so a receiving capture finds the same flow), filters
 * come back as they were, and every kind of bad message is refused with
 * its reason, never half taken.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "busmsg.h"

static struct fs_bus_msg base(void)
{
	struct fs_bus_msg m;

	memset(&m, 0, sizeof(m));
	snprintf(m.host, sizeof(m.host), "sensor-1");
	snprintf(m.capture, sizeof(m.capture), "eth0");
	m.instance = 0x0123456789abcdefull;
	m.time_ns = 1796320000123456789ull;
	return m;
}

/* The key fs_flow_parse makes of a frame fs_flow_synth builds for k in
 * direction dir. */
static struct fs_flow_key tracked(const struct fs_flow_key *k, uint8_t dir)
{
	uint8_t frame[160];
	struct fs_pkt_info info;
	size_t n = fs_flow_synth(k, dir, 0x04, frame, sizeof(frame));

	ck_assert_uint_gt(n, 0);
	fs_flow_parse(frame, (uint32_t)n, &info);
	return info.key;
}

static void round_trip(const struct fs_flow_key *k)
{
	struct fs_bus_msg m = base(), out;
	char buf[FS_BUS_MSG_MAX];
	size_t n;

	m.has_key = true;
	m.key = *k;
	n = fs_bus_encode(&m, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(fs_bus_decode(buf, n, &out), FS_BUS_OK);
	ck_assert(out.has_key);
	ck_assert_msg(memcmp(&out.key, k, sizeof(*k)) == 0,
		      "the key changed on the way: %.*s", (int)n, buf);
	ck_assert_str_eq(out.host, "sensor-1");
	ck_assert_str_eq(out.capture, "eth0");
	ck_assert_uint_eq(out.instance, m.instance);
	ck_assert_uint_eq(out.time_ns, m.time_ns);
}

START_TEST(keys_of_real_frames)
{
	struct fs_flow_key k;

	memset(&k, 0, sizeof(k));
	k.kind = FS_FLOW_IP4;
	k.ethertype = 0x0800;
	k.proto = 6;
	inet_pton(AF_INET, "10.0.0.5", k.a);
	inet_pton(AF_INET, "192.0.2.9", k.b);
	k.port_a = 40000;
	k.port_b = 80;
	for (uint8_t dir = 0; dir < 2; dir++) {
		struct fs_flow_key t = tracked(&k, dir);

		round_trip(&t);
	}
	memset(&k, 0, sizeof(k));
	k.kind = FS_FLOW_IP6;
	k.ethertype = 0x86dd;
	k.proto = 17;
	inet_pton(AF_INET6, "fd00::1", k.a);
	inet_pton(AF_INET6, "2001:db8::7", k.b);
	k.port_a = 5353;
	k.port_b = 53;
	for (uint8_t dir = 0; dir < 2; dir++) {
		struct fs_flow_key t = tracked(&k, dir);

		round_trip(&t);
	}
	/* ICMP: no ports */
	memset(&k, 0, sizeof(k));
	k.kind = FS_FLOW_IP4;
	k.ethertype = 0x0800;
	k.proto = 1;
	inet_pton(AF_INET, "10.9.9.9", k.a);
	inet_pton(AF_INET, "10.1.1.1", k.b);
	{
		struct fs_flow_key t = tracked(&k, 0);

		round_trip(&t);
	}
	/* non-IP */
	memset(&k, 0, sizeof(k));
	k.kind = FS_FLOW_L2;
	k.ethertype = 0x88cc;
	memcpy(k.a, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(k.b, "\x02\x00\x00\x00\x00\x02", 6);
	round_trip(&k);
}
END_TEST

START_TEST(filters)
{
	static const char *const f[] = { "host 10.0.0.5", "", "tcp and port 443",
					 "not (udp or icmp)" };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct fs_bus_msg m = base(), out;
		char buf[FS_BUS_MSG_MAX];
		size_t n;

		snprintf(m.filter, sizeof(m.filter), "%s", f[i]);
		n = fs_bus_encode(&m, buf, sizeof(buf));
		ck_assert_uint_gt(n, 0);
		ck_assert_int_eq(fs_bus_decode(buf, n, &out), FS_BUS_OK);
		ck_assert(!out.has_key);
		ck_assert_str_eq(out.filter, f[i]);
	}
}
END_TEST

START_TEST(a_swapped_key_is_made_canonical)
{
	const char *msg = "flowscope-trigger 1\norigin h c 0000000000000001\n"
			  "time 5\nflow 4 17 10.0.0.9 53 10.0.0.1 1000 0800\n";
	struct fs_bus_msg m;
	char a[INET_ADDRSTRLEN];

	ck_assert_int_eq(fs_bus_decode(msg, strlen(msg), &m), FS_BUS_OK);
	inet_ntop(AF_INET, m.key.a, a, sizeof(a));
	ck_assert_str_eq(a, "10.0.0.1");
	ck_assert_uint_eq(m.key.port_a, 1000);
	ck_assert_uint_eq(m.key.port_b, 53);
}
END_TEST

static void refused(const char *msg, enum fs_bus_refusal want)
{
	struct fs_bus_msg m;

	ck_assert_msg(fs_bus_decode(msg, strlen(msg), &m) == want,
		      "'%s' was not refused as %s", msg,
		      fs_bus_refusal_name(want));
}

START_TEST(refusals)
{
	char big[FS_BUS_MSG_MAX + 10];
	struct fs_bus_msg m;
	const char *ok = "flowscope-trigger 1\norigin h c 0000000000000001\n"
			 "time 5\nfilter host 10.0.0.1\n";

	ck_assert_int_eq(fs_bus_decode(ok, strlen(ok), &m), FS_BUS_OK);
	/* every strict prefix of a good message is refused */
	for (size_t n = 0; n < strlen(ok); n++)
		ck_assert_msg(fs_bus_decode(ok, n, &m) != FS_BUS_OK,
			      "a prefix of %zu bytes was accepted", n);
	refused("flowscope-trigger 2\norigin h c 0000000000000001\ntime 5\n"
		"filter x\n", FS_BUS_VERSION_UNKNOWN);
	refused("flowscope-list 1\n", FS_BUS_WRONG_SUBJECT);
	refused("hello\n", FS_BUS_MALFORMED);
	refused("flowscope-trigger 1\norigin h c 000000000000000g\ntime 5\n"
		"filter x\n", FS_BUS_MALFORMED);
	refused("flowscope-trigger 1\norigin h c 0000000000000001\ntime 5\n"
		"filter x\nfilter y\n", FS_BUS_MALFORMED);
	refused("flowscope-trigger 1\norigin h c 0000000000000001\ntime 5\n"
		"flow 4 6 10.0.0.1 1 10.0.0.2 2 86dd\n", FS_BUS_MALFORMED);
	refused("flowscope-trigger 1\norigin h c 0000000000000001\ntime 5\n"
		"flow 4 6 10.0.0.1 1 10.0.0.2 70000 0800\n", FS_BUS_MALFORMED);
	refused("flowscope-trigger 1\norigin h c 0000000000000001\ntime 5\n"
		"flow 2 6 02:00:00:00:00:01 0 02:00:00:00:00:02 0 88cc\n",
		FS_BUS_MALFORMED);
	refused("flowscope-trigger 1\norigin h c 0000000000000001\ntime 5\n"
		"flow 4 6 10.0.0.1 1 10.0.0.2 2 0800 extra\n", FS_BUS_MALFORMED);
	refused("flowscope-trigger 1\norigin h c 0000000000000001\ntime -5\n"
		"filter x\n", FS_BUS_MALFORMED);
	refused("flowscope-trigger 1\norigin h c 0000000000000001\ntime 5\n"
		"filter tab\there\n", FS_BUS_MALFORMED);
	/* a NUL inside */
	ck_assert_int_eq(fs_bus_decode("flowscope-trigger 1\0\n", 21, &m),
			 FS_BUS_MALFORMED);
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(fs_bus_decode(big, sizeof(big), &m), FS_BUS_TOO_LARGE);
}
END_TEST

START_TEST(requests)
{
	enum fs_bus_refusal why = FS_BUS_OK;

	ck_assert_int_eq(fs_bus_request("flowscope-list 1\n", 17, &why),
			 FS_BUS_REQ_LIST);
	ck_assert_int_eq(fs_bus_request("flowscope-stats 1\n", 18, &why),
			 FS_BUS_REQ_STATS);
	ck_assert_int_eq(fs_bus_request("flowscope-list 7\n", 17, &why), 0);
	ck_assert_int_eq(why, FS_BUS_VERSION_UNKNOWN);
	ck_assert_int_eq(fs_bus_request("flowscope-trigger 1\n", 20, &why), 0);
	ck_assert_int_eq(why, FS_BUS_WRONG_SUBJECT);
	ck_assert_int_eq(fs_bus_request("x", 1, &why), 0);
	ck_assert_int_eq(why, FS_BUS_MALFORMED);
}
END_TEST

START_TEST(encode_refuses_what_it_cannot_write)
{
	struct fs_bus_msg m = base();
	char buf[FS_BUS_MSG_MAX], small[40];

	snprintf(m.host, sizeof(m.host), "two words");
	ck_assert_uint_eq(fs_bus_encode(&m, buf, sizeof(buf)), 0);
	m = base();
	snprintf(m.filter, sizeof(m.filter), "new\nline");
	ck_assert_uint_eq(fs_bus_encode(&m, buf, sizeof(buf)), 0);
	m = base();
	ck_assert_uint_eq(fs_bus_encode(&m, small, sizeof(small)), 0);
}
END_TEST

static Suite *busmsg_suite(void)
{
	Suite *s = suite_create("busmsg");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, keys_of_real_frames);
	tcase_add_test(tc, filters);
	tcase_add_test(tc, a_swapped_key_is_made_canonical);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, requests);
	tcase_add_test(tc, encode_refuses_what_it_cannot_write);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(busmsg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
