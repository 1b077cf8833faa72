/*
 * pushrun: run the push engine (dbworker + extrahop + pusher, the daemon's own
 * modules) on a private libevent loop until nothing is due, then drain: what
 * `ticketsyncctl backfill --push` does after queueing. Same limits as the daemon
 * (concurrency, rate limit, retries), and safe beside a running daemon (claims are
 * compare-and-set in the outbox).
 *
 * "Nothing is due" is asked of the outbox (outbox_view_counts through the DB
 * worker) whenever the pusher is idle; a detection whose retry is scheduled later stays
 * pending for the daemon. A 401/403 from ExtraHop stops the run (everything stays
 * pending), and so does SIGINT/SIGTERM (in-flight requests finish first).
 *
 * The caller calls evthread_use_pthreads() and curl_global_init() first, like main.
 */
#ifndef TICKETSYNC_PUSHRUN_H
#define TICKETSYNC_PUSHRUN_H

#include <stdbool.h>
#include <stdint.h>

#include <bson/bson.h>

#include "ticketsync/config.h"
#include "ticketsync/error.h"
#include "ticketsync/extrahop.h"
#include "ticketsync/outbox.h"
#include "ticketsync/outbox_view.h"
#include "ticketsync/pusher.h"

struct store;

typedef struct pushrun_stats {
	uint64_t pushed, retried, parked, released; /* pusher results of this run */
	outbox_counts_t left;     /* the outbox when the run ended */
	bool blocked;             /* stopped by an auth error */
	char blocked_reason[256];
	bool interrupted;         /* stopped by a signal */
	int64_t elapsed_ms;
} pushrun_stats_t;

/* Called about once a second while pushing. */
typedef void (*pushrun_progress_fn)(void *arg, const pushrun_stats_t *s);

/* The configuration as the push engine's options; strings point into cfg. */
void pushrun_extrahop_opts(const config_t *cfg, extrahop_opts_t *out);
void pushrun_pusher_opts(const config_t *cfg, const char *owner, pusher_opts_t *out);

/* Codes of pushrun_until_idle's own errors (domain ERROR_DOMAIN; the engine's modules
 * raise theirs). */
enum pushrun_error {
	PUSHRUN_ERR_RESOURCE = ERROR_BASE_PUSHRUN, /* the event loop or its timers */
	PUSHRUN_ERR_BLOCKED,     /* ExtraHop refused the credentials: nothing more was sent */
	PUSHRUN_ERR_INTERRUPTED, /* a signal stopped the run */
};

/*
 * Push until nothing is due (see above). true when the run ended because nothing was
 * due; false with err set when it could not start, ExtraHop refused the credentials,
 * or a signal stopped it (out says which, and what was done either way).
 */
bool pushrun_until_idle(const config_t *cfg, struct store *store, const char *owner,
    pushrun_progress_fn progress, void *progress_arg, pushrun_stats_t *out,
    bson_error_t *err);

#endif
