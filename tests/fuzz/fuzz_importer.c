/*
 * fuzz_importer: importer_parse on arbitrary CSV / JSON Lines exports. The format is
 * detected from the content, or forced through the file name the input's length
 * picks (none, .csv, .jsonl), so the seeds are plain export files.
 *
 * Checks: bad input is reported, never a failure; the result's own invariants (one
 * ticket per id, sorted unique detection ids, optional fields only when given,
 * errors in line order, nothing imported after a file error); and every imported
 * ticket, written the way an import writes it, passes ticket_parse: the importer may
 * never store a ticket the daemon then refuses. Imported times print and parse back.
 */
#include "fuzz_common.h"
#include "ticketsync/detection.h"
#include "ticketsync/fields.h"
#include "ticketsync/importer.h"
#include "ticketsync/statusmap.h"
#include "ticketsync/ticket.h"
#include "ticketsync/timefmt.h"

static void
check_text(const char *name, const char *s, size_t max)
{
	size_t len;

	if (s == NULL)
		return;
	len = strlen(s);
	FUZZ_CHECK(len > 0 && len <= max, "%s is %zu bytes", name, len);
	FUZZ_CHECK(fuzz_utf8(s, len), "%s is not valid UTF-8", name);
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f, "%s holds a control character",
		    name);
}

static void
append_nullable(bson_t *doc, const char *key, const char *v)
{
	if (v != NULL)
		BSON_APPEND_UTF8(doc, key, v);
	else
		BSON_APPEND_NULL(doc, key);
}

/* What the daemon will read back once the import wrote this ticket. */
static void
check_ticket_parses(const importer_ticket_t *t)
{
	bson_t doc = BSON_INITIALIZER, arr;
	ticket_t parsed;
	bson_error_t err;
	char key[16];
	const char *k;

	BSON_APPEND_UTF8(&doc, "_id", t->id);
	BSON_APPEND_ARRAY_BEGIN(&doc, "detection_ids", &arr);
	for (size_t i = 0; i < t->n_detection_ids; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		bson_append_int64(&arr, k, -1, t->detection_ids[i]);
	}
	bson_append_array_end(&doc, &arr);
	if (t->given & IMPORTER_STATUS)
		append_nullable(&doc, "status", t->status);
	if (t->given & IMPORTER_ASSIGNEE)
		append_nullable(&doc, "assignee", t->assignee);
	if (t->given & IMPORTER_RESOLUTION)
		append_nullable(&doc, "resolution", t->resolution);
	if (t->given & IMPORTER_UPDATED_AT)
		BSON_APPEND_DATE_TIME(&doc, "updated_at", t->updated_at_ms);
	BSON_APPEND_UTF8(&doc, "source", "import");
	FUZZ_CHECK(ticket_parse(&doc, &parsed, &err) == 0, "imported ticket %s refused: %s", t->id,
	    err.message);
	FUZZ_CHECK(parsed.n_detection_ids == t->n_detection_ids, "detection ids changed");
	ticket_cleanup(&parsed);
	bson_destroy(&doc);
}

static void
check_result(const importer_result_t *r)
{
	FUZZ_CHECK(r->format == IMPORTER_CSV || r->format == IMPORTER_JSONL, "format %d", (int)r->format);
	FUZZ_CHECK(r->bad_rows <= r->rows, "%zu bad rows of %zu", r->bad_rows, r->rows);
	FUZZ_CHECK(!r->file_error || r->n_tickets == 0, "file error, yet tickets");
	FUZZ_CHECK(!r->file_error || r->n_errors > 0, "file error without a message");
	FUZZ_CHECK(r->n_tickets == 0 || r->tickets != NULL, "tickets missing");
	for (size_t i = 0; i < r->n_errors; i++) {
		FUZZ_CHECK(r->errors[i].message != NULL && r->errors[i].message[0] != '\0',
		    "error %zu without a message", i);
		FUZZ_CHECK(i == 0 || r->errors[i - 1].line <= r->errors[i].line, "errors out of line order");
	}
	for (size_t i = 0; i < r->n_warnings; i++)
		FUZZ_CHECK(r->warnings[i].message != NULL, "warning %zu without a message", i);
	for (size_t i = 0; i < r->n_tickets; i++) {
		const importer_ticket_t *t = &r->tickets[i];

		FUZZ_CHECK(t->id != NULL, "ticket %zu without an id", i);
		check_text("ticket id", t->id, FIELDS_TICKET_ID_MAX);
		check_text("status", t->status, STATUSMAP_NAME_MAX);
		check_text("assignee", t->assignee, FIELDS_ASSIGNEE_MAX);
		check_text("resolution", t->resolution, STATUSMAP_NAME_MAX);
		FUZZ_CHECK((t->given & IMPORTER_STATUS) || t->status == NULL, "status not given, yet set");
		FUZZ_CHECK((t->given & IMPORTER_ASSIGNEE) || t->assignee == NULL, "assignee not given, yet set");
		FUZZ_CHECK((t->given & IMPORTER_RESOLUTION) || t->resolution == NULL,
		    "resolution not given, yet set");
		FUZZ_CHECK(t->n_detection_ids >= 1 && t->n_detection_ids <= IMPORTER_MAX_IDS_PER_TICKET,
		    "ticket %s with %zu detection ids", t->id, t->n_detection_ids);
		for (size_t j = 0; j < t->n_detection_ids; j++) {
			int64_t v = t->detection_ids[j];
			FUZZ_CHECK(v >= 1 && v <= DETECTION_ID_MAX, "detection id %lld", (long long)v);
			FUZZ_CHECK(j == 0 || t->detection_ids[j - 1] < v, "detection ids not sorted/unique");
		}
		FUZZ_CHECK(t->line >= 1 && t->rows >= 1, "ticket %s: line %zu, rows %zu", t->id, t->line,
		    t->rows);
		FUZZ_CHECK(i == 0 || r->tickets[i - 1].line < t->line, "tickets out of order");
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(r->tickets[j].id, t->id) != 0, "ticket %s twice", t->id);
		if (t->given & IMPORTER_UPDATED_AT) {
			char iso[TIMEFMT_ISO_MAX];
			int64_t back = -1;

			FUZZ_CHECK(t->updated_at_ms >= 0, "updated_at %lld", (long long)t->updated_at_ms);
			timefmt_format_iso8601(t->updated_at_ms, true, iso, sizeof(iso));
			if (strcmp(iso, "-") != 0)
				FUZZ_CHECK(timefmt_parse_iso8601(iso, &back) && back == t->updated_at_ms,
				    "%lld printed as %s reads back as %lld", (long long)t->updated_at_ms, iso,
				    (long long)back);
		}
		check_ticket_parses(t);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { NULL, "tickets.csv", "export.jsonl" };
	importer_result_t r;

	if (size > 256 * 1024)
		return 0;
	importer_parse((const char *)data, size, IMPORTER_AUTO, names[size % 3], &r);
	check_result(&r);
	importer_result_free(&r);
	FUZZ_CHECK(r.tickets == NULL && r.n_tickets == 0, "importer_result_free left tickets");
	return 0;
}
