/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsing the times of a capture window (timewin.h). */
#define _GNU_SOURCE
#include "timewin.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NS 1000000000ull
#define FORMS "an ISO 8601 UTC time (2026-12-02T10:00:00Z), epoch " \
	"seconds (1796205600), or a time before now (-30s, -10m, -2h, -1d)"

uint64_t fs_time_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * NS + (uint64_t)t.tv_nsec;
}

/* n digits at *p (exactly), advancing; false when they are not there. */
static bool digits(const char **p, int n, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	return true;
}

/* ".ddd" (1 to 9 digits) as nanoseconds; nothing there is 0. */
static bool fraction(const char **p, uint64_t *ns)
{
	uint64_t scale = NS / 10;
	int n = 0;

	*ns = 0;
	if (**p != '.')
		return true;
	for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, n++) {
		if (n == 9)
			return false;
		*ns += (uint64_t)(**p - '0') * scale;
		scale /= 10;
	}
	return n > 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
	int era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

static bool leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int iso(const char *p, uint64_t *ns)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
					  31, 30, 31 };
	unsigned y, mo, d, h = 0, mi = 0, s = 0;
	uint64_t frac = 0;
	int64_t days;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) || y < 1970)
		return -1;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return -1;
		if (*p == ':' && (p++, !digits(&p, 2, &s)))
			return -1;
		if (h > 23 || mi > 59 || s > 60 || !fraction(&p, &frac))
			return -1;
		/* UTC only: Z, +00:00 or nothing */
		if (*p == 'Z')
			p++;
		else if (strcmp(p, "+00:00") == 0 || strcmp(p, "+0000") == 0)
			p += strlen(p);
	}
	if (*p != '\0')
		return -1;
	days = days_from_civil((int)y, mo, d);
	*ns = ((uint64_t)days * 86400 + h * 3600u + mi * 60u + s) * NS + frac;
	return 0;
}

static int epoch(const char *p, uint64_t *ns)
{
	uint64_t sec = 0, frac;
	int n = 0;

	for (; *p >= '0' && *p <= '9'; p++, n++) {
		if (n == 11)
			return -1;
		sec = sec * 10 + (uint64_t)(*p - '0');
	}
	if (n == 0 || !fraction(&p, &frac) || *p != '\0')
		return -1;
	*ns = sec * NS + frac;
	return 0;
}

static int relative(const char *p, uint64_t now, uint64_t *ns)
{
	uint64_t v = 0, unit = NS, back;
	int n = 0;

	for (p++; *p >= '0' && *p <= '9'; p++, n++) {
		if (n == 9)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (n == 0)
		return -1;
	switch (*p) {
	case '\0':
	case 's':
		break;
	case 'm':
		unit = 60 * NS;
		break;
	case 'h':
		unit = 3600 * NS;
		break;
	case 'd':
		unit = 86400 * NS;
		break;
	default:
		return -1;
	}
	if (*p != '\0' && p[1] != '\0')
		return -1;
	back = v * unit;
	*ns = back < now ? now - back : 0;
	return 0;
}

int fs_time_parse(const char *text, uint64_t now, uint64_t *ns, char *err,
		  size_t errlen)
{
	int rc;

	if (text[0] == '-')
		rc = relative(text, now, ns);
	else if (strchr(text, '-') != NULL)
		rc = iso(text, ns);
	else
		rc = epoch(text, ns);
	if (rc < 0)
		snprintf(err, errlen, "'%.64s' is not a time: give %s", text,
			 FORMS);
	return rc;
}
