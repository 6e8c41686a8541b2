/*
 * civetweb_probe.c - tt-civetweb-probe: what civetweb would cost as the
 * realtime gateway's server, measured rather than argued.
 *
 * civetweb (1.15, the version Debian 12 ships and libcommon's REST layer
 * uses) serves each connection on a worker thread of its own for the
 * connection's whole life, a WebSocket included, and mg_start() starts all
 * num_threads workers up front. A server for N WebSocket clients therefore
 * needs num_threads >= N. This is the smallest such server that does the
 * gateway's job: WebSocket upgrades on --path, and a broadcast of each
 * metric message to every open WebSocket.
 *
 * The messages come the way they come to the gateway: a SUB socket dials
 * --sub (tt-gw-client's PUB) and the JSON of each tt1|metric message goes
 * out unchanged as one text frame to every connection, written by one
 * broadcasting thread with mg_websocket_write() (which locks each
 * connection). tt-gw-client --raw-ws PATH then times it exactly as it times
 * the gateway. There is no authentication and no venue filter: this is the
 * lower bound of what civetweb would cost, not a second gateway.
 *
 * Prints on stdout, once listening (tt-gw-client --pid reads its RSS and
 * thread count before and after connecting):
 *   probe started threads=N startup_ms=T
 * or, when mg_start() refuses:  probe failed threads=N startup_ms=T error=...
 * and on SIGINT/SIGTERM:        probe stopped broadcasts=B frames=F stop_ms=T
 */
#include "tt/bus.h"
#include "tt/strparse.h"
#include "tt/time.h"

#include <civetweb.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "tt-civetweb-probe"

/* Every open WebSocket, for the broadcaster; at most num_threads of them. */
struct registry {
	pthread_mutex_t          mtx;
	struct mg_connection   **conns;
	size_t                   n, cap;
};

static struct registry reg = { .mtx = PTHREAD_MUTEX_INITIALIZER };
static volatile sig_atomic_t stop_flag;
static char first_log[256];
static uint64_t broadcasts, frames;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int
ws_connect(const struct mg_connection *conn, void *ud)
{
	(void)conn;
	(void)ud;
	return 0;   /* accept every upgrade */
}

static void
ws_ready(struct mg_connection *conn, void *ud)
{
	(void)ud;
	pthread_mutex_lock(&reg.mtx);
	if (reg.n < reg.cap)
		reg.conns[reg.n++] = conn;
	pthread_mutex_unlock(&reg.mtx);
}

static int
ws_data(struct mg_connection *conn, int bits, char *data, size_t len, void *ud)
{
	(void)conn;
	(void)data;
	(void)len;
	(void)ud;
	return (bits & 0x0f) != MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE;
}

static void
ws_close(const struct mg_connection *conn, void *ud)
{
	(void)ud;
	pthread_mutex_lock(&reg.mtx);
	for (size_t i = 0; i < reg.n; i++) {
		if (reg.conns[i] == conn) {
			reg.conns[i] = reg.conns[--reg.n];
			break;
		}
	}
	pthread_mutex_unlock(&reg.mtx);
}

static int
log_message(const struct mg_connection *conn, const char *msg)
{
	(void)conn;
	if (first_log[0] == '\0')
		snprintf(first_log, sizeof(first_log), "%s", msg);
	fprintf(stderr, PROG ": civetweb: %s\n", msg);
	return 1;
}

/* Receives metric messages and writes each to every registered WebSocket. */
static void *
broadcaster(void *arg)
{
	tt_bus *bus = arg;

	while (!stop_flag) {
		tt_bus_msg m;
		if (tt_bus_recv(bus, &m, 200) != TT_OK)
			continue;
		pthread_mutex_lock(&reg.mtx);
		for (size_t i = 0; i < reg.n; i++) {
			if (mg_websocket_write(reg.conns[i], MG_WEBSOCKET_OPCODE_TEXT, m.json, m.json_len) > 0)
				frames++;
		}
		broadcasts++;
		pthread_mutex_unlock(&reg.mtx);
		tt_bus_msg_fini(&m);
	}
	return NULL;
}

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: " PROG " --threads N --sub URL [--port P] [--path /ws]\n"
	    "  --threads N   civetweb num_threads (one per WebSocket client, plus a few)\n"
	    "  --sub URL     nng PUB address to dial for tt1|metric messages\n"
	    "  --port P      listening port (3918)\n"
	    "  --path P      WebSocket path (/ws)\n");
	exit(status);
}

int
main(int argc, char **argv)
{
	const char *port = "3918", *path = "/ws", *sub = NULL;
	int64_t nthreads = 0;
	char err[256];
	tt_bus *bus = NULL;

	for (int i = 1; i < argc; i += 2) {   /* --option value pairs */
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			usage(0);
		if (v == NULL)
			usage(2);
		if (strcmp(a, "--threads") == 0) {
			if (tt_parse_i64(v, strlen(v), 1, 1000000, &nthreads) != TT_OK)
				usage(2);
		} else if (strcmp(a, "--sub") == 0) {
			sub = v;
		} else if (strcmp(a, "--port") == 0) {
			port = v;
		} else if (strcmp(a, "--path") == 0) {
			path = v;
		} else {
			usage(2);
		}
	}
	if (nthreads == 0 || sub == NULL)
		usage(2);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	reg.cap = (size_t)nthreads;
	if ((reg.conns = calloc(reg.cap, sizeof(*reg.conns))) == NULL)
		return 1;
	if (tt_bus_sub_open(&bus, sub, "tt1|metric|", err, sizeof(err)) != TT_OK) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}

	char threads[24];
	snprintf(threads, sizeof(threads), "%lld", (long long)nthreads);
	const char *opts[] = {
		"listening_ports", port,
		"num_threads", threads,
		"listen_backlog", "4096",
		"connection_queue", "1024",
		"websocket_timeout_ms", "3600000",
		"tcp_nodelay", "1",
		NULL,
	};
	struct mg_callbacks cb;
	memset(&cb, 0, sizeof(cb));
	cb.log_message = log_message;

	mg_init_library(0);
	double t0 = tt_mono_sec();
	struct mg_context *ctx = mg_start(&cb, NULL, opts);
	double started = (tt_mono_sec() - t0) * 1e3;   /* ms */
	if (ctx == NULL) {
		printf("probe failed threads=%lld startup_ms=%.0f error=%s\n", (long long)nthreads,
		    started, first_log[0] ? first_log : "mg_start returned NULL");
		tt_bus_close(bus);
		return 1;
	}
	mg_set_websocket_handler(ctx, path, ws_connect, ws_ready, ws_data, ws_close, NULL);

	printf("probe started threads=%lld startup_ms=%.0f%s%s\n", (long long)nthreads, started,
	    first_log[0] ? " warning=" : "", first_log);
	fflush(stdout);

	pthread_t bt;
	bool have_bt = pthread_create(&bt, NULL, broadcaster, bus) == 0;
	if (!have_bt) {
		fprintf(stderr, PROG ": cannot start the broadcaster\n");
		stop_flag = 1;
	}
	while (!stop_flag)
		usleep(100 * 1000);
	if (have_bt)
		pthread_join(bt, NULL);
	t0 = tt_mono_sec();
	mg_stop(ctx);
	printf("probe stopped broadcasts=%llu frames=%llu stop_ms=%.0f\n",
	    (unsigned long long)broadcasts, (unsigned long long)frames, (tt_mono_sec() - t0) * 1e3);
	tt_bus_close(bus);
	mg_exit_library();
	free(reg.conns);
	return 0;
}
