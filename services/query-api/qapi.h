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

#include "tt/auth.h"
#include "tt/config.h"
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
 * The venue the request acts on (tt_auth_resolve_venue): false with 403
 * FORBIDDEN or 400 VALIDATION_ERROR (field "venueId") already sent.
 */
bool qapi_resolve_venue(tt_http_req *req, const char *requested,
    char out[TT_AUTH_VENUE_MAX]);

#endif
