/* fields: names, setters and their bounds, diff, BSON out and back in, mask text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ticketsync/fields.h"

static void
test_init_is_all_null(void **state)
{
	fields_t f;

	(void)state;
	memset(&f, 0x5a, sizeof(f));
	fields_init(&f);
	assert_false(f.has_ticket_id);
	assert_false(f.has_assignee);
	assert_int_equal(f.status, FIELDS_STATUS_NULL);
	assert_int_equal(f.resolution, FIELDS_RESOLUTION_NULL);
}

static void
test_names_round_trip(void **state)
{
	enum fields_status s;
	enum fields_resolution r;

	(void)state;
	assert_null(fields_status_name(FIELDS_STATUS_NULL));
	assert_string_equal(fields_status_name(FIELDS_STATUS_NEW), "new");
	assert_string_equal(fields_status_name(FIELDS_STATUS_IN_PROGRESS), "in_progress");
	assert_string_equal(fields_status_name(FIELDS_STATUS_CLOSED), "closed");
	assert_string_equal(fields_status_name(FIELDS_STATUS_ACKNOWLEDGED), "acknowledged");
	assert_null(fields_status_name((enum fields_status)99));
	assert_null(fields_status_name((enum fields_status)-1));
	assert_null(fields_resolution_name(FIELDS_RESOLUTION_NULL));
	assert_string_equal(fields_resolution_name(FIELDS_RESOLUTION_ACTION_TAKEN), "action_taken");
	assert_string_equal(fields_resolution_name(FIELDS_RESOLUTION_NO_ACTION_TAKEN), "no_action_taken");
	assert_null(fields_resolution_name((enum fields_resolution)7));
	for (int i = FIELDS_STATUS_NEW; i <= FIELDS_STATUS_ACKNOWLEDGED; i++) {
		assert_int_equal(fields_status_parse(fields_status_name((enum fields_status)i), &s), 0);
		assert_int_equal(s, i);
	}
	for (int i = FIELDS_RESOLUTION_ACTION_TAKEN; i <= FIELDS_RESOLUTION_NO_ACTION_TAKEN; i++) {
		assert_int_equal(fields_resolution_parse(fields_resolution_name((enum fields_resolution)i), &r), 0);
		assert_int_equal(r, i);
	}
	/* exact, lower case wire names only; out untouched on failure */
	s = FIELDS_STATUS_NEW;
	assert_int_equal(fields_status_parse("New", &s), -1);
	assert_int_equal(fields_status_parse("open", &s), -1);
	assert_int_equal(fields_status_parse("", &s), -1);
	assert_int_equal(fields_status_parse(" new", &s), -1);
	assert_int_equal(fields_status_parse(NULL, &s), -1);
	assert_int_equal(s, FIELDS_STATUS_NEW);
	assert_int_equal(fields_resolution_parse("Action_Taken", &r), -1);
	assert_int_equal(fields_resolution_parse(NULL, &r), -1);
}

static void
test_setters_and_bounds(void **state)
{
	char big[FIELDS_ASSIGNEE_MAX + 2];
	fields_t f;

	(void)state;
	fields_init(&f);
	assert_int_equal(fields_set_ticket_id(&f, "TK-1"), 0);
	assert_true(f.has_ticket_id);
	assert_string_equal(f.ticket_id, "TK-1");
	assert_int_equal(fields_set_assignee(&f, ""), 0); /* empty is a value, not null */
	assert_true(f.has_assignee);
	assert_string_equal(f.assignee, "");

	memset(big, 'x', sizeof(big));
	big[FIELDS_TICKET_ID_MAX] = '\0';
	assert_int_equal(fields_set_ticket_id(&f, big), 0);
	assert_int_equal(strlen(f.ticket_id), FIELDS_TICKET_ID_MAX);
	big[FIELDS_TICKET_ID_MAX] = 'x';
	big[FIELDS_TICKET_ID_MAX + 1] = '\0';
	assert_int_equal(fields_set_ticket_id(&f, "TK-2"), 0);
	assert_int_equal(fields_set_ticket_id(&f, big), -1);
	assert_string_equal(f.ticket_id, "TK-2"); /* unchanged */

	memset(big, 'y', sizeof(big));
	big[FIELDS_ASSIGNEE_MAX] = '\0';
	assert_int_equal(fields_set_assignee(&f, big), 0);
	big[FIELDS_ASSIGNEE_MAX] = 'y';
	big[FIELDS_ASSIGNEE_MAX + 1] = '\0';
	assert_int_equal(fields_set_assignee(&f, "sally"), 0);
	assert_int_equal(fields_set_assignee(&f, big), -1);
	assert_string_equal(f.assignee, "sally");

	/* invalid UTF-8 rejected, unchanged */
	assert_int_equal(fields_set_assignee(&f, "bad\xff"), -1);
	assert_int_equal(fields_set_ticket_id(&f, "\xc3"), -1);
	assert_string_equal(f.assignee, "sally");
	assert_string_equal(f.ticket_id, "TK-2");
	assert_int_equal(fields_set_assignee(&f, "J\xc3\xbcrgen"), 0);

	/* NULL clears */
	assert_int_equal(fields_set_ticket_id(&f, NULL), 0);
	assert_int_equal(fields_set_assignee(&f, NULL), 0);
	assert_false(f.has_ticket_id);
	assert_false(f.has_assignee);
}

static void
test_diff_and_equal(void **state)
{
	fields_t a, b;

	(void)state;
	fields_init(&a);
	fields_init(&b);
	assert_true(fields_equal(&a, &b));
	assert_int_equal(fields_diff(&a, &b), 0);

	fields_set_ticket_id(&a, "TK-1");
	assert_int_equal(fields_diff(&a, &b), FIELDS_TICKET_ID);
	fields_set_ticket_id(&b, "TK-1");
	assert_int_equal(fields_diff(&a, &b), 0);
	fields_set_ticket_id(&b, "TK-2");
	assert_int_equal(fields_diff(&a, &b), FIELDS_TICKET_ID);
	fields_set_ticket_id(&b, "TK-1");

	/* null vs empty string differ */
	fields_set_assignee(&a, "");
	assert_int_equal(fields_diff(&a, &b), FIELDS_ASSIGNEE);
	fields_set_assignee(&b, "");
	assert_true(fields_equal(&a, &b));

	a.status = FIELDS_STATUS_CLOSED;
	a.resolution = FIELDS_RESOLUTION_ACTION_TAKEN;
	assert_int_equal(fields_diff(&a, &b), FIELDS_STATUS | FIELDS_RESOLUTION);
	assert_int_equal(fields_diff(&b, &a), FIELDS_STATUS | FIELDS_RESOLUTION);
	fields_set_assignee(&b, "jim");
	fields_set_ticket_id(&b, NULL);
	assert_int_equal(fields_diff(&a, &b), FIELDS_ALL);
	assert_false(fields_equal(&a, &b));
	/* stale bytes behind a null value do not count */
	fields_init(&a);
	fields_init(&b);
	fields_set_assignee(&a, "old");
	fields_set_assignee(&a, NULL);
	assert_true(fields_equal(&a, &b));
}

static void
test_append_members_and_document(void **state)
{
	fields_t f;
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it, child;
	char *json;

	(void)state;
	fields_init(&f);
	fields_set_ticket_id(&f, "TK-9");
	f.status = FIELDS_STATUS_CLOSED;
	f.resolution = FIELDS_RESOLUTION_NO_ACTION_TAKEN;
	fields_append_members(&doc, &f, FIELDS_TICKET_ID | FIELDS_ASSIGNEE);
	json = bson_as_relaxed_extended_json(&doc, NULL);
	assert_string_equal(json, "{ \"ticket_id\" : \"TK-9\", \"assignee\" : null }");
	bson_free(json);
	bson_reinit(&doc);
	fields_append_members(&doc, &f, FIELDS_ALL);
	json = bson_as_relaxed_extended_json(&doc, NULL);
	assert_string_equal(json, "{ \"ticket_id\" : \"TK-9\", \"status\" : \"closed\", \"assignee\" : null, "
	                          "\"resolution\" : \"no_action_taken\" }");
	bson_free(json);
	bson_reinit(&doc);
	fields_append_members(&doc, &f, 0);
	assert_int_equal(bson_count_keys(&doc), 0);

	fields_init(&f);
	fields_append_document(&doc, "desired", &f);
	assert_true(bson_iter_init_find(&it, &doc, "desired"));
	assert_true(BSON_ITER_HOLDS_DOCUMENT(&it));
	assert_true(bson_iter_recurse(&it, &child));
	for (int n = 0; n < 4; n++) {
		assert_true(bson_iter_next(&child));
		assert_true(BSON_ITER_HOLDS_NULL(&child));
	}
	assert_false(bson_iter_next(&child));
	bson_destroy(&doc);
}

static void
test_document_round_trip(void **state)
{
	fields_t f, g;
	bson_t doc = BSON_INITIALIZER, sub;
	bson_iter_t it;
	bson_error_t err;
	const uint8_t *data;
	uint32_t len;

	(void)state;
	for (int st = FIELDS_STATUS_NULL; st <= FIELDS_STATUS_ACKNOWLEDGED; st++) {
		for (int res = FIELDS_RESOLUTION_NULL; res <= FIELDS_RESOLUTION_NO_ACTION_TAKEN; res++) {
			fields_init(&f);
			if (st & 1)
				fields_set_ticket_id(&f, "TK-\xe2\x9c\x93");
			if (res & 1)
				fields_set_assignee(&f, "sally");
			f.status = (enum fields_status)st;
			f.resolution = (enum fields_resolution)res;
			bson_reinit(&doc);
			fields_append_document(&doc, "f", &f);
			assert_true(bson_iter_init_find(&it, &doc, "f"));
			bson_iter_document(&it, &len, &data);
			assert_true(bson_init_static(&sub, data, len));
			memset(&g, 0x5a, sizeof(g));
			assert_true(fields_from_document(&sub, &g, &err));
			assert_true(fields_equal(&f, &g));
		}
	}
	bson_destroy(&doc);
}

static void
test_from_document_rules(void **state)
{
	fields_t f;
	bson_error_t err;
	bson_t *doc;
	char big[FIELDS_TICKET_ID_MAX + 2];

	(void)state;
	/* absent keys are null; unknown keys ignored (a PATCH body or state doc) */
	doc = BCON_NEW("status", BCON_UTF8("acknowledged"), "other", BCON_INT32(1));
	assert_true(fields_from_document(doc, &f, &err));
	assert_int_equal(f.status, FIELDS_STATUS_ACKNOWLEDGED);
	assert_false(f.has_ticket_id);
	assert_false(f.has_assignee);
	assert_int_equal(f.resolution, FIELDS_RESOLUTION_NULL);
	bson_destroy(doc);

	doc = BCON_NEW("assignee", BCON_INT32(3));
	memset(&err, 0, sizeof(err));
	assert_false(fields_from_document(doc, &f, &err));
	assert_non_null(strstr(err.message, "assignee must be a string or null"));
	bson_destroy(doc);

	doc = BCON_NEW("status", BCON_UTF8("Closed"));
	assert_false(fields_from_document(doc, &f, &err));
	assert_non_null(strstr(err.message, "invalid status"));
	bson_destroy(doc);

	doc = BCON_NEW("resolution", BCON_UTF8("fixed"));
	assert_false(fields_from_document(doc, &f, &err));
	assert_non_null(strstr(err.message, "invalid resolution"));
	bson_destroy(doc);

	memset(big, 't', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	doc = BCON_NEW("ticket_id", BCON_UTF8(big));
	assert_false(fields_from_document(doc, &f, &err));
	assert_non_null(strstr(err.message, "invalid ticket_id"));
	bson_destroy(doc);

	doc = bson_new();
	bson_append_utf8(doc, "assignee", -1, "a\xff", 2);
	assert_false(fields_from_document(doc, &f, &err));
	assert_non_null(strstr(err.message, "invalid assignee"));
	bson_destroy(doc);

	/* err may be NULL */
	doc = BCON_NEW("status", BCON_INT32(1));
	assert_false(fields_from_document(doc, &f, NULL));
	bson_destroy(doc);
}

static void
test_mask_describe(void **state)
{
	char buf[64];

	(void)state;
	fields_mask_describe(FIELDS_ALL, buf, sizeof(buf));
	assert_string_equal(buf, "ticket_id,status,assignee,resolution");
	fields_mask_describe(FIELDS_TICKET_ID | FIELDS_RESOLUTION, buf, sizeof(buf));
	assert_string_equal(buf, "ticket_id,resolution");
	fields_mask_describe(FIELDS_ASSIGNEE, buf, sizeof(buf));
	assert_string_equal(buf, "assignee");
	fields_mask_describe(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* bits outside the four fields are ignored */
	fields_mask_describe(0xf0u | FIELDS_STATUS, buf, sizeof(buf));
	assert_string_equal(buf, "status");
	/* a short buffer stays NUL-terminated */
	memset(buf, 'z', sizeof(buf));
	fields_mask_describe(FIELDS_ALL, buf, 12);
	assert_true(strlen(buf) < 12);
	assert_int_equal(strncmp(buf, "ticket_id", 9), 0);
	memset(buf, 'z', sizeof(buf));
	fields_mask_describe(FIELDS_ALL, buf, 0); /* writes nothing */
	assert_int_equal(buf[0], 'z');
}

/* Regressions: an embedded NUL used to cut a value silently, and a corrupt document
 * used to parse as if its tail were absent. */
static bson_t *
corrupt_fields_doc(void)
{
	bson_t ok = BSON_INITIALIZER, *doc;
	uint8_t raw[64];

	BSON_APPEND_UTF8(&ok, "ticket_id", "TK-1");
	BSON_APPEND_UTF8(&ok, "status", "new");
	memcpy(raw, bson_get_data(&ok), ok.len);
	/* the status string's length now runs past the end of the document */
	for (uint32_t i = 4; i + 8 < ok.len; i++) {
		if (memcmp(raw + i, "status", 7) == 0) {
			raw[i + 7] = 0x40;
			break;
		}
	}
	doc = bson_new_from_data(raw, ok.len);
	bson_destroy(&ok);
	return doc;
}

static void
test_from_document_embedded_nul(void **state)
{
	fields_t f;
	bson_error_t err;
	bson_t *doc;

	(void)state;
	doc = bson_new();
	bson_append_utf8(doc, "ticket_id", -1, "TK\0X", 4);
	assert_false(fields_from_document(doc, &f, &err));
	bson_destroy(doc);
}

static void
test_from_document_corrupt(void **state)
{
	fields_t f;
	bson_error_t err;
	bson_t *doc;

	(void)state;
	doc = corrupt_fields_doc();
	assert_non_null(doc);
	assert_false(fields_from_document(doc, &f, &err));
	bson_destroy(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_all_null),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_setters_and_bounds),
		cmocka_unit_test(test_diff_and_equal),
		cmocka_unit_test(test_append_members_and_document),
		cmocka_unit_test(test_document_round_trip),
		cmocka_unit_test(test_from_document_rules),
		cmocka_unit_test(test_mask_describe),
		cmocka_unit_test(test_from_document_embedded_nul),
		cmocka_unit_test(test_from_document_corrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
