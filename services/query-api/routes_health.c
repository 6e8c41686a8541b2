/*
 * routes_health.c - query-api's health endpoints: the shared ones of
 * tt/health.h with query-api's dependencies. Ready needs PostgreSQL (metric
 * writes, the summary's fallback) and Redis (the summary, the rate limit);
 * RabbitMQ is reported in /health/dependencies only (a real AMQP login).
 */
#include "qapi.h"

#include <stdint.h>

#include "tt/health.h"

tt_err
routes_health_register(tt_http_server *srv, qapi_ctx *ctx)
{
	const tt_health_check checks[] = {
		{ "postgres", "database", true, tt_health_check_postgres, ctx->db },
		{ "redis", "redis", true, tt_health_check_redis, NULL },
		/* The check only reads the URL. */
		{ "rabbitmq", "rabbitmq", false, tt_health_check_amqp,
		    (void *)(uintptr_t)ctx->cfg->rabbitmq_url },
	};
	return tt_health_register(srv, checks, sizeof(checks) / sizeof(checks[0]));
}
