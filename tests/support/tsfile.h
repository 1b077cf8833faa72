/*
 * tsfile: a whole file for a test (fixtures, docs, configuration copies). Free of
 * cmocka like the rest of tests/support: NULL on failure, the caller fails the test.
 */
#ifndef TICKETSYNC_TESTS_TSFILE_H
#define TICKETSYNC_TESTS_TSFILE_H

#include <stddef.h>

/* path's bytes, NUL-terminated (malloc'd; free()); *len (if len) without the NUL. */
char *tsfile_read(const char *path, size_t *len);
/* The same for a path relative to the source tree (e.g. "tests/fixtures/x.json"). */
char *tsfile_read_source(const char *rel, size_t *len);

#endif
