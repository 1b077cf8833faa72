/*
 * Reliability: nothing lost under crashes, MongoDB faults, ExtraHop faults and
 * shutdown under load. Every scenario ends the same way: a final clean run of the
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

#include <curl/curl.h>

#include "tsscene.h"

static tsmongo_t *mongo;
static bool soak;

/* The ticket life cycle the scenarios walk through, and what ExtraHop should show. */
static const struct {
	const char *status, *resolution;
	const char *eh_status, *eh_resolution;
} cycle[] = {
	{ "To Do", NULL, "new", NULL },
	{ "In Progress", NULL, "in_progress", NULL },
	{ "Triage", NULL, "acknowledged", NULL },
	{ "Done", "Fixed", "closed", "action_taken" },
	{ "Done", "Won't Do", "closed", "no_action_taken" },
};
#define NCYCLE (sizeof(cycle) / sizeof(cycle[0]))

/* Change k (1-based) of detection d: assignee "u<k>" grows with k, so the order of
 * values is visible in every PATCH body. */
static void
ticket_json(int64_t d, int k, char *buf, size_t len)
{
	int c = k % (int)NCYCLE;

	/* Real JSON (double quotes): "Won't Do" has an apostrophe. */
	snprintf(buf, len,
	    "{\"_id\": \"TK-%lld\", \"detection_ids\": [%lld], \"status\": \"%s\", "
	    "\"assignee\": \"u%d\", \"resolution\": %s%s%s, "
	    "\"updated_at\": {\"$date\": {\"$numberLong\": \"%lld\"}}}",
	    (long long)d, (long long)d, cycle[c].status, k, cycle[c].resolution ? "\"" : "",
	    cycle[c].resolution ? cycle[c].resolution : "null", cycle[c].resolution ? "\"" : "",
	    (long long)(1764000000000LL + k));
}

static void
tsfail(tsscene_t *s)
{
	fail_msg("%s", s->error);
}

static void
put_detections(tsscene_t *s, int n)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(s->client, s->db, "detections");
	mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, NULL);
	bson_error_t err;
	bson_t reply;

	for (int i = 1; i <= n; i++) {
		bson_t *doc = BCON_NEW("_id", BCON_INT64(i), "title", BCON_UTF8("reliability"),
		    "status", BCON_NULL, "assignee", BCON_NULL, "ticket_id", BCON_NULL,
		    "resolution", BCON_NULL);
		mongoc_bulk_operation_insert(bulk, doc);
		bson_destroy(doc);
	}
	if (!mongoc_bulk_operation_execute(bulk, &reply, &err))
		fail_msg("insert detections: %s", err.message);
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
	mongoc_collection_destroy(coll);
}

/* Writer thread: total changes over ndet detections, round robin, own client. */
typedef struct writer {
	tsscene_t *s;
	int ndet, total, pace_us;
	int *last_k; /* per detection, the last change written */
	volatile int written;
	char error[256];
} writer_t;

static void *
writer_main(void *arg)
{
	writer_t *w = arg;
	mongoc_client_t *client = tsmongo_client(w->s->mongo);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, w->s->db, "tickets");
	char json[512];

	for (int i = 0; i < w->total; i++) {
		int64_t d = (i % w->ndet) + 1;
		int k = ++w->last_k[d];
		bson_t *doc, filter = BSON_INITIALIZER;
		bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
		bson_error_t err;
		bson_iter_t it;

		ticket_json(d, k, json, sizeof(json));
		doc = bson_new_from_json((const uint8_t *)json, -1, &err);
		if (doc == NULL) {
			snprintf(w->error, sizeof(w->error), "bad JSON %.120s: %.100s", json, err.message);
			break;
		}
		bson_iter_init_find(&it, doc, "_id");
		bson_append_iter(&filter, "_id", 3, &it);
		/* A write the test server refuses (fault injection) is written again. */
		while (!mongoc_collection_replace_one(coll, &filter, doc, opts, NULL, &err))
			usleep(20000);
		bson_destroy(doc);
		bson_destroy(&filter);
		bson_destroy(opts);
		w->written = i + 1;
		if (w->pace_us > 0)
			usleep((useconds_t)w->pace_us);
	}
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	return NULL;
}

/* Wait until every detection's state is synced (or until timeout). */
static bool
wait_converged(tsscene_t *s, int ndet, int timeout_ms)
{
	int64_t start = ts_now_ms();
	int stable = 0;

	while (ts_now_ms() - start < timeout_ms) {
		if (tsscene_count(s, "ticketsync_state", "{'state': 'synced'}") == ndet) {
			if (++stable == 3)
				return true;
		} else {
			stable = 0;
		}
		ts_sleep_ms(100);
	}
	return false;
}

/* The fake's final state of every detection equals its last ticket's mapped state. */
static int
check_final_state(tsscene_t *s, int ndet, const int *last_k)
{
	int lost = 0;

	for (int64_t d = 1; d <= ndet; d++) {
		bson_t det;
		char want_assignee[32], tid[32];
		int c = last_k[d] % (int)NCYCLE;
		const char *st, *res, *as, *ti;

		snprintf(want_assignee, sizeof(want_assignee), "u%d", last_k[d]);
		snprintf(tid, sizeof(tid), "TK-%lld", (long long)d);
		if (tsextrahop_get_detection(&s->fx, d, &det) != 0) {
			lost++;
			bson_destroy(&det);
			continue;
		}
		st = tsextrahop_str(&det, "status");
		res = tsextrahop_str(&det, "resolution");
		as = tsextrahop_str(&det, "assignee");
		ti = tsextrahop_str(&det, "ticket_id");
		if (st == NULL || strcmp(st, cycle[c].eh_status) != 0 ||
		    (cycle[c].eh_resolution == NULL) != (res == NULL) ||
		    (res != NULL && strcmp(res, cycle[c].eh_resolution) != 0) ||
		    as == NULL || strcmp(as, want_assignee) != 0 || ti == NULL ||
		    strcmp(ti, tid) != 0) {
			if (lost < 5)
				fprintf(stderr, "detection %lld: ExtraHop shows %s/%s/%s/%s, expected "
				    "%s/%s/%s/%s\n", (long long)d, ti ? ti : "null", st ? st : "null",
				    as ? as : "null", res ? res : "null", tid, cycle[c].eh_status,
				    want_assignee, cycle[c].eh_resolution ? cycle[c].eh_resolution : "null");
			lost++;
		}
		bson_destroy(&det);
	}
	return lost;
}

/* In the order the fake received them, no PATCH carried an older assignee ("u<k>")
 * than one already acknowledged for that detection. Returns violations. */
static int
check_order(tsscene_t *s, int ndet, int *patches_out)
{
	bson_t all;
	bson_iter_t it, arr;
	int *acked = calloc((size_t)ndet + 1, sizeof(int));
	int violations = 0, n = 0;

	assert_true(tsscene_patches(s, -1, NULL, &all) >= 0);
	assert_int_equal(tsextrahop_int(&all, "dropped", 0), 0); /* the whole history is here */
	if (bson_iter_init_find(&it, &all, "requests") && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			const uint8_t *data;
			uint32_t len;
			bson_t req;
			const char *path, *method, *as;
			long long d;
			int k;

			bson_iter_document(&arr, &len, &data);
			bson_init_static(&req, data, len);
			method = tsextrahop_str(&req, "method");
			path = tsextrahop_str(&req, "path");
			as = tsextrahop_str(&req, "body.assignee");
			if (method == NULL || strcmp(method, "PATCH") != 0 || path == NULL ||
			    sscanf(path, "/api/v1/detections/%lld", &d) != 1 || d < 1 || d > ndet ||
			    as == NULL || sscanf(as, "u%d", &k) != 1)
				continue;
			n++;
			if (k < acked[d]) {
				if (violations < 5)
					fprintf(stderr, "detection %lld: PATCH with u%d after u%d was "
					    "acknowledged\n", d, k, acked[d]);
				violations++;
			}
			if (tsextrahop_int(&req, "status", 0) == 204 && k > acked[d])
				acked[d] = k;
		}
	}
	bson_destroy(&all);
	free(acked);
	if (patches_out != NULL)
		*patches_out = n;
	return violations;
}

static tsscene_t *
scene(const char *tag, int latency_ms)
{
	tsextrahop_opts_t fxo = {
		.api_key = TSSCENE_API_KEY, .auto_create = true, .latency_ms = latency_ms,
		.record_limit = 1000000,
	};
	tsscene_t *s = tsscene_new(mongo, tag);

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
final_run_and_check(tsscene_t *s, int ndet, const int *last_k, const char *what,
    int64_t extra_figure, const char *extra_name)
{
	int lost, violations, npatch, st;

	if (!s->d_started && tsscene_start_daemon(s) != 0)
		tsfail(s);
	assert_true(wait_converged(s, ndet, soak ? 600000 : 120000));
	st = tsscene_stop_daemon(s);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	lost = check_final_state(s, ndet, last_k);
	violations = check_order(s, ndet, &npatch);
	printf("reliability: %s: %s=%lld detections=%d patches=%d lost=%d order_violations=%d "
	    "parked=%lld\n", what, extra_name, (long long)extra_figure, ndet, npatch, lost,
	    violations, (long long)tsscene_count(s, "ticketsync_state", "{'state': 'parked'}"));
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
	writer_t w = { .s = s, .ndet = ndet, .total = total };
	pthread_t th;
	int done_kills = 0;

	(void)state;
	*state = s;
	w.last_k = calloc((size_t)ndet + 1, sizeof(int));
	w.pace_us = soak ? 500 : 1000;
	put_detections(s, ndet);
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	srandom((unsigned)getpid());
	pthread_create(&th, NULL, writer_main, &w);
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
	final_run_and_check(s, ndet, w.last_k, "kill -9 while streaming", done_kills, "kills");
	free(w.last_k);
}

/* getMore/aggregate failures, dropped connections, failed state/audit/checkpoint
 * writes, and history lost: the daemon recovers by itself and converges. */
static void
test_mongodb_faults(void **state)
{
	int ndet = 100, total = soak ? 5000 : 1000;
	tsscene_t *s = scene("mongofault", 0);
	writer_t w = { .s = s, .ndet = ndet, .total = total, .pace_us = 2000 };
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
	w.last_k = calloc((size_t)ndet + 1, sizeof(int));
	put_detections(s, ndet);
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	pthread_create(&th, NULL, writer_main, &w);
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
	assert_true(wait_converged(s, ndet, 60000));
	{
		int st = tsscene_stop_daemon(s);
		assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_true(tsmongo_set_history(mongo, 20, &err));
	w.total = 200;
	w.pace_us = 0;
	writer_main(&w);
	faults++;
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	assert_true(tsscene_wait_count(s, "ticketsync_audit", "{'event': 'history_lost'}", 1, 20000));
	assert_true(tsscene_wait_count(s, "ticketsync_audit", "{'event': 'rescan'}", 2, 20000));
	assert_true(tsmongo_set_history(mongo, 100000, &err));
	final_run_and_check(s, ndet, w.last_k, "MongoDB faults", faults, "faults");
	free(w.last_k);
}

/* 30 % 503s, 429 bursts with Retry-After, connection resets, latency spikes beyond
 * the request timeout, and a full outage. */
static void
test_extrahop_faults(void **state)
{
	int ndet = 200, total = soak ? 10000 : 1500;
	int outage_ms = soak ? 300000 : 5000;
	tsscene_t *s = scene("ehfault", 0);
	writer_t w = { .s = s, .ndet = ndet, .total = total, .pace_us = soak ? 1000 : 2000 };
	pthread_t th;
	bson_t stats;

	*state = s;
	w.last_k = calloc((size_t)ndet + 1, sizeof(int));
	put_detections(s, ndet);
	assert_true(tsextrahop_set_fault(&s->fx, "{\"kind\": \"status\", \"status\": 503, \"fraction\": 0.3, \"method\": \"PATCH\"}") >= 0);
	assert_true(tsextrahop_set_fault(&s->fx, "{\"kind\": \"status\", \"status\": 429, \"retry_after\": 1, \"count\": 40, \"method\": \"PATCH\"}") >= 0);
	assert_true(tsextrahop_set_fault(&s->fx, "{\"kind\": \"close\", \"fraction\": 0.05, \"method\": \"PATCH\"}") >= 0);
	/* Spikes longer than the 2 s request timeout: the attempt times out, and is retried. */
	assert_true(tsextrahop_set_fault(&s->fx, "{\"kind\": \"latency\", \"latency_ms\": 10000, \"count\": 5, \"method\": \"PATCH\"}") >= 0);
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	pthread_create(&th, NULL, writer_main, &w);
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
	final_run_and_check(s, ndet, w.last_k, "ExtraHop faults", injected, "faults");
	free(w.last_k);
}

/* SIGTERM with many PATCHes in flight on a slow API: exits 0 within the deadline,
 * and what it abandoned goes out after the restart. */
static void
test_shutdown_under_load(void **state)
{
	int ndet = 300;
	tsscene_t *s = scene("shutdown", 0);
	writer_t w = { .s = s, .ndet = ndet, .total = ndet };
	int64_t t0, took;
	int st;

	*state = s;
	w.last_k = calloc((size_t)ndet + 1, sizeof(int));
	put_detections(s, ndet);
	assert_int_equal(tsextrahop_settings(&s->fx, "{\"latency_ms\": 1500}"), 0);
	tsdaemon_setenv(&s->d, "TICKETSYNC_SERVICE_SHUTDOWN_TIMEOUT_MS", "1000");
	tsdaemon_setenv(&s->d, "TICKETSYNC_EXTRAHOP_REQUEST_TIMEOUT_MS", "5000");
	tsdaemon_setenv(&s->d, "TICKETSYNC_PUSH_CLAIM_TIMEOUT_MS", "10000");
	if (tsscene_start_daemon(s) != 0)
		tsfail(s);
	writer_main(&w);
	assert_true(tsscene_wait_count(s, "ticketsync_state", "{'state': 'in_flight'}", 16, 20000));
	t0 = ts_now_ms();
	st = tsscene_stop_daemon(s);
	took = ts_now_ms() - t0;
	printf("reliability: shutdown under load took %lld ms (deadline 1000 ms + the "
	    "change stream's await)\n", (long long)took);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(took < 1000 + 2500);
	/* Nothing was left claimed: abandoned requests were released, not lost. */
	assert_int_equal(tsscene_count(s, "ticketsync_state", "{'state': 'in_flight'}"), 0);
	assert_int_equal(tsextrahop_settings(&s->fx, "{\"latency_ms\": 0}"), 0);
	final_run_and_check(s, ndet, w.last_k, "shutdown under load", took, "shutdown_ms");
	free(w.last_k);
}

static int
scene_teardown(void **state)
{
	tsscene_free(*state);
	tsmongo_tmp_free();
	return 0;
}

static int
group_setup(void **state)
{
	char err[512];

	(void)state;
	mongo = tsmongo_start(err, sizeof(err));
	if (mongo == NULL) {
		fprintf(stderr, "cannot start MongoDB: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	tsmongo_stop(mongo);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill9_while_streaming, scene_teardown),
		cmocka_unit_test_teardown(test_mongodb_faults, scene_teardown),
		cmocka_unit_test_teardown(test_extrahop_faults, scene_teardown),
		cmocka_unit_test_teardown(test_shutdown_under_load, scene_teardown),
	};
	const char *e = getenv("TICKETSYNC_SOAK");
	int rc;

	soak = e != NULL && strcmp(e, "1") == 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	mongoc_cleanup();
	curl_global_cleanup();
	return rc;
}
