# shellcheck shell=bash
# build.sh - `tt build [--asan]`, and the commands that run what the build
# produced: `tt publish`, `tt bench`.
#
# build/      RelWithDebInfo, warnings are errors
# build-asan/ Debug with AddressSanitizer + UndefinedBehaviorSanitizer, used
#             by the tests
# Configure runs every time (cheap, and picks up changed options); the build
# itself is incremental. Two jobs: the machines have two cores.

: "${TT_JOBS:=2}"

build_dir() {
	if [[ ${1:-} == asan ]]; then echo "$TT_ROOT/build-asan"; else echo "$TT_ROOT/build"; fi
}

# shellcheck disable=SC2120 # called without arguments for the normal build
cmd_build() {
	local kind=normal
	case ${1:-} in
	"") ;;
	--asan) kind=asan ;;
	*) die "usage: tt build [--asan]" ;;
	esac
	command -v cmake >/dev/null || die "cmake not found (run tools/tt setup)"
	local dir
	dir=$(build_dir "$kind")
	local -a opts=(-DTT_WERROR=ON)
	if [[ $kind == asan ]]; then
		opts+=(-DTT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
	else
		opts+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	fi
	info "build ($kind): configure $dir"
	mkdir -p "$dir" || die "cannot create $dir"
	run cmake -S "$TT_ROOT" -B "$dir" "${opts[@]}" >"$dir/tt-configure.log" 2>&1 || {
		tail -n 30 "$dir/tt-configure.log" >&2
		die "cmake configure failed (full log: $dir/tt-configure.log)"
	}
	info "build ($kind): cmake --build -j$TT_JOBS"
	run cmake --build "$dir" -j"$TT_JOBS" || die "build ($kind) failed"
}

cmd_publish() {
	local bin=$TT_ROOT/build/tools/tt-publish
	if [[ ! -x $bin ]]; then
		cmd_build
		[[ -x $bin ]] || die "build/tools/tt-publish was not built (is tools/publish.c there yet?)"
	fi
	exec "$bin" "$@"
}

cmd_bench() {
	local name=${1:-}
	if [[ -z $name ]]; then
		local avail
		avail=$(find "$TT_ROOT/tools/bench" -maxdepth 1 -type f -perm -u+x -printf '%f ' 2>/dev/null || true)
		die "usage: tt bench NAME [args] (available: ${avail:-none yet})"
	fi
	shift
	[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "bench: bad name '$name'"
	local prog=$TT_ROOT/tools/bench/$name
	[[ -f $prog ]] || die "bench: no tools/bench/$name"
	if [[ -x $prog ]]; then exec "$prog" "$@"; else exec bash "$prog" "$@"; fi
}
