/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Starting DPDK's EAL inside an application (see eal.h). The EAL is one
 * per process by DPDK's own design, so its state here is one per process
 * too, guarded by a mutex; everything per capture lives elsewhere.
 */
#define _GNU_SOURCE
#include "eal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>
#include <dirent.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf_dyn.h>

#include "config.h"
#include "eal_args.h"

#define LOG_KEEP 512
#define LOG_LINES 8

static struct {
	pthread_mutex_t lock;		/* start, ports and vdevs */
	pthread_mutex_t log_lock;
	bool started;
	char *failed;			/* why rte_eal_init() failed, once */
	char *user_args;		/* eal key the EAL was started with */
	bool probed[RTE_MAX_ETHPORTS];	/* ports present right after start */
	unsigned vdev_seq;
	int ts_offset;
	uint64_t ts_flag;
	int wl_offset;
	FILE *log;
	char lines[LOG_LINES][LOG_KEEP];	/* newest complete lines */
	unsigned nlines;		/* lines logged ever */
	char partial[LOG_KEEP];		/* line being written */
} eal = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.log_lock = PTHREAD_MUTEX_INITIALIZER,
	.ts_offset = -1,
	.wl_offset = -1,
};

/* DPDK's log goes here instead of stdout/syslog: the newest line is kept
 * for error messages. */
static ssize_t log_write(void *cookie, const char *buf, size_t size)
{
	size_t i;

	(void)cookie;
	pthread_mutex_lock(&eal.log_lock);
	for (i = 0; i < size; i++) {
		size_t n = strlen(eal.partial);

		if (buf[i] == '\n') {
			if (n > 0)
				memcpy(eal.lines[eal.nlines++ % LOG_LINES],
				       eal.partial, n + 1);
			eal.partial[0] = '\0';
		} else if (n + 1 < sizeof(eal.partial)) {
			eal.partial[n] = buf[i];
			eal.partial[n + 1] = '\0';
		}
	}
	pthread_mutex_unlock(&eal.log_lock);
	return (ssize_t)size;
}

void fs_eal_last_log(char *buf, size_t len)
{
	pthread_mutex_lock(&eal.log_lock);
	snprintf(buf, len, "%s", eal.nlines ?
		 eal.lines[(eal.nlines - 1) % LOG_LINES] : "");
	pthread_mutex_unlock(&eal.log_lock);
}

/* The first line logged since line number since: the cause, where later
 * lines only say that initialisation failed. */
static void first_log_since(unsigned since, char *buf, size_t len)
{
	pthread_mutex_lock(&eal.log_lock);
	if (eal.nlines > since + LOG_LINES)
		since = eal.nlines - LOG_LINES;
	snprintf(buf, len, "%s", eal.nlines > since ?
		 eal.lines[since % LOG_LINES] : "");
	pthread_mutex_unlock(&eal.log_lock);
}

void fs_eal_lock(void)
{
	pthread_mutex_lock(&eal.lock);
}

void fs_eal_unlock(void)
{
	pthread_mutex_unlock(&eal.lock);
}

int fs_eal_call_masked(int (*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = fn(arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static bool has_opt(char **argv, const char *const *names)
{
	for (; *argv != NULL; argv++)
		for (const char *const *n = names; *n != NULL; n++) {
			size_t l = strlen(*n);

			if (strncmp(*argv, *n, l) == 0 &&
			    ((*argv)[l] == '\0' || (*argv)[l] == '=' ||
			     ((*n)[1] != '-' && l == 2)))
				return true;
		}
	return false;
}

/* Are there free hugepages this process may use? */
static bool hugepages_usable(void)
{
	DIR *d;
	struct dirent *e;
	bool found = false;

	if (geteuid() != 0)
		return false;
	d = opendir("/sys/kernel/mm/hugepages");
	if (d == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		char path[512];
		FILE *f;
		unsigned long n = 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path),
			 "/sys/kernel/mm/hugepages/%s/free_hugepages",
			 e->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		if (fscanf(f, "%lu", &n) == 1 && n > 0)
			found = true;
		fclose(f);
	}
	closedir(d);
	return found;
}

struct argv_buf {
	char *argv[128];
	int argc;
	char store[16][64];
	int nstore;
};

static int push(struct argv_buf *a, const char *s)
{
	if (a->argc + 1 >= (int)(sizeof(a->argv) / sizeof(a->argv[0])))
		return -1;
	a->argv[a->argc++] = (char *)s;
	a->argv[a->argc] = NULL;
	return 0;
}

static const char *keep(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->nstore >= 16)
		return "";
	s = a->store[a->nstore++];
	va_start(ap, fmt);
	vsnprintf(s, 64, fmt, ap);
	va_end(ap);
	return s;
}

/*
 * Build the EAL command line: our defaults for whatever the user did not
 * choose, then the user's own arguments.
 */
static int build_args(struct argv_buf *a, char **user)
{
	static const char *const huge[] = { "--no-huge", "--huge-dir",
		"--socket-mem", "--in-memory", "-m", "--legacy-mem", NULL };
	static const char *const no_huge[] = { "--no-huge", NULL };
	static const char *const dev[] = { "-a", "--allow", "-b", "--block",
		"--no-pci", NULL };
	static const char *const shconf[] = { "--file-prefix", "--proc-type",
		"--no-shconf", "--in-memory", NULL };
	static const char *const cores[] = { "-l", "-c", "--lcores", NULL };
	static const char *const tele[] = { "--telemetry", "--no-telemetry",
		NULL };
	static const char *const logl[] = { "--log-level", NULL };
	cpu_set_t set;
	int cpu = 0;

	push(a, "flowscope");
	if (!has_opt(user, cores)) {
		/* the first CPU we may run on; its thread (the caller's) gets
		 * its affinity back once the EAL is up */
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set))
				cpu++;
		push(a, "-l");
		push(a, keep(a, "%d", cpu % CPU_SETSIZE));
	}
	bool nohuge = !has_opt(user, huge) && !hugepages_usable();

	if (nohuge) {
		push(a, "--no-huge");
		push(a, "-m");
		push(a, "512");
	}
	/* no files in /var/run/dpdk: processes never clash; --in-memory
	 * does that with hugepages, --no-shconf without (no-huge implies
	 * legacy memory, which --in-memory refuses) */
	if (!has_opt(user, shconf))
		push(a, nohuge || has_opt(user, no_huge) ? "--no-shconf" :
		     "--in-memory");
	if (!has_opt(user, dev))
		push(a, "--no-pci");
	if (!has_opt(user, tele))
		push(a, "--no-telemetry");
	if (!has_opt(user, logl))
		push(a, "--log-level=notice");
	for (; *user != NULL; user++)
		if (push(a, *user) < 0)
			return -1;
	return 0;
}

/* The first line the EAL wrote to stdout/stderr (getopt's complaint
 * comes before the usage text). */
static void first_line(int fd, char *out, size_t len)
{
	char buf[4096];
	ssize_t n;
	char *s;

	out[0] = '\0';
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (s = strtok(buf, "\n"); s != NULL; s = strtok(NULL, "\n"))
		if (strspn(s, " \t") != strlen(s)) {
			snprintf(out, len, "%s", s);
			return;
		}
}

/* DPDK's own prefixes add nothing to a message that names DPDK. */
static const char *unprefixed(const char *s)
{
	static const char *const pre[] = { "EAL: FATAL: ", "EAL: ",
		"flowscope: ", NULL };

	for (const char *const *p = pre; *p != NULL; p++)
		if (strncmp(s, *p, strlen(*p)) == 0)
			return s + strlen(*p);
	return s;
}

/*
 * DPDK names its runtime directory after RUNTIME_DIRECTORY or, for a
 * non-root real user, XDG_RUNTIME_DIR, and creates directories there
 * with the effective ids. In a set-user-ID program those variables are
 * the caller's and the ids are not: point them at the directory DPDK
 * uses for root for the duration of rte_eal_init(). The entries of
 * environ are swapped in place (a pointer store each), never added or
 * removed, so a concurrent getenv() sees the old or the new value.
 */
struct env_swap {
	char **slot[2];
	char *old[2];
};

static void hide_runtime_dir(struct env_swap *sw)
{
	static char *const safe[] = { "RUNTIME_DIRECTORY=/var/run",
				      "XDG_RUNTIME_DIR=/var/run" };
	extern char **environ;

	memset(sw, 0, sizeof(*sw));
	if (!getauxval(AT_SECURE) || geteuid() == getuid() || environ == NULL)
		return;
	for (char **e = environ; *e != NULL; e++)
		for (int i = 0; i < 2; i++) {
			size_t n = strchr(safe[i], '=') - safe[i] + 1;

			if (sw->slot[i] == NULL && strncmp(*e, safe[i], n) == 0) {
				sw->slot[i] = e;
				sw->old[i] = *e;
				__atomic_store_n(e, safe[i], __ATOMIC_RELEASE);
			}
		}
}

static void restore_runtime_dir(const struct env_swap *sw)
{
	for (int i = 0; i < 2; i++)
		if (sw->slot[i] != NULL)
			__atomic_store_n(sw->slot[i], sw->old[i],
					 __ATOMIC_RELEASE);
}

struct init_call {
	int argc;
	char **argv;
	int rc, err;
};

static int call_init(void *arg)
{
	struct init_call *ic = arg;

	ic->rc = rte_eal_init(ic->argc, ic->argv);
	ic->err = rte_errno;
	return ic->rc;
}

int fs_eal_start(const char *user_args, char *err, size_t errlen)
{
	char **user = NULL;
	struct argv_buf a = { .argc = 0 };
	struct init_call ic;
	struct env_swap sw;
	cpu_set_t saved;
	int cap_fd = -1, out_fd = -1, err_fd = -1, rc = -1, nuser;
	unsigned log_mark;
	bool have_aff;
	char line[512];
	const char *ua = user_args ? user_args : "";

	pthread_mutex_lock(&eal.lock);
	if (eal.started) {
		if (strcmp(eal.user_args, ua) != 0) {
			snprintf(err, errlen,
				 "eal: DPDK already runs in this process with "
				 "eal = '%s'; it cannot be restarted with '%s'",
				 eal.user_args, ua);
			goto done;
		}
		rc = 0;
		goto done;
	}
	if (eal.failed != NULL) {
		/* DPDK cannot be initialised twice in one process */
		snprintf(err, errlen, "eal: DPDK failed to start earlier in "
			 "this process and cannot start again until the program "
			 "restarts; the first attempt said: %s", eal.failed);
		goto done;
	}
	nuser = fs_config_split_args(ua, &user, err, errlen);
	if (nuser < 0)
		goto done;
	/* the config parser refused these already; this is the last word
	 * before DPDK, for every way an eal text can reach here */
	if (fs_eal_args_check(user, getauxval(AT_SECURE) ?
			      FS_EAL_ARGS_SECURE : 0, err, errlen) < 0)
		goto done;
	if (build_args(&a, user) < 0) {
		snprintf(err, errlen, "eal: too many arguments");
		goto done;
	}

	if (eal.log == NULL) {
		cookie_io_functions_t io = { .write = log_write };

		eal.log = fopencookie(NULL, "w", io);
		if (eal.log == NULL) {
			snprintf(err, errlen, "eal: cannot open log stream: %s",
				 strerror(errno));
			goto done;
		}
		setvbuf(eal.log, NULL, _IOLBF, 0);
		rte_openlog_stream(eal.log);
	}

	/*
	 * The EAL prints its usage and fatal errors straight to stdout and
	 * stderr, and pins the calling thread to its main lcore. Catch the
	 * first, undo the second, and block signals so that the threads it
	 * starts never take the application's signals.
	 */
	have_aff = pthread_getaffinity_np(pthread_self(), sizeof(saved),
					  &saved) == 0;
	fflush(stdout);
	fflush(stderr);
	cap_fd = memfd_create("flowscope-eal", MFD_CLOEXEC);
	out_fd = dup(STDOUT_FILENO);
	err_fd = dup(STDERR_FILENO);
	if (cap_fd >= 0 && out_fd >= 0 && err_fd >= 0) {
		dup2(cap_fd, STDOUT_FILENO);
		dup2(cap_fd, STDERR_FILENO);
	}
	ic.argc = a.argc;
	ic.argv = a.argv;
	pthread_mutex_lock(&eal.log_lock);
	log_mark = eal.nlines;
	pthread_mutex_unlock(&eal.log_lock);
	hide_runtime_dir(&sw);
	fs_eal_call_masked(call_init, &ic);
	restore_runtime_dir(&sw);
	fflush(stdout);
	fflush(stderr);
	if (out_fd >= 0)
		dup2(out_fd, STDOUT_FILENO);
	if (err_fd >= 0)
		dup2(err_fd, STDERR_FILENO);
	if (have_aff)
		pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);

	if (ic.rc < 0) {
		line[0] = '\0';
		if (cap_fd >= 0)
			first_line(cap_fd, line, sizeof(line));
		if (line[0] == '\0' || strncmp(line, "EAL: FATAL", 10) == 0)
			first_log_since(log_mark, line, sizeof(line));
		snprintf(err, errlen, "eal: DPDK failed to start (%s)%s%s",
			 rte_strerror(ic.err), line[0] ? ": " : "",
			 unprefixed(line));
		eal.failed = strdup(err + strlen("eal: "));
		goto done;
	}
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++)
		eal.probed[p] = rte_eth_dev_is_valid_port(p);
	{
		/* our own field, not DPDK's rx timestamp: drivers fill that
		 * in units of their own (device ticks, microseconds) */
		static const struct rte_mbuf_dynfield ts = {
			.name = "flowscope_ts_ns",
			.size = sizeof(uint64_t),
			.align = __alignof__(uint64_t),
		};
		static const struct rte_mbuf_dynflag tf = {
			.name = "flowscope_ts_ns_valid",
		};
		int bit;

		eal.ts_offset = rte_mbuf_dynfield_register(&ts);
		bit = rte_mbuf_dynflag_register(&tf);
		if (eal.ts_offset < 0 || bit < 0) {
			snprintf(err, errlen, "eal: cannot register the "
				 "timestamp field: %s", rte_strerror(rte_errno));
			goto done;
		}
		eal.ts_flag = UINT64_C(1) << bit;
	}
	{
		static const struct rte_mbuf_dynfield wl = {
			.name = "flowscope_wire_len",
			.size = sizeof(uint32_t),
			.align = __alignof__(uint32_t),
		};

		eal.wl_offset = rte_mbuf_dynfield_register(&wl);
		if (eal.wl_offset < 0) {
			snprintf(err, errlen, "eal: cannot register the wire "
				 "length field: %s", rte_strerror(rte_errno));
			goto done;
		}
	}
	eal.user_args = strdup(ua);
	if (eal.user_args == NULL) {
		snprintf(err, errlen, "eal: out of memory");
		goto done;
	}
	eal.started = true;
	rc = 0;
done:
	if (cap_fd >= 0)
		close(cap_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	fs_config_free_argv(user);
	pthread_mutex_unlock(&eal.lock);
	return rc;
}

bool fs_eal_port_is_probed(uint16_t port)
{
	return port < RTE_MAX_ETHPORTS && eal.probed[port];
}

void fs_eal_vdev_name(const char *driver, char *buf, size_t len)
{
	unsigned n = __atomic_fetch_add(&eal.vdev_seq, 1, __ATOMIC_RELAXED);

	snprintf(buf, len, "%s_fs%u_%u", driver, (unsigned)getpid(), n);
}

int fs_eal_ts_offset(void)
{
	return eal.ts_offset;
}

int fs_eal_wirelen_offset(void)
{
	return eal.wl_offset;
}

uint64_t fs_eal_ts_flag(void)
{
	return eal.ts_flag;
}
