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

#include "tt/health.h"
#include "tt/http.h"
#include "tt/log.h"

/* RabbitMQ is "ok" while the consumer holds a consuming channel. */
static tt_err
check_consuming(void *udata, double *latency_ms, char *err, size_t errlen)
{
	const ingest_ctx *ctx = udata;

	*latency_ms = 0;
	return ctx->amqp_up ? TT_OK : tt_seterr(err, errlen, TT_ECONN, "not consuming");
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
	const tt_health_check checks[] = {
		{ "postgres", "database", true, tt_health_check_postgres, ctx->db },
		{ "redis", "redis", false, tt_health_check_redis, NULL },
		{ "rabbitmq", "rabbitmq", true, check_consuming, ctx },
	};
	if (tt_http_server_new(&srv, &o, err, sizeof(err)) != TT_OK ||
	    tt_health_register(srv, checks, sizeof(checks) / sizeof(checks[0])) != TT_OK ||
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
