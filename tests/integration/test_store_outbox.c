/*
 * outbox against a MongoDB server (the test server, or TICKETSYNC_TEST_MONGODB_URI):
 * the state machine of one detection, claim ordering and limits, concurrent
 * claimers, expired claims, parking and replay, counts. Times are passed in, so
 * nothing here waits on a clock.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ticketsync/outbox.h"
#include "ticketsync/outbox_view.h"
#include "ticketsync/schema.h"
#include "ticketsync/store.h"
#include "tsoutbox.h"
#include "tsstore.h"

#define T0 1700000000000LL /* a fixed "now" */

/* Each test gets a fresh database with the service schema, so validators check every
 * document the outbox writes. */
typedef tsstore_fixture_t fixture_t;

static int
setup(void **state)
{
	return tsstore_setup(state, "outbox", TSSTORE_SCHEMA_ALL);
}

/* No validators: for documents only something bypassing them could have written. */
static int
setup_unvalidated(void **state)
{
	return tsstore_setup(state, "outbox_raw", TSSTORE_SCHEMA_NONE);
}

/* Claimed items own their values; the tests keep items on the stack and hand them to
 * complete after reading them, so the values of every claim made on the test's own
 * thread are kept here and released at teardown. */
static bson_t **kept;
static size_t n_kept, cap_kept;

static void
keep_values(outbox_item_t *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bson_t *v[3] = { items[i].desired, items[i].pushed, items[i].baseline };

		for (size_t k = 0; k < 3; k++) {
			if (v[k] == NULL)
				continue;
			if (n_kept == cap_kept) {
				cap_kept = cap_kept ? 2 * cap_kept : 64;
				kept = realloc(kept, cap_kept * sizeof(*kept));
				assert_non_null(kept);
			}
			kept[n_kept++] = v[k];
		}
	}
}

static int
teardown(void **state)
{
	for (size_t i = 0; i < n_kept; i++)
		bson_destroy(kept[i]);
	free(kept);
	kept = NULL;
	n_kept = cap_kept = 0;
	return tsstore_teardown(state);
}

/* ---- helpers ---- */

static fields_t
F(const char *ticket, enum fields_status st, const char *assignee, enum fields_resolution res)
{
	fields_t f;

	fields_init(&f);
	assert_int_equal(fields_set_ticket_id(&f, ticket), 0);
	f.status = st;
	assert_int_equal(fields_set_assignee(&f, assignee), 0);
	f.resolution = res;
	return f;
}

static fields_t
empty_fields(void)
{
	fields_t f;

	fields_init(&f);
	return f;
}

static void
set(fixture_t *f, int64_t id, const fields_t *desired, const fields_t *baseline, int64_t now,
    enum outbox_change want_change, int64_t want_version, const char *want_state)
{
	outbox_set_result_t r;
	bson_error_t err;

	if (!tsoutbox_set(f->client, f->db, id, desired, baseline,
	        desired->has_ticket_id ? desired->ticket_id : NULL, now, &r, &err))
		fail_msg("set_desired %lld: %s", (long long)id, err.message);
	assert_int_equal(r.change, want_change);
	assert_int_equal(r.version, want_version);
	assert_string_equal(r.state, want_state);
}

static size_t
claim(fixture_t *f, int64_t now, size_t limit, const char *owner, int64_t timeout,
    outbox_item_t *items)
{
	bson_error_t err;
	size_t n = 99999;

	if (!outbox_claim(f->client, f->db, STORE_COLL_STATE, now, limit, owner, timeout, items, &n,
	        &err))
		fail_msg("claim: %s", err.message);
	assert_true(n <= limit);
	keep_values(items, n);
	return n;
}

static size_t
complete1(fixture_t *f, const outbox_item_t *it, enum pushplan_outcome outcome, int64_t now,
    int64_t next, int http, const char *msg)
{
	outbox_result_t r = {
		.id = it->id,
		.version = it->version,
		.claim_id = it->claim_id,
		.outcome = outcome,
		.sent = it->desired,
		.next_attempt_ms = next,
		.http_status = http,
		.message = msg,
	};
	bson_error_t err;
	size_t applied = 99;

	if (!outbox_complete(f->client, f->db, STORE_COLL_STATE, &r, 1, now, &applied, &err))
		fail_msg("complete: %s", err.message);
	return applied;
}

/* The stored document of id, for checks on fields no API returns. */
static void
get_doc(fixture_t *f, int64_t id, bson_t *doc)
{
	bson_error_t err;
	bool found;

	if (!tsstore_find_id(f->client, f->db, STORE_COLL_STATE, id, doc, &found, &err))
		fail_msg("get: %s", err.message);
	assert_true(found);
}

static const char *
doc_str(const bson_t *doc, const char *path)
{
	bson_iter_t it, d;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &d) ||
	    !BSON_ITER_HOLDS_UTF8(&d))
		return NULL;
	return bson_iter_utf8(&d, NULL);
}

static int64_t
doc_int(const bson_t *doc, const char *path)
{
	bson_iter_t it, d;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &d))
		return -12345;
	if (BSON_ITER_HOLDS_DATE_TIME(&d))
		return bson_iter_date_time(&d);
	return bson_iter_as_int64(&d);
}

static bool
doc_has(const bson_t *doc, const char *path)
{
	bson_iter_t it, d;

	return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &d);
}

static void
assert_state(fixture_t *f, int64_t id, const char *state)
{
	bson_t doc;

	get_doc(f, id, &doc);
	if (doc_str(&doc, "state") == NULL || strcmp(doc_str(&doc, "state"), state) != 0) {
		char *j = bson_as_relaxed_extended_json(&doc, NULL);

		fail_msg("detection %lld: want state %s, have %s", (long long)id, state, j);
	}
	bson_destroy(&doc);
}

static bool
doc_fields_equal(const bson_t *doc, const char *key, const fields_t *want)
{
	fields_t have;
	bool present;
	bson_error_t err;

	if (!store_fields_get(doc, key, &have, &present, &err) || !present)
		return false;
	return fields_equal(&have, want);
}

/* ---- tests ---- */

/* A stored value that is not a document (written past the validator) counts as absent:
 * recording a value rewrites it instead of failing every later write of the item. */
static void
test_value_not_a_document_is_rewritten(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	fields_t a = F("JIRA-9", FIELDS_STATUS_NEW, "alice", FIELDS_RESOLUTION_NULL);
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db,
	    STORE_COLL_STATE);
	bson_t *bad = bson_new_from_json((const uint8_t *)"{\"_id\": 9, \"desired\": \"garbage\", "
	    "\"baseline\": 7, \"version\": 3, \"state\": \"synced\"}", -1, NULL);
	bson_error_t err;
	bson_t doc;

	assert_non_null(bad);
	assert_true(mongoc_collection_insert_one(coll, bad, NULL, NULL, &err));
	bson_destroy(bad);
	mongoc_collection_destroy(coll);
	set(f, 9, &a, &base, T0, OUTBOX_UPDATED, 4, "pending");
	get_doc(f, 9, &doc);
	assert_true(doc_fields_equal(&doc, "desired", &a));
	bson_destroy(&doc);
}

static void
test_insert_unchanged_update(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	fields_t a = F("JIRA-1", FIELDS_STATUS_NEW, "alice", FIELDS_RESOLUTION_NULL);
	fields_t b = F("JIRA-1", FIELDS_STATUS_IN_PROGRESS, "alice", FIELDS_RESOLUTION_NULL);
	bson_t doc;
	bool found;
	bson_error_t err;

	/* Already what ExtraHop shows: nothing written at all. */
	set(f, 1, &base, &base, T0, OUTBOX_UNCHANGED, 0, "");
	assert_true(tsstore_find_id(f->client, f->db, STORE_COLL_STATE, 1, &doc, &found, &err));
	assert_false(found);
	bson_destroy(&doc);

	set(f, 1, &a, &base, T0, OUTBOX_INSERTED, 1, "pending");
	get_doc(f, 1, &doc);
	assert_true(doc_fields_equal(&doc, "desired", &a));
	assert_true(doc_fields_equal(&doc, "baseline", &base));
	assert_false(doc_has(&doc, "pushed"));
	assert_int_equal(doc_int(&doc, "version"), 1);
	assert_int_equal(doc_int(&doc, "pushed_version"), 0);
	assert_int_equal(doc_int(&doc, "attempts"), 0);
	assert_int_equal(doc_int(&doc, "next_attempt_at"), T0);
	assert_string_equal(doc_str(&doc, "ticket_id"), "JIRA-1");
	bson_destroy(&doc);

	/* Replays and duplicates: no write, same version (updated_at untouched). */
	set(f, 1, &a, &base, T0 + 50, OUTBOX_UNCHANGED, 1, "pending");
	set(f, 1, &a, &a, T0 + 60, OUTBOX_UNCHANGED, 1, "pending");
	get_doc(f, 1, &doc);
	assert_int_equal(doc_int(&doc, "updated_at"), T0);
	bson_destroy(&doc);

	/* A change bumps the version and is due at the new time; baseline stays. */
	set(f, 1, &b, &a, T0 + 100, OUTBOX_UPDATED, 2, "pending");
	get_doc(f, 1, &doc);
	assert_true(doc_fields_equal(&doc, "desired", &b));
	assert_true(doc_fields_equal(&doc, "baseline", &base));
	assert_int_equal(doc_int(&doc, "next_attempt_at"), T0 + 100);
	assert_int_equal(doc_int(&doc, "updated_at"), T0 + 100);
	bson_destroy(&doc);

	/* Back to what ExtraHop shows (baseline, nothing pushed yet): synced, no push. */
	set(f, 1, &base, &base, T0 + 200, OUTBOX_UPDATED, 3, "synced");
	{
		outbox_item_t items[4];

		assert_int_equal(claim(f, T0 + 300, 4, "t", 1000, items), 0);
	}
}

static void
test_push_cycle_and_mask(void **state)
{
	fixture_t *f = *state;
	fields_t base = F("JIRA-7", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
	fields_t a = F("JIRA-7", FIELDS_STATUS_IN_PROGRESS, "bob", FIELDS_RESOLUTION_NULL);
	fields_t b = F("JIRA-7", FIELDS_STATUS_CLOSED, "bob", FIELDS_RESOLUTION_ACTION_TAKEN);
	outbox_item_t items[4];
	store_pushed_t st;
	bson_error_t err;
	bson_t doc;

	set(f, 7, &a, &base, T0, OUTBOX_INSERTED, 1, "pending");
	assert_int_equal(claim(f, T0, 4, "worker-1", 30000, items), 1);
	assert_int_equal(items[0].id, 7);
	assert_int_equal(items[0].version, 1);
	assert_true(fields_equal((fields_t[]){ tsoutbox_desired(&items[0]) }, &a));
	/* Only what differs from the baseline, plus ticket_id which ExtraHop requires. */
	assert_int_equal(tsoutbox_mask(&items[0]), FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_ASSIGNEE);
	assert_int_equal(items[0].attempts, 0);
	assert_string_equal(items[0].ticket_id, "JIRA-7");
	assert_int_equal(strlen(items[0].claim_id), 24);
	get_doc(f, 7, &doc);
	assert_string_equal(doc_str(&doc, "state"), "in_flight");
	assert_string_equal(doc_str(&doc, "claim_id"), items[0].claim_id);
	assert_string_equal(doc_str(&doc, "claimed_by"), "worker-1");
	assert_int_equal(doc_int(&doc, "claimed_until"), T0 + 30000);
	assert_int_equal(doc_int(&doc, "claim_version"), 1);
	bson_destroy(&doc);

	assert_int_equal(complete1(f, &items[0], PUSHPLAN_PUSHED, T0 + 10, 0, 204, NULL), 1);
	get_doc(f, 7, &doc);
	assert_string_equal(doc_str(&doc, "state"), "synced");
	assert_true(doc_fields_equal(&doc, "pushed", &a));
	assert_int_equal(doc_int(&doc, "pushed_version"), 1);
	assert_int_equal(doc_int(&doc, "pushed_at"), T0 + 10);
	assert_int_equal(doc_int(&doc, "last.http_status"), 204);
	assert_string_equal(doc_str(&doc, "last.outcome"), "pushed");
	assert_false(doc_has(&doc, "claim_id"));
	assert_false(doc_has(&doc, "claimed_until"));
	bson_destroy(&doc);

	/* The next change is diffed against what was pushed, not the baseline. */
	set(f, 7, &b, &base, T0 + 20, OUTBOX_UPDATED, 2, "pending");
	assert_int_equal(claim(f, T0 + 20, 4, "worker-1", 30000, items), 1);
	assert_int_equal(tsoutbox_mask(&items[0]), FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_RESOLUTION);

	assert_true(tsstore_pushed(f->client, f->db, 7, &st, &err));
	assert_true(st.found);
	assert_true(st.has_pushed);
	assert_true(fields_equal(&st.pushed, &a));
	assert_true(fields_equal(&st.shown, &a));
	assert_true(fields_equal(&st.baseline, &base));
	assert_true(fields_equal(&st.desired, &b));
	assert_int_equal(st.version, 2);
	assert_int_equal(st.pushed_version, 1);
	assert_string_equal(st.state, "in_flight");

	/* Going back to the pushed value while synced needs no push. */
	assert_int_equal(complete1(f, &items[0], PUSHPLAN_PUSHED, T0 + 30, 0, 204, NULL), 1);
	set(f, 7, &a, &base, T0 + 40, OUTBOX_UPDATED, 3, "pending");
	set(f, 7, &b, &base, T0 + 50, OUTBOX_UPDATED, 4, "synced");
	assert_int_equal(claim(f, T0 + 60, 4, "worker-1", 30000, items), 0);
}

/* An ambiguous attempt (ExtraHop may apply it late): after the next acknowledged push
 * the detection comes back once, at the recheck time, with every field. */
static void
test_recheck_after_ambiguous_attempt(void **state)
{
	fixture_t *f = *state;
	fields_t base = F("JIRA-9", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
	fields_t a = F("JIRA-9", FIELDS_STATUS_IN_PROGRESS, "eve", FIELDS_RESOLUTION_NULL);
	outbox_item_t items[2];
	outbox_result_t r;
	bson_error_t err;
	bson_t doc;

	set(f, 9, &a, &base, T0, OUTBOX_INSERTED, 1, "pending");
	assert_int_equal(claim(f, T0, 2, "w", 30000, items), 1);
	/* Timed out: retried at T0+100, recheck at T0+5000. */
	r = (outbox_result_t){ .id = 9, .version = items[0].version, .claim_id = items[0].claim_id,
		.outcome = PUSHPLAN_RETRIED, .next_attempt_ms = T0 + 100, .recheck_at_ms = T0 + 5000 };
	assert_true(outbox_complete(f->client, f->db, STORE_COLL_STATE, &r, 1, T0 + 10, NULL, &err));
	get_doc(f, 9, &doc);
	assert_int_equal(doc_int(&doc, "recheck_at"), T0 + 5000);
	bson_destroy(&doc);
	/* The retry carries the recheck time and succeeds. */
	assert_int_equal(claim(f, T0 + 100, 2, "w", 30000, items), 1);
	assert_int_equal(items[0].recheck_at_ms, T0 + 5000);
	r = (outbox_result_t){ .id = 9, .version = items[0].version, .claim_id = items[0].claim_id,
		.outcome = PUSHPLAN_PUSHED, .sent = items[0].desired, .http_status = 204,
		.recheck_at_ms = items[0].recheck_at_ms };
	assert_true(outbox_complete(f->client, f->db, STORE_COLL_STATE, &r, 1, T0 + 110, NULL, &err));
	get_doc(f, 9, &doc);
	assert_string_equal(doc_str(&doc, "state"), "pending");
	assert_int_equal(doc_int(&doc, "next_attempt_at"), T0 + 5000);
	/* The time stays: a push that goes out earlier does not use the recheck up. */
	assert_int_equal(doc_int(&doc, "recheck_at"), T0 + 5000);
	assert_true(doc_fields_equal(&doc, "pushed", &a));
	bson_destroy(&doc);
	/* Not before its time; then once, with every field. */
	assert_int_equal(claim(f, T0 + 4999, 2, "w", 30000, items), 0);
	assert_int_equal(claim(f, T0 + 5000, 2, "w", 30000, items), 1);
	assert_int_equal(tsoutbox_mask(&items[0]), FIELDS_ALL);
	assert_int_equal(items[0].recheck_at_ms, T0 + 5000);
	r = (outbox_result_t){ .id = 9, .version = items[0].version, .claim_id = items[0].claim_id,
		.outcome = PUSHPLAN_PUSHED, .sent = items[0].desired, .http_status = 204,
		.recheck_at_ms = items[0].recheck_at_ms };
	assert_true(outbox_complete(f->client, f->db, STORE_COLL_STATE, &r, 1, T0 + 5010, NULL, &err));
	get_doc(f, 9, &doc);
	assert_false(doc_has(&doc, "recheck_at"));
	bson_destroy(&doc);
	get_doc(f, 9, &doc);
	assert_string_equal(doc_str(&doc, "state"), "synced");
	assert_false(doc_has(&doc, "force_full"));
	bson_destroy(&doc);
	assert_int_equal(claim(f, T0 + 99999, 2, "w", 30000, items), 0);

	/* The ambiguous result arrives too late to apply (its claim expired and a newer
	 * push already synced the detection): the recheck still happens. */
	{
		outbox_item_t late[2];
		set(f, 9, &base, &a, T0 + 100000, OUTBOX_UPDATED, 2, "pending");
		assert_int_equal(claim(f, T0 + 100000, 2, "w", 1000, late), 1);
		/* expired; taken again and pushed by someone else */
		assert_int_equal(claim(f, T0 + 102000, 2, "w2", 1000, items), 1);
		assert_int_equal(complete1(f, &items[0], PUSHPLAN_PUSHED, T0 + 102010, 0, 204, NULL), 1);
		assert_state(f, 9, "synced");
		r = (outbox_result_t){ .id = 9, .version = late[0].version, .claim_id = late[0].claim_id,
			.outcome = PUSHPLAN_RETRIED, .next_attempt_ms = T0 + 103000,
			.recheck_at_ms = T0 + 120000 };
		assert_true(outbox_complete(f->client, f->db, STORE_COLL_STATE, &r, 1, T0 + 103000, NULL, &err));
		get_doc(f, 9, &doc);
		assert_string_equal(doc_str(&doc, "state"), "pending");
		assert_int_equal(doc_int(&doc, "next_attempt_at"), T0 + 120000);
		assert_true(doc_has(&doc, "force_full"));
		bson_destroy(&doc);
		assert_int_equal(claim(f, T0 + 120000, 2, "w", 1000, items), 1);
		assert_int_equal(tsoutbox_mask(&items[0]), FIELDS_ALL);
	}
}

/* A paused instance whose lease was taken over (smaller fencing token) can neither
 * change desired fields nor claim where its successor has written. */
static void
test_fencing_keeps_the_old_holder_out(void **state)
{
	fixture_t *f = *state;
	fields_t base = F("JIRA-5", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
	fields_t a = F("JIRA-5", FIELDS_STATUS_IN_PROGRESS, "new", FIELDS_RESOLUTION_NULL);
	fields_t old = F("JIRA-5", FIELDS_STATUS_NEW, "old", FIELDS_RESOLUTION_NULL);
	outbox_item_t items[2];
	outbox_set_result_t res;
	bson_error_t err;
	bson_t doc;

	/* The successor (token 5) records a value. */
	outbox_set_writer_fencing(5);
	set(f, 5, &a, &base, T0, OUTBOX_INSERTED, 1, "pending");
	get_doc(f, 5, &doc);
	assert_int_equal(doc_int(&doc, "fencing"), 5);
	bson_destroy(&doc);
	/* The old holder (token 3) wakes up: its write does not apply... */
	outbox_set_writer_fencing(3);
	assert_false(tsoutbox_set(f->client, f->db, 5, &old, &base, "JIRA-5", T0 + 10, &res,
	    &err));
	get_doc(f, 5, &doc);
	assert_true(doc_fields_equal(&doc, "desired", &a));
	bson_destroy(&doc);
	/* ...and it cannot claim the detection either. */
	assert_int_equal(claim(f, T0 + 20, 2, "old", 30000, items), 0);
	/* The successor still can; so can a later token. */
	outbox_set_writer_fencing(5);
	assert_int_equal(claim(f, T0 + 20, 2, "new", 30000, items), 1);
	outbox_set_writer_fencing(0);
}

static void
test_in_flight_stays_in_flight(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	fields_t a = F("T-1", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
	fields_t b = F("T-1", FIELDS_STATUS_IN_PROGRESS, "carol", FIELDS_RESOLUTION_NULL);
	outbox_item_t first[2], second[2];
	bson_t doc;

	set(f, 11, &a, &base, T0, OUTBOX_INSERTED, 1, "pending");
	assert_int_equal(claim(f, T0, 2, "w", 60000, first), 1);
	/* Desired changes while the PATCH for version 1 is out. */
	set(f, 11, &b, &base, T0 + 5, OUTBOX_UPDATED, 2, "in_flight");
	/* Never a second PATCH for the same detection while one is in flight. */
	assert_int_equal(claim(f, T0 + 10, 2, "w", 60000, second), 0);

	/* Version 1 acknowledged: recorded, and the detection is due again at once. */
	assert_int_equal(complete1(f, &first[0], PUSHPLAN_PUSHED, T0 + 20, 0, 204, NULL), 1);
	get_doc(f, 11, &doc);
	assert_string_equal(doc_str(&doc, "state"), "pending");
	assert_true(doc_fields_equal(&doc, "pushed", &a));
	assert_int_equal(doc_int(&doc, "pushed_version"), 1);
	assert_int_equal(doc_int(&doc, "next_attempt_at"), T0 + 20);
	bson_destroy(&doc);

	assert_int_equal(claim(f, T0 + 20, 2, "w", 60000, second), 1);
	assert_int_equal(second[0].version, 2);
	assert_true(fields_equal((fields_t[]){ tsoutbox_desired(&second[0]) }, &b));
	assert_int_equal(tsoutbox_mask(&second[0]), FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_ASSIGNEE);
	assert_string_not_equal(second[0].claim_id, first[0].claim_id);
	assert_int_equal(complete1(f, &second[0], PUSHPLAN_PUSHED, T0 + 30, 0, 204, NULL), 1);
	assert_state(f, 11, "synced");

	/* A retry overtaken by a change is due now, not at its backoff time, and a
	 * parked result overtaken by a change is not parked. */
	set(f, 11, &a, &base, T0 + 40, OUTBOX_UPDATED, 3, "pending");
	assert_int_equal(claim(f, T0 + 40, 2, "w", 60000, first), 1);
	set(f, 11, &b, &base, T0 + 45, OUTBOX_UPDATED, 4, "in_flight");
	assert_int_equal(complete1(f, &first[0], PUSHPLAN_RETRIED, T0 + 50, T0 + 99999, 503, "busy"), 1);
	get_doc(f, 11, &doc);
	assert_string_equal(doc_str(&doc, "state"), "pending");
	assert_int_equal(doc_int(&doc, "next_attempt_at"), T0 + 50);
	assert_int_equal(doc_int(&doc, "pushed_version"), 2);
	bson_destroy(&doc);
	assert_int_equal(claim(f, T0 + 50, 2, "w", 60000, first), 1);
	set(f, 11, &a, &base, T0 + 55, OUTBOX_UPDATED, 5, "in_flight");
	assert_int_equal(complete1(f, &first[0], PUSHPLAN_PARKED, T0 + 60, 0, 422, "bad"), 1);
	assert_state(f, 11, "pending");
}

static void
test_claim_order_and_limit(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	outbox_item_t items[8];

	/* Due times in reverse id order: 105 is due first. */
	for (int i = 0; i < 6; i++) {
		char t[16];
		fields_t d;

		snprintf(t, sizeof(t), "T-%d", i);
		d = F(t, FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
		set(f, 100 + i, &d, &base, T0 + 100 - i * 10, OUTBOX_INSERTED, 1, "pending");
	}
	/* ids 100..105 are due at T0 + 100, 90, ..., 50: at T0 + 75, 105..103 are. */
	assert_int_equal(claim(f, T0 + 75, 3, "w", 60000, items), 3);
	assert_int_equal(items[0].id, 105);
	assert_int_equal(items[1].id, 104);
	assert_int_equal(items[2].id, 103);
	/* Only what is due by now: 102 (due T0+80) and later are not. */
	assert_int_equal(claim(f, T0 + 75, 8, "w", 60000, items), 0);
	assert_int_equal(claim(f, T0 + 90, 8, "w", 60000, items), 2);
	assert_int_equal(items[0].id, 102);
	assert_int_equal(items[1].id, 101);
	assert_int_equal(claim(f, T0 + 1000, 8, "w", 60000, items), 1);
	assert_int_equal(items[0].id, 100);
}

static void
test_claim_rejects_bad_arguments(void **state)
{
	fixture_t *f = *state;
	outbox_item_t items[1];
	bson_error_t err;
	size_t n;

	assert_false(outbox_claim(f->client, f->db, STORE_COLL_STATE, T0, 0, "w", 1000, items, &n, &err));
	assert_false(outbox_claim(f->client, f->db, STORE_COLL_STATE, T0, OUTBOX_CLAIM_MAX + 1, "w", 1000, items,
	    &n, &err));
	assert_false(outbox_claim(f->client, f->db, STORE_COLL_STATE, T0, 1, "", 1000, items, &n, &err));
	assert_false(outbox_claim(f->client, f->db, STORE_COLL_STATE, T0, 1, "w", 0, items, &n, &err));
	assert_non_null(strstr(err.message, "timeout"));
}

static void
test_abandoned_claim_retaken(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	fields_t a = F("T-9", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
	outbox_item_t old[1], fresh[1];
	bson_t doc;

	set(f, 9, &a, &base, T0, OUTBOX_INSERTED, 1, "pending");
	assert_int_equal(claim(f, T0, 1, "crashed", 1000, old), 1);
	/* Still held until claimed_until. */
	assert_int_equal(claim(f, T0 + 999, 1, "other", 1000, fresh), 0);
	assert_int_equal(claim(f, T0 + 1000, 1, "other", 1000, fresh), 0);
	/* Expired: a second instance takes it over with a new claim. */
	assert_int_equal(claim(f, T0 + 1001, 1, "other", 1000, fresh), 1);
	assert_int_equal(fresh[0].id, 9);
	assert_string_not_equal(fresh[0].claim_id, old[0].claim_id);

	/* The old holder wakes up: whatever it reports is ignored. */
	assert_int_equal(complete1(f, &old[0], PUSHPLAN_PARKED, T0 + 1100, 0, 404, "gone"), 0);
	assert_int_equal(complete1(f, &old[0], PUSHPLAN_RELEASED, T0 + 1100, T0, 0, NULL), 0);
	get_doc(f, 9, &doc);
	assert_string_equal(doc_str(&doc, "state"), "in_flight");
	assert_string_equal(doc_str(&doc, "claim_id"), fresh[0].claim_id);
	assert_string_equal(doc_str(&doc, "claimed_by"), "other");
	bson_destroy(&doc);

	assert_int_equal(complete1(f, &fresh[0], PUSHPLAN_PUSHED, T0 + 1200, 0, 204, NULL), 1);
	assert_state(f, 9, "synced");
	/* Completing twice (a duplicate reply) changes nothing. */
	assert_int_equal(complete1(f, &fresh[0], PUSHPLAN_RETRIED, T0 + 1300, T0 + 5000, 503, NULL), 0);
	assert_state(f, 9, "synced");
}

static void
test_retry_and_release(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	fields_t a = F("T-3", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
	outbox_item_t items[1];
	bson_t doc;

	set(f, 3, &a, &base, T0, OUTBOX_INSERTED, 1, "pending");
	assert_int_equal(claim(f, T0, 1, "w", 1000, items), 1);
	assert_int_equal(complete1(f, &items[0], PUSHPLAN_RETRIED, T0 + 10, T0 + 500, 503,
	    "Service Unavailable"), 1);
	get_doc(f, 3, &doc);
	assert_string_equal(doc_str(&doc, "state"), "pending");
	assert_int_equal(doc_int(&doc, "attempts"), 1);
	assert_int_equal(doc_int(&doc, "next_attempt_at"), T0 + 500);
	assert_string_equal(doc_str(&doc, "last.outcome"), "retry");
	assert_string_equal(doc_str(&doc, "last.message"), "Service Unavailable");
	assert_int_equal(doc_int(&doc, "last.at"), T0 + 10);
	bson_destroy(&doc);

	assert_int_equal(claim(f, T0 + 499, 1, "w", 1000, items), 0);
	assert_int_equal(claim(f, T0 + 500, 1, "w", 1000, items), 1);
	assert_int_equal(items[0].attempts, 1);
	assert_int_equal(complete1(f, &items[0], PUSHPLAN_RETRIED, T0 + 510, T0 + 600, 0,
	    "connection refused"), 1);
	assert_int_equal(claim(f, T0 + 600, 1, "w", 1000, items), 1);
	assert_int_equal(items[0].attempts, 2);

	/* Released (auth failure, shutdown): back in the queue, attempts unchanged. */
	assert_int_equal(complete1(f, &items[0], PUSHPLAN_RELEASED, T0 + 610, T0 + 700, 401, NULL), 1);
	get_doc(f, 3, &doc);
	assert_string_equal(doc_str(&doc, "state"), "pending");
	assert_int_equal(doc_int(&doc, "attempts"), 2);
	assert_int_equal(doc_int(&doc, "next_attempt_at"), T0 + 700);
	assert_string_equal(doc_str(&doc, "last.outcome"), "released");
	bson_destroy(&doc);

	/* A success resets the count. */
	assert_int_equal(claim(f, T0 + 700, 1, "w", 1000, items), 1);
	assert_int_equal(complete1(f, &items[0], PUSHPLAN_PUSHED, T0 + 710, 0, 204, NULL), 1);
	get_doc(f, 3, &doc);
	assert_int_equal(doc_int(&doc, "attempts"), 0);
	bson_destroy(&doc);
}

static void
test_park_unpark_replay(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	fields_t a = F("T-4", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
	fields_t b = F("T-4", FIELDS_STATUS_CLOSED, NULL, FIELDS_RESOLUTION_NO_ACTION_TAKEN);
	outbox_item_t items[4];
	int64_t count;
	bson_error_t err;
	bson_t doc;

	for (int64_t id = 41; id <= 43; id++)
		set(f, id, &a, &base, T0, OUTBOX_INSERTED, 1, "pending");
	assert_int_equal(claim(f, T0, 4, "w", 1000, items), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(complete1(f, &items[i], PUSHPLAN_PARKED, T0 + 5, 0, 404,
		    "detection not found"), 1);
	get_doc(f, 41, &doc);
	assert_string_equal(doc_str(&doc, "state"), "parked");
	assert_string_equal(doc_str(&doc, "parked_reason"), "detection not found");
	assert_int_equal(doc_int(&doc, "parked_at"), T0 + 5);
	assert_int_equal(doc_int(&doc, "attempts"), 1);
	bson_destroy(&doc);
	assert_int_equal(claim(f, T0 + 100000, 4, "w", 1000, items), 0);

	/* Same desired again: still parked. A change unparks. */
	set(f, 41, &a, &base, T0 + 10, OUTBOX_UNCHANGED, 1, "parked");
	set(f, 41, &b, &base, T0 + 20, OUTBOX_UNPARKED, 2, "pending");
	get_doc(f, 41, &doc);
	assert_false(doc_has(&doc, "parked_reason"));
	assert_false(doc_has(&doc, "parked_at"));
	assert_int_equal(doc_int(&doc, "attempts"), 0);
	bson_destroy(&doc);
	assert_int_equal(claim(f, T0 + 20, 4, "w", 1000, items), 1);
	assert_int_equal(items[0].id, 41);

	/* Replay one by id, then all the rest. */
	{
		int64_t ids[] = { 42, 999 };

		assert_true(outbox_replay_parked(f->client, f->db, STORE_COLL_STATE, ids, 2, T0 + 30, &count, &err));
		assert_int_equal(count, 1);
	}
	assert_state(f, 42, "pending");
	assert_state(f, 43, "parked");
	assert_true(outbox_replay_parked(f->client, f->db, STORE_COLL_STATE, NULL, 0, T0 + 40, &count, &err));
	assert_int_equal(count, 1);
	get_doc(f, 43, &doc);
	assert_string_equal(doc_str(&doc, "state"), "pending");
	assert_int_equal(doc_int(&doc, "attempts"), 0);
	assert_int_equal(doc_int(&doc, "next_attempt_at"), T0 + 40);
	assert_false(doc_has(&doc, "parked_reason"));
	bson_destroy(&doc);
	assert_true(outbox_replay_parked(f->client, f->db, STORE_COLL_STATE, NULL, 0, T0 + 50, &count, &err));
	assert_int_equal(count, 0);
}

static bool
collect_parked(const bson_t *doc, void *ctx)
{
	int64_t *ids = ctx;
	bson_iter_t it;

	assert_true(bson_iter_init_find(&it, doc, "_id"));
	for (int i = 0; i < 8; i++) {
		if (ids[i] == 0) {
			ids[i] = bson_iter_as_int64(&it);
			break;
		}
	}
	return true;
}

static void
test_counts_and_list(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	fields_t a = F("T-5", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
	outbox_item_t items[8];
	outbox_counts_t c;
	bson_error_t err;
	int64_t parked[8] = { 0 };

	assert_true(outbox_view_counts(f->client, f->db, STORE_COLL_STATE, T0, &c, &err));
	assert_int_equal(c.pending + c.in_flight + c.synced + c.parked + c.due, 0);
	assert_int_equal(c.oldest_pending_age_ms, -1);

	/* 51..56 pending from T0 + i. */
	for (int64_t id = 51; id <= 56; id++)
		set(f, id, &a, &base, T0 + (id - 51), OUTBOX_INSERTED, 1, "pending");
	assert_int_equal(claim(f, T0 + 10, 4, "w", 1000, items), 4); /* 51..54 */
	assert_int_equal(complete1(f, &items[0], PUSHPLAN_PUSHED, T0 + 20, 0, 204, NULL), 1);
	assert_int_equal(complete1(f, &items[1], PUSHPLAN_PARKED, T0 + 20, 0, 400, "bad"), 1);
	assert_int_equal(complete1(f, &items[2], PUSHPLAN_RETRIED, T0 + 20, T0 + 5000, 503, NULL), 1);
	/* 54 stays in flight until T0 + 1010. */

	assert_true(outbox_view_counts(f->client, f->db, STORE_COLL_STATE, T0 + 100, &c, &err));
	assert_int_equal(c.synced, 1);
	assert_int_equal(c.parked, 1);
	assert_int_equal(c.in_flight, 1);
	assert_int_equal(c.pending, 3);  /* 53 (retry later), 55, 56 */
	assert_int_equal(c.due, 2);      /* 55, 56 */
	assert_int_equal(c.oldest_pending_age_ms, 100 - 2); /* 53 waits since T0 + 2 */

	/* Later: the retry is due and 54's claim has expired. */
	assert_true(outbox_view_counts(f->client, f->db, STORE_COLL_STATE, T0 + 6000, &c, &err));
	assert_int_equal(c.due, 4);

	assert_true(outbox_view_parked(f->client, f->db, STORE_COLL_STATE, 0, collect_parked, parked, &err));
	assert_int_equal(parked[0], 52);
	assert_int_equal(parked[1], 0);
}

static void
test_complete_batch_and_bad_input(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	fields_t a = F("T-6", FIELDS_STATUS_ACKNOWLEDGED, "dave", FIELDS_RESOLUTION_NULL);
	outbox_item_t items[40];
	outbox_result_t results[40];
	bson_error_t err;
	size_t applied;

	for (int64_t id = 1000; id < 1040; id++)
		set(f, id, &a, &base, T0, OUTBOX_INSERTED, 1, "pending");
	assert_int_equal(claim(f, T0, 40, "w", 1000, items), 40);
	for (int i = 0; i < 40; i++) {
		results[i] = (outbox_result_t){
			.id = items[i].id,
			.version = items[i].version,
			.claim_id = items[i].claim_id,
			.outcome = i % 2 ? PUSHPLAN_PUSHED : PUSHPLAN_RETRIED,
			.sent = items[i].desired,
			.next_attempt_ms = T0 + 100,
			.http_status = i % 2 ? 204 : 429,
		};
	}
	assert_true(outbox_complete(f->client, f->db, STORE_COLL_STATE, results, 40, T0 + 1, &applied, &err));
	assert_int_equal(applied, 40);
	{
		outbox_counts_t c;

		assert_true(outbox_view_counts(f->client, f->db, STORE_COLL_STATE, T0 + 1, &c, &err));
		assert_int_equal(c.synced, 20);
		assert_int_equal(c.pending, 20);
		assert_int_equal(c.in_flight, 0);
	}
	/* A PUSHED result without the fields sent is refused before anything is written. */
	results[0].outcome = PUSHPLAN_PUSHED;
	results[0].sent = NULL;
	assert_false(outbox_complete(f->client, f->db, STORE_COLL_STATE, results, 1, T0 + 2, &applied, &err));
	results[0].sent = items[0].desired;
	results[0].claim_id = NULL;
	assert_false(outbox_complete(f->client, f->db, STORE_COLL_STATE, results, 1, T0 + 2, &applied, &err));
	assert_true(outbox_complete(f->client, f->db, STORE_COLL_STATE, results, 0, T0 + 2, &applied, &err));
	assert_int_equal(applied, 0);
}

static void
test_message_sanitized(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	fields_t a = F("T-8", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
	outbox_item_t items[1];
	char big[5000];
	bson_t doc;
	const char *msg;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[3] = (char)0xff; /* not UTF-8: a remote reply can carry anything */
	set(f, 8, &a, &base, T0, OUTBOX_INSERTED, 1, "pending");
	assert_int_equal(claim(f, T0, 1, "w", 1000, items), 1);
	assert_int_equal(complete1(f, &items[0], PUSHPLAN_PARKED, T0 + 1, 0, 400, big), 1);
	get_doc(f, 8, &doc);
	msg = doc_str(&doc, "parked_reason");
	assert_non_null(msg);
	assert_true(strlen(msg) < OUTBOX_MESSAGE_MAX);
	assert_memory_equal(msg, "xxx?xx", 6);
	assert_string_equal(msg + strlen(msg) - 3, "...");
	bson_destroy(&doc);
}

/* ---- round trips and figures ---- */

typedef struct apm_count {
	int commands;
	char names[16][32];
} apm_count_t;

static void
apm_started(const mongoc_apm_command_started_t *event)
{
	apm_count_t *c = mongoc_apm_command_started_get_context(event);

	if (c->commands < 16)
		snprintf(c->names[c->commands], sizeof(c->names[0]), "%s",
		    mongoc_apm_command_started_get_command_name(event));
	c->commands++;
}

/* Microseconds: one claim takes less than the shared clock's millisecond. */
static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A claim of a whole batch is three commands and its completion one, however many
 * detections are in it: the push path's cost per detection stays flat. */
static void
test_round_trips_per_batch(void **state)
{
	fixture_t *f = *state;
	mongoc_client_t *client = tsmongo_client(tsgroup_mongo());
	mongoc_apm_callbacks_t *cbs = mongoc_apm_callbacks_new();
	apm_count_t count = { 0 };
	fields_t base = empty_fields();
	outbox_item_t items[100];
	outbox_result_t results[100];
	bson_error_t err;
	size_t n, applied;
	int64_t t_set, t_claim, t_complete;

	assert_non_null(client);
	mongoc_apm_set_command_started_cb(cbs, apm_started);
	assert_true(mongoc_client_set_apm_callbacks(client, cbs, &count));
	t_set = mono_us();
	for (int64_t id = 1; id <= 100; id++) {
		fields_t d = F("RT-1", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
		outbox_set_result_t r;

		assert_true(tsoutbox_set(client, f->db, id, &d, &base, "RT-1", T0, &r, &err));
	}
	t_set = mono_us() - t_set;
	/* One read and one insert per new detection. */
	assert_int_equal(count.commands, 200);

	count.commands = 0;
	t_claim = mono_us();
	assert_true(outbox_claim(client, f->db, STORE_COLL_STATE, T0, 100, "w", 60000, items, &n, &err));
	t_claim = mono_us() - t_claim;
	keep_values(items, n);
	assert_int_equal(n, 100);
	if (count.commands != 3)
		fail_msg("claim took %d commands (%s, %s, %s, %s ...)", count.commands,
		    count.names[0], count.names[1], count.names[2], count.names[3]);
	assert_string_equal(count.names[0], "find");
	assert_string_equal(count.names[1], "update");
	assert_string_equal(count.names[2], "find");

	for (size_t i = 0; i < n; i++)
		results[i] = (outbox_result_t){ .id = items[i].id, .version = items[i].version,
			.claim_id = items[i].claim_id, .outcome = PUSHPLAN_PUSHED,
			.sent = items[i].desired, .http_status = 204 };
	count.commands = 0;
	t_complete = mono_us();
	assert_true(outbox_complete(client, f->db, STORE_COLL_STATE, results, n, T0 + 1, &applied, &err));
	t_complete = mono_us() - t_complete;
	assert_int_equal(applied, 100);
	assert_int_equal(count.commands, 1);
	assert_string_equal(count.names[0], "update");

	/* Replays cost one read each and write nothing. */
	count.commands = 0;
	for (int64_t id = 1; id <= 100; id++) {
		fields_t d = F("RT-1", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
		outbox_set_result_t r;

		assert_true(tsoutbox_set(client, f->db, id, &d, &base, "RT-1", T0, &r, &err));
		assert_int_equal(r.change, OUTBOX_UNCHANGED);
	}
	assert_int_equal(count.commands, 100);

	printf("  figures (%s): set_desired %.0f/s, claim of 100 %.1f ms, complete of 100 "
	       "%.1f ms\n", tsmongo_is_test_server(tsgroup_mongo()) ? "test server" : "external server",
	    100 * 1e6 / (double)t_set, t_claim / 1000.0, t_complete / 1000.0);
	mongoc_client_destroy(client);
	mongoc_apm_callbacks_destroy(cbs);
}

/* ---- concurrency ---- */

#define RACE_DETECTIONS 150
#define RACE_ROUNDS 12

typedef struct racer {
	const char *db;
	const char *owner;
	int64_t now;
	int claimed[RACE_DETECTIONS]; /* times each detection was handed to this racer */
	size_t batches;
	char error[600];
} racer_t;

static void *
racer_main(void *arg)
{
	racer_t *r = arg;
	mongoc_client_t *client = store_pop(tsstore_pool());
	outbox_item_t items[7];
	outbox_result_t results[7];
	bson_error_t err;
	size_t n, applied;
	bool ok;

	for (;;) {
		if (!outbox_claim(client, r->db, STORE_COLL_STATE, r->now, 7, r->owner, 600000, items, &n, &err)) {
			snprintf(r->error, sizeof(r->error), "claim: %s", err.message);
			break;
		}
		if (n == 0)
			break;
		r->batches++;
		for (size_t i = 0; i < n; i++) {
			r->claimed[items[i].id - 1]++;
			results[i] = (outbox_result_t){ .id = items[i].id, .version = items[i].version,
				.claim_id = items[i].claim_id, .outcome = PUSHPLAN_PUSHED,
				.sent = items[i].desired, .http_status = 204 };
		}
		ok = outbox_complete(client, r->db, STORE_COLL_STATE, results, n, r->now, &applied, &err);
		tsoutbox_clear(items, n);
		if (!ok) {
			snprintf(r->error, sizeof(r->error), "complete: %s", err.message);
			break;
		}
		if (applied != n) {
			snprintf(r->error, sizeof(r->error), "complete applied %zu of %zu", applied, n);
			break;
		}
	}
	store_push(tsstore_pool(), client);
	return NULL;
}

static void
test_concurrent_claimers(void **state)
{
	fixture_t *f = *state;
	fields_t base = empty_fields();
	size_t total_batches[2] = { 0, 0 };

	for (int round = 0; round < RACE_ROUNDS; round++) {
		int64_t now = T0 + round * 1000;
		racer_t r[2];
		pthread_t th[2];
		char t[32];
		fields_t d;

		snprintf(t, sizeof(t), "R-%d", round);
		d = F(t, FIELDS_STATUS_IN_PROGRESS, NULL, FIELDS_RESOLUTION_NULL);
		for (int64_t id = 1; id <= RACE_DETECTIONS; id++)
			set(f, id, &d, &base, now, round == 0 ? OUTBOX_INSERTED : OUTBOX_UPDATED,
			    round + 1, "pending");
		for (int i = 0; i < 2; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].db = f->db;
			r[i].owner = i ? "racer-b" : "racer-a";
			r[i].now = now;
			assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
		}
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		for (int i = 0; i < 2; i++) {
			if (r[i].error[0])
				fail_msg("round %d %s: %s", round, r[i].owner, r[i].error);
			total_batches[i] += r[i].batches;
		}
		/* Every detection handed out exactly once per round, across both. */
		for (int id = 0; id < RACE_DETECTIONS; id++) {
			if (r[0].claimed[id] + r[1].claimed[id] != 1)
				fail_msg("round %d: detection %d claimed %d + %d times", round, id + 1,
				    r[0].claimed[id], r[1].claimed[id]);
		}
	}
	/* Both really took part (else this proved nothing about concurrency). */
	assert_true(total_batches[0] > 0);
	assert_true(total_batches[1] > 0);
	{
		outbox_counts_t c;
		bson_error_t err;

		assert_true(outbox_view_counts(f->client, f->db, STORE_COLL_STATE, T0 + RACE_ROUNDS * 1000, &c, &err));
		assert_int_equal(c.synced, RACE_DETECTIONS);
		assert_int_equal(c.pending + c.in_flight + c.parked, 0);
	}
}

/* Two writers racing set_desired on the same detections (the daemon's watcher and a
 * ticketsyncctl backfill): racing inserts and compare-and-set updates must neither
 * fail nor lose the last value. */
typedef struct setter {
	const char *db;
	int which;
	char error[600];
} setter_t;

static void *
setter_main(void *arg)
{
	setter_t *s = arg;
	mongoc_client_t *client = store_pop(tsstore_pool());
	fields_t base;
	bson_error_t err;

	fields_init(&base);
	for (int round = 0; round < 20 && !s->error[0]; round++) {
		for (int64_t id = 1; id <= 10; id++) {
			char t[32];
			fields_t d;
			outbox_set_result_t res;

			/* Both write the same value per round: only one may bump the version. */
			snprintf(t, sizeof(t), "S-%d", round);
			fields_init(&d);
			fields_set_ticket_id(&d, t);
			d.status = FIELDS_STATUS_NEW;
			if (!tsoutbox_set(client, s->db, id, &d, &base, t, T0 + round, &res,
			        &err)) {
				snprintf(s->error, sizeof(s->error), "%s", err.message);
				break;
			}
		}
	}
	store_push(tsstore_pool(), client);
	return NULL;
}

static void
test_concurrent_setters(void **state)
{
	fixture_t *f = *state;
	setter_t s[2] = { { .db = f->db, .which = 0 }, { .db = f->db, .which = 1 } };
	pthread_t th[2];

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, setter_main, &s[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++)
		if (s[i].error[0])
			fail_msg("setter %d: %s", i, s[i].error);
	for (int64_t id = 1; id <= 10; id++) {
		bson_t doc;

		get_doc(f, id, &doc);
		/* 20 distinct values, each recorded once whoever wrote it first. The two
		 * setters can interleave rounds (A at round 5 while B is at round 4), which
		 * may add changes back and forth, never fewer than 20. */
		assert_true(doc_int(&doc, "version") >= 20);
		assert_string_equal(doc_str(&doc, "desired.ticket_id"), "S-19");
		bson_destroy(&doc);
	}
}

/* The daemon's watcher changes desired values while the pusher claims and completes
 * them: at no time may two PATCHes for one detection be out, and once the changes
 * stop, draining the queue must leave every detection synced to its last value. */
#define SOAK_IDS 24

typedef struct soak {
	const char *db;
	int in_flight[SOAK_IDS + 1]; /* accessed with __atomic builtins */
	int stop;
	char error[600];
	pthread_mutex_t lock;
} soak_t;

typedef struct soak_worker {
	soak_t *soak;
	const char *owner;
	unsigned seed;
	size_t batches;
} soak_worker_t;

static void
soak_fail(soak_t *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	if (!s->error[0]) {
		va_start(ap, fmt);
		vsnprintf(s->error, sizeof(s->error), fmt, ap);
		va_end(ap);
	}
	__atomic_store_n(&s->stop, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&s->lock);
}

static void *
soak_setter(void *arg)
{
	soak_worker_t *w = arg;
	soak_t *s = w->soak;
	mongoc_client_t *client = store_pop(tsstore_pool());
	fields_t base;
	bson_error_t err;

	fields_init(&base);
	for (int i = 0; i < 1500 && !__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST); i++) {
		int64_t id = 1 + rand_r(&w->seed) % SOAK_IDS;
		char t[16];
		fields_t d;
		outbox_set_result_t r;

		snprintf(t, sizeof(t), "V-%d", rand_r(&w->seed) % 3);
		fields_init(&d);
		fields_set_ticket_id(&d, t);
		d.status = FIELDS_STATUS_IN_PROGRESS;
		if (!tsoutbox_set(client, s->db, id, &d, &base, t, T0, &r, &err))
			soak_fail(s, "set_desired: %s", err.message);
	}
	store_push(tsstore_pool(), client);
	return NULL;
}

static void *
soak_pusher(void *arg)
{
	soak_worker_t *w = arg;
	soak_t *s = w->soak;
	mongoc_client_t *client = store_pop(tsstore_pool());
	outbox_item_t items[5];
	outbox_result_t results[5];
	bson_error_t err;
	size_t n, applied;
	bool ok;

	while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
		if (!outbox_claim(client, s->db, STORE_COLL_STATE, T0 + 1000, 5, w->owner, 1000000000, items, &n,
		        &err)) {
			soak_fail(s, "claim: %s", err.message);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			int was = __atomic_exchange_n(&s->in_flight[items[i].id], 1, __ATOMIC_SEQ_CST);

			if (was)
				soak_fail(s, "detection %lld handed out while in flight",
				    (long long)items[i].id);
			results[i] = (outbox_result_t){ .id = items[i].id, .version = items[i].version,
				.claim_id = items[i].claim_id,
				.outcome = rand_r(&w->seed) % 4 ? PUSHPLAN_PUSHED : PUSHPLAN_RETRIED,
				.sent = items[i].desired, .next_attempt_ms = T0 + 500, .http_status = 204 };
		}
		w->batches += n > 0;
		/* Cleared before the write: until it lands the document is still in flight,
		 * so nobody can legitimately claim it in between. */
		for (size_t i = 0; i < n; i++)
			__atomic_store_n(&s->in_flight[items[i].id], 0, __ATOMIC_SEQ_CST);
		ok = n == 0 || outbox_complete(client, s->db, STORE_COLL_STATE, results, n, T0 + 1000,
		                  &applied, &err);
		tsoutbox_clear(items, n);
		if (!ok)
			soak_fail(s, "complete: %s", err.message);
		else if (n > 0 && applied != n)
			soak_fail(s, "complete applied %zu of %zu", applied, n);
	}
	store_push(tsstore_pool(), client);
	return NULL;
}

static void
test_concurrent_set_claim_complete(void **state)
{
	fixture_t *f = *state;
	soak_t soak = { .db = f->db };
	soak_worker_t setters[2] = { { &soak, "s1", 1, 0 }, { &soak, "s2", 2, 0 } };
	soak_worker_t pushers[2] = { { &soak, "p1", 3, 0 }, { &soak, "p2", 4, 0 } };
	pthread_t ts[2], tp[2];
	outbox_item_t items[SOAK_IDS];
	outbox_result_t results[SOAK_IDS];
	outbox_counts_t c;
	bson_error_t err;
	size_t n, applied;

	pthread_mutex_init(&soak.lock, NULL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_create(&ts[i], NULL, soak_setter, &setters[i]), 0);
		assert_int_equal(pthread_create(&tp[i], NULL, soak_pusher, &pushers[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(ts[i], NULL);
	__atomic_store_n(&soak.stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2; i++)
		pthread_join(tp[i], NULL);
	pthread_mutex_destroy(&soak.lock);
	if (soak.error[0])
		fail_msg("%s", soak.error);
	assert_true(pushers[0].batches > 0 && pushers[1].batches > 0);

	/* Drain what is left (retries due at T0 + 500 included). */
	for (int round = 0; round < 10; round++) {
		assert_true(outbox_claim(f->client, f->db, STORE_COLL_STATE, T0 + 1000, SOAK_IDS, "drain",
		    1000000000, items, &n, &err));
		keep_values(items, n);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++)
			results[i] = (outbox_result_t){ .id = items[i].id, .version = items[i].version,
				.claim_id = items[i].claim_id, .outcome = PUSHPLAN_PUSHED,
				.sent = items[i].desired, .http_status = 204 };
		assert_true(outbox_complete(f->client, f->db, STORE_COLL_STATE, results, n, T0 + 1000, &applied, &err));
		assert_int_equal(applied, n);
	}
	assert_true(outbox_view_counts(f->client, f->db, STORE_COLL_STATE, T0 + 1000, &c, &err));
	if (c.pending || c.in_flight || c.parked)
		fail_msg("left behind: %lld pending, %lld in flight, %lld parked",
		    (long long)c.pending, (long long)c.in_flight, (long long)c.parked);
	for (int64_t id = 1; id <= SOAK_IDS; id++) {
		store_pushed_t st;

		assert_true(tsstore_pushed(f->client, f->db, id, &st, &err));
		if (!st.found)
			continue; /* never differed from the baseline */
		assert_string_equal(st.state, "synced");
		/* What ExtraHop last acknowledged is the last value asked for. */
		assert_true(fields_equal(&st.shown, &st.desired));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_unchanged_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_not_a_document_is_rewritten,
		    setup_unvalidated, teardown),
		cmocka_unit_test_setup_teardown(test_push_cycle_and_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recheck_after_ambiguous_attempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fencing_keeps_the_old_holder_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_flight_stays_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_order_and_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_rejects_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandoned_claim_retaken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_and_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_park_unpark_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_and_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_batch_and_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_sanitized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trips_per_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_claimers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_setters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_set_claim_complete, setup, teardown),
	};

	return cmocka_run_group_tests(tests, tsstore_group_setup, tsstore_group_teardown);
}
