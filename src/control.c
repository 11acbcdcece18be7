/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket (see control.h): a private directory, a 0600 UNIX
 * socket and one thread whose poll loop serves many connections at once,
 * each under its own deadlines; the commands run one at a time.
 */
#define _GNU_SOURCE
#include "control.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_MS 2000		/* whole command line, from accept */
#define WRITE_IDLE_MS 2000	/* a write that makes no progress this long */
#define WRITE_TOTAL_MS 30000	/* even a trickling reader is dropped */
#define DRAIN_MAX 65536		/* unread input swallowed before close */
#define PAUSE_MS 100		/* no accept this long after EMFILE & co */
#define BACKLOG FS_CTL_CONN_MAX
#define TOP_DEFAULT 10
#define TOP_MAX 1000
#define COMMANDS "stats, top, flows, trigger, readers, help, ping"

/*
 * One client: it sends its command line (READ), then gets the answer,
 * built whole before the first byte goes out (WRITE), then is closed.
 */
enum conn_state { CONN_FREE, CONN_READ, CONN_WRITE };

struct conn {
	int fd;
	enum conn_state state;
	int64_t deadline;	/* READ: the whole line; WRITE: next progress */
	int64_t total;		/* WRITE: the whole answer */
	size_t have;		/* READ: bytes in in */
	char in[FS_CTL_LINE_MAX + 2];	/* the longest line, '\r', '\n' */
	char *out;		/* WRITE: the answer */
	size_t outlen, sent;
};

struct fs_control {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct fs_control_ops ops;
	void *arg;
	int lfd;		/* listening socket */
	int wake;		/* eventfd: readable once stop was asked */
	dev_t dev;		/* identity of the socket file we bound, so */
	ino_t ino;		/* stop never removes someone else's */
	pthread_t thread;
	int running;
	/* the control thread's alone */
	unsigned nconn;
	struct conn conns[FS_CTL_CONN_MAX];
};

static const char help_text[] =
	"stats              counters of the capture\n"
	"top [N]            the N busiest flows of the last interval "
	"(default 10, at most 1000)\n"
	"flows [FILTER]     tracked flows, those matching a pcap filter "
	"when one is given\n"
	"trigger [FILTER]   trigger every tracked flow matching FILTER "
	"(all without one)\n"
	"readers            processes attached to the shared ring (share): "
	"pid, program, mode, group, rate, drops\n"
	"help               this list\n"
	"ping               answers pong (liveness check)\n";

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Check the command line in buf (have bytes; a '\n' in it ends the line,
 * else end of input did) and copy it to line without "\r\n". Returns 0
 * with a line, 1 when there is none (nothing was sent: just close), -1
 * with a reason in why.
 */
static int parse_line(const char *buf, size_t have, size_t bufsize,
		      char *line, size_t linelen, char *why, size_t whylen)
{
	const char *nl = memchr(buf, '\n', have);
	size_t len = nl != NULL ? (size_t)(nl - buf) : have;

	if (have == 0)
		return 1;
	if (nl == NULL && have == bufsize) {
		snprintf(why, whylen, "command line longer than %d bytes",
			 FS_CTL_LINE_MAX);
		return -1;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len > FS_CTL_LINE_MAX || len >= linelen) {
		snprintf(why, whylen, "command line longer than %d bytes",
			 FS_CTL_LINE_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch < 0x20 || ch > 0x7e) {
			snprintf(why, whylen,
				 "command line holds byte 0x%02x; only "
				 "printable ASCII is accepted", ch);
			return -1;
		}
	}
	memcpy(line, buf, len);
	line[len] = '\0';
	return 0;
}

/* Parse N of "top N": decimal digits only, 1..TOP_MAX. */
static int parse_top(const char *s, unsigned *n)
{
	unsigned long v = 0;

	if (*s == '\0') {
		*n = TOP_DEFAULT;
		return 0;
	}
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > TOP_MAX)
			return -1;
	}
	if (v < 1)
		return -1;
	*n = (unsigned)v;
	return 0;
}

/*
 * Run one parsed command; the answer text goes to out. Returns 0, or -1
 * with the reason in why (then nothing has been changed: every argument is
 * checked before an op is called).
 */
static int run_command(const fs_control *c, const char *cmd, const char *arg,
		       FILE *out, char *why, size_t whylen)
{
	const struct fs_control_ops *o = &c->ops;
	struct bpf_program prog;
	int have_prog = 0;
	int is_flows;
	int rc = -1;

	if (strcmp(cmd, "ping") == 0 || strcmp(cmd, "help") == 0) {
		if (arg[0] != '\0') {
			snprintf(why, whylen, "%s takes no argument", cmd);
			goto done;
		}
		fputs(strcmp(cmd, "ping") == 0 ? "pong\n" : help_text, out);
		rc = 0;
		goto done;
	}
	if (strcmp(cmd, "stats") == 0) {
		if (arg[0] != '\0') {
			snprintf(why, whylen, "stats takes no argument");
			goto done;
		}
		if (o->stats == NULL) {
			snprintf(why, whylen, "stats: not supported here");
			goto done;
		}
		rc = o->stats(c->arg, out, why, whylen);
		goto done;
	}
	if (strcmp(cmd, "readers") == 0) {
		if (arg[0] != '\0') {
			snprintf(why, whylen, "readers takes no argument");
			goto done;
		}
		rc = o->readers == NULL ? 0 : o->readers(c->arg, out, why,
							 whylen);
		goto done;
	}
	if (strcmp(cmd, "top") == 0) {
		unsigned n;

		if (parse_top(arg, &n) < 0) {
			snprintf(why, whylen,
				 "top: N must be a number from 1 to %d, "
				 "not '%.64s'", TOP_MAX, arg);
			goto done;
		}
		if (o->top == NULL) {
			snprintf(why, whylen, "top: not supported here");
			goto done;
		}
		rc = o->top(c->arg, n, out, why, whylen);
		goto done;
	}
	is_flows = strcmp(cmd, "flows") == 0;
	if (!is_flows && strcmp(cmd, "trigger") != 0) {
		snprintf(why, whylen, "unknown command '%.64s' (" COMMANDS ")",
			 cmd);
		goto done;
	}
	if ((is_flows && o->flows == NULL) ||
	    (!is_flows && o->trigger == NULL)) {
		snprintf(why, whylen, "%s: not supported here", cmd);
		goto done;
	}
	if (arg[0] != '\0') {
		if (fs_control_compile(arg, &prog, why, whylen) < 0)
			goto done;
		have_prog = 1;
	}
	if (is_flows)
		rc = o->flows(c->arg, have_prog ? &prog : NULL, out, why,
			      whylen);
	else
		rc = o->trigger(c->arg, have_prog ? &prog : NULL, arg, out,
				why, whylen);
done:
	if (have_prog)
		pcap_freecode(&prog);
	return rc;
}

int fs_control_compile(const char *text, struct bpf_program *prog,
		       char *why, size_t whylen)
{
	/* a dead Ethernet handle: what the engine's frames are, and
	 * libpcap's compiler is reentrant on separate handles */
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	int rc = 0;

	if (dead == NULL) {
		snprintf(why, whylen, "cannot compile filters (out of memory)");
		return -1;
	}
	if (pcap_compile(dead, prog, text, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(why, whylen, "bad filter: %s", pcap_geterr(dead));
		rc = -1;
	}
	pcap_close(dead);
	return rc;
}


/*
 * Close connection k. Unread input is swallowed first, because closing a
 * UNIX socket with unread data makes the client's read fail with
 * ECONNRESET instead of seeing the end of our answer.
 */
static void conn_close(fs_control *c, struct conn *k)
{
	char sink[4096];
	size_t drained = 0;
	ssize_t n;

	shutdown(k->fd, SHUT_WR);
	while (drained < DRAIN_MAX &&
	       (n = recv(k->fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
		drained += (size_t)n;
	close(k->fd);
	free(k->out);
	k->out = NULL;
	k->fd = -1;
	k->state = CONN_FREE;
	c->nconn--;
}

/*
 * Send what the peer takes now. Done, or a peer that is gone, closes the
 * connection; a peer that reads nothing for WRITE_IDLE_MS or takes longer
 * than WRITE_TOTAL_MS for the whole answer is closed when its deadline
 * passes (only its own answer is lost). MSG_NOSIGNAL because a vanished
 * client must not SIGPIPE the application.
 */
static void conn_write(fs_control *c, struct conn *k)
{
	while (k->sent < k->outlen) {
		ssize_t n = send(k->fd, k->out + k->sent, k->outlen - k->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			k->sent += (size_t)n;
			k->deadline = now_ms() + WRITE_IDLE_MS;
			if (k->deadline > k->total)
				k->deadline = k->total;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;
	}
	conn_close(c, k);
}

/* Answer with text (len bytes, malloc'ed; taken over, NULL closes). */
static void conn_answer(fs_control *c, struct conn *k, char *text,
			size_t len)
{
	int64_t now = now_ms();

	if (text == NULL) {
		conn_close(c, k);
		return;
	}
	k->state = CONN_WRITE;
	k->out = text;
	k->outlen = len;
	k->sent = 0;
	k->total = now + WRITE_TOTAL_MS;
	k->deadline = now + WRITE_IDLE_MS;
	conn_write(c, k);
}

/* Answer "error: WHY\n" (WHY made one line) and nothing else. */
static void conn_error(fs_control *c, struct conn *k, const char *why)
{
	size_t cap = FS_CTL_LINE_MAX + 64;
	char *line = malloc(cap);
	int n;
	size_t len;

	if (line == NULL) {
		conn_close(c, k);
		return;
	}
	n = snprintf(line, cap, "error: %s", why[0] ? why : "failed");
	if (n < 0) {
		free(line);
		conn_close(c, k);
		return;
	}
	len = (size_t)n < cap - 1 ? (size_t)n : cap - 2;
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	conn_answer(c, k, line, len);
}

/*
 * Split line into command and argument, run it, answer. The answer is
 * built in memory first so that the op never waits on the client and
 * "ok" is only sent when the op succeeded.
 */
static void respond(fs_control *c, struct conn *k, char *line)
{
	char why[PCAP_ERRBUF_SIZE + 64] = "";
	char *cmd = line, *arg, *end, *text = NULL;
	size_t textlen = 0;
	FILE *out;
	int rc;

	while (*cmd == ' ')
		cmd++;
	end = cmd + strlen(cmd);
	while (end > cmd && end[-1] == ' ')
		*--end = '\0';
	arg = strchr(cmd, ' ');
	if (arg != NULL) {
		*arg++ = '\0';
		while (*arg == ' ')
			arg++;
	} else {
		arg = end;
	}
	if (*cmd == '\0') {
		conn_error(c, k, "empty command (" COMMANDS ")");
		return;
	}

	out = open_memstream(&text, &textlen);
	if (out == NULL) {
		conn_error(c, k, "out of memory");
		return;
	}
	fputs("ok\n", out);
	rc = run_command(c, cmd, arg, out, why, sizeof(why));
	/* text and textlen are only valid after a flush */
	if (rc == 0 && fflush(out) == 0 && textlen > 0 &&
	    text[textlen - 1] != '\n')
		fputc('\n', out);
	if (fclose(out) != 0 && rc == 0) {
		snprintf(why, sizeof(why), "out of memory for the answer");
		rc = -1;
	}
	if (rc == 0) {
		conn_answer(c, k, text, textlen);
		return;
	}
	free(text);
	conn_error(c, k, why);
}

/* The command line of k is complete (or ended by end of input, or too
 * long): answer it. */
static void conn_line(fs_control *c, struct conn *k)
{
	char line[FS_CTL_LINE_MAX + 1];
	char why[128];
	int r = parse_line(k->in, k->have, sizeof(k->in), line, sizeof(line),
			   why, sizeof(why));

	if (r == 0)
		respond(c, k, line);
	else if (r < 0)
		conn_error(c, k, why);
	else
		conn_close(c, k);
}

/* Take what k's client sent; act once the line is complete. */
static void conn_read(fs_control *c, struct conn *k)
{
	while (k->have < sizeof(k->in)) {
		ssize_t n = recv(k->fd, k->in + k->have,
				 sizeof(k->in) - k->have, MSG_DONTWAIT);

		if (n > 0) {
			bool nl = memchr(k->in + k->have, '\n',
					 (size_t)n) != NULL;

			k->have += (size_t)n;
			if (nl)
				break;
			continue;
		}
		if (n == 0)	/* `printf stats | nc -U` sends no '\n' */
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		conn_close(c, k);
		return;
	}
	conn_line(c, k);
}

/* Deadlines that passed: a silent client is dropped, half a line gets an
 * error, a client that does not read loses its answer. */
static void expire(fs_control *c, int64_t now)
{
	for (unsigned i = 0; i < FS_CTL_CONN_MAX; i++) {
		struct conn *k = &c->conns[i];
		char why[80];

		if (k->state == CONN_FREE || k->deadline > now)
			continue;
		if (k->state == CONN_READ && k->have > 0) {
			snprintf(why, sizeof(why), "no complete command line "
				 "within %d ms", READ_MS);
			conn_error(c, k, why);
		} else {
			conn_close(c, k);
		}
	}
}

/*
 * Accept what waits on the listener. With every slot taken, the client
 * that has waited longest without completing its line is dropped for a
 * new one, so that a crowd of silent clients cannot lock everybody out
 * for longer than one of them could; with every slot sending an answer,
 * new clients wait in the backlog. Returns -1 after running out of fds or
 * memory (the caller pauses: the listener stays readable).
 */
static int accept_new(fs_control *c)
{
	for (;;) {
		struct conn *k = NULL;
		struct ucred cred;
		socklen_t credlen = sizeof(cred);
		int fd;

		if (c->nconn == FS_CTL_CONN_MAX) {
			struct pollfd w = { .fd = c->lfd, .events = POLLIN };
			struct conn *old = NULL;

			/* nobody waiting: nobody to make room for */
			if (poll(&w, 1, 0) <= 0)
				return 0;
			for (unsigned i = 0; i < FS_CTL_CONN_MAX; i++)
				if (c->conns[i].state == CONN_READ &&
				    (old == NULL ||
				     c->conns[i].deadline < old->deadline))
					old = &c->conns[i];
			if (old == NULL)
				return 0;
			conn_close(c, old);
		}
		fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				return -1;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return 0;	/* EAGAIN: all taken */
		}
		for (unsigned i = 0; i < FS_CTL_CONN_MAX && k == NULL; i++)
			if (c->conns[i].state == CONN_FREE)
				k = &c->conns[i];
		c->nconn++;
		k->fd = fd;
		k->state = CONN_READ;
		k->have = 0;
		k->deadline = now_ms() + READ_MS;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
			       &credlen) < 0 ||
		    (cred.uid != geteuid() && cred.uid != 0))
			/* the 0700 directory already keeps others out; this
			 * holds even when someone loosened it */
			conn_error(c, k, "permission denied");
	}
}

static void *control_thread(void *p)
{
	fs_control *c = p;
	struct pollfd pf[2 + FS_CTL_CONN_MAX];
	struct conn *who[2 + FS_CTL_CONN_MAX];
	int64_t paused_until = 0;

	for (;;) {
		int64_t now = now_ms(), next = INT64_MAX;
		unsigned n = 2;
		int timeout, r;
		bool full_of_writers = c->nconn == FS_CTL_CONN_MAX;

		pf[0] = (struct pollfd){ .fd = c->wake, .events = POLLIN };
		for (unsigned i = 0; i < FS_CTL_CONN_MAX; i++) {
			struct conn *k = &c->conns[i];

			if (k->state == CONN_FREE)
				continue;
			if (k->state == CONN_READ)
				full_of_writers = false;
			pf[n] = (struct pollfd){ .fd = k->fd,
				.events = k->state == CONN_READ ? POLLIN
								 : POLLOUT };
			who[n++] = k;
			if (k->deadline < next)
				next = k->deadline;
		}
		/* the listener only when a new client can be taken */
		pf[1] = (struct pollfd){ .fd = -1, .events = POLLIN };
		if (now >= paused_until && !full_of_writers)
			pf[1].fd = c->lfd;
		else if (now < paused_until && paused_until < next)
			next = paused_until;
		timeout = next == INT64_MAX ? -1
			: next <= now ? 0
			: next - now > 60000 ? 60000 : (int)(next - now);
		r = poll(pf, n, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (r < 0)
			continue;
		if (pf[0].revents)
			break;
		for (unsigned i = 2; i < n; i++) {
			struct conn *k = who[i];

			if (pf[i].revents == 0 || k->state == CONN_FREE)
				continue;
			if (k->state == CONN_READ)
				conn_read(c, k);
			else
				conn_write(c, k);
		}
		expire(c, now_ms());
		if (pf[1].fd >= 0 && pf[1].revents && accept_new(c) < 0)
			paused_until = now_ms() + PAUSE_MS;
	}
	for (unsigned i = 0; i < FS_CTL_CONN_MAX; i++)
		if (c->conns[i].state != CONN_FREE)
			conn_close(c, &c->conns[i]);
	return NULL;
}

/*
 * Make sure the directory of path exists, is a real directory of ours and
 * is closed to everybody else: it is what keeps other users away from the
 * socket (connect needs search permission on it).
 */
static int check_dir(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *slash = strrchr(path, '/');
	struct stat st;
	int created = 0;
	int rc = -1;

	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == path) {
		snprintf(dir, sizeof(dir), "/");
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	if (mkdir(dir, 0700) == 0) {
		created = 1;
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create directory: %s", dir,
			 strerror(errno));
		goto done;
	}
	if (lstat(dir, &st) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto done;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, errlen, "%s: is a symbolic link; the control "
			 "socket needs a real private directory", dir);
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		goto done;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %u, not by us (uid %u)",
			 dir, (unsigned)st.st_uid, (unsigned)geteuid());
		goto done;
	}
	/* a umask such as 0277 would leave a directory we cannot use */
	if (created && (st.st_mode & 07777) != 0700) {
		if (chmod(dir, 0700) < 0) {
			snprintf(err, errlen, "%s: chmod 0700: %s", dir,
				 strerror(errno));
			goto done;
		}
		st.st_mode = (st.st_mode & ~07777u) | 0700;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: open to group or others (mode "
			 "%04o); the control socket needs mode 0700", dir,
			 (unsigned)(st.st_mode & 07777));
		goto done;
	}
	rc = 0;
done:
	return rc;
}

/*
 * Deal with a file already at path: a live capture's socket is an error,
 * a stale socket (nobody listening) is removed, anything else is left
 * alone and refused.
 */
int fs_control_clear_stale(const char *path, const struct sockaddr_un *sa,
			   char *err, size_t errlen)
{
	struct stat st;
	int fd = -1;
	int rc = -1;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			rc = 0;
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket; not "
			 "replacing it", path);
		goto done;
	}
	/* non-blocking: a live server with a full backlog answers EAGAIN
	 * instead of making us wait */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto done;
	}
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
	    errno == EAGAIN || errno == EINPROGRESS) {
		snprintf(err, errlen, "%s: in use by another capture", path);
		goto done;
	}
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "%s: cannot tell whether it is in use: "
			 "%s", path, strerror(errno));
		goto done;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove stale socket: %s",
			 path, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

fs_control *fs_control_start(const char *path,
			     const struct fs_control_ops *ops, void *arg,
			     char *err, size_t errlen)
{
	fs_control *c = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t mask;
	int bound = 0;
	int r;
	fs_control *ret = NULL;

	if (path == NULL || path[0] == '\0' || ops == NULL) {
		snprintf(err, errlen, "control socket: no path given");
		goto done;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a UNIX socket "
			 "(at most %zu bytes)", path, sizeof(sa.sun_path) - 1);
		goto done;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto done;
	}
	c->lfd = -1;
	c->wake = -1;
	c->ops = *ops;
	c->arg = arg;
	memcpy(c->path, path, strlen(path) + 1);

	if (check_dir(path, err, errlen) < 0 ||
	    fs_control_clear_stale(path, &sa, err, errlen) < 0)
		goto done;
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);
	c->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->lfd < 0 || c->wake < 0) {
		snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
		goto done;
	}
	/* the socket must never exist with wider permissions, even for an
	 * instant; umask is process-wide, so the window is this one call */
	mask = umask(0177);
	r = bind(c->lfd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(mask);
	if (r < 0) {
		if (errno == EADDRINUSE)
			/* another capture bound it since we looked */
			snprintf(err, errlen, "%s: in use by another capture",
				 path);
		else
			snprintf(err, errlen, "%s: bind: %s", path,
				 strerror(errno));
		goto done;
	}
	bound = 1;
	if (lstat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	/* belt and braces for the umask: sockets cannot be fchmod()ed, and
	 * the private directory keeps anyone from swapping the file */
	if (chmod(path, 0600) < 0 || listen(c->lfd, BACKLOG) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}

	/* it must never take the application's signals (SIGINT for
	 * tcpdump, SIGALRM, ...) */
	r = fs_thread_start(&c->thread, control_thread, c);
	if (r != 0) {
		snprintf(err, errlen, "%s: cannot start thread: %s", path,
			 strerror(r));
		goto done;
	}
	c->running = 1;
	ret = c;
done:
	if (ret == NULL && c != NULL) {
		if (bound)
			unlink(path);
		if (c->lfd >= 0)
			close(c->lfd);
		if (c->wake >= 0)
			close(c->wake);
		free(c);
	}
	return ret;
}

void fs_control_stop(fs_control *c)
{
	struct stat st;
	uint64_t one = 1;

	if (c == NULL)
		return;
	if (c->running) {
		/* stays readable: ends the poll loop whatever its clients
		 * do */
		if (write(c->wake, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow with one write */
		}
		pthread_join(c->thread, NULL);
	}
	close(c->lfd);
	close(c->wake);
	/* only ours: a new capture may have replaced a socket it found
	 * stale after someone removed ours */
	if (lstat(c->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c);
}


int fs_control_default_path(const char *label, char *buf, size_t len)
{
	const size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path);
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char safe[64], pid[24];
	size_t i, room;
	int n;

	if (len > 0)
		buf[0] = '\0';
	if (fs_control_default_dir(dir, sizeof(dir)) < 0)
		return -1;
	if (label == NULL || label[0] == '\0')
		label = "capture";
	/* the label is cut so that the whole path stays a socket path */
	n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
	room = sizeof(safe) - 1;
	if (strlen(dir) + (size_t)n + sizeof("/-x.sock") > sun_max) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (strlen(dir) + (size_t)n + sizeof("/-.sock") + room > sun_max)
		room = sun_max - strlen(dir) - (size_t)n - sizeof("/-.sock");
	/* the name ends up in a path and in `flowscope-ctl list`: keep it to
	 * characters no shell or path parser treats specially */
	for (i = 0; i < room && label[i] != '\0'; i++) {
		char ch = label[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == '_')
			safe[i] = ch;
		else
			safe[i] = '_';
	}
	safe[i] = '\0';
	n = snprintf(buf, len, "%s/%s-%s.sock", dir, pid, safe);
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
