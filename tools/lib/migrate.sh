# shellcheck shell=bash
# migrate.sh - `tt migrate latest|rollback|status|make NAME`.
#
# Migrations are migrations/NNNN_name.up.sql and NNNN_name.down.sql, applied
# in version order by psql with ON_ERROR_STOP, each file together with its
# bookkeeping row in one transaction (so a file must not contain BEGIN or
# COMMIT of its own). Applied versions are the rows of
#   schema_migrations(version text primary key, name text, applied_at timestamptz)
# The connection comes from DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD;
# the database is created when missing. Concurrent runs against one database
# from this machine are serialised with flock.

MIG_DIR=${TT_MIGRATIONS_DIR:-}

mig_psql() {
	PGPASSWORD=$DB_PASSWORD PGCONNECT_TIMEOUT=10 PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 \
		-h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" "$@"
}

# Quote a string as an SQL literal.
sql_lit() {
	local s=${1//\'/\'\'}
	printf "'%s'" "$s"
}

mig_ensure_db() {
	command -v psql >/dev/null || die "psql not found (run tools/tt setup)"
	local exists
	exists=$(mig_psql -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = $(sql_lit "$DB_NAME")" 2>&1) ||
		die "migrate: cannot connect to PostgreSQL at $DB_HOST:$DB_PORT as $DB_USER: $(head -n1 <<<"$exists") (is the stack up? tools/tt stack up)"
	if [[ $exists != 1 ]]; then
		info "migrate: creating database $DB_NAME"
		local ident=${DB_NAME//\"/\"\"}
		mig_psql -d postgres -c "CREATE DATABASE \"$ident\"" >/dev/null 2>&1 ||
			# Lost a race with another creator: fine if it exists now.
			[[ $(mig_psql -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = $(sql_lit "$DB_NAME")") == 1 ]] ||
			die "migrate: could not create database $DB_NAME"
	fi
	mig_psql -d "$DB_NAME" -c "CREATE TABLE IF NOT EXISTS schema_migrations (
		version text PRIMARY KEY, name text, applied_at timestamptz DEFAULT now())" >/dev/null 2>&1 ||
		die "migrate: cannot create schema_migrations in $DB_NAME"
}

# Lines "version name" of migrations/*.up.sql in version order. Dies on a
# malformed name, a missing down file or a duplicated version.
mig_files() {
	local f base ver name last=""
	shopt -s nullglob
	local -a files=("$MIG_DIR"/*.up.sql)
	shopt -u nullglob
	for f in "${files[@]}"; do
		base=${f##*/}
		base=${base%.up.sql}
		[[ $base =~ ^([0-9]{4})_([a-z0-9_]+)$ ]] || die "migrate: bad file name $f (want NNNN_name.up.sql)"
		ver=${BASH_REMATCH[1]}
		name=${BASH_REMATCH[2]}
		[[ -f $MIG_DIR/${base}.down.sql ]] || die "migrate: $base.up.sql has no $base.down.sql"
		[[ $ver != "$last" ]] || die "migrate: version $ver used twice"
		last=$ver
		printf '%s %s\n' "$ver" "$name"
	done
}

mig_applied() {
	mig_psql -d "$DB_NAME" -tA -F' ' -c "SELECT version, name FROM schema_migrations ORDER BY version"
}

# Run file $1 and statement $2 in one transaction.
mig_apply_file() {
	mig_psql -d "$DB_NAME" -1 -f "$1" -c "$2" >/dev/null
}

mig_lock() {
	exec {MIG_LOCK_FD}>"/tmp/tt-migrate-$(printf '%s' "$DB_HOST:$DB_PORT/$DB_NAME" | sha256sum | cut -c1-12).lock"
	flock -w 120 "$MIG_LOCK_FD" || die "migrate: another migrate is running on $DB_NAME (waited 120 s)"
}

mig_latest() {
	local -A done_=()
	local v n count=0
	while read -r v n; do [[ -n $v ]] && done_[$v]=1; done < <(mig_applied)
	while read -r v n; do
		[[ -n $v && -z ${done_[$v]:-} ]] || continue
		info "migrate: applying ${v}_$n"
		mig_apply_file "$MIG_DIR/${v}_$n.up.sql" \
			"INSERT INTO schema_migrations (version, name) VALUES ('$v', '$n')" ||
			die "migrate: ${v}_$n.up.sql failed on $DB_NAME (rolled back)"
		count=$((count + 1))
	done < <(mig_files)
	info "migrate: $DB_NAME is at the latest version ($count applied now)"
}

mig_rollback() {
	local last v n
	last=$(mig_applied | tail -n1)
	[[ -n $last ]] || { info "migrate: nothing to roll back in $DB_NAME"; return 0; }
	read -r v n <<<"$last"
	local f=$MIG_DIR/${v}_$n.down.sql
	[[ -f $f ]] || die "migrate: version $v is applied but $f does not exist"
	info "migrate: rolling back ${v}_$n"
	mig_apply_file "$f" "DELETE FROM schema_migrations WHERE version = '$v'" ||
		die "migrate: ${v}_$n.down.sql failed on $DB_NAME (rolled back)"
}

mig_status() {
	local -A at=()
	local v n t
	while IFS='|' read -r v t; do [[ -n $v ]] && at[$v]=$t; done < <(
		mig_psql -d "$DB_NAME" -tA -c "SELECT version, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM schema_migrations ORDER BY version")
	printf 'database %s at %s:%s\n' "$DB_NAME" "$DB_HOST" "$DB_PORT"
	local -A seen=()
	while read -r v n; do
		[[ -n $v ]] || continue
		seen[$v]=1
		if [[ -n ${at[$v]:-} ]]; then
			printf '  applied  %s_%s  %s\n' "$v" "$n" "${at[$v]}"
		else
			printf '  pending  %s_%s\n' "$v" "$n"
		fi
	done < <(mig_files)
	for v in "${!at[@]}"; do
		[[ -n ${seen[$v]:-} ]] || printf '  applied  %s  (no file in migrations/)\n' "$v"
	done
}

mig_make() {
	local name=${1:-}
	[[ $name =~ ^[a-z0-9_]+$ ]] || die "usage: tt migrate make NAME (lower case letters, digits, _)"
	mkdir -p "$MIG_DIR"
	local last next
	last=$(mig_files | tail -n1 | cut -d' ' -f1)
	next=$(printf '%04d' $((10#${last:-0} + 1)))
	local up=$MIG_DIR/${next}_$name.up.sql down=$MIG_DIR/${next}_$name.down.sql
	printf -- '-- %s_%s: \n-- Runs in one transaction with its schema_migrations row: no BEGIN/COMMIT here.\n' \
		"$next" "$name" >"$up"
	printf -- '-- Undoes %s_%s.up.sql.\n' "$next" "$name" >"$down"
	printf '%s\n%s\n' "${up#"$TT_ROOT"/}" "${down#"$TT_ROOT"/}"
}

cmd_migrate() {
	: "${MIG_DIR:=$TT_ROOT/migrations}"
	local sub=${1:-}
	case $sub in
	latest | rollback | status)
		mig_ensure_db
		mig_lock
		"mig_$sub"
		# Release the lock now: `tt up` starts the services from this
		# shell, and they would inherit the descriptor and hold it.
		exec {MIG_LOCK_FD}>&-
		;;
	make) shift; mig_make "$@" ;;
	*) die "usage: tt migrate latest|rollback|status|make NAME" ;;
	esac
}
