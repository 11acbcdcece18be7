/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowscope-ctl: the operator's side of the control socket (DESIGN §4).
 * Sends one command line to a running capture and prints its answer.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "ctl_bus.h"
#include "ctl_format.h"

#define PROG "flowscope-ctl"
#define ANSWER_TIMEOUT_S 10	/* without any progress from the capture */
#define PROBE_TIMEOUT_S 5	/* per socket in `list` */
#define HEAD_MAX 8192		/* the first answer line: "ok" or "error: ..." */
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

static const char *const commands[] = {
	"list", "stats", "top", "flows", "trigger", "readers", "help", "ping",
	NULL
};

static void usage(void)
{
	printf(
"usage: " PROG " [-s SOCKET] [--json] COMMAND [ARGS...]\n"
"       " PROG " [-s SOCKET] [--json] [-i SECONDS] --watch top [N]\n"
"       " PROG " --bus URL [--subject S] [--wait SECONDS] list|stats|trigger [FILTER]\n"
"\n"
"Talks to a running flowscope capture through its control socket.\n"
"\n"
"commands:\n"
"  list               running captures and their sockets, and the readers\n"
"                     attached to each shared ring\n"
"  stats              received, dropped, NIC-dropped, ring, history, flows\n"
"  top [N]            the N (default 10) busiest flows of the last interval\n"
"  flows [FILTER]     tracked flows, optionally those matching a pcap filter\n"
"  trigger [FILTER]   trigger every tracked flow matching FILTER (all without)\n"
"  readers            processes attached to the capture's shared ring\n"
"  help               the commands the capture understands\n"
"  ping               check that the capture answers\n"
"\n"
"A FILTER may be given as several words: " PROG " trigger host 10.0.0.1\n"
"and port 80 is the same as " PROG " trigger 'host 10.0.0.1 and port 80'.\n"
"\n"
"options:\n"
"  -s, --socket PATH  the capture's socket; default $FLOWSCOPE_CTL_SOCKET,\n"
"                     else the only capture running (sockets in the\n"
"                     directory $FLOWSCOPE_CTL_DIR, default " FS_CTL_DIR "\n"
"                     for root, $XDG_RUNTIME_DIR/flowscope for others, or\n"
"                     /run/user/UID/flowscope, or /tmp/flowscope-UID)\n"
"  -j, --json         stats, flows and top as JSON, for scripts\n"
"  -w, --watch        top: refresh every interval (rates, drops, history\n"
"                     depth, the busiest flows) until interrupted; with\n"
"                     --json one JSON object per line and interval\n"
"  -i, --interval S   seconds between refreshes (default 1)\n"
"  -b, --bus URL      ask every capture on this NATS bus (nats://HOST:PORT,\n"
"                     tls://HOST:PORT) instead of one socket: list, stats,\n"
"                     trigger [FILTER] (which says how many answered)\n"
"      --subject S    the captures' bus_subject (default flowscope.trigger)\n"
"      --wait S       seconds to collect the answers (default 1)\n"
"      --creds FILE   NATS credentials file; --ca FILE: CA for TLS\n"
"  -h, --help         this text\n"
"\n"
"exit status: 0 answered ok, 1 error answer or no capture, 2 usage error\n");
}

/* A usage error: the synopsis and where the rest is, not the whole text. */
static int usage_error(void)
{
	fprintf(stderr, "usage: " PROG " [-s SOCKET] [--json] [--watch] COMMAND "
		"[ARGS...]\n"
		"       " PROG " --bus URL list|stats|trigger [FILTER]\n"
		"Try '" PROG " --help' for more information.\n");
	return 2;
}

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	/* SO_SNDTIMEO also bounds connect() on a full backlog */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Connect to path. Returns the fd, or -1 with errno and a reason in why. */
static int connect_to(const char *path, int seconds, char *why, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = -1;
	int e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, len, "%s: path too long for a UNIX socket",
			 path);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return -1;
	}
	set_timeouts(fd, seconds);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	e = errno;
	if (e == ENOENT)
		snprintf(why, len, "%s: no such socket (is the capture "
			 "running?)", path);
	else if (e == ECONNREFUSED)
		snprintf(why, len, "%s: nobody listening (stale socket of a "
			 "capture that ended)", path);
	else if (e == EACCES)
		snprintf(why, len, "%s: permission denied (the capture "
			 "belongs to another user)", path);
	else if (e == EAGAIN)
		snprintf(why, len, "%s: the capture is not accepting "
			 "connections (busy)", path);
	else
		snprintf(why, len, "%s: %s", path, strerror(e));
	close(fd);
	errno = e;
	return -1;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * recv() that treats ECONNRESET as the end of the answer: the server may
 * close with our input unread, which UNIX sockets report that way.
 */
static ssize_t recv_some(int fd, char *buf, size_t len)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET)
			return 0;
		return n;
	}
}

/* Ask the capture at path for "ping". Returns 1 when it answers pong,
 * 0 when nothing listens there (stale or gone), -1 with why otherwise. */
static int probe(const char *path, char *why, size_t len)
{
	char ans[64];
	size_t have = 0;
	ssize_t n;
	int fd;
	int rc = -1;

	fd = connect_to(path, PROBE_TIMEOUT_S, why, len);
	if (fd < 0)
		return errno == ECONNREFUSED || errno == ENOENT ? 0 : -1;
	if (send_all(fd, "ping\n", 5) < 0) {
		snprintf(why, len, "%s", strerror(errno));
		goto done;
	}
	while (have < sizeof(ans) - 1 &&
	       (n = recv_some(fd, ans + have, sizeof(ans) - 1 - have)) > 0)
		have += (size_t)n;
	ans[have] = '\0';
	if (strncmp(ans, "ok\npong\n", 8) != 0) {
		snprintf(why, len, "no answer to ping");
		goto done;
	}
	rc = 1;
done:
	close(fd);
	return rc;
}

/* Under a capture of list, the readers attached to its ring, indented
 * (an older capture that does not know the command shows none). */
static void print_readers(const char *path)
{
	char ans[16384], why[256];
	size_t have = 0;
	ssize_t n;
	int fd = connect_to(path, PROBE_TIMEOUT_S, why, sizeof(why));
	char *p, *nl;

	if (fd < 0)
		return;
	if (send_all(fd, "readers\n", 8) < 0) {
		close(fd);
		return;
	}
	while (have < sizeof(ans) - 1 &&
	       (n = recv_some(fd, ans + have, sizeof(ans) - 1 - have)) > 0)
		have += (size_t)n;
	close(fd);
	ans[have] = '\0';
	if (strncmp(ans, "ok\n", 3) != 0)
		return;
	for (p = ans + 3; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		printf("    %.*s\n", (int)(nl - p), p);
}

static int is_sock_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".sock") == 0;
}

/* The pid in a "<pid>-<label>.sock" name, or -1. */
static long name_pid(const char *name)
{
	char *end;
	long pid;

	errno = 0;
	pid = strtol(name, &end, 10);
	if (errno != 0 || end == name || *end != '-' || pid <= 0)
		return -1;
	return pid;
}

static void print_capture(FILE *f, const char *indent, const char *path,
			  const char *name, const char *note)
{
	long pid = name_pid(name);

	if (pid > 0)
		fprintf(f, "%s%s  pid %ld%s\n", indent, path, pid, note);
	else
		fprintf(f, "%s%s  pid ?%s\n", indent, path, note);
}

/*
 * Find the captures in dir. With print, write one line per capture to
 * stdout (live ones, and those that exist but do not answer, marked so);
 * stale sockets are skipped. Fills *only with the path of the single live
 * capture when there is exactly one. Returns the number of live captures,
 * or -1 after printing why to stderr.
 */
static int scan(const char *dir, int print, char *only, size_t onlylen)
{
	struct dirent **names = NULL;
	char path[SUN_PATH_MAX + 256];
	char why[512];
	int n, live = 0;

	n = scandir(dir, &names, is_sock_name, alphasort);
	if (n < 0 && errno == ENOENT)
		return 0;
	if (n < 0) {
		fprintf(stderr, PROG ": cannot read %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		int r;

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		r = probe(path, why, sizeof(why));
		if (r > 0) {
			if (live == 0)
				snprintf(only, onlylen, "%s", path);
			live++;
			if (print) {
				print_capture(stdout, "", path, name, "");
				print_readers(path);
			}
		} else if (r < 0 && print) {
			char note[600];

			snprintf(note, sizeof(note), "  (not answering: %s)",
				 why);
			print_capture(stdout, "", path, name, note);
		}
	}
	if (live > 1 && !print) {
		/* the caller asked for one and there are several: name them */
		fprintf(stderr, PROG ": %d captures are running; choose one "
			"with -s SOCKET:\n", live);
		for (int i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir,
				 names[i]->d_name);
			if (probe(path, why, sizeof(why)) > 0)
				print_capture(stderr, "  ", path,
					      names[i]->d_name, "");
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return live;
}

/*
 * Send line to the capture at path and print the answer: the lines after
 * "ok" to stdout (streamed, answers may be large), or the error line to
 * stderr. Returns the exit status.
 */
static int talk(const char *path, const char *line, FILE *out)
{
	char head[HEAD_MAX];
	char buf[65536];
	char why[512];
	size_t have = 0;
	int ok = -1;		/* -1: first line not complete yet */
	ssize_t n;
	int fd;
	int rc = 1;

	fd = connect_to(path, ANSWER_TIMEOUT_S, why, sizeof(why));
	if (fd < 0) {
		fprintf(stderr, PROG ": %s\n", why);
		return 1;
	}
	/* a capture that refuses us at once (permission denied) may close
	 * before reading our line: its answer is still there to read */
	if ((send_all(fd, line, strlen(line)) < 0 ||
	     send_all(fd, "\n", 1) < 0) &&
	    errno != EPIPE && errno != ECONNRESET) {
		fprintf(stderr, PROG ": %s: send: %s\n", path,
			strerror(errno));
		goto done;
	}
	while ((n = recv_some(fd, buf, sizeof(buf))) > 0) {
		char *p = buf, *nl;
		size_t take;

		if (ok < 0) {
			nl = memchr(buf, '\n', (size_t)n);
			take = nl ? (size_t)(nl - buf) : (size_t)n;
			if (take > sizeof(head) - 1 - have)
				take = sizeof(head) - 1 - have;
			memcpy(head + have, buf, take);
			have += take;
			if (nl == NULL && have < sizeof(head) - 1)
				continue;
			head[have] = '\0';
			ok = strcmp(head, "ok") == 0;
			if (!ok)
				break;
			p = nl ? nl + 1 : buf + n;
		}
		if (fwrite(p, 1, (size_t)(buf + n - p), out) !=
		    (size_t)(buf + n - p))
			break;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			fprintf(stderr, PROG ": %s: no answer within %d s\n",
				path, ANSWER_TIMEOUT_S);
		else
			fprintf(stderr, PROG ": %s: %s\n", path,
				strerror(errno));
		goto done;
	}
	if (ok < 0 && have == 0) {
		fprintf(stderr, PROG ": %s: connection closed without an "
			"answer\n", path);
		goto done;
	}
	if (ok < 0) {
		/* the answer ended inside its first line */
		head[have] = '\0';
		ok = strcmp(head, "ok") == 0;
	}
	if (!ok) {
		fprintf(stderr, PROG ": %s\n", head);
		goto done;
	}
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(stderr, PROG ": writing the answer: %s\n",
			strerror(errno));
		goto done;
	}
	rc = 0;
done:
	close(fd);
	return rc;
}

/* The answer to line in memory (malloc'd, NUL-terminated, in *text);
 * 0, or 1 after saying why on stderr. */
static int ask(const char *path, const char *line, char **text, size_t *len)
{
	FILE *mem = open_memstream(text, len);
	int rc;

	if (mem == NULL) {
		fprintf(stderr, PROG ": %s\n", strerror(errno));
		return 1;
	}
	rc = talk(path, line, mem);
	fclose(mem);
	if (rc != 0) {
		free(*text);
		*text = NULL;
	}
	return rc;
}

/* One command, its answer as it came or as JSON. */
static int answer(const char *path, const char *cmd, const char *line,
		  int json)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!json)
		return talk(path, line, stdout);
	rc = ask(path, line, &text, &len);
	if (rc == 0) {
		fs_ctl_json(cmd, text, len, stdout);
		putchar('\n');
		if (fflush(stdout) != 0)
			rc = 1;
	}
	free(text);
	return rc;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * top --watch: stats and top every interval, for a person (the screen
 * redrawn, with packet and drop rates from the difference of two stats)
 * or, with json, one object per line. Ends when the capture stops
 * answering (1) or on a signal.
 */
static int watch(const char *path, const char *line, double interval,
		 int json)
{
	double last_recv = -1, last_drop = 0, last_t = 0;
	int tty = isatty(STDOUT_FILENO);

	for (;;) {
		char *st = NULL, *top = NULL, when[32];
		size_t stlen = 0, toplen = 0;
		double t, recv, drop, pps = 0, dps = 0;
		time_t now = time(NULL);
		struct tm tm;
		struct timespec nap;

		if (ask(path, "stats", &st, &stlen) != 0 ||
		    ask(path, line, &top, &toplen) != 0) {
			free(st);
			return 1;
		}
		t = mono_s();
		recv = fs_ctl_stat(st, "received");
		drop = fs_ctl_stat(st, "dropped");
		if (last_recv >= 0 && t > last_t) {
			pps = (recv - last_recv) / (t - last_t);
			dps = (drop - last_drop) / (t - last_t);
		}
		last_recv = recv;
		last_drop = drop;
		last_t = t;
		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (json) {
			printf("{\"time\": \"%s\", \"received_pps\": %.0f, "
			       "\"dropped_pps\": %.0f, \"stats\": ", when, pps,
			       dps);
			fs_ctl_json("stats", st, stlen, stdout);
			fputs(", \"top\": ", stdout);
			fs_ctl_json("top", top, toplen, stdout);
			fputs("}\n", stdout);
		} else {
			if (tty)
				fputs("\033[H\033[2J", stdout);
			printf("%s  %s\n", when, path);
			printf("received %.0f (%.0f pkt/s)  dropped %.0f (%.0f/s)"
			       "  nic_dropped %.0f\n", recv, pps, drop, dps,
			       fs_ctl_stat(st, "nic_dropped"));
			printf("history %.3f s in %.0f packets  flows %.0f "
			       "active, %.0f triggered\n\n",
			       fs_ctl_stat(st, "history_seconds"),
			       fs_ctl_stat(st, "ring_packets"),
			       fs_ctl_stat(st, "flows_active"),
			       fs_ctl_stat(st, "flows_triggered"));
			fputs(top, stdout);
			if (!tty)
				fputs("\n", stdout);
		}
		free(st);
		free(top);
		if (fflush(stdout) != 0)
			return 1;
		nap.tv_sec = (time_t)interval;
		nap.tv_nsec = (long)((interval - (double)nap.tv_sec) * 1e9);
		nanosleep(&nap, NULL);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ "bus", required_argument, NULL, 'b' },
		{ "subject", required_argument, NULL, 'S' },
		{ "wait", required_argument, NULL, 'W' },
		{ "creds", required_argument, NULL, 'C' },
		{ "ca", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	struct fs_ctl_bus bus = { NULL, "flowscope.trigger", NULL, NULL, 1.0 };
	const char *sock = NULL, *dir, *cmd;
	char line[FS_CTL_LINE_MAX + 1];
	char defdir[SUN_PATH_MAX];
	char only[SUN_PATH_MAX + 256];
	size_t len;
	int opt, i, known = 0, live, json = 0, watching = 0;
	double interval = 1;
	char *end;

	/* '+': options end at COMMAND, so filter words are never options */
	while ((opt = getopt_long(argc, argv, "+s:jwi:hb:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bus.url = optarg;
			break;
		case 'S':
			bus.subject = optarg;
			break;
		case 'C':
			bus.creds = optarg;
			break;
		case 'A':
			bus.ca = optarg;
			break;
		case 'W':
			bus.wait_s = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(bus.wait_s >= 0.1) ||
			    bus.wait_s > 600) {
				fprintf(stderr, PROG ": --wait takes seconds "
					"from 0.1 to 600, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'w':
			watching = 1;
			break;
		case 'i':
			interval = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(interval >= 0.1) ||
			    interval > 3600) {
				fprintf(stderr, PROG ": --interval takes seconds "
					"from 0.1 to 3600, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage();
			return 0;
		default:
			return usage_error();
		}
	}
	if (optind >= argc) {
		fprintf(stderr, PROG ": no command given\n");
		return usage_error();
	}
	cmd = argv[optind];
	for (i = 0; commands[i] != NULL; i++)
		if (strcmp(cmd, commands[i]) == 0)
			known = 1;
	if (!known) {
		fprintf(stderr, PROG ": unknown command '%s' (list, stats, "
			"top, flows, trigger, readers, help, ping)\n", cmd);
		return usage_error();
	}
	if (json && strcmp(cmd, "stats") != 0 && strcmp(cmd, "flows") != 0 &&
	    strcmp(cmd, "top") != 0) {
		fprintf(stderr, PROG ": --json is for stats, flows and top\n");
		return 2;
	}
	if (watching && strcmp(cmd, "top") != 0) {
		fprintf(stderr, PROG ": --watch is for top\n");
		return 2;
	}
	if (bus.url != NULL && (strcmp(cmd, "list") != 0 &&
				strcmp(cmd, "stats") != 0 &&
				strcmp(cmd, "trigger") != 0)) {
		fprintf(stderr, PROG ": --bus is for list, stats and trigger\n");
		return 2;
	}
	if (bus.url != NULL && (json || watching || sock != NULL)) {
		fprintf(stderr, PROG ": --bus takes neither -s, --json nor "
			"--watch\n");
		return 2;
	}
	if (bus.url != NULL && strcmp(cmd, "trigger") != 0 &&
	    optind + 1 < argc) {
		fprintf(stderr, PROG ": %s takes no argument\n", cmd);
		return 2;
	}
	/* the directory captures of this user put their sockets in, by the
	 * rule they follow themselves */
	dir = getenv("FLOWSCOPE_CTL_DIR");
	if (dir == NULL || dir[0] == '\0') {
		if (fs_control_default_dir(defdir, sizeof(defdir)) < 0) {
			fprintf(stderr, PROG ": the default socket directory is "
				"too long for a socket path; set "
				"FLOWSCOPE_CTL_DIR or use -s SOCKET\n");
			return 1;
		}
		dir = defdir;
	}

	if (bus.url != NULL && strcmp(cmd, "trigger") != 0)
		return fs_ctl_bus(&bus, cmd, "");
	if (strcmp(cmd, "list") == 0) {
		if (optind + 1 < argc) {
			fprintf(stderr, PROG ": list takes no argument\n");
			return 2;
		}
		live = scan(dir, 1, only, sizeof(only));
		if (live == 0)
			fprintf(stderr, PROG ": no running capture (no socket "
				"in %s)\n", dir);
		return live < 0 ? 1 : 0;
	}

	/* the words after COMMAND joined by single spaces */
	len = 0;
	for (i = optind; i < argc; i++) {
		size_t w = strlen(argv[i]);

		if (len + (i > optind) + w > FS_CTL_LINE_MAX) {
			fprintf(stderr, PROG ": command line longer than %d "
				"bytes\n", FS_CTL_LINE_MAX);
			return 2;
		}
		if (i > optind)
			line[len++] = ' ';
		memcpy(line + len, argv[i], w);
		len += w;
	}
	line[len] = '\0';
	for (i = 0; (size_t)i < len; i++)
		if ((unsigned char)line[i] < 0x20 ||
		    (unsigned char)line[i] > 0x7e) {
			fprintf(stderr, PROG ": the command may hold only "
				"printable ASCII characters\n");
			return 2;
		}
	if (bus.url != NULL)	/* the filter: what follows "trigger " */
		return fs_ctl_bus(&bus, cmd, len > strlen(cmd) ?
				  line + strlen(cmd) + 1 : "");

	if (sock == NULL) {
		sock = getenv("FLOWSCOPE_CTL_SOCKET");
		if (sock != NULL && sock[0] == '\0')
			sock = NULL;
	}
	if (sock == NULL) {
		live = scan(dir, 0, only, sizeof(only));
		if (live < 0)
			return 1;
		if (live == 0) {
			fprintf(stderr, PROG ": no running capture (no socket "
				"in %s)\n", dir);
			return 1;
		}
		if (live > 1)
			return 1;
		sock = only;
	}
	if (watching)
		return watch(sock, line, interval, json);
	return answer(sock, cmd, line, json);
}
