/*
 * routes_customers.c - customer intelligence from customer_stats:
 *   GET /customers/venue/:venueId/:customerId       profile
 *   GET /customers/venue/:venueId/:customerId/rfm   RFM analysis
 *   GET /analytics/customers/segments[?venueId=]    customers per segment
 *
 * customer_stats holds, per venue and hashed customer id (ingest's
 * HMAC-SHA256, 64 hex), orders, tickets, gross spend and refunds in cents
 * and the first and last purchase. RFM covers the customers of the venue
 * who bought at least once: recency is the number of venue-local calendar
 * days since the last purchase, frequency the orders, monetary the net
 * spend (spend - refunds); the three quintile scores are ntile(5) within
 * the venue as rfm.h describes, and rfm.c names the segment. A customer
 * with refunds only has a profile (segment null) but no RFM analysis (404).
 *
 * Money is printed from integer cents; the average order value is gross
 * spend / orders rounded to the cent (null without orders). The scores
 * depend on every customer of the venue, so the aggregator computes them
 * whenever the venue's customer_stats change, in the same transaction
 * (customer_rfm, customer_rfm_counts; docs/query-and-customers.md): a read
 * is one primary-key lookup, whatever the size of the venue.
 */
#include "qapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rfm.h"
#include "tt/log.h"
#include "tt/money.h"
#include "tt/strbuf.h"
#include "tt/strparse.h"
#include "tt/time.h"

#define CUSTOMER_HASH_LEN 64

/*
 * The customer's row, the venue's zone (for the recency in days) and the
 * customer's RFM scores, which the aggregator keeps in customer_rfm
 * (0 when the customer has no purchase, hence no scores).
 */
static const char customer_sql[] =
    "SELECT c.orders::text, c.tickets::text, c.spend_cents::text, c.refund_cents::text,"
    " coalesce((extract(epoch FROM c.first_purchase) * 1000)::bigint::text, ''),"
    " coalesce((extract(epoch FROM c.last_purchase) * 1000)::bigint::text, ''),"
    " coalesce(s.r, 0)::text, coalesce(s.f, 0)::text, coalesce(s.m, 0)::text,"
    " coalesce(((now() AT TIME ZONE z.tz)::date - (c.last_purchase AT TIME ZONE z.tz)::date)::text, '')"
    " FROM customer_stats c"
    " CROSS JOIN (SELECT coalesce((SELECT timezone FROM venues v WHERE v.venue_id = $1), 'UTC') AS tz) z"
    " LEFT JOIN customer_rfm s ON s.venue_id = c.venue_id AND s.customer_hash = c.customer_hash"
    " WHERE c.venue_id = $1 AND c.customer_hash = $2";

/* Customers per RFM score triple (customer_rfm_counts, kept by the aggregator). */
static const char segments_sql[] = RFM_SQL_COUNTS;

enum { C_ORDERS, C_TICKETS, C_SPEND, C_REFUND, C_FIRST, C_LAST, C_R, C_F, C_M, C_RECENCY, C_COLS };

typedef struct {
	int64_t v[C_COLS];   /* C_FIRST, C_LAST, C_RECENCY: -1 when absent */
} customer_row;

/* Parses column i of row r: "" is -1 (absent). */
static bool
col_i64(PGresult *res, int r, int i, int64_t *out)
{
	const char *s = PQgetvalue(res, r, i);
	size_t n = strlen(s);

	if (n == 0) {
		*out = -1;
		return true;
	}
	return tt_parse_i64(s, n, INT64_MIN, INT64_MAX, out) == TT_OK;
}

/* Runs sql with params; *res on success. */
static tt_err
run(qapi_ctx *ctx, const char *name, const char *sql, int np, const char *const *params,
    PGresult **res, char *err, size_t errlen)
{
	PGconn *conn;
	tt_err e;

	if ((e = tt_db_acquire(ctx->db, &conn, QAPI_DB_WAIT_MS, err, errlen)) != TT_OK)
		return e;
	e = tt_db_exec_prepared(conn, name, sql, np, params, res, err, errlen);
	tt_db_release(ctx->db, conn, e == TT_ECONN);
	return e;
}

/*
 * The venue of the path (403/400 sent when not allowed) and the customer id
 * lower-cased into hash (400 sent unless it is 64 hex characters).
 */
static bool
customer_target(tt_http_req *req, char venue[TT_AUTH_VENUE_MAX], char hash[CUSTOMER_HASH_LEN + 1])
{
	const char *id = tt_http_param(req, "customerId");
	size_t n = id != NULL ? strlen(id) : 0;

	if (!qapi_resolve_venue(req, tt_http_param(req, "venueId"), venue))
		return false;
	for (size_t i = 0; i < n && n == CUSTOMER_HASH_LEN; i++) {
		char c = id[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			n = 0;
			break;
		}
		hash[i] = c;
	}
	if (n != CUSTOMER_HASH_LEN) {
		tt_http_details d;
		tt_http_details_init(&d);
		tt_http_details_add(&d, "customerId",
		    "must be the hashed customer id: 64 hexadecimal characters");
		tt_http_respond_invalid(req, &d);
		tt_http_details_fini(&d);
		return false;
	}
	hash[CUSTOMER_HASH_LEN] = '\0';
	return true;
}

/*
 * Reads the customer: TT_OK with *found, or a tt_db error (detail in err).
 */
static tt_err
customer_load(qapi_ctx *ctx, const char *venue, const char *hash, customer_row *c,
    bool *found, char *err, size_t errlen)
{
	const char *params[2] = { venue, hash };
	PGresult *res = NULL;
	tt_err e;

	*found = false;
	if ((e = run(ctx, "qapi_customer", customer_sql, 2, params, &res, err, errlen)) != TT_OK)
		return e;
	if (PQntuples(res) == 1) {
		for (int i = 0; i < C_COLS; i++) {
			if (!col_i64(res, 0, i, &c->v[i])) {
				e = tt_seterr(err, errlen, TT_EDB, "customer_stats: unexpected value");
				break;
			}
		}
		*found = e == TT_OK;
	}
	PQclear(res);
	return e;
}

static void
put_money(tt_strbuf *b, int64_t cents)
{
	char money[TT_MONEY_STR_MAX];

	tt_money_format(cents, money);
	tt_strbuf_puts(b, money);
}

static void
put_instant(tt_strbuf *b, int64_t ms)
{
	char iso[TT_ISO_MAX];

	if (ms < 0) {
		tt_strbuf_puts(b, "null");
		return;
	}
	tt_iso_format(ms, iso);
	tt_strbuf_json_str(b, iso);
}

/* The segment name as JSON (null for a customer without purchases). */
static void
put_segment(tt_strbuf *b, const customer_row *c)
{
	rfm_segment s;

	if (rfm_segment_of((int)c->v[C_R], (int)c->v[C_F], (int)c->v[C_M], &s))
		tt_strbuf_json_str(b, rfm_segment_name(s));
	else
		tt_strbuf_puts(b, "null");
}

/* Shared by the profile and RFM handlers: mode 0 = profile, 1 = rfm. */
static void
customer_answer(tt_http_req *req, qapi_ctx *ctx, int mode)
{
	const char *type = mode == 0 ? "customer" : "rfm";
	char venue[TT_AUTH_VENUE_MAX], hash[CUSTOMER_HASH_LEN + 1], err[256], mem[2048];
	customer_row c;
	char *cached;
	bool found;
	tt_strbuf b;
	int64_t avg;
	tt_err e;

	if (!qapi_require_permission(req, QAPI_PERM_READ))
		return;
	if (!customer_target(req, venue, hash))
		return;
	if ((cached = qapi_cache_get(req, type, venue, hash)) != NULL) {
		tt_http_respond_data(req, 200, cached);
		free(cached);
		return;
	}
	if ((e = customer_load(ctx, venue, hash, &c, &found, err, sizeof(err))) != TT_OK) {
		qapi_fail(req, e, mode == 0 ? "customer profile failed" : "customer rfm failed", err);
		return;
	}
	if (!found) {
		tt_http_respond_error(req, 404, "NOT_FOUND", "Customer not found", NULL);
		return;
	}
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	tt_strbuf_puts(&b, "{\"customerId\":");
	tt_strbuf_json_str(&b, hash);
	if (mode == 0) {
		tt_strbuf_puts(&b, ",\"totalSpent\":");
		put_money(&b, c.v[C_SPEND] - c.v[C_REFUND]);
		tt_strbuf_printf(&b, ",\"totalTickets\":%lld,\"totalOrders\":%lld,\"averageOrderValue\":",
		    (long long)c.v[C_TICKETS], (long long)c.v[C_ORDERS]);
		if (rfm_avg_cents(c.v[C_SPEND], c.v[C_ORDERS], &avg))
			put_money(&b, avg);
		else
			tt_strbuf_puts(&b, "null");
		tt_strbuf_puts(&b, ",\"firstPurchase\":");
		put_instant(&b, c.v[C_FIRST]);
		tt_strbuf_puts(&b, ",\"lastPurchase\":");
		put_instant(&b, c.v[C_LAST]);
		tt_strbuf_puts(&b, ",\"segment\":");
		put_segment(&b, &c);
		tt_strbuf_putc(&b, '}');
	} else {
		if (c.v[C_R] < 1) {
			tt_http_respond_error(req, 404, "NOT_FOUND",
			    "Customer has no purchases at this venue", NULL);
			return;
		}
		tt_strbuf_printf(&b, ",\"recency\":%lld,\"frequency\":%lld,\"monetary\":",
		    (long long)c.v[C_RECENCY], (long long)c.v[C_ORDERS]);
		put_money(&b, c.v[C_SPEND] - c.v[C_REFUND]);
		tt_strbuf_printf(&b, ",\"recencyScore\":%lld,\"frequencyScore\":%lld,"
		    "\"monetaryScore\":%lld,\"segment\":",
		    (long long)c.v[C_R], (long long)c.v[C_F], (long long)c.v[C_M]);
		put_segment(&b, &c);
		tt_strbuf_puts(&b, ",\"lastPurchase\":");
		put_instant(&b, c.v[C_LAST]);
		tt_strbuf_putc(&b, '}');
	}
	qapi_cache_put(type, venue, hash, tt_strbuf_str(&b),
	    mode == 0 ? QAPI_TTL_CUSTOMER_PROFILE : QAPI_TTL_INSIGHTS);
	tt_http_respond_data(req, 200, tt_strbuf_str(&b));
}

static void
h_profile(tt_http_req *req, void *udata)
{
	customer_answer(req, udata, 0);
}

static void
h_rfm(tt_http_req *req, void *udata)
{
	customer_answer(req, udata, 1);
}

static void
h_segments(tt_http_req *req, void *udata)
{
	qapi_ctx *ctx = udata;
	char venue[TT_AUTH_VENUE_MAX], err[256], mem[4096];
	int64_t count[RFM_SEGMENTS] = { 0 }, total = 0;
	const char *params[1];
	PGresult *res = NULL;
	char *cached;
	tt_strbuf b;
	tt_err e;

	if (!qapi_require_permission(req, QAPI_PERM_READ))
		return;
	if (!qapi_venue_param(req, venue))
		return;
	if ((cached = qapi_cache_get(req, "segments", venue, "all")) != NULL) {
		tt_http_respond_data(req, 200, cached);
		free(cached);
		return;
	}
	params[0] = venue;
	if ((e = run(ctx, "qapi_segments", segments_sql, 1, params, &res, err, sizeof(err))) != TT_OK) {
		qapi_fail(req, e, "customer segments failed", err);
		return;
	}
	if (PQntuples(res) > 1 ||
	    (PQntuples(res) == 1 && !rfm_counts_add(PQgetvalue(res, 0, 0), count, &total))) {
		PQclear(res);
		qapi_fail(req, TT_EDB, "customer segments failed", "unexpected scores");
		return;
	}
	PQclear(res);

	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	tt_strbuf_puts(&b, "{\"segments\":[");
	for (int i = 0; i < RFM_SEGMENTS; i++) {
		char pct[TT_MONEY_STR_MAX];
		/* Hundredths of a percent print like cents: 3333 -> 33.33. */
		tt_money_format(rfm_percent_hundredths(count[i], total), pct);
		tt_strbuf_puts(&b, i ? ",{\"segment\":" : "{\"segment\":");
		tt_strbuf_json_str(&b, rfm_segment_name((rfm_segment)i));
		tt_strbuf_printf(&b, ",\"customers\":%lld,\"percentage\":%s}", (long long)count[i], pct);
	}
	tt_strbuf_printf(&b, "],\"total\":%lld}", (long long)total);
	qapi_cache_put("segments", venue, "all", tt_strbuf_str(&b), QAPI_TTL_INSIGHTS);
	tt_http_respond_data(req, 200, tt_strbuf_str(&b));
}

tt_err
routes_customers_register(tt_http_server *srv, qapi_ctx *ctx)
{
	tt_err e;

	if ((e = tt_http_route(srv, "GET", "/customers/venue/:venueId/:customerId",
	    TT_HTTP_PROTECTED, h_profile, ctx)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/customers/venue/:venueId/:customerId/rfm",
	    TT_HTTP_PROTECTED, h_rfm, ctx)) != TT_OK ||
	    (e = tt_http_route(srv, "GET", "/analytics/customers/segments",
	    TT_HTTP_PROTECTED, h_segments, ctx)) != TT_OK)
		return e;
	return TT_OK;
}
