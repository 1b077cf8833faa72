/* backoff: growth, cap, jitter bounds, Retry-After, overflow safety. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ticketsync/backoff.h"

static void
test_growth_and_cap(void **state)
{
	backoff_policy_t p = { .base_ms = 1000, .max_ms = 300000, .jitter = BACKOFF_JITTER_NONE };
	int64_t want[] = { 1000, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000,
		300000 };

	(void)state;
	for (uint32_t a = 0; a < sizeof(want) / sizeof(want[0]); a++)
		assert_int_equal(backoff_delay_ms(&p, a, -1, 12345), want[a]);
	/* a cap that is not a power-of-two multiple of the base is reached exactly */
	p.max_ms = 5000;
	assert_int_equal(backoff_delay_ms(&p, 3, -1, 0), 4000);
	assert_int_equal(backoff_delay_ms(&p, 4, -1, 0), 5000);
}

static void
test_overflow_safe(void **state)
{
	backoff_policy_t p = { .base_ms = INT64_MAX / 3, .max_ms = INT64_MAX, .jitter = BACKOFF_JITTER_NONE };

	(void)state;
	assert_int_equal(backoff_delay_ms(&p, 1, -1, 0), INT64_MAX / 3);
	assert_int_equal(backoff_delay_ms(&p, 2, -1, 0), (INT64_MAX / 3) * 2);
	assert_int_equal(backoff_delay_ms(&p, 3, -1, 0), INT64_MAX);
	assert_int_equal(backoff_delay_ms(&p, UINT32_MAX, -1, 0), INT64_MAX);
	/* full jitter at the extreme stays in range */
	p.jitter = BACKOFF_JITTER_FULL;
	assert_true(backoff_delay_ms(&p, UINT32_MAX, -1, UINT32_MAX) <= INT64_MAX);
	assert_true(backoff_delay_ms(&p, UINT32_MAX, -1, UINT32_MAX) > INT64_MAX / 2);
	p = (backoff_policy_t){ .base_ms = 1000, .max_ms = 300000, .jitter = BACKOFF_JITTER_EQUAL };
	assert_int_equal(backoff_delay_ms(&p, UINT32_MAX, -1, 0), 150000);
}

static void
test_bad_policy_clamped(void **state)
{
	backoff_policy_t p = { .base_ms = 0, .max_ms = -5, .jitter = BACKOFF_JITTER_NONE };

	(void)state;
	assert_int_equal(backoff_delay_ms(&p, 1, -1, 0), 1);
	assert_int_equal(backoff_delay_ms(&p, 50, -1, 0), 1);
	p = (backoff_policy_t){ .base_ms = 500, .max_ms = 100, .jitter = BACKOFF_JITTER_NONE };
	assert_int_equal(backoff_delay_ms(&p, 10, -1, 0), 500);
}

static void
test_equal_jitter_bounds(void **state)
{
	backoff_policy_t p = { .base_ms = 1000, .max_ms = 300000, .jitter = BACKOFF_JITTER_EQUAL };
	uint32_t rnds[] = { 0, 1, 0x7fffffff, 0x80000000u, 0xfffffffeu, UINT32_MAX };

	(void)state;
	for (uint32_t a = 1; a <= 12; a++) {
		backoff_policy_t nj = p;
		int64_t d;

		nj.jitter = BACKOFF_JITTER_NONE;
		d = backoff_delay_ms(&nj, a, -1, 0);
		for (size_t i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
			int64_t v = backoff_delay_ms(&p, a, -1, rnds[i]);

			assert_true(v >= d - d / 2);
			assert_true(v <= d);
		}
		/* the extremes of rnd reach the extremes of the range */
		assert_int_equal(backoff_delay_ms(&p, a, -1, 0), d - d / 2);
		assert_true(backoff_delay_ms(&p, a, -1, UINT32_MAX) >= d - 1);
	}
	/* monotonic in rnd */
	assert_true(backoff_delay_ms(&p, 5, -1, 1000) <= backoff_delay_ms(&p, 5, -1, 2000000000));
	/* the midpoint: 16000 -> 8000 + 4000 */
	assert_int_equal(backoff_delay_ms(&p, 5, -1, 0x80000000u), 12000);
}

static void
test_full_jitter_bounds(void **state)
{
	backoff_policy_t p = { .base_ms = 1000, .max_ms = 300000, .jitter = BACKOFF_JITTER_FULL };

	(void)state;
	assert_int_equal(backoff_delay_ms(&p, 3, -1, 0), 0);
	assert_int_equal(backoff_delay_ms(&p, 3, -1, 0x80000000u), 2000);
	assert_int_equal(backoff_delay_ms(&p, 3, -1, UINT32_MAX), 3999);
	for (uint32_t r = 0; r < 0xffff0000u; r += 0x01000193u)
		assert_true(backoff_delay_ms(&p, 20, -1, r) < 300000);
}

static void
test_retry_after(void **state)
{
	backoff_policy_t p = { .base_ms = 1000, .max_ms = 300000, .jitter = BACKOFF_JITTER_NONE };

	(void)state;
	/* larger than computed: used, even above max */
	assert_int_equal(backoff_delay_ms(&p, 1, 30000, 0), 30000);
	assert_int_equal(backoff_delay_ms(&p, 1, 600000, 0), 600000);
	/* smaller than computed: the computed delay stands */
	assert_int_equal(backoff_delay_ms(&p, 6, 1000, 0), 32000);
	/* negative or zero: ignored */
	assert_int_equal(backoff_delay_ms(&p, 2, -1, 0), 2000);
	assert_int_equal(backoff_delay_ms(&p, 2, INT64_MIN, 0), 2000);
	assert_int_equal(backoff_delay_ms(&p, 2, 0, 0), 2000);
	/* absurd: capped at one hour */
	assert_int_equal(backoff_delay_ms(&p, 1, INT64_MAX, 0), BACKOFF_RETRY_AFTER_CAP_MS);
	assert_int_equal(backoff_delay_ms(&p, 1, BACKOFF_RETRY_AFTER_CAP_MS + 1, 0),
	    BACKOFF_RETRY_AFTER_CAP_MS);
	/* with jitter, Retry-After is a floor */
	p.jitter = BACKOFF_JITTER_FULL;
	assert_int_equal(backoff_delay_ms(&p, 1, 5000, 0), 5000);
}

static void
test_retry_after_seconds(void **state)
{
	(void)state;
	assert_int_equal(backoff_retry_after_ms(0), -1);
	assert_int_equal(backoff_retry_after_ms(-3), -1);
	assert_int_equal(backoff_retry_after_ms(1), 1000);
	assert_int_equal(backoff_retry_after_ms(120), 120000);
	assert_int_equal(backoff_retry_after_ms(3600), BACKOFF_RETRY_AFTER_CAP_MS);
	assert_int_equal(backoff_retry_after_ms(3601), BACKOFF_RETRY_AFTER_CAP_MS);
	assert_int_equal(backoff_retry_after_ms(INT64_MAX), BACKOFF_RETRY_AFTER_CAP_MS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_and_cap),
		cmocka_unit_test(test_overflow_safe),
		cmocka_unit_test(test_bad_policy_clamped),
		cmocka_unit_test(test_equal_jitter_bounds),
		cmocka_unit_test(test_full_jitter_bounds),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_retry_after_seconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
