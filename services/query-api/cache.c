/*
 * cache.c - cache-aside for query-api's read endpoints (see qapi.h).
 *
 * Not written yet: every lookup is a miss and nothing is stored, so the
 * endpoints compute each answer from the rollups. The Redis implementation
 * (seed TTLs, HMAC-protected entries, per-venue invalidation) replaces
 * these two functions without changing their callers.
 */
#include "qapi.h"

char *
qapi_cache_get(const char *type, const char *venue, const char *ident)
{
	(void)type;
	(void)venue;
	(void)ident;
	return NULL;
}

void
qapi_cache_put(const char *type, const char *venue, const char *ident,
    const char *json, int ttl_s)
{
	(void)type;
	(void)venue;
	(void)ident;
	(void)json;
	(void)ttl_s;
}
