/* SPDX-License-Identifier: BSD-3-Clause */
/* flowscope-ctl --bus: list, stats and trigger across a NATS bus. */
#ifndef FS_CTL_BUS_H
#define FS_CTL_BUS_H

struct fs_ctl_bus {
	const char *url;	/* nats://HOST:PORT, tls://... */
	const char *subject;	/* the captures' bus_subject */
	const char *creds, *ca;	/* NULL: none */
	double wait_s;		/* how long answers are collected */
};

/* cmd: list, stats or trigger (filter: its filter, "" for all flows).
 * Prints the answers; returns the exit status (0: answered, 1: none or an
 * error answer, 2: a filter too long). */
int fs_ctl_bus(const struct fs_ctl_bus *o, const char *cmd,
	       const char *filter);

#endif
