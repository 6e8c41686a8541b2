/*
 * health.c - the aggregator's /health*, /metrics on AGGREGATOR_HEALTH_PORT
 * (the shared HTTP layer, no auth: probes and Prometheus only). Ready means
 * PostgreSQL answers: it is the aggregator's only dependency.
 */
#include "aggregator.h"

#include "tt/health.h"
#include "tt/http.h"
#include "tt/log.h"

void *
health_start(agg_ctx *ctx)
{
	tt_http_options o;
	tt_http_server *srv = NULL;
	char err[256] = "";

	tt_http_options_from_config(&o, "aggregator", ctx->cfg);
	o.port = ctx->cfg->aggregator_health_port;
	o.threads = 2;
	o.rate_limit_max = 0;
	o.access_log = false;
	const tt_health_check checks[] = {
		{ "postgres", "database", true, tt_health_check_postgres, ctx->db },
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
