/*
 * batch.h - one batch of deliveries on its way through the pipeline.
 *
 * The consumer thread fills and parses a batch (batch_parse), the writer
 * thread stores it (writer.c), and the consumer thread acks it. A batch
 * owns all of its memory; batch_free releases it.
 */
#ifndef BATCH_H
#define BATCH_H

#include "ingest.h"
#include "dead_letter.h"

typedef struct {
	char    *body;
	size_t   len;
	char     routing_key[256];
	uint64_t tag;
} delivery;

typedef enum { BATCH_QUEUED, BATCH_DONE, BATCH_FAILED } batch_state;

typedef struct batch {
	delivery    *ds;          /* the deliveries, in arrival order */
	int          n, cap;
	batch_item  *items;       /* the valid, distinct events */
	int          ni;
	dead_letter *dls;         /* refused messages, with reasons */
	int          ndl;
	char       (*reasons)[256];
	int          dup_in_batch;
	unsigned     gen;         /* AMQP connection generation of the tags */
	batch_state  state;
	struct batch *next;
} batch;

batch *batch_new(int cap);
void batch_free(batch *b);

/*
 * Validates every delivery: fills items (first occurrence of each id) and
 * dls (with the reason). TT_ENOMEM leaves the batch unusable.
 */
tt_err batch_parse(ingest_ctx *ctx, batch *b);

#endif
