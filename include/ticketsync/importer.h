/*
 * importer: a ticket export (CSV with a header, or JSON Lines) -> the tickets to
 * upsert, plus every bad row with its line number and reason. Pure: bytes in, rows
 * out; ticketsyncctl import-tickets reads the file and ticket_import_write writes.
 *
 * CSV (RFC 4180 quoting, parsed by libcsv in strict mode): the first record is the
 * header. Columns (names case-insensitive, any order):
 *   detection_id  required  integer 1..2^53
 *   ticket_id     required  the ticket system's id, 1..FIELDS_TICKET_ID_MAX bytes
 *   status        optional  the ticket system's status name (mapped by [statusmap])
 *   status_category optional the coarse status class (Jira's statusCategory.key: new,
 *                           indeterminate, done), the status map's fallback
 *   assignee      optional
 *   resolution    optional
 *   updated_at    optional  ISO-8601 (UTC unless an offset is given) or epoch ms
 * An empty value means null. A column left out of the header is left out of the
 * write (an existing ticket keeps its value; a new one gets null). An unknown or
 * repeated column, or a missing required one, makes the whole file unusable (a typo
 * such as "assigne" would otherwise null every assignee): nothing is imported.
 *
 * JSON Lines: one object per line with the same keys, plus "detection_ids" (array)
 * instead of or with "detection_id"; ids may be numbers or decimal strings; null or
 * "" means null; updated_at may also be {"$date": ...}; an absent key is not written.
 * An unknown key is an error for that row only.
 *
 * Both: blank lines are skipped, a UTF-8 byte order mark and CRLF line ends are
 * accepted, values must be valid UTF-8 without control characters. Rows naming the
 * same ticket merge: detection ids are united; for the other fields a later row
 * overrides an earlier one (a warning names both lines when they disagree).
 */
#ifndef TICKETSYNC_IMPORTER_H
#define TICKETSYNC_IMPORTER_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum importer_format {
	IMPORTER_AUTO = 0, /* .jsonl/.ndjson -> JSONL, .csv -> CSV, else first non-blank '{' */
	IMPORTER_CSV,
	IMPORTER_JSONL,
};

/* Which optional fields a ticket sets (the rest are left alone / null when new). */
enum {
	IMPORTER_STATUS = 1u << 0,
	IMPORTER_ASSIGNEE = 1u << 1,
	IMPORTER_RESOLUTION = 1u << 2,
	IMPORTER_UPDATED_AT = 1u << 3,
	IMPORTER_STATUS_CATEGORY = 1u << 4,
};

typedef struct importer_ticket {
	char *id;
	int64_t *detection_ids;  /* sorted ascending, no duplicates, at least one */
	size_t n_detection_ids;
	unsigned given;          /* IMPORTER_* bits */
	char *status;            /* NULL = null (when given) */
	char *assignee;
	char *resolution;
	char *status_category;
	int64_t updated_at_ms;   /* when IMPORTER_UPDATED_AT is given */
	size_t line;             /* first row naming this ticket */
	size_t rows;             /* good rows merged into it */
} importer_ticket_t;

/* One message about one line ("line" 0: about the whole input). */
typedef struct importer_issue {
	size_t line;
	char *message;
} importer_issue_t;

typedef struct importer_result {
	enum importer_format format;  /* the one used */
	size_t rows;                  /* data rows read, good and bad */
	size_t bad_rows;              /* rows reported in errors */
	bool file_error;              /* the input as a whole is unusable: no tickets */
	importer_ticket_t *tickets;   /* in order of first appearance */
	size_t n_tickets;
	importer_issue_t *errors;     /* in line order */
	size_t n_errors;
	importer_issue_t *warnings;   /* merges with disagreeing values */
	size_t n_warnings;
} importer_result_t;

/* Rows beyond this many per ticket are errors (the ticket parser's bound). */
#define IMPORTER_MAX_IDS_PER_TICKET 10000

/* The format of name (a path, "-" or NULL) and data when format is IMPORTER_AUTO. */
enum importer_format importer_detect(const char *name, const char *data, size_t len);
const char *importer_format_name(enum importer_format f); /* "csv", "jsonl", "auto" */
/* "csv" / "jsonl" (also "ndjson") -> format; -1 otherwise. */
int importer_format_parse(const char *s, enum importer_format *out);

/*
 * Parse len bytes (need not be NUL-terminated) in the given format (IMPORTER_AUTO:
 * importer_detect with name). out is always initialised: free it with
 * importer_result_free. Bad input is reported in out->errors, never as a failure:
 * nothing else can go wrong (running out of memory aborts: xalloc.h).
 */
void importer_parse(const char *data, size_t len, enum importer_format format,
    const char *name, importer_result_t *out);

void importer_result_free(importer_result_t *r); /* NULL-safe; zeroes r */

#endif
