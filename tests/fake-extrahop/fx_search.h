/*
 * fx_search: POST /api/v1/detections/search over the store.
 *
 * Body (every key optional; unknown keys are a 400, as careless queries should be):
 *   filter: {status[], assignee[], ticket_id[], resolution[], categories[], types[],
 *            risk_score_min}; within a list any value matches, ".none" matches null;
 *            lists are ANDed together.
 *   from / until: detections ending at or after `from`, starting at or before `until`;
 *   mod_time: detections modified at or after it. Negative times are relative to now
 *   (ms), as ExtraHop allows.
 *   limit (1..20000, default 1000), offset (>= 0),
 *   sort: [{field, direction: "asc"|"desc"}] (id ascending breaks ties; it is also the
 *   default order), id_only: true -> an array of ids instead of objects.
 * Raw search records (test-only, fx_store_add_raw) take part like detections, through
 * the fields read from them leniently (see fx_store.h), after detections of their id.
 * Pure logic.
 */
#ifndef FX_SEARCH_H
#define FX_SEARCH_H

#include "fx_store.h"

typedef struct fx_search_result {
	fx_detection_t **items; /* in reply order; owned by the result, not the detections */
	size_t n;
	size_t total_matched;
	bool id_only;
} fx_search_result_t;

/* 0, or -1 with a message for the 400 reply. Always call fx_search_result_free. */
int fx_search_run(fx_store_t *s, const char *body, size_t len, int64_t now_ms,
    fx_search_result_t *res, bson_error_t *error);
void fx_search_result_free(fx_search_result_t *res);

#endif
