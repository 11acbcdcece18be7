/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the packet parser. Any bytes at any length must parse
 * without reading outside them, and for IP keys the frame synthesized
 * from a key must parse back to the same key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_pkt_info a, b;
	uint8_t *copy = malloc(size ? size : 1), frame[160];
	char text[256];
	size_t n;

	if (copy == NULL)
		return 0;
	/* an exact-size copy, so that over-reads hit the sanitizer */
	memcpy(copy, data, size);
	fs_flow_parse(copy, (uint32_t)size, &a);
	free(copy);
	if (a.hash != fs_flow_hash(&a.key))
		abort();
	fs_flow_key_str(&a.key, text, sizeof(text));
	if (a.key.kind == FS_FLOW_L2 || a.truncated || a.fragment)
		return 0;
	n = fs_flow_synth(&a.key, a.dir, a.tcp_flags, frame, sizeof(frame));
	if (n == 0)
		abort();
	fs_flow_parse(frame, (uint32_t)n, &b);
	if (memcmp(&a.key, &b.key, sizeof(a.key)) != 0 || a.dir != b.dir)
		abort();
	return 0;
}
