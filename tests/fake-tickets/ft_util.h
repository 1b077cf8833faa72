/*
 * ft_util: the small pure chores of the fake ticket systems: the time formats of Jira
 * ("2026-12-07T10:00:00.000+0000") and ServiceNow ("2026-12-07 10:00:00"), both UTC,
 * and their parsing; comma lists; UTF-8 length; hex.
 */
#ifndef FT_UTIL_H
#define FT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which ticket system the fake plays. */
enum ft_flavour {
	FT_JIRA_CLOUD = 0,
	FT_JIRA_DC,
	FT_SERVICENOW,
	FT_HTTP,        /* a generic create-a-ticket endpoint ([create_http]) */
};
#define FT_IS_JIRA(f) ((f) == FT_JIRA_CLOUD || (f) == FT_JIRA_DC)

/* Jira's timestamp of epoch ms t, UTC: "2026-12-07T10:00:00.000+0000" (out >= 32). */
void ft_time_jira(int64_t t, char *out, size_t len);
/* ServiceNow's "2026-12-07 10:00:00", UTC (out >= 20). */
void ft_time_snow(int64_t t, char *out, size_t len);
/* ISO 8601 UTC with seconds: "2026-12-07T10:00:01Z". */
void ft_time_iso(int64_t t, char *out, size_t len);

/*
 * "yyyy-MM-dd", "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss" (also '/' between the date
 * parts, as JQL allows) as UTC epoch ms; false if it is none of those or out of range.
 */
bool ft_time_parse(const char *s, int64_t *ms);

/* Split a comma list (items trimmed, empties dropped), appending xstrdup'd copies to
 * *items (grown with xreallocarray). */
void ft_list_add(char ***items, size_t *n, const char *csv);
void ft_list_free(char **items, size_t n);
bool ft_list_has(char *const *items, size_t n, const char *s);
/* Case-insensitive. */
bool ft_list_has_ci(char *const *items, size_t n, const char *s);

/* Code points of valid UTF-8 s. */
size_t ft_utf8_len(const char *s);

/* Lower-case hex of len bytes into out (2 * len + 1). */
void ft_hex(const unsigned char *in, size_t len, char *out);

#endif
