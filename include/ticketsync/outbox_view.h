/*
 * outbox_view: what operators see of a destination's outbox (coll: its state
 * collection, e.g. ticketsync_state):
 * counts by state, what is due, the age of the oldest unsent change, and the parked
 * detections with their reasons. Read-only; for ticketsyncctl status, the daemon's
 * gauges and pushrun's "is anything due". Runs on a libmongoc thread.
 */
#ifndef TICKETSYNC_OUTBOX_VIEW_H
#define TICKETSYNC_OUTBOX_VIEW_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct outbox_counts {
	int64_t pending, in_flight, synced, parked;
	int64_t due;                   /* pending due by now + in_flight with expired claims */
	int64_t oldest_pending_age_ms; /* since the oldest unsynced change was recorded; -1 if none */
} outbox_counts_t;

bool outbox_view_counts(mongoc_client_t *client, const char *db, const char *coll, int64_t now_ms,
    outbox_counts_t *counts_out, bson_error_t *err);

/* Parked detections, oldest first, at most limit (0 = all), each handed to cb. */
bool outbox_view_parked(mongoc_client_t *client, const char *db, const char *coll, size_t limit,
    bool (*cb)(const bson_t *doc, void *ctx), void *ctx, bson_error_t *err);

#endif
