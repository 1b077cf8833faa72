/* timefmt: ISO-8601 parsing with offsets and range checks, --since forms, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ticketsync/timefmt.h"

#define NOV1_2026 INT64_C(1793491200000) /* 2026-11-01T00:00:00Z */

static int64_t
iso(const char *s)
{
	int64_t ms = -1;

	if (!timefmt_parse_iso8601(s, &ms))
		fail_msg("\"%s\" refused", s);
	return ms;
}

static void
test_iso_forms(void **state)
{
	(void)state;
	assert_int_equal(iso("1970-01-01"), 0);
	assert_int_equal(iso("2026-11-01"), NOV1_2026);
	assert_int_equal(iso("2026-11-01T00:00"), NOV1_2026);
	assert_int_equal(iso("2026-11-01T00:00:00Z"), NOV1_2026);
	assert_int_equal(iso("2026-11-01 08:30:15"), NOV1_2026 + (8 * 3600 + 30 * 60 + 15) * 1000);
	assert_int_equal(iso("2026-11-01t00:00:00.250z"), NOV1_2026 + 250);
	assert_int_equal(iso("2026-11-01T00:00:00.5Z"), NOV1_2026 + 500);
	assert_int_equal(iso("2026-11-01T00:00:00.123456789Z"), NOV1_2026 + 123);
	assert_int_equal(iso("2026-11-01T02:00:00+02:00"), NOV1_2026);
	assert_int_equal(iso("2026-11-01T02:00:00+0200"), NOV1_2026);
	assert_int_equal(iso("2026-10-31T22:00:00-02"), NOV1_2026);
	assert_int_equal(iso("2028-02-29"), iso("2028-02-28") + 86400000);
	assert_int_equal(iso("2000-02-29T12:00:00Z") % 86400000, 12 * 3600000);
	assert_int_equal(iso("9999-12-31T23:59:59.999Z"), INT64_C(253402300799999));
}

static void
test_iso_refused(void **state)
{
	const char *bad[] = { "", "2026", "2026-11", "2026-13-01", "2026-00-10", "2026-11-31",
		"2027-02-29", "1900-02-29", "1969-12-31", "2026-11-01T24:00", "2026-11-01T10:60",
		"2026-11-01T10:00:61", "2026-11-01T10", "2026-11-01T10:00:00.", "2026-11-01X",
		"2026-11-01T10:00:00+2", "2026-11-01T10:00:00+24:00", "2026-11-01T10:00:00Zjunk",
		"26-11-01", "2026/11/01", " 2026-11-01", "1970-01-01T00:00:00+01:00" };
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (timefmt_parse_iso8601(bad[i], &ms))
			fail_msg("\"%s\" accepted as %lld", bad[i], (long long)ms);
	assert_false(timefmt_parse_iso8601(NULL, &ms));
}

static void
test_since(void **state)
{
	int64_t now = NOV1_2026, ms;
	char why[256];

	(void)state;
	assert_true(timefmt_parse_since("24h", now, &ms, why, sizeof(why)));
	assert_int_equal(ms, now - 86400000);
	assert_true(timefmt_parse_since("7d", now, &ms, why, sizeof(why)));
	assert_int_equal(ms, now - 7 * 86400000);
	assert_true(timefmt_parse_since("90m", now, &ms, why, sizeof(why)));
	assert_int_equal(ms, now - 90 * 60000);
	assert_true(timefmt_parse_since("30s", now, &ms, why, sizeof(why)));
	assert_int_equal(ms, now - 30000);
	assert_true(timefmt_parse_since("2w", now, &ms, why, sizeof(why)));
	assert_int_equal(ms, now - 14 * 86400000);
	/* Further back than the epoch is the epoch. */
	assert_true(timefmt_parse_since("999999999d", now, &ms, why, sizeof(why)));
	assert_int_equal(ms, 0);
	assert_true(timefmt_parse_since("1700000000000", now, &ms, why, sizeof(why)));
	assert_int_equal(ms, INT64_C(1700000000000));
	assert_true(timefmt_parse_since("2026-11-01", now, &ms, why, sizeof(why)));
	assert_int_equal(ms, NOV1_2026);
	assert_false(timefmt_parse_since("yesterday", now, &ms, why, sizeof(why)));
	assert_non_null(strstr(why, "\"yesterday\" is not a time"));
	assert_false(timefmt_parse_since("5y", now, &ms, why, sizeof(why)));
	assert_false(timefmt_parse_since("h", now, &ms, why, sizeof(why)));
	assert_false(timefmt_parse_since("", now, &ms, why, sizeof(why)));
	assert_false(timefmt_parse_since("-5h", now, &ms, why, sizeof(why)));
	assert_false(timefmt_parse_since("12345678901234567", now, &ms, why, sizeof(why)));
	assert_non_null(strstr(why, "too large"));
	/* A tiny buffer is never overrun. */
	assert_false(timefmt_parse_since("nope", now, &ms, why, 8));
	assert_int_equal(strlen(why), 7);
}

static void
test_format(void **state)
{
	char buf[TIMEFMT_ISO_MAX];

	(void)state;
	timefmt_format_iso8601(NOV1_2026 + 8 * 3600000 + 250, false, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-01T08:00:00Z");
	timefmt_format_iso8601(NOV1_2026 + 8 * 3600000 + 250, true, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-01T08:00:00.250Z");
	timefmt_format_iso8601(0, false, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	timefmt_format_iso8601(-1, false, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	timefmt_format_iso8601(INT64_C(253402300799999), true, buf, sizeof(buf));
	assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
	timefmt_format_iso8601(INT64_C(253402300800000), true, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	/* Round trip over leap days and month ends. */
	for (int64_t ms = iso("2023-12-30"); ms < iso("2025-03-02"); ms += 86400000 + 3723) {
		int64_t back;
		timefmt_format_iso8601(ms, true, buf, sizeof(buf));
		assert_true(timefmt_parse_iso8601(buf, &back));
		assert_int_equal(back, ms);
	}
}

static void
test_duration(void **state)
{
	char buf[TIMEFMT_DURATION_MAX];
	struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ -5, "0ms" }, { 0, "0ms" }, { 850, "850ms" }, { 1000, "1s" }, { 59999, "59s" },
		{ 60000, "1m00s" }, { 185000, "3m05s" }, { 3600000, "1h00m" },
		{ 7380000, "2h03m" }, { 86400000, "1d00h" }, { 4 * 86400000 + 7200000, "4d02h" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		timefmt_format_duration(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso_forms),
		cmocka_unit_test(test_iso_refused),
		cmocka_unit_test(test_since),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
