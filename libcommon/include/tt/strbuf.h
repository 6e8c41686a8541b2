/*
 * tt/strbuf.h - a bounded string builder (after curl's dynbuf).
 *
 * Two modes: over a caller's fixed array (tt_strbuf_init_fixed: never
 * allocates), or on the heap growing up to a maximum (tt_strbuf_init). An
 * append that would pass the maximum appends nothing more and marks the
 * buffer truncated; every later append is a no-op. The content is always
 * NUL-terminated. Not thread-safe: one owner at a time.
 */
#ifndef TT_STRBUF_H
#define TT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "tt/error.h"

typedef struct {
	char  *buf;
	size_t len;
	size_t cap;     /* bytes allocated (heap) or available (fixed) */
	size_t max;     /* largest len allowed */
	bool   fixed;
	bool   truncated;
} tt_strbuf;

/* Heap mode; max is the largest content length accepted. */
void tt_strbuf_init(tt_strbuf *b, size_t max);
/* Fixed mode over mem[0..cap); content is at most cap-1 bytes. */
void tt_strbuf_init_fixed(tt_strbuf *b, char *mem, size_t cap);
/* Frees heap storage; safe on a zeroed or fixed buffer. */
void tt_strbuf_fini(tt_strbuf *b);
/* Empties the content, keeps the storage. */
void tt_strbuf_reset(tt_strbuf *b);

/* Appends; TT_ETOOBIG once the maximum is passed, TT_ENOMEM on allocation. */
tt_err tt_strbuf_put(tt_strbuf *b, const void *p, size_t n);
tt_err tt_strbuf_puts(tt_strbuf *b, const char *s);
tt_err tt_strbuf_putc(tt_strbuf *b, char c);
tt_err tt_strbuf_printf(tt_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included, escaping as RFC 8259. */
tt_err tt_strbuf_json_str(tt_strbuf *b, const char *s);
tt_err tt_strbuf_json_strn(tt_strbuf *b, const char *s, size_t n);

static inline const char *tt_strbuf_str(const tt_strbuf *b) { return b->buf ? b->buf : ""; }
static inline size_t tt_strbuf_len(const tt_strbuf *b) { return b->len; }
static inline bool tt_strbuf_truncated(const tt_strbuf *b) { return b->truncated; }

/* Hands the heap content to the caller (free() it); the buffer is reset. */
char *tt_strbuf_take(tt_strbuf *b);

#endif
