# shellcheck shell=bash
# common.sh - what every tt subcommand shares: messages, the environment and
# its defaults, small probes. Sourced by tools/tt; defines functions and
# variables only, runs nothing.
#
# Every tunable is an environment variable with a default that works on a
# fresh machine, so that `tools/tt up` and `tools/tt test` need no flags.

tt_prog=tt

# One-line messages on stderr. die exits 1 with "tt: <what>: <why>".
info() { printf '%s: %s\n' "$tt_prog" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$tt_prog" "$*" >&2; }
die()  { printf '%s: error: %s\n' "$tt_prog" "$*" >&2; exit 1; }

# Run a command, printing it first when TT_VERBOSE=1.
run() {
	if [[ ${TT_VERBOSE:-0} == 1 ]]; then printf '+ %s\n' "$*" >&2; fi
	"$@"
}

need_root() {
	[[ $(id -u) == 0 ]] || die "$1 must run as root (it installs packages / switches users)"
}

# Port and location defaults. The servers of the local stack and the binaries
# started by `tt up` read the same variables, so one export moves everything.
tt_env_defaults() {
	: "${TT_STACK_DIR:=$TT_ROOT/.stack}"
	: "${TT_PG_PORT:=5432}"
	: "${TT_REDIS_PORT:=6379}"
	: "${TT_AMQP_PORT:=5672}"
	# RabbitMQ's Erlang distribution port and epmd: the distribution port
	# follows the AMQP port as RabbitMQ's own default does (+20000), epmd is
	# shared by every Erlang node on the machine and keyed by node name.
	: "${TT_AMQP_DIST_PORT:=$((TT_AMQP_PORT + 20000))}"
	: "${TT_EPMD_PORT:=4369}"
	: "${TT_STACK_TIMEOUT:=120}"
	: "${TT_PG_BIN:=/usr/lib/postgresql/15/bin}"
	# The seed's connection variables; the stack's port is the default.
	: "${DB_HOST:=127.0.0.1}"
	: "${DB_PORT:=$TT_PG_PORT}"
	: "${DB_NAME:=tickettoken_db}"
	: "${DB_USER:=postgres}"
	: "${DB_PASSWORD:=}"
	: "${REDIS_HOST:=127.0.0.1}"
	: "${REDIS_PORT:=$TT_REDIS_PORT}"
	: "${RABBITMQ_URL:=amqp://guest:guest@127.0.0.1:$TT_AMQP_PORT/}"
	export TT_STACK_DIR TT_PG_PORT TT_REDIS_PORT TT_AMQP_PORT TT_AMQP_DIST_PORT \
		TT_EPMD_PORT DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD REDIS_HOST \
		REDIS_PORT RABBITMQ_URL
	local p
	for p in TT_PG_PORT TT_REDIS_PORT TT_AMQP_PORT TT_AMQP_DIST_PORT TT_EPMD_PORT DB_PORT REDIS_PORT; do
		[[ ${!p} =~ ^[0-9]+$ ]] && ((${!p} >= 1 && ${!p} <= 65535)) ||
			die "$p=${!p}: not a port number (1..65535)"
	done
	[[ $TT_STACK_TIMEOUT =~ ^[0-9]+$ ]] || die "TT_STACK_TIMEOUT=$TT_STACK_TIMEOUT: not a number of seconds"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
tcp_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True when process $1 exists (and is not a zombie).
pid_alive() {
	[[ -n ${1:-} && $1 =~ ^[0-9]+$ ]] || return 1
	kill -0 "$1" 2>/dev/null || return 1
	local st
	st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
	[[ $st != Z ]]
}

# True when process $1 is alive and its command name is $2 (a pid file that
# survived a reboot may name an unrelated process).
pid_is() {
	pid_alive "${1:-}" || return 1
	local comm
	comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
	[[ $comm == "${2:0:15}" ]]
}

# The pid in file $1, or nothing.
pid_from() {
	[[ -r $1 ]] || return 0
	local p
	p=$(head -n1 "$1" 2>/dev/null | tr -dc '0-9')
	printf '%s' "$p"
}

# Wait up to $2 seconds for process $1 to exit. Returns 1 on time-out.
wait_pid_gone() {
	local pid=$1 deadline=$((SECONDS + $2))
	while pid_alive "$pid"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# sha256 of a file, or "none".
file_sha() {
	if [[ -f $1 ]]; then sha256sum "$1" | cut -d' ' -f1; else echo none; fi
}
