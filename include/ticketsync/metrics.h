/*
 * metrics: process-wide counters, gauges and one latency histogram, updated from any
 * thread with atomics and rendered in Prometheus text format for /metrics.
 */
#ifndef TICKETSYNC_METRICS_H
#define TICKETSYNC_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

enum metrics_counter {
	METRICS_EVENTS_SEEN,        /* change events read */
	METRICS_RECONCILES,         /* detections reconciled */
	METRICS_QUEUED,             /* reconciles that queued a push */
	METRICS_UNMAPPED,           /* unmapped ticket status */
	METRICS_REJECTED_INPUT,     /* malformed detections/tickets */
	METRICS_RESCANS,            /* full rescans run */
	METRICS_STREAM_ERRORS,      /* change stream rebuilt after an error */
	METRICS_CHECKPOINTS,        /* resume tokens saved */
	METRICS_PUSH_OK,
	METRICS_PUSH_RETRY,
	METRICS_PUSH_PARKED,
	METRICS_PUSH_AUTH_ERROR,
	METRICS_DB_ERRORS,          /* failed state/audit writes (retried) */
	METRICS_CREATE_QUEUED,      /* detections queued for a ticket */
	METRICS_CREATE_OK,          /* ticket creation attempts by outcome */
	METRICS_CREATE_RETRY,
	METRICS_CREATE_PARKED,
	METRICS_CREATE_AUTH_ERROR,
	METRICS_CREATE_CEILING,     /* creations held back by [create] max_per_hour */
	METRICS_SWEEP_READ,         /* detections the sweep read from ExtraHop */
	METRICS_SWEEP_REPAIRED,     /* ... written into detections (missing or older) */
	METRICS_SWEEP_DRIFT,        /* ... whose ticket fields ExtraHop shows otherwise */
	METRICS_SWEEP_CORRECTED,    /* ... of those pushed again (on_drift = reassert) */
	METRICS_SWEEP_REJECTED,     /* unusable records in a search reply */
	METRICS_SWEEP_PAGES,        /* search requests answered */
	METRICS_COUNTER_COUNT
};

enum metrics_gauge {
	METRICS_PENDING,
	METRICS_PARKED,
	METRICS_IN_FLIGHT,
	METRICS_CHECKPOINT_SAVED_MS, /* epoch ms of the last checkpoint; age derived */
	METRICS_PUSH_BLOCKED,        /* 1 while pushes are stopped by an auth error */
	METRICS_LEADER,              /* 1 while this instance holds the lease */
	METRICS_CREATE_PENDING,      /* detections waiting for their ticket */
	METRICS_CREATE_PARKED_NOW,   /* ticket creations parked after a rejection */
	METRICS_CREATE_IN_FLIGHT,    /* ticket system requests in flight */
	METRICS_CREATE_BLOCKED,      /* 1 while creation is stopped by an auth error */
	METRICS_CREATE_READY,        /* 1 once the ticket system accepted our credentials */
	METRICS_CREATE_ENABLED,      /* 1 when [create] is on: the other create gauges mean something */
	METRICS_SWEEP_CURSOR_MS,     /* the sweep's cursor (a mod_time, epoch ms); lag derived */
	METRICS_EXTRAHOP_UP,         /* 0 after a request got no reply at all, 1 after any */
	METRICS_EXTRAHOP_LAST_SUCCESS, /* epoch s of the last acknowledged PATCH; 0 = none */
	METRICS_TICKETS_UP,          /* the same for the ticket system (creation) */
	METRICS_TICKETS_LAST_SUCCESS,
	METRICS_GAUGE_COUNT
};

/* Webhook deliveries, by source (the order of enum webhook_source) and outcome. */
enum metrics_webhook_source {
	METRICS_WEBHOOK_JIRA,
	METRICS_WEBHOOK_SERVICENOW,
	METRICS_WEBHOOK_GENERIC,
	METRICS_WEBHOOK_SOURCE_COUNT
};

enum metrics_webhook_outcome {
	METRICS_WEBHOOK_ACCEPTED,     /* stored (a new ticket or a newer state) */
	METRICS_WEBHOOK_STALE,        /* as old as or older than the stored ticket */
	METRICS_WEBHOOK_IGNORED,      /* nothing to store (other event, no ticket) */
	METRICS_WEBHOOK_REJECTED,     /* malformed, invalid or too large (400/413/422) */
	METRICS_WEBHOOK_UNAUTHORIZED, /* missing or wrong secret or signature (401) */
	METRICS_WEBHOOK_DISABLED,     /* the source has no secret configured (404) */
	METRICS_WEBHOOK_FAILED,       /* the database could not be written, or busy (503) */
	METRICS_WEBHOOK_OUTCOME_COUNT
};

void metrics_inc(enum metrics_counter c, uint64_t n);
void metrics_webhook_inc(enum metrics_webhook_source s, enum metrics_webhook_outcome o);
uint64_t metrics_get(enum metrics_counter c);
void metrics_set(enum metrics_gauge g, int64_t v);
int64_t metrics_gauge(enum metrics_gauge g);
/* PATCH round-trip time. */
void metrics_observe_push_ms(double ms);
/* Append the Prometheus exposition to buf; now_ms gives checkpoint age. */
void metrics_render(struct evbuffer *buf, int64_t now_ms);
/* Zero everything (tests). */
void metrics_reset(void);

#endif
