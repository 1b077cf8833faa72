/* audit: append-only ticketsync_audit records; see audit.h. */
#include "ticketsync/audit.h"

#include <stdio.h>
#include <string.h>

#include "ticketsync/clock.h"
#include "ticketsync/store.h"
#include "ticketsync/text.h"

static bool
audit_event_valid(const char *event)
{
	size_t len;

	if (event == NULL || event[0] < 'a' || event[0] > 'z')
		return false;
	len = strlen(event);
	if (len > AUDIT_EVENT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!((event[i] >= 'a' && event[i] <= 'z') || event[i] == '_'))
			return false;
	}
	return true;
}

static void
audit_append_text(bson_t *doc, const char *key, const char *value, size_t max)
{
	char *buf;

	if (value == NULL)
		return;
	/* The message may quote a remote reply: never let its bytes cost us the record. */
	buf = bson_malloc(max);
	text_sanitize(buf, max, value, TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	BSON_APPEND_UTF8(doc, key, buf);
	bson_free(buf);
}

static const char *const audit_events[] = {
	AUDIT_PUSHED, AUDIT_RETRY, AUDIT_PARKED, AUDIT_RELEASED, AUDIT_REJECTED_INPUT,
	AUDIT_UNMAPPED_STATUS, AUDIT_MULTIPLE_TICKETS, AUDIT_HISTORY_LOST, AUDIT_RESCAN,
	AUDIT_AUTH_ERROR, AUDIT_REPLAYED, AUDIT_UNKNOWN_DETECTION, AUDIT_DETECTION_REPAIRED,
	AUDIT_DRIFT, AUDIT_SWEEP_REJECTED, AUDIT_SWEEP, AUDIT_TICKET_CREATED,
	AUDIT_CREATE_RETRY, AUDIT_CREATE_PARKED, AUDIT_CREATE_RELEASED, AUDIT_CREATE_AUTH_ERROR,
	AUDIT_WEBHOOK_ACCEPTED, AUDIT_WEBHOOK_STALE, AUDIT_WEBHOOK_IGNORED, AUDIT_WEBHOOK_REJECTED,
};

bool
audit_event_known(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(audit_events) / sizeof(audit_events[0]); i++)
		if (strcmp(audit_events[i], name) == 0)
			return true;
	return false;
}

void
audit_event_names(char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(audit_events) / sizeof(audit_events[0]) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", audit_events[i]);
}

bool
audit_record_to_bson(const audit_record_t *r, int64_t now_ms, bson_t *doc, bson_error_t *err)
{
	bson_oid_t oid;

	bson_init(doc);
	if (!audit_event_valid(r->event)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "audit: event name \"%s\" must be 1..%d of [a-z_], starting with a letter",
		    r->event ? r->event : "(null)", AUDIT_EVENT_MAX);
		return false;
	}
	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(doc, "_id", &oid);
	BSON_APPEND_DATE_TIME(doc, "at", r->at_ms != 0 ? r->at_ms : now_ms);
	BSON_APPEND_UTF8(doc, "event", r->event);
	if (r->has_detection_id)
		BSON_APPEND_INT64(doc, "detection_id", r->detection_id);
	audit_append_text(doc, "ticket_id", r->ticket_id, FIELDS_TICKET_ID_MAX + 4);
	if (r->version != 0)
		BSON_APPEND_INT64(doc, "version", r->version);
	if (r->attempt != 0)
		BSON_APPEND_INT32(doc, "attempt", r->attempt);
	if (r->http_status != 0)
		BSON_APPEND_INT32(doc, "http_status", r->http_status);
	if (r->fields != NULL)
		BSON_APPEND_DOCUMENT(doc, "fields", r->fields);
	audit_append_text(doc, "message", r->message, AUDIT_MESSAGE_MAX);
	audit_append_text(doc, "instance", r->instance, 256);
	if (r->detail != NULL)
		BSON_APPEND_DOCUMENT(doc, "detail", r->detail);
	return true;
}

bool
audit_append(mongoc_client_t *client, const char *db, const audit_record_t *r,
    bson_error_t *err)
{
	return audit_append_many(client, db, r, 1, err);
}

bool
audit_append_many(mongoc_client_t *client, const char *db, const audit_record_t *records,
    size_t n, bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	bson_t *docs = NULL;
	const bson_t **ptrs = NULL;
	bson_t opts = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	int64_t now = clock_wall_ms();
	size_t built = 0;
	bool ok = false;

	if (n == 0)
		return true;
	if (n > AUDIT_BATCH_MAX) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "audit: %zu records in one batch; at most %d", n, AUDIT_BATCH_MAX);
		return false;
	}
	docs = bson_malloc0(n * sizeof(*docs));
	ptrs = bson_malloc0(n * sizeof(*ptrs));
	for (; built < n; built++) {
		if (!audit_record_to_bson(&records[built], now, &docs[built], err)) {
			bson_destroy(&docs[built]);
			goto cleanup;
		}
		ptrs[built] = &docs[built];
	}
	/* Unordered: one bad record (a validator surprise) must not drop the others. */
	BSON_APPEND_BOOL(&opts, "ordered", false);
	coll = mongoc_client_get_collection(client, db, STORE_COLL_AUDIT);
	bson_destroy(&reply);
	ok = mongoc_collection_insert_many(coll, ptrs, n, &opts, &reply, err);
cleanup:
	for (size_t i = 0; i < built; i++)
		bson_destroy(&docs[i]);
	bson_free(docs);
	bson_free(ptrs);
	mongoc_collection_destroy(coll);
	bson_destroy(&opts);
	bson_destroy(&reply);
	return ok;
}

bool
audit_query(mongoc_client_t *client, const char *db, const audit_query_t *q,
    bool (*cb)(const bson_t *doc, void *ctx), void *ctx, size_t *n_out, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t range, sort;
	bool ok;

	if (q->has_detection_id)
		BSON_APPEND_INT64(&filter, "detection_id", q->detection_id);
	if (q->ticket_id != NULL)
		BSON_APPEND_UTF8(&filter, "ticket_id", q->ticket_id);
	if (q->event != NULL)
		BSON_APPEND_UTF8(&filter, "event", q->event);
	if (q->since_ms != 0 || q->until_ms != 0) {
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "at", &range);
		if (q->since_ms != 0)
			BSON_APPEND_DATE_TIME(&range, "$gte", q->since_ms);
		if (q->until_ms != 0)
			BSON_APPEND_DATE_TIME(&range, "$lt", q->until_ms);
		bson_append_document_end(&filter, &range);
	}
	/* at, then _id (ObjectIds grow within a process) for a stable order of records
	 * written in the same millisecond. */
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "at", q->oldest_first ? 1 : -1);
	BSON_APPEND_INT32(&sort, "_id", q->oldest_first ? 1 : -1);
	bson_append_document_end(&opts, &sort);
	if (q->limit > 0)
		BSON_APPEND_INT64(&opts, "limit", (int64_t)q->limit);
	ok = store_find_each(client, db, STORE_COLL_AUDIT, &filter, &opts, cb, ctx, n_out, NULL,
	    err);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}
