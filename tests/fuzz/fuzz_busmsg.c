/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: what arrives from the bus. Any bytes must decode whole or
 * be refused with a reason, never crash; what decodes must encode again
 * and decode to the same message (nothing is taken half-parsed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "busmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_bus_msg m, again;
	enum fs_bus_refusal why = FS_BUS_OK;
	char buf[FS_BUS_MSG_MAX + 1];
	size_t n;

	(void)fs_bus_request((const char *)data, size, &why);
	if (fs_bus_decode((const char *)data, size, &m) != FS_BUS_OK)
		return 0;
	n = fs_bus_encode(&m, buf, sizeof(buf));
	if (n == 0 || fs_bus_decode(buf, n, &again) != FS_BUS_OK ||
	    again.has_key != m.has_key || again.instance != m.instance ||
	    again.time_ns != m.time_ns || strcmp(again.host, m.host) != 0 ||
	    strcmp(again.capture, m.capture) != 0 ||
	    (m.has_key && memcmp(&again.key, &m.key, sizeof(m.key)) != 0) ||
	    (!m.has_key && strcmp(again.filter, m.filter) != 0))
		abort();
	return 0;
}
