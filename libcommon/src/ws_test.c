/*
 * ws_test.c - the WebSocket frame reader, header writer, accept key and
 * UTF-8 validator of tt/ws.h, against values taken from the RFCs rather
 * than from ws.c:
 *
 *   - RFC 6455 section 1.3: key "dGhlIHNhbXBsZSBub25jZQ==" answers
 *     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" (also what
 *     printf %s '<key>258EAFA5-E914-47DA-95CA-C5AB0DC85B11' | openssl sha1 -binary | base64
 *     prints, as it does for the second key below);
 *   - RFC 6455 section 5.7: the example frames ("Hello" masked with
 *     37 fa 21 3d, "Hel" + "lo", ping, pong, 256 bytes with the 16-bit
 *     length, 64 KiB with the 64-bit length), re-masked by frame_add()
 *     since a server must refuse unmasked client frames; frame_add() is
 *     first checked to reproduce the RFC's masked "Hello" byte for byte;
 *   - RFC 6455 sections 5.2, 5.4, 5.5, 5.6, 7.4 and 8.1 for the violations
 *     and their close codes;
 *   - RFC 3629 / Unicode table 3-7 for the well-formed UTF-8 sequences.
 *
 * Every buffer handed to tt_ws_read() is a heap block of exactly the bytes
 * offered, so a read past them is a heap overflow under ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tt/ws.h"

#define MAX_MESSAGE 65536
#define MAX_EVENTS  16

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d}; /* the RFC's example key */

/* RFC 6455 section 5.7: "A single-frame masked text message" ("Hello"). */
static const uint8_t RFC_MASKED_HELLO[] = {
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};

/* ---- a client-side encoder ---------------------------------------------- */

/* The first byte: FIN, RSV1-3 (rsv's low three bits), opcode. */
static uint8_t
first_byte(bool fin, int rsv, int opcode)
{
	return (uint8_t)((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0F));
}

/*
 * Writes a client frame into out (large enough) with the shortest length
 * encoding, masked with mask unless mask is NULL; returns its size.
 */
static size_t
frame_raw(uint8_t *out, uint8_t b0, const uint8_t *mask, const void *payload, size_t len)
{
	const uint8_t *p = payload;
	uint8_t mbit = mask != NULL ? 0x80 : 0;
	size_t n = 0;

	out[n++] = b0;
	if (len < 126) {
		out[n++] = (uint8_t)(mbit | len);
	} else if (len <= 0xFFFF) {
		out[n++] = (uint8_t)(mbit | 126);
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else {
		out[n++] = (uint8_t)(mbit | 127);
		for (int shift = 56; shift >= 0; shift -= 8)
			out[n++] = (uint8_t)((uint64_t)len >> shift);
	}
	if (mask != NULL) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	for (size_t i = 0; i < len; i++)
		out[n + i] = mask != NULL ? (uint8_t)(p[i] ^ mask[i % 4]) : p[i];
	return n + len;
}

/* A masked frame with the RFC's key, appended at out + *at. */
static void
frame_add(uint8_t *out, size_t *at, bool fin, int opcode, const void *payload, size_t len)
{
	*at += frame_raw(out + *at, first_byte(fin, 0, opcode), MASK, payload, len);
}

/* ---- feeding the reader -------------------------------------------------- */

typedef struct {
	tt_ws_event_type type;
	int code;
	size_t len;
	uint8_t *data; /* a copy: the reader's pointer is valid until the next call */
} rec_event;

typedef struct {
	rec_event ev[MAX_EVENTS];
	size_t n;
	bool failed; /* an ERROR ended the feeding */
} rec_log;

static void
log_add(rec_log *log, const tt_ws_event *ev)
{
	assert_true(log->n < MAX_EVENTS);
	rec_event *e = &log->ev[log->n++];
	e->type = ev->type;
	e->code = ev->code;
	e->len = ev->len;
	e->data = malloc(ev->len > 0 ? ev->len : 1);
	assert_non_null(e->data);
	if (ev->len > 0)
		memcpy(e->data, ev->data, ev->len);
	if (ev->type == TT_WS_EV_ERROR) {
		assert_non_null(ev->reason);
		log->failed = true;
	}
}

static void
log_free(rec_log *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->ev[i].data);
	memset(log, 0, sizeof(*log));
}

/*
 * Hands buf[0..len) to the reader as a connection would: from an exact-size
 * heap copy, call after call until it needs more bytes or fails. Records
 * the events; returns the bytes consumed.
 */
static size_t
feed(tt_ws_reader *r, const uint8_t *buf, size_t len, rec_log *log)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	size_t off = 0;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	while (!log->failed) {
		size_t used = (size_t)-1;
		tt_ws_event ev;
		tt_ws_read(r, copy + off, len - off, &used, &ev);
		assert_true(used <= len - off);
		off += used;
		if (ev.type != TT_WS_EV_NONE)
			log_add(log, &ev);
		else if (used == 0)
			break;
	}
	free(copy);
	return off;
}

/* Feeds buf as if it arrived one byte at a time, unconsumed bytes kept. */
static size_t
feed_bytewise(tt_ws_reader *r, const uint8_t *buf, size_t len, rec_log *log)
{
	size_t consumed = 0;

	for (size_t have = 1; have <= len && !log->failed; have++)
		consumed += feed(r, buf + consumed, have - consumed, log);
	return consumed;
}

/* One fresh reader over buf; returns the consumed count, fills log. */
static size_t
read_all(const uint8_t *buf, size_t len, size_t max_message, rec_log *log)
{
	tt_ws_reader r;
	tt_ws_reader_init(&r, max_message);
	size_t used = feed(&r, buf, len, log);
	tt_ws_reader_fini(&r);
	return used;
}

static void
assert_event(const rec_event *e, tt_ws_event_type type, const void *data, size_t len)
{
	assert_int_equal(e->type, type);
	assert_int_equal(e->len, len);
	if (len > 0)
		assert_memory_equal(e->data, data, len);
}

/* The whole of buf, one reader, gives exactly one ERROR with code. */
static void
assert_violation(const uint8_t *buf, size_t len, size_t max_message, int code)
{
	rec_log log = {0};
	read_all(buf, len, max_message, &log);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.ev[0].type, TT_WS_EV_ERROR);
	assert_int_equal(log.ev[0].code, code);
	log_free(&log);
}

/* ---- accept key ------------------------------------------------------------ */

static void
test_accept_key_of_the_rfc_example(void **state)
{
	(void)state;
	char out[TT_WS_ACCEPT_LEN + 1];
	assert_int_equal(tt_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), TT_OK);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void
test_accept_key_of_another_key(void **state)
{
	(void)state;
	char out[TT_WS_ACCEPT_LEN + 1];
	assert_int_equal(tt_ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out), TT_OK);
	assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

static void
test_accept_key_refuses_keys_that_are_not_16_bytes_of_base64(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "",                          /* empty */
	    "dGhlIHNhbXBsZSBub25jZQ=",   /* 23 characters */
	    "dGhlIHNhbXBsZSBub25jZQ==x", /* 25 */
	    "dGhlIHNhbXBsZSBub25jZQAA",  /* 18 bytes' worth, no padding */
	    "dGhlIHNhbXBsZSBub25jZ===",  /* padding too early */
	    "dGhlIHNhbXBsZSBub25j!Q==",  /* not base64 */
	    "dGhlIHNhbXBsZSBub25j ZQ=",  /* a space */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[TT_WS_ACCEPT_LEN + 1];
		memset(out, 'X', sizeof(out));
		assert_int_equal(tt_ws_accept_key(bad[i], out), TT_EPARSE);
		assert_int_equal(out[0], 'X'); /* written on success only */
	}
	char out[TT_WS_ACCEPT_LEN + 1];
	assert_int_equal(tt_ws_accept_key(NULL, out), TT_EPARSE);
}

/* ---- the RFC 6455 section 5.7 examples ------------------------------------- */

static void
test_encoder_reproduces_the_rfc_masked_hello(void **state)
{
	(void)state;
	uint8_t out[32];
	size_t n = 0;
	frame_add(out, &n, true, TT_WS_OP_TEXT, "Hello", 5);
	assert_int_equal(n, sizeof(RFC_MASKED_HELLO));
	assert_memory_equal(out, RFC_MASKED_HELLO, sizeof(RFC_MASKED_HELLO));
}

static void
test_rfc_masked_hello_is_one_text_message(void **state)
{
	(void)state;
	rec_log log = {0};
	assert_int_equal(read_all(RFC_MASKED_HELLO, sizeof(RFC_MASKED_HELLO), MAX_MESSAGE, &log),
	    sizeof(RFC_MASKED_HELLO));
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_TEXT, "Hello", 5);
	log_free(&log);
}

static void
test_rfc_unmasked_hello_is_a_protocol_error(void **state)
{
	(void)state;
	static const uint8_t rfc[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
	assert_violation(rfc, sizeof(rfc), MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
}

static void
test_rfc_fragmented_hello_is_one_text_message(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = 0;
	frame_add(buf, &n, false, TT_WS_OP_TEXT, "Hel", 3);
	size_t first = n;
	frame_add(buf, &n, true, TT_WS_OP_CONT, "lo", 2);

	tt_ws_reader r;
	tt_ws_event ev;
	size_t used;
	tt_ws_reader_init(&r, MAX_MESSAGE);
	tt_ws_read(&r, buf, n, &used, &ev);
	assert_int_equal(ev.type, TT_WS_EV_NONE); /* a fragment stored */
	assert_int_equal(used, first);
	assert_int_equal(first, 2 + 4 + 3);
	tt_ws_read(&r, buf + used, n - used, &used, &ev);
	assert_int_equal(ev.type, TT_WS_EV_TEXT);
	assert_int_equal(used, n - first);
	assert_int_equal(ev.len, 5);
	assert_memory_equal(ev.data, "Hello", 5);
	tt_ws_read(&r, buf + n, 0, &used, &ev);
	assert_int_equal(ev.type, TT_WS_EV_NONE);
	assert_int_equal(used, 0);
	tt_ws_reader_fini(&r);
}

static void
test_rfc_ping_and_masked_pong(void **state)
{
	(void)state;
	/* Section 5.7's pong is given masked; its ping is re-masked here. */
	static const uint8_t pong[] = {
	    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	uint8_t buf[64];
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_PING, "Hello", 5);
	memcpy(buf + n, pong, sizeof(pong));
	n += sizeof(pong);

	rec_log log = {0};
	assert_int_equal(read_all(buf, n, MAX_MESSAGE, &log), n);
	assert_int_equal(log.n, 2);
	assert_event(&log.ev[0], TT_WS_EV_PING, "Hello", 5);
	assert_event(&log.ev[1], TT_WS_EV_PONG, "Hello", 5);
	log_free(&log);
}

static void
test_rfc_256_bytes_use_the_16_bit_length(void **state)
{
	(void)state;
	uint8_t payload[256], buf[256 + 8];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_BINARY, payload, sizeof(payload));
	/* 0x82 0x7E 0x0100 in the RFC, with the mask bit set. */
	static const uint8_t head[] = {0x82, 0xFE, 0x01, 0x00};
	assert_memory_equal(buf, head, sizeof(head));
	assert_int_equal(n, 4 + 4 + 256);

	rec_log log = {0};
	assert_int_equal(read_all(buf, n, MAX_MESSAGE, &log), n);
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_BINARY, payload, sizeof(payload));
	log_free(&log);
}

static void
test_rfc_64_kib_use_the_64_bit_length(void **state)
{
	(void)state;
	size_t plen = 65536;
	uint8_t *payload = malloc(plen), *buf = malloc(plen + 14);
	assert_non_null(payload);
	assert_non_null(buf);
	for (size_t i = 0; i < plen; i++)
		payload[i] = (uint8_t)(i ^ (i >> 8));
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_BINARY, payload, plen);
	/* 0x82 0x7F 0x0000000000010000 in the RFC, with the mask bit set. */
	static const uint8_t head[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
	assert_memory_equal(buf, head, sizeof(head));
	assert_int_equal(n, 10 + 4 + plen);

	rec_log log = {0};
	assert_int_equal(read_all(buf, n, MAX_MESSAGE, &log), n);
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_BINARY, payload, plen);
	log_free(&log);
	free(payload);
	free(buf);
}

/* ---- incomplete input ---------------------------------------------------------- */

static void
test_every_proper_prefix_of_a_frame_needs_more_bytes(void **state)
{
	(void)state;
	uint8_t payload[300], buf[400];
	memset(payload, 'a', sizeof(payload));
	/* 7-bit, 16-bit length; each prefix must give NONE with nothing used. */
	size_t sizes[] = {5, 300};
	for (size_t s = 0; s < 2; s++) {
		size_t n = 0;
		frame_add(buf, &n, true, TT_WS_OP_TEXT, payload, sizes[s]);
		for (size_t k = 0; k < n; k++) {
			rec_log log = {0};
			assert_int_equal(read_all(buf, k, MAX_MESSAGE, &log), 0);
			assert_int_equal(log.n, 0);
		}
	}
}

static void
test_64_bit_length_header_waits_for_all_ten_bytes(void **state)
{
	(void)state;
	static const uint8_t head[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x37, 0xfa};
	for (size_t k = 0; k <= sizeof(head); k++) {
		rec_log log = {0};
		assert_int_equal(read_all(head, k, MAX_MESSAGE, &log), 0);
		assert_int_equal(log.n, 0);
	}
}

/* ---- several frames, chunking ------------------------------------------------- */

static void
test_several_frames_in_one_buffer(void **state)
{
	(void)state;
	uint8_t buf[512], bin[200];
	memset(bin, 0xAB, sizeof(bin));
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_TEXT, "Hello", 5);
	frame_add(buf, &n, true, TT_WS_OP_PING, "p", 1);
	frame_add(buf, &n, true, TT_WS_OP_BINARY, bin, sizeof(bin));
	frame_add(buf, &n, true, TT_WS_OP_TEXT, "", 0);
	size_t whole = n;
	frame_add(buf, &n, true, TT_WS_OP_TEXT, "tail", 4);

	rec_log log = {0};
	/* The last frame is cut short by one byte: not consumed, no event. */
	assert_int_equal(read_all(buf, n - 1, MAX_MESSAGE, &log), whole);
	assert_int_equal(log.n, 4);
	assert_event(&log.ev[0], TT_WS_EV_TEXT, "Hello", 5);
	assert_event(&log.ev[1], TT_WS_EV_PING, "p", 1);
	assert_event(&log.ev[2], TT_WS_EV_BINARY, bin, sizeof(bin));
	assert_event(&log.ev[3], TT_WS_EV_TEXT, "", 0);
	log_free(&log);
}

static void
assert_same_logs(const rec_log *a, const rec_log *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->ev[i].type, b->ev[i].type);
		assert_int_equal(a->ev[i].code, b->ev[i].code);
		assert_event(&a->ev[i], b->ev[i].type, b->ev[i].data, b->ev[i].len);
	}
}

static void
test_byte_by_byte_gives_the_same_events_as_all_at_once(void **state)
{
	(void)state;
	uint8_t buf[1024], bin[300];
	static const uint8_t close_body[] = {0x03, 0xE8, 'b', 'y', 'e'}; /* 1000 "bye" */
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;
	size_t n = 0;
	frame_add(buf, &n, false, TT_WS_OP_TEXT, "Hel", 3);
	frame_add(buf, &n, true, TT_WS_OP_PING, "", 0);
	frame_add(buf, &n, false, TT_WS_OP_CONT, "l", 1);
	frame_add(buf, &n, true, TT_WS_OP_PONG, "x", 1);
	frame_add(buf, &n, true, TT_WS_OP_CONT, "o", 1);
	frame_add(buf, &n, true, TT_WS_OP_BINARY, bin, sizeof(bin));
	frame_add(buf, &n, false, TT_WS_OP_BINARY, bin, 10);
	frame_add(buf, &n, true, TT_WS_OP_CONT, bin + 10, 20);
	frame_add(buf, &n, true, TT_WS_OP_CLOSE, close_body, sizeof(close_body));

	rec_log once = {0}, bytewise = {0};
	tt_ws_reader r;
	assert_int_equal(read_all(buf, n, MAX_MESSAGE, &once), n);
	tt_ws_reader_init(&r, MAX_MESSAGE);
	assert_int_equal(feed_bytewise(&r, buf, n, &bytewise), n);
	tt_ws_reader_fini(&r);

	assert_int_equal(once.n, 6);
	assert_event(&once.ev[0], TT_WS_EV_PING, "", 0);
	assert_event(&once.ev[1], TT_WS_EV_PONG, "x", 1);
	assert_event(&once.ev[2], TT_WS_EV_TEXT, "Hello", 5);
	assert_event(&once.ev[3], TT_WS_EV_BINARY, bin, sizeof(bin));
	assert_event(&once.ev[4], TT_WS_EV_BINARY, bin, 30);
	assert_event(&once.ev[5], TT_WS_EV_CLOSE, "bye", 3);
	assert_int_equal(once.ev[5].code, 1000);
	assert_same_logs(&once, &bytewise);
	log_free(&once);
	log_free(&bytewise);
}

static void
test_byte_by_byte_reports_the_same_violation(void **state)
{
	(void)state;
	uint8_t buf[128];
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_TEXT, "ok", 2);
	frame_add(buf, &n, false, TT_WS_OP_TEXT, "a", 1);
	frame_add(buf, &n, true, TT_WS_OP_BINARY, "b", 1); /* inside the message */

	rec_log once = {0}, bytewise = {0};
	tt_ws_reader r;
	read_all(buf, n, MAX_MESSAGE, &once);
	tt_ws_reader_init(&r, MAX_MESSAGE);
	feed_bytewise(&r, buf, n, &bytewise);
	tt_ws_reader_fini(&r);
	assert_int_equal(once.n, 2);
	assert_event(&once.ev[0], TT_WS_EV_TEXT, "ok", 2);
	assert_int_equal(once.ev[1].type, TT_WS_EV_ERROR);
	assert_int_equal(once.ev[1].code, TT_WS_CLOSE_PROTOCOL);
	assert_same_logs(&once, &bytewise);
	log_free(&once);
	log_free(&bytewise);
}

/* ---- control frames ---------------------------------------------------------------- */

static void
test_control_frames_between_fragments_are_delivered_at_once(void **state)
{
	(void)state;
	uint8_t buf[256];
	size_t n = 0;
	frame_add(buf, &n, false, TT_WS_OP_TEXT, "Hel", 3);
	frame_add(buf, &n, true, TT_WS_OP_PING, "are you there", 13);
	frame_add(buf, &n, true, TT_WS_OP_CONT, "lo", 2);

	rec_log log = {0};
	assert_int_equal(read_all(buf, n, MAX_MESSAGE, &log), n);
	assert_int_equal(log.n, 2);
	assert_event(&log.ev[0], TT_WS_EV_PING, "are you there", 13);
	assert_event(&log.ev[1], TT_WS_EV_TEXT, "Hello", 5);
	log_free(&log);
}

static void
test_close_between_fragments_is_delivered(void **state)
{
	(void)state;
	static const uint8_t body[] = {0x03, 0xE9}; /* 1001 */
	uint8_t buf[128];
	size_t n = 0;
	frame_add(buf, &n, false, TT_WS_OP_BINARY, "ab", 2);
	frame_add(buf, &n, true, TT_WS_OP_CLOSE, body, sizeof(body));

	rec_log log = {0};
	assert_int_equal(read_all(buf, n, MAX_MESSAGE, &log), n);
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_CLOSE, "", 0);
	assert_int_equal(log.ev[0].code, TT_WS_CLOSE_GOING_AWAY);
	log_free(&log);
}

static void
test_close_without_body_reports_1005(void **state)
{
	(void)state;
	uint8_t buf[16];
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_CLOSE, "", 0);
	rec_log log = {0};
	read_all(buf, n, MAX_MESSAGE, &log);
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_CLOSE, "", 0);
	assert_int_equal(log.ev[0].code, TT_WS_CLOSE_NO_STATUS);
	log_free(&log);
}

static void
test_close_with_code_and_reason(void **state)
{
	(void)state;
	/* 4000 (private use) and "caf\u00e9". */
	static const uint8_t body[] = {0x0F, 0xA0, 'c', 'a', 'f', 0xC3, 0xA9};
	uint8_t buf[32];
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_CLOSE, body, sizeof(body));
	rec_log log = {0};
	read_all(buf, n, MAX_MESSAGE, &log);
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_CLOSE, "caf\xC3\xA9", 5);
	assert_int_equal(log.ev[0].code, 4000);
	log_free(&log);
}

static void
test_control_payload_of_125_bytes_is_accepted(void **state)
{
	(void)state;
	uint8_t payload[125], buf[160];
	memset(payload, 'z', sizeof(payload));
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_PING, payload, sizeof(payload));
	rec_log log = {0};
	read_all(buf, n, MAX_MESSAGE, &log);
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_PING, payload, sizeof(payload));
	log_free(&log);
}

/* ---- violations and their close codes (RFC 6455 sections 5 and 7.4) -------------- */

static void
test_reserved_bits_are_a_protocol_error(void **state)
{
	(void)state;
	for (int rsv = 1; rsv <= 7; rsv++) {
		uint8_t buf[32];
		size_t n = frame_raw(buf, first_byte(true, rsv, TT_WS_OP_TEXT), MASK, "a", 1);
		assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
	}
}

static void
test_unknown_opcodes_are_a_protocol_error(void **state)
{
	(void)state;
	static const int unknown[] = {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		uint8_t buf[32];
		size_t n = frame_raw(buf, first_byte(true, 0, unknown[i]), MASK, "a", 1);
		assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
	}
}

static void
test_unmasked_frames_are_a_protocol_error(void **state)
{
	(void)state;
	static const int ops[] = {TT_WS_OP_TEXT, TT_WS_OP_BINARY, TT_WS_OP_PING, TT_WS_OP_CLOSE};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		uint8_t buf[32];
		size_t n = frame_raw(buf, first_byte(true, 0, ops[i]), NULL, "", 0);
		assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
	}
}

static void
test_fragmented_control_frames_are_a_protocol_error(void **state)
{
	(void)state;
	static const int ops[] = {TT_WS_OP_PING, TT_WS_OP_PONG, TT_WS_OP_CLOSE};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		uint8_t buf[32];
		size_t n = frame_raw(buf, first_byte(false, 0, ops[i]), MASK, "", 0);
		assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
	}
}

static void
test_control_frames_over_125_bytes_are_a_protocol_error(void **state)
{
	(void)state;
	static const int ops[] = {TT_WS_OP_PING, TT_WS_OP_PONG, TT_WS_OP_CLOSE};
	uint8_t payload[126];
	memset(payload, 'a', sizeof(payload));
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		uint8_t buf[160];
		size_t n =
		    frame_raw(buf, first_byte(true, 0, ops[i]), MASK, payload, sizeof(payload));
		assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
		/* Known from the header alone. */
		assert_violation(buf, 4, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
	}
}

static void
test_continuation_without_a_message_is_a_protocol_error(void **state)
{
	(void)state;
	uint8_t buf[32];
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_CONT, "lo", 2);
	assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
	n = 0;
	frame_add(buf, &n, false, TT_WS_OP_CONT, "lo", 2);
	assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
}

static void
test_continuation_after_a_finished_message_is_a_protocol_error(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = 0;
	/* 10 + 10 bytes would pass a 16-byte limit only if the first message is forgotten. */
	frame_add(buf, &n, true, TT_WS_OP_TEXT, "0123456789", 10);
	frame_add(buf, &n, true, TT_WS_OP_CONT, "0123456789", 10);
	rec_log log = {0};
	read_all(buf, n, 16, &log);
	assert_int_equal(log.n, 2);
	assert_event(&log.ev[0], TT_WS_EV_TEXT, "0123456789", 10);
	assert_int_equal(log.ev[1].type, TT_WS_EV_ERROR);
	assert_int_equal(log.ev[1].code, TT_WS_CLOSE_PROTOCOL);
	log_free(&log);
}

static void
test_new_data_frame_inside_a_message_is_a_protocol_error(void **state)
{
	(void)state;
	static const int ops[] = {TT_WS_OP_TEXT, TT_WS_OP_BINARY};
	for (size_t i = 0; i < 2; i++) {
		for (size_t k = 0; k < 2; k++) {
			uint8_t buf[64];
			size_t n = 0;
			frame_add(buf, &n, false, ops[i], "Hel", 3);
			frame_add(buf, &n, k == 0, ops[k], "lo", 2);
			assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
		}
	}
}

static void
test_message_over_the_limit_is_too_big_before_its_payload(void **state)
{
	(void)state;
	uint8_t payload[300], buf[400];
	memset(payload, 'a', sizeof(payload));
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_BINARY, payload, 17);
	/* The 2-byte header alone: 17 > 16 is known. */
	assert_violation(buf, 2, 16, TT_WS_CLOSE_TOO_BIG);
	assert_violation(buf, n, 16, TT_WS_CLOSE_TOO_BIG);
	/* Exactly the limit is fine. */
	n = 0;
	frame_add(buf, &n, true, TT_WS_OP_TEXT, payload, 16);
	rec_log log = {0};
	read_all(buf, n, 16, &log);
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_TEXT, payload, 16);
	log_free(&log);
	/* 16-bit length: the 4-byte header is enough. */
	n = 0;
	frame_add(buf, &n, true, TT_WS_OP_TEXT, payload, 300);
	assert_violation(buf, 4, 299, TT_WS_CLOSE_TOO_BIG);
}

static void
test_64_bit_length_over_the_limit_is_too_big_before_its_payload(void **state)
{
	(void)state;
	/* 2^32 bytes announced; only the header and the mask are here. */
	static const uint8_t head[] = {
	    0x82, 0xFF, 0, 0, 0, 0x01, 0, 0, 0, 0, 0x37, 0xfa, 0x21, 0x3d};
	assert_violation(head, 10, MAX_MESSAGE, TT_WS_CLOSE_TOO_BIG);
	assert_violation(head, sizeof(head), MAX_MESSAGE, TT_WS_CLOSE_TOO_BIG);
	/* 65537 with a 65536 limit. */
	static const uint8_t just[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x01};
	assert_violation(just, sizeof(just), MAX_MESSAGE, TT_WS_CLOSE_TOO_BIG);
}

static void
test_fragments_adding_up_over_the_limit_are_too_big(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = 0;
	frame_add(buf, &n, false, TT_WS_OP_TEXT, "Hello", 5);
	frame_add(buf, &n, false, TT_WS_OP_CONT, "Hello", 5);
	size_t third = n;
	frame_add(buf, &n, true, TT_WS_OP_CONT, "World", 5);

	/* 15 > 12, known from the third frame's header. */
	rec_log log = {0};
	assert_int_equal(read_all(buf, third + 2, 12, &log), third);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.ev[0].type, TT_WS_EV_ERROR);
	assert_int_equal(log.ev[0].code, TT_WS_CLOSE_TOO_BIG);
	log_free(&log);
	/* And 15 within a 15-byte limit is one message. */
	read_all(buf, n, 15, &log);
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_TEXT, "HelloHelloWorld", 15);
	log_free(&log);
}

static void
test_invalid_utf8_text_is_bad_data(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_TEXT, "ab\xC0\x80", 4);
	assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_BAD_DATA);
	/* Fragments that end in the middle of a character. */
	n = 0;
	frame_add(buf, &n, false, TT_WS_OP_TEXT, "x\xE2\x82", 3);
	frame_add(buf, &n, true, TT_WS_OP_CONT, "", 0);
	assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_BAD_DATA);
	/* Binary messages are not UTF-8 checked. */
	n = 0;
	frame_add(buf, &n, true, TT_WS_OP_BINARY, "\xC0\x80\xFF", 3);
	rec_log log = {0};
	read_all(buf, n, MAX_MESSAGE, &log);
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_BINARY, "\xC0\x80\xFF", 3);
	log_free(&log);
}

static void
test_character_split_across_fragments_is_valid_text(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = 0;
	/* U+20AC EURO SIGN is E2 82 AC. */
	frame_add(buf, &n, false, TT_WS_OP_TEXT, "\xE2", 1);
	frame_add(buf, &n, false, TT_WS_OP_CONT, "\x82", 1);
	frame_add(buf, &n, true, TT_WS_OP_CONT, "\xAC", 1);
	rec_log log = {0};
	read_all(buf, n, MAX_MESSAGE, &log);
	assert_int_equal(log.n, 1);
	assert_event(&log.ev[0], TT_WS_EV_TEXT, "\xE2\x82\xAC", 3);
	log_free(&log);
}

static void
test_close_with_a_1_byte_body_is_a_protocol_error(void **state)
{
	(void)state;
	uint8_t buf[16];
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_CLOSE, "\x03", 1);
	assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
}

static void
test_close_reason_not_utf8_is_bad_data(void **state)
{
	(void)state;
	static const uint8_t body[] = {0x03, 0xE8, 0xED, 0xA0, 0x80};
	uint8_t buf[16];
	size_t n = 0;
	frame_add(buf, &n, true, TT_WS_OP_CLOSE, body, sizeof(body));
	assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_BAD_DATA);
}

static void
test_close_codes_never_sent_on_the_wire_are_a_protocol_error(void **state)
{
	(void)state;
	static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t body[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]}, buf[16];
		size_t n = 0;
		frame_add(buf, &n, true, TT_WS_OP_CLOSE, body, 2);
		assert_violation(buf, n, MAX_MESSAGE, TT_WS_CLOSE_PROTOCOL);
	}
}

static void
test_64_bit_length_with_its_top_bit_is_a_protocol_error(void **state)
{
	(void)state;
	static const uint8_t head[] = {
	    0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x05, 0x37, 0xfa, 0x21, 0x3d};
	assert_violation(head, 10, (size_t)-1, TT_WS_CLOSE_PROTOCOL);
	assert_violation(head, sizeof(head), (size_t)-1, TT_WS_CLOSE_PROTOCOL);
}

static void
test_after_an_error_every_call_fails(void **state)
{
	(void)state;
	static const uint8_t unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
	uint8_t good[16];
	size_t n = 0, used = 99;
	tt_ws_event ev;
	tt_ws_reader r;

	frame_add(good, &n, true, TT_WS_OP_TEXT, "Hello", 5);
	tt_ws_reader_init(&r, MAX_MESSAGE);
	tt_ws_read(&r, unmasked, sizeof(unmasked), &used, &ev);
	assert_int_equal(ev.type, TT_WS_EV_ERROR);
	for (int i = 0; i < 3; i++) {
		tt_ws_read(&r, good, n, &used, &ev);
		assert_int_equal(ev.type, TT_WS_EV_ERROR);
		assert_int_equal(used, 0);
		assert_non_null(ev.reason);
		tt_ws_read(&r, good, 0, &used, &ev);
		assert_int_equal(ev.type, TT_WS_EV_ERROR);
	}
	tt_ws_reader_fini(&r);
}

static void
test_after_an_error_the_same_close_code_is_repeated(void **state)
{
	(void)state;
	uint8_t buf[16];
	size_t n = 0, used;
	tt_ws_event ev;
	tt_ws_reader r;

	frame_add(buf, &n, true, TT_WS_OP_TEXT, "0123456789", 10);
	tt_ws_reader_init(&r, 4);
	tt_ws_read(&r, buf, n, &used, &ev);
	assert_int_equal(ev.type, TT_WS_EV_ERROR);
	assert_int_equal(ev.code, TT_WS_CLOSE_TOO_BIG);
	tt_ws_read(&r, buf, n, &used, &ev);
	assert_int_equal(ev.type, TT_WS_EV_ERROR);
	assert_int_equal(ev.code, TT_WS_CLOSE_TOO_BIG);
	tt_ws_reader_fini(&r);
}

static void
test_fini_accepts_a_zeroed_and_a_finished_reader(void **state)
{
	(void)state;
	tt_ws_reader r;
	memset(&r, 0, sizeof(r));
	tt_ws_reader_fini(&r);
	tt_ws_reader_init(&r, MAX_MESSAGE);
	uint8_t buf[16];
	size_t n = 0;
	rec_log log = {0};
	frame_add(buf, &n, false, TT_WS_OP_TEXT, "half", 4); /* left open */
	feed(&r, buf, n, &log);
	tt_ws_reader_fini(&r);
	tt_ws_reader_fini(&r);
	assert_null(r.msg);
	log_free(&log);
}

/* ---- server frame header ------------------------------------------------------------ */

static void
assert_header(int opcode, size_t len, const uint8_t *want, size_t want_len)
{
	uint8_t out[TT_WS_HEADER_MAX];
	memset(out, 0xEE, sizeof(out));
	assert_int_equal(tt_ws_header(out, opcode, len), want_len);
	assert_memory_equal(out, want, want_len);
}

static void
test_header_lengths_0_125_126_65535_65536(void **state)
{
	(void)state;
	/* RFC 6455 5.2: 0-125 in the 7 bits, 126 + 16 bits, 127 + 64 bits; FIN set, no mask. */
	static const uint8_t h0[] = {0x81, 0x00};
	static const uint8_t h125[] = {0x81, 0x7D};
	static const uint8_t h126[] = {0x82, 0x7E, 0x00, 0x7E};
	static const uint8_t h65535[] = {0x82, 0x7E, 0xFF, 0xFF};
	static const uint8_t h65536[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
	static const uint8_t close2[] = {0x88, 0x02};
	static const uint8_t pong[] = {0x8A, 0x05};
	assert_header(TT_WS_OP_TEXT, 0, h0, sizeof(h0));
	assert_header(TT_WS_OP_TEXT, 125, h125, sizeof(h125));
	assert_header(TT_WS_OP_BINARY, 126, h126, sizeof(h126));
	assert_header(TT_WS_OP_BINARY, 65535, h65535, sizeof(h65535));
	assert_header(TT_WS_OP_BINARY, 65536, h65536, sizeof(h65536));
	assert_header(TT_WS_OP_CLOSE, 2, close2, sizeof(close2));
	assert_header(TT_WS_OP_PONG, 5, pong, sizeof(pong));
}

/* ---- UTF-8 ----------------------------------------------------------------------------- */

static bool
utf8(const char *s, size_t len)
{
	/* An exact-size copy: the validator must not look past len. */
	uint8_t *copy = malloc(len > 0 ? len : 1);
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, s, len);
	bool ok = tt_utf8_valid(copy, len);
	free(copy);
	return ok;
}

#define UTF8(lit) utf8(lit, sizeof(lit) - 1)

static void
test_utf8_accepts_well_formed_text(void **state)
{
	(void)state;
	assert_true(UTF8(""));
	assert_true(UTF8("plain ASCII \x01\x7F"));
	assert_true(utf8("\0", 1));
	assert_true(UTF8("\xC2\x80"));         /* U+0080, smallest 2-byte */
	assert_true(UTF8("\xC3\xA9"));         /* U+00E9 */
	assert_true(UTF8("\xDF\xBF"));         /* U+07FF */
	assert_true(UTF8("\xE0\xA0\x80"));     /* U+0800, smallest 3-byte */
	assert_true(UTF8("\xE2\x82\xAC"));     /* U+20AC */
	assert_true(UTF8("\xED\x9F\xBF"));     /* U+D7FF, below the surrogates */
	assert_true(UTF8("\xEE\x80\x80"));     /* U+E000, above them */
	assert_true(UTF8("\xEF\xBF\xBF"));     /* U+FFFF */
	assert_true(UTF8("\xF0\x90\x80\x80")); /* U+10000, smallest 4-byte */
	assert_true(UTF8("\xF0\x9D\x84\x9E")); /* U+1D11E */
	assert_true(UTF8("\xF4\x8F\xBF\xBF")); /* U+10FFFF, the last */
	assert_true(UTF8("a\xC3\xA9"
	                 "b\xE2\x82\xAC"
	                 "c\xF0\x9F\x8E\xAB"
	                 "d"));
}

static void
test_utf8_refuses_overlongs(void **state)
{
	(void)state;
	assert_false(UTF8("\xC0\x80"));
	assert_false(UTF8("\xC1\xBF"));
	assert_false(UTF8("\xE0\x80\x80"));
	assert_false(UTF8("\xE0\x9F\xBF"));
	assert_false(UTF8("\xF0\x80\x80\x80"));
	assert_false(UTF8("\xF0\x8F\xBF\xBF"));
}

static void
test_utf8_refuses_surrogates(void **state)
{
	(void)state;
	assert_false(UTF8("\xED\xA0\x80"));             /* U+D800 */
	assert_false(UTF8("\xED\xBF\xBF"));             /* U+DFFF */
	assert_false(UTF8("\xED\xA0\xBD\xED\xB2\xA9")); /* a CESU-8 pair */
}

static void
test_utf8_refuses_beyond_u10ffff(void **state)
{
	(void)state;
	assert_false(UTF8("\xF4\x90\x80\x80"));
	assert_false(UTF8("\xF5\x80\x80\x80"));
	assert_false(UTF8("\xF7\xBF\xBF\xBF"));
	assert_false(UTF8("\xF8\x88\x80\x80\x80"));
	assert_false(UTF8("\xFC\x84\x80\x80\x80\x80"));
	assert_false(UTF8("\xFE"));
	assert_false(UTF8("\xFF"));
}

static void
test_utf8_refuses_truncated_and_stray_bytes(void **state)
{
	(void)state;
	assert_false(UTF8("\xC3"));
	assert_false(UTF8("\xE2\x82"));
	assert_false(UTF8("\xF0\x9D\x84"));
	assert_false(UTF8("ok\xF0"));
	assert_false(UTF8("\x80")); /* a lone continuation */
	assert_false(UTF8("a\xBF"
	                  "b"));
	assert_false(UTF8("\xC3"
	                  "A")); /* a lead then ASCII */
	assert_false(UTF8("\xE2\x82"
	                  "A"));
	assert_false(UTF8("\xF0\x9D\x84"
	                  "A"));
	/* Valid bytes beyond len do not count. */
	assert_false(utf8("\xC3\xA9", 1));
	assert_false(utf8("\xE2\x82\xAC", 2));
	assert_false(utf8("\xF0\x9D\x84\x9E", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accept_key_of_the_rfc_example),
	    cmocka_unit_test(test_accept_key_of_another_key),
	    cmocka_unit_test(test_accept_key_refuses_keys_that_are_not_16_bytes_of_base64),
	    cmocka_unit_test(test_encoder_reproduces_the_rfc_masked_hello),
	    cmocka_unit_test(test_rfc_masked_hello_is_one_text_message),
	    cmocka_unit_test(test_rfc_unmasked_hello_is_a_protocol_error),
	    cmocka_unit_test(test_rfc_fragmented_hello_is_one_text_message),
	    cmocka_unit_test(test_rfc_ping_and_masked_pong),
	    cmocka_unit_test(test_rfc_256_bytes_use_the_16_bit_length),
	    cmocka_unit_test(test_rfc_64_kib_use_the_64_bit_length),
	    cmocka_unit_test(test_every_proper_prefix_of_a_frame_needs_more_bytes),
	    cmocka_unit_test(test_64_bit_length_header_waits_for_all_ten_bytes),
	    cmocka_unit_test(test_several_frames_in_one_buffer),
	    cmocka_unit_test(test_byte_by_byte_gives_the_same_events_as_all_at_once),
	    cmocka_unit_test(test_byte_by_byte_reports_the_same_violation),
	    cmocka_unit_test(test_control_frames_between_fragments_are_delivered_at_once),
	    cmocka_unit_test(test_close_between_fragments_is_delivered),
	    cmocka_unit_test(test_close_without_body_reports_1005),
	    cmocka_unit_test(test_close_with_code_and_reason),
	    cmocka_unit_test(test_control_payload_of_125_bytes_is_accepted),
	    cmocka_unit_test(test_reserved_bits_are_a_protocol_error),
	    cmocka_unit_test(test_unknown_opcodes_are_a_protocol_error),
	    cmocka_unit_test(test_unmasked_frames_are_a_protocol_error),
	    cmocka_unit_test(test_fragmented_control_frames_are_a_protocol_error),
	    cmocka_unit_test(test_control_frames_over_125_bytes_are_a_protocol_error),
	    cmocka_unit_test(test_continuation_without_a_message_is_a_protocol_error),
	    cmocka_unit_test(test_continuation_after_a_finished_message_is_a_protocol_error),
	    cmocka_unit_test(test_new_data_frame_inside_a_message_is_a_protocol_error),
	    cmocka_unit_test(test_message_over_the_limit_is_too_big_before_its_payload),
	    cmocka_unit_test(test_64_bit_length_over_the_limit_is_too_big_before_its_payload),
	    cmocka_unit_test(test_fragments_adding_up_over_the_limit_are_too_big),
	    cmocka_unit_test(test_invalid_utf8_text_is_bad_data),
	    cmocka_unit_test(test_character_split_across_fragments_is_valid_text),
	    cmocka_unit_test(test_close_with_a_1_byte_body_is_a_protocol_error),
	    cmocka_unit_test(test_close_reason_not_utf8_is_bad_data),
	    cmocka_unit_test(test_close_codes_never_sent_on_the_wire_are_a_protocol_error),
	    cmocka_unit_test(test_64_bit_length_with_its_top_bit_is_a_protocol_error),
	    cmocka_unit_test(test_after_an_error_every_call_fails),
	    cmocka_unit_test(test_after_an_error_the_same_close_code_is_repeated),
	    cmocka_unit_test(test_fini_accepts_a_zeroed_and_a_finished_reader),
	    cmocka_unit_test(test_header_lengths_0_125_126_65535_65536),
	    cmocka_unit_test(test_utf8_accepts_well_formed_text),
	    cmocka_unit_test(test_utf8_refuses_overlongs),
	    cmocka_unit_test(test_utf8_refuses_surrogates),
	    cmocka_unit_test(test_utf8_refuses_beyond_u10ffff),
	    cmocka_unit_test(test_utf8_refuses_truncated_and_stray_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
