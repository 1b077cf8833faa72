/*
 * outbox: the push engine's durable half, for any destination. A destination's items
 * live in a state collection of its own (coll below; ExtraHop's: ticketsync_state),
 * one document per detection: what the destination should show (desired, versioned),
 * what it showed at first (baseline), what it acknowledged last (pushed), and where
 * the item is in the push cycle (the state machine and every decision in it are
 * pushplan's, src/core/pushplan.c; this module reads the documents, hands pushplan
 * what it needs, and writes what it decided, guarded).
 *
 * Values (desired, baseline, pushed) are BSON documents the outbox never interprets:
 * it compares them byte for byte, so a producer writes each value in one canonical
 * form (ExtraHop's: fields_append_document's four keys), and the destination decodes
 * the claimed ones (dest_extrahop_decode).
 *
 *   pending --claim--> in_flight --complete--> synced | pending (retry) | parked
 *      ^                   |  claim expired: re-claimable (crash of the holder)
 *      +-- desired changes / replay_parked / released
 *
 * Operator views of the same documents (counts, parked lists) are outbox_view's.
 *
 * Every operation is safe to run concurrently from several threads and processes
 * (ticketsyncctl backfill while the daemon runs): changes are compare-and-set on
 * version or claim_id, retried on a lost race. At most one request per item is in
 * flight, so an older value is never acknowledged after a newer one.
 *
 * Times are BSON dates (milliseconds since the epoch) passed in by the caller, so the
 * logic is testable with a fixed clock.
 */
#ifndef TICKETSYNC_OUTBOX_H
#define TICKETSYNC_OUTBOX_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/pushplan.h"

#define OUTBOX_CLAIM_MAX 1000 /* largest claim batch */
#define OUTBOX_OWNER_MAX 128
#define OUTBOX_MESSAGE_MAX 1024 /* longer messages/reasons are cut (on a UTF-8 boundary) */

/* The stored state names (pushplan's). */
#define OUTBOX_PENDING pushplan_state_name(PUSHPLAN_STATE_PENDING)
#define OUTBOX_IN_FLIGHT pushplan_state_name(PUSHPLAN_STATE_IN_FLIGHT)
#define OUTBOX_SYNCED pushplan_state_name(PUSHPLAN_STATE_SYNCED)
#define OUTBOX_PARKED pushplan_state_name(PUSHPLAN_STATE_PARKED)

/*
 * The fencing token (from the lease) that this thread's outbox writes carry, 0 for
 * none (ticketsyncctl). With a token, setting desired values and claiming only apply
 * to documents no later lease holder has written (their fencing is not above ours),
 * and record ours: an instance that was paused past its lease cannot overwrite its
 * successor's work when it wakes. Completions need no token: they are bound to their
 * claim. Per thread, so each DB thread states whose writes it makes.
 */
void outbox_set_writer_fencing(int64_t fencing);

/* pushplan's changes (pushplan.h), plus the store's own: a lost race. */
enum outbox_change {
	OUTBOX_UNCHANGED = PUSHPLAN_UNCHANGED,
	OUTBOX_INSERTED = PUSHPLAN_INSERTED,
	OUTBOX_UPDATED = PUSHPLAN_UPDATED,
	OUTBOX_UNPARKED = PUSHPLAN_UNPARKED,
	OUTBOX_CONFLICT,      /* (set_desired_many) another writer changed the document
	                         since it was read: nothing written. The caller recomputes
	                         desired from fresh documents and tries again, since a
	                         value decided from an older snapshot must not overwrite a
	                         newer one (a paused instance, a concurrent backfill). */
};

typedef struct outbox_set_result {
	enum outbox_change change;
	int64_t version;   /* version now stored (0 when there is no document) */
	char state[16];    /* state now stored ("" when there is no document) */
} outbox_set_result_t;

/*
 * What recording desired (with baseline: what the source shows now) on the item whose
 * state document is cur (NULL: none) would do: pushplan_record's decision from the
 * document as read. A stored value that is not a document counts as absent (the
 * write then replaces it).
 */
void outbox_plan(const bson_t *cur, const bson_t *desired, const bson_t *baseline,
    pushplan_record_t *out);

/*
 * Record what detection id should show, as outbox_plan decides (baseline is only
 * stored when the document is created; ticket_id is the winning ticket, may be NULL):
 * a changed desired bumps the version, resets attempts, is due at now and unparks.
 * Reads the document and goes through outbox_set_desired_many, again on a lost race.
 */
bool outbox_set_desired(mongoc_client_t *client, const char *db, const char *coll, int64_t id,
    const bson_t *desired, const bson_t *baseline, const char *ticket_id, int64_t now_ms,
    outbox_set_result_t *result_out, bson_error_t *err);

/*
 * outbox_set_desired for n distinct detections in a few round trips (one insert, one
 * update), decided from current: the state documents as the caller just read them
 * (current[i] for ids[i], NULL where there was none). results[i] belongs to ids[i];
 * the writes are guarded, so a detection whose document changed since (or that lost
 * a race) gets OUTBOX_CONFLICT and must be decided again from fresh documents.
 */
bool outbox_set_desired_many(mongoc_client_t *client, const char *db, const char *coll,
    size_t n, const int64_t *ids, const bson_t *const *desired, const bson_t *const *baselines,
    const char *const *ticket_ids, const bson_t *const *current, int64_t now_ms,
    outbox_set_result_t *results, bson_error_t *err);

/* A claimed item. Owns its values: outbox_item_clear releases them (a copy of the
 * struct moves the ownership; clear exactly one of them). */
typedef struct outbox_item {
	int64_t id;
	int64_t version;         /* version of desired below; hand back in the result */
	char claim_id[32];
	int32_t attempts;        /* failed attempts so far for this version */
	char ticket_id[FIELDS_TICKET_ID_MAX + 1]; /* winning ticket, "" if none */
	/* An earlier attempt may still be applied late by the destination: once this push
	 * is acknowledged, push the whole value again at this time (0: no). */
	int64_t recheck_at_ms;
	bool force_full;         /* this push is that recheck: send the whole value */
	/* > 0 when a claim took the item over from a holder whose claim expired (a crash,
	 * a freeze): that holder may have sent it before this time. Stored with the item
	 * (reclaimed_until) until an attempt is acknowledged. */
	int64_t reclaimed_until_ms;
	int64_t claimed_until_ms; /* this claim's expiry (BSON date) */
	bson_t *desired;         /* the claimed version's value */
	bson_t *pushed;          /* the last acknowledged value; NULL when none */
	bson_t *baseline;        /* what the destination showed at first; NULL when none */
} outbox_item_t;

/* Release an item's values (NULL-safe, idempotent). */
void outbox_item_clear(outbox_item_t *item);

/*
 * Claim up to limit (1..OUTBOX_CLAIM_MAX) due detections, oldest next_attempt_at
 * first: pending ones due by now, and in_flight ones whose claim expired (holder
 * crashed). They become in_flight under one fresh claim_id, held by owner until
 * now + claim_timeout_ms. items must have room for limit entries; *n_out is how many
 * were claimed (fewer when another claimer won some). Three round trips per batch.
 */
bool outbox_claim(mongoc_client_t *client, const char *db, const char *coll, int64_t now_ms,
    size_t limit,
    const char *owner, int64_t claim_timeout_ms, outbox_item_t *items, size_t *n_out,
    bson_error_t *err);

typedef struct outbox_result {
	int64_t id;
	int64_t version;          /* the claimed item's version */
	const char *claim_id;     /* the claimed item's claim_id */
	enum pushplan_outcome outcome; /* decided by pushplan_outcome */
	const bson_t *sent;       /* PUSHED: the claimed item's desired */
	int64_t next_attempt_ms;  /* RETRY, RELEASED */
	int http_status;          /* 0 when no HTTP response */
	const char *message;      /* may be NULL; for PARKED the parked reason */
	/*
	 * RETRY: > 0 when the attempt is ambiguous (timed out, connection lost, 502/504:
	 * ExtraHop may still apply it later): recorded as the detection's recheck time.
	 * PUSHED: the claimed item's recheck_at_ms; > 0 sends the detection back to
	 * pending, due then, with every field in its next PATCH, so a late-applied older
	 * attempt is overwritten by the current value. RELEASED: > 0 when the destination
	 * says the cancelled request had already left; recorded like RETRY's.
	 */
	int64_t recheck_at_ms;
	/* PUSHED: what the destination made (pushplan_reply_t.result_key/ref), stored as
	 * the document's result {key, ref, at}; NULL or "": nothing. */
	const char *result_key;
	const char *result_ref;
} outbox_result_t;

/*
 * Record n results in one bulk write. A result applies only while the document still
 * carries its claim_id (a claim taken over after expiry wins over the old holder). If
 * desired changed while in flight, the detection is pending and due now instead of
 * synced/retry/parked, so the newer value goes out next; a PUSHED result still records
 * pushed. *applied_out (may be NULL) counts the results that applied.
 */
bool outbox_complete(mongoc_client_t *client, const char *db, const char *coll,
    const outbox_result_t *results, size_t n, int64_t now_ms, size_t *applied_out,
    bson_error_t *err);

/* {$or: [{state: pending, next_attempt_at <= now}, {state: in_flight, claimed_until < now}]}:
 * what a claim takes, appended to filter. */
void outbox_append_due(bson_t *filter, int64_t now_ms);

/* The destination shows `shown` (a fields document), not what was acknowledged: an
 * edit made elsewhere (ExtraHop's UI). A synced item still at version becomes pending,
 * due now, with pushed = shown, so the next push sends every field that differs from
 * its desired value. *changed false when the item moved meanwhile (a new version, a
 * claim): then nothing is written, and its own push settles it. */
bool outbox_reassert(mongoc_client_t *client, const char *db, const char *coll, int64_t id,
    int64_t version, const bson_t *shown, int64_t now_ms, bool *changed, bson_error_t *err);

/* Parked detections (ids, or all when ids is NULL) become pending, due now, attempts
 * 0. *count_out = how many were parked. */
bool outbox_replay_parked(mongoc_client_t *client, const char *db, const char *coll,
    const int64_t *ids, size_t n_ids, int64_t now_ms, int64_t *count_out, bson_error_t *err);


#endif
