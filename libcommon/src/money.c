/*
 * money.c - exact decimal money in integer cents. The parser reads digits
 * directly (no strtod); the double path accepts only values that round-trip,
 * so 0.1 + 0.2 style drift can never enter a stored sum.
 */
#include "tt/money.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tt_err
tt_money_parse(const char *s, size_t len, int64_t *cents)
{
	size_t i = 0;
	int neg = 0;
	int64_t units = 0, frac = 0;
	size_t nint = 0, nfrac = 0;

	if (s == NULL || len == 0)
		return TT_EPARSE;
	if (s[0] == '-') {
		neg = 1;
		i++;
	}
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, nint++) {
		if (units > TT_MONEY_MAX_CENTS / 100)
			return TT_ERANGE;
		units = units * 10 + (s[i] - '0');
	}
	if (nint == 0)
		return TT_EPARSE;
	if (i < len && s[i] == '.') {
		i++;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, nfrac++) {
			if (nfrac >= 2)
				return TT_EPARSE;
			frac = frac * 10 + (s[i] - '0');
		}
		if (nfrac == 0)
			return TT_EPARSE;
		if (nfrac == 1)
			frac *= 10;
	}
	if (i != len)
		return TT_EPARSE;
	if (units > TT_MONEY_MAX_CENTS / 100)
		return TT_ERANGE;
	int64_t v = units * 100 + frac;
	if (v > TT_MONEY_MAX_CENTS)
		return TT_ERANGE;
	*cents = neg ? -v : v;
	return TT_OK;
}

tt_err
tt_money_from_double(double v, int64_t *cents)
{
	double c;

	if (!isfinite(v))
		return TT_EPARSE;
	if (fabs(v) > (double)(TT_MONEY_MAX_CENTS / 100))
		return TT_ERANGE;
	c = nearbyint(v * 100.0);
	/*
	 * v has at most two decimals iff the decimal c/100 is the same double
	 * as v: division is correctly rounded, so c / 100.0 is the double
	 * nearest to c/100, and it equals v exactly when v's shortest decimal
	 * form has two places or fewer (19.99 * 100 = 1998.9999999999998, but
	 * 1999 / 100.0 == 19.99). 1.005 gives 100 / 100.0 = 1.0: refused.
	 */
	if (c / 100.0 != v)
		return TT_EPARSE;
	*cents = (int64_t)c;
	return TT_OK;
}

size_t
tt_money_format(int64_t cents, char buf[TT_MONEY_STR_MAX])
{
	uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
	int n = snprintf(buf, TT_MONEY_STR_MAX, "%s%llu.%02llu", cents < 0 ? "-" : "",
	    (unsigned long long)(a / 100), (unsigned long long)(a % 100));
	return n < 0 ? 0 : (size_t)n;
}

tt_err
tt_money_mul(int64_t cents, int64_t n, int64_t *out)
{
	int64_t r;

	if (__builtin_mul_overflow(cents, n, &r))
		return TT_ERANGE;
	if (r > TT_MONEY_MAX_CENTS || r < -TT_MONEY_MAX_CENTS)
		return TT_ERANGE;
	*out = r;
	return TT_OK;
}
