/*
 * gw_client.c - tt-gw-client: the load client of tools/bench/gateway.
 *
 * One thread, one epoll loop, N WebSocket connections to the server under
 * test, and the nng PUB socket that server dials (NNG_SUB_URLS): the client
 * is both the ingest that publishes metric messages and every dashboard that
 * receives them, so one monotonic clock times the whole path.
 *
 *   publish  tt1|metric|venue-K|{"type":"sales",...,"data":{"currentValue":SEQ,...}}
 *            and remember when SEQ was sent (CLOCK_MONOTONIC)
 *   receive  a frame naming currentValue SEQ: latency = now - sent(SEQ)
 *
 * Modes (what a connection speaks):
 *   socket.io  (default) Engine.IO 4 / Socket.IO 5 text packets over
 *              ws://HOST:PORT/socket.io/?EIO=4&transport=websocket: open
 *              packet, namespace CONNECT with {token}, subscribe:metrics with
 *              an acknowledgement, pings answered, metric:update parsed.
 *   --plain    the gateway's plain JSON WebSocket (/analytics/realtime):
 *              token in the Authorization header, {event, data} frames.
 *   --raw-ws P any server that pushes the metric JSON itself as a text frame
 *              on path P (tt-civetweb-probe): ready once upgraded, every
 *              connection gets every message (one venue).
 *
 * Connection i belongs to venue-<i % V> and subscribes to the --metric
 * list; publishes go to the venues in turn, one message per metric each
 * (back to back, as ingest sends a batch's counters), so a publish fans out
 * to the N/V connections of one venue. Every message has its own SEQ. Each
 * receipt is checked, not just counted: the payload must be byte for byte
 * the JSON published for that SEQ (regenerated, not stored), of the
 * connection's own venue, later than the connection's previous SEQ of that
 * metric, and no SEQ more often than its venue has connections. Every
 * --stale-every-th publish adds a message for yesterday's UTC day, which the
 * gateway must not forward. Snapshots ("snapshot":true) are counted apart,
 * with the time from the subscribe request to their arrival.
 *
 * Phases: connect (at most --concurrency handshakes in flight), wait for
 * every snapshot (15 s at most), settle, read
 * the server's VmRSS/Threads (--pid), warm-up (publish until one message
 * comes back: the server's SUB is connected), then one step per rate of
 * --rate/--ramp: publish for --seconds, wait up to --drain-ms until every
 * copy arrived or every connection holds its venue's last SEQ, report (with
 * the gateway's own counters when --metrics-port is given: what its SUB
 * socket received, what it coalesced). A ramp stops at the first step that
 * is not "ok" (see step_verdict). Latencies go to a log-linear histogram
 * (under 0.8% error; max exact).
 *
 * Output: one line per figure, "what key=value ...", for people and awk.
 * Exit 0 when every step delivered everything (a ramp: when one step did),
 * 1 otherwise, 2 on usage.
 */
#include "tt/bus.h"
#include "tt/strparse.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG          "tt-gw-client"
#define NS_DEFAULT    "/analytics/realtime"
#define DEV_SECRET    "dev-only-insecure-jwt-secret"
#define MAX_CLIENTS   200000
#define MAX_STEPS     32
#define SCRATCH_SIZE  (256 * 1024)   /* one read (plus a connection's leftover) */
#define FRAME_MAX     (1024 * 1024)  /* largest server frame accepted */
#define HTTP_HEAD_MAX 8192           /* largest upgrade response head */
#define OUT_MAX       (1024 * 1024)  /* unsent bytes per connection before it is failed */
#define JSON_MAX      512            /* a metric message */
#define WARMUP_MS     20000
#define SNAPSHOT_WAIT_MS 15000       /* for the snapshots of every subscriber */
#define SEC_NS        1000000000LL
#define MS_NS         1000000LL

/* ------------------------------------------------------------ histogram */

/*
 * Log-linear buckets of microseconds: exact below 256 us, then 128
 * sub-buckets per power of two (relative error under 1/128).
 */
#define HIST_SUB     128
#define HIST_BUCKETS (2 * HIST_SUB + 56 * HIST_SUB)

struct hist {
	uint64_t n, max_us;
	uint64_t counts[HIST_BUCKETS];
};

static size_t
hist_index(uint64_t v)
{
	if (v < 2 * HIST_SUB)
		return (size_t)v;
	int e = 63 - __builtin_clzll(v);
	uint64_t m = v >> (e - 7);
	return (size_t)(2 * HIST_SUB + (uint64_t)(e - 8) * HIST_SUB + (m - HIST_SUB));
}

/* The middle of bucket i, in microseconds. */
static double
hist_value(size_t i)
{
	if (i < 2 * HIST_SUB)
		return (double)i;
	size_t k = i - 2 * HIST_SUB;
	int e = 8 + (int)(k / HIST_SUB);
	uint64_t lo = (uint64_t)(HIST_SUB + k % HIST_SUB) << (e - 7);
	uint64_t width = (uint64_t)1 << (e - 7);
	return (double)lo + (double)width / 2.0;
}

static void
hist_add(struct hist *h, uint64_t us)
{
	h->counts[hist_index(us)]++;
	h->n++;
	if (us > h->max_us)
		h->max_us = us;
}

/* The q-quantile (0 < q <= 1) in milliseconds; 0 when empty. */
static double
hist_ms(const struct hist *h, double q)
{
	if (h->n == 0)
		return 0.0;
	uint64_t want = (uint64_t)(q * (double)h->n + 0.999999), seen = 0;
	if (want == 0)
		want = 1;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			double v = hist_value(i);
			if (v > (double)h->max_us)
				v = (double)h->max_us;
			return v / 1000.0;
		}
	}
	return (double)h->max_us / 1000.0;
}

/* -------------------------------------------------------------- options */

enum mode { MODE_SIO, MODE_PLAIN, MODE_RAW };

/* ingest's counters (proto/nng.md); revenue is printed with two decimals. */
enum { MT_REVENUE, MT_SALES, MT_TRAFFIC, MT_COUNT };
static const char *const metric_names[MT_COUNT] = { "revenue", "sales", "traffic" };

struct options {
	char      host[64];
	uint16_t  port;
	enum mode mode;
	char      path[256];       /* --raw-ws */
	char      ns[64];
	int       metrics[3];      /* MT_* subscribed and published, in order */
	int       nmetrics;
	char      venue_prefix[32];
	int       clients, venues;
	char      secret[1025];
	char      pub_url[256];
	int64_t   rates[MAX_STEPS];
	int       nrates;
	bool      ramp;
	int       seconds, drain_ms, settle_ms, max_p99_ms;
	int       concurrency, connect_timeout_s;
	int       local_addrs;
	int       stale_every;
	int       pid;
	uint16_t  metrics_port;    /* the gateway's /metrics, 0: not read */
	bool      ack;
};

static void __attribute__((noreturn))
usage_exit(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: " PROG " [options]\n\n"
	    "  --host H              server address (127.0.0.1)\n"
	    "  --port P              server port (3008)\n"
	    "  --clients N           connections (1000)\n"
	    "  --venues V            connection i is venue-<i %% V> (100)\n"
	    "  --venue-prefix S      venue id prefix (venue-)\n"
	    "  --metric M[,M...]     metrics subscribed and published: revenue, sales, traffic\n"
	    "                        (sales); with several, each publish is one message per\n"
	    "                        metric for the same venue, back to back, as ingest sends\n"
	    "                        a batch's counters\n"
	    "  --secret S            JWT secret (JWT_SECRET, else the development default)\n"
	    "  --pub URL             nng PUB listen address the server dials (tcp://127.0.0.1:5970)\n"
	    "  --rate R              publishes per second (one message per --metric), one step (100)\n"
	    "  --ramp R1,R2,...      one step per rate; stops at the first that loses or is too slow\n"
	    "  --seconds S           publishing time per step (10)\n"
	    "  --drain-ms MS         wait for late receipts after a step (3000)\n"
	    "  --max-p99-ms MS       a ramp step with a higher p99 fails (1000)\n"
	    "  --settle-ms MS        pause after connecting, before reading the server's RSS (1000)\n"
	    "  --concurrency K       handshakes in flight while connecting (100)\n"
	    "  --connect-timeout S   give up connecting after S seconds (180)\n"
	    "  --local-addrs N       bind connection i to 127.0.0.<1 + i %% N> (1: no bind)\n"
	    "  --stale-every K       every K-th publish adds one for yesterday (0: none; 20)\n"
	    "  --pid PID             the server's pid: VmRSS and Threads before/after connecting\n"
	    "  --metrics-port P      the gateway's health port: read its /metrics around each step\n"
	    "                        (messages its SUB socket received, updates it coalesced)\n"
	    "  --no-ack              subscribe without an acknowledgement id; ready on the snapshot\n"
	    "  --namespace NS        Socket.IO namespace (" NS_DEFAULT ")\n"
	    "  --plain               the gateway's plain JSON WebSocket (/analytics/realtime)\n"
	    "  --raw-ws PATH         a server pushing the metric JSON as is (tt-civetweb-probe)\n");
	exit(status);
}

static void __attribute__((format(printf, 1, 2), noreturn))
die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static int64_t
int_arg(const char *name, const char *s, int64_t min, int64_t max)
{
	int64_t v;

	if (tt_parse_i64(s, strlen(s), min, max, &v) != TT_OK)
		die_usage("--%s: expected a whole number in %" PRId64 "..%" PRId64, name, min, max);
	return v;
}

static void
copy_arg(const char *name, char *dst, size_t cap, const char *s)
{
	if (strlen(s) >= cap)
		die_usage("--%s: too long", name);
	memcpy(dst, s, strlen(s) + 1);
}

/* The next item of a comma-separated list: its length; *p moves past it and its comma. */
static size_t
list_next(const char **p, const char **item)
{
	size_t n = strcspn(*p, ",");

	*item = *p;
	*p += n;
	if (**p == ',')
		(*p)++;
	return n;
}

static void
parse_rates(struct options *o, const char *s)
{
	const char *item;

	o->nrates = 0;
	for (const char *p = s; *p != '\0';) {
		size_t n = list_next(&p, &item);
		int64_t v;

		if (o->nrates == MAX_STEPS)
			die_usage("--ramp: at most %d rates", MAX_STEPS);
		if (tt_parse_i64(item, n, 1, 10000000, &v) != TT_OK)
			die_usage("--ramp: expected rates 1..10000000 separated by commas");
		o->rates[o->nrates++] = v;
	}
	if (o->nrates == 0)
		die_usage("--ramp: no rate");
}

static void
parse_metrics(struct options *o, const char *s)
{
	const char *item;

	o->nmetrics = 0;
	for (const char *p = s; *p != '\0';) {
		size_t n = list_next(&p, &item);
		int m = -1;

		for (int k = 0; k < MT_COUNT; k++)
			if (strlen(metric_names[k]) == n && memcmp(item, metric_names[k], n) == 0)
				m = k;
		if (m < 0 || o->nmetrics == MT_COUNT)
			die_usage("--metric: a list of revenue, sales, traffic");
		for (int k = 0; k < o->nmetrics; k++)
			if (o->metrics[k] == m)
				die_usage("--metric: %s twice", metric_names[m]);
		o->metrics[o->nmetrics++] = m;
	}
	if (o->nmetrics == 0)
		die_usage("--metric: none given");
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	enum { O_HOST = 256, O_PORT, O_CLIENTS, O_VENUES, O_PREFIX, O_METRIC,
	    O_SECRET, O_PUB, O_RATE, O_RAMP, O_SECONDS, O_DRAIN, O_P99,
	    O_SETTLE, O_CONC, O_CTIMEOUT, O_LOCAL, O_STALE, O_PID, O_NOACK,
	    O_NS, O_PLAIN, O_RAW, O_MPORT, O_HELP };
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "clients", required_argument, NULL, O_CLIENTS },
		{ "venues", required_argument, NULL, O_VENUES },
		{ "venue-prefix", required_argument, NULL, O_PREFIX },
		{ "metric", required_argument, NULL, O_METRIC },
		{ "secret", required_argument, NULL, O_SECRET },
		{ "pub", required_argument, NULL, O_PUB },
		{ "rate", required_argument, NULL, O_RATE },
		{ "ramp", required_argument, NULL, O_RAMP },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "drain-ms", required_argument, NULL, O_DRAIN },
		{ "max-p99-ms", required_argument, NULL, O_P99 },
		{ "settle-ms", required_argument, NULL, O_SETTLE },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "connect-timeout", required_argument, NULL, O_CTIMEOUT },
		{ "local-addrs", required_argument, NULL, O_LOCAL },
		{ "stale-every", required_argument, NULL, O_STALE },
		{ "pid", required_argument, NULL, O_PID },
		{ "no-ack", no_argument, NULL, O_NOACK },
		{ "namespace", required_argument, NULL, O_NS },
		{ "plain", no_argument, NULL, O_PLAIN },
		{ "raw-ws", required_argument, NULL, O_RAW },
		{ "metrics-port", required_argument, NULL, O_MPORT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("JWT_SECRET");
	int c;

	memset(o, 0, sizeof(*o));
	copy_arg("host", o->host, sizeof(o->host), "127.0.0.1");
	o->port = 3008;
	copy_arg("namespace", o->ns, sizeof(o->ns), NS_DEFAULT);
	o->metrics[0] = MT_SALES;
	o->nmetrics = 1;
	copy_arg("venue-prefix", o->venue_prefix, sizeof(o->venue_prefix), "venue-");
	copy_arg("secret", o->secret, sizeof(o->secret), env && *env ? env : DEV_SECRET);
	copy_arg("pub", o->pub_url, sizeof(o->pub_url), "tcp://127.0.0.1:5970");
	o->clients = 1000;
	o->venues = 100;
	o->rates[0] = 100;
	o->nrates = 1;
	o->seconds = 10;
	o->drain_ms = 3000;
	o->settle_ms = 1000;
	o->max_p99_ms = 1000;
	o->concurrency = 100;
	o->connect_timeout_s = 180;
	o->local_addrs = 1;
	o->stale_every = 20;
	o->ack = true;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_HOST: copy_arg("host", o->host, sizeof(o->host), optarg); break;
		case O_PORT: o->port = (uint16_t)int_arg("port", optarg, 1, 65535); break;
		case O_CLIENTS: o->clients = (int)int_arg("clients", optarg, 1, MAX_CLIENTS); break;
		case O_VENUES: o->venues = (int)int_arg("venues", optarg, 1, MAX_CLIENTS); break;
		case O_PREFIX: copy_arg("venue-prefix", o->venue_prefix, sizeof(o->venue_prefix), optarg); break;
		case O_METRIC: parse_metrics(o, optarg); break;
		case O_SECRET: copy_arg("secret", o->secret, sizeof(o->secret), optarg); break;
		case O_PUB: copy_arg("pub", o->pub_url, sizeof(o->pub_url), optarg); break;
		case O_RATE:
			o->rates[0] = int_arg("rate", optarg, 1, 10000000);
			o->nrates = 1;
			o->ramp = false;
			break;
		case O_RAMP: parse_rates(o, optarg); o->ramp = true; break;
		case O_SECONDS: o->seconds = (int)int_arg("seconds", optarg, 1, 3600); break;
		case O_DRAIN: o->drain_ms = (int)int_arg("drain-ms", optarg, 0, 600000); break;
		case O_P99: o->max_p99_ms = (int)int_arg("max-p99-ms", optarg, 1, 600000); break;
		case O_SETTLE: o->settle_ms = (int)int_arg("settle-ms", optarg, 0, 600000); break;
		case O_CONC: o->concurrency = (int)int_arg("concurrency", optarg, 1, MAX_CLIENTS); break;
		case O_CTIMEOUT: o->connect_timeout_s = (int)int_arg("connect-timeout", optarg, 1, 3600); break;
		case O_LOCAL: o->local_addrs = (int)int_arg("local-addrs", optarg, 1, 254); break;
		case O_STALE: o->stale_every = (int)int_arg("stale-every", optarg, 0, 1000000); break;
		case O_PID: o->pid = (int)int_arg("pid", optarg, 1, INT32_MAX); break;
		case O_MPORT: o->metrics_port = (uint16_t)int_arg("metrics-port", optarg, 1, 65535); break;
		case O_NOACK: o->ack = false; break;
		case O_NS: copy_arg("namespace", o->ns, sizeof(o->ns), optarg); break;
		case O_PLAIN: o->mode = MODE_PLAIN; break;
		case O_RAW:
			if (optarg[0] != '/')
				die_usage("--raw-ws: a path starting with /");
			copy_arg("raw-ws", o->path, sizeof(o->path), optarg);
			o->mode = MODE_RAW;
			break;
		case 'h':
		case O_HELP: usage_exit(0);
		default: usage_exit(2);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument \"%s\"", argv[optind]);
	if (o->venues > o->clients)
		die_usage("--venues %d exceeds --clients %d", o->venues, o->clients);
	if (o->mode == MODE_RAW) {
		o->venues = 1;        /* a broadcast server: every connection gets everything, */
		o->stale_every = 0;   /* whatever its day */
	}
	if (o->mode == MODE_PLAIN)
		copy_arg("plain", o->path, sizeof(o->path), "/analytics/realtime");
	if (o->mode == MODE_SIO)
		copy_arg("path", o->path, sizeof(o->path), "/socket.io/?EIO=4&transport=websocket");
}

/* ---------------------------------------------------------------- state */

enum conn_state {
	ST_IDLE,        /* not started */
	ST_CONNECTING,  /* TCP connect in progress */
	ST_UPGRADING,   /* GET sent, waiting for 101 */
	ST_EIO_OPEN,    /* socket.io: waiting for the open packet */
	ST_NS_CONNECT,  /* socket.io: CONNECT sent; plain: waiting for "connected" */
	ST_SUBSCRIBING, /* subscribe sent, waiting for its ack (or snapshot) */
	ST_READY,
	ST_CLOSED,
};

struct conn {
	int      fd;
	uint32_t venue;
	uint8_t  state;
	bool     was_ready;
	int64_t  t_start;          /* connect() called */
	int64_t  t_sub;            /* subscribe sent (0: not yet) */
	int64_t  last_seq[MT_COUNT];   /* last measured SEQ received, per metric */
	uint8_t *in;               /* bytes of an incomplete frame or head */
	uint32_t in_len, in_cap;
	uint8_t *out;              /* bytes the kernel has not taken yet */
	uint32_t out_len, out_cap;
	char     key[32];          /* Sec-WebSocket-Key */
};

enum seq_kind { SEQ_WARMUP = 1, SEQ_MEASURED, SEQ_STALE };

struct seqinfo {
	int64_t  sent_ns;
	uint32_t venue;
	uint32_t expected;         /* ready connections of the venue when sent */
	uint32_t received;
	int32_t  day;              /* days since 1970-01-01 (UTC) */
	uint8_t  metric;           /* MT_* */
	uint8_t  kind;
	uint8_t  step;
};

/* The gateway's own counters (its /metrics); -1 when not read. */
struct gwstats {
	double bus_received, bus_not_today, coalesced, slow_disconnects, connections;
};

struct step {
	int64_t     rate;
	int64_t     t0, t_pub_end, t_last_rx;
	uint64_t    published, expected, received;
	uint64_t    sent_all;          /* every message published, stale ones included */
	struct gwstats gw0, gw1;       /* the gateway's counters before and after */
	int         behind;            /* ready connections without their venue's last SEQ */
	double      client_cpu, server_cpu;   /* CPU seconds per second of the step */
	struct hist hist;
};

/* Why connections ended; printed as "failures ..." */
#define FAILURES(X)                                   \
	X(F_CONNECT, "connect")                       \
	X(F_HTTP, "http_status")                      \
	X(F_ACCEPT_KEY, "bad_accept_key")             \
	X(F_EOF_HANDSHAKE, "closed_in_handshake")     \
	X(F_AUTH, "connect_error")                    \
	X(F_SUBSCRIBE, "subscribe_refused")           \
	X(F_PROTOCOL, "protocol")                     \
	X(F_CLOSED_READY, "closed_by_server")         \
	X(F_SLOW, "output_backlog")                   \
	X(F_TIMEOUT, "handshake_timeout")
#define X_ENUM(e, s) e,
enum failure { FAILURES(X_ENUM) F_COUNT };
#define X_NAME(e, s) s,
static const char *const failure_names[] = { FAILURES(X_NAME) };

struct run {
	const struct options *o;
	int              ep;
	struct conn     *conns;
	uint32_t        *venue_ready;   /* ready connections per venue */
	int64_t         *venue_last;    /* last measured SEQ published per venue and metric */
	int              next, inflight, ready, ready_total;
	int64_t          t_connect0, t_last_ready;
	struct hist      hs_hist;       /* connect() to ready */
	struct hist      snap_hist;     /* subscribe sent to its snapshot received */
	tt_bus          *bus;
	struct seqinfo  *seqs;
	size_t           nseq, seq_cap;
	struct step      steps[MAX_STEPS];
	int              cur_step;
	uint64_t         failures[F_COUNT];
	int              http_status_seen;
	char             first_error[256];
	/* receipt checks */
	uint64_t         altered, wrong_venue, stale_forwarded, duplicates,
	                 out_of_order, unknown, snapshots, other, pings, warm_rx;
	char             other_sample[160];
	int64_t          ping_interval_ms;
	char             metrics_json[64];   /* ["revenue","sales",...] */
	struct sockaddr_in server;
	uint64_t         rng;
	uint8_t          scratch[FRAME_MAX + 16 + SCRATCH_SIZE]; /* leftover, then a read */
};

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SEC_NS + ts.tv_nsec;
}

static uint64_t
rng_next(struct run *r)
{
	/* xorshift64*: masks and keys need no cryptographic strength here. */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 2685821657736338717ULL;
}

static void __attribute__((format(printf, 2, 3)))
note_error(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->first_error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(r->first_error, sizeof(r->first_error), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------ JSON, JWT, keys */

static size_t
b64url(const uint8_t *in, size_t n, char *out, size_t cap)
{
	/* EVP_EncodeBlock writes 4*ceil(n/3) + NUL. */
	if (4 * ((n + 2) / 3) + 1 > cap)
		return 0;
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	for (int i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	out[len] = '\0';
	return (size_t)len;
}

/*
 * An HS256 token with the platform's claims for a venue manager of venue;
 * returns its length (0 when it does not fit).
 */
static size_t
jwt_make(const char *secret, int user, const char *venue, char *out, size_t cap)
{
	static const char head[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"; /* {"alg":"HS256","typ":"JWT"} */
	char claims[256], body[400];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	int64_t now = (int64_t)time(NULL);
	int n = snprintf(claims, sizeof(claims),
	    "{\"userId\":\"bench-user-%d\",\"venueId\":\"%s\",\"role\":\"venue_manager\","
	    "\"iat\":%" PRId64 ",\"exp\":%" PRId64 "}", user, venue, now, now + 86400);

	if (n < 0 || (size_t)n >= sizeof(claims) || b64url((const uint8_t *)claims, (size_t)n, body, sizeof(body)) == 0)
		return 0;
	int len = snprintf(out, cap, "%s.%s.", head, body);
	if (len < 0 || (size_t)len >= cap)
		return 0;
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)out, (size_t)len - 1, mac, &maclen) == NULL)
		return 0;
	size_t s = b64url(mac, maclen, out + len, cap - (size_t)len);
	return s == 0 ? 0 : (size_t)len + s;
}

/* ["revenue","sales","traffic"]: the metrics of a subscribe request (fits 64 bytes). */
static void
metrics_list_json(const struct options *o, char *out, size_t cap)
{
	size_t len = 0;

	for (int k = 0; k < o->nmetrics && len < cap; k++)
		len += (size_t)snprintf(out + len, cap - len, "%s\"%s\"", k ? "," : "[",
		    metric_names[o->metrics[k]]);
	if (len < cap)
		snprintf(out + len, cap - len, "]");
}

static void
venue_name(const struct options *o, uint32_t v, char *out, size_t cap)
{
	snprintf(out, cap, "%s%" PRIu32, o->venue_prefix, v);
}

/* YYYY-MM-DD of a day number (days since 1970-01-01). */
static void
day_str(int32_t day, char out[11])
{
	time_t t = (time_t)day * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/*
 * The message ingest would publish when a counter went from SEQ-1 to SEQ:
 * proto/nng.md's key order and number formats (changePercent with four
 * decimals, rounded half up). Publishing and checking both call this.
 */
static size_t
metric_json(const struct options *o, int metric, int64_t seq, uint32_t venue, int32_t day,
    char *out, size_t cap)
{
	char vname[64], d[11], pct[32];
	const char *cents = metric == MT_REVENUE ? ".00" : "";
	int64_t prev = seq - 1;
	int n;

	venue_name(o, venue, vname, sizeof(vname));
	day_str(day, d);
	if (prev <= 0) {
		snprintf(pct, sizeof(pct), "0.0000");
	} else {
		int64_t p = (1000000 + prev / 2) / prev;   /* 1 * 100 / prev, 4 decimals */
		snprintf(pct, sizeof(pct), "%" PRId64 ".%04" PRId64, p / 10000, p % 10000);
	}
	n = snprintf(out, cap,
	    "{\"type\":\"%s\",\"venueId\":\"%s\",\"day\":\"%s\",\"data\":{\"currentValue\":%" PRId64
	    "%s,\"previousValue\":%" PRId64 "%s,\"change\":1%s,\"changePercent\":%s,\"trend\":\"up\"}}",
	    metric_names[metric], vname, d, seq, cents, prev, cents, cents, pct);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static int32_t
today_utc(void)
{
	return (int32_t)(time(NULL) / 86400);
}

/* --------------------------------------------------------------- output */

static void conn_fail(struct run *r, struct conn *c, enum failure why);

/* Queues or writes bytes; a connection whose backlog passes OUT_MAX fails. */
static void
conn_send(struct run *r, struct conn *c, const uint8_t *p, size_t n)
{
	if (c->state == ST_CLOSED)
		return;
	if (c->out_len == 0) {
		ssize_t w = write(c->fd, p, n);
		if (w == (ssize_t)n)
			return;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_fail(r, c, c->was_ready ? F_CLOSED_READY : F_EOF_HANDSHAKE);
			return;
		}
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
	if ((size_t)c->out_len + n > OUT_MAX) {
		conn_fail(r, c, F_SLOW);
		return;
	}
	if (c->out_len + n > c->out_cap) {
		uint32_t cap = c->out_cap ? c->out_cap : 1024;
		while (cap < c->out_len + n)
			cap *= 2;
		uint8_t *nb = realloc(c->out, cap);
		if (nb == NULL) {
			conn_fail(r, c, F_SLOW);
			return;
		}
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += (uint32_t)n;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c };
	epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
conn_flush(struct run *r, struct conn *c)
{
	ssize_t w = write(c->fd, c->out, c->out_len);

	if (w < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			conn_fail(r, c, c->was_ready ? F_CLOSED_READY : F_EOF_HANDSHAKE);
		return;
	}
	memmove(c->out, c->out + w, c->out_len - (size_t)w);
	c->out_len -= (uint32_t)w;
	if (c->out_len == 0) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
		epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

/* Sends one masked client frame (RFC 6455 5.3: a client masks every frame). */
static void
ws_send(struct run *r, struct conn *c, int opcode, const void *payload, size_t n)
{
	uint8_t frame[14 + 2048];
	size_t h = 0;
	uint64_t rnd = rng_next(r);
	uint8_t mask[4] = { (uint8_t)rnd, (uint8_t)(rnd >> 8), (uint8_t)(rnd >> 16), (uint8_t)(rnd >> 24) };
	const uint8_t *p = payload;

	if (n > sizeof(frame) - 14) {
		conn_fail(r, c, F_PROTOCOL);
		return;
	}
	frame[h++] = (uint8_t)(0x80 | opcode);
	if (n < 126) {
		frame[h++] = (uint8_t)(0x80 | n);
	} else {
		frame[h++] = 0x80 | 126;
		frame[h++] = (uint8_t)(n >> 8);
		frame[h++] = (uint8_t)n;
	}
	memcpy(frame + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < n; i++)
		frame[h + i] = p[i] ^ mask[i & 3];
	conn_send(r, c, frame, h + n);
}

static void
ws_send_text(struct run *r, struct conn *c, const char *s)
{
	ws_send(r, c, 0x1, s, strlen(s));
}

/* ------------------------------------------------------ connection life */

static void
conn_set_ready(struct run *r, struct conn *c, int64_t now)
{
	c->state = ST_READY;
	c->was_ready = true;
	r->inflight--;
	r->ready++;
	r->ready_total++;
	r->venue_ready[c->venue]++;
	r->t_last_ready = now;
	hist_add(&r->hs_hist, (uint64_t)(now - c->t_start) / 1000);
}

static void
conn_fail(struct run *r, struct conn *c, enum failure why)
{
	if (c->state == ST_CLOSED || c->state == ST_IDLE)
		return;
	if (c->state == ST_READY) {
		r->ready--;
		r->venue_ready[c->venue]--;
		why = why == F_PROTOCOL || why == F_SLOW ? why : F_CLOSED_READY;
	} else {
		r->inflight--;
	}
	r->failures[why]++;
	epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = ST_CLOSED;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->in_cap = c->out_len = c->out_cap = 0;
}

static void
conn_start(struct run *r, int i)
{
	const struct options *o = r->o;
	struct conn *c = &r->conns[i];
	uint8_t raw[16];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	c->venue = (uint32_t)(i % o->venues);
	c->t_start = now_ns();
	c->state = ST_CONNECTING;
	c->fd = fd;
	r->inflight++;
	if (fd < 0) {
		note_error(r, "socket: %s", strerror(errno));
		c->fd = -1;
		c->state = ST_CLOSED;
		r->inflight--;
		r->failures[F_CONNECT]++;
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o->local_addrs > 1) {
		struct sockaddr_in local = { .sin_family = AF_INET };
		local.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % o->local_addrs));
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0)
			note_error(r, "bind 127.0.0.%d: %s", 1 + i % o->local_addrs, strerror(errno));
	}
	for (size_t k = 0; k < sizeof(raw); k += 8) {
		uint64_t v = rng_next(r);
		memcpy(raw + k, &v, 8);
	}
	EVP_EncodeBlock((unsigned char *)c->key, raw, (int)sizeof(raw));
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c };
	epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
	if (connect(fd, (struct sockaddr *)&r->server, sizeof(r->server)) != 0 && errno != EINPROGRESS) {
		note_error(r, "connect: %s", strerror(errno));
		conn_fail(r, c, F_CONNECT);
	}
}

/* The TCP connection is up: send the upgrade request. */
static void
conn_connected(struct run *r, struct conn *c)
{
	const struct options *o = r->o;
	char req[1024 + 400], auth[600] = "";
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		note_error(r, "connect: %s", strerror(err));
		conn_fail(r, c, F_CONNECT);
		return;
	}
	if (o->mode == MODE_PLAIN) {
		char vname[64], tok[512];
		venue_name(o, c->venue, vname, sizeof(vname));
		if (jwt_make(o->secret, (int)(c - r->conns), vname, tok, sizeof(tok)) == 0) {
			conn_fail(r, c, F_PROTOCOL);
			return;
		}
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", tok);
	}
	int n = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
	    o->path, o->host, o->port, c->key, auth);
	c->state = ST_UPGRADING;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
	epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
	conn_send(r, c, (const uint8_t *)req, (size_t)n);
}

/* ------------------------------------------------------------- receipts */

/* The unsigned decimal number at p (digits up to end); false when none. */
static bool
digits_at(const char *p, const char *end, int64_t *out)
{
	size_t n = 0;

	while (p + n < end && p[n] >= '0' && p[n] <= '9')
		n++;
	return tt_parse_i64(p, n, 0, INT64_MAX, out) == TT_OK;
}

/* The first needle[0..nl) in p[0..n), or NULL (memmem without _GNU_SOURCE). */
static const char *
find_bytes(const char *p, size_t n, const char *needle, size_t nl)
{
	const char *end = p + n;

	while (nl > 0 && (size_t)(end - p) >= nl) {
		const char *q = memchr(p, needle[0], (size_t)(end - p) - nl + 1);
		if (q == NULL)
			return NULL;
		if (memcmp(q, needle, nl) == 0)
			return q;
		p = q + 1;
	}
	return NULL;
}

static const char *
find(const char *p, size_t n, const char *needle)
{
	return find_bytes(p, n, needle, strlen(needle));
}

static bool
starts(const char *p, size_t n, const char *prefix, size_t plen)
{
	return n >= plen && memcmp(p, prefix, plen) == 0;
}

/* Counts a frame nobody expected; the first is kept as a sample (after prefix). */
static void
note_other(struct run *r, const char *prefix, const char *p, size_t n)
{
	r->other++;
	if (r->other_sample[0] == '\0')
		snprintf(r->other_sample, sizeof(r->other_sample), "%s%.*s", prefix,
		    (int)(n < 120 ? n : 120), p);
}

/* One metric JSON object as received (json[0..n)). */
static void
on_metric(struct run *r, struct conn *c, const char *json, size_t n, int64_t now)
{
	const char *cv;
	int64_t seq;
	char want[JSON_MAX];

	if (find(json, n, "\"snapshot\":true") != NULL) {
		r->snapshots++;
		if (c->t_sub != 0)
			hist_add(&r->snap_hist, (uint64_t)(now - c->t_sub) / 1000);
		if (c->state == ST_SUBSCRIBING && !r->o->ack)
			conn_set_ready(r, c, now);
		return;
	}
	cv = find(json, n, "\"currentValue\":");
	if (cv == NULL) {
		r->other++;
		return;
	}
	cv += strlen("\"currentValue\":");
	if (!digits_at(cv, json + n, &seq) || seq == 0 || (size_t)seq >= r->nseq) {
		r->unknown++;
		return;
	}
	struct seqinfo *si = &r->seqs[seq];
	switch (si->kind) {
	case SEQ_WARMUP:
		r->warm_rx++;
		return;
	case SEQ_STALE:
		r->stale_forwarded++;
		return;
	case SEQ_MEASURED:
		break;
	default:
		r->unknown++;
		return;
	}
	if (si->venue != c->venue) {
		r->wrong_venue++;
		return;
	}
	size_t wn = metric_json(r->o, si->metric, seq, si->venue, si->day, want, sizeof(want));
	if (wn != n || memcmp(want, json, n) != 0) {
		if (r->altered++ == 0)
			note_error(r, "payload altered: got %.*s", (int)(n < 200 ? n : 200), json);
	}
	if (seq <= c->last_seq[si->metric])
		r->out_of_order++;
	c->last_seq[si->metric] = seq;
	if (++si->received > si->expected)
		r->duplicates++;
	struct step *st = &r->steps[si->step];
	st->received++;
	st->t_last_rx = now;
	hist_add(&st->hist, (uint64_t)(now - si->sent_ns) / 1000);
}

/* A Socket.IO packet inside an Engine.IO message, namespace already matched. */
static void
on_sio(struct run *r, struct conn *c, char type, const char *p, size_t n, int64_t now)
{
	const struct options *o = r->o;
	char pkt[256];

	switch (type) {
	case '0':   /* CONNECT: {"sid":...} */
		if (c->state != ST_NS_CONNECT)
			break;
		snprintf(pkt, sizeof(pkt), "42%s,%s[\"subscribe:metrics\",{\"metrics\":%s}]",
		    o->ns, o->ack ? "1" : "", r->metrics_json);
		ws_send_text(r, c, pkt);
		c->state = ST_SUBSCRIBING;
		c->t_sub = now;
		return;
	case '4':   /* CONNECT_ERROR */
		note_error(r, "connect_error: %.*s", (int)(n < 200 ? n : 200), p);
		conn_fail(r, c, F_AUTH);
		return;
	case '3':   /* ACK "1[...]" */
		if (c->state == ST_SUBSCRIBING && n >= 2 && p[0] == '1' && p[1] == '[') {
			if (find(p, n, "\"success\":true") != NULL) {
				conn_set_ready(r, c, now);
			} else {
				note_error(r, "subscribe ack: %.*s", (int)(n < 200 ? n : 200), p);
				conn_fail(r, c, F_SUBSCRIBE);
			}
			return;
		}
		break;
	case '2': { /* EVENT */
		static const char upd[] = "[\"metric:update\",";
		if (starts(p, n, upd, sizeof(upd) - 1) && p[n - 1] == ']') {
			on_metric(r, c, p + sizeof(upd) - 1, n - sizeof(upd), now);
			return;
		}
		if (find(p, n < 20 ? n : 20, "\"error:metrics\"") != NULL) {
			note_error(r, "error:metrics: %.*s", (int)(n < 200 ? n : 200), p);
			conn_fail(r, c, F_SUBSCRIBE);
			return;
		}
		break;
	}
	case '1':   /* DISCONNECT */
		conn_fail(r, c, F_CLOSED_READY);
		return;
	default:
		break;
	}
	char pre[3] = { '4', type, '\0' };
	note_other(r, pre, p, n);
}

static void
on_text_sio(struct run *r, struct conn *c, const char *p, size_t n, int64_t now)
{
	const struct options *o = r->o;
	size_t nsl = strlen(o->ns);

	if (n == 0) {
		r->other++;
		return;
	}
	switch (p[0]) {
	case '2':   /* Engine.IO ping: answer at once, whatever the state */
		ws_send(r, c, 0x1, "3", 1);
		r->pings++;
		return;
	case '0': { /* open */
		const char *pi = find(p, n, "\"pingInterval\":");
		int64_t v;
		if (pi != NULL) {
			if (digits_at(pi + strlen("\"pingInterval\":"), p + n, &v))
				r->ping_interval_ms = v;
		}
		if (c->state != ST_EIO_OPEN)
			break;
		char pkt[700], tok[512];
		char vname[64];
		venue_name(o, c->venue, vname, sizeof(vname));
		if (jwt_make(o->secret, (int)(c - r->conns), vname, tok, sizeof(tok)) == 0) {
			conn_fail(r, c, F_PROTOCOL);
			return;
		}
		snprintf(pkt, sizeof(pkt), "40%s,{\"token\":\"%s\"}", o->ns, tok);
		ws_send_text(r, c, pkt);
		c->state = ST_NS_CONNECT;
		return;
	}
	case '4':   /* message: a Socket.IO packet "4<type><ns>,<rest>" */
		if (n >= 2 + nsl + 1 && memcmp(p + 2, o->ns, nsl) == 0 && p[2 + nsl] == ',') {
			on_sio(r, c, p[1], p + 3 + nsl, n - 3 - nsl, now);
			return;
		}
		if (n >= 2 + nsl && memcmp(p + 2, o->ns, nsl) == 0 && p[1] == '1') {
			conn_fail(r, c, F_CLOSED_READY);   /* "41/ns" without a comma */
			return;
		}
		break;
	case '1':   /* close */
		conn_fail(r, c, F_CLOSED_READY);
		return;
	case '6':   /* noop */
		return;
	default:
		break;
	}
	note_other(r, "", p, n);
}

static void
on_text_plain(struct run *r, struct conn *c, const char *p, size_t n, int64_t now)
{
	static const char upd[] = "{\"event\":\"metric:update\",\"data\":";
	char pkt[128];

	if (starts(p, n, upd, sizeof(upd) - 1) && p[n - 1] == '}') {
		on_metric(r, c, p + sizeof(upd) - 1, n - sizeof(upd), now);
		return;
	}
	if (c->state == ST_NS_CONNECT && starts(p, n, "{\"event\":\"connected\"", 20)) {
		snprintf(pkt, sizeof(pkt), "{\"event\":\"subscribe:metrics\",\"data\":{\"metrics\":%s}}", r->metrics_json);
		ws_send_text(r, c, pkt);
		c->state = ST_SUBSCRIBING;
		c->t_sub = now;
		return;
	}
	if (c->state == ST_SUBSCRIBING && starts(p, n, "{\"event\":\"subscribed\"", 21)) {
		conn_set_ready(r, c, now);
		return;
	}
	if (starts(p, n, "{\"event\":\"error\"", 16)) {
		note_error(r, "plain error: %.*s", (int)(n < 200 ? n : 200), p);
		conn_fail(r, c, F_SUBSCRIBE);
		return;
	}
	note_other(r, "", p, n);
}

/*
 * Parses whole server frames out of buf[0..len); returns the bytes used
 * (the rest is an incomplete frame), or -1 after failing the connection.
 */
static long
ws_consume(struct run *r, struct conn *c, const uint8_t *buf, size_t len, int64_t now)
{
	size_t off = 0;

	while (off + 2 <= len && c->state != ST_CLOSED) {
		const uint8_t *f = buf + off;
		size_t avail = len - off, h = 2;
		uint64_t plen = f[1] & 0x7f;
		int opcode = f[0] & 0x0f;

		if ((f[1] & 0x80) != 0 || (f[0] & 0x70) != 0 || (f[0] & 0x80) == 0) {
			/* masked, RSV bits or a fragment: nothing our servers send */
			note_error(r, "frame header %02x %02x not a final unmasked frame", f[0], f[1]);
			conn_fail(r, c, F_PROTOCOL);
			return -1;
		}
		if (plen == 126) {
			if (avail < 4)
				break;
			plen = (uint64_t)f[2] << 8 | f[3];
			h = 4;
		} else if (plen == 127) {
			if (avail < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | f[2 + i];
			h = 10;
		}
		if (plen > FRAME_MAX) {
			note_error(r, "frame of %" PRIu64 " bytes", plen);
			conn_fail(r, c, F_PROTOCOL);
			return -1;
		}
		if (avail < h + plen)
			break;
		const char *p = (const char *)f + h;
		size_t n = (size_t)plen;
		off += h + n;
		switch (opcode) {
		case 0x1:
			if (r->o->mode == MODE_SIO)
				on_text_sio(r, c, p, n, now);
			else if (r->o->mode == MODE_PLAIN)
				on_text_plain(r, c, p, n, now);
			else
				on_metric(r, c, p, n, now);
			break;
		case 0x9:   /* ping: pong with its payload */
			ws_send(r, c, 0xA, p, n);
			r->pings++;
			break;
		case 0xA:
			break;
		case 0x8:
			conn_fail(r, c, c->was_ready ? F_CLOSED_READY : F_EOF_HANDSHAKE);
			return -1;
		default:
			note_error(r, "opcode %d", opcode);
			conn_fail(r, c, F_PROTOCOL);
			return -1;
		}
	}
	return c->state == ST_CLOSED ? -1 : (long)off;
}

/* Checks the 101 response; returns the head's length, 0 if incomplete, -1 on failure. */
static long
http_consume(struct run *r, struct conn *c, const uint8_t *buf, size_t len)
{
	const char *p = (const char *)buf;
	const char *end = find_bytes(p, len, "\r\n\r\n", 4);
	char concat[128], want[64];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (end == NULL) {
		if (len > HTTP_HEAD_MAX) {
			conn_fail(r, c, F_HTTP);
			return -1;
		}
		return 0;
	}
	size_t head = (size_t)(end - p) + 4;
	if (head < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) {
		int64_t status = 0;
		if (head >= 12)
			tt_parse_i64(p + 9, 3, 100, 999, &status);
		r->http_status_seen = (int)status;
		note_error(r, "upgrade answered %.*s", (int)(strcspn(p, "\r") < 80 ? strcspn(p, "\r") : 80), p);
		conn_fail(r, c, F_HTTP);
		return -1;
	}
	snprintf(concat, sizeof(concat), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", c->key);
	EVP_Digest(concat, strlen(concat), md, &mdlen, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *)want, md, (int)mdlen);
	bool ok = false;
	for (const char *line = p; line < end;) {
		const char *eol = find_bytes(line, (size_t)(end + 2 - line), "\r\n", 2);
		size_t ll = (size_t)(eol - line);
		if (ll > 21 && strncasecmp(line, "Sec-WebSocket-Accept:", 21) == 0) {
			const char *v = line + 21;
			while (*v == ' ')
				v++;
			ok = (size_t)(eol - v) == strlen(want) && memcmp(v, want, strlen(want)) == 0;
		}
		line = eol + 2;
	}
	if (!ok) {
		conn_fail(r, c, F_ACCEPT_KEY);
		return -1;
	}
	switch (r->o->mode) {
	case MODE_SIO: c->state = ST_EIO_OPEN; break;
	case MODE_PLAIN: c->state = ST_NS_CONNECT; break;
	case MODE_RAW: conn_set_ready(r, c, now_ns()); break;
	}
	return (long)head;
}

static void
conn_readable(struct run *r, struct conn *c)
{
	uint8_t *buf = r->scratch;
	size_t have = c->in_len;

	if (have > 0)
		memcpy(buf, c->in, have);
	ssize_t got = read(c->fd, buf + have, SCRATCH_SIZE);
	int64_t now = now_ns();
	if (got <= 0) {
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		conn_fail(r, c, c->was_ready ? F_CLOSED_READY : F_EOF_HANDSHAKE);
		return;
	}
	size_t len = have + (size_t)got, off = 0;
	if (c->state == ST_UPGRADING) {
		long used = http_consume(r, c, buf, len);
		if (used < 0)
			return;
		off = (size_t)used;
		if (used == 0)
			goto keep;
	}
	long used = ws_consume(r, c, buf + off, len - off, now);
	if (used < 0)
		return;
	off += (size_t)used;
keep:
	len -= off;
	if (len > c->in_cap) {
		uint8_t *nb = realloc(c->in, len);
		if (nb == NULL) {
			conn_fail(r, c, F_PROTOCOL);
			return;
		}
		c->in = nb;
		c->in_cap = (uint32_t)len;
	}
	if (len > 0)
		memmove(c->in, buf + off, len);
	c->in_len = (uint32_t)len;
}

static void
conn_event(struct run *r, struct conn *c, uint32_t events)
{
	if (c->state == ST_CONNECTING) {
		if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0)
			conn_connected(r, c);
		return;
	}
	if ((events & EPOLLOUT) != 0 && c->out_len > 0)
		conn_flush(r, c);
	if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && c->state != ST_CLOSED)
		conn_readable(r, c);
}

static void
loop_once(struct run *r, int timeout_ms)
{
	struct epoll_event ev[512];
	int n = epoll_wait(r->ep, ev, 512, timeout_ms);

	for (int i = 0; i < n; i++)
		conn_event(r, ev[i].data.ptr, ev[i].events);
}

/* Serves the connections (pings, late frames) for ms milliseconds. */
static void
pump(struct run *r, int64_t ms)
{
	for (int64_t end = now_ns() + ms * MS_NS; now_ns() < end && !stop_flag;)
		loop_once(r, 10);
}

/* ------------------------------------------------------------ publishing */

static int64_t
publish(struct run *r, enum seq_kind kind, int metric, uint32_t venue, int32_t day)
{
	char json[JSON_MAX], vname[64];

	if (r->nseq == r->seq_cap) {
		size_t cap = r->seq_cap ? r->seq_cap * 2 : 65536;
		struct seqinfo *ns = realloc(r->seqs, cap * sizeof(*ns));
		if (ns == NULL) {
			fprintf(stderr, PROG ": out of memory\n");
			exit(1);
		}
		memset(ns + r->seq_cap, 0, (cap - r->seq_cap) * sizeof(*ns));
		r->seqs = ns;
		r->seq_cap = cap;
	}
	int64_t seq = (int64_t)r->nseq++;
	struct seqinfo *si = &r->seqs[seq];
	size_t n = metric_json(r->o, metric, seq, venue, day, json, sizeof(json));
	venue_name(r->o, venue, vname, sizeof(vname));
	si->venue = venue;
	si->metric = (uint8_t)metric;
	si->day = day;
	si->kind = (uint8_t)kind;
	si->step = (uint8_t)r->cur_step;
	si->expected = kind == SEQ_MEASURED ? r->venue_ready[venue] : 0;
	if (kind == SEQ_MEASURED)
		r->venue_last[(size_t)venue * MT_COUNT + (size_t)metric] = seq;
	si->sent_ns = now_ns();
	if (tt_bus_publish(r->bus, "metric", vname, json, n) != TT_OK) {
		fprintf(stderr, PROG ": nng publish failed\n");
		exit(1);
	}
	return seq;
}

/*
 * Publishes until one warm-up message comes back: the server's SUB socket
 * has connected to ours (nng's dialer retries every 100 ms or so). Messages
 * sent before that are lost by design of pub/sub, so they are not measured.
 */
static bool
warm_up(struct run *r)
{
	int64_t t0 = now_ns(), last = 0;
	uint32_t venue = 0;

	for (int i = 0; i < r->o->clients; i++) {
		if (r->conns[i].state == ST_READY) {
			venue = r->conns[i].venue;
			break;
		}
	}
	while (r->warm_rx == 0 && !stop_flag) {
		int64_t now = now_ns();
		if (now - t0 > WARMUP_MS * MS_NS)
			return false;
		if (now - last > 100 * MS_NS) {
			publish(r, SEQ_WARMUP, r->o->metrics[0], venue, today_utc());
			last = now;
		}
		loop_once(r, 10);
	}
	pump(r, 300);   /* let the copies to the venue's other connections arrive */
	return r->warm_rx > 0;
}

/* The value of the series line that starts with name (name then a space). */
static double
metric_value(const char *text, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
			return strtod(p + nl + 1, NULL);
	}
	return -1.0;
}

/*
 * Reads the gateway's /metrics over a blocking HTTP/1.0 request (a second
 * at most); every field -1 when it cannot.
 */
static struct gwstats
gw_scrape(const struct run *r)
{
	struct gwstats gs = { -1, -1, -1, -1, -1 };
	static char buf[1 << 20];
	size_t len = 0;
	struct sockaddr_in sa = r->server;
	struct timeval tv = { 1, 0 };
	int fd;

	if (r->o->metrics_port == 0 || (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return gs;
	sa.sin_port = htons(r->o->metrics_port);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		static const char req[] = "GET /metrics HTTP/1.0\r\nHost: gateway\r\n\r\n";
		if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
			ssize_t n;
			while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
				len += (size_t)n;
		}
	}
	close(fd);
	buf[len] = '\0';
	gs.bus_received = metric_value(buf, "gateway_bus_messages_total{result=\"received\"}");
	gs.bus_not_today = metric_value(buf, "gateway_bus_messages_total{result=\"not_today\"}");
	gs.coalesced = metric_value(buf, "gateway_updates_coalesced_total");
	gs.slow_disconnects = metric_value(buf, "gateway_slow_disconnects_total");
	gs.connections = metric_value(buf, "gateway_connections");
	return gs;
}

/*
 * Ready connections that have not received the last SEQ of their venue. A
 * connection receives its venue's messages in order, so once this is 0
 * nothing still due can arrive: what is missing was dropped or coalesced.
 */
static int
count_behind(const struct run *r)
{
	int n = 0;

	for (int i = 0; i < r->o->clients; i++) {
		const struct conn *c = &r->conns[i];
		if (c->state != ST_READY)
			continue;
		for (int k = 0; k < r->o->nmetrics; k++) {
			int m = r->o->metrics[k];
			if (c->last_seq[m] < r->venue_last[(size_t)c->venue * MT_COUNT + (size_t)m]) {
				n++;
				break;
			}
		}
	}
	return n;
}

/* CPU seconds (user + system) of a process; -1 when unknown. */
static double
proc_cpu_s(int pid)
{
	char path[64], buf[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (pid <= 0 || (f = fopen(path, "r")) == NULL)
		return -1.0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after "(comm)": state is field 3, utime 14, stime 15 */
	const char *p = strrchr(buf, ')');
	int64_t ut = 0, st = 0;
	for (int field = 2; p != NULL && field < 15; field++) {
		p = strchr(p + 1, ' ');
		if (p != NULL && field == 13)
			digits_at(p + 1, buf + n, &ut);
		if (p != NULL && field == 14)
			digits_at(p + 1, buf + n, &st);
	}
	return p == NULL ? -1.0 : (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * Publishes at st->rate for --seconds (venues round-robin), then waits up
 * to --drain-ms until every copy arrived or no connection is behind.
 */
static void
run_step(struct run *r, int k)
{
	const struct options *o = r->o;
	struct step *st = &r->steps[k];
	int64_t total = st->rate * o->seconds, sent = 0;
	int64_t t_end;
	uint32_t venue = 0;
	double cpu0 = self_cpu_s(), scpu0 = proc_cpu_s(o->pid);

	r->cur_step = k;
	st->gw0 = gw_scrape(r);
	st->t0 = now_ns();
	t_end = st->t0 + (int64_t)o->seconds * SEC_NS;
	while (!stop_flag) {
		int64_t now = now_ns();
		if (sent >= total && now >= t_end)
			break;
		int64_t due = (int64_t)((double)(now - st->t0) * (double)st->rate / 1e9) + 1;
		if (due > total)
			due = total;
		while (sent < due) {
			for (int m = 0; m < o->nmetrics; m++) {
				int64_t seq = publish(r, SEQ_MEASURED, o->metrics[m], venue, today_utc());
				st->published++;
				st->sent_all++;
				st->expected += r->seqs[seq].expected;
			}
			venue = (venue + 1) % (uint32_t)o->venues;
			sent++;
			if (o->stale_every > 0 && sent % o->stale_every == 0) {
				publish(r, SEQ_STALE, o->metrics[0], venue, today_utc() - 1);
				st->sent_all++;
			}
		}
		/*
		 * Sleep in epoll until the next publish is due, rounded up to
		 * a whole millisecond (epoll's unit): above 1000/s publishes
		 * go out in bursts of one millisecond's worth, never spinning.
		 */
		int64_t next = sent < total ? st->t0 + (int64_t)((double)sent * 1e9 / (double)st->rate) : t_end;
		int64_t wait = (next - now_ns() + MS_NS - 1) / MS_NS;
		loop_once(r, (int)(wait < 0 ? 0 : wait > 50 ? 50 : wait));
	}
	st->t_pub_end = now_ns();
	int64_t deadline = st->t_pub_end + (int64_t)o->drain_ms * MS_NS;
	while (st->received < st->expected && now_ns() < deadline && !stop_flag) {
		loop_once(r, 10);
		if (count_behind(r) == 0)
			break;
	}
	pump(r, 100);   /* a grace for stale or duplicate copies that would come after */
	st->behind = count_behind(r);
	double wall = (double)(now_ns() - st->t0) / 1e9;
	st->client_cpu = (self_cpu_s() - cpu0) / wall;
	st->server_cpu = scpu0 < 0 ? -1.0 : (proc_cpu_s(o->pid) - scpu0) / wall;
	st->gw1 = gw_scrape(r);
}

/* ------------------------------------------------------------- reporting */

struct procinfo {
	long rss_kib, threads;
};

/* VmRSS and Threads of /proc/<pid>/status; -1 when unknown. */
static struct procinfo
proc_read(int pid)
{
	struct procinfo pi = { -1, -1 };
	char path[64], line[256];
	FILE *f;

	if (pid <= 0)
		return pi;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return pi;
	while (fgets(line, sizeof(line), f) != NULL) {
		int64_t v;
		const char *p = line + strcspn(line, ":");
		if (*p == '\0')
			continue;
		p += 1 + strspn(p + 1, " \t");
		if (!digits_at(p, p + strlen(p), &v))
			continue;
		if (strncmp(line, "VmRSS:", 6) == 0)
			pi.rss_kib = (long)v;
		else if (strncmp(line, "Threads:", 8) == 0)
			pi.threads = (long)v;
	}
	fclose(f);
	return pi;
}

/*
 * ok: every copy arrived, p99 within --max-p99-ms. lossy: copies are
 * missing (dropped by nng's queues or coalesced by the gateway, see the
 * "gateway" line) but every connection holds its venue's last value. late:
 * all there, p99 too high. FAIL: a connection lacks its venue's latest
 * value, or nothing was expected.
 */
static const char *
step_verdict(const struct run *r, const struct step *st)
{
	if (st->expected == 0 || st->behind > 0)
		return "FAIL";
	if (st->received < st->expected)
		return "lossy";
	if (hist_ms(&st->hist, 0.99) > (double)r->o->max_p99_ms)
		return "late";
	return "ok";
}

static double
step_fanout(const struct step *st)
{
	int64_t last = st->t_last_rx > st->t_pub_end ? st->t_last_rx : st->t_pub_end;
	double span_s = (double)(last - st->t0) / 1e9;

	return span_s > 0 ? (double)st->received / span_s : 0.0;
}

static void
report_step(const struct run *r, const struct step *st)
{
	double pub_s = (double)(st->t_pub_end - st->t0) / 1e9;

	printf("step rate=%" PRId64 " published=%" PRIu64 " publish_rate=%.1f expected=%" PRIu64
	    " received=%" PRIu64 " missing=%" PRId64 " behind=%d fanout_per_s=%.0f p50_ms=%.3f"
	    " p90_ms=%.3f p99_ms=%.3f max_ms=%.3f client_cpu=%.2f server_cpu=%.2f verdict=%s\n",
	    st->rate, st->published, pub_s > 0 ? (double)st->published / pub_s : 0.0,
	    st->expected, st->received, (int64_t)st->expected - (int64_t)st->received,
	    st->behind, step_fanout(st),
	    hist_ms(&st->hist, 0.50), hist_ms(&st->hist, 0.90), hist_ms(&st->hist, 0.99),
	    (double)st->hist.max_us / 1000.0, st->client_cpu, st->server_cpu,
	    step_verdict(r, st));
	if (st->gw0.bus_received >= 0 && st->gw1.bus_received >= 0)
		printf("gateway rate=%" PRId64 " bus_received=%.0f bus_dropped=%.0f not_today=%.0f"
		    " coalesced=%.0f slow_disconnects=%.0f\n", st->rate,
		    st->gw1.bus_received - st->gw0.bus_received,
		    (double)st->sent_all - (st->gw1.bus_received - st->gw0.bus_received),
		    st->gw1.bus_not_today - st->gw0.bus_not_today,
		    st->gw1.coalesced - st->gw0.coalesced,
		    st->gw1.slow_disconnects - st->gw0.slow_disconnects);
	fflush(stdout);
}

static void
report_failures(const struct run *r)
{
	printf("failures");
	for (int i = 0; i < F_COUNT; i++)
		printf(" %s=%" PRIu64, failure_names[i], r->failures[i]);
	if (r->http_status_seen)
		printf(" last_http_status=%d", r->http_status_seen);
	printf("\n");
	if (r->first_error[0] != '\0')
		printf("first_error %s\n", r->first_error);
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * TcpExt ListenOverflows of /proc/net/netstat: SYNs a full accept queue
 * dropped (machine-wide; each costs the client a 1 s retransmission).
 */
static int64_t
listen_overflows(void)
{
	char head[4096], vals[4096];
	int64_t v = -1;
	FILE *f = fopen("/proc/net/netstat", "r");

	if (f == NULL)
		return -1;
	while (fgets(head, sizeof(head), f) != NULL && fgets(vals, sizeof(vals), f) != NULL) {
		if (strncmp(head, "TcpExt:", 7) != 0)
			continue;
		const char *h = head, *p = vals;
		while (h != NULL && p != NULL) {
			h = strchr(h, ' ');
			p = strchr(p, ' ');
			if (h == NULL || p == NULL)
				break;
			h++;
			p++;
			if (strncmp(h, "ListenOverflows ", 16) == 0) {
				digits_at(p, p + strlen(p), &v);
				break;
			}
		}
	}
	fclose(f);
	return v;
}

static int
connect_all(struct run *r)
{
	const struct options *o = r->o;
	int64_t deadline = now_ns() + (int64_t)o->connect_timeout_s * SEC_NS;

	r->t_connect0 = now_ns();
	while (r->next < o->clients || r->inflight > 0) {
		if (stop_flag || now_ns() > deadline)
			break;
		while (r->inflight < o->concurrency && r->next < o->clients)
			conn_start(r, r->next++);
		loop_once(r, 20);
	}
	for (int i = 0; i < o->clients; i++) {
		struct conn *c = &r->conns[i];
		if (c->state != ST_READY && c->state != ST_CLOSED && c->state != ST_IDLE)
			conn_fail(r, c, F_TIMEOUT);
	}
	return r->ready;
}

static void
close_all(struct run *r)
{
	struct linger lg = { 1, 0 };   /* RST: leave no TIME_WAIT behind for the next run */

	for (int i = 0; i < r->o->clients; i++) {
		struct conn *c = &r->conns[i];
		if (c->fd >= 0 && c->state != ST_CLOSED && c->state != ST_IDLE) {
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(c->fd);
		}
		free(c->in);
		free(c->out);
	}
}

int
main(int argc, char **argv)
{
	struct options o;
	char err[256];
	struct run *r;
	int status = 0;

	parse_options(argc, argv, &o);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->conns = calloc((size_t)o.clients, sizeof(*r->conns))) == NULL ||
	    (r->venue_ready = calloc((size_t)o.venues, sizeof(*r->venue_ready))) == NULL ||
	    (r->venue_last = calloc((size_t)o.venues * MT_COUNT, sizeof(*r->venue_last))) == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	r->o = &o;
	metrics_list_json(&o, r->metrics_json, sizeof(r->metrics_json));
	r->nseq = 1;   /* SEQ 0 is never sent: currentValue starts at 1 */
	r->rng = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < o.clients; i++)
		r->conns[i].fd = -1;
	r->server.sin_family = AF_INET;
	r->server.sin_port = htons(o.port);
	if (inet_pton(AF_INET, o.host, &r->server.sin_addr) != 1)
		die_usage("--host: an IPv4 address");
	if ((r->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror(PROG ": epoll_create1");
		return 1;
	}
	if (tt_bus_pub_open(&r->bus, o.pub_url, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	r->seq_cap = 65536;
	if ((r->seqs = calloc(r->seq_cap, sizeof(*r->seqs))) == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		status = 1;
		goto out;
	}

	static const char *const mode_names[] = { "socket.io", "plain", "raw" };
	printf("run mode=%s server=%s:%u path=%s clients=%d venues=%d fanout=%d pub=%s\n",
	    mode_names[o.mode], o.host, o.port, o.path, o.clients, o.venues,
	    o.clients / o.venues, o.pub_url);
	fflush(stdout);

	struct procinfo before = proc_read(o.pid);
	int64_t overflows0 = listen_overflows();
	int ready = connect_all(r);
	double connect_s = (double)(r->t_last_ready - r->t_connect0) / 1e9;
	printf("connect clients=%d ready=%d seconds=%.2f per_s=%.0f handshake_p50_ms=%.2f"
	    " handshake_p99_ms=%.2f handshake_max_ms=%.2f listen_overflows=%" PRId64 "\n",
	    o.clients, ready, ready > 0 ? connect_s : 0.0, connect_s > 0 ? ready / connect_s : 0.0,
	    hist_ms(&r->hs_hist, 0.5), hist_ms(&r->hs_hist, 0.99), (double)r->hs_hist.max_us / 1000.0,
	    listen_overflows() - overflows0);
	/* every subscriber's snapshot (one per metric), then a pause */
	int64_t snap_deadline = now_ns() + SNAPSHOT_WAIT_MS * MS_NS;
	while (o.mode != MODE_RAW && r->snapshots < (uint64_t)(ready * o.nmetrics) &&
	    now_ns() < snap_deadline && !stop_flag)
		loop_once(r, 10);
	pump(r, o.settle_ms);
	struct procinfo after = proc_read(o.pid);
	struct gwstats gconn = gw_scrape(r);
	if (gconn.connections >= 0)
		printf("gateway connections_gauge=%.0f\n", gconn.connections);
	if (o.mode != MODE_RAW)
		printf("snapshot received=%" PRIu64 " expected=%d after_subscribe_p50_ms=%.2f"
		    " p99_ms=%.2f max_ms=%.2f\n", r->snap_hist.n, ready * o.nmetrics,
		    hist_ms(&r->snap_hist, 0.5), hist_ms(&r->snap_hist, 0.99),
		    (double)r->snap_hist.max_us / 1000.0);
	if (o.pid > 0)
		printf("server pid=%d rss_before_kib=%ld rss_after_kib=%ld per_conn_kib=%.1f"
		    " threads_before=%ld threads_after=%ld\n",
		    o.pid, before.rss_kib, after.rss_kib,
		    ready > 0 ? (double)(after.rss_kib - before.rss_kib) / ready : 0.0,
		    before.threads, after.threads);
	if (ready < o.clients) {
		report_failures(r);
		status = 1;
	}
	fflush(stdout);
	if (ready == 0)
		goto out;

	if (!warm_up(r)) {
		printf("warmup FAIL: no message came back within %d ms (does the server dial %s?)\n",
		    WARMUP_MS, o.pub_url);
		status = 1;
		goto out;
	}

	/* A fixed rate must be ok; a ramp is meant to end in a step that is not. */
	int best = -1;
	bool all_ok = true;
	for (int k = 0; k < o.nrates && !stop_flag; k++) {
		r->steps[k].rate = o.rates[k];
		run_step(r, k);
		report_step(r, &r->steps[k]);
		if (strcmp(step_verdict(r, &r->steps[k]), "ok") == 0) {
			best = k;
		} else {
			all_ok = false;
			if (o.ramp)
				break;
		}
	}
	if (best >= 0 && o.ramp) {
		const struct step *st = &r->steps[best];
		printf("best rate=%" PRId64 " fanout_per_s=%.0f p99_ms=%.3f\n", st->rate,
		    step_fanout(st), hist_ms(&st->hist, 0.99));
	}
	if (o.ramp ? best < 0 : !all_ok)
		status = 1;
	printf("checks altered=%" PRIu64 " wrong_venue=%" PRIu64 " stale_forwarded=%" PRIu64
	    " duplicates=%" PRIu64 " out_of_order=%" PRIu64 " unknown=%" PRIu64 " snapshots=%" PRIu64
	    " other=%" PRIu64 " pings=%" PRIu64 " ping_interval_ms=%" PRId64 " still_connected=%d\n",
	    r->altered, r->wrong_venue, r->stale_forwarded, r->duplicates, r->out_of_order,
	    r->unknown, r->snapshots, r->other, r->pings, r->ping_interval_ms, r->ready);
	if (r->other_sample[0] != '\0')
		printf("other_sample %s\n", r->other_sample);
	if (r->altered + r->wrong_venue + r->stale_forwarded + r->duplicates + r->out_of_order > 0)
		status = 1;
	if (r->ready < ready) {
		report_failures(r);
		status = 1;
	}
	if (o.pid > 0) {
		struct procinfo end = proc_read(o.pid);
		printf("server_end rss_kib=%ld threads=%ld\n", end.rss_kib, end.threads);
	}
out:
	fflush(stdout);
	close_all(r);
	tt_bus_close(r->bus);
	close(r->ep);
	free(r->seqs);
	free(r->venue_ready);
	free(r->venue_last);
	free(r->conns);
	free(r);
	return status;
}
