/*
 * money_fuzz.c - libFuzzer target for the money parsers (tt/money.h).
 *
 * Text: tt_money_parse() over an exact-size heap copy of the input. When it
 * accepts, the amount is within +/- TT_MONEY_MAX_CENTS, tt_money_format()
 * gives text that parses back to the same cents, and the same text read as
 * a JSON number (strtod, as cJSON does) is accepted by
 * tt_money_from_double() with the same cents: a two-decimal amount is
 * accepted whichever way the producer encoded it (proto/README.md).
 *
 * Double: the first 8 bytes reinterpreted as a double (any NaN, infinity,
 * subnormal) go through tt_money_from_double(); an accepted value is in
 * range, formats and parses back, and is the nearest cent of the double.
 *
 * tt_money_mul() with the two int64s of the first 16 bytes must agree with
 * 128-bit arithmetic.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/money.h"
#include "fuzz.h"

static void
check_format(int64_t cents)
{
	char buf[TT_MONEY_STR_MAX];
	int64_t back = INT64_MIN;
	size_t n;

	CHECK(cents >= -TT_MONEY_MAX_CENTS && cents <= TT_MONEY_MAX_CENTS);
	memset(buf, 'X', sizeof(buf));
	n = tt_money_format(cents, buf);
	CHECK(n > 0 && n < TT_MONEY_STR_MAX && buf[n] == '\0');
	CHECK(tt_money_parse(buf, n, &back) == TT_OK && back == cents);
}

static void
fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size > 0 ? size : 1);
	int64_t cents = INT64_MIN;
	tt_err e;

	if (s == NULL)
		return;
	if (size > 0)
		memcpy(s, data, size);
	e = tt_money_parse(s, size, &cents);
	free(s);
	if (e != TT_OK) {
		CHECK(e == TT_EPARSE || e == TT_ERANGE);
		CHECK(cents == INT64_MIN); /* written on success only */
		return;
	}
	check_format(cents);

	/* Accepted text is only '-', digits and '.': strtod reads all of it. */
	char num[64];
	if (size >= sizeof(num))
		return; /* leading zeros; the value is covered by shorter inputs */
	memcpy(num, data, size);
	num[size] = '\0';
	char *end = NULL;
	double v = strtod(num, &end);
	int64_t from_double = INT64_MIN;
	CHECK(end == num + size);
	CHECK(tt_money_from_double(v, &from_double) == TT_OK);
	CHECK(from_double == cents);
}

static void
fuzz_double(const uint8_t *data, size_t size)
{
	double v;
	int64_t cents = INT64_MIN;
	tt_err e;

	if (size < sizeof(v))
		return;
	memcpy(&v, data, sizeof(v));
	e = tt_money_from_double(v, &cents);
	if (e != TT_OK) {
		CHECK(e == TT_EPARSE || e == TT_ERANGE);
		CHECK(cents == INT64_MIN);
		return;
	}
	CHECK(isfinite(v));
	check_format(cents);
	CHECK((double)cents == nearbyint(v * 100.0));
}

static void
fuzz_mul(const uint8_t *data, size_t size)
{
	int64_t a, b, r = INT64_MIN;
	tt_err e;

	if (size < 2 * sizeof(int64_t))
		return;
	memcpy(&a, data, sizeof(a));
	memcpy(&b, data + sizeof(a), sizeof(b));
	__int128 want = (__int128)a * b;
	bool fits = want >= -(__int128)TT_MONEY_MAX_CENTS && want <= (__int128)TT_MONEY_MAX_CENTS;
	e = tt_money_mul(a, b, &r);
	if (fits)
		CHECK(e == TT_OK && r == (int64_t)want);
	else
		CHECK(e == TT_ERANGE && r == INT64_MIN);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_text(data, size);
	fuzz_double(data, size);
	fuzz_mul(data, size);
	return 0;
}
