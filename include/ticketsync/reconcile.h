/*
 * reconcile: what ExtraHop should show for one detection. Given the detection, the
 * tickets that list it, the status map and what we last pushed, pick the winning
 * ticket, map its status, and compare the result with what ExtraHop shows (the PATCH
 * mask is pushplan's). Whether and how that is recorded and sent is pushplan's
 * decision too. Pure: plain structs in, plain struct out, so the same call serves
 * change events, rescans and backfill (level-triggered).
 */
#ifndef TICKETSYNC_RECONCILE_H
#define TICKETSYNC_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

#include "ticketsync/detection.h"
#include "ticketsync/fields.h"
#include "ticketsync/pushplan.h"
#include "ticketsync/statusmap.h"
#include "ticketsync/ticket.h"

enum reconcile_outcome {
	RECONCILE_NO_TICKET = 0, /* no ticket lists the detection: nothing to push */
	RECONCILE_UNMAPPED,      /* the winner cannot be expressed in ExtraHop's fields (its
	                            status has no mapping, nor its status category, or its
	                            id/assignee break the bounds
	                            ticket_parse enforces): audit, no push */
	RECONCILE_IN_SYNC,       /* desired == baseline: nothing to push */
	RECONCILE_PUSH,          /* push result.desired, fields in result.mask */
};

typedef struct reconcile_input {
	const detection_t *detection;
	const ticket_t *tickets; /* tickets[0..n_tickets); ones not listing the detection are ignored */
	size_t n_tickets;
	const statusmap_t *map;
	const fields_t *last_pushed; /* NULL: never pushed */
} reconcile_input_t;

typedef struct reconcile_result {
	enum reconcile_outcome outcome;
	size_t candidates;       /* tickets that list the detection */
	const ticket_t *winner;  /* points into input.tickets; NULL for NO_TICKET */
	/* UNMAPPED: the winner's raw values for the audit (point into the winner). */
	const char *raw_status;
	const char *raw_resolution;
	const char *raw_status_category;
	/* IN_SYNC and PUSH: the status was mapped through its category entry
	 * (statusmap_lookup_ticket), not its own name. */
	bool by_category;
	/* IN_SYNC and PUSH: what ExtraHop should show. */
	fields_t desired;
	/* What desired was compared with: last_pushed, else the detection's fields. */
	fields_t baseline;
	bool baseline_is_last_pushed;
	unsigned mask; /* PUSH: pushplan_mask(desired, baseline); else 0 */
} reconcile_result_t;

void reconcile_run(const reconcile_input_t *in, reconcile_result_t *out);

/* "no_ticket", "unmapped", "in_sync", "push"; "unknown" otherwise. */
const char *reconcile_outcome_name(enum reconcile_outcome o);

/* Among tickets listing detection_id: the most recent updated_at, ties to the greatest
 * id (byte order). NULL when none; *candidates gets the count. */
const ticket_t *reconcile_pick_ticket(const ticket_t *tickets, size_t n, int64_t detection_id,
                                      size_t *candidates);

#endif
