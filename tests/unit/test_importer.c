/* importer: CSV and JSON Lines ticket exports, every error kind with its line number,
 * quoting, CRLF, BOM, empty values as null, and merging rows of one ticket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/importer.h"

static void
parse(const char *text, enum importer_format f, importer_result_t *r)
{

	importer_parse(text, strlen(text), f, NULL, r);
}

static const importer_ticket_t *
find(const importer_result_t *r, const char *id)
{
	for (size_t i = 0; i < r->n_tickets; i++)
		if (strcmp(r->tickets[i].id, id) == 0)
			return &r->tickets[i];
	fail_msg("ticket %s not imported", id);
	return NULL;
}

/* The error reported for line, or fail. */
static const char *
error_at(const importer_result_t *r, size_t line)
{
	for (size_t i = 0; i < r->n_errors; i++)
		if (r->errors[i].line == line)
			return r->errors[i].message;
	for (size_t i = 0; i < r->n_errors; i++)
		fprintf(stderr, "  error line %zu: %s\n", r->errors[i].line, r->errors[i].message);
	fail_msg("no error reported for line %zu", line);
	return NULL;
}

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void
test_extrahop_example(void **state)
{
	importer_result_t r;
	const importer_ticket_t *t;

	(void)state;
	parse("detection_id,ticket_id,status,assignee,resolution\n"
	      "1,TK-16982,new,sally,\n"
	      "2,TK-2078,,jim,\n"
	      "3,TK-3452,,alex,\n", IMPORTER_AUTO, &r);
	assert_int_equal(r.format, IMPORTER_CSV);
	assert_false(r.file_error);
	assert_int_equal(r.rows, 3);
	assert_int_equal(r.bad_rows, 0);
	assert_int_equal(r.n_errors, 0);
	assert_int_equal(r.n_warnings, 0);
	assert_int_equal(r.n_tickets, 3);
	/* In file order. */
	assert_string_equal(r.tickets[0].id, "TK-16982");
	assert_string_equal(r.tickets[1].id, "TK-2078");
	assert_string_equal(r.tickets[2].id, "TK-3452");
	t = &r.tickets[0];
	assert_int_equal(t->n_detection_ids, 1);
	assert_int_equal(t->detection_ids[0], 1);
	assert_int_equal(t->line, 2);
	assert_string_equal(t->status, "new");
	assert_string_equal(t->assignee, "sally");
	assert_null(t->resolution);
	assert_int_equal(t->given, IMPORTER_STATUS | IMPORTER_ASSIGNEE | IMPORTER_RESOLUTION);
	/* Empty means null. */
	t = &r.tickets[1];
	assert_null(t->status);
	assert_string_equal(t->assignee, "jim");
	assert_int_equal(t->line, 3);
	assert_int_equal(r.tickets[2].detection_ids[0], 3);
	importer_result_free(&r);
}

static void
test_quoting_crlf_bom(void **state)
{
	importer_result_t r;
	const importer_ticket_t *t;

	(void)state;
	parse("\xef\xbb\xbf" "Ticket_ID , Detection_ID,Assignee,Status\r\n"
	      "\"TK-1, part two\",7,\"O'Brien, \"\"Pat\"\"\",\"In Progress\"\r\n"
	      "\"TK-2\",\"8\",\"\",  Done  \r\n"
	      "  \r\n"
	      "TK-3,9,\"  spaced  \",\"\"\r\n", IMPORTER_CSV, &r);
	assert_false(r.file_error);
	assert_int_equal(r.n_errors, 0);
	assert_int_equal(r.rows, 3);
	t = find(&r, "TK-1, part two");
	assert_int_equal(t->detection_ids[0], 7);
	assert_string_equal(t->assignee, "O'Brien, \"Pat\"");
	assert_string_equal(t->status, "In Progress");
	/* Columns left out of the header are not given; given ones in any order. */
	assert_int_equal(t->given, IMPORTER_STATUS | IMPORTER_ASSIGNEE);
	assert_null(t->resolution);
	t = find(&r, "TK-2");
	assert_null(t->assignee); /* quoted empty is empty too */
	assert_string_equal(t->status, "Done"); /* unquoted values are trimmed */
	t = find(&r, "TK-3");
	assert_int_equal(t->line, 5); /* the blank line still counts */
	assert_string_equal(t->assignee, "  spaced  "); /* quoted spaces are kept */
	assert_null(t->status);
	importer_result_free(&r);

	/* Old Mac line ends count lines too. */
	parse("detection_id,ticket_id\r1,TK-1\rabc,TK-2\r", IMPORTER_CSV, &r);
	assert_int_equal(r.n_tickets, 1);
	assert_contains(error_at(&r, 3), "detection_id \"abc\"");
	importer_result_free(&r);
}

static void
test_merging(void **state)
{
	importer_result_t r;
	const importer_ticket_t *t;

	(void)state;
	parse("detection_id,ticket_id,status,assignee,resolution,updated_at\n"
	      "5,TK-9,new,ann,,2026-11-01T00:00:00Z\n"
	      "3,TK-1,new,bob,,\n"
	      "4,TK-9,new,ann,,2026-11-01T00:00:00Z\n"
	      "5,TK-9,Done,carl,Fixed,1762000000000\n"
	      "3,TK-1,new,bob,,\n", IMPORTER_CSV, &r);
	assert_int_equal(r.n_errors, 0);
	assert_int_equal(r.rows, 5);
	assert_int_equal(r.n_tickets, 2);
	/* First appearance order. */
	assert_string_equal(r.tickets[0].id, "TK-9");
	t = find(&r, "TK-9");
	assert_int_equal(t->rows, 3);
	assert_int_equal(t->line, 2);
	assert_int_equal(t->n_detection_ids, 2);
	assert_int_equal(t->detection_ids[0], 4);
	assert_int_equal(t->detection_ids[1], 5);
	/* The later row wins, with a warning naming both lines. */
	assert_string_equal(t->status, "Done");
	assert_string_equal(t->assignee, "carl");
	assert_string_equal(t->resolution, "Fixed");
	assert_int_equal(t->updated_at_ms, INT64_C(1762000000000));
	assert_true(t->given & IMPORTER_UPDATED_AT);
	assert_true(r.n_warnings >= 3);
	assert_int_equal(r.warnings[0].line, 5);
	assert_contains(r.warnings[0].message, "from line 4");
	t = find(&r, "TK-1");
	assert_int_equal(t->n_detection_ids, 1); /* duplicates merge */
	assert_int_equal(t->rows, 2);
	/* An empty updated_at is not given (the writer uses the import time). */
	assert_false(t->given & IMPORTER_UPDATED_AT);
	importer_result_free(&r);
}

static void
test_row_errors_have_line_numbers(void **state)
{
	importer_result_t r;
	char longid[200];

	(void)state;
	memset(longid, 'X', 129);
	longid[129] = '\0';
	char *text = bson_strdup_printf(
	    "detection_id,ticket_id,status,assignee,resolution\n" /* 1 */
	    "1,TK-1,new,sally,\n"                                  /* 2 good */
	    ",TK-2,new,jim,\n"                                     /* 3 missing id */
	    "abc,TK-3,new,alex,\n"                                 /* 4 wrong type */
	    "4,,new,kim,\n"                                        /* 5 missing ticket id */
	    "5,%s,new,lee,\n"                                      /* 6 too long */
	    "6,TK-6,new\n"                                         /* 7 too few values */
	    "7,TK-7,new,x,y,z\n"                                   /* 8 too many values */
	    "8,TK-8,new,bad\xff" "byte,\n"                         /* 9 invalid UTF-8 */
	    "9,TK-9,new,tab\there,\n"                              /* 10 control character */
	    "0,TK-10,new,zero,\n"                                  /* 11 id out of range */
	    "9007199254740993,TK-11,new,big,\n"                    /* 12 id above 2^53 */
	    "12,TK-12,ne\"w,x,\n"                                  /* 13 malformed quoting */
	    "13,TK-13,new,ok,\n",                                  /* 14 good */
	    longid);

	parse(text, IMPORTER_CSV, &r);
	bson_free(text);
	assert_false(r.file_error);
	assert_int_equal(r.rows, 13);
	assert_int_equal(r.bad_rows, 11);
	assert_int_equal(r.n_errors, 11);
	assert_int_equal(r.n_tickets, 2);
	find(&r, "TK-1");
	find(&r, "TK-13");
	assert_contains(error_at(&r, 3), "missing detection_id");
	assert_contains(error_at(&r, 4), "detection_id \"abc\" is not an integer");
	assert_contains(error_at(&r, 5), "missing ticket_id");
	assert_contains(error_at(&r, 6), "at most 128");
	assert_contains(error_at(&r, 7), "3 values, but the header names 5 columns");
	assert_contains(error_at(&r, 8), "6 values");
	assert_contains(error_at(&r, 9), "not valid UTF-8");
	assert_contains(error_at(&r, 10), "control character 0x09");
	assert_contains(error_at(&r, 11), "detection_id \"0\"");
	assert_contains(error_at(&r, 12), "2^53");
	assert_contains(error_at(&r, 13), "malformed quoting");
	/* Errors come in line order. */
	for (size_t i = 1; i < r.n_errors; i++)
		assert_true(r.errors[i - 1].line < r.errors[i].line);
	importer_result_free(&r);
}

static void
test_unterminated_quote(void **state)
{
	importer_result_t r;

	(void)state;
	/* The quote on line 3 never closes: that row is bad, the rows after it are not
	 * lost (they are parsed again on their own). */
	parse("detection_id,ticket_id,status,assignee,resolution\n"
	      "1,TK-1,new,a,\n"
	      "2,TK-2,\"new,b,\n"
	      "3,TK-3,new,c,\n"
	      "4,TK-4,new,d,\n", IMPORTER_CSV, &r);
	assert_int_equal(r.n_errors, 1);
	assert_contains(error_at(&r, 3), "unterminated quoted value");
	assert_int_equal(r.bad_rows, 1);
	assert_int_equal(r.rows, 4);
	assert_int_equal(r.n_tickets, 3);
	find(&r, "TK-1");
	assert_int_equal(find(&r, "TK-3")->line, 4);
	find(&r, "TK-4");
	importer_result_free(&r);

	/* A stray quote that a later quote closes: the record runs over several lines
	 * and the message says so. */
	parse("detection_id,ticket_id,status,assignee,resolution\n"
	      "1,TK-1,\"new,a,\n"
	      "2,TK-2,new\",b,\n"
	      "3,TK-3,new,c,\n", IMPORTER_CSV, &r);
	assert_contains(error_at(&r, 2), "line break");
	assert_contains(error_at(&r, 2), "runs on to line 3");
	assert_int_equal(r.n_tickets, 1);
	find(&r, "TK-3");
	importer_result_free(&r);

	/* Unterminated in the last line, without a final newline. */
	parse("detection_id,ticket_id\n1,TK-1\n2,\"TK-2", IMPORTER_CSV, &r);
	assert_contains(error_at(&r, 3), "unterminated");
	assert_int_equal(r.n_tickets, 1);
	importer_result_free(&r);
}

static void
test_header_errors(void **state)
{
	importer_result_t r;

	(void)state;
	/* An unknown column (a typo would null every value) stops the whole file. */
	parse("detection_id,ticket_id,status,assigne,resolution\n"
	      "1,TK-1,new,sally,\n", IMPORTER_CSV, &r);
	assert_true(r.file_error);
	assert_int_equal(r.n_tickets, 0);
	assert_contains(error_at(&r, 1), "unknown column \"assigne\"");
	assert_contains(error_at(&r, 1), "nothing imported");
	importer_result_free(&r);

	parse("\n\ndetection_id,ticket_id,ticket_id\n1,TK-1,TK-1\n", IMPORTER_CSV, &r);
	assert_true(r.file_error);
	assert_contains(error_at(&r, 3), "appears twice");
	importer_result_free(&r);

	parse("detection_id,status\n1,new\n", IMPORTER_CSV, &r);
	assert_true(r.file_error);
	assert_contains(error_at(&r, 1), "no \"ticket_id\" column");
	importer_result_free(&r);

	/* No header at all: data in the first line is an unknown column. */
	parse("1,TK-1,new,sally,\n", IMPORTER_CSV, &r);
	assert_true(r.file_error);
	assert_contains(error_at(&r, 1), "unknown column \"1\"");
	importer_result_free(&r);

	parse("", IMPORTER_CSV, &r);
	assert_true(r.file_error);
	assert_contains(error_at(&r, 0), "empty");
	importer_result_free(&r);

	parse("detection_id,\"ticket_id\n1,TK-1\n", IMPORTER_CSV, &r);
	assert_true(r.file_error);
	assert_contains(error_at(&r, 1), "header has an unterminated");
	importer_result_free(&r);

	/* Only a header: nothing to do, nothing wrong. */
	parse("detection_id,ticket_id\n", IMPORTER_CSV, &r);
	assert_false(r.file_error);
	assert_int_equal(r.rows, 0);
	assert_int_equal(r.n_errors, 0);
	importer_result_free(&r);
}

static void
test_updated_at(void **state)
{
	importer_result_t r;

	(void)state;
	parse("detection_id,ticket_id,updated_at\n"
	      "1,TK-1,2026-11-01\n"
	      "2,TK-2,2026-11-01T02:00:00+02:00\n"
	      "3,TK-3,1762000000123\n"
	      "4,TK-4,yesterday\n"
	      "5,TK-5,2026-02-30\n", IMPORTER_CSV, &r);
	assert_int_equal(find(&r, "TK-1")->updated_at_ms, INT64_C(1793491200000));
	assert_int_equal(find(&r, "TK-2")->updated_at_ms, INT64_C(1793491200000));
	assert_int_equal(find(&r, "TK-3")->updated_at_ms, INT64_C(1762000000123));
	assert_int_equal(find(&r, "TK-1")->given, IMPORTER_UPDATED_AT);
	assert_contains(error_at(&r, 5), "updated_at \"yesterday\"");
	assert_contains(error_at(&r, 6), "updated_at \"2026-02-30\"");
	importer_result_free(&r);
}

static void
test_jsonl(void **state)
{
	importer_result_t r;
	const importer_ticket_t *t;

	(void)state;
	parse("{\"detection_id\": 1, \"ticket_id\": \"TK-16982\", \"status\": \"new\", \"assignee\": \"sally\", \"resolution\": null}\r\n"
	      "\n"
	      "{\"detection_ids\": [2, \"3\", 2.0], \"ticket_id\": \"TK-2078\", \"assignee\": \"jim\", \"updated_at\": {\"$date\": \"2026-11-01T00:00:00Z\"}}\n"
	      "{\"detection_id\": \"abc\", \"ticket_id\": \"TK-3\"}\n"            /* 4 wrong type */
	      "{\"detection_id\": 4, \"ticket_id\": \"TK-4\", \"priority\": 1}\n" /* 5 unknown field */
	      "{\"detection_id\": 5, \"ticket_id\": \"TK-5\", \"status\": 3}\n"   /* 6 wrong type */
	      "{\"detection_id\": 6, \"status\": \"new\"}\n"                      /* 7 missing ticket */
	      "{\"ticket_id\": \"TK-7\"}\n"                                       /* 8 missing id */
	      "{\"detection_id\": 8, \"ticket_id\": \"TK-8\"\n"                   /* 9 invalid JSON */
	      "[1, \"TK-9\"]\n"                                                   /* 10 not an object */
	      "{\"detection_id\": 10.5, \"ticket_id\": \"TK-10\"}\n"              /* 11 fraction */
	      "{\"detection_id\": 11, \"ticket_id\": \"\"}\n"                     /* 12 empty ticket */
	      "{\"detection_id\": 12, \"ticket_id\": \"TK-12\", \"assignee\": \"\"}\n", /* 13 good */
	      IMPORTER_AUTO, &r);
	assert_int_equal(r.format, IMPORTER_JSONL);
	assert_int_equal(r.rows, 12);
	assert_int_equal(r.bad_rows, 9);
	assert_int_equal(r.n_tickets, 3);
	t = find(&r, "TK-16982");
	assert_int_equal(t->given, IMPORTER_STATUS | IMPORTER_ASSIGNEE | IMPORTER_RESOLUTION);
	assert_null(t->resolution);
	t = find(&r, "TK-2078");
	assert_int_equal(t->line, 3);
	assert_int_equal(t->n_detection_ids, 2);
	assert_int_equal(t->detection_ids[1], 3);
	/* Keys left out are not given: an existing ticket keeps its status. */
	assert_int_equal(t->given, IMPORTER_ASSIGNEE | IMPORTER_UPDATED_AT);
	assert_int_equal(t->updated_at_ms, INT64_C(1793491200000));
	t = find(&r, "TK-12");
	assert_true(t->given & IMPORTER_ASSIGNEE);
	assert_null(t->assignee);
	assert_contains(error_at(&r, 4), "detection_id must be an integer");
	assert_contains(error_at(&r, 5), "unknown field \"priority\"");
	assert_contains(error_at(&r, 6), "status must be a string or null, got int32");
	assert_contains(error_at(&r, 7), "missing ticket_id");
	assert_contains(error_at(&r, 8), "missing detection_id");
	assert_contains(error_at(&r, 9), "invalid JSON: the JSON ends early");
	assert_contains(error_at(&r, 10), "not a JSON object");
	assert_contains(error_at(&r, 11), "detection_id must be an integer");
	assert_contains(error_at(&r, 12), "missing ticket_id");
	importer_result_free(&r);
}

static void
test_status_category(void **state)
{
	importer_result_t r;
	const importer_ticket_t *t;

	(void)state;
	/* Jira's status category, the status map's fallback, in both formats. */
	parse("detection_id,ticket_id,status,status_category\n"
	      "1,TK-1,Blocked: vendor,indeterminate\n"
	      "2,TK-2,Done,\n", IMPORTER_CSV, &r);
	assert_int_equal(r.n_errors, 0);
	t = find(&r, "TK-1");
	assert_string_equal(t->status_category, "indeterminate");
	assert_true(t->given & IMPORTER_STATUS_CATEGORY);
	assert_null(find(&r, "TK-2")->status_category);
	importer_result_free(&r);
	parse("{\"detection_id\": 1, \"ticket_id\": \"TK-1\", \"status_category\": \"done\"}\n"
	      "{\"detection_id\": 2, \"ticket_id\": \"TK-2\", \"status_category\": 3}\n",
	    IMPORTER_JSONL, &r);
	assert_string_equal(find(&r, "TK-1")->status_category, "done");
	assert_int_equal(find(&r, "TK-1")->given, IMPORTER_STATUS_CATEGORY);
	assert_contains(error_at(&r, 2), "status_category must be a string or null");
	importer_result_free(&r);
}

static void
test_detect_format(void **state)
{
	(void)state;
	assert_int_equal(importer_detect("a.jsonl", "x", 1), IMPORTER_JSONL);
	assert_int_equal(importer_detect("A.NDJSON", "x", 1), IMPORTER_JSONL);
	assert_int_equal(importer_detect("a.csv", "{", 1), IMPORTER_CSV);
	assert_int_equal(importer_detect("-", "\xef\xbb\xbf \n {\"a\":1}", 13), IMPORTER_JSONL);
	assert_int_equal(importer_detect(NULL, "detection_id", 12), IMPORTER_CSV);
	assert_int_equal(importer_detect(NULL, "", 0), IMPORTER_CSV);
	{
		enum importer_format f;
		assert_int_equal(importer_format_parse("jsonl", &f), 0);
		assert_int_equal(f, IMPORTER_JSONL);
		assert_int_equal(importer_format_parse("CSV", &f), 0);
		assert_int_equal(f, IMPORTER_CSV);
		assert_int_equal(importer_format_parse("xml", &f), -1);
	}
}

static void
test_too_many_ids_per_ticket(void **state)
{
	importer_result_t r;
	size_t cap = 64 + (IMPORTER_MAX_IDS_PER_TICKET + 2) * 16;
	char *text = malloc(cap);
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(text + n, cap - n, "detection_id,ticket_id\n1,TK-OK\n");
	for (int i = 1; i <= IMPORTER_MAX_IDS_PER_TICKET + 1; i++)
		n += (size_t)snprintf(text + n, cap - n, "%d,TK-BIG\n", i);
	parse(text, IMPORTER_CSV, &r);
	free(text);
	assert_int_equal(r.n_tickets, 1);
	assert_string_equal(r.tickets[0].id, "TK-OK");
	assert_contains(error_at(&r, 3), "TK-BIG lists 10001 detections");
	assert_int_equal(r.bad_rows, IMPORTER_MAX_IDS_PER_TICKET + 1);
	importer_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extrahop_example),
		cmocka_unit_test(test_quoting_crlf_bom),
		cmocka_unit_test(test_merging),
		cmocka_unit_test(test_row_errors_have_line_numbers),
		cmocka_unit_test(test_unterminated_quote),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_updated_at),
		cmocka_unit_test(test_jsonl),
		cmocka_unit_test(test_status_category),
		cmocka_unit_test(test_detect_format),
		cmocka_unit_test(test_too_many_ids_per_ticket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
