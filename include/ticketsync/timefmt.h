/*
 * timefmt: the times operators type and read (ISO-8601, epoch milliseconds, "24h"),
 * as epoch milliseconds, the unit of BSON dates. Pure: no I/O, no locale, no TZ
 * database (times without an offset are UTC, stated in the docs).
 */
#ifndef TICKETSYNC_TIMEFMT_H
#define TICKETSYNC_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Buffer sizes that always suffice. */
#define TIMEFMT_ISO_MAX 32
#define TIMEFMT_DURATION_MAX 32

/*
 * ISO-8601 / RFC 3339 as people write it: "2026-11-01", "2026-11-01T08:30",
 * "2026-11-01T08:30:15", "2026-11-01 08:30:15.250Z", "2026-11-01T08:30:15+02:00"
 * (offsets +HH, +HHMM, +HH:MM). A space may stand for the 'T'; no offset means UTC;
 * fractions beyond milliseconds are truncated. Years 1970..9999. Every field is
 * range-checked (Feb 29 only in leap years). false on anything else.
 */
bool timefmt_parse_iso8601(const char *s, int64_t *ms_out);

/*
 * A point in time for --since: ISO-8601 (above), epoch milliseconds (all digits), or
 * a relative age "<n>s|m|h|d|w" meaning now - n units ("90m", "24h", "7d"). false
 * with a one-line reason in why (never longer than whylen) otherwise.
 */
bool timefmt_parse_since(const char *s, int64_t now_ms, int64_t *ms_out, char *why,
    size_t whylen);

/* "2026-11-01T08:30:15Z", or with milliseconds "2026-11-01T08:30:15.250Z". Times
 * before 1970 or after 9999 are written as "-". buf needs TIMEFMT_ISO_MAX bytes. */
void timefmt_format_iso8601(int64_t ms, bool with_ms, char *buf, size_t buflen);

/* A short age for humans: "850ms", "12s", "3m05s", "2h03m", "4d02h"; negative
 * durations are written as "0ms". */
void timefmt_format_duration(int64_t ms, char *buf, size_t buflen);

#endif
