/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the control socket: commands reaching the ops, refused
 * input changing nothing, deadlines against stuck clients, modes, stale and
 * foreign files, other users kept out, and flowscope-ctl end to end.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#define NOBODY 65534

/* ---- what the stub ops saw ---- */

struct calls {
	int stats, top, flows, trigger;
	unsigned top_n;
	int filter_given;	/* the last flows/trigger call had a program */
	int match_udp53;	/* ... that matched the UDP port 53 frame */
	int match_tcp80;	/* ... that matched the TCP port 80 frame */
	size_t big;		/* stats writes this many bytes */
	int fail;		/* every op fails */
	int bad_arg;		/* an op got another arg than &calls */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct calls calls;
static char base[32];		/* the run's directory, removed at the end */
static char tmp[48];		/* this test's directory inside base */
static char dir[64];		/* tmp/run: created by fs_control_start */
static char path[96];		/* dir/<pid>-test.sock, the fixture's socket */
static fs_control *ctl;

static struct calls seen(void)
{
	struct calls c;

	pthread_mutex_lock(&mu);
	c = calls;
	pthread_mutex_unlock(&mu);
	return c;
}

static void set_big(size_t big, int fail)
{
	pthread_mutex_lock(&mu);
	calls.big = big;
	calls.fail = fail;
	pthread_mutex_unlock(&mu);
}

/* An Ethernet/IPv4 frame 10.0.0.1:1234 -> 10.0.0.2:dport, UDP or TCP. */
static size_t frame(uint8_t *f, uint8_t proto, uint16_t dport)
{
	size_t l4 = proto == 17 ? 8 : 20, len = 14 + 20 + l4 + 4;
	uint8_t *ip = f + 14, *p = ip + 20;

	memset(f, 0, len);
	memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((len - 14) >> 8);
	ip[3] = (uint8_t)(len - 14);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, "\x0a\0\0\x01\x0a\0\0\x02", 8);
	p[0] = 1234 >> 8;
	p[1] = 1234 & 0xff;
	p[2] = (uint8_t)(dport >> 8);
	p[3] = (uint8_t)dport;
	if (proto == 17) {
		p[5] = (uint8_t)(l4 + 4);
	} else {
		p[12] = 0x50;
		p[13] = 0x02;	/* SYN */
	}
	return len;
}

static int matches(const struct bpf_program *prog, uint8_t proto,
		   uint16_t dport)
{
	uint8_t f[128];
	struct pcap_pkthdr h = { .caplen = 0 };

	h.caplen = h.len = (bpf_u_int32)frame(f, proto, dport);
	return pcap_offline_filter(prog, &h, f) != 0;
}

static int stub_stats(void *arg, FILE *out, char *err, size_t errlen)
{
	struct calls c;

	/* no ck_assert here: this runs on the server's thread */
	pthread_mutex_lock(&mu);
	calls.bad_arg |= arg != &calls;
	calls.stats++;
	c = calls;
	pthread_mutex_unlock(&mu);
	if (c.fail) {
		snprintf(err, errlen, "stub failure");
		return -1;
	}
	for (size_t i = 0; i + 100 <= c.big; i += 100)
		fprintf(out, "%099zu\n", i);
	fprintf(out, "received 42\ndropped 0\n");
	return 0;
}

static int stub_top(void *arg, unsigned n, FILE *out, char *err,
		    size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	pthread_mutex_lock(&mu);
	calls.top++;
	calls.top_n = n;
	pthread_mutex_unlock(&mu);
	fprintf(out, "top %u", n);	/* no '\n': the server adds it */
	return 0;
}

/* Record how the filter judges two frames while it still exists: the
 * server frees it when the op returns. */
static void record_filter(const struct bpf_program *filter)
{
	calls.filter_given = filter != NULL;
	calls.match_udp53 = filter != NULL && matches(filter, 17, 53);
	calls.match_tcp80 = filter != NULL && matches(filter, 6, 80);
}

static int stub_flows(void *arg, const struct bpf_program *filter, FILE *out,
		      char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	pthread_mutex_lock(&mu);
	calls.flows++;
	record_filter(filter);
	pthread_mutex_unlock(&mu);
	fprintf(out, "flow a\nflow b\n");
	return 0;
}

static int stub_trigger(void *arg, const struct bpf_program *filter,
			const char *text, FILE *out, char *err, size_t errlen)
{
	(void)arg;
	(void)text;
	(void)err;
	(void)errlen;
	pthread_mutex_lock(&mu);
	calls.trigger++;
	record_filter(filter);
	pthread_mutex_unlock(&mu);
	fprintf(out, "triggered 3\n");
	return 0;
}

static const struct fs_control_ops stub_ops = {
	.stats = stub_stats,
	.top = stub_top,
	.flows = stub_flows,
	.trigger = stub_trigger,
};

/* ---- helpers ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connect to p; the fd or -1 with errno. */
static int dial(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int e;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Read until the server closes; ECONNRESET counts as the end too. Returns
 * the byte count; keeps at most len - 1 of them in buf (NUL-terminated). */
static size_t read_all(int fd, char *buf, size_t len)
{
	size_t total = 0;
	char sink[65536];

	for (;;) {
		ssize_t n = recv(fd, sink, sizeof(sink), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		ck_assert_msg(n > 0, "reading the answer: %s",
			      strerror(errno));
		if (total < len - 1)
			memcpy(buf + total, sink,
			       (size_t)n < len - 1 - total ?
			       (size_t)n : len - 1 - total);
		total += (size_t)n;
	}
	buf[total < len - 1 ? total : len - 1] = '\0';
	return total;
}

/* Send len raw bytes of req to the socket at p; the whole answer. */
static char *ask_at(const char *p, const char *req, size_t len)
{
	static char ans[1 << 16];
	int fd = dial(p);

	ck_assert_msg(fd >= 0, "connect %s: %s", p, strerror(errno));
	ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	read_all(fd, ans, sizeof(ans));
	close(fd);
	return ans;
}

static char *ask(const char *req)
{
	return ask_at(path, req, strlen(req));
}

static int rm_one(const char *p, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(p);
	return 0;
}

/* Unchecked: runs in the parent, so a failed test leaves no litter. */
static void setup_base(void)
{
	snprintf(base, sizeof(base), "/tmp/check_control.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
}

static void teardown_base(void)
{
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	char err[256];

	snprintf(tmp, sizeof(tmp), "%s/t.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	/* a directory that does not exist yet: start must create it */
	snprintf(dir, sizeof(dir), "%s/run", tmp);
	snprintf(path, sizeof(path), "%s/%d-test.sock", dir, (int)getpid());
	memset(&calls, 0, sizeof(calls));
	ctl = fs_control_start(path, &stub_ops, &calls, err, sizeof(err));
	ck_assert_msg(ctl != NULL, "%s", err);
}

static void teardown(void)
{
	fs_control_stop(ctl);
	ctl = NULL;
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- commands ---- */

START_TEST(ping_and_help)
{
	char ans[64];
	int fd;

	ck_assert_str_eq(ask("ping\n"), "ok\npong\n");
	ck_assert_str_eq(ask("help\n"),
			 "ok\n"
			 "stats              counters of the capture\n"
			 "top [N]            the N busiest flows of the last "
			 "interval (default 10, at most 1000)\n"
			 "flows [FILTER]     tracked flows, those matching a "
			 "pcap filter when one is given\n"
			 "trigger [FILTER]   trigger every tracked flow "
			 "matching FILTER (all without one)\n"
			 "readers            processes attached to the shared "
			 "ring (share): pid, program, mode, group, rate, drops\n"
			 "help               this list\n"
			 "ping               answers pong (liveness check)\n");
	ck_assert_str_eq(ask("ping now\n"),
			 "error: ping takes no argument\n");
	/* '\r\n' endings, extra blanks and a missing final newline */
	ck_assert_str_eq(ask("ping\r\n"), "ok\npong\n");
	ck_assert_str_eq(ask("   ping   \n"), "ok\npong\n");
	/* the end of input ends the line too (printf ping | nc -U) */
	fd = dial(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send(fd, "ping", 4, MSG_NOSIGNAL), 4);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	read_all(fd, ans, sizeof(ans));
	close(fd);
	ck_assert_str_eq(ans, "ok\npong\n");
	ck_assert_int_eq(seen().stats + seen().top + seen().flows +
			 seen().trigger, 0);
}
END_TEST

START_TEST(stats_reaches_op)
{
	ck_assert_str_eq(ask("stats\n"), "ok\nreceived 42\ndropped 0\n");
	ck_assert_int_eq(seen().stats, 1);
	ck_assert_int_eq(seen().bad_arg, 0);
	ck_assert_str_eq(ask("stats now\n"),
			 "error: stats takes no argument\n");
	ck_assert_int_eq(seen().stats, 1);
	set_big(0, 1);
	ck_assert_str_eq(ask("stats\n"), "error: stub failure\n");
	ck_assert_int_eq(seen().stats, 2);
}
END_TEST

START_TEST(top_arguments)
{
	static const char *const bad[] = {
		"top 0\n", "top 1001\n", "top x\n", "top -1\n", "top +5\n",
		"top 5 6\n", "top 99999999999999999999999\n", "top 0x10\n",
	};

	ck_assert_str_eq(ask("top\n"), "ok\ntop 10\n");
	ck_assert_uint_eq(seen().top_n, 10);
	ck_assert_str_eq(ask("top 5\n"), "ok\ntop 5\n");
	ck_assert_uint_eq(seen().top_n, 5);
	ck_assert_str_eq(ask("top   1000  \n"), "ok\ntop 1000\n");
	ck_assert_uint_eq(seen().top_n, 1000);
	ck_assert_int_eq(seen().top, 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a = ask(bad[i]);

		ck_assert_msg(strncmp(a, "error: top: N must be a number "
				      "from 1 to 1000", 38) == 0,
			      "%s -> %s", bad[i], a);
	}
	ck_assert_int_eq(seen().top, 3);
}
END_TEST

START_TEST(filters_compiled)
{
	struct calls c;

	ck_assert_str_eq(ask("flows\n"), "ok\nflow a\nflow b\n");
	c = seen();
	ck_assert_int_eq(c.flows, 1);
	ck_assert_int_eq(c.filter_given, 0);

	ck_assert_str_eq(ask("flows udp\n"), "ok\nflow a\nflow b\n");
	c = seen();
	ck_assert_int_eq(c.flows, 2);
	ck_assert_int_eq(c.filter_given, 1);
	ck_assert_int_eq(c.match_udp53, 1);
	ck_assert_int_eq(c.match_tcp80, 0);

	ck_assert_str_eq(ask("trigger host 10.0.0.2 and tcp port 80\n"),
			 "ok\ntriggered 3\n");
	c = seen();
	ck_assert_int_eq(c.trigger, 1);
	ck_assert_int_eq(c.filter_given, 1);
	ck_assert_int_eq(c.match_udp53, 0);
	ck_assert_int_eq(c.match_tcp80, 1);

	ck_assert_str_eq(ask("trigger\n"), "ok\ntriggered 3\n");
	c = seen();
	ck_assert_int_eq(c.trigger, 2);
	ck_assert_int_eq(c.filter_given, 0);
}
END_TEST

START_TEST(bad_filter_calls_nothing)
{
	const char *a = ask("trigger host and (((\n");

	ck_assert_msg(strncmp(a, "error: bad filter: ", 19) == 0, "%s", a);
	ck_assert_msg(strchr(a, '\n') == a + strlen(a) - 1, "%s", a);
	a = ask("flows port 99999\n");
	ck_assert_msg(strncmp(a, "error: bad filter: ", 19) == 0, "%s", a);
	ck_assert_int_eq(seen().trigger, 0);
	ck_assert_int_eq(seen().flows, 0);
}
END_TEST

START_TEST(unknown_and_empty)
{
	ck_assert_str_eq(ask("frobnicate all\n"),
			 "error: unknown command 'frobnicate' (stats, top, "
			 "flows, trigger, readers, help, ping)\n");
	ck_assert_str_eq(ask("STATS\n"),
			 "error: unknown command 'STATS' (stats, top, "
			 "flows, trigger, readers, help, ping)\n");
	ck_assert_str_eq(ask("\n"), "error: empty command (stats, top, "
			 "flows, trigger, readers, help, ping)\n");
	ck_assert_str_eq(ask("   \n"), "error: empty command (stats, top, "
			 "flows, trigger, readers, help, ping)\n");
	ck_assert_int_eq(seen().stats, 0);
}
END_TEST

START_TEST(long_lines)
{
	char req[5002];

	/* 5000 bytes that would be a valid command if it were shorter */
	memset(req, ' ', sizeof(req));
	memcpy(req, "stats", 5);
	req[5000] = '\n';
	ck_assert_str_eq(ask_at(path, req, 5001),
			 "error: command line longer than 1024 bytes\n");
	/* the limit itself: 1024 bytes pass, 1025 do not */
	req[1024] = '\n';
	ck_assert_str_eq(ask_at(path, req, 1025),
			 "ok\nreceived 42\ndropped 0\n");
	req[1024] = '\r';
	req[1025] = '\n';
	ck_assert_str_eq(ask_at(path, req, 1026),
			 "ok\nreceived 42\ndropped 0\n");
	req[1024] = ' ';
	ck_assert_str_eq(ask_at(path, req, 1026),
			 "error: command line longer than 1024 bytes\n");
	/* without any newline at all */
	memset(req, 'a', sizeof(req));
	ck_assert_str_eq(ask_at(path, req, 5000),
			 "error: command line longer than 1024 bytes\n");
	ck_assert_int_eq(seen().stats, 2);
}
END_TEST

START_TEST(binary_bytes)
{
	static const struct {
		const char *req;
		size_t len;
	} bad[] = {
		{ "stats\x01\n", 7 },
		{ "sta\xfftus\n", 9 },
		{ "stats\0\n", 7 },
		{ "trigger\tudp\n", 12 },
		{ "stats\r\r\n", 8 },
		{ "trigger udp\x7f\n", 13 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a = ask_at(path, bad[i].req, bad[i].len);

		ck_assert_msg(strncmp(a, "error: command line holds byte ",
				      31) == 0, "case %zu: %s", i, a);
	}
	ck_assert_int_eq(seen().stats, 0);
	ck_assert_int_eq(seen().trigger, 0);
}
END_TEST

/* ---- stuck clients ---- */

START_TEST(silent_client_does_not_block)
{
	char buf[64];
	int quiet = dial(path);
	double t0;

	ck_assert_int_ge(quiet, 0);
	t0 = now_s();
	ck_assert_str_eq(ask("ping\n"), "ok\npong\n");
	ck_assert_msg(now_s() - t0 < 3.0, "second client waited %.2f s",
		      now_s() - t0);
	/* the silent one was dropped without an answer */
	ck_assert_uint_eq(read_all(quiet, buf, sizeof(buf)), 0);
	close(quiet);

	/* half a line and then nothing: dropped too, with a reason */
	quiet = dial(path);
	ck_assert_int_ge(quiet, 0);
	ck_assert_int_eq(send(quiet, "sta", 3, MSG_NOSIGNAL), 3);
	t0 = now_s();
	ck_assert_str_eq(ask("ping\n"), "ok\npong\n");
	ck_assert_msg(now_s() - t0 < 3.0, "second client waited %.2f s",
		      now_s() - t0);
	read_all(quiet, buf, sizeof(buf));
	ck_assert_str_eq(buf, "error: no complete command line within "
			 "2000 ms\n");
	close(quiet);
	ck_assert_int_eq(seen().stats, 0);
}
END_TEST

/* Silent clients are waited for together, not one after the other; a
 * crowd beyond FS_CTL_CONN_MAX makes room (oldest first) and is no
 * lockout either. */
START_TEST(crowd_of_silent_clients)
{
	enum { N = FS_CTL_CONN_MAX + 36 };
	int quiet[N];
	char buf[64];
	double t0;

	for (int i = 0; i < 30; i++) {
		quiet[i] = dial(path);
		ck_assert_int_ge(quiet[i], 0);
	}
	usleep(100 * 1000);	/* let the server take them all */
	t0 = now_s();
	ck_assert_str_eq(ask("ping\n"), "ok\npong\n");
	ck_assert_str_eq(ask("stats\n"), "ok\nreceived 42\ndropped 0\n");
	ck_assert_msg(now_s() - t0 < 1.0, "30 silent clients delayed two "
		      "commands by %.2f s", now_s() - t0);
	/* all dropped once their 2 s are up, together */
	for (int i = 0; i < 30; i++)
		ck_assert_uint_eq(read_all(quiet[i], buf, sizeof(buf)), 0);
	ck_assert_msg(now_s() - t0 < 3.0, "the silent clients were dropped "
		      "after %.2f s", now_s() - t0);
	for (int i = 0; i < 30; i++)
		close(quiet[i]);

	for (int i = 0; i < N; i++) {
		quiet[i] = dial(path);
		ck_assert_int_ge(quiet[i], 0);
	}
	t0 = now_s();
	ck_assert_str_eq(ask("ping\n"), "ok\npong\n");
	ck_assert_msg(now_s() - t0 < 1.0, "%d silent clients delayed a ping "
		      "by %.2f s", N, now_s() - t0);
	for (int i = 0; i < N; i++)
		close(quiet[i]);
}
END_TEST

START_TEST(non_reader_does_not_block)
{
	static char head[64];
	int lazy = dial(path);
	double t0;
	size_t got;

	set_big(10u << 20, 0);
	ck_assert_int_ge(lazy, 0);
	ck_assert_int_eq(send(lazy, "stats\n", 6, MSG_NOSIGNAL), 6);
	t0 = now_s();
	ck_assert_str_eq(ask("ping\n"), "ok\npong\n");
	ck_assert_msg(now_s() - t0 < 6.0, "second client waited %.2f s",
		      now_s() - t0);
	ck_assert_int_eq(seen().stats, 1);
	/* the lazy client gets what was in flight, then the end */
	got = read_all(lazy, head, sizeof(head));
	ck_assert_uint_lt(got, 10u << 20);
	ck_assert_int_eq(strncmp(head, "ok\n", 3), 0);
	close(lazy);
}
END_TEST

START_TEST(stop_is_quick_with_silent_client)
{
	int quiet = dial(path);
	double t0;

	ck_assert_int_ge(quiet, 0);
	usleep(200 * 1000);	/* let the server accept it and wait */
	t0 = now_s();
	fs_control_stop(ctl);
	ctl = NULL;
	ck_assert_msg(now_s() - t0 < 1.0, "stop took %.2f s", now_s() - t0);
	close(quiet);
}
END_TEST

/* ---- files, modes, ownership ---- */

START_TEST(modes)
{
	struct stat st;
	char p2[256], d2[128], err[256];
	fs_control *c2;
	mode_t old;

	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(lstat(dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);

	/* whatever the application's umask */
	old = umask(0);
	snprintf(d2, sizeof(d2), "%s/open", tmp);
	snprintf(p2, sizeof(p2), "%s/x.sock", d2);
	c2 = fs_control_start(p2, &stub_ops, &calls, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "%s", err);
	ck_assert_int_eq(lstat(p2, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(lstat(d2, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_uint_eq(umask(0), 0);
	fs_control_stop(c2);

	umask(0277);
	snprintf(d2, sizeof(d2), "%s/tight", tmp);
	snprintf(p2, sizeof(p2), "%s/x.sock", d2);
	c2 = fs_control_start(p2, &stub_ops, &calls, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "%s", err);
	ck_assert_int_eq(lstat(d2, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_str_eq(ask_at(p2, "ping\n", 5), "ok\npong\n");
	ck_assert_uint_eq(umask(old), 0277);
	fs_control_stop(c2);
}
END_TEST

START_TEST(second_start_in_use)
{
	char err[256], want[300];

	ck_assert_ptr_null(fs_control_start(path, &stub_ops, &calls, err,
					    sizeof(err)));
	snprintf(want, sizeof(want), "%s: in use by another capture", path);
	ck_assert_str_eq(err, want);
	/* and the first one is untouched */
	ck_assert_str_eq(ask("ping\n"), "ok\npong\n");
}
END_TEST

START_TEST(stale_socket_replaced)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[256];
	struct stat st;
	fs_control *c2;
	int fd;

	/* what a killed capture leaves: a socket file nobody listens on */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(lstat(sa.sun_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(dial(sa.sun_path), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);

	c2 = fs_control_start(sa.sun_path, &stub_ops, &calls, err,
			      sizeof(err));
	ck_assert_msg(c2 != NULL, "%s", err);
	ck_assert_str_eq(ask_at(sa.sun_path, "ping\n", 5), "ok\npong\n");
	fs_control_stop(c2);
	ck_assert_int_eq(lstat(sa.sun_path, &st), -1);
}
END_TEST

START_TEST(non_socket_refused)
{
	char p2[256], err[512], want[600], buf[16] = "";
	FILE *f;

	snprintf(p2, sizeof(p2), "%s/file.sock", dir);
	f = fopen(p2, "w");
	ck_assert_ptr_nonnull(f);
	fputs("keep me", f);
	fclose(f);
	ck_assert_ptr_null(fs_control_start(p2, &stub_ops, &calls, err,
					    sizeof(err)));
	snprintf(want, sizeof(want), "%s: exists and is not a socket; not "
		 "replacing it", p2);
	ck_assert_str_eq(err, want);
	f = fopen(p2, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "keep me");

	/* nor through a symbolic link to a socket */
	snprintf(p2, sizeof(p2), "%s/link.sock", dir);
	ck_assert_int_eq(symlink(path, p2), 0);
	ck_assert_ptr_null(fs_control_start(p2, &stub_ops, &calls, err,
					    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a socket"));
	ck_assert_str_eq(ask("ping\n"), "ok\npong\n");
}
END_TEST

START_TEST(stop_removes_only_ours)
{
	char p2[256], err[256];
	struct stat st;
	fs_control *c2;
	FILE *f;

	fs_control_stop(ctl);
	ctl = NULL;
	ck_assert_int_eq(lstat(path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* the directory stays: other captures may use it */
	ck_assert_int_eq(lstat(dir, &st), 0);

	/* someone replaced our socket: stop leaves their file alone */
	snprintf(p2, sizeof(p2), "%s/other.sock", dir);
	c2 = fs_control_start(p2, &stub_ops, &calls, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "%s", err);
	ck_assert_int_eq(unlink(p2), 0);
	f = fopen(p2, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	fs_control_stop(c2);
	ck_assert_int_eq(lstat(p2, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	fs_control_stop(NULL);
}
END_TEST

/* Start at d/x.sock; expect failure with want in the error. */
static void start_fails(const char *d, const char *want)
{
	char p2[512], err[512];

	snprintf(p2, sizeof(p2), "%s/x.sock", d);
	ck_assert_ptr_null(fs_control_start(p2, &stub_ops, &calls, err,
					    sizeof(err)));
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err,
		      want);
	ck_assert_msg(strncmp(err, d, strlen(d)) == 0, "'%s' names no path",
		      err);
}

START_TEST(directory_checks)
{
	char d2[256], longp[300], err[512];
	FILE *f;

	snprintf(d2, sizeof(d2), "%s/wide", tmp);
	ck_assert_int_eq(mkdir(d2, 0700), 0);
	ck_assert_int_eq(chmod(d2, 0755), 0);
	start_fails(d2, "open to group or others (mode 0755)");
	ck_assert_int_eq(chmod(d2, 0710), 0);
	start_fails(d2, "open to group or others (mode 0710)");

	snprintf(d2, sizeof(d2), "%s/link", tmp);
	ck_assert_int_eq(symlink(dir, d2), 0);
	start_fails(d2, "is a symbolic link");

	snprintf(d2, sizeof(d2), "%s/plain", tmp);
	f = fopen(d2, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	start_fails(d2, "not a directory");

	snprintf(d2, sizeof(d2), "%s/no/such", tmp);
	start_fails(d2, "cannot create directory");

	if (geteuid() == 0) {
		snprintf(d2, sizeof(d2), "%s/theirs", tmp);
		ck_assert_int_eq(mkdir(d2, 0700), 0);
		ck_assert_int_eq(chown(d2, NOBODY, NOBODY), 0);
		start_fails(d2, "owned by uid 65534");
	}

	memset(longp, 'x', sizeof(longp));
	memcpy(longp, dir, strlen(dir));
	longp[strlen(dir)] = '/';
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_ptr_null(fs_control_start(longp, &stub_ops, &calls, err,
					    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "path too long"));
}
END_TEST

START_TEST(default_path)
{
	char buf[256], want[256];

	fs_control_default_path("eth0", buf, sizeof(buf));
	snprintf(want, sizeof(want), "/run/flowscope/%d-eth0.sock",
		 (int)getpid());
	ck_assert_str_eq(buf, want);
	fs_control_default_path("eth0:file=/tmp/a b.pcap", buf, sizeof(buf));
	snprintf(want, sizeof(want),
		 "/run/flowscope/%d-eth0_file__tmp_a_b.pcap.sock",
		 (int)getpid());
	ck_assert_str_eq(buf, want);
	fs_control_default_path(NULL, buf, sizeof(buf));
	snprintf(want, sizeof(want), "/run/flowscope/%d-capture.sock",
		 (int)getpid());
	ck_assert_str_eq(buf, want);
	/* a long label is cut, the path stays a valid socket path */
	memset(want, 'a', 200);
	want[200] = '\0';
	fs_control_default_path(want, buf, sizeof(buf));
	ck_assert_uint_lt(strlen(buf),
			  sizeof(((struct sockaddr_un *)0)->sun_path));
	ck_assert_str_eq(buf + strlen(buf) - 5, ".sock");
}
END_TEST

/* Non-root users: $XDG_RUNTIME_DIR/flowscope (absolute only), else
 * /run/user/UID/flowscope or /tmp/flowscope-UID; root: FS_CTL_DIR. */
START_TEST(default_dir_per_user)
{
	char buf[256];
	pid_t pid;
	int st;

	unsetenv("XDG_RUNTIME_DIR");
	if (geteuid() == 0) {
		ck_assert_int_eq(fs_control_default_dir(buf, sizeof(buf)), 0);
		ck_assert_str_eq(buf, FS_CTL_DIR);
		/* too small a buffer: an error, never a cut path */
		ck_assert_int_eq(fs_control_default_dir(buf, 4), -1);
		ck_assert_int_eq(errno, ENAMETOOLONG);
		ck_assert_str_eq(buf, "");
	} else {
		fprintf(stderr, "default_dir_per_user: root part skipped\n");
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char want[128], run_user[64];
		struct stat sb;

		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 ||
		    setuid(NOBODY) < 0)
			_exit(3);
		setenv("XDG_RUNTIME_DIR", "/run/user/somewhere", 1);
		if (fs_control_default_dir(buf, sizeof(buf)) < 0 ||
		    strcmp(buf, "/run/user/somewhere/flowscope") != 0)
			_exit(4);
		if (fs_control_default_path("gen", buf, sizeof(buf)) < 0 ||
		    strncmp(buf, "/run/user/somewhere/flowscope/", 30) != 0)
			_exit(5);
		/* a relative one is no runtime directory */
		setenv("XDG_RUNTIME_DIR", "run", 1);
		snprintf(run_user, sizeof(run_user), "/run/user/%d", NOBODY);
		if (lstat(run_user, &sb) == 0 && S_ISDIR(sb.st_mode) &&
		    sb.st_uid == NOBODY)
			snprintf(want, sizeof(want), "%s/flowscope", run_user);
		else
			snprintf(want, sizeof(want), "/tmp/flowscope-%d",
				 NOBODY);
		if (fs_control_default_dir(buf, sizeof(buf)) < 0 ||
		    strcmp(buf, want) != 0)
			_exit(6);
		unsetenv("XDG_RUNTIME_DIR");
		if (fs_control_default_dir(buf, sizeof(buf)) < 0 ||
		    strcmp(buf, want) != 0)
			_exit(7);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "nobody's default directory is wrong (status %d)", st);
}
END_TEST

/* ---- other users ---- */

START_TEST(other_uid_cannot_connect)
{
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		fprintf(stderr, "other_uid_cannot_connect: skipped (needs "
			"root to switch users)\n");
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd;

		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 ||
		    setuid(NOBODY) < 0)
			_exit(3);
		fd = dial(path);
		if (fd >= 0)
			_exit(1);
		_exit(errno == EACCES ? 0 : 2);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "nobody could reach the socket (status %d)", st);
	ck_assert_int_eq(seen().stats, 0);
}
END_TEST

/*
 * The server's own SO_PEERCRED check, for when the directory was loosened:
 * a child with effective uid nobody but file-system uid root passes the
 * directory (checked against the fsuid) while the peer credentials carry
 * its euid.
 */
START_TEST(other_uid_refused_by_server)
{
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		fprintf(stderr, "other_uid_refused_by_server: skipped (needs "
			"root to switch users)\n");
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char ans[128];
		int fd;

		if (setresuid((uid_t)-1, NOBODY, (uid_t)-1) < 0)
			_exit(3);
		setfsuid(0);
		if ((uid_t)setfsuid((uid_t)-1) != 0)
			_exit(4);
		fd = dial(path);
		if (fd < 0)
			_exit(5);
		/* the server refuses before reading, so this may fail
		 * with EPIPE: the answer is what counts */
		send(fd, "stats\n", 6, MSG_NOSIGNAL);
		read_all(fd, ans, sizeof(ans));
		_exit(strcmp(ans, "error: permission denied\n") == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child status %d", st);
	ck_assert_int_eq(seen().stats, 0);
}
END_TEST

/* ---- flowscope-ctl end to end ---- */

static const char *ctl_bin(void)
{
	const char *p = getenv("FS_CTL");

	if (p == NULL || p[0] == '\0')
		p = "./src/flowscope-ctl";
	return access(p, X_OK) == 0 ? p : NULL;
}

/*
 * Run flowscope-ctl with args (NULL-terminated), FLOWSCOPE_CTL_DIR set to
 * ctl_dir (never the real /run/flowscope) and FLOWSCOPE_CTL_SOCKET to sock
 * or unset. Captures stdout and stderr (the first 64 KiB) and the size of
 * stdout; returns the exit status, or -1 when it did not exit.
 */
static int run_ctl(const char *ctl_dir, const char *sock, char *out,
		   size_t outlen, size_t *outsize, char *errs, size_t errlen,
		   ...)
{
	const char *argv[16];
	char fout[128], ferr[128];
	va_list ap;
	int n = 0, st, fd;
	pid_t pid;
	ssize_t r;
	struct stat sst;

	argv[n++] = ctl_bin();
	va_start(ap, errlen);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	snprintf(fout, sizeof(fout), "%s/ctl.out", tmp);
	snprintf(ferr, sizeof(ferr), "%s/ctl.err", tmp);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int o = open(fout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(ferr, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		setenv("FLOWSCOPE_CTL_DIR", ctl_dir, 1);
		if (sock != NULL)
			setenv("FLOWSCOPE_CTL_SOCKET", sock, 1);
		else
			unsetenv("FLOWSCOPE_CTL_SOCKET");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	fd = open(fout, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	r = read(fd, out, outlen - 1);
	out[r > 0 ? r : 0] = '\0';
	ck_assert_int_eq(fstat(fd, &sst), 0);
	if (outsize != NULL)
		*outsize = (size_t)sst.st_size;
	close(fd);
	fd = open(ferr, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	r = read(fd, errs, errlen - 1);
	errs[r > 0 ? r : 0] = '\0';
	close(fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define CTL(dir_, sock_, ...) \
	run_ctl(dir_, sock_, out, sizeof(out), &outsize, errs, sizeof(errs), \
		__VA_ARGS__, (const char *)NULL)

START_TEST(ctl_end_to_end)
{
	static char out[65536], errs[4096];
	char none[512], empty[128];
	size_t outsize;
	struct calls c;

	if (ctl_bin() == NULL) {
		fprintf(stderr, "ctl_end_to_end: skipped (no flowscope-ctl; "
			"set FS_CTL=/path)\n");
		return;
	}
	snprintf(empty, sizeof(empty), "%s/empty", tmp);

	ck_assert_int_eq(CTL(empty, NULL, "-s", path, "ping"), 0);
	ck_assert_str_eq(out, "pong\n");
	ck_assert_str_eq(errs, "");

	ck_assert_int_eq(CTL(empty, NULL, "-s", path, "top", "5"), 0);
	ck_assert_str_eq(out, "top 5\n");
	ck_assert_uint_eq(seen().top_n, 5);

	/* a filter as several words or as one */
	ck_assert_int_eq(CTL(empty, NULL, "--socket", path, "trigger", "udp",
			     "and", "port", "53"), 0);
	ck_assert_str_eq(out, "triggered 3\n");
	c = seen();
	ck_assert_int_eq(c.trigger, 1);
	ck_assert_int_eq(c.filter_given, 1);
	ck_assert_int_eq(c.match_udp53, 1);
	ck_assert_int_eq(c.match_tcp80, 0);
	ck_assert_int_eq(CTL(empty, NULL, "-s", path, "flows",
			     "tcp and port 80"), 0);
	ck_assert_str_eq(out, "flow a\nflow b\n");
	c = seen();
	ck_assert_int_eq(c.match_udp53, 0);
	ck_assert_int_eq(c.match_tcp80, 1);

	/* error answers: stderr, exit 1, nothing called */
	ck_assert_int_eq(CTL(empty, NULL, "-s", path, "trigger", "((("), 1);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strncmp(errs, "flowscope-ctl: error: bad filter: ",
			      34) == 0, "%s", errs);
	ck_assert_int_eq(seen().trigger, 1);
	ck_assert_int_eq(CTL(empty, NULL, "-s", path, "stats", "x"), 1);
	ck_assert_str_eq(errs, "flowscope-ctl: error: stats takes no "
			 "argument\n");

	/* the socket from the environment; a 10 MB answer streams through */
	set_big(10u << 20, 0);
	ck_assert_int_eq(CTL(empty, path, "stats"), 0);
	ck_assert_uint_eq(outsize, (10u << 20) / 100 * 100 + 22);
	ck_assert_int_eq(strncmp(out, "000000000", 9), 0);
	set_big(0, 1);
	ck_assert_int_eq(CTL(empty, path, "stats"), 1);
	ck_assert_str_eq(errs, "flowscope-ctl: error: stub failure\n");

	/* usage errors */
	ck_assert_int_eq(CTL(empty, NULL, "frob"), 2);
	ck_assert_int_eq(CTL(empty, NULL, "-x", "ping"), 2);
	ck_assert_int_eq(CTL(empty, NULL, "list", "more"), 2);
	ck_assert_int_eq(run_ctl(empty, NULL, out, sizeof(out), &outsize,
				 errs, sizeof(errs), (const char *)NULL), 2);
	ck_assert_int_eq(CTL(empty, NULL, "--help"), 0);
	ck_assert_int_eq(strncmp(out, "usage: flowscope-ctl", 20), 0);

	/* no capture there */
	snprintf(none, sizeof(none), "%s/none.sock", dir);
	ck_assert_int_eq(CTL(empty, NULL, "-s", none, "ping"), 1);
	ck_assert_ptr_nonnull(strstr(errs, "no such socket"));
	ck_assert_int_eq(CTL(empty, NULL, "ping"), 1);
	snprintf(none, sizeof(none), "flowscope-ctl: no running capture (no "
		 "socket in %s)\n", empty);
	ck_assert_str_eq(errs, none);
}
END_TEST

START_TEST(ctl_list_and_choice)
{
	static char out[65536], errs[4096];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char want[1024], p2[256], err[256];
	size_t outsize;
	fs_control *c2;
	int fd;

	if (ctl_bin() == NULL) {
		fprintf(stderr, "ctl_list_and_choice: skipped (no "
			"flowscope-ctl; set FS_CTL=/path)\n");
		return;
	}
	/* one live capture and a stale socket: the live one is the choice */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/1-stale.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(CTL(dir, NULL, "list"), 0);
	snprintf(want, sizeof(want), "%s  pid %d\n", path, (int)getpid());
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(CTL(dir, NULL, "ping"), 0);
	ck_assert_str_eq(out, "pong\n");

	/* two: ctl will not guess */
	snprintf(p2, sizeof(p2), "%s/999999-second.sock", dir);
	c2 = fs_control_start(p2, &stub_ops, &calls, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "%s", err);
	ck_assert_int_eq(CTL(dir, NULL, "list"), 0);
	/* listed in name order */
	if (strcmp(path, p2) < 0)
		snprintf(want, sizeof(want), "%s  pid %d\n%s  pid 999999\n",
			 path, (int)getpid(), p2);
	else
		snprintf(want, sizeof(want), "%s  pid 999999\n%s  pid %d\n",
			 p2, path, (int)getpid());
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(CTL(dir, NULL, "stats"), 1);
	ck_assert_ptr_nonnull(strstr(errs, "choose one with -s"));
	ck_assert_ptr_nonnull(strstr(errs, p2));
	ck_assert_int_eq(seen().stats, 0);
	ck_assert_int_eq(CTL(dir, NULL, "-s", p2, "ping"), 0);
	fs_control_stop(c2);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, setup_base, teardown_base);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ping_and_help);
	tcase_add_test(tc, stats_reaches_op);
	tcase_add_test(tc, top_arguments);
	tcase_add_test(tc, filters_compiled);
	tcase_add_test(tc, bad_filter_calls_nothing);
	tcase_add_test(tc, unknown_and_empty);
	tcase_add_test(tc, long_lines);
	tcase_add_test(tc, binary_bytes);
	tcase_add_test(tc, silent_client_does_not_block);
	tcase_add_test(tc, crowd_of_silent_clients);
	tcase_add_test(tc, non_reader_does_not_block);
	tcase_add_test(tc, stop_is_quick_with_silent_client);
	tcase_add_test(tc, modes);
	tcase_add_test(tc, second_start_in_use);
	tcase_add_test(tc, stale_socket_replaced);
	tcase_add_test(tc, non_socket_refused);
	tcase_add_test(tc, stop_removes_only_ours);
	tcase_add_test(tc, directory_checks);
	tcase_add_test(tc, default_path);
	tcase_add_test(tc, default_dir_per_user);
	tcase_add_test(tc, other_uid_cannot_connect);
	tcase_add_test(tc, other_uid_refused_by_server);
	tcase_add_test(tc, ctl_end_to_end);
	tcase_add_test(tc, ctl_list_and_choice);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
