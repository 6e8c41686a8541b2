/*
 * health.c - ingest's /health*, /metrics on HEALTH_PORT (the shared HTTP
 * layer, no auth: probes and Prometheus only).
 *
 * Ready means "able to take work": consuming from RabbitMQ and PostgreSQL
 * answering. Redis is reported but does not gate readiness: the counters
 * there are a copy that the reconcile repairs.
 */
#include "ingest.h"

#include "tt/health.h"
#include "tt/http.h"

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
	const tt_health_check checks[] = {
		{ "postgres", "database", true, tt_health_check_postgres, ctx->db },
		{ "redis", "redis", false, tt_health_check_redis, NULL },
		{ "rabbitmq", "rabbitmq", true, check_consuming, ctx },
	};
	return tt_health_serve(ctx->cfg, "ingest", ctx->cfg->health_port, checks,
	    sizeof(checks) / sizeof(checks[0]));
}

void
health_stop(void *h)
{
	tt_http_server_free(h);
}
