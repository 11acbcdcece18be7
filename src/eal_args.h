/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which EAL arguments a capture may pass to DPDK. Some options end the
 * process inside rte_eal_init() (help), or attach it to another DPDK
 * process and leave files behind (secondary processes); those are never
 * passed on. A secure-execution process (setuid, setgid or file
 * capabilities) also never passes options that load code or name files
 * and directories. The arguments are read the way DPDK's getopt_long
 * reads them: bundled short options, attached or separate option
 * arguments, unique prefixes of long options, and "--" ending options.
 * No DPDK here, so the unit tests and the config parser can use it.
 */
#ifndef FS_EAL_ARGS_H
#define FS_EAL_ARGS_H

#include <stddef.h>

/* Flags of fs_eal_args_check. */
#define FS_EAL_ARGS_SECURE (1U << 0)	/* the caller may not be trusted */

/*
 * Check argv (NULL-terminated, without a program name). Returns 0, or
 * -1 with err naming the first refused option and why it is refused.
 */
int fs_eal_args_check(char *const argv[], unsigned flags, char *err,
		      size_t errlen);

#endif
