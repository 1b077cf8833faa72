/*
 * fields: the four ticket fields ExtraHop shows on a detection (ticket_id, status,
 * assignee, resolution), as one value type shared by reconcile, the outbox and the
 * PATCH builder. Pure: no I/O.
 *
 * JSON null is a real value for every field (ExtraHop shows a null status as "Open"),
 * so "absent" is modelled explicitly: has_ticket_id/has_assignee false, status
 * FIELDS_STATUS_NULL, resolution FIELDS_RESOLUTION_NULL.
 */
#ifndef TICKETSYNC_FIELDS_H
#define TICKETSYNC_FIELDS_H

#include <bson/bson.h>
#include <stdbool.h>

#include "ticketsync/error.h"

/* Longest accepted values (bytes, without NUL). Longer input is rejected, not cut. */
#define FIELDS_TICKET_ID_MAX 128
#define FIELDS_ASSIGNEE_MAX 256

enum fields_status {
	FIELDS_STATUS_NULL = 0, /* shown as "Open" */
	FIELDS_STATUS_NEW,
	FIELDS_STATUS_IN_PROGRESS,
	FIELDS_STATUS_CLOSED,
	FIELDS_STATUS_ACKNOWLEDGED,
};

enum fields_resolution {
	FIELDS_RESOLUTION_NULL = 0,
	FIELDS_RESOLUTION_ACTION_TAKEN,
	FIELDS_RESOLUTION_NO_ACTION_TAKEN,
};

/* Bits naming fields, for diffs and PATCH bodies. */
enum {
	FIELDS_TICKET_ID = 1u << 0,
	FIELDS_STATUS = 1u << 1,
	FIELDS_ASSIGNEE = 1u << 2,
	FIELDS_RESOLUTION = 1u << 3,
	FIELDS_ALL = 0xfu,
};

typedef struct fields {
	bool has_ticket_id;
	char ticket_id[FIELDS_TICKET_ID_MAX + 1];
	enum fields_status status;
	bool has_assignee;
	char assignee[FIELDS_ASSIGNEE_MAX + 1];
	enum fields_resolution resolution;
} fields_t;

void fields_init(fields_t *f); /* all null */

/* ExtraHop's wire names ("new", "in_progress", ...); NULL for the null value. */
const char *fields_status_name(enum fields_status s);
const char *fields_resolution_name(enum fields_resolution r);
/* Parse ExtraHop's wire names (exact, lower case). 0 on success, -1 otherwise. */
int fields_status_parse(const char *name, enum fields_status *out);
int fields_resolution_parse(const char *name, enum fields_resolution *out);

/* Set a string field; NULL clears it. Returns -1 (and changes nothing) when the
 * value is longer than the field's maximum or not valid UTF-8. */
int fields_set_ticket_id(fields_t *f, const char *value);
int fields_set_assignee(fields_t *f, const char *value);

/* Bit mask of the fields whose values differ. */
unsigned fields_diff(const fields_t *a, const fields_t *b);
bool fields_equal(const fields_t *a, const fields_t *b);

/* Append {ticket_id, status, assignee, resolution} as a sub-document named key,
 * nulls written as BSON null. */
void fields_append_document(bson_t *parent, const char *key, const fields_t *f);
/* Append the fields named by mask at the top level of doc (the PATCH body shape),
 * nulls written as BSON null. */
void fields_append_members(bson_t *doc, const fields_t *f, unsigned mask);
/* doc.key = value, or an explicit null when value is NULL (what every stored ticket
 * field and state value means by "none"). */
void fields_append_nullable(bson_t *doc, const char *key, const char *value);
/* A new document holding all four fields (what fields_append_document writes as a
 * sub-document): ExtraHop's value in the outbox, in its one canonical form, since the
 * outbox compares values byte for byte. Free with bson_destroy. */
bson_t *fields_new_document(const fields_t *f);
/* Codes of fields_from_document's errors (domain ERROR_DOMAIN). */
enum fields_error {
	FIELDS_ERR_CORRUPT = ERROR_BASE_FIELDS, /* not a readable BSON document */
	FIELDS_ERR_TYPE,                        /* a field neither a string nor null */
	FIELDS_ERR_VALUE,                       /* a string the field cannot hold */
};

/* Parse a document written by fields_append_document (or a PATCH body); unknown keys
 * are ignored, absent keys mean null. Returns false with err set on a bad type or
 * value. */
bool fields_from_document(const bson_t *doc, fields_t *out, bson_error_t *err);

/* "ticket_id,status" style list of the fields in mask, for logs and audit. */
void fields_mask_describe(unsigned mask, char *buf, size_t buflen);

#endif
