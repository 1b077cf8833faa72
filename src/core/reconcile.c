/* reconcile: desired ticket fields for one detection; see reconcile.h. */
#include "ticketsync/reconcile.h"

#include <string.h>

const char *
reconcile_outcome_name(enum reconcile_outcome o)
{
	switch (o) {
	case RECONCILE_NO_TICKET: return "no_ticket";
	case RECONCILE_UNMAPPED: return "unmapped";
	case RECONCILE_IN_SYNC: return "in_sync";
	case RECONCILE_PUSH: return "push";
	}
	return "unknown";
}

/* Whether a should win over b: newer updated_at, then the greater id (so the choice
 * never depends on the order the tickets were loaded in). */
static bool
reconcile_newer(const ticket_t *a, const ticket_t *b)
{
	if (a->updated_at != b->updated_at)
		return a->updated_at > b->updated_at;
	return strcmp(a->id ? a->id : "", b->id ? b->id : "") > 0;
}

const ticket_t *
reconcile_pick_ticket(const ticket_t *tickets, size_t n, int64_t detection_id, size_t *candidates)
{
	const ticket_t *best = NULL;
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		const ticket_t *t = &tickets[i];

		if (!ticket_has_detection(t, detection_id))
			continue;
		count++;
		if (best == NULL || reconcile_newer(t, best))
			best = t;
	}
	if (candidates != NULL)
		*candidates = count;
	return best;
}

void
reconcile_run(const reconcile_input_t *in, reconcile_result_t *out)
{
	const ticket_t *w;

	memset(out, 0, sizeof(*out));
	fields_init(&out->desired);
	fields_init(&out->baseline);
	out->outcome = RECONCILE_NO_TICKET;

	w = reconcile_pick_ticket(in->tickets, in->n_tickets, in->detection->id, &out->candidates);
	if (w == NULL)
		return;
	out->winner = w;
	out->raw_status = w->status;
	out->raw_resolution = w->resolution;
	out->raw_status_category = w->status_category;

	out->outcome = RECONCILE_UNMAPPED;
	/* A status name the map lacks falls back to its category (Jira's statusCategory),
	 * so a new workflow status still moves the detection. */
	if (statusmap_lookup_ticket(in->map, w->status, w->status_category, w->resolution,
	        &out->desired.status, &out->desired.resolution, &out->by_category) != STATUSMAP_MAPPED)
		return;
	/* Cannot fail for tickets from ticket_parse (it enforces these bounds). */
	if (w->id == NULL || fields_set_ticket_id(&out->desired, w->id) != 0 ||
	    fields_set_assignee(&out->desired, w->assignee) != 0) {
		fields_init(&out->desired);
		return;
	}

	out->baseline_is_last_pushed = in->last_pushed != NULL;
	out->baseline = in->last_pushed ? *in->last_pushed : in->detection->fields;
	if (fields_equal(&out->desired, &out->baseline)) {
		out->outcome = RECONCILE_IN_SYNC;
		return;
	}
	out->outcome = RECONCILE_PUSH;
	out->mask = pushplan_mask(&out->desired, &out->baseline);
}
