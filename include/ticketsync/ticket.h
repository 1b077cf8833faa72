/*
 * ticket: validate one `tickets` document into a ticket_t that owns its memory.
 * Pure: no I/O. Errors name the ticket id and the field.
 *
 *   _id            ticket id: non-empty string, <= FIELDS_TICKET_ID_MAX bytes
 *   detection_ids  array of detection ids (integral numbers or decimal-digit strings,
 *                  1..2^53), at most TICKET_DETECTION_IDS_MAX; duplicates removed
 *   status         string or null (the ticket system's own name), <= STATUSMAP_NAME_MAX
 *   status_category optional string or null: the ticket system's coarse status class
 *                  (Jira's statusCategory.key: new, indeterminate, done), which the
 *                  status map falls back to when the status name has no entry
 *   assignee       string or null, <= FIELDS_ASSIGNEE_MAX
 *   resolution     string or null, <= STATUSMAP_NAME_MAX
 *   updated_at     BSON date or integer ms (int32/int64/integral double); absent/null = 0
 *   source         optional string (who wrote it: "jira-webhook", "import", ...)
 */
#ifndef TICKETSYNC_TICKET_H
#define TICKETSYNC_TICKET_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/error.h"

#define TICKET_DETECTION_IDS_MAX 10000
#define TICKET_SOURCE_MAX 256

typedef struct ticket {
	char *id;
	int64_t *detection_ids; /* sorted ascending, no duplicates */
	size_t n_detection_ids;
	char *status;     /* NULL = null */
	char *status_category; /* NULL = absent or null */
	char *assignee;   /* NULL = null */
	char *resolution; /* NULL = null */
	int64_t updated_at; /* epoch ms, 0 = unknown */
	char *source;     /* NULL = absent */
} ticket_t;

/* Codes of ticket_parse's errors (domain ERROR_DOMAIN). */
enum ticket_error {
	TICKET_ERR_ID = ERROR_BASE_TICKET, /* _id is missing or not a usable ticket id */
	TICKET_ERR_INVALID,                /* another field, or the document, is unusable */
};

/* 0 on success (out owns copies; free with ticket_cleanup); -1 with err otherwise,
 * out then holds nothing to free. */
int ticket_parse(const bson_t *doc, ticket_t *out, bson_error_t *err);

/* Whether the ticket lists the detection (binary search). */
bool ticket_has_detection(const ticket_t *t, int64_t detection_id);

/* Free what a ticket_t holds and zero it (NULL-safe). */
void ticket_cleanup(ticket_t *t);
/* ticket_cleanup plus free(t), for heap-allocated tickets (NULL-safe). */
void ticket_destroy(ticket_t *t);

#endif
