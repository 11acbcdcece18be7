/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How much memory a capture may still make resident (see mem.h): the
 * smallest of what the machine has available, what the process's memory
 * cgroups allow, and what its address-space limit leaves. Read from
 * /proc and /sys when a capture opens; nothing here is on a hot path.
 */
#define _GNU_SOURCE
#include "mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* Kept for the rest of the system: a capture that takes the last of the
 * memory gets the machine swapping or the OOM killer running anyway. */
#define SYSTEM_SHARE 32	/* 1/32 of MemTotal */

#define CG_ROOT "/sys/fs/cgroup"

void fs_mem_fmt(uint64_t v, char *buf, size_t len)
{
	if (v >= (1ull << 30))
		snprintf(buf, len, "%.1f GiB", (double)v / (1ull << 30));
	else
		snprintf(buf, len, "%.0f MiB", (double)v / (1ull << 20));
}

/* The value of "name value" in a file of such lines (units: kB when
 * kb is set), or -1. */
static int64_t field(const char *path, const char *name, bool kb)
{
	char line[256];
	size_t n = strlen(name);
	int64_t v = -1;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, n) == 0 &&
		    (line[n] == ' ' || line[n] == ':')) {
			v = strtoll(line + n + 1 + (line[n] == ':'), NULL, 10);
			if (kb)
				v *= 1024;
			break;
		}
	fclose(f);
	return v;
}

/* A file holding one number ("max" is none): the number, or -1. */
static int64_t number(const char *path)
{
	char buf[64] = "";
	FILE *f = fopen(path, "re");
	int64_t v = -1;

	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) != NULL && buf[0] >= '0' &&
	    buf[0] <= '9')
		v = strtoll(buf, NULL, 10);
	fclose(f);
	return v;
}

struct room {
	uint64_t bytes;
	char why[256];
};

static void take(struct room *r, uint64_t bytes, const char *why)
{
	if (bytes < r->bytes) {
		r->bytes = bytes;
		snprintf(r->why, sizeof(r->why), "%s", why);
	}
}

/*
 * Each memory cgroup from the process's own up to the root: the room
 * under its limit. Page cache that can be dropped (inactive files)
 * counts as room, as the kernel reclaims it before it kills anyone.
 */
static void cgroups(struct room *r)
{
	char line[4096], path[4352], why[256], a[32], b[32];
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *ctl = strchr(line, ':'), *cg, *nl;
		bool v2;

		if (ctl == NULL || (cg = strchr(ctl + 1, ':')) == NULL)
			continue;
		*cg++ = '\0';
		ctl++;
		if ((nl = strchr(cg, '\n')) != NULL)
			*nl = '\0';
		v2 = ctl[0] == '\0';
		if (!v2 && strstr(ctl, "memory") == NULL)
			continue;
		for (;;) {
			int64_t lim, use, cache;
			const char *base = v2 ? CG_ROOT : CG_ROOT "/memory";
			char *slash;

			snprintf(path, sizeof(path), "%s%s/%s", base, cg,
				 v2 ? "memory.max" : "memory.limit_in_bytes");
			lim = number(path);
			snprintf(path, sizeof(path), "%s%s/%s", base, cg,
				 v2 ? "memory.current" : "memory.usage_in_bytes");
			use = number(path);
			snprintf(path, sizeof(path), "%s%s/memory.stat", base,
				 cg);
			cache = field(path, v2 ? "inactive_file"
					       : "total_inactive_file", false);
			/* v1 says "no limit" with a huge number */
			if (lim >= 0 && use >= 0 && lim < (INT64_C(1) << 60)) {
				uint64_t room = (uint64_t)lim > (uint64_t)use ?
					(uint64_t)(lim - use) : 0;

				if (cache > 0)
					room += (uint64_t)cache;
				fs_mem_fmt((uint64_t)lim, a, sizeof(a));
				fs_mem_fmt((uint64_t)use, b, sizeof(b));
				/* the end of a long path names the group */
				size_t n = strlen(cg);

				snprintf(why, sizeof(why), "memory cgroup "
					 "%s%.48s: limit %s, %s in use",
					 n > 48 ? "..." : "",
					 n == 0 ? "/" : n > 48 ? cg + n - 45 : cg,
					 a, b);
				take(r, room, why);
			}
			slash = strrchr(cg, '/');
			if (slash == NULL || cg[0] == '\0' ||
			    strcmp(cg, "/") == 0)
				break;
			if (slash == cg)
				slash[1] = '\0';
			else
				*slash = '\0';
		}
	}
	fclose(f);
}

uint64_t fs_mem_room(char *why, size_t len)
{
	struct room r = { .bytes = UINT64_MAX, .why = "" };
	int64_t avail = field("/proc/meminfo", "MemAvailable", true);
	int64_t total = field("/proc/meminfo", "MemTotal", true);
	struct rlimit rl;
	char a[32], b[32], w[256];

	if (avail >= 0 && total > 0) {
		uint64_t keep = (uint64_t)total / SYSTEM_SHARE;

		fs_mem_fmt((uint64_t)avail, a, sizeof(a));
		fs_mem_fmt(keep, b, sizeof(b));
		snprintf(w, sizeof(w), "MemAvailable %s less %s kept for the "
			 "system", a, b);
		take(&r, (uint64_t)avail > keep ? (uint64_t)avail - keep : 0, w);
	}
	cgroups(&r);
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		int64_t vm = field("/proc/self/status", "VmSize", true);

		if (vm >= 0) {
			fs_mem_fmt(rl.rlim_cur, a, sizeof(a));
			fs_mem_fmt((uint64_t)vm, b, sizeof(b));
			snprintf(w, sizeof(w), "RLIMIT_AS (ulimit -v) %s, "
				 "%s in use", a, b);
			take(&r, rl.rlim_cur > (uint64_t)vm ?
			     rl.rlim_cur - (uint64_t)vm : 0, w);
		}
	}
	snprintf(why, len, "%s", r.why);
	return r.bytes;
}
