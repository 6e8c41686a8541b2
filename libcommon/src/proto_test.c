/*
 * proto_test.c - every proto/events/<type>.example.json through
 * tt_event_parse(). The examples are what a platform service sends, so the
 * validator must accept each of them as it is, with the counter deltas of
 * proto/README.md ("counts as") and the instant of its occurredAt; and the
 * scrubbed envelope it stores (and publishes on nng as kind "event") must
 * itself still be a valid envelope.
 *
 * The examples are found from this file's own path (CMake compiles it by
 * its absolute path): libcommon/src/proto_test.c -> ../../proto/events/.
 *
 * Independent expectations, worked out by hand from the example files:
 *   - ticket.purchased: price 89.50 x quantity 2 = 179.00
 *       -> revenue_cents 17900, quantity 2
 *   - ticket.refunded: amount "89.50" -> revenue_cents -8950, quantity 0
 *   - every other type: revenue_cents 0, quantity 0
 *   - instants: date -u -d '<occurredAt>' +%s%3N, next to each line below
 *   - userId "usr-5d0b7e93a1" (purchased, registered, login):
 *       printf %s usr-5d0b7e93a1 | openssl dgst -sha256 -hmac proto-test-hash-key
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/event.h"

#define HASH_KEY "proto-test-hash-key"
#define H_USR "c2b343d340288706e7631c715987aea0ed5c34fefea7b5022ceb1d420e01845c"

static const tt_event_opts opts = {
	.hash_key = HASH_KEY,
	.hash_key_len = sizeof(HASH_KEY) - 1,
	.now_ms = 0,                       /* the clock: examples lie in the past */
	.max_future_ms = INT64_C(86400000), /* ingest's value (services/ingest/batch.c) */
};

typedef struct {
	const char *type;
	int64_t     revenue_cents;
	int64_t     quantity;
	int64_t     occurred_ms;
	const char *venue_id;
	const char *customer_hash;  /* "" when the example has no userId */
} expectation;

static const expectation expected[] = {
	/* 2026-11-20T19:42:07.315-05:00 */
	{ "ticket.purchased", 17900, 2, INT64_C(1795221727315), "venue-harbor-hall", H_USR },
	/* 2026-11-22T14:05:51Z */
	{ "ticket.refunded", -8950, 0, INT64_C(1795356351000), "venue-harbor-hall", "" },
	/* 2026-11-21T19:58:12.004-05:00 */
	{ "ticket.scanned", 0, 0, INT64_C(1795309092004), "venue-harbor-hall", "" },
	/* 2026-11-20T19:42:06.902-05:00 */
	{ "payment.completed", 0, 0, INT64_C(1795221726902), "venue-harbor-hall", "" },
	/* 2026-11-22T14:05:53.270Z */
	{ "refund.processed", 0, 0, INT64_C(1795356353270), "venue-harbor-hall", "" },
	/* 2026-11-02T10:15:00+01:00 */
	{ "event.created", 0, 0, INT64_C(1793610900000), "venue-harbor-hall", "" },
	/* 2026-11-12T09:30:27.118+01:00 */
	{ "event.updated", 0, 0, INT64_C(1794472227118), "venue-harbor-hall", "" },
	/* 2026-11-20T19:31:44.650-05:00 */
	{ "user.registered", 0, 0, INT64_C(1795221104650), "venue-harbor-hall", H_USR },
	/* 2026-11-24T08:12:09.377+00:00 */
	{ "user.login", 0, 0, INT64_C(1795507929377), "venue-harbor-hall", H_USR },
	/* 2026-11-23T17:48:30Z */
	{ "listing.created", 0, 0, INT64_C(1795456110000), "venue-harbor-hall", "" },
	/* 2026-11-24T21:03:16.541-05:00 */
	{ "listing.sold", 0, 0, INT64_C(1795572196541), "venue-harbor-hall", "" },
	/* 2026-11-20T19:29:58.120-05:00 */
	{ "marketing.touchpoint", 0, 0, INT64_C(1795220998120), "venue-harbor-hall", "" },
};
#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

#define SUFFIX ".example.json"

/* proto/events, from this source file's directory. */
static void
events_dir(char *out, size_t cap)
{
	const char *f = __FILE__;
	const char *slash = strrchr(f, '/');
	int n;

	if (slash == NULL)
		n = snprintf(out, cap, "../../proto/events");
	else
		n = snprintf(out, cap, "%.*s/../../proto/events", (int)(slash - f), f);
	assert_true(n > 0 && (size_t)n < cap);
}

/* The whole file, NUL-terminated; *len without the NUL. */
static char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long sz;

	if (fp == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	sz = ftell(fp);
	assert_true(sz > 0 && sz <= TT_EVENT_MAX_BODY);
	rewind(fp);
	buf = malloc((size_t)sz + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
	buf[sz] = '\0';
	fclose(fp);
	*len = (size_t)sz;
	return buf;
}

/* The expectation of a type name, or NULL. */
static const expectation *
find_expected(const char *type, size_t len)
{
	for (size_t i = 0; i < NEXPECTED; i++)
		if (strlen(expected[i].type) == len && strncmp(expected[i].type, type, len) == 0)
			return &expected[i];
	return NULL;
}

typedef void (*example_fn)(const char *path, const expectation *x, const char *body, size_t len);

/* Calls fn on each *.example.json of proto/events; returns how many. */
static size_t
for_each_example(example_fn fn)
{
	char dir[4096], path[4400];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	events_dir(dir, sizeof(dir));
	d = opendir(dir);
	if (d == NULL)
		fail_msg("cannot open the directory %s", dir);
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name), sl = strlen(SUFFIX);
		if (nl <= sl || strcmp(de->d_name + nl - sl, SUFFIX) != 0)
			continue;
		const expectation *x = find_expected(de->d_name, nl - sl);
		if (x == NULL)
			fail_msg("%s: an example of a type this test does not know", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		size_t len;
		char *body = read_file(path, &len);
		fn(path, x, body, len);
		free(body);
		n++;
	}
	closedir(d);
	return n;
}

/* ---- tests --------------------------------------------------------------- */

static unsigned seen_mask;

static void
mark_seen(const char *path, const expectation *x, const char *body, size_t len)
{
	(void)body;
	(void)len;
	unsigned bit = 1u << (unsigned)(x - expected);
	if (seen_mask & bit)
		fail_msg("%s: a second example of %s", path, x->type);
	seen_mask |= bit;
}

/* One example per type of tt/event.h (which are proto/README.md's), no more. */
static void
test_one_example_per_type(void **state)
{
	(void)state;
	assert_int_equal(NEXPECTED, TT_EV_COUNT);
	for (int t = 0; t < TT_EV_COUNT; t++)
		assert_non_null(find_expected(tt_event_type_name((tt_event_type)t),
		    strlen(tt_event_type_name((tt_event_type)t))));
	seen_mask = 0;
	assert_int_equal(for_each_example(mark_seen), TT_EV_COUNT);
	assert_int_equal(seen_mask, (1u << TT_EV_COUNT) - 1);
}

static void
check_example(const char *path, const expectation *x, const char *body, size_t len)
{
	tt_event ev;
	char err[256] = "";
	tt_err e = tt_event_parse(&ev, body, len, &opts, err, sizeof(err));

	if (e != TT_OK)
		fail_msg("%s: refused (%d): %s", path, (int)e, err);
	assert_string_equal(tt_event_type_name(ev.type), x->type);
	if (ev.revenue_cents != x->revenue_cents || ev.quantity != x->quantity)
		fail_msg("%s: revenue_cents %lld quantity %lld, want %lld and %lld", path,
		    (long long)ev.revenue_cents, (long long)ev.quantity,
		    (long long)x->revenue_cents, (long long)x->quantity);
	if (ev.occurred_ms != x->occurred_ms)
		fail_msg("%s: occurred_ms %lld, want %lld", path, (long long)ev.occurred_ms,
		    (long long)x->occurred_ms);
	assert_string_equal(ev.venue_id, x->venue_id);
	assert_string_equal(ev.customer_hash, x->customer_hash);
	tt_event_fini(&ev);
}

/* Every example is accepted, with the deltas and instant worked out above. */
static void
test_examples_are_accepted_with_their_deltas(void **state)
{
	(void)state;
	assert_int_equal(for_each_example(check_example), TT_EV_COUNT);
}

static void
check_stored_form(const char *path, const expectation *x, const char *body, size_t len)
{
	tt_event ev, again;
	char err[256] = "";
	char *json;

	assert_int_equal(tt_event_parse(&ev, body, len, &opts, err, sizeof(err)), TT_OK);
	json = tt_event_json(&ev);
	assert_non_null(json);
	if (x->customer_hash[0] != '\0' && strstr(json, x->customer_hash) == NULL)
		fail_msg("%s: the stored form lacks the hashed userId: %s", path, json);
	if (strstr(json, "usr-5d0b7e93a1") != NULL)
		fail_msg("%s: the raw userId survived the scrub: %s", path, json);
	if (tt_event_parse(&again, json, strlen(json), &opts, err, sizeof(err)) != TT_OK)
		fail_msg("%s: the stored form is refused: %s (%s)", path, err, json);
	assert_int_equal(again.type, ev.type);
	assert_int_equal(again.revenue_cents, x->revenue_cents);
	assert_int_equal(again.quantity, x->quantity);
	assert_int_equal(again.occurred_ms, x->occurred_ms);
	tt_event_fini(&again);
	free(json);
	tt_event_fini(&ev);
}

/*
 * What ingest stores in raw_events.payload and publishes on nng ("event")
 * is still a valid envelope with the same deltas (proto/nng.md).
 */
static void
test_stored_form_is_still_valid(void **state)
{
	(void)state;
	assert_int_equal(for_each_example(check_stored_form), TT_EV_COUNT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_example_per_type),
		cmocka_unit_test(test_examples_are_accepted_with_their_deltas),
		cmocka_unit_test(test_stored_form_is_still_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
