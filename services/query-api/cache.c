/*
 * cache.c - cache-aside for query-api's read endpoints (see qapi.h), over
 * libcommon's signed, versioned entries (tt/cache.h).
 *
 * A handler calls qapi_cache_get, computes the answer on a miss, then
 * qapi_cache_put, all on its civetweb worker thread. The venue's data
 * version seen by the get is what the put must store the answer under
 * (the answer was computed from data at least that new), so the get leaves
 * it in a per-thread slot with the key it belongs to and the put takes it
 * from there: the qapi.h signatures stay as the route modules use them. A
 * put with no get of the same key before it on the thread (among the last
 * PENDING_SLOTS misses) is not stored: it could not prove how old its data
 * is.
 *
 * A request with "Cache-Control: no-cache" wants an answer computed now
 * (RFC 9111 5.2.1.4: a stored response is not to be used without
 * validation): its get reads only the venue's data version, never the
 * entry, so the answer is computed from the rollups and its put refreshes
 * the entry. Such gets are not counted in cache_requests_total.
 *
 * In front of Redis sits the in-process copy of lcache.h (LOCAL_CACHE_MB):
 * a hit there costs no round trip; Redis' invalidation tracking keeps it
 * exact, and while tracking is down every get goes to Redis. A Redis hit
 * is copied there for the entry's remaining TTL.
 *
 * The HMAC key is CACHE_SECRET, read once from the environment (the same
 * tt_config_load main() ran). Redis is the per-thread connection. Redis
 * down: every get is a miss and every put a no-op; requests never fail
 * because of the cache.
 */
#include "qapi.h"
#include "lcache.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tt/cache.h"
#include "tt/log.h"
#include "tt/redis.h"
#include "tt/strparse.h"

static tt_config cache_cfg;
static bool cache_enabled;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

/*
 * The versions the last gets on this thread saw, with their keys: a few
 * slots so that a handler may look up another entry (nested) between its
 * own get and put. Oldest slot reused first.
 */
#define PENDING_SLOTS 4

static _Thread_local struct {
	char    key[TT_CACHE_KEY_MAX];
	int64_t version;
} pending[PENDING_SLOTS];
static _Thread_local unsigned pending_next;

static void
cache_init(void)
{
	char err[256];

	tt_cache_metrics_register();
	if (tt_config_load(&cache_cfg, err, sizeof(err)) != TT_OK) {
		tt_log(TT_LOG_ERROR, "cache disabled: configuration", "error", err, NULL);
		return;
	}
	if (strlen(cache_cfg.cache_secret) < TT_CACHE_SECRET_MIN) {
		tt_log(TT_LOG_ERROR, "cache disabled: CACHE_SECRET shorter than 16 characters", NULL);
		return;
	}
	cache_enabled = true;
}

/* Whether the request's Cache-Control names the no-cache directive. */
static bool
wants_fresh(const tt_http_req *req)
{
	const char *v = req != NULL ? tt_http_header(req, "Cache-Control") : NULL;

	for (size_t n = 0; v != NULL && *v != '\0'; v += n) {
		v += strspn(v, " \t,");
		n = strcspn(v, ",");
		size_t t = n;
		while (t > 0 && (v[t - 1] == ' ' || v[t - 1] == '\t'))
			t--;
		if (t == 8 && strncasecmp(v, "no-cache", 8) == 0)
			return true;
	}
	return false;
}

/*
 * GET of the venue's data version key vkey (missing = 0; -1 when Redis does
 * not answer), pipelined with the caller's command when xargc > 0.
 */
static int64_t
venue_version(const char *vkey, int xargc, const char **xargv, redisReply **xreply)
{
	const char *argv[2] = { "GET", vkey };
	const char **argvs[2] = { argv, xargv };
	int argcs[2] = { 2, xargc };
	redisReply *rep[2] = { NULL, NULL };
	int64_t v = -1;

	if (tt_redis_pipeline(tt_redis_thread(), xargc > 0 ? 2 : 1, argcs, argvs, NULL, rep,
	    NULL, 0) != TT_OK)
		return -1;
	if (xargc > 0)
		*xreply = rep[1];
	if (rep[0]->type == REDIS_REPLY_NIL)
		v = 0;
	else if (rep[0]->type == REDIS_REPLY_STRING &&
	    tt_parse_i64(rep[0]->str, rep[0]->len, 0, INT64_MAX, &v) != TT_OK)
		v = -1;
	freeReplyObject(rep[0]);
	return v;
}

/* Copies a Redis hit in-process for the rest of its TTL (one PTTL round trip, once per fill). */
static void
local_fill(const char *key, const char *vkey, const char *json, size_t len, const lcache_token *tok)
{
	const char *argv[2] = { "PTTL", key };
	redisReply *rep = NULL;

	if (tt_redis_cmd(tt_redis_thread(), &rep, 2, argv, NULL, NULL, 0) != TT_OK)
		return;
	if (rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
		lcache_put(key, vkey, json, len, rep->integer, tok);
	freeReplyObject(rep);
}

char *
qapi_cache_get_with(const tt_http_req *req, const char *type, const char *venue,
    const char *ident, int xargc, const char **xargv, redisReply **xreply)
{
	char key[TT_CACHE_KEY_MAX], vkey[TT_CACHE_KEY_MAX], *json = NULL;
	int64_t version = -1;

	pthread_once(&cache_once, cache_init);
	if (xreply == NULL)
		xargc = 0;
	else
		*xreply = NULL;
	if (!cache_enabled || tt_cache_key(key, sizeof(key), type, venue, ident) != TT_OK ||
	    tt_cache_version_key(vkey, sizeof(vkey), venue) != TT_OK) {
		if (xargc > 0)
			(void)tt_redis_cmd(tt_redis_thread(), xreply, xargc, xargv, NULL, NULL, 0);
		return NULL;
	}
	if (wants_fresh(req)) {
		version = venue_version(vkey, xargc, xargv, xreply);
	} else {
		lcache_token tok;
		if ((json = lcache_lookup(key, vkey, &tok)) != NULL) {
			tt_cache_count(TT_CACHE_HIT);
			if (xargc > 0)
				(void)tt_redis_cmd(tt_redis_thread(), xreply, xargc, xargv, NULL, NULL, 0);
			return json;
		}
		size_t len = 0;
		tt_cache_result r = tt_cache_get_with(tt_redis_thread(), cache_cfg.cache_secret,
		    strlen(cache_cfg.cache_secret), type, venue, ident, &json, &len, &version,
		    xargc, xargv, xreply);
		if (r == TT_CACHE_HIT) {
			if (tok.ok)
				local_fill(key, vkey, json, len, &tok);
			return json;
		}
	}
	if (version < 0)
		return NULL;   /* Redis did not answer: nothing to put later */
	for (unsigned i = 0; i < PENDING_SLOTS; i++)   /* a get that never put: forget it */
		if (strcmp(pending[i].key, key) == 0)
			pending[i].key[0] = '\0';
	unsigned i = pending_next++ % PENDING_SLOTS;
	memcpy(pending[i].key, key, sizeof(key));
	pending[i].version = version;
	return NULL;
}

/* The longest a counters copy lives, should an invalidation ever be missed silently. */
#define COUNTERS_COPY_MS 60000
/* The longest a copy of PostgreSQL's counters lives (the hash absent from Redis). */
#define COUNTERS_DB_COPY_MS 1000

bool
qapi_counters_local(const char *ckey, tt_counters *c, lcache_token *tok)
{
	char *copy = lcache_lookup(ckey, ckey, tok);   /* the struct's bytes, as kept below */

	if (copy == NULL)
		return false;
	memcpy(c, copy, sizeof(*c));
	free(copy);
	return true;
}

void
qapi_counters_keep(const char *ckey, const tt_counters *c, const lcache_token *tok,
    bool from_redis)
{
	lcache_put(ckey, ckey, (const char *)c, sizeof(*c),
	    from_redis ? COUNTERS_COPY_MS : COUNTERS_DB_COPY_MS, tok);
}

char *
qapi_cache_get(const tt_http_req *req, const char *type, const char *venue, const char *ident)
{
	return qapi_cache_get_with(req, type, venue, ident, 0, NULL, NULL);
}

void
qapi_cache_put(const char *type, const char *venue, const char *ident,
    const char *json, int ttl_s)
{
	char key[TT_CACHE_KEY_MAX];

	pthread_once(&cache_once, cache_init);
	if (!cache_enabled || json == NULL ||
	    tt_cache_key(key, sizeof(key), type, venue, ident) != TT_OK)
		return;
	for (unsigned i = 0; i < PENDING_SLOTS; i++) {
		if (pending[i].key[0] == '\0' || strcmp(key, pending[i].key) != 0)
			continue;
		pending[i].key[0] = '\0';   /* one put per get */
		if (tt_cache_put(tt_redis_thread(), cache_cfg.cache_secret,
		    strlen(cache_cfg.cache_secret), type, venue, ident, pending[i].version, json,
		    strlen(json), ttl_s) == TT_OK)
			lcache_drop(key);   /* other replicas hear of the SET from Redis */
		return;
	}
}
