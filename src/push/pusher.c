/* pusher: claim -> send through the destination -> record, on the libevent loop; see pusher.h. */
#include "ticketsync/pusher.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "ticketsync/audit.h"
#include "ticketsync/dbworker.h"
#include "ticketsync/clock.h"
#include "ticketsync/dest.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/outbox.h"
#include "ticketsync/ratelimit.h"
#include "ticketsync/text.h"
#include "ticketsync/store.h"
#include "ticketsync/xalloc.h"

/* Results are recorded in batches of at most this many, or after this long. */
#define PUSHER_RECORD_BATCH 256
#define PUSHER_RECORD_DELAY_MS 20
/* After a claim that found work but not a full batch, the next claim comes this soon
 * (or at the interval, if shorter) instead of at the next tick. */
#define PUSHER_FOLLOW_UP_MS 50
/* How often the loop looks at the count of pushes this process's watcher queued: new
 * work is claimed within this long instead of at the next tick. No database access. */
#define PUSHER_WATCH_MS 20
/* A DB write that fails is retried this many times before the claim is left to
 * expire (then another claim re-sends the same values: harmless). */
#define PUSHER_RECORD_TRIES 5

typedef struct pusher_req {
	struct pusher_req *next;
	pusher_t *p;
	outbox_item_t item;
	enum pushplan_outcome outcome;
	int http_status;
	int64_t next_attempt_ms;
	int64_t recheck_at_ms;      /* see outbox_result_t */
	bool auth_stop;             /* released because the destination refused our credentials */
	char result_key[PUSHPLAN_RESULT_MAX]; /* PUSHED: what the destination made */
	char result_ref[PUSHPLAN_RESULT_MAX];
	bson_t sent;                /* what the request carried, for the audit */
	char message[PUSHPLAN_MESSAGE_MAX];
} pusher_req_t;

struct pusher {
	struct event_base *base;
	dbworker_t *db;                 /* claims */
	dbworker_t *record_db;          /* results and audit records */
	dest_t dest;
	pusher_opts_t opts;
	pushplan_policy_t policy;       /* from opts: pushplan_outcome's rules */
	char *database, *collection, *owner;
	struct event *tick, *send_wait, *record_wait, *deadline;
	struct event *follow_up;        /* the next claim soon after one that found work */
	struct event *watch;            /* notices work queued by this process's watcher */
	uint64_t queued_mark;           /* METRICS_QUEUED when the last claim was asked for */
	ratelimit_t rl;
	pusher_req_t *q_head, *q_tail;  /* claimed, not yet sent */
	size_t queued, in_flight;
	pusher_req_t *done_head, *done_tail; /* finished, not yet recorded */
	size_t ndone, recording;        /* recording: complete jobs outstanding */
	bool claiming, want_claim;
	bool blocked, probing;
	int64_t probe_at_ms;
	bool started, draining, suspended;
	bool (*gate)(const void *);
	const void *gate_arg;
	int64_t fencing;
	void (*drained_cb)(void *);
	void *drained_arg;
	pusher_stats_t stats;
	pushplan_reach_t reach;         /* is the destination answering at all? */
	char reach_error[256];          /* the last unanswered request's error */
};

typedef struct pusher_claim_job {
	dbjob_t base;
	pusher_t *p;
	int64_t fencing;
	size_t limit;
	outbox_item_t *items;
	size_t n;
	bool ok;
	bson_error_t err;
} pusher_claim_job_t;

typedef struct pusher_record_job {
	dbjob_t base;
	pusher_t *p;
	pusher_req_t *reqs;
	size_t n;
	bool ok;
	bson_error_t err;
} pusher_record_job_t;

const pusher_report_t pusher_report_extrahop = {
	.pushed = AUDIT_PUSHED,
	.retry = AUDIT_RETRY,
	.parked = AUDIT_PARKED,
	.released = AUDIT_RELEASED,
	.auth_error = AUDIT_AUTH_ERROR,
	.queued = METRICS_QUEUED,
	.ok = METRICS_PUSH_OK,
	.retried = METRICS_PUSH_RETRY,
	.parked_total = METRICS_PUSH_PARKED,
	.auth_total = METRICS_PUSH_AUTH_ERROR,
	.in_flight = METRICS_IN_FLIGHT,
	.blocked = METRICS_PUSH_BLOCKED,
	.pending = METRICS_PENDING,
	.up = METRICS_EXTRAHOP_UP,
	.last_success = METRICS_EXTRAHOP_LAST_SUCCESS,
	.latency = true,
};

/* A refused credential is the operator's problem, not the detection's: it gets its
 * own event so it stands out in the audit trail. */
static const char *
pusher_audit_event(const pusher_report_t *rep, const pusher_req_t *r)
{
	if (r->auth_stop)
		return rep->auth_error;
	switch (r->outcome) {
	case PUSHPLAN_PUSHED: return rep->pushed;
	case PUSHPLAN_RETRIED: return rep->retry;
	case PUSHPLAN_PARKED: return rep->parked;
	case PUSHPLAN_RELEASED: return rep->released;
	}
	return rep->released;
}

static void pusher_pump(pusher_t *p);
static void pusher_flush(pusher_t *p);

static void
pusher_req_free(pusher_req_t *r)
{
	outbox_item_clear(&r->item);
	bson_destroy(&r->sent);
	free(r);
}

static bool
pusher_gate_open(const pusher_t *p)
{
	return p->gate == NULL || p->gate(p->gate_arg);
}

static void
pusher_arm(struct event *ev, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	event_add(ev, &tv);
}

static void
pusher_check_drained(pusher_t *p)
{
	void (*cb)(void *);

	if (!p->draining || p->drained_cb == NULL || !pusher_idle(p))
		return;
	cb = p->drained_cb;
	p->drained_cb = NULL;
	if (p->deadline != NULL)
		event_del(p->deadline);
	cb(p->drained_arg);
}

/* ---- recording results (DB worker) ---- */

static void
pusher_record_run(dbjob_t *base, mongoc_client_t *client)
{
	pusher_record_job_t *job = (pusher_record_job_t *)base;
	const pusher_opts_t *o = &job->p->opts;
	outbox_result_t *results = xcalloc(job->n, sizeof(*results));
	audit_record_t *recs = xcalloc(job->n, sizeof(*recs));
	size_t i = 0;
	int64_t now = clock_wall_ms();

	for (pusher_req_t *r = job->reqs; r != NULL; r = r->next, i++) {
		results[i] = (outbox_result_t){
			.id = r->item.id,
			.version = r->item.version,
			.claim_id = r->item.claim_id,
			.outcome = r->outcome,
			.sent = r->item.desired,
			.next_attempt_ms = r->next_attempt_ms,
			.http_status = r->http_status,
			.message = r->message[0] ? r->message : NULL,
			.recheck_at_ms = r->recheck_at_ms,
			.result_key = r->result_key,
			.result_ref = r->result_ref,
		};
		recs[i] = (audit_record_t){ 0 };
		recs[i].event = pusher_audit_event(o->report, r);
		recs[i].detection_id = r->item.id;
		recs[i].has_detection_id = true;
		recs[i].ticket_id = r->result_key[0] ? r->result_key
		    : r->item.ticket_id[0] ? r->item.ticket_id : NULL;
		recs[i].version = r->item.version;
		recs[i].attempt = r->item.attempts + 1;
		recs[i].http_status = r->http_status;
		recs[i].fields = &r->sent;
		recs[i].message = r->message[0] ? r->message : NULL;
		recs[i].instance = o->owner;
	}
	for (int t = 0; t < PUSHER_RECORD_TRIES; t++) {
		job->ok = (o->before_complete == NULL ||
		              o->before_complete(client, o->database, results, job->n,
		                  o->before_complete_arg, &job->err)) &&
		    outbox_complete(client, o->database, o->collection, results, job->n, now,
		        NULL, &job->err);
		if (job->ok)
			break;
		metrics_inc(METRICS_DB_ERRORS, 1);
		log_warnx("pusher: recording %zu result(s) failed (try %d): %s", job->n, t + 1,
		    job->err.message);
		struct timespec ts = { 0, (long)(100000000L << t) % 1000000000L };
		nanosleep(&ts, NULL);
	}
	/* The audit trail follows the state: a failed audit write is logged, retried
	 * once, and never blocks the state from moving on. */
	if (!audit_append_many(client, o->database, recs, job->n, &job->err) &&
	    !audit_append_many(client, o->database, recs, job->n, &job->err)) {
		metrics_inc(METRICS_DB_ERRORS, 1);
		log_warnx("pusher: audit write failed for %zu record(s): %s", job->n,
		    job->err.message);
	}
	free(results);
	free(recs);
}

static void
pusher_record_done(dbjob_t *base)
{
	pusher_record_job_t *job = (pusher_record_job_t *)base;
	pusher_t *p = job->p;

	if (!job->ok)
		log_errorx("pusher: could not record %zu result(s): %s; their claims will "
		    "expire and they will be sent again", job->n, job->err.message);
	while (job->reqs != NULL) {
		pusher_req_t *next = job->reqs->next;
		pusher_req_free(job->reqs);
		job->reqs = next;
	}
	free(job);
	p->recording--;
	pusher_pump(p);
	pusher_check_drained(p);
}

static void
pusher_flush(pusher_t *p)
{
	pusher_record_job_t *job;

	if (p->ndone == 0)
		return;
	event_del(p->record_wait);
	job = xcalloc(1, sizeof(*job));
	job->base.run = pusher_record_run;
	job->base.done = pusher_record_done;
	job->p = p;
	job->reqs = p->done_head;
	job->n = p->ndone;
	p->done_head = p->done_tail = NULL;
	p->ndone = 0;
	p->recording++;
	if (!dbworker_submit(p->record_db, &job->base)) {
		log_errorx("pusher: DB worker stopped; %zu result(s) not recorded", job->n);
		job->ok = true;
		pusher_record_done(&job->base);
	}
}

static void
pusher_on_record_wait(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pusher_flush(arg);
}

static void
pusher_finish(pusher_t *p, pusher_req_t *r)
{
	r->next = NULL;
	if (p->done_tail != NULL)
		p->done_tail->next = r;
	else
		p->done_head = r;
	p->done_tail = r;
	p->ndone++;
	switch (r->outcome) {
	case PUSHPLAN_PUSHED: p->stats.pushed++; break;
	case PUSHPLAN_RETRIED: p->stats.retried++; break;
	case PUSHPLAN_PARKED: p->stats.parked++; break;
	case PUSHPLAN_RELEASED: p->stats.released++; break;
	}
	if (p->ndone >= PUSHER_RECORD_BATCH || (p->in_flight == 0 && p->queued == 0))
		pusher_flush(p);
	else if (!evtimer_pending(p->record_wait, NULL))
		pusher_arm(p->record_wait, PUSHER_RECORD_DELAY_MS);
}

static void
pusher_release(pusher_t *p, pusher_req_t *r, const char *why)
{
	r->outcome = PUSHPLAN_RELEASED;
	r->next_attempt_ms = clock_wall_ms();
	snprintf(r->message, sizeof(r->message), "%s", why);
	pusher_finish(p, r);
}

static void
pusher_release_queued(pusher_t *p, const char *why)
{
	while (p->q_head != NULL) {
		pusher_req_t *r = p->q_head;
		p->q_head = r->next;
		p->queued--;
		pusher_release(p, r, why);
	}
	p->q_tail = NULL;
}

/* ---- sending (loop) ---- */

/* Log an outage once it lasts, and its end; keep the up gauge and the last error. */
static void
pusher_note_reach(pusher_t *p, const pushplan_reply_t *res)
{
	const char *dest = p->dest.ops->display_name;
	int64_t now = clock_mono_ms(), since = p->reach.down_since_ms;
	enum pushplan_reach_evidence ev = pushplan_reach_evidence(res->http_status, res->curl_code);
	bool replied = ev == PUSHPLAN_REACH_YES;

	if (ev == PUSHPLAN_REACH_UNKNOWN)
		return; /* held back, decided without a request, cancelled: says nothing */
	if (!replied)
		snprintf(p->reach_error, sizeof(p->reach_error), "%s",
		    res->message[0] ? res->message : "no reply");
	metrics_set(p->opts.report->up, replied ? 1 : 0);
	switch (pushplan_reach_note(&p->reach, replied, now, p->opts.unreachable_warn_ms)) {
	case PUSHPLAN_REACH_WARN:
		log_warnx("pusher: %s unreachable for %lld s (%s); %lld change(s) pending, "
		    "nothing is lost: they go out once it answers", dest,
		    (long long)((now - p->reach.down_since_ms) / 1000), p->reach_error,
		    (long long)metrics_gauge(p->opts.report->pending));
		break;
	case PUSHPLAN_REACH_RECOVERED:
		log_info("pusher: %s answers again after %lld s unreachable", dest,
		    (long long)((now - since) / 1000));
		break;
	case PUSHPLAN_REACH_QUIET: break;
	}
}

static void
pusher_on_reply(const pushplan_reply_t *res, void *arg)
{
	pusher_req_t *r = arg;
	pusher_t *p = r->p;
	const char *dest = p->dest.ops->display_name;
	pushplan_attempt_t attempt = {
		.attempts = r->item.attempts,
		.recheck_at_ms = r->item.recheck_at_ms,
		.reclaimed_until_ms = r->item.reclaimed_until_ms,
		.now_ms = clock_wall_ms(),
		.rnd = (uint32_t)random(),
	};
	pushplan_verdict_t v;

	p->in_flight--;
	metrics_set(p->opts.report->in_flight, (int64_t)p->in_flight);
	r->http_status = (int)res->http_status;
	snprintf(r->message, sizeof(r->message), "%s", res->message);
	if (res->outcome == PUSHPLAN_OK) {
		bson_strncpy(r->result_key, res->result_key, sizeof(r->result_key));
		bson_strncpy(r->result_ref, res->result_ref, sizeof(r->result_ref));
	}
	if (res->http_status > 0 && p->opts.report->latency)
		metrics_observe_push_ms((double)res->elapsed_ms);
	pushplan_outcome(&p->policy, res, &attempt, &v);
	if (!v.cancelled)
		pusher_note_reach(p, res);
	r->outcome = v.outcome;
	r->next_attempt_ms = v.next_attempt_ms;
	r->recheck_at_ms = v.recheck_at_ms;
	r->auth_stop = v.stop;
	if (v.cancelled) {
		/* Not this detection's failure: it goes out again as it is. */
		if (res->message[0] == '\0' || strcmp(res->message, "cancelled") == 0)
			snprintf(r->message, sizeof(r->message), "%s",
			    "request cancelled (shutdown, or no longer the active instance)");
		pusher_finish(p, r);
	} else if (v.stop) {
		metrics_inc(p->opts.report->auth_total, 1);
		if (!p->blocked)
			log_errorx("pusher: %s refused our credentials (HTTP %ld%s%s): pushes are "
			    "stopped and every change stays pending; %s; probing every %lld ms", dest,
			    res->http_status, r->message[0] ? ": " : "", r->message,
			    p->dest.ops->auth_hint, (long long)p->opts.auth_probe_ms);
		p->blocked = true;
		snprintf(p->stats.blocked_reason, sizeof(p->stats.blocked_reason),
		    "%s answered HTTP %ld: check the API credentials", dest, res->http_status);
		p->probe_at_ms = clock_mono_ms() + p->opts.auth_probe_ms;
		metrics_set(p->opts.report->blocked, 1);
		snprintf(r->message, sizeof(r->message), "credentials refused by %s", dest);
		pusher_finish(p, r);
		pusher_release_queued(p, "pushes stopped: credentials refused");
	} else {
		switch (v.outcome) {
		case PUSHPLAN_PUSHED:
			p->stats.last_push_ms = attempt.now_ms;
			metrics_set(p->opts.report->last_success, attempt.now_ms / 1000);
			metrics_inc(p->opts.report->ok, 1);
			if (p->blocked) {
				log_info("pusher: %s accepts our credentials again; pushing resumes", dest);
				p->blocked = false;
				p->want_claim = true;
				metrics_set(p->opts.report->blocked, 0);
			}
			break;
		case PUSHPLAN_RETRIED:
			if (v.recheck_at_ms > 0)
				log_info("pusher: detection %lld: ambiguous attempt (%s); its value is "
				    "pushed again in full in %lld ms", (long long)r->item.id,
				    r->message[0] ? r->message : "no reply",
				    (long long)p->policy.recheck_ms);
			metrics_inc(p->opts.report->retried, 1);
			break;
		case PUSHPLAN_PARKED:
			if (r->message[0] == '\0')
				snprintf(r->message, sizeof(r->message), "HTTP %ld", res->http_status);
			metrics_inc(p->opts.report->parked_total, 1);
			log_event(LOG_LEVEL_WARN,
			    &(log_fields_t){ .detection = r->item.id, .http_status = res->http_status },
			    "pusher: detection %lld parked by %s: HTTP %ld %s", (long long)r->item.id,
			    dest, res->http_status, r->message);
			break;
		case PUSHPLAN_RELEASED:
			break;
		}
		pusher_finish(p, r);
	}
	pusher_pump(p);
	pusher_check_drained(p);
}

static void
pusher_send(pusher_t *p, pusher_req_t *r)
{
	bson_error_t err;

	p->in_flight++;
	metrics_set(p->opts.report->in_flight, (int64_t)p->in_flight);
	if (p->dest.ops->send(p->dest.impl, &r->item, pusher_on_reply, r, &err) != 0) {
		p->in_flight--;
		log_event(LOG_LEVEL_WARN, &(log_fields_t){ .detection = r->item.id },
		    "pusher: cannot send detection %lld: %s", (long long)r->item.id, err.message);
		pusher_release(p, r, "request refused by the HTTP client");
	}
}

static void
pusher_claim_run(dbjob_t *base, mongoc_client_t *client)
{
	pusher_claim_job_t *job = (pusher_claim_job_t *)base;
	const pusher_opts_t *o = &job->p->opts;

	/* Last check before taking work: the lease may have run out since the loop asked. */
	if (!pusher_gate_open(job->p)) {
		job->ok = true;
		job->n = 0;
		return;
	}
	outbox_set_writer_fencing(job->fencing);
	job->ok = outbox_claim(client, o->database, o->collection, clock_wall_ms(), job->limit,
	    o->owner, o->claim_timeout_ms, job->items, &job->n, &job->err);
}

static void
pusher_claim_done(dbjob_t *base)
{
	pusher_claim_job_t *job = (pusher_claim_job_t *)base;
	pusher_t *p = job->p;

	p->claiming = false;
	if (!job->ok) {
		p->probing = false;
		metrics_inc(METRICS_DB_ERRORS, 1);
		log_warnx("pusher: claiming due detections failed: %s", job->err.message);
		p->want_claim = false; /* next tick tries again */
	} else {
		p->want_claim = job->n == job->limit && !p->probing;
		/* Changes come in bursts: a claim that found some work but not a full batch
		 * is likely followed by more soon, so look again after a short pause rather
		 * than a whole interval. An empty claim waits for the tick. */
		if (!p->want_claim && !p->probing && job->n > 0 &&
		    !evtimer_pending(p->follow_up, NULL))
			pusher_arm(p->follow_up, p->opts.interval_ms < PUSHER_FOLLOW_UP_MS
			        ? p->opts.interval_ms : PUSHER_FOLLOW_UP_MS);
		for (size_t i = 0; i < job->n; i++) {
			pusher_req_t *r = xcalloc(1, sizeof(*r));
			bson_error_t err;

			r->p = p;
			r->item = job->items[i]; /* the request owns the item's values now */
			bson_init(&r->sent);
			if (!p->dest.ops->describe(&r->item, &r->sent, &err)) {
				/* Its value cannot be sent, now or later: park it with the reason, for
				 * an operator (a new value unparks it). */
				log_event(LOG_LEVEL_WARN, &(log_fields_t){ .detection = r->item.id },
				    "pusher: detection %lld parked: %s", (long long)r->item.id,
				    err.message);
				r->outcome = PUSHPLAN_PARKED;
				text_sanitize(r->message, sizeof(r->message), err.message, TEXT_STRLEN,
				    0, TEXT_ELLIPSIS);
				metrics_inc(p->opts.report->parked_total, 1);
				pusher_finish(p, r);
				continue;
			}
			if (p->draining) {
				pusher_release(p, r, "shutting down");
				continue;
			}
			if (p->q_tail != NULL)
				p->q_tail->next = r;
			else
				p->q_head = r;
			p->q_tail = r;
			p->queued++;
		}
		/* A probe that left nothing to send (none due, or the one claimed was parked
		 * or released here): probe again at the next interval, not never. */
		if (p->probing && p->queued == 0)
			p->probing = false;
	}
	free(job->items);
	free(job);
	pusher_pump(p);
	pusher_check_drained(p);
}

static void
pusher_claim(pusher_t *p, size_t limit)
{
	pusher_claim_job_t *job = xcalloc(1, sizeof(*job));

	job->items = xcalloc(limit, sizeof(outbox_item_t));
	job->base.run = pusher_claim_run;
	job->base.done = pusher_claim_done;
	job->p = p;
	job->fencing = p->fencing;
	job->limit = limit;
	p->claiming = true;
	/* Whatever was queued before this point, this claim can see. */
	p->queued_mark = metrics_get(p->opts.report->queued);
	if (!dbworker_submit(p->db, &job->base)) {
		p->claiming = false;
		free(job->items);
		free(job);
	}
}

static void
pusher_on_send_wait(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pusher_pump(arg);
}

static void
pusher_pump(pusher_t *p)
{
	int64_t now = clock_mono_ms();

	if (p->suspended)
		return;
	if (!pusher_gate_open(p)) {
		/* The lease ran out before the loop heard of it: stop right here. */
		pusher_suspend(p);
		return;
	}

	if (p->blocked && !p->probing && !p->draining) {
		/* Blocked: leave everything pending except one probe now and then. */
		if (now >= p->probe_at_ms && !p->claiming && p->in_flight == 0 && p->queued == 0) {
			p->probing = true;
			p->probe_at_ms = now + p->opts.auth_probe_ms;
			pusher_claim(p, 1);
		}
		return;
	}
	while (p->q_head != NULL && p->in_flight < p->opts.concurrency) {
		pusher_req_t *r;

		if (!ratelimit_take(&p->rl, now)) {
			if (!evtimer_pending(p->send_wait, NULL))
				pusher_arm(p->send_wait, ratelimit_wait_ms(&p->rl, now) + 1);
			break;
		}
		r = p->q_head;
		p->q_head = r->next;
		if (p->q_head == NULL)
			p->q_tail = NULL;
		p->queued--;
		r->next = NULL;
		if (p->probing)
			p->probing = false; /* the probe is this request */
		pusher_send(p, r);
	}
	if (p->want_claim && !p->claiming && !p->draining && !p->blocked &&
	    p->queued < p->opts.batch_size)
		pusher_claim(p, p->opts.batch_size);
}

static void
pusher_on_tick(evutil_socket_t fd, short what, void *arg)
{
	pusher_t *p = arg;

	(void)fd;
	(void)what;
	p->want_claim = true;
	pusher_pump(p);
}

/*
 * The watcher (another thread) counts every push it queues (METRICS_QUEUED, an atomic).
 * When that count moved past what the last claim could see, claim now rather than at
 * the next tick: a change reaches ExtraHop in tens of milliseconds, and an idle outbox
 * costs no query. Work queued by another process still waits for the tick.
 */
static void
pusher_on_watch(evutil_socket_t fd, short what, void *arg)
{
	pusher_t *p = arg;

	(void)fd;
	(void)what;
	if (p->claiming || metrics_get(p->opts.report->queued) == p->queued_mark)
		return;
	p->want_claim = true;
	pusher_pump(p);
}

pusher_t *
pusher_new(struct event_base *base, struct dbworker *db, struct dbworker *record_db,
    const dest_t *dest, const pusher_opts_t *opts, bson_error_t *err)
{
	pusher_t *p = xcalloc(1, sizeof(*p));

	p->base = base;
	p->db = db;
	p->record_db = record_db != NULL ? record_db : db;
	p->dest = *dest;
	p->opts = *opts;
	p->database = bson_strdup(opts->database);
	p->collection = bson_strdup(opts->collection);
	p->owner = bson_strdup(opts->owner ? opts->owner : "ticketsync");
	p->opts.database = p->database;
	p->opts.collection = p->collection;
	p->opts.owner = p->owner;
	if (p->opts.report == NULL)
		p->opts.report = &pusher_report_extrahop;
	if (p->opts.unreachable_warn_ms <= 0)
		p->opts.unreachable_warn_ms = 30000;
	/* Up until a request proves otherwise. */
	metrics_set(p->opts.report->up, 1);
	if (p->opts.batch_size == 0 || p->opts.batch_size > OUTBOX_CLAIM_MAX)
		p->opts.batch_size = p->opts.batch_size ? OUTBOX_CLAIM_MAX : 200;
	if (p->opts.concurrency == 0)
		p->opts.concurrency = 16;
	if (p->opts.interval_ms <= 0)
		p->opts.interval_ms = 1000;
	if (p->opts.auth_probe_ms <= 0)
		p->opts.auth_probe_ms = 30000;
	p->policy = (pushplan_policy_t){
		.retry_base_ms = p->opts.retry_base_ms,
		.retry_max_ms = p->opts.retry_max_ms,
		.recheck_ms = p->opts.recheck_ms,
		.settle_on_ack = p->opts.settle_on_ack,
	};
	ratelimit_init(&p->rl, p->opts.rate_limit,
	    p->opts.rate_limit > 0 ? (uint32_t)p->opts.concurrency : 0);
	p->tick = event_new(base, -1, EV_PERSIST, pusher_on_tick, p);
	p->send_wait = evtimer_new(base, pusher_on_send_wait, p);
	p->record_wait = evtimer_new(base, pusher_on_record_wait, p);
	p->follow_up = evtimer_new(base, pusher_on_tick, p);
	p->watch = event_new(base, -1, EV_PERSIST, pusher_on_watch, p);
	if (p->tick == NULL || p->send_wait == NULL || p->record_wait == NULL ||
	    p->follow_up == NULL || p->watch == NULL) {
		bson_set_error(err, ERROR_DOMAIN, PUSHER_ERR_RESOURCE,
		    "pusher: cannot create timers");
		pusher_free(p);
		return NULL;
	}
	return p;
}

void
pusher_start(pusher_t *p)
{
	p->started = true;
	p->want_claim = true;
	pusher_arm(p->tick, p->opts.interval_ms);
	if (p->opts.interval_ms > PUSHER_WATCH_MS)
		pusher_arm(p->watch, PUSHER_WATCH_MS);
	pusher_pump(p);
}

void
pusher_set_fencing(pusher_t *p, int64_t fencing)
{
	p->fencing = fencing;
}

void
pusher_set_gate(pusher_t *p, bool (*gate)(const void *arg), const void *arg)
{
	p->gate = gate;
	p->gate_arg = arg;
	p->dest.ops->set_gate(p->dest.impl, gate, arg);
}

void
pusher_suspend(pusher_t *p)
{
	if (p->suspended)
		return;
	p->suspended = true;
	p->want_claim = false;
	pusher_release_queued(p, "not the active instance any more");
	/* Completes every request synchronously as cancelled: released. */
	if (p->in_flight > 0)
		p->dest.ops->cancel_all(p->dest.impl);
	pusher_flush(p);
}

void
pusher_resume(pusher_t *p)
{
	p->suspended = false;
	if (!p->started) {
		pusher_start(p);
		return;
	}
	p->want_claim = true;
	pusher_pump(p);
}

void
pusher_kick(pusher_t *p)
{
	p->want_claim = true;
	pusher_pump(p);
}

static void
pusher_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	pusher_t *p = arg;

	(void)fd;
	(void)what;
	if (p->in_flight > 0) {
		log_warnx("pusher: shutdown deadline reached; cancelling %zu request(s) (they "
		    "stay pending and go out after the restart)", p->in_flight);
		p->dest.ops->cancel_all(p->dest.impl);
	}
}

void
pusher_drain(pusher_t *p, int deadline_ms, void (*done)(void *), void *arg)
{
	p->draining = true;
	p->drained_cb = done;
	p->drained_arg = arg;
	event_del(p->tick);
	event_del(p->follow_up);
	event_del(p->watch);
	event_del(p->send_wait);
	pusher_release_queued(p, "shutting down");
	pusher_flush(p);
	if (p->in_flight > 0) {
		p->deadline = evtimer_new(p->base, pusher_on_deadline, p);
		if (p->deadline != NULL)
			pusher_arm(p->deadline, deadline_ms > 0 ? deadline_ms : 0);
	}
	pusher_check_drained(p);
}

bool
pusher_idle(const pusher_t *p)
{
	return p->queued == 0 && p->in_flight == 0 && p->ndone == 0 && p->recording == 0 &&
	    !p->claiming;
}

void
pusher_get_stats(const pusher_t *p, pusher_stats_t *out)
{
	*out = p->stats;
	out->blocked = p->blocked;
	if (pushplan_reach_down_for(&p->reach, clock_mono_ms(), p->opts.unreachable_warn_ms)) {
		out->unreachable_ms = clock_mono_ms() - p->reach.down_since_ms;
		snprintf(out->unreachable_reason, sizeof(out->unreachable_reason), "%s",
		    p->reach_error);
	}
	out->in_flight = p->in_flight;
	out->queued = p->queued;
}

void
pusher_free(pusher_t *p)
{
	if (p == NULL)
		return;
	if (p->tick != NULL)
		event_free(p->tick);
	if (p->send_wait != NULL)
		event_free(p->send_wait);
	if (p->record_wait != NULL)
		event_free(p->record_wait);
	if (p->follow_up != NULL)
		event_free(p->follow_up);
	if (p->watch != NULL)
		event_free(p->watch);
	if (p->deadline != NULL)
		event_free(p->deadline);
	while (p->q_head != NULL) {
		pusher_req_t *n = p->q_head->next;
		pusher_req_free(p->q_head);
		p->q_head = n;
	}
	while (p->done_head != NULL) {
		pusher_req_t *n = p->done_head->next;
		pusher_req_free(p->done_head);
		p->done_head = n;
	}
	bson_free(p->database);
	bson_free(p->collection);
	bson_free(p->owner);
	free(p);
}
