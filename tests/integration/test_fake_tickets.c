/*
 * The fake ticket systems' own tests (tests/fake-tickets): Jira Cloud, Jira Data Center,
 * ServiceNow and the generic http endpoint, everything through real HTTP; webhooks land
 * on a tiny evhttp listener run by the test on its own thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tstickets.h"

#define JSON "Content-Type: application/json"
/* base64("soc@example.com:tok3n") */
#define CLOUD_AUTH "Authorization: Basic c29jQGV4YW1wbGUuY29tOnRvazNu"
#define DC_PAT "Authorization: Bearer pat-123"
/* base64("svc:pw") */
#define SN_AUTH "Authorization: Basic c3ZjOnB3"

static const char *const H_CLOUD[] = { CLOUD_AUTH, JSON, NULL };
static const char *const H_DC[] = { DC_PAT, JSON, NULL };
static const char *const H_SN[] = { SN_AUTH, JSON, NULL };

static void
start(tstickets_t *t, const tstickets_opts_t *o)
{
	char err[512];

	if (tstickets_start(t, o, err, sizeof(err)) != 0)
		fail_msg("fake_tickets did not start: %s", err);
}

static void
stop(tstickets_t *t)
{
	int status = tstickets_stop(t);

	if (!(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0))
		fail_msg("fake_tickets did not exit cleanly (wait status %d)", status);
}

static void
start_cloud(tstickets_t *t, int delay_ms)
{
	tstickets_opts_t o = { .flavour = "jira-cloud", .email = "soc@example.com",
		.api_token = "tok3n", .projects = "SEC,OPS", .index_delay_ms = delay_ms };
	start(t, &o);
}

static long
call(tstickets_t *t, const char *method, const char *path, const char *const *hdrs,
    const char *body, bson_t *out)
{
	tstickets_response_t r;
	long status;

	tstickets_http(t, method, path, hdrs, body, &r);
	status = r.status;
	if (out != NULL)
		tsextrahop_response_json(&r, out);
	tsextrahop_response_free(&r);
	return status;
}

static void
msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int64_t
count_of(const bson_t *doc, const char *arr)
{
	bson_iter_t it, child;
	int64_t n = 0;

	if (!bson_iter_init_find(&it, doc, arr) || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &child))
		return -1;
	while (bson_iter_next(&child))
		n++;
	return n;
}

static void
assert_jira_field_error(tstickets_t *t, const char *const *h, const char *body,
    const char *field, const char *contains)
{
	bson_t doc;
	char path[64];
	const char *m;

	assert_int_equal(call(t, "POST", "/rest/api/2/issue", h, body, &doc), 400);
	snprintf(path, sizeof(path), "errors.%s", field);
	m = tsextrahop_str(&doc, path);
	if (m == NULL || (contains != NULL && strstr(m, contains) == NULL)) {
		char *j = bson_as_relaxed_extended_json(&doc, NULL);
		fail_msg("body %s: want errors.%s containing \"%s\", got %s", body, field,
		    contains ? contains : "", j);
	}
	assert_int_equal(count_of(&doc, "errorMessages"), 0);
	bson_destroy(&doc);
}

static void
create_issue(tstickets_t *t, const char *const *h, const char *project, const char *label,
    char *key, size_t len)
{
	char body[1024];
	bson_t doc;

	snprintf(body, sizeof(body), "{\"fields\": {\"project\": {\"key\": \"%s\"}, "
	    "\"issuetype\": {\"name\": \"Task\"}, \"summary\": \"ExtraHop Detection: 1: x\", "
	    "\"labels\": [\"%s\", \"sec.attack\"]}}", project, label);
	assert_int_equal(call(t, "POST", "/rest/api/2/issue", h, body, &doc), 201);
	snprintf(key, len, "%s", tsextrahop_str(&doc, "key"));
	bson_destroy(&doc);
}

/* ---- auth ---- */

static void
test_ready_and_cloud_auth(void **state)
{
	static const char *const bearer[] = { "Authorization: Bearer tok3n", NULL };
	static const char *const wrong[] = { "Authorization: Basic c29jQGV4YW1wbGUuY29tOm5v", NULL };
	tstickets_t t;
	bson_t doc;

	(void)state;
	start_cloud(&t, 0);
	assert_string_equal(t.flavour, "jira-cloud");
	assert_non_null(strstr(t.proc.ready_line, "pid="));
	assert_int_equal(call(&t, "GET", "/rest/api/2/myself", H_CLOUD, NULL, &doc), 200);
	assert_non_null(tsextrahop_str(&doc, "accountId"));
	assert_string_equal(tsextrahop_str(&doc, "emailAddress"), "soc@example.com");
	bson_destroy(&doc);
	for (int i = 0; i < 3; i++) {
		const char *const *h = i == 0 ? NULL : i == 1 ? bearer : wrong;
		assert_int_equal(call(&t, "GET", "/rest/api/2/myself", h, NULL, &doc), 401);
		assert_non_null(strstr(tsextrahop_str(&doc, "errorMessages.0"),
		    "You are not authenticated"));
		assert_true(bson_has_field(&doc, "errors"));
		bson_destroy(&doc);
	}
	stop(&t);
}

static void
test_dc_auth(void **state)
{
	/* base64("svc:pw") and base64("svc:pat-123") */
	static const char *const pw[] = { "Authorization: Basic c3ZjOnB3", NULL };
	static const char *const pat_basic[] = { "Authorization: Basic c3ZjOnBhdC0xMjM=", NULL };
	tstickets_opts_t o = { .flavour = "jira-dc", .pat = "pat-123", .user = "svc",
		.password = "pw" };
	tstickets_t t;
	bson_t doc;

	(void)state;
	start(&t, &o);
	assert_int_equal(call(&t, "GET", "/rest/api/2/myself", H_DC, NULL, &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "name"), "svc");
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/rest/api/2/myself", pat_basic, NULL, NULL), 401);
	assert_int_equal(call(&t, "GET", "/rest/api/2/myself", pw, NULL, NULL), 401);
	stop(&t);
	o.allow_password_basic = true;
	start(&t, &o);
	assert_int_equal(call(&t, "GET", "/rest/api/2/myself", pw, NULL, NULL), 200);
	assert_int_equal(call(&t, "GET", "/rest/api/2/myself", pat_basic, NULL, NULL), 401);
	assert_int_equal(call(&t, "GET", "/rest/api/2/myself", H_DC, NULL, NULL), 200);
	stop(&t);
	/* No credentials configured: open. */
	o = (tstickets_opts_t){ .flavour = "jira-dc" };
	start(&t, &o);
	assert_int_equal(call(&t, "GET", "/rest/api/2/myself", NULL, NULL, NULL), 200);
	stop(&t);
}

/* ---- Jira create and get ---- */

static void
test_jira_create_and_get(void **state)
{
	tstickets_t t;
	bson_t doc;
	char key[32];
	regex_t re;

	(void)state;
	start_cloud(&t, 0);
	assert_int_equal(call(&t, "POST", "/rest/api/2/issue", H_CLOUD,
	    "{\"fields\": {\"project\": {\"key\": \"SEC\"}, \"issuetype\": {\"name\": \"Bug\"},"
	    " \"summary\": \"s\", \"description\": \"d\", \"labels\": [\"extrahop-detection-7\"],"
	    " \"priority\": {\"name\": \"High\"}, \"assignee\": {\"accountId\": \"5b10ac8d\"},"
	    " \"customfield_10042\": \"7\", \"duedate\": \"2026-12-31\"}}", &doc), 201);
	assert_string_equal(tsextrahop_str(&doc, "key"), "SEC-1");
	assert_string_equal(tsextrahop_str(&doc, "id"), "10001");
	assert_non_null(strstr(tsextrahop_str(&doc, "self"), "/rest/api/2/issue/10001"));
	bson_destroy(&doc);
	create_issue(&t, H_CLOUD, "SEC", "extrahop-detection-8", key, sizeof(key));
	assert_string_equal(key, "SEC-2");
	create_issue(&t, H_CLOUD, "OPS", "extrahop-detection-9", key, sizeof(key));
	assert_string_equal(key, "OPS-1");

	assert_int_equal(call(&t, "GET", "/rest/api/2/issue/SEC-1", H_CLOUD, NULL, &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "fields.status.name"), "To Do");
	assert_string_equal(tsextrahop_str(&doc, "fields.status.statusCategory.key"), "new");
	assert_string_equal(tsextrahop_str(&doc, "fields.priority.name"), "High");
	assert_string_equal(tsextrahop_str(&doc, "fields.assignee.accountId"), "5b10ac8d");
	assert_string_equal(tsextrahop_str(&doc, "fields.issuetype.name"), "Bug");
	assert_string_equal(tsextrahop_str(&doc, "fields.project.key"), "SEC");
	assert_string_equal(tsextrahop_str(&doc, "fields.customfield_10042"), "7");
	assert_string_equal(tsextrahop_str(&doc, "fields.labels.0"), "extrahop-detection-7");
	{
		bson_iter_t it;
		assert_true(bson_iter_init(&it, &doc) &&
		    bson_iter_find_descendant(&it, "fields.resolution", &it) &&
		    BSON_ITER_HOLDS_NULL(&it));
	}
	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
	    "\\.[0-9]{3}\\+0000$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, tsextrahop_str(&doc, "fields.created"), 0, NULL, 0), 0);
	assert_int_equal(regexec(&re, tsextrahop_str(&doc, "fields.updated"), 0, NULL, 0), 0);
	regfree(&re);
	bson_destroy(&doc);
	/* By id too; unknown keys get Jira's 404. */
	assert_int_equal(call(&t, "GET", "/rest/api/2/issue/10002", H_CLOUD, NULL, &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "key"), "SEC-2");
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/rest/api/2/issue/SEC-99", H_CLOUD, NULL, &doc), 404);
	assert_string_equal(tsextrahop_str(&doc, "errorMessages.0"),
	    "Issue does not exist or you do not have permission to see it.");
	bson_destroy(&doc);
	/* The control API sees the same. */
	assert_int_equal(tstickets_tickets(&t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "count", -1), 3);
	assert_string_equal(tsextrahop_str(&doc, "tickets.0.status"), "To Do");
	assert_string_equal(tsextrahop_str(&doc, "tickets.0.assignee"), "5b10ac8d");
	bson_destroy(&doc);
	stop(&t);
}

#define F(x) "{\"fields\": {\"project\": {\"key\": \"SEC\"}, \"issuetype\": {\"name\": " \
	"\"Task\"}, \"summary\": \"ok\", " x "}}"

static void
test_jira_create_errors(void **state)
{
	tstickets_t t;
	bson_t doc;
	char big[600], body[900];
	tstickets_opts_t dc = { .flavour = "jira-dc", .pat = "pat-123" };

	(void)state;
	start_cloud(&t, 0);
	assert_jira_field_error(&t, H_CLOUD, "{\"fields\": {\"issuetype\": {\"name\": \"Task\"}, "
	    "\"summary\": \"x\"}}", "project", "valid project");
	assert_jira_field_error(&t, H_CLOUD, "{\"fields\": {\"project\": {\"key\": \"NOPE\"}, "
	    "\"issuetype\": {\"name\": \"Task\"}, \"summary\": \"x\"}}", "project", NULL);
	assert_jira_field_error(&t, H_CLOUD, "{\"fields\": {\"project\": {\"key\": \"SEC\"}, "
	    "\"issuetype\": {\"name\": \"Epic\"}, \"summary\": \"x\"}}", "issuetype", "invalid");
	assert_jira_field_error(&t, H_CLOUD, "{\"fields\": {\"project\": {\"key\": \"SEC\"}, "
	    "\"issuetype\": {\"name\": \"Task\"}}}", "summary", "summary");
	assert_jira_field_error(&t, H_CLOUD, "{\"fields\": {\"project\": {\"key\": \"SEC\"}, "
	    "\"issuetype\": {\"name\": \"Task\"}, \"summary\": \"  \"}}", "summary", NULL);
	memset(big, 'a', 256);
	big[256] = '\0';
	snprintf(body, sizeof(body), "{\"fields\": {\"project\": {\"key\": \"SEC\"}, "
	    "\"issuetype\": {\"name\": \"Task\"}, \"summary\": \"%s\"}}", big);
	assert_jira_field_error(&t, H_CLOUD, body, "summary", "255");
	assert_jira_field_error(&t, H_CLOUD, F("\"labels\": \"a\""), "labels", NULL);
	assert_jira_field_error(&t, H_CLOUD, F("\"labels\": [1]"), "labels", NULL);
	assert_jira_field_error(&t, H_CLOUD, F("\"labels\": [\"a b\"]"), "labels", "spaces");
	assert_jira_field_error(&t, H_CLOUD, F("\"priority\": {\"name\": \"Urgent\"}"), "priority",
	    NULL);
	assert_jira_field_error(&t, H_CLOUD, F("\"priority\": \"High\""), "priority", NULL);
	assert_jira_field_error(&t, H_CLOUD, F("\"priority\": {\"id\": \"42\"}"), "priority", NULL);
	assert_jira_field_error(&t, H_CLOUD, F("\"assignee\": {\"name\": \"escalations_team\"}"),
	    "assignee", "accountId");
	assert_jira_field_error(&t, H_CLOUD, F("\"description\": {\"type\": \"doc\"}"),
	    "description", NULL);
	assert_jira_field_error(&t, H_CLOUD, F("\"mitreCategories\": [\"x\"]"), "mitreCategories",
	    "Field 'mitreCategories' cannot be set. It is not on the appropriate screen, or "
	    "unknown.");
	/* Invalid JSON: errorMessages, not field errors. */
	assert_int_equal(call(&t, "POST", "/rest/api/2/issue", H_CLOUD, "{\"fields\": ", &doc),
	    400);
	assert_non_null(tsextrahop_str(&doc, "errorMessages.0"));
	bson_destroy(&doc);
	/* None of them was stored; valid variants are. */
	assert_int_equal(call(&t, "POST", "/rest/api/2/issue", H_CLOUD,
	    F("\"priority\": {\"id\": \"5\"}, \"assignee\": null, \"components\": [], "
	    "\"environment\": \"lab\", \"reporter\": {\"accountId\": \"r1\"}"), NULL), 201);
	assert_int_equal(tstickets_tickets(&t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "count", -1), 1);
	assert_string_equal(tsextrahop_str(&doc, "tickets.0.priority"), "Lowest");
	bson_destroy(&doc);
	stop(&t);

	/* Data Center: users by name; accountId is refused. */
	start(&t, &dc);
	assert_int_equal(call(&t, "POST", "/rest/api/2/issue", H_DC,
	    F("\"assignee\": {\"name\": \"escalations_team\"}"), NULL), 201);
	assert_jira_field_error(&t, H_DC, F("\"assignee\": {\"accountId\": \"5b10\"}"),
	    "assignee", "name");
	assert_int_equal(call(&t, "GET", "/rest/api/2/issue/SEC-1", H_DC, NULL, &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "fields.assignee.name"), "escalations_team");
	bson_destroy(&doc);
	stop(&t);
}

/* ---- Jira search ---- */

static int64_t
search_count(tstickets_t *t, const char *const *h, const char *path)
{
	bson_t doc;
	int64_t n;

	assert_int_equal(call(t, "GET", path, h, NULL, &doc), 200);
	n = count_of(&doc, "issues");
	bson_destroy(&doc);
	return n;
}

static void
test_jira_cloud_search_and_index_delay(void **state)
{
	tstickets_t t;
	bson_t doc;
	char key[32], path[512];

	(void)state;
	/* Long enough that a loaded machine still searches inside the window. */
	start_cloud(&t, 1000);
	create_issue(&t, H_CLOUD, "SEC", "extrahop-detection-1", key, sizeof(key));
	/* Eventually consistent: not found right after the create... */
	assert_int_equal(search_count(&t, H_CLOUD, "/rest/api/3/search/jql?jql="
	    "labels%20%3D%20%22extrahop-detection-1%22"), 0);
	/* ...but GET by key sees it at once. */
	assert_int_equal(call(&t, "GET", "/rest/api/2/issue/SEC-1", H_CLOUD, NULL, NULL), 200);
	msleep(1150);
	assert_int_equal(search_count(&t, H_CLOUD, "/rest/api/3/search/jql?jql="
	    "labels%20%3D%20extrahop-detection-1"), 1);
	/* An update shows up late too: the old version first. */
	assert_int_equal(tstickets_transition(&t, "SEC-1", "{\"status\": \"Done\", "
	    "\"resolution\": \"Done\"}", NULL), 0);
	assert_int_equal(call(&t, "GET", "/rest/api/3/search/jql?jql=key%20%3D%20SEC-1"
	    "&fields=status,resolution", H_CLOUD, NULL, &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "issues.0.fields.status.name"), "To Do");
	bson_destroy(&doc);
	msleep(1150);
	assert_int_equal(call(&t, "GET", "/rest/api/3/search/jql?jql=key%20%3D%20SEC-1"
	    "&fields=status", H_CLOUD, NULL, &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "issues.0.fields.status.name"), "Done");
	assert_true(tsextrahop_int(&doc, "isLast", 0));
	bson_destroy(&doc);

	assert_int_equal(tstickets_settings(&t, "{\"index_delay_ms\": 0}"), 0);
	for (int i = 2; i <= 4; i++) {
		char label[64];
		snprintf(label, sizeof(label), "extrahop-detection-%d", i);
		create_issue(&t, H_CLOUD, i == 4 ? "OPS" : "SEC", label, key, sizeof(key));
	}
	/* Without fields Cloud returns ids only. */
	assert_int_equal(call(&t, "GET", "/rest/api/3/search/jql?jql=project%20%3D%20SEC",
	    H_CLOUD, NULL, &doc), 200);
	assert_int_equal(count_of(&doc, "issues"), 3);
	assert_non_null(tsextrahop_str(&doc, "issues.0.id"));
	assert_null(tsextrahop_str(&doc, "issues.0.key"));
	bson_destroy(&doc);
	/* Paging with nextPageToken, ordered. */
	assert_int_equal(call(&t, "POST", "/rest/api/3/search/jql", H_CLOUD,
	    "{\"jql\": \"project in (SEC, OPS) ORDER BY key ASC\", \"maxResults\": 2, "
	    "\"fields\": [\"summary\"]}", &doc), 200);
	assert_int_equal(count_of(&doc, "issues"), 2);
	assert_string_equal(tsextrahop_str(&doc, "issues.0.key"), "OPS-1");
	assert_false(tsextrahop_int(&doc, "isLast", 1));
	snprintf(path, sizeof(path), "{\"jql\": \"project in (SEC, OPS) ORDER BY key ASC\", "
	    "\"maxResults\": 2, \"fields\": [\"summary\"], \"nextPageToken\": \"%s\"}",
	    tsextrahop_str(&doc, "nextPageToken"));
	bson_destroy(&doc);
	assert_int_equal(call(&t, "POST", "/rest/api/3/search/jql", H_CLOUD, path, &doc), 200);
	assert_int_equal(count_of(&doc, "issues"), 2);
	assert_string_equal(tsextrahop_str(&doc, "issues.1.key"), "SEC-3");
	assert_true(tsextrahop_int(&doc, "isLast", 0));
	assert_false(bson_has_field(&doc, "nextPageToken"));
	bson_destroy(&doc);
	/* Time bounds, with and without seconds (UTC). */
	assert_int_equal(search_count(&t, H_CLOUD, "/rest/api/3/search/jql?jql=project%20%3D"
	    "%20SEC%20AND%20updated%20%3E%3D%20%222000-01-01%2000%3A00%22"), 3);
	assert_int_equal(search_count(&t, H_CLOUD, "/rest/api/3/search/jql?jql=updated%20%3E"
	    "%20%222999-01-01%2000%3A00%3A00%22"), 0);
	/* Strict JQL: errors, unbounded queries, the removed endpoints. */
	assert_int_equal(call(&t, "GET", "/rest/api/3/search/jql?jql=status%20%3D%20Done",
	    H_CLOUD, NULL, &doc), 400);
	assert_non_null(strstr(tsextrahop_str(&doc, "errorMessages.0"), "Error in the JQL Query"));
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/rest/api/3/search/jql?jql=labels%20%3D", H_CLOUD,
	    NULL, NULL), 400);
	assert_int_equal(call(&t, "GET", "/rest/api/3/search/jql?jql=labels%20%3D%20a%20OR%20"
	    "labels%20%3D%20b", H_CLOUD, NULL, NULL), 400);
	assert_int_equal(call(&t, "GET", "/rest/api/3/search/jql?jql=ORDER%20BY%20key",
	    H_CLOUD, NULL, NULL), 400);
	assert_int_equal(call(&t, "GET", "/rest/api/3/search/jql?jql=updated%20%3E%3D%20"
	    "%22yesterday%22", H_CLOUD, NULL, NULL), 400);
	assert_int_equal(call(&t, "GET", "/rest/api/2/search?jql=project%3DSEC", H_CLOUD, NULL,
	    NULL), 410);
	assert_int_equal(call(&t, "POST", "/rest/api/3/search", H_CLOUD, "{}", NULL), 410);
	stop(&t);
}

static void
test_jira_dc_search_and_comments(void **state)
{
	tstickets_opts_t o = { .flavour = "jira-dc", .pat = "pat-123" };
	tstickets_t t;
	bson_t doc;
	char key[32], updated[64];

	(void)state;
	start(&t, &o);
	for (int i = 0; i < 3; i++)
		create_issue(&t, H_DC, "SEC", "extrahop-detection-5", key, sizeof(key));
	assert_int_equal(call(&t, "GET", "/rest/api/2/search?jql=labels%20%3D%20"
	    "%22extrahop-detection-5%22%20ORDER%20BY%20created%20DESC&startAt=1&maxResults=1",
	    H_DC, NULL, &doc), 200);
	assert_int_equal(tsextrahop_int(&doc, "total", -1), 3);
	assert_int_equal(tsextrahop_int(&doc, "startAt", -1), 1);
	assert_int_equal(tsextrahop_int(&doc, "maxResults", -1), 1);
	assert_int_equal(count_of(&doc, "issues"), 1);
	/* DC returns the navigable fields by default. */
	assert_non_null(tsextrahop_str(&doc, "issues.0.fields.summary"));
	bson_destroy(&doc);
	/* Three tickets share one detection label: one duplicated key. */
	assert_int_equal(tstickets_stats(&t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "duplicates", -1), 1);
	assert_int_equal(tsextrahop_int(&doc, "creates", -1), 3);
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/rest/api/3/search/jql?jql=key%3DSEC-1", H_DC, NULL,
	    NULL), 404);

	/* Comments: 201, listed, and they move updated. */
	assert_int_equal(call(&t, "GET", "/rest/api/2/issue/SEC-1", H_DC, NULL, &doc), 200);
	snprintf(updated, sizeof(updated), "%s", tsextrahop_str(&doc, "fields.updated"));
	bson_destroy(&doc);
	msleep(5);
	assert_int_equal(call(&t, "POST", "/rest/api/2/issue/SEC-1/comment", H_DC,
	    "{\"body\": \"ticketsync: detection 5 closed\"}", &doc), 201);
	assert_non_null(tsextrahop_str(&doc, "id"));
	assert_string_equal(tsextrahop_str(&doc, "body"), "ticketsync: detection 5 closed");
	assert_non_null(tsextrahop_str(&doc, "created"));
	bson_destroy(&doc);
	assert_int_equal(call(&t, "POST", "/rest/api/2/issue/SEC-1/comment", H_DC,
	    "{\"body\": \"\"}", &doc), 400);
	assert_non_null(tsextrahop_str(&doc, "errors.comment"));
	bson_destroy(&doc);
	assert_int_equal(call(&t, "POST", "/rest/api/2/issue/SEC-9/comment", H_DC,
	    "{\"body\": \"x\"}", NULL), 404);
	assert_int_equal(call(&t, "GET", "/rest/api/2/issue/SEC-1/comment", H_DC, NULL, &doc),
	    200);
	assert_int_equal(tsextrahop_int(&doc, "total", -1), 1);
	assert_string_equal(tsextrahop_str(&doc, "comments.0.body"),
	    "ticketsync: detection 5 closed");
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/rest/api/2/issue/SEC-1", H_DC, NULL, &doc), 200);
	assert_true(strcmp(tsextrahop_str(&doc, "fields.updated"), updated) > 0);
	bson_destroy(&doc);
	stop(&t);
}

/* ---- ServiceNow ---- */

static void
test_snow_auth_and_oauth(void **state)
{
	static const char *const form[] = {
		"Content-Type: application/x-www-form-urlencoded", NULL };
	tstickets_opts_t o = { .flavour = "servicenow", .user = "svc", .password = "pw",
		.client_id = "cid", .client_secret = "cs" };
	tstickets_t t;
	bson_t doc;
	char bearer[200], body[300];
	const char *h[2] = { bearer, NULL };

	(void)state;
	start(&t, &o);
	assert_int_equal(call(&t, "GET", "/api/now/table/incident", NULL, NULL, &doc), 401);
	assert_string_equal(tsextrahop_str(&doc, "error.message"), "User Not Authenticated");
	assert_string_equal(tsextrahop_str(&doc, "error.detail"),
	    "Required to provide Auth information");
	assert_string_equal(tsextrahop_str(&doc, "status"), "failure");
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/api/now/table/incident", H_SN, NULL, NULL), 200);
	assert_int_equal(call(&t, "POST", "/oauth_token.do", form,
	    "grant_type=password&client_id=cid&client_secret=bad&username=svc&password=pw",
	    NULL), 401);
	assert_int_equal(call(&t, "POST", "/oauth_token.do", form,
	    "grant_type=password&client_id=cid&client_secret=cs&username=svc&password=pw",
	    &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "token_type"), "Bearer");
	assert_string_equal(tsextrahop_str(&doc, "scope"), "useraccount");
	assert_int_equal(tsextrahop_int(&doc, "expires_in", 0), 1799);
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
	    tsextrahop_str(&doc, "access_token"));
	snprintf(body, sizeof(body), "grant_type=refresh_token&client_id=cid&client_secret=cs"
	    "&refresh_token=%s", tsextrahop_str(&doc, "refresh_token"));
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/api/now/table/incident", h, NULL, NULL), 200);
	assert_int_equal(call(&t, "POST", "/oauth_token.do", form, body, &doc), 200);
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
	    tsextrahop_str(&doc, "access_token"));
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/api/now/table/incident", h, NULL, NULL), 200);
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer not-a-token");
	assert_int_equal(call(&t, "GET", "/api/now/table/incident", h, NULL, NULL), 401);
	stop(&t);
}

static void
test_snow_table_api_and_query_pitfall(void **state)
{
	tstickets_opts_t o = { .flavour = "servicenow", .user = "svc", .password = "pw" };
	tstickets_t t;
	tstickets_response_t r;
	bson_t doc;
	char sys_id[64], path[256], total[16];
	regex_t re;

	(void)state;
	start(&t, &o);
	assert_int_equal(call(&t, "POST", "/api/now/table/incident", H_SN,
	    "{\"short_description\": \"ExtraHop Detection: 1: x\", \"correlation_id\": \"1\", "
	    "\"urgency\": 2, \"impact\": \"2\", \"u_not_a_field\": \"ignored\"}", &doc), 201);
	assert_string_equal(tsextrahop_str(&doc, "result.number"), "INC0010001");
	assert_string_equal(tsextrahop_str(&doc, "result.state"), "1");
	assert_string_equal(tsextrahop_str(&doc, "result.urgency"), "2");
	assert_string_equal(tsextrahop_str(&doc, "result.priority"), "3");
	assert_false(bson_has_field(&doc, "result.u_not_a_field"));
	assert_int_equal(regcomp(&re, "^[0-9a-f]{32}$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, tsextrahop_str(&doc, "result.sys_id"), 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
	    REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, tsextrahop_str(&doc, "result.sys_updated_on"), 0, NULL, 0), 0);
	regfree(&re);
	snprintf(sys_id, sizeof(sys_id), "%s", tsextrahop_str(&doc, "result.sys_id"));
	bson_destroy(&doc);
	assert_int_equal(call(&t, "POST", "/api/now/table/incident?sysparm_fields=sys_id,number",
	    H_SN, "{\"short_description\": \"two\", \"correlation_id\": \"2\"}", &doc), 201);
	assert_int_equal(bson_count_keys(&doc), 1);
	assert_string_equal(tsextrahop_str(&doc, "result.number"), "INC0010002");
	assert_null(tsextrahop_str(&doc, "result.state"));
	bson_destroy(&doc);
	/* Validation, in ServiceNow's error shape; nothing stored. */
	assert_int_equal(call(&t, "POST", "/api/now/table/incident", H_SN,
	    "{\"short_description\": \"bad\", \"urgency\": 5}", &doc), 400);
	assert_string_equal(tsextrahop_str(&doc, "status"), "failure");
	assert_non_null(tsextrahop_str(&doc, "error.message"));
	assert_non_null(strstr(tsextrahop_str(&doc, "error.detail"), "urgency"));
	bson_destroy(&doc);
	assert_int_equal(call(&t, "POST", "/api/now/table/incident", H_SN,
	    "{\"impact\": \"0\"}", NULL), 400);
	assert_int_equal(call(&t, "POST", "/api/now/table/incident", H_SN, "not json", NULL), 400);
	assert_int_equal(call(&t, "POST", "/api/now/table/problem", H_SN, "{}", &doc), 400);
	assert_string_equal(tsextrahop_str(&doc, "status"), "failure");
	bson_destroy(&doc);

	/* Lookup by correlation_id finds one; a typo in the field name matches every row. */
	assert_int_equal(tstickets_http(&t, "GET", "/api/now/table/incident?sysparm_query="
	    "correlation_id%3D1&sysparm_fields=sys_id,number,correlation_id&sysparm_limit=1",
	    H_SN, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_true(tsextrahop_response_header(&r, "X-Total-Count", total, sizeof(total)));
	assert_string_equal(total, "1");
	tsextrahop_response_json(&r, &doc);
	assert_string_equal(tsextrahop_str(&doc, "result.0.correlation_id"), "1");
	bson_destroy(&doc);
	tsextrahop_response_free(&r);
	assert_int_equal(call(&t, "GET", "/api/now/table/incident?sysparm_query="
	    "correlaton_id%3D1", H_SN, NULL, &doc), 200);
	assert_int_equal(count_of(&doc, "result"), 2);
	bson_destroy(&doc);
	assert_int_equal(tstickets_settings(&t, "{\"invalid_query_returns_no_rows\": true}"), 0);
	assert_int_equal(call(&t, "GET", "/api/now/table/incident?sysparm_query="
	    "correlaton_id%3D1", H_SN, NULL, &doc), 200);
	assert_int_equal(count_of(&doc, "result"), 0);
	bson_destroy(&doc);
	/* Polling changes: ISNOTEMPTY, a time bound, ORDERBYDESC, paging. */
	assert_int_equal(call(&t, "GET", "/api/now/table/incident?sysparm_query="
	    "correlation_idISNOTEMPTY%5Esys_updated_on%3E%3D2000-01-01%2000%3A00%3A00"
	    "%5EORDERBYDESCnumber&sysparm_limit=1&sysparm_offset=1", H_SN, NULL, &doc), 200);
	assert_int_equal(count_of(&doc, "result"), 1);
	assert_string_equal(tsextrahop_str(&doc, "result.0.number"), "INC0010001");
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/api/now/table/incident?sysparm_query="
	    "sys_updated_on%3E2999-01-01%2000%3A00%3A00", H_SN, NULL, &doc), 200);
	assert_int_equal(count_of(&doc, "result"), 0);
	bson_destroy(&doc);

	/* One record; PATCH appends journal entries and moves sys_updated_on. */
	snprintf(path, sizeof(path), "/api/now/table/incident/%s", sys_id);
	assert_int_equal(call(&t, "GET", path, H_SN, NULL, &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "result.number"), "INC0010001");
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/api/now/table/incident/0123456789abcdef0123456789abcdef",
	    H_SN, NULL, &doc), 404);
	assert_string_equal(tsextrahop_str(&doc, "error.message"), "No Record found");
	assert_string_equal(tsextrahop_str(&doc, "error.detail"),
	    "Record doesn't exist or ACL restricts the record retrieval");
	bson_destroy(&doc);
	msleep(1100);
	assert_int_equal(call(&t, "PATCH", path, H_SN, "{\"work_notes\": \"first\"}", NULL), 200);
	assert_int_equal(call(&t, "PATCH", path, H_SN, "{\"work_notes\": \"second\", "
	    "\"comments\": \"to the caller\", \"state\": 2}", &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "result.state"), "2");
	bson_destroy(&doc);
	assert_int_equal(tstickets_ticket(&t, "INC0010001", &doc), 0);
	assert_string_equal(tsextrahop_str(&doc, "work_notes.0.body"), "first");
	assert_string_equal(tsextrahop_str(&doc, "work_notes.1.body"), "second");
	assert_string_equal(tsextrahop_str(&doc, "comments.0.body"), "to the caller");
	assert_true(strcmp(tsextrahop_str(&doc, "updated"), tsextrahop_str(&doc, "created")) > 0);
	bson_destroy(&doc);
	stop(&t);
}

/* ---- rate limit, faults ---- */

static void
test_rate_limit_429(void **state)
{
	tstickets_t t;
	tstickets_response_t r;
	tstickets_opts_t o = { .flavour = "jira-cloud", .rate_limit = 2 };
	tstickets_opts_t sn = { .flavour = "servicenow", .rate_limit = 1 };
	char v[64];
	bson_t doc;
	int limited = 0, created = 0;

	(void)state;
	start(&t, &o);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(tstickets_http(&t, "POST", "/rest/api/2/issue", NULL,
		    F("\"labels\": [\"x\"]"), &r), 0);
		if (r.status == 201)
			created++;
		if (r.status == 429) {
			limited++;
			assert_true(tsextrahop_response_header(&r, "Retry-After", v, sizeof(v)));
			assert_true(atoi(v) >= 1);
			assert_true(tsextrahop_response_header(&r, "X-RateLimit-Reset", v, sizeof(v)));
			assert_int_equal(strlen(v), 20);
			assert_int_equal(v[10], 'T');
			assert_true(tsextrahop_response_header(&r, "X-RateLimit-Limit", v, sizeof(v)));
			assert_string_equal(v, "2");
			assert_true(tsextrahop_response_header(&r, "X-RateLimit-Remaining", v,
			    sizeof(v)));
			assert_string_equal(v, "0");
			assert_true(tsextrahop_response_header(&r, "RateLimit-Reason", v, sizeof(v)));
			assert_string_equal(v, "jira-burst-based");
			tsextrahop_response_json(&r, &doc);
			assert_non_null(tsextrahop_str(&doc, "errorMessages.0"));
			bson_destroy(&doc);
		}
		tsextrahop_response_free(&r);
	}
	assert_int_equal(limited, 4 - created);
	assert_true(limited >= 1);
	/* Nothing was written by a limited request; reads are never limited. */
	assert_int_equal(tstickets_stats(&t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "tickets", -1), created);
	assert_int_equal(tsextrahop_int(&doc, "rate_limited", -1), limited);
	bson_destroy(&doc);
	assert_int_equal(call(&t, "GET", "/rest/api/2/issue/SEC-1", NULL, NULL, NULL), 200);
	stop(&t);

	start(&t, &sn);
	assert_int_equal(call(&t, "POST", "/api/now/table/incident", NULL, "{}", NULL), 201);
	assert_int_equal(tstickets_http(&t, "POST", "/api/now/table/incident", NULL, "{}", &r), 0);
	assert_int_equal(r.status, 429);
	assert_true(tsextrahop_response_header(&r, "Retry-After", v, sizeof(v)));
	assert_true(tsextrahop_response_header(&r, "X-RateLimit-Rule", v, sizeof(v)));
	assert_true(tsextrahop_response_header(&r, "X-RateLimit-Reset", v, sizeof(v)));
	assert_true(atoll(v) > 1700000000LL);
	tsextrahop_response_json(&r, &doc);
	assert_string_equal(tsextrahop_str(&doc, "status"), "failure");
	bson_destroy(&doc);
	tsextrahop_response_free(&r);
	stop(&t);
}

static void
test_faults_and_commit_close(void **state)
{
	tstickets_t t;
	tstickets_response_t r;
	bson_t doc;

	(void)state;
	start_cloud(&t, 0);
	/* commit_close: the issue is created, the reply is lost. */
	assert_true(tstickets_set_fault(&t, "{\"kind\": \"commit_close\", \"count\": 1, "
	    "\"method\": \"POST\", \"path_prefix\": \"/rest/api/2/issue\"}") > 0);
	assert_int_not_equal(tstickets_http(&t, "POST", "/rest/api/2/issue", H_CLOUD,
	    F("\"labels\": [\"extrahop-detection-1\"]"), &r), 0);
	assert_int_equal(r.status, 0);
	tsextrahop_response_free(&r);
	assert_int_equal(tstickets_tickets(&t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "count", -1), 1);
	assert_string_equal(tsextrahop_str(&doc, "tickets.0.key"), "SEC-1");
	bson_destroy(&doc);
	/* close: nothing is created. */
	assert_true(tstickets_set_fault(&t, "{\"kind\": \"close\", \"count\": 1}") > 0);
	assert_int_equal(call(&t, "POST", "/rest/api/2/issue", H_CLOUD,
	    F("\"labels\": [\"extrahop-detection-1\"]"), NULL), 0);
	/* A retry after the ambiguous failure makes a duplicate: the stats say so. */
	assert_int_equal(call(&t, "POST", "/rest/api/2/issue", H_CLOUD,
	    F("\"labels\": [\"extrahop-detection-1\"]"), NULL), 201);
	assert_int_equal(tstickets_stats(&t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "creates", -1), 2);
	assert_int_equal(tsextrahop_int(&doc, "duplicates", -1), 1);
	assert_int_equal(tsextrahop_int(&doc, "faults.commit_close", -1), 1);
	assert_int_equal(tsextrahop_int(&doc, "faults.close", -1), 1);
	bson_destroy(&doc);
	/* Faults come before auth, with the flavour's error body and Retry-After. */
	assert_true(tstickets_set_fault(&t, "{\"kind\": \"status\", \"status\": 503, "
	    "\"retry_after\": 7, \"count\": 1}") > 0);
	assert_int_equal(tstickets_http(&t, "GET", "/rest/api/2/myself", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.retry_after, "7");
	tsextrahop_response_json(&r, &doc);
	assert_non_null(tsextrahop_str(&doc, "errorMessages.0"));
	bson_destroy(&doc);
	tsextrahop_response_free(&r);
	/* Recorded requests show the commit_close. */
	assert_int_equal(tstickets_requests(&t, 0, &doc), 0);
	assert_string_equal(tsextrahop_str(&doc, "requests.0.fault"), "commit_close");
	bson_destroy(&doc);
	assert_int_equal(tstickets_clear_faults(&t), 0);
	stop(&t);
}

/* ---- webhooks ---- */

typedef struct receiver {
	struct event_base *base;
	struct evhttp *http;
	pthread_t thread;
	int port;
	pthread_mutex_t lock;
	int hits;
	char body[65536];
	char signature[200];
	char authorization[200];
	char path[128];
} receiver_t;

static void
receiver_cb(struct evhttp_request *req, void *arg)
{
	receiver_t *rv = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	size_t n = evbuffer_get_length(in);
	const char *v;

	pthread_mutex_lock(&rv->lock);
	if (n >= sizeof(rv->body))
		n = sizeof(rv->body) - 1;
	evbuffer_remove(in, rv->body, n);
	rv->body[n] = '\0';
	v = evhttp_find_header(h, "X-Hub-Signature");
	snprintf(rv->signature, sizeof(rv->signature), "%s", v ? v : "");
	v = evhttp_find_header(h, "Authorization");
	snprintf(rv->authorization, sizeof(rv->authorization), "%s", v ? v : "");
	snprintf(rv->path, sizeof(rv->path), "%s", evhttp_request_get_uri(req));
	rv->hits++;
	pthread_mutex_unlock(&rv->lock);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void *
receiver_run(void *arg)
{
	receiver_t *rv = arg;

	event_base_dispatch(rv->base);
	return NULL;
}

static void
receiver_start(receiver_t *rv)
{
	struct evhttp_bound_socket *s;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(rv, 0, sizeof(*rv));
	/* The test thread stops the receiver's loop: libevent must be thread-aware. */
	assert_int_equal(evthread_use_pthreads(), 0);
	pthread_mutex_init(&rv->lock, NULL);
	rv->base = event_base_new();
	rv->http = evhttp_new(rv->base);
	evhttp_set_gencb(rv->http, receiver_cb, rv);
	s = evhttp_bind_socket_with_handle(rv->http, "127.0.0.1", 0);
	assert_non_null(s);
	getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&ss, &sl);
	rv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	assert_int_equal(pthread_create(&rv->thread, NULL, receiver_run, rv), 0);
}

static void
receiver_stop(receiver_t *rv)
{
	event_base_loopbreak(rv->base);
	pthread_join(rv->thread, NULL);
	evhttp_free(rv->http);
	event_base_free(rv->base);
	pthread_mutex_destroy(&rv->lock);
}

static void
wait_webhook(tstickets_t *t, int64_t sent)
{
	bson_t doc;

	for (int i = 0; i < 200; i++) {
		assert_int_equal(tstickets_stats(t, &doc), 0);
		if (tsextrahop_int(&doc, "webhooks_sent", 0) >= sent) {
			bson_destroy(&doc);
			return;
		}
		bson_destroy(&doc);
		msleep(25);
	}
	fail_msg("webhook not delivered");
}

static void
test_transition_webhooks(void **state)
{
	receiver_t rv;
	tstickets_t t;
	bson_t doc, hook;
	char url[128], key[32], want[100];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	(void)state;
	receiver_start(&rv);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/jira", rv.port);
	{
		tstickets_opts_t o = { .flavour = "jira-cloud", .webhook_url = url,
			.webhook_secret = "hook-secret" };
		start(&t, &o);
	}
	create_issue(&t, NULL, "SEC", "extrahop-detection-42", key, sizeof(key));
	assert_int_equal(tstickets_transition(&t, key, "{\"status\": \"Done\", \"resolution\": "
	    "\"Won't Do\", \"assignee\": \"5b10ac8d\"}", &doc), 0);
	assert_string_equal(tsextrahop_str(&doc, "ticket.status"), "Done");
	assert_string_equal(tsextrahop_str(&doc, "ticket.resolution"), "Won't Do");
	assert_true(tsextrahop_int(&doc, "webhook.started", 0));
	bson_destroy(&doc);
	wait_webhook(&t, 1);
	pthread_mutex_lock(&rv.lock);
	assert_int_equal(rv.hits, 1);
	assert_string_equal(rv.path, "/webhooks/jira");
	HMAC(EVP_sha256(), "hook-secret", 11, (const unsigned char *)rv.body, strlen(rv.body),
	    mac, &n);
	strcpy(want, "sha256=");
	for (unsigned int i = 0; i < n; i++)
		snprintf(want + 7 + 2 * i, 3, "%02x", mac[i]);
	assert_string_equal(rv.signature, want);
	assert_true(bson_init_from_json(&hook, rv.body, -1, NULL));
	pthread_mutex_unlock(&rv.lock);
	assert_string_equal(tsextrahop_str(&hook, "webhookEvent"), "jira:issue_updated");
	assert_string_equal(tsextrahop_str(&hook, "issue.key"), key);
	assert_string_equal(tsextrahop_str(&hook, "issue.fields.status.name"), "Done");
	assert_string_equal(tsextrahop_str(&hook, "issue.fields.status.statusCategory.key"), "done");
	assert_string_equal(tsextrahop_str(&hook, "issue.fields.resolution.name"), "Won't Do");
	assert_string_equal(tsextrahop_str(&hook, "issue.fields.assignee.accountId"), "5b10ac8d");
	assert_string_equal(tsextrahop_str(&hook, "issue.fields.labels.0"), "extrahop-detection-42");
	assert_non_null(tsextrahop_str(&hook, "issue.fields.updated"));
	assert_string_equal(tsextrahop_str(&hook, "changelog.items.0.field"), "status");
	bson_destroy(&hook);
	stop(&t);

	/* ServiceNow: the record itself, with the secret as a bearer token. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/servicenow", rv.port);
	{
		tstickets_opts_t o = { .flavour = "servicenow", .webhook_url = url,
			.webhook_secret = "sn-secret" };
		start(&t, &o);
	}
	assert_int_equal(call(&t, "POST", "/api/now/table/incident", NULL,
	    "{\"short_description\": \"x\", \"correlation_id\": \"42\"}", NULL), 201);
	assert_int_equal(tstickets_transition(&t, "INC0010001", "{\"state\": \"6\", "
	    "\"close_code\": \"Solution provided\", \"assigned_to\": \"beth.anglin\"}", NULL), 0);
	wait_webhook(&t, 1);
	pthread_mutex_lock(&rv.lock);
	assert_int_equal(rv.hits, 2);
	assert_string_equal(rv.authorization, "Bearer sn-secret");
	assert_true(bson_init_from_json(&hook, rv.body, -1, NULL));
	pthread_mutex_unlock(&rv.lock);
	assert_string_equal(tsextrahop_str(&hook, "number"), "INC0010001");
	assert_string_equal(tsextrahop_str(&hook, "state"), "6");
	assert_string_equal(tsextrahop_str(&hook, "close_code"), "Solution provided");
	assert_string_equal(tsextrahop_str(&hook, "correlation_id"), "42");
	assert_non_null(tsextrahop_str(&hook, "sys_updated_on"));
	bson_destroy(&hook);
	/* A receiver that is gone: counted as failed, the loop never blocks. */
	assert_int_equal(tstickets_settings(&t, "{\"webhook_url\": \"http://127.0.0.1:1/x\"}"), 0);
	assert_int_equal(tstickets_transition(&t, "INC0010001", "{\"state\": \"7\"}", NULL), 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(tstickets_stats(&t, &doc), 0);
		if (tsextrahop_int(&doc, "webhooks_failed", 0) >= 1)
			break;
		bson_destroy(&doc);
		bson_init(&doc);
		msleep(25);
	}
	assert_int_equal(tsextrahop_int(&doc, "webhooks_failed", 0), 1);
	bson_destroy(&doc);
	stop(&t);
	receiver_stop(&rv);
}

/* ---- the generic http flavour ---- */

#define HTTP_BODY(id) "{\"detection_id\": " #id ", \"summary\": \"ExtraHop Detection: " #id \
	": Port scan\", \"description\": \"d\", \"labels\": [\"sec.attack\", " \
	"\"extrahop-detection-" #id "\"], \"priority\": \"High\", \"assignee\": \"soc\", " \
	"\"risk_score\": 85, \"categories\": [\"sec.attack\"], \"type\": \"port_scan\", " \
	"\"url\": \"https://eda/extrahop/#/detections/detail/" #id "\", \"start_time\": " \
	"1765000000000, \"end_time\": 1765000060000}"

/* "sha256=<lower-case hex HMAC-SHA256 of body under secret>", computed here with OpenSSL
 * independently of the fake. */
static void
sign(const char *secret, const char *body, char *out, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t w;

	assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)body, strlen(body), mac, &n));
	w = (size_t)snprintf(out, len, "sha256=");
	for (unsigned int i = 0; i < n && w + 2 < len; i++, w += 2)
		snprintf(out + w, len - w, "%02x", mac[i]);
}

typedef struct http_call {
	const char *path;          /* NULL: /tickets */
	const char *content_type;  /* NULL: application/json; "": none */
	const char *authorization; /* NULL: none */
	const char *key;           /* NULL: no idempotency key */
	const char *key_header;    /* NULL: Idempotency-Key */
	const char *secret;        /* sign the body with it (NULL: no signature) */
	const char *signature;     /* or send this signature as is */
	const char *sig_header;    /* NULL: X-Ticketsync-Signature */
} http_call_t;

/* POST body to the http flavour with the headers c asks for; the status (0: no reply). */
static long
http_post(tstickets_t *t, const http_call_t *c, const char *body, bson_t *out)
{
	char ct[128], auth[256], key[400], sig[200], s[160];
	const char *h[6];
	size_t n = 0;
	long status;
	tstickets_response_t r;

	if (c->content_type == NULL || c->content_type[0] != '\0') {
		snprintf(ct, sizeof(ct), "Content-Type: %s",
		    c->content_type ? c->content_type : "application/json");
		h[n++] = ct;
	}
	if (c->authorization != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: %s", c->authorization);
		h[n++] = auth;
	}
	if (c->key != NULL) {
		snprintf(key, sizeof(key), "%s: %s", c->key_header ? c->key_header
		    : "Idempotency-Key", c->key);
		h[n++] = key;
	}
	if (c->secret != NULL || c->signature != NULL) {
		if (c->secret != NULL)
			sign(c->secret, body, s, sizeof(s));
		snprintf(sig, sizeof(sig), "%s: %s", c->sig_header ? c->sig_header
		    : "X-Ticketsync-Signature", c->secret ? s : c->signature);
		h[n++] = sig;
	}
	h[n] = NULL;
	tstickets_http(t, "POST", c->path ? c->path : "/tickets", h, body, &r);
	status = r.status;
	if (out != NULL)
		tsextrahop_response_json(&r, out);
	tsextrahop_response_free(&r);
	return status;
}

/* The reply is {"error": "<something containing want>"}. */
static void
assert_http_error(const bson_t *doc, const char *want)
{
	const char *m = tsextrahop_str(doc, "error");

	if (m == NULL || strstr(m, want) == NULL) {
		char *j = bson_as_relaxed_extended_json(doc, NULL);
		fail_msg("want {\"error\": \"...%s...\"}, got %s", want, j);
	}
}

static void
assert_stats(tstickets_t *t, int64_t creates, int64_t tickets, int64_t replays,
    int64_t duplicates)
{
	bson_t doc;

	assert_int_equal(tstickets_stats(t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "creates", -1), creates);
	assert_int_equal(tsextrahop_int(&doc, "tickets", -1), tickets);
	assert_int_equal(tsextrahop_int(&doc, "idempotent_replays", -1), replays);
	assert_int_equal(tsextrahop_int(&doc, "duplicates", -1), duplicates);
	bson_destroy(&doc);
}

static void
test_http_create_and_replay(void **state)
{
	tstickets_t t;
	tstickets_opts_t o = { .flavour = "http" };
	http_call_t c = { .key = "extrahop-detection-1001" };
	tstickets_response_t r;
	char v[64];
	bson_t doc;

	(void)state;
	start(&t, &o);
	assert_string_equal(t.flavour, "http");
	/* The first request with a key creates the ticket: 201. */
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1001), &doc), 201);
	assert_string_equal(tsextrahop_str(&doc, "id"), "T-1");
	assert_string_equal(tsextrahop_str(&doc, "status"), "open");
	assert_int_equal(tsextrahop_int(&doc, "detection_id", -1), 1001);
	bson_destroy(&doc);
	assert_stats(&t, 1, 1, 0, 0);
	/* Any repeat with that key: 200, the same ticket, nothing created. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(http_post(&t, &c, HTTP_BODY(1001), &doc), 200);
		assert_string_equal(tsextrahop_str(&doc, "id"), "T-1");
		assert_string_equal(tsextrahop_str(&doc, "status"), "open");
		assert_int_equal(tsextrahop_int(&doc, "detection_id", -1), 1001);
		bson_destroy(&doc);
	}
	assert_stats(&t, 1, 1, 2, 0);
	/* The control API shows the ticket with its key, detection and body. */
	assert_int_equal(tstickets_tickets(&t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "count", -1), 1);
	assert_string_equal(tsextrahop_str(&doc, "tickets.0.key"), "T-1");
	assert_string_equal(tsextrahop_str(&doc, "tickets.0.id"), "T-1");
	assert_int_equal(tsextrahop_int(&doc, "tickets.0.detection_id", -1), 1001);
	assert_string_equal(tsextrahop_str(&doc, "tickets.0.idempotency_key"),
	    "extrahop-detection-1001");
	assert_int_equal(tsextrahop_int(&doc, "tickets.0.replays", -1), 2);
	assert_string_equal(tsextrahop_str(&doc, "tickets.0.body.summary"),
	    "ExtraHop Detection: 1001: Port scan");
	assert_string_equal(tsextrahop_str(&doc, "tickets.0.body.labels.1"),
	    "extrahop-detection-1001");
	bson_destroy(&doc);
	assert_int_equal(tstickets_ticket(&t, "extrahop-detection-1001", &doc), 0);
	assert_string_equal(tsextrahop_str(&doc, "key"), "T-1");
	bson_destroy(&doc);
	/* Another key for the same detection makes a second ticket: a duplicate. */
	c.key = "other-key";
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1001), &doc), 201);
	assert_string_equal(tsextrahop_str(&doc, "id"), "T-2");
	bson_destroy(&doc);
	assert_stats(&t, 2, 2, 2, 1);

	/* No key: 400, nothing created. */
	c.key = NULL;
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1002), &doc), 400);
	assert_http_error(&doc, "Idempotency-Key");
	bson_destroy(&doc);
	c.key = "";
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1002), &doc), 400);
	bson_destroy(&doc);
	c.key = "has space";
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1002), &doc), 400);
	bson_destroy(&doc);
	/* Content-Type must be JSON (parameters allowed). */
	c.key = "k-1002";
	c.content_type = "text/plain";
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1002), &doc), 415);
	assert_http_error(&doc, "application/json");
	bson_destroy(&doc);
	c.content_type = "";
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1002), NULL), 415);
	/* Invalid JSON, not an object, or outside the documented body: 400 {"error"}. */
	c.content_type = "application/json; charset=utf-8";
	assert_int_equal(http_post(&t, &c, "{\"detection_id\": 1002,", &doc), 400);
	assert_http_error(&doc, "JSON");
	bson_destroy(&doc);
	assert_int_equal(http_post(&t, &c, "[" HTTP_BODY(1002) "]", &doc), 400);
	assert_http_error(&doc, "object");
	bson_destroy(&doc);
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1002) " {}", &doc), 400);
	bson_destroy(&doc);
	assert_int_equal(http_post(&t, &c, "{\"summary\": \"x\"}", &doc), 400);
	assert_http_error(&doc, "detection_id");
	bson_destroy(&doc);
	assert_int_equal(http_post(&t, &c, "{\"detection_id\": \"1002\", \"summary\": \"x\"}",
	    &doc), 400);
	assert_http_error(&doc, "detection_id");
	bson_destroy(&doc);
	assert_int_equal(http_post(&t, &c, "{\"detection_id\": 1002}", &doc), 400);
	assert_http_error(&doc, "summary");
	bson_destroy(&doc);
	assert_int_equal(http_post(&t, &c, "{\"detection_id\": 1002, \"summary\": \"x\", "
	    "\"labels\": \"a\"}", &doc), 400);
	assert_http_error(&doc, "labels");
	bson_destroy(&doc);
	assert_int_equal(http_post(&t, &c, "{\"detection_id\": 1002, \"summary\": \"x\", "
	    "\"summary\": \"y\"}", &doc), 400);
	assert_http_error(&doc, "more than once");
	bson_destroy(&doc);
	assert_stats(&t, 2, 2, 2, 1);
	/* Extra members ([create] extra_fields) are kept as sent. */
	assert_int_equal(http_post(&t, &c, "{\"detection_id\": 1002, \"summary\": \"x\", "
	    "\"team\": {\"queue\": \"soc\"}}", &doc), 201);
	bson_destroy(&doc);
	assert_int_equal(tstickets_ticket(&t, "T-3", &doc), 0);
	assert_string_equal(tsextrahop_str(&doc, "body.team.queue"), "soc");
	bson_destroy(&doc);

	/* Other methods 405 (Allow: POST), other paths 404, both {"error"}. */
	assert_int_equal(tstickets_http(&t, "GET", "/tickets", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 405);
	assert_true(tsextrahop_response_header(&r, "Allow", v, sizeof(v)));
	assert_string_equal(v, "POST");
	tsextrahop_response_json(&r, &doc);
	assert_non_null(tsextrahop_str(&doc, "error"));
	bson_destroy(&doc);
	tsextrahop_response_free(&r);
	c.path = "/tickets/";
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1003), &doc), 404);
	assert_non_null(tsextrahop_str(&doc, "error"));
	bson_destroy(&doc);
	c.path = "/rest/api/2/issue";
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1003), NULL), 404);
	/* No transitions or webhooks in this flavour. */
	assert_int_not_equal(tstickets_transition(&t, "T-1", "{\"status\": \"Done\"}", &doc), 0);
	bson_destroy(&doc);
	assert_true(strstr(t.error, "status 400") != NULL);
	assert_int_not_equal(tstickets_settings(&t, "{\"webhook_url\": \"http://127.0.0.1:1/\"}"),
	    0);
	/* Reset zeroes the counters, tickets stay; DELETE forgets them (and their keys). */
	assert_int_equal(tstickets_reset(&t), 0);
	assert_stats(&t, 0, 3, 0, 1);
	c.path = NULL;
	c.key = "extrahop-detection-1001";
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1001), NULL), 200);
	{
		char url[256];
		snprintf(url, sizeof(url), "%s/tickets", t.control_url);
		assert_int_equal(call(&t, "DELETE", url, NULL, NULL, NULL), 204);
	}
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1001), &doc), 201);
	assert_string_equal(tsextrahop_str(&doc, "id"), "T-4");
	bson_destroy(&doc);
	stop(&t);
}

static void
test_http_auth_and_signature(void **state)
{
	tstickets_t t;
	tstickets_opts_t o = { .flavour = "http", .token = "tok-9", .hmac_secret = "s3cr3t" };
	tstickets_opts_t custom = { .flavour = "http", .http_path = "/api/v2/create",
		.hmac_secret = "k", .signature_header = "X-Sig", .idempotency_header = "X-Key" };
	http_call_t c = { .key = "extrahop-detection-7", .secret = "s3cr3t" };
	const char *body = HTTP_BODY(7);
	char sig[200], upper[200], www[128];
	tstickets_response_t r;
	bson_t doc;

	(void)state;
	start(&t, &o);
	assert_int_equal(call(&t, "GET", "/_fake/health", NULL, NULL, &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "auth"), "bearer+hmac");
	bson_destroy(&doc);
	/* Bearer required: missing, wrong, another scheme -> 401 {"error"}. */
	assert_int_equal(http_post(&t, &c, body, &doc), 401);
	assert_http_error(&doc, "Bearer");
	bson_destroy(&doc);
	c.authorization = "Bearer tok-8";
	assert_int_equal(http_post(&t, &c, body, &doc), 401);
	assert_http_error(&doc, "token");
	bson_destroy(&doc);
	c.authorization = "Bearer tok-9x";
	assert_int_equal(http_post(&t, &c, body, NULL), 401);
	c.authorization = "Basic dG9rLTk6";
	assert_int_equal(http_post(&t, &c, body, NULL), 401);
	{
		static const char *const h[] = { JSON, "Idempotency-Key: k", NULL };
		assert_int_equal(tstickets_http(&t, "POST", "/tickets", h, body, &r), 0);
		assert_int_equal(r.status, 401);
		assert_true(tsextrahop_response_header(&r, "WWW-Authenticate", www, sizeof(www)));
		assert_true(strncmp(www, "Bearer", 6) == 0);
		tsextrahop_response_free(&r);
	}
	/* Signature required: missing, another secret, another body, upper-case hex,
	 * without the sha256= prefix -> 401. */
	c.authorization = "Bearer tok-9";
	c.secret = NULL;
	assert_int_equal(http_post(&t, &c, body, &doc), 401);
	assert_http_error(&doc, "X-Ticketsync-Signature");
	bson_destroy(&doc);
	c.secret = "wrong";
	assert_int_equal(http_post(&t, &c, body, &doc), 401);
	assert_http_error(&doc, "X-Ticketsync-Signature");
	bson_destroy(&doc);
	c.secret = NULL;
	sign("s3cr3t", HTTP_BODY(8), sig, sizeof(sig));
	c.signature = sig;
	assert_int_equal(http_post(&t, &c, body, NULL), 401);
	sign("s3cr3t", body, sig, sizeof(sig));
	snprintf(upper, sizeof(upper), "sha256=");
	for (size_t i = 7; sig[i] != '\0'; i++)
		upper[i] = (char)(sig[i] >= 'a' && sig[i] <= 'f' ? sig[i] - 32 : sig[i]);
	upper[strlen(sig)] = '\0';
	assert_string_not_equal(upper, sig);
	c.signature = upper;
	assert_int_equal(http_post(&t, &c, body, NULL), 401);
	c.signature = sig + 7;
	assert_int_equal(http_post(&t, &c, body, NULL), 401);
	assert_stats(&t, 0, 0, 0, 0);
	/* Token and signature right: created; the recorder kept the Authorization. */
	c.signature = sig;
	assert_int_equal(http_post(&t, &c, body, &doc), 201);
	assert_string_equal(tsextrahop_str(&doc, "id"), "T-1");
	bson_destroy(&doc);
	/* A replay is authenticated too: a bad signature does not reveal the ticket. */
	c.signature = upper;
	assert_int_equal(http_post(&t, &c, body, NULL), 401);
	c.signature = NULL;
	c.secret = "s3cr3t";
	assert_int_equal(http_post(&t, &c, body, NULL), 200);
	assert_stats(&t, 1, 1, 1, 0);
	stop(&t);

	/* Header names and the path are configurable; no token: no Authorization needed. */
	start(&t, &custom);
	c = (http_call_t){ .path = "/api/v2/create", .key = "extrahop-detection-7",
		.key_header = "X-Key", .secret = "k", .sig_header = "X-Sig" };
	assert_int_equal(http_post(&t, &c, body, &doc), 201);
	assert_string_equal(tsextrahop_str(&doc, "id"), "T-1");
	bson_destroy(&doc);
	c.sig_header = NULL; /* signed, but under X-Ticketsync-Signature */
	assert_int_equal(http_post(&t, &c, body, NULL), 401);
	c.sig_header = "X-Sig";
	c.key_header = NULL; /* the key under Idempotency-Key is not the configured one */
	assert_int_equal(http_post(&t, &c, body, &doc), 400);
	assert_http_error(&doc, "X-Key");
	bson_destroy(&doc);
	c.path = NULL;
	assert_int_equal(http_post(&t, &c, body, NULL), 404);
	stop(&t);
}

static void
test_http_id_path_commit_close_and_limits(void **state)
{
	tstickets_t t;
	tstickets_opts_t o = { .flavour = "http", .id_path = "result.ticket.id" };
	tstickets_opts_t rl = { .flavour = "http", .rate_limit = 1 };
	http_call_t c = { .key = "extrahop-detection-41" };
	tstickets_response_t r;
	const char *h[] = { JSON, "Idempotency-Key: extrahop-detection-42", NULL };
	char v[32];
	bson_t doc;

	(void)state;
	start(&t, &o);
	/* The id sits at the configured dotted path, not at top-level "id". */
	assert_int_equal(http_post(&t, &c, HTTP_BODY(41), &doc), 201);
	assert_string_equal(tsextrahop_str(&doc, "result.ticket.id"), "T-1");
	assert_null(tsextrahop_str(&doc, "id"));
	assert_string_equal(tsextrahop_str(&doc, "status"), "open");
	assert_int_equal(tsextrahop_int(&doc, "detection_id", -1), 41);
	bson_destroy(&doc);

	/* commit_close: the ticket is made, the reply lost; the repeat with the same key
	 * gets it with 200, and there is still one ticket for the detection. */
	assert_true(tstickets_set_fault(&t, "{\"kind\": \"commit_close\", \"count\": 1, "
	    "\"method\": \"POST\", \"path_prefix\": \"/tickets\"}") > 0);
	c.key = "extrahop-detection-42";
	assert_int_not_equal(tstickets_http(&t, "POST", "/tickets", h, HTTP_BODY(42), &r), 0);
	assert_int_equal(r.status, 0);
	tsextrahop_response_free(&r);
	assert_stats(&t, 2, 2, 0, 0);
	assert_int_equal(http_post(&t, &c, HTTP_BODY(42), &doc), 200);
	assert_string_equal(tsextrahop_str(&doc, "result.ticket.id"), "T-2");
	assert_int_equal(tsextrahop_int(&doc, "detection_id", -1), 42);
	bson_destroy(&doc);
	assert_stats(&t, 2, 2, 1, 0);
	assert_int_equal(tstickets_stats(&t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "faults.commit_close", -1), 1);
	assert_int_equal(tsextrahop_int(&doc, "replays_body_changed", -1), 0);
	bson_destroy(&doc);
	assert_int_equal(tstickets_requests(&t, 0, &doc), 0);
	assert_string_equal(tsextrahop_str(&doc, "requests.1.fault"), "commit_close");
	assert_int_equal(tsextrahop_int(&doc, "requests.2.status", -1), 200);
	bson_destroy(&doc);
	/* A repeat whose body differs still gets the ticket; the stats note it. */
	assert_int_equal(http_post(&t, &c, HTTP_BODY(43), NULL), 200);
	assert_int_equal(tstickets_stats(&t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "replays_body_changed", -1), 1);
	assert_int_equal(tsextrahop_int(&doc, "tickets", -1), 2);
	bson_destroy(&doc);
	/* Injected statuses come first, in this flavour's {"error"} shape. */
	assert_true(tstickets_set_fault(&t, "{\"kind\": \"status\", \"status\": 503, "
	    "\"retry_after\": 3, \"count\": 1}") > 0);
	assert_int_equal(tstickets_http(&t, "POST", "/tickets", h, HTTP_BODY(42), &r), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.retry_after, "3");
	tsextrahop_response_json(&r, &doc);
	assert_non_null(tsextrahop_str(&doc, "error"));
	bson_destroy(&doc);
	tsextrahop_response_free(&r);
	assert_int_equal(tstickets_clear_faults(&t), 0);
	stop(&t);

	/* Rate limit: 429 with Retry-After and {"error"}; nothing created. */
	start(&t, &rl);
	c.key = "a";
	assert_int_equal(http_post(&t, &c, HTTP_BODY(1), NULL), 201);
	assert_int_equal(tstickets_http(&t, "POST", "/tickets", h, HTTP_BODY(2), &r), 0);
	assert_int_equal(r.status, 429);
	assert_true(tsextrahop_response_header(&r, "Retry-After", v, sizeof(v)));
	assert_true(atoi(v) >= 1);
	tsextrahop_response_json(&r, &doc);
	assert_non_null(tsextrahop_str(&doc, "error"));
	bson_destroy(&doc);
	tsextrahop_response_free(&r);
	assert_int_equal(tstickets_stats(&t, &doc), 0);
	assert_int_equal(tsextrahop_int(&doc, "tickets", -1), 1);
	assert_int_equal(tsextrahop_int(&doc, "rate_limited", -1), 1);
	bson_destroy(&doc);
	stop(&t);
}

/* Options of the http flavour are usage errors elsewhere and validated (exit 2). */
static void
test_http_usage_errors(void **state)
{
	static const char *const bad[][6] = {
		{ "--flavour", "jira-cloud", "--token", "x", NULL },
		{ "--flavour", "servicenow", "--hmac-secret", "x", NULL },
		{ "--flavour", "http", "--pat", "x", NULL },
		{ "--flavour", "http", "--project", "SEC", NULL },
		{ "--flavour", "http", "--webhook-url", "http://127.0.0.1:1/", NULL },
		{ "--flavour", "http", "--id-path", "a..b", NULL },
		{ "--flavour", "http", "--id-path", "status.id", NULL },
		{ "--flavour", "http", "--http-path", "tickets", NULL },
		{ "--flavour", "http", "--signature-header", "X Sig", NULL },
		{ "--flavour", "http", "--token", "", NULL },
	};
	char bin[PATH_MAX];

	(void)state;
	snprintf(bin, sizeof(bin), "%s/fake_tickets", tsproc_bin_dir());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pid_t pid = fork();
		int status = 0;

		assert_true(pid >= 0);
		if (pid == 0) {
			const char *argv[8] = { bin };
			int fd = open("/dev/null", O_WRONLY);

			for (size_t k = 0; bad[i][k] != NULL; k++)
				argv[k + 1] = bad[i][k];
			dup2(fd, 1);
			dup2(fd, 2);
			execv(bin, (char *const *)argv);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 2)
			fail_msg("fake_tickets %s %s %s %s: wait status %d, want exit 2", bad[i][0],
			    bad[i][1], bad[i][2], bad[i][3], status);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_and_cloud_auth),
		cmocka_unit_test(test_dc_auth),
		cmocka_unit_test(test_jira_create_and_get),
		cmocka_unit_test(test_jira_create_errors),
		cmocka_unit_test(test_jira_cloud_search_and_index_delay),
		cmocka_unit_test(test_jira_dc_search_and_comments),
		cmocka_unit_test(test_snow_auth_and_oauth),
		cmocka_unit_test(test_snow_table_api_and_query_pitfall),
		cmocka_unit_test(test_rate_limit_429),
		cmocka_unit_test(test_faults_and_commit_close),
		cmocka_unit_test(test_transition_webhooks),
		cmocka_unit_test(test_http_create_and_replay),
		cmocka_unit_test(test_http_auth_and_signature),
		cmocka_unit_test(test_http_id_path_commit_close_and_limits),
		cmocka_unit_test(test_http_usage_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
