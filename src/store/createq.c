/* createq: the ticket-creation queue's store half; see createq.h. */
#include "ticketsync/createq.h"

#include <stdlib.h>
#include <string.h>

#include "ticketsync/clock.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/store.h"
#include "ticketsync/ticketspec.h"
#include "ticketsync/xalloc.h"

bool
createq_start_point(mongoc_client_t *client, const char *db, int64_t configured_ms,
    int64_t now_ms, int64_t *start_ms, bson_error_t *err)
{
	mongoc_collection_t *coll;
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, reply, set, token;
	mongoc_find_and_modify_opts_t *fam;
	bson_iter_t it;
	bool ok;

	if (configured_ms > 0) {
		*start_ms = configured_ms;
		return true;
	}
	coll = mongoc_client_get_collection(client, db, STORE_COLL_CHECKPOINTS);
	BSON_APPEND_UTF8(&filter, "_id", CREATEQ_START_ID);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$setOnInsert", &set);
	BSON_APPEND_DOCUMENT_BEGIN(&set, "token", &token);
	BSON_APPEND_DATE_TIME(&token, "start_at", now_ms);
	bson_append_document_end(&set, &token);
	BSON_APPEND_DATE_TIME(&set, "saved_at", now_ms);
	bson_append_document_end(&update, &set);
	fam = mongoc_find_and_modify_opts_new();
	mongoc_find_and_modify_opts_set_update(fam, &update);
	mongoc_find_and_modify_opts_set_flags(fam,
	    MONGOC_FIND_AND_MODIFY_UPSERT | MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	ok = mongoc_collection_find_and_modify_with_opts(coll, &filter, fam, &reply, err);
	*start_ms = now_ms;
	if (ok && bson_iter_init(&it, &reply) &&
	    bson_iter_find_descendant(&it, "value.token.start_at", &it) &&
	    BSON_ITER_HOLDS_DATE_TIME(&it))
		*start_ms = bson_iter_date_time(&it);
	bson_destroy(&reply);
	mongoc_find_and_modify_opts_destroy(fam);
	mongoc_collection_destroy(coll);
	bson_destroy(&filter);
	bson_destroy(&update);
	return ok;
}

typedef struct createq_seen {
	int64_t *ids;
	size_t n, cap;
} createq_seen_t;

static bool
createq_on_existing(const bson_t *doc, void *arg)
{
	createq_seen_t *s = arg;
	bson_iter_t it;
	int64_t id;

	if (bson_iter_init_find(&it, doc, "_id") && store_iter_int64(&it, &id)) {
		xgrow((void **)&s->ids, &s->cap, s->n + 1, sizeof(*s->ids));
		s->ids[s->n++] = id;
	}
	return true;
}

static bool
createq_has(const createq_seen_t *s, int64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return true;
	return false;
}

bool
createq_offer(mongoc_client_t *client, const char *db, const ticketspec_t *spec,
    const createq_candidate_t *cands, size_t n, bool dry_run, int64_t now_ms,
    createq_stats_t *stats, bson_error_t *err)
{
	createq_seen_t seen = { 0 };
	int64_t *ids = NULL;
	bson_t **desired = NULL;
	const bson_t **baselines = NULL, **current = NULL;
	const char **tickets = NULL;
	outbox_set_result_t *results = NULL;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj, empty = BSON_INITIALIZER;
	size_t m = 0;
	bool ok = false;

	if (n == 0)
		return true;
	ids = xcalloc(n, sizeof(*ids));
	for (size_t i = 0; i < n; i++)
		ids[i] = cands[i].det.id;
	store_append_in_int64(&filter, "_id", ids, n);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "_id", 1);
	bson_append_document_end(&opts, &proj);
	if (!store_find_each(client, db, STORE_COLL_CREATE_STATE, &filter, &opts,
	        createq_on_existing, &seen, NULL, NULL, err))
		goto cleanup;
	desired = xcalloc(n, sizeof(*desired));
	baselines = xcalloc(n, sizeof(*baselines));
	current = xcalloc(n, sizeof(*current));
	tickets = xcalloc(n, sizeof(*tickets));
	results = xcalloc(n, sizeof(*results));
	for (size_t i = 0; i < n; i++) {
		bson_error_t rerr;
		bson_t doc;

		if (createq_has(&seen, cands[i].det.id) || (m > 0 && ids[m - 1] == cands[i].det.id)) {
			stats->existing++;
			continue;
		}
		if (!ticketspec_render(spec, cands[i].doc, &cands[i].det, &doc, &rerr)) {
			stats->failed++;
			log_event(LOG_LEVEL_WARN, &(log_fields_t){ .detection = cands[i].det.id },
			    "createq: detection %lld: %s", (long long)cands[i].det.id, rerr.message);
			bson_destroy(&doc);
			continue;
		}
		ids[m] = cands[i].det.id;
		desired[m] = bson_copy(&doc);
		bson_destroy(&doc);
		/* What the ticket system shows for it: nothing. */
		baselines[m] = &empty;
		m++;
	}
	if (dry_run || m == 0) {
		stats->queued += dry_run ? m : 0;
		ok = true;
		goto cleanup;
	}
	if (!outbox_set_desired_many(client, db, STORE_COLL_CREATE_STATE, m, ids,
	        (const bson_t *const *)desired, baselines, tickets, current, now_ms, results, err))
		goto cleanup;
	for (size_t i = 0; i < m; i++) {
		if (results[i].change == OUTBOX_INSERTED) {
			stats->queued++;
			metrics_inc(METRICS_CREATE_QUEUED, 1);
		} else {
			/* Another writer queued it first (a conflict on insert): it is queued. */
			stats->existing++;
		}
	}
	ok = true;
cleanup:
	for (size_t i = 0; desired != NULL && i < m; i++)
		bson_destroy(desired[i]);
	free(ids);
	free(desired);
	free(baselines);
	free(current);
	free(tickets);
	free(results);
	free(seen.ids);
	bson_destroy(&filter);
	bson_destroy(&opts);
	bson_destroy(&empty);
	return ok;
}

typedef struct createq_times {
	int64_t *t;
	size_t n, cap;
} createq_times_t;

static bool
createq_on_recent(const bson_t *doc, void *arg)
{
	createq_times_t *c = arg;
	bson_iter_t it;

	if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "result.at", &it) &&
	    BSON_ITER_HOLDS_DATE_TIME(&it)) {
		xgrow((void **)&c->t, &c->cap, c->n + 1, sizeof(*c->t));
		c->t[c->n++] = bson_iter_date_time(&it);
	}
	return true;
}

bool
createq_recent(mongoc_client_t *client, const char *db, int64_t since_ms, size_t limit,
    int64_t **times_out, size_t *n_out, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, cond, sort, proj;
	createq_times_t c = { 0 };
	bool ok;

	BSON_APPEND_DOCUMENT_BEGIN(&filter, "result.at", &cond);
	BSON_APPEND_DATE_TIME(&cond, "$gte", since_ms);
	bson_append_document_end(&filter, &cond);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "result.at", -1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "result.at", 1);
	bson_append_document_end(&opts, &proj);
	BSON_APPEND_INT64(&opts, "limit", (int64_t)limit);
	ok = store_find_each(client, db, STORE_COLL_CREATE_STATE, &filter, &opts, createq_on_recent,
	    &c, NULL, NULL, err);
	/* Newest first from the server (the limit keeps the newest); oldest first out. */
	for (size_t i = 0; i < c.n / 2; i++) {
		int64_t x = c.t[i];
		c.t[i] = c.t[c.n - 1 - i];
		c.t[c.n - 1 - i] = x;
	}
	bson_destroy(&filter);
	bson_destroy(&opts);
	*times_out = c.t;
	*n_out = c.n;
	return ok;
}

/* The status a new ticket starts in, as the status map knows it. */
static const char *
createq_initial_status(const bson_t *sent)
{
	bson_iter_t it;
	const char *target = "";

	if (bson_iter_init_find(&it, sent, "target") && BSON_ITER_HOLDS_UTF8(&it))
		target = bson_iter_utf8(&it, NULL);
	if (strcmp(target, "jira") == 0)
		return "To Do";
	if (strcmp(target, "servicenow") == 0)
		return "1"; /* New */
	return "new";
}

bool
createq_record(mongoc_client_t *client, const char *db, const outbox_result_t *results,
    size_t n, void *arg, bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, STORE_COLL_TICKETS);
	mongoc_bulk_operation_t *bulk = NULL;
	bson_t bulk_opts = BSON_INITIALIZER, reply = BSON_INITIALIZER;
	size_t added = 0;
	bool ok = false;
	(void)arg;
	BSON_APPEND_BOOL(&bulk_opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &bulk_opts);
	for (size_t i = 0; i < n; i++) {
		const outbox_result_t *r = &results[i];
		bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, soi, ids, uopts;
		bson_iter_t it;
		bool queued;

		if (r->outcome != PUSHPLAN_PUSHED || r->result_key == NULL || r->result_key[0] == '\0' ||
		    r->sent == NULL)
			continue;
		BSON_APPEND_UTF8(&filter, "_id", r->result_key);
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$setOnInsert", &soi);
		BSON_APPEND_ARRAY_BEGIN(&soi, "detection_ids", &ids);
		BSON_APPEND_INT64(&ids, "0", r->id);
		bson_append_array_end(&soi, &ids);
		BSON_APPEND_UTF8(&soi, "status", createq_initial_status(r->sent));
		if (bson_iter_init_find(&it, r->sent, "assignee") && BSON_ITER_HOLDS_UTF8(&it))
			bson_append_iter(&soi, "assignee", -1, &it);
		else
			BSON_APPEND_NULL(&soi, "assignee");
		BSON_APPEND_NULL(&soi, "resolution");
		/* When the ticket system last changed it is its own to say: the epoch lets its
		 * first webhook or import, whatever its time, replace this. */
		BSON_APPEND_DATE_TIME(&soi, "updated_at", 0);
		BSON_APPEND_UTF8(&soi, "source", "ticketsync");
		bson_append_document_end(&update, &soi);
		bson_init(&uopts);
		BSON_APPEND_BOOL(&uopts, "upsert", true);
		queued = mongoc_bulk_operation_update_one_with_opts(bulk, &filter, &update, &uopts, err);
		bson_destroy(&uopts);
		bson_destroy(&filter);
		bson_destroy(&update);
		if (!queued)
			goto cleanup;
		added++;
	}
	ok = added == 0 || mongoc_bulk_operation_execute(bulk, &reply, err);
cleanup:
	mongoc_bulk_operation_destroy(bulk);
	mongoc_collection_destroy(coll);
	bson_destroy(&bulk_opts);
	bson_destroy(&reply);
	return ok;
}
