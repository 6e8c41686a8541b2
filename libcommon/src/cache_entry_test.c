/*
 * cache_entry_test.c - the pure half of tt/cache.h: key rules, the signed
 * entry encoding (any flipped byte is refused), and the "Redis down" paths
 * (a miss, never a failure). cache_test.c covers get/put on a live Redis.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt/cache.h"
#include "tt/metrics.h"
#include "tt/strparse.h"

static const char SECRET[] = "unit-test-cache-secret-0123456789abcdef";
#define SLEN (sizeof(SECRET) - 1)

static void
test_keys_are_the_seed_family(void **state)
{
	(void)state;
	char k[TT_CACHE_KEY_MAX];

	assert_int_equal(tt_cache_key(k, sizeof(k), "dashboard", "v-1", "period=7d"), TT_OK);
	assert_string_equal(k, "analytics:dashboard:v-1:period=7d");
	assert_int_equal(tt_cache_key(k, sizeof(k), "customer", "v-1", "c:1"), TT_OK);
	assert_string_equal(k, "analytics:customer:v-1:c:1");
	assert_int_equal(tt_cache_version_key(k, sizeof(k), "v-1"), TT_OK);
	assert_string_equal(k, "cache:version:v-1");
}

static void
test_keys_escape_colons_in_venue_and_type_and_bound_length(void **state)
{
	(void)state;
	char k[40], k2[40];

	/* "a:b" + "c" must not share a key with "a" + "b:c": a cross-venue read. */
	assert_int_equal(tt_cache_key(k, sizeof(k), "dashboard", "a:b", "c"), TT_OK);
	assert_int_equal(tt_cache_key(k2, sizeof(k2), "dashboard", "a", "b:c"), TT_OK);
	assert_string_equal(k, "analytics:dashboard:a%3Ab:c");
	assert_string_equal(k2, "analytics:dashboard:a:b:c");
	assert_int_equal(tt_cache_key(k, sizeof(k), "dashboard", "a%3Ab", "c"), TT_OK);
	assert_string_equal(k, "analytics:dashboard:a%253Ab:c");
	assert_int_equal(tt_cache_key(k, sizeof(k), "d:x", "a", ""), TT_OK);
	assert_string_equal(k, "analytics:d%3Ax:a:");
	assert_int_equal(tt_cache_version_key(k, sizeof(k), "x:y"), TT_OK);
	assert_string_equal(k, "cache:version:x%3Ay");

	assert_int_equal(tt_cache_key(k, sizeof(k), "dashboard", "", "c"), TT_EINVAL);
	assert_string_equal(k, "");
	assert_int_equal(tt_cache_key(k, sizeof(k), NULL, "a", "c"), TT_EINVAL);
	assert_int_equal(tt_cache_key(k, sizeof(k), "", "a", "c"), TT_EINVAL);
	assert_int_equal(tt_cache_version_key(k, sizeof(k), NULL), TT_EINVAL);
	assert_int_equal(tt_cache_key(k, sizeof(k), "dashboard", "venue", "a-rather-long-ident"),
	    TT_ETOOBIG);
	assert_string_equal(k, "");
	/* Exactly fitting: 10 + 10 + 5 + 1 + 13 = 39 bytes and the NUL. */
	assert_int_equal(tt_cache_key(k, sizeof(k), "dashboard", "venue", "abcdefghijklm"), TT_OK);
	assert_int_equal(strlen(k), 39);
}

static char *
encode(const char *key, int64_t version, const char *json, size_t *len)
{
	char *v = NULL;
	assert_int_equal(tt_cache_entry_encode(SECRET, SLEN, key, version, json, strlen(json),
	    &v, len), TT_OK);
	return v;
}

static void
test_entry_round_trips(void **state)
{
	(void)state;
	const char *key = "analytics:dashboard:v1:7d", *json = "{\"a\":1,\"s\":\"x|y\"}";
	size_t len, off, n;
	int64_t ver = -1;
	char *v = encode(key, 42, json, &len);

	assert_int_equal(len, strlen(v));
	assert_memory_equal(v, "42|", 3);
	assert_string_equal(v + 3 + 64 + 1, json);
	assert_int_equal(tt_cache_entry_verify(SECRET, SLEN, key, v, len, &ver, &off, &n), TT_OK);
	assert_int_equal(ver, 42);
	assert_int_equal(n, strlen(json));
	assert_memory_equal(v + off, json, n);
	free(v);

	/* The empty JSON text and version 0 are valid too. */
	v = encode(key, 0, "", &len);
	assert_int_equal(tt_cache_entry_verify(SECRET, SLEN, key, v, len, &ver, &off, &n), TT_OK);
	assert_int_equal(ver, 0);
	assert_int_equal(n, 0);
	free(v);
}

static void
test_entry_rejects_any_flipped_byte(void **state)
{
	(void)state;
	const char *key = "analytics:dashboard:v1:7d";
	size_t len;
	int64_t ver = 99;
	char *v = encode(key, 17, "{\"totalRevenue\":\"10.00\"}", &len);

	for (size_t i = 0; i < len; i++) {
		char *t = malloc(len);
		memcpy(t, v, len);
		t[i] ^= 0x01;
		tt_err e = tt_cache_entry_verify(SECRET, SLEN, key, t, len, &ver, NULL, NULL);
		assert_true(e == TT_EAUTH || e == TT_EPARSE);
		assert_int_equal(ver, 99);   /* outputs untouched on failure */
		free(t);
	}
	/* The same value under another key, or another secret, is refused. */
	assert_int_equal(tt_cache_entry_verify(SECRET, SLEN, "analytics:dashboard:v2:7d", v, len,
	    NULL, NULL, NULL), TT_EAUTH);
	assert_int_equal(tt_cache_entry_verify("other-secret", 12, key, v, len, NULL, NULL, NULL),
	    TT_EAUTH);
	/* Truncated anywhere: never accepted. */
	for (size_t i = 0; i < len; i++)
		assert_int_not_equal(tt_cache_entry_verify(SECRET, SLEN, key, v, i, NULL, NULL, NULL),
		    TT_OK);
	free(v);
}

static void
test_entry_rejects_a_re_versioned_value(void **state)
{
	(void)state;
	const char *key = "analytics:dashboard:v1:7d";
	size_t len;
	char *v = encode(key, 7, "{}", &len);
	char forged[256];

	/* Claiming the current version without the secret: the MAC covers it. */
	int n = snprintf(forged, sizeof(forged), "8%s", v + 1);
	assert_int_equal(tt_cache_entry_verify(SECRET, SLEN, key, forged, (size_t)n, NULL, NULL,
	    NULL), TT_EAUTH);
	assert_int_equal(tt_cache_entry_verify(SECRET, SLEN, key, "x|y", 3, NULL, NULL, NULL),
	    TT_EPARSE);
	assert_int_equal(tt_cache_entry_verify(SECRET, SLEN, key, "", 0, NULL, NULL, NULL),
	    TT_EPARSE);
	assert_int_equal(tt_cache_entry_verify(SECRET, SLEN, key, "-1|", 3, NULL, NULL, NULL),
	    TT_EPARSE);
	free(v);
}

static double
requests(const char *result)
{
	char labels[64];
	snprintf(labels, sizeof(labels), "result=\"%s\"", result);
	return tt_metric_value(tt_metrics_counter(tt_metrics_default(), "cache_requests_total",
	    NULL, labels));
}

static void
test_no_connection_is_an_error_and_counted(void **state)
{
	(void)state;
	char *json = (char *)1;
	int64_t ver = 5;
	double before = requests("error");

	assert_int_equal(tt_cache_get(NULL, SECRET, SLEN, "dashboard", "v", "i", &json, NULL, &ver),
	    TT_CACHE_ERROR);
	assert_null(json);
	assert_int_equal(ver, -1);
	assert_true(requests("error") == before + 1);
	assert_int_not_equal(tt_cache_put(NULL, SECRET, SLEN, "dashboard", "v", "i", 0, "{}", 2, 5),
	    TT_OK);
}

static void
test_unreachable_redis_is_a_miss_not_a_failure(void **state)
{
	(void)state;
	tt_redis *r;
	char *json = NULL;
	int64_t ver = 0;

	/* Port 1 on loopback: connection refused at once. */
	assert_int_equal(tt_redis_new(&r, "127.0.0.1", 1, NULL, 200), TT_OK);
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", "v", "i", &json, NULL, &ver),
	    TT_CACHE_ERROR);
	assert_null(json);
	assert_int_equal(ver, -1);
	assert_int_not_equal(tt_cache_put(r, SECRET, SLEN, "dashboard", "v", "i", 0, "{}", 2, 5),
	    TT_OK);
	const char *venues[] = { "v" };
	assert_int_not_equal(tt_cache_bump_venues(r, venues, 1, NULL, 0), TT_OK);
	tt_redis_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_are_the_seed_family),
		cmocka_unit_test(test_keys_escape_colons_in_venue_and_type_and_bound_length),
		cmocka_unit_test(test_entry_round_trips),
		cmocka_unit_test(test_entry_rejects_any_flipped_byte),
		cmocka_unit_test(test_entry_rejects_a_re_versioned_value),
		cmocka_unit_test(test_no_connection_is_an_error_and_counted),
		cmocka_unit_test(test_unreachable_redis_is_a_miss_not_a_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
