/* ticket_import: upsert imported tickets; see ticket_import.h. */
#include "ticketsync/ticket_import.h"

#include <stdlib.h>
#include <string.h>

#include "ticketsync/store.h"
#include "ticketsync/xalloc.h"

void
ticket_import_build_update(const importer_ticket_t *t, int64_t now_ms, const char *source,
    bson_t *update)
{
	static const struct {
		unsigned bit;
		const char *name;
		size_t off;
	} text[] = {
		{ IMPORTER_STATUS, "status", offsetof(importer_ticket_t, status) },
		{ IMPORTER_ASSIGNEE, "assignee", offsetof(importer_ticket_t, assignee) },
		{ IMPORTER_RESOLUTION, "resolution", offsetof(importer_ticket_t, resolution) },
	};
	bson_t add, each, list, set, ins;
	bool any_missing = false;

	bson_init(update);
	BSON_APPEND_DOCUMENT_BEGIN(update, "$addToSet", &add);
	BSON_APPEND_DOCUMENT_BEGIN(&add, "detection_ids", &each);
	BSON_APPEND_ARRAY_BEGIN(&each, "$each", &list);
	for (size_t i = 0; i < t->n_detection_ids; i++) {
		char k[16];
		const char *key;

		bson_uint32_to_string((uint32_t)i, &key, k, sizeof(k));
		BSON_APPEND_INT64(&list, key, t->detection_ids[i]);
	}
	bson_append_array_end(&each, &list);
	bson_append_document_end(&add, &each);
	bson_append_document_end(update, &add);

	BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		if (t->given & text[i].bit)
			fields_append_nullable(&set, text[i].name,
			    *(char *const *)((const char *)t + text[i].off));
		else
			any_missing = true;
	}
	/* Optional in the schema: written when the file has it, otherwise left as is. */
	if (t->given & IMPORTER_STATUS_CATEGORY)
		fields_append_nullable(&set, "status_category", t->status_category);
	BSON_APPEND_DATE_TIME(&set, "updated_at",
	    (t->given & IMPORTER_UPDATED_AT) ? t->updated_at_ms : now_ms);
	BSON_APPEND_UTF8(&set, "source", source ? source : TICKET_IMPORT_SOURCE);
	bson_append_document_end(update, &set);

	if (any_missing) {
		/* A new ticket has every field; an existing one keeps what the file left out. */
		BSON_APPEND_DOCUMENT_BEGIN(update, "$setOnInsert", &ins);
		for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
			if (!(t->given & text[i].bit))
				BSON_APPEND_NULL(&ins, text[i].name);
		bson_append_document_end(update, &ins);
	}
}

static int64_t
ticket_import_reply_int(const bson_t *reply, const char *key)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it)
	    ? bson_iter_as_int64(&it) : 0;
}

/* Hand each writeError of a batch to the callback; returns how many there were. */
static size_t
ticket_import_report_refused(const bson_t *reply, const importer_ticket_t *const *batch, size_t n,
    ticket_import_refused_fn refused, void *arg)
{
	bson_iter_t it, arr;
	size_t count = 0;

	if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &arr))
		return 0;
	while (bson_iter_next(&arr)) {
		bson_iter_t f;
		bson_t e;
		const uint8_t *data;
		uint32_t len;
		int64_t index = -1;
		int code = 0;
		const char *msg = "refused by the server";

		if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
			continue;
		bson_iter_document(&arr, &len, &data);
		if (!bson_init_static(&e, data, len))
			continue;
		if (bson_iter_init_find(&f, &e, "index") && BSON_ITER_HOLDS_NUMBER(&f))
			index = bson_iter_as_int64(&f);
		if (bson_iter_init_find(&f, &e, "code") && BSON_ITER_HOLDS_NUMBER(&f))
			code = (int)bson_iter_as_int64(&f);
		if (bson_iter_init_find(&f, &e, "errmsg") && BSON_ITER_HOLDS_UTF8(&f))
			msg = bson_iter_utf8(&f, NULL);
		count++;
		if (refused != NULL && index >= 0 && (size_t)index < n)
			refused(arg, batch[index], code, msg);
	}
	return count;
}

/* The stored tickets of one batch, parsed, sorted by id for lookups. */
typedef struct ticket_import_stored {
	ticket_t *t;
	size_t n, cap;
} ticket_import_stored_t;

static int
ticket_import_cmp_stored(const void *a, const void *b)
{
	return strcmp(((const ticket_t *)a)->id, ((const ticket_t *)b)->id);
}

static bool
ticket_import_load(mongoc_collection_t *coll, const importer_ticket_t *batch, size_t n,
    ticket_import_stored_t *st, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER, cond, list;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bool ok = true;

	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &cond);
	BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &list);
	for (size_t i = 0; i < n; i++) {
		char k[16];
		const char *key;

		bson_uint32_to_string((uint32_t)i, &key, k, sizeof(k));
		BSON_APPEND_UTF8(&list, key, batch[i].id);
	}
	bson_append_array_end(&cond, &list);
	bson_append_document_end(&filter, &cond);
	cursor = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		bson_error_t perr;
		ticket_t t;

		/* A stored ticket we cannot read is simply rewritten. */
		if (ticket_parse(doc, &t, &perr) != 0)
			continue;
		if (st->n == st->cap) {
			size_t cap = st->cap ? st->cap * 2 : 64;

			st->t = xreallocarray(st->t, cap, sizeof(ticket_t));
			st->cap = cap;
		}
		st->t[st->n++] = t;
	}
	if (mongoc_cursor_error(cursor, err))
		ok = false;
	mongoc_cursor_destroy(cursor);
	bson_destroy(&filter);
	if (st->n > 1)
		qsort(st->t, st->n, sizeof(ticket_t), ticket_import_cmp_stored);
	return ok;
}

static void
ticket_import_stored_clear(ticket_import_stored_t *st)
{
	for (size_t i = 0; i < st->n; i++)
		ticket_cleanup(&st->t[i]);
	st->n = 0;
}

static bool
ticket_import_str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool
ticket_import_is_noop(const importer_ticket_t *t, const ticket_t *stored)
{
	if (stored == NULL)
		return false;
	for (size_t i = 0; i < t->n_detection_ids; i++)
		if (!ticket_has_detection(stored, t->detection_ids[i]))
			return false;
	if ((t->given & IMPORTER_STATUS) && !ticket_import_str_eq(t->status, stored->status))
		return false;
	if ((t->given & IMPORTER_ASSIGNEE) && !ticket_import_str_eq(t->assignee, stored->assignee))
		return false;
	if ((t->given & IMPORTER_RESOLUTION) && !ticket_import_str_eq(t->resolution, stored->resolution))
		return false;
	if ((t->given & IMPORTER_STATUS_CATEGORY) &&
	    !ticket_import_str_eq(t->status_category, stored->status_category))
		return false;
	if ((t->given & IMPORTER_UPDATED_AT) && t->updated_at_ms != stored->updated_at)
		return false;
	return true;
}

bool
ticket_import_write(mongoc_client_t *client, const char *db, const importer_ticket_t *tickets,
    size_t n, int64_t now_ms, const char *source, ticket_import_refused_fn refused, void *arg,
    ticket_import_stats_t *stats, bson_error_t *err)
{
	mongoc_collection_t *coll;
	ticket_import_stored_t st = { 0 };
	const importer_ticket_t **sent = NULL;
	bool ok = true;

	memset(stats, 0, sizeof(*stats));
	if (n == 0)
		return true;
	sent = xcalloc(n < TICKET_IMPORT_BATCH ? n : TICKET_IMPORT_BATCH, sizeof(*sent));
	coll = mongoc_client_get_collection(client, db, STORE_COLL_TICKETS);
	for (size_t off = 0; off < n && ok; off += TICKET_IMPORT_BATCH) {
		size_t take = n - off < TICKET_IMPORT_BATCH ? n - off : TICKET_IMPORT_BATCH;
		bson_t bulk_opts = BSON_INITIALIZER;
		bson_t upsert = BSON_INITIALIZER;
		bson_t reply = BSON_INITIALIZER;
		mongoc_bulk_operation_t *bulk = NULL;
		size_t nsent = 0, nrefused;
		bool done;

		/* Read first, so a ticket that already says all this is not written at all:
		 * a re-import changes nothing (not even updated_at) and wakes no one. */
		ok = ticket_import_load(coll, tickets + off, take, &st, err);
		/* Unordered: one ticket the validator refuses must not hold back the rest. */
		BSON_APPEND_BOOL(&bulk_opts, "ordered", false);
		BSON_APPEND_BOOL(&upsert, "upsert", true);
		if (ok)
			bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &bulk_opts);
		for (size_t i = 0; i < take && ok; i++) {
			const importer_ticket_t *t = &tickets[off + i];
			ticket_t key = { .id = t->id };
			const ticket_t *cur = st.n ? bsearch(&key, st.t, st.n, sizeof(ticket_t),
			    ticket_import_cmp_stored) : NULL;
			bson_t sel = BSON_INITIALIZER;
			bson_t upd;

			if (ticket_import_is_noop(t, cur)) {
				stats->unchanged++;
				stats->written++;
				continue;
			}
			BSON_APPEND_UTF8(&sel, "_id", t->id);
			ticket_import_build_update(t, now_ms, source, &upd);
			ok = mongoc_bulk_operation_update_one_with_opts(bulk, &sel, &upd, &upsert, err);
			bson_destroy(&sel);
			bson_destroy(&upd);
			sent[nsent++] = t;
		}
		ticket_import_stored_clear(&st);
		bson_destroy(&reply);
		if (ok && nsent > 0) {
			size_t ups, matched, modified;

			done = mongoc_bulk_operation_execute(bulk, &reply, err);
			/* Counts cover what was applied even when some writes were refused. */
			ups = (size_t)ticket_import_reply_int(&reply, "nUpserted");
			matched = (size_t)ticket_import_reply_int(&reply, "nMatched");
			modified = (size_t)ticket_import_reply_int(&reply, "nModified");
			stats->inserted += ups;
			stats->modified += modified;
			stats->unchanged += matched >= modified ? matched - modified : 0;
			stats->written += ups + matched;
			nrefused = ticket_import_report_refused(&reply, sent, nsent, refused, arg);
			stats->refused += nrefused;
			/* Refused documents are reported one by one; anything else stops here. */
			if (!done && (nrefused == 0 || ups + matched + nrefused < nsent))
				ok = false;
		}
		mongoc_bulk_operation_destroy(bulk);
		bson_destroy(&reply);
		bson_destroy(&bulk_opts);
		bson_destroy(&upsert);
	}
	mongoc_collection_destroy(coll);
	free(st.t);
	free(sent);
	return ok;
}
