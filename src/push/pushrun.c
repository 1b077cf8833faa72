/* pushrun: the push engine on a private loop until nothing is due; see pushrun.h. */
#include "ticketsync/pushrun.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "ticketsync/clock.h"
#include "ticketsync/dbworker.h"
#include "ticketsync/dest_extrahop.h"
#include "ticketsync/log.h"
#include "ticketsync/store.h"
#include "ticketsync/xalloc.h"

/* How often the loop looks at the pusher (and, when idle, asks the outbox). */
#define PUSHRUN_CHECK_MS 100
#define PUSHRUN_PROGRESS_MS 1000

typedef struct pushrun {
	const config_t *cfg;
	struct event_base *base;
	dbworker_t *db;
	extrahop_t *eh;
	pusher_t *pusher;
	struct event *check, *sigint, *sigterm;
	bool counting, draining, done_idle;
	int64_t start_ms, last_progress_ms;
	pushrun_progress_fn progress;
	void *progress_arg;
	pushrun_stats_t *out;
} pushrun_t;

typedef struct pushrun_count_job {
	dbjob_t base;
	pushrun_t *pr;
	outbox_counts_t counts;
	bool ok;
	bson_error_t err;
} pushrun_count_job_t;

void
pushrun_extrahop_opts(const config_t *cfg, extrahop_opts_t *out)
{
	*out = (extrahop_opts_t){
		.base_url = cfg->extrahop.url,
		.auth = cfg->extrahop.auth == CONFIG_AUTH_OAUTH ? EXTRAHOP_AUTH_OAUTH2
		                                               : EXTRAHOP_AUTH_APIKEY,
		.api_key = cfg->extrahop.api_key,
		.client_id = cfg->extrahop.oauth_client_id,
		.client_secret = cfg->extrahop.oauth_client_secret,
		.token_url = cfg->extrahop.oauth_token_url,
		.ca_file = cfg->extrahop.ca_file,
		.ca_path = cfg->extrahop.ca_path,
		.connect_timeout_ms = (long)cfg->extrahop.connect_timeout_ms,
		.request_timeout_ms = (long)cfg->extrahop.request_timeout_ms,
		.max_total_connections = (long)cfg->push.concurrency,
		.max_host_connections = (long)cfg->push.concurrency,
	};
}

void
pushrun_pusher_opts(const config_t *cfg, const char *owner, pusher_opts_t *out)
{
	*out = (pusher_opts_t){
		.database = cfg->mongodb.database,
		.collection = STORE_COLL_STATE,
		.owner = owner,
		.interval_ms = (int)cfg->push.interval_ms,
		.batch_size = (size_t)cfg->push.batch_size,
		.concurrency = (size_t)cfg->push.concurrency,
		.rate_limit = (double)cfg->push.rate_limit,
		.claim_timeout_ms = cfg->push.claim_timeout_ms,
		.retry_base_ms = cfg->push.retry_base_ms,
		.retry_max_ms = cfg->push.retry_max_ms,
		.auth_probe_ms = cfg->push.retry_max_ms < 30000 ? cfg->push.retry_max_ms : 30000,
		.recheck_ms = cfg->push.recheck_ms,
		.unreachable_warn_ms = cfg->push.unreachable_warn_ms,
	};
}

static void
pushrun_copy_stats(pushrun_t *pr)
{
	pusher_stats_t ps;

	pusher_get_stats(pr->pusher, &ps);
	pr->out->pushed = ps.pushed;
	pr->out->retried = ps.retried;
	pr->out->parked = ps.parked;
	pr->out->released = ps.released;
	pr->out->elapsed_ms = clock_mono_ms() - pr->start_ms;
}

static void
pushrun_on_drained(void *arg)
{
	pushrun_t *pr = arg;

	event_base_loopbreak(pr->base);
}

static void
pushrun_drain(pushrun_t *pr)
{
	if (pr->draining)
		return;
	pr->draining = true;
	event_del(pr->check);
	pusher_drain(pr->pusher, (int)pr->cfg->service.shutdown_timeout_ms, pushrun_on_drained, pr);
}

static void
pushrun_count_run(dbjob_t *base, mongoc_client_t *client)
{
	pushrun_count_job_t *job = (pushrun_count_job_t *)base;

	job->ok = outbox_view_counts(client, job->pr->cfg->mongodb.database, STORE_COLL_STATE,
	    clock_wall_ms(), &job->counts, &job->err);
}

static void
pushrun_count_done(dbjob_t *base)
{
	pushrun_count_job_t *job = (pushrun_count_job_t *)base;
	pushrun_t *pr = job->pr;

	pr->counting = false;
	if (!pr->draining) {
		if (!job->ok) {
			/* Transient (the pusher logs its own DB errors): ask again next check. */
			log_warnx("backfill: reading the outbox failed: %s", job->err.message);
		} else if (job->counts.due == 0 && pusher_idle(pr->pusher)) {
			pr->done_idle = true;
			pushrun_drain(pr);
		} else if (job->counts.due > 0) {
			pusher_kick(pr->pusher);
		}
	}
	free(job);
}

static void
pushrun_on_check(evutil_socket_t fd, short what, void *arg)
{
	pushrun_t *pr = arg;
	pusher_stats_t ps;
	int64_t now = clock_mono_ms();

	(void)fd;
	(void)what;
	pusher_get_stats(pr->pusher, &ps);
	if (ps.blocked) {
		pr->out->blocked = true;
		snprintf(pr->out->blocked_reason, sizeof(pr->out->blocked_reason), "%s",
		    ps.blocked_reason);
		pushrun_drain(pr);
		return;
	}
	if (pr->progress != NULL && now - pr->last_progress_ms >= PUSHRUN_PROGRESS_MS) {
		pr->last_progress_ms = now;
		pushrun_copy_stats(pr);
		pr->progress(pr->progress_arg, pr->out);
	}
	if (!pr->counting && pusher_idle(pr->pusher)) {
		pushrun_count_job_t *job = xcalloc(1, sizeof(*job));

		job->base.run = pushrun_count_run;
		job->base.done = pushrun_count_done;
		job->pr = pr;
		pr->counting = dbworker_submit(pr->db, &job->base);
		if (!pr->counting)
			free(job);
	}
}

static void
pushrun_on_signal(evutil_socket_t sig, short what, void *arg)
{
	pushrun_t *pr = arg;

	(void)what;
	if (pr->out->interrupted) {
		log_warnx("second signal: stopping now");
		event_base_loopbreak(pr->base);
		return;
	}
	pr->out->interrupted = true;
	log_info("%s received: finishing in-flight pushes, then stopping",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	pushrun_drain(pr);
}

bool
pushrun_until_idle(const config_t *cfg, struct store *store, const char *owner,
    pushrun_progress_fn progress, void *progress_arg, pushrun_stats_t *out, bson_error_t *err)
{
	pushrun_t pr = { .cfg = cfg, .progress = progress, .progress_arg = progress_arg,
		.out = out };
	struct timeval tv = { 0, PUSHRUN_CHECK_MS * 1000 };
	extrahop_opts_t eo;
	dest_t dest;
	pusher_opts_t po;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	out->left.oldest_pending_age_ms = -1;
	pr.start_ms = pr.last_progress_ms = clock_mono_ms();
	pr.base = event_base_new();
	if (pr.base == NULL) {
		bson_set_error(err, ERROR_DOMAIN, PUSHRUN_ERR_RESOURCE,
		    "cannot create an event loop");
		return false;
	}
	pushrun_extrahop_opts(cfg, &eo);
	eo.instance = owner; /* ExtraHop's logs tell ticketsyncctl's requests apart */
	pr.eh = extrahop_new(pr.base, &eo, err);
	if (pr.eh == NULL)
		goto cleanup;
	pr.db = dbworker_start(store_pool(store), pr.base, err);
	if (pr.db == NULL)
		goto cleanup;
	pushrun_pusher_opts(cfg, owner, &po);
	dest = dest_extrahop(pr.eh);
	pr.pusher = pusher_new(pr.base, pr.db, NULL, &dest, &po, err);
	if (pr.pusher == NULL)
		goto cleanup;
	pr.check = event_new(pr.base, -1, EV_PERSIST, pushrun_on_check, &pr);
	pr.sigint = evsignal_new(pr.base, SIGINT, pushrun_on_signal, &pr);
	pr.sigterm = evsignal_new(pr.base, SIGTERM, pushrun_on_signal, &pr);
	if (pr.check == NULL || pr.sigint == NULL || pr.sigterm == NULL) {
		bson_set_error(err, ERROR_DOMAIN, PUSHRUN_ERR_RESOURCE, "cannot create timers");
		goto cleanup;
	}
	event_add(pr.check, &tv);
	event_add(pr.sigint, NULL);
	event_add(pr.sigterm, NULL);
	pusher_start(pr.pusher);
	event_base_dispatch(pr.base);
	pushrun_copy_stats(&pr);
	if (out->blocked)
		bson_set_error(err, ERROR_DOMAIN, PUSHRUN_ERR_BLOCKED, "pushes stopped: %s",
		    out->blocked_reason);
	else if (out->interrupted)
		bson_set_error(err, ERROR_DOMAIN, PUSHRUN_ERR_INTERRUPTED, "interrupted");
	else
		ok = pr.done_idle;
cleanup:
	/* Jobs still queued finish (their done() needs the pusher) before it goes. */
	dbworker_stop(pr.db);
	extrahop_destroy(pr.eh);
	pusher_free(pr.pusher);
	if (pr.check != NULL)
		event_free(pr.check);
	if (pr.sigint != NULL)
		event_free(pr.sigint);
	if (pr.sigterm != NULL)
		event_free(pr.sigterm);
	event_base_free(pr.base);
	if (pr.pusher != NULL || pr.db != NULL) {
		/* What the run leaves behind, read after everything was recorded. */
		mongoc_client_t *client = store_pop(store);
		bson_error_t cerr;
		if (!outbox_view_counts(client, cfg->mongodb.database, STORE_COLL_STATE, clock_wall_ms(),
		        &out->left, &cerr))
			log_warnx("backfill: reading the outbox failed: %s", cerr.message);
		store_push(store, client);
	}
	return ok;
}
