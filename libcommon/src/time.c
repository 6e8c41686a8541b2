/*
 * time.c - ISO 8601 / RFC 3339 parsing and formatting over int64 ms UTC.
 * Civil-date arithmetic is Howard Hinnant's days_from_civil algorithm
 * (public domain description), written out here for int64.
 */
#include "tt/time.h"

#include <stdio.h>
#include <time.h>

int64_t
tt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
days_in_month(int64_t y, unsigned m)
{
	static const unsigned dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Reads exactly n digits at s[*i]; -1 when any is not a digit or out of input. */
static int
digits(const char *s, size_t len, size_t *i, int n)
{
	int v = 0;
	if (*i + (size_t)n > len)
		return -1;
	for (int k = 0; k < n; k++) {
		char c = s[*i + (size_t)k];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*i += (size_t)n;
	return v;
}

static int
expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return 0;
	(*i)++;
	return 1;
}

tt_err
tt_iso_parse(const char *s, size_t len, int allowed, int64_t *ms)
{
	size_t i = 0;
	int y, mo, d, h, mi, se, frac = 0;
	int64_t off_min = 0;

	if (s == NULL)
		return TT_EPARSE;
	if ((y = digits(s, len, &i, 4)) < 0 || !expect(s, len, &i, '-') ||
	    (mo = digits(s, len, &i, 2)) < 0 || !expect(s, len, &i, '-') ||
	    (d = digits(s, len, &i, 2)) < 0)
		return TT_EPARSE;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    (unsigned)d > days_in_month(y, (unsigned)mo))
		return TT_ERANGE;
	int64_t days = tt_days_from_civil(y, (unsigned)mo, (unsigned)d);
	if (i == len) {
		if (!(allowed & TT_ISO_DATE))
			return TT_EPARSE;
		*ms = days * 86400000;
		return TT_OK;
	}
	if (!(allowed & TT_ISO_DATETIME))
		return TT_EPARSE;
	if (!(expect(s, len, &i, 'T') || expect(s, len, &i, 't')) ||
	    (h = digits(s, len, &i, 2)) < 0 || !expect(s, len, &i, ':') ||
	    (mi = digits(s, len, &i, 2)) < 0 || !expect(s, len, &i, ':') ||
	    (se = digits(s, len, &i, 2)) < 0)
		return TT_EPARSE;
	if (h > 23 || mi > 59 || se > 60)
		return TT_ERANGE;
	if (i < len && s[i] == '.') {
		int nd = 0;
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (nd < 3)
				frac = frac * 10 + (s[i] - '0');
			nd++;
			i++;
			if (nd > 9)
				return TT_EPARSE;
		}
		if (nd == 0)
			return TT_EPARSE;
		for (int k = nd; k < 3; k++)
			frac *= 10;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;
		int oh, om;
		i++;
		if ((oh = digits(s, len, &i, 2)) < 0 || !expect(s, len, &i, ':') ||
		    (om = digits(s, len, &i, 2)) < 0)
			return TT_EPARSE;
		if (oh > 23 || om > 59)
			return TT_ERANGE;
		off_min = sign * (oh * 60 + om);
	} else {
		return TT_EPARSE;  /* an offset is required: no local times */
	}
	if (i != len)
		return TT_EPARSE;
	if (se == 60) {
		se = 59;
		frac = 999;
	}
	int64_t v = ((days * 24 + h) * 60 + mi - off_min) * 60 + se;
	v = v * 1000 + frac;
	/* The offset may carry the instant out of 1970..9999: refuse it. */
	if (v < 0 || v >= INT64_C(253402300800000))
		return TT_ERANGE;
	*ms = v;
	return TT_OK;
}

/* Writes v (0 <= v < 10^width) as width digits. */
static char *
put_digits(char *p, int64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

size_t
tt_iso_format(int64_t ms, char buf[TT_ISO_MAX])
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int64_t msr = ms - secs * 1000;
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t sod = secs - days * 86400;
	int64_t y;
	unsigned m, d;
	char *p = buf;

	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) {   /* outside what the parser accepts: say so plainly */
		int n = snprintf(buf, TT_ISO_MAX, "%lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
		    (long long)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
		    (int)(sod % 60), (int)msr);
		return n < 0 ? 0 : (size_t)n;
	}
	/* Hand-formatted: this runs once per stored event. */
	p = put_digits(p, y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, sod / 3600, 2);
	*p++ = ':';
	p = put_digits(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, sod % 60, 2);
	*p++ = '.';
	p = put_digits(p, msr, 3);
	*p++ = 'Z';
	*p = '\0';
	return (size_t)(p - buf);
}

size_t
tt_iso_date(int64_t ms, char buf[TT_ISO_MAX])
{
	int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
	int64_t y;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	int n = snprintf(buf, TT_ISO_MAX, "%04lld-%02u-%02u", (long long)y, m, d);
	return n < 0 ? 0 : (size_t)n;
}

int64_t
tt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
tt_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
tt_mono_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timespec
tt_timespec_in(int clock, int64_t ms)
{
	struct timespec ts;

	clock_gettime((clockid_t)clock, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}
