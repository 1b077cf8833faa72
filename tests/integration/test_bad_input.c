/*
 * Bad input end to end (issue #5): malformed detections and tickets written to MongoDB
 * (wrong types, huge strings and documents, deep nesting, invalid UTF-8, missing
 * fields) are refused with a rejected_input audit record naming the id and the field,
 * the real ticketsyncd stays healthy and keeps pushing the good ones; malformed
 * config files make `ticketsyncd --check-config` exit 2 with a message naming the key.
 *
 * MongoDB itself refuses some of this input (documents over 16 MB, nesting deeper than
 * 100 levels); where the server in use refuses, the test checks the refusal instead,
 * so it states the server's behaviour either way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tsdaemon.h"
#include "tsextrahop.h"
#include "tsmongo.h"
#include "tsscene.h"

#include "ticketsync/clock.h"
#include "ticketsync/fields.h"

#define MB (1024 * 1024)

typedef tsscene_t fixture_t;

/* ---- fixture: a database, the fake ExtraHop API, the daemon (tsscene) ---- */

static int
fixture_setup(void **state)
{
	/* auto_create: every detection id exists in ExtraHop, so a PATCH that is missing
	 * can only mean the service decided not to send it. */
	tsextrahop_opts_t fxo = { .api_key = TSSCENE_API_KEY, .auto_create = true };
	fixture_t *f;

	if (tsscene_setup(state, "bad") != 0)
		return -1;
	f = *state;
	if (tsscene_begin(f, &fxo, TSSCENE_API_KEY) != 0) {
		fprintf(stderr, "fake ExtraHop: %s\n", f->error);
		tsscene_teardown(state); /* cmocka runs no teardown after a failed setup */
		return -1;
	}
	return 0;
}

/* Started, holding the lease, change stream open: what is written next arrives as
 * change events. */
static void
start_daemon(fixture_t *f)
{
	if (tsscene_start_daemon(f) != 0)
		fail_msg("ticketsyncd: %s", f->error);
}

/* The daemon is alive, healthy, and shuts down cleanly (exit 0; under a sanitizer or
 * the valgrind wrapper that also means no memory errors or leaks). */
static void
stop_daemon_cleanly(fixture_t *f)
{
	int st;

	assert_int_equal(tsdaemon_get(&f->d, "/healthz", NULL), 200);
	st = tsscene_stop_daemon(f);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- writing documents ---- */

/* Upsert doc by its _id; client_validate false skips libmongoc's own checks (the only
 * way to send invalid UTF-8). false with err when the write is refused. */
static bool
put_doc(fixture_t *f, const char *coll_name, const bson_t *doc, bool client_validate,
    bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, coll_name);
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bson_iter_t it;
	bool ok;

	BSON_APPEND_BOOL(&opts, "upsert", true);
	if (!client_validate)
		BSON_APPEND_BOOL(&opts, "validate", false);
	if (bson_iter_init_find(&it, doc, "_id")) {
		bson_append_iter(&filter, "_id", 3, &it);
		ok = mongoc_collection_replace_one(coll, &filter, doc, &opts, NULL, err);
	} else {
		/* No _id: the server gives it an ObjectId, as for any insert. */
		bson_reinit(&opts);
		if (!client_validate)
			BSON_APPEND_BOOL(&opts, "validate", false);
		ok = mongoc_collection_insert_one(coll, doc, &opts, NULL, err);
	}
	bson_destroy(&filter);
	bson_destroy(&opts);
	mongoc_collection_destroy(coll);
	return ok;
}

static void
put(fixture_t *f, const char *coll_name, const char *json)
{
	bson_error_t err;

	if (!put_doc(f, coll_name, tsmongo_json(json), true, &err))
		fail_msg("put %s: %s", json, err.message);
}

static void
put_bson(fixture_t *f, const char *coll_name, const bson_t *doc)
{
	bson_error_t err;

	if (!put_doc(f, coll_name, doc, true, &err))
		fail_msg("put into %s: %s", coll_name, err.message);
}

/* A string of n bytes of c (malloc'd). */
static char *
filler(size_t n, char c)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* key: {"a": {"a": ... {"leaf": true}}}, levels documents deep under parent. */
static void
append_nested(bson_t *parent, const char *key, int levels)
{
	bson_t child;

	bson_append_document_begin(parent, key, -1, &child);
	if (levels > 1)
		append_nested(&child, "a", levels - 1);
	else
		BSON_APPEND_BOOL(&child, "leaf", true);
	bson_append_document_end(parent, &child);
}

/* ---- reading results ---- */

static int64_t
count(fixture_t *f, const char *coll_name, const char *json_filter)
{
	return tsscene_count(f, coll_name, json_filter);
}

static bool
wait_count(fixture_t *f, const char *coll_name, const char *json_filter, int64_t n,
    int timeout_ms)
{
	return tsscene_wait_count(f, coll_name, json_filter, n, timeout_ms);
}

/* The audit records (any event) so far, for failure messages. */
static void
dump_audit(fixture_t *f)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, "ticketsync_audit");
	bson_t filter = BSON_INITIALIZER;
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	const bson_t *doc;

	while (mongoc_cursor_next(cur, &doc)) {
		char *j = bson_as_relaxed_extended_json(doc, NULL);
		fprintf(stderr, "  audit: %.400s\n", j ? j : "(not printable)");
		bson_free(j);
	}
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(coll);
	bson_destroy(&filter);
}

/* A rejected_input record whose extra conditions (JSON, may be "") hold. */
static void
expect_rejected(fixture_t *f, const char *what, const char *json_conditions)
{
	char filter[1024];

	snprintf(filter, sizeof(filter), "{'event': 'rejected_input'%s%s}",
	    json_conditions[0] ? ", " : "", json_conditions);
	if (!wait_count(f, "ticketsync_audit", filter, 1, 15000)) {
		dump_audit(f);
		fail_msg("no rejected_input audit record for %s (%s)", what, filter);
	}
}

/* PATCH requests the fake received for detection id. */
static int
patches(fixture_t *f, int64_t id)
{
	return tsscene_patches(f, id, NULL, NULL);
}

static void
expect_pushed(fixture_t *f, int64_t id, const char *ticket_id)
{
	char filter[256];

	snprintf(filter, sizeof(filter), "{'event': 'pushed', 'detection_id': %lld, 'ticket_id': '%s'}",
	    (long long)id, ticket_id);
	if (!wait_count(f, "ticketsync_audit", filter, 1, 20000)) {
		dump_audit(f);
		fail_msg("detection %lld was not pushed with ticket %s", (long long)id, ticket_id);
	}
	assert_true(patches(f, id) >= 1);
}

/* A good detection and its ticket: proof the service still works after bad input. */
static void
expect_still_pushing(fixture_t *f, int64_t id)
{
	char json[256], tid[32];

	snprintf(tid, sizeof(tid), "TK-GOOD-%lld", (long long)id);
	snprintf(json, sizeof(json), "{'_id': %lld, 'title': 'good one'}", (long long)id);
	put(f, "detections", json);
	snprintf(json, sizeof(json), "{'_id': '%s', 'detection_ids': [%lld], 'status': 'In Progress', "
	    "'assignee': 'kim', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}", tid, (long long)id);
	put(f, "tickets", json);
	expect_pushed(f, id, tid);
	assert_int_equal(tsdaemon_get(&f->d, "/healthz", NULL), 200);
}

/* A well-formed ticket for detection id, so that a refused detection would have had
 * something to push. */
static void
ticket_for(fixture_t *f, int64_t id)
{
	char json[256];

	snprintf(json, sizeof(json), "{'_id': 'TK-%lld', 'detection_ids': [%lld], 'status': 'new', "
	    "'assignee': 'a', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}", (long long)id,
	    (long long)id);
	put(f, "tickets", json);
}

/* ---- detections ---- */

static void
test_detections_wrong_types_and_missing_fields(void **state)
{
	static const struct {
		int64_t id;
		const char *json;  /* the detection */
		const char *field; /* the audit message must name it */
	} bad[] = {
		{ 101, "{'_id': 101, 'title': 42}", "title" },
		{ 102, "{'_id': 102, 'risk_score': 'high'}", "risk_score" },
		{ 103, "{'_id': 103, 'status': 'Closed'}", "status" },
		{ 104, "{'_id': 104, 'update_time': 'yesterday'}", "update_time" },
		{ 105, "{'_id': 105, 'categories': 'sec.attack'}", "categories" },
		{ 106, "{'_id': 106, 'participants': [1]}", "participants" },
		{ 107, "{'_id': 107, 'ticket_id': ['TK-1']}", "ticket_id" },
		{ 108, "{'_id': 108, 'start_time': -5}", "start_time" },
		{ 109, "{'_id': 109, 'risk_score': {'$numberDouble': 'NaN'}}", "risk_score" },
		{ 110, "{'_id': 110, 'resolution': 'fixed'}", "resolution" },
		{ 111, "{'_id': 111, 'mitre_tactics': [7]}", "mitre_tactics" },
	};
	fixture_t *f = *state;
	char cond[256];
	bson_error_t err;

	start_daemon(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(f, "detections", bad[i].json);
		ticket_for(f, bad[i].id);
	}
	/* Ids that are no detection id, or no id at all (the server adds an ObjectId). */
	put(f, "detections", "{'_id': 'seven', 'title': 'string id'}");
	put(f, "detections", "{'_id': 8.5, 'title': 'fractional id'}");
	put(f, "detections", "{'_id': -3, 'title': 'negative id'}");
	put(f, "detections", "{'_id': {'$numberLong': '9007199254740993'}, 'title': 'above 2^53'}");
	assert_true(put_doc(f, "detections", tsmongo_json("{'title': 'no id at all'}"), true, &err));

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cond, sizeof(cond), "'detection_id': %lld, 'message': {'$regex': 'detection %lld: %s'}",
		    (long long)bad[i].id, (long long)bad[i].id, bad[i].field);
		expect_rejected(f, bad[i].json, cond);
	}
	expect_rejected(f, "string _id", "'message': {'$regex': '_id \\\"seven\\\"'}");
	expect_rejected(f, "fractional _id", "'message': {'$regex': '_id 8.5 '}");
	expect_rejected(f, "negative _id", "'message': {'$regex': '_id -3 '}");
	expect_rejected(f, "_id above 2^53", "'message': {'$regex': '_id 9007199254740993 '}");
	expect_rejected(f, "ObjectId _id", "'message': {'$regex': '_id of type objectId'}");

	/* The good one goes out; none of the refused ones did, although each had a ticket. */
	expect_still_pushing(f, 200);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(patches(f, bad[i].id), 0);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_rejected_input_total") >=
	    (double)(sizeof(bad) / sizeof(bad[0]) + 5));
	stop_daemon_cleanly(f);
}

/* ---- tickets ---- */

static void
test_tickets_wrong_types_and_missing_fields(void **state)
{
	static const struct {
		int64_t detection;
		const char *json;
		const char *cond; /* extra audit conditions */
	} bad[] = {
		{ 301, "{'_id': 'TK-T1', 'detection_ids': [301], 'status': 5}",
		    "'ticket_id': 'TK-T1', 'message': {'$regex': 'ticket TK-T1: status must be a string'}" },
		{ 302, "{'_id': 'TK-T2', 'detection_ids': [302], 'status': 'new', 'assignee': {'x': 1}}",
		    "'ticket_id': 'TK-T2', 'message': {'$regex': 'ticket TK-T2: assignee'}" },
		{ 303, "{'_id': 'TK-T3', 'detection_ids': [303], 'status': 'new', 'updated_at': 'yesterday'}",
		    "'ticket_id': 'TK-T3', 'message': {'$regex': 'ticket TK-T3: updated_at'}" },
		{ 304, "{'_id': 'TK-T4', 'detection_ids': [304, 'x'], 'status': 'new'}",
		    "'ticket_id': 'TK-T4', 'message': {'$regex': 'detection_ids\\\\[1\\\\]'}" },
		{ 305, "{'_id': 'TK-T5', 'detection_ids': {'0': 305}, 'status': 'new'}",
		    "'ticket_id': 'TK-T5', 'message': {'$regex': 'detection_ids must be an array'}" },
		{ 306, "{'_id': 'TK-T6', 'detection_ids': [306], 'status': 'Done', 'resolution': true}",
		    "'ticket_id': 'TK-T6', 'message': {'$regex': 'resolution'}" },
		{ 307, "{'_id': 17, 'detection_ids': [307], 'status': 'new'}",
		    "'message': {'$regex': '_id must be a string .the ticket id., got int32'}" },
		{ 308, "{'_id': '', 'detection_ids': [308], 'status': 'new'}",
		    "'message': {'$regex': '_id is empty'}" },
		{ 309, "{'_id': 'TK-T9', 'detection_ids': [309], 'status': 'new', 'updated_at': {'$date': '1969-12-31T00:00:00Z'}}",
		    "'ticket_id': 'TK-T9', 'message': {'$regex': 'updated_at is before 1970'}" },
		{ 310, "{'_id': 'TK-T10', 'detection_ids': [310, 0], 'status': 'new'}",
		    "'ticket_id': 'TK-T10', 'message': {'$regex': 'detection_ids\\\\[1\\\\]'}" },
	};
	fixture_t *f = *state;
	bson_error_t err;
	char json[128];

	start_daemon(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{'_id': %lld, 'title': 'has only a bad ticket'}",
		    (long long)bad[i].detection);
		put(f, "detections", json);
		put(f, "tickets", bad[i].json);
	}
	/* A ticket without _id gets an ObjectId from the server. */
	put(f, "detections", "{'_id': 311, 'title': 'x'}");
	assert_true(put_doc(f, "tickets", tsmongo_json("{'detection_ids': [311], 'status': 'new'}"), true,
	    &err));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_rejected(f, bad[i].json, bad[i].cond);
	expect_rejected(f, "ticket with an ObjectId _id", "'message': {'$regex': 'got objectId'}");

	expect_still_pushing(f, 400);
	/* A refused ticket is no ticket: nothing was pushed for its detections. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(patches(f, bad[i].detection), 0);
	assert_int_equal(patches(f, 311), 0);
	stop_daemon_cleanly(f);
}

/* ---- huge strings and documents ---- */

static void
test_huge_strings_and_documents(void **state)
{
	fixture_t *f = *state;
	char *mb = filler(MB, 'x'), *big = filler(15 * MB, 'y'), *over = filler(17 * MB, 'z');
	bson_t doc, arr;
	bson_error_t err;
	char cond[256];

	start_daemon(f);
	/* A 1 MB title. */
	bson_init(&doc);
	BSON_APPEND_INT64(&doc, "_id", 501);
	BSON_APPEND_UTF8(&doc, "title", mb);
	put_bson(f, "detections", &doc);
	bson_destroy(&doc);
	ticket_for(f, 501);
	/* A 15 MB document whose description is too long for the parser. */
	bson_init(&doc);
	BSON_APPEND_INT64(&doc, "_id", 502);
	BSON_APPEND_UTF8(&doc, "title", "huge description");
	BSON_APPEND_UTF8(&doc, "description", big);
	put_bson(f, "detections", &doc);
	bson_destroy(&doc);
	ticket_for(f, 502);
	/* A 15 MB document that is valid: the bulk is in fields the service ignores. */
	bson_init(&doc);
	BSON_APPEND_INT64(&doc, "_id", 503);
	BSON_APPEND_UTF8(&doc, "title", "big but valid");
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "properties", &arr);
	BSON_APPEND_UTF8(&arr, "blob", big);
	bson_append_document_end(&doc, &arr);
	put_bson(f, "detections", &doc);
	bson_destroy(&doc);
	ticket_for(f, 503);
	/* A ticket with a 1 MB status, one with a 1 MB id, one listing 20000 detections. */
	put(f, "detections", "{'_id': 504, 'title': 'x'}");
	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "TK-HUGE");
	BSON_APPEND_ARRAY_BEGIN(&doc, "detection_ids", &arr);
	BSON_APPEND_INT64(&arr, "0", 504);
	bson_append_array_end(&doc, &arr);
	BSON_APPEND_UTF8(&doc, "status", mb);
	put_bson(f, "tickets", &doc);
	bson_destroy(&doc);
	put(f, "detections", "{'_id': 505, 'title': 'x'}");
	bson_init(&doc);
	mb[0] = 'T';
	BSON_APPEND_UTF8(&doc, "_id", mb);
	BSON_APPEND_ARRAY_BEGIN(&doc, "detection_ids", &arr);
	BSON_APPEND_INT64(&arr, "0", 505);
	bson_append_array_end(&doc, &arr);
	BSON_APPEND_UTF8(&doc, "status", "new");
	put_bson(f, "tickets", &doc);
	bson_destroy(&doc);
	put(f, "detections", "{'_id': 506, 'title': 'x'}");
	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "TK-MANY");
	BSON_APPEND_ARRAY_BEGIN(&doc, "detection_ids", &arr);
	for (uint32_t i = 0; i < 20000; i++) {
		char key[16];
		const char *k;
		bson_uint32_to_string(i, &k, key, sizeof(key));
		bson_append_int64(&arr, k, -1, i == 0 ? 506 : 100000 + i);
	}
	bson_append_array_end(&doc, &arr);
	BSON_APPEND_UTF8(&doc, "status", "new");
	put_bson(f, "tickets", &doc);
	bson_destroy(&doc);
	/* Over 16 MB: MongoDB refuses it (BSONObjectTooLarge); libmongoc may already. */
	bson_init(&doc);
	BSON_APPEND_INT64(&doc, "_id", 507);
	BSON_APPEND_UTF8(&doc, "title", "too big to store");
	BSON_APPEND_UTF8(&doc, "description", over);
	assert_false(put_doc(f, "detections", &doc, true, &err));
	fprintf(stderr, "# a 17 MB document is refused: %s\n", err.message);
	bson_destroy(&doc);

	snprintf(cond, sizeof(cond), "'detection_id': 501, 'message': {'$regex': 'title is longer than "
	    "1024 bytes .%d.'}", MB);
	expect_rejected(f, "1 MB title", cond);
	snprintf(cond, sizeof(cond), "'detection_id': 502, 'message': {'$regex': 'description is longer "
	    "than 65536 bytes .%d.'}", 15 * MB);
	expect_rejected(f, "15 MB description", cond);
	snprintf(cond, sizeof(cond), "'ticket_id': 'TK-HUGE', 'message': {'$regex': 'status is longer "
	    "than 128 bytes .%d.'}", MB);
	expect_rejected(f, "1 MB ticket status", cond);
	snprintf(cond, sizeof(cond), "'message': {'$regex': 'ticket: _id is longer than 128 bytes .%d.'}",
	    MB);
	expect_rejected(f, "1 MB ticket id", cond);
	expect_rejected(f, "20000 detection ids",
	    "'ticket_id': 'TK-MANY', 'message': {'$regex': 'detection_ids has 20000 items, at most 10000'}");
	/* The audit record keeps a prefix of a huge ticket id, not a megabyte. */
	{
		mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db,
		    "ticketsync_audit");
		const bson_t *rec = tsmongo_find_one(coll, "{'event': 'rejected_input', "
		    "'message': {'$regex': 'ticket: _id is longer'}}");
		const char *tid = rec ? tsmongo_get_str(rec, "ticket_id") : NULL;

		assert_non_null(tid);
		assert_true(strncmp(tid, "Txxxx", 5) == 0 && strlen(tid) <= 2 * FIELDS_TICKET_ID_MAX);
		mongoc_collection_destroy(coll);
	}

	expect_pushed(f, 503, "TK-503");
	expect_still_pushing(f, 600);
	assert_int_equal(patches(f, 501), 0);
	assert_int_equal(patches(f, 502), 0);
	assert_int_equal(patches(f, 504), 0);
	assert_int_equal(patches(f, 505), 0);
	assert_int_equal(patches(f, 506), 0);
	stop_daemon_cleanly(f);
	free(mb);
	free(big);
	free(over);
}

/* ---- deep nesting ---- */

static void
test_deep_nesting(void **state)
{
	fixture_t *f = *state;
	bson_t doc, arr;
	bson_error_t err;
	bool stored;

	start_daemon(f);
	/* 100 levels in all (the document, properties and 98 below it): the most
	 * MongoDB stores. */
	bson_init(&doc);
	BSON_APPEND_INT64(&doc, "_id", 701);
	BSON_APPEND_UTF8(&doc, "title", "deep");
	append_nested(&doc, "properties", 99);
	put_bson(f, "detections", &doc);
	bson_destroy(&doc);
	ticket_for(f, 701);
	/* The same depth in a ticket, and in a participants entry the parser looks at. */
	put(f, "detections", "{'_id': 702, 'title': 'x'}");
	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "TK-DEEP");
	BSON_APPEND_ARRAY_BEGIN(&doc, "detection_ids", &arr);
	BSON_APPEND_INT64(&arr, "0", 702);
	bson_append_array_end(&doc, &arr);
	BSON_APPEND_UTF8(&doc, "status", "new");
	append_nested(&doc, "custom_fields", 99);
	put_bson(f, "tickets", &doc);
	bson_destroy(&doc);
	bson_init(&doc);
	BSON_APPEND_INT64(&doc, "_id", 703);
	BSON_APPEND_ARRAY_BEGIN(&doc, "participants", &arr);
	append_nested(&arr, "0", 98);
	bson_append_array_end(&doc, &arr);
	put_bson(f, "detections", &doc);
	bson_destroy(&doc);
	ticket_for(f, 703);
	/* 100 levels under properties (101 in all): MongoDB refuses the write; a server
	 * that stores it must still see it pushed like any valid detection. */
	bson_init(&doc);
	BSON_APPEND_INT64(&doc, "_id", 704);
	BSON_APPEND_UTF8(&doc, "title", "deeper");
	append_nested(&doc, "properties", 100);
	stored = put_doc(f, "detections", &doc, true, &err);
	bson_destroy(&doc);
	if (stored)
		fprintf(stderr, "# this server stores 101 levels of nesting (MongoDB refuses them)\n");
	else
		fprintf(stderr, "# 101 levels of nesting refused: %s\n", err.message);
	ticket_for(f, 704);

	expect_pushed(f, 701, "TK-701");
	expect_pushed(f, 702, "TK-DEEP");
	expect_pushed(f, 703, "TK-703");
	if (stored)
		expect_pushed(f, 704, "TK-704");
	expect_still_pushing(f, 800);
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'rejected_input'}"), 0);
	stop_daemon_cleanly(f);
}

/* ---- invalid UTF-8 ---- */

/*
 * libmongoc checks UTF-8 on the client only when asked (its default insert/replace
 * validation covers keys, not values), and MongoDB stores invalid UTF-8 as it is;
 * the ExtraHop trigger writes whatever bytes the sensor had. Each write says whether
 * the server in use took it: what it stored must be refused by the service, loudly.
 */
static bool
put_invalid_utf8(fixture_t *f, const char *coll_name, const bson_t *doc, const char *what)
{
	bson_error_t err;

	if (put_doc(f, coll_name, doc, false, &err))
		return true;
	fprintf(stderr, "# the server refused %s: %s\n", what, err.message);
	return false;
}

static void
test_invalid_utf8(void **state)
{
	fixture_t *f = *state;
	bson_t doc, arr, sub;
	bson_error_t err;
	bool title_stored, assignee_stored, id_stored, ignored_stored;

	start_daemon(f);
	/* A title with a lone continuation byte and a truncated sequence. */
	bson_init(&doc);
	BSON_APPEND_INT64(&doc, "_id", 801);
	bson_append_utf8(&doc, "title", -1, "port \x80scan \xe2\x82", 12);
	/* libmongoc's default validation for writes: does it look at values? */
	if (!put_doc(f, "detections", &doc, true, &err))
		fprintf(stderr, "# with libmongoc's default validation, invalid UTF-8 is refused by %s: %s\n",
		    err.domain == MONGOC_ERROR_BSON ? "libmongoc" : "the server", err.message);
	title_stored = put_invalid_utf8(f, "detections", &doc, "an invalid UTF-8 title");
	bson_destroy(&doc);
	ticket_for(f, 801);
	/* A ticket whose assignee is not UTF-8 (an overlong encoding of '/'). */
	put(f, "detections", "{'_id': 802, 'title': 'x'}");
	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "TK-U2");
	BSON_APPEND_ARRAY_BEGIN(&doc, "detection_ids", &arr);
	BSON_APPEND_INT64(&arr, "0", 802);
	bson_append_array_end(&doc, &arr);
	BSON_APPEND_UTF8(&doc, "status", "new");
	bson_append_utf8(&doc, "assignee", -1, "j\xc0\xafm", 4);
	assignee_stored = put_invalid_utf8(f, "tickets", &doc, "an invalid UTF-8 assignee");
	bson_destroy(&doc);
	/* A ticket id that is not UTF-8. */
	put(f, "detections", "{'_id': 803, 'title': 'x'}");
	bson_init(&doc);
	bson_append_utf8(&doc, "_id", -1, "TK-\xff\xfe", 5);
	BSON_APPEND_ARRAY_BEGIN(&doc, "detection_ids", &arr);
	BSON_APPEND_INT64(&arr, "0", 803);
	bson_append_array_end(&doc, &arr);
	BSON_APPEND_UTF8(&doc, "status", "new");
	id_stored = put_invalid_utf8(f, "tickets", &doc, "an invalid UTF-8 ticket id");
	bson_destroy(&doc);
	/* Invalid UTF-8 where the service never looks: the detection is fine. */
	bson_init(&doc);
	BSON_APPEND_INT64(&doc, "_id", 804);
	BSON_APPEND_UTF8(&doc, "title", "valid title");
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "properties", &sub);
	bson_append_utf8(&sub, "device", -1, "host-\xff", 6);
	bson_append_document_end(&doc, &sub);
	ignored_stored = put_invalid_utf8(f, "detections", &doc, "invalid UTF-8 in properties");
	bson_destroy(&doc);
	ticket_for(f, 804);

	if (title_stored)
		expect_rejected(f, "an invalid UTF-8 title",
		    "'detection_id': 801, 'message': {'$regex': 'detection 801: title is not valid UTF-8'}");
	if (assignee_stored)
		expect_rejected(f, "an invalid UTF-8 assignee",
		    "'ticket_id': 'TK-U2', 'message': {'$regex': 'ticket TK-U2: assignee is not valid UTF-8'}");
	if (id_stored) {
		/* The id cannot be quoted as it is: the record holds it made valid. */
		expect_rejected(f, "an invalid UTF-8 ticket id",
		    "'message': {'$regex': 'ticket: _id is not valid UTF-8'}");
	}
	if (ignored_stored)
		expect_pushed(f, 804, "TK-804");
	expect_still_pushing(f, 900);
	assert_int_equal(patches(f, 801), 0);
	assert_int_equal(patches(f, 802), 0);
	assert_int_equal(patches(f, 803), 0);
	if (!title_stored && !assignee_stored && !id_stored && !ignored_stored)
		fprintf(stderr, "# the server refused every invalid UTF-8 write: only the parsers' unit "
		                "and fuzz tests cover this input here (set TICKETSYNC_TEST_MONGODB_URI to a "
		                "real replica set for the end-to-end check)\n");
	stop_daemon_cleanly(f);
}

/* ---- bad input already there when the service first starts ---- */

static void
test_bad_input_found_by_the_first_scan(void **state)
{
	fixture_t *f = *state;

	put(f, "detections", "{'_id': 1001, 'title': 'bad', 'risk_score': 'high'}");
	ticket_for(f, 1001);
	put(f, "detections", "{'_id': 1002, 'title': 'only a bad ticket'}");
	put(f, "tickets", "{'_id': 'TK-S2', 'detection_ids': [1002], 'status': 7}");
	put(f, "detections", "{'_id': 1003, 'title': 'good'}");
	ticket_for(f, 1003);
	start_daemon(f);
	expect_rejected(f, "a malformed detection found by the scan",
	    "'detection_id': 1001, 'message': {'$regex': 'risk_score must be a number'}");
	expect_rejected(f, "a malformed ticket found by the scan",
	    "'ticket_id': 'TK-S2', 'message': {'$regex': 'status must be a string'}");
	expect_pushed(f, 1003, "TK-1003");
	assert_int_equal(patches(f, 1001), 0);
	assert_int_equal(patches(f, 1002), 0);
	stop_daemon_cleanly(f);
}

/*
 * Ids no detection can have, already stored at the first start (or when a lost change
 * history forces a rescan): the scan cannot load them by id, yet must report them as
 * a change event would have. A string _id is reported; a fractional or otherwise
 * non-integral number is skipped without a word (refresh_on_scanned drops what
 * store_iter_int64 refuses, and the foreign-id report only looks at non-numbers).
 */
static void
test_unloadable_ids_found_by_the_first_scan(void **state)
{
	fixture_t *f = *state;

	put(f, "detections", "{'_id': 'seven', 'title': 'string id'}");
	put(f, "detections", "{'_id': 8.5, 'title': 'fractional id'}");
	put(f, "detections", "{'_id': {'$numberDouble': '1e300'}, 'title': 'huge double id'}");
	put(f, "detections", "{'_id': 1004, 'title': 'good'}");
	ticket_for(f, 1004);
	start_daemon(f);
	expect_pushed(f, 1004, "TK-1004");
	expect_rejected(f, "a string _id found by the scan", "'message': {'$regex': '_id \\\"seven\\\"'}");
	expect_rejected(f, "a fractional _id found by the scan", "'message': {'$regex': '_id 8.5 '}");
	expect_rejected(f, "a 1e300 _id found by the scan", "'message': {'$regex': '_id 1[.0-9]*e\\\\+300 '}");
	stop_daemon_cleanly(f);
}

/* ---- config files ---- */

/* Environment for the child: nothing of ours (TICKETSYNC_*), sanitizer options kept. */
static void
clean_env(char **env, size_t max)
{
	static const char *const keep[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
	extern char **environ;
	size_t n = 0;

	env[n++] = "PATH=/usr/bin:/bin";
	for (char **e = environ; *e != NULL && n + 1 < max; e++) {
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			size_t l = strlen(keep[i]);
			if (strncmp(*e, keep[i], l) == 0 && (*e)[l] == '=')
				env[n++] = *e;
		}
	}
	env[n] = NULL;
}

/* ticketsyncd --check-config -c path: the exit status (-1 when it did not exit by
 * itself within 30 s) and everything it printed. */
static int
run_check_config(const char *path, char *out, size_t outlen)
{
	char bin[4096], *env[8];
	char *argv[] = { bin, "--check-config", "-c", (char *)path, NULL };
	int fds[2], st = -1;
	size_t used = 0;
	int64_t start = clock_mono_ms();
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/ticketsyncd", tsproc_bin_dir());
	clean_env(env, sizeof(env) / sizeof(env[0]));
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execve(bin, argv, env);
		_exit(127);
	}
	close(fds[1]);
	out[0] = '\0';
	for (;;) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		ssize_t got;

		if (clock_mono_ms() - start > 30000 || poll(&p, 1, 1000) < 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (p.revents == 0)
			continue;
		got = read(fds[0], out + used, outlen - 1 - used);
		if (got <= 0)
			break;
		used += (size_t)got;
		out[used] = '\0';
		if (used + 1 >= outlen)
			break;
	}
	close(fds[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* tmpl with each vars[i][0] replaced by vars[i][1]. */
static void
expand(char *out, size_t outlen, const char *tmpl, const char *const (*vars)[2], size_t nvars)
{
	size_t used = 0;

	while (*tmpl != '\0' && used + 1 < outlen) {
		bool replaced = false;

		for (size_t i = 0; i < nvars && !replaced; i++) {
			size_t kl = strlen(vars[i][0]), vl = strlen(vars[i][1]);

			if (strncmp(tmpl, vars[i][0], kl) == 0) {
				assert_true(used + vl + 1 < outlen);
				memcpy(out + used, vars[i][1], vl);
				used += vl;
				tmpl += kl;
				replaced = true;
			}
		}
		if (!replaced)
			out[used++] = *tmpl++;
	}
	out[used] = '\0';
}

static void
test_config_errors_exit_2_naming_the_key(void **state)
{
	char dir[] = "/tmp/ticketsync-badcfg.XXXXXX";
	char path[512], secret_dir[512], missing[512], empty[512], text[2048], out[8192];
	char longline[260];
	/* @DIR@: a directory, @MISSING@: a missing file, @EMPTY@: an empty file, @LONG@:
	 * 259 bytes. */
	const struct {
		const char *name;
		const char *ini;
		const char *must[3]; /* the output contains each */
	} cases[] = {
		{ "bad int", "[push]\ninterval_ms = soon\n",
		    { "[push] interval_ms", "\"soon\"", "line 2" } },
		{ "int out of range", "[push]\nconcurrency = 0\n",
		    { "[push] concurrency", "from 1 to 1024", "line 2" } },
		{ "int overflow", "[mongodb]\npool_max = 99999999999999999999999\n",
		    { "[mongodb] pool_max", "99999999999999999999999", NULL } },
		{ "negative int", "[push]\nbatch_size = -5\n", { "[push] batch_size", "-5", NULL } },
		{ "bad bool", "[statusmap]\ndefaults = maybe\n", { "[statusmap] defaults", "maybe", NULL } },
		{ "bad log level", "[log]\nlevel = loud\n", { "[log] level", "loud", NULL } },
		{ "unknown key", "[push]\nintervall_ms = 100\n",
		    { "[push] intervall_ms", "unknown key", "interval_ms" } },
		{ "unknown section", "[pushh]\ninterval_ms = 100\n", { "[pushh]", "unknown section", NULL } },
		{ "key before any section", "interval_ms = 100\n[push]\n",
		    { "interval_ms", "before any [section]", NULL } },
		{ "key given twice", "[push]\ninterval_ms = 100\ninterval_ms = 200\n",
		    { "[push] interval_ms", "given twice", "lines 2 and 3" } },
		{ "not key = value", "[push]\ninterval_ms\n", { "line 2", NULL, NULL } },
		{ "missing auth", "[extrahop]\nurl = https://eh.example.com\n",
		    { "no authentication", "api_key", "oauth_client_id" } },
		{ "two auth methods",
		    "[extrahop]\nurl = https://eh.example.com\napi_key = k\noauth_client_id = c\n",
		    { "api_key", "oauth_client_id", "exactly one" } },
		{ "oauth without a secret", "[extrahop]\nurl = https://eh.example.com\noauth_client_id = c\n",
		    { "oauth_client_id", "oauth_client_secret", NULL } },
		{ "missing secret file", "[extrahop]\nurl = https://eh.example.com\napi_key_file = @MISSING@\n",
		    { "[extrahop] api_key_file", "cannot read", "No such file" } },
		{ "secret file is a directory",
		    "[extrahop]\nurl = https://eh.example.com\napi_key_file = @DIR@\n",
		    { "[extrahop] api_key_file", "not a regular file", NULL } },
		{ "empty secret file",
		    "[extrahop]\nurl = https://eh.example.com\noauth_client_id = c\n"
		    "oauth_client_secret_file = @EMPTY@\n",
		    { "[extrahop] oauth_client_secret_file", "is empty", NULL } },
		{ "invalid URL", "[extrahop]\nurl = not a url\napi_key = k\n", { "[extrahop] url", NULL, NULL } },
		{ "URL with another scheme", "[extrahop]\nurl = ftp://eh.example.com\napi_key = k\n",
		    { "[extrahop] url", "http:// or https://", NULL } },
		{ "URL with credentials", "[extrahop]\nurl = https://u:p@eh.example.com\napi_key = k\n",
		    { "[extrahop] url", "credentials", NULL } },
		{ "token URL", "[extrahop]\nurl = https://eh\noauth_client_id = c\noauth_client_secret = s\n"
		                "oauth_token_url = https://eh/token?x=1\n",
		    { "[extrahop] oauth_token_url", "query", NULL } },
		{ "invalid MongoDB URI", "[mongodb]\nuri = postgres://db\n", { "[mongodb] uri", NULL, NULL } },
		{ "invalid database name", "[mongodb]\ndatabase = a.b\n", { "[mongodb] database", NULL, NULL } },
		{ "invalid listen address", "[http]\nlisten = 127.0.0.1:99999\n", { "[http] listen", NULL, NULL } },
		{ "retry order", "[push]\nretry_base_ms = 5000\nretry_max_ms = 10\n",
		    { "retry_base_ms", "retry_max_ms", NULL } },
		{ "bad status map entry", "[statusmap]\nDone = clsed\n", { "[statusmap]", "clsed", "line 2" } },
		{ "status map entry with two bars", "[statusmap]\nA|B|C = new\n",
		    { "[statusmap]", "more than one '|'", NULL } },
		{ "invalid UTF-8 value", "[service]\ninstance_id = \xff\xfe\n",
		    { "[service] instance_id", "UTF-8", NULL } },
		/* Long key = value lines are read whole (their values checked as any); a long
		 * line of anything else is refused with its line. */
		{ "line over 200 bytes, not key = value", "[service]\n@LONG@\n",
		    { "line 2", "a line this long must be key = value", NULL } },
	};
	int rc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(secret_dir, sizeof(secret_dir), "%s/secrets", dir);
	assert_int_equal(mkdir(secret_dir, 0700), 0);
	snprintf(missing, sizeof(missing), "%s/missing.key", dir);
	snprintf(empty, sizeof(empty), "%s/empty.key", dir);
	write_file(empty, "\n", 1);
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	snprintf(path, sizeof(path), "%s/ticketsync.ini", dir);

	/* The harness itself: a good file passes. */
	snprintf(text, sizeof(text), "[extrahop]\nurl = https://eh.example.com\napi_key = k\n");
	write_file(path, text, strlen(text));
	rc = run_check_config(path, out, sizeof(out));
	if (rc != 0)
		fail_msg("a good config: exit %d, output:\n%s", rc, out);
	assert_non_null(strstr(out, "configuration OK"));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *vars[][2] = {
			{ "@DIR@", secret_dir }, { "@MISSING@", missing }, { "@EMPTY@", empty },
			{ "@LONG@", longline },
		};
		expand(text, sizeof(text), cases[i].ini, vars, 4);
		write_file(path, text, strlen(text));
		rc = run_check_config(path, out, sizeof(out));
		if (rc != 2)
			fail_msg("%s: exit %d instead of 2, output:\n%s", cases[i].name, rc, out);
		fprintf(stderr, "# %s -> %s", cases[i].name, out);
		if (strstr(out, "configuration error") == NULL)
			fail_msg("%s: no \"configuration error\":\n%s", cases[i].name, out);
		for (int j = 0; j < 3; j++) {
			if (cases[i].must[j] != NULL && strstr(out, cases[i].must[j]) == NULL)
				fail_msg("%s: the message does not contain \"%s\":\n%s", cases[i].name,
				    cases[i].must[j], out);
		}
	}

	/* A config file with a NUL byte, and one that cannot be read at all. */
	write_file(path, "[push]\n\0interval_ms = 5\n", 24);
	rc = run_check_config(path, out, sizeof(out));
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "NUL byte"));
	rc = run_check_config(missing, out, sizeof(out));
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "cannot read config file"));
	assert_non_null(strstr(out, "missing.key"));

	/* A refused config never shows a secret, even next to the error. */
	snprintf(text, sizeof(text), "[extrahop]\nurl = https://eh.example.com\n"
	    "api_key = Sup3r-Secret-Value\napi_key_file = %s\n", empty);
	write_file(path, text, strlen(text));
	rc = run_check_config(path, out, sizeof(out));
	assert_int_equal(rc, 2);
	assert_null(strstr(out, "Sup3r-Secret-Value"));
	snprintf(text, sizeof(text), "[extrahop]\nurl = https://eh.example.com\n"
	    "api_key = Sup3r-Secret-\x01Value\n");
	write_file(path, text, strlen(text));
	rc = run_check_config(path, out, sizeof(out));
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "[extrahop] api_key"));
	assert_null(strstr(out, "Sup3r"));

	unlink(path);
	unlink(empty);
	rmdir(secret_dir);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_detections_wrong_types_and_missing_fields, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_tickets_wrong_types_and_missing_fields, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_huge_strings_and_documents, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_deep_nesting, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_invalid_utf8, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_found_by_the_first_scan, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_unloadable_ids_found_by_the_first_scan, fixture_setup, tsscene_teardown),
		cmocka_unit_test(test_config_errors_exit_2_naming_the_key),
	};

	return cmocka_run_group_tests(tests, tsscene_group_setup, tsscene_group_teardown);
}
