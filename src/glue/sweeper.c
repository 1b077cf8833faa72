/* sweeper: the sweep of ExtraHop's detections on the loop; see sweeper.h. */
#include "ticketsync/sweeper.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "ticketsync/backoff.h"
#include "ticketsync/clock.h"
#include "ticketsync/dbworker.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/pushrun.h"
#include "ticketsync/store.h"
#include "ticketsync/xalloc.h"

/* The first sweep after becoming active; retries of a failed page. */
#define SWEEPER_FIRST_MS 2000
#define SWEEPER_RETRY_BASE_MS 1000
#define SWEEPER_RETRY_MAX_MS 60000

struct sweeper {
	struct event_base *base;
	dbworker_t *db;
	extrahop_t *eh;
	sweeper_opts_t opts;
	char *database, *instance;
	struct event *timer;
	bool active, sweeping, busy, freeing;
	bool cursor_loaded;
	sweepplan_cursor_t cursor;
	int64_t stored_ms;        /* the cursor as stored: never moved back (a --since run) */
	sweepplan_page_t page;
	int64_t fetched_at_ms, started_ms;
	uint32_t failures;        /* consecutive failed requests of this page */
	sweeper_result_t cur;     /* this sweep so far */
	sweeper_page_fn on_page;
	sweeper_done_fn on_done;
	void *cb_arg;
};

typedef struct sweeper_job {
	dbjob_t base;
	sweeper_t *s;
	enum { SWEEPER_JOB_LOAD, SWEEPER_JOB_APPLY } kind;
	bson_t *page;             /* APPLY */
	bool ok, done;
	sweepplan_cursor_t next;  /* APPLY, done: the cursor to keep */
	bson_error_t err;
} sweeper_job_t;

static void sweeper_request(sweeper_t *s);
static void sweeper_end(sweeper_t *s, bool ok, const char *why);

static void
sweeper_arm(sweeper_t *s, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	evtimer_add(s->timer, &tv);
}

static void
sweeper_job_run(dbjob_t *base, mongoc_client_t *client)
{
	sweeper_job_t *job = (sweeper_job_t *)base;
	sweeper_t *s = job->s;
	bool found;

	if (job->kind == SWEEPER_JOB_LOAD) {
		job->ok = sweepdb_load_cursor(client, s->database, &job->next, &found, &job->err);
		return;
	}
	{
		sweepdb_ctx_t ctx = { s->database, s->instance, s->opts.policy, s->opts.dry_run };
		sweepplan_cursor_t keep;

		job->ok = sweepdb_apply(client, &ctx, job->page, s->fetched_at_ms, &s->page,
		    &s->cur.stats, &job->err);
		if (!job->ok)
			return;
		job->done = sweepplan_page_done(&s->page, &job->next);
		/* Everything before the next query's floor has been read: a restart may begin
		 * there (its overlap reads the tie at the floor again). */
		keep.mod_time = job->done ? job->next.mod_time : s->page.floor;
		if (keep.mod_time < s->stored_ms)
			keep.mod_time = s->stored_ms;
		if (!s->opts.dry_run &&
		    !sweepdb_save_cursor(client, s->database, &keep, s->instance, &job->err))
			job->ok = false;
		job->next = keep;
	}
	if (job->ok && job->done && !s->opts.dry_run) {
		sweepdb_ctx_t ctx = { s->database, s->instance, s->opts.policy, s->opts.dry_run };

		sweepdb_audit_sweep(client, &ctx, &s->cur.stats, s->page.pages);
	}
}

static void
sweeper_job_done(dbjob_t *base)
{
	sweeper_job_t *job = (sweeper_job_t *)base;
	sweeper_t *s = job->s;
	bool ok = job->ok, done = job->done;
	sweepplan_cursor_t next = job->next;
	char why[sizeof(job->err.message)];

	memcpy(why, job->err.message, sizeof(why));
	bson_destroy(job->page);
	if (job->kind == SWEEPER_JOB_LOAD) {
		free(job);
		s->busy = false;
		if (!ok) {
			sweeper_end(s, false, why);
			return;
		}
		s->cursor = next;
		s->stored_ms = next.mod_time;
		s->cursor_loaded = true;
		if (s->opts.once && s->opts.since_ms > 0)
			s->cursor.mod_time = s->opts.since_ms;
		metrics_set(METRICS_SWEEP_CURSOR_MS, s->cursor.mod_time);
		sweeper_request(s);
		return;
	}
	free(job);
	s->busy = false;
	if (!ok) {
		sweeper_end(s, false, why);
		return;
	}
	s->cursor = next;
	s->stored_ms = next.mod_time;
	s->cur.cursor_ms = next.mod_time;
	s->cur.pages = s->page.pages;
	metrics_set(METRICS_SWEEP_CURSOR_MS, next.mod_time);
	if (s->on_page != NULL)
		s->on_page(s->cb_arg, &s->cur);
	if (done) {
		if (s->page.gaps_possible)
			log_warnx("sweep: many detections changed while it read one mod_time; the next "
			    "sweep's overlap reads them again");
		sweeper_end(s, true, NULL);
		return;
	}
	sweeper_request(s);
}

static bool
sweeper_submit(sweeper_t *s, int kind, bson_t *page)
{
	sweeper_job_t *job = xcalloc(1, sizeof(*job));

	job->base.run = sweeper_job_run;
	job->base.done = sweeper_job_done;
	job->s = s;
	job->kind = kind;
	job->page = page;
	s->busy = true;
	if (!dbworker_submit(s->db, &job->base)) {
		s->busy = false;
		bson_destroy(page);
		free(job);
		return false;
	}
	return true;
}

static void
sweeper_on_reply(const pushplan_reply_t *res, const bson_t *detections, void *arg)
{
	sweeper_t *s = arg;
	int64_t wait;

	s->busy = false;
	if (s->freeing)
		return;
	if (res->outcome == PUSHPLAN_OK && detections != NULL) {
		metrics_inc(METRICS_SWEEP_PAGES, 1);
		s->failures = 0;
		if (!sweeper_submit(s, SWEEPER_JOB_APPLY, bson_copy(detections)))
			sweeper_end(s, false, "the database worker is stopping");
		return;
	}
	if (!s->active && !s->opts.once) {
		sweeper_end(s, false, "no longer the active instance");
		return;
	}
	if (res->outcome == PUSHPLAN_RETRY && s->failures < 8) {
		/* 429, 5xx, a lost connection: the same page again, later; pushes go on. */
		backoff_policy_t b = { SWEEPER_RETRY_BASE_MS, SWEEPER_RETRY_MAX_MS, BACKOFF_JITTER_EQUAL };

		wait = backoff_delay_ms(&b, ++s->failures, res->retry_after_ms, (uint32_t)random());
		log_info("sweep: search %s; asking again in %lld ms",
		    res->message[0] ? res->message : "failed", (long long)wait);
		sweeper_arm(s, wait);
		return;
	}
	{
		char why[400];

		if (res->http_status > 0)
			snprintf(why, sizeof(why), "search answered HTTP %ld: %s", res->http_status,
			    res->message);
		else
			snprintf(why, sizeof(why), "search failed: %s",
			    res->message[0] ? res->message : "no reply");
		sweeper_end(s, false, why);
	}
}

static void
sweeper_request(sweeper_t *s)
{
	char *body;
	bson_error_t err;

	if (s->freeing || (!s->active && !s->opts.once)) {
		sweeper_end(s, false, "no longer the active instance");
		return;
	}
	if (!s->cursor_loaded) {
		if (!sweeper_submit(s, SWEEPER_JOB_LOAD, NULL))
			sweeper_end(s, false, "the database worker is stopping");
		return;
	}
	if (s->page.limit == 0) {
		if (sweepplan_page_init(&s->page, &s->cursor, s->opts.overlap_ms, s->opts.page_size,
		        &err) != 0) {
			sweeper_end(s, false, err.message);
			return;
		}
	}
	body = sweepplan_query_json(&s->page, NULL);
	if (body == NULL) {
		sweeper_end(s, true, NULL);
		return;
	}
	s->fetched_at_ms = clock_wall_ms();
	s->busy = true;
	if (extrahop_search(s->eh, body, sweeper_on_reply, s, &err) != 0) {
		s->busy = false;
		bson_free(body);
		sweeper_end(s, false, err.message);
		return;
	}
	bson_free(body);
}

/* One sweep is over (done, failed or stopped): report, rest, and begin afresh. */
static void
sweeper_end(sweeper_t *s, bool ok, const char *why)
{
	const sweepdb_stats_t *st = &s->cur.stats;

	s->sweeping = false;
	s->cur.ok = ok;
	s->cur.elapsed_ms = clock_mono_ms() - s->started_ms;
	s->cur.pages = s->page.pages;
	snprintf(s->cur.error, sizeof(s->cur.error), "%s", why != NULL ? why : "");
	if (ok && (st->repaired > 0 || st->drift > 0 || st->rejected > 0))
		log_info("sweep: read %llu, repaired %llu, drift %llu (reasserted %llu), rejected %llu "
		    "in %.1f s", (unsigned long long)st->read, (unsigned long long)st->repaired,
		    (unsigned long long)st->drift, (unsigned long long)st->reasserted,
		    (unsigned long long)st->rejected, (double)s->cur.elapsed_ms / 1000.0);
	else if (!ok && !s->freeing)
		log_warnx("sweep: stopped: %s; the next sweep starts from the saved cursor", why);
	sweepplan_page_clear(&s->page);
	memset(&s->page, 0, sizeof(s->page));
	if (s->on_done != NULL)
		s->on_done(s->cb_arg, &s->cur);
	if (!s->opts.once && s->active && !s->freeing)
		sweeper_arm(s, s->opts.interval_ms);
}

static void
sweeper_on_timer(evutil_socket_t fd, short what, void *arg)
{
	sweeper_t *s = arg;

	(void)fd;
	(void)what;
	if ((!s->active && !s->opts.once) || s->busy)
		return;
	if (s->sweeping) {
		sweeper_request(s); /* a retry of the current page */
		return;
	}
	s->sweeping = true;
	s->started_ms = clock_mono_ms();
	memset(&s->cur, 0, sizeof(s->cur));
	s->failures = 0;
	sweeper_request(s);
}

sweeper_t *
sweeper_new(struct event_base *base, struct dbworker *db, extrahop_t *eh,
    const sweeper_opts_t *opts, bson_error_t *err)
{
	sweeper_t *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->db = db;
	s->eh = eh;
	s->opts = *opts;
	s->database = bson_strdup(opts->database);
	s->instance = bson_strdup(opts->instance ? opts->instance : "ticketsync");
	s->opts.database = s->database;
	s->opts.instance = s->instance;
	s->timer = evtimer_new(base, sweeper_on_timer, s);
	if (s->timer == NULL) {
		bson_set_error(err, ERROR_DOMAIN, SWEEPER_ERR_RESOURCE, "sweep: cannot create a timer");
		sweeper_free(s);
		return NULL;
	}
	metrics_set(METRICS_SWEEP_CURSOR_MS, 0);
	return s;
}

void
sweeper_set_callbacks(sweeper_t *s, sweeper_page_fn page, sweeper_done_fn done, void *arg)
{
	s->on_page = page;
	s->on_done = done;
	s->cb_arg = arg;
}

void
sweeper_resume(sweeper_t *s)
{
	if (s == NULL || s->active)
		return;
	s->active = true;
	/* The cursor may have moved under another instance meanwhile. */
	if (!s->busy && !s->sweeping)
		s->cursor_loaded = false;
	sweeper_arm(s, s->opts.once ? 0 : SWEEPER_FIRST_MS);
}

void
sweeper_suspend(sweeper_t *s)
{
	if (s == NULL)
		return;
	s->active = false;
	if (!s->busy)
		evtimer_del(s->timer);
}

bool
sweeper_busy(const sweeper_t *s)
{
	return s != NULL && s->busy;
}

void
sweeper_free(sweeper_t *s)
{
	if (s == NULL)
		return;
	s->freeing = true;
	if (s->timer != NULL)
		event_free(s->timer);
	sweepplan_page_clear(&s->page);
	bson_free(s->database);
	bson_free(s->instance);
	free(s);
}

void
sweeper_opts_from_config(const config_t *cfg, const char *instance, sweeper_opts_t *out)
{
	*out = (sweeper_opts_t){
		.database = cfg->mongodb.database,
		.instance = instance,
		.interval_ms = cfg->sweep.interval_ms,
		.overlap_ms = cfg->sweep.overlap_ms,
		.page_size = (int32_t)cfg->sweep.page_size,
		.policy = cfg->sweep.reassert ? SWEEPPLAN_POLICY_REASSERT : SWEEPPLAN_POLICY_REPORT,
	};
}

/* ---- once, on a private loop ---- */

typedef struct sweeper_once {
	struct event_base *base;
	sweeper_result_t result;
	bool finished;
	sweeper_page_fn page;
	void *page_arg;
} sweeper_once_t;

static void
sweeper_once_page(void *arg, const sweeper_result_t *r)
{
	sweeper_once_t *o = arg;

	if (o->page != NULL)
		o->page(o->page_arg, r);
}

static void
sweeper_once_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
sweeper_once_done(void *arg, const sweeper_result_t *r)
{
	sweeper_once_t *o = arg;

	o->result = *r;
	o->finished = true;
	event_base_loopbreak(o->base);
}

bool
sweeper_run_once(const config_t *cfg, struct store *store, const sweeper_opts_t *opts,
    sweeper_page_fn page, void *arg, sweeper_result_t *out, bson_error_t *err)
{
	sweeper_once_t o = { 0 };
	extrahop_opts_t eo;
	extrahop_t *eh = NULL;
	dbworker_t *db = NULL;
	sweeper_t *s = NULL;
	sweeper_opts_t so = *opts;
	struct event *keep = NULL;
	struct timeval tick = { 1, 0 };
	bool ok = false;

	memset(out, 0, sizeof(*out));
	so.once = true;
	o.base = event_base_new();
	if (o.base == NULL) {
		bson_set_error(err, ERROR_DOMAIN, SWEEPER_ERR_RESOURCE, "sweep: cannot create the loop");
		return false;
	}
	pushrun_extrahop_opts(cfg, &eo);
	if ((eh = extrahop_new(o.base, &eo, err)) == NULL ||
	    (db = dbworker_start(store_pool(store), o.base, err)) == NULL ||
	    (s = sweeper_new(o.base, db, eh, &so, err)) == NULL)
		goto cleanup;
	o.page = page;
	o.page_arg = arg;
	sweeper_set_callbacks(s, sweeper_once_page, sweeper_once_done, &o);
	/* The loop has nothing of its own to wait for while a DB job runs: this keeps it. */
	keep = event_new(o.base, -1, EV_PERSIST, sweeper_once_tick, NULL);
	if (keep == NULL || event_add(keep, &tick) != 0) {
		bson_set_error(err, ERROR_DOMAIN, SWEEPER_ERR_RESOURCE, "sweep: cannot create a timer");
		goto cleanup;
	}
	sweeper_resume(s);
	event_base_dispatch(o.base);
	*out = o.result;
	ok = o.finished && o.result.ok;
	if (!ok)
		bson_set_error(err, ERROR_DOMAIN, SWEEPER_ERR_FAILED, "%s",
		    o.finished ? o.result.error : "interrupted");
cleanup:
	if (keep != NULL)
		event_free(keep);
	if (db != NULL)
		dbworker_stop(db);
	/* The client before the sweeper: a search it completes reports into it. */
	extrahop_destroy(eh);
	sweeper_free(s);
	event_base_free(o.base);
	return ok;
}
