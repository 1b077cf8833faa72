/*
 * ft_rate: the write rate limit, a token bucket holding `limit` tokens refilled at
 * `limit` per second (a burst of `limit` writes, then `limit` per second). Limit 0 means
 * no limit. Pure logic on a monotonic clock supplied by the caller.
 */
#ifndef FT_RATE_H
#define FT_RATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ft_rate {
	int64_t limit;
	double tokens;
	int64_t last_ms;
} ft_rate_t;

void ft_rate_init(ft_rate_t *r, int64_t limit, int64_t now_ms);
/* Change the limit (the bucket starts full again). */
void ft_rate_set(ft_rate_t *r, int64_t limit, int64_t now_ms);
/* Take one token: true if allowed; else *retry_after_s is the wait (>= 1 s). */
bool ft_rate_take(ft_rate_t *r, int64_t now_ms, int64_t *retry_after_s);

#endif
