/* ft_util: times, lists and text helpers for the fake ticket systems. */
#include "ft_util.h"

#include "ticketsync/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void
ft_time_tm(int64_t t, struct tm *tm)
{
	time_t s = (time_t)(t >= 0 ? t / 1000 : (t - 999) / 1000);

	gmtime_r(&s, tm);
}

void
ft_time_jira(int64_t t, char *out, size_t len)
{
	struct tm tm;

	ft_time_tm(t, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(((t % 1000) + 1000) % 1000));
}

void
ft_time_snow(int64_t t, char *out, size_t len)
{
	struct tm tm;

	ft_time_tm(t, &tm);
	snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void
ft_time_iso(int64_t t, char *out, size_t len)
{
	struct tm tm;

	ft_time_tm(t, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool
ft_time_digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool
ft_time_parse(const char *s, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	struct tm tm;
	size_t n = strlen(s);
	char sep;

	if (n < 10 || !ft_time_digits(s, 4, &y) || (s[4] != '-' && s[4] != '/'))
		return false;
	sep = s[4];
	if (!ft_time_digits(s + 5, 2, &mo) || s[7] != sep || !ft_time_digits(s + 8, 2, &d))
		return false;
	if (n == 10)
		goto done;
	if ((n != 16 && n != 19) || s[10] != ' ' || !ft_time_digits(s + 11, 2, &h) ||
	    s[13] != ':' || !ft_time_digits(s + 14, 2, &mi))
		return false;
	if (n == 19 && (s[16] != ':' || !ft_time_digits(s + 17, 2, &sec)))
		return false;
done:
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	{
		time_t t = timegm(&tm);
		struct tm back;

		/* 2026-02-31 normalises to March: not a date. */
		gmtime_r(&t, &back);
		if (back.tm_mday != d || back.tm_mon != mo - 1)
			return false;
		*ms = (int64_t)t * 1000;
	}
	return true;
}

void
ft_list_add(char ***items, size_t *n, const char *csv)
{
	const char *p = csv;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *a = p, *b = p + len;

		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (b > a) {
			*items = xreallocarray(*items, *n + 1, sizeof(**items));
			(*items)[(*n)++] = xstrndup(a, (size_t)(b - a));
		}
		p = end ? end + 1 : p + len;
	}
}

void
ft_list_free(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

bool
ft_list_has(char *const *items, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(items[i], s) == 0)
			return true;
	return false;
}

bool
ft_list_has_ci(char *const *items, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(items[i], s) == 0)
			return true;
	return false;
}

size_t
ft_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

void
ft_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}
