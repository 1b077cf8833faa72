/*
 * tsworkload: a stream of ticket changes whose every value is recognisable, and the
 * checks that prove nothing was lost or went out stale. Change k of detection d sets
 * assignee "u<k>" (so the order of values shows in every PATCH body) and walks the
 * status through a Jira-like cycle. Used by the reliability and failover tests.
 */
#ifndef TICKETSYNC_TESTS_TSWORKLOAD_H
#define TICKETSYNC_TESTS_TSWORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "tsscene.h"

typedef struct tsworkload {
	tsscene_t *s;
	int ndet;               /* detections 1..ndet */
	int total;              /* changes to write, round robin */
	int pace_us;            /* pause after each write */
	int *last_k;            /* per detection: the last change written (1-based) */
	volatile int written;
	char error[256];
} tsworkload_t;

/* last_k allocated for ndet detections; free with tsworkload_free. */
void tsworkload_init(tsworkload_t *w, tsscene_t *s, int ndet, int total, int pace_us);
void tsworkload_free(tsworkload_t *w);
/* Insert detections 1..ndet (bulk). false with s->error. */
bool tsworkload_put_detections(tsworkload_t *w);
/* Write w->total changes (a pthread entry point: arg is the tsworkload_t). */
void *tsworkload_write(void *arg);
/* Wait until every detection's state is synced (three checks in a row). */
bool tsworkload_wait_converged(tsworkload_t *w, int timeout_ms);
/* Detections whose state at the fake differs from their last change's mapping. */
int tsworkload_lost(tsworkload_t *w);
/*
 * In the order the fake received them, PATCHes carrying an older value than one
 * already acknowledged for that detection. *patches gets how many PATCHes there were.
 * When agent is non-NULL, only PATCHes whose User-Agent contains it are counted in
 * *agent_patches, and *agent_last_ms gets the receipt time of the last one.
 */
int tsworkload_stale(tsworkload_t *w, int *patches, const char *agent, int *agent_patches,
    int64_t *agent_first_ms, int64_t *agent_last_ms);

#endif
