/* dead_letter.h - refused messages to the dead-letter exchange (see .c). */
#ifndef DEAD_LETTER_H
#define DEAD_LETTER_H

#include "ingest.h"

typedef struct {
	const char *body;
	size_t      len;
	const char *routing_key;
	const char *reason;      /* one line: "field: what is wrong" */
} dead_letter;

/*
 * Publishes every item and waits for the broker's confirms; TT_OK only when
 * all n are confirmed (then the originals may be acked). Reconnects once.
 */
tt_err dead_letter_send(ingest_ctx *ctx, const dead_letter *items, int n,
    char *err, size_t errlen);

void dead_letter_close(void);

/*
 * Message count of queue through the same side connection (a passive
 * declare cannot share the consuming channel with incoming deliveries).
 */
tt_err dead_letter_probe_depth(ingest_ctx *ctx, const char *queue, uint32_t *messages,
    char *err, size_t errlen);

#endif
