/*
 * webhook_http: the ticket intake endpoints on the daemon's HTTP listener (evhttp, loop
 * thread): POST /webhooks/jira, /webhooks/servicenow and /webhooks/generic.
 *
 * For each request, on the loop:
 *   1. a source without a secret is disabled: 404 (never open);
 *   2. anything but POST: 405; a body over [webhooks] max_body_bytes: 413 (evhttp
 *      refuses it from its Content-Length, without buffering it);
 *   3. authentication, before the body is even parsed: every credential presented must
 *      match and at least one must be there, else 401 and nothing is written or
 *      audited (an unauthenticated client must not be able to write to the database):
 *        Authorization: Bearer <secret>  or  X-Ticketsync-Token: <secret>  (all sources)
 *        X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>            (Jira)
 *        X-Ticketsync-Signature: sha256=<hex HMAC-SHA256 of the body>     (generic)
 *      Secrets are compared in constant time (CRYPTO_memcmp of SHA-256 digests, so the
 *      length does not leak either);
 *   4. webhook_parse: not JSON -> 400, not a usable ticket -> 422, another Jira event
 *      -> 200 "ignored"; each with a reason in a JSON body ({"error": ...}) and an
 *      audit record (written by the DB worker after the reply);
 *   5. a ticket: a job for the DB worker (intake_write + intake_audit); the reply is
 *      sent from the job's done() on the loop, after the write: 200 {"result":
 *      "accepted" | "stale" | "ignored", ...}, 422 when the server's validator refuses
 *      it, 503 with Retry-After when the database cannot be written or too many
 *      deliveries are waiting (the sender redelivers; redelivery is harmless).
 * The loop never blocks: parsing is in memory, MongoDB work is the DB worker's.
 */
#ifndef TICKETSYNC_WEBHOOK_HTTP_H
#define TICKETSYNC_WEBHOOK_HTTP_H

#include <bson/bson.h>

#include "ticketsync/config.h"
#include "ticketsync/dbworker.h"
#include "ticketsync/error.h"
#include "ticketsync/httpd.h"

typedef struct webhook_http webhook_http_t;

/* Codes of webhook_http_start's errors (domain ERROR_DOMAIN). */
enum webhook_http_error {
	WEBHOOK_HTTP_ERR_CRYPTO = ERROR_BASE_WEBHOOK_HTTP, /* OpenSSL cannot compute SHA-256 */
	WEBHOOK_HTTP_ERR_ROUTE,  /* evhttp refused a route (its path is already registered) */
};

/* Deliveries waiting for the DB worker before new ones get 503. */
#define WEBHOOK_HTTP_MAX_PENDING 256

/*
 * Register the three routes on httpd and set its body limit from cfg ([webhooks],
 * [mongodb] database); audit records name instance. Strings are copied. NULL with err
 * when SHA-256 is unavailable or a route cannot be registered.
 */
webhook_http_t *webhook_http_start(httpd_t *httpd, dbworker_t *db, const config_t *cfg,
    const char *instance, bson_error_t *err);

/*
 * Call before httpd_stop (loop thread). Deliveries still waiting for the DB worker
 * get no reply (evhttp closes their connections; senders redeliver), but their writes
 * complete: the object is freed when the last of them is done (in dbworker_stop at
 * the latest). NULL-safe.
 */
void webhook_http_free(webhook_http_t *w);

#endif
