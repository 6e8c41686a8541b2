/*
 * test_live.h - what the cmocka suites that talk to a real server share
 * (listed in TT_LIVE_TESTS in libcommon/CMakeLists.txt, label "live").
 * Include after <cmocka.h>. Header-only: every suite is one executable.
 */
#ifndef TT_TEST_LIVE_H
#define TT_TEST_LIVE_H

#include <stdlib.h>
#include <string.h>

#include "tt/redis.h"
#include "tt/strparse.h"

/* A connected Redis from REDIS_HOST/REDIS_PORT/REDIS_PASSWORD, or NULL. */
static inline tt_redis *
live_redis(void)
{
	const char *host = getenv("REDIS_HOST");
	const char *port = getenv("REDIS_PORT");
	int64_t p = 6379;
	tt_redis *r = NULL;

	if (port != NULL && tt_parse_i64(port, strlen(port), 1, 65535, &p) != TT_OK)
		p = 6379;
	if (tt_redis_new(&r, host ? host : "127.0.0.1", (int)p, getenv("REDIS_PASSWORD"), 500) != TT_OK)
		return NULL;
	if (tt_redis_ping(r, NULL, NULL, 0) != TT_OK) {
		tt_redis_free(r);
		return NULL;
	}
	return r;
}

/* Skips without a Redis, unless the caller promised one (tools/tt test). */
static inline void
no_redis(void)
{
	if (getenv("TT_REQUIRE_SERVERS") != NULL)
		fail_msg("no Redis at REDIS_HOST:REDIS_PORT although TT_REQUIRE_SERVERS is set");
	skip();
}

#endif
