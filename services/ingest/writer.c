/*
 * writer.c - the writer thread (see writer.h). It owns the PostgreSQL pool
 * use, the dead-letter connection and the Redis connection of ingest; the
 * consumer thread owns the consuming AMQP connection and does the acks.
 */
#include "writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt/log.h"
#include "tt/time.h"

struct writer {
	ingest_ctx     *ctx;
	pthread_t       thread;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;       /* state changes, both directions */
	batch          *head, *tail;
	int             pending;
	bool            stopping;
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/*
 * Stores the valid items, retrying while PostgreSQL is unreachable.
 * Returns TT_OK when every item is committed or marked failed; an error
 * only when asked to stop while PostgreSQL is still down.
 */
static tt_err
store(ingest_ctx *ctx, batch_item *items, int n, counter_row **rows, int *nrows)
{
	char err[512];
	int backoff = 100;

	for (;;) {
		PGconn *conn;
		tt_err e = tt_db_acquire(ctx->db, &conn, 5000, err, sizeof(err));
		if (e == TT_OK) {
			double t0 = tt_mono_sec();
			e = batch_write(ctx, conn, items, n, rows, nrows, err, sizeof(err));
			if (e == TT_EINVAL) {
				tt_log(TT_LOG_WARN, "batch refused by the server; writing one by one",
				    "error", err, NULL);
				e = batch_write_each(ctx, conn, items, n, rows, nrows, err, sizeof(err));
			}
			tt_db_release(ctx->db, conn, e == TT_ECONN);
			if (e == TT_OK) {
				double dt = tt_mono_sec() - t0;
				tt_metric_observe(ctx->m.batch_seconds, dt);
				if (tt_log_enabled(TT_LOG_DEBUG)) {
					char ms[32], cnt[16];
					snprintf(ms, sizeof(ms), "%.2f", dt * 1000.0);
					snprintf(cnt, sizeof(cnt), "%d", n);
					tt_log(TT_LOG_DEBUG, "batch stored", "events", cnt, "ms", ms, NULL);
				}
				ctx->db_up = 1;
				return TT_OK;
			}
		}
		ctx->db_up = 0;
		tt_metric_inc(ctx->m.db_errors);
		tt_log(TT_LOG_ERROR, "batch write failed; will retry", "error", err, NULL);
		if (ctx->stop)
			return e;
		sleep_ms(backoff);
		backoff = backoff < 2000 ? backoff * 2 : 2000;
	}
}

/* Everything after parsing: store, dead-letter, then the lossy copies. */
static batch_state
write_batch(ingest_ctx *ctx, batch *b)
{
	counter_row *rows = NULL;
	int nrows = 0, nnew = 0, nfailed = 0;
	char err[512];

	if (store(ctx, b->items, b->ni, &rows, &nrows) != TT_OK)
		return BATCH_FAILED;
	for (int i = 0; i < b->ni; i++) {
		batch_item *it = &b->items[i];
		if (it->failed) {
			nfailed++;
			b->dls[b->ndl++] = (dead_letter){ it->json, strlen(it->json),
			    tt_event_type_name(it->ev.type), it->reason };
		} else if (it->is_new) {
			nnew++;
		}
	}
	for (int backoff = 100;;) {
		if (dead_letter_send(ctx, b->dls, b->ndl, err, sizeof(err)) == TT_OK)
			break;
		tt_log(TT_LOG_ERROR, "dead-letter publish failed; will retry", "error", err, NULL);
		if (ctx->stop) {
			free(rows);
			return BATCH_FAILED;
		}
		sleep_ms(backoff);
		backoff = backoff < 2000 ? backoff * 2 : 2000;
	}

	tt_metric_add(ctx->m.received, (double)b->n);
	tt_metric_add(ctx->m.stored, (double)nnew);
	tt_metric_add(ctx->m.duplicates, (double)(b->ni - nnew - nfailed + b->dup_in_batch));
	tt_metric_add(ctx->m.dead_lettered, (double)b->ndl);
	tt_metric_inc(ctx->m.batches);
	tt_metric_observe(ctx->m.batch_size, (double)b->n);

	if (counters_push(ctx, rows, nrows) != TT_OK)
		ctx->next_reconcile_ms = tt_mono_ms() + 1000;
	counters_publish(ctx, rows, nrows);
	if (ctx->pub != NULL)
		for (int i = 0; i < b->ni; i++)
			if (b->items[i].is_new)
				tt_bus_publish(ctx->pub, "event", b->items[i].ev.venue_id,
				    b->items[i].json, strlen(b->items[i].json));
	free(rows);
	return BATCH_DONE;
}

static void
maybe_reconcile(ingest_ctx *ctx)
{
	char err[256];
	uint32_t depth;

	if (tt_mono_ms() < ctx->next_reconcile_ms)
		return;
	if (counters_reconcile(ctx, err, sizeof(err)) == TT_OK) {
		ctx->next_reconcile_ms = tt_mono_ms() + (int64_t)ctx->cfg->reconcile_seconds * 1000;
	} else {
		tt_log(TT_LOG_WARN, "counter reconcile failed; retrying soon", "error", err, NULL);
		ctx->next_reconcile_ms = tt_mono_ms() + 2000;
	}
	if (dead_letter_probe_depth(ctx, ctx->cfg->rabbitmq_queue, &depth, err, sizeof(err)) == TT_OK)
		tt_metric_set(ctx->m.queue_depth, (double)depth);
}

static void *
writer_main(void *arg)
{
	writer *w = arg;

	pthread_mutex_lock(&w->mtx);
	for (;;) {
		batch *b = NULL;
		for (b = w->head; b != NULL && b->state != BATCH_QUEUED; b = b->next)
			;
		if (b == NULL) {
			if (w->stopping)
				break;
			struct timespec ts = tt_timespec_in(CLOCK_REALTIME, 250);
			pthread_cond_timedwait(&w->cv, &w->mtx, &ts);
			pthread_mutex_unlock(&w->mtx);
			maybe_reconcile(w->ctx);
			pthread_mutex_lock(&w->mtx);
			continue;
		}
		pthread_mutex_unlock(&w->mtx);
		batch_state st = write_batch(w->ctx, b);
		maybe_reconcile(w->ctx);
		pthread_mutex_lock(&w->mtx);
		b->state = st;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mtx);
	dead_letter_close();
	return NULL;
}

writer *
writer_start(ingest_ctx *ctx)
{
	writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->ctx = ctx;
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_mutex_destroy(&w->mtx);
		pthread_cond_destroy(&w->cv);
		free(w);
		return NULL;
	}
	return w;
}

void
writer_submit(writer *w, batch *b)
{
	b->state = BATCH_QUEUED;
	b->next = NULL;
	pthread_mutex_lock(&w->mtx);
	/* Count only unfinished batches: finished ones wait for this thread's reap. */
	for (;;) {
		int queued = 0;
		for (batch *q = w->head; q != NULL; q = q->next)
			queued += q->state == BATCH_QUEUED;
		if (queued < WRITER_DEPTH)
			break;
		pthread_cond_wait(&w->cv, &w->mtx);
	}
	if (w->tail != NULL)
		w->tail->next = b;
	else
		w->head = b;
	w->tail = b;
	w->pending++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

batch *
writer_reap(writer *w, int timeout_ms)
{
	struct timespec ts = tt_timespec_in(CLOCK_REALTIME, timeout_ms);
	batch *b = NULL;

	pthread_mutex_lock(&w->mtx);
	while (w->head != NULL && w->head->state == BATCH_QUEUED && timeout_ms > 0)
		if (pthread_cond_timedwait(&w->cv, &w->mtx, &ts) != 0)
			break;
	if (w->head != NULL && w->head->state != BATCH_QUEUED) {
		b = w->head;
		w->head = b->next;
		if (w->head == NULL)
			w->tail = NULL;
		w->pending--;
		b->next = NULL;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mtx);
	return b;
}

int
writer_pending(writer *w)
{
	pthread_mutex_lock(&w->mtx);
	int n = w->pending;
	pthread_mutex_unlock(&w->mtx);
	return n;
}

void
writer_stop(writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mtx);
	pthread_join(w->thread, NULL);
	while (w->head != NULL) {
		batch *b = w->head;
		w->head = b->next;
		batch_free(b);
	}
	pthread_mutex_destroy(&w->mtx);
	pthread_cond_destroy(&w->cv);
	free(w);
}
