/*
 * lcache.h - query-api's in-process copy of cache entries, kept exact by
 * Redis client-side caching (see lcache.c and docs/cache.md).
 *
 * An entry found in Redis (verified, current version) is copied here with
 * the entry's remaining TTL; the next gets of the same key are answered
 * without a Redis round trip, until the TTL ends or Redis says the venue's
 * version key changed (CLIENT TRACKING, broadcast mode, prefix
 * cache:version:) or the entry itself changed (prefix analytics:),
 * whichever comes first. While the tracking connection is
 * down or not yet set up, nothing is served from here.
 *
 * Use: lcache_lookup first (it takes a token, BEFORE Redis is read), then on
 * a miss read Redis and hand the token to lcache_put with what was read: an
 * invalidation that arrived in between makes the put a no-op, so a copy is
 * never older than Redis' answer.
 */
#ifndef QAPI_LCACHE_H
#define QAPI_LCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/config.h"

typedef struct {
	uint64_t epoch, gen, kseq;
	bool     ok;         /* tracking was up when the token was taken */
} lcache_token;

/*
 * Starts the tracking thread when cfg->local_cache_mb > 0 (otherwise every
 * call below is a no-op / miss). lcache_stop joins it and frees every copy.
 */
void lcache_start(const tt_config *cfg);
void lcache_stop(void);

/*
 * A malloc'd NUL-terminated copy of key's answer (free it), or NULL. Either
 * way *t is the token to hand to lcache_put after reading key from Redis
 * (t->ok false: tracking is down, nothing is served or stored).
 */
char *lcache_lookup(const char *key, const char *vkey, lcache_token *t);

/*
 * Keeps json for ttl_ms under key, if neither vkey nor key (nor a key of
 * its hash bucket) was reported changed since t.
 */
void lcache_put(const char *key, const char *vkey, const char *json, size_t len,
    int64_t ttl_ms, const lcache_token *t);

/* Drops the copy of key (this process just stored a new answer under it). */
void lcache_drop(const char *key);

#endif
