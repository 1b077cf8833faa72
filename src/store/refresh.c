/*
 * refresh: detections -> reconcile -> outbox, a chunk at a time; see refresh.h.
 * Per chunk: one query for the detections (unless the caller has them), one for
 * their tickets, one for their states, then one write per detection whose desired
 * fields changed, and one audit insert for the chunk.
 */
#include "ticketsync/refresh.h"

#include <stdlib.h>
#include <string.h>

#include "ticketsync/audit.h"
#include "ticketsync/clock.h"
#include "ticketsync/createq.h"
#include "ticketsync/detection.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/outbox.h"
#include "ticketsync/pushplan.h"
#include "ticketsync/reconcile.h"
#include "ticketsync/statusmap.h"
#include "ticketsync/store.h"
#include "ticketsync/text.h"
#include "ticketsync/ticket.h"
#include "ticketsync/ticketspec.h"
#include "ticketsync/xalloc.h"

/* Detections per chunk when the caller hands over ids. */
#define REFRESH_CHUNK 500

typedef struct refresh_det {
	int64_t id;
	bson_t *doc;
} refresh_det_t;

typedef struct refresh_state {
	int64_t id;
	bool readable;  /* st parsed; else reconciled as if absent */
	store_pushed_t st;
	bson_t *doc;    /* as read: outbox_set_desired_many decides and guards from it */
} refresh_state_t;

/* One detection held back by an unmapped status; strings point into the chunk's
 * tickets. detail is the audit record's: what makes a repeat recognisable. */
typedef struct refresh_unmapped {
	int64_t id;
	const char *ticket_id;
	const char *status, *resolution; /* raw, NULL = null */
	int64_t ticket_updated_at;
	bool seen;                       /* audited already for this ticket version */
	/* The audit record's detail (NULL until built; bson_new: a bson_t in a realloc'd
	 * array would break its 128-byte alignment). */
	bson_t *detail;
} refresh_unmapped_t;

/* Statuses as stored in a record's detail and compared with it: capped, sanitized. */
#define REFRESH_RAW_MAX 256

/* Everything one chunk needs, owned here. */
typedef struct refresh_chunk {
	refresh_det_t *dets;
	size_t ndets, capdets;
	ticket_t *tickets;
	size_t ntickets, captickets;
	refresh_state_t *states;
	size_t nstates, capstates;
	audit_record_t *audits;
	char **audit_strs; /* message and ticket id of each audit record */
	size_t naudits, capaudits;
	/* Desired fields to record, written together at the end of the chunk (parallel
	 * arrays, the shape outbox_set_desired_many takes). */
	int64_t *w_ids;
	bson_t **w_desired, **w_baseline; /* ExtraHop's values: fields documents (owned) */
	const char **w_tickets;     /* winning ticket ids (point into tickets) */
	size_t *w_candidates;       /* tickets listing the detection */
	outbox_set_result_t *w_results;
	size_t nwrites, capwrites;
	/* Detections to queue for a ticket ([create]); point into dets. */
	createq_candidate_t *creates;
	size_t ncreates, capcreates;
	/* Detections whose winning ticket's status has no mapping, to audit unless this
	 * ticket version was audited so already. */
	refresh_unmapped_t *unmapped;
	size_t nunmapped, capunmapped;
} refresh_chunk_t;

static int
refresh_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
refresh_cmp_det(const void *a, const void *b)
{
	return refresh_cmp_i64(&((const refresh_det_t *)a)->id, &((const refresh_det_t *)b)->id);
}

static int
refresh_cmp_state(const void *a, const void *b)
{
	return refresh_cmp_i64(&((const refresh_state_t *)a)->id,
	    &((const refresh_state_t *)b)->id);
}

static void
refresh_chunk_clear(refresh_chunk_t *c)
{
	for (size_t i = 0; i < c->ndets; i++)
		bson_destroy(c->dets[i].doc);
	for (size_t i = 0; i < c->ntickets; i++)
		ticket_cleanup(&c->tickets[i]);
	for (size_t i = 0; i < 2 * c->naudits; i++)
		bson_free(c->audit_strs[i]);
	for (size_t i = 0; i < c->nstates; i++)
		bson_destroy(c->states[i].doc);
	for (size_t i = 0; i < c->nwrites; i++) {
		bson_destroy(c->w_desired[i]);
		bson_destroy(c->w_baseline[i]);
	}
	for (size_t i = 0; i < c->nunmapped; i++)
		bson_destroy(c->unmapped[i].detail);
	c->ndets = c->ntickets = c->nstates = c->naudits = c->nwrites = c->ncreates = 0;
	c->nunmapped = 0;
}

static void
refresh_chunk_free(refresh_chunk_t *c)
{
	refresh_chunk_clear(c);
	free(c->dets);
	free(c->tickets);
	free(c->states);
	free(c->audits);
	free(c->audit_strs);
	free(c->w_ids);
	free(c->w_desired);
	free(c->w_baseline);
	free(c->w_tickets);
	free(c->w_candidates);
	free(c->w_results);
	free(c->creates);
	free(c->unmapped);
}

/* Room for one more pending write in every parallel array. */
static void
refresh_grow_writes(refresh_chunk_t *c)
{
	size_t cap = c->capwrites ? c->capwrites * 2 : 64;

	if (c->nwrites < c->capwrites)
		return;
	c->w_ids = xreallocarray(c->w_ids, cap, sizeof(*c->w_ids));
	c->w_desired = xreallocarray(c->w_desired, cap, sizeof(*c->w_desired));
	c->w_baseline = xreallocarray(c->w_baseline, cap, sizeof(*c->w_baseline));
	c->w_tickets = xreallocarray(c->w_tickets, cap, sizeof(*c->w_tickets));
	c->w_candidates = xreallocarray(c->w_candidates, cap, sizeof(*c->w_candidates));
	c->w_results = xreallocarray(c->w_results, cap, sizeof(*c->w_results));
	c->capwrites = cap;
}

/* Queue an audit record for the chunk; msg and ticket_id are copied. */
static void
refresh_audit(refresh_chunk_t *c, const refresh_ctx_t *ctx, const char *event,
    bool has_id, int64_t id, const char *ticket_id, const char *msg)
{
	audit_record_t *r;
	size_t cap = c->capaudits;

	xgrow((void **)&c->audits, &cap, c->naudits + 1, sizeof(audit_record_t));
	if (cap != c->capaudits) {
		c->audit_strs = xreallocarray(c->audit_strs, cap, 2 * sizeof(char *));
		c->capaudits = cap;
	}
	r = &c->audits[c->naudits];
	*r = (audit_record_t){ 0 };
	r->event = event;
	r->has_detection_id = has_id;
	r->detection_id = id;
	r->instance = ctx->instance;
	c->audit_strs[2 * c->naudits] = bson_strdup(msg);
	c->audit_strs[2 * c->naudits + 1] = ticket_id ? bson_strdup(ticket_id) : NULL;
	r->message = c->audit_strs[2 * c->naudits];
	r->ticket_id = c->audit_strs[2 * c->naudits + 1];
	c->naudits++;
}

static void
refresh_add_det(refresh_chunk_t *c, int64_t id, const bson_t *doc)
{
	xgrow((void **)&c->dets, &c->capdets, c->ndets + 1, sizeof(refresh_det_t));
	c->dets[c->ndets].id = id;
	c->dets[c->ndets].doc = bson_copy(doc);
	c->ndets++;
}

/* store_find_each, with a first reply that may hold `expect` documents (the server's
 * default is 101): a chunk's lookups then take one round trip, not two. */
static bool
refresh_find(mongoc_client_t *client, const char *db, const char *coll_name,
    const bson_t *filter, size_t expect, store_doc_cb cb, void *arg, bson_error_t *err)
{
	bson_t opts = BSON_INITIALIZER;
	bool ok;

	if (expect > 0)
		BSON_APPEND_INT64(&opts, "batchSize", (int64_t)expect);
	ok = store_find_each(client, db, coll_name, filter, &opts, cb, arg, NULL, NULL, err);
	bson_destroy(&opts);
	return ok;
}

typedef struct refresh_visit {
	refresh_chunk_t *c;
	const refresh_ctx_t *ctx;
	refresh_stats_t *stats;
} refresh_visit_t;

static bool
refresh_on_detection(const bson_t *doc, void *arg)
{
	refresh_visit_t *v = arg;
	bson_iter_t it;
	int64_t id;

	if (!bson_iter_init_find(&it, doc, "_id") || !store_iter_int64(&it, &id))
		return true; /* not loadable by a numeric id: cannot be asked for */
	refresh_add_det(v->c, id, doc);
	return true;
}

static bool
refresh_on_ticket(const bson_t *doc, void *arg)
{
	refresh_visit_t *v = arg;
	refresh_chunk_t *c = v->c;
	bson_error_t err;
	ticket_t t;

	if (ticket_parse(doc, &t, &err) != 0) {
		bson_iter_t it;
		const char *tid = NULL;
		if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
			tid = bson_iter_utf8(&it, NULL);
		v->stats->rejected++;
		metrics_inc(METRICS_REJECTED_INPUT, 1);
		log_warnx("refresh: ignoring malformed ticket: %s", err.message);
		refresh_audit(c, v->ctx, AUDIT_REJECTED_INPUT, false, 0, tid, err.message);
		return true;
	}
	xgrow((void **)&c->tickets, &c->captickets, c->ntickets + 1, sizeof(ticket_t));
	c->tickets[c->ntickets++] = t;
	return true;
}

static bool
refresh_on_state(const bson_t *doc, void *arg)
{
	refresh_visit_t *v = arg;
	refresh_chunk_t *c = v->c;
	bson_error_t err;
	bson_iter_t it;
	int64_t id;

	if (!bson_iter_init_find(&it, doc, "_id") || !store_iter_int64(&it, &id))
		return true;
	xgrow((void **)&c->states, &c->capstates, c->nstates + 1, sizeof(refresh_state_t));
	c->states[c->nstates].readable = store_pushed_from_doc(doc, &c->states[c->nstates].st,
	    &err);
	if (!c->states[c->nstates].readable)
		/* Our own document is unreadable: treat as absent, outbox rewrites it. */
		log_warnx("refresh: state of detection %lld unreadable: %s", (long long)id,
		    err.message);
	c->states[c->nstates].doc = bson_copy(doc);
	c->states[c->nstates].id = id;
	c->nstates++;
	return true;
}

static const refresh_state_t *
refresh_find_state(const refresh_chunk_t *c, int64_t id)
{
	refresh_state_t key = { .id = id };

	/* bsearch/qsort must not see a NULL array, even with a zero count (UB). */
	if (c->nstates == 0)
		return NULL;
	return bsearch(&key, c->states, c->nstates, sizeof(*c->states), refresh_cmp_state);
}

/* The summary's status -> count; statuses past the table's size count as others. */
static void
refresh_count_status(refresh_stats_t *stats, const char *raw)
{
	char name[sizeof(stats->unmapped_statuses[0].status)];
	size_t i;

	/* Compared as shown: two statuses alike in their first 60 bytes count as one. */
	text_sanitize(name, sizeof(name), raw != NULL ? raw : "null", TEXT_STRLEN, 0,
	    TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
	for (i = 0; i < stats->n_unmapped_statuses; i++) {
		if (strcmp(stats->unmapped_statuses[i].status, name) == 0) {
			stats->unmapped_statuses[i].count++;
			return;
		}
	}
	if (i == REFRESH_STATUSES_MAX) {
		stats->unmapped_other++;
		return;
	}
	memcpy(stats->unmapped_statuses[i].status, name, sizeof(name));
	stats->unmapped_statuses[i].count = 1;
	stats->n_unmapped_statuses++;
}

/* A raw status or resolution as a record's detail stores it (NULL stays NULL). */
static const char *
refresh_raw(char *buf, size_t len, const char *raw)
{
	if (raw == NULL)
		return NULL;
	text_sanitize(buf, len, raw, TEXT_STRLEN, 0, TEXT_ELLIPSIS);
	return buf;
}

static bool
refresh_same_str(const char *raw, const bson_iter_t *it)
{
	char buf[REFRESH_RAW_MAX];
	const char *a = refresh_raw(buf, sizeof(buf), raw);

	if (BSON_ITER_HOLDS_NULL(it))
		return a == NULL;
	return a != NULL && BSON_ITER_HOLDS_UTF8(it) && strcmp(a, bson_iter_utf8(it, NULL)) == 0;
}

/* An audit record {detection_id, ticket_id, detail} marks a candidate seen when it
 * describes the same ticket version with the same status and resolution. */
static bool
refresh_on_unmapped_audit(const bson_t *doc, void *arg)
{
	refresh_chunk_t *c = arg;
	bson_iter_t it, d;
	int64_t id = 0, at = 0;
	const char *tid = NULL;

	if (bson_iter_init_find(&it, doc, "detection_id"))
		store_iter_int64(&it, &id);
	if (bson_iter_init_find(&it, doc, "ticket_id") && BSON_ITER_HOLDS_UTF8(&it))
		tid = bson_iter_utf8(&it, NULL);
	if (tid == NULL || !bson_iter_init_find(&it, doc, "detail") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it))
		return true;
	for (size_t i = 0; i < c->nunmapped; i++) {
		refresh_unmapped_t *u = &c->unmapped[i];
		bool same = u->id == id && strcmp(u->ticket_id, tid) == 0;

		if (!same || u->seen)
			continue;
		bson_iter_recurse(&it, &d);
		same = bson_iter_find(&d, "status") && refresh_same_str(u->status, &d);
		bson_iter_recurse(&it, &d);
		same = same && bson_iter_find(&d, "resolution") && refresh_same_str(u->resolution, &d);
		bson_iter_recurse(&it, &d);
		same = same && bson_iter_find(&d, "ticket_updated_at") && store_iter_int64(&d, &at) &&
		    at == u->ticket_updated_at;
		u->seen = same;
	}
	return true;
}

/*
 * Audit (and count, and log) each unmapped status once per ticket version: a restart,
 * rescan or backfill that meets the same ticket again writes nothing new. A change of
 * the ticket (another status, or the same one again later) is a new version. If the
 * earlier records cannot be read, the record is written anyway: a repeat beats a loss.
 */
static void
refresh_unmapped(mongoc_client_t *client, const refresh_ctx_t *ctx, refresh_chunk_t *c,
    refresh_stats_t *stats)
{
	int64_t *ids;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
	bson_error_t err;
	char msg[512];

	if (c->nunmapped == 0)
		return;
	ids = xmalloc(c->nunmapped * sizeof(int64_t));
	for (size_t i = 0; i < c->nunmapped; i++)
		ids[i] = c->unmapped[i].id;
	BSON_APPEND_UTF8(&filter, "event", AUDIT_UNMAPPED_STATUS);
	store_append_in_int64(&filter, "detection_id", ids, c->nunmapped);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "detection_id", 1);
	BSON_APPEND_INT32(&proj, "ticket_id", 1);
	BSON_APPEND_INT32(&proj, "detail", 1);
	bson_append_document_end(&opts, &proj);
	if (!store_find_each(client, ctx->database, STORE_COLL_AUDIT, &filter, &opts,
	        refresh_on_unmapped_audit, c, NULL, NULL, &err))
		log_warnx("refresh: cannot read earlier unmapped_status records (writing them "
		    "again): %s", err.message);
	bson_destroy(&filter);
	bson_destroy(&opts);
	free(ids);
	for (size_t i = 0; i < c->nunmapped; i++) {
		refresh_unmapped_t *u = &c->unmapped[i];

		char st[REFRESH_RAW_MAX], res[REFRESH_RAW_MAX];
		const char *s_st, *s_res;

		if (u->seen)
			continue;
		stats->unmapped_new++;
		if (!ctx->dry_run)
			metrics_inc(METRICS_UNMAPPED, 1);
		snprintf(msg, sizeof(msg), "ticket %s: status \"%s\"%s%s%s has no ExtraHop mapping; "
		    "nothing pushed (add it under [statusmap])", u->ticket_id,
		    u->status ? u->status : "null", u->resolution ? " with resolution \"" : "",
		    u->resolution ? u->resolution : "", u->resolution ? "\"" : "");
		log_event(ctx->summary_only ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
		    &(log_fields_t){ .detection = u->id, .ticket = u->ticket_id },
		    "refresh: detection %lld: %s", (long long)u->id, msg);
		u->detail = bson_new();
		s_st = refresh_raw(st, sizeof(st), u->status);
		s_res = refresh_raw(res, sizeof(res), u->resolution);
		if (s_st != NULL)
			BSON_APPEND_UTF8(u->detail, "status", s_st);
		else
			BSON_APPEND_NULL(u->detail, "status");
		if (s_res != NULL)
			BSON_APPEND_UTF8(u->detail, "resolution", s_res);
		else
			BSON_APPEND_NULL(u->detail, "resolution");
		BSON_APPEND_INT64(u->detail, "ticket_updated_at", u->ticket_updated_at);
		refresh_audit(c, ctx, AUDIT_UNMAPPED_STATUS, true, u->id, u->ticket_id, msg);
		c->audits[c->naudits - 1].detail = u->detail;
	}
}

/* Reconcile one detection of the chunk; a changed desired is queued for the chunk's
 * write (refresh_write). */
static void
refresh_one(const refresh_ctx_t *ctx, refresh_chunk_t *c, const refresh_det_t *d,
    refresh_stats_t *stats)
{
	const refresh_state_t *found = refresh_find_state(c, d->id);
	const store_pushed_t *st = found != NULL && found->readable ? &found->st : NULL;
	detection_t det;
	reconcile_input_t in;
	reconcile_result_t res;
	pushplan_record_t plan;
	bson_t *desired, *baseline;
	bson_error_t perr;
	size_t w;

	stats->scanned++;
	metrics_inc(METRICS_RECONCILES, 1);
	if (detection_parse(d->doc, &det, &perr) != 0) {
		stats->rejected++;
		metrics_inc(METRICS_REJECTED_INPUT, 1);
		log_warnx("refresh: ignoring malformed detection: %s", perr.message);
		refresh_audit(c, ctx, AUDIT_REJECTED_INPUT, true, d->id, NULL, perr.message);
		return;
	}
	in = (reconcile_input_t){
		.detection = &det,
		.tickets = c->tickets,
		.n_tickets = c->ntickets,
		.map = ctx->map,
		.last_pushed = (st != NULL && st->has_pushed) ? &st->pushed : NULL,
	};
	reconcile_run(&in, &res);
	if (ctx->create != NULL &&
	    ticketspec_qualify(ctx->create, d->doc, &det, res.outcome != RECONCILE_NO_TICKET,
	        ctx->create_start_ms) == TICKETSPEC_CREATE) {
		xgrow((void **)&c->creates, &c->capcreates, c->ncreates + 1, sizeof(*c->creates));
		c->creates[c->ncreates++] = (createq_candidate_t){ .doc = d->doc, .det = det };
	}
	if (ctx->create_only)
		return;
	switch (res.outcome) {
	case RECONCILE_NO_TICKET:
		stats->no_ticket++;
		return;
	case RECONCILE_UNMAPPED:
		stats->unmapped++;
		refresh_count_status(stats, res.raw_status);
		xgrow((void **)&c->unmapped, &c->capunmapped, c->nunmapped + 1, sizeof(*c->unmapped));
		c->unmapped[c->nunmapped++] = (refresh_unmapped_t){ .id = d->id,
			.ticket_id = res.winner->id, .status = res.raw_status,
			.resolution = res.raw_resolution, .ticket_updated_at = res.winner->updated_at };
		return;
	case RECONCILE_IN_SYNC:
	case RECONCILE_PUSH:
		break;
	}
	/* What recording it would do, decided from the state document as read: the
	 * same decision outbox_set_desired_many makes when it writes. */
	desired = fields_new_document(&res.desired);
	baseline = fields_new_document(&det.fields);
	outbox_plan(found != NULL ? found->doc : NULL, desired, baseline, &plan);
	if (plan.write == PUSHPLAN_WRITE_NONE) {
		/* Desired already recorded (replays, duplicates, rescans), or ExtraHop already
		 * shows it and nothing was ever recorded. */
		if (found != NULL)
			stats->unchanged++;
		else
			stats->in_sync++;
		goto drop;
	}
	if (ctx->dry_run) {
		if (plan.state == PUSHPLAN_STATE_SYNCED)
			stats->in_sync++;
		else
			stats->queued++;
		goto drop;
	}
	refresh_grow_writes(c);
	w = c->nwrites++;
	c->w_ids[w] = d->id;
	c->w_desired[w] = desired; /* the chunk owns them now */
	c->w_baseline[w] = baseline;
	c->w_tickets[w] = res.winner->id;
	c->w_candidates[w] = res.candidates;
	return;
drop:
	bson_destroy(desired);
	bson_destroy(baseline);
}

/* Record the chunk's changed desired fields in one batch, then count and audit what
 * was recorded. */
/* How many times a detection that keeps losing races is decided again before the
 * batch fails (and is retried whole by its caller). */
#define REFRESH_CONFLICT_ROUNDS 8
static _Thread_local int refresh_conflict_depth;

static bool
refresh_write(mongoc_client_t *client, const refresh_ctx_t *ctx, refresh_chunk_t *c,
    int64_t now, refresh_stats_t *stats, bson_error_t *err)
{
	char msg[512];
	size_t nconflicts = 0;
	const bson_t **current;
	bool ok = true;

	if (c->nwrites == 0)
		return true;
	/* The state documents this chunk read decide and guard the writes: no second
	 * read (a document changed since fails its guard and is decided again). */
	current = xcalloc(c->nwrites, sizeof(*current));
	for (size_t i = 0; i < c->nwrites; i++) {
		const refresh_state_t *s = refresh_find_state(c, c->w_ids[i]);
		current[i] = s != NULL ? s->doc : NULL;
	}
	ok = outbox_set_desired_many(client, ctx->database, STORE_COLL_STATE, c->nwrites, c->w_ids,
	    (const bson_t *const *)c->w_desired, (const bson_t *const *)c->w_baseline,
	    c->w_tickets, current, now, c->w_results, err);
	free(current);
	if (!ok)
		return false;
	for (size_t i = 0; i < c->nwrites; i++) {
		const outbox_set_result_t *set = &c->w_results[i];

		if (set->change == OUTBOX_CONFLICT) {
			/* Decided from documents another writer has changed since: decide again
			 * from fresh ones (below), never write this possibly older value. */
			c->w_ids[nconflicts++] = c->w_ids[i];
			continue;
		}
		if (strcmp(set->state, OUTBOX_SYNCED) == 0 || set->change == OUTBOX_UNCHANGED) {
			stats->in_sync++;
		} else {
			stats->queued++;
			metrics_inc(METRICS_QUEUED, 1);
		}
		if (c->w_candidates[i] > 1) {
			snprintf(msg, sizeof(msg), "%zu tickets list this detection; %s, the most "
			    "recently updated, wins", c->w_candidates[i], c->w_tickets[i]);
			refresh_audit(c, ctx, AUDIT_MULTIPLE_TICKETS, true, c->w_ids[i],
			    c->w_tickets[i], msg);
		}
	}
	if (nconflicts > 0) {
		/* w_ids[0..nconflicts) now holds the detections to decide again. */
		if (refresh_conflict_depth >= REFRESH_CONFLICT_ROUNDS) {
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CONFLICT,
			    "refresh: detection %lld keeps changing under concurrent writers",
			    (long long)c->w_ids[0]);
			return false;
		}
		refresh_conflict_depth++;
		ok = refresh_ids(client, ctx, c->w_ids, nconflicts, NULL, 0, stats, err);
		refresh_conflict_depth--;
	}
	return ok;
}

/* Queue the chunk's detections that qualify for a ticket. */
static bool
refresh_create(mongoc_client_t *client, const refresh_ctx_t *ctx, refresh_chunk_t *c,
    int64_t now, refresh_stats_t *stats, bson_error_t *err)
{
	createq_stats_t cs = { 0 };
	bool ok;

	if (c->ncreates == 0)
		return true;
	ok = createq_offer(client, ctx->database, ctx->create, c->creates, c->ncreates, ctx->dry_run,
	    now, &cs, err);
	stats->create_queued += cs.queued;
	stats->create_existing += cs.existing;
	return ok;
}

/* c->dets holds the chunk's detections; load the rest and reconcile each. */
static bool
refresh_chunk_run(mongoc_client_t *client, const refresh_ctx_t *ctx, refresh_chunk_t *c,
    refresh_stats_t *stats, bson_error_t *err)
{
	refresh_visit_t v = { c, ctx, stats };
	int64_t *ids = NULL;
	bson_t filter;
	bool ok = false;
	int64_t now = clock_wall_ms();

	if (c->ndets == 0) {
		/* Nothing to reconcile, but the scan may have found ids to report. */
		if (c->naudits > 0 && !ctx->dry_run) {
			bson_error_t aerr;
			if (!audit_append_many(client, ctx->database, c->audits, c->naudits, &aerr))
				log_warnx("refresh: audit write failed: %s", aerr.message);
		}
		refresh_chunk_clear(c);
		return true;
	}
	qsort(c->dets, c->ndets, sizeof(*c->dets), refresh_cmp_det);
	ids = xmalloc(c->ndets * sizeof(int64_t));
	for (size_t i = 0; i < c->ndets; i++)
		ids[i] = c->dets[i].id;

	bson_init(&filter);
	store_append_in_int64(&filter, "detection_ids", ids, c->ndets);
	ok = refresh_find(client, ctx->database, STORE_COLL_TICKETS, &filter, c->ndets,
	    refresh_on_ticket, &v, err);
	bson_destroy(&filter);
	if (!ok)
		goto cleanup;
	bson_init(&filter);
	store_append_in_int64(&filter, "_id", ids, c->ndets);
	ok = refresh_find(client, ctx->database, STORE_COLL_STATE, &filter, c->ndets,
	    refresh_on_state, &v, err);
	bson_destroy(&filter);
	if (!ok)
		goto cleanup;
	if (c->nstates > 1)
		qsort(c->states, c->nstates, sizeof(*c->states), refresh_cmp_state);

	for (size_t i = 0; i < c->ndets; i++) {
		/* Duplicate ids (a detection stored as both 5 and 5.0) count once. */
		if (i > 0 && c->dets[i].id == c->dets[i - 1].id)
			continue;
		refresh_one(ctx, c, &c->dets[i], stats);
	}
	refresh_unmapped(client, ctx, c, stats);
	ok = refresh_write(client, ctx, c, now, stats, err) && refresh_create(client, ctx, c, now,
	    stats, err);
cleanup:
	/* Audit what was decided even when a later write failed: it happened. */
	if (c->naudits > 0 && !ctx->dry_run) {
		bson_error_t aerr;
		if (!audit_append_many(client, ctx->database, c->audits, c->naudits, &aerr)) {
			metrics_inc(METRICS_DB_ERRORS, 1);
			log_warnx("refresh: audit write failed: %s", aerr.message);
		}
	}
	free(ids);
	refresh_chunk_clear(c);
	return ok;
}

/* Detections whose last winning ticket is one of ticket_ids. */
static bool
refresh_ids_of_tickets(mongoc_client_t *client, const refresh_ctx_t *ctx,
    char *const *ticket_ids, size_t n, int64_t **ids, size_t *nids, size_t *cap,
    bson_error_t *err)
{
	mongoc_collection_t *coll;
	mongoc_cursor_t *cursor;
	bson_t filter = BSON_INITIALIZER, cond, arr;
	bson_t opts = BSON_INITIALIZER;
	const bson_t *doc;
	bool ok;

	if (n == 0)
		return true;
	bson_append_document_begin(&filter, "ticket_id", -1, &cond);
	bson_append_array_begin(&cond, "$in", -1, &arr);
	for (size_t i = 0; i < n; i++) {
		char key[16];
		const char *k;
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		bson_append_utf8(&arr, k, -1, ticket_ids[i], -1);
	}
	bson_append_array_end(&cond, &arr);
	bson_append_document_end(&filter, &cond);
	BCON_APPEND(&opts, "projection", "{", "_id", BCON_INT32(1), "}");
	coll = mongoc_client_get_collection(client, ctx->database, STORE_COLL_STATE);
	cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		bson_iter_t it;
		int64_t id;
		if (!bson_iter_init_find(&it, doc, "_id") || !store_iter_int64(&it, &id))
			continue;
		xgrow((void **)ids, cap, *nids + 1, sizeof(int64_t));
		(*ids)[(*nids)++] = id;
	}
	ok = !mongoc_cursor_error(cursor, err);
	mongoc_cursor_destroy(cursor);
	mongoc_collection_destroy(coll);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

bool
refresh_ids(mongoc_client_t *client, const refresh_ctx_t *ctx, const int64_t *ids_in,
    size_t nids_in, char *const *ticket_ids, size_t ntickets, refresh_stats_t *stats,
    bson_error_t *err)
{
	refresh_chunk_t c = { 0 };
	refresh_visit_t v = { &c, ctx, stats };
	int64_t *ids = NULL;
	size_t nids = 0, cap = 0, uniq = 0;
	bool ok = true;

	if (nids_in > 0) {
		xgrow((void **)&ids, &cap, nids_in, sizeof(int64_t));
		memcpy(ids, ids_in, nids_in * sizeof(int64_t));
		nids = nids_in;
	}
	if (!refresh_ids_of_tickets(client, ctx, ticket_ids, ntickets, &ids, &nids, &cap, err)) {
		free(ids);
		return false;
	}
	if (nids > 0) {
		qsort(ids, nids, sizeof(int64_t), refresh_cmp_i64);
		for (size_t i = 0; i < nids; i++)
			if (uniq == 0 || ids[uniq - 1] != ids[i])
				ids[uniq++] = ids[i];
	}
	for (size_t off = 0; off < uniq && ok; off += REFRESH_CHUNK) {
		size_t n = uniq - off < REFRESH_CHUNK ? uniq - off : REFRESH_CHUNK;
		bson_t filter = BSON_INITIALIZER;

		store_append_in_int64(&filter, "_id", ids + off, n);
		ok = refresh_find(client, ctx->database, STORE_COLL_DETECTIONS, &filter, n,
		    refresh_on_detection, &v, err);
		bson_destroy(&filter);
		if (!ok)
			break;
		/* ids with no detection yet: a ticket that arrived first. Its detection's
		 * insert event reconciles it later. */
		stats->missing += n > c.ndets ? n - c.ndets : 0;
		ok = refresh_chunk_run(client, ctx, &c, stats, err);
	}
	refresh_chunk_free(&c);
	free(ids);
	return ok;
}

typedef struct refresh_scan {
	refresh_chunk_t *c;
	int64_t since_ms;
	const refresh_ctx_t *ctx;
	refresh_stats_t *stats;
} refresh_scan_t;

static bool
refresh_on_scanned(const bson_t *doc, void *arg)
{
	refresh_scan_t *s = arg;
	bson_iter_t it;
	int64_t id, t = 0;

	if (!bson_iter_init_find(&it, doc, "_id"))
		return true;
	if (!store_iter_int64(&it, &id)) {
		/* A number that is no detection id (8.5, 1e300) can never be loaded by id:
		 * the full scan is the one place that sees it, so it says so. */
		char msg[400];
		detection_bad_id_message(&it, msg, sizeof(msg));
		s->stats->rejected++;
		metrics_inc(METRICS_REJECTED_INPUT, 1);
		refresh_audit(s->c, s->ctx, AUDIT_REJECTED_INPUT, false, 0, NULL, msg);
		return true;
	}
	if (s->since_ms > 0) {
		/* Selection only: a malformed update_time is reported by the parser when
		 * the detection is refreshed without --since. */
		if (!bson_iter_init_find(&it, doc, "update_time") || !store_iter_int64(&it, &t) ||
		    t < s->since_ms)
			return true;
	}
	refresh_add_det(s->c, id, doc);
	return true;
}

/* The scan visits numeric ids only; a full one also reports the documents it can never
 * reach (an _id that is not a detection id), at most REFRESH_FOREIGN_MAX of them. */
#define REFRESH_FOREIGN_MAX 1000

static bool
refresh_report_foreign_ids(mongoc_client_t *client, const refresh_ctx_t *ctx,
    refresh_stats_t *stats, bson_error_t *err)
{
	mongoc_collection_t *coll =
	    mongoc_client_get_collection(client, ctx->database, STORE_COLL_DETECTIONS);
	bson_t *filter = BCON_NEW("_id", "{", "$not", "{", "$type", BCON_UTF8("number"), "}", "}");
	bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "limit",
	    BCON_INT64(REFRESH_FOREIGN_MAX));
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	refresh_chunk_t c = { 0 };
	const bson_t *doc;
	bool ok = true;

	while (mongoc_cursor_next(cursor, &doc)) {
		bson_iter_t it;
		char msg[400];

		if (!bson_iter_init_find(&it, doc, "_id"))
			continue;
		detection_bad_id_message(&it, msg, sizeof(msg));
		stats->rejected++;
		metrics_inc(METRICS_REJECTED_INPUT, 1);
		refresh_audit(&c, ctx, AUDIT_REJECTED_INPUT, false, 0, NULL, msg);
	}
	if (mongoc_cursor_error(cursor, err))
		ok = false;
	if (c.naudits > 0 && !ctx->dry_run) {
		bson_error_t aerr;
		if (!audit_append_many(client, ctx->database, c.audits, c.naudits, &aerr))
			log_warnx("refresh: audit write failed: %s", aerr.message);
	}
	refresh_chunk_free(&c);
	mongoc_cursor_destroy(cursor);
	bson_destroy(filter);
	bson_destroy(opts);
	mongoc_collection_destroy(coll);
	return ok;
}

bool
refresh_all(mongoc_client_t *client, const refresh_ctx_t *ctx, int64_t since_ms,
    size_t chunk, refresh_progress_fn progress, void *progress_arg, refresh_stats_t *stats,
    bson_error_t *err)
{
	refresh_chunk_t c = { 0 };
	refresh_scan_t s = { .c = &c, .since_ms = since_ms, .ctx = ctx, .stats = stats };
	int64_t from = INT64_MIN;
	bool done = false, ok = true;

	if (chunk == 0 || chunk > 10000)
		chunk = 1000;
	while (!done && ok) {
		int64_t next = from;
		size_t n = 0;

		ok = store_scan_detections(client, ctx->database, from, (uint32_t)chunk,
		    refresh_on_scanned, &s, &next, &done, &n, err);
		if (!ok)
			break;
		ok = refresh_chunk_run(client, ctx, &c, stats, err);
		if (ok && progress != NULL && !progress(progress_arg, stats, next - 1))
			break;
		if (n == 0)
			break;
		from = next;
	}
	refresh_chunk_free(&c);
	if (ok && since_ms == 0)
		ok = refresh_report_foreign_ids(client, ctx, stats, err);
	return ok;
}
