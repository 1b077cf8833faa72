/* extrahop_api pure helpers: PATCH body, URLs, Retry-After, error
 * messages and OAuth2 token replies. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ticketsync/extrahop.h"
#include "ticketsync/extrahop_api.h"

static void
test_detection_url(void **state)
{
	static const struct {
		const char *base;
		int64_t id;
		const char *want;
	} cases[] = {
		{ "https://eh.example.com", 42, "https://eh.example.com/api/v1/detections/42" },
		{ "https://eh.example.com/", 42, "https://eh.example.com/api/v1/detections/42" },
		{ "https://eh.example.com///", 7, "https://eh.example.com/api/v1/detections/7" },
		{ "https://eh.example.com/api/v1", 7, "https://eh.example.com/api/v1/detections/7" },
		{ "https://eh.example.com/api/v1/", 7, "https://eh.example.com/api/v1/detections/7" },
		{ "http://127.0.0.1:8080/gw", 0, "http://127.0.0.1:8080/gw/api/v1/detections/0" },
		{ "https://h", INT64_MAX, "https://h/api/v1/detections/9223372036854775807" },
		{ "https://h", 4294967296LL, "https://h/api/v1/detections/4294967296" },
	};
	char *u;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		u = extrahop_api_detection_url(cases[i].base, cases[i].id);
		assert_non_null(u);
		assert_string_equal(u, cases[i].want);
		bson_free(u);
	}
	assert_null(extrahop_api_detection_url("https://h", -1));
	assert_null(extrahop_api_detection_url("", 1));
	assert_null(extrahop_api_detection_url("///", 1));
	assert_null(extrahop_api_detection_url(NULL, 1));
}

/* Parse body back with libbson and check each member. */
static void
assert_body_roundtrip(const char *json, size_t len, const fields_t *want, unsigned mask)
{
	bson_t doc;
	bson_error_t err;
	fields_t got;
	bson_iter_t it;
	int n = 0;

	assert_int_equal(strlen(json), len);
	if (!bson_init_from_json(&doc, json, (ssize_t)len, &err))
		fail_msg("body is not JSON: %s: %s", err.message, json);
	assert_true(bson_iter_init(&it, &doc));
	while (bson_iter_next(&it))
		n++;
	assert_int_equal(n, __builtin_popcount(mask));
	assert_true(fields_from_document(&doc, &got, &err));
	assert_int_equal(fields_diff(&got, want) & mask, 0);
	bson_destroy(&doc);
}

static void
test_patch_body_nulls_and_mask(void **state)
{
	fields_t f;
	size_t len;
	char *b;

	(void)state;
	fields_init(&f);
	assert_int_equal(fields_set_ticket_id(&f, "JIRA-1"), 0);
	f.status = FIELDS_STATUS_CLOSED;
	f.resolution = FIELDS_RESOLUTION_ACTION_TAKEN;

	b = extrahop_api_patch_body(&f, FIELDS_ALL, &len);
	assert_non_null(b);
	assert_string_equal(b, "{ \"ticket_id\" : \"JIRA-1\", \"status\" : \"closed\", "
	                       "\"assignee\" : null, \"resolution\" : \"action_taken\" }");
	assert_body_roundtrip(b, len, &f, FIELDS_ALL);
	bson_free(b);

	/* Only the masked members, in wire order. */
	b = extrahop_api_patch_body(&f, FIELDS_STATUS | FIELDS_ASSIGNEE, &len);
	assert_string_equal(b, "{ \"status\" : \"closed\", \"assignee\" : null }");
	assert_body_roundtrip(b, len, &f, FIELDS_STATUS | FIELDS_ASSIGNEE);
	bson_free(b);

	/* All null: explicit JSON nulls, as ExtraHop's own example sends. */
	fields_init(&f);
	b = extrahop_api_patch_body(&f, FIELDS_STATUS | FIELDS_RESOLUTION, &len);
	assert_string_equal(b, "{ \"status\" : null, \"resolution\" : null }");
	bson_free(b);

	/* Bits outside the four fields are ignored; nothing masked is no body at all. */
	b = extrahop_api_patch_body(&f, FIELDS_TICKET_ID | 0x100u, &len);
	assert_string_equal(b, "{ \"ticket_id\" : null }");
	bson_free(b);
	assert_null(extrahop_api_patch_body(&f, 0, &len));
	assert_null(extrahop_api_patch_body(&f, 0x100u, &len));
}

static void
test_patch_body_escaping(void **state)
{
	fields_t f;
	size_t len;
	char *b;

	(void)state;
	fields_init(&f);
	assert_int_equal(fields_set_ticket_id(&f, "a\"b\\c/d"), 0);
	assert_int_equal(fields_set_assignee(&f, "tab\there\nnl\r\x01\x1f end"), 0);
	b = extrahop_api_patch_body(&f, FIELDS_TICKET_ID | FIELDS_ASSIGNEE, &len);
	assert_non_null(b);
	assert_string_equal(b, "{ \"ticket_id\" : \"a\\\"b\\\\c/d\", "
	                       "\"assignee\" : \"tab\\there\\nnl\\r\\u0001\\u001f end\" }");
	/* No raw control character may reach the wire. */
	for (size_t i = 0; i < len; i++)
		assert_true((unsigned char)b[i] >= 0x20);
	assert_body_roundtrip(b, len, &f, FIELDS_TICKET_ID | FIELDS_ASSIGNEE);
	bson_free(b);

	/* Non-ASCII UTF-8 (2, 3 and 4 byte sequences) survives unchanged. */
	assert_int_equal(fields_set_assignee(&f, "Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), 0);
	b = extrahop_api_patch_body(&f, FIELDS_ASSIGNEE, &len);
	assert_body_roundtrip(b, len, &f, FIELDS_ASSIGNEE);
	assert_non_null(strstr(b, "Jos\xc3\xa9"));
	bson_free(b);
}

#define MSG(s) s, sizeof(s) - 1

static void
test_error_message(void **state)
{
	char out[PUSHPLAN_MESSAGE_MAX];
	char small[8];
	char big[2048];

	(void)state;
	assert_true(extrahop_api_error_message(MSG("{\"error_message\": \"Detection not found\"}"),
	    out, sizeof(out)));
	assert_string_equal(out, "Detection not found");
	/* OAuth2 token endpoint errors. */
	assert_true(extrahop_api_error_message(MSG("{\"error\":\"invalid_client\"}"), out, sizeof(out)));
	assert_string_equal(out, "invalid_client");
	assert_true(extrahop_api_error_message(
	    MSG("{\"error\":\"invalid_client\",\"error_description\":\"bad secret\"}"), out, sizeof(out)));
	assert_string_equal(out, "bad secret");
	/* Control characters are flattened for logs and audit. */
	assert_true(extrahop_api_error_message(MSG("{\"error_message\": \"line1\\nline2\\u0007\"}"),
	    out, sizeof(out)));
	assert_string_equal(out, "line1 line2 ");

	/* Not there, wrong type, empty, not JSON, not an object. */
	assert_false(extrahop_api_error_message(MSG("{\"message\": \"x\"}"), out, sizeof(out)));
	assert_string_equal(out, "");
	assert_false(extrahop_api_error_message(MSG("{\"error_message\": 5}"), out, sizeof(out)));
	assert_false(extrahop_api_error_message(MSG("{\"error_message\": \"\"}"), out, sizeof(out)));
	assert_false(extrahop_api_error_message(MSG("<html>502 Bad Gateway</html>"), out, sizeof(out)));
	assert_false(extrahop_api_error_message(MSG("[\"error_message\"]"), out, sizeof(out)));
	assert_false(extrahop_api_error_message(MSG("{\"error_message\": \"x\""), out, sizeof(out)));
	assert_false(extrahop_api_error_message(NULL, 0, out, sizeof(out)));
	assert_false(extrahop_api_error_message("", 0, out, sizeof(out)));

	/* A cut keeps UTF-8 whole and is marked "...": 7 bytes of room, 4 of text. */
	assert_true(extrahop_api_error_message(MSG("{\"error_message\": \"abcd\xe2\x82\xac\xe2\x82\xac\"}"),
	    small, sizeof(small)));
	assert_string_equal(small, "abcd...");
	assert_true(extrahop_api_error_message(MSG("{\"error_message\": \"ab\xe2\x82\xac\xe2\x82\xac\"}"),
	    small, sizeof(small)));
	assert_string_equal(small, "ab...");
	assert_true(extrahop_api_error_message(MSG("{\"error_message\": \"abc\xe2\x82\xac\"}"),
	    small, sizeof(small)));
	assert_string_equal(small, "abc\xe2\x82\xac"); /* fits: untouched */

	/* Long messages are cut to the result's size. */
	memcpy(big, "{\"error_message\": \"", 19);
	memset(big + 19, 'x', 1500);
	memcpy(big + 19 + 1500, "\"}", 3);
	assert_true(extrahop_api_error_message(big, strlen(big), out, sizeof(out)));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_string_equal(out + strlen(out) - 3, "...");
}

static void
test_token_parse_ok(void **state)
{
	extrahop_api_token_t t;
	bson_error_t err;

	(void)state;
	assert_true(extrahop_api_token_parse(
	    MSG("{\"access_token\":\"eyJhbGciOi.x-y_z~+/=\",\"token_type\":\"Bearer\",\"expires_in\":3600}"),
	    &t, &err));
	assert_string_equal(t.access_token, "eyJhbGciOi.x-y_z~+/=");
	assert_int_equal(t.expires_in_s, 3600);
	extrahop_api_token_clear(&t);
	assert_null(t.access_token);

	/* token_type in any case; expires_in as int64, integral double, or quoted. */
	assert_true(extrahop_api_token_parse(
	    MSG("{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":8589934592}"), &t, &err));
	assert_int_equal(t.expires_in_s, INT64_C(2147483647)); /* int64 read, then clamped */
	extrahop_api_token_clear(&t);
	assert_true(extrahop_api_token_parse(
	    MSG("{\"access_token\":\"a\",\"token_type\":\"BEARER\",\"expires_in\":900.0}"), &t, &err));
	assert_int_equal(t.expires_in_s, 900);
	extrahop_api_token_clear(&t);
	assert_true(extrahop_api_token_parse(
	    MSG("{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":\"300\"}"), &t, &err));
	assert_int_equal(t.expires_in_s, 300);
	extrahop_api_token_clear(&t);
	/* Absent or null expires_in: unknown lifetime; absent token_type: Bearer. */
	assert_true(extrahop_api_token_parse(MSG("{\"access_token\":\"a\",\"token_type\":\"Bearer\"}"),
	    &t, &err));
	assert_int_equal(t.expires_in_s, -1);
	extrahop_api_token_clear(&t);
	assert_true(extrahop_api_token_parse(MSG("{\"access_token\":\"a\",\"expires_in\":null}"), &t, &err));
	assert_int_equal(t.expires_in_s, -1);
	extrahop_api_token_clear(&t);
	/* Unknown members are ignored; absurd lifetimes are clamped, not overflowed. */
	assert_true(extrahop_api_token_parse(
	    MSG(" {\"scope\":\"x\",\"access_token\":\"a\",\"expires_in\":1e300}"), &t, &err));
	assert_true(t.expires_in_s > 0);
	assert_true(t.expires_in_s <= INT64_C(2147483647));
	extrahop_api_token_clear(&t);
}

static void
test_token_parse_errors(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"{\"access_token\":\"a\"",
		"[\"access_token\"]",
		"\"access_token\"",
		"{}",
		"{\"token_type\":\"Bearer\",\"expires_in\":3600}",
		"{\"access_token\":null}",
		"{\"access_token\":42}",
		"{\"access_token\":\"\"}",
		"{\"access_token\":\"has space\"}",
		"{\"access_token\":\"crlf\\r\\nX-Injected: 1\"}",
		"{\"access_token\":\"caf\xc3\xa9\"}",
		"{\"access_token\":\"a\",\"token_type\":\"mac\"}",
		"{\"access_token\":\"a\",\"token_type\":7}",
		"{\"access_token\":\"a\",\"expires_in\":0}",
		"{\"access_token\":\"a\",\"expires_in\":-5}",
		"{\"access_token\":\"a\",\"expires_in\":1.5}",
		"{\"access_token\":\"a\",\"expires_in\":true}",
		"{\"access_token\":\"a\",\"expires_in\":\"soon\"}",
		"{\"access_token\":\"a\",\"expires_in\":\"60s\"}",
		"{\"access_token\":\"a\",\"expires_in\":\"-60\"}",
		"{\"access_token\":\"a\",\"expires_in\":{\"v\":1}}",
		"{\"access_token\":\"a\",\"expires_in\":[3600]}",
	};
	extrahop_api_token_t t;
	bson_error_t err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (extrahop_api_token_parse(bad[i], strlen(bad[i]), &t, &err)) {
			extrahop_api_token_clear(&t);
			fail_msg("accepted bad token reply %s", bad[i]);
		}
		assert_null(t.access_token);
		assert_true(strncmp(err.message, "token reply: ", 13) == 0);
	}
	/* A huge token cannot become a header. */
	{
		size_t n = 9000;
		char *body = bson_malloc(n + 64);
		int k = snprintf(body, 64, "{\"access_token\":\"");
		memset(body + k, 'a', n);
		memcpy(body + k + n, "\"}", 3);
		assert_false(extrahop_api_token_parse(body, strlen(body), &t, &err));
		bson_free(body);
	}
}

static void
test_token_refresh_rule(void **state)
{
	(void)state;
	assert_int_equal(extrahop_api_token_refresh_after_ms(3600), 3540 * 1000);
	assert_int_equal(extrahop_api_token_refresh_after_ms(900), 840 * 1000);
	assert_int_equal(extrahop_api_token_refresh_after_ms(120), 60 * 1000);
	/* Shorter than 120 s: half-life. */
	assert_int_equal(extrahop_api_token_refresh_after_ms(119), 59500);
	assert_int_equal(extrahop_api_token_refresh_after_ms(60), 30000);
	assert_int_equal(extrahop_api_token_refresh_after_ms(1), 500);
	assert_int_equal(extrahop_api_token_refresh_after_ms(-1), -1);
	assert_int_equal(extrahop_api_token_refresh_after_ms(0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detection_url),
		cmocka_unit_test(test_patch_body_nulls_and_mask),
		cmocka_unit_test(test_patch_body_escaping),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_token_parse_ok),
		cmocka_unit_test(test_token_parse_errors),
		cmocka_unit_test(test_token_refresh_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
