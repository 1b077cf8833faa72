/*
 * watcher_apply: the watcher's apply thread; see watcher.h. Takes the items the reader
 * thread (watcher.c) queued, merges what has accumulated (up to apply_batch ids,
 * stopping at a rescan) into distinct detection and ticket ids, runs refresh on them
 * or a full rescan, and saves the resume token to the checkpoint only after the work
 * it covers is applied; a failed batch is retried, never skipped.
 */
#include "ticketsync/watcher_apply.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/checkpoint.h"
#include "ticketsync/clock.h"
#include "ticketsync/handoff.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/outbox.h"
#include "ticketsync/refresh.h"
#include "ticketsync/store.h"
#include "ticketsync/xalloc.h"

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
			b->ids = xreallocarray(b->ids, cap, sizeof(int64_t));
			b->capids = cap;
		}
		memcpy(b->ids + b->nids, item->ids, item->nids * sizeof(int64_t));
		b->nids += item->nids;
	}
	if (item->ticket_id != NULL && item->winner_lookup) {
		if (b->ntickets == b->captickets) {
			size_t cap = b->captickets ? b->captickets * 2 : 16;
			b->tickets = xreallocarray(b->tickets, cap, sizeof(char *));
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

void *
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
