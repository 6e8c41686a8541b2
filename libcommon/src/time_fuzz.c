/*
 * time_fuzz.c - libFuzzer target for tt_iso_parse() and the formatters.
 *
 * The input is parsed (from an exact-size heap copy, so a read past len is
 * a heap overflow) with every mask: none, date-time, date, both. Promises
 * checked (tt/time.h):
 *   - the empty mask accepts nothing; an instant is in 1970..9999;
 *   - a mask accepts a superset of what its parts accept, with the same
 *     instant; a bare date is midnight UTC;
 *   - tt_iso_format(ms) is 24 bytes and parses back to the same ms, and
 *     tt_iso_date(ms) parses back (as a date) to the midnight of that day.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/time.h"
#include "fuzz.h"

/* 10000-01-01T00:00:00Z: the first instant out of range. */
#define FUZZ_END_MS INT64_C(253402300800000)
#define DAY_MS      INT64_C(86400000)

static void
check_round_trip(int64_t ms)
{
	char buf[TT_ISO_MAX];
	int64_t back = -1;
	size_t n;

	CHECK(ms >= 0 && ms < FUZZ_END_MS);
	memset(buf, 'X', sizeof(buf));
	n = tt_iso_format(ms, buf);
	CHECK(n == 24 && buf[n] == '\0');
	CHECK(tt_iso_parse(buf, n, TT_ISO_DATETIME, &back) == TT_OK && back == ms);

	memset(buf, 'X', sizeof(buf));
	n = tt_iso_date(ms, buf);
	CHECK(n == 10 && buf[n] == '\0');
	back = -1;
	CHECK(tt_iso_parse(buf, n, TT_ISO_DATE, &back) == TT_OK);
	CHECK(back == ms - ms % DAY_MS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int masks[] = {0, TT_ISO_DATETIME, TT_ISO_DATE, TT_ISO_DATETIME | TT_ISO_DATE};
	tt_err res[4];
	int64_t ms[4];
	char *s = malloc(size > 0 ? size : 1);

	if (s == NULL)
		return 0;
	if (size > 0)
		memcpy(s, data, size);
	for (int i = 0; i < 4; i++) {
		ms[i] = INT64_MIN;
		res[i] = tt_iso_parse(s, size, masks[i], &ms[i]);
		if (res[i] == TT_OK)
			check_round_trip(ms[i]);
		else
			CHECK(ms[i] == INT64_MIN); /* written on success only */
	}
	free(s);

	CHECK(res[0] != TT_OK);
	if (res[1] == TT_OK)
		CHECK(res[3] == TT_OK && ms[3] == ms[1]);
	if (res[2] == TT_OK) {
		CHECK(res[3] == TT_OK && ms[3] == ms[2]);
		CHECK(ms[2] % DAY_MS == 0);
	}
	if (res[3] == TT_OK)
		CHECK(res[1] == TT_OK || res[2] == TT_OK);
	CHECK(!(res[1] == TT_OK && res[2] == TT_OK)); /* a string is one form */
	return 0;
}
