/* backoff: exponential retry delays with jitter and Retry-After; see backoff.h. */
#include "ticketsync/backoff.h"

/* floor(span * rnd / 2^32) without 128-bit arithmetic: split span in 32-bit halves. */
static int64_t
backoff_scale(int64_t span, uint32_t rnd)
{
	uint64_t s = (uint64_t)span;
	uint64_t hi = (s >> 32) * rnd;
	uint64_t lo = ((s & 0xffffffffu) * rnd) >> 32;

	return (int64_t)(hi + lo);
}

int64_t
backoff_delay_ms(const backoff_policy_t *p, uint32_t attempt, int64_t retry_after_ms,
                 uint32_t rnd)
{
	int64_t base = p->base_ms < 1 ? 1 : p->base_ms;
	int64_t max = p->max_ms < base ? base : p->max_ms;
	int64_t d = base;
	int64_t delay;

	if (attempt == 0)
		attempt = 1;
	/* Double until the cap; stopping at max keeps d from ever overflowing. */
	for (uint32_t i = 1; i < attempt && d < max; i++)
		d = d > max / 2 ? max : d * 2;
	if (d > max)
		d = max;

	switch (p->jitter) {
	case BACKOFF_JITTER_EQUAL:
		delay = d - d / 2 + backoff_scale(d / 2, rnd);
		break;
	case BACKOFF_JITTER_FULL:
		delay = backoff_scale(d, rnd);
		break;
	case BACKOFF_JITTER_NONE:
	default:
		delay = d;
		break;
	}

	if (retry_after_ms > 0) {
		if (retry_after_ms > BACKOFF_RETRY_AFTER_CAP_MS)
			retry_after_ms = BACKOFF_RETRY_AFTER_CAP_MS;
		if (retry_after_ms > delay)
			delay = retry_after_ms;
	}
	return delay;
}

int64_t
backoff_retry_after_ms(int64_t seconds)
{
	if (seconds <= 0)
		return -1;
	if (seconds > BACKOFF_RETRY_AFTER_CAP_MS / 1000)
		return BACKOFF_RETRY_AFTER_CAP_MS;
	return seconds * 1000;
}
