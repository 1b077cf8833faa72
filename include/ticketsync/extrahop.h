/*
 * extrahop: the ExtraHop REST client. Builds PATCH /api/v1/detections/{id} requests,
 * sends them through its own curlev (libcurl multi on the caller's libevent loop),
 * handles authentication (API key, or OAuth2 client credentials for RevealX 360) and
 * classifies every response into one outcome the caller can act on.
 *
 * Loop thread only; never blocks. curl_global_init() is the program's job. Used by
 * the daemon's pusher and by `ticketsyncctl backfill --push`.
 *
 * Security: TLS peer and host verification are always on (there is no insecure
 * switch); redirects are not followed (they would carry credentials elsewhere); only
 * http and https are allowed; keys, secrets and tokens are never logged.
 */
#ifndef TICKETSYNC_EXTRAHOP_H
#define TICKETSYNC_EXTRAHOP_H

#include <bson/bson.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/fields.h"

struct event_base;
typedef struct extrahop extrahop_t;

/* Response bodies are kept up to this many bytes; the rest is read and dropped. */
#define EXTRAHOP_BODY_MAX (64 * 1024)
/* Result messages, including the NUL. */
#define EXTRAHOP_MESSAGE_MAX 256
/* Refresh an OAuth2 token this long before it expires (or at half its lifetime
 * when that is shorter than twice this). */
#define EXTRAHOP_TOKEN_REFRESH_MARGIN_S 60

enum extrahop_auth {
	EXTRAHOP_AUTH_APIKEY = 0, /* Authorization: ExtraHop apikey=<KEY> */
	EXTRAHOP_AUTH_OAUTH2,     /* client credentials -> Authorization: Bearer <token> */
};

/*
 * Plain values, copied by extrahop_new (the caller may free its strings afterwards).
 * Unset numbers (0) take the defaults noted.
 */
typedef struct extrahop_opts {
	const char *base_url; /* "https://host", "https://host/", or ".../api/v1" */
	enum extrahop_auth auth;
	const char *api_key;       /* EXTRAHOP_AUTH_APIKEY */
	const char *client_id;     /* EXTRAHOP_AUTH_OAUTH2 */
	const char *client_secret; /* EXTRAHOP_AUTH_OAUTH2 */
	const char *token_url;     /* EXTRAHOP_AUTH_OAUTH2, e.g. https://t.api.cloud.extrahop.com/oauth2/token */
	const char *ca_file;       /* CURLOPT_CAINFO when set */
	const char *ca_path;       /* CURLOPT_CAPATH when set */
	const char *instance;      /* in the User-Agent: "ticketsync/<version> (<instance>)" */
	long connect_timeout_ms;   /* default 10000 */
	long request_timeout_ms;   /* whole transfer; default 30000 */
	long max_total_connections; /* default 16 */
	long max_host_connections;  /* default 8 */
	/* Clock for token lifetimes, in ms; NULL = CLOCK_MONOTONIC. Tests advance it. */
	int64_t (*now_ms)(void *clock_arg);
	void *clock_arg;
} extrahop_opts_t;

typedef enum extrahop_outcome {
	EXTRAHOP_OK = 0,   /* 2xx: applied */
	EXTRAHOP_RETRY,    /* 408, 425, 429, 5xx, other unexpected statuses, transport
	                    * errors, timeouts, cancellation: send again later */
	EXTRAHOP_REJECTED, /* other 4xx (400, 404, 409, 422...): park with the message */
	EXTRAHOP_AUTH,     /* 401/403 after one token refresh, or the token endpoint
	                    * refused us: a configuration error, not this detection's */
} extrahop_outcome_t;

typedef struct extrahop_result {
	extrahop_outcome_t outcome;
	long http_status;       /* 0 when no response was received */
	CURLcode curl_code;     /* CURLE_ABORTED_BY_CALLBACK when cancelled */
	int64_t retry_after_ms; /* Retry-After via backoff_retry_after_ms; -1 if none */
	int64_t elapsed_ms;     /* from submission (including any wait for a token) */
	char message[EXTRAHOP_MESSAGE_MAX]; /* "" on success; error_message, or curl's text */
} extrahop_result_t;

/* Runs exactly once per accepted request, on the loop, never inside the submitting call.
 * The result is only valid during the call. It may submit new requests or call
 * extrahop_cancel_all, but must not call extrahop_destroy (do that from the loop, e.g.
 * a zero timer, once the callback has returned). */
typedef void (*extrahop_done_fn)(const extrahop_result_t *res, void *arg);

/* Returns NULL with err set when the options are unusable (bad URL, missing key...). */
extrahop_t *extrahop_new(struct event_base *base, const extrahop_opts_t *opts, bson_error_t *err);

/* PATCH the fields named by mask onto detection id. Returns 0 when accepted (cb will
 * run), -1 with err set when not (bad id or empty mask, out of memory, closing). */
int extrahop_patch_detection(extrahop_t *eh, int64_t detection_id, const fields_t *f,
    unsigned mask, extrahop_done_fn cb, void *arg, bson_error_t *err);

/* Requests accepted and not yet completed (sending, or waiting for a token). */
size_t extrahop_in_flight(const extrahop_t *eh);

/* Complete every request accepted so far with EXTRAHOP_RETRY / CURLE_ABORTED_BY_CALLBACK
 * ("cancelled"), synchronously. Requests the callbacks submit keep running. */
void extrahop_cancel_all(extrahop_t *eh);

/* Cancels everything (callbacks run; new submissions are refused from then on), frees
 * the client and its connections, and wipes the secrets. NULL-safe. Not from inside an
 * extrahop callback. */
void extrahop_destroy(extrahop_t *eh);

/* ---- Pure helpers (no I/O), exposed for tests and for ticketsyncctl. ---- */

/* (http_status, transport result) -> outcome, without the OAuth2 refresh rule:
 * any transport error is RETRY; 401/403 are AUTH. */
extrahop_outcome_t extrahop_classify(long http_status, CURLcode rc);
const char *extrahop_outcome_name(extrahop_outcome_t o); /* "ok", "retry", ... */

/* "<base>/api/v1/detections/<id>", whether base ends in "/", "/api/v1" or neither.
 * NULL for a negative id or an empty base. Free with bson_free. */
char *extrahop_detection_url(const char *base_url, int64_t id);

/* The PATCH body: a JSON object with exactly the masked fields, nulls as JSON null.
 * NULL when mask names no field. Free with bson_free. */
char *extrahop_patch_body(const fields_t *f, unsigned mask, size_t *len);

/* Copy the error body's "error_message" string into out (UTF-8 safe truncation, control
 * characters replaced by spaces). false when the body is not a JSON object carrying
 * one as a non-empty string. */
bool extrahop_error_message(const char *body, size_t len, char *out, size_t outlen);

typedef struct extrahop_token {
	char *access_token;  /* bson_malloc'd; free with extrahop_token_clear */
	int64_t expires_in_s; /* -1 when the reply did not say */
} extrahop_token_t;

/* Parse an OAuth2 token reply: access_token (non-empty, printable ASCII: it goes into a
 * header), token_type (must be "Bearer", any case), expires_in (optional; integer,
 * integral double or decimal string; must be > 0). Returns false with err set. */
bool extrahop_token_parse(const char *body, size_t len, extrahop_token_t *out, bson_error_t *err);
void extrahop_token_clear(extrahop_token_t *t);

/* Milliseconds after the fetch at which to refresh a token living expires_in_s seconds:
 * 60 s before expiry, or at half-life below 120 s; -1 (never) when unknown. */
int64_t extrahop_token_refresh_after_ms(int64_t expires_in_s);

#endif
