/* Unit tests for the pure parts of schema: the embedded definitions, their parser and
 * the index comparison schema_ensure relies on to stay idempotent. No server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ticketsync/schema.h"
#include "ticketsync/store.h"

static bson_t *
json(const char *text)
{
	bson_error_t err;
	bson_t *b = bson_new_from_json((const uint8_t *)text, -1, &err);

	if (b == NULL)
		fail_msg("bad test JSON: %s", err.message);
	return b;
}

static bool
spec_has_index(const schema_spec_t *spec, const char *name, const char *key_json)
{
	bson_iter_t it;
	bson_t *want = json(key_json);
	bool found = false;

	bson_iter_init(&it, &spec->indexes);
	while (bson_iter_next(&it)) {
		const uint8_t *data;
		uint32_t len;
		bson_t index, probe = BSON_INITIALIZER;
		bson_iter_t f;

		bson_iter_document(&it, &len, &data);
		bson_init_static(&index, data, len);
		if (!bson_iter_init_find(&f, &index, "name") ||
		    strcmp(bson_iter_utf8(&f, NULL), name) != 0)
			continue;
		BSON_APPEND_DOCUMENT(&probe, "key", want);
		/* Compare the key only: build {key} and let schema_index_same judge, with
		 * the index's own options copied over. */
		if (bson_iter_init_find(&f, &index, "unique"))
			bson_append_iter(&probe, "unique", -1, &f);
		if (bson_iter_init_find(&f, &index, "partialFilterExpression"))
			bson_append_iter(&probe, "partialFilterExpression", -1, &f);
		found = schema_index_same(&index, &probe);
		bson_destroy(&probe);
	}
	bson_destroy(want);
	return found;
}

static void
test_every_embedded_schema_parses(void **state)
{
	(void)state;
	assert_int_equal(schema_embedded_count, 7); /* six collections + ticketsync_leases */
	for (size_t i = 0; i < schema_embedded_count; i++) {
		schema_spec_t spec;
		bson_error_t err;
		bson_iter_t it;

		assert_non_null(schema_embedded_json[i]);
		if (!schema_spec_load(schema_embedded_names[i], &spec, &err))
			fail_msg("%s: %s", schema_embedded_names[i], err.message);
		assert_string_equal(spec.name, schema_embedded_names[i]);
		assert_true(bson_iter_init_find(&it, &spec.validator, "$jsonSchema"));
		assert_true(BSON_ITER_HOLDS_DOCUMENT(&it));
		assert_string_equal(spec.validation_level, "strict");
		schema_spec_destroy(&spec);
	}
	assert_null(schema_embedded_names[schema_embedded_count]);
}

static void
test_validation_actions(void **state)
{
	static const char *const names[] = { STORE_COLL_DETECTIONS, STORE_COLL_TICKETS,
		STORE_COLL_STATE, STORE_COLL_AUDIT, STORE_COLL_CHECKPOINTS };
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		schema_spec_t spec;
		bson_error_t err;

		assert_true(schema_spec_load(names[i], &spec, &err));
		/* ExtraHop's writes are fire-and-forget: rejecting one would lose it unseen. */
		assert_string_equal(spec.validation_action, i == 0 ? "warn" : "error");
		schema_spec_destroy(&spec);
	}
}

static void
test_indexes_present(void **state)
{
	schema_spec_t spec;
	bson_error_t err;

	(void)state;
	assert_true(schema_spec_load(STORE_COLL_TICKETS, &spec, &err));
	assert_true(spec_has_index(&spec, "detection_ids_1", "{\"detection_ids\": 1}"));
	schema_spec_destroy(&spec);

	assert_true(schema_spec_load(STORE_COLL_AUDIT, &spec, &err));
	assert_true(spec_has_index(&spec, "detection_id_1_at_-1", "{\"detection_id\": 1, \"at\": -1}"));
	assert_true(spec_has_index(&spec, "ticket_id_1_at_-1", "{\"ticket_id\": 1, \"at\": -1}"));
	assert_true(spec_has_index(&spec, "at_-1", "{\"at\": -1}"));
	assert_true(spec_has_index(&spec, "event_1_at_-1", "{\"event\": 1, \"at\": -1}"));
	assert_false(spec_has_index(&spec, "at_-1", "{\"at\": 1}"));
	schema_spec_destroy(&spec);

	assert_true(schema_spec_load(STORE_COLL_STATE, &spec, &err));
	assert_true(spec_has_index(&spec, "state_1_next_attempt_at_1",
	    "{\"state\": 1, \"next_attempt_at\": 1}"));
	assert_true(spec_has_index(&spec, "claim_id_1", "{\"claim_id\": 1}"));
	schema_spec_destroy(&spec);
}

static void
test_unknown_collection(void **state)
{
	schema_spec_t spec;
	bson_error_t err;

	(void)state;
	assert_false(schema_spec_load("no_such_collection", &spec, &err));
	assert_non_null(strstr(err.message, "no_such_collection"));
	schema_spec_destroy(&spec);
}

static void
expect_parse_error(const char *text, const char *needle)
{
	schema_spec_t spec;
	bson_error_t err;

	assert_false(schema_spec_parse(text, &spec, &err));
	if (strstr(err.message, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err.message, needle);
	schema_spec_destroy(&spec);
}

static void
test_parse_rejects_malformed(void **state)
{
	(void)state;
	expect_parse_error("{not json", "");
	expect_parse_error("{\"validationLevel\": \"strict\", \"validationAction\": \"error\", "
	    "\"validator\": {\"a\": 1}, \"indexes\": []}", "collection");
	expect_parse_error("{\"collection\": \"c\", \"validationLevel\": \"strict\", "
	    "\"validationAction\": \"deny\", \"validator\": {\"a\": 1}, \"indexes\": []}",
	    "validationAction");
	expect_parse_error("{\"collection\": \"c\", \"validationLevel\": \"lax\", "
	    "\"validationAction\": \"error\", \"validator\": {\"a\": 1}, \"indexes\": []}",
	    "validationLevel");
	expect_parse_error("{\"collection\": \"c\", \"validationLevel\": \"strict\", "
	    "\"validationAction\": \"error\", \"validator\": {}, \"indexes\": []}", "validator");
	expect_parse_error("{\"collection\": \"c\", \"validationLevel\": \"strict\", "
	    "\"validationAction\": \"error\", \"validator\": {\"a\": 1}}", "indexes");
	expect_parse_error("{\"collection\": \"c\", \"validationLevel\": \"strict\", "
	    "\"validationAction\": \"error\", \"validator\": {\"a\": 1}, "
	    "\"indexes\": [{\"name\": \"x\"}]}", "key");
	expect_parse_error("{\"collection\": \"c\", \"validationLevel\": \"strict\", "
	    "\"validationAction\": \"error\", \"validator\": {\"a\": 1}, "
	    "\"indexes\": [{\"name\": \"x\", \"key\": {\"a\": 1}, \"sparse\": true}]}", "sparse");
}

static void
test_parse_accepts_minimal(void **state)
{
	schema_spec_t spec;
	bson_error_t err;

	(void)state;
	assert_true(schema_spec_parse("{\"collection\": \"c\", \"validationLevel\": \"moderate\", "
	    "\"validationAction\": \"warn\", \"validator\": {\"$jsonSchema\": {}}, "
	    "\"indexes\": [{\"name\": \"a_1\", \"key\": {\"a\": 1}, \"unique\": true}]}",
	    &spec, &err));
	assert_string_equal(spec.name, "c");
	assert_string_equal(spec.validation_level, "moderate");
	assert_string_equal(spec.validation_action, "warn");
	assert_int_equal(bson_count_keys(&spec.indexes), 1);
	schema_spec_destroy(&spec);
}

static void
expect_same(const char *a, const char *b, bool same)
{
	bson_t *x = json(a), *y = json(b);

	if (schema_index_same(x, y) != same)
		fail_msg("%s vs %s: expected %s", a, b, same ? "same" : "different");
	bson_destroy(x);
	bson_destroy(y);
}

static void
test_index_same(void **state)
{
	(void)state;
	/* Servers may return directions as int64 or double. */
	expect_same("{\"name\": \"a\", \"key\": {\"a\": 1, \"b\": -1}}",
	    "{\"name\": \"b\", \"key\": {\"a\": {\"$numberLong\": \"1\"}, \"b\": -1.0}}", true);
	expect_same("{\"key\": {\"a\": 1, \"b\": -1}}", "{\"key\": {\"a\": 1, \"b\": 1}}", false);
	expect_same("{\"key\": {\"a\": 1, \"b\": 1}}", "{\"key\": {\"b\": 1, \"a\": 1}}", false);
	expect_same("{\"key\": {\"a\": 1}}", "{\"key\": {\"a\": 1, \"b\": 1}}", false);
	expect_same("{\"key\": {\"a\": \"hashed\"}}", "{\"key\": {\"a\": \"hashed\"}}", true);
	expect_same("{\"key\": {\"a\": \"hashed\"}}", "{\"key\": {\"a\": 1}}", false);
	expect_same("{\"key\": {\"a\": 1}, \"unique\": true}", "{\"key\": {\"a\": 1}}", false);
	expect_same("{\"key\": {\"a\": 1}, \"unique\": false}", "{\"key\": {\"a\": 1}}", true);
	expect_same("{\"key\": {\"a\": 1}, \"partialFilterExpression\": {\"s\": \"x\"}}",
	    "{\"key\": {\"a\": 1}, \"partialFilterExpression\": {\"s\": \"x\"}}", true);
	expect_same("{\"key\": {\"a\": 1}, \"partialFilterExpression\": {\"s\": \"x\"}}",
	    "{\"key\": {\"a\": 1}, \"partialFilterExpression\": {\"s\": \"y\"}}", false);
	expect_same("{\"key\": {\"a\": 1}, \"partialFilterExpression\": {\"s\": \"x\"}}",
	    "{\"key\": {\"a\": 1}}", false);
	/* Extra server-side fields (v, ns) do not matter. */
	expect_same("{\"v\": 2, \"key\": {\"a\": 1}, \"name\": \"a_1\", \"ns\": \"d.c\"}",
	    "{\"key\": {\"a\": 1}, \"name\": \"a_1\"}", true);
}

static void
test_parse_version(void **state)
{
	int ma = -1, mi = -1;

	(void)state;
	assert_true(schema_parse_version("4.4.1", &ma, &mi));
	assert_int_equal(ma, 4);
	assert_int_equal(mi, 4);
	assert_true(schema_parse_version("7.0.2-rc0", &ma, &mi));
	assert_int_equal(ma, 7);
	assert_int_equal(mi, 0);
	assert_true(schema_parse_version("10.12", &ma, &mi));
	assert_int_equal(ma, 10);
	assert_int_equal(mi, 12);
	assert_false(schema_parse_version("", &ma, &mi));
	assert_false(schema_parse_version("4", &ma, &mi));
	assert_false(schema_parse_version("x.4", &ma, &mi));
	assert_false(schema_parse_version("4.", &ma, &mi));
	assert_false(schema_parse_version(NULL, &ma, &mi));
}

static void
test_service_collections(void **state)
{
	size_t n = 0;

	(void)state;
	for (; schema_service_collections[n] != NULL; n++) {
		schema_spec_t spec;
		bson_error_t err;

		/* The daemon never touches the collections other writers own. */
		assert_string_not_equal(schema_service_collections[n], STORE_COLL_DETECTIONS);
		assert_string_not_equal(schema_service_collections[n], STORE_COLL_TICKETS);
		assert_true(schema_spec_load(schema_service_collections[n], &spec, &err));
		schema_spec_destroy(&spec);
	}
	assert_int_equal(n, 5); /* state, create_state, audit, checkpoints, leases */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_embedded_schema_parses),
		cmocka_unit_test(test_validation_actions),
		cmocka_unit_test(test_indexes_present),
		cmocka_unit_test(test_unknown_collection),
		cmocka_unit_test(test_parse_rejects_malformed),
		cmocka_unit_test(test_parse_accepts_minimal),
		cmocka_unit_test(test_index_same),
		cmocka_unit_test(test_parse_version),
		cmocka_unit_test(test_service_collections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
