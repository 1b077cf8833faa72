/*
 * Two ticketsyncd instances on one database, one active (issue: failover through a
 * lease). kill -9 the active one: the standby takes over within two lease periods and
 * finishes the work, nothing lost, never both pushing. SIGSTOP the active one longer
 * than the lease: after SIGCONT it steps down and sends nothing. With ticket creation,
 * only the active instance creates, and a kill -9 leaves no duplicate or missing ticket.
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

#include "ticketsync/clock.h"

#include "tsworkload.h"

#define PERIOD_MS 2000

typedef struct pair {
	tsscene_t *s;     /* instance "alpha" is the scene's daemon */
	tsdaemon_t b;     /* instance "bravo" */
	bool b_started;
} pair_t;

/* Wait until d's /readyz body contains needle. ms waited or -1. */
static int64_t
wait_ready_text(const tsdaemon_t *d, const char *needle, int timeout_ms)
{
	int64_t start = clock_mono_ms();

	while (clock_mono_ms() - start < timeout_ms) {
		char *body = NULL;
		bool hit;

		tsdaemon_get(d, "/readyz", &body);
		hit = body != NULL && strstr(body, needle) != NULL;
		free(body);
		if (hit)
			return clock_mono_ms() - start;
		ts_sleep_ms(20);
	}
	return -1;
}

static pair_t *
pair_start_with(const char *tickets_flavour)
{
	tsextrahop_opts_t fxo = {
		.api_key = TSSCENE_API_KEY, .auto_create = true, .record_limit = 1000000,
	};
	pair_t *p = calloc(1, sizeof(*p));
	char err[512], period[16];

	p->s = tsscene_new(tsgroup_mongo(), "failover");
	if (tsscene_begin(p->s, &fxo, TSSCENE_API_KEY) != 0)
		fail_msg("%s", p->s->error);
	snprintf(period, sizeof(period), "%d", PERIOD_MS);
	tsdaemon_setenv(&p->s->d, "TICKETSYNC_LEASE_PERIOD_MS", period);
	tsdaemon_setenv(&p->s->d, "TICKETSYNC_PUSH_CLAIM_TIMEOUT_MS", "3000");
	tsdaemon_setenv(&p->s->d, "TICKETSYNC_EXTRAHOP_REQUEST_TIMEOUT_MS", "2000");
	if (tickets_flavour != NULL && tsscene_begin_tickets(p->s, tickets_flavour, 300, 0) != 0)
		fail_msg("%s", p->s->error);
	/* bravo: the same settings under its own name. */
	tsdaemon_init(&p->b, tsmongo_uri(tsgroup_mongo()), p->s->db, p->s->fx.base_url, TSSCENE_API_KEY);
	for (int i = 0; i < p->s->d.nenv; i++) {
		char *eq = strchr(p->s->d.env[i], '=');
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - p->s->d.env[i]), p->s->d.env[i]);
		tsdaemon_setenv(&p->b, name, eq + 1);
	}
	tsdaemon_setenv(&p->s->d, "TICKETSYNC_SERVICE_INSTANCE_ID", "alpha");
	tsdaemon_setenv(&p->b, "TICKETSYNC_SERVICE_INSTANCE_ID", "bravo");
	if (tsscene_start_daemon(p->s) != 0)
		fail_msg("%s", p->s->error);
	if (tsdaemon_start(&p->b, err, sizeof(err)) != 0)
		fail_msg("bravo: %s", err);
	p->b_started = true;
	/* bravo waits, and says for whom. */
	assert_true(wait_ready_text(&p->b, "standby: the lease is held by alpha", 10000) >= 0);
	return p;
}

static pair_t *
pair_start(void)
{
	return pair_start_with(NULL);
}

static int
pair_teardown(void **state)
{
	pair_t *p = *state;

	if (p == NULL)
		return 0;
	if (p->b_started)
		tsdaemon_stop(&p->b, 20000);
	tsdaemon_free(&p->b);
	tsscene_free(p->s);
	tsmongo_tmp_free();
	free(p);
	return 0;
}

static void
finish(pair_t *p, tsworkload_t *w, const char *what, int64_t takeover_ms)
{
	int st, npatch, lost, stale;

	assert_true(tsworkload_wait_converged(w, 120000));
	st = tsdaemon_stop(&p->b, 20000);
	p->b_started = false;
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	lost = tsworkload_lost(w);
	stale = tsworkload_stale(w, &npatch, NULL, NULL, NULL, NULL);
	printf("failover: %s: takeover_ms=%lld changes=%d patches=%d lost=%d stale=%d\n", what,
	    (long long)takeover_ms, w->written, npatch, lost, stale);
	assert_int_equal(lost, 0);
	assert_int_equal(stale, 0);
}

static void
test_kill9_active_standby_takes_over(void **state)
{
	pair_t *p = pair_start();
	tsworkload_t w;
	pthread_t th;
	int64_t killed_at, dead_at, took, a_first, a_last, b_first, b_last;
	int na, nb, npatch;
	bson_t tk;

	*state = p;
	tsworkload_init(&w, p->s, 100, 1500, 2000);
	assert_true(tsworkload_put_detections(&w));
	pthread_create(&th, NULL, tsworkload_write, &w);
	ts_sleep_ms(1000);
	/* The wall clock of the kill, in the fake's terms (it records epoch ms): it falls
	 * between a reading just before kill() and one after waitpid(). A loaded machine
	 * can run alpha for a few ms after the first reading, so its PATCHes are bounded
	 * by the second, bravo's by the first. */
	killed_at = clock_wall_ms();
	tsdaemon_kill(&p->s->d);
	dead_at = clock_wall_ms();
	p->s->d_started = false;
	took = wait_ready_text(&p->b, "ready: active", 4 * PERIOD_MS);
	assert_true(took >= 0);
	/* Within two lease periods. */
	assert_true(took <= 2 * PERIOD_MS);
	pthread_join(th, NULL);
	finish(p, &w, "kill -9 of the active instance", took);
	/* Never both: alpha's PATCHes all before its death, bravo's all after. */
	tsworkload_stale(&w, &npatch, "(alpha)", &na, &a_first, &a_last);
	tsworkload_stale(&w, &npatch, "(bravo)", &nb, &b_first, &b_last);
	printf("failover: alpha sent %d PATCHes until %lld, bravo %d from %lld (killed at "
	    "%lld..%lld)\n", na, (long long)a_last, nb, (long long)b_first, (long long)killed_at,
	    (long long)dead_at);
	assert_true(na > 0 && nb > 0);
	assert_true(a_last <= dead_at);
	assert_true(b_first >= killed_at);
	assert_true(tsscene_wait_count(p->s, "ticketsync_leases", "{'holder': 'bravo'}", 1, 1000));
	tsmongo_tmp_free();
	(void)tk;
	tsworkload_free(&w);
}

static void
test_sigstop_active_steps_down(void **state)
{
	pair_t *p = pair_start();
	tsworkload_t w;
	pthread_t th;
	int64_t resumed_at, a_last, b_first, na, took;
	int n_a, n_b, npatch;

	*state = p;
	tsworkload_init(&w, p->s, 100, 2000, 2000);
	assert_true(tsworkload_put_detections(&w));
	pthread_create(&th, NULL, tsworkload_write, &w);
	ts_sleep_ms(1000);
	/* Frozen for longer than the lease: bravo must take over meanwhile. */
	assert_int_equal(tsproc_signal(&p->s->d.proc, SIGSTOP), 0);
	took = wait_ready_text(&p->b, "ready: active", 4 * PERIOD_MS);
	assert_true(took >= 0 && took <= 2 * PERIOD_MS);
	ts_sleep_ms(PERIOD_MS);
	resumed_at = clock_wall_ms();
	assert_int_equal(tsproc_signal(&p->s->d.proc, SIGCONT), 0);
	/* alpha notices it lost the lease and says so. */
	assert_true(wait_ready_text(&p->s->d, "standby: the lease is held by bravo", 10000) >= 0);
	ts_sleep_ms(1000);
	pthread_join(th, NULL);
	tsworkload_stale(&w, &npatch, "(alpha)", &n_a, NULL, &a_last);
	tsworkload_stale(&w, &npatch, "(bravo)", &n_b, &b_first, NULL);
	na = n_a;
	printf("failover: after SIGCONT alpha's last PATCH at %lld (resumed at %lld), bravo from "
	    "%lld; alpha sent %lld in all\n", (long long)a_last, (long long)resumed_at,
	    (long long)b_first, (long long)na);
	/* Nothing from alpha once it woke up. */
	assert_true(a_last < resumed_at);
	assert_true(tsdaemon_log_contains(&p->s->d, "no longer active"));
	/* Stop alpha cleanly (it is a standby now), then bravo finishes the work. */
	{
		int st = tsscene_stop_daemon(p->s);
		assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	finish(p, &w, "SIGSTOP of the active instance", took);
	tsworkload_free(&w);
}

/* Ticket creation with two instances: only the active one creates; kill -9 it in the
 * middle and the standby finishes, every detection with exactly one ticket. */
static void
test_kill9_during_creations_two_instances(void **state)
{
	pair_t *p = pair_start_with("jira-cloud");
	const int n = 300;
	int64_t now = clock_wall_ms(), creates, dups;
	mongoc_collection_t *coll;
	mongoc_bulk_operation_t *bulk;
	bson_error_t err;
	bson_t reply, st;

	*state = p;
	if (tstickets_set_fault(&p->s->tk, "{\"kind\": \"latency\", \"latency_ms\": 20}") < 0)
		fail_msg("%s", p->s->tk.error);
	coll = mongoc_client_get_collection(p->s->client, p->s->db, "detections");
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, NULL);
	for (int i = 1; i <= n; i++) {
		bson_t *doc = BCON_NEW("_id", BCON_INT64(i), "title", BCON_UTF8("failover"), "type",
		    BCON_UTF8("t"), "categories", "[", "]", "risk_score", BCON_INT32(50),
		    "start_time", BCON_INT64(now), "update_time", BCON_INT64(now), "status", BCON_NULL,
		    "assignee", BCON_NULL, "ticket_id", BCON_NULL, "resolution", BCON_NULL);
		mongoc_bulk_operation_insert(bulk, doc);
		bson_destroy(doc);
	}
	assert_true(mongoc_bulk_operation_execute(bulk, &reply, &err));
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
	mongoc_collection_destroy(coll);
	/* alpha is creating; bravo, standby, has sent nothing but its credential check. */
	assert_true(tsscene_wait_count(p->s, "ticketsync_create_state", "{'state': 'synced'}", 20,
	    20000));
	tsdaemon_kill(&p->s->d);
	p->s->d_started = false;
	assert_true(wait_ready_text(&p->b, "ready: active", 4 * PERIOD_MS) >= 0);
	assert_true(tsscene_wait_count(p->s, "ticketsync_create_state", "{'state': 'synced'}", n,
	    120000));
	assert_int_equal(tstickets_stats(&p->s->tk, &st), 0);
	creates = tsextrahop_int(&st, "creates", -1);
	dups = tsextrahop_int(&st, "duplicates", -1);
	bson_destroy(&st);
	printf("failover: kill -9 during creations: detections=%d created=%lld duplicates=%lld\n",
	    n, (long long)creates, (long long)dups);
	assert_int_equal(creates, n);
	assert_int_equal(dups, 0);
	assert_int_equal(tsscene_count(p->s, "tickets", "{'source': 'ticketsync'}"), n);
	/* Each creation was acknowledged by one instance, never both: no more records than
	 * detections (a kill between recording a batch and auditing it can cost that
	 * batch's records: the audit trail follows the state). */
	assert_true(tsscene_count(p->s, "ticketsync_audit", "{'event': 'ticket_created'}") <= n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill9_active_standby_takes_over, pair_teardown),
		cmocka_unit_test_teardown(test_sigstop_active_steps_down, pair_teardown),
		cmocka_unit_test_teardown(test_kill9_during_creations_two_instances, pair_teardown),
	};

	return cmocka_run_group_tests(tests, tsscene_group_setup, tsscene_group_teardown);
}
