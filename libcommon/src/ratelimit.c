/*
 * ratelimit.c - the fixed-window limiter of tt/ratelimit.h.
 *
 * One round trip per request: EVALSHA of a three-line script that INCRs the
 * key, reads its PTTL and sets the window when there is none. The script's
 * SHA-1 is computed once; a NOSCRIPT reply (Redis restarted, or a fresh
 * replica) is answered by one EVAL, which also loads the script again.
 */
#include "tt/ratelimit.h"
#include "tt/log.h"
#include "tt/metrics.h"
#include "tt/time.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static const char rl_script[] =
    "local c = redis.call('INCR', KEYS[1])\n"
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

tt_err
tt_ratelimit_check(tt_redis *r, const char *client_ip, const char *path,
    int max, int window_sec, tt_ratelimit_result *res, char *err, size_t errlen)
{
	char key[TT_RATELIMIT_KEY_MAX], window[16], detail[160];
	const char *argv[5];
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

	pthread_once(&rl_once, rl_sha_init);
	snprintf(window, sizeof(window), "%d", window_sec);
	argv[2] = "1";
	argv[3] = key;
	argv[4] = window;
	detail[0] = '\0';
	if (rl_sha[0] != '\0') {
		argv[0] = "EVALSHA";
		argv[1] = rl_sha;
		e = tt_redis_cmd(r, &rep, 5, argv, NULL, detail, sizeof(detail));
		if (e == TT_EREDIS && strstr(detail, "NOSCRIPT") != NULL)
			e = TT_ENOTFOUND;
	} else {
		e = TT_ENOTFOUND;
	}
	if (e == TT_ENOTFOUND) {
		argv[0] = "EVAL";
		argv[1] = rl_script;
		e = tt_redis_cmd(r, &rep, 5, argv, NULL, detail, sizeof(detail));
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
	res->count = rep->element[0]->integer;
	long long ttl_ms = rep->element[1]->integer;
	freeReplyObject(rep);
	res->allowed = res->count <= max;
	res->remaining = res->count >= max ? 0 : (int)(max - res->count);
	res->reset_sec = ttl_ms > 0 ? (int)((ttl_ms + 999) / 1000) : 1;
	return TT_OK;
}
