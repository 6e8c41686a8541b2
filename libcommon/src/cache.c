/*
 * cache.c - the signed, versioned cache entries of tt/cache.h.
 *
 * A get is one MGET of the entry and the venue's version key: one round
 * trip, and a consistent pair (MGET is atomic), so an entry is served only
 * while its version prefix is the current version. Its MAC is checked here,
 * in C, so the secret never travels to Redis. A caller may send one more
 * command of its own in the same round trip (tt_cache_get_with). An entry
 * of an older version is deleted (it can never become current again:
 * versions only grow); should a put of the current version land between the
 * MGET and that DEL, the fresh entry goes too, which costs one recomputation,
 * never a stale answer.
 *
 * A put is a Lua script, so that the version check and the SET are atomic:
 * SET key value EX ttl only if the version the caller read before computing
 * is still current; returns 1 when stored, 0 when not. Its SHA-1 is
 * computed once; NOSCRIPT (Redis restarted, another server) is answered by
 * one EVAL, which also loads the script (the same scheme as ratelimit.c).
 */
#include "tt/cache.h"
#include "tt/crypto.h"
#include "tt/log.h"
#include "tt/metrics.h"
#include "tt/strparse.h"

#include "tt/time.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION_TEXT_MAX 20   /* digits of INT64_MAX */

static const char put_script[] =
    "local v = redis.call('GET', KEYS[2]) or '0'\n"
    "if v ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])\n"
    "return 1\n";

static char put_sha[41];
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void
sha1_hex(const char *s, char out[41])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	out[0] = '\0';   /* EVAL every time if the digest fails */
	if (EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL) != 1 || n != 20)
		return;
	for (unsigned i = 0; i < 20; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[40] = '\0';
}

static void
sha_init(void)
{
	sha1_hex(put_script, put_sha);
}

/* ---- metrics ------------------------------------------------------------ */

static const char *const result_names[] = {
	[TT_CACHE_HIT] = "hit",
	[TT_CACHE_MISS] = "miss",
	[TT_CACHE_STALE] = "stale",
	[TT_CACHE_TAMPERED] = "tampered",
	[TT_CACHE_ERROR] = "error",
};

#define NRESULTS (sizeof(result_names) / sizeof(result_names[0]))

static tt_metric *req_metric[NRESULTS];
static tt_metric *write_stored, *write_stale, *write_error;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void
metrics_init(void)
{
	tt_metrics *reg = tt_metrics_default();
	char labels[64];

	for (size_t i = 0; i < NRESULTS; i++) {
		snprintf(labels, sizeof(labels), "result=\"%s\"", result_names[i]);
		req_metric[i] = tt_metrics_counter(reg, "cache_requests_total",
		    "Cache lookups by result (hit rate = hit / all)", labels);
	}
	write_stored = tt_metrics_counter(reg, "cache_writes_total",
	    "Cache writes by result (stale: new data landed while computing)", "result=\"stored\"");
	write_stale = tt_metrics_counter(reg, "cache_writes_total", NULL, "result=\"stale\"");
	write_error = tt_metrics_counter(reg, "cache_writes_total", NULL, "result=\"error\"");
}

void
tt_cache_metrics_register(void)
{
	pthread_once(&metrics_once, metrics_init);
}

const char *
tt_cache_result_name(tt_cache_result r)
{
	return (size_t)r < NRESULTS ? result_names[r] : "error";
}

static tt_cache_result
count(tt_cache_result r)
{
	tt_cache_metrics_register();
	tt_metric_inc(req_metric[(size_t)r < NRESULTS ? r : TT_CACHE_ERROR]);
	return r;
}

void
tt_cache_count(tt_cache_result r)
{
	(void)count(r);
}

/* ---- keys ----------------------------------------------------------------- */

/*
 * Appends part to buf at *pos with ':' and '%' percent-encoded, so the
 * first two ':' of an entry key are always the separators: venue "a:b"
 * with ident "c" and venue "a" with ident "b:c" get different keys.
 */
static tt_err
put_part(char *buf, size_t len, size_t *pos, const char *part, bool escape)
{
	for (const char *c = part; *c != '\0'; c++) {
		const char *s = c;
		size_t n = 1;
		if (escape && (*c == ':' || *c == '%')) {
			s = *c == ':' ? "%3A" : "%25";
			n = 3;
		}
		if (*pos + n >= len)
			return TT_ETOOBIG;
		memcpy(buf + *pos, s, n);
		*pos += n;
	}
	buf[*pos] = '\0';
	return TT_OK;
}

static tt_err
key_build(char *buf, size_t len, const char *prefix, const char *type, const char *venue,
    const char *ident)
{
	size_t pos = 0;
	tt_err e;

	if (buf == NULL || len == 0)
		return TT_EINVAL;
	buf[0] = '\0';
	if (venue == NULL || venue[0] == '\0' || (type != NULL && type[0] == '\0'))
		return TT_EINVAL;
	if ((e = put_part(buf, len, &pos, prefix, false)) != TT_OK ||
	    (type != NULL && ((e = put_part(buf, len, &pos, type, true)) != TT_OK ||
	    (e = put_part(buf, len, &pos, ":", false)) != TT_OK)) ||
	    (e = put_part(buf, len, &pos, venue, true)) != TT_OK ||
	    (ident != NULL && ((e = put_part(buf, len, &pos, ":", false)) != TT_OK ||
	    (e = put_part(buf, len, &pos, ident, false)) != TT_OK))) {
		buf[0] = '\0';
		return e;
	}
	return TT_OK;
}

tt_err
tt_cache_key(char *buf, size_t len, const char *type, const char *venue, const char *ident)
{
	/* "" is refused by key_build; NULL there means "no type part". */
	return key_build(buf, len, "analytics:", type != NULL ? type : "", venue,
	    ident != NULL ? ident : "");
}

tt_err
tt_cache_version_key(char *buf, size_t len, const char *venue)
{
	return key_build(buf, len, "cache:version:", NULL, venue, NULL);
}

/* ---- entries -------------------------------------------------------------- */

/* HMAC-SHA256(secret, key "|" ver "|" json) as hex into mac. */
static tt_err
entry_mac(const void *secret, size_t secretlen, const char *key, const char *ver,
    size_t verlen, const char *json, size_t json_len, char mac[TT_HMAC_HEX_LEN + 1])
{
	size_t keylen = strlen(key), n = keylen + 1 + verlen + 1 + json_len;
	char *msg = malloc(n);
	tt_err e;

	if (msg == NULL)
		return TT_ENOMEM;
	memcpy(msg, key, keylen);
	msg[keylen] = '|';
	memcpy(msg + keylen + 1, ver, verlen);
	msg[keylen + 1 + verlen] = '|';
	memcpy(msg + keylen + 2 + verlen, json, json_len);
	e = tt_hmac_sha256_hex(secret, secretlen, msg, n, mac);
	free(msg);
	return e;
}

tt_err
tt_cache_entry_encode(const void *secret, size_t secretlen, const char *key,
    int64_t version, const char *json, size_t json_len, char **out, size_t *out_len)
{
	char ver[VERSION_TEXT_MAX + 4], mac[TT_HMAC_HEX_LEN + 1];
	int verlen;
	tt_err e;

	if (secret == NULL || secretlen == 0 || key == NULL || json == NULL || version < 0 ||
	    out == NULL)
		return TT_EINVAL;
	if (json_len > TT_CACHE_VALUE_MAX)
		return TT_ETOOBIG;
	verlen = snprintf(ver, sizeof(ver), "%lld", (long long)version);
	if ((e = entry_mac(secret, secretlen, key, ver, (size_t)verlen, json, json_len, mac)) != TT_OK)
		return e;

	size_t n = (size_t)verlen + 1 + TT_HMAC_HEX_LEN + 1 + json_len;
	char *v = malloc(n + 1);
	if (v == NULL)
		return TT_ENOMEM;
	memcpy(v, ver, (size_t)verlen);
	v[verlen] = '|';
	memcpy(v + verlen + 1, mac, TT_HMAC_HEX_LEN);
	v[verlen + 1 + TT_HMAC_HEX_LEN] = '|';
	memcpy(v + verlen + 2 + TT_HMAC_HEX_LEN, json, json_len);
	v[n] = '\0';
	*out = v;
	if (out_len != NULL)
		*out_len = n;
	return TT_OK;
}

tt_err
tt_cache_entry_verify(const void *secret, size_t secretlen, const char *key,
    const char *value, size_t len, int64_t *version, size_t *json_off, size_t *json_len)
{
	char mac[TT_HMAC_HEX_LEN + 1];
	const char *bar;
	size_t verlen, off;
	int64_t v;
	tt_err e;

	if (secret == NULL || secretlen == 0 || key == NULL || value == NULL)
		return TT_EINVAL;
	bar = memchr(value, '|', len < VERSION_TEXT_MAX + 1 ? len : VERSION_TEXT_MAX + 1);
	if (bar == NULL)
		return TT_EPARSE;
	verlen = (size_t)(bar - value);
	if (tt_parse_i64(value, verlen, 0, INT64_MAX, &v) != TT_OK)
		return TT_EPARSE;
	off = verlen + 1 + TT_HMAC_HEX_LEN + 1;
	if (len < off || value[off - 1] != '|')
		return TT_EPARSE;
	if ((e = entry_mac(secret, secretlen, key, value, verlen, value + off, len - off,
	    mac)) != TT_OK)
		return e;
	if (!tt_ct_equal(mac, value + verlen + 1, TT_HMAC_HEX_LEN))
		return TT_EAUTH;
	if (version != NULL)
		*version = v;
	if (json_off != NULL)
		*json_off = off;
	if (json_len != NULL)
		*json_len = len - off;
	return TT_OK;
}

/* ---- Redis ---------------------------------------------------------------- */

/*
 * EVALSHA script (EVAL on NOSCRIPT) with keys k1, k2 and nargs args of
 * lengths arglens. *rep on TT_OK.
 */
static tt_err
script_run(tt_redis *r, const char *script, const char *sha, const char *k1,
    const char *k2, int nargs, const char **args, const size_t *arglens,
    redisReply **rep, char *err, size_t errlen)
{
	const char *argv[8];
	size_t lens[8];
	int argc = 5 + nargs;
	tt_err e;

	argv[2] = "2";
	argv[3] = k1;
	argv[4] = k2;
	lens[2] = 1;
	lens[3] = strlen(k1);
	lens[4] = strlen(k2);
	for (int i = 0; i < nargs; i++) {
		argv[5 + i] = args[i];
		lens[5 + i] = arglens[i];
	}
	if (sha[0] != '\0') {
		argv[0] = "EVALSHA";
		argv[1] = sha;
		lens[0] = 7;
		lens[1] = 40;
		e = tt_redis_cmd(r, rep, argc, argv, lens, err, errlen);
		if (e != TT_EREDIS || strstr(err, "NOSCRIPT") == NULL)
			return e;
	}
	argv[0] = "EVAL";
	argv[1] = script;
	lens[0] = 4;
	lens[1] = strlen(script);
	return tt_redis_cmd(r, rep, argc, argv, lens, err, errlen);
}

/* Logs a Redis failure at most once per 10 s per process (best effort). */
static void
warn_throttled(const char *msg, const char *detail)
{
	static _Atomic int64_t last_ms;
	int64_t now = tt_mono_ms(), prev = atomic_load(&last_ms);

	if ((prev == 0 || now - prev >= 10000) &&
	    atomic_compare_exchange_strong(&last_ms, &prev, now))
		tt_log(TT_LOG_WARN, msg, "error", detail, NULL);
}

static bool
reply_version(const redisReply *x, int64_t *v)
{
	return x->type == REDIS_REPLY_STRING &&
	    tt_parse_i64(x->str, x->len, 0, INT64_MAX, v) == TT_OK;
}

tt_cache_result
tt_cache_get_with(tt_redis *r, const void *secret, size_t secretlen, const char *type,
    const char *venue, const char *ident, char **json, size_t *json_len, int64_t *version,
    int xargc, const char **xargv, redisReply **xreply)
{
	char key[TT_CACHE_KEY_MAX], vkey[TT_CACHE_KEY_MAX], err[256] = "";
	redisReply *rep[2] = { NULL, NULL };
	int64_t cur = 0, entry_v;
	size_t off, n;

	*json = NULL;
	if (json_len != NULL)
		*json_len = 0;
	*version = -1;
	if (xreply != NULL)
		*xreply = NULL;
	if (r == NULL || secret == NULL || secretlen == 0 ||
	    tt_cache_key(key, sizeof(key), type, venue, ident) != TT_OK ||
	    tt_cache_version_key(vkey, sizeof(vkey), venue) != TT_OK)
		return count(TT_CACHE_ERROR);

	const char *mget[] = { "MGET", vkey, key };
	const char **argvs[2] = { mget, xargv };
	int argcs[2] = { 3, xargc };
	int ncmd = xargc > 0 && xreply != NULL ? 2 : 1;
	if (tt_redis_pipeline(r, ncmd, argcs, argvs, NULL, rep, err, sizeof(err)) != TT_OK) {
		warn_throttled("cache lookup failed (answering uncached)", err);
		return count(TT_CACHE_ERROR);
	}
	if (ncmd == 2)
		*xreply = rep[1];
	const redisReply *x = rep[0];
	if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
	    (x->element[0]->type != REDIS_REPLY_NIL && !reply_version(x->element[0], &cur))) {
		freeReplyObject(rep[0]);
		warn_throttled("cache lookup failed (answering uncached)", "unexpected MGET reply");
		return count(TT_CACHE_ERROR);
	}
	*version = cur;
	const redisReply *e = x->element[1];
	if (e->type != REDIS_REPLY_STRING) {
		freeReplyObject(rep[0]);
		return count(TT_CACHE_MISS);
	}
	tt_err ve = tt_cache_entry_verify(secret, secretlen, key, e->str, e->len, &entry_v,
	    &off, &n);
	if (ve == TT_OK && entry_v == cur) {
		char *copy = malloc(n + 1);
		if (copy == NULL) {
			freeReplyObject(rep[0]);
			return count(TT_CACHE_ERROR);
		}
		memcpy(copy, e->str + off, n);
		copy[n] = '\0';
		freeReplyObject(rep[0]);
		*json = copy;
		if (json_len != NULL)
			*json_len = n;
		return count(TT_CACHE_HIT);
	}
	freeReplyObject(rep[0]);
	if (ve == TT_ENOMEM)
		return count(TT_CACHE_ERROR);
	/* Older version, malformed or badly signed: never served; deleted. */
	const char *del[] = { "DEL", key };
	(void)tt_redis_cmd(r, NULL, 2, del, NULL, NULL, 0);
	if (ve == TT_OK)
		return count(TT_CACHE_STALE);
	tt_log(TT_LOG_WARN, "cache entry failed verification, deleted", "key", key, NULL);
	return count(TT_CACHE_TAMPERED);
}

tt_cache_result
tt_cache_get(tt_redis *r, const void *secret, size_t secretlen, const char *type,
    const char *venue, const char *ident, char **json, size_t *json_len, int64_t *version)
{
	return tt_cache_get_with(r, secret, secretlen, type, venue, ident, json, json_len,
	    version, 0, NULL, NULL);
}

tt_err
tt_cache_put(tt_redis *r, const void *secret, size_t secretlen, const char *type,
    const char *venue, const char *ident, int64_t version, const char *json,
    size_t json_len, int ttl_s)
{
	char key[TT_CACHE_KEY_MAX], vkey[TT_CACHE_KEY_MAX], err[256] = "";
	char ver[VERSION_TEXT_MAX + 4], ttl[16];
	char *value = NULL;
	size_t value_len = 0;
	redisReply *rep = NULL;
	tt_err e;

	tt_cache_metrics_register();
	if (secret == NULL || secretlen == 0 || json == NULL || ttl_s < 1 || version < 0)
		return TT_EINVAL;
	if ((e = tt_cache_key(key, sizeof(key), type, venue, ident)) != TT_OK ||
	    (e = tt_cache_version_key(vkey, sizeof(vkey), venue)) != TT_OK)
		return e;
	if (r == NULL) {
		tt_metric_inc(write_error);
		return TT_ECONN;
	}
	if ((e = tt_cache_entry_encode(secret, secretlen, key, version, json, json_len,
	    &value, &value_len)) != TT_OK)
		return e;
	pthread_once(&sha_once, sha_init);
	snprintf(ver, sizeof(ver), "%lld", (long long)version);
	snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	const char *args[] = { ver, value, ttl };
	const size_t lens[] = { strlen(ver), value_len, strlen(ttl) };
	e = script_run(r, put_script, put_sha, key, vkey, 3, args, lens, &rep, err, sizeof(err));
	free(value);
	if (e != TT_OK) {
		tt_metric_inc(write_error);
		warn_throttled("cache store failed", err);
		return e;
	}
	bool stored = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
	bool stale = rep->type == REDIS_REPLY_INTEGER && rep->integer == 0;
	freeReplyObject(rep);
	if (stored) {
		tt_metric_inc(write_stored);
		return TT_OK;
	}
	if (stale) {
		tt_metric_inc(write_stale);
		return TT_EBUSY;
	}
	tt_metric_inc(write_error);
	return TT_EREDIS;
}

tt_err
tt_cache_bump_venues(tt_redis *r, const char *const *venues, size_t n, char *err,
    size_t errlen)
{
	enum { CHUNK = 256 };
	char (*keys)[TT_CACHE_KEY_MAX] = NULL;
	const char *argv[CHUNK][2];
	const char **argvs[CHUNK];
	int argcs[CHUNK];
	redisReply *replies[CHUNK];
	tt_err e = TT_OK;

	if (n == 0)
		return TT_OK;
	if (r == NULL)
		return tt_seterr(err, errlen, TT_ECONN, "no redis connection");
	if ((keys = malloc(CHUNK * sizeof(*keys))) == NULL)
		return tt_seterr(err, errlen, TT_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && e == TT_OK;) {
		int m = 0;
		for (; i < n && m < CHUNK; i++) {
			if (tt_cache_version_key(keys[m], sizeof(keys[m]), venues[i]) != TT_OK)
				continue;
			argv[m][0] = "INCR";
			argv[m][1] = keys[m];
			argvs[m] = argv[m];
			argcs[m] = 2;
			m++;
		}
		if (m == 0)
			continue;
		e = tt_redis_pipeline(r, m, argcs, argvs, NULL, replies, err, errlen);
		if (e == TT_OK)
			for (int j = 0; j < m; j++)
				freeReplyObject(replies[j]);
	}
	free(keys);
	return e;
}
