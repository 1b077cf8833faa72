/* ratelimit: the token bucket, driven by a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "ticketsync/ratelimit.h"

static void
test_unlimited(void **state)
{
	ratelimit_t rl;

	(void)state;
	ratelimit_init(&rl, 0, 5);
	assert_true(ratelimit_unlimited(&rl));
	for (int i = 0; i < 100000; i++)
		assert_true(ratelimit_take(&rl, 0));
	assert_int_equal(ratelimit_wait_ms(&rl, 0), 0);

	ratelimit_init(&rl, -3, 5);
	assert_true(ratelimit_unlimited(&rl));
	ratelimit_init(&rl, NAN, 5);
	assert_true(ratelimit_unlimited(&rl));
}

static void
test_burst_then_rate(void **state)
{
	ratelimit_t rl;
	int64_t t = 1000;

	(void)state;
	ratelimit_init(&rl, 10, 3); /* one token per 100 ms, three saved up */
	assert_false(ratelimit_unlimited(&rl));
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(&rl, t));
	assert_false(ratelimit_take(&rl, t));
	assert_int_equal(ratelimit_wait_ms(&rl, t), 100);
	assert_int_equal(ratelimit_wait_ms(&rl, t + 40), 60);
	assert_false(ratelimit_take(&rl, t + 99));
	assert_int_equal(ratelimit_wait_ms(&rl, t + 99), 1);
	assert_true(ratelimit_take(&rl, t + 100));
	assert_false(ratelimit_take(&rl, t + 100));
}

static void
test_refill_caps_at_burst(void **state)
{
	ratelimit_t rl;

	(void)state;
	ratelimit_init(&rl, 10, 2);
	assert_true(ratelimit_take(&rl, 0));
	assert_true(ratelimit_take(&rl, 0));
	assert_false(ratelimit_take(&rl, 0));
	/* An hour idle saves up only the burst. */
	for (int i = 0; i < 2; i++)
		assert_true(ratelimit_take(&rl, 3600 * 1000));
	assert_false(ratelimit_take(&rl, 3600 * 1000));
	/* A gap that would overflow a naive product is still just "full". */
	assert_true(ratelimit_take(&rl, INT64_MAX / 2));
	assert_true(ratelimit_take(&rl, INT64_MAX / 2));
	assert_false(ratelimit_take(&rl, INT64_MAX / 2));
}

static void
test_wait_then_take_always_succeeds(void **state)
{
	/* Rates that do not divide 1000 ms evenly: wait_ms rounds up, never down. */
	const double rates[] = { 3, 7, 0.5, 0.3, 333.3, 1234.5 };

	(void)state;
	for (size_t k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
		ratelimit_t rl;
		int64_t t = 5;
		int taken = 0;

		ratelimit_init(&rl, rates[k], 1);
		while (taken < 50) {
			int64_t w = ratelimit_wait_ms(&rl, t);

			if (w > 0) {
				assert_false(ratelimit_take(&rl, t));
				if (w > 1)
					assert_false(ratelimit_take(&rl, t + w - 1));
				t += w;
			}
			assert_true(ratelimit_take(&rl, t));
			taken++;
		}
		/* 50 tokens with a burst of 1 take 49 refill periods. */
		double expect_ms = 49 * 1000.0 / rates[k];
		assert_true((double)(t - 5) >= expect_ms - 1);
		assert_true((double)(t - 5) <= expect_ms + 50);
	}
}

static void
test_long_run_rate(void **state)
{
	ratelimit_t rl;
	int taken = 0;

	(void)state;
	ratelimit_init(&rl, 50, 5);
	/* Poll every millisecond for 10 s: the burst plus 50/s, no more. */
	for (int64_t t = 0; t <= 10000; t++)
		while (ratelimit_take(&rl, t))
			taken++;
	assert_int_equal(taken, 5 + 500);
}

static void
test_clock_backwards(void **state)
{
	ratelimit_t rl;

	(void)state;
	ratelimit_init(&rl, 10, 1);
	assert_true(ratelimit_take(&rl, 10000));
	/* A clock that steps back refills nothing ... */
	assert_false(ratelimit_take(&rl, 5000));
	/* ... and wait_ms stays truthful from the new reference. */
	assert_int_equal(ratelimit_wait_ms(&rl, 5000), 100);
	assert_false(ratelimit_take(&rl, 5099));
	assert_true(ratelimit_take(&rl, 5100));
}

static void
test_zero_burst_means_one(void **state)
{
	ratelimit_t rl;

	(void)state;
	ratelimit_init(&rl, 1, 0);
	assert_true(ratelimit_take(&rl, 0));
	assert_false(ratelimit_take(&rl, 0));
	assert_int_equal(ratelimit_wait_ms(&rl, 0), 1000);
	assert_true(ratelimit_take(&rl, 1000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_refill_caps_at_burst),
		cmocka_unit_test(test_wait_then_take_always_succeeds),
		cmocka_unit_test(test_long_run_rate),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_zero_burst_means_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
