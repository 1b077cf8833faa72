/*
 * Reliability: nothing lost under crashes, MongoDB faults, ExtraHop faults and
 * shutdown under load; no ticket created twice or never under kill -9. Every scenario ends the same way: a final clean run of the
 * daemon, then the fake ExtraHop's state must equal every ticket's mapped state
 * (0 lost), nothing that should have been retried is parked, and no PATCH carried an
 * older value after a newer one was acknowledged.
 *
 * Short in CI; TICKETSYNC_SOAK=1 runs the same scenarios with the bigger
 * numbers (200 kills, 5,000+ changes) and prints the figures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ticketsync/clock.h"
#include "tsworkload.h"

static bool soak;

static void
tsfail(tsscene_t *s)
{
	fail_msg("%s", s->error);
}

static tsscene_t *
scene(const char *tag, int latency_ms)
{
	tsextrahop_opts_t fxo = {
		.api_key = TSSCENE_API_KEY, .auto_create = true, .latency_ms = latency_ms,
		.record_limit = 1000000,
	};
	tsscene_t *s = tsscene_new(tsgroup_mongo(), tag);

	assert_non_null(s);
	if (tsscene_begin(s, &fxo, TSSCENE_API_KEY) != 0)
		tsfail(s);
	/* Short claims so a killed daemon's detections are taken again quickly. */
	tsdaemon_setenv(&s->d, "TICKETSYNC_EXTRAHOP_REQUEST_TIMEOUT_MS", "2000");
	tsdaemon_setenv(&s->d, "TICKETSYNC_EXTRAHOP_CONNECT_TIMEOUT_MS", "1000");
	tsdaemon_setenv(&s->d, "TICKETSYNC_PUSH_CLAIM_TIMEOUT_MS", "3000");
	tsdaemon_setenv(&s->d, "TICKETSYNC_PUSH_RETRY_MAX_MS", "1000");
	return s;
}

static void
final_run_and_check(tsworkload_t *w, const char *what, int64_t extra_figure,
    const char *extra_name)
{
	tsscene_t *s = w->s;
	int lost, violations, npatch, st;

	if (!s->d_started && tsscene_start_daemon(s) != 0)
		tsfail(s);
	assert_true(tsworkload_wait_converged(w, soak ? 600000 : 120000));
	st = tsscene_stop_daemon(s);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	lost = tsworkload_lost(w);
	violations = tsworkload_stale(w, &npatch, NULL, NULL, NULL, NULL);
	printf("reliability: %s: %s=%lld changes=%d detections=%d patches=%d lost=%d "
	    "order_violations=%d parked=%lld\n", what, extra_name, (long long)extra_figure,
	    w->written, w->ndet, npatch, lost, violations,
	    (long long)tsscene_count(s, "ticketsync_state", "{'state': 'parked'}"));
	assert_int_equal(lost, 0);
	assert_int_equal(violations, 0);
	assert_int_equal(tsscene_count(s, "ticketsync_state", "{'state': 'parked'}"), 0);
}

/* kill -9 at random moments while ticket changes stream in. */
static void
test_kill9_while_streaming(void **state)
{
	int ndet = soak ? 1000 : 250, total = soak ? 20000 : 5000, kills = soak ? 200 : 20;
	tsscene_t *s = scene("kill9", 1);
	tsworkload_t w;
	pthread_t th;
	int done_kills = 0;

	(void)state;
	*state = s;
	tsworkload_init(&w, s, ndet, total, soak ? 500 : 1000);
	assert_true(tsworkload_put_detections(&w));
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	srandom((unsigned)getpid());
	pthread_create(&th, NULL, tsworkload_write, &w);
	while (done_kills < kills) {
		/* Let it run a random while (startup included), then pull the plug. */
		ts_sleep_ms(100 + (int)(random() % 400));
		tsdaemon_kill(&s->d);
		s->d_started = false;
		done_kills++;
		if (tsscene_start_daemon(s) != 0)
			tsfail(s);
	}
	pthread_join(th, NULL);
	assert_string_equal(w.error, "");
	final_run_and_check(&w, "kill -9 while streaming", done_kills, "kills");
	tsworkload_free(&w);
}

/* getMore/aggregate failures, dropped connections, failed state/audit/checkpoint
 * writes, and history lost: the daemon recovers by itself and converges. */
static void
test_mongodb_faults(void **state)
{
	int ndet = 100, total = soak ? 5000 : 1000;
	tsmongo_t *mongo = tsgroup_mongo();
	tsscene_t *s = scene("mongofault", 0);
	tsworkload_t w;
	bson_error_t err;
	pthread_t th;
	int faults = 0;
	static const struct {
		const char *cmd;
		int code;
		bool close;
	} plan[] = {
		{ "getMore", 43, false },    /* CursorNotFound: resumable */
		{ "getMore", 91, false },    /* ShutdownInProgress */
		{ "getMore", 0, true },      /* connection closed */
		{ "aggregate", 10107, false },/* NotWritablePrimary while reopening */
		{ "update", 91, false },     /* the service's own state writes */
		{ "findAndModify", 91, false },
		{ "insert", 91, false },     /* audit */
		{ "find", 91, false },       /* refresh reads, claims */
	};

	*state = s;
	if (!tsmongo_is_test_server(mongo))
		skip(); /* fail points need the test server (or enableTestCommands) */
	tsworkload_init(&w, s, ndet, total, 2000);
	assert_true(tsworkload_put_detections(&w));
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	pthread_create(&th, NULL, tsworkload_write, &w);
	for (size_t i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
		ts_sleep_ms(300);
		assert_true(tsmongo_fail_command(mongo, plan[i].cmd, plan[i].code, 3, plan[i].close, &err));
		faults += 3;
		ts_sleep_ms(700);
		if (i % 3 == 2) {
			assert_true(tsmongo_drop_connections(mongo, &err));
			faults++;
		}
	}
	assert_true(tsmongo_fail_off(mongo, &err));
	pthread_join(th, NULL);

	/* History lost: stop, let the change history roll past the checkpoint, restart. */
	assert_true(tsworkload_wait_converged(&w, 60000));
	{
		int st = tsscene_stop_daemon(s);
		assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_true(tsmongo_set_history(mongo, 20, &err));
	w.total = 200;
	w.pace_us = 0;
	tsworkload_write(&w);
	faults++;
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	assert_true(tsscene_wait_count(s, "ticketsync_audit", "{'event': 'history_lost'}", 1, 20000));
	assert_true(tsscene_wait_count(s, "ticketsync_audit", "{'event': 'rescan'}", 2, 20000));
	assert_true(tsmongo_set_history(mongo, 100000, &err));
	final_run_and_check(&w, "MongoDB faults", faults, "faults");
	tsworkload_free(&w);
}

/* 30 % 503s, 429 bursts with Retry-After, connection resets, latency spikes beyond
 * the request timeout, and a full outage. */
static void
test_extrahop_faults(void **state)
{
	int ndet = 200, total = soak ? 10000 : 1500;
	int outage_ms = soak ? 300000 : 5000;
	tsscene_t *s = scene("ehfault", 0);
	tsworkload_t w;
	pthread_t th;
	bson_t stats;

	*state = s;
	tsworkload_init(&w, s, ndet, total, soak ? 1000 : 2000);
	assert_true(tsworkload_put_detections(&w));
	assert_true(tsextrahop_set_fault(&s->fx, "{\"kind\": \"status\", \"status\": 503, \"fraction\": 0.3, \"method\": \"PATCH\"}") >= 0);
	assert_true(tsextrahop_set_fault(&s->fx, "{\"kind\": \"status\", \"status\": 429, \"retry_after\": 1, \"count\": 40, \"method\": \"PATCH\"}") >= 0);
	assert_true(tsextrahop_set_fault(&s->fx, "{\"kind\": \"close\", \"fraction\": 0.05, \"method\": \"PATCH\"}") >= 0);
	/* Spikes longer than the 2 s request timeout: the attempt times out and is retried,
	 * but the fake still applies it when the spike ends (as a slow server would). The
	 * recheck re-sends the current value after that, so the late old one cannot stick. */
	tsdaemon_setenv(&s->d, "TICKETSYNC_PUSH_RECHECK_MS", "15000");
	assert_true(tsextrahop_set_fault(&s->fx, "{\"kind\": \"latency\", \"latency_ms\": 10000, \"count\": 5, \"method\": \"PATCH\"}") >= 0);
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	pthread_create(&th, NULL, tsworkload_write, &w);
	ts_sleep_ms(2000);
	/* Full outage: every PATCH fails for a while, changes keep coming. */
	int64_t outage = tsextrahop_set_fault(&s->fx, "{\"kind\": \"status\", \"status\": 503, \"method\": \"PATCH\"}");
	assert_true(outage >= 0);
	ts_sleep_ms(outage_ms);
	{
		char url[256];
		tsextrahop_response_t resp;
		snprintf(url, sizeof(url), "%s/faults/%lld", s->fx.control_url, (long long)outage);
		assert_int_equal(tsextrahop_http(&s->fx, "DELETE", url, NULL, NULL, &resp), 0);
		tsextrahop_response_free(&resp);
	}
	pthread_join(th, NULL);
	/* Stop injecting before the final run; what failed must still arrive. */
	assert_int_equal(tsextrahop_clear_faults(&s->fx), 0);
	assert_int_equal(tsextrahop_stats(&s->fx, &stats), 0);
	int64_t injected = tsextrahop_int(&stats, "faults.status", 0) + tsextrahop_int(&stats, "faults.close", 0);
	bson_destroy(&stats);
	assert_true(injected > 0);
	final_run_and_check(&w, "ExtraHop faults", injected, "faults");
	tsworkload_free(&w);
}

/* SIGTERM with many PATCHes in flight on a slow API: exits 0 within the deadline,
 * and what it abandoned goes out after the restart. */
static void
test_shutdown_under_load(void **state)
{
	int ndet = 300;
	tsscene_t *s = scene("shutdown", 0);
	tsworkload_t w;
	int64_t t0, took;
	int st;

	*state = s;
	tsworkload_init(&w, s, ndet, ndet, 0);
	assert_true(tsworkload_put_detections(&w));
	assert_int_equal(tsextrahop_settings(&s->fx, "{\"latency_ms\": 1500}"), 0);
	tsdaemon_setenv(&s->d, "TICKETSYNC_SERVICE_SHUTDOWN_TIMEOUT_MS", "1000");
	tsdaemon_setenv(&s->d, "TICKETSYNC_EXTRAHOP_REQUEST_TIMEOUT_MS", "5000");
	tsdaemon_setenv(&s->d, "TICKETSYNC_PUSH_CLAIM_TIMEOUT_MS", "10000");
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	tsworkload_write(&w);
	assert_true(tsscene_wait_count(s, "ticketsync_state", "{'state': 'in_flight'}", 16, 20000));
	t0 = clock_mono_ms();
	st = tsscene_stop_daemon(s);
	took = clock_mono_ms() - t0;
	printf("reliability: shutdown under load took %lld ms (deadline 1000 ms + the "
	    "change stream's await)\n", (long long)took);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(took < 1000 + 2500);
	/* Nothing was left claimed: abandoned requests were released, not lost. */
	assert_int_equal(tsscene_count(s, "ticketsync_state", "{'state': 'in_flight'}"), 0);
	assert_int_equal(tsextrahop_settings(&s->fx, "{\"latency_ms\": 0}"), 0);
	final_run_and_check(&w, "shutdown under load", took, "shutdown_ms");
	tsworkload_free(&w);
}

/* n detections as the trigger writes them, first seen now (so they qualify for a ticket). */
static void
put_fresh_detections(tsscene_t *s, int from, int n)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(s->client, s->db, "detections");
	mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, NULL);
	int64_t now = clock_wall_ms();
	bson_error_t err;
	bson_t reply;

	for (int i = from; i < from + n; i++) {
		bson_t *doc = BCON_NEW("_id", BCON_INT64(i), "title", BCON_UTF8("reliability"),
		    "type", BCON_UTF8("t"), "categories", "[", "sec.attack", "]",
		    "risk_score", BCON_INT32(50), "start_time", BCON_INT64(now), "update_time",
		    BCON_INT64(now), "status", BCON_NULL, "assignee", BCON_NULL, "ticket_id",
		    BCON_NULL, "resolution", BCON_NULL);
		mongoc_bulk_operation_insert(bulk, doc);
		bson_destroy(doc);
	}
	if (!mongoc_bulk_operation_execute(bulk, &reply, &err))
		fail_msg("insert detections: %s", err.message);
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
	mongoc_collection_destroy(coll);
}

/* kill -9 at random moments while tickets are being created: afterwards every
 * detection has exactly one ticket (0 duplicates, 0 missing). */
static void
test_kill9_during_creations(void **state)
{
	int n = soak ? 5000 : 2000, kills = 20, done_kills = 0;
	tsscene_t *s = scene("kill9create", 1);
	int64_t start, created, dups;
	bson_t st;
	int rc;

	*state = s;
	/* Jira Cloud's search lags, so a crash's lookups must wait it out. */
	if (tsscene_begin_tickets(s, "jira-cloud", 300, 0) != 0)
		tsfail(s);
	tsdaemon_setenv(&s->d, "TICKETSYNC_CREATE_CONCURRENCY", "8");
	tsdaemon_setenv(&s->d, "TICKETSYNC_CREATE_LOOKUP_DELAY_MS", "800");
	if (tstickets_set_fault(&s->tk, "{\"kind\": \"latency\", \"latency_ms\": 5, "
	                                "\"latency_max_ms\": 40}") < 0)
		fail_msg("%s", s->tk.error);
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	start = clock_mono_ms();
	put_fresh_detections(s, 1, n);
	srandom((unsigned)getpid());
	while (done_kills < kills) {
		ts_sleep_ms(100 + (int)(random() % 400));
		tsdaemon_kill(&s->d);
		s->d_started = false;
		done_kills++;
		if (tsscene_start_daemon(s) != 0)
			tsfail(s);
	}
	if (!tsscene_wait_count(s, "ticketsync_create_state", "{'state': 'synced'}", n,
	        soak ? 600000 : 180000)) {
		char *js;

		assert_int_equal(tstickets_stats(&s->tk, &st), 0);
		js = bson_as_relaxed_extended_json(&st, NULL);
		fail_msg("not all created: synced %lld pending %lld in_flight %lld parked %lld; fake %s",
		    (long long)tsscene_count(s, "ticketsync_create_state", "{'state': 'synced'}"),
		    (long long)tsscene_count(s, "ticketsync_create_state", "{'state': 'pending'}"),
		    (long long)tsscene_count(s, "ticketsync_create_state", "{'state': 'in_flight'}"),
		    (long long)tsscene_count(s, "ticketsync_create_state", "{'state': 'parked'}"), js);
	}
	rc = tsscene_stop_daemon(s);
	assert_true(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	assert_int_equal(tstickets_stats(&s->tk, &st), 0);
	created = tsextrahop_int(&st, "creates", -1);
	dups = tsextrahop_int(&st, "duplicates", -1);
	bson_destroy(&st);
	printf("reliability: kill -9 during creations: kills=%d detections=%d created=%lld "
	    "duplicates=%lld missing=%lld lookups_after_crash=%lld seconds=%.1f\n", done_kills, n,
	    (long long)created, (long long)dups,
	    (long long)(n - tsscene_count(s, "tickets", "{'source': 'ticketsync'}")),
	    (long long)tsscene_count(s, "ticketsync_audit", "{'event': 'ticket_created', "
	        "'message': {'$regex': 'found by its key'}}"),
	    (double)(clock_mono_ms() - start) / 1000.0);
	assert_int_equal(created, n);
	assert_int_equal(dups, 0);
	assert_int_equal(tsscene_count(s, "tickets", "{'source': 'ticketsync'}"), n);
	assert_int_equal(tsscene_count(s, "ticketsync_create_state", "{'state': 'parked'}"), 0);
}

/*
 * Crash recovery at the shipped defaults (no timeout set here): 16 detections are in
 * flight (ExtraHop answers each after 2 s) when ticketsyncd is killed and restarted at
 * once. Every one is pushed again within [push] claim_timeout_ms (30 s) of its claim,
 * plus a push interval; the figure is printed. The killed process's PATCHes may still
 * complete at ExtraHop, but none is sent after its claim can be taken over.
 */
static void
test_crash_recovery_at_defaults(void **state)
{
	tsextrahop_opts_t fxo = { .api_key = TSSCENE_API_KEY, .auto_create = true,
		.latency_ms = 2000 };
	tsscene_t *s = tsscene_new(tsgroup_mongo(), "recover");
	int64_t claimed_at, killed_at, done_at, claim_ms = 30000;
	char json[256];
	int n = 16;

	*state = s;
	assert_non_null(s);
	if (tsscene_begin(s, &fxo, TSSCENE_API_KEY) != 0)
		tsfail(s);
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	for (int i = 1; i <= n; i++) {
		snprintf(json, sizeof(json), "{'_id': %d, 'title': 'in flight at the crash'}", i);
		if (!tsscene_put(s, "detections", json))
			tsfail(s);
		snprintf(json, sizeof(json), "{'_id': 'TK-%d', 'detection_ids': [%d], 'status': 'new', "
		    "'assignee': 'a', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}", i, i);
		if (!tsscene_put(s, "tickets", json))
			tsfail(s);
	}
	claimed_at = clock_mono_ms();
	assert_true(tsscene_wait_count(s, "ticketsync_state", "{'state': 'in_flight'}", n, 20000));
	ts_sleep_ms(500); /* on the wire, ExtraHop still thinking */
	tsdaemon_kill(&s->d);
	s->d_started = false;
	killed_at = clock_mono_ms();
	assert_int_equal(tsscene_count(s, "ticketsync_state", "{'state': 'in_flight'}"), n);
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	assert_true(tsscene_wait_count(s, "ticketsync_state", "{'state': 'synced'}", n, 90000));
	done_at = clock_mono_ms();
	printf("reliability: crash recovery at defaults: %d detections in flight at kill -9, "
	    "claimed at most %.1f s before it; all pushed again %.1f s after the kill "
	    "(claim_timeout_ms %lld; ExtraHop answers in 2 s here)\n", n,
	    (double)(killed_at - claimed_at) / 1000.0, (double)(done_at - killed_at) / 1000.0,
	    (long long)claim_ms);
	/* The bound: claim_timeout after the claim, plus a push interval and a reply. */
	assert_true(done_at - claimed_at <= claim_ms + 1000 + 2000 + 5000);
	/* Each got its values again, and nothing was parked. */
	for (int i = 1; i <= n; i++) {
		char why[512];

		/* in full: what the crashed holder's PATCH did is not known */
		snprintf(json, sizeof(json), "{'ticket_id': 'TK-%d', 'status': 'new', 'assignee': 'a', "
		    "'resolution': null}", i);
		if (!tsscene_last_body_is(s, i, json, why, sizeof(why)))
			fail_msg("%s", why);
	}
	assert_int_equal(tsscene_count(s, "ticketsync_state", "{'state': 'parked'}"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill9_while_streaming, tsscene_teardown),
		cmocka_unit_test_teardown(test_mongodb_faults, tsscene_teardown),
		cmocka_unit_test_teardown(test_extrahop_faults, tsscene_teardown),
		cmocka_unit_test_teardown(test_shutdown_under_load, tsscene_teardown),
		cmocka_unit_test_teardown(test_kill9_during_creations, tsscene_teardown),
		cmocka_unit_test_teardown(test_crash_recovery_at_defaults, tsscene_teardown),
	};
	const char *e = getenv("TICKETSYNC_SOAK");

	soak = e != NULL && strcmp(e, "1") == 0;
	return cmocka_run_group_tests(tests, tsscene_group_setup, tsscene_group_teardown);
}
