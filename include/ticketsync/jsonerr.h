/*
 * jsonerr: libbson's JSON parse errors ("Got parse error at \"'\", position 1:
 * \"SPECIAL_EXPECTED\"") in words a person sending us JSON can act on: where (line,
 * column), what was wrong or expected, and the text around it. Pure.
 */
#ifndef TICKETSYNC_JSONERR_H
#define TICKETSYNC_JSONERR_H

#include <stddef.h>

/* Longest explanation, with the NUL. */
#define JSONERR_MAX 256

/* json (len bytes) failed bson_init_from_json with message libbson_msg; writes e.g.
 * "line 1, column 2: expected a value (a string in double quotes, a number, an
 * object, an array, true, false or null) near \"{'a': 1}\"" into out. A message of
 * another shape is passed on, sanitized. */
void jsonerr_explain(const char *json, size_t len, const char *libbson_msg, char *out,
    size_t outlen);

#endif
