/*
 * bench_sweep: the sweep of ExtraHop's detections in ticketsync-bench. Against a fake
 * ExtraHop of its own that holds N synthesized detections (ids 1..N, HTTPS, the run's
 * latency):
 *
 *   once        `ticketsyncctl sync-from-extrahop` (the real binary, configured by
 *               environment as the daemon is) into an empty database: its wall time
 *               and peak RSS (wait4), the search requests the fake answered against
 *               the ideal N / page size, and every one of the N in `detections`
 *   pushes      ticketsyncd with ticketed detections and a steady stream of ticket
 *               changes (bench_steady_run), first with [sweep] off (the baseline), then
 *               restarted with [sweep] on (interval_ms 1000), the changes starting as
 *               its first sweep of the N does: change -> PATCH latency beside the sweep,
 *               and every missing detection repaired
 *
 * Correctness fails the run (exit 1): a detection not in `detections` after a sweep,
 * a change without exactly its PATCH, drift where ExtraHop was never edited. Speed and
 * memory are reported against their targets, never asserted.
 */
#ifndef TICKETSYNC_BENCH_SWEEP_H
#define TICKETSYNC_BENCH_SWEEP_H

#include "bench.h"

typedef struct bench_sweep_result {
	bool ran, ok;
	long n;
	long page;
	/* once: ticketsyncctl sync-from-extrahop */
	bool once_ok;
	double once_s;                  /* the child's wall time */
	double once_rss_mb;             /* its ru_maxrss */
	double once_cpu_s;
	int64_t requests, requests_bad; /* search requests the fake saw; not answered 200 */
	long ideal_requests;            /* ceil(N / page) */
	int64_t stored, repaired;       /* in `detections`; written_by ticketsync-sweep */
	char summary[256];              /* the command's summary line */
	/* pushes: the steady changes without and beside the sweep */
	long dets;                      /* ticketed detections of the steady stream */
	bench_steady_result_t quiet;    /* [sweep] off */
	bench_steady_result_t busy;     /* the first sweep of the N running */
	double quiet_hwm_mb, busy_hwm_mb; /* the daemon's VmHWM after each */
	double window_s;                /* the changes' writing window */
	double first_sweep_s;           /* its start (seen) -> its audit record */
	double first_end_in_window_s;   /* when it ended, from the window's start (NAN: after) */
	int64_t sweeps_in_window;       /* sweeps that ended inside the window */
	/* Search requests in the window (not ticketsync_sweep_detections_total: it adds a
	 * sweep's running total on every page), and all of the sweeping daemon's until
	 * its PATCHes were matched. */
	int64_t searches_in_window, busy_requests;
	int64_t repaired_in_window;     /* detection_repaired audit records in it */
	int64_t busy_repaired, busy_stored; /* after the sweep: written_by / in `detections` */
	int64_t drift;                  /* ticketsync_sweep_drift_total of the daemon */
} bench_sweep_result_t;

void bench_sweep(bench_t *b, bench_sweep_result_t *r);
void bench_sweep_report(FILE *f, const bench_t *b, const bench_sweep_result_t *r);

#endif
