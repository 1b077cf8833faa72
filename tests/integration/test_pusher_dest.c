/*
 * test_pusher_dest: the push engine (outbox + pusher + dbworker) with a destination
 * of the test's own, a dest_ops_t that answers from a script: what the engine does
 * is the same for every destination, so it is tested without ExtraHop's client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "ticketsync/clock.h"
#include "ticketsync/dbworker.h"
#include "ticketsync/dest.h"
#include "ticketsync/pusher.h"
#include "ticketsync/store.h"
#include "tsoutbox.h"
#include "tsstore.h"

#define HARD_TIMEOUT_MS 15000

/* The scripted destination: every send is answered with status on the next loop turn;
 * detection undecodable_id cannot be described (its value does not decode). */
typedef struct script {
	struct event_base *base;
	long status;
	int64_t undecodable_id;
	int sends;
} script_t;

typedef struct pending_reply {
	dest_done_fn done;
	void *arg;
	long status;
} pending_reply_t;

static void
script_reply(evutil_socket_t fd, short what, void *arg)
{
	pending_reply_t *pr = arg;
	pushplan_reply_t reply;

	(void)fd;
	(void)what;
	memset(&reply, 0, sizeof(reply));
	reply.http_status = pr->status;
	reply.retry_after_ms = -1;
	reply.outcome = pushplan_classify(pr->status, true);
	pr->done(&reply, pr->arg);
	free(pr);
}

static script_t *the_script; /* describe has no impl argument: one script per program */

static bool
script_describe(const outbox_item_t *item, bson_t *sent, bson_error_t *err)
{
	if (item->id == the_script->undecodable_id) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT, "value does not decode");
		return false;
	}
	BSON_APPEND_INT64(sent, "id", item->id);
	return true;
}

static int
script_send(void *impl, const outbox_item_t *item, dest_done_fn done, void *arg,
    bson_error_t *err)
{
	script_t *sc = impl;
	pending_reply_t *pr = calloc(1, sizeof(*pr));

	(void)item;
	(void)err;
	assert_non_null(pr);
	pr->done = done;
	pr->arg = arg;
	pr->status = sc->status;
	sc->sends++;
	assert_int_equal(event_base_once(sc->base, -1, EV_TIMEOUT, script_reply, pr, NULL), 0);
	return 0;
}

static void
script_cancel_all(void *impl)
{
	(void)impl; /* replies come on the next loop turn; none is left to cancel */
}

static void
script_set_gate(void *impl, bool (*gate)(const void *arg), const void *arg)
{
	(void)impl;
	(void)gate;
	(void)arg;
}

static const dest_ops_t script_ops = {
	.display_name = "Script",
	.auth_hint = "check the script",
	.describe = script_describe,
	.send = script_send,
	.cancel_all = script_cancel_all,
	.set_gate = script_set_gate,
};

static void
record(tsstore_fixture_t *f, int64_t id, const char *ticket, int64_t at_ms)
{
	fields_t desired, baseline;
	outbox_set_result_t res;
	bson_error_t err;

	fields_init(&desired);
	fields_init(&baseline);
	fields_set_ticket_id(&desired, ticket);
	if (!tsoutbox_set(f->client, f->db, id, &desired, &baseline, ticket, at_ms, &res, &err))
		fail_msg("record %lld: %s", (long long)id, err.message);
}

static const char *
state_of(tsstore_fixture_t *f, int64_t id, char *buf, size_t len)
{
	bson_t doc;
	bool found;
	bson_error_t err;

	if (!tsstore_find_id(f->client, f->db, STORE_COLL_STATE, id, &doc, &found, &err))
		fail_msg("find %lld: %s", (long long)id, err.message);
	bson_strncpy(buf, found ? store_doc_utf8(&doc, "state", "?") : "absent", len);
	bson_destroy(&doc);
	return buf;
}

typedef struct run {
	tsstore_fixture_t *f;
	script_t *sc;
	pusher_t *p;
	int phase;
	bool done;
	int64_t deadline_ms;
} run_t;

/* Blocked by a 401: record an undecodable item due before the refused one, so the
 * next probe claims it, and fix the credentials. Then wait for pushes to resume. */
static void
run_tick(evutil_socket_t fd, short what, void *arg)
{
	run_t *r = arg;
	pusher_stats_t s;
	char st[16];

	(void)fd;
	(void)what;
	pusher_get_stats(r->p, &s);
	if (r->phase == 0 && s.blocked) {
		record(r->f, 2, "T-2", clock_wall_ms() - 60000);
		r->sc->status = 200;
		r->phase = 1;
	} else if (r->phase == 1 && !s.blocked && pusher_idle(r->p) &&
	    strcmp(state_of(r->f, 1, st, sizeof(st)), "synced") == 0) {
		r->done = true;
	}
	if (r->done || clock_mono_ms() > r->deadline_ms)
		event_base_loopbreak(r->sc->base);
}

/* A probe that claims an item it cannot send (parked by describe) must not leave the
 * engine waiting for that probe's reply forever: the next probe goes out, and once the
 * destination accepts the credentials again every pending item is pushed. */
static void
test_probe_past_an_unsendable_item(void **state)
{
	tsstore_fixture_t *f = *state;
	script_t sc = { .status = 401, .undecodable_id = 2 };
	pusher_opts_t po = {
		.database = f->db, .collection = STORE_COLL_STATE, .owner = "test",
		.interval_ms = 50, .batch_size = 10, .concurrency = 1, .claim_timeout_ms = 30000,
		.retry_base_ms = 100, .retry_max_ms = 1000, .auth_probe_ms = 200,
	};
	run_t r = { .f = f, .sc = &sc };
	dest_t dest = { &script_ops, &sc };
	bson_error_t err;
	dbworker_t *db;
	struct event *tick;
	struct timeval every = { 0, 20000 };
	char st[16];

	sc.base = event_base_new();
	the_script = &sc;
	record(f, 1, "T-1", clock_wall_ms() - 10000);
	db = dbworker_start(store_pool(tsstore_pool()), sc.base, &err);
	assert_non_null(db);
	r.p = pusher_new(sc.base, db, NULL, &dest, &po, &err);
	assert_non_null(r.p);
	pusher_start(r.p);
	tick = event_new(sc.base, -1, EV_PERSIST, run_tick, &r);
	event_add(tick, &every);
	r.deadline_ms = clock_mono_ms() + HARD_TIMEOUT_MS;
	event_base_dispatch(sc.base);

	assert_true(r.phase == 1);
	assert_true(r.done);
	assert_string_equal(state_of(f, 1, st, sizeof(st)), "synced");
	assert_string_equal(state_of(f, 2, st, sizeof(st)), "parked");
	assert_true(sc.sends >= 2); /* the refused attempt, then the push after the fix */

	event_free(tick);
	dbworker_stop(db); /* runs the last jobs' done(), which need the pusher */
	pusher_free(r.p);
	event_base_free(sc.base);
}

static int
setup(void **state)
{
	return tsstore_setup(state, "pusher_dest", TSSTORE_SCHEMA_ALL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_probe_past_an_unsendable_item, setup,
		    tsstore_teardown),
	};

	evthread_use_pthreads();
	return cmocka_run_group_tests(tests, tsstore_group_setup, tsstore_group_teardown);
}
