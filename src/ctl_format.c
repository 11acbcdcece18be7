/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Answers of a capture as JSON (see ctl_format.h). The text forms are
 * the capture's own (capture.c, analyzer.c): "name value" lines for
 * stats; "PROTO A <> B name value ... [flag ...]" for flows and top.
 */
#define _GNU_SOURCE
#include "ctl_format.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WORDS_MAX 64

/* s as a JSON string */
static void jstr(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch > 0x7e)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

/* A JSON number: digits, at most one '.', nothing else (what the capture
 * writes for counters and seconds). */
static bool is_number(const char *s)
{
	bool dot = false;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s != '\0'; s++)
		if (*s == '.' && !dot)
			dot = true;
		else if (*s < '0' || *s > '9')
			return false;
	return s[-1] != '.';
}

static void jvalue(FILE *out, const char *s)
{
	if (is_number(s))
		fputs(s, out);
	else
		jstr(out, s);
}

/* Split line (changed in place) at blanks; returns the word count. */
static int split(char *line, char **w)
{
	int n = 0;

	for (char *tok = strtok(line, " \t"); tok != NULL && n < WORDS_MAX;
	     tok = strtok(NULL, " \t"))
		w[n++] = tok;
	return n;
}

static void stats_line(FILE *out, char *line, bool *first)
{
	char *w[WORDS_MAX];
	int n = split(line, w);

	if (n == 0)
		return;
	fputs(*first ? "" : ", ", out);
	*first = false;
	jstr(out, w[0]);
	fputs(": ", out);
	if (n == 2)
		jvalue(out, w[1]);
	else
		fputs("null", out);
}

/*
 * "PROTO A <> B name value ... flag ...": the endpoints, then each name
 * with the value after it, then bare words (triggered, closed) as true;
 * the flags a form knows are false when absent. An L2 flow ("l2 MAC <>
 * MAC type 0x0800") fits the same pattern.
 */
static void flow_line(FILE *out, char *line, bool *first,
		      const char *const *flags)
{
	char copy[4096], *w[WORDS_MAX];
	int n, i;

	snprintf(copy, sizeof(copy), "%s", line);
	n = split(line, w);
	if (n == 0)
		return;
	fputs(*first ? "" : ", ", out);
	*first = false;
	if (n < 4 || strcmp(w[2], "<>") != 0) {
		fputs("{\"line\": ", out);
		jstr(out, copy);
		fputc('}', out);
		return;
	}
	fputs("{\"proto\": ", out);
	jstr(out, w[0]);
	fputs(", \"a\": ", out);
	jstr(out, w[1]);
	fputs(", \"b\": ", out);
	jstr(out, w[3]);
	for (i = 4; i < n; i++) {
		bool flag = false;

		for (const char *const *f = flags; *f != NULL; f++)
			if (strcmp(w[i], *f) == 0)
				flag = true;
		fputs(", ", out);
		jstr(out, w[i]);
		if (flag || i + 1 == n) {
			fputs(": true", out);
			continue;
		}
		fputs(": ", out);
		jvalue(out, w[++i]);
	}
	for (const char *const *f = flags; *f != NULL; f++) {
		bool seen = false;

		for (i = 4; i < n; i++)
			if (strcmp(w[i], *f) == 0)
				seen = true;
		if (!seen) {
			fputs(", ", out);
			jstr(out, *f);
			fputs(": false", out);
		}
	}
	fputc('}', out);
}

int fs_ctl_json(const char *cmd, const char *text, size_t len, FILE *out)
{
	static const char *const flow_flags[] = { "triggered", "closed", NULL };
	static const char *const top_flags[] = { "triggered", NULL };
	bool stats = strcmp(cmd, "stats") == 0, first = true;
	const char *const *flags;
	const char *p = text, *end = text + len;

	if (stats)
		flags = NULL;
	else if (strcmp(cmd, "flows") == 0)
		flags = flow_flags;
	else if (strcmp(cmd, "top") == 0)
		flags = top_flags;
	else
		return -1;
	fputs(stats ? "{" : "[", out);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[4096];

		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		if (stats)
			stats_line(out, line, &first);
		else
			flow_line(out, line, &first, flags);
		p += n + (nl != NULL);
	}
	fputs(stats ? "}" : "]", out);
	return 0;
}

double fs_ctl_stat(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}
