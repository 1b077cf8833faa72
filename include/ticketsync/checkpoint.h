/*
 * checkpoint: ticketsync_checkpoints, one document per change stream
 * ({_id: name, token, saved_at, instance}), so a restart continues where the stream
 * stopped. Saved with majority write concern after the work the token covers: a
 * restart never resumes from a token newer than durable work (a rolled-back
 * checkpoint could skip events; a replayed one only repeats idempotent work).
 *
 * Runs on libmongoc threads only.
 */
#ifndef TICKETSYNC_CHECKPOINT_H
#define TICKETSYNC_CHECKPOINT_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#define CHECKPOINT_WATCHER "watcher"

/* token_out always initialised (empty when not found): the caller destroys it.
 * saved_at_ms may be NULL. */
bool checkpoint_load(mongoc_client_t *client, const char *db, const char *name,
    bson_t *token_out, bool *found, int64_t *saved_at_ms, bson_error_t *err);

/* Upsert {_id: name, token, saved_at: now, instance (may be NULL)}, w: majority. */
bool checkpoint_save(mongoc_client_t *client, const char *db, const char *name,
    const bson_t *token, const char *instance, bson_error_t *err);

/* Forget a checkpoint (the next start begins from "now" or a rescan). */
bool checkpoint_delete(mongoc_client_t *client, const char *db, const char *name,
    bson_error_t *err);

#endif
