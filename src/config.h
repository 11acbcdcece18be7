/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration of one capture: the key table of DESIGN §2, parsed from a
 * per-socket key = value file and from FLOWSCOPE_* environment variables.
 * Precedence: built-in default < config file < environment.
 */
#ifndef FS_CONFIG_H
#define FS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devname.h"

enum fs_mode {
	FS_MODE_LIVE = 0,	/* every packet as it arrives */
	FS_MODE_TRIGGER,	/* only triggered flows, history first */
};

/* Upper bound of caplen: a ring record stores the length in 16 bits. */
#define FS_CAPLEN_MAX 65535u

/* What the built-in generator sends (gen_profile). */
enum fs_gen_profile {
	FS_GEN_UNIFORM = 0,	/* equal UDP flows, one packet each in turn */
	FS_GEN_REALISTIC,	/* TCP and UDP connections, heavy-tailed sizes */
};

/* Largest VLAN id of source_vlans (12 bits of the tag). */
#define FS_VLAN_ID_MAX 4095u

/* source_vlans: the VLAN id pushed onto each source's packets, in the
 * order of the device name (0: none). n is how many the value gave;
 * whether that matches the device is checked when the capture opens. */
struct fs_vlans {
	uint32_t n;
	uint16_t id[FS_MAX_SOURCES];
};

/* One capture's settings. Strings are owned (malloc'd) or NULL. */
struct fs_config {
	enum fs_mode mode;
	char *trigger;		/* pcap-filter expression, NULL: none */
	uint64_t buffer;	/* QQ ring bytes */
	uint32_t caplen;	/* 0: the application's snaplen */
	uint32_t flow_timeout;	/* seconds */
	uint32_t max_flows;
	char *dump_dir;		/* NULL: no per-flow dumps */
	char *control;		/* NULL: default path */
	bool control_off;	/* control = off */
	char *eal;		/* extra EAL arguments, NULL: none */
	uint32_t rx_queues;
	uint32_t rx_slots;
	uint32_t rx_mbufs;	/* 0: sized from rx_queues and rx_slots */
	uint32_t gen_flows;
	uint64_t gen_rate;	/* packets/s, 0: unlimited */
	uint64_t gen_packets;	/* 0: unlimited */
	uint32_t gen_size;	/* frame bytes */
	enum fs_gen_profile gen_profile;
	char *source;		/* sources of a named capture, NULL: none */
	char *spool_dir;	/* NULL: no spool */
	uint64_t spool_size;	/* bytes of disk, at most */
	uint64_t cutoff;	/* history bytes per flow, 0: no bound */
	char *since, *until;	/* the window's ends as written, or NULL;
				 * resolved when the capture is activated */
	struct fs_vlans source_vlans;	/* n 0: no tags */
	char *share;		/* publish the ring under this name, or NULL */
	char *share_group;	/* Unix group that may attach too, or NULL */
	char *group;		/* attached readers' group id, or NULL */
	char *bus;		/* NATS server URL(s), or NULL: no bus */
	char *bus_subject;	/* NULL: FS_BUS_SUBJECT_DEFAULT */
	char *bus_creds;	/* NATS credentials file, or NULL */
	char *bus_ca;		/* CA file for tls://, or NULL */
	uint64_t given;		/* bit i: key i of the table was set */
};

/* Kinds of value a key takes; each has one parser in config.c. */
enum fs_key_type {
	FS_KEY_MODE,	/* live | trigger */
	FS_KEY_FILTER,	/* pcap-filter(7) expression, compiled to check it */
	FS_KEY_SIZE,	/* bytes, k/m/g suffixes (powers of 1024) */
	FS_KEY_UINT,	/* decimal integer within bounds */
	FS_KEY_RATE,	/* integer with k/m/g (powers of 1000), or "unlimited" */
	FS_KEY_DIR,	/* existing directory */
	FS_KEY_CONTROL,	/* absolute socket path or "off" */
	FS_KEY_EAL,	/* EAL arguments, split like sh; see eal_args.h */
	FS_KEY_SOURCES,	/* sources as in a device name: eth0:file=x.pcap */
	FS_KEY_VLANS,	/* comma-separated VLAN ids, one per source */
	FS_KEY_STRING,	/* free text */
	FS_KEY_TIME,	/* a time, absolute or before now (timewin.h) */
	FS_KEY_PROFILE,	/* uniform | realistic */
	FS_KEY_NAME,	/* 1..max bytes of [A-Za-z0-9._-], not led by '.' or '-' */
	FS_KEY_BUS,	/* nats://HOST[:PORT] or tls://..., comma-separated */
	FS_KEY_SUBJECT,	/* a NATS subject without wildcards */
	FS_KEY_FILE,	/* an existing file flowscope can read */
};

#define FS_BUS_SUBJECT_DEFAULT "flowscope.trigger"
#define FS_BUS_SUBJECT_MAX 128

/* One row of the key table: the parser, env lookup, docs and errors
 * all come from it. */
struct fs_config_key {
	const char *name;	/* as written in a config file */
	enum fs_key_type type;
	const char *def;	/* default, as text for docs */
	uint64_t min, max;	/* bounds for SIZE, UINT, RATE */
	size_t offset;		/* of the field in struct fs_config */
	const char *help;
};

/* The key table and its length. */
const struct fs_config_key *fs_config_keys(size_t *n);

/* Was key set (by a file or the environment) rather than left at its
 * default? false for unknown keys. */
bool fs_config_given(const struct fs_config *c, const char *key);

/* Set every field to its built-in default. Cannot fail. */
void fs_config_init(struct fs_config *c);

/* Free the strings held by c and reset it to defaults. */
void fs_config_release(struct fs_config *c);

/*
 * Parse value for key and store it in c.
 * where: how the user wrote it, put in front of the error text
 *        ("edge.conf:3" or "FLOWSCOPE_BUFFER"); may be NULL.
 * Returns 0, or -1 with err holding "WHERE: KEY: why" and c unchanged.
 */
int fs_config_set(struct fs_config *c, const char *key, const char *value,
		  const char *where, char *err, size_t errlen);

/*
 * Apply a key = value file ('#' starts a comment, blank lines ignored).
 * Anything but a regular file (a FIFO, a device, a directory) is refused
 * without reading it, so that opening never blocks. Returns 0, or -1
 * with err naming the file, the line and the key (or why the file could
 * not be read). On error c may hold the keys of earlier lines; callers
 * discard it.
 */
int fs_config_load_file(struct fs_config *c, const char *path,
			char *err, size_t errlen);

/*
 * Apply every FLOWSCOPE_<KEY> variable of envp (NULL-terminated, like
 * environ). FLOWSCOPE_CONFIG is not a key and is skipped; any other
 * unknown FLOWSCOPE_ variable is an error. Returns 0 or -1 with err.
 */
int fs_config_load_env(struct fs_config *c, char *const envp[],
		       char *err, size_t errlen);

/*
 * The whole precedence chain: defaults, then the file (path, or the
 * value of FLOWSCOPE_CONFIG in envp when path is NULL; none if both are
 * absent), then the environment. Returns 0 or -1 with err; on error c
 * is left at defaults. The same as fs_config_load_as with flags 0.
 */
int fs_config_load(struct fs_config *c, const char *path,
		   char *const envp[], char *err, size_t errlen);

/* Flags of fs_config_load_as. */
#define FS_CONFIG_SECURE (1U << 0)	/* a secure-execution process
					 * (getauxval(AT_SECURE)): see below */

/*
 * fs_config_load with flags. FS_CONFIG_SECURE is for a process that runs
 * with more privileges than whoever started it (setuid, setgid, file
 * capabilities): nothing comes from the environment (any FLOWSCOPE_
 * variable but flowscope-ctl's is an error, FLOWSCOPE_CONFIG included);
 * the config file must be a regular file owned by root, writable by
 * nobody else, in directories owned by root and writable by nobody else
 * (or sticky, as /tmp is),
 * and readable by the real user; and its eal key may not hold options
 * that load code or name files (eal_args.h). Returns 0 or -1 with err.
 */
int fs_config_load_as(struct fs_config *c, const char *path,
		      char *const envp[], unsigned flags, char *err,
		      size_t errlen);

/*
 * Split an EAL argument string on blanks, honouring '...' and "..."
 * quotes and backslash escapes. *argvp is a NULL-terminated malloc'd
 * array (free with fs_config_free_argv). Returns the count, or -1 with
 * err (unbalanced quote, out of memory).
 */
int fs_config_split_args(const char *s, char ***argvp, char *err, size_t errlen);
void fs_config_free_argv(char **argv);

#endif
