/*
 * ticketapi: the ticket systems' requests and replies, and exactly-once creation's
 * decision (look up first? does a miss prove anything?), as tables without a server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ticketsync/ticketapi.h"

static const ticketapi_target_t JIRA_CLOUD = { .kind = TICKETSPEC_JIRA, .jira_cloud = true };
static const ticketapi_target_t JIRA_DC = { .kind = TICKETSPEC_JIRA };
static const ticketapi_target_t SNOW = { .kind = TICKETSPEC_SERVICENOW };
static const ticketapi_target_t SNOW_T = { .kind = TICKETSPEC_SERVICENOW, .table = "sn_si_incident" };
static const ticketapi_target_t HTTP = { .kind = TICKETSPEC_HTTP, .id_path = "ticket.id" };

static bson_t *
json(const char *s)
{
	bson_error_t err;
	bson_t *b = bson_new_from_json((const uint8_t *)s, -1, &err);

	if (b == NULL)
		fail_msg("bad test JSON: %s", err.message);
	return b;
}

static void
test_requests(void **state)
{
	static const struct {
		const char *name;
		const ticketapi_target_t *t;
		bool lookup;
		const char *method, *path, *body; /* body NULL: none */
	} cases[] = {
		{ "jira create", &JIRA_CLOUD, false, "POST", "/rest/api/2/issue",
		    "{ \"fields\" : { \"summary\" : \"s\" } }" },
		{ "jira dc create", &JIRA_DC, false, "POST", "/rest/api/2/issue",
		    "{ \"fields\" : { \"summary\" : \"s\" } }" },
		{ "sn create", &SNOW, false, "POST",
		    "/api/now/table/incident?sysparm_fields=sys_id%2Cnumber%2Cstate%2Ccorrelation_id"
		    "%2Ccorrelation_display",
		    "{ \"fields\" : { \"summary\" : \"s\" } }" },
		{ "http create", &HTTP, false, "POST", "", "{ \"fields\" : { \"summary\" : \"s\" } }" },
		{ "jira cloud lookup", &JIRA_CLOUD, true, "POST", "/rest/api/3/search/jql",
		    "{ \"jql\" : \"labels = \\\"extrahop-detection-12\\\"\", \"fields\" : [ \"status\", "
		    "\"labels\" ], \"maxResults\" : 2 }" },
		{ "jira dc lookup", &JIRA_DC, true, "POST", "/rest/api/2/search",
		    "{ \"jql\" : \"labels = \\\"extrahop-detection-12\\\"\", \"fields\" : [ \"status\", "
		    "\"labels\" ], \"maxResults\" : 2 }" },
		{ "sn lookup", &SNOW_T, true, "GET",
		    "/api/now/table/sn_si_incident?sysparm_query=correlation_id%3D12%5Ecorrelation_display"
		    "%3DExtraHop&sysparm_fields=sys_id%2Cnumber%2Cstate%2Ccorrelation_id"
		    "%2Ccorrelation_display&sysparm_limit=2", NULL },
	};
	bson_t *desired = json("{\"detection_id\": {\"$numberLong\": \"12\"}, \"key\": "
	                       "\"extrahop-detection-12\", \"body\": {\"fields\": {\"summary\": \"s\"}}}");

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ticketapi_request_t r;
		bson_error_t err;
		bool ok = cases[i].lookup ? ticketapi_lookup_request(cases[i].t, desired, &r)
		                          : ticketapi_create_request(cases[i].t, desired, &r, &err);

		if (!ok)
			fail_msg("%s: refused", cases[i].name);
		assert_string_equal(r.method, cases[i].method);
		if (strcmp(r.path, cases[i].path) != 0)
			fail_msg("%s: path %s", cases[i].name, r.path);
		if ((cases[i].body == NULL) != (r.body == NULL) ||
		    (r.body != NULL && strcmp(r.body, cases[i].body) != 0))
			fail_msg("%s: body %s", cases[i].name, r.body ? r.body : "(none)");
		ticketapi_request_clear(&r);
	}
	{
		ticketapi_request_t r;
		bson_error_t err;
		bson_t *bad = json("{\"key\": \"k\", \"detection_id\": 1}");

		assert_false(ticketapi_lookup_request(&HTTP, desired, &r));
		assert_false(ticketapi_create_request(&JIRA_CLOUD, bad, &r, &err));
		assert_non_null(strstr(err.message, "no request body"));
		assert_true(ticketapi_check_request(&JIRA_DC, &r));
		assert_string_equal(r.path, "/rest/api/2/myself");
		ticketapi_request_clear(&r);
		assert_true(ticketapi_check_request(&SNOW, &r));
		assert_string_equal(r.path, "/api/now/table/incident?sysparm_limit=1&sysparm_fields=sys_id");
		ticketapi_request_clear(&r);
		assert_false(ticketapi_check_request(&HTTP, &r));
		bson_destroy(bad);
	}
	bson_destroy(desired);
}

static void
test_created_replies(void **state)
{
	static const struct {
		const char *name;
		const ticketapi_target_t *t;
		const char *body;
		const char *key, *ref, *status; /* key NULL: refused, with status as the message part */
	} cases[] = {
		{ "jira", &JIRA_CLOUD, "{\"id\":\"10000\",\"key\":\"SEC-24\",\"self\":\"x\"}", "SEC-24",
		    "10000", "" },
		{ "jira without key", &JIRA_CLOUD, "{\"id\":\"10000\"}", NULL, NULL, "has no key" },
		{ "jira empty key", &JIRA_CLOUD, "{\"key\":\"\"}", NULL, NULL, "has no key" },
		{ "html page", &JIRA_DC, "<html><body>Bad gateway</body></html>", NULL, NULL,
		    "not a JSON object (it starts \"<html>" },
		{ "truncated JSON", &JIRA_DC, "{\"id\":\"1\",\"key\":\"SE", NULL, NULL, "not a JSON object" },
		{ "empty", &JIRA_DC, "", NULL, NULL, "not a JSON object" },
		{ "array", &JIRA_DC, "[{\"key\":\"SEC-1\"}]", NULL, NULL, "not a JSON object" },
		{ "servicenow", &SNOW, "{\"result\":{\"sys_id\":\"9d385017c611228701d22104cc95c371\","
		    "\"number\":\"INC0010001\",\"state\":\"1\"}}", "INC0010001",
		    "9d385017c611228701d22104cc95c371", "1" },
		{ "servicenow without number", &SNOW, "{\"result\":{\"sys_id\":\"x\"}}", NULL, NULL,
		    "no result.number" },
		{ "servicenow not wrapped", &SNOW, "{\"number\":\"INC1\"}", NULL, NULL, "no result.number" },
		{ "http nested id", &HTTP, "{\"ticket\":{\"id\":\"T-9\"},\"status\":\"open\"}", "T-9", "",
		    "open" },
		{ "http numeric id", &HTTP, "{\"ticket\":{\"id\":77}}", "77", "", "" },
		{ "http without id", &HTTP, "{\"id\":\"T-9\"}", NULL, NULL, "has no ticket.id" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ticketapi_ticket_t t;
		bson_error_t err;
		bool ok = ticketapi_parse_created(cases[i].t, cases[i].body, strlen(cases[i].body), &t,
		    &err);

		if (cases[i].key == NULL) {
			if (ok)
				fail_msg("%s: accepted (key %s)", cases[i].name, t.key);
			if (strstr(err.message, cases[i].status) == NULL)
				fail_msg("%s: message \"%s\"", cases[i].name, err.message);
			assert_int_equal(err.code, TICKETAPI_ERR_REPLY);
			continue;
		}
		if (!ok)
			fail_msg("%s: %s", cases[i].name, err.message);
		assert_string_equal(t.key, cases[i].key);
		assert_string_equal(t.ref, cases[i].ref);
		assert_string_equal(t.status, cases[i].status);
	}
}

static void
test_lookup_replies(void **state)
{
	static const struct {
		const char *name;
		const ticketapi_target_t *t;
		const char *key, *body;
		int want;
		const char *found;
	} cases[] = {
		{ "jira found", &JIRA_CLOUD, "extrahop-detection-5",
		    "{\"issues\":[{\"id\":\"1\",\"key\":\"SEC-3\",\"fields\":{\"labels\":"
		    "[\"x\",\"extrahop-detection-5\"],\"status\":{\"name\":\"To Do\"}}}],\"isLast\":true}",
		    1, "SEC-3" },
		{ "jira none", &JIRA_CLOUD, "extrahop-detection-5", "{\"issues\":[],\"isLast\":true}", 0,
		    NULL },
		{ "jira: another's labels are not a match", &JIRA_DC, "extrahop-detection-5",
		    "{\"startAt\":0,\"total\":1,\"issues\":[{\"key\":\"SEC-4\",\"fields\":{\"labels\":"
		    "[\"extrahop-detection-50\"]}}]}", 0, NULL },
		{ "jira without labels listed: the search's word", &JIRA_DC, "extrahop-detection-5",
		    "{\"issues\":[{\"key\":\"SEC-4\"}]}", 1, "SEC-4" },
		{ "jira no list", &JIRA_CLOUD, "k", "{\"errorMessages\":[]}", -1, NULL },
		{ "sn found", &SNOW, "5",
		    "{\"result\":[{\"sys_id\":\"a\",\"number\":\"INC7\",\"correlation_id\":\"5\","
		    "\"correlation_display\":\"ExtraHop\"}]}", 1, "INC7" },
		{ "sn: another integration's incident with the same correlation_id", &SNOW, "5",
		    "{\"result\":[{\"sys_id\":\"a\",\"number\":\"INC7\",\"correlation_id\":\"5\","
		    "\"correlation_display\":\"QRadar\"}]}", 0, NULL },
		{ "sn: a query the instance ignored matched everything", &SNOW, "5",
		    "{\"result\":[{\"number\":\"INC1\",\"correlation_id\":\"\"},{\"number\":\"INC2\","
		    "\"correlation_id\":\"51\"}]}", 0, NULL },
		{ "sn none", &SNOW, "5", "{\"result\":[]}", 0, NULL },
		{ "sn html", &SNOW, "5", "<html>login</html>", -1, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ticketapi_ticket_t t;
		bson_error_t err;
		int rc = ticketapi_parse_lookup(cases[i].t, cases[i].body, strlen(cases[i].body),
		    cases[i].key, &t, &err);

		if (rc != cases[i].want)
			fail_msg("%s: %d, want %d", cases[i].name, rc, cases[i].want);
		if (rc == 1)
			assert_string_equal(t.key, cases[i].found);
	}
}

static void
test_error_messages(void **state)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "{\"errorMessages\":[],\"errors\":{\"assignee\":\"User 'x' cannot be assigned "
		  "issues.\"}}", "assignee: User 'x' cannot be assigned issues." },
		{ "{\"errorMessages\":[\"Issue does not exist\"],\"errors\":{}}", "Issue does not exist" },
		{ "{\"errorMessages\":[\"a\"],\"errors\":{\"project\":\"b\"}}", "a; project: b" },
		{ "{\"error\":{\"message\":\"User Not Authenticated\",\"detail\":\"Required to provide "
		  "Auth information\"},\"status\":\"failure\"}",
		    "User Not Authenticated; Required to provide Auth information" },
		{ "{\"message\":\"slow down\"}", "slow down" },
		{ "<html>\n<b>502</b></html>", "<html> <b>502</b></html>" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];

		ticketapi_error_message(cases[i].body, strlen(cases[i].body), out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
}

static void
test_rate_limit_reset(void **state)
{
	const int64_t now = INT64_C(1796000000000); /* 2026-11-30T00:53:20Z */

	(void)state;
	assert_int_equal(ticketapi_rate_limit_reset_ms("2026-11-30T00:53:25Z", now), 5000);
	assert_int_equal(ticketapi_rate_limit_reset_ms("2026-11-30T00:53:25.500Z", now), 5500);
	assert_int_equal(ticketapi_rate_limit_reset_ms("1796000010", now), 10000);
	assert_int_equal(ticketapi_rate_limit_reset_ms("2026-11-30T00:53:00Z", now), 0);
	assert_int_equal(ticketapi_rate_limit_reset_ms("30", now), -1);
	/* Found by fuzz_ticketapi: seconds * 1000 overflowed. */
	assert_int_equal(ticketapi_rate_limit_reset_ms("262026302026202630", now), -1);
	assert_int_equal(ticketapi_rate_limit_reset_ms("soon", now), -1);
	assert_int_equal(ticketapi_rate_limit_reset_ms("", now), -1);
	assert_int_equal(ticketapi_rate_limit_reset_ms(NULL, now), -1);
}

static void
test_exactly_once(void **state)
{
	static const struct {
		const char *name;
		ticketapi_history_t h;
		enum ticketapi_step step;
		int64_t proof_at;
	} cases[] = {
		{ "first attempt", { .can_lookup = true, .lag_ms = 30000 }, TICKETAPI_CREATE, 0 },
		{ "acknowledged already", { .acknowledged = true, .recheck_at_ms = 9, .can_lookup = true },
		    TICKETAPI_DONE, 9 },
		{ "after an ambiguous attempt", { .recheck_at_ms = 1000, .can_lookup = true, .lag_ms = 30000 },
		    TICKETAPI_LOOKUP, 1000 },
		{ "taken over from a crash", { .reclaimed_until_ms = 5000, .can_lookup = true,
		    .lag_ms = 30000 }, TICKETAPI_LOOKUP, 35000 },
		{ "both: the later", { .recheck_at_ms = 90000, .reclaimed_until_ms = 5000,
		    .can_lookup = true, .lag_ms = 30000 }, TICKETAPI_LOOKUP, 90000 },
		{ "http: the idempotency key instead", { .recheck_at_ms = 1000, .reclaimed_until_ms = 1,
		    .lag_ms = 30000 }, TICKETAPI_CREATE, 30001 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (ticketapi_first_step(&cases[i].h) != cases[i].step)
			fail_msg("%s: step %d", cases[i].name, (int)ticketapi_first_step(&cases[i].h));
		if (ticketapi_proof_at(&cases[i].h) != cases[i].proof_at)
			fail_msg("%s: proof at %lld", cases[i].name,
			    (long long)ticketapi_proof_at(&cases[i].h));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_created_replies),
		cmocka_unit_test(test_lookup_replies),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_rate_limit_reset),
		cmocka_unit_test(test_exactly_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
