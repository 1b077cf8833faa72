/* timefmt: ISO-8601, epoch ms and relative ages <-> epoch ms; see timefmt.h. */
#include "ticketsync/timefmt.h"

#include <stdio.h>
#include <string.h>

#define MS_PER_S INT64_C(1000)
#define MS_PER_DAY (86400 * MS_PER_S)
/* 9999-12-31T23:59:59.999Z: the last instant four year digits can write. */
#define TIMEFMT_MAX_MS INT64_C(253402300799999)

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm):
 * no timegm(), so no dependence on the process time zone. */
static int64_t
timefmt_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
timefmt_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool
timefmt_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
timefmt_month_days(int64_t y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && timefmt_leap(y) ? 29 : days[m - 1];
}

/* Exactly n digits at *p, advancing it. */
static bool
timefmt_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

bool
timefmt_parse_iso8601(const char *s, int64_t *ms_out)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, msec = 0, oh = 0, om = 0, sign = 0;
	int64_t ms;

	if (s == NULL || !timefmt_digits(&p, 4, &y) || *p++ != '-' || !timefmt_digits(&p, 2, &mo) ||
	    *p++ != '-' || !timefmt_digits(&p, 2, &d))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > timefmt_month_days(y, mo))
		return false;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!timefmt_digits(&p, 2, &h) || *p++ != ':' || !timefmt_digits(&p, 2, &mi))
			return false;
		if (*p == ':') {
			p++;
			if (!timefmt_digits(&p, 2, &sec))
				return false;
			if (*p == '.' || *p == ',') {
				int n = 0;
				p++;
				if (*p < '0' || *p > '9')
					return false;
				/* Keep milliseconds; finer digits are read and dropped. */
				for (; *p >= '0' && *p <= '9'; p++, n++)
					if (n < 3)
						msec = msec * 10 + (*p - '0');
				for (; n < 3; n++)
					msec *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 59)
			return false;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '+' ? 1 : -1;
			if (!timefmt_digits(&p, 2, &oh))
				return false;
			if (*p == ':')
				p++;
			if (*p >= '0' && *p <= '9' && !timefmt_digits(&p, 2, &om))
				return false;
			if (oh > 23 || om > 59)
				return false;
		}
	}
	if (*p != '\0')
		return false;
	ms = timefmt_days_from_civil(y, mo, d) * MS_PER_DAY +
	    ((int64_t)h * 3600 + mi * 60 + sec) * MS_PER_S + msec;
	/* "+02:00" is two hours ahead of UTC: subtract to get UTC. */
	ms -= sign * ((int64_t)oh * 3600 + om * 60) * MS_PER_S;
	if (ms < 0)
		return false;
	*ms_out = ms;
	return true;
}

bool
timefmt_parse_since(const char *s, int64_t now_ms, int64_t *ms_out, char *why, size_t whylen)
{
	size_t len = s ? strlen(s) : 0;
	size_t ndig = 0;
	int64_t n = 0, unit = 0;

	while (ndig < len && s[ndig] >= '0' && s[ndig] <= '9')
		ndig++;
	if (len > 0 && ndig == len) {
		/* Epoch milliseconds; 16 digits already pass the year 9999. */
		if (len > 15) {
			snprintf(why, whylen, "\"%.40s\" is too large for epoch milliseconds", s);
			return false;
		}
		for (size_t i = 0; i < len; i++)
			n = n * 10 + (s[i] - '0');
		*ms_out = n;
		return true;
	}
	if (ndig > 0 && ndig == len - 1 && ndig <= 9) {
		switch (s[len - 1]) {
		case 's': unit = MS_PER_S; break;
		case 'm': unit = 60 * MS_PER_S; break;
		case 'h': unit = 3600 * MS_PER_S; break;
		case 'd': unit = MS_PER_DAY; break;
		case 'w': unit = 7 * MS_PER_DAY; break;
		default: break;
		}
		if (unit != 0) {
			for (size_t i = 0; i < ndig; i++)
				n = n * 10 + (s[i] - '0');
			*ms_out = now_ms - n * unit;
			if (*ms_out < 0)
				*ms_out = 0;
			return true;
		}
	}
	if (len > 0 && timefmt_parse_iso8601(s, ms_out))
		return true;
	snprintf(why, whylen, "\"%.40s\" is not a time: use ISO-8601 (2026-11-01 or "
	    "2026-11-01T08:30:00Z), epoch milliseconds, or an age such as 90m, 24h, 7d", s ? s : "");
	return false;
}

void
timefmt_format_iso8601(int64_t ms, bool with_ms, char *buf, size_t buflen)
{
	int64_t days, rem, y;
	int m, d;

	if (ms < 0 || ms > TIMEFMT_MAX_MS) {
		snprintf(buf, buflen, "-");
		return;
	}
	days = ms / MS_PER_DAY;
	rem = ms % MS_PER_DAY;
	timefmt_civil_from_days(days, &y, &m, &d);
	if (with_ms)
		snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d,
		    (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
		    (int)(rem % 1000));
	else
		snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d,
		    (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60));
}

void
timefmt_format_duration(int64_t ms, char *buf, size_t buflen)
{
	int64_t s;

	if (ms < 0)
		ms = 0;
	s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, buflen, "%dms", (int)ms);
	else if (s < 60)
		snprintf(buf, buflen, "%ds", (int)s);
	else if (s < 3600)
		snprintf(buf, buflen, "%dm%02ds", (int)(s / 60), (int)(s % 60));
	else if (s < 86400)
		snprintf(buf, buflen, "%dh%02dm", (int)(s / 3600), (int)(s / 60 % 60));
	else
		snprintf(buf, buflen, "%lldd%02dh", (long long)(s / 86400), (int)(s / 3600 % 24));
}
