/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: device names. Whatever pcap_create() is handed must parse
 * or be refused with a message, never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1), err[256], lb[32];
	struct fs_devname d;

	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	(void)fs_devname_is_ours(name);
	if (fs_devname_parse(name, &d, err, sizeof(err)) == 0) {
		if (d.nsources == 0 || d.nsources > FS_MAX_SOURCES)
			abort();
		for (size_t i = 0; i < d.nsources; i++)
			(void)fs_source_label(&d.sources[i], lb, sizeof(lb));
		fs_devname_release(&d);
	} else if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0') {
		abort();
	}
	free(name);
	return 0;
}
