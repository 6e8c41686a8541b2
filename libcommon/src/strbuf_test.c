/*
 * strbuf_test.c - tt_strbuf in both modes: the fixed array never overflows
 * and flags truncation, the heap buffer grows up to its maximum and no
 * further, printf output longer than the internal 256-byte scratch, and the
 * RFC 8259 escaping of JSON strings byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tt/strbuf.h"

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

/* ---- fixed mode ------------------------------------------------------ */

static void
test_fixed_init_gives_empty_string(void **state)
{
	(void)state;
	char mem[8];
	tt_strbuf b;
	memset(mem, 'x', sizeof(mem));
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	assert_string_equal(tt_strbuf_str(&b), "");
	assert_int_equal(tt_strbuf_len(&b), 0);
	assert_false(tt_strbuf_truncated(&b));
	assert_int_equal(mem[0], '\0');
}

static void
test_fixed_holds_cap_minus_one_bytes(void **state)
{
	(void)state;
	char mem[8];
	tt_strbuf b;
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	assert_int_equal(tt_strbuf_puts(&b, "1234567"), TT_OK);
	assert_string_equal(mem, "1234567");
	assert_int_equal(tt_strbuf_len(&b), 7);
	assert_false(tt_strbuf_truncated(&b));
}

static void
test_fixed_append_past_cap_sets_truncated_and_appends_nothing(void **state)
{
	(void)state;
	char mem[8];
	tt_strbuf b;
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	assert_int_equal(tt_strbuf_puts(&b, "hello"), TT_OK);
	assert_int_equal(tt_strbuf_puts(&b, "world"), TT_ETOOBIG);
	assert_true(tt_strbuf_truncated(&b));
	assert_string_equal(tt_strbuf_str(&b), "hello");
	assert_int_equal(tt_strbuf_len(&b), 5);
}

static void
test_fixed_appends_after_truncation_are_noops(void **state)
{
	(void)state;
	char mem[8];
	tt_strbuf b;
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	assert_int_equal(tt_strbuf_puts(&b, "abcdefghij"), TT_ETOOBIG);
	/* "x" would fit, but once truncated every append is refused. */
	assert_int_equal(tt_strbuf_putc(&b, 'x'), TT_ETOOBIG);
	assert_int_equal(tt_strbuf_printf(&b, "%d", 1), TT_ETOOBIG);
	assert_string_equal(tt_strbuf_str(&b), "");
	assert_true(tt_strbuf_truncated(&b));
}

static void
test_fixed_never_writes_past_its_array(void **state)
{
	(void)state;
	char mem[12];
	tt_strbuf b;
	memset(mem, '#', sizeof(mem));
	tt_strbuf_init_fixed(&b, mem, 8);
	(void)tt_strbuf_puts(&b, "abc");
	(void)tt_strbuf_printf(&b, "%s", "defghijklmnop");
	(void)tt_strbuf_json_str(&b, "qqqqqqqq");
	for (size_t i = 8; i < sizeof(mem); i++)
		assert_int_equal(mem[i], '#');
	assert_string_equal(mem, "abc");
}

static void
test_fixed_printf_longer_than_256_truncates(void **state)
{
	(void)state;
	char mem[100];
	char big[301];
	tt_strbuf b;
	memset(big, 'z', 300);
	big[300] = '\0';
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	assert_int_equal(tt_strbuf_printf(&b, "%s", big), TT_ETOOBIG);
	assert_true(tt_strbuf_truncated(&b));
	assert_int_equal(tt_strbuf_len(&b), 0);
	assert_string_equal(mem, "");
}

static void
test_reset_clears_truncation(void **state)
{
	(void)state;
	char mem[4];
	tt_strbuf b;
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	assert_int_equal(tt_strbuf_puts(&b, "toolong"), TT_ETOOBIG);
	tt_strbuf_reset(&b);
	assert_false(tt_strbuf_truncated(&b));
	assert_int_equal(tt_strbuf_puts(&b, "ok"), TT_OK);
	assert_string_equal(tt_strbuf_str(&b), "ok");
}

static void
test_take_on_fixed_returns_null(void **state)
{
	(void)state;
	char mem[8];
	tt_strbuf b;
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	(void)tt_strbuf_puts(&b, "abc");
	assert_null(tt_strbuf_take(&b));
}

/* ---- heap mode ------------------------------------------------------- */

static void
test_heap_str_of_fresh_buffer_is_empty(void **state)
{
	(void)state;
	tt_strbuf b;
	tt_strbuf_init(&b, 100);
	assert_string_equal(tt_strbuf_str(&b), "");
	assert_int_equal(tt_strbuf_len(&b), 0);
	tt_strbuf_fini(&b);
}

static void
test_heap_grows_to_exactly_max(void **state)
{
	(void)state;
	char big[1001];
	tt_strbuf b;
	memset(big, 'a', 1000);
	big[1000] = '\0';
	tt_strbuf_init(&b, 1000);
	for (int i = 0; i < 10; i++)
		assert_int_equal(tt_strbuf_put(&b, big, 100), TT_OK);
	assert_int_equal(tt_strbuf_len(&b), 1000);
	assert_string_equal(tt_strbuf_str(&b), big);
	assert_false(tt_strbuf_truncated(&b));
	tt_strbuf_fini(&b);
}

static void
test_heap_one_byte_past_max_is_refused(void **state)
{
	(void)state;
	tt_strbuf b;
	tt_strbuf_init(&b, 10);
	assert_int_equal(tt_strbuf_puts(&b, "0123456789"), TT_OK);
	assert_int_equal(tt_strbuf_putc(&b, 'x'), TT_ETOOBIG);
	assert_true(tt_strbuf_truncated(&b));
	assert_string_equal(tt_strbuf_str(&b), "0123456789");
	tt_strbuf_fini(&b);
}

static void
test_heap_append_crossing_max_appends_nothing(void **state)
{
	(void)state;
	tt_strbuf b;
	tt_strbuf_init(&b, 10);
	assert_int_equal(tt_strbuf_puts(&b, "abcdef"), TT_OK);
	assert_int_equal(tt_strbuf_puts(&b, "ghijk"), TT_ETOOBIG);
	assert_string_equal(tt_strbuf_str(&b), "abcdef");
	assert_int_equal(tt_strbuf_len(&b), 6);
	tt_strbuf_fini(&b);
}

static void
test_heap_put_binary_bytes(void **state)
{
	(void)state;
	tt_strbuf b;
	tt_strbuf_init(&b, 64);
	assert_int_equal(tt_strbuf_put(&b, "a\0b", 3), TT_OK);
	assert_int_equal(tt_strbuf_len(&b), 3);
	assert_memory_equal(tt_strbuf_str(&b), "a\0b\0", 4);
	tt_strbuf_fini(&b);
}

static void
test_heap_printf_formats(void **state)
{
	(void)state;
	tt_strbuf b;
	tt_strbuf_init(&b, 64);
	assert_int_equal(tt_strbuf_printf(&b, "%s=%d;", "n", -12), TT_OK);
	assert_int_equal(tt_strbuf_printf(&b, "%05.1f", 3.25), TT_OK);
	assert_string_equal(tt_strbuf_str(&b), "n=-12;003.2");
	tt_strbuf_fini(&b);
}

static void
test_heap_printf_longer_than_256(void **state)
{
	(void)state;
	char big[1001];
	tt_strbuf b;
	for (int i = 0; i < 1000; i++)
		big[i] = (char)('a' + i % 26);
	big[1000] = '\0';
	tt_strbuf_init(&b, 4096);
	assert_int_equal(tt_strbuf_puts(&b, "<"), TT_OK);
	assert_int_equal(tt_strbuf_printf(&b, "%s|%d", big, 42), TT_OK);
	assert_int_equal(tt_strbuf_len(&b), 1 + 1000 + 3);
	assert_memory_equal(tt_strbuf_str(&b), "<", 1);
	assert_memory_equal(tt_strbuf_str(&b) + 1, big, 1000);
	assert_string_equal(tt_strbuf_str(&b) + 1001, "|42");
	tt_strbuf_fini(&b);
}

static void
test_heap_printf_of_exactly_256_bytes(void **state)
{
	(void)state;
	char s[257];
	tt_strbuf b;
	memset(s, 'q', 256);
	s[256] = '\0';
	tt_strbuf_init(&b, 1024);
	assert_int_equal(tt_strbuf_printf(&b, "%s", s), TT_OK);
	assert_int_equal(tt_strbuf_len(&b), 256);
	assert_string_equal(tt_strbuf_str(&b), s);
	tt_strbuf_fini(&b);
}

static void
test_heap_printf_longer_than_256_past_max_is_refused(void **state)
{
	(void)state;
	char big[301];
	tt_strbuf b;
	memset(big, 'z', 300);
	big[300] = '\0';
	tt_strbuf_init(&b, 299);
	assert_int_equal(tt_strbuf_printf(&b, "%s", big), TT_ETOOBIG);
	assert_true(tt_strbuf_truncated(&b));
	assert_int_equal(tt_strbuf_len(&b), 0);
	tt_strbuf_fini(&b);
}

static void
test_take_hands_over_content_and_resets(void **state)
{
	(void)state;
	tt_strbuf b;
	tt_strbuf_init(&b, 64);
	assert_int_equal(tt_strbuf_puts(&b, "payload"), TT_OK);
	char *p = tt_strbuf_take(&b);
	assert_non_null(p);
	assert_string_equal(p, "payload");
	assert_int_equal(tt_strbuf_len(&b), 0);
	assert_string_equal(tt_strbuf_str(&b), "");
	free(p);
	/* The buffer is usable again after take. */
	assert_int_equal(tt_strbuf_puts(&b, "again"), TT_OK);
	assert_string_equal(tt_strbuf_str(&b), "again");
	tt_strbuf_fini(&b);
}

static void
test_take_of_empty_heap_buffer_is_empty_string(void **state)
{
	(void)state;
	tt_strbuf b;
	tt_strbuf_init(&b, 64);
	char *p = tt_strbuf_take(&b);
	assert_non_null(p);
	assert_string_equal(p, "");
	free(p);
	tt_strbuf_fini(&b);
}

static void
test_reset_keeps_storage(void **state)
{
	(void)state;
	tt_strbuf b;
	tt_strbuf_init(&b, 64);
	assert_int_equal(tt_strbuf_puts(&b, "abc"), TT_OK);
	const char *before = tt_strbuf_str(&b);
	tt_strbuf_reset(&b);
	assert_int_equal(tt_strbuf_len(&b), 0);
	assert_string_equal(tt_strbuf_str(&b), "");
	assert_ptr_equal(tt_strbuf_str(&b), before);
	tt_strbuf_fini(&b);
}

static void
test_fini_accepts_null_zeroed_and_fixed(void **state)
{
	(void)state;
	tt_strbuf z;
	char mem[4];
	tt_strbuf f;
	memset(&z, 0, sizeof(z));
	tt_strbuf_fini(NULL);
	tt_strbuf_fini(&z);
	tt_strbuf_init_fixed(&f, mem, sizeof(mem));
	tt_strbuf_fini(&f);
	tt_strbuf_fini(&f);   /* twice is harmless */
}

static void
test_heap_with_size_max_maximum_does_not_overflow(void **state)
{
	(void)state;
	/* max = SIZE_MAX ("no practical limit") is a legal argument. */
	tt_strbuf b;
	tt_strbuf_init(&b, SIZE_MAX);
	assert_int_equal(tt_strbuf_puts(&b, "hello world, longer than one byte"), TT_OK);
	assert_string_equal(tt_strbuf_str(&b), "hello world, longer than one byte");
	tt_strbuf_fini(&b);
}

/* ---- JSON strings ---------------------------------------------------- */

/* The JSON literal tt_strbuf_json_strn makes of s[0..n). */
static char *
json_of(const char *s, size_t n)
{
	tt_strbuf b;
	tt_strbuf_init(&b, 4096);
	assert_int_equal(tt_strbuf_json_strn(&b, s, n), TT_OK);
	return tt_strbuf_take(&b);
}

static void
assert_json(const char *in, const char *want)
{
	char *got = json_of(in, strlen(in));
	assert_string_equal(got, want);
	free(got);
}

static void
test_json_plain_text_is_quoted(void **state)
{
	(void)state;
	assert_json("hello world", "\"hello world\"");
	assert_json("", "\"\"");
}

static void
test_json_escapes_quote_and_backslash(void **state)
{
	(void)state;
	assert_json("a\"b\\c", "\"a\\\"b\\\\c\"");
}

static void
test_json_escapes_newline_cr_tab(void **state)
{
	(void)state;
	assert_json("\n\r\t", "\"\\n\\r\\t\"");
}

static void
test_json_escapes_other_control_chars_as_u00xx(void **state)
{
	(void)state;
	assert_json("\x01", "\"\\u0001\"");
	assert_json("\x08\x0c", "\"\\u0008\\u000c\"");
	assert_json("\x1f", "\"\\u001f\"");
	assert_json("a\x1b[0m", "\"a\\u001b[0m\"");
}

static void
test_json_escapes_embedded_nul(void **state)
{
	(void)state;
	char *got = json_of("a\0b", 3);
	assert_string_equal(got, "\"a\\u0000b\"");
	free(got);
}

static void
test_json_passes_printable_ascii_through(void **state)
{
	(void)state;
	/* Space (0x20) and DEL (0x7f) need no escape in RFC 8259; nor does '/'. */
	assert_json(" /~\x7f", "\" /~\x7f\"");
}

static void
test_json_passes_utf8_through(void **state)
{
	(void)state;
	/* é (C3 A9), € (E2 82 AC), 😀 (F0 9F 98 80) */
	assert_json("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
}

static void
test_json_str_appends_after_existing_content(void **state)
{
	(void)state;
	tt_strbuf b;
	tt_strbuf_init(&b, 64);
	assert_int_equal(tt_strbuf_puts(&b, "{\"k\":"), TT_OK);
	assert_int_equal(tt_strbuf_json_str(&b, "v\"1"), TT_OK);
	assert_int_equal(tt_strbuf_putc(&b, '}'), TT_OK);
	assert_string_equal(tt_strbuf_str(&b), "{\"k\":\"v\\\"1\"}");
	tt_strbuf_fini(&b);
}

static void
test_json_str_past_max_reports_toobig(void **state)
{
	(void)state;
	char mem[6];
	tt_strbuf b;
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	/* The literal "ab\"" with its quotes is 6 bytes; only 5 fit. */
	assert_int_equal(tt_strbuf_json_str(&b, "ab\""), TT_ETOOBIG);
	assert_true(tt_strbuf_truncated(&b));
	assert_true(strlen(mem) <= 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_init_gives_empty_string),
		cmocka_unit_test(test_fixed_holds_cap_minus_one_bytes),
		cmocka_unit_test(test_fixed_append_past_cap_sets_truncated_and_appends_nothing),
		cmocka_unit_test(test_fixed_appends_after_truncation_are_noops),
		cmocka_unit_test(test_fixed_never_writes_past_its_array),
		cmocka_unit_test(test_fixed_printf_longer_than_256_truncates),
		cmocka_unit_test(test_reset_clears_truncation),
		cmocka_unit_test(test_take_on_fixed_returns_null),
		cmocka_unit_test(test_heap_str_of_fresh_buffer_is_empty),
		cmocka_unit_test(test_heap_grows_to_exactly_max),
		cmocka_unit_test(test_heap_one_byte_past_max_is_refused),
		cmocka_unit_test(test_heap_append_crossing_max_appends_nothing),
		cmocka_unit_test(test_heap_put_binary_bytes),
		cmocka_unit_test(test_heap_printf_formats),
		cmocka_unit_test(test_heap_printf_longer_than_256),
		cmocka_unit_test(test_heap_printf_of_exactly_256_bytes),
		cmocka_unit_test(test_heap_printf_longer_than_256_past_max_is_refused),
		cmocka_unit_test(test_take_hands_over_content_and_resets),
		cmocka_unit_test(test_take_of_empty_heap_buffer_is_empty_string),
		cmocka_unit_test(test_reset_keeps_storage),
		cmocka_unit_test(test_fini_accepts_null_zeroed_and_fixed),
		cmocka_unit_test(test_heap_with_size_max_maximum_does_not_overflow),
		cmocka_unit_test(test_json_plain_text_is_quoted),
		cmocka_unit_test(test_json_escapes_quote_and_backslash),
		cmocka_unit_test(test_json_escapes_newline_cr_tab),
		cmocka_unit_test(test_json_escapes_other_control_chars_as_u00xx),
		cmocka_unit_test(test_json_escapes_embedded_nul),
		cmocka_unit_test(test_json_passes_printable_ascii_through),
		cmocka_unit_test(test_json_passes_utf8_through),
		cmocka_unit_test(test_json_str_appends_after_existing_content),
		cmocka_unit_test(test_json_str_past_max_reports_toobig),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
