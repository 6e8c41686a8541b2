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

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* A port nobody listens on: bind 0, read it back, close. */
static int
free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void
test_sub_resolves_names_to_addresses_and_keeps_literals(void **state)
{
	(void)state;
	tt_bus *pub = NULL, *sub = NULL;
	char err[128], urls[300], want_pub[64], got[8][TT_BUS_ADDR_MAX];
	int port = free_port(), seen = 0;

	/* getaddrinfo itself says what localhost is here, independently of the bus. */
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
	assert_int_equal(getaddrinfo("localhost", NULL, &hints, &res), 0);
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof(ip));
	freeaddrinfo(res);

	snprintf(want_pub, sizeof(want_pub), "tcp://%s:%d", ip, port);
	snprintf(urls, sizeof(urls), "tcp://localhost:%d,inproc://bus_lit,tcp://127.0.0.2:%d", port, port);
	assert_int_equal(tt_bus_pub_open(&pub, want_pub, err, sizeof(err)), TT_OK);
	assert_int_equal(tt_bus_sub_open(&sub, urls, "", err, sizeof(err)), TT_OK);
	int n = tt_bus_dialers(sub, got, 8);
	bool has_name = false, has_inproc = false, has_literal = false;
	char lit[64];
	snprintf(lit, sizeof(lit), "tcp://127.0.0.2:%d", port);
	for (int i = 0; i < n; i++) {
		has_name |= strcmp(got[i], want_pub) == 0;
		has_inproc |= strcmp(got[i], "inproc://bus_lit") == 0;
		has_literal |= strcmp(got[i], lit) == 0;
		assert_null(strstr(got[i], "localhost"));
	}
	assert_true(has_name);
	assert_true(has_inproc);
	assert_true(has_literal);
	for (int i = 0; i < 200 && !seen; i++) {
		tt_bus_msg m;
		tt_bus_publish(pub, "metric", "v", "{}", 2);
		if (tt_bus_recv(sub, &m, 10) == TT_OK) {
			seen = strcmp(m.venue, "v") == 0;
			tt_bus_msg_fini(&m);
		}
	}
	assert_true(seen);
	tt_bus_close(sub);
	tt_bus_close(pub);
}

static void
test_sub_refuses_malformed_addresses(void **state)
{
	(void)state;
	tt_bus *sub = NULL;
	char err[128] = "";
	assert_int_equal(tt_bus_sub_open(&sub, "tcp://localhost:5560,not a url", "", err, sizeof(err)),
	    TT_EBUS);
	assert_non_null(strstr(err, "not a url"));
	assert_null(sub);
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
		cmocka_unit_test(test_sub_resolves_names_to_addresses_and_keeps_literals),
		cmocka_unit_test(test_sub_refuses_malformed_addresses),
		cmocka_unit_test(test_publish_refuses_messages_over_the_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
