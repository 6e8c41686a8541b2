/*
 * event_test.c - the envelope of proto/README.md through tt_event_parse():
 * the counter deltas of valid events, each rule broken once (exact code, and
 * a reason that starts with the field path), hostile bodies (bad UTF-8, NUL,
 * size, non-objects, duplicate keys), and the personal-data scrub with the
 * customer-id HMAC.
 *
 * Independent expectations:
 *   - instants: date -u -d '2024-06-15T10:00:00Z' +%s%3N  -> 1718445600000
 *   - hashes:   printf %s user-42 | openssl dgst -sha256 -hmac unit-test-hash-key
 *     (one command per id, pasted below next to its input)
 * Bodies are written with ' for " (see parse()) to keep them readable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/event.h"

/*
 * KNOWN_BUG: the test pins a reported defect (or a code/contract mismatch)
 * and is skipped until it is resolved. TT_KNOWN_BUGS=1 runs it; delete the
 * KNOWN_BUG line with the fix.
 */
#define KNOWN_BUG(why)                                              \
	do {                                                        \
		if (getenv("TT_KNOWN_BUGS") == NULL) {              \
			print_message("known bug, skipped: %s\n", why); \
			skip();                                     \
		}                                                   \
	} while (0)

#define HASH_KEY "unit-test-hash-key"
/* date -u -d '2024-06-15T10:30:00Z' +%s%3N */
#define NOW_MS INT64_C(1718447400000)
/* date -u -d '2024-06-15T10:00:00Z' +%s%3N */
#define OCCURRED_MS INT64_C(1718445600000)
#define MAX_FUTURE_MS INT64_C(300000)

/* printf %s <id> | openssl dgst -sha256 -hmac unit-test-hash-key */
#define H_USER_42  "f4f785dd3372dc740db324431fa215e7d02e11121a2a2825ace08594b05e1149"
#define H_CUST_7   "949fb195674a8150e2f88368e209c0d461823aca44e10df0701881c0d4d28183"
#define H_BUYER_9  "6ebf53eafce51f6c569621887df2a4eeea326f991a266fdee5d42ffad72db14f"
#define H_SELLER_3 "17c4f741434d45be8dc8f0ee6af74455fabaafd03ddade74811de2d86ab7e1c3"
#define H_12345    "c35a519a6acdafdc77bddfebfe1466a40d889c53f847abafeea2f0019301a8e9"
#define H_USER_IN_DATA "27ec180c05c6a74b267f4f6df3e9d47dc323c6b73447658def2b5260e12e87fb"

/* An envelope of the given type and data, occurred 30 minutes before NOW_MS. */
#define ENV(type, data)                                                  \
	"{'id':'evt-1','type':'" type "','occurredAt':'2024-06-15T10:00:00Z'," \
	"'venueId':'venue-1','data':" data "}"

#define PURCHASE_DATA(extra) "{'ticketId':'t-1','orderId':'o-1','price':10" extra "}"

static const tt_event_opts opts = {
	.hash_key = HASH_KEY,
	.hash_key_len = sizeof(HASH_KEY) - 1,
	.now_ms = NOW_MS,
	.max_future_ms = MAX_FUTURE_MS,
};

/*
 * Parses body (with ' standing for ") from a private heap copy that is
 * freed before returning, so that a pointer kept into the input would be a
 * use-after-free under ASan.
 */
static tt_err
parse_n(const char *body, size_t len, tt_event *ev, char *err, size_t errlen)
{
	char *copy = malloc(len + 1);
	assert_non_null(copy);
	for (size_t i = 0; i < len; i++)
		copy[i] = body[i] == '\'' ? '"' : body[i];
	copy[len] = '\0';
	tt_err e = tt_event_parse(ev, copy, len, &opts, err, errlen);
	memset(copy, 'X', len);
	free(copy);
	return e;
}

static tt_err
parse(const char *body, tt_event *ev, char *err, size_t errlen)
{
	return parse_n(body, strlen(body), ev, err, errlen);
}

static void
parse_ok(const char *body, tt_event *ev)
{
	char err[256] = "";
	tt_err e = parse(body, ev, err, sizeof(err));
	if (e != TT_OK)
		fail_msg("tt_event_parse: %s: %s", tt_err_name(e), err);
	assert_non_null(ev->doc);
}

/* Expects the code, a one-line reason starting with prefix, and no doc. */
static void
assert_rejected_n(const char *body, size_t len, tt_err want, const char *prefix)
{
	tt_event ev;
	char err[256] = "";
	tt_err e = parse_n(body, len, &ev, err, sizeof(err));
	if (e != want)
		fail_msg("want %s, got %s (%s)", tt_err_name(want), tt_err_name(e), err);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("reason \"%s\" does not start with \"%s\"", err, prefix);
	assert_null(strchr(err, '\n'));
	assert_null(ev.doc);   /* nothing to free on failure */
}

static void
assert_rejected(const char *body, tt_err want, const char *prefix)
{
	assert_rejected_n(body, strlen(body), want, prefix);
}

/* ---- valid events and their counter deltas ------------------------------ */

static void
test_purchased_revenue_is_price_times_quantity(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("ticket.purchased",
	    "{'ticketId':'t-1','orderId':'o-1','price':12.5,'quantity':4}"), &ev);
	assert_int_equal(ev.type, TT_EV_TICKET_PURCHASED);
	assert_int_equal(ev.revenue_cents, 5000);
	assert_int_equal(ev.quantity, 4);
	tt_event_fini(&ev);
}

static void
test_purchased_quantity_defaults_to_one(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("ticket.purchased", "{'ticketId':'t-1','orderId':'o-1','price':19.99}"), &ev);
	assert_int_equal(ev.revenue_cents, 1999);
	assert_int_equal(ev.quantity, 1);
	tt_event_fini(&ev);
}

static void
test_purchased_null_quantity_defaults_to_one(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("ticket.purchased",
	    "{'ticketId':'t-1','orderId':'o-1','price':19.99,'quantity':null}"), &ev);
	assert_int_equal(ev.revenue_cents, 1999);
	assert_int_equal(ev.quantity, 1);
	tt_event_fini(&ev);
}

static void
test_purchased_string_price(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("ticket.purchased",
	    "{'ticketId':'t-1','orderId':'o-1','price':'12.30','quantity':2}"), &ev);
	assert_int_equal(ev.revenue_cents, 2460);
	assert_int_equal(ev.quantity, 2);
	tt_event_fini(&ev);
}

static void
test_purchased_free_ticket_counts_a_sale_without_revenue(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("ticket.purchased", "{'ticketId':'t-1','orderId':'o-1','price':0}"), &ev);
	assert_int_equal(ev.revenue_cents, 0);
	assert_int_equal(ev.quantity, 1);
	tt_event_fini(&ev);
}

static void
test_purchased_max_quantity_is_accepted(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("ticket.purchased", PURCHASE_DATA(",'quantity':10000")), &ev);
	assert_int_equal(ev.quantity, 10000);
	assert_int_equal(ev.revenue_cents, INT64_C(10000000));   /* 1000 x 10000 */
	tt_event_fini(&ev);
}

static void
test_refunded_revenue_is_negative_amount(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("ticket.refunded", "{'ticketId':'t-1','orderId':'o-1','amount':'7.50'}"), &ev);
	assert_int_equal(ev.type, TT_EV_TICKET_REFUNDED);
	assert_int_equal(ev.revenue_cents, -750);
	assert_int_equal(ev.quantity, 0);
	tt_event_fini(&ev);
}

static void
test_other_types_contribute_no_revenue_or_sales(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("payment.completed", "{'paymentId':'p-1','amount':99.99}"), &ev);
	assert_int_equal(ev.revenue_cents, 0);
	assert_int_equal(ev.quantity, 0);
	tt_event_fini(&ev);
}

static void
test_envelope_fields_are_copied(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok("{'id':'evt:2024.06_15-a','type':'ticket.scanned',"
	    "'occurredAt':'2024-06-15T10:00:00Z','venueId':'venue-9','eventId':'show-3',"
	    "'sessionId':'sess-4','data':{'ticketId':'t-1','gate':'North 2'}}", &ev);
	assert_string_equal(ev.id, "evt:2024.06_15-a");
	assert_string_equal(ev.venue_id, "venue-9");
	assert_string_equal(ev.event_id, "show-3");
	assert_string_equal(ev.session_id, "sess-4");
	assert_string_equal(ev.customer_hash, "");
	assert_int_equal(ev.type, TT_EV_TICKET_SCANNED);
	assert_int_equal(ev.occurred_ms, OCCURRED_MS);
	tt_event_fini(&ev);
}

static void
test_optional_envelope_fields_default_to_empty(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.login", "{}"), &ev);
	assert_string_equal(ev.event_id, "");
	assert_string_equal(ev.session_id, "");
	assert_string_equal(ev.customer_hash, "");
	tt_event_fini(&ev);
}

static void
test_occurred_at_with_offset_is_stored_in_utc(void **state)
{
	(void)state;
	tt_event ev;
	/* date -u -d '2024-06-15T15:30:00+05:30' +%s%3N -> 1718445600000 */
	parse_ok("{'id':'e','type':'user.login','occurredAt':'2024-06-15T15:30:00+05:30',"
	    "'venueId':'v','data':{}}", &ev);
	assert_int_equal(ev.occurred_ms, OCCURRED_MS);
	tt_event_fini(&ev);
	/* date -u -d '2024-06-15T02:00:00-08:00' +%s%3N -> 1718445600000 */
	parse_ok("{'id':'e','type':'user.login','occurredAt':'2024-06-15T02:00:00-08:00',"
	    "'venueId':'v','data':{}}", &ev);
	assert_int_equal(ev.occurred_ms, OCCURRED_MS);
	tt_event_fini(&ev);
}

static void
test_occurred_at_exactly_max_future_is_accepted(void **state)
{
	(void)state;
	tt_event ev;
	/* NOW + 5 min: date -u -d '2024-06-15T10:35:00Z' +%s%3N -> 1718447700000 */
	parse_ok("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:35:00Z',"
	    "'venueId':'v','data':{}}", &ev);
	assert_int_equal(ev.occurred_ms, INT64_C(1718447700000));
	tt_event_fini(&ev);
}

static void
test_every_type_is_accepted_with_its_required_fields(void **state)
{
	(void)state;
	static const struct { const char *type, *data; tt_event_type want; } cases[] = {
		{ "ticket.purchased", "{'ticketId':'t','orderId':'o','price':1}", TT_EV_TICKET_PURCHASED },
		{ "ticket.refunded", "{'ticketId':'t','orderId':'o','amount':1}", TT_EV_TICKET_REFUNDED },
		{ "ticket.scanned", "{'ticketId':'t'}", TT_EV_TICKET_SCANNED },
		{ "payment.completed", "{'paymentId':'p','amount':1}", TT_EV_PAYMENT_COMPLETED },
		{ "refund.processed", "{'refundId':'r','amount':1}", TT_EV_REFUND_PROCESSED },
		{ "event.created", "{}", TT_EV_EVENT_CREATED },
		{ "event.updated", "{}", TT_EV_EVENT_UPDATED },
		{ "user.registered", "{}", TT_EV_USER_REGISTERED },
		{ "user.login", "{}", TT_EV_USER_LOGIN },
		{ "listing.created", "{'listingId':'l'}", TT_EV_LISTING_CREATED },
		{ "listing.sold", "{'listingId':'l'}", TT_EV_LISTING_SOLD },
		{ "marketing.touchpoint", "{'channel':'email'}", TT_EV_MARKETING_TOUCHPOINT },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[512];
		tt_event ev;
		snprintf(body, sizeof(body),
		    "{'id':'e','type':'%s','occurredAt':'2024-06-15T10:00:00Z',"
		    "'venueId':'v','data':%s}", cases[i].type, cases[i].data);
		parse_ok(body, &ev);
		assert_int_equal(ev.type, cases[i].want);
		tt_event_fini(&ev);
	}
}

static void
test_event_created_with_all_fields_is_accepted(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("event.created", "{'name':'Summer Gala','capacity':5000,"
	    "'startsAt':'2024-07-01T19:30:00-04:00','eventType':'concert'}"), &ev);
	tt_event_fini(&ev);
}

static void
test_type_names_match_the_proto(void **state)
{
	(void)state;
	tt_event_type t;
	assert_string_equal(tt_event_type_name(TT_EV_TICKET_PURCHASED), "ticket.purchased");
	assert_string_equal(tt_event_type_name(TT_EV_MARKETING_TOUCHPOINT), "marketing.touchpoint");
	assert_null(tt_event_type_name(TT_EV_COUNT));
	assert_int_equal(tt_event_type_parse("listing.sold", &t), TT_OK);
	assert_int_equal(t, TT_EV_LISTING_SOLD);
	assert_int_equal(tt_event_type_parse("ticket.sold", &t), TT_ENOTFOUND);
}

static void
test_fini_accepts_null_and_repeats(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.login", "{}"), &ev);
	tt_event_fini(&ev);
	tt_event_fini(&ev);
	tt_event_fini(NULL);
}

/* ---- envelope rules, each broken once --------------------------------- */

static void
test_missing_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','data':{}}", TT_EINVAL, "id:");
}

static void
test_empty_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','data':{}}", TT_EINVAL, "id:");
}

static void
test_numeric_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':17,'type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','data':{}}", TT_EINVAL, "id:");
}

static void
test_id_of_128_chars_is_accepted_and_129_rejected(void **state)
{
	(void)state;
	char body[512], id[130];
	tt_event ev;
	memset(id, 'a', 128);
	id[128] = '\0';
	snprintf(body, sizeof(body), "{'id':'%s','type':'user.login',"
	    "'occurredAt':'2024-06-15T10:00:00Z','venueId':'v','data':{}}", id);
	parse_ok(body, &ev);
	assert_string_equal(ev.id, id);
	tt_event_fini(&ev);
	memset(id, 'a', 129);
	id[129] = '\0';
	snprintf(body, sizeof(body), "{'id':'%s','type':'user.login',"
	    "'occurredAt':'2024-06-15T10:00:00Z','venueId':'v','data':{}}", id);
	assert_rejected(body, TT_EINVAL, "id:");
}

static void
test_id_with_forbidden_characters_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'evt 1','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','data':{}}", TT_EINVAL, "id:");
	assert_rejected("{'id':'evt/1','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','data':{}}", TT_EINVAL, "id:");
}

static void
test_missing_type_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','data':{}}", TT_EINVAL, "type:");
}

static void
test_unknown_type_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.sold", "{}"), TT_EINVAL, "type:");
}

static void
test_missing_occurred_at_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','type':'user.login','venueId':'v','data':{}}",
	    TT_EINVAL, "occurredAt:");
}

static void
test_occurred_at_without_zone_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00',"
	    "'venueId':'v','data':{}}", TT_EINVAL, "occurredAt:");
}

static void
test_occurred_at_bare_date_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15',"
	    "'venueId':'v','data':{}}", TT_EINVAL, "occurredAt:");
}

static void
test_occurred_at_as_number_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','type':'user.login','occurredAt':1718445600000,"
	    "'venueId':'v','data':{}}", TT_EINVAL, "occurredAt:");
}

static void
test_occurred_at_beyond_max_future_is_rejected(void **state)
{
	(void)state;
	/* One millisecond past NOW + 5 min. */
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:35:00.001Z',"
	    "'venueId':'v','data':{}}", TT_EINVAL, "occurredAt:");
}

static void
test_missing_venue_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'data':{}}", TT_EINVAL, "venueId:");
}

static void
test_venue_id_of_64_chars_is_accepted_and_65_rejected(void **state)
{
	(void)state;
	char body[512], v[66];
	tt_event ev;
	memset(v, 'v', 64);
	v[64] = '\0';
	snprintf(body, sizeof(body), "{'id':'e','type':'user.login',"
	    "'occurredAt':'2024-06-15T10:00:00Z','venueId':'%s','data':{}}", v);
	parse_ok(body, &ev);
	assert_string_equal(ev.venue_id, v);
	tt_event_fini(&ev);
	memset(v, 'v', 65);
	v[65] = '\0';
	snprintf(body, sizeof(body), "{'id':'e','type':'user.login',"
	    "'occurredAt':'2024-06-15T10:00:00Z','venueId':'%s','data':{}}", v);
	assert_rejected(body, TT_EINVAL, "venueId:");
}

static void
test_venue_id_with_forbidden_characters_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'venue#1','data':{}}", TT_EINVAL, "venueId:");
}

static void
test_event_id_of_129_chars_is_rejected(void **state)
{
	(void)state;
	char body[512], v[130];
	memset(v, 'e', 129);
	v[129] = '\0';
	snprintf(body, sizeof(body), "{'id':'e','type':'user.login',"
	    "'occurredAt':'2024-06-15T10:00:00Z','venueId':'v','eventId':'%s','data':{}}", v);
	assert_rejected(body, TT_EINVAL, "eventId:");
}

static void
test_empty_event_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','eventId':'','data':{}}", TT_EINVAL, "eventId:");
}

static void
test_session_id_of_129_chars_is_rejected(void **state)
{
	(void)state;
	char body[512], v[130];
	memset(v, 's', 129);
	v[129] = '\0';
	snprintf(body, sizeof(body), "{'id':'e','type':'user.login',"
	    "'occurredAt':'2024-06-15T10:00:00Z','venueId':'v','sessionId':'%s','data':{}}", v);
	assert_rejected(body, TT_EINVAL, "sessionId:");
}

static void
test_event_and_session_ids_outside_the_id_charset_are_rejected(void **state)
{
	(void)state;
	/* proto/README.md: eventId and sessionId use the id charset [A-Za-z0-9._:-]. */
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','eventId':'Show #3 (late)','data':{}}", TT_EINVAL, "eventId:");
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','sessionId':'s/1 2','data':{}}", TT_EINVAL, "sessionId:");
}

static void
test_numeric_envelope_user_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','userId':42,'data':{}}", TT_EINVAL, "userId:");
}

static void
test_missing_data_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v'}", TT_EINVAL, "data:");
}

static void
test_data_that_is_not_an_object_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("user.login", "[]"), TT_EINVAL, "data:");
	assert_rejected(ENV("user.login", "'x'"), TT_EINVAL, "data:");
	assert_rejected(ENV("user.login", "null"), TT_EINVAL, "data:");
}

/* ---- data rules, each broken once -------------------------------------- */

static void
test_purchased_missing_ticket_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", "{'orderId':'o-1','price':10}"),
	    TT_EINVAL, "data.ticketId:");
}

static void
test_purchased_missing_order_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", "{'ticketId':'t-1','price':10}"),
	    TT_EINVAL, "data.orderId:");
}

static void
test_purchased_missing_price_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", "{'ticketId':'t-1','orderId':'o-1'}"),
	    TT_EINVAL, "data.price:");
}

static void
test_purchased_negative_price_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", "{'ticketId':'t','orderId':'o','price':-0.01}"),
	    TT_EINVAL, "data.price:");
}

static void
test_purchased_price_with_three_decimals_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", "{'ticketId':'t','orderId':'o','price':'1.234'}"),
	    TT_EINVAL, "data.price:");
	assert_rejected(ENV("ticket.purchased", "{'ticketId':'t','orderId':'o','price':1.234}"),
	    TT_EINVAL, "data.price:");
}

static void
test_purchased_price_with_exponent_string_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", "{'ticketId':'t','orderId':'o','price':'1e2'}"),
	    TT_EINVAL, "data.price:");
}

static void
test_purchased_price_of_wrong_type_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", "{'ticketId':'t','orderId':'o','price':true}"),
	    TT_EINVAL, "data.price:");
	assert_rejected(ENV("ticket.purchased", "{'ticketId':'t','orderId':'o','price':{}}"),
	    TT_EINVAL, "data.price:");
}

static void
test_purchased_price_beyond_money_range_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased",
	    "{'ticketId':'t','orderId':'o','price':'10000000000000.01'}"),
	    TT_EINVAL, "data.price:");
}

static void
test_purchased_price_times_quantity_overflow_is_rejected(void **state)
{
	(void)state;
	/* 10^13 (the largest price) x 2 is past the money range. */
	assert_rejected(ENV("ticket.purchased",
	    "{'ticketId':'t','orderId':'o','price':'10000000000000','quantity':2}"),
	    TT_EINVAL, "data.price:");
}

static void
test_purchased_quantity_zero_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", PURCHASE_DATA(",'quantity':0")),
	    TT_EINVAL, "data.quantity:");
}

static void
test_purchased_quantity_10001_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", PURCHASE_DATA(",'quantity':10001")),
	    TT_EINVAL, "data.quantity:");
}

static void
test_purchased_fractional_quantity_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", PURCHASE_DATA(",'quantity':1.5")),
	    TT_EINVAL, "data.quantity:");
}

static void
test_purchased_string_quantity_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", PURCHASE_DATA(",'quantity':'2'")),
	    TT_EINVAL, "data.quantity:");
}

static void
test_purchased_lowercase_currency_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", PURCHASE_DATA(",'currency':'usd'")),
	    TT_EINVAL, "data.currency:");
}

static void
test_purchased_currency_of_wrong_length_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", PURCHASE_DATA(",'currency':'US'")),
	    TT_EINVAL, "data.currency:");
	assert_rejected(ENV("ticket.purchased", PURCHASE_DATA(",'currency':'EURO'")),
	    TT_EINVAL, "data.currency:");
}

static void
test_purchased_channel_as_number_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased", PURCHASE_DATA(",'channel':7")),
	    TT_EINVAL, "data.channel:");
}

static void
test_purchased_with_all_optional_fields_is_accepted(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("ticket.purchased", PURCHASE_DATA(",'quantity':3,'currency':'EUR',"
	    "'channel':'web','eventType':'concert'")), &ev);
	assert_int_equal(ev.revenue_cents, 3000);
	tt_event_fini(&ev);
}

static void
test_refunded_missing_amount_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.refunded", "{'ticketId':'t','orderId':'o'}"),
	    TT_EINVAL, "data.amount:");
}

static void
test_refunded_negative_amount_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.refunded", "{'ticketId':'t','orderId':'o','amount':'-5'}"),
	    TT_EINVAL, "data.amount:");
}

static void
test_refunded_missing_order_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.refunded", "{'ticketId':'t','amount':5}"),
	    TT_EINVAL, "data.orderId:");
}

static void
test_scanned_missing_ticket_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.scanned", "{'gate':'A'}"), TT_EINVAL, "data.ticketId:");
}

static void
test_payment_missing_payment_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("payment.completed", "{'amount':5}"), TT_EINVAL, "data.paymentId:");
}

static void
test_payment_missing_amount_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("payment.completed", "{'paymentId':'p'}"), TT_EINVAL, "data.amount:");
}

static void
test_payment_bad_currency_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("payment.completed", "{'paymentId':'p','amount':5,'currency':'12$'}"),
	    TT_EINVAL, "data.currency:");
}

static void
test_payment_negative_amount_is_rejected(void **state)
{
	(void)state;
	/* proto/README.md: every money field of an event is >= 0. */
	assert_rejected(ENV("payment.completed", "{'paymentId':'p','amount':-5}"),
	    TT_EINVAL, "data.amount:");
}

static void
test_refund_processed_missing_refund_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("refund.processed", "{'amount':5}"), TT_EINVAL, "data.refundId:");
}

static void
test_refund_processed_missing_amount_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("refund.processed", "{'refundId':'r'}"), TT_EINVAL, "data.amount:");
}

static void
test_event_created_negative_capacity_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("event.created", "{'capacity':-1}"), TT_EINVAL, "data.capacity:");
}

static void
test_event_created_bad_starts_at_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("event.created", "{'startsAt':'tomorrow'}"), TT_EINVAL, "data.startsAt:");
}

static void
test_event_updated_fractional_capacity_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("event.updated", "{'capacity':2.5}"), TT_EINVAL, "data.capacity:");
}

static void
test_listing_missing_listing_id_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("listing.created", "{'price':5}"), TT_EINVAL, "data.listingId:");
	assert_rejected(ENV("listing.sold", "{'price':5}"), TT_EINVAL, "data.listingId:");
}

static void
test_listing_bad_price_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("listing.sold", "{'listingId':'l','price':'12.345'}"),
	    TT_EINVAL, "data.price:");
}

static void
test_touchpoint_missing_channel_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("marketing.touchpoint", "{'campaign':'spring'}"),
	    TT_EINVAL, "data.channel:");
}

/* ---- hostile bodies ------------------------------------------------------ */

static void
test_invalid_utf8_byte_is_rejected(void **state)
{
	(void)state;
	assert_rejected(ENV("user.login", "{'note':'caf\xff'}"), TT_EPARSE, "body:");
}

static void
test_overlong_utf8_is_rejected(void **state)
{
	(void)state;
	/* C0 AF is an overlong '/'. */
	assert_rejected(ENV("user.login", "{'note':'\xc0\xaf'}"), TT_EPARSE, "body:");
}

static void
test_utf8_surrogate_is_rejected(void **state)
{
	(void)state;
	/* ED A0 80 would be U+D800. */
	assert_rejected(ENV("user.login", "{'note':'\xed\xa0\x80'}"), TT_EPARSE, "body:");
}

static void
test_truncated_utf8_at_end_is_rejected(void **state)
{
	(void)state;
	const char body[] = "{}\xe2\x82";
	assert_rejected_n(body, sizeof(body) - 1, TT_EPARSE, "body:");
}

static void
test_valid_utf8_is_kept(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.login", "{'note':'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xab'}"), &ev);
	const cJSON *note = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(ev.doc, "data"), "note");
	assert_non_null(note);
	assert_string_equal(note->valuestring, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xab");
	tt_event_fini(&ev);
}

static void
test_nul_byte_is_rejected(void **state)
{
	(void)state;
	const char body[] = "{'id':'e'\0,'type':'user.login'}";
	assert_rejected_n(body, sizeof(body) - 1, TT_EPARSE, "body:");
}

/* A valid envelope padded with spaces inside the object to exactly n bytes. */
static char *
padded_envelope(size_t n)
{
	const char *tail = "'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','data':{}}";
	size_t tl = strlen(tail);
	char *b = malloc(n + 1);
	assert_non_null(b);
	b[0] = '{';
	memset(b + 1, ' ', n - 1 - tl);
	memcpy(b + n - tl, tail, tl);
	b[n] = '\0';
	return b;
}

static void
test_body_of_exactly_64_kib_is_accepted(void **state)
{
	(void)state;
	char *b = padded_envelope(64 * 1024);
	tt_event ev;
	char err[256] = "";
	assert_int_equal(parse_n(b, 64 * 1024, &ev, err, sizeof(err)), TT_OK);
	tt_event_fini(&ev);
	free(b);
}

static void
test_body_over_64_kib_is_rejected(void **state)
{
	(void)state;
	char *b = padded_envelope(64 * 1024 + 1);
	assert_rejected_n(b, 64 * 1024 + 1, TT_ETOOBIG, "body:");
	free(b);
}

static void
test_empty_body_is_rejected(void **state)
{
	(void)state;
	assert_rejected_n("", 0, TT_EPARSE, "body:");
}

static void
test_malformed_json_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e',", TT_EPARSE, "body:");
	assert_rejected("{id:'e'}", TT_EPARSE, "body:");
}

static void
test_json_array_is_rejected(void **state)
{
	(void)state;
	assert_rejected("[" ENV("user.login", "{}") "]", TT_EPARSE, "body:");
}

static void
test_json_scalars_are_rejected(void **state)
{
	(void)state;
	assert_rejected("'text'", TT_EPARSE, "body:");
	assert_rejected("42", TT_EPARSE, "body:");
	assert_rejected("null", TT_EPARSE, "body:");
	assert_rejected("true", TT_EPARSE, "body:");
}

static void
test_trailing_content_after_the_object_is_rejected(void **state)
{
	(void)state;
	/* proto/README.md: "Every message body is one JSON object". */
	assert_rejected(ENV("user.login", "{}") " trailing", TT_EPARSE, "body:");
	assert_rejected(ENV("user.login", "{}") "{}", TT_EPARSE, "body:");
}

static void
test_trailing_whitespace_is_accepted(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.login", "{}") " \n", &ev);
	tt_event_fini(&ev);
}

static void
test_duplicate_top_level_key_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','id':'f','type':'user.login',"
	    "'occurredAt':'2024-06-15T10:00:00Z','venueId':'v','data':{}}", TT_EINVAL, "id:");
}

static void
test_duplicate_user_id_is_rejected(void **state)
{
	(void)state;
	/* A second userId must not slip past the hashing of the first. */
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','userId':'a','data':{},'userId':'raw-id'}", TT_EINVAL, "userId:");
}

static void
test_duplicate_nested_key_is_rejected(void **state)
{
	(void)state;
	tt_event ev;
	char err[256] = "";
	assert_int_equal(parse(ENV("ticket.purchased",
	    "{'ticketId':'t','orderId':'o','price':1,'price':2}"), &ev, err, sizeof(err)),
	    TT_EINVAL);
	assert_non_null(strstr(err, "price"));
	assert_non_null(strstr(err, "duplicate"));
	assert_null(ev.doc);
}

static void
test_duplicate_nested_key_reason_starts_with_its_path(void **state)
{
	(void)state;
	assert_rejected(ENV("ticket.purchased",
	    "{'ticketId':'t','orderId':'o','price':1,'price':2}"), TT_EINVAL, "data.price:");
}

static void
test_duplicate_key_deep_in_array_is_rejected(void **state)
{
	(void)state;
	tt_event ev;
	char err[256] = "";
	assert_int_equal(parse(ENV("user.login",
	    "{'items':[{'a':1},{'b':{'email':'x@y.z','email':'q@r.s'}}]}"), &ev, err, sizeof(err)),
	    TT_EINVAL);
	assert_non_null(strstr(err, "duplicate"));
	assert_null(ev.doc);
}

static void
test_same_key_in_sibling_objects_is_not_a_duplicate(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.login", "{'a':{'k':1},'b':{'k':2},'c':[{'k':3},{'k':4}]}"), &ev);
	tt_event_fini(&ev);
}

/* ---- personal data ------------------------------------------------------ */

static const cJSON *
data_of(const tt_event *ev)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev->doc, "data");
	assert_non_null(d);
	return d;
}

static const cJSON *
get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* The string value of member k of o; fails the test when there is none. */
static const char *
str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsString(v))
		fail_msg("member \"%s\" is missing or not a string", k);
	return v->valuestring;
}


static void
test_envelope_user_id_is_replaced_by_its_hmac(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','userId':'user-42','data':{}}", &ev);
	assert_string_equal(ev.customer_hash, H_USER_42);
	assert_string_equal(str_of(ev.doc, "userId"), H_USER_42);
	tt_event_fini(&ev);
}

static void
test_data_customer_and_buyer_ids_are_replaced_by_their_hmac(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("ticket.purchased", PURCHASE_DATA(",'customerId':'cust-7',"
	    "'buyerId':'buyer-9','sellerId':'seller-3','userId':'user-in-data'")), &ev);
	const cJSON *d = data_of(&ev);
	assert_string_equal(str_of(d, "customerId"), H_CUST_7);
	assert_string_equal(str_of(d, "buyerId"), H_BUYER_9);
	assert_string_equal(str_of(d, "sellerId"), H_SELLER_3);
	assert_string_equal(str_of(d, "userId"), H_USER_IN_DATA);
	tt_event_fini(&ev);
}

static void
test_numeric_customer_id_is_hashed_as_its_text(void **state)
{
	(void)state;
	tt_event ev;
	/* 12345 as "%.17g" is "12345"; its HMAC was computed with openssl. */
	parse_ok(ENV("user.login", "{'customerId':12345}"), &ev);
	const cJSON *c = get(data_of(&ev), "customerId");
	assert_true(cJSON_IsString(c));
	assert_string_equal(c->valuestring, H_12345);
	tt_event_fini(&ev);
}

static void
test_customer_id_deep_in_data_is_hashed(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.login", "{'order':{'lines':[{'buyerId':'buyer-9'}]}}"), &ev);
	const cJSON *lines = get(get(data_of(&ev), "order"), "lines");
	assert_string_equal(str_of(cJSON_GetArrayItem(lines, 0), "buyerId"), H_BUYER_9);
	tt_event_fini(&ev);
}

static void
test_email_and_phone_are_removed_at_top_of_data(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.registered", "{'email':'alice@example.com','phone':'+1-555-0100',"
	    "'plan':'gold'}"), &ev);
	const cJSON *d = data_of(&ev);
	assert_null(get(d, "email"));
	assert_null(get(d, "phone"));
	assert_string_equal(str_of(d, "plan"), "gold");
	tt_event_fini(&ev);
}

static void
test_email_is_removed_at_any_depth(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.login", "{'a':{'b':{'c':{'email':'deep@example.com','keep':1}}},"
	    "'list':[{'email':'in@array.com'},[{'phone':'555'}]]}"), &ev);
	const cJSON *d = data_of(&ev);
	const cJSON *c = get(get(get(d, "a"), "b"), "c");
	assert_null(get(c, "email"));
	assert_non_null(get(c, "keep"));
	const cJSON *list = get(d, "list");
	assert_null(get(cJSON_GetArrayItem(list, 0), "email"));
	assert_null(get(cJSON_GetArrayItem(cJSON_GetArrayItem(list, 1), 0), "phone"));
	tt_event_fini(&ev);
}

static void
test_every_listed_personal_key_is_removed(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.registered", "{'x':{'fullName':'A B','email':'e@x.io','phone':'1',"
	    "'phoneNumber':'2','address':{'line':'3'},'street':'4','postalAddress':'5',"
	    "'dateOfBirth':'1990-01-01','ok':true}}"), &ev);
	const cJSON *x = get(data_of(&ev), "x");
	assert_int_equal(cJSON_GetArraySize(x), 1);
	assert_non_null(get(x, "ok"));
	tt_event_fini(&ev);
}

static void
test_customer_names_are_removed(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("ticket.purchased", PURCHASE_DATA(",'customer':{'firstName':'Alice',"
	    "'lastName':'Smith','name':'Alice Smith','tier':'vip'}")), &ev);
	const cJSON *c = get(data_of(&ev), "customer");
	assert_non_null(c);
	assert_null(get(c, "firstName"));
	assert_null(get(c, "lastName"));
	assert_null(get(c, "name"));
	assert_string_equal(str_of(c, "tier"), "vip");
	tt_event_fini(&ev);
}

static void
test_buyer_and_user_names_are_removed(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("listing.sold", "{'listingId':'l','buyer':{'name':'Bob'},"
	    "'user':{'name':'Carol','id':'u'}}"), &ev);
	const cJSON *d = data_of(&ev);
	assert_null(get(get(d, "buyer"), "name"));
	assert_null(get(get(d, "user"), "name"));
	assert_string_equal(str_of(get(d, "user"), "id"), "u");
	tt_event_fini(&ev);
}

static void
test_names_in_an_array_of_customers_are_removed(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.login", "{'buyer':[{'name':'Dan'},{'name':'Eve'}]}"), &ev);
	const cJSON *b = get(data_of(&ev), "buyer");
	assert_null(get(cJSON_GetArrayItem(b, 0), "name"));
	assert_null(get(cJSON_GetArrayItem(b, 1), "name"));
	tt_event_fini(&ev);
}

static void
test_event_created_name_is_kept(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("event.created", "{'name':'Summer Gala','capacity':100}"), &ev);
	assert_string_equal(str_of(data_of(&ev), "name"), "Summer Gala");
	tt_event_fini(&ev);
}

static void
test_name_outside_person_objects_is_kept(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok(ENV("user.login", "{'venue':{'name':'Main Hall'}}"), &ev);
	assert_string_equal(str_of(get(data_of(&ev), "venue"), "name"), "Main Hall");
	tt_event_fini(&ev);
}

static void
test_unknown_fields_are_kept(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok("{'id':'e','type':'ticket.scanned','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','source':'gate-app','data':{'ticketId':'t','extra':{'n':[1,2,3]}}}", &ev);
	assert_string_equal(str_of(ev.doc, "source"), "gate-app");
	const cJSON *n = get(get(data_of(&ev), "extra"), "n");
	assert_int_equal(cJSON_GetArraySize(n), 3);
	tt_event_fini(&ev);
}

static void
test_event_json_parses_back_without_personal_data(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok("{'id':'evt-9','type':'ticket.purchased','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'venue-1','userId':'user-42','data':{'ticketId':'t-1','orderId':'o-1',"
	    "'price':'12.30','quantity':2,'customerId':'cust-7','email':'alice@example.com',"
	    "'customer':{'firstName':'Alice','lastName':'Smith','phone':'+1-555-0100'},"
	    "'channel':'web'}}", &ev);
	char *json = tt_event_json(&ev);
	assert_non_null(json);
	const char *pii[] = { "user-42", "cust-7", "alice@example.com", "Alice", "Smith",
	    "555-0100", "email", "firstName", "phone" };
	for (size_t i = 0; i < sizeof(pii) / sizeof(pii[0]); i++)
		if (strstr(json, pii[i]) != NULL)
			fail_msg("\"%s\" found in %s", pii[i], json);
	cJSON *back = cJSON_Parse(json);
	assert_non_null(back);
	assert_string_equal(str_of(back, "id"), "evt-9");
	assert_string_equal(str_of(back, "userId"), H_USER_42);
	const cJSON *d = get(back, "data");
	assert_string_equal(str_of(d, "customerId"), H_CUST_7);
	assert_string_equal(str_of(d, "price"), "12.30");
	assert_string_equal(str_of(d, "channel"), "web");
	cJSON_Delete(back);
	free(json);
	tt_event_fini(&ev);
}

static void
test_event_json_keeps_the_names_of_hashed_ids(void **state)
{
	(void)state;
	tt_event ev;
	parse_ok("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','userId':'user-42','data':{'customerId':'cust-7'}}", &ev);
	char *json = tt_event_json(&ev);
	assert_non_null(json);
	if (strstr(json, "\"\":") != NULL)
		fail_msg("empty member name in %s", json);
	assert_non_null(strstr(json, "\"userId\":\"" H_USER_42 "\""));
	assert_non_null(strstr(json, "\"customerId\":\"" H_CUST_7 "\""));
	free(json);
	tt_event_fini(&ev);
}

#define T(f) cmocka_unit_test(f)

/* ---- strictness beyond cJSON -------------------------------------------- */

static void
test_nul_escape_in_a_string_is_rejected(void **state)
{
	(void)state;
	/* cJSON would decode it into a NUL and cut the id to "evt-1". */
	assert_rejected("{'id':'evt-1\\u0000zzz','type':'user.login','occurredAt':"
	    "'2024-06-15T10:00:00Z','venueId':'v','data':{}}", TT_EPARSE, "body:");
}

static void
test_escaped_backslash_before_u0000_text_is_accepted(void **state)
{
	(void)state;
	tt_event ev;
	/* "\\u0000" is a backslash then the text u0000: no NUL. */
	parse_ok("{'id':'e','type':'marketing.touchpoint','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','data':{'channel':'a\\\\u0000b'}}", &ev);
	tt_event_fini(&ev);
}

static void
test_raw_control_character_in_a_string_is_rejected(void **state)
{
	(void)state;
	assert_rejected("{'id':'e','type':'user.login','occurredAt':'2024-06-15T10:00:00Z',"
	    "'venueId':'v','data':{'note':'a\tb'}}", TT_EPARSE, "body:");
}

static void
test_duplicate_key_with_a_newline_gives_a_one_line_reason(void **state)
{
	(void)state;
	assert_rejected("{'a\\nb':1,'a\\nb':2}", TT_EINVAL, "a?b: duplicate key");
}

static void
test_stored_occurred_at_is_utc(void **state)
{
	(void)state;
	tt_event ev;
	/* 2024-06-15T12:30:00+02:00 is 10:30 UTC (date -u -d '2024-06-15T12:30:00+02:00'). */
	parse_ok("{'id':'e','type':'user.login','occurredAt':'2024-06-15T12:30:00.5+02:00',"
	    "'venueId':'v','data':{}}", &ev);
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(ev.doc, "occurredAt");
	assert_true(cJSON_IsString(at));
	assert_string_equal(at->valuestring, "2024-06-15T10:30:00.500Z");
	tt_event_fini(&ev);
}


int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_purchased_revenue_is_price_times_quantity),
		T(test_purchased_quantity_defaults_to_one),
		T(test_purchased_null_quantity_defaults_to_one),
		T(test_purchased_string_price),
		T(test_purchased_free_ticket_counts_a_sale_without_revenue),
		T(test_purchased_max_quantity_is_accepted),
		T(test_refunded_revenue_is_negative_amount),
		T(test_other_types_contribute_no_revenue_or_sales),
		T(test_envelope_fields_are_copied),
		T(test_optional_envelope_fields_default_to_empty),
		T(test_occurred_at_with_offset_is_stored_in_utc),
		T(test_occurred_at_exactly_max_future_is_accepted),
		T(test_every_type_is_accepted_with_its_required_fields),
		T(test_event_created_with_all_fields_is_accepted),
		T(test_type_names_match_the_proto),
		T(test_fini_accepts_null_and_repeats),
		T(test_missing_id_is_rejected),
		T(test_empty_id_is_rejected),
		T(test_numeric_id_is_rejected),
		T(test_id_of_128_chars_is_accepted_and_129_rejected),
		T(test_id_with_forbidden_characters_is_rejected),
		T(test_missing_type_is_rejected),
		T(test_unknown_type_is_rejected),
		T(test_missing_occurred_at_is_rejected),
		T(test_occurred_at_without_zone_is_rejected),
		T(test_occurred_at_bare_date_is_rejected),
		T(test_occurred_at_as_number_is_rejected),
		T(test_occurred_at_beyond_max_future_is_rejected),
		T(test_missing_venue_id_is_rejected),
		T(test_venue_id_of_64_chars_is_accepted_and_65_rejected),
		T(test_venue_id_with_forbidden_characters_is_rejected),
		T(test_event_id_of_129_chars_is_rejected),
		T(test_empty_event_id_is_rejected),
		T(test_session_id_of_129_chars_is_rejected),
		T(test_event_and_session_ids_outside_the_id_charset_are_rejected),
		T(test_numeric_envelope_user_id_is_rejected),
		T(test_missing_data_is_rejected),
		T(test_data_that_is_not_an_object_is_rejected),
		T(test_purchased_missing_ticket_id_is_rejected),
		T(test_purchased_missing_order_id_is_rejected),
		T(test_purchased_missing_price_is_rejected),
		T(test_purchased_negative_price_is_rejected),
		T(test_purchased_price_with_three_decimals_is_rejected),
		T(test_purchased_price_with_exponent_string_is_rejected),
		T(test_purchased_price_of_wrong_type_is_rejected),
		T(test_purchased_price_beyond_money_range_is_rejected),
		T(test_purchased_price_times_quantity_overflow_is_rejected),
		T(test_purchased_quantity_zero_is_rejected),
		T(test_purchased_quantity_10001_is_rejected),
		T(test_purchased_fractional_quantity_is_rejected),
		T(test_purchased_string_quantity_is_rejected),
		T(test_purchased_lowercase_currency_is_rejected),
		T(test_purchased_currency_of_wrong_length_is_rejected),
		T(test_purchased_channel_as_number_is_rejected),
		T(test_purchased_with_all_optional_fields_is_accepted),
		T(test_refunded_missing_amount_is_rejected),
		T(test_refunded_negative_amount_is_rejected),
		T(test_refunded_missing_order_id_is_rejected),
		T(test_scanned_missing_ticket_id_is_rejected),
		T(test_payment_missing_payment_id_is_rejected),
		T(test_payment_missing_amount_is_rejected),
		T(test_payment_bad_currency_is_rejected),
		T(test_payment_negative_amount_is_rejected),
		T(test_refund_processed_missing_refund_id_is_rejected),
		T(test_refund_processed_missing_amount_is_rejected),
		T(test_event_created_negative_capacity_is_rejected),
		T(test_event_created_bad_starts_at_is_rejected),
		T(test_event_updated_fractional_capacity_is_rejected),
		T(test_listing_missing_listing_id_is_rejected),
		T(test_listing_bad_price_is_rejected),
		T(test_touchpoint_missing_channel_is_rejected),
		T(test_invalid_utf8_byte_is_rejected),
		T(test_overlong_utf8_is_rejected),
		T(test_utf8_surrogate_is_rejected),
		T(test_truncated_utf8_at_end_is_rejected),
		T(test_valid_utf8_is_kept),
		T(test_nul_byte_is_rejected),
		T(test_body_of_exactly_64_kib_is_accepted),
		T(test_body_over_64_kib_is_rejected),
		T(test_empty_body_is_rejected),
		T(test_malformed_json_is_rejected),
		T(test_json_array_is_rejected),
		T(test_json_scalars_are_rejected),
		T(test_trailing_content_after_the_object_is_rejected),
		T(test_trailing_whitespace_is_accepted),
		T(test_duplicate_top_level_key_is_rejected),
		T(test_duplicate_user_id_is_rejected),
		T(test_duplicate_nested_key_is_rejected),
		T(test_duplicate_nested_key_reason_starts_with_its_path),
		T(test_duplicate_key_deep_in_array_is_rejected),
		T(test_same_key_in_sibling_objects_is_not_a_duplicate),
		T(test_envelope_user_id_is_replaced_by_its_hmac),
		T(test_data_customer_and_buyer_ids_are_replaced_by_their_hmac),
		T(test_numeric_customer_id_is_hashed_as_its_text),
		T(test_customer_id_deep_in_data_is_hashed),
		T(test_email_and_phone_are_removed_at_top_of_data),
		T(test_email_is_removed_at_any_depth),
		T(test_every_listed_personal_key_is_removed),
		T(test_customer_names_are_removed),
		T(test_buyer_and_user_names_are_removed),
		T(test_names_in_an_array_of_customers_are_removed),
		T(test_event_created_name_is_kept),
		T(test_name_outside_person_objects_is_kept),
		T(test_unknown_fields_are_kept),
		T(test_event_json_parses_back_without_personal_data),
		T(test_event_json_keeps_the_names_of_hashed_ids),
			T(test_nul_escape_in_a_string_is_rejected),
		T(test_escaped_backslash_before_u0000_text_is_accepted),
		T(test_raw_control_character_in_a_string_is_rejected),
		T(test_duplicate_key_with_a_newline_gives_a_one_line_reason),
		T(test_stored_occurred_at_is_utc),
};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
