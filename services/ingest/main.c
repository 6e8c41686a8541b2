/*
 * ingest - RabbitMQ events into the raw store, the durable day counters,
 * Redis and the nng bus, exactly once. main() only wires the modules: see
 * ingest.h for the flow and consumer.c for the guarantees.
 */
#include "ingest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/log.h"

#define INGEST_VERSION "0.1.0"

static ingest_ctx *the_ctx;

static void
on_signal(int sig)
{
	(void)sig;
	if (the_ctx != NULL)
		the_ctx->stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ingest [--help] [--version]\n"
	    "\n"
	    "Consumes platform events from RabbitMQ (queue RABBITMQ_QUEUE bound to\n"
	    "RABBITMQ_EXCHANGE), validates and scrubs them, stores each exactly once in\n"
	    "PostgreSQL, keeps the Redis real-time counters and publishes updates on\n"
	    "nng (NNG_PUB_URL). Invalid messages go to RABBITMQ_DLX with the reason.\n"
	    "\n"
	    "Configuration is read from the environment; the main variables:\n"
	    "  RABBITMQ_URL        amqp://guest:guest@127.0.0.1:5672/\n"
	    "  DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD   PostgreSQL\n"
	    "  REDIS_HOST REDIS_PORT REDIS_PASSWORD          Redis\n"
	    "  CUSTOMER_HASH_SALT  HMAC key for customer ids (required in production)\n"
	    "  NNG_PUB_URL         tcp://127.0.0.1:5560\n"
	    "  HEALTH_PORT         3010 (/health, /health/live, /health/ready, /metrics)\n"
	    "  INGEST_PREFETCH INGEST_BATCH_SIZE INGEST_BATCH_MS RECONCILE_SECONDS\n"
	    "  LOG_LEVEL NODE_ENV\n"
	    "\n"
	    "SIGTERM/SIGINT: finish and ack the current batch, requeue the rest, exit 0.\n");
}

static void
metrics_register(ingest_metrics *m)
{
	tt_metrics *r = tt_metrics_default();

	m->received = tt_metrics_counter(r, "ingest_messages_received_total",
	    "Deliveries taken from RabbitMQ", NULL);
	m->stored = tt_metrics_counter(r, "ingest_events_stored_total",
	    "Events stored for the first time", NULL);
	m->duplicates = tt_metrics_counter(r, "ingest_events_duplicate_total",
	    "Events already stored (redelivered or re-published)", NULL);
	m->dead_lettered = tt_metrics_counter(r, "ingest_messages_dead_lettered_total",
	    "Messages sent to the dead-letter exchange", NULL);
	m->batches = tt_metrics_counter(r, "ingest_batches_total", "Batches committed", NULL);
	m->batch_seconds = tt_metrics_histogram(r, "ingest_batch_write_seconds",
	    "Time to write one batch to PostgreSQL", NULL, NULL, 0);
	static const double sizes[] = { 1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000 };
	m->batch_size = tt_metrics_histogram(r, "ingest_batch_size",
	    "Deliveries per batch", NULL, sizes, sizeof(sizes) / sizeof(sizes[0]));
	m->db_errors = tt_metrics_counter(r, "ingest_db_errors_total",
	    "Failed batch writes (retried)", NULL);
	m->redis_errors = tt_metrics_counter(r, "ingest_redis_errors_total",
	    "Failed Redis counter pushes (repaired by reconcile)", NULL);
	m->amqp_reconnects = tt_metrics_counter(r, "ingest_amqp_reconnects_total",
	    "RabbitMQ connections lost", NULL);
	m->queue_depth = tt_metrics_gauge(r, "ingest_queue_depth",
	    "Messages ready in the input queue at the last probe", NULL);
	m->reconciles = tt_metrics_counter(r, "ingest_reconciles_total",
	    "Successful copies of the durable counters into Redis", NULL);
}

int
main(int argc, char **argv)
{
	static tt_config cfg;
	static ingest_ctx ctx;
	char err[512];
	void *health = NULL;
	int rc = 1;

	if ((rc = tt_config_main(argc, argv, "ingest", INGEST_VERSION, usage, &cfg)) >= 0)
		return rc;
	rc = 1;

	ctx.cfg = &cfg;
	the_ctx = &ctx;
	metrics_register(&ctx.m);

	tt_config_signals(on_signal);

	if (tt_db_new(&ctx.db, &cfg, err, sizeof(err)) != TT_OK ||
	    tt_redis_new_cfg(&ctx.redis, &cfg) != TT_OK) {
		fprintf(stderr, "ingest: %s\n", err[0] ? err : "out of memory");
		goto out;
	}
	/* A PUB address that cannot be bound is a configuration error: no retry helps. */
	if (tt_bus_pub_open(&ctx.pub, cfg.nng_pub_url, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "ingest: NNG_PUB_URL: %s\n", err);
		goto out;
	}
	if ((health = health_start(&ctx)) == NULL) {
		fprintf(stderr, "ingest: cannot serve health on port %d\n", cfg.health_port);
		goto out;
	}
	tt_log(TT_LOG_INFO, "ingest started", "version", INGEST_VERSION, NULL);
	rc = consumer_run(&ctx);
	tt_log(TT_LOG_INFO, "ingest stopped", NULL);

out:
	health_stop(health);
	tt_bus_close(ctx.pub);
	tt_redis_free(ctx.redis);
	tt_db_free(ctx.db);
	return rc;
}
