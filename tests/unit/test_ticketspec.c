/*
 * ticketspec: which detections get a ticket and what it says, as tables: the
 * options refused (each naming its key), qualifying, and the rendered creation for
 * Jira Cloud, Data Center, ServiceNow and the HTTP target.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ticketsync/detection.h"
#include "ticketsync/ticketspec.h"

/* A detection document as the trigger writes it. */
static const char *const DOC =
    "{\"_id\": 4, \"title\": \"Suspicious LDAP Query\", \"description\": \"A host ran "
    "**many** queries.\", \"type\": \"ldap_recon\", \"categories\": [\"sec.recon\", "
    "\"sec attack\"], \"risk_score\": 72, \"start_time\": 1796000000000, \"end_time\": "
    "1796000060000, \"update_time\": 1796000060000, \"ticket_id\": null, \"status\": null, "
    "\"assignee\": null, \"resolution\": null, \"participants\": [{\"role\": \"offender\", "
    "\"hostname\": \"ws-12\"}, {\"role\": \"victim\", \"ipaddr\": \"10.0.0.5\"}], "
    "\"mitre_tactics\": [{\"id\": \"TA0007\", \"name\": \"Discovery\"}], "
    "\"mitre_techniques\": [{\"id\": \"T1087\", \"name\": \"Account Discovery\"}]}";

static bson_t *
doc_from(const char *json)
{
	bson_error_t err;
	bson_t *b = bson_new_from_json((const uint8_t *)json, -1, &err);

	if (b == NULL)
		fail_msg("bad test JSON: %s", err.message);
	return b;
}

static ticketspec_opts_t
jira_opts(void)
{
	return (ticketspec_opts_t){
		.target = TICKETSPEC_JIRA,
		.jira_cloud = true,
		.assignee = "5b10a2844c20165700ede21g",
		.jira_project = "SEC",
		.extrahop_url = "https://eh.example",
	};
}

static void
test_refused_options(void **state)
{
	static const struct {
		const char *name;
		const char *field;
		const char *value;
		const char *want; /* in the message */
	} cases[] = {
		{ "unknown placeholder", "summary", "{id} {nope}", "[create] summary: unknown placeholder \"{nope}\"" },
		{ "lone brace", "description", "a } b", "[create] description: a lone '}'" },
		{ "open brace", "labels", "{id", "[create] labels: unknown placeholder" },
		{ "empty summary", "summary", "", "[create] summary: must not be empty" },
		{ "band without name", "priority_bands", "80:", "[create] priority_bands: expected bands" },
		{ "band over 99", "priority_bands", "100:High", "[create] priority_bands" },
		{ "band twice", "priority_bands", "50:High,50:Low", "the risk score 50 starts two bands" },
		{ "band not a number", "priority_bands", "x:High", "[create] priority_bands" },
		{ "extra not JSON", "extra_fields", "{nope", "[create] extra_fields: expected a JSON object" },
		{ "extra an array", "extra_fields", "[1]", "[create] extra_fields" },
		{ "sn bands", "sn_urgency_bands", "9", "[servicenow] urgency_bands" },
		{ "jira labels from extra", "extra_fields", "{\"labels\": [\"x\"]}",
		    "[create] extra_fields: labels come from [create] labels" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ticketspec_opts_t o = jira_opts();
		bson_error_t err;
		ticketspec_t *s;

		if (strcmp(cases[i].field, "summary") == 0)
			o.summary = cases[i].value;
		else if (strcmp(cases[i].field, "description") == 0)
			o.description = cases[i].value;
		else if (strcmp(cases[i].field, "labels") == 0)
			o.labels = cases[i].value;
		else if (strcmp(cases[i].field, "priority_bands") == 0)
			o.priority_bands = cases[i].value;
		else if (strcmp(cases[i].field, "extra_fields") == 0)
			o.extra_fields = cases[i].value;
		else
			o.sn_urgency_bands = cases[i].value;
		s = ticketspec_new(&o, &err);
		if (s != NULL)
			fail_msg("%s: accepted", cases[i].name);
		if (strstr(err.message, cases[i].want) == NULL)
			fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].name, err.message, cases[i].want);
	}
	{
		ticketspec_opts_t o = jira_opts();
		bson_error_t err;

		o.jira_project = NULL;
		assert_null(ticketspec_new(&o, &err));
		assert_non_null(strstr(err.message, "[jira] project"));
	}
}

static void
test_qualify_table(void **state)
{
	static const struct {
		const char *name;
		int64_t risk_min;
		const char *categories, *include, *exclude;
		enum ticketspec_user_created user;
		const char *patch; /* JSON merged over DOC */
		bool has_ticket;
		int64_t start;
		enum ticketspec_verdict want;
	} cases[] = {
		{ "defaults", 0, NULL, NULL, NULL, TICKETSPEC_USER_ANY, NULL, false, 0, TICKETSPEC_CREATE },
		{ "a ticket lists it", 0, NULL, NULL, NULL, TICKETSPEC_USER_ANY, NULL, true, 0,
		    TICKETSPEC_HAS_TICKET },
		{ "ExtraHop shows a ticket id", 0, NULL, NULL, NULL, TICKETSPEC_USER_ANY,
		    "{\"ticket_id\": \"SEC-9\"}", false, 0, TICKETSPEC_HAS_TICKET },
		{ "before the start point", 0, NULL, NULL, NULL, TICKETSPEC_USER_ANY, NULL, false,
		    1796000000001, TICKETSPEC_BEFORE_START },
		{ "at the start point", 0, NULL, NULL, NULL, TICKETSPEC_USER_ANY, NULL, false,
		    1796000000000, TICKETSPEC_CREATE },
		{ "risk at the minimum", 72, NULL, NULL, NULL, TICKETSPEC_USER_ANY, NULL, false, 0,
		    TICKETSPEC_CREATE },
		{ "risk below", 73, NULL, NULL, NULL, TICKETSPEC_USER_ANY, NULL, false, 0,
		    TICKETSPEC_RISK_LOW },
		{ "no risk score with a minimum", 1, NULL, NULL, NULL, TICKETSPEC_USER_ANY,
		    "{\"risk_score\": null}", false, 0, TICKETSPEC_RISK_LOW },
		{ "category any-of", 0, "sec.exploit, sec.recon", NULL, NULL, TICKETSPEC_USER_ANY, NULL,
		    false, 0, TICKETSPEC_CREATE },
		{ "category none", 0, "sec.exploit", NULL, NULL, TICKETSPEC_USER_ANY, NULL, false, 0,
		    TICKETSPEC_CATEGORY },
		{ "type included", 0, NULL, "ldap_recon,x", NULL, TICKETSPEC_USER_ANY, NULL, false, 0,
		    TICKETSPEC_CREATE },
		{ "type not included", 0, NULL, "x", NULL, TICKETSPEC_USER_ANY, NULL, false, 0,
		    TICKETSPEC_TYPE },
		{ "type excluded", 0, NULL, NULL, " ldap_recon ", TICKETSPEC_USER_ANY, NULL, false, 0,
		    TICKETSPEC_TYPE },
		{ "user-created only, not one", 0, NULL, NULL, NULL, TICKETSPEC_USER_ONLY, NULL, false, 0,
		    TICKETSPEC_USER_CREATED },
		{ "user-created only, one", 0, NULL, NULL, NULL, TICKETSPEC_USER_ONLY,
		    "{\"is_user_created\": true}", false, 0, TICKETSPEC_CREATE },
		{ "no user-created, one", 0, NULL, NULL, NULL, TICKETSPEC_USER_NONE,
		    "{\"is_user_created\": true}", false, 0, TICKETSPEC_USER_CREATED },
		{ "no user-created, a custom type", 0, NULL, NULL, NULL, TICKETSPEC_USER_NONE,
		    "{\"type\": \"custom.exfil\"}", false, 0, TICKETSPEC_USER_CREATED },
		{ "user-created only, a custom type", 0, NULL, NULL, NULL, TICKETSPEC_USER_ONLY,
		    "{\"type\": \"custom.exfil\", \"is_user_created\": false}", false, 0,
		    TICKETSPEC_CREATE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ticketspec_opts_t o = jira_opts();
		bson_t *doc = doc_from(DOC), *patch;
		bson_t merged = BSON_INITIALIZER;
		bson_iter_t it;
		bson_error_t err;
		detection_t det;
		ticketspec_t *s;
		enum ticketspec_verdict v;

		o.risk_score_min = cases[i].risk_min;
		o.categories = cases[i].categories;
		o.types_include = cases[i].include;
		o.types_exclude = cases[i].exclude;
		o.user_created = cases[i].user;
		s = ticketspec_new(&o, &err);
		if (s == NULL)
			fail_msg("%s: %s", cases[i].name, err.message);
		patch = doc_from(cases[i].patch ? cases[i].patch : "{}");
		/* The patch's keys replace DOC's. */
		bson_iter_init(&it, doc);
		while (bson_iter_next(&it)) {
			bson_iter_t p;
			if (!bson_iter_init_find(&p, patch, bson_iter_key(&it)))
				bson_append_iter(&merged, bson_iter_key(&it), -1, &it);
		}
		bson_concat(&merged, patch);
		if (detection_parse(&merged, &det, &err) != 0)
			fail_msg("%s: %s", cases[i].name, err.message);
		v = ticketspec_qualify(s, &merged, &det, cases[i].has_ticket, cases[i].start);
		if (v != cases[i].want)
			fail_msg("%s: %s, want %s", cases[i].name, ticketspec_verdict_name(v),
			    ticketspec_verdict_name(cases[i].want));
		ticketspec_destroy(s);
		bson_destroy(&merged);
		bson_destroy(patch);
		bson_destroy(doc);
	}
}

/* Render DOC under o and compare the canonical JSON with want. */
static void
expect_render(const char *name, const ticketspec_opts_t *o, const char *doc_json,
    const char *want)
{
	bson_t *doc = doc_from(doc_json), out, *expected = doc_from(want);
	bson_error_t err;
	detection_t det;
	ticketspec_t *s = ticketspec_new(o, &err);
	char *got, *exp;

	if (s == NULL)
		fail_msg("%s: %s", name, err.message);
	if (detection_parse(doc, &det, &err) != 0)
		fail_msg("%s: %s", name, err.message);
	if (!ticketspec_render(s, doc, &det, &out, &err))
		fail_msg("%s: %s", name, err.message);
	got = bson_as_relaxed_extended_json(&out, NULL);
	exp = bson_as_relaxed_extended_json(expected, NULL);
	if (strcmp(got, exp) != 0)
		fail_msg("%s:\n got  %s\n want %s", name, got, exp);
	bson_free(got);
	bson_free(exp);
	bson_destroy(&out);
	bson_destroy(expected);
	bson_destroy(doc);
	ticketspec_destroy(s);
}

static void
test_render_jira(void **state)
{
	ticketspec_opts_t o = jira_opts();

	(void)state;
	o.description = "{description}\\nSee {url} ({risk_score}; {participants}; {mitre_tactics}; "
	                "{mitre_techniques}; {start_time}) {{literal}}";
	expect_render("cloud", &o, DOC,
	    "{\"detection_id\": 4, \"key\": \"extrahop-detection-4\", \"target\": \"jira\", "
	    "\"summary\": \"ExtraHop Detection: 4: Suspicious LDAP Query\", "
	    "\"assignee\": \"5b10a2844c20165700ede21g\", \"body\": {\"fields\": {"
	    "\"project\": {\"key\": \"SEC\"}, \"issuetype\": {\"name\": \"Task\"}, "
	    "\"summary\": \"ExtraHop Detection: 4: Suspicious LDAP Query\", "
	    "\"description\": \"A host ran **many** queries.\\nSee "
	    "https://eh.example/extrahop/#/detections/detail/4 (72; offender ws-12, victim "
	    "10.0.0.5; TA0007 Discovery; T1087 Account Discovery; 2026-11-30T00:53:20Z) {literal}\", "
	    "\"labels\": [\"sec.recon\", \"sec_attack\", \"extrahop-detection-4\"], "
	    "\"priority\": {\"name\": \"High\"}, "
	    "\"assignee\": {\"accountId\": \"5b10a2844c20165700ede21g\"}}}}");

	/* Data Center: assignee by name; extra fields win over ours; no priority bands. */
	o = jira_opts();
	o.jira_cloud = false;
	o.assignee = "escalations_team";
	o.priority_bands = "";
	o.labels = "soc, {categories}, soc";
	o.summary = "[{risk_score}] {title}";
	o.description = "";
	o.extra_fields = "{\"issuetype\": {\"name\": \"Incident\"}, \"components\": [{\"name\": \"SOC\"}]}";
	expect_render("datacenter", &o, DOC,
	    "{\"detection_id\": 4, \"key\": \"extrahop-detection-4\", \"target\": \"jira\", "
	    "\"summary\": \"[72] Suspicious LDAP Query\", \"assignee\": \"escalations_team\", "
	    "\"body\": {\"fields\": {\"issuetype\": {\"name\": \"Incident\"}, "
	    "\"components\": [{\"name\": \"SOC\"}], \"project\": {\"key\": \"SEC\"}, "
	    "\"summary\": \"[72] Suspicious LDAP Query\", \"description\": \"\", "
	    "\"labels\": [\"soc\", \"sec.recon\", \"sec_attack\", \"extrahop-detection-4\"], "
	    "\"assignee\": {\"name\": \"escalations_team\"}}}}");

	/* A detection without a risk score takes the lowest band; no title renders empty. */
	o = jira_opts();
	o.assignee = NULL;
	o.description = "-";
	expect_render("no score, no title", &o,
	    "{\"_id\": 7, \"type\": \"t\", \"start_time\": 1, \"update_time\": 1}",
	    "{\"detection_id\": 7, \"key\": \"extrahop-detection-7\", \"target\": \"jira\", "
	    "\"summary\": \"ExtraHop Detection: 7: \", \"assignee\": null, \"body\": {\"fields\": {"
	    "\"project\": {\"key\": \"SEC\"}, \"issuetype\": {\"name\": \"Task\"}, "
	    "\"summary\": \"ExtraHop Detection: 7: \", \"description\": \"-\", "
	    "\"labels\": [\"extrahop-detection-7\"], \"priority\": {\"name\": \"Low\"}}}}");
}

static void
test_render_servicenow_and_http(void **state)
{
	ticketspec_opts_t o = {
		.target = TICKETSPEC_SERVICENOW,
		.assignee = "escalations_team",
		.description = "{title}",
		.sn_assignment_group = "SOC",
		.sn_caller = "extrahop.integration",
	};

	(void)state;
	expect_render("servicenow", &o, DOC,
	    "{\"detection_id\": 4, \"key\": \"4\", \"target\": \"servicenow\", "
	    "\"summary\": \"ExtraHop Detection: 4: Suspicious LDAP Query\", "
	    "\"assignee\": \"escalations_team\", \"body\": {"
	    "\"short_description\": \"ExtraHop Detection: 4: Suspicious LDAP Query\", "
	    "\"description\": \"Suspicious LDAP Query\", \"correlation_id\": \"4\", "
	    "\"correlation_display\": \"ExtraHop\", \"urgency\": \"2\", \"impact\": \"2\", "
	    "\"assignment_group\": \"SOC\", \"caller_id\": \"extrahop.integration\"}}");

	/* extra_fields win, except over the key the ticket is found by: no member twice. */
	o.extra_fields = "{\"correlation_id\": \"x\", \"urgency\": \"1\", \"category\": \"network\"}";
	expect_render("servicenow extra", &o, DOC,
	    "{\"detection_id\": 4, \"key\": \"4\", \"target\": \"servicenow\", "
	    "\"summary\": \"ExtraHop Detection: 4: Suspicious LDAP Query\", "
	    "\"assignee\": \"escalations_team\", \"body\": {\"urgency\": \"1\", "
	    "\"category\": \"network\", "
	    "\"short_description\": \"ExtraHop Detection: 4: Suspicious LDAP Query\", "
	    "\"description\": \"Suspicious LDAP Query\", \"correlation_id\": \"4\", "
	    "\"correlation_display\": \"ExtraHop\", \"impact\": \"2\", "
	    "\"assignment_group\": \"SOC\", \"caller_id\": \"extrahop.integration\"}}");

	o = (ticketspec_opts_t){ .target = TICKETSPEC_HTTP, .description = "d", .labels = "x",
		.extrahop_url = "https://eh", .extra_fields = "{\"detection_id\": 1, \"summary\": \"s\", "
		"\"queue\": \"soc\"}" };
	expect_render("http extra", &o, DOC,
	    "{\"detection_id\": 4, \"key\": \"extrahop-detection-4\", \"target\": \"http\", "
	    "\"summary\": \"ExtraHop Detection: 4: Suspicious LDAP Query\", \"assignee\": null, "
	    "\"body\": {\"summary\": \"s\", \"queue\": \"soc\", \"detection_id\": 4, "
	    "\"description\": \"d\", \"labels\": [\"x\", \"extrahop-detection-4\"], \"priority\": \"High\", \"risk_score\": 72, "
	    "\"categories\": [\"sec.recon\", \"sec attack\"], \"type\": \"ldap_recon\", "
	    "\"url\": \"https://eh/extrahop/#/detections/detail/4\", "
	    "\"start_time\": 1796000000000, \"end_time\": 1796000060000}}");

	o = (ticketspec_opts_t){ .target = TICKETSPEC_HTTP, .description = "d", .labels = "x",
		.extrahop_url = "https://eh" };
	expect_render("http", &o, DOC,
	    "{\"detection_id\": 4, \"key\": \"extrahop-detection-4\", \"target\": \"http\", "
	    "\"summary\": \"ExtraHop Detection: 4: Suspicious LDAP Query\", \"assignee\": null, "
	    "\"body\": {\"detection_id\": 4, "
	    "\"summary\": \"ExtraHop Detection: 4: Suspicious LDAP Query\", \"description\": \"d\", "
	    "\"labels\": [\"x\", \"extrahop-detection-4\"], \"priority\": \"High\", \"risk_score\": 72, "
	    "\"categories\": [\"sec.recon\", \"sec attack\"], \"type\": \"ldap_recon\", "
	    "\"url\": \"https://eh/extrahop/#/detections/detail/4\", "
	    "\"start_time\": 1796000000000, \"end_time\": 1796000060000}}");
}

/* Foreign text is bounded and cleaned: a summary of control characters and 400
 * characters keeps 255 with an ellipsis and no controls. */
static void
test_render_bounds(void **state)
{
	ticketspec_opts_t o = jira_opts();
	char title[1024], json[2048];
	bson_t *doc, out;
	bson_error_t err;
	detection_t det;
	ticketspec_t *s;
	bson_iter_t it;
	const char *summary;

	(void)state;
	memset(title, 'a', 400);
	title[400] = '\0';
	memcpy(title, "x\\u0007y\\n", 10);
	snprintf(json, sizeof(json), "{\"_id\": 9, \"title\": \"%s\", \"type\": \"t\", "
	    "\"start_time\": 1, \"update_time\": 1}", title);
	doc = doc_from(json);
	s = ticketspec_new(&o, &err);
	assert_non_null(s);
	assert_int_equal(detection_parse(doc, &det, &err), 0);
	assert_true(ticketspec_render(s, doc, &det, &out, &err));
	assert_true(bson_iter_init_find(&it, &out, "summary"));
	summary = bson_iter_utf8(&it, NULL);
	assert_int_equal(strlen(summary), TICKETSPEC_SUMMARY_MAX);
	assert_null(strchr(summary, '\a'));
	assert_null(strchr(summary, '\n'));
	assert_string_equal(summary + strlen(summary) - 3, "...");
	bson_destroy(&out);
	bson_destroy(doc);
	ticketspec_destroy(s);
}

/* The lookup key's label is always there: left out of the template, or crowded out
 * by a detection with more categories than labels fit. */
static void
test_key_label_always(void **state)
{
	ticketspec_opts_t o = jira_opts();
	bson_string_t *json = bson_string_new("{\"_id\": 5, \"title\": \"t\", \"type\": \"t\", "
	                                      "\"start_time\": 1, \"update_time\": 1, \"categories\": [");
	const char *labels[] = { "security", NULL };
	bson_t *doc, out;
	bson_error_t err;
	detection_t det;

	(void)state;
	for (int i = 0; i < 100; i++)
		bson_string_append_printf(json, "%s\"c%d\"", i ? ", " : "", i);
	bson_string_append(json, "]}");
	doc = doc_from(json->str);
	for (size_t k = 0; k < 2; k++) {
		ticketspec_t *s;
		char *js;

		o.labels = labels[k];
		s = ticketspec_new(&o, &err);
		assert_non_null(s);
		assert_int_equal(detection_parse(doc, &det, &err), 0);
		assert_true(ticketspec_render(s, doc, &det, &out, &err));
		js = bson_as_relaxed_extended_json(&out, NULL);
		if (strstr(js, "\"extrahop-detection-5\" ]") == NULL)
			fail_msg("labels %s: no key label last in %s", labels[k] ? labels[k] : "(default)", js);
		bson_free(js);
		bson_destroy(&out);
		ticketspec_destroy(s);
	}
	bson_destroy(doc);
	bson_string_free(json, true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_options),
		cmocka_unit_test(test_qualify_table),
		cmocka_unit_test(test_render_jira),
		cmocka_unit_test(test_render_servicenow_and_http),
		cmocka_unit_test(test_render_bounds),
		cmocka_unit_test(test_key_label_always),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
