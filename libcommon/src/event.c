/*
 * event.c - validation and scrubbing of the platform event envelope.
 *
 * Order of work: size and UTF-8 check on the raw bytes (PostgreSQL refuses
 * invalid UTF-8 in jsonb, and one such row must never fail a whole batch),
 * JSON parse, a duplicate-key check at every depth (a second "userId" must
 * not slip past the hashing of the first), the envelope fields, the per-type
 * data rules from one table, then the scrub: personal keys removed and
 * customer ids replaced by HMAC-SHA256 at any depth.
 */
#include "tt/event.h"
#include "tt/money.h"
#include "tt/strparse.h"
#include "tt/time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const type_names[] = {
#define TT_EV_NAME(code, name) [code] = name,
	TT_EVENT_TYPES(TT_EV_NAME)
#undef TT_EV_NAME
};

const char *
tt_event_type_name(tt_event_type t)
{
	return (unsigned)t < TT_EV_COUNT ? type_names[t] : NULL;
}

tt_err
tt_event_type_parse(const char *s, tt_event_type *out)
{
	for (int i = 0; i < TT_EV_COUNT; i++) {
		if (strcmp(s, type_names[i]) == 0) {
			*out = (tt_event_type)i;
			return TT_OK;
		}
	}
	return TT_ENOTFOUND;
}

/* ---- per-type data rules --------------------------------------------- */

typedef enum { F_STR, F_ID, F_MONEY, F_INT, F_ISO, F_CURRENCY } field_kind;

typedef struct {
	const char *name;
	field_kind  kind;
	bool        required;
	int64_t     min, max;  /* F_INT bounds, F_STR/F_ID max length */
} field_rule;

#define END { NULL, F_STR, false, 0, 0 }
#define REQ_ID(n) { n, F_ID, true, 1, 128 }
#define OPT_ID(n) { n, F_ID, false, 1, 128 }
#define OPT_STR(n, mx) { n, F_STR, false, 1, mx }
#define MONEY(n, req) { n, F_MONEY, req, 0, 0 }

static const field_rule rules_purchased[] = {
	REQ_ID("ticketId"), REQ_ID("orderId"), MONEY("price", true),
	{ "quantity", F_INT, false, 1, 10000 }, { "currency", F_CURRENCY, false, 0, 0 },
	OPT_STR("channel", 64), OPT_STR("eventType", 64), END
};
static const field_rule rules_refunded[] = {
	REQ_ID("ticketId"), REQ_ID("orderId"), MONEY("amount", true), END
};
static const field_rule rules_scanned[] = { REQ_ID("ticketId"), OPT_STR("gate", 64), END };
static const field_rule rules_payment[] = {
	REQ_ID("paymentId"), OPT_ID("orderId"), MONEY("amount", true),
	{ "currency", F_CURRENCY, false, 0, 0 }, END
};
static const field_rule rules_refund[] = {
	REQ_ID("refundId"), OPT_ID("paymentId"), MONEY("amount", true), END
};
static const field_rule rules_event[] = {
	OPT_STR("name", 256), { "capacity", F_INT, false, 0, 10000000 },
	{ "startsAt", F_ISO, false, 0, 0 }, OPT_STR("eventType", 64), END
};
static const field_rule rules_none[] = { END };
static const field_rule rules_listing[] = {
	REQ_ID("listingId"), OPT_ID("ticketId"), MONEY("price", false), END
};
static const field_rule rules_touch[] = {
	{ "channel", F_STR, true, 1, 64 }, OPT_STR("campaign", 256), OPT_STR("utmSource", 256),
	OPT_STR("utmMedium", 256), OPT_STR("utmCampaign", 256), END
};

static const field_rule *const type_rules[TT_EV_COUNT] = {
	[TT_EV_TICKET_PURCHASED] = rules_purchased,
	[TT_EV_TICKET_REFUNDED] = rules_refunded,
	[TT_EV_TICKET_SCANNED] = rules_scanned,
	[TT_EV_PAYMENT_COMPLETED] = rules_payment,
	[TT_EV_REFUND_PROCESSED] = rules_refund,
	[TT_EV_EVENT_CREATED] = rules_event,
	[TT_EV_EVENT_UPDATED] = rules_event,
	[TT_EV_USER_REGISTERED] = rules_none,
	[TT_EV_USER_LOGIN] = rules_none,
	[TT_EV_LISTING_CREATED] = rules_listing,
	[TT_EV_LISTING_SOLD] = rules_listing,
	[TT_EV_MARKETING_TOUCHPOINT] = rules_touch,
};

/* ---- personal data ---------------------------------------------------- */

static const char *const pii_keys[] = {
	"firstName", "lastName", "fullName", "email", "phone", "phoneNumber",
	"address", "street", "postalAddress", "dateOfBirth", NULL
};
/* "name" is personal only inside these objects (event.created has a name). */
static const char *const person_objects[] = {
	"customer", "buyer", "user", "attendee", "holder", "seller", NULL
};
static const char *const customer_id_keys[] = {
	"userId", "customerId", "buyerId", "sellerId", NULL
};

static bool
in_list(const char *k, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcasecmp(k, *list) == 0)
			return true;
	return false;
}

/* ---- helpers ----------------------------------------------------------- */

/* RFC 3629 UTF-8 validation: no overlongs, no surrogates, <= U+10FFFF. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) { i++; continue; }
		if (c >= 0xc2 && c <= 0xdf) { k = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { k = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { k = 3; cp = c & 0x07; }
		else return false;
		if (i + k >= n)
			return false;  /* truncated sequence */
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static bool
id_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/*
 * What cJSON lets through and JSON or the contract does not: a raw control
 * byte inside a string (JSON requires it escaped) and the escape \u0000,
 * which cJSON decodes into a NUL that silently cuts the C string short (so
 * "evt-1\u0000xyz" would become the id "evt-1"). Returns false on either.
 */
static bool
strings_clean(const char *s, size_t n, const char **why)
{
	bool in_string = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!in_string) {
			in_string = c == '"';
			continue;
		}
		if (c == '"') {
			in_string = false;
		} else if (c < 0x20) {
			*why = "body: unescaped control character in a string";
			return false;
		} else if (c == '\\' && i + 1 < n) {
			if (s[i + 1] == 'u' && i + 5 < n && s[i + 2] == '0' && s[i + 3] == '0' &&
			    s[i + 4] == '0' && s[i + 5] == '0') {
				*why = "body: \\u0000 in a string";
				return false;
			}
			i++;   /* skip the escaped character */
		}
	}
	return true;
}

/*
 * Finds an object, at any depth, holding two members with the same key, and
 * writes the dotted path of the repeated key into path ("data.price").
 */
static bool
has_duplicate_keys(const cJSON *node, const char *prefix, char *path, size_t pathlen)
{
	for (const cJSON *c = node->child; c != NULL; c = c->next) {
		char here[160];
		if (cJSON_IsObject(node) && c->string != NULL) {
			snprintf(here, sizeof(here), "%s%s%s", prefix, prefix[0] ? "." : "", c->string);
			for (const cJSON *d = c->next; d != NULL; d = d->next) {
				if (d->string != NULL && strcmp(c->string, d->string) == 0) {
					/* The reason is one line: no control byte of a key in it. */
					snprintf(path, pathlen, "%s", here);
					for (char *p = path; *p != '\0'; p++)
						if ((unsigned char)*p < 0x20 || *p == 0x7f)
							*p = '?';
					return true;
				}
			}
		} else {
			snprintf(here, sizeof(here), "%s[]", prefix);
		}
		if ((cJSON_IsObject(c) || cJSON_IsArray(c)) &&
		    has_duplicate_keys(c, here, path, pathlen))
			return true;
	}
	return false;
}

static tt_err
get_string(const cJSON *obj, const char *key, const char *path, bool required,
    size_t maxlen, bool idchars, const char **out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v)) {
		if (required)
			return tt_seterr(err, errlen, TT_EINVAL, "%s: is required", path);
		return TT_OK;
	}
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return tt_seterr(err, errlen, TT_EINVAL, "%s: must be a string", path);
	size_t n = strlen(v->valuestring), chars = 0;
	/* Characters, as JSON Schema's maxLength counts them (input is valid UTF-8). */
	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)v->valuestring[i] & 0xc0) != 0x80;
	if (chars == 0 || chars > maxlen)
		return tt_seterr(err, errlen, TT_EINVAL,
		    "%s: must be 1 to %zu characters", path, maxlen);
	if (idchars && !id_chars_ok(v->valuestring, n))
		return tt_seterr(err, errlen, TT_EINVAL,
		    "%s: only letters, digits and . _ : - are allowed", path);
	*out = v->valuestring;
	return TT_OK;
}

static tt_err
get_money(const cJSON *v, const char *path, int64_t *cents, char *err, size_t errlen)
{
	tt_err e;

	if (cJSON_IsNumber(v))
		e = tt_money_from_double(v->valuedouble, cents);
	else if (cJSON_IsString(v) && v->valuestring != NULL)
		e = tt_money_parse(v->valuestring, strlen(v->valuestring), cents);
	else
		return tt_seterr(err, errlen, TT_EINVAL,
		    "%s: must be a number or a decimal string", path);
	if (e == TT_ERANGE)
		return tt_seterr(err, errlen, TT_EINVAL, "%s: out of range", path);
	if (e != TT_OK)
		return tt_seterr(err, errlen, TT_EINVAL,
		    "%s: must be a decimal amount with at most two decimal places", path);
	if (*cents < 0)
		return tt_seterr(err, errlen, TT_EINVAL, "%s: must not be negative", path);
	return TT_OK;
}

static tt_err
check_data(tt_event *ev, const cJSON *data, char *err, size_t errlen)
{
	char path[96];
	int64_t price = 0, amount = 0, quantity = 1;
	tt_err e;

	for (const field_rule *r = type_rules[ev->type]; r->name != NULL; r++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, r->name);
		const char *s;
		snprintf(path, sizeof(path), "data.%s", r->name);
		if (v == NULL || cJSON_IsNull(v)) {
			if (r->required)
				return tt_seterr(err, errlen, TT_EINVAL, "%s: is required", path);
			continue;
		}
		switch (r->kind) {
		case F_STR:
		case F_ID:
			e = get_string(data, r->name, path, r->required, (size_t)r->max,
			    r->kind == F_ID, &s, err, errlen);
			if (e != TT_OK)
				return e;
			break;
		case F_MONEY: {
			int64_t c;
			if ((e = get_money(v, path, &c, err, errlen)) != TT_OK)
				return e;
			if (strcmp(r->name, "price") == 0)
				price = c;
			else
				amount = c;
			break;
		}
		case F_INT:
			if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
			    v->valuedouble != floor(v->valuedouble) ||
			    v->valuedouble < (double)r->min || v->valuedouble > (double)r->max)
				return tt_seterr(err, errlen, TT_EINVAL,
				    "%s: must be an integer from %lld to %lld", path,
				    (long long)r->min, (long long)r->max);
			if (strcmp(r->name, "quantity") == 0)
				quantity = (int64_t)v->valuedouble;
			break;
		case F_ISO: {
			int64_t ms;
			if (!cJSON_IsString(v) || v->valuestring == NULL ||
			    tt_iso_parse(v->valuestring, strlen(v->valuestring),
			    TT_ISO_DATETIME, &ms) != TT_OK)
				return tt_seterr(err, errlen, TT_EINVAL,
				    "%s: must be an ISO 8601 date-time with a time zone", path);
			break;
		}
		case F_CURRENCY:
			if (!cJSON_IsString(v) || v->valuestring == NULL ||
			    strlen(v->valuestring) != 3 ||
			    v->valuestring[0] < 'A' || v->valuestring[0] > 'Z' ||
			    v->valuestring[1] < 'A' || v->valuestring[1] > 'Z' ||
			    v->valuestring[2] < 'A' || v->valuestring[2] > 'Z')
				return tt_seterr(err, errlen, TT_EINVAL,
				    "%s: must be a three-letter ISO 4217 code", path);
			break;
		}
	}

	ev->revenue_cents = 0;
	ev->quantity = 0;
	if (ev->type == TT_EV_TICKET_PURCHASED) {
		if (tt_money_mul(price, quantity, &ev->revenue_cents) != TT_OK)
			return tt_seterr(err, errlen, TT_EINVAL,
			    "data.price: price x quantity out of range");
		ev->quantity = quantity;
	} else if (ev->type == TT_EV_TICKET_REFUNDED) {
		ev->revenue_cents = -amount;
	}
	return TT_OK;
}

static tt_err
hash_value(const tt_event_opts *o, const char *s, char out[TT_HMAC_HEX_LEN + 1])
{
	return tt_hmac_sha256_hex(o->hash_key, o->hash_key_len, s, strlen(s), out);
}

/*
 * Removes personal keys and hashes customer ids in node, recursively.
 * in_person: node is the value of a customer/buyer/user... key.
 */
static tt_err
scrub(cJSON *node, bool in_person, const tt_event_opts *o)
{
	cJSON *c = node->child;

	while (c != NULL) {
		cJSON *next = c->next;
		const char *k = cJSON_IsObject(node) ? c->string : NULL;

		if (k != NULL && (in_list(k, pii_keys) ||
		    (in_person && strcasecmp(k, "name") == 0))) {
			cJSON_Delete(cJSON_DetachItemViaPointer(node, c));
		} else if (k != NULL && in_list(k, customer_id_keys)) {
			char num[32], h[TT_HMAC_HEX_LEN + 1];
			const char *s = NULL;
			if (cJSON_IsString(c) && c->valuestring != NULL) {
				s = c->valuestring;
			} else if (cJSON_IsNumber(c)) {
				snprintf(num, sizeof(num), "%.17g", c->valuedouble);
				s = num;
			}
			if (s == NULL) {
				cJSON_Delete(cJSON_DetachItemViaPointer(node, c));
			} else {
				if (hash_value(o, s, h) != TT_OK)
					return TT_EIO;
				/*
				 * Replace by key, not by pointer: ReplaceItemViaPointer
				 * would leave the new member without its name. Keys are
				 * unique here (duplicates were refused before the scrub).
				 */
				cJSON *hv = cJSON_CreateString(h);
				if (hv == NULL || !cJSON_ReplaceItemInObjectCaseSensitive(node, c->string, hv)) {
					cJSON_Delete(hv);
					return TT_ENOMEM;
				}
			}
		} else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
			bool person = k != NULL && in_list(k, person_objects);
			tt_err e = scrub(c, person || (in_person && cJSON_IsArray(node)), o);
			if (e != TT_OK)
				return e;
		}
		c = next;
	}
	return TT_OK;
}

static void
copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

tt_err
tt_event_parse(tt_event *ev, const char *body, size_t len,
    const tt_event_opts *opts, char *err, size_t errlen)
{
	cJSON *doc = NULL;
	const char *s;
	char dup[160];
	const cJSON *data;
	tt_err e;

	memset(ev, 0, sizeof(*ev));
	if (len > TT_EVENT_MAX_BODY)
		return tt_seterr(err, errlen, TT_ETOOBIG,
		    "body: larger than %d bytes", TT_EVENT_MAX_BODY);
	if (!utf8_valid((const unsigned char *)body, len))
		return tt_seterr(err, errlen, TT_EPARSE, "body: not valid UTF-8");
	if (memchr(body, '\0', len) != NULL)
		return tt_seterr(err, errlen, TT_EPARSE, "body: contains a NUL byte");
	const char *why;
	if (!strings_clean(body, len, &why))
		return tt_seterr(err, errlen, TT_EPARSE, "%s", why);
	const char *end = NULL;
	doc = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (doc == NULL)
		return tt_seterr(err, errlen, TT_EPARSE, "body: not valid JSON");
	/* One JSON value and nothing after it but white space. */
	for (; end != NULL && end < body + len; end++) {
		if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
			cJSON_Delete(doc);
			return tt_seterr(err, errlen, TT_EPARSE, "body: data after the JSON value");
		}
	}
	if (!cJSON_IsObject(doc)) {
		e = tt_seterr(err, errlen, TT_EPARSE, "body: must be a JSON object");
		goto fail;
	}
	if (has_duplicate_keys(doc, "", dup, sizeof(dup))) {
		e = tt_seterr(err, errlen, TT_EINVAL, "%.100s: duplicate key", dup);
		goto fail;
	}

	if ((e = get_string(doc, "id", "id", true, TT_EVENT_ID_MAX, true, &s, err, errlen)) != TT_OK)
		goto fail;
	copy_str(ev->id, sizeof(ev->id), s);

	if ((e = get_string(doc, "type", "type", true, TT_EVENT_TYPE_MAX, true, &s, err, errlen)) != TT_OK)
		goto fail;
	if (tt_event_type_parse(s, &ev->type) != TT_OK) {
		e = tt_seterr(err, errlen, TT_EINVAL, "type: unknown event type \"%.64s\"", s);
		goto fail;
	}

	if ((e = get_string(doc, "occurredAt", "occurredAt", true, 40, false, &s, err, errlen)) != TT_OK)
		goto fail;
	if (tt_iso_parse(s, strlen(s), TT_ISO_DATETIME, &ev->occurred_ms) != TT_OK) {
		e = tt_seterr(err, errlen, TT_EINVAL,
		    "occurredAt: must be an ISO 8601 date-time with a time zone");
		goto fail;
	}
	int64_t now = opts->now_ms ? opts->now_ms : tt_now_ms();
	if (ev->occurred_ms > now + opts->max_future_ms) {
		e = tt_seterr(err, errlen, TT_EINVAL, "occurredAt: is in the future");
		goto fail;
	}
	if (ev->occurred_ms < INT64_C(946684800000)) {  /* 2000-01-01 */
		e = tt_seterr(err, errlen, TT_EINVAL, "occurredAt: before 2000-01-01");
		goto fail;
	}

	if ((e = get_string(doc, "venueId", "venueId", true, TT_EVENT_VENUE_MAX, true, &s, err, errlen)) != TT_OK)
		goto fail;
	copy_str(ev->venue_id, sizeof(ev->venue_id), s);
	if ((e = get_string(doc, "eventId", "eventId", false, TT_EVENT_ID_MAX, true, &s, err, errlen)) != TT_OK)
		goto fail;
	copy_str(ev->event_id, sizeof(ev->event_id), s);
	if ((e = get_string(doc, "sessionId", "sessionId", false, TT_EVENT_ID_MAX, true, &s, err, errlen)) != TT_OK)
		goto fail;
	copy_str(ev->session_id, sizeof(ev->session_id), s);
	if ((e = get_string(doc, "userId", "userId", false, 256, false, &s, err, errlen)) != TT_OK)
		goto fail;
	if (s != NULL && hash_value(opts, s, ev->customer_hash) != TT_OK) {
		e = tt_seterr(err, errlen, TT_EIO, "userId: hashing failed");
		goto fail;
	}

	data = cJSON_GetObjectItemCaseSensitive(doc, "data");
	if (data == NULL || !cJSON_IsObject(data)) {
		e = tt_seterr(err, errlen, TT_EINVAL, "data: is required and must be an object");
		goto fail;
	}
	if ((e = check_data(ev, data, err, errlen)) != TT_OK)
		goto fail;

	/* The stored envelope says the instant in UTC, as the column does. */
	char utc[TT_ISO_MAX];
	tt_iso_format(ev->occurred_ms, utc);
	cJSON *at = cJSON_CreateString(utc);
	if (at == NULL || !cJSON_ReplaceItemInObjectCaseSensitive(doc, "occurredAt", at)) {
		cJSON_Delete(at);
		e = tt_seterr(err, errlen, TT_ENOMEM, "out of memory");
		goto fail;
	}
	if ((e = scrub(doc, false, opts)) != TT_OK) {
		tt_seterr(err, errlen, e, "scrub failed: %s", tt_strerror(e));
		goto fail;
	}
	ev->doc = doc;
	return TT_OK;

fail:
	cJSON_Delete(doc);
	memset(ev, 0, sizeof(*ev));
	return e;
}

void
tt_event_fini(tt_event *ev)
{
	if (ev == NULL)
		return;
	cJSON_Delete(ev->doc);
	ev->doc = NULL;
}

char *
tt_event_json(const tt_event *ev)
{
	return ev->doc != NULL ? cJSON_PrintUnformatted(ev->doc) : NULL;
}
