/*
 * dest: a destination of the push engine. The engine (outbox claims and results,
 * pusher timer, concurrency, rate limit, retries, parking, credential stop, audit,
 * metrics) is the same for every destination; a destination is one module that says
 * how to send one claimed item and what the reply was (a pushplan_reply_t, classified
 * with pushplan_classify or its own rule). What the reply then means (pushed, retry
 * at T, recheck, park, stop) is pushplan_outcome's, never the destination's.
 *
 * Each destination runs its own pusher (own pusher_opts_t: concurrency, rate limit,
 * backoff, probe interval, so one destination's outage or refused credentials stop
 * only its own pushes). Its items are keyed by their source detection id in a state
 * collection of its own (pusher_opts_t.collection; ExtraHop's: ticketsync_state),
 * their values BSON documents only the destination decodes; see docs/ARCHITECTURE.md
 * for why.
 *
 * Ownership: dest_t is a value (ops + the destination's own object); the caller that
 * made impl frees it after the pusher that uses it is freed, and before that pusher is
 * freed completes what is still in flight (cancel_all, or destroying impl): those
 * completions go into the pusher. Loop thread only.
 */
#ifndef TICKETSYNC_DEST_H
#define TICKETSYNC_DEST_H

#include <bson/bson.h>

#include "ticketsync/outbox.h"
#include "ticketsync/pushplan.h"

/* Runs exactly once per accepted item, on the loop, never inside send(). */
typedef void (*dest_done_fn)(const pushplan_reply_t *reply, void *arg);

typedef struct dest_ops {
	/* Logs and messages: "ExtraHop", "Jira", ... */
	const char *display_name;
	/* What an operator checks when the destination refuses our credentials. */
	const char *auth_hint;
	/* What sending item would carry, appended to sent (the audit's "fields"; ExtraHop:
	 * the PATCH body's members). Pure; called once per claimed item, before any send.
	 * false with err when the item itself can never be sent (its value does not
	 * decode): the engine parks it with err's message. */
	bool (*describe)(const outbox_item_t *item, bson_t *sent, bson_error_t *err);
	/* Start sending item (valid only during the call: copy what is needed). 0 when
	 * accepted (done runs later), -1 with err when the destination cannot take it now
	 * (closing, a request that cannot be built): the engine releases it. */
	int (*send)(void *impl, const outbox_item_t *item, dest_done_fn done, void *arg,
	    bson_error_t *err);
	/* Complete every accepted item now, synchronously: those still pending as cancelled
	 * (CURLE_ABORTED_BY_CALLBACK -> PUSHPLAN_CANCELLED), one whose start had already
	 * failed with that failure. */
	void (*cancel_all)(void *impl);
	/* The engine's gate (pusher_set_gate), to be asked once more right before each
	 * accepted request goes on the wire; when it says no the request is not sent and
	 * completes as cancelled. An HTTP client queues requests (connection limits, a
	 * process frozen mid-batch), and one sent after the lease ran out would overwrite
	 * what the new active instance pushed. */
	void (*set_gate)(void *impl, bool (*gate)(const void *arg), const void *arg);
} dest_ops_t;

typedef struct dest {
	const dest_ops_t *ops;
	void *impl;
} dest_t;

#endif
