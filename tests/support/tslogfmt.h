/*
 * tslogfmt: a strict logfmt reader for tests, written from the format's rules rather
 * than from our writer: pairs separated by single spaces, key = [A-Za-z0-9_]+, value
 * bare (no space, '"' or '=') or quoted with \" and \\ escapes. An optional leading
 * "<N>" (journald priority) is returned separately.
 */
#ifndef TICKETSYNC_TESTS_TSLOGFMT_H
#define TICKETSYNC_TESTS_TSLOGFMT_H

#include <stddef.h>

#define TSLOGFMT_MAX_PAIRS 16

typedef struct tslogfmt {
	int priority; /* -1: none */
	size_t n;
	char key[TSLOGFMT_MAX_PAIRS][32];
	char value[TSLOGFMT_MAX_PAIRS][4096];
} tslogfmt_t;

/* One line (without or with its '\n'): 0, or -1 with why (malformed at which byte). */
int tslogfmt_parse(const char *line, tslogfmt_t *out, char *why, size_t whylen);
/* The value of key, or NULL. */
const char *tslogfmt_get(const tslogfmt_t *l, const char *key);

#endif
