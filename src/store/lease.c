/* lease: one active instance through a MongoDB document; see lease.h. */
#include "ticketsync/lease.h"

#include <string.h>

#include "ticketsync/mongoerr.h"
#include "ticketsync/store.h"

bool
lease_server_now(mongoc_client_t *client, int64_t *now_ms, bson_error_t *err)
{
	bson_t cmd = BSON_INITIALIZER, reply;
	bson_iter_t it;
	bool ok;

	BSON_APPEND_INT32(&cmd, "hello", 1);
	ok = mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, err);
	if (ok && bson_iter_init_find(&it, &reply, "localTime") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
		*now_ms = bson_iter_date_time(&it);
	} else if (ok) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_DEPLOYMENT,
		    "lease: the server's hello reply has no localTime");
		ok = false;
	}
	bson_destroy(&cmd);
	bson_destroy(&reply);
	return ok;
}

static void
lease_from_doc(const bson_t *doc, const char *me, lease_state_t *out)
{
	bson_iter_t it;

	out->found = true;
	if (bson_iter_init_find(&it, doc, "holder") && BSON_ITER_HOLDS_UTF8(&it))
		bson_strncpy(out->holder, bson_iter_utf8(&it, NULL), sizeof(out->holder));
	if (bson_iter_init_find(&it, doc, "fencing"))
		store_iter_int64(&it, &out->fencing);
	if (bson_iter_init_find(&it, doc, "expires_at") && BSON_ITER_HOLDS_DATE_TIME(&it))
		out->expires_at_ms = bson_iter_date_time(&it);
	out->held = me != NULL && strcmp(out->holder, me) == 0 &&
	    out->expires_at_ms > out->server_now_ms;
}

/* findAndModify returning the new document; *matched false when the filter found none
 * (or an upsert lost to an existing document: duplicate key). */
static bool
lease_modify(mongoc_collection_t *coll, const bson_t *query, const bson_t *update, bool upsert,
    const char *me, lease_state_t *out, bool *matched, bson_error_t *err)
{
	mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
	bson_t reply;
	bson_iter_t it;
	bool ok;

	*matched = false;
	mongoc_find_and_modify_opts_set_update(opts, update);
	mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_RETURN_NEW |
	    (upsert ? MONGOC_FIND_AND_MODIFY_UPSERT : 0));
	ok = mongoc_collection_find_and_modify_with_opts(coll, query, opts, &reply, err);
	if (!ok && err->code == MONGOERR_DUPLICATE_KEY) {
		/* Upsert raced a live lease: somebody else holds it. */
		ok = true;
	} else if (ok && bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *data;
		uint32_t len;
		bson_t doc;
		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&doc, data, len)) {
			lease_from_doc(&doc, me, out);
			*matched = true;
		}
	}
	bson_destroy(&reply);
	mongoc_find_and_modify_opts_destroy(opts);
	return ok;
}

bool
lease_acquire(mongoc_client_t *client, const char *db, const char *name,
    const char *holder, int64_t my_fencing, int64_t period_ms, lease_state_t *out,
    bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, STORE_COLL_LEASES);
	bson_t query = BSON_INITIALIZER, update = BSON_INITIALIZER, child, inc;
	int64_t now;
	bool ok = false, matched = false;

	memset(out, 0, sizeof(*out));
	if (!lease_server_now(client, &now, err))
		goto cleanup;
	out->server_now_ms = now;

	if (my_fencing > 0) {
		/* Renew: only if we still hold it under the same fencing token. */
		BSON_APPEND_UTF8(&query, "_id", name);
		BSON_APPEND_UTF8(&query, "holder", holder);
		BSON_APPEND_INT64(&query, "fencing", my_fencing);
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &child);
		BSON_APPEND_DATE_TIME(&child, "expires_at", now + period_ms);
		BSON_APPEND_DATE_TIME(&child, "renewed_at", now);
		bson_append_document_end(&update, &child);
		if (!lease_modify(coll, &query, &update, false, holder, out, &matched, err))
			goto cleanup;
		if (matched) {
			ok = true;
			goto cleanup;
		}
		bson_reinit(&query);
		bson_reinit(&update);
	}
	/* Take: when free or expired on the server's clock, or held under our own name
	 * (this instance restarted: the fencing counter grows, so whatever the previous
	 * process still does is fenced off). The first ever lease is an upsert; against a
	 * live lease the upsert fails with a duplicate key. */
	{
		bson_t or, alt;
		BSON_APPEND_UTF8(&query, "_id", name);
		BSON_APPEND_ARRAY_BEGIN(&query, "$or", &or);
		BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &alt);
		BSON_APPEND_DOCUMENT_BEGIN(&alt, "expires_at", &child);
		BSON_APPEND_DATE_TIME(&child, "$lte", now);
		bson_append_document_end(&alt, &child);
		bson_append_document_end(&or, &alt);
		BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &alt);
		BSON_APPEND_UTF8(&alt, "holder", holder);
		bson_append_document_end(&or, &alt);
		bson_append_array_end(&query, &or);
	}
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &child);
	BSON_APPEND_UTF8(&child, "holder", holder);
	BSON_APPEND_DATE_TIME(&child, "expires_at", now + period_ms);
	BSON_APPEND_DATE_TIME(&child, "acquired_at", now);
	BSON_APPEND_DATE_TIME(&child, "renewed_at", now);
	bson_append_document_end(&update, &child);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$inc", &inc);
	BSON_APPEND_INT64(&inc, "fencing", 1);
	bson_append_document_end(&update, &inc);
	if (!lease_modify(coll, &query, &update, true, holder, out, &matched, err))
		goto cleanup;
	if (!matched) {
		/* Held by someone else: say who. */
		lease_state_t cur;
		if (!lease_read(client, db, name, &cur, err))
			goto cleanup;
		cur.server_now_ms = now;
		cur.held = false;
		*out = cur;
	}
	ok = true;
cleanup:
	bson_destroy(&query);
	bson_destroy(&update);
	mongoc_collection_destroy(coll);
	return ok;
}

bool
lease_release(mongoc_client_t *client, const char *db, const char *name,
    const char *holder, int64_t fencing, bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, STORE_COLL_LEASES);
	bson_t query = BSON_INITIALIZER, update = BSON_INITIALIZER, child;
	bool ok;

	BSON_APPEND_UTF8(&query, "_id", name);
	BSON_APPEND_UTF8(&query, "holder", holder);
	BSON_APPEND_INT64(&query, "fencing", fencing);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &child);
	BSON_APPEND_DATE_TIME(&child, "expires_at", 0);
	bson_append_document_end(&update, &child);
	ok = mongoc_collection_update_one(coll, &query, &update, NULL, NULL, err);
	bson_destroy(&query);
	bson_destroy(&update);
	mongoc_collection_destroy(coll);
	return ok;
}

bool
lease_read(mongoc_client_t *client, const char *db, const char *name, lease_state_t *out,
    bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, STORE_COLL_LEASES);
	bson_t filter = BSON_INITIALIZER;
	bson_t doc;
	int64_t now = 0;
	bool found, ok;

	memset(out, 0, sizeof(*out));
	if (!lease_server_now(client, &now, err)) {
		mongoc_collection_destroy(coll);
		return false;
	}
	out->server_now_ms = now;
	BSON_APPEND_UTF8(&filter, "_id", name);
	ok = store_find_one(coll, &filter, NULL, &doc, &found, err);
	if (ok && found)
		lease_from_doc(&doc, NULL, out);
	bson_destroy(&doc);
	bson_destroy(&filter);
	mongoc_collection_destroy(coll);
	return ok;
}
