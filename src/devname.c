/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device names of DESIGN §1: flowscope[/CONFIG_FILE]:SOURCE[:SOURCE...].
 * Only the syntax is judged here; whether an interface, port or file exists
 * is found out when the capture starts.
 */
#define _GNU_SOURCE
#include "devname.h"

#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNTAX FS_DEVNAME_PREFIX "[/CONFIG_FILE]:SOURCE[:SOURCE...]"
#define SOURCES "IFNAME, dpdkN, file=PATH, spool=DIR, gen or @NAME"

/* The kernel's limit, without the NUL: a longer name can never exist. */
#define IFNAME_MAX (IF_NAMESIZE - 1)

#define PORT_MAX 65535u

/* Longer names and parts are shown cut, so that the reason of an error
 * still fits the application's error buffer (PCAP_ERRBUF_SIZE). */
#define SHOWN_MAX 48

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

bool fs_name_valid(const char *name, size_t n, size_t max)
{
	if (name == NULL || n == 0 || n > max || name[0] == '.' ||
	    name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		      ch == '-'))
			return false;
	}
	return true;
}

bool fs_devname_valid_name(const char *name)
{
	return name != NULL && fs_name_valid(name, strlen(name), FS_NAME_MAX);
}

bool fs_devname_is_ours(const char *device)
{
	size_t n = strlen(FS_DEVNAME_PREFIX);

	if (!device || strncmp(device, FS_DEVNAME_PREFIX, n) != 0)
		return false;
	if (device[n] == '-')
		return fs_devname_valid_name(device + n + 1);
	return device[n] == '\0' || device[n] == ':' || device[n] == '/';
}

const char *fs_devname_conf_dir(void)
{
	const char *d = secure_getenv("FLOWSCOPE_CONF_DIR");

	return d != NULL && d[0] == '/' ? d : FS_CONF_DIR;
}

static int parse_named(const char *device, struct fs_devname *out,
		       char *err, size_t errlen)
{
	const char *name = device + strlen(FS_DEVNAME_NAMED);
	const char *dir = fs_devname_conf_dir();
	size_t len = strlen(dir) + strlen(name) + 7;

	out->named = strdup(name);
	out->config_path = malloc(len);
	if (!out->named || !out->config_path) {
		fs_devname_release(out);
		return fail(err, errlen, "%s: out of memory", device);
	}
	snprintf(out->config_path, len, "%s/%s.conf", dir, name);
	return 0;
}

int fs_devname_set_sources(struct fs_devname *d, const char *sources,
			   char *err, size_t errlen)
{
	struct fs_devname tmp;
	char *full, *cfg;
	size_t len;
	int rc;

	if (!d || !d->named || d->nsources || !sources)
		return fail(err, errlen, "invalid argument");
	len = strlen(FS_DEVNAME_PREFIX) + strlen(sources) + 2;
	full = malloc(len);
	if (!full)
		return fail(err, errlen, "out of memory");
	snprintf(full, len, FS_DEVNAME_PREFIX ":%s", sources);
	rc = fs_devname_parse(full, &tmp, err, errlen);
	free(full);
	if (rc < 0)
		return -1;
	/* the sources move over; the name and config file stay */
	cfg = d->config_path;
	full = d->named;
	*d = tmp;
	d->config_path = cfg;
	d->named = full;
	return 0;
}

static bool all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool same_source(const struct fs_source_spec *a,
			const struct fs_source_spec *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case FS_SRC_IFACE:
	case FS_SRC_FILE:
	case FS_SRC_SPOOL:
	case FS_SRC_ATTACH:
		return strcmp(a->arg, b->arg) == 0;
	case FS_SRC_DPDK:
		return a->port == b->port;
	case FS_SRC_GEN:
	default:
		return true;
	}
}

/*
 * Classify the source tok (len bytes, not NUL-terminated) and append it to
 * d. "dpdk" followed by digits only is a port; anything else starting with
 * "dpdk" is an interface name, since Linux allows such names.
 */
static int parse_source(const char *device, const char *tok, size_t len,
			struct fs_devname *d, char *err, size_t errlen)
{
	struct fs_source_spec s = { .kind = FS_SRC_IFACE };
	int tl = len > SHOWN_MAX ? SHOWN_MAX : (int)len;	/* for %.*s */
	bool has_arg = false;

	if (len == 0)
		return fail(err, errlen,
			    "%s: empty source (sources are separated by ':')",
			    device);

	if (len == 3 && memcmp(tok, "gen", 3) == 0) {
		s.kind = FS_SRC_GEN;
	} else if (len >= 5 && memcmp(tok, "file=", 5) == 0) {
		if (len == 5)
			return fail(err, errlen,
				    "%s: 'file=' needs a path (file=PATH)",
				    device);
		s.kind = FS_SRC_FILE;
		has_arg = true;
	} else if (len >= 6 && memcmp(tok, "spool=", 6) == 0) {
		if (len == 6)
			return fail(err, errlen,
				    "%s: 'spool=' needs a directory (spool=DIR)",
				    device);
		s.kind = FS_SRC_SPOOL;
		has_arg = true;
	} else if (tok[0] == '@') {
		if (len == 1)
			return fail(err, errlen, "%s: '@' needs the name of a "
				    "published ring (@NAME, see share)", device);
		if (len - 1 > FS_NAME_MAX)
			return fail(err, errlen, "%s: '%.*s': a share name has "
				    "at most %d bytes", device, tl, tok,
				    FS_NAME_MAX);
		if (!fs_name_valid(tok + 1, len - 1, FS_NAME_MAX))
			return fail(err, errlen, "%s: '%.*s' is not a share "
				    "name (@NAME: letters, digits, '.', '_', "
				    "'-')", device, tl, tok);
		s.kind = FS_SRC_ATTACH;
		has_arg = true;
	} else if (len > 4 && memcmp(tok, "dpdk", 4) == 0 &&
		   all_digits(tok + 4, len - 4)) {
		unsigned long port = 0;

		/* Stop accumulating once too large, so no digit count
		 * can overflow. */
		for (size_t i = 4; i < len && port <= PORT_MAX; i++)
			port = port * 10 + (unsigned long)(tok[i] - '0');
		if (port > PORT_MAX)
			return fail(err, errlen,
				    "%s: '%.*s': DPDK port out of range "
				    "(dpdkN with N from 0 to %u)",
				    device, tl, tok, PORT_MAX);
		s.kind = FS_SRC_DPDK;
		s.port = (uint16_t)port;
	} else {
		if (memchr(tok, '=', len))
			return fail(err, errlen,
				    "%s: '%.*s' is not a source (" SOURCES ")",
				    device, tl, tok);
		if (len > IFNAME_MAX)
			return fail(err, errlen,
				    "%s: interface name '%.*s' is too long "
				    "(%zu bytes, at most %d)",
				    device, tl, tok, len, IFNAME_MAX);
		for (size_t i = 0; i < len; i++)
			if (tok[i] == '/' || tok[i] == ' ' || tok[i] == '\t' ||
			    tok[i] == '\n' || tok[i] == '\r' ||
			    tok[i] == '\v' || tok[i] == '\f')
				return fail(err, errlen,
					    "%s: '%.*s' is not a valid interface "
					    "name (no '/' or blanks)",
					    device, tl, tok);
		has_arg = true;
	}

	/* Checked before anything is allocated, so errors leak nothing. */
	if (d->nsources == FS_MAX_SOURCES)
		return fail(err, errlen, "%s: too many sources: '%.*s' is "
			    "source %zu, at most %d are taken", device, tl, tok,
			    d->nsources + 1, FS_MAX_SOURCES);
	if (has_arg) {
		const char *a = s.kind == FS_SRC_FILE ? tok + 5
			: s.kind == FS_SRC_SPOOL ? tok + 6
			: s.kind == FS_SRC_ATTACH ? tok + 1 : tok;

		s.arg = strndup(a, len - (size_t)(a - tok));
		if (!s.arg)
			return fail(err, errlen, "%s: out of memory", device);
	}
	for (size_t i = 0; i < d->nsources; i++)
		if (same_source(&d->sources[i], &s)) {
			free(s.arg);
			return fail(err, errlen, "%s: source '%.*s' is given twice",
				    device, tl, tok);
		}
	d->sources[d->nsources++] = s;
	return 0;
}

int fs_devname_parse(const char *device, struct fs_devname *out,
		     char *err, size_t errlen)
{
	const char *p, *name;
	char shown[SHOWN_MAX + 32];

	if (!out)
		return fail(err, errlen, "invalid argument");
	memset(out, 0, sizeof(*out));
	if (!device)
		return fail(err, errlen, "no device name");
	name = device;
	if (strlen(device) > SHOWN_MAX) {
		snprintf(shown, sizeof(shown), "%.*s... (%zu bytes)",
			 SHOWN_MAX - 8, device, strlen(device));
		name = shown;
	}
	if (!fs_devname_is_ours(device))
		return fail(err, errlen,
			    "%s: not a flowscope device (expected " SYNTAX
			    " or " FS_DEVNAME_NAMED "NAME)", name);
	p = device + strlen(FS_DEVNAME_PREFIX);
	if (*p == '-')
		return parse_named(device, out, err, errlen);

	if (*p == '/') {
		/* The path ends at the first ':', so it cannot hold one. */
		const char *colon = strchr(p + 1, ':');

		if (p[1] == '\0' || colon == p + 1)
			return fail(err, errlen,
				    "%s: empty config file path after '"
				    FS_DEVNAME_PREFIX "/' (expected " SYNTAX ")",
				    name);
		if (!colon)
			return fail(err, errlen,
				    "%s: no ':' after the config file path '%.*s' "
				    "(expected " SYNTAX ")", name, SHOWN_MAX, p + 1);
		out->config_path = strndup(p + 1, (size_t)(colon - p - 1));
		if (!out->config_path)
			return fail(err, errlen, "%s: out of memory", name);
		p = colon;
	}
	if (p[0] == '\0' || p[1] == '\0') {
		fail(err, errlen, "%s: no source (expected " SYNTAX
		     " with SOURCE one of " SOURCES ")", name);
		goto fail;
	}

	/* Sources are split on every ':', so a file= path cannot hold one
	 * either; that keeps "file=a.pcap:eth0" meaning two sources. */
	for (p++;;) {
		const char *end = strchr(p, ':');

		if (!end)
			end = p + strlen(p);
		if (parse_source(name, p, (size_t)(end - p), out,
				 err, errlen) < 0)
			goto fail;
		if (!*end)
			break;
		p = end + 1;
	}
	return 0;
fail:
	fs_devname_release(out);
	return -1;
}

void fs_devname_release(struct fs_devname *d)
{
	if (!d)
		return;
	free(d->config_path);
	free(d->named);
	for (size_t i = 0; i < d->nsources && i < FS_MAX_SOURCES; i++)
		free(d->sources[i].arg);
	memset(d, 0, sizeof(*d));
}

/* buf is used only for dpdkN; when it is too small the bare "dpdk" is
 * returned rather than a cut number that names another port. */
const char *fs_source_label(const struct fs_source_spec *s, char *buf,
			    size_t len)
{
	if (!s)
		return "?";
	switch (s->kind) {
	case FS_SRC_IFACE:
		return s->arg ? s->arg : "?";
	case FS_SRC_DPDK:
		if (!buf || len == 0 ||
		    (size_t)snprintf(buf, len, "dpdk%u", (unsigned)s->port) >= len)
			return "dpdk";
		return buf;
	case FS_SRC_FILE:
		return "file";
	case FS_SRC_SPOOL:
		return "spool";
	case FS_SRC_GEN:
		return "gen";
	case FS_SRC_ATTACH:
		if (!s->arg || !buf || len == 0 ||
		    (size_t)snprintf(buf, len, "@%s", s->arg) >= len)
			return "@";
		return buf;
	}
	return "?";
}
