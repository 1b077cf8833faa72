/*
 * backoff: the retry schedule (exponential from base to max, "equal jitter", server
 * Retry-After honoured). Pure: the random value is passed in, so results are
 * deterministic under test.
 */
#ifndef TICKETSYNC_BACKOFF_H
#define TICKETSYNC_BACKOFF_H

#include <stdint.h>

/* The longest wait a server's Retry-After can impose; longer requests are capped. */
#define BACKOFF_RETRY_AFTER_CAP_MS (3600 * INT64_C(1000))

enum backoff_jitter {
	/* delay = d: no randomness (tests, the watcher's reconnect log line) */
	BACKOFF_JITTER_NONE = 0,
	/* delay uniform in [d/2, d]: spreads retries without ever retrying at once */
	BACKOFF_JITTER_EQUAL,
	/* delay uniform in [0, d]: spreads best (AWS "full jitter"), may be ~0 */
	BACKOFF_JITTER_FULL,
};

typedef struct backoff_policy {
	int64_t base_ms; /* delay before the first retry (before jitter); < 1 means 1 */
	int64_t max_ms;  /* ceiling of the computed delay; < base means base */
	enum backoff_jitter jitter;
} backoff_policy_t;

/*
 * Delay before retry number `attempt` (1 = first retry after the first failure;
 * 0 is treated as 1): d = min(base * 2^(attempt-1), max), jittered with rnd (any
 * uint32_t, uniform over its range; rnd/2^32 is the fraction of the jitter span).
 * retry_after_ms is the server's Retry-After in ms (< 0 = none): capped at
 * BACKOFF_RETRY_AFTER_CAP_MS and used when larger than the jittered delay, even
 * beyond max (the server knows its own load). Never overflows; result >= 0.
 */
int64_t backoff_delay_ms(const backoff_policy_t *p, uint32_t attempt, int64_t retry_after_ms,
                         uint32_t rnd);

/* Retry-After seconds (e.g. CURLINFO_RETRY_AFTER, 0 = none) -> ms for
 * backoff_delay_ms: -1 when <= 0, saturated at BACKOFF_RETRY_AFTER_CAP_MS. */
int64_t backoff_retry_after_ms(int64_t seconds);

#endif
