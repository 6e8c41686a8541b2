/*
 * tt/ratelimit.h - fixed-window rate limiting per client and path in Redis.
 *
 * The seed's rule, made atomic: key rate_limit:{clientIp}:{path}, INCR, and
 * the window's EXPIRE set when the key has none (first request of the
 * window, or a key that lost its TTL). Both run in one Lua script (EVALSHA,
 * falling back to EVAL when Redis has not seen it), so a crash between the
 * two cannot leave a counter that never expires. Shared by every replica
 * through Redis, so the limit is per client across the whole deployment.
 *
 * Fail open: when Redis cannot answer, the request is allowed, a warning is
 * logged (at most one every 10 s per process) and rate_limit_errors_total
 * in the default metrics registry is incremented. A rate limiter must not
 * turn a Redis outage into an API outage.
 */
#ifndef TT_RATELIMIT_H
#define TT_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/error.h"
#include "tt/redis.h"

#define TT_RATELIMIT_KEY_MAX 512   /* bytes of a key, NUL included */

typedef struct {
	bool    allowed;
	int64_t count;      /* requests counted in this window, this one included */
	int     limit;
	int     remaining;  /* limit - count, never below 0 */
	int     reset_sec;  /* seconds until the window ends (Retry-After), >= 1 */
} tt_ratelimit_result;

/*
 * Writes "rate_limit:{client_ip}:{path}" into buf. TT_ETOOBIG when it does
 * not fit in len (buf then holds ""), TT_EINVAL for NULL or empty parts.
 * Pure; thread-safe.
 */
tt_err tt_ratelimit_key(char *buf, size_t len, const char *client_ip, const char *path);

/*
 * Counts one request of client_ip on path against max per window_sec
 * seconds and fills *res. max == 0 disables limiting (allowed, no Redis
 * call). r is a connection owned by the calling thread (tt_redis_thread()),
 * or NULL when there is none. Returns TT_OK when Redis answered; on any
 * failure returns the error (detail in err) with *res saying allowed, as
 * the fail-open policy above says.
 */
tt_err tt_ratelimit_check(tt_redis *r, const char *client_ip, const char *path,
    int max, int window_sec, tt_ratelimit_result *res, char *err, size_t errlen);

#endif
