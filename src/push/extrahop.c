/*
 * extrahop: ExtraHop REST client on curlev; see extrahop.h.
 *
 * A request (a PATCH or a search: the same machinery, told apart by its kind: method,
 * body, reply bound and how it completes) lives on exactly one of three lists until
 * its callback runs:
 *   waiting  - OAuth2 only: no usable token yet, a token fetch is running;
 *   sending  - its easy handle is in curlev;
 *   deferred - failed before reaching the network; completed from the loop so the
 *              callback never runs inside the caller's own call.
 */
#include "ticketsync/extrahop.h"
#include "ticketsync/extrahop_api.h"

#include "ticketsync/backoff.h"
#include "ticketsync/clock.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ticketsync/curlev.h"
#include "ticketsync/log.h"
#include "ticketsync/text.h"

#define EXTRAHOP_USER_AGENT "ticketsync/" TICKETSYNC_VERSION


typedef struct extrahop_req extrahop_req_t;

enum extrahop_req_kind {
	EXTRAHOP_REQ_PATCH = 0, /* extrahop_done_fn */
	EXTRAHOP_REQ_SEARCH,    /* extrahop_search_fn, with the parsed page */
};
typedef struct extrahop_list {
	extrahop_req_t *head, *tail;
	size_t n;
} extrahop_list_t;

struct extrahop_req {
	extrahop_t *eh;
	extrahop_list_t *on; /* the list holding it */
	extrahop_req_t *prev, *next;
	enum extrahop_req_kind kind;
	const char *method;       /* static: "PATCH", "POST" */
	const char *ctype_header; /* static: "Content-Type: ..." */
	char *url;
	char *body;
	size_t body_len;
	size_t resp_max;          /* reply bytes accepted (search) or kept (PATCH) */
	extrahop_done_fn done_cb; /* EXTRAHOP_REQ_PATCH */
	extrahop_search_fn search_cb; /* EXTRAHOP_REQ_SEARCH */
	bson_t *detections;       /* a search's parsed page, once OK */
	void *arg;
	int64_t started_ms;
	uint64_t token_gen; /* token the last attempt carried (OAuth2) */
	bool resent;        /* the one resend after a 401 is used up */
	int64_t send_by_ms; /* wall clock: not on the wire after this (0: no bound) */
	bool too_late;      /* the prereq check refused it for send_by_ms */
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	curlev_body_t resp;       /* see resp_max */
	pushplan_reply_t res; /* filled when completing */
};

struct extrahop {
	struct event_base *base;
	curlev_t *cev;
	struct event *defer_ev;
	char *base_url;
	enum extrahop_auth auth;
	char *apikey_header;
	char *client_id, *client_secret, *token_url;
	char *ca_file, *ca_path;
	char *user_agent; /* ticketsync/<version> (<instance>) */
	long connect_timeout_ms, request_timeout_ms;
	size_t search_body_max;
	int64_t (*now_ms)(void *);
	void *clock_arg;
	bool (*gate)(const void *); /* extrahop_set_gate */
	const void *gate_arg;

	/* OAuth2 token state. */
	char *bearer_header; /* NULL: no usable token */
	uint64_t token_gen;
	int64_t token_refresh_at, token_expires_at; /* clock ms; INT64_MAX = never */
	bool fetching;
	int64_t fetch_started_at;
	char fetch_errbuf[CURL_ERROR_SIZE];
	curlev_body_t fetch_resp;
	struct curl_slist *token_headers;

	extrahop_list_t waiting, sending, deferred;
	bool closing;
};

/* ---------------------------------------------------------------- client */

static int64_t
extrahop_clock(const extrahop_t *eh)
{
	return eh->now_ms != NULL ? eh->now_ms(eh->clock_arg) : clock_mono_ms();
}

static void
extrahop_list_push(extrahop_list_t *l, extrahop_req_t *r)
{
	r->on = l;
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	l->n++;
}

static void
extrahop_list_remove(extrahop_req_t *r)
{
	extrahop_list_t *l = r->on;

	if (l == NULL)
		return;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	l->n--;
	r->on = NULL;
	r->prev = r->next = NULL;
}

/* Move every request of src onto a fresh list (a snapshot that later additions to src
 * do not touch). */
static void
extrahop_list_take(extrahop_list_t *dst, extrahop_list_t *src)
{
	*dst = *src;
	memset(src, 0, sizeof(*src));
	for (extrahop_req_t *r = dst->head; r != NULL; r = r->next)
		r->on = dst;
}

static void
extrahop_req_free(extrahop_req_t *r)
{
	if (r == NULL)
		return;
	curl_slist_free_all(r->headers);
	curlev_body_reset(&r->resp);
	bson_destroy(r->detections);
	bson_free(r->url);
	bson_free(r->body);
	bson_free(r);
}

/* Run the callback and free the request. r->res is filled except elapsed_ms; a
 * search's page (r->detections) goes with it only when the outcome is OK. */
static void
extrahop_complete(extrahop_req_t *r)
{
	enum extrahop_req_kind kind = r->kind;
	extrahop_done_fn done_cb = r->done_cb;
	extrahop_search_fn search_cb = r->search_cb;
	void *arg = r->arg;
	pushplan_reply_t res = r->res;
	bson_t *detections = r->detections;

	r->detections = NULL;
	extrahop_list_remove(r);
	res.elapsed_ms = clock_mono_ms() - r->started_ms;
	extrahop_req_free(r);
	if (kind == EXTRAHOP_REQ_SEARCH) {
		if (res.outcome != PUSHPLAN_OK) {
			bson_destroy(detections);
			detections = NULL;
		}
		search_cb(&res, detections, arg);
		bson_destroy(detections);
	} else {
		done_cb(&res, arg);
	}
}

static void
extrahop_set_result(extrahop_req_t *r, enum pushplan_class o, long status, CURLcode rc,
    int64_t retry_after_ms, const char *msg)
{
	r->res.outcome = o;
	r->res.http_status = status;
	r->res.curl_code = rc;
	r->res.retry_after_ms = retry_after_ms;
	/* A cut is marked: an operator must not read half a reason as the whole. */
	text_sanitize(r->res.message, sizeof(r->res.message), msg, TEXT_STRLEN, 0,
	    TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
}

/* Fail a request that never reached the network; its callback runs from the loop. */
static void
extrahop_defer(extrahop_req_t *r, enum pushplan_class o, CURLcode rc, const char *msg)
{
	extrahop_list_remove(r);
	extrahop_set_result(r, o, 0, rc, -1, msg);
	extrahop_list_push(&r->eh->deferred, r);
	event_active(r->eh->defer_ev, EV_TIMEOUT, 0);
}

static void
extrahop_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	extrahop_t *eh = arg;
	extrahop_list_t batch;

	(void)fd;
	(void)what;
	extrahop_list_take(&batch, &eh->deferred);
	while (batch.head != NULL)
		extrahop_complete(batch.head);
}

/* Options every request shares: limits, TLS, identity (curlev's), plus HTTP/2
 * multiplexing where the server offers it. */
static void
extrahop_easy_common(extrahop_t *eh, CURL *easy, const char *url, char *errbuf,
    curlev_body_t *resp, size_t resp_max)
{
	const curlev_transfer_opts_t o = {
		.user_agent = eh->user_agent,
		.ca_file = eh->ca_file,
		.ca_path = eh->ca_path,
		.connect_timeout_ms = eh->connect_timeout_ms,
		.request_timeout_ms = eh->request_timeout_ms,
	};

	curlev_easy_setup(easy, url, &o, errbuf, resp, resp_max);
	curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
}

/* Transport failure text: curl's detailed buffer, else its generic text. */
static const char *
extrahop_curl_text(CURLcode rc, const char *errbuf)
{
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return "cancelled";
	return errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
}

static void extrahop_req_done(CURL *easy, CURLcode rc, void *arg);
static void extrahop_token_fetch(extrahop_t *eh);

/* libcurl's last call before a request goes on the wire. */
static int
extrahop_prereq(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	extrahop_req_t *r = arg;
	const extrahop_t *eh = r->eh;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (r->send_by_ms > 0 && clock_wall_ms() > r->send_by_ms) {
		r->too_late = true;
		return CURL_PREREQFUNC_ABORT;
	}
	return eh->gate == NULL || eh->gate(eh->gate_arg) ? CURL_PREREQFUNC_OK
	                                                  : CURL_PREREQFUNC_ABORT;
}

static void
extrahop_send(extrahop_req_t *r)
{
	extrahop_t *eh = r->eh;
	const char *auth = eh->auth == EXTRAHOP_AUTH_OAUTH2 ? eh->bearer_header : eh->apikey_header;
	struct curl_slist *h = NULL, *t;
	bson_error_t err;
	CURL *easy;

	extrahop_list_remove(r);
	curl_slist_free_all(r->headers);
	r->headers = NULL;
	curlev_body_reset(&r->resp);
	easy = curl_easy_init();
	if (easy == NULL) {
		extrahop_defer(r, PUSHPLAN_RETRY, CURLE_OUT_OF_MEMORY, "cannot create a transfer");
		return;
	}
	/* "Expect:" stops curl from waiting for 100-continue on larger bodies. */
	const char *lines[] = { r->ctype_header, "Accept: application/json", auth, "Expect:" };
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		t = curl_slist_append(h, lines[i]);
		if (t == NULL) {
			curl_slist_free_all(h);
			curl_easy_cleanup(easy);
			extrahop_defer(r, PUSHPLAN_RETRY, CURLE_OUT_OF_MEMORY,
			    "cannot build the request headers");
			return;
		}
		h = t;
	}
	r->headers = h;
	r->token_gen = eh->token_gen;
	if (r->kind == EXTRAHOP_REQ_SEARCH) {
		/* One byte past the bound tells a reply that is too long from one that
		 * fills it; a reply announced as too long is cut off at once. */
		extrahop_easy_common(eh, easy, r->url, r->errbuf, &r->resp,
		    r->resp_max < SIZE_MAX ? r->resp_max + 1 : r->resp_max);
		if (r->resp_max < (size_t)INT64_MAX)
			curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->resp_max);
	} else {
		extrahop_easy_common(eh, easy, r->url, r->errbuf, &r->resp, r->resp_max);
	}
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r->method);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, extrahop_prereq);
	curl_easy_setopt(easy, CURLOPT_PREREQDATA, r);
	if (curlev_add(eh->cev, easy, extrahop_req_done, r, &err) != 0) {
		curl_easy_cleanup(easy);
		extrahop_defer(r, PUSHPLAN_RETRY, CURLE_FAILED_INIT, err.message);
		return;
	}
	extrahop_list_push(&eh->sending, r);
}

static void
extrahop_drop_token(extrahop_t *eh)
{
	if (eh->bearer_header != NULL) {
		explicit_bzero(eh->bearer_header, strlen(eh->bearer_header));
		bson_free(eh->bearer_header);
		eh->bearer_header = NULL;
	}
}

/* OAuth2: send now if a token is usable, else wait for the (single) fetch. A token
 * past its refresh point is still used while it lives; the fetch runs beside it. */
static void
extrahop_dispatch(extrahop_req_t *r)
{
	extrahop_t *eh = r->eh;
	int64_t now;

	if (eh->auth != EXTRAHOP_AUTH_OAUTH2) {
		extrahop_send(r);
		return;
	}
	now = extrahop_clock(eh);
	if (eh->bearer_header != NULL && now >= eh->token_expires_at)
		extrahop_drop_token(eh);
	if (eh->bearer_header != NULL) {
		if (now >= eh->token_refresh_at && !eh->fetching)
			extrahop_token_fetch(eh);
		extrahop_send(r);
		return;
	}
	extrahop_list_remove(r);
	extrahop_list_push(&eh->waiting, r);
	if (!eh->fetching)
		extrahop_token_fetch(eh);
}

static void
extrahop_req_done(CURL *easy, CURLcode rc, void *arg)
{
	extrahop_req_t *r = arg;
	extrahop_t *eh = r->eh;
	long status = 0;
	curl_off_t ra = 0;
	char msg[PUSHPLAN_MESSAGE_MAX];
	enum pushplan_class o;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &ra);
	curl_easy_cleanup(easy);
	extrahop_list_remove(r);

	if (rc == CURLE_OK && status == 401 && eh->auth == EXTRAHOP_AUTH_OAUTH2 &&
	    !r->resent && !eh->closing) {
		/* The token may have been revoked or expired early: get a new one once (only
		 * if nobody did since this attempt left) and resend once. */
		r->resent = true;
		if (r->token_gen == eh->token_gen)
			extrahop_drop_token(eh);
		extrahop_dispatch(r);
		return;
	}

	o = pushplan_classify(status, rc == CURLE_OK);
	if (r->kind == EXTRAHOP_REQ_SEARCH &&
	    (rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_OK && r->resp.len > r->resp_max))) {
		/* Retrying the same page gets the same reply: the message says what to do. */
		snprintf(msg, sizeof(msg), "the search reply is longer than %zu bytes (the "
		    "search_body_max bound): ask for fewer detections per page", r->resp_max);
		extrahop_set_result(r, PUSHPLAN_RETRY, status, rc, backoff_retry_after_ms((int64_t)ra),
		    msg);
		extrahop_complete(r);
		return;
	}
	if (r->kind == EXTRAHOP_REQ_SEARCH && rc == CURLE_OK && o == PUSHPLAN_OK) {
		r->detections = extrahop_api_search_reply(r->resp.data, r->resp.len, msg, sizeof(msg));
		curlev_body_reset(&r->resp);
		if (r->detections == NULL)
			o = PUSHPLAN_RETRY; /* a proxy's page, a wrong URL: nothing to use */
		extrahop_set_result(r, o, status, rc, backoff_retry_after_ms((int64_t)ra), msg);
		extrahop_complete(r);
		return;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK && r->too_late)
		snprintf(msg, sizeof(msg), "not sent: its claim would expire before a reply could "
		    "come; a fresh claim sends it");
	else if (rc != CURLE_OK)
		text_sanitize(msg, sizeof(msg), extrahop_curl_text(rc, r->errbuf), TEXT_STRLEN, 0,
		    TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
	else if (o == PUSHPLAN_OK)
		msg[0] = '\0';
	else if (!extrahop_api_error_message(r->resp.data, r->resp.len, msg, sizeof(msg))) {
		if (status >= 300 && status <= 399)
			snprintf(msg, sizeof(msg), "HTTP %ld: redirects are not followed; check the base URL",
			    status);
		else
			snprintf(msg, sizeof(msg), "HTTP %ld", status);
	}
	extrahop_set_result(r, o, rc == CURLE_OK ? status : 0, rc, backoff_retry_after_ms((int64_t)ra), msg);
	extrahop_complete(r);
}

/* Fail every waiting request with the token endpoint's verdict. */
static void
extrahop_fail_waiting(extrahop_t *eh, enum pushplan_class o, long status, CURLcode rc,
    int64_t retry_after_ms, const char *msg)
{
	extrahop_list_t batch;

	extrahop_list_take(&batch, &eh->waiting);
	while (batch.head != NULL) {
		extrahop_req_t *r = batch.head;

		extrahop_set_result(r, o, status, rc, retry_after_ms, msg);
		extrahop_complete(r);
	}
}

static void
extrahop_token_done(CURL *easy, CURLcode rc, void *arg)
{
	extrahop_t *eh = arg;
	long status = 0;
	curl_off_t ra = 0;
	char msg[PUSHPLAN_MESSAGE_MAX];
	char detail[PUSHPLAN_MESSAGE_MAX];
	extrahop_api_token_t tok = { NULL, -1 };
	enum pushplan_class o;
	bson_error_t err;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &ra);
	curl_easy_cleanup(easy);
	eh->fetching = false;

	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		/* Cancelled: the requests waiting then were cancelled by the canceller; any
		 * submitted meanwhile still need a token. */
		curlev_body_reset(&eh->fetch_resp);
		if (eh->waiting.n > 0 && !eh->closing)
			extrahop_token_fetch(eh);
		return;
	}
	o = pushplan_classify(status, rc == CURLE_OK);
	if (o == PUSHPLAN_OK) {
		if (extrahop_api_token_parse(eh->fetch_resp.data, eh->fetch_resp.len, &tok, &err)) {
			int64_t after = extrahop_api_token_refresh_after_ms(tok.expires_in_s);

			extrahop_drop_token(eh);
			eh->bearer_header = bson_strdup_printf("Authorization: Bearer %s", tok.access_token);
			eh->token_gen++;
			/* Count the lifetime from when we asked: never later than the server. */
			eh->token_refresh_at = after < 0 ? INT64_MAX : eh->fetch_started_at + after;
			eh->token_expires_at = after < 0 ? INT64_MAX
			                                 : eh->fetch_started_at + tok.expires_in_s * 1000;
			extrahop_api_token_clear(&tok);
			curlev_body_reset(&eh->fetch_resp);
			log_debug("extrahop: OAuth2 token obtained");
			extrahop_list_t batch;
			extrahop_list_take(&batch, &eh->waiting);
			while (batch.head != NULL)
				extrahop_send(batch.head);
			return;
		}
		/* A 2xx we cannot use may be a proxy or a wrong URL; retrying is harmless. */
		o = PUSHPLAN_RETRY;
		extrahop_api_join(msg, sizeof(msg), "token endpoint: ", err.message);
	} else if (rc != CURLE_OK) {
		extrahop_api_join(msg, sizeof(msg), "token endpoint: ",
		    extrahop_curl_text(rc, eh->fetch_errbuf));
	} else {
		if (!extrahop_api_error_message(eh->fetch_resp.data, eh->fetch_resp.len, detail, sizeof(detail)))
			detail[0] = '\0';
		char head[64];

		snprintf(head, sizeof(head), "token endpoint: HTTP %ld%s", status, detail[0] ? ": " : "");
		extrahop_api_join(msg, sizeof(msg), head, detail);
		/* The endpoint refused our credentials or request: configuration, not luck. */
		if (o == PUSHPLAN_REJECTED)
			o = PUSHPLAN_AUTH;
	}
	curlev_body_reset(&eh->fetch_resp);
	log_warnx("extrahop: OAuth2 token fetch failed (%s): %s", pushplan_class_name(o), msg);
	extrahop_fail_waiting(eh, o, rc == CURLE_OK ? status : 0, rc, backoff_retry_after_ms((int64_t)ra), msg);
}

static void
extrahop_token_fetch(extrahop_t *eh)
{
	static const char form[] = "grant_type=client_credentials";
	bson_error_t err;
	CURL *easy;
	char msg[PUSHPLAN_MESSAGE_MAX];
	extrahop_list_t batch;

	eh->fetching = true;
	eh->fetch_started_at = extrahop_clock(eh);
	curlev_body_reset(&eh->fetch_resp);
	easy = curl_easy_init();
	if (easy == NULL) {
		snprintf(msg, sizeof(msg), "token endpoint: cannot create a transfer");
		goto fail;
	}
	extrahop_easy_common(eh, easy, eh->token_url, eh->fetch_errbuf, &eh->fetch_resp,
	    EXTRAHOP_BODY_MAX);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, eh->token_headers);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)(sizeof(form) - 1));
	/* Client id and secret as HTTP Basic, sent up front (RFC 6749 2.3.1). */
	curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(easy, CURLOPT_USERNAME, eh->client_id);
	curl_easy_setopt(easy, CURLOPT_PASSWORD, eh->client_secret);
	if (curlev_add(eh->cev, easy, extrahop_token_done, eh, &err) == 0)
		return;
	curl_easy_cleanup(easy);
	extrahop_api_join(msg, sizeof(msg), "token endpoint: ", err.message);
fail:
	eh->fetching = false;
	/* Never inside the submitter's call: fail them through the deferred list. */
	extrahop_list_take(&batch, &eh->waiting);
	while (batch.head != NULL)
		extrahop_defer(batch.head, PUSHPLAN_RETRY, CURLE_FAILED_INIT, msg);
}

/* A value that goes into a header line (API key): visible ASCII, no CR/LF. */
static bool
extrahop_header_safe(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* An absolute http(s) URL with a host, checked by libcurl's own parser. */
static bool
extrahop_url_ok(const char *url, const char *what, bson_error_t *err)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	if (url == NULL || *url == '\0') {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_CONFIG, "extrahop: %s is not set", what);
		return false;
	}
	u = curl_url();
	if (u == NULL) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_RESOURCE,
		    "extrahop: cannot create a URL parser");
		return false;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_CONFIG,
		    "extrahop: %s is not an absolute URL", what);
		goto cleanup;
	}
	if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_CONFIG,
		    "extrahop: %s must use http or https", what);
		goto cleanup;
	}
	ok = true;
cleanup:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static char *
extrahop_strdup_opt(const char *s)
{
	return s != NULL && *s != '\0' ? bson_strdup(s) : NULL;
}

extrahop_t *
extrahop_new(struct event_base *base, const extrahop_opts_t *opts, bson_error_t *err)
{
	extrahop_t *eh;
	curlev_opts_t co;
	struct curl_slist *t;

	if (base == NULL || opts == NULL) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_ARG,
		    "extrahop: no event base or options");
		return NULL;
	}
	if (!extrahop_url_ok(opts->base_url, "base URL", err))
		return NULL;
	if (opts->auth == EXTRAHOP_AUTH_APIKEY) {
		if (!extrahop_header_safe(opts->api_key)) {
			bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_CONFIG,
			    "extrahop: the API key is missing or has characters a header cannot carry");
			return NULL;
		}
	} else if (opts->auth == EXTRAHOP_AUTH_OAUTH2) {
		if (!extrahop_url_ok(opts->token_url, "OAuth2 token URL", err))
			return NULL;
		if (opts->client_id == NULL || *opts->client_id == '\0' ||
		    strchr(opts->client_id, ':') != NULL) {
			/* HTTP Basic cannot carry a ':' in the user id (RFC 7617). */
			bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_CONFIG,
			    "extrahop: OAuth2 client id is missing or contains ':'");
			return NULL;
		}
		if (opts->client_secret == NULL || *opts->client_secret == '\0') {
			bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_CONFIG,
			    "extrahop: OAuth2 client secret is missing");
			return NULL;
		}
	} else {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_CONFIG,
		    "extrahop: unknown authentication kind");
		return NULL;
	}
	if (opts->connect_timeout_ms < 0 || opts->request_timeout_ms < 0 ||
	    opts->max_total_connections < 0 || opts->max_host_connections < 0) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_CONFIG,
		    "extrahop: timeouts and connection limits cannot be negative");
		return NULL;
	}

	eh = bson_malloc0(sizeof(*eh));
	eh->base = base;
	eh->auth = opts->auth;
	eh->base_url = bson_strdup(opts->base_url);
	eh->ca_file = extrahop_strdup_opt(opts->ca_file);
	eh->ca_path = extrahop_strdup_opt(opts->ca_path);
	/* The instance in the User-Agent lets ExtraHop's logs (and tests) tell two
	 * ticketsyncd instances apart. */
	eh->user_agent = opts->instance != NULL && opts->instance[0] != '\0'
	    ? bson_strdup_printf("%s (%s)", EXTRAHOP_USER_AGENT, opts->instance)
	    : bson_strdup(EXTRAHOP_USER_AGENT);
	eh->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
	eh->request_timeout_ms = opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 10000;
	eh->search_body_max = opts->search_body_max > 0 ? opts->search_body_max
	                                                : EXTRAHOP_SEARCH_BODY_MAX;
	eh->now_ms = opts->now_ms;
	eh->clock_arg = opts->clock_arg;
	eh->token_refresh_at = eh->token_expires_at = INT64_MAX;
	if (eh->auth == EXTRAHOP_AUTH_APIKEY) {
		eh->apikey_header = bson_strdup_printf("Authorization: ExtraHop apikey=%s", opts->api_key);
	} else {
		eh->client_id = bson_strdup(opts->client_id);
		eh->client_secret = bson_strdup(opts->client_secret);
		eh->token_url = bson_strdup(opts->token_url);
		t = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
		if (t != NULL)
			eh->token_headers = t;
		t = t != NULL ? curl_slist_append(t, "Accept: application/json") : NULL;
		if (t == NULL) {
			bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_RESOURCE,
			    "extrahop: cannot build the token request headers");
			goto fail;
		}
	}
	co.max_total_connections = opts->max_total_connections > 0 ? opts->max_total_connections : 16;
	co.max_host_connections = opts->max_host_connections > 0 ? opts->max_host_connections : 8;
	eh->cev = curlev_new(base, &co, err);
	if (eh->cev == NULL)
		goto fail;
	eh->defer_ev = event_new(base, -1, 0, extrahop_defer_cb, eh);
	if (eh->defer_ev == NULL) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_RESOURCE,
		    "extrahop: cannot create an event");
		goto fail;
	}
	return eh;
fail:
	extrahop_destroy(eh);
	return NULL;
}

static extrahop_req_t *
extrahop_req_new(extrahop_t *eh, enum extrahop_req_kind kind, void *arg)
{
	extrahop_req_t *r = bson_malloc0(sizeof(*r));

	r->eh = eh;
	r->kind = kind;
	r->arg = arg;
	r->started_ms = clock_mono_ms();
	r->ctype_header = "Content-Type: application/json";
	if (kind == EXTRAHOP_REQ_SEARCH) {
		r->method = "POST";
		r->resp_max = eh->search_body_max;
	} else {
		r->method = "PATCH";
		r->resp_max = EXTRAHOP_BODY_MAX;
	}
	return r;
}

/* Checks every submission shares. */
static bool
extrahop_accepting(const extrahop_t *eh, bool args_ok, bson_error_t *err)
{
	if (eh == NULL || !args_ok) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_ARG, "extrahop: bad arguments");
		return false;
	}
	if (eh->closing) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_CLOSING,
		    "extrahop: client is shutting down");
		return false;
	}
	return true;
}

int
extrahop_patch_detection(extrahop_t *eh, int64_t detection_id, const fields_t *f,
    unsigned mask, int64_t done_by_ms, extrahop_done_fn cb, void *arg, bson_error_t *err)
{
	extrahop_req_t *r;

	if (!extrahop_accepting(eh, f != NULL && cb != NULL, err))
		return -1;
	if (detection_id < 0) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_REQUEST,
		    "extrahop: invalid detection id %" PRId64, detection_id);
		return -1;
	}
	if ((mask & FIELDS_ALL) == 0) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_REQUEST,
		    "extrahop: nothing to send for detection %" PRId64,
		    detection_id);
		return -1;
	}
	r = extrahop_req_new(eh, EXTRAHOP_REQ_PATCH, arg);
	r->done_cb = cb;
	if (done_by_ms > 0) {
		r->send_by_ms = done_by_ms - eh->request_timeout_ms;
		if (r->send_by_ms <= 0)
			r->send_by_ms = 1;
	}
	r->url = extrahop_api_detection_url(eh->base_url, detection_id);
	r->body = extrahop_api_patch_body(f, mask, &r->body_len);
	if (r->url == NULL || r->body == NULL) {
		/* A field libbson cannot write as JSON (e.g. invalid UTF-8). */
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_REQUEST,
		    "extrahop: cannot build the request");
		extrahop_req_free(r);
		return -1;
	}
	extrahop_dispatch(r);
	return 0;
}

int
extrahop_search(extrahop_t *eh, const char *body_json, extrahop_search_fn cb, void *arg,
    bson_error_t *err)
{
	extrahop_req_t *r;
	size_t len;
	bson_error_t why;

	if (!extrahop_accepting(eh, body_json != NULL && cb != NULL, err))
		return -1;
	len = strlen(body_json);
	if (!extrahop_api_search_body_ok(body_json, len, &why)) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_REQUEST, "extrahop: %s", why.message);
		return -1;
	}
	r = extrahop_req_new(eh, EXTRAHOP_REQ_SEARCH, arg);
	r->search_cb = cb;
	r->url = extrahop_api_search_url(eh->base_url);
	r->body = bson_strndup(body_json, len);
	r->body_len = len;
	if (r->url == NULL) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_ERR_REQUEST,
		    "extrahop: cannot build the request");
		extrahop_req_free(r);
		return -1;
	}
	extrahop_dispatch(r);
	return 0;
}

void
extrahop_set_gate(extrahop_t *eh, bool (*gate)(const void *arg), const void *arg)
{
	eh->gate = gate;
	eh->gate_arg = arg;
}

size_t
extrahop_in_flight(const extrahop_t *eh)
{
	if (eh == NULL)
		return 0;
	return eh->waiting.n + eh->sending.n + eh->deferred.n;
}

void
extrahop_cancel_all(extrahop_t *eh)
{
	extrahop_list_t waiting, deferred;

	if (eh == NULL)
		return;
	/* Snapshot first: whatever the callbacks submit from here on keeps going. */
	extrahop_list_take(&waiting, &eh->waiting);
	extrahop_list_take(&deferred, &eh->deferred);
	/* Sending requests (and the token fetch) complete through their callbacks. */
	curlev_cancel_all(eh->cev);
	while (waiting.head != NULL) {
		extrahop_set_result(waiting.head, PUSHPLAN_RETRY, 0, CURLE_ABORTED_BY_CALLBACK, -1,
		    "cancelled");
		extrahop_complete(waiting.head);
	}
	while (deferred.head != NULL)
		extrahop_complete(deferred.head);
}

static void
extrahop_wipe(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		bson_free(s);
	}
}

void
extrahop_destroy(extrahop_t *eh)
{
	if (eh == NULL)
		return;
	eh->closing = true;
	if (eh->cev != NULL)
		extrahop_cancel_all(eh);
	curlev_destroy(eh->cev);
	if (eh->defer_ev != NULL)
		event_free(eh->defer_ev);
	curlev_body_reset(&eh->fetch_resp);
	curl_slist_free_all(eh->token_headers);
	extrahop_drop_token(eh);
	extrahop_wipe(eh->apikey_header);
	extrahop_wipe(eh->client_secret);
	bson_free(eh->client_id);
	bson_free(eh->token_url);
	bson_free(eh->base_url);
	bson_free(eh->ca_file);
	bson_free(eh->ca_path);
	bson_free(eh->user_agent);
	bson_free(eh);
}
