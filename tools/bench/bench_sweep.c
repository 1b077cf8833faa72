/* bench_sweep: the sweep of ExtraHop's detections in ticketsync-bench; see bench_sweep.h. */
#include "bench_sweep.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/clock.h"
#include "ticketsync/store.h"
#include "tsrun.h"

#define BS_SEARCH_PATH "/api/v1/detections/search"
#define BS_WRITTEN_BY "{\"written_by\": \"ticketsync-sweep\"}"
/* The daemon under the changes sweeps back to back: [sweep] interval_ms at its minimum
 * and an overlap of a day, so that every sweep reads all N again (the first also
 * repairs) whenever the window starts and however long one sweep takes. */
#define BS_INTERVAL_MS "1000"
#define BS_OVERLAP_MS "86400000"

/* ---- the fake ExtraHop of this phase ---- */

static bool
bs_fake_start(bench_t *b, tsextrahop_t *fx, long n)
{
	static char log[300];
	tsextrahop_opts_t o = {
		.api_key = BENCH_API_KEY, .tls = true, .latency_ms = b->o.latency_ms, .seed = 6,
		/* The steady set's PATCHes find their detections even with N below it. */
		.detections_count = n, .auto_create = true, .stderr_path = log,
	};
	char err[512];

	snprintf(log, sizeof(log), "%.100s/fake-extrahop-sweep.log", b->o.workdir);
	if (tsextrahop_start(fx, &o, err, sizeof(err)) != 0) {
		bench_fail(b, "sweep: fake ExtraHop with %ld detections: %s", n, err);
		return false;
	}
	return true;
}

typedef struct bs_count {
	int64_t *total, *bad, from_ms, to_ms, *in_window;
	FILE *log;
} bs_count_t;

static void
bs_on_request(void *arg, const bson_t *r)
{
	bs_count_t *c = arg;
	const char *m = tsextrahop_str(r, "method"), *p = tsextrahop_str(r, "path");
	int64_t at = tsextrahop_int(r, "time_ms", 0);
	bson_iter_t bi;
	char *js = NULL;

	if (m == NULL || p == NULL || strcmp(m, "POST") != 0 || strcmp(p, BS_SEARCH_PATH) != 0)
		return;
	(*c->total)++;
	if (tsextrahop_int(r, "status", 0) != 200)
		(*c->bad)++;
	if (c->in_window != NULL && at >= c->from_ms && at <= c->to_ms)
		(*c->in_window)++;
	if (c->log == NULL)
		return;
	if (bson_iter_init_find(&bi, r, "body") && BSON_ITER_HOLDS_DOCUMENT(&bi)) {
		uint32_t blen;
		const uint8_t *bdata;
		bson_t body;

		bson_iter_document(&bi, &blen, &bdata);
		bson_init_static(&body, bdata, blen);
		js = bson_as_relaxed_extended_json(&body, NULL);
	}
	fprintf(c->log, "%" PRId64 " %" PRId64 " %" PRId64 " %s\n", tsextrahop_int(r, "seq", 0), at,
	    tsextrahop_int(r, "status", 0), js ? js : "-");
	bson_free(js);
}

/* Search requests the fake recorded since its last reset, how many of them were not
 * answered 200, and how many arrived in [from_ms, to_ms] (if in_window is not NULL);
 * each one's arrival, status and body into log (if not NULL), for diagnosis. */
static bool
bs_searches(tsextrahop_t *fx, int64_t *total, int64_t *bad, int64_t from_ms, int64_t to_ms,
    int64_t *in_window, FILE *log)
{
	bs_count_t c = { total, bad, from_ms, to_ms, in_window, log };

	*total = *bad = 0;
	if (in_window != NULL)
		*in_window = 0;
	return bench_fake_requests(fx->control_url, bs_on_request, &c);
}

/* ---- MongoDB ---- */

/* Epoch ms of the oldest document of coll matching json ("at" field), or -1. */
static int64_t
bs_first_at(bench_t *b, const char *db, const char *coll_name, const char *json)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(b->client, db, coll_name);
	bson_error_t err;
	bson_t *filter = bson_new_from_json((const uint8_t *)json, -1, &err);
	bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "sort", "{", "at", BCON_INT32(1), "}");
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_iter_t it;
	int64_t at = -1;

	if (filter != NULL) {
		cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
		if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "at") &&
		    BSON_ITER_HOLDS_DATE_TIME(&it))
			at = bson_iter_date_time(&it);
		mongoc_cursor_destroy(cur);
	}
	bson_destroy(filter);
	bson_destroy(opts);
	mongoc_collection_destroy(coll);
	return at;
}

/* Audit records of event with "at" in [from_ms, to_ms]. */
static int64_t
bs_audits_between(bench_t *b, const char *db, const char *event, int64_t from_ms, int64_t to_ms)
{
	char json[256];

	snprintf(json, sizeof(json), "{\"event\": \"%s\", \"at\": {\"$gte\": {\"$date\": "
	    "{\"$numberLong\": \"%" PRId64 "\"}}, \"$lte\": {\"$date\": {\"$numberLong\": \"%"
	    PRId64 "\"}}}}", event, from_ms, to_ms);
	return bench_count(b, db, STORE_COLL_AUDIT, json);
}

/* ---- once: ticketsyncctl sync-from-extrahop ---- */

static void
bs_once(bench_t *b, bench_sweep_result_t *r)
{
	char db[96], want[128], log[300], num[32];
	const char *const args[] = { "sync-from-extrahop", NULL };
	tsdaemon_t env;
	tsrun_opts_t ro = { 0 };
	tsrun_result_t res = { 0 };
	FILE *f;

	bench_dbname(b, "sweep1", db, sizeof(db));
	if (!bench_prepare_db(b, db))
		return;
	if (tsextrahop_reset(&b->fx) != 0) {
		bench_fail(b, "sweep: cannot reset the fake: %s", b->fx.error);
		return;
	}
	/* The daemon's configuration (bench_daemon_start), as the command reads it. */
	tsdaemon_init(&env, tsmongo_uri(b->mongo), db, b->fx.base_url, BENCH_API_KEY);
	tsdaemon_setenv(&env, "TICKETSYNC_EXTRAHOP_CA_FILE", b->fx.ca_file);
	tsdaemon_setenv(&env, "TICKETSYNC_SERVICE_INSTANCE_ID", "bench");
	snprintf(num, sizeof(num), "%ld", r->page);
	tsdaemon_setenv(&env, "TICKETSYNC_SWEEP_PAGE_SIZE", num);
	ro.env = (const char *const *)env.env;
	ro.timeout_ms = 120000 + (int)(r->n / 50);
	bench_note("sweep: ticketsyncctl sync-from-extrahop into an empty database, %ld "
	    "detections at ExtraHop, pages of %ld", r->n, r->page);
	if (tsrun_ctlv(&res, &ro, args) != 0) {
		bench_fail(b, "sweep: cannot run ticketsyncctl: %s", res.err ? res.err : "");
		goto done;
	}
	snprintf(log, sizeof(log), "%s/ticketsyncctl-sync.log", b->o.workdir);
	if ((f = fopen(log, "w")) != NULL) {
		fputs(res.out, f);
		fputs(res.err, f);
		fclose(f);
	}
	snprintf(r->summary, sizeof(r->summary), "%.*s", (int)strcspn(res.out, "\n"), res.out);
	r->once_s = res.seconds;
	r->once_rss_mb = (double)res.maxrss_kb / 1024.0;
	r->once_cpu_s = res.cpu_seconds;
	if (res.exit_code != 0) {
		bench_fail(b, "sweep: ticketsyncctl sync-from-extrahop exited %d%s (log %s)",
		    res.exit_code, res.timed_out ? " (timed out)" : "", log);
		goto done;
	}
	if (!bs_searches(&b->fx, &r->requests, &r->requests_bad, 0, 0, NULL, NULL))
		bench_fail(b, "sweep: cannot read the fake's recorded requests");
	r->stored = bench_count(b, db, STORE_COLL_DETECTIONS, "{}");
	r->repaired = bench_count(b, db, STORE_COLL_DETECTIONS, BS_WRITTEN_BY);
	snprintf(want, sizeof(want), "repaired %ld (missing %ld, older 0)", r->n, r->n);
	if (r->stored != r->n || r->repaired != r->n || strstr(r->summary, want) == NULL) {
		bench_fail(b, "sweep: after sync-from-extrahop `detections` holds %" PRId64 " of %ld "
		    "(%" PRId64 " written by the sweep); it said: %s (log %s)", r->stored, r->n,
		    r->repaired, r->summary, log);
		goto done;
	}
	if (r->requests_bad > 0)
		bench_note("sweep: %" PRId64 " of %" PRId64 " search requests were not answered "
		    "200", r->requests_bad, r->requests);
	bench_note("sweep: %ld detections in %.2f s, %" PRId64 " search requests, peak RSS "
	    "%.1f MB", r->n, r->once_s, r->requests, r->once_rss_mb);
	r->once_ok = true;
done:
	tsrun_free(&res);
	tsdaemon_free(&env);
}

/* ---- pushes beside the daemon's sweep ---- */

/* Ready and its first sweep under way (a search page answered); false on timeout. */
static bool
bs_wait_sweeping(bench_t *b, tsdaemon_t *d, double timeout_s)
{
	double until = bench_now_s() + timeout_s;

	while (bench_now_s() < until) {
		if (tsdaemon_get(d, "/readyz", NULL) == 200 &&
		    tsdaemon_metric(d, "ticketsync_sweep_pages_total") >= 1)
			return true;
		bench_sleep_ms(20);
	}
	bench_fail(b, "sweep: ticketsyncd did not start sweeping within %.0f s (log %s)",
	    timeout_s, d->stderr_path);
	return false;
}

static void
bs_pushes(bench_t *b, bench_sweep_result_t *r)
{
	char db[96], num[32], json[128];
	tsdaemon_t d;
	long changes = (long)b->o.steady_rate * b->o.steady_seconds;
	long n = r->n, want_repaired;
	double seen_s, w0_mono, until;
	int64_t w0, w1, end_at = -1;
	const char *const quiet_env[] = { "TICKETSYNC_SWEEP_ENABLED", "false", NULL };
	const char *const busy_env[] = {
		"TICKETSYNC_SWEEP_ENABLED", "true",
		"TICKETSYNC_SWEEP_INTERVAL_MS", BS_INTERVAL_MS,
		"TICKETSYNC_SWEEP_OVERLAP_MS", BS_OVERLAP_MS,
		"TICKETSYNC_SWEEP_PAGE_SIZE", num,
		NULL,
	};

	memset(&d, 0, sizeof(d));
	d.proc.pid = -1;
	r->dets = changes < BENCH_STEADY_DETECTIONS ? changes : BENCH_STEADY_DETECTIONS;
	r->first_end_in_window_s = r->first_sweep_s = NAN;
	r->quiet_hwm_mb = r->busy_hwm_mb = NAN;
	want_repaired = n > r->dets ? n - r->dets : 0;
	snprintf(num, sizeof(num), "%ld", r->page);
	if (r->dets <= 0)
		return;
	bench_dbname(b, "sweep2", db, sizeof(db));
	/* The steady set (1..dets, ticketed) is in MongoDB; the rest of the N only at
	 * ExtraHop, for the sweep to repair. */
	if (!bench_prepare_db(b, db) ||
	    !bench_insert(b, db, STORE_COLL_DETECTIONS, 1, r->dets, NULL, NULL, 0) ||
	    !bench_insert(b, db, STORE_COLL_TICKETS, 1, r->dets, "In Progress", "TK", 0) ||
	    !bench_daemon_start(b, &d, db, "sweep-quiet", quiet_env))
		goto done;
	bench_note("sweep: %ld detections with tickets, first push ([sweep] off)", r->dets);
	if (!bench_daemon_idle(b, &d, r->dets, 120))
		goto done;
	if (!bench_wait_synced(b, db, STORE_COLL_STATE, 60)) {
		bench_fail(b, "sweep: the first push did not complete (log %s)", d.stderr_path);
		goto done;
	}
	bench_sleep_ms(300);
	bench_reset_fake(b);
	bench_steady_run(b, &d, db, r->dets, " (no sweep)", &r->quiet);
	r->quiet_hwm_mb = bench_mem_mb(d.proc.pid, "VmHWM");
	bench_daemon_stop(b, &d);

	/* The same database and fake, the daemon restarted with [sweep] on: its first
	 * sweep begins SWEEPER_FIRST_MS after it is active, and the changes with it. */
	if (!bench_daemon_start(b, &d, db, "sweep-busy", busy_env) ||
	    !bs_wait_sweeping(b, &d, 60))
		goto done;
	seen_s = bench_now_s();
	w0 = clock_wall_ms();
	w0_mono = bench_now_s();
	bench_steady_run(b, &d, db, r->dets, " (sweep running)", &r->busy);
	r->window_s = r->busy.seconds;
	w1 = w0 + (int64_t)(r->window_s * 1000);
	{
		char path[300];
		FILE *log;
		int64_t bad;

		snprintf(path, sizeof(path), "%s/sweep-searches.log", b->o.workdir);
		log = fopen(path, "w");
		if (!bs_searches(&b->fx, &r->busy_requests, &bad, w0, w1, &r->searches_in_window, log))
			bench_fail(b, "sweep: cannot read the fake's recorded requests");
		if (log != NULL)
			fclose(log);
	}
	/* Then every missing detection repaired: the first sweep's work. */
	until = bench_now_s() + 120 + (double)n / 200;
	while (bench_now_s() < until &&
	    (r->busy_repaired = bench_count(b, db, STORE_COLL_DETECTIONS, BS_WRITTEN_BY)) <
	        want_repaired)
		bench_sleep_ms(200);
	until = bench_now_s() + 30;
	while (bench_now_s() < until &&
	    (end_at = bs_first_at(b, db, STORE_COLL_AUDIT, "{\"event\": \"sweep\"}")) < 0)
		bench_sleep_ms(100);
	if (end_at > 0) {
		/* The window starts as the sweep is seen running (its first page answered). */
		r->first_sweep_s = (double)(end_at - w0) / 1e3 + (double)(w0_mono - seen_s);
		if (end_at <= w1)
			r->first_end_in_window_s = (double)(end_at - w0) / 1e3;
	}
	r->sweeps_in_window = bs_audits_between(b, db, "sweep", w0, w1);
	r->repaired_in_window = bs_audits_between(b, db, "detection_repaired", w0, w1);
	r->busy_hwm_mb = bench_mem_mb(d.proc.pid, "VmHWM");
	r->drift = (int64_t)tsdaemon_metric(&d, "ticketsync_sweep_drift_total");
	snprintf(json, sizeof(json), "{\"_id\": {\"$gte\": 1, \"$lte\": %ld}}", n);
	r->busy_stored = bench_count(b, db, STORE_COLL_DETECTIONS, json);
	if (r->busy_stored != n || r->busy_repaired != want_repaired) {
		bench_fail(b, "sweep: with the daemon's sweep `detections` holds %" PRId64 " of "
		    "detections 1..%ld, %" PRId64 " of the %ld missing ones repaired (log %s)",
		    r->busy_stored, n, r->busy_repaired, want_repaired, d.stderr_path);
		goto done;
	}
	if (r->drift != 0) {
		bench_fail(b, "sweep: %" PRId64 " drift found where nobody edited ExtraHop (log %s)",
		    r->drift, d.stderr_path);
		goto done;
	}
	if (end_at < 0) {
		bench_fail(b, "sweep: no `sweep` audit record after the daemon's first sweep "
		    "(log %s)", d.stderr_path);
		goto done;
	}
	bench_note("sweep: the daemon's first sweep (%" PRId64 " repaired) took %.2f s from its "
	    "first page; the changes took %.2f s", r->busy_repaired, r->first_sweep_s,
	    r->window_s);
	r->ok = r->quiet.ok && r->busy.ok;
done:
	if (d.proc.pid > 0)
		bench_daemon_stop(b, &d);
}

/* ---- the phase ---- */

void
bench_sweep(bench_t *b, bench_sweep_result_t *r)
{
	tsextrahop_t shared = b->fx, fx;

	memset(&fx, 0, sizeof(fx));
	r->ran = true;
	r->ok = false;
	r->n = b->o.sweep_n;
	r->page = b->o.sweep_page;
	r->ideal_requests = (r->n + r->page - 1) / r->page;
	r->once_s = r->once_rss_mb = r->once_cpu_s = NAN;
	bench_note("sweep: a fake ExtraHop with %ld synthesized detections", r->n);
	if (!bs_fake_start(b, &fx, r->n))
		return;
	/* The helpers (bench_daemon_start, bench_steady_run) talk to b->fx: this phase's
	 * fake stands in for the run's one meanwhile. */
	b->fx = fx;
	bs_once(b, r);
	bs_pushes(b, r);
	r->ok = r->once_ok && r->ok;
	fx = b->fx;
	b->fx = shared;
	if (tsextrahop_stop(&fx) != 0)
		bench_fail(b, "sweep: the fake ExtraHop did not stop cleanly");
}

/* ---- report ---- */


void
bench_sweep_report(FILE *f, const bench_t *b, const bench_sweep_result_t *r)
{
	char c[6][32];
	double target_p99 = b->o.interval_ms + 100.0;

	if (!r->ran)
		return;
	fprintf(f, "\nsweep of ExtraHop's detections (a fake ExtraHop of its own over HTTPS, %d "
	    "ms per request, holding %ld synthesized detections; [sweep] page_size %ld):\n\n",
	    b->o.latency_ms, r->n, r->page);
	bench_fmt(c[0], 32, r->once_s, "s");
	bench_fmt(c[1], 32, r->once_s > 0 ? (double)r->n / r->once_s : NAN, "rate");
	bench_fmt(c[2], 32, r->once_rss_mb, "x");
	bench_fmt(c[3], 32, r->once_cpu_s, "s");
	if (r->requests > 0 && r->ideal_requests > 0)
		snprintf(c[4], 32, "%.2f", (double)r->requests / (double)r->ideal_requests);
	else
		snprintf(c[4], 32, "-");
	fprintf(f, "| sync-from-extrahop | detections | search requests | ideal N/page | "
	    "requests/ideal | wall s | detections/s | peak RSS MB | CPU s | in `detections` | "
	    "written by the sweep |\n");
	fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	fprintf(f, "| empty database | %ld | %" PRId64 " | %ld | %s | %s | %s | %s | %s | %" PRId64
	    " | %" PRId64 " |%s\n", r->n, r->requests, r->ideal_requests, c[4], c[0], c[1], c[2],
	    c[3], r->stored, r->repaired, r->once_ok ? "" : " FAILED");
	if (r->quiet.ran) {
		fprintf(f, "\nExtraHop pushes meanwhile (%d ticket changes/s over %ld ticketed "
		    "detections; change -> PATCH at the fake; the same database and fake, ticketsyncd "
		    "restarted with [sweep] on, interval_ms %s, overlap_ms %s: sweeps of all %ld back "
		    "to back, the first repairing %ld):\n\n", b->o.steady_rate, r->dets,
		    BS_INTERVAL_MS, BS_OVERLAP_MS, r->n, r->n > r->dets ? r->n - r->dets : 0);
		fprintf(f, "| ticket changes | n | p50 ms | p99 ms | max ms | push interval ms | "
		    "ticketsyncd CPU s | ticketsyncd peak RSS MB |\n");
		fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|\n");
		bench_latency_row(f, "no sweep (baseline)", &r->quiet, b->o.interval_ms, r->quiet_hwm_mb);
		bench_latency_row(f, "while sweeping", &r->busy, b->o.interval_ms, r->busy_hwm_mb);
		bench_fmt(c[5], 32, r->first_sweep_s, "s");
		if (isnan(r->first_end_in_window_s))
			snprintf(c[4], 32, "after they were all written");
		else
			snprintf(c[4], 32, "%.2f s after they started", r->first_end_in_window_s);
		fprintf(f, "\n(the changes started as the first sweep's first page was answered and "
		    "took %.2f s; that sweep took %s s from its first page and ended %s; %" PRId64
		    " sweep(s) ended and %" PRId64 " detections were repaired, in %" PRId64 " search "
		    "requests (%" PRId64 " by then), while the changes were written; drift %" PRId64
		    ")\n", r->window_s, c[5], c[4], r->sweeps_in_window, r->repaired_in_window,
		    r->searches_in_window, r->busy_requests, r->drift);
	}
	if (b->o.smoke)
		return;
	fprintf(f, "targets:\n");
	if (r->once_ok) {
		fprintf(f, "  sweep of %ld: peak RSS < 64 MB: %.1f MB  %s\n", r->n, r->once_rss_mb,
		    r->once_rss_mb < 64 ? "met" : "MISSED");
		fprintf(f, "  sweep of %ld: search requests %" PRId64 " against the ideal %ld "
		    "(N / page size): %.2fx\n", r->n, r->requests, r->ideal_requests,
		    (double)r->requests / (double)r->ideal_requests);
	}
	if (r->busy.ok && r->quiet.ok)
		fprintf(f, "  p99 while sweeping <= push interval + 100 ms (%.0f ms): %.0f ms "
		    "(baseline %.0f ms)  %s\n", target_p99, r->busy.p99, r->quiet.p99,
		    r->busy.p99 <= target_p99 ? "met" : "MISSED");
}
