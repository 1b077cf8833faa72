/*
 * watcher_apply: what the watcher's two threads share, private to the watcher
 * (everyone else includes watcher.h): the watcher itself, the items the reader thread
 * (src/store/watcher.c) hands the apply thread (src/store/watcher_apply.c) through the
 * bounded handoff queue, and the few helpers both use.
 */
#ifndef TICKETSYNC_WATCHER_APPLY_H
#define TICKETSYNC_WATCHER_APPLY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "ticketsync/handoff.h"
#include "ticketsync/watcher.h"

/* The checkpoint the reader resumes from and the applier saves. */
#define WATCHER_CHECKPOINT_NAME "watcher"

enum watcher_item_kind {
	WATCHER_ITEM_EVENT,  /* ids to refresh */
	WATCHER_ITEM_TOKEN,  /* nothing to do; the stream moved on (postBatchResumeToken) */
	WATCHER_ITEM_RESCAN, /* full rescan before anything queued after it */
};

typedef struct watcher_item {
	enum watcher_item_kind kind;
	int64_t *ids;
	size_t nids;
	char *ticket_id;       /* ticket whose event this was (NULL for detections) */
	bool winner_lookup;    /* refresh the detections ticket_id was the winner of */
	bson_t *token;         /* resume token once this item is applied; may be NULL */
	char reason[160];      /* RESCAN: why */
	bool closes_stream;    /* invalidate: the cursor is closed after it */
} watcher_item_t;

struct watcher {
	struct store *store;
	refresh_ctx_t ctx;
	watcher_opts_t opts;
	handoff_t *queue;
	pthread_t reader, applier;
	bool reader_started, applier_started;
	atomic_bool stop;
	atomic_bool reader_done;
	atomic_bool applier_done;
	atomic_int phase;
	atomic_bool opened; /* a change stream has been opened once */
};

/* Frees a queue item (NULL-safe); also the handoff queue's free_item. */
void watcher_item_free(void *p);
/* Sleep in small steps so stop is noticed quickly. */
void watcher_sleep(watcher_t *w, int64_t ms);
/* The next retry delay: capped, jittered, from the watcher's retry options. */
int64_t watcher_backoff(const watcher_t *w, uint32_t attempt);
/* Append an audit record for event; a failure is only logged. */
void watcher_audit(mongoc_client_t *client, const watcher_t *w, const char *event,
    const char *message);

/* The apply thread's body (watcher_apply.c); arg is the watcher_t. */
void *watcher_applier_main(void *arg);

#endif
