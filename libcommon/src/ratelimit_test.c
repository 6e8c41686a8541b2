/*
 * ratelimit_test.c - the key format (pure), and the window against a real
 * Redis on REDIS_HOST:REDIS_PORT (127.0.0.1:6379) when one answers; those
 * cases are skipped, not failed, when none does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt/metrics.h"
#include "tt/ratelimit.h"
#include "tt/strparse.h"

static void
test_key_is_the_seed_format(void **state)
{
	(void)state;
	char k[TT_RATELIMIT_KEY_MAX];

	assert_int_equal(tt_ratelimit_key(k, sizeof(k), "10.0.0.7", "/metrics"), TT_OK);
	assert_string_equal(k, "rate_limit:10.0.0.7:/metrics");
	assert_int_equal(tt_ratelimit_key(k, sizeof(k), "::1", "/analytics/realtime/summary"), TT_OK);
	assert_string_equal(k, "rate_limit:::1:/analytics/realtime/summary");
}

static void
test_key_bounds_and_empty_parts(void **state)
{
	(void)state;
	char k[32];

	assert_int_equal(tt_ratelimit_key(k, sizeof(k), "1.2.3.4", "/a/very/long/path/indeed"), TT_ETOOBIG);
	assert_string_equal(k, "");
	/* Exactly fitting: 11 + 7 + 1 + 12 = 31 bytes and the NUL. */
	assert_int_equal(tt_ratelimit_key(k, sizeof(k), "1.2.3.4", "/abcdefghijk"), TT_OK);
	assert_int_equal(strlen(k), 31);
	assert_int_equal(tt_ratelimit_key(k, sizeof(k), "", "/x"), TT_EINVAL);
	assert_int_equal(tt_ratelimit_key(k, sizeof(k), "1.2.3.4", NULL), TT_EINVAL);
	assert_int_equal(tt_ratelimit_key(k, 0, "1.2.3.4", "/x"), TT_EINVAL);
}

static void
test_zero_max_disables_without_redis(void **state)
{
	(void)state;
	tt_ratelimit_result res;

	assert_int_equal(tt_ratelimit_check(NULL, "1.2.3.4", "/x", 0, 60, &res, NULL, 0), TT_OK);
	assert_true(res.allowed);
}

static void
test_no_connection_fails_open_and_counts(void **state)
{
	(void)state;
	tt_ratelimit_result res;
	char err[128];
	tt_metric *m = tt_metrics_counter(tt_metrics_default(), "rate_limit_errors_total", NULL, NULL);
	double before = tt_metric_value(m);

	assert_int_equal(tt_ratelimit_check(NULL, "1.2.3.4", "/x", 5, 60, &res, err, sizeof(err)), TT_ECONN);
	assert_true(res.allowed);
	assert_true(tt_metric_value(m) == before + 1);
}

static void
test_unreachable_redis_fails_open(void **state)
{
	(void)state;
	tt_redis *r;
	tt_ratelimit_result res;
	char err[128];

	/* Port 1 on loopback: connection refused at once. */
	assert_int_equal(tt_redis_new(&r, "127.0.0.1", 1, NULL, 200), TT_OK);
	assert_int_not_equal(tt_ratelimit_check(r, "1.2.3.4", "/x", 5, 60, &res, err, sizeof(err)), TT_OK);
	assert_true(res.allowed);
	tt_redis_free(r);
}


static void
test_window_counts_then_refuses(void **state)
{
	(void)state;
	tt_redis *r = live_redis();
	tt_ratelimit_result res;
	char ip[64], err[128];

	if (r == NULL)
		no_redis();
	snprintf(ip, sizeof(ip), "unit-%ld", (long)getpid());
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(tt_ratelimit_check(r, ip, "/w", 3, 5, &res, err, sizeof(err)), TT_OK);
		assert_true(res.allowed);
		assert_int_equal(res.count, i);
		assert_int_equal(res.remaining, 3 - i);
		assert_in_range(res.reset_sec, 1, 5);
	}
	assert_int_equal(tt_ratelimit_check(r, ip, "/w", 3, 5, &res, err, sizeof(err)), TT_OK);
	assert_false(res.allowed);
	assert_int_equal(res.count, 4);
	assert_int_equal(res.remaining, 0);
	/* Another path has its own window. */
	assert_int_equal(tt_ratelimit_check(r, ip, "/other", 3, 5, &res, err, sizeof(err)), TT_OK);
	assert_true(res.allowed);
	assert_int_equal(res.count, 1);

	/* A key that lost its TTL gets one again. */
	char key[TT_RATELIMIT_KEY_MAX];
	tt_ratelimit_key(key, sizeof(key), ip, "/nottl");
	const char *set[] = { "SET", key, "7" };
	assert_int_equal(tt_redis_cmd(r, NULL, 3, set, NULL, err, sizeof(err)), TT_OK);
	assert_int_equal(tt_ratelimit_check(r, ip, "/nottl", 100, 9, &res, err, sizeof(err)), TT_OK);
	assert_int_equal(res.count, 8);
	assert_in_range(res.reset_sec, 1, 9);

	const char *del[] = { "DEL", key };
	tt_redis_cmd(r, NULL, 2, del, NULL, NULL, 0);
	tt_ratelimit_key(key, sizeof(key), ip, "/w");
	tt_redis_cmd(r, NULL, 2, del, NULL, NULL, 0);
	tt_ratelimit_key(key, sizeof(key), ip, "/other");
	tt_redis_cmd(r, NULL, 2, del, NULL, NULL, 0);
	tt_redis_free(r);
}

static void
del_key(tt_redis *r, const char *ip, const char *path)
{
	char key[TT_RATELIMIT_KEY_MAX];
	tt_ratelimit_key(key, sizeof(key), ip, path);
	const char *del[] = { "DEL", key };
	tt_redis_cmd(r, NULL, 2, del, NULL, NULL, 0);
}

static int64_t
redis_count(tt_redis *r, const char *ip, const char *path)
{
	char key[TT_RATELIMIT_KEY_MAX], err[128];
	redisReply *rep = NULL;
	int64_t v = -1;
	tt_ratelimit_key(key, sizeof(key), ip, path);
	const char *get[] = { "GET", key };
	assert_int_equal(tt_redis_cmd(r, &rep, 2, get, NULL, err, sizeof(err)), TT_OK);
	if (rep->type == REDIS_REPLY_STRING)
		assert_int_equal(tt_parse_i64(rep->str, rep->len, 0, INT64_MAX, &v), TT_OK);
	freeReplyObject(rep);
	return v;
}

static void
test_large_limits_take_counts_in_leases(void **state)
{
	(void)state;
	tt_redis *r = live_redis();
	tt_ratelimit_result res;
	char ip[64], err[128];

	if (r == NULL)
		no_redis();
	/* max 100000: leases of 100000 / 100 = 1000 counts. */
	snprintf(ip, sizeof(ip), "lease-%ld", (long)getpid());
	del_key(r, ip, "/l");
	for (int i = 1; i <= 1500; i++) {
		assert_int_equal(tt_ratelimit_check(r, ip, "/l", 100000, 30, &res, err, sizeof(err)), TT_OK);
		assert_true(res.allowed);
		assert_int_equal(res.count, i);   /* numbered in order, none skipped */
		assert_int_equal(res.remaining, 100000 - i);
	}
	/* Two leases were taken: Redis counted 2 x 1000, not 1500 round trips. */
	assert_int_equal(redis_count(r, ip, "/l"), 2000);
	del_key(r, ip, "/l");
	tt_redis_free(r);
}

static void
test_leases_never_allow_more_than_the_limit(void **state)
{
	(void)state;
	tt_redis *r = live_redis();
	tt_ratelimit_result res;
	char ip[64], err[128];
	int allowed = 0;

	if (r == NULL)
		no_redis();
	/* max 2500: leases of 25; another replica took 10 counts meanwhile. */
	snprintf(ip, sizeof(ip), "lease-max-%ld", (long)getpid());
	del_key(r, ip, "/m");
	for (int i = 0; i < 3000; i++) {
		if (i == 100) {
			char key[TT_RATELIMIT_KEY_MAX];
			tt_ratelimit_key(key, sizeof(key), ip, "/m");
			const char *incr[] = { "INCRBY", key, "10" };
			assert_int_equal(tt_redis_cmd(r, NULL, 3, incr, NULL, err, sizeof(err)), TT_OK);
		}
		assert_int_equal(tt_ratelimit_check(r, ip, "/m", 2500, 30, &res, err, sizeof(err)), TT_OK);
		allowed += res.allowed;
	}
	/* Every count <= 2500 was handed out once, 10 of them to the other replica. */
	assert_int_equal(allowed, 2490);
	del_key(r, ip, "/m");
	tt_redis_free(r);
}


int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_is_the_seed_format),
		cmocka_unit_test(test_key_bounds_and_empty_parts),
		cmocka_unit_test(test_zero_max_disables_without_redis),
		cmocka_unit_test(test_no_connection_fails_open_and_counts),
		cmocka_unit_test(test_unreachable_redis_fails_open),
		cmocka_unit_test(test_window_counts_then_refuses),
		cmocka_unit_test(test_large_limits_take_counts_in_leases),
		cmocka_unit_test(test_leases_never_allow_more_than_the_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
