/*
 * consumer.c - the RabbitMQ consume loop: batch, validate, store, ack.
 *
 * Guarantees (design.md, "Data flow"): a delivery is acked only after its
 * event is committed in PostgreSQL or its copy is confirmed on the
 * dead-letter exchange. Anything that goes wrong before the ack (a crash,
 * a lost connection, PostgreSQL down) leaves the delivery unacked and the
 * broker redelivers it; the dedup by event id makes the redelivery change
 * nothing. A batch is closed when it holds INGEST_BATCH_SIZE deliveries or
 * INGEST_BATCH_MS after its first one, whichever comes first; the prefetch
 * window (INGEST_PREFETCH) keeps the socket busy while a batch is written.
 */
#include "ingest.h"
#include "dead_letter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt/log.h"
#include "tt/time.h"

typedef struct {
	char    *body;
	size_t   len;
	char     routing_key[256];
	uint64_t tag;
} delivery;

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static tt_err
amqp_setup(ingest_ctx *ctx, tt_amqp **out, char *err, size_t errlen)
{
	const tt_config *c = ctx->cfg;
	tt_amqp *a;
	tt_err e;

	if ((e = tt_amqp_open(&a, c->rabbitmq_url, 30, err, errlen)) != TT_OK)
		return e;
	if ((e = tt_amqp_declare_exchange(a, c->rabbitmq_exchange, "topic", err, errlen)) != TT_OK ||
	    (e = tt_amqp_declare_exchange(a, c->rabbitmq_dlx, "fanout", err, errlen)) != TT_OK ||
	    (e = tt_amqp_declare_queue(a, c->rabbitmq_dlq, NULL, c->rabbitmq_dlx, "#", err, errlen)) != TT_OK ||
	    (e = tt_amqp_declare_queue(a, c->rabbitmq_queue, c->rabbitmq_dlx, c->rabbitmq_exchange, "#", err, errlen)) != TT_OK)
		goto fail;
	amqp_basic_qos(tt_amqp_conn(a), 1, 0, (uint16_t)c->ingest_prefetch, 0);
	if ((e = tt_amqp_check(a, "basic.qos", err, errlen)) != TT_OK)
		goto fail;
	amqp_basic_consume(tt_amqp_conn(a), 1, amqp_cstring_bytes(c->rabbitmq_queue),
	    amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	if ((e = tt_amqp_check(a, "basic.consume", err, errlen)) != TT_OK)
		goto fail;
	*out = a;
	return TT_OK;
fail:
	tt_amqp_close(a);
	return e;
}

/*
 * Collects up to cap deliveries. Returns the count; *lost is set when the
 * connection or channel failed (the deliveries already collected are still
 * returned, and must not be acked on this connection).
 */
static int
collect(ingest_ctx *ctx, tt_amqp *a, delivery *out, int cap, int *lost)
{
	amqp_connection_state_t conn = tt_amqp_conn(a);
	int n = 0;
	int64_t first = 0;

	*lost = 0;
	while (n < cap && !ctx->stop) {
		int wait = n == 0 ? 250 : (int)(first + ctx->cfg->ingest_batch_ms - tt_mono_ms());
		if (n > 0 && wait <= 0)
			break;
		struct timeval tv = { wait / 1000, (wait % 1000) * 1000 };
		amqp_envelope_t env;

		amqp_maybe_release_buffers(conn);
		amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
		if (r.reply_type == AMQP_RESPONSE_NORMAL) {
			delivery *d = &out[n];
			d->body = malloc(env.message.body.len + 1);
			if (d->body == NULL) {
				amqp_destroy_envelope(&env);
				*lost = 1;   /* unacked: the broker redelivers it */
				break;
			}
			memcpy(d->body, env.message.body.bytes, env.message.body.len);
			d->body[env.message.body.len] = '\0';
			d->len = env.message.body.len;
			snprintf(d->routing_key, sizeof(d->routing_key), "%.*s",
			    (int)env.routing_key.len, (char *)env.routing_key.bytes);
			d->tag = env.delivery_tag;
			amqp_destroy_envelope(&env);
			if (n++ == 0)
				first = tt_mono_ms();
			continue;
		}
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_TIMEOUT) {
			if (n > 0)
				break;
			return 0;   /* idle: let the caller run its timers */
		}
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
			amqp_frame_t f;
			if (amqp_simple_wait_frame(conn, &f) != AMQP_STATUS_OK) {
				*lost = 1;
				break;
			}
			if (f.frame_type == AMQP_FRAME_METHOD &&
			    (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
			    f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
			    f.payload.method.id == AMQP_BASIC_CANCEL_METHOD)) {
				*lost = 1;
				break;
			}
			continue;
		}
		*lost = 1;
		break;
	}
	return n;
}

/* FNV-1a over an id, for the in-batch duplicate check. */
static uint32_t
fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * Stores the valid items, retrying while PostgreSQL is unreachable.
 * Returns TT_OK when every item is committed or marked failed.
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
				tt_metric_observe(ctx->m.batch_seconds, tt_mono_sec() - t0);
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

/*
 * Processes one batch. Returns TT_OK when every delivery may be acked, an
 * error when none may (the connection is then dropped and the broker
 * redelivers them).
 */
static tt_err
process(ingest_ctx *ctx, delivery *ds, int n)
{
	tt_event_opts opts = {
		.hash_key = ctx->cfg->customer_hash_salt,
		.hash_key_len = strlen(ctx->cfg->customer_hash_salt),
		.now_ms = 0,
		.max_future_ms = 24 * 3600 * 1000,
	};
	batch_item *items = calloc((size_t)n, sizeof(*items));
	dead_letter *dls = calloc((size_t)n, sizeof(*dls));
	char (*reasons)[256] = calloc((size_t)n, sizeof(*reasons));
	size_t hcap = 1;
	while (hcap < (size_t)n * 2)
		hcap <<= 1;
	int *slots = malloc(hcap * sizeof(int));
	counter_row *rows = NULL;
	int ni = 0, ndl = 0, nrows = 0, dup_in_batch = 0, nnew = 0, nfailed = 0;
	tt_err e = TT_ENOMEM;
	char err[512];

	if (items == NULL || dls == NULL || reasons == NULL || slots == NULL)
		goto out;
	memset(slots, -1, hcap * sizeof(int));

	for (int i = 0; i < n; i++) {
		batch_item *it = &items[ni];
		if (tt_event_parse(&it->ev, ds[i].body, ds[i].len, &opts, reasons[i],
		    sizeof(reasons[i])) != TT_OK) {
			dls[ndl++] = (dead_letter){ ds[i].body, ds[i].len, ds[i].routing_key, reasons[i] };
			continue;
		}
		/* The same id twice in one batch: keep the first. */
		size_t h = fnv1a(it->ev.id) & (hcap - 1);
		bool dup = false;
		while (slots[h] >= 0) {
			if (strcmp(items[slots[h]].ev.id, it->ev.id) == 0) {
				dup = true;
				break;
			}
			h = (h + 1) & (hcap - 1);
		}
		if (dup) {
			tt_event_fini(&it->ev);
			dup_in_batch++;
			continue;
		}
		if ((it->json = tt_event_json(&it->ev)) == NULL) {
			tt_event_fini(&it->ev);
			goto out;
		}
		slots[h] = ni++;
	}

	if ((e = store(ctx, items, ni, &rows, &nrows)) != TT_OK)
		goto out;
	for (int i = 0; i < ni; i++) {
		if (items[i].failed && ++nfailed)
			dls[ndl++] = (dead_letter){ items[i].json, strlen(items[i].json),
			    tt_event_type_name(items[i].ev.type), items[i].reason };
		else if (items[i].is_new)
			nnew++;
	}

	for (int backoff = 100;;) {
		if ((e = dead_letter_send(ctx, dls, ndl, err, sizeof(err))) == TT_OK)
			break;
		tt_log(TT_LOG_ERROR, "dead-letter publish failed; will retry", "error", err, NULL);
		if (ctx->stop)
			goto out;
		sleep_ms(backoff);
		backoff = backoff < 2000 ? backoff * 2 : 2000;
	}

	tt_metric_add(ctx->m.received, (double)n);
	tt_metric_add(ctx->m.stored, (double)nnew);
	tt_metric_add(ctx->m.duplicates, (double)(ni - nnew - nfailed + dup_in_batch));
	tt_metric_add(ctx->m.dead_lettered, (double)ndl);
	tt_metric_inc(ctx->m.batches);
	tt_metric_observe(ctx->m.batch_size, (double)n);

	/* After the commit: the fast, lossy copies. */
	if (counters_push(ctx, rows, nrows) != TT_OK)
		ctx->next_reconcile_ms = tt_mono_ms() + 1000;
	counters_publish(ctx, rows, nrows);
	if (ctx->pub != NULL)
		for (int i = 0; i < ni; i++)
			if (items[i].is_new)
				tt_bus_publish(ctx->pub, "event", items[i].ev.venue_id,
				    items[i].json, strlen(items[i].json));
	e = TT_OK;

out:
	if (items != NULL) {
		for (int i = 0; i < ni; i++) {
			tt_event_fini(&items[i].ev);
			free(items[i].json);
		}
	}
	free(items);
	free(dls);
	free(reasons);
	free(slots);
	free(rows);
	return e;
}

static void
maybe_reconcile(ingest_ctx *ctx)
{
	char err[256];

	if (tt_mono_ms() < ctx->next_reconcile_ms)
		return;
	if (counters_reconcile(ctx, err, sizeof(err)) == TT_OK) {
		ctx->next_reconcile_ms = tt_mono_ms() + (int64_t)ctx->cfg->reconcile_seconds * 1000;
	} else {
		tt_log(TT_LOG_WARN, "counter reconcile failed; retrying soon", "error", err, NULL);
		ctx->next_reconcile_ms = tt_mono_ms() + 2000;
	}
	uint32_t depth;
	if (dead_letter_probe_depth(ctx, ctx->cfg->rabbitmq_queue, &depth, err, sizeof(err)) == TT_OK)
		tt_metric_set(ctx->m.queue_depth, (double)depth);
}

int
consumer_run(ingest_ctx *ctx)
{
	int cap = ctx->cfg->ingest_batch_size;
	delivery *ds = calloc((size_t)cap, sizeof(*ds));
	tt_amqp *a = NULL;
	int backoff = 100;
	char err[512];

	if (ds == NULL)
		return 1;
	ctx->next_reconcile_ms = 0;   /* at start-up */
	while (!ctx->stop) {
		maybe_reconcile(ctx);
		if (a == NULL) {
			if (amqp_setup(ctx, &a, err, sizeof(err)) != TT_OK) {
				ctx->amqp_up = 0;
				tt_log(TT_LOG_ERROR, "rabbitmq unavailable; retrying", "error", err, NULL);
				sleep_ms(backoff);
				backoff = backoff < 5000 ? backoff * 2 : 5000;
				continue;
			}
			backoff = 100;
			ctx->amqp_up = 1;
			tt_log(TT_LOG_INFO, "consuming", "queue", ctx->cfg->rabbitmq_queue, NULL);
		}

		int lost = 0;
		int n = collect(ctx, a, ds, cap, &lost);
		if (n > 0) {
			tt_err e = process(ctx, ds, n);
			if (e == TT_OK && !lost) {
				if (amqp_basic_ack(tt_amqp_conn(a), 1, ds[n - 1].tag, 1) != AMQP_STATUS_OK)
					lost = 1;
			} else if (e != TT_OK) {
				lost = 1;   /* drop the connection: the broker redelivers */
			}
			for (int i = 0; i < n; i++) {
				free(ds[i].body);
				ds[i].body = NULL;
			}
		}
		if (lost) {
			tt_metric_inc(ctx->m.amqp_reconnects);
			tt_log(TT_LOG_WARN, "rabbitmq connection lost; reconnecting", NULL);
			ctx->amqp_up = 0;
			tt_amqp_mark_broken(a);
			tt_amqp_close(a);
			a = NULL;
		}
	}
	/* Drained: the last batch is acked; closing requeues the prefetched rest. */
	tt_amqp_close(a);
	dead_letter_close();
	free(ds);
	return 0;
}
