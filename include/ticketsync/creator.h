/*
 * creator: ticket creation assembled for the daemon: the ticket system's client and
 * destination (dest_ticket) from [create] and its target's section, a pusher of its
 * own over ticketsync_create_state (its own concurrency, rate limit, backoff and
 * credential stop, so a slow or refusing ticket system never holds up the ExtraHop
 * pushes), createq_record as the step before each batch of results is recorded, and
 * the start-up credential check (one log line; creator_ready for /readyz), repeated
 * every 30 s until it passes.
 *
 * Loop thread only. The pusher's gate and fencing are the daemon's lease, as for
 * ExtraHop: only the active instance creates.
 */
#ifndef TICKETSYNC_CREATOR_H
#define TICKETSYNC_CREATOR_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ticketsync/config.h"
#include "ticketsync/dest_ticket.h"
#include "ticketsync/pusher.h"

struct event_base;
struct dbworker;
typedef struct creator creator_t;

/* The configuration as the creation engine's options; strings point into cfg. */
void creator_pusher_opts(const config_t *cfg, const char *owner, pusher_opts_t *out);
void creator_dest_opts(const config_t *cfg, const char *instance, dest_ticket_opts_t *out);

/* NULL with err when the ticket system's client cannot be built. */
creator_t *creator_new(struct event_base *base, struct dbworker *db, struct dbworker *record_db,
    const config_t *cfg, const char *instance, bson_error_t *err);
pusher_t *creator_pusher(creator_t *c);
/* The creates of the last hour before this start (createq_recent): the hourly ceiling
 * counts them. */
void creator_seed_window(creator_t *c, const int64_t *wall_ms, size_t n, int64_t now_ms);
/* Starts the credential check (and its repeats until it passes). */
void creator_start(creator_t *c);
/* false with why while creation cannot work (credentials refused or unchecked). */
bool creator_ready(const creator_t *c, char *why, size_t len);
void creator_free(creator_t *c);

#endif
