/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the control protocol, over a real socket. One server runs
 * for the whole process; each input is sent as a client would send it and
 * the answer read to the end. Stub operations check what reaches them.
 */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int op_stats(void *arg, FILE *out, char *err, size_t errlen)
{
	(void)arg; (void)err; (void)errlen;
	fputs("received 1\n", out);
	return 0;
}

static int op_top(void *arg, unsigned n, FILE *out, char *err, size_t len)
{
	(void)arg; (void)err; (void)len;
	if (n == 0 || n > 1000)
		abort();
	fprintf(out, "top %u\n", n);
	return 0;
}

static int op_filter(void *arg, const struct bpf_program *f, FILE *out,
		     char *err, size_t errlen)
{
	(void)arg; (void)err; (void)errlen;
	if (f != NULL && (f->bf_insns == NULL || f->bf_len == 0))
		abort();
	fputs("ok\n", out);
	return 0;
}

static int op_trigger(void *arg, const struct bpf_program *f,
		      const char *text, FILE *out, char *err, size_t errlen)
{
	if (text == NULL || (f != NULL && text[0] == '\0'))
		abort();
	return op_filter(arg, f, out, err, errlen);
}

static const struct fs_control_ops ops = {
	op_stats, op_top, op_filter, op_trigger, op_stats,
};

static fs_control *server;
static char dir[80], path[108];

static void stop(void)
{
	fs_control_stop(server);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096], err[256];
	int fd;

	if (server == NULL) {
		snprintf(dir, sizeof(dir), "/tmp/fs-fuzzctl-%d", (int)getpid());
		snprintf(path, sizeof(path), "%s/c.sock", dir);
		server = fs_control_start(path, &ops, NULL, err, sizeof(err));
		if (server == NULL) {
			fprintf(stderr, "fuzz_control: %s\n", err);
			abort();
		}
		atexit(stop);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		abort();
	(void)!send(fd, data, size, MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return 0;
}
