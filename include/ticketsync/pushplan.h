/*
 * pushplan: the push decision, in one place, for every destination. Pure: plain
 * values in, plain values out, no I/O and no clock (times are passed in), so every
 * rule below is unit-tested as a table (tests/unit/test_pushplan.c).
 *
 * Four decisions:
 *   1. record: a new desired value arrives for an item (a detection); given what the
 *      item's state document holds, write nothing, insert it, or update it and to
 *      which state (pending / in_flight / synced), and what the change was.
 *   2. mask:   which fields a PATCH carries to move ExtraHop from what it shows to
 *      what it should show (ExtraHop's destination; others send whole documents).
 *   3. outcome: what one attempt came to (HTTP status or transport error, Retry-After,
 *      attempts so far, an earlier ambiguous attempt) -> pushed / retry at T (with an
 *      ambiguous-attempt recheck) / parked with a reason / released / credentials
 *      stop. The store records it and the pusher acts on it; neither decides.
 *
 * The state machine the store keeps (src/store/outbox.c):
 *   pending --claim--> in_flight --outcome--> synced | pending (retry) | parked
 *      ^                   |  claim expired: re-claimable (crash of the holder)
 *      +-- desired changes / replay_parked / released
 */
#ifndef TICKETSYNC_PUSHPLAN_H
#define TICKETSYNC_PUSHPLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "ticketsync/backoff.h"
#include "ticketsync/fields.h"

/* Result messages, including the NUL. */
#define PUSHPLAN_MESSAGE_MAX 256
/* A destination's result (a created ticket's key or id), including the NUL. */
#define PUSHPLAN_RESULT_MAX (FIELDS_TICKET_ID_MAX + 1)

enum pushplan_state {
	PUSHPLAN_STATE_PENDING = 0,
	PUSHPLAN_STATE_IN_FLIGHT,
	PUSHPLAN_STATE_SYNCED,
	PUSHPLAN_STATE_PARKED,
};

/* "pending", "in_flight", "synced", "parked". */
const char *pushplan_state_name(enum pushplan_state s);
/* Parse a stored name; an unknown one reads as pending (what a writer does next
 * with a document it cannot place). Returns false for unknown names. */
bool pushplan_state_parse(const char *name, enum pushplan_state *out);

/* ---- 1. record a desired value ---- */

/* What the item's state document says, as the caller read it. */
typedef struct pushplan_current {
	bool exists;              /* a state document exists */
	enum pushplan_state state;
	int64_t version;
	bool has_pending_since;
	/* The caller's comparisons of the new desired value (same type, destination's
	 * own equality): with the stored desired, and with what the destination shows
	 * as far as we know (the last acknowledged value, else the baseline; for an item
	 * without a document: what the source document shows now). */
	bool equals_stored;       /* exists only */
	bool equals_shown;
} pushplan_current_t;

enum pushplan_write {
	PUSHPLAN_WRITE_NONE = 0,
	PUSHPLAN_WRITE_INSERT,
	PUSHPLAN_WRITE_UPDATE, /* guarded on the version and state read */
};

enum pushplan_change {
	PUSHPLAN_UNCHANGED = 0, /* nothing written: desired already recorded, or in sync */
	PUSHPLAN_INSERTED,      /* first difference for this item */
	PUSHPLAN_UPDATED,       /* desired changed */
	PUSHPLAN_UNPARKED,      /* desired changed on a parked item: it goes out again */
};

typedef struct pushplan_record {
	enum pushplan_write write;
	enum pushplan_change change;
	enum pushplan_state state;   /* the state once written (or as it stays) */
	int64_t version;             /* the version once written (0: no document) */
	bool set_pending_since;      /* UPDATE: start the age of the oldest unsent change */
} pushplan_record_t;

/*
 * No document and desired == shown: nothing to remember. Desired == stored: nothing
 * (replays, duplicate events, rescans). Otherwise a new version, due now: in_flight
 * stays in_flight (one request per item in flight; the running attempt's completion
 * re-queues it), synced when desired equals what is shown, else pending.
 */
void pushplan_record(const pushplan_current_t *cur, pushplan_record_t *out);

/* ---- 2. the PATCH mask (ExtraHop) ---- */

/* The fields a PATCH must carry to move ExtraHop from shown to desired: the fields
 * that differ, plus ticket_id always (the API marks it required). */
unsigned pushplan_mask(const fields_t *desired, const fields_t *shown);

/*
 * The mask for a claimed item: every field when a recheck forces it (force_full) or
 * nothing is known of what ExtraHop shows; else pushplan_mask against the last
 * acknowledged value, or the baseline before any push.
 */
unsigned pushplan_claim_mask(const fields_t *desired, const fields_t *pushed,
    const fields_t *baseline, bool force_full);

/* ---- 3. what an attempt came to ---- */

/* What a destination's reply (or its absence) means, before the engine's rules. */
enum pushplan_class {
	PUSHPLAN_OK = 0,   /* 2xx: applied */
	PUSHPLAN_RETRY,    /* 408, 425, 429, 5xx, other unexpected statuses, transport
	                    * errors, timeouts, cancellation: send again later */
	PUSHPLAN_REJECTED, /* other 4xx (400, 404, 409, 422...): park with the message */
	PUSHPLAN_AUTH,     /* 401/403: a configuration error, not this item's */
};

/* (HTTP status, whether a reply came at all) -> class. Any transport error is RETRY;
 * 1xx/3xx (redirects are not followed) are RETRY: nothing proves the item at fault. */
enum pushplan_class pushplan_classify(long http_status, bool transport_ok);
const char *pushplan_class_name(enum pushplan_class c); /* "ok", "retry", ... */

/* How a request ended on the wire, as the HTTP client saw it. */
enum pushplan_transport {
	PUSHPLAN_REPLIED = 0,  /* a response came (http_status > 0) */
	PUSHPLAN_NOT_SENT,     /* never reached the server (DNS, connect, TLS, refused
	                          locally): nothing can be applied later */
	PUSHPLAN_LOST,         /* sent, no (whole) reply: timeout, reset, empty reply;
	                          the server may still apply it */
	PUSHPLAN_CANCELLED,    /* we cancelled it (shutdown, lease lost) */
};

/* libcurl's result code -> transport (CURLE_OK: REPLIED). Pure mapping of curl's
 * numbers; the client calls it, the engine decides from its answer. */
enum pushplan_transport pushplan_transport_from_curl(int curl_code);

/* An attempt the destination may still apply although we saw it fail: no reply
 * after sending, or a gateway's 502/504 (it gave up on a server that may finish). */
bool pushplan_ambiguous(long http_status, enum pushplan_transport t);

/* One finished request, as the destination's client reports it. */
typedef struct pushplan_reply {
	enum pushplan_class outcome;
	long http_status;       /* 0 when no response was received */
	int curl_code;          /* CURLcode; CURLE_ABORTED_BY_CALLBACK when cancelled */
	int64_t retry_after_ms; /* the server's Retry-After in ms; -1 if none */
	int64_t elapsed_ms;     /* from submission (including any wait for a token) */
	char message[PUSHPLAN_MESSAGE_MAX]; /* "" on success; the server's or curl's text */
	/* The destination's own word that this or an earlier attempt may still show up
	 * until then (ticket creation: a search that cannot prove absence yet, a create
	 * cancelled after it left); kept as the item's recheck time like an ambiguous
	 * attempt's, whatever the outcome other than OK. 0: none. */
	int64_t recheck_at_ms;
	/* OK: what the destination made, recorded with the push (ticket creation: the
	 * ticket's key and the system's own id of it). "" when nothing. */
	char result_key[PUSHPLAN_RESULT_MAX];
	char result_ref[PUSHPLAN_RESULT_MAX];
} pushplan_reply_t;

/* What the store records for an attempt (audit names: "pushed", "retry", ...). */
enum pushplan_outcome {
	PUSHPLAN_PUSHED = 0, /* acknowledged: pushed = desired of that version */
	PUSHPLAN_RETRIED,    /* transient failure: attempts + 1, due at next_attempt_ms */
	PUSHPLAN_PARKED,     /* permanent failure: parked with reason until replayed/changed */
	PUSHPLAN_RELEASED,   /* not attempted for reasons not this item's (auth, shutdown,
	                        cancelled): pending at next_attempt_ms, attempts unchanged */
};
const char *pushplan_outcome_name(enum pushplan_outcome o);

/* The engine's rules, per destination (from its configuration). */
typedef struct pushplan_policy {
	int64_t retry_base_ms;
	int64_t retry_max_ms;
	int64_t recheck_ms;   /* after an ambiguous attempt: full re-push this much later; 0 = off */
	/* An acknowledged attempt settles the item even after an ambiguous one: no full
	 * re-push follows (ticket creation: the ticket made or found is the one; sending
	 * again could only ask once more). */
	bool settle_on_ack;
} pushplan_policy_t;

typedef struct pushplan_attempt {
	int32_t attempts;        /* failed attempts before this one, for this version */
	int64_t recheck_at_ms;   /* the item's pending recheck (0: none) */
	/* > 0: the item was taken over from a holder whose claim expired at this time (a
	 * crash). Its requests were over by then on its side, but the destination may
	 * still apply one late, as after an ambiguous attempt: once acknowledged, the
	 * whole value goes out again at reclaimed_until + recheck_ms. */
	int64_t reclaimed_until_ms;
	int64_t now_ms;          /* wall clock (BSON dates) */
	uint32_t rnd;            /* jitter: any uniform uint32_t */
} pushplan_attempt_t;

typedef struct pushplan_verdict {
	enum pushplan_outcome outcome;
	int64_t next_attempt_ms; /* RETRIED, RELEASED */
	/* RETRIED: > 0 when the attempt was ambiguous (and rechecks are on): the time a
	 * full re-push follows the next acknowledged one. PUSHED: the item's recheck. */
	int64_t recheck_at_ms;
	bool stop;               /* credentials refused: stop sending, probe */
	bool cancelled;          /* RELEASED because we cancelled it */
	bool ambiguous;          /* the attempt may still be applied later */
} pushplan_verdict_t;

void pushplan_outcome(const pushplan_policy_t *policy, const pushplan_reply_t *reply,
    const pushplan_attempt_t *attempt, pushplan_verdict_t *out);

/* ---- 4. is the destination reachable at all? ---- */

/* Any HTTP reply (even a 5xx: something answered) proves the destination reachable;
 * only requests that got none (not sent, lost) count against it. Cancelled requests
 * prove nothing and are not noted. Times are monotonic ms. */
typedef struct pushplan_reach {
	int64_t down_since_ms; /* first unanswered request since the last reply; 0: up */
	int64_t warned_at_ms;  /* the last warning of this outage; 0: none yet */
} pushplan_reach_t;

enum pushplan_reach_event {
	PUSHPLAN_REACH_QUIET = 0,
	PUSHPLAN_REACH_WARN,      /* unreachable for warn_after_ms (again, once per period) */
	PUSHPLAN_REACH_RECOVERED, /* a reply after an outage that was warned about */
};

enum pushplan_reach_event pushplan_reach_note(pushplan_reach_t *r, bool replied, int64_t now_ms,
    int64_t warn_after_ms);
/* What one finished request says about reachability: REACH_YES (an HTTP reply), REACH_NO
 * (a transport failure: DNS, connect, TLS, timeout, reset) or REACH_UNKNOWN (nothing was
 * asked of the network: cancelled, held back or decided by the destination without a
 * request (curl code 0 and no status), a local failure to build the request). */
enum pushplan_reach_evidence { PUSHPLAN_REACH_UNKNOWN = 0, PUSHPLAN_REACH_YES, PUSHPLAN_REACH_NO };
enum pushplan_reach_evidence pushplan_reach_evidence(long http_status, int curl_code);
/* Down for at least after_ms by now. */
bool pushplan_reach_down_for(const pushplan_reach_t *r, int64_t now_ms, int64_t after_ms);

#endif
