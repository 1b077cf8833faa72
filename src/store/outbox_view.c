/* outbox_view: what operators see of ticketsync_state; see outbox_view.h. */
#include "ticketsync/outbox_view.h"

#include <string.h>

#include "ticketsync/outbox.h"
#include "ticketsync/pushplan.h"
#include "ticketsync/store.h"

static bool
outbox_view_count(mongoc_collection_t *coll, const bson_t *filter, int64_t *out, bson_error_t *err)
{
	*out = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, err);
	return *out >= 0;
}

bool
outbox_view_counts(mongoc_client_t *client, const char *db, const char *coll_name,
    int64_t now_ms,
    outbox_counts_t *counts_out, bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	mongoc_cursor_t *cursor = NULL;
	bson_t pipeline = BSON_INITIALIZER;
	bson_t filter = BSON_INITIALIZER;
	bson_t stage, inner, in, group, acc;
	const bson_t *doc;
	outbox_counts_t c;
	int64_t oldest = INT64_MAX;
	bool ok = false;

	memset(&c, 0, sizeof(c));
	c.oldest_pending_age_ms = -1;
	coll = mongoc_client_get_collection(client, db, coll_name);

	/* Unsynced detections are few in a healthy deployment; group them in one pass
	 * and count the (many) synced ones from the index alone. */
	BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "0", &stage);
	BSON_APPEND_DOCUMENT_BEGIN(&stage, "$match", &inner);
	BSON_APPEND_DOCUMENT_BEGIN(&inner, "state", &in);
	{
		bson_t list;

		BSON_APPEND_ARRAY_BEGIN(&in, "$in", &list);
		BSON_APPEND_UTF8(&list, "0", OUTBOX_PENDING);
		BSON_APPEND_UTF8(&list, "1", OUTBOX_IN_FLIGHT);
		BSON_APPEND_UTF8(&list, "2", OUTBOX_PARKED);
		bson_append_array_end(&in, &list);
	}
	bson_append_document_end(&inner, &in);
	bson_append_document_end(&stage, &inner);
	bson_append_document_end(&pipeline, &stage);
	BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "1", &stage);
	BSON_APPEND_DOCUMENT_BEGIN(&stage, "$group", &group);
	BSON_APPEND_UTF8(&group, "_id", "$state");
	BSON_APPEND_DOCUMENT_BEGIN(&group, "n", &acc);
	BSON_APPEND_INT32(&acc, "$sum", 1);
	bson_append_document_end(&group, &acc);
	BSON_APPEND_DOCUMENT_BEGIN(&group, "oldest", &acc);
	BSON_APPEND_UTF8(&acc, "$min", "$pending_since");
	bson_append_document_end(&group, &acc);
	bson_append_document_end(&stage, &group);
	bson_append_document_end(&pipeline, &stage);
	cursor = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, &pipeline, NULL, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		const char *state = store_doc_utf8(doc, "_id", "");
		int64_t n = store_doc_int64(doc, "n", 0);
		bson_iter_t it;
		bool unsynced = false;

		if (strcmp(state, OUTBOX_PENDING) == 0) {
			c.pending = n;
			unsynced = true;
		} else if (strcmp(state, OUTBOX_IN_FLIGHT) == 0) {
			c.in_flight = n;
			unsynced = true;
		} else if (strcmp(state, OUTBOX_PARKED) == 0) {
			c.parked = n;
		}
		if (unsynced && bson_iter_init_find(&it, doc, "oldest") &&
		    BSON_ITER_HOLDS_DATE_TIME(&it) && bson_iter_date_time(&it) < oldest)
			oldest = bson_iter_date_time(&it);
	}
	if (mongoc_cursor_error(cursor, err))
		goto cleanup;
	if (oldest != INT64_MAX)
		c.oldest_pending_age_ms = now_ms > oldest ? now_ms - oldest : 0;

	BSON_APPEND_UTF8(&filter, "state", OUTBOX_SYNCED);
	if (!outbox_view_count(coll, &filter, &c.synced, err))
		goto cleanup;
	bson_reinit(&filter);
	outbox_append_due(&filter, now_ms);
	if (!outbox_view_count(coll, &filter, &c.due, err))
		goto cleanup;
	ok = true;
cleanup:
	if (counts_out != NULL)
		*counts_out = c;
	mongoc_cursor_destroy(cursor);
	mongoc_collection_destroy(coll);
	bson_destroy(&pipeline);
	bson_destroy(&filter);
	return ok;
}

bool
outbox_view_parked(mongoc_client_t *client, const char *db, const char *coll_name,
    size_t limit,
    bool (*cb)(const bson_t *doc, void *ctx), void *ctx, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t sort;
	bool ok;

	BSON_APPEND_UTF8(&filter, "state", OUTBOX_PARKED);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "parked_at", 1);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	if (limit > 0)
		BSON_APPEND_INT64(&opts, "limit", (int64_t)limit);
	ok = store_find_each(client, db, coll_name, &filter, &opts, cb, ctx, NULL, NULL, err);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}
