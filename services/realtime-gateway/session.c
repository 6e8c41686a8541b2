/*
 * session.c - one client: its transport, its output and its life.
 *
 * Output is two things. Packets (acknowledgements, pings, errors) go
 * through a bounded FIFO: when a client lets GATEWAY_SEND_QUEUE of them
 * pile up it is too slow and is disconnected. Metric updates go to one slot
 * per metric that holds only the latest: an update that arrives while the
 * previous one is still unsent replaces it (coalesced), so a slow client
 * costs at most three pending updates and never delays anyone else.
 *
 * Over a WebSocket, output moves into the connection's byte buffer only
 * when no write is in flight, so the slots keep coalescing while the
 * client is slow; a write the client does not take within
 * GATEWAY_WRITE_TIMEOUT_MS disconnects it. Over long-polling, output waits
 * for the client's next GET, which is parked until there is some.
 *
 * Life: a session holds one reference for being open, one per I/O
 * operation in flight, one for a parked GET and one per snapshot job.
 * Closing drops the first and aborts the I/O; when the count reaches zero
 * the ticker frees the nng objects outside the lock.
 */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tt/crypto.h"
#include "tt/log.h"
#include "tt/sio.h"
#include "tt/strparse.h"
#include "tt/time.h"

#define TICK_MS 100

int64_t
gw_now(void)
{
	return tt_mono_ms();
}

/* ------------------------------------------------------------------ bufs */

gw_buf *
gw_buf_new(const char *data, size_t len, int opcode)
{
	gw_buf *b = malloc(sizeof(*b) + len + 1);

	if (b == NULL)
		return NULL;
	atomic_init(&b->refs, 1);
	b->opcode = (uint8_t)opcode;
	b->len = len;
	memcpy(b->data, data, len);
	b->data[len] = '\0';
	return b;
}

gw_buf *
gw_buf_ref(gw_buf *b)
{
	atomic_fetch_add(&b->refs, 1);
	return b;
}

void
gw_buf_unref(gw_buf *b)
{
	if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

/* ------------------------------------------------------------- the table */

static size_t
sid_bucket(const gw *g, const char *sid)
{
	return tt_hash_str(sid) % g->sid_buckets;
}

gw_sess *
gw_sess_find(gw *g, const char *sid)
{
	for (gw_sess *s = g->sid_table[sid_bucket(g, sid)]; s != NULL; s = s->sid_next)
		if (strcmp(s->sid, sid) == 0)
			return s;
	return NULL;
}

gw_sess *
gw_sess_new(gw *g, gw_kind kind, gw_transport t)
{
	gw_sess *s;

	if (g->stopping || g->nsessions >= g->cfg->gateway_max_connections ||
	    (s = calloc(1, sizeof(*s))) == NULL) {
		tt_metric_inc(g->m.handshakes_refused);
		return NULL;
	}
	s->q = calloc((size_t)g->cfg->gateway_send_queue, sizeof(*s->q));
	if (s->q == NULL || tt_random_hex(s->sid, GW_SID_LEN / 2) != TT_OK) {
		free(s->q);
		free(s);
		return NULL;
	}
	s->refs = 1;
	s->g = g;
	s->kind = kind;
	s->transport = t;
	s->created_ms = s->last_poll_ms = gw_now();
	s->next_ping_ms = s->created_ms + g->cfg->gateway_ping_interval_ms;
	tt_ws_reader_init(&s->reader, (size_t)g->cfg->gateway_max_payload);

	size_t b = sid_bucket(g, s->sid);
	s->sid_next = g->sid_table[b];
	g->sid_table[b] = s;
	s->all_next = g->all;
	if (g->all != NULL)
		g->all->all_prev = s;
	g->all = s;
	g->nsessions++;
	g->nalive++;
	tt_metric_inc(g->m.sessions_opened);
	tt_metric_set(g->m.connections, g->nsessions);
	return s;
}

void
gw_sess_ref(gw_sess *s)
{
	s->refs++;
}

void
gw_sess_unref(gw *g, gw_sess *s)
{
	if (--s->refs > 0)
		return;
	s->reap_next = g->reap;
	g->reap = s;
}

/* Frees what a session owns; called without the lock, nothing refers to it. */
static void
sess_free(gw_sess *s)
{
	if (s->rd_aio != NULL)
		nng_aio_free(s->rd_aio);
	if (s->wr_aio != NULL)
		nng_aio_free(s->wr_aio);
	if (s->conn != NULL)
		nng_http_conn_close(s->conn);
	for (int i = 0; i < s->qlen; i++)
		gw_buf_unref(s->q[(s->qhead + i) % s->g->cfg->gateway_send_queue]);
	free(s->q);
	for (int m = 0; m < GW_NMETRICS; m++)
		gw_buf_unref(s->slot[m]);
	tt_ws_reader_fini(&s->reader);
	free(s->rbuf);
	free(s->wpend);
	free(s->wfly);
	free(s->hs_token);
	free(s);
}

static void
table_remove(gw *g, gw_sess *s)
{
	gw_sess **pp = &g->sid_table[sid_bucket(g, s->sid)];
	for (; *pp != NULL; pp = &(*pp)->sid_next)
		if (*pp == s) {
			*pp = s->sid_next;
			break;
		}
	if (s->all_prev != NULL)
		s->all_prev->all_next = s->all_next;
	else
		g->all = s->all_next;
	if (s->all_next != NULL)
		s->all_next->all_prev = s->all_prev;
	g->nsessions--;
	tt_metric_set(g->m.connections, g->nsessions);
}

static void poll_complete(gw *g, gw_sess *s, const char *body, size_t len);

void
gw_sess_close(gw *g, gw_sess *s, const char *reason)
{
	if (s->closed)
		return;
	s->closed = true;
	tt_log(TT_LOG_DEBUG, "session closed", "sid", s->sid, "reason", reason, NULL);
	gw_room_leave(g, s);
	table_remove(g, s);
	if (s->poll_aio != NULL)
		poll_complete(g, s, "1", 1);   /* the Engine.IO close packet */
	if (s->rd_aio != NULL)
		nng_aio_abort(s->rd_aio, NNG_ECLOSED);
	if (s->wr_aio != NULL)
		nng_aio_abort(s->wr_aio, NNG_ECLOSED);
	gw_sess_unref(g, s);
}

/* ---------------------------------------------------------------- output */

bool
gw_sess_has_output(const gw_sess *s)
{
	if (s->qlen > 0)
		return true;
	for (int m = 0; m < GW_NMETRICS; m++)
		if (s->slot[m] != NULL)
			return true;
	return false;
}

bool
gw_sess_send(gw *g, gw_sess *s, gw_buf *b)
{
	int cap = g->cfg->gateway_send_queue;

	if (b == NULL)
		return false;
	if (s->closed) {
		gw_buf_unref(b);
		return false;
	}
	if (s->qlen == cap) {
		gw_buf_unref(b);
		tt_metric_inc(g->m.slow_disconnects);
		gw_sess_close(g, s, "send queue full");
		return false;
	}
	s->q[(s->qhead + s->qlen) % cap] = b;
	s->qlen++;
	gw_sess_flush(g, s);
	return true;
}

bool
gw_sess_send_text(gw *g, gw_sess *s, const char *text, size_t len)
{
	return gw_sess_send(g, s, gw_buf_new(text, len, TT_WS_OP_TEXT));
}

void
gw_sess_set_slot(gw *g, gw_sess *s, int metric, gw_buf *b)
{
	if (s->closed) {
		gw_buf_unref(b);
		return;
	}
	if (s->slot[metric] != NULL) {
		gw_buf_unref(s->slot[metric]);
		tt_metric_inc(g->m.coalesced);
	}
	s->slot[metric] = b;
	gw_sess_flush(g, s);
}

/* Pops the next output packet: the FIFO first, then the slots. */
static gw_buf *
sess_pop(gw *g, gw_sess *s)
{
	if (s->qlen > 0) {
		gw_buf *b = s->q[s->qhead];
		s->qhead = (s->qhead + 1) % g->cfg->gateway_send_queue;
		s->qlen--;
		return b;
	}
	for (int m = 0; m < GW_NMETRICS; m++)
		if (s->slot[m] != NULL) {
			gw_buf *b = s->slot[m];
			s->slot[m] = NULL;
			return b;
		}
	return NULL;
}

char *
gw_sess_take_payload(gw *g, gw_sess *s, size_t *len)
{
	size_t n = 0, cap = 256;
	char *out = malloc(cap);
	gw_buf *b;
	uint64_t count = 0;

	if (out == NULL)
		return NULL;
	while ((b = sess_pop(g, s)) != NULL) {
		size_t need = n + b->len + 1;
		if (need > cap) {
			while (cap < need)
				cap *= 2;
			char *o = realloc(out, cap);
			if (o == NULL) {
				gw_buf_unref(b);
				break;
			}
			out = o;
		}
		if (n > 0)
			out[n++] = TT_EIO_SEPARATOR;
		memcpy(out + n, b->data, b->len);
		n += b->len;
		count++;
		gw_buf_unref(b);
	}
	tt_metric_add(g->m.messages_sent, (double)count);
	tt_metric_add(g->m.bytes_sent, (double)n);
	*len = n;
	return out;
}

/* Answers the parked GET with body; drops the reference it held. */
static void
poll_complete(gw *g, gw_sess *s, const char *body, size_t len)
{
	nng_aio *aio = s->poll_aio;
	nng_http_res *res = NULL;

	s->poll_aio = NULL;
	s->last_poll_ms = gw_now();
	if (nng_http_res_alloc(&res) != 0 ||
	    nng_http_res_set_header(res, "Content-Type", "text/plain; charset=UTF-8") != 0 ||
	    nng_http_res_copy_data(res, body, len) != 0) {
		if (res != NULL)
			nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
	} else {
		nng_aio_set_output(aio, 0, res);
		nng_aio_finish(aio, 0);
	}
	gw_sess_unref(g, s);
}

static bool
buf_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	size_t c = *cap ? *cap : 512;
	while (c < need)
		c *= 2;
	uint8_t *p = realloc(*buf, c);
	if (p == NULL)
		return false;
	*buf = p;
	*cap = c;
	return true;
}

static bool
wpend_put(gw_sess *s, const void *data, size_t len)
{
	if (!buf_reserve(&s->wpend, &s->wpend_cap, s->wpend_len + len))
		return false;
	memcpy(s->wpend + s->wpend_len, data, len);
	s->wpend_len += len;
	return true;
}

static bool
wpend_frame(gw_sess *s, int opcode, const void *data, size_t len)
{
	uint8_t h[TT_WS_HEADER_MAX];
	size_t hl = tt_ws_header(h, opcode, len);
	return wpend_put(s, h, hl) && wpend_put(s, data, len);
}

/* Starts writing wpend when no write is in flight. */
static void
ws_kick(gw *g, gw_sess *s)
{
	nng_iov iov;

	if (s->writing || s->wpend_len == 0 || s->closed)
		return;
	uint8_t *t = s->wfly;
	size_t tc = s->wfly_cap;
	s->wfly = s->wpend;
	s->wfly_cap = s->wpend_cap;
	s->wfly_len = s->wpend_len;
	s->wpend = t;
	s->wpend_cap = tc;
	s->wpend_len = 0;
	iov.iov_buf = s->wfly;
	iov.iov_len = s->wfly_len;
	nng_aio_set_iov(s->wr_aio, 1, &iov);
	nng_aio_set_timeout(s->wr_aio, g->cfg->gateway_write_timeout_ms);
	s->writing = true;
	gw_sess_ref(s);
	tt_metric_add(g->m.bytes_sent, (double)s->wfly_len);
	nng_http_conn_write_all(s->conn, s->wr_aio);
}

void
gw_ws_frame(gw *g, gw_sess *s, int opcode, const void *data, size_t len)
{
	if (s->closed || s->conn == NULL || s->ws_closing)
		return;
	if (!wpend_frame(s, opcode, data, len)) {
		gw_sess_close(g, s, "out of memory");
		return;
	}
	ws_kick(g, s);
}

void
gw_ws_close(gw *g, gw_sess *s, int code, const char *reason)
{
	uint8_t body[TT_WS_CONTROL_MAX];
	size_t n = strlen(reason);

	if (n > sizeof(body) - 2)
		n = sizeof(body) - 2;
	body[0] = (uint8_t)(code >> 8);
	body[1] = (uint8_t)code;
	memcpy(body + 2, reason, n);
	gw_ws_frame(g, s, TT_WS_OP_CLOSE, body, n + 2);
	s->ws_closing = true;
	if (!s->writing)
		gw_sess_close(g, s, reason);
}

void
gw_sess_flush(gw *g, gw_sess *s)
{
	if (s->closed)
		return;
	if (s->transport == GW_T_WEBSOCKET) {
		gw_buf *b;
		uint64_t count = 0;
		if (s->writing || s->ws_closing || s->conn == NULL)
			return;
		while ((b = sess_pop(g, s)) != NULL) {
			bool ok = wpend_frame(s, b->opcode, b->data, b->len);
			gw_buf_unref(b);
			if (!ok) {
				gw_sess_close(g, s, "out of memory");
				return;
			}
			count++;
		}
		tt_metric_add(g->m.messages_sent, (double)count);
		ws_kick(g, s);
		return;
	}
	if (s->poll_aio != NULL && gw_sess_has_output(s)) {
		size_t len;
		char *body = gw_sess_take_payload(g, s, &len);
		if (body == NULL) {
			gw_sess_close(g, s, "out of memory");
			return;
		}
		poll_complete(g, s, body, len);
		free(body);
	}
}

/* ------------------------------------------------------------- WebSocket */

static void ws_read_next(gw *g, gw_sess *s);

/* Engine.IO over the probe WebSocket of a polling session (the upgrade). */
static void
probe_packet(gw *g, gw_sess *s, const char *pkt, size_t len)
{
	if (len == 6 && memcmp(pkt, "2probe", 6) == 0) {
		gw_ws_frame(g, s, TT_WS_OP_TEXT, "3probe", 6);
		s->upgrading = true;
		/* Releases the client's parked GET, so that it pauses polling. */
		gw_sess_send_text(g, s, "6", 1);
		return;
	}
	if (len == 1 && pkt[0] == TT_EIO_UPGRADE && s->upgrading) {
		s->transport = GW_T_WEBSOCKET;
		s->upgrading = false;
		tt_metric_inc(g->m.upgrades);
		if (s->poll_aio != NULL)
			poll_complete(g, s, "6", 1);
		gw_sess_flush(g, s);
		return;
	}
	/* Anything else on a probe is a broken client: drop the probe only. */
	gw_ws_close(g, s, TT_WS_CLOSE_PROTOCOL, "unexpected packet during upgrade");
}

static void
ws_message(gw *g, gw_sess *s, const tt_ws_event *ev)
{
	const char *text = (const char *)ev->data;

	if (s->kind == GW_KIND_PLAIN)
		gw_plain_message(g, s, text, ev->len);
	else if (s->transport == GW_T_POLLING)
		probe_packet(g, s, text, ev->len);
	else
		gw_eio_packet(g, s, text, ev->len);
}

static void
ws_rd_cb(void *arg)
{
	gw_sess *s = arg;
	gw *g = s->g;
	int rv = nng_aio_result(s->rd_aio);

	pthread_mutex_lock(&g->mu);
	s->reading = false;
	if (rv != 0 || s->closed) {
		if (!s->closed)
			gw_sess_close(g, s, rv == NNG_ECONNSHUT || rv == NNG_ECLOSED ?
			    "client closed the connection" : nng_strerror(rv));
		gw_sess_unref(g, s);
		pthread_mutex_unlock(&g->mu);
		return;
	}
	s->rlen += nng_aio_count(s->rd_aio);

	size_t off = 0;
	while (!s->closed && !s->ws_closing) {
		size_t used;
		tt_ws_event ev;
		tt_ws_read(&s->reader, s->rbuf + off, s->rlen - off, &used, &ev);
		off += used;
		if (ev.type == TT_WS_EV_NONE) {
			if (used == 0)
				break;
			continue;
		}
		switch (ev.type) {
		case TT_WS_EV_TEXT:
			ws_message(g, s, &ev);
			break;
		case TT_WS_EV_BINARY:
			gw_ws_close(g, s, TT_WS_CLOSE_UNSUPPORTED, "binary frames are not supported");
			break;
		case TT_WS_EV_PING:
			gw_ws_frame(g, s, TT_WS_OP_PONG, ev.data, ev.len);
			break;
		case TT_WS_EV_PONG:
			if (s->kind == GW_KIND_PLAIN)
				s->pong_due_ms = 0;
			break;
		case TT_WS_EV_CLOSE:
			gw_ws_close(g, s, ev.code == TT_WS_CLOSE_NO_STATUS ? TT_WS_CLOSE_NORMAL : ev.code, "");
			break;
		case TT_WS_EV_ERROR:
			gw_ws_close(g, s, ev.code, ev.reason);
			break;
		default:
			break;
		}
	}
	if (off > 0) {
		memmove(s->rbuf, s->rbuf + off, s->rlen - off);
		s->rlen -= off;
	}
	ws_read_next(g, s);
	gw_sess_unref(g, s);
	pthread_mutex_unlock(&g->mu);
}

static void
ws_read_next(gw *g, gw_sess *s)
{
	nng_iov iov;

	if (s->closed || s->ws_closing || s->reading)
		return;
	/* Room for a frame of the largest message plus its header and mask. */
	if (s->rcap - s->rlen < 4096 &&
	    !buf_reserve(&s->rbuf, &s->rcap, s->rlen + 4096)) {
		gw_sess_close(g, s, "out of memory");
		return;
	}
	iov.iov_buf = s->rbuf + s->rlen;
	iov.iov_len = s->rcap - s->rlen;
	nng_aio_set_iov(s->rd_aio, 1, &iov);
	s->reading = true;
	gw_sess_ref(s);
	nng_http_conn_read(s->conn, s->rd_aio);
}

static void
ws_wr_cb(void *arg)
{
	gw_sess *s = arg;
	gw *g = s->g;
	int rv = nng_aio_result(s->wr_aio);

	pthread_mutex_lock(&g->mu);
	s->writing = false;
	if (rv != 0) {
		if (rv == NNG_ETIMEDOUT)
			tt_metric_inc(g->m.slow_disconnects);
		gw_sess_close(g, s, rv == NNG_ETIMEDOUT ? "write timed out (slow client)" :
		    nng_strerror(rv));
	} else if (s->ws_closing) {
		if (s->wpend_len > 0)
			ws_kick(g, s);
		else
			gw_sess_close(g, s, "closed");
	} else {
		gw_sess_flush(g, s);
		ws_kick(g, s);
	}
	gw_sess_unref(g, s);
	pthread_mutex_unlock(&g->mu);
}

void
gw_ws_start(gw *g, gw_sess *s, nng_http_conn *conn, const char *head, size_t head_len)
{
	s->conn = conn;
	if (nng_aio_alloc(&s->rd_aio, ws_rd_cb, s) != 0 ||
	    nng_aio_alloc(&s->wr_aio, ws_wr_cb, s) != 0 ||
	    !wpend_put(s, head, head_len)) {
		gw_sess_close(g, s, "out of memory");
		return;
	}
	/* The head first, then whatever the session queued before it had a connection. */
	if (s->transport == GW_T_WEBSOCKET)
		gw_sess_flush(g, s);
	else
		ws_kick(g, s);
	ws_read_next(g, s);
}

/* ---------------------------------------------------------------- ticker */

static void
tick(gw *g, int64_t now)
{
	const tt_config *cfg = g->cfg;
	int depth = 0, depth_max = 0, nws = 0, npoll = 0, nplain = 0;
	gw_sess *next;

	for (gw_sess *s = g->all; s != NULL; s = next) {
		next = s->all_next;
		if (!s->joined && now - s->created_ms > cfg->gateway_connect_timeout_ms) {
			gw_sess_close(g, s, "did not join the namespace in time");
			continue;
		}
		if (s->pong_due_ms != 0 && now > s->pong_due_ms) {
			gw_sess_close(g, s, "ping timeout");
			continue;
		}
		if (s->transport == GW_T_POLLING && s->poll_aio == NULL && s->conn == NULL &&
		    now - s->last_poll_ms > cfg->gateway_ping_interval_ms + cfg->gateway_ping_timeout_ms) {
			gw_sess_close(g, s, "polling client gone");
			continue;
		}
		if (now >= s->next_ping_ms) {
			s->next_ping_ms = now + cfg->gateway_ping_interval_ms;
			if (s->pong_due_ms == 0)
				s->pong_due_ms = now + cfg->gateway_ping_timeout_ms;
			if (s->kind == GW_KIND_PLAIN)
				gw_ws_frame(g, s, TT_WS_OP_PING, "", 0);
			else
				gw_sess_send_text(g, s, "2", 1);
			if (s->closed)
				continue;
		}
		int d = s->qlen;
		for (int m = 0; m < GW_NMETRICS; m++)
			d += s->slot[m] != NULL;
		depth += d;
		if (d > depth_max)
			depth_max = d;
		if (s->kind == GW_KIND_PLAIN)
			nplain++;
		else if (s->transport == GW_T_WEBSOCKET)
			nws++;
		else
			npoll++;
	}
	tt_metric_set(g->m.queue_depth, depth);
	tt_metric_set(g->m.queue_depth_max, depth_max);
	tt_metric_set(g->m.connections_ws, nws);
	tt_metric_set(g->m.connections_polling, npoll);
	tt_metric_set(g->m.connections_plain, nplain);
}

static void
reap(gw *g)
{
	gw_sess *list;
	int n = 0;

	pthread_mutex_lock(&g->mu);
	list = g->reap;
	g->reap = NULL;
	pthread_mutex_unlock(&g->mu);
	while (list != NULL) {
		gw_sess *s = list;
		list = s->reap_next;
		sess_free(s);
		n++;
	}
	if (n > 0) {
		pthread_mutex_lock(&g->mu);
		g->nalive -= n;
		pthread_mutex_unlock(&g->mu);
	}
}

static void *
ticker_main(void *arg)
{
	gw *g = arg;
	bool stopping = false;

	while (!stopping) {
		struct timespec ts = { 0, TICK_MS * 1000000L };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&g->mu);
		stopping = g->stopping;
		if (!stopping)
			tick(g, gw_now());
		pthread_mutex_unlock(&g->mu);
		reap(g);
	}
	return NULL;
}

tt_err
gw_ticker_start(gw *g)
{
	return pthread_create(&g->ticker, NULL, ticker_main, g) == 0 ? TT_OK : TT_ENOMEM;
}

void
gw_ticker_stop(gw *g)
{
	pthread_mutex_lock(&g->mu);
	g->stopping = true;
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->ticker, NULL);
}

void
gw_sessions_close_all(gw *g)
{
	pthread_mutex_lock(&g->mu);
	while (g->all != NULL)
		gw_sess_close(g, g->all, "gateway shutting down");
	pthread_mutex_unlock(&g->mu);
	/* In-flight I/O was aborted; wait for its callbacks to drop their references. */
	for (int i = 0; i < 300; i++) {
		reap(g);
		pthread_mutex_lock(&g->mu);
		bool busy = g->nalive > 0;
		pthread_mutex_unlock(&g->mu);
		if (!busy)
			break;
		usleep(10000);
	}
}
