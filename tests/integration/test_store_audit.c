/*
 * audit and checkpoint against a MongoDB server (the test server, or
 * TICKETSYNC_TEST_MONGODB_URI): records as written and found again by detection,
 * ticket, event and time; resume tokens saved, replaced and loaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ticketsync/clock.h"
#include "ticketsync/audit.h"
#include "ticketsync/checkpoint.h"
#include "ticketsync/schema.h"
#include "ticketsync/store.h"
#include "tsstore.h"

#define T0 1700000000000LL

typedef tsstore_fixture_t fixture_t;

static int
setup(void **state)
{
	return tsstore_setup(state, "audit", TSSTORE_SCHEMA_SERVICE);
}

typedef struct seen {
	bson_t docs[32];
	size_t n;
	size_t stop_after;
} seen_t;

static bool
keep(const bson_t *doc, void *ctx)
{
	seen_t *s = ctx;

	assert_true(s->n < 32);
	bson_copy_to(doc, &s->docs[s->n++]);
	return s->stop_after == 0 || s->n < s->stop_after;
}

static void
seen_clear(seen_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		bson_destroy(&s->docs[i]);
	memset(s, 0, sizeof(*s));
}

static const char *
doc_str(const bson_t *doc, const char *path)
{
	bson_iter_t it, d;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &d) ||
	    !BSON_ITER_HOLDS_UTF8(&d))
		return NULL;
	return bson_iter_utf8(&d, NULL);
}

static bson_type_t
doc_type(const bson_t *doc, const char *path)
{
	bson_iter_t it, d;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &d))
		return BSON_TYPE_EOD;
	return bson_iter_type(&d);
}

static int64_t
doc_int(const bson_t *doc, const char *path)
{
	bson_iter_t it, d;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &d))
		return -12345;
	if (BSON_ITER_HOLDS_DATE_TIME(&d))
		return bson_iter_date_time(&d);
	return bson_iter_as_int64(&d);
}

static void
query(fixture_t *f, const audit_query_t *q, seen_t *s)
{
	bson_error_t err;
	size_t n;

	if (!audit_query(f->client, f->db, q, keep, s, &n, &err))
		fail_msg("audit_query: %s", err.message);
	assert_int_equal(n, s->n);
}

static void
test_append_one_full_record(void **state)
{
	fixture_t *f = *state;
	fields_t sent;
	bson_t sent_doc = BSON_INITIALIZER;
	bson_t detail = BSON_INITIALIZER;
	audit_record_t r = { 0 };
	audit_query_t q = { 0 };
	seen_t s = { 0 };
	bson_error_t err;

	fields_init(&sent);
	fields_set_ticket_id(&sent, "JIRA-9");
	sent.status = FIELDS_STATUS_CLOSED;
	sent.resolution = FIELDS_RESOLUTION_ACTION_TAKEN;
	BSON_APPEND_UTF8(&detail, "url", "https://eh.example/api/v1/detections/9");
	r.at_ms = T0;
	r.event = AUDIT_PUSHED;
	r.has_detection_id = true;
	r.detection_id = 9;
	r.ticket_id = "JIRA-9";
	r.version = 3;
	r.attempt = 2;
	r.http_status = 204;
	fields_append_members(&sent_doc, &sent, FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_RESOLUTION);
	r.fields = &sent_doc;
	r.message = "ok";
	r.instance = "host-1:123";
	r.detail = &detail;
	if (!audit_append(f->client, f->db, &r, &err))
		fail_msg("append: %s", err.message);
	bson_destroy(&detail);
	bson_destroy(&sent_doc);

	q.has_detection_id = true;
	q.detection_id = 9;
	query(f, &q, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(doc_type(&s.docs[0], "_id"), BSON_TYPE_OID);
	assert_int_equal(doc_int(&s.docs[0], "at"), T0);
	assert_string_equal(doc_str(&s.docs[0], "event"), "pushed");
	assert_int_equal(doc_type(&s.docs[0], "detection_id"), BSON_TYPE_INT64);
	assert_int_equal(doc_int(&s.docs[0], "detection_id"), 9);
	assert_string_equal(doc_str(&s.docs[0], "ticket_id"), "JIRA-9");
	assert_int_equal(doc_int(&s.docs[0], "version"), 3);
	assert_int_equal(doc_int(&s.docs[0], "attempt"), 2);
	assert_int_equal(doc_int(&s.docs[0], "http_status"), 204);
	/* Only the fields sent, as in the PATCH body. */
	assert_string_equal(doc_str(&s.docs[0], "fields.ticket_id"), "JIRA-9");
	assert_string_equal(doc_str(&s.docs[0], "fields.status"), "closed");
	assert_string_equal(doc_str(&s.docs[0], "fields.resolution"), "action_taken");
	assert_int_equal(doc_type(&s.docs[0], "fields.assignee"), BSON_TYPE_EOD);
	assert_string_equal(doc_str(&s.docs[0], "message"), "ok");
	assert_string_equal(doc_str(&s.docs[0], "instance"), "host-1:123");
	assert_string_equal(doc_str(&s.docs[0], "detail.url"),
	    "https://eh.example/api/v1/detections/9");
	seen_clear(&s);
}

static void
test_minimal_record_and_bad_events(void **state)
{
	fixture_t *f = *state;
	audit_record_t r = { .event = AUDIT_HISTORY_LOST, .message = "token fell off the oplog" };
	audit_query_t q = { .event = AUDIT_HISTORY_LOST };
	seen_t s = { 0 };
	bson_error_t err;
	int64_t before = clock_wall_ms();

	assert_true(audit_append(f->client, f->db, &r, &err));
	query(f, &q, &s);
	assert_int_equal(s.n, 1);
	/* at defaults to now; absent members are left out, not written as null. */
	assert_true(doc_int(&s.docs[0], "at") >= before);
	assert_int_equal(doc_type(&s.docs[0], "detection_id"), BSON_TYPE_EOD);
	assert_int_equal(doc_type(&s.docs[0], "http_status"), BSON_TYPE_EOD);
	assert_int_equal(doc_type(&s.docs[0], "fields"), BSON_TYPE_EOD);
	seen_clear(&s);

	r.event = "Bad-Event";
	assert_false(audit_append(f->client, f->db, &r, &err));
	assert_non_null(strstr(err.message, "Bad-Event"));
	r.event = NULL;
	assert_false(audit_append(f->client, f->db, &r, &err));
	r.event = "";
	assert_false(audit_append(f->client, f->db, &r, &err));
}

static void
test_batch_and_queries(void **state)
{
	fixture_t *f = *state;
	audit_record_t recs[12];
	audit_query_t q;
	seen_t s = { 0 };
	bson_error_t err;

	/* 12 records: detections 1..3, tickets A/B, one per 10 ms. */
	for (int i = 0; i < 12; i++) {
		recs[i] = (audit_record_t){ 0 };
		recs[i].at_ms = T0 + i * 10;
		recs[i].event = i % 4 == 3 ? AUDIT_PARKED : AUDIT_RETRY;
		recs[i].has_detection_id = true;
		recs[i].detection_id = 1 + i % 3;
		recs[i].ticket_id = i % 2 ? "B" : "A";
		recs[i].attempt = i + 1;
	}
	assert_true(audit_append_many(f->client, f->db, recs, 12, &err));

	/* Newest first by default. */
	q = (audit_query_t){ .has_detection_id = true, .detection_id = 2 };
	query(f, &q, &s);
	assert_int_equal(s.n, 4); /* i = 1, 4, 7, 10 */
	assert_int_equal(doc_int(&s.docs[0], "at"), T0 + 100);
	assert_int_equal(doc_int(&s.docs[3], "at"), T0 + 10);
	seen_clear(&s);

	q = (audit_query_t){ .ticket_id = "B", .oldest_first = true, .limit = 2 };
	query(f, &q, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(doc_int(&s.docs[0], "at"), T0 + 10);
	assert_int_equal(doc_int(&s.docs[1], "at"), T0 + 30);
	seen_clear(&s);

	q = (audit_query_t){ .event = AUDIT_PARKED };
	query(f, &q, &s);
	assert_int_equal(s.n, 3); /* i = 3, 7, 11 */
	seen_clear(&s);

	q = (audit_query_t){ .since_ms = T0 + 50, .until_ms = T0 + 80 };
	query(f, &q, &s);
	assert_int_equal(s.n, 3); /* 50, 60, 70 */
	seen_clear(&s);

	q = (audit_query_t){ .has_detection_id = true, .detection_id = 1, .ticket_id = "A",
		.event = AUDIT_RETRY, .since_ms = T0 + 1 };
	query(f, &q, &s);
	assert_int_equal(s.n, 1); /* i = 6 */
	assert_int_equal(doc_int(&s.docs[0], "attempt"), 7);
	seen_clear(&s);

	/* The callback can stop early. */
	q = (audit_query_t){ 0 };
	s.stop_after = 5;
	query(f, &q, &s);
	assert_int_equal(s.n, 5);
	seen_clear(&s);

	/* One malformed record: nothing of the batch is written. */
	recs[5].event = "NOPE";
	assert_false(audit_append_many(f->client, f->db, recs, 12, &err));
	q = (audit_query_t){ 0 };
	query(f, &q, &s);
	assert_int_equal(s.n, 12);
	seen_clear(&s);
	assert_true(audit_append_many(f->client, f->db, recs, 0, &err));
	assert_false(audit_append_many(f->client, f->db, recs, AUDIT_BATCH_MAX + 1, &err));
}

static void
test_message_made_valid(void **state)
{
	fixture_t *f = *state;
	char big[AUDIT_MESSAGE_MAX * 2];
	audit_record_t r = { .event = AUDIT_REJECTED_INPUT, .message = big,
		.ticket_id = "T\xc3" };
	audit_query_t q = { 0 };
	seen_t s = { 0 };
	bson_error_t err;
	const char *m;

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = (char)0xfe;
	if (!audit_append(f->client, f->db, &r, &err))
		fail_msg("append: %s", err.message);
	query(f, &q, &s);
	assert_int_equal(s.n, 1);
	m = doc_str(&s.docs[0], "message");
	assert_non_null(m);
	assert_true(strlen(m) < AUDIT_MESSAGE_MAX);
	assert_int_equal(m[0], '?');
	assert_string_equal(doc_str(&s.docs[0], "ticket_id"), "T?");
	seen_clear(&s);
}

/* ---- checkpoint ---- */

static void
test_checkpoint_save_load(void **state)
{
	fixture_t *f = *state;
	bson_t token = BSON_INITIALIZER, token2 = BSON_INITIALIZER, got;
	bool found;
	int64_t saved_at;
	bson_error_t err;
	int64_t before = clock_wall_ms();

	assert_true(checkpoint_load(f->client, f->db, CHECKPOINT_WATCHER, &got, &found, &saved_at,
	    &err));
	assert_false(found);
	assert_true(bson_empty(&got));
	bson_destroy(&got);

	BSON_APPEND_UTF8(&token, "_data", "8264A1B2C3000000012B022C0100296E5A1004");
	if (!checkpoint_save(f->client, f->db, CHECKPOINT_WATCHER, &token, "host-1", &err))
		fail_msg("save: %s", err.message);
	assert_true(checkpoint_load(f->client, f->db, CHECKPOINT_WATCHER, &got, &found, &saved_at,
	    &err));
	assert_true(found);
	assert_true(bson_equal(&got, &token));
	assert_true(saved_at >= before && saved_at <= clock_wall_ms());
	bson_destroy(&got);

	/* A later save replaces it (upsert, one document per name). */
	BSON_APPEND_UTF8(&token2, "_data", "8264A1B2C4000000012B022C0100296E5A1005");
	assert_true(checkpoint_save(f->client, f->db, CHECKPOINT_WATCHER, &token2, NULL, &err));
	assert_true(checkpoint_load(f->client, f->db, CHECKPOINT_WATCHER, &got, &found, NULL,
	    &err));
	assert_true(found);
	assert_true(bson_equal(&got, &token2));
	bson_destroy(&got);
	{
		mongoc_collection_t *c = mongoc_client_get_collection(f->client, f->db,
		    STORE_COLL_CHECKPOINTS);
		bson_t empty = BSON_INITIALIZER;

		assert_int_equal(mongoc_collection_count_documents(c, &empty, NULL, NULL, NULL, &err),
		    1);
		mongoc_collection_destroy(c);
	}

	/* Names are independent. */
	assert_true(checkpoint_load(f->client, f->db, "rescan", &got, &found, NULL, &err));
	assert_false(found);
	bson_destroy(&got);

	assert_true(checkpoint_delete(f->client, f->db, CHECKPOINT_WATCHER, &err));
	assert_true(checkpoint_load(f->client, f->db, CHECKPOINT_WATCHER, &got, &found, NULL,
	    &err));
	assert_false(found);
	bson_destroy(&got);

	/* Refused before reaching the server. */
	assert_false(checkpoint_save(f->client, f->db, "", &token, NULL, &err));
	bson_reinit(&token2);
	assert_false(checkpoint_save(f->client, f->db, CHECKPOINT_WATCHER, &token2, NULL, &err));
	assert_false(checkpoint_save(f->client, f->db, CHECKPOINT_WATCHER, NULL, NULL, &err));
	bson_destroy(&token);
	bson_destroy(&token2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_one_full_record, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_minimal_record_and_bad_events, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_batch_and_queries, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_message_made_valid, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_save_load, setup, tsstore_teardown),
	};

	return cmocka_run_group_tests(tests, tsstore_group_setup, tsstore_group_teardown);
}
