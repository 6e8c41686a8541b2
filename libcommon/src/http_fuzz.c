/*
 * http_fuzz.c - libFuzzer target for the pure parsing helpers of tt/http.h:
 * tt_http_url_decode(), tt_http_query_get(), tt_http_request_id_valid().
 *
 * Input layout: byte 0 chooses plus_space (bit 0) and the output size
 * (1..64, bits 1-6); the rest is "<query string>\0<name>" (no NUL: the
 * whole rest is the query string and the name is empty). Output buffers are
 * heap blocks of exactly the announced size, so one byte too many is a
 * heap overflow under ASan.
 *
 * Each helper is compared with a small model written from the header's
 * contract, not from http.c:
 *   - url_decode: '%' + two hex digits is a byte, '+' a space when asked,
 *     anything else itself; a bad escape or a NUL (raw or decoded) is
 *     TT_EPARSE, output that does not fit with its NUL is TT_ETOOBIG
 *     (either code when both apply); the length is written on success only;
 *   - query_get: the first '&'-separated pair whose decoded key is name;
 *     no '=' means an empty value; pairs whose key does not decode are
 *     skipped; on any failure out is "";
 *   - request_id_valid: 1..128 of [A-Za-z0-9._:-].
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/http.h"
#include "fuzz.h"

#define MODEL_KEY_MAX 256 /* tt_http_query_get decodes keys into 256 bytes */

/* The decoding of s[0..n) in the model. */
typedef struct {
	char *bytes; /* decoded bytes, up to the first error */
	size_t len;  /* how many */
	bool bad;    /* a bad escape or a NUL stopped the decoding */
} model_decoded;

static int
model_hex(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p;

	if (c >= 'A' && c <= 'F')
		c = (char)(c - 'A' + 'a');
	p = c != '\0' ? strchr(digits, c) : NULL;
	return p != NULL ? (int)(p - digits) : -1;
}

static bool
model_decode(const char *s, size_t n, bool plus_space, model_decoded *d)
{
	size_t i = 0;

	d->bytes = malloc(n + 1);
	d->len = 0;
	d->bad = false;
	if (d->bytes == NULL)
		return false;
	while (i < n) {
		char c = s[i];
		if (c == '%') {
			int hi = i + 1 < n ? model_hex(s[i + 1]) : -1;
			int lo = i + 2 < n ? model_hex(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				d->bad = true;
				break;
			}
			c = (char)(hi * 16 + lo);
			i += 3;
		} else {
			if (c == '+' && plus_space)
				c = ' ';
			i++;
		}
		if (c == '\0') {
			d->bad = true;
			break;
		}
		d->bytes[d->len++] = c;
	}
	return true;
}

/* The result the contract allows for a decoding into outlen bytes. */
static bool
model_result_ok(const model_decoded *d, size_t outlen, tt_err got)
{
	bool overflows = d->len + 1 > outlen;

	if (d->bad)
		return got == TT_EPARSE || (overflows && got == TT_ETOOBIG);
	return got == (overflows ? TT_ETOOBIG : TT_OK);
}

static void
check_url_decode(const char *s, size_t n, bool plus_space, size_t outlen)
{
	model_decoded d;
	char *out = malloc(outlen);
	size_t outn = SIZE_MAX;
	tt_err e;

	if (out == NULL || !model_decode(s, n, plus_space, &d)) {
		free(out);
		return;
	}
	memset(out, 'X', outlen);
	e = tt_http_url_decode(s, n, plus_space, out, outlen, &outn);
	CHECK(model_result_ok(&d, outlen, e));
	if (e == TT_OK) {
		CHECK(outn == d.len && out[outn] == '\0');
		CHECK(memcmp(out, d.bytes, d.len) == 0);
	} else {
		CHECK(outn == SIZE_MAX);
	}
	/* Without the length pointer: same code. */
	CHECK(tt_http_url_decode(s, n, plus_space, out, outlen, NULL) == e);
	free(d.bytes);
	free(out);
}

/* What the model of tt_http_query_get() finds for name in qs. */
typedef struct {
	bool found;          /* a pair with that key */
	bool has_value;      /* it has a '=' */
	model_decoded value; /* its value, decoded (has_value only) */
} model_query;

static bool
model_query_find(const char *qs, const char *name, model_query *q)
{
	const char *p = qs;

	memset(q, 0, sizeof(*q));
	while (*p != '\0') {
		size_t plen = strcspn(p, "&");
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq != NULL ? (size_t)(eq - p) : plen;
		model_decoded key;

		if (klen > 0) {
			if (!model_decode(p, klen, true, &key))
				return false;
			bool match = !key.bad && key.len + 1 <= MODEL_KEY_MAX &&
			             key.len == strlen(name) &&
			             memcmp(key.bytes, name, key.len) == 0;
			free(key.bytes);
			if (match) {
				q->found = true;
				q->has_value = eq != NULL;
				return eq == NULL ||
				       model_decode(eq + 1, plen - klen - 1, true, &q->value);
			}
		}
		p += plen;
		if (*p == '&')
			p++;
	}
	return true;
}

static void
check_query_get(const char *qs, const char *name, size_t outlen)
{
	char *out = malloc(outlen);
	model_query q;
	tt_err e;

	if (out == NULL)
		return;
	if (!model_query_find(qs, name, &q)) {
		free(out);
		return;
	}
	memset(out, 'X', outlen);
	e = tt_http_query_get(qs, name, out, outlen);
	if (!q.found) {
		CHECK(e == TT_ENOTFOUND);
	} else if (!q.has_value) {
		CHECK(e == TT_OK);
	} else {
		CHECK(model_result_ok(&q.value, outlen, e));
	}
	if (e == TT_OK) {
		size_t n = q.has_value ? q.value.len : 0;
		CHECK(strlen(out) == n && (n == 0 || memcmp(out, q.value.bytes, n) == 0));
	} else {
		CHECK(out[0] == '\0');
	}
	free(q.value.bytes);
	free(out);
}

static bool
model_request_id_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 128 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool plus_space = data[0] & 1;
	size_t outlen = 1 + ((data[0] >> 1) & 63);
	const char *rest = (const char *)data + 1;
	size_t restlen = size - 1;

	/* Raw bytes, NULs included, into a small and into a roomy buffer. */
	char *raw = malloc(restlen > 0 ? restlen : 1);
	if (raw == NULL)
		return 0;
	if (restlen > 0)
		memcpy(raw, rest, restlen);
	check_url_decode(raw, restlen, plus_space, outlen);
	check_url_decode(raw, restlen, plus_space, restlen + 1);
	free(raw);

	/* "<query>\0<name>" as C strings. */
	const char *nul = memchr(rest, '\0', restlen);
	size_t qlen = nul != NULL ? (size_t)(nul - rest) : restlen;
	size_t nlen = 0;
	if (nul != NULL) {
		const char *name0 = nul + 1;
		const char *end = memchr(name0, '\0', restlen - qlen - 1);
		nlen = end != NULL ? (size_t)(end - name0) : restlen - qlen - 1;
	}
	char *qs = malloc(qlen + 1);
	char *name = malloc(nlen + 1);
	if (qs != NULL && name != NULL) {
		memcpy(qs, rest, qlen);
		qs[qlen] = '\0';
		if (nlen > 0)
			memcpy(name, nul + 1, nlen);
		name[nlen] = '\0';

		check_query_get(qs, name, outlen);
		check_query_get(qs, name, qlen + 1);
		CHECK(tt_http_request_id_valid(qs) == model_request_id_valid(qs));
		CHECK(tt_http_request_id_valid(name) == model_request_id_valid(name));
	}
	free(qs);
	free(name);

	char one[1] = {'X'};
	CHECK(tt_http_query_get(NULL, "a", one, sizeof(one)) == TT_ENOTFOUND && one[0] == '\0');
	return 0;
}
