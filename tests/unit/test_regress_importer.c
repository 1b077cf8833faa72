/*
 * Regressions found by fuzzing the importer (tests/fuzz/fuzz_importer.c); each test
 * names the fuzz finding it pins. Some of these only fail loudly under the sanitizer
 * build (-DTICKETSYNC_SANITIZE=ON), where undefined behaviour aborts.
 */
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

static void
assert_error(const importer_result_t *r, size_t line, const char *needle)
{
	for (size_t i = 0; i < r->n_errors; i++) {
		if (r->errors[i].line == line && strstr(r->errors[i].message, needle) != NULL)
			return;
	}
	for (size_t i = 0; i < r->n_errors; i++)
		fprintf(stderr, "  error line %zu: %s\n", r->errors[i].line, r->errors[i].message);
	fail_msg("no error containing \"%s\" on line %zu", needle, line);
}

/*
 * fuzz_importer, crash-f5846ce1: an all-digit updated_at of more than 19 digits was
 * accumulated into an int64 before its length was checked: signed overflow
 * (importer.c imp_time_text, UBSan "1762002222222222222 * 10 cannot be represented").
 * Such a value must be refused like any other over-long epoch, in both formats.
 */
static void
test_long_digit_updated_at_is_an_error_not_an_overflow(void **state)
{
	importer_result_t r;

	(void)state;
	parse("detection_id,ticket_id,updated_at\n"
	      "1,TK-1,99999999999999999999\n"
	      "2,TK-2,17620022222222222222222222222222\n"
	      "3,TK-3,1762000000000\n",
	    IMPORTER_CSV, &r);
	assert_int_equal(r.rows, 3);
	assert_int_equal(r.bad_rows, 2);
	assert_error(&r, 2, "updated_at");
	assert_error(&r, 3, "updated_at");
	assert_int_equal(r.n_tickets, 1);
	assert_string_equal(r.tickets[0].id, "TK-3");
	assert_int_equal(r.tickets[0].updated_at_ms, 1762000000000LL);
	importer_result_free(&r);

	parse("{\"ticket_id\": \"TK-1\", \"detection_id\": 1, \"updated_at\": \"99999999999999999999\"}\n",
	    IMPORTER_JSONL, &r);
	assert_int_equal(r.bad_rows, 1);
	assert_error(&r, 1, "updated_at");
	assert_int_equal(r.n_tickets, 0);
	importer_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_digit_updated_at_is_an_error_not_an_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
