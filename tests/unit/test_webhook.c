/* webhook: recorded-shape payloads (Jira Server and Cloud, ServiceNow as a business rule
 * and through the Table API, our generic shape) become the tickets they describe, with
 * every detection id source; every error path names what is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/statusmap.h"
#include "ticketsync/webhook.h"
#include "tsfile.h"

/* tests/fixtures/webhooks/<name>, read whole. */
static char *
fixture(const char *name, size_t *len)
{
	char rel[256];
	char *buf;

	snprintf(rel, sizeof(rel), "tests/fixtures/webhooks/%s", name);
	buf = tsfile_read_source(rel, len);
	if (buf == NULL)
		fail_msg("cannot read %s", rel);
	return buf;
}

/* Parse a fixture that must succeed. */
static void
parse_fixture(enum webhook_source src, const char *name, const webhook_opts_t *opts, ticket_t *t)
{
	size_t len;
	char *body = fixture(name, &len), why[256];
	enum webhook_result r = webhook_parse(src, body, len, opts, t, why, sizeof(why));

	if (r != WEBHOOK_OK)
		fail_msg("%s: %s: %s", name, webhook_result_name(r), why);
	free(body);
}

static void
expect_ids(const ticket_t *t, size_t n, ...)
{
	va_list ap;

	if (t->n_detection_ids != n)
		fail_msg("ticket %s: %zu detection ids, want %zu", t->id, t->n_detection_ids, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(t->detection_ids[i], va_arg(ap, int64_t));
	va_end(ap);
}

static void
expect_str(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else if (got == NULL)
		fail_msg("got null, want \"%s\"", want);
	else
		assert_string_equal(got, want);
}

/* What reconcile would make of the ticket with the shipped map. */
static void
expect_mapping(const ticket_t *t, enum fields_status st, enum fields_resolution res)
{
	statusmap_t *m = statusmap_new(true);
	enum fields_status got_st;
	enum fields_resolution got_res;

	assert_int_equal(statusmap_lookup_ticket(m, t->status, t->status_category, t->resolution,
	    &got_st, &got_res, NULL), STATUSMAP_MAPPED);
	assert_int_equal(got_st, st);
	assert_int_equal(got_res, res);
	statusmap_destroy(m);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(webhook_source_name(WEBHOOK_JIRA), "jira");
	assert_string_equal(webhook_source_name(WEBHOOK_SERVICENOW), "servicenow");
	assert_string_equal(webhook_source_name(WEBHOOK_GENERIC), "generic");
	assert_string_equal(webhook_source_tag(WEBHOOK_JIRA), "jira-webhook");
	assert_string_equal(webhook_source_tag(WEBHOOK_SERVICENOW), "servicenow-webhook");
	assert_string_equal(webhook_source_tag(WEBHOOK_GENERIC), "generic-webhook");
	assert_string_equal(webhook_result_name(WEBHOOK_OK), "ok");
	assert_string_equal(webhook_result_name(WEBHOOK_IGNORED), "ignored");
	assert_string_equal(webhook_result_name(WEBHOOK_MALFORMED), "malformed");
	assert_string_equal(webhook_result_name(WEBHOOK_INVALID), "invalid");
}

/* Jira Server / Data Center: assignee by login name, id from the summary prefix. */
static void
test_jira_server(void **state)
{
	ticket_t t;

	(void)state;
	parse_fixture(WEBHOOK_JIRA, "jira_server_issue_updated.json", NULL, &t);
	assert_string_equal(t.id, "SEC-42");
	assert_string_equal(t.status, "In Progress");
	expect_str(t.status_category, "indeterminate");
	expect_str(t.assignee, "escalations_team");
	expect_str(t.resolution, NULL);
	assert_int_equal(t.updated_at, INT64_C(1793524530250)); /* fields.updated, not timestamp */
	expect_str(t.source, "jira-webhook");
	expect_ids(&t, 1, INT64_C(4));
	expect_mapping(&t, FIELDS_STATUS_IN_PROGRESS, FIELDS_RESOLUTION_NULL);
	ticket_cleanup(&t);
}

/* Jira Cloud: no login names, so displayName; the three detection id sources. */
static void
test_jira_cloud(void **state)
{
	webhook_opts_t labels = { .jira_detection_field = "labels" };
	webhook_opts_t custom = { .jira_detection_field = "customfield_10042" };
	webhook_opts_t other_prefix = { .jira_detection_field = "labels",
		.jira_label_prefix = "eh-" };
	ticket_t t;

	(void)state;
	parse_fixture(WEBHOOK_JIRA, "jira_cloud_issue_updated.json", NULL, &t);
	assert_string_equal(t.id, "SOC-17");
	assert_string_equal(t.status, "Done");
	expect_str(t.status_category, "done");
	expect_str(t.assignee, "Jim Lee");
	expect_str(t.resolution, "Won't Do");
	assert_int_equal(t.updated_at, INT64_C(1793613600000));
	expect_ids(&t, 1, INT64_C(5));
	expect_mapping(&t, FIELDS_STATUS_CLOSED, FIELDS_RESOLUTION_NO_ACTION_TAKEN);
	ticket_cleanup(&t);

	parse_fixture(WEBHOOK_JIRA, "jira_cloud_issue_updated.json", &labels, &t);
	expect_ids(&t, 2, INT64_C(5), INT64_C(6));
	ticket_cleanup(&t);
	parse_fixture(WEBHOOK_JIRA, "jira_cloud_issue_updated.json", &custom, &t);
	expect_ids(&t, 3, INT64_C(5), INT64_C(6), INT64_C(7));
	ticket_cleanup(&t);
	/* no label carries the prefix: no ids (the intake keeps what it stored) */
	parse_fixture(WEBHOOK_JIRA, "jira_cloud_issue_updated.json", &other_prefix, &t);
	expect_ids(&t, 0);
	assert_null(t.detection_ids);
	ticket_cleanup(&t);
}

/* A workflow status the map does not know, decided by its category; unassigned. */
static void
test_jira_custom_status(void **state)
{
	webhook_opts_t custom = { .jira_detection_field = "customfield_10042" };
	webhook_opts_t labels = { .jira_detection_field = "labels" };
	ticket_t t;

	(void)state;
	parse_fixture(WEBHOOK_JIRA, "jira_cloud_custom_status.json", NULL, &t);
	assert_string_equal(t.id, "SOC-18");
	assert_string_equal(t.status, "Released to Prod");
	expect_str(t.status_category, "done");
	expect_str(t.assignee, NULL);
	expect_str(t.resolution, "Done");
	expect_ids(&t, 1, INT64_C(7));
	expect_mapping(&t, FIELDS_STATUS_CLOSED, FIELDS_RESOLUTION_ACTION_TAKEN);
	ticket_cleanup(&t);
	parse_fixture(WEBHOOK_JIRA, "jira_cloud_custom_status.json", &custom, &t);
	expect_ids(&t, 2, INT64_C(7), INT64_C(8));
	ticket_cleanup(&t);
	parse_fixture(WEBHOOK_JIRA, "jira_cloud_custom_status.json", &labels, &t);
	expect_ids(&t, 0);
	ticket_cleanup(&t);
}

static enum webhook_result
parse_str(enum webhook_source src, const char *json, const webhook_opts_t *opts, ticket_t *t,
    char *why, size_t whylen)
{
	return webhook_parse(src, json, strlen(json), opts, t, why, whylen);
}

static void
ok_str(enum webhook_source src, const char *json, const webhook_opts_t *opts, ticket_t *t)
{
	char why[256];
	enum webhook_result r = parse_str(src, json, opts, t, why, sizeof(why));

	if (r != WEBHOOK_OK)
		fail_msg("%s: %s: %s", json, webhook_result_name(r), why);
}

/* Other Jira events carry no ticket state; a payload without webhookEvent (Jira
 * Automation's "send web request" with the issue) is taken as the state. */
static void
test_jira_events_and_fallbacks(void **state)
{
	size_t len;
	char *body = fixture("jira_comment_created.json", &len), why[256];
	ticket_t t;

	(void)state;
	assert_int_equal(webhook_parse(WEBHOOK_JIRA, body, len, NULL, &t, why, sizeof(why)),
	    WEBHOOK_IGNORED);
	assert_non_null(strstr(why, "event \"comment_created\" carries no issue state"));
	assert_null(t.id);
	free(body);
	assert_int_equal(parse_str(WEBHOOK_JIRA, "{\"webhookEvent\": \"jira:issue_deleted\", \"issue\": {}}",
	    NULL, &t, why, sizeof(why)), WEBHOOK_IGNORED);

	/* no webhookEvent, no fields.updated: the event timestamp orders it */
	ok_str(WEBHOOK_JIRA, "{\"timestamp\": 1793524530412, \"issue\": {\"key\": \"SEC-1\", "
	    "\"fields\": {\"summary\": \"  extrahop detection:12\", \"status\": {\"name\": \"To Do\"}}}}",
	    NULL, &t);
	assert_int_equal(t.updated_at, INT64_C(1793524530412));
	expect_ids(&t, 1, INT64_C(12));
	expect_str(t.status_category, NULL);
	expect_str(t.assignee, NULL);
	ticket_cleanup(&t);
	/* summaries that do not start with the prefix name no detection */
	ok_str(WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-2\", \"fields\": {"
	    "\"summary\": \"Re: ExtraHop Detection: 12: x\", \"status\": {\"name\": \"To Do\"}, "
	    "\"updated\": \"2026-11-01T09:15:30+01:00\", \"resolution\": {\"name\": \"\"}}}}", NULL, &t);
	expect_ids(&t, 0);
	expect_str(t.resolution, NULL);
	assert_int_equal(t.updated_at, INT64_C(1793524530000) - 3600000);
	ticket_cleanup(&t);
	/* the id may end the summary */
	ok_str(WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-3\", \"fields\": {\"summary\": "
	    "\"ExtraHop Detection: 9007199254740992\", \"status\": {\"name\": \"To Do\"}, "
	    "\"updated\": 1793524530000}}}", NULL, &t);
	expect_ids(&t, 1, INT64_C(9007199254740992));
	ticket_cleanup(&t);
	/* Cloud user without displayName (privacy): the account id; a select-list custom field */
	{
		webhook_opts_t custom = { .jira_detection_field = "customfield_1" };

		ok_str(WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-4\", \"fields\": {\"status\": {\"name\": "
		    "\"To Do\"}, \"updated\": 7, \"assignee\": {\"accountId\": \"5b10ac8d\"}, "
		    "\"customfield_1\": {\"self\": \"x\", \"value\": \"31,32\", \"id\": \"10020\"}}}}", &custom,
		    &t);
		expect_str(t.assignee, "5b10ac8d");
		expect_ids(&t, 2, INT64_C(31), INT64_C(32));
		ticket_cleanup(&t);
		/* an absent or null custom field names none */
		ok_str(WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-5\", \"fields\": {\"status\": {\"name\": "
		    "\"To Do\"}, \"updated\": 7, \"customfield_1\": null}}}", &custom, &t);
		expect_ids(&t, 0);
		ticket_cleanup(&t);
	}
}

/* A business rule posting the incident (references as value/display_value objects). */
static void
test_servicenow_incident(void **state)
{
	ticket_t t;

	(void)state;
	parse_fixture(WEBHOOK_SERVICENOW, "servicenow_incident.json", NULL, &t);
	assert_string_equal(t.id, "INC0010023");
	assert_string_equal(t.status, "6");
	expect_str(t.status_category, NULL);
	expect_str(t.resolution, "Solution provided");
	expect_str(t.assignee, "Beth Anglin");
	assert_int_equal(t.updated_at, INT64_C(1793715605000));
	expect_str(t.source, "servicenow-webhook");
	expect_ids(&t, 1, INT64_C(9));
	expect_mapping(&t, FIELDS_STATUS_CLOSED, FIELDS_RESOLUTION_ACTION_TAKEN);
	ticket_cleanup(&t);
}

/* The Table API with sysparm_display_value=all: every field an object, wrapped in
 * "result"; values (codes, UTC times) win over display values, names the other way. */
static void
test_servicenow_table_api(void **state)
{
	webhook_opts_t custom = { .servicenow_detection_field = "u_extrahop_detection_id" };
	ticket_t t;

	(void)state;
	parse_fixture(WEBHOOK_SERVICENOW, "servicenow_table_api_display_all.json", NULL, &t);
	assert_string_equal(t.id, "INC0010024");
	assert_string_equal(t.status, "2");
	expect_str(t.resolution, NULL);
	expect_str(t.assignee, "Fred Luddy");
	assert_int_equal(t.updated_at, INT64_C(1793715605000));
	expect_ids(&t, 2, INT64_C(10), INT64_C(11));
	expect_mapping(&t, FIELDS_STATUS_IN_PROGRESS, FIELDS_RESOLUTION_NULL);
	ticket_cleanup(&t);
	parse_fixture(WEBHOOK_SERVICENOW, "servicenow_table_api_display_all.json", &custom, &t);
	expect_ids(&t, 1, INT64_C(12));
	ticket_cleanup(&t);

	/* numbers as numbers, epoch ms, blanks for "unassigned", no detection field */
	ok_str(WEBHOOK_SERVICENOW, "{\"number\": \"INC1\", \"state\": 7, \"close_code\": \"\", "
	    "\"assigned_to\": \"\", \"sys_updated_on\": 1793715605000}", NULL, &t);
	assert_string_equal(t.status, "7");
	expect_str(t.resolution, NULL);
	expect_str(t.assignee, NULL);
	expect_ids(&t, 0);
	ticket_cleanup(&t);
	/* a reference whose display value is blank falls back to its value */
	ok_str(WEBHOOK_SERVICENOW, "{\"number\": \"INC2\", \"state\": \"1\", \"assigned_to\": "
	    "{\"display_value\": \"\", \"value\": \"beth.anglin\"}, \"sys_updated_on\": "
	    "\"2026-11-03 14:20:05\", \"correlation_id\": 44}", NULL, &t);
	expect_str(t.assignee, "beth.anglin");
	expect_ids(&t, 1, INT64_C(44));
	ticket_cleanup(&t);
}

static void
test_generic(void **state)
{
	ticket_t t;

	(void)state;
	parse_fixture(WEBHOOK_GENERIC, "generic.json", NULL, &t);
	assert_string_equal(t.id, "OPS-7");
	assert_string_equal(t.status, "Waiting for Vendor");
	expect_str(t.status_category, NULL);
	expect_str(t.assignee, "ops-oncall");
	expect_str(t.resolution, NULL);
	assert_int_equal(t.updated_at, INT64_C(1793779200000));
	expect_str(t.source, "generic-webhook");
	expect_ids(&t, 2, INT64_C(12), INT64_C(13));
	ticket_cleanup(&t);

	/* ids as a list string, duplicates dropped; epoch ms; absent fields are null */
	ok_str(WEBHOOK_GENERIC, "{\"ticket_id\": \"T-1\", \"detection_ids\": \"3, 1,,3\", "
	    "\"status\": \"Done\", \"updated_at\": 1793779200000}", NULL, &t);
	expect_ids(&t, 2, INT64_C(1), INT64_C(3));
	expect_str(t.assignee, NULL);
	expect_str(t.resolution, NULL);
	ticket_cleanup(&t);
	/* Extended JSON date, one id as a number, no ids at all */
	ok_str(WEBHOOK_GENERIC, "{\"ticket_id\": \"T-2\", \"detection_ids\": 8, \"status\": \"new\", "
	    "\"updated_at\": {\"$date\": \"2026-11-04T08:00:00Z\"}}", NULL, &t);
	assert_int_equal(t.updated_at, INT64_C(1793779200000));
	expect_ids(&t, 1, INT64_C(8));
	ticket_cleanup(&t);
	ok_str(WEBHOOK_GENERIC, " \r\n{\"ticket_id\": \"T-3\", \"status\": \"new\", \"status_category\": "
	    "\"new\", \"updated_at\": \"2026-11-04 08:00:00.5\"}\n", NULL, &t);
	expect_ids(&t, 0);
	expect_str(t.status_category, "new");
	assert_int_equal(t.updated_at, INT64_C(1793779200500));
	ticket_cleanup(&t);
}

struct bad_case {
	enum webhook_source src;
	const char *body;
	enum webhook_result want;
	const char *needle;
	const char *jira_field;
};

/* Every rejection says what is wrong, and leaves nothing to free (ASan checks). */
static void
test_errors(void **state)
{
	static const struct bad_case cases[] = {
		/* not a JSON object: 400 */
		{ WEBHOOK_GENERIC, "", WEBHOOK_MALFORMED, "the body is empty", NULL },
		{ WEBHOOK_JIRA, "  \n ", WEBHOOK_MALFORMED, "not a JSON object", NULL },
		{ WEBHOOK_JIRA, "[{\"issue\": {}}]", WEBHOOK_MALFORMED, "not a JSON object", NULL },
		{ WEBHOOK_SERVICENOW, "\"INC1\"", WEBHOOK_MALFORMED, "not a JSON object", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": ", WEBHOOK_MALFORMED, "not valid JSON", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {}} trailing", WEBHOOK_MALFORMED, "not valid JSON", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"\xff\"}", WEBHOOK_MALFORMED, "not valid UTF-8", NULL },
		{ WEBHOOK_GENERIC, "{\"updated_at\": 1e999}", WEBHOOK_MALFORMED, "out of range", NULL },
		/* Jira: not an issue event, or not a usable issue: 422 */
		{ WEBHOOK_JIRA, "{\"webhookEvent\": 3}", WEBHOOK_INVALID, "webhookEvent must be a string", NULL },
		{ WEBHOOK_JIRA, "{\"webhookEvent\": \"jira:issue_updated\"}", WEBHOOK_INVALID,
		    "issue is missing", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": \"SEC-1\"}", WEBHOOK_INVALID, "issue is missing or not an object",
		    NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-1\"}}", WEBHOOK_INVALID, "issue.fields is missing",
		    NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"fields\": {}}}", WEBHOOK_INVALID, "issue.key is missing", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": \"\", \"fields\": {}}}", WEBHOOK_INVALID,
		    "issue.key is empty", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": null, \"fields\": {}}}", WEBHOOK_INVALID,
		    "issue.key is null", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": [1], \"fields\": {}}}", WEBHOOK_INVALID,
		    "issue.key must be a string or null, got array", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-1\", \"fields\": {}}}", WEBHOOK_INVALID,
		    "issue.fields.status.name is missing", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": {\"name\": true}}}}",
		    WEBHOOK_INVALID, "issue.fields.status.name must be a string or null, got bool", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": {\"name\": \"x\", "
		    "\"statusCategory\": {\"key\": {}}}}}}", WEBHOOK_INVALID,
		    "issue.fields.status.statusCategory.key is an object without value", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": {\"name\": \"x\"}, "
		    "\"assignee\": \"sally\"}}}", WEBHOOK_INVALID,
		    "issue.fields.assignee must be an object or null, got string", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": {\"name\": \"x\"}, "
		    "\"assignee\": {\"active\": true}}}}", WEBHOOK_INVALID,
		    "issue.fields.assignee has no name, displayName or accountId", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": {\"name\": \"x\"}, "
		    "\"resolution\": \"Fixed\"}}}", WEBHOOK_INVALID,
		    "issue.fields.resolution must be an object or null, got string", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": {\"name\": \"x\"}}}}",
		    WEBHOOK_INVALID, "issue.fields.updated and timestamp are both missing", NULL },
		{ WEBHOOK_JIRA, "{\"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": {\"name\": \"x\"}, "
		    "\"updated\": \"yesterday\"}}}", WEBHOOK_INVALID,
		    "issue.fields.updated must be an ISO-8601 time or epoch ms, got \"yesterday\"", NULL },
		{ WEBHOOK_JIRA, "{\"timestamp\": -4, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}}}}", WEBHOOK_INVALID, "timestamp (epoch ms)", NULL },
		{ WEBHOOK_JIRA, "{\"timestamp\": 0, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}}}}", WEBHOOK_INVALID, "timestamp is out of range", NULL },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"summary\": \"ExtraHop Detection: abc: Port scan\"}}}", WEBHOOK_INVALID,
		    "issue.fields.summary starts with \"ExtraHop Detection:\" but no detection id", NULL },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"summary\": \"ExtraHop Detection: 0: x\"}}}", WEBHOOK_INVALID,
		    "no detection id", NULL },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"summary\": \"ExtraHop Detection: 9007199254740993: x\"}}}",
		    WEBHOOK_INVALID, "no detection id", NULL },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"summary\": \"ExtraHop Detection: 12x: x\"}}}", WEBHOOK_INVALID,
		    "no detection id", NULL },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"labels\": [\"sec.attack\", \"extrahop-detection-x1\"]}}}",
		    WEBHOOK_INVALID, "\"extrahop-detection-x1\" has the prefix \"extrahop-detection-\" but no "
		    "detection id", "labels" },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"labels\": \"extrahop-detection-1\"}}}", WEBHOOK_INVALID,
		    "issue.fields.labels must be an array, got string", "labels" },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"customfield_1\": \"12, x\"}}}", WEBHOOK_INVALID,
		    "issue.fields.customfield_1 must hold detection ids (decimal 1 to 2^53, comma-separated), "
		    "got \" x\"", "customfield_1" },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"customfield_1\": 1.5}}}", WEBHOOK_INVALID,
		    "issue.fields.customfield_1: a detection id", "customfield_1" },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"customfield_1\": [[1]]}}}", WEBHOOK_INVALID,
		    "must be a list of detection ids, got a nested array", "customfield_1" },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"customfield_1\": {\"id\": \"10020\"}}}}", WEBHOOK_INVALID,
		    "must hold detection ids (a number, \"1234, 1235\" or a list), got object",
		    "customfield_1" },
		{ WEBHOOK_JIRA, "{\"timestamp\": 5, \"issue\": {\"key\": \"SEC-1\", \"fields\": {\"status\": "
		    "{\"name\": \"x\"}, \"customfield_1\": true}}}", WEBHOOK_INVALID, "got bool",
		    "customfield_1" },
		/* ServiceNow */
		{ WEBHOOK_SERVICENOW, "{\"state\": \"2\", \"sys_updated_on\": \"2026-11-03 14:20:05\"}",
		    WEBHOOK_INVALID, "number is missing", NULL },
		{ WEBHOOK_SERVICENOW, "{\"result\": {\"state\": \"2\"}}", WEBHOOK_INVALID, "number is missing",
		    NULL },
		{ WEBHOOK_SERVICENOW, "{\"number\": \"INC1\", \"sys_updated_on\": \"2026-11-03 14:20:05\"}",
		    WEBHOOK_INVALID, "state is missing", NULL },
		{ WEBHOOK_SERVICENOW, "{\"number\": \"INC1\", \"state\": {\"link\": \"x\"}}", WEBHOOK_INVALID,
		    "state is an object without value or display_value", NULL },
		{ WEBHOOK_SERVICENOW, "{\"number\": \"INC1\", \"state\": {\"value\": \"\"}}", WEBHOOK_INVALID,
		    "state is empty", NULL },
		{ WEBHOOK_SERVICENOW, "{\"number\": \"INC1\", \"state\": \"2\"}", WEBHOOK_INVALID,
		    "sys_updated_on is missing", NULL },
		{ WEBHOOK_SERVICENOW, "{\"number\": \"INC1\", \"state\": \"2\", \"sys_updated_on\": "
		    "\"03/11/2026 14:20\"}", WEBHOOK_INVALID,
		    "sys_updated_on must be an ISO-8601 time or epoch ms, got \"03/11/2026 14:20\"", NULL },
		{ WEBHOOK_SERVICENOW, "{\"number\": \"INC1\", \"state\": \"2\", \"sys_updated_on\": "
		    "{\"display_value\": \"x\"}}", WEBHOOK_INVALID, "sys_updated_on is an object without a value",
		    NULL },
		{ WEBHOOK_SERVICENOW, "{\"number\": \"INC1\", \"state\": \"2\", \"assigned_to\": 5.5, "
		    "\"sys_updated_on\": \"2026-11-03 14:20:05\"}", WEBHOOK_INVALID,
		    "assigned_to must be a string or null, got double", NULL },
		{ WEBHOOK_SERVICENOW, "{\"number\": \"INC1\", \"state\": \"2\", \"correlation_id\": "
		    "\"SNOW-EVT-7\", \"sys_updated_on\": \"2026-11-03 14:20:05\"}", WEBHOOK_INVALID,
		    "correlation_id must hold detection ids", NULL },
		/* generic */
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"status\": \"new\", \"assigne\": \"x\", "
		    "\"updated_at\": 5}", WEBHOOK_INVALID, "unknown key \"assigne\"", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": 7, \"status\": \"new\", \"updated_at\": 5}", WEBHOOK_INVALID,
		    "ticket_id must be a string, got int32", NULL },
		{ WEBHOOK_GENERIC, "{\"status\": \"new\", \"updated_at\": 5}", WEBHOOK_INVALID,
		    "ticket_id is missing", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"A\\u0000B\", \"status\": \"new\", \"updated_at\": 5}",
		    WEBHOOK_INVALID, "ticket_id is not valid UTF-8 (or holds a NUL)", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"updated_at\": 5}", WEBHOOK_INVALID,
		    "status is missing", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"status\": null, \"updated_at\": 5}", WEBHOOK_INVALID,
		    "status is null", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"status\": \"new\"}", WEBHOOK_INVALID,
		    "updated_at is missing", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"status\": \"new\", \"updated_at\": null}",
		    WEBHOOK_INVALID, "updated_at is missing", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"status\": \"new\", \"updated_at\": true}",
		    WEBHOOK_INVALID, "updated_at must be an ISO-8601 time or epoch ms, got bool", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"status\": \"new\", \"updated_at\": "
		    "{\"$date\": -5}}", WEBHOOK_INVALID, "updated_at is out of range", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"status\": \"new\", \"updated_at\": 5, "
		    "\"detection_ids\": [0]}", WEBHOOK_INVALID, "detection_ids: a detection id", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"status\": \"new\", \"updated_at\": 5, "
		    "\"detection_ids\": [\"12\\u00001\"]}", WEBHOOK_INVALID, "detection_ids holds a NUL byte",
		    NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"status\": \"new\", \"updated_at\": 5, "
		    "\"detection_ids\": [{\"a\": 1}]}", WEBHOOK_INVALID, "got a nested object", NULL },
		{ WEBHOOK_GENERIC, "{\"ticket_id\": \"T\", \"status\": \"new\", \"updated_at\": 5, "
		    "\"detection_ids\": \"12345678901234567\"}", WEBHOOK_INVALID, "must hold detection ids",
		    NULL },
	};
	char why[512];
	ticket_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		webhook_opts_t opts = { .jira_detection_field = c->jira_field };
		enum webhook_result r;

		memset(why, 0, sizeof(why));
		r = parse_str(c->src, c->body, &opts, &t, why, sizeof(why));
		if (r != c->want || strstr(why, c->needle) == NULL)
			fail_msg("case %zu (%s): got %s \"%s\", want %s with \"%s\"", i, c->body,
			    webhook_result_name(r), why, webhook_result_name(c->want), c->needle);
		assert_null(t.id);
		assert_null(t.detection_ids);
		assert_null(t.status);
		assert_null(t.source);
	}
}

/* Bounds: the ticket parser's, so a stored webhook ticket is always readable. */
static void
test_bounds(void **state)
{
	static char body[64 * 1024];
	char big[300];
	size_t n;
	ticket_t t;
	char why[256];

	(void)state;
	memset(big, 'k', sizeof(big));
	snprintf(body, sizeof(body), "{\"ticket_id\": \"%.*s\", \"status\": \"new\", \"updated_at\": 5}",
	    FIELDS_TICKET_ID_MAX, big);
	ok_str(WEBHOOK_GENERIC, body, NULL, &t);
	ticket_cleanup(&t);
	snprintf(body, sizeof(body), "{\"ticket_id\": \"%.*s\", \"status\": \"new\", \"updated_at\": 5}",
	    FIELDS_TICKET_ID_MAX + 1, big);
	assert_int_equal(parse_str(WEBHOOK_GENERIC, body, NULL, &t, why, sizeof(why)), WEBHOOK_INVALID);
	assert_non_null(strstr(why, "ticket_id is longer than 128 bytes (129)"));
	snprintf(body, sizeof(body), "{\"ticket_id\": \"T\", \"status\": \"%.*s\", \"updated_at\": 5}",
	    STATUSMAP_NAME_MAX + 1, big);
	assert_int_equal(parse_str(WEBHOOK_GENERIC, body, NULL, &t, why, sizeof(why)), WEBHOOK_INVALID);
	assert_non_null(strstr(why, "status is longer than 128 bytes"));
	snprintf(body, sizeof(body), "{\"ticket_id\": \"T\", \"status\": \"x\", \"assignee\": \"%.*s\", "
	    "\"updated_at\": 5}", FIELDS_ASSIGNEE_MAX + 1, big);
	assert_int_equal(parse_str(WEBHOOK_GENERIC, body, NULL, &t, why, sizeof(why)), WEBHOOK_INVALID);
	assert_non_null(strstr(why, "assignee is longer than 256 bytes"));
	snprintf(body, sizeof(body), "{\"ticket_id\": \"T\", \"status\": \"x\", \"resolution\": \"%.*s\", "
	    "\"updated_at\": 5}", STATUSMAP_NAME_MAX + 1, big);
	assert_int_equal(parse_str(WEBHOOK_GENERIC, body, NULL, &t, why, sizeof(why)), WEBHOOK_INVALID);
	assert_non_null(strstr(why, "resolution is longer than 128 bytes"));

	/* TICKET_DETECTION_IDS_MAX ids are fine, one more is refused */
	for (int extra = 0; extra <= 1; extra++) {
		n = (size_t)snprintf(body, sizeof(body),
		    "{\"ticket_id\": \"T\", \"status\": \"x\", \"updated_at\": 5, \"detection_ids\": \"");
		for (int i = 1; i <= TICKET_DETECTION_IDS_MAX + extra; i++)
			n += (size_t)snprintf(body + n, sizeof(body) - n, "%s%d", i > 1 ? "," : "", i);
		snprintf(body + n, sizeof(body) - n, "\"}");
		if (extra == 0) {
			ok_str(WEBHOOK_GENERIC, body, NULL, &t);
			assert_int_equal(t.n_detection_ids, TICKET_DETECTION_IDS_MAX);
			assert_int_equal(t.detection_ids[TICKET_DETECTION_IDS_MAX - 1], TICKET_DETECTION_IDS_MAX);
			ticket_cleanup(&t);
		} else {
			assert_int_equal(parse_str(WEBHOOK_GENERIC, body, NULL, &t, why, sizeof(why)),
			    WEBHOOK_INVALID);
			assert_non_null(strstr(why, "more than 10000 detection ids"));
		}
	}
	/* a parsed document (no JSON step), and a NULL opts / zero-length why */
	{
		bson_t *doc = BCON_NEW("ticket_id", BCON_UTF8("B-1"), "status", BCON_UTF8("new"),
		    "updated_at", BCON_DATE_TIME(9), "detection_ids", "[", BCON_INT64(2), BCON_INT32(1), "]");

		assert_int_equal(webhook_parse_bson(WEBHOOK_GENERIC, doc, NULL, &t, why, 0), WEBHOOK_OK);
		expect_ids(&t, 2, INT64_C(1), INT64_C(2));
		assert_int_equal(t.updated_at, 9);
		ticket_cleanup(&t);
		bson_destroy(doc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_jira_server),
		cmocka_unit_test(test_jira_cloud),
		cmocka_unit_test(test_jira_custom_status),
		cmocka_unit_test(test_jira_events_and_fallbacks),
		cmocka_unit_test(test_servicenow_incident),
		cmocka_unit_test(test_servicenow_table_api),
		cmocka_unit_test(test_generic),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
