/*
 * ticketsyncd end to end: the real daemon binary against the MongoDB test server (or
 * TICKETSYNC_TEST_MONGODB_URI) and the fake ExtraHop API. Each test gets its own
 * database, fake and daemon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "tslogfmt.h"
#include "tsscene.h"

#define API_KEY TSSCENE_API_KEY

typedef tsscene_t fixture_t;

static int
fixture_setup(void **state)
{
	return tsscene_setup(state, "daemon");
}

static void
fixture_begin(fixture_t *f, const tsextrahop_opts_t *fxo, const char *api_key)
{
	if (tsscene_begin(f, fxo, api_key) != 0)
		fail_msg("%s", f->error);
}

static void
fixture_start_daemon(fixture_t *f)
{
	if (tsscene_start_daemon(f) != 0)
		fail_msg("%s", f->error);
}

/* A clean shutdown (exit 0) is part of every test. */
static void
fixture_stop_daemon(fixture_t *f)
{
	int st = tsscene_stop_daemon(f);

	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
fixture_free(fixture_t *f)
{
	if (f->d_started)
		fixture_stop_daemon(f);
}

static void
put(fixture_t *f, const char *coll, const char *json)
{
	if (!tsscene_put(f, coll, json))
		fail_msg("%s", f->error);
}

#define patches tsscene_patches
#define wait_patches tsscene_wait_patches
#define count tsscene_count
#define wait_count tsscene_wait_count
#define sleep_ms ts_sleep_ms

static void
assert_body(fixture_t *f, int64_t id, const char *expected_json)
{
	char why[1024];

	if (!tsscene_last_body_is(f, id, expected_json, why, sizeof(why)))
		fail_msg("%s", why);
}

/* Every line the daemon logged reads as logfmt, with level, prog and msg; under
 * journald each has its priority and no ts=. Returns the line holding needle (static
 * storage; NULL if none) so a caller can check its fields. */
static const tslogfmt_t *
assert_log_is_logfmt(fixture_t *f, bool journald, const char *needle)
{
	static const int prio[] = { 7, 6, 4, 3 };
	static const char *const levels[] = { "debug", "info", "warn", "error" };
	static tslogfmt_t l, found;
	bool have = false;
	char line[8192], why[512];
	int n = 0;
	FILE *fp = fopen(f->d.stderr_path, "r");

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		const char *lv, *msg;
		int want = -1;

		/* the fake servers, the MongoDB test server and sanitizers share no file with it */
		if (tslogfmt_parse(line, &l, why, sizeof(why)) != 0)
			fail_msg("not logfmt: %s", why);
		lv = tslogfmt_get(&l, "level");
		msg = tslogfmt_get(&l, "msg");
		if (lv == NULL || msg == NULL || tslogfmt_get(&l, "prog") == NULL)
			fail_msg("no level/prog/msg: %s", line);
		for (int i = 0; i < 4; i++)
			if (strcmp(lv, levels[i]) == 0)
				want = prio[i];
		assert_int_not_equal(want, -1);
		if (journald) {
			if (l.priority != want || tslogfmt_get(&l, "ts") != NULL)
				fail_msg("journald line without its priority <%d> or with ts=: %s", want, line);
		} else if (l.priority != -1 || tslogfmt_get(&l, "ts") == NULL) {
			fail_msg("plain line with a priority or without ts=: %s", line);
		}
		if (needle != NULL && !have && strstr(msg, needle) != NULL) {
			found = l;
			have = true;
		}
		n++;
	}
	fclose(fp);
	assert_true(n > 0);
	return have ? &found : NULL;
}

static void
seed_example(fixture_t *f)
{
	/* ExtraHop's documented example: three detections, three tickets. */
	put(f, "detections", "{'_id': 1, 'title': 'Port scan', 'status': null, 'assignee': null, 'ticket_id': null, 'resolution': null, 'update_time': 1700000000000}");
	put(f, "detections", "{'_id': {'$numberLong': '2'}, 'title': 'Brute force', 'update_time': 1700000000000}");
	put(f, "detections", "{'_id': 3.0, 'title': 'Exfiltration', 'risk_score': 80}");
	put(f, "tickets", "{'_id': 'TK-16982', 'detection_ids': [1], 'status': 'new', 'assignee': 'sally', 'resolution': null, 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	put(f, "tickets", "{'_id': 'TK-2078', 'detection_ids': [2], 'status': null, 'assignee': 'jim', 'resolution': null, 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	put(f, "tickets", "{'_id': 'TK-3452', 'detection_ids': [3], 'status': null, 'assignee': 'alex', 'resolution': null, 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
}

static void
test_seed_example_pushed_once(void **state)
{
	fixture_t *f = *state;

	fixture_begin(f, NULL, API_KEY);
	bson_t all;
	bson_iter_t it, arr;

	fixture_start_daemon(f);
	seed_example(f);
	assert_true(wait_patches(f, 1, 1, 10000) >= 0);
	assert_true(wait_patches(f, 2, 1, 10000) >= 0);
	assert_true(wait_patches(f, 3, 1, 10000) >= 0);
	/* Only what differs from what ExtraHop shows, plus the required ticket_id. */
	assert_body(f, 1, "{'ticket_id': 'TK-16982', 'status': 'new', 'assignee': 'sally'}");
	assert_body(f, 2, "{'ticket_id': 'TK-2078', 'assignee': 'jim'}");
	assert_body(f, 3, "{'ticket_id': 'TK-3452', 'assignee': 'alex'}");
	/* Once each, with the configured key. */
	sleep_ms(1500);
	assert_int_equal(patches(f, -1, NULL, &all), 3);
	assert_true(bson_iter_init_find(&it, &all, "requests") && bson_iter_recurse(&it, &arr));
	while (bson_iter_next(&arr)) {
		const uint8_t *data;
		uint32_t len;
		bson_t req;
		bson_iter_document(&arr, &len, &data);
		bson_init_static(&req, data, len);
		assert_string_equal(tsextrahop_str(&req, "authorization"), "ExtraHop apikey=" API_KEY);
	}
	bson_destroy(&all);
	/* The audit trail and the state say the same. */
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'pushed'}", 3, 5000));
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'pushed', 'detection_id': 1, 'ticket_id': 'TK-16982', 'http_status': 204}"), 1);
	assert_int_equal(count(f, "ticketsync_state", "{'state': 'synced'}"), 3);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_pushes_total{outcome=\"pushed\"}") == 3);
	{
		char *body = NULL;
		assert_int_equal(tsdaemon_get(&f->d, "/readyz", &body), 200);
		free(body);
		assert_int_equal(tsdaemon_get(&f->d, "/healthz", NULL), 200);
	}
	fixture_free(f);
}

static void
test_first_start_rescans_existing(void **state)
{
	fixture_t *f = *state;

	fixture_begin(f, NULL, API_KEY);

	/* Data first, daemon second: no checkpoint, so a full scan finds it, and reports
	 * what it can never load. */
	seed_example(f);
	put(f, "detections", "{'_id': 'seven', 'title': 'string id'}");
	fixture_start_daemon(f);
	assert_true(wait_patches(f, 1, 1, 10000) >= 0);
	assert_true(wait_patches(f, 2, 1, 10000) >= 0);
	assert_true(wait_patches(f, 3, 1, 10000) >= 0);
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'rescan'}", 1, 5000));
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'rejected_input', 'message': {'$regex': 'seven'}}", 1, 5000));
	fixture_free(f);
}

static void
test_change_unchanged_unmapped(void **state)
{
	fixture_t *f = *state;

	fixture_begin(f, NULL, API_KEY);
	int64_t waited;

	tsdaemon_setenv(&f->d, "TICKETSYNC_PUSH_INTERVAL_MS", "1000");
	fixture_start_daemon(f);
	seed_example(f);
	assert_true(wait_patches(f, 1, 1, 10000) >= 0);
	assert_true(wait_count(f, "ticketsync_state", "{'_id': 1, 'state': 'synced'}", 1, 5000));

	/* A status change reaches ExtraHop within two push intervals. */
	put(f, "tickets", "{'_id': 'TK-16982', 'detection_ids': [1], 'status': 'Done', 'assignee': 'sally', 'resolution': 'Fixed', 'updated_at': {'$date': '2026-11-02T00:00:00Z'}}");
	waited = wait_patches(f, 1, 2, 2000);
	assert_true(waited >= 0);
	assert_body(f, 1, "{'ticket_id': 'TK-16982', 'status': 'closed', 'resolution': 'action_taken'}");

	/* Writing the same ticket again pushes nothing. */
	put(f, "tickets", "{'_id': 'TK-16982', 'detection_ids': [1], 'status': 'Done', 'assignee': 'sally', 'resolution': 'Fixed', 'updated_at': {'$date': '2026-11-02T00:00:00Z'}}");
	sleep_ms(2500);
	assert_int_equal(patches(f, 1, NULL, NULL), 2);

	/* An unmapped status pushes nothing and is audited. */
	put(f, "tickets", "{'_id': 'TK-2078', 'detection_ids': [2], 'status': 'Waiting for Godot', 'assignee': 'jim', 'resolution': null, 'updated_at': {'$date': '2026-11-03T00:00:00Z'}}");
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'unmapped_status', 'detection_id': 2, 'ticket_id': 'TK-2078'}", 1, 5000));
	sleep_ms(2500);
	assert_int_equal(patches(f, 2, NULL, NULL), 1);
	assert_int_equal(tsdaemon_metric(&f->d, "ticketsync_unmapped_status_total"), 1);

	/* Meeting the same ticket version again (a replayed event, a restart's rescan, a
	 * backfill) records nothing new. */
	put(f, "tickets", "{'_id': 'TK-2078', 'detection_ids': [2], 'status': 'Waiting for Godot', 'assignee': 'jim', 'resolution': null, 'updated_at': {'$date': '2026-11-03T00:00:00Z'}}");
	put(f, "detections", "{'_id': {'$numberLong': '2'}, 'title': 'Brute force (edited)', 'update_time': 1700000000001}");
	{
		tsrun_result_t r;
		if (tsscene_ctl(f, &r, &(tsrun_opts_t){ .env = (const char *const *)f->d.env }, true,
		        (const char *const[]){ "backfill", NULL }) != 0)
			fail_msg("%s", f->error);
		assert_int_equal(r.exit_code, 0);
		assert_non_null(strstr(r.out, "\"Waiting for Godot\" 1"));
		tsrun_free(&r);
	}
	sleep_ms(1500);
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'unmapped_status'}"), 1);
	assert_int_equal(tsdaemon_metric(&f->d, "ticketsync_unmapped_status_total"), 1);
	/* Another unmapped status, then the first one again: each a new version, audited. */
	put(f, "tickets", "{'_id': 'TK-2078', 'detection_ids': [2], 'status': 'Blocked', 'assignee': 'jim', 'resolution': null, 'updated_at': {'$date': '2026-11-04T00:00:00Z'}}");
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'unmapped_status', 'detection_id': 2, 'detail.status': 'Blocked'}", 1, 5000));
	put(f, "tickets", "{'_id': 'TK-2078', 'detection_ids': [2], 'status': 'Waiting for Godot', 'assignee': 'jim', 'resolution': null, 'updated_at': {'$date': '2026-11-05T00:00:00Z'}}");
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'unmapped_status', 'detection_id': 2, 'detail.status': 'Waiting for Godot'}", 2, 5000));
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'unmapped_status'}"), 3);
	fixture_free(f);
}

static void
test_malformed_input_rejected(void **state)
{
	fixture_t *f = *state;

	fixture_begin(f, NULL, API_KEY);

	fixture_start_daemon(f);
	/* Wrong field types, an id that is a string, a fractional id. */
	put(f, "detections", "{'_id': 5, 'title': 'bad', 'risk_score': 'high'}");
	put(f, "tickets", "{'_id': 'TK-5', 'detection_ids': [5], 'status': 'new', 'assignee': 'x', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	put(f, "detections", "{'_id': 'seven', 'title': 'string id'}");
	put(f, "detections", "{'_id': 8.5, 'title': 'fractional id'}");
	/* A ticket whose detection_ids is not an array. */
	put(f, "tickets", "{'_id': 'TK-BAD', 'detection_ids': 'nine', 'status': 'new'}");
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'rejected_input', 'detection_id': 5}", 1, 5000));
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'rejected_input', 'message': {'$regex': 'seven'}}", 1, 5000));
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'rejected_input', 'message': {'$regex': '8.5'}}", 1, 5000));
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'rejected_input', 'ticket_id': 'TK-BAD'}", 1, 5000));
	/* The service carries on. */
	put(f, "detections", "{'_id': 6, 'title': 'good'}");
	put(f, "tickets", "{'_id': 'TK-6', 'detection_ids': [6], 'status': 'In Progress', 'assignee': 'kim', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	assert_true(wait_patches(f, 6, 1, 10000) >= 0);
	assert_body(f, 6, "{'ticket_id': 'TK-6', 'status': 'in_progress', 'assignee': 'kim'}");
	assert_int_equal(patches(f, 5, NULL, NULL), 0);
	fixture_free(f);
}

static void
test_retry_after_and_503(void **state)
{
	fixture_t *f = *state;

	fixture_begin(f, NULL, API_KEY);
	bson_t all;
	bson_iter_t it, arr;
	int64_t t429 = -1, tnext = -1;

	assert_true(tsextrahop_set_fault(&f->fx, "{\"kind\": \"status\", \"status\": 429, \"retry_after\": 2, \"count\": 1, \"method\": \"PATCH\"}") >= 0);
	assert_true(tsextrahop_set_fault(&f->fx, "{\"kind\": \"status\", \"status\": 503, \"count\": 2, \"method\": \"PATCH\"}") >= 0);
	fixture_start_daemon(f);
	put(f, "detections", "{'_id': 1, 'title': 'x'}");
	put(f, "tickets", "{'_id': 'TK-1', 'detection_ids': [1], 'status': 'new', 'assignee': 'a', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	/* 429, then 503 twice, then 204. */
	assert_true(wait_patches(f, 1, 4, 20000) >= 0);
	assert_true(wait_count(f, "ticketsync_state", "{'_id': 1, 'state': 'synced'}", 1, 5000));
	patches(f, 1, NULL, &all);
	assert_true(bson_iter_init_find(&it, &all, "requests") && bson_iter_recurse(&it, &arr));
	while (bson_iter_next(&arr)) {
		const uint8_t *data;
		uint32_t len;
		bson_t req;
		bson_iter_document(&arr, &len, &data);
		bson_init_static(&req, data, len);
		if (tsextrahop_int(&req, "status", 0) == 429)
			t429 = tsextrahop_int(&req, "time_ms", 0);
		else if (t429 >= 0 && tnext < 0)
			tnext = tsextrahop_int(&req, "time_ms", 0);
	}
	bson_destroy(&all);
	/* Retry-After: 2 was honoured (the configured backoff alone is 100 ms). */
	assert_true(t429 >= 0 && tnext >= 0);
	assert_true(tnext - t429 >= 1900);
	/* The audit record follows the state write in the same job: wait for it. */
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'pushed', 'detection_id': 1}", 1, 5000));
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'retry', 'detection_id': 1}"), 3);
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'retry', 'http_status': 429}"), 1);
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'pushed', 'detection_id': 1}"), 1);
	fixture_free(f);
}

static void
test_404_parked_then_unparked(void **state)
{
	tsextrahop_opts_t fxo = { .api_key = API_KEY, .detections_count = 3 };
	fixture_t *f = *state;

	fixture_begin(f, &fxo, API_KEY);

	fixture_start_daemon(f);
	/* ExtraHop does not know detection 99. */
	put(f, "detections", "{'_id': 99, 'title': 'gone'}");
	put(f, "tickets", "{'_id': 'TK-99', 'detection_ids': [99], 'status': 'new', 'assignee': 'a', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	assert_true(wait_count(f, "ticketsync_state", "{'_id': 99, 'state': 'parked'}", 1, 10000));
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'parked', 'detection_id': 99, 'http_status': 404}", 1, 5000));
	sleep_ms(1000);
	assert_int_equal(patches(f, 99, NULL, NULL), 1); /* parked: not retried */
	/* ExtraHop learns the detection; a ticket change unparks it. */
	assert_int_equal(tsextrahop_add_detection(&f->fx, 99, "{\"title\": \"gone\"}"), 0);
	put(f, "tickets", "{'_id': 'TK-99', 'detection_ids': [99], 'status': 'In Progress', 'assignee': 'a', 'updated_at': {'$date': '2026-11-02T00:00:00Z'}}");
	assert_true(wait_count(f, "ticketsync_state", "{'_id': 99, 'state': 'synced'}", 1, 10000));
	assert_int_equal(patches(f, 99, NULL, NULL), 2);
	fixture_free(f);
	/* The parked warning carries its fields for a log query. */
	const tslogfmt_t *l = assert_log_is_logfmt(f, false, "detection 99 parked");
	assert_non_null(l);
	assert_string_equal(tslogfmt_get(l, "level"), "warn");
	assert_string_equal(tslogfmt_get(l, "detection"), "99");
	assert_string_equal(tslogfmt_get(l, "http_status"), "404");
}

/*
 * ExtraHop gives no reply at all (every PATCH's connection closed): a warning once the
 * outage lasts [push] unreachable_warn_ms, /readyz 503 naming it, the up gauge 0; and
 * when it answers again: the change goes out, one "answers again" line, up 1, a last
 * success time. Run as under systemd (JOURNAL_STREAM naming the daemon's stderr):
 * every line has its syslog priority.
 */
static void
test_extrahop_unreachable_signals(void **state)
{
	fixture_t *f = *state;
	char value[64], *body = NULL;
	struct stat st;
	FILE *fp;

	fixture_begin(f, NULL, API_KEY);
	tsdaemon_setenv(&f->d, "TICKETSYNC_PUSH_UNREACHABLE_WARN_MS", "1000");
	tsdaemon_setenv(&f->d, "TICKETSYNC_PUSH_RETRY_BASE_MS", "100");
	tsdaemon_setenv(&f->d, "TICKETSYNC_PUSH_RETRY_MAX_MS", "300");
	tsdaemon_setenv(&f->d, "TICKETSYNC_PUSH_RECHECK_MS", "0");
	fp = fopen(f->d.stderr_path, "a");
	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	fclose(fp);
	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	tsdaemon_setenv(&f->d, "JOURNAL_STREAM", value);
	assert_true(tsextrahop_set_fault(&f->fx, "{\"kind\": \"close\", \"method\": \"PATCH\"}") >= 0);
	fixture_start_daemon(f);
	assert_int_equal(tsdaemon_metric(&f->d, "ticketsync_extrahop_up"), 1);
	put(f, "detections", "{'_id': 1, 'title': 'x'}");
	put(f, "tickets", "{'_id': 'TK-1', 'detection_ids': [1], 'status': 'new', 'assignee': 'a', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	for (int i = 0; i < 100 && !tsdaemon_log_contains(&f->d, "ExtraHop unreachable for"); i++)
		sleep_ms(100);
	assert_true(tsdaemon_log_contains(&f->d, "ExtraHop unreachable for"));
	assert_true(tsdaemon_log_contains(&f->d, "change(s) pending"));
	assert_int_equal(tsdaemon_metric(&f->d, "ticketsync_extrahop_up"), 0);
	assert_int_equal(tsdaemon_metric(&f->d, "ticketsync_extrahop_last_success_timestamp_seconds"), 0);
	assert_int_equal(tsdaemon_get(&f->d, "/readyz", &body), 503);
	assert_non_null(strstr(body, "ExtraHop unreachable for"));
	free(body);
	body = NULL;
	assert_int_equal(count(f, "ticketsync_state", "{'_id': 1, 'state': 'synced'}"), 0);

	assert_int_equal(tsextrahop_clear_faults(&f->fx), 0);
	assert_true(wait_count(f, "ticketsync_state", "{'_id': 1, 'state': 'synced'}", 1, 10000));
	for (int i = 0; i < 50 && !tsdaemon_log_contains(&f->d, "ExtraHop answers again after"); i++)
		sleep_ms(100);
	assert_true(tsdaemon_log_contains(&f->d, "ExtraHop answers again after"));
	assert_int_equal(tsdaemon_metric(&f->d, "ticketsync_extrahop_up"), 1);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_extrahop_last_success_timestamp_seconds") >
	    (double)time(NULL) - 60);
	assert_int_equal(tsdaemon_get(&f->d, "/readyz", &body), 200);
	free(body);
	fixture_free(f);
	const tslogfmt_t *l = assert_log_is_logfmt(f, true, "ExtraHop unreachable for");
	assert_non_null(l);
	assert_int_equal(l->priority, 4);
}

static void
test_401_stops_pushing(void **state)
{
	fixture_t *f = *state;

	fixture_begin(f, NULL, API_KEY);
	char *body = NULL;

	tsdaemon_setenv(&f->d, "TICKETSYNC_EXTRAHOP_API_KEY", "wrong-key");
	/* Probes come every retry_max_ms (at most 30 s): make them rare here. */
	tsdaemon_setenv(&f->d, "TICKETSYNC_PUSH_RETRY_MAX_MS", "20000");
	fixture_start_daemon(f);
	for (int i = 1; i <= 5; i++) {
		char json[256];
		snprintf(json, sizeof(json), "{'_id': %d, 'title': 'x'}", i);
		put(f, "detections", json);
		snprintf(json, sizeof(json), "{'_id': 'TK-%d', 'detection_ids': [%d], 'status': 'new', 'assignee': 'a', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}", i, i);
		put(f, "tickets", json);
	}
	assert_true(wait_patches(f, -1, 1, 10000) >= 0);
	sleep_ms(1500);
	/* Stopped after the first refusal(s): at most one batch went out, nothing parked. */
	assert_true(patches(f, -1, NULL, NULL) <= 5);
	int before = patches(f, -1, NULL, NULL);
	sleep_ms(1500);
	assert_int_equal(patches(f, -1, NULL, NULL), before);
	assert_int_equal(count(f, "ticketsync_state", "{'state': 'parked'}"), 0);
	assert_int_equal(count(f, "ticketsync_state", "{'state': {'$in': ['pending', 'in_flight']}}"), 5);
	assert_true(tsdaemon_log_contains(&f->d, "ExtraHop refused our credentials (HTTP 401"));
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'auth_error', 'http_status': 401}", 1, 5000));
	assert_int_equal(tsdaemon_get(&f->d, "/readyz", &body), 503);
	assert_non_null(strstr(body, "pushes stopped"));
	free(body);
	fixture_free(f);
}

static void
test_oauth2_token_expiry(void **state)
{
	tsextrahop_opts_t fxo = {
		.client_id = "cid", .client_secret = "csecret", .token_ttl = 2,
		.detections_count = 10,
	};
	fixture_t *f = *state;
	bson_t stats;

	fixture_begin(f, &fxo, NULL);
	tsdaemon_setenv(&f->d, "TICKETSYNC_EXTRAHOP_OAUTH_CLIENT_ID", "cid");
	tsdaemon_setenv(&f->d, "TICKETSYNC_EXTRAHOP_OAUTH_CLIENT_SECRET", "csecret");
	fixture_start_daemon(f);
	put(f, "detections", "{'_id': 1, 'title': 'x'}");
	put(f, "tickets", "{'_id': 'TK-1', 'detection_ids': [1], 'status': 'new', 'assignee': 'a', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	assert_true(wait_patches(f, 1, 1, 10000) >= 0);
	sleep_ms(2500); /* the token has expired */
	put(f, "tickets", "{'_id': 'TK-1', 'detection_ids': [1], 'status': 'In Progress', 'assignee': 'a', 'updated_at': {'$date': '2026-11-02T00:00:00Z'}}");
	assert_true(wait_patches(f, 1, 2, 10000) >= 0);
	assert_true(wait_count(f, "ticketsync_state", "{'_id': 1, 'state': 'synced'}", 1, 5000));
	/* Every PATCH carried a bearer token and was accepted. */
	assert_int_equal(tsextrahop_stats(&f->fx, &stats), 0);
	assert_int_equal(tsextrahop_int(&stats, "patch_accepted", 0), 2);
	bson_destroy(&stats);
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'pushed'}", 2, 5000));
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'pushed'}"), 2);
	fixture_free(f);
}

static void
test_restart_resumes_from_checkpoint(void **state)
{
	fixture_t *f = *state;

	fixture_begin(f, NULL, API_KEY);
	int st;
	char err[512];

	fixture_start_daemon(f);
	seed_example(f);
	assert_true(wait_count(f, "ticketsync_state", "{'state': 'synced'}", 3, 10000));
	assert_true(wait_count(f, "ticketsync_checkpoints", "{'_id': 'watcher'}", 1, 5000));
	fixture_stop_daemon(f);
	(void)st;
	/* Changed while the daemon was down. */
	put(f, "tickets", "{'_id': 'TK-2078', 'detection_ids': [2], 'status': 'In Progress', 'assignee': 'jim', 'resolution': null, 'updated_at': {'$date': '2026-11-05T00:00:00Z'}}");
	(void)err;
	fixture_start_daemon(f);
	assert_true(wait_patches(f, 2, 2, 10000) >= 0);
	assert_body(f, 2, "{'ticket_id': 'TK-2078', 'status': 'in_progress'}");
	sleep_ms(1500);
	/* Nothing already pushed went out again. */
	assert_int_equal(patches(f, 1, NULL, NULL), 1);
	assert_int_equal(patches(f, 3, NULL, NULL), 1);
	assert_int_equal(patches(f, -1, NULL, NULL), 4);
	assert_true(tsdaemon_log_contains(&f->d, "resuming from the saved checkpoint"));
	fixture_free(f);
}

static void
test_ticket_before_detection_and_multiple_tickets(void **state)
{
	fixture_t *f = *state;

	fixture_begin(f, NULL, API_KEY);
	fixture_start_daemon(f);
	/* The ticket arrives first: nothing to push until its detection exists. */
	put(f, "tickets", "{'_id': 'TK-7a', 'detection_ids': [7], 'status': 'new', 'assignee': 'ann', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	sleep_ms(1000);
	assert_int_equal(patches(f, 7, NULL, NULL), 0);
	put(f, "detections", "{'_id': 7, 'title': 'late detection'}");
	assert_true(wait_patches(f, 7, 1, 10000) >= 0);
	assert_body(f, 7, "{'ticket_id': 'TK-7a', 'status': 'new', 'assignee': 'ann'}");
	/* A second, more recently updated ticket for the same detection wins. */
	put(f, "tickets", "{'_id': 'TK-7b', 'detection_ids': [7, 8], 'status': 'In Progress', 'assignee': 'bob', 'updated_at': {'$date': '2026-11-03T00:00:00Z'}}");
	assert_true(wait_patches(f, 7, 2, 10000) >= 0);
	assert_body(f, 7, "{'ticket_id': 'TK-7b', 'status': 'in_progress', 'assignee': 'bob'}");
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'multiple_tickets', 'detection_id': 7, 'ticket_id': 'TK-7b'}", 1, 5000));
	/* The older one changing again does not take over. */
	put(f, "tickets", "{'_id': 'TK-7a', 'detection_ids': [7], 'status': 'Done', 'assignee': 'ann', 'updated_at': {'$date': '2026-11-02T00:00:00Z'}}");
	sleep_ms(1500);
	assert_int_equal(patches(f, 7, NULL, NULL), 2);
	/* Deleting the winning ticket leaves ExtraHop's fields alone (documented), and the
	 * remaining ticket now wins. */
	{
		mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, "tickets");
		bson_t *filter = BCON_NEW("_id", BCON_UTF8("TK-7b"));
		bson_error_t err;
		assert_true(mongoc_collection_delete_one(coll, filter, NULL, NULL, &err));
		bson_destroy(filter);
		mongoc_collection_destroy(coll);
	}
	assert_true(wait_patches(f, 7, 3, 10000) >= 0);
	/* Jira's Done without a resolution counts as action taken (the default map). */
	assert_body(f, 7, "{'ticket_id': 'TK-7a', 'status': 'closed', 'assignee': 'ann', 'resolution': 'action_taken'}");
	fixture_free(f);
}

static void
test_ticket_delete_keeps_fields(void **state)
{
	fixture_t *f = *state;
	bson_t det;

	fixture_begin(f, NULL, API_KEY);
	fixture_start_daemon(f);
	put(f, "detections", "{'_id': 4, 'title': 'x'}");
	put(f, "tickets", "{'_id': 'TK-4', 'detection_ids': [4], 'status': 'In Progress', 'assignee': 'kim', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	assert_true(wait_patches(f, 4, 1, 10000) >= 0);
	{
		mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, "tickets");
		bson_t *filter = BCON_NEW("_id", BCON_UTF8("TK-4"));
		bson_error_t err;
		assert_true(mongoc_collection_delete_one(coll, filter, NULL, NULL, &err));
		bson_destroy(filter);
		mongoc_collection_destroy(coll);
	}
	sleep_ms(1500);
	assert_int_equal(patches(f, 4, NULL, NULL), 1);
	assert_int_equal(tsextrahop_get_detection(&f->fx, 4, &det), 0);
	assert_string_equal(tsextrahop_str(&det, "ticket_id"), "TK-4");
	assert_string_equal(tsextrahop_str(&det, "status"), "in_progress");
	bson_destroy(&det);
	fixture_free(f);
}

static void
test_https_verification(void **state)
{
	tsextrahop_opts_t fxo = { .api_key = API_KEY, .detections_count = 5, .tls = true };
	fixture_t *f = *state;

	fixture_begin(f, &fxo, API_KEY);
	/* Without the run's CA the certificate is refused: retried, never parked, never
	 * sent in the clear. */
	tsdaemon_setenv(&f->d, "TICKETSYNC_EXTRAHOP_CA_FILE", "");
	fixture_start_daemon(f);
	put(f, "detections", "{'_id': 1, 'title': 'x'}");
	put(f, "tickets", "{'_id': 'TK-1', 'detection_ids': [1], 'status': 'new', 'assignee': 'a', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	assert_true(wait_count(f, "ticketsync_audit", "{'event': 'retry', 'detection_id': 1}", 1, 10000));
	assert_int_equal(patches(f, 1, NULL, NULL), 0);
	assert_int_equal(count(f, "ticketsync_state", "{'state': 'parked'}"), 0);
	fixture_stop_daemon(f);
	/* With it, the same change goes out. */
	tsdaemon_setenv(&f->d, "TICKETSYNC_EXTRAHOP_CA_FILE", f->fx.ca_file);
	fixture_start_daemon(f);
	assert_true(wait_patches(f, 1, 1, 15000) >= 0);
	assert_true(wait_count(f, "ticketsync_state", "{'_id': 1, 'state': 'synced'}", 1, 5000));
	fixture_free(f);
}

/* Datagrams on a notify socket for up to ms, appended to buf (each + "\n"). */
static void
notify_read(int fd, char *buf, size_t len, int ms)
{
	int64_t end = clock_mono_ms() + ms;

	while (clock_mono_ms() < end) {
		char dgram[1024];
		struct timeval tv = { 0, 50000 };
		ssize_t n;

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = recv(fd, dgram, sizeof(dgram) - 1, 0);
		if (n <= 0)
			continue;
		dgram[n] = '\0';
		strncat(buf, dgram, len - strlen(buf) - 2);
		strcat(buf, "\n");
	}
}

/*
 * Under systemd (Type=notify): READY=1 once the change stream is open, with a STATUS=
 * line; WATCHDOG=1 from the loop at least four times per WATCHDOG_USEC; STOPPING=1 on
 * SIGTERM. The notify socket is the test's own.
 */
static void
test_systemd_notify(void **state)
{
	fixture_t *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char got[65536];
	char path[sizeof(sa.sun_path)];
	int fd;

	fixture_begin(f, NULL, API_KEY);
	snprintf(path, sizeof(path), "/tmp/tsnotify-%ld.sock", (long)getpid());
	unlink(path);
	bson_strncpy(sa.sun_path, path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	tsdaemon_setenv(&f->d, "NOTIFY_SOCKET", path);
	tsdaemon_setenv(&f->d, "WATCHDOG_USEC", "400000");
	got[0] = '\0';
	fixture_start_daemon(f);
	for (int i = 0; i < 200 && strstr(got, "READY=1") == NULL; i++)
		notify_read(fd, got, sizeof(got), 100);
	if (strstr(got, "READY=1\nSTATUS=") == NULL)
		fail_msg("no READY=1 with a STATUS= line; got:\n%s", got);
	assert_true(tsdaemon_log_contains(&f->d, "systemd: ready"));
	/* ready means the stream is open: a change made now is pushed */
	put(f, "detections", "{'_id': 1, 'title': 'x'}");
	put(f, "tickets", "{'_id': 'TK-1', 'detection_ids': [1], 'status': 'new', 'assignee': 'a', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	assert_true(wait_patches(f, 1, 1, 10000) >= 0);
	got[0] = '\0';
	notify_read(fd, got, sizeof(got), 1000);
	assert_true(tsrun_count_lines(got, "WATCHDOG=1") >= 5); /* every 100 ms; slow runs too */
	assert_null(strstr(got, "READY=1")); /* once */
	assert_int_equal(tsproc_signal(&f->d.proc, SIGTERM), 0);
	got[0] = '\0';
	notify_read(fd, got, sizeof(got), 1000);
	assert_non_null(strstr(got, "STOPPING=1"));
	fixture_free(f);
	close(fd);
	unlink(path);
}

static void
test_bad_config_exits_2(void **state)
{
	tsdaemon_t d;
	char err[512];
	int st;

	(void)state;
	tsdaemon_init(&d, tsmongo_uri(tsgroup_mongo()), "x", "http://127.0.0.1:1", API_KEY);
	tsdaemon_setenv(&d, "TICKETSYNC_PUSH_INTERVAL_MS", "soon");
	/* It must refuse to start: no READY line, exit status 2, the key named. */
	assert_int_equal(tsdaemon_start(&d, err, sizeof(err)), -1);
	st = tsproc_wait(&d.proc, 5000);
	(void)st;
	assert_true(tsdaemon_log_contains(&d, "TICKETSYNC_PUSH_INTERVAL_MS"));
	tsdaemon_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_seed_example_pushed_once, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_first_start_rescans_existing, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_change_unchanged_unmapped, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_input_rejected, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_and_503, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_404_parked_then_unparked, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_401_stops_pushing, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_extrahop_unreachable_signals, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_systemd_notify, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_oauth2_token_expiry, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_restart_resumes_from_checkpoint, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_ticket_before_detection_and_multiple_tickets, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_ticket_delete_keeps_fields, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_https_verification, fixture_setup, tsscene_teardown),
		cmocka_unit_test(test_bad_config_exits_2),
	};

	return cmocka_run_group_tests(tests, tsscene_group_setup, tsscene_group_teardown);
}
