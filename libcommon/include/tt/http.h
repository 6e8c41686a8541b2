/*
 * tt/http.h - the HTTP server layer of every binary, over civetweb.
 *
 * A server is a route table plus the policies every route shares:
 *   - routing on method and path patterns with ":name" segments
 *     ("/customers/venue/:venueId/:customerId"); the most literal pattern
 *     wins; an unknown path is 404, a known path with another method 405
 *     (with Allow); HEAD is served by GET routes; one trailing slash is
 *     ignored;
 *   - the request body read fully before the handler runs, up to max_body
 *     (413 beyond it, and the connection is closed);
 *   - a request id: X-Request-Id when sane (1..128 of [A-Za-z0-9._:-]),
 *     else a generated UUID; echoed on every response;
 *   - per route, optionally: the Redis rate limit (tt/ratelimit.h, 429 with
 *     Retry-After), then a Bearer JWT (tt/auth.h, 401), in that order;
 *   - the seed's envelopes: {"success":true,"data":…} and
 *     {"success":false,"error":"…","code":"…","details":[{field,message}]};
 *   - one JSON access-log line per request (method, route, path without
 *     query, status, duration, request id; never a header value);
 *   - Prometheus metrics http_requests_total{route,method,status},
 *     http_request_duration_seconds{route}, http_requests_in_flight, and a
 *     built-in GET /metrics that renders the registry.
 *
 * Responses are buffered: a handler sets status, headers and body through
 * the tt_http_respond*() calls, and the layer writes the whole response with
 * Content-Length in one write (keep-alive friendly). Handlers run on
 * civetweb worker threads, many at once; the route table is read-only once
 * the server has started.
 */
#ifndef TT_HTTP_H
#define TT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "tt/auth.h"
#include "tt/config.h"
#include "tt/error.h"
#include "tt/metrics.h"
#include "tt/redis.h"
#include "tt/strbuf.h"

#define TT_HTTP_MAX_ROUTES    128
#define TT_HTTP_MAX_SEGMENTS  16    /* path segments of a pattern */
#define TT_HTTP_MAX_PARAMS    8     /* :params of a pattern */
#define TT_HTTP_PARAMS_BYTES  2048  /* decoded :param values of one request */
#define TT_HTTP_REQID_MAX     129   /* request id + NUL */
#define TT_HTTP_RESPONSE_MAX  (16u * 1024 * 1024)
#define TT_HTTP_DETAILS_MAX   50    /* details kept in one error envelope */

typedef struct tt_http_server tt_http_server;
typedef struct tt_http_req tt_http_req;

/* A route handler: answers with one of the tt_http_respond*() calls. */
typedef void (*tt_http_handler)(tt_http_req *req, void *udata);

/* Route flags. */
enum {
	TT_HTTP_PUBLIC    = 0,
	TT_HTTP_RATELIMIT = 1 << 0,  /* counted against client+path window */
	TT_HTTP_AUTH      = 1 << 1,  /* Bearer JWT required; claims available */
	TT_HTTP_PROTECTED = TT_HTTP_RATELIMIT | TT_HTTP_AUTH,
};

typedef struct {
	const char  *service;           /* name in logs ("query-api") */
	const char  *bind;              /* address to listen on; NULL/"" = all */
	int          port;              /* 0 = ephemeral, see tt_http_server_port */
	int          threads;           /* civetweb worker threads */
	size_t       max_body;          /* request body limit in bytes */
	int          keep_alive_ms;     /* idle keep-alive connection timeout */
	const tt_auth *auth;            /* verifier for TT_HTTP_AUTH routes; NULL: they answer 401 */
	int          rate_limit_max;    /* per client and path per window; 0 = off */
	int          rate_limit_window; /* seconds */
	tt_redis  *(*redis)(void);      /* this thread's Redis for the limiter (tt_redis_thread) */
	tt_metrics  *metrics;           /* NULL: tt_metrics_default() */
	bool         access_log;        /* one JSON line per request */
	bool         serve_metrics;     /* built-in GET /metrics */
	void       (*thread_exit)(void);/* run by each worker as it exits (tt_redis_thread_cleanup) */
} tt_http_options;

/*
 * Defaults: port 3007 on all interfaces, 16 threads, 1 MiB body,
 * keep-alive 5 s, no auth, no rate limit, access log and /metrics on,
 * redis = tt_redis_thread, thread_exit = NULL.
 */
void tt_http_options_init(tt_http_options *o, const char *service);

/*
 * Defaults, then PORT, HTTP_THREADS, HTTP_MAX_BODY, RATE_LIMIT_MAX and
 * RATE_LIMIT_WINDOW from cfg; thread_exit = tt_redis_thread_cleanup.
 * Headless binaries then set o->port = cfg->health_port.
 */
void tt_http_options_from_config(tt_http_options *o, const char *service,
    const tt_config *cfg);

/*
 * A server with the given options (copied; the auth verifier and metrics
 * registry must outlive the server). Not listening until started. With
 * serve_metrics, GET /metrics is registered here.
 */
tt_err tt_http_server_new(tt_http_server **out, const tt_http_options *o,
    char *err, size_t errlen);

/*
 * Adds a route. method is an upper-case token ("GET", "POST"...); pattern
 * starts with '/', its segments are literals or ":name" ([A-Za-z0-9_]+).
 * TT_EINVAL for a malformed pattern or a duplicate (method, pattern),
 * TT_ETOOBIG past TT_HTTP_MAX_ROUTES, TT_EBUSY once started. Not
 * thread-safe: register everything before tt_http_server_start().
 */
tt_err tt_http_route(tt_http_server *srv, const char *method, const char *pattern,
    unsigned flags, tt_http_handler handler, void *udata);

/* Starts listening. TT_ECONN when the port cannot be bound (detail in err). */
tt_err tt_http_server_start(tt_http_server *srv, char *err, size_t errlen);

/* The bound port (useful with port 0), or -1 before start. */
int tt_http_server_port(const tt_http_server *srv);

/*
 * Graceful stop: stops accepting, lets the requests in flight finish and
 * joins the workers. Idempotent; the server may then be freed.
 */
void tt_http_server_stop(tt_http_server *srv);

/* Stops if needed and frees. NULL is fine. */
void tt_http_server_free(tt_http_server *srv);

/*
 * Runs one request through the whole pipeline without a socket, exactly as
 * a worker would, and appends the raw response (status line, headers, body)
 * to out. headers: name, value, ..., NULL (or NULL). target is
 * path[?query]. The client address is 127.0.0.1. For tests and tools;
 * thread-safe like a worker.
 */
tt_err tt_http_server_inject(tt_http_server *srv, const char *method, const char *target,
    const char *const *headers, const void *body, size_t body_len, tt_strbuf *out);

/* ---- the request (valid during the handler only) ----------------------- */

const char *tt_http_method(const tt_http_req *req);       /* "GET" */
const char *tt_http_path(const tt_http_req *req);         /* raw path, no query */
const char *tt_http_route_pattern(const tt_http_req *req);/* "/x/:id" */
const char *tt_http_request_id(const tt_http_req *req);
const char *tt_http_client_ip(const tt_http_req *req);

/* A :param of the route, percent-decoded; NULL when the pattern has none. */
const char *tt_http_param(const tt_http_req *req, const char *name);

/*
 * The first query parameter called name, percent-decoded ('+' is a space)
 * into out. TT_ENOTFOUND when absent, TT_ETOOBIG when the decoded value
 * does not fit outlen (NUL included), TT_EPARSE for a bad %-escape or a
 * decoded NUL byte; on any failure out holds "" (when outlen > 0).
 */
tt_err tt_http_query(const tt_http_req *req, const char *name, char *out, size_t outlen);

/* A request header, case-insensitive; NULL when absent. */
const char *tt_http_header(const tt_http_req *req, const char *name);

/* The body (NUL-terminated, may contain NULs), *len its size; "" if none. */
const char *tt_http_body(const tt_http_req *req, size_t *len);

/* The verified claims on TT_HTTP_AUTH routes; NULL elsewhere. */
const tt_auth_claims *tt_http_claims(const tt_http_req *req);

/* ---- responding ------------------------------------------------------------ */

/* Validation details, {"field":…,"message":…} each; bounded, extra ones dropped. */
typedef struct {
	tt_strbuf buf;     /* the rendered items, comma-separated */
	int       count;   /* items kept */
	int       dropped; /* items past TT_HTTP_DETAILS_MAX */
} tt_http_details;

void tt_http_details_init(tt_http_details *d);
void tt_http_details_add(tt_http_details *d, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tt_http_details_fini(tt_http_details *d);

/*
 * Sets the response: status, content type (NULL = application/json;
 * charset=utf-8) and a copy of body. A second respond replaces the first.
 * TT_ETOOBIG past TT_HTTP_RESPONSE_MAX (the response becomes a 500).
 */
tt_err tt_http_respond(tt_http_req *req, int status, const char *content_type,
    const void *body, size_t len);

/* {"success":true,"data":<data_json>}; data_json must be one JSON value. */
tt_err tt_http_respond_data(tt_http_req *req, int status, const char *data_json);

/*
 * {"success":false,"error":message,"code":code[,"details":[…]]}; details
 * may be NULL or empty (then the key is left out).
 */
tt_err tt_http_respond_error(tt_http_req *req, int status, const char *code,
    const char *message, const tt_http_details *details);

/* 400 VALIDATION_ERROR "Validation failed" with details. */
tt_err tt_http_respond_invalid(tt_http_req *req, const tt_http_details *details);

/*
 * The standard envelope of a status: 400 VALIDATION_ERROR, 401
 * UNAUTHORIZED, 403 FORBIDDEN, 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED, 413
 * PAYLOAD_TOO_LARGE, 429 RATE_LIMIT_EXCEEDED, 503 SERVICE_UNAVAILABLE, and
 * 500 INTERNAL_ERROR "Internal server error" for anything else.
 */
tt_err tt_http_respond_status(tt_http_req *req, int status);

/*
 * Adds a response header. TT_EINVAL for a malformed name or a value with
 * CR, LF or NUL; TT_ETOOBIG when the header block is full (2 KiB).
 * Content-Type, Content-Length, Connection, Date and X-Request-Id belong to
 * the layer and are refused (TT_EINVAL).
 */
tt_err tt_http_set_header(tt_http_req *req, const char *name, const char *value);

/* ---- pure helpers (exposed for tests and other layers) ------------------ */

/*
 * Percent-decodes s[0..n) into out[0..outlen) with a NUL; '+' becomes a
 * space when plus_space. TT_EPARSE for a bad escape or a decoded NUL,
 * TT_ETOOBIG when it does not fit. *outn (may be NULL) gets the length.
 */
tt_err tt_http_url_decode(const char *s, size_t n, bool plus_space,
    char *out, size_t outlen, size_t *outn);

/* tt_http_query() over a raw query string (NULL = empty). */
tt_err tt_http_query_get(const char *qs, const char *name, char *out, size_t outlen);

/* Appends the envelopes described above to out. */
tt_err tt_http_envelope_data(tt_strbuf *out, const char *data_json);
tt_err tt_http_envelope_error(tt_strbuf *out, const char *message, const char *code,
    const tt_http_details *details);

/* True for 1..128 chars of [A-Za-z0-9._:-]. */
bool tt_http_request_id_valid(const char *s);

#endif
