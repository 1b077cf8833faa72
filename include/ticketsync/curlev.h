/*
 * curlev: libcurl's multi socket interface driven by a libevent loop (the model is
 * curl's hiperfifo.c, without its exit() calls). One CURLM per instance, so its
 * connection cache gives keep-alive and connection limits across all transfers. It
 * also holds the options every transfer of ours is set up with (curlev_easy_setup), so
 * the ExtraHop and ticket-system clients share one transport policy.
 *
 * Runs on the loop thread only; nothing here blocks. curl_global_init() is the
 * program's job (call it once in main, before any thread starts).
 *
 * Ownership of an easy handle: after a successful curlev_add, curlev owns it until the
 * done callback runs; the callback then owns it (it has been removed from the multi
 * handle) and must curl_easy_cleanup() it or hand it to curlev_add again. curlev uses
 * the handle's CURLOPT_PRIVATE slot; callers must not set or read it.
 */
#ifndef TICKETSYNC_CURLEV_H
#define TICKETSYNC_CURLEV_H

#include <bson/bson.h>
#include <curl/curl.h>
#include <stddef.h>

#include "ticketsync/error.h"

struct event_base;
typedef struct curlev curlev_t;

typedef struct curlev_opts {
	long max_total_connections; /* CURLMOPT_MAX_TOTAL_CONNECTIONS; 0 = no limit */
	long max_host_connections;  /* CURLMOPT_MAX_HOST_CONNECTIONS; 0 = no limit */
} curlev_opts_t;

/* Completion of one transfer: rc is the transfer's CURLcode (CURLE_OK even for an HTTP
 * error status; read CURLINFO_RESPONSE_CODE), or CURLE_ABORTED_BY_CALLBACK when it
 * was cancelled. Runs on the loop thread; may call curlev_add / curlev_cancel_all, but
 * never curlev_destroy. */
typedef void (*curlev_done_fn)(CURL *easy, CURLcode rc, void *arg);

/* Codes of curlev_new's and curlev_add's errors (domain ERROR_DOMAIN). */
enum curlev_error {
	CURLEV_ERR_ARG = ERROR_BASE_CURLEV, /* a NULL base, handle or callback */
	CURLEV_ERR_RESOURCE, /* the multi handle or its timer cannot be created */
	CURLEV_ERR_ADD,      /* libcurl refused the transfer (its reason in the message) */
};

/* opts may be NULL (no limits). Returns NULL with err set on failure. */
curlev_t *curlev_new(struct event_base *base, const curlev_opts_t *opts, bson_error_t *err);

/* Start a transfer. The callback runs exactly once, always later from the loop (never
 * inside this call). On failure returns -1 with err set, and the caller keeps easy. */
int curlev_add(curlev_t *cev, CURL *easy, curlev_done_fn cb, void *arg, bson_error_t *err);

/* Transfers added and not yet completed. */
size_t curlev_in_flight(const curlev_t *cev);

/* Complete every transfer in flight now with CURLE_ABORTED_BY_CALLBACK (shutdown when
 * the deadline passed). Transfers added by those callbacks keep running. */
void curlev_cancel_all(curlev_t *cev);

/* Cancels what is still in flight (callbacks run), then frees everything, including
 * the connection cache. NULL-safe. */
void curlev_destroy(curlev_t *cev);

/* A reply body, NUL-terminated, kept up to max bytes: the rest is read and dropped
 * (a write callback that refused it would fail the transfer). */
typedef struct curlev_body {
	char *data; /* NULL until something arrived */
	size_t len, max;
} curlev_body_t;
/* Free what was kept (max stays). */
void curlev_body_reset(curlev_body_t *b);

/* What every transfer of ticketsync's shares, ExtraHop's and the ticket systems': http
 * and https only, redirects not followed (they would carry credentials elsewhere), TLS
 * peer and host verification on, plain http pinned to HTTP/1.1, the timeouts and the
 * User-Agent; libcurl's words into errbuf (CURL_ERROR_SIZE, cleared here) and the body
 * into body, kept up to body_max bytes. */
typedef struct curlev_transfer_opts {
	const char *user_agent;
	const char *ca_file, *ca_path; /* NULL: the system's store */
	long connect_timeout_ms, request_timeout_ms;
} curlev_transfer_opts_t;
void curlev_easy_setup(CURL *easy, const char *url, const curlev_transfer_opts_t *o,
    char *errbuf, curlev_body_t *body, size_t body_max);

#endif
