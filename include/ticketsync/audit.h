/*
 * audit: ticketsync_audit, an append-only record of every push attempt and of every
 * input ticketsync refused or could not act on, for operators to query with plain
 * MongoDB queries (indexes by detection, ticket, event and time).
 *
 * Runs on libmongoc threads only.
 */
#ifndef TICKETSYNC_AUDIT_H
#define TICKETSYNC_AUDIT_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/fields.h"

/* Event names used by ticketsync (the field is open: any [a-z_]+ name is stored). */
#define AUDIT_PUSHED "pushed"
#define AUDIT_RETRY "retry"
#define AUDIT_PARKED "parked"
#define AUDIT_RELEASED "released"
#define AUDIT_REJECTED_INPUT "rejected_input"
#define AUDIT_UNMAPPED_STATUS "unmapped_status"
#define AUDIT_MULTIPLE_TICKETS "multiple_tickets"
#define AUDIT_HISTORY_LOST "history_lost"
#define AUDIT_RESCAN "rescan"
#define AUDIT_AUTH_ERROR "auth_error"
#define AUDIT_REPLAYED "replayed"
#define AUDIT_UNKNOWN_DETECTION "unknown_detection" /* a ticket names a detection not in MongoDB */
/* The sweep of ExtraHop's detections (sweepdb) */
#define AUDIT_DETECTION_REPAIRED "detection_repaired" /* written into detections from ExtraHop */
#define AUDIT_DRIFT "drift"                           /* ExtraHop shows other ticket fields */
#define AUDIT_SWEEP_REJECTED "sweep_rejected"         /* a detection the search gave is unusable */
#define AUDIT_SWEEP "sweep"                           /* one sweep done: what it read and did */
/* Ticket creation ([create]; ticket_id: the created ticket's key). */
#define AUDIT_TICKET_CREATED "ticket_created"
#define AUDIT_CREATE_RETRY "create_retry"
#define AUDIT_CREATE_PARKED "create_parked"
#define AUDIT_CREATE_RELEASED "create_released"
#define AUDIT_CREATE_AUTH_ERROR "create_auth_error"
/* Webhook deliveries (ticket_id, detail.source, detail.detection_ids; see intake.h). */
#define AUDIT_WEBHOOK_ACCEPTED "webhook_accepted" /* stored: a new ticket or a newer state */
#define AUDIT_WEBHOOK_STALE "webhook_stale"       /* as old as (or older than) what is stored */
#define AUDIT_WEBHOOK_IGNORED "webhook_ignored"   /* carries nothing to store */
#define AUDIT_WEBHOOK_REJECTED "webhook_rejected" /* an authenticated sender's unusable body */

#define AUDIT_EVENT_MAX 64
#define AUDIT_MESSAGE_MAX 2048 /* longer messages are cut on a UTF-8 boundary */
#define AUDIT_BATCH_MAX 1000

/* One record. Zero/NULL members are left out of the document. */
typedef struct audit_record {
	int64_t at_ms;            /* 0 = now */
	const char *event;        /* required, [a-z][a-z_]* */
	bool has_detection_id;
	int64_t detection_id;
	const char *ticket_id;
	int64_t version;          /* 0 = none */
	int32_t attempt;          /* 1-based attempt number; 0 = none */
	int http_status;          /* 0 = none (no HTTP response) */
	const bson_t *fields;     /* what was sent, as the destination describes it (ExtraHop:
	                             the PATCH body's members) */
	const char *message;      /* any bytes: invalid UTF-8 is replaced, length capped */
	const char *instance;     /* which ticketsyncd/ticketsyncctl wrote it */
	const bson_t *detail;     /* event-specific extras, copied as a sub-document */
} audit_record_t;

/* Whether name is an event ticketsync writes (the AUDIT_ names above); and all of
 * them, comma-separated, for messages. */
bool audit_event_known(const char *name);
void audit_event_names(char *buf, size_t len);

/* Build the document for r (with a fresh ObjectId) into doc (initialised here).
 * false with err set when the event name is missing or malformed. Pure. */
bool audit_record_to_bson(const audit_record_t *r, int64_t now_ms, bson_t *doc,
    bson_error_t *err);

bool audit_append(mongoc_client_t *client, const char *db, const audit_record_t *r,
    bson_error_t *err);
/* n records (at most AUDIT_BATCH_MAX) in one insert_many. Nothing is written when a
 * record is malformed. */
bool audit_append_many(mongoc_client_t *client, const char *db, const audit_record_t *records,
    size_t n, bson_error_t *err);

typedef struct audit_query {
	bool has_detection_id;
	int64_t detection_id;
	const char *ticket_id;  /* NULL = any */
	const char *event;      /* NULL = any */
	int64_t since_ms;       /* 0 = any; else at >= since */
	int64_t until_ms;       /* 0 = any; else at < until */
	size_t limit;           /* 0 = no limit */
	bool oldest_first;      /* default newest first */
} audit_query_t;

/* Matching records, newest first (unless oldest_first), each handed to cb (return
 * false to stop). *n_out (may be NULL) counts them. */
bool audit_query(mongoc_client_t *client, const char *db, const audit_query_t *q,
    bool (*cb)(const bson_t *doc, void *ctx), void *ctx, size_t *n_out, bson_error_t *err);

#endif
