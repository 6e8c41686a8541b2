/*
 * health.c - /health, /health/live, /health/ready, /health/dependencies over
 * the shared HTTP layer, driven by a table of checks (see tt/health.h).
 */
#include "tt/health.h"
#include "tt/amqp.h"
#include "tt/log.h"
#include "tt/redis.h"
#include "tt/strbuf.h"
#include "tt/time.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	tt_health_check checks[TT_HEALTH_MAX_CHECKS];
	size_t          n;
} health_set;

typedef struct {
	bool   ok;
	double latency_ms;
} check_result;

static void
run_checks(const health_set *hs, check_result *out)
{
	for (size_t i = 0; i < hs->n; i++) {
		const tt_health_check *c = &hs->checks[i];
		char err[256] = "";
		double t0 = tt_mono_sec();
		out[i].latency_ms = 0;
		out[i].ok = c->check(c->udata, &out[i].latency_ms, err, sizeof(err)) == TT_OK;
		if (!out[i].ok) {
			out[i].latency_ms = (tt_mono_sec() - t0) * 1000.0;
			tt_log(TT_LOG_WARN, "health check failed", "dependency", c->name,
			    "error", err, NULL);
		}
	}
}

static void
h_ok(tt_http_req *req, void *udata)
{
	(void)udata;
	tt_http_respond_data(req, 200, "{\"status\":\"ok\"}");
}

static void
h_ready(tt_http_req *req, void *udata)
{
	const health_set *hs = udata;
	check_result res[TT_HEALTH_MAX_CHECKS];
	bool ready = true;
	char mem[512];
	tt_strbuf b;

	run_checks(hs, res);
	for (size_t i = 0; i < hs->n; i++)
		if (hs->checks[i].gates_ready && !res[i].ok)
			ready = false;
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	tt_strbuf_printf(&b, "{\"success\":%s,\"data\":{\"status\":\"%s\",\"services\":{",
	    ready ? "true" : "false", ready ? "ready" : "not_ready");
	for (size_t i = 0; i < hs->n; i++)
		tt_strbuf_printf(&b, "%s\"%s\":\"%s\"", i ? "," : "",
		    hs->checks[i].ready_name, res[i].ok ? "ok" : "error");
	tt_strbuf_puts(&b, "}}}");
	tt_http_respond(req, ready ? 200 : 503, NULL, tt_strbuf_str(&b), tt_strbuf_len(&b));
}

static void
h_dependencies(tt_http_req *req, void *udata)
{
	const health_set *hs = udata;
	check_result res[TT_HEALTH_MAX_CHECKS];
	bool ok = true;
	char mem[1024];
	tt_strbuf b;

	run_checks(hs, res);
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	for (size_t i = 0; i < hs->n; i++)
		ok = ok && res[i].ok;
	tt_strbuf_printf(&b, "{\"success\":%s,\"data\":{", ok ? "true" : "false");
	for (size_t i = 0; i < hs->n; i++)
		tt_strbuf_printf(&b, "%s\"%s\":{\"status\":\"%s\",\"latency\":%.2f}", i ? "," : "",
		    hs->checks[i].name, res[i].ok ? "ok" : "error", res[i].latency_ms);
	tt_strbuf_puts(&b, "}}");
	tt_http_respond(req, ok ? 200 : 503, NULL, tt_strbuf_str(&b), tt_strbuf_len(&b));
}

tt_err
tt_health_register(tt_http_server *srv, const tt_health_check *checks, size_t n)
{
	/* Lives as long as the process: servers are not re-created. */
	static health_set sets[4];
	static size_t nsets;
	health_set *hs;
	tt_err e;

	if (n > TT_HEALTH_MAX_CHECKS || nsets >= sizeof(sets) / sizeof(sets[0]))
		return TT_EINVAL;
	hs = &sets[nsets++];
	memcpy(hs->checks, checks, n * sizeof(*checks));
	hs->n = n;
	if ((e = tt_http_route(srv, "GET", "/health", TT_HTTP_PUBLIC, h_ok, hs)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/health/live", TT_HTTP_PUBLIC, h_ok, hs)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/health/ready", TT_HTTP_PUBLIC, h_ready, hs)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/health/dependencies", TT_HTTP_PUBLIC,
	    h_dependencies, hs)) != TT_OK)
		return e;
	return TT_OK;
}

tt_http_server *
tt_health_serve(const tt_config *cfg, const char *service, int port,
    const tt_health_check *checks, size_t n)
{
	tt_http_options o;
	tt_http_server *srv = NULL;
	char err[256] = "";

	tt_redis_thread_setup(cfg);
	tt_http_options_from_config(&o, service, cfg);
	o.port = port;
	o.threads = 4;
	o.rate_limit_max = 0;
	o.access_log = false;
	if (tt_http_server_new(&srv, &o, err, sizeof(err)) != TT_OK ||
	    tt_health_register(srv, checks, n) != TT_OK ||
	    tt_http_server_start(srv, err, sizeof(err)) != TT_OK) {
		tt_log(TT_LOG_ERROR, "health server failed", "error", err, NULL);
		tt_http_server_free(srv);
		return NULL;
	}
	return srv;
}

tt_err
tt_health_check_postgres(void *udata, double *latency_ms, char *err, size_t errlen)
{
	return tt_db_ping(udata, latency_ms, err, errlen);
}

tt_err
tt_health_check_redis(void *udata, double *latency_ms, char *err, size_t errlen)
{
	tt_redis *r = tt_redis_thread();

	(void)udata;
	if (r == NULL)
		return tt_seterr(err, errlen, TT_ECONN, "no redis connection");
	return tt_redis_ping(r, latency_ms, err, errlen);
}

tt_err
tt_health_check_amqp(void *udata, double *latency_ms, char *err, size_t errlen)
{
	tt_amqp *a = NULL;
	double t0 = tt_mono_sec();
	tt_err e = tt_amqp_open(&a, udata, 0, err, errlen);

	*latency_ms = (tt_mono_sec() - t0) * 1000.0;
	tt_amqp_close(a);
	return e;
}
