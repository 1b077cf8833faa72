/*
 * The MongoDB test server's own tests, driven through libmongoc (the real client):
 * handshake and admin commands, BSON type fidelity, CRUD, indexes, validators,
 * aggregation. Change streams, fault injection and persistence are in
 * test_mongo_changestream.c. Every test also runs against a real replica set when
 * TICKETSYNC_TEST_MONGODB_URI is set; tests needing test-only commands skip there.
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
	tsmongo_dbname(mongo, "srv", 1, dbname, sizeof(dbname));
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
	(void)state;
	tsmongo_tmp_free();
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

/* ---- handshake and admin ---- */

static void
test_admin_commands(void **state)
{
	bson_t reply;
	bson_error_t error;
	bson_iter_t it;
	mongoc_collection_t *c = coll("admin_probe");

	(void)state;
	assert_true(tsmongo_cmd(client, "admin", "{'ping': 1}", &reply, &error));
	bson_destroy(&reply);

	assert_true(tsmongo_cmd(client, "admin", "{'buildInfo': 1}", &reply, &error));
	assert_true(bson_iter_init_find(&it, &reply, "version"));
	assert_true(BSON_ITER_HOLDS_UTF8(&it));
	assert_true(strlen(bson_iter_utf8(&it, NULL)) >= 5);
	bson_destroy(&reply);

	/* The driver believes it talks to a replica-set primary. */
	assert_true(tsmongo_cmd(client, "admin", "{'hello': 1}", &reply, &error));
	assert_true(tsmongo_get_bool(&reply, "isWritablePrimary"));
	assert_non_null(tsmongo_get_str(&reply, "setName"));
	assert_non_null(tsmongo_get_str(&reply, "primary"));
	assert_true(tsmongo_get_int(&reply, "maxWireVersion") >= 8);
	assert_false(bson_has_field(&reply, "topologyVersion") && tsmongo_is_test_server(mongo));
	bson_destroy(&reply);

	assert_true(tsmongo_cmd(client, "admin", "{'replSetGetStatus': 1}", &reply, &error));
	assert_true(bson_iter_init_find(&it, &reply, "members"));
	{
		bson_iter_t arr, m;
		int primaries = 0;

		bson_iter_recurse(&it, &arr);
		while (bson_iter_next(&arr)) {
			bson_iter_recurse(&arr, &m);
			if (bson_iter_find(&m, "stateStr") &&
			    strcmp(bson_iter_utf8(&m, NULL), "PRIMARY") == 0)
				primaries++;
		}
		assert_int_equal(primaries, 1);
	}
	bson_destroy(&reply);

	assert_true(tsmongo_cmd(client, "admin", "{'serverStatus': 1}", &reply, &error));
	assert_non_null(tsmongo_get_str(&reply, "host"));
	bson_destroy(&reply);

	/* listDatabases shows the database once it has data; dropDatabase removes it. */
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'x': 1}"), NULL, NULL, &error));
	assert_true(tsmongo_has_database(client, dbname));
	{
		mongoc_database_t *db = mongoc_client_get_database(client, dbname);
		assert_true(mongoc_database_drop(db, &error));
		mongoc_database_destroy(db);
	}
	assert_false(tsmongo_has_database(client, dbname));
	mongoc_collection_destroy(c);
}

static void
test_unknown_command_error_shape(void **state)
{
	bson_t reply;
	bson_error_t error;

	(void)state;
	assert_false(tsmongo_cmd(client, dbname, "{'noSuchCommandAtAll': 1}", &reply, &error));
	assert_int_equal(error.code, 59);
	assert_int_equal(tsmongo_get_int(&reply, "ok"), 0);
	assert_string_equal(tsmongo_get_str(&reply, "codeName"), "CommandNotFound");
	assert_string_equal(tsmongo_get_str(&reply, "errmsg"), "no such command: 'noSuchCommandAtAll'");
	bson_destroy(&reply);
}

/* killCursors: destroying a half-read cursor kills it on the server. */
static void
test_kill_cursors(void **state)
{
	mongoc_collection_t *c = coll("killc");
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	bson_t reply, cmd = BSON_INITIALIZER;
	int64_t id;

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_true(mongoc_collection_insert_one(c, tsmongo_jsonf("{'i': %d}", i), NULL, NULL, &error));
	cur = mongoc_collection_find_with_opts(c, tsmongo_json("{}"), tsmongo_json("{'batchSize': 2}"), NULL);
	assert_true(mongoc_cursor_next(cur, &doc));
	id = mongoc_cursor_get_id(cur);
	assert_true(id != 0);
	mongoc_cursor_destroy(cur);

	BSON_APPEND_INT64(&cmd, "getMore", id);
	BSON_APPEND_UTF8(&cmd, "collection", "killc");
	assert_false(mongoc_client_command_simple(client, dbname, &cmd, NULL, &reply, &error));
	assert_int_equal(error.code, 43);
	assert_string_equal(tsmongo_get_str(&reply, "codeName"), "CursorNotFound");
	bson_destroy(&reply);
	bson_destroy(&cmd);
	mongoc_collection_destroy(c);
}

/* ---- BSON types ---- */

/* count of documents where field1 has BSON type t1 (and field2 type t2). Built by hand:
 * libbson's JSON parser reads {"$type": ...} as legacy binary. */
static int64_t
type_count(mongoc_collection_t *c, const char *f1, const char *t1, const char *f2, const char *t2)
{
	bson_t filter = BSON_INITIALIZER, sub;
	bson_error_t error;
	int64_t n;

	BSON_APPEND_DOCUMENT_BEGIN(&filter, f1, &sub);
	BSON_APPEND_UTF8(&sub, "$type", t1);
	bson_append_document_end(&filter, &sub);
	if (f2 != NULL) {
		BSON_APPEND_DOCUMENT_BEGIN(&filter, f2, &sub);
		BSON_APPEND_UTF8(&sub, "$type", t2);
		bson_append_document_end(&filter, &sub);
	}
	n = mongoc_collection_count_documents(c, &filter, NULL, NULL, NULL, &error);
	bson_destroy(&filter);
	return n;
}

static void
test_bson_type_fidelity(void **state)
{
	mongoc_collection_t *c = coll("types");
	bson_t doc = BSON_INITIALIZER, arr, inner, sub;
	bson_oid_t oid;
	bson_error_t error;
	const bson_t *found;
	mongoc_cursor_t *cur;
	bson_decimal128_t dec;

	(void)state;
	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(&doc, "_id", &oid);
	BSON_APPEND_INT32(&doc, "i32", 7);
	BSON_APPEND_INT64(&doc, "i64", 7);
	BSON_APPEND_INT64(&doc, "big", INT64_C(9007199254740993)); /* not a double */
	BSON_APPEND_DOUBLE(&doc, "dbl", 1.0);
	BSON_APPEND_DOUBLE(&doc, "frac", 2.5);
	BSON_APPEND_DATE_TIME(&doc, "when", INT64_C(1700000000123));
	BSON_APPEND_NULL(&doc, "nothing");
	BSON_APPEND_BOOL(&doc, "yes", true);
	BSON_APPEND_TIMESTAMP(&doc, "ts", 1700000000, 42);
	BSON_APPEND_OID(&doc, "ref", &oid);
	BSON_APPEND_UTF8(&doc, "s", "h\xc3\xa9llo");
	BSON_APPEND_BINARY(&doc, "bin", BSON_SUBTYPE_BINARY, (const uint8_t *)"\x00\x01\x02", 3);
	bson_decimal128_from_string("12.340", &dec);
	BSON_APPEND_DECIMAL128(&doc, "dec", &dec);
	BSON_APPEND_REGEX(&doc, "re", "^ab", "ix");
	BSON_APPEND_ARRAY_BEGIN(&doc, "nested", &arr);
	BSON_APPEND_ARRAY_BEGIN(&arr, "0", &inner);
	BSON_APPEND_INT32(&inner, "0", 1);
	BSON_APPEND_INT64(&inner, "1", 2);
	bson_append_array_end(&arr, &inner);
	BSON_APPEND_DOCUMENT_BEGIN(&arr, "1", &sub);
	BSON_APPEND_DOUBLE(&sub, "d", 3.0);
	BSON_APPEND_ARRAY_BEGIN(&sub, "e", &inner);
	bson_append_array_end(&sub, &inner);
	bson_append_document_end(&arr, &sub);
	bson_append_array_end(&doc, &arr);

	assert_true(mongoc_collection_insert_one(c, &doc, NULL, NULL, &error));
	cur = mongoc_collection_find_with_opts(c, tsmongo_json("{}"), NULL, NULL);
	assert_true(mongoc_cursor_next(cur, &found));
	/* Byte for byte what we sent: every type and the field order survive. */
	assert_int_equal(found->len, doc.len);
	assert_memory_equal(bson_get_data(found), bson_get_data(&doc), doc.len);
	mongoc_cursor_destroy(cur);

	/* Querying across numeric types matches by value, like mongod. */
	assert_int_equal(tsmongo_count(c, "{'i32': 7.0}"), 1);
	assert_int_equal(tsmongo_count(c, "{'i64': 7}"), 1);
	assert_int_equal(tsmongo_count(c, "{'dbl': {'$numberLong': '1'}}"), 1);
	assert_int_equal(tsmongo_count(c, "{'when': {'$gt': {'$date': 1600000000000}}}"), 1);
	assert_int_equal(tsmongo_count(c, "{'nested.1.d': 3}"), 1);
	assert_int_equal(tsmongo_count(c, "{'nothing': null}"), 1);
	assert_int_equal(tsmongo_count(c, "{'missing': null}"), 1);
	/* int64 beyond 2^53: _id lookups and sorts stay exact. */
	{
		mongoc_collection_t *big = coll("bigints");
		mongoc_cursor_t *bc;
		const bson_t *bd;

		assert_true(mongoc_collection_insert_one(big, tsmongo_json("{'_id': {'$numberLong': '9007199254740992'}, 'v': 'a'}"), NULL, NULL, &error));
		assert_true(mongoc_collection_insert_one(big, tsmongo_json("{'_id': {'$numberLong': '9007199254740993'}, 'v': 'b'}"), NULL, NULL, &error));
		assert_string_equal(tsmongo_get_str(tsmongo_find_one(big, "{'_id': {'$numberLong': '9007199254740993'}}"), "v"), "b");
		assert_string_equal(tsmongo_get_str(tsmongo_find_one(big, "{'_id': {'$numberLong': '9007199254740992'}}"), "v"), "a");
		bc = mongoc_collection_find_with_opts(big, tsmongo_json("{}"), tsmongo_json("{'sort': {'_id': -1}}"), NULL);
		assert_true(mongoc_cursor_next(bc, &bd));
		assert_string_equal(tsmongo_get_str(bd, "v"), "b");
		mongoc_cursor_destroy(bc);
		mongoc_collection_destroy(big);
	}

	/* $type tells the stored BSON types apart, even for equal values. */
	assert_int_equal(type_count(c, "i32", "int", NULL, NULL), 1);
	assert_int_equal(type_count(c, "i32", "int", "i64", "long"), 1);
	assert_int_equal(type_count(c, "i32", "long", NULL, NULL), 0);
	assert_int_equal(type_count(c, "i64", "int", NULL, NULL), 0);
	assert_int_equal(type_count(c, "dbl", "double", NULL, NULL), 1);
	assert_int_equal(type_count(c, "dbl", "int", NULL, NULL), 0);
	assert_int_equal(type_count(c, "dbl", "number", "nested", "array"), 1);
	assert_int_equal(type_count(c, "ts", "timestamp", "big", "long"), 1);

	bson_destroy(&doc);
	mongoc_collection_destroy(c);
}

static void
test_inc_keeps_numeric_types(void **state)
{
	mongoc_collection_t *c = coll("inc");
	bson_error_t error;
	const bson_t *doc;

	(void)state;
	assert_true(mongoc_collection_insert_one(c, tsmongo_json(
	    "{'_id': 1, 'a': {'$numberInt': '2147483647'}, 'b': {'$numberLong': '5'},"
	    " 'c': {'$numberInt': '1'}, 'd': {'$numberDouble': '1.0'}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"), tsmongo_json(
	    "{'$inc': {'a': {'$numberInt': '1'}, 'b': {'$numberInt': '1'}, 'c': {'$numberDouble': '0.5'},"
	    " 'd': {'$numberInt': '1'}, 'n': {'$numberLong': '3'}}}"), NULL, NULL, &error));
	doc = tsmongo_find_one(c, "{'_id': 1}");
	assert_non_null(doc);
	/* int32 overflow widens to int64; int64 stays int64; a double makes a double. */
	assert_int_equal(tsmongo_get_type(doc, "a"), BSON_TYPE_INT64);
	assert_int_equal(tsmongo_get_int(doc, "a"), INT64_C(2147483648));
	assert_int_equal(tsmongo_get_type(doc, "b"), BSON_TYPE_INT64);
	assert_int_equal(tsmongo_get_int(doc, "b"), 6);
	assert_int_equal(tsmongo_get_type(doc, "c"), BSON_TYPE_DOUBLE);
	assert_int_equal(tsmongo_get_type(doc, "d"), BSON_TYPE_DOUBLE);
	assert_int_equal(tsmongo_get_type(doc, "n"), BSON_TYPE_INT64);

	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"),
	    tsmongo_json("{'$mul': {'b': {'$numberInt': '2'}}, '$set': {'s': {'$numberLong': '9'}}}"),
	    NULL, NULL, &error));
	doc = tsmongo_find_one(c, "{'_id': 1}");
	assert_int_equal(tsmongo_get_type(doc, "b"), BSON_TYPE_INT64);
	assert_int_equal(tsmongo_get_int(doc, "b"), 12);
	assert_int_equal(tsmongo_get_type(doc, "s"), BSON_TYPE_INT64);

	/* $inc on a string is a TypeMismatch, and changes nothing. */
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 2, 'a': 'x'}"), NULL, NULL, &error));
	assert_false(mongoc_collection_update_one(c, tsmongo_json("{'_id': 2}"),
	    tsmongo_json("{'$inc': {'a': 1}}"), NULL, NULL, &error));
	assert_int_equal(error.code, 14);
	mongoc_collection_destroy(c);
}

/* ---- updates ---- */

static void
test_update_operators(void **state)
{
	mongoc_collection_t *c = coll("upd");
	bson_error_t error;
	bson_t reply;
	const bson_t *doc;

	(void)state;
	assert_true(mongoc_collection_insert_one(c, tsmongo_json(
	    "{'_id': 1, 'a': {'b': 1}, 'gone': true, 'tags': ['x'], 'set': [1],"
	    " 'hi': 5, 'lo': 5, 'nums': [1, 5, 8, 12]}"), NULL, NULL, &error));
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"), tsmongo_json(
	    "{'$set': {'a.c': 'new'}, '$unset': {'gone': ''},"
	    " '$push': {'tags': {'$each': ['y', 'z']}},"
	    " '$addToSet': {'set': {'$each': [1, 2, 2]}},"
	    " '$max': {'hi': 3}, '$min': {'lo': 3},"
	    " '$currentDate': {'touched': true},"
	    " '$pull': {'nums': {'$gte': 8}},"
	    " '$setOnInsert': {'never': 1}}"), NULL, &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "matchedCount"), 1);
	assert_int_equal(tsmongo_get_int(&reply, "modifiedCount"), 1);
	bson_destroy(&reply);
	doc = tsmongo_find_one(c, "{'_id': 1}");
	assert_match(doc, "{'_id': 1, 'a': {'b': 1, 'c': 'new'}, 'tags': ['x', 'y', 'z'],"
	    " 'set': [1, 2], 'hi': 5, 'lo': 3, 'nums': [1, 5]}");
	assert_false(bson_has_field(doc, "gone"));
	assert_false(bson_has_field(doc, "never"));
	assert_int_equal(tsmongo_get_type(doc, "touched"), BSON_TYPE_DATE_TIME);

	/* A no-op update matches but modifies nothing. */
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"),
	    tsmongo_json("{'$set': {'hi': 5}}"), NULL, &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "matchedCount"), 1);
	assert_int_equal(tsmongo_get_int(&reply, "modifiedCount"), 0);
	bson_destroy(&reply);

	/* Replacement keeps _id; changing _id is refused. */
	assert_true(mongoc_collection_replace_one(c, tsmongo_json("{'_id': 1}"),
	    tsmongo_json("{'only': 'this'}"), NULL, NULL, &error));
	doc = tsmongo_find_one(c, "{'_id': 1}");
	assert_match(doc, "{'_id': 1, 'only': 'this'}");
	assert_false(bson_has_field(doc, "a"));
	assert_false(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"),
	    tsmongo_json("{'$set': {'_id': 2}}"), NULL, NULL, &error));
	assert_int_equal(error.code, 66);

	/* Upsert: seeded from the query's equality fields, $setOnInsert applies. */
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 7, 'k': 'v'}"),
	    tsmongo_json("{'$set': {'x': 1}, '$setOnInsert': {'created': true}}"),
	    tsmongo_json("{'upsert': true}"), &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "upsertedCount"), 1);
	bson_destroy(&reply);
	doc = tsmongo_find_one(c, "{'_id': 7}");
	assert_match(doc, "{'_id': 7, 'k': 'v', 'x': 1, 'created': true}");

	/* Multi update and deletes with limit 1 / 0. */
	for (int i = 0; i < 5; i++)
		assert_true(mongoc_collection_insert_one(c, tsmongo_jsonf("{'grp': 'g', 'n': %d}", i), NULL, NULL, &error));
	assert_true(mongoc_collection_update_many(c, tsmongo_json("{'grp': 'g', 'n': {'$gte': 2}}"),
	    tsmongo_json("{'$set': {'big': true}}"), NULL, &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "modifiedCount"), 3);
	bson_destroy(&reply);
	assert_true(mongoc_collection_delete_one(c, tsmongo_json("{'grp': 'g'}"), NULL, &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "deletedCount"), 1);
	bson_destroy(&reply);
	assert_true(mongoc_collection_delete_many(c, tsmongo_json("{'grp': 'g'}"), NULL, &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "deletedCount"), 4);
	bson_destroy(&reply);
	assert_int_equal(tsmongo_count(c, "{'grp': 'g'}"), 0);

	/* Pipeline-style update: computed from the document's own fields. */
	assert_true(tsmongo_cmd(client, dbname, "{'update': 'upd', 'updates': [{'q': {'_id': 7},"
	    " 'u': [{'$set': {'sum': {'$add': ['$x', 41]}, 'k': {'$toUpper': '$k'}}}]}]}", &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "nModified"), 1);
	bson_destroy(&reply);
	doc = tsmongo_find_one(c, "{'_id': 7}");
	assert_match(doc, "{'_id': 7, 'k': 'V', 'x': 1, 'sum': 42, 'created': true}");

	/* Conflicting paths are refused as mongod does. */
	assert_false(mongoc_collection_update_one(c, tsmongo_json("{'_id': 7}"),
	    tsmongo_json("{'$set': {'a': 1}, '$inc': {'a': 1}}"), NULL, NULL, &error));
	assert_int_equal(error.code, 40);
	mongoc_collection_destroy(c);
}

static void
test_find_and_modify(void **state)
{
	mongoc_collection_t *c = coll("fam");
	mongoc_find_and_modify_opts_t *opts;
	bson_error_t error;
	bson_t reply;
	bson_iter_t it;

	(void)state;
	for (int i = 1; i <= 3; i++)
		assert_true(mongoc_collection_insert_one(c, tsmongo_jsonf("{'_id': %d, 'q': 'job', 'prio': %d}", i, i), NULL, NULL, &error));

	/* sort picks the highest priority; new=false returns the old document. */
	opts = mongoc_find_and_modify_opts_new();
	mongoc_find_and_modify_opts_set_sort(opts, tsmongo_json("{'prio': -1}"));
	mongoc_find_and_modify_opts_set_update(opts, tsmongo_json("{'$set': {'taken': true}}"));
	assert_true(mongoc_collection_find_and_modify_with_opts(c, tsmongo_json("{'q': 'job', 'taken': {'$exists': false}}"), opts, &reply, &error));
	assert_true(bson_iter_init_find(&it, &reply, "value"));
	assert_match(tsmongo_get_doc(&reply, "value"), "{'_id': 3, 'prio': 3}");
	assert_false(bson_has_field(tsmongo_get_doc(&reply, "value"), "taken"));
	assert_true(tsmongo_get_bool(tsmongo_get_doc(&reply, "lastErrorObject"), "updatedExisting"));
	bson_destroy(&reply);

	/* new=true with a projection. */
	mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	mongoc_find_and_modify_opts_set_fields(opts, tsmongo_json("{'taken': 1, '_id': 0}"));
	assert_true(mongoc_collection_find_and_modify_with_opts(c, tsmongo_json("{'q': 'job', 'taken': {'$exists': false}}"), opts, &reply, &error));
	assert_match(tsmongo_get_doc(&reply, "value"), "{'taken': true}");
	assert_false(bson_has_field(tsmongo_get_doc(&reply, "value"), "_id"));
	bson_destroy(&reply);
	mongoc_find_and_modify_opts_destroy(opts);

	/* upsert + new returns the inserted document. */
	opts = mongoc_find_and_modify_opts_new();
	mongoc_find_and_modify_opts_set_update(opts, tsmongo_json("{'$set': {'v': 1}}"));
	mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_UPSERT | MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	assert_true(mongoc_collection_find_and_modify_with_opts(c, tsmongo_json("{'_id': 'fresh'}"), opts, &reply, &error));
	assert_match(tsmongo_get_doc(&reply, "value"), "{'_id': 'fresh', 'v': 1}");
	assert_false(tsmongo_get_bool(tsmongo_get_doc(&reply, "lastErrorObject"), "updatedExisting"));
	bson_destroy(&reply);
	mongoc_find_and_modify_opts_destroy(opts);

	/* remove returns the removed document; nothing matching gives value null. */
	opts = mongoc_find_and_modify_opts_new();
	mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_REMOVE);
	assert_true(mongoc_collection_find_and_modify_with_opts(c, tsmongo_json("{'_id': 1}"), opts, &reply, &error));
	assert_match(tsmongo_get_doc(&reply, "value"), "{'_id': 1, 'prio': 1}");
	bson_destroy(&reply);
	assert_true(mongoc_collection_find_and_modify_with_opts(c, tsmongo_json("{'_id': 1}"), opts, &reply, &error));
	assert_true(bson_iter_init_find(&it, &reply, "value"));
	assert_true(BSON_ITER_HOLDS_NULL(&it));
	bson_destroy(&reply);
	mongoc_find_and_modify_opts_destroy(opts);
	assert_int_equal(tsmongo_count(c, "{}"), 3);
	mongoc_collection_destroy(c);
}

/* ---- find ---- */

static void
test_find_options_and_batches(void **state)
{
	mongoc_collection_t *c = coll("findopts");
	bson_t *docs[250];
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	int n = 0, expect = 247;

	(void)state;
	for (int i = 0; i < 250; i++)
		docs[i] = tsmongo_jsonf("{'_id': %d, 'i': %d, 'odd': %s, 'pad': 'xxxxxxxx'}", i, i, i % 2 ? "true" : "false");
	/* One message for a bulk insert of 250 documents. */
	assert_true(mongoc_collection_insert_many(c, (const bson_t **)docs, 250, NULL, NULL, &error));

	/* filter + sort + skip + limit + projection, read in batches of 7. */
	cur = mongoc_collection_find_with_opts(c, tsmongo_json("{'i': {'$gte': 10}}"), tsmongo_json(
	    "{'sort': {'i': -1}, 'skip': 2, 'limit': 200, 'projection': {'i': 1, '_id': 0}, 'batchSize': 7}"), NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		assert_int_equal(tsmongo_get_int(doc, "i"), expect);
		assert_false(bson_has_field(doc, "_id"));
		assert_false(bson_has_field(doc, "pad"));
		expect--;
		n++;
	}
	assert_false(mongoc_cursor_error(cur, &error));
	assert_int_equal(n, 200);
	mongoc_cursor_destroy(cur);

	/* Default batches (101 then the rest) over the whole collection. */
	n = 0;
	cur = mongoc_collection_find_with_opts(c, tsmongo_json("{}"), NULL, NULL);
	while (mongoc_cursor_next(cur, &doc))
		assert_int_equal(tsmongo_get_int(doc, "_id"), n++);
	assert_false(mongoc_cursor_error(cur, &error));
	assert_int_equal(n, 250);
	mongoc_cursor_destroy(cur);

	/* Exclusion projection, singleBatch. */
	n = 0;
	cur = mongoc_collection_find_with_opts(c, tsmongo_json("{'odd': true}"),
	    tsmongo_json("{'projection': {'pad': 0}, 'limit': 5, 'singleBatch': true, 'sort': {'_id': 1}}"), NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		assert_match(doc, "{'odd': true}");
		assert_false(bson_has_field(doc, "pad"));
		assert_true(bson_has_field(doc, "i"));
		n++;
	}
	assert_int_equal(n, 5);
	assert_int_equal(mongoc_cursor_get_id(cur), 0);
	mongoc_cursor_destroy(cur);

	/* Computed projection fields (aggregation expressions) keep the other types. */
	cur = mongoc_collection_find_with_opts(c, tsmongo_json("{'_id': 3}"),
	    tsmongo_json("{'projection': {'i': 1, 'twice': {'$multiply': ['$i', 2]}, 'label': {'$concat': ['n', 'x']}}}"), NULL);
	assert_true(mongoc_cursor_next(cur, &doc));
	assert_match(doc, "{'_id': 3, 'i': 3, 'twice': 6, 'label': 'nx'}");
	assert_false(bson_has_field(doc, "pad"));
	mongoc_cursor_destroy(cur);

	/* Negative skip is refused. */
	cur = mongoc_collection_find_with_opts(c, tsmongo_json("{}"), tsmongo_json("{'skip': {'$numberLong': '-1'}}"), NULL);
	assert_false(mongoc_cursor_next(cur, &doc));
	assert_true(mongoc_cursor_error(cur, &error));
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(c);
}

/* ---- indexes ---- */

static void
test_unique_index_duplicates(void **state)
{
	mongoc_collection_t *c = coll("users");
	bson_error_t error;
	bson_t reply;
	char expect[512];
	const bson_t *docs[3];

	(void)state;
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'users', 'indexes': ["
	    "{'key': {'email': 1}, 'name': 'email_1', 'unique': true},"
	    "{'key': {'org': 1, 'code': -1}, 'name': 'org_code', 'unique': true, 'sparse': true}]}", &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "numIndexesAfter"), 3);
	bson_destroy(&reply);

	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 1, 'email': 'a@x', 'org': 'o', 'code': 1}"), NULL, NULL, &error));
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 2, 'email': 'a@x'}"), NULL, NULL, &error));
	assert_int_equal(error.code, 11000);
	snprintf(expect, sizeof(expect), "E11000 duplicate key error collection: %s.users index: email_1 dup key: { email: \"a@x\" }", dbname);
	assert_string_equal(error.message, expect);

	/* _id duplicates, compound keys. */
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 1, 'email': 'other'}"), NULL, NULL, &error));
	snprintf(expect, sizeof(expect), "E11000 duplicate key error collection: %s.users index: _id_ dup key: { _id: 1 }", dbname);
	assert_string_equal(error.message, expect);
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 3, 'email': 'c@x', 'org': 'o', 'code': 1}"), NULL, NULL, &error));
	snprintf(expect, sizeof(expect), "E11000 duplicate key error collection: %s.users index: org_code dup key: { org: \"o\", code: 1 }", dbname);
	assert_string_equal(error.message, expect);

	/* On update and on upsert too. */
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 4, 'email': 'd@x'}"), NULL, NULL, &error));
	assert_false(mongoc_collection_update_one(c, tsmongo_json("{'_id': 4}"), tsmongo_json("{'$set': {'email': 'a@x'}}"), NULL, NULL, &error));
	assert_int_equal(error.code, 11000);
	assert_false(mongoc_collection_update_one(c, tsmongo_json("{'_id': 5}"), tsmongo_json("{'$set': {'email': 'a@x'}}"), tsmongo_json("{'upsert': true}"), NULL, &error));
	assert_int_equal(error.code, 11000);
	assert_int_equal(tsmongo_count(c, "{}"), 2);

	/* Unordered bulk insert carries on past the duplicate; ordered stops there. */
	docs[0] = tsmongo_json("{'email': 'e1'}");
	docs[1] = tsmongo_json("{'email': 'a@x'}");
	docs[2] = tsmongo_json("{'email': 'e3'}");
	assert_false(mongoc_collection_insert_many(c, docs, 3, tsmongo_json("{'ordered': false}"), &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "insertedCount"), 2);
	bson_destroy(&reply);
	docs[0] = tsmongo_json("{'email': 'f1'}");
	docs[2] = tsmongo_json("{'email': 'f3'}");
	assert_false(mongoc_collection_insert_many(c, docs, 3, NULL, &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "insertedCount"), 1);
	bson_destroy(&reply);

	/* A unique index cannot be built over existing duplicates. */
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'dupe': 1, 'email': 'g1'}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'dupe': 1, 'email': 'g2'}"), NULL, NULL, &error));
	assert_false(tsmongo_cmd(client, dbname, "{'createIndexes': 'users', 'indexes': ["
	    "{'key': {'dupe': 1}, 'name': 'dupe_1', 'unique': true}]}", NULL, &error));
	assert_int_equal(error.code, 11000);

	/* listIndexes, dropIndexes: then duplicates are allowed again. */
	assert_int_equal(tsmongo_index_count(c), 3);
	assert_true(mongoc_collection_drop_index(c, "email_1", &error));
	assert_int_equal(tsmongo_index_count(c), 2);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'email': 'a@x'}"), NULL, NULL, &error));
	assert_false(mongoc_collection_drop_index(c, "_id_", &error));
	assert_false(mongoc_collection_drop_index(c, "nope_1", &error));
	assert_int_equal(error.code, 27);
	mongoc_collection_destroy(c);
}

/* Secondary indexes answer equality lookups, also on array (multikey) fields. */
static void
test_index_lookups_match_scans(void **state)
{
	mongoc_collection_t *c = coll("idxlook");
	bson_error_t error;

	(void)state;
	for (int i = 0; i < 60; i++)
		assert_true(mongoc_collection_insert_one(c, tsmongo_jsonf(
		    "{'k': %d, 'tags': ['t%d', 'all'], 'sub': {'v': %d}}", i % 6, i % 4, i % 3), NULL, NULL, &error));
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'idxlook', 'indexes': ["
	    "{'key': {'k': 1, 'sub.v': 1}, 'name': 'k_sub'}, {'key': {'tags': 1}, 'name': 'tags_1'}]}",
	    NULL, &error));
	assert_int_equal(tsmongo_count(c, "{'k': 2}"), 10);
	assert_int_equal(tsmongo_count(c, "{'k': 2.0, 'sub.v': 2}"), 10);
	assert_int_equal(tsmongo_count(c, "{'k': {'$in': [1, 3]}}"), 20);
	assert_int_equal(tsmongo_count(c, "{'tags': 't1'}"), 15);
	assert_int_equal(tsmongo_count(c, "{'tags': 'all', 'k': {'$gt': 3}}"), 20);
	assert_true(mongoc_collection_update_many(c, tsmongo_json("{'k': 2}"), tsmongo_json("{'$set': {'k': 7}}"), NULL, NULL, &error));
	assert_int_equal(tsmongo_count(c, "{'k': 2}"), 0);
	assert_int_equal(tsmongo_count(c, "{'k': 7}"), 10);
	mongoc_collection_destroy(c);
}

/* Sorted reads with a limit that an index can answer in order give exactly what a
 * full match-and-sort gives (same data, one collection indexed, one not). */
/* The same find on an indexed and an unindexed copy: the same rows in the same order
 * (label: which step and query, for the failure message). Returns the row count. */
static int
same_rows(mongoc_collection_t *ix, mongoc_collection_t *plain, const char *filter,
    const char *opts, size_t step, size_t q)
{
	mongoc_cursor_t *a = mongoc_collection_find_with_opts(ix, tsmongo_json(filter), tsmongo_json(opts), NULL);
	mongoc_cursor_t *b = mongoc_collection_find_with_opts(plain, tsmongo_json(filter), tsmongo_json(opts), NULL);
	const bson_t *da, *db;
	bson_error_t error;
	int n = 0;

	while (mongoc_cursor_next(a, &da)) {
		assert_true(mongoc_cursor_next(b, &db));
		if (!bson_equal(da, db))
			fail_msg("step %zu query %zu row %d: %s vs %s", step, q, n, bson_as_relaxed_extended_json(da, NULL), bson_as_relaxed_extended_json(db, NULL));
		n++;
	}
	assert_false(mongoc_cursor_next(b, &db));
	assert_false(mongoc_cursor_error(a, &error));
	mongoc_cursor_destroy(a);
	mongoc_cursor_destroy(b);
	return n;
}

static void
test_ordered_index_reads_match_scans(void **state)
{
	mongoc_collection_t *ix = coll("ord_ix"), *plain = coll("ord_plain");
	bson_error_t error;
	const char *queries[][2] = {
		{ "{'st': 'p'}", "{'sort': {'at': 1, '_id': 1}, 'limit': 7}" },
		{ "{'st': 'p', 'at': {'$lte': 40}}", "{'sort': {'at': 1, '_id': 1}, 'limit': 5}" },
		{ "{'st': 'p', 'at': {'$gt': 10, '$lt': 50}}", "{'sort': {'at': 1}, 'limit': 3, 'skip': 2}" },
		{ "{'$or': [{'st': 'p', 'at': {'$lte': 30}}, {'st': 'f', 'until': {'$lt': 20}}]}", "{'sort': {'at': 1, '_id': 1}, 'limit': 10}" },
		{ "{'st': 'f'}", "{'sort': {'at': -1, '_id': 1}, 'limit': 4}" },
		{ "{'st': 'x'}", "{'sort': {'at': 1}, 'limit': 4}" },
		{ "{'st': 'p', 'odd': true}", "{'sort': {'at': 1, '_id': -1}, 'limit': 6}" },
	};

	(void)state;
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'ord_ix', 'indexes': [{'key': {'st': 1, 'at': 1}, 'name': 'st_at'}]}", NULL, &error));
	for (int i = 0; i < 300; i++) {
		const bson_t *d = tsmongo_jsonf("{'_id': %d, 'st': '%s', 'at': %d, 'until': %d, 'odd': %s}",
		    i, i % 3 == 0 ? "f" : "p", (i * 37) % 60, (i * 11) % 40, i % 2 ? "true" : "false");
		assert_true(mongoc_collection_insert_one(ix, d, NULL, NULL, &error));
		assert_true(mongoc_collection_insert_one(plain, d, NULL, NULL, &error));
	}
	/* a document without the sort field sorts first, as null */
	assert_true(mongoc_collection_insert_one(ix, tsmongo_json("{'_id': 1000, 'st': 'p'}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(plain, tsmongo_json("{'_id': 1000, 'st': 'p'}"), NULL, NULL, &error));
	for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++)
		same_rows(ix, plain, queries[q][0], queries[q][1], 0, q);
	/* Ranges on an index's leading field (answered from the ordered entries). */
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'ord_ix', 'indexes': [{'key': {'until': -1}, 'name': 'until_desc'}]}", NULL, &error));
	assert_int_equal(tsmongo_count(ix, "{'until': {'$gte': 10, '$lt': 20}}"), tsmongo_count(plain, "{'until': {'$gte': 10, '$lt': 20}}"));
	assert_int_equal(tsmongo_count(ix, "{'until': {'$gt': 35}}"), tsmongo_count(plain, "{'until': {'$gt': 35}}"));
	assert_int_equal(tsmongo_count(ix, "{'until': {'$lte': 0}}"), tsmongo_count(plain, "{'until': {'$lte': 0}}"));
	assert_true(tsmongo_count(ix, "{'until': {'$gte': 10, '$lt': 20}}") > 0);

	/* Updates and deletes keep the index order right. */
	assert_true(mongoc_collection_update_many(ix, tsmongo_json("{'at': {'$lt': 5}}"), tsmongo_json("{'$set': {'at': 99}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_update_many(plain, tsmongo_json("{'at': {'$lt': 5}}"), tsmongo_json("{'$set': {'at': 99}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_delete_many(ix, tsmongo_json("{'at': 10}"), NULL, NULL, &error));
	assert_true(mongoc_collection_delete_many(plain, tsmongo_json("{'at': 10}"), NULL, NULL, &error));
	{
		mongoc_cursor_t *a = mongoc_collection_find_with_opts(ix, tsmongo_json("{'st': 'p'}"), tsmongo_json("{'sort': {'at': -1, '_id': 1}, 'limit': 3}"), NULL);
		mongoc_cursor_t *b = mongoc_collection_find_with_opts(plain, tsmongo_json("{'st': 'p'}"), tsmongo_json("{'sort': {'at': -1, '_id': 1}, 'limit': 3}"), NULL);
		const bson_t *da, *db;

		while (mongoc_cursor_next(a, &da)) {
			assert_true(mongoc_cursor_next(b, &db));
			assert_true(bson_equal(da, db));
			assert_int_equal(tsmongo_get_int(da, "at"), 99);
		}
		mongoc_cursor_destroy(a);
		mongoc_cursor_destroy(b);
	}
	mongoc_collection_destroy(ix);
	mongoc_collection_destroy(plain);
}

/* A partial unique index follows its filter on every update: a document leaves it
 * when the filter stops matching, enters it when it starts to, and an update that
 * keeps its indexed fields keeps it where it was. */
static void
test_partial_index_follows_updates(void **state)
{
	mongoc_collection_t *c = coll("partial_flip");
	bson_error_t error;

	(void)state;
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'partial_flip', 'indexes': [{'key': {'claim': 1}, 'name': 'claim_1',"
	    " 'unique': true, 'partialFilterExpression': {'state': 'in_flight'}}]}", NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 1, 'state': 'in_flight', 'claim': 'x', 'n': 0}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 2, 'state': 'pending', 'claim': 'x'}"), NULL, NULL, &error));
	assert_false(mongoc_collection_update_one(c, tsmongo_json("{'_id': 2}"), tsmongo_json("{'$set': {'state': 'in_flight'}}"), NULL, NULL, &error));
	assert_int_equal(error.code, 11000);
	/* keeps the indexed fields: still in the index */
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"), tsmongo_json("{'$set': {'n': 1, 'claim': 'x'}}"), NULL, NULL, &error));
	assert_false(mongoc_collection_update_one(c, tsmongo_json("{'_id': 2}"), tsmongo_json("{'$set': {'state': 'in_flight'}}"), NULL, NULL, &error));
	assert_int_equal(error.code, 11000);
	/* the filter stops matching _id 1: _id 2 may enter */
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"), tsmongo_json("{'$set': {'state': 'pending'}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 2}"), tsmongo_json("{'$set': {'state': 'in_flight'}}"), NULL, NULL, &error));
	assert_false(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"), tsmongo_json("{'$set': {'state': 'in_flight'}}"), NULL, NULL, &error));
	assert_int_equal(error.code, 11000);
	/* a changed key inside the index frees the old one */
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 2}"), tsmongo_json("{'$set': {'claim': 'y'}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 1}"), tsmongo_json("{'$set': {'state': 'in_flight'}}"), NULL, NULL, &error));
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 3, 'state': 'in_flight', 'claim': 'y'}"), NULL, NULL, &error));
	assert_int_equal(error.code, 11000);
	/* numbers of other types: 'state' equal by value decides as well */
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 3, 'state': 'in_flight', 'claim': 'z'}"), NULL, NULL, &error));
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'partial_flip', 'indexes': [{'key': {'code': 1}, 'name': 'code_1',"
	    " 'unique': true, 'partialFilterExpression': {'level': 2}}]}", NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 10, 'level': {'$numberLong': '2'}, 'code': 'c'}"), NULL, NULL, &error));
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 11, 'level': 2.0, 'code': 'c'}"), NULL, NULL, &error));
	assert_int_equal(error.code, 11000);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 11, 'level': [1, 2], 'code': 'd'}"), NULL, NULL, &error));
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 12, 'level': [2], 'code': 'd'}"), NULL, NULL, &error));
	assert_int_equal(error.code, 11000);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 12, 'level': '2', 'code': 'd'}"), NULL, NULL, &error));
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 10}"), tsmongo_json("{'$set': {'level': {'$numberDecimal': '3'}}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 13, 'level': {'$numberInt': '2'}, 'code': 'c'}"), NULL, NULL, &error));
	/* Non-unique partial and sparse indexes (which the test server keeps no entries
	 * for, as no read uses them) change nothing that reads see. */
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'partial_flip', 'indexes': ["
	    "{'key': {'n': 1}, 'name': 'n_partial', 'partialFilterExpression': {'state': 'pending'}},"
	    "{'key': {'claim': 1, 'n': 1}, 'name': 'claim_n_sparse', 'sparse': true}]}", NULL, &error));
	assert_int_equal(tsmongo_count(c, "{'n': 1}"), 1);
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'_id': 2}"), tsmongo_json("{'$set': {'n': 1, 'state': 'pending'}}"), NULL, NULL, &error));
	assert_int_equal(tsmongo_count(c, "{'n': 1}"), 2);
	assert_int_equal(tsmongo_count(c, "{'state': 'pending', 'n': 1}"), 1);
	assert_int_equal(tsmongo_count(c, "{'claim': 'y', 'n': {'$gte': 1}}"), 1);
	assert_true(mongoc_collection_delete_one(c, tsmongo_json("{'_id': 2}"), NULL, NULL, &error));
	assert_int_equal(tsmongo_count(c, "{'n': 1}"), 1);
	assert_int_equal(tsmongo_index_count(c), 5);
	mongoc_collection_destroy(c);
}

/* $in lists (with or without equalities beside them) match as MongoDB does: numbers
 * by value across types, array fields by element, null also matching a missing field. */
static void
test_in_lists(void **state)
{
	mongoc_collection_t *c = coll("in_lists");
	bson_error_t error;
	const char *cases[][2] = {
		{ "{'k': {'$in': [1, 2, 3]}}", "1,2,3,5" },
		{ "{'k': {'$in': ['1', true]}}", "4,10" },
		{ "{'k': {'$in': [1, null]}}", "1,5,7,8" },
		{ "{'k': {'$in': []}}", "" },
		{ "{'_id': {'$in': [1, 2, 3, 4]}, 'k': 1}", "1" },
		{ "{'_id': {'$in': [5, 6, 99]}, 'k': 1}", "5" },
		{ "{'_id': {'$in': [{'$numberLong': '2'}, 3.0, 'x']}}", "2,3" },
		{ "{'_id': {'$in': [1, 2, 9, 10]}, 'k': {'$in': [true, 2]}}", "2,10" },
		{ "{'k': {'$in': [9]}, 'tag': 'b'}", "5" },
	};

	(void)state;
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 1, 'k': 1, 'tag': 'a'}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 2, 'k': 2.0}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 3, 'k': {'$numberLong': '3'}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 4, 'k': '1'}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 5, 'k': [1, 9], 'tag': ['a', 'b']}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 6, 'k': [[1]]}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 7}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 8, 'k': null}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 9, 'k': {'a': 1}}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 10, 'k': true}"), NULL, NULL, &error));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, tsmongo_json(cases[i][0]), tsmongo_json("{'sort': {'_id': 1}}"), NULL);
		const bson_t *d;
		char got[128] = "";

		while (mongoc_cursor_next(cur, &d))
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%d", got[0] ? "," : "", (int)tsmongo_get_int(d, "_id"));
		assert_false(mongoc_cursor_error(cur, &error));
		mongoc_cursor_destroy(cur);
		if (strcmp(got, cases[i][1]) != 0)
			fail_msg("%s: got [%s], expected [%s]", cases[i][0], got, cases[i][1]);
	}
	mongoc_collection_destroy(c);
}

/* Updates that keep or change a compound index's fields, then the outbox-shaped
 * claim query (sorted, limited, and unsorted in natural order): the indexed
 * collection answers exactly as an unindexed copy. */
static void
test_index_order_after_updates(void **state)
{
	mongoc_collection_t *ix = coll("upd_ix"), *plain = coll("upd_plain");
	mongoc_collection_t *both[2] = { ix, plain };
	bson_error_t error;
	const char *updates[][2] = {
		{ "{'_id': {'$lt': 40}}", "{'$set': {'note': 'keeps st and at'}}" },
		{ "{'st': 'p', 'at': {'$lt': 20}}", "{'$set': {'st': 'f', 'until': 5}}" },
		{ "{'_id': {'$mod': [3, 0]}}", "{'$set': {'at': 30}}" },
		{ "{'_id': {'$mod': [5, 0]}}", "{'$set': {'st': 'p'}}" },
		{ "{'_id': {'$mod': [7, 1]}}", "{'$set': {'at': 30.0}}" },
		{ "{'_id': {'$mod': [4, 2]}}", "{'$inc': {'at': 0}}" },
		{ "{'st': 'f', 'until': {'$lt': 10}}", "{'$set': {'st': 'p'}, '$unset': {'until': ''}}" },
	};
	const char *queries[][2] = {
		{ "{'$or': [{'st': 'p', 'at': {'$lte': 30}}, {'st': 'f', 'until': {'$lt': 20}}]}", "{'sort': {'at': 1, '_id': 1}, 'limit': 25}" },
		{ "{'$or': [{'st': 'p', 'at': {'$lte': 30}}, {'st': 'f', 'until': {'$lt': 20}}]}", "{}" },
		{ "{'st': 'p', 'at': {'$gte': 10, '$lte': 30}}", "{}" },
		{ "{'st': 'f'}", "{'sort': {'at': -1, '_id': 1}, 'limit': 9}" },
	};

	(void)state;
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'upd_ix', 'indexes': [{'key': {'st': 1, 'at': 1}, 'name': 'st_at'}]}", NULL, &error));
	for (int i = 0; i < 120; i++) {
		const bson_t *d = tsmongo_jsonf("{'_id': %d, 'st': '%s', 'at': %d, 'until': %d}", i, i % 3 == 0 ? "f" : "p", (i * 37) % 60, (i * 11) % 40);
		for (int k = 0; k < 2; k++)
			assert_true(mongoc_collection_insert_one(both[k], d, NULL, NULL, &error));
	}
	for (size_t u = 0; u <= sizeof(updates) / sizeof(updates[0]); u++) {
		if (u > 0)
			for (int k = 0; k < 2; k++)
				assert_true(mongoc_collection_update_many(both[k], tsmongo_json(updates[u - 1][0]), tsmongo_json(updates[u - 1][1]), NULL, NULL, &error));
		for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++)
			assert_true(same_rows(ix, plain, queries[q][0], queries[q][1], u, q) > 0);
	}
	mongoc_collection_destroy(ix);
	mongoc_collection_destroy(plain);
}

/* ---- validators ---- */

static const char *detection_schema =
    "{'validator': {'$jsonSchema': {"
    "  'bsonType': 'object', 'required': ['id', 'status'],"
    "  'properties': {"
    "    'id': {'bsonType': ['int', 'long'], 'minimum': 1},"
    "    'status': {'enum': ['new', 'in_progress', 'closed']},"
    "    'title': {'bsonType': 'string', 'minLength': 1, 'maxLength': 20, 'pattern': '^[A-Z]'},"
    "    'count': {'bsonType': 'long'},"
    "    'tags': {'bsonType': 'array', 'items': {'bsonType': 'string'}, 'uniqueItems': true, 'maxItems': 3},"
    "    'meta': {'bsonType': 'object', 'additionalProperties': false, 'properties': {'a': {'bsonType': 'number'}}},"
    "    'when': {'bsonType': ['date', 'null']},"
    "    'ref': {'anyOf': [{'bsonType': 'objectId'}, {'bsonType': 'string', 'maxLength': 3}]}"
    "  }}}}";

static void
test_jsonschema_validator(void **state)
{
	mongoc_database_t *db = mongoc_client_get_database(client, dbname);
	mongoc_collection_t *c;
	bson_error_t error;
	bson_t reply;
	const char *bad[] = {
		"{'status': 'new'}",                          /* id missing */
		"{'id': 1.5, 'status': 'new'}",               /* double, not int/long */
		"{'id': 0, 'status': 'new'}",                 /* minimum */
		"{'id': 1, 'status': 'bogus'}",               /* enum */
		"{'id': 1, 'status': 'new', 'title': 'lower'}", /* pattern */
		"{'id': 1, 'status': 'new', 'title': ''}",    /* minLength */
		"{'id': 1, 'status': 'new', 'count': 5}",     /* int32 where long is required */
		"{'id': 1, 'status': 'new', 'tags': ['a', 'a']}",
		"{'id': 1, 'status': 'new', 'tags': ['a', 1]}",
		"{'id': 1, 'status': 'new', 'tags': ['a', 'b', 'c', 'd']}",
		"{'id': 1, 'status': 'new', 'meta': {'a': 1, 'b': 2}}",
		"{'id': 1, 'status': 'new', 'when': 'yesterday'}",
		"{'id': 1, 'status': 'new', 'ref': 'toolong'}",
	};

	(void)state;
	c = mongoc_database_create_collection(db, "detections_v", tsmongo_json(detection_schema), &error);
	assert_non_null(c);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json(
	    "{'id': 1, 'status': 'new', 'title': 'Ok', 'count': {'$numberLong': '5'},"
	    " 'tags': ['a', 'b'], 'meta': {'a': 2.5}, 'when': null, 'ref': 'abc'}"), NULL, NULL, &error));
	assert_true(mongoc_collection_insert_one(c, tsmongo_json(
	    "{'id': {'$numberLong': '2'}, 'status': 'closed', 'when': {'$date': 1}}"), NULL, NULL, &error));

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool ok = mongoc_collection_insert_one(c, tsmongo_json(bad[i]), NULL, &reply, &error);
		if (ok)
			fail_msg("accepted invalid document %s", bad[i]);
		assert_int_equal(error.code, 121);
		assert_string_equal(error.message, "Document failed validation");
		bson_destroy(&reply);
	}

	/* errInfo like mongod: failingDocumentId and details naming $jsonSchema. */
	{
		bson_t cmd = BSON_INITIALIZER, arr, d;
		bson_iter_t it;

		BSON_APPEND_UTF8(&cmd, "insert", "detections_v");
		BSON_APPEND_ARRAY_BEGIN(&cmd, "documents", &arr);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &d);
		BSON_APPEND_INT32(&d, "_id", 99);
		BSON_APPEND_UTF8(&d, "status", "nope");
		bson_append_document_end(&arr, &d);
		bson_append_array_end(&cmd, &arr);
		assert_true(mongoc_database_write_command_with_opts(db, &cmd, NULL, &reply, &error));
		assert_true(bson_iter_init(&it, &reply));
		assert_true(bson_iter_find_descendant(&it, "writeErrors.0.code", &it));
		assert_int_equal(bson_iter_as_int64(&it), 121);
		assert_true(bson_iter_init(&it, &reply));
		assert_true(bson_iter_find_descendant(&it, "writeErrors.0.errInfo.failingDocumentId", &it));
		assert_int_equal(bson_iter_as_int64(&it), 99);
		assert_true(bson_iter_init(&it, &reply));
		assert_true(bson_iter_find_descendant(&it, "writeErrors.0.errInfo.details.operatorName", &it));
		assert_string_equal(bson_iter_utf8(&it, NULL), "$jsonSchema");
		assert_true(bson_iter_init(&it, &reply));
		assert_true(bson_iter_find_descendant(&it, "writeErrors.0.errInfo.details.schemaRulesNotSatisfied", &it));
		bson_destroy(&reply);
		bson_destroy(&cmd);
	}

	/* Updates are validated too, and a rejected update changes nothing. */
	assert_false(mongoc_collection_update_one(c, tsmongo_json("{'id': 1}"),
	    tsmongo_json("{'$set': {'status': 'weird'}}"), NULL, NULL, &error));
	assert_int_equal(error.code, 121);
	assert_int_equal(tsmongo_count(c, "{'status': 'new'}"), 1);
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'id': 1}"),
	    tsmongo_json("{'$set': {'status': 'closed'}}"), NULL, NULL, &error));

	/* bypassDocumentValidation, then validationLevel moderate lets the invalid
	 * document be updated while new invalid ones are still refused. */
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'id': 50, 'status': 'legacy'}"),
	    tsmongo_json("{'bypassDocumentValidation': true}"), NULL, &error));
	assert_true(tsmongo_cmd(client, dbname, "{'collMod': 'detections_v', 'validationLevel': 'moderate'}", &reply, &error));
	bson_destroy(&reply);
	assert_true(mongoc_collection_update_one(c, tsmongo_json("{'id': 50}"),
	    tsmongo_json("{'$set': {'note': 'still legacy'}}"), NULL, NULL, &error));
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'id': 51, 'status': 'legacy'}"), NULL, NULL, &error));
	assert_int_equal(error.code, 121);

	/* validationAction warn accepts (and logs); validationLevel off skips. */
	assert_true(tsmongo_cmd(client, dbname, "{'collMod': 'detections_v', 'validationAction': 'warn'}", &reply, &error));
	bson_destroy(&reply);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'id': 52, 'status': 'warned'}"), NULL, NULL, &error));
	assert_true(tsmongo_cmd(client, dbname, "{'collMod': 'detections_v', 'validationAction': 'error', 'validationLevel': 'off'}", &reply, &error));
	bson_destroy(&reply);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'id': 53, 'status': 'unchecked'}"), NULL, NULL, &error));
	assert_true(tsmongo_cmd(client, dbname, "{'collMod': 'detections_v', 'validationLevel': 'strict'}", &reply, &error));
	bson_destroy(&reply);
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'id': 54, 'status': 'refused'}"), NULL, NULL, &error));

	/* listCollections with a name filter shows the validator and its settings. */
	{
		mongoc_cursor_t *cur = mongoc_database_find_collections_with_opts(db,
		    tsmongo_json("{'filter': {'name': 'detections_v'}}"));
		const bson_t *info;
		int n = 0;

		while (mongoc_cursor_next(cur, &info)) {
			bson_iter_t it;
			assert_string_equal(tsmongo_get_str(info, "name"), "detections_v");
			assert_true(bson_iter_init(&it, info));
			assert_true(bson_iter_find_descendant(&it, "options.validator.$jsonSchema.required", &it));
			assert_true(bson_iter_init(&it, info));
			assert_true(bson_iter_find_descendant(&it, "options.validationLevel", &it));
			assert_string_equal(bson_iter_utf8(&it, NULL), "strict");
			n++;
		}
		assert_false(mongoc_cursor_error(cur, &error));
		assert_int_equal(n, 1);
		mongoc_cursor_destroy(cur);
	}

	/* A schema with an unknown keyword is refused when it is set. */
	assert_null(mongoc_database_create_collection(db, "badschema",
	    tsmongo_json("{'validator': {'$jsonSchema': {'bsonType': 'object', 'requird': ['x']}}}"), &error));
	/* Creating an existing collection with other options fails (NamespaceExists). */
	assert_null(mongoc_database_create_collection(db, "detections_v", tsmongo_json("{'validationLevel': 'off'}"), &error));
	assert_int_equal(error.code, 48);
	mongoc_collection_destroy(c);
	mongoc_database_destroy(db);
}

static void
test_query_validator(void **state)
{
	mongoc_database_t *db = mongoc_client_get_database(client, dbname);
	mongoc_collection_t *c;
	bson_error_t error;

	(void)state;
	c = mongoc_database_create_collection(db, "qv", tsmongo_json(
	    "{'validator': {'status': {'$in': ['open', 'done']}, 'n': {'$gte': 0}}}"), &error);
	assert_non_null(c);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'status': 'open', 'n': 1}"), NULL, NULL, &error));
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'status': 'other', 'n': 1}"), NULL, NULL, &error));
	assert_int_equal(error.code, 121);
	assert_false(mongoc_collection_insert_one(c, tsmongo_json("{'status': 'open', 'n': -1}"), NULL, NULL, &error));
	assert_int_equal(error.code, 121);
	mongoc_collection_destroy(c);
	mongoc_database_destroy(db);
}

/* ---- aggregation, count, distinct ---- */

static void
test_aggregate_count_distinct(void **state)
{
	mongoc_collection_t *c = coll("agg");
	mongoc_collection_t *other = coll("agg_owners");
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	bson_t reply;
	bson_iter_t it, arr;
	int n;

	(void)state;
	for (int i = 0; i < 30; i++)
		assert_true(mongoc_collection_insert_one(c, tsmongo_jsonf(
		    "{'_id': %d, 'team': 't%d', 'score': %d, 'tags': ['a', 'b%d']}", i, i % 3, i, i % 2), NULL, NULL, &error));
	for (int i = 0; i < 3; i++)
		assert_true(mongoc_collection_insert_one(other, tsmongo_jsonf("{'team': 't%d', 'owner': 'o%d'}", i, i), NULL, NULL, &error));

	/* $match + $group + $sort */
	cur = mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, tsmongo_json(
	    "{'pipeline': [{'$match': {'score': {'$gte': 3}}},"
	    " {'$group': {'_id': '$team', 'total': {'$sum': '$score'}, 'n': {'$sum': 1}}},"
	    " {'$sort': {'_id': 1}}]}"), NULL, NULL);
	n = 0;
	while (mongoc_cursor_next(cur, &doc)) {
		char team[16];
		snprintf(team, sizeof(team), "t%d", n);
		assert_string_equal(tsmongo_get_str(doc, "_id"), team);
		assert_int_equal(tsmongo_get_int(doc, "n"), 9);
		n++;
	}
	assert_false(mongoc_cursor_error(cur, &error));
	assert_int_equal(n, 3);
	mongoc_cursor_destroy(cur);

	/* $unwind + $count, $project + $addFields + $skip + $limit, $lookup */
	cur = mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, tsmongo_json(
	    "{'pipeline': [{'$unwind': '$tags'}, {'$match': {'tags': 'a'}}, {'$count': 'total'}]}"), NULL, NULL);
	assert_true(mongoc_cursor_next(cur, &doc));
	assert_int_equal(tsmongo_get_int(doc, "total"), 30);
	mongoc_cursor_destroy(cur);

	cur = mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, tsmongo_json(
	    "{'pipeline': [{'$sort': {'score': -1}}, {'$skip': 1}, {'$limit': 2},"
	    " {'$project': {'score': 1}}, {'$addFields': {'double': {'$multiply': ['$score', 2]}}}]}"), NULL, NULL);
	assert_true(mongoc_cursor_next(cur, &doc));
	assert_match(doc, "{'_id': 28, 'score': 28, 'double': 56}");
	assert_false(bson_has_field(doc, "team"));
	assert_true(mongoc_cursor_next(cur, &doc));
	assert_int_equal(tsmongo_get_int(doc, "score"), 27);
	assert_false(mongoc_cursor_next(cur, &doc));
	mongoc_cursor_destroy(cur);

	cur = mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, tsmongo_json(
	    "{'pipeline': [{'$match': {'_id': 4}}, {'$lookup': {'from': 'agg_owners',"
	    " 'localField': 'team', 'foreignField': 'team', 'as': 'owners'}}]}"), NULL, NULL);
	assert_true(mongoc_cursor_next(cur, &doc));
	assert_true(bson_iter_init(&it, doc));
	assert_true(bson_iter_find_descendant(&it, "owners.0.owner", &it));
	assert_string_equal(bson_iter_utf8(&it, NULL), "o1");
	mongoc_cursor_destroy(cur);

	/* count_documents (aggregate $match + $group), estimated count (count). */
	assert_int_equal(mongoc_collection_count_documents(c, tsmongo_json("{'team': 't1'}"), NULL, NULL, NULL, &error), 10);
	assert_int_equal(mongoc_collection_count_documents(c, tsmongo_json("{}"), tsmongo_json("{'skip': 5, 'limit': 10}"), NULL, NULL, &error), 10);
	assert_int_equal(mongoc_collection_count_documents(c, tsmongo_json("{'team': 'none'}"), NULL, NULL, NULL, &error), 0);
	assert_int_equal(mongoc_collection_estimated_document_count(c, NULL, NULL, NULL, &error), 30);

	/* distinct: unique, array elements expanded, sorted. */
	assert_true(tsmongo_cmd(client, dbname, "{'distinct': 'agg', 'key': 'tags', 'query': {'score': {'$lt': 10}}}", &reply, &error));
	assert_true(bson_iter_init_find(&it, &reply, "values"));
	bson_iter_recurse(&it, &arr);
	assert_true(bson_iter_next(&arr));
	assert_string_equal(bson_iter_utf8(&arr, NULL), "a");
	assert_true(bson_iter_next(&arr));
	assert_string_equal(bson_iter_utf8(&arr, NULL), "b0");
	assert_true(bson_iter_next(&arr));
	assert_string_equal(bson_iter_utf8(&arr, NULL), "b1");
	assert_false(bson_iter_next(&arr));
	bson_destroy(&reply);

	mongoc_collection_destroy(other);
	mongoc_collection_destroy(c);
}

/* ---- collection administration edge cases (MongoDB 7.0 semantics) ---- */

static void
test_collection_admin_edge_cases(void **state)
{
	mongoc_database_t *db = mongoc_client_get_database(client, dbname);
	mongoc_collection_t *c;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	bson_t reply;
	int n = 0;

	(void)state;
	c = mongoc_database_create_collection(db, "admin_edge", tsmongo_json("{'validationLevel': 'moderate', 'validator': {'a': {'$exists': true}}}"), &error);
	assert_non_null(c);
	mongoc_collection_destroy(c);
	/* create again with identical options succeeds (7.0), different ones fail. */
	assert_true(tsmongo_cmd(client, dbname, "{'create': 'admin_edge', 'validationLevel': 'moderate', 'validator': {'a': {'$exists': true}}}", NULL, &error));
	assert_false(tsmongo_cmd(client, dbname, "{'create': 'admin_edge'}", NULL, &error));
	assert_int_equal(error.code, 48);
	/* Dropping a missing collection succeeds; collMod / listIndexes on it do not. */
	assert_true(tsmongo_cmd(client, dbname, "{'drop': 'never_there'}", NULL, &error));
	assert_false(tsmongo_cmd(client, dbname, "{'collMod': 'never_there', 'validationLevel': 'off'}", NULL, &error));
	assert_int_equal(error.code, 26);
	assert_false(tsmongo_cmd(client, dbname, "{'listIndexes': 'never_there'}", NULL, &error));
	assert_int_equal(error.code, 26);

	/* listCollections nameOnly + filter. */
	cur = mongoc_database_find_collections_with_opts(db, tsmongo_json("{'nameOnly': true, 'filter': {'name': {'$regex': '^admin_e'}}}"));
	while (mongoc_cursor_next(cur, &doc)) {
		assert_string_equal(tsmongo_get_str(doc, "name"), "admin_edge");
		assert_false(bson_has_field(doc, "options"));
		n++;
	}
	assert_int_equal(n, 1);
	mongoc_cursor_destroy(cur);

	/* dropIndexes by key pattern; reads on a missing collection are empty. */
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'admin_edge', 'indexes': [{'key': {'a': 1, 'b': -1}, 'name': 'ab'}]}", NULL, &error));
	assert_true(tsmongo_cmd(client, dbname, "{'dropIndexes': 'admin_edge', 'index': {'a': 1, 'b': -1}}", &reply, &error));
	assert_int_equal(tsmongo_get_int(&reply, "nIndexesWas"), 2);
	bson_destroy(&reply);
	c = coll("never_there");
	assert_int_equal(tsmongo_count(c, "{}"), 0);
	assert_null(tsmongo_find_one(c, "{}"));
	assert_int_equal(mongoc_collection_estimated_document_count(c, NULL, NULL, NULL, &error), 0);
	mongoc_collection_destroy(c);
	mongoc_database_destroy(db);
}

/* w:0 writes are sent with moreToCome: no reply, but they happen. */
static void
test_unacknowledged_writes(void **state)
{
	mongoc_collection_t *c = coll("w0");
	mongoc_write_concern_t *wc = mongoc_write_concern_new();
	bson_t opts = BSON_INITIALIZER;
	bson_error_t error;

	(void)state;
	mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_UNACKNOWLEDGED);
	mongoc_write_concern_append(wc, &opts);
	for (int i = 0; i < 20; i++)
		assert_true(mongoc_collection_insert_one(c, tsmongo_jsonf("{'_id': %d}", i), &opts, NULL, &error));
	assert_true(mongoc_collection_delete_one(c, tsmongo_json("{'_id': 0}"), &opts, NULL, &error));
	/* The next acknowledged command on the same connection sees them all. */
	assert_int_equal(tsmongo_count(c, "{}"), 19);
	bson_destroy(&opts);
	mongoc_write_concern_destroy(wc);
	mongoc_collection_destroy(c);
}

/* A retried write (same lsid and txnNumber) returns the first result instead of
 * running again. */
static void
test_retried_write_not_applied_twice(void **state)
{
	mongoc_client_session_t *cs;
	/* Its own client: the session's txnNumber jumps ahead, so it must not go back
	 * to the shared client's session pool. */
	mongoc_client_t *own = tsmongo_client(mongo);
	mongoc_collection_t *c = mongoc_client_get_collection(own, dbname, "retried");
	bson_t cmd = BSON_INITIALIZER, opts = BSON_INITIALIZER, reply, d, upd, u, set;
	bson_error_t error;

	(void)state;
	cs = mongoc_client_start_session(own, NULL, &error);
	assert_non_null(cs);
	assert_true(mongoc_client_session_append(cs, &opts, &error));
	BSON_APPEND_UTF8(&cmd, "update", "retried");
	BSON_APPEND_ARRAY_BEGIN(&cmd, "updates", &upd);
	BSON_APPEND_DOCUMENT_BEGIN(&upd, "0", &d);
	BSON_APPEND_DOCUMENT_BEGIN(&d, "q", &u);
	BSON_APPEND_INT32(&u, "_id", 1);
	bson_append_document_end(&d, &u);
	BSON_APPEND_DOCUMENT_BEGIN(&d, "u", &u);
	BSON_APPEND_DOCUMENT_BEGIN(&u, "$inc", &set);
	BSON_APPEND_INT32(&set, "n", 1);
	bson_append_document_end(&u, &set);
	bson_append_document_end(&d, &u);
	BSON_APPEND_BOOL(&d, "upsert", true);
	bson_append_document_end(&upd, &d);
	bson_append_array_end(&cmd, &upd);
	/* Pooled sessions carry earlier txnNumbers: use one above any of them. */
	BSON_APPEND_INT64(&cmd, "txnNumber", (INT64_C(1) << 40) + (int64_t)getpid());
	for (int i = 0; i < 3; i++) {
		assert_true(mongoc_client_write_command_with_opts(own, dbname, &cmd, &opts, &reply, &error));
		if (tsmongo_get_int(&reply, "n") != 1)
			fail_msg("reply %s", bson_as_relaxed_extended_json(&reply, NULL));
		bson_destroy(&reply);
	}
	/* Applied once: an $inc retried three times counted one. */
	assert_int_equal(tsmongo_get_int(tsmongo_find_one(c, "{'_id': 1}"), "n"), 1);
	bson_destroy(&cmd);
	bson_destroy(&opts);
	mongoc_client_session_destroy(cs);
	mongoc_collection_destroy(c);
	mongoc_client_destroy(own);
}

/* TTL indexes expire documents on the monitor's pass, as mongod's TTL monitor does. */
static void
test_ttl_index_expires(void **state)
{
	mongoc_collection_t *c = coll("ttl");
	bson_error_t error;
	bson_t doc = BSON_INITIALIZER;
	int64_t now = (int64_t)time(NULL) * 1000;
	int64_t n = -1;

	(void)state;
	assert_true(tsmongo_cmd(client, dbname, "{'createIndexes': 'ttl', 'indexes': [{'key': {'at': 1}, 'name': 'at_1', 'expireAfterSeconds': 1}]}", NULL, &error));
	BSON_APPEND_UTF8(&doc, "_id", "old");
	BSON_APPEND_DATE_TIME(&doc, "at", now - 3600 * 1000);
	if (!mongoc_collection_insert_one(c, &doc, NULL, NULL, &error))
		fail_msg("insert: %s", error.message);
	bson_reinit(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "fresh");
	BSON_APPEND_DATE_TIME(&doc, "at", now + 3600 * 1000);
	assert_true(mongoc_collection_insert_one(c, &doc, NULL, NULL, &error));
	bson_destroy(&doc);
	assert_true(mongoc_collection_insert_one(c, tsmongo_json("{'_id': 'nodate', 'at': 'not a date'}"), NULL, NULL, &error));
	assert_true(tsmongo_cmd(client, "admin", "{'setParameter': 1, 'ttlMonitorSleepSecs': 1}", NULL, &error));
	for (int i = 0; i < 100 && n != 2; i++) {
		n = tsmongo_count(c, "{}");
		if (n != 2)
			usleep(100 * 1000);
	}
	assert_int_equal(n, 2);
	assert_null(tsmongo_find_one(c, "{'_id': 'old'}"));
	assert_true(tsmongo_cmd(client, "admin", "{'setParameter': 1, 'ttlMonitorSleepSecs': 60}", NULL, &error));
	mongoc_collection_destroy(c);
}

/* What the test server does not implement fails loudly instead of answering wrongly. */
static void
test_unsupported_features_refused(void **state)
{
	mongoc_collection_t *c = coll("unsupported");
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;

	(void)state;
	if (!tsmongo_is_test_server(mongo))
		skip();
	cur = mongoc_collection_find_with_opts(c, tsmongo_json("{}"), tsmongo_json("{'collation': {'locale': 'fr'}}"), NULL);
	assert_false(mongoc_cursor_next(cur, &doc));
	assert_true(mongoc_cursor_error(cur, &error));
	assert_int_equal(error.code, 115);
	mongoc_cursor_destroy(cur);
	assert_false(tsmongo_cmd(client, dbname, "{'createIndexes': 'unsupported', 'indexes': [{'key': {'t': 'text'}, 'name': 't_text'}]}", NULL, &error));
	assert_int_equal(error.code, 67);
	assert_false(tsmongo_cmd(client, dbname, "{'startTransaction': 1}", NULL, &error));
	mongoc_collection_destroy(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_admin_commands, teardown),
		cmocka_unit_test_teardown(test_unknown_command_error_shape, teardown),
		cmocka_unit_test_teardown(test_kill_cursors, teardown),
		cmocka_unit_test_teardown(test_bson_type_fidelity, teardown),
		cmocka_unit_test_teardown(test_inc_keeps_numeric_types, teardown),
		cmocka_unit_test_teardown(test_update_operators, teardown),
		cmocka_unit_test_teardown(test_find_and_modify, teardown),
		cmocka_unit_test_teardown(test_find_options_and_batches, teardown),
		cmocka_unit_test_teardown(test_unique_index_duplicates, teardown),
		cmocka_unit_test_teardown(test_index_lookups_match_scans, teardown),
		cmocka_unit_test_teardown(test_ordered_index_reads_match_scans, teardown),
		cmocka_unit_test_teardown(test_partial_index_follows_updates, teardown),
		cmocka_unit_test_teardown(test_in_lists, teardown),
		cmocka_unit_test_teardown(test_index_order_after_updates, teardown),
		cmocka_unit_test_teardown(test_jsonschema_validator, teardown),
		cmocka_unit_test_teardown(test_query_validator, teardown),
		cmocka_unit_test_teardown(test_aggregate_count_distinct, teardown),
		cmocka_unit_test_teardown(test_collection_admin_edge_cases, teardown),
		cmocka_unit_test_teardown(test_unacknowledged_writes, teardown),
		cmocka_unit_test_teardown(test_retried_write_not_applied_twice, teardown),
		cmocka_unit_test_teardown(test_ttl_index_expires, teardown),
		cmocka_unit_test_teardown(test_unsupported_features_refused, teardown),
	};
	int rc;

	mongoc_init();
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	mongoc_cleanup();
	return rc;
}
