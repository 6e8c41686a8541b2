/*
 * event_fuzz.c - libFuzzer target for tt_event_parse(): any bytes, as a
 * message body from RabbitMQ would be.
 *
 * The body is parsed from a private heap copy that is poisoned and freed
 * before the result is read, so a pointer kept into the input shows up as a
 * use-after-free. When the parse succeeds, what would be stored must hold
 * the promises of proto/README.md:
 *   - tt_event_json() is one JSON object that cJSON reads back, carrying
 *     the same id, type and venueId as the parsed event;
 *   - no personal key (email, phone, ... at any depth, any letter case;
 *     "name" inside customer/buyer/user objects) survives the scrub;
 *   - every customer id key (userId, customerId, buyerId, sellerId) left in
 *     the document is 64 lowercase hex characters, and the envelope's
 *     userId is the event's customer_hash;
 *   - the counter deltas are within the rules of the type;
 *   - the stored document is itself a valid event with the same deltas
 *     (parsing it again succeeds), as long as it still fits the size limit.
 * On failure the event holds nothing and the reason is one line.
 * Any broken promise is a __builtin_trap(), which libFuzzer reports with the
 * input that caused it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "tt/event.h"
#include "tt/money.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
#define FUZZ_HASH_KEY "fuzz-hash-key"
/* date -u -d '2024-06-15T10:30:00Z' +%s%3N */
#define FUZZ_NOW_MS    INT64_C(1718447400000)
#define FUZZ_FUTURE_MS INT64_C(300000)
/* 2000-01-01T00:00:00Z, the earliest occurredAt accepted. */
#define FUZZ_MIN_MS INT64_C(946684800000)

static const tt_event_opts fuzz_opts = {
    .hash_key = FUZZ_HASH_KEY,
    .hash_key_len = sizeof(FUZZ_HASH_KEY) - 1,
    .now_ms = FUZZ_NOW_MS,
    .max_future_ms = FUZZ_FUTURE_MS,
};

/* The personal keys of proto/README.md, removed at any depth. */
static const char *const pii_keys[] = {"firstName", "lastName", "fullName", "email", "phone",
    "phoneNumber", "address", "street", "postalAddress", "dateOfBirth", NULL};
/* Objects in which "name" is personal too. */
static const char *const person_keys[] = {"customer", "buyer", "user", NULL};
/* Keys whose values are replaced by HMAC-SHA256 hex. */
static const char *const customer_id_keys[] = {"userId", "customerId", "buyerId", "sellerId", NULL};

static bool
listed(const char *k, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcasecmp(k, *list) == 0)
			return true;
	return false;
}

static bool
is_hash_hex(const char *s)
{
	if (s == NULL || strlen(s) != TT_HMAC_HEX_LEN)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static bool
id_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/* Walks the scrubbed document; in_person: node is a customer/buyer/user value. */
static void
check_scrubbed(const cJSON *node, bool in_person)
{
	for (const cJSON *c = node->child; c != NULL; c = c->next) {
		const char *k = cJSON_IsObject(node) ? c->string : NULL;
		bool person = false;

		if (k != NULL) {
			CHECK(!listed(k, pii_keys));
			CHECK(!(in_person && strcasecmp(k, "name") == 0));
			if (listed(k, customer_id_keys))
				CHECK(cJSON_IsString(c) && is_hash_hex(c->valuestring));
			person = listed(k, person_keys);
		}
		if (cJSON_IsObject(c) || cJSON_IsArray(c))
			check_scrubbed(c, person || (in_person && cJSON_IsArray(node)));
	}
}

static const char *
str_member(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
check_event(const tt_event *ev)
{
	CHECK(ev->doc != NULL);
	CHECK(id_ok(ev->id, TT_EVENT_ID_MAX));
	CHECK(id_ok(ev->venue_id, TT_EVENT_VENUE_MAX));
	CHECK(ev->event_id[0] == '\0' || id_ok(ev->event_id, TT_EVENT_ID_MAX));
	CHECK(ev->session_id[0] == '\0' || id_ok(ev->session_id, TT_EVENT_ID_MAX));
	CHECK(ev->customer_hash[0] == '\0' || is_hash_hex(ev->customer_hash));
	CHECK(tt_event_type_name(ev->type) != NULL);
	CHECK(ev->occurred_ms >= FUZZ_MIN_MS && ev->occurred_ms <= FUZZ_NOW_MS + FUZZ_FUTURE_MS);
	CHECK(ev->revenue_cents >= -TT_MONEY_MAX_CENTS && ev->revenue_cents <= TT_MONEY_MAX_CENTS);
	switch (ev->type) {
	case TT_EV_TICKET_PURCHASED:
		CHECK(ev->quantity >= 1 && ev->quantity <= 10000);
		CHECK(ev->revenue_cents >= 0);
		break;
	case TT_EV_TICKET_REFUNDED:
		CHECK(ev->quantity == 0 && ev->revenue_cents <= 0);
		break;
	default:
		CHECK(ev->quantity == 0 && ev->revenue_cents == 0);
		break;
	}
}

/* The stored JSON: parses back, same envelope, nothing personal left. */
static void
check_json(const tt_event *ev, const char *json)
{
	cJSON *doc;
	const char *s;

	CHECK(json != NULL);
	doc = cJSON_Parse(json);
	CHECK(doc != NULL && cJSON_IsObject(doc));
	s = str_member(doc, "id");
	CHECK(s != NULL && strcmp(s, ev->id) == 0);
	s = str_member(doc, "type");
	CHECK(s != NULL && strcmp(s, tt_event_type_name(ev->type)) == 0);
	s = str_member(doc, "venueId");
	CHECK(s != NULL && strcmp(s, ev->venue_id) == 0);
	CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "data")));
	s = str_member(doc, "userId");
	if (s != NULL)
		CHECK(strcmp(s, ev->customer_hash) == 0);
	else
		CHECK(cJSON_GetObjectItemCaseSensitive(doc, "userId") == NULL &&
		      ev->customer_hash[0] == '\0');
	check_scrubbed(doc, false);
	cJSON_Delete(doc);
}

/* The stored form is a valid event with the same identity and deltas. */
static void
check_reparse(const tt_event *ev, const char *json)
{
	size_t n = strlen(json);
	tt_event again;
	char err[256];

	if (n > TT_EVENT_MAX_BODY)
		return; /* hashed ids are longer than what they replace */
	CHECK(tt_event_parse(&again, json, n, &fuzz_opts, err, sizeof(err)) == TT_OK);
	CHECK(strcmp(again.id, ev->id) == 0);
	CHECK(strcmp(again.venue_id, ev->venue_id) == 0);
	CHECK(again.type == ev->type);
	CHECK(again.occurred_ms == ev->occurred_ms);
	CHECK(again.revenue_cents == ev->revenue_cents);
	CHECK(again.quantity == ev->quantity);
	tt_event_fini(&again);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1);
	char err[256];
	tt_event ev;
	tt_err e;

	if (body == NULL)
		return 0;
	if (size > 0)
		memcpy(body, data, size);
	body[size] = 'X'; /* not a NUL: the parser must stop at size */
	memset(err, 'E', sizeof(err));
	e = tt_event_parse(&ev, body, size, &fuzz_opts, err, sizeof(err));
	memset(body, 'Z', size + 1);
	free(body);

	if (e != TT_OK) {
		CHECK(e == TT_ETOOBIG || e == TT_EPARSE || e == TT_EINVAL);
		CHECK(ev.doc == NULL);
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		CHECK(err[0] != '\0');
		CHECK(strpbrk(err, "\r\n") == NULL);   /* one line: a dead-letter header */
		tt_event_fini(&ev);
		return 0;
	}

	check_event(&ev);
	char *json = tt_event_json(&ev);
	check_json(&ev, json);
	check_reparse(&ev, json);
	free(json);
	tt_event_fini(&ev);
	return 0;
}
