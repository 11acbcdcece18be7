/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of src/devname.c: which names are flowscope's, how
 * flowscope[/CONFIG_FILE]:SOURCE[:SOURCE...] is taken apart, and the text of
 * every rejection (it is what tcpdump prints to the user).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devname.h"

/* Parse a name that must be rejected; err must contain every given part. */
static void expect_error(const char *name, const char *part1, const char *part2)
{
	struct fs_devname d;
	char err[512];

	memset(&d, 0xa5, sizeof(d));
	err[0] = '\0';
	ck_assert_msg(fs_devname_parse(name, &d, err, sizeof(err)) == -1,
		      "'%s' was accepted", name);
	/* "out holds nothing to release on error" */
	ck_assert_ptr_null(d.config_path);
	ck_assert_uint_eq(d.nsources, 0);
	ck_assert_msg(err[0] != '\0', "'%s': empty error text", name);
	if (part1)
		ck_assert_msg(strstr(err, part1), "'%s': '%s' lacks '%s'",
			      name, err, part1);
	if (part2)
		ck_assert_msg(strstr(err, part2), "'%s': '%s' lacks '%s'",
			      name, err, part2);
}

static void parse_ok(const char *name, struct fs_devname *d)
{
	char err[512] = "";

	ck_assert_msg(fs_devname_parse(name, d, err, sizeof(err)) == 0,
		      "'%s' rejected: %s", name, err);
}

START_TEST(test_is_ours)
{
	ck_assert(fs_devname_is_ours("flowscope"));
	ck_assert(fs_devname_is_ours("flowscope:eth0"));
	ck_assert(fs_devname_is_ours("flowscope:"));
	ck_assert(fs_devname_is_ours("flowscope/edge.conf:eth0"));
	ck_assert(fs_devname_is_ours("flowscope/"));
	ck_assert(!fs_devname_is_ours("flowscopex"));
	ck_assert(!fs_devname_is_ours("flowscope0:eth0"));
	ck_assert(!fs_devname_is_ours("flowscop"));
	ck_assert(!fs_devname_is_ours("Flowscope:eth0"));
	ck_assert(!fs_devname_is_ours("eth0"));
	ck_assert(!fs_devname_is_ours("any"));
	ck_assert(!fs_devname_is_ours(""));
	ck_assert(!fs_devname_is_ours(NULL));
}
END_TEST

START_TEST(test_one_iface)
{
	struct fs_devname d;

	parse_ok("flowscope:eth0", &d);
	ck_assert_ptr_null(d.config_path);
	ck_assert_uint_eq(d.nsources, 1);
	ck_assert_int_eq(d.sources[0].kind, FS_SRC_IFACE);
	ck_assert_str_eq(d.sources[0].arg, "eth0");
	fs_devname_release(&d);
	ck_assert_ptr_null(d.config_path);
	ck_assert_uint_eq(d.nsources, 0);
	fs_devname_release(&d);	/* a second release is harmless */
}
END_TEST

START_TEST(test_two_ifaces)
{
	struct fs_devname d;

	parse_ok("flowscope:eth0:eth1", &d);
	ck_assert_ptr_null(d.config_path);
	ck_assert_uint_eq(d.nsources, 2);
	ck_assert_int_eq(d.sources[0].kind, FS_SRC_IFACE);
	ck_assert_str_eq(d.sources[0].arg, "eth0");
	ck_assert_int_eq(d.sources[1].kind, FS_SRC_IFACE);
	ck_assert_str_eq(d.sources[1].arg, "eth1");
	fs_devname_release(&d);
}
END_TEST

START_TEST(test_config_relative)
{
	struct fs_devname d;

	parse_ok("flowscope/edge.conf:eth0", &d);
	ck_assert_str_eq(d.config_path, "edge.conf");
	ck_assert_uint_eq(d.nsources, 1);
	ck_assert_str_eq(d.sources[0].arg, "eth0");
	fs_devname_release(&d);
}
END_TEST

START_TEST(test_config_absolute)
{
	struct fs_devname d;

	parse_ok("flowscope//etc/flowscope/edge.conf:eth0", &d);
	ck_assert_str_eq(d.config_path, "/etc/flowscope/edge.conf");
	ck_assert_uint_eq(d.nsources, 1);
	ck_assert_int_eq(d.sources[0].kind, FS_SRC_IFACE);
	ck_assert_str_eq(d.sources[0].arg, "eth0");
	fs_devname_release(&d);
}
END_TEST

START_TEST(test_dpdk)
{
	struct fs_devname d;

	parse_ok("flowscope:dpdk0", &d);
	ck_assert_uint_eq(d.nsources, 1);
	ck_assert_int_eq(d.sources[0].kind, FS_SRC_DPDK);
	ck_assert_uint_eq(d.sources[0].port, 0);
	ck_assert_ptr_null(d.sources[0].arg);
	fs_devname_release(&d);

	parse_ok("flowscope:dpdk65535:dpdk1", &d);
	ck_assert_uint_eq(d.nsources, 2);
	ck_assert_int_eq(d.sources[0].kind, FS_SRC_DPDK);
	ck_assert_uint_eq(d.sources[0].port, 65535);
	ck_assert_int_eq(d.sources[1].kind, FS_SRC_DPDK);
	ck_assert_uint_eq(d.sources[1].port, 1);
	fs_devname_release(&d);
}
END_TEST

START_TEST(test_dpdk_like_ifaces)
{
	struct fs_devname d;

	/* "dpdk" not followed by digits only is an interface name. */
	parse_ok("flowscope:dpdkx:dpdk:dpdk0x:dpdk-1", &d);
	ck_assert_uint_eq(d.nsources, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(d.sources[i].kind, FS_SRC_IFACE);
	ck_assert_str_eq(d.sources[0].arg, "dpdkx");
	ck_assert_str_eq(d.sources[1].arg, "dpdk");
	ck_assert_str_eq(d.sources[2].arg, "dpdk0x");
	ck_assert_str_eq(d.sources[3].arg, "dpdk-1");
	fs_devname_release(&d);
}
END_TEST

START_TEST(test_dpdk_range)
{
	expect_error("flowscope:dpdk99999", "'dpdk99999'", "out of range");
	expect_error("flowscope:dpdk65536", "'dpdk65536'", "out of range");
	expect_error("flowscope:dpdk99999999999999999999999", "out of range",
		     "0 to 65535");
}
END_TEST

START_TEST(test_file)
{
	struct fs_devname d;

	parse_ok("flowscope:file=/tmp/x.pcap", &d);
	ck_assert_uint_eq(d.nsources, 1);
	ck_assert_int_eq(d.sources[0].kind, FS_SRC_FILE);
	ck_assert_str_eq(d.sources[0].arg, "/tmp/x.pcap");
	fs_devname_release(&d);

	parse_ok("flowscope:file=rel.pcapng", &d);
	ck_assert_int_eq(d.sources[0].kind, FS_SRC_FILE);
	ck_assert_str_eq(d.sources[0].arg, "rel.pcapng");
	fs_devname_release(&d);

	expect_error("flowscope:file=", "'file='", "path");
	expect_error("flowscope:eth0:file=", "'file='", "path");
}
END_TEST

START_TEST(test_gen)
{
	struct fs_devname d;

	parse_ok("flowscope:gen", &d);
	ck_assert_uint_eq(d.nsources, 1);
	ck_assert_int_eq(d.sources[0].kind, FS_SRC_GEN);
	ck_assert_ptr_null(d.sources[0].arg);
	fs_devname_release(&d);
}
END_TEST

START_TEST(test_mixed)
{
	struct fs_devname d;

	parse_ok("flowscope/a.conf:eth0:dpdk3:file=/tmp/a.pcap:gen:file=eth0", &d);
	ck_assert_str_eq(d.config_path, "a.conf");
	ck_assert_uint_eq(d.nsources, 5);
	ck_assert_int_eq(d.sources[0].kind, FS_SRC_IFACE);
	ck_assert_str_eq(d.sources[0].arg, "eth0");
	ck_assert_int_eq(d.sources[1].kind, FS_SRC_DPDK);
	ck_assert_uint_eq(d.sources[1].port, 3);
	ck_assert_int_eq(d.sources[2].kind, FS_SRC_FILE);
	ck_assert_str_eq(d.sources[2].arg, "/tmp/a.pcap");
	ck_assert_int_eq(d.sources[3].kind, FS_SRC_GEN);
	/* same text, other kind: not a duplicate */
	ck_assert_int_eq(d.sources[4].kind, FS_SRC_FILE);
	ck_assert_str_eq(d.sources[4].arg, "eth0");
	fs_devname_release(&d);
}
END_TEST

START_TEST(test_no_source)
{
	expect_error("flowscope", "flowscope: no source", NULL);
	expect_error("flowscope:", "flowscope:: no source", NULL);
	expect_error("flowscope/edge.conf:", "no source", NULL);
}
END_TEST

START_TEST(test_empty_source)
{
	char err[512];
	struct fs_devname d;

	ck_assert_int_eq(fs_devname_parse("flowscope:eth0::eth1", &d, err,
					  sizeof(err)), -1);
	ck_assert_str_eq(err, "flowscope:eth0::eth1: empty source "
			 "(sources are separated by ':')");
	expect_error("flowscope::eth0", "empty source", NULL);
	expect_error("flowscope:eth0:", "empty source", NULL);
	expect_error("flowscope/x.conf:eth0::", "empty source", NULL);
}
END_TEST

START_TEST(test_config_path_errors)
{
	expect_error("flowscope/:eth0", "empty config file path", NULL);
	expect_error("flowscope/", "empty config file path", NULL);
	expect_error("flowscope/conf", "no ':' after the config file path",
		     "'conf'");
}
END_TEST

START_TEST(test_iface_names)
{
	struct fs_devname d;

	/* 15 bytes is the kernel's limit */
	parse_ok("flowscope:abcdefghijklmno", &d);
	ck_assert_str_eq(d.sources[0].arg, "abcdefghijklmno");
	fs_devname_release(&d);

	expect_error("flowscope:abcdefghijklmnop", "'abcdefghijklmnop'",
		     "too long");
	expect_error("flowscope:eth0:abcdefghijklmnopqrstuvwxyz", "too long",
		     "at most 15");
	expect_error("flowscope:a/b", "'a/b'", "not a valid interface name");
	expect_error("flowscope:eth 0", "'eth 0'", "not a valid interface name");
	expect_error("flowscope:eth\t0", "not a valid interface name", NULL);
	expect_error("flowscope:foo=bar", "'foo=bar' is not a source", NULL);
	expect_error("flowscope:File=/x", "'File=/x' is not a source", NULL);
}
END_TEST

START_TEST(test_duplicates)
{
	expect_error("flowscope:eth0:eth0", "'eth0' is given twice", NULL);
	expect_error("flowscope:eth0:eth1:eth0", "'eth0' is given twice", NULL);
	expect_error("flowscope:dpdk0:dpdk0", "'dpdk0' is given twice", NULL);
	expect_error("flowscope:dpdk7:dpdk007", "'dpdk007' is given twice", NULL);
	expect_error("flowscope:gen:gen", "'gen' is given twice", NULL);
	expect_error("flowscope:file=/a:file=/a", "'file=/a' is given twice",
		     NULL);
	/* the error comes after allocations: nothing may leak or remain */
	expect_error("flowscope/x.conf:eth0:eth1:eth1", "given twice", NULL);
}
END_TEST

START_TEST(test_max_sources)
{
	char name[512];
	struct fs_devname d;
	size_t len;
	int i;

	len = (size_t)snprintf(name, sizeof(name), "flowscope");
	for (i = 0; i < FS_MAX_SOURCES; i++)
		len += (size_t)snprintf(name + len, sizeof(name) - len, ":e%d", i);
	parse_ok(name, &d);
	ck_assert_uint_eq(d.nsources, FS_MAX_SOURCES);
	ck_assert_str_eq(d.sources[FS_MAX_SOURCES - 1].arg, "e15");
	fs_devname_release(&d);

	snprintf(name + len, sizeof(name) - len, ":e%d", i);
	expect_error(name, "too many sources", "at most 16");
}
END_TEST

START_TEST(test_not_ours)
{
	struct fs_devname d;
	char err[256];

	expect_error("flowscopex", "not a flowscope device", NULL);
	expect_error("eth0", "not a flowscope device", NULL);
	ck_assert_int_eq(fs_devname_parse(NULL, &d, err, sizeof(err)), -1);
	ck_assert_uint_eq(d.nsources, 0);
}
END_TEST

START_TEST(test_small_errbuf)
{
	struct fs_devname d;
	char err[8];

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(fs_devname_parse("flowscope:eth0::", &d, err,
					  sizeof(err)), -1);
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
	ck_assert_int_eq(fs_devname_parse("flowscope:eth0::", &d, err, 1), -1);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(fs_devname_parse("flowscope:eth0::", &d, NULL, 0), -1);
}
END_TEST

/* A very long name still gets its reason into a pcap error buffer: the
 * name and the offending part are shown cut. */
START_TEST(test_long_names)
{
	static char name[10100];
	struct fs_devname d;
	char err[256];	/* PCAP_ERRBUF_SIZE */
	size_t n;

	/* 17 sources of about 600 bytes each */
	n = (size_t)snprintf(name, sizeof(name), "flowscope");
	for (int i = 0; i < 17; i++) {
		n += (size_t)snprintf(name + n, sizeof(name) - n, ":file=/%d", i);
		memset(name + n, 'a', 580);
		n += 580;
		name[n] = '\0';
	}
	ck_assert_int_eq(fs_devname_parse(name, &d, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "too many sources") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "source 17") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "bytes)") != NULL, "%s", err);
	ck_assert_uint_lt(strlen(err), sizeof(err) - 1);
	/* a long interface name: the reason, not only the name */
	n = (size_t)snprintf(name, sizeof(name), "flowscope:");
	memset(name + n, 'e', 9000);
	name[n + 9000] = '\0';
	ck_assert_int_eq(fs_devname_parse(name, &d, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "is too long (9000 bytes, at most 15)") !=
		      NULL, "%s", err);
	ck_assert_uint_lt(strlen(err), sizeof(err) - 1);
}
END_TEST

START_TEST(test_label)
{
	struct fs_source_spec s = { 0 };
	char buf[16];

	s.kind = FS_SRC_IFACE;
	s.arg = "eth0";
	ck_assert_str_eq(fs_source_label(&s, buf, sizeof(buf)), "eth0");
	s.arg = NULL;
	s.kind = FS_SRC_DPDK;
	s.port = 0;
	ck_assert_str_eq(fs_source_label(&s, buf, sizeof(buf)), "dpdk0");
	s.port = 65535;
	ck_assert_str_eq(fs_source_label(&s, buf, sizeof(buf)), "dpdk65535");
	/* too small for the number: never a cut one naming another port */
	ck_assert_str_eq(fs_source_label(&s, buf, 6), "dpdk");
	ck_assert_str_eq(fs_source_label(&s, NULL, 0), "dpdk");
	s.kind = FS_SRC_FILE;
	s.arg = "/tmp/x.pcap";
	ck_assert_str_eq(fs_source_label(&s, buf, sizeof(buf)), "file");
	s.kind = FS_SRC_GEN;
	s.arg = NULL;
	ck_assert_str_eq(fs_source_label(&s, buf, sizeof(buf)), "gen");
}
END_TEST

START_TEST(test_label_parsed)
{
	struct fs_devname d;
	char buf[16];

	parse_ok("flowscope:eth0:dpdk2:file=/tmp/x.pcap:gen", &d);
	ck_assert_str_eq(fs_source_label(&d.sources[0], buf, sizeof(buf)), "eth0");
	ck_assert_str_eq(fs_source_label(&d.sources[1], buf, sizeof(buf)), "dpdk2");
	ck_assert_str_eq(fs_source_label(&d.sources[2], buf, sizeof(buf)), "file");
	ck_assert_str_eq(fs_source_label(&d.sources[3], buf, sizeof(buf)), "gen");
	fs_devname_release(&d);
}
END_TEST

static Suite *devname_suite(void)
{
	Suite *s = suite_create("devname");
	TCase *ok = tcase_create("accepted");
	TCase *bad = tcase_create("rejected");
	TCase *label = tcase_create("label");

	tcase_add_test(ok, test_is_ours);
	tcase_add_test(ok, test_one_iface);
	tcase_add_test(ok, test_two_ifaces);
	tcase_add_test(ok, test_config_relative);
	tcase_add_test(ok, test_config_absolute);
	tcase_add_test(ok, test_dpdk);
	tcase_add_test(ok, test_dpdk_like_ifaces);
	tcase_add_test(ok, test_file);
	tcase_add_test(ok, test_gen);
	tcase_add_test(ok, test_mixed);
	tcase_add_test(ok, test_max_sources);
	suite_add_tcase(s, ok);

	tcase_add_test(bad, test_dpdk_range);
	tcase_add_test(bad, test_no_source);
	tcase_add_test(bad, test_empty_source);
	tcase_add_test(bad, test_config_path_errors);
	tcase_add_test(bad, test_iface_names);
	tcase_add_test(bad, test_duplicates);
	tcase_add_test(bad, test_not_ours);
	tcase_add_test(bad, test_small_errbuf);
	tcase_add_test(bad, test_long_names);
	suite_add_tcase(s, bad);

	tcase_add_test(label, test_label);
	tcase_add_test(label, test_label_parsed);
	suite_add_tcase(s, label);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(devname_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
