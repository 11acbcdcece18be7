/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The privileged helper of a capture (see privsep.h): a child process,
 * forked at activation while the process still has the privileges it was
 * started with, that creates and reopens dump files and removes the
 * control socket at the end, so that both keep working once the
 * application has dropped to an unprivileged user.
 *
 * The child is forked from a process that runs DPDK's and flowscope's
 * threads, so it may only do what is safe after fork() in a threaded
 * process: plain system calls (through syscall(), which no sanitizer
 * intercepts), no malloc, no stdio, no locks. It keeps no descriptor of
 * the application's, takes no signal, and answers fixed-size requests
 * over a SOCK_SEQPACKET pair; whatever else arrives is refused.
 */
#define _GNU_SOURCE
#include "privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* Code that runs in the child: no sanitizer hooks, whose runtimes take
 * locks that another thread may have held at the fork. */
#define CHILD __attribute__((no_sanitize("address", "thread", "undefined")))

#define TABLE_MIN 1024u		/* files remembered, first */
#define TABLE_MAX (1u << 22)	/* and at most (96 MiB): then ENOMEM */

enum {
	OP_CREATE = 1,
	OP_REOPEN,
	OP_FORGET,
	OP_BOUND,
	OP_UNBIND,
	OP_QUIT,
	OP_SPOOL_CREATE,	/* dev: 1 for O_DIRECT */
	OP_SPOOL_UNLINK,
	OP_SPOOL_RENAME,	/* name.tmp -> name */
	OP_SPOOL_OPEN,		/* read-only */
};

struct req {
	uint32_t op;
	uint32_t hdrlen;
	uint64_t dev, ino;
	uint8_t hdr[FS_PS_HDR_MAX];
	char name[FS_PS_NAME_MAX + 1];
};

struct rep {
	int32_t err;		/* 0, or the errno of the failure */
	uint32_t pad;
	uint64_t dev, ino;	/* of the file whose descriptor comes along */
};

struct fs_privsep {
	int sock;
	pid_t pid;
	pthread_mutex_t lock;	/* one request at a time: the dumper's
				 * thread and the application's share it */
};

/* ---- system calls, also used by the child ---- */

CHILD static int x_openat(int dfd, const char *path, int flags, int mode)
{
	return (int)syscall(SYS_openat, dfd, path, flags, mode);
}

CHILD static int x_stat(int dfd, const char *path, struct stat *st, int flags)
{
	return (int)syscall(SYS_newfstatat, dfd, path, st, flags);
}

CHILD static int x_fstat(int fd, struct stat *st)
{
	return x_stat(fd, "", st, AT_EMPTY_PATH);
}

CHILD static void x_close(int fd)
{
	int e = errno;

	(void)syscall(SYS_close, fd);
	errno = e;
}

CHILD static bool same_file(const struct stat *st, uint64_t dev, uint64_t ino)
{
	return (uint64_t)st->st_dev == dev && (uint64_t)st->st_ino == ino;
}

CHILD static bool name_ok(const char *s)
{
	size_t n = 0;

	if (s[0] == '.' || s[0] == '\0')
		return false;
	for (; s[n] != '\0'; n++) {
		char ch = s[n];

		if (n >= FS_PS_NAME_MAX)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		      ch == '_'))
			return false;
		if (ch == '.' && s[n + 1] == '.')
			return false;
	}
	return n > 5 && s[n - 5] == '.' && s[n - 4] == 'p' &&
	       s[n - 3] == 'c' && s[n - 2] == 'a' && s[n - 1] == 'p';
}

/* A spool file: seg-, 16 hex digits, then .pcapng, .idx or .idx.tmp. */
CHILD static bool spool_name_ok(const char *s, bool tmp_only)
{
	static const char *const ends[] = { ".pcapng", ".idx", ".idx.tmp" };
	size_t n = 0;

	if (s[0] != 's' || s[1] != 'e' || s[2] != 'g' || s[3] != '-')
		return false;
	for (n = 4; n < 20; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	for (unsigned k = tmp_only ? 2 : 0; k < 3; k++) {
		const char *e = ends[k];
		size_t i = 0;

		while (e[i] != '\0' && s[n + i] == e[i])
			i++;
		if (e[i] == '\0' && s[n + i] == '\0')
			return true;
	}
	return false;
}

bool fs_privsep_spool_name_ok(const char *name)
{
	return name != NULL && spool_name_ok(name, false);
}

bool fs_privsep_name_ok(const char *name)
{
	return name != NULL && name_ok(name);
}

/*
 * Create name in dirfd (see fs_privsep_create) and write hdr. Mode 0600
 * whatever the umask says: it may not even leave the owner able to write.
 * A file whose header did not fit is removed, if it is still ours.
 */
CHILD static int create_at(int dirfd, const char *name, const void *hdr,
			   size_t hdrlen, struct stat *st)
{
	size_t off = 0;
	int fd, e;

	fd = x_openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		      O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (x_fstat(fd, st) < 0 || syscall(SYS_fchmod, fd, 0600) < 0)
		goto fail;
	while (off < hdrlen) {
		long n = syscall(SYS_write, fd, (const char *)hdr + off,
				 hdrlen - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			goto fail;
		}
		off += (size_t)n;
	}
	return fd;
fail:
	e = errno;
	{
		struct stat now;

		if (x_stat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    same_file(&now, (uint64_t)st->st_dev,
			      (uint64_t)st->st_ino))
			(void)syscall(SYS_unlinkat, dirfd, name, 0);
	}
	x_close(fd);
	errno = e;
	return -1;
}

/*
 * Open name in dirfd for appending if it is still the regular file
 * dev/ino: looked at before opening (so that nothing else, a FIFO or a
 * device someone put there, is ever opened; O_NONBLOCK and O_NOCTTY in
 * case it is swapped in between) and after (what was opened is the file).
 */
CHILD static int reopen_at(int dirfd, const char *name, uint64_t dev,
			   uint64_t ino)
{
	struct stat st;
	int fd;

	if (x_stat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) || !same_file(&st, dev, ino)) {
		errno = ESTALE;
		return -1;
	}
	fd = x_openat(dirfd, name, O_WRONLY | O_APPEND | O_NOFOLLOW |
		      O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (x_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !same_file(&st, dev, ino)) {
		x_close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

/* ---- the child: the files it created, by device and inode ---- */

struct ent {
	uint64_t dev, ino, used;
};

struct table {
	struct ent *e;
	size_t cap, n;		/* cap: a power of two */
};

CHILD static size_t slot(const struct table *t, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ (dev * 0x9e3779b97f4a7c15ull)) *
		     0xff51afd7ed558ccdull;

	return (size_t)(h >> 20) & (t->cap - 1);
}

CHILD static struct ent *find(const struct table *t, uint64_t dev,
			      uint64_t ino)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = slot(t, dev, ino);; i = (i + 1) & (t->cap - 1)) {
		struct ent *e = &t->e[i];

		if (!e->used)
			return NULL;
		if (e->dev == dev && e->ino == ino)
			return e;
	}
}

CHILD static void put(struct table *t, uint64_t dev, uint64_t ino)
{
	size_t i = slot(t, dev, ino);

	while (t->e[i].used)
		i = (i + 1) & (t->cap - 1);
	t->e[i].dev = dev;
	t->e[i].ino = ino;
	t->e[i].used = 1;
	t->n++;
}

/* Room for one more entry (at most half full), or -1 with ENOMEM. */
CHILD static int reserve(struct table *t)
{
	struct table nt;
	long p;

	if ((t->n + 1) * 2 <= t->cap)
		return 0;
	nt.cap = t->cap ? t->cap * 2 : TABLE_MIN;
	nt.n = 0;
	if (nt.cap > TABLE_MAX) {
		errno = ENOMEM;
		return -1;
	}
	p = syscall(SYS_mmap, NULL, nt.cap * sizeof(struct ent),
		    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == -1) {
		errno = ENOMEM;
		return -1;
	}
	nt.e = (struct ent *)p;
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].used)
			put(&nt, t->e[i].dev, t->e[i].ino);
	if (t->cap)
		(void)syscall(SYS_munmap, t->e, t->cap * sizeof(struct ent));
	*t = nt;
	return 0;
}

/* Remove e, moving later entries of its probe run back into the gap. */
CHILD static void drop(struct table *t, struct ent *e)
{
	size_t i = (size_t)(e - t->e), j = i;

	for (;;) {
		size_t k;

		t->e[i].used = 0;
		for (;;) {
			j = (j + 1) & (t->cap - 1);
			if (!t->e[j].used) {
				t->n--;
				return;
			}
			k = slot(t, t->e[j].dev, t->e[j].ino);
			/* j stays if its home k lies cyclically in (i, j] */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		t->e[i] = t->e[j];
		i = j;
	}
}

/* ---- the child: serving ---- */

CHILD static void reply(int sock, int err, int fd, const struct stat *st)
{
	struct rep r = { .err = err };
	struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		/* (no memset: the child calls nothing a sanitizer hooks;
		 * the kernel reads no further than cmsg_len) */
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		*(int *)(void *)CMSG_DATA(c) = fd;
		r.dev = (uint64_t)st->st_dev;
		r.ino = (uint64_t)st->st_ino;
	}
	/* a capture that went away gets nothing; the next read says so */
	(void)syscall(SYS_sendmsg, sock, &m, MSG_NOSIGNAL);
}

/* Close every descriptor but the n (sorted, distinct, >= 0) in keep. */
CHILD static void close_others(const int *keep, unsigned n)
{
	unsigned lo = 0;
	long rc = 0;

	for (unsigned i = 0; i < n && rc == 0; i++) {
		if ((unsigned)keep[i] > lo)
			rc = syscall(SYS_close_range, lo,
				     (unsigned)keep[i] - 1, 0u);
		lo = (unsigned)keep[i] + 1;
	}
	if (rc == 0) {
		(void)syscall(SYS_close_range, lo, ~0u, 0u);
		return;
	}
	/* kernels before 5.9 */
	for (int fd = 0; fd < 65536; fd++) {
		bool kept = false;

		for (unsigned i = 0; i < n; i++)
			kept |= fd == keep[i];
		if (!kept)
			(void)syscall(SYS_close, fd);
	}
}

/* Rename name.tmp to name in dirfd. */
CHILD static int spool_rename(int dirfd, const char *name)
{
	char to[FS_PS_NAME_MAX + 1];
	size_t n = 0;

	while (name[n] != '\0')
		n++;
	if (n < 5 || n - 4 > FS_PS_NAME_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < n - 4; i++)
		to[i] = name[i];
	to[n - 4] = '\0';
	return (int)syscall(SYS_renameat2, dirfd, name, dirfd, to, 0u);
}

/* Remove the control socket at path if it is still the one bound. */
CHILD static void unbind(const char *path, uint64_t dev, uint64_t ino)
{
	struct stat st;

	if (x_stat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode) && same_file(&st, dev, ino))
		(void)syscall(SYS_unlinkat, AT_FDCWD, path, 0);
}

#if defined(__x86_64__)
#define AUDIT_ARCH_SELF AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_SELF AUDIT_ARCH_AARCH64
#endif

#define ALLOW(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

/*
 * From here on the kernel kills the helper on any system call but the
 * ones serving needs: whatever a bug or a hostile request could make the
 * code do, root's privileges reach no further than these calls. Best
 * effort: where seccomp is not available (another architecture, an
 * older kernel, a container that forbids it), the code's own checks are
 * what holds.
 */
CHILD static void confine(void)
{
#ifdef AUDIT_ARCH_SELF
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_SELF, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		ALLOW(SYS_recvfrom), ALLOW(SYS_sendmsg), ALLOW(SYS_openat),
		ALLOW(SYS_newfstatat), ALLOW(SYS_fchmod), ALLOW(SYS_write),
		ALLOW(SYS_unlinkat), ALLOW(SYS_close), ALLOW(SYS_mmap),
		ALLOW(SYS_renameat2),
		ALLOW(SYS_munmap), ALLOW(SYS_exit_group), ALLOW(SYS_exit),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(f) / sizeof(f[0])),
		.filter = f,
	};

	if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
		(void)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
#endif
}

CHILD __attribute__((noreturn))
static void helper(int sock, int dirfd, int spoolfd, const char *path)
{
	int keep[3];
	unsigned nkeep = 0;
	struct table t = { 0 };
	uint64_t cdev = 0, cino = 0, all = ~0ull;
	bool bound = false, once = false;

	/* also the two signals glibc keeps out of pthread_sigmask(): their
	 * handlers are glibc's, meant for the threads of the application */
	(void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof(all));
	keep[nkeep++] = sock;
	if (dirfd >= 0)
		keep[nkeep++] = dirfd;
	if (spoolfd >= 0)
		keep[nkeep++] = spoolfd;
	for (unsigned i = 1; i < nkeep; i++)	/* sort three */
		for (unsigned j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int x = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = x;
		}
	close_others(keep, nkeep);
	(void)syscall(SYS_chdir, "/");
	(void)syscall(SYS_prctl, PR_SET_NAME, "fs-privsep", 0, 0, 0);
	confine();

	for (;;) {
		struct req q;
		struct stat st;
		long n = syscall(SYS_recvfrom, sock, &q, sizeof(q), 0, NULL,
				 NULL);
		int fd = -1, err = 0;
		struct ent *e;

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		q.name[FS_PS_NAME_MAX] = '\0';
		if ((size_t)n != sizeof(q)) {
			err = EINVAL;
		} else if (q.op == OP_CREATE) {
			if (dirfd < 0 || !name_ok(q.name) ||
			    q.hdrlen > FS_PS_HDR_MAX)
				err = EINVAL;
			else if (reserve(&t) < 0)
				err = errno;
			else if ((fd = create_at(dirfd, q.name, q.hdr,
						 q.hdrlen, &st)) < 0)
				err = errno;
			else
				put(&t, (uint64_t)st.st_dev,
				    (uint64_t)st.st_ino);
		} else if (q.op == OP_REOPEN) {
			if (dirfd < 0 || !name_ok(q.name))
				err = EINVAL;
			else if (find(&t, q.dev, q.ino) == NULL)
				err = ESTALE;
			else if ((fd = reopen_at(dirfd, q.name, q.dev,
						 q.ino)) < 0)
				err = errno;
			else if (x_fstat(fd, &st) < 0)
				err = errno;
		} else if (q.op == OP_FORGET) {
			e = find(&t, q.dev, q.ino);
			if (e != NULL)
				drop(&t, e);
		} else if (q.op == OP_BOUND) {
			if (path[0] != '\0' && !once &&
			    x_stat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISSOCK(st.st_mode)) {
				cdev = (uint64_t)st.st_dev;
				cino = (uint64_t)st.st_ino;
				bound = true;
			}
			once = true;
		} else if (q.op == OP_UNBIND) {
			if (bound)
				unbind(path, cdev, cino);
			bound = false;
		} else if (q.op == OP_SPOOL_CREATE) {
			if (spoolfd < 0 || !spool_name_ok(q.name, false))
				err = EINVAL;
			else if ((fd = x_openat(spoolfd, q.name, O_WRONLY |
					O_CREAT | O_EXCL | O_NOFOLLOW |
					O_NOCTTY | O_CLOEXEC |
					(q.dev == 1 ? O_DIRECT : 0), 0600)) < 0)
				err = errno;
			else if (x_fstat(fd, &st) < 0)
				err = errno;
		} else if (q.op == OP_SPOOL_UNLINK) {
			if (spoolfd < 0 || !spool_name_ok(q.name, false))
				err = EINVAL;
			else if (syscall(SYS_unlinkat, spoolfd, q.name, 0) < 0)
				err = errno;
		} else if (q.op == OP_SPOOL_OPEN) {
			/* a finished file only: never a .tmp, never a link */
			if (spoolfd < 0 || !spool_name_ok(q.name, false) ||
			    spool_name_ok(q.name, true))
				err = EINVAL;
			else if ((fd = x_openat(spoolfd, q.name, O_RDONLY |
					O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
					0)) < 0)
				err = errno;
			else if (x_fstat(fd, &st) < 0)
				err = errno;
		} else if (q.op == OP_SPOOL_RENAME) {
			if (spoolfd < 0 || !spool_name_ok(q.name, true))
				err = EINVAL;
			else if (spool_rename(spoolfd, q.name) < 0)
				err = errno;
		} else if (q.op != OP_QUIT) {
			err = EINVAL;
		}
		if (err != 0 && fd >= 0) {
			x_close(fd);
			fd = -1;
		}
		reply(sock, err, fd, &st);
		if (fd >= 0)
			x_close(fd);
		if (n == sizeof(q) && q.op == OP_QUIT)
			break;
	}
	if (bound)
		unbind(path, cdev, cino);
	for (;;)
		(void)syscall(SYS_exit_group, 0);
}

/* ---- the capture's side ---- */

int fs_privsep_start(int dirfd, int spoolfd, const char *ctl_path,
		     fs_privsep **out, char *err, size_t errlen)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)] = "";
	fs_privsep *ps;
	sigset_t all, old;
	int sv[2];
	long pid;
	int e;

	*out = NULL;
	if (geteuid() != 0 || (dirfd < 0 && spoolfd < 0 && ctl_path == NULL))
		return 0;
	if (ctl_path != NULL) {
		if (ctl_path[0] != '/' || strlen(ctl_path) >= sizeof(path)) {
			snprintf(err, errlen, "%s: the control socket needs an "
				 "absolute path of at most %zu bytes", ctl_path,
				 sizeof(path) - 1);
			return -1;
		}
		memcpy(path, ctl_path, strlen(ctl_path) + 1);
	}
	ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		snprintf(err, errlen, "privileged helper: out of memory");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "privileged helper: socketpair: %s",
			 strerror(errno));
		free(ps);
		return -1;
	}
	/* no signal may run a handler of the application in the child
	 * before it is on its own; the child keeps them all blocked.
	 * Exit signal 0: the child's end sends no SIGCHLD, and only a wait
	 * for this pid with __WALL (or __WCLONE) reaps it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = syscall(SYS_clone, 0ul, 0ul, 0ul, 0ul, 0ul);
	if (pid == 0)
		helper(sv[1], dirfd, spoolfd, path);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	if (pid < 0) {
		snprintf(err, errlen, "cannot start the privileged helper "
			 "(for dump_dir and the control socket): %s",
			 strerror(e));
		close(sv[0]);
		free(ps);
		return -1;
	}
	ps->sock = sv[0];
	ps->pid = (pid_t)pid;
	pthread_mutex_init(&ps->lock, NULL);
	*out = ps;
	return 0;
}

/* One request and its answer; *fd gets the descriptor that came with it
 * (-1: none). Returns the helper's errno, EPIPE when it is gone. */
static int call(fs_privsep *ps, const struct req *q, struct rep *r, int *fd)
{
	struct iovec iov = { .iov_base = r, .iov_len = sizeof(*r) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n;
	int rc;

	*fd = -1;
	pthread_mutex_lock(&ps->lock);
	do
		n = send(ps->sock, q, sizeof(*q), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*q)) {
		rc = EPIPE;
		goto done;
	}
	do
		n = recvmsg(ps->sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*r)) {
		rc = EPIPE;
		goto done;
	}
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	rc = r->err;
	/* the helper sent a descriptor we had no room for */
	if (rc == 0 && *fd < 0 && (m.msg_flags & MSG_CTRUNC))
		rc = EMFILE;
done:
	pthread_mutex_unlock(&ps->lock);
	return rc;
}

int fs_privsep_control_bound(fs_privsep *ps)
{
	struct req q = { .op = OP_BOUND };
	struct rep r;
	int fd, rc;

	if (ps == NULL)
		return 0;
	rc = call(ps, &q, &r, &fd);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

void fs_privsep_control_stopped(fs_privsep *ps)
{
	struct req q = { .op = OP_UNBIND };
	struct rep r;
	int fd;

	if (ps != NULL)
		(void)call(ps, &q, &r, &fd);
}

int fs_privsep_create(fs_privsep *ps, int dirfd, const char *name,
		      const void *hdr, size_t hdrlen, dev_t *dev, ino_t *ino)
{
	struct req q = { .op = OP_CREATE };
	struct rep r;
	struct stat st;
	int fd, rc;

	if (!fs_privsep_name_ok(name) || hdrlen > FS_PS_HDR_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (ps == NULL) {
		fd = create_at(dirfd, name, hdr, hdrlen, &st);
		if (fd >= 0) {
			*dev = st.st_dev;
			*ino = st.st_ino;
		}
		return fd;
	}
	q.hdrlen = (uint32_t)hdrlen;
	memcpy(q.hdr, hdr, hdrlen);
	memcpy(q.name, name, strlen(name) + 1);
	rc = call(ps, &q, &r, &fd);
	if (rc == 0 && fd < 0)
		rc = EPIPE;	/* an answer without the file */
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	*dev = (dev_t)r.dev;
	*ino = (ino_t)r.ino;
	return fd;
}

int fs_privsep_reopen(fs_privsep *ps, int dirfd, const char *name, dev_t dev,
		      ino_t ino)
{
	struct req q = { .op = OP_REOPEN, .dev = dev, .ino = ino };
	struct rep r;
	int fd, rc;

	if (!fs_privsep_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (ps == NULL)
		return reopen_at(dirfd, name, (uint64_t)dev, (uint64_t)ino);
	memcpy(q.name, name, strlen(name) + 1);
	rc = call(ps, &q, &r, &fd);
	if (rc == 0 && fd < 0)
		rc = EPIPE;
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return fd;
}

void fs_privsep_forget(fs_privsep *ps, dev_t dev, ino_t ino)
{
	struct req q = { .op = OP_FORGET, .dev = dev, .ino = ino };
	struct rep r;
	int fd;

	if (ps != NULL)
		(void)call(ps, &q, &r, &fd);
}

void fs_privsep_stop(fs_privsep *ps)
{
	struct req q = { .op = OP_QUIT };
	struct rep r;
	int fd, st;

	if (ps == NULL)
		return;
	/* asked, not only told by the end of the socket: a child the
	 * application forked may still hold our end */
	(void)call(ps, &q, &r, &fd);
	close(ps->sock);
	while (waitpid(ps->pid, &st, __WALL) < 0 && errno == EINTR)
		;
	pthread_mutex_destroy(&ps->lock);
	free(ps);
}

/* ---- the spool's files ---- */

static int spool_call(fs_privsep *ps, uint32_t op, const char *name,
		      uint64_t arg, int *fd)
{
	struct req q = { .op = op, .dev = arg };
	struct rep r;
	int rc;

	if (strlen(name) > FS_PS_NAME_MAX)
		return EINVAL;
	memcpy(q.name, name, strlen(name) + 1);
	rc = call(ps, &q, &r, fd);
	if (rc != 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int fs_privsep_spool_create(fs_privsep *ps, int spoolfd, const char *name,
			    bool direct)
{
	int fd = -1, rc;

	if (!fs_privsep_spool_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (ps == NULL)
		return openat(spoolfd, name, O_WRONLY | O_CREAT | O_EXCL |
			      O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
			      (direct ? O_DIRECT : 0), 0600);
	rc = spool_call(ps, OP_SPOOL_CREATE, name, direct ? 1 : 0, &fd);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return fd;
}

int fs_privsep_spool_open(fs_privsep *ps, int spoolfd, const char *name)
{
	int fd = -1, rc;
	size_t n = name != NULL ? strlen(name) : 0;

	if (!fs_privsep_spool_name_ok(name) || strcmp(name + n - 4, ".tmp") == 0) {
		errno = EINVAL;
		return -1;
	}
	if (ps == NULL)
		return openat(spoolfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY |
			      O_CLOEXEC);
	rc = spool_call(ps, OP_SPOOL_OPEN, name, 0, &fd);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return fd;
}

int fs_privsep_spool_unlink(fs_privsep *ps, int spoolfd, const char *name)
{
	int fd = -1, rc;

	if (!fs_privsep_spool_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (ps == NULL)
		return unlinkat(spoolfd, name, 0);
	rc = spool_call(ps, OP_SPOOL_UNLINK, name, 0, &fd);
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

int fs_privsep_spool_commit(fs_privsep *ps, int spoolfd, const char *tmp)
{
	int fd = -1, rc;
	size_t n = strlen(tmp);
	char to[FS_PS_NAME_MAX + 1];

	if (n < 5 || n > FS_PS_NAME_MAX || strcmp(tmp + n - 4, ".tmp") != 0 ||
	    !fs_privsep_spool_name_ok(tmp)) {
		errno = EINVAL;
		return -1;
	}
	if (ps == NULL) {
		memcpy(to, tmp, n - 4);
		to[n - 4] = '\0';
		return renameat(spoolfd, tmp, spoolfd, to);
	}
	rc = spool_call(ps, OP_SPOOL_RENAME, tmp, 0, &fd);
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}
