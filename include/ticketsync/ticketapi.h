/*
 * ticketapi: the ticket systems' REST APIs as data (Jira Cloud and Data Center,
 * ServiceNow's Table API, a generic HTTP endpoint), for the creation destination
 * (dest_ticket.c) and the tests: request paths and bodies, what a reply says (the
 * created ticket, a lookup's match, an error's message), and the one decision of
 * exactly-once creation: when to look a ticket up before creating it, and what a
 * lookup that found nothing proves. Pure: no I/O, no clock (times are passed in).
 * Facts: ../shared/reference/ticket-systems.md.
 */
#ifndef TICKETSYNC_TICKETAPI_H
#define TICKETSYNC_TICKETAPI_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/error.h"
#include "ticketsync/pushplan.h"
#include "ticketsync/ticketspec.h"

enum ticketapi_error {
	TICKETAPI_ERR_REPLY = ERROR_BASE_TICKETAPI, /* a reply that is not what the API sends
	                                             * (HTML page, truncated JSON, no key) */
	TICKETAPI_ERR_VALUE, /* a desired value that is not a creation's (no body, no key) */
};

typedef struct ticketapi_target {
	enum ticketspec_target kind;
	bool jira_cloud;
	const char *table;        /* ServiceNow; NULL = "incident" */
	const char *id_path;      /* HTTP: dotted path of the ticket id in the reply */
} ticketapi_target_t;

/* A ticket as a reply names it. */
typedef struct ticketapi_ticket {
	char key[PUSHPLAN_RESULT_MAX];    /* SEC-24, INC0010001, the endpoint's id */
	char ref[PUSHPLAN_RESULT_MAX];    /* Jira's numeric id, ServiceNow's sys_id; "" */
	char status[PUSHPLAN_RESULT_MAX]; /* as the reply says; "" when it does not */
} ticketapi_ticket_t;

/* One request: method and path (relative to the target's base URL; for HTTP "" = the
 * URL itself) and the JSON body (NULL for none). Free with ticketapi_request_clear. */
typedef struct ticketapi_request {
	const char *method;
	char *path;
	char *body;
	size_t body_len;
} ticketapi_request_t;
void ticketapi_request_clear(ticketapi_request_t *r);

/* The desired value's parts (ticketspec_render's shape); false with err if it has none. */
bool ticketapi_desired_key(const bson_t *desired, const char **key, int64_t *detection_id,
    bson_error_t *err);

/* The create request for desired. */
bool ticketapi_create_request(const ticketapi_target_t *t, const bson_t *desired,
    ticketapi_request_t *out, bson_error_t *err);

/* The lookup request for desired's key (Jira: search by label; ServiceNow: the
 * correlation_id query). false for HTTP, which has none (its idempotency key makes a
 * repeated create safe). */
bool ticketapi_lookup_request(const ticketapi_target_t *t, const bson_t *desired,
    ticketapi_request_t *out);

/* The credential check: Jira GET /rest/api/2/myself, ServiceNow a one-row read.
 * false for HTTP (nothing to ask). */
bool ticketapi_check_request(const ticketapi_target_t *t, ticketapi_request_t *out);

/* A 2xx create reply -> the created ticket. false with err (TICKETAPI_ERR_REPLY,
 * the message saying what was wrong) when it is not JSON or carries no key. */
bool ticketapi_parse_created(const ticketapi_target_t *t, const char *body, size_t len,
    ticketapi_ticket_t *out, bson_error_t *err);

/* A 2xx lookup reply: 1 with out when a ticket carries key (ServiceNow: its
 * correlation_id is checked, since an invalid query can match every row), 0 when none
 * does, -1 with err when the reply is unusable. */
int ticketapi_parse_lookup(const ticketapi_target_t *t, const char *body, size_t len,
    const char *key, ticketapi_ticket_t *out, bson_error_t *err);

/* An error reply's message for people: Jira's errorMessages and errors map
 * ("assignee: user cannot be assigned"), ServiceNow's error.message and detail, else
 * the start of the body; sanitized. */
void ticketapi_error_message(const char *body, size_t len, char *out, size_t outlen);

/* Retry-After's equivalent in X-RateLimit-Reset (ISO 8601, or Unix seconds), as ms
 * from now_ms; -1 when absent or unusable. */
int64_t ticketapi_rate_limit_reset_ms(const char *value, int64_t now_ms);

/* ---- exactly once ---- */

/* What an item's history says must happen before a create. */
enum ticketapi_step {
	TICKETAPI_CREATE = 0, /* nothing may have been created: create */
	TICKETAPI_LOOKUP,     /* an earlier attempt may have created it: look first */
	TICKETAPI_DONE,       /* created and acknowledged already: nothing to send */
};

typedef struct ticketapi_history {
	bool acknowledged;          /* the outbox holds an acknowledged create */
	int64_t recheck_at_ms;      /* an ambiguous attempt's recheck time (0: none) */
	int64_t reclaimed_until_ms; /* taken over from an expired claim (0: not) */
	bool can_lookup;            /* the target has a lookup (not HTTP) */
	int64_t lag_ms;             /* how long the target's search may miss a new ticket */
} ticketapi_history_t;

enum ticketapi_step ticketapi_first_step(const ticketapi_history_t *h);

/* When a lookup that found nothing proves nothing was created: the latest moment an
 * earlier attempt can have landed, plus the search's lag. */
int64_t ticketapi_proof_at(const ticketapi_history_t *h);

#endif
