/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The default control directory (see control_dir.h). Kept apart from the
 * server so that flowscope-ctl shares the rule without the server's code.
 */
#define _GNU_SOURCE
#include "control_dir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_control_default_dir(char *buf, size_t len)
{
	unsigned uid = (unsigned)geteuid();
	const char *xdg = NULL;
	char run_user[64];
	struct stat st;
	int n;

	if (len > 0)
		buf[0] = '\0';
	if (uid == 0) {
		n = snprintf(buf, len, "%s", FS_CTL_DIR);
		goto done;
	}
	/* the environment belongs to whoever started a privileged program:
	 * it must not choose where that program creates its socket */
	if (getauxval(AT_SECURE) == 0)
		xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(buf, len, "%s/flowscope", xdg);
		goto done;
	}
	snprintf(run_user, sizeof(run_user), "/run/user/%u", uid);
	if (lstat(run_user, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == uid)
		n = snprintf(buf, len, "%s/flowscope", run_user);
	else
		n = snprintf(buf, len, "/tmp/flowscope-%u", uid);
done:
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
