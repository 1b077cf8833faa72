/* tsstore: one pool per program, one database per test; see tsstore.h. */
#include "tsstore.h"

#include <stdio.h>
#include <stdlib.h>

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
