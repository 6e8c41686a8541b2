/*
 * ingest.h - the pieces of the ingest binary and the context they share.
 *
 * Flow of one batch (consumer.c): deliveries from RabbitMQ -> tt_event_parse
 * -> invalid ones re-published to the dead-letter exchange with the reason
 * (dead_letter.c) -> valid ones written in one statement that dedups by id,
 * stores the raw rows and bumps the durable day counters (batch_writer.c)
 * -> ack of the whole batch -> the new counter values pushed to Redis and
 * published on nng (counters.c). Redis and nng are updated after the ack:
 * they may lag or miss an update, never double one, and the periodic
 * reconcile copies the durable counters over them.
 */
#ifndef INGEST_H
#define INGEST_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "tt/amqp.h"
#include "tt/bus.h"
#include "tt/config.h"
#include "tt/db.h"
#include "tt/event.h"
#include "tt/metrics.h"
#include "tt/redis.h"

/* One day counter of one venue after a commit (realtime_counters row). */
typedef struct {
	char    venue_id[TT_EVENT_VENUE_MAX + 1];
	char    day[11];            /* YYYY-MM-DD, UTC */
	int64_t revenue_cents, sales, traffic, version;
	int64_t d_revenue_cents, d_sales, d_traffic;  /* what this batch added */
} counter_row;

typedef struct {
	tt_metric *received, *stored, *duplicates, *dead_lettered;
	tt_metric *batches, *batch_seconds, *batch_size, *db_errors;
	tt_metric *redis_errors, *amqp_reconnects, *queue_depth, *reconciles;
} ingest_metrics;

typedef struct {
	const tt_config *cfg;
	tt_db           *db;
	tt_redis        *redis;      /* consumer thread only */
	tt_bus          *pub;
	ingest_metrics   m;
	volatile sig_atomic_t stop;
	volatile int     amqp_up, db_up, redis_up;   /* for /health/ready */
	int64_t          next_reconcile_ms;
} ingest_ctx;

/* ---- batch_writer.c ---- */

/* One valid event of a batch and what became of it. */
typedef struct {
	tt_event ev;
	char    *json;     /* scrubbed envelope, heap */
	bool     is_new;   /* set by batch_write: stored by this batch */
	bool     failed;   /* set by the fallback: storage refused this row */
	char     reason[256];
} batch_item;

/*
 * Writes items[0..n) (ids unique within the call) in one atomic statement:
 * new ids are stored, repeats change nothing; sets items[i].is_new and
 * returns the updated counters in *rows (heap, *nrows of them).
 * TT_ECONN/TT_EDB-retryable: nothing was written, try again later.
 * TT_EINVAL: the server refused the data (a bad row); the caller falls back
 * to batch_write_each().
 */
tt_err batch_write(ingest_ctx *ctx, PGconn *conn, batch_item *items, int n,
    counter_row **rows, int *nrows, char *err, size_t errlen);

/*
 * Writes items one by one so that one row the server refuses does not hold
 * back the others; refused rows get failed=true and a reason. Counters of
 * every committed row are appended to *rows.
 */
tt_err batch_write_each(ingest_ctx *ctx, PGconn *conn, batch_item *items, int n,
    counter_row **rows, int *nrows, char *err, size_t errlen);

/* ---- counters.c ---- */

/* Pushes rows to Redis (version-gated) ; TT_EREDIS leaves them for reconcile. */
tt_err counters_push(ingest_ctx *ctx, const counter_row *rows, int n);

/* Publishes revenue/sales/traffic metric updates for rows on the nng bus. */
void counters_publish(ingest_ctx *ctx, const counter_row *rows, int n);

/* Copies the durable counters of yesterday and today (UTC) into Redis. */
tt_err counters_reconcile(ingest_ctx *ctx, char *err, size_t errlen);

/* ---- consumer.c ---- */

/* Runs until ctx->stop; returns 0 after a clean drain. */
int consumer_run(ingest_ctx *ctx);

/* ---- health.c ---- */

/* Starts /health* and /metrics on cfg->health_port; NULL on failure. */
void *health_start(ingest_ctx *ctx);
void health_stop(void *h);

#endif
