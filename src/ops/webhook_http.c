/* webhook_http: ticket intake endpoints on the loop; see webhook_http.h. */
#include "ticketsync/webhook_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ticketsync/audit.h"
#include "ticketsync/clock.h"
#include "ticketsync/intake.h"
#include "ticketsync/log.h"
#include "ticketsync/orphan.h"
#include "ticketsync/metrics.h"
#include "ticketsync/store.h"
#include "ticketsync/text.h"
#include "ticketsync/timefmt.h"
#include "ticketsync/webhook.h"
#include "ticketsync/xalloc.h"

#define WEBHOOK_HTTP_DIGEST_LEN 32 /* SHA-256 */
#define WEBHOOK_HTTP_WHY_MAX 512
/* Seconds a sender is asked to wait when the database is unavailable or busy. */
#define WEBHOOK_HTTP_RETRY_AFTER "5"
/* Unauthenticated requests are logged at most this often (ms), with a count. */
#define WEBHOOK_HTTP_DENY_LOG_MS 60000

struct webhook_http_route {
	webhook_http_t *w;
	enum webhook_source src;
	bool enabled;
	char *secret; /* NULL when disabled; wiped on free */
	size_t secret_len;
	unsigned char digest[WEBHOOK_HTTP_DIGEST_LEN]; /* SHA-256 of the secret */
	char path[32];
};

typedef struct webhook_http_job webhook_http_job_t;

struct webhook_http {
	httpd_t *httpd;
	dbworker_t *db;
	char *database;
	char *instance;
	char *jira_field, *label_prefix, *snow_field;
	webhook_opts_t parse;
	size_t max_body;
	struct webhook_http_route routes[WEBHOOK_SOURCE_COUNT];
	size_t pending;        /* jobs submitted and not yet done */
	webhook_http_job_t *waiting; /* jobs whose request still waits for its reply */
	bool closed;           /* webhook_http_free was called */
	int64_t deny_logged_ms;
	uint64_t deny_suppressed;
};

struct webhook_http_job {
	dbjob_t base; /* first: the DB worker sees a dbjob_t */
	webhook_http_t *w;
	enum webhook_source src;
	struct evhttp_request *req; /* NULL: audit only, or orphaned by webhook_http_free */
	webhook_http_job_t *prev, *next;
	bool audit_only;
	/* audit-only: what the sender was told */
	const char *event;
	int http_status;
	char message[WEBHOOK_HTTP_WHY_MAX];
	/* a delivery */
	ticket_t ticket;
	bool has_ticket;
	bool ok;
	intake_result_t res;
	bson_error_t err;
	/* stored, but naming detections not in MongoDB (orphan.h) */
	int64_t *unknown;
	size_t n_unknown;
};

/* ---- replies ---- */

static const char *
webhook_http_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 503: return "Service Unavailable";
	}
	return "Error";
}

/* Append text that may quote the sender's bytes as valid UTF-8. */
static void
webhook_http_append_text(bson_t *doc, const char *key, const char *text)
{
	char buf[WEBHOOK_HTTP_WHY_MAX];

	text_sanitize(buf, sizeof(buf), text, TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	BSON_APPEND_UTF8(doc, key, buf);
}

static void
webhook_http_send(struct evhttp_request *req, int code, const bson_t *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();
	char *json = bson_as_relaxed_extended_json(body, NULL);

	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (buf != NULL && json != NULL)
		evbuffer_add_printf(buf, "%s\n", json);
	evhttp_send_reply(req, code, webhook_http_reason(code), buf);
	bson_free(json);
	if (buf != NULL)
		evbuffer_free(buf);
}

static void
webhook_http_send_error(struct evhttp_request *req, int code, const char *why)
{
	bson_t body = BSON_INITIALIZER;

	webhook_http_append_text(&body, "error", why);
	webhook_http_send(req, code, &body);
	bson_destroy(&body);
}

static enum metrics_webhook_source
webhook_http_metric_source(enum webhook_source s)
{
	switch (s) {
	case WEBHOOK_JIRA: return METRICS_WEBHOOK_JIRA;
	case WEBHOOK_SERVICENOW: return METRICS_WEBHOOK_SERVICENOW;
	case WEBHOOK_GENERIC: return METRICS_WEBHOOK_GENERIC;
	}
	return METRICS_WEBHOOK_GENERIC;
}

static void
webhook_http_count(enum webhook_source s, enum metrics_webhook_outcome o)
{
	metrics_webhook_inc(webhook_http_metric_source(s), o);
}

static void
webhook_http_peer(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (c != NULL)
		evhttp_connection_get_peer(c, &addr, &port);
	snprintf(buf, len, "%s:%u", addr ? addr : "?", (unsigned)port);
}

/* ---- authentication ---- */

static bool
webhook_http_sha256(const void *data, size_t len, unsigned char out[WEBHOOK_HTTP_DIGEST_LEN])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == WEBHOOK_HTTP_DIGEST_LEN;
}

/* "sha256=<64 hex digits>" against the HMAC of the body under the route's secret. */
static bool
webhook_http_signature_ok(const struct webhook_http_route *r, const char *header, const void *body,
    size_t len)
{
	unsigned char want[EVP_MAX_MD_SIZE], got[WEBHOOK_HTTP_DIGEST_LEN];
	unsigned int n = 0;
	const char *hex;

	if (strncasecmp(header, "sha256=", 7) != 0)
		return false;
	hex = header + 7;
	if (strlen(hex) != 2 * WEBHOOK_HTTP_DIGEST_LEN)
		return false;
	for (size_t i = 0; i < WEBHOOK_HTTP_DIGEST_LEN; i++) {
		int hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]), lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		got[i] = (unsigned char)(hi << 4 | lo);
	}
	/* HMAC of an empty body: OpenSSL wants a non-NULL pointer. */
	if (HMAC(EVP_sha256(), r->secret, (int)r->secret_len, len ? body : (const void *)"", len, want,
	        &n) == NULL || n != WEBHOOK_HTTP_DIGEST_LEN)
		return false;
	return CRYPTO_memcmp(want, got, WEBHOOK_HTTP_DIGEST_LEN) == 0;
}

/* Comparing digests keeps the comparison constant-time whatever the lengths. */
static bool
webhook_http_token_ok(const struct webhook_http_route *r, const char *token)
{
	unsigned char d[WEBHOOK_HTTP_DIGEST_LEN];

	return webhook_http_sha256(token, strlen(token), d) &&
	       CRYPTO_memcmp(d, r->digest, WEBHOOK_HTTP_DIGEST_LEN) == 0;
}

/* The signature header a source's sender can set, or NULL. */
static const char *
webhook_http_signature_header(enum webhook_source s)
{
	switch (s) {
	case WEBHOOK_JIRA: return "X-Hub-Signature";
	case WEBHOOK_GENERIC: return "X-Ticketsync-Signature";
	case WEBHOOK_SERVICENOW: return NULL;
	}
	return NULL;
}

/* Every credential presented must match, and at least one must be there. */
static bool
webhook_http_authenticate(const struct webhook_http_route *r, struct evhttp_request *req,
    const void *body, size_t len, char *why, size_t whylen)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *auth = evhttp_find_header(h, "Authorization");
	const char *token = evhttp_find_header(h, "X-Ticketsync-Token");
	const char *sig_name = webhook_http_signature_header(r->src);
	const char *sig = sig_name ? evhttp_find_header(h, sig_name) : NULL;
	bool presented = false;

	/* Other schemes (a proxy's Basic credentials) are not ours to judge. */
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
		const char *v = auth + 7;

		while (*v == ' ')
			v++;
		presented = true;
		if (!webhook_http_token_ok(r, v)) {
			snprintf(why, whylen, "the bearer token does not match the %s secret",
			    webhook_source_name(r->src));
			return false;
		}
	}
	if (token != NULL) {
		presented = true;
		if (!webhook_http_token_ok(r, token)) {
			snprintf(why, whylen, "X-Ticketsync-Token does not match the %s secret",
			    webhook_source_name(r->src));
			return false;
		}
	}
	if (sig != NULL) {
		presented = true;
		if (!webhook_http_signature_ok(r, sig, body, len)) {
			snprintf(why, whylen, "%s is not sha256=<HMAC-SHA256 of the body> under the %s "
			                      "secret", sig_name, webhook_source_name(r->src));
			return false;
		}
	}
	if (!presented) {
		snprintf(why, whylen, "no credentials: send Authorization: Bearer <secret> or "
		                      "X-Ticketsync-Token%s%s",
		    sig_name ? ", or sign the body in " : "", sig_name ? sig_name : "");
		return false;
	}
	return true;
}

/* ---- DB worker jobs ---- */

static void
webhook_http_link(webhook_http_t *w, webhook_http_job_t *job)
{
	job->prev = NULL;
	job->next = w->waiting;
	if (w->waiting != NULL)
		w->waiting->prev = job;
	w->waiting = job;
}

static void
webhook_http_unlink(webhook_http_t *w, webhook_http_job_t *job)
{
	if (job->prev != NULL)
		job->prev->next = job->next;
	else if (w->waiting == job)
		w->waiting = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	job->prev = job->next = NULL;
}

static void webhook_http_destroy(webhook_http_t *w);

/* What intake_write's outcome means for the sender and the audit trail. */
static void
webhook_http_describe(webhook_http_job_t *job, const char **event, int *status)
{
	const intake_result_t *res = &job->res;
	char when[TIMEFMT_ISO_MAX];

	switch (res->outcome) {
	case INTAKE_INSERTED:
	case INTAKE_UPDATED:
		*event = AUDIT_WEBHOOK_ACCEPTED;
		*status = 200;
		if (res->ids_kept)
			snprintf(job->message, sizeof(job->message),
			    "the payload names no detection: the stored detection ids were kept");
		break;
	case INTAKE_STALE:
		*event = AUDIT_WEBHOOK_STALE;
		*status = 200;
		timefmt_format_iso8601(res->stored_updated_at, true, when, sizeof(when));
		snprintf(job->message, sizeof(job->message),
		    "a version updated at %s (as new or newer) is stored: nothing written", when);
		break;
	case INTAKE_NO_TICKET:
		*event = AUDIT_WEBHOOK_IGNORED;
		*status = 200;
		snprintf(job->message, sizeof(job->message),
		    "the payload names no detection and no such ticket is stored: nothing written");
		break;
	case INTAKE_REFUSED:
	default:
		*event = AUDIT_WEBHOOK_REJECTED;
		*status = 422;
		snprintf(job->message, sizeof(job->message), "the tickets collection refused it: %s",
		    res->message);
		break;
	}
}

static void
webhook_http_on_orphan(void *arg, size_t index, const int64_t *missing, size_t n)
{
	webhook_http_job_t *job = arg;

	(void)index;
	job->unknown = xmalloc(n * sizeof(int64_t));
	memcpy(job->unknown, missing, n * sizeof(int64_t));
	job->n_unknown = n;
}

static void
webhook_http_run(dbjob_t *base, mongoc_client_t *client)
{
	webhook_http_job_t *job = (webhook_http_job_t *)base;
	webhook_http_t *w = job->w;
	intake_delivery_t d = { .source = webhook_source_name(job->src), .instance = w->instance };
	bson_error_t err;

	if (!job->audit_only) {
		job->ok = intake_write(client, w->database, &job->ticket, &job->res, &job->err);
		/* Nothing was decided; the sender will redeliver and that one is audited. */
		if (!job->ok)
			return;
		webhook_http_describe(job, &d.event, &d.http_status);
		d.ticket = &job->ticket;
		d.outcome = intake_outcome_name(job->res.outcome);
	} else {
		d.event = job->event;
		d.http_status = job->http_status;
		d.ticket = job->has_ticket ? &job->ticket : NULL;
	}
	d.message = job->message[0] ? job->message : NULL;
	if (!intake_audit(client, w->database, &d, &err))
		log_warnx("webhooks: %s delivery: cannot write the audit record: %s", d.source,
		    err.message);
	if (!job->audit_only && !job->res.ids_kept &&
	    (job->res.outcome == INTAKE_INSERTED || job->res.outcome == INTAKE_UPDATED)) {
		orphan_ticket_t ot = { job->ticket.id, job->ticket.detection_ids,
			job->ticket.n_detection_ids };

		/* Stored either way; a failed check only costs the warning. */
		if (!orphan_note(client, w->database, w->instance, d.source, &ot, 1,
		        webhook_http_on_orphan, job, NULL, &err))
			log_warnx("webhooks: %s ticket %s: cannot check which detections exist: %s",
			    d.source, job->ticket.id, err.message);
	}
}

static void
webhook_http_reply_job(webhook_http_job_t *job)
{
	const intake_result_t *res = &job->res;
	const char *event;
	int status;
	bson_t body = BSON_INITIALIZER, ids;

	if (!job->ok) {
		evhttp_add_header(evhttp_request_get_output_headers(job->req), "Retry-After",
		    WEBHOOK_HTTP_RETRY_AFTER);
		snprintf(job->message, sizeof(job->message),
		    "the ticket could not be stored (%.400s); send it again", job->err.message);
		webhook_http_send_error(job->req, 503, job->message);
		webhook_http_count(job->src, METRICS_WEBHOOK_FAILED);
		bson_destroy(&body);
		return;
	}
	webhook_http_describe(job, &event, &status);
	if (status != 200) {
		webhook_http_send_error(job->req, status, job->message);
		webhook_http_count(job->src, METRICS_WEBHOOK_REJECTED);
		bson_destroy(&body);
		return;
	}
	if (res->outcome == INTAKE_INSERTED || res->outcome == INTAKE_UPDATED) {
		BSON_APPEND_UTF8(&body, "result", "accepted");
		webhook_http_count(job->src, METRICS_WEBHOOK_ACCEPTED);
	} else if (res->outcome == INTAKE_STALE) {
		BSON_APPEND_UTF8(&body, "result", "stale");
		webhook_http_count(job->src, METRICS_WEBHOOK_STALE);
	} else {
		BSON_APPEND_UTF8(&body, "result", "ignored");
		webhook_http_count(job->src, METRICS_WEBHOOK_IGNORED);
	}
	webhook_http_append_text(&body, "ticket_id", job->ticket.id);
	BSON_APPEND_UTF8(&body, "outcome", intake_outcome_name(res->outcome));
	BSON_APPEND_ARRAY_BEGIN(&body, "detection_ids", &ids);
	for (size_t i = 0; i < job->ticket.n_detection_ids; i++) {
		char k[16];
		const char *ks;

		bson_uint32_to_string((uint32_t)i, &ks, k, sizeof(k));
		BSON_APPEND_INT64(&ids, ks, job->ticket.detection_ids[i]);
	}
	bson_append_array_end(&body, &ids);
	if (job->n_unknown > 0) {
		/* The sender's admin sees it in the delivery log of the ticket system. */
		BSON_APPEND_ARRAY_BEGIN(&body, "unknown_detection_ids", &ids);
		for (size_t i = 0; i < job->n_unknown; i++) {
			char k[16];
			const char *ks;

			bson_uint32_to_string((uint32_t)i, &ks, k, sizeof(k));
			BSON_APPEND_INT64(&ids, ks, job->unknown[i]);
		}
		bson_append_array_end(&body, &ids);
	}
	if (job->message[0] != '\0')
		webhook_http_append_text(&body, "reason", job->message);
	webhook_http_send(job->req, 200, &body);
	bson_destroy(&body);
}

static void
webhook_http_log_job(const webhook_http_job_t *job)
{
	const char *name = webhook_source_name(job->src);

	if (!job->ok) {
		log_event(LOG_LEVEL_WARN, &(log_fields_t){ .ticket = job->ticket.id, .http_status = 503 },
		    "webhooks: %s ticket %s not stored (asked to redeliver): %s", name,
		    job->ticket.id, job->err.message);
		return;
	}
	switch (job->res.outcome) {
	case INTAKE_INSERTED:
	case INTAKE_UPDATED:
		log_event(LOG_LEVEL_INFO, &(log_fields_t){ .ticket = job->ticket.id },
		    "webhooks: %s ticket %s %s (%zu detection ids%s)", name, job->ticket.id,
		    intake_outcome_name(job->res.outcome), job->ticket.n_detection_ids,
		    job->res.ids_kept ? ", stored ones kept" : "");
		if (job->n_unknown > 0) {
			char ids[256];

			orphan_format_ids(job->unknown, job->n_unknown, 10, ids, sizeof(ids));
			log_event(LOG_LEVEL_WARN,
			    &(log_fields_t){ .ticket = job->ticket.id, .detection = job->unknown[0] },
			    "webhooks: %s ticket %s names %zu detection(s) not in MongoDB (%s): "
			    "stored; pushed once the detection arrives", name, job->ticket.id,
			    job->n_unknown, ids);
		}
		break;
	case INTAKE_REFUSED:
		log_event(LOG_LEVEL_WARN, &(log_fields_t){ .ticket = job->ticket.id, .http_status = 422 },
		    "webhooks: %s ticket %s refused (422): %s", name, job->ticket.id, job->message);
		break;
	default:
		log_debug("webhooks: %s ticket %s: %s", name, job->ticket.id, job->message);
		break;
	}
}

static void
webhook_http_done(dbjob_t *base)
{
	webhook_http_job_t *job = (webhook_http_job_t *)base;
	webhook_http_t *w = job->w;

	w->pending--;
	if (job->req != NULL) {
		webhook_http_unlink(w, job);
		webhook_http_reply_job(job);
	}
	if (!job->audit_only)
		webhook_http_log_job(job);
	ticket_cleanup(&job->ticket);
	free(job->unknown);
	free(job);
	if (w->closed && w->pending == 0)
		webhook_http_destroy(w);
}

/* Audit a delivery answered on the loop (the reply does not wait for it). */
static void
webhook_http_audit_later(webhook_http_t *w, enum webhook_source src, const char *event, int status,
    const char *message, ticket_t *ticket)
{
	webhook_http_job_t *job;

	if (w->pending >= WEBHOOK_HTTP_MAX_PENDING) {
		log_warnx("webhooks: %s delivery (%s) not audited: too many deliveries waiting",
		    webhook_source_name(src), event);
		ticket_cleanup(ticket);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->base.run = webhook_http_run;
	job->base.done = webhook_http_done;
	job->w = w;
	job->src = src;
	job->audit_only = true;
	job->event = event;
	job->http_status = status;
	snprintf(job->message, sizeof(job->message), "%s", message ? message : "");
	if (ticket != NULL) {
		job->ticket = *ticket; /* takes ownership */
		job->has_ticket = true;
		memset(ticket, 0, sizeof(*ticket));
	}
	if (!dbworker_submit(w->db, &job->base)) {
		ticket_cleanup(&job->ticket);
		free(job);
		return;
	}
	w->pending++;
}

/* ---- the request ---- */

static void
webhook_http_on_request(struct evhttp_request *req, void *arg)
{
	struct webhook_http_route *r = arg;
	webhook_http_t *w = r->w;
	struct evbuffer *in;
	const char *name = webhook_source_name(r->src);
	char why[WEBHOOK_HTTP_WHY_MAX], peer[96];
	const char *body;
	size_t len;
	ticket_t t;
	enum webhook_result pr;
	webhook_http_job_t *job;

	if (!r->enabled) {
		snprintf(why, sizeof(why), "the %s webhook is disabled: no secret is configured "
		                           "([webhooks] %s_secret or %s_secret_file)", name, name, name);
		webhook_http_send_error(req, 404, why);
		webhook_http_count(r->src, METRICS_WEBHOOK_DISABLED);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		webhook_http_send_error(req, 405, "only POST is accepted");
		webhook_http_count(r->src, METRICS_WEBHOOK_REJECTED);
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	/* evhttp enforces the limit it was given; this guards against a later change there. */
	if (len > w->max_body) {
		snprintf(why, sizeof(why), "the body is larger than %zu bytes", w->max_body);
		webhook_http_send_error(req, 413, why);
		webhook_http_count(r->src, METRICS_WEBHOOK_REJECTED);
		return;
	}
	body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	if (body == NULL) {
		/* libevent could not make the body contiguous (its own allocation). */
		webhook_http_send_error(req, 503, "the body cannot be read; send it again");
		webhook_http_count(r->src, METRICS_WEBHOOK_FAILED);
		return;
	}
	if (!webhook_http_authenticate(r, req, body, len, why, sizeof(why))) {
		int64_t now = clock_mono_ms();

		webhook_http_peer(req, peer, sizeof(peer));
		if (w->deny_logged_ms == 0 || now - w->deny_logged_ms >= WEBHOOK_HTTP_DENY_LOG_MS) {
			log_event(LOG_LEVEL_WARN, &(log_fields_t){ .http_status = 401 },
			    "webhooks: %s delivery from %s refused (401): %s%s", name, peer, why,
			    w->deny_suppressed ? " (and earlier refusals not logged)" : "");
			w->deny_logged_ms = now;
			w->deny_suppressed = 0;
		} else {
			w->deny_suppressed++;
		}
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		    "Bearer realm=\"ticketsync\"");
		webhook_http_send_error(req, 401, why);
		webhook_http_count(r->src, METRICS_WEBHOOK_UNAUTHORIZED);
		return;
	}
	pr = webhook_parse(r->src, body, len, &w->parse, &t, why, sizeof(why));
	if (pr == WEBHOOK_MALFORMED || pr == WEBHOOK_INVALID) {
		int code = pr == WEBHOOK_MALFORMED ? 400 : 422;

		webhook_http_peer(req, peer, sizeof(peer));
		log_event(LOG_LEVEL_WARN, &(log_fields_t){ .http_status = code },
		    "webhooks: %s delivery from %s refused (%d): %s", name, peer, code, why);
		webhook_http_send_error(req, code, why);
		webhook_http_count(r->src, METRICS_WEBHOOK_REJECTED);
		webhook_http_audit_later(w, r->src, AUDIT_WEBHOOK_REJECTED, code, why, NULL);
		return;
	}
	if (pr == WEBHOOK_IGNORED) {
		bson_t reply = BSON_INITIALIZER;

		BSON_APPEND_UTF8(&reply, "result", "ignored");
		webhook_http_append_text(&reply, "reason", why);
		webhook_http_send(req, 200, &reply);
		bson_destroy(&reply);
		webhook_http_count(r->src, METRICS_WEBHOOK_IGNORED);
		webhook_http_audit_later(w, r->src, AUDIT_WEBHOOK_IGNORED, 200, why, NULL);
		return;
	}
	if (w->pending >= WEBHOOK_HTTP_MAX_PENDING) {
		ticket_cleanup(&t);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
		    WEBHOOK_HTTP_RETRY_AFTER);
		webhook_http_send_error(req, 503, "too many deliveries are waiting for the database; "
		                              "send it again");
		webhook_http_count(r->src, METRICS_WEBHOOK_FAILED);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->base.run = webhook_http_run;
	job->base.done = webhook_http_done;
	job->w = w;
	job->src = r->src;
	job->req = req;
	job->ticket = t;
	job->has_ticket = true;
	if (!dbworker_submit(w->db, &job->base)) {
		ticket_cleanup(&job->ticket);
		free(job);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
		    WEBHOOK_HTTP_RETRY_AFTER);
		webhook_http_send_error(req, 503, "the service is stopping; send it again");
		webhook_http_count(r->src, METRICS_WEBHOOK_FAILED);
		return;
	}
	w->pending++;
	webhook_http_link(w, job);
}

/* ---- life cycle ---- */

/* A copy of an optional setting (NULL stays NULL). */
static char *
webhook_http_strdup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
webhook_http_destroy(webhook_http_t *w)
{
	for (size_t i = 0; i < WEBHOOK_SOURCE_COUNT; i++) {
		if (w->routes[i].secret != NULL) {
			OPENSSL_cleanse(w->routes[i].secret, w->routes[i].secret_len);
			free(w->routes[i].secret);
		}
	}
	free(w->database);
	free(w->instance);
	free(w->jira_field);
	free(w->label_prefix);
	free(w->snow_field);
	free(w);
}

webhook_http_t *
webhook_http_start(httpd_t *httpd, dbworker_t *db, const config_t *cfg, const char *instance,
    bson_error_t *err)
{
	const char *secrets[WEBHOOK_SOURCE_COUNT] = {
		[WEBHOOK_JIRA] = cfg->webhooks.jira_secret,
		[WEBHOOK_SERVICENOW] = cfg->webhooks.servicenow_secret,
		[WEBHOOK_GENERIC] = cfg->webhooks.generic_secret,
	};
	webhook_http_t *w = xcalloc(1, sizeof(*w));
	char enabled[160] = "";

	w->httpd = httpd;
	w->db = db;
	w->database = webhook_http_strdup(cfg->mongodb.database);
	w->instance = webhook_http_strdup(instance);
	w->jira_field = webhook_http_strdup(cfg->webhooks.jira_detection_field);
	w->label_prefix = webhook_http_strdup(cfg->webhooks.jira_label_prefix);
	w->snow_field = webhook_http_strdup(cfg->webhooks.servicenow_detection_field);
	w->parse.jira_detection_field = w->jira_field;
	w->parse.jira_label_prefix = w->label_prefix;
	w->parse.servicenow_detection_field = w->snow_field;
	w->max_body = (size_t)cfg->webhooks.max_body_bytes;
	for (size_t i = 0; i < WEBHOOK_SOURCE_COUNT; i++) {
		struct webhook_http_route *r = &w->routes[i];

		r->w = w;
		r->src = (enum webhook_source)i;
		snprintf(r->path, sizeof(r->path), "/webhooks/%s", webhook_source_name(r->src));
		if (secrets[i] != NULL && secrets[i][0] != '\0') {
			r->secret_len = strlen(secrets[i]);
			r->secret = xstrdup(secrets[i]);
			if (!webhook_http_sha256(r->secret, r->secret_len, r->digest)) {
				bson_set_error(err, ERROR_DOMAIN, WEBHOOK_HTTP_ERR_CRYPTO,
				    "webhooks: SHA-256 is unavailable");
				goto fail;
			}
			r->enabled = true;
			snprintf(enabled + strlen(enabled), sizeof(enabled) - strlen(enabled), "%s%s",
			    enabled[0] ? ", " : "", r->path);
		}
		/* Disabled sources keep their route, to answer 404 with the reason. */
		if (httpd_add_route(httpd, r->path, webhook_http_on_request, r) != 0) {
			bson_set_error(err, ERROR_DOMAIN, WEBHOOK_HTTP_ERR_ROUTE,
			    "webhooks: cannot register %s", r->path);
			goto fail;
		}
	}
	httpd_set_max_body(httpd, w->max_body);
	if (enabled[0] != '\0')
		log_info("webhooks: accepting %s (bodies up to %zu bytes; Jira detection ids from %s)",
		    enabled, w->max_body, w->jira_field);
	else
		log_info("webhooks: no source has a secret; /webhooks/* answer 404");
	return w;
fail:
	webhook_http_destroy(w);
	return NULL;
}

void
webhook_http_free(webhook_http_t *w)
{
	if (w == NULL)
		return;
	/* evhttp frees the waiting requests with the listener: never touch them again. */
	while (w->waiting != NULL) {
		webhook_http_job_t *job = w->waiting;

		webhook_http_unlink(w, job);
		job->req = NULL;
	}
	w->closed = true;
	if (w->pending == 0)
		webhook_http_destroy(w);
}
