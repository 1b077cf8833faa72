/* checkpoint: change stream resume tokens; see checkpoint.h. */
#include "ticketsync/checkpoint.h"

#include <string.h>

#include "ticketsync/clock.h"
#include "ticketsync/store.h"

static bool
checkpoint_name_valid(const char *name, bson_error_t *err)
{
	if (name == NULL || name[0] == '\0' || strlen(name) > 128 ||
	    !bson_utf8_validate(name, strlen(name), false)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "checkpoint name must be 1..128 bytes of UTF-8");
		return false;
	}
	return true;
}

bool
checkpoint_load(mongoc_client_t *client, const char *db, const char *name, bson_t *token_out,
    bool *found, int64_t *saved_at_ms, bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	mongoc_read_concern_t *rc = NULL;
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;
	bool ok = false;

	bson_init(token_out);
	*found = false;
	if (saved_at_ms != NULL)
		*saved_at_ms = 0;
	if (!checkpoint_name_valid(name, err))
		goto cleanup;
	BSON_APPEND_UTF8(&filter, "_id", name);
	/* Read what is durable, the same guarantee the save asked for. */
	rc = mongoc_read_concern_new();
	mongoc_read_concern_set_level(rc, MONGOC_READ_CONCERN_LEVEL_MAJORITY);
	mongoc_read_concern_append(rc, &opts);
	coll = mongoc_client_get_collection(client, db, STORE_COLL_CHECKPOINTS);
	bson_destroy(&doc);
	if (!store_find_one(coll, &filter, &opts, &doc, found, err))
		goto cleanup;
	if (*found) {
		const uint8_t *data;
		uint32_t len;
		bson_t token;

		*found = false;
		if (!bson_iter_init_find(&it, &doc, "token") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT,
			    "checkpoint %s has no token document", name);
			goto cleanup;
		}
		bson_iter_document(&it, &len, &data);
		if (!bson_init_static(&token, data, len)) {
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT,
			    "checkpoint %s: corrupt token", name);
			goto cleanup;
		}
		bson_concat(token_out, &token);
		if (saved_at_ms != NULL && bson_iter_init_find(&it, &doc, "saved_at") &&
		    BSON_ITER_HOLDS_DATE_TIME(&it))
			*saved_at_ms = bson_iter_date_time(&it);
		*found = true;
	}
	ok = true;
cleanup:
	mongoc_collection_destroy(coll);
	mongoc_read_concern_destroy(rc);
	bson_destroy(&filter);
	bson_destroy(&opts);
	bson_destroy(&doc);
	return ok;
}

bool
checkpoint_save(mongoc_client_t *client, const char *db, const char *name,
    const bson_t *token, const char *instance, bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	mongoc_write_concern_t *wc = NULL;
	bson_t filter = BSON_INITIALIZER;
	bson_t doc = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	bool ok = false;

	if (!checkpoint_name_valid(name, err))
		goto cleanup;
	if (token == NULL || bson_empty(token)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "checkpoint %s: empty resume token", name);
		goto cleanup;
	}
	BSON_APPEND_UTF8(&filter, "_id", name);
	BSON_APPEND_UTF8(&doc, "_id", name);
	BSON_APPEND_DOCUMENT(&doc, "token", token);
	BSON_APPEND_DATE_TIME(&doc, "saved_at", clock_wall_ms());
	if (instance != NULL && bson_utf8_validate(instance, strlen(instance), false))
		BSON_APPEND_UTF8(&doc, "instance", instance);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	wc = mongoc_write_concern_new();
	mongoc_write_concern_set_wmajority(wc, 10000);
	if (!mongoc_write_concern_append(wc, &opts)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG, "cannot set write concern");
		goto cleanup;
	}
	coll = mongoc_client_get_collection(client, db, STORE_COLL_CHECKPOINTS);
	bson_destroy(&reply);
	ok = mongoc_collection_replace_one(coll, &filter, &doc, &opts, &reply, err);
cleanup:
	mongoc_collection_destroy(coll);
	mongoc_write_concern_destroy(wc);
	bson_destroy(&filter);
	bson_destroy(&doc);
	bson_destroy(&opts);
	bson_destroy(&reply);
	return ok;
}

bool
checkpoint_delete(mongoc_client_t *client, const char *db, const char *name,
    bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	mongoc_write_concern_t *wc = NULL;
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bool ok = false;

	if (!checkpoint_name_valid(name, err))
		goto cleanup;
	BSON_APPEND_UTF8(&filter, "_id", name);
	wc = mongoc_write_concern_new();
	mongoc_write_concern_set_wmajority(wc, 10000);
	mongoc_write_concern_append(wc, &opts);
	coll = mongoc_client_get_collection(client, db, STORE_COLL_CHECKPOINTS);
	ok = mongoc_collection_delete_one(coll, &filter, &opts, NULL, err);
cleanup:
	mongoc_collection_destroy(coll);
	mongoc_write_concern_destroy(wc);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}
