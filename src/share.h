/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One recording, many applications (DESIGN §7).
 *
 * A capture with share = NAME keeps its QQ ring in a sealed memfd
 * (ring.h) and listens on a UNIX socket named after NAME. A process that
 * opens flowscope:@NAME connects there; the publisher checks who it is
 * (SO_PEERCRED, SO_PEERGROUPS: the publishing user, root, or a member of
 * share_group), and passes the descriptor over the socket (SCM_RIGHTS).
 * The reader maps it read-only: the seals let no process but the
 * publisher write it, and keep it from shrinking (no SIGBUS). Nothing is
 * left in the file system but the socket, and nothing at all by a reader:
 * its mapping and its connection end with it, and the connection's end
 * tells the publisher to free its slot.
 *
 * Why a memfd rather than a file in /dev/shm or hugetlbfs: it has no
 * name anyone can open, squat or leave behind; who may read it is decided
 * once, when the descriptor is handed over, by the publisher; and the
 * seals make "read-only for readers" a property of the memory, not of
 * file modes a reader could change.
 *
 * The connection stays open: the reader reports what it delivered and
 * lost once a second (for `flowscope-ctl list`), and each side learns of
 * the other's end from it.
 *
 * Groups: readers that attach with the same group split the traffic by
 * flow. The publisher keeps the members in tables in the ring's header
 * (FS_SHARE_GENS generations); the generation in force is the ring's tag,
 * which every writer stamps into each chunk it starts and moves to a new
 * chunk for when it changes. So every member decides each record by the
 * same table: that of its chunk. Within a generation a flow belongs to
 * the member with the highest rendezvous score of its flow hash, so a
 * join moves about 1/n of the flows to the newcomer and a leave only the
 * leaver's flows.
 *
 * Protocol (one line each way, then reports):
 *   reader:    "attach 1 MODE GROUP PROGRAM\n"   (GROUP "-": none)
 *   publisher: "ok MEMBER PID PROGRAM\n" with the ring's descriptor (and
 *              its spool directory's, when it keeps one: since reaches
 *              into it), or
 *              "error: WHY\n" and the end of the connection
 *   reader:    "stats DELIVERED DROPPED\n" once a second
 */
#ifndef FS_SHARE_H
#define FS_SHARE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ring.h"

/* Where root's shares listen (others: NAME.share in their control
 * directory).
 * Not under FS_CTL_DIR: that one is root's private directory. */
#define FS_SHARE_DIR "/run/flowscope-share"
#define FS_SHARE_NAME_MAX 64
#define FS_SHARE_GROUP_MAX 32
#define FS_SHARE_READERS 64	/* attached at once */
#define FS_SHARE_GENS 16	/* group tables kept */

/* Is name a valid share NAME or group id ([A-Za-z0-9._-], 1..max)? */
bool fs_share_name_ok(const char *name, size_t max);

/* The socket path of share name for this process's user; 0 or -1
 * (ENAMETOOLONG). root_dir: FS_SHARE_DIR instead of the user's own. */
int fs_share_path(const char *name, bool root_dir, char *buf, size_t len);

/* ---- publisher ---- */

typedef struct fs_share fs_share;

/*
 * Publish ring (whose memfd is ring_fd; the share keeps its own copy of
 * the descriptor) as name. share_group: the group whose members may
 * attach, or NULL. spool_fd: the capture's spool directory (a copy is
 * kept and handed to readers), or -1.
 * Returns NULL with err (a name already published names its publisher).
 */
fs_share *fs_share_start(const char *name, const char *share_group,
			 fs_ring *ring, int ring_fd, int spool_fd, char *err,
			 size_t errlen);
/* Stop serving, close every reader's connection, remove the socket. */
void fs_share_stop(fs_share *s);
unsigned fs_share_readers(fs_share *s);
/* One line per attached reader: pid, program, mode, group, rate, drops. */
void fs_share_write_readers(fs_share *s, FILE *out, const char *indent);
/* Counters for stats: readers now, attached ever, refused, group moves. */
struct fs_share_stats {
	unsigned readers;
	uint64_t attached, refused, joins, leaves;
};
void fs_share_get_stats(fs_share *s, struct fs_share_stats *st);

/* ---- reader ---- */

struct fs_attach {
	fs_ring *ring;		/* mapped read-only */
	int sock;		/* to the publisher */
	int spool_fd;		/* its spool directory, or -1 */
	uint32_t member;	/* our id in the group tables */
	pid_t pub_pid;
	char pub_prog[32];
	char name[FS_SHARE_NAME_MAX + 1];
	char group[FS_SHARE_GROUP_MAX + 1];	/* "" none */
	/* the steering of the newest tag looked at */
	uint32_t tag;
	bool tag_ok;
	unsigned nmem;
	uint32_t mem[FS_SHARE_READERS];
};

/* Attach to name: connect, be admitted, map. Returns 0 or -1 with err
 * ("@NAME: ..."). */
int fs_share_attach(struct fs_attach *a, const char *name, const char *mode,
		    const char *group, char *err, size_t errlen);
/* Hang up (the publisher frees our slot). The ring stays mapped: it is
 * its capture's, which frees it with fs_ring_free() after its readers. */
void fs_share_detach(struct fs_attach *a);

/* Is a record of flow hash, in a chunk stamped tag, ours? Without a group
 * everything is. *unknown is set when tag's table was overwritten before
 * we looked (the record is then nobody's we can tell: not ours). */
bool fs_share_mine_slow(struct fs_attach *a, uint32_t tag, uint32_t hash,
			bool *unknown);
static inline bool fs_share_mine(struct fs_attach *a, uint32_t tag,
				 uint32_t hash, bool *unknown)
{
	return a->group[0] == '\0' ? true
		: fs_share_mine_slow(a, tag, hash, unknown);
}

#endif
