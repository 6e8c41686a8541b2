/*
 * ws.h - WebSocket (RFC 6455) for the server side: the handshake's accept
 * key, a frame reader that turns client bytes into whole messages and
 * control frames, and the header of an unmasked server frame.
 *
 * The reader owns no socket. Feed it what arrived; it consumes complete
 * frames and returns one event at a time. Every rule the RFC puts on a
 * client is checked (mask set, RSV bits clear, known opcodes, control frames
 * short and unfragmented, continuation only inside a message, text in
 * UTF-8), and a violation is an event carrying the close code to send.
 */
#ifndef TT_WS_H
#define TT_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/error.h"

#define TT_WS_ACCEPT_LEN 28        /* base64 of a SHA-1 */
#define TT_WS_HEADER_MAX 10        /* longest unmasked server frame header */
#define TT_WS_CONTROL_MAX 125      /* payload limit of ping, pong, close */

enum {
	TT_WS_OP_CONT   = 0x0,
	TT_WS_OP_TEXT   = 0x1,
	TT_WS_OP_BINARY = 0x2,
	TT_WS_OP_CLOSE  = 0x8,
	TT_WS_OP_PING   = 0x9,
	TT_WS_OP_PONG   = 0xA,
};

/* Close codes (RFC 6455 section 7.4.1) the reader reports. */
enum {
	TT_WS_CLOSE_NORMAL      = 1000,
	TT_WS_CLOSE_GOING_AWAY  = 1001,
	TT_WS_CLOSE_PROTOCOL    = 1002,
	TT_WS_CLOSE_UNSUPPORTED = 1003,
	TT_WS_CLOSE_NO_STATUS   = 1005,
	TT_WS_CLOSE_BAD_DATA    = 1007,
	TT_WS_CLOSE_POLICY      = 1008,
	TT_WS_CLOSE_TOO_BIG     = 1009,
};

typedef enum {
	TT_WS_EV_NONE = 0,   /* need more bytes */
	TT_WS_EV_TEXT,       /* a whole text message: data, len (valid UTF-8) */
	TT_WS_EV_BINARY,     /* a whole binary message: data, len */
	TT_WS_EV_PING,       /* data, len: the payload to echo in a pong */
	TT_WS_EV_PONG,
	TT_WS_EV_CLOSE,      /* the peer closes: code (1005 when absent), data/len: reason */
	TT_WS_EV_ERROR,      /* a violation: code is the close code to send, reason says why */
} tt_ws_event_type;

typedef struct {
	tt_ws_event_type type;
	const uint8_t   *data;   /* valid until the next call on the reader */
	size_t           len;
	int              code;
	const char      *reason; /* TT_WS_EV_ERROR: a static string */
} tt_ws_event;

typedef struct {
	size_t   max_message;    /* largest message, fragments together */
	uint8_t *msg;            /* the message being assembled */
	size_t   msg_len, msg_cap;
	int      msg_opcode;     /* 0 when no fragmented message is open */
	uint8_t  ctl[TT_WS_CONTROL_MAX];
	bool     failed;         /* after an error every call returns it again */
	int      fail_code;
	const char *fail_reason;
} tt_ws_reader;

void tt_ws_reader_init(tt_ws_reader *r, size_t max_message);
void tt_ws_reader_fini(tt_ws_reader *r);

/*
 * Reads at most one frame from buf[0..len) and sets *used to the bytes it
 * took (0 when the frame is not complete yet). Fills *ev; TT_WS_EV_NONE
 * with *used > 0 means a fragment was stored. Call again with the rest of
 * the buffer until it returns TT_WS_EV_NONE with *used == 0.
 */
void tt_ws_read(tt_ws_reader *r, const uint8_t *buf, size_t len, size_t *used, tt_ws_event *ev);

/* Writes the header of an unmasked, final server frame; returns its length. */
size_t tt_ws_header(uint8_t out[TT_WS_HEADER_MAX], int opcode, size_t payload_len);

/*
 * The Sec-WebSocket-Accept value for a Sec-WebSocket-Key. TT_EPARSE unless
 * the key is the base64 of 16 bytes (24 characters), as the RFC requires.
 */
tt_err tt_ws_accept_key(const char *key, char out[TT_WS_ACCEPT_LEN + 1]);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool tt_utf8_valid(const uint8_t *s, size_t len);

#endif
