/*
 * tt/event.h - the platform event envelope (proto/README.md): parse,
 * validate, scrub personal data, hash customer ids, and derive the counter
 * deltas an event contributes.
 *
 * The input is hostile: any bytes, any JSON. tt_event_parse() either
 * returns TT_OK with a fully validated, scrubbed event, or an error with a
 * one-line reason naming the field ("data.price: at most two decimal
 * places"), suitable for the dead-letter header. It never keeps a pointer
 * into the input buffer.
 */
#ifndef TT_EVENT_H
#define TT_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tt/crypto.h"
#include "tt/error.h"

#define TT_EVENT_MAX_BODY  (64 * 1024)
#define TT_EVENT_ID_MAX    128
#define TT_EVENT_VENUE_MAX 64
#define TT_EVENT_TYPE_MAX  64

/* The event types of proto/README.md. */
#define TT_EVENT_TYPES(X)                          \
	X(TT_EV_TICKET_PURCHASED, "ticket.purchased")  \
	X(TT_EV_TICKET_REFUNDED, "ticket.refunded")    \
	X(TT_EV_TICKET_SCANNED, "ticket.scanned")      \
	X(TT_EV_PAYMENT_COMPLETED, "payment.completed") \
	X(TT_EV_REFUND_PROCESSED, "refund.processed")  \
	X(TT_EV_EVENT_CREATED, "event.created")        \
	X(TT_EV_EVENT_UPDATED, "event.updated")        \
	X(TT_EV_USER_REGISTERED, "user.registered")    \
	X(TT_EV_USER_LOGIN, "user.login")              \
	X(TT_EV_LISTING_CREATED, "listing.created")    \
	X(TT_EV_LISTING_SOLD, "listing.sold")          \
	X(TT_EV_MARKETING_TOUCHPOINT, "marketing.touchpoint")

typedef enum {
#define TT_EV_ENUM(code, name) code,
	TT_EVENT_TYPES(TT_EV_ENUM)
#undef TT_EV_ENUM
	TT_EV_COUNT
} tt_event_type;

typedef struct {
	const char *hash_key;      /* CUSTOMER_HASH_SALT: HMAC key */
	size_t      hash_key_len;
	int64_t     now_ms;        /* 0 = take the clock */
	int64_t     max_future_ms; /* occurredAt may be at most this far ahead */
} tt_event_opts;

typedef struct {
	char          id[TT_EVENT_ID_MAX + 1];
	char          venue_id[TT_EVENT_VENUE_MAX + 1];
	char          event_id[TT_EVENT_ID_MAX + 1];      /* "" when absent */
	char          session_id[TT_EVENT_ID_MAX + 1];    /* "" when absent */
	char          customer_hash[TT_HMAC_HEX_LEN + 1]; /* "" when no userId */
	tt_event_type type;
	int64_t       occurred_ms;   /* UTC */
	int64_t       revenue_cents; /* signed contribution to revenue */
	int64_t       quantity;      /* contribution to sales */
	cJSON        *doc;           /* the scrubbed envelope; owned */
} tt_event;

/* The wire name of a type ("ticket.purchased"); NULL when out of range. */
const char *tt_event_type_name(tt_event_type t);

/* Looks a wire name up; returns TT_ENOTFOUND for unknown types. */
tt_err tt_event_type_parse(const char *s, tt_event_type *out);

/*
 * Parses and validates body[0..len) into ev (which the caller owns and must
 * tt_event_fini() after success; on failure ev holds nothing to free).
 * Errors: TT_ETOOBIG, TT_EPARSE (not JSON / not an object), TT_EINVAL (a
 * field breaks a rule), with the reason in err.
 */
tt_err tt_event_parse(tt_event *ev, const char *body, size_t len,
    const tt_event_opts *opts, char *err, size_t errlen);

void tt_event_fini(tt_event *ev);

/* The scrubbed envelope as compact JSON; caller frees with free(). */
char *tt_event_json(const tt_event *ev);

#endif
