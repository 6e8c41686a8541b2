/*
 * tt/health.h - the health endpoints every binary serves, from one list of
 * dependency checks.
 *
 *   GET /health               200 {"success":true,"data":{"status":"ok"}}
 *   GET /health/live          the same: the process answers (liveness probe)
 *   GET /health/ready         200 ready / 503 not_ready, from the checks marked
 *                             gates_ready; data.services.{ready_name} = ok|error
 *   GET /health/dependencies  every check with its latency in ms; 503 when any
 *                             check fails
 *
 * The shapes are the seed's. /health and /health/live touch no dependency:
 * a liveness probe must not fail because a database is down, or Kubernetes
 * restarts a healthy pod. /health/ready checks what the binary cannot work
 * without, so the pod leaves its Service until that is back. All four are
 * public and never rate-limited (probes must not get 429). Checks run on the
 * request's worker thread, each time the endpoint is called (a SELECT 1, a
 * PING, an AMQP login).
 */
#ifndef TT_HEALTH_H
#define TT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "tt/config.h"
#include "tt/db.h"
#include "tt/error.h"
#include "tt/http.h"

#define TT_HEALTH_MAX_CHECKS 8

/* A check: TT_OK when the dependency works; *latency_ms set either way. */
typedef tt_err (*tt_health_fn)(void *udata, double *latency_ms, char *err, size_t errlen);

typedef struct {
	const char  *name;        /* key in /health/dependencies ("postgres") */
	const char  *ready_name;  /* key in /health/ready services ("database") */
	bool         gates_ready; /* a failure makes /health/ready answer 503 */
	tt_health_fn check;
	void        *udata;
} tt_health_check;

/*
 * Registers the four routes on srv (public: no token, no rate limit). The
 * checks array is copied; what udata points to must outlive the server.
 * TT_EINVAL for more than TT_HEALTH_MAX_CHECKS checks.
 */
tt_err tt_health_register(tt_http_server *srv, const tt_health_check *checks, size_t n);

/*
 * The whole health listener of a headless binary (ingest, aggregator, the
 * workers to come): an HTTP server on port with the four routes above and
 * GET /metrics, a few threads, no auth, no rate limit, no access log.
 * Returns the started server (stop and free it with tt_http_server_free) or
 * NULL with the reason logged.
 */
tt_http_server *tt_health_serve(const tt_config *cfg, const char *service, int port,
    const tt_health_check *checks, size_t n);

/* Stock checks. udata: a tt_db * (SELECT 1 through the pool). */
tt_err tt_health_check_postgres(void *udata, double *latency_ms, char *err, size_t errlen);
/* udata unused: PING on this thread's Redis connection (tt_redis_thread). */
tt_err tt_health_check_redis(void *udata, double *latency_ms, char *err, size_t errlen);
/* udata: the RABBITMQ_URL (const char *): opens and closes an AMQP connection. */
tt_err tt_health_check_amqp(void *udata, double *latency_ms, char *err, size_t errlen);

#endif
