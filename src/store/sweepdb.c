/* sweepdb: the MongoDB side of the sweep; see sweepdb.h. */
#include "ticketsync/sweepdb.h"

#include <stdlib.h>
#include <string.h>

#include "ticketsync/audit.h"
#include "ticketsync/checkpoint.h"
#include "ticketsync/clock.h"
#include "ticketsync/fields.h"
#include "ticketsync/metrics.h"
#include "ticketsync/mongoerr.h"
#include "ticketsync/outbox.h"
#include "ticketsync/store.h"
#include "ticketsync/xalloc.h"

/* One usable detection of the page and what MongoDB has of it. */
typedef struct sweepdb_item {
	sweepplan_det_t det;
	bson_t *set;              /* the trigger-shaped document (bson_new) */
	bool mongo_exists;
	int64_t mongo_update_time;
	fields_t mongo_fields;
	bool state_exists;
	store_pushed_t st;
	int64_t state_updated_at;
	bool has_ticket;
	sweepplan_decision_t dec;
} sweepdb_item_t;

typedef struct sweepdb_page {
	sweepdb_item_t *items;    /* sorted by id once read */
	size_t n, cap;
	audit_record_t *audits;
	size_t naudits, capaudits;
	char **strs;              /* owned strings of audit records */
	size_t nstrs, capstrs;
	bson_t **docs;            /* owned details of audit records */
	size_t ndocs, capdocs;
} sweepdb_page_t;

static int
sweepdb_cmp_item(const void *a, const void *b)
{
	int64_t x = ((const sweepdb_item_t *)a)->det.id, y = ((const sweepdb_item_t *)b)->det.id;

	return (x > y) - (x < y);
}

static sweepdb_item_t *
sweepdb_find(sweepdb_page_t *p, int64_t id)
{
	sweepdb_item_t key = { .det.id = id };

	if (p->n == 0)
		return NULL;
	return bsearch(&key, p->items, p->n, sizeof(*p->items), sweepdb_cmp_item);
}

static char *
sweepdb_keep(sweepdb_page_t *p, char *s)
{
	xgrow((void **)&p->strs, &p->capstrs, p->nstrs + 1, sizeof(char *));
	return p->strs[p->nstrs++] = s;
}

static bson_t *
sweepdb_keep_doc(sweepdb_page_t *p, bson_t *d)
{
	xgrow((void **)&p->docs, &p->capdocs, p->ndocs + 1, sizeof(bson_t *));
	return p->docs[p->ndocs++] = d;
}

static void
sweepdb_audit(sweepdb_page_t *p, const sweepdb_ctx_t *ctx, const char *event, int64_t id,
    const char *ticket_id, char *msg, bson_t *detail)
{
	xgrow((void **)&p->audits, &p->capaudits, p->naudits + 1, sizeof(audit_record_t));
	p->audits[p->naudits++] = (audit_record_t){ .event = event, .has_detection_id = id > 0,
		.detection_id = id, .ticket_id = ticket_id, .instance = ctx->instance,
		.message = sweepdb_keep(p, msg),
		.detail = detail != NULL ? sweepdb_keep_doc(p, detail) : NULL };
}

/* The page's item a document (by its _id) is about, or NULL. */
static sweepdb_item_t *
sweepdb_item_of(sweepdb_page_t *p, const bson_t *doc)
{
	bson_iter_t it;
	int64_t id;

	if (!bson_iter_init_find(&it, doc, "_id") || !store_iter_int64(&it, &id))
		return NULL;
	return sweepdb_find(p, id);
}

static bool
sweepdb_on_detection(const bson_t *doc, void *arg)
{
	sweepdb_item_t *item = sweepdb_item_of(arg, doc);
	bson_error_t e;

	if (item == NULL)
		return true;
	item->mongo_exists = true;
	item->mongo_update_time = store_doc_int64(doc, "update_time", 0);
	if (!fields_from_document(doc, &item->mongo_fields, &e))
		fields_init(&item->mongo_fields); /* unreadable there: differs from anything */
	return true;
}

static bool
sweepdb_on_state(const bson_t *doc, void *arg)
{
	sweepdb_item_t *item = sweepdb_item_of(arg, doc);
	bson_error_t e;

	if (item == NULL)
		return true;
	/* Our own document unreadable: no drift decided from it (the outbox rewrites it). */
	item->state_exists = store_pushed_from_doc(doc, &item->st, &e);
	item->state_updated_at = store_doc_date(doc, "updated_at", 0);
	return true;
}

static bool
sweepdb_on_ticket(const bson_t *doc, void *arg)
{
	sweepdb_page_t *p = arg;
	bson_iter_t it, a;

	if (!bson_iter_init_find(&it, doc, "detection_ids") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &a))
		return true;
	while (bson_iter_next(&a)) {
		int64_t id;
		sweepdb_item_t *item;

		if (store_iter_int64(&a, &id) && (item = sweepdb_find(p, id)) != NULL)
			item->has_ticket = true;
	}
	return true;
}

/* The three reads, a page's ids each. */
static bool
sweepdb_read(mongoc_client_t *client, const char *db, sweepdb_page_t *p, bson_error_t *err)
{
	static const char *const fields[] = { "update_time", "ticket_id", "status", "assignee",
		"resolution", NULL };
	int64_t *ids = xmalloc(p->n * sizeof(int64_t));
	bson_t filter, opts, proj;
	bool ok;

	for (size_t i = 0; i < p->n; i++)
		ids[i] = p->items[i].det.id;
	bson_init(&filter);
	bson_init(&opts);
	store_append_in_int64(&filter, "_id", ids, p->n);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	for (size_t i = 0; fields[i] != NULL; i++)
		BSON_APPEND_INT32(&proj, fields[i], 1);
	bson_append_document_end(&opts, &proj);
	ok = store_find_each(client, db, STORE_COLL_DETECTIONS, &filter, &opts, sweepdb_on_detection,
	    p, NULL, NULL, err) &&
	    store_find_each(client, db, STORE_COLL_STATE, &filter, NULL, sweepdb_on_state, p, NULL,
	        NULL, err);
	bson_destroy(&filter);
	bson_destroy(&opts);
	if (ok) {
		bson_init(&filter);
		bson_init(&opts);
		store_append_in_int64(&filter, "detection_ids", ids, p->n);
		BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
		BSON_APPEND_INT32(&proj, "detection_ids", 1);
		bson_append_document_end(&opts, &proj);
		ok = store_find_each(client, db, STORE_COLL_TICKETS, &filter, &opts, sweepdb_on_ticket,
		    p, NULL, NULL, err);
		bson_destroy(&filter);
		bson_destroy(&opts);
	}
	free(ids);
	return ok;
}

/* Missing: insert; older: update where still older. A concurrent trigger write wins
 * (the upsert's duplicate key, or its filter not matching a newer document). */
static bool
sweepdb_repair(mongoc_client_t *client, const char *db, sweepdb_page_t *p, bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, STORE_COLL_DETECTIONS);
	mongoc_bulk_operation_t *bulk = NULL;
	bson_t bopts = BSON_INITIALIZER, reply, uopts = BSON_INITIALIZER;
	bson_iter_t it, e;
	size_t nops = 0;
	bool ok = true;

	BSON_APPEND_BOOL(&bopts, "ordered", false);
	BSON_APPEND_BOOL(&uopts, "upsert", true);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &bopts);
	for (size_t i = 0; ok && i < p->n; i++) {
		sweepdb_item_t *item = &p->items[i];
		bson_t sel = BSON_INITIALIZER, upd = BSON_INITIALIZER, or, branch, lt;

		if (!item->dec.repair)
			continue;
		BSON_APPEND_INT64(&sel, "_id", item->det.id);
		BSON_APPEND_ARRAY_BEGIN(&sel, "$or", &or);
		BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &branch);
		BSON_APPEND_DOCUMENT_BEGIN(&branch, "update_time", &lt);
		BSON_APPEND_INT64(&lt, "$lt", item->det.update_time);
		bson_append_document_end(&branch, &lt);
		bson_append_document_end(&or, &branch);
		BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &branch);
		BSON_APPEND_DOCUMENT_BEGIN(&branch, "update_time", &lt);
		BSON_APPEND_BOOL(&lt, "$exists", false);
		bson_append_document_end(&branch, &lt);
		bson_append_document_end(&or, &branch);
		bson_append_array_end(&sel, &or);
		BSON_APPEND_DOCUMENT(&upd, "$set", item->set);
		ok = mongoc_bulk_operation_update_one_with_opts(bulk, &sel, &upd, &uopts, err);
		bson_destroy(&sel);
		bson_destroy(&upd);
		nops++;
	}
	if (ok && nops > 0 && !mongoc_bulk_operation_execute(bulk, &reply, err)) {
		/* Only duplicate keys (a newer document written meanwhile) are fine. */
		ok = true;
		if (bson_iter_init_find(&it, &reply, "writeErrors") && bson_iter_recurse(&it, &e)) {
			while (bson_iter_next(&e)) {
				bson_iter_t code;

				if (BSON_ITER_HOLDS_DOCUMENT(&e) && bson_iter_recurse(&e, &code) &&
				    bson_iter_find(&code, "code") &&
				    bson_iter_as_int64(&code) != MONGOERR_DUPLICATE_KEY)
					ok = false;
			}
		} else {
			ok = false;
		}
		bson_destroy(&reply);
	} else if (ok && nops > 0) {
		bson_destroy(&reply);
	}
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&bopts);
	bson_destroy(&uopts);
	mongoc_collection_destroy(coll);
	return ok;
}

static bson_t *
sweepdb_drift_detail(const sweepdb_item_t *item, const char *policy, bool corrected)
{
	bson_t *d = bson_new();

	fields_append_document(d, "extrahop", &item->det.fields);
	if (item->state_exists)
		fields_append_document(d, "ticket", &item->st.desired);
	else
		fields_append_document(d, "mongodb", &item->mongo_fields);
	BSON_APPEND_INT64(d, "mod_time", item->det.mod_time);
	BSON_APPEND_UTF8(d, "policy", policy);
	BSON_APPEND_BOOL(d, "corrected", corrected);
	return d;
}

bool
sweepdb_apply(mongoc_client_t *client, const sweepdb_ctx_t *ctx, const bson_t *page,
    int64_t fetched_at_ms, sweepplan_page_t *paging, sweepdb_stats_t *stats, bson_error_t *err)
{
	sweepdb_page_t p = { 0 };
	uint64_t page_read = 0;
	bson_iter_t it;
	bool ok = false;
	int64_t now = clock_wall_ms();

	/* 1. Parse, and pass every element through the pager in the order given. */
	if (!bson_iter_init(&it, page)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG, "sweep: unreadable page");
		return false;
	}
	while (bson_iter_next(&it)) {
		sweepdb_item_t item = { 0 };
		bson_t rest, set;
		bson_error_t perr;
		int rc = -1;

		stats->read++;
		page_read++;
		item.det.mod_time = -1;
		if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
			uint32_t len;
			const uint8_t *data;

			bson_iter_document(&it, &len, &data);
			if (bson_init_static(&rest, data, len))
				rc = sweepplan_parse(&rest, &item.det, &set, &perr);
			else
				bson_init(&set);
		} else {
			bson_init(&set);
		}
		if (rc != 0 && !BSON_ITER_HOLDS_DOCUMENT(&it))
			bson_set_error(&perr, ERROR_DOMAIN, STORE_ERR_ARG,
			    "element %s of the search reply is not a detection object", bson_iter_key(&it));
		if (sweepplan_seen(paging, item.det.id, item.det.mod_time)) {
			stats->duplicates++;
			bson_destroy(&set);
			continue;
		}
		if (rc != 0) {
			stats->rejected++;
			metrics_inc(METRICS_SWEEP_REJECTED, 1);
			sweepdb_audit(&p, ctx, AUDIT_SWEEP_REJECTED, item.det.id, NULL,
			    bson_strdup_printf("skipped: %s", perr.message), NULL);
			bson_destroy(&set);
			continue;
		}
		item.set = bson_copy(&set);
		bson_destroy(&set);
		xgrow((void **)&p.items, &p.cap, p.n + 1, sizeof(*p.items));
		p.items[p.n++] = item;
	}
	metrics_inc(METRICS_SWEEP_READ, page_read); /* stats add up the whole sweep */
	if (p.n > 1)
		qsort(p.items, p.n, sizeof(*p.items), sweepdb_cmp_item);
	/* A detection twice in one page (it moved while paged): its later version wins. */
	for (size_t i = 1; i < p.n; i++) {
		if (p.items[i].det.id == p.items[i - 1].det.id) {
			size_t keep = p.items[i].det.mod_time >= p.items[i - 1].det.mod_time ? i : i - 1;
			size_t drop = keep == i ? i - 1 : i;

			bson_destroy(p.items[drop].set);
			p.items[drop] = p.items[keep];
			memmove(&p.items[i], &p.items[i + 1], (p.n - i - 1) * sizeof(*p.items));
			p.n--;
			i--;
		}
	}
	/* 2. What MongoDB has, read after the fetch. */
	if (p.n > 0 && !sweepdb_read(client, ctx->database, &p, err))
		goto cleanup;
	/* 3. Decide. */
	for (size_t i = 0; i < p.n; i++) {
		sweepdb_item_t *item = &p.items[i];
		enum pushplan_state st = PUSHPLAN_STATE_PENDING;
		sweepplan_input_t in;

		if (item->state_exists)
			pushplan_state_parse(item->st.state, &st);
		in = (sweepplan_input_t){ .det = &item->det, .mongo_exists = item->mongo_exists,
			.mongo_update_time = item->mongo_update_time, .mongo_fields = item->mongo_fields,
			.state_exists = item->state_exists, .state = st,
			.has_pushed = item->st.has_pushed, .pushed = item->st.pushed,
			.desired = item->st.desired, .state_updated_at_ms = item->state_updated_at,
			.fetched_at_ms = fetched_at_ms, .has_ticket = item->has_ticket,
			.policy = ctx->policy };
		sweepplan_decide(&in, &item->dec);
	}
	/* 4. Audit first, then write: a crash in between leaves a record of a repair or a
	 * reassert that did not happen, and the page (its cursor not yet moved) is read and
	 * done again: every repair and drift is audited at least once. The other order
	 * would lose the records of writes whose re-read then finds nothing to do. */
	for (size_t i = 0; i < p.n; i++) {
		sweepdb_item_t *item = &p.items[i];
		bool reassert = item->dec.drift == SWEEPPLAN_DRIFT_REASSERT;

		if (item->dec.repair) {
			stats->repaired++;
			if (item->mongo_exists)
				stats->older++;
			else
				stats->missing++;
			metrics_inc(METRICS_SWEEP_REPAIRED, 1);
			sweepdb_audit(&p, ctx, AUDIT_DETECTION_REPAIRED, item->det.id, NULL,
			    bson_strdup_printf("written from ExtraHop: %s", item->dec.repair_reason), NULL);
		}
		if (item->dec.drift == SWEEPPLAN_DRIFT_NONE)
			continue;
		stats->drift++;
		metrics_inc(METRICS_SWEEP_DRIFT, 1);
		if (!reassert)
			stats->reported++;
		sweepdb_audit(&p, ctx, AUDIT_DRIFT, item->det.id,
		    item->st.desired.ticket_id[0] ? item->st.desired.ticket_id : NULL,
		    bson_strdup_printf("%s%s", item->dec.reason,
		        reassert ? "; the ticket's values are pushed again" : ""),
		    sweepdb_drift_detail(item, sweepplan_drift_name(item->dec.drift), reassert));
	}
	if (!ctx->dry_run) {
		for (size_t off = 0; off < p.naudits; off += AUDIT_BATCH_MAX) {
			size_t k = p.naudits - off < AUDIT_BATCH_MAX ? p.naudits - off : AUDIT_BATCH_MAX;

			if (!audit_append_many(client, ctx->database, p.audits + off, k, err)) {
				metrics_inc(METRICS_DB_ERRORS, 1);
				goto cleanup;
			}
		}
		if (!sweepdb_repair(client, ctx->database, &p, err))
			goto cleanup;
	}
	for (size_t i = 0; !ctx->dry_run && i < p.n; i++) {
		sweepdb_item_t *item = &p.items[i];
		bson_t *shown;
		bool okw, changed = false;

		if (item->dec.drift != SWEEPPLAN_DRIFT_REASSERT)
			continue;
		shown = fields_new_document(&item->det.fields);
		okw = outbox_reassert(client, ctx->database, STORE_COLL_STATE, item->det.id,
		    item->st.version, shown, now, &changed, err);
		bson_destroy(shown);
		if (!okw)
			goto cleanup;
		/* not changed: the item moved meanwhile (a new value, a claim): its own push
		 * sends the ticket's values */
		stats->reasserted++;
		metrics_inc(METRICS_SWEEP_CORRECTED, 1);
	}
	if (ctx->dry_run)
		for (size_t i = 0; i < p.n; i++)
			if (p.items[i].dec.drift == SWEEPPLAN_DRIFT_REASSERT)
				stats->reasserted++;
	ok = true;
cleanup:
	for (size_t i = 0; i < p.n; i++)
		bson_destroy(p.items[i].set);
	for (size_t i = 0; i < p.nstrs; i++)
		bson_free(p.strs[i]);
	for (size_t i = 0; i < p.ndocs; i++)
		bson_destroy(p.docs[i]);
	free(p.items);
	free(p.audits);
	free(p.strs);
	free(p.docs);
	return ok;
}

void
sweepdb_audit_sweep(mongoc_client_t *client, const sweepdb_ctx_t *ctx, const sweepdb_stats_t *st,
    int64_t pages)
{
	char msg[512];
	audit_record_t r = { .event = AUDIT_SWEEP, .instance = ctx->instance, .message = msg };
	bson_error_t err;

	snprintf(msg, sizeof(msg), "read %llu in %lld page(s), repaired %llu (missing %llu, "
	    "older %llu), drift %llu (reasserted %llu, reported %llu), rejected %llu",
	    (unsigned long long)st->read, (long long)pages, (unsigned long long)st->repaired,
	    (unsigned long long)st->missing, (unsigned long long)st->older,
	    (unsigned long long)st->drift, (unsigned long long)st->reasserted,
	    (unsigned long long)st->reported, (unsigned long long)st->rejected);
	if (!audit_append(client, ctx->database, &r, &err))
		metrics_inc(METRICS_DB_ERRORS, 1);
}

bool
sweepdb_load_cursor(mongoc_client_t *client, const char *db, sweepplan_cursor_t *cursor,
    bool *found, bson_error_t *err)
{
	bson_t token;
	bool ok = checkpoint_load(client, db, SWEEPDB_CHECKPOINT, &token, found, NULL, err);

	cursor->mod_time = ok && *found ? store_doc_int64(&token, "mod_time", 0) : 0;
	bson_destroy(&token);
	return ok;
}

bool
sweepdb_save_cursor(mongoc_client_t *client, const char *db, const sweepplan_cursor_t *cursor,
    const char *instance, bson_error_t *err)
{
	bson_t token = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_INT64(&token, "mod_time", cursor->mod_time);
	ok = checkpoint_save(client, db, SWEEPDB_CHECKPOINT, &token, instance, err);
	bson_destroy(&token);
	return ok;
}
