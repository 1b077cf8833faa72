/*
 * watcher: where data enters. One database-level change stream filtered to the
 * detections and tickets collections, read on its own thread; the detection ids and
 * ticket ids it names are handed to an apply thread that runs refresh and then saves
 * the resume token those events led up to (the checkpoint is written only after the
 * work it covers; replays are harmless because refresh is idempotent).
 *
 * First start without a checkpoint, history lost (286) or an invalidate: a new stream
 * is opened first (its start point noted), a full rescan runs, then streaming goes on,
 * so no change can fall between the scan and the stream. Other errors rebuild the
 * stream from the last token read, with capped, jittered backoff.
 */
#ifndef TICKETSYNC_WATCHER_H
#define TICKETSYNC_WATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "ticketsync/error.h"
#include "ticketsync/refresh.h"

typedef struct watcher watcher_t;

typedef struct watcher_opts {
	int max_await_ms;       /* getMore wait */
	int retry_base_ms;      /* stream rebuild backoff */
	int retry_max_ms;
	size_t rescan_batch;    /* ids per refresh chunk in a rescan */
	size_t apply_batch;     /* at most this many ids per refresh call */
	int checkpoint_every_ms;/* save the token at most this often while busy */
} watcher_opts_t;

enum watcher_phase {
	WATCHER_STARTING = 0,
	WATCHER_RESCANNING,
	WATCHER_STREAMING,
	WATCHER_RECOVERING,     /* stream failed; rebuilding with backoff */
	WATCHER_STOPPED,
};

/* Codes of watcher_start's errors (domain ERROR_DOMAIN). */
enum watcher_error {
	WATCHER_ERR_THREAD = ERROR_BASE_WATCHER, /* the reader or apply thread cannot start */
};

struct store;
watcher_t *watcher_start(struct store *store, const refresh_ctx_t *ctx,
    const watcher_opts_t *opts, bson_error_t *err);
/* Ask both threads to stop without waiting (the loop must not block); they apply
 * what was read and save the checkpoint. watcher_finished says when they are done;
 * watcher_stop then joins at once. */
void watcher_request_stop(watcher_t *w);
bool watcher_finished(const watcher_t *w);
/* Stop reading, apply what was read, save the checkpoint, join both threads. */
void watcher_stop(watcher_t *w);
enum watcher_phase watcher_phase(const watcher_t *w);
/* Whether a change stream has been opened once (changes from then on are captured,
 * whatever a rescan still has to do). */
bool watcher_opened(const watcher_t *w);
const char *watcher_phase_name(enum watcher_phase p);

#endif
