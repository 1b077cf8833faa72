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
	METRICS_COUNTER_COUNT
};

enum metrics_gauge {
	METRICS_PENDING,
	METRICS_PARKED,
	METRICS_IN_FLIGHT,
	METRICS_CHECKPOINT_SAVED_MS, /* epoch ms of the last checkpoint; age derived */
	METRICS_PUSH_BLOCKED,        /* 1 while pushes are stopped by an auth error */
	METRICS_LEADER,              /* 1 while this instance holds the lease */
	METRICS_GAUGE_COUNT
};

void metrics_inc(enum metrics_counter c, uint64_t n);
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
