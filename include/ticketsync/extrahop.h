/*
 * extrahop: the ExtraHop REST client. Builds PATCH /api/v1/detections/{id} and
 * POST /api/v1/detections/search requests, sends them through its own curlev (libcurl
 * multi on the caller's libevent loop), handles authentication (API key, or OAuth2
 * client credentials for RevealX 360) and reports every response as a pushplan_reply_t, classified by pushplan_classify. What
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
/* The default bound of a search reply (extrahop_opts_t.search_body_max): a page of
 * 20000 detections (the API's largest) of a few KiB each. A longer reply fails. */
#define EXTRAHOP_SEARCH_BODY_MAX ((size_t)64 * 1024 * 1024)

/* Codes of extrahop_new's, extrahop_patch_detection's and extrahop_search's errors
 * (domain ERROR_DOMAIN). */
enum extrahop_error {
	EXTRAHOP_ERR_ARG = ERROR_BASE_EXTRAHOP, /* a NULL base, options, client, fields or
	                                         * callback: the caller's bug */
	EXTRAHOP_ERR_CONFIG,   /* the options are unusable (URL, API key, OAuth2 client,
	                        * auth kind, negative limits): fix the configuration */
	EXTRAHOP_ERR_RESOURCE, /* a libcurl or libevent object cannot be created */
	EXTRAHOP_ERR_CLOSING,  /* the client is shutting down: nothing more is accepted */
	EXTRAHOP_ERR_REQUEST,  /* this detection's PATCH cannot be built (bad id, empty mask,
	                        * a value JSON cannot carry), or a search body is not a
	                        * JSON object: retrying will not help */
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
	size_t search_body_max;     /* longest search reply accepted, in bytes; default
	                             * EXTRAHOP_SEARCH_BODY_MAX */
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
 * What a search page came to: res as for a PATCH (classified by pushplan_classify; 2xx
 * is PUSHPLAN_OK), and on OK the reply's JSON array as a BSON document whose keys are
 * "0", "1", ... in reply order, each element as the server sent it (a detection
 * object; an id when the body asked for id_only); an empty array is an empty document.
 * detections is valid only during the call, and NULL unless res->outcome is OK.
 *
 * A 2xx reply that cannot be used becomes PUSHPLAN_RETRY with http_status kept and a
 * message saying what was wrong: not a JSON array ("the search reply is not a JSON
 * array (it starts "<html>...")"), not valid JSON, or longer than search_body_max
 * (then curl_code may be CURLE_FILESIZE_EXCEEDED: a reply announced as too long is cut
 * off early).
 *
 * Same rules as extrahop_done_fn: exactly once per accepted search, on the loop, never
 * inside the submitting call; may submit or cancel, never destroy.
 */
typedef void (*extrahop_search_fn)(const pushplan_reply_t *res, const bson_t *detections,
    void *arg);

/*
 * POST /api/v1/detections/search with body_json, the caller's JSON object (copied;
 * sent as given), e.g. {"mod_time": 1700000000000, "limit": 1000, "offset": 0, "sort":
 * [{"field": "mod_time", "direction": "asc"}]}. Same authentication, token handling
 * (waits for the OAuth2 token with the PATCHes, one resend after a 401), TLS rules,
 * timeouts and gate as PATCHes, no done_by bound. Returns 0 when accepted (cb will
 * run, later, on the loop), -1 with err set when not: bad arguments, a body that is
 * not one valid JSON object (EXTRAHOP_ERR_REQUEST), closing.
 */
int extrahop_search(extrahop_t *eh, const char *body_json, extrahop_search_fn cb, void *arg,
    bson_error_t *err);

/*
 * A request (PATCH or search) still waiting to go on the wire when gate(arg) says no
 * is not sent: it completes as cancelled (CURLE_ABORTED_BY_CALLBACK). libcurl asks right before each
 * request leaves (CURLOPT_PREREQFUNCTION), so requests queued behind the connection
 * limit, or inside libcurl when the process froze (SIGSTOP, a paused VM), are never
 * sent once the lease has run out: sent late, they would overwrite what the new
 * active instance pushed since. NULL gate: always send. Loop thread.
 */
void extrahop_set_gate(extrahop_t *eh, bool (*gate)(const void *arg), const void *arg);

/* Requests accepted and not yet completed (sending, or waiting for a token). */
size_t extrahop_in_flight(const extrahop_t *eh);

/* Complete every request (PATCH or search) accepted so far with PUSHPLAN_RETRY /
 * CURLE_ABORTED_BY_CALLBACK ("cancelled"), synchronously. Requests the callbacks submit keep running. */
void extrahop_cancel_all(extrahop_t *eh);

/* Cancels everything (callbacks run; new submissions are refused from then on), frees
 * the client and its connections, and wipes the secrets. NULL-safe. Not from inside an
 * extrahop callback. */
void extrahop_destroy(extrahop_t *eh);

#endif
