/*
 * overview: everything `ticketsyncctl status` shows, gathered from MongoDB in a few
 * queries: outbox counts (outbox_view_counts) of the ExtraHop pushes and of ticket
 * creation, the oldest parked detections of each with their reasons, the newest acknowledged push (audit), the watcher's checkpoint (how long
 * ago it was saved, and how far its stream position is behind now), and the audit
 * trail counted by event.
 *
 * Runs on a libmongoc thread.
 */
#ifndef TICKETSYNC_OVERVIEW_H
#define TICKETSYNC_OVERVIEW_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/audit.h"
#include "ticketsync/fields.h"
#include "ticketsync/lease.h"
#include "ticketsync/orphan.h"
#include "ticketsync/outbox.h"
#include "ticketsync/outbox_view.h"

typedef struct overview_parked {
	int64_t id;
	char ticket_id[FIELDS_TICKET_ID_MAX + 1]; /* "" when none */
	char reason[OUTBOX_MESSAGE_MAX + 1];
	int64_t parked_at_ms;                     /* 0 when unknown */
	int32_t attempts;
	int64_t version;
} overview_parked_t;

typedef struct overview_event {
	char event[AUDIT_EVENT_MAX + 1];
	int64_t count;
} overview_event_t;

typedef struct overview {
	int64_t now_ms;
	outbox_counts_t counts;
	overview_parked_t *parked; /* oldest first, at most the limit asked for */
	size_t n_parked;
	/* Ticket creation's queue (ticketsync_create_state; all zero when never used). */
	outbox_counts_t create_counts;
	overview_parked_t *create_parked;
	size_t n_create_parked;

	bool has_last_push;
	int64_t last_push_ms;
	int64_t last_push_detection;
	char last_push_ticket[FIELDS_TICKET_ID_MAX + 1];
	int last_push_http;
	char last_push_instance[128];

	bool has_checkpoint;
	int64_t checkpoint_saved_ms;
	bool has_stream_time;      /* the token told its cluster time */
	int64_t stream_time_ms;    /* the stream position the checkpoint covers */

	lease_state_t lease;       /* who is active (lease.found false: nobody yet) */

	overview_event_t *events;  /* every event name in the audit trail, by name */
	size_t n_events;

	orphan_report_t orphans;   /* tickets naming detections not in MongoDB */

	/* The sweep of ExtraHop's detections ([sweep]): its cursor and last sweep. */
	bool has_sweep_cursor;
	int64_t sweep_cursor_ms;   /* the newest mod_time fully read */
	int64_t sweep_saved_ms;
	bool has_last_sweep;
	int64_t last_sweep_ms;
	char last_sweep[512];      /* its summary (the audit record's message) */
} overview_t;

/* Tickets naming detections not in MongoDB that status lists (all are counted). */
#define OVERVIEW_ORPHANS_LISTED 10

/* Gather everything as of now_ms; at most parked_limit parked detections (0: none).
 * out is always initialised: free it with overview_free. */
bool overview_collect(mongoc_client_t *client, const char *db, int64_t now_ms,
    size_t parked_limit, overview_t *out, bson_error_t *err);
void overview_free(overview_t *o); /* NULL-safe */

/*
 * The cluster time a change stream resume token stands for, in epoch ms (seconds
 * precision). Tokens are {_data: "82<8 hex digits seconds><8 hex increment>..."}
 * (MongoDB's KeyString encoding, kept by the test server); false for any other shape.
 * Pure.
 */
bool overview_token_time_ms(const bson_t *token, int64_t *ms_out);

#endif
