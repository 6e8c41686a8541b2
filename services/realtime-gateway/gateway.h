/*
 * gateway.h - the realtime-gateway's modules and the state they share.
 *
 *   main.c      configuration, start-up, signals, shutdown
 *   server.c    the nng HTTP server: Engine.IO handshake, long-polling,
 *               WebSocket upgrades (hijacked connections), the plain
 *               WebSocket endpoint
 *   session.c   sessions: reference counts, send queues and coalescing
 *               slots, flushing to either transport, closing, the ticker
 *               (heartbeats, timeouts, reaping), the session table
 *   proto.c     what clients say: Engine.IO packets, Socket.IO namespace
 *               packets, plain JSON frames; subscriptions and venues
 *   hub.c       venue rooms and the fan-out of ingest's metric messages
 *   snapshot.c  the worker that reads current values for new subscribers
 *   health.c    /health*, /metrics on GATEWAY_HEALTH_PORT
 *
 * Concurrency: one mutex (gw->mu) guards every session, room and table.
 * nng runs the I/O callbacks on its own threads; they take the mutex for
 * the few microseconds they touch state. Nothing blocks while holding it:
 * no PostgreSQL or Redis call, no nng_aio_stop/free (those run in the
 * ticker without the lock, when a session's last reference is gone).
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "tt/auth.h"
#include "tt/bus.h"
#include "tt/config.h"
#include "tt/db.h"
#include "tt/metrics.h"
#include "tt/ws.h"

#define GATEWAY_VERSION "0.1.0"
#define GW_NSP "/analytics/realtime"
#define GW_SID_LEN 20                  /* base64url of 15 random bytes */
#define GW_TOKEN_MAX TT_AUTH_TOKEN_MAX
#define GW_DB_WAIT_MS 1000

/* The metrics a client may subscribe to: ingest's counter types. */
enum { GW_M_REVENUE, GW_M_SALES, GW_M_TRAFFIC, GW_NMETRICS };
extern const char *const gw_metric_names[GW_NMETRICS];
int gw_metric_index(const char *name);    /* -1 when unknown */

/* A packet, shared by every session it is sent to. */
typedef struct gw_buf {
	atomic_int refs;
	uint8_t    opcode;     /* WebSocket opcode when sent over a WebSocket */
	size_t     len;
	char       data[];
} gw_buf;

gw_buf *gw_buf_new(const char *data, size_t len, int opcode);
gw_buf *gw_buf_ref(gw_buf *b);
void gw_buf_unref(gw_buf *b);

typedef enum { GW_KIND_SIO, GW_KIND_PLAIN } gw_kind;
typedef enum { GW_T_POLLING, GW_T_WEBSOCKET } gw_transport;

typedef struct gw_room gw_room;
typedef struct gw_sess gw_sess;

struct gw_sess {
	gw_sess *all_next, *all_prev;      /* every live session */
	gw_sess *room_next, *room_prev;    /* members of one venue */
	gw_sess *sid_next;                 /* session table chain */
	gw_sess *reap_next;
	gw_room *room;
	struct gw *g;                      /* the gateway, for nng callbacks */
	int      refs;
	bool     closed;
	gw_kind  kind;
	gw_transport transport;
	char     sid[GW_SID_LEN + 1];

	/* Who: the token of the handshake request (header or query), then the claims. */
	char    *hs_token;                 /* NULL when the request carried none */
	bool     joined;                   /* Socket.IO namespace joined / plain WS open */
	char     user_id[TT_AUTH_ID_MAX];
	char     role[TT_AUTH_ROLE_MAX];
	char     claim_venue[TT_AUTH_VENUE_MAX];
	bool     admin;
	char     venue[TT_AUTH_VENUE_MAX]; /* subscribed venue, "" when none */
	unsigned mask;                     /* bit per GW_M_* */
	unsigned pending_snapshot;         /* metrics to read once the answer is queued */

	/* Output: packets in order, then the latest update per metric. */
	gw_buf **q;
	int      qhead, qlen;
	gw_buf  *slot[GW_NMETRICS];
	unsigned live_gen[GW_NMETRICS];    /* bumped by every live update */

	/* Heartbeat and limits (CLOCK_MONOTONIC ms). */
	int64_t  created_ms, next_ping_ms, pong_due_ms, last_poll_ms;

	/* Long-polling: the parked GET, completed when there is output. */
	nng_aio *poll_aio;

	/* WebSocket: the transport, or the probe of a polling session upgrading. */
	nng_http_conn *conn;
	nng_aio  *rd_aio, *wr_aio;
	uint8_t  *rbuf;
	size_t    rlen, rcap;
	tt_ws_reader reader;
	uint8_t  *wpend, *wfly;            /* bytes waiting; bytes being written */
	size_t    wpend_len, wpend_cap, wfly_len, wfly_cap;
	bool      reading, writing, ws_closing;
	bool      upgrading;               /* probe done, waiting for the "5" */
};

typedef struct {
	tt_metric *connections, *connections_ws, *connections_polling, *connections_plain;
	tt_metric *sessions_opened, *handshakes_refused, *auth_failures;
	tt_metric *messages_sent, *bytes_sent, *coalesced, *slow_disconnects;
	tt_metric *queue_depth, *queue_depth_max;
	tt_metric *bus_received, *bus_forwarded, *bus_invalid, *bus_not_today;
	tt_metric *snapshots, *snapshot_errors, *fanout_seconds, *upgrades;
} gw_metrics;

typedef struct gw_snap_group gw_snap_group;

typedef struct gw {
	const tt_config *cfg;
	tt_auth     *auth;
	tt_db       *db;
	gw_metrics   m;

	pthread_mutex_t mu;
	gw_sess     *all;              /* list head */
	int          nsessions;
	gw_sess    **sid_table;        /* buckets */
	size_t       sid_buckets;
	gw_room    **rooms;
	size_t       room_buckets;
	gw_sess     *reap;             /* sessions whose last reference went */
	int          nalive;           /* sessions not freed yet (closed ones included) */
	bool         stopping;

	nng_http_server *http;
	nng_http_handler *h_eio, *h_plain;

	pthread_t    ticker, bus_thread;
	tt_bus      *bus;
	atomic_bool  bus_stop;

	/* Snapshot workers. */
	pthread_mutex_t snap_mu;
	pthread_cond_t  snap_cv;
	gw_snap_group  *snap_head, *snap_tail;   /* venues waiting, in arrival order */
	gw_snap_group **snap_index;              /* the same, by venue (GW_SNAP_BUCKETS) */
	pthread_t       snap_threads[2];
	int             nsnap_threads;
	bool            snap_threads_run;

	char         open_json[256];   /* the Engine.IO handshake's JSON, minus the sid */
} gw;

/* session.c (every gw_sess_* expects gw->mu held) */
/* A new session; NULL (counted as refused) at GATEWAY_MAX_CONNECTIONS, while stopping or without memory. */
gw_sess *gw_sess_new(gw *g, gw_kind kind, gw_transport t);
void gw_sess_ref(gw_sess *s);
void gw_sess_unref(gw *g, gw_sess *s);
gw_sess *gw_sess_find(gw *g, const char *sid);
bool gw_sess_send(gw *g, gw_sess *s, gw_buf *b);                /* takes b's reference */
bool gw_sess_send_text(gw *g, gw_sess *s, const char *text, size_t len);
void gw_sess_set_slot(gw *g, gw_sess *s, int metric, gw_buf *b); /* takes b's reference */
void gw_sess_flush(gw *g, gw_sess *s);
void gw_sess_close(gw *g, gw_sess *s, const char *reason);
bool gw_sess_has_output(const gw_sess *s);
/* Moves the output into a polling payload (packets joined by 0x1e). */
char *gw_sess_take_payload(gw *g, gw_sess *s, size_t *len);
/* Takes a hijacked connection: writes head (the 101 response), then reads frames. */
void gw_ws_start(gw *g, gw_sess *s, nng_http_conn *conn, const char *head, size_t head_len);
/* Queues a raw frame on the session's WebSocket (control frames, probe answers). */
void gw_ws_frame(gw *g, gw_sess *s, int opcode, const void *data, size_t len);
/* Sends a close frame, then closes the session when it is written. */
void gw_ws_close(gw *g, gw_sess *s, int code, const char *reason);
tt_err gw_ticker_start(gw *g);
void gw_ticker_stop(gw *g);
void gw_sessions_close_all(gw *g);
int64_t gw_now(void);

/* proto.c (gw->mu held) */
void gw_eio_packet(gw *g, gw_sess *s, const char *pkt, size_t len);
void gw_plain_message(gw *g, gw_sess *s, const char *msg, size_t len);
void gw_plain_open(gw *g, gw_sess *s);
/* Verifies a token into the session's claims; 401/403 reason in err. */
tt_err gw_authenticate(gw *g, gw_sess *s, const char *token, char *err, size_t errlen);

/* hub.c (gw->mu held) */
tt_err gw_hub_init(gw *g);
void gw_hub_fini(gw *g);
void gw_room_join(gw *g, gw_sess *s, const char *venue);
void gw_room_leave(gw *g, gw_sess *s);
tt_err gw_bus_start(gw *g, char *err, size_t errlen);
void gw_bus_stop(gw *g);

/* snapshot.c */
tt_err gw_snap_start(gw *g);
void gw_snap_stop(gw *g);
void gw_snap_request(gw *g, gw_sess *s, unsigned mask);   /* gw->mu held */

/* server.c */
tt_err gw_server_start(gw *g, char *err, size_t errlen);
void gw_server_stop(gw *g);

/* health.c */
void *gw_health_start(gw *g);
void gw_health_stop(void *h);
void gw_metrics_register(gw_metrics *m);

#endif
