/*
 * dead_letter.c - re-publishing refused messages to the dead-letter exchange.
 *
 * A refused message goes to RABBITMQ_DLX with its original body and routing
 * key and the headers x-reject-reason and x-original-routing-key, on a
 * connection of its own in confirm mode; the consumer acks the original
 * only after the broker confirmed the copy. (basic.reject with a DLX would
 * keep the body but cannot carry the reason.)
 */
#include "dead_letter.h"

#include <stdio.h>
#include <string.h>

#include "tt/log.h"

static tt_amqp *dlq;

static tt_err
dlq_connect(ingest_ctx *ctx, char *err, size_t errlen)
{
	tt_err e;

	if (dlq != NULL)
		return TT_OK;
	if ((e = tt_amqp_open(&dlq, ctx->cfg->rabbitmq_url, 30, err, errlen)) != TT_OK)
		return e;
	if ((e = tt_amqp_confirm_select(dlq, err, errlen)) != TT_OK) {
		tt_amqp_close(dlq);
		dlq = NULL;
	}
	return e;
}

void
dead_letter_close(void)
{
	tt_amqp_mark_broken(dlq);
	tt_amqp_close(dlq);
	dlq = NULL;
}

tt_err
dead_letter_send(ingest_ctx *ctx, const dead_letter *items, int n, char *err, size_t errlen)
{
	static const char *const names[] = { "x-reject-reason", "x-original-routing-key" };
	tt_err e;

	if (n == 0)
		return TT_OK;
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((e = dlq_connect(ctx, err, errlen)) != TT_OK)
			continue;
		for (int i = 0; i < n && e == TT_OK; i++) {
			const char *values[] = { items[i].reason, items[i].routing_key };
			e = tt_amqp_publish(dlq, ctx->cfg->rabbitmq_dlx, items[i].routing_key,
			    items[i].body, items[i].len, 2, names, values, err, errlen);
		}
		if (e == TT_OK)
			e = tt_amqp_wait_confirms(dlq, 10000, err, errlen);
		if (e == TT_OK) {
			for (int i = 0; i < n; i++)
				tt_log(TT_LOG_WARN, "message dead-lettered", "reason", items[i].reason,
				    "routingKey", items[i].routing_key, NULL);
			return TT_OK;
		}
		dead_letter_close();
	}
	return e;
}

tt_err
dead_letter_probe_depth(ingest_ctx *ctx, const char *queue, uint32_t *messages,
    char *err, size_t errlen)
{
	tt_err e = dlq_connect(ctx, err, errlen);

	if (e == TT_OK && (e = tt_amqp_queue_depth(dlq, queue, messages, err, errlen)) != TT_OK)
		dead_letter_close();
	return e;
}
