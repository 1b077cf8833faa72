/*
 * extrahop + curlev against a real HTTP server: an in-process evhttp server on the
 * same event_base, scripted per test, that records every request and counts accepted
 * TCP connections. Real libcurl, real sockets, no sleeps: the loop runs until the
 * expected callbacks have fired, under a hard timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "ticketsync/clock.h"
#include "ticketsync/backoff.h"
#include "ticketsync/curlev.h"
#include "ticketsync/extrahop.h"

#define HARD_TIMEOUT_MS 20000
#define TOKEN_PATH "/oauth2/token"
#define SEARCH_PATH "/api/v1/detections/search"

/* ------------------------------------------------------------------ the server */

typedef struct rec {
	char method[8];
	char path[128];
	char auth[256];
	char ctype[64];
	char accept[64];
	char ua[64];
	bool has_expect;
	char body[512];
} rec_t;

typedef struct srv {
	struct event_base *base;
	struct evhttp *http;
	int port;
	char base_url[64];
	char token_url[96];
	int accepted; /* TCP connections */

	rec_t *recs; /* detection requests, in arrival order */
	int n_recs, cap_recs;
	rec_t token_recs[16]; /* token requests */
	int n_token;

	/* Script for /api/v1/detections/... */
	int status;            /* default 204 */
	const char *resp_body; /* NULL: none */
	const char *retry_after;
	size_t big_body;       /* > 0: answer with this many bytes of body */
	bool hang;             /* never answer */
	const char *api_key;   /* API key mode: expected key */
	bool reject_bearer;    /* every bearer token is refused */
	int min_valid_token;   /* tokens numbered below this are refused */

	/* Script for POST /api/v1/detections/search (Retry-After and hang as above). */
	int search_status;       /* default 200 */
	const char *search_body; /* default "[]"; NULL: no body */
	char *search_big;        /* non-NULL: answer with this instead (the test's) */
	bool search_chunked;     /* send the reply chunked: no Content-Length */

	/* Script for the token endpoint. */
	int token_status;      /* default 200 */
	const char *token_body; /* used when token_status != 200 */
	int expires_in;        /* default 3600 */
	bool token_hang;
	int tokens_issued;

	struct evhttp_request *hung[64];
	int n_hung;

	SSL_CTX *ssl_ctx; /* non-NULL: the server speaks TLS */
} srv_t;

static struct bufferevent *
srv_bevcb(struct event_base *base, void *arg)
{
	srv_t *s = arg;

	/* evhttp asks for one bufferevent per accepted connection. */
	s->accepted++;
	if (s->ssl_ctx != NULL)
		return bufferevent_openssl_socket_new(base, -1, SSL_new(s->ssl_ctx),
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static void
copy_header(struct evkeyvalq *h, const char *name, char *out, size_t outlen)
{
	const char *v = evhttp_find_header(h, name);

	snprintf(out, outlen, "%s", v != NULL ? v : "");
}

static void
record(struct evhttp_request *req, rec_t *r)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	const char *m = "?";

	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: m = "GET"; break;
	case EVHTTP_REQ_POST: m = "POST"; break;
	case EVHTTP_REQ_PATCH: m = "PATCH"; break;
	case EVHTTP_REQ_PUT: m = "PUT"; break;
	default: break;
	}
	memset(r, 0, sizeof(*r));
	snprintf(r->method, sizeof(r->method), "%s", m);
	snprintf(r->path, sizeof(r->path), "%s", evhttp_request_get_uri(req));
	copy_header(h, "Authorization", r->auth, sizeof(r->auth));
	copy_header(h, "Content-Type", r->ctype, sizeof(r->ctype));
	copy_header(h, "Accept", r->accept, sizeof(r->accept));
	copy_header(h, "User-Agent", r->ua, sizeof(r->ua));
	r->has_expect = evhttp_find_header(h, "Expect") != NULL;
	if (n >= sizeof(r->body))
		n = sizeof(r->body) - 1;
	evbuffer_copyout(in, r->body, n);
	r->body[n] = '\0';
}

static void
reply(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer *b = NULL;

	if (body != NULL) {
		b = evbuffer_new();
		evbuffer_add(b, body, strlen(body));
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		    "application/json");
	}
	evhttp_send_reply(req, code, code == 204 ? "No Content" : "Scripted", b);
	if (b != NULL)
		evbuffer_free(b);
}

static void
hang(srv_t *s, struct evhttp_request *req)
{
	assert_true(s->n_hung < (int)(sizeof(s->hung) / sizeof(s->hung[0])));
	s->hung[s->n_hung++] = req;
}

static void
srv_token(srv_t *s, struct evhttp_request *req)
{
	char body[256];

	assert_true(s->n_token < (int)(sizeof(s->token_recs) / sizeof(s->token_recs[0])));
	record(req, &s->token_recs[s->n_token++]);
	if (s->token_hang) {
		hang(s, req);
		return;
	}
	if (s->token_status != 200) {
		reply(req, s->token_status, s->token_body);
		return;
	}
	s->tokens_issued++;
	snprintf(body, sizeof(body),
	    "{\"access_token\":\"tok-%d\",\"token_type\":\"Bearer\",\"expires_in\":%d,\"scope\":\"api\"}",
	    s->tokens_issued, s->expires_in);
	reply(req, 200, body);
}

static bool
srv_authorized(srv_t *s, const rec_t *r)
{
	char want[256];
	int n;

	if (s->api_key != NULL) {
		snprintf(want, sizeof(want), "ExtraHop apikey=%s", s->api_key);
		return strcmp(r->auth, want) == 0;
	}
	if (sscanf(r->auth, "Bearer tok-%d", &n) != 1 || s->reject_bearer)
		return false;
	return n >= s->min_valid_token && n <= s->tokens_issued;
}

static void
srv_search(srv_t *s, struct evhttp_request *req)
{
	const char *body = s->search_big != NULL ? s->search_big : s->search_body;
	struct evbuffer *b;

	if (!s->search_chunked) {
		reply(req, s->search_status, body);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "application/json");
	evhttp_send_reply_start(req, s->search_status, "Scripted");
	b = evbuffer_new();
	/* Several chunks, so the client's bound is met mid-transfer. */
	for (size_t off = 0, n = body != NULL ? strlen(body) : 0; off < n; off += 1000) {
		evbuffer_add(b, body + off, n - off < 1000 ? n - off : 1000);
		evhttp_send_reply_chunk(req, b);
	}
	evbuffer_free(b);
	evhttp_send_reply_end(req);
}

static void
srv_handle(struct evhttp_request *req, void *arg)
{
	srv_t *s = arg;
	rec_t *r;

	if (strcmp(evhttp_request_get_uri(req), TOKEN_PATH) == 0) {
		srv_token(s, req);
		return;
	}
	if (s->n_recs == s->cap_recs) {
		s->cap_recs = s->cap_recs ? s->cap_recs * 2 : 64;
		s->recs = realloc(s->recs, (size_t)s->cap_recs * sizeof(*s->recs));
		assert_non_null(s->recs);
	}
	r = &s->recs[s->n_recs++];
	record(req, r);
	if (s->hang) {
		hang(s, req);
		return;
	}
	if (!srv_authorized(s, r)) {
		reply(req, 401, "{\"error_message\":\"unauthorized\"}");
		return;
	}
	if (s->retry_after != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", s->retry_after);
	if (strcmp(r->path, SEARCH_PATH) == 0 && strcmp(r->method, "POST") == 0) {
		srv_search(s, req);
		return;
	}
	if (s->big_body > 0) {
		char *big = malloc(s->big_body + 1);
		memset(big, 'x', s->big_body);
		big[s->big_body] = '\0';
		reply(req, s->status, big);
		free(big);
		return;
	}
	reply(req, s->status, s->resp_body);
}

static void
srv_start_tls(srv_t *s, struct event_base *base, SSL_CTX *ssl_ctx)
{
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->base = base;
	s->status = 204;
	s->token_status = 200;
	s->expires_in = 3600;
	s->min_valid_token = 1;
	s->search_status = 200;
	s->search_body = "[]";
	s->ssl_ctx = ssl_ctx;
	s->http = evhttp_new(base);
	assert_non_null(s->http);
	evhttp_set_allowed_methods(s->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PATCH | EVHTTP_REQ_PUT);
	evhttp_set_bevcb(s->http, srv_bevcb, s);
	evhttp_set_gencb(s->http, srv_handle, s);
	bound = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	assert_non_null(bound);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	snprintf(s->base_url, sizeof(s->base_url), "http%s://127.0.0.1:%d", ssl_ctx ? "s" : "",
	    s->port);
	snprintf(s->token_url, sizeof(s->token_url), "%s%s", s->base_url, TOKEN_PATH);
}

static void
srv_start(srv_t *s, struct event_base *base)
{
	srv_start_tls(s, base, NULL);
}

static void
srv_stop(srv_t *s)
{
	/* Requests left unanswered must be answered (or freed) before the server goes. */
	for (int i = 0; i < s->n_hung; i++)
		evhttp_send_reply(s->hung[i], 503, "Shutting down", NULL);
	s->n_hung = 0;
	evhttp_free(s->http);
	free(s->recs);
	free(s->search_big);
}

/* ------------------------------------------------------------------ the client side */

typedef struct done {
	int n;
	pushplan_reply_t res[600];
	/* optional: resubmit from inside the callback */
	int resubmit_left;
} done_t;

static void
on_done(const pushplan_reply_t *res, void *arg)
{
	done_t *d = arg;

	assert_true(d->n < (int)(sizeof(d->res) / sizeof(d->res[0])));
	d->res[d->n++] = *res;
}

typedef struct fixture {
	struct event_base *base;
	srv_t srv;
	extrahop_t *eh;
	done_t done;
	int64_t now; /* fake token clock */
} fixture_t;

static int64_t
fake_clock(void *arg)
{
	return ((fixture_t *)arg)->now;
}

static void
on_expire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/* Run the loop until pred holds or the hard timeout passes. */
static bool
run_until(struct event_base *base, bool (*pred)(void *), void *arg, int timeout_ms)
{
	bool expired = false;
	struct event *t = evtimer_new(base, on_expire, &expired);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	evtimer_add(t, &tv);
	while (!pred(arg) && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return pred(arg);
}

static int want_n;
static bool
done_reached(void *arg)
{
	return ((done_t *)arg)->n >= want_n;
}

static void
wait_done(fixture_t *fx, int n)
{
	want_n = n;
	if (!run_until(fx->base, done_reached, &fx->done, HARD_TIMEOUT_MS))
		fail_msg("only %d of %d callbacks within %d ms", fx->done.n, n, HARD_TIMEOUT_MS);
}

static int want_recs;
static bool
recs_reached(void *arg)
{
	return ((srv_t *)arg)->n_recs >= want_recs;
}

static int
setup(void **state)
{
	fixture_t *fx = calloc(1, sizeof(*fx));

	fx->base = event_base_new();
	srv_start(&fx->srv, fx->base);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *fx = *state;

	extrahop_destroy(fx->eh);
	srv_stop(&fx->srv);
	event_base_free(fx->base);
	free(fx);
	return 0;
}

static extrahop_opts_t
apikey_opts(fixture_t *fx)
{
	extrahop_opts_t o = { 0 };

	o.base_url = fx->srv.base_url;
	o.auth = EXTRAHOP_AUTH_APIKEY;
	o.api_key = "s3cret-key";
	fx->srv.api_key = "s3cret-key";
	return o;
}

static extrahop_opts_t
oauth_opts(fixture_t *fx)
{
	extrahop_opts_t o = { 0 };

	o.base_url = fx->srv.base_url;
	o.auth = EXTRAHOP_AUTH_OAUTH2;
	o.client_id = "client-1";
	o.client_secret = "shh";
	o.token_url = fx->srv.token_url;
	o.now_ms = fake_clock;
	o.clock_arg = fx;
	return o;
}

static void
new_client(fixture_t *fx, const extrahop_opts_t *o)
{
	bson_error_t err;

	fx->eh = extrahop_new(fx->base, o, &err);
	if (fx->eh == NULL)
		fail_msg("extrahop_new: %s", err.message);
}

static void
patch(fixture_t *fx, int64_t id)
{
	fields_t f;
	bson_error_t err;

	fields_init(&f);
	fields_set_ticket_id(&f, "T-1");
	f.status = FIELDS_STATUS_IN_PROGRESS;
	if (extrahop_patch_detection(fx->eh, id, &f, FIELDS_TICKET_ID | FIELDS_STATUS, 0, on_done,
	        &fx->done, &err) != 0)
		fail_msg("patch: %s", err.message);
}

static void
patch_cb(fixture_t *fx, int64_t id, extrahop_done_fn cb, void *arg)
{
	fields_t f;
	bson_error_t err;

	fields_init(&f);
	f.status = FIELDS_STATUS_NEW;
	if (extrahop_patch_detection(fx->eh, id, &f, FIELDS_STATUS, 0, cb, arg, &err) != 0)
		fail_msg("patch: %s", err.message);
}

/*
 * A background token refresh races the requests that go on meanwhile (which rightly
 * use the old, still valid token). Send one request at a time until one carries
 * want; every later one must carry it too. Returns the token fetches seen.
 */
static int
patch_until_token(fixture_t *fx, const char *want)
{
	for (int tries = 0; tries < 50; tries++) {
		patch(fx, 500 + tries);
		wait_done(fx, fx->done.n + 1);
		if (strcmp(fx->srv.recs[fx->srv.n_recs - 1].auth, want) == 0) {
			patch(fx, 600);
			wait_done(fx, fx->done.n + 1);
			assert_string_equal(fx->srv.recs[fx->srv.n_recs - 1].auth, want);
			return fx->srv.n_token;
		}
	}
	fail_msg("no request carried %s", want);
	return -1;
}

/* ------------------------------------------------------------------ tests */

static void
test_success_exact_request(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	fields_t f;
	bson_error_t err;
	const rec_t *r;

	new_client(fx, &o);
	fields_init(&f);
	fields_set_ticket_id(&f, "JIRA-\"7\"\\x");
	fields_set_assignee(&f, "Zo\xc3\xab\n");
	f.status = FIELDS_STATUS_CLOSED;
	f.resolution = FIELDS_RESOLUTION_NULL;
	assert_int_equal(extrahop_patch_detection(fx->eh, 4294967297LL, &f, FIELDS_ALL, 0, on_done,
	                     &fx->done, &err), 0);
	/* Never completes inside the submitting call. */
	assert_int_equal(fx->done.n, 0);
	assert_int_equal(extrahop_in_flight(fx->eh), 1);
	wait_done(fx, 1);

	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_OK);
	assert_int_equal(fx->done.res[0].http_status, 204);
	assert_int_equal(fx->done.res[0].curl_code, CURLE_OK);
	assert_int_equal(fx->done.res[0].retry_after_ms, -1);
	assert_string_equal(fx->done.res[0].message, "");
	assert_true(fx->done.res[0].elapsed_ms >= 0);
	assert_int_equal(extrahop_in_flight(fx->eh), 0);

	assert_int_equal(fx->srv.n_recs, 1);
	r = &fx->srv.recs[0];
	assert_string_equal(r->method, "PATCH");
	assert_string_equal(r->path, "/api/v1/detections/4294967297");
	assert_string_equal(r->auth, "ExtraHop apikey=s3cret-key");
	assert_string_equal(r->ctype, "application/json");
	assert_string_equal(r->accept, "application/json");
	assert_string_equal(r->ua, "ticketsync/" TICKETSYNC_VERSION);
	assert_false(r->has_expect);
	assert_string_equal(r->body, "{ \"ticket_id\" : \"JIRA-\\\"7\\\"\\\\x\", \"status\" : \"closed\", "
	                             "\"assignee\" : \"Zo\xc3\xab\\n\", \"resolution\" : null }");
	assert_int_equal(fx->srv.n_token, 0);
}

static void
test_retry_statuses(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);

	new_client(fx, &o);
	fx->srv.status = 429;
	fx->srv.retry_after = "7";
	patch(fx, 1);
	wait_done(fx, 1);
	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_RETRY);
	assert_int_equal(fx->done.res[0].http_status, 429);
	assert_int_equal(fx->done.res[0].retry_after_ms, 7000);

	fx->srv.status = 503;
	fx->srv.retry_after = NULL;
	patch(fx, 2);
	wait_done(fx, 2);
	assert_int_equal(fx->done.res[1].outcome, PUSHPLAN_RETRY);
	assert_int_equal(fx->done.res[1].http_status, 503);
	assert_int_equal(fx->done.res[1].retry_after_ms, -1);
	assert_string_equal(fx->done.res[1].message, "HTTP 503");

	/* An absurd Retry-After is clamped, not obeyed. */
	fx->srv.retry_after = "999999";
	patch(fx, 3);
	wait_done(fx, 3);
	assert_int_equal(fx->done.res[2].outcome, PUSHPLAN_RETRY);
	assert_int_equal(fx->done.res[2].retry_after_ms, BACKOFF_RETRY_AFTER_CAP_MS);

	fx->srv.retry_after = NULL;
	fx->srv.status = 408;
	patch(fx, 4);
	wait_done(fx, 4);
	assert_int_equal(fx->done.res[3].outcome, PUSHPLAN_RETRY);

	/* A redirect is not followed (it would carry the key elsewhere). */
	fx->srv.status = 301;
	patch(fx, 5);
	wait_done(fx, 5);
	assert_int_equal(fx->done.res[4].outcome, PUSHPLAN_RETRY);
	assert_int_equal(fx->done.res[4].http_status, 301);
	assert_non_null(strstr(fx->done.res[4].message, "redirects are not followed"));
	assert_int_equal(fx->srv.n_recs, 5);
}

static void
test_rejected_with_message(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);

	new_client(fx, &o);
	fx->srv.status = 404;
	fx->srv.resp_body = "{\"error_message\": \"Detection 9 does not exist\"}";
	patch(fx, 9);
	wait_done(fx, 1);
	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_REJECTED);
	assert_int_equal(fx->done.res[0].http_status, 404);
	assert_string_equal(fx->done.res[0].message, "Detection 9 does not exist");

	fx->srv.status = 400;
	fx->srv.resp_body = "{\"error_message\": \"Invalid value for status\", \"type\": \"x\"}";
	patch(fx, 10);
	wait_done(fx, 2);
	assert_int_equal(fx->done.res[1].outcome, PUSHPLAN_REJECTED);
	assert_int_equal(fx->done.res[1].http_status, 400);
	assert_string_equal(fx->done.res[1].message, "Invalid value for status");

	fx->srv.status = 422;
	fx->srv.resp_body = NULL;
	patch(fx, 11);
	wait_done(fx, 3);
	assert_int_equal(fx->done.res[2].outcome, PUSHPLAN_REJECTED);
	assert_string_equal(fx->done.res[2].message, "HTTP 422");

	fx->srv.status = 409;
	fx->srv.resp_body = "<html>conflict</html>";
	patch(fx, 12);
	wait_done(fx, 4);
	assert_int_equal(fx->done.res[3].outcome, PUSHPLAN_REJECTED);
	assert_string_equal(fx->done.res[3].message, "HTTP 409");
}

static void
test_big_body_is_bounded(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);

	new_client(fx, &o);
	/* 1 MiB error page: read to the end (the connection stays usable), kept to 64 KiB. */
	fx->srv.status = 500;
	fx->srv.big_body = 1024 * 1024;
	patch(fx, 1);
	wait_done(fx, 1);
	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_RETRY);
	assert_int_equal(fx->done.res[0].curl_code, CURLE_OK);
	assert_int_equal(fx->done.res[0].http_status, 500);
	fx->srv.big_body = 0;
	fx->srv.status = 204;
	patch(fx, 2);
	wait_done(fx, 2);
	assert_int_equal(fx->done.res[1].outcome, PUSHPLAN_OK);
	assert_int_equal(fx->srv.accepted, 1);
}

static void
test_apikey_unauthorized(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);

	o.api_key = "wrong";
	new_client(fx, &o);
	patch(fx, 1);
	wait_done(fx, 1);
	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_AUTH);
	assert_int_equal(fx->done.res[0].http_status, 401);
	assert_string_equal(fx->done.res[0].message, "unauthorized");
	/* An API key cannot be refreshed: no resend. */
	assert_int_equal(fx->srv.n_recs, 1);

	fx->srv.api_key = "wrong";
	fx->srv.status = 403;
	patch(fx, 2);
	wait_done(fx, 2);
	assert_int_equal(fx->done.res[1].outcome, PUSHPLAN_AUTH);
	assert_int_equal(fx->done.res[1].http_status, 403);
}

static void
test_oauth_one_fetch_for_many(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = oauth_opts(fx);
	const int n = 50;

	new_client(fx, &o);
	for (int i = 0; i < n; i++)
		patch(fx, i + 1);
	assert_int_equal(extrahop_in_flight(fx->eh), (size_t)n);
	wait_done(fx, n);
	for (int i = 0; i < n; i++)
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_OK);
	assert_int_equal(fx->srv.n_token, 1);
	assert_int_equal(fx->srv.n_recs, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(fx->srv.recs[i].auth, "Bearer tok-1");
	/* The token request: client credentials as HTTP Basic, form body. */
	assert_string_equal(fx->srv.token_recs[0].method, "POST");
	assert_string_equal(fx->srv.token_recs[0].auth, "Basic Y2xpZW50LTE6c2ho"); /* client-1:shh */
	assert_string_equal(fx->srv.token_recs[0].ctype, "application/x-www-form-urlencoded");
	assert_string_equal(fx->srv.token_recs[0].body, "grant_type=client_credentials");
	assert_string_equal(fx->srv.token_recs[0].accept, "application/json");

	/* Later requests reuse the cached token. */
	patch(fx, 999);
	wait_done(fx, n + 1);
	assert_int_equal(fx->srv.n_token, 1);
}

static void
test_oauth_refresh_before_expiry(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = oauth_opts(fx);

	fx->srv.expires_in = 300; /* refresh 60 s early: at 240 s */
	fx->now = 1000000;
	new_client(fx, &o);
	patch(fx, 1);
	wait_done(fx, 1);
	assert_int_equal(fx->srv.n_token, 1);

	fx->now += 239 * 1000;
	patch(fx, 2);
	wait_done(fx, 2);
	assert_int_equal(fx->srv.n_token, 1);
	assert_string_equal(fx->srv.recs[1].auth, "Bearer tok-1");

	/* Past the refresh point, still alive: used while a new one is fetched beside it. */
	fx->now += 2 * 1000;
	patch(fx, 3);
	wait_done(fx, 3);
	assert_string_equal(fx->srv.recs[2].auth, "Bearer tok-1");
	assert_int_equal(patch_until_token(fx, "Bearer tok-2"), 2);

	/* Short lifetimes refresh at half-life: 40 s -> 20 s. And a token past its expiry
	 * is never sent: the request waits for the new one. */
	fx->srv.expires_in = 40;
	fx->now += 301 * 1000; /* tok-2 (fetched at +241 s, 300 s life) has expired */
	patch(fx, 5);
	wait_done(fx, fx->done.n + 1);
	assert_int_equal(fx->srv.n_token, 3);
	assert_string_equal(fx->srv.recs[fx->srv.n_recs - 1].auth, "Bearer tok-3");
	fx->now += 19 * 1000;
	patch(fx, 6);
	wait_done(fx, fx->done.n + 1);
	assert_int_equal(fx->srv.n_token, 3);
	fx->now += 2 * 1000;
	patch(fx, 7);
	wait_done(fx, fx->done.n + 1);
	assert_string_equal(fx->srv.recs[fx->srv.n_recs - 1].auth, "Bearer tok-3");
	assert_int_equal(patch_until_token(fx, "Bearer tok-4"), 4);
	for (int i = 0; i < fx->done.n; i++)
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_OK);
}

static void
test_oauth_401_refreshes_once(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = oauth_opts(fx);
	const int n = 10;

	new_client(fx, &o);
	patch(fx, 1);
	wait_done(fx, 1);
	assert_int_equal(fx->srv.n_token, 1);

	/* The server revokes tok-1: ten requests in flight all get 401 with it. One new
	 * token is fetched, and each request is resent once with it. */
	fx->srv.min_valid_token = 2;
	for (int i = 0; i < n; i++)
		patch(fx, 100 + i);
	wait_done(fx, 1 + n);
	for (int i = 1; i <= n; i++) {
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_OK);
		assert_int_equal(fx->done.res[i].http_status, 204);
	}
	assert_int_equal(fx->srv.n_token, 2);
	assert_int_equal(fx->srv.n_recs, 1 + 2 * n);
	int old = 0, fresh = 0;
	for (int i = 1; i < fx->srv.n_recs; i++) {
		if (strcmp(fx->srv.recs[i].auth, "Bearer tok-1") == 0)
			old++;
		else if (strcmp(fx->srv.recs[i].auth, "Bearer tok-2") == 0)
			fresh++;
	}
	assert_int_equal(old, n);
	assert_int_equal(fresh, n);
}

static void
test_oauth_second_401_is_auth(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = oauth_opts(fx);

	new_client(fx, &o);
	fx->srv.reject_bearer = true;
	patch(fx, 1);
	wait_done(fx, 1);
	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_AUTH);
	assert_int_equal(fx->done.res[0].http_status, 401);
	assert_int_equal(fx->srv.n_token, 2);
	assert_int_equal(fx->srv.n_recs, 2);
	assert_string_equal(fx->srv.recs[0].auth, "Bearer tok-1");
	assert_string_equal(fx->srv.recs[1].auth, "Bearer tok-2");

	/* 403 (missing privileges) is not a token problem: no refresh. */
	fx->srv.reject_bearer = false;
	fx->srv.status = 403;
	patch(fx, 2);
	wait_done(fx, 2);
	assert_int_equal(fx->done.res[1].outcome, PUSHPLAN_AUTH);
	assert_int_equal(fx->srv.n_token, 2);
	assert_int_equal(fx->srv.n_recs, 3);
}

static void
test_oauth_token_endpoint_failures(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = oauth_opts(fx);

	new_client(fx, &o);
	/* Refused credentials: every waiting request is an AUTH failure, none is sent. */
	fx->srv.token_status = 401;
	fx->srv.token_body = "{\"error\":\"invalid_client\"}";
	for (int i = 0; i < 5; i++)
		patch(fx, i + 1);
	wait_done(fx, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_AUTH);
		assert_int_equal(fx->done.res[i].http_status, 401);
		assert_string_equal(fx->done.res[i].message, "token endpoint: HTTP 401: invalid_client");
	}
	assert_int_equal(fx->srv.n_token, 1);
	assert_int_equal(fx->srv.n_recs, 0);

	fx->srv.token_status = 400;
	fx->srv.token_body = "{\"error\":\"unsupported_grant_type\"}";
	patch(fx, 6);
	wait_done(fx, 6);
	assert_int_equal(fx->done.res[5].outcome, PUSHPLAN_AUTH);
	assert_int_equal(fx->srv.n_token, 2);

	/* A transient failure: RETRY, with the endpoint's Retry-After. */
	fx->srv.token_status = 503;
	fx->srv.token_body = NULL;
	for (int i = 0; i < 3; i++)
		patch(fx, 10 + i);
	wait_done(fx, 9);
	for (int i = 6; i < 9; i++) {
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_RETRY);
		assert_string_equal(fx->done.res[i].message, "token endpoint: HTTP 503");
	}
	assert_int_equal(fx->srv.n_token, 3);

	/* A 200 that is not a usable token reply: RETRY, never sent with garbage. */
	fx->srv.token_status = 201;
	fx->srv.token_body = "{\"token\":\"nope\"}";
	patch(fx, 20);
	wait_done(fx, 10);
	assert_int_equal(fx->done.res[9].outcome, PUSHPLAN_RETRY);
	assert_non_null(strstr(fx->done.res[9].message, "access_token"));

	/* Recovered: the next request fetches and succeeds. */
	fx->srv.token_status = 200;
	patch(fx, 21);
	wait_done(fx, 11);
	assert_int_equal(fx->done.res[10].outcome, PUSHPLAN_OK);
	assert_int_equal(fx->srv.n_recs, 1);
}

static void
test_connection_refused(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char url[64];
	int fd;

	/* A bound socket that never listens: connecting to it is refused, with no race. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sin.sin_port));
	o.base_url = url;
	new_client(fx, &o);
	patch(fx, 1);
	wait_done(fx, 1);
	close(fd);
	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_RETRY);
	assert_int_equal(fx->done.res[0].curl_code, CURLE_COULDNT_CONNECT);
	assert_int_equal(fx->done.res[0].http_status, 0);
	assert_true(strlen(fx->done.res[0].message) > 0);
	assert_non_null(strstr(fx->done.res[0].message, "onnect"));
}

static void
test_connection_reuse(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	const int n = 500;

	o.max_host_connections = 8;
	o.max_total_connections = 16;
	int64_t t0;

	new_client(fx, &o);
	t0 = clock_mono_ms();
	for (int i = 0; i < n; i++)
		patch(fx, i + 1);
	wait_done(fx, n);
	for (int i = 0; i < n; i++)
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_OK);
	assert_int_equal(fx->srv.n_recs, n);
	/* Figures for the reader, not a timing assertion. */
	double ms = (double)(clock_mono_ms() - t0);
	printf("# %d requests over %d TCP connections (max 8 per host) in %.1f ms, %.0f req/s "
	       "(client and server share one thread)\n", n, fx->srv.accepted, ms, n / (ms / 1e3));
	assert_true(fx->srv.accepted >= 1);
	assert_true(fx->srv.accepted <= 8);

	/* The connections stay cached: another round opens none. */
	int before = fx->srv.accepted;
	for (int i = 0; i < 50; i++)
		patch(fx, i + 1);
	wait_done(fx, n + 50);
	assert_int_equal(fx->srv.accepted, before);
}

static void
test_request_timeout(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);

	o.request_timeout_ms = 300;
	new_client(fx, &o);
	fx->srv.hang = true;
	patch(fx, 1);
	wait_done(fx, 1);
	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_RETRY);
	assert_int_equal(fx->done.res[0].curl_code, CURLE_OPERATION_TIMEDOUT);
	assert_true(fx->done.res[0].elapsed_ms >= 290);
	assert_true(fx->done.res[0].elapsed_ms < 3000);
	assert_true(strlen(fx->done.res[0].message) > 0);
}

static void
test_cancel_all(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);

	o.max_host_connections = 4;
	new_client(fx, &o);
	fx->srv.hang = true;
	for (int i = 0; i < 12; i++)
		patch(fx, i + 1);
	/* Four reach the server; eight wait inside curl for a connection. */
	want_recs = 4;
	assert_true(run_until(fx->base, recs_reached, &fx->srv, HARD_TIMEOUT_MS));
	assert_int_equal(fx->done.n, 0);
	assert_int_equal(extrahop_in_flight(fx->eh), 12);
	extrahop_cancel_all(fx->eh);
	assert_int_equal(fx->done.n, 12);
	assert_int_equal(extrahop_in_flight(fx->eh), 0);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_RETRY);
		assert_int_equal(fx->done.res[i].curl_code, CURLE_ABORTED_BY_CALLBACK);
		assert_string_equal(fx->done.res[i].message, "cancelled");
	}

	/* The client still works afterwards. */
	fx->srv.hang = false;
	patch(fx, 99);
	wait_done(fx, 13);
	assert_int_equal(fx->done.res[12].outcome, PUSHPLAN_OK);
}

static bool gate_open_flag;
static bool
test_gate(const void *arg)
{
	(void)arg;
	return gate_open_flag;
}

/* A frozen active instance wakes with requests queued in libcurl after its lease ran
 * out: those still waiting for a connection when the gate closes are never sent. */
static void
test_gate_closes_before_the_wire(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);

	o.max_host_connections = 4;
	new_client(fx, &o);
	gate_open_flag = true;
	extrahop_set_gate(fx->eh, test_gate, NULL);
	fx->srv.hang = true;
	for (int i = 0; i < 12; i++)
		patch(fx, i + 1);
	/* Four reach the server; eight wait inside curl for a connection. */
	want_recs = 4;
	assert_true(run_until(fx->base, recs_reached, &fx->srv, HARD_TIMEOUT_MS));
	gate_open_flag = false;
	/* The four on the wire are answered; their connections free up for the eight. */
	fx->srv.hang = false;
	for (int i = 0; i < fx->srv.n_hung; i++)
		reply(fx->srv.hung[i], 204, NULL);
	fx->srv.n_hung = 0;
	wait_done(fx, 12);
	assert_int_equal(fx->srv.n_recs, 4);
	for (int i = 0; i < 12; i++) {
		if (fx->done.res[i].curl_code == CURLE_OK) {
			assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_OK);
			continue;
		}
		assert_int_equal(fx->done.res[i].curl_code, CURLE_ABORTED_BY_CALLBACK);
		assert_int_equal(pushplan_transport_from_curl(fx->done.res[i].curl_code),
		    PUSHPLAN_CANCELLED);
	}

	/* Open again: requests go out as before. */
	gate_open_flag = true;
	patch(fx, 99);
	wait_done(fx, 13);
	assert_int_equal(fx->done.res[12].outcome, PUSHPLAN_OK);
	assert_int_equal(fx->srv.n_recs, 5);
}

static void
test_cancel_while_waiting_for_token(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = oauth_opts(fx);

	new_client(fx, &o);
	fx->srv.token_hang = true;
	for (int i = 0; i < 5; i++)
		patch(fx, i + 1);
	assert_int_equal(extrahop_in_flight(fx->eh), 5);
	extrahop_cancel_all(fx->eh);
	assert_int_equal(fx->done.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_RETRY);
		assert_int_equal(fx->done.res[i].curl_code, CURLE_ABORTED_BY_CALLBACK);
	}
	assert_int_equal(extrahop_in_flight(fx->eh), 0);
	assert_int_equal(fx->srv.n_recs, 0);

	/* A new request starts a new fetch. */
	fx->srv.token_hang = false;
	patch(fx, 6);
	wait_done(fx, 6);
	assert_int_equal(fx->done.res[5].outcome, PUSHPLAN_OK);
}

static void
resubmit_cb(const pushplan_reply_t *res, void *arg)
{
	fixture_t *fx = arg;

	on_done(res, &fx->done);
	if (fx->done.resubmit_left > 0) {
		fx->done.resubmit_left--;
		patch_cb(fx, 1000 + fx->done.resubmit_left, resubmit_cb, fx);
	}
}

static void
refused_cb(const pushplan_reply_t *res, void *arg)
{
	fixture_t *fx = arg;
	fields_t f;
	bson_error_t err;

	on_done(res, &fx->done);
	/* During destroy a new submission is refused, synchronously. */
	fields_init(&f);
	assert_int_equal(extrahop_patch_detection(fx->eh, 77, &f, FIELDS_STATUS, 0, on_done,
	                     &fx->done, &err), -1);
	assert_non_null(strstr(err.message, "shutting down"));
}

/* A request whose claim ends before a reply could come is not sent (done_by_ms less
 * than request_timeout_ms away); one with room is. */
static void
test_done_by_bounds_the_send(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	fields_t f;
	bson_error_t err;
	int64_t now = clock_wall_ms();

	o.request_timeout_ms = 5000;
	new_client(fx, &o);
	fields_init(&f);
	f.status = FIELDS_STATUS_NEW;
	assert_int_equal(extrahop_patch_detection(fx->eh, 1, &f, FIELDS_STATUS, now + 4000, on_done,
	                     &fx->done, &err), 0);
	wait_done(fx, 1);
	assert_int_equal(fx->done.res[0].curl_code, CURLE_ABORTED_BY_CALLBACK);
	assert_int_equal(fx->done.res[0].http_status, 0);
	assert_string_equal(fx->done.res[0].message, "not sent: its claim would expire before a "
	    "reply could come; a fresh claim sends it");
	assert_int_equal(fx->srv.n_recs, 0);
	assert_int_equal(extrahop_patch_detection(fx->eh, 2, &f, FIELDS_STATUS, now + 60000, on_done,
	                     &fx->done, &err), 0);
	wait_done(fx, 2);
	assert_int_equal(fx->done.res[1].outcome, PUSHPLAN_OK);
	assert_int_equal(fx->srv.n_recs, 1);
}

static void
test_destroy_with_requests_in_flight(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);

	new_client(fx, &o);
	fx->srv.hang = true;
	for (int i = 0; i < 3; i++)
		patch_cb(fx, i, refused_cb, fx);
	want_recs = 3;
	assert_true(run_until(fx->base, recs_reached, &fx->srv, HARD_TIMEOUT_MS));
	extrahop_destroy(fx->eh);
	fx->eh = NULL;
	assert_int_equal(fx->done.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_RETRY);
		assert_int_equal(fx->done.res[i].curl_code, CURLE_ABORTED_BY_CALLBACK);
	}
}

static void
test_submit_from_callback(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);

	new_client(fx, &o);
	fx->done.resubmit_left = 5;
	patch_cb(fx, 1, resubmit_cb, fx);
	wait_done(fx, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_OK);
	assert_int_equal(fx->srv.n_recs, 6);
	assert_int_equal(fx->srv.accepted, 1);
	assert_int_equal(extrahop_in_flight(fx->eh), 0);
}

static void
test_bad_options_and_arguments(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o;
	bson_error_t err;
	fields_t f;

	o = apikey_opts(fx);
	o.base_url = "ftp://example.com";
	assert_null(extrahop_new(fx->base, &o, &err));
	assert_non_null(strstr(err.message, "http"));
	o.base_url = "not a url";
	assert_null(extrahop_new(fx->base, &o, &err));
	o.base_url = "";
	assert_null(extrahop_new(fx->base, &o, &err));
	o = apikey_opts(fx);
	o.api_key = "key\r\nX-Evil: 1";
	assert_null(extrahop_new(fx->base, &o, &err));
	o.api_key = NULL;
	assert_null(extrahop_new(fx->base, &o, &err));
	o = oauth_opts(fx);
	o.client_id = "a:b";
	assert_null(extrahop_new(fx->base, &o, &err));
	o = oauth_opts(fx);
	o.client_secret = "";
	assert_null(extrahop_new(fx->base, &o, &err));
	o = oauth_opts(fx);
	o.token_url = NULL;
	assert_null(extrahop_new(fx->base, &o, &err));
	o = apikey_opts(fx);
	o.request_timeout_ms = -1;
	assert_null(extrahop_new(fx->base, &o, &err));

	o = apikey_opts(fx);
	new_client(fx, &o);
	fields_init(&f);
	assert_int_equal(extrahop_patch_detection(fx->eh, -1, &f, FIELDS_ALL, 0, on_done, &fx->done, &err), -1);
	assert_int_equal(extrahop_patch_detection(fx->eh, 1, &f, 0, 0, on_done, &fx->done, &err), -1);
	assert_int_equal(extrahop_in_flight(fx->eh), 0);
	assert_int_equal(fx->done.n, 0);
}

/* ------------------------------------------------------------------ search */

typedef struct found {
	int n;
	pushplan_reply_t res[16];
	bool had_page[16];  /* detections was not NULL */
	uint32_t keys[16];  /* its number of elements */
	char json[16][512]; /* its canonical JSON, cut */
	bool keys_in_order[16]; /* "0", "1", ... in order */
} found_t;

static void
on_found(const pushplan_reply_t *res, const bson_t *detections, void *arg)
{
	found_t *f = arg;
	int i = f->n;

	assert_true(i < (int)(sizeof(f->res) / sizeof(f->res[0])));
	f->res[i] = *res;
	f->had_page[i] = detections != NULL;
	if (detections != NULL) {
		bson_iter_t it;
		uint32_t k = 0;
		char *j = bson_as_relaxed_extended_json(detections, NULL);

		f->keys_in_order[i] = true;
		assert_true(bson_iter_init(&it, detections));
		while (bson_iter_next(&it)) {
			char want[16];

			snprintf(want, sizeof(want), "%u", k++);
			if (strcmp(bson_iter_key(&it), want) != 0)
				f->keys_in_order[i] = false;
		}
		f->keys[i] = k;
		snprintf(f->json[i], sizeof(f->json[i]), "%s", j);
		bson_free(j);
	}
	f->n++;
}

static bool
found_reached(void *arg)
{
	return ((found_t *)arg)->n >= want_n;
}

static void
wait_found(fixture_t *fx, found_t *f, int n)
{
	want_n = n;
	if (!run_until(fx->base, found_reached, f, HARD_TIMEOUT_MS))
		fail_msg("only %d of %d search callbacks within %d ms", f->n, n, HARD_TIMEOUT_MS);
}

static void
search(fixture_t *fx, const char *body, found_t *f)
{
	bson_error_t err;

	if (extrahop_search(fx->eh, body, on_found, f, &err) != 0)
		fail_msg("search: %s", err.message);
}

/* A valid JSON array of exactly n bytes (n >= 2): objects, then spaces to fill. */
static char *
array_of_len(size_t n)
{
	char *a = malloc(n + 1);
	size_t len = 1;
	int id = 0;

	assert_non_null(a);
	a[0] = '[';
	for (;;) {
		char item[32];
		int k = snprintf(item, sizeof(item), "%s{\"id\":%d}", id > 0 ? "," : "", id);

		if (len + (size_t)k + 1 > n)
			break;
		memcpy(a + len, item, (size_t)k);
		len += (size_t)k;
		id++;
	}
	memset(a + len, ' ', n - 1 - len);
	a[n - 1] = ']';
	a[n] = '\0';
	return a;
}

#define PAGE3 "[{\"id\": 11, \"title\": \"SMB brute force\", \"status\": null, " \
	"\"mod_time\": 1700000000001, \"participants\": [{\"role\": \"offender\"}]}, " \
	"{\"id\": 12, \"ticket_id\": \"JIRA-1\", \"status\": \"in_progress\"}, " \
	"{\"id\": 4294967297, \"assignee\": \"Zo\\u00eb\"}]"

static void
test_search_page_exact_request(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	found_t f = { 0 };
	const char *body = "{\"mod_time\": 1700000000000, \"limit\": 3, \"offset\": 0, "
	                   "\"sort\": [{\"field\": \"mod_time\", \"direction\": \"asc\"}]}";
	const rec_t *r;

	new_client(fx, &o);
	fx->srv.search_body = PAGE3;
	search(fx, body, &f);
	/* Never completes inside the submitting call. */
	assert_int_equal(f.n, 0);
	assert_int_equal(extrahop_in_flight(fx->eh), 1);
	wait_found(fx, &f, 1);

	assert_int_equal(f.res[0].outcome, PUSHPLAN_OK);
	assert_int_equal(f.res[0].http_status, 200);
	assert_int_equal(f.res[0].curl_code, CURLE_OK);
	assert_int_equal(f.res[0].retry_after_ms, -1);
	assert_string_equal(f.res[0].message, "");
	assert_true(f.had_page[0]);
	assert_int_equal(f.keys[0], 3);
	assert_true(f.keys_in_order[0]);
	assert_string_equal(f.json[0],
	    "{ \"0\" : { \"id\" : 11, \"title\" : \"SMB brute force\", \"status\" : null, "
	    "\"mod_time\" : 1700000000001, \"participants\" : [ { \"role\" : \"offender\" } ] }, "
	    "\"1\" : { \"id\" : 12, \"ticket_id\" : \"JIRA-1\", \"status\" : \"in_progress\" }, "
	    "\"2\" : { \"id\" : 4294967297, \"assignee\" : \"Zo\xc3\xab\" } }");
	assert_int_equal(extrahop_in_flight(fx->eh), 0);

	assert_int_equal(fx->srv.n_recs, 1);
	r = &fx->srv.recs[0];
	assert_string_equal(r->method, "POST");
	assert_string_equal(r->path, "/api/v1/detections/search");
	assert_string_equal(r->body, body);
	assert_string_equal(r->auth, "ExtraHop apikey=s3cret-key");
	assert_string_equal(r->ctype, "application/json");
	assert_string_equal(r->accept, "application/json");
	assert_string_equal(r->ua, "ticketsync/" TICKETSYNC_VERSION);
	assert_false(r->has_expect);

	/* PATCHes and searches share the client and its connection. */
	patch(fx, 5);
	wait_done(fx, 1);
	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_OK);
	assert_string_equal(fx->srv.recs[1].method, "PATCH");
	assert_int_equal(fx->srv.accepted, 1);
}

static void
test_search_empty_page(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	found_t f = { 0 };
	char base[96];

	/* A base that already names the API root, as ExtraHop's docs write it. */
	snprintf(base, sizeof(base), "%s/api/v1/", fx->srv.base_url);
	o.base_url = base;
	new_client(fx, &o);
	fx->srv.search_body = "[]";
	search(fx, "{}", &f);
	wait_found(fx, &f, 1);
	fx->srv.search_body = " \r\n[ ]\n";
	search(fx, "  {\"limit\": 10}", &f);
	wait_found(fx, &f, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(f.res[i].outcome, PUSHPLAN_OK);
		assert_true(f.had_page[i]);
		assert_int_equal(f.keys[i], 0);
		assert_string_equal(f.json[i], "{ }");
		assert_string_equal(fx->srv.recs[i].path, "/api/v1/detections/search");
	}
	assert_string_equal(fx->srv.recs[1].body, "  {\"limit\": 10}");
}

static void
test_search_reply_not_an_array(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	found_t f = { 0 };

	new_client(fx, &o);
	fx->srv.search_body = "{\"total\": 3, \"detections\": []}";
	search(fx, "{}", &f);
	wait_found(fx, &f, 1);
	assert_int_equal(f.res[0].outcome, PUSHPLAN_RETRY);
	assert_int_equal(f.res[0].http_status, 200);
	assert_int_equal(f.res[0].curl_code, CURLE_OK);
	assert_false(f.had_page[0]);
	assert_string_equal(f.res[0].message,
	    "the search reply is not a JSON array (it starts \"{\"total\": 3, \"detections\": []}\")");

	/* A proxy's HTML page: its start, cut and marked, control characters blanked. */
	fx->srv.search_body = "\n<html>\n<head><title>502 Bad Gateway</title></head>\x01<body>"
	                      "nginx</body></html>";
	search(fx, "{}", &f);
	wait_found(fx, &f, 2);
	assert_int_equal(f.res[1].outcome, PUSHPLAN_RETRY);
	assert_int_equal(f.res[1].http_status, 200);
	assert_false(f.had_page[1]);
	assert_string_equal(f.res[1].message,
	    "the search reply is not a JSON array (it starts \"<html> <head><title>502 Bad G...\")");

	/* Cut short, and empty. */
	fx->srv.search_body = "[{\"id\": 1}, {\"id\":";
	search(fx, "{}", &f);
	wait_found(fx, &f, 3);
	assert_int_equal(f.res[2].outcome, PUSHPLAN_RETRY);
	assert_false(f.had_page[2]);
	assert_non_null(strstr(f.res[2].message, "the search reply is not valid JSON: "));
	fx->srv.search_body = NULL;
	search(fx, "{}", &f);
	wait_found(fx, &f, 4);
	assert_int_equal(f.res[3].outcome, PUSHPLAN_RETRY);
	assert_string_equal(f.res[3].message, "the search reply is empty, not a JSON array");

	/* A 4xx keeps the PATCH rules: classified, ExtraHop's message. */
	fx->srv.search_status = 400;
	fx->srv.search_body = "{\"error_message\": \"Invalid sort field\"}";
	search(fx, "{\"sort\": [{\"field\": \"nope\"}]}", &f);
	wait_found(fx, &f, 5);
	assert_int_equal(f.res[4].outcome, PUSHPLAN_REJECTED);
	assert_int_equal(f.res[4].http_status, 400);
	assert_string_equal(f.res[4].message, "Invalid sort field");
	assert_false(f.had_page[4]);
}

static void
test_search_rate_limited(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	found_t f = { 0 };

	new_client(fx, &o);
	fx->srv.search_status = 429;
	fx->srv.retry_after = "7";
	fx->srv.search_body = "{\"error_message\": \"Too many requests\"}";
	search(fx, "{}", &f);
	wait_found(fx, &f, 1);
	assert_int_equal(f.res[0].outcome, PUSHPLAN_RETRY);
	assert_int_equal(f.res[0].http_status, 429);
	assert_int_equal(f.res[0].retry_after_ms, 7000);
	assert_string_equal(f.res[0].message, "Too many requests");
	assert_false(f.had_page[0]);

	fx->srv.search_status = 503;
	fx->srv.retry_after = NULL;
	fx->srv.search_body = NULL;
	search(fx, "{}", &f);
	wait_found(fx, &f, 2);
	assert_int_equal(f.res[1].outcome, PUSHPLAN_RETRY);
	assert_int_equal(f.res[1].retry_after_ms, -1);
	assert_string_equal(f.res[1].message, "HTTP 503");
}

static void
test_search_reply_too_long(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	found_t f = { 0 };
	const char *want = "the search reply is longer than 1000 bytes (the search_body_max bound): "
	                   "ask for fewer detections per page";

	o.search_body_max = 1000;
	new_client(fx, &o);
	/* Exactly the bound: accepted. */
	fx->srv.search_big = array_of_len(1000);
	search(fx, "{}", &f);
	wait_found(fx, &f, 1);
	assert_int_equal(f.res[0].outcome, PUSHPLAN_OK);
	assert_int_equal(f.keys[0], 100); /* ids 0..99 fill 990 bytes */

	/* One byte more, announced by Content-Length: cut off at once. */
	free(fx->srv.search_big);
	fx->srv.search_big = array_of_len(1001);
	search(fx, "{}", &f);
	wait_found(fx, &f, 2);
	assert_int_equal(f.res[1].outcome, PUSHPLAN_RETRY);
	assert_int_equal(f.res[1].http_status, 200);
	assert_int_equal(f.res[1].curl_code, CURLE_FILESIZE_EXCEEDED);
	assert_string_equal(f.res[1].message, want);
	assert_false(f.had_page[1]);

	/* Chunked (no length up front): found once the bound is passed. */
	free(fx->srv.search_big);
	fx->srv.search_big = array_of_len(5000);
	fx->srv.search_chunked = true;
	search(fx, "{}", &f);
	wait_found(fx, &f, 3);
	assert_int_equal(f.res[2].outcome, PUSHPLAN_RETRY);
	assert_int_equal(f.res[2].http_status, 200);
	assert_string_equal(f.res[2].message, want);
	assert_false(f.had_page[2]);

	/* Chunked within the bound is fine, and the client still works. */
	free(fx->srv.search_big);
	fx->srv.search_big = array_of_len(999);
	search(fx, "{}", &f);
	wait_found(fx, &f, 4);
	assert_int_equal(f.res[3].outcome, PUSHPLAN_OK);
	assert_true(f.keys[3] > 0);
}

static void
test_search_default_bound_is_large(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	found_t f = { 0 };

	/* A page far beyond EXTRAHOP_BODY_MAX (error bodies' bound) is whole. */
	new_client(fx, &o);
	fx->srv.search_big = array_of_len(1024 * 1024);
	search(fx, "{\"limit\": 20000}", &f);
	wait_found(fx, &f, 1);
	assert_int_equal(f.res[0].outcome, PUSHPLAN_OK);
	assert_true(f.keys[0] > 70000);
	assert_true(f.keys_in_order[0]);
}

static void
test_search_oauth_waits_for_the_token(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = oauth_opts(fx);
	found_t f = { 0 };

	new_client(fx, &o);
	fx->srv.search_body = "[{\"id\": 1}]";
	/* Searches and PATCHes submitted before any token: one fetch serves them all. */
	search(fx, "{\"offset\": 0}", &f);
	patch(fx, 1);
	search(fx, "{\"offset\": 1}", &f);
	patch(fx, 2);
	assert_int_equal(extrahop_in_flight(fx->eh), 4);
	assert_int_equal(fx->srv.n_token, 0);
	wait_found(fx, &f, 2);
	wait_done(fx, 2);
	assert_int_equal(fx->srv.n_token, 1);
	assert_int_equal(fx->srv.n_recs, 4);
	for (int i = 0; i < 4; i++)
		assert_string_equal(fx->srv.recs[i].auth, "Bearer tok-1");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(f.res[i].outcome, PUSHPLAN_OK);
		assert_int_equal(f.keys[i], 1);
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_OK);
	}

	/* tok-1 revoked: the search gets a 401, a new token, and is resent once. */
	fx->srv.min_valid_token = 2;
	search(fx, "{\"offset\": 2}", &f);
	wait_found(fx, &f, 3);
	assert_int_equal(f.res[2].outcome, PUSHPLAN_OK);
	assert_true(f.had_page[2]);
	assert_int_equal(fx->srv.n_token, 2);
	assert_int_equal(fx->srv.n_recs, 6);
	assert_string_equal(fx->srv.recs[4].auth, "Bearer tok-1");
	assert_string_equal(fx->srv.recs[5].auth, "Bearer tok-2");
	assert_string_equal(fx->srv.recs[5].body, "{\"offset\": 2}");

	/* Refused credentials fail a waiting search like a PATCH; nothing is sent. */
	fx->srv.reject_bearer = true;
	fx->srv.token_status = 401;
	fx->srv.token_body = "{\"error\":\"invalid_client\"}";
	search(fx, "{}", &f);
	wait_found(fx, &f, 4);
	assert_int_equal(f.res[3].outcome, PUSHPLAN_AUTH);
	assert_false(f.had_page[3]);

	/* Cancelled while waiting for a token. */
	fx->srv.reject_bearer = false;
	fx->srv.token_hang = true;
	/* The refused fetch left no token: the search waits for the (hanging) fetch. */
	search(fx, "{}", &f);
	assert_int_equal(extrahop_in_flight(fx->eh), 1);
	extrahop_cancel_all(fx->eh);
	assert_int_equal(f.n, 5);
	assert_int_equal(f.res[4].outcome, PUSHPLAN_RETRY);
	assert_int_equal(f.res[4].curl_code, CURLE_ABORTED_BY_CALLBACK);
	assert_string_equal(f.res[4].message, "cancelled");
	assert_false(f.had_page[4]);
}

static void
test_search_gate_closed_sends_nothing(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	found_t f = { 0 };

	new_client(fx, &o);
	gate_open_flag = false;
	extrahop_set_gate(fx->eh, test_gate, NULL);
	search(fx, "{}", &f);
	assert_int_equal(f.n, 0);
	wait_found(fx, &f, 1);
	assert_int_equal(f.res[0].outcome, PUSHPLAN_RETRY);
	assert_int_equal(f.res[0].curl_code, CURLE_ABORTED_BY_CALLBACK);
	assert_int_equal(f.res[0].http_status, 0);
	assert_string_equal(f.res[0].message, "cancelled");
	assert_false(f.had_page[0]);
	assert_int_equal(fx->srv.n_recs, 0);

	gate_open_flag = true;
	search(fx, "{}", &f);
	wait_found(fx, &f, 2);
	assert_int_equal(f.res[1].outcome, PUSHPLAN_OK);
	assert_int_equal(fx->srv.n_recs, 1);
}

static void
test_search_bad_arguments(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	found_t f = { 0 };
	bson_error_t err;

	new_client(fx, &o);
	assert_int_equal(extrahop_search(NULL, "{}", on_found, &f, &err), -1);
	assert_int_equal(err.code, EXTRAHOP_ERR_ARG);
	assert_int_equal(extrahop_search(fx->eh, NULL, on_found, &f, &err), -1);
	assert_int_equal(err.code, EXTRAHOP_ERR_ARG);
	assert_int_equal(extrahop_search(fx->eh, "{}", NULL, &f, &err), -1);
	assert_int_equal(err.code, EXTRAHOP_ERR_ARG);
	const char *bad[] = { "", "   ", "[{}]", "null", "\"x\"", "{\"limit\": ", "{limit: 1}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(extrahop_search(fx->eh, bad[i], on_found, &f, &err), -1);
		assert_int_equal(err.domain, ERROR_DOMAIN);
		assert_int_equal(err.code, EXTRAHOP_ERR_REQUEST);
		assert_non_null(strstr(err.message, "extrahop: search body: not"));
	}
	assert_int_equal(extrahop_search(fx->eh, "[1]", on_found, &f, &err), -1);
	assert_string_equal(err.message, "extrahop: search body: not a JSON object");
	assert_int_equal(extrahop_in_flight(fx->eh), 0);
	assert_int_equal(f.n, 0);
	assert_int_equal(fx->srv.n_recs, 0);
}

static void
search_refused_cb(const pushplan_reply_t *res, const bson_t *detections, void *arg)
{
	fixture_t *fx = arg;
	bson_error_t err;
	static found_t ignored;

	(void)detections;
	on_done(res, &fx->done);
	assert_int_equal(extrahop_search(fx->eh, "{}", on_found, &ignored, &err), -1);
	assert_int_equal(err.code, EXTRAHOP_ERR_CLOSING);
}

static void
test_search_destroy_in_flight(void **state)
{
	fixture_t *fx = *state;
	extrahop_opts_t o = apikey_opts(fx);
	bson_error_t err;

	new_client(fx, &o);
	fx->srv.hang = true;
	assert_int_equal(extrahop_search(fx->eh, "{}", search_refused_cb, fx, &err), 0);
	want_recs = 1;
	assert_true(run_until(fx->base, recs_reached, &fx->srv, HARD_TIMEOUT_MS));
	extrahop_destroy(fx->eh);
	fx->eh = NULL;
	assert_int_equal(fx->done.n, 1);
	assert_int_equal(fx->done.res[0].curl_code, CURLE_ABORTED_BY_CALLBACK);
}

/* ------------------------------------------------------------------ curlev alone */

typedef struct raw {
	int n;
	CURLcode rc[16];
	long status[16];
	int rounds_left;
	curlev_t *cev;
	char url[128];
} raw_t;

static size_t
discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static void
raw_done(CURL *easy, CURLcode rc, void *arg)
{
	raw_t *r = arg;
	bson_error_t err;

	r->rc[r->n] = rc;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status[r->n]);
	r->n++;
	/* The callback owns the handle: reuse it for another round, or clean it. */
	if (r->rounds_left > 0) {
		r->rounds_left--;
		assert_int_equal(curlev_add(r->cev, easy, raw_done, r, &err), 0);
		return;
	}
	curl_easy_cleanup(easy);
}

static bool
raw_reached(void *arg)
{
	return ((raw_t *)arg)->n >= want_n;
}

static CURL *
raw_easy(const char *url)
{
	CURL *e = curl_easy_init();

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	return e;
}

static void
test_curlev_handle_ownership_and_cancel(void **state)
{
	fixture_t *fx = *state;
	bson_error_t err;
	raw_t r = { 0 };
	curlev_opts_t co = { 4, 2 };

	r.cev = curlev_new(fx->base, &co, &err);
	assert_non_null(r.cev);
	snprintf(r.url, sizeof(r.url), "%s/api/v1/detections/1", fx->srv.base_url);
	fx->srv.api_key = NULL; /* bearer check fails -> 401, fine for a raw GET */
	r.rounds_left = 2;
	assert_int_equal(curlev_add(r.cev, raw_easy(r.url), raw_done, &r, &err), 0);
	assert_int_equal(curlev_in_flight(r.cev), 1);
	want_n = 3;
	assert_true(run_until(fx->base, raw_reached, &r, HARD_TIMEOUT_MS));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r.rc[i], CURLE_OK);
		assert_int_equal(r.status[i], 401);
	}
	assert_int_equal(curlev_in_flight(r.cev), 0);
	assert_int_equal(fx->srv.accepted, 1);

	/* Cancel: in-flight (two at the server, host limit 2) and queued transfers all
	 * complete at once with CURLE_ABORTED_BY_CALLBACK. */
	fx->srv.hang = true;
	for (int i = 0; i < 4; i++)
		assert_int_equal(curlev_add(r.cev, raw_easy(r.url), raw_done, &r, &err), 0);
	want_recs = fx->srv.n_recs + 2;
	assert_true(run_until(fx->base, recs_reached, &fx->srv, HARD_TIMEOUT_MS));
	assert_int_equal(curlev_in_flight(r.cev), 4);
	curlev_cancel_all(r.cev);
	assert_int_equal(r.n, 7);
	for (int i = 3; i < 7; i++)
		assert_int_equal(r.rc[i], CURLE_ABORTED_BY_CALLBACK);
	assert_int_equal(curlev_in_flight(r.cev), 0);

	/* A NULL easy handle is refused; destroy with nothing in flight. */
	assert_int_equal(curlev_add(r.cev, NULL, raw_done, &r, &err), -1);
	curlev_destroy(r.cev);
	curlev_destroy(NULL);
}


/* ------------------------------------------------------------------ TLS */

typedef struct tls_env {
	char dir[64];      /* temporary directory */
	char ca_file[128]; /* the server's self-signed certificate, PEM */
	char ca_path[128]; /* a c_rehash style directory holding it */
	char link[192];
	SSL_CTX *ctx;
} tls_env_t;

/* A fresh key and self-signed certificate for san ("IP:127.0.0.1" ...), a server
 * context using them, and the certificate written where curl can be told to trust it. */
static void
tls_env_make(tls_env_t *t, const char *san)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	FILE *f;

	assert_non_null(key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"ticketsync test",
	    -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);

	snprintf(t->dir, sizeof(t->dir), "/tmp/ts-tls-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->ca_file, sizeof(t->ca_file), "%s/ca.pem", t->dir);
	snprintf(t->ca_path, sizeof(t->ca_path), "%s/certs", t->dir);
	assert_int_equal(mkdir(t->ca_path, 0700), 0);
	f = fopen(t->ca_file, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(t->link, sizeof(t->link), "%s/%08lx.0", t->ca_path, X509_subject_name_hash(x));
	assert_int_equal(symlink(t->ca_file, t->link), 0);

	t->ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(t->ctx);
	assert_int_equal(SSL_CTX_use_certificate(t->ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(t->ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void
tls_env_free(tls_env_t *t)
{
	unlink(t->link);
	unlink(t->ca_file);
	rmdir(t->ca_path);
	rmdir(t->dir);
	SSL_CTX_free(t->ctx);
}

/* Run n OAuth2 PATCHes against a TLS server trusted as told; returns nothing, results
 * land in fx->done. The client is destroyed before the server. */
static void
tls_round(fixture_t *fx, const char *san, const char *ca_file, const char *ca_path, int n,
    srv_t *tls_out)
{
	tls_env_t t;
	extrahop_opts_t o = { 0 };

	tls_env_make(&t, san);
	srv_start_tls(tls_out, fx->base, t.ctx);
	o.base_url = tls_out->base_url;
	o.auth = EXTRAHOP_AUTH_OAUTH2;
	o.client_id = "client-1";
	o.client_secret = "shh";
	o.token_url = tls_out->token_url;
	o.ca_file = ca_file != NULL ? (strcmp(ca_file, "@") == 0 ? t.ca_file : ca_file) : NULL;
	o.ca_path = ca_path != NULL ? (strcmp(ca_path, "@") == 0 ? t.ca_path : ca_path) : NULL;
	o.max_host_connections = 4;
	new_client(fx, &o);
	for (int i = 0; i < n; i++)
		patch(fx, i + 1);
	wait_done(fx, n);
	extrahop_destroy(fx->eh);
	fx->eh = NULL;
	srv_stop(tls_out);
	tls_env_free(&t);
}

static void
test_tls_trusted_ca_file(void **state)
{
	fixture_t *fx = *state;
	srv_t tls;

	tls_round(fx, "IP:127.0.0.1", "@", NULL, 20, &tls);
	for (int i = 0; i < 20; i++)
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_OK);
	/* Token fetch and PATCHes both went over verified TLS, on at most 4 connections. */
	assert_int_equal(tls.n_token, 1);
	assert_int_equal(tls.n_recs, 20);
	assert_true(tls.accepted <= 4);
}

static void
test_tls_trusted_ca_path(void **state)
{
	fixture_t *fx = *state;
	srv_t tls;

	tls_round(fx, "IP:127.0.0.1", NULL, "@", 1, &tls);
	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_OK);
}

static void
test_tls_untrusted_is_refused(void **state)
{
	fixture_t *fx = *state;
	srv_t tls;

	/* The system store does not know our certificate: nothing is sent, not even the
	 * client secret; it is a retryable failure with curl's reason. */
	tls_round(fx, "IP:127.0.0.1", NULL, NULL, 2, &tls);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(fx->done.res[i].outcome, PUSHPLAN_RETRY);
		assert_int_equal(fx->done.res[i].curl_code, CURLE_PEER_FAILED_VERIFICATION);
		assert_non_null(strstr(fx->done.res[i].message, "token endpoint: "));
		assert_non_null(strstr(fx->done.res[i].message, "certificate"));
	}
	assert_int_equal(tls.n_token, 0);
	assert_int_equal(tls.n_recs, 0);
}

static void
test_tls_wrong_host_is_refused(void **state)
{
	fixture_t *fx = *state;
	srv_t tls;

	/* Trusted certificate, but issued for another name: host verification stays on. */
	tls_round(fx, "DNS:other.invalid", "@", NULL, 1, &tls);
	assert_int_equal(fx->done.res[0].outcome, PUSHPLAN_RETRY);
	assert_int_equal(fx->done.res[0].curl_code, CURLE_PEER_FAILED_VERIFICATION);
	assert_int_equal(tls.n_token, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_success_exact_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_by_bounds_the_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_statuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejected_with_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_body_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apikey_unauthorized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oauth_one_fetch_for_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oauth_refresh_before_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oauth_401_refreshes_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oauth_second_401_is_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oauth_token_endpoint_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gate_closes_before_the_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_while_waiting_for_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_with_requests_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options_and_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_page_exact_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_empty_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_reply_not_an_array, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_rate_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_reply_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_default_bound_is_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_oauth_waits_for_the_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_gate_closed_sends_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_destroy_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_curlev_handle_ownership_and_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_trusted_ca_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_trusted_ca_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_untrusted_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_wrong_host_is_refused, setup, teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
