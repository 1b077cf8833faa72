/* bench_create: ticket creation in ticketsync-bench; see bench_create.h. */
#include "bench_create.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/clock.h"
#include "ticketsync/store.h"
#include "ticketsync/xalloc.h"
#include "tstickets.h"

#define BC_JIRA_EMAIL "soc-bot@example.com"
#define BC_JIRA_TOKEN "bench-jira-token"
#define BC_JIRA_ACCOUNT "5b10a2844c20165700ede21g"
#define BC_LABEL "extrahop-detection-"
/* Ids of detections to ticket: far above the steady set's 1..1000. */
#define BC_FIRST_ID 1000001
#define BC_KEY_LEN 24

/* ---- the fake Jira ---- */

static bool
bc_jira_start(bench_t *b, tstickets_t *tk, const char *tag, int index_delay_ms,
    int rate_limit, const char *const *extra)
{
	static char log[300];
	tstickets_opts_t o = {
		.flavour = "jira-cloud", .email = BC_JIRA_EMAIL, .api_token = BC_JIRA_TOKEN,
		.index_delay_ms = index_delay_ms, .rate_limit = rate_limit, .seed = 6,
		.extra_args = extra, .stderr_path = log,
	};
	char err[512];

	snprintf(log, sizeof(log), "%.100s/fake-jira-%.32s.log", b->o.workdir, tag);
	if (tstickets_start(tk, &o, err, sizeof(err)) != 0) {
		bench_fail(b, "fake Jira (%s): %s", tag, err);
		return false;
	}
	return true;
}

static void
bc_jira_stop(bench_t *b, tstickets_t *tk)
{
	if (tk->proc.pid > 0 && tstickets_stop(tk) != 0)
		bench_fail(b, "the fake Jira did not stop cleanly");
}

static int64_t
bc_jira_stat(tstickets_t *tk, const char *dotted)
{
	bson_t st;
	int64_t v = -1;

	if (tstickets_stats(tk, &st) == 0)
		v = tsextrahop_int(&st, dotted, -1);
	bson_destroy(&st);
	return v;
}

typedef struct bc_counts {
	int64_t *attempts, *lookups;
} bc_counts_t;

static void
bc_on_request(void *arg, const bson_t *r)
{
	bc_counts_t *c = arg;
	const char *m = tsextrahop_str(r, "method"), *p = tsextrahop_str(r, "path");

	if (m == NULL || p == NULL)
		return;
	if (strcmp(m, "POST") == 0 && strcmp(p, "/rest/api/2/issue") == 0)
		(*c->attempts)++;
	else if (strncmp(p, "/rest/api/3/search", 18) == 0)
		(*c->lookups)++;
}

/* Every recorded request: creates attempted (POST /rest/api/2/issue) and searches
 * (lookups before creating again). */
static bool
bc_jira_requests(tstickets_t *tk, int64_t *attempts, int64_t *lookups)
{
	bc_counts_t c = { attempts, lookups };

	*attempts = *lookups = 0;
	return bench_fake_requests(tk->control_url, bc_on_request, &c);
}

/* The fake's tickets by label extrahop-detection-<id> for ids from..from+n-1: keys[i]
 * gets the key of the first, the counts say how many are missing or held twice. */
static bool
bc_jira_check(bench_t *b, tstickets_t *tk, int64_t from, long n, char (*keys)[BC_KEY_LEN],
    long *missing, long *dup)
{
	uint32_t *count = xcalloc((size_t)n, sizeof(uint32_t));
	bson_t all;
	bson_iter_t it, arr;
	long foreign = 0;

	*missing = *dup = 0;
	if (tstickets_tickets(tk, &all) != 0) {
		bench_fail(b, "fake Jira tickets: %s", tk->error);
		bson_destroy(&all);
		free(count);
		return false;
	}
	if (bson_iter_init_find(&it, &all, "tickets") && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			bson_iter_t t, labels;
			const char *key = NULL;

			if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &t))
				continue;
			/* "key" comes before "labels" in the fake's ticket. */
			while (bson_iter_next(&t)) {
				if (strcmp(bson_iter_key(&t), "key") == 0 && BSON_ITER_HOLDS_UTF8(&t))
					key = bson_iter_utf8(&t, NULL);
				if (strcmp(bson_iter_key(&t), "labels") != 0 ||
				    !BSON_ITER_HOLDS_ARRAY(&t) || !bson_iter_recurse(&t, &labels))
					continue;
				while (bson_iter_next(&labels)) {
					const char *l = BSON_ITER_HOLDS_UTF8(&labels)
					    ? bson_iter_utf8(&labels, NULL) : "";
					int64_t id;

					if (strncmp(l, BC_LABEL, strlen(BC_LABEL)) != 0)
						continue;
					id = strtoll(l + strlen(BC_LABEL), NULL, 10) - from;
					if (id < 0 || id >= n) {
						foreign++;
						continue;
					}
					if (count[id]++ == 0 && key != NULL)
						bson_strncpy(keys[id], key, BC_KEY_LEN);
				}
			}
		}
	}
	for (long i = 0; i < n; i++) {
		if (count[i] == 0)
			(*missing)++;
		else if (count[i] > 1)
			(*dup)++;
	}
	if (foreign > 0)
		bench_fail(b, "fake Jira: %ld tickets for detections the benchmark did not write",
		    foreign);
	bson_destroy(&all);
	free(count);
	return true;
}

/* ---- MongoDB ---- */

/* `tickets` documents written by ticket creation (source "ticketsync"), per detection. */
static bool
bc_tickets_check(bench_t *b, const char *db, int64_t from, long n, long *missing, long *dup)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(b->client, db,
	    STORE_COLL_TICKETS);
	bson_t *filter = BCON_NEW("source", BCON_UTF8("ticketsync"));
	bson_t *opts = BCON_NEW("projection", "{", "detection_ids", BCON_INT32(1), "}");
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	uint32_t *count = xcalloc((size_t)n, sizeof(uint32_t));
	const bson_t *doc;
	bson_error_t err;
	long foreign = 0;
	bool ok = true;

	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it, ids;

		if (!bson_iter_init_find(&it, doc, "detection_ids") || !BSON_ITER_HOLDS_ARRAY(&it) ||
		    !bson_iter_recurse(&it, &ids))
			continue;
		while (bson_iter_next(&ids)) {
			int64_t i = BSON_ITER_HOLDS_NUMBER(&ids) ? bson_iter_as_int64(&ids) - from : -1;

			if (i < 0 || i >= n)
				foreign++;
			else
				count[i]++;
		}
	}
	if (mongoc_cursor_error(cur, &err)) {
		bench_fail(b, "reading %s.tickets: %s", db, err.message);
		ok = false;
	}
	*missing = *dup = 0;
	for (long i = 0; i < n; i++) {
		if (count[i] == 0)
			(*missing)++;
		else if (count[i] > 1)
			(*dup)++;
	}
	if (foreign > 0)
		bench_fail(b, "%s.tickets: %ld created tickets name detections the benchmark did "
		    "not write", db, foreign);
	free(count);
	mongoc_cursor_destroy(cur);
	bson_destroy(filter);
	bson_destroy(opts);
	mongoc_collection_destroy(coll);
	return ok;
}

/* ---- ExtraHop: each created ticket's key PATCHed onto its detection ---- */

typedef struct bc_patch_match {
	int64_t from;
	long n;
	char (*keys)[BC_KEY_LEN];
	bool *seen;
	long matched;
} bc_patch_match_t;

static void
bc_patch_cb(const bench_patch_t *p, void *arg)
{
	bc_patch_match_t *m = arg;
	int64_t i = p->id - m->from;

	if (i < 0 || i >= m->n || p->status != 204 || p->ticket_id == NULL || m->seen[i] ||
	    strcmp(p->ticket_id, m->keys[i]) != 0)
		return;
	m->seen[i] = true;
	m->matched++;
}

static long
bc_wait_patched(bench_t *b, int64_t since, int64_t from, long n, char (*keys)[BC_KEY_LEN],
    double timeout_s)
{
	bc_patch_match_t m = { from, n, keys, xcalloc((size_t)n, sizeof(bool)), 0 };
	double until = bench_now_s() + timeout_s;

	while (bench_each_patch(b, &since, bc_patch_cb, &m) && m.matched < n &&
	    bench_now_s() < until)
		bench_sleep_ms(200);
	free(m.seen);
	return m.matched;
}

/* ---- the daemon ---- */

static bool
bc_daemon_start(bench_t *b, tsdaemon_t *d, const char *db, const char *tag, tstickets_t *tk,
    int lookup_delay_ms)
{
	char rate[16], conc[16], lookup[16];
	const char *env[] = {
		"TICKETSYNC_CREATE_ENABLED", "true",
		"TICKETSYNC_CREATE_TARGET", "jira",
		"TICKETSYNC_CREATE_RATE_LIMIT", rate,
		"TICKETSYNC_CREATE_CONCURRENCY", conc,
		/* The hourly safety valve (500 by default) would hold most of them back. */
		"TICKETSYNC_CREATE_MAX_PER_HOUR", "0",
		"TICKETSYNC_CREATE_LOOKUP_DELAY_MS", lookup,
		/* Retry-After is at least 1 s; retries start there rather than at 2 s. */
		"TICKETSYNC_CREATE_RETRY_BASE_MS", "1000",
		"TICKETSYNC_CREATE_RETRY_MAX_MS", "10000",
		"TICKETSYNC_CREATE_ASSIGNEE", BC_JIRA_ACCOUNT,
		"TICKETSYNC_JIRA_URL", tk->base_url,
		"TICKETSYNC_JIRA_PROJECT", "SEC",
		"TICKETSYNC_JIRA_EMAIL", BC_JIRA_EMAIL,
		"TICKETSYNC_JIRA_API_TOKEN", BC_JIRA_TOKEN,
		NULL,
	};

	snprintf(rate, sizeof(rate), "%d", b->o.create_rate);
	snprintf(conc, sizeof(conc), "%d", b->o.create_concurrency);
	snprintf(lookup, sizeof(lookup), "%d", lookup_delay_ms);
	return bench_daemon_start(b, d, db, tag, env);
}

/* Diagnosis on stderr: up to limit documents of coll matching filter (oldest first). */
static void
bc_show(bench_t *b, const char *db, const char *coll_name, bson_t *filter, int64_t limit)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(b->client, db, coll_name);
	bson_t *opts = BCON_NEW("limit", BCON_INT64(limit), "sort", "{", "_id", BCON_INT32(1), "}");
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	const bson_t *doc;

	while (mongoc_cursor_next(cur, &doc)) {
		char *js = bson_as_relaxed_extended_json(doc, NULL);
		fprintf(stderr, "bench:   %s: %s\n", coll_name, js);
		bson_free(js);
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(filter);
	bson_destroy(opts);
	mongoc_collection_destroy(coll);
}

/* Until the fake has n creates and ticketsync_create_state n synced documents (and
 * nothing else); the monotonic time it was seen, or -1. */
static double
bc_wait_created(bench_t *b, tstickets_t *tk, const char *db, long n, double timeout_s,
    int64_t *creates, const char *what)
{
	double start = bench_now_s(), until = start + timeout_s, all_created = -1;

	while (bench_now_s() < until) {
		if ((*creates = bc_jira_stat(tk, "creates")) >= n && all_created < 0)
			all_created = bench_now_s();
		if (*creates >= n &&
		    bench_count(b, db, STORE_COLL_CREATE_STATE, "{\"state\": \"synced\"}") >= n &&
		    bench_count(b, db, STORE_COLL_CREATE_STATE,
		        "{\"state\": {\"$ne\": \"synced\"}}") == 0) {
			double now = bench_now_s();

			if (now - all_created > 2 + b->o.interval_ms / 1000.0)
				bench_note("%s: the last create was committed at the fake %.2f s before "
				    "every creation was recorded synced", what, now - all_created);
			return now;
		}
		bench_sleep_ms(*creates >= n ? 100 : 50);
	}
	bc_show(b, db, STORE_COLL_CREATE_STATE,
	    BCON_NEW("state", "{", "$ne", BCON_UTF8("synced"), "}"), 3);
	return -1;
}

/* The checks every creation phase ends with; false if any failed. */
static bool
bc_check_all(bench_t *b, tstickets_t *tk, const char *db, const char *what, int64_t ex_since,
    long n, long *missing_jira, long *dup_jira, long *missing_tickets, long *dup_tickets,
    long *patched, int64_t *duplicates)
{
	char (*keys)[BC_KEY_LEN] = xcalloc((size_t)n, BC_KEY_LEN);
	bool ok = true;

	*duplicates = bc_jira_stat(tk, "duplicates");
	if (!bc_jira_check(b, tk, BC_FIRST_ID, n, keys, missing_jira, dup_jira) ||
	    !bc_tickets_check(b, db, BC_FIRST_ID, n, missing_tickets, dup_tickets)) {
		free(keys);
		return false;
	}
	*patched = bc_wait_patched(b, ex_since, BC_FIRST_ID, n, keys, 30 + (double)n / 200);
	if (*duplicates != 0 || *missing_jira || *dup_jira || *missing_tickets || *dup_tickets) {
		bench_fail(b, "%s: the fake Jira counts %" PRId64 " duplicate labels; %ld "
		    "detections have no Jira issue, %ld more than one; %ld have no `tickets` "
		    "document from ticketsync, %ld more than one", what, *duplicates,
		    *missing_jira, *dup_jira, *missing_tickets, *dup_tickets);
		ok = false;
	}
	if (*patched != n) {
		bench_fail(b, "%s: only %ld of %ld detections got their Jira key PATCHed to "
		    "ExtraHop", what, *patched, n);
		ok = false;
	}
	if (ok)
		bench_note("%s: every detection has exactly one Jira issue, one `tickets` "
		    "document, and its key at ExtraHop", what);
	free(keys);
	return ok;
}

/* ---- phases ---- */

void
bench_create_rate(bench_t *b, bench_create_result_t *r)
{
	char db[96];
	tsdaemon_t d;
	tstickets_t tk;
	long changes = (long)b->o.steady_rate * b->o.steady_seconds;
	long dets = changes < BENCH_STEADY_DETECTIONS ? changes : BENCH_STEADY_DETECTIONS;
	long n = b->o.create_n;
	double t0, t1, cpu0;
	int64_t ex_since = 0;
	bool steady = dets > 0;

	memset(&d, 0, sizeof(d));
	memset(&tk, 0, sizeof(tk));
	d.proc.pid = -1;
	tk.proc.pid = -1;
	r->ran = true;
	r->ok = false;
	r->n = n;
	r->rate = b->o.create_rate;
	r->ideal_s = (double)n / b->o.create_rate;
	r->total_s = NAN;
	bench_dbname(b, "create", db, sizeof(db));
	/* The steady set: detections that already have their tickets (none qualifies). */
	if (!bc_jira_start(b, &tk, "rate", 0, b->o.create_rate, NULL) ||
	    !bench_prepare_db(b, db) ||
	    !bench_insert(b, db, STORE_COLL_DETECTIONS, 1, dets, NULL, NULL, 0) ||
	    !bench_insert(b, db, STORE_COLL_TICKETS, 1, dets, "In Progress", "TK", 0) ||
	    !bc_daemon_start(b, &d, db, "create", &tk, 30000))
		goto done;
	bench_note("create: %ld detections with tickets, first push", dets);
	if (!bench_daemon_idle(b, &d, dets, 120))
		goto done;
	if (!bench_wait_synced(b, db, STORE_COLL_STATE, 60)) {
		bench_fail(b, "create: the first push did not complete (log %s)", d.stderr_path);
		goto done;
	}
	if (bench_count(b, db, STORE_COLL_CREATE_STATE, "{}") != 0 ||
	    bc_jira_stat(&tk, "creates") != 0) {
		bench_fail(b, "create: detections that have tickets were queued for creation "
		    "(log %s)", d.stderr_path);
		goto done;
	}
	bench_sleep_ms(300);
	bench_reset_fake(b);
	if (steady)
		bench_steady_run(b, &d, db, dets, " (no creations)", &r->quiet);

	bench_stats(b, NULL, &ex_since);
	bench_note("create: %ld qualifying detections written; Jira and [create] at %d "
	    "writes/s", n, b->o.create_rate);
	cpu0 = bench_cpu_s(d.proc.pid);
	t0 = bench_now_s();
	if (!bench_insert(b, db, STORE_COLL_DETECTIONS, BC_FIRST_ID, n, NULL, NULL, clock_wall_ms()))
		goto done;
	r->write_s = bench_now_s() - t0;
	/* The changes start once every detection is queued for its ticket: they measure
	 * pushes beside running creations, not beside the burst of new detections (whose
	 * cost is the sizes' table). */
	while (bench_now_s() - t0 < 60 &&
	    (r->queued = bench_count(b, db, STORE_COLL_CREATE_STATE, "{}")) < n)
		bench_sleep_ms(20);
	r->queue_s = bench_now_s() - t0;
	if (r->queued < n) {
		bench_fail(b, "create: only %ld of %ld detections queued for a ticket after 60 s "
		    "(log %s)", r->queued, n, d.stderr_path);
		goto done;
	}
	if (steady) {
		bench_steady_run(b, &d, db, dets, " (creations running)", &r->busy);
		r->pending_after_busy = bench_count(b, db, STORE_COLL_CREATE_STATE,
		    "{\"state\": {\"$ne\": \"synced\"}}");
		if (bc_jira_stat(&tk, "creates") >= n)
			bench_note("create: the creations ended before the latency window did: "
			    "the busy figure is partly without creations");
	}
	t1 = bc_wait_created(b, &tk, db, n, 60 + 3 * r->ideal_s, &r->creates, "create");
	r->daemon_cpu_s = bench_cpu_s(d.proc.pid) - cpu0;
	r->rate_limited = bc_jira_stat(&tk, "rate_limited");
	if (t1 < 0) {
		bench_fail(b, "create: %" PRId64 " of %ld created, or not all recorded synced, "
		    "in time (log %s)", r->creates, n, d.stderr_path);
		goto done;
	}
	r->total_s = t1 - t0;
	bench_note("create: %ld created in %.2f s (%" PRId64 " answered 429)", n, r->total_s,
	    r->rate_limited);
	/* A moment for anything extra (a second create) to show up. */
	bench_sleep_ms(1000);
	r->creates = bc_jira_stat(&tk, "creates");
	r->retries = (int64_t)tsdaemon_metric(&d,
	    "ticketsync_ticket_creates_total{outcome=\"retry\"}");
	if (!bc_jira_requests(&tk, &r->attempts, &r->lookups))
		bench_fail(b, "create: cannot read the fake Jira's recorded requests");
	if (r->retries > 0) {
		bench_note("create: %" PRId64 " failed attempts without any injected fault; the "
		    "first ones:", r->retries);
		bc_show(b, db, STORE_COLL_AUDIT, BCON_NEW("event", BCON_UTF8("create_retry")), 5);
	}
	r->ok = bc_check_all(b, &tk, db, "create", ex_since, n, &r->missing_jira, &r->dup_jira,
	    &r->missing_tickets, &r->dup_tickets, &r->patched, &r->duplicates);
	if (r->creates != n) {
		bench_fail(b, "create: the fake Jira committed %" PRId64 " creates for %ld "
		    "detections", r->creates, n);
		r->ok = false;
	}
	if (steady && (!r->quiet.ok || !r->busy.ok))
		r->ok = false;
done:
	if (d.proc.pid > 0)
		bench_daemon_stop(b, &d);
	bc_jira_stop(b, &tk);
}

void
bench_create_faults(bench_t *b, bench_create_fault_result_t *r)
{
	char db[96];
	tsdaemon_t d;
	tstickets_t tk;
	long m = b->o.create_faults;
	double t0, t1;
	int64_t ex_since = 0;
	/* Rules are walked in order and the first that fires decides: 0.1 of all creates
	 * are committed and dropped, and 0.1 / 0.9 of the others, 0.1 of all, get a 503. */
	const char *const faults[] = {
		"--fault", "{\"kind\": \"commit_close\", \"fraction\": 0.1, \"method\": \"POST\", "
		    "\"path_prefix\": \"/rest/api/2/issue\"}",
		"--fault", "{\"kind\": \"status\", \"status\": 503, \"fraction\": 0.1111, "
		    "\"method\": \"POST\", \"path_prefix\": \"/rest/api/2/issue\"}",
		NULL,
	};

	memset(&d, 0, sizeof(d));
	memset(&tk, 0, sizeof(tk));
	d.proc.pid = -1;
	tk.proc.pid = -1;
	r->ran = true;
	r->ok = false;
	r->m = m;
	r->index_delay_ms = 500;
	r->lookup_delay_ms = 750;
	r->total_s = NAN;
	bench_dbname(b, "createf", db, sizeof(db));
	if (!bc_jira_start(b, &tk, "faults", r->index_delay_ms, 0, faults) ||
	    !bench_prepare_db(b, db) ||
	    !bc_daemon_start(b, &d, db, "create-faults", &tk, r->lookup_delay_ms) ||
	    !bench_daemon_idle(b, &d, 0, 120))
		goto done;
	bench_reset_fake(b);
	bench_stats(b, NULL, &ex_since);
	bench_note("create faults: %ld detections; 10 %% of creates committed then dropped, "
	    "10 %% answered 503, search %d ms behind", m, r->index_delay_ms);
	t0 = bench_now_s();
	if (!bench_insert(b, db, STORE_COLL_DETECTIONS, BC_FIRST_ID, m, NULL, NULL, clock_wall_ms()))
		goto done;
	t1 = bc_wait_created(b, &tk, db, m, 90 + 5.0 * (double)m / b->o.create_rate,
	    &r->creates, "create faults");
	if (t1 < 0) {
		bench_fail(b, "create faults: %" PRId64 " of %ld created, or not all recorded "
		    "synced, in time (log %s)", r->creates, m, d.stderr_path);
		goto done;
	}
	r->total_s = t1 - t0;
	bench_sleep_ms(1000);
	r->creates = bc_jira_stat(&tk, "creates");
	r->commit_closes = bc_jira_stat(&tk, "faults.commit_close");
	r->status_faults = bc_jira_stat(&tk, "faults.status");
	r->retries = (int64_t)tsdaemon_metric(&d, "ticketsync_ticket_creates_total{outcome=\"retry\"}");
	if (!bc_jira_requests(&tk, &r->attempts, &r->lookups))
		bench_fail(b, "create faults: cannot read the fake Jira's recorded requests");
	bench_note("create faults: %ld created in %.2f s; %" PRId64 " attempts, %" PRId64
	    " lookups, %" PRId64 " retries", m, r->total_s, r->attempts, r->lookups, r->retries);
	r->ok = bc_check_all(b, &tk, db, "create faults", ex_since, m, &r->missing_jira,
	    &r->dup_jira, &r->missing_tickets, &r->dup_tickets, &r->patched, &r->duplicates);
	if (r->creates != m) {
		bench_fail(b, "create faults: the fake Jira committed %" PRId64 " creates for %ld "
		    "detections", r->creates, m);
		r->ok = false;
	}
done:
	if (d.proc.pid > 0)
		bench_daemon_stop(b, &d);
	bc_jira_stop(b, &tk);
}

/* ---- report ---- */


void
bench_create_report(FILE *f, const bench_t *b, const bench_create_result_t *r,
    const bench_create_fault_result_t *fr)
{
	char c[6][32];

	if (!r->ran && !fr->ran)
		return;
	fprintf(f, "\nticket creation (fake Jira Cloud, plain HTTP; [create] concurrency %d, "
	    "rate_limit %d):\n\n", b->o.create_concurrency, b->o.create_rate);
	if (r->ran) {
		bench_fmt(c[0], 32, r->total_s, "s");
		bench_fmt(c[1], 32, r->ideal_s, "s");
		if (r->total_s > 0)
			snprintf(c[2], 32, "%.2f", r->total_s / r->ideal_s);
		else
			snprintf(c[2], 32, "-");
		bench_fmt(c[3], 32, r->total_s > 0 ? (double)r->n / r->total_s : NAN, "x");
		bench_fmt(c[4], 32, r->daemon_cpu_s, "s");
		fprintf(f, "| creations | Jira limit /s | total s | ideal N/limit s | total/ideal "
		    "| creates/s | 429s | retries | lookups | Jira creates | duplicates (Jira labels / tickets) | "
		    "missing (Jira / tickets / ExtraHop) | ticketsyncd CPU s |\n");
		fprintf(f, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		fprintf(f, "| %ld | %d | %s | %s | %s | %s | %" PRId64 " | %" PRId64 " | %" PRId64
		    " | %" PRId64 " | %" PRId64 " / %ld | %ld / %ld / %ld | %s |%s\n", r->n, r->rate,
		    c[0], c[1], c[2], c[3], r->rate_limited, r->retries, r->lookups, r->creates, r->duplicates, r->dup_tickets, r->missing_jira,
		    r->missing_tickets, r->n - r->patched, c[4],
		    r->ok ? "" : " FAILED");
		if (r->quiet.ran) {
			fprintf(f, "\nExtraHop pushes of other detections meanwhile (%d ticket "
			    "changes/s over the ticketed detections; change -> PATCH at the fake):\n\n",
			    b->o.steady_rate);
			fprintf(f, "| ticket changes | n | p50 ms | p99 ms | max ms | push interval "
			    "ms | ticketsyncd CPU s |\n");
			fprintf(f, "|---|---:|---:|---:|---:|---:|---:|\n");
			bench_latency_row(f, "no creations (baseline)", &r->quiet, b->o.interval_ms, -1);
			bench_latency_row(f, "while the creations run", &r->busy, b->o.interval_ms, -1);
			fprintf(f, "\n(all %ld queued for a ticket %.2f s after the first write; the "
			    "changes started then, and %ld creations were still pending when they "
			    "ended)\n", r->n, r->queue_s, r->pending_after_busy);
			if (r->busy.ok && r->quiet.ok && !b->o.smoke)
				fprintf(f, "target: p99 while creating <= push interval + 100 ms (%d "
				    "ms): %.0f ms (baseline %.0f ms)  %s\n", b->o.interval_ms + 100,
				    r->busy.p99, r->quiet.p99,
				    r->busy.p99 <= b->o.interval_ms + 100 ? "met" : "MISSED");
		}
	}
	if (fr->ran) {
		bench_fmt(c[0], 32, fr->total_s, "s");
		fprintf(f, "\nfaults: 10 %% of creates committed then the connection dropped, 10 %% "
		    "503; search index %d ms behind, lookup_delay_ms %d:\n\n", fr->index_delay_ms,
		    fr->lookup_delay_ms);
		fprintf(f, "| creations | created | duplicates (Jira labels / tickets) | missing "
		    "(Jira / tickets / ExtraHop) | create attempts | commit+drop | 503 | retries | "
		    "lookups | time s |\n");
		fprintf(f, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		fprintf(f, "| %ld | %" PRId64 " | %" PRId64 " / %ld | %ld / %ld / %ld | %" PRId64
		    " | %" PRId64 " | %" PRId64 " | %" PRId64 " | %" PRId64 " | %s |%s\n", fr->m,
		    fr->creates, fr->duplicates, fr->dup_tickets, fr->missing_jira,
		    fr->missing_tickets, fr->m - fr->patched, fr->attempts, fr->commit_closes,
		    fr->status_faults, fr->retries, fr->lookups, c[0], fr->ok ? "" : " FAILED");
	}
}
