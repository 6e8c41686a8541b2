/*
 * strparse_test.c - tt_parse_i64 and tt_parse_bool at their edges: the
 * int64 limits and one beyond, lone signs, empty input, leading zeros,
 * non-digits, caller bounds, and reading exactly len bytes; and
 * tt_parse_pg_int_array on PostgreSQL's array text and everything else.
 *
 * INT64_MIN/MAX are the C limits (-9223372036854775808, 9223372036854775807).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tt/strparse.h"

/*
 * KNOWN_BUG: the test pins a reported defect and is skipped until the module
 * is fixed. TT_KNOWN_BUGS=1 runs it; delete the KNOWN_BUG line with the fix.
 */
#define KNOWN_BUG(why)                                              \
	do {                                                        \
		if (getenv("TT_KNOWN_BUGS") == NULL) {              \
			print_message("known bug, skipped: %s\n", why); \
			skip();                                     \
		}                                                   \
	} while (0)

#define SENTINEL INT64_C(0x5a5a5a5a)

/* Parses a NUL-terminated string over the whole int64 range. */
static tt_err
p64(const char *s, int64_t *out)
{
	return tt_parse_i64(s, strlen(s), INT64_MIN, INT64_MAX, out);
}

static void
assert_i64_error(const char *s, tt_err want)
{
	int64_t v = SENTINEL;
	assert_int_equal(p64(s, &v), want);
	assert_int_equal(v, SENTINEL);   /* *out written only on success */
}

static void
test_parse_i64_zero(void **state)
{
	(void)state;
	int64_t v = SENTINEL;
	assert_int_equal(p64("0", &v), TT_OK);
	assert_int_equal(v, 0);
}

static void
test_parse_i64_positive_and_negative(void **state)
{
	(void)state;
	int64_t v = 0;
	assert_int_equal(p64("42", &v), TT_OK);
	assert_int_equal(v, 42);
	assert_int_equal(p64("-42", &v), TT_OK);
	assert_int_equal(v, -42);
}

static void
test_parse_i64_accepts_int64_max(void **state)
{
	(void)state;
	int64_t v = 0;
	assert_int_equal(p64("9223372036854775807", &v), TT_OK);
	assert_true(v == INT64_MAX);
}

static void
test_parse_i64_accepts_int64_min(void **state)
{
	(void)state;
	int64_t v = 0;
	assert_int_equal(p64("-9223372036854775808", &v), TT_OK);
	assert_true(v == INT64_MIN);
}

static void
test_parse_i64_rejects_int64_max_plus_one(void **state)
{
	(void)state;
	assert_i64_error("9223372036854775808", TT_ERANGE);
}

static void
test_parse_i64_rejects_int64_min_minus_one(void **state)
{
	(void)state;
	assert_i64_error("-9223372036854775809", TT_ERANGE);
}

static void
test_parse_i64_rejects_twenty_nines(void **state)
{
	(void)state;
	assert_i64_error("99999999999999999999", TT_ERANGE);
	assert_i64_error("-99999999999999999999", TT_ERANGE);
}

static void
test_parse_i64_rejects_empty(void **state)
{
	(void)state;
	assert_i64_error("", TT_EPARSE);
}

static void
test_parse_i64_rejects_null(void **state)
{
	(void)state;
	int64_t v = SENTINEL;
	assert_int_equal(tt_parse_i64(NULL, 3, INT64_MIN, INT64_MAX, &v), TT_EPARSE);
	assert_int_equal(v, SENTINEL);
}

static void
test_parse_i64_rejects_lone_minus(void **state)
{
	(void)state;
	assert_i64_error("-", TT_EPARSE);
}

static void
test_parse_i64_rejects_lone_plus(void **state)
{
	(void)state;
	assert_i64_error("+", TT_EPARSE);
}

static void
test_parse_i64_accepts_plus_sign(void **state)
{
	(void)state;
	/* tt/strparse.h: "Optional '-' or '+' then decimal digits". */
	int64_t v = 0;
	assert_int_equal(tt_parse_i64("+5", 2, INT64_MIN, INT64_MAX, &v), TT_OK);
	assert_int_equal(v, 5);
}

static void
test_parse_i64_accepts_leading_zeros(void **state)
{
	(void)state;
	int64_t v = 0;
	assert_int_equal(p64("007", &v), TT_OK);
	assert_int_equal(v, 7);
	assert_int_equal(p64("-007", &v), TT_OK);
	assert_int_equal(v, -7);
	assert_int_equal(p64("000", &v), TT_OK);
	assert_int_equal(v, 0);
}

static void
test_parse_i64_accepts_minus_zero_as_zero(void **state)
{
	(void)state;
	int64_t v = SENTINEL;
	assert_int_equal(p64("-0", &v), TT_OK);
	assert_int_equal(v, 0);
}

static void
test_parse_i64_rejects_non_digits(void **state)
{
	(void)state;
	const char *bad[] = { "12a", "a12", "1 2", " 12", "12 ", "1.0", "1e3", "0x10",
	    "--1", "-+1", "+-1", "1-", "١٢", "\t1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_i64_error(bad[i], TT_EPARSE);
}

static void
test_parse_i64_enforces_caller_max(void **state)
{
	(void)state;
	int64_t v = SENTINEL;
	assert_int_equal(tt_parse_i64("65535", 5, 1, 65535, &v), TT_OK);
	assert_int_equal(v, 65535);
	v = SENTINEL;
	assert_int_equal(tt_parse_i64("65536", 5, 1, 65535, &v), TT_ERANGE);
	assert_int_equal(v, SENTINEL);
}

static void
test_parse_i64_enforces_caller_min(void **state)
{
	(void)state;
	int64_t v = SENTINEL;
	assert_int_equal(tt_parse_i64("1", 1, 1, 65535, &v), TT_OK);
	assert_int_equal(v, 1);
	v = SENTINEL;
	assert_int_equal(tt_parse_i64("0", 1, 1, 65535, &v), TT_ERANGE);
	assert_int_equal(tt_parse_i64("-1", 2, 0, 10, &v), TT_ERANGE);
	assert_int_equal(v, SENTINEL);
}

static void
test_parse_i64_reads_exactly_len_bytes(void **state)
{
	(void)state;
	int64_t v = 0;
	assert_int_equal(tt_parse_i64("123456", 3, INT64_MIN, INT64_MAX, &v), TT_OK);
	assert_int_equal(v, 123);
	/* Not NUL-terminated at all. */
	const char raw[3] = { '9', '8', '7' };
	assert_int_equal(tt_parse_i64(raw, sizeof(raw), INT64_MIN, INT64_MAX, &v), TT_OK);
	assert_int_equal(v, 987);
}

static void
test_parse_i64_rejects_embedded_nul(void **state)
{
	(void)state;
	int64_t v = SENTINEL;
	assert_int_equal(tt_parse_i64("12\0003", 4, INT64_MIN, INT64_MAX, &v), TT_EPARSE);
	assert_int_equal(v, SENTINEL);
}

static void
assert_bool(const char *s, int want)
{
	int b = -7;
	assert_int_equal(tt_parse_bool(s, strlen(s), &b), TT_OK);
	assert_int_equal(b, want);
}

static void
assert_bool_error(const char *s)
{
	int b = -7;
	assert_int_equal(tt_parse_bool(s, strlen(s), &b), TT_EPARSE);
	assert_int_equal(b, -7);
}

static void
test_parse_bool_true_words(void **state)
{
	(void)state;
	assert_bool("true", 1);
	assert_bool("1", 1);
	assert_bool("yes", 1);
}

static void
test_parse_bool_false_words(void **state)
{
	(void)state;
	assert_bool("false", 0);
	assert_bool("0", 0);
	assert_bool("no", 0);
}

static void
test_parse_bool_ignores_case(void **state)
{
	(void)state;
	assert_bool("TRUE", 1);
	assert_bool("Yes", 1);
	assert_bool("FaLsE", 0);
	assert_bool("NO", 0);
}

static void
test_parse_bool_rejects_other_words(void **state)
{
	(void)state;
	const char *bad[] = { "", "tru", "truex", " true", "true ", "2", "-1", "y", "n",
	    "nope", "t" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_bool_error(bad[i]);
}

static void
test_parse_bool_rejects_null(void **state)
{
	(void)state;
	int b = -7;
	assert_int_equal(tt_parse_bool(NULL, 4, &b), TT_EPARSE);
	assert_int_equal(b, -7);
}

static void
test_parse_bool_reads_exactly_len_bytes(void **state)
{
	(void)state;
	int b = -7;
	assert_int_equal(tt_parse_bool("noise", 2, &b), TT_OK);
	assert_int_equal(b, 0);
	assert_int_equal(tt_parse_bool("yes", 2, &b), TT_EPARSE);
}

static void
test_fmt_i64_writes_decimal_at_the_limits(void **state)
{
	(void)state;
	char buf[21];
	assert_int_equal(tt_fmt_i64(0, buf), 1);
	assert_string_equal(buf, "0");
	assert_int_equal(tt_fmt_i64(-5, buf), 2);
	assert_string_equal(buf, "-5");
	assert_int_equal(tt_fmt_i64(1234567890123, buf), 13);
	assert_string_equal(buf, "1234567890123");
	assert_int_equal(tt_fmt_i64(INT64_MAX, buf), 19);
	assert_string_equal(buf, "9223372036854775807");
	assert_int_equal(tt_fmt_i64(INT64_MIN, buf), 20);
	assert_string_equal(buf, "-9223372036854775808");
}

/* tt_parse_pg_int_array over a NUL-terminated s. */
static tt_err
arr(const char *s, int64_t min, int64_t max, int64_t *out, size_t outmax, size_t *n)
{
	return tt_parse_pg_int_array(s, s == NULL ? 0 : strlen(s), min, max, out, outmax, n);
}

static void
test_pg_int_array_reads_cells_in_order(void **state)
{
	(void)state;
	int64_t v[4] = { 0 };
	size_t n = 99;
	assert_int_equal(arr("{}", INT64_MIN, INT64_MAX, v, 4, &n), TT_OK);
	assert_int_equal(n, 0);
	assert_int_equal(arr("{7}", INT64_MIN, INT64_MAX, v, 4, &n), TT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0], 7);
	assert_int_equal(arr("{0,-12,9223372036854775807,-9223372036854775808}", INT64_MIN, INT64_MAX,
	    v, 4, &n), TT_OK);
	assert_int_equal(n, 4);
	assert_int_equal(v[0], 0);
	assert_int_equal(v[1], -12);
	assert_int_equal(v[2], INT64_MAX);
	assert_int_equal(v[3], INT64_MIN);
	/* exactly len bytes: the tail past len is not read */
	assert_int_equal(tt_parse_pg_int_array("{1,2}garbage", 5, 0, 9, v, 4, &n), TT_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[1], 2);
}

static void
test_pg_int_array_rejects_what_postgres_does_not_write(void **state)
{
	(void)state;
	int64_t v[4];
	size_t n;
	const char *bad[] = {
		"", "{", "}", "1", "{1", "1}", "{1,}", "{,1}", "{1,,2}", "{ 1}", "{1 }", "{+1}",
		"{-}", "{NULL}", "{1.5}", "{\"1\"}", "{{1}}", "{1}}", " {1}", "{1} ", "{1};", "[1]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(arr(bad[i], INT64_MIN, INT64_MAX, v, 4, &n), TT_EPARSE);
	assert_int_equal(arr(NULL, INT64_MIN, INT64_MAX, v, 4, &n), TT_EPARSE);
	assert_int_equal(tt_parse_pg_int_array("{1,\0}", 5, 0, 9, v, 4, &n), TT_EPARSE);
}

static void
test_pg_int_array_bounds(void **state)
{
	(void)state;
	int64_t v[3];
	size_t n;
	assert_int_equal(arr("{1,2,3}", 0, 3, v, 3, &n), TT_OK);
	assert_int_equal(arr("{1,2,3,4}", 0, 9, v, 3, &n), TT_ETOOBIG);
	assert_int_equal(arr("{1,-1}", 0, 9, v, 3, &n), TT_ERANGE);
	assert_int_equal(arr("{10}", 0, 9, v, 3, &n), TT_ERANGE);
	assert_int_equal(arr("{9223372036854775808}", INT64_MIN, INT64_MAX, v, 3, &n), TT_ERANGE);
	assert_int_equal(arr("{}", 0, 9, v, 0, &n), TT_OK);
	assert_int_equal(arr("{1}", 0, 9, v, 0, &n), TT_ETOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_i64_zero),
		cmocka_unit_test(test_parse_i64_positive_and_negative),
		cmocka_unit_test(test_parse_i64_accepts_int64_max),
		cmocka_unit_test(test_parse_i64_accepts_int64_min),
		cmocka_unit_test(test_parse_i64_rejects_int64_max_plus_one),
		cmocka_unit_test(test_parse_i64_rejects_int64_min_minus_one),
		cmocka_unit_test(test_parse_i64_rejects_twenty_nines),
		cmocka_unit_test(test_parse_i64_rejects_empty),
		cmocka_unit_test(test_parse_i64_rejects_null),
		cmocka_unit_test(test_parse_i64_rejects_lone_minus),
		cmocka_unit_test(test_parse_i64_rejects_lone_plus),
		cmocka_unit_test(test_parse_i64_accepts_plus_sign),
		cmocka_unit_test(test_parse_i64_accepts_leading_zeros),
		cmocka_unit_test(test_parse_i64_accepts_minus_zero_as_zero),
		cmocka_unit_test(test_parse_i64_rejects_non_digits),
		cmocka_unit_test(test_parse_i64_enforces_caller_max),
		cmocka_unit_test(test_parse_i64_enforces_caller_min),
		cmocka_unit_test(test_parse_i64_reads_exactly_len_bytes),
		cmocka_unit_test(test_parse_i64_rejects_embedded_nul),
		cmocka_unit_test(test_pg_int_array_reads_cells_in_order),
		cmocka_unit_test(test_pg_int_array_rejects_what_postgres_does_not_write),
		cmocka_unit_test(test_pg_int_array_bounds),
		cmocka_unit_test(test_parse_bool_true_words),
		cmocka_unit_test(test_parse_bool_false_words),
		cmocka_unit_test(test_parse_bool_ignores_case),
		cmocka_unit_test(test_parse_bool_rejects_other_words),
		cmocka_unit_test(test_parse_bool_rejects_null),
		cmocka_unit_test(test_parse_bool_reads_exactly_len_bytes),
		cmocka_unit_test(test_fmt_i64_writes_decimal_at_the_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
