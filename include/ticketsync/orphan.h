/*
 * orphan: tickets that name detections with no document in `detections` (an ODS write
 * that never arrived, a detection from before the trigger was installed, a typo in an
 * import). Such a ticket is stored all the same, and pushed once its detection
 * arrives; this module only says so: which ids are missing, an audit record
 * (AUDIT_UNKNOWN_DETECTION) where a ticket enters, and the list `ticketsyncctl status`
 * shows. Runs on a libmongoc thread.
 */
#ifndef TICKETSYNC_ORPHAN_H
#define TICKETSYNC_ORPHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "ticketsync/fields.h"

/* Which of ids (any order, duplicates allowed) have no detections document: sorted,
 * without duplicates, into *missing (malloc'd, free(); NULL when none). */
bool orphan_missing(mongoc_client_t *client, const char *db, const int64_t *ids, size_t n,
    int64_t **missing, size_t *nmissing, bson_error_t *err);

/* Whether id is in missing (as orphan_missing returns it: sorted). Pure. */
bool orphan_contains(const int64_t *missing, size_t n, int64_t id);

/* One ticket as it was stored. */
typedef struct orphan_ticket {
	const char *id;
	const int64_t *detection_ids;
	size_t n_detection_ids;
} orphan_ticket_t;

/* Called for each ticket (its index in the array) naming detections not in MongoDB. */
typedef void (*orphan_notice_fn)(void *arg, size_t index, const int64_t *missing,
    size_t nmissing);

/*
 * Check n stored tickets: notice() for each that names detections not in MongoDB, and
 * one audit record (AUDIT_UNKNOWN_DETECTION: ticket_id, detection_id when exactly one,
 * detail {source, detection_ids}) for each, unless an earlier such record already names
 * the same missing ids (a re-import, a redelivery). *recorded (may be NULL): records
 * written. false with err when MongoDB could not be asked; records are written in
 * batches, so some may be.
 */
bool orphan_note(mongoc_client_t *client, const char *db, const char *instance,
    const char *source, const orphan_ticket_t *tickets, size_t n, orphan_notice_fn notice,
    void *arg, size_t *recorded, bson_error_t *err);

/* "30000, 30001, ... (+N more)" of at most show ids into buf. Pure. */
void orphan_format_ids(const int64_t *ids, size_t n, size_t show, char *buf, size_t len);

typedef struct orphan_entry {
	char ticket_id[FIELDS_TICKET_ID_MAX + 1];
	int64_t detection_id; /* the first missing one */
	size_t n_missing;     /* of this ticket's detections */
} orphan_entry_t;

typedef struct orphan_report {
	size_t tickets;       /* tickets naming at least one missing detection */
	size_t detections;    /* missing detection ids, counted once per ticket */
	orphan_entry_t *list; /* the first `limit` tickets in id order (malloc'd) */
	size_t nlist;
} orphan_report_t;

/* Every ticket, a thousand at a time (memory bounded whatever the collection's size). */
bool orphan_scan(mongoc_client_t *client, const char *db, size_t limit, orphan_report_t *out,
    bson_error_t *err);
void orphan_report_free(orphan_report_t *r); /* NULL-safe */

#endif
