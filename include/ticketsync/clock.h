/*
 * clock: the program's two clocks, in milliseconds. Every module reads time here.
 *
 * - clock_mono_ms: CLOCK_MONOTONIC, for intervals, deadlines and timers (never jumps
 *   with the wall clock; meaningless across processes and restarts).
 * - clock_wall_ms: CLOCK_REALTIME since the epoch, the unit of BSON dates; for what
 *   is stored or compared with other machines (next_attempt_at, audit times).
 */
#ifndef TICKETSYNC_CLOCK_H
#define TICKETSYNC_CLOCK_H

#include <stdint.h>

int64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);

#endif
