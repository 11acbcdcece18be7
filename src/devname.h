/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device names of DESIGN §1: flowscope[/CONFIG_FILE]:SOURCE[:SOURCE...].
 * Parsing only; whether an interface or port exists is checked when the
 * capture starts.
 */
#ifndef FS_DEVNAME_H
#define FS_DEVNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_DEVNAME_PREFIX "flowscope"
#define FS_MAX_SOURCES 16

/* Named captures, "flowscope-NAME": a name without ':' or '/', for
 * programs that split device names themselves (softflowd's idx:name,
 * argus's name/id). Their config file is FS_CONF_DIR/NAME.conf, whose
 * source key gives the sources. FLOWSCOPE_CONF_DIR names another
 * directory, except in privileged programs. */
#define FS_DEVNAME_NAMED FS_DEVNAME_PREFIX "-"
#define FS_CONF_DIR "/etc/flowscope"
#define FS_NAME_MAX 64

enum fs_source_kind {
	FS_SRC_IFACE,	/* kernel interface through a packet socket ring */
	FS_SRC_DPDK,	/* dpdkN: ethdev port N probed by the EAL */
	FS_SRC_FILE,	/* file=PATH: pcap/pcapng replay */
	FS_SRC_SPOOL,	/* spool=DIR: the history a spool keeps */
	FS_SRC_GEN,	/* gen: built-in generator */
	FS_SRC_ATTACH,	/* @NAME: the ring another process publishes */
};

struct fs_source_spec {
	enum fs_source_kind kind;
	char *arg;		/* IFACE: interface name; FILE, SPOOL: path;
				 * ATTACH: NAME; else NULL */
	uint16_t port;		/* DPDK: port number */
};

struct fs_devname {
	char *config_path;	/* NULL when the name gives none */
	char *named;		/* NAME of flowscope-NAME (no sources yet), or
				 * NULL */
	size_t nsources;
	struct fs_source_spec sources[FS_MAX_SOURCES];
};

/* True when device belongs to flowscope ("flowscope:" or "flowscope/"
 * prefix, exactly "flowscope", or "flowscope-" and a valid name); every
 * other name is stock libpcap's. */
bool fs_devname_is_ours(const char *device);

/*
 * Parse device into out (zeroed first). Rules: at least one source;
 * no empty source; IFNAME 1..15 bytes without '/', '=' or blanks;
 * dpdkN with N a decimal 0..65535 without sign or leading junk; file=
 * with a non-empty path; gen; no source given twice; at most
 * FS_MAX_SOURCES; "flowscope/" must be followed by a non-empty path.
 * Returns 0, or -1 with err saying what is wrong and where; out holds
 * nothing to release on error.
 */
int fs_devname_parse(const char *device, struct fs_devname *out,
		     char *err, size_t errlen);

/* The directory of named captures' config files: FLOWSCOPE_CONF_DIR
 * when absolute and the program is not privileged (secure_getenv),
 * else FS_CONF_DIR. */
const char *fs_devname_conf_dir(void);

/* Is name (of flowscope-NAME) a valid capture name: 1..FS_NAME_MAX of
 * letters, digits, '_', '.' and '-', not starting with '.' or '-'? */
bool fs_devname_valid_name(const char *name);
/* The same rule for n bytes at name and at most max of them (share
 * names, group ids: config.c, share.c). */
bool fs_name_valid(const char *name, size_t n, size_t max);

/*
 * The sources of named capture d (parsed with fs_devname_parse, named
 * set) from the value of its source key, written as after
 * "flowscope:" ("eth0:eth1"). Returns 0, or -1 with err.
 */
int fs_devname_set_sources(struct fs_devname *d, const char *sources,
			   char *err, size_t errlen);

/* Free what fs_devname_parse allocated. */
void fs_devname_release(struct fs_devname *d);

/* A short name for a source, for messages and socket names
 * ("eth0", "dpdk0", "file", "gen"). */
const char *fs_source_label(const struct fs_source_spec *s, char *buf, size_t len);

#endif
