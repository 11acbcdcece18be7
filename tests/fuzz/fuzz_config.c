/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the configuration parsers. The input is a config file; its
 * lines are also tried as FLOWSCOPE_ variables and as EAL argument
 * strings. Errors are fine; crashes, leaks and unterminated messages not.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_config c;
	char err[256], path[64], *text, *line, *save = NULL;
	char **argv = NULL;
	int fd = memfd_create("fuzz-config", 0);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fs_config_init(&c);
	err[0] = '\0';
	if (fs_config_load_file(&c, path, err, sizeof(err)) < 0 &&
	    memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	fs_config_release(&c);
	close(fd);

	text = strndup((const char *)data, size);
	if (text == NULL)
		return 0;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char var[1100];
		char *envp[2] = { var, NULL };

		snprintf(var, sizeof(var), "FLOWSCOPE_%s", line);
		fs_config_init(&c);
		(void)fs_config_load_env(&c, envp, err, sizeof(err));
		fs_config_release(&c);
		if (fs_config_split_args(line, &argv, err, sizeof(err)) >= 0)
			fs_config_free_argv(argv);
	}
	free(text);
	return 0;
}
