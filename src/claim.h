/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Who records what (DESIGN §7): a capture that publishes its ring
 * claims the interfaces it records, and any capture claims the physical
 * DPDK ports it records, so that another process opening one of them is
 * told who has it and which @NAME to attach to instead of failing in
 * the driver or recording a second copy.
 *
 * A claim is an abstract UNIX socket, bound and never listened on:
 *   "\0flowscope-claim:WHAT"            exclusive (bind fails if taken)
 *   "\0flowscope-claim-by:WHAT\tPID\tSHARE"   who holds it ("-": no share)
 * The kernel removes both when the process ends, however it ends, so a
 * claim is never stale and leaves no file behind. Abstract names belong
 * to the network namespace, as interface names do: eth0 in another
 * namespace is another interface and another claim. WHAT is "if:NAME"
 * for an interface, "dpdk:DEVICE" for a port (DPDK's device name, such
 * as its PCI address). Checking reads /proc/net/unix, which lists the
 * abstract names of the namespace.
 */
#ifndef FS_CLAIM_H
#define FS_CLAIM_H

#include <stddef.h>

#define FS_CLAIMS_MAX 16

struct fs_claims {
	int fd[2 * FS_CLAIMS_MAX];
	unsigned n;		/* descriptors held */
};

void fs_claims_init(struct fs_claims *cl);

/*
 * Is what claimed by another process? Returns 0 when it is not (or
 * nobody can tell: no /proc), -1 with err naming the holder, its program
 * and the @NAME it publishes. label is what the user asked for (the
 * device name's token) and starts the message.
 */
int fs_claim_check(const char *what, const char *label, char *err,
		   size_t errlen);

/* Claim what for this process, publishing share (NULL: none). Returns 0,
 * or -1 with err (held by another process: fs_claim_check's message). */
int fs_claim_take(struct fs_claims *cl, const char *what, const char *label,
		  const char *share, char *err, size_t errlen);

/* Give every claim up. */
void fs_claims_release(struct fs_claims *cl);

/* The program of process pid as /proc/PID/comm has it, in buf (len
 * bytes), or "?". */
void fs_proc_comm(long pid, char *buf, size_t len);

#endif
