/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK's EAL inside someone else's process: started once, on the first
 * capture, with arguments that work without hugepages; it never prints,
 * exits or pins the application's threads.
 */
#ifndef FS_EAL_H
#define FS_EAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Start the EAL unless it runs already. user_args: the eal key (may be
 * NULL). A later call with different user_args fails, since the EAL of a
 * process cannot be restarted. Returns 0 or -1 with err.
 */
int fs_eal_start(const char *user_args, char *err, size_t errlen);

/* Was port probed by the EAL from its arguments (a dpdkN source)? */
bool fs_eal_port_is_probed(uint16_t port);

/* A fresh vdev name "<driver>_fs<pid>_<n>" for this process. */
void fs_eal_vdev_name(const char *driver, char *buf, size_t len);

/* The mbuf field and flag that carry a source's own timestamp (ns). */
int fs_eal_ts_offset(void);
uint64_t fs_eal_ts_flag(void);

/* The mbuf field (uint32_t) with the wire length of a packet whose stored
 * bytes were cut by its source (a file's snaplen); 0 when not set. */
int fs_eal_wirelen_offset(void);

/* The newest line DPDK logged (for error messages); "" if none. */
void fs_eal_last_log(char *buf, size_t len);

/* Serialise port creation and removal across captures of the process. */
void fs_eal_lock(void);
void fs_eal_unlock(void);

/* Run fn(arg) with every signal blocked, so threads it creates never take
 * the application's signals. Returns fn's value. */
int fs_eal_call_masked(int (*fn)(void *), void *arg);

#endif
