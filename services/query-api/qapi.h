/*
 * qapi.h - what the query-api modules share.
 *
 * main.c builds one qapi_ctx (configuration, the PostgreSQL pool, the JWT
 * verifier) and hands it to each routes_*.c module, which registers its
 * routes on the tt_http server. Redis is reached through the per-thread
 * connection (tt_redis_thread()), one per civetweb worker. Handlers run on
 * many workers at once; the context is read-only after start-up.
 */
#ifndef QAPI_H
#define QAPI_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "lcache.h"
#include "tt/auth.h"
#include "tt/config.h"
#include "tt/counters.h"
#include "tt/db.h"
#include "tt/http.h"

#define QAPI_VERSION "0.1.0"
#define QAPI_DB_WAIT_MS 2000   /* longest wait for a pooled connection */

/* Permissions the seed's authorize() middleware checks. */
#define QAPI_PERM_READ  "analytics.read"
#define QAPI_PERM_WRITE "analytics.write"

typedef struct {
	const tt_config *cfg;
	tt_db           *db;
	const tt_auth   *auth;
} qapi_ctx;

/* Route modules: each registers its routes; TT_OK or the tt_http_route error. */
tt_err routes_health_register(tt_http_server *srv, qapi_ctx *ctx);
tt_err routes_metrics_register(tt_http_server *srv, qapi_ctx *ctx);
tt_err routes_realtime_register(tt_http_server *srv, qapi_ctx *ctx);
tt_err routes_analytics_register(tt_http_server *srv, qapi_ctx *ctx);  /* dashboard, revenue, events */
tt_err routes_query_register(tt_http_server *srv, qapi_ctx *ctx);      /* POST /analytics/query */
tt_err routes_customers_register(tt_http_server *srv, qapi_ctx *ctx);  /* segments, profile, RFM */

/*
 * Cache-aside for read endpoints (cache.c). Entries are the `data` JSON of
 * a response, keyed by type, venue and an identifier built from the
 * normalised query; TTLs are the seed's (seconds). get returns a heap copy
 * (free it) or NULL on a miss; put is best effort. Both are safe to call
 * when Redis is down (a miss, a no-op).
 *
 * Call put on the same thread after the get of the same key that missed,
 * as cache-aside does: the put stores the answer under the venue's data
 * version that get saw, and only if no new data landed since (a put with
 * no such get is not stored). get misses whenever req carries
 * "Cache-Control: no-cache" (req may be NULL), so that the answer is
 * computed and its put refreshes the entry. docs/cache.md has the design.
 */
#define QAPI_TTL_REAL_TIME        5
#define QAPI_TTL_METRICS          60
#define QAPI_TTL_INSIGHTS         300
#define QAPI_TTL_CUSTOMER_PROFILE 3600
#define QAPI_TTL_DASHBOARD        120
char *qapi_cache_get(const tt_http_req *req, const char *type, const char *venue,
    const char *ident);
/*
 * qapi_cache_get, with one more Redis command of the caller's, xargv[0..
 * xargc), sent in the same round trip: *xreply is its reply
 * (freeReplyObject it), NULL when Redis did not answer.
 */
char *qapi_cache_get_with(const tt_http_req *req, const char *type, const char *venue,
    const char *ident, int xargc, const char **xargv, redisReply **xreply);

/*
 * Today's counters from the in-process copy of their Redis hash ckey
 * (lcache.h; exact through invalidation tracking, prefix counter:): true
 * with *c filled. Otherwise false, and *tok is what qapi_counters_keep needs
 * once the hash has been read from Redis (taken before that read).
 */
bool qapi_counters_local(const char *ckey, tt_counters *c, lcache_token *tok);

/*
 * Keeps *c as the copy of ckey. from_redis: read from the hash (kept up to
 * 60 s); else Redis answered that the hash does not exist and *c came from
 * PostgreSQL (a venue without an event today, or a copy Redis lost): kept
 * 1 s, since a PostgreSQL change that never reaches Redis would not end it.
 * Either copy ends as soon as ckey is written in Redis.
 */
void qapi_counters_keep(const char *ckey, const tt_counters *c, const lcache_token *tok,
    bool from_redis);
void qapi_cache_put(const char *type, const char *venue, const char *ident,
    const char *json, int ttl_s);

/*
 * common.c - answers shared by the handlers.
 *
 * qapi_fail: a dependency failed. TT_ECONN/TT_ETIMEDOUT/TT_EREDIS become 503
 * SERVICE_UNAVAILABLE, anything else 500 INTERNAL_ERROR; either way the
 * detail goes to the log with the request id, never to the client.
 */
void qapi_fail(tt_http_req *req, tt_err e, const char *what, const char *detail);

/* False (and 403 FORBIDDEN sent) when the token lacks perm. */
bool qapi_require_permission(tt_http_req *req, const char *perm);

/*
 * The venue of a read: the optional ?venueId= query parameter checked for
 * its characters (400 naming venueId otherwise) and resolved against the
 * token (qapi_resolve_venue). False when the request is already answered.
 */
bool qapi_venue_param(tt_http_req *req, char out[TT_AUTH_VENUE_MAX]);

/*
 * The venue the request acts on (tt_auth_resolve_venue): false with 403
 * FORBIDDEN or 400 VALIDATION_ERROR (field "venueId") already sent.
 */
bool qapi_resolve_venue(tt_http_req *req, const char *requested,
    char out[TT_AUTH_VENUE_MAX]);

#endif
