/*
 * createq: the ticket-creation queue's store half. Where detections enter it (offer:
 * a qualifying detection without a ticket gets one creation document in
 * ticketsync_create_state, written once and never changed, before any request), what
 * an acknowledged creation writes (record: the new ticket into `tickets`, so the
 * existing path pushes ticket id, status and assignee to ExtraHop), and the start
 * point before which detections are not ticketed unless asked.
 *
 * The creation outbox is the push engine's (outbox.c) like ExtraHop's; its
 * destination is dest_ticket. Runs on libmongoc threads only.
 */
#ifndef TICKETSYNC_CREATEQ_H
#define TICKETSYNC_CREATEQ_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/detection.h"
#include "ticketsync/outbox.h"

struct ticketspec;

/* Where the start point is kept (ticketsync_checkpoints). */
#define CREATEQ_START_ID "create:start"

/*
 * The start point: configured_ms when > 0; else the one recorded the first time
 * creation was enabled on this database (recorded now if none is), so enabling it
 * does not ticket every old detection and a restart does not move it.
 */
bool createq_start_point(mongoc_client_t *client, const char *db, int64_t configured_ms,
    int64_t now_ms, int64_t *start_ms, bson_error_t *err);

/* One detection the caller has found without a ticket and qualifying
 * (ticketspec_qualify): its document and the parse of it (valid while doc lives). */
typedef struct createq_candidate {
	const bson_t *doc;
	detection_t det;
} createq_candidate_t;

typedef struct createq_stats {
	uint64_t queued;   /* creation documents written */
	uint64_t existing; /* already queued or created (a creation is never redone) */
	uint64_t failed;   /* could not be rendered (audited as rejected input) */
} createq_stats_t;

/* Queue the candidates that have no creation document yet (dry_run: count only). */
bool createq_offer(mongoc_client_t *client, const char *db, const struct ticketspec *spec,
    const createq_candidate_t *cands, size_t n, bool dry_run, int64_t now_ms,
    createq_stats_t *stats, bson_error_t *err);

/* When the creations of the last hour were acknowledged (result.at >= since_ms), oldest
 * first, at most limit: the hourly ceiling holds across restarts. *times_out is
 * malloc'd (free it), *n_out its length. */
bool createq_recent(mongoc_client_t *client, const char *db, int64_t since_ms, size_t limit,
    int64_t **times_out, size_t *n_out, bson_error_t *err);

/*
 * pusher_before_complete_fn of the creation pusher: every acknowledged creation's
 * ticket is inserted into `tickets` (key, detection_ids, status, assignee, updated_at,
 * source "ticketsync") unless a document for that key exists already (a webhook may
 * have been first, with the ticket's real state).
 */
bool createq_record(mongoc_client_t *client, const char *db, const outbox_result_t *results,
    size_t n, void *arg, bson_error_t *err);

#endif
