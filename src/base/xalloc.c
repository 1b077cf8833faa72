/* xalloc: allocation that aborts on failure; see xalloc.h. */
#include "ticketsync/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void __attribute__((noreturn))
xalloc_fatal(const char *what, size_t size)
{
	/* No logging module here: it might need memory; stderr is what the logs use. */
	fprintf(stderr, "level=fatal msg=\"%s of %zu bytes failed: out of memory\"\n", what,
	    size);
	abort();
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size == 0 ? 1 : size);

	if (p == NULL)
		xalloc_fatal("malloc", size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		xalloc_fatal("calloc", n * size);
	return p;
}

void *
xreallocarray(void *ptr, size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		xalloc_fatal("reallocarray (overflow)", SIZE_MAX);
	p = realloc(ptr, n * size == 0 ? 1 : n * size);
	if (p == NULL)
		xalloc_fatal("realloc", n * size);
	return p;
}

void
xgrow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t c;

	if (need <= *cap)
		return;
	c = *cap ? *cap : 16;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			xalloc_fatal("grow (overflow)", SIZE_MAX);
		c *= 2;
	}
	*arr = xreallocarray(*arr, c, size);
	*cap = c;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
