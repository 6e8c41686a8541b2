/*
 * bus_test.c - the tt1 message layout: parsing of good and malformed
 * messages, and a publish/subscribe round trip over nng's inproc transport
 * with prefix filtering by kind and venue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt/bus.h"

static tt_err
parse(const char *s, tt_bus_msg *m, char **copy)
{
	*copy = strdup(s);
	assert_non_null(*copy);
	return tt_bus_parse(*copy, strlen(s), m);
}

static void
test_parse_splits_kind_venue_and_json(void **state)
{
	(void)state;
	tt_bus_msg m;
	char *c;
	assert_int_equal(parse("tt1|metric|venue-1|{\"a\":1}", &m, &c), TT_OK);
	assert_string_equal(m.kind, "metric");
	assert_string_equal(m.venue, "venue-1");
	assert_int_equal(m.json_len, 7);
	assert_memory_equal(m.json, "{\"a\":1}", 7);
	free(c);
}

static void
test_parse_keeps_bars_inside_the_json(void **state)
{
	(void)state;
	tt_bus_msg m;
	char *c;
	assert_int_equal(parse("tt1|event|v|{\"s\":\"a|b\"}", &m, &c), TT_OK);
	assert_string_equal(m.venue, "v");
	assert_memory_equal(m.json, "{\"s\":\"a|b\"}", m.json_len);
	free(c);
}

static void
test_parse_rejects_other_versions_and_missing_fields(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "tt1", "tt1|", "tt2|metric|v|{}", "TT1|metric|v|{}",
		"tt1|metric", "tt1|metric|v", "xx1|metric|v|{}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tt_bus_msg m;
		char *c;
		assert_int_equal(parse(bad[i], &m, &c), TT_EPARSE);
		free(c);
	}
}

static void
test_empty_json_part_is_allowed_by_the_layout(void **state)
{
	(void)state;
	tt_bus_msg m;
	char *c;
	assert_int_equal(parse("tt1|metric|v|", &m, &c), TT_OK);
	assert_int_equal(m.json_len, 0);
	free(c);
}

static void
test_pub_sub_round_trip_filters_by_venue(void **state)
{
	(void)state;
	tt_bus *pub = NULL, *sub = NULL;
	char err[128];
	tt_bus_msg m;

	assert_int_equal(tt_bus_pub_open(&pub, "inproc://bus_test", err, sizeof(err)), TT_OK);
	assert_int_equal(tt_bus_sub_open(&sub, "inproc://bus_test", "tt1|metric|venue-2|",
	    err, sizeof(err)), TT_OK);
	/* A subscription takes effect asynchronously: publish until one arrives. */
	tt_err e = TT_ETIMEDOUT;
	for (int i = 0; i < 50 && e == TT_ETIMEDOUT; i++) {
		assert_int_equal(tt_bus_publish(pub, "metric", "venue-1", "{\"n\":1}", 7), TT_OK);
		assert_int_equal(tt_bus_publish(pub, "event", "venue-2", "{\"n\":2}", 7), TT_OK);
		assert_int_equal(tt_bus_publish(pub, "metric", "venue-2", "{\"n\":3}", 7), TT_OK);
		e = tt_bus_recv(sub, &m, 20);
	}
	assert_int_equal(e, TT_OK);
	assert_string_equal(m.kind, "metric");
	assert_string_equal(m.venue, "venue-2");
	assert_memory_equal(m.json, "{\"n\":3}", 7);
	tt_bus_msg_fini(&m);
	/* Nothing else matches the prefix. */
	while ((e = tt_bus_recv(sub, &m, 50)) == TT_OK) {
		assert_string_equal(m.venue, "venue-2");
		assert_string_equal(m.kind, "metric");
		tt_bus_msg_fini(&m);
	}
	assert_int_equal(e, TT_ETIMEDOUT);
	tt_bus_close(sub);
	tt_bus_close(pub);
}

static void
test_sub_dials_every_address_of_a_list(void **state)
{
	(void)state;
	tt_bus *p1 = NULL, *p2 = NULL, *sub = NULL;
	char err[128];
	int seen1 = 0, seen2 = 0;

	assert_int_equal(tt_bus_pub_open(&p1, "inproc://bus_a", err, sizeof(err)), TT_OK);
	assert_int_equal(tt_bus_pub_open(&p2, "inproc://bus_b", err, sizeof(err)), TT_OK);
	assert_int_equal(tt_bus_sub_open(&sub, "inproc://bus_a,inproc://bus_b", "",
	    err, sizeof(err)), TT_OK);
	for (int i = 0; i < 100 && !(seen1 && seen2); i++) {
		tt_bus_msg m;
		tt_bus_publish(p1, "metric", "one", "{}", 2);
		tt_bus_publish(p2, "metric", "two", "{}", 2);
		while (tt_bus_recv(sub, &m, 10) == TT_OK) {
			seen1 |= strcmp(m.venue, "one") == 0;
			seen2 |= strcmp(m.venue, "two") == 0;
			tt_bus_msg_fini(&m);
		}
	}
	assert_true(seen1);
	assert_true(seen2);
	tt_bus_close(sub);
	tt_bus_close(p1);
	tt_bus_close(p2);
}

static void
test_publish_refuses_messages_over_the_limit(void **state)
{
	(void)state;
	tt_bus *pub = NULL;
	char err[128];
	size_t n = TT_BUS_MAX_MSG;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, 'x', n);
	assert_int_equal(tt_bus_pub_open(&pub, "inproc://bus_big", err, sizeof(err)), TT_OK);
	assert_int_equal(tt_bus_publish(pub, "metric", "v", big, n), TT_ETOOBIG);
	tt_bus_close(pub);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_splits_kind_venue_and_json),
		cmocka_unit_test(test_parse_keeps_bars_inside_the_json),
		cmocka_unit_test(test_parse_rejects_other_versions_and_missing_fields),
		cmocka_unit_test(test_empty_json_part_is_allowed_by_the_layout),
		cmocka_unit_test(test_pub_sub_round_trip_filters_by_venue),
		cmocka_unit_test(test_sub_dials_every_address_of_a_list),
		cmocka_unit_test(test_publish_refuses_messages_over_the_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
