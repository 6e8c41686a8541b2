/*
 * tt/redis.h - hiredis connections that reconnect.
 *
 * tt_redis is one connection, owned by one thread at a time. Each command
 * call reconnects first if the previous call found the connection broken,
 * so a Redis restart costs the callers in flight one TT_EREDIS each, and no
 * more. Commands are sent with the argv form only (no format strings built
 * from data).
 */
#ifndef TT_REDIS_H
#define TT_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "tt/config.h"
#include "tt/error.h"

typedef struct tt_redis tt_redis;

/* Connects lazily: tt_redis_new() never fails for an unreachable server. */
tt_err tt_redis_new(tt_redis **out, const char *host, int port,
    const char *password, int timeout_ms);

/*
 * A new blocking hiredis connection to host:port, authenticated (password
 * NULL or "": none) and on logical database db, with timeout_ms for the
 * connect and every reply: for callers that need the context itself (a
 * subscriber polling its descriptor). tt_redis connects with it. TT_OK with
 * *out (redisFree it), or the error with the reason in err.
 */
tt_err tt_redis_open(redisContext **out, const char *host, int port, const char *password,
    int db, int timeout_ms, char *err, size_t errlen);

/* Selects logical database db (0..15) on every (re)connection. */
void tt_redis_set_db(tt_redis *r, int db);
tt_err tt_redis_new_cfg(tt_redis **out, const tt_config *cfg);
void tt_redis_free(tt_redis *r);

/*
 * Runs one command given as argv. On success *reply is set (freeReplyObject
 * it); a Redis error reply is returned as TT_EREDIS with its text in err and
 * no reply.
 */
tt_err tt_redis_cmd(tt_redis *r, redisReply **reply, int argc,
    const char **argv, const size_t *argvlen, char *err, size_t errlen);

/*
 * Pipelines n commands and collects n replies into replies[0..n). On error
 * no reply is returned (all freed).
 */
tt_err tt_redis_pipeline(tt_redis *r, int n, const int *argcs,
    const char **const *argvs, const size_t *const *argvlens,
    redisReply **replies, char *err, size_t errlen);

/* PING round trip; *latency_ms set on success. */
tt_err tt_redis_ping(tt_redis *r, double *latency_ms, char *err, size_t errlen);

/*
 * A per-thread connection for server threads (civetweb workers): created on
 * first use from the configuration given to tt_redis_thread_setup(), freed by
 * tt_redis_thread_cleanup() at thread exit.
 */
void tt_redis_thread_setup(const tt_config *cfg);
tt_redis *tt_redis_thread(void);
void tt_redis_thread_cleanup(void);

#endif
