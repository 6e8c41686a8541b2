/*
 * health.c - ingest's /health*, /metrics on HEALTH_PORT (the shared HTTP
 * layer, no auth: probes and Prometheus only).
 *
 * Ready means "able to take work": consuming from RabbitMQ and PostgreSQL
 * answering. Redis is reported but does not gate readiness: the counters
 * there are a copy that the reconcile repairs.
 */
#include "ingest.h"

#include <stdio.h>
#include <string.h>

#include "tt/http.h"
#include "tt/log.h"

static void
on_health(tt_http_req *req, void *udata)
{
	(void)udata;
	tt_http_respond_data(req, 200, "{\"status\":\"ok\"}");
}

static void
on_live(tt_http_req *req, void *udata)
{
	(void)udata;
	tt_http_respond_data(req, 200, "{\"status\":\"alive\"}");
}

static void
on_ready(tt_http_req *req, void *udata)
{
	ingest_ctx *ctx = udata;
	char err[256], body[256];
	bool db = tt_db_ping(ctx->db, NULL, err, sizeof(err)) == TT_OK;
	tt_redis *r = tt_redis_thread();
	bool redis = r != NULL && tt_redis_ping(r, NULL, err, sizeof(err)) == TT_OK;
	bool amqp = ctx->amqp_up != 0;
	bool ready = db && amqp;

	snprintf(body, sizeof(body),
	    "{\"success\":%s,\"data\":{\"status\":\"%s\",\"services\":{"
	    "\"database\":\"%s\",\"redis\":\"%s\",\"rabbitmq\":\"%s\"}}}",
	    ready ? "true" : "false", ready ? "ready" : "not_ready",
	    db ? "ok" : "error", redis ? "ok" : "error", amqp ? "ok" : "error");
	tt_http_respond(req, ready ? 200 : 503, NULL, body, strlen(body));
}

static void
on_dependencies(tt_http_req *req, void *udata)
{
	ingest_ctx *ctx = udata;
	char err[256], body[512];
	double pg_ms = 0, redis_ms = 0;
	bool db = tt_db_ping(ctx->db, &pg_ms, err, sizeof(err)) == TT_OK;
	tt_redis *r = tt_redis_thread();
	bool redis = r != NULL && tt_redis_ping(r, &redis_ms, err, sizeof(err)) == TT_OK;

	snprintf(body, sizeof(body),
	    "{\"postgres\":{\"status\":\"%s\",\"latency\":%.2f},"
	    "\"redis\":{\"status\":\"%s\",\"latency\":%.2f},"
	    "\"rabbitmq\":{\"status\":\"%s\"}}",
	    db ? "ok" : "error", pg_ms, redis ? "ok" : "error", redis_ms,
	    ctx->amqp_up ? "ok" : "error");
	tt_http_respond_data(req, 200, body);
}

void *
health_start(ingest_ctx *ctx)
{
	tt_http_options o;
	tt_http_server *srv = NULL;
	char err[256];

	tt_redis_thread_setup(ctx->cfg);
	tt_http_options_from_config(&o, "ingest", ctx->cfg);
	o.port = ctx->cfg->health_port;
	o.threads = 4;
	o.rate_limit_max = 0;
	o.access_log = false;
	if (tt_http_server_new(&srv, &o, err, sizeof(err)) != TT_OK ||
	    tt_http_route(srv, "GET", "/health", TT_HTTP_PUBLIC, on_health, ctx) != TT_OK ||
	    tt_http_route(srv, "GET", "/health/live", TT_HTTP_PUBLIC, on_live, ctx) != TT_OK ||
	    tt_http_route(srv, "GET", "/health/ready", TT_HTTP_PUBLIC, on_ready, ctx) != TT_OK ||
	    tt_http_route(srv, "GET", "/health/dependencies", TT_HTTP_PUBLIC, on_dependencies, ctx) != TT_OK ||
	    tt_http_server_start(srv, err, sizeof(err)) != TT_OK) {
		tt_log(TT_LOG_ERROR, "health server failed", "error", err, NULL);
		tt_http_server_free(srv);
		return NULL;
	}
	return srv;
}

void
health_stop(void *h)
{
	tt_http_server_free(h);
}
