/*
 * The MongoDB test server's change streams, fault injection, reconnects and
 * persistence, driven through libmongoc. Runs against a real replica set too when
 * TICKETSYNC_TEST_MONGODB_URI is set (tests needing test-only commands or fail points
 * skip there when the server refuses them).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <mongoc/mongoc.h>

#include "ticketsync/clock.h"
#include "tsgroup.h"
#include "tsmongo.h"

static tsmongo_t *mongo;
static mongoc_client_t *client;
static char dbname[64];

static int
group_setup(void **state)
{
	if (tsgroup_setup(state) != 0)
		return -1;
	mongo = tsgroup_mongo();
	client = tsmongo_client(mongo);
	tsmongo_dbname(mongo, "cs", 1, dbname, sizeof(dbname));
	return client == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	mongoc_client_destroy(client);
	return tsgroup_teardown(state);
}

static int
teardown(void **state)
{
	bson_error_t error;

	(void)state;
	tsmongo_tmp_free();
	if (tsmongo_is_test_server(mongo))
		tsmongo_fail_off(mongo, &error);
	return 0;
}

static void
assert_match(const bson_t *doc, const char *json)
{
	char why[512];

	if (doc == NULL)
		fail_msg("no document where %s was expected", json);
	if (!tsmongo_matches(doc, json, why, sizeof(why))) {
		char *text = bson_as_relaxed_extended_json(doc, NULL);
		fail_msg("%s\n  document: %s\n  expected: %s", why, text, json);
	}
}

static mongoc_collection_t *
coll(const char *name)
{
	return mongoc_client_get_collection(client, dbname, name);
}

static void
insert(mongoc_collection_t *c, const char *json)
{
	bson_error_t error;

	if (!mongoc_collection_insert_one(c, tsmongo_json(json), NULL, NULL, &error))
		fail_msg("insert %s: %s", json, error.message);
}

/* Next event within timeout_ms (a copy in the scratch pool), or NULL. Fails the test
 * on a stream error. */
static const bson_t *
next_event(mongoc_change_stream_t *cs, int timeout_ms)
{
	long long deadline = clock_mono_ms() + timeout_ms;
	const bson_t *doc;
	const bson_t *err_doc;
	bson_error_t error;

	do {
		if (mongoc_change_stream_next(cs, &doc))
			return tsmongo_tmp_keep(bson_copy(doc));
		if (mongoc_change_stream_error_document(cs, &error, &err_doc)) {
			char *text = bson_as_relaxed_extended_json(err_doc, NULL);
			fail_msg("change stream error %u: %s (%s)", error.code, error.message, text);
		}
	} while (clock_mono_ms() < deadline);
	return NULL;
}

#define NEXT(cs) next_event((cs), 5000)

/* The stream's error code after next() returned false, or 0. */
static uint32_t
stream_error(mongoc_change_stream_t *cs, const bson_t **err_doc)
{
	const bson_t *doc;
	bson_error_t error;
	const bson_t *ed = NULL;

	for (int i = 0; i < 50; i++) {
		if (mongoc_change_stream_next(cs, &doc))
			fail_msg("expected an error, got an event");
		if (mongoc_change_stream_error_document(cs, &error, &ed)) {
			if (err_doc != NULL)
				*err_doc = ed;
			return error.code;
		}
	}
	return 0;
}

static mongoc_change_stream_t *
watch(mongoc_collection_t *c, const char *pipeline, const char *opts)
{
	return mongoc_collection_watch(c, tsmongo_json(pipeline ? pipeline : "{}"),
	    tsmongo_json(opts ? opts : "{'maxAwaitTimeMS': 200}"));
}

static bool
label_in(const bson_t *err_doc, const char *label)
{
	return err_doc != NULL && mongoc_error_has_label(err_doc, label);
}

/* ---- events ---- */

static void
test_collection_stream_events(void **state)
{
	mongoc_collection_t *c = coll("events");
	mongoc_change_stream_t *cs;
	const bson_t *ev;
	bson_error_t error;

	(void)state;
	insert(c, "{'_id': 0}"); /* the collection exists before the watch */
	cs = watch(c, NULL, "{'maxAwaitTimeMS': 200, 'fullDocument': 'updateLookup'}");
	insert(c, "{'_id': 1, 'a': 1, 'keep': 'k'}");
	ev = NEXT(cs);
	assert_match(ev, "{'operationType': 'insert', 'fullDocument': {'_id': 1, 'a': 1}, 'documentKey': {'_id': 1}}");
	assert_string_equal(tsmongo_get_str(ev, "ns.db"), dbname);
	assert_string_equal(tsmongo_get_str(ev, "ns.coll"), "events");
	assert_int_equal(tsmongo_get_type(ev, "_id._data"), BSON_TYPE_UTF8);
	assert_int_equal(tsmongo_get_type(ev, "clusterTime"), BSON_TYPE_TIMESTAMP);
	assert_int_equal(tsmongo_get_type(ev, "wallTime"), BSON_TYPE_DATE_TIME);

	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"),
	    tsmongo_json("{'$set': {'b': 2, 'sub': {'x': 1}}, '$unset': {'a': ''}}"), NULL, NULL, &error));
	ev = NEXT(cs);
	assert_match(ev, "{'operationType': 'update', 'documentKey': {'_id': 1},"
	    " 'updateDescription': {'updatedFields': {'b': 2, 'sub': {'x': 1}}, 'removedFields': ['a']},"
	    " 'fullDocument': {'_id': 1, 'keep': 'k', 'b': 2}}");
	assert_false(bson_has_field(tsmongo_get_doc(ev, "fullDocument"), "a"));

	assert_true(mongoc_collection_replace_one(c, tsmongo_json("{'_id': 1}"),
	    tsmongo_json("{'r': true}"), NULL, NULL, &error));
	ev = NEXT(cs);
	assert_match(ev, "{'operationType': 'replace', 'fullDocument': {'_id': 1, 'r': true}}");

	assert_true(mongoc_collection_delete_one(c, tsmongo_json("{'_id': 1}"), NULL, NULL, &error));
	ev = NEXT(cs);
	assert_match(ev, "{'operationType': 'delete', 'documentKey': {'_id': 1}}");
	assert_false(bson_has_field(ev, "fullDocument"));

	/* Without updateLookup an update event carries no fullDocument; with it, a
	 * document deleted since the update comes back as null. */
	mongoc_change_stream_destroy(cs);
	cs = watch(c, NULL, NULL);
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 0}"), tsmongo_json("{'$set': {'v': 1}}"), NULL, NULL, &error));
	ev = NEXT(cs);
	assert_match(ev, "{'operationType': 'update'}");
	assert_false(bson_has_field(ev, "fullDocument"));
	mongoc_change_stream_destroy(cs);

	cs = watch(c, NULL, "{'maxAwaitTimeMS': 200, 'fullDocument': 'updateLookup'}");
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 0}"), tsmongo_json("{'$set': {'v': 2}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_delete_one(c, tsmongo_json("{'_id': 0}"), NULL, NULL, &error));
	ev = NEXT(cs);
	assert_match(ev, "{'operationType': 'update'}");
	assert_int_equal(tsmongo_get_type(ev, "fullDocument"), BSON_TYPE_NULL);
	mongoc_change_stream_destroy(cs);
	mongoc_collection_destroy(c);
}

static void
test_database_stream_match_and_order(void **state)
{
	mongoc_database_t *db = mongoc_client_get_database(client, dbname);
	mongoc_collection_t *a = coll("order_a"), *b = coll("order_b"), *other = coll("order_c");
	mongoc_change_stream_t *cs;
	const char *expect[] = { "order_a", "order_b", "order_a", "order_b" };
	int expect_n[] = { 1, 1, 2, 2 };

	(void)state;
	insert(a, "{'n': 0}");
	insert(b, "{'n': 0}");
	insert(other, "{'n': 0}");
	cs = mongoc_database_watch(db, tsmongo_json(
	    "{'pipeline': [{'$match': {'ns.coll': {'$in': ['order_a', 'order_b']}, 'operationType': 'insert'}}]}"),
	    tsmongo_json("{'maxAwaitTimeMS': 200}"));
	insert(a, "{'n': 1}");
	insert(other, "{'n': 1}");
	insert(b, "{'n': 1}");
	insert(other, "{'n': 2}");
	insert(a, "{'n': 2}");
	insert(b, "{'n': 2}");
	for (int i = 0; i < 4; i++) {
		const bson_t *ev = NEXT(cs);
		assert_non_null(ev);
		assert_string_equal(tsmongo_get_str(ev, "ns.coll"), expect[i]);
		assert_int_equal(tsmongo_get_int(ev, "fullDocument.n"), expect_n[i]);
	}
	assert_null(next_event(cs, 300));
	mongoc_change_stream_destroy(cs);
	mongoc_collection_destroy(a);
	mongoc_collection_destroy(b);
	mongoc_collection_destroy(other);
	mongoc_database_destroy(db);
}

/* A $match reading only ns/operationType (which the test server decides before it
 * builds an event) gives exactly the events of the same filter with a clause that
 * needs the whole event, and a $match on fullDocument still sees the document. */
static void
test_database_stream_ns_filters_agree(void **state)
{
	mongoc_database_t *db = mongoc_client_get_database(client, dbname);
	mongoc_collection_t *kept = coll("nsf_kept"), *dropped = coll("nsf_dropped");
	mongoc_change_stream_t *by_ns, *by_all, *by_doc, *by_op;
	const char *ns_filter = "{'$or': [{'ns.coll': {'$in': ['nsf_kept', 'nsf_other']}}, {'operationType': {'$in': ['dropDatabase', 'invalidate']}}]}";
	bson_error_t error;
	const bson_t *a, *b;
	int n = 0;

	(void)state;
	insert(kept, "{'_id': 0}");
	by_ns = mongoc_database_watch(db, tsmongo_jsonf("{'pipeline': [{'$match': %s}]}", ns_filter),
	    tsmongo_json("{'maxAwaitTimeMS': 200, 'fullDocument': 'updateLookup'}"));
	by_all = mongoc_database_watch(db, tsmongo_jsonf("{'pipeline': [{'$match': {'$and': [%s, {'clusterTime': {'$exists': true}}]}}]}", ns_filter),
	    tsmongo_json("{'maxAwaitTimeMS': 200, 'fullDocument': 'updateLookup'}"));
	by_doc = mongoc_database_watch(db, tsmongo_json("{'pipeline': [{'$match': {'ns.coll': 'nsf_kept', 'fullDocument.keep': true}}]}"),
	    tsmongo_json("{'maxAwaitTimeMS': 200}"));
	by_op = mongoc_database_watch(db, tsmongo_jsonf("{'pipeline': [{'$match': {'ns': {'db': '%s', 'coll': 'nsf_dropped'}, 'operationType': {'$ne': 'insert'}}}]}", dbname),
	    tsmongo_json("{'maxAwaitTimeMS': 200}"));
	insert(kept, "{'_id': 1, 'keep': true}");
	insert(dropped, "{'_id': 1, 'keep': true}");
	insert(kept, "{'_id': 2, 'keep': false}");
	assert_true(mongoc_collection_update_one(dropped, tsmongo_json("{'_id': 1}"), tsmongo_json("{'$set': {'x': 1}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_update_one(kept, tsmongo_json("{'_id': 2}"), tsmongo_json("{'$set': {'keep': true}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_replace_one(kept, tsmongo_json("{'_id': 1}"), tsmongo_json("{'keep': false}"), NULL, NULL, &error));
	assert_true(mongoc_collection_delete_one(dropped, tsmongo_json("{'_id': 1}"), NULL, NULL, &error));
	assert_true(mongoc_collection_delete_one(kept, tsmongo_json("{'_id': 1}"), NULL, NULL, &error));
	insert(kept, "{'_id': 'last', 'keep': true}");
	/* by_ns and by_all: the five events on nsf_kept, identical */
	while ((a = NEXT(by_ns)) != NULL) {
		b = NEXT(by_all);
		assert_non_null(b);
		if (!bson_equal(a, b))
			fail_msg("event %d: %s vs %s", n, bson_as_relaxed_extended_json(a, NULL), bson_as_relaxed_extended_json(b, NULL));
		assert_string_equal(tsmongo_get_str(a, "ns.coll"), "nsf_kept");
		n++;
		if (strcmp(tsmongo_get_str(a, "operationType"), "insert") == 0 && tsmongo_get_type(a, "documentKey._id") == BSON_TYPE_UTF8)
			break;
	}
	assert_int_equal(n, 6);
	assert_null(next_event(by_ns, 300));
	/* by_doc: the inserts of documents with keep: true (an update event carries no
	 * fullDocument on this stream, the replacement has keep: false) */
	assert_match(NEXT(by_doc), "{'operationType': 'insert', 'documentKey': {'_id': 1}}");
	assert_match(NEXT(by_doc), "{'operationType': 'insert', 'documentKey': {'_id': 'last'}}");
	assert_null(next_event(by_doc, 300));
	/* by_op: nsf_dropped's update and delete */
	assert_match(NEXT(by_op), "{'operationType': 'update', 'documentKey': {'_id': 1}, 'updateDescription': {'updatedFields': {'x': 1}}}");
	assert_match(NEXT(by_op), "{'operationType': 'delete', 'documentKey': {'_id': 1}}");
	assert_null(next_event(by_op, 300));
	mongoc_change_stream_destroy(by_ns);
	mongoc_change_stream_destroy(by_all);
	mongoc_change_stream_destroy(by_doc);
	mongoc_change_stream_destroy(by_op);
	mongoc_collection_destroy(kept);
	mongoc_collection_destroy(dropped);
	mongoc_database_destroy(db);
}

static void
test_postbatch_token_advances_when_quiet(void **state)
{
	mongoc_collection_t *c = coll("quiet"), *noise = coll("noise");
	mongoc_change_stream_t *cs, *cs2;
	const bson_t *tok;
	bson_t t1, t2;
	long long t0;
	const bson_t *ev;

	(void)state;
	insert(c, "{'first': true}");
	cs = watch(c, NULL, "{'maxAwaitTimeMS': 150}");
	t0 = clock_mono_ms();
	assert_null(next_event(cs, 0));
	/* The empty getMore was held on the server until maxAwaitTimeMS ran out. */
	assert_true(clock_mono_ms() - t0 >= 100);
	tok = mongoc_change_stream_get_resume_token(cs);
	assert_non_null(tok);
	bson_copy_to(tok, &t1);

	/* Writes elsewhere move the high-water mark although nothing matched. */
	insert(noise, "{'x': 1}");
	insert(noise, "{'x': 2}");
	assert_null(next_event(cs, 300));
	tok = mongoc_change_stream_get_resume_token(cs);
	assert_non_null(tok);
	bson_copy_to(tok, &t2);
	assert_false(bson_equal(&t1, &t2));

	/* The advanced token is a valid resume point. */
	mongoc_change_stream_destroy(cs);
	insert(c, "{'after': true}");
	{
		bson_t opts = BSON_INITIALIZER;
		BSON_APPEND_DOCUMENT(&opts, "resumeAfter", &t2);
		BSON_APPEND_INT32(&opts, "maxAwaitTimeMS", 200);
		cs2 = mongoc_collection_watch(c, tsmongo_json("{}"), &opts);
		bson_destroy(&opts);
	}
	ev = NEXT(cs2);
	assert_match(ev, "{'operationType': 'insert', 'fullDocument': {'after': true}}");
	mongoc_change_stream_destroy(cs2);
	bson_destroy(&t1);
	bson_destroy(&t2);
	mongoc_collection_destroy(c);
	mongoc_collection_destroy(noise);
}

static void
test_resume_options(void **state)
{
	mongoc_collection_t *c = coll("resume");
	mongoc_change_stream_t *cs;
	const bson_t *ev[3];
	bson_t tok1 = BSON_INITIALIZER, opts;
	uint32_t ts2, inc2;
	const bson_t *err_doc = NULL;
	bson_iter_t it;

	(void)state;
	insert(c, "{'seed': 1}");
	cs = watch(c, NULL, NULL);
	insert(c, "{'_id': 1}");
	insert(c, "{'_id': 2}");
	insert(c, "{'_id': 3}");
	for (int i = 0; i < 3; i++) {
		ev[i] = NEXT(cs);
		assert_non_null(ev[i]);
		assert_int_equal(tsmongo_get_int(ev[i], "documentKey._id"), i + 1);
	}
	bson_copy_to(tsmongo_get_doc(ev[0], "_id"), &tok1);
	assert_true(bson_iter_init_find(&it, ev[1], "clusterTime"));
	bson_iter_timestamp(&it, &ts2, &inc2);
	mongoc_change_stream_destroy(cs);

	/* resumeAfter and startAfter the first event: the second and third follow. */
	for (int k = 0; k < 2; k++) {
		bson_init(&opts);
		BSON_APPEND_DOCUMENT(&opts, k == 0 ? "resumeAfter" : "startAfter", &tok1);
		cs = mongoc_collection_watch(c, tsmongo_json("{}"), &opts);
		assert_int_equal(tsmongo_get_int(NEXT(cs), "documentKey._id"), 2);
		assert_int_equal(tsmongo_get_int(NEXT(cs), "documentKey._id"), 3);
		mongoc_change_stream_destroy(cs);
		bson_destroy(&opts);
	}

	/* startAtOperationTime at the second event's cluster time includes it. */
	bson_init(&opts);
	BSON_APPEND_TIMESTAMP(&opts, "startAtOperationTime", ts2, inc2);
	cs = mongoc_collection_watch(c, tsmongo_json("{}"), &opts);
	assert_int_equal(tsmongo_get_int(NEXT(cs), "documentKey._id"), 2);
	assert_int_equal(tsmongo_get_int(NEXT(cs), "documentKey._id"), 3);
	mongoc_change_stream_destroy(cs);
	bson_destroy(&opts);

	/* Two start points at once are refused by the server. */
	bson_init(&opts);
	BSON_APPEND_DOCUMENT(&opts, "resumeAfter", &tok1);
	BSON_APPEND_TIMESTAMP(&opts, "startAtOperationTime", ts2, inc2);
	cs = mongoc_collection_watch(c, tsmongo_json("{}"), &opts);
	assert_true(stream_error(cs, &err_doc) != 0);
	mongoc_change_stream_destroy(cs);
	bson_destroy(&opts);
	bson_destroy(&tok1);
	mongoc_collection_destroy(c);
}

static void
test_driver_resumes_after_resumable_errors(void **state)
{
	mongoc_collection_t *c = coll("autoresume");
	mongoc_change_stream_t *cs;
	bson_error_t error;
	const bson_t *err_doc = NULL;

	(void)state;
	insert(c, "{'seed': 1}");
	cs = watch(c, NULL, NULL);
	insert(c, "{'_id': 1}");
	assert_int_equal(tsmongo_get_int(NEXT(cs), "documentKey._id"), 1);
	if (!tsmongo_fail_command(mongo, "getMore", 43, 1, false, &error)) {
		mongoc_change_stream_destroy(cs);
		mongoc_collection_destroy(c);
		skip(); /* fail points disabled on this server */
	}
	/* CursorNotFound: libmongoc resumes once by itself from its cached token. */
	insert(c, "{'_id': 2}");
	assert_int_equal(tsmongo_get_int(NEXT(cs), "documentKey._id"), 2);

	/* ShutdownInProgress carries ResumableChangeStreamError: resumed too. */
	assert_true(tsmongo_fail_command(mongo, "getMore", 91, 1, false, &error));
	insert(c, "{'_id': 3}");
	assert_int_equal(tsmongo_get_int(NEXT(cs), "documentKey._id"), 3);
	/* A dropped connection is resumable as well. */
	assert_true(tsmongo_fail_command(mongo, "getMore", 0, 1, true, &error));
	insert(c, "{'_id': 4}");
	assert_int_equal(tsmongo_get_int(NEXT(cs), "documentKey._id"), 4);
	assert_null(next_event(cs, 300)); /* nothing twice */

	/* A non-resumable error ends the stream. */
	assert_true(tsmongo_fail_command(mongo, "getMore", 2, 1, false, &error));
	assert_int_equal(stream_error(cs, &err_doc), 2);
	mongoc_change_stream_destroy(cs);
	mongoc_collection_destroy(c);
}

static void
test_history_lost(void **state)
{
	mongoc_collection_t *c = coll("lost");
	mongoc_change_stream_t *cs;
	bson_t tok = BSON_INITIALIZER, opts;
	bson_error_t error;
	const bson_t *err_doc = NULL;
	uint32_t t, i;
	bson_iter_t it;
	const bson_t *ev;

	(void)state;
	if (!tsmongo_is_test_server(mongo))
		skip();
	insert(c, "{'seed': 1}");
	cs = watch(c, NULL, NULL);
	insert(c, "{'_id': 1}");
	ev = NEXT(cs);
	assert_non_null(ev);
	bson_copy_to(mongoc_change_stream_get_resume_token(cs), &tok);
	assert_true(bson_iter_init_find(&it, ev, "clusterTime"));
	bson_iter_timestamp(&it, &t, &i);
	mongoc_change_stream_destroy(cs);

	assert_true(tsmongo_set_history(mongo, 3, &error));
	for (int k = 2; k < 8; k++)
		assert_true(mongoc_collection_insert_one(c, tsmongo_jsonf("{'_id': %d}", k), NULL, NULL, &error));

	bson_init(&opts);
	BSON_APPEND_DOCUMENT(&opts, "resumeAfter", &tok);
	cs = mongoc_collection_watch(c, tsmongo_json("{}"), &opts);
	assert_int_equal(stream_error(cs, &err_doc), 286);
	assert_true(label_in(err_doc, "NonResumableChangeStreamError"));
	mongoc_change_stream_destroy(cs);
	bson_destroy(&opts);

	bson_init(&opts);
	BSON_APPEND_TIMESTAMP(&opts, "startAtOperationTime", t, i);
	cs = mongoc_collection_watch(c, tsmongo_json("{}"), &opts);
	assert_int_equal(stream_error(cs, NULL), 286);
	mongoc_change_stream_destroy(cs);
	bson_destroy(&opts);

	assert_true(tsmongo_set_history(mongo, 1000000, &error));
	bson_destroy(&tok);
	mongoc_collection_destroy(c);
}

static void
test_invalidate_on_drop(void **state)
{
	mongoc_collection_t *c = coll("dropme");
	mongoc_change_stream_t *cs;
	bson_t inv = BSON_INITIALIZER, opts;
	bson_error_t error;
	const bson_t *ev;

	(void)state;
	insert(c, "{'_id': 0}");
	cs = watch(c, NULL, NULL);
	insert(c, "{'_id': 1}");
	assert_true(mongoc_collection_drop(c, &error));
	assert_match(NEXT(cs), "{'operationType': 'insert'}");
	ev = NEXT(cs);
	assert_match(ev, "{'operationType': 'drop'}");
	assert_string_equal(tsmongo_get_str(ev, "ns.coll"), "dropme");
	ev = NEXT(cs);
	assert_match(ev, "{'operationType': 'invalidate'}");
	bson_copy_to(tsmongo_get_doc(ev, "_id"), &inv);
	/* The server closed the cursor. libmongoc treats "cursor exhausted" as resumable
	 * and resumes after the cached (invalidate) token, which the server refuses:
	 * the stream ends with InvalidResumeToken. */
	assert_int_equal(stream_error(cs, NULL), 260);
	mongoc_change_stream_destroy(cs);

	/* startAfter an invalidate continues past it; resumeAfter may not. */
	bson_init(&opts);
	BSON_APPEND_DOCUMENT(&opts, "startAfter", &inv);
	cs = mongoc_collection_watch(c, tsmongo_json("{}"), &opts);
	insert(c, "{'_id': 'reborn'}");
	assert_match(NEXT(cs), "{'operationType': 'insert', 'documentKey': {'_id': 'reborn'}}");
	mongoc_change_stream_destroy(cs);
	bson_destroy(&opts);

	bson_init(&opts);
	BSON_APPEND_DOCUMENT(&opts, "resumeAfter", &inv);
	cs = mongoc_collection_watch(c, tsmongo_json("{}"), &opts);
	assert_int_equal(stream_error(cs, NULL), 260);
	mongoc_change_stream_destroy(cs);
	bson_destroy(&opts);
	bson_destroy(&inv);
	mongoc_collection_destroy(c);
}

static void
test_failed_writes_leave_no_events(void **state)
{
	mongoc_database_t *db = mongoc_client_get_database(client, dbname);
	mongoc_collection_t *c;
	mongoc_change_stream_t *cs;
	bson_error_t error;

	(void)state;
	c = mongoc_database_create_collection(db, "strict", tsmongo_json(
	    "{'validator': {'$jsonSchema': {'required': ['n'], 'properties': {'n': {'bsonType': 'int'}}}}}"), &error);
	assert_non_null(c);
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'strict', 'indexes': [{'key': {'n': 1}, 'name': 'n_1', 'unique': true}]}", NULL, &error));
	cs = watch(c, NULL, NULL);
	insert(c, "{'_id': 1, 'n': 1}");
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 2, 'n': 1}"), NULL, NULL, &error));
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 3, 'n': 'x'}"), NULL, NULL, &error));
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 1, 'n': 9}"), NULL, NULL, &error));
	assert_false(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"), tsmongo_json("{'$set': {'n': 'y'}}"), NULL, NULL, &error));
	insert(c, "{'_id': 4, 'n': 4}");
	assert_match(NEXT(cs), "{'operationType': 'insert', 'documentKey': {'_id': 1}}");
	assert_match(NEXT(cs), "{'operationType': 'insert', 'documentKey': {'_id': 4}}");
	assert_null(next_event(cs, 300));
	mongoc_change_stream_destroy(cs);
	mongoc_collection_destroy(c);
	mongoc_database_destroy(db);
}

static void
test_stream_pipeline_and_images(void **state)
{
	mongoc_collection_t *c;
	mongoc_change_stream_t *cs;
	const bson_t *ev;
	bson_error_t error;

	(void)state;
	assert_true(tsmongo_cmd(client, dbname, "{'create': 'images', 'changeStreamPreAndPostImages': {'enabled': true}}", NULL, &error));
	c = coll("images");
	insert(c, "{'_id': 1, 'v': 1}");
	cs = watch(c, "{'pipeline': [{'$match': {'operationType': 'update'}},"
	    " {'$project': {'fullDocument': 1, 'fullDocumentBeforeChange': 1, 'documentKey': 1}}]}",
	    "{'maxAwaitTimeMS': 200, 'fullDocument': 'whenAvailable', 'fullDocumentBeforeChange': 'whenAvailable'}");
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"), tsmongo_json("{'$set': {'v': 2}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"), tsmongo_json("{'$set': {'v': 3}}"), NULL, NULL, &error));
	/* Post- and pre-images as of each event, not the current document. */
	ev = NEXT(cs);
	assert_match(ev, "{'fullDocument': {'_id': 1, 'v': 2}, 'fullDocumentBeforeChange': {'_id': 1, 'v': 1}, 'documentKey': {'_id': 1}}");
	assert_false(bson_has_field(ev, "operationType"));
	assert_int_equal(tsmongo_get_type(ev, "_id._data"), BSON_TYPE_UTF8);
	ev = NEXT(cs);
	assert_match(ev, "{'fullDocument': {'v': 3}, 'fullDocumentBeforeChange': {'v': 2}}");
	mongoc_change_stream_destroy(cs);

	/* A pipeline that removes the resume token breaks the stream (mongod's 280). */
	cs = watch(c, "{'pipeline': [{'$project': {'_id': 0}}]}", NULL);
	insert(c, "{'_id': 2}");
	assert_int_equal(stream_error(cs, NULL), 280);
	mongoc_change_stream_destroy(cs);
	mongoc_collection_destroy(c);
}

/* ---- fault injection and connections ---- */

static void
test_fail_command_modes(void **state)
{
	mongoc_collection_t *c = coll("faults");
	mongoc_client_t *noretry;
	mongoc_collection_t *nc;
	bson_error_t error;
	bson_t reply;

	(void)state;
	insert(c, "{'_id': 1}");
	if (!tsmongo_fail_command(mongo, "count", 96, 2, false, &error)) {
		mongoc_collection_destroy(c);
		skip();
	}
	/* times: 2 -> exactly two failures, with the server's error code. */
	for (int i = 0; i < 2; i++) {
		assert_false(tsmongo_cmd(client, dbname, "{'count': 'faults'}", &reply, &error));
		assert_int_equal(error.code, 96);
		assert_string_equal(tsmongo_get_str(&reply, "codeName"), "OperationFailed");
		bson_destroy(&reply);
	}
	assert_true(tsmongo_cmd(client, dbname, "{'count': 'faults'}", NULL, &error));

	/* closeConnection without retries: a network error, then fine again. */
	{
		char uri[1200];
		snprintf(uri, sizeof(uri), "%s%sretryReads=false", tsmongo_uri(mongo),
		    strchr(tsmongo_uri(mongo), '?') ? "&" : "/?");
		noretry = mongoc_client_new(uri);
	}
	mongoc_client_set_error_api(noretry, MONGOC_ERROR_API_VERSION_2);
	nc = mongoc_client_get_collection(noretry, dbname, "faults");
	assert_true(tsmongo_fail_command(mongo, "find", 0, 1, true, &error));
	assert_null(tsmongo_find_one(nc, "{'_id': 1}"));
	assert_non_null(tsmongo_find_one(nc, "{'_id': 1}"));

	/* With retryable writes the driver retries an insert whose connection died
	 * (same txnNumber): the document is there exactly once. */
	assert_true(tsmongo_fail_command(mongo, "insert", 0, 1, true, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 'once'}"), NULL, NULL, &error));
	assert_int_equal(tsmongo_count(c, "{'_id': 'once'}"), 1);

	/* data.appName limits the fail point to clients that named that application. */
	{
		mongoc_client_t *named = tsmongo_client(mongo); /* appname "tsmongo" */
		mongoc_client_t *anon;
		mongoc_uri_t *u = mongoc_uri_new(tsmongo_uri(mongo));

		mongoc_uri_set_appname(u, "someone-else");
		anon = mongoc_client_new_from_uri(u);
		mongoc_uri_destroy(u);
		mongoc_client_set_error_api(anon, MONGOC_ERROR_API_VERSION_2);
		assert_true(tsmongo_cmd(client, "admin", "{'configureFailPoint': 'failCommand', 'mode': 'alwaysOn',"
		    " 'data': {'failCommands': ['dbStats'], 'errorCode': 96, 'appName': 'tsmongo'}}", NULL, &error));
		assert_false(tsmongo_cmd(named, dbname, "{'dbStats': 1}", NULL, &error));
		assert_int_equal(error.code, 96);
		assert_true(tsmongo_cmd(anon, dbname, "{'dbStats': 1}", NULL, &error));
		assert_true(tsmongo_fail_off(mongo, &error));
		mongoc_client_destroy(anon);
		mongoc_client_destroy(named);
	}

	/* {skip: N} lets N through first; "off" ends it. */
	assert_true(tsmongo_cmd(client, "admin", "{'configureFailPoint': 'failCommand', 'mode': {'skip': 1},"
	    " 'data': {'failCommands': ['distinct'], 'errorCode': 96}}", NULL, &error));
	assert_true(tsmongo_cmd(client, dbname, "{'distinct': 'faults', 'key': '_id'}", NULL, &error));
	assert_false(tsmongo_cmd(client, dbname, "{'distinct': 'faults', 'key': '_id'}", NULL, &error));
	assert_false(tsmongo_cmd(client, dbname, "{'distinct': 'faults', 'key': '_id'}", NULL, &error));
	assert_true(tsmongo_fail_off(mongo, &error));
	assert_true(tsmongo_cmd(client, dbname, "{'distinct': 'faults', 'key': '_id'}", NULL, &error));

	mongoc_collection_destroy(nc);
	mongoc_client_destroy(noretry);
	mongoc_collection_destroy(c);
}

static void
test_drop_connections_then_reconnect(void **state)
{
	bson_error_t error;
	bson_t reply;
	int64_t created0, created1;
	bool ok = false;

	(void)state;
	if (!tsmongo_is_test_server(mongo))
		skip();
	assert_true(tsmongo_cmd(client, "admin", "{'serverStatus': 1}", &reply, &error));
	created0 = tsmongo_get_int(&reply, "connections.totalCreated");
	bson_destroy(&reply);
	assert_true(tsmongo_drop_connections(mongo, &error));
	/* The driver notices the closed socket (at most one failed command) and
	 * reconnects by itself. */
	for (int i = 0; i < 3 && !ok; i++)
		ok = tsmongo_cmd(client, "admin", "{'ping': 1}", NULL, &error);
	assert_true(ok);
	assert_true(tsmongo_cmd(client, "admin", "{'serverStatus': 1}", &reply, &error));
	created1 = tsmongo_get_int(&reply, "connections.totalCreated");
	bson_destroy(&reply);
	assert_true(created1 > created0);
}

static void
test_block_connection_fail_point(void **state)
{
	bson_error_t error;
	long long t0;

	(void)state;
	if (!tsmongo_admin_command(mongo, tsmongo_json("{'configureFailPoint': 'failCommand', 'mode': {'times': 1},"
	    " 'data': {'failCommands': ['ping'], 'blockConnection': true, 'blockTimeMS': 300}}"), NULL, &error))
		skip();
	t0 = clock_mono_ms();
	assert_true(tsmongo_cmd(client, "admin", "{'ping': 1}", NULL, &error));
	assert_true(clock_mono_ms() - t0 >= 250);
	t0 = clock_mono_ms();
	assert_true(tsmongo_cmd(client, "admin", "{'ping': 1}", NULL, &error));
	assert_true(clock_mono_ms() - t0 < 250);
}

static void
test_cluster_stream(void **state)
{
	mongoc_change_stream_t *cs;
	mongoc_collection_t *c = coll("cluster_wide");
	mongoc_client_t *other = tsmongo_client(mongo);
	mongoc_collection_t *c2;
	char db2[80];
	const bson_t *ev;

	(void)state;
	tsmongo_dbname(mongo, "cs2", 1, db2, sizeof(db2));
	c2 = mongoc_client_get_collection(other, db2, "elsewhere");
	insert(c, "{'seed': 1}");
	cs = mongoc_client_watch(client, tsmongo_json("{'pipeline': [{'$match': {'ns.coll': {'$in': ['cluster_wide', 'elsewhere']}}}]}"),
	    tsmongo_json("{'maxAwaitTimeMS': 200}"));
	insert(c, "{'_id': 'here'}");
	insert(c2, "{'_id': 'there'}");
	ev = NEXT(cs);
	assert_match(ev, "{'documentKey': {'_id': 'here'}}");
	assert_string_equal(tsmongo_get_str(ev, "ns.db"), dbname);
	ev = NEXT(cs);
	assert_match(ev, "{'documentKey': {'_id': 'there'}}");
	assert_string_equal(tsmongo_get_str(ev, "ns.db"), db2);
	mongoc_change_stream_destroy(cs);
	{
		mongoc_database_t *d = mongoc_client_get_database(other, db2);
		bson_error_t error;
		assert_true(mongoc_database_drop(d, &error));
		mongoc_database_destroy(d);
	}
	mongoc_collection_destroy(c2);
	mongoc_client_destroy(other);
	mongoc_collection_destroy(c);
}

/* ---- persistence across restarts ---- */

static void
test_restart_keeps_data_and_history(void **state)
{
	char path[256], msg[512];
	tsmongo_opts_t opts = { 0 };
	tsmongo_t *m;
	mongoc_client_t *cl;
	mongoc_collection_t *c;
	mongoc_change_stream_t *cs;
	bson_t tok = BSON_INITIALIZER, wopts;
	bson_error_t error;
	char db[80];
	FILE *f;

	(void)state;
	if (!tsmongo_is_test_server(mongo))
		skip();
	snprintf(path, sizeof(path), "/tmp/tsmongo_persist_%d.bson", (int)getpid());
	unlink(path);
	opts.data_file = path;
	m = tsmongo_start_opts(&opts, msg, sizeof(msg));
	if (m == NULL)
		fail_msg("start: %s", msg);
	tsmongo_dbname(m, "persist", 1, db, sizeof(db));
	cl = tsmongo_client(m);
	c = mongoc_client_get_collection(cl, db, "things");
	{
		mongoc_database_t *d = mongoc_client_get_database(cl, db);
		mongoc_collection_t *v = mongoc_database_create_collection(d, "checked", tsmongo_json(
		    "{'validator': {'$jsonSchema': {'required': ['ok']}}}"), &error);
		assert_non_null(v);
		mongoc_collection_destroy(v);
		mongoc_database_destroy(d);
	}
	assert_true(mongoc_client_command_simple(cl, db, tsmongo_json(
	    "{'createIndexes': 'things', 'indexes': [{'key': {'k': 1}, 'name': 'k_1', 'unique': true}]}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 1, 'k': 'a', 'n': {'$numberLong': '5'}}"), NULL, NULL, &error));
	cs = mongoc_collection_watch(c, tsmongo_json("{}"), tsmongo_json("{'maxAwaitTimeMS': 200}"));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 2, 'k': 'b'}"), NULL, NULL, &error));
	assert_non_null(NEXT(cs));
	bson_copy_to(mongoc_change_stream_get_resume_token(cs), &tok);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 3, 'k': 'c'}"), NULL, NULL, &error));
	mongoc_change_stream_destroy(cs);
	mongoc_collection_destroy(c);
	mongoc_client_destroy(cl);

	if (tsmongo_restart(m, msg, sizeof(msg)) != 0)
		fail_msg("restart: %s", msg);
	cl = tsmongo_client(m);
	c = mongoc_client_get_collection(cl, db, "things");
	assert_int_equal(tsmongo_count(c, "{}"), 3);
	assert_int_equal(tsmongo_get_type(tsmongo_find_one(c, "{'_id': 1}"), "n"), BSON_TYPE_INT64);
	/* The unique index and the validator came back too. */
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'k': 'a'}"), NULL, NULL, &error));
	assert_int_equal(error.code, 11000);
	{
		mongoc_collection_t *v = mongoc_client_get_collection(cl, db, "checked");
		assert_false(mongoc_collection_insert_one(v, tsmongo_json("{'no': 1}"), NULL, NULL, &error));
		assert_int_equal(error.code, 121);
		mongoc_collection_destroy(v);
	}
	/* A token from before the restart resumes: the event after it, then new ones. */
	bson_init(&wopts);
	BSON_APPEND_DOCUMENT(&wopts, "resumeAfter", &tok);
	BSON_APPEND_INT32(&wopts, "maxAwaitTimeMS", 200);
	cs = mongoc_collection_watch(c, tsmongo_json("{}"), &wopts);
	assert_int_equal(tsmongo_get_int(NEXT(cs), "documentKey._id"), 3);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 4, 'k': 'd'}"), NULL, NULL, &error));
	assert_int_equal(tsmongo_get_int(NEXT(cs), "documentKey._id"), 4);
	mongoc_change_stream_destroy(cs);
	bson_destroy(&wopts);

	/* kill -9 right after an acknowledged write, plus a torn record at the end of
	 * the file: the write survives and the torn tail is ignored. */
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 5, 'k': 'e'}"), NULL, NULL, &error));
	mongoc_collection_destroy(c);
	mongoc_client_destroy(cl);
	tsmongo_kill(m);
	f = fopen(path, "ab");
	assert_non_null(f);
	fwrite("\x40\x00\x00\x00\x02op\x00", 1, 8, f);
	fclose(f);
	if (tsmongo_restart(m, msg, sizeof(msg)) != 0)
		fail_msg("restart after kill: %s", msg);
	cl = tsmongo_client(m);
	c = mongoc_client_get_collection(cl, db, "things");
	assert_int_equal(tsmongo_count(c, "{}"), 5);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 6, 'k': 'f'}"), NULL, NULL, &error));
	assert_int_equal(tsmongo_count(c, "{}"), 6);

	mongoc_collection_destroy(c);
	mongoc_client_destroy(cl);
	bson_destroy(&tok);
	tsmongo_stop(m);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_collection_stream_events, teardown),
		cmocka_unit_test_teardown(test_database_stream_match_and_order, teardown),
		cmocka_unit_test_teardown(test_database_stream_ns_filters_agree, teardown),
		cmocka_unit_test_teardown(test_postbatch_token_advances_when_quiet, teardown),
		cmocka_unit_test_teardown(test_resume_options, teardown),
		cmocka_unit_test_teardown(test_driver_resumes_after_resumable_errors, teardown),
		cmocka_unit_test_teardown(test_history_lost, teardown),
		cmocka_unit_test_teardown(test_invalidate_on_drop, teardown),
		cmocka_unit_test_teardown(test_failed_writes_leave_no_events, teardown),
		cmocka_unit_test_teardown(test_stream_pipeline_and_images, teardown),
		cmocka_unit_test_teardown(test_fail_command_modes, teardown),
		cmocka_unit_test_teardown(test_drop_connections_then_reconnect, teardown),
		cmocka_unit_test_teardown(test_block_connection_fail_point, teardown),
		cmocka_unit_test_teardown(test_cluster_stream, teardown),
		cmocka_unit_test_teardown(test_restart_keeps_data_and_history, teardown),
	};
	int rc;

	mongoc_init();
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	mongoc_cleanup();
	return rc;
}
