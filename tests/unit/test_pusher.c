/* pusher: which failed attempts ExtraHop may still apply later (pure part). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "ticketsync/pusher.h"

static void
test_ambiguous(void **state)
{
	(void)state;
	/* No reply after the request may have arrived. */
	assert_true(pusher_ambiguous(0, CURLE_OPERATION_TIMEDOUT));
	assert_true(pusher_ambiguous(0, CURLE_GOT_NOTHING));
	assert_true(pusher_ambiguous(0, CURLE_RECV_ERROR));
	assert_true(pusher_ambiguous(0, CURLE_SEND_ERROR));
	assert_true(pusher_ambiguous(0, CURLE_PARTIAL_FILE));
	/* A gateway gave up on the server, which may still finish. */
	assert_true(pusher_ambiguous(502, CURLE_OK));
	assert_true(pusher_ambiguous(504, CURLE_OK));
	/* Never reached ExtraHop, or ExtraHop answered: nothing can land later. */
	assert_false(pusher_ambiguous(0, CURLE_COULDNT_CONNECT));
	assert_false(pusher_ambiguous(0, CURLE_COULDNT_RESOLVE_HOST));
	assert_false(pusher_ambiguous(0, CURLE_SSL_CONNECT_ERROR));
	assert_false(pusher_ambiguous(0, CURLE_PEER_FAILED_VERIFICATION));
	assert_false(pusher_ambiguous(0, CURLE_ABORTED_BY_CALLBACK));
	assert_false(pusher_ambiguous(503, CURLE_OK));
	assert_false(pusher_ambiguous(429, CURLE_OK));
	assert_false(pusher_ambiguous(500, CURLE_OK));
	assert_false(pusher_ambiguous(204, CURLE_OK));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ambiguous),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
