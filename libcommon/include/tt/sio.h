/*
 * sio.h - the packet layers of Socket.IO: Engine.IO protocol 4 (the
 * transport packets and the long-polling payload that joins them) and
 * Socket.IO protocol 5 (namespaced packets inside Engine.IO messages).
 *
 * Both parsers take text from a client, so neither trusts it: lengths are
 * bounded, numbers overflow-checked, and the JSON of a Socket.IO packet must
 * have the shape its type requires. Binary packets (Engine.IO "b" payloads,
 * Socket.IO BINARY_EVENT/BINARY_ACK) are refused: nothing here sends them.
 */
#ifndef TT_SIO_H
#define TT_SIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tt/error.h"

/* Engine.IO packet types: the first character of every packet. */
enum {
	TT_EIO_OPEN    = '0',
	TT_EIO_CLOSE   = '1',
	TT_EIO_PING    = '2',
	TT_EIO_PONG    = '3',
	TT_EIO_MESSAGE = '4',
	TT_EIO_UPGRADE = '5',
	TT_EIO_NOOP    = '6',
};

#define TT_EIO_SEPARATOR '\x1e'   /* between packets of a polling payload */

/*
 * Iterates the packets of a polling payload: *pos starts at 0; each call
 * sets pkt/pkt_len to the next packet and returns true, false at the end.
 * An empty packet (two separators in a row, a trailing separator, or an
 * empty payload) is returned as such (pkt_len 0): the caller refuses it.
 */
bool tt_eio_next(const char *payload, size_t len, size_t *pos, const char **pkt, size_t *pkt_len);

/* Socket.IO packet types (the first character of an Engine.IO message). */
enum {
	TT_SIO_CONNECT       = 0,
	TT_SIO_DISCONNECT    = 1,
	TT_SIO_EVENT         = 2,
	TT_SIO_ACK           = 3,
	TT_SIO_CONNECT_ERROR = 4,
	TT_SIO_BINARY_EVENT  = 5,
	TT_SIO_BINARY_ACK    = 6,
};

#define TT_SIO_NSP_MAX 256     /* namespace length limit */
#define TT_SIO_ACK_MAX 999999999999999ULL  /* 15 digits */

typedef struct {
	int         type;      /* TT_SIO_* */
	const char *nsp;       /* points into the input, or "/" */
	size_t      nsp_len;
	bool        has_ack;
	uint64_t    ack;
	cJSON      *json;      /* the payload, NULL when there is none */
	const char *event;     /* TT_SIO_EVENT: the event name (json's first item) */
} tt_sio_packet;

/*
 * Parses a Socket.IO packet s[0..len) (without the Engine.IO '4'). On
 * success the caller frees p->json with tt_sio_packet_fini. On failure
 * returns TT_EPARSE (TT_ETOOBIG for an over-long namespace) and sets *why
 * to a static description.
 *
 * Shapes: CONNECT carries an object or nothing; DISCONNECT nothing; EVENT a
 * non-empty array whose first item is a string; ACK an array (ack id
 * required); CONNECT_ERROR is refused from a client, as are binary packets.
 */
tt_err tt_sio_parse(const char *s, size_t len, tt_sio_packet *p, const char **why);
void tt_sio_packet_fini(tt_sio_packet *p);

/* True when the packet's namespace is nsp (a NUL-terminated string). */
bool tt_sio_nsp_is(const tt_sio_packet *p, const char *nsp);

#endif
