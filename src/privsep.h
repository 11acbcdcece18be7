/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a capture must still do with the privileges it was activated with,
 * after the application has dropped them (tcpdump turns into user tcpdump
 * right after pcap_activate()): create and reopen its dump files in
 * dump_dir, and remove its control socket when it ends. A capture
 * activated as root forks a tiny helper process for that; otherwise the
 * same calls act directly with the process's own credentials.
 *
 * The helper holds nothing but the dump directory, the spool directory
 * (creating, removing and renaming its segment and index files) and one socket pair to
 * its capture; it does only what is listed here, with checked names, and
 * ends when the capture closes or its process dies (removing the control
 * socket if it is still the one the capture bound).
 */
#ifndef FS_PRIVSEP_H
#define FS_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FS_PS_NAME_MAX 255	/* longest dump file name */
#define FS_PS_HDR_MAX 64	/* longest file header create writes */

typedef struct fs_privsep fs_privsep;

/*
 * Start the helper when the process runs with euid 0 (privileges it may
 * drop later) and there is something to serve: dirfd, the open dump
 * directory (-1: none), and/or ctl_path, the control socket's path (NULL:
 * none; the socket need not exist yet, see fs_privsep_control_bound).
 * *out is set to the helper, or to NULL when none is needed; the calls
 * below take NULL and then act directly. Returns 0, or -1 with err (the
 * socket pair or the fork failed).
 */
int fs_privsep_start(int dirfd, int spoolfd, const char *ctl_path,
		     fs_privsep **out, char *err, size_t errlen);

/*
 * The control socket now exists at ctl_path: the helper records which
 * file it is (device and inode) and removes that file, and only that
 * one, when it ends. Taken once; later calls change nothing. Call it
 * before the application gets control back. Returns 0 or -1 with errno.
 */
int fs_privsep_control_bound(fs_privsep *ps);

/* The control socket is no longer served: the helper removes it now if
 * it is still the file bound (the capture may lack the privileges), and
 * not again at the end. */
void fs_privsep_control_stopped(fs_privsep *ps);

/*
 * Create the dump file name in the dump directory: owner-only (0600),
 * never over an existing file or through a symlink, with hdr (at most
 * FS_PS_HDR_MAX bytes) written at its start; a file whose header cannot
 * be written is removed again. name must be what fs_privsep_name_ok()
 * accepts. Through the helper when ps is one, else in dirfd directly.
 * Returns a descriptor (write-only, close-on-exec) and the file's device
 * and inode in *dev, *ino, or -1 with errno: EEXIST when the name is
 * taken, EINVAL for a bad name, EPIPE when the helper is gone, others
 * from the system (ENOSPC, EACCES, EMFILE, ...).
 */
int fs_privsep_create(fs_privsep *ps, int dirfd, const char *name,
		      const void *hdr, size_t hdrlen, dev_t *dev, ino_t *ino);

/*
 * Open the dump file name again for appending. It must still be the
 * regular file created with device dev and inode ino (the helper also
 * checks that it created that file itself); nothing is created. Returns a
 * descriptor or -1 with errno: ESTALE when name is now another file (or
 * none was created), ENOENT when it was removed, EPIPE when the helper is
 * gone, others from the system.
 */
int fs_privsep_reopen(fs_privsep *ps, int dirfd, const char *name, dev_t dev,
		      ino_t ino);

/* The file dev/ino will not be reopened: the helper forgets it, so that
 * what it remembers stays bounded by the flows being dumped. */
void fs_privsep_forget(fs_privsep *ps, dev_t dev, ino_t ino);

/*
 * End the helper and wait for it: it removes the control socket if that
 * is still the file bound (see fs_privsep_control_bound), then exits; a
 * later capture of the process can therefore never lose a fresh socket
 * to an old helper. The helper is a child that signals nobody when it
 * ends (no SIGCHLD) and that wait(-1) does not reap. NULL is fine.
 */
void fs_privsep_stop(fs_privsep *ps);

/* Is name a dump file name the helper accepts: 1 to FS_PS_NAME_MAX bytes
 * of [A-Za-z0-9._-], not starting with '.', no "..", ending in ".pcap". */
bool fs_privsep_name_ok(const char *name);

/*
 * The spool's files, in spoolfd (the spool directory, given to
 * fs_privsep_start): names are seg-, 16 hex digits and .pcapng, .idx or
 * .idx.tmp (fs_privsep_spool_name_ok). create makes a new owner-only
 * file (never over an existing one or through a symlink; O_DIRECT when
 * direct) and returns a write-only descriptor; unlink removes one;
 * commit renames NAME.idx.tmp to NAME.idx; open gives a read-only
 * descriptor of a segment or index (never a .tmp), for a capture that
 * reads a triggered flow's history back. Through the helper when ps is
 * one, else directly. -1 with errno on failure (EINVAL for a bad name).
 */
bool fs_privsep_spool_name_ok(const char *name);
int fs_privsep_spool_create(fs_privsep *ps, int spoolfd, const char *name,
			    bool direct);
int fs_privsep_spool_open(fs_privsep *ps, int spoolfd, const char *name);
int fs_privsep_spool_unlink(fs_privsep *ps, int spoolfd, const char *name);
int fs_privsep_spool_commit(fs_privsep *ps, int spoolfd, const char *tmp);

#endif
