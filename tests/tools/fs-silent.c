/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Opens N connections to a UNIX stream socket and sends nothing on them:
 * the clients a control socket must not wait for one after the other.
 *   fs-silent SOCKET N SECONDS
 * Prints "connected N" once all are connected, then keeps them open and
 * silent for up to SECONDS; prints "closed K AFTER_S" for the K the server
 * closed by then (AFTER_S: seconds from "connected" to the last of them),
 * and exits 0. Exit 1 when a connection fails, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd *pf;
	double t0, last = 0, end;
	long n, secs;
	int closed = 0;

	if (argc != 4 || (n = strtol(argv[2], NULL, 10)) <= 0 || n > 4096 ||
	    (secs = strtol(argv[3], NULL, 10)) <= 0 ||
	    strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: fs-silent SOCKET N SECONDS\n");
		return 2;
	}
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	pf = calloc((size_t)n, sizeof(*pf));
	if (pf == NULL)
		return 1;
	for (long i = 0; i < n; i++) {
		pf[i].fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (pf[i].fd < 0 ||
		    connect(pf[i].fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "fs-silent: connection %ld: %s\n", i + 1,
				strerror(errno));
			return 1;
		}
		pf[i].events = POLLIN;
	}
	printf("connected %ld\n", n);
	fflush(stdout);
	t0 = now_s();
	end = t0 + (double)secs;
	while (closed < n && now_s() < end) {
		int r = poll(pf, (nfds_t)n, (int)((end - now_s()) * 1000) + 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		for (long i = 0; i < n; i++) {
			char buf[256];

			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			/* the end of the stream, or data: count the end */
			if (recv(pf[i].fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				continue;
			close(pf[i].fd);
			pf[i].fd = -1;
			closed++;
			last = now_s() - t0;
		}
	}
	printf("closed %d %.3f\n", closed, last);
	return 0;
}
