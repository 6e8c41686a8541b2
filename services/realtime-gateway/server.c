/*
 * server.c - the listener on WEBSOCKET_PORT: nng's aio HTTP server, with
 * two handlers.
 *
 *   /socket.io/          Engine.IO 4: the handshake, long-polling GET (parked
 *                        until there is output) and POST, WebSocket (new or
 *                        as the upgrade of a polling session)
 *   /analytics/realtime  the plain JSON WebSocket
 *
 * A WebSocket request is checked (RFC 6455 section 4.2.1), then the
 * connection is hijacked from nng's HTTP layer and answered with 101 by the
 * session, which owns it from then on (session.c). Errors follow the
 * Engine.IO server: HTTP 400 and {"code":n,"message":…}; the plain endpoint
 * answers with the REST API's envelope.
 */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tt/http.h"
#include "tt/log.h"
#include "tt/sio.h"
#include "tt/strbuf.h"

/* Engine.IO's error codes (engine.io's Server.errors). */
enum {
	EIO_ERR_TRANSPORT = 0,   /* Transport unknown */
	EIO_ERR_SID = 1,         /* Session ID unknown */
	EIO_ERR_METHOD = 2,      /* Bad handshake method */
	EIO_ERR_REQUEST = 3,     /* Bad request */
	EIO_ERR_FORBIDDEN = 4,   /* Forbidden */
	EIO_ERR_VERSION = 5,     /* Unsupported protocol version */
};

static void
respond(nng_aio *aio, uint16_t status, const char *ctype, const char *body, size_t len)
{
	nng_http_res *res = NULL;

	if (nng_http_res_alloc(&res) != 0 || nng_http_res_set_status(res, status) != 0 ||
	    nng_http_res_set_header(res, "Content-Type", ctype) != 0 ||
	    nng_http_res_set_header(res, "Access-Control-Allow-Origin", "*") != 0 ||
	    nng_http_res_set_header(res, "Cache-Control", "no-store") != 0 ||
	    nng_http_res_copy_data(res, body, len) != 0) {
		if (res != NULL)
			nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void
eio_error(nng_aio *aio, uint16_t status, int code, const char *message)
{
	char body[160];
	int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}", code, message);
	respond(aio, status, "application/json", body, (size_t)n);
}

static void
envelope_error(nng_aio *aio, uint16_t status, const char *message, const char *code)
{
	tt_strbuf b;

	tt_strbuf_init(&b, 1024);
	tt_http_envelope_error(&b, message, code, NULL);
	respond(aio, status, "application/json; charset=utf-8", tt_strbuf_str(&b), tt_strbuf_len(&b));
	tt_strbuf_fini(&b);
}

/* The token of a request: "Authorization: Bearer x", else ?token=x; NULL when none. */
static char *
request_token(nng_http_req *req, const char *qs)
{
	const char *h = nng_http_req_get_header(req, "Authorization");
	char *out = malloc(GW_TOKEN_MAX + 1);

	if (out == NULL)
		return NULL;
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
		const char *t = h + 7;
		while (*t == ' ')
			t++;
		size_t n = strlen(t);
		if (n <= GW_TOKEN_MAX) {
			memcpy(out, t, n + 1);
			return out;
		}
	} else if (tt_http_query_get(qs, "token", out, GW_TOKEN_MAX + 1) == TT_OK) {
		return out;
	}
	free(out);
	return NULL;
}

/* True when the comma-separated header value holds token (case-insensitive). */
static bool
header_has(nng_http_req *req, const char *name, const char *token)
{
	const char *v = nng_http_req_get_header(req, name);
	size_t n = strlen(token);

	for (const char *p = v; p != NULL && *p != '\0';) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *e = p;
		while (*e != '\0' && *e != ',')
			e++;
		const char *t = e;
		while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - p) == n && strncasecmp(p, token, n) == 0)
			return true;
		p = e;
	}
	return false;
}

/*
 * Checks a WebSocket opening handshake; writes the 101 response into head.
 * NULL on success, else the reason (the request gets a 400).
 */
static const char *
ws_handshake(nng_http_req *req, char *head, size_t headlen)
{
	char accept[TT_WS_ACCEPT_LEN + 1];
	const char *version = nng_http_req_get_header(req, "Sec-WebSocket-Version");

	if (strcmp(nng_http_req_get_method(req), "GET") != 0)
		return "a WebSocket handshake is a GET";
	if (!header_has(req, "Upgrade", "websocket") || !header_has(req, "Connection", "upgrade"))
		return "not a WebSocket upgrade request";
	if (version == NULL || strcmp(version, "13") != 0)
		return "Sec-WebSocket-Version must be 13";
	if (tt_ws_accept_key(nng_http_req_get_header(req, "Sec-WebSocket-Key"), accept) != TT_OK)
		return "bad Sec-WebSocket-Key";
	snprintf(head, headlen,
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	return NULL;
}

/* Hands conn to s (gw->mu held); completes the handler's aio with no response. */
static void
take_over(gw *g, gw_sess *s, nng_aio *aio, nng_http_req *req, nng_http_conn *conn, const char *head)
{
	nng_http_hijack(conn);
	nng_http_req_free(req);
	gw_ws_start(g, s, conn, head, strlen(head));
	nng_aio_set_output(aio, 0, NULL);
	nng_aio_finish(aio, 0);
}

static void
open_packet(gw *g, gw_sess *s, bool upgrades, tt_strbuf *b)
{
	tt_strbuf_printf(b, "0{\"sid\":\"%s\",\"upgrades\":[%s],%s", s->sid,
	    upgrades ? "\"websocket\"" : "", g->open_json);
}

/* GET/POST /socket.io/?EIO=4&transport=polling|websocket[&sid=] */
static void
eio_handler(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	nng_http_conn *conn = nng_aio_get_input(aio, 2);
	gw *g = nng_http_handler_get_data(h);
	const char *method = nng_http_req_get_method(req);
	const char *q = strchr(nng_http_req_get_uri(req), '?');
	const char *qs = q != NULL ? q + 1 : NULL;
	char eio[4], transport[16], sid[GW_SID_LEN + 2], head[256];
	bool has_sid, ws;

	if (strcmp(method, "OPTIONS") == 0) {
		respond(aio, 204, "text/plain", "", 0);
		return;
	}
	if (tt_http_query_get(qs, "EIO", eio, sizeof(eio)) != TT_OK || strcmp(eio, "4") != 0) {
		eio_error(aio, 400, EIO_ERR_VERSION, "Unsupported protocol version");
		return;
	}
	if (tt_http_query_get(qs, "transport", transport, sizeof(transport)) != TT_OK ||
	    (strcmp(transport, "polling") != 0 && strcmp(transport, "websocket") != 0)) {
		eio_error(aio, 400, EIO_ERR_TRANSPORT, "Transport unknown");
		return;
	}
	ws = transport[0] == 'w';
	tt_err se = tt_http_query_get(qs, "sid", sid, sizeof(sid));
	has_sid = se == TT_OK;
	if (se != TT_OK && se != TT_ENOTFOUND) {
		eio_error(aio, 400, EIO_ERR_SID, "Session ID unknown");
		return;
	}
	if (ws) {
		const char *why = ws_handshake(req, head, sizeof(head));
		if (why != NULL) {
			eio_error(aio, 400, EIO_ERR_REQUEST, "Bad request");
			return;
		}
	}

	pthread_mutex_lock(&g->mu);
	if (!has_sid) {
		if (strcmp(method, "GET") != 0) {
			pthread_mutex_unlock(&g->mu);
			eio_error(aio, 400, EIO_ERR_METHOD, "Bad handshake method");
			return;
		}
		gw_sess *s = gw_sess_new(g, GW_KIND_SIO, ws ? GW_T_WEBSOCKET : GW_T_POLLING);
		if (s == NULL) {
			pthread_mutex_unlock(&g->mu);
			eio_error(aio, 503, EIO_ERR_REQUEST, "Server at capacity");
			return;
		}
		s->hs_token = request_token(req, qs);
		tt_strbuf b;
		tt_strbuf_init(&b, 512);
		open_packet(g, s, !ws, &b);
		if (ws) {
			gw_sess_send_text(g, s, tt_strbuf_str(&b), tt_strbuf_len(&b));
			take_over(g, s, aio, req, conn, head);
			pthread_mutex_unlock(&g->mu);
		} else {
			pthread_mutex_unlock(&g->mu);
			respond(aio, 200, "text/plain; charset=UTF-8", tt_strbuf_str(&b), tt_strbuf_len(&b));
		}
		tt_strbuf_fini(&b);
		return;
	}

	gw_sess *s = gw_sess_find(g, sid);
	if (s == NULL || s->kind != GW_KIND_SIO) {
		pthread_mutex_unlock(&g->mu);
		eio_error(aio, 400, EIO_ERR_SID, "Session ID unknown");
		return;
	}
	if (ws) {
		/* The upgrade of a polling session: this connection becomes its probe. */
		if (s->transport != GW_T_POLLING || s->conn != NULL) {
			pthread_mutex_unlock(&g->mu);
			eio_error(aio, 400, EIO_ERR_REQUEST, "Bad request");
			return;
		}
		take_over(g, s, aio, req, conn, head);
		pthread_mutex_unlock(&g->mu);
		return;
	}
	if (s->transport != GW_T_POLLING) {
		pthread_mutex_unlock(&g->mu);
		eio_error(aio, 400, EIO_ERR_REQUEST, "Bad request");
		return;
	}
	s->last_poll_ms = gw_now();
	if (strcmp(method, "GET") == 0) {
		if (s->poll_aio != NULL) {
			/* Two GETs at once: engine.io closes the session. */
			gw_sess_close(g, s, "overlapping polls");
			pthread_mutex_unlock(&g->mu);
			eio_error(aio, 400, EIO_ERR_REQUEST, "Bad request");
			return;
		}
		gw_sess_ref(s);
		s->poll_aio = aio;
		gw_sess_flush(g, s);   /* answers at once when output is waiting */
		pthread_mutex_unlock(&g->mu);
		return;
	}
	if (strcmp(method, "POST") != 0) {
		pthread_mutex_unlock(&g->mu);
		eio_error(aio, 400, EIO_ERR_METHOD, "Bad request");
		return;
	}
	void *data;
	size_t len, pos = 0;
	const char *pkt;
	size_t pkt_len;
	bool bad = false;
	nng_http_req_get_data(req, &data, &len);
	while (!s->closed && tt_eio_next(data, len, &pos, &pkt, &pkt_len)) {
		if (pkt_len == 0) {
			bad = true;
			gw_sess_close(g, s, "empty packet in a polling payload");
			break;
		}
		gw_eio_packet(g, s, pkt, pkt_len);
	}
	pthread_mutex_unlock(&g->mu);
	if (bad)
		eio_error(aio, 400, EIO_ERR_REQUEST, "Bad request");
	else
		respond(aio, 200, "text/html", "ok", 2);
}

/* GET /analytics/realtime: the plain JSON WebSocket. */
static void
plain_handler(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	nng_http_conn *conn = nng_aio_get_input(aio, 2);
	gw *g = nng_http_handler_get_data(h);
	const char *q = strchr(nng_http_req_get_uri(req), '?');
	char head[256], err[256] = "";
	const char *why;

	if ((why = ws_handshake(req, head, sizeof(head))) != NULL) {
		envelope_error(aio, 400, why, "BAD_REQUEST");
		return;
	}
	char *token = request_token(req, q != NULL ? q + 1 : NULL);
	pthread_mutex_lock(&g->mu);
	gw_sess *s = gw_sess_new(g, GW_KIND_PLAIN, GW_T_WEBSOCKET);
	if (s == NULL) {
		pthread_mutex_unlock(&g->mu);
		free(token);
		envelope_error(aio, 503, "Server at capacity", "SERVICE_UNAVAILABLE");
		return;
	}
	tt_err e = gw_authenticate(g, s, token, err, sizeof(err));
	free(token);
	if (e != TT_OK) {
		gw_sess_close(g, s, "authentication failed");
		pthread_mutex_unlock(&g->mu);
		char msg[320];
		snprintf(msg, sizeof(msg), "Authentication error: %s", err);
		envelope_error(aio, e == TT_EFORBIDDEN ? 403 : 401, msg,
		    e == TT_EFORBIDDEN ? "FORBIDDEN" : "UNAUTHORIZED");
		return;
	}
	s->joined = true;
	gw_plain_open(g, s);
	take_over(g, s, aio, req, conn, head);
	pthread_mutex_unlock(&g->mu);
}

tt_err
gw_server_start(gw *g, char *err, size_t errlen)
{
	char url[64];
	nng_url *u = NULL;
	int rv;

	snprintf(g->open_json, sizeof(g->open_json),
	    "\"pingInterval\":%d,\"pingTimeout\":%d,\"maxPayload\":%d}",
	    g->cfg->gateway_ping_interval_ms, g->cfg->gateway_ping_timeout_ms,
	    g->cfg->gateway_max_payload);
	snprintf(url, sizeof(url), "http://0.0.0.0:%d", g->cfg->websocket_port);
	if ((rv = nng_url_parse(&u, url)) != 0 || (rv = nng_http_server_hold(&g->http, u)) != 0)
		goto fail;
	if ((rv = nng_http_handler_alloc(&g->h_eio, "/socket.io", eio_handler)) != 0 ||
	    (rv = nng_http_handler_set_method(g->h_eio, NULL)) != 0 ||
	    (rv = nng_http_handler_collect_body(g->h_eio, true,
	        (size_t)g->cfg->gateway_max_payload)) != 0 ||
	    (rv = nng_http_handler_set_data(g->h_eio, g, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(g->http, g->h_eio)) != 0)
		goto fail;
	if ((rv = nng_http_handler_alloc(&g->h_plain, GW_NSP, plain_handler)) != 0 ||
	    (rv = nng_http_handler_collect_body(g->h_plain, false, 0)) != 0 ||
	    (rv = nng_http_handler_set_data(g->h_plain, g, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(g->http, g->h_plain)) != 0)
		goto fail;
	if ((rv = nng_http_server_start(g->http)) != 0)
		goto fail;
	nng_url_free(u);
	return TT_OK;
fail:
	if (u != NULL)
		nng_url_free(u);
	return tt_seterr(err, errlen, TT_ECONN, "listen on %s: %s", url, nng_strerror(rv));
}

void
gw_server_stop(gw *g)
{
	if (g->http == NULL)
		return;
	nng_http_server_stop(g->http);
	nng_http_server_release(g->http);
	g->http = NULL;
}
