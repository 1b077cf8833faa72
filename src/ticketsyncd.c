/*
 * ticketsyncd: argument parsing and wiring only.
 *
 * Threads: the main thread runs the libevent loop (signals, push timer, lease timer,
 * libcurl, HTTP listener with the webhooks) and never calls libmongoc. Three DB
 * workers (dbworker_start), each a thread with its own pooled client, run the loop's
 * jobs: claims, webhook writes and gauges on d.db; the pusher's results on
 * d.record_db; lease renewals on d.lease_db; the sweep's pages on d.sweep_db (a page
 * of a thousand detections never delays a claim). While this instance holds the lease the
 * watcher adds two more (change stream reader and applier), each with its own client;
 * a previous term's watcher may still be finishing beside them.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "ticketsync/clock.h"
#include "ticketsync/config.h"
#include "ticketsync/dbworker.h"
#include "ticketsync/createq.h"
#include "ticketsync/creator.h"
#include "ticketsync/dest_extrahop.h"
#include "ticketsync/extrahop.h"
#include "ticketsync/httpd.h"
#include "ticketsync/leader.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/outbox.h"
#include "ticketsync/outbox_view.h"
#include "ticketsync/pusher.h"
#include "ticketsync/sdnotify.h"
#include "ticketsync/sweeper.h"
#include "ticketsync/pushrun.h"
#include "ticketsync/schema.h"
#include "ticketsync/store.h"
#include "ticketsync/watcher.h"
#include "ticketsync/ticketspec.h"
#include "ticketsync/timefmt.h"
#include "ticketsync/webhook_http.h"
#include "ticketsync/xalloc.h"

#define EXIT_CONFIG 2
#define GAUGE_REFRESH_MS 5000

typedef struct daemon_ctx {
	const config_t *cfg;
	struct event_base *base;
	store_t *store;
	dbworker_t *db;
	dbworker_t *record_db;
	dbworker_t *sweep_db;
	sweeper_t *sweeper;      /* [sweep]: ExtraHop's detections read back (NULL when off) */
	dbworker_t *lease_db;
	extrahop_t *eh;
	pusher_t *pusher;
	creator_t *creator;      /* ticket creation ([create] enabled), else NULL */
	int draining;            /* pushers still draining at shutdown */
	leader_t *leader;
	watcher_t *watcher;      /* this term's change stream, while active */
	watcher_t *retiring;     /* the previous term's, stopping without blocking the loop */
	refresh_ctx_t rctx;
	watcher_opts_t wopts;
	httpd_t *httpd;
	webhook_http_t *webhooks;    /* ticket intake on the listener (any instance, not only the active) */
	struct event *sigterm, *sigint, *gauges, *watch_poll;
	sdnotify_t *notify;      /* systemd's READY=1, STATUS= and watchdog (NULL outside it) */
	bool gauges_busy;
	bool stopping;
	char instance[256];
} daemon_ctx_t;

typedef struct gauge_job {
	dbjob_t base;
	daemon_ctx_t *d;
	outbox_counts_t counts;
	outbox_counts_t create_counts;
	bool ok;
	bson_error_t err;
} gauge_job_t;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: ticketsyncd [-c FILE] [--check-config] [--print-ready] [--help] [--version]\n"
	    "\n"
	    "Watches the detections and tickets collections in MongoDB (change streams),\n"
	    "reconciles each detection with its tickets, and pushes ticket_id, status,\n"
	    "assignee and resolution to ExtraHop (PATCH /api/v1/detections/{id}),\n"
	    "recording every attempt in ticketsync_audit.\n"
	    "\n"
	    "  -c, --config FILE  INI configuration (every key can also be set through\n"
	    "                     TICKETSYNC_<SECTION>_<KEY>; see docs/CONFIGURATION.md)\n"
	    "  --check-config     validate the configuration and exit (0 ok, 2 invalid)\n"
	    "  --print-ready      print \"READY http_port=N pid=N\" on stdout once running\n"
	    "                     (for supervisors and tests)\n"
	    "\n"
	    "Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on a runtime\n"
	    "failure, 2 on a usage or configuration error.\n");
}

static bool
daemon_ready(void *arg, char *reason, size_t len)
{
	daemon_ctx_t *d = arg;
	pusher_stats_t ps;
	enum watcher_phase phase;

	if (d->stopping) {
		snprintf(reason, len, "shutting down");
		return false;
	}
	if (!leader_active(d->leader)) {
		/* A healthy standby is ready: its job is to take over. */
		leader_describe(d->leader, reason, len);
		return true;
	}
	if (d->watcher == NULL) {
		snprintf(reason, len, "active; change stream starting");
		return false;
	}
	phase = watcher_phase(d->watcher);
	if (phase != WATCHER_STREAMING) {
		snprintf(reason, len, "change stream %s", watcher_phase_name(phase));
		return false;
	}
	pusher_get_stats(d->pusher, &ps);
	if (ps.blocked) {
		snprintf(reason, len, "pushes stopped: %s", ps.blocked_reason);
		return false;
	}
	if (ps.unreachable_ms > 0) {
		snprintf(reason, len, "ExtraHop unreachable for %lld s: %s",
		    (long long)(ps.unreachable_ms / 1000), ps.unreachable_reason);
		return false;
	}
	if (d->creator != NULL && !creator_ready(d->creator, reason, len))
		return false;
	snprintf(reason, len, "ready: active, streaming, pushing as %s (lease fencing token %lld)",
	    d->instance, (long long)leader_fencing(d->leader));
	return true;
}

/* Started, for systemd: a standby that knows who is active, or the active instance
 * once its change stream has opened (from then on no change is missed, whatever a
 * first rescan still has to do: a big one must not hold up the start). */
static bool
daemon_started(void *arg, char *status, size_t len)
{
	daemon_ctx_t *d = arg;

	daemon_ready(d, status, len);
	return leader_decided(d->leader) &&
	    (!leader_active(d->leader) || watcher_opened(d->watcher));
}

static bool
daemon_gate(const void *arg)
{
	return leader_active(((const daemon_ctx_t *)arg)->leader);
}

/* Bring the change stream in line with the lease: one watcher per active term, the
 * previous one joined only once it has finished (never blocking the loop). */
static void
daemon_sync_watcher(daemon_ctx_t *d)
{
	bson_error_t err;

	if (d->retiring != NULL && watcher_finished(d->retiring)) {
		watcher_stop(d->retiring);
		d->retiring = NULL;
	}
	if (d->stopping || d->watcher != NULL || d->retiring != NULL || !leader_active(d->leader))
		return;
	/* This term's writes carry this term's lease token. */
	d->rctx.fencing = leader_fencing(d->leader);
	d->watcher = watcher_start(d->store, &d->rctx, &d->wopts, &err);
	if (d->watcher == NULL)
		log_errorx("%s (retrying)", err.message);
}

static void
on_watch_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	daemon_sync_watcher(arg);
}

static void
on_leader(void *arg, bool active, int64_t fencing)
{
	daemon_ctx_t *d = arg;

	if (d->stopping)
		return;
	if (active) {
		pusher_set_fencing(d->pusher, fencing);
		daemon_sync_watcher(d);
		pusher_resume(d->pusher);
		sweeper_resume(d->sweeper);
		if (d->creator != NULL) {
			pusher_set_fencing(creator_pusher(d->creator), fencing);
			pusher_resume(creator_pusher(d->creator));
		}
		return;
	}
	pusher_suspend(d->pusher);
	sweeper_suspend(d->sweeper);
	if (d->creator != NULL)
		pusher_suspend(creator_pusher(d->creator));
	if (d->watcher != NULL) {
		watcher_request_stop(d->watcher);
		d->retiring = d->watcher;
		d->watcher = NULL;
	}
}

static void
gauge_run(dbjob_t *base, mongoc_client_t *client)
{
	gauge_job_t *job = (gauge_job_t *)base;

	job->ok = outbox_view_counts(client, job->d->cfg->mongodb.database, STORE_COLL_STATE,
	    clock_wall_ms(), &job->counts, &job->err) &&
	    (job->d->creator == NULL ||
	        outbox_view_counts(client, job->d->cfg->mongodb.database, STORE_COLL_CREATE_STATE,
	            clock_wall_ms(), &job->create_counts, &job->err));
}

static void
gauge_done(dbjob_t *base)
{
	gauge_job_t *job = (gauge_job_t *)base;

	job->d->gauges_busy = false;
	if (job->ok) {
		metrics_set(METRICS_PENDING, job->counts.pending + job->counts.in_flight);
		metrics_set(METRICS_PARKED, job->counts.parked);
		metrics_set(METRICS_CREATE_PENDING,
		    job->create_counts.pending + job->create_counts.in_flight);
		metrics_set(METRICS_CREATE_PARKED_NOW, job->create_counts.parked);
	}
	free(job);
}

static void
on_gauges(evutil_socket_t fd, short what, void *arg)
{
	daemon_ctx_t *d = arg;
	gauge_job_t *job;

	(void)fd;
	(void)what;
	if (d->gauges_busy || d->stopping)
		return;
	job = xcalloc(1, sizeof(*job));
	job->base.run = gauge_run;
	job->base.done = gauge_done;
	job->d = d;
	d->gauges_busy = dbworker_submit(d->db, &job->base);
	if (!d->gauges_busy)
		free(job);
}

static void
on_released(void *arg)
{
	event_base_loopbreak(((daemon_ctx_t *)arg)->base);
}

static void
on_drained(void *arg)
{
	daemon_ctx_t *d = arg;

	if (--d->draining > 0)
		return;

	log_info("shutdown: pushes drained and recorded; stopping the change stream");
	/* Applies what was read, saves the checkpoint, joins; bounded by max_await. At
	 * shutdown the loop may wait for it. */
	watcher_stop(d->watcher);
	watcher_stop(d->retiring);
	d->watcher = d->retiring = NULL;
	/* Hand the lease over at once instead of letting a standby wait for expiry. */
	leader_stop(d->leader, true, on_released, d);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	daemon_ctx_t *d = arg;

	(void)what;
	if (d->stopping) {
		log_warnx("second signal: stopping now");
		event_base_loopbreak(d->base);
		return;
	}
	d->stopping = true;
	sdnotify_stopping(d->notify);
	sweeper_suspend(d->sweeper);
	log_info("%s received: finishing in-flight pushes (up to %lld ms), then checkpointing",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)d->cfg->service.shutdown_timeout_ms);
	event_del(d->gauges);
	event_del(d->watch_poll);
	d->draining = d->creator != NULL ? 2 : 1;
	pusher_drain(d->pusher, (int)d->cfg->service.shutdown_timeout_ms, on_drained, d);
	if (d->creator != NULL)
		pusher_drain(creator_pusher(d->creator), (int)d->cfg->service.shutdown_timeout_ms,
		    on_drained, d);
}

/* The daemon's own collections exist with their indexes before anything runs. */
static int
ensure_schema(daemon_ctx_t *d)
{
	volatile int attempts = 0;

	for (;;) {
		mongoc_client_t *client = store_pop(d->store);
		schema_plan_t plan;
		bson_error_t err;
		bool ok;

		schema_plan_init(&plan);
		ok = schema_ensure(client, d->cfg->mongodb.database, schema_service_collections,
		    false, &plan, &err);
		store_push(d->store, client);
		for (size_t i = 0; i < plan.n; i++)
			log_info("schema: %s", plan.lines[i]);
		schema_plan_destroy(&plan);
		if (ok)
			return 0;
		if (++attempts == 1 || attempts % 10 == 0)
			log_warnx("cannot prepare MongoDB collections (retrying): %s", err.message);
		sleep(attempts < 5 ? 1 : 3);
	}
}

/* Detections first seen before this get no ticket: [create] since, else the time
 * creation was first enabled on this database (kept there). Also counts the last
 * hour's creates into the hourly ceiling. */
static int64_t
create_start(daemon_ctx_t *d)
{
	char when[64];

	for (int attempts = 1;; attempts++) {
		mongoc_client_t *client = store_pop(d->store);
		bson_error_t err;
		int64_t start;
		bool ok = createq_start_point(client, d->cfg->mongodb.database,
		    d->cfg->create.since_ms, clock_wall_ms(), &start, &err);

		if (ok && d->cfg->create.max_per_hour > 0) {
			int64_t *times = NULL, now = clock_wall_ms();
			size_t n = 0;

			/* A restart must not open a fresh hour for the ceiling. */
			ok = createq_recent(client, d->cfg->mongodb.database, now - 3600 * 1000,
			    (size_t)d->cfg->create.max_per_hour, &times, &n, &err);
			if (ok)
				creator_seed_window(d->creator, times, n, now);
			free(times);
		}
		store_push(d->store, client);
		if (ok) {
			timefmt_format_iso8601(start, false, when, sizeof(when));
			log_info("create: detections first seen since %s get a ticket in %s%s", when,
			    ticketspec_target_name(ticketspec_target(d->cfg->create.spec)),
			    d->cfg->create.since_ms > 0 ? " ([create] since)" : "");
			return start;
		}
		if (attempts == 1 || attempts % 10 == 0)
			log_warnx("create: cannot read the start point (retrying): %s", err.message);
		sleep(attempts < 5 ? 1 : 3);
	}
}

static extrahop_t *
make_extrahop(const config_t *cfg, const char *instance, struct event_base *base,
    bson_error_t *err)
{
	extrahop_opts_t o;

	/* The same mapping ticketsyncctl backfill --push uses. */
	pushrun_extrahop_opts(cfg, &o);
	o.instance = instance;
	return extrahop_new(base, &o, err);
}

static int
run(const config_t *cfg, bool print_ready)
{
	daemon_ctx_t d = { .cfg = cfg };
	bson_error_t err;
	int rc = 1;
	struct timeval gauge_tv = { GAUGE_REFRESH_MS / 1000, 0 };

	if (cfg->service.instance_id != NULL && cfg->service.instance_id[0] != '\0') {
		snprintf(d.instance, sizeof(d.instance), "%s", cfg->service.instance_id);
	} else {
		/* The host name: stable across restarts, so a restarted daemon takes its
		 * own lease back at once. Two daemons on one host need instance_id set. */
		char host[200] = "localhost";
		gethostname(host, sizeof(host) - 1);
		snprintf(d.instance, sizeof(d.instance), "%s", host);
	}
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	d.base = event_base_new();
	if (d.base == NULL) {
		log_errorx("cannot create the event loop");
		return 1;
	}
	d.store = store_new(cfg->mongodb.uri, cfg->mongodb.database, &err);
	if (d.store == NULL) {
		log_errorx("mongodb: %s", err.message);
		rc = EXIT_CONFIG;
		goto cleanup;
	}
	ensure_schema(&d);
	d.eh = make_extrahop(cfg, d.instance, d.base, &err);
	if (d.eh == NULL) {
		log_errorx("extrahop: %s", err.message);
		rc = EXIT_CONFIG;
		goto cleanup;
	}
	d.db = dbworker_start(store_pool(d.store), d.base, &err);
	if (d.db == NULL) {
		log_errorx("%s", err.message);
		goto cleanup;
	}
	/* The pusher's results get a worker of their own: recording a batch then
	 * overlaps claiming the next. The lease gets one too: a renewal never waits
	 * behind pushes (a late renewal can cost the lease), and claims never wait
	 * behind a renewal. */
	d.record_db = dbworker_start(store_pool(d.store), d.base, &err);
	if (d.record_db == NULL) {
		log_errorx("%s", err.message);
		goto cleanup;
	}
	d.lease_db = dbworker_start(store_pool(d.store), d.base, &err);
	if (d.lease_db == NULL) {
		log_errorx("%s", err.message);
		goto cleanup;
	}
	{
		pusher_opts_t po;
		dest_t dest = dest_extrahop(d.eh);

		pushrun_pusher_opts(cfg, d.instance, &po);
		d.pusher = pusher_new(d.base, d.db, d.record_db, &dest, &po, &err);
		if (d.pusher == NULL) {
			log_errorx("%s", err.message);
			goto cleanup;
		}
		pusher_set_gate(d.pusher, daemon_gate, &d);
	}
	if (cfg->sweep.enabled) {
		sweeper_opts_t so;

		d.sweep_db = dbworker_start(store_pool(d.store), d.base, &err);
		if (d.sweep_db == NULL) {
			log_errorx("%s", err.message);
			goto cleanup;
		}
		sweeper_opts_from_config(cfg, d.instance, &so);
		d.sweeper = sweeper_new(d.base, d.sweep_db, d.eh, &so, &err);
		if (d.sweeper == NULL) {
			log_errorx("%s", err.message);
			goto cleanup;
		}
	}
	d.rctx = (refresh_ctx_t){
		.database = cfg->mongodb.database,
		.map = cfg->statusmap.map,
		.instance = d.instance,
	};
	if (cfg->create.enabled) {
		d.creator = creator_new(d.base, d.db, d.record_db, cfg, d.instance, &err);
		if (d.creator == NULL) {
			log_errorx("create: %s", err.message);
			rc = EXIT_CONFIG;
			goto cleanup;
		}
		pusher_set_gate(creator_pusher(d.creator), daemon_gate, &d);
		d.rctx.create = cfg->create.spec;
		d.rctx.create_start_ms = create_start(&d);
		creator_start(d.creator);
	}
	d.wopts = (watcher_opts_t){
		.max_await_ms = (int)cfg->watch.max_await_ms,
		.retry_base_ms = (int)cfg->watch.retry_base_ms,
		.retry_max_ms = (int)cfg->watch.retry_max_ms,
		.rescan_batch = (size_t)cfg->watch.rescan_batch,
	};
	if (cfg->http.enabled) {
		d.httpd = httpd_start(d.base, cfg->http.listen, daemon_ready, &d, &err);
		if (d.httpd == NULL) {
			log_errorx("%s", err.message);
			rc = EXIT_CONFIG;
			goto cleanup;
		}
		d.webhooks = webhook_http_start(d.httpd, d.db, cfg, d.instance, &err);
		if (d.webhooks == NULL) {
			log_errorx("%s", err.message);
			goto cleanup;
		}
	}
	d.sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	d.sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	d.gauges = event_new(d.base, -1, EV_PERSIST, on_gauges, &d);
	d.watch_poll = event_new(d.base, -1, EV_PERSIST, on_watch_poll, &d);
	event_add(d.sigterm, NULL);
	event_add(d.sigint, NULL);
	event_add(d.gauges, &gauge_tv);
	{
		struct timeval poll_tv = { 0, 200000 };
		event_add(d.watch_poll, &poll_tv);
	}
	{
		leader_opts_t lo = {
			.database = cfg->mongodb.database,
			.instance = d.instance,
			.period_ms = cfg->lease.period_ms,
			.renew_ms = cfg->lease.renew_ms,
		};
		/* Watching and pushing start when this instance holds the lease. */
		d.leader = leader_start(d.base, d.lease_db, &lo, on_leader, &d, &err);
		if (d.leader == NULL) {
			log_errorx("%s", err.message);
			goto cleanup;
		}
	}
	log_info("started: instance %s, database %s, ExtraHop %s, push every %lld ms, "
	    "concurrency %lld%s%s", d.instance, cfg->mongodb.database, cfg->extrahop.url,
	    (long long)cfg->push.interval_ms, (long long)cfg->push.concurrency,
	    d.httpd ? ", http " : "", d.httpd ? cfg->http.listen : "");
	err = (bson_error_t){ 0 };
	d.notify = sdnotify_start(d.base, daemon_started, &d, &err);
	if (d.notify == NULL && err.code != 0) {
		log_errorx("%s", err.message);
		goto cleanup;
	}
	if (print_ready) {
		printf("READY http_port=%d pid=%ld\n", d.httpd ? httpd_port(d.httpd) : 0,
		    (long)getpid());
		fflush(stdout);
	}
	event_base_dispatch(d.base);
	rc = d.stopping ? 0 : 1;
	log_info("stopped");
cleanup:
	watcher_stop(d.watcher);
	watcher_stop(d.retiring);
	if (d.watch_poll)
		event_free(d.watch_poll);
	if (d.sigterm)
		event_free(d.sigterm);
	if (d.sigint)
		event_free(d.sigint);
	if (d.gauges)
		event_free(d.gauges);
	sdnotify_free(d.notify);
	/* Before the listener goes: waiting deliveries get no reply, their writes finish. */
	webhook_http_free(d.webhooks);
	/* Jobs still queued finish and hand back while their owners are alive. */
	dbworker_stop(d.db);
	dbworker_stop(d.record_db);
	sweeper_suspend(d.sweeper);
	if (d.sweep_db != NULL)
		dbworker_stop(d.sweep_db);
	dbworker_stop(d.lease_db);
	httpd_stop(d.httpd);
	/* PATCHes still in flight (a second signal) complete into the pusher while it
	 * exists, and nothing queued is sent any more. */
	if (d.pusher != NULL)
		pusher_suspend(d.pusher);
	pusher_free(d.pusher);
	creator_free(d.creator);
	leader_free(d.leader);
	/* After the client: a search it completes as cancelled reports into the sweeper. */
	extrahop_destroy(d.eh);
	sweeper_free(d.sweeper);
	store_destroy(d.store);
	event_base_free(d.base);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "print-ready", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	extern char **environ;
	const char *path = NULL;
	bool check_only = false, print_ready = false;
	config_t *cfg = NULL;
	bson_error_t err;
	int ch, rc;

	log_init("ticketsyncd", LOG_LEVEL_INFO);
	log_route_mongoc();
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'C': check_only = true; break;
		case 'R': print_ready = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ticketsyncd %s\n", TICKETSYNC_VERSION); return 0;
		default: usage(stderr); return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ticketsyncd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return EXIT_CONFIG;
	}
	if (config_load(&cfg, path, environ, &err) != 0 ||
	    config_require_extrahop(cfg, &err) != 0) {
		fprintf(stderr, "ticketsyncd: configuration error: %s\n", err.message);
		config_destroy(cfg);
		return EXIT_CONFIG;
	}
	log_set_level(cfg->log.level);
	for (size_t i = 0; i < cfg->nwarnings; i++)
		log_warnx("config: %s", cfg->warnings[i]);
	if (check_only) {
		printf("ticketsyncd: configuration OK%s%s\n", cfg->path ? ": " : "",
		    cfg->path ? cfg->path : "");
		config_destroy(cfg);
		return 0;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = run(cfg, print_ready);
	config_destroy(cfg);
	curl_global_cleanup();
	mongoc_cleanup();
	libevent_global_shutdown();
	return rc;
}
