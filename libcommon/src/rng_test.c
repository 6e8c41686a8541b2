/*
 * rng_test.c - xoshiro256** and its splitmix64 seeding against values
 * computed outside this code (the algorithms as published, in Python's
 * arbitrary-precision integers), and tt_rng_below's range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tt/rng.h"

static void
test_xoshiro_from_a_known_state(void **state)
{
	(void)state;
	tt_rng r = { { 1, 2, 3, 4 } };

	assert_true(tt_rng_next(&r) == 11520u);
	assert_true(tt_rng_next(&r) == 0u);
	assert_true(tt_rng_next(&r) == 1509978240u);
	assert_true(tt_rng_next(&r) == 1215971899390074240u);
}

static void
test_seed_zero_is_splitmix64_of_zero(void **state)
{
	(void)state;
	tt_rng r;

	tt_rng_seed(&r, 0);
	assert_true(r.s[0] == 0xe220a8397b1dcdafu);
	assert_true(r.s[1] == 0x6e789e6aa1b965f4u);
	assert_true(r.s[2] == 0x06c45d188009454fu);
	assert_true(r.s[3] == 0xf88bb8a8724c81ecu);
	assert_true(tt_rng_next(&r) == 11091344671253066420u);
	assert_true(tt_rng_next(&r) == 13793997310169335082u);
	assert_true(tt_rng_next(&r) == 1900383378846508768u);
}

static void
test_below_stays_in_range_and_seeds_reproduce(void **state)
{
	(void)state;
	tt_rng a, b;
	int seen[7] = { 0 };

	tt_rng_seed(&a, 42);
	tt_rng_seed(&b, 42);
	for (int i = 0; i < 10000; i++) {
		uint64_t x = tt_rng_below(&a, 7);
		assert_true(x < 7);
		assert_true(x == tt_rng_below(&b, 7));
		seen[x]++;
	}
	for (int i = 0; i < 7; i++)
		assert_true(seen[i] > 1200 && seen[i] < 1660);   /* 1428 expected each */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xoshiro_from_a_known_state),
		cmocka_unit_test(test_seed_zero_is_splitmix64_of_zero),
		cmocka_unit_test(test_below_stays_in_range_and_seeds_reproduce),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
