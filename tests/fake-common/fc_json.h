/*
 * fc_json: the few JSON chores every route of the fake shares: parse a request body
 * into a document (objects only), read integers whatever numeric type the JSON reader
 * chose, and write JSON replies and {"error_message": ...} bodies.
 */
#ifndef FC_JSON_H
#define FC_JSON_H

#include <bson/bson.h>
#include <event2/buffer.h>
#include <stdbool.h>
#include <stdint.h>

/* bson_error_t domain of this module's own messages (libbson's JSON reader uses its own). */
#define FC_JSON_ERROR_DOMAIN 1000

/* Parse body (len bytes, need not be NUL-terminated) as one JSON object into out
 * (initialised by the call, always destroy it). Returns 0, or -1 with a message. */
int fc_json_parse_object(const char *body, size_t len, bson_t *out, bson_error_t *error);

/* Parse any JSON value (object, array, string, number, true/false/null) by wrapping it as
 * {"v": value}; out holds that wrapper. Returns 0 or -1. */
int fc_json_parse_value(const char *body, size_t len, bson_t *out, bson_error_t *error);

/* Integral number (int32, int64 or a double without fraction) -> true. */
bool fc_json_int64(const bson_iter_t *it, int64_t *out);
/* Any number -> true. */
bool fc_json_double(const bson_iter_t *it, double *out);

/* A positive decimal id: "123" -> 1 and *id; digits too long to be an id, or 0 -> 0
 * (unknown); anything else -> -1. */
int fc_json_parse_id(const char *s, size_t n, int64_t *id);

/* Append doc as relaxed extended JSON (plain numbers) to out. */
void fc_json_add(struct evbuffer *out, const bson_t *doc);
/* Append {"error_message": msg} to out. */
void fc_json_add_error(struct evbuffer *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
