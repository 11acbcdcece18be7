/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where control sockets live by default: the one rule that both a capture
 * (to create its socket) and flowscope-ctl (to find it) follow.
 */
#ifndef FS_CONTROL_DIR_H
#define FS_CONTROL_DIR_H

#include <stddef.h>

/* root's captures; other users get a directory of their own */
#define FS_CTL_DIR "/run/flowscope"

/*
 * Write the default control directory of this process's effective user
 * into buf:
 *
 *   root                         FS_CTL_DIR
 *   others                       $XDG_RUNTIME_DIR/flowscope
 *   others, no XDG_RUNTIME_DIR   /run/user/UID/flowscope when /run/user/UID
 *                                is a directory of UID, else /tmp/flowscope-UID
 *
 * with UID the effective uid. A secure-execution process (setuid, setgid,
 * file capabilities: getauxval(AT_SECURE)) ignores XDG_RUNTIME_DIR, which
 * its caller controls. Only the path is chosen here: whoever creates the
 * directory makes it 0700 and checks that it belongs to the user
 * (fs_control_start). Returns 0, or -1 with errno ENAMETOOLONG when the
 * path does not fit into len bytes (buf then holds "").
 */
int fs_control_default_dir(char *buf, size_t len);

#endif
