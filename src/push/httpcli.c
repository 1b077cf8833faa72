/* httpcli: an HTTP client for the ticket systems on libevent; see httpcli.h. */
#include "ticketsync/httpcli.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ticketsync/backoff.h"
#include "ticketsync/clock.h"
#include "ticketsync/curlev.h"
#include "ticketsync/extrahop_api.h"
#include "ticketsync/log.h"
#include "ticketsync/ticketapi.h"
#include "ticketsync/xalloc.h"

#define HTTPCLI_USER_AGENT "ticketsync/" TICKETSYNC_VERSION

typedef struct httpcli_req {
	struct httpcli_req *next;  /* waiting for a token */
	httpcli_t *c;
	char *method;
	unsigned flags;
	bool resent;               /* OAuth: the one resend after a 401 is used up */
	bool left;                 /* this transfer went on the wire */
	char *url;
	char *body;
	size_t body_len;
	struct curl_slist *headers;      /* the request's own */
	struct curl_slist *sent_headers; /* what the current transfer carries */
	httpcli_done_fn done;
	void *arg;
	int64_t started_ms;
	char errbuf[CURL_ERROR_SIZE];
	curlev_body_t resp;
} httpcli_req_t;

struct httpcli {
	curlev_t *cev;
	char *what, *base_url, *user_agent, *ca_file, *ca_path;
	enum httpcli_auth auth;
	char *user, *password, *auth_header;
	long connect_timeout_ms, request_timeout_ms;
	bool (*gate)(const void *);
	const void *gate_arg;
	/* OAuth: the token (auth_header), when to refresh it, the fetch, who waits. */
	char *token_url, *client_id, *client_secret;
	int64_t token_refresh_at, token_expires_at; /* monotonic ms */
	bool fetching;
	int64_t fetch_started_at;
	curlev_body_t fetch;
	char fetch_errbuf[CURL_ERROR_SIZE];
	httpcli_req_t *waiting, **waiting_tail;
	httpcli_req_t *kicked, **kick_tail; /* OAuth: submitted, dispatched from the loop */
	struct event *kick;
	struct curl_slist *token_headers;
};

static char *
httpcli_dup(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

static void
httpcli_wipe(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* Visible ASCII only: a credential goes into a header line. */
static bool
httpcli_header_safe(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static bool
httpcli_url_ok(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok;

	if (u == NULL || url == NULL)
		return false;
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0' &&
	     (strcasecmp(scheme, "https") == 0 || strcasecmp(scheme, "http") == 0);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static void httpcli_on_kick(evutil_socket_t fd, short what, void *arg);

httpcli_t *
httpcli_new(struct event_base *base, const httpcli_opts_t *o, bson_error_t *err)
{
	const char *what = o->what ? o->what : "HTTP";
	curlev_opts_t co = { 0 };
	httpcli_t *c;
	size_t n;

	if (!httpcli_url_ok(o->base_url)) {
		bson_set_error(err, ERROR_DOMAIN, HTTPCLI_ERR_CONFIG,
		    "%s: the URL is not an absolute http(s) URL", what);
		return NULL;
	}
	if (o->auth == HTTPCLI_AUTH_BASIC &&
	    (!httpcli_header_safe(o->user) || strchr(o->user, ':') != NULL ||
	        o->password == NULL || o->password[0] == '\0')) {
		bson_set_error(err, ERROR_DOMAIN, HTTPCLI_ERR_CONFIG,
		    "%s: Basic authentication needs a user (without ':') and a password", what);
		return NULL;
	}
	if (o->auth == HTTPCLI_AUTH_OAUTH_PASSWORD &&
	    (!httpcli_url_ok(o->token_url) || o->client_id == NULL || o->client_id[0] == '\0' ||
	        o->client_secret == NULL || o->client_secret[0] == '\0' || o->user == NULL ||
	        o->user[0] == '\0' || o->password == NULL || o->password[0] == '\0')) {
		bson_set_error(err, ERROR_DOMAIN, HTTPCLI_ERR_CONFIG,
		    "%s: OAuth needs a token URL, a client id and secret, a user and a password", what);
		return NULL;
	}
	if (o->auth == HTTPCLI_AUTH_BEARER && !httpcli_header_safe(o->token)) {
		bson_set_error(err, ERROR_DOMAIN, HTTPCLI_ERR_CONFIG,
		    "%s: the token is missing or has characters a header cannot carry", what);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->what = xstrdup(what);
	c->base_url = xstrdup(o->base_url);
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	c->user_agent = o->instance != NULL && o->instance[0] != '\0'
	    ? bson_strdup_printf("%s (%s)", HTTPCLI_USER_AGENT, o->instance)
	    : bson_strdup(HTTPCLI_USER_AGENT);
	c->ca_file = httpcli_dup(o->ca_file);
	c->ca_path = httpcli_dup(o->ca_path);
	c->auth = o->auth;
	if (o->auth == HTTPCLI_AUTH_BASIC) {
		c->user = xstrdup(o->user);
		c->password = xstrdup(o->password);
	} else if (o->auth == HTTPCLI_AUTH_OAUTH_PASSWORD) {
		c->user = xstrdup(o->user);
		c->password = xstrdup(o->password);
		c->token_url = xstrdup(o->token_url);
		c->client_id = xstrdup(o->client_id);
		c->client_secret = xstrdup(o->client_secret);
	} else if (o->auth == HTTPCLI_AUTH_BEARER) {
		size_t len = strlen(o->token) + sizeof("Authorization: Bearer ");

		c->auth_header = xmalloc(len);
		snprintf(c->auth_header, len, "Authorization: Bearer %s", o->token);
	}
	c->waiting_tail = &c->waiting;
	c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
	c->request_timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : 30000;
	co.max_total_connections = o->max_connections > 0 ? o->max_connections : 4;
	co.max_host_connections = co.max_total_connections;
	c->kick_tail = &c->kicked;
	c->cev = curlev_new(base, &co, err);
	c->kick = c->cev != NULL ? event_new(base, -1, 0, httpcli_on_kick, c) : NULL;
	if (c->kick == NULL) {
		if (c->cev != NULL)
			bson_set_error(err, ERROR_DOMAIN, HTTPCLI_ERR_RESOURCE, "%s: cannot create an event",
			    what);
		httpcli_destroy(c);
		return NULL;
	}
	return c;
}

static int
httpcli_prereq(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	httpcli_req_t *r = arg;
	const httpcli_t *c = r->c;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (c->gate != NULL && !c->gate(c->gate_arg))
		return CURL_PREREQFUNC_ABORT;
	r->left = true;
	return CURL_PREREQFUNC_OK;
}

static void
httpcli_req_free(httpcli_req_t *r)
{
	curl_slist_free_all(r->headers);
	curl_slist_free_all(r->sent_headers);
	bson_free(r->url);
	free(r->method);
	free(r->body);
	curlev_body_reset(&r->resp);
	free(r);
}

/* Options every transfer shares (curlev's), the body kept into body. */
static void
httpcli_easy_common(const httpcli_t *c, CURL *easy, const char *url, char *errbuf,
    curlev_body_t *body)
{
	const curlev_transfer_opts_t o = {
		.user_agent = c->user_agent,
		.ca_file = c->ca_file,
		.ca_path = c->ca_path,
		.connect_timeout_ms = c->connect_timeout_ms,
		.request_timeout_ms = c->request_timeout_ms,
	};

	curlev_easy_setup(easy, url, &o, errbuf, body, HTTPCLI_BODY_MAX);
}

/* Complete r without a transfer (its token could not be had, or it was cancelled
 * while waiting). Only from a callback or cancel_all: never inside httpcli_request. */
static void
httpcli_fail(httpcli_req_t *r, int curl_code, long status, const char *body, size_t len,
    int64_t retry_after_ms, const char *error)
{
	httpcli_reply_t reply = {
		.curl_code = curl_code,
		.status = status,
		.body = body != NULL ? body : "",
		.body_len = body != NULL ? len : 0,
		.retry_after_ms = retry_after_ms,
		.elapsed_ms = clock_mono_ms() - r->started_ms,
		.error = error,
	};

	r->done(&reply, r->arg);
	httpcli_req_free(r);
}

static void httpcli_dispatch(httpcli_req_t *r);

static void
httpcli_drop_token(httpcli_t *c)
{
	httpcli_wipe(c->auth_header);
	c->auth_header = NULL;
}

static void
httpcli_done(CURL *easy, CURLcode rc, void *arg)
{
	httpcli_req_t *r = arg;
	httpcli_t *c = r->c;
	httpcli_reply_t reply = { 0 };
	curl_off_t ra = 0;
	struct curl_header *h = NULL;

	reply.curl_code = rc;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &reply.status);
	curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &ra);
	reply.retry_after_ms = ra > 0 ? backoff_retry_after_ms((int64_t)ra) : -1;
	/* Jira Cloud's and ServiceNow's other word for it. */
	if (reply.retry_after_ms < 0 && rc == CURLE_OK &&
	    curl_easy_header(easy, "X-RateLimit-Reset", 0, CURLH_HEADER, -1, &h) == CURLHE_OK &&
	    (reply.status == 429 || reply.status == 503))
		reply.retry_after_ms = ticketapi_rate_limit_reset_ms(h->value, clock_wall_ms());
	curl_easy_cleanup(easy);
	if (rc == CURLE_OK && reply.status == 401 && c->auth == HTTPCLI_AUTH_OAUTH_PASSWORD &&
	    !r->resent) {
		/* The token may have been revoked or expired early: a new one, one resend
		 * (a refused request changed nothing, so even a create may go again). */
		r->resent = true;
		r->left = false;
		httpcli_drop_token(c);
		curlev_body_reset(&r->resp);
		httpcli_dispatch(r);
		return;
	}
	if (rc != CURLE_OK)
		reply.status = 0;
	reply.body = r->resp.data != NULL ? r->resp.data : "";
	reply.body_len = r->resp.len;
	reply.elapsed_ms = clock_mono_ms() - r->started_ms;
	reply.error = rc == CURLE_ABORTED_BY_CALLBACK ? "cancelled"
	    : r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(rc);
	/* Ungated requests have no pre-send step: count them as gone once sent to libcurl. */
	reply.left = r->left || (r->flags & HTTPCLI_UNGATED) != 0;
	r->done(&reply, r->arg);
	httpcli_req_free(r);
}

/* Put r on the wire now; -1 with err when libcurl refuses it. */
static int
httpcli_send(httpcli_req_t *r, bson_error_t *err)
{
	httpcli_t *c = r->c;
	struct curl_slist *headers = NULL;
	CURL *easy = curl_easy_init();

	if (easy == NULL) {
		bson_set_error(err, ERROR_DOMAIN, HTTPCLI_ERR_RESOURCE, "%s: cannot create a transfer",
		    c->what);
		return -1;
	}
	/* The request's own headers plus this send's token (a resend carries the new one). */
	for (struct curl_slist *l = r->headers; l != NULL; l = l->next)
		headers = curl_slist_append(headers, l->data);
	if (c->auth_header != NULL)
		headers = curl_slist_append(headers, c->auth_header);
	curl_slist_free_all(r->sent_headers);
	r->sent_headers = headers;
	httpcli_easy_common(c, easy, r->url, r->errbuf, &r->resp);
	if (c->auth == HTTPCLI_AUTH_BASIC) {
		curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(easy, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(easy, CURLOPT_PASSWORD, c->password);
	}
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->body != NULL) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	}
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, r->sent_headers);
	if (r->flags & HTTPCLI_ONCE) {
		/* Its own connection, closed after: never a reused one, and never one left
		 * idle in the cache against the connection limit. */
		curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
	}
	if (!(r->flags & HTTPCLI_UNGATED)) {
		curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, httpcli_prereq);
		curl_easy_setopt(easy, CURLOPT_PREREQDATA, r);
	}
	if (curlev_add(c->cev, easy, httpcli_done, r, err) != 0) {
		curl_easy_cleanup(easy);
		return -1;
	}
	return 0;
}

/* Every waiting request, failed with the token endpoint's verdict. */
static void
httpcli_fail_waiting(httpcli_t *c, int curl_code, long status, int64_t retry_after_ms,
    const char *error)
{
	httpcli_req_t *list = c->waiting;

	c->waiting = NULL;
	c->waiting_tail = &c->waiting;
	while (list != NULL) {
		httpcli_req_t *next = list->next;

		httpcli_fail(list, curl_code, status, c->fetch.data, c->fetch.len, retry_after_ms,
		    error);
		list = next;
	}
}

static void httpcli_token_fetch(httpcli_t *c);

static void
httpcli_token_done(CURL *easy, CURLcode rc, void *arg)
{
	httpcli_t *c = arg;
	long status = 0;
	curl_off_t ra = 0;
	extrahop_api_token_t tok = { NULL, -1 };
	bson_error_t err;
	char msg[512];
	httpcli_req_t *list;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &ra);
	curl_easy_cleanup(easy);
	c->fetching = false;
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		httpcli_fail_waiting(c, rc, 0, -1, "cancelled");
	} else if (rc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "token endpoint: %s",
		    c->fetch_errbuf[0] ? c->fetch_errbuf : curl_easy_strerror(rc));
		httpcli_fail_waiting(c, rc, 0, -1, msg);
	} else if (status >= 200 && status <= 299 &&
	           extrahop_api_token_parse(c->fetch.data, c->fetch.len, &tok, &err)) {
		int64_t after = extrahop_api_token_refresh_after_ms(tok.expires_in_s);
		size_t len = strlen(tok.access_token) + sizeof("Authorization: Bearer ");

		httpcli_drop_token(c);
		c->auth_header = xmalloc(len);
		snprintf(c->auth_header, len, "Authorization: Bearer %s", tok.access_token);
		/* The lifetime counts from when we asked: never later than the server. */
		c->token_refresh_at = after < 0 ? INT64_MAX : c->fetch_started_at + after;
		c->token_expires_at = after < 0 ? INT64_MAX
		                                : c->fetch_started_at + tok.expires_in_s * 1000;
		extrahop_api_token_clear(&tok);
		list = c->waiting;
		c->waiting = NULL;
		c->waiting_tail = &c->waiting;
		while (list != NULL) {
			httpcli_req_t *next = list->next;

			if (httpcli_send(list, &err) != 0)
				httpcli_fail(list, CURLE_FAILED_INIT, 0, NULL, 0, -1, err.message);
			list = next;
		}
	} else {
		/* Refused (401, 400 invalid_grant) or unusable: the credentials' fault, said
		 * as a 401 so the engine stops and probes rather than retrying each item. */
		bool refused = status == 400 || status == 401 || status == 403;

		snprintf(msg, sizeof(msg), "token endpoint: HTTP %ld%s", status,
		    status >= 200 && status <= 299 ? ": no usable access_token" : "");
		log_warnx("%s: OAuth token fetch failed: %s", c->what, msg);
		httpcli_fail_waiting(c, CURLE_OK, refused ? 401 : status >= 200 && status <= 299 ? 502 : status,
		    ra > 0 ? backoff_retry_after_ms((int64_t)ra) : -1, msg);
	}
	curlev_body_reset(&c->fetch);
}

static void
httpcli_token_fetch(httpcli_t *c)
{
	static const char *const form_hdr[] = { "Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json" };
	struct curl_slist *h = NULL;
	CURL *easy = curl_easy_init();
	char *id, *secret, *user, *pass, *form;
	bson_error_t err;

	if (easy == NULL) {
		httpcli_fail_waiting(c, CURLE_OUT_OF_MEMORY, 0, -1, "token endpoint: cannot create a transfer");
		return;
	}
	id = curl_easy_escape(easy, c->client_id, 0);
	secret = curl_easy_escape(easy, c->client_secret, 0);
	user = curl_easy_escape(easy, c->user, 0);
	pass = curl_easy_escape(easy, c->password, 0);
	form = bson_strdup_printf("grant_type=password&client_id=%s&client_secret=%s&username=%s"
	    "&password=%s", id, secret, user, pass);
	explicit_bzero(secret, strlen(secret));
	explicit_bzero(pass, strlen(pass));
	curl_free(id);
	curl_free(secret);
	curl_free(user);
	curl_free(pass);
	for (size_t i = 0; i < 2; i++)
		h = curl_slist_append(h, form_hdr[i]);
	c->fetching = true;
	c->fetch_started_at = clock_mono_ms();
	httpcli_easy_common(c, easy, c->token_url, c->fetch_errbuf, &c->fetch);
	curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, form);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	explicit_bzero(form, strlen(form));
	bson_free(form);
	/* libcurl keeps the list until the transfer ends; it is freed with the next. */
	curl_slist_free_all(c->token_headers);
	c->token_headers = h;
	if (curlev_add(c->cev, easy, httpcli_token_done, c, &err) != 0) {
		curl_easy_cleanup(easy);
		c->fetching = false;
		httpcli_fail_waiting(c, CURLE_FAILED_INIT, 0, -1, err.message);
	}
}

static void
httpcli_on_kick(evutil_socket_t fd, short what, void *arg)
{
	httpcli_t *c = arg;
	httpcli_req_t *list = c->kicked;

	(void)fd;
	(void)what;
	c->kicked = NULL;
	c->kick_tail = &c->kicked;
	while (list != NULL) {
		httpcli_req_t *next = list->next;

		httpcli_dispatch(list);
		list = next;
	}
}

/* Send r, or with OAuth and no usable token, queue it behind the (single) fetch. */
static void
httpcli_dispatch(httpcli_req_t *r)
{
	httpcli_t *c = r->c;
	int64_t now = clock_mono_ms();
	bson_error_t err;

	if (c->auth == HTTPCLI_AUTH_OAUTH_PASSWORD) {
		if (c->auth_header != NULL && now >= c->token_expires_at)
			httpcli_drop_token(c);
		if (c->auth_header == NULL || now >= c->token_refresh_at) {
			r->next = NULL;
			*c->waiting_tail = r;
			c->waiting_tail = &r->next;
			if (!c->fetching)
				httpcli_token_fetch(c);
			return;
		}
	}
	if (httpcli_send(r, &err) != 0)
		httpcli_fail(r, CURLE_FAILED_INIT, 0, NULL, 0, -1, err.message);
}

int
httpcli_request(httpcli_t *c, const char *method, const char *path, const char *body,
    size_t body_len, const char *const *headers, unsigned flags, httpcli_done_fn done,
    void *arg, bson_error_t *err)
{
	httpcli_req_t *r;
	const char *common[] = { "Content-Type: application/json", "Accept: application/json",
		"Expect:" };

	r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->done = done;
	r->arg = arg;
	r->flags = flags;
	r->method = xstrdup(method);
	r->started_ms = clock_mono_ms();
	r->url = bson_strdup_printf("%s%s", c->base_url, path ? path : "");
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		r->headers = curl_slist_append(r->headers, common[i]);
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		r->headers = curl_slist_append(r->headers, headers[i]);
	if (body != NULL) {
		r->body = xmalloc(body_len + 1);
		memcpy(r->body, body, body_len);
		r->body[body_len] = '\0';
		r->body_len = body_len;
	}
	if (c->auth == HTTPCLI_AUTH_OAUTH_PASSWORD) {
		/* Through the loop: a token fetch that fails at once must not complete r
		 * inside this call. */
		r->next = NULL;
		*c->kick_tail = r;
		c->kick_tail = &r->next;
		event_active(c->kick, EV_TIMEOUT, 0);
		return 0;
	}
	if (httpcli_send(r, err) != 0) {
		httpcli_req_free(r);
		return -1;
	}
	return 0;
}

void
httpcli_set_gate(httpcli_t *c, bool (*gate)(const void *arg), const void *arg)
{
	c->gate = gate;
	c->gate_arg = arg;
}

size_t
httpcli_in_flight(const httpcli_t *c)
{
	return curlev_in_flight(c->cev);
}

/* Requests submitted but not yet dispatched, failed as cancelled. */
static void
httpcli_fail_kicked(httpcli_t *c)
{
	httpcli_req_t *list = c->kicked;

	c->kicked = NULL;
	c->kick_tail = &c->kicked;
	while (list != NULL) {
		httpcli_req_t *next = list->next;

		httpcli_fail(list, CURLE_ABORTED_BY_CALLBACK, 0, NULL, 0, -1, "cancelled");
		list = next;
	}
}

void
httpcli_cancel_all(httpcli_t *c)
{
	httpcli_fail_kicked(c);
	httpcli_fail_waiting(c, CURLE_ABORTED_BY_CALLBACK, 0, -1, "cancelled");
	curlev_cancel_all(c->cev);
}

void
httpcli_destroy(httpcli_t *c)
{
	if (c == NULL)
		return;
	httpcli_fail_kicked(c);
	httpcli_fail_waiting(c, CURLE_ABORTED_BY_CALLBACK, 0, -1, "cancelled");
	curlev_destroy(c->cev);
	if (c->kick != NULL)
		event_free(c->kick);
	curl_slist_free_all(c->token_headers);
	curlev_body_reset(&c->fetch);
	free(c->token_url);
	free(c->client_id);
	httpcli_wipe(c->client_secret);
	httpcli_wipe(c->password);
	httpcli_wipe(c->auth_header);
	free(c->user);
	free(c->what);
	free(c->base_url);
	bson_free(c->user_agent);
	free(c->ca_file);
	free(c->ca_path);
	free(c);
}
