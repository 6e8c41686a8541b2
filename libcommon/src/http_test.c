/*
 * http_test.c - the HTTP layer: decoding and query bounds, envelopes byte
 * for byte, routing through tt_http_server_inject() (params, precedence,
 * 404/405/413, request ids, auth, /metrics), then a real server on an
 * ephemeral loopback port for keep-alive, chunked bodies and the 413 close.
 * The rate-limit case runs against a local Redis when one answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jwt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tt/http.h"

#define SECRET "http-test-secret"

/* ---- response parsing ---------------------------------------------------- */

typedef struct {
	int    status;
	char   head[4096];
	char  *body;
	size_t body_len;
} resp;

static void
resp_parse(resp *r, const char *raw, size_t len)
{
	const char *end = strstr(raw, "\r\n\r\n");

	assert_non_null(end);
	assert_int_equal(sscanf(raw, "HTTP/1.1 %d", &r->status), 1);
	size_t hl = (size_t)(end - raw) + 2;
	assert_true(hl < sizeof(r->head));
	memcpy(r->head, raw, hl);
	r->head[hl] = '\0';
	r->body_len = len - (hl + 2);
	r->body = malloc(r->body_len + 1);
	memcpy(r->body, end + 4, r->body_len);
	r->body[r->body_len] = '\0';
}

/* A response header's value (copied into out), or NULL. */
static const char *
resp_header(const resp *r, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);

	for (const char *p = strstr(r->head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ')
				v++;
			size_t vl = strcspn(v, "\r");
			snprintf(out, outlen, "%.*s", (int)vl, v);
			return out;
		}
	}
	return NULL;
}

static void
inject(tt_http_server *srv, const char *method, const char *target,
    const char *const *headers, const char *body, resp *r)
{
	tt_strbuf out;

	tt_strbuf_init(&out, 1 << 22);
	assert_int_equal(tt_http_server_inject(srv, method, target, headers, body,
	    body ? strlen(body) : 0, &out), TT_OK);
	resp_parse(r, tt_strbuf_str(&out), tt_strbuf_len(&out));
	tt_strbuf_fini(&out);
}

/* ---- handlers ------------------------------------------------------------------ */

static void
h_echo(tt_http_req *req, void *udata)
{
	tt_strbuf b;
	char q[64];
	const tt_auth_claims *c = tt_http_claims(req);

	(void)udata;
	tt_strbuf_init(&b, 4096);
	tt_strbuf_puts(&b, "{\"route\":");
	tt_strbuf_json_str(&b, tt_http_route_pattern(req));
	const char *names[] = { "venueId", "customerId", "id" };
	for (size_t i = 0; i < 3; i++) {
		const char *v = tt_http_param(req, names[i]);
		if (v != NULL) {
			tt_strbuf_printf(&b, ",\"%s\":", names[i]);
			tt_strbuf_json_str(&b, v);
		}
	}
	if (tt_http_query(req, "q", q, sizeof(q)) == TT_OK) {
		tt_strbuf_puts(&b, ",\"q\":");
		tt_strbuf_json_str(&b, q);
	}
	if (c != NULL) {
		tt_strbuf_puts(&b, ",\"user\":");
		tt_strbuf_json_str(&b, c->user_id);
	}
	size_t bl;
	const char *body = tt_http_body(req, &bl);
	if (bl > 0)
		tt_strbuf_printf(&b, ",\"bodyLen\":%zu", bl);
	(void)body;
	tt_strbuf_putc(&b, '}');
	tt_http_respond_data(req, 200, tt_strbuf_str(&b));
	tt_strbuf_fini(&b);
}

static void
h_silent(tt_http_req *req, void *udata)
{
	(void)req;
	(void)udata;
}

static void
h_headers(tt_http_req *req, void *udata)
{
	(void)udata;
	assert_int_equal(tt_http_set_header(req, "Content-Length", "5"), TT_EINVAL);
	assert_int_equal(tt_http_set_header(req, "X-Request-Id", "x"), TT_EINVAL);
	assert_int_equal(tt_http_set_header(req, "X-Evil", "a\r\nSet-Cookie: x"), TT_EINVAL);
	assert_int_equal(tt_http_set_header(req, "Bad Name", "v"), TT_EINVAL);
	assert_int_equal(tt_http_set_header(req, "Cache-Control", "no-store"), TT_OK);
	tt_http_respond_data(req, 201, "{\"ok\":true}");
}

static void
h_invalid(tt_http_req *req, void *udata)
{
	tt_http_details d;

	(void)udata;
	tt_http_details_init(&d);
	tt_http_details_add(&d, "metrics[3].value", "must be a finite number");
	tt_http_details_add(&d, "venueId", "is \"required\"");
	tt_http_respond_invalid(req, &d);
	tt_http_details_fini(&d);
}

/* ---- fixtures ----------------------------------------------------------------- */

static tt_auth *auth;
static tt_metrics *reg;

static tt_http_server *
server_new(size_t max_body, int rl_max, tt_redis *(*redis)(void))
{
	tt_http_options o;
	tt_http_server *srv = NULL;
	char err[128];

	tt_http_options_init(&o, "http-test");
	o.bind = "127.0.0.1";
	o.port = 0;
	o.threads = 2;
	o.max_body = max_body;
	o.auth = auth;
	o.metrics = reg;
	o.access_log = false;
	o.rate_limit_max = rl_max;
	o.rate_limit_window = 5;
	o.redis = redis;
	assert_int_equal(tt_http_server_new(&srv, &o, err, sizeof(err)), TT_OK);
	assert_int_equal(tt_http_route(srv, "GET", "/customers/venue/:venueId/:customerId",
	    TT_HTTP_PUBLIC, h_echo, NULL), TT_OK);
	assert_int_equal(tt_http_route(srv, "GET", "/things/:id", TT_HTTP_PUBLIC, h_echo, NULL), TT_OK);
	assert_int_equal(tt_http_route(srv, "GET", "/things/special", TT_HTTP_PUBLIC, h_echo, NULL), TT_OK);
	assert_int_equal(tt_http_route(srv, "POST", "/things/:id", TT_HTTP_PUBLIC, h_echo, NULL), TT_OK);
	assert_int_equal(tt_http_route(srv, "GET", "/", TT_HTTP_PUBLIC, h_echo, NULL), TT_OK);
	assert_int_equal(tt_http_route(srv, "GET", "/private", TT_HTTP_PROTECTED, h_echo, NULL), TT_OK);
	assert_int_equal(tt_http_route(srv, "POST", "/echo", TT_HTTP_PUBLIC, h_echo, NULL), TT_OK);
	assert_int_equal(tt_http_route(srv, "GET", "/silent", TT_HTTP_PUBLIC, h_silent, NULL), TT_OK);
	assert_int_equal(tt_http_route(srv, "GET", "/headers", TT_HTTP_PUBLIC, h_headers, NULL), TT_OK);
	assert_int_equal(tt_http_route(srv, "GET", "/invalid", TT_HTTP_PUBLIC, h_invalid, NULL), TT_OK);
	return srv;
}

static int
setup(void **state)
{
	(void)state;
	if (tt_auth_new(&auth, SECRET, 0) != TT_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tt_auth_free(auth);
	return 0;
}

static int
reg_setup(void **state)
{
	(void)state;
	reg = tt_metrics_new();
	return reg != NULL ? 0 : -1;
}

static int
reg_teardown(void **state)
{
	(void)state;
	tt_metrics_free(reg);
	reg = NULL;
	return 0;
}

/* ---- pure helpers ----------------------------------------------------------- */

static void
test_url_decode_escapes_and_bounds(void **state)
{
	(void)state;
	char out[8];
	size_t n = 99;

	assert_int_equal(tt_http_url_decode("a%41+b", 6, true, out, sizeof(out), &n), TT_OK);
	assert_string_equal(out, "aA b");
	assert_int_equal(n, 4);
	assert_int_equal(tt_http_url_decode("a+b", 3, false, out, sizeof(out), NULL), TT_OK);
	assert_string_equal(out, "a+b");
	assert_int_equal(tt_http_url_decode("%e2%82%ac", 9, false, out, sizeof(out), &n), TT_OK);
	assert_int_equal(n, 3);
	static const char *const bad[] = { "%", "%4", "%G1", "%4g", "ab%", "%%41" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tt_http_url_decode(bad[i], strlen(bad[i]), true, out,
		    sizeof(out), NULL), TT_EPARSE);
		assert_string_equal(out, "");
	}
	assert_int_equal(tt_http_url_decode("a%00b", 5, true, out, sizeof(out), NULL), TT_EPARSE);
	/* 7 bytes fit in 8, 8 do not. */
	assert_int_equal(tt_http_url_decode("abcdefg", 7, true, out, sizeof(out), NULL), TT_OK);
	assert_int_equal(tt_http_url_decode("abcdefgh", 8, true, out, sizeof(out), NULL), TT_ETOOBIG);
	assert_int_equal(tt_http_url_decode("%41%41%41%41%41%41%41%41", 24, true, out,
	    sizeof(out), NULL), TT_ETOOBIG);
	assert_int_equal(tt_http_url_decode("", 0, true, out, sizeof(out), &n), TT_OK);
	assert_int_equal(n, 0);
}

static void
test_query_lookup(void **state)
{
	(void)state;
	char out[16];

	assert_int_equal(tt_http_query_get("venueId=v-1&period=7d", "venueId", out, sizeof(out)), TT_OK);
	assert_string_equal(out, "v-1");
	assert_int_equal(tt_http_query_get("venueId=v-1&period=7d", "period", out, sizeof(out)), TT_OK);
	assert_string_equal(out, "7d");
	assert_int_equal(tt_http_query_get("venueId=v-1", "venue", out, sizeof(out)), TT_ENOTFOUND);
	assert_int_equal(tt_http_query_get("a=1&a=2", "a", out, sizeof(out)), TT_OK);
	assert_string_equal(out, "1");
	assert_int_equal(tt_http_query_get("flag&b=2", "flag", out, sizeof(out)), TT_OK);
	assert_string_equal(out, "");
	assert_int_equal(tt_http_query_get("a=&b=2", "a", out, sizeof(out)), TT_OK);
	assert_string_equal(out, "");
	assert_int_equal(tt_http_query_get("venue%49d=x+y%21", "venueId", out, sizeof(out)), TT_OK);
	assert_string_equal(out, "x y!");
	assert_int_equal(tt_http_query_get("a=%ZZ", "a", out, sizeof(out)), TT_EPARSE);
	assert_int_equal(tt_http_query_get("a=%00", "a", out, sizeof(out)), TT_EPARSE);
	assert_int_equal(tt_http_query_get("a=0123456789abcdef", "a", out, sizeof(out)), TT_ETOOBIG);
	assert_string_equal(out, "");
	assert_int_equal(tt_http_query_get("&&a=1&", "a", out, sizeof(out)), TT_OK);
	assert_string_equal(out, "1");
	assert_int_equal(tt_http_query_get("%ZZ=1&a=2", "a", out, sizeof(out)), TT_OK);
	assert_string_equal(out, "2");
	assert_int_equal(tt_http_query_get(NULL, "a", out, sizeof(out)), TT_ENOTFOUND);
	assert_int_equal(tt_http_query_get("", "a", out, sizeof(out)), TT_ENOTFOUND);
}

static void
test_envelopes_are_exact(void **state)
{
	(void)state;
	tt_strbuf b;
	tt_http_details d;

	tt_strbuf_init(&b, 4096);
	tt_http_envelope_data(&b, "{\"status\":\"ok\"}");
	assert_string_equal(tt_strbuf_str(&b), "{\"success\":true,\"data\":{\"status\":\"ok\"}}");
	tt_strbuf_reset(&b);
	tt_http_envelope_error(&b, "Rate limit exceeded", "RATE_LIMIT_EXCEEDED", NULL);
	assert_string_equal(tt_strbuf_str(&b),
	    "{\"success\":false,\"error\":\"Rate limit exceeded\",\"code\":\"RATE_LIMIT_EXCEEDED\"}");
	tt_strbuf_reset(&b);
	tt_http_details_init(&d);
	tt_http_envelope_error(&b, "Validation failed", "VALIDATION_ERROR", &d);  /* empty: no key */
	assert_string_equal(tt_strbuf_str(&b),
	    "{\"success\":false,\"error\":\"Validation failed\",\"code\":\"VALIDATION_ERROR\"}");
	tt_strbuf_reset(&b);
	tt_http_details_add(&d, "startDate", "Start date is required");
	tt_http_details_add(&d, "metrics[0].value", "got \"%s\"", "x\ny");
	tt_http_envelope_error(&b, "Validation failed", "VALIDATION_ERROR", &d);
	assert_string_equal(tt_strbuf_str(&b),
	    "{\"success\":false,\"error\":\"Validation failed\",\"code\":\"VALIDATION_ERROR\","
	    "\"details\":[{\"field\":\"startDate\",\"message\":\"Start date is required\"},"
	    "{\"field\":\"metrics[0].value\",\"message\":\"got \\\"x\\ny\\\"\"}]}");
	tt_http_details_fini(&d);

	tt_http_details_init(&d);
	for (int i = 0; i < TT_HTTP_DETAILS_MAX + 3; i++)
		tt_http_details_add(&d, "f", "m%d", i);
	assert_int_equal(d.count, TT_HTTP_DETAILS_MAX);
	assert_int_equal(d.dropped, 3);
	tt_http_details_fini(&d);
	tt_strbuf_fini(&b);
}

static void
test_request_id_rule(void **state)
{
	(void)state;
	char long_id[200];

	assert_true(tt_http_request_id_valid("abc-123_X.y:z"));
	assert_false(tt_http_request_id_valid(""));
	assert_false(tt_http_request_id_valid("has space"));
	assert_false(tt_http_request_id_valid("quote\""));
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_false(tt_http_request_id_valid(long_id));
	long_id[128] = '\0';
	assert_true(tt_http_request_id_valid(long_id));
}

static void
test_route_registration_rules(void **state)
{
	(void)state;
	tt_http_server *srv = server_new(1024, 0, NULL);

	assert_int_equal(tt_http_route(srv, "GET", "/things/:id", 0, h_echo, NULL), TT_EINVAL);
	assert_int_equal(tt_http_route(srv, "GET", "no-slash", 0, h_echo, NULL), TT_EINVAL);
	assert_int_equal(tt_http_route(srv, "GET", "/a//b", 0, h_echo, NULL), TT_EINVAL);
	assert_int_equal(tt_http_route(srv, "GET", "/a/:", 0, h_echo, NULL), TT_EINVAL);
	assert_int_equal(tt_http_route(srv, "GET", "/a/:bad-name", 0, h_echo, NULL), TT_EINVAL);
	assert_int_equal(tt_http_route(srv, "GET", "/a/", 0, h_echo, NULL), TT_EINVAL);
	assert_int_equal(tt_http_route(srv, "G ET", "/a", 0, h_echo, NULL), TT_EINVAL);
	assert_int_equal(tt_http_route(srv, "GET", "/:a/:b/:c/:d/:e/:f/:g/:h/:i", 0, h_echo, NULL), TT_EINVAL);
	assert_int_equal(tt_http_route(srv, "DELETE", "/things/:id", 0, h_echo, NULL), TT_OK);
	tt_http_server_free(srv);
}

/* ---- the pipeline, injected ---------------------------------------------------- */

static void
test_params_are_extracted_and_decoded(void **state)
{
	(void)state;
	tt_http_server *srv = server_new(1024, 0, NULL);
	resp r;

	inject(srv, "GET", "/customers/venue/venue-1/c%2F42?q=a%20b", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"success\":true,\"data\":{\"route\":"
	    "\"/customers/venue/:venueId/:customerId\",\"venueId\":\"venue-1\","
	    "\"customerId\":\"c/42\",\"q\":\"a b\"}}");
	free(r.body);

	inject(srv, "GET", "/customers/venue/v/%ZZ", NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body, "{\"success\":false,\"error\":\"Validation failed\","
	    "\"code\":\"VALIDATION_ERROR\",\"details\":[{\"field\":\"customerId\","
	    "\"message\":\"invalid percent-encoding or too long\"}]}");
	free(r.body);

	inject(srv, "GET", "/customers/venue//c", NULL, NULL, &r);   /* empty segment */
	assert_int_equal(r.status, 404);
	free(r.body);
	tt_http_server_free(srv);
}

static void
test_literal_beats_param_and_trailing_slash(void **state)
{
	(void)state;
	tt_http_server *srv = server_new(1024, 0, NULL);
	resp r;

	inject(srv, "GET", "/things/special", NULL, NULL, &r);
	assert_string_equal(r.body, "{\"success\":true,\"data\":{\"route\":\"/things/special\"}}");
	free(r.body);
	inject(srv, "GET", "/things/other/", NULL, NULL, &r);
	assert_string_equal(r.body, "{\"success\":true,\"data\":{\"route\":\"/things/:id\",\"id\":\"other\"}}");
	free(r.body);
	inject(srv, "GET", "/", NULL, NULL, &r);
	assert_string_equal(r.body, "{\"success\":true,\"data\":{\"route\":\"/\"}}");
	free(r.body);
	tt_http_server_free(srv);
}

static void
test_unknown_route_and_wrong_method(void **state)
{
	(void)state;
	tt_http_server *srv = server_new(1024, 0, NULL);
	resp r;
	char v[128];

	inject(srv, "GET", "/nope?x=1", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body,
	    "{\"success\":false,\"error\":\"Route not found\",\"code\":\"NOT_FOUND\"}");
	assert_non_null(resp_header(&r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "application/json; charset=utf-8");
	free(r.body);

	inject(srv, "PUT", "/things/1", NULL, NULL, &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.body,
	    "{\"success\":false,\"error\":\"Method not allowed\",\"code\":\"METHOD_NOT_ALLOWED\"}");
	assert_non_null(resp_header(&r, "Allow", v, sizeof(v)));
	assert_string_equal(v, "GET, HEAD, POST");
	free(r.body);

	/* HEAD is served by GET, with the length but without the body. */
	inject(srv, "GET", "/things/1", NULL, NULL, &r);
	size_t get_len = r.body_len;
	free(r.body);
	inject(srv, "HEAD", "/things/1", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	assert_non_null(resp_header(&r, "Content-Length", v, sizeof(v)));
	assert_int_equal(strtoul(v, NULL, 10), get_len);
	free(r.body);
	tt_http_server_free(srv);
}

static void
test_body_limit_gives_413_and_close(void **state)
{
	(void)state;
	tt_http_server *srv = server_new(16, 0, NULL);
	resp r;
	char v[64];

	inject(srv, "POST", "/echo", NULL, "0123456789abcdef", &r);   /* exactly 16 */
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"success\":true,\"data\":{\"route\":\"/echo\",\"bodyLen\":16}}");
	free(r.body);
	inject(srv, "POST", "/echo", NULL, "0123456789abcdefX", &r);
	assert_int_equal(r.status, 413);
	assert_string_equal(r.body, "{\"success\":false,\"error\":\"Request body too large\","
	    "\"code\":\"PAYLOAD_TOO_LARGE\",\"details\":[{\"field\":\"body\","
	    "\"message\":\"must be at most 16 bytes\"}]}");
	assert_non_null(resp_header(&r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "close");
	free(r.body);
	tt_http_server_free(srv);
}

static void
test_request_id_is_echoed_or_generated(void **state)
{
	(void)state;
	tt_http_server *srv = server_new(1024, 0, NULL);
	const char *sane[] = { "X-Request-Id", "req-123.abc", NULL };
	const char *insane[] = { "x-request-id", "bad id\"", NULL };
	resp r;
	char v[160];

	inject(srv, "GET", "/things/1", sane, NULL, &r);
	assert_non_null(resp_header(&r, "X-Request-Id", v, sizeof(v)));
	assert_string_equal(v, "req-123.abc");
	free(r.body);
	inject(srv, "GET", "/nope", insane, NULL, &r);
	assert_non_null(resp_header(&r, "X-Request-Id", v, sizeof(v)));
	assert_int_equal(strlen(v), 36);
	assert_int_equal(v[14], '4');
	assert_true(tt_http_request_id_valid(v));
	free(r.body);
	tt_http_server_free(srv);
}

static char *
token_for(const char *claims, const char *key)
{
	jwt_t *j = NULL;
	char *t;

	jwt_new(&j);
	jwt_add_grants_json(j, claims);
	jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)key, (int)strlen(key));
	t = jwt_encode_str(j);
	jwt_free(j);
	return t;
}

static void
test_auth_routes_need_a_valid_bearer(void **state)
{
	(void)state;
	tt_http_server *srv = server_new(1024, 0, NULL);
	char *good = token_for("{\"userId\":\"u-7\",\"venueId\":\"venue-1\"}", SECRET);
	char *bad = token_for("{\"userId\":\"u-7\",\"venueId\":\"venue-1\"}", "wrong");
	char hgood[1024], hbad[1024], v[64];
	const char *with_good[] = { "Authorization", hgood, NULL };
	const char *with_bad[] = { "authorization", hbad, NULL };
	const char *basic[] = { "Authorization", "Basic dTpw", NULL };
	resp r;

	snprintf(hgood, sizeof(hgood), "Bearer %s", good);
	snprintf(hbad, sizeof(hbad), "Bearer %s", bad);

	inject(srv, "GET", "/private", NULL, NULL, &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.body, "{\"success\":false,\"error\":\"Authentication required\","
	    "\"code\":\"UNAUTHORIZED\"}");
	assert_non_null(resp_header(&r, "WWW-Authenticate", v, sizeof(v)));
	assert_string_equal(v, "Bearer");
	free(r.body);

	inject(srv, "GET", "/private", basic, NULL, &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.body, "{\"success\":false,\"error\":\"Authentication required\","
	    "\"code\":\"UNAUTHORIZED\"}");
	free(r.body);

	inject(srv, "GET", "/private", with_bad, NULL, &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.body, "{\"success\":false,\"error\":\"Invalid token: invalid signature\","
	    "\"code\":\"UNAUTHORIZED\"}");
	free(r.body);

	inject(srv, "GET", "/private", with_good, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body,
	    "{\"success\":true,\"data\":{\"route\":\"/private\",\"user\":\"u-7\"}}");
	free(r.body);
	free(good);
	free(bad);
	tt_http_server_free(srv);
}

static void
test_handler_errors_become_500_without_internals(void **state)
{
	(void)state;
	tt_http_server *srv = server_new(1024, 0, NULL);
	resp r;
	char v[64];

	inject(srv, "GET", "/silent", NULL, NULL, &r);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, "{\"success\":false,\"error\":\"Internal server error\","
	    "\"code\":\"INTERNAL_ERROR\"}");
	free(r.body);

	inject(srv, "GET", "/headers", NULL, NULL, &r);   /* asserts inside */
	assert_int_equal(r.status, 201);
	assert_non_null(resp_header(&r, "Cache-Control", v, sizeof(v)));
	assert_string_equal(v, "no-store");
	assert_null(resp_header(&r, "X-Evil", v, sizeof(v)));
	free(r.body);

	inject(srv, "GET", "/invalid", NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body, "{\"success\":false,\"error\":\"Validation failed\","
	    "\"code\":\"VALIDATION_ERROR\",\"details\":[{\"field\":\"metrics[3].value\","
	    "\"message\":\"must be a finite number\"},{\"field\":\"venueId\","
	    "\"message\":\"is \\\"required\\\"\"}]}");
	free(r.body);
	tt_http_server_free(srv);
}

static void
test_metrics_endpoint_counts_requests(void **state)
{
	(void)state;
	tt_http_server *srv = server_new(1024, 0, NULL);
	resp r;
	char v[128];

	inject(srv, "GET", "/things/1", NULL, NULL, &r);
	free(r.body);
	inject(srv, "GET", "/things/2", NULL, NULL, &r);
	free(r.body);
	inject(srv, "GET", "/missing", NULL, NULL, &r);
	free(r.body);
	inject(srv, "GET", "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(resp_header(&r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body,
	    "http_requests_total{route=\"/things/:id\",method=\"GET\",status=\"200\"} 2\n"));
	assert_non_null(strstr(r.body,
	    "http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n"));
	assert_non_null(strstr(r.body,
	    "http_request_duration_seconds_count{route=\"/things/:id\"} 2\n"));
	assert_non_null(strstr(r.body, "# TYPE http_request_duration_seconds histogram\n"));
	assert_non_null(strstr(r.body, "http_requests_in_flight 1\n"));   /* itself */
	free(r.body);
	tt_http_server_free(srv);
}

/* ---- a real server ------------------------------------------------------------ */

static int
dial(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Reads one response (headers + Content-Length body); 0 on EOF first. */
static int
read_response(int fd, resp *r)
{
	char buf[65536];
	size_t len = 0;
	char *end = NULL;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		assert_true(poll(&p, 1, 5000) > 0);
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return len == 0 ? 0 : -1;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end == NULL)
			continue;
		const char *cl = NULL;
		for (const char *q = buf; q < end && cl == NULL; q++)
			if (strncasecmp(q, "\r\nContent-Length:", 17) == 0)
				cl = q;
		assert_non_null(cl);
		size_t want = (size_t)strtoul(cl + 17, NULL, 10);
		if (len >= (size_t)(end + 4 - buf) + want)
			break;
	}
	resp_parse(r, buf, len);
	return 1;
}

static bool
peer_closed(int fd)
{
	char c;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 3000) <= 0)
		return false;
	return read(fd, &c, 1) == 0;
}

static void
send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(fd, s, n);
		assert_true(w > 0);
		s += w;
		n -= (size_t)w;
	}
}

static void
test_real_server_keep_alive_and_limits(void **state)
{
	(void)state;
	tt_http_server *srv = server_new(64, 0, NULL);
	char err[128], v[64];
	resp r;
	int fd;

	assert_int_equal(tt_http_server_start(srv, err, sizeof(err)), TT_OK);
	assert_true(tt_http_server_port(srv) > 0);
	fd = dial(tt_http_server_port(srv));

	/* Two requests on one connection. */
	send_all(fd, "GET /things/a HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, &r), 1);
	assert_int_equal(r.status, 200);
	assert_non_null(resp_header(&r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "keep-alive");
	free(r.body);
	send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
	assert_int_equal(read_response(fd, &r), 1);
	assert_string_equal(r.body, "{\"success\":true,\"data\":{\"route\":\"/echo\",\"bodyLen\":5}}");
	free(r.body);

	/* A chunked body is read through. */
	send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
	assert_int_equal(read_response(fd, &r), 1);
	assert_string_equal(r.body, "{\"success\":true,\"data\":{\"route\":\"/echo\",\"bodyLen\":7}}");
	free(r.body);

	/* 404 keeps the connection. */
	send_all(fd, "GET /none HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, &r), 1);
	assert_int_equal(r.status, 404);
	free(r.body);

	/*
	 * Over the limit: 413 at once, before the body is sent, and the
	 * response says close (civetweb itself then drains or times out).
	 */
	send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
	assert_int_equal(read_response(fd, &r), 1);
	assert_int_equal(r.status, 413);
	assert_non_null(resp_header(&r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "close");
	free(r.body);
	close(fd);

	/* A chunked body over the limit. */
	fd = dial(tt_http_server_port(srv));
	send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "50\r\n01234567890123456789012345678901234567890123456789012345678901234567890123456789\r\n"
	    "0\r\n\r\n");
	assert_int_equal(read_response(fd, &r), 1);
	assert_int_equal(r.status, 413);
	free(r.body);
	close(fd);

	/* Connection: close is honoured. */
	fd = dial(tt_http_server_port(srv));
	send_all(fd, "GET /things/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(read_response(fd, &r), 1);
	assert_non_null(resp_header(&r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "close");
	free(r.body);
	assert_true(peer_closed(fd));
	close(fd);

	tt_http_server_stop(srv);
	tt_http_server_stop(srv);   /* idempotent */
	tt_http_server_free(srv);
}

/* ---- rate limiting against a live Redis ----------------------------------- */

static tt_redis *test_redis;

static tt_redis *
redis_for_test(void)
{
	return test_redis;
}

static void
test_rate_limit_gives_429_with_retry_after(void **state)
{
	(void)state;
	tt_http_server *srv;
	char *tok = token_for("{\"userId\":\"u\",\"venueId\":\"v\"}", SECRET);
	char hdr[1024], path[64], v[64], key[128];
	const char *h[] = { "Authorization", hdr, NULL };
	resp r;

	if (tt_redis_new(&test_redis, "127.0.0.1", 6379, NULL, 500) != TT_OK ||
	    tt_redis_ping(test_redis, NULL, NULL, 0) != TT_OK) {
		tt_redis_free(test_redis);
		test_redis = NULL;
		free(tok);
		skip();
	}
	srv = server_new(1024, 2, redis_for_test);
	snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
	snprintf(path, sizeof(path), "/things/rl-%ld-%ld", (long)getpid(), (long)time(NULL));
	/* Public routes are not limited. */
	for (int i = 0; i < 3; i++) {
		inject(srv, "GET", path, NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_null(resp_header(&r, "X-RateLimit-Limit", v, sizeof(v)));
		free(r.body);
	}
	/* The protected one: 2 pass, the 3rd is refused even before auth. */
	snprintf(key, sizeof(key), "rate_limit:127.0.0.1:/private");
	const char *del[] = { "DEL", key };
	tt_redis_cmd(test_redis, NULL, 2, del, NULL, NULL, 0);
	inject(srv, "GET", "/private", h, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(resp_header(&r, "X-RateLimit-Remaining", v, sizeof(v)));
	assert_string_equal(v, "1");
	free(r.body);
	/* Spelling variants of one route share its window. */
	inject(srv, "GET", "/PRIVATE/", NULL, NULL, &r);
	assert_int_equal(r.status, 401);
	assert_non_null(resp_header(&r, "X-RateLimit-Remaining", v, sizeof(v)));
	assert_string_equal(v, "0");
	free(r.body);
	inject(srv, "GET", "/private", h, NULL, &r);
	assert_int_equal(r.status, 429);
	assert_string_equal(r.body, "{\"success\":false,\"error\":\"Rate limit exceeded\","
	    "\"code\":\"RATE_LIMIT_EXCEEDED\"}");
	assert_non_null(resp_header(&r, "Retry-After", v, sizeof(v)));
	assert_in_range(strtol(v, NULL, 10), 1, 5);
	free(r.body);

	tt_redis_cmd(test_redis, NULL, 2, del, NULL, NULL, 0);
	tt_http_server_free(srv);
	tt_redis_free(test_redis);
	test_redis = NULL;
	free(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_decode_escapes_and_bounds),
		cmocka_unit_test(test_query_lookup),
		cmocka_unit_test(test_envelopes_are_exact),
		cmocka_unit_test(test_request_id_rule),
		cmocka_unit_test_setup_teardown(test_route_registration_rules, reg_setup, reg_teardown),
		cmocka_unit_test_setup_teardown(test_params_are_extracted_and_decoded, reg_setup, reg_teardown),
		cmocka_unit_test_setup_teardown(test_literal_beats_param_and_trailing_slash, reg_setup, reg_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_route_and_wrong_method, reg_setup, reg_teardown),
		cmocka_unit_test_setup_teardown(test_body_limit_gives_413_and_close, reg_setup, reg_teardown),
		cmocka_unit_test_setup_teardown(test_request_id_is_echoed_or_generated, reg_setup, reg_teardown),
		cmocka_unit_test_setup_teardown(test_auth_routes_need_a_valid_bearer, reg_setup, reg_teardown),
		cmocka_unit_test_setup_teardown(test_handler_errors_become_500_without_internals, reg_setup, reg_teardown),
		cmocka_unit_test_setup_teardown(test_metrics_endpoint_counts_requests, reg_setup, reg_teardown),
		cmocka_unit_test_setup_teardown(test_real_server_keep_alive_and_limits, reg_setup, reg_teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_gives_429_with_retry_after, reg_setup, reg_teardown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
