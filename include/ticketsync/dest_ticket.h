/*
 * dest_ticket: ticket creation as a destination of the push engine (dest.h). One
 * claimed item is one detection's creation (ticketspec_render's value); sending it
 * creates the ticket in Jira, ServiceNow or a generic HTTP endpoint through httpcli,
 * and the reply carries the created ticket's key (pushplan_reply_t.result_key), which
 * the engine records with the push.
 *
 * Exactly once: the outbox's claim is the durable intent, written before any request.
 * An item whose history says an earlier attempt may have created the ticket (an
 * ambiguous attempt's recheck time, or a claim taken over from a crashed holder) is
 * looked up by its key first (ticketapi_first_step): found -> acknowledged with that
 * ticket; not found while the search may still lag (ticketapi_proof_at) -> tried again
 * then; not found after -> created. The HTTP target has no lookup: its idempotency key
 * header makes a repeated create safe.
 *
 * Safety valve: at most max_per_hour creates in any hour (beyond: the item stays
 * pending until a slot frees, counted in ticketsync_create_ceiling_total).
 *
 * Loop thread only. dest_ticket_destroy after the pusher using it is freed.
 */
#ifndef TICKETSYNC_DEST_TICKET_H
#define TICKETSYNC_DEST_TICKET_H

#include <bson/bson.h>
#include <stdbool.h>

#include "ticketsync/dest.h"
#include "ticketsync/error.h"
#include "ticketsync/httpcli.h"
#include "ticketsync/ticketapi.h"

struct event_base;
typedef struct dest_ticket dest_ticket_t;

enum dest_ticket_error {
	DEST_TICKET_ERR_CONFIG = ERROR_BASE_DEST_TICKET, /* unusable options */
	DEST_TICKET_ERR_REQUEST, /* this item's request cannot be built */
};

typedef struct dest_ticket_opts {
	ticketapi_target_t target;
	httpcli_opts_t http;
	int64_t lag_ms;             /* how long a search may miss a just-created ticket */
	int64_t max_per_hour;       /* 0 = no ceiling */
	const char *hmac_secret;    /* HTTP: sign the body (NULL: no signature) */
	const char *signature_header; /* HTTP: e.g. X-Ticketsync-Signature */
	const char *idempotency_header; /* HTTP: e.g. Idempotency-Key */
} dest_ticket_opts_t;

extern const dest_ops_t dest_ticket_ops;

dest_ticket_t *dest_ticket_new(struct event_base *base, const dest_ticket_opts_t *opts,
    bson_error_t *err);
void dest_ticket_destroy(dest_ticket_t *d);

/* Count creates acknowledged before this process started (wall-clock ms, oldest
 * first; now_ms the wall clock) in the hourly ceiling's window. */
void dest_ticket_seed_window(dest_ticket_t *d, const int64_t *wall_ms, size_t n, int64_t now_ms);

/* The start-up credential check (Jira myself, a one-row ServiceNow read; HTTP: none,
 * reported ok). done(ok, message, arg) runs once, later, on the loop. */
void dest_ticket_check(dest_ticket_t *d, void (*done)(bool ok, const char *message, void *arg),
    void *arg);

#endif
