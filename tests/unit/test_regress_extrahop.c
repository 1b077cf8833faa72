/*
 * Regressions found by fuzzing what remote servers send (tests/fuzz/fuzz_remote.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ticketsync/extrahop.h"
#include "ticketsync/extrahop_api.h"

/*
 * fuzz_remote, crash-db85ba5d: libbson's JSON reader accepts the overlong encoding
 * C0 80 (NUL in "modified UTF-8") inside a string, and extrahop_api_error_message copied
 * it through, so the error text of an ExtraHop or OAuth2 reply such as
 *   {"error": "r\x7fr_r\x7fr_u00\xc0\x80"}
 * was not valid UTF-8 although it goes into log lines and audit records. The text
 * must come out valid, with the rest of the message kept.
 */
static void
test_error_message_with_overlong_nul_is_valid_utf8(void **state)
{
	static const char *const bodies[] = {
		"{\"error\": \"r\x7fr_r\x7fr_u00\xc0\x80\"}",
		"{\"error_message\": \"bad \xc0\x80 byte\"}",
		"{\"error_description\": \"\xc0\x80\xc0\x80 twice\"}",
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		assert_true(extrahop_api_error_message(bodies[i], strlen(bodies[i]), out, sizeof(out)));
		if (!bson_utf8_validate(out, strlen(out), false))
			fail_msg("body %zu: error text is not valid UTF-8", i);
	}
	assert_true(extrahop_api_error_message(bodies[1], strlen(bodies[1]), out, sizeof(out)));
	assert_non_null(strstr(out, "bad "));
	assert_non_null(strstr(out, " byte"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_message_with_overlong_nul_is_valid_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
