/*
 * The sweep of ExtraHop's detections ([sweep], ticketsyncctl sync-from-extrahop) end to
 * end, against the fake ExtraHop's search: detections that never reached MongoDB are
 * written in the trigger's shape and their tickets pushed; ticket fields edited "in
 * ExtraHop's UI" are found and pushed again (or only reported); ticketsync's own PATCHes
 * are never taken for drift.
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
#include <sys/wait.h>

#include "tsscene.h"

#define API_KEY TSSCENE_API_KEY
#define T0 INT64_C(1790000000000)

static int
setup(void **state)
{
	return tsscene_setup(state, "sweep");
}

static void
fail_scene(tsscene_t *f)
{
	fail_msg("%s", f->error);
}

/* ExtraHop has detections 1..n (as REST shows them); MongoDB has those > missing;
 * every 10th has a ticket. The daemon, not started yet, is set to sweep every second,
 * pages of page_size. */
static void
arrange_unstarted(tsscene_t *f, int n, int missing, const char *page_size, const char *on_drift)
{
	char *arr = NULL;
	size_t len = 0, cap = 0;

	if (tsscene_begin(f, NULL, API_KEY) != 0)
		fail_scene(f);
	for (int i = 1; i <= n; i++) {
		char one[512];
		int w = snprintf(one, sizeof(one), "%s{\"id\": %d, \"title\": \"d%d\", \"type\": "
		    "\"custom.sweep\", \"categories\": [\"sec.attack\"], \"risk_score\": 50, "
		    "\"start_time\": %" PRId64 ", \"end_time\": %" PRId64 ", \"update_time\": %" PRId64
		    ", \"ticket_id\": null, \"status\": null, \"assignee\": null, \"resolution\": null}",
		    i > 1 ? "," : "[", i, i, T0 + i, T0 + i, T0 + i);

		if (len + (size_t)w + 2 > cap) {
			cap = (len + (size_t)w + 2) * 2;
			arr = realloc(arr, cap);
		}
		memcpy(arr + len, one, (size_t)w);
		len += (size_t)w;
	}
	memcpy(arr + len, "]", 2);
	assert_int_equal(tsextrahop_add_detections(&f->fx, arr), 0);
	free(arr);
	for (int i = missing + 1; i <= n; i++) {
		char doc[512];

		snprintf(doc, sizeof(doc), "{'_id': %d, 'title': 'd%d', 'type': 'custom.sweep', "
		    "'categories': ['sec.attack'], 'risk_score': 50, 'start_time': %" PRId64
		    ", 'end_time': %" PRId64 ", 'update_time': %" PRId64 ", 'ticket_id': null, "
		    "'status': null, 'assignee': null, 'resolution': null}", i, i, T0 + i, T0 + i,
		    T0 + i);
		if (!tsscene_put(f, "detections", doc))
			fail_scene(f);
	}
	for (int i = 10; i <= n; i += 10) {
		char doc[256];

		snprintf(doc, sizeof(doc), "{'_id': 'TK-%d', 'detection_ids': [%d], 'status': 'new', "
		    "'assignee': 'sally', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}", i, i);
		if (!tsscene_put(f, "tickets", doc))
			fail_scene(f);
	}
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_ENABLED", "true");
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_INTERVAL_MS", "1000");
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_PAGE_SIZE", page_size);
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_ON_DRIFT", on_drift);
}

/* The same, and the daemon started. */
static void
arrange(tsscene_t *f, int n, int missing, const char *page_size, const char *on_drift)
{
	arrange_unstarted(f, n, missing, page_size, on_drift);
	if (tsscene_start_daemon(f) != 0)
		fail_scene(f);
}

/* Edit detection id's ticket fields "in the UI": the fake's record replaced, mod_time now. */
static void
ui_edit(tsscene_t *f, int id, const char *status, const char *assignee)
{
	char json[512];

	snprintf(json, sizeof(json), "{\"title\": \"d%d\", \"type\": \"custom.sweep\", "
	    "\"categories\": [\"sec.attack\"], \"risk_score\": 50, \"start_time\": %" PRId64
	    ", \"end_time\": %" PRId64 ", \"update_time\": %" PRId64 ", \"ticket_id\": \"TK-%d\", "
	    "\"status\": \"%s\", \"assignee\": \"%s\", \"resolution\": null}", id, T0 + id,
	    T0 + id, T0 + id, id, status, assignee);
	assert_int_equal(tsextrahop_add_detection(&f->fx, id, json), 0);
}

/* 1,000 in ExtraHop, 100 never reached MongoDB: one sweep writes them (in the trigger's
 * shape), their tickets are pushed, nothing else is touched, and ticketsync's own
 * PATCHes (which move mod_time) are never drift. */
static void
test_repairs_lost_detections(void **state)
{
	tsscene_t *f = *state;

	arrange(f, 1000, 100, "100", "reassert");
	assert_true(tsscene_wait_count(f, "detections", "{}", 1000, 60000));
	assert_int_equal(tsscene_count(f, "detections", "{'written_by': 'ticketsync-sweep'}"), 100);
	assert_int_equal(tsscene_count(f, "detections", "{'_id': {'$lte': 100}, 'written_by': "
	    "'ticketsync-sweep', 'title': {'$exists': true}, 'categories': ['sec.attack'], "
	    "'update_time': {'$gt': 0}}"), 100);
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'detection_repaired'}", 100,
	    10000));
	/* every ticketed detection, the repaired ones included, shows its ticket */
	assert_true(tsscene_wait_count(f, "ticketsync_state", "{'state': 'synced'}", 100, 60000));
	for (int i = 10; i <= 1000; i += 10) {
		bson_t d;
		bson_iter_t it;

		assert_int_equal(tsextrahop_get_detection(&f->fx, i, &d), 0);
		assert_true(bson_iter_init_find(&it, &d, "status") && BSON_ITER_HOLDS_UTF8(&it));
		assert_string_equal(bson_iter_utf8(&it, NULL), "new");
		bson_destroy(&d);
	}
	/* Sweeps after our PATCHes (mod_time moved by them): no drift, nothing repaired again. */
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'sweep'}", 3, 20000));
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'drift'}"), 0);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'detection_repaired'}"), 100);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_sweep_repaired_total") == 100);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_sweep_lag_seconds") >= 0);
}

/* 50 UI edits during steady pushing: each found within a sweep and pushed again
 * (reassert), and the re-pushes are no drift in later sweeps. */
static void
test_ui_edits_found(void **state)
{
	tsscene_t *f = *state;
	const char *policy = getenv("TS_SWEEP_POLICY"); /* unused: both run below */

	(void)policy;
	arrange(f, 500, 0, "100", "reassert");
	assert_true(tsscene_wait_count(f, "ticketsync_state", "{'state': 'synced'}", 50, 30000));
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'sweep'}", 2, 20000));
	for (int i = 10; i <= 500; i += 10)
		ui_edit(f, i, "closed", "mallory");
	/* found and pushed again: ExtraHop shows the ticket's values once more */
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'drift', "
	    "'detail.corrected': true}", 50, 30000));
	for (int i = 10; i <= 500; i += 10)
		assert_true(tsscene_wait_patches(f, i, 2, 20000) >= 0);
	assert_true(tsscene_wait_count(f, "ticketsync_state", "{'state': 'synced'}", 50, 30000));
	for (int i = 10; i <= 500; i += 10) {
		bson_t d;
		bson_iter_t it;

		assert_int_equal(tsextrahop_get_detection(&f->fx, i, &d), 0);
		assert_true(bson_iter_init_find(&it, &d, "assignee") && BSON_ITER_HOLDS_UTF8(&it));
		assert_string_equal(bson_iter_utf8(&it, NULL), "sally");
		bson_destroy(&d);
	}
	/* and later sweeps see our re-pushes as no drift */
	ts_sleep_ms(3000);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'drift'}"), 50);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_sweep_drift_corrected_total") == 50);
}

static void
test_report_only(void **state)
{
	tsscene_t *f = *state;

	arrange(f, 50, 0, "20", "report");
	assert_true(tsscene_wait_count(f, "ticketsync_state", "{'state': 'synced'}", 5, 30000));
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'sweep'}", 2, 20000));
	ui_edit(f, 20, "closed", "mallory");
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'drift', 'detection_id': 20, "
	    "'detail.corrected': false, 'detail.extrahop.assignee': 'mallory', "
	    "'detail.ticket.assignee': 'sally'}", 1, 20000));
	ts_sleep_ms(2500);
	assert_int_equal(tsscene_patches(f, 20, NULL, NULL), 1); /* not pushed again */
}

/* ticketsyncctl sync-from-extrahop: the same, once, with a summary; --dry-run writes
 * nothing. */
static void
test_ctl_sync(void **state)
{
	tsscene_t *f = *state;
	tsrun_result_t r;

	tsextrahop_opts_t fxo = { .api_key = API_KEY };

	if (tsscene_begin(f, &fxo, API_KEY) != 0)
		fail_scene(f);
	assert_int_equal(tsextrahop_add_detections(&f->fx, "[{\"id\": 7, \"title\": \"seven\", "
	    "\"type\": \"t\", \"categories\": [], \"start_time\": 1, \"update_time\": 2}, {\"id\": 8, "
	    "\"title\": \"eight\", \"type\": \"t\", \"categories\": [], \"start_time\": 1, "
	    "\"update_time\": 2}]"), 0);
	if (tsscene_ctl(f, &r, &(tsrun_opts_t){ .env = (const char *const *)f->d.env }, true,
	        (const char *const[]){ "sync-from-extrahop", "--dry-run", NULL }) != 0)
		fail_scene(f);
	if (r.exit_code != 0)
		fail_msg("exit %d:\n%s%s", r.exit_code, r.out, r.err);
	assert_non_null(strstr(r.out, "read 2 detection(s) from ExtraHop in 1 page(s): repaired 2 "
	    "(missing 2, older 0)"));
	assert_non_null(strstr(r.out, "dry run: nothing written"));
	tsrun_free(&r);
	assert_int_equal(tsscene_count(f, "detections", "{}"), 0);
	if (tsscene_ctl(f, &r, &(tsrun_opts_t){ .env = (const char *const *)f->d.env }, true,
	        (const char *const[]){ "sync-from-extrahop", NULL }) != 0)
		fail_scene(f);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "repaired 2 (missing 2, older 0), drift 0"));
	tsrun_free(&r);
	assert_int_equal(tsscene_count(f, "detections", "{'written_by': 'ticketsync-sweep'}"), 2);
	assert_int_equal(tsscene_count(f, "ticketsync_checkpoints", "{'_id': 'sweep'}"), 1);
	/* status shows it */
	if (tsscene_ctl(f, &r, &(tsrun_opts_t){ .env = (const char *const *)f->d.env }, true,
	        (const char *const[]){ "status", NULL }) != 0)
		fail_scene(f);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "  sweep         read up to mod_time "));
	assert_non_null(strstr(r.out, "last sweep "));
	assert_non_null(strstr(r.out, "repaired 2 (missing 2, older 0)"));
	tsrun_free(&r);
}

/* ---- helpers of the tests below ---- */

#define SEARCH_PATH "/api/v1/detections/search"

/* A growing string: JSON arrays built in a loop. */
typedef struct jbuf {
	char *s;
	size_t len, cap;
} jbuf_t;

static void jbuf_printf(jbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
jbuf_printf(jbuf_t *b, const char *fmt, ...)
{
	for (;;) {
		size_t room = b->cap - b->len;
		va_list ap;
		int w;

		va_start(ap, fmt);
		w = vsnprintf(b->s != NULL ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		assert_true(w >= 0);
		if ((size_t)w < room) {
			b->len += (size_t)w;
			return;
		}
		b->cap = (b->len + (size_t)w + 1) * 2;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
}

/* Detection id as REST shows it, with the mod_time given (the fake keeps it), appended
 * to an array begun with "[". */
static void
det_json(jbuf_t *b, int id, int64_t mod_time)
{
	jbuf_printf(b, "%s{\"id\": %d, \"title\": \"d%d\", \"type\": \"custom.sweep\", "
	    "\"categories\": [\"sec.attack\"], \"risk_score\": 50, \"start_time\": %" PRId64
	    ", \"end_time\": %" PRId64 ", \"update_time\": %" PRId64 ", \"mod_time\": %" PRId64
	    ", \"ticket_id\": null, \"status\": null, \"assignee\": null, \"resolution\": null}",
	    b->len > 1 ? "," : "", id, id, T0 + id, T0 + id, T0 + id, mod_time);
}

/* One request the fake recorded. */
typedef struct req {
	int64_t seq, time_ms, status; /* status -1 while pending */
	int64_t mod_time, offset;     /* of a search body; -1 when absent */
} req_t;

/* The requests of method and path the fake recorded after seq since, in arrival
 * order: how many (at most max), or -1. *last_seq (may be NULL): the fake's last. */
static int
requests_of(tsscene_t *f, int64_t since, const char *method, const char *path, req_t *out,
    int max, int64_t *last_seq)
{
	bson_t reply;
	bson_iter_t it, arr;
	int n = 0;

	if (tsextrahop_requests(&f->fx, since, &reply) != 0) {
		bson_destroy(&reply);
		return -1;
	}
	if (last_seq != NULL)
		*last_seq = tsextrahop_int(&reply, "last_seq", -1);
	if (bson_iter_init_find(&it, &reply, "requests") && bson_iter_recurse(&it, &arr)) {
		while (n < max && bson_iter_next(&arr)) {
			bson_t r;
			const uint8_t *data;
			uint32_t len;
			const char *m, *p;

			if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
				continue;
			bson_iter_document(&arr, &len, &data);
			if (!bson_init_static(&r, data, len))
				continue;
			m = tsextrahop_str(&r, "method");
			p = tsextrahop_str(&r, "path");
			if (m == NULL || p == NULL || strcmp(m, method) != 0 || strcmp(p, path) != 0)
				continue;
			out[n++] = (req_t){ tsextrahop_int(&r, "seq", -1), tsextrahop_int(&r, "time_ms", -1),
				tsextrahop_int(&r, "status", -1), tsextrahop_int(&r, "body.mod_time", -1),
				tsextrahop_int(&r, "body.offset", -1) };
		}
	}
	bson_destroy(&reply);
	return n;
}

/* How often fault rule id fired so far (-1: no such rule). */
static int64_t
fault_fired(tsscene_t *f, int64_t id)
{
	bson_t reply;
	bson_iter_t it, arr;
	int64_t fired = -1;

	if (tsextrahop_control_at(f->fx.control_url, f->fx.error, sizeof(f->fx.error), "GET",
	        "/faults", NULL, 200, &reply) == 0 &&
	    bson_iter_init_find(&it, &reply, "faults") && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			bson_t r;
			const uint8_t *data;
			uint32_t len;

			bson_iter_document(&arr, &len, &data);
			if (bson_init_static(&r, data, len) && tsextrahop_int(&r, "id", -1) == id)
				fired = tsextrahop_int(&r, "fired", -1);
		}
	}
	bson_destroy(&reply);
	return fired;
}

static bool
wait_fault_fired(tsscene_t *f, int64_t id, int64_t n, int timeout_ms)
{
	int64_t start = clock_mono_ms();

	while (clock_mono_ms() - start < timeout_ms) {
		if (fault_fired(f, id) >= n)
			return true;
		ts_sleep_ms(10);
	}
	return false;
}

/* The stored sweep cursor (ticketsync_checkpoints {_id: 'sweep'}), -1 if none. */
static int64_t
sweep_cursor(tsscene_t *f)
{
	mongoc_collection_t *c = mongoc_client_get_collection(f->client, f->db,
	    "ticketsync_checkpoints");
	const bson_t *d = tsmongo_find_one(c, "{'_id': 'sweep'}");
	int64_t v = d != NULL ? tsmongo_get_int(d, "token.mod_time") : -1;

	mongoc_collection_destroy(c);
	return v;
}

/* How many detections have a detection_repaired audit record (distinct ids). */
static int64_t
distinct_repaired(tsscene_t *f)
{
	bson_t reply;
	bson_error_t err;
	bson_iter_t it, arr;
	int64_t n = -1;

	if (tsmongo_cmd(f->client, f->db, "{'distinct': 'ticketsync_audit', 'key': 'detection_id', "
	        "'query': {'event': 'detection_repaired'}}", &reply, &err) &&
	    bson_iter_init_find(&it, &reply, "values") && bson_iter_recurse(&it, &arr)) {
		n = 0;
		while (bson_iter_next(&arr))
			n++;
	} else {
		fprintf(stderr, "distinct: %s\n", err.message);
	}
	bson_destroy(&reply);
	return n;
}

/* The message of the first sweep's audit record (pool), or "". */
static const char *
first_sweep_message(tsscene_t *f)
{
	mongoc_collection_t *c = mongoc_client_get_collection(f->client, f->db, "ticketsync_audit");
	bson_t *filter = tsmongo_json("{'event': 'sweep'}");
	bson_t *opts = tsmongo_json("{'sort': {'at': 1, '_id': 1}, 'limit': 1}");
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
	const bson_t *doc;
	const char *msg = "";

	if (mongoc_cursor_next(cur, &doc) && tsmongo_get_str(doc, "message") != NULL)
		msg = tsmongo_get_str(tsmongo_tmp_keep(bson_copy(doc)), "message");
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(c);
	return msg;
}

/* A 429 on the sweep's search (Retry-After 1, for the first three searches): the sweep
 * waits as told and asks again, then finishes and repairs; meanwhile a ticket change is
 * pushed at the pushes' own pace, not held behind the sweep's wait. */
static void
test_429_slows_sweep_not_pushes(void **state)
{
	tsscene_t *f = *state;
	req_t s[64], p[16];
	int ns, np, first_ok = -1;
	int64_t rule, latency;
	bson_t body = BSON_INITIALIZER;
	bson_iter_t it;

	arrange_unstarted(f, 200, 50, "50", "reassert");
	rule = tsextrahop_set_fault(&f->fx, "{\"kind\": \"status\", \"status\": 429, "
	    "\"retry_after\": 1, \"count\": 3, \"method\": \"POST\", \"path_prefix\": \""
	    SEARCH_PATH "\"}");
	assert_true(rule > 0);
	if (tsscene_start_daemon(f) != 0)
		fail_scene(f);
	/* the tickets of the detections MongoDB has (60..200) are pushed first */
	assert_true(tsscene_wait_count(f, "ticketsync_state", "{'state': 'synced'}", 15, 20000));
	assert_int_equal(tsscene_patches(f, 100, NULL, NULL), 1);
	/* The sweep began and was refused: change a ticket now. */
	assert_true(wait_fault_fired(f, rule, 1, 10000));
	if (!tsscene_put(f, "tickets", "{'_id': 'TK-100', 'detection_ids': [100], 'status': 'new', "
	        "'assignee': 'bob', 'updated_at': {'$date': '2026-11-02T00:00:00Z'}}"))
		fail_scene(f);
	latency = tsscene_wait_patches(f, 100, 2, 10000);
	assert_true(latency >= 0);
	fprintf(stderr, "test_sweep: a ticket change during the sweep's 429s was PATCHed after "
	    "%" PRId64 " ms (push interval 200 ms; the sweep waits >= 1000 ms per 429)\n", latency);
	/* Two push intervals plus the change stream's wake-up, well under one Retry-After. */
	assert_true(latency <= 700);
	tsscene_patches(f, 100, &body, NULL);
	assert_true(bson_iter_init_find(&it, &body, "assignee") && BSON_ITER_HOLDS_UTF8(&it));
	assert_string_equal(bson_iter_utf8(&it, NULL), "bob");
	bson_destroy(&body);

	/* The sweep still finishes, and repairs what it should. */
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'sweep'}", 1, 20000));
	assert_int_equal(tsscene_count(f, "detections", "{}"), 200);
	assert_int_equal(tsscene_count(f, "detections", "{'written_by': 'ticketsync-sweep'}"), 50);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'detection_repaired'}"), 50);
	assert_int_equal(fault_fired(f, rule), 3);
	/* Three refusals, each followed by a wait of at least its Retry-After, then answers. */
	ns = requests_of(f, 0, "POST", SEARCH_PATH, s, 64, NULL);
	assert_true(ns >= 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(s[i].status, 429);
	for (int i = 1; i <= 3; i++) {
		if (s[i].time_ms - s[i - 1].time_ms < 990)
			fail_msg("search %d came %" PRId64 " ms after a 429 with Retry-After: 1", i,
			    s[i].time_ms - s[i - 1].time_ms);
	}
	for (int i = 0; i < ns && first_ok < 0; i++)
		if (s[i].status == 200)
			first_ok = i;
	assert_int_equal(first_ok, 3);
	assert_int_equal(s[3].mod_time, 0); /* the refused page asked again, not skipped */
	assert_int_equal(s[3].offset, 0);
	/* the ticket change went out while the search was still being refused */
	np = requests_of(f, 0, "PATCH", "/api/v1/detections/100", p, 16, NULL);
	assert_true(np >= 2);
	assert_true(p[1].seq < s[first_ok].seq);
	/* and the repaired detections' tickets (10..50) are pushed too */
	assert_true(tsscene_wait_count(f, "ticketsync_state", "{'state': 'synced'}", 20, 20000));
}

/* Unusable records in a search reply (no id, an id that is a string, a string
 * update_time, a 70 KB title) are skipped, each with a sweep_rejected audit record that
 * says what is wrong; the good detections of the same page are repaired. */
static void
test_bad_records_skipped(void **state)
{
	tsscene_t *f = *state;
	tsextrahop_opts_t fxo = { .api_key = API_KEY };
	jbuf_t b = { 0 };
	char *title = malloc(70001);
	const char *msg;

	assert_non_null(title);
	if (tsscene_begin(f, &fxo, API_KEY) != 0)
		fail_scene(f);
	/* 20 good ones at mod_times T0+10 .. T0+200, the bad ones between them */
	jbuf_printf(&b, "[");
	for (int i = 1; i <= 20; i++)
		det_json(&b, i, T0 + i * 10);
	jbuf_printf(&b, "]");
	assert_int_equal(tsextrahop_add_detections(&f->fx, b.s), 0);
	b.len = 0;
	memset(title, 'x', 70000);
	title[70000] = '\0';
	jbuf_printf(&b, "[{\"title\": \"no id\", \"type\": \"custom.sweep\", \"mod_time\": %" PRId64
	    ", \"update_time\": %" PRId64 "}, ", T0 + 25, T0);
	jbuf_printf(&b, "{\"id\": 101, \"title\": \"string time\", \"type\": \"custom.sweep\", "
	    "\"mod_time\": %" PRId64 ", \"update_time\": \"2026-11-01T00:00:00Z\"}, ", T0 + 45);
	jbuf_printf(&b, "{\"id\": 102, \"title\": \"%s\", \"type\": \"custom.sweep\", \"mod_time\": %"
	    PRId64 ", \"update_time\": %" PRId64 "}, ", title, T0 + 65, T0);
	jbuf_printf(&b, "{\"id\": \"103\", \"title\": \"string id\", \"type\": \"custom.sweep\", "
	    "\"mod_time\": %" PRId64 ", \"update_time\": %" PRId64 "}]", T0 + 85, T0);
	assert_int_equal(tsextrahop_add_raw_search_records(&f->fx, b.s), 0);
	free(b.s);
	free(title);
	/* One sweep in this test: pages of 50 hold all 24. */
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_ENABLED", "true");
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_INTERVAL_MS", "600000");
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_PAGE_SIZE", "50");
	if (tsscene_start_daemon(f) != 0)
		fail_scene(f);
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'sweep'}", 1, 20000));

	assert_int_equal(tsscene_count(f, "detections", "{}"), 20);
	assert_int_equal(tsscene_count(f, "detections", "{'written_by': 'ticketsync-sweep', "
	    "'_id': {'$gte': 1, '$lte': 20}}"), 20);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'detection_repaired'}"), 20);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'sweep_rejected'}"), 4);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'sweep_rejected', "
	    "'detection_id': {'$exists': false}, 'message': 'skipped: detection: field id is "
	    "missing'}"), 1);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'sweep_rejected', "
	    "'detection_id': 101, 'message': {'$regex': '^skipped: detection 101: field "
	    "update_time .*must be an integer.*got string$'}}"), 1);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'sweep_rejected', "
	    "'detection_id': 102, 'message': 'skipped: detection 102: field title is 70000 bytes "
	    "(limit 65536 bytes)'}"), 1);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'sweep_rejected', "
	    "'detection_id': {'$exists': false}, 'message': {'$regex': '^skipped: detection: "
	    "field id must be an integer.*got string$'}}"), 1);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_sweep_rejected_total") == 4);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_sweep_repaired_total") == 20);
	msg = first_sweep_message(f);
	if (strstr(msg, "read 24 in 1 page(s), repaired 20 (missing 20, older 0)") == NULL ||
	    strstr(msg, "rejected 4") == NULL)
		fail_msg("sweep audit: %s", msg);
}

#define KILL_N 3000
#define KILL_STEP INT64_C(100)
#define KILL_OVERLAP INT64_C(5000)

/* 3,000 detections in ExtraHop, each at its own mod_time (base + id * 100 ms, so a
 * cursor in the middle means something), none in MongoDB; the fake takes 20 ms per
 * request; the daemon sweeps once (pages of 100, overlap 5 s) and is started. */
static void
arrange_kill(tsscene_t *f, int64_t base)
{
	tsextrahop_opts_t fxo = { .api_key = API_KEY, .latency_ms = 20 };

	if (tsscene_begin(f, &fxo, API_KEY) != 0)
		fail_scene(f);
	for (int batch = 0; batch < 3; batch++) {
		jbuf_t b = { 0 };

		jbuf_printf(&b, "[");
		for (int i = batch * 1000 + 1; i <= (batch + 1) * 1000; i++)
			det_json(&b, i, base + i * KILL_STEP);
		jbuf_printf(&b, "]");
		assert_int_equal(tsextrahop_add_detections(&f->fx, b.s), 0);
		free(b.s);
	}
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_ENABLED", "true");
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_INTERVAL_MS", "600000");
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_PAGE_SIZE", "100");
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_OVERLAP_MS", "5000");
	if (tsscene_start_daemon(f) != 0)
		fail_scene(f);
}

static int64_t
count_repaired(tsscene_t *f)
{
	return tsscene_count(f, "ticketsync_audit", "{'event': 'detection_repaired'}");
}

/* kill -9 in the middle of a sweep of 3,000 detections, between two pages: the
 * restarted daemon begins at its stored cursor less the overlap, not at zero, and every
 * detection ends up written once and audited. */
static void
test_kill9_resumes_from_cursor(void **state)
{
	tsscene_t *f = *state;
	const int64_t base = clock_wall_ms() - 400000;
	static req_t s[512];
	int ns;
	int64_t cursor, at_kill, last_seq, start = clock_mono_ms();

	arrange_kill(f, base);
	/* A cursor is stored, a few pages are in, and the last page's audit records too
	 * (between pages: test_kill9_between_repair_and_audit kills inside one): pull the
	 * plug. */
	for (;;) {
		int64_t d = tsscene_count(f, "detections", "{}");

		if (sweep_cursor(f) > 0 && d >= 500 && count_repaired(f) == d)
			break;
		if (clock_mono_ms() - start > 20000)
			fail_msg("no sweep cursor stored / 500 detections written within 20 s");
		ts_sleep_ms(5);
	}
	tsdaemon_kill(&f->d);
	f->d_started = false;
	at_kill = tsscene_count(f, "detections", "{}");
	cursor = sweep_cursor(f);
	fprintf(stderr, "test_sweep: killed with %" PRId64 " of %d repaired, cursor at detection "
	    "%" PRId64 "\n", at_kill, KILL_N, (cursor - base) / KILL_STEP);
	if (at_kill >= KILL_N || tsscene_count(f, "ticketsync_audit", "{'event': 'sweep'}") != 0)
		fail_msg("the sweep finished before the kill (%" PRId64 " written): nothing tested",
		    at_kill);
	assert_true(cursor > base && cursor < base + KILL_N * KILL_STEP);
	assert_true(requests_of(f, 0, "GET", "/", s, 1, &last_seq) >= 0);
	assert_true(last_seq > 0);

	if (tsscene_start_daemon(f) != 0)
		fail_scene(f);
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'sweep'}", 1, 20000));
	assert_int_equal(tsscene_count(f, "detections", "{}"), KILL_N);
	assert_int_equal(tsscene_count(f, "detections", "{'written_by': 'ticketsync-sweep'}"),
	    KILL_N);
	/* The restarted sweep began at the cursor less the overlap, and so read fewer pages
	 * than a sweep from zero (31). */
	ns = requests_of(f, last_seq, "POST", SEARCH_PATH, s, 512, NULL);
	assert_true(ns >= 1);
	fprintf(stderr, "test_sweep: restarted sweep: %d searches, the first from mod_time %" PRId64
	    " (cursor %" PRId64 " - overlap %" PRId64 ")\n", ns, s[0].mod_time, cursor,
	    KILL_OVERLAP);
	assert_true(s[0].mod_time > 0);
	assert_true(s[0].mod_time >= cursor - KILL_OVERLAP);
	assert_int_equal(s[0].offset, 0);
	assert_true(ns < 31);
	/* every detection's repair is on record */
	assert_int_equal(distinct_repaired(f), KILL_N);
	assert_true(count_repaired(f) >= KILL_N);
}

/*
 * kill -9 inside a page: every repair must still be on record. (When sweepdb_apply
 * wrote a page's repairs before their detection_repaired records, a kill in between
 * lost them: the restarted sweep re-read the page, found MongoDB up to date, and had
 * nothing to audit. It writes the records first now.)
 *
 * The moment is found by watching both counts (fewer records than detections: a page's
 * records are still to come). On the test server a fail point holds the daemon's next
 * insert (the page's records) for a second and then drops the connection without
 * running it, which is what MongoDB sees when the process dies before sending it; the
 * kill lands inside that second. Elsewhere the kill is tried again until one lands
 * before the records were sent.
 */
static void
test_kill9_between_repair_and_audit(void **state)
{
	tsscene_t *f = *state;
	const int64_t base = clock_wall_ms() - 400000;
	const bool fail_point = tsmongo_is_test_server(f->mongo);
	int64_t start = clock_mono_ms(), d = 0, a = 0, unaudited = 0, distinct;
	int kills = 0;
	bson_error_t err;

	arrange_kill(f, base);
	while (unaudited == 0 && kills < 4 && clock_mono_ms() - start < 15000) {
		bool killed = false;

		if (fail_point) {
			/* after a page is fully on record, hold the next insert */
			while (clock_mono_ms() - start < 15000) {
				d = tsscene_count(f, "detections", "{}");
				if (d >= 100 && count_repaired(f) == d)
					break;
				ts_sleep_ms(5);
			}
			if (!tsmongo_admin_command(f->mongo, tsmongo_json("{'configureFailPoint': "
			        "'failCommand', 'mode': {'times': 1}, 'data': {'failCommands': ['insert'], "
			        "'blockConnection': true, 'blockTimeMS': 1000, 'closeConnection': true, "
			        "'appName': 'ticketsync'}}"), NULL, &err))
				fail_msg("configureFailPoint: %s", err.message);
		}
		while (clock_mono_ms() - start < 15000) {
			d = tsscene_count(f, "detections", "{}");
			if (d >= KILL_N)
				break;
			a = count_repaired(f); /* read after d: fewer means the window is open */
			if (a < d) {
				tsdaemon_kill(&f->d);
				f->d_started = false;
				killed = true;
				break;
			}
		}
		if (fail_point)
			assert_true(tsmongo_fail_off(f->mongo, &err));
		if (!killed)
			break; /* no such moment seen (the sweep ended) */
		kills++;
		ts_sleep_ms(1200); /* whatever the dead daemon had sent has landed (or was dropped) */
		d = tsscene_count(f, "detections", "{}");
		a = count_repaired(f);
		unaudited = d - a;
		fprintf(stderr, "test_sweep: kill %d: %" PRId64 " detections written, %" PRId64
		    " repairs on record\n", kills, d, a);
		if (tsscene_start_daemon(f) != 0)
			fail_scene(f);
	}
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'sweep'}", 1, 30000));
	assert_int_equal(tsscene_count(f, "detections", "{}"), KILL_N);
	distinct = distinct_repaired(f);
	if (distinct != KILL_N)
		fail_msg("after kill -9 "
		    "with %" PRId64 " detections written and %" PRId64 " repairs on record, the "
		    "restarted sweep left %" PRId64 " of %d repaired detections without a "
		    "detection_repaired record", d, a, (int64_t)KILL_N - distinct, KILL_N);
}

/* 250 detections share one mod_time, spanning three pages of 100 (with 30 before and 30
 * after it): all are read and repaired once, none counted twice. */
static void
test_mod_time_tie_across_pages(void **state)
{
	tsscene_t *f = *state;
	tsextrahop_opts_t fxo = { .api_key = API_KEY };
	jbuf_t b = { 0 };
	bson_t d;
	req_t s[64];
	int ns;
	bool paged_tie = false;

	if (tsscene_begin(f, &fxo, API_KEY) != 0)
		fail_scene(f);
	jbuf_printf(&b, "[");
	for (int i = 1; i <= 310; i++)
		det_json(&b, i, i <= 30 ? T0 - 31 + i : i <= 280 ? T0 : T0 + (i - 280));
	jbuf_printf(&b, "]");
	assert_int_equal(tsextrahop_add_detections(&f->fx, b.s), 0);
	free(b.s);
	/* the fake keeps the mod_time given: a real tie */
	for (int id = 31; id <= 280; id += 249) {
		assert_int_equal(tsextrahop_get_detection(&f->fx, id, &d), 0);
		assert_int_equal(tsextrahop_int(&d, "mod_time", -1), T0);
		bson_destroy(&d);
	}
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_ENABLED", "true");
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_INTERVAL_MS", "1000");
	tsdaemon_setenv(&f->d, "TICKETSYNC_SWEEP_PAGE_SIZE", "100");
	if (tsscene_start_daemon(f) != 0)
		fail_scene(f);
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'sweep'}", 1, 20000));
	assert_int_equal(tsscene_count(f, "detections", "{}"), 310);
	assert_int_equal(tsscene_count(f, "detections", "{'written_by': 'ticketsync-sweep'}"), 310);
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'detection_repaired'}"), 310);
	assert_int_equal(distinct_repaired(f), 310);
	if (strstr(first_sweep_message(f), "repaired 310 (missing 310, older 0)") == NULL)
		fail_msg("first sweep: %s", first_sweep_message(f));
	/* the tie was paged through by offset at its mod_time */
	ns = requests_of(f, 0, "POST", SEARCH_PATH, s, 64, NULL);
	for (int i = 0; i < ns; i++)
		if (s[i].mod_time == T0 && s[i].offset > 0)
			paged_tie = true;
	assert_true(paged_tie);
	/* later sweeps (the overlap reads it all again) repair nothing more */
	assert_true(tsscene_wait_count(f, "ticketsync_audit", "{'event': 'sweep'}", 3, 20000));
	assert_int_equal(tsscene_count(f, "ticketsync_audit", "{'event': 'detection_repaired'}"), 310);
	assert_true(tsdaemon_metric(&f->d, "ticketsync_sweep_repaired_total") == 310);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repairs_lost_detections, setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_ui_edits_found, setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_report_only, setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_sync, setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_429_slows_sweep_not_pushes, setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_bad_records_skipped, setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_kill9_resumes_from_cursor, setup, tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_kill9_between_repair_and_audit, setup,
		    tsscene_teardown),
		cmocka_unit_test_setup_teardown(test_mod_time_tie_across_pages, setup, tsscene_teardown),
	};

	return cmocka_run_group_tests(tests, tsscene_group_setup, tsscene_group_teardown);
}
