/* tshttp: see tshttp.h. */
#include "tshttp.h"

#include <stdlib.h>
#include <string.h>

size_t
tshttp_collect(char *ptr, size_t size, size_t n, void *body)
{
	tshttp_body_t *b = body;
	size_t add = size * n;
	char *d = realloc(b->data, b->len + add + 1);

	if (d == NULL)
		return 0; /* libcurl fails the transfer */
	memcpy(d + b->len, ptr, add);
	b->len += add;
	d[b->len] = '\0';
	b->data = d;
	return add;
}
