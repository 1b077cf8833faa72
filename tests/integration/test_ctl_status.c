/*
 * ticketsyncctl status, audit and replay-parked against known states: the outbox,
 * audit trail and checkpoint are arranged through the library (the same modules the
 * daemon writes with), then the real binary's table and JSON output are checked
 * field by field. MongoDB test server or TICKETSYNC_TEST_MONGODB_URI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/clock.h"
#include "ticketsync/audit.h"
#include "ticketsync/checkpoint.h"
#include "ticketsync/outbox.h"
#include "ticketsync/schema.h"
#include "ticketsync/store.h"
#include "ticketsync/timefmt.h"
#include "tsoutbox.h"
#include "tsstore.h"
#include "tsscene.h"

typedef tsscene_t fixture_t;

/* "now" when arrange() wrote the state of the running test. */
static int64_t t0;

static int
fixture_setup(void **state)
{
	fixture_t *f;
	bson_error_t err;

	if (tsscene_setup(state, "ctlstatus") != 0)
		return -1;
	f = *state;
	/* The validators apply, as in production: every record below must pass them. */
	if (!schema_ensure(f->client, f->db, NULL, false, NULL, &err)) {
		fprintf(stderr, "schema_ensure: %s\n", err.message);
		tsscene_teardown(state); /* cmocka runs no teardown after a failed setup */
		return -1;
	}
	return 0;
}

static void
ctl(fixture_t *f, tsrun_result_t *r, const char *const *args)
{
	if (tsscene_ctl(f, r, NULL, false, args) != 0)
		fail_msg("ticketsyncctl: %s", r->err);
}

#define CTL(f, r, ...) ctl((f), (r), (const char *const[]){ __VA_ARGS__, NULL })

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("output does not contain \"%s\":\n%s", needle, haystack);
}

/* The line of text containing needle (copied into buf). */
static const char *
line_with(const char *text, const char *needle, char *buf, size_t buflen)
{
	const char *p = strstr(text, needle), *b, *e;

	if (p == NULL)
		fail_msg("no line contains \"%s\":\n%s", needle, text);
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	if (e == NULL)
		e = p + strlen(p);
	snprintf(buf, buflen, "%.*s", (int)(e - b), b);
	return buf;
}

static bson_t *
parse_json(const char *text)
{
	bson_error_t err;
	bson_t *doc = bson_new_from_json((const uint8_t *)text, -1, &err);

	if (doc == NULL)
		fail_msg("not JSON (%s): %s", err.message, text);
	return tsmongo_tmp_keep(doc);
}

/* ---- arranging a known state ---- */

static void
set_desired(fixture_t *f, int64_t id, const char *ticket, int64_t now)
{
	fields_t desired, baseline;
	outbox_set_result_t res;
	bson_error_t err;

	fields_init(&baseline);
	fields_init(&desired);
	fields_set_ticket_id(&desired, ticket);
	desired.status = FIELDS_STATUS_IN_PROGRESS;
	if (!tsoutbox_set(f->client, f->db, id, &desired, &baseline, ticket, now, &res, &err))
		fail_msg("set_desired %lld: %s", (long long)id, err.message);
	assert_int_equal(res.change, OUTBOX_INSERTED);
}

/* Claim exactly the n detections just made due and complete them as outcome. */
static void
claim_and_complete(fixture_t *f, size_t n, int64_t now, enum pushplan_outcome outcome,
    const char *const *messages)
{
	outbox_item_t items[8];
	outbox_result_t results[8];
	size_t got = 0, applied = 0;
	bson_error_t err;

	if (!outbox_claim(f->client, f->db, STORE_COLL_STATE, now, n, "test-daemon", 600000, items,
	        &got, &err))
		fail_msg("claim: %s", err.message);
	assert_int_equal(got, n);
	if (messages == NULL) {
		tsoutbox_clear(items, got);
		return; /* leave them in flight */
	}
	for (size_t i = 0; i < n; i++)
		results[i] = (outbox_result_t){
			.id = items[i].id,
			.version = items[i].version,
			.claim_id = items[i].claim_id,
			.outcome = outcome,
			.sent = items[i].desired,
			.http_status = outcome == PUSHPLAN_PUSHED ? 204 : 404,
			.message = messages[i],
		};
	if (!outbox_complete(f->client, f->db, STORE_COLL_STATE, results, n, now, &applied, &err))
		fail_msg("complete: %s", err.message);
	assert_int_equal(applied, n);
	tsoutbox_clear(items, got);
}

static void
audit_at(fixture_t *f, int64_t at, const char *event, int64_t id, const char *ticket,
    int http, const char *message)
{
	fields_t sent;
	bson_t sent_doc = BSON_INITIALIZER;
	audit_record_t r = {
		.at_ms = at,
		.event = event,
		.has_detection_id = id > 0,
		.detection_id = id,
		.ticket_id = ticket,
		.version = id > 0 ? 1 : 0,
		.attempt = id > 0 ? 1 : 0,
		.http_status = http,
		.message = message,
		.instance = "test-daemon",
	};
	bson_error_t err;

	if (strcmp(event, AUDIT_PUSHED) == 0) {
		fields_init(&sent);
		fields_set_ticket_id(&sent, ticket);
		sent.status = FIELDS_STATUS_IN_PROGRESS;
		fields_append_members(&sent_doc, &sent, FIELDS_TICKET_ID | FIELDS_STATUS);
		r.fields = &sent_doc;
	}
	if (!audit_append(f->client, f->db, &r, &err))
		fail_msg("audit: %s", err.message);
	bson_destroy(&sent_doc);
}

/*
 * Detections 1, 2 pending (due), 3 in flight, 4, 5 synced, 6, 7 parked (6 first);
 * an audit trail of 6 records; the watcher's checkpoint 10 s behind now.
 */
static void
arrange(fixture_t *f)
{
	int64_t t = clock_wall_ms();
	bson_t token = BSON_INITIALIZER;
	char data[64];
	bson_error_t err;

	t0 = t;
	set_desired(f, 4, "TK-4", t - 5000);
	set_desired(f, 5, "TK-5", t - 5000);
	claim_and_complete(f, 2, t - 5000, PUSHPLAN_PUSHED, (const char *const[]){ NULL, NULL });
	set_desired(f, 6, "TK-6", t - 4000);
	claim_and_complete(f, 1, t - 4000, PUSHPLAN_PARKED,
	    (const char *const[]){ "HTTP 404: detection 6 not found" });
	set_desired(f, 7, "TK-7", t - 3000);
	claim_and_complete(f, 1, t - 3000, PUSHPLAN_PARKED,
	    (const char *const[]){ "HTTP 422: ticket_id too long" });
	set_desired(f, 3, "TK-3", t - 2000);
	claim_and_complete(f, 1, t - 2000, PUSHPLAN_PUSHED, NULL);
	set_desired(f, 1, "TK-1", t - 1000);
	set_desired(f, 2, "TK-2", t - 1000);

	audit_at(f, t - 60000, AUDIT_PUSHED, 4, "TK-4", 204, NULL);
	audit_at(f, t - 50000, AUDIT_RETRY, 6, "TK-6", 503, "HTTP 503: busy");
	audit_at(f, t - 40000, AUDIT_PARKED, 6, "TK-6", 404, "HTTP 404: detection 6 not found");
	audit_at(f, t - 30000, AUDIT_PUSHED, 5, "TK-5", 204, NULL);
	audit_at(f, t - 20000, AUDIT_PARKED, 7, "TK-7", 422, "HTTP 422: ticket_id too long");
	/* A refused input whose message carries a newline, an escape sequence and a
	 * stray byte: the table must not pass them to the terminal. */
	audit_at(f, t - 10000, AUDIT_REJECTED_INPUT, 0, "TK-BAD",
	    0, "ticket TK-BAD: detection_ids must be an array\n\033[31mred\xff");

	/* A resume token in MongoDB's KeyString form: 0x82, then the cluster time. */
	snprintf(data, sizeof(data), "82%08X%08X2B0229296E04", (unsigned)((t - 10000) / 1000), 1u);
	BSON_APPEND_UTF8(&token, "_data", data);
	if (!checkpoint_save(f->client, f->db, CHECKPOINT_WATCHER, &token, "test-daemon", &err))
		fail_msg("checkpoint: %s", err.message);
	bson_destroy(&token);
}

/* ---- status ---- */

static void
test_status_json_known_state(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	bson_t *doc;
	int64_t lag, age;

	arrange(f);
	CTL(f, &r, "status", "--json");
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.err, "");
	doc = parse_json(r.out);
	tsrun_free(&r);
	assert_int_equal(tsmongo_get_int(doc, "pending"), 2);
	assert_int_equal(tsmongo_get_int(doc, "in_flight"), 1);
	assert_int_equal(tsmongo_get_int(doc, "synced"), 2);
	assert_int_equal(tsmongo_get_int(doc, "parked"), 2);
	assert_int_equal(tsmongo_get_int(doc, "due"), 2);
	/* Oldest change not yet acknowledged: detection 3's, recorded 2 s before t0. */
	assert_true(tsmongo_get_int(doc, "oldest_pending_age_ms") >= 2000);
	assert_true(tsmongo_get_int(doc, "oldest_pending_age_ms") < 60000);
	/* Parked, oldest first, with their reasons. */
	assert_int_equal(tsmongo_get_int(doc, "parked_list.0.detection_id"), 6);
	assert_string_equal(tsmongo_get_str(doc, "parked_list.0.reason"), "HTTP 404: detection 6 not found");
	assert_string_equal(tsmongo_get_str(doc, "parked_list.0.ticket_id"), "TK-6");
	assert_int_equal(tsmongo_get_int(doc, "parked_list.1.detection_id"), 7);
	assert_string_equal(tsmongo_get_str(doc, "parked_list.1.reason"), "HTTP 422: ticket_id too long");
	assert_int_equal(tsmongo_get_type(doc, "parked_list.1.parked_at"), BSON_TYPE_UTF8);
	/* The newest acknowledged push. */
	assert_int_equal(tsmongo_get_int(doc, "last_push.detection_id"), 5);
	assert_string_equal(tsmongo_get_str(doc, "last_push.ticket_id"), "TK-5");
	assert_int_equal(tsmongo_get_int(doc, "last_push.http_status"), 204);
	{
		char want[TIMEFMT_ISO_MAX];
		timefmt_format_iso8601(t0 - 30000, true, want, sizeof(want));
		assert_string_equal(tsmongo_get_str(doc, "last_push.at"), want);
	}
	/* Checkpoint saved just now; its stream position 10 s (whole seconds) behind. */
	age = tsmongo_get_int(doc, "checkpoint.age_ms");
	lag = tsmongo_get_int(doc, "checkpoint.lag_ms");
	assert_true(age >= 0 && age < 30000);
	assert_true(lag >= 10000 && lag < 40000);
	/* Counts by outcome over the whole trail. */
	assert_int_equal(tsmongo_get_int(doc, "events.pushed"), 2);
	assert_int_equal(tsmongo_get_int(doc, "events.parked"), 2);
	assert_int_equal(tsmongo_get_int(doc, "events.retry"), 1);
	assert_int_equal(tsmongo_get_int(doc, "events.rejected_input"), 1);

	/* --parked N caps the list, not the count. */
	CTL(f, &r, "status", "--json", "--parked", "1");
	assert_int_equal(r.exit_code, 0);
	doc = parse_json(r.out);
	tsrun_free(&r);
	assert_int_equal(tsmongo_get_int(doc, "parked"), 2);
	assert_int_equal(tsmongo_get_type(doc, "parked_list.0"), BSON_TYPE_DOCUMENT);
	assert_int_equal(tsmongo_get_type(doc, "parked_list.1"), BSON_TYPE_EOD);
}

static void
test_status_table_known_state(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	char line[512];

	arrange(f);
	CTL(f, &r, "status");
	assert_int_equal(r.exit_code, 0);
	line_with(r.out, "pending", line, sizeof(line));
	assert_contains(line, " 2   due now 2, oldest change waiting ");
	assert_contains(line_with(r.out, "in flight", line, sizeof(line)), " 1");
	assert_contains(line_with(r.out, "synced", line, sizeof(line)), " 2");
	assert_contains(line_with(r.out, "  parked ", line, sizeof(line)), " 2   (replay-parked");
	assert_contains(line_with(r.out, "last push", line, sizeof(line)),
	    "ago): detection 5, ticket TK-5, HTTP 204");
	assert_contains(line_with(r.out, "checkpoint", line, sizeof(line)), "s behind");
	assert_contains(r.out, "audit events  parked 2, pushed 2, rejected_input 1, retry 1\n");
	assert_contains(r.out, "parked detections (oldest 2 of 2):");
	/* The parked table: header and rows aligned on the same columns. */
	{
		char hdr[512], row6[512], row7[512];
		const char *reason_col;
		line_with(r.out, "DETECTION  TICKET", hdr, sizeof(hdr));
		line_with(r.out, "HTTP 404: detection 6 not found", row6, sizeof(row6));
		line_with(r.out, "HTTP 422: ticket_id too long", row7, sizeof(row7));
		reason_col = strstr(hdr, "REASON");
		assert_non_null(reason_col);
		assert_int_equal(strstr(row6, "HTTP 404") - row6, reason_col - hdr);
		assert_int_equal(strstr(row7, "HTTP 422") - row7, reason_col - hdr);
		assert_contains(row6, "TK-6");
	}
	tsrun_free(&r);
}

static void
test_status_empty_database(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	bson_t *doc;

	CTL(f, &r, "status");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "last push     never");
	assert_contains(r.out, "checkpoint    none");
	assert_contains(r.out, "audit events  none");
	tsrun_free(&r);
	CTL(f, &r, "status", "--json");
	assert_int_equal(r.exit_code, 0);
	doc = parse_json(r.out);
	tsrun_free(&r);
	assert_int_equal(tsmongo_get_int(doc, "pending"), 0);
	assert_int_equal(tsmongo_get_type(doc, "last_push"), BSON_TYPE_NULL);
	assert_int_equal(tsmongo_get_type(doc, "checkpoint"), BSON_TYPE_NULL);
	assert_int_equal(tsmongo_get_type(doc, "oldest_pending_age_ms"), BSON_TYPE_NULL);
	CTL(f, &r, "status", "--parked", "many");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
}

/* ---- audit ---- */

/* Data lines of a table (the header excluded). */
static int
table_rows(const char *out)
{
	int n = 0;

	for (const char *p = out; *p; p++)
		if (*p == '\n')
			n++;
	return n - 1;
}

static void
test_audit_table_filters_and_alignment(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	char hdr[512], line[512];
	size_t event_col, msg_col;

	arrange(f);
	CTL(f, &r, "audit");
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(table_rows(r.out), 6);
	line_with(r.out, "TIME", hdr, sizeof(hdr));
	assert_true(strncmp(r.out, "TIME ", 5) == 0);
	event_col = (size_t)(strstr(hdr, "EVENT") - hdr);
	msg_col = (size_t)(strstr(hdr, "MESSAGE") - hdr);
	/* Newest first: the refused ticket, then detection 7's parking... */
	{
		const char *second = strchr(r.out, '\n') + 1;
		assert_true(strncmp(second + event_col, "rejected_input", 14) == 0);
	}
	/* ...and every row's columns line up with the header's. */
	line_with(r.out, "retry", line, sizeof(line));
	assert_true(strncmp(line + event_col, "retry ", 6) == 0);
	assert_true(strncmp(line + msg_col, "HTTP 503: busy", 14) == 0);
	assert_contains(line, " 503 ");
	assert_contains(line, " 1/1 ");
	/* Remote text is made safe: no newline inside a row, no escape character. */
	line_with(r.out, "rejected_input", line, sizeof(line));
	assert_contains(line, "detection_ids must be an array  [31mred?");
	assert_null(strchr(r.out, '\033'));
	tsrun_free(&r);

	CTL(f, &r, "audit", "--detection", "6");
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(table_rows(r.out), 2);
	assert_int_equal(tsrun_count_lines(r.out, " 6 "), 2);
	tsrun_free(&r);

	CTL(f, &r, "audit", "--ticket", "TK-BAD");
	assert_int_equal(table_rows(r.out), 1);
	tsrun_free(&r);

	CTL(f, &r, "audit", "--event", "parked");
	assert_int_equal(table_rows(r.out), 2);
	tsrun_free(&r);

	/* An event nobody writes is a usage error that names the real ones. */
	CTL(f, &r, "audit", "--event", "bogus");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "no event \"bogus\"; the events are pushed, retry, parked");
	assert_contains(r.err, "ticket_created");
	tsrun_free(&r);

	{
		char since[TIMEFMT_ISO_MAX];
		timefmt_format_iso8601(t0 - 35000, true, since, sizeof(since));
		CTL(f, &r, "audit", "--since", since);
		assert_int_equal(r.exit_code, 0);
		assert_int_equal(table_rows(r.out), 3); /* pushed 5, parked 7, rejected */
		tsrun_free(&r);
	}

	CTL(f, &r, "audit", "--limit", "2");
	assert_int_equal(table_rows(r.out), 2);
	assert_contains(r.err, "the newest 2 records");
	tsrun_free(&r);

	CTL(f, &r, "audit", "--detection", "999");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "no audit records match");
	tsrun_free(&r);

	CTL(f, &r, "audit", "--detection", "6", "--ticket", "TK-6");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "exclude each other");
	tsrun_free(&r);
	CTL(f, &r, "audit", "--since", "last tuesday");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
	CTL(f, &r, "audit", "--detection", "0");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
}

static void
test_audit_json_lines(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	char *nl;
	bson_t *first, *second;
	char want[TIMEFMT_ISO_MAX];

	arrange(f);
	CTL(f, &r, "audit", "--event", "pushed", "--json");
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(tsrun_count_lines(r.out, "{"), 2);
	nl = strchr(r.out, '\n');
	assert_non_null(nl);
	*nl = '\0';
	first = parse_json(r.out);
	second = parse_json(nl + 1);
	tsrun_free(&r);
	/* Newest first, times as ISO-8601, numbers plain, the fields sent kept. */
	assert_int_equal(tsmongo_get_int(first, "detection_id"), 5);
	assert_int_equal(tsmongo_get_int(second, "detection_id"), 4);
	timefmt_format_iso8601(t0 - 30000, true, want, sizeof(want));
	assert_string_equal(tsmongo_get_str(first, "at"), want);
	assert_string_equal(tsmongo_get_str(first, "event"), "pushed");
	assert_string_equal(tsmongo_get_str(first, "ticket_id"), "TK-5");
	assert_int_equal(tsmongo_get_int(first, "http_status"), 204);
	assert_int_equal(tsmongo_get_type(first, "detection_id"), BSON_TYPE_INT32);
	assert_string_equal(tsmongo_get_str(first, "fields.ticket_id"), "TK-5");
	assert_string_equal(tsmongo_get_str(first, "fields.status"), "in_progress");
	assert_string_equal(tsmongo_get_str(first, "instance"), "test-daemon");
	assert_int_equal(tsmongo_get_type(first, "_id"), BSON_TYPE_EOD);
}

/* ---- replay-parked ---- */

static const char *
state_of(fixture_t *f, int64_t id)
{
	bson_t doc;
	bool found;
	bson_error_t err;
	const char *s;

	if (!tsstore_find_id(f->client, f->db, STORE_COLL_STATE, id, &doc, &found, &err))
		fail_msg("outbox_get: %s", err.message);
	assert_true(found);
	s = tsmongo_get_str(tsmongo_tmp_keep(bson_copy(&doc)), "state");
	bson_destroy(&doc);
	return s;
}

static int64_t
audit_count(fixture_t *f, const char *json)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, "ticketsync_audit");
	int64_t n = tsmongo_count(coll, json);

	mongoc_collection_destroy(coll);
	return n;
}

static void
test_replay_parked(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	bson_t *doc;

	arrange(f);
	/* Named twice, replayed once, and not said "not parked" the second time. */
	CTL(f, &r, "replay-parked", "--detection", "6", "--detection", "6");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "replayed 1 parked detection(s)");
	assert_null(strstr(r.err, "not parked"));
	tsrun_free(&r);
	assert_string_equal(state_of(f, 6), "pending");
	assert_string_equal(state_of(f, 7), "parked");
	assert_int_equal(audit_count(f, "{'event': 'replayed', 'detection_id': 6}"), 1);

	/* Not parked: said so, nothing done, nothing audited. */
	CTL(f, &r, "replay-parked", "--detection", "4,6");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "replayed 0 parked detection(s)");
	assert_contains(r.err, "detection 4 is not parked");
	assert_contains(r.err, "detection 6 is not parked");
	tsrun_free(&r);
	assert_string_equal(state_of(f, 4), "synced");
	assert_int_equal(audit_count(f, "{'event': 'replayed'}"), 1);

	/* All that are left. */
	CTL(f, &r, "replay-parked");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "replayed 1 parked detection(s)");
	tsrun_free(&r);
	assert_string_equal(state_of(f, 7), "pending");
	assert_int_equal(audit_count(f, "{'event': 'replayed', 'detection_id': 7}"), 1);

	CTL(f, &r, "status", "--json");
	doc = parse_json(r.out);
	tsrun_free(&r);
	assert_int_equal(tsmongo_get_int(doc, "parked"), 0);
	assert_int_equal(tsmongo_get_int(doc, "pending"), 4);
	assert_int_equal(tsmongo_get_int(doc, "due"), 4);
	assert_int_equal(tsmongo_get_int(doc, "events.replayed"), 2);

	CTL(f, &r, "replay-parked");
	assert_contains(r.out, "replayed 0 parked detection(s)");
	assert_string_equal(r.err, "");
	tsrun_free(&r);
	CTL(f, &r, "replay-parked", "--detection", "x");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_json_known_state, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_status_table_known_state, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_status_empty_database, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_audit_table_filters_and_alignment, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_audit_json_lines, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_replay_parked, fixture_setup, tsscene_teardown),
	};

	return cmocka_run_group_tests(tests, tsgroup_setup, tsgroup_teardown);
}
