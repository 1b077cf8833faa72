/*
 * lease: exactly one ticketsyncd watches and pushes at a time. A document in
 * ticketsync_leases names the holder, when the lease expires and a fencing counter
 * that grows on every takeover. Taking and renewing are single findAndModify
 * operations filtered on the expiry (or on our own holder + fencing), so two
 * instances can never both succeed.
 *
 * Every time is the MongoDB primary's clock (hello's localTime), so instances never
 * compare their own clocks. The holder itself counts on its monotonic clock from
 * *before* it asked: it considers the lease lost at start + period - margin, which
 * is never later than the expiry the server wrote.
 *
 * Runs on a libmongoc thread only.
 */
#ifndef TICKETSYNC_LEASE_H
#define TICKETSYNC_LEASE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#define LEASE_DAEMON "ticketsyncd"
#define LEASE_HOLDER_MAX 256

typedef struct lease_state {
	bool found;              /* a lease document exists */
	bool held;               /* the caller holds it (after acquire: now) */
	int64_t fencing;         /* the lease's fencing counter */
	char holder[LEASE_HOLDER_MAX];
	int64_t expires_at_ms;   /* server clock */
	int64_t server_now_ms;   /* server clock when asked */
} lease_state_t;

/* The primary's clock (hello's localTime), in ms since the epoch. */
bool lease_server_now(mongoc_client_t *client, int64_t *now_ms, bson_error_t *err);

/*
 * Renew the lease if holder holds it under my_fencing, else take it if it is free,
 * expired, or held under holder's own name (a restart of the same instance; the
 * fencing counter then grows, fencing off the previous process). Instance names must
 * therefore be unique among running daemons. out->held says whether holder has it
 * now, and out->fencing is the token its writes must carry. Not an error when
 * another instance holds it: held is false and out names that holder.
 */
bool lease_acquire(mongoc_client_t *client, const char *db, const char *name,
    const char *holder, int64_t my_fencing, int64_t period_ms, lease_state_t *out,
    bson_error_t *err);

/* Give the lease up at once (clean shutdown) so a standby need not wait for expiry. */
bool lease_release(mongoc_client_t *client, const char *db, const char *name,
    const char *holder, int64_t fencing, bson_error_t *err);

/* Read the lease (ticketsyncctl status, /readyz). */
bool lease_read(mongoc_client_t *client, const char *db, const char *name, lease_state_t *out,
    bson_error_t *err);

#endif
