/*
 * routes_health.c - /health, /health/live, /health/ready, /health/dependencies.
 *
 * The seed's shapes. /health and /health/live say the process serves
 * requests and touch nothing else (a liveness probe must not fail because
 * a database is down, or Kubernetes restarts a healthy pod). /health/ready
 * checks what query-api cannot answer without: PostgreSQL and Redis, 503
 * when either fails, so the pod leaves the Service until they are back.
 * /health/dependencies measures each dependency for operators, RabbitMQ
 * included (a real AMQP login, not a port probe); 503 when any is down.
 * All four are public and not rate-limited (probes must never get 429).
 */
#include "qapi.h"

#include <stdio.h>
#include <string.h>

#include "tt/amqp.h"
#include "tt/log.h"
#include "tt/redis.h"
#include "tt/strbuf.h"
#include "tt/time.h"

typedef struct {
	bool   ok;
	double latency_ms;
} dep_status;

static dep_status
check_postgres(qapi_ctx *ctx)
{
	dep_status s = { false, 0 };
	char err[256];
	double t0 = tt_mono_sec();

	s.ok = tt_db_ping(ctx->db, &s.latency_ms, err, sizeof(err)) == TT_OK;
	if (!s.ok) {
		s.latency_ms = (tt_mono_sec() - t0) * 1000.0;
		tt_log(TT_LOG_WARN, "health: postgres check failed", "error", err, NULL);
	}
	return s;
}

static dep_status
check_redis(void)
{
	dep_status s = { false, 0 };
	tt_redis *r = tt_redis_thread();
	char err[256] = "no connection";
	double t0 = tt_mono_sec();

	s.ok = r != NULL && tt_redis_ping(r, &s.latency_ms, err, sizeof(err)) == TT_OK;
	if (!s.ok) {
		s.latency_ms = (tt_mono_sec() - t0) * 1000.0;
		tt_log(TT_LOG_WARN, "health: redis check failed", "error", err, NULL);
	}
	return s;
}

static dep_status
check_rabbitmq(qapi_ctx *ctx)
{
	dep_status s = { false, 0 };
	tt_amqp *a = NULL;
	char err[256];
	double t0 = tt_mono_sec();

	s.ok = tt_amqp_open(&a, ctx->cfg->rabbitmq_url, 0, err, sizeof(err)) == TT_OK;
	s.latency_ms = (tt_mono_sec() - t0) * 1000.0;
	if (s.ok)
		tt_amqp_close(a);
	else
		tt_log(TT_LOG_WARN, "health: rabbitmq check failed", "error", err, NULL);
	return s;
}

static void
h_health(tt_http_req *req, void *udata)
{
	(void)udata;
	tt_http_respond_data(req, 200, "{\"status\":\"ok\"}");
}

static void
h_ready(tt_http_req *req, void *udata)
{
	qapi_ctx *ctx = udata;
	dep_status db = check_postgres(ctx);
	dep_status rd = check_redis();
	bool ready = db.ok && rd.ok;
	char body[256];

	snprintf(body, sizeof(body),
	    "{\"success\":%s,\"data\":{\"status\":\"%s\",\"services\":"
	    "{\"database\":\"%s\",\"redis\":\"%s\"}}}",
	    ready ? "true" : "false", ready ? "ready" : "not_ready",
	    db.ok ? "ok" : "error", rd.ok ? "ok" : "error");
	tt_http_respond(req, ready ? 200 : 503, NULL, body, strlen(body));
}

static void
dep_json(tt_strbuf *b, const char *name, dep_status s)
{
	tt_strbuf_printf(b, "\"%s\":{\"status\":\"%s\",\"latency\":%.2f}", name,
	    s.ok ? "ok" : "error", s.latency_ms);
}

static void
h_dependencies(tt_http_req *req, void *udata)
{
	qapi_ctx *ctx = udata;
	dep_status pg = check_postgres(ctx);
	dep_status rd = check_redis();
	dep_status mq = check_rabbitmq(ctx);
	bool ok = pg.ok && rd.ok && mq.ok;
	char mem[512];
	tt_strbuf b;

	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	tt_strbuf_printf(&b, "{\"success\":%s,\"data\":{", ok ? "true" : "false");
	dep_json(&b, "postgres", pg);
	tt_strbuf_putc(&b, ',');
	dep_json(&b, "redis", rd);
	tt_strbuf_putc(&b, ',');
	dep_json(&b, "rabbitmq", mq);
	tt_strbuf_puts(&b, "}}");
	tt_http_respond(req, ok ? 200 : 503, NULL, tt_strbuf_str(&b), tt_strbuf_len(&b));
}

tt_err
routes_health_register(tt_http_server *srv, qapi_ctx *ctx)
{
	tt_err e;

	if ((e = tt_http_route(srv, "GET", "/health", TT_HTTP_PUBLIC, h_health, ctx)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/health/live", TT_HTTP_PUBLIC, h_health, ctx)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/health/ready", TT_HTTP_PUBLIC, h_ready, ctx)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/health/dependencies", TT_HTTP_PUBLIC,
	    h_dependencies, ctx)) != TT_OK)
		return e;
	return TT_OK;
}
