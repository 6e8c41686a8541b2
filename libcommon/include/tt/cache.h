/*
 * tt/cache.h - signed, versioned cache-aside entries in Redis.
 *
 * An entry is the JSON answer of a read endpoint, stored under
 *     analytics:{type}:{venue}:{ident}
 * as the value
 *     {version}|{hmac_hex}|{json}
 * where version is the venue's data version (the integer in
 * cache:version:{venue}, missing = 0) read BEFORE the answer was computed,
 * and hmac = HMAC-SHA256(secret, key "|" version "|" json) in lowercase hex.
 *
 * Freshness: whoever changes a venue's data (the aggregator, after its
 * transaction commits) INCRs cache:version:{venue}. A get returns an entry
 * only while its version equals the current one, so an answer is served
 * until its TTL ends or new data lands for its venue, whichever comes
 * first. A put stores only if the version is still current (an answer
 * computed from data that has since changed is dropped, never stored as
 * newer). One round trip per call: a get is one atomic MGET of the entry
 * and the version key (checked in C), a put one Lua script (EVALSHA, EVAL
 * on NOSCRIPT) that checks the version and stores atomically.
 *
 * Integrity: the MAC is checked in C with a constant-time compare; a value
 * that does not verify (tampered, or signed with another secret) is a miss,
 * is deleted, and counts as "tampered". An entry of an older version is
 * deleted too, and counts as "stale".
 *
 * Counters in the default metrics registry:
 *     cache_requests_total{result="hit|miss|stale|tampered|error"}
 *     cache_writes_total{result="stored|stale|error"}
 * Hit rate = hit / sum over results of cache_requests_total.
 *
 * Operations: version keys have no TTL and entries always have one, so
 * with a volatile-* maxmemory policy (or noeviction) only entries are
 * evicted. Keys of one venue live in different hash slots: this is for a
 * standalone Redis (or a primary with replicas), not Redis Cluster.
 *
 * Redis down: get says TT_CACHE_ERROR (the caller computes the answer),
 * put returns the error and stores nothing; neither blocks longer than the
 * connection's timeout.
 */
#ifndef TT_CACHE_H
#define TT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tt/error.h"
#include "tt/redis.h"

#define TT_CACHE_KEY_MAX   512          /* entry and version key length, NUL included */
#define TT_CACHE_VALUE_MAX (8u << 20)   /* largest JSON answer stored (8 MiB) */
#define TT_CACHE_SECRET_MIN 16          /* shorter secrets are refused */

typedef enum {
	TT_CACHE_HIT = 0,   /* *json is the verified answer */
	TT_CACHE_MISS,      /* no entry */
	TT_CACHE_STALE,     /* an entry of an older version (new data landed) */
	TT_CACHE_TAMPERED,  /* an entry whose MAC did not verify: deleted */
	TT_CACHE_ERROR,     /* Redis unreachable or answered oddly */
} tt_cache_result;

/* "hit", "miss", "stale", "tampered", "error": the metric label. */
const char *tt_cache_result_name(tt_cache_result r);

/*
 * Renders the entry key analytics:{type}:{venue}:{ident} into buf. type and
 * venue must be non-empty; in them ':' and '%' are written %3A and %25, so
 * two venues can never share a key (venue "a:b" + ident "c" is not venue
 * "a" + ident "b:c"); ident may be empty and is written as is. TT_EINVAL or
 * TT_ETOOBIG (buf then holds "").
 */
tt_err tt_cache_key(char *buf, size_t len, const char *type, const char *venue,
    const char *ident);

/* Renders cache:version:{venue} into buf; venue encoded the same way. */
tt_err tt_cache_version_key(char *buf, size_t len, const char *venue);

/*
 * Pure encoding. tt_cache_entry_encode returns in *out (malloc'd, NUL-
 * terminated, free it) the value for key at version; TT_ETOOBIG when json
 * is longer than TT_CACHE_VALUE_MAX.
 *
 * tt_cache_entry_verify parses value[0..len) and checks its MAC for key:
 * TT_OK with *version and json = value + *json_off, *json_len bytes (not
 * NUL-terminated inside value); TT_EPARSE when malformed, TT_EAUTH when the
 * MAC does not match. Outputs are written only on TT_OK.
 */
tt_err tt_cache_entry_encode(const void *secret, size_t secretlen, const char *key,
    int64_t version, const char *json, size_t json_len, char **out, size_t *out_len);
tt_err tt_cache_entry_verify(const void *secret, size_t secretlen, const char *key,
    const char *value, size_t len, int64_t *version, size_t *json_off, size_t *json_len);

/*
 * Looks up type/venue/ident. Whatever the result, *version receives the
 * venue's current data version when Redis answered (pass it to
 * tt_cache_put after computing the answer), -1 otherwise (then do not
 * put). On TT_CACHE_HIT *json is a malloc'd NUL-terminated copy (free it)
 * and *json_len its length; otherwise *json is NULL. Counts the result in
 * cache_requests_total. r may be NULL (TT_CACHE_ERROR).
 */
tt_cache_result tt_cache_get(tt_redis *r, const void *secret, size_t secretlen,
    const char *type, const char *venue, const char *ident,
    char **json, size_t *json_len, int64_t *version);

/*
 * tt_cache_get and one more command of the caller's, xargv[0..xargc), in
 * the same round trip (a read the answer needs whether or not it is
 * cached). *xreply is its reply (freeReplyObject it), NULL when Redis did
 * not answer both (the result is then TT_CACHE_ERROR). xargc 0 or xreply
 * NULL: tt_cache_get.
 */
tt_cache_result tt_cache_get_with(tt_redis *r, const void *secret, size_t secretlen,
    const char *type, const char *venue, const char *ident,
    char **json, size_t *json_len, int64_t *version,
    int xargc, const char **xargv, redisReply **xreply);

/*
 * Stores json for ttl_s seconds (>= 1) under type/venue/ident, signed, if
 * version (from tt_cache_get) is still the venue's current version.
 * TT_OK when stored, TT_EBUSY when the version moved on (not stored),
 * TT_EINVAL/TT_ETOOBIG for bad arguments, TT_EREDIS/TT_ECONN when Redis
 * failed. Counts the outcome in cache_writes_total. Best effort: callers
 * normally ignore the result.
 */
tt_err tt_cache_put(tt_redis *r, const void *secret, size_t secretlen,
    const char *type, const char *venue, const char *ident,
    int64_t version, const char *json, size_t json_len, int ttl_s);

/*
 * Marks new data for each of venues[0..n): INCR cache:version:{venue}, all
 * in one pipeline. Call after the data is committed. Venues that cannot
 * form a key are skipped. TT_OK or the Redis error (details in err).
 */
tt_err tt_cache_bump_venues(tt_redis *r, const char *const *venues, size_t n,
    char *err, size_t errlen);

/* Counts one lookup answered elsewhere (an in-process copy) in cache_requests_total. */
void tt_cache_count(tt_cache_result r);

/* Registers the counters above (all at 0) so /metrics shows them early. */
void tt_cache_metrics_register(void);

#endif
