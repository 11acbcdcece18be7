/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowscope-record: a capture that runs with no application attached
 * (DESIGN §6). It opens DEVICE with FS_OPEN_NO_READER, so the engine
 * keeps its ring, flow table, triggers, dump_dir and control socket
 * going without staging a packet for anyone, and waits for a signal.
 * Meant for systemd (conf/flowscope-record@.service): one line on
 * stderr when it starts, one with the final counters when it stops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowscope.h"
#include "devname.h"

#define PROG "flowscope-record"
#define DESC_MAX 1024
#define SIGNAME_MAX 16

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* the signal that asks us to stop, 0: none yet */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(void)
{
	printf(
"usage: " PROG " [-c FILE] [-p] [-x] DEVICE\n"
"\n"
"Records DEVICE with no application attached: the RAM ring, flow\n"
"tracking, triggers, dump_dir and the control socket (flowscope-ctl),\n"
"until SIGTERM, SIGINT or SIGHUP stops it.\n"
"\n"
"DEVICE:\n"
"  SOURCE[:SOURCE...]  as after flowscope: (eth0, dpdk0, file=PATH, gen,\n"
"                      eth0:eth1)\n"
"  flowscope-NAME      the named capture of " FS_CONF_DIR "/NAME.conf\n"
"                      (directory: $FLOWSCOPE_CONF_DIR)\n"
"  NAME                the same, when that file exists\n"
"  flowscope:...       any flowscope device name, as given\n"
"\n"
"options:\n"
"  -c, --config FILE   the config file of the capture's keys (default\n"
"                      $FLOWSCOPE_CONFIG); FLOWSCOPE_* variables beat it\n"
"  -p, --no-promiscuous-mode\n"
"                      do not put interfaces and DPDK ports into\n"
"                      promiscuous mode\n"
"  -x, --exit-at-end   exit once every source has ended (file=,\n"
"                      gen_packets) and dump_dir is written; without it\n"
"                      the control socket is served until a signal\n"
"  -V, --version       the version\n"
"  -h, --help          this text\n"
"\n"
"Keys (mode, trigger, buffer, dump_dir, control, ...): flowscope(7).\n"
"\n"
"exit status: 0 stopped by a signal or at the end, 1 error (device,\n"
"key or config file, a source that failed), 2 usage error\n");
}

static int usage_error(void)
{
	fprintf(stderr, "usage: " PROG " [-c FILE] [-p] [-x] DEVICE\n"
		"Try '" PROG " --help' for more information.\n");
	return 2;
}

/* Is there a named capture's config file for name? */
static bool named_exists(const char *name)
{
	char path[4096];

	if (!fs_devname_valid_name(name))
		return false;
	snprintf(path, sizeof(path), "%s/%s.conf", fs_devname_conf_dir(),
		 name);
	return access(path, F_OK) == 0;
}

/*
 * The flowscope device name that DEVICE and -c FILE stand for, malloc'd,
 * or NULL with a message on stderr. *plain is set when DEVICE was a bare
 * word taken as sources although it is a valid capture name (for a
 * hint when it does not open).
 */
static char *device_name(const char *arg, const char *config, bool *plain)
{
	char *dev = NULL;

	*plain = false;
	if (fs_device_is_ours(arg)) {
		const char *rest = arg + strlen(FS_DEVNAME_PREFIX);

		if (config != NULL && *rest != ':') {
			fprintf(stderr, PROG ": -c: %s names its config file "
				"itself\n", arg);
			return NULL;
		}
		if (config == NULL)
			return strdup(arg);
		/* flowscope:SOURCES with -c FILE: flowscope/FILE:SOURCES */
		if (asprintf(&dev, FS_DEVNAME_PREFIX "/%s%s", config,
			     rest) < 0)
			dev = NULL;
		return dev;
	}
	if (named_exists(arg)) {
		if (config != NULL) {
			fprintf(stderr, PROG ": -c: the named capture %s has "
				"its config file, %s/%s.conf\n", arg,
				fs_devname_conf_dir(), arg);
			return NULL;
		}
		if (asprintf(&dev, FS_DEVNAME_NAMED "%s", arg) < 0)
			dev = NULL;
		return dev;
	}
	*plain = fs_devname_valid_name(arg);
	if (config != NULL) {
		if (asprintf(&dev, FS_DEVNAME_PREFIX "/%s:%s", config, arg) < 0)
			dev = NULL;
	} else if (asprintf(&dev, FS_DEVNAME_PREFIX ":%s", arg) < 0) {
		dev = NULL;
	}
	return dev;
}

/* The counters of flowscope-ctl stats as one "name value ..." line. */
static void say_stats(fs_capture *c, const char *why)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL || fs_capture_write_stats(c, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, PROG ": stopped (%s); cannot format the "
			"counters: %s\n", why, strerror(errno));
		free(buf);
		return;
	}
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	fprintf(stderr, PROG ": stopped (%s): %s\n", why, buf);
	free(buf);
}

/* Take SIGTERM, SIGINT and SIGHUP only inside ppoll(): blocked
 * everywhere else, in every thread the capture starts too. */
static void take_signals(sigset_t *waiting)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	/* a vanished reader of stderr must not end us before the files
	 * are complete */
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &block, waiting);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(waiting, sigs[i]);
}

/*
 * Wait for a signal, or (until the sources ended) for the capture's
 * descriptor to say that something changed. Returns 0 when stopped by
 * a signal or at the end with exit_at_end, 1 when a source failed;
 * *why says which (the signal's name written into sigbuf, SIGNAME_MAX
 * bytes).
 */
static int record(fs_capture *c, bool exit_at_end, const sigset_t *waiting,
		  const char **why, char *sigbuf)
{
	struct pollfd pfd = { .fd = fs_capture_fd(c), .events = POLLIN };
	bool ended = false;

	while (!stop_signal) {
		if (!ended) {
			int rc = fs_capture_read(c, NULL, 0);

			if (rc == FS_EOF) {
				ended = true;
				if (exit_at_end) {
					*why = "every source ended";
					return 0;
				}
				fprintf(stderr, PROG ": every source ended; "
					"serving the control socket until "
					"stopped\n");
				continue;
			}
			if (rc < 0) {
				fprintf(stderr, PROG ": %s\n",
					fs_capture_error(c));
				*why = "a source failed";
				return 1;
			}
		}
		/* after the end the descriptor stays readable: only a
		 * signal is waited for then */
		if (ppoll(&pfd, ended ? 0 : 1, NULL, waiting) < 0 &&
		    errno != EINTR) {
			fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
			*why = "poll failed";
			return 1;
		}
	}
	snprintf(sigbuf, SIGNAME_MAX, "SIG%s", sigabbrev_np(stop_signal));
	*why = sigbuf;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "no-promiscuous-mode", no_argument, NULL, 'p' },
		{ "exit-at-end", no_argument, NULL, 'x' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fs_open_params params = {
		.promisc = 1,
		/* no application snaplen: caplen (default all) decides */
		.snaplen = 0,
		.flags = FS_OPEN_NO_READER,
	};
	const char *config = NULL, *why = "";
	char err[512], desc[DESC_MAX], sigbuf[SIGNAME_MAX];
	bool exit_at_end = false, plain;
	sigset_t waiting;
	fs_capture *c;
	char *dev;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:pxVh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (optarg[0] == '\0' || strchr(optarg, ':') != NULL) {
				fprintf(stderr, PROG ": -c: '%s' is not a "
					"config file path flowscope can take "
					"(empty, or holding ':', which device "
					"names cannot carry)\n", optarg);
				return 1;
			}
			config = optarg;
			break;
		case 'p':
			params.promisc = 0;
			break;
		case 'x':
			exit_at_end = true;
			break;
		case 'V':
			printf(PROG " " PACKAGE_VERSION "\n");
			return 0;
		case 'h':
			usage();
			return 0;
		default:
			return usage_error();
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, PROG ": %s\n", optind == argc ?
			"no DEVICE given" : "only one DEVICE is taken");
		return usage_error();
	}
	dev = device_name(argv[optind], config, &plain);
	if (dev == NULL)
		return 1;
	take_signals(&waiting);
	c = fs_capture_open(dev, &params, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, PROG ": %s", err);
		/* only when the error is about that word as a source */
		if (plain && strncmp(err, argv[optind],
				     strlen(argv[optind])) == 0 &&
		    err[strlen(argv[optind])] == ':')
			fprintf(stderr, " (%s is read as sources: there is no "
				"named capture %s/%s.conf)", argv[optind],
				fs_devname_conf_dir(), argv[optind]);
		fputc('\n', stderr);
		free(dev);
		return 1;
	}
	fs_capture_describe(c, desc, sizeof(desc));
	fprintf(stderr, PROG ": recording %s (%s)\n", dev, desc);
	rc = record(c, exit_at_end, &waiting, &why, sigbuf);
	/* the counters once the sources stopped and the files are
	 * complete: final */
	fs_capture_stop(c);
	say_stats(c, why);
	fs_capture_close(c);
	free(dev);
	return rc;
}
