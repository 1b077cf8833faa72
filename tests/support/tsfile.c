/* tsfile: whole files for tests; see tsfile.h. */
#include "tsfile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "tsproc.h"

char *
tsfile_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto cleanup;
	buf = calloc(1, (size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf != NULL && len != NULL)
		*len = (size_t)n;
cleanup:
	fclose(f);
	return buf;
}

char *
tsfile_read_source(const char *rel, size_t *len)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", tsproc_source_dir(), rel) >=
	    (int)sizeof(path))
		return NULL;
	return tsfile_read(path, len);
}
