# shellcheck shell=bash
# suite.sh - `tt up` / `tt down`: the whole suite on this machine.
#
# up: setup, build, stack up, migrate latest, start the service binaries in
# the background (logs in $TT_STACK_DIR/logs/<name>.log, pids in
# $TT_STACK_DIR/run/<name>.pid), wait until each reports ready, publish demo
# events, print where everything is. Binaries already running are left alone.
# down: stop the binaries (SIGTERM, they drain), then the stack.

# name, path under the build directory, readiness URL. The ports are the
# services' own configuration: PORT (query-api, 3007), HEALTH_PORT (the
# health/metrics listener of ingest, 3010), AGGREGATOR_HEALTH_PORT (3011) and
# GATEWAY_HEALTH_PORT (realtime-gateway, 3012; its clients use WEBSOCKET_PORT,
# 3008). A binary missing from the build stops `up` with its name: none is
# skipped.
tt_suite_binaries() {
	TT_SUITE_BINARIES=(
		"ingest services/ingest/ingest http://127.0.0.1:${HEALTH_PORT:-3010}/health/ready"
		"query-api services/query-api/query-api http://127.0.0.1:${PORT:-3007}/health/ready"
		"aggregator services/aggregator/aggregator http://127.0.0.1:${AGGREGATOR_HEALTH_PORT:-3011}/health/ready"
		"realtime-gateway services/realtime-gateway/realtime-gateway http://127.0.0.1:${GATEWAY_HEALTH_PORT:-3012}/health/ready"
	)
}

bin_pid() {
	local p
	p=$(pid_from "$STACK/run/$1.pid")
	pid_is "$p" "$1" && printf '%s' "$p"
}

bin_start() {
	local name=$1 path=$2 bin
	bin=$(build_dir)/$path
	[[ -x $bin ]] || die "up: $name is not built yet ($bin missing: its sources may not be written yet)"
	local pid
	pid=$(bin_pid "$name") || true
	if [[ -n $pid ]]; then
		info "up: $name already running (pid $pid)"
		return 0
	fi
	info "up: starting $name (log $STACK/logs/$name.log)"
	(exec setsid "$bin" >>"$STACK/logs/$name.log" 2>&1 </dev/null) &
	printf '%s\n' "$!" >"$STACK/run/$name.pid"
}

bin_wait_ready() {
	local name=$1 url=$2 deadline=$((SECONDS + 60)) pid
	pid=$(pid_from "$STACK/run/$name.pid")
	while :; do
		curl -fsS -m 2 -o /dev/null "$url" 2>/dev/null && return 0
		# The pid itself, not its name: it may not have exec'd the binary yet.
		pid_alive "$pid" || die "up: $name exited during start-up (read $STACK/logs/$name.log)"
		((SECONDS < deadline)) || die "up: $name not ready at $url after 60 s (read $STACK/logs/$name.log)"
		sleep 0.2
	done
}

bin_stop() {
	local name=$1 pid
	pid=$(bin_pid "$name") || { rm -f "$STACK/run/$name.pid"; return 0; }
	info "down: stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 30 || { warn "$name (pid $pid) did not stop in 30 s, killing"; kill -KILL "$pid" 2>/dev/null || true; }
	rm -f "$STACK/run/$name.pid"
}

cmd_up() {
	cmd_setup
	cmd_build
	stack_up
	cmd_migrate latest
	export NODE_ENV=${NODE_ENV:-development}
	local entry name path url
	tt_suite_binaries
	for entry in "${TT_SUITE_BINARIES[@]}"; do
		read -r name path url <<<"$entry"
		[[ -x $(build_dir)/$path ]] ||
			die "up: $name is not built ($(build_dir)/$path missing: its sources may not be written yet)"
	done
	for entry in "${TT_SUITE_BINARIES[@]}"; do
		read -r name path url <<<"$entry"
		bin_start "$name" "$path"
	done
	for entry in "${TT_SUITE_BINARIES[@]}"; do
		read -r name path url <<<"$entry"
		bin_wait_ready "$name" "$url"
	done
	info "up: publishing 200 demo events over 3 venues"
	"$TT_ROOT/tools/tt" publish --count 200 --venues 3 || die "up: publishing demo events failed"

	local vtok atok api=http://127.0.0.1:${PORT:-3007} ing=http://127.0.0.1:${HEALTH_PORT:-3010}
	local rt=127.0.0.1:${WEBSOCKET_PORT:-3008} gwh=http://127.0.0.1:${GATEWAY_HEALTH_PORT:-3012}
	vtok=$(cmd_token --venue venue-1)
	atok=$(cmd_token --admin)
	cat <<-EOF

		TicketToken Analytics is up.

		  REST (query-api)     $api
		  health               $api/health  (/health/live, /health/ready, /health/dependencies)
		  metrics              $api/metrics
		  ingest health        $ing/health/ready  (metrics: $ing/metrics)
		  aggregator health    http://127.0.0.1:${AGGREGATOR_HEALTH_PORT:-3011}/health/ready  (metrics: .../metrics)
		  realtime WebSocket   ws://$rt/analytics/realtime  (JSON frames, docs/realtime-gateway.md)
		  realtime Socket.IO   http://$rt/socket.io/  namespace /analytics/realtime,
		                       i.e. io("http://$rt/analytics/realtime", {auth: {token}})
		  gateway health       $gwh/health/ready  (metrics: $gwh/metrics)
		  PostgreSQL           postgresql://postgres@127.0.0.1:$TT_PG_PORT/$DB_NAME
		  Redis                redis://127.0.0.1:$TT_REDIS_PORT
		  RabbitMQ             amqp://guest:guest@127.0.0.1:$TT_AMQP_PORT/
		  logs                 $STACK/logs/

		  venue token (venue-1, 24 h):
		    VENUE_TOKEN=$vtok
		  admin token (24 h):
		    ADMIN_TOKEN=$atok

		Try:
		  curl -s $api/health/ready
		  curl -s -H "Authorization: Bearer \$VENUE_TOKEN" $api/analytics/realtime/summary
		  curl -s -H "Authorization: Bearer \$ADMIN_TOKEN" '$api/analytics/realtime/summary?venueId=venue-2'
		  tools/tt publish --count 1000 --venues 3

		Live updates (wscat: npm install -g wscat), then publish as above:
		  wscat -c ws://$rt/analytics/realtime -H "Authorization: Bearer \$VENUE_TOKEN"
		  > {"event":"subscribe:metrics","data":{"metrics":["revenue","sales","traffic"]}}
		Socket.IO, with the client the tests use (tests/node_modules):
		  (cd tests && VENUE_TOKEN=\$VENUE_TOKEN node -e 's = require("socket.io-client").io("http://$rt/analytics/realtime", {auth: {token: process.env.VENUE_TOKEN}}); s.on("connect", () => s.emit("subscribe:metrics", {metrics: ["sales"]}, console.log)); s.on("metric:update", console.log); s.on("connect_error", (e) => console.log(e.message, e.data))')

		  tools/tt down
	EOF
}

cmd_down() {
	stack_paths
	local entry name path url
	tt_suite_binaries
	for entry in "${TT_SUITE_BINARIES[@]}"; do
		read -r name path url <<<"$entry"
		bin_stop "$name"
	done
	stack_down
}
