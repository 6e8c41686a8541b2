# shellcheck shell=bash
# test.sh - `tt test`: every test, from a fresh machine with nothing running.
#
# Stages, in order: setup; build and build --asan; ctest (cmocka unit tests)
# in build-asan; the libFuzzer targets (tests/fuzz/run.sh: clang build in
# build-fuzz/, TT_FUZZ_SECONDS, default 15, per target); stack up; a fresh
# database tickettoken_test, migrated; node --test over tests/e2e/ and
# tests/deploy/ (*.test.mjs) against the ASan/UBSan binaries; the
# banned-call checker. Each ctest case, each fuzz target and each node test
# counts as one result, every other stage as one. The last line is
# "N passed, N failed"; the exit status is non-zero when anything failed.
#
# The stack is stopped at the end when this run started it, unless
# TT_KEEP_STACK=1; a stack that was already up (a developer's) is left up.

T_PASS=0
T_FAIL=0
T_SKIP=0
T_FAILED_NAMES=()

t_result() { # name ok|fail
	if [[ $2 == ok ]]; then
		T_PASS=$((T_PASS + 1))
		printf '== %s: ok\n' "$1"
	else
		T_FAIL=$((T_FAIL + 1))
		T_FAILED_NAMES+=("$1")
		printf '== %s: FAILED\n' "$1"
	fi
}

t_stage() { printf '\n== %s\n' "$*"; }

t_summary() {
	printf '\n'
	((${#T_FAILED_NAMES[@]})) && printf 'failed: %s\n' "${T_FAILED_NAMES[*]}"
	if ((T_SKIP)); then
		printf '%d passed, %d failed, %d skipped\n' "$T_PASS" "$T_FAIL" "$T_SKIP"
	else
		printf '%d passed, %d failed\n' "$T_PASS" "$T_FAIL"
	fi
}

# ctest in directory $1 with the label selection $2 (-L unit, -LE unit) and
# $3 parallel jobs; adds its cases to the totals.
t_ctest() {
	local dir=$1 sel=$2 jobs=$3 log
	log=$(mktemp)
	local rc=0
	# shellcheck disable=SC2086 # $sel is two words
	(cd "$dir" && ctest --output-on-failure --timeout 300 -j"$jobs" $sel) 2>&1 | tee "$log" || rc=$?
	local line total failed
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1 || true)
	if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
		failed=${BASH_REMATCH[1]}
		total=${BASH_REMATCH[2]}
		T_PASS=$((T_PASS + total - failed))
		T_FAIL=$((T_FAIL + failed))
		((failed == 0)) || T_FAILED_NAMES+=("ctest${sel// /}($failed)")
	elif grep -q 'No tests were found' "$log"; then
		printf '== ctest %s: no tests registered\n' "$sel"
	else
		t_result "ctest $sel (exited $rc)" fail
	fi
	rm -f "$log"
}

# tests/fuzz/run.sh for TT_FUZZ_SECONDS (15) per target; each target is one
# result, read from the script's last line "N passed, N failed".
t_fuzz() {
	local log rc=0 line
	log=$(mktemp)
	TT_FUZZ_SECONDS=${TT_FUZZ_SECONDS:-15} TT_JOBS=$TT_JOBS \
		bash "$TT_ROOT/tests/fuzz/run.sh" 2>&1 | tee "$log" || rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1 || true)
	if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		T_PASS=$((T_PASS + BASH_REMATCH[1]))
		T_FAIL=$((T_FAIL + BASH_REMATCH[2]))
		local name
		while read -r name; do
			T_FAILED_NAMES+=("fuzz-$name")
		done < <(sed -n 's/^fuzz \([A-Za-z0-9_]*\) *FAILED.*/\1/p' "$log")
	else
		t_result "fuzz (run.sh exited $rc without a summary)" fail
	fi
	rm -f "$log"
}

# node --test over the *.test.mjs files of directory $1; adds its tests.
t_node() {
	local name=$1 dir=$TT_ROOT/tests/$1
	local -a files=()
	[[ -d $dir ]] && mapfile -t files < <(find "$dir" -name node_modules -prune -o -type f -name '*.test.mjs' -print | sort)
	if ((${#files[@]} == 0)); then
		printf '== node %s: no test files yet, skipped\n' "$name"
		return 0
	fi
	local -a opts=(--test --test-reporter=spec --test-reporter-destination=stdout)
	local tap
	tap=$(mktemp)
	opts+=(--test-reporter=tap "--test-reporter-destination=$tap")
	local major minor
	IFS=. read -r major minor _ <<<"$(node -p process.versions.node)"
	if ((major > 20 || (major == 20 && minor >= 10))); then
		opts+=(--test-concurrency=1)
	fi
	local rc=0
	(cd "$TT_ROOT" && timeout --kill-after=30 "${TT_NODE_TEST_TIMEOUT:-1500}" node "${opts[@]}" "${files[@]}") || rc=$?
	local pass fail cancelled skipped
	pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -n1)
	fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -n1)
	cancelled=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$tap" | tail -n1)
	skipped=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$tap" | tail -n1)
	rm -f "$tap"
	if [[ -z $pass ]]; then
		t_result "node $name (runner exited $rc without a summary)" fail
		return 0
	fi
	T_PASS=$((T_PASS + pass))
	T_FAIL=$((T_FAIL + ${fail:-0} + ${cancelled:-0}))
	T_SKIP=$((T_SKIP + ${skipped:-0}))
	if ((${fail:-0} + ${cancelled:-0} > 0)); then
		T_FAILED_NAMES+=("node-$name($((${fail:-0} + ${cancelled:-0})))")
	elif ((rc != 0)); then
		t_result "node $name (runner exited $rc)" fail
	fi
}

cmd_test() {
	local t_start=$SECONDS
	t_stage setup
	if "$TT_ROOT/tools/tt" setup; then t_result setup ok; else
		t_result setup fail
		t_summary
		return 1
	fi

	local asan=1
	t_stage "build (RelWithDebInfo)"
	if "$TT_ROOT/tools/tt" build; then t_result build ok; else t_result build fail; fi
	t_stage "build --asan"
	if "$TT_ROOT/tools/tt" build --asan; then t_result build-asan ok; else t_result build-asan fail; asan=0; fi

	if ((asan)); then
		t_stage "unit tests (ctest -L unit, ASan/UBSan)"
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			t_ctest "$TT_ROOT/build-asan" "-L unit" "$TT_JOBS"
	fi

	t_stage "fuzz (libFuzzer + ASan/UBSan, ${TT_FUZZ_SECONDS:-15}s per target)"
	local fuzz_start=$SECONDS
	t_fuzz
	printf '== fuzz stage took %ds\n' $((SECONDS - fuzz_start))

	t_stage "stack up"
	local started_stack=0 stack_ok=0
	stack_paths
	if ! { pg_pid && redis_pid && rmq_pid; } >/dev/null 2>&1; then started_stack=1; fi
	if "$TT_ROOT/tools/tt" stack up; then t_result stack-up ok; stack_ok=1; else t_result stack-up fail; fi

	if ((stack_ok)); then
		t_stage "database tickettoken_test"
		export DB_NAME=tickettoken_test
		if mig_psql -d postgres -c "DROP DATABASE IF EXISTS tickettoken_test WITH (FORCE)" >/dev/null &&
			"$TT_ROOT/tools/tt" migrate latest; then
			t_result migrate-test-db ok
		else
			t_result migrate-test-db fail
			stack_ok=0
		fi
	fi

	if ((stack_ok && asan)); then
		export TT_BIN_DIR=$TT_ROOT/build-asan
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		export DB_NAME=tickettoken_test
		# The rollup tests run over several seeded datasets (override to widen).
		export TT_E2E_SEEDS=${TT_E2E_SEEDS:-20250309,7,31337}
		# C tests with another label than unit need the servers: run them now.
		# (Captured first: grep -q closing the pipe early fails it under pipefail.)
		local others
		others=$(cd "$TT_ROOT/build-asan" && ctest -N -LE unit) || others=
		if grep -q '^ *Test *#' <<<"$others"; then
			t_stage "other ctest tests (ctest -LE unit, with the stack)"
			# The servers are up: a test that cannot reach them must fail, not skip.
			TT_REQUIRE_SERVERS=1 t_ctest "$TT_ROOT/build-asan" "-LE unit" 1
		fi
		t_stage "end-to-end tests (tests/e2e)"
		local port
		for port in "${PORT:-3007}" "${HEALTH_PORT:-3010}"; do
			tcp_open "$port" && warn "port $port is already in use (binaries from tools/tt up? tools/tt down stops them)"
		done
		t_node e2e
	else
		printf '\n== e2e tests not run: %s\n' "$( ((asan)) && echo 'stack or database failed' || echo 'ASan build failed')"
	fi

	# Offline checks of compose/ and k8s/: no servers, no binaries needed.
	t_stage "deployment checks (tests/deploy)"
	t_node deploy

	t_stage "banned calls"
	if bash "$TT_ROOT/tools/check-banned.sh"; then t_result check-banned ok; else t_result check-banned fail; fi

	if ((started_stack)) && [[ ${TT_KEEP_STACK:-0} != 1 ]]; then
		t_stage "stack down"
		"$TT_ROOT/tools/tt" stack down || warn "stack down failed"
	fi
	printf '\n== total time %ds\n' $((SECONDS - t_start))
	t_summary
	((T_FAIL == 0))
}
