/* httpd: listen address parsing (pure part). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ticketsync/httpd.h"

static void
test_parse_listen(void **state)
{
	char host[64];
	int port = -1;

	(void)state;
	assert_int_equal(httpd_parse_listen("127.0.0.1:9464", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9464);
	assert_int_equal(httpd_parse_listen("[::1]:0", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(httpd_parse_listen("localhost:80", host, sizeof(host), &port), 0);
	assert_string_equal(host, "localhost");

	assert_int_equal(httpd_parse_listen("", host, sizeof(host), &port), -1);
	assert_int_equal(httpd_parse_listen("127.0.0.1", host, sizeof(host), &port), -1);
	assert_int_equal(httpd_parse_listen(":80", host, sizeof(host), &port), -1);
	assert_int_equal(httpd_parse_listen("h:", host, sizeof(host), &port), -1);
	assert_int_equal(httpd_parse_listen("h:65536", host, sizeof(host), &port), -1);
	assert_int_equal(httpd_parse_listen("h:12x", host, sizeof(host), &port), -1);
	assert_int_equal(httpd_parse_listen("::1:80", host, sizeof(host), &port), -1);
	assert_int_equal(httpd_parse_listen("[::1]80", host, sizeof(host), &port), -1);
	assert_int_equal(httpd_parse_listen("verylonghostname-verylonghostname-verylonghostname-verylong:1",
	    host, 16, &port), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
