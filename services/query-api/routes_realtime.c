/*
 * routes_realtime.c - GET /analytics/realtime/summary[?venueId=].
 *
 * Today's counters of one venue, UTC day: the Redis hash
 * counter:{venueId}:{YYYY-MM-DD} (fields revenue_cents, sales, traffic)
 * that ingest keeps, one HMGET. When Redis cannot answer, the durable
 * copy in realtime_counters (kept by ingest in the same transaction as the
 * raw events) answers instead; the X-Data-Source header says which did.
 * Revenue travels as integer cents and is printed as an exact decimal
 * with two places (tt_money_format), never through a double.
 */
#include "qapi.h"

#include <stdio.h>
#include <string.h>

#include "tt/log.h"
#include "tt/money.h"
#include "tt/redis.h"
#include "tt/strbuf.h"
#include "tt/strparse.h"
#include "tt/time.h"


/* A counter field: absent = 0, otherwise an integer (string or integer reply). */
static bool
reply_i64(const redisReply *r, int64_t *out)
{
	if (r->type == REDIS_REPLY_NIL) {
		*out = 0;
		return true;
	}
	if (r->type == REDIS_REPLY_INTEGER) {
		*out = r->integer;
		return true;
	}
	if (r->type == REDIS_REPLY_STRING)
		return tt_parse_i64(r->str, r->len, INT64_MIN, INT64_MAX, out) == TT_OK;
	return false;
}

static tt_err
counters_from_redis(const char *venue, const char *day, qapi_counters *c,
    char *err, size_t errlen)
{
	char key[160];
	const char *argv[5];
	tt_redis *r = tt_redis_thread();
	redisReply *rep = NULL;
	tt_err e;

	if (r == NULL)
		return tt_seterr(err, errlen, TT_ECONN, "no redis connection");
	snprintf(key, sizeof(key), "counter:%s:%s", venue, day);
	argv[0] = "HMGET";
	argv[1] = key;
	argv[2] = "revenue_cents";
	argv[3] = "sales";
	argv[4] = "traffic";
	if ((e = tt_redis_cmd(r, &rep, 5, argv, NULL, err, errlen)) != TT_OK)
		return e;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    !reply_i64(rep->element[0], &c->revenue_cents) ||
	    !reply_i64(rep->element[1], &c->sales) ||
	    !reply_i64(rep->element[2], &c->traffic))
		e = tt_seterr(err, errlen, TT_EREDIS, "%s: unexpected counter values", key);
	freeReplyObject(rep);
	return e;
}

static tt_err
counters_from_postgres(qapi_ctx *ctx, const char *venue, const char *day,
    qapi_counters *c, char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT revenue_cents, sales, traffic FROM realtime_counters "
	    "WHERE venue_id = $1 AND day = $2::date";
	const char *params[2] = { venue, day };
	PGconn *conn;
	PGresult *res = NULL;
	tt_err e;

	if ((e = tt_db_acquire(ctx->db, &conn, QAPI_DB_WAIT_MS, err, errlen)) != TT_OK)
		return e;
	e = tt_db_exec(conn, sql, 2, params, &res, err, errlen);
	tt_db_release(ctx->db, conn, e == TT_ECONN);
	if (e != TT_OK)
		return e;
	memset(c, 0, sizeof(*c));
	if (PQntuples(res) == 1) {
		const char *v[3] = { PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2) };
		if (tt_parse_i64(v[0], strlen(v[0]), INT64_MIN, INT64_MAX, &c->revenue_cents) != TT_OK ||
		    tt_parse_i64(v[1], strlen(v[1]), INT64_MIN, INT64_MAX, &c->sales) != TT_OK ||
		    tt_parse_i64(v[2], strlen(v[2]), INT64_MIN, INT64_MAX, &c->traffic) != TT_OK)
			e = tt_seterr(err, errlen, TT_EDB, "realtime_counters: unexpected values");
	}
	PQclear(res);
	return e;
}

tt_err
qapi_read_counters(qapi_ctx *ctx, const char *venue, const char *day,
    qapi_counters *c, const char **source, char *err, size_t errlen)
{
	tt_err e;

	memset(c, 0, sizeof(*c));
	*source = "redis";
	if ((e = counters_from_redis(venue, day, c, err, errlen)) == TT_OK)
		return TT_OK;
	tt_log(TT_LOG_WARN, "realtime counters: redis failed, reading postgres",
	    "error", err, NULL);
	*source = "postgres";
	return counters_from_postgres(ctx, venue, day, c, err, errlen);
}

static void
h_summary(tt_http_req *req, void *udata)
{
	qapi_ctx *ctx = udata;
	char venue[TT_AUTH_VENUE_MAX];
	char day[TT_ISO_MAX], money[TT_MONEY_STR_MAX], err[256], mem[512];
	const char *source;
	qapi_counters c;
	tt_strbuf b;
	tt_err e;

	if (!qapi_require_permission(req, QAPI_PERM_READ) || !qapi_venue_param(req, venue))
		return;
	tt_iso_date(tt_now_ms(), day);
	if ((e = qapi_read_counters(ctx, venue, day, &c, &source, err, sizeof(err))) != TT_OK) {
		qapi_fail(req, e == TT_EDB ? TT_EDB : TT_ECONN, "realtime summary failed", err);
		return;
	}
	tt_money_format(c.revenue_cents, money);
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	tt_strbuf_puts(&b, "{\"venueId\":");
	tt_strbuf_json_str(&b, venue);
	tt_strbuf_printf(&b, ",\"date\":\"%s\",\"todayRevenue\":%s,\"todaySales\":%lld,"
	    "\"currentTraffic\":%lld}", day, money, (long long)c.sales, (long long)c.traffic);
	tt_http_set_header(req, "X-Data-Source", source);
	tt_http_set_header(req, "Cache-Control", "no-store");
	tt_http_respond_data(req, 200, tt_strbuf_str(&b));
}

tt_err
routes_realtime_register(tt_http_server *srv, qapi_ctx *ctx)
{
	return tt_http_route(srv, "GET", "/analytics/realtime/summary", TT_HTTP_PROTECTED,
	    h_summary, ctx);
}
