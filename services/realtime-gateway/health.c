/*
 * health.c - the gateway's /health*, /metrics on GATEWAY_HEALTH_PORT, and
 * its Prometheus series. Ready means Redis and PostgreSQL answer: without
 * them a new subscriber would get no snapshot.
 */
#include "gateway.h"

#include "tt/health.h"
#include "tt/http.h"

void *
gw_health_start(gw *g)
{
	const tt_health_check checks[] = {
		{ "redis", "redis", true, tt_health_check_redis, NULL },
		{ "postgres", "database", true, tt_health_check_postgres, g->db },
	};
	return tt_health_serve(g->cfg, "realtime-gateway", g->cfg->gateway_health_port,
	    checks, sizeof(checks) / sizeof(checks[0]));
}

void
gw_health_stop(void *h)
{
	tt_http_server_free(h);
}

void
gw_metrics_register(gw_metrics *m)
{
	tt_metrics *r = tt_metrics_default();

	m->connections = tt_metrics_gauge(r, "gateway_connections",
	    "Sessions open (every transport)", NULL);
	m->connections_ws = tt_metrics_gauge(r, "gateway_connections_by_transport",
	    "Sessions open by transport", "transport=\"websocket\"");
	m->connections_polling = tt_metrics_gauge(r, "gateway_connections_by_transport",
	    "Sessions open by transport", "transport=\"polling\"");
	m->connections_plain = tt_metrics_gauge(r, "gateway_connections_by_transport",
	    "Sessions open by transport", "transport=\"plain\"");
	m->sessions_opened = tt_metrics_counter(r, "gateway_sessions_opened_total",
	    "Engine.IO and plain WebSocket sessions opened", NULL);
	m->handshakes_refused = tt_metrics_counter(r, "gateway_handshakes_refused_total",
	    "Handshakes refused at GATEWAY_MAX_CONNECTIONS or during shutdown", NULL);
	m->auth_failures = tt_metrics_counter(r, "gateway_auth_failures_total",
	    "Namespace joins and plain WebSockets refused for their token", NULL);
	m->messages_sent = tt_metrics_counter(r, "gateway_messages_sent_total",
	    "Packets handed to client connections", NULL);
	m->bytes_sent = tt_metrics_counter(r, "gateway_bytes_sent_total",
	    "Bytes handed to client connections", NULL);
	m->coalesced = tt_metrics_counter(r, "gateway_updates_coalesced_total",
	    "Metric updates replaced by a newer one before a slow client took them", NULL);
	m->slow_disconnects = tt_metrics_counter(r, "gateway_slow_disconnects_total",
	    "Clients disconnected for a full send queue or a write timeout", NULL);
	m->queue_depth = tt_metrics_gauge(r, "gateway_queue_depth",
	    "Packets waiting in all send queues and update slots", NULL);
	m->queue_depth_max = tt_metrics_gauge(r, "gateway_queue_depth_max",
	    "Packets waiting for the most backed-up connection", NULL);
	m->bus_received = tt_metrics_counter(r, "gateway_bus_messages_total",
	    "Metric messages received from ingest", "result=\"received\"");
	m->bus_forwarded = tt_metrics_counter(r, "gateway_bus_messages_total",
	    "Metric messages received from ingest", "result=\"forwarded\"");
	m->bus_invalid = tt_metrics_counter(r, "gateway_bus_messages_total",
	    "Metric messages received from ingest", "result=\"invalid\"");
	m->bus_not_today = tt_metrics_counter(r, "gateway_bus_messages_total",
	    "Metric messages received from ingest", "result=\"not_today\"");
	m->snapshots = tt_metrics_counter(r, "gateway_snapshots_total",
	    "Snapshots sent to new subscribers", NULL);
	m->snapshot_errors = tt_metrics_counter(r, "gateway_snapshot_errors_total",
	    "Snapshots that neither Redis nor PostgreSQL could answer", NULL);
	m->fanout_seconds = tt_metrics_histogram(r, "gateway_fanout_seconds",
	    "Time to hand one metric message to every subscriber of its venue", NULL, NULL, 0);
	m->upgrades = tt_metrics_counter(r, "gateway_upgrades_total",
	    "Polling sessions upgraded to WebSocket", NULL);
}
