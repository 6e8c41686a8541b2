/*
 * log_test.c - JSON-lines records: one valid JSON object per line with the
 * fixed fields first, string values escaped, levels filtered, and an
 * oversized record cut back to a valid line instead of split.
 *
 * stdout is redirected to a temporary file for each test and read back;
 * every line is checked by parsing it with cJSON (an independent parser).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt/log.h"

static int saved_stdout = -1;
static FILE *capture;

static void
capture_begin(void)
{
	fflush(stdout);
	capture = tmpfile();
	assert_non_null(capture);
	saved_stdout = dup(STDOUT_FILENO);
	assert_true(saved_stdout >= 0);
	assert_true(dup2(fileno(capture), STDOUT_FILENO) >= 0);
}

/* Ends the capture; returns the captured text (free it). */
static char *
capture_end(void)
{
	long n;
	char *buf;

	fflush(stdout);
	assert_true(dup2(saved_stdout, STDOUT_FILENO) >= 0);
	close(saved_stdout);
	n = lseek(fileno(capture), 0, SEEK_END);
	assert_true(n >= 0);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fileno(capture), buf, (size_t)n, 0), n);
	fclose(capture);
	return buf;
}

static int
count_lines(const char *s)
{
	int n = 0;
	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void
test_record_is_one_json_line_with_fixed_fields(void **state)
{
	(void)state;
	tt_log_init("unit", TT_LOG_DEBUG);
	capture_begin();
	tt_log(TT_LOG_INFO, "batch committed", "rows", "512", "venue", "venue-1", NULL);
	char *out = capture_end();

	assert_int_equal(count_lines(out), 1);
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "level")->valuestring, "info");
	assert_string_equal(cJSON_GetObjectItem(j, "service")->valuestring, "unit");
	assert_string_equal(cJSON_GetObjectItem(j, "msg")->valuestring, "batch committed");
	assert_string_equal(cJSON_GetObjectItem(j, "rows")->valuestring, "512");
	assert_string_equal(cJSON_GetObjectItem(j, "venue")->valuestring, "venue-1");
	/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
	const char *ts = cJSON_GetObjectItem(j, "ts")->valuestring;
	assert_int_equal(strlen(ts), 24);
	assert_int_equal(ts[10], 'T');
	assert_int_equal(ts[23], 'Z');
	cJSON_Delete(j);
	free(out);
}

static void
test_values_with_quotes_and_control_characters_are_escaped(void **state)
{
	(void)state;
	static const char nasty[] = "a\"b\\c\nd\te\x01";
	tt_log_init("unit", TT_LOG_DEBUG);
	capture_begin();
	tt_log(TT_LOG_WARN, "line1\nline2", "k\"ey", nasty, NULL);
	char *out = capture_end();

	assert_int_equal(count_lines(out), 1);
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "msg")->valuestring, "line1\nline2");
	assert_string_equal(cJSON_GetObjectItem(j, "k\"ey")->valuestring, nasty);
	cJSON_Delete(j);
	free(out);
}

static void
test_null_value_is_written_as_json_null(void **state)
{
	(void)state;
	tt_log_init("unit", TT_LOG_DEBUG);
	capture_begin();
	tt_log(TT_LOG_ERROR, "m", "detail", (const char *)NULL, NULL);
	char *out = capture_end();
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "detail")));
	assert_string_equal(cJSON_GetObjectItem(j, "level")->valuestring, "error");
	cJSON_Delete(j);
	free(out);
}

static void
test_records_below_the_minimum_level_are_not_written(void **state)
{
	(void)state;
	tt_log_init("unit", TT_LOG_WARN);
	capture_begin();
	tt_log(TT_LOG_DEBUG, "no", NULL);
	tt_logf(TT_LOG_INFO, "no %d", 1);
	tt_logf(TT_LOG_WARN, "yes %d", 2);
	char *out = capture_end();
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "\"msg\":\"yes 2\""));
	assert_false(tt_log_enabled(TT_LOG_INFO));
	assert_true(tt_log_enabled(TT_LOG_ERROR));
	free(out);
}

static void
test_oversized_record_becomes_a_valid_truncation_notice(void **state)
{
	(void)state;
	char *big = malloc(10000);
	assert_non_null(big);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	tt_log_init("unit", TT_LOG_DEBUG);
	capture_begin();
	tt_log(TT_LOG_INFO, "big", "payload", big, NULL);
	char *out = capture_end();
	assert_int_equal(count_lines(out), 1);
	assert_true(strlen(out) < 4096);
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "msg")->valuestring, "log record truncated");
	cJSON_Delete(j);
	free(out);
	free(big);
}

static void
test_level_names_parse_and_others_do_not(void **state)
{
	(void)state;
	assert_int_equal(tt_log_level_parse("debug"), TT_LOG_DEBUG);
	assert_int_equal(tt_log_level_parse("info"), TT_LOG_INFO);
	assert_int_equal(tt_log_level_parse("warn"), TT_LOG_WARN);
	assert_int_equal(tt_log_level_parse("error"), TT_LOG_ERROR);
	assert_int_equal(tt_log_level_parse("INFO"), -1);
	assert_int_equal(tt_log_level_parse("warning"), -1);
	assert_int_equal(tt_log_level_parse(""), -1);
	assert_int_equal(tt_log_level_parse(NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_is_one_json_line_with_fixed_fields),
		cmocka_unit_test(test_values_with_quotes_and_control_characters_are_escaped),
		cmocka_unit_test(test_null_value_is_written_as_json_null),
		cmocka_unit_test(test_records_below_the_minimum_level_are_not_written),
		cmocka_unit_test(test_oversized_record_becomes_a_valid_truncation_notice),
		cmocka_unit_test(test_level_names_parse_and_others_do_not),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
