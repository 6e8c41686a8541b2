/* strbuf.c - bounded string builder; see tt/strbuf.h for the contract. */
#include "tt/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
tt_strbuf_init(tt_strbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max < SIZE_MAX - 1 ? max : SIZE_MAX - 2;  /* max + 1 must not wrap */
}

void
tt_strbuf_init_fixed(tt_strbuf *b, char *mem, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->buf = mem;
	b->cap = cap;
	b->max = cap > 0 ? cap - 1 : 0;
	b->fixed = true;
	if (cap > 0)
		mem[0] = '\0';
}

void
tt_strbuf_fini(tt_strbuf *b)
{
	if (b == NULL)
		return;
	if (!b->fixed)
		free(b->buf);
	memset(b, 0, sizeof(*b));
}

void
tt_strbuf_reset(tt_strbuf *b)
{
	b->len = 0;
	b->truncated = false;
	if (b->buf != NULL)
		b->buf[0] = '\0';
}

static tt_err
strbuf_reserve(tt_strbuf *b, size_t n)
{
	size_t need;

	if (b->truncated)
		return TT_ETOOBIG;
	if (n > b->max - b->len) {
		b->truncated = true;
		return TT_ETOOBIG;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return TT_OK;
	if (b->fixed) {
		b->truncated = true;
		return TT_ETOOBIG;
	}
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	char *nb = realloc(b->buf, ncap);
	if (nb == NULL)
		return TT_ENOMEM;
	b->buf = nb;
	b->cap = ncap;
	return TT_OK;
}

tt_err
tt_strbuf_put(tt_strbuf *b, const void *p, size_t n)
{
	tt_err e = strbuf_reserve(b, n);
	if (e != TT_OK)
		return e;
	if (n > 0)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return TT_OK;
}

tt_err
tt_strbuf_puts(tt_strbuf *b, const char *s)
{
	return tt_strbuf_put(b, s, strlen(s));
}

tt_err
tt_strbuf_putc(tt_strbuf *b, char c)
{
	return tt_strbuf_put(b, &c, 1);
}

tt_err
tt_strbuf_printf(tt_strbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return TT_EINVAL;
	if ((size_t)n < sizeof(small))
		return tt_strbuf_put(b, small, (size_t)n);

	tt_err e = strbuf_reserve(b, (size_t)n);
	if (e != TT_OK)
		return e;
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return TT_OK;
}

tt_err
tt_strbuf_json_strn(tt_strbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	tt_err e = tt_strbuf_putc(b, '"');

	for (size_t i = 0; i < n && e == TT_OK; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':  e = tt_strbuf_put(b, "\\\"", 2); break;
		case '\\': e = tt_strbuf_put(b, "\\\\", 2); break;
		case '\n': e = tt_strbuf_put(b, "\\n", 2); break;
		case '\r': e = tt_strbuf_put(b, "\\r", 2); break;
		case '\t': e = tt_strbuf_put(b, "\\t", 2); break;
		default:
			if (c < 0x20) {
				char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
				e = tt_strbuf_put(b, u, 6);
			} else {
				e = tt_strbuf_putc(b, (char)c);
			}
		}
	}
	if (e == TT_OK)
		e = tt_strbuf_putc(b, '"');
	return e;
}

tt_err
tt_strbuf_json_str(tt_strbuf *b, const char *s)
{
	return tt_strbuf_json_strn(b, s, strlen(s));
}

char *
tt_strbuf_take(tt_strbuf *b)
{
	char *p;

	if (b->fixed)
		return NULL;
	p = b->buf;
	if (p == NULL)
		p = calloc(1, 1);
	b->buf = NULL;
	b->len = b->cap = 0;
	b->truncated = false;
	return p;
}
