/*
 * watcher: the change stream reader thread, plus the watcher's lifecycle (start, stop,
 * phase); see watcher.h. The reader opens the database-level change stream (resuming
 * from the checkpoint, or queueing a full rescan first), turns each event into a queue
 * item (ids to refresh, a rescan, or only a newer resume token) and hands it to the
 * apply thread (watcher_apply.c) through a bounded handoff queue.
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
#include <unistd.h>

#include "ticketsync/audit.h"
#include "ticketsync/backoff.h"
#include "ticketsync/checkpoint.h"
#include "ticketsync/clock.h"
#include "ticketsync/detection.h"
#include "ticketsync/handoff.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/mongoerr.h"
#include "ticketsync/store.h"
#include "ticketsync/ticket.h"
#include "ticketsync/watcher_apply.h"
#include "ticketsync/xalloc.h"

/* The reader waits while this many items are queued, so memory stays bounded when
 * MongoDB produces events faster than they can be applied. */
#define WATCHER_QUEUE_MAX 5000
/* Change events per getMore reply. */
#define WATCHER_BATCH_SIZE 1000

void
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
	watcher_item_t *item = xcalloc(1, sizeof(*item));

	item->kind = kind;
	if (token != NULL)
		item->token = bson_copy(token);
	return item;
}

/* Sleep in small steps so stop is noticed quickly. */
void
watcher_sleep(watcher_t *w, int64_t ms)
{
	int64_t until = clock_mono_ms() + ms;

	while (!atomic_load(&w->stop) && clock_mono_ms() < until)
		usleep(20000);
}

int64_t
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

void
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
	rec.ticket_id = item->ticket_id;
	rec.message = message;
	rec.instance = w->ctx.instance;
	if (!audit_append(client, w->ctx.database, &rec, &err))
		log_warnx("watcher: cannot write audit record: %s", err.message);
}

/*
 * Turn one change event into a queue item (never NULL: even an event naming nothing
 * to refresh carries the resume token the apply thread saves). Input
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

	/* Cleared first: the rescan return below must not leave the previous event's
	 * (or an uninitialised) reject for the caller to audit. */
	reject[0] = '\0';
	if (bson_iter_init_find(&it, ev, "operationType") && BSON_ITER_HOLDS_UTF8(&it))
		op = bson_iter_utf8(&it, NULL);
	if (bson_iter_init(&it, ev) && bson_iter_find_descendant(&it, "ns.coll", &child) &&
	    BSON_ITER_HOLDS_UTF8(&child))
		coll = bson_iter_utf8(&child, NULL);

	if (strcmp(op, "invalidate") == 0 || strcmp(op, "dropDatabase") == 0 ||
	    ((strcmp(op, "drop") == 0 || strcmp(op, "rename") == 0))) {
		item = watcher_item_new(WATCHER_ITEM_RESCAN, token);
		snprintf(item->reason, sizeof(item->reason), "%s of %s", op,
		    *coll ? coll : "the database");
		item->closes_stream = strcmp(op, "invalidate") == 0;
		return item;
	}
	item = watcher_item_new(WATCHER_ITEM_EVENT, token);
	if (strcmp(coll, STORE_COLL_DETECTIONS) == 0) {
		int64_t id;
		char why[128];
		if (!bson_iter_init(&it, ev) ||
		    !bson_iter_find_descendant(&it, "documentKey._id", &child))
			return item;
		if (detection_id_from_iter(&child, &id, why, sizeof(why)) == 0) {
			item->ids = xmalloc(sizeof(int64_t));
			item->ids[0] = id;
			item->nids = 1;
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

	if (err->code == MONGOERR_CHANGE_STREAM_HISTORY_LOST ||
	    err->code == MONGOERR_CHANGE_STREAM_FATAL)
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
			snprintf(item->reason, sizeof(item->reason), "%s", need_rescan);
			watcher_enqueue(w, item);
			need_rescan = NULL;
		}
		atomic_store(&w->phase, WATCHER_STREAMING);
		atomic_store(&w->opened, true);

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

watcher_t *
watcher_start(store_t *store, const refresh_ctx_t *ctx,
    const watcher_opts_t *opts, bson_error_t *err)
{
	watcher_t *w = xcalloc(1, sizeof(*w));

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
	atomic_store(&w->phase, WATCHER_STARTING);
	if (pthread_create(&w->applier, NULL, watcher_applier_main, w) != 0) {
		bson_set_error(err, ERROR_DOMAIN, WATCHER_ERR_THREAD,
		    "watcher: cannot start the apply thread");
		goto fail;
	}
	w->applier_started = true;
	if (pthread_create(&w->reader, NULL, watcher_reader_main, w) != 0) {
		bson_set_error(err, ERROR_DOMAIN, WATCHER_ERR_THREAD,
		    "watcher: cannot start the reader thread");
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

bool
watcher_opened(const watcher_t *w)
{
	return w != NULL && atomic_load(&((watcher_t *)w)->opened);
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
