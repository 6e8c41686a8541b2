/*
 * money_test.c - exact cents: the decimal parser's accepted and refused
 * forms, the +/-10^13 bound and one cent past it, the double path that
 * takes only two-decimal values, formatting, and checked multiplication.
 *
 * Expected cents are the decimal arithmetic of the inputs (19.99 -> 1999);
 * TT_MONEY_MAX_CENTS is 10^13 units = 10^15 cents (proto/README.md: money
 * lies between -10^13 and 10^13).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "tt/money.h"

#define SENTINEL INT64_C(777777)
#define MAX_CENTS INT64_C(1000000000000000)   /* 10^15, written out */

static void
assert_parses(const char *s, int64_t want)
{
	int64_t c = SENTINEL;
	assert_int_equal(tt_money_parse(s, strlen(s), &c), TT_OK);
	assert_int_equal(c, want);
}

static void
assert_parse_fails(const char *s, tt_err want)
{
	int64_t c = SENTINEL;
	assert_int_equal(tt_money_parse(s, strlen(s), &c), want);
	assert_int_equal(c, SENTINEL);   /* written only on success */
}

/* ---- tt_money_parse -------------------------------------------------- */

static void
test_money_parse_two_decimals(void **state)
{
	(void)state;
	assert_parses("19.99", 1999);
	assert_parses("0.05", 5);
}

static void
test_money_parse_one_decimal_is_tenths(void **state)
{
	(void)state;
	assert_parses("100.1", 10010);
	assert_parses("12.3", 1230);
}

static void
test_money_parse_integer(void **state)
{
	(void)state;
	assert_parses("0", 0);
	assert_parses("5", 500);
	assert_parses("1234", 123400);
}

static void
test_money_parse_negative_half(void **state)
{
	(void)state;
	assert_parses("-0.5", -50);
}

static void
test_money_parse_negative_amounts(void **state)
{
	(void)state;
	assert_parses("-19.99", -1999);
	assert_parses("-5", -500);
	assert_parses("-0", 0);
}

static void
test_money_parse_leading_zeros(void **state)
{
	(void)state;
	assert_parses("007.50", 750);
	assert_parses("00", 0);
}

static void
test_money_parse_rejects_trailing_dot(void **state)
{
	(void)state;
	assert_parse_fails("1.", TT_EPARSE);
}

static void
test_money_parse_rejects_leading_dot(void **state)
{
	(void)state;
	assert_parse_fails(".5", TT_EPARSE);
	assert_parse_fails("-.5", TT_EPARSE);
}

static void
test_money_parse_rejects_three_decimals(void **state)
{
	(void)state;
	assert_parse_fails("1.234", TT_EPARSE);
	assert_parse_fails("1.000", TT_EPARSE);
}

static void
test_money_parse_rejects_exponent(void **state)
{
	(void)state;
	assert_parse_fails("1e2", TT_EPARSE);
	assert_parse_fails("1E2", TT_EPARSE);
	assert_parse_fails("1.5e1", TT_EPARSE);
}

static void
test_money_parse_rejects_plus_sign(void **state)
{
	(void)state;
	assert_parse_fails("+1", TT_EPARSE);
}

static void
test_money_parse_rejects_spaces(void **state)
{
	(void)state;
	assert_parse_fails(" 1", TT_EPARSE);
	assert_parse_fails("1 ", TT_EPARSE);
	assert_parse_fails("1 000", TT_EPARSE);
	assert_parse_fails("- 1", TT_EPARSE);
}

static void
test_money_parse_rejects_empty(void **state)
{
	(void)state;
	assert_parse_fails("", TT_EPARSE);
}

static void
test_money_parse_rejects_null(void **state)
{
	(void)state;
	int64_t c = SENTINEL;
	assert_int_equal(tt_money_parse(NULL, 4, &c), TT_EPARSE);
	assert_int_equal(c, SENTINEL);
}

static void
test_money_parse_rejects_lone_signs_and_dot(void **state)
{
	(void)state;
	assert_parse_fails("-", TT_EPARSE);
	assert_parse_fails(".", TT_EPARSE);
	assert_parse_fails("-.", TT_EPARSE);
	assert_parse_fails("--1", TT_EPARSE);
}

static void
test_money_parse_rejects_other_characters(void **state)
{
	(void)state;
	const char *bad[] = { "1,00", "0x10", "$1", "1$", "1.2.3", "1..2", "inf", "nan",
	    "1.-2", "12a", "1.5x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_parse_fails(bad[i], TT_EPARSE);
}

static void
test_money_parse_accepts_max_bound(void **state)
{
	(void)state;
	assert_parses("10000000000000.00", MAX_CENTS);
	assert_parses("10000000000000", MAX_CENTS);
	assert_parses("-10000000000000.00", -MAX_CENTS);
}

static void
test_money_parse_rejects_one_cent_past_max(void **state)
{
	(void)state;
	assert_parse_fails("10000000000000.01", TT_ERANGE);
	assert_parse_fails("-10000000000000.01", TT_ERANGE);
}

static void
test_money_parse_rejects_one_unit_past_max(void **state)
{
	(void)state;
	assert_parse_fails("10000000000001", TT_ERANGE);
	assert_parse_fails("-10000000000001", TT_ERANGE);
}

static void
test_money_parse_rejects_huge_digit_strings_without_overflow(void **state)
{
	(void)state;
	/* Well past int64: must be ERANGE, not signed overflow (run under UBSan). */
	assert_parse_fails("999999999999999999999999999999", TT_ERANGE);
	assert_parse_fails("-99999999999999999999999999.99", TT_ERANGE);
}

static void
test_money_parse_reads_exactly_len_bytes(void **state)
{
	(void)state;
	int64_t c = SENTINEL;
	assert_int_equal(tt_money_parse("19.99xyz", 5, &c), TT_OK);
	assert_int_equal(c, 1999);
	const char raw[4] = { '2', '.', '5', '0' };   /* no NUL */
	assert_int_equal(tt_money_parse(raw, sizeof(raw), &c), TT_OK);
	assert_int_equal(c, 250);
}

static void
test_money_parse_rejects_embedded_nul(void **state)
{
	(void)state;
	int64_t c = SENTINEL;
	assert_int_equal(tt_money_parse("1\0", 2, &c), TT_EPARSE);
	assert_int_equal(tt_money_parse("1.\0005", 4, &c), TT_EPARSE);
	assert_int_equal(c, SENTINEL);
}

/* ---- tt_money_from_double -------------------------------------------- */

static void
assert_from_double(double v, int64_t want)
{
	int64_t c = SENTINEL;
	assert_int_equal(tt_money_from_double(v, &c), TT_OK);
	assert_int_equal(c, want);
}

static void
assert_from_double_fails(double v, tt_err want)
{
	int64_t c = SENTINEL;
	assert_int_equal(tt_money_from_double(v, &c), want);
	assert_int_equal(c, SENTINEL);
}

static void
test_money_from_double_19_99(void **state)
{
	(void)state;
	/* 19.99 * 100 is 1998.9999999999998 in binary; the answer is still 1999. */
	assert_from_double(19.99, 1999);
}

static void
test_money_from_double_tenth(void **state)
{
	(void)state;
	assert_from_double(0.1, 10);
	assert_from_double(0.29, 29);   /* 0.29 * 100 = 28.999999999999996 */
}

static void
test_money_from_double_integers_and_zero(void **state)
{
	(void)state;
	assert_from_double(0.0, 0);
	assert_from_double(-0.0, 0);
	assert_from_double(42.0, 4200);
}

static void
test_money_from_double_negative(void **state)
{
	(void)state;
	assert_from_double(-12.34, -1234);
	assert_from_double(-0.5, -50);
}

static void
test_money_from_double_large_exact_value(void **state)
{
	(void)state;
	assert_from_double(123456789.12, 12345678912);
}

static void
test_money_from_double_max_bound(void **state)
{
	(void)state;
	assert_from_double(1e13, MAX_CENTS);
	assert_from_double(-1e13, -MAX_CENTS);
}

static void
test_money_from_double_rejects_past_max(void **state)
{
	(void)state;
	assert_from_double_fails(1.0000000001e13, TT_ERANGE);
	assert_from_double_fails(-2e13, TT_ERANGE);
	assert_from_double_fails(1e300, TT_ERANGE);
}

static void
test_money_from_double_rejects_three_decimals(void **state)
{
	(void)state;
	assert_from_double_fails(1.005, TT_EPARSE);
	assert_from_double_fails(0.001, TT_EPARSE);
	assert_from_double_fails(19.999, TT_EPARSE);
}

static void
test_money_from_double_rejects_float_sum_drift(void **state)
{
	(void)state;
	/* 0.1 + 0.2 is 0.30000000000000004, not the double nearest 0.30. */
	volatile double a = 0.1, b = 0.2;
	assert_from_double_fails(a + b, TT_EPARSE);
}

static void
test_money_from_double_rejects_nan(void **state)
{
	(void)state;
	assert_from_double_fails(NAN, TT_EPARSE);
}

static void
test_money_from_double_rejects_infinity(void **state)
{
	(void)state;
	assert_from_double_fails(INFINITY, TT_EPARSE);
	assert_from_double_fails(-INFINITY, TT_EPARSE);
}

/* ---- tt_money_format ------------------------------------------------- */

static void
assert_format(int64_t cents, const char *want)
{
	char buf[TT_MONEY_STR_MAX];
	memset(buf, 'x', sizeof(buf));
	size_t n = tt_money_format(cents, buf);
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void
test_money_format_zero(void **state)
{
	(void)state;
	assert_format(0, "0.00");
}

static void
test_money_format_five_cents(void **state)
{
	(void)state;
	assert_format(5, "0.05");
}

static void
test_money_format_minus_five_cents(void **state)
{
	(void)state;
	assert_format(-5, "-0.05");
}

static void
test_money_format_thousands(void **state)
{
	(void)state;
	assert_format(123456, "1234.56");
	assert_format(100, "1.00");
	assert_format(-100, "-1.00");
	assert_format(10, "0.10");
}

static void
test_money_format_money_bounds(void **state)
{
	(void)state;
	assert_format(MAX_CENTS, "10000000000000.00");
	assert_format(-MAX_CENTS, "-10000000000000.00");
}

static void
test_money_format_int64_bounds(void **state)
{
	(void)state;
	/* INT64_MAX = 9223372036854775807, INT64_MIN = -9223372036854775808 */
	assert_format(INT64_MAX, "92233720368547758.07");
	assert_format(INT64_MIN, "-92233720368547758.08");
}

static void
test_money_format_reparses_to_same_cents(void **state)
{
	(void)state;
	const int64_t vals[] = { 0, 1, -1, 99, -99, 100, 1999, -50, 123456789,
	    MAX_CENTS, -MAX_CENTS, MAX_CENTS - 1 };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		char buf[TT_MONEY_STR_MAX];
		int64_t back = SENTINEL;
		size_t n = tt_money_format(vals[i], buf);
		assert_int_equal(tt_money_parse(buf, n, &back), TT_OK);
		assert_int_equal(back, vals[i]);
	}
}

/* ---- tt_money_mul ---------------------------------------------------- */

static void
test_money_mul_price_times_quantity(void **state)
{
	(void)state;
	int64_t r = SENTINEL;
	assert_int_equal(tt_money_mul(1230, 3, &r), TT_OK);
	assert_int_equal(r, 3690);
}

static void
test_money_mul_negative_and_zero(void **state)
{
	(void)state;
	int64_t r = SENTINEL;
	assert_int_equal(tt_money_mul(-50, 3, &r), TT_OK);
	assert_int_equal(r, -150);
	assert_int_equal(tt_money_mul(1999, 0, &r), TT_OK);
	assert_int_equal(r, 0);
	assert_int_equal(tt_money_mul(0, INT64_MAX, &r), TT_OK);
	assert_int_equal(r, 0);
}

static void
test_money_mul_accepts_result_at_max(void **state)
{
	(void)state;
	int64_t r = SENTINEL;
	/* 10^11 cents x 10^4 = 10^15 cents */
	assert_int_equal(tt_money_mul(INT64_C(100000000000), 10000, &r), TT_OK);
	assert_int_equal(r, MAX_CENTS);
	assert_int_equal(tt_money_mul(-MAX_CENTS, 1, &r), TT_OK);
	assert_int_equal(r, -MAX_CENTS);
}

static void
test_money_mul_rejects_result_past_max(void **state)
{
	(void)state;
	int64_t r = SENTINEL;
	assert_int_equal(tt_money_mul(MAX_CENTS, 2, &r), TT_ERANGE);
	assert_int_equal(tt_money_mul(MAX_CENTS + 1, 1, &r), TT_ERANGE);
	assert_int_equal(tt_money_mul(-MAX_CENTS, 2, &r), TT_ERANGE);
	assert_int_equal(r, SENTINEL);
}

static void
test_money_mul_rejects_int64_overflow(void **state)
{
	(void)state;
	int64_t r = SENTINEL;
	assert_int_equal(tt_money_mul(INT64_MAX, 2, &r), TT_ERANGE);
	assert_int_equal(tt_money_mul(INT64_MIN, -1, &r), TT_ERANGE);
	assert_int_equal(tt_money_mul(INT64_C(4611686018427387904), 4, &r), TT_ERANGE);
	assert_int_equal(r, SENTINEL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_money_parse_two_decimals),
		cmocka_unit_test(test_money_parse_one_decimal_is_tenths),
		cmocka_unit_test(test_money_parse_integer),
		cmocka_unit_test(test_money_parse_negative_half),
		cmocka_unit_test(test_money_parse_negative_amounts),
		cmocka_unit_test(test_money_parse_leading_zeros),
		cmocka_unit_test(test_money_parse_rejects_trailing_dot),
		cmocka_unit_test(test_money_parse_rejects_leading_dot),
		cmocka_unit_test(test_money_parse_rejects_three_decimals),
		cmocka_unit_test(test_money_parse_rejects_exponent),
		cmocka_unit_test(test_money_parse_rejects_plus_sign),
		cmocka_unit_test(test_money_parse_rejects_spaces),
		cmocka_unit_test(test_money_parse_rejects_empty),
		cmocka_unit_test(test_money_parse_rejects_null),
		cmocka_unit_test(test_money_parse_rejects_lone_signs_and_dot),
		cmocka_unit_test(test_money_parse_rejects_other_characters),
		cmocka_unit_test(test_money_parse_accepts_max_bound),
		cmocka_unit_test(test_money_parse_rejects_one_cent_past_max),
		cmocka_unit_test(test_money_parse_rejects_one_unit_past_max),
		cmocka_unit_test(test_money_parse_rejects_huge_digit_strings_without_overflow),
		cmocka_unit_test(test_money_parse_reads_exactly_len_bytes),
		cmocka_unit_test(test_money_parse_rejects_embedded_nul),
		cmocka_unit_test(test_money_from_double_19_99),
		cmocka_unit_test(test_money_from_double_tenth),
		cmocka_unit_test(test_money_from_double_integers_and_zero),
		cmocka_unit_test(test_money_from_double_negative),
		cmocka_unit_test(test_money_from_double_large_exact_value),
		cmocka_unit_test(test_money_from_double_max_bound),
		cmocka_unit_test(test_money_from_double_rejects_past_max),
		cmocka_unit_test(test_money_from_double_rejects_three_decimals),
		cmocka_unit_test(test_money_from_double_rejects_float_sum_drift),
		cmocka_unit_test(test_money_from_double_rejects_nan),
		cmocka_unit_test(test_money_from_double_rejects_infinity),
		cmocka_unit_test(test_money_format_zero),
		cmocka_unit_test(test_money_format_five_cents),
		cmocka_unit_test(test_money_format_minus_five_cents),
		cmocka_unit_test(test_money_format_thousands),
		cmocka_unit_test(test_money_format_money_bounds),
		cmocka_unit_test(test_money_format_int64_bounds),
		cmocka_unit_test(test_money_format_reparses_to_same_cents),
		cmocka_unit_test(test_money_mul_price_times_quantity),
		cmocka_unit_test(test_money_mul_negative_and_zero),
		cmocka_unit_test(test_money_mul_accepts_result_at_max),
		cmocka_unit_test(test_money_mul_rejects_result_past_max),
		cmocka_unit_test(test_money_mul_rejects_int64_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
