/*
 * bus_fuzz.c - libFuzzer target for tt_bus_parse(), the splitter of
 * "tt1|<kind>|<venueId>|<json>" messages (tt/bus.h, proto/README.md).
 *
 * The input is copied into an exact-size heap block plus its NUL, as
 * tt_bus_recv() does, and parsed in place. On success the fields must
 * point into that block in order, kind and venue must be the text between
 * the first three bars (NUL-terminated where the bar was), and json must
 * run to the end of the message. On failure the message really lacks the
 * "tt1|" prefix or one of the two bars after it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/bus.h"
#include "fuzz.h"

/* Offset of the n-th '|' (1-based) in s[0..len), or len when absent. */
static size_t
nth_bar(const uint8_t *s, size_t len, int n)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '|' && --n == 0)
			return i;
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	tt_bus_msg msg;
	tt_err e;

	if (buf == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&msg, 0, sizeof(msg));
	e = tt_bus_parse(buf, size, &msg);

	/* The layout, independently: prefix, then bars 2 and 3 anywhere after it. */
	size_t bar2 = nth_bar(data, size, 2), bar3 = nth_bar(data, size, 3);
	int well_formed = size >= 4 && memcmp(data, "tt1|", 4) == 0 && bar3 < size;

	if (!well_formed) {
		CHECK(e == TT_EPARSE);
		CHECK(msg.buf == NULL && msg.kind == NULL && msg.venue == NULL && msg.json == NULL);
		free(buf);
		return 0;
	}
	CHECK(e == TT_OK);
	CHECK(msg.buf == buf);
	CHECK(msg.kind == buf + 4);
	CHECK(msg.venue == buf + bar2 + 1);
	CHECK(msg.json == buf + bar3 + 1);
	CHECK(msg.json_len == size - bar3 - 1);
	CHECK(msg.json[msg.json_len] == '\0');
	CHECK(buf[bar2] == '\0' && buf[bar3] == '\0');
	/* Only the two bars were touched. */
	for (size_t i = 0; i < size; i++)
		if (i != bar2 && i != bar3)
			CHECK(buf[i] == (char)data[i]);
	free(buf);
	return 0;
}
