/* ticket: accepted shapes, detection_ids rules, every rejection names ticket and field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "ticketsync/statusmap.h"
#include "ticketsync/ticket.h"

static void
test_full_ticket(void **state)
{
	bson_t *doc = BCON_NEW("_id", BCON_UTF8("TK-16982"), "detection_ids", "[", BCON_INT32(3),
	    BCON_INT64(1), BCON_DOUBLE(2.0), BCON_UTF8("4"), BCON_INT32(3), BCON_UTF8("0001"), "]",
	    "status", BCON_UTF8("In Progress"), "assignee", BCON_UTF8("sally"), "resolution", BCON_NULL,
	    "updated_at", BCON_DATE_TIME(1700000000123LL), "source", BCON_UTF8("jira-webhook"), "extra",
	    BCON_INT32(1));
	ticket_t t;
	bson_error_t err;

	(void)state;
	assert_int_equal(ticket_parse(doc, &t, &err), 0);
	assert_string_equal(t.id, "TK-16982");
	/* sorted, duplicates ("3" twice, 1 and "0001") removed */
	assert_int_equal(t.n_detection_ids, 4);
	assert_int_equal(t.detection_ids[0], 1);
	assert_int_equal(t.detection_ids[1], 2);
	assert_int_equal(t.detection_ids[2], 3);
	assert_int_equal(t.detection_ids[3], 4);
	assert_true(ticket_has_detection(&t, 3));
	assert_false(ticket_has_detection(&t, 5));
	assert_string_equal(t.status, "In Progress");
	assert_string_equal(t.assignee, "sally");
	assert_null(t.resolution);
	assert_int_equal(t.updated_at, 1700000000123LL);
	assert_string_equal(t.source, "jira-webhook");
	ticket_cleanup(&t);
	assert_null(t.id);
	ticket_cleanup(&t); /* twice is harmless */
	bson_destroy(doc);
}

/* Jira's status category (written by the webhook intake) is kept for the status map's
 * fallback; null and absent both mean none. */
static void
test_status_category(void **state)
{
	bson_t *doc = BCON_NEW("_id", BCON_UTF8("OPS-7"), "status", BCON_UTF8("Waiting for QA"),
	    "status_category", BCON_UTF8("indeterminate"));
	bson_t *null_cat = BCON_NEW("_id", BCON_UTF8("OPS-8"), "status_category", BCON_NULL);
	ticket_t t;
	bson_error_t err;

	(void)state;
	assert_int_equal(ticket_parse(doc, &t, &err), 0);
	assert_string_equal(t.status, "Waiting for QA");
	assert_string_equal(t.status_category, "indeterminate");
	ticket_cleanup(&t);
	assert_null(t.status_category);
	assert_int_equal(ticket_parse(null_cat, &t, &err), 0);
	assert_null(t.status_category);
	ticket_cleanup(&t);
	bson_destroy(doc);
	bson_destroy(null_cat);
}

static void
test_minimal_ticket(void **state)
{
	bson_t *doc = BCON_NEW("_id", BCON_UTF8("X"));
	ticket_t *t = calloc(1, sizeof(*t));
	bson_error_t err;

	(void)state;
	assert_int_equal(ticket_parse(doc, t, &err), 0);
	assert_int_equal(t->n_detection_ids, 0);
	assert_false(ticket_has_detection(t, 1));
	assert_null(t->status);
	assert_null(t->status_category);
	assert_null(t->assignee);
	assert_null(t->source);
	assert_int_equal(t->updated_at, 0);
	ticket_destroy(t);
	ticket_destroy(NULL);
	bson_destroy(doc);
}

static void
expect_updated(bson_t *doc, int64_t want)
{
	ticket_t t;
	bson_error_t err;

	if (ticket_parse(doc, &t, &err) != 0)
		fail_msg("unexpected error: %s", err.message);
	assert_int_equal(t.updated_at, want);
	ticket_cleanup(&t);
	bson_destroy(doc);
}

static void
test_updated_at_types(void **state)
{
	(void)state;
	expect_updated(BCON_NEW("_id", BCON_UTF8("A"), "updated_at", BCON_DATE_TIME(5)), 5);
	expect_updated(BCON_NEW("_id", BCON_UTF8("A"), "updated_at", BCON_INT64(1700000000000LL)),
	    1700000000000LL);
	expect_updated(BCON_NEW("_id", BCON_UTF8("A"), "updated_at", BCON_INT32(0)), 0);
	expect_updated(BCON_NEW("_id", BCON_UTF8("A"), "updated_at", BCON_DOUBLE(1700000000001.0)),
	    1700000000001LL);
	expect_updated(BCON_NEW("_id", BCON_UTF8("A"), "updated_at", BCON_NULL), 0);
}

static void
test_detection_id_types(void **state)
{
	bson_t *doc = BCON_NEW("_id", BCON_UTF8("A"), "detection_ids", "[", BCON_INT32(INT32_MAX),
	    BCON_INT64(9007199254740992LL), BCON_DOUBLE(9007199254740992.0), BCON_UTF8("9007199254740991"),
	    "]");
	ticket_t t;
	bson_error_t err;

	(void)state;
	assert_int_equal(ticket_parse(doc, &t, &err), 0);
	assert_int_equal(t.n_detection_ids, 3);
	assert_int_equal(t.detection_ids[0], INT32_MAX);
	assert_int_equal(t.detection_ids[1], 9007199254740991LL);
	assert_int_equal(t.detection_ids[2], 9007199254740992LL);
	ticket_cleanup(&t);
	bson_destroy(doc);
}

static void
expect_error(bson_t *doc, const char *n1, const char *n2)
{
	ticket_t t;
	bson_error_t err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(ticket_parse(doc, &t, &err), -1);
	if (strstr(err.message, n1) == NULL || (n2 && strstr(err.message, n2) == NULL))
		fail_msg("message \"%s\" lacks \"%s\"/\"%s\"", err.message, n1, n2 ? n2 : "");
	/* nothing left to free */
	assert_null(t.id);
	assert_null(t.detection_ids);
	assert_null(t.status);
	bson_destroy(doc);
}

static void
test_bad_ids(void **state)
{
	char big[FIELDS_TICKET_ID_MAX + 2];
	bson_t doc;

	(void)state;
	expect_error(BCON_NEW("status", BCON_UTF8("new")), "ticket: _id is missing", NULL);
	expect_error(BCON_NEW("_id", BCON_INT32(5)), "ticket: _id must be a string", "got int32");
	expect_error(BCON_NEW("_id", BCON_UTF8("")), "ticket: _id is empty", NULL);
	memset(big, 'T', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_error(BCON_NEW("_id", BCON_UTF8(big)), "ticket: _id is longer than 128 bytes", NULL);
	big[FIELDS_TICKET_ID_MAX] = '\0';
	{
		bson_t *ok = BCON_NEW("_id", BCON_UTF8(big));
		ticket_t t;
		bson_error_t err;

		assert_int_equal(ticket_parse(ok, &t, &err), 0);
		ticket_cleanup(&t);
		bson_destroy(ok);
	}
	bson_init(&doc);
	bson_append_utf8(&doc, "_id", -1, "TK\xff", 3);
	expect_error(bson_copy(&doc), "ticket: _id is not valid UTF-8", NULL);
	bson_destroy(&doc);
}

static void
test_bad_detection_ids(void **state)
{
	(void)state;
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", BCON_INT32(3)),
	    "ticket TK-1: detection_ids must be an array", "got int32");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_INT32(1), BCON_DOUBLE(2.5), "]"),
	    "ticket TK-1: detection_ids[1] must be an integer", "2.5");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_INT32(-1), "]"),
	    "detection_ids[0]", "got -1");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_INT32(0), "]"),
	    "detection_ids[0]", "got 0");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_DOUBLE(NAN), "]"),
	    "detection_ids[0]", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_INT64(9007199254740993LL), "]"),
	    "detection_ids[0]", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_BOOL(true), "]"),
	    "detection_ids[0]", "got bool");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", "{", "}", "]"),
	    "detection_ids[0]", "got object");
	/* strings: decimal digits only */
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_UTF8("12a"), "]"),
	    "ticket TK-1: detection_ids[0] must be a detection id", "\"12a\"");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_UTF8(""), "]"),
	    "detection_ids[0]", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_UTF8("-5"), "]"),
	    "detection_ids[0]", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_UTF8(" 5"), "]"),
	    "detection_ids[0]", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_UTF8("+5"), "]"),
	    "detection_ids[0]", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_UTF8("0"), "]"),
	    "detection_ids[0]", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_UTF8("9007199254740993"), "]"),
	    "detection_ids[0]", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-1"), "detection_ids", "[", BCON_UTF8("99999999999999999999"), "]"),
	    "detection_ids[0]", NULL);
}

static void
test_detection_ids_limit(void **state)
{
	for (int n = TICKET_DETECTION_IDS_MAX; n <= TICKET_DETECTION_IDS_MAX + 1; n++) {
		bson_t doc, arr;
		ticket_t t;
		bson_error_t err;

		(void)state;
		bson_init(&doc);
		BSON_APPEND_UTF8(&doc, "_id", "BIG");
		BSON_APPEND_ARRAY_BEGIN(&doc, "detection_ids", &arr);
		for (int i = 0; i < n; i++) {
			const char *key;
			char buf[16];

			bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
			BSON_APPEND_INT32(&arr, key, (n - i) / 2 + 1); /* every id twice, reversed */
		}
		bson_append_array_end(&doc, &arr);
		if (n == TICKET_DETECTION_IDS_MAX) {
			assert_int_equal(ticket_parse(&doc, &t, &err), 0);
			assert_int_equal(t.n_detection_ids, n / 2 + 1);
			for (size_t i = 1; i < t.n_detection_ids; i++)
				assert_true(t.detection_ids[i - 1] < t.detection_ids[i]);
			ticket_cleanup(&t);
			bson_destroy(&doc);
		} else {
			expect_error(bson_copy(&doc), "ticket BIG: detection_ids has 10001 items, at most 10000",
			    NULL);
			bson_destroy(&doc);
		}
	}
}

static void
expect_bad_string(const char *field, const char *value, uint32_t len, const char *needle)
{
	bson_t doc;
	char want[64];

	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "TK-9");
	bson_append_utf8(&doc, field, -1, value, (int)len);
	snprintf(want, sizeof(want), "ticket TK-9: %s", field);
	expect_error(bson_copy(&doc), want, needle);
	bson_destroy(&doc);
}

static void
test_bad_fields(void **state)
{
	static const char *const fields[] = { "status", "assignee", "resolution", "source",
		"status_category" };
	char big[FIELDS_ASSIGNEE_MAX + 2];

	(void)state;
	memset(big, 'a', sizeof(big));
	for (size_t i = 0; i < 5; i++) {
		expect_bad_string(fields[i], "x\xff", 2, "not valid UTF-8");
		expect_bad_string(fields[i], "x\0y", 3, "not valid UTF-8");
	}
	expect_bad_string("status", big, STATUSMAP_NAME_MAX + 1, "longer than 128 bytes");
	expect_bad_string("resolution", big, STATUSMAP_NAME_MAX + 1, "longer than 128 bytes");
	expect_bad_string("status_category", big, STATUSMAP_NAME_MAX + 1, "longer than 128 bytes");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-9"), "status_category", "{", "key", BCON_UTF8("done"),
	    "}"), "ticket TK-9: status_category must be a string or null, got object", NULL);
	expect_bad_string("assignee", big, FIELDS_ASSIGNEE_MAX + 1, "longer than 256 bytes");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-9"), "status", BCON_INT32(2)),
	    "ticket TK-9: status must be a string or null, got int32", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-9"), "assignee", "{", "name", BCON_UTF8("x"), "}"),
	    "ticket TK-9: assignee must be a string or null, got object", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-9"), "resolution", BCON_BOOL(true)),
	    "ticket TK-9: resolution", "got bool");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-9"), "source", BCON_INT32(1)), "ticket TK-9: source",
	    "got int32");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-9"), "updated_at", BCON_UTF8("yesterday")),
	    "ticket TK-9: updated_at must be a date or epoch ms, got string", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-9"), "updated_at", BCON_INT64(-5)),
	    "ticket TK-9: updated_at", "got -5");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-9"), "updated_at", BCON_DOUBLE(1.25)),
	    "ticket TK-9: updated_at", "1.25");
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-9"), "updated_at", BCON_DATE_TIME(-1)),
	    "ticket TK-9: updated_at is before 1970", NULL);
	/* an error after allocations frees them (ASan checks) */
	expect_error(BCON_NEW("_id", BCON_UTF8("TK-9"), "detection_ids", "[", BCON_INT32(1), "]", "status",
	    BCON_UTF8("x"), "assignee", BCON_UTF8("y"), "source", BCON_UTF8("z"), "resolution",
	    BCON_INT32(1)), "resolution", NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_ticket),
		cmocka_unit_test(test_minimal_ticket),
		cmocka_unit_test(test_status_category),
		cmocka_unit_test(test_updated_at_types),
		cmocka_unit_test(test_detection_id_types),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_bad_detection_ids),
		cmocka_unit_test(test_detection_ids_limit),
		cmocka_unit_test(test_bad_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
