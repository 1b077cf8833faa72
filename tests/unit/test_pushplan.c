/*
 * pushplan: every push decision as tables (inputs -> expected decision), without a
 * server: recording a desired value, the PATCH mask, the classification of a reply,
 * the transport of a curl result, ambiguity, and what an attempt came to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <curl/curl.h>

#include "ticketsync/pushplan.h"

#define P PUSHPLAN_STATE_PENDING
#define F PUSHPLAN_STATE_IN_FLIGHT
#define S PUSHPLAN_STATE_SYNCED
#define K PUSHPLAN_STATE_PARKED

static void
test_record_table(void **state)
{
	static const struct {
		const char *name;
		pushplan_current_t cur;
		pushplan_record_t want;
	} cases[] = {
		/* No document yet. */
		{ "new, already shown", { .exists = false, .equals_shown = true },
		    { PUSHPLAN_WRITE_NONE, PUSHPLAN_UNCHANGED, P, 0, false } },
		{ "new, differs", { .exists = false, .equals_shown = false },
		    { PUSHPLAN_WRITE_INSERT, PUSHPLAN_INSERTED, P, 1, false } },
		/* Desired already recorded: replays end here, whatever the state. */
		{ "same, pending", { true, P, 4, true, true, false },
		    { PUSHPLAN_WRITE_NONE, PUSHPLAN_UNCHANGED, P, 4, false } },
		{ "same, in flight", { true, F, 4, true, true, false },
		    { PUSHPLAN_WRITE_NONE, PUSHPLAN_UNCHANGED, F, 4, false } },
		{ "same, parked", { true, K, 2, true, true, false },
		    { PUSHPLAN_WRITE_NONE, PUSHPLAN_UNCHANGED, K, 2, false } },
		{ "same, synced", { true, S, 9, false, true, true },
		    { PUSHPLAN_WRITE_NONE, PUSHPLAN_UNCHANGED, S, 9, false } },
		/* A new value. */
		{ "synced -> pending", { true, S, 3, false, false, false },
		    { PUSHPLAN_WRITE_UPDATE, PUSHPLAN_UPDATED, P, 4, true } },
		{ "pending -> pending keeps its age", { true, P, 3, true, false, false },
		    { PUSHPLAN_WRITE_UPDATE, PUSHPLAN_UPDATED, P, 4, false } },
		{ "pending -> back to what is shown", { true, P, 3, true, false, true },
		    { PUSHPLAN_WRITE_UPDATE, PUSHPLAN_UPDATED, S, 4, false } },
		{ "in flight stays in flight", { true, F, 7, true, false, false },
		    { PUSHPLAN_WRITE_UPDATE, PUSHPLAN_UPDATED, F, 8, false } },
		{ "in flight stays in flight even when shown", { true, F, 7, true, false, true },
		    { PUSHPLAN_WRITE_UPDATE, PUSHPLAN_UPDATED, F, 8, false } },
		{ "in flight without an age gets one", { true, F, 7, false, false, false },
		    { PUSHPLAN_WRITE_UPDATE, PUSHPLAN_UPDATED, F, 8, true } },
		{ "parked unparks", { true, K, 2, true, false, false },
		    { PUSHPLAN_WRITE_UPDATE, PUSHPLAN_UNPARKED, P, 3, false } },
		{ "parked back to what is shown", { true, K, 2, true, false, true },
		    { PUSHPLAN_WRITE_UPDATE, PUSHPLAN_UNPARKED, S, 3, false } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pushplan_record_t got;

		memset(&got, 0xa5, sizeof(got));
		pushplan_record(&cases[i].cur, &got);
		if (got.write != cases[i].want.write || got.change != cases[i].want.change ||
		    got.state != cases[i].want.state || got.version != cases[i].want.version ||
		    got.set_pending_since != cases[i].want.set_pending_since)
			fail_msg("%s: got write %d change %d state %s version %lld age %d", cases[i].name,
			    got.write, got.change, pushplan_state_name(got.state), (long long)got.version,
			    got.set_pending_since);
	}
}

static void
test_state_names(void **state)
{
	enum pushplan_state s;

	(void)state;
	assert_string_equal(pushplan_state_name(P), "pending");
	assert_string_equal(pushplan_state_name(F), "in_flight");
	assert_string_equal(pushplan_state_name(S), "synced");
	assert_string_equal(pushplan_state_name(K), "parked");
	assert_string_equal(pushplan_state_name((enum pushplan_state)42), "unknown");
	for (int i = P; i <= K; i++) {
		assert_true(pushplan_state_parse(pushplan_state_name((enum pushplan_state)i), &s));
		assert_int_equal(s, i);
	}
	assert_false(pushplan_state_parse("bogus", &s));
	assert_int_equal(s, P);
	assert_false(pushplan_state_parse(NULL, &s));
	assert_string_equal(pushplan_outcome_name(PUSHPLAN_PUSHED), "pushed");
	assert_string_equal(pushplan_outcome_name(PUSHPLAN_RETRIED), "retry");
	assert_string_equal(pushplan_outcome_name(PUSHPLAN_PARKED), "parked");
	assert_string_equal(pushplan_outcome_name(PUSHPLAN_RELEASED), "released");
}

static void
fields_of(fields_t *f, const char *tid, enum fields_status st, const char *who,
    enum fields_resolution res)
{
	fields_init(f);
	assert_int_equal(fields_set_ticket_id(f, tid), 0);
	assert_int_equal(fields_set_assignee(f, who), 0);
	f->status = st;
	f->resolution = res;
}

static void
test_mask_table(void **state)
{
	fields_t open, taken, closed, other;

	(void)state;
	fields_of(&open, "TK-1", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);
	fields_of(&taken, "TK-1", FIELDS_STATUS_IN_PROGRESS, "sally", FIELDS_RESOLUTION_NULL);
	fields_of(&closed, "TK-1", FIELDS_STATUS_CLOSED, "sally", FIELDS_RESOLUTION_ACTION_TAKEN);
	fields_of(&other, "TK-2", FIELDS_STATUS_NEW, NULL, FIELDS_RESOLUTION_NULL);

	/* ticket_id always goes out, even with nothing else to say. */
	assert_int_equal(pushplan_mask(&open, &open), FIELDS_TICKET_ID);
	assert_int_equal(pushplan_mask(&taken, &open),
	    FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_ASSIGNEE);
	assert_int_equal(pushplan_mask(&closed, &taken),
	    FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_RESOLUTION);
	assert_int_equal(pushplan_mask(&other, &open), FIELDS_TICKET_ID);

	/* A claimed item: against pushed, else baseline, else everything; a recheck
	 * forces everything. */
	assert_int_equal(pushplan_claim_mask(&closed, &taken, &open, false),
	    FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_RESOLUTION);
	assert_int_equal(pushplan_claim_mask(&closed, NULL, &taken, false),
	    FIELDS_TICKET_ID | FIELDS_STATUS | FIELDS_RESOLUTION);
	assert_int_equal(pushplan_claim_mask(&closed, NULL, &open, false), FIELDS_ALL);
	assert_int_equal(pushplan_claim_mask(&taken, NULL, NULL, false), FIELDS_ALL);
	assert_int_equal(pushplan_claim_mask(&taken, &taken, &open, false), FIELDS_TICKET_ID);
	assert_int_equal(pushplan_claim_mask(&taken, &taken, &open, true), FIELDS_ALL);
	assert_int_equal(pushplan_claim_mask(&taken, NULL, NULL, true), FIELDS_ALL);
}

static void
test_classify_table(void **state)
{
	static const struct {
		long status;
		CURLcode rc;
		enum pushplan_class want;
	} cases[] = {
		{ 200, CURLE_OK, PUSHPLAN_OK },
		{ 201, CURLE_OK, PUSHPLAN_OK },
		{ 204, CURLE_OK, PUSHPLAN_OK },
		{ 299, CURLE_OK, PUSHPLAN_OK },
		{ 408, CURLE_OK, PUSHPLAN_RETRY },
		{ 425, CURLE_OK, PUSHPLAN_RETRY },
		{ 429, CURLE_OK, PUSHPLAN_RETRY },
		{ 500, CURLE_OK, PUSHPLAN_RETRY },
		{ 502, CURLE_OK, PUSHPLAN_RETRY },
		{ 503, CURLE_OK, PUSHPLAN_RETRY },
		{ 504, CURLE_OK, PUSHPLAN_RETRY },
		{ 599, CURLE_OK, PUSHPLAN_RETRY },
		{ 400, CURLE_OK, PUSHPLAN_REJECTED },
		{ 404, CURLE_OK, PUSHPLAN_REJECTED },
		{ 405, CURLE_OK, PUSHPLAN_REJECTED },
		{ 409, CURLE_OK, PUSHPLAN_REJECTED },
		{ 410, CURLE_OK, PUSHPLAN_REJECTED },
		{ 422, CURLE_OK, PUSHPLAN_REJECTED },
		{ 499, CURLE_OK, PUSHPLAN_REJECTED },
		{ 401, CURLE_OK, PUSHPLAN_AUTH },
		{ 403, CURLE_OK, PUSHPLAN_AUTH },
		/* Not asked for: redirects are not followed, odd numbers are not trusted. */
		{ 301, CURLE_OK, PUSHPLAN_RETRY },
		{ 100, CURLE_OK, PUSHPLAN_RETRY },
		{ 0, CURLE_OK, PUSHPLAN_RETRY },
		{ 600, CURLE_OK, PUSHPLAN_RETRY },
		/* Transport errors win over any status seen before them. */
		{ 0, CURLE_COULDNT_CONNECT, PUSHPLAN_RETRY },
		{ 0, CURLE_OPERATION_TIMEDOUT, PUSHPLAN_RETRY },
		{ 0, CURLE_COULDNT_RESOLVE_HOST, PUSHPLAN_RETRY },
		{ 0, CURLE_RECV_ERROR, PUSHPLAN_RETRY },
		{ 0, CURLE_PEER_FAILED_VERIFICATION, PUSHPLAN_RETRY },
		{ 0, CURLE_ABORTED_BY_CALLBACK, PUSHPLAN_RETRY },
		{ 200, CURLE_PARTIAL_FILE, PUSHPLAN_RETRY },
		{ 404, CURLE_OPERATION_TIMEDOUT, PUSHPLAN_RETRY },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum pushplan_class got = pushplan_classify(cases[i].status, cases[i].rc == CURLE_OK);
		if (got != cases[i].want)
			fail_msg("status %ld rc %d: got %s, want %s", cases[i].status, (int)cases[i].rc,
			    pushplan_class_name(got), pushplan_class_name(cases[i].want));
	}
	assert_string_equal(pushplan_class_name(PUSHPLAN_OK), "ok");
	assert_string_equal(pushplan_class_name(PUSHPLAN_RETRY), "retry");
	assert_string_equal(pushplan_class_name(PUSHPLAN_REJECTED), "rejected");
	assert_string_equal(pushplan_class_name(PUSHPLAN_AUTH), "auth");
}


static void
test_transport_and_ambiguity(void **state)
{
	static const struct {
		long status;
		int rc;
		enum pushplan_transport transport;
		bool ambiguous;
	} cases[] = {
		/* No reply after the request may have arrived. */
		{ 0, CURLE_OPERATION_TIMEDOUT, PUSHPLAN_LOST, true },
		{ 0, CURLE_GOT_NOTHING, PUSHPLAN_LOST, true },
		{ 0, CURLE_RECV_ERROR, PUSHPLAN_LOST, true },
		{ 0, CURLE_SEND_ERROR, PUSHPLAN_LOST, true },
		{ 0, CURLE_PARTIAL_FILE, PUSHPLAN_LOST, true },
		/* A gateway gave up on the server, which may still finish. */
		{ 502, CURLE_OK, PUSHPLAN_REPLIED, true },
		{ 504, CURLE_OK, PUSHPLAN_REPLIED, true },
		/* Never reached ExtraHop, or ExtraHop answered: nothing can land later. */
		{ 0, CURLE_COULDNT_CONNECT, PUSHPLAN_NOT_SENT, false },
		{ 0, CURLE_COULDNT_RESOLVE_HOST, PUSHPLAN_NOT_SENT, false },
		{ 0, CURLE_COULDNT_RESOLVE_PROXY, PUSHPLAN_NOT_SENT, false },
		{ 0, CURLE_SSL_CONNECT_ERROR, PUSHPLAN_NOT_SENT, false },
		{ 0, CURLE_PEER_FAILED_VERIFICATION, PUSHPLAN_NOT_SENT, false },
		{ 0, CURLE_SSL_CACERT_BADFILE, PUSHPLAN_NOT_SENT, false },
		{ 0, CURLE_ABORTED_BY_CALLBACK, PUSHPLAN_CANCELLED, false },
		{ 503, CURLE_OK, PUSHPLAN_REPLIED, false },
		{ 429, CURLE_OK, PUSHPLAN_REPLIED, false },
		{ 500, CURLE_OK, PUSHPLAN_REPLIED, false },
		{ 204, CURLE_OK, PUSHPLAN_REPLIED, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum pushplan_transport t = pushplan_transport_from_curl(cases[i].rc);

		if (t != cases[i].transport || pushplan_ambiguous(cases[i].status, t) != cases[i].ambiguous)
			fail_msg("case %zu (status %ld rc %d): transport %d ambiguous %d", i,
			    cases[i].status, cases[i].rc, t, pushplan_ambiguous(cases[i].status, t));
	}
}

#define NOW INT64_C(1800000000000)

static void
test_outcome_table(void **state)
{
	static const pushplan_policy_t policy = { .retry_base_ms = 1000, .retry_max_ms = 60000,
		.recheck_ms = 60000 };
	static const pushplan_policy_t no_recheck = { .retry_base_ms = 1000, .retry_max_ms = 60000 };
	static const struct {
		const char *name;
		const pushplan_policy_t *policy;
		enum pushplan_class cls;
		long status;
		int rc;
		int64_t retry_after_ms;
		int32_t attempts;
		int64_t item_recheck;
		uint32_t rnd;
		/* want */
		enum pushplan_outcome outcome;
		int64_t next_min, next_max; /* next_attempt_ms - NOW, inclusive */
		int64_t recheck;            /* recheck_at_ms, or -1 for NOW + recheck_ms */
		bool stop, cancelled, ambiguous;
	} cases[] = {
		{ "2xx pushed", &policy, PUSHPLAN_OK, 204, CURLE_OK, -1, 0, 0, 0,
		    PUSHPLAN_PUSHED, 0, 0, 0, false, false, false },
		{ "2xx after an ambiguous attempt keeps its recheck", &policy, PUSHPLAN_OK, 204, CURLE_OK,
		    -1, 2, NOW + 5000, 0, PUSHPLAN_PUSHED, 0, 0, NOW + 5000, false, false, false },
		{ "404 parked", &policy, PUSHPLAN_REJECTED, 404, CURLE_OK, -1, 0, 0, 0,
		    PUSHPLAN_PARKED, 0, 0, 0, false, false, false },
		{ "422 parked", &policy, PUSHPLAN_REJECTED, 422, CURLE_OK, -1, 3, 0, 0,
		    PUSHPLAN_PARKED, 0, 0, 0, false, false, false },
		{ "401 stops, released now", &policy, PUSHPLAN_AUTH, 401, CURLE_OK, -1, 0, 0, 0,
		    PUSHPLAN_RELEASED, 0, 0, 0, true, false, false },
		{ "403 stops, released now", &policy, PUSHPLAN_AUTH, 403, CURLE_OK, -1, 4, 0, 0,
		    PUSHPLAN_RELEASED, 0, 0, 0, true, false, false },
		{ "cancelled: released, not failed", &policy, PUSHPLAN_RETRY, 0,
		    CURLE_ABORTED_BY_CALLBACK, -1, 0, 0, 0,
		    PUSHPLAN_RELEASED, 0, 0, 0, false, true, false },
		/* Equal jitter: [d/2, d] with d = base * 2^attempts. */
		{ "503 first retry", &policy, PUSHPLAN_RETRY, 503, CURLE_OK, -1, 0, 0, 0,
		    PUSHPLAN_RETRIED, 500, 1000, 0, false, false, false },
		{ "503 fourth retry", &policy, PUSHPLAN_RETRY, 503, CURLE_OK, -1, 3, 0, UINT32_MAX,
		    PUSHPLAN_RETRIED, 4000, 8000, 0, false, false, false },
		{ "backoff capped at max", &policy, PUSHPLAN_RETRY, 500, CURLE_OK, -1, 30, 0, 0,
		    PUSHPLAN_RETRIED, 30000, 60000, 0, false, false, false },
		{ "429 Retry-After wins when longer", &policy, PUSHPLAN_RETRY, 429, CURLE_OK, 120000, 0,
		    0, 0, PUSHPLAN_RETRIED, 120000, 120000, 0, false, false, false },
		{ "Retry-After shorter than backoff", &policy, PUSHPLAN_RETRY, 429, CURLE_OK, 1, 5, 0, 0,
		    PUSHPLAN_RETRIED, 16000, 32000, 0, false, false, false },
		{ "connect refused: retry, nothing to recheck", &policy, PUSHPLAN_RETRY, 0,
		    CURLE_COULDNT_CONNECT, -1, 0, 0, 0,
		    PUSHPLAN_RETRIED, 500, 1000, 0, false, false, false },
		{ "timeout: ambiguous, recheck later", &policy, PUSHPLAN_RETRY, 0,
		    CURLE_OPERATION_TIMEDOUT, -1, 0, 0, 0,
		    PUSHPLAN_RETRIED, 500, 1000, -1, false, false, true },
		{ "504: ambiguous, recheck later", &policy, PUSHPLAN_RETRY, 504, CURLE_OK, -1, 1, 0, 0,
		    PUSHPLAN_RETRIED, 1000, 2000, -1, false, false, true },
		{ "Retry-After beyond the cap is capped", &policy, PUSHPLAN_RETRY, 429, CURLE_OK,
		    10 * BACKOFF_RETRY_AFTER_CAP_MS, 0, 0, 0, PUSHPLAN_RETRIED,
		    BACKOFF_RETRY_AFTER_CAP_MS, BACKOFF_RETRY_AFTER_CAP_MS, 0, false, false, false },
		{ "attempts at INT32_MAX never overflow", &policy, PUSHPLAN_RETRY, 503, CURLE_OK, -1,
		    INT32_MAX, 0, UINT32_MAX, PUSHPLAN_RETRIED, 30000, 60000, 0, false, false, false },
		{ "a new ambiguous attempt sets its own recheck", &policy, PUSHPLAN_RETRY, 0,
		    CURLE_GOT_NOTHING, -1, 1, NOW - 1, 0,
		    PUSHPLAN_RETRIED, 1000, 2000, -1, false, false, true },
		{ "empty reply after sending is ambiguous", &policy, PUSHPLAN_RETRY, 0, CURLE_SEND_ERROR,
		    -1, 0, 0, 0, PUSHPLAN_RETRIED, 500, 1000, -1, false, false, true },
		{ "unexpected 3xx retried, not ambiguous", &policy, PUSHPLAN_RETRY, 302, CURLE_OK, -1, 0,
		    0, 0, PUSHPLAN_RETRIED, 500, 1000, 0, false, false, false },
		{ "timeout with rechecks off", &no_recheck, PUSHPLAN_RETRY, 0, CURLE_OPERATION_TIMEDOUT,
		    -1, 0, 0, 0, PUSHPLAN_RETRIED, 500, 1000, 0, false, false, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pushplan_reply_t reply = { .outcome = cases[i].cls, .http_status = cases[i].status,
			.curl_code = cases[i].rc, .retry_after_ms = cases[i].retry_after_ms };
		pushplan_attempt_t attempt = { .attempts = cases[i].attempts,
			.recheck_at_ms = cases[i].item_recheck, .now_ms = NOW, .rnd = cases[i].rnd };
		pushplan_verdict_t v;
		int64_t want_recheck = cases[i].recheck < 0 ? NOW + cases[i].policy->recheck_ms
		                                            : cases[i].recheck;
		int64_t next;

		pushplan_outcome(cases[i].policy, &reply, &attempt, &v);
		next = v.outcome == PUSHPLAN_RETRIED || v.outcome == PUSHPLAN_RELEASED
		    ? v.next_attempt_ms - NOW : 0;
		if (v.outcome != cases[i].outcome || next < cases[i].next_min ||
		    next > cases[i].next_max || v.recheck_at_ms != want_recheck ||
		    v.stop != cases[i].stop || v.cancelled != cases[i].cancelled ||
		    v.ambiguous != cases[i].ambiguous)
			fail_msg("%s: got %s next +%lld recheck %lld stop %d cancelled %d ambiguous %d",
			    cases[i].name, pushplan_outcome_name(v.outcome), (long long)next,
			    (long long)v.recheck_at_ms, v.stop, v.cancelled, v.ambiguous);
	}
}

/* Ticket creation settles on its acknowledgement: no full re-push after an ambiguous
 * attempt (ExtraHop re-pushes, so a late older PATCH is overwritten). */
static void
test_outcome_settle_on_ack(void **state)
{
	pushplan_policy_t policy = { .retry_base_ms = 1000, .retry_max_ms = 60000,
		.recheck_ms = 60000 };
	pushplan_reply_t ok = { .outcome = PUSHPLAN_OK, .http_status = 201, .retry_after_ms = -1 };
	pushplan_reply_t lost = { .outcome = PUSHPLAN_RETRY, .curl_code = CURLE_GOT_NOTHING,
		.retry_after_ms = -1 };
	pushplan_attempt_t a = { .attempts = 1, .recheck_at_ms = NOW + 5000, .now_ms = NOW };
	pushplan_verdict_t v;

	(void)state;
	pushplan_outcome(&policy, &ok, &a, &v);
	assert_int_equal(v.outcome, PUSHPLAN_PUSHED);
	assert_int_equal(v.recheck_at_ms, NOW + 5000);
	policy.settle_on_ack = true;
	pushplan_outcome(&policy, &ok, &a, &v);
	assert_int_equal(v.outcome, PUSHPLAN_PUSHED);
	assert_int_equal(v.recheck_at_ms, 0);
	/* An ambiguous failure still records its recheck: the lookup needs it. */
	pushplan_outcome(&policy, &lost, &a, &v);
	assert_int_equal(v.outcome, PUSHPLAN_RETRIED);
	assert_true(v.ambiguous);
	assert_int_equal(v.recheck_at_ms, NOW + 60000);
}

/* An item taken over from a crashed holder is pushed in full once more after its
 * ack, recheck_ms after the old claim expired (the later of that and an ambiguity's
 * recheck wins); not with rechecks off, not when settling on ack. */
static void
test_outcome_reclaimed(void **state)
{
	static const struct {
		int64_t recheck_ms, recheck_at, reclaimed;
		bool settle;
		int64_t want;
	} rows[] = {
		{ 60000, 0, NOW - 1000, false, NOW + 59000 },
		{ 60000, NOW + 70000, NOW - 1000, false, NOW + 70000 },
		{ 60000, NOW + 10000, NOW - 1000, false, NOW + 59000 },
		{ 0, 0, NOW - 1000, false, 0 },
		{ 60000, 0, 0, false, 0 },
		{ 60000, 0, NOW - 1000, true, 0 },
	};
	pushplan_reply_t ok = { .outcome = PUSHPLAN_OK, .http_status = 204, .retry_after_ms = -1 };

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		pushplan_policy_t policy = { .retry_base_ms = 1000, .retry_max_ms = 60000,
			.recheck_ms = rows[i].recheck_ms, .settle_on_ack = rows[i].settle };
		pushplan_attempt_t a = { .recheck_at_ms = rows[i].recheck_at,
			.reclaimed_until_ms = rows[i].reclaimed, .now_ms = NOW };
		pushplan_verdict_t v;

		pushplan_outcome(&policy, &ok, &a, &v);
		if (v.outcome != PUSHPLAN_PUSHED || v.recheck_at_ms != rows[i].want)
			fail_msg("row %zu: outcome %d recheck %lld, want pushed %lld", i, (int)v.outcome,
			    (long long)v.recheck_at_ms, (long long)rows[i].want);
	}
}

/* A destination's own recheck (a search that cannot prove absence yet) is kept as
 * the item's recheck, and the later of it and an ambiguity's wins. */
static void
test_outcome_destination_recheck(void **state)
{
	static const pushplan_policy_t policy = { .retry_base_ms = 1000, .retry_max_ms = 60000,
		.recheck_ms = 60000 };
	static const struct {
		const char *name;
		long status;
		int rc;
		int64_t reply_recheck;
		int64_t want;
	} cases[] = {
		{ "plain retry, no recheck", 503, CURLE_OK, 0, 0 },
		{ "destination asks for one", 0, CURLE_OK, NOW + 5000, NOW + 5000 },
		{ "ambiguous: its own recheck", 0, CURLE_OPERATION_TIMEDOUT, 0, NOW + 60000 },
		{ "ambiguous, destination later", 0, CURLE_OPERATION_TIMEDOUT, NOW + 90000, NOW + 90000 },
		{ "ambiguous, destination earlier", 504, CURLE_OK, NOW + 1000, NOW + 60000 },
	};
	/* Released (cancelled) or stopped, the destination's recheck is kept too: a
	 * create cancelled after it left may still have been made. */
	static const int released_rc[] = { CURLE_ABORTED_BY_CALLBACK, CURLE_OK };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pushplan_reply_t reply = { .outcome = PUSHPLAN_RETRY, .http_status = cases[i].status,
			.curl_code = cases[i].rc, .retry_after_ms = -1,
			.recheck_at_ms = cases[i].reply_recheck };
		pushplan_attempt_t a = { .now_ms = NOW };
		pushplan_verdict_t v;

		pushplan_outcome(&policy, &reply, &a, &v);
		if (v.outcome != PUSHPLAN_RETRIED || v.recheck_at_ms != cases[i].want)
			fail_msg("%s: outcome %d recheck %lld, want retry at %lld", cases[i].name,
			    (int)v.outcome, (long long)v.recheck_at_ms, (long long)cases[i].want);
	}
	for (size_t i = 0; i < 2; i++) {
		pushplan_reply_t reply = { .outcome = i == 0 ? PUSHPLAN_RETRY : PUSHPLAN_AUTH,
			.http_status = i == 0 ? 0 : 401, .curl_code = released_rc[i],
			.retry_after_ms = -1, .recheck_at_ms = NOW + 7000 };
		pushplan_attempt_t a = { .now_ms = NOW };
		pushplan_verdict_t v;

		pushplan_outcome(&policy, &reply, &a, &v);
		assert_int_equal(v.outcome, PUSHPLAN_RELEASED);
		assert_int_equal(v.recheck_at_ms, NOW + 7000);
	}
}

/* Reachability: a sequence of (time, replied?) notes -> the event each one yields. */
static void
test_reach_sequence(void **state)
{
	static const struct {
		int64_t at;
		bool replied;
		enum pushplan_reach_event want;
		bool down_30s; /* pushplan_reach_down_for(now, 30 s) after the note */
	} steps[] = {
		{ 1000, true, PUSHPLAN_REACH_QUIET, false },       /* up, nothing to say */
		{ 2000, false, PUSHPLAN_REACH_QUIET, false },      /* first miss starts the outage */
		{ 20000, false, PUSHPLAN_REACH_QUIET, false },     /* 18 s: not yet */
		{ 31999, false, PUSHPLAN_REACH_QUIET, false },     /* 29.999 s */
		{ 32000, false, PUSHPLAN_REACH_WARN, true },       /* 30 s: warn */
		{ 33000, false, PUSHPLAN_REACH_QUIET, true },      /* once per period */
		{ 61999, false, PUSHPLAN_REACH_QUIET, true },
		{ 62000, false, PUSHPLAN_REACH_WARN, true },       /* still down 60 s: again */
		{ 63000, true, PUSHPLAN_REACH_RECOVERED, false },  /* a reply ends it, said once */
		{ 64000, true, PUSHPLAN_REACH_QUIET, false },
		{ 70000, false, PUSHPLAN_REACH_QUIET, false },     /* a new outage counts afresh */
		{ 90000, true, PUSHPLAN_REACH_QUIET, false },      /* short and unwarned: quiet */
		{ 91000, false, PUSHPLAN_REACH_QUIET, false },
		{ 121000, false, PUSHPLAN_REACH_WARN, true },
	};
	pushplan_reach_t r = { 0 };
	static const struct {
		long status;
		int curl;
		enum pushplan_reach_evidence want;
	} ev[] = {
		{ 204, CURLE_OK, PUSHPLAN_REACH_YES },
		{ 503, CURLE_OK, PUSHPLAN_REACH_YES },     /* something answered */
		{ 0, CURLE_COULDNT_CONNECT, PUSHPLAN_REACH_NO },
		{ 0, CURLE_OPERATION_TIMEDOUT, PUSHPLAN_REACH_NO },
		{ 0, CURLE_COULDNT_RESOLVE_HOST, PUSHPLAN_REACH_NO },
		{ 0, CURLE_GOT_NOTHING, PUSHPLAN_REACH_NO },
		{ 0, CURLE_OK, PUSHPLAN_REACH_UNKNOWN },   /* held back by a ceiling, no request */
		{ 0, CURLE_ABORTED_BY_CALLBACK, PUSHPLAN_REACH_UNKNOWN },
		{ 0, CURLE_OUT_OF_MEMORY, PUSHPLAN_REACH_UNKNOWN },
		{ 0, CURLE_FAILED_INIT, PUSHPLAN_REACH_UNKNOWN },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		if (pushplan_reach_evidence(ev[i].status, ev[i].curl) != ev[i].want)
			fail_msg("evidence row %zu: got %d", i,
			    (int)pushplan_reach_evidence(ev[i].status, ev[i].curl));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		enum pushplan_reach_event e = pushplan_reach_note(&r, steps[i].replied, steps[i].at, 30000);

		if (e != steps[i].want || pushplan_reach_down_for(&r, steps[i].at, 30000) != steps[i].down_30s)
			fail_msg("step %zu (t=%lld %s): event %d down %d, want %d %d", i,
			    (long long)steps[i].at, steps[i].replied ? "reply" : "no reply", (int)e,
			    (int)pushplan_reach_down_for(&r, steps[i].at, 30000), (int)steps[i].want,
			    (int)steps[i].down_30s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_table),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_mask_table),
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_transport_and_ambiguity),
		cmocka_unit_test(test_outcome_table),
		cmocka_unit_test(test_outcome_destination_recheck),
		cmocka_unit_test(test_outcome_settle_on_ack),
		cmocka_unit_test(test_outcome_reclaimed),
		cmocka_unit_test(test_reach_sequence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
