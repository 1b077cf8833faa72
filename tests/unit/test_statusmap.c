/* statusmap: shipped defaults, matching rules, precedence, config entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ticketsync/statusmap.h"

#define N FIELDS_STATUS_NULL
#define NEW FIELDS_STATUS_NEW
#define IP FIELDS_STATUS_IN_PROGRESS
#define CL FIELDS_STATUS_CLOSED
#define ACK FIELDS_STATUS_ACKNOWLEDGED
#define RN FIELDS_RESOLUTION_NULL
#define AT FIELDS_RESOLUTION_ACTION_TAKEN
#define NAT FIELDS_RESOLUTION_NO_ACTION_TAKEN

static void
expect_map(const statusmap_t *m, const char *status, const char *res, enum fields_status st,
           enum fields_resolution r)
{
	enum fields_status got_st = (enum fields_status)99;
	enum fields_resolution got_r = (enum fields_resolution)99;

	if (statusmap_lookup(m, status, res, &got_st, &got_r) != STATUSMAP_MAPPED)
		fail_msg("(%s, %s): unmapped", status ? status : "null", res ? res : "null");
	if (got_st != st || got_r != r)
		fail_msg("(%s, %s): got %d/%d, want %d/%d", status ? status : "null", res ? res : "null",
		    got_st, got_r, st, r);
}

static void
expect_unmapped(const statusmap_t *m, const char *status, const char *res)
{
	enum fields_status st = FIELDS_STATUS_NEW;
	enum fields_resolution r = FIELDS_RESOLUTION_ACTION_TAKEN;

	assert_int_equal(statusmap_lookup(m, status, res, &st, &r), STATUSMAP_UNMAPPED);
	assert_int_equal(st, N);
	assert_int_equal(r, RN);
}

static void
test_defaults_extrahop(void **state)
{
	statusmap_t *m = statusmap_new(true);

	(void)state;
	assert_non_null(m);
	expect_map(m, "new", NULL, NEW, RN);
	expect_map(m, "in_progress", NULL, IP, RN);
	expect_map(m, "acknowledged", NULL, ACK, RN);
	expect_map(m, "closed", "action_taken", CL, AT);
	expect_map(m, "closed", "no_action_taken", CL, NAT);
	expect_map(m, "closed", NULL, CL, RN);
	expect_map(m, "closed", "something else", CL, RN);
	/* null status -> ExtraHop's null ("Open"), whatever the resolution */
	expect_map(m, NULL, NULL, N, RN);
	expect_map(m, NULL, "action_taken", N, RN);
	/* a resolution never comes with a status other than closed */
	expect_map(m, "new", "action_taken", NEW, RN);
	expect_map(m, "in_progress", "no_action_taken", IP, RN);
	statusmap_destroy(m);
}

static void
test_defaults_jira(void **state)
{
	statusmap_t *m = statusmap_new(true);
	const char *no_action[] = { "Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce", "Incomplete" };

	(void)state;
	expect_map(m, "To Do", NULL, NEW, RN);
	expect_map(m, "Open", NULL, NEW, RN);
	expect_map(m, "Backlog", NULL, NEW, RN);
	expect_map(m, "Selected for Development", NULL, NEW, RN);
	expect_map(m, "In Progress", NULL, IP, RN);
	expect_map(m, "In Review", NULL, IP, RN);
	expect_map(m, "Done", NULL, CL, AT);
	expect_map(m, "Done", "Done", CL, AT);
	expect_map(m, "Done", "Fixed", CL, AT);
	for (size_t i = 0; i < sizeof(no_action) / sizeof(no_action[0]); i++)
		expect_map(m, "Done", no_action[i], CL, NAT);
	expect_map(m, "Acknowledged", NULL, ACK, RN);
	expect_map(m, "Triage", NULL, ACK, RN);
	/* Jira's "Closed" with a resolution resolves through the resolution rules */
	expect_map(m, "Closed", "Won't Fix", CL, NAT);
	expect_map(m, "Closed", "Fixed", CL, AT);
	statusmap_destroy(m);
}

static void
test_defaults_servicenow(void **state)
{
	statusmap_t *m = statusmap_new(true);
	const char *action[] = { "Solution provided", "Workaround provided", "Resolved by caller" };
	const char *no_action[] = { "Duplicate", "Known error", "User error", "Not Solved", "Canceled" };
	const char *resolved[] = { "Resolved", "6", "7" };

	(void)state;
	expect_map(m, "New", NULL, NEW, RN);
	expect_map(m, "In Progress", NULL, IP, RN);
	expect_map(m, "On Hold", NULL, ACK, RN);
	expect_map(m, "Canceled", NULL, CL, NAT);
	expect_map(m, "1", NULL, NEW, RN);
	expect_map(m, "2", NULL, IP, RN);
	expect_map(m, "3", NULL, ACK, RN);
	expect_map(m, "8", NULL, CL, NAT);
	for (size_t s = 0; s < 3; s++) {
		expect_map(m, resolved[s], NULL, CL, AT);
		for (size_t i = 0; i < 3; i++)
			expect_map(m, resolved[s], action[i], CL, AT);
		for (size_t i = 0; i < 5; i++)
			expect_map(m, resolved[s], no_action[i], CL, NAT);
	}
	/* "Closed" is also ExtraHop's closed: close codes resolve, none gives null */
	for (size_t i = 0; i < 3; i++)
		expect_map(m, "Closed", action[i], CL, AT);
	for (size_t i = 0; i < 5; i++)
		expect_map(m, "Closed", no_action[i], CL, NAT);
	expect_map(m, "Closed", NULL, CL, RN);
	/* codes that are not states */
	expect_unmapped(m, "4", NULL);
	expect_unmapped(m, "5", NULL);
	expect_unmapped(m, "9", NULL);
	statusmap_destroy(m);
}

static void
test_case_and_whitespace(void **state)
{
	statusmap_t *m = statusmap_new(true);

	(void)state;
	expect_map(m, "  in progress\t", NULL, IP, RN);
	expect_map(m, "IN PROGRESS", NULL, IP, RN);
	expect_map(m, "NEW", NULL, NEW, RN);
	expect_map(m, " done ", " won't do ", CL, NAT);
	expect_map(m, "DONE", "WON'T DO", CL, NAT);
	/* blank resolution is the same as none */
	expect_map(m, "Done", "   ", CL, AT);
	/* inner whitespace is significant */
	expect_unmapped(m, "In  Progress", NULL);
	expect_unmapped(m, "InProgress", NULL);
	expect_unmapped(m, "", NULL);
	expect_unmapped(m, "   ", NULL);
	expect_unmapped(m, "Waiting for customer", NULL);
	statusmap_destroy(m);
}

static void
test_unmapped_and_long_inputs(void **state)
{
	statusmap_t *m = statusmap_new(true);
	char big[STATUSMAP_NAME_MAX + 10];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_unmapped(m, big, NULL);
	/* an over-long resolution can still use the status-only entry */
	expect_map(m, "Done", big, CL, AT);
	expect_map(m, "closed", big, CL, RN);
	statusmap_destroy(m);
}

static void
test_exact_before_status_only(void **state)
{
	statusmap_t *m = statusmap_new(false);
	bson_error_t err;

	(void)state;
	assert_int_equal(statusmap_add(m, "Finished", "closed/action_taken", &err), 0);
	assert_int_equal(statusmap_add(m, "Finished|Rejected", "closed/no_action_taken", &err), 0);
	assert_int_equal(statusmap_add(m, "Finished|", "acknowledged", &err), 0);
	expect_map(m, "finished", "rejected", CL, NAT);
	expect_map(m, "Finished", "Other", CL, AT);
	/* "Finished|" is the exact entry for no resolution */
	expect_map(m, "Finished", NULL, ACK, RN);
	expect_map(m, "Finished", "", ACK, RN);
	/* an exact entry alone does not map other resolutions */
	assert_int_equal(statusmap_add(m, "Parked|Later", "acknowledged", &err), 0);
	expect_map(m, "Parked", "Later", ACK, RN);
	expect_unmapped(m, "Parked", NULL);
	expect_unmapped(m, "Parked", "Now");
	statusmap_destroy(m);
}

static void
test_values(void **state)
{
	statusmap_t *m = statusmap_new(false);
	bson_error_t err;

	(void)state;
	assert_int_equal(statusmap_add(m, "a", "new", &err), 0);
	assert_int_equal(statusmap_add(m, "b", " In_Progress ", &err), 0);
	assert_int_equal(statusmap_add(m, "c", "acknowledged", &err), 0);
	assert_int_equal(statusmap_add(m, "d", "open", &err), 0);
	assert_int_equal(statusmap_add(m, "e", "closed", &err), 0);
	assert_int_equal(statusmap_add(m, "f", "closed / action_taken", &err), 0);
	assert_int_equal(statusmap_add(m, "g", "CLOSED/NO_ACTION_TAKEN", &err), 0);
	assert_int_equal(statusmap_add(m, "h", "closed/from_ticket", &err), 0);
	expect_map(m, "a", "action_taken", NEW, RN);
	expect_map(m, "b", NULL, IP, RN);
	expect_map(m, "c", NULL, ACK, RN);
	expect_map(m, "d", NULL, N, RN);
	expect_map(m, "e", "action_taken", CL, RN); /* plain closed: no resolution */
	expect_map(m, "f", "no_action_taken", CL, AT);
	expect_map(m, "g", NULL, CL, NAT);
	expect_map(m, "h", "action_taken", CL, AT);
	expect_map(m, "h", " No Action Taken ", CL, NAT);
	expect_map(m, "h", "Won't Do", CL, NAT);
	expect_map(m, "h", "Fixed", CL, AT);
	expect_map(m, "h", "False Positive", CL, NAT);
	expect_map(m, "h", "whatever", CL, RN);
	expect_map(m, "h", NULL, CL, RN);
	statusmap_destroy(m);
}

static void
expect_add_error(statusmap_t *m, const char *key, const char *value, const char *needle)
{
	bson_error_t err;
	size_t before = statusmap_count(m);

	memset(&err, 0, sizeof(err));
	assert_int_equal(statusmap_add(m, key, value, &err), -1);
	if (strstr(err.message, needle) == NULL)
		fail_msg("\"%s\" = \"%s\": message \"%s\" lacks \"%s\"", key, value, err.message, needle);
	assert_int_equal(statusmap_count(m), before);
}

static void
test_bad_entries(void **state)
{
	statusmap_t *m = statusmap_new(false);
	bson_error_t err;

	(void)state;
	expect_add_error(m, "Done", "clsed", "unknown ExtraHop status \"clsed\"");
	expect_add_error(m, "Done", "clsed", "\"Done\" = \"clsed\"");
	expect_add_error(m, "Done", "", "unknown ExtraHop status");
	expect_add_error(m, "Done", "null", "unknown ExtraHop status");
	expect_add_error(m, "Done", "closed/fixed", "unknown ExtraHop resolution \"fixed\"");
	expect_add_error(m, "Done", "closed/", "unknown ExtraHop resolution");
	expect_add_error(m, "Doing", "in_progress/action_taken", "only goes with closed");
	expect_add_error(m, "Doing", "new/from_ticket", "only goes with closed");
	expect_add_error(m, "Doing", "open/no_action_taken", "only goes with closed");
	expect_add_error(m, "", "new", "ticket status is empty");
	expect_add_error(m, "  |Fixed", "new", "ticket status is empty");
	expect_add_error(m, "a|b|c", "new", "more than one '|'");
	expect_add_error(m, "Bad\xff", "new", "not valid UTF-8");
	expect_add_error(m, "Bad", "new\xc3", "not valid UTF-8");
	/* duplicates (ignoring case and blanks) are errors */
	assert_int_equal(statusmap_add(m, "Waiting", "acknowledged", &err), 0);
	expect_add_error(m, " WAITING ", "new", "given twice");
	assert_int_equal(statusmap_add(m, "Waiting|Customer", "acknowledged", &err), 0);
	expect_add_error(m, "waiting|customer", "new", "given twice");
	expect_map(m, "Waiting", NULL, ACK, RN);
	statusmap_destroy(m);
}

static void
test_override_defaults(void **state)
{
	statusmap_t *m = statusmap_new(true);
	size_t n = statusmap_count(m);
	bson_error_t err;
	const char *k, *v;
	bool found = false;

	(void)state;
	/* a user entry replaces the default with the same key, in place */
	assert_int_equal(statusmap_add(m, "open", "open", &err), 0);
	assert_int_equal(statusmap_add(m, "DONE|won't do", "closed/action_taken", &err), 0);
	assert_int_equal(statusmap_add(m, "Waiting for customer", "acknowledged", &err), 0);
	assert_int_equal(statusmap_count(m), n + 1);
	expect_map(m, "Open", NULL, N, RN);
	expect_map(m, "Done", "Won't Do", CL, AT);
	expect_map(m, "Done", "Won't Fix", CL, NAT); /* other defaults untouched */
	expect_map(m, "Waiting for Customer", NULL, ACK, RN);
	/* but only once */
	expect_add_error(m, "Open", "new", "given twice");
	for (size_t i = 0; statusmap_entry(m, i, &k, &v); i++) {
		if (strcmp(k, "open") == 0) {
			assert_string_equal(v, "open");
			found = true;
		}
	}
	assert_true(found);
	assert_false(statusmap_entry(m, statusmap_count(m), &k, &v));
	statusmap_destroy(m);
}

static void
test_without_defaults(void **state)
{
	statusmap_t *m = statusmap_new(false);
	bson_error_t err;

	(void)state;
	assert_int_equal(statusmap_count(m), 0);
	expect_unmapped(m, "new", NULL);
	expect_unmapped(m, "Done", NULL);
	expect_map(m, NULL, NULL, N, RN); /* null status needs no entry */
	assert_int_equal(statusmap_add(m, "Done", "closed/from_ticket", &err), 0);
	expect_map(m, "Done", "Fixed", CL, AT);
	expect_unmapped(m, "In Progress", NULL);
	statusmap_destroy(m);
	statusmap_destroy(NULL);
}

/* statusmap_lookup_ticket: the status name first, then its category. */
static void
expect_ticket(const statusmap_t *m, const char *status, const char *cat, const char *res,
              enum fields_status st, enum fields_resolution r, bool want_by_category)
{
	enum fields_status got_st = (enum fields_status)99;
	enum fields_resolution got_r = (enum fields_resolution)99;
	bool by = !want_by_category;

	if (statusmap_lookup_ticket(m, status, cat, res, &got_st, &got_r, &by) != STATUSMAP_MAPPED)
		fail_msg("(%s, category %s, %s): unmapped", status ? status : "null", cat ? cat : "null",
		    res ? res : "null");
	if (got_st != st || got_r != r || by != want_by_category)
		fail_msg("(%s, category %s, %s): got %d/%d by_category %d, want %d/%d %d",
		    status ? status : "null", cat ? cat : "null", res ? res : "null", got_st, got_r, by,
		    st, r, want_by_category);
}

static void
expect_ticket_unmapped(const statusmap_t *m, const char *status, const char *cat, const char *res)
{
	enum fields_status st = FIELDS_STATUS_NEW;
	enum fields_resolution r = FIELDS_RESOLUTION_ACTION_TAKEN;
	bool by = true;

	assert_int_equal(statusmap_lookup_ticket(m, status, cat, res, &st, &r, &by), STATUSMAP_UNMAPPED);
	assert_int_equal(st, N);
	assert_int_equal(r, RN);
	assert_false(by);
}

static void
test_jira_status_category(void **state)
{
	statusmap_t *m = statusmap_new(true);
	bson_error_t err;
	char long_cat[STATUSMAP_NAME_MAX + 1];

	(void)state;
	/* a known name wins over its category */
	expect_ticket(m, "Done", "done", "Won't Do", CL, NAT, false);
	expect_ticket(m, "In Review", "done", NULL, IP, RN, false);
	expect_ticket(m, NULL, "done", NULL, N, RN, false);
	/* custom workflow statuses fall back to their category */
	expect_ticket(m, "Waiting for QA", "indeterminate", NULL, IP, RN, true);
	expect_ticket(m, "Ready", "new", NULL, NEW, RN, true);
	expect_ticket(m, "Ready", " NEW ", NULL, NEW, RN, true);
	/* done: closed, resolution through the resolution rules */
	expect_ticket(m, "Released", "done", "Fixed", CL, AT, true);
	expect_ticket(m, "Released", "done", "Won't Fix", CL, NAT, true);
	expect_ticket(m, "Released", "done", "Shipped", CL, RN, true);
	expect_ticket(m, "Released", "done", NULL, CL, RN, true);
	/* no category, an unknown or blank one, or one too long for a key: unmapped */
	expect_ticket_unmapped(m, "Released", NULL, NULL);
	expect_ticket_unmapped(m, "Released", "undefined", NULL);
	expect_ticket_unmapped(m, "Released", "  ", NULL);
	memset(long_cat, 'd', sizeof(long_cat) - 1);
	long_cat[sizeof(long_cat) - 1] = '\0';
	expect_ticket_unmapped(m, "Released", long_cat, NULL);
	/* the plain lookup never consults categories */
	expect_unmapped(m, "Released", NULL);
	/* category entries are overridable and may carry a resolution */
	assert_int_equal(statusmap_add(m, "Category:Done", "closed/action_taken", &err), 0);
	assert_int_equal(statusmap_add(m, "category:done|Won't Do", "closed/no_action_taken", &err), 0);
	assert_int_equal(statusmap_add(m, "category:indeterminate", "acknowledged", &err), 0);
	expect_ticket(m, "Released", "done", "Shipped", CL, AT, true);
	expect_ticket(m, "Released", "done", "Won't Do", CL, NAT, true);
	expect_ticket(m, "Waiting for QA", "indeterminate", NULL, ACK, RN, true);
	expect_add_error(m, "CATEGORY:DONE", "new", "given twice");
	statusmap_destroy(m);

	/* without the defaults there is no category fallback unless configured */
	m = statusmap_new(false);
	expect_ticket_unmapped(m, "Released", "done", NULL);
	assert_int_equal(statusmap_add(m, "category:done", "closed/from_ticket", &err), 0);
	expect_ticket(m, "Released", "done", "Duplicate", CL, NAT, true);
	statusmap_destroy(m);
}

static void
test_resolution_rules(void **state)
{
	enum fields_resolution r;

	(void)state;
	assert_int_equal(statusmap_resolution_rule("action_taken", &r), 0);
	assert_int_equal(r, AT);
	assert_int_equal(statusmap_resolution_rule(" NO_ACTION_TAKEN", &r), 0);
	assert_int_equal(r, NAT);
	assert_int_equal(statusmap_resolution_rule("Workaround provided", &r), 0);
	assert_int_equal(r, AT);
	assert_int_equal(statusmap_resolution_rule("user error", &r), 0);
	assert_int_equal(r, NAT);
	assert_int_equal(statusmap_resolution_rule(NULL, &r), -1);
	assert_int_equal(statusmap_resolution_rule("", &r), -1);
	assert_int_equal(statusmap_resolution_rule("Won't", &r), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_extrahop),
		cmocka_unit_test(test_defaults_jira),
		cmocka_unit_test(test_defaults_servicenow),
		cmocka_unit_test(test_case_and_whitespace),
		cmocka_unit_test(test_unmapped_and_long_inputs),
		cmocka_unit_test(test_exact_before_status_only),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_override_defaults),
		cmocka_unit_test(test_without_defaults),
		cmocka_unit_test(test_resolution_rules),
		cmocka_unit_test(test_jira_status_category),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
