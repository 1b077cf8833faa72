/*
 * Ticket creation end to end: the real ticketsyncd with [create] on, against the
 * MongoDB test server (or TICKETSYNC_TEST_MONGODB_URI), the fake ExtraHop and the fake
 * ticket system (tests/fake-tickets: Jira Cloud, Jira Data Center, ServiceNow). Each
 * test gets its own database, fakes and daemon.
 *
 * What must hold: one ticket per qualifying detection, through ambiguous attempts
 * (a create committed and then dropped, with Jira Cloud's search lagging), 429s,
 * rejections (parked, replayable) and the hourly ceiling (kill -9: test_reliability);
 * the ticket lands in `tickets` and its
 * id, status and assignee reach ExtraHop; detections with a ticket are never ticketed.
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
#include <unistd.h>

#include "tsfile.h"
#include "tsscene.h"

#define ACCOUNT TSSCENE_JIRA_ACCOUNT

typedef tsscene_t fixture_t;

static int
fixture_setup(void **state)
{
	return tsscene_setup(state, "create");
}

static int
fixture_teardown(void **state)
{
	fixture_t *f = *state;

	if (f->d_started) {
		int st = tsscene_stop_daemon(f);
		/* A clean shutdown is part of every test. */
		assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	if (f->tk_started) {
		f->tk_started = false;
		assert_int_equal(tstickets_stop(&f->tk), 0);
	}
	return tsscene_teardown(state);
}

/* Start the fakes; the daemon's environment says: create in the fake, quickly. */
static void
begin(fixture_t *f, const char *flavour, int index_delay_ms)
{
	if (tsscene_begin(f, NULL, TSSCENE_API_KEY) != 0 ||
	    tsscene_begin_tickets(f, flavour, index_delay_ms, 0) != 0)
		fail_msg("%s", f->error);
	snprintf(f->d.stderr_path, sizeof(f->d.stderr_path), "/tmp/ticketsyncd-%s-%ld.log", f->db,
	    (long)getpid());
}

/* The daemon's log, on the test's stderr, when something went wrong. */
static void
show_log(fixture_t *f)
{
	char *log = tsfile_read(f->d.stderr_path, NULL);

	if (log != NULL)
		fprintf(stderr, "--- ticketsyncd log ---\n%s--- end ---\n", log);
	free(log);
}

/* What the audit trail says of detection id, on the test's stderr. */
static void
show_audit(fixture_t *f, int64_t id)
{
	char ids[32];
	const char *args[] = { "audit", "--detection", ids, "--limit", "0", NULL };
	tsrun_result_t res;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	if (tsscene_ctl(f, &res, NULL, true, args) == 0)
		fprintf(stderr, "--- audit of detection %s ---\n%s", ids, res.out);
	tsrun_free(&res);
}

static void
start(fixture_t *f)
{
	if (tsscene_start_daemon(f) != 0) {
		show_log(f);
		fail_msg("%s", f->error);
	}
}

/* A detection as the trigger writes it, first seen now. */
static void
put_detection(fixture_t *f, int64_t id, int risk, const char *extra)
{
	char json[2048];
	long long now = (long long)clock_wall_ms();

	snprintf(json, sizeof(json),
	    "{'_id': %lld, 'title': 'Suspicious LDAP Query %lld', 'description': 'A host ran many "
	    "queries.', 'type': 'ldap_recon', 'categories': ['sec.recon'], 'risk_score': %d, "
	    "'start_time': %lld, 'end_time': %lld, 'update_time': %lld, 'ticket_id': null, "
	    "'status': null, 'assignee': null, 'resolution': null, 'participants': "
	    "[{'role': 'offender', 'hostname': 'ws-12'}], 'mitre_tactics': [], "
	    "'mitre_techniques': []%s%s}", (long long)id, (long long)id, risk, now, now, now,
	    extra ? ", " : "", extra ? extra : "");
	if (!tsscene_put(f, "detections", json))
		fail_msg("%s", f->error);
}

static int64_t
fake_stat(fixture_t *f, const char *key)
{
	bson_t st;
	int64_t v;

	if (tstickets_stats(&f->tk, &st) != 0)
		fail_msg("stats: %s", f->tk.error);
	v = tsextrahop_int(&st, key, -1);
	bson_destroy(&st);
	return v;
}

static bool
wait_fake_stat(fixture_t *f, const char *key, int64_t want, int timeout_ms)
{
	int64_t until = clock_mono_ms() + timeout_ms;

	while (clock_mono_ms() < until) {
		if (fake_stat(f, key) >= want)
			return true;
		ts_sleep_ms(50);
	}
	return false;
}

/* The one ticket of the fake that carries label (Jira) / correlation id (ServiceNow). */
static bool
fake_ticket_for(fixture_t *f, const char *needle, bson_t *out)
{
	bson_t all;
	bson_iter_t it, arr;
	bool found = false;

	bson_init(out);
	if (tstickets_tickets(&f->tk, &all) != 0)
		fail_msg("tickets: %s", f->tk.error);
	if (bson_iter_init_find(&it, &all, "tickets") && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			uint32_t len;
			const uint8_t *data;
			bson_t t;
			char *js;

			bson_iter_document(&arr, &len, &data);
			bson_init_static(&t, data, len);
			js = bson_as_relaxed_extended_json(&t, NULL);
			if (strstr(js, needle) != NULL) {
				bson_destroy(out);
				bson_copy_to(&t, out);
				found = true;
			}
			bson_free(js);
		}
	}
	bson_destroy(&all);
	return found;
}

static void
test_jira_cloud_loop(void **state)
{
	fixture_t *f = *state;
	bson_t t, body;

	begin(f, "jira-cloud", 0);
	start(f);
	/* The trigger writes detection 4 -> one Jira issue. */
	put_detection(f, 4, 72, NULL);
	assert_true(tsscene_wait_count(f, "tickets", "{'_id': 'SEC-1', 'detection_ids': 4}", 1,
	    15000));
	assert_int_equal(fake_stat(f, "creates"), 1);
	assert_true(fake_ticket_for(f, "extrahop-detection-4", &t));
	assert_string_equal(tsextrahop_str(&t, "key"), "SEC-1");
	assert_string_equal(tsextrahop_str(&t, "summary"),
	    "ExtraHop Detection: 4: Suspicious LDAP Query 4");
	bson_destroy(&t);
	/* ... whose id and assignee reach ExtraHop through the usual path. */
	if (tsscene_wait_patches(f, 4, 1, 15000) < 0)
		fail_msg("no PATCH for detection 4");
	bson_init(&body);
	tsscene_patches(f, 4, &body, NULL);
	assert_string_equal(tsextrahop_str(&body, "ticket_id"), "SEC-1");
	assert_string_equal(tsextrahop_str(&body, "assignee"), ACCOUNT);
	assert_string_equal(tsextrahop_str(&body, "status"), "new");
	bson_destroy(&body);
	/* Audited right after `tickets` (which the PATCH may beat). */
	assert_true(tsscene_wait_count(f, "ticketsync_audit",
	    "{'event': 'ticket_created', 'detection_id': 4, 'ticket_id': 'SEC-1'}", 1, 5000));

	/* The detection changes (risk, title): no second ticket. A detection ExtraHop shows
	 * a ticket for, or one a ticket lists, gets none; a low-risk one qualifies too by
	 * default. */
	put_detection(f, 4, 90, NULL);
	put_detection(f, 5, 50, "'ticket_id': 'OPS-9'");
	assert_true(tsscene_put(f, "tickets", "{'_id': 'OPS-10', 'detection_ids': [6], "
	    "'status': 'To Do', 'assignee': null, 'resolution': null, 'updated_at': "
	    "{'$date': '2026-12-01T00:00:00Z'}}"));
	put_detection(f, 6, 50, NULL);
	put_detection(f, 7, 1, NULL);
	assert_true(tsscene_wait_count(f, "tickets", "{'detection_ids': 7}", 1, 15000));
	ts_sleep_ms(1000);
	assert_int_equal(fake_stat(f, "creates"), 2);
	assert_int_equal(fake_stat(f, "duplicates"), 0);
	assert_int_equal(tsscene_count(f, "ticketsync_create_state", "{}"), 2);
}

/* The create is committed and the connection dropped before the reply, while Jira
 * Cloud's search lags: ticketsyncd must find the ticket, not create a second one. */
static void
test_committed_then_dropped(void **state)
{
	fixture_t *f = *state;
	begin(f, "jira-cloud", 1000);
	start(f);
	if (tstickets_set_fault(&f->tk, "{\"kind\": \"commit_close\", \"count\": 1, \"method\": "
	                                "\"POST\", \"path_prefix\": \"/rest/api/2/issue\"}") < 0)
		fail_msg("fault: %s", f->tk.error);
	put_detection(f, 8, 70, NULL);
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'ticket_created', "
	    "'detection_id': 8}", 1, 20000));
	if (fake_stat(f, "creates") != 1)
		show_audit(f, 8);
	assert_int_equal(fake_stat(f, "creates"), 1);
	assert_int_equal(fake_stat(f, "duplicates"), 0);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'create_retry', "
	    "'detection_id': 8}") >= 1, 1);
	assert_int_equal(tsscene_count(f, "tickets", "{'_id': 'SEC-1', 'detection_ids': 8}"), 1);
	assert_true(tsscene_wait_count(f, "ticketsync_create_state",
	    "{'_id': 8, 'state': 'synced', 'result.key': 'SEC-1'}", 1, 5000));
	/* Settled: no later "re-push" of an acknowledged creation. */
	ts_sleep_ms(2000);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'ticket_created', "
	    "'detection_id': 8}"), 1);
	assert_int_equal(tsscene_count(f, "ticketsync_create_state", "{'_id': 8, 'state': 'synced', "
	    "'recheck_at': {'$exists': false}}"), 1);
}

/* A 500 from Jira may come after the issue was committed: the creation is looked up
 * before it is repeated (and, nothing found once the search's lag is over, made). */
static void
test_server_error_looked_up(void **state)
{
	fixture_t *f = *state;
	bson_t reqs;
	char *js;

	begin(f, "jira-cloud", 0);
	start(f);
	if (tstickets_set_fault(&f->tk, "{\"kind\": \"status\", \"status\": 500, \"count\": 1, "
	                                "\"method\": \"POST\", \"path_prefix\": \"/rest/api/2/issue\"}") < 0)
		fail_msg("fault: %s", f->tk.error);
	put_detection(f, 12, 70, NULL);
	assert_true(tsscene_wait_count(f, "ticketsync_create_state", "{'_id': 12, 'state': 'synced'}",
	    1, 20000));
	assert_int_equal(fake_stat(f, "creates"), 1);
	assert_int_equal(tstickets_requests(&f->tk, 0, &reqs), 0);
	js = bson_as_relaxed_extended_json(&reqs, NULL);
	assert_non_null(strstr(js, "/rest/api/3/search/jql"));
	bson_free(js);
	bson_destroy(&reqs);
}

/* A 400 from Jira parks the creation with Jira's reason; status shows it; after the
 * cause is gone, replay-parked --create creates it. 429s are waited out. */
static void
test_rejected_parked_replayed_and_429(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t res;
	const char *status[] = { "status", NULL };
	const char *replay[] = { "replay-parked", "--create", NULL };

	begin(f, "jira-cloud", 0);
	start(f);
	if (tstickets_set_fault(&f->tk, "{\"kind\": \"status\", \"status\": 400, \"count\": 1, "
	                                "\"method\": \"POST\", \"error_message\": \"Field 'x' "
	                                "cannot be set\"}") < 0)
		fail_msg("fault: %s", f->tk.error);
	put_detection(f, 9, 70, NULL);
	assert_true(tsscene_wait_count(f, "ticketsync_create_state", "{'_id': 9, 'state': "
	    "'parked'}", 1, 15000));
	/* The audit record follows the state's write. */
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'create_parked', "
	    "'detection_id': 9, 'http_status': 400}", 1, 5000));
	assert_int_equal(tsscene_ctl(f, &res, NULL, true, status), 0);
	assert_non_null(strstr(res.out, "parked creations"));
	assert_non_null(strstr(res.out, "HTTP 400"));
	tsrun_free(&res);
	assert_int_equal(fake_stat(f, "creates"), 0);

	/* Replay; meanwhile Jira limits writes to 2/s and answers 429 beyond. */
	assert_int_equal(tstickets_settings(&f->tk, "{\"rate_limit\": 2}"), 0);
	for (int64_t id = 10; id < 16; id++)
		put_detection(f, id, 70, NULL);
	assert_int_equal(tsscene_ctl(f, &res, NULL, true, replay), 0);
	assert_non_null(strstr(res.out, "replayed 1 parked ticket creation"));
	tsrun_free(&res);
	assert_true(wait_fake_stat(f, "creates", 7, 30000));
	ts_sleep_ms(500);
	assert_int_equal(fake_stat(f, "creates"), 7);
	assert_int_equal(fake_stat(f, "duplicates"), 0);
	assert_true(fake_stat(f, "rate_limited") > 0);
	assert_true(tsscene_wait_count(f, "tickets", "{'source': 'ticketsync'}", 7, 10000));
}

static void
test_datacenter(void **state)
{
	fixture_t *f = *state;
	bson_t t;
	char *js;

	begin(f, "jira-dc", 0);
	start(f);
	put_detection(f, 3, 85, NULL);
	assert_true(tsscene_wait_count(f, "tickets", "{'_id': 'SEC-1', 'detection_ids': 3, "
	    "'assignee': 'escalations_team'}", 1, 15000));
	assert_true(fake_ticket_for(f, "extrahop-detection-3", &t));
	/* Data Center takes the assignee by name. */
	js = bson_as_relaxed_extended_json(&t, NULL);
	assert_non_null(strstr(js, "escalations_team"));
	bson_free(js);
	bson_destroy(&t);
}

static void
test_servicenow(void **state)
{
	fixture_t *f = *state;
	begin(f, "servicenow", 0);
	start(f);
	put_detection(f, 5, 85, NULL);
	assert_true(tsscene_wait_count(f, "tickets", "{'_id': 'INC0010001', 'detection_ids': 5, "
	    "'status': '1'}", 1, 15000));
	assert_int_equal(fake_stat(f, "creates"), 1);
	assert_true(tsscene_wait_count(f, "ticketsync_create_state",
	    "{'_id': 5, 'result.key': 'INC0010001'}", 1, 5000));
	if (tsscene_wait_patches(f, 5, 1, 15000) < 0)
		fail_msg("no PATCH for detection 5");
}

/* ServiceNow with OAuth: a Bearer token from the password grant; revoked, it is
 * fetched again and the refused create resent once. */
static void
test_servicenow_oauth(void **state)
{
	fixture_t *f = *state;
	tstickets_response_t resp;
	bson_t reqs;
	char *js;

	begin(f, "servicenow-oauth", 0);
	start(f);
	put_detection(f, 5, 85, NULL);
	assert_true(tsscene_wait_count(f, "tickets", "{'_id': 'INC0010001'}", 1, 15000));
	assert_int_equal(tstickets_http(&f->tk, "POST", "/_fake/tokens/revoke", NULL, "", &resp), 0);
	tsextrahop_response_free(&resp);
	put_detection(f, 6, 85, NULL);
	if (!tsscene_wait_count(f, "tickets", "{'_id': 'INC0010002'}", 1, 15000)) {
		show_audit(f, 6);
		show_log(f);
		fail_msg("no second incident");
	}
	assert_int_equal(fake_stat(f, "creates"), 2);
	assert_int_equal(tstickets_requests(&f->tk, 0, &reqs), 0);
	js = bson_as_relaxed_extended_json(&reqs, NULL);
	/* Creates carry the token, never the password; the revoked token met one 401. */
	assert_non_null(strstr(js, "\"authorization\" : \"Bearer "));
	assert_null(strstr(js, "\"authorization\" : \"Basic "));
	assert_non_null(strstr(js, "\"status\" : 401"));
	bson_free(js);
	bson_destroy(&reqs);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'create_auth_error'}"), 0);
}

/* Any HTTP endpoint: bearer token, signed body, idempotency key. A create committed
 * and then dropped is sent again under the same key and answered with the same ticket. */
static void
test_http_endpoint(void **state)
{
	fixture_t *f = *state;
	bson_t t;

	begin(f, "http", 0);
	start(f);
	if (tstickets_set_fault(&f->tk, "{\"kind\": \"commit_close\", \"count\": 1, "
	                                "\"method\": \"POST\"}") < 0)
		fail_msg("fault: %s", f->tk.error);
	put_detection(f, 11, 70, NULL);
	assert_true(tsscene_wait_count(f, "tickets", "{'_id': 'T-1', 'detection_ids': 11}", 1,
	    15000));
	assert_int_equal(fake_stat(f, "creates"), 1);
	assert_int_equal(fake_stat(f, "idempotent_replays"), 1);
	assert_int_equal(fake_stat(f, "duplicates"), 0);
	assert_true(fake_ticket_for(f, "extrahop-detection-11", &t));
	assert_string_equal(tsextrahop_str(&t, "idempotency_key"), "extrahop-detection-11");
	bson_destroy(&t);
	/* tickets is written first, the state right after. */
	assert_true(tsscene_wait_count(f, "ticketsync_create_state",
	    "{'_id': 11, 'state': 'synced', 'result.key': 'T-1'}", 1, 5000));
}

/* Refused credentials: one log line says creation cannot work, /readyz says so, and
 * the detection waits in the queue. */
static void
test_refused_credentials(void **state)
{
	fixture_t *f = *state;
	char *body = NULL;
	long st = 0;
	int64_t until;

	begin(f, "jira-cloud", 0);
	tsdaemon_setenv(&f->d, "TICKETSYNC_JIRA_API_TOKEN", "wrong-token");
	{
		char err[512];
		if (tsdaemon_start(&f->d, err, sizeof(err)) != 0)
			fail_msg("%s", err);
		f->d_started = true;
	}
	until = clock_mono_ms() + 10000;
	while (clock_mono_ms() < until) {
		free(body);
		body = NULL;
		st = tsdaemon_get(&f->d, "/readyz", &body);
		if (st == 503 && body != NULL && strstr(body, "ticket creation") != NULL)
			break;
		ts_sleep_ms(100);
	}
	assert_int_equal(st, 503);
	assert_non_null(strstr(body, "HTTP 401"));
	free(body);
	assert_true(tsdaemon_log_contains(&f->d, "ticket creation in jira cannot work"));
	assert_false(tsdaemon_log_contains(&f->d, "wrong-token"));
	assert_int_equal(tsdaemon_metric(&f->d, "ticketsync_create_ready"), 0);
}

/* Turning creation on tickets only what is new; create-tickets tickets the rest when
 * asked (--since first seen, --dry-run counts), each once. */
static void
test_old_detections_on_request(void **state)
{
	fixture_t *f = *state;
	tsrun_result_t res;
	const char *dry[] = { "create-tickets", "--dry-run", NULL };
	const char *since[] = { "create-tickets", "--since", "2025-11-20T00:00:00Z", NULL };
	const char *all[] = { "create-tickets", NULL };
	char json[512];
	/* ticketsyncctl reads the daemon's configuration (here: its environment). */
	tsrun_opts_t ro = { .env = (const char *const *)f->d.env };

	begin(f, "jira-cloud", 0);
	/* First seen long before creation was turned on. */
	for (int id = 1; id <= 3; id++) {
		snprintf(json, sizeof(json), "{'_id': %d, 'title': 'old %d', 'type': 't', "
		    "'categories': [], 'risk_score': 50, 'start_time': {'$numberLong': '%lld'}, "
		    "'update_time': 1, 'ticket_id': null, 'status': null, 'assignee': null, "
		    "'resolution': null}", id, id, id == 1 ? 1763000000000LL : 1764000000000LL);
		assert_true(tsscene_put(f, "detections", json));
	}
	start(f);
	ts_sleep_ms(1500);
	assert_int_equal(fake_stat(f, "creates"), 0);
	assert_int_equal(tsscene_ctl(f, &res, &ro, true, dry), 0);
	assert_int_equal(res.exit_code, 0);
	assert_non_null(strstr(res.out, "would queue 3 for a ticket in jira"));
	tsrun_free(&res);
	assert_int_equal(tsscene_count(f, "ticketsync_create_state", "{}"), 0);
	/* First seen since 2025-11-20: detections 2 and 3 (2025-11-24), not 1 (2025-11-13). */
	assert_int_equal(tsscene_ctl(f, &res, &ro, true, since), 0);
	assert_int_equal(res.exit_code, 0);
	assert_non_null(strstr(res.out, "queued 2 for a ticket"));
	tsrun_free(&res);
	assert_int_equal(tsscene_ctl(f, &res, &ro, true, all), 0);
	assert_int_equal(res.exit_code, 0);
	assert_non_null(strstr(res.out, "queued 1 for a ticket in jira"));
	tsrun_free(&res);
	assert_true(wait_fake_stat(f, "creates", 3, 15000));
	ts_sleep_ms(500);
	assert_int_equal(fake_stat(f, "creates"), 3);
	assert_int_equal(fake_stat(f, "duplicates"), 0);
	/* Again: nothing new to queue. */
	assert_int_equal(tsscene_ctl(f, &res, &ro, true, all), 0);
	assert_non_null(strstr(res.out, "queued 0 for a ticket"));
	tsrun_free(&res);
}

/* The hourly ceiling: beyond it, creations wait (pending, audited, counted). */
static void
test_hourly_ceiling(void **state)
{
	fixture_t *f = *state;

	begin(f, "jira-cloud", 0);
	tsdaemon_setenv(&f->d, "TICKETSYNC_CREATE_MAX_PER_HOUR", "3");
	tsdaemon_setenv(&f->d, "TICKETSYNC_CREATE_RETRY_MAX_MS", "300");
	start(f);
	for (int64_t id = 1; id <= 5; id++)
		put_detection(f, id, 60, NULL);
	assert_true(wait_fake_stat(f, "creates", 3, 15000));
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'create_retry', "
	    "'message': {'$regex': 'max_per_hour'}}", 2, 15000));
	ts_sleep_ms(500);
	assert_int_equal(fake_stat(f, "creates"), 3);
	assert_int_equal(tsscene_count(f, "ticketsync_create_state", "{'state': 'pending'}"), 2);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_create_ceiling_total") >= 2);
	/* A restart does not open a fresh hour: a new detection waits too. */
	assert_int_equal(tsscene_stop_daemon(f), 0);
	start(f);
	put_detection(f, 6, 60, NULL);
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'create_retry', "
	    "'detection_id': 6, 'message': {'$regex': 'max_per_hour'}}", 1, 15000));
	assert_int_equal(fake_stat(f, "creates"), 3);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_create_ceiling_total") >= 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_jira_cloud_loop, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_committed_then_dropped, fixture_setup,
		    fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rejected_parked_replayed_and_429, fixture_setup,
		    fixture_teardown),
		cmocka_unit_test_setup_teardown(test_server_error_looked_up, fixture_setup,
		    fixture_teardown),
		cmocka_unit_test_setup_teardown(test_datacenter, fixture_setup,
		    fixture_teardown),
		cmocka_unit_test_setup_teardown(test_servicenow, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_servicenow_oauth, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_http_endpoint, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_refused_credentials, fixture_setup,
		    fixture_teardown),
		cmocka_unit_test_setup_teardown(test_old_detections_on_request, fixture_setup,
		    fixture_teardown),
		cmocka_unit_test_setup_teardown(test_hourly_ceiling, fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, tsscene_group_setup, tsscene_group_teardown);
}
