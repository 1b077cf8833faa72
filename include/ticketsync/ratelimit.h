/*
 * ratelimit: a token bucket for outgoing requests. Pure: the caller passes the time
 * (milliseconds on any monotonic clock), so tests drive it without waiting.
 *
 * The bucket starts full (burst tokens) and refills at rate_per_s. Arithmetic is in
 * integer nano-tokens, so "wait_ms then take" always succeeds: no floating-point
 * drift between the two calls.
 */
#ifndef TICKETSYNC_RATELIMIT_H
#define TICKETSYNC_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ratelimit {
	int64_t rate_nt_per_ms; /* refill, nano-tokens per millisecond; 0 = unlimited */
	int64_t capacity_nt;    /* burst, in nano-tokens */
	int64_t tokens_nt;
	int64_t last_ms;
	bool started;           /* last_ms is meaningful */
} ratelimit_t;

/* rate_per_s <= 0 (or not a number) means unlimited; rates down to 1e-6/s are kept,
 * slower ones round up to that. burst is the most tokens ever saved up; 0 is treated as 1
 * so a limited bucket can always make progress. */
void ratelimit_init(ratelimit_t *rl, double rate_per_s, uint32_t burst);

bool ratelimit_unlimited(const ratelimit_t *rl);

/* Take one token if one is available at now_ms. Time that goes backwards refills
 * nothing (and is not an error). */
bool ratelimit_take(ratelimit_t *rl, int64_t now_ms);

/* Milliseconds from now_ms until ratelimit_take would succeed; 0 when it would now.
 * Does not consume. */
int64_t ratelimit_wait_ms(ratelimit_t *rl, int64_t now_ms);

#endif
