/* ft_rate: token bucket for writes. */
#include "ft_rate.h"

#include <math.h>

void
ft_rate_init(ft_rate_t *r, int64_t limit, int64_t now_ms)
{
	r->limit = limit;
	r->tokens = (double)limit;
	r->last_ms = now_ms;
}

void
ft_rate_set(ft_rate_t *r, int64_t limit, int64_t now_ms)
{
	ft_rate_init(r, limit, now_ms);
}

bool
ft_rate_take(ft_rate_t *r, int64_t now_ms, int64_t *retry_after_s)
{
	double wait_s;

	if (r->limit <= 0)
		return true;
	if (now_ms > r->last_ms) {
		r->tokens += (double)(now_ms - r->last_ms) * (double)r->limit / 1000.0;
		if (r->tokens > (double)r->limit)
			r->tokens = (double)r->limit;
		r->last_ms = now_ms;
	}
	if (r->tokens >= 1.0) {
		r->tokens -= 1.0;
		return true;
	}
	/* Seconds until one token is back, rounded up: Retry-After is whole seconds. */
	wait_s = (1.0 - r->tokens) / (double)r->limit;
	*retry_after_s = (int64_t)ceil(wait_s);
	if (*retry_after_s < 1)
		*retry_after_s = 1;
	return false;
}
