/*
 * xalloc: the program's out-of-memory policy, in one place. Running out of memory is
 * not an error ticketsync handles: every allocation of its own goes through these,
 * which abort with a message when the C library returns NULL (OpenSSH's xmalloc,
 * OpenBSD's fatal("calloc")). libbson already does the same for every BSON document
 * and string it allocates (bson_malloc aborts). So no caller checks for NULL and no
 * function reports "out of memory".
 *
 * What is not an allocation of ours stays an error of the function that asked: a
 * library object that cannot be created (event_new, curl_easy_init, evbuffer_new,
 * a thread) may fail for other reasons than memory. Free with free(). Any thread.
 */
#ifndef TICKETSYNC_XALLOC_H
#define TICKETSYNC_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
/* realloc of n * size bytes; aborts on overflow of the product too. */
void *xreallocarray(void *ptr, size_t n, size_t size);
char *xstrdup(const char *s);
/* Room for need elements of size bytes in *arr, whose capacity is *cap: the capacity
 * doubles (from 16) until it fits, so appending one at a time stays linear. */
void xgrow(void **arr, size_t *cap, size_t need, size_t size);
char *xstrndup(const char *s, size_t n);

#endif
