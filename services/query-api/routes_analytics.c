/*
 * routes_analytics.c - the venue dashboards of the seed, read from the
 * aggregator's rollups (docs/aggregator.md), never from raw_events:
 *
 *   GET /analytics/dashboard?period=24h|7d|30d|90d[&venueId=]
 *   GET /analytics/revenue/summary?startDate=&endDate=[&venueId=]
 *   GET /analytics/events/performance[?limit=1..1000][&venueId=]
 *   GET /analytics/events/:eventId/performance[?venueId=]
 *
 * Every route needs analytics.read; a venue token reads its own venue, an
 * admin names one with ?venueId= (qapi_resolve_venue, as the realtime
 * summary). Dates are the venue's: venues.timezone, UTC without a row.
 *
 * What each reads: day-level answers the aggregator's sales_daily (the day
 * rows of sales_rollups already summed per local date, and per channel,
 * event type or show), 24h the hour rows of sales_rollups, segments
 * customer_rfm_counts; each answer is one or two statements over a few
 * rows per date, whatever the number of shows, channels and customers.
 *
 * Definitions (the contract the tests check against raw_events):
 *   - revenue is net: gross purchases minus refunds (net_cents of the
 *     rollups, event_stats gross - refund), summed as int64 cents in SQL
 *     and printed with tt_money_format, never through a double;
 *   - period 24h = the 24 UTC hour buckets ending with the current one;
 *     7d/30d/90d = the last N venue-local dates, today included;
 *   - uniqueCustomers = customers (hashed ids, customer_stats) whose last
 *     purchase falls in the period. A customer bought in the period exactly
 *     when their latest purchase is in it, as long as no purchase is dated
 *     after the period's end (the end is the next hour / next local
 *     midnight, so only future-dated events can make it differ). This is
 *     exact from an all-time rollup, with no raw scan;
 *   - customerSegments: the venue's buying customers per RFM segment, all
 *     time, the same figures and shape as GET /analytics/customers/segments
 *     (ntile(5) quintiles over customer_stats, kept by the aggregator in
 *     customer_rfm_counts, named by rfm.h);
 *   - realtime is today's Redis counters (UTC day), Postgres copy when
 *     Redis is down: the same source as /analytics/realtime/summary. It
 *     is read on every request (from the in-process copy of the hash,
 *     which Redis' invalidation tracking keeps exact, or in the Redis
 *     round trip of the cache lookup), never cached with the rest;
 *   - revenue summary: the local dates of startDate and endDate (a bare date
 *     or a date-time without offset is local; a date-time with offset is
 *     converted to the venue's zone), 1 to 366 dates, sales_daily. Channel / event type '' is
 *     "unknown". percentage = revenue / total with two decimals rounded
 *     half away from zero ("33.33%", "0.00%" when the total is 0);
 *   - projection: totalDays = dates in the range, elapsedDays = dates up to
 *     today (clamped to 0..totalDays), revenueToDate = revenue of those
 *     dates; projectedRevenue = revenueToDate x totalDays / elapsedDays
 *     rounded to the cent (= revenueToDate when elapsedDays is 0 or all);
 *   - event performance: event_stats joined to event_catalog (shows with a
 *     catalog entry and no sale are listed with zeros). sellThrough =
 *     ticketsSold / capacity, 4 decimals (null without a positive
 *     capacity); salesVelocity = ticketsSold / days, 4 decimals, days = the
 *     local dates from the first sale's to today inclusive (at least 1),
 *     0 without sales. Ordered by revenue, tickets, eventId.
 *
 * Answers go through qapi_cache_get/put (types "dashboard", "revenue",
 * "events"; identifiers are the normalised parameters; TTLs
 * QAPI_TTL_DASHBOARD and QAPI_TTL_METRICS). X-Cache says HIT or MISS;
 * Cache-Control: no-cache asks for a MISS (computed, entry refreshed).
 */
#include "qapi.h"
#include "rfm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/counters.h"
#include "tt/log.h"
#include "tt/money.h"
#include "tt/redis.h"
#include "tt/strbuf.h"
#include "tt/strparse.h"
#include "tt/time.h"

#define ANALYTICS_JSON_MAX  (4u * 1024 * 1024)
#define TOP_EVENTS          10
#define EVENTS_LIMIT_DEF    100
#define EVENTS_LIMIT_MAX    1000
#define RANGE_DAYS_MAX      366
#define EVENT_ID_MAX        128

__extension__ typedef __int128 i128;

/* The venue's zone, "UTC" without a venues row (OFFSET 0: looked up once, not per use). */
#define SQL_TZ "(SELECT coalesce((SELECT timezone FROM venues WHERE venue_id = $1), 'UTC') AS tz OFFSET 0)"
#define SQL_ISO(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* A date as YYYY-MM-DD whatever the session's DateStyle. */
#define SQL_DATE(col) "to_char(" col ", 'YYYY-MM-DD')"

/* ---------------------------------------------------------------- helpers */

/* num / den rounded half away from zero; den > 0. */
static i128
div_round(i128 num, i128 den)
{
	i128 q = num / den, r = num % den;

	if (r < 0)
		r = -r;
	if (2 * r >= den)
		q += num < 0 ? -1 : 1;
	return q;
}

/* v / 10^places as decimal text ("-0.0512"); places 2 or 4. */
static void
fixed_put(tt_strbuf *b, int64_t v, int places)
{
	int64_t scale = places == 4 ? 10000 : 100;
	uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	tt_strbuf_printf(b, "%s%llu.%0*llu", v < 0 ? "-" : "", (unsigned long long)(a / (uint64_t)scale),
	    places, (unsigned long long)(a % (uint64_t)scale));
}

static void
money_put(tt_strbuf *b, int64_t cents)
{
	char m[TT_MONEY_STR_MAX];

	tt_money_format(cents, m);
	tt_strbuf_puts(b, m);
}

/* A column as int64: NULL is 0; *bad set on anything else unparsable. */
static int64_t
col_i64(const PGresult *res, int row, int col, bool *bad)
{
	const char *v;
	int64_t out;

	if (PQgetisnull(res, row, col))
		return 0;
	v = PQgetvalue(res, row, col);
	if (tt_parse_i64(v, strlen(v), INT64_MIN, INT64_MAX, &out) != TT_OK) {
		*bad = true;
		return 0;
	}
	return out;
}

/* A text column as a JSON string, null when NULL. */
static void
col_str_put(tt_strbuf *b, const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		tt_strbuf_puts(b, "null");
	else
		tt_strbuf_json_str(b, PQgetvalue(res, row, col));
}

static void
invalid1(tt_http_req *req, const char *field, const char *msg)
{
	tt_http_details d;

	tt_http_details_init(&d);
	tt_http_details_add(&d, field, "%s", msg);
	tt_http_respond_invalid(req, &d);
	tt_http_details_fini(&d);
}

/* Permission, then the venue of the request; false when already answered. */
static bool
analytics_begin(tt_http_req *req, char venue[TT_AUTH_VENUE_MAX])
{
	if (!qapi_require_permission(req, QAPI_PERM_READ))
		return false;
	return qapi_venue_param(req, venue);
}

/* Answers from the cache when it holds the entry. */
static bool
cache_answer(tt_http_req *req, const char *type, const char *venue, const char *ident)
{
	char *hit = qapi_cache_get(req, type, venue, ident);

	if (hit == NULL)
		return false;
	tt_http_set_header(req, "X-Cache", "HIT");
	tt_http_respond_data(req, 200, hit);
	free(hit);
	return true;
}

static void
respond_and_cache(tt_http_req *req, tt_strbuf *b, const char *type, const char *venue,
    const char *ident, int ttl)
{
	if (tt_strbuf_truncated(b)) {
		qapi_fail(req, TT_ETOOBIG, "analytics answer too large", type);
		return;
	}
	qapi_cache_put(type, venue, ident, tt_strbuf_str(b), ttl);
	tt_http_set_header(req, "X-Cache", "MISS");
	tt_http_respond_data(req, 200, tt_strbuf_str(b));
}

/*
 * Runs sql as the prepared statement name (planned once per connection);
 * on failure answers the request and returns false.
 */
static bool
run(tt_http_req *req, PGconn *conn, const char *name, const char *sql, int n,
    const char *const *params, PGresult **res, tt_err *ep)
{
	char err[512];
	tt_err e = tt_db_exec_prepared(conn, name, sql, n, params, res, err, sizeof(err));

	*ep = e;
	if (e == TT_OK)
		return true;
	qapi_fail(req, e, name, err);
	return false;
}


/* -------------------------------------------------------------- dashboard */

/*
 * The rollup part of a dashboard is one statement (one round trip, one
 * plan, one transaction instead of five), whose rows are tagged by kind in
 * column 0 and ordered by kind, then column 1:
 *   'c' the chart:          -, net cents and tickets per bucket (oldest
 *                           first) as two integer arrays in PostgreSQL's
 *                           text, the first bucket's label (a date, or the
 *                           hour as an ISO instant); one row
 *   'p' the period:         -, tz, start instant, end instant
 *   's' RFM counts:         -, the venue's customer_rfm_counts array as text
 *                           (rfm.h; kept by the aggregator with
 *                           customer_stats), none without buying customers
 *   't' the ten best shows: rank, id, name, tickets, net cents
 *   'u' customers who bought in the period: -, count
 * CTE p holds the period: its first and last bucket b0, b1 (dates for days,
 * hour instants for 24h) and its bounds as instants t0, t1.
 *
 * 'c', 't' and 'u' come from the aggregator's dashboard read model
 * (migrations 0005 and 0006, services/aggregator/dashboard.c) when it holds
 * this very period (CTE d: same end instant t1, same zone): the _MODEL
 * statements, which answer no 'u' row otherwise. Then the _ROLLUP statements compute them
 * from the rollups, with the same definitions. Two statements rather than
 * one with both branches: the executor sets up every node of a plan, taken
 * or not, and that set-up was a third of the model statement's cost.
 */
#define DASH_ROW(kind, seq, a, b, c, d)                                               \
	"SELECT '" kind "', " seq ", (" a ")::text, (" b ")::text, (" c ")::text, (" d ")::text"
#define DASH_TAIL                                                                      \
	" UNION ALL " DASH_ROW("p", "0", "p.tz", SQL_ISO("p.t0"), SQL_ISO("p.t1"), "NULL") " FROM p" \
	" UNION ALL " DASH_ROW("s", "0", "s.customers", "NULL", "NULL", "NULL")          \
	" FROM (" RFM_SQL_COUNTS ") s"                                                  \
	" ORDER BY 1, 2"
/*
 * From the read model's row d of this period ("days": its days column):
 * 'c' from its chart arrays (label: the first bucket's), 'u', and 't' from
 * dashboard_tops; no row at all when d does not hold the period.
 */
#define DASH_MODEL(days, label)                                                        \
	", d AS (SELECT d.customers, d.chart_net, d.chart_tickets FROM dashboard_periods d, p" \
	" WHERE d.venue_id = $1 AND d.days = " days " AND d.t1 = p.t1 AND d.tz = p.tz"   \
	" AND d.chart_net IS NOT NULL) "                                                 \
	DASH_ROW("c", "0", "d.chart_net", "d.chart_tickets", label, "NULL") " FROM p, d"  \
	" UNION ALL " DASH_ROW("u", "0", "d.customers", "NULL", "NULL", "NULL") " FROM d" \
	" UNION ALL " DASH_ROW("t", "t.rank", "t.event_id", "c.name", "t.tickets_sold", "t.net_cents") \
	" FROM d JOIN dashboard_tops t ON t.venue_id = $1 AND t.days = " days             \
	" LEFT JOIN event_catalog c ON c.venue_id = $1 AND c.event_id = t.event_id"     \
	DASH_TAIL
/* 'u' from customer_stats, 't' the ten best shows of rows r (a FROM ... WHERE). */
#define DASH_ROLLUP(show, rows)                                                        \
	" UNION ALL " DASH_ROW("u", "0", "count(*)", "NULL", "NULL", "NULL")             \
	" FROM customer_stats c, p WHERE c.venue_id = $1"                                \
	" AND c.last_purchase >= p.t0 AND c.last_purchase < p.t1"                       \
	" UNION ALL " DASH_ROW("t", "row_number() OVER (ORDER BY t.net DESC, t.tickets DESC, t.event_id)", \
	    "t.event_id", "c.name", "t.tickets", "t.net")                                \
	" FROM (SELECT " show " AS event_id, sum(r.tickets_sold) AS tickets, sum(r.net_cents) AS net" \
	" FROM " rows " AND " show " <> '' GROUP BY 1 ORDER BY net DESC, tickets DESC, 1 LIMIT 10) t" \
	" LEFT JOIN event_catalog c ON c.venue_id = $1 AND c.event_id = t.event_id"     \
	DASH_TAIL

/*
 * $2 local dates ending today: the chart from the one 'total' row per date
 * of sales_daily, the shows from its 'event_id' rows.
 */
#define DASH_DAYS_P                                                                    \
    "WITH p AS (SELECT z.tz, d.today - ($2::int - 1) AS b0, d.today AS b1,"            \
    " (d.today - ($2::int - 1))::timestamp AT TIME ZONE z.tz AS t0,"                   \
    " (d.today + 1)::timestamp AT TIME ZONE z.tz AS t1"                                \
    " FROM " SQL_TZ " z, LATERAL (SELECT (now() AT TIME ZONE z.tz)::date AS today) d)"
static const char SQL_DASH_DAYS_MODEL[] = DASH_DAYS_P
    DASH_MODEL("$2::int", SQL_DATE("p.b0"));
static const char SQL_DASH_DAYS_ROLLUP[] = DASH_DAYS_P " "
    DASH_ROW("c", "0", "array_agg(coalesce(r.net_cents, 0) ORDER BY i)",
    "array_agg(coalesce(r.tickets_sold, 0) ORDER BY i)", SQL_DATE("p.b0"), "NULL")
    " FROM p CROSS JOIN generate_series(0, p.b1 - p.b0) i"
    " LEFT JOIN (SELECT r.local_date, r.net_cents, r.tickets_sold FROM sales_daily r, p"
    "  WHERE r.venue_id = $1 AND r.dimension = 'total' AND r.local_date BETWEEN p.b0 AND p.b1"
    "  AND r.value = '') r ON r.local_date = p.b0 + i GROUP BY p.b0"
    DASH_ROLLUP("r.value", "sales_daily r, p WHERE r.venue_id = $1 AND r.dimension = 'event_id'"
    " AND r.local_date BETWEEN p.b0 AND p.b1");

/* The 24 UTC hours ending with the current one, from the hour rows of sales_rollups. */
#define DASH_HOURS_P                                                                   \
    "WITH p AS (SELECT z.tz, h.hr - interval '23 hours' AS b0, h.hr AS b1,"             \
    " h.hr - interval '23 hours' AS t0, h.hr + interval '1 hour' AS t1"                 \
    " FROM " SQL_TZ " z,"                                                              \
    " LATERAL (SELECT date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hr) h)"
static const char SQL_DASH_HOURS_MODEL[] = DASH_HOURS_P
    DASH_MODEL("0", SQL_ISO("p.b0"));
static const char SQL_DASH_HOURS_ROLLUP[] = DASH_HOURS_P " "
    DASH_ROW("c", "0", "array_agg(x.n ORDER BY x.i)", "array_agg(x.t ORDER BY x.i)",
    SQL_ISO("p.b0"), "NULL")
    " FROM p, (SELECT i, coalesce(sum(r.net_cents), 0) AS n, coalesce(sum(r.tickets_sold), 0) AS t"
    "  FROM p CROSS JOIN generate_series(0, 23) i"
    "  LEFT JOIN sales_rollups r ON r.venue_id = $1 AND r.granularity = 'hour'"
    "  AND r.bucket = p.b0 + i * interval '1 hour' GROUP BY i) x GROUP BY p.b0"
    DASH_ROLLUP("r.event_id", "sales_rollups r, p WHERE r.venue_id = $1 AND r.granularity = 'hour'"
    " AND r.bucket BETWEEN p.b0 AND p.b1");

static int
period_days(const char *p)
{
	static const struct { const char *name; int days; } periods[] = {
		{ "24h", 0 }, { "7d", 7 }, { "30d", 30 }, { "90d", 90 },
	};
	for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++)
		if (strcmp(p, periods[i].name) == 0)
			return periods[i].days;
	return -1;
}

/* The rows of one kind in a dashboard result: [first, end). */
typedef struct {
	int first, end;
} dash_rows;

/* [{segment, customers, percentage}] of every segment, in rfm.h order. */
static void
segments_put(tt_strbuf *b, const PGresult *res, dash_rows rows, bool *bad)
{
	int64_t count[RFM_SEGMENTS] = { 0 }, total = 0;

	if (rows.end - rows.first > 1)
		*bad = true;
	for (int i = rows.first; i < rows.end; i++)
		if (!rfm_counts_add(PQgetvalue(res, i, 2), count, &total))
			*bad = true;
	tt_strbuf_putc(b, '[');
	for (int i = 0; i < RFM_SEGMENTS; i++) {
		tt_strbuf_puts(b, i ? ",{\"segment\":" : "{\"segment\":");
		tt_strbuf_json_str(b, rfm_segment_name((rfm_segment)i));
		tt_strbuf_printf(b, ",\"customers\":%lld,\"percentage\":", (long long)count[i]);
		fixed_put(b, rfm_percent_hundredths(count[i], total), 2);
		tt_strbuf_putc(b, '}');
	}
	tt_strbuf_putc(b, ']');
}

/* A 't' row: {eventId, name, ticketsSold, revenue}. */
static void
event_item_put(tt_strbuf *b, const PGresult *res, int row, bool *bad)
{
	tt_strbuf_puts(b, "{\"eventId\":");
	col_str_put(b, res, row, 2);
	tt_strbuf_puts(b, ",\"name\":");
	col_str_put(b, res, row, 3);
	tt_strbuf_printf(b, ",\"ticketsSold\":%lld,\"revenue\":", (long long)col_i64(res, row, 4, bad));
	money_put(b, col_i64(res, row, 5, bad));
	tt_strbuf_putc(b, '}');
}

#define CHART_MAX 128   /* buckets of a chart: 24 hours, or up to 90 days */

/* The 'c' row of a dashboard result, parsed. */
typedef struct {
	int64_t net[CHART_MAX], tickets[CHART_MAX];
	size_t  n;          /* buckets, >= 1 */
	int64_t first_ms;   /* the first bucket: its UTC hour, or its date at 00:00 UTC */
	bool    hours;
} dash_chart;

/* The one 'c' row into *ch (hours: labels are hours, else dates); false when it is not one. */
static bool
chart_parse(const PGresult *res, dash_rows rows, bool hours, dash_chart *ch)
{
	const char *net, *tickets, *label;
	size_t nt;

	if (rows.end - rows.first != 1)
		return false;
	net = PQgetvalue(res, rows.first, 2);
	tickets = PQgetvalue(res, rows.first, 3);
	label = PQgetvalue(res, rows.first, 4);
	ch->hours = hours;
	return tt_parse_pg_int_array(net, strlen(net), INT64_MIN, INT64_MAX, ch->net, CHART_MAX,
	    &ch->n) == TT_OK &&
	    tt_parse_pg_int_array(tickets, strlen(tickets), INT64_MIN, INT64_MAX, ch->tickets,
	    CHART_MAX, &nt) == TT_OK && nt == ch->n && ch->n > 0 &&
	    tt_iso_parse(label, strlen(label), hours ? TT_ISO_DATETIME : TT_ISO_DATE,
	    &ch->first_ms) == TT_OK;
}

/* Bucket i's label as JSON: "YYYY-MM-DD", or the hour as SQL_ISO writes it. */
static void
chart_label_put(tt_strbuf *b, const dash_chart *ch, size_t i)
{
	char buf[TT_ISO_MAX];
	int64_t ms = ch->first_ms + (int64_t)i * (ch->hours ? 3600000 : 86400000);

	if (ch->hours)
		tt_iso_format(ms, buf);
	else
		tt_iso_date(ms, buf);
	tt_strbuf_json_str(b, buf);
}

/* The JSON of a dashboard result (see DASH_ROW) into b; false when it is not one. */
static bool
dashboard_put(tt_strbuf *b, const PGresult *res, const char *period)
{
	dash_rows c = { 0, 0 }, p = { 0, 0 }, sg = { 0, 0 }, t = { 0, 0 }, u = { 0, 0 };
	int64_t total_cents = 0, total_tickets = 0;
	dash_chart ch;
	bool bad = false;

	for (int i = 0; i < PQntuples(res); i++) {
		dash_rows *k;
		switch (PQgetvalue(res, i, 0)[0]) {
		case 'c': k = &c; break;
		case 'p': k = &p; break;
		case 's': k = &sg; break;
		case 't': k = &t; break;
		case 'u': k = &u; break;
		default: return false;
		}
		if (k->end == 0)
			k->first = i;
		k->end = i + 1;
	}
	if (p.end - p.first != 1 || u.end - u.first != 1 ||
	    !chart_parse(res, c, strcmp(period, "24h") == 0, &ch))
		return false;
	for (size_t i = 0; i < ch.n; i++) {
		total_cents += ch.net[i];
		total_tickets += ch.tickets[i];
	}
	tt_strbuf_printf(b, "{\"period\":\"%s\",\"timezone\":", period);
	tt_strbuf_json_str(b, PQgetvalue(res, p.first, 2));
	tt_strbuf_puts(b, ",\"startDate\":");
	tt_strbuf_json_str(b, PQgetvalue(res, p.first, 3));
	tt_strbuf_puts(b, ",\"endDate\":");
	tt_strbuf_json_str(b, PQgetvalue(res, p.first, 4));
	tt_strbuf_puts(b, ",\"summary\":{\"totalRevenue\":");
	money_put(b, total_cents);
	tt_strbuf_printf(b, ",\"totalTicketsSold\":%lld,\"uniqueCustomers\":%lld,\"topEvent\":",
	    (long long)total_tickets, (long long)col_i64(res, u.first, 2, &bad));
	if (t.end > t.first)
		event_item_put(b, res, t.first, &bad);
	else
		tt_strbuf_puts(b, "null");
	tt_strbuf_puts(b, "},\"charts\":{\"revenue\":[");
	for (size_t i = 0; i < ch.n; i++) {
		tt_strbuf_puts(b, i > 0 ? ",{\"date\":" : "{\"date\":");
		chart_label_put(b, &ch, i);
		tt_strbuf_puts(b, ",\"revenue\":");
		money_put(b, ch.net[i]);
		tt_strbuf_putc(b, '}');
	}
	tt_strbuf_puts(b, "],\"sales\":[");
	for (size_t i = 0; i < ch.n; i++) {
		tt_strbuf_puts(b, i > 0 ? ",{\"date\":" : "{\"date\":");
		chart_label_put(b, &ch, i);
		tt_strbuf_printf(b, ",\"ticketsSold\":%lld}", (long long)ch.tickets[i]);
	}
	tt_strbuf_puts(b, "],\"customerSegments\":");
	segments_put(b, res, sg, &bad);
	tt_strbuf_puts(b, "},\"topEvents\":[");
	for (int i = t.first; i < t.end; i++) {
		if (i > t.first)
			tt_strbuf_putc(b, ',');
		event_item_put(b, res, i, &bad);
	}
	tt_strbuf_puts(b, "]}");
	return !bad;
}

/* Whether a dashboard result has its 'u' row (rows are ordered by kind). */
static bool
dash_has_u(const PGresult *res)
{
	for (int i = PQntuples(res) - 1; i >= 0; i--) {
		char k = PQgetvalue(res, i, 0)[0];
		if (k == 'u')
			return true;
		if (k < 'u')
			return false;
	}
	return false;
}

/*
 * The rollup part of the dashboard (everything but realtime) into b; false
 * when the request has been answered with an error.
 */
static bool
dashboard_compute(tt_http_req *req, qapi_ctx *ctx, const char *venue, const char *period,
    int days, tt_strbuf *b)
{
	char ndays[12], err[512];
	const char *params[2] = { venue, ndays };
	PGconn *conn = NULL;
	PGresult *res = NULL;
	bool hours = days == 0, ok = false;
	tt_err e;

	if ((e = tt_db_acquire(ctx->db, &conn, QAPI_DB_WAIT_MS, err, sizeof(err))) != TT_OK) {
		qapi_fail(req, e, "dashboard: no database connection", err);
		return false;
	}
	snprintf(ndays, sizeof(ndays), "%d", days);
	if (!run(req, conn, hours ? "analytics_dash_hours_model" : "analytics_dash_days_model",
	    hours ? SQL_DASH_HOURS_MODEL : SQL_DASH_DAYS_MODEL, hours ? 1 : 2, params, &res, &e))
		goto out;
	if (!dash_has_u(res)) {   /* the read model does not hold this period (yet) */
		PQclear(res);
		res = NULL;
		if (!run(req, conn, hours ? "analytics_dash_hours_rollup" : "analytics_dash_days_rollup",
		    hours ? SQL_DASH_HOURS_ROLLUP : SQL_DASH_DAYS_ROLLUP, hours ? 1 : 2, params, &res, &e))
			goto out;
	}
	if (!dashboard_put(b, res, period))
		qapi_fail(req, TT_EDB, "dashboard", "unexpected values in the rollups");
	else if (tt_strbuf_truncated(b))
		qapi_fail(req, TT_ETOOBIG, "dashboard", "answer too large");
	else
		ok = true;
out:
	PQclear(res);
	tt_db_release(ctx->db, conn, e == TT_ECONN);
	return ok;
}

/*
 * The rollup part is cached (QAPI_TTL_DASHBOARD); realtime is read on
 * every request and appended, so it is never older than the counters.
 */
static void
h_dashboard(tt_http_req *req, void *udata)
{
	qapi_ctx *ctx = udata;
	char venue[TT_AUTH_VENUE_MAX], period[8], ident[32], err[512], day[TT_ISO_MAX];
	char ckey[TT_COUNTERS_KEY_MAX];
	const char *cargv[TT_COUNTERS_ARGC];
	redisReply *crep = NULL;
	tt_counters today;
	lcache_token ctok;
	bool local_today;
	char *cached = NULL;
	const char *body;
	tt_strbuf b, out;
	size_t n;
	tt_err e;
	int days = -1;

	tt_strbuf_init(&b, ANALYTICS_JSON_MAX);
	tt_strbuf_init(&out, ANALYTICS_JSON_MAX + 256);
	if (!analytics_begin(req, venue))
		goto done;
	e = tt_http_query(req, "period", period, sizeof(period));
	if (e == TT_ENOTFOUND)
		snprintf(period, sizeof(period), "7d");
	if ((e != TT_OK && e != TT_ENOTFOUND) || (days = period_days(period)) < 0) {
		invalid1(req, "period", "must be one of 24h, 7d, 30d, 90d");
		goto done;
	}
	snprintf(ident, sizeof(ident), "period=%s", period);
	/*
	 * Today's counters: the in-process copy of their Redis hash if there is
	 * one, else read with the cache lookup, in the same round trip.
	 */
	tt_iso_date(tt_now_ms(), day);
	tt_counters_redis_argv(venue, day, ckey, cargv);
	local_today = qapi_counters_local(ckey, &today, &ctok);
	cached = local_today ? qapi_cache_get(req, "dashboard", venue, ident)
	    : qapi_cache_get_with(req, "dashboard", venue, ident, TT_COUNTERS_ARGC, cargv, &crep);
	if (cached != NULL) {
		body = cached;
		tt_http_set_header(req, "X-Cache", "HIT");
	} else {
		if (!dashboard_compute(req, ctx, venue, period, days, &b))
			goto done;
		qapi_cache_put("dashboard", venue, ident, tt_strbuf_str(&b), QAPI_TTL_DASHBOARD);
		body = tt_strbuf_str(&b);
		tt_http_set_header(req, "X-Cache", "MISS");
	}
	n = strlen(body);
	if (n < 2 || body[0] != '{' || body[n - 1] != '}') {
		qapi_fail(req, TT_EPARSE, "dashboard", "cached entry is not an object");
		goto done;
	}
	const char *source;
	if (!local_today) {
		if ((e = tt_counters_read_reply(ctx->db, QAPI_DB_WAIT_MS, venue, day, crep, &today,
		    &source, err, sizeof(err))) != TT_OK) {
			qapi_fail(req, e, "dashboard realtime", err);
			goto done;
		}
		if (strcmp(source, "redis") == 0)
			qapi_counters_keep(ckey, &today, &ctok, true);
		else if (tt_counters_reply_absent(crep))
			qapi_counters_keep(ckey, &today, &ctok, false);
	}
	tt_strbuf_put(&out, body, n - 1);
	tt_strbuf_puts(&out, ",\"realtime\":{\"todayRevenue\":");
	money_put(&out, today.revenue_cents);
	tt_strbuf_printf(&out, ",\"todaySales\":%lld,\"currentTraffic\":%lld}}",
	    (long long)today.sales, (long long)today.traffic);
	if (tt_strbuf_truncated(&out)) {
		qapi_fail(req, TT_ETOOBIG, "dashboard", "answer too large");
		goto done;
	}
	tt_http_respond_data(req, 200, tt_strbuf_str(&out));
done:
	if (crep != NULL)
		freeReplyObject(crep);
	free(cached);
	tt_strbuf_fini(&b);
	tt_strbuf_fini(&out);
}

/* -------------------------------------------------------- revenue summary */

/*
 * $2/$3: start as a date / as an instant (one is NULL), $4/$5 the end.
 * Answers tz, d0, d1, today, d1 - d0, today - d0.
 */
static const char SQL_REV_RANGE[] =
    "SELECT z.tz, s.d0::text, s.d1::text, s.today::text, (s.d1 - s.d0)::text, "
    "(s.today - s.d0)::text FROM " SQL_TZ " z, LATERAL (SELECT "
    "coalesce($2::date, ($3::timestamptz AT TIME ZONE z.tz)::date) AS d0, "
    "coalesce($4::date, ($5::timestamptz AT TIME ZONE z.tz)::date) AS d1, "
    "(now() AT TIME ZONE z.tz)::date AS today) s";

/*
 * dim, net cents, tickets, net cents up to today ($4), for channels then
 * event types: the 'channel' and 'event_type' rows of sales_daily, one per
 * value and date.
 */
static const char SQL_REV_BY[] =
    "SELECT dimension, value, sum(net_cents)::text, sum(tickets_sold)::text, "
    "coalesce(sum(net_cents) FILTER (WHERE local_date <= $4::date), 0)::text "
    "FROM sales_daily WHERE venue_id = $1 AND dimension IN ('channel', 'event_type') "
    "AND local_date BETWEEN $2::date AND $3::date "
    "GROUP BY dimension, value ORDER BY dimension, sum(net_cents) DESC, value";

/*
 * One date parameter, as the venue's local date it names: a bare date and a
 * local date-time without offset ("2026-03-01T18:00:00") name their date
 * (into date); a date-time with an offset is an instant (normalised into
 * inst), whose local date SQL finds in the venue's zone.
 */
static bool
date_param(tt_http_req *req, const char *name, char date[TT_ISO_MAX], char inst[TT_ISO_MAX],
    tt_http_details *d)
{
	char v[64], z[66];
	int64_t ms;
	size_t n;
	tt_err e = tt_http_query(req, name, v, sizeof(v));

	date[0] = inst[0] = '\0';
	if (e == TT_ENOTFOUND || (e == TT_OK && v[0] == '\0')) {
		tt_http_details_add(d, name, "is required");
		return false;
	}
	n = e == TT_OK ? strlen(v) : 0;
	if (n > 0 && tt_iso_parse(v, n, TT_ISO_DATE | TT_ISO_DATETIME, &ms) == TT_OK) {
		if (n == 10)
			memcpy(date, v, 11);  /* YYYY-MM-DD and its NUL */
		else
			tt_iso_format(ms, inst);
		return true;
	}
	/* Local wall time: valid once a "Z" is added; its date part is the local date. */
	if (n > 10 && v[10] == 'T') {
		memcpy(z, v, n);
		z[n] = 'Z';
		if (tt_iso_parse(z, n + 1, TT_ISO_DATETIME, &ms) == TT_OK) {
			memcpy(date, v, 10);
			date[10] = '\0';
			return true;
		}
	}
	tt_http_details_add(d, name, "must be an ISO 8601 date (YYYY-MM-DD) or date-time");
	return false;
}

/*
 * Percentage of part in total, "33.33%", half away from zero; "0.00%" when
 * the total is 0. A negative total (refunds above sales) flips both signs.
 */
static void
percent_put(tt_strbuf *b, int64_t part, int64_t total)
{
	i128 num = (i128)part * 10000, den = total;
	int64_t bp;

	if (den < 0) {
		num = -num;
		den = -den;
	}
	bp = den == 0 ? 0 : (int64_t)div_round(num, den);

	tt_strbuf_putc(b, '"');
	fixed_put(b, bp, 2);
	tt_strbuf_puts(b, "%\"");
}

/*
 * [{<key>, revenue, percentage, ticketsSold}] of the rows of SQL_REV_BY
 * whose dimension is dim (they are consecutive).
 */
static void
breakdown_put(tt_strbuf *b, const PGresult *res, const char *dim, const char *key,
    int64_t total, bool *bad)
{
	int n = 0;

	tt_strbuf_putc(b, '[');
	for (int i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), dim) != 0)
			continue;
		const char *v = PQgetvalue(res, i, 1);
		int64_t net = col_i64(res, i, 2, bad);
		tt_strbuf_printf(b, "%s{\"%s\":", n++ ? "," : "", key);
		tt_strbuf_json_str(b, v[0] ? v : "unknown");
		tt_strbuf_puts(b, ",\"revenue\":");
		money_put(b, net);
		tt_strbuf_puts(b, ",\"percentage\":");
		percent_put(b, net, total);
		tt_strbuf_printf(b, ",\"ticketsSold\":%lld}", (long long)col_i64(res, i, 3, bad));
	}
	tt_strbuf_putc(b, ']');
}

static void
h_revenue(tt_http_req *req, void *udata)
{
	qapi_ctx *ctx = udata;
	char venue[TT_AUTH_VENUE_MAX], err[512], ident[4 * TT_ISO_MAX + 16];
	char sd[TT_ISO_MAX], si[TT_ISO_MAX], ed[TT_ISO_MAX], ei[TT_ISO_MAX];
	const char *params[5];
	PGconn *conn = NULL;
	PGresult *rr = NULL, *rb = NULL;
	int64_t span, elapsed, total = 0, to_date = 0, projected;
	bool bad = false, ok;
	tt_http_details d;
	tt_strbuf b;
	tt_err e = TT_OK;

	tt_strbuf_init(&b, ANALYTICS_JSON_MAX);
	tt_http_details_init(&d);
	if (!analytics_begin(req, venue))
		goto out;
	ok = date_param(req, "startDate", sd, si, &d);
	ok = date_param(req, "endDate", ed, ei, &d) && ok;
	if (!ok) {
		tt_http_respond_invalid(req, &d);
		goto out;
	}
	snprintf(ident, sizeof(ident), "start=%s%s&end=%s%s", sd, si, ed, ei);
	if (cache_answer(req, "revenue", venue, ident))
		goto out;

	if ((e = tt_db_acquire(ctx->db, &conn, QAPI_DB_WAIT_MS, err, sizeof(err))) != TT_OK) {
		qapi_fail(req, e, "revenue summary: no database connection", err);
		goto out;
	}
	params[0] = venue;
	params[1] = sd[0] ? sd : NULL;
	params[2] = si[0] ? si : NULL;
	params[3] = ed[0] ? ed : NULL;
	params[4] = ei[0] ? ei : NULL;
	if (!run(req, conn, "analytics_rev_range", SQL_REV_RANGE, 5, params, &rr, &e))
		goto out;
	span = col_i64(rr, 0, 4, &bad);
	elapsed = col_i64(rr, 0, 5, &bad) + 1;
	if (span < 0) {
		tt_http_details_add(&d, "endDate", "must not be before startDate (in the venue's time zone)");
		tt_http_respond_invalid(req, &d);
		goto out;
	}
	if (span + 1 > RANGE_DAYS_MAX) {
		tt_http_details_add(&d, "endDate", "the range must span at most %d days", RANGE_DAYS_MAX);
		tt_http_respond_invalid(req, &d);
		goto out;
	}
	params[1] = PQgetvalue(rr, 0, 1);
	params[2] = PQgetvalue(rr, 0, 2);
	params[3] = PQgetvalue(rr, 0, 3);
	if (!run(req, conn, "analytics_rev_by", SQL_REV_BY, 4, params, &rb, &e))
		goto out;
	/* Every sale has one channel row: the channels add up to the venue's total. */
	for (int i = 0; i < PQntuples(rb); i++) {
		if (strcmp(PQgetvalue(rb, i, 0), "channel") != 0)
			continue;
		total += col_i64(rb, i, 2, &bad);
		to_date += col_i64(rb, i, 4, &bad);
	}
	span += 1;  /* dates in the range */
	if (elapsed < 0)
		elapsed = 0;
	if (elapsed > span)
		elapsed = span;
	projected = elapsed == 0 || elapsed == span ? to_date
	    : (int64_t)div_round((i128)to_date * span, (i128)elapsed);

	tt_strbuf_puts(&b, "{\"timezone\":");
	tt_strbuf_json_str(&b, PQgetvalue(rr, 0, 0));
	tt_strbuf_puts(&b, ",\"startDate\":");
	tt_strbuf_json_str(&b, PQgetvalue(rr, 0, 1));
	tt_strbuf_puts(&b, ",\"endDate\":");
	tt_strbuf_json_str(&b, PQgetvalue(rr, 0, 2));
	tt_strbuf_puts(&b, ",\"byChannel\":{\"channels\":");
	breakdown_put(&b, rb, "channel", "channel", total, &bad);
	tt_strbuf_puts(&b, ",\"total\":");
	money_put(&b, total);
	tt_strbuf_puts(&b, "},\"byEventType\":");
	breakdown_put(&b, rb, "event_type", "eventType", total, &bad);
	tt_strbuf_printf(&b, ",\"projection\":{\"method\":\"linear\",\"includesToday\":%s,"
	    "\"totalDays\":%lld,\"elapsedDays\":%lld,\"revenueToDate\":",
	    elapsed > 0 && col_i64(rr, 0, 5, &bad) <= span - 1 ? "true" : "false",
	    (long long)span, (long long)elapsed);
	money_put(&b, to_date);
	tt_strbuf_puts(&b, ",\"projectedRevenue\":");
	money_put(&b, projected);
	tt_strbuf_puts(&b, "}}");
	if (bad) {
		qapi_fail(req, TT_EDB, "revenue summary", "unexpected values in the rollups");
		goto out;
	}
	respond_and_cache(req, &b, "revenue", venue, ident, QAPI_TTL_METRICS);
out:
	PQclear(rr);
	PQclear(rb);
	if (conn != NULL)
		tt_db_release(ctx->db, conn, e == TT_ECONN);
	tt_http_details_fini(&d);
	tt_strbuf_fini(&b);
}

/* ------------------------------------------------------ event performance */

/* $2: one show or NULL for all; $3: limit. */
static const char SQL_EVENTS[] =
    "SELECT coalesce(s.event_id, c.event_id), c.name, c.capacity::text, c.event_type, "
    SQL_ISO("c.starts_at") ", coalesce(s.tickets_sold, 0)::text, coalesce(s.orders, 0)::text, "
    "coalesce(s.gross_cents, 0)::text, coalesce(s.refund_cents, 0)::text, "
    SQL_ISO("s.first_sale") ", " SQL_ISO("s.last_sale") ", "
    "greatest(1, (now() AT TIME ZONE z.tz)::date - (s.first_sale AT TIME ZONE z.tz)::date + 1)::text "
    "FROM (SELECT * FROM event_stats WHERE venue_id = $1 AND ($2::text IS NULL OR event_id = $2)) s "
    "FULL JOIN (SELECT * FROM event_catalog WHERE venue_id = $1 AND ($2::text IS NULL OR event_id = $2)) c "
    "ON c.event_id = s.event_id CROSS JOIN " SQL_TZ " z "
    "ORDER BY coalesce(s.gross_cents, 0) - coalesce(s.refund_cents, 0) DESC, "
    "coalesce(s.tickets_sold, 0) DESC, 1 LIMIT $3::int";

static void
perf_put(tt_strbuf *b, const PGresult *res, int i, bool *bad)
{
	int64_t cap = col_i64(res, i, 2, bad), sold = col_i64(res, i, 5, bad);
	int64_t gross = col_i64(res, i, 7, bad), refund = col_i64(res, i, 8, bad);
	int64_t days = col_i64(res, i, 11, bad);

	tt_strbuf_puts(b, "{\"eventId\":");
	col_str_put(b, res, i, 0);
	tt_strbuf_puts(b, ",\"name\":");
	col_str_put(b, res, i, 1);
	tt_strbuf_puts(b, ",\"eventType\":");
	col_str_put(b, res, i, 3);
	tt_strbuf_puts(b, ",\"startsAt\":");
	col_str_put(b, res, i, 4);
	if (PQgetisnull(res, i, 2))
		tt_strbuf_puts(b, ",\"capacity\":null");
	else
		tt_strbuf_printf(b, ",\"capacity\":%lld", (long long)cap);
	tt_strbuf_printf(b, ",\"ticketsSold\":%lld,\"orders\":%lld,\"grossRevenue\":",
	    (long long)sold, (long long)col_i64(res, i, 6, bad));
	money_put(b, gross);
	tt_strbuf_puts(b, ",\"refunds\":");
	money_put(b, refund);
	tt_strbuf_puts(b, ",\"revenue\":");
	money_put(b, gross - refund);
	tt_strbuf_puts(b, ",\"sellThrough\":");
	if (cap > 0)
		fixed_put(b, (int64_t)div_round((i128)sold * 10000, cap), 4);
	else
		tt_strbuf_puts(b, "null");
	tt_strbuf_puts(b, ",\"salesVelocity\":");
	fixed_put(b, days > 0 ? (int64_t)div_round((i128)sold * 10000, days) : 0, 4);
	tt_strbuf_puts(b, ",\"firstSale\":");
	col_str_put(b, res, i, 9);
	tt_strbuf_puts(b, ",\"lastSale\":");
	col_str_put(b, res, i, 10);
	tt_strbuf_putc(b, '}');
}

static void
events_answer(tt_http_req *req, qapi_ctx *ctx, const char *venue, const char *event_id,
    int limit)
{
	char err[512], lim[12], ident[EVENT_ID_MAX + 32];
	const char *params[3];
	PGconn *conn = NULL;
	PGresult *res = NULL;
	bool bad = false;
	tt_strbuf b;
	tt_err e = TT_OK;

	tt_strbuf_init(&b, ANALYTICS_JSON_MAX);
	if (event_id != NULL)
		snprintf(ident, sizeof(ident), "event=%s", event_id);
	else
		snprintf(ident, sizeof(ident), "limit=%d", limit);
	if (cache_answer(req, "events", venue, ident))
		goto out;
	if ((e = tt_db_acquire(ctx->db, &conn, QAPI_DB_WAIT_MS, err, sizeof(err))) != TT_OK) {
		qapi_fail(req, e, "event performance: no database connection", err);
		goto out;
	}
	snprintf(lim, sizeof(lim), "%d", limit);
	params[0] = venue;
	params[1] = event_id;
	params[2] = lim;
	if (!run(req, conn, "analytics_events", SQL_EVENTS, 3, params, &res, &e))
		goto out;
	if (event_id != NULL) {
		if (PQntuples(res) == 0) {
			tt_http_respond_error(req, 404, "NOT_FOUND", "Event not found", NULL);
			goto out;
		}
		perf_put(&b, res, 0, &bad);
	} else {
		tt_strbuf_puts(&b, "{\"events\":[");
		for (int i = 0; i < PQntuples(res); i++) {
			if (i > 0)
				tt_strbuf_putc(&b, ',');
			perf_put(&b, res, i, &bad);
		}
		tt_strbuf_printf(&b, "],\"count\":%d}", PQntuples(res));
	}
	if (bad) {
		qapi_fail(req, TT_EDB, "event performance", "unexpected values in the rollups");
		goto out;
	}
	respond_and_cache(req, &b, "events", venue, ident, QAPI_TTL_METRICS);
out:
	PQclear(res);
	if (conn != NULL)
		tt_db_release(ctx->db, conn, e == TT_ECONN);
	tt_strbuf_fini(&b);
}

static void
h_events(tt_http_req *req, void *udata)
{
	char venue[TT_AUTH_VENUE_MAX], v[16];
	int64_t limit = EVENTS_LIMIT_DEF;
	tt_err e;

	if (!analytics_begin(req, venue))
		return;
	e = tt_http_query(req, "limit", v, sizeof(v));
	if (e != TT_ENOTFOUND && (e != TT_OK ||
	    tt_parse_i64(v, strlen(v), 1, EVENTS_LIMIT_MAX, &limit) != TT_OK)) {
		invalid1(req, "limit", "must be an integer from 1 to 1000");
		return;
	}
	events_answer(req, udata, venue, NULL, (int)limit);
}

static void
h_event_one(tt_http_req *req, void *udata)
{
	char venue[TT_AUTH_VENUE_MAX];
	const char *id = tt_http_param(req, "eventId");

	if (!analytics_begin(req, venue))
		return;
	if (id == NULL || id[0] == '\0' || strlen(id) > EVENT_ID_MAX) {
		invalid1(req, "eventId", "must be 1-128 characters");
		return;
	}
	events_answer(req, udata, venue, id, 1);
}

tt_err
routes_analytics_register(tt_http_server *srv, qapi_ctx *ctx)
{
	tt_err e;

	if ((e = tt_http_route(srv, "GET", "/analytics/dashboard", TT_HTTP_PROTECTED,
	    h_dashboard, ctx)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/analytics/revenue/summary", TT_HTTP_PROTECTED,
	    h_revenue, ctx)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/analytics/events/performance", TT_HTTP_PROTECTED,
	    h_events, ctx)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/analytics/events/:eventId/performance",
	    TT_HTTP_PROTECTED, h_event_one, ctx)) != TT_OK)
		return e;
	return TT_OK;
}
