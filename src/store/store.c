/* store: client pool and the watcher's read helpers; see store.h. */
#include "ticketsync/store.h"

#include <math.h>
#include <string.h>
#include <time.h>

struct store {
	mongoc_client_pool_t *pool;
	char db[64];
};

bool
store_db_name_valid(const char *db, bson_error_t *err)
{
	size_t len;

	if (db == NULL || db[0] == '\0') {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG, "database name is empty");
		return false;
	}
	len = strlen(db);
	if (len >= 64) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "database name \"%.16s...\" is %zu bytes; MongoDB allows at most 63", db, len);
		return false;
	}
	if (strpbrk(db, "/\\. \"$") != NULL) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "database name \"%s\" contains one of / \\ . \" $ or a space", db);
		return false;
	}
	return true;
}

static store_t *
store_create(const char *uri_string, const char *db, int32_t selection_ms, bson_error_t *err);

store_t *
store_new(const char *uri_string, const char *db, bson_error_t *err)
{
	return store_create(uri_string, db, 0, err);
}

store_t *
store_new_interactive(const char *uri_string, const char *db, bson_error_t *err)
{
	return store_create(uri_string, db, STORE_INTERACTIVE_SELECTION_MS, err);
}

static store_t *
store_create(const char *uri_string, const char *db, int32_t selection_ms, bson_error_t *err)
{
	mongoc_uri_t *uri = NULL;
	store_t *store = NULL;

	if (!store_db_name_valid(db, err))
		return NULL;
	if (uri_string == NULL || uri_string[0] == '\0') {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG, "MongoDB URI is empty");
		return NULL;
	}
	mongoc_init();
	uri = mongoc_uri_new_with_error(uri_string, err);
	if (uri == NULL)
		goto cleanup;
	if (mongoc_uri_get_appname(uri) == NULL)
		mongoc_uri_set_appname(uri, STORE_APPNAME);
	/* One automatic retry of a write across a failover: every write we make is safe
	 * to repeat (compare-and-set or append with a fresh _id). */
	mongoc_uri_set_option_as_bool(uri, MONGOC_URI_RETRYWRITES, true);
	/* A person waiting: give up on an unreachable server in seconds, not libmongoc's
	 * 30, unless the URI says otherwise. */
	if (selection_ms > 0 && !mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, selection_ms);
	store = bson_malloc0(sizeof(*store));
	store->pool = mongoc_client_pool_new_with_error(uri, err);
	if (store->pool == NULL) {
		bson_free(store);
		store = NULL;
		goto cleanup;
	}
	mongoc_client_pool_set_error_api(store->pool, MONGOC_ERROR_API_VERSION_2);
	bson_strncpy(store->db, db, sizeof(store->db));
cleanup:
	mongoc_uri_destroy(uri);
	return store;
}

void
store_destroy(store_t *store)
{
	if (store == NULL)
		return;
	mongoc_client_pool_destroy(store->pool);
	bson_free(store);
}

mongoc_client_t *
store_pop(store_t *store)
{
	return mongoc_client_pool_pop(store->pool);
}

void
store_push(store_t *store, mongoc_client_t *client)
{
	if (client != NULL)
		mongoc_client_pool_push(store->pool, client);
}

mongoc_client_pool_t *
store_pool(store_t *store)
{
	return store->pool;
}

const char *
store_doc_utf8(const bson_t *doc, const char *key, const char *dflt)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return dflt;
}

int64_t
store_doc_int64(const bson_t *doc, const char *key, int64_t dflt)
{
	bson_iter_t it;
	int64_t v;

	if (bson_iter_init_find(&it, doc, key) && store_iter_int64(&it, &v))
		return v;
	return dflt;
}

int64_t
store_doc_date(const bson_t *doc, const char *key, int64_t dflt)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&it))
		return bson_iter_date_time(&it);
	return dflt;
}

void
store_append_in_int64(bson_t *filter, const char *field, const int64_t *ids, size_t n)
{
	bson_t cond, list;
	char key[16];
	const char *k;

	bson_append_document_begin(filter, field, -1, &cond);
	bson_append_array_begin(&cond, "$in", -1, &list);
	for (size_t i = 0; i < n; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		bson_append_int64(&list, k, -1, ids[i]);
	}
	bson_append_array_end(&cond, &list);
	bson_append_document_end(filter, &cond);
}

bool
store_iter_int64(const bson_iter_t *it, int64_t *out)
{
	double d;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
		*out = bson_iter_int32(it);
		return true;
	case BSON_TYPE_INT64:
		*out = bson_iter_int64(it);
		return true;
	case BSON_TYPE_DOUBLE:
		d = bson_iter_double(it);
		/* 2^63 is exactly representable; anything at or beyond it is out of range. */
		if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 ||
		    d >= 9223372036854775808.0)
			return false;
		*out = (int64_t)d;
		return true;
	default:
		return false;
	}
}

bool
store_find_one(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts, bson_t *out,
    bool *found, bson_error_t *err)
{
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bson_t find_opts = BSON_INITIALIZER;
	bool ok;

	bson_init(out);
	*found = false;
	if (opts != NULL)
		bson_concat(&find_opts, opts);
	BSON_APPEND_INT64(&find_opts, "limit", 1);
	cursor = mongoc_collection_find_with_opts(coll, filter, &find_opts, NULL);
	if (mongoc_cursor_next(cursor, &doc)) {
		bson_destroy(out);
		bson_copy_to(doc, out);
		*found = true;
	}
	ok = !mongoc_cursor_error(cursor, err);
	mongoc_cursor_destroy(cursor);
	bson_destroy(&find_opts);
	return ok;
}

bool
store_find_each(mongoc_client_t *client, const char *db, const char *collection,
    const bson_t *filter, const bson_t *opts, store_doc_cb cb, void *ctx, size_t *n_out,
    bool *stopped, bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	mongoc_cursor_t *cursor = NULL;
	const bson_t *doc;
	size_t n = 0;
	bool ok = false;

	if (stopped != NULL)
		*stopped = false;
	coll = mongoc_client_get_collection(client, db, collection);
	cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		n++;
		if (!cb(doc, ctx)) {
			if (stopped != NULL)
				*stopped = true;
			break;
		}
	}
	if (mongoc_cursor_error(cursor, err))
		goto cleanup;
	ok = true;
cleanup:
	if (n_out != NULL)
		*n_out = n;
	mongoc_cursor_destroy(cursor);
	mongoc_collection_destroy(coll);
	return ok;
}

/* The integer an _id scan continues after: fractional ids (invalid, but possible
 * in a collection anyone can write) round down, so the next page starts past them. */
static bool
store_scan_key(const bson_t *doc, int64_t *out)
{
	bson_iter_t it;
	double d;

	if (!bson_iter_init_find(&it, doc, "_id"))
		return false;
	if (store_iter_int64(&it, out))
		return true;
	if (!BSON_ITER_HOLDS_DOUBLE(&it))
		return false;
	d = bson_iter_double(&it);
	if (isnan(d))
		return false;
	if (d >= 9223372036854775807.0)
		*out = INT64_MAX;
	else if (d <= -9223372036854775808.0)
		*out = INT64_MIN;
	else
		*out = (int64_t)floor(d);
	return true;
}

struct store_scan_ctx {
	store_doc_cb cb;
	void *ctx;
	bool has_key;
	int64_t key;
};

static bool
store_scan_visit(const bson_t *doc, void *arg)
{
	struct store_scan_ctx *sc = arg;
	int64_t key;

	if (store_scan_key(doc, &key)) {
		sc->key = key;
		sc->has_key = true;
	}
	return sc->cb(doc, sc->ctx);
}

bool
store_scan_detections(mongoc_client_t *client, const char *db, int64_t from_id,
    uint32_t batch, store_doc_cb cb, void *ctx, int64_t *next_from, bool *done,
    size_t *n_out, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t cond, sort;
	struct store_scan_ctx sc = { .cb = cb, .ctx = ctx };
	size_t n = 0;
	bool stopped = false, ok = false;

	*next_from = from_id;
	*done = false;
	if (n_out != NULL)
		*n_out = 0;
	if (batch == 0 || batch > 10000) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "scan batch %u out of range 1..10000", batch);
		goto cleanup;
	}
	/* $gte on a number skips non-numeric _ids (MongoDB compares within a type
	 * bracket), and the sort by _id is numeric across int32/int64/double. */
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &cond);
	BSON_APPEND_INT64(&cond, "$gte", from_id);
	bson_append_document_end(&filter, &cond);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", batch);
	if (!store_find_each(client, db, STORE_COLL_DETECTIONS, &filter, &opts, store_scan_visit,
	        &sc, &n, &stopped, err))
		goto cleanup;
	if (n_out != NULL)
		*n_out = n;
	if (sc.has_key) {
		if (sc.key == INT64_MAX)
			*done = true;
		else
			*next_from = sc.key + 1;
	}
	/* A short page is the last one; a callback that stopped early wants to resume. */
	if (n < batch && !stopped)
		*done = true;
	ok = true;
cleanup:
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

bool
store_fields_get(const bson_t *doc, const char *key, fields_t *out, bool *present,
    bson_error_t *err)
{
	bson_iter_t it;
	bson_t sub;
	const uint8_t *data;
	uint32_t len;
	bson_error_t why = { 0 };

	fields_init(out);
	*present = false;
	if (!bson_iter_init_find(&it, doc, key))
		return true;
	if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT, "%s is not a document",
		    key);
		return false;
	}
	bson_iter_document(&it, &len, &data);
	if (!bson_init_static(&sub, data, len) || !fields_from_document(&sub, out, &why)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT, "bad %s: %s", key,
		    why.message);
		return false;
	}
	*present = true;
	return true;
}

bool
store_pushed_from_doc(const bson_t *doc, store_pushed_t *out, bson_error_t *err)
{
	bson_iter_t it;
	bool present;

	memset(out, 0, sizeof(*out));
	fields_init(&out->desired);
	fields_init(&out->baseline);
	fields_init(&out->pushed);
	fields_init(&out->shown);
	out->found = true;
	if (!store_fields_get(doc, "desired", &out->desired, &present, err) ||
	    !store_fields_get(doc, "baseline", &out->baseline, &present, err) ||
	    !store_fields_get(doc, "pushed", &out->pushed, &out->has_pushed, err))
		return false;
	out->shown = out->has_pushed ? out->pushed : out->baseline;
	if (bson_iter_init_find(&it, doc, "version") && !store_iter_int64(&it, &out->version)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT, "version is not a number");
		return false;
	}
	if (bson_iter_init_find(&it, doc, "pushed_version") &&
	    !store_iter_int64(&it, &out->pushed_version)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT,
		    "pushed_version is not a number");
		return false;
	}
	if (bson_iter_init_find(&it, doc, "state") && BSON_ITER_HOLDS_UTF8(&it))
		bson_strncpy(out->state, bson_iter_utf8(&it, NULL), sizeof(out->state));
	return true;
}
