/* report (terminal-safe text, aligned tables, progress, summaries) and the pure parts
 * of overview (resume token time) and tickets (the upsert document, the no-op test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/overview.h"
#include "ticketsync/ticket_import.h"

#include "report.h"

static void
test_sanitize(void **state)
{
	char buf[64];

	(void)state;
	text_sanitize(buf, sizeof(buf), "plain", TEXT_STRLEN, 0, REPORT_TEXT_FLAGS);
	assert_string_equal(buf, "plain");
	/* Controls become spaces, invalid bytes '?', valid multibyte text stays. */
	text_sanitize(buf, sizeof(buf), "a\nb\033[31mc\xff\xc3(d", TEXT_STRLEN, 0, REPORT_TEXT_FLAGS);
	assert_string_equal(buf, "a b [31mc?" "?(d");
	text_sanitize(buf, sizeof(buf), "Zoë Ångström", TEXT_STRLEN, 0, REPORT_TEXT_FLAGS);
	assert_string_equal(buf, "Zoë Ångström");
	/* Cut by characters, never inside one, with "...". */
	text_sanitize(buf, sizeof(buf), "ÅÅÅÅÅÅÅÅÅÅ", TEXT_STRLEN, 6, REPORT_TEXT_FLAGS);
	assert_string_equal(buf, "ÅÅÅ...");
	text_sanitize(buf, sizeof(buf), "exactly6", TEXT_STRLEN, 8, REPORT_TEXT_FLAGS);
	assert_string_equal(buf, "exactly6");
	/* A small buffer is never overrun, and the cut is marked. */
	text_sanitize(buf, 8, "0123456789", TEXT_STRLEN, 0, REPORT_TEXT_FLAGS);
	assert_string_equal(buf, "0123...");
	text_sanitize(buf, sizeof(buf), NULL, TEXT_STRLEN, 0, REPORT_TEXT_FLAGS);
	assert_string_equal(buf, "");
	assert_int_equal(report_width("Ångström"), 8);
}

static char *
table_text(report_table_t *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	report_table_print(t, f);
	fclose(f);
	return text;
}

static void
test_table_alignment(void **state)
{
	static const char *const h[] = { "ID", "NAME", "NOTE" };
	report_table_t *t = report_table_new(3, h);
	char *text;

	(void)state;
	report_table_set_right(t, 0);
	report_table_set_max_width(t, 2, 10);
	report_table_add(t, (const char *const[]){ "7", "Zoë", "short" });
	report_table_add(t, (const char *const[]){ "12345", "Al", "a note that is far too long" });
	report_table_add(t, (const char *const[]){ "3", NULL, "tab\there" });
	assert_int_equal(report_table_rows(t), 3);
	text = table_text(t);
	/* Widths by characters (Zoë is 3), numbers right-aligned, the last column unpadded,
	 * NULL as "-", long cells cut, controls blanked. */
	assert_string_equal(text,
	    "   ID  NAME  NOTE\n"
	    "    7  Zoë   short\n"
	    "12345  Al    a note ...\n"
	    "    3  -     tab here\n");
	free(text);
	report_table_free(t);
	report_table_free(NULL);
}

static void
test_progress(void **state)
{
	char buf[256];

	(void)state;
	report_progress_text(buf, sizeof(buf), 45000, 100000, 10000, true, "detections");
	assert_string_equal(buf, "[#########...........]  45%  45,000/100,000 detections  4,500/s  ETA 12s");
	report_progress_text(buf, sizeof(buf), 100000, 100000, 20000, true, "detections");
	assert_string_equal(buf, "[####################] 100%  100,000/100,000 detections  5,000/s  ETA -");
	report_progress_text(buf, sizeof(buf), 45000, 100000, 10000, false, "detections");
	assert_string_equal(buf, "progress: 45000/100000 detections (45%), 4500/s, 10s elapsed");
	/* Total unknown, nothing done yet: no division by zero. */
	report_progress_text(buf, sizeof(buf), 0, 0, 0, false, NULL);
	assert_string_equal(buf, "progress: 0 items, 0/s, 0ms elapsed");
	report_progress_text(buf, sizeof(buf), 7, 0, 0, true, "x");
	assert_string_equal(buf, "7 x  0/s  0ms");
}

static void
test_refresh_summary(void **state)
{
	refresh_stats_t s = { .scanned = 10, .missing = 1, .in_sync = 2, .queued = 3,
		.unchanged = 4, .no_ticket = 5, .unmapped = 6, .rejected = 7 };
	char buf[256];

	(void)state;
	report_refresh_summary(&s, buf, sizeof(buf));
	assert_string_equal(buf, "scanned 10, in sync 2, queued 3, unchanged 4, unmapped 6, "
	    "rejected 7, no ticket 5, missing 1");
	report_unmapped_summary(&s, buf, sizeof(buf));
	assert_string_equal(buf, "");
	s.n_unmapped_statuses = 3;
	s.unmapped_statuses[0].count = 1;
	strcpy(s.unmapped_statuses[0].status, "null");
	s.unmapped_statuses[1].count = 300;
	strcpy(s.unmapped_statuses[1].status, "Waiting for vendor");
	s.unmapped_statuses[2].count = 1;
	strcpy(s.unmapped_statuses[2].status, "Blocked");
	report_unmapped_summary(&s, buf, sizeof(buf));
	assert_string_equal(buf, "unmapped statuses (nothing pushed for them; add them under "
	    "[statusmap]): \"Waiting for vendor\" 300, \"Blocked\" 1, \"null\" 1");
	s.unmapped_other = 5;
	report_unmapped_summary(&s, buf, 40);
	assert_int_equal(strlen(buf), 39); /* cut to the buffer, never past it */
	report_unmapped_summary(&s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"null\" 1; 5 more in other statuses"));
}

static void
test_audit_cells_and_json(void **state)
{
	bson_t *rec = BCON_NEW("at", BCON_DATE_TIME(INT64_C(1793491200000)), "event", "retry",
	    "detection_id", BCON_INT64(42), "ticket_id", "TK-9", "version", BCON_INT64(3),
	    "attempt", BCON_INT32(2), "http_status", BCON_INT32(503), "fields", "{", "status",
	    "closed", "resolution", "action_taken", "assignee", BCON_NULL, "}", "message", "busy\r\n");
	char cells[REPORT_AUDIT_COLS][REPORT_CELL_MAX];
	bson_t out;
	bson_iter_t it;

	(void)state;
	report_audit_cells(rec, cells);
	assert_string_equal(cells[0], "2026-11-01T00:00:00Z");
	assert_string_equal(cells[1], "retry");
	assert_string_equal(cells[2], "42");
	assert_string_equal(cells[3], "TK-9");
	assert_string_equal(cells[4], "503");
	assert_string_equal(cells[5], "3/2");
	assert_string_equal(cells[6], "status=closed resolution=action_taken assignee=null");
	assert_string_equal(cells[7], "busy  ");
	report_audit_json(rec, &out);
	assert_true(bson_iter_init_find(&it, &out, "at"));
	assert_string_equal(bson_iter_utf8(&it, NULL), "2026-11-01T00:00:00.000Z");
	assert_true(bson_iter_init_find(&it, &out, "detection_id"));
	assert_int_equal(bson_iter_int64(&it), 42);
	bson_destroy(&out);
	bson_destroy(rec);

	/* A record with only the required fields shows dashes. */
	rec = BCON_NEW("at", BCON_DATE_TIME(0), "event", "rescan");
	report_audit_cells(rec, cells);
	assert_string_equal(cells[2], "-");
	assert_string_equal(cells[5], "-");
	assert_string_equal(cells[6], "-");
	assert_string_equal(cells[7], "-");
	bson_destroy(rec);
}

static void
test_token_time(void **state)
{
	int64_t ms;
	bson_t *tok;

	(void)state;
	/* 0x6A1234AB seconds, increment 1, then the rest of the KeyString. */
	tok = BCON_NEW("_data", "826A1234AB000000012B0229296E04");
	assert_true(overview_token_time_ms(tok, &ms));
	assert_int_equal(ms, INT64_C(0x6A1234AB) * 1000);
	bson_destroy(tok);
	tok = BCON_NEW("_data", "826a1234ab000000012b");
	assert_true(overview_token_time_ms(tok, &ms));
	assert_int_equal(ms, INT64_C(0x6A1234AB) * 1000);
	bson_destroy(tok);
	for (const char *const *bad = (const char *const[]){ "", "82", "8100000000000000001",
	         "82XYZ00000000000001", NULL }; *bad; bad++) {
		tok = BCON_NEW("_data", *bad);
		assert_false(overview_token_time_ms(tok, &ms));
		bson_destroy(tok);
	}
	tok = BCON_NEW("_data", BCON_INT32(5));
	assert_false(overview_token_time_ms(tok, &ms));
	bson_destroy(tok);
	assert_false(overview_token_time_ms(NULL, &ms));
}

static void
test_ticket_update_document(void **state)
{
	int64_t ids[] = { 3, 9 };
	importer_ticket_t t = { .id = "TK-1", .detection_ids = ids, .n_detection_ids = 2,
		.given = IMPORTER_STATUS | IMPORTER_ASSIGNEE, .status = "Done", .assignee = NULL };
	bson_t upd;
	char *json;

	(void)state;
	ticket_import_build_update(&t, INT64_C(1793491200000), NULL, &upd);
	json = bson_as_canonical_extended_json(&upd, NULL);
	assert_string_equal(json,
	    "{ \"$addToSet\" : { \"detection_ids\" : { \"$each\" : [ { \"$numberLong\" : \"3\" }, "
	    "{ \"$numberLong\" : \"9\" } ] } }, \"$set\" : { \"status\" : \"Done\", \"assignee\" : "
	    "null, \"updated_at\" : { \"$date\" : { \"$numberLong\" : \"1793491200000\" } }, "
	    "\"source\" : \"import\" }, \"$setOnInsert\" : { \"resolution\" : null } }");
	bson_free(json);
	bson_destroy(&upd);

	/* Every field given, with the file's updated_at: no $setOnInsert. */
	t.given = IMPORTER_STATUS | IMPORTER_ASSIGNEE | IMPORTER_RESOLUTION | IMPORTER_UPDATED_AT;
	t.updated_at_ms = 5;
	ticket_import_build_update(&t, 99, "jira-export", &upd);
	json = bson_as_canonical_extended_json(&upd, NULL);
	assert_null(strstr(json, "$setOnInsert"));
	/* status_category is optional in the schema: absent unless the file has it. */
	assert_null(strstr(json, "status_category"));
	assert_non_null(strstr(json, "\"source\" : \"jira-export\""));
	assert_non_null(strstr(json, "\"$numberLong\" : \"5\""));
	bson_free(json);
	bson_destroy(&upd);
}

static void
test_ticket_noop(void **state)
{
	int64_t stored_ids[] = { 1, 3, 9 }, ids[] = { 3, 9 }, other[] = { 4 };
	ticket_t stored = { .id = "TK-1", .detection_ids = stored_ids, .n_detection_ids = 3,
		.status = "Done", .assignee = NULL, .resolution = "Fixed", .updated_at = 5 };
	importer_ticket_t t = { .id = "TK-1", .detection_ids = ids, .n_detection_ids = 2,
		.given = IMPORTER_STATUS | IMPORTER_ASSIGNEE, .status = "Done", .assignee = NULL };

	(void)state;
	assert_false(ticket_import_is_noop(&t, NULL));
	assert_true(ticket_import_is_noop(&t, &stored));
	/* A field not given is not compared. */
	t.resolution = "Other";
	assert_true(ticket_import_is_noop(&t, &stored));
	t.given |= IMPORTER_RESOLUTION;
	assert_false(ticket_import_is_noop(&t, &stored));
	t.resolution = "Fixed";
	t.given |= IMPORTER_UPDATED_AT;
	t.updated_at_ms = 6;
	assert_false(ticket_import_is_noop(&t, &stored));
	t.updated_at_ms = 5;
	assert_true(ticket_import_is_noop(&t, &stored));
	t.assignee = "kim";
	assert_false(ticket_import_is_noop(&t, &stored));
	t.assignee = NULL;
	t.given |= IMPORTER_STATUS_CATEGORY;
	t.status_category = "done";
	assert_false(ticket_import_is_noop(&t, &stored));
	stored.status_category = "done";
	assert_true(ticket_import_is_noop(&t, &stored));
	/* A detection id not stored yet is a change. */
	t.detection_ids = other;
	t.n_detection_ids = 1;
	assert_false(ticket_import_is_noop(&t, &stored));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_table_alignment),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_refresh_summary),
		cmocka_unit_test(test_audit_cells_and_json),
		cmocka_unit_test(test_token_time),
		cmocka_unit_test(test_ticket_update_document),
		cmocka_unit_test(test_ticket_noop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
