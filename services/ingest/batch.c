/*
 * batch.c - allocation and validation of one batch (see batch.h). The
 * in-batch duplicate check is an open-addressing table over the ids so that
 * a batch with the same event twice stores it once.
 */
#include "batch.h"

#include "tt/strparse.h"

#include <stdlib.h>
#include <string.h>

batch *
batch_new(int cap)
{
	batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->cap = cap;
	b->ds = calloc((size_t)cap, sizeof(*b->ds));
	b->items = calloc((size_t)cap, sizeof(*b->items));
	b->dls = calloc((size_t)cap, sizeof(*b->dls));
	b->reasons = calloc((size_t)cap, sizeof(*b->reasons));
	if (b->ds == NULL || b->items == NULL || b->dls == NULL || b->reasons == NULL) {
		batch_free(b);
		return NULL;
	}
	return b;
}

void
batch_free(batch *b)
{
	if (b == NULL)
		return;
	if (b->items != NULL) {
		for (int i = 0; i < b->ni; i++) {
			tt_event_fini(&b->items[i].ev);
			free(b->items[i].json);
		}
	}
	if (b->ds != NULL)
		for (int i = 0; i < b->n; i++)
			free(b->ds[i].body);
	free(b->ds);
	free(b->items);
	free(b->dls);
	free(b->reasons);
	free(b);
}

tt_err
batch_parse(ingest_ctx *ctx, batch *b)
{
	tt_event_opts opts = {
		.hash_key = ctx->cfg->customer_hash_salt,
		.hash_key_len = strlen(ctx->cfg->customer_hash_salt),
		.now_ms = 0,
		.max_future_ms = 24 * 3600 * 1000,
	};
	size_t hcap = 1;
	int *slots;

	while (hcap < (size_t)b->n * 2)
		hcap <<= 1;
	if ((slots = malloc(hcap * sizeof(int))) == NULL)
		return TT_ENOMEM;
	memset(slots, -1, hcap * sizeof(int));

	for (int i = 0; i < b->n; i++) {
		const delivery *d = &b->ds[i];
		batch_item *it = &b->items[b->ni];
		if (tt_event_parse(&it->ev, d->body, d->len, &opts, b->reasons[i],
		    sizeof(b->reasons[i])) != TT_OK) {
			b->dls[b->ndl++] = (dead_letter){ d->body, d->len, d->routing_key, b->reasons[i] };
			continue;
		}
		size_t h = tt_hash_str(it->ev.id) & (hcap - 1);
		bool dup = false;
		while (slots[h] >= 0) {
			if (strcmp(b->items[slots[h]].ev.id, it->ev.id) == 0) {
				dup = true;
				break;
			}
			h = (h + 1) & (hcap - 1);
		}
		if (dup) {
			tt_event_fini(&it->ev);
			b->dup_in_batch++;
			continue;
		}
		if ((it->json = tt_event_json(&it->ev)) == NULL) {
			tt_event_fini(&it->ev);
			free(slots);
			return TT_ENOMEM;
		}
		slots[h] = b->ni++;
	}
	free(slots);
	return TT_OK;
}
