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
#include "ticketsync/ticketapi.h"
#include "ticketsync/xalloc.h"

#define HTTPCLI_USER_AGENT "ticketsync/" TICKETSYNC_VERSION

typedef struct httpcli_req {
	httpcli_t *c;
	char *url;
	char *body;
	size_t body_len;
	struct curl_slist *headers;
	httpcli_done_fn done;
	void *arg;
	int64_t started_ms;
	char errbuf[CURL_ERROR_SIZE];
	char *resp;
	size_t resp_len;
} httpcli_req_t;

struct httpcli {
	curlev_t *cev;
	char *what, *base_url, *user_agent, *ca_file, *ca_path;
	enum httpcli_auth auth;
	char *user, *password, *auth_header;
	long connect_timeout_ms, request_timeout_ms;
	bool (*gate)(const void *);
	const void *gate_arg;
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
	} else if (o->auth == HTTPCLI_AUTH_BEARER) {
		size_t len = strlen(o->token) + sizeof("Authorization: Bearer ");

		c->auth_header = xmalloc(len);
		snprintf(c->auth_header, len, "Authorization: Bearer %s", o->token);
	}
	c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
	c->request_timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : 30000;
	co.max_total_connections = o->max_connections > 0 ? o->max_connections : 4;
	co.max_host_connections = co.max_total_connections;
	c->cev = curlev_new(base, &co, err);
	if (c->cev == NULL) {
		httpcli_destroy(c);
		return NULL;
	}
	return c;
}

static size_t
httpcli_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	httpcli_req_t *r = userdata;
	size_t n = size * nmemb, room = HTTPCLI_BODY_MAX - r->resp_len;
	size_t keep = n < room ? n : room;

	if (keep > 0) {
		r->resp = xreallocarray(r->resp, r->resp_len + keep + 1, 1);
		memcpy(r->resp + r->resp_len, ptr, keep);
		r->resp_len += keep;
		r->resp[r->resp_len] = '\0';
	}
	return n; /* the excess is read and dropped */
}

static int
httpcli_prereq(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	const httpcli_t *c = arg;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	return c->gate == NULL || c->gate(c->gate_arg) ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
}

static void
httpcli_req_free(httpcli_req_t *r)
{
	curl_slist_free_all(r->headers);
	bson_free(r->url);
	free(r->body);
	free(r->resp);
	free(r);
}

static void
httpcli_done(CURL *easy, CURLcode rc, void *arg)
{
	httpcli_req_t *r = arg;
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
	if (rc != CURLE_OK)
		reply.status = 0;
	reply.body = r->resp != NULL ? r->resp : "";
	reply.body_len = r->resp_len;
	reply.elapsed_ms = clock_mono_ms() - r->started_ms;
	reply.error = rc == CURLE_ABORTED_BY_CALLBACK ? "cancelled"
	    : r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(rc);
	r->done(&reply, r->arg);
	httpcli_req_free(r);
}

int
httpcli_request(httpcli_t *c, const char *method, const char *path, const char *body,
    size_t body_len, const char *const *headers, unsigned flags, httpcli_done_fn done,
    void *arg, bson_error_t *err)
{
	httpcli_req_t *r;
	CURL *easy = curl_easy_init();
	const char *common[] = { "Content-Type: application/json", "Accept: application/json",
		"Expect:", c->auth_header };

	if (easy == NULL) {
		bson_set_error(err, ERROR_DOMAIN, HTTPCLI_ERR_RESOURCE, "%s: cannot create a transfer",
		    c->what);
		return -1;
	}
	r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->done = done;
	r->arg = arg;
	r->started_ms = clock_mono_ms();
	r->url = bson_strdup_printf("%s%s", c->base_url, path ? path : "");
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]) && common[i] != NULL; i++)
		r->headers = curl_slist_append(r->headers, common[i]);
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		r->headers = curl_slist_append(r->headers, headers[i]);
	curl_easy_setopt(easy, CURLOPT_URL, r->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (strncasecmp(c->base_url, "http://", 7) == 0)
		curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, c->request_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		curl_easy_setopt(easy, CURLOPT_CAINFO, c->ca_file);
	if (c->ca_path != NULL)
		curl_easy_setopt(easy, CURLOPT_CAPATH, c->ca_path);
	if (c->auth == HTTPCLI_AUTH_BASIC) {
		curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(easy, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(easy, CURLOPT_PASSWORD, c->password);
	}
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, httpcli_write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		r->body = xmalloc(body_len + 1);
		memcpy(r->body, body, body_len);
		r->body[body_len] = '\0';
		r->body_len = body_len;
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	}
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, r->headers);
	if (flags & HTTPCLI_ONCE)
		curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
	if (!(flags & HTTPCLI_UNGATED)) {
		curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, httpcli_prereq);
		curl_easy_setopt(easy, CURLOPT_PREREQDATA, c);
	}
	if (curlev_add(c->cev, easy, httpcli_done, r, err) != 0) {
		curl_easy_cleanup(easy);
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

void
httpcli_cancel_all(httpcli_t *c)
{
	curlev_cancel_all(c->cev);
}

void
httpcli_destroy(httpcli_t *c)
{
	if (c == NULL)
		return;
	curlev_destroy(c->cev);
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
