/*
 * extrahop_api: ExtraHop's REST API as data, for the network client (extrahop.c) and
 * the tests: the detection and search URLs, the PATCH body, search bodies and replies,
 * the error message of an error reply,
 * OAuth2 token replies and when to refresh a token. Pure: no I/O.
 */
#ifndef TICKETSYNC_EXTRAHOP_API_H
#define TICKETSYNC_EXTRAHOP_API_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/error.h"
#include "ticketsync/fields.h"

/* Refresh an OAuth2 token this long before it expires (or at half its lifetime
 * when that is shorter than twice this). */
#define EXTRAHOP_API_TOKEN_REFRESH_MARGIN_S 60

/* "<base>/api/v1/detections/<id>", whether base ends in "/", "/api/v1" or neither.
 * NULL for a negative id or an empty base. Free with bson_free. */
char *extrahop_api_detection_url(const char *base_url, int64_t id);

/* "<base>/api/v1/detections/search", the same way. NULL for an empty base. */
char *extrahop_api_search_url(const char *base_url);

/* The PATCH body: a JSON object with exactly the masked fields, nulls as JSON null.
 * NULL when mask names no field. Free with bson_free. */
char *extrahop_api_patch_body(const fields_t *f, unsigned mask, size_t *len);

/* Copy the error body's "error_message" string into out (UTF-8 safe truncation, control
 * characters replaced by spaces). false when the body is not a JSON object carrying
 * one as a non-empty string. */
bool extrahop_api_error_message(const char *body, size_t len, char *out, size_t outlen);

/* Codes of extrahop_api_token_parse's errors (domain ERROR_DOMAIN). */
enum extrahop_api_error {
	EXTRAHOP_API_ERR_SYNTAX = ERROR_BASE_EXTRAHOP_API, /* the reply is not a JSON object
	                                                    * (a proxy's page, a wrong URL) */
	EXTRAHOP_API_ERR_TOKEN, /* JSON, but no usable Bearer token: access_token, token_type
	                         * or expires_in missing or refused */
};

typedef struct extrahop_api_token {
	char *access_token;  /* bson_malloc'd; free with extrahop_api_token_clear */
	int64_t expires_in_s; /* -1 when the reply did not say */
} extrahop_api_token_t;

/* Parse an OAuth2 token reply: access_token (non-empty, printable ASCII: it goes into a
 * header), token_type (must be "Bearer", any case), expires_in (optional; integer,
 * integral double or decimal string; must be > 0). Returns false with err set. */
bool extrahop_api_token_parse(const char *body, size_t len, extrahop_api_token_t *out, bson_error_t *err);
void extrahop_api_token_clear(extrahop_api_token_t *t);

/* A search request body: one valid JSON object (after JSON white space). false with
 * err (EXTRAHOP_API_ERR_SYNTAX) saying why. */
bool extrahop_api_search_body_ok(const char *json, size_t len, bson_error_t *err);

/* A search reply: its JSON array as a document keyed "0", "1", ... (empty for []),
 * to free with bson_destroy. NULL when the body is empty, not an array, or not valid
 * JSON, with msg saying so in words an operator can act on (reply text sanitized). */
bson_t *extrahop_api_search_reply(const char *body, size_t len, char *msg, size_t msglen);

/* Milliseconds after the fetch at which to refresh a token living expires_in_s seconds:
 * 60 s before expiry, or at half-life below 120 s; -1 (never) when unknown. */
int64_t extrahop_api_token_refresh_after_ms(int64_t expires_in_s);

/* prefix + text into out (outlen > 0), text sanitized as error messages are. */
void extrahop_api_join(char *out, size_t outlen, const char *prefix, const char *text);

#endif
