/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the since/until time parser: every form, its edges, and
 * the texts it refuses. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timewin.h"

#define NS 1000000000ull
static const uint64_t now = 1796205600ull * NS + 123;	/* 2026-12-02T10:00:00Z */

static uint64_t ok(const char *t)
{
	char err[256] = "";
	uint64_t ns = 0;

	ck_assert_msg(fs_time_parse(t, now, &ns, err, sizeof(err)) == 0,
		      "'%s' refused: %s", t, err);
	return ns;
}

static void bad(const char *t)
{
	char err[256] = "";
	uint64_t ns = 0;

	ck_assert_msg(fs_time_parse(t, now, &ns, err, sizeof(err)) < 0,
		      "'%s' taken as %llu", t, (unsigned long long)ns);
	ck_assert_msg(strstr(err, "is not a time") != NULL, "%s", err);
}

START_TEST(absolute)
{
	ck_assert_uint_eq(ok("2026-12-02T10:00:00Z"), 1796205600ull * NS);
	ck_assert_uint_eq(ok("2026-12-02T10:00:00+00:00"), 1796205600ull * NS);
	ck_assert_uint_eq(ok("2026-12-02 10:00:00"), 1796205600ull * NS);
	ck_assert_uint_eq(ok("2026-12-02T10:00Z"), 1796205600ull * NS);
	ck_assert_uint_eq(ok("2026-12-02"), 1796169600ull * NS);
	ck_assert_uint_eq(ok("2026-12-02T10:00:00.5Z"), 1796205600ull * NS + NS / 2);
	ck_assert_uint_eq(ok("2026-12-02T10:00:00.000000001Z"), 1796205600ull * NS + 1);
	ck_assert_uint_eq(ok("1970-01-01T00:00:00Z"), 0);
	ck_assert_uint_eq(ok("2024-02-29T00:00:00Z"), 1709164800ull * NS);
	ck_assert_uint_eq(ok("2000-03-01"), 951868800ull * NS);
	ck_assert_uint_eq(ok("1796205600"), 1796205600ull * NS);
	ck_assert_uint_eq(ok("1796205600.25"), 1796205600ull * NS + NS / 4);
	ck_assert_uint_eq(ok("0"), 0);
}
END_TEST

START_TEST(relative)
{
	ck_assert_uint_eq(ok("-30s"), now - 30 * NS);
	ck_assert_uint_eq(ok("-30"), now - 30 * NS);
	ck_assert_uint_eq(ok("-10m"), now - 600 * NS);
	ck_assert_uint_eq(ok("-2h"), now - 7200 * NS);
	ck_assert_uint_eq(ok("-1d"), now - 86400 * NS);
	ck_assert_uint_eq(ok("-0s"), now);
	/* further back than the epoch: the epoch */
	ck_assert_uint_eq(ok("-999999999d"), 0);
}
END_TEST

START_TEST(refused)
{
	static const char *const t[] = {
		"", "yesterday", "-", "-m", "-10x", "-10mm", "-1.5h", "+10m",
		"2026-13-01", "2026-02-30", "2023-02-29", "2026-12-02T24:00:00Z",
		"2026-12-02T10:60Z", "2026-12-02T10:00:00+01:00",
		"2026-12-02T10:00:00.Z", "2026-12-02T10:00:00.1234567891Z",
		"2026-12-2", "1969-12-31", "12.", "1e9", " 1796205600",
		"1796205600 ", "0x10", "179620560000000",
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		bad(t[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timewin");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, absolute);
	tcase_add_test(tc, relative);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
