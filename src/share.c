/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared rings (share.h): the publisher's socket and reader slots, the
 * group tables, and a reader's way in.
 */
#define _GNU_SOURCE
#include "share.h"
#include "claim.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "control_dir.h"
#include "devname.h"

#define LINE_MAX_ 256
#define HELLO_MS 3000		/* for the reader's first line */
#define PROTO "1"

/* ---- the tables in the ring's header ---- */

struct gmember {
	uint32_t id;
	char group[FS_SHARE_GROUP_MAX + 1];
	uint8_t pad[3];
};

struct gtab {
	_Atomic uint32_t gen;	/* 0 while being written */
	uint32_t n;
	struct gmember m[FS_SHARE_READERS];
};

struct tables {
	struct gtab tab[FS_SHARE_GENS];
};
_Static_assert(sizeof(struct tables) <= FS_RING_EXTRA,
	       "the group tables fit in the ring's header");

bool fs_share_name_ok(const char *name, size_t max)
{
	return name != NULL && fs_name_valid(name, strlen(name), max);
}

int fs_share_path(const char *name, bool root_dir, char *buf, size_t len)
{
	char dir[108];
	int n;

	if (root_dir) {
		snprintf(dir, sizeof(dir), "%s", FS_SHARE_DIR);
	} else if (fs_control_default_dir(dir, sizeof(dir)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* not NAME.sock in the control directory, where flowscope-ctl
	 * takes every .sock for a capture's control socket */
	n = snprintf(buf, len, root_dir ? "%s/%s.sock" : "%s/%s.share",
		     dir, name);
	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- publisher ---- */

struct rslot {
	int fd;			/* -1: free */
	bool admitted;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	uint32_t member;
	int64_t since_ms;	/* connected (hello deadline) */
	char prog[32];
	char mode[8];
	char group[FS_SHARE_GROUP_MAX + 1];
	char in[LINE_MAX_];
	size_t inlen;
	uint64_t delivered, dropped;
	uint64_t last_delivered;
	int64_t last_ms;
	uint64_t rate;		/* packets/s over the last report interval */
};

struct fs_share {
	char name[FS_SHARE_NAME_MAX + 1];
	char path[108];
	dev_t dev;
	ino_t ino;
	bool has_gid;
	gid_t gid;
	char gname[64];
	char owner[64];
	fs_ring *ring;
	struct tables *tabs;
	int ring_fd;
	int spool_fd;		/* the spool directory, or -1 */
	int lfd, wake;
	pthread_t thread;
	bool running;
	_Atomic bool stop;
	pthread_mutex_t lock;	/* slots and counters, for other threads */
	struct rslot slot[FS_SHARE_READERS];
	uint32_t next_member;
	uint32_t gen;
	uint64_t attached, refused, joins, leaves;
};

static void user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, len, "%s", pw.pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
}

/* Write the members of every group as generation gen + 1 and make it the
 * one in force (the writers take it into their next chunks). */
static void regroup(fs_share *s)
{
	uint32_t gen = s->gen + 1;
	struct gtab *t;
	uint32_t n = 0;

	if (gen == 0)
		gen = 1;
	t = &s->tabs->tab[gen % FS_SHARE_GENS];
	atomic_store_explicit(&t->gen, 0, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < FS_SHARE_READERS; i++) {
		const struct rslot *r = &s->slot[i];

		if (r->fd < 0 || !r->admitted || r->group[0] == '\0')
			continue;
		memset(&t->m[n], 0, sizeof(t->m[n]));
		t->m[n].id = r->member;
		memcpy(t->m[n].group, r->group, sizeof(r->group));
		n++;
	}
	t->n = n;
	atomic_store_explicit(&t->gen, gen, memory_order_release);
	s->gen = gen;
	atomic_store_explicit(fs_ring_tag(s->ring), gen, memory_order_release);
}

static void slot_close(fs_share *s, struct rslot *r)
{
	bool grouped = r->admitted && r->group[0] != '\0';

	pthread_mutex_lock(&s->lock);
	close(r->fd);
	r->fd = -1;
	if (grouped) {
		s->leaves++;
		regroup(s);
	}
	r->admitted = false;
	pthread_mutex_unlock(&s->lock);
}

/* Send line with the descriptors fds[0..nfds) (at most 2). */
static void say(int fd, const char *line, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)line, .iov_len = strlen(line) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), fds, nfds * sizeof(int));
	}
	(void)!sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* May the peer of r attach? Else why not, in err. */
static bool admitted(fs_share *s, struct rslot *r, char *err, size_t len)
{
	gid_t groups[256];
	socklen_t gl = sizeof(groups);
	char who[64];

	if (r->uid == 0 || r->uid == geteuid())
		return true;
	if (s->has_gid && r->gid == s->gid)
		return true;	/* its primary group */
	if (s->has_gid &&
	    getsockopt(r->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == 0) {
		for (size_t i = 0; i < gl / sizeof(gid_t); i++)
			if (groups[i] == s->gid)
				return true;
	}
	user_name(r->uid, who, sizeof(who));
	if (s->has_gid)
		snprintf(err, len, "%s may not attach: only %s and members of "
			 "group %s (share_group) may", who, s->owner, s->gname);
	else
		snprintf(err, len, "%s may not attach: only %s may (share_group "
			 "admits a group)", who, s->owner);
	return false;
}

/* r's first line: attach, or say why not and hang up. */
static void hello(fs_share *s, struct rslot *r, char *line)
{
	char mode[16], group[64], prog[64], ver[8], err[300], ok[160];
	int fds[2];
	int fields = sscanf(line, "attach %7s %15s %63s %63s", ver, mode,
			    group, prog);

	if (fields != 4 || strcmp(ver, PROTO) != 0 ||
	    (strcmp(mode, "live") != 0 && strcmp(mode, "trigger") != 0) ||
	    (strcmp(group, "-") != 0 &&
	     !fs_share_name_ok(group, FS_SHARE_GROUP_MAX))) {
		say(r->fd, "error: not an attach request this publisher "
		    "understands (another flowscope version?)\n", NULL, 0);
		goto refuse;
	}
	if (!admitted(s, r, err, sizeof(err))) {
		char out[320];

		snprintf(out, sizeof(out), "error: %s\n", err);
		say(r->fd, out, NULL, 0);
		goto refuse;
	}
	for (char *p = prog; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			*p = '?';
	pthread_mutex_lock(&s->lock);
	r->admitted = true;
	r->member = ++s->next_member;
	snprintf(r->mode, sizeof(r->mode), "%.7s", mode);
	snprintf(r->prog, sizeof(r->prog), "%.31s", prog);
	snprintf(r->group, sizeof(r->group), "%.32s",
		 strcmp(group, "-") == 0 ? "" : group);
	r->last_ms = now_ms();
	s->attached++;
	if (r->group[0] != '\0') {
		s->joins++;
		regroup(s);
	}
	pthread_mutex_unlock(&s->lock);
	snprintf(ok, sizeof(ok), "ok %u %ld %s\n", r->member, (long)getpid(),
		 program_invocation_short_name);
	/* the ring, and the spool's directory for since: what the ring
	 * gave up is there */
	fds[0] = s->ring_fd;
	fds[1] = s->spool_fd;
	say(r->fd, ok, fds, s->spool_fd >= 0 ? 2 : 1);
	return;
refuse:
	pthread_mutex_lock(&s->lock);
	s->refused++;
	pthread_mutex_unlock(&s->lock);
	slot_close(s, r);
}

static void report(fs_share *s, struct rslot *r, const char *line)
{
	unsigned long long d, l;
	int64_t now;

	if (sscanf(line, "stats %llu %llu", &d, &l) != 2)
		return;
	now = now_ms();
	pthread_mutex_lock(&s->lock);
	if (now > r->last_ms && d >= r->last_delivered)
		r->rate = (d - r->last_delivered) * 1000 /
			(uint64_t)(now - r->last_ms);
	r->last_delivered = d;
	r->last_ms = now;
	r->delivered = d;
	r->dropped = l;
	pthread_mutex_unlock(&s->lock);
}

static void slot_read(fs_share *s, struct rslot *r)
{
	ssize_t n = recv(r->fd, r->in + r->inlen, sizeof(r->in) - 1 - r->inlen,
			 MSG_DONTWAIT);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		slot_close(s, r);	/* the reader is gone */
		return;
	}
	r->inlen += (size_t)n;
	r->in[r->inlen] = '\0';
	while ((nl = memchr(r->in, '\n', r->inlen)) != NULL) {
		size_t len = (size_t)(nl - r->in) + 1;

		*nl = '\0';
		if (!r->admitted)
			hello(s, r, r->in);
		else
			report(s, r, r->in);
		if (r->fd < 0)
			return;
		memmove(r->in, r->in + len, r->inlen - len);
		r->inlen -= len;
	}
	if (r->inlen == sizeof(r->in) - 1)
		slot_close(s, r);	/* no line ends: not one of ours */
}

static void accept_one(fs_share *s)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct rslot *r = NULL;

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0) {
		close(fd);
		return;
	}
	for (unsigned i = 0; i < FS_SHARE_READERS; i++)
		if (s->slot[i].fd < 0) {
			r = &s->slot[i];
			break;
		}
	if (r == NULL) {
		say(fd, "error: " "too many readers attached (at most 64)\n",
		    NULL, 0);
		close(fd);
		return;
	}
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->pid = cr.pid;
	r->uid = cr.uid;
	r->gid = cr.gid;
	r->since_ms = now_ms();
}

static void *share_thread(void *arg)
{
	fs_share *s = arg;
	struct pollfd pfd[FS_SHARE_READERS + 2];
	int idx[FS_SHARE_READERS + 2];

	while (!atomic_load(&s->stop)) {
		unsigned n = 0;
		int64_t now = now_ms();

		pfd[n].fd = s->wake;
		pfd[n++].events = POLLIN;
		pfd[n].fd = s->lfd;
		pfd[n++].events = POLLIN;
		for (unsigned i = 0; i < FS_SHARE_READERS; i++) {
			struct rslot *r = &s->slot[i];

			if (r->fd < 0)
				continue;
			if (!r->admitted && now - r->since_ms > HELLO_MS) {
				slot_close(s, r);
				continue;
			}
			idx[n] = (int)i;
			pfd[n].fd = r->fd;
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, n, 500) <= 0)
			continue;
		if (pfd[1].revents & POLLIN)
			accept_one(s);
		for (unsigned k = 2; k < n; k++)
			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
				slot_read(s, &s->slot[idx[k]]);
	}
	return NULL;
}

/* The directory of root's shares: ours, 0755, no symlink. */
static int share_dir(const char *path, char *err, size_t errlen)
{
	char dir[108];
	const char *slash = strrchr(path, '/');
	struct stat st;

	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (strcmp(dir, FS_SHARE_DIR) != 0)
		return 0;	/* the user's control directory: control.c's */
	if (mkdir(dir, 0755) == 0) {
		/* whatever the umask: readers of share_group pass through */
		(void)chmod(dir, 0755);
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "share: cannot create %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		snprintf(err, errlen, "share: %s is not a directory of root's "
			 "that only root may write", dir);
		return -1;
	}
	return 0;
}

/* Who serves the socket at path, as "pid N (PROGRAM)", or "". */
static void publisher_of(const char *path, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	buf[0] = '\0';
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0) {
		char comm[64];

		fs_proc_comm((long)cr.pid, comm, sizeof(comm));
		snprintf(buf, len, "pid %ld (%s)", (long)cr.pid, comm);
	}
	close(fd);
}

fs_share *fs_share_start(const char *name, const char *share_group,
			 fs_ring *ring, int ring_fd, int spool_fd, char *err,
			 size_t errlen)
{
	fs_share *s = calloc(1, sizeof(*s));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int rc;

	if (s == NULL) {
		snprintf(err, errlen, "share: out of memory");
		return NULL;
	}
	s->lfd = s->wake = s->ring_fd = s->spool_fd = -1;
	for (unsigned i = 0; i < FS_SHARE_READERS; i++)
		s->slot[i].fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->ring = ring;
	s->tabs = fs_ring_extra(ring);
	user_name(geteuid(), s->owner, sizeof(s->owner));
	if (share_group != NULL) {
		struct group gr, *res = NULL;
		char tmp[4096];

		if (getgrnam_r(share_group, &gr, tmp, sizeof(tmp), &res) != 0 ||
		    res == NULL) {
			snprintf(err, errlen, "share_group: no group named '%s'",
				 share_group);
			goto fail;
		}
		s->has_gid = true;
		s->gid = gr.gr_gid;
		snprintf(s->gname, sizeof(s->gname), "%s", share_group);
	}
	if (fs_share_path(name, geteuid() == 0, s->path, sizeof(s->path)) < 0) {
		snprintf(err, errlen, "share: the socket path of '%s' is too "
			 "long", name);
		goto fail;
	}
	if (share_dir(s->path, err, errlen) < 0)
		goto fail;
	s->ring_fd = fcntl(ring_fd, F_DUPFD_CLOEXEC, 0);
	if (spool_fd >= 0 &&
	    (s->spool_fd = fcntl(spool_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "share: %s", strerror(errno));
		goto fail;
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->ring_fd < 0 || s->lfd < 0 || s->wake < 0) {
		snprintf(err, errlen, "share: %s", strerror(errno));
		goto fail;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	if (fs_control_clear_stale(s->path, &sa, err, errlen) < 0) {
		char who[128];

		publisher_of(s->path, who, sizeof(who));
		if (who[0] != '\0')
			snprintf(err, errlen, "share: '%s' is published "
				 "already, by %s: attach with flowscope:@%s or "
				 "choose another name", name, who, name);
		goto fail;
	}
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "share: %s: bind: %s", s->path,
			 strerror(errno));
		goto fail;
	}
	/* whoever may connect is decided by the credentials (admitted()),
	 * so that a refusal says why */
	if (chmod(s->path, 0666) != 0 || lstat(s->path, &st) != 0 ||
	    listen(s->lfd, 16) != 0) {
		snprintf(err, errlen, "share: %s: %s", s->path,
			 strerror(errno));
		unlink(s->path);
		goto fail;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	rc = fs_thread_start(&s->thread, share_thread, s);
	if (rc != 0) {
		snprintf(err, errlen, "share: cannot start thread: %s",
			 strerror(rc));
		unlink(s->path);
		goto fail;
	}
	s->running = true;
	return s;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->wake >= 0)
		close(s->wake);
	if (s->ring_fd >= 0)
		close(s->ring_fd);
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

void fs_share_stop(fs_share *s)
{
	struct stat st;
	uint64_t one = 1;

	if (s == NULL)
		return;
	atomic_store(&s->stop, true);
	(void)!write(s->wake, &one, sizeof(one));
	if (s->running)
		pthread_join(s->thread, NULL);
	/* only our own socket: another publisher may have taken the name */
	if (lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	for (unsigned i = 0; i < FS_SHARE_READERS; i++)
		if (s->slot[i].fd >= 0)
			close(s->slot[i].fd);
	close(s->lfd);
	close(s->wake);
	close(s->ring_fd);
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

unsigned fs_share_readers(fs_share *s)
{
	unsigned n = 0;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < FS_SHARE_READERS; i++)
		n += s->slot[i].fd >= 0 && s->slot[i].admitted;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void fs_share_get_stats(fs_share *s, struct fs_share_stats *st)
{
	st->readers = fs_share_readers(s);
	pthread_mutex_lock(&s->lock);
	st->attached = s->attached;
	st->refused = s->refused;
	st->joins = s->joins;
	st->leaves = s->leaves;
	pthread_mutex_unlock(&s->lock);
}

void fs_share_write_readers(fs_share *s, FILE *out, const char *indent)
{
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < FS_SHARE_READERS; i++) {
		const struct rslot *r = &s->slot[i];

		if (r->fd < 0 || !r->admitted)
			continue;
		fprintf(out, "%sreader pid %ld program %s mode %s group %s "
			"rate %llu pkt/s delivered %llu drops %llu\n", indent,
			(long)r->pid, r->prog, r->mode,
			r->group[0] ? r->group : "-",
			(unsigned long long)r->rate,
			(unsigned long long)r->delivered,
			(unsigned long long)r->dropped);
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- reader ---- */

static int try_connect(const char *path, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", path);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	*fd_out = fd;
	return 0;
}

/* The publisher's answer line and the descriptors that came with it:
 * the ring's, and the spool directory's when it has one (else -1). */
static int hear(int fd, char *line, size_t len, int *ring_fd, int *spool_fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = line, .iov_len = len - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	ssize_t n;

	*ring_fd = *spool_fd = -1;
	do
		n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	line[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		int fds[2];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		if (c->cmsg_len == CMSG_LEN(sizeof(int))) {
			memcpy(ring_fd, CMSG_DATA(c), sizeof(int));
		} else if (c->cmsg_len == CMSG_LEN(2 * sizeof(int))) {
			memcpy(fds, CMSG_DATA(c), sizeof(fds));
			*ring_fd = fds[0];
			*spool_fd = fds[1];
		}
	}
	return 0;
}

int fs_share_attach(struct fs_attach *a, const char *name, const char *mode,
		    const char *group, char *err, size_t errlen)
{
	char paths[2][108], line[LINE_MAX_], prog[32], ringerr[200];
	unsigned npaths = 0, member;
	long pid;
	int fd = -1, ring_fd = -1, e = ENOENT;
	const char *tried = NULL;

	memset(a, 0, sizeof(*a));
	a->sock = -1;
	a->spool_fd = -1;
	if (!fs_share_name_ok(name, FS_SHARE_NAME_MAX)) {
		snprintf(err, errlen, "@%.80s: not a share name "
			 "(letters, digits, '.', '_', '-'; at most %d)", name,
			 FS_SHARE_NAME_MAX);
		return -1;
	}
	if (group != NULL && !fs_share_name_ok(group, FS_SHARE_GROUP_MAX)) {
		snprintf(err, errlen, "group: '%.80s' is not a group id "
			 "(letters, digits, '.', '_', '-'; at most %d)", group,
			 FS_SHARE_GROUP_MAX);
		return -1;
	}
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->group, sizeof(a->group), "%s", group ? group : "");
	if (geteuid() != 0 &&
	    fs_share_path(name, false, paths[npaths], sizeof(paths[0])) == 0)
		npaths++;
	if (fs_share_path(name, true, paths[npaths], sizeof(paths[0])) == 0)
		npaths++;
	for (unsigned i = 0; i < npaths && fd < 0; i++) {
		if (try_connect(paths[i], &fd) == 0)
			break;
		if (errno != ENOENT || tried == NULL) {
			e = errno;
			tried = paths[i];
		}
	}
	if (fd < 0) {
		if (e == ENOENT)
			snprintf(err, errlen, "@%s: no capture "
				 "publishes '%s' (no socket %s%s%s): start one "
				 "with share = %s", name, name, paths[0],
				 npaths > 1 ? " or " : "",
				 npaths > 1 ? paths[1] : "", name);
		else if (e == ECONNREFUSED)
			snprintf(err, errlen, "@%s: the capture that "
				 "published '%s' is gone (stale socket %s)",
				 name, name, tried);
		else
			snprintf(err, errlen, "@%s: %s: %s", name,
				 tried, strerror(e));
		return -1;
	}
	snprintf(line, sizeof(line), "attach " PROTO " %s %s %.31s\n", mode,
		 group ? group : "-", program_invocation_short_name);
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0 ||
	    hear(fd, line, sizeof(line), &ring_fd, &a->spool_fd) < 0) {
		snprintf(err, errlen, "@%s: the publisher did not "
			 "answer: %s", name, errno ? strerror(errno) : "hung up");
		goto fail;
	}
	line[strcspn(line, "\n")] = '\0';
	if (strncmp(line, "error: ", 7) == 0) {
		snprintf(err, errlen, "@%s: %s", name, line + 7);
		goto fail;
	}
	if (sscanf(line, "ok %u %ld %31s", &member, &pid, prog) != 3 ||
	    ring_fd < 0) {
		snprintf(err, errlen, "@%s: the publisher's answer "
			 "is not one this version understands", name);
		goto fail;
	}
	a->ring = fs_ring_attach(ring_fd, ringerr, sizeof(ringerr));
	close(ring_fd);
	ring_fd = -1;
	if (a->ring == NULL) {
		snprintf(err, errlen, "@%s: %s", name, ringerr);
		goto fail;
	}
	a->sock = fd;
	a->member = member;
	a->pub_pid = (pid_t)pid;
	snprintf(a->pub_prog, sizeof(a->pub_prog), "%s", prog);
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return 0;
fail:
	if (ring_fd >= 0)
		close(ring_fd);
	if (a->spool_fd >= 0)
		close(a->spool_fd);
	a->spool_fd = -1;
	close(fd);
	return -1;
}

void fs_share_detach(struct fs_attach *a)
{
	if (a->sock >= 0)
		close(a->sock);
	a->sock = -1;
	if (a->spool_fd >= 0)
		close(a->spool_fd);
	a->spool_fd = -1;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The tables are written by another process, which ThreadSanitizer
 * cannot see: its warning that it does not model the fence below says
 * nothing about this code. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

/* Read the members of our group in tag's table into a; false when the
 * table was overwritten since. */
static bool learn(struct fs_attach *a, uint32_t tag)
{
	const struct tables *t = fs_ring_extra(a->ring);
	const struct gtab *g = &t->tab[tag % FS_SHARE_GENS];
	uint32_t n;

	a->tag = tag;
	a->nmem = 0;
	a->tag_ok = false;
	if (tag == 0)
		return a->tag_ok = true;	/* before any group */
	if (atomic_load_explicit(&((struct gtab *)g)->gen,
				 memory_order_acquire) != tag)
		return false;
	n = g->n < FS_SHARE_READERS ? g->n : FS_SHARE_READERS;
	for (uint32_t i = 0; i < n; i++)
		if (strncmp(g->m[i].group, a->group, sizeof(a->group)) == 0)
			a->mem[a->nmem++] = g->m[i].id;
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&((struct gtab *)g)->gen,
				 memory_order_relaxed) != tag) {
		a->nmem = 0;
		return false;
	}
	return a->tag_ok = true;
}

bool fs_share_mine_slow(struct fs_attach *a, uint32_t tag, uint32_t hash,
			bool *unknown)
{
	uint64_t best = 0;
	uint32_t who = 0;

	if (tag != a->tag || (!a->tag_ok && a->nmem == 0))
		learn(a, tag);
	if (!a->tag_ok) {
		*unknown = true;
		return false;
	}
	for (unsigned i = 0; i < a->nmem; i++) {
		uint64_t sc = mix(((uint64_t)a->mem[i] << 32) | hash);

		if (sc >= best) {
			best = sc;
			who = a->mem[i];
		}
	}
	return who == a->member && who != 0;
}
