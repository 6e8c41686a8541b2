/*
 * realtime-gateway - live metric updates to venue dashboards: Socket.IO 4
 * (Engine.IO 4 long-polling and WebSocket) and a plain JSON WebSocket on
 * WEBSOCKET_PORT, fed by ingest's nng PUB. main() wires the modules listed
 * in gateway.h; docs/realtime-gateway.md is the contract.
 */
#include "gateway.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tt/log.h"
#include "tt/redis.h"

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: realtime-gateway [--help | --version]\n"
	    "\n"
	    "Serves Socket.IO (namespace " GW_NSP ", path /socket.io/) and a plain JSON\n"
	    "WebSocket (" GW_NSP ") on WEBSOCKET_PORT; forwards ingest's metric updates\n"
	    "(nng SUB to NNG_SUB_URLS) to the subscribers of each venue, with a snapshot\n"
	    "from Redis (else PostgreSQL) on subscribe. See docs/realtime-gateway.md.\n"
	    "\n"
	    "Configuration is read from the environment; the main variables:\n"
	    "  WEBSOCKET_PORT              3008\n"
	    "  GATEWAY_HEALTH_PORT         3012 (/health, /health/live, /health/ready,\n"
	    "                              /health/dependencies, /metrics)\n"
	    "  NNG_SUB_URLS                tcp://127.0.0.1:5560 (comma-separated)\n"
	    "  JWT_SECRET                  HS256 secret of the platform's tokens\n"
	    "  GATEWAY_MAX_CONNECTIONS     20000\n"
	    "  GATEWAY_PING_INTERVAL_MS    25000   GATEWAY_PING_TIMEOUT_MS  20000\n"
	    "  GATEWAY_CONNECT_TIMEOUT_MS  45000   GATEWAY_SEND_QUEUE       64\n"
	    "  GATEWAY_WRITE_TIMEOUT_MS    10000   GATEWAY_MAX_PAYLOAD      65536\n"
	    "  REDIS_HOST REDIS_PORT REDIS_PASSWORD REDIS_DB   snapshots\n"
	    "  DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD     snapshot fallback\n"
	    "  LOG_LEVEL NODE_ENV\n"
	    "\n"
	    "SIGTERM/SIGINT: refuse new sessions, close the open ones (clients\n"
	    "reconnect to another replica), exit 0.\n");
}

/* One descriptor per connection: take the hard limit, and say what it is. */
static void
raise_nofile(const tt_config *cfg)
{
	struct rlimit rl;
	char cur[32], want[32];

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	snprintf(cur, sizeof(cur), "%llu", (unsigned long long)rl.rlim_cur);
	snprintf(want, sizeof(want), "%d", cfg->gateway_max_connections);
	if (rl.rlim_cur < (rlim_t)cfg->gateway_max_connections + 64)
		tt_log(TT_LOG_WARN, "open-file limit below GATEWAY_MAX_CONNECTIONS",
		    "nofile", cur, "maxConnections", want, NULL);
	else
		tt_log(TT_LOG_INFO, "open-file limit", "nofile", cur, NULL);
}

int
main(int argc, char **argv)
{
	static gw g;
	tt_config cfg;
	char err[512] = "";
	void *health = NULL;
	int rc = 1;

	if ((rc = tt_config_main(argc, argv, "realtime-gateway", GATEWAY_VERSION, usage, &cfg)) >= 0)
		return rc;
	rc = 1;
	raise_nofile(&cfg);

	tt_config_signals(on_signal);

	g.cfg = &cfg;
	pthread_mutex_init(&g.mu, NULL);
	gw_metrics_register(&g.m);
	if (gw_hub_init(&g) != TT_OK) {
		fprintf(stderr, "realtime-gateway: out of memory\n");
		goto out;
	}
	if (tt_auth_new(&g.auth, cfg.jwt_secret, TT_AUTH_LEEWAY_DEFAULT) != TT_OK) {
		fprintf(stderr, "realtime-gateway: cannot set up JWT verification\n");
		goto out;
	}
	/* PostgreSQL and Redis connect lazily and heal: neither is fatal at start. */
	if (tt_db_new(&g.db, &cfg, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "realtime-gateway: %s\n", err[0] ? err : "out of memory");
		goto out;
	}
	if (gw_snap_start(&g) != TT_OK || gw_ticker_start(&g) != TT_OK) {
		fprintf(stderr, "realtime-gateway: cannot start threads\n");
		goto out;
	}
	if (gw_bus_start(&g, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "realtime-gateway: %s\n", err);
		goto out;
	}
	if (gw_server_start(&g, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "realtime-gateway: %s\n", err);
		goto out;
	}
	if ((health = gw_health_start(&g)) == NULL) {
		fprintf(stderr, "realtime-gateway: cannot serve health on port %d\n",
		    cfg.gateway_health_port);
		goto out;
	}
	tt_log(TT_LOG_INFO, "realtime-gateway started", "version", GATEWAY_VERSION, NULL);
	while (!stop_flag)
		pause();
	tt_log(TT_LOG_INFO, "realtime-gateway stopping", NULL);
	rc = 0;
out:
	pthread_mutex_lock(&g.mu);
	g.stopping = true;          /* new handshakes get 503 */
	pthread_mutex_unlock(&g.mu);
	gw_bus_stop(&g);
	if (g.nsnap_threads > 0)
		gw_snap_stop(&g);
	gw_sessions_close_all(&g);  /* answers parked polls before nng's server goes */
	gw_server_stop(&g);
	if (g.ticker != 0)
		gw_ticker_stop(&g);
	gw_sessions_close_all(&g);  /* sessions a handler opened meanwhile */
	gw_health_stop(health);
	gw_hub_fini(&g);
	tt_db_free(g.db);
	tt_auth_free(g.auth);
	tt_log(TT_LOG_INFO, "realtime-gateway stopped", NULL);
	return rc;
}
