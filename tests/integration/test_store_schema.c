/*
 * schema_ensure and schema_check_deployment against a MongoDB server (the test
 * server, or TICKETSYNC_TEST_MONGODB_URI): idempotence, dry runs, validators that
 * really reject or only warn, repairs of drifted validators, and index conflicts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ticketsync/mongoerr.h"
#include "ticketsync/schema.h"
#include "ticketsync/store.h"
#include "tsstore.h"


typedef tsstore_fixture_t fixture_t;

/* An empty database: the tests below ensure the schema themselves. */
static int
setup(void **state)
{
	return tsstore_setup(state, "schema", TSSTORE_SCHEMA_NONE);
}

static void
ensure(fixture_t *f, const char *const *colls, bool dry, schema_plan_t *plan)
{
	bson_error_t err;

	schema_plan_init(plan);
	if (!schema_ensure(f->client, f->db, colls, dry, plan, &err))
		fail_msg("schema_ensure: %s", err.message);
}

static bool
plan_mentions(const schema_plan_t *plan, const char *a, const char *b)
{
	for (size_t i = 0; i < plan->n; i++)
		if (strstr(plan->lines[i], a) && (b == NULL || strstr(plan->lines[i], b)))
			return true;
	return false;
}

static void
print_plan(const schema_plan_t *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		printf("  plan: %s\n", plan->lines[i]);
}

static size_t
count_collections(fixture_t *f)
{
	mongoc_database_t *database = mongoc_client_get_database(f->client, f->db);
	bson_error_t err;
	char **names = mongoc_database_get_collection_names_with_opts(database, NULL, &err);
	size_t n = 0;

	if (names == NULL)
		fail_msg("listCollections: %s", err.message);
	while (names[n] != NULL)
		n++;
	bson_strfreev(names);
	mongoc_database_destroy(database);
	return n;
}

static bool
has_index(fixture_t *f, const char *coll_name, const char *index_name)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, coll_name);
	mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts(coll, NULL);
	const bson_t *doc;
	bson_iter_t it;
	bool found = false;

	while (mongoc_cursor_next(cursor, &doc))
		if (bson_iter_init_find(&it, doc, "name") &&
		    strcmp(bson_iter_utf8(&it, NULL), index_name) == 0)
			found = true;
	mongoc_cursor_destroy(cursor);
	mongoc_collection_destroy(coll);
	return found;
}

/* Insert a JSON document; returns the server error code (0 on success). */
static uint32_t
insert_json(fixture_t *f, const char *coll_name, const char *text)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, coll_name);
	bson_error_t err;
	bson_t *doc = bson_new_from_json((const uint8_t *)text, -1, &err);
	uint32_t code = 0;

	if (doc == NULL)
		fail_msg("bad test JSON: %s", err.message);
	if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &err))
		code = err.code ? err.code : 1;
	bson_destroy(doc);
	mongoc_collection_destroy(coll);
	return code;
}

static void
test_ensure_twice(void **state)
{
	fixture_t *f = *state;
	schema_plan_t plan;

	ensure(f, NULL, false, &plan);
	print_plan(&plan);
	/* Seven collections and every index of the schema files. */
	assert_true(plan_mentions(&plan, "create collection", ".detections"));
	assert_true(plan_mentions(&plan, "create collection", ".ticketsync_state"));
	assert_true(plan_mentions(&plan, "create index detection_ids_1", ".tickets"));
	assert_true(plan_mentions(&plan, "create index claim_id_1", ".ticketsync_state"));
	assert_true(plan_mentions(&plan, "create index event_1_at_-1", ".ticketsync_audit"));
	assert_true(plan_mentions(&plan, "create collection", ".ticketsync_leases"));
	assert_true(plan_mentions(&plan, "create collection", ".ticketsync_create_state"));
	assert_true(plan_mentions(&plan, "create index claim_id_1", ".ticketsync_create_state"));
	assert_int_equal(plan.n, 7 + 1 + 2 + 2 + 4);
	schema_plan_destroy(&plan);
	assert_int_equal(count_collections(f), 7);
	assert_true(has_index(f, STORE_COLL_TICKETS, "detection_ids_1"));
	assert_true(has_index(f, STORE_COLL_AUDIT, "at_-1"));
	assert_true(has_index(f, STORE_COLL_STATE, "state_1_next_attempt_at_1"));

	ensure(f, NULL, false, &plan);
	print_plan(&plan);
	assert_int_equal(plan.n, 0);
	schema_plan_destroy(&plan);
	ensure(f, NULL, true, &plan);
	assert_int_equal(plan.n, 0);
	schema_plan_destroy(&plan);
}

static void
test_dry_run_writes_nothing(void **state)
{
	fixture_t *f = *state;
	schema_plan_t dry, real;

	ensure(f, NULL, true, &dry);
	assert_int_equal(count_collections(f), 0);
	ensure(f, NULL, false, &real);
	/* The dry run announced exactly what the real run then did. */
	assert_int_equal(dry.n, real.n);
	for (size_t i = 0; i < dry.n; i++)
		assert_string_equal(dry.lines[i], real.lines[i]);
	schema_plan_destroy(&dry);
	schema_plan_destroy(&real);
}

static void
test_service_only_leaves_foreign_collections(void **state)
{
	fixture_t *f = *state;
	schema_plan_t plan;
	mongoc_database_t *database = mongoc_client_get_database(f->client, f->db);
	mongoc_collection_t *c;
	bson_error_t err;

	/* detections already exists without validator (an ExtraHop deployment). */
	c = mongoc_database_create_collection(database, STORE_COLL_DETECTIONS, NULL, &err);
	assert_non_null(c);
	mongoc_collection_destroy(c);
	mongoc_database_destroy(database);

	ensure(f, schema_service_collections, false, &plan);
	/* (trailing blanks: ".tickets" is also a prefix of ".ticketsync_...") */
	assert_false(plan_mentions(&plan, ".detections ", NULL));
	assert_false(plan_mentions(&plan, ".tickets ", NULL));
	assert_true(plan_mentions(&plan, "create collection", ".ticketsync_checkpoints"));
	assert_true(plan_mentions(&plan, "create collection", ".ticketsync_leases"));
	schema_plan_destroy(&plan);
	assert_int_equal(count_collections(f), 6);
	/* Still no validator on detections: anything goes in. */
	assert_int_equal(insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": \"junk\"}"), 0);

	/* init (all) then adds the validator to the existing collection. */
	ensure(f, NULL, false, &plan);
	print_plan(&plan);
	assert_true(plan_mentions(&plan, "add validator of", ".detections "));
	assert_true(plan_mentions(&plan, "create collection", ".tickets "));
	schema_plan_destroy(&plan);
}

static void
test_ticket_validator(void **state)
{
	fixture_t *f = *state;
	schema_plan_t plan;

	ensure(f, NULL, false, &plan);
	schema_plan_destroy(&plan);
	assert_int_equal(insert_json(f, STORE_COLL_TICKETS,
	    "{\"_id\": \"JIRA-1\", \"detection_ids\": [1, {\"$numberLong\": \"2\"}, 3.0], "
	    "\"status\": \"In Progress\", \"assignee\": \"alice\", \"resolution\": null, "
	    "\"updated_at\": {\"$date\": \"2024-01-01T00:00:00Z\"}, \"source\": \"jira\"}"), 0);
	/* detection_ids must be numbers. */
	assert_int_equal(insert_json(f, STORE_COLL_TICKETS,
	    "{\"_id\": \"JIRA-2\", \"detection_ids\": [\"1\"], \"status\": \"Done\", "
	    "\"assignee\": null, \"resolution\": \"Fixed\", "
	    "\"updated_at\": {\"$date\": \"2024-01-01T00:00:00Z\"}}"),
	    MONGOERR_DOCUMENT_VALIDATION_FAILURE);
	/* updated_at must be a date, not a string. */
	assert_int_equal(insert_json(f, STORE_COLL_TICKETS,
	    "{\"_id\": \"JIRA-3\", \"detection_ids\": [1], \"status\": \"Done\", "
	    "\"assignee\": null, \"resolution\": null, \"updated_at\": \"yesterday\"}"),
	    MONGOERR_DOCUMENT_VALIDATION_FAILURE);
	/* status is required. */
	assert_int_equal(insert_json(f, STORE_COLL_TICKETS,
	    "{\"_id\": \"JIRA-4\", \"detection_ids\": [1], \"assignee\": null, "
	    "\"resolution\": null, \"updated_at\": {\"$date\": \"2024-01-01T00:00:00Z\"}}"),
	    MONGOERR_DOCUMENT_VALIDATION_FAILURE);
	/* _id is the ticket id string. */
	assert_int_equal(insert_json(f, STORE_COLL_TICKETS,
	    "{\"_id\": 5, \"detection_ids\": [1], \"status\": \"New\", \"assignee\": null, "
	    "\"resolution\": null, \"updated_at\": {\"$date\": \"2024-01-01T00:00:00Z\"}}"),
	    MONGOERR_DOCUMENT_VALIDATION_FAILURE);
}

static void
test_detections_warn_only(void **state)
{
	fixture_t *f = *state;
	schema_plan_t plan;
	bson_t doc;
	bool found;
	bson_error_t err;

	ensure(f, NULL, false, &plan);
	schema_plan_destroy(&plan);
	/* Malformed for the validator (title a number, no type): stored anyway, since
	 * ExtraHop's trigger could never see a rejection. */
	assert_int_equal(insert_json(f, STORE_COLL_DETECTIONS,
	    "{\"_id\": 42, \"title\": 17, \"status\": \"weird\"}"), 0);
	assert_true(tsstore_find_id(f->client, f->db, STORE_COLL_DETECTIONS, 42, &doc, &found, &err));
	assert_true(found);
	bson_destroy(&doc);
}

static void
test_service_validators_reject(void **state)
{
	fixture_t *f = *state;
	schema_plan_t plan;

	ensure(f, NULL, false, &plan);
	schema_plan_destroy(&plan);
	assert_int_equal(insert_json(f, STORE_COLL_STATE,
	    "{\"_id\": 1, \"state\": \"pending\"}"), MONGOERR_DOCUMENT_VALIDATION_FAILURE);
	assert_int_equal(insert_json(f, STORE_COLL_AUDIT,
	    "{\"at\": {\"$date\": \"2024-01-01T00:00:00Z\"}, \"event\": \"Bad Event\"}"),
	    MONGOERR_DOCUMENT_VALIDATION_FAILURE);
	assert_int_equal(insert_json(f, STORE_COLL_CHECKPOINTS,
	    "{\"_id\": \"watcher\", \"token\": \"not a document\", "
	    "\"saved_at\": {\"$date\": \"2024-01-01T00:00:00Z\"}}"), MONGOERR_DOCUMENT_VALIDATION_FAILURE);
}

static void
test_drifted_validator_repaired(void **state)
{
	fixture_t *f = *state;
	schema_plan_t plan;
	mongoc_database_t *database = mongoc_client_get_database(f->client, f->db);
	bson_error_t err;
	bson_t *cmd;

	ensure(f, NULL, false, &plan);
	schema_plan_destroy(&plan);
	/* Someone loosens the tickets validator and switches it to warn. */
	cmd = bson_new_from_json((const uint8_t *)"{\"collMod\": \"tickets\", "
	    "\"validator\": {\"$jsonSchema\": {\"bsonType\": \"object\"}}, "
	    "\"validationAction\": \"warn\"}", -1, &err);
	assert_non_null(cmd);
	if (!mongoc_database_write_command_with_opts(database, cmd, NULL, NULL, &err))
		fail_msg("collMod: %s", err.message);
	bson_destroy(cmd);
	mongoc_database_destroy(database);
	assert_int_equal(insert_json(f, STORE_COLL_TICKETS, "{\"_id\": \"X-1\"}"), 0);

	ensure(f, NULL, true, &plan);
	assert_int_equal(plan.n, 1);
	assert_true(plan_mentions(&plan, "update validator of", ".tickets"));
	assert_true(plan_mentions(&plan, "validationAction warn -> error", NULL));
	schema_plan_destroy(&plan);
	ensure(f, NULL, false, &plan);
	assert_int_equal(plan.n, 1);
	schema_plan_destroy(&plan);
	assert_int_equal(insert_json(f, STORE_COLL_TICKETS, "{\"_id\": \"X-2\"}"),
	    MONGOERR_DOCUMENT_VALIDATION_FAILURE);
	ensure(f, NULL, false, &plan);
	assert_int_equal(plan.n, 0);
	schema_plan_destroy(&plan);
}

static void
test_conflicting_index_reported(void **state)
{
	fixture_t *f = *state;
	mongoc_database_t *database = mongoc_client_get_database(f->client, f->db);
	schema_plan_t plan;
	bson_error_t err;
	bson_t *cmd;

	/* An index named like ours but on another key: never dropped behind the
	 * operator's back. */
	cmd = bson_new_from_json((const uint8_t *)"{\"createIndexes\": \"tickets\", "
	    "\"indexes\": [{\"name\": \"detection_ids_1\", \"key\": {\"status\": 1}}]}", -1, &err);
	assert_non_null(cmd);
	if (!mongoc_database_write_command_with_opts(database, cmd, NULL, NULL, &err))
		fail_msg("createIndexes: %s", err.message);
	bson_destroy(cmd);
	/* Our index under another name counts as present. */
	cmd = bson_new_from_json((const uint8_t *)"{\"createIndexes\": \"ticketsync_audit\", "
	    "\"indexes\": [{\"name\": \"by_time\", \"key\": {\"at\": -1}}]}", -1, &err);
	assert_non_null(cmd);
	if (!mongoc_database_write_command_with_opts(database, cmd, NULL, NULL, &err))
		fail_msg("createIndexes: %s", err.message);
	bson_destroy(cmd);
	mongoc_database_destroy(database);

	schema_plan_init(&plan);
	assert_false(schema_ensure(f->client, f->db, NULL, false, &plan, &err));
	assert_non_null(strstr(err.message, "detection_ids_1"));
	assert_non_null(strstr(err.message, "dropIndex"));
	schema_plan_destroy(&plan);

	ensure(f, schema_service_collections, false, &plan);
	assert_false(plan_mentions(&plan, "index at_-1 ", NULL));
	schema_plan_destroy(&plan);
	assert_false(has_index(f, STORE_COLL_AUDIT, "at_-1"));
}

static void
test_unknown_collection_and_bad_db(void **state)
{
	fixture_t *f = *state;
	const char *const bogus[] = { "ticketsync_state", "nope", NULL };
	schema_plan_t plan;
	bson_error_t err;

	schema_plan_init(&plan);
	assert_false(schema_ensure(f->client, f->db, bogus, false, &plan, &err));
	assert_non_null(strstr(err.message, "nope"));
	schema_plan_destroy(&plan);
	assert_false(schema_ensure(f->client, "bad.name", NULL, true, NULL, &err));
	assert_non_null(strstr(err.message, "bad.name"));
}

static void
test_check_deployment(void **state)
{
	fixture_t *f = *state;
	schema_deployment_t info;
	bson_error_t err;

	if (!schema_check_deployment(f->client, &info, &err))
		fail_msg("check_deployment: %s", err.message);
	assert_true(info.replica_set || info.sharded);
	assert_true(info.major > 4 || (info.major == 4 && info.minor >= 4));
	assert_true(info.version[0] != '\0');
	printf("  deployment: %s %s, MongoDB %s, wire %d\n",
	    info.sharded ? "sharded" : "replica set", info.set_name, info.version,
	    info.max_wire_version);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ensure_twice, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_service_only_leaves_foreign_collections, setup,
		    tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_ticket_validator, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_detections_warn_only, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_service_validators_reject, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_drifted_validator_repaired, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_conflicting_index_reported, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_collection_and_bad_db, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_check_deployment, setup, tsstore_teardown),
	};

	return cmocka_run_group_tests(tests, tsstore_group_setup, tsstore_group_teardown);
}
