/*
 * aggregator.h - the modules of the aggregator and what they share.
 *
 * The aggregator turns raw_events into the rollup tables of migration 0003
 * (sales_rollups hour/day, customer_stats, event_stats, event_catalog), the
 * read models of migration 0004 (sales_daily, customer_rfm,
 * customer_rfm_counts) and the seed's venue_analytics and
 * analytics_aggregations (per local day).
 * Every rollup row is recomputed whole from raw_events (never incremented),
 * so an incremental pass and a rebuild run the same SQL and give the same
 * rows. docs/aggregator.md is the design note.
 *
 *   rollup.c     the key tables and the recompute statements (pure SQL)
 *   watermark.c  the advisory lock and aggregator_state (progress)
 *   pass.c       one incremental pass, one rebuild, the periodic loop
 *   health.c     /health*, /metrics on AGGREGATOR_HEALTH_PORT
 *   invalidate.c after a commit, bumps query-api's cache version of each
 *                venue the pass touched (Redis, best effort)
 */
#ifndef AGGREGATOR_H
#define AGGREGATOR_H

#include <libpq-fe.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/config.h"
#include "tt/db.h"
#include "tt/error.h"
#include "tt/metrics.h"
#include "tt/redis.h"

#define AGGREGATOR_VERSION "0.1.0"

typedef struct {
	tt_metric *passes;         /* incremental passes committed */
	tt_metric *passes_skipped; /* passes that found the lock held by a replica */
	tt_metric *errors;         /* passes that failed (rolled back, retried) */
	tt_metric *buckets;        /* buckets recomputed */
	tt_metric *late_ignored;   /* raw events outside the late window */
	tt_metric *pass_seconds;   /* duration of one pass */
	tt_metric *lag_seconds;    /* now - watermark */
	tt_metric *cache_invalidations;       /* venue cache versions bumped */
	tt_metric *cache_invalidation_errors; /* bumps lost to a Redis failure */
} agg_metrics;

typedef struct {
	const tt_config       *cfg;
	tt_db                 *db;
	tt_redis              *redis;   /* cache invalidation only (invalidate.c) */
	agg_metrics            m;
	int64_t                few_keys_max; /* ROLLUP_FEW_KEYS_MAX or --few-keys */
	volatile sig_atomic_t  stop;
} agg_ctx;

/*
 * Up to this many keys of a kind (hours, days, customers, shows), a pass
 * or rebuild recomputes them key by key through the partial indexes of
 * raw_events; beyond it, with hash joins over the raw store (rollup.c).
 * --few-keys N overrides it (docs/aggregator.md has the measurements).
 */
#define ROLLUP_FEW_KEYS_MAX 20000

/* Buckets recomputed by one pass or rebuild, per kind. */
typedef struct {
	int64_t hours, days, customers, events;
} rollup_counts;

/* ------------------------------------------------------------------ stmt.c */

/* A named prepared statement of the aggregator. */
typedef struct {
	const char *name;
	const char *sql;
	int         nparams;
} agg_stmt;

/*
 * Prepares on conn each statement of list that is not prepared there yet.
 * Call outside a transaction: tt_db_exec_prepared's lazy preparation
 * cannot run inside one (the failed first EXECUTE aborts it).
 */
tt_err agg_stmts_prepare(PGconn *conn, const agg_stmt *list, size_t n, char *err, size_t errlen);

/* Runs a statement of the list by name (prepared by agg_stmts_prepare). */
tt_err agg_stmt_exec(PGconn *conn, const agg_stmt *s, const char *const *params,
    PGresult **res, char *err, size_t errlen);

/* ---------------------------------------------------------------- rollup.c */

/* The statements of rollup.c and watermark.c, for agg_stmts_prepare. */
extern const agg_stmt rollup_stmts[];
extern const size_t rollup_nstmts;
extern const agg_stmt watermark_stmts[];
extern const size_t watermark_nstmts;

/*
 * Makes sure this connection has the key tables (temporary, emptied at
 * each commit or rollback) and every prepared statement. Call outside a
 * transaction, right after acquiring the connection.
 */
tt_err rollup_conn_setup(PGconn *conn, char *err, size_t errlen);

/*
 * Fills the key tables with the buckets touched by raw rows received in
 * (lo, hi], leaving out hour and day buckets that end at or before cutoff
 * (the late window). Times are timestamptz text.
 */
tt_err rollup_keys_changed(PGconn *conn, const char *lo, const char *hi,
    const char *cutoff, char *err, size_t errlen);

/*
 * Fills the key tables with every bucket that intersects [from, to) for
 * venue (""= every venue): from raw rows and from existing rollup rows (so
 * rows whose raw events are gone are deleted). from/to may be "-infinity"
 * and "infinity".
 */
tt_err rollup_keys_range(PGconn *conn, const char *venue, const char *from,
    const char *to, char *err, size_t errlen);

/*
 * Deletes and recomputes from raw_events every bucket in the key tables,
 * a kind with at most few_keys_max keys through index lookups, a larger
 * one with hash joins (the same rows either way); *counts receives the
 * number of keys of each kind.
 */
tt_err rollup_recompute(PGconn *conn, int64_t few_keys_max, rollup_counts *counts,
    char *err, size_t errlen);

/* ------------------------------------------------------------- dashboard.c */

extern const agg_stmt dashboard_stmts[];
extern const size_t dashboard_nstmts;

/*
 * Inside the caller's transaction, after rollup_recompute: recomputes
 * dashboard_periods and dashboard_tops for every period of the venues in
 * the key tables and for every stored period that has ended.
 */
tt_err dashboard_refresh(PGconn *conn, char *err, size_t errlen);

/* ------------------------------------------------------------- watermark.c */

typedef struct {
	char   lo[64];      /* watermark - rescan slack */
	char   watermark[64];
	char   hi[64];      /* now() - commit-lag slack: the new watermark */
	char   cutoff[64];  /* now() - late window */
	double lag_seconds; /* now() - watermark, before this pass */
} watermark_span;

/*
 * Tries the aggregator's transaction-scoped advisory lock; *got = 1 when
 * this session holds it until the transaction ends.
 */
tt_err watermark_try_lock(PGconn *conn, int *got, char *err, size_t errlen);

/* Waits for the same lock (rebuilds). */
tt_err watermark_lock(PGconn *conn, char *err, size_t errlen);

/* Reads the watermark and computes the span of the next pass. */
tt_err watermark_span_read(PGconn *conn, int late_window_hours,
    watermark_span *span, char *err, size_t errlen);

/* Counts raw sales rows received in (watermark, hi] outside the late window. */
tt_err watermark_count_late(PGconn *conn, const watermark_span *span,
    int64_t *n, char *err, size_t errlen);

/* Sets the watermark to span->hi (never moves it backwards). */
tt_err watermark_advance(PGconn *conn, const watermark_span *span, char *err, size_t errlen);

/* Seconds between now() and the stored watermark (epoch when absent). */
tt_err watermark_lag(PGconn *conn, double *lag, char *err, size_t errlen);

/* ------------------------------------------------------------------ pass.c */

/*
 * One incremental pass in one transaction. *worked = 0 when another
 * replica held the lock. Errors are logged by the caller.
 */
tt_err pass_run_once(agg_ctx *ctx, int *worked, rollup_counts *counts,
    char *err, size_t errlen);

/* Runs passes every AGGREGATOR_INTERVAL_MS until ctx->stop; returns 0. */
int pass_loop(agg_ctx *ctx);

/* Recomputes every bucket in range in one transaction (waits for the lock). */
tt_err pass_rebuild(agg_ctx *ctx, const char *venue, const char *from,
    const char *to, rollup_counts *counts, char *err, size_t errlen);

/* ------------------------------------------------------------ invalidate.c */

/*
 * The venues in the key tables (call inside the pass's transaction, before
 * COMMIT empties them); *venues is a result to hand to invalidate_send.
 */
tt_err invalidate_collect(PGconn *conn, PGresult **venues, char *err, size_t errlen);

/*
 * After COMMIT: INCR cache:version:{venue} for each venue of the result
 * (then cleared; NULL ok). Never fails: Redis errors are logged and counted.
 */
void invalidate_send(agg_ctx *ctx, PGresult *venues);

/* ---------------------------------------------------------------- health.c */

void *health_start(agg_ctx *ctx);
void health_stop(void *h);

#endif
