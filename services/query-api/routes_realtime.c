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

#include "tt/counters.h"
#include "tt/log.h"
#include "tt/money.h"
#include "tt/redis.h"
#include "tt/strbuf.h"
#include "tt/strparse.h"
#include "tt/time.h"


static void
h_summary(tt_http_req *req, void *udata)
{
	qapi_ctx *ctx = udata;
	char venue[TT_AUTH_VENUE_MAX];
	char day[TT_ISO_MAX], money[TT_MONEY_STR_MAX], err[256], mem[512];
	const char *source;
	tt_counters c;
	tt_strbuf b;
	tt_err e;

	if (!qapi_require_permission(req, QAPI_PERM_READ) || !qapi_venue_param(req, venue))
		return;
	tt_iso_date(tt_now_ms(), day);
	if ((e = tt_counters_read(ctx->db, QAPI_DB_WAIT_MS, venue, day, &c, &source, err, sizeof(err))) != TT_OK) {
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
