/*
 * watcher: change stream reader thread + apply thread; see watcher.h.
 *
 * Why two threads: the reader may block up to max_await_ms in getMore; if it also
 * applied changes, events that arrived just before an idle wait would sit there for
 * the whole wait. The apply thread takes whatever has accumulated as soon as it is
 * free, so bursts are applied in large batches and single changes without delay.
 */
#include "ticketsync/watcher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ticketsync/audit.h"
#include "ticketsync/backoff.h"
#include "ticketsync/checkpoint.h"
#include "ticketsync/clock.h"
#include "ticketsync/detection.h"
#include "ticketsync/handoff.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/outbox.h"
#include "ticketsync/store.h"
#include "ticketsync/ticket.h"

#define WATCHER_CHECKPOINT_NAME "watcher"
/* The reader waits while this many items are queued, so memory stays bounded when
 * MongoDB produces events faster than they can be applied. */
#define WATCHER_QUEUE_MAX 5000
/* Change events per getMore reply. */
#define WATCHER_BATCH_SIZE 1000

enum watcher_item_kind {
	WATCHER_ITEM_EVENT,  /* ids to refresh */
	WATCHER_ITEM_TOKEN,  /* nothing to do; the stream moved on (postBatchResumeToken) */
	WATCHER_ITEM_RESCAN, /* full rescan before anything queued after it */
};

typedef struct watcher_item {
	enum watcher_item_kind kind;
	int64_t *ids;
	size_t nids;
	char *ticket_id;       /* ticket whose event this was (NULL for detections) */
	bool winner_lookup;    /* refresh the detections ticket_id was the winner of */
	bson_t *token;         /* resume token once this item is applied; may be NULL */
	char reason[160];      /* RESCAN: why */
	bool closes_stream;    /* invalidate: the cursor is closed after it */
} watcher_item_t;

struct watcher {
	store_t *store;
	refresh_ctx_t ctx;
	watcher_opts_t opts;
	handoff_t *queue;
	pthread_t reader, applier;
	bool reader_started, applier_started;
	atomic_bool stop;
	atomic_bool reader_done;
	atomic_bool applier_done;
	atomic_int phase;
};

static void
watcher_item_free(void *p)
{
	watcher_item_t *item = p;

	if (item == NULL)
		return;
	free(item->ids);
	free(item->ticket_id);
	if (item->token != NULL)
		bson_destroy(item->token);
	free(item);
}

static watcher_item_t *
watcher_item_new(enum watcher_item_kind kind, const bson_t *token)
{
	watcher_item_t *item = calloc(1, sizeof(*item));

	if (item == NULL)
		return NULL;
	item->kind = kind;
	if (token != NULL)
		item->token = bson_copy(token);
	return item;
}

/* Sleep in small steps so stop is noticed quickly. */
static void
watcher_sleep(watcher_t *w, int64_t ms)
{
	int64_t until = clock_mono_ms() + ms;

	while (!atomic_load(&w->stop) && clock_mono_ms() < until)
		usleep(20000);
}

static int64_t
watcher_backoff(const watcher_t *w, uint32_t attempt)
{
	backoff_policy_t policy = {
		.base_ms = w->opts.retry_base_ms,
		.max_ms = w->opts.retry_max_ms,
	};

	return backoff_delay_ms(&policy, attempt, -1, (uint32_t)random());
}

static void
watcher_enqueue(watcher_t *w, watcher_item_t *item)
{
	while (handoff_len(w->queue) >= WATCHER_QUEUE_MAX && !atomic_load(&w->stop))
		usleep(5000);
	if (!handoff_push(w->queue, item))
		watcher_item_free(item);
}

static void
watcher_audit(mongoc_client_t *client, const watcher_t *w, const char *event,
    const char *message)
{
	audit_record_t rec;
	bson_error_t err;

	rec = (audit_record_t){ 0 };
	rec.event = event;
	rec.message = message;
	rec.instance = w->ctx.instance;
	if (!audit_append(client, w->ctx.database, &rec, &err))
		log_warnx("watcher: cannot write audit record %s: %s", event, err.message);
}

static void
watcher_reject(mongoc_client_t *client, const watcher_t *w, const watcher_item_t *item,
    const char *message)
{
	audit_record_t rec = { 0 };
	bson_error_t err;

	metrics_inc(METRICS_REJECTED_INPUT, 1);
	log_warnx("watcher: %s", message);
	rec.event = AUDIT_REJECTED_INPUT;
	rec.ticket_id = item != NULL ? item->ticket_id : NULL;
	rec.message = message;
	rec.instance = w->ctx.instance;
	if (!audit_append(client, w->ctx.database, &rec, &err))
		log_warnx("watcher: cannot write audit record: %s", err.message);
}

/*
 * Turn one change event into a queue item; NULL when it names nothing to do. Input
 * that refresh could never reach (a detection whose _id is not a detection id, a
 * ticket listing no valid detection id) is described in reject for the audit.
 */
static watcher_item_t *
watcher_item_from_event(const bson_t *ev, const bson_t *token, char *reject,
    size_t rejectlen)
{
	bson_iter_t it, child;
	const char *op = "", *coll = "";
	watcher_item_t *item;

	if (bson_iter_init_find(&it, ev, "operationType") && BSON_ITER_HOLDS_UTF8(&it))
		op = bson_iter_utf8(&it, NULL);
	if (bson_iter_init(&it, ev) && bson_iter_find_descendant(&it, "ns.coll", &child) &&
	    BSON_ITER_HOLDS_UTF8(&child))
		coll = bson_iter_utf8(&child, NULL);

	if (strcmp(op, "invalidate") == 0 || strcmp(op, "dropDatabase") == 0 ||
	    ((strcmp(op, "drop") == 0 || strcmp(op, "rename") == 0))) {
		item = watcher_item_new(WATCHER_ITEM_RESCAN, token);
		if (item != NULL) {
			snprintf(item->reason, sizeof(item->reason), "%s of %s", op,
			    *coll ? coll : "the database");
			item->closes_stream = strcmp(op, "invalidate") == 0;
		}
		return item;
	}
	item = watcher_item_new(WATCHER_ITEM_EVENT, token);
	if (item == NULL)
		return NULL;
	reject[0] = '\0';
	if (strcmp(coll, STORE_COLL_DETECTIONS) == 0) {
		int64_t id;
		char why[128];
		if (!bson_iter_init(&it, ev) ||
		    !bson_iter_find_descendant(&it, "documentKey._id", &child))
			return item;
		if (detection_id_from_iter(&child, &id, why, sizeof(why)) == 0) {
			item->ids = malloc(sizeof(int64_t));
			if (item->ids != NULL) {
				item->ids[0] = id;
				item->nids = 1;
			}
		} else if (strcmp(op, "delete") != 0) {
			/* refresh loads detections by numeric id and would never see this one:
			 * report it here, where its key is known. */
			detection_bad_id_message(&child, reject, rejectlen);
		}
	} else if (strcmp(coll, STORE_COLL_TICKETS) == 0) {
		/* The ticket's id lets refresh find the detections it was the winning ticket
		 * of, which an update, replace or delete may have taken from it. A newly
		 * inserted ticket took nothing from anyone: the detections it can affect are
		 * exactly the ones it lists, so no lookup (a scan of the state collection per
		 * batch where ticket_id is not indexed). */
		if (bson_iter_init(&it, ev) &&
		    bson_iter_find_descendant(&it, "documentKey._id", &child) &&
		    BSON_ITER_HOLDS_UTF8(&child))
			item->ticket_id = bson_strdup(bson_iter_utf8(&child, NULL));
		item->winner_lookup = strcmp(op, "insert") != 0;
		/* The ticket's current detection ids (updateLookup); the ones it lost are
		 * found by refresh through the state's winning ticket id. */
		if (bson_iter_init(&it, ev) && bson_iter_find_descendant(&it, "fullDocument", &child) &&
		    BSON_ITER_HOLDS_DOCUMENT(&child)) {
			const uint8_t *data;
			uint32_t len;
			bson_t doc;
			ticket_t t;
			bson_error_t err;

			bson_iter_document(&child, &len, &data);
			if (!bson_init_static(&doc, data, len))
				return item;
			if (ticket_parse(&doc, &t, &err) != 0) {
				snprintf(reject, rejectlen, "%s", err.message);
				return item;
			}
			item->ids = t.detection_ids;
			item->nids = t.n_detection_ids;
			t.detection_ids = NULL;
			t.n_detection_ids = 0;
			ticket_cleanup(&t);
		}
	}
	return item;
}

static bool
watcher_is_history_lost(const bson_error_t *err, const bson_t *reply)
{
	bson_iter_t it, arr;

	if (err->code == 286 || err->code == 280)
		return true;
	if (reply != NULL && bson_iter_init_find(&it, reply, "errorLabels") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr))
			if (BSON_ITER_HOLDS_UTF8(&arr) &&
			    strcmp(bson_iter_utf8(&arr, NULL), "NonResumableChangeStreamError") == 0)
				return true;
	}
	return false;
}

static mongoc_change_stream_t *
watcher_open(watcher_t *w, mongoc_client_t *client, const bson_t *token)
{
	mongoc_database_t *db = mongoc_client_get_database(client, w->ctx.database);
	mongoc_change_stream_t *stream;
	bson_t pipeline = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;

	/* [{$match: {"ns.coll": {$in: [detections, tickets]}}}], plus the events that
	 * concern the whole database (dropDatabase, invalidate) */
	BCON_APPEND(&pipeline, "0", "{", "$match", "{", "$or", "[",
	    "{", "ns.coll", "{", "$in", "[", BCON_UTF8(STORE_COLL_DETECTIONS),
	    BCON_UTF8(STORE_COLL_TICKETS), "]", "}", "}",
	    "{", "operationType", "{", "$in", "[", BCON_UTF8("dropDatabase"),
	    BCON_UTF8("invalidate"), "]", "}", "}", "]", "}", "}");
	BSON_APPEND_UTF8(&opts, "fullDocument", "updateLookup");
	BSON_APPEND_INT64(&opts, "maxAwaitTimeMS", w->opts.max_await_ms);
	/* Without it the server fills each reply up to 16 MB after a burst, and the driver
	 * holds that reply twice (read buffer and cursor copy): tens of MB for nothing,
	 * since the applier takes a thousand ids at a time anyway. */
	BSON_APPEND_INT32(&opts, "batchSize", WATCHER_BATCH_SIZE);
	if (token != NULL)
		BSON_APPEND_DOCUMENT(&opts, "startAfter", token);
	stream = mongoc_database_watch(db, &pipeline, &opts);
	bson_destroy(&pipeline);
	bson_destroy(&opts);
	mongoc_database_destroy(db);
	return stream;
}

static void *
watcher_reader_main(void *arg)
{
	watcher_t *w = arg;
	mongoc_client_t *client = store_pop(w->store);
	bson_t *token = NULL;          /* resume point: last item handed on */
	const char *need_rescan = NULL;
	char rescan_reason[160];
	uint32_t attempt = 0;
	bson_error_t err;
	char reject[512];

	/* Resume from the checkpoint, or note that a full rescan must come first. */
	while (!atomic_load(&w->stop)) {
		bson_t saved;
		bool found = false;

		if (checkpoint_load(client, w->ctx.database, WATCHER_CHECKPOINT_NAME, &saved,
		        &found, NULL, &err)) {
			if (found) {
				token = bson_copy(&saved);
				log_info("watcher: resuming from the saved checkpoint");
			} else {
				need_rescan = "first start: no checkpoint";
			}
			bson_destroy(&saved);
			break;
		}
		bson_destroy(&saved);
		metrics_inc(METRICS_DB_ERRORS, 1);
		log_warnx("watcher: cannot load checkpoint: %s", err.message);
		atomic_store(&w->phase, WATCHER_RECOVERING);
		watcher_sleep(w, watcher_backoff(w, attempt++));
	}

	while (!atomic_load(&w->stop)) {
		mongoc_change_stream_t *stream = watcher_open(w, client, token);
		const bson_t *reply = NULL;
		const bson_t *ev;

		if (mongoc_change_stream_error_document(stream, &err, &reply)) {
			mongoc_change_stream_destroy(stream);
			metrics_inc(METRICS_STREAM_ERRORS, 1);
			if (token != NULL && watcher_is_history_lost(&err, reply)) {
				snprintf(rescan_reason, sizeof(rescan_reason),
				    "change stream history lost (%.100s)", err.message);
				log_errorx("watcher: %s: the saved resume point is no longer in the "
				    "oplog; opening a new stream and rescanning every detection",
				    rescan_reason);
				watcher_audit(client, w, "history_lost", rescan_reason);
				bson_destroy(token);
				token = NULL;
				need_rescan = rescan_reason;
				continue;
			}
			log_warnx("watcher: cannot open change stream: %s", err.message);
			atomic_store(&w->phase, WATCHER_RECOVERING);
			watcher_sleep(w, watcher_backoff(w, attempt++));
			continue;
		}
		if (need_rescan != NULL) {
			/* The stream is open: changes from here on are captured, so the scan
			 * cannot miss one. */
			watcher_item_t *item = watcher_item_new(WATCHER_ITEM_RESCAN,
			    mongoc_change_stream_get_resume_token(stream));
			if (item != NULL) {
				snprintf(item->reason, sizeof(item->reason), "%s", need_rescan);
				watcher_enqueue(w, item);
			}
			need_rescan = NULL;
		}
		atomic_store(&w->phase, WATCHER_STREAMING);

		while (!atomic_load(&w->stop)) {
			const bson_t *now_token;

			if (mongoc_change_stream_next(stream, &ev)) {
				watcher_item_t *item;
				now_token = mongoc_change_stream_get_resume_token(stream);
				metrics_inc(METRICS_EVENTS_SEEN, 1);
				item = watcher_item_from_event(ev, now_token, reject, sizeof(reject));
				if (reject[0] != '\0')
					watcher_reject(client, w, item, reject);
				attempt = 0;
				if (token != NULL)
					bson_destroy(token);
				token = now_token ? bson_copy(now_token) : NULL;
				if (item == NULL)
					continue;
				bool reopen = item->closes_stream;
				if (item->kind == WATCHER_ITEM_RESCAN) {
					log_warnx("watcher: %s: rescanning every detection", item->reason);
					watcher_audit(client, w, "rescan_needed", item->reason);
				}
				watcher_enqueue(w, item);
				/* After invalidate the cursor is closed: reopen after it. */
				if (reopen)
					break;
				continue;
			}
			if (mongoc_change_stream_error_document(stream, &err, &reply)) {
				metrics_inc(METRICS_STREAM_ERRORS, 1);
				if (watcher_is_history_lost(&err, reply)) {
					snprintf(rescan_reason, sizeof(rescan_reason),
					    "change stream history lost (%.100s)", err.message);
					log_errorx("watcher: %s; rescanning", rescan_reason);
					watcher_audit(client, w, "history_lost", rescan_reason);
					if (token != NULL)
						bson_destroy(token);
					token = NULL;
					need_rescan = rescan_reason;
				} else {
					log_warnx("watcher: change stream error, rebuilding: %s",
					    err.message);
					atomic_store(&w->phase, WATCHER_RECOVERING);
					watcher_sleep(w, watcher_backoff(w, attempt++));
				}
				break;
			}
			/* Idle: the stream moved on without events (postBatchResumeToken). */
			now_token = mongoc_change_stream_get_resume_token(stream);
			if (now_token != NULL && (token == NULL || !bson_equal(now_token, token))) {
				if (token != NULL)
					bson_destroy(token);
				token = bson_copy(now_token);
				watcher_enqueue(w, watcher_item_new(WATCHER_ITEM_TOKEN, token));
			}
		}
		mongoc_change_stream_destroy(stream);
	}
	if (token != NULL)
		bson_destroy(token);
	store_push(w->store, client);
	atomic_store(&w->reader_done, true);
	return NULL;
}

static int
watcher_cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
watcher_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A batch of change events reduced to distinct ids. */
typedef struct watcher_batch {
	int64_t *ids;
	size_t nids, capids;
	char **tickets;
	size_t ntickets, captickets;
	bson_t *token;
	size_t items;
} watcher_batch_t;

static void
watcher_batch_add(watcher_batch_t *b, watcher_item_t *item)
{
	if (item->nids > 0) {
		if (b->nids + item->nids > b->capids) {
			size_t cap = (b->nids + item->nids) * 2;
			int64_t *n = realloc(b->ids, cap * sizeof(int64_t));
			if (n == NULL)
				abort(); /* an out-of-memory daemon cannot promise anything */
			b->ids = n;
			b->capids = cap;
		}
		memcpy(b->ids + b->nids, item->ids, item->nids * sizeof(int64_t));
		b->nids += item->nids;
	}
	if (item->ticket_id != NULL && item->winner_lookup) {
		if (b->ntickets == b->captickets) {
			size_t cap = b->captickets ? b->captickets * 2 : 16;
			char **n = realloc(b->tickets, cap * sizeof(char *));
			if (n == NULL)
				abort();
			b->tickets = n;
			b->captickets = cap;
		}
		b->tickets[b->ntickets++] = item->ticket_id;
		item->ticket_id = NULL;
	}
	if (item->token != NULL) {
		if (b->token != NULL)
			bson_destroy(b->token);
		b->token = item->token;
		item->token = NULL;
	}
	b->items++;
}

static void
watcher_batch_dedupe(watcher_batch_t *b)
{
	size_t n = 0;

	/* qsort must not see a NULL array, even with a zero count (UB). */
	if (b->nids > 1)
		qsort(b->ids, b->nids, sizeof(int64_t), watcher_cmp_id);
	for (size_t i = 0; i < b->nids; i++)
		if (n == 0 || b->ids[n - 1] != b->ids[i])
			b->ids[n++] = b->ids[i];
	b->nids = n;
	if (b->ntickets > 1)
		qsort(b->tickets, b->ntickets, sizeof(char *), watcher_cmp_str);
	n = 0;
	for (size_t i = 0; i < b->ntickets; i++) {
		if (n > 0 && strcmp(b->tickets[n - 1], b->tickets[i]) == 0)
			bson_free(b->tickets[i]);
		else
			b->tickets[n++] = b->tickets[i];
	}
	b->ntickets = n;
}

static void
watcher_batch_reset(watcher_batch_t *b, bool keep_token)
{
	for (size_t i = 0; i < b->ntickets; i++)
		bson_free(b->tickets[i]);
	b->nids = b->ntickets = b->items = 0;
	if (!keep_token && b->token != NULL) {
		bson_destroy(b->token);
		b->token = NULL;
	}
}

typedef struct watcher_applier {
	watcher_t *w;
	mongoc_client_t *client;
	bson_t *unsaved;         /* applied but not yet checkpointed token */
	int64_t last_save_ms;
} watcher_applier_t;

static void
watcher_save_checkpoint(watcher_applier_t *a, bool force)
{
	bson_error_t err;
	int64_t now = clock_mono_ms();

	if (a->unsaved == NULL)
		return;
	if (!force && now - a->last_save_ms < a->w->opts.checkpoint_every_ms)
		return;
	if (!checkpoint_save(a->client, a->w->ctx.database, WATCHER_CHECKPOINT_NAME,
	        a->unsaved, a->w->ctx.instance, &err)) {
		metrics_inc(METRICS_DB_ERRORS, 1);
		log_warnx("watcher: cannot save checkpoint (will retry): %s", err.message);
		return;
	}
	metrics_inc(METRICS_CHECKPOINTS, 1);
	metrics_set(METRICS_CHECKPOINT_SAVED_MS, clock_wall_ms());
	bson_destroy(a->unsaved);
	a->unsaved = NULL;
	a->last_save_ms = now;
}

static void
watcher_applied(watcher_applier_t *a, bson_t **token)
{
	if (*token == NULL)
		return;
	if (a->unsaved != NULL)
		bson_destroy(a->unsaved);
	a->unsaved = *token;
	*token = NULL;
}

/* Apply one batch, retrying until it succeeds or the watcher stops: a change is
 * never skipped, and the checkpoint never passes work that failed. */
static bool
watcher_apply_batch(watcher_applier_t *a, watcher_batch_t *b)
{
	watcher_t *w = a->w;
	uint32_t attempt = 0;

	watcher_batch_dedupe(b);
	if (b->nids == 0 && b->ntickets == 0)
		return true;
	for (;;) {
		refresh_stats_t stats = { 0 };
		bson_error_t err;

		if (refresh_ids(a->client, &w->ctx, b->ids, b->nids, b->tickets, b->ntickets,
		        &stats, &err))
			return true;
		metrics_inc(METRICS_DB_ERRORS, 1);
		log_warnx("watcher: applying %zu change(s) failed (will retry): %s", b->items,
		    err.message);
		/* Stopping: leave the checkpoint before this batch; the next start replays. */
		if (atomic_load(&w->stop))
			return false;
		watcher_sleep(w, watcher_backoff(w, attempt++));
	}
}

static bool
watcher_rescan(watcher_applier_t *a, const watcher_item_t *item)
{
	watcher_t *w = a->w;
	uint32_t attempt = 0;
	char msg[320];

	atomic_store(&w->phase, WATCHER_RESCANNING);
	log_info("watcher: rescan started (%s)", item->reason);
	for (;;) {
		refresh_stats_t stats = { 0 };
		bson_error_t err;

		if (refresh_all(a->client, &w->ctx, 0, w->opts.rescan_batch, NULL, NULL, &stats,
		        &err)) {
			metrics_inc(METRICS_RESCANS, 1);
			snprintf(msg, sizeof(msg),
			    "rescan after %s: %llu scanned, %llu queued, %llu in sync, %llu "
			    "unmapped, %llu rejected",
			    item->reason, (unsigned long long)stats.scanned,
			    (unsigned long long)stats.queued, (unsigned long long)stats.in_sync,
			    (unsigned long long)stats.unmapped, (unsigned long long)stats.rejected);
			log_info("watcher: %s", msg);
			watcher_audit(a->client, w, "rescan", msg);
			if (atomic_load(&w->phase) == WATCHER_RESCANNING)
				atomic_store(&w->phase, WATCHER_STREAMING);
			return true;
		}
		metrics_inc(METRICS_DB_ERRORS, 1);
		log_warnx("watcher: rescan failed (will retry): %s", err.message);
		if (atomic_load(&w->stop))
			return false;
		watcher_sleep(w, watcher_backoff(w, attempt++));
	}
}

static void *
watcher_applier_main(void *arg)
{
	watcher_applier_t a = { .w = arg };
	watcher_t *w = a.w;
	watcher_batch_t batch = { 0 };
	watcher_item_t *held = NULL; /* a RESCAN waiting for the batch before it */
	bool failed = false;

	a.client = store_pop(w->store);
	a.last_save_ms = clock_mono_ms();
	/* Everything this term's applier records carries its lease token. */
	outbox_set_writer_fencing(w->ctx.fencing);
	while (!failed) {
		watcher_item_t *item = held;

		held = NULL;
		if (item == NULL)
			item = handoff_pop(w->queue, 200);
		if (item == NULL) {
			watcher_save_checkpoint(&a, true);
			if (atomic_load(&w->reader_done) && handoff_len(w->queue) == 0)
				break;
			continue;
		}
		if (item->kind == WATCHER_ITEM_RESCAN) {
			if (!watcher_rescan(&a, item)) {
				failed = true;
			} else {
				watcher_applied(&a, &item->token);
				watcher_save_checkpoint(&a, true);
			}
			watcher_item_free(item);
			continue;
		}
		/* Take what has accumulated, up to apply_batch ids, stopping at a rescan. */
		watcher_batch_add(&batch, item);
		watcher_item_free(item);
		while (batch.nids < w->opts.apply_batch) {
			item = handoff_pop(w->queue, 0);
			if (item == NULL)
				break;
			if (item->kind == WATCHER_ITEM_RESCAN) {
				held = item;
				break;
			}
			watcher_batch_add(&batch, item);
			watcher_item_free(item);
		}
		if (!watcher_apply_batch(&a, &batch)) {
			failed = true;
		} else {
			watcher_applied(&a, &batch.token);
			watcher_save_checkpoint(&a, handoff_len(w->queue) == 0);
		}
		watcher_batch_reset(&batch, false);
	}
	if (failed)
		log_warnx("watcher: stopping with unapplied changes; the checkpoint stays "
		    "before them, so they are replayed at the next start");
	else
		watcher_save_checkpoint(&a, true);
	watcher_item_free(held);
	watcher_batch_reset(&batch, false);
	free(batch.ids);
	free(batch.tickets);
	if (a.unsaved != NULL)
		bson_destroy(a.unsaved);
	store_push(w->store, a.client);
	atomic_store(&w->applier_done, true);
	return NULL;
}

watcher_t *
watcher_start(store_t *store, const refresh_ctx_t *ctx,
    const watcher_opts_t *opts, bson_error_t *err)
{
	watcher_t *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		bson_set_error(err, 1, 1, "watcher: out of memory");
		return NULL;
	}
	w->store = store;
	w->ctx = *ctx;
	w->opts = *opts;
	if (w->opts.apply_batch == 0)
		w->opts.apply_batch = 1000;
	if (w->opts.rescan_batch == 0)
		w->opts.rescan_batch = 1000;
	if (w->opts.checkpoint_every_ms <= 0)
		w->opts.checkpoint_every_ms = 1000;
	w->queue = handoff_new();
	if (w->queue == NULL) {
		bson_set_error(err, 1, 2, "watcher: out of memory");
		free(w);
		return NULL;
	}
	atomic_store(&w->phase, WATCHER_STARTING);
	if (pthread_create(&w->applier, NULL, watcher_applier_main, w) != 0) {
		bson_set_error(err, 1, 3, "watcher: cannot start the apply thread");
		goto fail;
	}
	w->applier_started = true;
	if (pthread_create(&w->reader, NULL, watcher_reader_main, w) != 0) {
		bson_set_error(err, 1, 3, "watcher: cannot start the reader thread");
		goto fail;
	}
	w->reader_started = true;
	return w;
fail:
	watcher_stop(w);
	return NULL;
}

void
watcher_request_stop(watcher_t *w)
{
	if (w != NULL)
		atomic_store(&w->stop, true);
}

bool
watcher_finished(const watcher_t *w)
{
	watcher_t *m = (watcher_t *)w;

	return atomic_load(&m->reader_done) && atomic_load(&m->applier_done);
}

void
watcher_stop(watcher_t *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->stop, true);
	if (w->reader_started)
		pthread_join(w->reader, NULL);
	atomic_store(&w->reader_done, true);
	if (w->applier_started)
		pthread_join(w->applier, NULL);
	atomic_store(&w->phase, WATCHER_STOPPED);
	handoff_destroy(w->queue, watcher_item_free);
	free(w);
}

enum watcher_phase
watcher_phase(const watcher_t *w)
{
	return (enum watcher_phase)atomic_load(&((watcher_t *)w)->phase);
}

const char *
watcher_phase_name(enum watcher_phase p)
{
	switch (p) {
	case WATCHER_STARTING: return "starting";
	case WATCHER_RESCANNING: return "rescanning";
	case WATCHER_STREAMING: return "streaming";
	case WATCHER_RECOVERING: return "recovering";
	case WATCHER_STOPPED: return "stopped";
	}
	return "unknown";
}

size_t
watcher_backlog(const watcher_t *w)
{
	return handoff_len(w->queue);
}
