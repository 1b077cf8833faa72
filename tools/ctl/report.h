/*
 * report: what ticketsyncctl prints. Aligned tables for people, JSON (through libbson)
 * for scripts, progress lines and the summaries of status, audit and backfill. Text
 * that came from elsewhere (audit messages quote remote servers) is made safe for a
 * terminal: control characters become spaces, invalid UTF-8 becomes '?'.
 *
 * Only the *_print functions write (to the FILE given); the rest build strings or
 * documents.
 */
#ifndef TICKETSYNC_REPORT_H
#define TICKETSYNC_REPORT_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ticketsync/overview.h"
#include "ticketsync/refresh.h"
#include "ticketsync/text.h"

/* ---- tables ---- */

typedef struct report_table report_table_t;

/* ncols headers. Never NULL. */
report_table_t *report_table_new(size_t ncols, const char *const *headers);
/* Cells of column col are cut to max_width characters ("..." at the end); 0 = no cap. */
void report_table_set_max_width(report_table_t *t, size_t col, size_t max_width);
/* Numbers read better right-aligned. */
void report_table_set_right(report_table_t *t, size_t col);
/* Append a row of ncols cells (copied; NULL is written as "-"). */
void report_table_add(report_table_t *t, const char *const *cells);
size_t report_table_rows(const report_table_t *t);
/* Columns two spaces apart, padded by display width; the last one is not padded. */
void report_table_print(const report_table_t *t, FILE *out);
void report_table_free(report_table_t *t); /* NULL-safe */

/* text_sanitize's flags for text bound for a terminal (cells, ticketsyncctl's
 * messages): controls -> ' ' (no escape sequences), a cut ends in "...", and the
 * room for "..." is always kept, as report's tables always did. */
#define REPORT_TEXT_FLAGS (TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS | TEXT_ELLIPSIS_RESERVED)
/* Display width in characters (code points) of UTF-8 text. */
size_t report_width(const char *s);

/* ---- JSON ---- */

/* One line of relaxed extended JSON (plain numbers for int64) and a newline. */
void report_json_print(FILE *out, const bson_t *doc);

/* ---- progress ---- */

/*
 * One progress line for done of total items (total 0: unknown) after elapsed_ms.
 * bar: for a terminal, "[#######.............]  35%  35,000/100,000  4,210/s  ETA 15s";
 * otherwise "progress: 35000/100000 detections (35%), 4210/s, 8s elapsed".
 */
void report_progress_text(char *buf, size_t buflen, uint64_t done, uint64_t total,
    int64_t elapsed_ms, bool bar, const char *unit);

/* ---- backfill ---- */

/* "scanned 100000, in sync 90000, queued 9000, unchanged 0, unmapped 10, rejected 2,
 * no ticket 900, missing 0" */
void report_refresh_summary(const refresh_stats_t *s, char *buf, size_t buflen);
/* The unmapped statuses met, most frequent first, or "" when none:
 * "unmapped statuses (nothing pushed for them; add them under [statusmap]):
 *  \"Waiting for vendor\" 300, \"null\" 2; 5 more in other statuses" */
void report_unmapped_summary(const refresh_stats_t *s, char *buf, size_t buflen);

/* ---- status ---- */

void report_status_print(FILE *out, const overview_t *o);
/* {now, pending, in_flight, synced, parked, due, oldest_pending_age_ms, parked_list:
 * [...], last_push: {...}|null, checkpoint: {...}|null, events: {name: count}};
 * times as ISO-8601 strings. out initialised here. */
void report_status_json(const overview_t *o, bson_t *out);

/* ---- audit ---- */

#define REPORT_AUDIT_COLS 8
#define REPORT_CELL_MAX 512
extern const char *const report_audit_headers[REPORT_AUDIT_COLS];
/* A ticketsync_audit record as table cells: time, event, detection, ticket, http,
 * version/attempt ("3/2": version 3, attempt 2), fields (what was sent:
 * "status=closed resolution=action_taken", null as "null"), message. */
void report_audit_cells(const bson_t *rec, char cells[REPORT_AUDIT_COLS][REPORT_CELL_MAX]);
/* An audit table with the columns above (message capped for the terminal). */
report_table_t *report_audit_table_new(void);
/* The record for scripts: at as an ISO-8601 string, numbers plain, _id dropped.
 * out initialised here. */
void report_audit_json(const bson_t *rec, bson_t *out);

#endif
