/*
 * routes_query.c - POST /analytics/query: custom queries over sales_rollups.
 *
 * The body is validated by query_spec.c; only whitelisted names reach this
 * file, and each is an index into the constant SQL fragments below, so the
 * statement text is assembled from constants alone and every value (venue,
 * instants, filter values) travels as a parameter.
 *
 * Statements are prepared per shape (stmt_name), planned once per connection.
 *
 * Reading: hour granularity reads the 'hour' rows (UTC hours) whose bucket
 * starts within [start floored to the hour, end]; day, week and month read
 * the 'day' rows whose venue-local date lies between the local dates of
 * start and end in the venue's zone (venues.timezone, UTC without a row),
 * week and month grouping them by date_trunc on the local date (weeks start
 * on Monday). A day-level query whose filters and groupBy name at most one
 * dimension reads sales_daily instead (the day rows already summed per
 * date and value of that dimension, or per date): the same sums over a
 * fraction of the rows. Every measure is an integer sum (cents and counts); money is
 * printed from integer cents, the average order value is gross / orders
 * rounded half away from zero to the cent (null without orders). A period
 * or group without rows is absent from the series.
 */
#include "qapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_spec.h"
#include "rfm.h"
#include "tt/crypto.h"
#include "tt/log.h"
#include "tt/money.h"
#include "tt/strbuf.h"
#include "tt/strparse.h"
#include "tt/time.h"

#define QUERY_MAX_POINTS   20000             /* rows of one answer */
#define QUERY_RESPONSE_MAX (8u * 1024 * 1024)
#define HOUR_MS            INT64_C(3600000)
#define IDENT_PLAIN_MAX    256               /* longer cache idents are hashed */

/*
 * The cache ident of q: its canonical text, or "sha256:" and a digest of it
 * when long filter values would make the Redis key too long. False when
 * the text does not fit at all (the answer is then not cached).
 */
static bool
cache_ident(const qspec *q, char *out, size_t outlen)
{
	static const char salt[] = "qapi-query-ident";
	char text[4096], hex[TT_HMAC_HEX_LEN + 1];
	size_t n;

	if (!qspec_canonical(q, text, sizeof(text)))
		return false;
	n = strlen(text);
	if (n <= IDENT_PLAIN_MAX && n < outlen) {
		memcpy(out, text, n + 1);
		return true;
	}
	if (tt_hmac_sha256_hex(salt, sizeof(salt) - 1, text, n, hex) != TT_OK ||
	    outlen < sizeof("sha256:") + TT_HMAC_HEX_LEN)
		return false;
	snprintf(out, outlen, "sha256:%s", hex);
	return true;
}

/* Column of each dimension in sales_rollups. */
static const char *const dim_column[QSPEC_NDIMS] = {
	[QSPEC_CHANNEL] = "channel", [QSPEC_EVENT_TYPE] = "event_type", [QSPEC_EVENT_ID] = "event_id",
};

/* The period of a row, per granularity (text that sorts chronologically). */
static const char *const period_expr[] = {
	[QSPEC_HOUR]  = "to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
	[QSPEC_DAY]   = "local_date::text",
	[QSPEC_WEEK]  = "date_trunc('week', local_date::timestamp)::date::text",
	[QSPEC_MONTH] = "date_trunc('month', local_date::timestamp)::date::text",
};

/* Measures, always all of them, in this order after the period and groups. */
enum { M_NET, M_GROSS, M_REFUND, M_TICKETS, M_ORDERS, M_COUNT };

typedef struct {
	int64_t v[M_COUNT];
} measures;

/*
 * The one dimension of a day/week/month query that uses at most one (in
 * its filters and groupBy together), which sales_daily then answers with
 * one row per date and value of that dimension: QSPEC_NDIMS when it uses
 * none (the 'total' row), -1 when it needs sales_rollups (hour rows, or
 * two or more dimensions).
 */
static int
daily_dimension(const qspec *q)
{
	int dim = QSPEC_NDIMS;

	if (q->granularity == QSPEC_HOUR)
		return -1;
	for (int k = 0; k < QSPEC_NDIMS; k++) {
		bool used = q->has_filter[k];
		for (int i = 0; i < q->ngroup; i++)
			used = used || (int)q->group[i] == k;
		if (!used)
			continue;
		if (dim != QSPEC_NDIMS)
			return -1;
		dim = k;
	}
	return dim;
}

/* Builds the statement for q; params[0..*np) point into q and the instants. */
static void
build_sql(const qspec *q, tt_strbuf *sql, const char *params[3 + QSPEC_NDIMS], int *np,
    const char *venue, const char *start, const char *end)
{
	/* In sales_daily, the one dimension's values are in column "value". */
	static const char *const daily_column[QSPEC_NDIMS] = {
		[QSPEC_CHANNEL] = "value", [QSPEC_EVENT_TYPE] = "value", [QSPEC_EVENT_ID] = "value",
	};
	int n = 3, daily = daily_dimension(q);
	const char *const *col = daily >= 0 ? daily_column : dim_column;

	params[0] = venue;
	params[1] = start;
	params[2] = end;
	tt_strbuf_printf(sql, "SELECT %s", period_expr[q->granularity]);
	for (int i = 0; i < q->ngroup; i++)
		tt_strbuf_printf(sql, ", %s", col[q->group[i]]);
	tt_strbuf_printf(sql, ", sum(net_cents)::text, sum(gross_cents)::text, sum(refund_cents)::text,"
	    " sum(tickets_sold)::text, sum(orders)::text FROM %s"
	    " CROSS JOIN (SELECT coalesce((SELECT timezone FROM venues v WHERE v.venue_id = $1),"
	    " 'UTC') AS tz) z WHERE venue_id = $1", daily >= 0 ? "sales_daily" : "sales_rollups");
	if (q->granularity == QSPEC_HOUR) {
		tt_strbuf_puts(sql, " AND granularity = 'hour' AND bucket >= $2::timestamptz"
		    " AND bucket <= $3::timestamptz");
	} else {
		if (daily >= 0)
			tt_strbuf_printf(sql, " AND dimension = '%s'",
			    daily == QSPEC_NDIMS ? "total" : dim_column[daily]);
		else
			tt_strbuf_puts(sql, " AND granularity = 'day'");
		tt_strbuf_puts(sql, " AND local_date BETWEEN"
		    " ($2::timestamptz AT TIME ZONE z.tz)::date AND ($3::timestamptz AT TIME ZONE z.tz)::date");
	}
	for (int k = 0; k < QSPEC_NDIMS; k++) {
		if (!q->has_filter[k])
			continue;
		params[n] = q->filter[k];
		tt_strbuf_printf(sql, " AND %s = $%d", col[k], ++n);
	}
	tt_strbuf_puts(sql, " GROUP BY 1");
	for (int i = 0; i < q->ngroup; i++)
		tt_strbuf_printf(sql, ", %d", i + 2);
	tt_strbuf_puts(sql, " ORDER BY 1");
	for (int i = 0; i < q->ngroup; i++)
		tt_strbuf_printf(sql, ", %d", i + 2);
	*np = n;
}

/*
 * The prepared-statement name of q's statement: the statement text depends
 * only on the granularity, which filters are present and the groupBy list,
 * so each of those (at most 4 x 8 x 16) shapes is planned once per
 * connection.
 */
static const char *
stmt_name(const qspec *q, char *buf, size_t len)
{
	unsigned mask = 0;
	char groups[QSPEC_NDIMS + 1];

	for (int k = 0; k < QSPEC_NDIMS; k++)
		if (q->has_filter[k])
			mask |= 1u << k;
	for (int i = 0; i < q->ngroup; i++)
		groups[i] = (char)('0' + (int)q->group[i]);
	groups[q->ngroup] = '\0';
	snprintf(buf, len, "qapi_query_%d_%u_g%s", (int)q->granularity, mask, groups);
	return buf;
}

/* One metric's value as JSON. */
static void
put_value(tt_strbuf *b, qspec_metric m, const measures *x)
{
	char money[TT_MONEY_STR_MAX];
	int64_t avg;

	switch (m) {
	case QSPEC_REVENUE:
		tt_money_format(x->v[M_NET], money);
		tt_strbuf_puts(b, money);
		break;
	case QSPEC_GROSS_REVENUE:
		tt_money_format(x->v[M_GROSS], money);
		tt_strbuf_puts(b, money);
		break;
	case QSPEC_REFUNDS:
		tt_money_format(x->v[M_REFUND], money);
		tt_strbuf_puts(b, money);
		break;
	case QSPEC_TICKET_SALES:
		tt_strbuf_printf(b, "%lld", (long long)x->v[M_TICKETS]);
		break;
	case QSPEC_ORDERS:
		tt_strbuf_printf(b, "%lld", (long long)x->v[M_ORDERS]);
		break;
	case QSPEC_AVG_ORDER_VALUE:
	default:
		if (rfm_avg_cents(x->v[M_GROSS], x->v[M_ORDERS], &avg)) {
			tt_money_format(avg, money);
			tt_strbuf_puts(b, money);
		} else {
			tt_strbuf_puts(b, "null");
		}
		break;
	}
}

static void
put_values(tt_strbuf *b, const qspec *q, const measures *x)
{
	tt_strbuf_putc(b, '{');
	for (int i = 0; i < q->nmetrics; i++) {
		if (i > 0)
			tt_strbuf_putc(b, ',');
		tt_strbuf_json_str(b, qspec_metric_name(q->metrics[i]));
		tt_strbuf_putc(b, ':');
		put_value(b, q->metrics[i], x);
	}
	tt_strbuf_putc(b, '}');
}

/*
 * Renders the answer from the result rows into b. TT_EDB when a sum is not
 * an integer (cannot happen with the schema), TT_ETOOBIG past the limits.
 */
static tt_err
render(const qspec *q, PGresult *res, tt_strbuf *b, char *err, size_t errlen)
{
	int rows = PQntuples(res), base = 1 + q->ngroup;
	measures total;
	char iso[TT_ISO_MAX];

	memset(&total, 0, sizeof(total));
	tt_strbuf_puts(b, "{\"metrics\":[");
	for (int i = 0; i < q->nmetrics; i++) {
		if (i > 0)
			tt_strbuf_putc(b, ',');
		tt_strbuf_json_str(b, qspec_metric_name(q->metrics[i]));
	}
	tt_strbuf_printf(b, "],\"granularity\":\"%s\",\"timeRange\":{\"start\":",
	    qspec_granularity_name(q->granularity));
	tt_iso_format(q->start_ms, iso);
	tt_strbuf_json_str(b, iso);
	tt_iso_format(q->end_ms, iso);
	tt_strbuf_puts(b, ",\"end\":");
	tt_strbuf_json_str(b, iso);
	tt_strbuf_puts(b, "},\"groupBy\":[");
	for (int i = 0; i < q->ngroup; i++) {
		if (i > 0)
			tt_strbuf_putc(b, ',');
		tt_strbuf_json_str(b, qspec_dim_name(q->group[i]));
	}
	tt_strbuf_puts(b, "],\"series\":[");
	for (int r = 0; r < rows; r++) {
		measures x;
		for (int k = 0; k < M_COUNT; k++) {
			const char *s = PQgetvalue(res, r, base + k);
			if (tt_parse_i64(s, strlen(s), INT64_MIN, INT64_MAX, &x.v[k]) != TT_OK)
				return tt_seterr(err, errlen, TT_EDB, "sales_rollups: sum not an integer");
			total.v[k] += x.v[k];
		}
		if (r > 0)
			tt_strbuf_putc(b, ',');
		tt_strbuf_puts(b, "{\"period\":");
		tt_strbuf_json_str(b, PQgetvalue(res, r, 0));
		tt_strbuf_puts(b, ",\"group\":{");
		for (int i = 0; i < q->ngroup; i++) {
			const char *g = PQgetvalue(res, r, 1 + i);
			if (i > 0)
				tt_strbuf_putc(b, ',');
			tt_strbuf_json_str(b, qspec_dim_name(q->group[i]));
			tt_strbuf_putc(b, ':');
			/* '' is the rollups' "absent" (an event without channel...). */
			if (g[0] == '\0')
				tt_strbuf_puts(b, "null");
			else
				tt_strbuf_json_str(b, g);
		}
		tt_strbuf_puts(b, "},\"values\":");
		put_values(b, q, &x);
		tt_strbuf_putc(b, '}');
	}
	tt_strbuf_puts(b, "],\"totals\":");
	put_values(b, q, &total);
	tt_strbuf_putc(b, '}');
	if (tt_strbuf_truncated(b))
		return tt_seterr(err, errlen, TT_ETOOBIG, "answer larger than %u bytes", QUERY_RESPONSE_MAX);
	return TT_OK;
}

static void
h_query(tt_http_req *req, void *udata)
{
	qapi_ctx *ctx = udata;
	const char *params[3 + QSPEC_NDIMS];
	char venue[TT_AUTH_VENUE_MAX], start[TT_ISO_MAX], end[TT_ISO_MAX];
	char ident[IDENT_PLAIN_MAX + 1], err[256], name[48];
	tt_http_details d;
	tt_strbuf sql, out;
	PGconn *conn = NULL;
	PGresult *res = NULL;
	const char *body;
	char *cached = NULL;
	size_t len;
	qspec q;
	int np = 0;
	bool canon;
	tt_err e;

	tt_http_details_init(&d);
	tt_strbuf_init(&sql, 16 * 1024);
	tt_strbuf_init(&out, QUERY_RESPONSE_MAX);
	if (!qapi_require_permission(req, QAPI_PERM_READ))
		goto out;
	body = tt_http_body(req, &len);
	if (!qspec_parse(body, len, &q, &d)) {
		tt_http_respond_invalid(req, &d);
		goto out;
	}
	if (!qapi_resolve_venue(req, q.venue[0] ? q.venue : NULL, venue))
		goto out;

	canon = cache_ident(&q, ident, sizeof(ident));
	if (canon && (cached = qapi_cache_get(req, "query", venue, ident)) != NULL) {
		tt_http_respond_data(req, 200, cached);
		goto out;
	}

	/* Hour rows are whole UTC hours: the one holding start is in range. */
	tt_iso_format(q.granularity == QSPEC_HOUR ?
	    q.start_ms - (((q.start_ms % HOUR_MS) + HOUR_MS) % HOUR_MS) : q.start_ms, start);
	tt_iso_format(q.end_ms, end);
	build_sql(&q, &sql, params, &np, venue, start, end);
	if (tt_strbuf_truncated(&sql)) {
		qapi_fail(req, TT_ETOOBIG, "analytics query failed", "statement too large");
		goto out;
	}
	if ((e = tt_db_acquire(ctx->db, &conn, QAPI_DB_WAIT_MS, err, sizeof(err))) != TT_OK) {
		qapi_fail(req, e, "analytics query failed", err);
		goto out;
	}
	e = tt_db_exec_prepared(conn, stmt_name(&q, name, sizeof(name)), tt_strbuf_str(&sql), np,
	    params, &res, err, sizeof(err));
	tt_db_release(ctx->db, conn, e == TT_ECONN);
	if (e != TT_OK) {
		qapi_fail(req, e, "analytics query failed", err);
		goto out;
	}
	if (PQntuples(res) > QUERY_MAX_POINTS) {
		tt_http_details_add(&d, "timeRange", "the answer would have more than %d points: "
		    "narrow timeRange, use a coarser granularity, fewer groupBy or filters",
		    QUERY_MAX_POINTS);
		tt_http_respond_invalid(req, &d);
		goto out;
	}
	if ((e = render(&q, res, &out, err, sizeof(err))) != TT_OK) {
		qapi_fail(req, e, "analytics query failed", err);
		goto out;
	}
	if (canon)
		qapi_cache_put("query", venue, ident, tt_strbuf_str(&out), QAPI_TTL_METRICS);
	tt_http_respond_data(req, 200, tt_strbuf_str(&out));
out:
	free(cached);
	PQclear(res);
	tt_strbuf_fini(&out);
	tt_strbuf_fini(&sql);
	tt_http_details_fini(&d);
}

tt_err
routes_query_register(tt_http_server *srv, qapi_ctx *ctx)
{
	return tt_http_route(srv, "POST", "/analytics/query", TT_HTTP_PROTECTED, h_query, ctx);
}
