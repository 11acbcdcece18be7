/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Drives flowscope devices through the plain libpcap API the way
 * applications do: several handles at once, open/close/open, non-blocking
 * mode, timeouts, pcap_breakloop() from another thread, the selectable fd,
 * pcap_stats() and the end of a file= capture. Run under flowscope-run.
 *   fs-pcapapi TRACE.pcap PACKETS_IN_TRACE
 * Or, as root, what an application that drops its privileges after
 * pcap_activate() sees of the control socket at SOCKET (the device's
 * control key must name it) across pcap_close() and a new capture:
 *   fs-pcapapi --control-reopen DEVICE SOCKET
 * Prints one line per check; exit 0 when all pass.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

static int failures;
static char tmpdir[] = "/tmp/fs-pcapapi.XXXXXX";

#define CHECK(cond, ...) do { \
	if (cond) { \
		printf("ok: "); printf(__VA_ARGS__); printf("\n"); \
	} else { \
		printf("FAIL: "); printf(__VA_ARGS__); \
		printf(" (%s:%d)\n", __FILE__, __LINE__); failures++; \
	} \
	fflush(stdout); \
} while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A config file holding text; returns its path (static storage). */
static const char *conf(const char *name, const char *text)
{
	static char paths[8][512];
	static int n;
	char *p = paths[n++ % 8];
	FILE *f;

	snprintf(p, 512, "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(p);
		exit(2);
	}
	return p;
}

static pcap_t *open_dev(const char *dev, int to_ms, int immediate)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_create(dev, eb);
	int rc;

	if (p == NULL) {
		printf("FAIL: pcap_create(%s): %s\n", dev, eb);
		failures++;
		return NULL;
	}
	pcap_set_snaplen(p, 65535);
	pcap_set_timeout(p, to_ms);
	pcap_set_immediate_mode(p, immediate);
	rc = pcap_activate(p);
	if (rc != 0) {
		printf("FAIL: pcap_activate(%s): %s\n", dev, pcap_geterr(p));
		failures++;
		pcap_close(p);
		return NULL;
	}
	return p;
}

static void count_cb(u_char *user, const struct pcap_pkthdr *h,
		     const u_char *data)
{
	(void)h;
	(void)data;
	(*(long *)user)++;
}

/* Read to the end (pcap_dispatch until -2); return packets or -1. */
static long drain(pcap_t *p)
{
	long n = 0;
	int rc;

	while ((rc = pcap_dispatch(p, -1, count_cb, (u_char *)&n)) >= 0)
		;
	return rc == PCAP_ERROR_BREAK ? n : -1;
}

static void *breaker(void *arg)
{
	usleep(300000);
	pcap_breakloop(arg);
	return NULL;
}

static pcap_t *volatile alarmed;

static void on_alarm(int sig)
{
	(void)sig;
	if (alarmed != NULL)
		pcap_breakloop(alarmed);
}

static volatile sig_atomic_t sigchld;

static void on_sigchld(int sig)
{
	(void)sig;
	sigchld++;
}

/* Does the control socket at path answer "ping" with "ok" and "pong"? */
static int ping(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[64];
	size_t have = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, "ping\n", 5) != 5)
		goto done;
	while (have < sizeof(buf) - 1 &&
	       (n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0)
		have += (size_t)n;
	buf[have] = '\0';
	ok = strcmp(buf, "ok\npong\n") == 0;
done:
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * Twice: open dev as root, then give up the effective uid the way
 * tcpdump does after pcap_activate() (setresuid; the saved uid lets us
 * come back for the next round), close. The socket must be gone after
 * each pcap_close(), the next capture's fresh socket must stay, and the
 * application must see no SIGCHLD from flowscope's helper.
 */
static int control_reopen(const char *dev, const char *sock)
{
	struct sigaction sa = { .sa_handler = on_sigchld };
	struct stat st;

	if (geteuid() != 0) {
		printf("SKIP: --control-reopen needs root\n");
		return 77;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	for (int i = 1; i <= 2; i++) {
		pcap_t *p = open_dev(dev, 100, 0);

		if (p == NULL)
			break;
		CHECK(ping(sock), "round %d: the control socket answers", i);
		usleep(200000);
		CHECK(ping(sock), "round %d: it still answers 200 ms later (no "
		      "helper of an earlier capture removed it)", i);
		CHECK(setresuid((uid_t)-1, 65534, (uid_t)-1) == 0 &&
		      geteuid() == 65534, "round %d: privileges dropped "
		      "(euid %u)", i, (unsigned)geteuid());
		pcap_close(p);
		CHECK(setresuid((uid_t)-1, 0, (uid_t)-1) == 0,
		      "round %d: privileges back (to look, and for the next "
		      "capture)", i);
		CHECK(lstat(sock, &st) < 0 && errno == ENOENT,
		      "round %d: after pcap_close() without privileges the "
		      "socket is gone (%s)", i, strerror(errno));
	}
	CHECK(sigchld == 0, "no SIGCHLD reached the application (%d)",
	      (int)sigchld);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}

/*
 * Traffic that never pauses but is never delivered: dev in trigger mode
 * with nothing triggered (the reader is woken only to help with the
 * analysis), or, with filter, every packet rejected by the application's
 * filter. pcap_dispatch still returns 0 once its 100 ms timeout ran out,
 * so that the application's own timers run, and a non-blocking one
 * returns at once; the packets did arrive (ps_recv).
 */
static int quiet(const char *dev, const char *filter)
{
	pcap_t *a = open_dev(dev, 100, 0);
	struct bpf_program prog;
	struct pcap_stat st = { 0 };
	long n = 0;
	int rc = 0, ok = 1;
	double t, worst = 0;

	if (a == NULL)
		return 1;
	if (filter != NULL) {
		CHECK(pcap_compile(a, &prog, filter, 1,
				   PCAP_NETMASK_UNKNOWN) == 0 &&
		      pcap_setfilter(a, &prog) == 0, "filter \"%s\" set: %s",
		      filter, pcap_geterr(a));
		pcap_freecode(&prog);
	}
	alarmed = a;
	signal(SIGALRM, on_alarm);
	alarm(20);
	for (int i = 0; i < 5 && ok; i++) {
		t = now_s();
		rc = pcap_dispatch(a, -1, count_cb, (u_char *)&n);
		t = now_s() - t;
		worst = t > worst ? t : worst;
		ok = rc == 0 && n == 0 && t < 1;
	}
	CHECK(ok, "pcap_dispatch with a 100 ms timeout returns 0 under traffic "
	      "it does not deliver, 5 times over (last: %d, %ld packets, "
	      "slowest %.3f s)", rc, n, worst);
	if (filter != NULL) {
		char eb[PCAP_ERRBUF_SIZE];

		pcap_setnonblock(a, 1, eb);
		t = now_s();
		rc = pcap_dispatch(a, -1, count_cb, (u_char *)&n);
		t = now_s() - t;
		CHECK(rc == 0 && n == 0 && t < 0.5, "a non-blocking "
		      "pcap_dispatch returns 0 at once (%d, %.3f s)", rc, t);
	}
	alarm(0);
	alarmed = NULL;
	CHECK(pcap_stats(a, &st) == 0 && st.ps_recv > 0, "the traffic came "
	      "(ps_recv %u)", st.ps_recv);
	pcap_close(a);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	char dev[1024], dev2[1024];
	long want, n1, n2;
	pcap_t *a, *b;
	struct pcap_stat st;

	if (argc == 4 && strcmp(argv[1], "--control-reopen") == 0)
		return control_reopen(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "--quiet") == 0)
		return quiet(argv[2], NULL);
	if (argc == 4 && strcmp(argv[1], "--quiet") == 0)
		return quiet(argv[2], argv[3]);
	if (argc != 3) {
		fprintf(stderr, "usage: fs-pcapapi TRACE.pcap PACKETS\n"
			"       fs-pcapapi --control-reopen DEVICE SOCKET\n"
			"       fs-pcapapi --quiet DEVICE [FILTER]\n");
		return 2;
	}
	want = atol(argv[2]);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(dev, sizeof(dev), "flowscope:file=%s", argv[1]);

	/* 0. starting DPDK leaves the application thread's CPU affinity
	 *    as it was (the EAL pins its main lcore thread) */
	{
		cpu_set_t before, after;

		sched_getaffinity(0, sizeof(before), &before);
		a = open_dev(dev, 100, 0);
		sched_getaffinity(0, sizeof(after), &after);
		CHECK(CPU_EQUAL(&before, &after), "the caller's CPU affinity is "
		      "unchanged (%d CPUs before, %d after)", CPU_COUNT(&before),
		      CPU_COUNT(&after));
		if (a != NULL)
			pcap_close(a);
	}

	/* 1. a file capture ends with PCAP_ERROR_BREAK after every packet,
	 *    and pcap_stats counts them */
	a = open_dev(dev, 100, 0);
	if (a != NULL) {
		n1 = drain(a);
		CHECK(n1 == want, "file= delivers %ld of %ld packets, then ends",
		      n1, want);
		CHECK(pcap_stats(a, &st) == 0 && st.ps_recv == (u_int)want &&
		      st.ps_drop == 0, "pcap_stats: recv %u drop %u ifdrop %u",
		      st.ps_recv, st.ps_drop, st.ps_ifdrop);
		CHECK(pcap_dispatch(a, -1, count_cb, (u_char *)&n1) ==
		      PCAP_ERROR_BREAK, "after the end, reads keep saying so");
		pcap_close(a);
	}

	/* 2. two handles at once, each with its own config file; read
	 *    alternately so both run side by side */
	snprintf(dev2, sizeof(dev2), "flowscope/%s:gen",
		 conf("g.conf", "gen_packets = 5000\ngen_flows = 7\n"));
	a = open_dev(dev, 100, 0);
	b = open_dev(dev2, 100, 0);
	if (a != NULL && b != NULL) {
		int ra = 0, rb = 0;

		n1 = n2 = 0;
		while (ra >= 0 || rb >= 0) {
			if (ra >= 0)
				ra = pcap_dispatch(a, 100, count_cb, (u_char *)&n1);
			if (rb >= 0)
				rb = pcap_dispatch(b, 100, count_cb, (u_char *)&n2);
		}
		CHECK(n1 == want && n2 == 5000 && ra == PCAP_ERROR_BREAK &&
		      rb == PCAP_ERROR_BREAK,
		      "two handles side by side: %ld/%ld and %ld/5000",
		      n1, want, n2);
	}
	if (a != NULL)
		pcap_close(a);
	if (b != NULL)
		pcap_close(b);

	/* 3. open, close, open again, three times over */
	for (int i = 0; i < 3; i++) {
		a = open_dev(dev, 100, 0);
		n1 = a ? drain(a) : -1;
		CHECK(n1 == want, "reopen %d: %ld packets", i + 1, n1);
		if (a != NULL)
			pcap_close(a);
	}

	/* 4. a slow source: non-blocking reads return at once, the timeout
	 *    bounds a blocking read, breakloop from another thread ends
	 *    pcap_loop, the selectable fd turns readable */
	snprintf(dev2, sizeof(dev2), "flowscope/%s:gen",
		 conf("slow.conf", "gen_rate = 5\n"));
	a = open_dev(dev2, 200, 0);
	if (a != NULL) {
		char eb[PCAP_ERRBUF_SIZE];
		struct pollfd pfd = { .fd = pcap_get_selectable_fd(a),
				      .events = POLLIN };
		double t;
		pthread_t th;
		int rc;

		CHECK(pfd.fd >= 0, "selectable fd %d", pfd.fd);
		CHECK(poll(&pfd, 1, 2000) == 1,
		      "the selectable fd polls readable when packets wait");
		n1 = 0;
		rc = pcap_dispatch(a, -1, count_cb, (u_char *)&n1);
		CHECK(rc >= 1, "then pcap_dispatch reads %d", rc);

		CHECK(pcap_setnonblock(a, 1, eb) == 0 &&
		      pcap_getnonblock(a, eb) == 1, "non-blocking mode set");
		t = now_s();
		for (int i = 0; i < 100; i++)
			pcap_dispatch(a, -1, count_cb, (u_char *)&n1);
		t = now_s() - t;
		CHECK(t < 0.15, "100 non-blocking reads take %.3f s", t);
		pcap_setnonblock(a, 0, eb);

		/* drain, then a blocking read with nothing for ~200 ms */
		pcap_setnonblock(a, 1, eb);
		while (pcap_dispatch(a, -1, count_cb, (u_char *)&n1) > 0)
			;
		pcap_setnonblock(a, 0, eb);
		t = now_s();
		rc = pcap_dispatch(a, -1, count_cb, (u_char *)&n1);
		t = now_s() - t;
		CHECK(t < 0.5, "a blocking read returns within the timeout or "
		      "with a packet (%d after %.3f s)", rc, t);

		pthread_create(&th, NULL, breaker, a);
		t = now_s();
		rc = pcap_loop(a, -1, count_cb, (u_char *)&n1);
		t = now_s() - t;
		pthread_join(th, NULL);
		CHECK(rc == PCAP_ERROR_BREAK && t < 1.5,
		      "pcap_breakloop from another thread ends pcap_loop "
		      "(%d after %.3f s)", rc, t);
		pcap_close(a);
	}

	/* 5. a bad device name next to good ones changes nothing */
	a = open_dev(dev, 100, 0);
	{
		char eb[PCAP_ERRBUF_SIZE];
		pcap_t *bad = pcap_create("flowscope:nosuchif0", eb);

		CHECK(bad != NULL && pcap_activate(bad) < 0 &&
		      strstr(pcap_geterr(bad), "nosuchif0") != NULL,
		      "a missing interface fails: %s",
		      bad ? pcap_geterr(bad) : eb);
		if (bad != NULL)
			pcap_close(bad);
	}
	if (a != NULL) {
		n1 = drain(a);
		CHECK(n1 == want, "the other handle still delivers %ld", n1);
		pcap_close(a);
	}

	/* 6. under traffic that never pauses, pcap_dispatch(-1) handles
	 *    one batch and returns, as libpcap's modules handle one buffer:
	 *    an event loop around it (p0f, softflowd, darkstat) gets control
	 *    back. (SIGALRM breaks a dispatch that would never return.) */
	a = open_dev("flowscope:gen", 100, 0);
	if (a != NULL) {
		long n = 0, before;
		int rc = 0, ok = 1;
		double t, worst = 0;

		alarmed = a;
		signal(SIGALRM, on_alarm);
		alarm(10);
		for (int i = 0; i < 20 && ok; i++) {
			before = n;
			t = now_s();
			rc = pcap_dispatch(a, -1, count_cb, (u_char *)&n);
			t = now_s() - t;
			worst = t > worst ? t : worst;
			ok = rc > 0 && n - before == rc && rc <= 4096;
		}
		alarm(0);
		alarmed = NULL;
		CHECK(ok, "pcap_dispatch(-1) under endless traffic returns after "
		      "one batch, 20 times over (last: %d packets, slowest %.3f s)",
		      rc, worst);
		pcap_close(a);
	}

	/* 7. a child forked after pcap_activate() (a daemon going to the
	 *    background) gets a clear error from a read, not a crash, and
	 *    closing the handle there leaves the parent's capture whole */
	a = open_dev(dev, 100, 0);
	if (a != NULL) {
		int status = 0;
		pid_t pid = fork();

		if (pid == 0) {
			long n = 0;
			int rc = pcap_dispatch(a, -1, count_cb, (u_char *)&n);
			int ok = rc == PCAP_ERROR &&
				strstr(pcap_geterr(a), "fork()") != NULL;

			printf("  (child: pcap_dispatch %d: %s)\n", rc,
			       pcap_geterr(a));
			fflush(stdout);
			pcap_close(a);
			_exit(ok ? 0 : 1);
		}
		CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
		      WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "a forked child's read fails with an error naming fork() "
		      "(status %#x)", status);
		n1 = drain(a);
		CHECK(n1 == want, "the parent's capture still delivers %ld "
		      "packets after the child closed its copy", n1);
		pcap_close(a);
	}

	unlink(conf("g.conf", ""));
	unlink(conf("slow.conf", ""));
	rmdir(tmpdir);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
