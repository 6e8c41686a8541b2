/*
 * watermark.c - who works, and how far the work has got.
 *
 * Replicas coordinate through PostgreSQL only: a pass runs inside a
 * transaction that holds the advisory lock AGG_LOCK_KEY
 * (pg_try_advisory_xact_lock, released by the commit or rollback, so a
 * crashed replica can never leave it held). A replica that does not get it
 * skips the pass; a rebuild waits for it.
 *
 * aggregator_state row 'rollups' holds the watermark: every raw row with
 * received_at <= watermark is in the rollups. A pass covers received_at in
 * (watermark - RESCAN, now() - SLACK]: SLACK because received_at is the
 * start of ingest's transaction, which commits a little later (a row may
 * become visible after a pass whose hi is past its received_at); RESCAN
 * re-reads the last 30 s to catch such rows. Rescans only recompute buckets
 * again, which changes nothing.
 */
#include "aggregator.h"

#include <stdio.h>
#include <string.h>

#include "tt/strparse.h"

/* "ttagg" in ASCII: the one advisory lock key of the aggregator. */
#define AGG_LOCK_KEY "499968960359"

static const char SQL_TRY_LOCK[] = "SELECT pg_try_advisory_xact_lock(" AGG_LOCK_KEY ")";
static const char SQL_LOCK[] = "SELECT pg_advisory_xact_lock(" AGG_LOCK_KEY ")";

/* $1: late window in hours. Texts are timestamptz output (exact to the microsecond). */
static const char SQL_SPAN[] =
    "SELECT (w - interval '30 seconds')::text, w::text, (now() - interval '2 seconds')::text,"
    "       (now() - make_interval(hours => $1::int))::text,"
    "       extract(epoch FROM (clock_timestamp() - w))::float8"
    "  FROM (SELECT coalesce((SELECT watermark FROM aggregator_state WHERE name = 'rollups'),"
    "                        'epoch'::timestamptz) AS w) s";

static const char SQL_COUNT_LATE[] =
    "SELECT count(*) FROM raw_events r"
    " WHERE r.received_at > $1::timestamptz AND r.received_at <= $2::timestamptz"
    "   AND r.type IN ('ticket.purchased', 'ticket.refunded')"
    "   AND date_trunc('hour', r.occurred_at, 'UTC') + interval '1 hour' <= $3::timestamptz";

static const char SQL_ADVANCE[] =
    "INSERT INTO aggregator_state AS s (name, watermark, updated_at)"
    " VALUES ('rollups', $1::timestamptz, now())"
    " ON CONFLICT (name) DO UPDATE"
    "   SET watermark = greatest(s.watermark, EXCLUDED.watermark), updated_at = now()";

static const char SQL_LAG[] =
    "SELECT extract(epoch FROM (clock_timestamp() - coalesce("
    "  (SELECT watermark FROM aggregator_state WHERE name = 'rollups'), 'epoch'::timestamptz)))::float8";

enum { S_TRY_LOCK, S_SPAN, S_COUNT_LATE, S_ADVANCE, S_LAG };

const agg_stmt watermark_stmts[] = {
	[S_TRY_LOCK] = { "agg_try_lock", SQL_TRY_LOCK, 0 },
	[S_SPAN] = { "agg_span", SQL_SPAN, 1 },
	[S_COUNT_LATE] = { "agg_count_late", SQL_COUNT_LATE, 3 },
	[S_ADVANCE] = { "agg_advance", SQL_ADVANCE, 1 },
	[S_LAG] = { "agg_lag", SQL_LAG, 0 },
};
const size_t watermark_nstmts = sizeof(watermark_stmts) / sizeof(watermark_stmts[0]);

tt_err
watermark_try_lock(PGconn *conn, int *got, char *err, size_t errlen)
{
	PGresult *res = NULL;
	tt_err e = agg_stmt_exec(conn, &watermark_stmts[S_TRY_LOCK], NULL, &res, err, errlen);

	if (e != TT_OK)
		return e;
	*got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return TT_OK;
}

tt_err
watermark_lock(PGconn *conn, char *err, size_t errlen)
{
	return tt_db_exec(conn, SQL_LOCK, 0, NULL, NULL, err, errlen);
}

/* Copies a text value into a fixed buffer; TT_ETOOBIG when it does not fit. */
static tt_err
copy_text(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		return TT_ETOOBIG;
	memcpy(dst, src, n + 1);
	return TT_OK;
}

static double
parse_seconds(const char *s)
{
	/* extract(epoch) of an interval: a decimal; whole seconds are enough for a gauge. */
	int64_t v = 0;
	size_t n = strcspn(s, ".");

	if (tt_parse_i64(s, n, INT64_MIN / 2, INT64_MAX / 2, &v) != TT_OK)
		return 0;
	return (double)v;
}

tt_err
watermark_span_read(PGconn *conn, int late_window_hours, watermark_span *span,
    char *err, size_t errlen)
{
	char hours[16];
	const char *p[] = { hours };
	PGresult *res = NULL;
	watermark_span s;
	tt_err e;

	snprintf(hours, sizeof(hours), "%d", late_window_hours);
	if ((e = agg_stmt_exec(conn, &watermark_stmts[S_SPAN], p, &res, err, errlen)) != TT_OK)
		return e;
	if (PQntuples(res) != 1 ||
	    copy_text(s.lo, sizeof(s.lo), PQgetvalue(res, 0, 0)) != TT_OK ||
	    copy_text(s.watermark, sizeof(s.watermark), PQgetvalue(res, 0, 1)) != TT_OK ||
	    copy_text(s.hi, sizeof(s.hi), PQgetvalue(res, 0, 2)) != TT_OK ||
	    copy_text(s.cutoff, sizeof(s.cutoff), PQgetvalue(res, 0, 3)) != TT_OK) {
		PQclear(res);
		return tt_seterr(err, errlen, TT_EDB, "unexpected watermark row");
	}
	s.lag_seconds = parse_seconds(PQgetvalue(res, 0, 4));
	PQclear(res);
	*span = s;
	return TT_OK;
}

tt_err
watermark_count_late(PGconn *conn, const watermark_span *span, int64_t *n,
    char *err, size_t errlen)
{
	const char *p[] = { span->watermark, span->hi, span->cutoff };
	PGresult *res = NULL;
	int64_t v = 0;
	tt_err e = agg_stmt_exec(conn, &watermark_stmts[S_COUNT_LATE], p, &res, err, errlen);

	if (e != TT_OK)
		return e;
	const char *t = PQgetvalue(res, 0, 0);
	if (tt_parse_i64(t, strlen(t), 0, INT64_MAX, &v) != TT_OK)
		v = 0;
	PQclear(res);
	*n = v;
	return TT_OK;
}

tt_err
watermark_advance(PGconn *conn, const watermark_span *span, char *err, size_t errlen)
{
	const char *p[] = { span->hi };

	return agg_stmt_exec(conn, &watermark_stmts[S_ADVANCE], p, NULL, err, errlen);
}

tt_err
watermark_lag(PGconn *conn, double *lag, char *err, size_t errlen)
{
	PGresult *res = NULL;
	tt_err e = agg_stmt_exec(conn, &watermark_stmts[S_LAG], NULL, &res, err, errlen);

	if (e != TT_OK)
		return e;
	*lag = parse_seconds(PQgetvalue(res, 0, 0));
	PQclear(res);
	return TT_OK;
}
