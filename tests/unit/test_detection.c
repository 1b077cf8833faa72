/* detection: accepted id/time types, every rejection names the detection and field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "ticketsync/detection.h"

/* A full, valid document as our trigger writes it. */
static void
build_full(bson_t *doc)
{
	bson_t arr, obj;

	bson_init(doc);
	BSON_APPEND_INT64(doc, "_id", 4294967297LL);
	BSON_APPEND_UTF8(doc, "title", "Spike in SMB file transfers");
	BSON_APPEND_UTF8(doc, "description", "A **large** transfer.");
	BSON_APPEND_UTF8(doc, "type", "smb_transfer_spike");
	BSON_APPEND_ARRAY_BEGIN(doc, "categories", &arr);
	BSON_APPEND_UTF8(&arr, "0", "sec.attack");
	BSON_APPEND_UTF8(&arr, "1", "sec.exfil");
	bson_append_array_end(doc, &arr);
	BSON_APPEND_INT32(doc, "risk_score", 83);
	BSON_APPEND_DOUBLE(doc, "start_time", 1700000000000.0);
	BSON_APPEND_INT64(doc, "end_time", 1700000060000LL);
	BSON_APPEND_INT64(doc, "update_time", 1700000070000LL);
	BSON_APPEND_INT64(doc, "mod_time", 1700000080000LL);
	BSON_APPEND_UTF8(doc, "status", "closed");
	BSON_APPEND_UTF8(doc, "assignee", "sally");
	BSON_APPEND_UTF8(doc, "ticket_id", "TK-16982");
	BSON_APPEND_UTF8(doc, "resolution", "action_taken");
	BSON_APPEND_ARRAY_BEGIN(doc, "participants", &arr);
	BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &obj);
	BSON_APPEND_UTF8(&obj, "role", "offender");
	BSON_APPEND_INT64(&obj, "object_id", 12);
	bson_append_document_end(&arr, &obj);
	bson_append_array_end(doc, &arr);
	BSON_APPEND_ARRAY_BEGIN(doc, "mitre_techniques", &arr);
	BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &obj);
	BSON_APPEND_UTF8(&obj, "id", "T1048");
	bson_append_document_end(&arr, &obj);
	bson_append_array_end(doc, &arr);
	BSON_APPEND_ARRAY_BEGIN(doc, "mitre_tactics", &arr);
	bson_append_array_end(doc, &arr);
	BSON_APPEND_UTF8(doc, "appliance_id", "extra fields are fine");
	BSON_APPEND_BOOL(doc, "is_user_created", false);
}

static void
test_full_document(void **state)
{
	bson_t doc;
	detection_t d;
	bson_error_t err;

	(void)state;
	build_full(&doc);
	assert_int_equal(detection_parse(&doc, &d, &err), 0);
	assert_int_equal(d.id, 4294967297LL);
	assert_string_equal(d.title, "Spike in SMB file transfers");
	assert_string_equal(d.type, "smb_transfer_spike");
	assert_true(d.has_risk_score);
	assert_true(d.risk_score == 83.0);
	assert_int_equal(d.start_time, 1700000000000LL);
	assert_int_equal(d.end_time, 1700000060000LL);
	assert_int_equal(d.update_time, 1700000070000LL);
	assert_int_equal(d.mod_time, 1700000080000LL);
	assert_true(d.fields.has_ticket_id);
	assert_string_equal(d.fields.ticket_id, "TK-16982");
	assert_true(d.fields.has_assignee);
	assert_string_equal(d.fields.assignee, "sally");
	assert_int_equal(d.fields.status, FIELDS_STATUS_CLOSED);
	assert_int_equal(d.fields.resolution, FIELDS_RESOLUTION_ACTION_TAKEN);
	bson_destroy(&doc);
}

static void
test_minimal_and_nulls(void **state)
{
	bson_t *doc = BCON_NEW("_id", BCON_INT32(7), "title", BCON_NULL, "risk_score", BCON_NULL,
	    "status", BCON_NULL, "assignee", BCON_NULL, "ticket_id", BCON_NULL, "resolution", BCON_NULL,
	    "categories", BCON_NULL, "update_time", BCON_NULL);
	detection_t d;
	bson_error_t err;

	(void)state;
	assert_int_equal(detection_parse(doc, &d, &err), 0);
	assert_int_equal(d.id, 7);
	assert_null(d.title);
	assert_false(d.has_risk_score);
	assert_false(d.fields.has_ticket_id);
	assert_false(d.fields.has_assignee);
	assert_int_equal(d.fields.status, FIELDS_STATUS_NULL);
	assert_int_equal(d.fields.resolution, FIELDS_RESOLUTION_NULL);
	assert_int_equal(d.update_time, 0);
	bson_destroy(doc);
}

static void
expect_id(bson_t *doc, int64_t want)
{
	detection_t d;
	bson_error_t err;

	if (detection_parse(doc, &d, &err) != 0)
		fail_msg("unexpected error: %s", err.message);
	assert_int_equal(d.id, want);
	bson_destroy(doc);
}

static void
test_accepted_ids(void **state)
{
	(void)state;
	expect_id(BCON_NEW("_id", BCON_INT32(1)), 1);
	expect_id(BCON_NEW("_id", BCON_INT32(INT32_MAX)), INT32_MAX);
	expect_id(BCON_NEW("_id", BCON_INT64(DETECTION_ID_MAX)), DETECTION_ID_MAX);
	expect_id(BCON_NEW("_id", BCON_DOUBLE(12.0)), 12);
	expect_id(BCON_NEW("_id", BCON_DOUBLE(9007199254740992.0)), DETECTION_ID_MAX);
}

/* Parse must fail and the message must contain every needle. */
static void
expect_error(bson_t *doc, const char *n1, const char *n2)
{
	detection_t d;
	bson_error_t err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(detection_parse(doc, &d, &err), -1);
	if (strstr(err.message, n1) == NULL || (n2 && strstr(err.message, n2) == NULL))
		fail_msg("message \"%s\" lacks \"%s\"/\"%s\"", err.message, n1, n2 ? n2 : "");
	bson_destroy(doc);
}

static void
test_rejected_ids(void **state)
{
	bson_t *doc;
	bson_oid_t oid;

	(void)state;
	expect_error(bson_new(), "detection: _id is missing", NULL);
	expect_error(BCON_NEW("_id", BCON_UTF8("12")), "_id must be an integer", "got string");
	expect_error(BCON_NEW("_id", BCON_DOUBLE(12.5)), "_id must be an integer", "12.5");
	expect_error(BCON_NEW("_id", BCON_DOUBLE(-3.0)), "_id", "-3");
	expect_error(BCON_NEW("_id", BCON_INT32(-3)), "_id", "got -3");
	expect_error(BCON_NEW("_id", BCON_INT32(0)), "_id", "got 0");
	expect_error(BCON_NEW("_id", BCON_INT64(DETECTION_ID_MAX + 1)), "_id", "9007199254740993");
	expect_error(BCON_NEW("_id", BCON_DOUBLE(1e300)), "_id", NULL);
	expect_error(BCON_NEW("_id", BCON_DOUBLE(NAN)), "_id", "nan");
	expect_error(BCON_NEW("_id", BCON_DOUBLE(INFINITY)), "_id", "inf");
	expect_error(BCON_NEW("_id", BCON_BOOL(true)), "_id", "got bool");
	expect_error(BCON_NEW("_id", BCON_NULL), "_id", "got null");
	bson_oid_init_from_string(&oid, "5f1e2d3c4b5a697887766554");
	doc = BCON_NEW("_id", BCON_OID(&oid));
	expect_error(doc, "_id", "got objectId");
}

static void
test_wrong_types(void **state)
{
	bson_t *doc;

	(void)state;
	expect_error(BCON_NEW("_id", BCON_INT32(12), "risk_score", BCON_UTF8("high")),
	    "detection 12: risk_score must be a number or null, got string", NULL);
	expect_error(BCON_NEW("_id", BCON_INT32(12), "risk_score", BCON_DOUBLE(NAN)),
	    "detection 12: risk_score", "finite");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "title", BCON_INT32(5)),
	    "detection 12: title must be a string or null, got int32", NULL);
	expect_error(BCON_NEW("_id", BCON_INT32(12), "description", "{", "}"),
	    "detection 12: description", "got object");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "type", BCON_BOOL(true)), "type", "got bool");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "status", BCON_INT32(2)), "detection 12: status",
	    "got int32");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "assignee", "[", "]"), "assignee", "got array");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "ticket_id", BCON_INT64(5)), "ticket_id",
	    "got int64");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "resolution", BCON_BOOL(false)), "resolution",
	    "got bool");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "categories", BCON_UTF8("sec.attack")),
	    "detection 12: categories must be an array", "got string");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "categories", "[", BCON_UTF8("a"), BCON_INT32(1), "]"),
	    "categories[1] must be a string", "got int32");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "participants", "[", BCON_UTF8("x"), "]"),
	    "participants[0] must be an object", "got string");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "participants", "{", "}"), "participants",
	    "must be an array");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "mitre_techniques", "[", BCON_INT32(1), "]"),
	    "mitre_techniques[0] must be an object or a string", NULL);
	expect_error(BCON_NEW("_id", BCON_INT32(12), "mitre_tactics", BCON_UTF8("TA0010")),
	    "mitre_tactics must be an array", NULL);
	/* times */
	expect_error(BCON_NEW("_id", BCON_INT32(12), "update_time", BCON_UTF8("2024-01-01")),
	    "detection 12: update_time", "got string");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "mod_time", BCON_DOUBLE(1.5)), "mod_time", "1.5");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "start_time", BCON_INT64(-1)), "start_time",
	    "got -1");
	expect_error(BCON_NEW("_id", BCON_INT32(12), "end_time", BCON_BOOL(true)), "end_time", "bool");
	/* the id is named even when the bad field comes before _id */
	doc = BCON_NEW("title", BCON_INT32(1), "_id", BCON_INT32(99));
	expect_error(doc, "detection 99: title", NULL);
}

static void
test_ticket_field_values(void **state)
{
	bson_t *doc = BCON_NEW("_id", BCON_INT32(3), "status", BCON_UTF8("in_progress"), "resolution",
	    BCON_UTF8("no_action_taken"));
	detection_t d;
	bson_error_t err;

	(void)state;
	assert_int_equal(detection_parse(doc, &d, &err), 0);
	assert_int_equal(d.fields.status, FIELDS_STATUS_IN_PROGRESS);
	assert_int_equal(d.fields.resolution, FIELDS_RESOLUTION_NO_ACTION_TAKEN);
	bson_destroy(doc);
	/* ExtraHop's values only, exact */
	expect_error(BCON_NEW("_id", BCON_INT32(3), "status", BCON_UTF8("In Progress")),
	    "detection 3: status must be new, in_progress, closed, acknowledged or null",
	    "\"In Progress\"");
	expect_error(BCON_NEW("_id", BCON_INT32(3), "status", BCON_UTF8("open")), "status", "\"open\"");
	expect_error(BCON_NEW("_id", BCON_INT32(3), "resolution", BCON_UTF8("fixed")),
	    "detection 3: resolution must be action_taken, no_action_taken or null", NULL);
}

static void
expect_bad_string(const char *field, const char *value, uint32_t len, const char *needle)
{
	bson_t doc;

	bson_init(&doc);
	BSON_APPEND_INT32(&doc, "_id", 5);
	bson_append_utf8(&doc, field, -1, value, (int)len);
	expect_error(bson_copy(&doc), field, needle);
	bson_destroy(&doc);
}

static void
test_invalid_utf8(void **state)
{
	static const char *const fields[] = { "title", "description", "type", "assignee", "ticket_id" };
	bson_t doc, arr;

	(void)state;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		expect_bad_string(fields[i], "ab\xff", 3, "not valid UTF-8");
		expect_bad_string(fields[i], "\xc3(", 2, "not valid UTF-8");
		/* an embedded NUL would silently cut the value short */
		expect_bad_string(fields[i], "ab\0cd", 5, "not valid UTF-8");
	}
	bson_init(&doc);
	BSON_APPEND_INT32(&doc, "_id", 5);
	BSON_APPEND_ARRAY_BEGIN(&doc, "categories", &arr);
	bson_append_utf8(&arr, "0", -1, "sec\xfe", 4);
	bson_append_array_end(&doc, &arr);
	expect_error(bson_copy(&doc), "detection 5: categories[0] is not valid UTF-8", NULL);
	bson_destroy(&doc);
	/* valid multi-byte UTF-8 is fine */
	bson_init(&doc);
	BSON_APPEND_INT32(&doc, "_id", 5);
	BSON_APPEND_UTF8(&doc, "assignee", "J\xc3\xbcrgen \xe2\x9c\x93");
	{
		detection_t d;
		bson_error_t err;

		assert_int_equal(detection_parse(&doc, &d, &err), 0);
		assert_string_equal(d.fields.assignee, "J\xc3\xbcrgen \xe2\x9c\x93");
	}
	bson_destroy(&doc);
}

static void
test_size_bounds(void **state)
{
	char *big = malloc(DETECTION_DESCRIPTION_MAX + 2);
	bson_t doc, arr;
	detection_t d;
	bson_error_t err;

	(void)state;
	memset(big, 'x', DETECTION_DESCRIPTION_MAX + 1);
	big[DETECTION_DESCRIPTION_MAX + 1] = '\0';
	/* at the bound: accepted; one byte over: rejected */
	expect_bad_string("title", big, DETECTION_TITLE_MAX + 1, "longer than 1024 bytes");
	expect_bad_string("description", big, DETECTION_DESCRIPTION_MAX + 1, "longer than 65536 bytes");
	expect_bad_string("type", big, DETECTION_TYPE_MAX + 1, "longer than");
	expect_bad_string("ticket_id", big, FIELDS_TICKET_ID_MAX + 1, "longer than 128 bytes");
	expect_bad_string("assignee", big, FIELDS_ASSIGNEE_MAX + 1, "longer than 256 bytes");
	bson_init(&doc);
	BSON_APPEND_INT32(&doc, "_id", 5);
	bson_append_utf8(&doc, "title", -1, big, DETECTION_TITLE_MAX);
	bson_append_utf8(&doc, "description", -1, big, DETECTION_DESCRIPTION_MAX);
	bson_append_utf8(&doc, "ticket_id", -1, big, FIELDS_TICKET_ID_MAX);
	bson_append_utf8(&doc, "assignee", -1, big, FIELDS_ASSIGNEE_MAX);
	assert_int_equal(detection_parse(&doc, &d, &err), 0);
	assert_int_equal(strlen(d.title), DETECTION_TITLE_MAX);
	assert_int_equal(strlen(d.fields.ticket_id), FIELDS_TICKET_ID_MAX);
	assert_int_equal(strlen(d.fields.assignee), FIELDS_ASSIGNEE_MAX);
	bson_destroy(&doc);

	for (int n = DETECTION_CATEGORIES_MAX; n <= DETECTION_CATEGORIES_MAX + 1; n++) {
		bson_init(&doc);
		BSON_APPEND_INT32(&doc, "_id", 5);
		BSON_APPEND_ARRAY_BEGIN(&doc, "categories", &arr);
		for (int i = 0; i < n; i++) {
			char key[16];

			snprintf(key, sizeof(key), "%d", i);
			BSON_APPEND_UTF8(&arr, key, "sec.x");
		}
		bson_append_array_end(&doc, &arr);
		if (n == DETECTION_CATEGORIES_MAX) {
			assert_int_equal(detection_parse(&doc, &d, &err), 0);
			bson_destroy(&doc);
		} else {
			expect_error(bson_copy(&doc), "categories has more than 256 items", NULL);
			bson_destroy(&doc);
		}
	}
	free(big);
}

static void
test_corrupt_document(void **state)
{
	bson_t ok, *doc;
	uint8_t *buf;
	uint32_t len;
	detection_t d;
	bson_error_t err;

	(void)state;
	bson_init(&ok);
	BSON_APPEND_INT32(&ok, "_id", 5);
	BSON_APPEND_UTF8(&ok, "title", "hello");
	BSON_APPEND_INT32(&ok, "risk_score", 3);
	len = ok.len;
	buf = malloc(len);
	memcpy(buf, bson_get_data(&ok), len);
	/* make the title's string length point past the end of the document */
	for (uint32_t i = 4; i + 4 < len; i++) {
		if (memcmp(buf + i, "title", 6) == 0) {
			buf[i + 6] = 0x7f;
			break;
		}
	}
	doc = bson_new_from_data(buf, len);
	assert_non_null(doc);
	memset(&err, 0, sizeof(err));
	assert_int_equal(detection_parse(doc, &d, &err), -1);
	assert_non_null(strstr(err.message, "corrupt"));
	bson_destroy(doc);
	bson_destroy(&ok);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_document),
		cmocka_unit_test(test_minimal_and_nulls),
		cmocka_unit_test(test_accepted_ids),
		cmocka_unit_test(test_rejected_ids),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_ticket_field_values),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_size_bounds),
		cmocka_unit_test(test_corrupt_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
