# shellcheck shell=bash
# stack.sh - `tt stack up|down|status`: PostgreSQL 15, Redis and RabbitMQ on
# 127.0.0.1, started by hand (no systemd), state in $TT_STACK_DIR.
#
# Layout of the stack directory (default <repo>/.stack):
#   logs/        postgres.log, redis.log, rabbitmq.log, rabbitmq.out, <binary>.log
#   run/         redis.pid, <binary>.pid
#   pg/data      the PostgreSQL cluster (owned by postgres; postmaster.pid inside)
#   redis/       Redis working directory (nothing is persisted)
#   rabbitmq/    RabbitMQ's HOME: .erlang.cookie, rabbitmq.conf, mnesia/, pid
#
# PostgreSQL and RabbitMQ run as their Debian users, so their state must be
# reachable by those users. When the stack directory is not (a checkout under
# a private home directory), their state goes to /var/tmp/tt-stack-<hash> and
# the stack directory says so in its file `server-root`.
#
# Promises: `up` starts what is not running, in parallel, and returns only
# when each server answers (or fails naming the log to read); running it
# again changes nothing. `down` stops all three and waits for them to exit.

# as_user_cmd USER: set AS_USER to the command prefix that runs a program as
# a system user (postgres, rabbitmq). setpriv keeps the resource limits
# (runuser's PAM session would cut open files to 1024) and the environment,
# with HOME/USER set for the user. as_user USER CMD...: run it from /.
as_user_cmd() {
	local user=$1 home
	home=$(getent passwd "$user" | cut -d: -f6)
	if command -v setpriv >/dev/null; then
		AS_USER=(setpriv --reuid="$user" --regid="$user" --init-groups
			env HOME="${home:-/}" USER="$user" LOGNAME="$user")
	else
		AS_USER=(runuser -u "$user" -- env)
	fi
}

as_user() {
	as_user_cmd "$1"
	shift
	(cd / && exec "${AS_USER[@]}" "$@")
}

stack_paths() {
	STACK=$TT_STACK_DIR
	mkdir -p "$STACK/logs" "$STACK/run" "$STACK/redis" || die "cannot create $STACK"
	STACK=$(cd "$STACK" && pwd -P)
	SRV=$STACK
	if [[ $(id -u) == 0 ]] && ! { as_user postgres test -x "$STACK" 2>/dev/null &&
		as_user rabbitmq test -x "$STACK" 2>/dev/null; }; then
		SRV=/var/tmp/tt-stack-$(printf '%s' "$STACK" | sha256sum | cut -c1-12)
		mkdir -p "$SRV/logs"
		chmod 755 "$SRV"
	fi
	printf '%s\n' "$SRV" >"$STACK/server-root"
	PGDATA_DIR=$SRV/pg/data
	PG_LOG=$SRV/logs/postgres.log
	REDIS_CONF=$STACK/redis/redis.conf
	REDIS_PID=$STACK/run/redis.pid
	REDIS_LOG=$STACK/logs/redis.log
	RMQ_HOME=$SRV/rabbitmq
	RMQ_LOG=$SRV/logs/rabbitmq.log
	RMQ_OUT=$SRV/logs/rabbitmq.out
	RMQ_PID=$RMQ_HOME/rabbitmq.pid
	RMQ_NODE=tt$TT_AMQP_PORT@localhost
}

# ---------------------------------------------------------------- PostgreSQL

pg_pid() {
	local p
	p=$(pid_from "$PGDATA_DIR/postmaster.pid" 2>/dev/null)
	pid_is "$p" postgres && printf '%s' "$p"
}

pg_ready() {
	"$TT_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$TT_PG_PORT" -U postgres -t 2 >/dev/null 2>&1
}

pg_init() {
	[[ -x $TT_PG_BIN/initdb ]] || die "PostgreSQL 15 not found in $TT_PG_BIN (run tools/tt setup)"
	[[ -s $PGDATA_DIR/PG_VERSION ]] && return 0
	info "postgres: initdb $PGDATA_DIR"
	rm -rf "$PGDATA_DIR"
	mkdir -p "$PGDATA_DIR"
	chown -R postgres:postgres "$SRV/pg"
	chmod 700 "$PGDATA_DIR"
	as_user postgres "$TT_PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust \
		-E UTF8 --no-locale >"$SRV/logs/initdb.log" 2>&1 ||
		die "postgres: initdb failed (see $SRV/logs/initdb.log)"
	printf "\n# tools/tt stack writes tt.conf on every start\ninclude_if_exists = 'tt.conf'\n" \
		>>"$PGDATA_DIR/postgresql.conf"
	cat >"$PGDATA_DIR/pg_hba.conf" <<-'EOF'
		# Local development stack: trust on loopback only (tools/tt stack).
		local   all  all                 trust
		host    all  all  127.0.0.1/32   trust
		host    all  all  ::1/128        trust
	EOF
	chown postgres:postgres "$PGDATA_DIR/pg_hba.conf"
}

pg_start() {
	pg_init
	local pid
	pid=$(pg_pid) || true
	if [[ -n $pid ]]; then
		local port
		port=$(sed -n 4p "$PGDATA_DIR/postmaster.pid")
		[[ $port == "$TT_PG_PORT" ]] ||
			die "postgres: already running on port $port, not TT_PG_PORT=$TT_PG_PORT (tools/tt stack down first)"
		return 0
	fi
	tcp_open "$TT_PG_PORT" && die "postgres: port $TT_PG_PORT is taken by another process (set TT_PG_PORT)"
	# The socket directory is optional: a Unix socket path is limited to 107 bytes.
	local sockdir=$SRV/pg
	((${#sockdir} < 80)) || sockdir=
	cat >"$PGDATA_DIR/tt.conf" <<-EOF
		# Written by tools/tt stack up; edit the script, not this file.
		listen_addresses = '127.0.0.1'
		port = $TT_PG_PORT
		unix_socket_directories = '$sockdir'
		max_connections = 200
		shared_buffers = 128MB
		fsync = on
		synchronous_commit = on
		full_page_writes = on
		max_wal_size = 2GB
		timezone = 'UTC'
		log_timezone = 'UTC'
		logging_collector = off
		log_line_prefix = '%m [%p] %q%u@%d '
	EOF
	chown postgres:postgres "$PGDATA_DIR/tt.conf"
	touch "$PG_LOG"
	chown postgres:postgres "$PG_LOG"
	info "postgres: starting on 127.0.0.1:$TT_PG_PORT"
	as_user_cmd postgres
	(cd / && exec setsid -f "${AS_USER[@]}" "$TT_PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -W -s start \
		>>"$PG_LOG" 2>&1 </dev/null) || die "postgres: pg_ctl start failed (see $PG_LOG)"
}

pg_stop() {
	local pid
	pid=$(pg_pid) || return 0
	info "postgres: stopping (pid $pid)"
	as_user postgres "$TT_PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -s -W stop >/dev/null 2>&1 ||
		kill -INT "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 60 || { warn "postgres: pid $pid still running after 60 s, killing"; kill -KILL "$pid" 2>/dev/null; }
}

# --------------------------------------------------------------------- Redis

redis_pid() {
	local p
	p=$(pid_from "$REDIS_PID")
	pid_is "$p" redis-server && printf '%s' "$p"
}

redis_ready() {
	[[ $(redis-cli -h 127.0.0.1 -p "$TT_REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

redis_start() {
	command -v redis-server >/dev/null || die "redis-server not found (run tools/tt setup)"
	local pid
	pid=$(redis_pid) || true
	[[ -n $pid ]] && return 0
	tcp_open "$TT_REDIS_PORT" && die "redis: port $TT_REDIS_PORT is taken by another process (set TT_REDIS_PORT)"
	cat >"$REDIS_CONF" <<-EOF
		# Written by tools/tt stack up: a cache and counter store, nothing persisted.
		bind 127.0.0.1
		port $TT_REDIS_PORT
		protected-mode yes
		daemonize yes
		pidfile "$REDIS_PID"
		logfile "$REDIS_LOG"
		dir "$STACK/redis"
		save ""
		appendonly no
		maxclients 10000
		tcp-backlog 511
	EOF
	info "redis: starting on 127.0.0.1:$TT_REDIS_PORT"
	setsid -f redis-server "$REDIS_CONF" >>"$REDIS_LOG" 2>&1 </dev/null ||
		die "redis: redis-server failed to start (see $REDIS_LOG)"
}

redis_stop() {
	local pid
	pid=$(redis_pid) || return 0
	info "redis: stopping (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 30 || { warn "redis: pid $pid still running after 30 s, killing"; kill -KILL "$pid" 2>/dev/null; }
	rm -f "$REDIS_PID"
}

# ------------------------------------------------------------------ RabbitMQ

# Run a RabbitMQ program as the rabbitmq user with this stack's environment:
# its own HOME (holding the Erlang cookie), node name, ports and files, so
# that it neither reads nor disturbs a system-wide RabbitMQ.
rmq_cmd() {
	local prog=$1
	shift
	as_user_cmd rabbitmq
	RMQ_CMD=("${AS_USER[@]}"
		HOME="$RMQ_HOME"
		RABBITMQ_CONF_ENV_FILE="$RMQ_HOME/rabbitmq-env.conf"
		RABBITMQ_NODENAME="$RMQ_NODE"
		RABBITMQ_USE_LONGNAME=false
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
		RABBITMQ_NODE_PORT="$TT_AMQP_PORT"
		RABBITMQ_DIST_PORT="$TT_AMQP_DIST_PORT"
		ERL_EPMD_PORT="$TT_EPMD_PORT"
		ERL_EPMD_ADDRESS=127.0.0.1
		RABBITMQ_CONFIG_FILE="$RMQ_HOME/rabbitmq.conf"
		RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_HOME/advanced.config"
		RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_HOME/enabled_plugins"
		RABBITMQ_MNESIA_BASE="$RMQ_HOME/mnesia"
		RABBITMQ_LOG_BASE="$RMQ_HOME/log"
		RABBITMQ_LOGS="$RMQ_LOG"
		RABBITMQ_PID_FILE="$RMQ_PID"
		RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
		"/usr/lib/rabbitmq/bin/$prog" "$@")
}

# Run rabbitmqctl, rabbitmq-diagnostics, ... against this stack's node.
rmq_env_run() {
	rmq_cmd "$@"
	(cd / && exec "${RMQ_CMD[@]}")
}

rmq_pid() {
	local p
	p=$(pid_from "$RMQ_PID")
	pid_is "$p" beam.smp && printf '%s' "$p"
}

# True when the broker answers the AMQP 0-9-1 protocol header with a frame
# (Connection.Start), which it does only once it is fully booted.
rmq_ready() {
	local reply
	reply=$(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/127.0.0.1/$TT_AMQP_PORT" || exit 1
		printf 'AMQP\0\0\x09\x01' >&3
		IFS= read -r -t 3 -N 1 -u 3 b && printf '%d' "'$b"
	) || return 1
	[[ $reply == 1 ]]
}

rmq_prepare() {
	[[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || die "rabbitmq-server not found (run tools/tt setup)"
	mkdir -p "$RMQ_HOME/mnesia" "$RMQ_HOME/log"
	if [[ ! -s $RMQ_HOME/.erlang.cookie ]]; then
		(umask 077 && head -c 32 /dev/urandom | sha256sum | tr -dc 'a-f0-9' | tr 'a-f' 'A-F' |
			head -c 32 >"$RMQ_HOME/.erlang.cookie")
	fi
	chmod 400 "$RMQ_HOME/.erlang.cookie"
	: >"$RMQ_HOME/rabbitmq-env.conf"
	printf '[].\n' >"$RMQ_HOME/enabled_plugins"
	cat >"$RMQ_HOME/rabbitmq.conf" <<-EOF
		# Written by tools/tt stack up.
		listeners.tcp.default = 127.0.0.1:$TT_AMQP_PORT
		loopback_users.guest = true
		log.console = false
		log.file.level = ${TT_RABBITMQ_LOG_LEVEL:-info}
		disk_free_limit.absolute = 100MB
		vm_memory_high_watermark.relative = 0.4
	EOF
	touch "$RMQ_LOG"
	chown -R rabbitmq:rabbitmq "$RMQ_HOME" "$RMQ_LOG"
}

rmq_start() {
	local pid
	pid=$(rmq_pid) || true
	[[ -n $pid ]] && return 0
	tcp_open "$TT_AMQP_PORT" && die "rabbitmq: port $TT_AMQP_PORT is taken by another process (set TT_AMQP_PORT)"
	tcp_open "$TT_AMQP_DIST_PORT" &&
		die "rabbitmq: distribution port $TT_AMQP_DIST_PORT is taken by another process (set TT_AMQP_DIST_PORT)"
	rmq_prepare
	rm -f "$RMQ_PID"
	# epmd started by the node itself would listen on every interface: start
	# it first, on loopback. It is shared by all Erlang nodes of the machine.
	if ! tcp_open "$TT_EPMD_PORT"; then
		as_user rabbitmq epmd -daemon -address 127.0.0.1 -port "$TT_EPMD_PORT" ||
			die "rabbitmq: could not start epmd on 127.0.0.1:$TT_EPMD_PORT"
	fi
	info "rabbitmq: starting node $RMQ_NODE on 127.0.0.1:$TT_AMQP_PORT"
	: >"$RMQ_OUT"
	# setsid (without -f, from a shell without job control) execs in place, so
	# $! is the broker's pid (setpriv, env, the script and erl all exec).
	(cd "$RMQ_HOME" && exec setsid "$TT_ROOT/tools/tt" _rabbitmq-server >>"$RMQ_OUT" 2>&1 </dev/null) &
	printf '%s\n' "$!" >"$STACK/run/rabbitmq-launcher.pid"
}

rmq_launcher_pid() {
	local p
	p=$(pid_from "$STACK/run/rabbitmq-launcher.pid")
	pid_alive "$p" && printf '%s' "$p"
}

rmq_stop() {
	local pid
	pid=$(rmq_pid) || true
	if [[ -n $pid ]]; then
		info "rabbitmq: stopping (pid $pid)"
		# The Erlang VM (OTP >= 23) shuts down cleanly on SIGTERM.
		kill -TERM "$pid" 2>/dev/null || true
		wait_pid_gone "$pid" 60 || { warn "rabbitmq: pid $pid still running after 60 s, killing"; kill -KILL "$pid" 2>/dev/null; }
	fi
	pid=$(rmq_launcher_pid) || true
	if [[ -n $pid ]]; then
		# Still booting (no pid file yet): stop what the launcher started.
		local child
		for child in $(pgrep -P "$pid" 2>/dev/null); do kill -TERM "$child" 2>/dev/null || true; done
		wait_pid_gone "$pid" 30 || kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$RMQ_PID" "$STACK/run/rabbitmq-launcher.pid"
	# epmd outlives the node that started it; end it when no node is left.
	if command -v epmd >/dev/null && tcp_open "$TT_EPMD_PORT"; then
		local names
		names=$(ERL_EPMD_PORT=$TT_EPMD_PORT epmd -names 2>/dev/null | grep -c '^name ' || true)
		[[ $names == 0 ]] && ERL_EPMD_PORT=$TT_EPMD_PORT epmd -kill >/dev/null 2>&1 || true
	fi
}

# ------------------------------------------------------------------- commands

# One process died before answering: fail naming its log.
stack_check_alive() {
	local name=$1 pidfn=$2 log=$3
	if ! $pidfn >/dev/null; then
		die "$name exited during start-up (read $log)"
	fi
}

stack_up() {
	need_root "tt stack up"
	stack_paths
	pg_start
	redis_start
	rmq_start
	local t0=$SECONDS deadline=$((SECONDS + TT_STACK_TIMEOUT))
	local pg_ok=0 redis_ok=0 rmq_ok=0
	while :; do
		((pg_ok)) || { pg_ready && pg_ok=1; }
		((redis_ok)) || { redis_ready && redis_ok=1; }
		((rmq_ok)) || { rmq_ready && rmq_ok=1; }
		((pg_ok && redis_ok && rmq_ok)) && break
		if ((SECONDS >= deadline)); then
			((pg_ok)) || die "postgres did not answer on 127.0.0.1:$TT_PG_PORT within ${TT_STACK_TIMEOUT}s (read $PG_LOG)"
			((redis_ok)) || die "redis did not answer on 127.0.0.1:$TT_REDIS_PORT within ${TT_STACK_TIMEOUT}s (read $REDIS_LOG)"
			die "rabbitmq did not answer on 127.0.0.1:$TT_AMQP_PORT within ${TT_STACK_TIMEOUT}s (read $RMQ_LOG and $RMQ_OUT)"
		fi
		# Give each server a moment to write its pid file before judging it.
		if ((SECONDS - t0 >= 3)); then
			((pg_ok)) || stack_check_alive postgres pg_pid "$PG_LOG"
			((redis_ok)) || stack_check_alive redis redis_pid "$REDIS_LOG"
			((rmq_ok)) || stack_check_alive rabbitmq rmq_launcher_pid "$RMQ_LOG and $RMQ_OUT"
		fi
		sleep 0.2
	done
	info "stack up: postgres 127.0.0.1:$TT_PG_PORT, redis 127.0.0.1:$TT_REDIS_PORT, rabbitmq 127.0.0.1:$TT_AMQP_PORT ($((SECONDS - t0))s)"
}

stack_down() {
	need_root "tt stack down"
	stack_paths
	# Stopped in parallel; each waits for its own process.
	rmq_stop &
	local r=$!
	redis_stop &
	local d=$!
	pg_stop
	wait "$r" "$d" || true
	info "stack down"
}

stack_status() {
	stack_paths
	local pid state
	pid=$(pg_pid) || true
	if [[ -n $pid ]] && pg_ready; then state=up; elif [[ -n $pid ]]; then state=starting; else state=down; fi
	printf '%-9s %-8s 127.0.0.1:%-6s pid %-8s data %s\n' postgres "$state" "$TT_PG_PORT" "${pid:--}" "$PGDATA_DIR"
	pid=$(redis_pid) || true
	if [[ -n $pid ]] && redis_ready; then state=up; elif [[ -n $pid ]]; then state=starting; else state=down; fi
	printf '%-9s %-8s 127.0.0.1:%-6s pid %-8s log  %s\n' redis "$state" "$TT_REDIS_PORT" "${pid:--}" "$REDIS_LOG"
	pid=$(rmq_pid) || true
	if [[ -n $pid ]] && rmq_ready; then state=up; elif [[ -n $pid ]]; then state=starting; else state=down; fi
	printf '%-9s %-8s 127.0.0.1:%-6s pid %-8s node %s\n' rabbitmq "$state" "$TT_AMQP_PORT" "${pid:--}" "$RMQ_NODE"
}

cmd_stack() {
	case ${1:-} in
	up) stack_up ;;
	down) stack_down ;;
	status) stack_status ;;
	rabbitmqctl) shift; stack_paths; rmq_env_run rabbitmqctl "$@" ;;
	*) die "usage: tt stack up|down|status|rabbitmqctl ARGS" ;;
	esac
}
