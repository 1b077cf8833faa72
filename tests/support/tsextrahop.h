/*
 * tsextrahop: start the fake ExtraHop REST API (tests/fake-extrahop) for one test and
 * talk to it: its control API (/_fake/...) for arranging detections and faults and for
 * reading what it was sent, and plain HTTP(S) calls through libcurl with the run's CA.
 * Built on tsproc, so the fake dies with the test whatever happens.
 */
#ifndef TICKETSYNC_TESTS_TSEXTRAHOP_H
#define TICKETSYNC_TESTS_TSEXTRAHOP_H

#include <bson/bson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "tsproc.h"

typedef struct tsextrahop_opts {
	const char *api_key;        /* "ExtraHop apikey=" key; NULL: none */
	const char *client_id;      /* OAuth2 client credentials; NULL: OAuth2 off */
	const char *client_secret;
	int token_ttl;              /* seconds; 0: the fake's default (3600) */
	long detections_count;      /* synthesize ids 1..N */
	const char *detections_file;
	bool auto_create;           /* unknown ids are synthesized instead of 404 */
	bool tls;                   /* HTTPS listener too; base_url becomes https:// */
	int latency_ms;             /* added to every API request */
	long record_limit;          /* 0: the fake's default (100000); -1: counters only */
	bool require_ticket_id;
	bool log_requests;
	unsigned long seed;         /* fault randomness; 0: the fake picks one */
	const char *const *extra_args; /* NULL-terminated extra flags, e.g. "--fault", json */
	const char *stderr_path;    /* NULL: the fake logs to the test's stderr */
} tsextrahop_opts_t;

typedef struct tsextrahop {
	tsproc_t proc;
	int http_port, https_port;
	char base_url[128];    /* for the service: https://127.0.0.1:P with tls, else http */
	char http_url[128];    /* always there */
	char https_url[128];   /* "" without tls */
	char control_url[160]; /* http://127.0.0.1:P/_fake */
	char ca_file[PATH_MAX]; /* "" without tls */
	char tls_dir[PATH_MAX];
	char error[512];       /* why the last helper call failed */
} tsextrahop_t;

typedef struct tsextrahop_response {
	long status;           /* 0: no HTTP reply */
	int curl_code;         /* CURLcode of the transfer */
	char *body;            /* NUL-terminated (maybe ""); tsextrahop_response_free */
	size_t body_len;
	char retry_after[32];  /* Retry-After header, "" if absent */
	char content_type[128];
	double seconds;        /* total time of the transfer */
	char *headers;         /* every reply header line, "Name: value\n" each; NULL if none */
} tsextrahop_response_t;

/* opts may be NULL (open auth, plain HTTP). 0, or -1 with a message in err. */
int tsextrahop_start(tsextrahop_t *t, const tsextrahop_opts_t *opts, char *err,
    size_t errlen);
/* SIGTERM and wait; returns the wait status (0 = clean exit, no leaks under ASan), or
 * -1 if it had to be killed. Removes the TLS directory. Safe on a stopped fake. */
int tsextrahop_stop(tsextrahop_t *t);

/*
 * One HTTP call. url: absolute, or a path appended to base_url. headers: NULL-
 * terminated "Name: value" list or NULL. body: sent as is (NULL: none). With an https
 * URL the run's CA file is used and verification stays on. Returns 0 when an HTTP reply
 * arrived, -1 otherwise (resp->curl_code says why). resp is always filled.
 */
int tsextrahop_http(tsextrahop_t *t, const char *method, const char *url,
    const char *const *headers, const char *body, tsextrahop_response_t *resp);
/* The same call for any HTTP server (another fake): base_url prefixes relative urls,
 * ca_file (NULL or "": none) verifies https, err (errlen bytes) says why it failed. */
int tsextrahop_http_at(const char *base_url, const char *ca_file, char *err, size_t errlen,
    const char *method, const char *url, const char *const *headers, const char *body,
    tsextrahop_response_t *resp);
/* A call to a fake's control API (control_url + path) expecting status want; the JSON
 * reply into out (if given, always initialised). 0, or -1 with err. Shared by the
 * fakes' harnesses. */
int tsextrahop_control_at(const char *control_url, char *err, size_t errlen, const char *method,
    const char *path, const char *body, long want, bson_t *out);
/* Value of reply header name (case-insensitive, the last one) into out; false if absent. */
bool tsextrahop_response_header(const tsextrahop_response_t *resp, const char *name,
    char *out, size_t outlen);
void tsextrahop_response_free(tsextrahop_response_t *resp);
/* Parse resp->body as a JSON object into out (always initialised). 0 or -1. */
int tsextrahop_response_json(const tsextrahop_response_t *resp, bson_t *out);

/* Control API. Each returns 0 on the expected status, else -1 with t->error set. */
int tsextrahop_add_detection(tsextrahop_t *t, int64_t id, const char *json);
int tsextrahop_add_detections(tsextrahop_t *t, const char *json_array);
/* out always initialised; -1 (and an empty out) if unknown. */
int tsextrahop_get_detection(tsextrahop_t *t, int64_t id, bson_t *out);
/* The whole reply {requests: [...], last_seq, dropped}; out always initialised. */
int tsextrahop_requests(tsextrahop_t *t, int64_t since, bson_t *out);
/* Add a rule (or an array of rules); returns the (first) rule id, or -1. */
int64_t tsextrahop_set_fault(tsextrahop_t *t, const char *json);
int tsextrahop_clear_faults(tsextrahop_t *t);
/* Forget recorded requests and zero counters. */
int tsextrahop_reset(tsextrahop_t *t);
int tsextrahop_stats(tsextrahop_t *t, bson_t *out);
int tsextrahop_revoke_tokens(tsextrahop_t *t);
/* PUT /_fake/settings with a JSON object (auto_create, ticket_tracking, ...). */
int tsextrahop_settings(tsextrahop_t *t, const char *json);
/* Test-only: objects (JSON array, or one object) that search returns verbatim, for
 * malformed detections (POST /_fake/raw_search_records; see the fake's README). */
int tsextrahop_add_raw_search_records(tsextrahop_t *t, const char *json_array);

/* Small readers for replies: value of an integer field (dotted path), or dflt. */
int64_t tsextrahop_int(const bson_t *doc, const char *dotted, int64_t dflt);
/* String field or NULL (absent, null or not a string); points into doc. */
const char *tsextrahop_str(const bson_t *doc, const char *dotted);

#endif
