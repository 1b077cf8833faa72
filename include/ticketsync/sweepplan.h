/*
 * sweepplan: the decisions of the periodic ExtraHop sweep (POST /api/v1/detections/
 * search by mod_time), which repairs detections missing from (or stale in) MongoDB and
 * finds ticket-field edits made in ExtraHop's UI ("drift"), which no trigger event
 * reports. Pure: no I/O, no clock (times are passed in); the sweep runner fetches,
 * reads MongoDB and acts. Unit-tested as tables (tests/unit/test_sweepplan.c).
 *
 * Three parts:
 *   1. parse:  one REST detection object (snake_case) -> its id, mod_time, update_time,
 *      ticket fields, and the $set document our trigger (deploy/extrahop/
 *      ticketsync-trigger.js, tsDocument) would write for it, plus written_by.
 *   2. paging: the cursor (highest mod_time fully read) and one sweep's page state:
 *      the next query body, de-duplication, when the sweep is done.
 *   3. decide: per detection, repair MongoDB? drift NONE / REPORT / REASSERT?
 */
#ifndef TICKETSYNC_SWEEPPLAN_H
#define TICKETSYNC_SWEEPPLAN_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/error.h"
#include "ticketsync/fields.h"
#include "ticketsync/pushplan.h"

/* Codes of sweepplan's errors (domain ERROR_DOMAIN). */
enum sweepplan_error {
	SWEEPPLAN_ERR_ID = ERROR_BASE_SWEEPPLAN, /* id missing or not a detection id */
	SWEEPPLAN_ERR_INVALID,  /* another field has a wrong type or value */
	SWEEPPLAN_ERR_TOO_LARGE, /* a string over SWEEPPLAN_STRING_MAX, a document over
	                          * SWEEPPLAN_DOC_MAX, properties nested too deep */
	SWEEPPLAN_ERR_ARG,      /* a paging argument out of range: the caller's bug */
};

/* ---- 1. one detection of the search reply ---- */

#define SWEEPPLAN_STRING_MAX (64 * 1024)   /* bytes of any one string */
#define SWEEPPLAN_DOC_MAX (1024 * 1024)    /* bytes of the REST object and of set_doc */
#define SWEEPPLAN_PROPERTIES_DEPTH 32      /* nesting of properties / appliance_id */
/* The marker in set_doc: a reader tells a sweep's repair from a trigger write. */
#define SWEEPPLAN_WRITTEN_BY "ticketsync-sweep"

typedef struct sweepplan_det {
	int64_t id;          /* 0 when unreadable */
	int64_t mod_time;    /* epoch ms; -1 when unreadable */
	int64_t update_time; /* epoch ms */
	fields_t fields;     /* E: what ExtraHop shows */
} sweepplan_det_t;

/*
 * rest: one element of the search reply. On success returns 0, fills out and builds
 * set_doc (initialised here; the caller bson_destroys it whatever the result): the
 * trigger's document, same keys, order and types (title, description, type,
 * categories, risk_score, start_time, end_time, update_time, ticket_id, status,
 * assignee, resolution, participants, is_user_created, mitre_tactics,
 * mitre_techniques, properties and appliance_id when present; title, type and
 * start_time left out when null), then written_by. It also passes detection_parse, so
 * the service can load what a repair writes.
 *
 * Returns -1 with err ("detection 12: field risk_score must be a number or null, got
 * string", "detection 12: field description is 70000 bytes (limit 65536 bytes)") and
 * an empty set_doc otherwise. out->id and out->mod_time stay as far as they were read
 * (0 / -1 otherwise), so the record still counts for paging (sweepplan_seen).
 *
 * Strictness: a known field of another type than REST gives is an error, never
 * coerced; strings must be valid UTF-8 without NUL; numbers that are times or ids
 * must be integral. Participants keep only REST's keys (role, object_type,
 * object_id, object_value, id, external, username), MITRE items only id, name, url,
 * legacy_ids. properties / appliance_id are copied whole (JSON types only, keys
 * rewritten as the trigger does: leading '$' and every '.' become '_').
 */
int sweepplan_parse(const bson_t *rest, sweepplan_det_t *out, bson_t *set_doc,
    bson_error_t *err);

/* ---- 2. paging ---- */

#define SWEEPPLAN_LIMIT_MAX 20000 /* the API's largest page */
/* Anchor mismatches handled by re-reading a tie (see below), per sweep. */
#define SWEEPPLAN_RESTARTS_MAX 16

typedef struct sweepplan_cursor {
	int64_t mod_time; /* highest mod_time fully read (0: none) */
} sweepplan_cursor_t;

/*
 * One sweep. Queries are {mod_time: floor, sort: [mod_time asc, id asc], limit,
 * offset}; ExtraHop's mod_time filter keeps mod_time >= floor. The first starts at
 * floor = cursor - overlap (>= 0), offset 0. After a full page whose last mod_time is
 * M, the next keeps floor = M and skips the results already read at M, less one: the
 * last one read at M comes back first (the anchor). Since a detection's mod_time only
 * grows, the ones read at M can only leave M (modified meanwhile: they come back
 * later at their new mod_time, a newer version to process again); if one left, the
 * offset would skip an unread one. The anchor proves it did not: when the first
 * result is not the anchor, the tie is read again from offset 0 (ids already read at M
 * are skipped), at most SWEEPPLAN_RESTARTS_MAX times per sweep (then gaps_possible).
 * A page of fewer than limit results ends the sweep; the new cursor is the highest
 * mod_time seen (never below the old one).
 *
 * Memory: the ids read at the current M only (reset when M advances).
 */
typedef struct sweepplan_page {
	int32_t limit;
	int64_t floor;        /* the next query's mod_time */
	int64_t offset;       /* the next query's offset */
	int64_t max_mod_time; /* highest mod_time seen, starting at the cursor */
	bool done;
	bool gaps_possible;   /* restarts ran out: a tie may have been read with a gap
	                       * (the next sweep's overlap reads it again); log it */
	int64_t pages;        /* pages finished */
	int64_t duplicates;   /* results skipped by sweepplan_seen */
	int restarts;

	/* internal */
	bool has_tie;
	int64_t tie_mod_time; /* M */
	int64_t tie_pos;      /* results at M in the listing from floor M up to here */
	int64_t tie_last_id;
	int64_t *tie_ids;     /* ids read at M, ascending */
	size_t tie_n, tie_cap;
	size_t page_n;        /* results of the current page so far */
	int64_t last_mod;     /* mod_time of the previous result */
	bool expect_anchor;
	int64_t anchor_mod, anchor_id;
	bool anchor_ok;
} sweepplan_page_t;

/* limit 2..SWEEPPLAN_LIMIT_MAX (one result of each later page is the anchor),
 * overlap_ms >= 0, cursor->mod_time >= 0. Returns -1 with err otherwise. Free with
 * sweepplan_page_clear (also after a failed init). */
int sweepplan_page_init(sweepplan_page_t *p, const sweepplan_cursor_t *cursor,
    int64_t overlap_ms, int32_t limit, bson_error_t *err);
void sweepplan_page_clear(sweepplan_page_t *p);

/* The next query's body as JSON text, numbers as plain JSON integers:
 * {"mod_time": F, "sort": [{"field": "mod_time", "direction": "asc"}, {"field": "id",
 * "direction": "asc"}], "limit": L, "offset": O}. NULL once done. Free with
 * bson_free. */
char *sweepplan_query_json(const sweepplan_page_t *p, size_t *len);

/*
 * Call once for every element of the page's reply, in reply order, including ones
 * sweepplan_parse refused (with the id and mod_time it read: 0 / -1 when unknown; an
 * unknown mod_time counts at its neighbour's). Returns true when the detection was
 * already handed out at this mod_time in this sweep: skip it.
 */
bool sweepplan_seen(sweepplan_page_t *p, int64_t id, int64_t mod_time);

/* After the page's last sweepplan_seen: true when the sweep is done, with *next the
 * cursor to store; false when another query follows (sweepplan_query_json). */
bool sweepplan_page_done(sweepplan_page_t *p, sweepplan_cursor_t *next);

/* ---- 3. per detection ---- */

enum sweepplan_policy {
	SWEEPPLAN_POLICY_REPORT = 0, /* drift is reported only */
	SWEEPPLAN_POLICY_REASSERT,   /* drift on a ticketed detection is pushed again */
};

enum sweepplan_drift {
	SWEEPPLAN_DRIFT_NONE = 0,
	SWEEPPLAN_DRIFT_REPORT,   /* log and audit */
	SWEEPPLAN_DRIFT_REASSERT, /* record the desired value as due again */
};

const char *sweepplan_drift_name(enum sweepplan_drift d); /* "none", "report", "reassert" */

typedef struct sweepplan_input {
	const sweepplan_det_t *det;     /* ExtraHop's detection (E) from the page */
	/* MongoDB's detection document, read after the page was fetched. */
	bool mongo_exists;
	int64_t mongo_update_time;      /* 0 when absent */
	fields_t mongo_fields;          /* what the trigger last wrote */
	/* ticketsync's state document for the detection, read after the page. */
	bool state_exists;
	enum pushplan_state state;
	bool has_pushed;
	fields_t pushed;                /* P: last acknowledged value */
	fields_t desired;               /* D */
	int64_t state_updated_at_ms;
	/* Wall clock taken before the search request was sent. */
	int64_t fetched_at_ms;
	bool has_ticket;                /* any ticket names the detection */
	enum sweepplan_policy policy;
} sweepplan_input_t;

#define SWEEPPLAN_REASON_MAX 192

typedef struct sweepplan_decision {
	bool repair;                    /* upsert set_doc into MongoDB */
	const char *repair_reason;      /* static text; NULL without repair */
	enum sweepplan_drift drift;
	unsigned drift_mask;            /* fields_diff(E, the value compared with) */
	char reason[SWEEPPLAN_REASON_MAX]; /* why (also for NONE) */
} sweepplan_decision_t;

/*
 * Repair: MongoDB lacks the detection, or its update_time is older than ExtraHop's.
 *
 * Drift (never for a difference that may be ticketsync's own push):
 * - no state document: REPORT when ExtraHop's fields differ from MongoDB's (nothing
 *   was ever pushed, so nobody but ExtraHop's users changed them; without a ticket
 *   it is only reported, with one the reconciler owns the desired value); else NONE;
 * - pending / in_flight: NONE (a push is due or on the wire: may be its echo);
 * - parked: NONE (waiting for an operator);
 * - synced: NONE when the state moved at or after fetched_at (our just-acknowledged
 *   PATCH), or E equals P or D; otherwise REASSERT with a ticket and the reassert
 *   policy, else REPORT.
 */
void sweepplan_decide(const sweepplan_input_t *in, sweepplan_decision_t *out);

#endif
