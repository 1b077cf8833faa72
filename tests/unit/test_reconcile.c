/* reconcile: the seed example, in-sync, unmapped, several tickets, baselines, nulls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ticketsync/reconcile.h"

static statusmap_t *map;

static int
setup(void **state)
{
	(void)state;
	map = statusmap_new(true);
	return map == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	statusmap_destroy(map);
	return 0;
}

/* A ticket as ticket_parse would produce it, from BSON. */
static void
make_ticket(ticket_t *t, const char *id, int64_t updated_at, const char *status,
            const char *assignee, const char *resolution, int64_t det1, int64_t det2)
{
	bson_t doc, arr;
	bson_error_t err;

	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "_id", id);
	BSON_APPEND_ARRAY_BEGIN(&doc, "detection_ids", &arr);
	BSON_APPEND_INT64(&arr, "0", det1);
	if (det2 > 0)
		BSON_APPEND_INT64(&arr, "1", det2);
	bson_append_array_end(&doc, &arr);
	if (status)
		BSON_APPEND_UTF8(&doc, "status", status);
	else
		BSON_APPEND_NULL(&doc, "status");
	if (assignee)
		BSON_APPEND_UTF8(&doc, "assignee", assignee);
	else
		BSON_APPEND_NULL(&doc, "assignee");
	if (resolution)
		BSON_APPEND_UTF8(&doc, "resolution", resolution);
	BSON_APPEND_DATE_TIME(&doc, "updated_at", updated_at);
	if (ticket_parse(&doc, t, &err) != 0)
		fail_msg("ticket_parse: %s", err.message);
	bson_destroy(&doc);
}

/* A detection as the trigger writes it: no ticket fields yet unless given. */
static void
make_detection(detection_t *d, bson_t *doc, int64_t id, const char *ticket_id, const char *status,
               const char *assignee)
{
	bson_error_t err;

	bson_init(doc);
	BSON_APPEND_INT64(doc, "_id", id);
	BSON_APPEND_UTF8(doc, "title", "seed");
	if (ticket_id)
		BSON_APPEND_UTF8(doc, "ticket_id", ticket_id);
	if (status)
		BSON_APPEND_UTF8(doc, "status", status);
	if (assignee)
		BSON_APPEND_UTF8(doc, "assignee", assignee);
	if (detection_parse(doc, d, &err) != 0)
		fail_msg("detection_parse: %s", err.message);
}

static void
expect_fields(const fields_t *f, const char *ticket_id, enum fields_status st, const char *assignee,
              enum fields_resolution res)
{
	fields_t want;

	fields_init(&want);
	assert_int_equal(fields_set_ticket_id(&want, ticket_id), 0);
	assert_int_equal(fields_set_assignee(&want, assignee), 0);
	want.status = st;
	want.resolution = res;
	if (!fields_equal(f, &want))
		fail_msg("got {%s,%d,%s,%d}, want {%s,%d,%s,%d}", f->has_ticket_id ? f->ticket_id : "null",
		    f->status, f->has_assignee ? f->assignee : "null", f->resolution,
		    ticket_id ? ticket_id : "null", st, assignee ? assignee : "null", res);
}

/* ExtraHop's documented example: detections 1, 2, 3 with tickets TK-16982 (status new,
 * sally), TK-2078 (jim) and TK-3452 (alex), the last two with a null status. The
 * detections show no ticket fields yet, so every field that is set must be pushed. */
static void
test_seed_example(void **state)
{
	ticket_t t[3];
	detection_t d[3];
	bson_t docs[3];
	reconcile_result_t r;

	(void)state;
	make_ticket(&t[0], "TK-16982", 1000, "new", "sally", NULL, 1, 0);
	make_ticket(&t[1], "TK-2078", 1000, NULL, "jim", NULL, 2, 0);
	make_ticket(&t[2], "TK-3452", 1000, NULL, "alex", NULL, 3, 0);
	for (int i = 0; i < 3; i++)
		make_detection(&d[i], &docs[i], i + 1, NULL, NULL, NULL);

	reconcile_run(&(reconcile_input_t){ &d[0], t, 3, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	assert_string_equal(reconcile_outcome_name(r.outcome), "push");
	assert_int_equal(r.candidates, 1);
	assert_ptr_equal(r.winner, &t[0]);
	assert_false(r.baseline_is_last_pushed);
	expect_fields(&r.desired, "TK-16982", FIELDS_STATUS_NEW, "sally", FIELDS_RESOLUTION_NULL);
	assert_int_equal(r.mask, FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_ASSIGNEE);

	reconcile_run(&(reconcile_input_t){ &d[1], t, 3, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	assert_ptr_equal(r.winner, &t[1]);
	expect_fields(&r.desired, "TK-2078", FIELDS_STATUS_NULL, "jim", FIELDS_RESOLUTION_NULL);
	/* status stays null: not in the mask */
	assert_int_equal(r.mask, FIELDS_TICKET_ID | FIELDS_ASSIGNEE);

	reconcile_run(&(reconcile_input_t){ &d[2], t, 3, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	expect_fields(&r.desired, "TK-3452", FIELDS_STATUS_NULL, "alex", FIELDS_RESOLUTION_NULL);
	assert_int_equal(r.mask, FIELDS_TICKET_ID | FIELDS_ASSIGNEE);

	/* after pushing, the same input is in sync */
	for (int i = 0; i < 3; i++) {
		fields_t pushed;

		reconcile_run(&(reconcile_input_t){ &d[i], t, 3, map, NULL }, &r);
		pushed = r.desired;
		reconcile_run(&(reconcile_input_t){ &d[i], t, 3, map, &pushed }, &r);
		assert_int_equal(r.outcome, RECONCILE_IN_SYNC);
		assert_true(r.baseline_is_last_pushed);
		assert_int_equal(r.mask, 0);
	}
	for (int i = 0; i < 3; i++) {
		ticket_cleanup(&t[i]);
		bson_destroy(&docs[i]);
	}
}

static void
test_no_ticket(void **state)
{
	ticket_t t;
	detection_t d;
	bson_t doc;
	reconcile_result_t r;

	(void)state;
	make_detection(&d, &doc, 5, "TK-1", "closed", "sally");
	reconcile_run(&(reconcile_input_t){ &d, NULL, 0, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_NO_TICKET);
	assert_string_equal(reconcile_outcome_name(r.outcome), "no_ticket");
	assert_int_equal(r.candidates, 0);
	assert_null(r.winner);
	assert_int_equal(r.mask, 0);
	/* a ticket that does not list the detection is not a candidate */
	make_ticket(&t, "TK-1", 1, "new", "x", NULL, 6, 7);
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_NO_TICKET);
	assert_int_equal(r.candidates, 0);
	ticket_cleanup(&t);
	bson_destroy(&doc);
}

static void
test_in_sync_with_detection(void **state)
{
	ticket_t t;
	detection_t d;
	bson_t doc;
	reconcile_result_t r;

	(void)state;
	/* ExtraHop already shows what the ticket says (e.g. set by the old script) */
	make_ticket(&t, "TK-7", 10, "In Progress", "jim", NULL, 7, 0);
	make_detection(&d, &doc, 7, "TK-7", "in_progress", "jim");
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_IN_SYNC);
	assert_string_equal(reconcile_outcome_name(r.outcome), "in_sync");
	assert_false(r.baseline_is_last_pushed);
	expect_fields(&r.baseline, "TK-7", FIELDS_STATUS_IN_PROGRESS, "jim", FIELDS_RESOLUTION_NULL);
	ticket_cleanup(&t);
	bson_destroy(&doc);
}

static void
test_unmapped(void **state)
{
	ticket_t t;
	detection_t d;
	bson_t doc;
	reconcile_result_t r;

	(void)state;
	make_ticket(&t, "TK-8", 10, "Waiting for Customer", "jim", "Pending", 8, 0);
	make_detection(&d, &doc, 8, NULL, NULL, NULL);
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_UNMAPPED);
	assert_string_equal(reconcile_outcome_name(r.outcome), "unmapped");
	assert_ptr_equal(r.winner, &t);
	assert_string_equal(r.raw_status, "Waiting for Customer");
	assert_string_equal(r.raw_resolution, "Pending");
	assert_int_equal(r.mask, 0);
	ticket_cleanup(&t);
	bson_destroy(&doc);
}

/* A Jira ticket in a workflow status the map does not know is decided by its stored
 * status category (written by the webhook intake); without one it stays unmapped. */
static void
test_status_category_fallback(void **state)
{
	bson_t *tdoc = BCON_NEW("_id", BCON_UTF8("OPS-12"), "detection_ids", "[", BCON_INT64(12), "]",
	    "status", BCON_UTF8("Released to Prod"), "status_category", BCON_UTF8("done"), "assignee",
	    BCON_UTF8("sally"), "resolution", BCON_UTF8("Won't Fix"), "updated_at", BCON_DATE_TIME(50));
	ticket_t t;
	detection_t d;
	bson_t doc;
	bson_error_t err;
	reconcile_result_t r;

	(void)state;
	if (ticket_parse(tdoc, &t, &err) != 0)
		fail_msg("ticket_parse: %s", err.message);
	make_detection(&d, &doc, 12, NULL, NULL, NULL);
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	assert_true(r.by_category);
	assert_string_equal(r.raw_status_category, "done");
	expect_fields(&r.desired, "OPS-12", FIELDS_STATUS_CLOSED, "sally",
	    FIELDS_RESOLUTION_NO_ACTION_TAKEN);

	/* in a known status the name decides, not the category */
	free(t.status);
	t.status = strdup("In Progress");
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	assert_false(r.by_category);
	expect_fields(&r.desired, "OPS-12", FIELDS_STATUS_IN_PROGRESS, "sally", FIELDS_RESOLUTION_NULL);

	/* no category: the unknown status is unmapped, as before */
	free(t.status);
	t.status = strdup("Released to Prod");
	free(t.status_category);
	t.status_category = NULL;
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_UNMAPPED);
	assert_false(r.by_category);
	assert_null(r.raw_status_category);
	ticket_cleanup(&t);
	bson_destroy(&doc);
	bson_destroy(tdoc);
}

static void
test_newest_ticket_wins(void **state)
{
	ticket_t t[3];
	detection_t d;
	bson_t doc;
	reconcile_result_t r;

	(void)state;
	make_ticket(&t[0], "TK-A", 100, "new", "ann", NULL, 9, 0);
	make_ticket(&t[1], "TK-B", 300, "Done", "bob", "Won't Do", 9, 10);
	make_ticket(&t[2], "TK-C", 200, "In Progress", "cat", NULL, 9, 0);
	make_detection(&d, &doc, 9, NULL, NULL, NULL);
	reconcile_run(&(reconcile_input_t){ &d, t, 3, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	assert_int_equal(r.candidates, 3);
	assert_ptr_equal(r.winner, &t[1]);
	expect_fields(&r.desired, "TK-B", FIELDS_STATUS_CLOSED, "bob", FIELDS_RESOLUTION_NO_ACTION_TAKEN);
	assert_int_equal(r.mask, FIELDS_ALL);
	/* the order of the input does not matter */
	{
		ticket_t rev[3] = { t[2], t[1], t[0] };

		reconcile_run(&(reconcile_input_t){ &d, rev, 3, map, NULL }, &r);
		assert_ptr_equal(r.winner, &rev[1]);
	}
	for (int i = 0; i < 3; i++)
		ticket_cleanup(&t[i]);
	bson_destroy(&doc);
}

static void
test_tie_break_greatest_id(void **state)
{
	ticket_t t[3];
	detection_t d;
	bson_t doc;
	reconcile_result_t r;
	size_t n;

	(void)state;
	make_ticket(&t[0], "TK-100", 500, "new", "a", NULL, 11, 0);
	make_ticket(&t[1], "TK-99", 500, "new", "b", NULL, 11, 0); /* "TK-99" > "TK-100" bytewise */
	make_ticket(&t[2], "TK-2", 400, "new", "c", NULL, 11, 0);
	make_detection(&d, &doc, 11, NULL, NULL, NULL);
	reconcile_run(&(reconcile_input_t){ &d, t, 3, map, NULL }, &r);
	assert_ptr_equal(r.winner, &t[1]);
	assert_int_equal(r.candidates, 3);
	{
		ticket_t rev[3] = { t[2], t[1], t[0] };

		assert_ptr_equal(reconcile_pick_ticket(rev, 3, 11, &n), &rev[1]);
		assert_int_equal(n, 3);
	}
	assert_null(reconcile_pick_ticket(t, 3, 12, &n));
	assert_int_equal(n, 0);
	for (int i = 0; i < 3; i++)
		ticket_cleanup(&t[i]);
	bson_destroy(&doc);
}

static void
test_baseline_last_pushed_vs_detection(void **state)
{
	ticket_t t;
	detection_t d;
	bson_t doc;
	reconcile_result_t r;
	fields_t pushed;

	(void)state;
	make_ticket(&t, "TK-5", 10, "Done", "sally", "Fixed", 12, 0);
	/* ExtraHop's last DETECTION_UPDATE still shows the old state */
	make_detection(&d, &doc, 12, "TK-5", "in_progress", "sally");
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	assert_int_equal(r.mask, FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_RESOLUTION);
	/* we pushed it already: the stale detection no longer matters */
	pushed = r.desired;
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, &pushed }, &r);
	assert_int_equal(r.outcome, RECONCILE_IN_SYNC);
	/* last push differs only in the assignee: the mask is that plus ticket_id */
	assert_int_equal(fields_set_assignee(&pushed, "jim"), 0);
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, &pushed }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	assert_true(r.baseline_is_last_pushed);
	assert_int_equal(r.mask, FIELDS_TICKET_ID | FIELDS_ASSIGNEE);
	assert_int_equal(pushplan_mask(&r.desired, &pushed), r.mask);
	ticket_cleanup(&t);
	bson_destroy(&doc);
}

static void
test_null_handling(void **state)
{
	ticket_t t;
	detection_t d;
	bson_t doc;
	reconcile_result_t r;
	fields_t pushed;

	(void)state;
	/* the ticket is unassigned again and reopened: nulls are pushed as nulls */
	make_ticket(&t, "TK-6", 10, NULL, NULL, NULL, 13, 0);
	make_detection(&d, &doc, 13, "TK-6", "closed", "sally");
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	expect_fields(&r.desired, "TK-6", FIELDS_STATUS_NULL, NULL, FIELDS_RESOLUTION_NULL);
	assert_int_equal(r.mask, FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_ASSIGNEE);
	fields_init(&pushed);
	assert_int_equal(fields_set_ticket_id(&pushed, "TK-6"), 0);
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, &pushed }, &r);
	assert_int_equal(r.outcome, RECONCILE_IN_SYNC);
	/* an empty string assignee is a value, not null */
	ticket_cleanup(&t);
	make_ticket(&t, "TK-6", 10, NULL, "", NULL, 13, 0);
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, &pushed }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	assert_int_equal(r.mask, FIELDS_TICKET_ID | FIELDS_ASSIGNEE);
	ticket_cleanup(&t);
	bson_destroy(&doc);
}

static void
test_ticket_id_change_and_resolution_only_with_closed(void **state)
{
	ticket_t t;
	detection_t d;
	bson_t doc;
	reconcile_result_t r;

	(void)state;
	/* the detection was linked to another ticket: only ticket_id changes */
	make_ticket(&t, "TK-NEW", 10, "new", "sally", "Fixed", 14, 0);
	make_detection(&d, &doc, 14, "TK-OLD", "new", "sally");
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_PUSH);
	assert_int_equal(r.mask, FIELDS_TICKET_ID);
	/* a resolution on a non-closed ticket is not carried over */
	assert_int_equal(r.desired.resolution, FIELDS_RESOLUTION_NULL);
	ticket_cleanup(&t);
	bson_destroy(&doc);
}

static void
test_hand_built_ticket_out_of_bounds(void **state)
{
	char big[FIELDS_ASSIGNEE_MAX + 2];
	int64_t ids[] = { 15 };
	ticket_t t = { .id = "TK-15", .detection_ids = ids, .n_detection_ids = 1, .status = "new" };
	detection_t d;
	bson_t doc;
	reconcile_result_t r;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	t.assignee = big;
	make_detection(&d, &doc, 15, NULL, NULL, NULL);
	reconcile_run(&(reconcile_input_t){ &d, &t, 1, map, NULL }, &r);
	assert_int_equal(r.outcome, RECONCILE_UNMAPPED);
	assert_false(r.desired.has_ticket_id);
	bson_destroy(&doc);
	assert_string_equal(reconcile_outcome_name((enum reconcile_outcome)42), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_example),
		cmocka_unit_test(test_no_ticket),
		cmocka_unit_test(test_in_sync_with_detection),
		cmocka_unit_test(test_unmapped),
		cmocka_unit_test(test_status_category_fallback),
		cmocka_unit_test(test_newest_ticket_wins),
		cmocka_unit_test(test_tie_break_greatest_id),
		cmocka_unit_test(test_baseline_last_pushed_vs_detection),
		cmocka_unit_test(test_null_handling),
		cmocka_unit_test(test_ticket_id_change_and_resolution_only_with_closed),
		cmocka_unit_test(test_hand_built_ticket_out_of_bounds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
