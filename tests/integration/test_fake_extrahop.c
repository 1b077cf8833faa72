/*
 * The fake ExtraHop API's own tests: everything through real HTTP (libcurl, and a raw
 * socket for pipelining), HTTP and HTTPS with the run's CA and verification on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ticketsync/clock.h"
#include "tsextrahop.h"

#define KEY "k3y-for-tests"
#define AUTH "Authorization: ExtraHop apikey=" KEY
#define JSON "Content-Type: application/json"

static const char *const H_AUTH[] = { AUTH, NULL };
static const char *const H_AUTH_JSON[] = { AUTH, JSON, NULL };

static void
start(tsextrahop_t *t, const tsextrahop_opts_t *opts)
{
	char err[512];

	if (tsextrahop_start(t, opts, err, sizeof(err)) != 0)
		fail_msg("fake_extrahop did not start: %s", err);
}

/* Stop and insist on a clean exit: under ASan a leak makes the exit status non-zero. */
static void
stop(tsextrahop_t *t)
{
	int status = tsextrahop_stop(t);

	if (!(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0))
		fail_msg("fake_extrahop did not exit cleanly (wait status %d)", status);
}

/* One call; returns the status (0 without a reply); out (if given) gets the JSON. */
static long
call(tsextrahop_t *t, const char *method, const char *path, const char *const *hdrs,
    const char *body, bson_t *out)
{
	tsextrahop_response_t r;
	long status;

	tsextrahop_http(t, method, path, hdrs, body, &r);
	status = r.status;
	if (out != NULL)
		tsextrahop_response_json(&r, out);
	tsextrahop_response_free(&r);
	return status;
}

static void
assert_error_message(const bson_t *doc)
{
	const char *m = tsextrahop_str(doc, "error_message");

	if (m == NULL || m[0] == '\0') {
		char *j = bson_as_relaxed_extended_json(doc, NULL);
		fail_msg("no error_message in %s", j);
	}
}

/* Status and an error_message body. */
static void
expect_error(tsextrahop_t *t, const char *method, const char *path,
    const char *const *hdrs, const char *body, long want)
{
	bson_t doc;
	long got = call(t, method, path, hdrs, body, &doc);

	if (got != want)
		fail_msg("%s %s body=%s: got %ld, want %ld", method, path, body ? body : "-",
		    got, want);
	assert_error_message(&doc);
	bson_destroy(&doc);
}

static void
get_detection(tsextrahop_t *t, int64_t id, bson_t *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/api/v1/detections/%lld", (long long)id);
	assert_int_equal(call(t, "GET", path, H_AUTH, NULL, out), 200);
}

static void
assert_str_or_null(const bson_t *doc, const char *key, const char *want)
{
	bson_iter_t it;

	assert_true(bson_iter_init_find(&it, doc, key));
	if (want == NULL) {
		if (!BSON_ITER_HOLDS_NULL(&it))
			fail_msg("%s: want null", key);
	} else {
		assert_true(BSON_ITER_HOLDS_UTF8(&it));
		assert_string_equal(bson_iter_utf8(&it, NULL), want);
	}
}

/* A keep-alive client: one easy handle reused, so one connection for many calls. */
typedef struct client {
	CURL *c;
	struct curl_slist *hdrs;
} client_t;

static size_t
discard(char *p, size_t s, size_t n, void *a)
{
	(void)p;
	(void)a;
	return s * n;
}

static void
client_init(client_t *cl, const char *ca_file)
{
	cl->c = curl_easy_init();
	assert_non_null(cl->c);
	cl->hdrs = curl_slist_append(NULL, AUTH);
	cl->hdrs = curl_slist_append(cl->hdrs, JSON);
	curl_easy_setopt(cl->c, CURLOPT_HTTPHEADER, cl->hdrs);
	curl_easy_setopt(cl->c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(cl->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cl->c, CURLOPT_TIMEOUT_MS, 20000L);
	if (ca_file != NULL && ca_file[0] != '\0')
		curl_easy_setopt(cl->c, CURLOPT_CAINFO, ca_file);
}

/* Returns the status, 0 on a transport error. */
static long
client_call(client_t *cl, const char *method, const char *url, const char *body)
{
	long status = 0;

	curl_easy_setopt(cl->c, CURLOPT_URL, url);
	curl_easy_setopt(cl->c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(cl->c, CURLOPT_POSTFIELDS, body);
	} else {
		curl_easy_setopt(cl->c, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(cl->c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(cl->c, CURLOPT_CUSTOMREQUEST, method);
	}
	if (curl_easy_perform(cl->c) != CURLE_OK)
		return 0;
	curl_easy_getinfo(cl->c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static void
client_free(client_t *cl)
{
	curl_easy_cleanup(cl->c);
	curl_slist_free_all(cl->hdrs);
}

/* Raw socket helpers, for pipelining and for requests left in flight. */
static int
raw_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
raw_send(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = write(fd, s + off, len - off);
		assert_true(n > 0);
		off += (size_t)n;
	}
}

/* Read one complete HTTP response from fd (buf keeps any surplus for the next call).
 * Returns the status, or 0 on EOF/timeout; body copied into body (NUL-terminated). */
static int
raw_response(int fd, char *buf, size_t *used, size_t cap, char *body, size_t bodycap,
    int timeout_ms)
{
	double deadline = ((double)clock_mono_ms() / 1e3) + timeout_ms / 1000.0;

	for (;;) {
		char *end;
		buf[*used] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL) {
			size_t hlen = (size_t)(end + 4 - buf), clen = 0;
			const char *cl = strcasestr(buf, "\r\nContent-Length:");
			int status = 0;

			if (cl != NULL && cl < end)
				clen = strtoul(cl + 17, NULL, 10);
			if (*used >= hlen + clen) {
				sscanf(buf, "HTTP/1.1 %d", &status);
				if (body != NULL) {
					size_t n = clen < bodycap - 1 ? clen : bodycap - 1;
					memcpy(body, buf + hlen, n);
					body[n] = '\0';
				}
				memmove(buf, buf + hlen + clen, *used - hlen - clen);
				*used -= hlen + clen;
				return status;
			}
		}
		{
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int left = (int)((deadline - ((double)clock_mono_ms() / 1e3)) * 1000);
			ssize_t n;

			if (left <= 0 || poll(&p, 1, left) <= 0)
				return 0;
			n = read(fd, buf + *used, cap - 1 - *used);
			if (n <= 0)
				return 0;
			*used += (size_t)n;
		}
	}
}

/* ---------------------------------------------------------------------------------- */

static void
test_ready_line_and_version(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY };
	tsextrahop_t t;
	bson_t doc;
	char v[64];

	(void)state;
	start(&t, &o);
	assert_true(t.http_port > 0);
	assert_int_equal(t.https_port, 0);
	assert_string_equal(t.ca_file, "");
	assert_true(tsproc_field(&t.proc, "base_url", v, sizeof(v)));
	assert_string_equal(v, t.http_url);
	assert_true(tsproc_field(&t.proc, "control_url", v, sizeof(v)));
	assert_string_equal(v, t.control_url);
	assert_int_equal(call(&t, "GET", "/api/v1/extrahop/version", H_AUTH, NULL, &doc), 200);
	assert_non_null(tsextrahop_str(&doc, "version"));
	bson_destroy(&doc);
	/* Unknown endpoints and wrong methods are errors with a message. */
	expect_error(&t, "GET", "/api/v1/nothing", H_AUTH, NULL, 404);
	expect_error(&t, "POST", "/api/v1/extrahop/version", H_AUTH_JSON, "{}", 405);
	stop(&t);
}

static void
test_apikey_auth(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 3 };
	const char *const wrong[] = { "Authorization: ExtraHop apikey=nope", NULL };
	const char *const scheme[] = { "Authorization: Basic " KEY, NULL };
	const char *const bearer[] = { "Authorization: Bearer " KEY, NULL };
	tsextrahop_t t;

	(void)state;
	start(&t, &o);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, NULL), 200);
	expect_error(&t, "GET", "/api/v1/detections/1", wrong, NULL, 401);
	expect_error(&t, "GET", "/api/v1/detections/1", NULL, NULL, 401);
	expect_error(&t, "GET", "/api/v1/detections/1", scheme, NULL, 401);
	expect_error(&t, "GET", "/api/v1/detections/1", bearer, NULL, 401);
	/* A rejected PATCH changes nothing. */
	{
		const char *const wrong_json[] = { "Authorization: ExtraHop apikey=nope", JSON,
			NULL };
		bson_t d;
		expect_error(&t, "PATCH", "/api/v1/detections/1", wrong_json,
		    "{\"status\": \"closed\"}", 401);
		get_detection(&t, 1, &d);
		assert_str_or_null(&d, "status", NULL);
		bson_destroy(&d);
	}
	stop(&t);
}

static void
fetch_token(tsextrahop_t *t, const char *const *hdrs, const char *body, long want,
    char *token, size_t len)
{
	bson_t doc;
	long got = call(t, "POST", "/oauth2/token", hdrs, body, &doc);

	if (got != want)
		fail_msg("token request %s: got %ld want %ld", body, got, want);
	if (want == 200) {
		assert_non_null(tsextrahop_str(&doc, "access_token"));
		assert_string_equal(tsextrahop_str(&doc, "token_type"), "Bearer");
		snprintf(token, len, "Authorization: Bearer %s",
		    tsextrahop_str(&doc, "access_token"));
	} else {
		assert_error_message(&doc);
	}
	bson_destroy(&doc);
}

static void
test_oauth2_credentials_and_tokens(void **state)
{
	tsextrahop_opts_t o = { .client_id = "cid", .client_secret = "s3cret",
		.detections_count = 2 };
	/* base64("cid:s3cret") and base64("cid:wrong") */
	const char *const basic[] = { "Authorization: Basic Y2lkOnMzY3JldA==",
		"Content-Type: application/x-www-form-urlencoded", NULL };
	const char *const basic_bad[] = { "Authorization: Basic Y2lkOndyb25n",
		"Content-Type: application/x-www-form-urlencoded", NULL };
	const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
	char tok1[256], tok2[256];
	const char *h1[] = { tok1, NULL }, *h2[] = { tok2, NULL };
	tsextrahop_t t;
	bson_t doc;

	(void)state;
	start(&t, &o);
	fetch_token(&t, basic, "grant_type=client_credentials", 200, tok1, sizeof(tok1));
	fetch_token(&t, form, "grant_type=client_credentials&client_id=cid&client_secret=s3cret",
	    200, tok2, sizeof(tok2));
	assert_string_not_equal(tok1, tok2);
	assert_int_equal(call(&t, "POST", "/oauth2/token", basic,
	    "grant_type=client_credentials", &doc), 200);
	assert_int_equal(tsextrahop_int(&doc, "expires_in", -1), 3600);
	bson_destroy(&doc);

	fetch_token(&t, basic_bad, "grant_type=client_credentials", 401, NULL, 0);
	fetch_token(&t, form, "grant_type=client_credentials&client_id=cid&client_secret=x",
	    401, NULL, 0);
	fetch_token(&t, form, "grant_type=client_credentials", 401, NULL, 0);
	fetch_token(&t, basic, "grant_type=password", 400, NULL, 0);
	expect_error(&t, "GET", "/oauth2/token", NULL, NULL, 405);

	assert_int_equal(call(&t, "GET", "/api/v1/detections/1", h1, NULL, NULL), 200);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/2", h2, NULL, NULL), 200);
	/* OAuth2 only: an API key is not a credential here, nor is an unknown token. */
	expect_error(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, 401);
	{
		const char *const fake[] = { "Authorization: Bearer fx0000000000", NULL };
		expect_error(&t, "GET", "/api/v1/detections/1", fake, NULL, 401);
	}
	/* Revoking makes every issued token fail. */
	assert_int_equal(tsextrahop_revoke_tokens(&t), 0);
	expect_error(&t, "GET", "/api/v1/detections/1", h1, NULL, 401);
	expect_error(&t, "GET", "/api/v1/detections/1", h2, NULL, 401);
	stop(&t);
}

static void
test_oauth2_token_expiry(void **state)
{
	tsextrahop_opts_t o = { .client_id = "cid", .client_secret = "s3cret", .token_ttl = 1,
		.api_key = KEY, .detections_count = 1 };
	const char *const basic[] = { "Authorization: Basic Y2lkOnMzY3JldA==", NULL };
	char tok[256], tok2[256];
	const char *h[] = { tok, NULL }, *h2[] = { tok2, NULL };
	tsextrahop_t t;
	bson_t doc;

	(void)state;
	start(&t, &o);
	assert_int_equal(call(&t, "POST", "/oauth2/token", basic,
	    "grant_type=client_credentials", &doc), 200);
	assert_int_equal(tsextrahop_int(&doc, "expires_in", -1), 1);
	snprintf(tok, sizeof(tok), "Authorization: Bearer %s",
	    tsextrahop_str(&doc, "access_token"));
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1", h, NULL, NULL), 200);
	/* Both schemes configured: the API key works too. */
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, NULL), 200);
	usleep(1300 * 1000);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1", h, NULL, &doc), 401);
	assert_non_null(strstr(tsextrahop_str(&doc, "error_message"), "expired"));
	bson_destroy(&doc);
	fetch_token(&t, basic, "grant_type=client_credentials", 200, tok2, sizeof(tok2));
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1", h2, NULL, NULL), 200);
	stop(&t);
}

static void
test_patch_changes_detection(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 5 };
	tsextrahop_t t;
	tsextrahop_response_t r;
	bson_t d;
	int64_t mod0, mod1;

	(void)state;
	start(&t, &o);
	get_detection(&t, 4, &d);
	assert_int_equal(tsextrahop_int(&d, "id", 0), 4);
	assert_non_null(tsextrahop_str(&d, "title"));
	assert_str_or_null(&d, "ticket_id", NULL);
	mod0 = tsextrahop_int(&d, "mod_time", 0);
	assert_true(mod0 > 0);
	bson_destroy(&d);
	usleep(5000);

	assert_int_equal(tsextrahop_http(&t, "PATCH", "/api/v1/detections/4", H_AUTH_JSON,
	    "{\"ticket_id\": \"JIRA-7\", \"status\": \"closed\", \"assignee\": \"ana\", "
	    "\"resolution\": \"action_taken\"}", &r), 0);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.body_len, 0);
	tsextrahop_response_free(&r);

	get_detection(&t, 4, &d);
	assert_str_or_null(&d, "ticket_id", "JIRA-7");
	assert_str_or_null(&d, "status", "closed");
	assert_str_or_null(&d, "assignee", "ana");
	assert_str_or_null(&d, "resolution", "action_taken");
	mod1 = tsextrahop_int(&d, "mod_time", 0);
	assert_true(mod1 > mod0);
	bson_destroy(&d);

	/* Explicit nulls clear; fields not sent stay. */
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/4", H_AUTH_JSON,
	    "{\"status\": \"in_progress\", \"resolution\": null}", NULL), 204);
	get_detection(&t, 4, &d);
	assert_str_or_null(&d, "ticket_id", "JIRA-7");
	assert_str_or_null(&d, "status", "in_progress");
	assert_str_or_null(&d, "assignee", "ana");
	assert_str_or_null(&d, "resolution", NULL);
	assert_true(tsextrahop_int(&d, "mod_time", 0) >= mod1);
	bson_destroy(&d);

	/* acknowledged and no_action_taken are accepted values; participants replace. */
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/4", H_AUTH_JSON,
	    "{\"status\": \"acknowledged\", \"resolution\": \"no_action_taken\", "
	    "\"participants\": [{\"role\": \"offender\", \"object_type\": \"ipaddr\", "
	    "\"object_value\": \"192.0.2.9\"}]}", NULL), 204);
	get_detection(&t, 4, &d);
	assert_str_or_null(&d, "status", "acknowledged");
	assert_string_equal(tsextrahop_str(&d, "participants.0.object_value"), "192.0.2.9");
	assert_null(tsextrahop_str(&d, "participants.1.role"));
	bson_destroy(&d);
	/* The control view agrees with the API view. */
	assert_int_equal(tsextrahop_get_detection(&t, 4, &d), 0);
	assert_str_or_null(&d, "ticket_id", "JIRA-7");
	bson_destroy(&d);
	/* Other detections are untouched. */
	get_detection(&t, 3, &d);
	assert_str_or_null(&d, "ticket_id", NULL);
	bson_destroy(&d);
	stop(&t);
}

static void
test_patch_validation(void **state)
{
	static const char *const bad[] = {
		"{\"bogus\": 1}",
		"{\"status\": \"done\"}",
		"{\"status\": \"Closed\"}",
		"{\"resolution\": \"fixed\"}",
		"{\"ticket_id\": 17}",
		"{\"assignee\": true}",
		"{\"participants\": {\"role\": \"offender\"}}",
		"{\"participants\": [1, 2]}",
		"[{\"status\": \"new\"}]",
		"\"closed\"",
		"42",
		"{\"status\": ",
		"not json at all",
		"",
		"{}",
	};
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 2 };
	const char *const text[] = { AUTH, "Content-Type: text/plain", NULL };
	tsextrahop_t t;
	bson_t d;

	(void)state;
	start(&t, &o);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(&t, "PATCH", "/api/v1/detections/2", H_AUTH_JSON, bad[i], 400);
	expect_error(&t, "PATCH", "/api/v1/detections/2", text, "{\"status\": \"new\"}", 415);
	get_detection(&t, 2, &d);
	assert_str_or_null(&d, "status", NULL);
	assert_str_or_null(&d, "resolution", NULL);
	assert_str_or_null(&d, "ticket_id", NULL);
	bson_destroy(&d);

	/* require_ticket_id: a PATCH without one is refused. */
	assert_int_equal(tsextrahop_settings(&t, "{\"require_ticket_id\": true}"), 0);
	expect_error(&t, "PATCH", "/api/v1/detections/2", H_AUTH_JSON, "{\"status\": \"new\"}",
	    400);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/2", H_AUTH_JSON,
	    "{\"ticket_id\": \"T-1\", \"status\": \"new\"}", NULL), 204);
	/* ticket tracking switched off: 403 as on a sensor without it. */
	assert_int_equal(tsextrahop_settings(&t, "{\"ticket_tracking\": false}"), 0);
	expect_error(&t, "PATCH", "/api/v1/detections/2", H_AUTH_JSON,
	    "{\"ticket_id\": \"T-1\", \"status\": \"closed\"}", 403);
	get_detection(&t, 2, &d);
	assert_str_or_null(&d, "status", "new");
	bson_destroy(&d);
	expect_error(&t, "PUT", "/_fake/settings", H_AUTH_JSON, "{\"nope\": 1}", 400);
	stop(&t);
}

static void
test_patch_ids_and_auto_create(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 3 };
	const char *body = "{\"ticket_id\": \"T-9\"}";
	tsextrahop_t t;
	bson_t d;

	(void)state;
	start(&t, &o);
	expect_error(&t, "PATCH", "/api/v1/detections/4", H_AUTH_JSON, body, 404);
	expect_error(&t, "GET", "/api/v1/detections/4", H_AUTH, NULL, 404);
	expect_error(&t, "PATCH", "/api/v1/detections/0", H_AUTH_JSON, body, 404);
	expect_error(&t, "PATCH", "/api/v1/detections/99999999999999999999999", H_AUTH_JSON,
	    body, 404);
	expect_error(&t, "PATCH", "/api/v1/detections/abc", H_AUTH_JSON, body, 400);
	expect_error(&t, "PATCH", "/api/v1/detections/12abc", H_AUTH_JSON, body, 400);
	expect_error(&t, "PATCH", "/api/v1/detections/-5", H_AUTH_JSON, body, 400);
	expect_error(&t, "GET", "/api/v1/detections/1.5", H_AUTH, NULL, 400);
	assert_int_equal(tsextrahop_get_detection(&t, 4, &d), -1);
	bson_destroy(&d);

	assert_int_equal(tsextrahop_settings(&t, "{\"auto_create\": true}"), 0);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/424242", H_AUTH_JSON, body,
	    NULL), 204);
	get_detection(&t, 424242, &d);
	assert_int_equal(tsextrahop_int(&d, "id", 0), 424242);
	assert_str_or_null(&d, "ticket_id", "T-9");
	assert_non_null(tsextrahop_str(&d, "type"));
	bson_destroy(&d);
	/* Still 400 for ids that are not integers, even in auto-create mode. */
	expect_error(&t, "PATCH", "/api/v1/detections/x1", H_AUTH_JSON, body, 400);
	stop(&t);
}

static void
test_patch_tickets(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY };
	tsextrahop_t t;
	bson_t d;

	(void)state;
	start(&t, &o);
	assert_int_equal(tsextrahop_add_detections(&t,
	    "[{\"id\": 11, \"ticket_id\": \"T-9\", \"status\": \"new\"},"
	    " {\"id\": 12, \"ticket_id\": \"T-9\", \"status\": \"in_progress\"},"
	    " {\"id\": 13, \"ticket_id\": \"T-10\", \"status\": \"new\"}]"), 0);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/tickets", H_AUTH_JSON,
	    "{\"ticket_id\": \"T-9\", \"status\": \"closed\", \"resolution\": "
	    "\"no_action_taken\", \"assignee\": \"sam\"}", NULL), 204);
	for (int64_t id = 11; id <= 12; id++) {
		get_detection(&t, id, &d);
		assert_str_or_null(&d, "status", "closed");
		assert_str_or_null(&d, "resolution", "no_action_taken");
		assert_str_or_null(&d, "assignee", "sam");
		bson_destroy(&d);
	}
	get_detection(&t, 13, &d);
	assert_str_or_null(&d, "status", "new");
	assert_str_or_null(&d, "assignee", NULL);
	bson_destroy(&d);
	expect_error(&t, "PATCH", "/api/v1/detections/tickets", H_AUTH_JSON,
	    "{\"status\": \"closed\"}", 400);
	expect_error(&t, "PATCH", "/api/v1/detections/tickets", H_AUTH_JSON,
	    "{\"ticket_id\": null, \"status\": \"closed\"}", 400);
	expect_error(&t, "PATCH", "/api/v1/detections/tickets", H_AUTH_JSON,
	    "{\"ticket_id\": \"T-9\", \"status\": \"bad\"}", 400);
	expect_error(&t, "GET", "/api/v1/detections/tickets", H_AUTH, NULL, 405);
	stop(&t);
}

/* Search and return the ids as a comma list, e.g. "1,4,7". */
static void
search_ids(tsextrahop_t *t, const char *body, char *out, size_t len)
{
	tsextrahop_response_t r;
	bson_t wrapped;
	bson_error_t error;
	bson_iter_t it, child;
	char *j;

	assert_int_equal(tsextrahop_http(t, "POST", "/api/v1/detections/search", H_AUTH_JSON,
	    body, &r), 0);
	if (r.status != 200)
		fail_msg("search %s: %ld %s", body, r.status, r.body);
	assert_non_null(strstr(r.content_type, "application/json"));
	j = bson_strdup_printf("{\"v\": %s}", r.body);
	assert_true(bson_init_from_json(&wrapped, j, -1, &error));
	assert_true(bson_iter_init_find(&it, &wrapped, "v"));
	assert_true(BSON_ITER_HOLDS_ARRAY(&it));
	bson_iter_recurse(&it, &child);
	out[0] = '\0';
	while (bson_iter_next(&child)) {
		int64_t id;
		if (BSON_ITER_HOLDS_DOCUMENT(&child)) {
			bson_iter_t f;
			assert_true(bson_iter_recurse(&child, &f) && bson_iter_find(&f, "id"));
			id = bson_iter_as_int64(&f);
		} else {
			id = bson_iter_as_int64(&child);
		}
		snprintf(out + strlen(out), len - strlen(out), "%s%lld", out[0] ? "," : "",
		    (long long)id);
	}
	bson_free(j);
	bson_destroy(&wrapped);
	tsextrahop_response_free(&r);
}

#define ASSERT_SEARCH(t, body, want)                                             \
	do {                                                                     \
		char got_[1024];                                                 \
		search_ids((t), (body), got_, sizeof(got_));                     \
		if (strcmp(got_, (want)) != 0)                                   \
			fail_msg("search %s: got [%s] want [%s]", (body), got_, (want)); \
	} while (0)

static void
test_search_filters(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY };
	tsextrahop_t t;
	tsextrahop_response_t r;
	bson_t d;
	char body[256];
	int64_t mod;

	(void)state;
	start(&t, &o);
	assert_int_equal(tsextrahop_add_detections(&t,
	    "[{\"id\": 1, \"type\": \"dns_tunnel\", \"categories\": [\"sec\", \"sec.exfil\"],"
	    "  \"risk_score\": 80, \"start_time\": 1000, \"end_time\": 2000,"
	    "  \"status\": \"new\", \"assignee\": \"ana\", \"ticket_id\": \"T-1\","
	    "  \"resolution\": null, \"mod_time\": 100},"
	    " {\"id\": 2, \"type\": \"ssh_brute_force\", \"categories\": [\"sec.attack\"],"
	    "  \"risk_score\": 30, \"start_time\": 3000, \"end_time\": 4000,"
	    "  \"status\": null, \"assignee\": null, \"ticket_id\": null, \"mod_time\": 300},"
	    " {\"id\": 3, \"type\": \"db_error_spike\", \"categories\": [\"perf\"],"
	    "  \"risk_score\": null, \"start_time\": 5000, \"end_time\": 6000,"
	    "  \"status\": \"closed\", \"assignee\": \"bo\", \"ticket_id\": \"T-3\","
	    "  \"resolution\": \"action_taken\", \"mod_time\": 200},"
	    " {\"id\": 4, \"type\": \"dns_tunnel\", \"categories\": [\"sec\", \"sec.exfil\"],"
	    "  \"risk_score\": 55, \"start_time\": 7000, \"end_time\": 8000,"
	    "  \"status\": \"in_progress\", \"assignee\": \"ana\", \"ticket_id\": \"T-4\","
	    "  \"mod_time\": 400}]"), 0);

	ASSERT_SEARCH(&t, "{}", "1,2,3,4");
	ASSERT_SEARCH(&t, "", "1,2,3,4");
	ASSERT_SEARCH(&t, "{\"filter\": {\"status\": [\"new\", \"closed\"]}}", "1,3");
	ASSERT_SEARCH(&t, "{\"filter\": {\"status\": [\".none\"]}}", "2");
	ASSERT_SEARCH(&t, "{\"filter\": {\"status\": [\".none\", \"in_progress\"]}}", "2,4");
	ASSERT_SEARCH(&t, "{\"filter\": {\"assignee\": [\"ana\"]}}", "1,4");
	ASSERT_SEARCH(&t, "{\"filter\": {\"assignee\": [\".none\"]}}", "2");
	ASSERT_SEARCH(&t, "{\"filter\": {\"ticket_id\": [\"T-3\", \"T-4\"]}}", "3,4");
	ASSERT_SEARCH(&t, "{\"filter\": {\"ticket_id\": [\".none\"]}}", "2");
	ASSERT_SEARCH(&t, "{\"filter\": {\"resolution\": [\".none\"]}}", "1,2,4");
	ASSERT_SEARCH(&t, "{\"filter\": {\"resolution\": [\"action_taken\"]}}", "3");
	ASSERT_SEARCH(&t, "{\"filter\": {\"categories\": [\"sec.exfil\"]}}", "1,4");
	ASSERT_SEARCH(&t, "{\"filter\": {\"categories\": [\"perf\", \"sec.attack\"]}}", "2,3");
	ASSERT_SEARCH(&t, "{\"filter\": {\"types\": [\"dns_tunnel\"]}}", "1,4");
	ASSERT_SEARCH(&t, "{\"filter\": {\"risk_score_min\": 50}}", "1,4");
	ASSERT_SEARCH(&t, "{\"filter\": {\"types\": [\"dns_tunnel\"], \"assignee\": [\"ana\"],"
	    " \"status\": [\"new\"]}}", "1");
	ASSERT_SEARCH(&t, "{\"mod_time\": 250}", "2,4");
	ASSERT_SEARCH(&t, "{\"from\": 4000, \"until\": 6500}", "2,3");
	ASSERT_SEARCH(&t, "{\"sort\": [{\"field\": \"mod_time\", \"direction\": \"asc\"}]}",
	    "1,3,2,4");
	ASSERT_SEARCH(&t, "{\"sort\": [{\"field\": \"risk_score\", \"direction\": \"desc\"}]}",
	    "1,4,2,3");
	ASSERT_SEARCH(&t, "{\"sort\": [{\"field\": \"assignee\", \"direction\": \"asc\"},"
	    " {\"field\": \"id\", \"direction\": \"desc\"}]}", "2,4,1,3");
	ASSERT_SEARCH(&t, "{\"limit\": 2, \"offset\": 1}", "2,3");
	ASSERT_SEARCH(&t, "{\"limit\": 2, \"offset\": 9}", "");
	ASSERT_SEARCH(&t, "{\"id_only\": true, \"filter\": {\"status\": [\".none\"]}}", "2");
	/* id_only really returns bare ids. */
	assert_int_equal(tsextrahop_http(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON,
	    "{\"id_only\": true, \"limit\": 2}", &r), 0);
	assert_string_equal(r.body, "[1,2]");
	tsextrahop_response_free(&r);

	/* A PATCH moves a detection into the incremental window (mod_time ascending). */
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON,
	    "{\"ticket_id\": \"T-1\", \"status\": \"closed\"}", NULL), 204);
	get_detection(&t, 1, &d);
	mod = tsextrahop_int(&d, "mod_time", 0);
	bson_destroy(&d);
	snprintf(body, sizeof(body), "{\"mod_time\": %lld, \"sort\": [{\"field\": "
	    "\"mod_time\", \"direction\": \"asc\"}]}", (long long)mod);
	ASSERT_SEARCH(&t, body, "1");
	ASSERT_SEARCH(&t, "{\"mod_time\": -60000}", "1");

	expect_error(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON,
	    "{\"filter\": {\"colour\": [\"red\"]}}", 400);
	expect_error(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON,
	    "{\"filter\": {\"status\": \"new\"}}", 400);
	expect_error(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON, "{\"limit\": 20001}",
	    400);
	expect_error(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON, "{\"limit\": 0}",
	    400);
	expect_error(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON, "{\"offset\": -1}",
	    400);
	expect_error(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON,
	    "{\"sort\": [{\"field\": \"colour\", \"direction\": \"asc\"}]}", 400);
	expect_error(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON,
	    "{\"sort\": [{\"field\": \"id\", \"direction\": \"up\"}]}", 400);
	expect_error(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON, "{\"bogus\": 1}",
	    400);
	stop(&t);
}

static void
test_search_limits_on_many(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 25000 };
	tsextrahop_t t;
	tsextrahop_response_t r;
	size_t commas = 0;

	(void)state;
	start(&t, &o);
	/* Default limit 1000, maximum 20000. */
	assert_int_equal(tsextrahop_http(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON,
	    "{\"id_only\": true}", &r), 0);
	for (const char *p = r.body; *p; p++)
		commas += *p == ',';
	assert_int_equal(commas + 1, 1000);
	tsextrahop_response_free(&r);
	assert_int_equal(tsextrahop_http(&t, "POST", "/api/v1/detections/search", H_AUTH_JSON,
	    "{\"id_only\": true, \"limit\": 20000, \"offset\": 10000}", &r), 0);
	commas = 0;
	for (const char *p = r.body; *p; p++)
		commas += *p == ',';
	assert_int_equal(commas + 1, 15000 > 20000 ? 20000 : 15000);
	assert_int_equal(strncmp(r.body, "[10001,", 7), 0);
	tsextrahop_response_free(&r);
	stop(&t);
}

static const bson_t *
nth_request(const bson_t *reply, int n, bson_t *out)
{
	bson_iter_t it, child;
	const uint8_t *data;
	uint32_t len;
	char key[16];

	snprintf(key, sizeof(key), "%d", n);
	assert_true(bson_iter_init_find(&it, reply, "requests"));
	assert_true(bson_iter_recurse(&it, &child));
	assert_true(bson_iter_find(&child, key));
	bson_iter_document(&child, &len, &data);
	assert_true(bson_init_static(out, data, len));
	return out;
}

static int
count_array(const bson_t *doc, const char *key)
{
	bson_iter_t it, child;
	int n = 0;

	assert_true(bson_iter_init_find(&it, doc, key));
	assert_true(bson_iter_recurse(&it, &child));
	while (bson_iter_next(&child))
		n++;
	return n;
}

static int
count_requests(const bson_t *reply)
{
	return count_array(reply, "requests");
}

static void
test_recording_order_and_contents(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 2 };
	const char *const wrong[] = { "Authorization: ExtraHop apikey=WRONG", NULL };
	const char *const text[] = { AUTH, "Content-Type: text/plain", NULL };
	tsextrahop_t t;
	bson_t reply, e, stats;
	bson_iter_t it;
	int64_t s1;

	(void)state;
	start(&t, &o);
	assert_int_equal(call(&t, "GET", "/api/v1/extrahop/version", H_AUTH, NULL, NULL), 200);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON,
	    "{\"ticket_id\": \"T-1\", \"status\": \"new\"}", NULL), 204);
	/* Control calls are never recorded. */
	assert_int_equal(tsextrahop_stats(&t, &stats), 0);
	bson_destroy(&stats);
	assert_int_equal(call(&t, "POST", "/api/v1/detections/search?x=1&y=two", text,
	    "not json {", NULL), 415);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/2", wrong, NULL, NULL), 401);

	assert_int_equal(tsextrahop_requests(&t, 0, &reply), 0);
	assert_int_equal(count_requests(&reply), 4);
	assert_int_equal(tsextrahop_int(&reply, "last_seq", 0), 4);
	assert_int_equal(tsextrahop_int(&reply, "dropped", -1), 0);

	nth_request(&reply, 0, &e);
	s1 = tsextrahop_int(&e, "seq", 0);
	assert_int_equal(s1, 1);
	assert_string_equal(tsextrahop_str(&e, "method"), "GET");
	assert_string_equal(tsextrahop_str(&e, "path"), "/api/v1/extrahop/version");
	assert_str_or_null(&e, "query", NULL);
	assert_string_equal(tsextrahop_str(&e, "authorization"), "ExtraHop apikey=" KEY);
	assert_str_or_null(&e, "content_type", NULL);
	assert_true(bson_iter_init_find(&it, &e, "body") && BSON_ITER_HOLDS_NULL(&it));
	assert_int_equal(tsextrahop_int(&e, "status", 0), 200);
	assert_true(tsextrahop_int(&e, "time_ms", 0) > 1600000000000LL);

	nth_request(&reply, 1, &e);
	assert_int_equal(tsextrahop_int(&e, "seq", 0), 2);
	assert_string_equal(tsextrahop_str(&e, "method"), "PATCH");
	assert_string_equal(tsextrahop_str(&e, "path"), "/api/v1/detections/1");
	assert_string_equal(tsextrahop_str(&e, "content_type"), "application/json");
	assert_string_equal(tsextrahop_str(&e, "body.ticket_id"), "T-1");
	assert_string_equal(tsextrahop_str(&e, "body.status"), "new");
	assert_int_equal(tsextrahop_int(&e, "status", 0), 204);
	assert_true(bson_iter_init_find(&it, &e, "fault") && BSON_ITER_HOLDS_NULL(&it));

	nth_request(&reply, 2, &e);
	assert_string_equal(tsextrahop_str(&e, "method"), "POST");
	assert_string_equal(tsextrahop_str(&e, "path"), "/api/v1/detections/search");
	assert_string_equal(tsextrahop_str(&e, "query"), "x=1&y=two");
	assert_string_equal(tsextrahop_str(&e, "content_type"), "text/plain");
	assert_string_equal(tsextrahop_str(&e, "body"), "not json {");
	assert_int_equal(tsextrahop_int(&e, "status", 0), 415);

	nth_request(&reply, 3, &e);
	assert_string_equal(tsextrahop_str(&e, "authorization"), "ExtraHop apikey=WRONG");
	assert_int_equal(tsextrahop_int(&e, "status", 0), 401);
	bson_destroy(&reply);

	/* since=N returns only later requests. */
	assert_int_equal(tsextrahop_requests(&t, 2, &reply), 0);
	assert_int_equal(count_requests(&reply), 2);
	nth_request(&reply, 0, &e);
	assert_int_equal(tsextrahop_int(&e, "seq", 0), 3);
	bson_destroy(&reply);

	/* Counters are exact. */
	assert_int_equal(tsextrahop_stats(&t, &stats), 0);
	assert_int_equal(tsextrahop_int(&stats, "requests", 0), 4);
	assert_int_equal(tsextrahop_int(&stats, "by_method.GET", 0), 2);
	assert_int_equal(tsextrahop_int(&stats, "by_method.PATCH", 0), 1);
	assert_int_equal(tsextrahop_int(&stats, "by_method.POST", 0), 1);
	assert_int_equal(tsextrahop_int(&stats, "by_status.204", 0), 1);
	assert_int_equal(tsextrahop_int(&stats, "by_status.401", 0), 1);
	assert_int_equal(tsextrahop_int(&stats, "patch_accepted", 0), 1);
	bson_destroy(&stats);

	/* Reset clears recordings and counters; sequence numbers keep growing. */
	assert_int_equal(tsextrahop_reset(&t), 0);
	assert_int_equal(tsextrahop_requests(&t, 0, &reply), 0);
	assert_int_equal(count_requests(&reply), 0);
	bson_destroy(&reply);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/2", H_AUTH, NULL, NULL), 200);
	assert_int_equal(tsextrahop_requests(&t, 0, &reply), 0);
	assert_int_equal(count_requests(&reply), 1);
	nth_request(&reply, 0, &e);
	assert_int_equal(tsextrahop_int(&e, "seq", 0), 5);
	bson_destroy(&reply);
	assert_int_equal(tsextrahop_stats(&t, &stats), 0);
	assert_int_equal(tsextrahop_int(&stats, "requests", 0), 1);
	assert_int_equal(tsextrahop_int(&stats, "patch_accepted", -1), 0);
	bson_destroy(&stats);
	stop(&t);
}

static void
test_record_limit(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 1, .record_limit = 5 };
	tsextrahop_opts_t counts_only = { .api_key = KEY, .detections_count = 1,
		.record_limit = -1 };
	tsextrahop_t t;
	bson_t reply, e, stats;
	client_t cl;
	char url[256];

	(void)state;
	start(&t, &o);
	client_init(&cl, NULL);
	snprintf(url, sizeof(url), "%s/api/v1/detections/1", t.http_url);
	for (int i = 0; i < 12; i++)
		assert_int_equal(client_call(&cl, "PATCH", url, "{\"ticket_id\": \"T\"}"), 204);
	assert_int_equal(tsextrahop_requests(&t, 0, &reply), 0);
	assert_int_equal(count_requests(&reply), 5);
	assert_int_equal(tsextrahop_int(&reply, "dropped", 0), 7);
	assert_int_equal(tsextrahop_int(&reply, "last_seq", 0), 12);
	nth_request(&reply, 0, &e);
	assert_int_equal(tsextrahop_int(&e, "seq", 0), 8);
	nth_request(&reply, 4, &e);
	assert_int_equal(tsextrahop_int(&e, "seq", 0), 12);
	bson_destroy(&reply);
	assert_int_equal(tsextrahop_stats(&t, &stats), 0);
	assert_int_equal(tsextrahop_int(&stats, "requests", 0), 12);
	assert_int_equal(tsextrahop_int(&stats, "patch_accepted", 0), 12);
	assert_int_equal(tsextrahop_int(&stats, "recorded", 0), 5);
	bson_destroy(&stats);
	client_free(&cl);
	stop(&t);

	start(&t, &counts_only);
	client_init(&cl, NULL);
	snprintf(url, sizeof(url), "%s/api/v1/detections/1", t.http_url);
	for (int i = 0; i < 7; i++)
		assert_int_equal(client_call(&cl, "PATCH", url, "{\"ticket_id\": \"T\"}"), 204);
	assert_int_equal(tsextrahop_requests(&t, 0, &reply), 0);
	assert_int_equal(count_requests(&reply), 0);
	assert_int_equal(tsextrahop_int(&reply, "last_seq", 0), 7);
	bson_destroy(&reply);
	assert_int_equal(tsextrahop_stats(&t, &stats), 0);
	assert_int_equal(tsextrahop_int(&stats, "requests", 0), 7);
	assert_int_equal(tsextrahop_int(&stats, "by_status.204", 0), 7);
	bson_destroy(&stats);
	client_free(&cl);
	stop(&t);
}

static void
test_fault_latency(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 2 };
	tsextrahop_t t;
	tsextrahop_response_t r;
	bson_t reply, e;
	char buf[4096], body[1024];
	size_t used = 0;
	double t0;
	int fd;

	(void)state;
	start(&t, &o);
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"latency\", \"latency_ms\": 400, "
	    "\"count\": 1}") > 0);
	assert_int_equal(tsextrahop_http(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_true(r.seconds >= 0.39);
	tsextrahop_response_free(&r);
	assert_int_equal(tsextrahop_http(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, &r), 0);
	tsextrahop_response_free(&r);
	/* count 1: the second request was not delayed (the recording says so, not a clock). */
	assert_int_equal(tsextrahop_requests(&t, 0, &reply), 0);
	nth_request(&reply, 0, &e);
	assert_true(tsextrahop_int(&e, "delayed", 0));
	assert_true(tsextrahop_int(&e, "duration_ms", 0) >= 400);
	nth_request(&reply, 1, &e);
	assert_false(tsextrahop_int(&e, "delayed", 1));
	bson_destroy(&reply);

	/* Random latency stays within its range (upper bound with room for a busy box). */
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"latency\", \"latency_ms\": 50, "
	    "\"latency_max_ms\": 150, \"count\": 4}") > 0);
	assert_int_equal(tsextrahop_reset(&t), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(call(&t, "GET", "/api/v1/detections/2", H_AUTH, NULL, NULL), 200);
	assert_int_equal(tsextrahop_requests(&t, 0, &reply), 0);
	for (int i = 0; i < 4; i++) {
		int64_t ms;
		nth_request(&reply, i, &e);
		ms = tsextrahop_int(&e, "duration_ms", -1);
		if (ms < 50 || ms > 150 + 350)
			fail_msg("delayed request took %lld ms, rule says 50..150", (long long)ms);
		assert_true(tsextrahop_int(&e, "delayed", 0));
	}
	bson_destroy(&reply);

	/* A delayed reply does not hold up anyone else: the loop never sleeps. */
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"latency\", \"latency_ms\": 3000, "
	    "\"path_prefix\": \"/api/v1/detections/1\"}") > 0);
	fd = raw_connect(t.http_port);
	raw_send(fd, "GET /api/v1/detections/1 HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n\r\n");
	usleep(50000);
	t0 = ((double)clock_mono_ms() / 1e3);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/2", H_AUTH, NULL, NULL), 200);
	assert_true(((double)clock_mono_ms() / 1e3) - t0 < 2.0);
	assert_int_equal(raw_response(fd, buf, &used, sizeof(buf), body, sizeof(body), 10000),
	    200);
	close(fd);

	/* A client that hangs up while its reply is delayed costs nothing (no crash, no
	 * leak: stop() insists on a clean exit). */
	assert_int_equal(tsextrahop_clear_faults(&t), 0);
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"latency\", \"latency_ms\": 200}") > 0);
	for (int i = 0; i < 3; i++) {
		fd = raw_connect(t.http_port);
		raw_send(fd, "GET /api/v1/detections/1 HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n\r\n");
		close(fd);
	}
	usleep(500000);
	assert_int_equal(tsextrahop_clear_faults(&t), 0);
	{
		bson_t stats;
		assert_int_equal(call(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, NULL), 200);
		assert_int_equal(tsextrahop_stats(&t, &stats), 0);
		assert_int_equal(tsextrahop_int(&stats, "pending", -1), 0);
		assert_int_equal(tsextrahop_int(&stats, "delayed_now", -1), 0);
		bson_destroy(&stats);
	}
	stop(&t);
}

static void
test_fault_429_retry_after(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 2 };
	tsextrahop_t t;
	tsextrahop_response_t r;
	bson_t doc, reply, e;

	(void)state;
	start(&t, &o);
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"status\", \"status\": 429, "
	    "\"retry_after\": 7, \"count\": 1}") > 0);
	assert_int_equal(tsextrahop_http(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON,
	    "{\"ticket_id\": \"T-1\"}", &r), 0);
	assert_int_equal(r.status, 429);
	assert_string_equal(r.retry_after, "7");
	assert_int_equal(tsextrahop_response_json(&r, &doc), 0);
	assert_error_message(&doc);
	bson_destroy(&doc);
	tsextrahop_response_free(&r);
	/* The injected reply did not apply the PATCH. */
	get_detection(&t, 1, &doc);
	assert_str_or_null(&doc, "ticket_id", NULL);
	bson_destroy(&doc);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON,
	    "{\"ticket_id\": \"T-1\"}", NULL), 204);

	/* 429 without retry_after defaults to 1 s; null leaves the header out. */
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"status\", \"status\": 429, "
	    "\"count\": 1}") > 0);
	assert_int_equal(tsextrahop_http(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, &r), 0);
	assert_int_equal(r.status, 429);
	assert_string_equal(r.retry_after, "1");
	tsextrahop_response_free(&r);
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"status\", \"status\": 429, "
	    "\"retry_after\": null, \"count\": 1}") > 0);
	assert_int_equal(tsextrahop_http(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, &r), 0);
	assert_int_equal(r.status, 429);
	assert_string_equal(r.retry_after, "");
	tsextrahop_response_free(&r);

	assert_int_equal(tsextrahop_requests(&t, 0, &reply), 0);
	nth_request(&reply, 0, &e);
	assert_int_equal(tsextrahop_int(&e, "status", 0), 429);
	assert_string_equal(tsextrahop_str(&e, "fault"), "status");
	bson_destroy(&reply);
	stop(&t);
}

static void
test_fault_5xx_count(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 1 };
	tsextrahop_t t;
	tsextrahop_response_t r;
	bson_t faults;

	(void)state;
	start(&t, &o);
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"status\", \"status\": 503, "
	    "\"count\": 2, \"retry_after\": 3}") > 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tsextrahop_http(&t, "PATCH", "/api/v1/detections/1",
		    H_AUTH_JSON, "{\"status\": \"new\"}", &r), 0);
		assert_int_equal(r.status, 503);
		assert_string_equal(r.retry_after, "3");
		tsextrahop_response_free(&r);
	}
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON,
	    "{\"status\": \"new\"}", NULL), 204);
	/* The spent rule shows its use. */
	assert_int_equal(call(&t, "GET", "/_fake/faults", NULL, NULL, &faults), 200);
	assert_int_equal(tsextrahop_int(&faults, "faults.0.remaining", -1), 0);
	assert_int_equal(tsextrahop_int(&faults, "faults.0.fired", -1), 2);
	bson_destroy(&faults);
	/* 500 until cleared (no count), with a custom message. */
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"status\", \"status\": 500, "
	    "\"error_message\": \"boom\"}") > 0);
	for (int i = 0; i < 3; i++) {
		bson_t doc;
		assert_int_equal(call(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, &doc), 500);
		assert_string_equal(tsextrahop_str(&doc, "error_message"), "boom");
		bson_destroy(&doc);
	}
	assert_int_equal(tsextrahop_clear_faults(&t), 0);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, NULL), 200);
	stop(&t);
}

static void
test_fault_close(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 1, .tls = true };
	tsextrahop_t t;
	tsextrahop_response_t r;
	bson_t reply, e, doc, stats;
	char url[256];

	(void)state;
	start(&t, &o);
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"close\", \"count\": 2}") > 0);
	snprintf(url, sizeof(url), "%s/api/v1/detections/1", t.http_url);
	assert_int_equal(tsextrahop_http(&t, "PATCH", url, H_AUTH_JSON,
	    "{\"ticket_id\": \"T-1\"}", &r), -1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.curl_code, CURLE_GOT_NOTHING);
	tsextrahop_response_free(&r);
	/* Over TLS too: no reply at all. */
	assert_int_equal(tsextrahop_http(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON,
	    "{\"ticket_id\": \"T-1\"}", &r), -1);
	assert_int_equal(r.status, 0);
	assert_int_not_equal(r.curl_code, CURLE_OK);
	tsextrahop_response_free(&r);
	get_detection(&t, 1, &doc);
	assert_str_or_null(&doc, "ticket_id", NULL);
	bson_destroy(&doc);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON,
	    "{\"ticket_id\": \"T-1\"}", NULL), 204);

	assert_int_equal(tsextrahop_requests(&t, 0, &reply), 0);
	nth_request(&reply, 0, &e);
	assert_int_equal(tsextrahop_int(&e, "status", -1), 0);
	assert_string_equal(tsextrahop_str(&e, "fault"), "close");
	bson_destroy(&reply);
	assert_int_equal(tsextrahop_stats(&t, &stats), 0);
	assert_int_equal(tsextrahop_int(&stats, "faults.close", 0), 2);
	assert_int_equal(tsextrahop_int(&stats, "by_status.0", 0), 2);
	bson_destroy(&stats);
	stop(&t);
}

static void
test_fault_fraction(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 1, .seed = 42 };
	tsextrahop_t t;
	client_t cl;
	bson_t stats, faults;
	char url[256];
	int n500 = 0, n204 = 0, n503 = 0;

	(void)state;
	start(&t, &o);
	client_init(&cl, NULL);
	snprintf(url, sizeof(url), "%s/api/v1/detections/1", t.http_url);
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"status\", \"status\": 500, "
	    "\"fraction\": 0.5}") > 0);
	for (int i = 0; i < 400; i++) {
		long s = client_call(&cl, "PATCH", url, "{\"ticket_id\": \"T\"}");
		n500 += s == 500;
		n204 += s == 204;
	}
	assert_int_equal(n500 + n204, 400);
	/* Binomial(400, 0.5): 120..280 is more than 8 standard deviations wide. */
	if (n500 < 120 || n500 > 280)
		fail_msg("fraction 0.5 fired %d times out of 400", n500);
	assert_int_equal(tsextrahop_stats(&t, &stats), 0);
	assert_int_equal(tsextrahop_int(&stats, "by_status.500", 0), n500);
	assert_int_equal(tsextrahop_int(&stats, "faults.status", 0), n500);
	assert_int_equal(tsextrahop_int(&stats, "patch_accepted", 0), n204);
	bson_destroy(&stats);
	assert_int_equal(call(&t, "GET", "/_fake/faults", NULL, NULL, &faults), 200);
	assert_int_equal(tsextrahop_int(&faults, "faults.0.matched", 0), 400);
	assert_int_equal(tsextrahop_int(&faults, "faults.0.fired", 0), n500);
	bson_destroy(&faults);

	/* count bounds a fraction: at most 3 of 100 fire. */
	assert_int_equal(tsextrahop_clear_faults(&t), 0);
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"status\", \"status\": 503, "
	    "\"fraction\": 0.5, \"count\": 3}") > 0);
	for (int i = 0; i < 100; i++)
		n503 += client_call(&cl, "PATCH", url, "{\"ticket_id\": \"T\"}") == 503;
	assert_int_equal(n503, 3);
	/* fraction 0 never fires. */
	assert_int_equal(tsextrahop_clear_faults(&t), 0);
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"close\", \"fraction\": 0}") > 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(client_call(&cl, "PATCH", url, "{\"ticket_id\": \"T\"}"), 204);
	client_free(&cl);
	stop(&t);
}

static void
test_fault_matching_and_order(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 3 };
	tsextrahop_t t;
	tsextrahop_response_t r;
	bson_t faults;
	int64_t id;

	(void)state;
	start(&t, &o);
	/* Only PATCHes of detection 2. */
	id = tsextrahop_set_fault(&t, "{\"kind\": \"status\", \"status\": 503, \"method\": "
	    "\"patch\", \"path_prefix\": \"/api/v1/detections/2\"}");
	assert_true(id > 0);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/2", H_AUTH, NULL, NULL), 200);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/3", H_AUTH_JSON,
	    "{\"status\": \"new\"}", NULL), 204);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/2", H_AUTH_JSON,
	    "{\"status\": \"new\"}", NULL), 503);
	/* Control calls are never faulted. */
	assert_int_equal(call(&t, "GET", "/_fake/stats", NULL, NULL, NULL), 200);
	{
		char path[64];
		snprintf(path, sizeof(path), "/_fake/faults/%lld", (long long)id);
		assert_int_equal(call(&t, "DELETE", path, NULL, NULL, NULL), 204);
		assert_int_equal(call(&t, "DELETE", path, NULL, NULL, NULL), 404);
	}

	/* Latency accumulates, then the first firing status rule decides; a status rule
	 * later in the list is not consulted, so its count is not spent. */
	assert_true(tsextrahop_set_fault(&t, "[{\"kind\": \"latency\", \"latency_ms\": 300,"
	    " \"count\": 1}, {\"kind\": \"status\", \"status\": 502, \"count\": 1},"
	    " {\"kind\": \"status\", \"status\": 504, \"count\": 1}]") > 0);
	assert_int_equal(tsextrahop_http(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, &r), 0);
	assert_int_equal(r.status, 502);
	assert_true(r.seconds >= 0.29);
	tsextrahop_response_free(&r);
	assert_int_equal(tsextrahop_reset(&t), 0);
	assert_int_equal(tsextrahop_http(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, &r), 0);
	assert_int_equal(r.status, 504);
	tsextrahop_response_free(&r);
	/* The spent latency rule did not delay this one. */
	{
		bson_t reply, e;
		assert_int_equal(tsextrahop_requests(&t, 0, &reply), 0);
		nth_request(&reply, 0, &e);
		assert_false(tsextrahop_int(&e, "delayed", 1));
		bson_destroy(&reply);
	}
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, NULL), 200);
	assert_int_equal(call(&t, "GET", "/_fake/faults", NULL, NULL, &faults), 200);
	assert_string_equal(tsextrahop_str(&faults, "faults.2.kind"), "status");
	assert_int_equal(tsextrahop_int(&faults, "faults.2.fired", 0), 1);
	bson_destroy(&faults);

	/* Faults come before auth: a rate limiter answers whoever asks. */
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"status\", \"status\": 429, "
	    "\"count\": 1}") > 0);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1", NULL, NULL, NULL), 429);

	/* Bad rules are refused whole: nothing from a bad array is added. */
	assert_int_equal(tsextrahop_clear_faults(&t), 0);
	expect_error(&t, "POST", "/_fake/faults", NULL,
	    "[{\"kind\": \"status\", \"status\": 503}, {\"kind\": \"status\", \"status\": 200}]",
	    400);
	expect_error(&t, "POST", "/_fake/faults", NULL, "{\"kind\": \"explode\"}", 400);
	expect_error(&t, "POST", "/_fake/faults", NULL, "{\"kind\": \"latency\"}", 400);
	expect_error(&t, "POST", "/_fake/faults", NULL,
	    "{\"kind\": \"status\", \"status\": 503, \"fraction\": 2}", 400);
	expect_error(&t, "POST", "/_fake/faults", NULL,
	    "{\"kind\": \"close\", \"count\": 0}", 400);
	expect_error(&t, "POST", "/_fake/faults", NULL,
	    "{\"kind\": \"status\", \"status\": 503, \"colour\": 1}", 400);
	assert_int_equal(call(&t, "GET", "/_fake/faults", NULL, NULL, &faults), 200);
	assert_int_equal(count_array(&faults, "faults"), 0);
	bson_destroy(&faults);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1", H_AUTH, NULL, NULL), 200);
	stop(&t);
}

static void
test_fault_flags(void **state)
{
	static const char *const args[] = { "--fault",
		"{\"kind\": \"status\", \"status\": 503, \"count\": 1, \"method\": \"PATCH\"}",
		"--fault", "{\"kind\": \"latency\", \"latency_ms\": 1, \"count\": 1}", NULL };
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 1, .extra_args = args };
	tsextrahop_t t;
	bson_t faults;

	(void)state;
	start(&t, &o);
	assert_int_equal(call(&t, "GET", "/_fake/faults", NULL, NULL, &faults), 200);
	assert_int_equal(count_array(&faults, "faults"), 2);
	bson_destroy(&faults);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON,
	    "{\"status\": \"new\"}", NULL), 503);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON,
	    "{\"status\": \"new\"}", NULL), 204);
	stop(&t);

	/* A bad --fault stops the fake before READY. */
	{
		static const char *const bad[] = { "--fault", "{\"kind\": \"nope\"}", NULL };
		tsextrahop_opts_t ob = { .extra_args = bad };
		char err[512];
		assert_int_equal(tsextrahop_start(&t, &ob, err, sizeof(err)), -1);
	}
}

static void
test_https_with_generated_ca(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 2, .tls = true };
	tsextrahop_t t;
	tsextrahop_response_t r;
	bson_t doc;
	char url[256], line[128] = "";
	FILE *f;
	CURL *c;
	CURLcode rc;

	(void)state;
	start(&t, &o);
	assert_true(t.https_port > 0);
	assert_int_equal(strncmp(t.base_url, "https://127.0.0.1:", 18), 0);
	f = fopen(t.ca_file, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "-----BEGIN CERTIFICATE-----\n");

	/* Verification on, with the run's CA: IP SAN and DNS SAN both check out. */
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/2", H_AUTH_JSON,
	    "{\"ticket_id\": \"TLS-1\"}", NULL), 204);
	snprintf(url, sizeof(url), "https://localhost:%d/api/v1/detections/2", t.https_port);
	assert_int_equal(tsextrahop_http(&t, "GET", url, H_AUTH, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(tsextrahop_response_json(&r, &doc), 0);
	assert_str_or_null(&doc, "ticket_id", "TLS-1");
	bson_destroy(&doc);
	tsextrahop_response_free(&r);

	/* Without the CA the certificate is rejected (no insecure shortcuts anywhere). */
	c = curl_easy_init();
	snprintf(url, sizeof(url), "%s/api/v1/extrahop/version", t.https_url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, "/dev/null");
	curl_easy_setopt(c, CURLOPT_CAPATH, "/nonexistent");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(c);
	assert_int_not_equal(rc, CURLE_OK);
	curl_easy_cleanup(c);

	/* Plain HTTP stays available (the control API lives there). */
	snprintf(url, sizeof(url), "%s/api/v1/detections/2", t.http_url);
	assert_int_equal(call(&t, "GET", url, H_AUTH, NULL, NULL), 200);
	stop(&t);
}

static void
test_keepalive_and_pipelining(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 3, .tls = true };
	tsextrahop_t t;
	bson_t stats;
	client_t cl;
	char url[256], buf[16384], body[8192], req[1024];
	size_t used = 0;
	int64_t before, after;
	int fd;
	const char *pbody = "{\"ticket_id\": \"PIPE-1\"}";

	(void)state;
	start(&t, &o);
	/* One keep-alive connection carries many requests, over HTTPS too. */
	assert_int_equal(tsextrahop_stats(&t, &stats), 0);
	before = tsextrahop_int(&stats, "connections", -1);
	bson_destroy(&stats);
	client_init(&cl, t.ca_file);
	snprintf(url, sizeof(url), "%s/api/v1/detections/1", t.https_url);
	for (int i = 0; i < 30; i++)
		assert_int_equal(client_call(&cl, "PATCH", url, "{\"assignee\": \"ka\"}"), 204);
	client_free(&cl);
	assert_int_equal(tsextrahop_stats(&t, &stats), 0);
	after = tsextrahop_int(&stats, "connections", -1);
	assert_int_equal(tsextrahop_int(&stats, "patch_accepted", 0), 30);
	bson_destroy(&stats);
	/* +1 for the client, +1 for the stats call itself. */
	assert_int_equal(after - before, 2);

	/* Pipelined requests are answered in order, each after the previous one. */
	fd = raw_connect(t.http_port);
	snprintf(req, sizeof(req),
	    "PATCH /api/v1/detections/3 HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n" JSON "\r\n"
	    "Content-Length: %zu\r\n\r\n%s"
	    "GET /api/v1/detections/3 HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n\r\n"
	    "GET /api/v1/detections/99 HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n\r\n",
	    strlen(pbody), pbody);
	raw_send(fd, req);
	assert_int_equal(raw_response(fd, buf, &used, sizeof(buf), body, sizeof(body), 5000),
	    204);
	assert_int_equal(raw_response(fd, buf, &used, sizeof(buf), body, sizeof(body), 5000),
	    200);
	assert_non_null(strstr(body, "\"PIPE-1\""));
	assert_int_equal(raw_response(fd, buf, &used, sizeof(buf), body, sizeof(body), 5000),
	    404);
	close(fd);
	stop(&t);
}

static void
test_body_limit(void **state)
{
	static const char *const args[] = { "--max-body", "4096", NULL };
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 1, .extra_args = args };
	tsextrahop_t t;
	char *big = malloc(20000);

	(void)state;
	assert_non_null(big);
	start(&t, &o);
	memset(big, ' ', 19999);
	memcpy(big, "{\"ticket_id\": \"T\"", 17);
	big[19998] = '}';
	big[19999] = '\0';
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON, big, NULL), 413);
	/* Just under the limit is fine. */
	big[3000] = '}';
	big[3001] = '\0';
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/1", H_AUTH_JSON, big, NULL), 204);
	free(big);
	stop(&t);
}

static void
test_control_detections_and_file(void **state)
{
	char path[] = "/tmp/fxdetXXXXXX";
	int fd = mkstemp(path);
	const char *file =
	    "[{\"id\": 101, \"title\": \"Custom thing\", \"type\": \"custom.thing\","
	    "  \"categories\": [\"sec.attack\"], \"risk_score\": 77, \"start_time\": 1000,"
	    "  \"end_time\": 2000, \"ticket_id\": \"J-1\", \"status\": \"in_progress\","
	    "  \"assignee\": \"bob\", \"resolution\": null, \"extra\": {\"a\": [1, 2]},"
	    "  \"participants\": [{\"role\": \"victim\", \"object_type\": \"device\","
	    "  \"object_id\": 9}]},"
	    " {\"id\": 102, \"title\": \"Other\", \"type\": \"dns_tunnel\"}]";
	tsextrahop_opts_t o = { .api_key = KEY };
	tsextrahop_t t;
	bson_t d, stats;
	bson_iter_t it;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, file, strlen(file)), (ssize_t)strlen(file));
	close(fd);
	o.detections_file = path;
	start(&t, &o);
	unlink(path);

	get_detection(&t, 101, &d);
	assert_string_equal(tsextrahop_str(&d, "title"), "Custom thing");
	assert_str_or_null(&d, "ticket_id", "J-1");
	assert_str_or_null(&d, "status", "in_progress");
	assert_int_equal(tsextrahop_int(&d, "extra.a.1", 0), 2);
	assert_int_equal(tsextrahop_int(&d, "participants.0.object_id", 0), 9);
	assert_true(tsextrahop_int(&d, "mod_time", 0) > 0);
	/* The document's own key order is kept. */
	assert_true(bson_iter_init(&it, &d) && bson_iter_next(&it));
	assert_string_equal(bson_iter_key(&it), "id");
	bson_destroy(&d);
	assert_int_equal(call(&t, "PATCH", "/api/v1/detections/101", H_AUTH_JSON,
	    "{\"participants\": [{\"role\": \"offender\", \"object_type\": \"ipaddr\","
	    " \"object_value\": \"198.51.100.1\"}], \"status\": \"closed\"}", NULL), 204);
	get_detection(&t, 101, &d);
	assert_string_equal(tsextrahop_str(&d, "participants.0.object_value"), "198.51.100.1");
	assert_str_or_null(&d, "status", "closed");
	assert_str_or_null(&d, "assignee", "bob");
	assert_int_equal(tsextrahop_int(&d, "risk_score", 0), 77);
	bson_destroy(&d);

	/* Replace one via PUT (the path names the id); delete one; clear all. */
	assert_int_equal(tsextrahop_add_detection(&t, 102, "{\"title\": \"Replaced\", "
	    "\"status\": \"new\"}"), 0);
	assert_int_equal(tsextrahop_get_detection(&t, 102, &d), 0);
	assert_string_equal(tsextrahop_str(&d, "title"), "Replaced");
	assert_int_equal(tsextrahop_int(&d, "id", 0), 102);
	bson_destroy(&d);
	expect_error(&t, "PUT", "/_fake/detections/103", NULL, "{\"id\": 5}", 400);
	expect_error(&t, "POST", "/_fake/detections", NULL, "[{\"title\": \"no id\"}]", 400);
	expect_error(&t, "POST", "/_fake/detections", NULL, "[{\"id\": 7, \"status\": 3}]",
	    400);
	expect_error(&t, "POST", "/_fake/detections", NULL, "{\"id\": ", 400);
	assert_int_equal(call(&t, "DELETE", "/_fake/detections/102", NULL, NULL, NULL), 204);
	expect_error(&t, "GET", "/api/v1/detections/102", H_AUTH, NULL, 404);
	assert_int_equal(call(&t, "DELETE", "/_fake/detections", NULL, NULL, NULL), 204);
	assert_int_equal(tsextrahop_stats(&t, &stats), 0);
	assert_int_equal(tsextrahop_int(&stats, "detections", -1), 0);
	bson_destroy(&stats);
	stop(&t);

	/* A detections file that is not there stops the fake with a message. */
	{
		tsextrahop_opts_t ob = { .detections_file = "/nonexistent/detections.json" };
		char err[512];
		assert_int_equal(tsextrahop_start(&t, &ob, err, sizeof(err)), -1);
	}
}

static void
test_notes(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 1 };
	tsextrahop_t t;
	bson_t doc;
	bson_iter_t it;

	(void)state;
	start(&t, &o);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1/notes", H_AUTH, NULL, &doc), 200);
	assert_true(bson_iter_init_find(&it, &doc, "note") && BSON_ITER_HOLDS_NULL(&it));
	bson_destroy(&doc);
	assert_int_equal(call(&t, "PUT", "/api/v1/detections/1/notes", H_AUTH_JSON,
	    "{\"note\": \"see JIRA-1\"}", NULL), 204);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1/notes", H_AUTH, NULL, &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "note"), "see JIRA-1");
	bson_destroy(&doc);
	expect_error(&t, "PUT", "/api/v1/detections/1/notes", H_AUTH_JSON, "{\"text\": \"x\"}",
	    400);
	assert_int_equal(call(&t, "DELETE", "/api/v1/detections/1/notes", H_AUTH, NULL, NULL),
	    204);
	assert_int_equal(call(&t, "GET", "/api/v1/detections/1/notes", H_AUTH, NULL, &doc), 200);
	assert_true(bson_iter_init_find(&it, &doc, "note") && BSON_ITER_HOLDS_NULL(&it));
	bson_destroy(&doc);
	expect_error(&t, "GET", "/api/v1/detections/2/notes", H_AUTH, NULL, 404);
	expect_error(&t, "GET", "/api/v1/detections/1/other", H_AUTH, NULL, 404);
	stop(&t);
}

static void
test_stop_with_requests_in_flight(void **state)
{
	tsextrahop_opts_t o = { .api_key = KEY, .detections_count = 1, .tls = true };
	tsextrahop_t t;
	char buf[4096], body[1024];
	size_t used = 0;
	int fd, idle, status;
	CURL *c;
	char url[256];

	(void)state;
	start(&t, &o);
	/* A TLS connection left open, a delayed request, and an idle connection. */
	c = curl_easy_init();
	snprintf(url, sizeof(url), "%s/api/v1/detections/1", t.https_url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, t.ca_file);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	assert_true(tsextrahop_set_fault(&t, "{\"kind\": \"latency\", \"latency_ms\": 30000}") > 0);
	fd = raw_connect(t.http_port);
	raw_send(fd, "GET /api/v1/detections/1 HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n\r\n");
	idle = raw_connect(t.http_port);
	usleep(100000);
	status = tsextrahop_stop(&t);
	if (!(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0))
		fail_msg("fake_extrahop did not exit cleanly (wait status %d)", status);
	/* The delayed request got an answer (503) or at least an orderly close. */
	{
		int got = raw_response(fd, buf, &used, sizeof(buf), body, sizeof(body), 2000);
		assert_true(got == 503 || got == 0);
	}
	close(fd);
	close(idle);
	curl_easy_cleanup(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_line_and_version),
		cmocka_unit_test(test_apikey_auth),
		cmocka_unit_test(test_oauth2_credentials_and_tokens),
		cmocka_unit_test(test_oauth2_token_expiry),
		cmocka_unit_test(test_patch_changes_detection),
		cmocka_unit_test(test_patch_validation),
		cmocka_unit_test(test_patch_ids_and_auto_create),
		cmocka_unit_test(test_patch_tickets),
		cmocka_unit_test(test_search_filters),
		cmocka_unit_test(test_search_limits_on_many),
		cmocka_unit_test(test_recording_order_and_contents),
		cmocka_unit_test(test_record_limit),
		cmocka_unit_test(test_fault_latency),
		cmocka_unit_test(test_fault_429_retry_after),
		cmocka_unit_test(test_fault_5xx_count),
		cmocka_unit_test(test_fault_close),
		cmocka_unit_test(test_fault_fraction),
		cmocka_unit_test(test_fault_matching_and_order),
		cmocka_unit_test(test_fault_flags),
		cmocka_unit_test(test_https_with_generated_ca),
		cmocka_unit_test(test_keepalive_and_pipelining),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_control_detections_and_file),
		cmocka_unit_test(test_notes),
		cmocka_unit_test(test_stop_with_requests_in_flight),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
