/*
 * log: the line format as a table (message and fields in -> line out), every line
 * read back by an independent strict logfmt reader (tests/support/tslogfmt); the cut of
 * long lines; the journald priority prefix; JOURNAL_STREAM matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <bson/bson.h>

#include "ticketsync/log.h"
#include "tslogfmt.h"

#define T0 1796702400123LL /* 2026-12-08T04:00:00.123Z */

typedef struct log_row {
	const char *name;
	bool journald;
	enum log_level level;
	const char *msg;
	log_fields_t fields;
	const char *want;
} log_row_t;

static const log_row_t rows[] = {
	{ "plain", false, LOG_LEVEL_INFO, "pusher: detection 30000 parked", { 0 },
	    "ts=2026-12-08T04:00:00.123Z level=info prog=t msg=\"pusher: detection 30000 parked\"\n" },
	{ "quotes and backslashes escaped", false, LOG_LEVEL_WARN, "said \"no\" at C:\\x", { 0 },
	    "ts=2026-12-08T04:00:00.123Z level=warn prog=t msg=\"said \\\"no\\\" at C:\\\\x\"\n" },
	{ "controls become spaces", false, LOG_LEVEL_ERROR, "a\nb\tc", { 0 },
	    "ts=2026-12-08T04:00:00.123Z level=error prog=t msg=\"a b c\"\n" },
	{ "fields after msg", false, LOG_LEVEL_WARN, "parked", { 30000, "SEC-1", 404 },
	    "ts=2026-12-08T04:00:00.123Z level=warn prog=t msg=\"parked\" detection=30000 "
	    "ticket=SEC-1 http_status=404\n" },
	{ "a field value with a space is quoted", false, LOG_LEVEL_INFO, "x", { 0, "INC 1=\"2\"", 0 },
	    "ts=2026-12-08T04:00:00.123Z level=info prog=t msg=\"x\" ticket=\"INC 1=\\\"2\\\"\"\n" },
	{ "journald: priority, no ts", true, LOG_LEVEL_WARN, "w", { 7, NULL, 0 },
	    "<4>level=warn prog=t msg=\"w\" detection=7\n" },
	{ "journald error", true, LOG_LEVEL_ERROR, "e", { 0 }, "<3>level=error prog=t msg=\"e\"\n" },
	{ "journald info", true, LOG_LEVEL_INFO, "i", { 0 }, "<6>level=info prog=t msg=\"i\"\n" },
	{ "journald debug", true, LOG_LEVEL_DEBUG, "d", { 0 }, "<7>level=debug prog=t msg=\"d\"\n" },
	{ "empty message", false, LOG_LEVEL_INFO, "", { 0 },
	    "ts=2026-12-08T04:00:00.123Z level=info prog=t msg=\"\"\n" },
};

static void
test_log_format_table(void **state)
{
	static tslogfmt_t parsed;
	char line[1024], why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const log_row_t *r = &rows[i];
		log_line_t l = { r->journald, T0, r->level, "t", r->msg, &r->fields };
		size_t n = log_format(line, sizeof(line), &l);

		if (strcmp(line, r->want) != 0)
			fail_msg("%s:\n got %s want %s", r->name, line, r->want);
		assert_int_equal(n, strlen(line));
		if (tslogfmt_parse(line, &parsed, why, sizeof(why)) != 0)
			fail_msg("%s: %s", r->name, why);
		/* The reader gets the message back, unescaped. */
		if (strchr(r->msg, '\n') == NULL && strchr(r->msg, '\t') == NULL)
			assert_string_equal(tslogfmt_get(&parsed, "msg"), r->msg);
		static const int prio[] = { 7, 6, 4, 3 };
		assert_int_equal(parsed.priority, r->journald ? prio[r->level] : -1);
	}
}

static void
test_log_long_lines_are_cut_visibly(void **state)
{
	static char msg[10000], line[4096];
	static tslogfmt_t parsed;
	char why[256];
	log_fields_t f = { 42, "SEC-42", 503 };

	(void)state;
	/* plain letters, then quotes (escaping doubles them) */
	for (int pass = 0; pass < 2; pass++) {
		memset(msg, pass == 0 ? 'a' : '"', sizeof(msg) - 1);
		log_line_t l = { false, T0, LOG_LEVEL_WARN, "t", msg, &f };
		size_t n = log_format(line, sizeof(line), &l);

		assert_true(n < sizeof(line));
		assert_int_equal(line[n - 1], '\n');
		if (tslogfmt_parse(line, &parsed, why, sizeof(why)) != 0)
			fail_msg("pass %d: %s", pass, why);
		/* the cut is marked, and the fields survive it */
		const char *m = tslogfmt_get(&parsed, "msg");
		assert_non_null(m);
		assert_string_equal(m + strlen(m) - 3, "...");
		assert_string_equal(tslogfmt_get(&parsed, "detection"), "42");
		assert_string_equal(tslogfmt_get(&parsed, "ticket"), "SEC-42");
		assert_string_equal(tslogfmt_get(&parsed, "http_status"), "503");
	}
	/* Multi-byte text cut at every alignment stays valid UTF-8, and a field that does
	 * not fit is left out whole, never cut. */
	for (int shift = 0; shift < 6; shift++) {
		static char big[12000];
		size_t at = 0;
		log_fields_t many = { 42, NULL, 503 };
		char ticket[600];

		for (int i = 0; i < shift; i++)
			big[at++] = 'x';
		while (at + 3 < 8000) {
			memcpy(big + at, "\xe2\x82\xac", 3); /* the euro sign */
			at += 3;
		}
		big[at] = '\0';
		memset(ticket, 'T', sizeof(ticket) - 1);
		ticket[sizeof(ticket) - 1] = '\0';
		many.ticket = ticket;
		log_line_t l = { false, T0, LOG_LEVEL_WARN, "t", big, &many };
		size_t n = log_format(line, sizeof(line), &l);

		assert_true(bson_utf8_validate(line, n, false));
		if (tslogfmt_parse(line, &parsed, why, sizeof(why)) != 0)
			fail_msg("shift %d: %s", shift, why);
		const char *tk = tslogfmt_get(&parsed, "ticket");
		if (tk != NULL) { /* whole: cut to the field's own 511 bytes, marked */
			assert_int_equal(strlen(tk), 511);
			assert_string_equal(tk + 508, "...");
		}
		assert_string_equal(tslogfmt_get(&parsed, "detection"), "42");
		const char *hs = tslogfmt_get(&parsed, "http_status");
		if (hs != NULL)
			assert_string_equal(hs, "503");
	}
	/* Tiny buffers: always NUL-terminated, never overrun. */
	for (size_t size = 0; size < 40; size++) {
		char small[40];
		log_line_t l = { false, T0, LOG_LEVEL_WARN, "t", "hello", &f };

		memset(small, 'X', sizeof(small));
		size_t n = log_format(small, size, &l);
		if (size > 0) {
			assert_int_equal(strlen(small), n);
			assert_true(n < size);
		}
		for (size_t j = size; j < sizeof(small); j++)
			assert_int_equal(small[j], 'X');
	}
}

static void
test_log_journal_stream(void **state)
{
	(void)state;
	assert_true(log_journal_stream_matches("8:12345", 8, 12345));
	assert_false(log_journal_stream_matches("8:12345", 8, 12346));
	assert_false(log_journal_stream_matches("9:12345", 8, 12345));
	assert_false(log_journal_stream_matches(NULL, 8, 12345));
	assert_false(log_journal_stream_matches("", 0, 0));
	assert_false(log_journal_stream_matches("8:", 8, 0));
	assert_false(log_journal_stream_matches(":1", 0, 1));
	assert_false(log_journal_stream_matches("8:1x", 8, 1));
	assert_false(log_journal_stream_matches("-8:1", 8, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_format_table),
		cmocka_unit_test(test_log_long_lines_are_cut_visibly),
		cmocka_unit_test(test_log_journal_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
