/*
 * publish.c - tt-publish: sends sample or synthetic platform events to
 * RabbitMQ, the way the platform's services do (proto/README.md).
 *
 * Design:
 *  - Generation is a pure function of the seed and the time anchor: every
 *    random choice comes from one xoshiro256** stream, consumed in the same
 *    order whatever the rate, the confirm window or the broker's speed, so a
 *    seed (with --now, or within the same UTC hour) reproduces the same
 *    messages byte for byte.
 *  - Duplicates and malformed messages are placed with selection sampling
 *    (Knuth's algorithm S): --count 10000 --dup-rate 0.1 gives exactly 1000
 *    duplicates at random positions. A duplicate re-sends one of the last
 *    DUP_RING valid events with the same routing key and body.
 *  - An event is assembled as an ordered list of (key, JSON text) fields, so
 *    a malformed variant is the valid event with one field removed, replaced
 *    or retyped, or its text cut or wrapped afterwards.
 *  - Publishing uses one channel in confirm mode with a sliding window of at
 *    most --batch unconfirmed messages: the broker's acks are read only when
 *    the window is full (or while pacing), so the socket stays busy. Each
 *    message is persistent (delivery_mode 2), application/json, routing key
 *    = event type, on the topic exchange (declared durable if missing).
 *  - --log writes every message published as one NDJSON line
 *    {"routingKey","body","kind"}; --file reads that same format back.
 *
 * Exit status: 0 when every message was confirmed (also after SIGINT or
 * SIGTERM, which stop the run cleanly), 1 when the broker is unreachable,
 * closes the connection or nacks a message, 2 on a usage error.
 */
#include "tt/error.h"
#include "tt/rng.h"
#include "tt/strbuf.h"
#include "tt/strparse.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <cjson/cJSON.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG            "tt-publish"
#define DEFAULT_URL     "amqp://guest:guest@127.0.0.1:5672/"
#define DEFAULT_EXCH    "tickettoken.events"
#define BODY_MAX        (256 * 1024)     /* largest generated body */
#define LINE_MAX_BYTES  (4 * 1024 * 1024) /* largest --file / --log line */
#define DUP_RING        4096             /* valid events a duplicate may copy */
#define RECENT_MAX      256              /* purchases refunds/scans refer to */
#define OBJ_FIELDS      24
#define USERS           10000
#define EVENTS_PER_VENUE 20
#define DAY_MS          86400000LL
#define HOUR_MS         3600000LL
#define CONFIRM_WAIT_S  30
#define ISO_MAX         96               /* fits any struct tm, so no truncation */

static const char usage_line[] =
    "usage: " PROG " [--url URL] [--exchange NAME] [--count N] [--rate N]"
    " [--venues N | --venue ID] [--seed N] [--dup-rate P] [--bad-rate P]"
    " [--types a[:w],b...] [--days N] [--now ISO] [--log FILE] [--batch N]"
    " [--file FILE] [--quiet]";

/* ---------------------------------------------------------------- types */

enum ev_type {
	EV_TICKET_PURCHASED,
	EV_TICKET_REFUNDED,
	EV_TICKET_SCANNED,
	EV_PAYMENT_COMPLETED,
	EV_REFUND_PROCESSED,
	EV_EVENT_CREATED,
	EV_EVENT_UPDATED,
	EV_USER_REGISTERED,
	EV_USER_LOGIN,
	EV_LISTING_CREATED,
	EV_LISTING_SOLD,
	EV_MARKETING_TOUCHPOINT,
	EV_COUNT
};

static const char *const type_names[EV_COUNT] = {
	"ticket.purchased", "ticket.refunded", "ticket.scanned",
	"payment.completed", "refund.processed", "event.created",
	"event.updated", "user.registered", "user.login", "listing.created",
	"listing.sold", "marketing.touchpoint",
};

/* The default mix: mostly purchases, as on a busy sales day. */
static const unsigned default_weights[EV_COUNT] = {
	[EV_TICKET_PURCHASED] = 60, [EV_TICKET_REFUNDED] = 5,
	[EV_TICKET_SCANNED] = 15, [EV_USER_LOGIN] = 10,
	[EV_PAYMENT_COMPLETED] = 7, [EV_EVENT_CREATED] = 3,
};

static const char *const channels[] = { "online", "box_office", "mobile", "partner" };
static const char *const show_types[] = { "concert", "sports", "theater", "comedy" };
static const char *const first_names[] = { "Ada", "Grace", "Linus", "Zoë", "José", "Mei", "Omar", "Priya" };
static const char *const last_names[] = { "Lovelace", "Hopper", "Torvalds", "Müller", "García", "Chen", "Haddad", "Patel" };
static const char *const gates[] = { "gate-A", "gate-B", "gate-C", "gate-D" };
static const char *const mkt_channels[] = { "email", "social", "search", "display" };
static const char *const login_methods[] = { "password", "google", "apple" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum msg_kind { KIND_NEW, KIND_DUP, KIND_BAD, KIND_FILE };
static const char *const kind_names[] = { "new", "duplicate", "malformed", "file" };

/* Malformed variants; each is one way ingest must dead-letter a message. */
enum malformed {
	MAL_BAD_JSON,
	MAL_NO_ID,
	MAL_BAD_TIME,
	MAL_UNKNOWN_TYPE,
	MAL_NEG_PRICE,
	MAL_PRICE_3DEC,
	MAL_WRONG_TYPE,
	MAL_OVERSIZED,
	MAL_NOT_OBJECT,
	MAL_MISSING_FIELD,
	MAL_COUNT
};

struct options {
	char url[512];
	char exchange[256];
	int64_t count;
	bool count_set;
	int64_t rate;
	int64_t venues;
	char venue[65];
	uint64_t seed;
	bool seed_set;
	double dup_rate;
	double bad_rate;
	unsigned weights[EV_COUNT];
	int64_t days;
	int64_t now_ms;
	bool now_set;
	const char *log_path;
	int64_t batch;
	const char *file_path;
	bool quiet;
};

static volatile sig_atomic_t stop_requested;

/* ----------------------------------------------------------------- misc */

static void
die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s\n", usage_line);
	exit(2);
}

static void
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* One clear line on stderr, then exit 1: the runtime failure path. */
static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int64_t
now_realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* ------------------------------------------------------------------ rng */

/* xoshiro256** seeded through splitmix64 (tt/rng.h): fast, and the same everywhere. */
typedef tt_rng rng;

/* Uniform in [lo, hi], inclusive. */
static int64_t
rng_range(rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)tt_rng_below(r, (uint64_t)(hi - lo) + 1);
}

static bool
rng_chance(rng *r, unsigned percent)
{
	return tt_rng_below(r, 100) < percent;
}

static const char *
rng_pick(rng *r, const char *const *list, size_t n)
{
	return list[tt_rng_below(r, n)];
}

/* ------------------------------------------------------- JSON assembly */

/*
 * An ordered JSON object under construction: keys are string literals,
 * values are JSON texts stored back to back in one bounded buffer.
 */
struct obj {
	size_t n;
	struct {
		const char *key;
		size_t off, len;
	} f[OBJ_FIELDS];
	tt_strbuf vals;
};

static void
obj_init(struct obj *o)
{
	o->n = 0;
	tt_strbuf_init(&o->vals, BODY_MAX);
}

static void
obj_reset(struct obj *o)
{
	o->n = 0;
	tt_strbuf_reset(&o->vals);
}

static void
obj_fini(struct obj *o)
{
	tt_strbuf_fini(&o->vals);
}

static int
obj_find(const struct obj *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->f[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* Records vals[off..end) as key's value, replacing an earlier one. */
static void
obj_commit(struct obj *o, const char *key, size_t off)
{
	int i = obj_find(o, key);
	size_t len = tt_strbuf_len(&o->vals) - off;

	if (i < 0) {
		if (o->n == OBJ_FIELDS)
			return;
		i = (int)o->n++;
		o->f[i].key = key;
	}
	o->f[i].off = off;
	o->f[i].len = len;
}

static void
obj_json(struct obj *o, const char *key, const char *text, size_t len)
{
	size_t off = tt_strbuf_len(&o->vals);

	tt_strbuf_put(&o->vals, text, len);
	obj_commit(o, key, off);
}

static void
obj_str(struct obj *o, const char *key, const char *s)
{
	size_t off = tt_strbuf_len(&o->vals);

	tt_strbuf_json_str(&o->vals, s);
	obj_commit(o, key, off);
}

static void
obj_fmt(struct obj *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A short raw JSON value (a number, true, a small literal). */
static void
obj_fmt(struct obj *o, const char *key, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return;
	obj_json(o, key, tmp, (size_t)n);
}

/* A JSON string built with printf (ids, names). */
static void
obj_strf(struct obj *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
obj_strf(struct obj *o, const char *key, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return;
	obj_str(o, key, tmp);
}

static void
obj_del(struct obj *o, const char *key)
{
	int i = obj_find(o, key);

	if (i < 0)
		return;
	memmove(&o->f[i], &o->f[i + 1], (o->n - (size_t)i - 1) * sizeof(o->f[0]));
	o->n--;
}

static void
obj_write(const struct obj *o, tt_strbuf *out)
{
	tt_strbuf_putc(out, '{');
	for (size_t i = 0; i < o->n; i++) {
		if (i > 0)
			tt_strbuf_putc(out, ',');
		tt_strbuf_json_str(out, o->f[i].key);
		tt_strbuf_putc(out, ':');
		tt_strbuf_put(out, tt_strbuf_str(&o->vals) + o->f[i].off, o->f[i].len);
	}
	tt_strbuf_putc(out, '}');
}

/* Money as a JSON number with at most two decimals: 12.34, 5, 199.9. */
static void
fmt_money(char *out, size_t outlen, int64_t cents)
{
	const char *sign = cents < 0 ? "-" : "";
	uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
	uint64_t whole = a / 100, frac = a % 100;

	if (frac == 0)
		snprintf(out, outlen, "%s%llu", sign, (unsigned long long)whole);
	else if (frac % 10 == 0)
		snprintf(out, outlen, "%s%llu.%llu", sign, (unsigned long long)whole,
		    (unsigned long long)(frac / 10));
	else
		snprintf(out, outlen, "%s%llu.%02llu", sign, (unsigned long long)whole,
		    (unsigned long long)frac);
}

static void
obj_money(struct obj *o, const char *key, int64_t cents)
{
	char tmp[32];

	fmt_money(tmp, sizeof(tmp), cents);
	obj_json(o, key, tmp, strlen(tmp));
}

/* ISO 8601 UTC with milliseconds and Z. */
static void
fmt_iso_ms(char *out, size_t outlen, int64_t ms)
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(ms % 1000));
}

/* ------------------------------------------------------------ generator */

struct purchase {
	char ticket_id[24];
	char order_id[24];
	int64_t total_cents;
	int64_t venue;
	int64_t user;
};

struct sent {
	enum ev_type type;
	char *body;
	size_t len;
};

struct gen {
	rng r;
	const struct options *opt;
	int64_t win_start_ms;
	int64_t win_end_ms;
	unsigned weight_total;
	struct purchase recent[RECENT_MAX];
	size_t nrecent;
	size_t recent_next;
	struct sent ring[DUP_RING];
	size_t nring;
	size_t ring_next;
	bool building_bad;   /* the event being built will be made malformed */
	struct obj env;
	struct obj data;
	struct obj cust;
	tt_strbuf tmp;
};

static void
gen_init(struct gen *g, const struct options *opt)
{
	memset(g, 0, sizeof(*g));
	g->opt = opt;
	tt_rng_seed(&g->r, opt->seed);
	g->win_end_ms = opt->now_ms;
	g->win_start_ms = (opt->now_ms / DAY_MS - opt->days) * DAY_MS;
	for (int i = 0; i < EV_COUNT; i++)
		g->weight_total += opt->weights[i];
	obj_init(&g->env);
	obj_init(&g->data);
	obj_init(&g->cust);
	tt_strbuf_init(&g->tmp, BODY_MAX);
}

static void
gen_fini(struct gen *g)
{
	for (size_t i = 0; i < g->nring; i++)
		free(g->ring[i].body);
	obj_fini(&g->env);
	obj_fini(&g->data);
	obj_fini(&g->cust);
	tt_strbuf_fini(&g->tmp);
}

static void
hex_id(rng *r, char *out, size_t outlen, const char *prefix, int nhex)
{
	uint64_t v = tt_rng_next(r);

	snprintf(out, outlen, "%s%0*llx", prefix, nhex,
	    (unsigned long long)(nhex >= 16 ? v : v >> (64 - 4 * nhex)));
}

/* uuid-like (version 4 layout) from two draws: unique per run in practice. */
static void
uuid_like(rng *r, char *out, size_t outlen)
{
	uint64_t a = tt_rng_next(r), b = tt_rng_next(r);

	snprintf(out, outlen, "%08llx-%04llx-4%03llx-%llx%03llx-%012llx",
	    (unsigned long long)(a >> 32), (unsigned long long)((a >> 16) & 0xffff),
	    (unsigned long long)(a & 0xfff), (unsigned long long)(8 + (b >> 62)),
	    (unsigned long long)((b >> 48) & 0xfff),
	    (unsigned long long)(b & 0xffffffffffffULL));
}

static enum ev_type
pick_type(struct gen *g)
{
	uint64_t x = tt_rng_below(&g->r, g->weight_total);

	for (int i = 0; i < EV_COUNT; i++) {
		if (x < g->opt->weights[i])
			return (enum ev_type)i;
		x -= g->opt->weights[i];
	}
	return EV_TICKET_PURCHASED;
}

static int64_t
pick_price_cents(rng *r)
{
	int64_t c = rng_range(r, 500, 50000);

	switch (tt_rng_below(r, 4)) {
	case 0: /* whole dollars: 5, 120 */
		c -= c % 100;
		break;
	case 1: /* dimes: 199.9 */
		c -= c % 10;
		break;
	default:
		break;
	}
	return c < 500 ? 500 : c;
}

/* Personal data that ingest must strip (and customer ids it must hash). */
static void
add_pii(struct gen *g, int64_t user)
{
	rng *r = &g->r;
	const char *fn = rng_pick(r, first_names, NELEM(first_names));
	const char *ln = rng_pick(r, last_names, NELEM(last_names));
	uint64_t what = tt_rng_below(r, 3);

	if (what != 1) {
		obj_strf(&g->data, "email", "user%lld@example.com", (long long)user);
		obj_strf(&g->data, "phone", "+1-555-01%02lld", (long long)(user % 100));
	}
	if (what != 0) {
		obj_reset(&g->cust);
		obj_str(&g->cust, "firstName", fn);
		obj_str(&g->cust, "lastName", ln);
		obj_strf(&g->cust, "email", "%s.%lld@example.com", "customer", (long long)user);
		tt_strbuf_reset(&g->tmp);
		obj_write(&g->cust, &g->tmp);
		obj_json(&g->data, "customer", tt_strbuf_str(&g->tmp), tt_strbuf_len(&g->tmp));
	}
	if (rng_chance(r, 50))
		obj_strf(&g->data, "customerId", "cust-%lld", (long long)user);
}

static void
remember_purchase(struct gen *g, const char *ticket, const char *order,
    int64_t total, int64_t venue, int64_t user)
{
	struct purchase *p = &g->recent[g->recent_next];

	snprintf(p->ticket_id, sizeof(p->ticket_id), "%s", ticket);
	snprintf(p->order_id, sizeof(p->order_id), "%s", order);
	p->total_cents = total;
	p->venue = venue;
	p->user = user;
	g->recent_next = (g->recent_next + 1) % RECENT_MAX;
	if (g->nrecent < RECENT_MAX)
		g->nrecent++;
}

/* A recent purchase (for refunds and scans), or NULL for a made-up one. */
static const struct purchase *
recent_purchase(struct gen *g)
{
	if (g->nrecent == 0 || !rng_chance(&g->r, 90))
		return NULL;
	return &g->recent[tt_rng_below(&g->r, g->nrecent)];
}

/*
 * Fills g->data for a valid event of type t and returns the venue and user
 * (1-based numbers) the envelope should carry.
 */
static void
build_data(struct gen *g, enum ev_type t, int64_t *venue, int64_t *user)
{
	rng *r = &g->r;
	const struct purchase *p;
	char ticket[24], order[24], other[24], when[ISO_MAX];
	int64_t cents, qty;

	obj_reset(&g->data);
	switch (t) {
	case EV_TICKET_PURCHASED:
		hex_id(r, ticket, sizeof(ticket), "tkt-", 16);
		hex_id(r, order, sizeof(order), "ord-", 12);
		cents = pick_price_cents(r);
		qty = rng_range(r, 1, 4);
		obj_str(&g->data, "ticketId", ticket);
		obj_str(&g->data, "orderId", order);
		obj_money(&g->data, "price", cents);
		if (rng_chance(r, 20))
			qty = 1; /* omitted: the contract's default */
		else
			obj_fmt(&g->data, "quantity", "%lld", (long long)qty);
		obj_str(&g->data, "currency", "USD");
		obj_str(&g->data, "channel", rng_pick(r, channels, NELEM(channels)));
		obj_str(&g->data, "eventType", rng_pick(r, show_types, NELEM(show_types)));
		if (rng_chance(r, 10))
			add_pii(g, *user);
		if (!g->building_bad)
			remember_purchase(g, ticket, order, cents * qty, *venue, *user);
		break;
	case EV_TICKET_REFUNDED:
		p = recent_purchase(g);
		if (p != NULL) {
			*venue = p->venue;
			*user = p->user;
			cents = rng_chance(r, 70) ? p->total_cents :
			    rng_range(r, 1, p->total_cents);
			obj_str(&g->data, "ticketId", p->ticket_id);
			obj_str(&g->data, "orderId", p->order_id);
		} else {
			hex_id(r, ticket, sizeof(ticket), "tkt-", 16);
			hex_id(r, order, sizeof(order), "ord-", 12);
			cents = pick_price_cents(r);
			obj_str(&g->data, "ticketId", ticket);
			obj_str(&g->data, "orderId", order);
		}
		obj_money(&g->data, "amount", cents);
		obj_str(&g->data, "reason", "customer_request");
		break;
	case EV_TICKET_SCANNED:
		p = recent_purchase(g);
		if (p != NULL) {
			*venue = p->venue;
			*user = p->user;
			obj_str(&g->data, "ticketId", p->ticket_id);
		} else {
			hex_id(r, ticket, sizeof(ticket), "tkt-", 16);
			obj_str(&g->data, "ticketId", ticket);
		}
		obj_str(&g->data, "gate", rng_pick(r, gates, NELEM(gates)));
		break;
	case EV_PAYMENT_COMPLETED:
		hex_id(r, other, sizeof(other), "pay-", 16);
		hex_id(r, order, sizeof(order), "ord-", 12);
		obj_str(&g->data, "paymentId", other);
		obj_str(&g->data, "orderId", order);
		obj_money(&g->data, "amount", pick_price_cents(r) * rng_range(r, 1, 4));
		obj_str(&g->data, "currency", "USD");
		break;
	case EV_REFUND_PROCESSED:
		hex_id(r, other, sizeof(other), "rfd-", 16);
		hex_id(r, ticket, sizeof(ticket), "pay-", 16);
		obj_str(&g->data, "refundId", other);
		obj_str(&g->data, "paymentId", ticket);
		obj_money(&g->data, "amount", pick_price_cents(r));
		break;
	case EV_EVENT_CREATED:
	case EV_EVENT_UPDATED:
		fmt_iso_ms(when, sizeof(when), g->win_end_ms +
		    rng_range(r, 1, 90) * DAY_MS - g->win_end_ms % HOUR_MS);
		obj_strf(&g->data, "name", "%s night %lld",
		    rng_pick(r, show_types, NELEM(show_types)),
		    (long long)rng_range(r, 1, 999));
		obj_fmt(&g->data, "capacity", "%lld", (long long)rng_range(r, 100, 50000));
		obj_str(&g->data, "startsAt", when);
		obj_str(&g->data, "eventType", rng_pick(r, show_types, NELEM(show_types)));
		break;
	case EV_USER_REGISTERED:
	case EV_USER_LOGIN:
		obj_str(&g->data, "method", rng_pick(r, login_methods, NELEM(login_methods)));
		if (rng_chance(r, 20))
			obj_strf(&g->data, "email", "user%lld@example.com", (long long)*user);
		break;
	case EV_LISTING_CREATED:
	case EV_LISTING_SOLD:
		hex_id(r, other, sizeof(other), "lst-", 16);
		hex_id(r, ticket, sizeof(ticket), "tkt-", 16);
		obj_str(&g->data, "listingId", other);
		obj_str(&g->data, "ticketId", ticket);
		obj_money(&g->data, "price", pick_price_cents(r));
		if (t == EV_LISTING_SOLD && rng_chance(r, 50))
			obj_strf(&g->data, "buyerId", "user-%lld",
			    (long long)rng_range(r, 1, USERS));
		break;
	case EV_MARKETING_TOUCHPOINT:
		obj_str(&g->data, "channel", rng_pick(r, mkt_channels, NELEM(mkt_channels)));
		obj_strf(&g->data, "campaign", "spring-%lld", (long long)rng_range(r, 1, 5));
		obj_str(&g->data, "utmSource", "newsletter");
		obj_str(&g->data, "utmMedium", "email");
		obj_strf(&g->data, "utmCampaign", "spring-%lld", (long long)rng_range(r, 1, 5));
		break;
	case EV_COUNT:
		break;
	}
}

static bool
type_has_show(enum ev_type t)
{
	return t == EV_TICKET_PURCHASED || t == EV_TICKET_REFUNDED ||
	    t == EV_TICKET_SCANNED || t == EV_EVENT_CREATED ||
	    t == EV_EVENT_UPDATED || t == EV_LISTING_CREATED || t == EV_LISTING_SOLD;
}

static bool
type_has_user(enum ev_type t)
{
	return t != EV_EVENT_CREATED && t != EV_EVENT_UPDATED;
}

/* Builds g->env (with its data) for a valid event of type t. */
static void
build_event(struct gen *g, enum ev_type t)
{
	rng *r = &g->r;
	char id[48], when[ISO_MAX], sess[32];
	int64_t venue = g->opt->venue[0] ? 0 : rng_range(r, 1, g->opt->venues);
	int64_t user = rng_range(r, 1, USERS);
	int64_t at = rng_range(r, g->win_start_ms, g->win_end_ms);

	uuid_like(r, id, sizeof(id));
	hex_id(r, sess, sizeof(sess), "sess-", 16);
	build_data(g, t, &venue, &user);

	obj_reset(&g->env);
	obj_str(&g->env, "id", id);
	obj_str(&g->env, "type", type_names[t]);
	fmt_iso_ms(when, sizeof(when), at);
	obj_str(&g->env, "occurredAt", when);
	if (g->opt->venue[0])
		obj_str(&g->env, "venueId", g->opt->venue);
	else
		obj_strf(&g->env, "venueId", "venue-%lld", (long long)venue);
	if (type_has_show(t))
		obj_strf(&g->env, "eventId", "event-%lld",
		    (long long)rng_range(r, 1, EVENTS_PER_VENUE));
	if (type_has_user(t))
		obj_strf(&g->env, "userId", "user-%lld", (long long)user);
	if (t == EV_TICKET_PURCHASED || t == EV_USER_LOGIN ||
	    t == EV_MARKETING_TOUCHPOINT || rng_chance(r, 30))
		obj_str(&g->env, "sessionId", sess);

	tt_strbuf_reset(&g->tmp);
	obj_write(&g->data, &g->tmp);
	obj_json(&g->env, "data", tt_strbuf_str(&g->tmp), tt_strbuf_len(&g->tmp));
}

/* A string of n copies of 'x' as a JSON value, into g->tmp. */
static void
long_string(struct gen *g, size_t n)
{
	tt_strbuf_reset(&g->tmp);
	tt_strbuf_putc(&g->tmp, '"');
	for (size_t i = 0; i < n; i++)
		tt_strbuf_putc(&g->tmp, 'x');
	tt_strbuf_putc(&g->tmp, '"');
}

/* Re-serialises g->data into the envelope after a data mutation. */
static void
rewrite_data(struct gen *g)
{
	tt_strbuf_reset(&g->tmp);
	obj_write(&g->data, &g->tmp);
	obj_json(&g->env, "data", tt_strbuf_str(&g->tmp), tt_strbuf_len(&g->tmp));
}

/*
 * Writes one malformed message into body and its routing key into *rk.
 * Every variant breaks exactly one rule of proto/README.md.
 */
static void
build_malformed(struct gen *g, tt_strbuf *body, const char **rk)
{
	static const char *const bad_times[] = {
		"2024-13-45T25:61:00Z", "yesterday", "2024-05-01T10:00:00",
		"", "2024-05-01 10:00",
	};
	static const char *const bad_types[] = {
		"ticket.teleported", "user.abducted", "TICKET.PURCHASED", "analytics",
	};
	rng *r = &g->r;
	enum malformed m = (enum malformed)tt_rng_below(r, MAL_COUNT);
	bool purchase = m == MAL_NEG_PRICE || m == MAL_PRICE_3DEC;
	enum ev_type t = purchase ? EV_TICKET_PURCHASED : pick_type(g);
	uint64_t v = tt_rng_below(r, 5);
	char tmp[64];
	size_t len;

	/* A malformed purchase is never stored: later refunds must not cite it. */
	g->building_bad = true;
	build_event(g, t);
	g->building_bad = false;
	*rk = type_names[t];

	switch (m) {
	case MAL_NO_ID:
		obj_del(&g->env, "id");
		break;
	case MAL_BAD_TIME:
		obj_str(&g->env, "occurredAt", bad_times[v]);
		break;
	case MAL_UNKNOWN_TYPE:
		*rk = bad_types[v % NELEM(bad_types)];
		obj_str(&g->env, "type", *rk);
		break;
	case MAL_NEG_PRICE:
		obj_money(&g->data, "price", -pick_price_cents(r));
		rewrite_data(g);
		break;
	case MAL_PRICE_3DEC:
		snprintf(tmp, sizeof(tmp), "%lld.%02lld%lld",
		    (long long)rng_range(r, 5, 499), (long long)rng_range(r, 0, 99),
		    (long long)rng_range(r, 1, 9));
		obj_json(&g->data, "price", tmp, strlen(tmp));
		rewrite_data(g);
		break;
	case MAL_WRONG_TYPE:
		switch (v) {
		case 0: obj_fmt(&g->env, "id", "%lld", (long long)rng_range(r, 1, 1000000)); break;
		case 1: obj_fmt(&g->env, "venueId", "%lld", (long long)rng_range(r, 1, 100)); break;
		case 2: obj_fmt(&g->env, "data", "%s", rng_chance(r, 50) ? "[1,2,3]" : "\"none\""); break;
		case 3: obj_fmt(&g->env, "occurredAt", "%lld", (long long)(g->win_end_ms / 1000)); break;
		default:
			/* a money field as a boolean, whatever the type */
			if (obj_find(&g->data, "price") >= 0)
				obj_fmt(&g->data, "price", "true");
			else if (obj_find(&g->data, "amount") >= 0)
				obj_fmt(&g->data, "amount", "true");
			else
				obj_fmt(&g->env, "type", "%lld", (long long)t);
			rewrite_data(g);
			break;
		}
		break;
	case MAL_OVERSIZED:
		switch (v) {
		case 0:
		case 1:
			long_string(g, (size_t)rng_range(r, 65, 300));
			obj_json(&g->env, "venueId", tt_strbuf_str(&g->tmp), tt_strbuf_len(&g->tmp));
			break;
		case 2:
			long_string(g, (size_t)rng_range(r, 129, 400));
			obj_json(&g->env, "id", tt_strbuf_str(&g->tmp), tt_strbuf_len(&g->tmp));
			break;
		case 3:
			long_string(g, (size_t)rng_range(r, 129, 400));
			obj_json(&g->env, "sessionId", tt_strbuf_str(&g->tmp), tt_strbuf_len(&g->tmp));
			break;
		default:
			/* the whole body over the 64 KiB limit */
			long_string(g, (size_t)rng_range(r, 65536, 70000));
			obj_json(&g->data, "note", tt_strbuf_str(&g->tmp), tt_strbuf_len(&g->tmp));
			rewrite_data(g);
			break;
		}
		break;
	case MAL_MISSING_FIELD:
		switch (v) {
		case 0: obj_del(&g->env, "venueId"); break;
		case 1: obj_del(&g->env, "data"); break;
		case 2: obj_del(&g->env, "type"); break;
		case 3: obj_del(&g->env, "occurredAt"); break;
		default:
			/* a required data field; types with none lose venueId */
			if (obj_find(&g->data, "ticketId") >= 0)
				obj_del(&g->data, "ticketId");
			else if (obj_find(&g->data, "amount") >= 0)
				obj_del(&g->data, "amount");
			else if (obj_find(&g->data, "listingId") >= 0)
				obj_del(&g->data, "listingId");
			else if (t == EV_MARKETING_TOUCHPOINT)
				obj_del(&g->data, "channel");
			else
				obj_del(&g->env, "venueId");
			rewrite_data(g);
			break;
		}
		break;
	case MAL_BAD_JSON:
	case MAL_NOT_OBJECT:
	case MAL_COUNT:
		break;
	}

	tt_strbuf_reset(body);
	if (m == MAL_NOT_OBJECT) {
		switch (v) {
		case 0:
			tt_strbuf_putc(body, '[');
			obj_write(&g->env, body);
			tt_strbuf_putc(body, ']');
			break;
		case 1: tt_strbuf_puts(body, "\"ticket.purchased\""); break;
		case 2: tt_strbuf_puts(body, "42"); break;
		case 3: tt_strbuf_puts(body, "null"); break;
		default: tt_strbuf_puts(body, "true"); break;
		}
		return;
	}
	obj_write(&g->env, body);
	if (m != MAL_BAD_JSON)
		return;
	len = tt_strbuf_len(body);
	switch (v) {
	case 0: /* cut short: an object that never closes */
		body->len = (size_t)rng_range(r, 1, (int64_t)len - 1);
		body->buf[body->len] = '\0';
		break;
	case 1: /* trailing comma */
		body->len = len - 1;
		tt_strbuf_puts(body, ",}");
		break;
	case 2: /* single quotes */
		for (size_t i = 0; i < len; i++)
			if (body->buf[i] == '"')
				body->buf[i] = '\'';
		break;
	case 3:
		tt_strbuf_reset(body);
		tt_strbuf_puts(body, "this is not json");
		break;
	default:
		tt_strbuf_reset(body);
		break;
	}
}

/* Keeps a copy of a valid event so that a duplicate can re-send it. */
static void
remember_sent(struct gen *g, enum ev_type t, const tt_strbuf *body)
{
	struct sent *s = &g->ring[g->ring_next];
	char *copy = malloc(tt_strbuf_len(body) + 1);

	if (copy == NULL)
		fail("out of memory");
	memcpy(copy, tt_strbuf_str(body), tt_strbuf_len(body) + 1);
	if (g->ring_next < g->nring)
		free(s->body);
	s->type = t;
	s->body = copy;
	s->len = tt_strbuf_len(body);
	g->ring_next = (g->ring_next + 1) % DUP_RING;
	if (g->nring < DUP_RING)
		g->nring++;
}

/*
 * The plan of a run: how many duplicates and malformed messages remain to
 * be placed among the remaining messages (selection sampling).
 */
struct plan {
	int64_t left;   /* messages still to send, this one included */
	int64_t dups;
	int64_t bad;
};

static void
plan_init(struct plan *p, const struct options *opt)
{
	p->left = opt->count;
	p->dups = (int64_t)((double)opt->count * opt->dup_rate + 0.5);
	p->bad = (int64_t)((double)opt->count * opt->bad_rate + 0.5);
	/* at least one new event, so that a duplicate has something to copy */
	if (p->dups > 0 && p->dups + p->bad > opt->count - 1)
		p->dups = opt->count - 1 - p->bad;
	if (p->dups < 0)
		p->dups = 0;
	if (p->bad > opt->count)
		p->bad = opt->count;
}

/*
 * Generates the next message: its routing key and body, and its kind.
 * The body points into *body or into the duplicate ring.
 */
static enum msg_kind
gen_next(struct gen *g, struct plan *p, tt_strbuf *body, const char **rk,
    const char **out, size_t *outlen)
{
	enum msg_kind kind = KIND_NEW;
	rng *r = &g->r;

	if (p->dups > 0 && g->nring > 0 &&
	    tt_rng_below(r, (uint64_t)p->left) < (uint64_t)p->dups) {
		const struct sent *s = &g->ring[tt_rng_below(r, g->nring)];

		p->dups--;
		p->left--;
		*rk = type_names[s->type];
		*out = s->body;
		*outlen = s->len;
		return KIND_DUP;
	}
	if (p->bad > 0 &&
	    tt_rng_below(r, (uint64_t)(p->left - p->dups)) < (uint64_t)p->bad)
		kind = KIND_BAD;
	p->left--;

	if (kind == KIND_BAD) {
		p->bad--;
		build_malformed(g, body, rk);
	} else {
		enum ev_type t = pick_type(g);

		build_event(g, t);
		tt_strbuf_reset(body);
		obj_write(&g->env, body);
		*rk = type_names[t];
		remember_sent(g, t, body);
	}
	*out = tt_strbuf_str(body);
	*outlen = tt_strbuf_len(body);
	return kind;
}

/* ------------------------------------------------------------ publisher */

/*
 * One AMQP connection with one channel in confirm mode. Delivery tags are
 * 1, 2, 3... in publish order; settled[] is a ring over the window of
 * unconfirmed tags [low, next_tag), since the broker may confirm out of
 * order.
 */
struct publisher {
	amqp_connection_state_t conn;
	amqp_bytes_t exchange;
	amqp_basic_properties_t props;
	uint64_t next_tag;
	uint64_t low;
	uint8_t *settled;
	size_t window;
	uint64_t acked;
	uint64_t nacked;
	bool blocked_noted;
	bool quiet;
};

/* Describes a failed RPC in one line. */
static void
rpc_describe(amqp_rpc_reply_t x, char *out, size_t outlen)
{
	switch (x.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		snprintf(out, outlen, "ok");
		break;
	case AMQP_RESPONSE_NONE:
		snprintf(out, outlen, "no reply from the broker");
		break;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		snprintf(out, outlen, "%s", amqp_error_string2(x.library_error));
		break;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (x.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			const amqp_connection_close_t *c = x.reply.decoded;

			snprintf(out, outlen, "connection closed by broker: %u %.*s",
			    (unsigned)c->reply_code, (int)c->reply_text.len,
			    (const char *)c->reply_text.bytes);
		} else if (x.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			const amqp_channel_close_t *c = x.reply.decoded;

			snprintf(out, outlen, "channel closed by broker: %u %.*s",
			    (unsigned)c->reply_code, (int)c->reply_text.len,
			    (const char *)c->reply_text.bytes);
		} else {
			snprintf(out, outlen, "unexpected broker method 0x%08x",
			    (unsigned)x.reply.id);
		}
		break;
	}
}

static void
check_rpc(amqp_connection_state_t conn, const char *what)
{
	amqp_rpc_reply_t x = amqp_get_rpc_reply(conn);
	char why[512];

	if (x.reply_type == AMQP_RESPONSE_NORMAL)
		return;
	rpc_describe(x, why, sizeof(why));
	fail("%s failed: %s", what, why);
}

/*
 * rabbitmq-c reports every failed connect as "a socket error"; one plain
 * connect(2) recovers the reason (connection refused, no route...).
 */
static void
tcp_probe(const char *host, int port, char *why, size_t whylen)
{
	struct addrinfo hints, *ai = NULL;
	struct timeval tv = { .tv_sec = 5, .tv_usec = 0 };
	char service[16];
	int fd, rc;

	snprintf(why, whylen, "a socket error occurred");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &ai) != 0 || ai == NULL)
		return;
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc != 0)
			snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
	}
	freeaddrinfo(ai);
}

/* Connects, logs in, opens channel 1 in confirm mode, declares the exchange. */
static void
pub_open(struct publisher *p, const struct options *opt)
{
	char urlbuf[sizeof(opt->url)];
	struct amqp_connection_info ci;
	struct timeval tv = { .tv_sec = 5, .tv_usec = 0 };
	amqp_socket_t *sock;
	amqp_rpc_reply_t x;
	char why[512];
	int st;

	memset(p, 0, sizeof(*p));
	p->quiet = opt->quiet;
	snprintf(urlbuf, sizeof(urlbuf), "%s", opt->url);
	amqp_default_connection_info(&ci);
	if (amqp_parse_url(urlbuf, &ci) != AMQP_STATUS_OK)
		die_usage("--url: not an amqp:// URL");
	if (ci.ssl)
		die_usage("--url: amqps:// is not supported by " PROG);
	/* "amqp://host:port/" names the default vhost, as in most clients */
	if (ci.vhost == NULL || ci.vhost[0] == '\0')
		ci.vhost = "/";

	p->conn = amqp_new_connection();
	sock = p->conn ? amqp_tcp_socket_new(p->conn) : NULL;
	if (sock == NULL)
		fail("out of memory creating the AMQP connection");
	st = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
	if (st != AMQP_STATUS_OK) {
		if (st == AMQP_STATUS_SOCKET_ERROR)
			tcp_probe(ci.host, ci.port, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", amqp_error_string2(st));
		fail("cannot connect to RabbitMQ at %s:%d: %s", ci.host, ci.port, why);
	}
	amqp_set_handshake_timeout(p->conn, &tv);
	tv.tv_sec = CONFIRM_WAIT_S;
	amqp_set_rpc_timeout(p->conn, &tv);
	x = amqp_login(p->conn, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
	    ci.user, ci.password);
	if (x.reply_type != AMQP_RESPONSE_NORMAL) {
		rpc_describe(x, why, sizeof(why));
		fail("cannot log in to RabbitMQ at %s:%d as %s (vhost %s): %s",
		    ci.host, ci.port, ci.user, ci.vhost, why);
	}
	amqp_channel_open(p->conn, 1);
	check_rpc(p->conn, "channel.open");
	amqp_exchange_declare(p->conn, 1, amqp_cstring_bytes(opt->exchange),
	    amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
	check_rpc(p->conn, "exchange.declare (topic, durable)");
	amqp_confirm_select(p->conn, 1);
	check_rpc(p->conn, "confirm.select");

	p->exchange = amqp_cstring_bytes(opt->exchange);
	p->props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	p->props.content_type = amqp_cstring_bytes("application/json");
	p->props.delivery_mode = 2;
	p->window = (size_t)opt->batch;
	p->settled = calloc(p->window, 1);
	if (p->settled == NULL)
		fail("out of memory");
	p->next_tag = 1;
	p->low = 1;
}

static void
pub_settle(struct publisher *p, uint64_t tag, bool ack)
{
	uint8_t *s;

	if (tag < p->low || tag >= p->next_tag)
		return;
	s = &p->settled[tag % p->window];
	if (*s)
		return;
	*s = 1;
	if (ack)
		p->acked++;
	else
		p->nacked++;
}

static void
pub_confirm(struct publisher *p, uint64_t tag, bool multiple, bool ack)
{
	if (multiple) {
		for (uint64_t t = p->low; t <= tag && t < p->next_tag; t++)
			pub_settle(p, t, ack);
	} else {
		pub_settle(p, tag, ack);
	}
	while (p->low < p->next_tag && p->settled[p->low % p->window]) {
		p->settled[p->low % p->window] = 0;
		p->low++;
	}
}

/*
 * Reads and handles one frame from the broker, waiting at most tv (NULL:
 * the confirm timeout). Returns false on timeout; exits on a closed
 * connection or channel.
 */
static bool
pub_read(struct publisher *p, struct timeval *tv)
{
	struct timeval dflt = { .tv_sec = CONFIRM_WAIT_S, .tv_usec = 0 };
	amqp_frame_t f;
	int st;

	st = amqp_simple_wait_frame_noblock(p->conn, &f, tv ? tv : &dflt);
	if (st == AMQP_STATUS_TIMEOUT) {
		if (tv == NULL)
			fail("no publisher confirm from RabbitMQ in %d s", CONFIRM_WAIT_S);
		return false;
	}
	if (st != AMQP_STATUS_OK)
		fail("lost the connection to RabbitMQ: %s", amqp_error_string2(st));
	if (f.frame_type != AMQP_FRAME_METHOD)
		return true;
	switch (f.payload.method.id) {
	case AMQP_BASIC_ACK_METHOD: {
		const amqp_basic_ack_t *a = f.payload.method.decoded;
		pub_confirm(p, a->delivery_tag, a->multiple, true);
		break;
	}
	case AMQP_BASIC_NACK_METHOD: {
		const amqp_basic_nack_t *n = f.payload.method.decoded;
		pub_confirm(p, n->delivery_tag, n->multiple, false);
		break;
	}
	case AMQP_CHANNEL_CLOSE_METHOD: {
		const amqp_channel_close_t *c = f.payload.method.decoded;
		fail("channel closed by RabbitMQ: %u %.*s", (unsigned)c->reply_code,
		    (int)c->reply_text.len, (const char *)c->reply_text.bytes);
	}
	case AMQP_CONNECTION_CLOSE_METHOD: {
		const amqp_connection_close_t *c = f.payload.method.decoded;
		fail("connection closed by RabbitMQ: %u %.*s", (unsigned)c->reply_code,
		    (int)c->reply_text.len, (const char *)c->reply_text.bytes);
	}
	case AMQP_CONNECTION_BLOCKED_METHOD:
		if (!p->blocked_noted && !p->quiet)
			fprintf(stderr, PROG ": RabbitMQ blocked publishing (resource alarm); waiting\n");
		p->blocked_noted = true;
		break;
	default:
		break;
	}
	amqp_maybe_release_buffers(p->conn);
	return true;
}

/* Handles every frame that is already waiting, without blocking. */
static void
pub_poll(struct publisher *p)
{
	struct timeval zero = { 0, 0 };

	while (p->low < p->next_tag && pub_read(p, &zero))
		;
}

static void
pub_send(struct publisher *p, const char *rk, const char *body, size_t len)
{
	amqp_bytes_t b = { .len = len, .bytes = (void *)(uintptr_t)body };
	int st;

	while (p->next_tag - p->low >= p->window)
		pub_read(p, NULL);
	st = amqp_basic_publish(p->conn, 1, p->exchange, amqp_cstring_bytes(rk),
	    0, 0, &p->props, b);
	if (st != AMQP_STATUS_OK)
		fail("publish failed: %s", amqp_error_string2(st));
	p->next_tag++;
}

/* Waits until every published message is confirmed. */
static void
pub_flush(struct publisher *p)
{
	while (p->low < p->next_tag)
		pub_read(p, NULL);
}

static void
pub_close(struct publisher *p)
{
	if (p->conn == NULL)
		return;
	amqp_channel_close(p->conn, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(p->conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(p->conn);
	free(p->settled);
	p->conn = NULL;
}

/* ------------------------------------------------------------- the log */

struct msglog {
	FILE *f;
	tt_strbuf line;
	const char *path;
};

static void
log_open(struct msglog *l, const char *path)
{
	memset(l, 0, sizeof(*l));
	if (path == NULL)
		return;
	l->path = path;
	l->f = fopen(path, "w");
	if (l->f == NULL)
		fail("cannot write --log %s: %s", path, strerror(errno));
	setvbuf(l->f, NULL, _IOFBF, 1 << 20);
	tt_strbuf_init(&l->line, LINE_MAX_BYTES);
}

static void
log_write(struct msglog *l, const char *rk, const char *body, size_t len,
    enum msg_kind kind)
{
	if (l->f == NULL)
		return;
	tt_strbuf_reset(&l->line);
	tt_strbuf_puts(&l->line, "{\"routingKey\":");
	tt_strbuf_json_str(&l->line, rk);
	tt_strbuf_puts(&l->line, ",\"body\":");
	tt_strbuf_json_strn(&l->line, body, len);
	tt_strbuf_puts(&l->line, ",\"kind\":");
	tt_strbuf_json_str(&l->line, kind_names[kind]);
	tt_strbuf_puts(&l->line, "}\n");
	if (tt_strbuf_truncated(&l->line))
		fail("--log line longer than %d bytes", LINE_MAX_BYTES);
	if (fwrite(tt_strbuf_str(&l->line), 1, tt_strbuf_len(&l->line), l->f) !=
	    tt_strbuf_len(&l->line))
		fail("cannot write --log %s: %s", l->path, strerror(errno));
}

static void
log_close(struct msglog *l)
{
	if (l->f != NULL && fclose(l->f) != 0)
		fail("cannot write --log %s: %s", l->path, strerror(errno));
	l->f = NULL;
	tt_strbuf_fini(&l->line);
}

/* ------------------------------------------------------------- options */

static int64_t
parse_int_opt(const char *name, const char *s, int64_t min, int64_t max)
{
	int64_t v;

	if (tt_parse_i64(s, strlen(s), min, max, &v) != TT_OK)
		die_usage("--%s: expected an integer in %lld..%lld, got \"%s\"", name,
		    (long long)min, (long long)max, s);
	return v;
}

static double
parse_fraction_opt(const char *name, const char *s)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		die_usage("--%s: expected a fraction in 0..1, got \"%s\"", name, s);
	return v;
}

static bool
valid_ident(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
		    c == '-'))
			return false;
	}
	return true;
}

/* "a,b:3,c": event types with optional integer weights (default 1). */
static void
parse_types(const char *s, unsigned *weights)
{
	const char *p = s;

	memset(weights, 0, EV_COUNT * sizeof(*weights));
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		size_t nlen = colon ? (size_t)(colon - p) : len;
		int64_t w = 1;
		int i;

		if (colon != NULL &&
		    tt_parse_i64(colon + 1, len - nlen - 1, 1, 1000000, &w) != TT_OK)
			die_usage("--types: bad weight in \"%.*s\"", (int)len, p);
		for (i = 0; i < EV_COUNT; i++)
			if (strlen(type_names[i]) == nlen &&
			    strncmp(type_names[i], p, nlen) == 0)
				break;
		if (i == EV_COUNT)
			die_usage("--types: unknown event type \"%.*s\"", (int)nlen, p);
		weights[i] = (unsigned)w;
		p += len;
		if (*p == ',')
			p++;
	}
	for (int i = 0; i < EV_COUNT; i++)
		if (weights[i] > 0)
			return;
	die_usage("--types: no event type given");
}

/* "YYYY-MM-DDTHH:MM:SS[.mmm]Z" to epoch milliseconds. */
static int64_t
parse_now(const char *s)
{
	static const struct { size_t off, len; int64_t min, max; } part[] = {
		{ 0, 4, 1970, 9999 }, { 5, 2, 1, 12 }, { 8, 2, 1, 31 },
		{ 11, 2, 0, 23 }, { 14, 2, 0, 59 }, { 17, 2, 0, 59 },
	};
	int64_t v[6], ms = 0;
	size_t n = strlen(s), i;
	struct tm tm;

	if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[n - 1] != 'Z')
		goto bad;
	for (i = 0; i < 6; i++)
		if (tt_parse_i64(s + part[i].off, part[i].len, part[i].min,
		    part[i].max, &v[i]) != TT_OK)
			goto bad;
	if (n == 24) {
		if (s[19] != '.' || tt_parse_i64(s + 20, 3, 0, 999, &ms) != TT_OK)
			goto bad;
	} else if (n != 20) {
		goto bad;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)v[0] - 1900;
	tm.tm_mon = (int)v[1] - 1;
	tm.tm_mday = (int)v[2];
	tm.tm_hour = (int)v[3];
	tm.tm_min = (int)v[4];
	tm.tm_sec = (int)v[5];
	return (int64_t)timegm(&tm) * 1000 + ms;
bad:
	die_usage("--now: expected YYYY-MM-DDTHH:MM:SS[.mmm]Z, got \"%s\"", s);
}

static void
help(void)
{
	printf("%s\n\n"
	    "Publishes sample or synthetic platform events to RabbitMQ (proto/README.md):\n"
	    "persistent, application/json, routing key = event type, publisher confirms.\n\n"
	    "  --url URL         broker (default $RABBITMQ_URL or " DEFAULT_URL ")\n"
	    "  --exchange NAME   topic exchange, declared durable if missing (" DEFAULT_EXCH ")\n"
	    "  --count N         messages to publish, duplicates and malformed included (100)\n"
	    "  --rate N          messages per second, 0 = as fast as possible (0)\n"
	    "  --venues N        venue ids venue-1..venue-N (5)\n"
	    "  --venue ID        one venue id for every event\n"
	    "  --seed N          PRNG seed; the same seed, --now and options give the same\n"
	    "                    bytes (without --now the time anchor is the start of the\n"
	    "                    current UTC hour when a seed is given, else the current time)\n"
	    "  --now ISO         time anchor, YYYY-MM-DDTHH:MM:SS[.mmm]Z; no occurredAt is later\n"
	    "  --days N          spread occurredAt from the start of the UTC day N days ago\n"
	    "                    to the anchor (0 = today)\n"
	    "  --dup-rate P      fraction of messages re-sending an earlier event (same id, body)\n"
	    "  --bad-rate P      fraction of malformed messages (ingest must dead-letter them)\n"
	    "  --types a[:w],..  event types with weights (default: mostly ticket.purchased,\n"
	    "                    some ticket.refunded, ticket.scanned, user.login,\n"
	    "                    payment.completed, event.created)\n"
	    "  --log FILE        write each published message as NDJSON\n"
	    "                    {\"routingKey\",\"body\",\"kind\":\"new|duplicate|malformed|file\"}\n"
	    "  --batch N         publisher-confirm window: at most N unconfirmed (1000)\n"
	    "  --file FILE       publish the {\"routingKey\",\"body\"} lines of an NDJSON file\n"
	    "                    (body a string, sent as is, or a JSON value, sent compact)\n"
	    "  --quiet           no summary line\n\n"
	    "Prints one summary line on stderr. Exit 0 when every message was confirmed,\n"
	    "1 on a broker error (unreachable, nack, closed), 2 on a usage error.\n",
	    usage_line);
}

static void
parse_options(int argc, char **argv, struct options *opt)
{
	enum { O_URL = 256, O_EXCH, O_COUNT, O_RATE, O_VENUES, O_VENUE, O_SEED,
	    O_DUP, O_BAD, O_TYPES, O_DAYS, O_NOW, O_LOG, O_BATCH, O_FILE,
	    O_QUIET, O_HELP };
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, O_URL },
		{ "exchange", required_argument, NULL, O_EXCH },
		{ "count", required_argument, NULL, O_COUNT },
		{ "rate", required_argument, NULL, O_RATE },
		{ "venues", required_argument, NULL, O_VENUES },
		{ "venue", required_argument, NULL, O_VENUE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "dup-rate", required_argument, NULL, O_DUP },
		{ "bad-rate", required_argument, NULL, O_BAD },
		{ "types", required_argument, NULL, O_TYPES },
		{ "days", required_argument, NULL, O_DAYS },
		{ "now", required_argument, NULL, O_NOW },
		{ "log", required_argument, NULL, O_LOG },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "file", required_argument, NULL, O_FILE },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("RABBITMQ_URL");
	int c;

	memset(opt, 0, sizeof(*opt));
	snprintf(opt->url, sizeof(opt->url), "%s", env && *env ? env : DEFAULT_URL);
	snprintf(opt->exchange, sizeof(opt->exchange), "%s", DEFAULT_EXCH);
	opt->count = 100;
	opt->venues = 5;
	opt->batch = 1000;
	memcpy(opt->weights, default_weights, sizeof(opt->weights));

	while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (c) {
		case O_URL:
			if (strlen(optarg) >= sizeof(opt->url))
				die_usage("--url: too long");
			snprintf(opt->url, sizeof(opt->url), "%s", optarg);
			break;
		case O_EXCH:
			if (!valid_ident(optarg, 255))
				die_usage("--exchange: expected 1..255 of [A-Za-z0-9._:-]");
			snprintf(opt->exchange, sizeof(opt->exchange), "%s", optarg);
			break;
		case O_COUNT:
			opt->count = parse_int_opt("count", optarg, 0, INT64_MAX / 2);
			opt->count_set = true;
			break;
		case O_RATE:
			opt->rate = parse_int_opt("rate", optarg, 0, 10000000);
			break;
		case O_VENUES:
			opt->venues = parse_int_opt("venues", optarg, 1, 1000000);
			opt->venue[0] = '\0';
			break;
		case O_VENUE:
			if (!valid_ident(optarg, 64))
				die_usage("--venue: expected 1..64 of [A-Za-z0-9._:-]");
			snprintf(opt->venue, sizeof(opt->venue), "%s", optarg);
			break;
		case O_SEED:
			opt->seed = (uint64_t)parse_int_opt("seed", optarg, 0, INT64_MAX);
			opt->seed_set = true;
			break;
		case O_DUP:
			opt->dup_rate = parse_fraction_opt("dup-rate", optarg);
			break;
		case O_BAD:
			opt->bad_rate = parse_fraction_opt("bad-rate", optarg);
			break;
		case O_TYPES:
			parse_types(optarg, opt->weights);
			break;
		case O_DAYS:
			opt->days = parse_int_opt("days", optarg, 0, 3650);
			break;
		case O_NOW:
			opt->now_ms = parse_now(optarg);
			opt->now_set = true;
			break;
		case O_LOG:
			opt->log_path = optarg;
			break;
		case O_BATCH:
			opt->batch = parse_int_opt("batch", optarg, 1, 1000000);
			break;
		case O_FILE:
			opt->file_path = optarg;
			break;
		case 'q':
		case O_QUIET:
			opt->quiet = true;
			break;
		case 'h':
		case O_HELP:
			help();
			exit(0);
		default:
			fprintf(stderr, "%s\n", usage_line);
			exit(2);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument \"%s\"", argv[optind]);
	if (opt->dup_rate + opt->bad_rate > 1.0)
		die_usage("--dup-rate plus --bad-rate exceeds 1");
	if (!opt->seed_set) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		opt->seed = ((uint64_t)ts.tv_sec * 1000000007ULL) ^
		    (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
		opt->seed &= (uint64_t)INT64_MAX;
	}
	if (!opt->now_set) {
		opt->now_ms = now_realtime_ms();
		if (opt->seed_set)
			opt->now_ms -= opt->now_ms % HOUR_MS;
	}
}

/* ---------------------------------------------------------------- main */

struct stats {
	int64_t published;
	int64_t dups;
	int64_t bad;
};

/* Sleeps until message i's slot at the requested rate, reading confirms. */
static void
pace(struct publisher *p, const struct options *opt, double t0, int64_t i)
{
	double due, now;
	struct timespec ts;

	if (opt->rate <= 0)
		return;
	due = t0 + (double)i / (double)opt->rate;
	now = now_mono();
	if (now >= due)
		return;
	pub_poll(p);
	now = now_mono();
	if (now >= due || stop_requested)
		return;
	ts.tv_sec = (time_t)(due - now);
	ts.tv_nsec = (long)((due - now - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

static void
run_generated(struct publisher *p, const struct options *opt,
    struct msglog *log, struct stats *st, double t0)
{
	struct gen *g = malloc(sizeof(*g));
	struct plan plan;
	tt_strbuf body;

	if (g == NULL)
		fail("out of memory");
	gen_init(g, opt);
	plan_init(&plan, opt);
	tt_strbuf_init(&body, BODY_MAX);
	for (int64_t i = 0; i < opt->count && !stop_requested; i++) {
		const char *rk, *out;
		size_t len;
		enum msg_kind kind;

		pace(p, opt, t0, i);
		kind = gen_next(g, &plan, &body, &rk, &out, &len);
		pub_send(p, rk, out, len);
		log_write(log, rk, out, len, kind);
		st->published++;
		st->dups += kind == KIND_DUP;
		st->bad += kind == KIND_BAD;
	}
	tt_strbuf_fini(&body);
	gen_fini(g);
	free(g);
}

static void
run_file(struct publisher *p, const struct options *opt, struct msglog *log,
    struct stats *st, double t0)
{
	FILE *f = fopen(opt->file_path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int64_t lineno = 0;

	if (f == NULL)
		fail("cannot read --file %s: %s", opt->file_path, strerror(errno));
	while (!stop_requested && (!opt->count_set || st->published < opt->count) &&
	    (n = getline(&line, &cap, f)) != -1) {
		cJSON *j, *rk, *body;
		char *printed = NULL;
		const char *out;

		lineno++;
		if (n > LINE_MAX_BYTES)
			fail("--file %s:%lld: line longer than %d bytes", opt->file_path,
			    (long long)lineno, LINE_MAX_BYTES);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
		    line[n - 1] == ' '))
			line[--n] = '\0';
		if (n == 0)
			continue;
		j = cJSON_ParseWithLength(line, (size_t)n);
		rk = j ? cJSON_GetObjectItemCaseSensitive(j, "routingKey") : NULL;
		body = j ? cJSON_GetObjectItemCaseSensitive(j, "body") : NULL;
		if (!cJSON_IsString(rk) || body == NULL)
			fail("--file %s:%lld: expected {\"routingKey\":\"...\",\"body\":...}",
			    opt->file_path, (long long)lineno);
		if (cJSON_IsString(body)) {
			out = body->valuestring;
		} else {
			printed = cJSON_PrintUnformatted(body);
			if (printed == NULL)
				fail("out of memory");
			out = printed;
		}
		pace(p, opt, t0, st->published);
		pub_send(p, rk->valuestring, out, strlen(out));
		log_write(log, rk->valuestring, out, strlen(out), KIND_FILE);
		st->published++;
		free(printed);
		cJSON_Delete(j);
	}
	if (ferror(f))
		fail("cannot read --file %s: %s", opt->file_path, strerror(errno));
	free(line);
	fclose(f);
}

int
main(int argc, char **argv)
{
	struct options opt;
	struct publisher pub;
	struct msglog log;
	struct stats st = { 0, 0, 0 };
	struct sigaction sa;
	char anchor[ISO_MAX], origin[ISO_MAX + 4096];
	double t0, elapsed;

	parse_options(argc, argv, &opt);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	pub_open(&pub, &opt);
	log_open(&log, opt.log_path);
	t0 = now_mono();
	if (opt.file_path != NULL)
		run_file(&pub, &opt, &log, &st, t0);
	else
		run_generated(&pub, &opt, &log, &st, t0);
	pub_flush(&pub);
	elapsed = now_mono() - t0;
	log_close(&log);
	pub_close(&pub);

	if (!opt.quiet) {
		/* key=value pairs, so that scripts can read the figures */
		if (opt.file_path == NULL) {
			fmt_iso_ms(anchor, sizeof(anchor), opt.now_ms);
			snprintf(origin, sizeof(origin), "seed=%llu now=%s",
			    (unsigned long long)opt.seed, anchor);
		} else {
			snprintf(origin, sizeof(origin), "file=%s", opt.file_path);
		}
		fprintf(stderr, PROG ": published=%lld duplicates=%lld malformed=%lld"
		    " nacked=%llu elapsed=%.3fs rate=%.0f/s %s%s\n",
		    (long long)st.published, (long long)st.dups, (long long)st.bad,
		    (unsigned long long)pub.nacked, elapsed,
		    elapsed > 0 ? (double)st.published / elapsed : 0.0, origin,
		    stop_requested ? " (stopped by signal)" : "");
	}
	if (pub.nacked > 0)
		fail("RabbitMQ nacked %llu message(s)", (unsigned long long)pub.nacked);
	return 0;
}
