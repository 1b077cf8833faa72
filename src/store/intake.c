/* intake: webhook tickets into `tickets`, in order and idempotently; see intake.h. */
#include "ticketsync/intake.h"

#include <stdio.h>
#include <string.h>

#include "ticketsync/audit.h"
#include "ticketsync/mongoerr.h"
#include "ticketsync/store.h"
#include "ticketsync/text.h"

/* A lost race with a concurrent writer is retried this many times. */
#define INTAKE_ATTEMPTS 3

const char *
intake_outcome_name(enum intake_outcome o)
{
	switch (o) {
	case INTAKE_INSERTED: return "inserted";
	case INTAKE_UPDATED: return "updated";
	case INTAKE_STALE: return "stale";
	case INTAKE_NO_TICKET: return "no_ticket";
	case INTAKE_REFUSED: return "refused";
	}
	return "unknown";
}

static void
intake_append_ids(bson_t *doc, const char *key, const ticket_t *t)
{
	bson_t arr;

	BSON_APPEND_ARRAY_BEGIN(doc, key, &arr);
	for (size_t i = 0; i < t->n_detection_ids; i++) {
		char k[16];
		const char *ks;

		bson_uint32_to_string((uint32_t)i, &ks, k, sizeof(k));
		BSON_APPEND_INT64(&arr, ks, t->detection_ids[i]);
	}
	bson_append_array_end(doc, &arr);
}

void
intake_build(const ticket_t *t, bson_t *filter, bson_t *update)
{
	bson_t or, clause, cond, types, set;

	bson_init(filter);
	BSON_APPEND_UTF8(filter, "_id", t->id);
	BSON_APPEND_ARRAY_BEGIN(filter, "$or", &or);
	/* Dates and numbers never compare with each other in a query, and ticket_parse
	 * accepts both: one clause for each. */
	BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &clause);
	BSON_APPEND_DOCUMENT_BEGIN(&clause, "updated_at", &cond);
	BSON_APPEND_DATE_TIME(&cond, "$lt", t->updated_at);
	bson_append_document_end(&clause, &cond);
	bson_append_document_end(&or, &clause);
	BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &clause);
	BSON_APPEND_DOCUMENT_BEGIN(&clause, "updated_at", &cond);
	BSON_APPEND_INT64(&cond, "$lt", t->updated_at);
	bson_append_document_end(&clause, &cond);
	bson_append_document_end(&or, &clause);
	/* No usable time stored (absent, null): any delivery is newer. */
	BSON_APPEND_DOCUMENT_BEGIN(&or, "2", &clause);
	BSON_APPEND_DOCUMENT_BEGIN(&clause, "updated_at", &cond);
	BSON_APPEND_DOCUMENT_BEGIN(&cond, "$not", &types);
	{
		bson_t list;

		BSON_APPEND_ARRAY_BEGIN(&types, "$type", &list);
		BSON_APPEND_UTF8(&list, "0", "date");
		BSON_APPEND_UTF8(&list, "1", "number");
		bson_append_array_end(&types, &list);
	}
	bson_append_document_end(&cond, &types);
	bson_append_document_end(&clause, &cond);
	bson_append_document_end(&or, &clause);
	bson_append_array_end(filter, &or);

	bson_init(update);
	BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
	BSON_APPEND_UTF8(&set, "status", t->status);
	fields_append_nullable(&set, "status_category", t->status_category);
	fields_append_nullable(&set, "assignee", t->assignee);
	fields_append_nullable(&set, "resolution", t->resolution);
	BSON_APPEND_DATE_TIME(&set, "updated_at", t->updated_at);
	fields_append_nullable(&set, "source", t->source);
	/* The payload is the ticket's whole state: its ids replace the stored ones. With no
	 * ids the stored ones stay (and intake_write does not insert). */
	if (t->n_detection_ids > 0)
		intake_append_ids(&set, "detection_ids", t);
	bson_append_document_end(update, &set);
}

/* The stored ticket's updated_at in ms (0: none or unusable); *exists says whether the
 * ticket is there at all. */
static bool
intake_stored(mongoc_collection_t *coll, const char *id, bool *exists, int64_t *updated_at,
    bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj, doc;
	bson_iter_t it;
	bool ok;

	*updated_at = 0;
	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "updated_at", 1);
	bson_append_document_end(&opts, &proj);
	ok = store_find_one(coll, &filter, &opts, &doc, exists, err);
	if (ok && *exists && bson_iter_init_find(&it, &doc, "updated_at")) {
		if (BSON_ITER_HOLDS_DATE_TIME(&it))
			*updated_at = bson_iter_date_time(&it);
		else if (!store_iter_int64(&it, updated_at))
			*updated_at = 0;
	}
	bson_destroy(&doc);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

static int64_t
intake_reply_int(const bson_t *reply, const char *key)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it)
	    ? bson_iter_as_int64(&it) : 0;
}

bool
intake_write(mongoc_client_t *client, const char *db, const ticket_t *t, intake_result_t *res,
    bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, STORE_COLL_TICKETS);
	bson_t filter, update, opts = BSON_INITIALIZER;
	bool ok = false, upsert = t->n_detection_ids > 0;

	memset(res, 0, sizeof(*res));
	res->ids_kept = !upsert;
	intake_build(t, &filter, &update);
	BSON_APPEND_BOOL(&opts, "upsert", upsert);
	for (int attempt = 1; attempt <= INTAKE_ATTEMPTS; attempt++) {
		bson_t reply;
		bson_error_t werr;
		bool exists;
		int64_t stored;

		if (mongoc_collection_update_one(coll, &filter, &update, &opts, &reply, &werr)) {
			bool inserted = intake_reply_int(&reply, "upsertedCount") > 0;
			bool matched = intake_reply_int(&reply, "matchedCount") > 0;

			bson_destroy(&reply);
			if (inserted || matched) {
				res->outcome = inserted ? INTAKE_INSERTED : INTAKE_UPDATED;
				ok = true;
				goto cleanup;
			}
		} else {
			bson_destroy(&reply);
			if (werr.code == MONGOERR_DOCUMENT_VALIDATION_FAILURE) {
				res->outcome = INTAKE_REFUSED;
				text_sanitize(res->message, sizeof(res->message), werr.message, TEXT_STRLEN, 0,
				    TEXT_ELLIPSIS);
				ok = true;
				goto cleanup;
			}
			if (werr.code != MONGOERR_DUPLICATE_KEY) {
				memcpy(err, &werr, sizeof(werr));
				goto cleanup;
			}
		}
		/* Nothing matched: the stored ticket is as new or newer (11000 on upsert), or
		 * without ids there is none. Read it to tell, and to catch a lost race. */
		if (!intake_stored(coll, t->id, &exists, &stored, err))
			goto cleanup;
		if (!exists && !upsert) {
			res->outcome = INTAKE_NO_TICKET;
			ok = true;
			goto cleanup;
		}
		if (exists && stored >= t->updated_at) {
			res->outcome = INTAKE_STALE;
			res->stored_updated_at = stored;
			ok = true;
			goto cleanup;
		}
		/* Stored older than us after all: someone wrote between our two steps. */
	}
	bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CONFLICT,
	    "intake: ticket %s kept changing under %d attempts to store it", t->id, INTAKE_ATTEMPTS);
cleanup:
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	mongoc_collection_destroy(coll);
	return ok;
}

bool
intake_audit(mongoc_client_t *client, const char *db, const intake_delivery_t *d,
    bson_error_t *err)
{
	audit_record_t r = { 0 };
	bson_t detail = BSON_INITIALIZER;
	bool ok;

	r.event = d->event;
	r.http_status = d->http_status;
	r.message = d->message;
	r.instance = d->instance;
	r.detail = &detail;
	if (d->source != NULL)
		BSON_APPEND_UTF8(&detail, "source", d->source);
	if (d->outcome != NULL)
		BSON_APPEND_UTF8(&detail, "outcome", d->outcome);
	if (d->ticket != NULL) {
		const ticket_t *t = d->ticket;

		r.ticket_id = t->id;
		/* The common case, one detection per ticket, stays findable by detection_id. */
		if (t->n_detection_ids == 1) {
			r.has_detection_id = true;
			r.detection_id = t->detection_ids[0];
		}
		intake_append_ids(&detail, "detection_ids", t);
		fields_append_nullable(&detail, "status", t->status);
		if (t->updated_at > 0)
			BSON_APPEND_DATE_TIME(&detail, "updated_at", t->updated_at);
	}
	ok = audit_append(client, db, &r, err);
	bson_destroy(&detail);
	return ok;
}
