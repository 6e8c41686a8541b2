/*
 * error_test.c - tt_err: every code has its documented name and a message,
 * out-of-range codes are named "EUNKNOWN", and tt_seterr() fills the
 * caller's buffer within its length and hands the code back.
 *
 * The expected names are written out here from the list in tt/error.h (the
 * contract), not read back from the generated tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tt/error.h"

static const struct {
	tt_err      code;
	const char *name;
} expected_names[] = {
	{ TT_OK, "OK" },             { TT_ENOMEM, "ENOMEM" },
	{ TT_EINVAL, "EINVAL" },     { TT_EPARSE, "EPARSE" },
	{ TT_ERANGE, "ERANGE" },     { TT_ETOOBIG, "ETOOBIG" },
	{ TT_ENOTFOUND, "ENOTFOUND" }, { TT_EAUTH, "EAUTH" },
	{ TT_EFORBIDDEN, "EFORBIDDEN" }, { TT_EIO, "EIO" },
	{ TT_ECONN, "ECONN" },       { TT_ETIMEDOUT, "ETIMEDOUT" },
	{ TT_EDB, "EDB" },           { TT_EREDIS, "EREDIS" },
	{ TT_EAMQP, "EAMQP" },       { TT_EBUS, "EBUS" },
	{ TT_ECLOSED, "ECLOSED" },   { TT_EBUSY, "EBUSY" },
	{ TT_ECONFIG, "ECONFIG" },
};
#define N_EXPECTED (sizeof(expected_names) / sizeof(expected_names[0]))

static void
test_ok_is_zero(void **state)
{
	(void)state;
	assert_int_equal(TT_OK, 0);
}

static void
test_every_code_is_listed_in_this_test(void **state)
{
	(void)state;
	/* A code added to TT_ERROR_MAP must be added to expected_names too. */
	assert_int_equal(TT_ERR_COUNT, N_EXPECTED);
}

static void
test_every_code_has_its_documented_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_EXPECTED; i++)
		assert_string_equal(tt_err_name(expected_names[i].code), expected_names[i].name);
}

static void
test_every_code_has_a_nonempty_message(void **state)
{
	(void)state;
	for (int e = 0; e < TT_ERR_COUNT; e++) {
		const char *m = tt_strerror((tt_err)e);
		assert_non_null(m);
		assert_true(strlen(m) > 0);
	}
}

static void
test_messages_are_distinct(void **state)
{
	(void)state;
	for (int a = 0; a < TT_ERR_COUNT; a++)
		for (int b = a + 1; b < TT_ERR_COUNT; b++)
			assert_string_not_equal(tt_strerror((tt_err)a), tt_strerror((tt_err)b));
}

static void
test_name_of_count_is_eunknown(void **state)
{
	(void)state;
	assert_string_equal(tt_err_name(TT_ERR_COUNT), "EUNKNOWN");
}

static void
test_name_of_negative_code_is_eunknown(void **state)
{
	(void)state;
	assert_string_equal(tt_err_name((tt_err)-1), "EUNKNOWN");
}

static void
test_name_of_large_code_is_eunknown(void **state)
{
	(void)state;
	assert_string_equal(tt_err_name((tt_err)100000), "EUNKNOWN");
}

static void
test_message_of_out_of_range_code_is_not_null_nor_a_real_message(void **state)
{
	(void)state;
	const tt_err bad[] = { TT_ERR_COUNT, (tt_err)-1, (tt_err)100000 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *m = tt_strerror(bad[i]);
		assert_non_null(m);
		assert_true(strlen(m) > 0);
		for (int e = 0; e < TT_ERR_COUNT; e++)
			assert_string_not_equal(m, tt_strerror((tt_err)e));
	}
}

static void
test_seterr_formats_into_buffer_and_returns_code(void **state)
{
	(void)state;
	char err[64];
	assert_int_equal(tt_seterr(err, sizeof(err), TT_EPARSE, "line %d: %s", 7, "bad"),
	    TT_EPARSE);
	assert_string_equal(err, "line 7: bad");
}

static void
test_seterr_truncates_to_buffer_length(void **state)
{
	(void)state;
	char err[8];
	memset(err, 'x', sizeof(err));
	assert_int_equal(tt_seterr(err, 5, TT_EINVAL, "%s", "abcdefgh"), TT_EINVAL);
	assert_string_equal(err, "abcd");
	assert_int_equal(err[5], 'x');   /* nothing written past errlen */
}

static void
test_seterr_accepts_null_buffer(void **state)
{
	(void)state;
	assert_int_equal(tt_seterr(NULL, 100, TT_ERANGE, "x=%d", 1), TT_ERANGE);
}

static void
test_seterr_with_zero_length_writes_nothing(void **state)
{
	(void)state;
	char err[4] = { 'q', 'q', 'q', '\0' };
	assert_int_equal(tt_seterr(err, 0, TT_EIO, "%s", "boom"), TT_EIO);
	assert_string_equal(err, "qqq");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_is_zero),
		cmocka_unit_test(test_every_code_is_listed_in_this_test),
		cmocka_unit_test(test_every_code_has_its_documented_name),
		cmocka_unit_test(test_every_code_has_a_nonempty_message),
		cmocka_unit_test(test_messages_are_distinct),
		cmocka_unit_test(test_name_of_count_is_eunknown),
		cmocka_unit_test(test_name_of_negative_code_is_eunknown),
		cmocka_unit_test(test_name_of_large_code_is_eunknown),
		cmocka_unit_test(test_message_of_out_of_range_code_is_not_null_nor_a_real_message),
		cmocka_unit_test(test_seterr_formats_into_buffer_and_returns_code),
		cmocka_unit_test(test_seterr_truncates_to_buffer_length),
		cmocka_unit_test(test_seterr_accepts_null_buffer),
		cmocka_unit_test(test_seterr_with_zero_length_writes_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
