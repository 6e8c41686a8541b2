/*
 * rollup.c - which buckets to recompute, and recomputing them.
 *
 * Two steps, both pure SQL over one connection inside the caller's
 * transaction:
 *
 *  1. Keys. Four temporary tables (emptied at commit) list the buckets to
 *     recompute: agg_k_hour (venue, UTC hour start), agg_k_day (venue,
 *     venue-local date, the venue's time zone), agg_k_customer (venue,
 *     customer hash), agg_k_event (venue, show id). An incremental pass
 *     fills them from the raw rows received since the watermark; a rebuild
 *     from the raw rows of a range and from the rollup rows already there.
 *
 *  2. Recompute. For each key table: DELETE the rollup rows of those keys,
 *     then INSERT ... SELECT ... GROUP BY over every raw row of the bucket.
 *     The day keys also drive the seed's venue_analytics and
 *     analytics_aggregations rows of each venue-local day.
 *     A rollup row is therefore always a function of raw_events alone (and
 *     venues.timezone), whichever way it was reached: an incremental pass
 *     and a rebuild give identical rows.
 *
 * Definitions (docs/aggregator.md): a sale is a ticket.purchased row, a
 * refund a ticket.refunded row (its revenue_cents is negative); orders =
 * the number of purchase events (additive across buckets); gross = sum of
 * purchase revenue, refund_cents = -sum of refund revenue, net = gross -
 * refund_cents. Dimensions absent from the payload are ''.
 */
#include "aggregator.h"

#include <stdint.h>
#include <string.h>

#include "tt/strparse.h"

#define SALES_TYPES "('ticket.purchased', 'ticket.refunded')"
#define P "r.type = 'ticket.purchased'"
#define R "r.type = 'ticket.refunded'"

/* -------------------------------------------------------------- key tables */

static const char *const KEY_TABLES[] = {
	"CREATE TEMP TABLE agg_k_hour (venue_id varchar(64) NOT NULL, bucket timestamptz NOT NULL,"
	" PRIMARY KEY (venue_id, bucket)) ON COMMIT DELETE ROWS",
	"CREATE TEMP TABLE agg_k_day (venue_id varchar(64) NOT NULL, local_date date NOT NULL,"
	" tz text NOT NULL, PRIMARY KEY (venue_id, local_date)) ON COMMIT DELETE ROWS",
	"CREATE TEMP TABLE agg_k_customer (venue_id varchar(64) NOT NULL, customer_hash char(64) NOT NULL,"
	" PRIMARY KEY (venue_id, customer_hash)) ON COMMIT DELETE ROWS",
	"CREATE TEMP TABLE agg_k_event (venue_id varchar(64) NOT NULL, event_id varchar(128) NOT NULL,"
	" PRIMARY KEY (venue_id, event_id)) ON COMMIT DELETE ROWS",
};

/* ------------------------------------------------- keys: received since ($1, $2] */

#define RECEIVED "r.received_at > $1::timestamptz AND r.received_at <= $2::timestamptz"

static const char SQL_K_HOUR_CHANGED[] =
    "INSERT INTO agg_k_hour (venue_id, bucket)"
    " SELECT DISTINCT r.venue_id, date_trunc('hour', r.occurred_at, 'UTC') FROM raw_events r"
    " WHERE " RECEIVED " AND r.type IN " SALES_TYPES
    "   AND date_trunc('hour', r.occurred_at, 'UTC') + interval '1 hour' > $3::timestamptz"
    " ON CONFLICT DO NOTHING";

static const char SQL_K_DAY_CHANGED[] =
    "INSERT INTO agg_k_day (venue_id, local_date, tz)"
    " SELECT DISTINCT d.venue_id, d.local_date, d.tz FROM ("
    "   SELECT r.venue_id, (r.occurred_at AT TIME ZONE coalesce(v.timezone, 'UTC'))::date AS local_date,"
    "          coalesce(v.timezone, 'UTC') AS tz"
    "     FROM raw_events r LEFT JOIN venues v ON v.venue_id = r.venue_id"
    "    WHERE " RECEIVED " AND r.type IN " SALES_TYPES ") d"
    " WHERE ((d.local_date + 1)::timestamp AT TIME ZONE d.tz) > $3::timestamptz"
    " ON CONFLICT DO NOTHING";

static const char SQL_K_CUSTOMER_CHANGED[] =
    "INSERT INTO agg_k_customer (venue_id, customer_hash)"
    " SELECT DISTINCT r.venue_id, r.customer_hash FROM raw_events r"
    " WHERE " RECEIVED " AND r.type IN " SALES_TYPES " AND r.customer_hash IS NOT NULL"
    " ON CONFLICT DO NOTHING";

static const char SQL_K_EVENT_CHANGED[] =
    "INSERT INTO agg_k_event (venue_id, event_id)"
    " SELECT DISTINCT r.venue_id, r.event_id FROM raw_events r"
    " WHERE " RECEIVED " AND r.event_id IS NOT NULL"
    "   AND r.type IN ('ticket.purchased', 'ticket.refunded', 'event.created', 'event.updated')"
    " ON CONFLICT DO NOTHING";

/* ------------------------------- keys: intersecting [$2, $3) of venue $1 ('' = all) */

#define VENUE(col) "($1::text = '' OR " col " = $1::text)"
#define EVERYTHING "($2::timestamptz = '-infinity' AND $3::timestamptz = 'infinity')"

static const char SQL_K_HOUR_RANGE[] =
    "INSERT INTO agg_k_hour (venue_id, bucket)"
    " SELECT venue_id, bucket FROM ("
    "   SELECT r.venue_id, date_trunc('hour', r.occurred_at, 'UTC') AS bucket FROM raw_events r"
    "    WHERE " VENUE("r.venue_id") " AND r.type IN " SALES_TYPES
    "      AND r.occurred_at >= $2::timestamptz - interval '1 hour'"
    "      AND r.occurred_at < $3::timestamptz + interval '1 hour'"
    "   UNION"
    "   SELECT s.venue_id, s.bucket FROM sales_rollups s"
    "    WHERE s.granularity = 'hour' AND " VENUE("s.venue_id")
    "      AND s.bucket >= $2::timestamptz - interval '1 hour' AND s.bucket < $3::timestamptz) k"
    " WHERE k.bucket < $3::timestamptz AND k.bucket + interval '1 hour' > $2::timestamptz"
    " ON CONFLICT DO NOTHING";

static const char SQL_K_DAY_RANGE[] =
    "INSERT INTO agg_k_day (venue_id, local_date, tz)"
    " SELECT d.venue_id, d.local_date, coalesce(v.timezone, 'UTC') FROM ("
    "   SELECT r.venue_id, (r.occurred_at AT TIME ZONE coalesce(v2.timezone, 'UTC'))::date AS local_date"
    "     FROM raw_events r LEFT JOIN venues v2 ON v2.venue_id = r.venue_id"
    "    WHERE " VENUE("r.venue_id") " AND r.type IN " SALES_TYPES
    "      AND r.occurred_at >= $2::timestamptz - interval '2 days'"
    "      AND r.occurred_at < $3::timestamptz + interval '2 days'"
    "   UNION"
    "   SELECT s.venue_id, s.local_date FROM sales_rollups s"
    "    WHERE s.granularity = 'day' AND " VENUE("s.venue_id")
    "      AND s.bucket >= $2::timestamptz - interval '2 days'"
    "      AND s.bucket < $3::timestamptz + interval '2 days') d"
    " LEFT JOIN venues v ON v.venue_id = d.venue_id"
    " WHERE (d.local_date::timestamp AT TIME ZONE coalesce(v.timezone, 'UTC')) < $3::timestamptz"
    "   AND ((d.local_date + 1)::timestamp AT TIME ZONE coalesce(v.timezone, 'UTC')) > $2::timestamptz"
    " ON CONFLICT DO NOTHING";

static const char SQL_K_CUSTOMER_RANGE[] =
    "INSERT INTO agg_k_customer (venue_id, customer_hash)"
    " SELECT r.venue_id, r.customer_hash FROM raw_events r"
    "  WHERE " VENUE("r.venue_id") " AND r.type IN " SALES_TYPES " AND r.customer_hash IS NOT NULL"
    "    AND r.occurred_at >= $2::timestamptz AND r.occurred_at < $3::timestamptz"
    " UNION"
    " SELECT c.venue_id, c.customer_hash FROM customer_stats c"
    "  WHERE " VENUE("c.venue_id") " AND " EVERYTHING
    " ON CONFLICT DO NOTHING";

static const char SQL_K_EVENT_RANGE[] =
    "INSERT INTO agg_k_event (venue_id, event_id)"
    " SELECT r.venue_id, r.event_id FROM raw_events r"
    "  WHERE " VENUE("r.venue_id") " AND r.event_id IS NOT NULL"
    "    AND r.type IN ('ticket.purchased', 'ticket.refunded', 'event.created', 'event.updated')"
    "    AND r.occurred_at >= $2::timestamptz AND r.occurred_at < $3::timestamptz"
    " UNION"
    " SELECT e.venue_id, e.event_id FROM event_stats e WHERE " VENUE("e.venue_id") " AND " EVERYTHING
    " UNION"
    " SELECT c.venue_id, c.event_id FROM event_catalog c WHERE " VENUE("c.venue_id") " AND " EVERYTHING
    " ON CONFLICT DO NOTHING";

/* --------------------------------------------------------------- recompute */

/* The measures of a sales_rollups row, over the raw rows r of one group. */
#define SALES_MEASURES                                                            \
	"coalesce(sum(r.quantity) FILTER (WHERE " P "), 0),"                      \
	" count(*) FILTER (WHERE " P "),"                                         \
	" coalesce(sum(r.revenue_cents) FILTER (WHERE " P "), 0)::bigint,"        \
	" coalesce(-sum(r.revenue_cents) FILTER (WHERE " R "), 0)::bigint,"       \
	" count(*) FILTER (WHERE " R "),"                                         \
	" coalesce(sum(r.revenue_cents), 0)::bigint"

#define SALES_DIMS                                                                \
	"coalesce(r.event_id, ''), coalesce(r.payload->'data'->>'channel', ''),"  \
	" coalesce(r.payload->'data'->>'eventType', '')"

#define SALES_COLUMNS                                                             \
	"INSERT INTO sales_rollups (venue_id, granularity, bucket, local_date, event_id, channel,"  \
	" event_type, tickets_sold, orders, gross_cents, refund_cents, refunds, net_cents) "

/*
 * raw_events with each row's venue-local date, so that joins on (venue,
 * local date) are hashable: a rebuild is then one pass over raw_events,
 * not a range comparison of every key with every row of its venue.
 */
#define RAW_WITH_LOCAL_DATE                                                      \
	"(SELECT r0.*, (r0.occurred_at AT TIME ZONE coalesce(v0.timezone, 'UTC'))::date" \
	"  AS local_date FROM raw_events r0 LEFT JOIN venues v0 ON v0.venue_id = r0.venue_id)"

static const char SQL_DEL_HOUR[] =
    "DELETE FROM sales_rollups s USING agg_k_hour k"
    " WHERE s.venue_id = k.venue_id AND s.granularity = 'hour' AND s.bucket = k.bucket";

static const char SQL_INS_HOUR[] =
    SALES_COLUMNS
    "SELECT k.venue_id, 'hour', k.bucket, (k.bucket AT TIME ZONE coalesce(v.timezone, 'UTC'))::date, "
    SALES_DIMS ", " SALES_MEASURES
    " FROM agg_k_hour k"
    " JOIN raw_events r ON r.venue_id = k.venue_id"
    /*
     * The equality makes the join hashable on (venue, hour), so a rebuild
     * over millions of rows is one pass over raw_events; the range lets an
     * incremental pass with few keys use the time index instead.
     */
    "  AND date_trunc('hour', r.occurred_at AT TIME ZONE 'UTC') = (k.bucket AT TIME ZONE 'UTC')"
    "  AND r.occurred_at >= k.bucket AND r.occurred_at < k.bucket + interval '1 hour'"
    " LEFT JOIN venues v ON v.venue_id = k.venue_id"
    " WHERE r.type IN " SALES_TYPES
    " GROUP BY k.venue_id, k.bucket, v.timezone, 5, 6, 7";

static const char SQL_DEL_DAY[] =
    "DELETE FROM sales_rollups s USING agg_k_day k"
    " WHERE s.venue_id = k.venue_id AND s.granularity = 'day' AND s.local_date = k.local_date";

static const char SQL_INS_DAY[] =
    SALES_COLUMNS
    "SELECT k.venue_id, 'day', (k.local_date::timestamp AT TIME ZONE k.tz), k.local_date, "
    SALES_DIMS ", " SALES_MEASURES
    " FROM agg_k_day k"
    " JOIN " RAW_WITH_LOCAL_DATE " r ON r.venue_id = k.venue_id AND r.local_date = k.local_date"
    "  AND r.occurred_at >= (k.local_date::timestamp AT TIME ZONE k.tz)"
    "  AND r.occurred_at < ((k.local_date + 1)::timestamp AT TIME ZONE k.tz)"
    " WHERE r.type IN " SALES_TYPES
    " GROUP BY k.venue_id, k.local_date, k.tz, 5, 6, 7";

static const char SQL_DEL_CUSTOMER[] =
    "DELETE FROM customer_stats c USING agg_k_customer k"
    " WHERE c.venue_id = k.venue_id AND c.customer_hash = k.customer_hash";

static const char SQL_INS_CUSTOMER[] =
    "INSERT INTO customer_stats (venue_id, customer_hash, orders, tickets, spend_cents,"
    " refund_cents, first_purchase, last_purchase)"
    " SELECT k.venue_id, k.customer_hash,"
    "  count(*) FILTER (WHERE " P "),"
    "  coalesce(sum(r.quantity) FILTER (WHERE " P "), 0),"
    "  coalesce(sum(r.revenue_cents) FILTER (WHERE " P "), 0)::bigint,"
    "  coalesce(-sum(r.revenue_cents) FILTER (WHERE " R "), 0)::bigint,"
    "  min(r.occurred_at) FILTER (WHERE " P "), max(r.occurred_at) FILTER (WHERE " P ")"
    " FROM agg_k_customer k"
    " JOIN raw_events r ON r.venue_id = k.venue_id AND r.customer_hash = k.customer_hash"
    " WHERE r.type IN " SALES_TYPES
    " GROUP BY k.venue_id, k.customer_hash";

static const char SQL_DEL_EVENT[] =
    "DELETE FROM event_stats e USING agg_k_event k"
    " WHERE e.venue_id = k.venue_id AND e.event_id = k.event_id";

static const char SQL_INS_EVENT[] =
    "INSERT INTO event_stats (venue_id, event_id, tickets_sold, orders, gross_cents,"
    " refund_cents, first_sale, last_sale)"
    " SELECT k.venue_id, k.event_id,"
    "  coalesce(sum(r.quantity) FILTER (WHERE " P "), 0),"
    "  count(*) FILTER (WHERE " P "),"
    "  coalesce(sum(r.revenue_cents) FILTER (WHERE " P "), 0)::bigint,"
    "  coalesce(-sum(r.revenue_cents) FILTER (WHERE " R "), 0)::bigint,"
    "  min(r.occurred_at) FILTER (WHERE " P "), max(r.occurred_at) FILTER (WHERE " P ")"
    " FROM agg_k_event k"
    " JOIN raw_events r ON r.venue_id = k.venue_id AND r.event_id = k.event_id"
    " WHERE r.type IN " SALES_TYPES
    " GROUP BY k.venue_id, k.event_id";

static const char SQL_DEL_CATALOG[] =
    "DELETE FROM event_catalog c USING agg_k_event k"
    " WHERE c.venue_id = k.venue_id AND c.event_id = k.event_id";

/*
 * The latest event.created/updated wins: by occurred_at, then an update
 * over a creation, then the larger id (a total order, so reruns agree).
 * ingest has validated the fields (capacity an integer, startsAt ISO 8601).
 */
static const char SQL_INS_CATALOG[] =
    "INSERT INTO event_catalog (venue_id, event_id, name, capacity, starts_at, event_type, occurred_at)"
    " SELECT DISTINCT ON (k.venue_id, k.event_id) k.venue_id, k.event_id,"
    "  r.payload->'data'->>'name',"
    "  CASE WHEN jsonb_typeof(r.payload->'data'->'capacity') = 'number'"
    "       THEN (r.payload->'data'->>'capacity')::numeric::integer END,"
    "  (r.payload->'data'->>'startsAt')::timestamptz,"
    "  r.payload->'data'->>'eventType', r.occurred_at"
    " FROM agg_k_event k"
    " JOIN raw_events r ON r.venue_id = k.venue_id AND r.event_id = k.event_id"
    " WHERE r.type IN ('event.created', 'event.updated')"
    " ORDER BY k.venue_id, k.event_id, r.occurred_at DESC, (r.type = 'event.updated') DESC, r.id DESC";

/*
 * The seed's tables, per venue-local day (keys of agg_k_day), recomputed
 * whole like the sales day buckets.
 *
 * venue_analytics: one daily row (hour NULL) and one row per local hour
 * that has a sale or a refund; on a 25 h day the two UTC hours of the
 * repeated local hour fall in the same row. revenue = net cents / 100 as an
 * exact numeric(20,2); unique_customers = distinct purchasers.
 */
#define LOCAL_DAY_ROWS                                                            \
	" FROM agg_k_day k"                                                       \
	" JOIN " RAW_WITH_LOCAL_DATE " r"                                         \
	"  ON r.venue_id = k.venue_id AND r.local_date = k.local_date"           \
	"  AND r.occurred_at >= (k.local_date::timestamp AT TIME ZONE k.tz)"      \
	"  AND r.occurred_at < ((k.local_date + 1)::timestamp AT TIME ZONE k.tz)" \
	" WHERE r.type IN " SALES_TYPES

static const char SQL_DEL_VENUE_DAY[] =
    "DELETE FROM venue_analytics a USING agg_k_day k"
    " WHERE a.venue_id = k.venue_id AND a.date = k.local_date";

static const char SQL_INS_VENUE_DAY[] =
    "INSERT INTO venue_analytics (venue_id, date, hour, tickets_sold, revenue, unique_customers)"
    " SELECT k.venue_id, k.local_date,"
    "  extract(hour FROM r.occurred_at AT TIME ZONE k.tz)::integer,"  /* NULL in the () set */
    "  coalesce(sum(r.quantity) FILTER (WHERE " P "), 0),"
    "  (coalesce(sum(r.revenue_cents), 0) / 100.0)::numeric(20,2),"
    "  count(DISTINCT r.customer_hash) FILTER (WHERE " P ")"
    LOCAL_DAY_ROWS
    " GROUP BY k.venue_id, k.local_date, k.tz,"
    "  GROUPING SETS ((), (extract(hour FROM r.occurred_at AT TIME ZONE k.tz)))";

/*
 * analytics_aggregations: per venue-local day, metric_type 'revenue' (net,
 * exact decimal currency units) and 'ticketSales' (tickets of purchases);
 * period = the day's UTC bounds, granularity {"unit":"day","value":1},
 * data = the 24 local hours [{hour, value}] (0 where nothing sold), summary
 * = {total, peakHour}: peakHour is the earliest hour with the largest
 * value, null when no hour is above 0. Only rows of those metric types
 * and that granularity are ever deleted (others may write the table): the
 * ones whose period overlaps the day, which is the day's own row and, after
 * a change of the venue's zone, the rows of the former zone's days.
 */
#define DAY_GRANULARITY "'{\"unit\": \"day\", \"value\": 1}'::jsonb"

static const char SQL_DEL_AGGREGATION[] =
    "DELETE FROM analytics_aggregations a USING agg_k_day k"
    " WHERE a.venue_id = k.venue_id AND a.metric_type IN ('revenue', 'ticketSales')"
    "   AND a.granularity = " DAY_GRANULARITY
    "   AND a.period_start < ((k.local_date + 1)::timestamp AT TIME ZONE k.tz)"
    "   AND a.period_end > (k.local_date::timestamp AT TIME ZONE k.tz)";

static const char SQL_INS_AGGREGATION[] =
    "INSERT INTO analytics_aggregations (venue_id, metric_type, period_start, period_end,"
    " granularity, data, summary)"
    " WITH h AS ("
    "   SELECT k.venue_id, k.local_date, k.tz,"
    "          extract(hour FROM r.occurred_at AT TIME ZONE k.tz)::integer AS hour,"
    "          coalesce(sum(r.quantity) FILTER (WHERE " P "), 0)::numeric AS tickets,"
    "          (sum(r.revenue_cents) / 100.0)::numeric(20,2) AS revenue"
    LOCAL_DAY_ROWS
    "    GROUP BY 1, 2, 3, 4),"
    " v AS ("
    "   SELECT d.venue_id, d.local_date, d.tz, m.metric, g.hour,"
    "          coalesce(CASE m.metric WHEN 'revenue' THEN h.revenue ELSE h.tickets END,"
    "                   CASE m.metric WHEN 'revenue' THEN 0.00 ELSE 0 END) AS value"
    "     FROM (SELECT DISTINCT venue_id, local_date, tz FROM h) d"
    "     CROSS JOIN (VALUES ('revenue'), ('ticketSales')) m(metric)"
    "     CROSS JOIN generate_series(0, 23) g(hour)"
    "     LEFT JOIN h ON h.venue_id = d.venue_id AND h.local_date = d.local_date AND h.hour = g.hour)"
    " SELECT venue_id, metric, (local_date::timestamp AT TIME ZONE tz),"
    "  ((local_date + 1)::timestamp AT TIME ZONE tz), " DAY_GRANULARITY ","
    "  jsonb_agg(jsonb_build_object('hour', hour, 'value', value) ORDER BY hour),"
    "  jsonb_build_object('total', sum(value),"
    "   'peakHour', (array_agg(hour ORDER BY value DESC, hour) FILTER (WHERE value > 0))[1])"
    " FROM v GROUP BY venue_id, local_date, tz, metric";

static const char SQL_KEY_COUNTS[] =
    "SELECT (SELECT count(*) FROM agg_k_hour), (SELECT count(*) FROM agg_k_day),"
    " (SELECT count(*) FROM agg_k_customer), (SELECT count(*) FROM agg_k_event)";

/* ------------------------------------------------------------------ code */

/* Statement indexes into rollup_stmts. */
enum {
	S_K_HOUR_CHANGED, S_K_DAY_CHANGED, S_K_CUSTOMER_CHANGED, S_K_EVENT_CHANGED,
	S_KEY_COUNTS,
	S_DEL_HOUR, S_INS_HOUR, S_DEL_DAY, S_INS_DAY,
	S_DEL_VENUE_DAY, S_INS_VENUE_DAY, S_DEL_AGGREGATION, S_INS_AGGREGATION, S_DEL_CUSTOMER, S_INS_CUSTOMER,
	S_DEL_EVENT, S_INS_EVENT, S_DEL_CATALOG, S_INS_CATALOG,
};

const agg_stmt rollup_stmts[] = {
	[S_K_HOUR_CHANGED] = { "agg_k_hour_changed", SQL_K_HOUR_CHANGED, 3 },
	[S_K_DAY_CHANGED] = { "agg_k_day_changed", SQL_K_DAY_CHANGED, 3 },
	[S_K_CUSTOMER_CHANGED] = { "agg_k_customer_changed", SQL_K_CUSTOMER_CHANGED, 2 },
	[S_K_EVENT_CHANGED] = { "agg_k_event_changed", SQL_K_EVENT_CHANGED, 2 },
	[S_KEY_COUNTS] = { "agg_key_counts", SQL_KEY_COUNTS, 0 },
	[S_DEL_HOUR] = { "agg_del_hour", SQL_DEL_HOUR, 0 },
	[S_INS_HOUR] = { "agg_ins_hour", SQL_INS_HOUR, 0 },
	[S_DEL_DAY] = { "agg_del_day", SQL_DEL_DAY, 0 },
	[S_INS_DAY] = { "agg_ins_day", SQL_INS_DAY, 0 },
	[S_DEL_VENUE_DAY] = { "agg_del_venue_day", SQL_DEL_VENUE_DAY, 0 },
	[S_INS_VENUE_DAY] = { "agg_ins_venue_day", SQL_INS_VENUE_DAY, 0 },
	[S_DEL_AGGREGATION] = { "agg_del_aggregation", SQL_DEL_AGGREGATION, 0 },
	[S_INS_AGGREGATION] = { "agg_ins_aggregation", SQL_INS_AGGREGATION, 0 },
	[S_DEL_CUSTOMER] = { "agg_del_customer", SQL_DEL_CUSTOMER, 0 },
	[S_INS_CUSTOMER] = { "agg_ins_customer", SQL_INS_CUSTOMER, 0 },
	[S_DEL_EVENT] = { "agg_del_event", SQL_DEL_EVENT, 0 },
	[S_INS_EVENT] = { "agg_ins_event", SQL_INS_EVENT, 0 },
	[S_DEL_CATALOG] = { "agg_del_catalog", SQL_DEL_CATALOG, 0 },
	[S_INS_CATALOG] = { "agg_ins_catalog", SQL_INS_CATALOG, 0 },
};
const size_t rollup_nstmts = sizeof(rollup_stmts) / sizeof(rollup_stmts[0]);

tt_err
rollup_conn_setup(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res = NULL;
	tt_err e = tt_db_exec(conn, "SELECT to_regclass('pg_temp.agg_k_event') IS NULL", 0, NULL,
	    &res, err, errlen);

	if (e != TT_OK)
		return e;
	int missing = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	for (size_t i = 0; missing && i < sizeof(KEY_TABLES) / sizeof(KEY_TABLES[0]); i++) {
		if ((e = tt_db_exec(conn, KEY_TABLES[i], 0, NULL, NULL, err, errlen)) != TT_OK)
			return e;
	}
	if ((e = agg_stmts_prepare(conn, rollup_stmts, rollup_nstmts, err, errlen)) != TT_OK)
		return e;
	return agg_stmts_prepare(conn, watermark_stmts, watermark_nstmts, err, errlen);
}

tt_err
rollup_keys_changed(PGconn *conn, const char *lo, const char *hi,
    const char *cutoff, char *err, size_t errlen)
{
	const char *p[] = { lo, hi, cutoff };
	tt_err e;

	for (int i = S_K_HOUR_CHANGED; i <= S_K_EVENT_CHANGED; i++) {
		if ((e = agg_stmt_exec(conn, &rollup_stmts[i], p, NULL, err, errlen)) != TT_OK)
			return e;
	}
	return TT_OK;
}

tt_err
rollup_keys_range(PGconn *conn, const char *venue, const char *from,
    const char *to, char *err, size_t errlen)
{
	/* Run once per rebuild: not worth preparing. */
	static const char *const sql[] = {
		SQL_K_HOUR_RANGE, SQL_K_DAY_RANGE, SQL_K_CUSTOMER_RANGE, SQL_K_EVENT_RANGE,
	};
	const char *p[] = { venue, from, to };
	tt_err e;

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if ((e = tt_db_exec(conn, sql[i], 3, p, NULL, err, errlen)) != TT_OK)
			return e;
	}
	return TT_OK;
}

tt_err
rollup_recompute(PGconn *conn, rollup_counts *counts, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int64_t n[4];
	tt_err e = agg_stmt_exec(conn, &rollup_stmts[S_KEY_COUNTS], NULL, &res, err, errlen);

	if (e != TT_OK)
		return e;
	for (int i = 0; i < 4; i++) {
		const char *v = PQgetvalue(res, 0, i);
		if (tt_parse_i64(v, strlen(v), 0, INT64_MAX, &n[i]) != TT_OK)
			n[i] = 0;
	}
	PQclear(res);
	/* DELETE then INSERT per kind; a kind without keys is skipped. */
	static const struct { int first, last, kind; } steps[] = {
		{ S_DEL_HOUR, S_INS_HOUR, 0 },
		{ S_DEL_DAY, S_INS_AGGREGATION, 1 },  /* sales days, venue_analytics, aggregations */
		{ S_DEL_CUSTOMER, S_INS_CUSTOMER, 2 },
		{ S_DEL_EVENT, S_INS_CATALOG, 3 },
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (n[steps[i].kind] == 0)
			continue;
		for (int s = steps[i].first; s <= steps[i].last; s++) {
			if ((e = agg_stmt_exec(conn, &rollup_stmts[s], NULL, NULL, err, errlen)) != TT_OK)
				return e;
		}
	}
	counts->hours = n[0];
	counts->days = n[1];
	counts->customers = n[2];
	counts->events = n[3];
	return TT_OK;
}
