/*
 * bench_create: ticket creation in ticketsync-bench. Against the fake Jira Cloud
 * (tests/fake-tickets), with the real ticketsyncd:
 *
 *   rate limit  N qualifying detections written at once while Jira allows
 *               o.create_rate writes per second (429 + Retry-After beyond) and [create]
 *               rate_limit is the same: the time until all N are created, against the
 *               ideal N / rate; meanwhile ticket changes of other, already ticketed
 *               detections at a steady rate (bench_steady_run), and the same before
 *               the creations as the baseline: ExtraHop pushes must not wait behind them
 *   faults      M detections while 10 % of creates are committed and then the
 *               connection dropped, 10 % answered 503, and Jira's search lags
 *
 * Every run checks exactly one ticket per detection: in the fake Jira (its label
 * extrahop-detection-<id>), in `tickets` (source "ticketsync"), and at ExtraHop (the
 * ticket's key PATCHed onto the detection); none missing, no duplicate (exit 1).
 */
#ifndef TICKETSYNC_BENCH_CREATE_H
#define TICKETSYNC_BENCH_CREATE_H

#include "bench.h"

typedef struct bench_create_result {
	bool ran, ok;
	long n;
	int rate;
	double write_s;                 /* inserting the N detections */
	double queue_s;                 /* first write -> all N in ticketsync_create_state */
	long queued;
	double total_s;                 /* first write -> all N created and recorded synced */
	double ideal_s;                 /* N / rate */
	int64_t creates, duplicates, rate_limited, attempts, retries, lookups;
	long missing_jira, dup_jira, missing_tickets, dup_tickets, patched;
	double daemon_cpu_s;
	long pending_after_busy;        /* creations still pending when the busy latency ended */
	bench_steady_result_t quiet;    /* ticket changes, no creations running */
	bench_steady_result_t busy;     /* the same while the N creations run */
} bench_create_result_t;

typedef struct bench_create_fault_result {
	bool ran, ok;
	long m;
	int index_delay_ms, lookup_delay_ms;
	double total_s;
	int64_t creates, duplicates, attempts, lookups, retries;
	int64_t commit_closes, status_faults;
	long missing_jira, dup_jira, missing_tickets, dup_tickets, patched;
} bench_create_fault_result_t;

void bench_create_rate(bench_t *b, bench_create_result_t *r);
void bench_create_faults(bench_t *b, bench_create_fault_result_t *r);
void bench_create_report(FILE *f, const bench_t *b, const bench_create_result_t *r,
    const bench_create_fault_result_t *fr);

#endif
