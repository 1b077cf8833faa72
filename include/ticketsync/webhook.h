/*
 * webhook: a ticket system's webhook body -> the ticket it describes (a ticket_t, the
 * same value type the `tickets` collection parses into). Pure: bytes in, ticket or a
 * one-line reason out; no I/O. The HTTP side is webhook_http.c, the MongoDB side intake.c.
 *
 * Every source sends the ticket's whole current state, so the result is the full
 * ticket: status, assignee and resolution null when the payload says so (or leaves
 * them out), detection ids as the payload names them (none: n_detection_ids 0, and
 * the intake then keeps the ids it has stored).
 *
 * Jira (jira:issue_created, jira:issue_updated; Server/Data Center and Cloud shapes):
 *   id               issue.key
 *   status           issue.fields.status.name
 *   status_category  issue.fields.status.statusCategory.key (new, indeterminate, done)
 *   resolution       issue.fields.resolution.name, or null
 *   assignee         issue.fields.assignee.name (Server), else .displayName (Cloud),
 *                    else .accountId; null when unassigned
 *   updated_at       issue.fields.updated (ISO-8601, Jira writes +0000 offsets), else
 *                    the event's timestamp (epoch ms)
 *   detection ids    by opts->jira_detection_field: "summary" (the prefix
 *                    "ExtraHop Detection: <id>:" of ExtraHop's example trigger; other
 *                    summaries name none), "labels" (every label <prefix><id>), or any
 *                    other issue field (a number, "1234, 1235", an array, {"value": ...})
 *   Other webhookEvent values (issue_deleted, comments, worklogs...) are IGNORED.
 *
 * ServiceNow (an incident record as JSON, optionally wrapped as {"result": {...}}; any
 * field may be a plain value or {"value": ..., "display_value": ...}):
 *   id               number
 *   status           state (a code such as "6", or a name; the value is preferred)
 *   resolution       close_code ("" = null)
 *   assignee         assigned_to (a name, or display_value of a reference; "" = null)
 *   updated_at       sys_updated_on ("YYYY-MM-DD HH:MM:SS", UTC as the Table API
 *                    writes values) or epoch ms
 *   detection ids    opts->servicenow_detection_field, comma-separated ids allowed
 *
 * Generic (ours): {"ticket_id": str, "detection_ids": [ids] | "1,2" | id,
 *   "status": str, "status_category": str|null, "assignee": str|null,
 *   "resolution": str|null, "updated_at": ISO-8601 | epoch ms | {"$date": ...}}.
 *   ticket_id, status and updated_at are required; an absent assignee, resolution or
 *   status_category is null; an unknown key is an error (a typo must not null a field).
 *
 * Bounds (those of ticket_parse and the `tickets` validator): id 1..FIELDS_TICKET_ID_MAX
 * bytes, status 1..STATUSMAP_NAME_MAX, resolution and category <= STATUSMAP_NAME_MAX,
 * assignee <= FIELDS_ASSIGNEE_MAX, at most TICKET_DETECTION_IDS_MAX ids of 1..2^53,
 * updated_at 1..2^53 ms; strings valid UTF-8 without NUL.
 */
#ifndef TICKETSYNC_WEBHOOK_H
#define TICKETSYNC_WEBHOOK_H

#include <bson/bson.h>
#include <stddef.h>

#include "ticketsync/ticket.h"

enum webhook_source {
	WEBHOOK_JIRA = 0,
	WEBHOOK_SERVICENOW,
	WEBHOOK_GENERIC,
};
#define WEBHOOK_SOURCE_COUNT 3

/* "jira", "servicenow", "generic" (the endpoint's last path segment). */
const char *webhook_source_name(enum webhook_source s);
/* "jira-webhook", "servicenow-webhook", "generic-webhook" (the stored ticket's source). */
const char *webhook_source_tag(enum webhook_source s);

typedef struct webhook_opts {
	const char *jira_detection_field;       /* NULL = "summary" */
	const char *jira_label_prefix;          /* NULL = "extrahop-detection-" */
	const char *servicenow_detection_field; /* NULL = "correlation_id" */
} webhook_opts_t;

#define WEBHOOK_SUMMARY_PREFIX "ExtraHop Detection:"

enum webhook_result {
	WEBHOOK_OK = 0,    /* out holds the ticket (free with ticket_cleanup) */
	WEBHOOK_IGNORED,   /* well-formed, but carries no ticket state (another Jira event) */
	WEBHOOK_MALFORMED, /* not a JSON object (HTTP 400) */
	WEBHOOK_INVALID,   /* JSON, but not a ticket that can be stored (HTTP 422) */
};

/* "ok", "ignored", "malformed", "invalid". */
const char *webhook_result_name(enum webhook_result r);

/*
 * Parse len bytes of body (need not be NUL-terminated; must be UTF-8 JSON with an
 * object at the top). On WEBHOOK_OK out owns the ticket; otherwise out holds nothing
 * and why (whylen >= 64 recommended) says what is wrong, naming the payload field
 * ("issue.fields.status.name is missing"). opts may be NULL (defaults).
 */
enum webhook_result webhook_parse(enum webhook_source src, const char *body, size_t len,
    const webhook_opts_t *opts, ticket_t *out, char *why, size_t whylen);

/* The same for a body already parsed into BSON. */
enum webhook_result webhook_parse_bson(enum webhook_source src, const bson_t *doc,
    const webhook_opts_t *opts, ticket_t *out, char *why, size_t whylen);

#endif
