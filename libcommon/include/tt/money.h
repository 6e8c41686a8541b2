/*
 * tt/money.h - exact money as integer cents.
 *
 * Amounts are int64 minor units (cents, two decimal places), bounded to
 * +/- TT_MONEY_MAX_CENTS so that sums of millions of amounts cannot overflow.
 * Parsed from decimal text ("19.99", "-5", "1e2" is refused) or from a JSON
 * number only when the number has at most two decimal places exactly; never
 * accumulated as a double.
 */
#ifndef TT_MONEY_H
#define TT_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "tt/error.h"

/* 10^13 units = 10^15 cents: headroom of ~9000x below INT64_MAX. */
#define TT_MONEY_MAX_CENTS INT64_C(1000000000000000)
/* Enough for "-10000000000000.00" and a NUL. */
#define TT_MONEY_STR_MAX 24

/*
 * Parses s[0..len): optional '-', digits, optional '.' and 1-2 digits.
 * TT_EPARSE on any other form (exponent, 3+ decimals, spaces, "+", "."),
 * TT_ERANGE beyond TT_MONEY_MAX_CENTS.
 */
tt_err tt_money_parse(const char *s, size_t len, int64_t *cents);

/*
 * Converts a JSON number (as cJSON gives it, a double) to cents, accepting
 * it only when it is exactly representable with two decimals: the nearest
 * cent value must reproduce the double when printed with 17 significant
 * digits ("%.17g" round-trip). TT_EPARSE otherwise; TT_ERANGE when too large.
 */
tt_err tt_money_from_double(double v, int64_t *cents);

/* Writes "-12.34" / "0.05" / "100.00" into buf; returns the length. */
size_t tt_money_format(int64_t cents, char buf[TT_MONEY_STR_MAX]);

/* Multiplication with overflow and range checks (price x quantity). */
tt_err tt_money_mul(int64_t cents, int64_t n, int64_t *out);

#endif
