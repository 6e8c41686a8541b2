/*
 * rfm_test.c - the RFM segment table of rfm.c, cell by cell, and the
 * integer rounding the customer endpoints print.
 *
 * The expected grid is written here again from the documented chart (R
 * rows, FM = mean of F and M rounded half up), not read from rfm.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rfm.h"

/* want[R-1][FM-1] as names. */
static const char *const want[5][5] = {
	{ "Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them" },
	{ "Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them" },
	{ "Need Attention", "Need Attention", "Need Attention", "Loyal Customers", "Loyal Customers" },
	{ "New Customers", "Potential Loyalists", "Potential Loyalists", "Loyal Customers", "Champions" },
	{ "New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions" },
};

static void
every_score_triple_maps_to_the_chart(void **state)
{
	(void)state;
	for (int r = 1; r <= 5; r++) {
		for (int f = 1; f <= 5; f++) {
			for (int m = 1; m <= 5; m++) {
				rfm_segment s;
				int fm = (f + m + 1) / 2;
				assert_true(rfm_segment_of(r, f, m, &s));
				assert_string_equal(rfm_segment_name(s), want[r - 1][fm - 1]);
			}
		}
	}
}

static void
well_known_customers_get_their_segment(void **state)
{
	rfm_segment s;

	(void)state;
	assert_true(rfm_segment_of(5, 5, 5, &s));
	assert_int_equal(s, RFM_CHAMPIONS);
	assert_true(rfm_segment_of(1, 1, 1, &s));
	assert_int_equal(s, RFM_LOST);
	assert_true(rfm_segment_of(1, 5, 5, &s));
	assert_int_equal(s, RFM_CANT_LOSE);
	assert_true(rfm_segment_of(5, 1, 1, &s));
	assert_int_equal(s, RFM_NEW);
	assert_true(rfm_segment_of(3, 3, 2, &s));   /* FM = 3 */
	assert_int_equal(s, RFM_NEED_ATTENTION);
	assert_true(rfm_segment_of(3, 4, 3, &s));   /* FM = (4+3+1)/2 = 4 */
	assert_int_equal(s, RFM_LOYAL);
}

static void
every_segment_is_reachable_and_named_once(void **state)
{
	bool seen[RFM_SEGMENTS] = { false };

	(void)state;
	for (int r = 1; r <= 5; r++)
		for (int f = 1; f <= 5; f++)
			for (int m = 1; m <= 5; m++) {
				rfm_segment s;
				assert_true(rfm_segment_of(r, f, m, &s));
				seen[s] = true;
			}
	for (int i = 0; i < RFM_SEGMENTS; i++) {
		assert_true(seen[i]);
		assert_non_null(rfm_segment_name((rfm_segment)i));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(rfm_segment_name((rfm_segment)i),
			    rfm_segment_name((rfm_segment)j));
	}
	assert_null(rfm_segment_name((rfm_segment)RFM_SEGMENTS));
}

static void
scores_out_of_range_are_refused(void **state)
{
	rfm_segment s = RFM_LOST;

	(void)state;
	assert_false(rfm_segment_of(0, 3, 3, &s));
	assert_false(rfm_segment_of(3, 6, 3, &s));
	assert_false(rfm_segment_of(3, 3, -1, &s));
	assert_int_equal(s, RFM_LOST);  /* untouched */
}

static void
averages_round_half_away_from_zero_to_the_cent(void **state)
{
	int64_t v = 0;

	(void)state;
	assert_false(rfm_avg_cents(1000, 0, &v));
	assert_true(rfm_avg_cents(1000, 3, &v));   /* 3.333 */
	assert_int_equal(v, 333);
	assert_true(rfm_avg_cents(2000, 3, &v));   /* 6.667 */
	assert_int_equal(v, 667);
	assert_true(rfm_avg_cents(5, 2, &v));      /* 2.5 -> 3 */
	assert_int_equal(v, 3);
	assert_true(rfm_avg_cents(-5, 2, &v));     /* -2.5 -> -3 */
	assert_int_equal(v, -3);
	assert_true(rfm_avg_cents(INT64_MAX, 2, &v));
	assert_int_equal(v, INT64_MAX / 2 + 1);
}

static void
percentages_are_hundredths_rounded_half_up(void **state)
{
	(void)state;
	assert_int_equal(rfm_percent_hundredths(1, 3), 3333);
	assert_int_equal(rfm_percent_hundredths(2, 3), 6667);
	assert_int_equal(rfm_percent_hundredths(1, 8), 1250);
	assert_int_equal(rfm_percent_hundredths(1, 80000), 0);     /* 0.00125 % */
	assert_int_equal(rfm_percent_hundredths(1, 20000), 1);     /* 0.005 %: half -> 0.01 */
	assert_int_equal(rfm_percent_hundredths(1, 20001), 0);
	assert_int_equal(rfm_percent_hundredths(7, 7), 10000);
	assert_int_equal(rfm_percent_hundredths(0, 0), 0);
}

/* PostgreSQL's text of an int4[] of RFM_CELLS cells, cell i holding v[i]. */
static void
array_text(char *out, size_t outlen, const long long *v)
{
	size_t n = 0;

	n += (size_t)snprintf(out + n, outlen - n, "{");
	for (int i = 0; i < RFM_CELLS; i++)
		n += (size_t)snprintf(out + n, outlen - n, i ? ",%lld" : "%lld", v[i]);
	snprintf(out + n, outlen - n, "}");
}

/* The index of segment name in rfm.h order, by name. */
static int
segment_index(const char *name)
{
	for (int i = 0; i < RFM_SEGMENTS; i++)
		if (strcmp(rfm_segment_name((rfm_segment)i), name) == 0)
			return i;
	fail_msg("no segment %s", name);
	return -1;
}

static void
counts_array_is_summed_per_segment(void **state)
{
	long long v[RFM_CELLS], want_count[RFM_SEGMENTS] = { 0 };
	int64_t count[RFM_SEGMENTS], total = 5;
	char text[2048];

	(void)state;
	/* Cell 1 + (r-1)*25 + (f-1)*5 + (m-1) (1-based) holds 1000 r + 100 f + 10 m + 1. */
	for (int r = 1; r <= 5; r++)
		for (int f = 1; f <= 5; f++)
			for (int m = 1; m <= 5; m++) {
				long long n = 1000 * r + 100 * f + 10 * m + 1;
				v[(r - 1) * 25 + (f - 1) * 5 + (m - 1)] = n;
				want_count[segment_index(want[r - 1][(f + m + 1) / 2 - 1])] += n;
			}
	array_text(text, sizeof(text), v);
	for (int i = 0; i < RFM_SEGMENTS; i++)
		count[i] = 10 * i;   /* added to, not replaced */
	assert_true(rfm_counts_add(text, count, &total));
	long long sum = 0;
	for (int i = 0; i < RFM_SEGMENTS; i++) {
		assert_int_equal(count[i], 10 * i + want_count[i]);
		sum += want_count[i];
	}
	/* sum over r, f, m of 1000 r + 100 f + 10 m + 1 = 125 + 25 * 15 * 1110 */
	assert_int_equal(sum, 125 + 25 * 15 * 1110);
	assert_int_equal(total, 5 + sum);
}

static void
one_customer_lands_in_its_segment(void **state)
{
	long long v[RFM_CELLS] = { 0 };
	int64_t count[RFM_SEGMENTS] = { 0 }, total = 0;
	char text[2048];

	(void)state;
	v[124] = 7;   /* r 5, f 5, m 5 */
	v[0] = 2;     /* r 1, f 1, m 1 */
	v[2 * 25 + 2 * 5 + 1] = 2147483647;   /* r 3, f 3, m 2: FM 3, the largest int4 */
	array_text(text, sizeof(text), v);
	assert_true(rfm_counts_add(text, count, &total));
	assert_int_equal(count[RFM_CHAMPIONS], 7);
	assert_int_equal(count[RFM_LOST], 2);
	assert_int_equal(count[RFM_NEED_ATTENTION], 2147483647);
	assert_int_equal(total, 2147483647LL + 9);
}

static void
malformed_counts_are_refused_and_change_nothing(void **state)
{
	long long v[RFM_CELLS] = { 0 };
	int64_t count[RFM_SEGMENTS] = { 0 }, total = 0;
	char ok[2048], bad[2100];

	(void)state;
	array_text(ok, sizeof(ok), v);
	ok[1] = '3';   /* cell 1 = 3: valid */
	assert_true(rfm_counts_add(ok, count, &total));
	assert_int_equal(total, 3);
	assert_int_equal(count[RFM_LOST], 3);

	const char *fixed[] = { NULL, "", "{}", "{1}", "{NULL}", "[0]", "0" };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		assert_false(rfm_counts_add(fixed[i], count, &total));

	/* 124 and 126 cells */
	snprintf(bad, sizeof(bad), "{%s", strchr(ok, ',') + 1);
	assert_false(rfm_counts_add(bad, count, &total));
	snprintf(bad, sizeof(bad), "{0,%s", ok + 1);
	assert_false(rfm_counts_add(bad, count, &total));

	/* one cell spoiled at a time */
	const char *cells[] = { "-1", "+1", " 1", "1 ", "NULL", "2147483648", "99999999999999999999", "1.5", "" };
	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
		snprintf(bad, sizeof(bad), "{%s%s", cells[i], ok + 2);
		assert_false(rfm_counts_add(bad, count, &total));
	}
	snprintf(bad, sizeof(bad), "%s ", ok);   /* trailing */
	assert_false(rfm_counts_add(bad, count, &total));
	snprintf(bad, sizeof(bad), "%s}", ok);
	assert_false(rfm_counts_add(bad, count, &total));
	assert_int_equal(total, 3);   /* the one valid array at the start */
	assert_int_equal(count[RFM_LOST], 3);
	for (int i = 0; i < RFM_SEGMENTS; i++)
		if (i != RFM_LOST)
			assert_int_equal(count[i], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_score_triple_maps_to_the_chart),
		cmocka_unit_test(well_known_customers_get_their_segment),
		cmocka_unit_test(every_segment_is_reachable_and_named_once),
		cmocka_unit_test(scores_out_of_range_are_refused),
		cmocka_unit_test(averages_round_half_away_from_zero_to_the_cent),
		cmocka_unit_test(percentages_are_hundredths_rounded_half_up),
		cmocka_unit_test(counts_array_is_summed_per_segment),
		cmocka_unit_test(one_customer_lands_in_its_segment),
		cmocka_unit_test(malformed_counts_are_refused_and_change_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
