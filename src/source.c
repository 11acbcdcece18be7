/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one interface of sources (source.h): each call goes to the backend
 * of the source's kind, packet socket rings for kernel interfaces
 * (source_tpacket.c), DPDK ports for everything else (source_dpdk.c).
 */
#define _GNU_SOURCE
#include "source.h"

#include <signal.h>

bool fs_source_needs_eal(enum fs_source_kind kind)
{
	return kind != FS_SRC_IFACE && kind != FS_SRC_SPOOL &&
		kind != FS_SRC_ATTACH;
}

int fs_source_open(struct fs_source *src, const struct fs_config *cfg,
		   const struct fs_source_params *p, char *err, size_t errlen)
{
	if (src->spec.kind == FS_SRC_IFACE)
		return fs_tpacket_open(src, cfg, p, err, errlen);
	if (src->spec.kind == FS_SRC_SPOOL)
		return fs_spoolsrc_open(src, cfg, err, errlen);
	if (src->spec.kind == FS_SRC_ATTACH)
		return fs_attachsrc_open(src, err, errlen);
	return fs_dpdk_open(src, cfg, p, err, errlen);
}

int fs_source_start(struct fs_source *src, const struct fs_sink *sink,
		    char *err, size_t errlen)
{
	if (src->spec.kind == FS_SRC_IFACE)
		return fs_tpacket_start(src, sink, err, errlen);
	if (src->spec.kind == FS_SRC_SPOOL)
		return fs_spoolsrc_start(src, sink, err, errlen);
	if (src->spec.kind == FS_SRC_ATTACH)
		return fs_attachsrc_start(src, sink, err, errlen);
	return fs_dpdk_start(src, sink, err, errlen);
}

void fs_source_close(struct fs_source *src)
{
	if (src->spec.kind == FS_SRC_IFACE)
		fs_tpacket_close(src);
	else if (src->spec.kind == FS_SRC_SPOOL)
		fs_spoolsrc_close(src);
	else if (src->spec.kind == FS_SRC_ATTACH)
		fs_attachsrc_close(src);
	else
		fs_dpdk_close(src);
}

uint64_t fs_source_ifdrop(struct fs_source *src)
{
	if (src->spec.kind == FS_SRC_IFACE)
		return fs_tpacket_ifdrop(src);
	if (src->spec.kind == FS_SRC_SPOOL || src->spec.kind == FS_SRC_ATTACH)
		return 0;
	return fs_dpdk_ifdrop(src);
}

unsigned fs_source_tstamp_types(const struct fs_source_spec *spec)
{
	switch (spec->kind) {
	case FS_SRC_IFACE:
		return fs_tpacket_tstamp_types(spec->arg);
	case FS_SRC_DPDK:
		return fs_dpdk_tstamp_types(spec->port);
	case FS_SRC_FILE:	/* the file's own, or the feeder's clock */
	case FS_SRC_SPOOL:	/* what the spool recorded */
	case FS_SRC_GEN:
	case FS_SRC_ATTACH:	/* the publisher's */
		break;
	}
	return FS_TSTAMP_BIT(FS_TSTAMP_HOST);
}
