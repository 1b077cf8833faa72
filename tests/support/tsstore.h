/*
 * tsstore: the fixture of the store tests (audit, outbox, read, schema, lease): the
 * program's MongoDB (tsgroup) with one store pool beside it, and per test a client
 * from that pool on a database of its own, so tests never see each other's
 * documents. The signatures are cmocka's; the code is free of it: 0, or -1 with the
 * reason on stderr.
 */
#ifndef TICKETSYNC_TESTS_TSSTORE_H
#define TICKETSYNC_TESTS_TSSTORE_H

#include <mongoc/mongoc.h>

#include "ticketsync/store.h"
#include "tsgroup.h"

/* What a test's database holds before the test starts. */
typedef enum tsstore_schema {
	TSSTORE_SCHEMA_NONE,    /* nothing: the test creates what it checks */
	TSSTORE_SCHEMA_SERVICE, /* schema_service_collections (detections, tickets free) */
	TSSTORE_SCHEMA_ALL,     /* every collection, so validators check every write */
} tsstore_schema_t;

typedef struct tsstore_fixture {
	mongoc_client_t *client; /* from the pool; pushed back by tsstore_teardown */
	char db[64];
} tsstore_fixture_t;

/* Group fixtures: tsgroup's, plus the pool (store_new on the server's URI). */
int tsstore_group_setup(void **state);
int tsstore_group_teardown(void **state);
/* The program's pool, for tests and threads that pop clients of their own. */
store_t *tsstore_pool(void);

/* Per test: *state gets a fixture on a fresh database named after tag, with the
 * collections schema says already ensured. Call from the test's own setup. */
int tsstore_setup(void **state, const char *tag, tsstore_schema_t schema);
/* Drop the database, give the client back, free the fixture. */
int tsstore_teardown(void **state);

/* Readers the service itself does not need, for checks on what the store wrote. */
/* The document of coll with _id == id (int64: any stored numeric type matches), via
 * store_find_one; out always initialised. */
bool tsstore_find_id(mongoc_client_t *client, const char *db, const char *coll, int64_t id,
    bson_t *out, bool *found, bson_error_t *err);
/* Every ticket whose detection_ids holds id (in any numeric type), ascending _id;
 * cb returns false to stop; n_out (may be NULL) counts the documents handed to cb. */
bool tsstore_tickets_for(mongoc_client_t *client, const char *db, int64_t id,
    store_doc_cb cb, void *ctx, size_t *n_out, bson_error_t *err);
/* ticketsync_state's document of id parsed by store_pushed_from_doc; out->found false
 * when there is none. */
bool tsstore_pushed(mongoc_client_t *client, const char *db, int64_t id, store_pushed_t *out,
    bson_error_t *err);

#endif
