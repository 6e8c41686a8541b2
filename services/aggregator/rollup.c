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
 *     The day keys also drive sales_daily (the day rows summed per
 *     dimension) and the seed's venue_analytics and analytics_aggregations
 *     rows of each venue-local day; the customer keys the RFM scores of
 *     their venues (customer_rfm, customer_rfm_counts).
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
	"CREATE TEMP TABLE IF NOT EXISTS agg_k_hour (venue_id varchar(64) NOT NULL, bucket timestamptz NOT NULL,"
	" PRIMARY KEY (venue_id, bucket)) ON COMMIT DELETE ROWS",
	"CREATE TEMP TABLE IF NOT EXISTS agg_k_day (venue_id varchar(64) NOT NULL, local_date date NOT NULL,"
	" tz text NOT NULL, PRIMARY KEY (venue_id, local_date)) ON COMMIT DELETE ROWS",
	"CREATE TEMP TABLE IF NOT EXISTS agg_k_customer (venue_id varchar(64) NOT NULL, customer_hash char(64) NOT NULL,"
	" PRIMARY KEY (venue_id, customer_hash)) ON COMMIT DELETE ROWS",
	"CREATE TEMP TABLE IF NOT EXISTS agg_k_event (venue_id varchar(64) NOT NULL, event_id varchar(128) NOT NULL,"
	" PRIMARY KEY (venue_id, event_id)) ON COMMIT DELETE ROWS",
	/* The RFM scores of the venues of agg_k_customer, recomputed (below). */
	"CREATE TEMP TABLE IF NOT EXISTS agg_rfm (venue_id varchar(64) NOT NULL, customer_hash char(64) NOT NULL,"
	" r smallint NOT NULL, f smallint NOT NULL, m smallint NOT NULL) ON COMMIT DELETE ROWS",
	/* The dashboard periods to recompute (dashboard.c). */
	"CREATE TEMP TABLE IF NOT EXISTS agg_dash (venue_id varchar(64) NOT NULL, days integer NOT NULL,"
	" tz text NOT NULL, t0 timestamptz NOT NULL, t1 timestamptz NOT NULL, b0 date NOT NULL,"
	" b1 date NOT NULL, PRIMARY KEY (venue_id, days)) ON COMMIT DELETE ROWS",
};
/* The last of KEY_TABLES: when it exists, the session has them all. */
#define KEY_TABLES_LAST "pg_temp.agg_dash"

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
    " UNION"
    " SELECT c.venue_id, c.customer_hash FROM customer_rfm c"
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
 * The raw rows of each key k, as r, in two forms that give the same rows:
 *
 *  - ..._JOIN ("many keys": a rebuild, a large catch-up): raw_events joined
 *    to the key table on hashable keys, so the planner makes one hash join
 *    over the raw store;
 *  - ..._FEW ("few keys": an ordinary pass): a LATERAL subquery per key,
 *    fenced with OFFSET 0 so that it is never flattened into a join, which
 *    can only run as lookups in the partial indexes of migration 0004
 *    ((venue, occurred_at), (venue, customer), (venue, show)) and so never
 *    scans the whole raw store.
 *
 * Every recompute statement is one template instantiated with both, and
 * rollup_recompute() picks the form from the number of keys
 * (ROLLUP_FEW_KEYS_MAX, or --few-keys). The choice is not left to the planner: a
 * prepared statement without parameters keeps the plan of its first run,
 * whatever the size of the key tables later.
 */
#define FEW(cond) " JOIN LATERAL (SELECT * FROM raw_events r0 WHERE " cond " OFFSET 0) r ON true"

/* Hour key k: the UTC hour [k.bucket, k.bucket + 1 h). The equality makes the join hashable. */
#define HOUR_RANGE(r) r ".occurred_at >= k.bucket AND " r ".occurred_at < k.bucket + interval '1 hour'"
#define HOUR_ROWS_JOIN                                                            \
	" JOIN raw_events r ON r.venue_id = k.venue_id"                           \
	"  AND date_trunc('hour', r.occurred_at AT TIME ZONE 'UTC') = (k.bucket AT TIME ZONE 'UTC')" \
	"  AND " HOUR_RANGE("r")
#define HOUR_ROWS_FEW                                                             \
	FEW("r0.venue_id = k.venue_id AND " HOUR_RANGE("r0") " AND r0.type IN " SALES_TYPES)

/*
 * Day key k: the rows whose venue-local date (in zone k.tz) is
 * k.local_date. The time range around it only lets the indexes narrow the
 * search; it is wider than the day by DAY_SLACK because the day's first
 * instant is not always D::timestamp AT TIME ZONE tz: where 00:00 happens
 * twice (America/Havana falls back to 00:00) that names the second one,
 * and the first hour of the day lies before it. No UTC offset has changed
 * by more than DAY_SLACK at once in recent tzdata (one hour, or two when a
 * zone changes its standard offset). For the join, raw_events with each
 * row's venue-local date, so that it is hashable on (venue, local date): a
 * rebuild is then one pass over raw_events, not a range comparison of every
 * key with every row of its venue.
 */
#define DAY_SLACK "interval '3 hours'"
#define DAY_RANGE(r)                                                              \
	r ".occurred_at >= (k.local_date::timestamp AT TIME ZONE k.tz) - " DAY_SLACK \
	" AND " r ".occurred_at < ((k.local_date + 1)::timestamp AT TIME ZONE k.tz) + " DAY_SLACK
#define DAY_ROWS_JOIN                                                             \
	" JOIN (SELECT r0.*, (r0.occurred_at AT TIME ZONE coalesce(v0.timezone, 'UTC'))::date" \
	"  AS local_date FROM raw_events r0 LEFT JOIN venues v0 ON v0.venue_id = r0.venue_id) r" \
	"  ON r.venue_id = k.venue_id AND r.local_date = k.local_date AND " DAY_RANGE("r")
#define DAY_ROWS_FEW                                                              \
	FEW("r0.venue_id = k.venue_id AND " DAY_RANGE("r0")                      \
	    " AND (r0.occurred_at AT TIME ZONE k.tz)::date = k.local_date AND r0.type IN " SALES_TYPES)

/* Customer and show keys: all time. */
#define CUSTOMER_ROWS_JOIN                                                        \
	" JOIN raw_events r ON r.venue_id = k.venue_id AND r.customer_hash = k.customer_hash"
#define CUSTOMER_ROWS_FEW                                                         \
	FEW("r0.venue_id = k.venue_id AND r0.customer_hash = k.customer_hash"    \
	    " AND r0.type IN " SALES_TYPES " AND r0.customer_hash IS NOT NULL")
#define SHOW_ROWS_JOIN " JOIN raw_events r ON r.venue_id = k.venue_id AND r.event_id = k.event_id"
#define SHOW_ROWS_FEW(types)                                                      \
	FEW("r0.venue_id = k.venue_id AND r0.event_id = k.event_id"              \
	    " AND r0.type IN " types " AND r0.event_id IS NOT NULL")

static const char SQL_DEL_HOUR[] =
    "DELETE FROM sales_rollups s USING agg_k_hour k"
    " WHERE s.venue_id = k.venue_id AND s.granularity = 'hour' AND s.bucket = k.bucket";

#define INS_HOUR(rows)                                                            \
	SALES_COLUMNS                                                             \
	"SELECT k.venue_id, 'hour', k.bucket, (k.bucket AT TIME ZONE coalesce(v.timezone, 'UTC'))::date, " \
	SALES_DIMS ", " SALES_MEASURES                                            \
	" FROM agg_k_hour k" rows                                                 \
	" LEFT JOIN venues v ON v.venue_id = k.venue_id"                          \
	" WHERE r.type IN " SALES_TYPES                                           \
	" GROUP BY k.venue_id, k.bucket, v.timezone, 5, 6, 7"
static const char SQL_INS_HOUR[] = INS_HOUR(HOUR_ROWS_JOIN);
static const char SQL_INS_HOUR_FEW[] = INS_HOUR(HOUR_ROWS_FEW);

static const char SQL_DEL_DAY[] =
    "DELETE FROM sales_rollups s USING agg_k_day k"
    " WHERE s.venue_id = k.venue_id AND s.granularity = 'day' AND s.local_date = k.local_date";

#define INS_DAY(rows)                                                             \
	SALES_COLUMNS                                                             \
	"SELECT k.venue_id, 'day', (k.local_date::timestamp AT TIME ZONE k.tz), k.local_date, " \
	SALES_DIMS ", " SALES_MEASURES                                            \
	" FROM agg_k_day k" rows                                                  \
	" WHERE r.type IN " SALES_TYPES                                           \
	" GROUP BY k.venue_id, k.local_date, k.tz, 5, 6, 7"
static const char SQL_INS_DAY[] = INS_DAY(DAY_ROWS_JOIN);
static const char SQL_INS_DAY_FEW[] = INS_DAY(DAY_ROWS_FEW);

static const char SQL_DEL_CUSTOMER[] =
    "DELETE FROM customer_stats c USING agg_k_customer k"
    " WHERE c.venue_id = k.venue_id AND c.customer_hash = k.customer_hash";

#define INS_CUSTOMER(rows)                                                        \
	"INSERT INTO customer_stats (venue_id, customer_hash, orders, tickets, spend_cents," \
	" refund_cents, first_purchase, last_purchase)"                           \
	" SELECT k.venue_id, k.customer_hash,"                                    \
	"  count(*) FILTER (WHERE " P "),"                                        \
	"  coalesce(sum(r.quantity) FILTER (WHERE " P "), 0),"                    \
	"  coalesce(sum(r.revenue_cents) FILTER (WHERE " P "), 0)::bigint,"       \
	"  coalesce(-sum(r.revenue_cents) FILTER (WHERE " R "), 0)::bigint,"      \
	"  min(r.occurred_at) FILTER (WHERE " P "), max(r.occurred_at) FILTER (WHERE " P ")" \
	" FROM agg_k_customer k" rows                                             \
	" WHERE r.type IN " SALES_TYPES                                           \
	" GROUP BY k.venue_id, k.customer_hash"
static const char SQL_INS_CUSTOMER[] = INS_CUSTOMER(CUSTOMER_ROWS_JOIN);
static const char SQL_INS_CUSTOMER_FEW[] = INS_CUSTOMER(CUSTOMER_ROWS_FEW);

static const char SQL_DEL_EVENT[] =
    "DELETE FROM event_stats e USING agg_k_event k"
    " WHERE e.venue_id = k.venue_id AND e.event_id = k.event_id";

#define INS_EVENT(rows)                                                           \
	"INSERT INTO event_stats (venue_id, event_id, tickets_sold, orders, gross_cents," \
	" refund_cents, first_sale, last_sale)"                                   \
	" SELECT k.venue_id, k.event_id,"                                         \
	"  coalesce(sum(r.quantity) FILTER (WHERE " P "), 0),"                    \
	"  count(*) FILTER (WHERE " P "),"                                        \
	"  coalesce(sum(r.revenue_cents) FILTER (WHERE " P "), 0)::bigint,"       \
	"  coalesce(-sum(r.revenue_cents) FILTER (WHERE " R "), 0)::bigint,"      \
	"  min(r.occurred_at) FILTER (WHERE " P "), max(r.occurred_at) FILTER (WHERE " P ")" \
	" FROM agg_k_event k" rows                                                \
	" WHERE r.type IN " SALES_TYPES                                           \
	" GROUP BY k.venue_id, k.event_id"
static const char SQL_INS_EVENT[] = INS_EVENT(SHOW_ROWS_JOIN);
static const char SQL_INS_EVENT_FEW[] = INS_EVENT(SHOW_ROWS_FEW(SALES_TYPES));

static const char SQL_DEL_CATALOG[] =
    "DELETE FROM event_catalog c USING agg_k_event k"
    " WHERE c.venue_id = k.venue_id AND c.event_id = k.event_id";

/*
 * The latest event.created/updated wins: by occurred_at, then an update
 * over a creation, then the larger id (a total order, so reruns agree).
 * ingest has validated the fields (capacity an integer, startsAt ISO 8601).
 */
#define CATALOG_TYPES "('event.created', 'event.updated')"
#define INS_CATALOG(rows)                                                         \
	"INSERT INTO event_catalog (venue_id, event_id, name, capacity, starts_at, event_type," \
	" occurred_at)"                                                           \
	" SELECT DISTINCT ON (k.venue_id, k.event_id) k.venue_id, k.event_id,"    \
	"  r.payload->'data'->>'name',"                                           \
	"  CASE WHEN jsonb_typeof(r.payload->'data'->'capacity') = 'number'"      \
	"       THEN (r.payload->'data'->>'capacity')::numeric::integer END,"     \
	"  (r.payload->'data'->>'startsAt')::timestamptz,"                        \
	"  r.payload->'data'->>'eventType', r.occurred_at"                        \
	" FROM agg_k_event k" rows                                                \
	" WHERE r.type IN " CATALOG_TYPES                                         \
	" ORDER BY k.venue_id, k.event_id, r.occurred_at DESC, (r.type = 'event.updated') DESC, r.id DESC"
static const char SQL_INS_CATALOG[] = INS_CATALOG(SHOW_ROWS_JOIN);
static const char SQL_INS_CATALOG_FEW[] = INS_CATALOG(SHOW_ROWS_FEW(CATALOG_TYPES));

/*
 * sales_daily: per venue-local day (keys of agg_k_day), the day rows of
 * sales_rollups just recomputed, summed per dimension: 'total' (value ''),
 * 'channel', 'event_type', 'event_id'. Inserted in primary-key order, so a
 * rebuild lays a venue's rows out together.
 */
static const char SQL_DEL_DAILY[] =
    "DELETE FROM sales_daily d USING agg_k_day k"
    " WHERE d.venue_id = k.venue_id AND d.local_date = k.local_date"
    "   AND d.dimension IN ('total', 'channel', 'event_type', 'event_id')";

/*
 * One grouping set per dimension: a grouped dimension is never NULL (absent
 * is ''), the others are NULL in its rows, so the first non-NULL one is the
 * value. (Grouping sets read the day rows once; a LATERAL VALUES of the four
 * dimensions took 1.4 times as long in a rebuild.)
 */
static const char SQL_INS_DAILY[] =
    "INSERT INTO sales_daily (venue_id, dimension, local_date, value, tickets_sold, orders,"
    " gross_cents, refund_cents, refunds, net_cents)"
    " SELECT s.venue_id,"
    "  CASE WHEN GROUPING(s.channel) = 0 THEN 'channel' WHEN GROUPING(s.event_type) = 0 THEN 'event_type'"
    "       WHEN GROUPING(s.event_id) = 0 THEN 'event_id' ELSE 'total' END,"
    "  s.local_date, coalesce(s.channel, s.event_type, s.event_id, ''),"
    "  sum(s.tickets_sold), sum(s.orders), sum(s.gross_cents), sum(s.refund_cents), sum(s.refunds),"
    "  sum(s.net_cents)"
    " FROM agg_k_day k"
    " JOIN sales_rollups s ON s.venue_id = k.venue_id AND s.granularity = 'day'"
    "  AND s.local_date = k.local_date"
    " GROUP BY s.venue_id, s.local_date, GROUPING SETS ((), (s.channel), (s.event_type), (s.event_id))"
    " ORDER BY 1, 2, 3, 4";

/*
 * RFM scores (docs/query-and-customers.md): for every venue with a customer
 * key, the quintiles of all its buying customers are computed again into
 * agg_rfm (one customer's purchase can move any other's quintile), then
 * customer_rfm and customer_rfm_counts are brought to them, writing only
 * the rows that differ: a pass rewrites a few boundary customers, not the
 * venue. The scores rank last_purchase, not the days since it, so they do
 * not change with the calendar and need no daily refresh.
 */
#define KEY_VENUES "(SELECT DISTINCT venue_id FROM agg_k_customer)"

static const char SQL_RFM_SCORES[] =
    "INSERT INTO agg_rfm (venue_id, customer_hash, r, f, m)"
    " SELECT c.venue_id, c.customer_hash,"
    "  ntile(5) OVER (PARTITION BY c.venue_id ORDER BY c.last_purchase, c.customer_hash),"
    "  ntile(5) OVER (PARTITION BY c.venue_id ORDER BY c.orders, c.customer_hash),"
    "  ntile(5) OVER (PARTITION BY c.venue_id ORDER BY c.spend_cents - c.refund_cents, c.customer_hash)"
    " FROM customer_stats c"
    " WHERE c.venue_id IN " KEY_VENUES " AND c.last_purchase IS NOT NULL";

static const char SQL_RFM_DEL[] =
    "DELETE FROM customer_rfm t"
    " WHERE t.venue_id IN " KEY_VENUES
    "   AND NOT EXISTS (SELECT 1 FROM agg_rfm s"
    "                    WHERE s.venue_id = t.venue_id AND s.customer_hash = t.customer_hash)";

static const char SQL_RFM_MERGE[] =
    "MERGE INTO customer_rfm t USING agg_rfm s"
    " ON t.venue_id = s.venue_id AND t.customer_hash = s.customer_hash"
    " WHEN MATCHED AND (t.r, t.f, t.m) IS DISTINCT FROM (s.r, s.f, s.m)"
    "  THEN UPDATE SET r = s.r, f = s.f, m = s.m"
    " WHEN NOT MATCHED THEN INSERT (venue_id, customer_hash, r, f, m)"
    "  VALUES (s.venue_id, s.customer_hash, s.r, s.f, s.m)";

/*
 * customer_rfm_counts: one row per venue with a buying customer, the 125
 * counts of its score triples in cell 1 + (r - 1) * 25 + (f - 1) * 5 + (m - 1).
 */
static const char SQL_RFM_COUNTS_DEL[] =
    "DELETE FROM customer_rfm_counts t"
    " WHERE t.venue_id IN " KEY_VENUES
    "   AND NOT EXISTS (SELECT 1 FROM agg_rfm s WHERE s.venue_id = t.venue_id)";

static const char SQL_RFM_COUNTS_PUT[] =
    "INSERT INTO customer_rfm_counts AS t (venue_id, customers)"
    " SELECT v.venue_id, array_agg(coalesce(c.n, 0) ORDER BY g.i)"
    " FROM (SELECT DISTINCT venue_id FROM agg_rfm) v"
    " CROSS JOIN generate_series(1, 125) g (i)"
    " LEFT JOIN (SELECT venue_id, 1 + (r - 1) * 25 + (f - 1) * 5 + (m - 1) AS i, count(*)::integer AS n"
    "  FROM agg_rfm GROUP BY 1, 2) c ON c.venue_id = v.venue_id AND c.i = g.i"
    " GROUP BY v.venue_id"
    " ON CONFLICT (venue_id) DO UPDATE SET customers = EXCLUDED.customers"
    "  WHERE t.customers IS DISTINCT FROM EXCLUDED.customers";

/*
 * The seed's tables, per venue-local day (keys of agg_k_day), recomputed
 * whole like the sales day buckets.
 *
 * venue_analytics: one daily row (hour NULL) and one row per local hour
 * that has a sale or a refund; on a 25 h day the two UTC hours of the
 * repeated local hour fall in the same row. revenue = net cents / 100 as an
 * exact numeric(20,2); unique_customers = distinct purchasers.
 */
static const char SQL_DEL_VENUE_DAY[] =
    "DELETE FROM venue_analytics a USING agg_k_day k"
    " WHERE a.venue_id = k.venue_id AND a.date = k.local_date";

#define INS_VENUE_DAY(rows)                                                       \
	"INSERT INTO venue_analytics (venue_id, date, hour, tickets_sold, revenue, unique_customers)" \
	" SELECT k.venue_id, k.local_date,"                                       \
	"  extract(hour FROM r.occurred_at AT TIME ZONE k.tz)::integer,"  /* NULL in the () set */ \
	"  coalesce(sum(r.quantity) FILTER (WHERE " P "), 0),"                    \
	"  (coalesce(sum(r.revenue_cents), 0) / 100.0)::numeric(20,2),"           \
	"  count(DISTINCT r.customer_hash) FILTER (WHERE " P ")"                  \
	" FROM agg_k_day k" rows                                                  \
	" WHERE r.type IN " SALES_TYPES                                           \
	" GROUP BY k.venue_id, k.local_date, k.tz,"                               \
	"  GROUPING SETS ((), (extract(hour FROM r.occurred_at AT TIME ZONE k.tz)))"
static const char SQL_INS_VENUE_DAY[] = INS_VENUE_DAY(DAY_ROWS_JOIN);
static const char SQL_INS_VENUE_DAY_FEW[] = INS_VENUE_DAY(DAY_ROWS_FEW);

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

#define INS_AGGREGATION(rows) \
	"INSERT INTO analytics_aggregations (venue_id, metric_type, period_start, period_end," \
	" granularity, data, summary)" \
	" WITH h AS (" \
	"   SELECT k.venue_id, k.local_date, k.tz," \
	"          extract(hour FROM r.occurred_at AT TIME ZONE k.tz)::integer AS hour," \
	"          coalesce(sum(r.quantity) FILTER (WHERE " P "), 0)::numeric AS tickets," \
	"          (sum(r.revenue_cents) / 100.0)::numeric(20,2) AS revenue" \
	" FROM agg_k_day k" rows " WHERE r.type IN " SALES_TYPES \
	"    GROUP BY 1, 2, 3, 4)," \
	" v AS (" \
	"   SELECT d.venue_id, d.local_date, d.tz, m.metric, g.hour," \
	"          coalesce(CASE m.metric WHEN 'revenue' THEN h.revenue ELSE h.tickets END," \
	"                   CASE m.metric WHEN 'revenue' THEN 0.00 ELSE 0 END) AS value" \
	"     FROM (SELECT DISTINCT venue_id, local_date, tz FROM h) d" \
	"     CROSS JOIN (VALUES ('revenue'), ('ticketSales')) m(metric)" \
	"     CROSS JOIN generate_series(0, 23) g(hour)" \
	"     LEFT JOIN h ON h.venue_id = d.venue_id AND h.local_date = d.local_date AND h.hour = g.hour)" \
	" SELECT venue_id, metric, (local_date::timestamp AT TIME ZONE tz)," \
	"  ((local_date + 1)::timestamp AT TIME ZONE tz), " DAY_GRANULARITY "," \
	"  jsonb_agg(jsonb_build_object('hour', hour, 'value', value) ORDER BY hour)," \
	"  jsonb_build_object('total', sum(value)," \
	"   'peakHour', (array_agg(hour ORDER BY value DESC, hour) FILTER (WHERE value > 0))[1])" \
	" FROM v GROUP BY venue_id, local_date, tz, metric"
static const char SQL_INS_AGGREGATION[] = INS_AGGREGATION(DAY_ROWS_JOIN);
static const char SQL_INS_AGGREGATION_FEW[] = INS_AGGREGATION(DAY_ROWS_FEW);

static const char SQL_KEY_COUNTS[] =
    "SELECT (SELECT count(*) FROM agg_k_hour), (SELECT count(*) FROM agg_k_day),"
    " (SELECT count(*) FROM agg_k_customer), (SELECT count(*) FROM agg_k_event)";

/* ------------------------------------------------------------------ code */

/* Statement indexes into rollup_stmts. */
enum {
	S_K_HOUR_CHANGED, S_K_DAY_CHANGED, S_K_CUSTOMER_CHANGED, S_K_EVENT_CHANGED,
	S_KEY_COUNTS,
	S_DEL_HOUR, S_INS_HOUR, S_INS_HOUR_FEW, S_DEL_DAY, S_INS_DAY, S_INS_DAY_FEW,
	S_DEL_DAILY, S_INS_DAILY, S_DEL_VENUE_DAY, S_INS_VENUE_DAY, S_INS_VENUE_DAY_FEW,
	S_DEL_AGGREGATION, S_INS_AGGREGATION, S_INS_AGGREGATION_FEW,
	S_DEL_CUSTOMER, S_INS_CUSTOMER, S_INS_CUSTOMER_FEW,
	S_RFM_SCORES, S_RFM_DEL, S_RFM_MERGE, S_RFM_COUNTS_DEL, S_RFM_COUNTS_PUT,
	S_DEL_EVENT, S_INS_EVENT, S_INS_EVENT_FEW, S_DEL_CATALOG, S_INS_CATALOG, S_INS_CATALOG_FEW,
};

const agg_stmt rollup_stmts[] = {
	[S_K_HOUR_CHANGED] = { "agg_k_hour_changed", SQL_K_HOUR_CHANGED, 3 },
	[S_K_DAY_CHANGED] = { "agg_k_day_changed", SQL_K_DAY_CHANGED, 3 },
	[S_K_CUSTOMER_CHANGED] = { "agg_k_customer_changed", SQL_K_CUSTOMER_CHANGED, 2 },
	[S_K_EVENT_CHANGED] = { "agg_k_event_changed", SQL_K_EVENT_CHANGED, 2 },
	[S_KEY_COUNTS] = { "agg_key_counts", SQL_KEY_COUNTS, 0 },
	[S_DEL_HOUR] = { "agg_del_hour", SQL_DEL_HOUR, 0 },
	[S_INS_HOUR] = { "agg_ins_hour", SQL_INS_HOUR, 0 },
	[S_INS_HOUR_FEW] = { "agg_ins_hour_few", SQL_INS_HOUR_FEW, 0 },
	[S_DEL_DAY] = { "agg_del_day", SQL_DEL_DAY, 0 },
	[S_INS_DAY] = { "agg_ins_day", SQL_INS_DAY, 0 },
	[S_INS_DAY_FEW] = { "agg_ins_day_few", SQL_INS_DAY_FEW, 0 },
	[S_DEL_DAILY] = { "agg_del_daily", SQL_DEL_DAILY, 0 },
	[S_INS_DAILY] = { "agg_ins_daily", SQL_INS_DAILY, 0 },
	[S_DEL_VENUE_DAY] = { "agg_del_venue_day", SQL_DEL_VENUE_DAY, 0 },
	[S_INS_VENUE_DAY] = { "agg_ins_venue_day", SQL_INS_VENUE_DAY, 0 },
	[S_INS_VENUE_DAY_FEW] = { "agg_ins_venue_day_few", SQL_INS_VENUE_DAY_FEW, 0 },
	[S_DEL_AGGREGATION] = { "agg_del_aggregation", SQL_DEL_AGGREGATION, 0 },
	[S_INS_AGGREGATION] = { "agg_ins_aggregation", SQL_INS_AGGREGATION, 0 },
	[S_INS_AGGREGATION_FEW] = { "agg_ins_aggregation_few", SQL_INS_AGGREGATION_FEW, 0 },
	[S_DEL_CUSTOMER] = { "agg_del_customer", SQL_DEL_CUSTOMER, 0 },
	[S_INS_CUSTOMER] = { "agg_ins_customer", SQL_INS_CUSTOMER, 0 },
	[S_INS_CUSTOMER_FEW] = { "agg_ins_customer_few", SQL_INS_CUSTOMER_FEW, 0 },
	[S_RFM_SCORES] = { "agg_rfm_scores", SQL_RFM_SCORES, 0 },
	[S_RFM_DEL] = { "agg_rfm_del", SQL_RFM_DEL, 0 },
	[S_RFM_MERGE] = { "agg_rfm_merge", SQL_RFM_MERGE, 0 },
	[S_RFM_COUNTS_DEL] = { "agg_rfm_counts_del", SQL_RFM_COUNTS_DEL, 0 },
	[S_RFM_COUNTS_PUT] = { "agg_rfm_counts_put", SQL_RFM_COUNTS_PUT, 0 },
	[S_DEL_EVENT] = { "agg_del_event", SQL_DEL_EVENT, 0 },
	[S_INS_EVENT] = { "agg_ins_event", SQL_INS_EVENT, 0 },
	[S_INS_EVENT_FEW] = { "agg_ins_event_few", SQL_INS_EVENT_FEW, 0 },
	[S_DEL_CATALOG] = { "agg_del_catalog", SQL_DEL_CATALOG, 0 },
	[S_INS_CATALOG] = { "agg_ins_catalog", SQL_INS_CATALOG, 0 },
	[S_INS_CATALOG_FEW] = { "agg_ins_catalog_few", SQL_INS_CATALOG_FEW, 0 },
};
const size_t rollup_nstmts = sizeof(rollup_stmts) / sizeof(rollup_stmts[0]);

tt_err
rollup_conn_setup(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res = NULL;
	tt_err e = tt_db_exec(conn, "SELECT to_regclass('" KEY_TABLES_LAST "') IS NULL", 0, NULL,
	    &res, err, errlen);

	if (e != TT_OK)
		return e;
	int missing = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	for (size_t i = 0; missing && i < sizeof(KEY_TABLES) / sizeof(KEY_TABLES[0]); i++) {
		if ((e = tt_db_exec(conn, KEY_TABLES[i], 0, NULL, NULL, err, errlen)) != TT_OK)
			return e;
	}
	if ((e = agg_stmts_prepare(conn, rollup_stmts, rollup_nstmts, err, errlen)) != TT_OK ||
	    (e = agg_stmts_prepare(conn, dashboard_stmts, dashboard_nstmts, err, errlen)) != TT_OK)
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
rollup_recompute(PGconn *conn, int64_t few_keys_max, rollup_counts *counts, char *err,
    size_t errlen)
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
	/*
	 * Per kind of key, its statements in order; a kind without keys is
	 * skipped. A step runs its "few" statement when the kind has at most
	 * few_keys_max keys (the index lookups), its "many" one otherwise.
	 */
	static const struct {
		int kind, nsteps;
		struct { int many, few; } step[8];
	} kinds[] = {
		{ 0, 2, { { S_DEL_HOUR, S_DEL_HOUR }, { S_INS_HOUR, S_INS_HOUR_FEW } } },
		{ 1, 8, { { S_DEL_DAY, S_DEL_DAY }, { S_INS_DAY, S_INS_DAY_FEW },
		    { S_DEL_DAILY, S_DEL_DAILY }, { S_INS_DAILY, S_INS_DAILY },
		    { S_DEL_VENUE_DAY, S_DEL_VENUE_DAY }, { S_INS_VENUE_DAY, S_INS_VENUE_DAY_FEW },
		    { S_DEL_AGGREGATION, S_DEL_AGGREGATION }, { S_INS_AGGREGATION, S_INS_AGGREGATION_FEW } } },
		{ 2, 7, { { S_DEL_CUSTOMER, S_DEL_CUSTOMER }, { S_INS_CUSTOMER, S_INS_CUSTOMER_FEW },
		    { S_RFM_SCORES, S_RFM_SCORES }, { S_RFM_DEL, S_RFM_DEL }, { S_RFM_MERGE, S_RFM_MERGE },
		    { S_RFM_COUNTS_DEL, S_RFM_COUNTS_DEL }, { S_RFM_COUNTS_PUT, S_RFM_COUNTS_PUT } } },
		{ 3, 4, { { S_DEL_EVENT, S_DEL_EVENT }, { S_INS_EVENT, S_INS_EVENT_FEW },
		    { S_DEL_CATALOG, S_DEL_CATALOG }, { S_INS_CATALOG, S_INS_CATALOG_FEW } } },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int64_t keys = n[kinds[i].kind];
		for (int j = 0; keys > 0 && j < kinds[i].nsteps; j++) {
			int s = keys <= few_keys_max ? kinds[i].step[j].few : kinds[i].step[j].many;
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
