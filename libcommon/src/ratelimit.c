/*
 * ratelimit.c - the fixed-window limiter of tt/ratelimit.h.
 *
 * Redis holds the count of each client and path per window; a process takes
 * counts from it in leases: EVALSHA of a three-line script that INCRBYs the
 * key by the lease size L, reads its PTTL and sets the window when there is
 * none, so the process owns the counts (c-L, c]. Requests are then numbered
 * from the lease in memory, without a round trip, until it is used up or
 * the window ends. A request is allowed iff its number is <= max, so the
 * limit is never exceeded across replicas; unused counts of a lease make it
 * stricter by at most L-1 per replica and window. L is 1 for limits up to
 * LEASE_EXACT_MAX (every request is one round trip: exact, as the seed's
 * 100/min), max/LEASE_DIVISOR above, at most LEASE_MAX.
 *
 * The script's SHA-1 is computed once; a NOSCRIPT reply (Redis restarted, or
 * a fresh replica) is answered by one EVAL, which also loads the script.
 */
#include "tt/ratelimit.h"
#include "tt/strparse.h"
#include "tt/log.h"
#include "tt/metrics.h"
#include "tt/time.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rl_script[] =
    "local c = redis.call('INCRBY', KEYS[1], ARGV[2])\n"
    "local t = redis.call('PTTL', KEYS[1])\n"
    "if t < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) * 1000 end\n"
    "return {c, t}\n";

static char rl_sha[41];
static pthread_once_t rl_once = PTHREAD_ONCE_INIT;
static _Atomic int64_t rl_last_warn_ms;

static void
rl_sha_init(void)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(rl_script, strlen(rl_script), md, &n, EVP_sha1(), NULL) != 1 || n != 20) {
		rl_sha[0] = '\0';   /* EVAL every time */
		return;
	}
	for (unsigned i = 0; i < 20; i++) {
		rl_sha[2 * i] = hex[md[i] >> 4];
		rl_sha[2 * i + 1] = hex[md[i] & 15];
	}
	rl_sha[40] = '\0';
}

tt_err
tt_ratelimit_key(char *buf, size_t len, const char *client_ip, const char *path)
{
	int n;

	if (buf == NULL || len == 0)
		return TT_EINVAL;
	buf[0] = '\0';
	if (client_ip == NULL || client_ip[0] == '\0' || path == NULL || path[0] == '\0')
		return TT_EINVAL;
	n = snprintf(buf, len, "rate_limit:%s:%s", client_ip, path);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return TT_ETOOBIG;
	}
	return TT_OK;
}

/* Fail open: log (throttled), count, allow. */
static tt_err
rl_fail_open(tt_err e, const char *why, tt_ratelimit_result *res, int max)
{
	int64_t now = tt_mono_ms(), last = atomic_load(&rl_last_warn_ms);

	/* Registration is idempotent; this path is the rare one. */
	tt_metric_inc(tt_metrics_counter(tt_metrics_default(), "rate_limit_errors_total",
	    "Rate-limit checks that failed open because Redis did not answer.", NULL));
	if ((last == 0 || now - last >= 10000) &&
	    atomic_compare_exchange_strong(&rl_last_warn_ms, &last, now))
		tt_log(TT_LOG_WARN, "rate limit check failed, allowing request", "error", why, NULL);
	res->allowed = true;
	res->count = 0;
	res->limit = max;
	res->remaining = max;
	res->reset_sec = 1;
	return e;
}

/* ---- leases ------------------------------------------------------------ */

#define LEASE_EXACT_MAX 1000
#define LEASE_DIVISOR   100
#define LEASE_MAX       1000
#define LEASE_SLOTS     4096   /* power of two; a full table evicts */
#define LEASE_PROBES    8

typedef struct {
	char    key[TT_RATELIMIT_KEY_MAX];
	int64_t next, end;      /* counts next..end are this process's */
	int64_t expires_ms;     /* monotonic end of the lease's window */
	int     max;            /* the limit the lease was taken for */
} rl_lease;

static rl_lease *leases;
static pthread_mutex_t lease_mtx = PTHREAD_MUTEX_INITIALIZER;

static int64_t
lease_size(int max)
{
	if (max <= LEASE_EXACT_MAX)
		return 1;
	int64_t l = max / LEASE_DIVISOR;
	return l > LEASE_MAX ? LEASE_MAX : l;
}

static void
fill_result(tt_ratelimit_result *res, int64_t count, int max, int64_t ttl_ms)
{
	res->count = count;
	res->allowed = count <= max;
	res->remaining = count >= max ? 0 : (int)(max - count);
	res->reset_sec = ttl_ms > 0 ? (int)((ttl_ms + 999) / 1000) : 1;
}

/* Numbers a request from a live lease; false when there is none. */
static bool
lease_take(const char *key, int max, tt_ratelimit_result *res)
{
	bool hit = false;
	int64_t now = tt_mono_ms();
	uint32_t h = tt_hash_str(key);

	pthread_mutex_lock(&lease_mtx);
	for (int i = 0; leases != NULL && i < LEASE_PROBES && !hit; i++) {
		rl_lease *l = &leases[(h + (uint32_t)i) & (LEASE_SLOTS - 1)];
		if (l->key[0] == '\0' || strcmp(l->key, key) != 0)
			continue;
		if (l->max == max && now < l->expires_ms && l->next <= l->end) {
			fill_result(res, l->next++, max, l->expires_ms - now);
			hit = true;
		}
		break;
	}
	pthread_mutex_unlock(&lease_mtx);
	return hit;
}

/* Keeps counts next..end of key for later requests (best effort). */
static void
lease_put(const char *key, int max, int64_t next, int64_t end, int64_t ttl_ms)
{
	int64_t now = tt_mono_ms();
	uint32_t h = tt_hash_str(key);
	rl_lease *slot = NULL;

	if (next > end || ttl_ms <= 0)
		return;
	pthread_mutex_lock(&lease_mtx);
	if (leases == NULL)
		leases = calloc(LEASE_SLOTS, sizeof(*leases));
	for (int i = 0; leases != NULL && i < LEASE_PROBES; i++) {
		rl_lease *l = &leases[(h + (uint32_t)i) & (LEASE_SLOTS - 1)];
		if (l->key[0] == '\0' || strcmp(l->key, key) == 0 || now >= l->expires_ms) {
			slot = l;
			break;
		}
	}
	if (leases != NULL && slot == NULL)
		slot = &leases[h & (LEASE_SLOTS - 1)];   /* evict: its counts go unused */
	if (slot != NULL) {
		snprintf(slot->key, sizeof(slot->key), "%s", key);
		slot->next = next;
		slot->end = end;
		slot->max = max;
		slot->expires_ms = now + ttl_ms;
	}
	pthread_mutex_unlock(&lease_mtx);
}


tt_err
tt_ratelimit_check(tt_redis *r, const char *client_ip, const char *path,
    int max, int window_sec, tt_ratelimit_result *res, char *err, size_t errlen)
{
	char key[TT_RATELIMIT_KEY_MAX], window[16], detail[160];
	const char *argv[6];
	redisReply *rep = NULL;
	tt_err e;

	memset(res, 0, sizeof(*res));
	res->allowed = true;
	res->limit = max;
	res->remaining = max;
	res->reset_sec = window_sec > 0 ? window_sec : 1;
	if (max <= 0)
		return TT_OK;
	if (window_sec <= 0)
		return tt_seterr(err, errlen, TT_EINVAL, "rate limit window must be positive");
	if ((e = tt_ratelimit_key(key, sizeof(key), client_ip, path)) != TT_OK)
		return tt_seterr(err, errlen, e, "rate limit key too long or empty");
	if (r == NULL)
		return rl_fail_open(tt_seterr(err, errlen, TT_ECONN, "no redis connection"),
		    "no redis connection", res, max);

	if (lease_take(key, max, res))
		return TT_OK;

	int64_t lsize = lease_size(max);
	char lease[24];
	pthread_once(&rl_once, rl_sha_init);
	snprintf(window, sizeof(window), "%d", window_sec);
	snprintf(lease, sizeof(lease), "%lld", (long long)lsize);
	argv[2] = "1";
	argv[3] = key;
	argv[4] = window;
	argv[5] = lease;
	detail[0] = '\0';
	if (rl_sha[0] != '\0') {
		argv[0] = "EVALSHA";
		argv[1] = rl_sha;
		e = tt_redis_cmd(r, &rep, 6, argv, NULL, detail, sizeof(detail));
		if (e == TT_EREDIS && strstr(detail, "NOSCRIPT") != NULL)
			e = TT_ENOTFOUND;
	} else {
		e = TT_ENOTFOUND;
	}
	if (e == TT_ENOTFOUND) {
		argv[0] = "EVAL";
		argv[1] = rl_script;
		e = tt_redis_cmd(r, &rep, 6, argv, NULL, detail, sizeof(detail));
	}
	if (e != TT_OK)
		return rl_fail_open(tt_seterr(err, errlen, e, "%s", detail), detail, res, max);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER ||
	    rep->element[1]->type != REDIS_REPLY_INTEGER) {
		freeReplyObject(rep);
		return rl_fail_open(tt_seterr(err, errlen, TT_EREDIS, "unexpected script reply"),
		    "unexpected script reply", res, max);
	}
	int64_t last = rep->element[0]->integer;
	long long ttl_ms = rep->element[1]->integer;
	freeReplyObject(rep);
	/* This request takes the first count of the lease; the rest are kept. */
	fill_result(res, last - lsize + 1, max, ttl_ms);
	lease_put(key, max, last - lsize + 2, last, ttl_ms);
	return TT_OK;
}
