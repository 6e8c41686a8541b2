# shellcheck shell=bash
# setup.sh - `tt setup`: install every build, runtime and test dependency
# from Debian, then the node test dependencies from npm.
#
# Idempotent and fast the second time: one dpkg-query decides what is
# missing, apt runs only for that, npm only when tests/node_modules is absent
# or tests/package-lock.json changed since the last install.
#
# apt must not leave PostgreSQL, Redis or RabbitMQ running on their default
# ports (the stack starts its own): a policy-rc.d that forbids starts is put in
# place for the install when the machine has none, and any server the install
# still started is stopped afterwards.

TT_APT_PACKAGES=(
	build-essential cmake pkg-config clang libclang-rt-14-dev
	libnng-dev libcivetweb-dev libcjson-dev libjwt-dev libhiredis-dev
	librabbitmq-dev libpq-dev libcmocka-dev libssl-dev
	postgresql redis-server redis-tools rabbitmq-server
	docker-compose curl wrk jq
)

# Packages of TT_APT_PACKAGES (plus nodejs/npm when their commands are
# absent) that dpkg does not list as installed, one per line.
setup_missing_packages() {
	local want=("${TT_APT_PACKAGES[@]}")
	# Node may come from Debian or from elsewhere (the base image's nodejs
	# ships its own npm, which conflicts with Debian's npm package): judge
	# by the commands, not by package names.
	command -v node >/dev/null 2>&1 || want+=(nodejs)
	command -v npm >/dev/null 2>&1 || want+=(npm)
	local installed
	installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${want[@]}" 2>/dev/null |
		awk '$2 == "ii" {print $1}') || true
	local p
	for p in "${want[@]}"; do
		grep -qxF "$p" <<<"$installed" || printf '%s\n' "$p"
	done
}

# True when apt's package lists exist and are younger than a day.
setup_apt_lists_fresh() {
	local newest
	newest=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit 2>/dev/null)
	[[ -n $newest ]]
}

setup_apt_install() {
	local -a pkgs=("$@")
	local policy=/usr/sbin/policy-rc.d own_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# written by tools/tt setup for the duration of one apt-get install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own_policy=1
	fi
	local rc=0 updated=0
	export DEBIAN_FRONTEND=noninteractive
	local -a apt_opts=(-y -q --no-install-recommends
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
	if ! setup_apt_lists_fresh; then
		info "apt-get update"
		run apt-get update -q >/dev/null || rc=$?
		updated=1
	fi
	if ((rc == 0)); then
		info "apt-get install ${pkgs[*]}"
		if ! run apt-get install "${apt_opts[@]}" "${pkgs[@]}" >"${TMPDIR:-/tmp}/tt-apt.log" 2>&1; then
			if ((updated == 0)); then
				info "apt-get install failed with the current lists; apt-get update and retry"
				run apt-get update -q >/dev/null && run apt-get install "${apt_opts[@]}" "${pkgs[@]}" \
					>"${TMPDIR:-/tmp}/tt-apt.log" 2>&1 || rc=$?
			else
				rc=1
			fi
		fi
	fi
	((own_policy)) && rm -f "$policy"
	((rc == 0)) || die "apt-get failed (see ${TMPDIR:-/tmp}/tt-apt.log)"
	setup_stop_system_servers
}

# Stop the distribution's own server instances if an install started them
# despite policy-rc.d (e.g. a machine whose policy allowed starts).
setup_stop_system_servers() {
	if command -v pg_lsclusters >/dev/null 2>&1; then
		local ver name port status rest
		while read -r ver name port status rest; do
			[[ $status == online* ]] || continue
			info "stopping the distribution's PostgreSQL cluster $ver/$name (port $port)"
			pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || warn "could not stop cluster $ver/$name"
		done < <(pg_lsclusters -h 2>/dev/null)
	fi
	local pid
	pid=$(pid_from /run/redis/redis-server.pid)
	if pid_alive "$pid"; then
		info "stopping the distribution's redis-server (pid $pid)"
		kill "$pid" 2>/dev/null || true
		wait_pid_gone "$pid" 10 || warn "redis-server pid $pid did not stop"
	fi
	pid=$(pid_from /run/rabbitmq/pid)
	if pid_alive "$pid"; then
		info "stopping the distribution's rabbitmq-server (pid $pid)"
		kill "$pid" 2>/dev/null || true
		wait_pid_gone "$pid" 30 || warn "rabbitmq-server pid $pid did not stop"
	fi
}

# npm ci in tests/ when node_modules is missing or the lock file changed.
setup_npm() {
	local dir=$TT_ROOT/tests
	[[ -f $dir/package.json ]] || return 0
	command -v npm >/dev/null 2>&1 || die "npm not found after apt-get install"
	local lock=$dir/package-lock.json stamp=$dir/node_modules/.tt-lock-sha256
	local want
	want=$(file_sha "$lock")
	if [[ -d $dir/node_modules && -f $stamp && $(cat "$stamp") == "$want" ]]; then
		return 0
	fi
	local -a cmd=(npm install)
	[[ -f $lock ]] && cmd=(npm ci)
	info "${cmd[*]} in tests/"
	(cd "$dir" && run "${cmd[@]}" --no-audit --no-fund --loglevel=error >"${TMPDIR:-/tmp}/tt-npm.log" 2>&1) ||
		die "${cmd[*]} failed in tests/ (see ${TMPDIR:-/tmp}/tt-npm.log)"
	want=$(file_sha "$lock")
	printf '%s\n' "$want" >"$stamp"
}

# Node's test runner is needed: 18 at least (the runner is stable from 20).
setup_check_node() {
	local v
	v=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || die "node does not run"
	((v >= 18)) || die "node $v is too old: the tests need node >= 18"
}

cmd_setup() {
	local -a missing
	mapfile -t missing < <(setup_missing_packages)
	if ((${#missing[@]})); then
		need_root "tt setup"
		setup_apt_install "${missing[@]}"
		mapfile -t missing < <(setup_missing_packages)
		((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
	fi
	setup_check_node
	setup_npm
	info "setup: all dependencies present"
}
