/*
 * http.c - the HTTP layer of tt/http.h over civetweb.
 *
 * civetweb owns sockets, HTTP parsing and the worker threads; this file
 * owns everything after the request line: one begin_request callback takes
 * every request, so civetweb never serves files or writes a response of its
 * own (its own protocol errors go through the http_error callback and get
 * our envelope too).
 *
 * The pipeline is socket-free (http_process) so that tt_http_server_inject()
 * and the civetweb callback run the very same code; only body reading and
 * the final write differ. A request lives on the worker's stack: fixed
 * arrays for headers, params and response headers, heap only for the body
 * and the response body (both bounded).
 *
 * Keep-alive: civetweb keeps a connection when the client wants it and the
 * body was consumed. The layer always consumes the body, except past the
 * limit (413), where it answers Connection: close, which civetweb also
 * does because the body was not read. The whole response goes out in one
 * mg_write when it is small, two when it is large.
 */
#include "tt/http.h"
#include "tt/log.h"
#include "tt/ratelimit.h"
#include "tt/rng.h"
#include "tt/time.h"

#include <civetweb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define HTTP_MAX_HEADERS   64
#define HTTP_RESP_HDR_MAX  2048
#define HTTP_SMALL_BODY    (16 * 1024)
#define HTTP_METRICS_MAX   (8u * 1024 * 1024)
#define HTTP_PATTERN_MAX   256
#define HTTP_LOG_PATH_MAX  256

typedef struct {
	const char *s;
	size_t      n;
	bool        param;
} http_seg;

typedef struct {
	char            method[16];
	char            pattern[HTTP_PATTERN_MAX];
	int             nseg;
	http_seg        seg[TT_HTTP_MAX_SEGMENTS];
	unsigned        literal_mask;  /* bit (15 - i) set: segment i is literal */
	unsigned        flags;
	tt_http_handler handler;
	void           *udata;
	tt_metric      *hist;
} http_route;

struct tt_http_server {
	tt_http_options   o;
	char              service[64];
	char              bind[64];
	tt_metrics       *metrics;
	http_route        routes[TT_HTTP_MAX_ROUTES];
	int               nroutes;
	struct mg_context *ctx;
	int               port;
	bool              started;
	_Atomic bool      stopping;
	tt_metric        *inflight;
	tt_metric        *unmatched_hist;
};

struct tt_http_req {
	tt_http_server   *srv;
	/* request */
	const char       *method;
	const char       *path;
	size_t            path_len;     /* for matching: one trailing '/' off */
	const char       *query;
	const char       *client_ip;
	bool              http11;
	int               nheaders;
	const char       *hname[HTTP_MAX_HEADERS];
	const char       *hval[HTTP_MAX_HEADERS];
	char             *body;         /* heap, NUL-terminated, or NULL */
	size_t            body_len;
	bool              body_too_big;
	bool              body_incomplete;
	const http_route *route;
	int               nparams;
	const char       *pname[TT_HTTP_MAX_PARAMS];
	size_t            pname_len[TT_HTTP_MAX_PARAMS];
	const char       *pval[TT_HTTP_MAX_PARAMS];
	char              pbuf[TT_HTTP_PARAMS_BYTES];
	char              request_id[TT_HTTP_REQID_MAX];
	bool              authed;
	tt_auth_claims    claims;
	/* response */
	int               status;
	bool              responded;
	bool              close;
	char              ctype[96];
	tt_strbuf         resp;
	tt_strbuf         rhdr;
	char              rhdr_mem[HTTP_RESP_HDR_MAX];
};

static const char json_ctype[] = "application/json; charset=utf-8";
static const char metrics_ctype[] = "text/plain; version=0.0.4; charset=utf-8";

/* ---- pure helpers ---------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

tt_err
tt_http_url_decode(const char *s, size_t n, bool plus_space, char *out,
    size_t outlen, size_t *outn)
{
	size_t o = 0;

	if (out == NULL || outlen == 0)
		return TT_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
				out[0] = '\0';
				return TT_EPARSE;
			}
			c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			if (c == '\0') {
				out[0] = '\0';
				return TT_EPARSE;
			}
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		} else if (c == '\0') {
			out[0] = '\0';
			return TT_EPARSE;
		}
		if (o + 1 >= outlen) {
			out[0] = '\0';
			return TT_ETOOBIG;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	if (outn != NULL)
		*outn = o;
	return TT_OK;
}

tt_err
tt_http_query_get(const char *qs, const char *name, char *out, size_t outlen)
{
	char key[256];
	const char *p = qs;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (name == NULL || out == NULL || outlen == 0)
		return TT_EINVAL;
	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&');
		size_t plen = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;

		if (klen > 0 && tt_http_url_decode(p, klen, true, key, sizeof(key), NULL) == TT_OK &&
		    strcmp(key, name) == 0) {
			if (eq == NULL) {
				out[0] = '\0';
				return TT_OK;
			}
			return tt_http_url_decode(eq + 1, plen - klen - 1, true, out, outlen, NULL);
		}
		p = amp ? amp + 1 : NULL;
	}
	return TT_ENOTFOUND;
}

bool
tt_http_request_id_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	for (n = 0; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= TT_HTTP_REQID_MAX - 1)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return n > 0;
}

tt_err
tt_http_envelope_data(tt_strbuf *out, const char *data_json)
{
	tt_strbuf_puts(out, "{\"success\":true,\"data\":");
	tt_strbuf_puts(out, data_json != NULL && data_json[0] != '\0' ? data_json : "null");
	tt_strbuf_putc(out, '}');
	return tt_strbuf_truncated(out) ? TT_ETOOBIG : TT_OK;
}

tt_err
tt_http_envelope_error(tt_strbuf *out, const char *message, const char *code,
    const tt_http_details *details)
{
	tt_strbuf_puts(out, "{\"success\":false,\"error\":");
	tt_strbuf_json_str(out, message != NULL ? message : "Error");
	if (code != NULL) {
		tt_strbuf_puts(out, ",\"code\":");
		tt_strbuf_json_str(out, code);
	}
	if (details != NULL && details->count > 0) {
		tt_strbuf_puts(out, ",\"details\":[");
		tt_strbuf_put(out, tt_strbuf_str(&details->buf), tt_strbuf_len(&details->buf));
		tt_strbuf_putc(out, ']');
	}
	tt_strbuf_putc(out, '}');
	return tt_strbuf_truncated(out) ? TT_ETOOBIG : TT_OK;
}

void
tt_http_details_init(tt_http_details *d)
{
	memset(d, 0, sizeof(*d));
	tt_strbuf_init(&d->buf, 64 * 1024);
}

void
tt_http_details_add(tt_http_details *d, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (d->count >= TT_HTTP_DETAILS_MAX) {
		d->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->count > 0)
		tt_strbuf_putc(&d->buf, ',');
	tt_strbuf_puts(&d->buf, "{\"field\":");
	tt_strbuf_json_str(&d->buf, field != NULL ? field : "");
	tt_strbuf_puts(&d->buf, ",\"message\":");
	tt_strbuf_json_str(&d->buf, msg);
	tt_strbuf_putc(&d->buf, '}');
	d->count++;
}

void
tt_http_details_fini(tt_http_details *d)
{
	if (d != NULL)
		tt_strbuf_fini(&d->buf);
}

/* ---- options and routes ------------------------------------------------------ */

void
tt_http_options_init(tt_http_options *o, const char *service)
{
	memset(o, 0, sizeof(*o));
	o->service = service != NULL ? service : "tickettoken";
	o->port = 3007;
	o->threads = 16;
	o->max_body = 1024 * 1024;
	o->keep_alive_ms = 5000;
	o->rate_limit_window = 60;
	o->redis = tt_redis_thread;
	o->access_log = true;
	o->serve_metrics = true;
}

void
tt_http_options_from_config(tt_http_options *o, const char *service, const tt_config *cfg)
{
	tt_http_options_init(o, service);
	o->port = cfg->port;
	o->threads = cfg->http_threads;
	o->max_body = (size_t)cfg->http_max_body;
	o->rate_limit_max = cfg->rate_limit_max;
	o->rate_limit_window = cfg->rate_limit_window;
	o->thread_exit = tt_redis_thread_cleanup;
}

static bool
token_valid(const char *s, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= max || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return n > 0;
}

/* Splits the pattern copy in r->pattern into segments; false if malformed. */
static bool
route_compile(http_route *r)
{
	const char *p = r->pattern;
	int nparams = 0;

	if (p[0] != '/')
		return false;
	r->nseg = 0;
	r->literal_mask = 0;
	if (p[1] == '\0')
		return true;
	p++;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		http_seg *s;

		if (n == 0 || r->nseg >= TT_HTTP_MAX_SEGMENTS)
			return false;
		s = &r->seg[r->nseg];
		s->param = p[0] == ':';
		s->s = s->param ? p + 1 : p;
		s->n = s->param ? n - 1 : n;
		if (s->param) {
			if (s->n == 0 || ++nparams > TT_HTTP_MAX_PARAMS)
				return false;
			for (size_t i = 0; i < s->n; i++) {
				char c = s->s[i];
				if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				    (c >= '0' && c <= '9') || c == '_'))
					return false;
			}
		} else {
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)p[i] <= 0x20 || p[i] == '?' || p[i] == '#' || p[i] == '%')
					return false;
			r->literal_mask |= 1u << (TT_HTTP_MAX_SEGMENTS - 1 - r->nseg);
		}
		r->nseg++;
		if (slash == NULL)
			return true;
		p = slash + 1;
	}
}

static void http_metrics_handler(tt_http_req *req, void *udata);

tt_err
tt_http_server_new(tt_http_server **out, const tt_http_options *o, char *err, size_t errlen)
{
	tt_http_server *srv;
	char labels[64];

	if (out == NULL || o == NULL)
		return TT_EINVAL;
	if (o->port < 0 || o->port > 65535 || o->threads < 1 || o->threads > 1024 ||
	    o->max_body == 0 || o->rate_limit_max < 0 ||
	    (o->rate_limit_max > 0 && o->rate_limit_window <= 0))
		return tt_seterr(err, errlen, TT_EINVAL, "http: invalid server options");
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return tt_seterr(err, errlen, TT_ENOMEM, "http: out of memory");
	srv->o = *o;
	snprintf(srv->service, sizeof(srv->service), "%s", o->service ? o->service : "tickettoken");
	snprintf(srv->bind, sizeof(srv->bind), "%s", o->bind ? o->bind : "");
	srv->o.service = srv->service;
	srv->o.bind = srv->bind;
	srv->metrics = o->metrics != NULL ? o->metrics : tt_metrics_default();
	srv->port = -1;
	srv->inflight = tt_metrics_gauge(srv->metrics, "http_requests_in_flight",
	    "HTTP requests being served.", NULL);
	tt_metrics_labels(labels, sizeof(labels), "route", "unmatched", NULL);
	srv->unmatched_hist = tt_metrics_histogram(srv->metrics, "http_request_duration_seconds",
	    "HTTP request latency by route.", labels, NULL, 0);
	if (o->serve_metrics &&
	    tt_http_route(srv, "GET", "/metrics", TT_HTTP_PUBLIC, http_metrics_handler, NULL) != TT_OK) {
		free(srv);
		return tt_seterr(err, errlen, TT_EINVAL, "http: cannot register /metrics");
	}
	*out = srv;
	return TT_OK;
}

tt_err
tt_http_route(tt_http_server *srv, const char *method, const char *pattern,
    unsigned flags, tt_http_handler handler, void *udata)
{
	http_route *r;
	char labels[TT_METRICS_LABELS_MAX];

	if (srv == NULL || method == NULL || pattern == NULL || handler == NULL)
		return TT_EINVAL;
	if (srv->started)
		return TT_EBUSY;
	if (srv->nroutes >= TT_HTTP_MAX_ROUTES)
		return TT_ETOOBIG;
	if (!token_valid(method, sizeof(r->method) - 1) || strlen(pattern) >= HTTP_PATTERN_MAX)
		return TT_EINVAL;
	for (int i = 0; i < srv->nroutes; i++)
		if (strcmp(srv->routes[i].method, method) == 0 &&
		    strcmp(srv->routes[i].pattern, pattern) == 0)
			return TT_EINVAL;
	r = &srv->routes[srv->nroutes];
	memset(r, 0, sizeof(*r));
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->pattern, sizeof(r->pattern), "%s", pattern);
	if (!route_compile(r))
		return TT_EINVAL;
	r->flags = flags;
	r->handler = handler;
	r->udata = udata;
	if (tt_metrics_labels(labels, sizeof(labels), "route", pattern, NULL) != TT_OK)
		return TT_EINVAL;
	r->hist = tt_metrics_histogram(srv->metrics, "http_request_duration_seconds",
	    "HTTP request latency by route.", labels, NULL, 0);
	srv->nroutes++;
	return TT_OK;
}

/* ---- request accessors ------------------------------------------------------ */

const char *tt_http_method(const tt_http_req *req) { return req->method; }
const char *tt_http_path(const tt_http_req *req) { return req->path; }
const char *tt_http_request_id(const tt_http_req *req) { return req->request_id; }
const char *tt_http_client_ip(const tt_http_req *req) { return req->client_ip; }

const char *
tt_http_route_pattern(const tt_http_req *req)
{
	return req->route != NULL ? req->route->pattern : "unmatched";
}

const char *
tt_http_param(const tt_http_req *req, const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < req->nparams; i++)
		if (req->pname_len[i] == n && memcmp(req->pname[i], name, n) == 0)
			return req->pval[i];
	return NULL;
}

tt_err
tt_http_query(const tt_http_req *req, const char *name, char *out, size_t outlen)
{
	return tt_http_query_get(req->query, name, out, outlen);
}

const char *
tt_http_header(const tt_http_req *req, const char *name)
{
	for (int i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->hname[i], name) == 0)
			return req->hval[i];
	return NULL;
}

const char *
tt_http_body(const tt_http_req *req, size_t *len)
{
	if (len != NULL)
		*len = req->body_len;
	return req->body != NULL ? req->body : "";
}

const tt_auth_claims *
tt_http_claims(const tt_http_req *req)
{
	return req->authed ? &req->claims : NULL;
}

/* ---- responding ---------------------------------------------------------- */

tt_err
tt_http_respond(tt_http_req *req, int status, const char *content_type,
    const void *body, size_t len)
{
	tt_strbuf_reset(&req->resp);
	req->status = status;
	req->responded = true;
	snprintf(req->ctype, sizeof(req->ctype), "%s", content_type ? content_type : json_ctype);
	return tt_strbuf_put(&req->resp, body, len);
}

tt_err
tt_http_respond_data(tt_http_req *req, int status, const char *data_json)
{
	tt_strbuf_reset(&req->resp);
	req->status = status;
	req->responded = true;
	snprintf(req->ctype, sizeof(req->ctype), "%s", json_ctype);
	return tt_http_envelope_data(&req->resp, data_json);
}

tt_err
tt_http_respond_error(tt_http_req *req, int status, const char *code,
    const char *message, const tt_http_details *details)
{
	tt_strbuf_reset(&req->resp);
	req->status = status;
	req->responded = true;
	snprintf(req->ctype, sizeof(req->ctype), "%s", json_ctype);
	return tt_http_envelope_error(&req->resp, message, code, details);
}

tt_err
tt_http_respond_invalid(tt_http_req *req, const tt_http_details *details)
{
	return tt_http_respond_error(req, 400, "VALIDATION_ERROR", "Validation failed", details);
}

static void
status_envelope(int status, const char **code, const char **message)
{
	switch (status) {
	case 400: *code = "VALIDATION_ERROR";    *message = "Validation failed"; break;
	case 401: *code = "UNAUTHORIZED";        *message = "Unauthorized"; break;
	case 403: *code = "FORBIDDEN";           *message = "Forbidden"; break;
	case 404: *code = "NOT_FOUND";           *message = "Route not found"; break;
	case 405: *code = "METHOD_NOT_ALLOWED";  *message = "Method not allowed"; break;
	case 413: *code = "PAYLOAD_TOO_LARGE";   *message = "Request body too large"; break;
	case 429: *code = "RATE_LIMIT_EXCEEDED"; *message = "Rate limit exceeded"; break;
	case 503: *code = "SERVICE_UNAVAILABLE"; *message = "Service unavailable"; break;
	default:  *code = "INTERNAL_ERROR";      *message = "Internal server error"; break;
	}
}

tt_err
tt_http_respond_status(tt_http_req *req, int status)
{
	const char *code, *message;

	status_envelope(status, &code, &message);
	if (strcmp(code, "INTERNAL_ERROR") == 0 && (status < 500 || status > 599))
		status = 500;
	return tt_http_respond_error(req, status, code, message, NULL);
}

static bool
header_reserved(const char *name)
{
	static const char *const reserved[] = {
		"Content-Type", "Content-Length", "Connection", "Date", "X-Request-Id",
		"Transfer-Encoding",
	};
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcasecmp(name, reserved[i]) == 0)
			return true;
	return false;
}

tt_err
tt_http_set_header(tt_http_req *req, const char *name, const char *value)
{
	size_t before;

	if (name == NULL || value == NULL || !token_valid(name, 64) || header_reserved(name))
		return TT_EINVAL;
	for (const char *p = value; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			return TT_EINVAL;
	before = tt_strbuf_len(&req->rhdr);
	tt_strbuf_puts(&req->rhdr, name);
	tt_strbuf_put(&req->rhdr, ": ", 2);
	tt_strbuf_puts(&req->rhdr, value);
	tt_strbuf_put(&req->rhdr, "\r\n", 2);
	if (tt_strbuf_truncated(&req->rhdr)) {
		/* Drop the partial line; keep the block well-formed. */
		req->rhdr.len = before;
		req->rhdr.buf[before] = '\0';
		req->rhdr.truncated = false;
		return TT_ETOOBIG;
	}
	return TT_OK;
}

/* ---- the pipeline --------------------------------------------------------- */

static void
req_init(tt_http_req *req, tt_http_server *srv)
{
	memset(req, 0, offsetof(tt_http_req, claims));
	req->srv = srv;
	req->authed = false;
	req->status = 0;
	req->responded = false;
	req->close = false;
	req->ctype[0] = '\0';
	tt_strbuf_init(&req->resp, TT_HTTP_RESPONSE_MAX);
	tt_strbuf_init_fixed(&req->rhdr, req->rhdr_mem, sizeof(req->rhdr_mem));
}

static void
req_fini(tt_http_req *req)
{
	tt_strbuf_fini(&req->resp);
	free(req->body);
	req->body = NULL;
}

/*
 * 128 bits for a request id from a per-thread xoshiro256** stream seeded
 * once from getrandom (ids must be unique, not secret; a syscall per
 * request was measurable at 50,000 requests/s).
 */
static void
request_id_bits(unsigned char r[16])
{
	static _Thread_local tt_rng rng;
	static _Thread_local bool seeded;

	if (!seeded) {
		uint64_t seed;
		if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
			/* Fall back to time and a thread's address: still distinct per thread. */
			seed = (uint64_t)tt_mono_ms() ^ (uint64_t)(uintptr_t)&seeded;
		tt_rng_seed(&rng, seed);
		seeded = true;
	}
	for (int w = 0; w < 2; w++) {
		uint64_t out = tt_rng_next(&rng);
		memcpy(r + 8 * w, &out, 8);
	}
}

static void
request_id_make(tt_http_req *req)
{
	static const char hex[] = "0123456789abcdef";
	const char *given = tt_http_header(req, "X-Request-Id");
	unsigned char r[16];
	char *o = req->request_id;

	if (given != NULL && tt_http_request_id_valid(given)) {
		snprintf(req->request_id, sizeof(req->request_id), "%s", given);
		return;
	}
	request_id_bits(r);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[r[i] >> 4];
		*o++ = hex[r[i] & 15];
	}
	*o = '\0';
}

/* Splits path[0..len) into segments; -1 when it has too many or is not absolute. */
static int
path_split(const char *path, size_t len, http_seg *seg)
{
	int n = 0;
	size_t i = 1;

	if (len == 0 || path[0] != '/')
		return -1;
	if (len == 1)
		return 0;
	while (i <= len) {
		size_t start = i;
		while (i < len && path[i] != '/')
			i++;
		if (n >= TT_HTTP_MAX_SEGMENTS)
			return -1;
		seg[n].s = path + start;
		seg[n].n = i - start;
		seg[n].param = false;
		n++;
		i++;
	}
	return n;
}

static bool
route_matches(const http_route *r, const http_seg *seg, int n)
{
	if (r->nseg != n)
		return false;
	for (int i = 0; i < n; i++) {
		if (seg[i].n == 0)
			return false;
		if (!r->seg[i].param &&
		    (r->seg[i].n != seg[i].n || strncasecmp(r->seg[i].s, seg[i].s, seg[i].n) != 0))
			return false;
	}
	return true;
}

/*
 * Finds the route for method and the request path. On a path match with
 * no method match, fills allow with the methods that would match and
 * returns NULL with *path_known set.
 */
static const http_route *
route_find(const tt_http_server *srv, const char *method, const http_seg *seg, int n,
    bool *path_known, tt_strbuf *allow)
{
	const http_route *best = NULL;
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;

	*path_known = false;
	if (n < 0)
		return NULL;
	for (int i = 0; i < srv->nroutes; i++) {
		const http_route *r = &srv->routes[i];
		if (!route_matches(r, seg, n))
			continue;
		if (strcmp(r->method, m) == 0) {
			if (best == NULL || r->literal_mask > best->literal_mask)
				best = r;
		} else {
			*path_known = true;
		}
	}
	if (best != NULL || !*path_known)
		return best;
	/* Allow lists each method once, GET bringing HEAD along. */
	for (int i = 0; i < srv->nroutes; i++) {
		const http_route *r = &srv->routes[i];
		bool seen = false;
		if (!route_matches(r, seg, n))
			continue;
		for (int j = 0; j < i && !seen; j++)
			seen = route_matches(&srv->routes[j], seg, n) &&
			    strcmp(srv->routes[j].method, r->method) == 0;
		if (seen)
			continue;
		if (tt_strbuf_len(allow) > 0)
			tt_strbuf_puts(allow, ", ");
		tt_strbuf_puts(allow, r->method);
		if (strcmp(r->method, "GET") == 0)
			tt_strbuf_puts(allow, ", HEAD");
	}
	return NULL;
}

/* Decodes the :params of the matched route into req->pbuf. */
static tt_err
params_decode(tt_http_req *req, const http_seg *seg)
{
	const http_route *r = req->route;
	size_t used = 0;

	for (int i = 0; i < r->nseg; i++) {
		size_t outn = 0;
		tt_err e;

		if (!r->seg[i].param)
			continue;
		e = tt_http_url_decode(seg[i].s, seg[i].n, false, req->pbuf + used,
		    sizeof(req->pbuf) - used, &outn);
		req->pname[req->nparams] = r->seg[i].s;
		req->pname_len[req->nparams] = r->seg[i].n;
		if (e != TT_OK) {
			req->pval[req->nparams] = "";
			req->nparams++;
			return e;
		}
		req->pval[req->nparams] = req->pbuf + used;
		req->nparams++;
		used += outn + 1;
	}
	return TT_OK;
}

/*
 * The path as the route sees it: the pattern's literals and the decoded
 * :params, so that "/Summary", "/summary/" and "/summary" share one
 * rate-limit window instead of giving a client three. "" when too long
 * (the caller then counts by pattern).
 */
static void
canonical_path(const tt_http_req *req, char *buf, size_t len)
{
	const http_route *r = req->route;
	tt_strbuf b;
	int p = 0;

	tt_strbuf_init_fixed(&b, buf, len);
	if (r->nseg == 0)
		tt_strbuf_putc(&b, '/');
	for (int i = 0; i < r->nseg; i++) {
		tt_strbuf_putc(&b, '/');
		if (r->seg[i].param)
			tt_strbuf_puts(&b, req->pval[p++]);
		else
			tt_strbuf_put(&b, r->seg[i].s, r->seg[i].n);
	}
	if (tt_strbuf_truncated(&b))
		buf[0] = '\0';
}

static bool
ratelimit_apply(tt_http_req *req)
{
	tt_http_server *srv = req->srv;
	tt_ratelimit_result res;
	tt_redis *r;
	char num[32], path[TT_RATELIMIT_KEY_MAX];
	tt_err e;

	if (srv->o.rate_limit_max <= 0)
		return true;
	r = srv->o.redis != NULL ? srv->o.redis() : NULL;
	canonical_path(req, path, sizeof(path));
	e = tt_ratelimit_check(r, req->client_ip, path, srv->o.rate_limit_max,
	    srv->o.rate_limit_window, &res, NULL, 0);
	if (e == TT_ETOOBIG || e == TT_EINVAL)   /* key: an absurd path, count by route */
		e = tt_ratelimit_check(r, req->client_ip, req->route->pattern,
		    srv->o.rate_limit_max, srv->o.rate_limit_window, &res, NULL, 0);
	if (e != TT_OK)
		return true;    /* failed open inside tt_ratelimit_check */
	snprintf(num, sizeof(num), "%d", res.limit);
	tt_http_set_header(req, "X-RateLimit-Limit", num);
	snprintf(num, sizeof(num), "%d", res.remaining);
	tt_http_set_header(req, "X-RateLimit-Remaining", num);
	if (res.allowed)
		return true;
	snprintf(num, sizeof(num), "%d", res.reset_sec);
	tt_http_set_header(req, "Retry-After", num);
	tt_http_respond_status(req, 429);
	return false;
}

static bool
auth_apply(tt_http_req *req)
{
	const char *hdr = tt_http_header(req, "Authorization");
	char detail[128], msg[160];
	tt_err e;

	if (req->srv->o.auth == NULL) {
		tt_http_set_header(req, "WWW-Authenticate", "Bearer");
		tt_http_respond_error(req, 401, "UNAUTHORIZED", "Authentication unavailable", NULL);
		return false;
	}
	detail[0] = '\0';
	e = tt_auth_verify_header(req->srv->o.auth, hdr, (int64_t)time(NULL), &req->claims,
	    detail, sizeof(detail));
	if (e == TT_OK) {
		req->authed = true;
		return true;
	}
	if (hdr == NULL || strcmp(detail, "missing bearer token") == 0)
		snprintf(msg, sizeof(msg), "Authentication required");
	else
		snprintf(msg, sizeof(msg), "Invalid token: %s", detail[0] ? detail : "rejected");
	tt_http_set_header(req, "WWW-Authenticate", "Bearer");
	tt_http_respond_error(req, 401, "UNAUTHORIZED", msg, NULL);
	return false;
}

static const char *
method_label(const char *m)
{
	static const char *const known[] = {
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(m, known[i]) == 0)
			return known[i];
	return "OTHER";
}

/* Metrics and the access-log line of a finished request. */
static void
request_finish(tt_http_req *req, double t0)
{
	tt_http_server *srv = req->srv;
	double dt = tt_mono_sec() - t0;
	const char *route = tt_http_route_pattern(req);
	char labels[TT_METRICS_LABELS_MAX], status[8], ms[32], path[HTTP_LOG_PATH_MAX];

	snprintf(status, sizeof(status), "%d", req->status);
	if (tt_metrics_labels(labels, sizeof(labels), "route", route, "method",
	    method_label(req->method), "status", status, NULL) == TT_OK)
		tt_metric_inc(tt_metrics_counter(srv->metrics, "http_requests_total",
		    "HTTP requests by route, method and status.", labels));
	tt_metric_observe(req->route != NULL ? req->route->hist : srv->unmatched_hist, dt);
	if (!srv->o.access_log)
		return;
	snprintf(ms, sizeof(ms), "%.3f", dt * 1000.0);
	snprintf(path, sizeof(path), "%s", req->path);
	tt_log(req->status >= 500 ? TT_LOG_ERROR : TT_LOG_INFO, "request",
	    "method", req->method, "route", route, "path", path, "status", status,
	    "duration_ms", ms, "request_id", req->request_id, NULL);
}

/* Runs the request through routing, limits, auth and the handler. */
static void
http_process(tt_http_req *req)
{
	tt_http_server *srv = req->srv;
	http_seg seg[TT_HTTP_MAX_SEGMENTS];
	char allow_mem[256];
	tt_strbuf allow;
	bool path_known;
	int n;
	double t0 = tt_mono_sec();

	tt_metric_add(srv->inflight, 1);
	request_id_make(req);
	req->path_len = strlen(req->path);
	if (req->path_len > 1 && req->path[req->path_len - 1] == '/')
		req->path_len--;
	n = path_split(req->path, req->path_len, seg);
	tt_strbuf_init_fixed(&allow, allow_mem, sizeof(allow_mem));
	req->route = route_find(srv, req->method, seg, n, &path_known, &allow);

	if (req->body_too_big) {
		tt_http_details d;
		req->close = true;
		tt_http_details_init(&d);
		tt_http_details_add(&d, "body", "must be at most %zu bytes", srv->o.max_body);
		tt_http_respond_error(req, 413, "PAYLOAD_TOO_LARGE", "Request body too large", &d);
		tt_http_details_fini(&d);
	} else if (req->body_incomplete) {
		req->close = true;
		tt_http_respond_error(req, 400, "VALIDATION_ERROR", "Incomplete request body", NULL);
	} else if (req->route == NULL && path_known) {
		tt_http_set_header(req, "Allow", tt_strbuf_str(&allow));
		tt_http_respond_status(req, 405);
	} else if (req->route == NULL) {
		tt_http_respond_status(req, 404);
	} else if (params_decode(req, seg) != TT_OK) {
		tt_http_details d;
		tt_http_details_init(&d);
		tt_http_details_add(&d, req->pname[req->nparams - 1], "invalid percent-encoding or too long");
		tt_http_respond_invalid(req, &d);
		tt_http_details_fini(&d);
	} else if ((req->route->flags & TT_HTTP_RATELIMIT) && !ratelimit_apply(req)) {
		/* 429 set */
	} else if ((req->route->flags & TT_HTTP_AUTH) && !auth_apply(req)) {
		/* 401 set */
	} else {
		req->route->handler(req, req->route->udata);
		if (!req->responded) {
			tt_log(TT_LOG_ERROR, "handler sent no response", "route",
			    req->route->pattern, "request_id", req->request_id, NULL);
			tt_http_respond_status(req, 500);
		} else if (tt_strbuf_truncated(&req->resp)) {
			tt_log(TT_LOG_ERROR, "response too large", "route",
			    req->route->pattern, "request_id", req->request_id, NULL);
			tt_strbuf_fini(&req->resp);
			tt_strbuf_init(&req->resp, TT_HTTP_RESPONSE_MAX);
			tt_http_respond_status(req, 500);
		}
	}
	request_finish(req, t0);
	tt_metric_add(srv->inflight, -1);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Unknown";
	}
}

static const char *
http_date(void)
{
	static _Thread_local time_t cached;
	static _Thread_local char buf[40];
	time_t now = time(NULL);
	struct tm tm;

	if (now != cached) {
		gmtime_r(&now, &tm);
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		cached = now;
	}
	return buf;
}

/* Keep-alive as civetweb will decide it, so the header says the truth. */
static bool
wants_keep_alive(const tt_http_req *req)
{
	const char *c = tt_http_header(req, "Connection");

	if (req->close || atomic_load(&req->srv->stopping))
		return false;
	if (c != NULL)
		return strcasecmp(c, "keep-alive") == 0 ||
		    (req->http11 && strcasecmp(c, "close") != 0);
	return req->http11;
}

/* Status line and headers (and the body, unless head_only) into out. */
static void
http_serialize(const tt_http_req *req, bool head_only, bool with_body, tt_strbuf *out)
{
	size_t blen = tt_strbuf_len(&req->resp);

	tt_strbuf_printf(out, "HTTP/1.1 %d %s\r\n", req->status, status_text(req->status));
	tt_strbuf_printf(out, "Date: %s\r\n", http_date());
	tt_strbuf_printf(out, "Content-Type: %s\r\n", req->ctype[0] ? req->ctype : json_ctype);
	tt_strbuf_printf(out, "Content-Length: %zu\r\n", blen);
	tt_strbuf_printf(out, "X-Request-Id: %s\r\n", req->request_id);
	tt_strbuf_printf(out, "Connection: %s\r\n", wants_keep_alive(req) ? "keep-alive" : "close");
	tt_strbuf_put(out, tt_strbuf_str(&req->rhdr), tt_strbuf_len(&req->rhdr));
	tt_strbuf_put(out, "\r\n", 2);
	if (!head_only && with_body)
		tt_strbuf_put(out, tt_strbuf_str(&req->resp), blen);
}

static void
http_metrics_handler(tt_http_req *req, void *udata)
{
	tt_strbuf b;

	(void)udata;
	tt_strbuf_init(&b, HTTP_METRICS_MAX);
	if (tt_metrics_render(req->srv->metrics, &b) != TT_OK)
		tt_log(TT_LOG_WARN, "metrics exposition truncated", NULL);
	tt_http_respond(req, 200, metrics_ctype, tt_strbuf_str(&b), tt_strbuf_len(&b));
	tt_strbuf_fini(&b);
}

/* ---- inject ------------------------------------------------------------------- */

tt_err
tt_http_server_inject(tt_http_server *srv, const char *method, const char *target,
    const char *const *headers, const void *body, size_t body_len, tt_strbuf *out)
{
	tt_http_req *req;
	char *path = NULL;
	const char *q;
	tt_err e = TT_OK;

	if (srv == NULL || method == NULL || target == NULL || out == NULL)
		return TT_EINVAL;
	req = malloc(sizeof(*req));
	path = strdup(target);
	if (req == NULL || path == NULL) {
		free(req);
		free(path);
		return TT_ENOMEM;
	}
	req_init(req, srv);
	q = strchr(target, '?');
	if (q != NULL)
		path[q - target] = '\0';
	req->method = method;
	req->path = path;
	req->query = q != NULL ? q + 1 : NULL;
	req->client_ip = "127.0.0.1";
	req->http11 = true;
	for (int i = 0; headers != NULL && headers[2 * i] != NULL && i < HTTP_MAX_HEADERS; i++) {
		req->hname[i] = headers[2 * i];
		req->hval[i] = headers[2 * i + 1];
		req->nheaders = i + 1;
	}
	if (body_len > srv->o.max_body) {
		req->body_too_big = true;
	} else if (body_len > 0) {
		req->body = malloc(body_len + 1);
		if (req->body == NULL) {
			e = TT_ENOMEM;
			goto out;
		}
		memcpy(req->body, body, body_len);
		req->body[body_len] = '\0';
		req->body_len = body_len;
	}
	http_process(req);
	http_serialize(req, strcmp(method, "HEAD") == 0, true, out);
	if (tt_strbuf_truncated(out))
		e = TT_ETOOBIG;
out:
	req_fini(req);
	free(req);
	free(path);
	return e;
}

/* ---- civetweb glue -------------------------------------------------------- */

static bool
header_has_token(const char *v, const char *token)
{
	size_t tn = strlen(token);

	for (const char *p = v; p != NULL && *p != '\0'; p++)
		if (strncasecmp(p, token, tn) == 0)
			return true;
	return false;
}

/* Reads the whole body into req (bounded by max_body). */
static void
body_read(struct mg_connection *conn, const struct mg_request_info *ri, tt_http_req *req,
    size_t max)
{
	long long cl = ri->content_length;
	const char *te = mg_get_header(conn, "Transfer-Encoding");
	bool chunked = te != NULL && header_has_token(te, "chunked");
	const char *expect;
	size_t cap, len = 0;
	char *buf;

	if (!chunked && cl > (long long)max) {
		req->body_too_big = true;
		return;
	}
	if (!chunked && cl <= 0)
		return;
	/*
	 * civetweb leaves Expect: 100-continue to begin_request handlers. The
	 * body is acceptable (size checked above), so ask for it; a client
	 * that gets 413 instead never sends it.
	 */
	expect = mg_get_header(conn, "Expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 && req->http11)
		mg_write(conn, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	cap = chunked ? 4096 : (size_t)cl;
	buf = malloc(cap + 1);
	if (buf == NULL) {
		req->body_incomplete = true;
		return;
	}
	for (;;) {
		int n;
		if (len == cap) {
			if (!chunked)
				break;
			if (cap > max) {
				req->body_too_big = true;
				free(buf);
				return;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nb = realloc(buf, ncap + 1);
			if (nb == NULL) {
				req->body_incomplete = true;
				free(buf);
				return;
			}
			buf = nb;
			cap = ncap;
		}
		n = mg_read(conn, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		req->body_too_big = true;
		free(buf);
		return;
	}
	if (!chunked && len < (size_t)cl)
		req->body_incomplete = true;
	buf[len] = '\0';
	req->body = buf;
	req->body_len = len;
}

static void
conn_write(struct mg_connection *conn, const tt_http_req *req, bool head_only)
{
	tt_strbuf out;
	size_t blen = tt_strbuf_len(&req->resp);
	bool inline_body = !head_only && blen <= HTTP_SMALL_BODY;

	tt_strbuf_init(&out, HTTP_RESP_HDR_MAX + HTTP_SMALL_BODY + 1024);
	http_serialize(req, head_only, inline_body, &out);
	mg_write(conn, tt_strbuf_str(&out), tt_strbuf_len(&out));
	if (!head_only && !inline_body)
		mg_write(conn, tt_strbuf_str(&req->resp), blen);
	tt_strbuf_fini(&out);
}

static int
cb_begin_request(struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	tt_http_server *srv = mg_get_user_data(mg_get_context(conn));
	tt_http_req *req;
	int status;

	req = malloc(sizeof(*req));
	if (req == NULL) {
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n";
		mg_write(conn, busy, sizeof(busy) - 1);
		return 503;
	}
	req_init(req, srv);
	req->method = ri->request_method;
	req->path = ri->local_uri != NULL ? ri->local_uri : "/";
	req->query = ri->query_string;
	req->client_ip = ri->remote_addr;
	req->http11 = ri->http_version != NULL && strcmp(ri->http_version, "1.1") == 0;
	for (int i = 0; i < ri->num_headers && i < HTTP_MAX_HEADERS; i++) {
		req->hname[i] = ri->http_headers[i].name;
		req->hval[i] = ri->http_headers[i].value;
		req->nheaders = i + 1;
	}
	body_read(conn, ri, req, srv->o.max_body);
	http_process(req);
	conn_write(conn, req, strcmp(req->method, "HEAD") == 0);
	status = req->status;
	req_fini(req);
	free(req);
	return status;
}

/* civetweb's own errors (bad request line, headers too large...). */
static int
cb_http_error(struct mg_connection *conn, int status, const char *errmsg)
{
	tt_http_server *srv = mg_get_user_data(mg_get_context(conn));
	tt_http_req *req = malloc(sizeof(*req));
	const char *code, *message;

	(void)errmsg;
	if (req == NULL)
		return 1;
	req_init(req, srv);
	req->method = "-";
	req->path = "-";
	req->client_ip = "-";
	req->close = true;
	request_id_make(req);
	status_envelope(status, &code, &message);
	if (status == 400)
		message = "Bad request";
	tt_http_respond_error(req, status, code, message, NULL);
	conn_write(conn, req, false);
	if (srv->o.access_log) {
		char st[8];
		snprintf(st, sizeof(st), "%d", status);
		tt_log(TT_LOG_INFO, "request", "method", "-", "route", "unmatched", "path", "-",
		    "status", st, "duration_ms", "0", "request_id", req->request_id, NULL);
	}
	req_fini(req);
	free(req);
	return 0;
}

static int
cb_log_message(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	tt_log(TT_LOG_WARN, "civetweb", "detail", message, NULL);
	return 1;
}

static void
cb_exit_thread(const struct mg_context *ctx, int thread_type, void *thread_pointer)
{
	tt_http_server *srv = mg_get_user_data(ctx);

	(void)thread_pointer;
	if (thread_type == 1 && srv != NULL && srv->o.thread_exit != NULL)
		srv->o.thread_exit();
}

static pthread_once_t mg_once = PTHREAD_ONCE_INIT;

static void
mg_lib_init(void)
{
	mg_init_library(0);
}

tt_err
tt_http_server_start(tt_http_server *srv, char *err, size_t errlen)
{
	struct mg_callbacks cb;
	struct mg_server_port ports[4];
	char listen[96], threads[16], keepalive[16], backlog[16];
	const char *opts[32];
	int i = 0;

	if (srv == NULL)
		return TT_EINVAL;
	if (srv->started)
		return TT_EBUSY;
	pthread_once(&mg_once, mg_lib_init);
	if (srv->bind[0] != '\0')
		snprintf(listen, sizeof(listen), "%s:%d", srv->bind, srv->o.port);
	else
		snprintf(listen, sizeof(listen), "%d", srv->o.port);
	snprintf(threads, sizeof(threads), "%d", srv->o.threads);
	snprintf(keepalive, sizeof(keepalive), "%d", srv->o.keep_alive_ms > 0 ? srv->o.keep_alive_ms : 5000);
	snprintf(backlog, sizeof(backlog), "%d", 1024);
	opts[i++] = "listening_ports";       opts[i++] = listen;
	opts[i++] = "num_threads";           opts[i++] = threads;
	opts[i++] = "enable_keep_alive";     opts[i++] = "yes";
	opts[i++] = "keep_alive_timeout_ms"; opts[i++] = keepalive;
	opts[i++] = "request_timeout_ms";    opts[i++] = "10000";
	opts[i++] = "tcp_nodelay";           opts[i++] = "1";
	opts[i++] = "decode_url";            opts[i++] = "no";
	opts[i++] = "listen_backlog";        opts[i++] = backlog;
	opts[i++] = "connection_queue";      opts[i++] = "256";
	opts[i++] = "enable_directory_listing"; opts[i++] = "no";
	opts[i] = NULL;

	memset(&cb, 0, sizeof(cb));
	cb.begin_request = cb_begin_request;
	cb.http_error = cb_http_error;
	cb.log_message = cb_log_message;
	cb.exit_thread = cb_exit_thread;
	srv->started = true;   /* routes are frozen from here on */
	srv->ctx = mg_start(&cb, srv, opts);
	if (srv->ctx == NULL) {
		srv->started = false;
		return tt_seterr(err, errlen, TT_ECONN, "http: cannot listen on %s", listen);
	}
	memset(ports, 0, sizeof(ports));
	if (mg_get_server_ports(srv->ctx, 4, ports) > 0)
		srv->port = ports[0].port;
	tt_log(TT_LOG_INFO, "http server listening", "server", srv->service,
	    "listen", listen, "threads", threads, NULL);
	return TT_OK;
}

int
tt_http_server_port(const tt_http_server *srv)
{
	return srv != NULL ? srv->port : -1;
}

void
tt_http_server_stop(tt_http_server *srv)
{
	if (srv == NULL || srv->ctx == NULL)
		return;
	atomic_store(&srv->stopping, true);
	mg_stop(srv->ctx);   /* joins the workers after their current request */
	srv->ctx = NULL;
	tt_log(TT_LOG_INFO, "http server stopped", "server", srv->service, NULL);
}

void
tt_http_server_free(tt_http_server *srv)
{
	if (srv == NULL)
		return;
	tt_http_server_stop(srv);
	free(srv);
}
