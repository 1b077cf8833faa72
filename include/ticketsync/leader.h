/*
 * leader: decides on the loop whether this instance is the active one, through the
 * lease in MongoDB (lease.h, run on the DB worker). Active: renew every renew_ms and
 * count the lease as lost at (start of the last successful renewal + period - margin)
 * on the monotonic clock, which is never later than the expiry the server wrote, so
 * an instance that cannot renew (network, DB, SIGSTOP) stops before another can take
 * over. Standby: try to take the lease every renew_ms.
 */
#ifndef TICKETSYNC_LEADER_H
#define TICKETSYNC_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "ticketsync/error.h"

struct event_base;
struct dbworker;
typedef struct leader leader_t;

typedef struct leader_opts {
	const char *database;
	const char *instance;
	int64_t period_ms;
	int64_t renew_ms;
} leader_opts_t;

/* Called on the loop when this instance becomes active (fencing = its token) or
 * stops being active (fencing 0). */
typedef void (*leader_change_fn)(void *arg, bool active, int64_t fencing);

/* Codes of leader_start's errors (domain ERROR_DOMAIN). */
enum leader_error {
	LEADER_ERR_RESOURCE = ERROR_BASE_LEADER, /* its timers cannot be created */
};

leader_t *leader_start(struct event_base *base, struct dbworker *db, const leader_opts_t *opts,
    leader_change_fn cb, void *arg, bson_error_t *err);
/* Active right now: holds the lease and its local deadline has not passed. Safe to
 * call from any thread (the DB worker checks it just before claiming). */
bool leader_active(const leader_t *l);
/* A lease check has come to an answer: active, or another instance holds it. */
bool leader_decided(const leader_t *l);
int64_t leader_fencing(const leader_t *l);
/* "active (fencing 3)" or "standby: lease held by host:123" for /readyz and logs. */
void leader_describe(const leader_t *l, char *buf, size_t len);
/* Stop renewing; when active and release is true, give the lease up so a standby
 * takes over at once; then done(arg) on the loop. */
void leader_stop(leader_t *l, bool release, void (*done)(void *), void *arg);
void leader_free(leader_t *l);

/* The local deadline for a lease renewed at start_ms (monotonic): start + period -
 * margin, margin = period / 10 (clock rate drift, scheduling). Pure. */
int64_t leader_deadline_ms(int64_t start_ms, int64_t period_ms);

#endif
