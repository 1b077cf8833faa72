/*
 * ticketsyncctl import-tickets: the real binary against the MongoDB test server (or
 * TICKETSYNC_TEST_MONGODB_URI). The ExtraHop example imported while ticketsyncd runs
 * reaches the fake API as exactly the expected PATCHes; bad rows are reported with
 * their line numbers while good rows are imported; --strict writes nothing; JSON
 * Lines, stdin, re-imports and merges, validator refusals, configuration errors.
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

#include "ticketsync/clock.h"
#include "tsfile.h"
#include "tsscene.h"

#define API_KEY "test-key-import"

typedef tsscene_t fixture_t;

static int
fixture_setup(void **state)
{
	return tsscene_setup(state, "ctlimport");
}

/* Run ticketsyncctl against this fixture's database; stdin_text may be NULL; extra
 * is one more "K=V" or NULL. */
static void
ctl_in(fixture_t *f, tsrun_result_t *r, const char *stdin_text, const char *extra,
    const char *const *args)
{
	const char *env[] = { extra, NULL };
	tsrun_opts_t o = { .env = env, .stdin_data = stdin_text,
		.stdin_len = stdin_text ? strlen(stdin_text) : 0 };

	if (tsscene_ctl(f, r, &o, false, args) != 0)
		fail_msg("ticketsyncctl: %s", r->err);
}

#define CTL(f, r, ...) ctl_in((f), (r), NULL, NULL, (const char *const[]){ __VA_ARGS__, NULL })

static char *
fixture_path(const char *name)
{
	return bson_strdup_printf("%s/tests/fixtures/%s", tsproc_source_dir(), name);
}

static char *
slurp(const char *path)
{
	char *buf = tsfile_read(path, NULL);

	if (buf == NULL)
		fail_msg("cannot read %s", path);
	return buf;
}

#define count tsscene_count

static const bson_t *
find_one(fixture_t *f, const char *coll_name, const char *json_filter)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, coll_name);
	const bson_t *doc = tsmongo_find_one(coll, json_filter);

	mongoc_collection_destroy(coll);
	return doc;
}

static void
assert_doc(const bson_t *doc, const char *json_subset)
{
	char why[512];

	assert_non_null(doc);
	if (!tsmongo_matches(doc, json_subset, why, sizeof(why))) {
		char *s = bson_as_relaxed_extended_json(doc, NULL);
		fail_msg("%s: %s (document %s)", json_subset, why, s);
	}
}

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("output does not contain \"%s\":\n%s", needle, haystack);
}

/* Insert or replace by _id. */
static void
put(fixture_t *f, const char *coll_name, const char *json)
{
	if (!tsscene_put(f, coll_name, json))
		fail_msg("%s", f->error);
}

static void
assert_body(fixture_t *f, int64_t id, const char *expected_json)
{
	char why[1024];

	/* Exactly these keys with these values, nothing more. */
	if (!tsscene_last_body_is(f, id, expected_json, why, sizeof(why)))
		fail_msg("%s", why);
}

/* ---- tests ---- */

static void
test_example_import_then_daemon_pushes(void **state)
{
	fixture_t *f = *state;
	tsextrahop_opts_t fxo = { .api_key = API_KEY, .detections_count = 20 };
	tsrun_result_t r;
	char err[512];
	char *csv = fixture_path("extrahop_example.csv");
	int64_t start;

	if (tsscene_begin(f, &fxo, API_KEY) != 0)
		fail_msg("%s", f->error);
	/* The detections as ExtraHop's trigger wrote them (numbers in three BSON types). */
	put(f, "detections", "{'_id': 1, 'title': 'Port scan', 'status': null, 'assignee': null, 'ticket_id': null, 'resolution': null, 'update_time': 1700000000000}");
	put(f, "detections", "{'_id': {'$numberLong': '2'}, 'title': 'Brute force', 'update_time': 1700000000000}");
	put(f, "detections", "{'_id': 3.0, 'title': 'Exfiltration', 'risk_score': 80}");
	if (tsdaemon_start(&f->d, err, sizeof(err)) != 0)
		fail_msg("ticketsyncd: %s", err);
	f->d_started = true;
	start = clock_mono_ms();
	while (tsdaemon_get(&f->d, "/readyz", NULL) != 200) {
		if (clock_mono_ms() - start > 15000)
			fail_msg("ticketsyncd never became ready");
		ts_sleep_ms(20);
	}
	/* No tickets yet: nothing to push. */
	ts_sleep_ms(500);
	assert_int_equal(tsscene_patches(f, -1, NULL, NULL), 0);

	CTL(f, &r, "import-tickets", csv);
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "rows read 3 (csv), tickets written 3 (new 3, changed 0), unchanged 0, bad rows 0");
	assert_string_equal(r.err, "");
	tsrun_free(&r);

	/* The daemon sees the new tickets through its change stream and pushes them. */
	assert_true(tsscene_wait_patches(f, 1, 1, 10000) >= 0);
	assert_true(tsscene_wait_patches(f, 2, 1, 10000) >= 0);
	assert_true(tsscene_wait_patches(f, 3, 1, 10000) >= 0);
	assert_body(f, 1, "{'ticket_id': 'TK-16982', 'status': 'new', 'assignee': 'sally'}");
	assert_body(f, 2, "{'ticket_id': 'TK-2078', 'assignee': 'jim'}");
	assert_body(f, 3, "{'ticket_id': 'TK-3452', 'assignee': 'alex'}");
	ts_sleep_ms(1000);
	assert_int_equal(tsscene_patches(f, -1, NULL, NULL), 3);

	/* Stored as the daemon's ticket parser expects, marked as imported. */
	assert_doc(find_one(f, "tickets", "{'_id': 'TK-16982'}"),
	    "{'detection_ids': [1], 'status': 'new', 'assignee': 'sally', 'resolution': null, 'source': 'import'}");
	assert_int_equal(tsmongo_get_type(find_one(f, "tickets", "{'_id': 'TK-2078'}"), "status"),
	    BSON_TYPE_NULL);
	assert_int_equal(tsmongo_get_type(find_one(f, "tickets", "{'_id': 'TK-2078'}"), "updated_at"),
	    BSON_TYPE_DATE_TIME);

	/* Importing the same file again changes nothing, so nothing is pushed again. */
	CTL(f, &r, "import-tickets", csv);
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "tickets written 0 (new 0, changed 0), unchanged 3");
	tsrun_free(&r);
	ts_sleep_ms(1500);
	assert_int_equal(tsscene_patches(f, -1, NULL, NULL), 3);
	bson_free(csv);
	assert_int_equal(tsdaemon_stop(&f->d, 15000), 0);
	f->d_started = false;
}

static void
test_bad_rows_reported_good_imported(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	char *csv = fixture_path("tickets_bad_rows.csv");
	char *want;

	CTL(f, &r, "import-tickets", csv);
	assert_int_equal(r.exit_code, 1);
	/* One line per bad row, FILE:LINE: reason, in line order. */
#define EXPECT_ROW(line, text) \
	want = bson_strdup_printf("%s:%d: %s", csv, line, text); \
	assert_contains(r.err, want); \
	bson_free(want)
	EXPECT_ROW(3, "missing detection_id");
	EXPECT_ROW(4, "detection_id \"abc\" is not an integer from 1 to 2^53");
	EXPECT_ROW(5, "missing ticket_id");
	EXPECT_ROW(6, "ticket_id \"XXXXXXXX");
	assert_contains(r.err, "is 129 bytes long; at most 128 are allowed");
	EXPECT_ROW(7, "updated_at \"yesterday\" is not an ISO-8601 time");
	EXPECT_ROW(9, "the row has an unterminated quoted value");
	assert_int_equal(tsrun_count_lines(r.err, csv), 6);
	assert_contains(r.out, "rows read 10 (csv), tickets written 3 (new 3, changed 0), unchanged 0, bad rows 6");
	tsrun_free(&r);

	/* The good rows, the quoted one and the one after the stray quote included. */
	assert_int_equal(count(f, "tickets", "{}"), 3);
	assert_doc(find_one(f, "tickets", "{'_id': 'TK-10'}"),
	    "{'detection_ids': [10, 19], 'status': 'In Progress', 'assignee': 'kim', 'resolution': null, 'updated_at': {'$date': '2026-11-01T08:00:00Z'}}");
	assert_string_equal(tsmongo_get_str(find_one(f, "tickets", "{'_id': 'TK-16'}"), "assignee"),
	    "O'Brien, Pat");
	assert_doc(find_one(f, "tickets", "{'_id': 'TK-18'}"), "{'detection_ids': [18], 'assignee': 'carol'}");
	bson_free(csv);
}

static void
test_strict_writes_nothing(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	char *csv = fixture_path("tickets_bad_rows.csv");

	CTL(f, &r, "import-tickets", "--strict", csv);
	assert_int_equal(r.exit_code, 1);
	assert_int_equal(tsrun_count_lines(r.err, csv), 6);
	assert_contains(r.err, "6 bad row(s); nothing written (--strict)");
	assert_string_equal(r.out, "");
	tsrun_free(&r);
	assert_int_equal(count(f, "tickets", "{}"), 0);
	assert_false(tsmongo_has_database(f->client, f->db) && count(f, "tickets", "{}") != 0);

	/* --dry-run checks without writing, and says what it would do. */
	CTL(f, &r, "import-tickets", "--dry-run", csv);
	assert_int_equal(r.exit_code, 1);
	assert_contains(r.out, "dry run: rows read 10 (csv), tickets to upsert 3, bad rows 6; nothing written");
	tsrun_free(&r);
	assert_int_equal(count(f, "tickets", "{}"), 0);
	bson_free(csv);

	/* A clean file under --strict is imported. */
	csv = fixture_path("extrahop_example.csv");
	CTL(f, &r, "import-tickets", "--strict", csv);
	assert_int_equal(r.exit_code, 0);
	tsrun_free(&r);
	assert_int_equal(count(f, "tickets", "{}"), 3);
	bson_free(csv);
}

static void
test_unknown_column_stops_the_file(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	char *csv = fixture_path("tickets_unknown_column.csv");
	char *want = bson_strdup_printf("%s:1: unknown column \"assigne\"", csv);

	/* A misspelt column would null every assignee: the whole file is refused. */
	CTL(f, &r, "import-tickets", csv);
	assert_int_equal(r.exit_code, 1);
	assert_contains(r.err, want);
	assert_contains(r.err, "nothing imported");
	tsrun_free(&r);
	assert_int_equal(count(f, "tickets", "{}"), 0);
	bson_free(want);
	bson_free(csv);
}

/* Tickets naming detections not in MongoDB are stored, and said: one warning, an
 * audit record per ticket, and the list in status until the detections arrive. */
static void
test_tickets_for_missing_detections(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;

	put(f, "detections", "{'_id': 1, 'title': 'here'}");
	ctl_in(f, &r, "detection_id,ticket_id,status\n1,TK-1,new\n999,TK-9,new\n1,TK-8,new\n998,TK-8,new\n",
	    NULL, (const char *const[]){ "import-tickets", "-", NULL });
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "tickets written 3 (new 3, changed 0)");
	assert_contains(r.err, "warning: 2 ticket(s) name detections not in MongoDB: TK-9 (999), TK-8 (998). They are stored");
	tsrun_free(&r);
	assert_int_equal(count(f, "tickets", "{}"), 3);
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'unknown_detection'}"), 2);
	assert_doc(find_one(f, "ticketsync_audit", "{'event': 'unknown_detection', 'ticket_id': 'TK-9'}"),
	    "{'detection_id': 999, 'detail': {'source': 'import', 'detection_ids': [999]}}");
	assert_doc(find_one(f, "ticketsync_audit", "{'event': 'unknown_detection', 'ticket_id': 'TK-8'}"),
	    "{'detection_id': 998}");
	/* The same file again: still said, not recorded twice. */
	ctl_in(f, &r, "detection_id,ticket_id,status\n1,TK-1,new\n999,TK-9,new\n1,TK-8,new\n998,TK-8,new\n",
	    NULL, (const char *const[]){ "import-tickets", "-", NULL });
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.err, "warning: 2 ticket(s) name detections not in MongoDB");
	tsrun_free(&r);
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'unknown_detection'}"), 2);

	CTL(f, &r, "status");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "tickets naming detections not in MongoDB: 2 (stored; each is pushed once its detection arrives)");
	assert_contains(r.out, "  TK-8                     detection 998\n");
	assert_contains(r.out, "  TK-9                     detection 999\n");
	tsrun_free(&r);

	/* One arrives: the list shrinks; JSON says the same. */
	put(f, "detections", "{'_id': 999, 'title': 'late'}");
	CTL(f, &r, "status", "--json");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "\"unknown_detections\" : { \"tickets\" : 1, \"detections\" : 1, \"list\" : [ { \"ticket_id\" : \"TK-8\", \"detection_id\" : 998, \"missing\" : 1 } ] }");
	tsrun_free(&r);
	put(f, "detections", "{'_id': 998, 'title': 'late too'}");
	CTL(f, &r, "status");
	assert_null(strstr(r.out, "not in MongoDB"));
	tsrun_free(&r);
}

static void
test_jsonl_file_and_stdin(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	char *path = fixture_path("tickets_example.jsonl");
	char *text = slurp(path);

	/* By extension. */
	CTL(f, &r, "import-tickets", path);
	assert_int_equal(r.exit_code, 1);
	{
		char *want = bson_strdup_printf("%s:5: unknown field \"priority\"", path);
		assert_contains(r.err, want);
		bson_free(want);
	}
	assert_contains(r.out, "rows read 4 (jsonl), tickets written 3 (new 3, changed 0), unchanged 0, bad rows 1");
	tsrun_free(&r);
	assert_doc(find_one(f, "tickets", "{'_id': 'TK-3452'}"), "{'detection_ids': [3], 'assignee': 'alex', 'status': null}");

	/* From stdin, detected by content; the lines are named <stdin>:N. */
	tsmongo_drop_db(f->client, f->db);
	ctl_in(f, &r, text, NULL, (const char *const[]){ "import-tickets", "-", NULL });
	assert_int_equal(r.exit_code, 1);
	assert_contains(r.err, "<stdin>:5: unknown field \"priority\"");
	assert_contains(r.out, "(jsonl)");
	tsrun_free(&r);
	assert_int_equal(count(f, "tickets", "{}"), 3);

	/* CSV on stdin, and --format overriding the guess. */
	tsmongo_drop_db(f->client, f->db);
	ctl_in(f, &r, "detection_id,ticket_id,assignee\n7,TK-7,zoe\n", NULL,
	    (const char *const[]){ "import-tickets", "--format", "csv", "-", NULL });
	assert_int_equal(r.exit_code, 0);
	tsrun_free(&r);
	/* Columns left out of the file are null on a new ticket. */
	assert_doc(find_one(f, "tickets", "{'_id': 'TK-7'}"),
	    "{'detection_ids': [7], 'assignee': 'zoe', 'status': null, 'resolution': null}");
	ctl_in(f, &r, "{\"detection_id\": 1, \"ticket_id\": \"TK-1\"}\n", NULL,
	    (const char *const[]){ "import-tickets", "--format", "csv", "-", NULL });
	assert_int_equal(r.exit_code, 1);
	assert_contains(r.err, "<stdin>:1: the header has malformed quoting");
	tsrun_free(&r);
	free(text);
	bson_free(path);
}

static void
test_reimport_merges_and_keeps_absent_columns(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;

	/* A ticket written by someone else, with a status and an int32 id. */
	put(f, "tickets", "{'_id': 'TK-1', 'detection_ids': [1], 'status': 'In Progress', 'assignee': 'ann', 'resolution': null, 'updated_at': {'$date': '2026-10-01T00:00:00Z'}, 'source': 'jira-webhook'}");
	/* A file without a status column adds detections and changes the assignee; the
	 * stored status stays, and detection 1 (now int64) is not added twice. */
	ctl_in(f, &r, "detection_id,ticket_id,assignee,updated_at\n1,TK-1,bob,2026-11-02T00:00:00Z\n5,TK-1,bob,2026-11-02T00:00:00Z\n", NULL,
	    (const char *const[]){ "import-tickets", "-", NULL });
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "rows read 2 (csv), tickets written 1 (new 0, changed 1), unchanged 0, bad rows 0");
	tsrun_free(&r);
	assert_doc(find_one(f, "tickets", "{'_id': 'TK-1'}"),
	    "{'detection_ids': [1, 5], 'status': 'In Progress', 'assignee': 'bob', 'resolution': null, 'source': 'import', 'updated_at': {'$date': '2026-11-02T00:00:00Z'}}");

	/* Rows disagreeing about one ticket: the later wins, with a warning (not an error). */
	ctl_in(f, &r, "detection_id,ticket_id,status\n8,TK-8,new\n9,TK-8,Done\n", NULL,
	    (const char *const[]){ "import-tickets", "-", NULL });
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.err, "<stdin>:3: warning: ticket TK-8: status \"Done\" replaces \"new\" from line 2");
	tsrun_free(&r);
	assert_doc(find_one(f, "tickets", "{'_id': 'TK-8'}"), "{'detection_ids': [8, 9], 'status': 'Done'}");
}

static void
test_validator_refusal_names_the_line(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	bson_error_t err;

	/* A tickets validator (this test's own) that requires an assignee string. */
	if (!tsmongo_cmd(f->client, f->db, "{'create': 'tickets', 'validator': {'$jsonSchema': {'required': ['assignee'], 'properties': {'assignee': {'bsonType': 'string'}}}}, 'validationAction': 'error'}", NULL, &err))
		fail_msg("create: %s", err.message);
	ctl_in(f, &r, "detection_id,ticket_id,assignee\n1,TK-1,ann\n2,TK-2,\n3,TK-3,cy\n", NULL,
	    (const char *const[]){ "import-tickets", "-", NULL });
	assert_int_equal(r.exit_code, 1);
	assert_contains(r.err, "<stdin>:3: ticket TK-2 refused by MongoDB (code 121)");
	assert_contains(r.out, "tickets written 2 (new 2, changed 0), unchanged 0, bad rows 1");
	tsrun_free(&r);
	assert_int_equal(count(f, "tickets", "{}"), 2);
}

static void
test_errors_before_reading(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;

	/* A configuration error is exit 2, and stdin is not consumed for nothing. */
	ctl_in(f, &r, "detection_id,ticket_id\n1,TK-1\n", "TICKETSYNC_MONGODB_POOL_MAX=zero",
	    (const char *const[]){ "import-tickets", "-", NULL });
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "configuration error: TICKETSYNC_MONGODB_POOL_MAX");
	tsrun_free(&r);
	CTL(f, &r, "import-tickets", "/nonexistent/tickets.csv");
	assert_int_equal(r.exit_code, 1);
	assert_contains(r.err, "cannot read /nonexistent/tickets.csv: No such file or directory");
	tsrun_free(&r);
	CTL(f, &r, "import-tickets");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "which file?");
	tsrun_free(&r);
	CTL(f, &r, "import-tickets", "--format", "xml", "x.csv");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
	assert_int_equal(count(f, "tickets", "{}"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_example_import_then_daemon_pushes, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_bad_rows_reported_good_imported, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_strict_writes_nothing, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_column_stops_the_file, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_file_and_stdin, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_reimport_merges_and_keeps_absent_columns, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_validator_refusal_names_the_line, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_errors_before_reading, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_tickets_for_missing_detections, fixture_setup, tsscene_teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, tsgroup_setup, tsgroup_teardown);
	curl_global_cleanup();
	return rc;
}
