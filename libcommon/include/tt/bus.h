/*
 * tt/bus.h - the nng message bus between binaries (proto/README.md, "nng").
 *
 * Messages are "tt1|<kind>|<venueId>|<json>". A publisher listens; a
 * subscriber dials every address of a comma-separated list (every replica
 * of the publisher) and nng redials each on its own when it goes away.
 * Pub/sub is lossy by design: a slow subscriber loses messages, the
 * publisher never blocks.
 */
#ifndef TT_BUS_H
#define TT_BUS_H

#include <stddef.h>

#include "tt/error.h"

#define TT_BUS_VERSION "tt1"
#define TT_BUS_MAX_MSG (256 * 1024)
#define TT_BUS_SENDBUF 8192   /* messages queued per subscriber before drops (nng max) */
#define TT_BUS_RESOLVE_MS 30000  /* subscribers resolve publisher names again this often */
#define TT_BUS_RETRY_MS   2000   /* ... or this often while a name does not resolve */
#define TT_BUS_ADDR_MAX   300

typedef struct tt_bus tt_bus;

/* Opens a PUB socket listening on url (tcp://host:port, ipc://path). */
tt_err tt_bus_pub_open(tt_bus **out, const char *url, char *err, size_t errlen);

/*
 * Opens a SUB socket dialing every url in the comma-separated list and
 * subscribed to prefix ("" for all, "tt1|metric|" for one kind).
 */
tt_err tt_bus_sub_open(tt_bus **out, const char *urls, const char *prefix,
    char *err, size_t errlen);

void tt_bus_close(tt_bus *b);

/*
 * The addresses a subscriber dials now (every address its tcp:// names
 * resolved to, the other URLs as given): copies up to max into urls and
 * returns how many. For health output and tests.
 */
int tt_bus_dialers(const tt_bus *b, char urls[][TT_BUS_ADDR_MAX], int max);

/* Publishes kind/venue/json without blocking; TT_EBUS on failure. */
tt_err tt_bus_publish(tt_bus *b, const char *kind, const char *venue,
    const char *json, size_t json_len);

/*
 * Receives one message, waiting up to timeout_ms (-1 forever). On success
 * *msg is a NUL-terminated heap copy (free() it) and the fields point into
 * it. TT_ETIMEDOUT on timeout, TT_EPARSE for a message that is not in the
 * layout (it is consumed and dropped).
 */
typedef struct {
	char       *buf;
	const char *kind;
	const char *venue;
	const char *json;
	size_t      json_len;
} tt_bus_msg;

tt_err tt_bus_recv(tt_bus *b, tt_bus_msg *msg, int timeout_ms);
void tt_bus_msg_fini(tt_bus_msg *msg);

/* Parses buf[0..len) in place (it must be writable and NUL-terminated). */
tt_err tt_bus_parse(char *buf, size_t len, tt_bus_msg *msg);

#endif
