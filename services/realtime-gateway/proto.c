/*
 * proto.c - what clients say, and what the gateway answers.
 *
 * Engine.IO packets (from a POST body or a WebSocket frame) carry Socket.IO
 * packets; the namespace /analytics/realtime is the only one. Joining it
 * authenticates (auth.token, else the handshake's header or query token);
 * a refusal is a CONNECT_ERROR whose data says UNAUTHORIZED or FORBIDDEN.
 * Two events exist, subscribe:metrics and unsubscribe:metrics, answered
 * through the client's acknowledgement with the REST API's envelope. The
 * plain WebSocket endpoint carries the same two requests as {event, data}
 * JSON frames. Nothing a client sends can reach another venue: a venue
 * token's room is its own venue, only an admin token may name one.
 */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tt/crypto.h"
#include "tt/http.h"
#include "tt/log.h"
#include "tt/sio.h"
#include "tt/strbuf.h"
#include "tt/time.h"

#define MAX_METRICS_LISTED 16

tt_err
gw_authenticate(gw *g, gw_sess *s, const char *token, char *err, size_t errlen)
{
	tt_auth_claims *c;
	tt_err e;

	if (token == NULL || token[0] == '\0') {
		tt_metric_inc(g->m.auth_failures);
		return tt_seterr(err, errlen, TT_EAUTH, "no token provided");
	}
	if ((c = malloc(sizeof(*c))) == NULL)
		return tt_seterr(err, errlen, TT_ENOMEM, "out of memory");
	e = tt_auth_verify(g->auth, token, strlen(token), tt_now_ms() / 1000, c, err, errlen);
	if (e == TT_OK && c->venue_id[0] == '\0' && !c->admin)
		e = tt_seterr(err, errlen, TT_EFORBIDDEN,
		    "the token has no venueId claim and is not an admin token");
	if (e == TT_OK) {
		memcpy(s->user_id, c->user_id, sizeof(s->user_id));
		memcpy(s->role, c->role, sizeof(s->role));
		memcpy(s->claim_venue, c->venue_id, sizeof(s->claim_venue));
		s->admin = c->admin;
	} else {
		tt_metric_inc(g->m.auth_failures);
		if (e != TT_EFORBIDDEN)
			e = TT_EAUTH;
	}
	free(c);
	return e;
}

/* ------------------------------------------------------- (un)subscribing */

static void
metrics_json(tt_strbuf *b, unsigned mask)
{
	bool first = true;

	tt_strbuf_putc(b, '[');
	for (int m = 0; m < GW_NMETRICS; m++)
		if (mask & (1u << m)) {
			tt_strbuf_printf(b, "%s\"%s\"", first ? "" : ",", gw_metric_names[m]);
			first = false;
		}
	tt_strbuf_putc(b, ']');
}

/* {"venueId":…,"metrics":[…]}: what the session is subscribed to. */
static void
subscribed_json(tt_strbuf *b, const gw_sess *s)
{
	tt_strbuf_puts(b, "{\"venueId\":");
	if (s->venue[0] != '\0')
		tt_strbuf_json_str(b, s->venue);
	else
		tt_strbuf_puts(b, "null");
	tt_strbuf_puts(b, ",\"metrics\":");
	metrics_json(b, s->mask);
	tt_strbuf_putc(b, '}');
}

static void
success_json(tt_strbuf *b, const gw_sess *s)
{
	tt_strbuf_puts(b, "{\"success\":true,\"data\":");
	subscribed_json(b, s);
	tt_strbuf_putc(b, '}');
}

/* Drops the pending updates of the metrics in bits. */
static void
clear_slots(gw_sess *s, unsigned bits)
{
	for (int m = 0; m < GW_NMETRICS; m++)
		if ((bits & (1u << m)) && s->slot[m] != NULL) {
			gw_buf_unref(s->slot[m]);
			s->slot[m] = NULL;
		}
}

/*
 * Applies subscribe:metrics (unsub false) or unsubscribe:metrics to s and
 * writes the answer envelope into out. True on success.
 */
static bool
subscription(gw *g, gw_sess *s, const cJSON *arg, bool unsub, tt_strbuf *out)
{
	tt_http_details d;
	const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(arg, "metrics");
	const cJSON *venue = cJSON_GetObjectItemCaseSensitive(arg, "venueId");
	unsigned bits = 0;
	const char *code = "VALIDATION_ERROR", *message = "Validation failed";
	char target[TT_AUTH_VENUE_MAX] = "";

	tt_http_details_init(&d);
	if (!cJSON_IsObject(arg)) {
		tt_http_details_add(&d, "data", "must be an object {metrics: [...]}");
		goto fail;
	}
	if (metrics == NULL && unsub) {
		bits = (1u << GW_NMETRICS) - 1;
	} else if (!cJSON_IsArray(metrics)) {
		tt_http_details_add(&d, "metrics", "must be an array of metric names (revenue, sales, traffic)");
	} else if (cJSON_GetArraySize(metrics) == 0 || cJSON_GetArraySize(metrics) > MAX_METRICS_LISTED) {
		tt_http_details_add(&d, "metrics", "must list 1 to %d metric names", MAX_METRICS_LISTED);
	} else {
		int i = 0;
		const cJSON *it;
		cJSON_ArrayForEach(it, metrics) {
			int m = cJSON_IsString(it) ? gw_metric_index(it->valuestring) : -1;
			char field[32];
			snprintf(field, sizeof(field), "metrics[%d]", i++);
			if (m < 0)
				tt_http_details_add(&d, field, "unknown metric (expected revenue, sales or traffic)");
			else
				bits |= 1u << m;
		}
	}
	if (venue != NULL && !unsub) {
		if (!cJSON_IsString(venue) ||
		    !tt_auth_venue_id_valid(venue->valuestring, strlen(venue->valuestring)))
			tt_http_details_add(&d, "venueId", "must be 1 to 64 characters of [A-Za-z0-9._:-]");
		else
			snprintf(target, sizeof(target), "%s", venue->valuestring);
	}
	if (d.count > 0)
		goto fail;

	if (unsub) {
		s->mask &= ~bits;
		clear_slots(s, bits);
		if (s->mask == 0)
			gw_room_leave(g, s);
		success_json(out, s);
		tt_http_details_fini(&d);
		return true;
	}

	if (target[0] != '\0' && !s->admin && strcmp(target, s->claim_venue) != 0) {
		code = "FORBIDDEN";
		message = "This token may not read that venue";
		tt_http_details_add(&d, "venueId", "not the token's venue");
		goto fail;
	}
	if (target[0] == '\0')
		snprintf(target, sizeof(target), "%s", s->claim_venue);
	if (target[0] == '\0') {
		tt_http_details_add(&d, "venueId", "required: the token has no venueId claim");
		goto fail;
	}
	if (s->room != NULL && strcmp(s->venue, target) != 0) {
		clear_slots(s, s->mask);
		s->mask = 0;
	}
	gw_room_join(g, s, target);
	if (s->room == NULL) {
		code = "INTERNAL_ERROR";
		message = "Out of memory";
		goto fail;
	}
	/* Newly subscribed metrics get a snapshot, once the answer is queued. */
	s->pending_snapshot = bits & ~s->mask;
	s->mask |= bits;
	success_json(out, s);
	tt_http_details_fini(&d);
	return true;

fail:
	tt_http_envelope_error(out, message, code, &d);
	tt_http_details_fini(&d);
	return false;
}

/* ------------------------------------------------------------- Socket.IO */

static void
send_strbuf(gw *g, gw_sess *s, tt_strbuf *b)
{
	if (tt_strbuf_truncated(b))
		return;
	gw_sess_send_text(g, s, tt_strbuf_str(b), tt_strbuf_len(b));
}

static void
request_snapshot(gw *g, gw_sess *s)
{
	if (s->pending_snapshot != 0 && !s->closed) {
		gw_snap_request(g, s, s->pending_snapshot);
		s->pending_snapshot = 0;
	}
}

static void
sio_connect(gw *g, gw_sess *s, const tt_sio_packet *p)
{
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(p->json, "token");
	const char *token = cJSON_IsString(tok) ? tok->valuestring : s->hs_token;
	char err[256] = "", id[GW_SID_LEN + 1];
	tt_strbuf b;
	tt_err e;

	tt_strbuf_init(&b, 4096);
	if (!tt_sio_nsp_is(p, GW_NSP)) {
		tt_strbuf_puts(&b, "44");
		if (!tt_sio_nsp_is(p, "/")) {
			tt_strbuf_put(&b, p->nsp, p->nsp_len);
			tt_strbuf_putc(&b, ',');
		}
		tt_strbuf_puts(&b, "{\"message\":\"Invalid namespace\"}");
	} else if ((e = gw_authenticate(g, s, token, err, sizeof(err))) != TT_OK) {
		char msg[320];
		snprintf(msg, sizeof(msg), "Authentication error: %s", err);
		tt_strbuf_puts(&b, "44" GW_NSP ",{\"message\":");
		tt_strbuf_json_str(&b, msg);
		tt_strbuf_printf(&b, ",\"data\":{\"code\":\"%s\",\"message\":",
		    e == TT_EFORBIDDEN ? "FORBIDDEN" : "UNAUTHORIZED");
		tt_strbuf_json_str(&b, err);
		tt_strbuf_puts(&b, "}}");
	} else {
		s->joined = true;
		if (tt_random_hex(id, GW_SID_LEN / 2) != TT_OK)
			snprintf(id, sizeof(id), "%s", s->sid);
		tt_strbuf_printf(&b, "40" GW_NSP ",{\"sid\":\"%s\"}", id);
	}
	send_strbuf(g, s, &b);
	tt_strbuf_fini(&b);
}

static void
sio_event(gw *g, gw_sess *s, const tt_sio_packet *p)
{
	bool sub = strcmp(p->event, "subscribe:metrics") == 0;
	bool unsub = strcmp(p->event, "unsubscribe:metrics") == 0;
	tt_strbuf env, pkt;
	bool ok;

	if (!s->joined || !tt_sio_nsp_is(p, GW_NSP))
		return;   /* not in the namespace: socket.io drops such packets */
	tt_strbuf_init(&env, 64 * 1024);
	tt_strbuf_init(&pkt, 64 * 1024 + 64);
	if (sub || unsub) {
		ok = subscription(g, s, cJSON_GetArrayItem(p->json, 1), unsub, &env);
	} else {
		tt_http_envelope_error(&env, "Unknown event", "NOT_FOUND", NULL);
		ok = false;
	}
	if (p->has_ack) {
		tt_strbuf_printf(&pkt, "43" GW_NSP ",%llu[", (unsigned long long)p->ack);
		tt_strbuf_put(&pkt, tt_strbuf_str(&env), tt_strbuf_len(&env));
		tt_strbuf_putc(&pkt, ']');
		send_strbuf(g, s, &pkt);
	} else if (!ok && (sub || unsub)) {
		tt_strbuf_puts(&pkt, "42" GW_NSP ",[\"error:metrics\",");
		tt_strbuf_put(&pkt, tt_strbuf_str(&env), tt_strbuf_len(&env));
		tt_strbuf_putc(&pkt, ']');
		send_strbuf(g, s, &pkt);
	}
	request_snapshot(g, s);
	tt_strbuf_fini(&env);
	tt_strbuf_fini(&pkt);
}

static void
sio_packet(gw *g, gw_sess *s, const char *data, size_t len)
{
	tt_sio_packet p;
	const char *why;

	if (tt_sio_parse(data, len, &p, &why) != TT_OK) {
		tt_log(TT_LOG_DEBUG, "socket.io parse error", "sid", s->sid, "reason", why, NULL);
		gw_sess_close(g, s, "socket.io parse error");
		return;
	}
	switch (p.type) {
	case TT_SIO_CONNECT:
		sio_connect(g, s, &p);
		break;
	case TT_SIO_DISCONNECT:
		if (tt_sio_nsp_is(&p, GW_NSP)) {
			s->joined = false;
			clear_slots(s, s->mask);
			s->mask = 0;
			gw_room_leave(g, s);
		}
		break;
	case TT_SIO_EVENT:
		sio_event(g, s, &p);
		break;
	default:
		break;   /* ACK: the gateway asks for none */
	}
	tt_sio_packet_fini(&p);
}

void
gw_eio_packet(gw *g, gw_sess *s, const char *pkt, size_t len)
{
	if (len == 0) {
		gw_sess_close(g, s, "empty engine.io packet");
		return;
	}
	switch (pkt[0]) {
	case TT_EIO_CLOSE:
		gw_sess_close(g, s, "client sent close");
		break;
	case TT_EIO_PING:
		gw_sess_send_text(g, s, "3", 1);
		break;
	case TT_EIO_PONG:
		s->pong_due_ms = 0;
		break;
	case TT_EIO_MESSAGE:
		sio_packet(g, s, pkt + 1, len - 1);
		break;
	case TT_EIO_NOOP:
		break;
	default:
		gw_sess_close(g, s, "engine.io parse error");
		break;
	}
}

/* --------------------------------------------------------- plain frames */

static void
plain_send(gw *g, gw_sess *s, const char *event, const tt_strbuf *data)
{
	tt_strbuf b;

	tt_strbuf_init(&b, 64 * 1024 + 64);
	tt_strbuf_puts(&b, "{\"event\":");
	tt_strbuf_json_str(&b, event);
	tt_strbuf_puts(&b, ",\"data\":");
	tt_strbuf_put(&b, tt_strbuf_str(data), tt_strbuf_len(data));
	tt_strbuf_putc(&b, '}');
	send_strbuf(g, s, &b);
	tt_strbuf_fini(&b);
}

void
gw_plain_open(gw *g, gw_sess *s)
{
	tt_strbuf b;

	tt_strbuf_init(&b, 1024);
	tt_strbuf_puts(&b, "{\"venueId\":");
	if (s->claim_venue[0] != '\0')
		tt_strbuf_json_str(&b, s->claim_venue);
	else
		tt_strbuf_puts(&b, "null");
	tt_strbuf_puts(&b, ",\"userId\":");
	tt_strbuf_json_str(&b, s->user_id);
	tt_strbuf_puts(&b, ",\"role\":");
	tt_strbuf_json_str(&b, s->role);
	tt_strbuf_putc(&b, '}');
	plain_send(g, s, "connected", &b);
	tt_strbuf_fini(&b);
}

void
gw_plain_message(gw *g, gw_sess *s, const char *msg, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(msg, len);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "event");
	tt_strbuf env;
	tt_http_details d;

	tt_strbuf_init(&env, 64 * 1024);
	if (!cJSON_IsObject(j) || !cJSON_IsString(ev)) {
		tt_http_details_init(&d);
		tt_http_details_add(&d, j == NULL ? "message" : "event",
		    j == NULL ? "not JSON" : "must be a string (subscribe:metrics or unsubscribe:metrics)");
		tt_http_envelope_error(&env, "Validation failed", "VALIDATION_ERROR", &d);
		tt_http_details_fini(&d);
		plain_send(g, s, "error", &env);
	} else if (strcmp(ev->valuestring, "subscribe:metrics") == 0 ||
	    strcmp(ev->valuestring, "unsubscribe:metrics") == 0) {
		bool unsub = ev->valuestring[0] == 'u';
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
		if (subscription(g, s, data, unsub, &env)) {
			tt_strbuf inner;
			tt_strbuf_init(&inner, 4096);
			subscribed_json(&inner, s);
			plain_send(g, s, "subscribed", &inner);
			tt_strbuf_fini(&inner);
			request_snapshot(g, s);
		} else {
			plain_send(g, s, "error", &env);
		}
	} else {
		tt_http_envelope_error(&env, "Unknown event", "NOT_FOUND", NULL);
		plain_send(g, s, "error", &env);
	}
	tt_strbuf_fini(&env);
	cJSON_Delete(j);
}
