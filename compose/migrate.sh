#!/bin/sh
# migrate.sh - applies migrations/NNNN_name.up.sql in version order, each at
# most once: the container twin of `tools/tt migrate latest`, used by the
# compose `migrate` service (postgres:15 image, migrations mounted read-only)
# and by the Kubernetes migrate Job (the app image ships it as tt-migrate).
#
# Same contract as tools/lib/migrate.sh, so either tool can take over a
# database the other migrated:
#   - files NNNN_name.up.sql (name [a-z0-9_]+), each with a NNNN_name.down.sql;
#   - bookkeeping in schema_migrations(version text primary key, name text,
#     applied_at timestamptz default now()), version = NNNN;
#   - each file runs in one transaction together with its bookkeeping row
#     (so a file must not BEGIN/COMMIT itself); a failure rolls it back.
# Everything runs in one psql session holding a PostgreSQL advisory lock, so
# several replicas or Jobs started at once apply each file exactly once.
#
# Environment: DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD (the services'
# names), MIGRATIONS_DIR (/migrations), MIGRATE_WAIT_SECONDS (60).
# Exit status 0 when the database is at the latest version.
set -eu

dir=${MIGRATIONS_DIR:-/migrations}
db=${DB_NAME:-tickettoken_db}
wait_s=${MIGRATE_WAIT_SECONDS:-60}
PGHOST=${DB_HOST:-postgres}
PGPORT=${DB_PORT:-5432}
PGUSER=${DB_USER:-postgres}
PGPASSWORD=${DB_PASSWORD:-}
PGCONNECT_TIMEOUT=10
PGOPTIONS="-c client_min_messages=warning"
export PGHOST PGPORT PGUSER PGPASSWORD PGCONNECT_TIMEOUT PGOPTIONS

die() {
	echo "migrate: error: $*" >&2
	exit 1
}

run_psql() {
	psql -X -q -v ON_ERROR_STOP=1 "$@"
}

case $db in
'' | *[!A-Za-z0-9_]*) die "DB_NAME must be [A-Za-z0-9_]+, got '$db'" ;;
esac
[ -d "$dir" ] || die "no migrations directory $dir"

# The server may still be starting (compose, a fresh cluster).
i=0
until pg_isready -q -d postgres; do
	i=$((i + 1))
	[ "$i" -lt "$wait_s" ] || die "PostgreSQL at $PGHOST:$PGPORT not ready after ${wait_s}s"
	sleep 1
done

exists=$(run_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'") ||
	die "cannot connect to PostgreSQL at $PGHOST:$PGPORT as $PGUSER"
if [ "$exists" != 1 ]; then
	echo "migrate: creating database $db"
	# Losing a race with another creator is fine if the database exists now.
	run_psql -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null 2>&1 ||
		[ "$(run_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ] ||
		die "could not create database $db"
fi

# One psql script: lock, then per file "skip if applied, else apply + record".
script=$(mktemp)
trap 'rm -f "$script"' EXIT
{
	# Heredocs and printf, never echo: dash's echo eats backslashes.
	cat <<'SQL'
CREATE TABLE IF NOT EXISTS schema_migrations (
  version text PRIMARY KEY, name text, applied_at timestamptz DEFAULT now());
SELECT pg_advisory_lock(hashtext('tickettoken:schema_migrations')) AS locked \gset
\set applied_now 0
SQL
	last=
	found=0
	for f in "$dir"/*.up.sql; do
		[ -e "$f" ] || continue
		base=${f##*/}
		base=${base%.up.sql}
		ver=${base%%_*}
		name=${base#*_}
		printf '%s\n' "$base" | grep -Eq '^[0-9]{4}_[a-z0-9_]+$' ||
			die "bad file name $f (want NNNN_name.up.sql)"
		[ -f "$dir/$base.down.sql" ] || die "$base.up.sql has no $base.down.sql"
		[ "$ver" != "$last" ] || die "version $ver used twice"
		last=$ver
		found=$((found + 1))
		cat <<SQL
SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '$ver') AS done_$ver \\gset
\\if :done_$ver
\\else
\\echo migrate: applying ${ver}_$name
BEGIN;
\\i $f
INSERT INTO schema_migrations (version, name) VALUES ('$ver', '$name');
COMMIT;
SELECT :applied_now + 1 AS applied_now \\gset
\\endif
SQL
	done
	[ "$found" -gt 0 ] || printf '\\echo migrate: no migrations in %s\n' "$dir"
	printf '\\echo migrate: %s is at the latest version (:applied_now applied now)\n' "$db"
} >"$script"

run_psql -d "$db" -f "$script" || die "a migration failed on $db (its transaction was rolled back)"
