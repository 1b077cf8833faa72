/*
 * Shared helpers for the libFuzzer targets in tests/fuzz/ (header only: each target
 * is one program).
 *
 * A target checks properties, not just "no crash": FUZZ_CHECK aborts with a message,
 * which libFuzzer reports as a crash and saves the input.
 */
#ifndef TICKETSYNC_FUZZ_COMMON_H
#define TICKETSYNC_FUZZ_COMMON_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                        \
	do {                                                                             \
		if (!(cond)) {                                                               \
			fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, \
			    #cond);                                                              \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			abort();                                                                 \
		}                                                                            \
	} while (0)

/*
 * The input as a BSON document. Inputs starting with '{' are MongoDB extended JSON
 * (so the committed seeds stay readable and mutations of them reach the parser as
 * well-formed documents); anything else is raw BSON whose outer frame (the length
 * prefix and the final NUL) is set to fit the input, as libmongoc's framing
 * guarantees, while the bytes inside are left as they are: documents reach the
 * parsers from libmongoc replies, which are not validated deeply, so corrupt
 * elements must be survived. *scratch gets a buffer to free after bson_destroy.
 * Returns false when the bytes make no document at all.
 */
static inline bool
fuzz_doc(const uint8_t *data, size_t size, bson_t *doc, uint8_t **scratch)
{
	bson_error_t err;
	uint8_t *buf;

	*scratch = NULL;
	if (size > 0 && data[0] == '{')
		return bson_init_from_json(doc, (const char *)data, (ssize_t)size, &err);
	if (size < 5 || size > 16 * 1024 * 1024)
		return false;
	buf = malloc(size);
	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	buf[0] = (uint8_t)(size & 0xff);
	buf[1] = (uint8_t)((size >> 8) & 0xff);
	buf[2] = (uint8_t)((size >> 16) & 0xff);
	buf[3] = (uint8_t)((size >> 24) & 0xff);
	buf[size - 1] = 0;
	if (!bson_init_static(doc, buf, size)) {
		free(buf);
		return false;
	}
	*scratch = buf;
	return true;
}

/* Whether s[0..len) is valid UTF-8 without NUL bytes. */
static inline bool
fuzz_utf8(const char *s, size_t len)
{
	return bson_utf8_validate(s, len, false);
}

/* A NUL-terminated copy of data[0..size) (NULs inside are kept: callers that want C
 * strings see the text up to the first one). */
static inline char *
fuzz_strdup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * A small reader for structured fuzzing: bytes are consumed from the front; when
 * they run out every read returns 0 / "", so any input is a valid program.
 */
typedef struct fuzz_reader {
	const uint8_t *p;
	size_t n;
} fuzz_reader_t;

static inline uint8_t
fuzz_u8(fuzz_reader_t *r)
{
	uint8_t v;

	if (r->n == 0)
		return 0;
	v = r->p[0];
	r->p++;
	r->n--;
	return v;
}

static inline uint32_t
fuzz_u32(fuzz_reader_t *r)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = (v << 8) | fuzz_u8(r);
	return v;
}

/* A string of up to maxlen bytes: a length byte, then the bytes (any values except
 * NUL, which would only shorten it). Returns a malloc'd, NUL-terminated string. */
static inline char *
fuzz_str(fuzz_reader_t *r, size_t maxlen)
{
	size_t len = fuzz_u8(r);
	char *s;
	size_t j = 0;

	/* A length byte above 200 means "long": stretch it so bounds get tested. */
	if (len > 200)
		len = (len - 200) * 16;
	if (len > maxlen)
		len = maxlen;
	if (len > r->n)
		len = r->n;
	s = malloc(len + 1);
	if (s == NULL)
		abort();
	for (size_t i = 0; i < len; i++) {
		if (r->p[i] != '\0')
			s[j++] = (char)r->p[i];
	}
	s[j] = '\0';
	r->p += len;
	r->n -= len;
	return s;
}

#endif
