/*
 * time_test.c - ISO 8601 / RFC 3339 parsing and formatting over int64 ms.
 *
 * Every expected instant was computed outside this code with GNU date, e.g.
 *     date -u -d '2024-02-29T23:59:59.123Z' +%s%3N        -> 1709251199123
 *     date -u -d @1709251199.123 +%Y-%m-%dT%H:%M:%S.%3NZ  -> 2024-02-29T23:59:59.123Z
 *     echo $(( $(date -u -d 2000-03-01 +%s) / 86400 ))    -> 11017
 * and pasted here with the command's input next to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt/time.h"

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

#define SENTINEL INT64_C(-424242)
#define BOTH (TT_ISO_DATETIME | TT_ISO_DATE)

static void
assert_iso(const char *s, int allowed, int64_t want)
{
	int64_t ms = SENTINEL;
	assert_int_equal(tt_iso_parse(s, strlen(s), allowed, &ms), TT_OK);
	assert_int_equal(ms, want);
}

static void
assert_iso_fails(const char *s, int allowed, tt_err want)
{
	int64_t ms = SENTINEL;
	assert_int_equal(tt_iso_parse(s, strlen(s), allowed, &ms), want);
	assert_int_equal(ms, SENTINEL);   /* written only on success */
}

/* ---- accepted instants ----------------------------------------------- */

static void
test_iso_parse_epoch(void **state)
{
	(void)state;
	assert_iso("1970-01-01T00:00:00Z", TT_ISO_DATETIME, 0);
}

static void
test_iso_parse_leap_day_with_millis(void **state)
{
	(void)state;
	/* date -u -d '2024-02-29T23:59:59.123Z' +%s%3N */
	assert_iso("2024-02-29T23:59:59.123Z", TT_ISO_DATETIME, INT64_C(1709251199123));
}

static void
test_iso_parse_day_after_leap_day(void **state)
{
	(void)state;
	/* date -u -d '2024-03-01T00:00:00Z' +%s%3N */
	assert_iso("2024-03-01T00:00:00Z", TT_ISO_DATETIME, INT64_C(1709251200000));
}

static void
test_iso_parse_leap_day_of_century_divisible_by_400(void **state)
{
	(void)state;
	/* date -u -d '2000-02-29T00:00:00Z' +%s%3N */
	assert_iso("2000-02-29T00:00:00Z", TT_ISO_DATETIME, INT64_C(951782400000));
}

static void
test_iso_parse_positive_offset_0530(void **state)
{
	(void)state;
	/* date -u -d '2024-03-10T12:00:00+05:30' +%s%3N */
	assert_iso("2024-03-10T12:00:00+05:30", TT_ISO_DATETIME, INT64_C(1710052200000));
}

static void
test_iso_parse_negative_offset_0800(void **state)
{
	(void)state;
	/* date -u -d '2024-03-10T12:00:00-08:00' +%s%3N */
	assert_iso("2024-03-10T12:00:00-08:00", TT_ISO_DATETIME, INT64_C(1710100800000));
}

static void
test_iso_parse_offset_crossing_year_end(void **state)
{
	(void)state;
	/* date -u -d '2024-12-31T23:00:00-02:00' +%s%3N  (2025-01-01T01:00Z) */
	assert_iso("2024-12-31T23:00:00-02:00", TT_ISO_DATETIME, INT64_C(1735693200000));
}

static void
test_iso_parse_offset_back_to_epoch(void **state)
{
	(void)state;
	/* date -u -d '1970-01-01T05:30:00+05:30' +%s%3N */
	assert_iso("1970-01-01T05:30:00+05:30", TT_ISO_DATETIME, 0);
}

static void
test_iso_parse_zero_offset_equals_z(void **state)
{
	(void)state;
	/* date -u -d '2024-06-15T10:30:00Z' +%s%3N */
	assert_iso("2024-06-15T10:30:00+00:00", TT_ISO_DATETIME, INT64_C(1718447400000));
	assert_iso("2024-06-15T10:30:00-00:00", TT_ISO_DATETIME, INT64_C(1718447400000));
}

static void
test_iso_parse_last_millisecond_of_9999(void **state)
{
	(void)state;
	/* date -u -d '9999-12-31T23:59:59.999Z' +%s%3N */
	assert_iso("9999-12-31T23:59:59.999Z", TT_ISO_DATETIME, INT64_C(253402300799999));
}

/* 2024-06-15T10:30:00Z = 1718447400000 (date -u -d ... +%s%3N) */
#define BASE INT64_C(1718447400000)

static void
test_iso_parse_fraction_of_one_digit(void **state)
{
	(void)state;
	assert_iso("2024-06-15T10:30:00.1Z", TT_ISO_DATETIME, BASE + 100);
}

static void
test_iso_parse_fraction_of_two_digits(void **state)
{
	(void)state;
	assert_iso("2024-06-15T10:30:00.12Z", TT_ISO_DATETIME, BASE + 120);
}

static void
test_iso_parse_fraction_of_three_digits(void **state)
{
	(void)state;
	assert_iso("2024-06-15T10:30:00.123Z", TT_ISO_DATETIME, BASE + 123);
}

static void
test_iso_parse_fraction_of_four_to_nine_digits_truncates(void **state)
{
	(void)state;
	assert_iso("2024-06-15T10:30:00.1234Z", TT_ISO_DATETIME, BASE + 123);
	assert_iso("2024-06-15T10:30:00.12345Z", TT_ISO_DATETIME, BASE + 123);
	assert_iso("2024-06-15T10:30:00.123456Z", TT_ISO_DATETIME, BASE + 123);
	assert_iso("2024-06-15T10:30:00.1234567Z", TT_ISO_DATETIME, BASE + 123);
	assert_iso("2024-06-15T10:30:00.12345678Z", TT_ISO_DATETIME, BASE + 123);
	assert_iso("2024-06-15T10:30:00.123456789Z", TT_ISO_DATETIME, BASE + 123);
}

static void
test_iso_parse_fraction_truncates_not_rounds(void **state)
{
	(void)state;
	assert_iso("2024-06-15T10:30:00.9999Z", TT_ISO_DATETIME, BASE + 999);
	assert_iso("2024-06-15T10:30:00.000999999Z", TT_ISO_DATETIME, BASE);
}

static void
test_iso_parse_fraction_with_offset(void **state)
{
	(void)state;
	/* 2024-06-15T12:30:00.5+02:00 is 10:30:00.5Z */
	assert_iso("2024-06-15T12:30:00.5+02:00", TT_ISO_DATETIME, BASE + 500);
}

static void
test_iso_parse_rejects_ten_fraction_digits(void **state)
{
	(void)state;
	assert_iso_fails("2024-06-15T10:30:00.1234567890Z", TT_ISO_DATETIME, TT_EPARSE);
}

static void
test_iso_parse_rejects_empty_fraction(void **state)
{
	(void)state;
	assert_iso_fails("2024-06-15T10:30:00.Z", TT_ISO_DATETIME, TT_EPARSE);
}

static void
test_iso_parse_second_60_folds_to_last_millisecond(void **state)
{
	(void)state;
	/* The 2016 leap second: date -u -d '2016-12-31T23:59:59.999Z' +%s%3N */
	assert_iso("2016-12-31T23:59:60Z", TT_ISO_DATETIME, INT64_C(1483228799999));
	assert_iso("2016-12-31T23:59:60.5Z", TT_ISO_DATETIME, INT64_C(1483228799999));
}

/* ---- refused instants ------------------------------------------------ */

static void
test_iso_parse_rejects_second_61(void **state)
{
	(void)state;
	assert_iso_fails("2016-12-31T23:59:61Z", TT_ISO_DATETIME, TT_ERANGE);
}

static void
test_iso_parse_rejects_feb_29_in_common_year(void **state)
{
	(void)state;
	assert_iso_fails("2023-02-29T00:00:00Z", TT_ISO_DATETIME, TT_ERANGE);
	assert_iso_fails("2023-02-29", TT_ISO_DATE, TT_ERANGE);
}

static void
test_iso_parse_rejects_feb_29_in_century_not_divisible_by_400(void **state)
{
	(void)state;
	assert_iso_fails("2100-02-29T00:00:00Z", TT_ISO_DATETIME, TT_ERANGE);
	/* date -u -d '2100-02-28T00:00:00Z' +%s%3N */
	assert_iso("2100-02-28", TT_ISO_DATE, INT64_C(4107456000000));
}

static void
test_iso_parse_rejects_feb_30(void **state)
{
	(void)state;
	assert_iso_fails("2024-02-30T00:00:00Z", TT_ISO_DATETIME, TT_ERANGE);
}

static void
test_iso_parse_rejects_day_31_of_30_day_month(void **state)
{
	(void)state;
	assert_iso_fails("2024-04-31T00:00:00Z", TT_ISO_DATETIME, TT_ERANGE);
	assert_iso_fails("2024-11-31", TT_ISO_DATE, TT_ERANGE);
}

static void
test_iso_parse_rejects_month_and_day_out_of_range(void **state)
{
	(void)state;
	assert_iso_fails("2024-00-10T00:00:00Z", TT_ISO_DATETIME, TT_ERANGE);
	assert_iso_fails("2024-13-10T00:00:00Z", TT_ISO_DATETIME, TT_ERANGE);
	assert_iso_fails("2024-01-00T00:00:00Z", TT_ISO_DATETIME, TT_ERANGE);
	assert_iso_fails("2024-01-32T00:00:00Z", TT_ISO_DATETIME, TT_ERANGE);
}

static void
test_iso_parse_rejects_hour_and_minute_out_of_range(void **state)
{
	(void)state;
	assert_iso_fails("2024-01-10T24:00:00Z", TT_ISO_DATETIME, TT_ERANGE);
	assert_iso_fails("2024-01-10T10:60:00Z", TT_ISO_DATETIME, TT_ERANGE);
}

static void
test_iso_parse_rejects_offset_out_of_range(void **state)
{
	(void)state;
	assert_iso_fails("2024-01-10T10:00:00+24:00", TT_ISO_DATETIME, TT_ERANGE);
	assert_iso_fails("2024-01-10T10:00:00+05:60", TT_ISO_DATETIME, TT_ERANGE);
}

static void
test_iso_parse_rejects_year_before_1970(void **state)
{
	(void)state;
	assert_iso_fails("1969-12-31T23:59:59Z", TT_ISO_DATETIME, TT_ERANGE);
	assert_iso_fails("0001-01-01", TT_ISO_DATE, TT_ERANGE);
}

static void
test_iso_parse_rejects_instant_before_epoch_through_offset(void **state)
{
	(void)state;
	/* 1970-01-01T00:00:00+00:01 is 1969-12-31T23:59:00Z. */
	assert_iso_fails("1970-01-01T00:00:00+00:01", TT_ISO_DATETIME, TT_ERANGE);
}

static void
test_iso_parse_rejects_instant_after_9999_through_offset(void **state)
{
	(void)state;
	/* 9999-12-31T23:30:00-01:00 is 10000-01-01T00:30:00Z: outside 1970..9999. */
	assert_iso_fails("9999-12-31T23:30:00-01:00", TT_ISO_DATETIME, TT_ERANGE);
}

static void
test_iso_parse_rejects_missing_offset(void **state)
{
	(void)state;
	assert_iso_fails("2024-06-15T10:30:00", TT_ISO_DATETIME, TT_EPARSE);
	assert_iso_fails("2024-06-15T10:30:00.123", TT_ISO_DATETIME, TT_EPARSE);
}

static void
test_iso_parse_rejects_offset_without_colon_or_minutes(void **state)
{
	(void)state;
	assert_iso_fails("2024-06-15T10:30:00+0530", TT_ISO_DATETIME, TT_EPARSE);
	assert_iso_fails("2024-06-15T10:30:00+05", TT_ISO_DATETIME, TT_EPARSE);
	assert_iso_fails("2024-06-15T10:30:00+", TT_ISO_DATETIME, TT_EPARSE);
}

static void
test_iso_parse_rejects_missing_seconds(void **state)
{
	(void)state;
	assert_iso_fails("2024-06-15T10:30Z", TT_ISO_DATETIME, TT_EPARSE);
}

static void
test_iso_parse_rejects_space_separator(void **state)
{
	(void)state;
	assert_iso_fails("2024-06-15 10:30:00Z", TT_ISO_DATETIME, TT_EPARSE);
}

static void
test_iso_parse_rejects_short_fields(void **state)
{
	(void)state;
	assert_iso_fails("2024-6-15", BOTH, TT_EPARSE);
	assert_iso_fails("24-06-15", BOTH, TT_EPARSE);
	assert_iso_fails("2024-06-5T10:30:00Z", BOTH, TT_EPARSE);
	assert_iso_fails("2024-06-15T1:30:00Z", BOTH, TT_EPARSE);
	assert_iso_fails("20240615T103000Z", BOTH, TT_EPARSE);
}

static void
test_iso_parse_rejects_trailing_garbage(void **state)
{
	(void)state;
	assert_iso_fails("2024-06-15T10:30:00Z ", TT_ISO_DATETIME, TT_EPARSE);
	assert_iso_fails("2024-06-15T10:30:00Zx", TT_ISO_DATETIME, TT_EPARSE);
	assert_iso_fails("2024-06-15T10:30:00+05:30:00", TT_ISO_DATETIME, TT_EPARSE);
	assert_iso_fails("2024-06-15x", TT_ISO_DATE, TT_EPARSE);
}

static void
test_iso_parse_rejects_leading_space(void **state)
{
	(void)state;
	assert_iso_fails(" 2024-06-15T10:30:00Z", TT_ISO_DATETIME, TT_EPARSE);
}

static void
test_iso_parse_rejects_empty_and_null(void **state)
{
	(void)state;
	int64_t ms = SENTINEL;
	assert_iso_fails("", BOTH, TT_EPARSE);
	assert_int_equal(tt_iso_parse(NULL, 10, BOTH, &ms), TT_EPARSE);
	assert_int_equal(ms, SENTINEL);
}

static void
test_iso_parse_rejects_embedded_nul_within_len(void **state)
{
	(void)state;
	int64_t ms = SENTINEL;
	/* 20 characters + NUL, all of it handed over. */
	assert_int_equal(tt_iso_parse("2024-06-15T10:30:00Z\0", 21, TT_ISO_DATETIME, &ms),
	    TT_EPARSE);
	assert_int_equal(tt_iso_parse("2024-06-15T10:30:00\0Z", 21, TT_ISO_DATETIME, &ms),
	    TT_EPARSE);
	assert_int_equal(ms, SENTINEL);
}

static void
test_iso_parse_reads_exactly_len_bytes(void **state)
{
	(void)state;
	int64_t ms = SENTINEL;
	assert_int_equal(tt_iso_parse("2024-06-15T10:30:00Zgarbage", 20, TT_ISO_DATETIME, &ms),
	    TT_OK);
	assert_int_equal(ms, BASE);
	/* A prefix that stops inside the time is incomplete. */
	assert_int_equal(tt_iso_parse("2024-06-15T10:30:00Z", 16, TT_ISO_DATETIME, &ms),
	    TT_EPARSE);
}

/* ---- the mask -------------------------------------------------------- */

static void
test_iso_parse_bare_date_allowed_by_mask(void **state)
{
	(void)state;
	/* date -u -d '2024-02-29' +%s%3N */
	assert_iso("2024-02-29", TT_ISO_DATE, INT64_C(1709164800000));
	assert_iso("2024-02-29", BOTH, INT64_C(1709164800000));
}

static void
test_iso_parse_bare_date_refused_by_datetime_mask(void **state)
{
	(void)state;
	assert_iso_fails("2024-02-29", TT_ISO_DATETIME, TT_EPARSE);
}

static void
test_iso_parse_datetime_refused_by_date_mask(void **state)
{
	(void)state;
	assert_iso_fails("2024-06-15T10:30:00Z", TT_ISO_DATE, TT_EPARSE);
}

static void
test_iso_parse_datetime_allowed_by_both(void **state)
{
	(void)state;
	assert_iso("2024-06-15T10:30:00Z", BOTH, BASE);
}

static void
test_iso_parse_nothing_allowed_by_empty_mask(void **state)
{
	(void)state;
	assert_iso_fails("2024-06-15", 0, TT_EPARSE);
	assert_iso_fails("2024-06-15T10:30:00Z", 0, TT_EPARSE);
}

/* ---- formatting ------------------------------------------------------ */

static void
assert_format(int64_t ms, const char *want)
{
	char buf[TT_ISO_MAX];
	size_t n = tt_iso_format(ms, buf);
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void
test_iso_format_epoch(void **state)
{
	(void)state;
	assert_format(0, "1970-01-01T00:00:00.000Z");
}

static void
test_iso_format_leap_day(void **state)
{
	(void)state;
	/* date -u -d @1709251199.123 +%Y-%m-%dT%H:%M:%S.%3NZ */
	assert_format(INT64_C(1709251199123), "2024-02-29T23:59:59.123Z");
}

static void
test_iso_format_last_millisecond_of_9999(void **state)
{
	(void)state;
	/* date -u -d @253402300799.999 +%Y-%m-%dT%H:%M:%S.%3NZ */
	assert_format(INT64_C(253402300799999), "9999-12-31T23:59:59.999Z");
}

static void
test_iso_format_before_epoch(void **state)
{
	(void)state;
	/* date -u -d @-0.001 ... and date -u -d @-1 ... */
	assert_format(-1, "1969-12-31T23:59:59.999Z");
	assert_format(-1000, "1969-12-31T23:59:59.000Z");
}

static void
test_iso_format_reparses_to_same_ms(void **state)
{
	(void)state;
	const int64_t vals[] = { 0, 1, 999, 86399999, 86400000, INT64_C(951782400000),
	    INT64_C(1709251199123), INT64_C(1483228799999), INT64_C(253402300799999) };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		char buf[TT_ISO_MAX];
		int64_t back = SENTINEL;
		size_t n = tt_iso_format(vals[i], buf);
		assert_int_equal(tt_iso_parse(buf, n, TT_ISO_DATETIME, &back), TT_OK);
		assert_int_equal(back, vals[i]);
	}
}

static void
assert_date(int64_t ms, const char *want)
{
	char buf[TT_ISO_MAX];
	size_t n = tt_iso_date(ms, buf);
	assert_string_equal(buf, want);
	assert_int_equal(n, 10);
}

static void
test_iso_date_last_millisecond_of_leap_day(void **state)
{
	(void)state;
	assert_date(INT64_C(1709251199123), "2024-02-29");
}

static void
test_iso_date_first_millisecond_of_next_day(void **state)
{
	(void)state;
	assert_date(INT64_C(1709251200000), "2024-03-01");
}

static void
test_iso_date_before_epoch(void **state)
{
	(void)state;
	assert_date(-1, "1969-12-31");
	assert_date(0, "1970-01-01");
}

/* ---- civil days ------------------------------------------------------ */

static void
test_days_from_civil_epoch_is_zero(void **state)
{
	(void)state;
	assert_int_equal(tt_days_from_civil(1970, 1, 1), 0);
}

static void
test_days_from_civil_known_dates(void **state)
{
	(void)state;
	/* echo $(( $(date -u -d YYYY-MM-DD +%s) / 86400 )) */
	assert_int_equal(tt_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(tt_days_from_civil(2024, 2, 29), 19782);
	assert_int_equal(tt_days_from_civil(9999, 12, 31), 2932896);
}

static void
test_days_from_civil_before_epoch_is_negative(void **state)
{
	(void)state;
	assert_int_equal(tt_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(tt_days_from_civil(1600, 1, 1), -135140);
}

/* ---- clocks ---------------------------------------------------------- */

static void
test_now_ms_matches_time(void **state)
{
	(void)state;
	int64_t before = (int64_t)time(NULL);
	int64_t now = tt_now_ms();
	int64_t after = (int64_t)time(NULL);
	assert_true(now / 1000 >= before);
	assert_true(now / 1000 <= after);
}

static void
test_mono_clock_never_goes_back(void **state)
{
	(void)state;
	int64_t prev = tt_mono_ms();
	for (int i = 0; i < 1000; i++) {
		int64_t t = tt_mono_ms();
		assert_true(t >= prev);
		prev = t;
	}
}

static void
test_mono_sec_agrees_with_mono_ms(void **state)
{
	(void)state;
	int64_t a = tt_mono_ms();
	double s = tt_mono_sec();
	int64_t b = tt_mono_ms();
	assert_true(s * 1000.0 >= (double)a - 1.0);
	assert_true(s * 1000.0 <= (double)b + 1.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso_parse_epoch),
		cmocka_unit_test(test_iso_parse_leap_day_with_millis),
		cmocka_unit_test(test_iso_parse_day_after_leap_day),
		cmocka_unit_test(test_iso_parse_leap_day_of_century_divisible_by_400),
		cmocka_unit_test(test_iso_parse_positive_offset_0530),
		cmocka_unit_test(test_iso_parse_negative_offset_0800),
		cmocka_unit_test(test_iso_parse_offset_crossing_year_end),
		cmocka_unit_test(test_iso_parse_offset_back_to_epoch),
		cmocka_unit_test(test_iso_parse_zero_offset_equals_z),
		cmocka_unit_test(test_iso_parse_last_millisecond_of_9999),
		cmocka_unit_test(test_iso_parse_fraction_of_one_digit),
		cmocka_unit_test(test_iso_parse_fraction_of_two_digits),
		cmocka_unit_test(test_iso_parse_fraction_of_three_digits),
		cmocka_unit_test(test_iso_parse_fraction_of_four_to_nine_digits_truncates),
		cmocka_unit_test(test_iso_parse_fraction_truncates_not_rounds),
		cmocka_unit_test(test_iso_parse_fraction_with_offset),
		cmocka_unit_test(test_iso_parse_rejects_ten_fraction_digits),
		cmocka_unit_test(test_iso_parse_rejects_empty_fraction),
		cmocka_unit_test(test_iso_parse_second_60_folds_to_last_millisecond),
		cmocka_unit_test(test_iso_parse_rejects_second_61),
		cmocka_unit_test(test_iso_parse_rejects_feb_29_in_common_year),
		cmocka_unit_test(test_iso_parse_rejects_feb_29_in_century_not_divisible_by_400),
		cmocka_unit_test(test_iso_parse_rejects_feb_30),
		cmocka_unit_test(test_iso_parse_rejects_day_31_of_30_day_month),
		cmocka_unit_test(test_iso_parse_rejects_month_and_day_out_of_range),
		cmocka_unit_test(test_iso_parse_rejects_hour_and_minute_out_of_range),
		cmocka_unit_test(test_iso_parse_rejects_offset_out_of_range),
		cmocka_unit_test(test_iso_parse_rejects_year_before_1970),
		cmocka_unit_test(test_iso_parse_rejects_instant_before_epoch_through_offset),
		cmocka_unit_test(test_iso_parse_rejects_instant_after_9999_through_offset),
		cmocka_unit_test(test_iso_parse_rejects_missing_offset),
		cmocka_unit_test(test_iso_parse_rejects_offset_without_colon_or_minutes),
		cmocka_unit_test(test_iso_parse_rejects_missing_seconds),
		cmocka_unit_test(test_iso_parse_rejects_space_separator),
		cmocka_unit_test(test_iso_parse_rejects_short_fields),
		cmocka_unit_test(test_iso_parse_rejects_trailing_garbage),
		cmocka_unit_test(test_iso_parse_rejects_leading_space),
		cmocka_unit_test(test_iso_parse_rejects_empty_and_null),
		cmocka_unit_test(test_iso_parse_rejects_embedded_nul_within_len),
		cmocka_unit_test(test_iso_parse_reads_exactly_len_bytes),
		cmocka_unit_test(test_iso_parse_bare_date_allowed_by_mask),
		cmocka_unit_test(test_iso_parse_bare_date_refused_by_datetime_mask),
		cmocka_unit_test(test_iso_parse_datetime_refused_by_date_mask),
		cmocka_unit_test(test_iso_parse_datetime_allowed_by_both),
		cmocka_unit_test(test_iso_parse_nothing_allowed_by_empty_mask),
		cmocka_unit_test(test_iso_format_epoch),
		cmocka_unit_test(test_iso_format_leap_day),
		cmocka_unit_test(test_iso_format_last_millisecond_of_9999),
		cmocka_unit_test(test_iso_format_before_epoch),
		cmocka_unit_test(test_iso_format_reparses_to_same_ms),
		cmocka_unit_test(test_iso_date_last_millisecond_of_leap_day),
		cmocka_unit_test(test_iso_date_first_millisecond_of_next_day),
		cmocka_unit_test(test_iso_date_before_epoch),
		cmocka_unit_test(test_days_from_civil_epoch_is_zero),
		cmocka_unit_test(test_days_from_civil_known_dates),
		cmocka_unit_test(test_days_from_civil_before_epoch_is_negative),
		cmocka_unit_test(test_now_ms_matches_time),
		cmocka_unit_test(test_mono_clock_never_goes_back),
		cmocka_unit_test(test_mono_sec_agrees_with_mono_ms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
