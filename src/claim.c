/* SPDX-License-Identifier: BSD-3-Clause */
/* Claims on what a capture records (claim.h). */
#define _GNU_SOURCE
#include "claim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PREFIX "fs-claim:"
#define BY "fs-by:"

void fs_claims_init(struct fs_claims *cl)
{
	cl->n = 0;
}

/* Bind a stream socket to the abstract name (never listened on: nobody
 * can connect). Returns its descriptor, or -1 with errno. */
static int bind_abstract(const char *name)
{
	struct sockaddr_un sa;
	size_t n = strlen(name);
	int fd;

	if (n + 1 > sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, name, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

void fs_proc_comm(long pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	if (fgets(buf, (int)len, f) == NULL)
		snprintf(buf, len, "?");
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/*
 * Find "@fs-by:WHAT/PID/SHARE" in /proc/net/unix: its pid and share
 * ("" for none). Returns 1 when found, 0 when not, -1 when nobody can
 * tell.
 */
static int find_holder(const char *what, long *pid, char *share,
		       size_t slen)
{
	char line[512], want[160];
	size_t wn;
	FILE *f = fopen("/proc/net/unix", "re");
	int found = 0;

	if (f == NULL)
		return -1;
	wn = (size_t)snprintf(want, sizeof(want), "@" BY "%s/", what);
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *p = strrchr(line, ' ');
		char *end, *sh;

		if (p == NULL || strncmp(p + 1, want, wn) != 0)
			continue;
		p += 1 + wn;
		*pid = strtol(p, &end, 10);
		if (end == p || *end != '/' || *pid <= 0)
			continue;
		sh = end + 1;
		sh[strcspn(sh, "\n")] = '\0';
		snprintf(share, slen, "%s", strcmp(sh, "-") == 0 ? "" : sh);
		found = 1;
	}
	fclose(f);
	return found;
}

/* The message for a what that pid holds. */
static void held(const char *label, long pid, const char *share, char *err,
		 size_t errlen)
{
	char prog[32];

	fs_proc_comm(pid, prog, sizeof(prog));
	if (share[0] != '\0')
		snprintf(err, errlen, "%.64s: recorded by pid %ld (%s), which "
			 "publishes it: attach to flowscope:@%.64s instead",
			 label, pid, prog, share);
	else
		snprintf(err, errlen, "%.64s: recorded by pid %ld (%s); it "
			 "does not publish its ring (share = NAME there lets "
			 "others attach)", label, pid, prog);
}

int fs_claim_check(const char *what, const char *label, char *err,
		   size_t errlen)
{
	char share[80];
	long pid = 0;

	if (find_holder(what, &pid, share, sizeof(share)) != 1 ||
	    pid == (long)getpid())
		return 0;
	held(label, pid, share, err, errlen);
	return -1;
}

int fs_claim_take(struct fs_claims *cl, const char *what, const char *label,
		  const char *share, char *err, size_t errlen)
{
	char name[128];
	int ex, by;

	if (cl->n + 2 > sizeof(cl->fd) / sizeof(cl->fd[0])) {
		snprintf(err, errlen, "%.64s: more than %u claims in one "
			 "capture", label, FS_CLAIMS_MAX);
		return -1;
	}
	snprintf(name, sizeof(name), PREFIX "%s", what);
	ex = bind_abstract(name);
	if (ex < 0) {
		if (errno == EADDRINUSE) {
			char sh[80];
			long pid = 0;

			if (find_holder(what, &pid, sh, sizeof(sh)) == 1) {
				held(label, pid, sh, err, errlen);
			} else {
				/* between its two binds, or one of ours */
				snprintf(err, errlen, "%.64s: recorded by "
					 "another capture", label);
			}
			return -1;
		}
		/* no abstract sockets here: nothing to guard with */
		return 0;
	}
	/* who: with the share's name when it fits, without when not */
	snprintf(name, sizeof(name), BY "%s/%ld/%s", what, (long)getpid(),
		 share != NULL ? share : "-");
	by = bind_abstract(name);
	if (by < 0) {
		snprintf(name, sizeof(name), BY "%s/%ld/-", what,
			 (long)getpid());
		by = bind_abstract(name);
	}
	cl->fd[cl->n++] = ex;
	if (by >= 0)
		cl->fd[cl->n++] = by;
	return 0;
}

void fs_claims_release(struct fs_claims *cl)
{
	for (unsigned i = 0; i < cl->n; i++)
		close(cl->fd[i]);
	cl->n = 0;
}
