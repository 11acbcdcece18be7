/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The EAL argument policy (see eal_args.h). The option table mirrors
 * DPDK 22.11's own (lib/eal/common/eal_common_options.c): names, whether
 * each takes an argument, and which ones are refused and why.
 */
#include "eal_args.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum refusal {
	OK = 0,
	NEVER,		/* refused in every process */
	SECURE,		/* refused in secure-execution processes */
};

struct opt {
	const char *name;	/* long name, or one character for short */
	int arg;		/* 0 none, 1 required, 2 optional (=VALUE) */
	enum refusal refused;
	const char *why;
};

#define EXITS "would make DPDK print its usage and end the program"
#define FILES "names files or directories for DPDK to create or use"

static const struct opt shorts[] = {
	{ "a", 1, OK, NULL }, { "b", 1, OK, NULL }, { "c", 1, OK, NULL },
	{ "s", 1, OK, NULL },
	{ "d", 1, SECURE, "loads a shared object into the program" },
	{ "h", 0, NEVER, EXITS },
	{ "l", 1, OK, NULL }, { "S", 1, OK, NULL }, { "m", 1, OK, NULL },
	{ "n", 1, OK, NULL }, { "r", 1, OK, NULL },
	{ "v", 0, NEVER, "only prints DPDK's version" },
};

static const struct opt longs[] = {
	{ "base-virtaddr", 1, OK, NULL },
	{ "create-uio-dev", 0, SECURE, "creates device files" },
	{ "file-prefix", 1, SECURE, FILES },
	{ "help", 0, NEVER, EXITS },
	{ "huge-dir", 1, SECURE, FILES },
	{ "huge-unlink", 2, OK, NULL },
	{ "iova-mode", 1, OK, NULL },
	{ "lcores", 1, OK, NULL },
	{ "log-level", 1, OK, NULL },		/* but not "help": below */
	{ "trace", 1, SECURE, "writes trace files" },
	{ "trace-dir", 1, SECURE, FILES },
	{ "trace-bufsz", 1, SECURE, "writes trace files" },
	{ "trace-mode", 1, SECURE, "writes trace files" },
	{ "main-lcore", 1, OK, NULL },
	{ "mbuf-pool-ops-name", 1, OK, NULL },
	{ "no-hpet", 0, OK, NULL },
	{ "no-huge", 0, OK, NULL },
	{ "no-pci", 0, OK, NULL },
	{ "no-shconf", 0, OK, NULL },
	{ "in-memory", 0, OK, NULL },
	{ "block", 1, OK, NULL },
	{ "allow", 1, OK, NULL },
	{ "proc-type", 1, OK, NULL },		/* but only "primary": below */
	{ "socket-mem", 1, OK, NULL },
	{ "socket-limit", 1, OK, NULL },
	{ "syslog", 1, OK, NULL },
	{ "vdev", 1, OK, NULL },
	{ "vfio-intr", 1, OK, NULL },
	{ "vfio-vf-token", 1, OK, NULL },
	{ "vmware-tsc-map", 0, OK, NULL },
	{ "legacy-mem", 0, OK, NULL },
	{ "single-file-segments", 0, OK, NULL },
	{ "match-allocations", 0, OK, NULL },
	{ "telemetry", 0, OK, NULL },
	{ "no-telemetry", 0, OK, NULL },
	{ "force-max-simd-bitwidth", 1, OK, NULL },
	{ "huge-worker-stack", 2, OK, NULL },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The long option getopt_long takes for name (len bytes): an exact match,
 * else the only option it is a prefix of. NULL: unknown or ambiguous,
 * which DPDK refuses by itself without ending the program. */
static const struct opt *find_long(const char *name, size_t len)
{
	const struct opt *found = NULL;

	for (size_t i = 0; i < N(longs); i++) {
		if (strncmp(longs[i].name, name, len) != 0)
			continue;
		if (longs[i].name[len] == '\0')
			return &longs[i];
		if (found != NULL)
			return NULL;
		found = &longs[i];
	}
	return found;
}

static const struct opt *find_short(char ch)
{
	for (size_t i = 0; i < N(shorts); i++)
		if (shorts[i].name[0] == ch)
			return &shorts[i];
	return NULL;
}

/* Is option o with value val (NULL: none) refused under flags? */
static int judge(const struct opt *o, bool is_long, const char *val,
		 unsigned flags, char *err, size_t errlen)
{
	const char *dash = is_long ? "--" : "-";

	if (o->refused == NEVER ||
	    (o->refused == SECURE && (flags & FS_EAL_ARGS_SECURE))) {
		snprintf(err, errlen, "eal: '%s%s' %s; it is not passed to "
			 "DPDK%s", dash, o->name, o->why,
			 o->refused == SECURE ? " by a privileged program "
			 "(setuid, setgid or file capabilities)" : "");
		return -1;
	}
	if (strcmp(o->name, "log-level") == 0 && val != NULL &&
	    strcmp(val, "help") == 0) {
		snprintf(err, errlen, "eal: '--log-level help' " EXITS "; it "
			 "is not passed to DPDK");
		return -1;
	}
	if (strcmp(o->name, "proc-type") == 0 && val != NULL &&
	    strcmp(val, "primary") != 0) {
		snprintf(err, errlen, "eal: '--proc-type %.32s': a capture "
			 "runs its own DPDK as a primary process, attaching "
			 "to another one is not supported; it is not passed "
			 "to DPDK", val);
		return -1;
	}
	return 0;
}

int fs_eal_args_check(char *const argv[], unsigned flags, char *err,
		      size_t errlen)
{
	for (size_t i = 0; argv != NULL && argv[i] != NULL; i++) {
		const char *w = argv[i];

		if (w[0] != '-' || w[1] == '\0')
			continue;	/* not an option; getopt moves it */
		if (strcmp(w, "--") == 0)
			return 0;	/* no options after it */
		if (w[1] == '-') {
			const char *name = w + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const struct opt *o = find_long(name, len);
			const char *val = eq ? eq + 1 : NULL;

			if (o == NULL)
				continue;
			if (o->arg == 1 && val == NULL && argv[i + 1] != NULL)
				val = argv[++i];
			if (judge(o, true, val, flags, err, errlen) < 0)
				return -1;
			continue;
		}
		/* bundled short options: each up to one taking an argument,
		 * which is the rest of the word or the next word */
		for (const char *p = w + 1; *p != '\0'; p++) {
			const struct opt *o = find_short(*p);
			const char *val = NULL;

			if (o == NULL)
				break;	/* DPDK refuses it by itself */
			if (o->arg == 1) {
				val = p[1] != '\0' ? p + 1 : argv[i + 1];
				if (p[1] == '\0' && argv[i + 1] != NULL)
					i++;
			}
			if (judge(o, false, val, flags, err, errlen) < 0)
				return -1;
			if (o->arg == 1)
				break;
		}
	}
	return 0;
}
