/*
 * jsonerr: bad JSON through the real libbson parser, then its message explained; a
 * table of inputs -> explanations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <bson/bson.h>

#include "ticketsync/jsonerr.h"

static const struct {
	const char *json;
	const char *want;
} rows[] = {
	{ "{'a': 1}", "line 1, column 2: expected a value (a string in double quotes, a number, "
	    "an object, an array, true, false or null) near \"{'a': 1}\"" },
	{ "{\"a\": tru}", "line 1, column 10: an unfinished true, false or null near \"{\"a\": tru}\"" },
	{ "{\"a\": 1,}", "line 1, column 9: a comma with no member after it near \"{\"a\": 1,}\"" },
	{ "{\"a\" 1}", "line 1, column 6: expected ':' after a member's name, or ',' between "
	    "members near \"{\"a\" 1}\"" },
	{ "{\"a\": [1, 2}", "line 1, column 12: a closing bracket that does not match the open "
	    "one near \"{\"a\": [1, 2}\"" },
	{ "{\"a\": 01}", "line 1, column 8: a malformed number near \"{\"a\": 01}\"" },
	{ "{\"a\": \"\\q\"}", "line 1, column 9: an invalid escape in a string (\\\" \\\\ \\/ \\b "
	    "\\f \\n \\r \\t \\uXXXX) near \"{\"a\": \"\\q\"}\"" },
	{ "{\"a\": \"x}", "the JSON ends early (an unclosed string, object or array)" },
	/* lines and columns count characters; the text shown starts shortly before */
	{ "{\"ticket\": \"T\xc3\xa9\",\n \"status\": \"open\",\n \"x\": nul}",
	    "line 3, column 10: an unfinished true, false or null near \"...\": \"open\",  "
	    "\"x\": nul}\"" },
};

static void
test_explain_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		bson_error_t e;
		bson_t doc;
		char out[JSONERR_MAX];

		if (bson_init_from_json(&doc, rows[i].json, -1, &e)) {
			bson_destroy(&doc);
			fail_msg("row %zu: libbson accepted %s", i, rows[i].json);
		}
		jsonerr_explain(rows[i].json, strlen(rows[i].json), e.message, out, sizeof(out));
		if (strcmp(out, rows[i].want) != 0)
			fail_msg("row %zu (%s):\n libbson: %s\n got:  %s\n want: %s", i, rows[i].json,
			    e.message, out, rows[i].want);
	}
}

static void
test_other_messages_and_small_buffers(void **state)
{
	char out[JSONERR_MAX], tiny[8];

	(void)state;
	jsonerr_explain("x", 1, "something else\n", out, sizeof(out));
	assert_string_equal(out, "something else ");
	jsonerr_explain("x", 1, NULL, out, sizeof(out));
	assert_string_equal(out, "");
	/* a position past the text (never from libbson) stays inside it */
	jsonerr_explain("{}", 2, "Got parse error at \"}\", position 99: \"STRAY_TOKEN\"", out,
	    sizeof(out));
	assert_string_equal(out, "line 1, column 3: an unexpected character near \"{}\"");
	jsonerr_explain("{}", 2, "Got parse error at \"}\", position 1: \"NEW_CODE\"", out, sizeof(out));
	assert_string_equal(out, "line 1, column 2: parse error NEW_CODE near \"{}\"");
	jsonerr_explain("{}", 2, "Got parse error at \"}\", position 1: \"NEW_CODE\"", tiny, sizeof(tiny));
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explain_table),
		cmocka_unit_test(test_other_messages_and_small_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
