/*
 * ws_fuzz.c - libFuzzer target for tt/ws.h: the frame reader, the accept
 * key, the server header writer and the UTF-8 validator.
 *
 * Input layout: byte 0's low three bits give k (1..8); bytes 1..k are chunk
 * sizes (each byte + 1, used in turn); the rest is the client's byte stream.
 * The stream arrives in those chunks into a connection buffer that keeps
 * what the reader has not consumed; each call sees an exact-size heap copy
 * of that buffer, so a read past it is a heap overflow under ASan. The same
 * stream is then given to a second reader all at once.
 *
 * Promises checked (tt/ws.h):
 *   - *used never exceeds the bytes offered; NONE with *used == 0 only when
 *     the buffer does not hold a whole frame (checked loosely: an empty
 *     buffer never yields an event);
 *   - TEXT is valid UTF-8 by a model of Unicode table 3-7 written here,
 *     TEXT and BINARY are at most max_message bytes, PING and PONG at most
 *     125, CLOSE's reason at most 123 and UTF-8;
 *   - ERROR carries 1002, 1007 or 1009 and a reason; after it every call
 *     returns ERROR and consumes nothing;
 *   - chunking changes nothing: both readers give the same events;
 *   - fini frees everything (libFuzzer's leak check) and leaves no buffer.
 * tt_utf8_valid() must agree with the model on the whole input, and
 * tt_ws_accept_key() must accept exactly the 24-character keys of 22
 * base64 characters and "==", answering 27 base64 characters and "=".
 * tt_ws_header() must encode a length taken from the input so that the
 * RFC's rules decode it back.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/ws.h"
#include "fuzz.h"

#define MAX_MESSAGE 1024
#define MAX_EVENTS  1024 /* a frame is at least 6 bytes; inputs are at most 4096 */

/* Well-formed UTF-8 by Unicode table 3-7, byte ranges only. */
static bool
model_utf8(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint8_t lo = 0x80, hi = 0xBF;
		size_t n;

		if (c <= 0x7F) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if (c == 0xE0)
				lo = 0xA0;
			if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if (c == 0xF0)
				lo = 0x90;
			if (c == 0xF4)
				hi = 0x8F;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return false;
		i += n + 1;
	}
	return true;
}

static bool
is_b64(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* What an event looks like once its data pointer has gone stale. */
typedef struct {
	tt_ws_event_type type;
	int code;
	size_t len;
	uint64_t hash; /* FNV-1a of the data */
} seen_event;

typedef struct {
	seen_event ev[MAX_EVENTS];
	size_t n;
	bool failed;
} event_log;

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
check_event(const tt_ws_event *ev)
{
	switch (ev->type) {
	case TT_WS_EV_TEXT:
	case TT_WS_EV_BINARY:
		if (ev->type == TT_WS_EV_TEXT)
			CHECK(model_utf8(ev->data, ev->len));
		CHECK(ev->len <= MAX_MESSAGE);
		CHECK(ev->len == 0 || ev->data != NULL);
		break;
	case TT_WS_EV_PING:
	case TT_WS_EV_PONG:
		CHECK(ev->len <= TT_WS_CONTROL_MAX);
		CHECK(ev->data != NULL);
		break;
	case TT_WS_EV_CLOSE:
		CHECK(ev->len <= TT_WS_CONTROL_MAX - 2);
		CHECK(ev->code >= 0 && ev->code <= 0xFFFF);
		CHECK(model_utf8(ev->data, ev->len));
		break;
	case TT_WS_EV_ERROR:
		CHECK(ev->code == TT_WS_CLOSE_PROTOCOL || ev->code == TT_WS_CLOSE_BAD_DATA ||
		      ev->code == TT_WS_CLOSE_TOO_BIG);
		CHECK(ev->reason != NULL && ev->reason[0] != '\0');
		break;
	default:
		CHECK(0 && "unknown event type");
	}
}

/* Once failed, the reader keeps failing and takes nothing. */
static void
check_stays_failed(tt_ws_reader *r, const uint8_t *buf, size_t len)
{
	size_t used = 1;
	tt_ws_event ev;

	tt_ws_read(r, buf, len, &used, &ev);
	CHECK(ev.type == TT_WS_EV_ERROR && used == 0);
	tt_ws_read(r, buf, 0, &used, &ev);
	CHECK(ev.type == TT_WS_EV_ERROR && used == 0);
}

/*
 * Calls the reader on an exact-size copy of buf[0..len) until it needs more
 * bytes or fails; logs the events; returns the bytes consumed.
 */
static size_t
drain(tt_ws_reader *r, const uint8_t *buf, size_t len, event_log *log)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	size_t off = 0;

	CHECK(copy != NULL);
	if (len > 0)
		memcpy(copy, buf, len);
	while (!log->failed) {
		size_t used = (size_t)-1;
		tt_ws_event ev;

		tt_ws_read(r, copy + off, len - off, &used, &ev);
		CHECK(used <= len - off);
		if (ev.type == TT_WS_EV_NONE) {
			if (used == 0)
				break;
			off += used;
			continue;
		}
		CHECK(off < len); /* an event needs at least a header */
		check_event(&ev);
		CHECK(log->n < MAX_EVENTS);
		log->ev[log->n++] = (seen_event){
		    .type = ev.type,
		    .code = ev.type == TT_WS_EV_ERROR || ev.type == TT_WS_EV_CLOSE ? ev.code : 0,
		    .len = ev.len,
		    .hash = ev.len > 0 ? fnv1a(ev.data, ev.len) : 0,
		};
		off += used;
		if (ev.type == TT_WS_EV_ERROR) {
			log->failed = true;
			check_stays_failed(r, copy + off, len - off);
		}
	}
	free(copy);
	return off;
}

static void
fuzz_reader(const uint8_t *data, size_t size)
{
	static event_log chunked, whole;
	tt_ws_reader r;

	if (size < 1)
		return;
	size_t k = (size_t)(data[0] & 7) + 1;
	if (size < 1 + k)
		return;
	const uint8_t *sizes = data + 1;
	const uint8_t *stream = data + 1 + k;
	size_t len = size - 1 - k;

	/* In chunks: [consumed, arrived) is the connection buffer. */
	memset(&chunked, 0, sizeof(chunked));
	tt_ws_reader_init(&r, MAX_MESSAGE);
	size_t consumed = 0, arrived = 0;
	for (size_t c = 0; arrived < len && !chunked.failed; c++) {
		size_t chunk = (size_t)sizes[c % k] + 1;
		arrived = chunk < len - arrived ? arrived + chunk : len;
		consumed += drain(&r, stream + consumed, arrived - consumed, &chunked);
		CHECK(consumed <= arrived);
	}
	tt_ws_reader_fini(&r);
	CHECK(r.msg == NULL);

	/* All at once. */
	memset(&whole, 0, sizeof(whole));
	tt_ws_reader_init(&r, MAX_MESSAGE);
	size_t consumed_whole = drain(&r, stream, len, &whole);
	tt_ws_reader_fini(&r);

	CHECK(whole.failed == chunked.failed);
	CHECK(whole.n == chunked.n);
	if (!whole.failed)
		CHECK(consumed_whole == consumed);
	for (size_t i = 0; i < whole.n; i++) {
		CHECK(whole.ev[i].type == chunked.ev[i].type);
		CHECK(whole.ev[i].code == chunked.ev[i].code);
		CHECK(whole.ev[i].len == chunked.ev[i].len);
		CHECK(whole.ev[i].hash == chunked.ev[i].hash);
	}
}

static void
fuzz_accept_key(const uint8_t *data, size_t size)
{
	char key[40];
	char out[TT_WS_ACCEPT_LEN + 1];
	size_t n = size < sizeof(key) - 1 ? size : sizeof(key) - 1;

	memcpy(key, data, n);
	key[n] = '\0';
	size_t klen = strlen(key);
	bool want = klen == 24 && key[22] == '=' && key[23] == '=';
	for (size_t i = 0; want && i < 22; i++)
		want = is_b64((uint8_t)key[i]);

	memset(out, 'X', sizeof(out));
	tt_err e = tt_ws_accept_key(key, out);
	if (!want) {
		CHECK(e == TT_EPARSE);
		CHECK(out[0] == 'X');
		return;
	}
	CHECK(e == TT_OK);
	CHECK(out[TT_WS_ACCEPT_LEN] == '\0');
	CHECK(out[TT_WS_ACCEPT_LEN - 1] == '=');
	for (size_t i = 0; i < TT_WS_ACCEPT_LEN - 1; i++)
		CHECK(is_b64((uint8_t)out[i]));
}

static void
fuzz_header(const uint8_t *data, size_t size)
{
	uint8_t out[TT_WS_HEADER_MAX];
	uint64_t len = 0;
	int opcode;

	if (size < 9)
		return;
	opcode = data[0] & 0x0F;
	for (int i = 1; i <= 8; i++)
		len = (len << 8) | data[i];
	len >>= data[0] >> 2; /* small lengths too */
	if ((len >> 63) != 0)
		return; /* the RFC keeps the top bit clear */
	size_t n = tt_ws_header(out, opcode, (size_t)len);
	CHECK(out[0] == (0x80 | opcode));
	CHECK((out[1] & 0x80) == 0);
	uint64_t back = out[1];
	if (back < 126) {
		CHECK(n == 2);
	} else if (back == 126) {
		CHECK(n == 4);
		back = ((uint64_t)out[2] << 8) | out[3];
		CHECK(back >= 126);
	} else {
		CHECK(n == 10);
		back = 0;
		for (int i = 2; i < 10; i++)
			back = (back << 8) | out[i];
		CHECK(back > 0xFFFF);
	}
	CHECK(back == len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reader(data, size);
	CHECK(tt_utf8_valid(data, size) == model_utf8(data, size));
	fuzz_accept_key(data, size);
	fuzz_header(data, size);
	return 0;
}
