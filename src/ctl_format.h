/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowscope-ctl's output forms: a capture answers stats, flows and top
 * with text lines (control.h); these turn such an answer into JSON for
 * scripts, so that nobody has to parse prose.
 *
 *   stats  {"received": 123, "history_seconds": 0.5, ...}
 *   flows  [{"proto": "tcp", "a": "10.0.0.1:1234", "b": "10.0.0.2:80",
 *            "packets": 9, "bytes": 1200, "first": "2026-...Z",
 *            "last": "2026-...Z", "triggered": false, "closed": false}]
 *   top    [{"proto": ..., "a": ..., "b": ..., "bps": 8000, "pps": 10,
 *            "triggered": false}]
 *
 * Values that are numbers stay numbers; everything else is a string.
 */
#ifndef FS_CTL_FORMAT_H
#define FS_CTL_FORMAT_H

#include <stddef.h>
#include <stdio.h>

/* Write text (len bytes, the answer after "ok") of command cmd ("stats",
 * "flows" or "top") to out as one JSON document, no newline. Lines
 * of an unexpected form are kept whole as {"line": "..."}. Returns 0,
 * or -1 for a command without a JSON form. */
int fs_ctl_json(const char *cmd, const char *text, size_t len, FILE *out);

/* The value of "name value" line name in a stats answer, or -1. */
double fs_ctl_stat(const char *text, const char *name);

#endif
