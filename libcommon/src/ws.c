/*
 * ws.c - WebSocket framing for servers (RFC 6455): see tt/ws.h.
 */
#include "tt/ws.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void
tt_ws_reader_init(tt_ws_reader *r, size_t max_message)
{
	memset(r, 0, sizeof(*r));
	r->max_message = max_message;
}

void
tt_ws_reader_fini(tt_ws_reader *r)
{
	free(r->msg);
	memset(r, 0, sizeof(*r));
}

static void
ws_fail(tt_ws_reader *r, tt_ws_event *ev, int code, const char *reason)
{
	r->failed = true;
	r->fail_code = code;
	r->fail_reason = reason;
	ev->type = TT_WS_EV_ERROR;
	ev->code = code;
	ev->reason = reason;
}

/* Appends len unmasked bytes of payload (mask key at offset off) to the message. */
static bool
ws_append(tt_ws_reader *r, const uint8_t *p, size_t len, const uint8_t mask[4])
{
	if (r->msg_len + len > r->msg_cap) {
		size_t cap = r->msg_cap ? r->msg_cap : 256;
		while (cap < r->msg_len + len)
			cap *= 2;
		if (cap > r->max_message)
			cap = r->max_message;
		uint8_t *m = realloc(r->msg, cap);
		if (m == NULL)
			return false;
		r->msg = m;
		r->msg_cap = cap;
	}
	for (size_t i = 0; i < len; i++)
		r->msg[r->msg_len + i] = p[i] ^ mask[i & 3];
	r->msg_len += len;
	return true;
}

/*
 * Codes a peer may send (RFC 6455 section 7.4): the defined ones except
 * 1004-1006 and 1015 (reserved, never on the wire), registered 3000-3999,
 * private 4000-4999.
 */
static bool
ws_close_code_valid(int code)
{
	if (code >= 3000 && code <= 4999)
		return true;
	return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

void
tt_ws_read(tt_ws_reader *r, const uint8_t *buf, size_t len, size_t *used, tt_ws_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	*used = 0;
	if (r->failed) {
		ws_fail(r, ev, r->fail_code, r->fail_reason);
		return;
	}
	if (len < 2)
		return;

	bool fin = (buf[0] & 0x80) != 0;
	int opcode = buf[0] & 0x0F;
	bool masked = (buf[1] & 0x80) != 0;
	uint64_t plen = buf[1] & 0x7F;
	size_t hlen = 2;

	if ((buf[0] & 0x70) != 0)
		return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "reserved bits set (no extension negotiated)");
	if (opcode != TT_WS_OP_CONT && opcode != TT_WS_OP_TEXT && opcode != TT_WS_OP_BINARY &&
	    opcode != TT_WS_OP_CLOSE && opcode != TT_WS_OP_PING && opcode != TT_WS_OP_PONG)
		return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "unknown opcode");
	if (!masked)
		return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "client frame not masked");
	bool control = (opcode & 0x8) != 0;
	if (control && (!fin || plen > TT_WS_CONTROL_MAX))
		return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "control frame fragmented or longer than 125 bytes");

	if (plen == 126) {
		if (len < 4)
			return;
		plen = ((uint64_t)buf[2] << 8) | buf[3];
		hlen = 4;
		if (plen < 126)
			return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "length not in its shortest encoding");
	} else if (plen == 127) {
		if (len < 10)
			return;
		if (buf[2] & 0x80)
			return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "64-bit length with its top bit set");
		plen = 0;
		for (int i = 2; i < 10; i++)
			plen = (plen << 8) | buf[i];
		hlen = 10;
		if (plen <= 0xFFFF)
			return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "length not in its shortest encoding");
	}
	/* Checked before waiting for the payload: never buffer a frame that cannot fit. */
	if (!control) {
		size_t open = opcode == TT_WS_OP_CONT && r->msg_opcode != 0 ? r->msg_len : 0;
		if (plen > r->max_message || open + plen > r->max_message)
			return ws_fail(r, ev, TT_WS_CLOSE_TOO_BIG, "message larger than the limit");
	}
	if (len - hlen < 4 || len - hlen - 4 < plen)
		return;
	const uint8_t *mask = buf + hlen;
	const uint8_t *payload = buf + hlen + 4;
	size_t n = (size_t)plen;
	*used = hlen + 4 + n;

	if (control) {
		for (size_t i = 0; i < n; i++)
			r->ctl[i] = payload[i] ^ mask[i & 3];
		ev->data = r->ctl;
		ev->len = n;
		if (opcode == TT_WS_OP_PING) {
			ev->type = TT_WS_EV_PING;
		} else if (opcode == TT_WS_OP_PONG) {
			ev->type = TT_WS_EV_PONG;
		} else {
			ev->type = TT_WS_EV_CLOSE;
			ev->code = TT_WS_CLOSE_NO_STATUS;
			if (n == 1)
				return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "close frame with a 1-byte body");
			if (n >= 2) {
				ev->code = (r->ctl[0] << 8) | r->ctl[1];
				if (!ws_close_code_valid(ev->code))
					return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "close code not allowed on the wire");
				ev->data = r->ctl + 2;
				ev->len = n - 2;
				if (!tt_utf8_valid(ev->data, ev->len))
					return ws_fail(r, ev, TT_WS_CLOSE_BAD_DATA, "close reason not UTF-8");
			}
		}
		return;
	}

	if (opcode == TT_WS_OP_CONT) {
		if (r->msg_opcode == 0)
			return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "continuation frame outside a message");
	} else {
		if (r->msg_opcode != 0)
			return ws_fail(r, ev, TT_WS_CLOSE_PROTOCOL, "new message before the last one ended");
		r->msg_opcode = opcode;
		r->msg_len = 0;
	}
	if (!ws_append(r, payload, n, mask))
		return ws_fail(r, ev, TT_WS_CLOSE_TOO_BIG, "out of memory for the message");
	if (!fin)
		return;   /* TT_WS_EV_NONE with *used > 0: a fragment stored */

	int op = r->msg_opcode;
	r->msg_opcode = 0;
	if (op == TT_WS_OP_TEXT && !tt_utf8_valid(r->msg, r->msg_len))
		return ws_fail(r, ev, TT_WS_CLOSE_BAD_DATA, "text message not UTF-8");
	ev->type = op == TT_WS_OP_TEXT ? TT_WS_EV_TEXT : TT_WS_EV_BINARY;
	ev->data = r->msg;
	ev->len = r->msg_len;
}

size_t
tt_ws_header(uint8_t out[TT_WS_HEADER_MAX], int opcode, size_t payload_len)
{
	out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
	if (payload_len < 126) {
		out[1] = (uint8_t)payload_len;
		return 2;
	}
	if (payload_len <= 0xFFFF) {
		out[1] = 126;
		out[2] = (uint8_t)(payload_len >> 8);
		out[3] = (uint8_t)payload_len;
		return 4;
	}
	out[1] = 127;
	uint64_t l = payload_len;
	for (int i = 9; i >= 2; i--) {
		out[i] = (uint8_t)l;
		l >>= 8;
	}
	return 10;
}

static bool
b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/';
}

tt_err
tt_ws_accept_key(const char *key, char out[TT_WS_ACCEPT_LEN + 1])
{
	char buf[24 + sizeof(WS_GUID)];
	unsigned char digest[SHA_DIGEST_LENGTH];

	/* 16 bytes in base64: 22 characters, then "==". */
	if (key == NULL || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
		return TT_EPARSE;
	for (int i = 0; i < 22; i++)
		if (!b64_char(key[i]))
			return TT_EPARSE;
	memcpy(buf, key, 24);
	memcpy(buf + 24, WS_GUID, sizeof(WS_GUID));
	SHA1((const unsigned char *)buf, 24 + sizeof(WS_GUID) - 1, digest);
	EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
	out[TT_WS_ACCEPT_LEN] = '\0';
	return TT_OK;
}

bool
tt_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}
