/*
 * tshttp: the one libcurl body collector of the test programs and the benchmark
 * (control APIs, health and metrics, webhook replies).
 */
#ifndef TICKETSYNC_TESTS_TSHTTP_H
#define TICKETSYNC_TESTS_TSHTTP_H

#include <stddef.h>

typedef struct tshttp_body {
	char *data; /* NUL-terminated once anything arrived; NULL before; free() it */
	size_t len;
} tshttp_body_t;

/* CURLOPT_WRITEFUNCTION with CURLOPT_WRITEDATA a tshttp_body_t: appends. */
size_t tshttp_collect(char *ptr, size_t size, size_t n, void *body);

#endif
