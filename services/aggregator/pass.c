/*
 * pass.c - one incremental pass, one rebuild, and the loop that runs passes.
 *
 * A pass is one transaction: advisory lock, watermark span, keys of the
 * buckets touched by rows received in the span, recompute, the dashboard
 * periods of the touched venues and of the periods that ended, new
 * watermark, commit. Either all of it lands or none of it (a failed pass is rolled
 * back and the next one covers the same span), so the rollups are always
 * the exact function of the raw rows up to a watermark.
 */
#include "aggregator.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tt/log.h"
#include "tt/time.h"

#define ACQUIRE_TIMEOUT_MS 5000

static void
rollback(PGconn *conn)
{
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		(void)tt_db_exec(conn, "ROLLBACK", 0, NULL, NULL, NULL, 0);
}

static void
counts_log(const char *msg, const rollup_counts *c, double ms)
{
	char h[24], d[24], cu[24], ev[24], t[32];

	snprintf(h, sizeof(h), "%lld", (long long)c->hours);
	snprintf(d, sizeof(d), "%lld", (long long)c->days);
	snprintf(cu, sizeof(cu), "%lld", (long long)c->customers);
	snprintf(ev, sizeof(ev), "%lld", (long long)c->events);
	snprintf(t, sizeof(t), "%.1f", ms);
	tt_log(TT_LOG_INFO, msg, "hours", h, "days", d, "customers", cu, "events", ev,
	    "ms", t, NULL);
}

tt_err
pass_run_once(agg_ctx *ctx, int *worked, rollup_counts *counts, char *err, size_t errlen)
{
	PGconn *conn = NULL;
	watermark_span span;
	rollup_counts c = { 0, 0, 0, 0 };
	PGresult *touched = NULL;   /* venues to invalidate in query-api's cache */
	int64_t late = 0;
	int got = 0;
	tt_err e;

	if ((e = tt_db_acquire(ctx->db, &conn, ACQUIRE_TIMEOUT_MS, err, errlen)) != TT_OK)
		return e;
	if ((e = rollup_conn_setup(conn, err, errlen)) != TT_OK ||
	    (e = tt_db_exec(conn, "BEGIN", 0, NULL, NULL, err, errlen)) != TT_OK ||
	    (e = watermark_try_lock(conn, &got, err, errlen)) != TT_OK)
		goto out;
	if (!got) {
		double lag;
		rollback(conn);
		if (watermark_lag(conn, &lag, err, errlen) == TT_OK)
			tt_metric_set(ctx->m.lag_seconds, lag);
		*worked = 0;
		goto out;
	}
	if ((e = watermark_span_read(conn, ctx->cfg->aggregator_late_window_hours, &span,
	    err, errlen)) != TT_OK ||
	    (e = rollup_keys_changed(conn, span.lo, span.hi, span.cutoff, err, errlen)) != TT_OK ||
	    (e = watermark_count_late(conn, &span, &late, err, errlen)) != TT_OK ||
	    (e = rollup_recompute(conn, ctx->few_keys_max, &c, err, errlen)) != TT_OK ||
	    (e = dashboard_refresh(conn, err, errlen)) != TT_OK ||
	    (e = watermark_advance(conn, &span, err, errlen)) != TT_OK ||
	    (e = invalidate_collect(conn, &touched, err, errlen)) != TT_OK ||
	    (e = tt_db_exec(conn, "COMMIT", 0, NULL, NULL, err, errlen)) != TT_OK)
		goto out;
	/* Committed: now cached answers of these venues may be recomputed. */
	invalidate_send(ctx, touched);
	touched = NULL;
	if (late > 0) {
		char n[24];
		snprintf(n, sizeof(n), "%lld", (long long)late);
		tt_log(TT_LOG_WARN, "raw events older than the late window not rolled up (use --rebuild)",
		    "count", n, NULL);
		tt_metric_add(ctx->m.late_ignored, (double)late);
	}
	double lag;
	if (watermark_lag(conn, &lag, err, errlen) == TT_OK)
		tt_metric_set(ctx->m.lag_seconds, lag);
	*worked = 1;
	*counts = c;
out:
	PQclear(touched);
	if (conn != NULL) {
		rollback(conn);
		tt_db_release(ctx->db, conn, e == TT_ECONN);
	}
	return e;
}

/* Sleeps ms in small steps, returning early when asked to stop. */
static void
sleep_unless_stopped(agg_ctx *ctx, int64_t ms)
{
	while (ms > 0 && !ctx->stop) {
		int64_t step = ms < 50 ? ms : 50;
		struct timespec ts = { (time_t)(step / 1000), (long)(step % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

int
pass_loop(agg_ctx *ctx)
{
	char err[512];

	while (!ctx->stop) {
		double t0 = tt_mono_sec();
		rollup_counts c = { 0, 0, 0, 0 };
		int worked = 0;
		tt_err e = pass_run_once(ctx, &worked, &c, err, sizeof(err));
		double secs = tt_mono_sec() - t0;

		if (e != TT_OK) {
			tt_metric_inc(ctx->m.errors);
			tt_log(TT_LOG_ERROR, "pass failed (rolled back; retried next interval)",
			    "error", err, NULL);
		} else if (!worked) {
			tt_metric_inc(ctx->m.passes_skipped);
		} else {
			int64_t n = c.hours + c.days + c.customers + c.events;
			tt_metric_inc(ctx->m.passes);
			tt_metric_observe(ctx->m.pass_seconds, secs);
			tt_metric_add(ctx->m.buckets, (double)n);
			if (n > 0)
				counts_log("pass", &c, secs * 1000.0);
		}
		int64_t left = ctx->cfg->aggregator_interval_ms - (int64_t)(secs * 1000.0);
		sleep_unless_stopped(ctx, left);
	}
	return 0;
}

tt_err
pass_rebuild(agg_ctx *ctx, const char *venue, const char *from, const char *to,
    rollup_counts *counts, char *err, size_t errlen)
{
	PGconn *conn = NULL;
	rollup_counts c = { 0, 0, 0, 0 };
	PGresult *touched = NULL;   /* venues to invalidate in query-api's cache */
	tt_err e;

	if ((e = tt_db_acquire(ctx->db, &conn, ACQUIRE_TIMEOUT_MS, err, errlen)) != TT_OK)
		return e;
	if ((e = rollup_conn_setup(conn, err, errlen)) != TT_OK ||
	    (e = tt_db_exec(conn, "BEGIN", 0, NULL, NULL, err, errlen)) != TT_OK ||
	    (e = watermark_lock(conn, err, errlen)) != TT_OK ||
	    (e = rollup_keys_range(conn, venue, from, to, err, errlen)) != TT_OK ||
	    (e = rollup_recompute(conn, ctx->few_keys_max, &c, err, errlen)) != TT_OK ||
	    (e = dashboard_refresh(conn, err, errlen)) != TT_OK ||
	    (e = invalidate_collect(conn, &touched, err, errlen)) != TT_OK ||
	    (e = tt_db_exec(conn, "COMMIT", 0, NULL, NULL, err, errlen)) != TT_OK)
		goto out;
	/* Committed: now cached answers of these venues may be recomputed. */
	invalidate_send(ctx, touched);
	touched = NULL;
	*counts = c;
out:
	PQclear(touched);
	rollback(conn);
	tt_db_release(ctx->db, conn, e == TT_ECONN);
	return e;
}
