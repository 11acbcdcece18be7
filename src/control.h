/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket of a capture (DESIGN §4): a UNIX stream socket, mode
 * 0600, in a directory only its owner can enter, served by one thread.
 * Protocol: the client sends one command line (at most FS_CTL_LINE_MAX
 * bytes, printable ASCII, ending in '\n'); the server answers with text
 * lines and closes the connection. The first answer line is "ok" or
 * "error: WHY"; a bad command changes nothing.
 *
 *   stats              received, dropped, ... as "name value" lines
 *   top [N]            the N (default 10) busiest flows of the last interval
 *   flows [FILTER]     tracked flows, optionally matching a pcap filter
 *   trigger [FILTER]   trigger every tracked flow matching FILTER (all
 *                      without one); answers "triggered N"
 *
 * A slow or silent client never stalls capture or other clients: the
 * control thread serves up to FS_CTL_CONN_MAX connections at once in one
 * poll loop, each under its own deadlines, and only the commands
 * themselves run one after the other.
 */
#ifndef FS_CONTROL_H
#define FS_CONTROL_H

#include <stddef.h>
#include <stdio.h>

#include "control_dir.h"

#define FS_CTL_LINE_MAX 1024
#define FS_CTL_CONN_MAX 64	/* connections served at once */

struct bpf_program;

/* What the capture does for each command; out is the answer stream
 * (after the "ok" line, written by the server). Each returns 0, or -1
 * with a one-line reason in err. filter is NULL when none was given. */
struct fs_control_ops {
	int (*stats)(void *arg, FILE *out, char *err, size_t errlen);
	int (*top)(void *arg, unsigned n, FILE *out, char *err, size_t errlen);
	int (*flows)(void *arg, const struct bpf_program *filter, FILE *out,
		     char *err, size_t errlen);
	/* text: the filter as the operator wrote it ("" for none) */
	int (*trigger)(void *arg, const struct bpf_program *filter,
		       const char *text, FILE *out, char *err, size_t errlen);
	/* processes attached to the capture's shared ring, one line each
	 * (none: no line) */
	int (*readers)(void *arg, FILE *out, char *err, size_t errlen);
};

typedef struct fs_control fs_control;

/* Compile text, a pcap-filter over the engine's Ethernet frames, into
 * prog (pcap_freecode() it): 0, or -1 with why ("bad filter: ..."). */
int fs_control_compile(const char *text, struct bpf_program *prog,
		       char *why, size_t whylen);

/*
 * Create the socket at path (its directory is created mode 0700 when
 * missing; an existing directory must belong to us and not be open to
 * others; a stale socket of a dead process is replaced, a live one is an
 * error) and start the serving thread (all signals blocked).
 * Returns NULL with err.
 */
fs_control *fs_control_start(const char *path,
			     const struct fs_control_ops *ops, void *arg,
			     char *err, size_t errlen);

/* A file already at path: a live server's socket is an error, a stale
 * socket (nobody listening) is removed, anything else is refused.
 * Returns 0 when path is free now. */
struct sockaddr_un;
int fs_control_clear_stale(const char *path, const struct sockaddr_un *sa,
			   char *err, size_t errlen);

/* Stop the thread, remove the socket. NULL is fine. */
void fs_control_stop(fs_control *c);

/* The default path: fs_control_default_dir() "/<pid>-<label>.sock",
 * the label reduced to characters safe in a path. Returns 0, or -1 with
 * errno ENAMETOOLONG when it does not fit into len bytes. */
int fs_control_default_path(const char *label, char *buf, size_t len);

#endif
