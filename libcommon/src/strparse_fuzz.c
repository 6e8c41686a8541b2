/*
 * strparse_fuzz.c - libFuzzer target for the number parsers (tt/strparse.h).
 *
 * tt_parse_i64() over an exact-size heap copy of the input: an accepted
 * value formats (tt_fmt_i64) to text that parses back to it; a refusal is
 * TT_EPARSE or TT_ERANGE and leaves *out alone.
 *
 * tt_parse_pg_int_array() over the same copy, with bounds taken from the
 * first input byte (the whole int64 range, [0, INT32_MAX] as RFM counts
 * use, or [-9, 9]) and room for 125 cells: an accepted array has at most 125
 * cells, each within the bounds, and the cells written back as "{a,b,...}"
 * parse to the same cells; a refusal is TT_EPARSE, TT_ERANGE or TT_ETOOBIG.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tt/strparse.h"
#include "fuzz.h"

#define CELLS 125

static void
fuzz_i64(const char *s, size_t size)
{
	int64_t v = 42, back = 0;
	char buf[21];
	tt_err e = tt_parse_i64(s, size, INT64_MIN, INT64_MAX, &v);

	if (e != TT_OK) {
		CHECK(e == TT_EPARSE || e == TT_ERANGE);
		CHECK(v == 42);
		return;
	}
	size_t n = tt_fmt_i64(v, buf);
	CHECK(tt_parse_i64(buf, n, INT64_MIN, INT64_MAX, &back) == TT_OK && back == v);
}

static void
fuzz_array(const char *s, size_t size, unsigned mode)
{
	static const int64_t lo[3] = { INT64_MIN, 0, -9 }, hi[3] = { INT64_MAX, INT32_MAX, 9 };
	int64_t cells[CELLS], again[CELLS];
	char text[CELLS * 21 + 3];
	size_t n = 0, m = 0, len = 0;
	tt_err e = tt_parse_pg_int_array(s, size, lo[mode], hi[mode], cells, CELLS, &n);

	if (e != TT_OK) {
		CHECK(e == TT_EPARSE || e == TT_ERANGE || e == TT_ETOOBIG);
		return;
	}
	CHECK(n <= CELLS);
	text[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		CHECK(cells[i] >= lo[mode] && cells[i] <= hi[mode]);
		if (i > 0)
			text[len++] = ',';
		len += tt_fmt_i64(cells[i], text + len);
	}
	text[len++] = '}';
	CHECK(tt_parse_pg_int_array(text, len, lo[mode], hi[mode], again, CELLS, &m) == TT_OK);
	CHECK(m == n && memcmp(again, cells, n * sizeof(cells[0])) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode = size > 0 ? data[0] % 3 : 0;
	char *s = malloc(size > 0 ? size : 1);

	if (s == NULL)
		return 0;
	if (size > 0)
		memcpy(s, data, size);
	fuzz_i64(s, size);
	fuzz_array(s, size, mode);
	free(s);
	return 0;
}
