/* dest_ticket: ticket creation as a push destination; see dest_ticket.h. */
#include "ticketsync/dest_ticket.h"

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/clock.h"
#include "ticketsync/metrics.h"
#include "ticketsync/text.h"
#include "ticketsync/xalloc.h"

#define DEST_TICKET_HOUR_MS (3600 * 1000)
#define DEST_TICKET_HEADER_MAX 256

typedef struct dest_ticket_req {
	struct dest_ticket_req *next;
	dest_ticket_t *d;
	bson_t *desired;
	char key[PUSHPLAN_RESULT_MAX];
	ticketapi_history_t history;
	int64_t claimed_until_ms;  /* the claim's expiry: no create that could outlive it */
	dest_done_fn done;
	void *arg;
	int64_t started_ms;
	bool created;          /* the create (not a lookup) went out */
	pushplan_reply_t reply; /* for deferred completions */
	void (*check_done)(bool, const char *, void *);
} dest_ticket_req_t;

struct dest_ticket {
	struct event_base *base;
	httpcli_t *http;
	ticketapi_target_t target;
	char *table, *id_path;
	char *hmac_secret, *signature_header, *idempotency_header;
	int64_t lag_ms;
	int64_t request_timeout_ms;
	/* Creates of the last hour (monotonic ms), a ring of max_per_hour entries. */
	int64_t *window;
	size_t window_cap, window_head, window_n;
	/* Completions that never reached the network, run from the loop. */
	struct event *defer_ev;
	dest_ticket_req_t *deferred;
	size_t outstanding;
};

static void
dest_ticket_req_free(dest_ticket_req_t *r)
{
	bson_destroy(r->desired);
	free(r);
}

static void
dest_ticket_finish(dest_ticket_req_t *r)
{
	dest_ticket_t *d = r->d;

	if (r->check_done != NULL) {
		/* A credential check completed without a request (deferred). */
		d->outstanding--;
		r->check_done(r->reply.outcome == PUSHPLAN_OK, r->reply.message, r->arg);
		dest_ticket_req_free(r);
		return;
	}

	r->reply.elapsed_ms = clock_mono_ms() - r->started_ms;
	d->outstanding--;
	metrics_set(METRICS_CREATE_IN_FLIGHT, (int64_t)d->outstanding);
	r->done(&r->reply, r->arg);
	dest_ticket_req_free(r);
}

static void
dest_ticket_set(pushplan_reply_t *reply, enum pushplan_class c, long status, int curl_code,
    int64_t retry_after_ms, const char *msg)
{
	reply->outcome = c;
	reply->http_status = status;
	reply->curl_code = curl_code;
	reply->retry_after_ms = retry_after_ms;
	text_sanitize(reply->message, sizeof(reply->message), msg, TEXT_STRLEN, 0,
	    TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
}

static void
dest_ticket_defer(dest_ticket_req_t *r)
{
	r->next = r->d->deferred;
	r->d->deferred = r;
	event_active(r->d->defer_ev, EV_TIMEOUT, 0);
}

static void
dest_ticket_on_defer(evutil_socket_t fd, short what, void *arg)
{
	dest_ticket_t *d = arg;
	dest_ticket_req_t *list = d->deferred;

	(void)fd;
	(void)what;
	d->deferred = NULL;
	while (list != NULL) {
		dest_ticket_req_t *next = list->next;

		dest_ticket_finish(list);
		list = next;
	}
}

/* A reply that is not 2xx, or none: what it says, for the engine to judge. */
static void
dest_ticket_failed(const httpcli_reply_t *h, pushplan_reply_t *reply, const char *doing)
{
	char msg[2 * PUSHPLAN_MESSAGE_MAX + CURL_ERROR_SIZE], text[PUSHPLAN_MESSAGE_MAX];
	enum pushplan_class c = pushplan_classify(h->status, h->curl_code == CURLE_OK);

	if (h->curl_code != CURLE_OK) {
		snprintf(msg, sizeof(msg), "%s: %s", doing, h->error);
	} else {
		ticketapi_error_message(h->body, h->body_len, text, sizeof(text));
		snprintf(msg, sizeof(msg), "%s: HTTP %ld%s%s", doing, h->status, text[0] ? ": " : "",
		    text);
	}
	dest_ticket_set(reply, c, h->status, h->curl_code, h->retry_after_ms, msg);
}

/* ---- the hourly ceiling ---- */

/* 0 when a create may go now (and counts it), else the ms until a slot frees. */
static int64_t
dest_ticket_take_slot(dest_ticket_t *d)
{
	int64_t now = clock_mono_ms();

	if (d->window_cap == 0)
		return 0;
	while (d->window_n > 0 && d->window[d->window_head] <= now - DEST_TICKET_HOUR_MS) {
		d->window_head = (d->window_head + 1) % d->window_cap;
		d->window_n--;
	}
	if (d->window_n == d->window_cap)
		return d->window[d->window_head] + DEST_TICKET_HOUR_MS - now + 1;
	d->window[(d->window_head + d->window_n) % d->window_cap] = now;
	d->window_n++;
	return 0;
}

void
dest_ticket_seed_window(dest_ticket_t *d, const int64_t *wall_ms, size_t n, int64_t now_ms)
{
	int64_t mono = clock_mono_ms();

	for (size_t i = 0; i < n && d->window_n < d->window_cap; i++) {
		if (wall_ms[i] <= now_ms - DEST_TICKET_HOUR_MS)
			continue;
		d->window[(d->window_head + d->window_n) % d->window_cap] =
		    mono - (now_ms - wall_ms[i]);
		d->window_n++;
	}
}

/* ---- create ---- */

static void
dest_ticket_on_create(const httpcli_reply_t *h, void *arg)
{
	dest_ticket_req_t *r = arg;
	ticketapi_ticket_t t;
	bson_error_t err;

	if (h->curl_code == CURLE_OK && h->status >= 200 && h->status <= 299) {
		if (ticketapi_parse_created(&r->d->target, h->body, h->body_len, &t, &err)) {
			dest_ticket_set(&r->reply, PUSHPLAN_OK, h->status, CURLE_OK, -1, "");
			bson_strncpy(r->reply.result_key, t.key, sizeof(r->reply.result_key));
			bson_strncpy(r->reply.result_ref, t.ref, sizeof(r->reply.result_ref));
		} else {
			/* Accepted, but we cannot tell which ticket it made: it may exist, so
			 * look it up (after the search's lag) before creating again. */
			char msg[1024];

			snprintf(msg, sizeof(msg), "created (HTTP %ld) but %s", h->status, err.message);
			dest_ticket_set(&r->reply, PUSHPLAN_RETRY, h->status, CURLE_OK, -1, msg);
			r->reply.recheck_at_ms = clock_wall_ms() + r->d->lag_ms;
		}
	} else {
		dest_ticket_failed(h, &r->reply, "create");
		/* It may have been made after all: cancelled once it had left (shutdown, lease
		 * lost), or a server error after the commit (a post-function failing; 503 says
		 * it was not taken). Look it up before creating again. */
		if ((h->curl_code == CURLE_ABORTED_BY_CALLBACK && h->left) ||
		    (h->curl_code == CURLE_OK && h->status >= 500 && h->status != 503))
			r->reply.recheck_at_ms = clock_wall_ms() + r->d->lag_ms;
	}
	dest_ticket_finish(r);
}

/* HMAC-SHA256 of body under secret as "sha256=<hex>". */
static void
dest_ticket_sign(const char *secret, const char *body, size_t len, char *out, size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t w;

	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &n);
	w = (size_t)snprintf(out, outlen, "sha256=");
	for (unsigned int i = 0; i < n && w + 2 < outlen; i++, w += 2)
		snprintf(out + w, outlen - w, "%02x", mac[i]);
}

static void
dest_ticket_create(dest_ticket_req_t *r)
{
	dest_ticket_t *d = r->d;
	ticketapi_request_t req;
	bson_error_t err;
	char sig[DEST_TICKET_HEADER_MAX], idem[DEST_TICKET_HEADER_MAX], sign[128];
	const char *headers[3] = { NULL, NULL, NULL };
	size_t nh = 0;
	int64_t wait;

	if (r->claimed_until_ms > 0 && clock_wall_ms() + d->request_timeout_ms > r->claimed_until_ms) {
		/* Its reply could come after the claim expired and another claim took the item
		 * (which would then create it again): leave it to a fresh claim. */
		dest_ticket_set(&r->reply, PUSHPLAN_RETRY, 0, CURLE_OK, 0,
		    "not sent: its claim would expire before the reply; a fresh claim sends it");
		dest_ticket_defer(r);
		return;
	}
	wait = dest_ticket_take_slot(d);
	if (wait > 0) {
		char msg[1024];

		metrics_inc(METRICS_CREATE_CEILING, 1);
		snprintf(msg, sizeof(msg), "held back: %zu tickets created in the last hour "
		    "([create] max_per_hour)", d->window_cap);
		dest_ticket_set(&r->reply, PUSHPLAN_RETRY, 0, CURLE_OK, wait, msg);
		dest_ticket_defer(r);
		return;
	}
	if (!ticketapi_create_request(&d->target, r->desired, &req, &err)) {
		dest_ticket_set(&r->reply, PUSHPLAN_REJECTED, 0, CURLE_OK, -1, err.message);
		dest_ticket_defer(r);
		return;
	}
	if (d->target.kind == TICKETSPEC_HTTP) {
		snprintf(idem, sizeof(idem), "%s: %s", d->idempotency_header, r->key);
		headers[nh++] = idem;
		if (d->hmac_secret != NULL) {
			dest_ticket_sign(d->hmac_secret, req.body, req.body_len, sign, sizeof(sign));
			snprintf(sig, sizeof(sig), "%s: %s", d->signature_header, sign);
			headers[nh++] = sig;
		}
	}
	r->created = true;
	if (httpcli_request(d->http, req.method, req.path, req.body, req.body_len, headers,
	        HTTPCLI_ONCE, dest_ticket_on_create, r, &err) != 0) {
		dest_ticket_set(&r->reply, PUSHPLAN_RETRY, 0, CURLE_FAILED_INIT, -1, err.message);
		dest_ticket_defer(r);
	}
	ticketapi_request_clear(&req);
}

/* ---- lookup ---- */

static void
dest_ticket_on_lookup(const httpcli_reply_t *h, void *arg)
{
	dest_ticket_req_t *r = arg;
	ticketapi_ticket_t t;
	bson_error_t err;
	int64_t proof_at, now;
	int found;

	if (h->curl_code != CURLE_OK || h->status < 200 || h->status > 299) {
		dest_ticket_failed(h, &r->reply, "lookup before create");
		dest_ticket_finish(r);
		return;
	}
	found = ticketapi_parse_lookup(&r->d->target, h->body, h->body_len, r->key, &t, &err);
	if (found < 0) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "lookup before create: %s", err.message);
		dest_ticket_set(&r->reply, PUSHPLAN_RETRY, h->status, CURLE_OK, -1, msg);
		dest_ticket_finish(r);
		return;
	}
	if (found > 0) {
		/* An earlier attempt made it: that ticket is the one. */
		dest_ticket_set(&r->reply, PUSHPLAN_OK, h->status, CURLE_OK, -1,
		    "found by its key after an uncertain attempt: not created again");
		bson_strncpy(r->reply.result_key, t.key, sizeof(r->reply.result_key));
		bson_strncpy(r->reply.result_ref, t.ref, sizeof(r->reply.result_ref));
		dest_ticket_finish(r);
		return;
	}
	proof_at = ticketapi_proof_at(&r->history);
	now = clock_wall_ms();
	if (now < proof_at) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "no ticket with key %s yet, but the search may lag: "
		    "looking again in %lld ms before creating", r->key, (long long)(proof_at - now));
		dest_ticket_set(&r->reply, PUSHPLAN_RETRY, 0, CURLE_OK, proof_at - now, msg);
		r->reply.recheck_at_ms = proof_at;
		dest_ticket_finish(r);
		return;
	}
	dest_ticket_create(r);
}

/* ---- dest_ops_t ---- */

static bool
dest_ticket_describe(const outbox_item_t *item, bson_t *sent, bson_error_t *err)
{
	const char *key;
	int64_t id;
	bson_iter_t it;

	if (!ticketapi_desired_key(item->desired, &key, &id, err))
		return false;
	BSON_APPEND_UTF8(sent, "key", key);
	if (bson_iter_init_find(&it, item->desired, "summary") && BSON_ITER_HOLDS_UTF8(&it))
		bson_append_iter(sent, "summary", -1, &it);
	if (!bson_iter_init_find(&it, item->desired, "body") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_set_error(err, ERROR_DOMAIN, DEST_TICKET_ERR_REQUEST,
		    "the stored creation has no request body");
		return false;
	}
	return true;
}

static int
dest_ticket_send(void *impl, const outbox_item_t *item, dest_done_fn done, void *arg,
    bson_error_t *err)
{
	dest_ticket_t *d = impl;
	dest_ticket_req_t *r;
	ticketapi_request_t req;
	const char *key;
	int64_t id;

	if (!ticketapi_desired_key(item->desired, &key, &id, err))
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->d = d;
	r->desired = bson_copy(item->desired);
	bson_strncpy(r->key, key, sizeof(r->key));
	r->done = done;
	r->arg = arg;
	r->started_ms = clock_mono_ms();
	r->claimed_until_ms = item->claimed_until_ms;
	r->history = (ticketapi_history_t){
		.acknowledged = item->pushed != NULL,
		.recheck_at_ms = item->recheck_at_ms,
		.reclaimed_until_ms = item->reclaimed_until_ms,
		.can_lookup = d->target.kind != TICKETSPEC_HTTP,
		.lag_ms = d->lag_ms,
	};
	d->outstanding++;
	metrics_set(METRICS_CREATE_IN_FLIGHT, (int64_t)d->outstanding);
	switch (ticketapi_first_step(&r->history)) {
	case TICKETAPI_DONE:
		/* Created and acknowledged before (a recheck or a replay): nothing to send. */
		dest_ticket_set(&r->reply, PUSHPLAN_OK, 0, CURLE_OK, -1, "");
		dest_ticket_defer(r);
		break;
	case TICKETAPI_LOOKUP:
		ticketapi_lookup_request(&d->target, r->desired, &req);
		if (httpcli_request(d->http, req.method, req.path, req.body, req.body_len, NULL, 0,
		        dest_ticket_on_lookup, r, err) != 0) {
			dest_ticket_set(&r->reply, PUSHPLAN_RETRY, 0, CURLE_FAILED_INIT, -1, err->message);
			dest_ticket_defer(r);
		}
		ticketapi_request_clear(&req);
		break;
	case TICKETAPI_CREATE:
		dest_ticket_create(r);
		break;
	}
	return 0;
}

static void
dest_ticket_cancel_all(void *impl)
{
	dest_ticket_t *d = impl;

	httpcli_cancel_all(d->http);
	dest_ticket_on_defer(-1, 0, d);
}

static void
dest_ticket_set_gate(void *impl, bool (*gate)(const void *arg), const void *arg)
{
	httpcli_set_gate(((dest_ticket_t *)impl)->http, gate, arg);
}

const dest_ops_t dest_ticket_ops = {
	.display_name = "the ticket system",
	.auth_hint = "check the ticket system's credentials ([jira] email/api_token or pat, "
	             "[servicenow] user/password, [create_http] token)",
	.describe = dest_ticket_describe,
	.send = dest_ticket_send,
	.cancel_all = dest_ticket_cancel_all,
	.set_gate = dest_ticket_set_gate,
};

/* ---- life cycle ---- */

static void
dest_ticket_on_check(const httpcli_reply_t *h, void *arg)
{
	dest_ticket_req_t *r = arg;
	char msg[PUSHPLAN_MESSAGE_MAX + 64];
	bool ok = h->curl_code == CURLE_OK && h->status >= 200 && h->status <= 299;

	if (ok) {
		snprintf(msg, sizeof(msg), "credentials accepted (HTTP %ld)", h->status);
	} else {
		dest_ticket_failed(h, &r->reply, "credential check");
		snprintf(msg, sizeof(msg), "%s", r->reply.message);
	}
	r->check_done(ok, msg, r->arg);
	r->d->outstanding--;
	dest_ticket_req_free(r);
}

void
dest_ticket_check(dest_ticket_t *d, void (*done)(bool ok, const char *message, void *arg),
    void *arg)
{
	ticketapi_request_t req;
	dest_ticket_req_t *r = xcalloc(1, sizeof(*r));
	bson_error_t err;

	r->d = d;
	r->check_done = done;
	r->arg = arg;
	d->outstanding++;
	if (!ticketapi_check_request(&d->target, &req)) {
		/* Nothing to ask a generic endpoint: its first create tells. */
		dest_ticket_set(&r->reply, PUSHPLAN_OK, 200, CURLE_OK, -1,
		    "no credential check for the http target");
		dest_ticket_defer(r);
		return;
	}
	/* Asked by every instance, active or not: it reads, and /readyz reports it. */
	if (httpcli_request(d->http, req.method, req.path, NULL, 0, NULL, HTTPCLI_UNGATED,
	        dest_ticket_on_check, r, &err) != 0) {
		dest_ticket_set(&r->reply, PUSHPLAN_RETRY, 0, CURLE_FAILED_INIT, -1, err.message);
		dest_ticket_defer(r);
	}
	ticketapi_request_clear(&req);
}

dest_ticket_t *
dest_ticket_new(struct event_base *base, const dest_ticket_opts_t *o, bson_error_t *err)
{
	dest_ticket_t *d = xcalloc(1, sizeof(*d));

	d->base = base;
	d->target = o->target;
	d->table = o->target.table ? xstrdup(o->target.table) : NULL;
	d->id_path = o->target.id_path ? xstrdup(o->target.id_path) : NULL;
	d->target.table = d->table;
	d->target.id_path = d->id_path;
	d->lag_ms = o->lag_ms > 0 ? o->lag_ms : 0;
	d->request_timeout_ms = o->http.request_timeout_ms > 0 ? o->http.request_timeout_ms : 30000;
	d->hmac_secret = o->hmac_secret && o->hmac_secret[0] ? xstrdup(o->hmac_secret) : NULL;
	d->signature_header = xstrdup(o->signature_header && o->signature_header[0]
	        ? o->signature_header : "X-Ticketsync-Signature");
	d->idempotency_header = xstrdup(o->idempotency_header && o->idempotency_header[0]
	        ? o->idempotency_header : "Idempotency-Key");
	if (o->max_per_hour > 0) {
		d->window_cap = (size_t)o->max_per_hour;
		d->window = xcalloc(d->window_cap, sizeof(*d->window));
	}
	d->http = httpcli_new(base, &o->http, err);
	if (d->http == NULL)
		goto fail;
	d->defer_ev = event_new(base, -1, 0, dest_ticket_on_defer, d);
	if (d->defer_ev == NULL) {
		bson_set_error(err, ERROR_DOMAIN, DEST_TICKET_ERR_CONFIG, "cannot create an event");
		goto fail;
	}
	return d;
fail:
	dest_ticket_destroy(d);
	return NULL;
}

void
dest_ticket_destroy(dest_ticket_t *d)
{
	if (d == NULL)
		return;
	httpcli_destroy(d->http);
	if (d->defer_ev != NULL) {
		dest_ticket_on_defer(-1, 0, d);
		event_free(d->defer_ev);
	}
	if (d->hmac_secret != NULL) {
		explicit_bzero(d->hmac_secret, strlen(d->hmac_secret));
		free(d->hmac_secret);
	}
	free(d->signature_header);
	free(d->idempotency_header);
	free(d->table);
	free(d->id_path);
	free(d->window);
	free(d);
}
