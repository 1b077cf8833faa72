/* ratelimit: integer token bucket; see ratelimit.h. */
#include "ticketsync/ratelimit.h"

#include <math.h>

#define RATELIMIT_NT_PER_TOKEN INT64_C(1000000000)
/* Caps keep every product below INT64_MAX: 1e6 tokens/s and 1e9 tokens of burst. */
#define RATELIMIT_MAX_RATE_PER_S 1e6
#define RATELIMIT_MAX_BURST UINT32_C(1000000000)

void
ratelimit_init(ratelimit_t *rl, double rate_per_s, uint32_t burst)
{
	rl->started = false;
	rl->last_ms = 0;
	if (!(rate_per_s > 0)) { /* also catches NaN */
		rl->rate_nt_per_ms = 0;
		rl->capacity_nt = 0;
		rl->tokens_nt = 0;
		return;
	}
	if (rate_per_s > RATELIMIT_MAX_RATE_PER_S)
		rate_per_s = RATELIMIT_MAX_RATE_PER_S;
	/* tokens/s * 1e9 nt/token / 1000 ms/s; round up so tiny rates never become 0. */
	rl->rate_nt_per_ms = (int64_t)ceil(rate_per_s * 1e6);
	if (burst == 0)
		burst = 1;
	if (burst > RATELIMIT_MAX_BURST)
		burst = RATELIMIT_MAX_BURST;
	rl->capacity_nt = (int64_t)burst * RATELIMIT_NT_PER_TOKEN;
	rl->tokens_nt = rl->capacity_nt;
}

bool
ratelimit_unlimited(const ratelimit_t *rl)
{
	return rl->rate_nt_per_ms == 0;
}

static void
ratelimit_refill(ratelimit_t *rl, int64_t now_ms)
{
	int64_t elapsed, room;

	if (!rl->started) {
		rl->started = true;
		rl->last_ms = now_ms;
		return;
	}
	if (now_ms <= rl->last_ms) {
		/* Rebase on a clock that stepped back, so wait_ms stays truthful. */
		rl->last_ms = now_ms;
		return;
	}
	elapsed = now_ms - rl->last_ms;
	rl->last_ms = now_ms;
	room = rl->capacity_nt - rl->tokens_nt;
	/* Compare by division so a long idle gap cannot overflow the product. */
	if (elapsed >= room / rl->rate_nt_per_ms + 1)
		rl->tokens_nt = rl->capacity_nt;
	else
		rl->tokens_nt += elapsed * rl->rate_nt_per_ms;
	if (rl->tokens_nt > rl->capacity_nt)
		rl->tokens_nt = rl->capacity_nt;
}

bool
ratelimit_take(ratelimit_t *rl, int64_t now_ms)
{
	if (ratelimit_unlimited(rl))
		return true;
	ratelimit_refill(rl, now_ms);
	if (rl->tokens_nt < RATELIMIT_NT_PER_TOKEN)
		return false;
	rl->tokens_nt -= RATELIMIT_NT_PER_TOKEN;
	return true;
}

int64_t
ratelimit_wait_ms(ratelimit_t *rl, int64_t now_ms)
{
	int64_t missing;

	if (ratelimit_unlimited(rl))
		return 0;
	ratelimit_refill(rl, now_ms);
	missing = RATELIMIT_NT_PER_TOKEN - rl->tokens_nt;
	if (missing <= 0)
		return 0;
	return (missing + rl->rate_nt_per_ms - 1) / rl->rate_nt_per_ms;
}
