/*
 * ticketsyncctl init: the real binary against the MongoDB test server (or
 * TICKETSYNC_TEST_MONGODB_URI). --dry-run writes nothing; a first run creates every
 * collection, validator and index of schema/; a second run changes nothing; the
 * validators then hold (a malformed ticket is refused with code 121, a malformed
 * detection only warned about); drift is repaired; an unreachable server is a clear
 * failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/schema.h"
#include "tsscene.h"

typedef tsscene_t fixture_t;

static int
fixture_setup(void **state)
{
	return tsscene_setup(state, "ctlinit");
}

static void
ctl(fixture_t *f, tsrun_result_t *r, const char *uri_override, const char *const *args)
{
	char uri_env[1200];
	const char *env[] = { NULL, NULL };

	/* Ahead of the scene's own URI, so this one counts. */
	if (uri_override != NULL) {
		snprintf(uri_env, sizeof(uri_env), "TICKETSYNC_MONGODB_URI=%s", uri_override);
		env[0] = uri_env;
	}
	if (tsscene_ctl(f, r, &(tsrun_opts_t){ .env = env }, false, args) != 0)
		fail_msg("ticketsyncctl: %s", r->err);
}

#define CTL(f, r, ...) ctl((f), (r), NULL, (const char *const[]){ __VA_ARGS__, NULL })

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("output does not contain \"%s\":\n%s", needle, haystack);
}

/* listCollections' options of one collection (pool document), or NULL. */
static const bson_t *
coll_options(fixture_t *f, const char *name)
{
	bson_t reply;
	bson_error_t err;
	char json[256];
	const bson_t *opts;

	snprintf(json, sizeof(json), "{'listCollections': 1, 'filter': {'name': '%s'}}", name);
	if (!tsmongo_cmd(f->client, f->db, json, &reply, &err))
		fail_msg("listCollections: %s", err.message);
	opts = tsmongo_get_doc(&reply, "cursor.firstBatch.0.options");
	bson_destroy(&reply);
	return opts;
}

static int
index_count(fixture_t *f, const char *name)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, name);
	int n = tsmongo_index_count(coll);

	mongoc_collection_destroy(coll);
	return n;
}

static void
test_dry_run_writes_nothing(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;

	CTL(f, &r, "init", "--dry-run");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "replica set");
	assert_contains(r.out, "change streams available");
	assert_int_equal(tsrun_count_lines(r.out, "would create collection"), (int)schema_embedded_count);
	assert_contains(r.out, "would create index detection_ids_1 on");
	assert_contains(r.out, "dry run: nothing was changed");
	tsrun_free(&r);
	assert_false(tsmongo_has_database(f->client, f->db));
}

static void
test_init_twice_changes_nothing_the_second_time(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	const bson_t *o;
	int indexes;

	CTL(f, &r, "init");
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(tsrun_count_lines(r.out, "create collection"), (int)schema_embedded_count);
	indexes = tsrun_count_lines(r.out, "create index");
	assert_true(indexes >= 3);
	assert_int_equal(tsrun_count_lines(r.out, "would "), 0);
	tsrun_free(&r);

	/* ExtraHop's fire-and-forget writes only warn; our own collections refuse. */
	o = coll_options(f, "detections");
	assert_non_null(o);
	assert_string_equal(tsmongo_get_str(o, "validationAction"), "warn");
	assert_int_equal(tsmongo_get_type(o, "validator.$jsonSchema"), BSON_TYPE_DOCUMENT);
	for (const char *const *c = (const char *const[]){ "tickets", "ticketsync_state",
	         "ticketsync_audit", "ticketsync_checkpoints", NULL }; *c; c++) {
		o = coll_options(f, *c);
		assert_non_null(o);
		assert_string_equal(tsmongo_get_str(o, "validationAction"), "error");
	}
	assert_int_equal(index_count(f, "tickets"), 2); /* _id and detection_ids */

	CTL(f, &r, "init");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "nothing to change");
	assert_int_equal(tsrun_count_lines(r.out, "create"), 0);
	tsrun_free(&r);
	/* And a dry run now also has nothing to say. */
	CTL(f, &r, "init", "-n");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "nothing to change");
	tsrun_free(&r);
	assert_int_equal(index_count(f, "tickets"), 2);
}

static void
test_validators_hold_after_init(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	mongoc_collection_t *tickets, *detections;
	bson_error_t err;

	CTL(f, &r, "init");
	assert_int_equal(r.exit_code, 0);
	tsrun_free(&r);
	tickets = mongoc_client_get_collection(f->client, f->db, "tickets");
	detections = mongoc_client_get_collection(f->client, f->db, "detections");

	/* A well-formed ticket goes in. */
	assert_true(mongoc_collection_insert_one(tickets, tsmongo_json(
	    "{'_id': 'TK-1', 'detection_ids': [1], 'status': 'new', 'assignee': 'sally', 'resolution': null, 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}"),
	    NULL, NULL, &err));
	/* A malformed one written directly (detection_ids not an array) is refused. */
	assert_false(mongoc_collection_insert_one(tickets, tsmongo_json(
	    "{'_id': 'TK-2', 'detection_ids': 'nine', 'status': 'new', 'assignee': null, 'resolution': null, 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}"),
	    NULL, NULL, &err));
	assert_int_equal(err.code, 121);
	/* So is one without updated_at, or with a numeric ticket id. */
	assert_false(mongoc_collection_insert_one(tickets, tsmongo_json(
	    "{'_id': 'TK-3', 'detection_ids': [3], 'status': 'new', 'assignee': null, 'resolution': null}"),
	    NULL, NULL, &err));
	assert_int_equal(err.code, 121);
	assert_false(mongoc_collection_insert_one(tickets, tsmongo_json(
	    "{'_id': 4, 'detection_ids': [4], 'status': 'new', 'assignee': null, 'resolution': null, 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}"),
	    NULL, NULL, &err));
	assert_int_equal(err.code, 121);
	assert_int_equal(tsmongo_count(tickets, "{}"), 1);

	/* A malformed detection is only warned about: ExtraHop's write is not lost. */
	assert_true(mongoc_collection_insert_one(detections, tsmongo_json(
	    "{'_id': 5, 'title': 42, 'risk_score': 'high'}"), NULL, NULL, &err));
	assert_int_equal(tsmongo_count(detections, "{}"), 1);
	mongoc_collection_destroy(tickets);
	mongoc_collection_destroy(detections);
}

static void
test_drift_is_repaired(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	bson_error_t err;

	CTL(f, &r, "init");
	assert_int_equal(r.exit_code, 0);
	tsrun_free(&r);
	/* Someone loosened the tickets validator and dropped an audit index. */
	if (!tsmongo_cmd(f->client, f->db, "{'collMod': 'tickets', 'validator': {}, 'validationAction': 'warn'}", NULL, &err))
		fail_msg("collMod: %s", err.message);
	if (!tsmongo_cmd(f->client, f->db, "{'dropIndexes': 'ticketsync_audit', 'index': 'at_-1'}", NULL, &err))
		fail_msg("dropIndexes: %s", err.message);

	CTL(f, &r, "init", "--dry-run");
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(tsrun_count_lines(r.out, "would "), 2);
	assert_contains(r.out, "would create index at_-1");
	assert_contains(r.out, ".tickets");
	tsrun_free(&r);
	assert_string_equal(tsmongo_get_str(coll_options(f, "tickets"), "validationAction"), "warn");

	CTL(f, &r, "init");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "create index at_-1");
	tsrun_free(&r);
	assert_string_equal(tsmongo_get_str(coll_options(f, "tickets"), "validationAction"), "error");
	CTL(f, &r, "init");
	assert_contains(r.out, "nothing to change");
	tsrun_free(&r);
}

static void
test_unreachable_server_is_a_clear_failure(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;

	/* Nothing listens on port 1; a short selection timeout keeps the test quick. */
	ctl(f, &r, "mongodb://127.0.0.1:1/?replicaSet=rs0&serverSelectionTimeoutMS=300",
	    (const char *const[]){ "init", NULL });
	assert_int_equal(r.exit_code, 1);
	assert_contains(r.err, "ticketsyncctl init: ");
	assert_string_equal(r.out, "");
	tsrun_free(&r);
	/* A URI that is not one is a configuration error. */
	ctl(f, &r, "http://example.com/", (const char *const[]){ "init", NULL });
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "configuration error");
	tsrun_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_init_twice_changes_nothing_the_second_time, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_validators_hold_after_init, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_drift_is_repaired, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_server_is_a_clear_failure, fixture_setup, tsscene_teardown),
	};

	return cmocka_run_group_tests(tests, tsgroup_setup, tsgroup_teardown);
}
