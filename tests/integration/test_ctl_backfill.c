/*
 * ticketsyncctl backfill: the real binary against the MongoDB test server (or
 * TICKETSYNC_TEST_MONGODB_URI) and, for --push, the fake ExtraHop API. Dry runs write
 * nothing; a run queues exactly the differences and a second run none; --since and
 * --detection select; --push sends exact PATCHes with the daemon's engine, stops on
 * refused credentials and leaves retries for the daemon; progress on a TTY and off
 * it. The scale test backfills 20,000 generated detections (100,000 with
 * TICKETSYNC_TEST_BIG=1) and prints its time and peak memory next to a baseline a
 * tenth the size: figures, not timed assertions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "ticketsync/clock.h"
#include "ticketsync/store.h"
#include "tsscene.h"

#define API_KEY "test-key-backfill"

typedef tsscene_t fixture_t;

/* The API key ticketsyncctl is given once the test started the fake (NULL before). */
static const char *ctl_api_key;

static int
fixture_setup(void **state)
{
	ctl_api_key = NULL;
	return tsscene_setup(state, "ctlbackfill");
}

/* Start the fake API (detections 1..20, API key) and point ticketsyncctl at it with
 * key (NULL: the right one). */
static void
start_fake(fixture_t *f, const char *key)
{
	tsextrahop_opts_t o = { .api_key = API_KEY, .detections_count = 20 };
	char err[512];

	if (tsextrahop_start(&f->fx, &o, err, sizeof(err)) != 0)
		fail_msg("fake ExtraHop: %s", err);
	f->fx_started = true;
	ctl_api_key = key ? key : API_KEY;
}

static void
ctl_opts(fixture_t *f, tsrun_result_t *r, bool tty, bool quiet, const char *const *args)
{
	char env_url[200], env_key[100];
	const char *env[] = {
		/* Quick retries, so a test waits for nothing. */
		"TICKETSYNC_PUSH_INTERVAL_MS=200", "TICKETSYNC_PUSH_RETRY_BASE_MS=1000",
		NULL, NULL, NULL };

	if (ctl_api_key != NULL) {
		snprintf(env_url, sizeof(env_url), "TICKETSYNC_EXTRAHOP_URL=%s", f->fx.base_url);
		snprintf(env_key, sizeof(env_key), "TICKETSYNC_EXTRAHOP_API_KEY=%s", ctl_api_key);
		env[2] = env_url;
		env[3] = env_key;
	}
	if (tsscene_ctl(f, r, &(tsrun_opts_t){ .env = env, .stderr_tty = tty }, quiet, args) != 0)
		fail_msg("ticketsyncctl: %s", r->err);
}

#define CTL(f, r, ...) ctl_opts((f), (r), false, false, (const char *const[]){ __VA_ARGS__, NULL })

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("output does not contain \"%s\":\n%s", needle, haystack);
}

#define count tsscene_count

static void
put(fixture_t *f, const char *coll_name, const char *json)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(f->client, f->db, coll_name);
	bson_t *doc = tsmongo_json(json);
	bson_error_t err;

	if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &err))
		fail_msg("insert %s: %s", json, err.message);
	mongoc_collection_destroy(coll);
}

static void
seed_example(fixture_t *f)
{
	put(f, "detections", "{'_id': 1, 'title': 'Port scan', 'status': null, 'assignee': null, 'ticket_id': null, 'resolution': null, 'update_time': 1700000000000}");
	put(f, "detections", "{'_id': {'$numberLong': '2'}, 'title': 'Brute force', 'update_time': 1700000000000}");
	put(f, "detections", "{'_id': 3.0, 'title': 'Exfiltration', 'risk_score': 80}");
	put(f, "tickets", "{'_id': 'TK-16982', 'detection_ids': [1], 'status': 'new', 'assignee': 'sally', 'resolution': null, 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	put(f, "tickets", "{'_id': 'TK-2078', 'detection_ids': [2], 'status': null, 'assignee': 'jim', 'resolution': null, 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
	put(f, "tickets", "{'_id': 'TK-3452', 'detection_ids': [3], 'status': null, 'assignee': 'alex', 'resolution': null, 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");
}

/* The number after "name " in a summary line, or -1. */
static int64_t
stat_of(const char *out, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "%s ", name);
	for (p = strstr(out, key); p != NULL; p = strstr(p + 1, key)) {
		/* whole words only: "queued" is not inside another name */
		if (p == out || p[-1] == ' ' || p[-1] == '\n')
			return strtoll(p + strlen(key), NULL, 10);
	}
	return -1;
}

static void
assert_body(fixture_t *f, int64_t id, const char *expected_json)
{
	char why[1024];

	assert_int_equal(tsscene_patches(f, id, NULL, NULL), 1);
	if (!tsscene_last_body_is(f, id, expected_json, why, sizeof(why)))
		fail_msg("%s", why);
}

/* ---- tests ---- */

static void
test_dry_run_then_queue_then_nothing(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;

	seed_example(f);
	CTL(f, &r, "backfill", "--dry-run");
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(stat_of(r.out, "scanned"), 3);
	assert_int_equal(stat_of(r.out, "queued"), 3);
	assert_contains(r.out, "dry run: nothing written");
	/* Not a terminal: plain progress lines, the last one complete. */
	assert_contains(r.err, "progress: 3/3 detections (100%)");
	tsrun_free(&r);
	assert_int_equal(count(f, "ticketsync_state", "{}"), 0);
	assert_int_equal(count(f, "ticketsync_audit", "{}"), 0);

	CTL(f, &r, "backfill");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "scanned 3, in sync 0, queued 3, unchanged 0, unmapped 0, rejected 0, no ticket 0, missing 0");
	tsrun_free(&r);
	assert_int_equal(count(f, "ticketsync_state", "{'state': 'pending'}"), 3);

	/* Level-triggered: a second run finds everything already recorded. */
	CTL(f, &r, "backfill");
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(stat_of(r.out, "queued"), 0);
	assert_int_equal(stat_of(r.out, "unchanged"), 3);
	tsrun_free(&r);
	assert_int_equal(count(f, "ticketsync_state", "{}"), 3);
}

static void
test_since_and_detection_select(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;
	char json[256];

	seed_example(f);
	/* Detection 4 was updated an hour ago; 1 and 2 in 2023; 3 has no update_time. */
	snprintf(json, sizeof(json), "{'_id': 4, 'title': 'Recent', 'update_time': {'$numberLong': '%" PRId64 "'}}",
	    clock_wall_ms() - 3600000);
	put(f, "detections", json);
	put(f, "tickets", "{'_id': 'TK-4', 'detection_ids': [4], 'status': 'Done', 'assignee': null, 'resolution': 'Fixed', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}");

	CTL(f, &r, "backfill", "--since", "24h");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.err, "backfill: detections updated since ");
	assert_int_equal(stat_of(r.out, "scanned"), 1);
	assert_int_equal(stat_of(r.out, "queued"), 1);
	tsrun_free(&r);
	assert_int_equal(count(f, "ticketsync_state", "{}"), 1);
	assert_int_equal(count(f, "ticketsync_state", "{'_id': 4, 'desired.status': 'closed', 'desired.resolution': 'action_taken'}"), 1);

	CTL(f, &r, "backfill", "--since", "2023-01-01");
	assert_int_equal(stat_of(r.out, "scanned"), 3);
	tsrun_free(&r);

	CTL(f, &r, "backfill", "--detection", "2", "--detection", "3,99");
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(stat_of(r.out, "scanned"), 2);
	assert_int_equal(stat_of(r.out, "missing"), 1);
	tsrun_free(&r);
	assert_int_equal(count(f, "ticketsync_state", "{}"), 4);

	CTL(f, &r, "backfill", "--since", "1h", "--detection", "2");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
	CTL(f, &r, "backfill", "--dry-run", "--push");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
	CTL(f, &r, "backfill", "--detection", "-4");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
	/* --push needs ExtraHop's settings: a configuration error. */
	CTL(f, &r, "backfill", "--push");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "configuration error");
	tsrun_free(&r);
}

static void
test_push_sends_exact_patches(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;

	start_fake(f, NULL);
	seed_example(f);
	CTL(f, &r, "backfill", "--push");
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(stat_of(r.out, "queued"), 3);
	assert_contains(r.out, "pushed 3, retried 0, parked 0");
	assert_contains(r.out, "left: 0 pending (0 due), 0 in flight, 0 parked");
	tsrun_free(&r);
	assert_body(f, 1, "{'ticket_id': 'TK-16982', 'status': 'new', 'assignee': 'sally'}");
	assert_body(f, 2, "{'ticket_id': 'TK-2078', 'assignee': 'jim'}");
	assert_body(f, 3, "{'ticket_id': 'TK-3452', 'assignee': 'alex'}");
	assert_int_equal(count(f, "ticketsync_state", "{'state': 'synced'}"), 3);
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'pushed', 'http_status': 204, 'instance': {'$regex': '^ticketsyncctl:'}}"), 3);

	/* Nothing left to do: a second run sends nothing. */
	CTL(f, &r, "backfill", "--push");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "pushed 0,");
	tsrun_free(&r);
	assert_int_equal(tsscene_patches(f, -1, NULL, NULL), 3);
}

static void
test_push_stops_on_refused_credentials(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;

	start_fake(f, "not-the-key");
	seed_example(f);
	CTL(f, &r, "backfill", "--push");
	assert_int_equal(r.exit_code, 1);
	assert_contains(r.err, "pushes stopped: ExtraHop answered HTTP 401");
	assert_contains(r.out, "pushed 0,");
	tsrun_free(&r);
	/* Nothing is lost: everything waits for the daemon (or a fixed key). */
	assert_int_equal(count(f, "ticketsync_state", "{'state': 'pending'}"), 3);
}

static void
test_push_leaves_retries_to_the_daemon(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;

	start_fake(f, NULL);
	seed_example(f);
	assert_true(tsextrahop_set_fault(&f->fx, "{\"kind\": \"status\", \"status\": 503, \"path_prefix\": \"/api/v1/detections/2\"}") >= 0);
	CTL(f, &r, "backfill", "--push");
	assert_int_equal(r.exit_code, 0);
	assert_contains(r.out, "pushed 2, retried 1, parked 0");
	assert_contains(r.out, "left: 1 pending (0 due)");
	assert_contains(r.err, "1 detection(s) wait for a retry");
	tsrun_free(&r);
	assert_int_equal(count(f, "ticketsync_state", "{'_id': 2, 'state': 'pending', 'attempts': 1}"), 1);
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'retry', 'detection_id': 2, 'http_status': 503}"), 1);
}

static void
test_progress_bar_on_a_tty(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t r;

	seed_example(f);
	ctl_opts(f, &r, true, false, (const char *const[]){ "backfill", NULL });
	assert_int_equal(r.exit_code, 0);
	/* Redrawn in place with \r, cleared to the end of the line, finished by a newline. */
	assert_contains(r.err, "\r[####################] 100%  3/3 detections");
	assert_contains(r.err, "\033[K");
	assert_null(strstr(r.err, "progress:"));
	tsrun_free(&r);
}

/* ---- scale ---- */

/* n detections with ids 1..n; every 10th has a ticket "In Progress" (queued), every
 * 1000th of those an unmapped status. Bulk inserts of 1000 through libmongoc. */
static void
generate(fixture_t *f, int64_t n)
{
	mongoc_collection_t *dets = mongoc_client_get_collection(f->client, f->db, "detections");
	mongoc_collection_t *tks = mongoc_client_get_collection(f->client, f->db, "tickets");
	bson_t docs[1000], tdocs[100];
	const bson_t *ptrs[1000];
	bson_error_t err;
	int64_t base = INT64_C(1790000000000);

	for (int64_t off = 0; off < n; off += 1000) {
		size_t k = 0, t = 0;
		for (int64_t id = off + 1; id <= off + 1000 && id <= n; id++, k++) {
			bson_t cats;
			bson_init(&docs[k]);
			BSON_APPEND_INT64(&docs[k], "_id", id);
			BSON_APPEND_UTF8(&docs[k], "title", "Generated detection for the backfill test");
			BSON_APPEND_UTF8(&docs[k], "type", "custom.scale_test");
			BSON_APPEND_ARRAY_BEGIN(&docs[k], "categories", &cats);
			BSON_APPEND_UTF8(&cats, "0", "sec.attack");
			bson_append_array_end(&docs[k], &cats);
			BSON_APPEND_INT32(&docs[k], "risk_score", (int32_t)(id % 100));
			BSON_APPEND_INT64(&docs[k], "start_time", base + id);
			BSON_APPEND_INT64(&docs[k], "update_time", base + id);
			BSON_APPEND_NULL(&docs[k], "status");
			BSON_APPEND_NULL(&docs[k], "assignee");
			BSON_APPEND_NULL(&docs[k], "ticket_id");
			BSON_APPEND_NULL(&docs[k], "resolution");
			ptrs[k] = &docs[k];
			if (id % 10 == 0) {
				char tid[32];
				bson_t ids;
				snprintf(tid, sizeof(tid), "TK-%" PRId64, id);
				bson_init(&tdocs[t]);
				BSON_APPEND_UTF8(&tdocs[t], "_id", tid);
				BSON_APPEND_ARRAY_BEGIN(&tdocs[t], "detection_ids", &ids);
				BSON_APPEND_INT64(&ids, "0", id);
				bson_append_array_end(&tdocs[t], &ids);
				BSON_APPEND_UTF8(&tdocs[t], "status",
				    id % 10000 == 0 ? "Waiting for Godot" : "In Progress");
				BSON_APPEND_UTF8(&tdocs[t], "assignee", "analyst");
				BSON_APPEND_NULL(&tdocs[t], "resolution");
				BSON_APPEND_DATE_TIME(&tdocs[t], "updated_at", base);
				t++;
			}
		}
		if (!mongoc_collection_insert_many(dets, ptrs, k, NULL, NULL, &err))
			fail_msg("insert detections: %s", err.message);
		for (size_t i = 0; i < t; i++)
			ptrs[i] = &tdocs[i];
		if (t > 0 && !mongoc_collection_insert_many(tks, ptrs, t, NULL, NULL, &err))
			fail_msg("insert tickets: %s", err.message);
		for (size_t i = 0; i < k; i++)
			bson_destroy(&docs[i]);
		for (size_t i = 0; i < t; i++)
			bson_destroy(&tdocs[i]);
	}
	mongoc_collection_destroy(dets);
	mongoc_collection_destroy(tks);
}

typedef struct scale_run {
	int64_t n;
	double insert_s, seconds, cpu_s, again_s;
	long maxrss_kb;
} scale_run_t;

static void
scale_once(fixture_t *f, int64_t n, scale_run_t *out)
{
	tsrun_result_t r;
	int64_t a;
	int64_t tickets = n / 10, unmapped = n / 10000;

	out->n = n;
	a = clock_mono_ms();
	generate(f, n);
	out->insert_s = (double)(clock_mono_ms() - a) / 1e3;

	ctl_opts(f, &r, false, true, (const char *const[]){ "backfill", NULL });
	fprintf(stderr, "--- backfill of %" PRId64 " (exit %d)\n%s", n, r.exit_code, r.out);
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(stat_of(r.out, "scanned"), n);
	assert_int_equal(stat_of(r.out, "queued"), tickets - unmapped);
	assert_int_equal(stat_of(r.out, "unmapped"), unmapped);
	assert_int_equal(stat_of(r.out, "no ticket"), n - tickets);
	assert_int_equal(stat_of(r.out, "rejected"), 0);
	/* Plain progress: about one line per tenth, not one per detection. */
	assert_true(tsrun_count_lines(r.err, "progress:") <= 25);
	/* Unmapped statuses: one summary at the end, no warning per detection. */
	assert_int_equal(tsrun_count_lines(r.err, "no ExtraHop mapping"), 0);
	if (unmapped > 0) {
		char want[256];
		snprintf(want, sizeof(want), "unmapped statuses (nothing pushed for them; add them "
		    "under [statusmap]): \"Waiting for Godot\" %" PRId64 "\n", unmapped);
		assert_contains(r.out, want);
	} else {
		assert_null(strstr(r.out, "unmapped statuses"));
	}
	assert_contains(r.err, "(100%)");
	out->seconds = r.seconds;
	out->cpu_s = r.cpu_seconds;
	out->maxrss_kb = r.maxrss_kb;
	tsrun_free(&r);
	assert_int_equal(count(f, "ticketsync_state", "{'state': 'pending'}"), tickets - unmapped);
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'unmapped_status'}"), unmapped);

	/* The second pass writes nothing. */
	ctl_opts(f, &r, false, true, (const char *const[]){ "backfill", NULL });
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(stat_of(r.out, "queued"), 0);
	assert_int_equal(stat_of(r.out, "unchanged"), tickets - unmapped);
	out->again_s = r.seconds;
	tsrun_free(&r);
	/* ... and audits no unmapped status again: the same ticket versions. */
	assert_int_equal(count(f, "ticketsync_audit", "{'event': 'unmapped_status'}"), unmapped);
}

static void
test_scale(void **state)
{
	fixture_t *f = *state;
	const char *big = getenv("TICKETSYNC_TEST_BIG");
	int64_t n = big != NULL && strcmp(big, "1") == 0 ? 100000 : 20000;
	scale_run_t small, large;
	fixture_t g = *f;

	/* The baseline (a tenth the size) in a database of its own, same process. */
	tsmongo_dbname(f->mongo, "ctlbackfill_base", 0, g.db, sizeof(g.db));
	scale_once(&g, n / 10, &small);
	tsmongo_drop_db(g.client, g.db);
	scale_once(f, n, &large);

	printf("backfill scale (against %s):\n", tsmongo_is_test_server(f->mongo) ? "the MongoDB test server" : "TICKETSYNC_TEST_MONGODB_URI");
	for (const scale_run_t *s = &small; s != NULL; s = s == &small ? &large : NULL)
		printf("  %7" PRId64 " detections (%" PRId64 " queued): insert %.2f s; backfill %.2f s "
		    "(%.0f detections/s; ticketsyncctl's own CPU %.2f s), peak RSS %.1f MiB; second "
		    "pass %.2f s\n", s->n, s->n / 10 - s->n / 10000, s->insert_s, s->seconds,
		    (double)s->n / s->seconds, s->cpu_s, (double)s->maxrss_kb / 1024.0, s->again_s);
	printf("  memory growth for %.0fx the detections: %.2fx\n", (double)large.n / (double)small.n,
	    (double)large.maxrss_kb / (double)small.maxrss_kb);
	fflush(stdout);
#if !defined(__SANITIZE_ADDRESS__)
	/* Bounded memory: ten times the detections, nowhere near ten times the memory.
	 * (Not under ASan, whose quarantine keeps freed memory resident by design.) */
	assert_true(large.maxrss_kb < small.maxrss_kb * 2 + 16 * 1024);
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dry_run_then_queue_then_nothing, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_since_and_detection_select, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_push_sends_exact_patches, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_push_stops_on_refused_credentials, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_push_leaves_retries_to_the_daemon, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_progress_bar_on_a_tty, fixture_setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_scale, fixture_setup, tsscene_teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, tsgroup_setup, tsgroup_teardown);
	curl_global_cleanup();
	return rc;
}
