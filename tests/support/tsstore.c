/* tsstore: one pool per program, one database per test; see tsstore.h. */
#include "tsstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/schema.h"

static store_t *tsstore_store;
static int tsstore_seq;

int
tsstore_group_setup(void **state)
{
	bson_error_t err;

	if (tsgroup_setup(state) != 0)
		return -1;
	/* The pool's own database is never used: every call names the test's. */
	tsstore_store = store_new(tsmongo_uri(tsgroup_mongo()), "unused", &err);
	if (tsstore_store == NULL) {
		fprintf(stderr, "store_new: %s\n", err.message);
		return -1;
	}
	return 0;
}

int
tsstore_group_teardown(void **state)
{
	/* Before tsgroup's mongoc_cleanup: the pool is libmongoc's. */
	store_destroy(tsstore_store);
	tsstore_store = NULL;
	return tsgroup_teardown(state);
}

store_t *
tsstore_pool(void)
{
	return tsstore_store;
}

int
tsstore_setup(void **state, const char *tag, tsstore_schema_t schema)
{
	tsstore_fixture_t *f = calloc(1, sizeof(*f));
	const char *const *colls = schema == TSSTORE_SCHEMA_SERVICE ? schema_service_collections
	                                                             : NULL;
	bson_error_t err;

	if (f == NULL)
		return -1;
	f->client = store_pop(tsstore_store);
	tsmongo_dbname(tsgroup_mongo(), tag, ++tsstore_seq, f->db, sizeof(f->db));
	*state = f;
	if (schema != TSSTORE_SCHEMA_NONE &&
	    !schema_ensure(f->client, f->db, colls, false, NULL, &err)) {
		fprintf(stderr, "schema_ensure: %s\n", err.message);
		/* cmocka runs no teardown after a failed setup. */
		tsstore_teardown(state);
		return -1;
	}
	return 0;
}

int
tsstore_teardown(void **state)
{
	tsstore_fixture_t *f = *state;

	if (f == NULL)
		return 0;
	tsmongo_drop_db(f->client, f->db);
	store_push(tsstore_store, f->client);
	free(f);
	*state = NULL;
	return 0;
}

bool
tsstore_find_id(mongoc_client_t *client, const char *db, const char *coll_name, int64_t id,
    bson_t *out, bool *found, bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, coll_name);
	bson_t filter = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_INT64(&filter, "_id", id);
	ok = store_find_one(coll, &filter, NULL, out, found, err);
	bson_destroy(&filter);
	mongoc_collection_destroy(coll);
	return ok;
}

bool
tsstore_tickets_for(mongoc_client_t *client, const char *db, int64_t id, store_doc_cb cb,
    void *ctx, size_t *n_out, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t sort;
	bool ok;

	/* Equality on an array field matches any element, of any numeric type. */
	BSON_APPEND_INT64(&filter, "detection_ids", id);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	ok = store_find_each(client, db, STORE_COLL_TICKETS, &filter, &opts, cb, ctx, n_out,
	    NULL, err);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

bool
tsstore_pushed(mongoc_client_t *client, const char *db, int64_t id, store_pushed_t *out,
    bson_error_t *err)
{
	bson_t doc;
	bool found, ok;

	memset(out, 0, sizeof(*out));
	ok = tsstore_find_id(client, db, STORE_COLL_STATE, id, &doc, &found, err);
	if (ok && found)
		ok = store_pushed_from_doc(&doc, out, err);
	bson_destroy(&doc);
	return ok;
}
