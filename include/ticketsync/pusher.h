/*
 * pusher: where data leaves; the push engine's loop half, one per destination. On the
 * libevent loop, a timer asks the DB worker for a batch of due items (outbox_claim),
 * sends them through the destination (dest.h; ExtraHop's PATCH is dest_extrahop)
 * with a concurrency and a requests-per-second ceiling, asks pushplan_outcome what
 * each reply means, and hands every result back to the DB worker (outbox_complete +
 * audit) in batches.
 *
 * A full claim is followed by the next one at once, so a backlog drains at full
 * speed; an empty one waits for the next tick. 401/403 stop pushing (everything stays
 * pending) until a probe, one request every probe interval, succeeds again.
 */
#ifndef TICKETSYNC_PUSHER_H
#define TICKETSYNC_PUSHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "ticketsync/error.h"

#include <mongoc/mongoc.h>

#include "ticketsync/metrics.h"
#include "ticketsync/outbox.h"

struct event_base;
struct dbworker;
struct dest;
typedef struct pusher pusher_t;

/* Where one pusher's results show: audit event names and metric slots. */
typedef struct pusher_report {
	const char *pushed, *retry, *parked, *released, *auth_error; /* audit events */
	enum metrics_counter queued; /* what producers in this process count as queued */
	enum metrics_counter ok, retried, parked_total, auth_total;
	enum metrics_gauge in_flight, blocked;
	enum metrics_gauge pending;  /* read for the unreachable warning */
	enum metrics_gauge up, last_success;
	bool latency;                /* observe the push latency histogram */
} pusher_report_t;

/* ExtraHop's PATCHes ("pushed", "retry", ... and ticketsync_pushes_total). */
extern const pusher_report_t pusher_report_extrahop;

/* Runs on the record DB worker with every batch of results, before outbox_complete
 * records them; false (err set) leaves the batch unrecorded: the claims expire and
 * the items are claimed again. For a destination whose acknowledgements must land
 * elsewhere first (a created ticket goes into `tickets`). */
typedef bool (*pusher_before_complete_fn)(mongoc_client_t *client, const char *db,
    const outbox_result_t *results, size_t n, void *arg, bson_error_t *err);

typedef struct pusher_opts {
	const char *database;
	const char *collection;   /* the destination's state collection (outbox) */
	const char *owner;        /* instance id: claimed_by, audit */
	int interval_ms;          /* timer period */
	size_t batch_size;        /* detections per claim */
	size_t concurrency;       /* requests in flight at most */
	double rate_limit;        /* requests per second, 0 = none */
	int64_t claim_timeout_ms;
	int64_t retry_base_ms;
	int64_t retry_max_ms;
	int64_t auth_probe_ms;    /* while blocked by 401/403: one probe this often */
	int64_t recheck_ms;       /* after an ambiguous attempt: full re-push this much later */
	int64_t unreachable_warn_ms; /* no HTTP reply for this long: warn (again each period),
	                              * and /readyz says so */
	bool settle_on_ack;       /* pushplan_policy_t.settle_on_ack */
	const pusher_report_t *report;  /* NULL: pusher_report_extrahop */
	pusher_before_complete_fn before_complete; /* NULL: none */
	void *before_complete_arg;
} pusher_opts_t;

typedef struct pusher_stats {
	bool blocked;             /* stopped by an auth error */
	char blocked_reason[256];
	size_t in_flight;
	size_t queued;            /* claimed, not yet sent */
	int64_t last_push_ms;     /* wall clock of the last acknowledged request; 0 = never */
	int64_t unreachable_ms;   /* no HTTP reply for at least unreachable_warn_ms: for how
	                           * long; else 0 */
	char unreachable_reason[256]; /* the last request's error then */
	uint64_t pushed, retried, parked, released;
} pusher_stats_t;

/* Codes of pusher_new's errors (domain ERROR_DOMAIN). */
enum pusher_error {
	PUSHER_ERR_RESOURCE = ERROR_BASE_PUSHER, /* its timers cannot be created */
};

/* Claims run on db; results are recorded on record_db (NULL: db as well). With a
 * worker of their own, recording one batch overlaps claiming the next. */
pusher_t *pusher_new(struct event_base *base, struct dbworker *db,
    struct dbworker *record_db, const struct dest *dest, const pusher_opts_t *opts,
    bson_error_t *err);
void pusher_start(pusher_t *p);
/* Ask for a claim now instead of at the next tick (e.g. after a backfill). */
void pusher_kick(pusher_t *p);
/*
 * Stop claiming; give back claimed-but-unsent detections; let in-flight requests
 * finish until deadline_ms (from now), then cancel them (released, not failed);
 * record every result; then call done(arg) on the loop.
 */
void pusher_drain(pusher_t *p, int deadline_ms, void (*done)(void *), void *arg);
/*
 * Push only while gate(arg) says so (this instance holds the lease). Checked before
 * every claim and every request, on the DB thread right before claiming, and by the
 * destination right before a request goes on the wire (dest_ops_t.set_gate); must be
 * thread-safe. NULL: always open.
 */
void pusher_set_gate(pusher_t *p, bool (*gate)(const void *arg), const void *arg);
/* The lease's fencing token claims carry (0: none, e.g. ticketsyncctl). */
void pusher_set_fencing(pusher_t *p, int64_t fencing);
/* Stop pushing at once (the lease is lost): no more claims, claimed-but-unsent
 * detections are given back, in-flight requests are cancelled (released, not failed). */
void pusher_suspend(pusher_t *p);
/* Push again after pusher_suspend (or for the first time after pusher_new). */
void pusher_resume(pusher_t *p);
/* Nothing queued, in flight, claimed or being recorded. */
bool pusher_idle(const pusher_t *p);
void pusher_get_stats(const pusher_t *p, pusher_stats_t *out);
void pusher_free(pusher_t *p);

#endif
