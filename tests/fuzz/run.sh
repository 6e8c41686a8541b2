#!/usr/bin/env bash
# run.sh - build the libFuzzer targets (libcommon/src/*_fuzz.c) with clang
# into build-fuzz/ and fuzz each one for a while.
#
#   tests/fuzz/run.sh [TARGET...]      (default: every *_fuzz.c; "event" or
#                                       "event_fuzz" both name event_fuzz)
#
# Environment: TT_FUZZ_SECONDS (20) per target, TT_JOBS (2) build jobs.
#
# Each target starts from a scratch copy of tests/fuzz/corpus/<name>/ (the
# repository is never written to) and runs with ASan, UBSan (every report
# fatal) and leak detection. Reproducers, logs and the corpus libFuzzer grew
# stay in build-fuzz/fuzz-runs/<time>/<name>/ so a failure can be replayed:
#   build-fuzz/libcommon/<name>_fuzz <reproducer>
# One line per target; the last line is "N passed, N failed"; the exit
# status is non-zero when any target failed to build or found a crash, a
# leak, a timeout or an out-of-memory.
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd -P)
build=$root/build-fuzz
seconds=${TT_FUZZ_SECONDS:-20}
jobs=${TT_JOBS:-2}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
	echo "run.sh: TT_FUZZ_SECONDS must be a positive number of seconds" >&2
	exit 2
fi

# Largest input per target: a whole message body for event (64 KiB), a bit
# past each parser's own limit or typical size for the others.
max_len() {
	case $1 in
	event) echo 65536 ;;
	auth) echo 8300 ;;  # TT_AUTH_TOKEN_MAX is 8192
	bus) echo 4096 ;;
	http) echo 1024 ;;
	ws) echo 4096 ;;
	sio) echo 4096 ;;
	strparse) echo 4096 ;;  # an RFM counts array is ~250 - 1,400 bytes
	*) echo 128 ;;
	esac
}

names=()
if (($#)); then
	for a in "$@"; do names+=("${a%_fuzz}"); done
else
	for f in "$root"/libcommon/src/*_fuzz.c; do
		[[ -e $f ]] || continue
		f=${f##*/}
		names+=("${f%_fuzz.c}")
	done
fi
if ((${#names[@]} == 0)); then
	echo "run.sh: no libcommon/src/*_fuzz.c targets"
	echo "0 passed, 0 failed"
	exit 0
fi
for n in "${names[@]}"; do
	[[ -f $root/libcommon/src/${n}_fuzz.c ]] || {
		echo "run.sh: no target libcommon/src/${n}_fuzz.c" >&2
		exit 2
	}
done

passed=0
failed=0
command -v clang >/dev/null || {
	echo "run.sh: clang not found (tools/tt setup installs it)" >&2
	for n in "${names[@]}"; do printf 'fuzz %-6s FAILED: clang not found\n' "$n"; done
	echo "0 passed, ${#names[@]} failed"
	exit 1
}

# ---- build ---------------------------------------------------------------
# -O1 with frame pointers: the usual libFuzzer trade-off between speed and
# readable sanitizer stacks. Warnings are errors, as in the other builds.
mkdir -p "$build"
start=$SECONDS
targets=()
for n in "${names[@]}"; do targets+=("${n}_fuzz"); done
echo "fuzz: building ${targets[*]} in $build"
if ! cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DTT_FUZZ=ON -DTT_WERROR=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo \
	"-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g -fno-omit-frame-pointer" \
	>"$build/fuzz-configure.log" 2>&1 ||
	! cmake --build "$build" -j"$jobs" --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1; then
	tail -n 40 "$build/fuzz-configure.log" "$build/fuzz-build.log" 2>/dev/null || true
	for n in "${names[@]}"; do printf 'fuzz %-6s FAILED: build failed (%s)\n' "$n" "$build/fuzz-build.log"; done
	echo "0 passed, ${#names[@]} failed"
	exit 1
fi
echo "fuzz: built in $((SECONDS - start))s; ${seconds}s per target"

# ---- run -----------------------------------------------------------------
runs=$build/fuzz-runs/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$runs"
# Keep the ten latest runs.
find "$build/fuzz-runs" -mindepth 1 -maxdepth 1 -type d | sort | head -n -10 |
	while read -r old; do rm -rf -- "$old"; done
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tt-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

symbolizer=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || true)
export ASAN_OPTIONS=detect_leaks=1:symbolize=1${symbolizer:+:external_symbolizer_path=$symbolizer}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=${LSAN_OPTIONS:-}

for n in "${names[@]}"; do
	bin=$build/libcommon/${n}_fuzz
	out=$runs/$n
	corpus=$scratch/$n
	mkdir -p "$out" "$corpus"
	if [[ -d $root/tests/fuzz/corpus/$n ]]; then
		cp -R "$root/tests/fuzz/corpus/$n/." "$corpus/"
	fi
	log=$out/fuzz.log
	rc=0
	# First the kept reproducers of tests/fuzz/crashes/<name>/, once each:
	# a fixed bug must stay fixed (known, unfixed ones are tolerated by the
	# target unless TT_KNOWN_BUGS=1).
	repros=()
	if [[ -d $root/tests/fuzz/crashes/$n ]]; then
		mapfile -t repros < <(find "$root/tests/fuzz/crashes/$n" -type f | sort)
	fi
	if ((${#repros[@]})); then
		if ! timeout --kill-after=10 60 "$bin" -rss_limit_mb=2048 -timeout=10 \
			"${repros[@]}" >"$out/replay.log" 2>&1; then
			failed=$((failed + 1))
			what=$(grep -m1 -E 'invariant failed: ' "$out/replay.log" || true)
			[[ -n $what ]] || what=$(grep -m1 -E '^SUMMARY: ' "$out/replay.log" | sed 's/^SUMMARY: //' || true)
			repro=$(sed -n 's/^Running: //p' "$out/replay.log" | tail -n1)
			printf 'fuzz %-6s FAILED: a kept reproducer fails again: %s\n' "$n" "${what:-see the log}"
			printf '    reproducer: %s\n    log: %s\n    replay: %s %s\n' \
				"${repro:-?}" "$out/replay.log" "$bin" "${repro:-<reproducer>}"
			continue
		fi
	fi
	# The outer timeout only guards against a hung fuzzer; libFuzzer's own
	# -timeout flags a single slow input.
	timeout --kill-after=10 $((seconds + 60)) "$bin" \
		-max_total_time="$seconds" -max_len="$(max_len "$n")" -rss_limit_mb=2048 \
		-timeout=10 -detect_leaks=1 -print_final_stats=1 \
		-artifact_prefix="$out/" "$corpus" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
	units=$(find "$corpus" -type f | wc -l)
	cp -R "$corpus" "$out/corpus"
	if ((rc == 0)) && [[ -n $execs ]]; then
		passed=$((passed + 1))
		printf 'fuzz %-6s ok: %s execs/s, %s execs in %ss, corpus %s\n' \
			"$n" "${rate:-?}" "$execs" "$seconds" "$units"
	else
		failed=$((failed + 1))
		what=$(grep -m1 -E 'invariant failed: ' "$log" || true)
		[[ -n $what ]] || what=$(grep -m1 -E '^SUMMARY: ' "$log" | sed 's/^SUMMARY: //' || true)
		[[ -n $what ]] || what=$(grep -m1 -E '^==[0-9]+== *ERROR: ' "$log" | sed 's/^==[0-9]*== *ERROR: //' || true)
		((rc == 124 || rc == 137)) && what="hung past $((seconds + 60))s"
		repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
		printf 'fuzz %-6s FAILED (exit %d): %s\n' "$n" "$rc" "${what:-see the log}"
		printf '    reproducer: %s\n    log: %s\n    replay: %s %s\n' \
			"${repro:-none written}" "$log" "$bin" "${repro:-<reproducer>}"
	fi
done

echo "fuzz: logs and corpora in $runs"
echo "$passed passed, $failed failed"
((failed == 0))
