/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket (see control.h): a private directory, a 0600 UNIX
 * socket and one thread that serves one connection at a time under deadlines.
 */
#define _GNU_SOURCE
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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
#define BACKLOG 16
#define TOP_DEFAULT 10
#define TOP_MAX 1000
#define COMMANDS "stats, top, flows, trigger, help, ping"

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
};

static const char help_text[] =
	"stats              counters of the capture\n"
	"top [N]            the N busiest flows of the last interval "
	"(default 10, at most 1000)\n"
	"flows [FILTER]     tracked flows, those matching a pcap filter "
	"when one is given\n"
	"trigger [FILTER]   trigger every tracked flow matching FILTER "
	"(all without one)\n"
	"help               this list\n"
	"ping               answers pong (liveness check)\n";

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until fd is ready for events, stop was asked, or deadline (ms,
 * monotonic) passed. Returns 1 when ready, 0 on timeout or stop, -1 on a
 * poll error. The wake fd is part of every wait so that fs_control_stop
 * never waits for a slow client.
 */
static int wait_fd(const fs_control *c, int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = events },
			{ .fd = c->wake, .events = POLLIN },
		};
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(p, 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (p[1].revents)
			return 0;
		if (p[0].revents)
			return 1;
	}
}

/*
 * Send len bytes of buf. Gives up when the peer reads nothing for
 * WRITE_IDLE_MS or the whole answer takes longer than WRITE_TOTAL_MS: a
 * client that stops reading only loses its own answer. MSG_NOSIGNAL
 * because a vanished client must not SIGPIPE the application.
 */
static int send_all(const fs_control *c, int fd, const char *buf, size_t len,
		    int64_t total_deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int64_t deadline;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		deadline = now_ms() + WRITE_IDLE_MS;
		if (deadline > total_deadline)
			deadline = total_deadline;
		if (wait_fd(c, fd, POLLOUT, deadline) != 1)
			return -1;
	}
	return 0;
}

/* Send "error: WHY\n" (WHY made one line) and nothing else. */
static void send_error(const fs_control *c, int fd, const char *why)
{
	char line[FS_CTL_LINE_MAX + 64];
	int n = snprintf(line, sizeof(line), "error: %s",
			 why[0] ? why : "failed");
	size_t len;

	if (n < 0)
		return;
	len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	send_all(c, fd, line, len, now_ms() + WRITE_TOTAL_MS);
}

/*
 * Read the command line into line (NUL-terminated, without "\r\n").
 * Returns 0 with a line; 1 when the connection should just be closed
 * (nothing arrived before the deadline, or stop was asked); -1 with a
 * reason in why. End of input ends the line too, so that
 * `printf stats | nc -U` works.
 */
static int read_line(const fs_control *c, int fd, char *line, size_t linelen,
		     char *why, size_t whylen)
{
	char buf[FS_CTL_LINE_MAX + 2];	/* the longest line, '\r', '\n' */
	int64_t deadline = now_ms() + READ_MS;
	size_t have = 0, len;
	char *nl = NULL;

	while (nl == NULL && have < sizeof(buf)) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have,
				 MSG_DONTWAIT);
		int w;

		if (n > 0) {
			nl = memchr(buf + have, '\n', (size_t)n);
			have += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return 1;
		w = wait_fd(c, fd, POLLIN, deadline);
		if (w == 1)
			continue;
		if (w == 0 && have > 0 && now_ms() >= deadline) {
			snprintf(why, whylen,
				 "no complete command line within %d ms",
				 READ_MS);
			return -1;
		}
		return 1;
	}
	if (have == 0)
		return 1;
	len = nl != NULL ? (size_t)(nl - buf) : have;
	if (nl == NULL && have == sizeof(buf)) {
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
	pcap_t *dead = NULL;
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
		/* a dead Ethernet handle: what the engine's frames are, and
		 * libpcap's compiler is reentrant on separate handles */
		dead = pcap_open_dead(DLT_EN10MB, 65535);
		if (dead == NULL) {
			snprintf(why, whylen, "cannot compile filters (out "
				 "of memory)");
			goto done;
		}
		if (pcap_compile(dead, &prog, arg, 1,
				 PCAP_NETMASK_UNKNOWN) < 0) {
			snprintf(why, whylen, "bad filter: %s",
				 pcap_geterr(dead));
			goto done;
		}
		have_prog = 1;
	}
	if (is_flows)
		rc = o->flows(c->arg, have_prog ? &prog : NULL, out, why,
			      whylen);
	else
		rc = o->trigger(c->arg, have_prog ? &prog : NULL, out, why,
				whylen);
done:
	if (have_prog)
		pcap_freecode(&prog);
	if (dead != NULL)
		pcap_close(dead);
	return rc;
}

/*
 * Split line into command and argument, run it, send the answer. The
 * answer is built in memory first so that the op never waits on the
 * client and "ok" is only sent when the op succeeded.
 */
static void answer(const fs_control *c, int fd, char *line)
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
		send_error(c, fd, "empty command (" COMMANDS ")");
		return;
	}

	out = open_memstream(&text, &textlen);
	if (out == NULL) {
		send_error(c, fd, "out of memory");
		return;
	}
	rc = run_command(c, cmd, arg, out, why, sizeof(why));
	if (fclose(out) != 0 && rc == 0) {
		snprintf(why, sizeof(why), "out of memory for the answer");
		rc = -1;
	}
	if (rc == 0) {
		int64_t deadline = now_ms() + WRITE_TOTAL_MS;

		if (send_all(c, fd, "ok\n", 3, deadline) == 0 &&
		    send_all(c, fd, text, textlen, deadline) == 0 &&
		    textlen > 0 && text[textlen - 1] != '\n')
			send_all(c, fd, "\n", 1, deadline);
	} else {
		send_error(c, fd, why);
	}
	free(text);
}

/*
 * One connection: check the peer, read the line, answer. Unread input is
 * swallowed before close, because closing a UNIX socket with unread data
 * makes the client's read fail with ECONNRESET instead of seeing the end
 * of our answer.
 */
static void serve(const fs_control *c, int fd)
{
	char line[FS_CTL_LINE_MAX + 1];
	char why[128];
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	char sink[4096];
	size_t drained = 0;
	ssize_t n;
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0 ||
	    (cred.uid != geteuid() && cred.uid != 0)) {
		/* the 0700 directory already keeps others out; this holds
		 * even when someone loosened it */
		send_error(c, fd, "permission denied");
		goto done;
	}
	r = read_line(c, fd, line, sizeof(line), why, sizeof(why));
	if (r < 0)
		send_error(c, fd, why);
	if (r != 0)
		goto done;
	answer(c, fd, line);
done:
	shutdown(fd, SHUT_WR);
	while (drained < DRAIN_MAX &&
	       (n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
		drained += (size_t)n;
}

static void *control_thread(void *p)
{
	fs_control *c = p;

	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = c->lfd, .events = POLLIN },
			{ .fd = c->wake, .events = POLLIN },
		};
		int fd;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents)
			break;
		if (!pf[0].revents)
			continue;
		fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			/* out of fds or memory: the listener stays readable,
			 * so pause instead of spinning on it */
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				struct pollfd w = { .fd = c->wake,
						    .events = POLLIN };

				if (poll(&w, 1, 100) > 0)
					break;
			}
			continue;
		}
		serve(c, fd);
		close(fd);
	}
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
static int clear_stale(const char *path, const struct sockaddr_un *sa,
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
	sigset_t all, old;
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
	    clear_stale(path, &sa, err, errlen) < 0)
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

	/* the thread inherits our mask: it must never take the
	 * application's signals (SIGINT for tcpdump, SIGALRM, ...) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&c->thread, NULL, control_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
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
		/* stays readable: wakes the accept loop and any wait on a
		 * client alike */
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

void fs_control_default_path(const char *label, char *buf, size_t len)
{
	char safe[64];
	size_t i;

	if (label == NULL || label[0] == '\0')
		label = "capture";
	/* the name ends up in a path and in `flowscope-ctl list`: keep it to
	 * characters no shell or path parser treats specially */
	for (i = 0; i < sizeof(safe) - 1 && label[i] != '\0'; i++) {
		char ch = label[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == '_')
			safe[i] = ch;
		else
			safe[i] = '_';
	}
	safe[i] = '\0';
	snprintf(buf, len, FS_CTL_DIR "/%d-%s.sock", (int)getpid(), safe);
}
