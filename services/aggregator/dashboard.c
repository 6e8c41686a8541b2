/*
 * dashboard.c - the dashboard read model (migration 0005): per venue and
 * period, the customers who bought in the period and the ten best shows.
 *
 * query-api's dashboard reads these two figures from dashboard_periods and
 * dashboard_tops when the stored period is the one it is answering (same
 * end instant t1, same zone), and computes them from the rollups otherwise;
 * both ways give the same numbers, because the rows here are computed with
 * the definitions query-api uses (routes_analytics.c, SQL_DASH_DAYS and
 * SQL_DASH_HOURS), from the same rollups:
 *
 *   days 0:  the 24 UTC hours ending with the current one, [hr - 23 h,
 *            hr + 1 h), shows from the hour rows of sales_rollups;
 *   days N:  the last N venue-local dates, today included, [local midnight
 *            of today - (N - 1), next local midnight), shows from the
 *            'event_id' rows of sales_daily;
 *   customers: customer_stats rows of the venue whose last_purchase falls
 *            in [t0, t1);
 *   chart:   net cents and tickets per date (the 'total' rows of
 *            sales_daily) or per hour (the hour rows of sales_rollups),
 *            oldest first, 0 for a bucket without sales (migration 0006);
 *   tops:    shows with a non-empty id, ordered by net cents, then tickets,
 *            then id, the first ten, ranked 1..10.
 *
 * dashboard_refresh runs inside the pass (or rebuild) transaction, after
 * the rollups: it recomputes every period of the venues the transaction
 * touched (the key tables) and every period that has ended (t1 <= now()),
 * with now() the transaction's start. A reader thus finds rows that are
 * either exactly its period's, from the rollups it sees in the same
 * snapshot, or of another period (and computes instead).
 */
#include "aggregator.h"

/* The (venue, period) pairs to recompute, with their bounds, into agg_dash. */
static const char SQL_DASH_KEYS[] =
    "INSERT INTO agg_dash (venue_id, days, tz, t0, t1, b0, b1)"
    " SELECT k.venue_id, k.days, z.tz,"
    "  CASE WHEN k.days = 0 THEN d.hr - interval '23 hours'"
    "       ELSE (d.today - (k.days - 1))::timestamp AT TIME ZONE z.tz END,"
    "  CASE WHEN k.days = 0 THEN d.hr + interval '1 hour'"
    "       ELSE (d.today + 1)::timestamp AT TIME ZONE z.tz END,"
    "  d.today - (greatest(k.days, 1) - 1), d.today"
    " FROM (SELECT v.venue_id, p.days"
    "        FROM (SELECT venue_id FROM agg_k_hour UNION SELECT venue_id FROM agg_k_day"
    "              UNION SELECT venue_id FROM agg_k_customer UNION SELECT venue_id FROM agg_k_event) v"
    "       CROSS JOIN (VALUES (0), (7), (30), (90)) p (days)"
    "       UNION SELECT venue_id, days FROM dashboard_periods WHERE t1 <= now()) k,"
    " LATERAL (SELECT coalesce((SELECT timezone FROM venues WHERE venue_id = k.venue_id), 'UTC') AS tz) z,"
    " LATERAL (SELECT (now() AT TIME ZONE z.tz)::date AS today,"
    "          date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hr) d";

/* Buyers and chart (one cell per date or hour, oldest first, 0 without sales). */
static const char SQL_DASH_PERIODS[] =
    "INSERT INTO dashboard_periods AS t (venue_id, days, tz, t1, customers, chart_net, chart_tickets)"
    " SELECT a.venue_id, a.days, a.tz, a.t1,"
    "  (SELECT count(*) FROM customer_stats c WHERE c.venue_id = a.venue_id"
    "    AND c.last_purchase >= a.t0 AND c.last_purchase < a.t1),"
    "  ch.net, ch.tickets"
    " FROM agg_dash a, LATERAL ("
    "  SELECT array_agg(coalesce(x.net, 0) ORDER BY i.i) AS net,"
    "         array_agg(coalesce(x.tickets, 0) ORDER BY i.i) AS tickets"
    "  FROM generate_series(0, CASE WHEN a.days = 0 THEN 23 ELSE a.b1 - a.b0 END) i (i)"
    "  LEFT JOIN LATERAL ("
    "    SELECT r.net_cents AS net, r.tickets_sold AS tickets FROM sales_daily r"
    "     WHERE a.days > 0 AND r.venue_id = a.venue_id AND r.dimension = 'total'"
    "       AND r.local_date = a.b0 + i.i AND r.value = ''"
    "    UNION ALL"
    "    SELECT sum(r.net_cents), sum(r.tickets_sold) FROM sales_rollups r"
    "     WHERE a.days = 0 AND r.venue_id = a.venue_id AND r.granularity = 'hour'"
    "       AND r.bucket = a.t0 + i.i * interval '1 hour' HAVING count(*) > 0) x ON true) ch"
    " ON CONFLICT (venue_id, days) DO UPDATE"
    "  SET tz = EXCLUDED.tz, t1 = EXCLUDED.t1, customers = EXCLUDED.customers,"
    "      chart_net = EXCLUDED.chart_net, chart_tickets = EXCLUDED.chart_tickets";

static const char SQL_DASH_TOPS_DEL[] =
    "DELETE FROM dashboard_tops t USING agg_dash a"
    " WHERE t.venue_id = a.venue_id AND t.days = a.days";

static const char SQL_DASH_TOPS_INS[] =
    "INSERT INTO dashboard_tops (venue_id, days, rank, event_id, tickets_sold, net_cents)"
    " SELECT a.venue_id, a.days,"
    "  row_number() OVER (PARTITION BY a.venue_id, a.days ORDER BY s.net DESC, s.tickets DESC, s.event_id),"
    "  s.event_id, s.tickets, s.net"
    " FROM agg_dash a, LATERAL ("
    "  SELECT x.event_id, sum(x.tickets) AS tickets, sum(x.net) AS net FROM ("
    "    SELECT r.value AS event_id, r.tickets_sold AS tickets, r.net_cents AS net FROM sales_daily r"
    "     WHERE a.days > 0 AND r.venue_id = a.venue_id AND r.dimension = 'event_id'"
    "       AND r.local_date BETWEEN a.b0 AND a.b1"
    "    UNION ALL"
    "    SELECT r.event_id, r.tickets_sold, r.net_cents FROM sales_rollups r"
    "     WHERE a.days = 0 AND r.venue_id = a.venue_id AND r.granularity = 'hour'"
    "       AND r.bucket >= a.t0 AND r.bucket < a.t1) x"
    "  WHERE x.event_id <> '' GROUP BY x.event_id"
    "  ORDER BY net DESC, tickets DESC, x.event_id LIMIT 10) s";

enum { S_DASH_KEYS, S_DASH_PERIODS, S_DASH_TOPS_DEL, S_DASH_TOPS_INS };

const agg_stmt dashboard_stmts[] = {
	[S_DASH_KEYS] = { "agg_dash_keys", SQL_DASH_KEYS, 0 },
	[S_DASH_PERIODS] = { "agg_dash_periods", SQL_DASH_PERIODS, 0 },
	[S_DASH_TOPS_DEL] = { "agg_dash_tops_del", SQL_DASH_TOPS_DEL, 0 },
	[S_DASH_TOPS_INS] = { "agg_dash_tops_ins", SQL_DASH_TOPS_INS, 0 },
};
const size_t dashboard_nstmts = sizeof(dashboard_stmts) / sizeof(dashboard_stmts[0]);

tt_err
dashboard_refresh(PGconn *conn, char *err, size_t errlen)
{
	tt_err e;

	for (size_t i = 0; i < dashboard_nstmts; i++) {
		if ((e = agg_stmt_exec(conn, &dashboard_stmts[i], NULL, NULL, err, errlen)) != TT_OK)
			return e;
	}
	return TT_OK;
}
