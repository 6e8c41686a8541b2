/*
 * health.c - the aggregator's /health*, /metrics on AGGREGATOR_HEALTH_PORT
 * (the shared HTTP layer, no auth: probes and Prometheus only). Ready means
 * PostgreSQL answers: it is the aggregator's only dependency.
 */
#include "aggregator.h"

#include "tt/health.h"
#include "tt/http.h"

void *
health_start(agg_ctx *ctx)
{
	const tt_health_check checks[] = {
		{ "postgres", "database", true, tt_health_check_postgres, ctx->db },
	};
	return tt_health_serve(ctx->cfg, "aggregator", ctx->cfg->aggregator_health_port,
	    checks, sizeof(checks) / sizeof(checks[0]));
}

void
health_stop(void *h)
{
	tt_http_server_free(h);
}
