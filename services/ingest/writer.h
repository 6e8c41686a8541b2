/*
 * writer.h - the writer thread: stores parsed batches while the consumer
 * thread collects the next ones, so RabbitMQ and PostgreSQL work at once.
 *
 * At most WRITER_DEPTH batches wait to be written; writer_submit() blocks
 * while that many do (backpressure up to the broker's prefetch window, which
 * should hold WRITER_DEPTH + 1 batches so collecting never starves).
 * Batches complete in submission order. Only the consumer thread calls
 * these functions.
 */
#ifndef WRITER_H
#define WRITER_H

#include "batch.h"

#define WRITER_DEPTH 2

typedef struct writer writer;

writer *writer_start(ingest_ctx *ctx);

/* Hands b to the writer (ownership moves); blocks while the queue is full. */
void writer_submit(writer *w, batch *b);

/*
 * Takes the oldest batch if it is finished (state DONE or FAILED), waiting
 * up to timeout_ms for it; NULL when none is finished. Ownership returns
 * to the caller.
 */
batch *writer_reap(writer *w, int timeout_ms);

/* Batches submitted and not yet reaped. */
int writer_pending(writer *w);

/* Stops the thread after the queued batches are finished; frees w. */
void writer_stop(writer *w);

#endif
