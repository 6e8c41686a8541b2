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
 *
 * This thread collects and parses batches and hands them to the writer
 * thread (writer.c); it acks each batch, in order, once the writer is done
 * with it, and only on the connection whose delivery tags it carries.
 */
#include "writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt/log.h"
#include "tt/time.h"


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
	    (e = tt_amqp_declare_queue(a, c->rabbitmq_dlq, c->rabbitmq_queue_type, NULL,
	    c->rabbitmq_dlx, "#", err, errlen)) != TT_OK ||
	    (e = tt_amqp_declare_queue(a, c->rabbitmq_queue, c->rabbitmq_queue_type,
	    c->rabbitmq_dlx, c->rabbitmq_exchange, "#", err, errlen)) != TT_OK)
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

/* Acks a finished batch on its own connection; returns 0 when the ack failed. */
static int
ack(tt_amqp *a, unsigned gen, batch *b)
{
	if (b->state != BATCH_DONE || a == NULL || b->gen != gen || b->n == 0)
		return b->state == BATCH_DONE || b->gen != gen;
	return amqp_basic_ack(tt_amqp_conn(a), 1, b->ds[b->n - 1].tag, 1) == AMQP_STATUS_OK;
}

int
consumer_run(ingest_ctx *ctx)
{
	int cap = ctx->cfg->ingest_batch_size;
	writer *w = writer_start(ctx);
	tt_amqp *a = NULL;
	unsigned gen = 0;
	int backoff = 100;
	char err[512];

	if (w == NULL)
		return 1;
	while (!ctx->stop) {
		int lost = 0;
		batch *done;

		if (a == NULL) {
			if (amqp_setup(ctx, &a, err, sizeof(err)) != TT_OK) {
				ctx->amqp_up = 0;
				tt_log(TT_LOG_ERROR, "rabbitmq unavailable; retrying", "error", err, NULL);
				sleep_ms(backoff);
				backoff = backoff < 5000 ? backoff * 2 : 5000;
				continue;
			}
			backoff = 100;
			gen++;
			ctx->amqp_up = 1;
			tt_log(TT_LOG_INFO, "consuming", "queue", ctx->cfg->rabbitmq_queue, NULL);
		}

		/* Ack what the writer finished, oldest first. */
		while ((done = writer_reap(w, 0)) != NULL) {
			if (!ack(a, gen, done) || done->state == BATCH_FAILED)
				lost = 1;
			batch_free(done);
		}

		batch *b = lost ? NULL : batch_new(cap);
		if (b != NULL) {
			b->gen = gen;
			b->n = collect(ctx, a, b->ds, cap, &lost);
			if (b->n > 0 && batch_parse(ctx, b) != TT_OK)
				lost = 1;   /* out of memory: drop the connection, redelivery follows */
			if (b->n > 0 && !lost)
				writer_submit(w, b);
			else
				batch_free(b);
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

	/* Drain: finish and ack what was handed over; closing requeues the rest. */
	while (writer_pending(w) > 0) {
		batch *done = writer_reap(w, 1000);
		if (done != NULL) {
			ack(a, gen, done);
			batch_free(done);
		}
	}
	writer_stop(w);
	tt_amqp_close(a);
	return 0;
}
