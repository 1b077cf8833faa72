/* outbox: ticketsync_state, the per-detection push state machine; see outbox.h. */
#include "ticketsync/outbox.h"

#include <stdlib.h>
#include <string.h>

#include "ticketsync/log.h"
#include "ticketsync/mongoerr.h"
#include "ticketsync/store.h"
#include "ticketsync/text.h"
#include "ticketsync/xalloc.h"

/* Lost compare-and-set races before giving up: each loss means another writer made
 * progress on the same detection, so a handful is plenty. */
#define OUTBOX_CAS_TRIES 16
#define OUTBOX_IDS_PER_COMMAND 10000


/* ---- set_desired ---- */

/* What recording desired means for a detection: pushplan's decision plus what the
 * guarded write needs of the document as read. */
typedef struct outbox_plan {
	pushplan_current_t cur;
	pushplan_record_t rec;
	const char *state_read;       /* UPDATE: the CAS condition, as stored */
	bool has_fencing;             /* the document carries a lease token ... */
	int64_t fencing;              /* ... this one (UPDATE: guarded as read) */
} outbox_plan_t;

/* The document at doc.key: *present false when absent, an error when not a document. */
static bool
outbox_value_get(const bson_t *doc, const char *key, bson_t *out, bool *present,
    bson_error_t *err)
{
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;

	*present = false;
	if (!bson_iter_init_find(&it, doc, key))
		return true;
	if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT,
		    "state document: %s is not a document", key);
		return false;
	}
	bson_iter_document(&it, &len, &data);
	if (!bson_init_static(out, data, len)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT,
		    "state document: %s is corrupt", key);
		return false;
	}
	*present = true;
	return true;
}

/* Values are compared as the canonical BSON their producer writes. */
static bool
outbox_value_equal(const bson_t *a, const bson_t *b)
{
	return a->len == b->len && memcmp(bson_get_data(a), bson_get_data(b), a->len) == 0;
}

/* A stored value for deciding: one that is not a document (the validator refuses
 * those, but anyone may write the collection) counts as absent, so recording a value
 * rewrites it instead of failing every later write of the item. */
static void
outbox_value_read(const bson_t *doc, const char *key, bson_t *out, bool *present)
{
	bson_error_t ignored;

	if (!outbox_value_get(doc, key, out, present, &ignored))
		*present = false;
}

/* Read what pushplan needs from the state document cur (NULL: none) and decide. */
static void
outbox_decide(const bson_t *cur, const bson_t *desired, const bson_t *baseline,
    outbox_plan_t *plan)
{
	bson_t stored, pushed, base;
	bool has_stored, has_pushed, has_base;

	memset(plan, 0, sizeof(*plan));
	if (cur == NULL) {
		plan->cur.equals_shown = outbox_value_equal(desired, baseline);
		pushplan_record(&plan->cur, &plan->rec);
		return;
	}
	outbox_value_read(cur, "desired", &stored, &has_stored);
	outbox_value_read(cur, "baseline", &base, &has_base);
	outbox_value_read(cur, "pushed", &pushed, &has_pushed);
	plan->cur.exists = true;
	plan->state_read = store_doc_utf8(cur, "state", OUTBOX_PENDING);
	(void)pushplan_state_parse(plan->state_read, &plan->cur.state);
	plan->cur.version = store_doc_int64(cur, "version", 0);
	plan->cur.has_pending_since = bson_has_field(cur, "pending_since");
	plan->cur.equals_stored = has_stored && outbox_value_equal(desired, &stored);
	plan->cur.equals_shown = has_pushed ? outbox_value_equal(desired, &pushed)
	                                    : has_base && outbox_value_equal(desired, &base);
	plan->has_fencing = bson_has_field(cur, "fencing");
	plan->fencing = store_doc_int64(cur, "fencing", 0);
	pushplan_record(&plan->cur, &plan->rec);
}

void
outbox_plan(const bson_t *cur, const bson_t *desired, const bson_t *baseline,
    pushplan_record_t *out)
{
	outbox_plan_t plan;

	outbox_decide(cur, desired, baseline, &plan);
	*out = plan.rec;
}

/* The result once a plan's write (if any) applied. */
static void
outbox_plan_result(const outbox_plan_t *plan, outbox_set_result_t *res)
{
	memset(res, 0, sizeof(*res));
	res->change = (enum outbox_change)plan->rec.change;
	res->version = plan->rec.version;
	if (plan->rec.write != PUSHPLAN_WRITE_NONE || plan->cur.exists)
		bson_strncpy(res->state, plan->rec.write == PUSHPLAN_WRITE_NONE
		        ? plan->state_read : pushplan_state_name(plan->rec.state),
		    sizeof(res->state));
}

/* The lease's fencing token this thread's writes carry; see outbox_set_writer_fencing. */
static _Thread_local int64_t outbox_writer_fencing;

void
outbox_set_writer_fencing(int64_t fencing)
{
	outbox_writer_fencing = fencing;
}

/* A guarded write only applies where no later lease holder has written: fencing
 * absent or not above ours ($not $gt also matches a missing field). */
static void
outbox_append_fencing_guard(bson_t *filter)
{
	bson_t cond, not;

	if (outbox_writer_fencing <= 0)
		return;
	BSON_APPEND_DOCUMENT_BEGIN(filter, "fencing", &cond);
	BSON_APPEND_DOCUMENT_BEGIN(&cond, "$not", &not);
	BSON_APPEND_INT64(&not, "$gt", outbox_writer_fencing);
	bson_append_document_end(&cond, &not);
	bson_append_document_end(filter, &cond);
}

/*
 * The same guard for a write decided from a document as read, whose token was has/f:
 * when that token is not above ours, the guard is "still that token" (plain equality,
 * which every server matches cheaply): a later holder's write in between changes it and
 * fails the guard, as the range form would. Otherwise the range form (which then fails
 * as before).
 */
static void
outbox_append_fencing_guard_read(bson_t *filter, bool has, int64_t f)
{
	if (outbox_writer_fencing <= 0)
		return;
	if (has && f <= outbox_writer_fencing)
		BSON_APPEND_INT64(filter, "fencing", f);
	else
		outbox_append_fencing_guard(filter);
}

static void
outbox_append_fencing(bson_t *set)
{
	if (outbox_writer_fencing > 0)
		BSON_APPEND_INT64(set, "fencing", outbox_writer_fencing);
}

static void
outbox_build_insert(bson_t *doc, int64_t id, const bson_t *desired,
    const bson_t *baseline, const char *ticket_id, int64_t now_ms)
{
	BSON_APPEND_INT64(doc, "_id", id);
	BSON_APPEND_DOCUMENT(doc, "desired", desired);
	BSON_APPEND_DOCUMENT(doc, "baseline", baseline);
	BSON_APPEND_INT64(doc, "version", 1);
	BSON_APPEND_INT64(doc, "pushed_version", 0);
	BSON_APPEND_UTF8(doc, "state", OUTBOX_PENDING);
	BSON_APPEND_INT32(doc, "attempts", 0);
	BSON_APPEND_DATE_TIME(doc, "next_attempt_at", now_ms);
	BSON_APPEND_DATE_TIME(doc, "pending_since", now_ms);
	fields_append_nullable(doc, "ticket_id", ticket_id);
	BSON_APPEND_DATE_TIME(doc, "updated_at", now_ms);
	outbox_append_fencing(doc);
}

/* The update that records a changed desired, guarded by the version and state read:
 * the new state was decided from the old one, and a claim or completion in between
 * (which change the state, not the version) must send us round again, or we could
 * turn an in-flight detection back to pending (two PATCHes out) or leave a completed
 * one in_flight with no claim (stuck). */
static void
outbox_build_update(bson_t *filter, bson_t *update, int64_t id, const outbox_plan_t *plan,
    const bson_t *desired, const char *ticket_id, int64_t now_ms)
{
	bool synced = plan->rec.state == PUSHPLAN_STATE_SYNCED;
	bson_t set, unset;

	BSON_APPEND_INT64(filter, "_id", id);
	BSON_APPEND_INT64(filter, "version", plan->cur.version);
	BSON_APPEND_UTF8(filter, "state", plan->state_read);
	outbox_append_fencing_guard_read(filter, plan->has_fencing, plan->fencing);
	BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
	outbox_append_fencing(&set);
	BSON_APPEND_DOCUMENT(&set, "desired", desired);
	BSON_APPEND_INT64(&set, "version", plan->rec.version);
	BSON_APPEND_UTF8(&set, "state", pushplan_state_name(plan->rec.state));
	BSON_APPEND_INT32(&set, "attempts", 0);
	BSON_APPEND_DATE_TIME(&set, "next_attempt_at", now_ms);
	fields_append_nullable(&set, "ticket_id", ticket_id);
	BSON_APPEND_DATE_TIME(&set, "updated_at", now_ms);
	if (plan->rec.set_pending_since)
		BSON_APPEND_DATE_TIME(&set, "pending_since", now_ms);
	bson_append_document_end(update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(update, "$unset", &unset);
	BSON_APPEND_UTF8(&unset, "parked_reason", "");
	BSON_APPEND_UTF8(&unset, "parked_at", "");
	if (synced)
		BSON_APPEND_UTF8(&unset, "pending_since", "");
	bson_append_document_end(update, &unset);
}

bool
outbox_set_desired(mongoc_client_t *client, const char *db, const char *coll_name, int64_t id,
    const bson_t *desired, const bson_t *baseline, const char *ticket_id, int64_t now_ms,
    outbox_set_result_t *result_out, bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, coll_name);
	outbox_set_result_t res;
	bool ok = false;

	memset(&res, 0, sizeof(res));
	for (int attempt = 0; attempt < OUTBOX_CAS_TRIES; attempt++) {
		bson_t filter = BSON_INITIALIZER;
		bson_t cur;
		const bson_t *current;
		bool found, read;

		BSON_APPEND_INT64(&filter, "_id", id);
		read = store_find_one(coll, &filter, NULL, &cur, &found, err);
		bson_destroy(&filter);
		if (!read) {
			bson_destroy(&cur);
			goto cleanup;
		}
		current = found ? &cur : NULL;
		ok = outbox_set_desired_many(client, db, coll_name, 1, &id, &desired, &baseline,
		    &ticket_id, &current, now_ms, &res, err);
		bson_destroy(&cur);
		if (!ok || res.change != OUTBOX_CONFLICT)
			goto cleanup;
		ok = false; /* another writer changed it since the read: read and decide again */
	}
	bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CONFLICT,
	    "outbox: detection %lld changed concurrently %d times in a row; gave up",
	    (long long)id, OUTBOX_CAS_TRIES);
cleanup:
	if (result_out != NULL)
		*result_out = res;
	mongoc_collection_destroy(coll);
	return ok;
}

static int
outbox_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Detections whose insert met a duplicate key (another writer created the document
 * first): marked in redo. Any other write error fails the batch.
 */
static bool
outbox_insert_conflicts(const bson_t *reply, const size_t *op_item, size_t n_ops,
    bool *redo, bson_error_t *err)
{
	bson_iter_t it, arr;

	if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &arr))
		return false; /* not a write error: keep err as the driver set it */
	while (bson_iter_next(&arr)) {
		bson_iter_t e;
		int64_t index = -1, code = 0;

		if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &e))
			return false;
		while (bson_iter_next(&e)) {
			if (strcmp(bson_iter_key(&e), "index") == 0)
				index = bson_iter_as_int64(&e);
			else if (strcmp(bson_iter_key(&e), "code") == 0)
				code = bson_iter_as_int64(&e);
		}
		if (code != MONGOERR_DUPLICATE_KEY || index < 0 || (size_t)index >= n_ops)
			return false;
		redo[op_item[index]] = true;
	}
	memset(err, 0, sizeof(*err));
	return true;
}

/*
 * outbox_set_desired for n distinct detections in a few round trips, decided from the
 * state documents the caller read: one insert for the new ones, one update for the
 * changed ones.
 * The decisions and the compare-and-set guards are outbox_set_desired's own; a
 * detection that lost a race (an insert met an existing document, or a guarded update
 * did not match) gets OUTBOX_CONFLICT: the caller recomputes it from fresh documents.
 * results[i] belongs to ids[i]. When the reply cannot tell which guarded update did
 * not match, every update of the call reads OUTBOX_CONFLICT (the recomputation then
 * finds the ones that were made already recorded).
 *
 * Called by refresh for each chunk.
 */
bool
outbox_set_desired_many(mongoc_client_t *client, const char *db, const char *coll_name,
    size_t n, const int64_t *ids, const bson_t *const *desired, const bson_t *const *baselines,
    const char *const *ticket_ids, const bson_t *const *current, int64_t now_ms,
    outbox_set_result_t *results, bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	mongoc_bulk_operation_t *ins = NULL, *upd = NULL;
	int64_t *sorted = xcalloc(n, sizeof(*sorted)); /* to find duplicates */
	outbox_plan_t *plans = xcalloc(n, sizeof(*plans));
	size_t *ins_item = xcalloc(n, sizeof(*ins_item));
	bool *redo = xcalloc(n, sizeof(*redo));
	bson_t opts = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	size_t n_ins = 0, n_upd = 0;
	bool ok = false;

	memset(results, 0, n * sizeof(*results));
	if (n == 0) {
		ok = true;
		goto cleanup;
	}
	memcpy(sorted, ids, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), outbox_cmp_i64);
	for (size_t i = 1; i < n; i++) {
		if (sorted[i] == sorted[i - 1]) {
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
			    "outbox: detection %lld given twice in one batch", (long long)sorted[i]);
			goto cleanup;
		}
	}
	coll = mongoc_client_get_collection(client, db, coll_name);

	BSON_APPEND_BOOL(&opts, "ordered", false);
	ins = mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
	upd = mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
	for (size_t i = 0; i < n; i++) {
		bson_t doc = BSON_INITIALIZER, filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
		bool added = true;

		outbox_decide(current[i], desired[i], baselines[i], &plans[i]);
		if (plans[i].rec.write == PUSHPLAN_WRITE_INSERT) {
			outbox_build_insert(&doc, ids[i], desired[i], baselines[i], ticket_ids[i],
			    now_ms);
			added = mongoc_bulk_operation_insert_with_opts(ins, &doc, NULL, err);
			ins_item[n_ins++] = i;
		} else if (plans[i].rec.write == PUSHPLAN_WRITE_UPDATE) {
			outbox_build_update(&filter, &update, ids[i], &plans[i], desired[i],
			    ticket_ids[i], now_ms);
			added = mongoc_bulk_operation_update_one_with_opts(upd, &filter, &update, NULL,
			    err);
			n_upd++;
		}
		bson_destroy(&doc);
		bson_destroy(&filter);
		bson_destroy(&update);
		if (!added)
			goto cleanup;
	}
	if (n_ins > 0 && !mongoc_bulk_operation_execute(ins, &reply, err) &&
	    !outbox_insert_conflicts(&reply, ins_item, n_ins, redo, err))
		goto cleanup;
	/* execute() initialises its reply afresh: release the insert's first. */
	bson_destroy(&reply);
	bson_init(&reply);
	if (n_upd > 0) {
		bson_iter_t it;
		int64_t matched = 0;

		if (!mongoc_bulk_operation_execute(upd, &reply, err))
			goto cleanup;
		if (bson_iter_init_find(&it, &reply, "nMatched"))
			matched = bson_iter_as_int64(&it);
		/* Some guard did not match and the reply does not say which: every update
		 * goes round again (a re-read of one this call made finds it recorded). */
		if (matched < (int64_t)n_upd)
			for (size_t i = 0; i < n; i++)
				if (plans[i].rec.write == PUSHPLAN_WRITE_UPDATE)
					redo[i] = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (!redo[i]) {
			outbox_plan_result(&plans[i], &results[i]);
			continue;
		}
		/* Not retried here with the same desired: it was decided from documents
		 * read before the other writer's change, and may be the older value. */
		memset(&results[i], 0, sizeof(results[i]));
		results[i].change = OUTBOX_CONFLICT;
	}
	ok = true;
cleanup:
	mongoc_bulk_operation_destroy(ins);
	mongoc_bulk_operation_destroy(upd);
	mongoc_collection_destroy(coll);
	bson_destroy(&opts);
	bson_destroy(&reply);
	free(sorted);
	free(plans);
	free(ins_item);
	free(redo);
	return ok;
}

/* ---- claim ---- */

void
outbox_append_due(bson_t *filter, int64_t now_ms)
{
	bson_t or, branch, cond;

	BSON_APPEND_ARRAY_BEGIN(filter, "$or", &or);
	BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &branch);
	BSON_APPEND_UTF8(&branch, "state", OUTBOX_PENDING);
	BSON_APPEND_DOCUMENT_BEGIN(&branch, "next_attempt_at", &cond);
	BSON_APPEND_DATE_TIME(&cond, "$lte", now_ms);
	bson_append_document_end(&branch, &cond);
	bson_append_document_end(&or, &branch);
	BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &branch);
	BSON_APPEND_UTF8(&branch, "state", OUTBOX_IN_FLIGHT);
	BSON_APPEND_DOCUMENT_BEGIN(&branch, "claimed_until", &cond);
	BSON_APPEND_DATE_TIME(&cond, "$lt", now_ms);
	bson_append_document_end(&branch, &cond);
	bson_append_document_end(&or, &branch);
	bson_append_array_end(filter, &or);
}

/*
 * The claim's guard for one candidate besides its _id, initialised here: {version,
 * state, the lease token as read} plus the field that made it due, equal to the value
 * read (next_attempt_at for pending; claim_id and claimed_until for an expired
 * in_flight claim). The value read met the due condition, so an equal one still does,
 * and any change in between (a retry rescheduled, the claim taken by someone else)
 * fails the guard: the same outcome as re-testing the due condition, with a plain
 * equality filter any server matches cheaply.
 */
static bool
outbox_claim_guard(bson_t *guard, const bson_t *doc, int64_t version)
{
	const char *state = store_doc_utf8(doc, "state", "");
	static const char *const pending_keys[] = { "next_attempt_at", NULL };
	static const char *const in_flight_keys[] = { "claim_id", "claimed_until", NULL };
	const char *const *keys = strcmp(state, OUTBOX_PENDING) == 0 ? pending_keys
	                                                              : in_flight_keys;
	bool has_fencing = bson_has_field(doc, "fencing");
	int64_t fencing = store_doc_int64(doc, "fencing", 0);
	bson_iter_t it;

	/* A later lease holder wrote it: not ours to claim (the guard would fail). */
	if (outbox_writer_fencing > 0 && has_fencing && fencing > outbox_writer_fencing)
		return false;
	bson_init(guard);
	BSON_APPEND_INT64(guard, "version", version);
	BSON_APPEND_UTF8(guard, "state", state);
	outbox_append_fencing_guard_read(guard, has_fencing, fencing);
	for (size_t k = 0; keys[k] != NULL; k++) {
		if (!bson_iter_init_find(&it, doc, keys[k])) {
			/* Cannot have been due without it: leave the document alone. */
			bson_destroy(guard);
			return false;
		}
		bson_append_iter(guard, keys[k], -1, &it);
	}
	return true;
}

static void
outbox_append_sort_due(bson_t *opts)
{
	bson_t sort;

	BSON_APPEND_DOCUMENT_BEGIN(opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "next_attempt_at", 1);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(opts, &sort);
}

void
outbox_item_clear(outbox_item_t *item)
{
	if (item == NULL)
		return;
	bson_destroy(item->desired);
	bson_destroy(item->pushed);
	bson_destroy(item->baseline);
	item->desired = item->pushed = item->baseline = NULL;
}

/* Read a claimed document into item; false (why set, item holds nothing) when it is
 * unreadable. */
static bool
outbox_item_from_doc(const bson_t *doc, const char *claim_id, outbox_item_t *item,
    bson_error_t *why)
{
	bson_t desired, pushed, base;
	bool has_desired, has_base, has_pushed;
	bson_iter_t it;

	memset(item, 0, sizeof(*item));
	if (!bson_iter_init_find(&it, doc, "_id") || !store_iter_int64(&it, &item->id)) {
		bson_set_error(why, ERROR_DOMAIN, STORE_ERR_CORRUPT, "_id is not a number");
		return false;
	}
	if (!outbox_value_get(doc, "desired", &desired, &has_desired, why) ||
	    !outbox_value_get(doc, "baseline", &base, &has_base, why) ||
	    !outbox_value_get(doc, "pushed", &pushed, &has_pushed, why))
		return false;
	if (!has_desired) {
		bson_set_error(why, ERROR_DOMAIN, STORE_ERR_CORRUPT, "no desired value");
		return false;
	}
	bson_strncpy(item->claim_id, claim_id, sizeof(item->claim_id));
	item->version = store_doc_int64(doc, "version", 0);
	item->attempts = (int32_t)store_doc_int64(doc, "attempts", 0);
	item->recheck_at_ms = store_doc_date(doc, "recheck_at", 0);
	item->reclaimed_until_ms = store_doc_date(doc, "reclaimed_until", 0);
	item->claimed_until_ms = store_doc_date(doc, "claimed_until", 0);
	item->force_full = bson_iter_init_find(&it, doc, "force_full") &&
	    BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
	bson_strncpy(item->ticket_id, store_doc_utf8(doc, "ticket_id", ""),
	    sizeof(item->ticket_id));
	item->desired = bson_copy(&desired);
	item->pushed = has_pushed ? bson_copy(&pushed) : NULL;
	item->baseline = has_base ? bson_copy(&base) : NULL;
	return true;
}

/* A claimed document we cannot read would be claimed again after every expiry:
 * park it with the reason instead, visible to operators. */
static void
outbox_park_unreadable(mongoc_collection_t *coll, const bson_t *doc, const char *claim_id,
    const char *why, int64_t now_ms)
{
	bson_t filter = BSON_INITIALIZER;
	bson_t update = BSON_INITIALIZER;
	bson_t set, unset;
	bson_iter_t it;
	bson_error_t err;
	char reason[OUTBOX_MESSAGE_MAX];

	if (!bson_iter_init_find(&it, doc, "_id"))
		goto cleanup;
	text_sanitize(reason, sizeof(reason), why, TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	bson_append_iter(&filter, "_id", -1, &it);
	BSON_APPEND_UTF8(&filter, "claim_id", claim_id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "state", OUTBOX_PARKED);
	BSON_APPEND_UTF8(&set, "parked_reason", reason);
	BSON_APPEND_DATE_TIME(&set, "parked_at", now_ms);
	BSON_APPEND_DATE_TIME(&set, "updated_at", now_ms);
	bson_append_document_end(&update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
	BSON_APPEND_UTF8(&unset, "claim_id", "");
	BSON_APPEND_UTF8(&unset, "claimed_by", "");
	BSON_APPEND_UTF8(&unset, "claimed_until", "");
	BSON_APPEND_UTF8(&unset, "claim_version", "");
	bson_append_document_end(&update, &unset);
	/* Best effort: if it fails, the claim expires and we come back here. */
	if (!mongoc_collection_update_one(coll, &filter, &update, NULL, NULL, &err))
		log_warnx("outbox: cannot park unreadable state document: %s", err.message);
	else
		log_warnx("outbox: parked unreadable state document: %s", reason);
cleanup:
	bson_destroy(&filter);
	bson_destroy(&update);
}

/* Orders claim guards by their bytes: equal guards end up side by side. */
static int
outbox_cmp_guard(const void *a, const void *b)
{
	const bson_t *x = *(const bson_t *const *)a, *y = *(const bson_t *const *)b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(bson_get_data(x), bson_get_data(y), x->len);
}

bool
outbox_claim(mongoc_client_t *client, const char *db, const char *coll_name, int64_t now_ms,
    size_t limit,
    const char *owner, int64_t claim_timeout_ms, outbox_item_t *items, size_t *n_out,
    bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	mongoc_cursor_t *cursor = NULL;
	mongoc_bulk_operation_t *bulk = NULL;
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t bulk_opts = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	bson_t proj;
	const bson_t *doc;
	int64_t *ids = NULL, *versions = NULL, *reclaimed = NULL;
	bson_t *guards = NULL;
	const bson_t **order = NULL;
	int64_t *group_ids = NULL;
	size_t n_cand = 0, n = 0;
	bson_oid_t oid;
	char claim_id[25];
	bool ok = false;

	*n_out = 0;
	if (limit == 0 || limit > OUTBOX_CLAIM_MAX) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "outbox claim: limit %zu out of range 1..%d", limit, OUTBOX_CLAIM_MAX);
		goto cleanup;
	}
	if (owner == NULL || owner[0] == '\0' || strlen(owner) > OUTBOX_OWNER_MAX ||
	    !bson_utf8_validate(owner, strlen(owner), false)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "outbox claim: owner must be 1..%d bytes of UTF-8", OUTBOX_OWNER_MAX);
		goto cleanup;
	}
	if (claim_timeout_ms <= 0) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "outbox claim: claim timeout must be positive");
		goto cleanup;
	}
	coll = mongoc_client_get_collection(client, db, coll_name);

	/* 1. Candidates, oldest due first (index state_1_next_attempt_at_1 serves both
	 *    branches of the $or in next_attempt_at order). */
	outbox_append_due(&filter, now_ms);
	outbox_append_sort_due(&opts);
	BSON_APPEND_INT64(&opts, "limit", (int64_t)limit);
	/* Every candidate in the first reply: no getMore round trip (default batch: 101). */
	BSON_APPEND_INT64(&opts, "batchSize", (int64_t)limit);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "_id", 1);
	BSON_APPEND_INT32(&proj, "version", 1);
	BSON_APPEND_INT32(&proj, "state", 1);
	BSON_APPEND_INT32(&proj, "next_attempt_at", 1);
	BSON_APPEND_INT32(&proj, "claim_id", 1);
	BSON_APPEND_INT32(&proj, "claimed_until", 1);
	BSON_APPEND_INT32(&proj, "fencing", 1);
	bson_append_document_end(&opts, &proj);
	ids = bson_malloc(limit * sizeof(*ids));
	versions = bson_malloc(limit * sizeof(*versions));
	reclaimed = bson_malloc(limit * sizeof(*reclaimed));
	/* bson_t asks for 128-byte alignment, which malloc does not give. */
	guards = bson_aligned_alloc(BSON_ALIGNOF(bson_t), limit * sizeof(*guards));
	cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	while (n_cand < limit && mongoc_cursor_next(cursor, &doc)) {
		bson_iter_t it;

		if (!bson_iter_init_find(&it, doc, "_id") || !store_iter_int64(&it, &ids[n_cand]))
			continue; /* not ours to push: the validator keeps such documents out */
		versions[n_cand] = store_doc_int64(doc, "version", 0);
		/* Taken over from a holder whose claim expired: it may have sent it. */
		reclaimed[n_cand] = strcmp(store_doc_utf8(doc, "state", ""), OUTBOX_IN_FLIGHT) == 0
		    ? store_doc_date(doc, "claimed_until", now_ms) : 0;
		if (outbox_claim_guard(&guards[n_cand], doc, versions[n_cand]))
			n_cand++;
	}
	if (mongoc_cursor_error(cursor, err))
		goto cleanup;
	mongoc_cursor_destroy(cursor);
	cursor = NULL;
	if (n_cand == 0) {
		ok = true;
		goto cleanup;
	}

	/* 2. Tag them in one round trip. Each document is updated only if it is still as
	 *    read (so still due, at the version read), so of two concurrent claimers only
	 *    one can win it (each document's update is atomic). Candidates whose guards
	 *    are equal (a refresh chunk shares version 1 and one next_attempt_at) go in
	 *    one multi-document update on {_id: {$in: ...}} + that guard: the same test per
	 *    document, one statement instead of one per detection. */
	bson_oid_init(&oid, NULL);
	bson_oid_to_string(&oid, claim_id);
	BSON_APPEND_BOOL(&bulk_opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &bulk_opts);
	order = bson_malloc(n_cand * sizeof(*order));
	group_ids = bson_malloc(n_cand * sizeof(*group_ids));
	for (size_t i = 0; i < n_cand; i++)
		order[i] = &guards[i];
	qsort(order, n_cand, sizeof(*order), outbox_cmp_guard);
	for (size_t i = 0, j; i < n_cand; i = j) {
		bson_t sel = BSON_INITIALIZER;
		bson_t upd = BSON_INITIALIZER;
		bson_t set;
		size_t k = 0;
		bool added;

		for (j = i; j < n_cand && outbox_cmp_guard(&order[i], &order[j]) == 0; j++)
			group_ids[k++] = ids[order[j] - guards];
		store_append_in_int64(&sel, "_id", group_ids, k);
		bson_concat(&sel, order[i]);
		BSON_APPEND_DOCUMENT_BEGIN(&upd, "$set", &set);
		BSON_APPEND_UTF8(&set, "state", OUTBOX_IN_FLIGHT);
		BSON_APPEND_UTF8(&set, "claim_id", claim_id);
		BSON_APPEND_UTF8(&set, "claimed_by", owner);
		BSON_APPEND_DATE_TIME(&set, "claimed_until", now_ms + claim_timeout_ms);
		BSON_APPEND_INT64(&set, "claim_version", versions[order[i] - guards]);
		BSON_APPEND_DATE_TIME(&set, "updated_at", now_ms);
		outbox_append_fencing(&set);
		bson_append_document_end(&upd, &set);
		if (reclaimed[order[i] - guards] > 0) {
			/* Taken over from an expired holder, which may have sent it: remembered
			 * until acknowledged, whatever happens to this claim. */
			bson_t max;

			BSON_APPEND_DOCUMENT_BEGIN(&upd, "$max", &max);
			BSON_APPEND_DATE_TIME(&max, "reclaimed_until", reclaimed[order[i] - guards]);
			bson_append_document_end(&upd, &max);
		}
		added = mongoc_bulk_operation_update_many_with_opts(bulk, &sel, &upd, NULL, err);
		bson_destroy(&sel);
		bson_destroy(&upd);
		if (!added)
			goto cleanup;
	}
	if (!mongoc_bulk_operation_execute(bulk, &reply, err))
		goto cleanup;

	/* 3. Read back what this claim won: desired and version from one snapshot of each
	 *    document, so the version handed out is the one the fields belong to. The
	 *    candidates' ids bound the read to _id lookups (the claim_id index is partial,
	 *    and not every server plans with it). */
	bson_reinit(&filter);
	bson_reinit(&opts);
	store_append_in_int64(&filter, "_id", ids, n_cand);
	BSON_APPEND_UTF8(&filter, "claim_id", claim_id);
	BSON_APPEND_UTF8(&filter, "state", OUTBOX_IN_FLIGHT);
	outbox_append_sort_due(&opts);
	BSON_APPEND_INT64(&opts, "batchSize", (int64_t)n_cand);
	cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	while (n < limit && mongoc_cursor_next(cursor, &doc)) {
		bson_error_t why;

		if (outbox_item_from_doc(doc, claim_id, &items[n], &why)) {
			n++;
			continue;
		}
		outbox_park_unreadable(coll, doc, claim_id, why.message, now_ms);
	}
	if (mongoc_cursor_error(cursor, err))
		goto cleanup;
	*n_out = n;
	ok = true;
cleanup:
	/* A claim that failed hands out nothing (its claims expire and are taken again). */
	for (size_t i = 0; !ok && i < n; i++)
		outbox_item_clear(&items[i]);
	mongoc_cursor_destroy(cursor);
	mongoc_bulk_operation_destroy(bulk);
	mongoc_collection_destroy(coll);
	bson_free(ids);
	bson_free(versions);
	bson_free(reclaimed);
	bson_free(order);
	bson_free(group_ids);
	for (size_t i = 0; i < n_cand; i++)
		bson_destroy(&guards[i]);
	bson_free(guards);
	bson_destroy(&filter);
	bson_destroy(&opts);
	bson_destroy(&bulk_opts);
	bson_destroy(&reply);
	return ok;
}

/* ---- complete ---- */

static void
outbox_append_last(bson_t *set, const outbox_result_t *r, int64_t now_ms)
{
	bson_t last;
	char msg[OUTBOX_MESSAGE_MAX];

	BSON_APPEND_DOCUMENT_BEGIN(set, "last", &last);
	BSON_APPEND_DATE_TIME(&last, "at", now_ms);
	BSON_APPEND_UTF8(&last, "outcome", pushplan_outcome_name(r->outcome));
	if (r->http_status != 0)
		BSON_APPEND_INT32(&last, "http_status", r->http_status);
	if (r->message != NULL) {
		text_sanitize(msg, sizeof(msg), r->message, TEXT_STRLEN, 0, TEXT_ELLIPSIS);
		BSON_APPEND_UTF8(&last, "message", msg);
	}
	bson_append_document_end(set, &last);
}

/* synced: nothing is pending any more; pushed: this result was acknowledged, so a
 * recheck time is now queued or spent; recheck_done: that push was the recheck. */
static void
outbox_append_unset_claim(bson_t *update, bool synced, bool pushed, bool recheck_done)
{
	bson_t unset;

	BSON_APPEND_DOCUMENT_BEGIN(update, "$unset", &unset);
	BSON_APPEND_UTF8(&unset, "claim_id", "");
	BSON_APPEND_UTF8(&unset, "claimed_by", "");
	BSON_APPEND_UTF8(&unset, "claimed_until", "");
	BSON_APPEND_UTF8(&unset, "claim_version", "");
	if (synced)
		BSON_APPEND_UTF8(&unset, "pending_since", "");
	if (pushed) {
		BSON_APPEND_UTF8(&unset, "recheck_at", "");
		BSON_APPEND_UTF8(&unset, "reclaimed_until", "");
	}
	if (recheck_done)
		BSON_APPEND_UTF8(&unset, "force_full", "");
	bson_append_document_end(update, &unset);
}

static void
outbox_append_pushed(bson_t *set, const outbox_result_t *r, int64_t now_ms)
{
	bson_t result;

	BSON_APPEND_DOCUMENT(set, "pushed", r->sent);
	BSON_APPEND_INT64(set, "pushed_version", r->version);
	BSON_APPEND_DATE_TIME(set, "pushed_at", now_ms);
	if (r->result_key == NULL || r->result_key[0] == '\0')
		return;
	BSON_APPEND_DOCUMENT_BEGIN(set, "result", &result);
	BSON_APPEND_UTF8(&result, "key", r->result_key);
	if (r->result_ref != NULL && r->result_ref[0] != '\0')
		BSON_APPEND_UTF8(&result, "ref", r->result_ref);
	BSON_APPEND_DATE_TIME(&result, "at", now_ms);
	bson_append_document_end(set, &result);
}

/* {_id, claim_id, state: in_flight} plus, when version_cmp is "$eq"/"$ne", the
 * version condition ("$eq" as a plain equality: the cheapest filter a server matches). */
static void
outbox_append_claim_filter(bson_t *filter, const outbox_result_t *r, const char *version_cmp)
{
	bson_t cond;

	BSON_APPEND_INT64(filter, "_id", r->id);
	BSON_APPEND_UTF8(filter, "claim_id", r->claim_id);
	BSON_APPEND_UTF8(filter, "state", OUTBOX_IN_FLIGHT);
	if (version_cmp != NULL && strcmp(version_cmp, "$eq") == 0) {
		BSON_APPEND_INT64(filter, "version", r->version);
	} else if (version_cmp != NULL) {
		BSON_APPEND_DOCUMENT_BEGIN(filter, "version", &cond);
		BSON_APPEND_INT64(&cond, version_cmp, r->version);
		bson_append_document_end(filter, &cond);
	}
}

/* The update for a result whose version is still current. */
static void
outbox_build_final(bson_t *update, const outbox_result_t *r, int64_t now_ms)
{
	bson_t set, inc;
	char reason[OUTBOX_MESSAGE_MAX];
	int64_t next = r->next_attempt_ms > 0 ? r->next_attempt_ms : now_ms;

	BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
	BSON_APPEND_DATE_TIME(&set, "updated_at", now_ms);
	outbox_append_last(&set, r, now_ms);
	switch (r->outcome) {
	case PUSHPLAN_PUSHED:
		if (r->recheck_at_ms > now_ms) {
			/* An older attempt may still land after this push: say it all once more
			 * at the recheck time. The time stays recorded, so a push that goes out
			 * earlier (a newer value) does not use the recheck up. */
			BSON_APPEND_UTF8(&set, "state", OUTBOX_PENDING);
			BSON_APPEND_DATE_TIME(&set, "next_attempt_at", r->recheck_at_ms);
			BSON_APPEND_BOOL(&set, "force_full", true);
		} else {
			BSON_APPEND_UTF8(&set, "state", OUTBOX_SYNCED);
		}
		BSON_APPEND_INT32(&set, "attempts", 0);
		outbox_append_pushed(&set, r, now_ms);
		break;
	case PUSHPLAN_RETRIED:
		BSON_APPEND_UTF8(&set, "state", OUTBOX_PENDING);
		BSON_APPEND_DATE_TIME(&set, "next_attempt_at", next);
		if (r->recheck_at_ms > 0)
			BSON_APPEND_DATE_TIME(&set, "recheck_at", r->recheck_at_ms);
		break;
	case PUSHPLAN_PARKED:
		text_sanitize(reason, sizeof(reason), r->message ? r->message : "parked", TEXT_STRLEN, 0,
		    TEXT_ELLIPSIS);
		BSON_APPEND_UTF8(&set, "state", OUTBOX_PARKED);
		BSON_APPEND_UTF8(&set, "parked_reason", reason);
		BSON_APPEND_DATE_TIME(&set, "parked_at", now_ms);
		break;
	case PUSHPLAN_RELEASED:
		BSON_APPEND_UTF8(&set, "state", OUTBOX_PENDING);
		BSON_APPEND_DATE_TIME(&set, "next_attempt_at", next);
		/* Cancelled after it left (the destination says so): it may still land. */
		if (r->recheck_at_ms > 0)
			BSON_APPEND_DATE_TIME(&set, "recheck_at", r->recheck_at_ms);
		break;
	}
	bson_append_document_end(update, &set);
	if (r->outcome == PUSHPLAN_RETRIED || r->outcome == PUSHPLAN_PARKED) {
		BSON_APPEND_DOCUMENT_BEGIN(update, "$inc", &inc);
		BSON_APPEND_INT32(&inc, "attempts", 1);
		bson_append_document_end(update, &inc);
	}
	/* A push at or after the recheck time is the recheck: both marks go. */
	outbox_append_unset_claim(update,
	    r->outcome == PUSHPLAN_PUSHED && r->recheck_at_ms <= now_ms,
	    r->outcome == PUSHPLAN_PUSHED && r->recheck_at_ms <= now_ms,
	    r->outcome == PUSHPLAN_PUSHED && r->recheck_at_ms <= now_ms);
}

/* The update for a result overtaken by a newer desired: due now, so the newer value
 * goes out next; what ExtraHop acknowledged is still recorded. */
static void
outbox_build_overtaken(bson_t *update, const outbox_result_t *r, int64_t now_ms)
{
	bson_t set;

	BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
	BSON_APPEND_UTF8(&set, "state", OUTBOX_PENDING);
	BSON_APPEND_DATE_TIME(&set, "next_attempt_at", now_ms);
	BSON_APPEND_DATE_TIME(&set, "updated_at", now_ms);
	outbox_append_last(&set, r, now_ms);
	if (r->outcome == PUSHPLAN_PUSHED)
		outbox_append_pushed(&set, r, now_ms);
	if (r->outcome == PUSHPLAN_RETRIED && r->recheck_at_ms > 0)
		BSON_APPEND_DATE_TIME(&set, "recheck_at", r->recheck_at_ms);
	bson_append_document_end(update, &set);
	/* The newer value goes out next with the recheck still pending. */
	outbox_append_unset_claim(update, false, false, false);
}

static bool
outbox_add_update(mongoc_bulk_operation_t *bulk, const bson_t *filter, const bson_t *update,
    bson_error_t *err)
{
	return mongoc_bulk_operation_update_one_with_opts(bulk, filter, update, NULL, err);
}

/*
 * One unordered bulk write: the final update of every result (overtaken == false), or
 * the overtaken update of every result that can have one. *matched grows by the
 * documents that matched.
 */
static bool
outbox_complete_pass(mongoc_collection_t *coll, const outbox_result_t *results, size_t n,
    int64_t now_ms, bool overtaken, size_t *matched, bson_error_t *err)
{
	mongoc_bulk_operation_t *bulk = NULL;
	bson_t bulk_opts = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	bson_iter_t it;
	size_t added_n = 0;
	bool ok = false;

	BSON_APPEND_BOOL(&bulk_opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &bulk_opts);
	for (size_t i = 0; i < n; i++) {
		const outbox_result_t *r = &results[i];
		bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER;
		bool added;

		if (overtaken && r->outcome == PUSHPLAN_RELEASED)
			continue; /* a release applies whatever the version */
		if (overtaken) {
			outbox_append_claim_filter(&f, r, "$ne");
			outbox_build_overtaken(&u, r, now_ms);
		} else {
			outbox_append_claim_filter(&f, r,
			    r->outcome == PUSHPLAN_RELEASED ? NULL : "$eq");
			outbox_build_final(&u, r, now_ms);
		}
		added = outbox_add_update(bulk, &f, &u, err);
		bson_destroy(&f);
		bson_destroy(&u);
		if (!added)
			goto cleanup;
		added_n++;
	}
	if (added_n == 0) {
		ok = true;
		goto cleanup;
	}
	if (!mongoc_bulk_operation_execute(bulk, &reply, err))
		goto cleanup;
	if (bson_iter_init_find(&it, &reply, "nMatched"))
		*matched += (size_t)bson_iter_as_int64(&it);
	ok = true;
cleanup:
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&bulk_opts);
	bson_destroy(&reply);
	return ok;
}

/*
 * An ambiguous attempt must lead to a recheck even when its result comes too late to
 * apply (its claim expired and was taken again meanwhile): the old value may still be
 * applied by ExtraHop after whatever the new claim sends. So, whatever the claim: a
 * synced detection goes back to pending at the recheck time with every field, and
 * any other keeps the latest recheck time for its next acknowledged push.
 */
static bool
outbox_keep_rechecks(mongoc_collection_t *coll, const outbox_result_t *results, size_t n,
    int64_t now_ms, bson_error_t *err)
{
	mongoc_bulk_operation_t *bulk = NULL;
	bson_t bulk_opts = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	size_t added = 0;
	bool ok = false;

	BSON_APPEND_BOOL(&bulk_opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &bulk_opts);
	for (size_t i = 0; i < n; i++) {
		const outbox_result_t *r = &results[i];
		bson_t f1 = BSON_INITIALIZER, u1 = BSON_INITIALIZER, f2 = BSON_INITIALIZER,
		       u2 = BSON_INITIALIZER, set, cond;
		bool a;

		if (r->outcome != PUSHPLAN_RETRIED || r->recheck_at_ms <= 0)
			continue;
		BSON_APPEND_INT64(&f1, "_id", r->id);
		BSON_APPEND_UTF8(&f1, "state", OUTBOX_SYNCED);
		BSON_APPEND_DOCUMENT_BEGIN(&u1, "$set", &set);
		BSON_APPEND_UTF8(&set, "state", OUTBOX_PENDING);
		BSON_APPEND_DATE_TIME(&set, "next_attempt_at",
		    r->recheck_at_ms > now_ms ? r->recheck_at_ms : now_ms);
		BSON_APPEND_BOOL(&set, "force_full", true);
		BSON_APPEND_DATE_TIME(&set, "pending_since", now_ms);
		BSON_APPEND_DATE_TIME(&set, "updated_at", now_ms);
		bson_append_document_end(&u1, &set);
		BSON_APPEND_INT64(&f2, "_id", r->id);
		BSON_APPEND_DOCUMENT_BEGIN(&f2, "state", &cond);
		BSON_APPEND_UTF8(&cond, "$ne", OUTBOX_SYNCED);
		bson_append_document_end(&f2, &cond);
		BSON_APPEND_DOCUMENT_BEGIN(&u2, "$max", &set);
		BSON_APPEND_DATE_TIME(&set, "recheck_at", r->recheck_at_ms);
		bson_append_document_end(&u2, &set);
		a = mongoc_bulk_operation_update_one_with_opts(bulk, &f1, &u1, NULL, err) &&
		    mongoc_bulk_operation_update_one_with_opts(bulk, &f2, &u2, NULL, err);
		bson_destroy(&f1);
		bson_destroy(&u1);
		bson_destroy(&f2);
		bson_destroy(&u2);
		if (!a)
			goto cleanup;
		added++;
	}
	ok = added == 0 || mongoc_bulk_operation_execute(bulk, &reply, err);
cleanup:
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&bulk_opts);
	bson_destroy(&reply);
	return ok;
}

bool
outbox_complete(mongoc_client_t *client, const char *db, const char *coll_name,
    const outbox_result_t *results, size_t n, int64_t now_ms, size_t *applied_out,
    bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	size_t matched = 0;
	bool ok = false;

	if (applied_out != NULL)
		*applied_out = 0;
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		const outbox_result_t *r = &results[i];

		if (r->claim_id == NULL || r->claim_id[0] == '\0' ||
		    (unsigned)r->outcome > PUSHPLAN_RELEASED ||
		    (r->outcome == PUSHPLAN_PUSHED && r->sent == NULL)) {
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
			    "outbox complete: result %zu (detection %lld) lacks a claim id, a valid "
			    "outcome or (when pushed) the fields sent", i, (long long)r->id);
			return false;
		}
	}
	coll = mongoc_client_get_collection(client, db, coll_name);
	/* Both updates of a result require our claim and state in_flight, and each leaves
	 * the document out of in_flight, so at most one of the pair applies. The final
	 * updates go first, as plain equality filters; only when some did not match
	 * (desired changed while in flight, or the claim was lost) do the overtaken ones
	 * follow, so the common case is one round trip of cheap filters. A version only
	 * grows, so a result that missed the first pass for its version still matches the
	 * second. */
	if (!outbox_complete_pass(coll, results, n, now_ms, false, &matched, err))
		goto cleanup;
	if (matched < n &&
	    !outbox_complete_pass(coll, results, n, now_ms, true, &matched, err))
		goto cleanup;
	if (!outbox_keep_rechecks(coll, results, n, now_ms, err))
		goto cleanup;
	if (applied_out != NULL)
		*applied_out = matched;
	ok = true;
cleanup:
	mongoc_collection_destroy(coll);
	return ok;
}

/* ---- operator views ---- */

bool
outbox_reassert(mongoc_client_t *client, const char *db, const char *coll_name, int64_t id,
    int64_t version, const bson_t *shown, int64_t now_ms, bool *changed, bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, coll_name);
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, reply, set;
	bson_iter_t it;
	bool ok;

	*changed = false;
	BSON_APPEND_INT64(&filter, "_id", id);
	BSON_APPEND_INT64(&filter, "version", version);
	BSON_APPEND_UTF8(&filter, "state", OUTBOX_SYNCED);
	outbox_append_fencing_guard(&filter);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_DOCUMENT(&set, "pushed", shown);
	BSON_APPEND_UTF8(&set, "state", OUTBOX_PENDING);
	BSON_APPEND_DATE_TIME(&set, "next_attempt_at", now_ms);
	BSON_APPEND_DATE_TIME(&set, "pending_since", now_ms);
	BSON_APPEND_INT32(&set, "attempts", 0);
	BSON_APPEND_DATE_TIME(&set, "updated_at", now_ms);
	outbox_append_fencing(&set);
	bson_append_document_end(&update, &set);
	ok = mongoc_collection_update_one(coll, &filter, &update, NULL, &reply, err);
	if (ok && bson_iter_init_find(&it, &reply, "modifiedCount"))
		*changed = bson_iter_as_int64(&it) > 0;
	bson_destroy(&reply); /* initialised on failure too */
	bson_destroy(&filter);
	bson_destroy(&update);
	mongoc_collection_destroy(coll);
	return ok;
}

bool
outbox_replay_parked(mongoc_client_t *client, const char *db, const char *coll_name,
    const int64_t *ids, size_t n_ids, int64_t now_ms, int64_t *count_out, bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	size_t done = 0;
	int64_t count = 0;
	bool ok = false;

	*count_out = 0;
	if (ids != NULL && n_ids == 0)
		return true;
	coll = mongoc_client_get_collection(client, db, coll_name);
	/* One updateMany per slice of ids keeps each command well under 16 MB. */
	do {
		bson_t filter = BSON_INITIALIZER;
		bson_t update = BSON_INITIALIZER;
		bson_t reply;
		bson_t set, unset;
		bson_iter_t it;
		size_t take = 0;
		bool one;

		BSON_APPEND_UTF8(&filter, "state", OUTBOX_PARKED);
		if (ids != NULL) {
			take = n_ids - done < OUTBOX_IDS_PER_COMMAND ? n_ids - done
			                                            : OUTBOX_IDS_PER_COMMAND;
			store_append_in_int64(&filter, "_id", ids + done, take);
		}
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
		BSON_APPEND_UTF8(&set, "state", OUTBOX_PENDING);
		BSON_APPEND_DATE_TIME(&set, "next_attempt_at", now_ms);
		BSON_APPEND_INT32(&set, "attempts", 0);
		BSON_APPEND_DATE_TIME(&set, "updated_at", now_ms);
		bson_append_document_end(&update, &set);
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
		BSON_APPEND_UTF8(&unset, "parked_reason", "");
		BSON_APPEND_UTF8(&unset, "parked_at", "");
		bson_append_document_end(&update, &unset);
		one = mongoc_collection_update_many(coll, &filter, &update, NULL, &reply, err);
		if (one && bson_iter_init_find(&it, &reply, "modifiedCount"))
			count += bson_iter_as_int64(&it);
		bson_destroy(&reply);
		bson_destroy(&filter);
		bson_destroy(&update);
		if (!one)
			goto cleanup;
		done += take;
	} while (ids != NULL && done < n_ids);
	ok = true;
cleanup:
	*count_out = count;
	mongoc_collection_destroy(coll);
	return ok;
}
