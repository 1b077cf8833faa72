/*
 * fuzz_reconcile: reconcile_run on detections, tickets, status maps and last-pushed
 * values built from the input bytes (structured fuzzing: every input is a valid
 * case). Tickets keep the invariants ticket_parse guarantees (non-NULL unique ids,
 * sorted unique detection ids) except for string bounds and UTF-8, which reconcile
 * must survive on its own (it reports such a winner as unmapped).
 *
 * Checks the decision against the header's rules: the winner is the newest listing
 * ticket (ties to the greatest id) whatever the order; desired = mapped winner;
 * outcome and PATCH mask follow from desired vs baseline; and pushing the desired
 * value converges (a second run with it as last_pushed is in sync).
 */
#include "fuzz_common.h"
#include "ticketsync/reconcile.h"

#define MAX_TICKETS 8

static const char *const ticket_ids[] = { "TK-1", "TK-2", "TK-10", "TK-9", "A", "a", "TK-1 " };
static const char *const statuses[] = {
	"new", "In Progress", "Done", "closed", "Resolved", "Waiting", "open", "6", "", " done ",
};
static const char *const resolutions[] = { "Fixed", "Won't Do", "Duplicate", "", "action_taken", "x" };
static const char *const people[] = { "sally", "jim", "", "Zoë" };
static const char *const categories[] = { "new", "indeterminate", "done", "Done ", "", "other" };

#define PICK(r, table) (table[fuzz_u8(r) % (sizeof(table) / sizeof(table[0]))])

/* A table entry, NULL, or (rarely) arbitrary bytes of up to maxlen. */
static char *
pick_string(fuzz_reader_t *r, const char *const *table, size_t n, size_t maxlen)
{
	uint8_t c = fuzz_u8(r);

	if (c < 32)
		return NULL;
	if (c < 48)
		return fuzz_str(r, maxlen);
	return strdup(table[c % n]);
}

static void
random_fields(fuzz_reader_t *r, fields_t *f)
{
	uint8_t c = fuzz_u8(r);

	fields_init(f);
	if (c & 1)
		fields_set_ticket_id(f, PICK(r, ticket_ids));
	if (c & 2)
		fields_set_assignee(f, PICK(r, people));
	f->status = (enum fields_status)((c >> 2) % 5);
	f->resolution = (enum fields_resolution)((c >> 5) % 3);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void
random_ticket(fuzz_reader_t *r, ticket_t *t)
{
	size_t k = fuzz_u8(r) % 5, u = 0;

	memset(t, 0, sizeof(*t));
	t->id = pick_string(r, ticket_ids, sizeof(ticket_ids) / sizeof(ticket_ids[0]), 200);
	if (t->id == NULL)
		t->id = strdup("TK-null");
	t->detection_ids = calloc(k + 1, sizeof(int64_t));
	for (size_t i = 0; i < k; i++)
		t->detection_ids[i] = 1 + fuzz_u8(r) % 6;
	qsort(t->detection_ids, k, sizeof(int64_t), cmp_i64);
	for (size_t i = 0; i < k; i++) {
		if (u == 0 || t->detection_ids[u - 1] != t->detection_ids[i])
			t->detection_ids[u++] = t->detection_ids[i];
	}
	t->n_detection_ids = u;
	t->status = pick_string(r, statuses, sizeof(statuses) / sizeof(statuses[0]), 160);
	t->resolution = pick_string(r, resolutions, sizeof(resolutions) / sizeof(resolutions[0]), 160);
	t->status_category = pick_string(r, categories, sizeof(categories) / sizeof(categories[0]), 160);
	t->assignee = pick_string(r, people, sizeof(people) / sizeof(people[0]), 300);
	t->updated_at = fuzz_u8(r) % 4; /* few values: ties are the interesting case */
}

static bool
newer(const ticket_t *a, const ticket_t *b)
{
	if (a->updated_at != b->updated_at)
		return a->updated_at > b->updated_at;
	return strcmp(a->id, b->id) > 0;
}

static void
check(const reconcile_input_t *in, const reconcile_result_t *res)
{
	size_t listing = 0;
	enum fields_status st;
	enum fields_resolution rs;
	bool by_category = false;
	fields_t want;

	for (size_t i = 0; i < in->n_tickets; i++)
		listing += ticket_has_detection(&in->tickets[i], in->detection->id);
	FUZZ_CHECK(res->candidates == listing, "candidates %zu, %zu tickets list it", res->candidates,
	    listing);
	if (listing == 0) {
		FUZZ_CHECK(res->outcome == RECONCILE_NO_TICKET && res->winner == NULL, "no ticket, outcome %s",
		    reconcile_outcome_name(res->outcome));
		return;
	}
	FUZZ_CHECK(res->winner != NULL && ticket_has_detection(res->winner, in->detection->id),
	    "winner does not list the detection");
	for (size_t i = 0; i < in->n_tickets; i++) {
		const ticket_t *t = &in->tickets[i];
		if (t != res->winner && ticket_has_detection(t, in->detection->id))
			FUZZ_CHECK(!newer(t, res->winner), "%s beats the winner %s", t->id, res->winner->id);
	}
	if (statusmap_lookup_ticket(in->map, res->winner->status, res->winner->status_category,
	        res->winner->resolution, &st, &rs, &by_category) != STATUSMAP_MAPPED) {
		FUZZ_CHECK(res->outcome == RECONCILE_UNMAPPED, "unmapped status, outcome %s",
		    reconcile_outcome_name(res->outcome));
		return;
	}
	fields_init(&want);
	want.status = st;
	want.resolution = rs;
	if (fields_set_ticket_id(&want, res->winner->id) != 0 ||
	    fields_set_assignee(&want, res->winner->assignee) != 0) {
		FUZZ_CHECK(res->outcome == RECONCILE_UNMAPPED, "out-of-bounds winner, outcome %s",
		    reconcile_outcome_name(res->outcome));
		return;
	}
	FUZZ_CHECK(fields_equal(&want, &res->desired), "desired is not the mapped winner");
	FUZZ_CHECK(res->by_category == by_category, "by_category %d, the map says %d",
	    (int)res->by_category, (int)by_category);
	FUZZ_CHECK(fields_equal(&res->baseline, in->last_pushed ? in->last_pushed : &in->detection->fields),
	    "wrong baseline");
	FUZZ_CHECK(res->baseline_is_last_pushed == (in->last_pushed != NULL), "baseline flag");
	if (fields_equal(&res->desired, &res->baseline)) {
		FUZZ_CHECK(res->outcome == RECONCILE_IN_SYNC && res->mask == 0, "equal but outcome %s",
		    reconcile_outcome_name(res->outcome));
	} else {
		FUZZ_CHECK(res->outcome == RECONCILE_PUSH, "different but outcome %s",
		    reconcile_outcome_name(res->outcome));
		FUZZ_CHECK(res->mask == (fields_diff(&res->desired, &res->baseline) | FIELDS_TICKET_ID),
		    "mask %#x", res->mask);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reader_t r = { data, size };
	uint8_t flags = fuzz_u8(&r);
	statusmap_t *map = statusmap_new(flags & 1);
	ticket_t tickets[MAX_TICKETS], reversed[MAX_TICKETS];
	size_t n = 0, want_n = fuzz_u8(&r) % (MAX_TICKETS + 1);
	detection_t det;
	fields_t last, desired;
	reconcile_input_t in;
	reconcile_result_t res, res2;
	int adds = fuzz_u8(&r) % 4;

	FUZZ_CHECK(map != NULL, "statusmap_new failed");
	for (int i = 0; i < adds; i++) {
		char *k = pick_string(&r, statuses, sizeof(statuses) / sizeof(statuses[0]), 40);
		char *v = fuzz_str(&r, 40);
		if (k != NULL)
			statusmap_add(map, k, v, NULL);
		free(k);
		free(v);
	}
	memset(&det, 0, sizeof(det));
	det.id = 1 + fuzz_u8(&r) % 6;
	random_fields(&r, &det.fields);
	random_fields(&r, &last);
	for (size_t i = 0; i < want_n; i++) {
		bool dup = false;

		random_ticket(&r, &tickets[n]);
		/* _id is unique in a collection: equal ids would make the order matter. */
		for (size_t j = 0; j < n; j++)
			dup = dup || strcmp(tickets[j].id, tickets[n].id) == 0;
		if (dup)
			ticket_cleanup(&tickets[n]);
		else
			n++;
	}

	in = (reconcile_input_t){ &det, tickets, n, map, (flags & 2) ? &last : NULL };
	reconcile_run(&in, &res);
	check(&in, &res);

	/* The order the tickets were loaded in never matters. */
	for (size_t i = 0; i < n; i++)
		reversed[i] = tickets[n - 1 - i];
	in.tickets = reversed;
	reconcile_run(&in, &res2);
	FUZZ_CHECK(res2.outcome == res.outcome && res2.mask == res.mask &&
	               fields_equal(&res2.desired, &res.desired) &&
	               (res.winner == NULL) == (res2.winner == NULL) &&
	               (res.winner == NULL || strcmp(res.winner->id, res2.winner->id) == 0),
	    "ticket order changed the decision");

	/* Once desired was pushed, nothing more is to do. */
	if (res.outcome == RECONCILE_PUSH || res.outcome == RECONCILE_IN_SYNC) {
		desired = res.desired;
		in.tickets = tickets;
		in.last_pushed = &desired;
		reconcile_run(&in, &res2);
		FUZZ_CHECK(res2.outcome == RECONCILE_IN_SYNC, "pushing desired does not converge: %s",
		    reconcile_outcome_name(res2.outcome));
		FUZZ_CHECK(pushplan_mask(&res.desired, &res.baseline) & FIELDS_TICKET_ID,
		    "PATCH mask without ticket_id");
	}
	for (size_t i = 0; i < n; i++)
		ticket_cleanup(&tickets[i]);
	statusmap_destroy(map);
	return 0;
}
