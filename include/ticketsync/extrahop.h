/*
 * extrahop: the ExtraHop REST client. Builds PATCH /api/v1/detections/{id} requests,
 * sends them through its own curlev (libcurl multi on the caller's libevent loop),
 * handles authentication (API key, or OAuth2 client credentials for RevealX 360) and
 * reports every response as a pushplan_reply_t, classified by pushplan_classify. What
 * the requests and replies look like is extrahop_api's (pure); this is the network.
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

#include "ticketsync/error.h"
#include "ticketsync/fields.h"
#include "ticketsync/pushplan.h"

struct event_base;
typedef struct extrahop extrahop_t;

/* Response bodies are kept up to this many bytes; the rest is read and dropped. */
#define EXTRAHOP_BODY_MAX (64 * 1024)

/* Codes of extrahop_new's and extrahop_patch_detection's errors (domain ERROR_DOMAIN). */
enum extrahop_error {
	EXTRAHOP_ERR_ARG = ERROR_BASE_EXTRAHOP, /* a NULL base, options, client, fields or
	                                         * callback: the caller's bug */
	EXTRAHOP_ERR_CONFIG,   /* the options are unusable (URL, API key, OAuth2 client,
	                        * auth kind, negative limits): fix the configuration */
	EXTRAHOP_ERR_RESOURCE, /* a libcurl or libevent object cannot be created */
	EXTRAHOP_ERR_CLOSING,  /* the client is shutting down: nothing more is accepted */
	EXTRAHOP_ERR_REQUEST,  /* this detection's PATCH cannot be built (bad id, empty mask,
	                        * a value JSON cannot carry): retrying will not help */
};

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

/* Runs exactly once per accepted request, on the loop, never inside the submitting call.
 * The result is only valid during the call. It may submit new requests or call
 * extrahop_cancel_all, but must not call extrahop_destroy (do that from the loop, e.g.
 * a zero timer, once the callback has returned). */
typedef void (*extrahop_done_fn)(const pushplan_reply_t *res, void *arg);

/* Returns NULL with err set when the options are unusable (bad URL, missing key...). */
extrahop_t *extrahop_new(struct event_base *base, const extrahop_opts_t *opts, bson_error_t *err);

/*
 * PATCH the fields named by mask onto detection id. Returns 0 when accepted (cb will
 * run), -1 with err set when not (bad arguments, bad id or empty mask, closing).
 * done_by_ms (wall clock; 0: no bound): the request must be over by then. It goes on
 * the wire only while now + request_timeout_ms <= done_by_ms (checked right before it
 * leaves, like the gate below), else it completes as cancelled with a message saying
 * so. The push engine passes the claim's expiry: a claim taken over after it expired
 * can then never race a request of the holder that crashed.
 */
int extrahop_patch_detection(extrahop_t *eh, int64_t detection_id, const fields_t *f,
    unsigned mask, int64_t done_by_ms, extrahop_done_fn cb, void *arg, bson_error_t *err);

/*
 * A PATCH still waiting to go on the wire when gate(arg) says no is not sent: it
 * completes as cancelled (CURLE_ABORTED_BY_CALLBACK). libcurl asks right before each
 * request leaves (CURLOPT_PREREQFUNCTION), so requests queued behind the connection
 * limit, or inside libcurl when the process froze (SIGSTOP, a paused VM), are never
 * sent once the lease has run out: sent late, they would overwrite what the new
 * active instance pushed since. NULL gate: always send. Loop thread.
 */
void extrahop_set_gate(extrahop_t *eh, bool (*gate)(const void *arg), const void *arg);

/* Requests accepted and not yet completed (sending, or waiting for a token). */
size_t extrahop_in_flight(const extrahop_t *eh);

/* Complete every request accepted so far with PUSHPLAN_RETRY / CURLE_ABORTED_BY_CALLBACK
 * ("cancelled"), synchronously. Requests the callbacks submit keep running. */
void extrahop_cancel_all(extrahop_t *eh);

/* Cancels everything (callbacks run; new submissions are refused from then on), frees
 * the client and its connections, and wipes the secrets. NULL-safe. Not from inside an
 * extrahop callback. */
void extrahop_destroy(extrahop_t *eh);

#endif
