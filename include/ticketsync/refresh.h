/*
 * refresh: bring the outbox up to date for a set of detections. Loads each
 * detection, its tickets and its state in a few queries per chunk, runs the pure
 * reconcile, records the new desired fields (outbox) and audits what is notable.
 * Level-triggered and idempotent: running it twice, or on stale ids, is harmless.
 * Used by the watcher (change events), the rescan after history loss, and backfill.
 * Runs on a libmongoc thread only.
 */
#ifndef TICKETSYNC_REFRESH_H
#define TICKETSYNC_REFRESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>
#include <mongoc/mongoc.h>

struct statusmap;
struct ticketspec;

typedef struct refresh_ctx {
	const char *database;
	const struct statusmap *map;
	const char *instance;   /* written into audit records */
	bool dry_run;           /* reconcile and count, write nothing */
	int64_t fencing;        /* the lease's token the writes carry (0: none) */
	/* Ticket creation ([create]): detections without a ticket that qualify are queued
	 * (createq_offer). NULL: none. */
	const struct ticketspec *create;
	int64_t create_start_ms;  /* first seen before this: not ticketed (0: any) */
	bool create_only;         /* queue creations only (ticketsyncctl create-tickets) */
	/* Unmapped statuses are logged at debug: the caller prints the stats' summary
	 * (ticketsyncctl backfill). Their audit records are written either way. */
	bool summary_only;
} refresh_ctx_t;

#define REFRESH_STATUSES_MAX 16

typedef struct refresh_stats {
	uint64_t scanned;       /* detections looked at */
	uint64_t missing;       /* ids with no detection document (yet) */
	uint64_t in_sync;
	uint64_t queued;        /* desired changed: a push is pending */
	uint64_t unchanged;     /* desired already recorded */
	uint64_t no_ticket;
	uint64_t unmapped;      /* held back by an unmapped ticket status */
	uint64_t unmapped_new;  /* ... of them audited now (a ticket version not seen yet) */
	struct {
		char status[64];    /* the raw status ("null" for none), sanitized, cut "..." */
		uint64_t count;
	} unmapped_statuses[REFRESH_STATUSES_MAX];
	size_t n_unmapped_statuses;
	uint64_t unmapped_other; /* in statuses past the table's size */
	uint64_t rejected;      /* malformed detection or ticket */
	uint64_t create_queued;   /* queued for a ticket ([create]) */
	uint64_t create_existing; /* qualified, but a creation is already queued */
} refresh_stats_t;

/* Reconcile the given detections, plus every detection whose last winning ticket is
 * one of ticket_ids (so a ticket that was deleted or lost a detection is seen). */
bool refresh_ids(mongoc_client_t *client, const refresh_ctx_t *ctx, const int64_t *ids,
    size_t nids, char *const *ticket_ids, size_t ntickets, refresh_stats_t *stats,
    bson_error_t *err);

/* Progress callback for long scans; return false to stop early. */
typedef bool (*refresh_progress_fn)(void *arg, const refresh_stats_t *stats, int64_t last_id);

/* Reconcile every detection with since_ms <= update_time (0 = all), in ascending id
 * order, chunk ids at a time (bounded memory). */
bool refresh_all(mongoc_client_t *client, const refresh_ctx_t *ctx, int64_t since_ms,
    size_t chunk, refresh_progress_fn progress, void *progress_arg, refresh_stats_t *stats,
    bson_error_t *err);

#endif
