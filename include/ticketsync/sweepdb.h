/*
 * sweepdb: the MongoDB side of the sweep of ExtraHop's detections (sweepplan decides).
 * For one search page: three queries (detections, ticketsync_state, tickets) read what
 * MongoDB has, after the page was fetched; detections missing or older in MongoDB are
 * written in the trigger's shape (repair); a ticket field edited in ExtraHop is audited
 * (drift) and, by policy, the outbox pushes the ticket's values again
 * (outbox_reassert). Also the sweep's cursor (ticketsync_checkpoints, "sweep").
 * libmongoc threads only.
 */
#ifndef TICKETSYNC_SWEEPDB_H
#define TICKETSYNC_SWEEPDB_H

#include <stdbool.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "ticketsync/sweepplan.h"

#define SWEEPDB_CHECKPOINT "sweep"

typedef struct sweepdb_stats {
	uint64_t read;        /* detections the pages held (duplicates included) */
	uint64_t duplicates;  /* read again in one sweep (sweepplan_seen) */
	uint64_t repaired, missing, older;
	uint64_t drift, reasserted, reported;
	uint64_t rejected;    /* unusable records, skipped */
} sweepdb_stats_t;

typedef struct sweepdb_ctx {
	const char *database;
	const char *instance;      /* audit records */
	enum sweepplan_policy policy;
	bool dry_run;              /* decide and count, write nothing */
} sweepdb_ctx_t;

/* page: the search reply ({"0": detection, ...}); every element goes through
 * sweepplan_seen(paging) in order. fetched_at_ms: wall clock taken before the request
 * was sent. Adds to stats. false with err when MongoDB failed (the page is read again). */
bool sweepdb_apply(mongoc_client_t *client, const sweepdb_ctx_t *ctx, const bson_t *page,
    int64_t fetched_at_ms, sweepplan_page_t *paging, sweepdb_stats_t *stats, bson_error_t *err);

/* The record of a finished sweep (AUDIT_SWEEP): what it read and did. A failure to
 * write it is counted (METRICS_DB_ERRORS), not returned: the sweep happened. */
void sweepdb_audit_sweep(mongoc_client_t *client, const sweepdb_ctx_t *ctx,
    const sweepdb_stats_t *st, int64_t pages);

/* The cursor; *found false (cursor 0) before the first sweep. */
bool sweepdb_load_cursor(mongoc_client_t *client, const char *db, sweepplan_cursor_t *cursor,
    bool *found, bson_error_t *err);
bool sweepdb_save_cursor(mongoc_client_t *client, const char *db, const sweepplan_cursor_t *cursor,
    const char *instance, bson_error_t *err);

#endif
