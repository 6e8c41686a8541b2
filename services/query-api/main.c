/*
 * query-api - the REST API of the seed on PORT (3007).
 *
 * main() only wires: configuration, logging, the PostgreSQL pool, the
 * per-thread Redis connections, the JWT verifier, the HTTP server and the
 * route modules (routes_*.c), then waits for SIGTERM/SIGINT and stops
 * gracefully (in-flight requests finish, workers are joined). Dependencies
 * are connected lazily and reconnected on failure, so a server that is down
 * at start-up is not fatal: /health/ready says 503 until it is back.
 */
#include "qapi.h"
#include "lcache.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tt/log.h"
#include "tt/redis.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: query-api [--help] [--version]\n"
	    "\n"
	    "Serves the analytics REST API: /health, /health/live, /health/ready,\n"
	    "/health/dependencies, GET /metrics (Prometheus), POST /metrics,\n"
	    "POST /metrics/bulk, GET /analytics/realtime/summary, GET /analytics/dashboard,\n"
	    "GET /analytics/revenue/summary, GET /analytics/events/performance,\n"
	    "GET /analytics/events/:eventId/performance, POST /analytics/query,\n"
	    "GET /analytics/customers/segments, GET /customers/venue/:venueId/:customerId\n"
	    "and .../rfm. Every route but health and GET /metrics needs a Bearer JWT\n"
	    "(HS256, JWT_SECRET) and is rate-limited per client and path in Redis.\n"
	    "Analytics reads come from the aggregator's rollups, cached in Redis.\n"
	    "\n"
	    "Configuration is read from the environment; the main variables:\n"
	    "  PORT                3007\n"
	    "  HTTP_THREADS        32 (worker threads; one per open connection)\n"
	    "  HTTP_MAX_BODY       1048576 (bytes; 413 beyond)\n"
	    "  JWT_SECRET          required when NODE_ENV=production\n"
	    "  CACHE_SECRET        HMAC key of cached answers (required in production)\n"
	    "  LOCAL_CACHE_MB      64 (in-process copies of cached answers; 0 = off)\n"
	    "  RATE_LIMIT_MAX      100 requests per client and path per window (0 = off)\n"
	    "  RATE_LIMIT_WINDOW   60 seconds\n"
	    "  DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD DB_POOL_MAX   PostgreSQL\n"
	    "  REDIS_HOST REDIS_PORT REDIS_PASSWORD                      Redis\n"
	    "  RABBITMQ_URL        checked by /health/dependencies\n"
	    "  LOG_LEVEL NODE_ENV\n"
	    "\n"
	    "SIGTERM/SIGINT: stop accepting, finish the requests in flight, exit 0.\n");
}

int
main(int argc, char **argv)
{
	tt_config cfg;
	qapi_ctx ctx;
	tt_http_options o;
	tt_http_server *srv = NULL;
	tt_db *db = NULL;
	tt_auth *auth = NULL;
	sigset_t stop;
	char err[512];
	int sig = 0, rc = 1;

	if ((rc = tt_config_main(argc, argv, "query-api", QAPI_VERSION, usage, &cfg)) >= 0)
		return rc;
	rc = 1;

	/* Every thread started from here on inherits the mask; main sigwaits. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	if (tt_db_new(&db, &cfg, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "query-api: %s\n", err);
		goto out;
	}
	if (tt_auth_new(&auth, cfg.jwt_secret, TT_AUTH_LEEWAY_DEFAULT) != TT_OK) {
		fprintf(stderr, "query-api: JWT_SECRET: unusable (empty or longer than 1024 bytes)\n");
		goto out;
	}
	tt_redis_thread_setup(&cfg);
	lcache_start(&cfg);

	ctx.cfg = &cfg;
	ctx.db = db;
	ctx.auth = auth;
	tt_http_options_from_config(&o, "query-api", &cfg);
	o.auth = auth;
	if (tt_http_server_new(&srv, &o, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "query-api: %s\n", err);
		goto out;
	}
	if (routes_health_register(srv, &ctx) != TT_OK ||
	    routes_metrics_register(srv, &ctx) != TT_OK ||
	    routes_realtime_register(srv, &ctx) != TT_OK ||
	    routes_analytics_register(srv, &ctx) != TT_OK ||
	    routes_query_register(srv, &ctx) != TT_OK ||
	    routes_customers_register(srv, &ctx) != TT_OK) {
		fprintf(stderr, "query-api: route registration failed\n");
		goto out;
	}
	if (tt_http_server_start(srv, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "query-api: %s (is port %d in use?)\n", err, cfg.port);
		goto out;
	}
	tt_log(TT_LOG_INFO, "query-api started", "version", QAPI_VERSION, NULL);

	while (sigwait(&stop, &sig) != 0)
		;
	tt_log(TT_LOG_INFO, "shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
	tt_http_server_stop(srv);
	rc = 0;
out:
	tt_http_server_free(srv);
	lcache_stop();
	tt_auth_free(auth);
	tt_db_free(db);
	tt_redis_thread_cleanup();
	if (rc == 0)
		tt_log(TT_LOG_INFO, "query-api stopped", NULL);
	return rc;
}
