/*
 * sweeper: the sweep of ExtraHop's detections, on the loop (glue). One search page at
 * a time through the ExtraHop client (its credentials, TLS rules and lease gate), each
 * page handed to the DB worker (sweepdb_apply, which repairs and finds drift), the
 * cursor saved after every page, then interval_ms of rest. One request at a time and
 * none while a page is being applied: the pushes, with up to [push] concurrency
 * requests, always come first. A 429 or 5xx waits (Retry-After) and asks again; a
 * refused credential or a rejected query ends the sweep until the next interval.
 *
 * Runs while active (sweeper_resume / sweeper_suspend, like the pushers).
 * sweeper_run_once is the same sweep once, on a private loop (ticketsyncctl
 * sync-from-extrahop).
 */
#ifndef TICKETSYNC_SWEEPER_H
#define TICKETSYNC_SWEEPER_H

#include <stdbool.h>
#include <stdint.h>

#include <bson/bson.h>

#include "ticketsync/config.h"
#include "ticketsync/error.h"
#include "ticketsync/extrahop.h"
#include "ticketsync/sweepdb.h"

struct event_base;
struct dbworker;
struct store;
typedef struct sweeper sweeper_t;

enum sweeper_error {
	SWEEPER_ERR_RESOURCE = ERROR_BASE_SWEEPER, /* a timer or the loop */
	SWEEPER_ERR_FAILED,                        /* the sweep could not finish (says why) */
};

typedef struct sweeper_opts {
	const char *database;
	const char *instance;
	int64_t interval_ms;
	int64_t overlap_ms;
	int32_t page_size;
	enum sweepplan_policy policy;
	bool dry_run;
	bool once;          /* one sweep, then done() */
	int64_t since_ms;   /* once: start here instead of the stored cursor (0: the cursor) */
} sweeper_opts_t;

typedef struct sweeper_result {
	bool ok;
	char error[256];
	sweepdb_stats_t stats;
	int64_t pages;
	int64_t cursor_ms;  /* the cursor stored after it */
	int64_t elapsed_ms;
} sweeper_result_t;

typedef void (*sweeper_done_fn)(void *arg, const sweeper_result_t *r);
/* Called after every page of a sweep (progress). */
typedef void (*sweeper_page_fn)(void *arg, const sweeper_result_t *so_far);

sweeper_t *sweeper_new(struct event_base *base, struct dbworker *db, extrahop_t *eh,
    const sweeper_opts_t *opts, bson_error_t *err);
void sweeper_set_callbacks(sweeper_t *s, sweeper_page_fn page, sweeper_done_fn done, void *arg);
/* Start sweeping (the first sweep soon); suspend: no new request, the current page
 * finishes. */
void sweeper_resume(sweeper_t *s);
void sweeper_suspend(sweeper_t *s);
/* Whether a request or a page is still being worked on (the daemon waits at exit). */
bool sweeper_busy(const sweeper_t *s);
void sweeper_free(sweeper_t *s);

/* The configuration as sweeper options; strings point into cfg. */
void sweeper_opts_from_config(const config_t *cfg, const char *instance, sweeper_opts_t *out);

/* One sweep on a private loop (curl_global_init and evthread_use_pthreads done by
 * the caller). */
bool sweeper_run_once(const config_t *cfg, struct store *store, const sweeper_opts_t *opts,
    sweeper_page_fn page, void *arg, sweeper_result_t *out, bson_error_t *err);

#endif
