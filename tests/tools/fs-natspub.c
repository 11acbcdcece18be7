/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fs-natspub URL SUBJECT FILE...: publish each FILE's bytes, as they are,
 * as one message on SUBJECT of the NATS server at URL, and flush. For the
 * tests that hand captures on a bus what no capture would send.
 */
#include <stdio.h>
#include <stdlib.h>

#include <nats/nats.h>

int main(int argc, char **argv)
{
	natsConnection *nc = NULL;
	natsStatus s;
	int rc = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: fs-natspub URL SUBJECT FILE...\n");
		return 2;
	}
	s = natsConnection_ConnectTo(&nc, argv[1]);
	if (s != NATS_OK) {
		fprintf(stderr, "fs-natspub: %s: %s\n", argv[1],
			natsStatus_GetText(s));
		return 1;
	}
	for (int i = 3; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		static char buf[1 << 20];
		size_t n;

		if (f == NULL) {
			perror(argv[i]);
			rc = 1;
			continue;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		s = natsConnection_Publish(nc, argv[2], buf, (int)n);
		if (s != NATS_OK) {
			fprintf(stderr, "fs-natspub: %s: %s\n", argv[i],
				natsStatus_GetText(s));
			rc = 1;
		}
	}
	if (natsConnection_Flush(nc) != NATS_OK)
		rc = 1;
	natsConnection_Destroy(nc);
	nats_Close();
	return rc;
}
