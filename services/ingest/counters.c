/*
 * counters.c - the real-time copies of the durable day counters.
 *
 * PostgreSQL's realtime_counters is the truth; Redis holds a copy per venue
 * and UTC day in the hash counter:{venueId}:{day} {revenue_cents, sales,
 * traffic, version}. Every write is gated by version inside a Lua script,
 * so copies that arrive late or twice (from this process, another replica
 * or the reconcile) can never move a counter backwards. For today the
 * seed's plain keys realtime:{venueId}:{revenue|sales|traffic} are kept too.
 */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/log.h"
#include "tt/money.h"
#include "tt/strbuf.h"
#include "tt/time.h"

#define COUNTER_TTL_SECONDS "259200"   /* 3 days */

static const char push_script[] =
    "local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')\n"
    "if tonumber(ARGV[1]) <= v then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'version', ARGV[1], 'revenue_cents', ARGV[2],"
    " 'sales', ARGV[3], 'traffic', ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
    "if ARGV[6] == '1' then\n"
    "  redis.call('SET', KEYS[2], ARGV[7], 'EX', ARGV[5])\n"
    "  redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[5])\n"
    "  redis.call('SET', KEYS[4], ARGV[4], 'EX', ARGV[5])\n"
    "end\n"
    "return 1\n";

#define PUSH_ARGS 14

tt_err
counters_push(ingest_ctx *ctx, const counter_row *rows, int n)
{
	char today[TT_ISO_MAX], err[256];
	const char **argvs[64];
	int argcs[64];
	redisReply *replies[64];
	/*
	 * Per-command storage for one chunk of 64 commands, on the heap: it is
	 * too big for a thread stack and, as thread-local storage, it would
	 * count against the stack of every thread (civetweb's are 100 KiB).
	 */
	struct push_bufs {
		char        bufs[64][9][160];
		const char *argv_store[64][PUSH_ARGS];
	} *pb;
	tt_err e = TT_OK;

	if (n == 0)
		return TT_OK;
	if ((pb = malloc(sizeof(*pb))) == NULL)
		return TT_ENOMEM;
	tt_iso_date(tt_now_ms(), today);
	for (int base = 0; base < n; base += 64) {
		int k = n - base < 64 ? n - base : 64;
		for (int j = 0; j < k; j++) {
			const counter_row *r = &rows[base + j];
			char (*b)[160] = pb->bufs[j];
			snprintf(b[0], 160, "counter:%s:%s", r->venue_id, r->day);
			snprintf(b[1], 160, "realtime:%s:revenue", r->venue_id);
			snprintf(b[2], 160, "realtime:%s:sales", r->venue_id);
			snprintf(b[3], 160, "realtime:%s:traffic", r->venue_id);
			snprintf(b[4], 160, "%lld", (long long)r->version);
			snprintf(b[5], 160, "%lld", (long long)r->revenue_cents);
			snprintf(b[6], 160, "%lld", (long long)r->sales);
			snprintf(b[7], 160, "%lld", (long long)r->traffic);
			tt_money_format(r->revenue_cents, b[8]);
			const char **a = pb->argv_store[j];
			a[0] = "EVAL"; a[1] = push_script; a[2] = "4";
			a[3] = b[0]; a[4] = b[1]; a[5] = b[2]; a[6] = b[3];
			a[7] = b[4]; a[8] = b[5]; a[9] = b[6]; a[10] = b[7];
			a[11] = COUNTER_TTL_SECONDS;
			a[12] = strcmp(r->day, today) == 0 ? "1" : "0";
			a[13] = b[8];   /* the plain revenue key holds the decimal amount */
			argvs[j] = a;
			argcs[j] = PUSH_ARGS;
		}
		e = tt_redis_pipeline(ctx->redis, k, argcs, argvs, NULL, replies, err, sizeof(err));
		if (e != TT_OK) {
			tt_metric_inc(ctx->m.redis_errors);
			ctx->redis_up = 0;
			tt_log(TT_LOG_WARN, "redis counter push failed; reconcile will repair",
			    "error", err, NULL);
			free(pb);
			return e;
		}
		for (int j = 0; j < k; j++)
			freeReplyObject(replies[j]);
	}
	free(pb);
	ctx->redis_up = 1;
	return TT_OK;
}

static void
publish_metric(ingest_ctx *ctx, const counter_row *r, const char *type,
    int64_t cur, int64_t delta, bool money)
{
	char json[512], curs[TT_MONEY_STR_MAX], prevs[TT_MONEY_STR_MAX], chs[TT_MONEY_STR_MAX];
	int64_t prev = cur - delta;
	double pct = prev > 0 ? (double)delta * 100.0 / (double)prev : 0.0;
	const char *trend = delta > 0 ? "up" : delta < 0 ? "down" : "stable";

	if (money) {
		tt_money_format(cur, curs);
		tt_money_format(prev, prevs);
		tt_money_format(delta, chs);
	} else {
		snprintf(curs, sizeof(curs), "%lld", (long long)cur);
		snprintf(prevs, sizeof(prevs), "%lld", (long long)prev);
		snprintf(chs, sizeof(chs), "%lld", (long long)delta);
	}
	int len = snprintf(json, sizeof(json),
	    "{\"type\":\"%s\",\"venueId\":\"%s\",\"day\":\"%s\",\"data\":{"
	    "\"currentValue\":%s,\"previousValue\":%s,\"change\":%s,"
	    "\"changePercent\":%.4f,\"trend\":\"%s\"}}",
	    type, r->venue_id, r->day, curs, prevs, chs, pct, trend);
	if (len > 0 && (size_t)len < sizeof(json))
		tt_bus_publish(ctx->pub, "metric", r->venue_id, json, (size_t)len);
}

void
counters_publish(ingest_ctx *ctx, const counter_row *rows, int n)
{
	if (ctx->pub == NULL)
		return;
	for (int i = 0; i < n; i++) {
		const counter_row *r = &rows[i];
		if (r->d_revenue_cents != 0)
			publish_metric(ctx, r, "revenue", r->revenue_cents, r->d_revenue_cents, true);
		if (r->d_sales != 0)
			publish_metric(ctx, r, "sales", r->sales, r->d_sales, false);
		publish_metric(ctx, r, "traffic", r->traffic, r->d_traffic, false);
	}
}

tt_err
counters_reconcile(ingest_ctx *ctx, char *err, size_t errlen)
{
	PGconn *conn;
	PGresult *res = NULL;
	counter_row *rows = NULL;
	tt_err e;

	if ((e = tt_db_acquire(ctx->db, &conn, 5000, err, errlen)) != TT_OK)
		return e;
	e = tt_db_exec(conn,
	    "SELECT venue_id, day::text, revenue_cents, sales, traffic, version"
	    " FROM realtime_counters"
	    " WHERE day >= (now() AT TIME ZONE 'UTC')::date - 1",
	    0, NULL, &res, err, errlen);
	tt_db_release(ctx->db, conn, e == TT_ECONN);
	if (e != TT_OK)
		return e;

	int n = PQntuples(res);
	rows = calloc((size_t)n + 1, sizeof(*rows));
	if (rows == NULL) {
		PQclear(res);
		return TT_ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		snprintf(rows[i].venue_id, sizeof(rows[i].venue_id), "%s", PQgetvalue(res, i, 0));
		snprintf(rows[i].day, sizeof(rows[i].day), "%s", PQgetvalue(res, i, 1));
		rows[i].revenue_cents = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		rows[i].sales = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		rows[i].traffic = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		rows[i].version = strtoll(PQgetvalue(res, i, 5), NULL, 10);
	}
	PQclear(res);
	e = counters_push(ctx, rows, n);
	free(rows);
	if (e == TT_OK) {
		tt_metric_inc(ctx->m.reconciles);
		tt_log(TT_LOG_DEBUG, "counters reconciled", NULL);
	} else {
		tt_seterr(err, errlen, e, "redis unavailable");
	}
	return e;
}
