/*
 * store: the pool and the watcher's read helpers against a MongoDB server (the test
 * server, or TICKETSYNC_TEST_MONGODB_URI), with ids stored the way ExtraHop's trigger
 * may store them (int32, int64, double); plus the store's pure helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ticketsync/schema.h"
#include "ticketsync/store.h"
#include "ticketsync/text.h"
#include "tsstore.h"

typedef tsstore_fixture_t fixture_t;

static int
setup(void **state)
{
	/* Service collections only: detections and tickets stay validator-free here, so
	 * the odd ids below are stored without the server logging warnings. */
	return tsstore_setup(state, "read", TSSTORE_SCHEMA_SERVICE);
}

static void
insert_json(fixture_t *f, const char *coll_name, const char *text)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, coll_name);
	bson_error_t err;
	bson_t *doc = bson_new_from_json((const uint8_t *)text, -1, &err);

	if (doc == NULL)
		fail_msg("bad test JSON: %s", err.message);
	if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &err))
		fail_msg("insert %s: %s", text, err.message);
	bson_destroy(doc);
	mongoc_collection_destroy(coll);
}

static const char *
doc_str(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	return bson_iter_utf8(&it, NULL);
}

/* ---- pure helpers ---- */

static void
test_db_names(void **state)
{
	bson_error_t err;
	char long_name[80];

	(void)state;
	assert_true(store_db_name_valid("extrahop", &err));
	assert_true(store_db_name_valid("a_b-c1", &err));
	assert_false(store_db_name_valid("", &err));
	assert_false(store_db_name_valid(NULL, &err));
	assert_false(store_db_name_valid("a.b", &err));
	assert_false(store_db_name_valid("a b", &err));
	assert_false(store_db_name_valid("a$b", &err));
	assert_false(store_db_name_valid("a/b", &err));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(store_db_name_valid(long_name, &err));
	assert_non_null(strstr(err.message, "63"));
}

static void
test_store_new_errors(void **state)
{
	bson_error_t err;

	(void)state;
	assert_null(store_new("not-a-uri", "extrahop", &err));
	assert_null(store_new("", "extrahop", &err));
	assert_null(store_new("mongodb://localhost:1/", "bad.db", &err));
	assert_non_null(strstr(err.message, "bad.db"));
}

static void
test_iter_int64(void **state)
{
	bson_t *doc = bson_new_from_json((const uint8_t *)"{\"a\": 5, \"b\": {\"$numberLong\": "
	    "\"9007199254740993\"}, \"c\": 7.0, \"d\": 7.5, \"e\": \"7\", \"f\": 1e300, "
	    "\"g\": -3.0}", -1, NULL);
	bson_iter_t it;
	int64_t v;

	(void)state;
	assert_non_null(doc);
	assert_true(bson_iter_init_find(&it, doc, "a") && store_iter_int64(&it, &v));
	assert_int_equal(v, 5);
	assert_true(bson_iter_init_find(&it, doc, "b") && store_iter_int64(&it, &v));
	assert_int_equal(v, 9007199254740993LL);
	assert_true(bson_iter_init_find(&it, doc, "c") && store_iter_int64(&it, &v));
	assert_int_equal(v, 7);
	assert_true(bson_iter_init_find(&it, doc, "g") && store_iter_int64(&it, &v));
	assert_int_equal(v, -3);
	assert_true(bson_iter_init_find(&it, doc, "d"));
	assert_false(store_iter_int64(&it, &v));
	assert_true(bson_iter_init_find(&it, doc, "e"));
	assert_false(store_iter_int64(&it, &v));
	assert_true(bson_iter_init_find(&it, doc, "f"));
	assert_false(store_iter_int64(&it, &v));
	bson_destroy(doc);
}

static void
test_text_sanitize(void **state)
{
	char out[16];

	(void)state;
	text_sanitize(out, sizeof(out), "plain", TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	assert_string_equal(out, "plain");
	text_sanitize(out, sizeof(out), NULL, TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	assert_string_equal(out, "");
	/* Invalid bytes, a lone continuation byte, an overlong '/' and a surrogate. */
	text_sanitize(out, sizeof(out), "a\xff" "b\x80" "c\xc0\xaf" "d", TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	assert_string_equal(out, "a?b?c??d");
	text_sanitize(out, sizeof(out), "\xed\xa0\x80", TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	assert_string_equal(out, "???");
	/* Fits exactly (15 bytes): no cut. */
	text_sanitize(out, sizeof(out), "123456789012345", TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	assert_string_equal(out, "123456789012345");
	text_sanitize(out, sizeof(out), "1234567890123456", TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	assert_string_equal(out, "123456789012...");
	/* Never cut inside a character: "é" is two bytes at offsets 11-12. */
	text_sanitize(out, sizeof(out), "12345678901\xc3\xa9" "4567", TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	assert_string_equal(out, "12345678901...");
	text_sanitize(out, sizeof(out), "1234567890\xc3\xa9" "34567", TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	assert_string_equal(out, "1234567890\xc3\xa9...");
	assert_true(bson_utf8_validate(out, strlen(out), false));
	/* A 4-byte character that does not fit ends the text. */
	text_sanitize(out, sizeof(out), "12345678901234\xf0\x9f\x98\x80", TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	assert_string_equal(out, "123456789012...");
}

/* ---- reads ---- */

static void
test_load_detection_any_numeric_id(void **state)
{
	fixture_t *f = *state;
	bson_t doc;
	bool found;
	bson_error_t err;

	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": 101, \"title\": \"int32\"}");
	insert_json(f, STORE_COLL_DETECTIONS,
	    "{\"_id\": {\"$numberLong\": \"4294967396\"}, \"title\": \"int64\"}");
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": 103.0, \"title\": \"double\"}");
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": \"104\", \"title\": \"string\"}");

	assert_true(tsstore_find_id(f->client, f->db, STORE_COLL_DETECTIONS,
	    101, &doc, &found, &err));
	assert_true(found);
	assert_string_equal(doc_str(&doc, "title"), "int32");
	bson_destroy(&doc);
	assert_true(tsstore_find_id(f->client, f->db, STORE_COLL_DETECTIONS,
	    4294967396LL, &doc, &found, &err));
	assert_true(found);
	assert_string_equal(doc_str(&doc, "title"), "int64");
	bson_destroy(&doc);
	assert_true(tsstore_find_id(f->client, f->db, STORE_COLL_DETECTIONS,
	    103, &doc, &found, &err));
	assert_true(found);
	assert_string_equal(doc_str(&doc, "title"), "double");
	bson_destroy(&doc);
	/* A string id is not the number. */
	assert_true(tsstore_find_id(f->client, f->db, STORE_COLL_DETECTIONS,
	    104, &doc, &found, &err));
	assert_false(found);
	assert_true(bson_empty(&doc));
	bson_destroy(&doc);
}

typedef struct collected {
	char ids[16][32];
	size_t n;
	size_t stop_after; /* 0 = never */
} collected_t;

static bool
collect_ids(const bson_t *doc, void *ctx)
{
	collected_t *c = ctx;
	bson_iter_t it;

	assert_true(bson_iter_init_find(&it, doc, "_id"));
	if (c->n < 16) {
		if (BSON_ITER_HOLDS_UTF8(&it))
			snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", bson_iter_utf8(&it, NULL));
		else
			snprintf(c->ids[c->n], sizeof(c->ids[0]), "%g", bson_iter_as_double(&it));
	}
	c->n++;
	return c->stop_after == 0 || c->n < c->stop_after;
}

static void
test_tickets_for_detection(void **state)
{
	fixture_t *f = *state;
	collected_t c = { 0 };
	bson_error_t err;
	size_t n;
	const char *tail = "\"status\": \"Open\", \"assignee\": null, \"resolution\": null, "
	                   "\"updated_at\": {\"$date\": \"2024-01-01T00:00:00Z\"}}";
	char buf[512];

	snprintf(buf, sizeof(buf), "{\"_id\": \"B-2\", \"detection_ids\": [7, 8], %s", tail);
	insert_json(f, STORE_COLL_TICKETS, buf);
	snprintf(buf, sizeof(buf), "{\"_id\": \"A-1\", \"detection_ids\": "
	    "[{\"$numberLong\": \"8\"}], %s", tail);
	insert_json(f, STORE_COLL_TICKETS, buf);
	snprintf(buf, sizeof(buf), "{\"_id\": \"C-3\", \"detection_ids\": [8.0, 9], %s", tail);
	insert_json(f, STORE_COLL_TICKETS, buf);
	snprintf(buf, sizeof(buf), "{\"_id\": \"D-4\", \"detection_ids\": [80], %s", tail);
	insert_json(f, STORE_COLL_TICKETS, buf);

	assert_true(tsstore_tickets_for(f->client, f->db, 8, collect_ids, &c, &n,
	    &err));
	assert_int_equal(n, 3);
	assert_string_equal(c.ids[0], "A-1");
	assert_string_equal(c.ids[1], "B-2");
	assert_string_equal(c.ids[2], "C-3");

	memset(&c, 0, sizeof(c));
	assert_true(tsstore_tickets_for(f->client, f->db, 10, collect_ids, &c, &n,
	    &err));
	assert_int_equal(n, 0);

	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	assert_true(tsstore_tickets_for(f->client, f->db, 8, collect_ids, &c, &n,
	    &err));
	assert_int_equal(n, 1);
}

static void
test_scan_detections_paged(void **state)
{
	fixture_t *f = *state;
	collected_t c = { 0 };
	bson_error_t err;
	int64_t next;
	bool done;
	size_t n;

	/* Mixed numeric types, a fractional and a non-numeric id, out of order. */
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": 5}");
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": {\"$numberLong\": \"2\"}}");
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": 3.0}");
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": 3.5}");
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": 1}");
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": \"x\"}");
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": 8}");

	assert_true(store_scan_detections(f->client, f->db, 0, 2, collect_ids, &c, &next,
	    &done, &n, &err));
	assert_int_equal(n, 2);
	assert_false(done);
	assert_int_equal(next, 3);
	assert_true(store_scan_detections(f->client, f->db, next, 2, collect_ids, &c, &next,
	    &done, &n, &err));
	assert_int_equal(n, 2);
	assert_false(done);
	/* The page ended on 3.5: the next one starts past it, not at it again. */
	assert_int_equal(next, 4);
	assert_true(store_scan_detections(f->client, f->db, next, 2, collect_ids, &c, &next,
	    &done, &n, &err));
	assert_int_equal(n, 2);
	assert_int_equal(next, 9);
	assert_true(store_scan_detections(f->client, f->db, next, 2, collect_ids, &c, &next,
	    &done, &n, &err));
	assert_int_equal(n, 0);
	assert_true(done);
	assert_int_equal(c.n, 6);
	assert_string_equal(c.ids[0], "1");
	assert_string_equal(c.ids[1], "2");
	assert_string_equal(c.ids[2], "3");
	assert_string_equal(c.ids[3], "3.5");
	assert_string_equal(c.ids[4], "5");
	assert_string_equal(c.ids[5], "8");

	/* A short page is the last one; a callback that stops early resumes after the
	 * document it saw last. */
	memset(&c, 0, sizeof(c));
	assert_true(store_scan_detections(f->client, f->db, 4, 10, collect_ids, &c, &next, &done,
	    &n, &err));
	assert_int_equal(n, 2);
	assert_true(done);
	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	assert_true(store_scan_detections(f->client, f->db, 4, 10, collect_ids, &c, &next, &done,
	    &n, &err));
	assert_int_equal(n, 1);
	assert_false(done);
	assert_int_equal(next, 6);

	assert_false(store_scan_detections(f->client, f->db, 0, 0, collect_ids, &c, &next, &done,
	    &n, &err));
}

/* INT64_MIN is the documented "from the beginning": every number is >= it, negative
 * (invalid) ids included, so a rescan misses nothing. */
static void
test_scan_from_int64_min(void **state)
{
	fixture_t *f = *state;
	collected_t c = { 0 };
	bson_error_t err;
	int64_t next;
	bool done;
	size_t n;

	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": 2}");
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": -1}");
	insert_json(f, STORE_COLL_DETECTIONS, "{\"_id\": {\"$numberLong\": \"9007199254740993\"}}");
	assert_true(store_scan_detections(f->client, f->db, INT64_MIN, 10, collect_ids, &c, &next,
	    &done, &n, &err));
	assert_int_equal(n, 3);
	assert_true(done);
	assert_string_equal(c.ids[0], "-1");
	assert_string_equal(c.ids[1], "2");
	assert_int_equal(next, 9007199254740994LL);
}

static void
test_load_pushed_absent_and_corrupt(void **state)
{
	fixture_t *f = *state;
	store_pushed_t st;
	bson_error_t err;
	bson_t *doc;

	assert_true(tsstore_pushed(f->client, f->db, 77, &st, &err));
	assert_false(st.found);

	/* store_pushed_from_doc on a document the validator would refuse. */
	doc = bson_new_from_json((const uint8_t *)"{\"_id\": 1, \"desired\": {\"status\": "
	    "\"bogus\"}, \"version\": 1}", -1, NULL);
	assert_non_null(doc);
	assert_false(store_pushed_from_doc(doc, &st, &err));
	assert_non_null(strstr(err.message, "desired"));
	bson_destroy(doc);
	doc = bson_new_from_json((const uint8_t *)"{\"_id\": 1, \"desired\": {\"status\": "
	    "\"new\", \"ticket_id\": \"T\"}, \"baseline\": {}, \"version\": 4, "
	    "\"state\": \"pending\"}", -1, NULL);
	assert_true(store_pushed_from_doc(doc, &st, &err));
	assert_true(st.found);
	assert_false(st.has_pushed);
	assert_int_equal(st.version, 4);
	assert_int_equal(st.desired.status, FIELDS_STATUS_NEW);
	assert_int_equal(st.shown.status, FIELDS_STATUS_NULL);
	assert_string_equal(st.state, "pending");
	bson_destroy(doc);
}

static void
test_pool_threads_get_own_clients(void **state)
{
	fixture_t *f = *state;
	mongoc_client_t *a = store_pop(tsstore_pool()), *b = store_pop(tsstore_pool());
	bson_t doc;
	bool found;
	bson_error_t err;

	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_ptr_not_equal(a, f->client);
	assert_true(tsstore_find_id(a, f->db, STORE_COLL_DETECTIONS, 1, &doc, &found, &err));
	bson_destroy(&doc);
	store_push(tsstore_pool(), a);
	store_push(tsstore_pool(), b);
	store_push(tsstore_pool(), NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_db_names),
		cmocka_unit_test(test_store_new_errors),
		cmocka_unit_test(test_iter_int64),
		cmocka_unit_test(test_text_sanitize),
		cmocka_unit_test_setup_teardown(test_load_detection_any_numeric_id, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_tickets_for_detection, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_scan_detections_paged, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_scan_from_int64_min, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_load_pushed_absent_and_corrupt, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_pool_threads_get_own_clients, setup, tsstore_teardown),
	};

	return cmocka_run_group_tests(tests, tsstore_group_setup, tsstore_group_teardown);
}
