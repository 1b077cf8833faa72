/*
 * intake: the MongoDB side of the ticket webhooks. Writes one ticket a webhook
 * described (webhook.h) into `tickets`, and audits every authenticated delivery.
 *
 * Ordering and idempotence come from one conditional upsert:
 *
 *   filter {_id: <ticket id>, $or: [{updated_at: {$lt: <date>}},
 *                                   {updated_at: {$lt: <epoch ms>}},
 *                                   {updated_at: {$not: {$type: ["date", "number"]}}}]}
 *   update {$set: {status, status_category, assignee, resolution, updated_at (a date),
 *                  source, detection_ids}}                     upsert: true
 *
 * It matches only a stored ticket strictly older than the delivery (or one without a
 * usable updated_at). A stored ticket that is as new or newer makes the upsert try an
 * insert of an existing _id, which the server refuses with a duplicate key error
 * (11000): nothing is written, no change event wakes the watcher, and the delivery is
 * reported STALE. So a redelivery (same updated_at) changes nothing, and a replayed
 * old delivery never overwrites a newer state. (On 11000 the stored updated_at is read
 * back: if a concurrent writer had just inserted an older version, the write is tried
 * again.)
 *
 * Webhooks carry the ticket's whole state, so detection_ids is SET from the payload,
 * not merged: an id removed from the issue leaves the ticket. When the payload names
 * no ids at all (the summary lost its prefix, the custom field was cleared, or the ids
 * came from an import), the stored ids are kept and only an existing ticket is
 * updated: a ticket system's unrelated issues never become tickets (NO_TICKET).
 *
 * Runs on a libmongoc thread (the daemon's DB worker).
 */
#ifndef TICKETSYNC_INTAKE_H
#define TICKETSYNC_INTAKE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/ticket.h"

enum intake_outcome {
	INTAKE_INSERTED = 0, /* a new ticket */
	INTAKE_UPDATED,      /* a newer state of a stored ticket */
	INTAKE_STALE,        /* the stored ticket is as new or newer: nothing written */
	INTAKE_NO_TICKET,    /* no detection ids and no stored ticket: nothing written */
	INTAKE_REFUSED,      /* the server refused the document (validator, code 121) */
};

/* "inserted", "updated", "stale", "no_ticket", "refused". */
const char *intake_outcome_name(enum intake_outcome o);

typedef struct intake_result {
	enum intake_outcome outcome;
	bool ids_kept;              /* the payload named no ids; the stored ones stay */
	int64_t stored_updated_at;  /* STALE: the stored ticket's updated_at (ms; 0 unknown) */
	char message[256];          /* REFUSED: the server's reason */
} intake_result_t;

/* The filter and update described above (both initialised here). Pure. */
void intake_build(const ticket_t *t, bson_t *filter, bson_t *update);

/*
 * Store t (a ticket from webhook_parse: id, status and updated_at > 0 set). false with
 * err only when the database could not be asked (connection, election, timeout): the
 * caller answers 503 and the sender redelivers. Every other outcome is in res.
 */
bool intake_write(mongoc_client_t *client, const char *db, const ticket_t *t,
    intake_result_t *res, bson_error_t *err);

/* One delivery for the audit trail. */
typedef struct intake_delivery {
	const char *event;      /* AUDIT_WEBHOOK_* */
	const char *source;     /* "jira", "servicenow", "generic" */
	const ticket_t *ticket; /* NULL when the body did not describe one */
	int http_status;        /* what the sender was answered */
	const char *outcome;    /* intake_outcome_name, or NULL */
	const char *message;    /* why (refusals, stale), or NULL */
	const char *instance;
} intake_delivery_t;

/* Append the audit record: ticket_id, detection_id when the ticket names exactly one,
 * detail {source, detection_ids, status, updated_at, outcome}. */
bool intake_audit(mongoc_client_t *client, const char *db, const intake_delivery_t *d,
    bson_error_t *err);

#endif
