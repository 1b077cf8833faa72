/*
 * Ticket intake webhooks end to end: recorded-shape Jira (Server, Cloud) and ServiceNow
 * payloads and our generic shape POSTed to the real ticketsyncd, which stores the ticket
 * (through the `tickets` validator, prepared as ticketsyncctl init does) and pushes the
 * detection to the fake ExtraHop API. Also: secrets and HMAC signatures, disabled
 * sources, body limits, malformed bodies, out-of-order and repeated deliveries; and
 * intake_write on its own against the same MongoDB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ticketsync/clock.h"
#include "ticketsync/audit.h"
#include "ticketsync/intake.h"
#include "ticketsync/schema.h"
#include "ticketsync/webhook.h"
#include "tsfile.h"
#include "tshttp.h"
#include "tsscene.h"

#define API_KEY TSSCENE_API_KEY
#define JIRA_SECRET "jira-5f0c3d1e9a7b44c2b8e1d6a0"
#define SNOW_SECRET "snow-0b7e4c9d2f1a4e6b9c3d8a51"
#define GENERIC_SECRET "generic-8d2c6e0f4b1a49d7a3e5c7f2"

typedef tsscene_t fixture_t;

/* ---- scene ---- */

static int
fixture_setup(void **state)
{
	return tsscene_setup(state, "webhooks");
}

/* The fake, the database with every validator (as `ticketsyncctl init` leaves it),
 * and the daemon's environment with the given secrets (NULL: that source disabled). */
static void
begin(fixture_t *f, const char *jira, const char *snow, const char *generic)
{
	bson_error_t err;

	if (tsscene_begin(f, NULL, API_KEY) != 0)
		fail_msg("%s", f->error);
	if (!schema_ensure(f->client, f->db, NULL, false, NULL, &err))
		fail_msg("schema_ensure: %s", err.message);
	if (jira != NULL)
		tsdaemon_setenv(&f->d, "TICKETSYNC_WEBHOOKS_JIRA_SECRET", jira);
	if (snow != NULL)
		tsdaemon_setenv(&f->d, "TICKETSYNC_WEBHOOKS_SERVICENOW_SECRET", snow);
	if (generic != NULL)
		tsdaemon_setenv(&f->d, "TICKETSYNC_WEBHOOKS_GENERIC_SECRET", generic);
}

static void
start_daemon(fixture_t *f)
{
	if (tsscene_start_daemon(f) != 0)
		fail_msg("%s", f->error);
}

/* A clean shutdown (exit 0) is part of every test. */
static void
stop_daemon(fixture_t *f)
{
	int st = tsscene_stop_daemon(f);

	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
put(fixture_t *f, const char *coll, const char *json)
{
	if (!tsscene_put(f, coll, json))
		fail_msg("%s", f->error);
}

static void
put_detections(fixture_t *f, int from, int to)
{
	char json[256];

	for (int id = from; id <= to; id++) {
		snprintf(json, sizeof(json), "{'_id': %d, 'title': 'Detection %d', 'type': 'smb_brute_force', "
		    "'categories': ['sec.attack'], 'start_time': 1793490000000, 'update_time': 1793500000000}",
		    id, id);
		put(f, "detections", json);
	}
}

static void
assert_body(fixture_t *f, int64_t id, const char *expected_json)
{
	char why[1024];

	if (!tsscene_last_body_is(f, id, expected_json, why, sizeof(why)))
		fail_msg("%s", why);
}

static void
assert_ticket(fixture_t *f, const char *id, const char *subset_json)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, "tickets");
	char filter[256], why[512];
	const bson_t *doc;

	snprintf(filter, sizeof(filter), "{'_id': '%s'}", id);
	doc = tsmongo_find_one(coll, filter);
	mongoc_collection_destroy(coll);
	if (doc == NULL)
		fail_msg("ticket %s is not stored", id);
	if (!tsmongo_matches(doc, subset_json, why, sizeof(why)))
		fail_msg("ticket %s: %s", id, why);
}

/* ---- bodies and requests ---- */

static char *
fixture_body(const char *name)
{
	char rel[256];
	char *buf;

	snprintf(rel, sizeof(rel), "tests/fixtures/webhooks/%s", name);
	buf = tsfile_read_source(rel, NULL);
	if (buf == NULL)
		fail_msg("cannot read %s", rel);
	return buf;
}

/* s with the first occurrence of from replaced by to (malloc'd); from must occur. */
static char *
replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t pre, tlen, rest;
	char *out;

	if (at == NULL)
		fail_msg("\"%s\" not found in the payload", from);
	/* Plain copies: gcc -O2 took asprintf(&out, ..., at) for a use of a dangling
	 * pointer (-Wdangling-pointer, a false positive). */
	pre = (size_t)(at - s);
	at += strlen(from);
	tlen = strlen(to);
	rest = strlen(at);
	out = malloc(pre + tlen + rest + 1);
	assert_non_null(out);
	memcpy(out, s, pre);
	memcpy(out + pre, to, tlen);
	memcpy(out + pre + tlen, at, rest + 1);
	return out;
}

/* "sha256=<hex HMAC-SHA256 of body under secret>" into out (80 bytes). */
static void
sign(const char *secret, const char *body, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len,
	    md, &n));
	assert_int_equal(n, 32);
	strcpy(out, "sha256=");
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

typedef struct reply {
	long status;
	tshttp_body_t body;
	bson_t json; /* the body parsed, or empty */
	char retry_after[32];
	char www_authenticate[128];
} reply_t;

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	reply_t *r = arg;
	size_t len = size * n;

	if (len > 13 && strncasecmp(p, "Retry-After: ", 13) == 0)
		snprintf(r->retry_after, sizeof(r->retry_after), "%.*s", (int)(len - 15), p + 13);
	if (len > 18 && strncasecmp(p, "WWW-Authenticate: ", 18) == 0)
		snprintf(r->www_authenticate, sizeof(r->www_authenticate), "%.*s", (int)(len - 20), p + 18);
	return len;
}

static void
reply_free(reply_t *r)
{
	free(r->body.data);
	bson_destroy(&r->json);
	memset(r, 0, sizeof(*r));
}

/*
 * One request to the daemon's listener. headers: NULL-terminated "Name: value" list.
 * Bodies go whole, without "Expect: 100-continue" (as Jira and ServiceNow send them),
 * unless expect_continue. Returns the status (0: no reply).
 */
static long
request(fixture_t *f, const char *method, const char *path, const char *const *headers,
    const char *body, size_t len, bool expect_continue, reply_t *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	char url[256];
	bson_error_t err;

	memset(r, 0, sizeof(*r));
	bson_init(&r->json);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->d.http_port, path);
	hl = curl_slist_append(hl, "Content-Type: application/json");
	if (!expect_continue)
		hl = curl_slist_append(hl, "Expect:");
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		hl = curl_slist_append(hl, headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tshttp_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (r->body.data != NULL) {
		bson_destroy(&r->json);
		if (!bson_init_from_json(&r->json, r->body.data, (ssize_t)r->body.len, &err))
			bson_init(&r->json);
	}
	return r->status;
}

static long
post(fixture_t *f, const char *path, const char *const *headers, const char *body, reply_t *r)
{
	return request(f, "POST", path, headers, body, strlen(body), false, r);
}

/* POST that must get status; the reply is checked against a JSON subset (may be NULL). */
static void
post_expect(fixture_t *f, const char *path, const char *const *headers, const char *body,
    long status, const char *subset_json)
{
	reply_t r;
	char why[512];

	post(f, path, headers, body, &r);
	if (r.status != status)
		fail_msg("POST %s: status %ld, want %ld (body %s)", path, r.status, status,
		    r.body.data ? r.body.data : "");
	if (subset_json != NULL && !tsmongo_matches(&r.json, subset_json, why, sizeof(why)))
		fail_msg("POST %s: reply %s: %s", path, r.body.data ? r.body.data : "", why);
	reply_free(&r);
}

static const char *const bearer_jira[] = { "Authorization: Bearer " JIRA_SECRET, NULL };
static const char *const bearer_snow[] = { "Authorization: Bearer " SNOW_SECRET, NULL };
static const char *const token_snow[] = { "X-Ticketsync-Token: " SNOW_SECRET, NULL };
static const char *const bearer_generic[] = { "Authorization: Bearer " GENERIC_SECRET, NULL };

static double
metric(fixture_t *f, const char *source, const char *outcome)
{
	char name[160];

	snprintf(name, sizeof(name), "ticketsync_webhooks_total{source=\"%s\",outcome=\"%s\"}", source,
	    outcome);
	return tsdaemon_metric(&f->d, name);
}

/* ---- tests ---- */

/* Jira Server (signed by Jira with the webhook secret) and Jira Cloud (bearer token):
 * stored as sent, and the detection pushed with the mapped fields. A custom workflow
 * status is decided by its status category. */
static void
test_jira_server_and_cloud(void **state)
{
	fixture_t *f = *state;
	char *server = fixture_body("jira_server_issue_updated.json");
	char *cloud = fixture_body("jira_cloud_issue_updated.json");
	char *custom = fixture_body("jira_cloud_custom_status.json");
	char sig[80], hdr[128];
	const char *signed_hdrs[] = { hdr, NULL };

	begin(f, JIRA_SECRET, NULL, NULL);
	start_daemon(f);
	put_detections(f, 4, 7);

	sign(JIRA_SECRET, server, strlen(server), sig);
	snprintf(hdr, sizeof(hdr), "X-Hub-Signature: %s", sig);
	post_expect(f, "/webhooks/jira", signed_hdrs, server, 200,
	    "{'result': 'accepted', 'ticket_id': 'SEC-42', 'outcome': 'inserted', 'detection_ids': [4]}");
	assert_ticket(f, "SEC-42", "{'detection_ids': [4], 'status': 'In Progress', 'status_category': "
	    "'indeterminate', 'assignee': 'escalations_team', 'resolution': null, 'updated_at': "
	    "{'$date': '2026-11-01T09:15:30.250Z'}, 'source': 'jira-webhook'}");
	assert_true(tsscene_wait_patches(f, 4, 1, 10000) >= 0);
	assert_body(f, 4, "{'ticket_id': 'SEC-42', 'status': 'in_progress', 'assignee': 'escalations_team'}");

	post_expect(f, "/webhooks/jira", bearer_jira, cloud, 200,
	    "{'result': 'accepted', 'ticket_id': 'SOC-17', 'detection_ids': [5]}");
	assert_ticket(f, "SOC-17", "{'detection_ids': [5], 'status': 'Done', 'status_category': 'done', "
	    "'assignee': 'Jim Lee', 'resolution': 'Won\\u0027t Do', 'source': 'jira-webhook'}");
	assert_true(tsscene_wait_patches(f, 5, 1, 10000) >= 0);
	assert_body(f, 5, "{'ticket_id': 'SOC-17', 'status': 'closed', 'assignee': 'Jim Lee', "
	    "'resolution': 'no_action_taken'}");

	/* "Released to Prod" has no entry: its category (done) closes the detection */
	post_expect(f, "/webhooks/jira", bearer_jira, custom, 200, "{'result': 'accepted'}");
	assert_true(tsscene_wait_patches(f, 7, 1, 10000) >= 0);
	assert_body(f, 7, "{'ticket_id': 'SOC-18', 'status': 'closed', 'resolution': 'action_taken'}");

	/* audited with the source and the ids; counted */
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'webhook_accepted'}", 3, 5000));
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'webhook_accepted', "
	    "'ticket_id': 'SEC-42', 'detection_id': 4, 'http_status': 200, 'detail.source': 'jira', "
	    "'detail.outcome': 'inserted', 'detail.detection_ids': [4]}"), 1);
	assert_int_equal(metric(f, "jira", "accepted"), 3);
	assert_int_equal(tsscene_count(f, "tickets", "{}"), 3);
	stop_daemon(f);
	free(server);
	free(cloud);
	free(custom);
}

/* ServiceNow: a business rule's incident JSON (bearer) and a Table API record with
 * display values (X-Ticketsync-Token); comma-separated ids reach both detections. */
static void
test_servicenow(void **state)
{
	fixture_t *f = *state;
	char *incident = fixture_body("servicenow_incident.json");
	char *table = fixture_body("servicenow_table_api_display_all.json");

	begin(f, NULL, SNOW_SECRET, NULL);
	start_daemon(f);
	put_detections(f, 9, 11);
	post_expect(f, "/webhooks/servicenow", bearer_snow, incident, 200,
	    "{'result': 'accepted', 'ticket_id': 'INC0010023', 'detection_ids': [9]}");
	assert_ticket(f, "INC0010023", "{'detection_ids': [9], 'status': '6', 'status_category': null, "
	    "'assignee': 'Beth Anglin', 'resolution': 'Solution provided', 'updated_at': "
	    "{'$date': '2026-11-03T14:20:05Z'}, 'source': 'servicenow-webhook'}");
	assert_true(tsscene_wait_patches(f, 9, 1, 10000) >= 0);
	assert_body(f, 9, "{'ticket_id': 'INC0010023', 'status': 'closed', 'assignee': 'Beth Anglin', "
	    "'resolution': 'action_taken'}");

	post_expect(f, "/webhooks/servicenow", token_snow, table, 200,
	    "{'result': 'accepted', 'ticket_id': 'INC0010024', 'detection_ids': [10, 11]}");
	assert_true(tsscene_wait_patches(f, 10, 1, 10000) >= 0);
	assert_true(tsscene_wait_patches(f, 11, 1, 10000) >= 0);
	assert_body(f, 10, "{'ticket_id': 'INC0010024', 'status': 'in_progress', 'assignee': 'Fred Luddy'}");
	assert_body(f, 11, "{'ticket_id': 'INC0010024', 'status': 'in_progress', 'assignee': 'Fred Luddy'}");
	assert_int_equal(metric(f, "servicenow", "accepted"), 2);
	stop_daemon(f);
	free(incident);
	free(table);
}

/* Generic: a bearer token, or an HMAC of the body; every credential sent must hold. */
static void
test_generic_and_signatures(void **state)
{
	fixture_t *f = *state;
	const char *body = "{\"ticket_id\": \"OPS-9\", \"detection_ids\": [14], \"status\": "
	                   "\"In Progress\", \"assignee\": \"ops-oncall\", \"updated_at\": "
	                   "\"2026-11-04T08:00:00Z\"}";
	char *fixture = fixture_body("generic.json");
	char sig[80], wrong[80], h1[128], h2[128];
	const char *signed_only[] = { h1, NULL };
	const char *signed_bad[] = { h2, NULL };
	const char *bearer_and_bad_sig[] = { "Authorization: Bearer " GENERIC_SECRET, h2, NULL };
	const char *jira_style[] = { h1, NULL };
	char jh[128];

	begin(f, JIRA_SECRET, NULL, GENERIC_SECRET);
	start_daemon(f);
	put_detections(f, 12, 14);

	/* a signature over other bytes, or under another secret: 401, nothing stored */
	sign(GENERIC_SECRET, body, strlen(body) - 1, wrong);
	snprintf(h2, sizeof(h2), "X-Ticketsync-Signature: %s", wrong);
	post_expect(f, "/webhooks/generic", signed_bad, body, 401, "{'error': 'X-Ticketsync-Signature is "
	    "not sha256=<HMAC-SHA256 of the body> under the generic secret'}");
	post_expect(f, "/webhooks/generic", bearer_and_bad_sig, body, 401, NULL);
	sign(JIRA_SECRET, body, strlen(body), wrong);
	snprintf(h2, sizeof(h2), "X-Ticketsync-Signature: %s", wrong);
	post_expect(f, "/webhooks/generic", signed_bad, body, 401, NULL);
	snprintf(h2, sizeof(h2), "X-Ticketsync-Signature: sha256=zz");
	post_expect(f, "/webhooks/generic", signed_bad, body, 401, NULL);
	assert_int_equal(tsscene_count(f, "tickets", "{}"), 0);

	/* the right signature alone is enough (upper-case hex too) */
	sign(GENERIC_SECRET, body, strlen(body), sig);
	for (char *p = sig + 7; *p; p++)
		*p = (char)((*p >= 'a' && *p <= 'f') ? *p - 'a' + 'A' : *p);
	snprintf(h1, sizeof(h1), "X-Ticketsync-Signature: %s", sig);
	post_expect(f, "/webhooks/generic", signed_only, body, 200,
	    "{'result': 'accepted', 'ticket_id': 'OPS-9', 'detection_ids': [14]}");
	assert_true(tsscene_wait_patches(f, 14, 1, 10000) >= 0);
	assert_body(f, 14, "{'ticket_id': 'OPS-9', 'status': 'in_progress', 'assignee': 'ops-oncall'}");
	assert_ticket(f, "OPS-9", "{'source': 'generic-webhook', 'resolution': null}");

	/* the recorded generic example: stored; its status has no mapping, so nothing is
	 * pushed and the unmapped status is audited as for any ticket */
	post_expect(f, "/webhooks/generic", bearer_generic, fixture, 200,
	    "{'result': 'accepted', 'ticket_id': 'OPS-7', 'detection_ids': [12, 13]}");
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'unmapped_status', "
	    "'ticket_id': 'OPS-7'}", 2, 10000));
	assert_int_equal(tsscene_patches(f, 12, NULL, NULL), 0);

	/* Jira's X-Hub-Signature is checked on /webhooks/jira */
	{
		const char *jbody = "{\"issue\": {\"key\": \"SEC-77\", \"fields\": {\"summary\": "
		                    "\"ExtraHop Detection: 13: x\", \"status\": {\"name\": \"To Do\"}, "
		                    "\"updated\": \"2026-11-04T09:00:00.000+0000\"}}}";

		sign(GENERIC_SECRET, jbody, strlen(jbody), sig);
		snprintf(jh, sizeof(jh), "X-Hub-Signature: %s", sig);
		jira_style[0] = jh;
		post_expect(f, "/webhooks/jira", jira_style, jbody, 401, NULL);
		sign(JIRA_SECRET, jbody, strlen(jbody), sig);
		snprintf(jh, sizeof(jh), "X-Hub-Signature: %s", sig);
		post_expect(f, "/webhooks/jira", jira_style, jbody, 200, "{'result': 'accepted'}");
	}
	assert_int_equal(metric(f, "generic", "unauthorized"), 4);
	assert_int_equal(metric(f, "jira", "unauthorized"), 1);
	stop_daemon(f);
	free(fixture);
}

/* Missing or wrong credentials: 401 with WWW-Authenticate, and nothing is written,
 * not even an audit record. */
static void
test_wrong_secret_writes_nothing(void **state)
{
	fixture_t *f = *state;
	char *server = fixture_body("jira_server_issue_updated.json");
	char *incident = fixture_body("servicenow_incident.json");
	char *generic = fixture_body("generic.json");
	char sig[80], hdr[128];
	const char *bad_sig[] = { hdr, NULL };
	const char *wrong_bearer[] = { "Authorization: Bearer " SNOW_SECRET, NULL };
	const char *prefix_only[] = { "Authorization: Bearer jira-5f0c3d1e", NULL };
	const char *longer[] = { "Authorization: Bearer " JIRA_SECRET "x", NULL };
	const char *wrong_token[] = { "X-Ticketsync-Token: nope", NULL };
	const char *basic[] = { "Authorization: Basic dXNlcjpwYXNz", NULL };
	const char *good_bearer_bad_token[] = { "Authorization: Bearer " JIRA_SECRET,
		"X-Ticketsync-Token: nope", NULL };
	reply_t r;

	begin(f, JIRA_SECRET, SNOW_SECRET, GENERIC_SECRET);
	start_daemon(f);
	put_detections(f, 4, 4);
	sign("not-the-secret", server, strlen(server), sig);
	snprintf(hdr, sizeof(hdr), "X-Hub-Signature: %s", sig);

	assert_int_equal(post(f, "/webhooks/jira", NULL, server, &r), 401);
	assert_string_equal(r.www_authenticate, "Bearer realm=\"ticketsync\"");
	assert_non_null(strstr(tsmongo_get_str(&r.json, "error"), "no credentials"));
	reply_free(&r);
	post_expect(f, "/webhooks/jira", basic, server, 401, NULL);
	post_expect(f, "/webhooks/jira", wrong_bearer, server, 401,
	    "{'error': 'the bearer token does not match the jira secret'}");
	post_expect(f, "/webhooks/jira", prefix_only, server, 401, NULL);
	post_expect(f, "/webhooks/jira", longer, server, 401, NULL);
	post_expect(f, "/webhooks/jira", wrong_token, server, 401, NULL);
	post_expect(f, "/webhooks/jira", bad_sig, server, 401, NULL);
	post_expect(f, "/webhooks/jira", good_bearer_bad_token, server, 401, NULL);
	post_expect(f, "/webhooks/servicenow", bearer_jira, incident, 401, NULL);
	/* ServiceNow has no signature: X-Hub-Signature alone is no credential there */
	post_expect(f, "/webhooks/servicenow", bad_sig, incident, 401, NULL);
	post_expect(f, "/webhooks/generic", bearer_snow, generic, 401, NULL);
	/* malformed bodies are not even parsed without credentials */
	post_expect(f, "/webhooks/generic", wrong_token, "{not json", 401, NULL);

	ts_sleep_ms(1000);
	assert_int_equal(tsscene_count(f, "tickets", "{}"), 0);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': {'$regex': '^webhook_'}}"), 0);
	assert_int_equal(tsscene_patches(f, -1, NULL, NULL), 0);
	assert_int_equal(metric(f, "jira", "unauthorized"), 8);
	assert_int_equal(metric(f, "servicenow", "unauthorized"), 2);
	assert_int_equal(metric(f, "generic", "unauthorized"), 2);
	assert_true(tsdaemon_log_contains(&f->d, "refused (401)"));
	/* and the secret itself is never logged */
	assert_false(tsdaemon_log_contains(&f->d, JIRA_SECRET));
	stop_daemon(f);
	free(server);
	free(incident);
	free(generic);
}

/* Whether the daemon runs with a memory tool that keeps freed memory resident. */
static bool
sanitized(void)
{
	const char *w = getenv("TICKETSYNC_TEST_WRAPPER");

#if defined(__SANITIZE_ADDRESS__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return true;
#endif
#endif
	return w != NULL && *w != '\0';
}

static int64_t
daemon_hwm_kb(fixture_t *f)
{
	char path[64], line[256];
	FILE *fp;
	long long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)f->d.proc.pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmHWM: %lld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

/* 10 MB is refused with 413 from its Content-Length, without the daemon keeping it:
 * the sender that writes everything before reading still gets the 413. A configured
 * limit applies exactly. */
static void
test_body_limits(void **state)
{
	fixture_t *f = *state;
	const size_t big_len = 10 * 1000 * 1000;
	char *big = malloc(big_len + 1);
	char *server = fixture_body("jira_server_issue_updated.json");
	char *padded = NULL, *pad = NULL;
	int64_t hwm_before, hwm_after;
	reply_t r;

	begin(f, JIRA_SECRET, NULL, NULL);
	tsdaemon_setenv(&f->d, "TICKETSYNC_WEBHOOKS_MAX_BODY_BYTES", "65536");
	start_daemon(f);
	/* a JSON-looking body, so only its size can be the reason */
	memset(big, ' ', big_len);
	big[0] = '{';
	big[big_len - 1] = '}';
	big[big_len] = '\0';
	hwm_before = daemon_hwm_kb(f);
	assert_int_equal(request(f, "POST", "/webhooks/jira", bearer_jira, big, big_len, false, &r), 413);
	reply_free(&r);
	/* with Expect: 100-continue the body is not even sent */
	assert_int_equal(request(f, "POST", "/webhooks/jira", bearer_jira, big, big_len, true, &r), 413);
	reply_free(&r);
	/* unauthenticated senders get the same 413 (the size is checked first) */
	assert_int_equal(request(f, "POST", "/webhooks/jira", NULL, big, big_len, false, &r), 413);
	reply_free(&r);
	hwm_after = daemon_hwm_kb(f);
	fprintf(stderr, "# daemon peak RSS %lld kB before, %lld kB after three 10 MB bodies\n",
	    (long long)hwm_before, (long long)hwm_after);
	/* Buffered whole, one body alone would add 10 MB. ASan's quarantine and valgrind keep
	 * freed memory (the discarded reads) resident, so there only the 413 is checked. */
	if (hwm_before > 0 && hwm_after > 0 && !sanitized())
		assert_true(hwm_after - hwm_before < 4 * 1024);

	/* a real payload padded to exactly the limit: 200; one byte more: 413 */
	{
		const char *at = "on your network: ";
		size_t room = 65536 - strlen(server);
		char *over;

		pad = malloc(strlen(at) + room + 1);
		memcpy(pad, at, strlen(at));
		memset(pad + strlen(at), 'x', room);
		pad[strlen(at) + room] = '\0';
		padded = replace(server, at, pad);
		assert_int_equal(strlen(padded), 65536);
		post_expect(f, "/webhooks/jira", bearer_jira, padded, 200, "{'result': 'accepted'}");
		if (asprintf(&over, "%s ", padded) < 0)
			abort();
		assert_int_equal(post(f, "/webhooks/jira", bearer_jira, over, &r), 413);
		reply_free(&r);
		free(over);
	}
	assert_int_equal(tsscene_count(f, "tickets", "{}"), 1);
	/* the daemon is fine afterwards */
	assert_int_equal(tsdaemon_get(&f->d, "/healthz", NULL), 200);
	stop_daemon(f);
	free(pad);
	free(padded);
	free(server);
	free(big);
}

/* Open a change stream on tickets (and make sure the server has started it). */
static mongoc_change_stream_t *
watch_tickets(fixture_t *f, mongoc_collection_t **coll)
{
	bson_t *opts = BCON_NEW("maxAwaitTimeMS", BCON_INT64(200));
	bson_t pipeline = BSON_INITIALIZER;
	mongoc_change_stream_t *cs;
	const bson_t *ev;
	bson_error_t err;

	*coll = mongoc_client_get_collection(f->client, f->db, "tickets");
	cs = mongoc_collection_watch(*coll, &pipeline, opts);
	assert_false(mongoc_change_stream_next(cs, &ev));
	if (mongoc_change_stream_error_document(cs, &err, NULL))
		fail_msg("change stream: %s", err.message);
	bson_destroy(opts);
	bson_destroy(&pipeline);
	return cs;
}

/* The _id of the next ticket change event within 10 s (pool string), or NULL. */
static const char *
next_ticket_event(mongoc_change_stream_t *cs)
{
	int64_t start = clock_mono_ms();
	const bson_t *ev;

	while (clock_mono_ms() - start < 10000) {
		if (mongoc_change_stream_next(cs, &ev))
			return tsmongo_get_str(tsmongo_tmp_keep(bson_copy(ev)), "documentKey._id");
	}
	return NULL;
}

/* A replayed old delivery never overwrites a newer state, and a redelivery of the
 * current one writes nothing (no change event, no second PATCH). */
static void
test_out_of_order_and_redelivery(void **state)
{
	fixture_t *f = *state;
	char *cloud = fixture_body("jira_cloud_issue_updated.json"); /* Done, 10:00 */
	char *older, *tmp, *newer;
	mongoc_collection_t *coll;
	mongoc_change_stream_t *cs;

	/* the same issue an hour earlier, still in progress */
	tmp = replace(cloud, "\"updated\": \"2026-11-02T10:00:00.000+0000\"",
	    "\"updated\": \"2026-11-02T09:00:00.000+0000\"");
	older = replace(tmp, "\"name\": \"Done\",", "\"name\": \"In Progress\",");
	free(tmp);
	tmp = replace(older, "\"key\": \"done\"", "\"key\": \"indeterminate\"");
	free(older);
	older = tmp;
	/* and reopened later */
	tmp = replace(cloud, "\"updated\": \"2026-11-02T10:00:00.000+0000\"",
	    "\"updated\": \"2026-11-02T11:30:00.000+0000\"");
	newer = replace(tmp, "\"name\": \"Done\",", "\"name\": \"To Do\",");
	free(tmp);

	begin(f, JIRA_SECRET, NULL, NULL);
	start_daemon(f);
	put_detections(f, 5, 5);
	post_expect(f, "/webhooks/jira", bearer_jira, cloud, 200, "{'result': 'accepted', 'outcome': 'inserted'}");
	assert_true(tsscene_wait_patches(f, 5, 1, 10000) >= 0);
	assert_body(f, 5, "{'ticket_id': 'SOC-17', 'status': 'closed', 'assignee': 'Jim Lee', "
	    "'resolution': 'no_action_taken'}");
	assert_true(tsscene_wait_count(f, "ticketsync_state", "{'_id': 5, 'state': 'synced'}", 1, 5000));

	cs = watch_tickets(f, &coll);
	/* the older state arrives late: stale, the stored ticket keeps the newer one */
	post_expect(f, "/webhooks/jira", bearer_jira, older, 200, "{'result': 'stale', 'outcome': 'stale', "
	    "'ticket_id': 'SOC-17', 'reason': 'a version updated at 2026-11-02T10:00:00.000Z (as new or "
	    "newer) is stored: nothing written'}");
	/* the same delivery again: stale as well */
	post_expect(f, "/webhooks/jira", bearer_jira, cloud, 200, "{'result': 'stale'}");
	post_expect(f, "/webhooks/jira", bearer_jira, cloud, 200, "{'result': 'stale'}");
	assert_ticket(f, "SOC-17", "{'status': 'Done', 'status_category': 'done', 'updated_at': "
	    "{'$date': '2026-11-02T10:00:00Z'}}");
	/* nothing was written: the first change the stream sees is the next real one */
	post_expect(f, "/webhooks/jira", bearer_jira, newer, 200, "{'result': 'accepted', 'outcome': 'updated'}");
	{
		const char *id = next_ticket_event(cs);

		assert_non_null(id);
		assert_string_equal(id, "SOC-17");
	}
	assert_ticket(f, "SOC-17", "{'status': 'To Do', 'updated_at': {'$date': '2026-11-02T11:30:00Z'}}");
	assert_true(tsscene_wait_patches(f, 5, 2, 10000) >= 0);
	assert_body(f, 5, "{'ticket_id': 'SOC-17', 'status': 'new', 'resolution': null}");
	ts_sleep_ms(1000);
	assert_int_equal(tsscene_patches(f, 5, NULL, NULL), 2);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'webhook_stale', "
	    "'ticket_id': 'SOC-17', 'detail.outcome': 'stale'}"), 3);
	assert_int_equal(metric(f, "jira", "stale"), 3);
	assert_int_equal(metric(f, "jira", "accepted"), 2);
	mongoc_change_stream_destroy(cs);
	mongoc_collection_destroy(coll);
	stop_daemon(f);
	free(cloud);
	free(older);
	free(newer);
}

/* Bodies an authenticated sender got wrong: 400 (not JSON) or 422 (not a ticket), with
 * the reason in a JSON body, audited; other Jira events: 200 "ignored". */
static void
test_malformed_and_ignored(void **state)
{
	fixture_t *f = *state;
	char *comment = fixture_body("jira_comment_created.json");
	reply_t r;

	begin(f, JIRA_SECRET, SNOW_SECRET, NULL);
	start_daemon(f);
	assert_int_equal(post(f, "/webhooks/jira", bearer_jira, "{\"issue\": {\"key\": ", &r), 400);
	assert_non_null(strstr(tsmongo_get_str(&r.json, "error"), "the body is not valid JSON: the "
	    "JSON ends early (an unclosed string, object or array)"));
	reply_free(&r);
	assert_int_equal(post(f, "/webhooks/jira", bearer_jira, "{'issue': {}}", &r), 400);
	assert_string_equal(tsmongo_get_str(&r.json, "error"), "the body is not valid JSON: line 1, "
	    "column 2: expected a value (a string in double quotes, a number, an object, an array, "
	    "true, false or null) near \"{'issue': {}}\"");
	reply_free(&r);
	post_expect(f, "/webhooks/jira", bearer_jira, "[1, 2]", 400,
	    "{'error': 'the body is not a JSON object'}");
	post_expect(f, "/webhooks/jira", bearer_jira, "", 400, "{'error': 'the body is empty (expected a "
	    "JSON object)'}");
	post_expect(f, "/webhooks/jira", bearer_jira, "{\"issue\": {\"fields\": {}}}", 422,
	    "{'error': 'issue.key is missing'}");
	post_expect(f, "/webhooks/servicenow", bearer_snow, "{\"number\": \"INC1\", \"state\": \"2\"}",
	    422, "{'error': 'sys_updated_on is missing: deliveries could not be ordered'}");
	post_expect(f, "/webhooks/jira", bearer_jira, comment, 200, "{'result': 'ignored'}");
	/* GET is not a delivery */
	{
		assert_int_equal(request(f, "GET", "/webhooks/jira", bearer_jira, NULL, 0, false, &r), 405);
		reply_free(&r);
	}
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'webhook_rejected'}", 6, 5000));
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'webhook_ignored'}", 1, 5000));
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'webhook_rejected', "
	    "'http_status': 400, 'detail.source': 'jira'}"), 4);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'webhook_rejected', "
	    "'http_status': 422, 'message': 'sys_updated_on is missing: deliveries could not be "
	    "ordered', 'detail.source': 'servicenow'}"), 1);
	assert_int_equal(tsscene_count(f, "tickets", "{}"), 0);
	assert_int_equal(metric(f, "jira", "rejected"), 6);
	assert_int_equal(metric(f, "jira", "ignored"), 1);
	stop_daemon(f);
	free(comment);
}

/* A source without a secret answers 404 whatever is sent; the others still work. */
static void
test_disabled_sources(void **state)
{
	fixture_t *f = *state;
	char *incident = fixture_body("servicenow_incident.json");
	char *server = fixture_body("jira_server_issue_updated.json");

	begin(f, JIRA_SECRET, NULL, NULL);
	start_daemon(f);
	post_expect(f, "/webhooks/servicenow", bearer_snow, incident, 404,
	    "{'error': 'the servicenow webhook is disabled: no secret is configured ([webhooks] "
	    "servicenow_secret or servicenow_secret_file)'}");
	post_expect(f, "/webhooks/generic", NULL, "{}", 404, NULL);
	post_expect(f, "/webhooks/jira", bearer_jira, server, 200, "{'result': 'accepted'}");
	assert_int_equal(metric(f, "servicenow", "disabled"), 1);
	assert_int_equal(metric(f, "generic", "disabled"), 1);
	assert_int_equal(tsscene_count(f, "tickets", "{}"), 1);
	stop_daemon(f);

	/* no secret at all: every endpoint is closed */
	tsdaemon_setenv(&f->d, "TICKETSYNC_WEBHOOKS_JIRA_SECRET", "");
	start_daemon(f);
	post_expect(f, "/webhooks/jira", bearer_jira, server, 404, NULL);
	assert_true(tsdaemon_log_contains(&f->d, "webhooks: no source has a secret"));
	stop_daemon(f);
	free(incident);
	free(server);
}

/* A payload that names no detection keeps the ids stored (by an import, say) and only
 * updates a ticket that exists; an unrelated issue is not stored at all. */
static void
test_payload_without_ids(void **state)
{
	fixture_t *f = *state;
	const char *no_ids = "{\"webhookEvent\": \"jira:issue_updated\", \"issue\": {\"key\": \"SEC-50\", "
	                     "\"fields\": {\"summary\": \"Investigate the scanner\", \"status\": {\"name\": "
	                     "\"In Progress\"}, \"assignee\": {\"name\": \"sally\"}, \"updated\": "
	                     "\"2026-11-05T08:00:00.000+0000\"}}}";
	const char *unrelated = "{\"webhookEvent\": \"jira:issue_created\", \"issue\": {\"key\": \"HR-1\", "
	                        "\"fields\": {\"summary\": \"New laptop\", \"status\": {\"name\": \"To Do\"}, "
	                        "\"updated\": \"2026-11-05T08:00:00.000+0000\"}}}";

	begin(f, JIRA_SECRET, NULL, NULL);
	start_daemon(f);
	put_detections(f, 15, 15);
	/* imported earlier, linked to detection 15 */
	put(f, "tickets", "{'_id': 'SEC-50', 'detection_ids': [15], 'status': 'To Do', 'assignee': null, "
	    "'resolution': null, 'updated_at': {'$date': '2026-11-04T00:00:00Z'}, 'source': 'import'}");
	assert_true(tsscene_wait_patches(f, 15, 1, 10000) >= 0);
	post_expect(f, "/webhooks/jira", bearer_jira, no_ids, 200, "{'result': 'accepted', 'outcome': "
	    "'updated', 'detection_ids': [], 'reason': 'the payload names no detection: the stored "
	    "detection ids were kept'}");
	assert_ticket(f, "SEC-50", "{'detection_ids': [15], 'status': 'In Progress', 'assignee': 'sally', "
	    "'source': 'jira-webhook'}");
	assert_true(tsscene_wait_patches(f, 15, 2, 10000) >= 0);
	assert_body(f, 15, "{'ticket_id': 'SEC-50', 'status': 'in_progress', 'assignee': 'sally'}");

	post_expect(f, "/webhooks/jira", bearer_jira, unrelated, 200, "{'result': 'ignored', 'outcome': "
	    "'no_ticket'}");
	assert_int_equal(tsscene_count(f, "tickets", "{'_id': 'HR-1'}"), 0);
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'webhook_ignored', "
	    "'ticket_id': 'HR-1'}", 1, 5000));

	/* A ticket for detections MongoDB does not have (yet): stored, and said in the
	 * reply, the audit trail and the log; it is pushed once the detection arrives. */
	{
		const char *orphan = "{\"webhookEvent\": \"jira:issue_created\", \"issue\": {\"key\": "
		                     "\"SEC-51\", \"fields\": {\"summary\": \"ExtraHop Detection: 30000: "
		                     "x\", \"status\": {\"name\": \"In Progress\"}, \"updated\": "
		                     "\"2026-11-05T09:00:00.000+0000\"}}}";

		post_expect(f, "/webhooks/jira", bearer_jira, orphan, 200, "{'result': 'accepted', "
		    "'detection_ids': [30000], 'unknown_detection_ids': [30000]}");
		assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'unknown_detection', "
		    "'ticket_id': 'SEC-51', 'detection_id': 30000, 'detail.source': 'jira'}", 1, 5000));
		assert_true(tsdaemon_log_contains(&f->d, "webhooks: jira ticket SEC-51 names 1 "
		    "detection(s) not in MongoDB (30000)"));
		post_expect(f, "/webhooks/jira", bearer_jira, no_ids, 200, NULL);
	}
	stop_daemon(f);
}

/* MongoDB refusing the write: 503 with Retry-After and nothing stored; the sender's
 * redelivery then goes through. The fail point hits only the daemon's connections. */
static void
test_database_unavailable(void **state)
{
	fixture_t *f = *state;
	char *server = fixture_body("jira_server_issue_updated.json");
	bson_t *on = tsmongo_json("{'configureFailPoint': 'failCommand', 'mode': 'alwaysOn', 'data': "
	    "{'failCommands': ['update'], 'errorCode': 2, 'appName': 'ticketsync'}}");
	bson_error_t err;
	reply_t r;

	begin(f, JIRA_SECRET, NULL, NULL);
	start_daemon(f);
	put_detections(f, 4, 4);
	if (!tsmongo_admin_command(tsgroup_mongo(), on, NULL, &err)) {
		/* a real server without test commands */
		fprintf(stderr, "# skipped: failCommand unavailable: %s\n", err.message);
		stop_daemon(f);
		free(server);
		return;
	}
	assert_int_equal(post(f, "/webhooks/jira", bearer_jira, server, &r), 503);
	assert_true(tsmongo_fail_off(tsgroup_mongo(), &err));
	assert_string_equal(r.retry_after, "5");
	assert_non_null(strstr(tsmongo_get_str(&r.json, "error"), "the ticket could not be stored"));
	reply_free(&r);
	assert_int_equal(tsscene_count(f, "tickets", "{}"), 0);
	assert_int_equal(metric(f, "jira", "failed"), 1);
	assert_true(tsdaemon_log_contains(&f->d, "not stored (asked to redeliver)"));
	post_expect(f, "/webhooks/jira", bearer_jira, server, 200, "{'result': 'accepted', 'outcome': "
	    "'inserted'}");
	assert_true(tsscene_wait_patches(f, 4, 1, 10000) >= 0);
	stop_daemon(f);
	free(server);
}

/* intake_write alone: every outcome, ids set not merged, numeric and absent stored
 * times, and the validator's refusal. */
static void
test_intake_outcomes(void **state)
{
	fixture_t *f = *state;
	int64_t ids_a[] = { 1, 2 }, ids_b[] = { 3 };
	ticket_t t = { .id = "TK-1", .detection_ids = ids_a, .n_detection_ids = 2, .status = "Done",
		.resolution = "Fixed", .updated_at = 2000, .source = "generic-webhook" };
	intake_result_t res;
	bson_error_t err;

	(void)state;
	if (!schema_ensure(f->client, f->db, NULL, false, NULL, &err))
		fail_msg("schema_ensure: %s", err.message);
#define WRITE(expect)                                                                   \
	do {                                                                                \
		if (!intake_write(f->client, f->db, &t, &res, &err))                            \
			fail_msg("intake_write: %s", err.message);                                  \
		assert_string_equal(intake_outcome_name(res.outcome), intake_outcome_name(expect)); \
	} while (0)

	WRITE(INTAKE_INSERTED);
	assert_ticket(f, "TK-1", "{'detection_ids': [1, 2], 'status': 'Done', 'status_category': null, "
	    "'assignee': null, 'resolution': 'Fixed', 'updated_at': {'$date': {'$numberLong': '2000'}}}");
	WRITE(INTAKE_STALE);
	assert_int_equal(res.stored_updated_at, 2000);
	t.updated_at = 1999;
	WRITE(INTAKE_STALE);
	/* newer: ids replaced, not merged */
	t.updated_at = 2001;
	t.detection_ids = ids_b;
	t.n_detection_ids = 1;
	t.status_category = "done";
	WRITE(INTAKE_UPDATED);
	assert_false(res.ids_kept);
	assert_ticket(f, "TK-1", "{'detection_ids': [3], 'status_category': 'done'}");
	/* no ids: kept, and only an existing ticket is touched */
	t.updated_at = 2002;
	t.detection_ids = NULL;
	t.n_detection_ids = 0;
	WRITE(INTAKE_UPDATED);
	assert_true(res.ids_kept);
	assert_ticket(f, "TK-1", "{'detection_ids': [3], 'updated_at': {'$date': {'$numberLong': '2002'}}}");
	t.id = "TK-2";
	WRITE(INTAKE_NO_TICKET);
	assert_int_equal(tsscene_count(f, "tickets", "{'_id': 'TK-2'}"), 0);
	/* stored by someone else with epoch ms, or with no time at all: compared correctly */
	put(f, "tickets", "{'_id': 'TK-3', 'detection_ids': [4], 'status': 'new', 'assignee': null, "
	    "'resolution': null, 'updated_at': {'$date': {'$numberLong': '5000'}}}");
	{
		mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, "tickets");
		bson_t *sel = BCON_NEW("_id", BCON_UTF8("TK-3"));
		bson_t *upd = BCON_NEW("$set", "{", "updated_at", BCON_INT64(5000), "}");
		bson_t *opts = BCON_NEW("bypassDocumentValidation", BCON_BOOL(true));

		assert_true(mongoc_collection_update_one(coll, sel, upd, opts, NULL, &err));
		t.id = "TK-3";
		t.detection_ids = ids_b;
		t.n_detection_ids = 1;
		t.updated_at = 4999;
		WRITE(INTAKE_STALE);
		assert_int_equal(res.stored_updated_at, 5000);
		t.updated_at = 5001;
		WRITE(INTAKE_UPDATED);
		bson_destroy(upd);
		upd = BCON_NEW("$unset", "{", "updated_at", BCON_INT32(1), "}");
		assert_true(mongoc_collection_update_one(coll, sel, upd, opts, NULL, &err));
		t.updated_at = 7;
		WRITE(INTAKE_UPDATED);
		bson_destroy(sel);
		bson_destroy(upd);
		bson_destroy(opts);
		mongoc_collection_destroy(coll);
	}
	/* what the validator refuses (an empty status) is reported, not written */
	t.id = "TK-4";
	t.status = "";
	WRITE(INTAKE_REFUSED);
	assert_true(strlen(res.message) > 0);
	assert_int_equal(tsscene_count(f, "tickets", "{'_id': 'TK-4'}"), 0);
#undef WRITE
	/* audit records carry the delivery */
	{
		intake_delivery_t d = { .event = AUDIT_WEBHOOK_ACCEPTED, .source = "generic", .ticket = &t,
			.http_status = 200, .outcome = "inserted", .message = "m", .instance = "test" };

		t.id = "TK-5";
		t.status = "new";
		assert_true(intake_audit(f->client, f->db, &d, &err));
		assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'webhook_accepted', "
		    "'ticket_id': 'TK-5', 'detection_id': 3, 'http_status': 200, 'message': 'm', "
		    "'instance': 'test', 'detail.source': 'generic', 'detail.outcome': 'inserted', "
		    "'detail.detection_ids': [3], 'detail.status': 'new'}"), 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intake_outcomes, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_jira_server_and_cloud, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_servicenow, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_generic_and_signatures, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_secret_writes_nothing, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_body_limits, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order_and_redelivery, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_and_ignored, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_disabled_sources, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_payload_without_ids, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_database_unavailable, fixture_setup, tsscene_teardown),
	};

	return cmocka_run_group_tests(tests, tsscene_group_setup, tsscene_group_teardown);
}
