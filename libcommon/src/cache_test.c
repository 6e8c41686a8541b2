/*
 * cache_test.c - versioned, signed get/put against a real Redis on
 * REDIS_HOST:REDIS_PORT (127.0.0.1:6379): round trip and TTL, a version bump
 * makes an entry stale (and an answer computed before it is not stored), a
 * tampered entry is a miss and deleted, a caller's command rides in the
 * lookup's round trip. Skipped without a Redis, failed
 * under TT_REQUIRE_SERVERS. The pure half is cache_entry_test.c.
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

#include "tt/cache.h"
#include "tt/metrics.h"
#include "tt/strparse.h"

static const char SECRET[] = "unit-test-cache-secret-0123456789abcdef";
#define SLEN (sizeof(SECRET) - 1)

static double
requests(const char *result)
{
	char labels[64];
	snprintf(labels, sizeof(labels), "result=\"%s\"", result);
	return tt_metric_value(tt_metrics_counter(tt_metrics_default(), "cache_requests_total",
	    NULL, labels));
}



static void
cmd(tt_redis *r, int argc, const char **argv, redisReply **rep)
{
	char err[128];
	assert_int_equal(tt_redis_cmd(r, rep, argc, argv, NULL, err, sizeof(err)), TT_OK);
}

static void
del_keys(tt_redis *r, const char *venue)
{
	char k[TT_CACHE_KEY_MAX], vk[TT_CACHE_KEY_MAX];
	tt_cache_key(k, sizeof(k), "dashboard", venue, "7d");
	tt_cache_version_key(vk, sizeof(vk), venue);
	const char *del[] = { "DEL", k, vk };
	cmd(r, 3, del, NULL);
}

static void
test_live_put_then_get_round_trips_with_ttl(void **state)
{
	(void)state;
	tt_redis *r = live_redis();
	char venue[64], k[TT_CACHE_KEY_MAX], *json = NULL;
	int64_t ver = -1;
	size_t n = 0;
	redisReply *rep;

	if (r == NULL)
		no_redis();
	snprintf(venue, sizeof(venue), "unit-rt-%ld", (long)getpid());
	del_keys(r, venue);
	double hits = requests("hit"), misses = requests("miss");

	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, &n, &ver),
	    TT_CACHE_MISS);
	assert_null(json);
	assert_int_equal(ver, 0);   /* no version key yet */
	assert_int_equal(tt_cache_put(r, SECRET, SLEN, "dashboard", venue, "7d", ver,
	    "{\"x\":1}", 7, 120), TT_OK);
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, &n, &ver),
	    TT_CACHE_HIT);
	assert_string_equal(json, "{\"x\":1}");
	assert_int_equal(n, 7);
	assert_int_equal(ver, 0);
	free(json);
	assert_true(requests("hit") == hits + 1);
	assert_true(requests("miss") == misses + 1);

	tt_cache_key(k, sizeof(k), "dashboard", venue, "7d");
	const char *ttl[] = { "TTL", k };
	cmd(r, 2, ttl, &rep);
	assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
	assert_in_range(rep->integer, 110, 120);
	freeReplyObject(rep);
	del_keys(r, venue);
	tt_redis_free(r);
}

static void
test_live_version_bump_makes_the_entry_stale(void **state)
{
	(void)state;
	tt_redis *r = live_redis();
	char venue[64], *json = NULL;
	const char *venues[1];
	int64_t ver = -1, v0;

	if (r == NULL)
		no_redis();
	snprintf(venue, sizeof(venue), "unit-stale-%ld", (long)getpid());
	del_keys(r, venue);
	venues[0] = venue;
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL, &v0),
	    TT_CACHE_MISS);
	assert_int_equal(tt_cache_put(r, SECRET, SLEN, "dashboard", venue, "7d", v0, "{\"old\":1}",
	    9, 60), TT_OK);

	/* New data lands: the aggregator bumps the venue's version. */
	double stale = requests("stale");
	assert_int_equal(tt_cache_bump_venues(r, venues, 1, NULL, 0), TT_OK);
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL, &ver),
	    TT_CACHE_STALE);
	assert_null(json);
	assert_int_equal(ver, v0 + 1);
	assert_true(requests("stale") == stale + 1);

	/* An answer computed before the bump is not stored as current. */
	assert_int_equal(tt_cache_put(r, SECRET, SLEN, "dashboard", venue, "7d", v0, "{\"old\":1}",
	    9, 60), TT_EBUSY);
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL, &ver),
	    TT_CACHE_MISS);
	assert_int_equal(tt_cache_put(r, SECRET, SLEN, "dashboard", venue, "7d", ver, "{\"new\":1}",
	    9, 60), TT_OK);
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL, &ver),
	    TT_CACHE_HIT);
	assert_string_equal(json, "{\"new\":1}");
	free(json);
	del_keys(r, venue);
	tt_redis_free(r);
}

static void
test_live_tampered_entry_is_a_miss_and_deleted(void **state)
{
	(void)state;
	tt_redis *r = live_redis();
	char venue[64], k[TT_CACHE_KEY_MAX], *json = NULL;
	int64_t ver = -1;
	redisReply *rep;

	if (r == NULL)
		no_redis();
	snprintf(venue, sizeof(venue), "unit-tamper-%ld", (long)getpid());
	del_keys(r, venue);
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL, &ver),
	    TT_CACHE_MISS);
	assert_int_equal(tt_cache_put(r, SECRET, SLEN, "dashboard", venue, "7d", ver,
	    "{\"totalRevenue\":\"10.00\"}", 24, 60), TT_OK);

	/* Rewrite the JSON in Redis, keeping version and MAC. */
	tt_cache_key(k, sizeof(k), "dashboard", venue, "7d");
	const char *get[] = { "GET", k };
	cmd(r, 2, get, &rep);
	assert_int_equal(rep->type, REDIS_REPLY_STRING);
	char *forged = strdup(rep->str);
	freeReplyObject(rep);
	char *p = strstr(forged, "10.00");
	assert_non_null(p);
	p[0] = '9';
	const char *set[] = { "SET", k, forged, "EX", "60" };
	cmd(r, 5, set, NULL);
	free(forged);

	double tampered = requests("tampered");
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL, &ver),
	    TT_CACHE_TAMPERED);
	assert_null(json);
	assert_int_equal(ver, 0);   /* still usable for the recomputed answer's put */
	assert_true(requests("tampered") == tampered + 1);
	const char *exists[] = { "EXISTS", k };
	cmd(r, 2, exists, &rep);
	assert_int_equal(rep->integer, 0);
	freeReplyObject(rep);

	/* Signed with another secret: refused the same way. */
	assert_int_equal(tt_cache_put(r, "another-secret", 14, "dashboard", venue, "7d", ver,
	    "{}", 2, 60), TT_OK);
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL, &ver),
	    TT_CACHE_TAMPERED);
	del_keys(r, venue);
	tt_redis_free(r);
}

/* The caller's command rides in the lookup's round trip, hit or miss. */
static void
test_live_get_with_returns_the_extra_reply(void **state)
{
	(void)state;
	tt_redis *r = live_redis();
	char venue[64], hkey[96], *json = NULL;
	int64_t ver = -1;
	redisReply *x = NULL;

	if (r == NULL)
		no_redis();
	snprintf(venue, sizeof(venue), "unit-with-%ld", (long)getpid());
	snprintf(hkey, sizeof(hkey), "unit-with-hash-%ld", (long)getpid());
	del_keys(r, venue);
	const char *hset[] = { "HSET", hkey, "sales", "7" };
	cmd(r, 4, hset, NULL);
	const char *hmget[] = { "HMGET", hkey, "sales", "traffic" };

	assert_int_equal(tt_cache_get_with(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL,
	    &ver, 4, hmget, &x), TT_CACHE_MISS);
	assert_null(json);
	assert_int_equal(ver, 0);
	assert_non_null(x);
	assert_int_equal(x->type, REDIS_REPLY_ARRAY);
	assert_int_equal(x->elements, 2);
	assert_string_equal(x->element[0]->str, "7");
	assert_int_equal(x->element[1]->type, REDIS_REPLY_NIL);
	freeReplyObject(x);

	assert_int_equal(tt_cache_put(r, SECRET, SLEN, "dashboard", venue, "7d", ver, "{\"a\":1}", 7,
	    60), TT_OK);
	assert_int_equal(tt_cache_get_with(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL,
	    &ver, 4, hmget, &x), TT_CACHE_HIT);
	assert_string_equal(json, "{\"a\":1}");
	free(json);
	assert_non_null(x);
	assert_string_equal(x->element[0]->str, "7");
	freeReplyObject(x);

	/* An error reply to the caller's command: no reply, counted as an error. */
	const char *bad[] = { "GET", hkey };   /* WRONGTYPE: a hash */
	assert_int_equal(tt_cache_get_with(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL,
	    &ver, 2, bad, &x), TT_CACHE_ERROR);
	assert_null(x);
	assert_null(json);
	assert_int_equal(ver, -1);
	/* The connection is still in step: the next lookup is a hit. */
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL, &ver),
	    TT_CACHE_HIT);
	free(json);

	const char *del[] = { "DEL", hkey };
	cmd(r, 2, del, NULL);
	del_keys(r, venue);
	tt_redis_free(r);
}

static void
test_live_scripts_reload_after_script_flush(void **state)
{
	(void)state;
	tt_redis *r = live_redis();
	char venue[64], *json = NULL;
	int64_t ver = -1;

	if (r == NULL)
		no_redis();
	snprintf(venue, sizeof(venue), "unit-noscript-%ld", (long)getpid());
	del_keys(r, venue);
	/* A restarted Redis has no scripts: EVALSHA says NOSCRIPT, EVAL follows. */
	const char *flush[] = { "SCRIPT", "FLUSH" };
	cmd(r, 2, flush, NULL);
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL, &ver),
	    TT_CACHE_MISS);
	cmd(r, 2, flush, NULL);
	assert_int_equal(tt_cache_put(r, SECRET, SLEN, "dashboard", venue, "7d", ver, "[1]", 3, 30),
	    TT_OK);
	assert_int_equal(tt_cache_get(r, SECRET, SLEN, "dashboard", venue, "7d", &json, NULL, &ver),
	    TT_CACHE_HIT);
	assert_string_equal(json, "[1]");
	free(json);
	del_keys(r, venue);
	tt_redis_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_put_then_get_round_trips_with_ttl),
		cmocka_unit_test(test_live_version_bump_makes_the_entry_stale),
		cmocka_unit_test(test_live_tampered_entry_is_a_miss_and_deleted),
		cmocka_unit_test(test_live_scripts_reload_after_script_flush),
		cmocka_unit_test(test_live_get_with_returns_the_extra_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
