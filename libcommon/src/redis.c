/*
 * redis.c - one hiredis connection that reconnects on the next call after a
 * failure. A hiredis context whose ->err is set is unusable, so it is freed
 * and replaced; the command that failed is not replayed (the caller knows
 * whether its command is idempotent).
 */
#include "tt/redis.h"
#include "tt/log.h"
#include "tt/time.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct tt_redis {
	redisContext *ctx;
	char          host[TT_CFG_STR];
	char          password[TT_CFG_STR];
	int           port;
	int           timeout_ms;
	int           db;
};

tt_err
tt_redis_new(tt_redis **out, const char *host, int port, const char *password,
    int timeout_ms)
{
	tt_redis *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return TT_ENOMEM;
	snprintf(r->host, sizeof(r->host), "%s", host);
	snprintf(r->password, sizeof(r->password), "%s", password ? password : "");
	r->port = port;
	r->timeout_ms = timeout_ms;
	*out = r;
	return TT_OK;
}

tt_err
tt_redis_new_cfg(tt_redis **out, const tt_config *cfg)
{
	tt_err e = tt_redis_new(out, cfg->redis_host, cfg->redis_port,
	    cfg->redis_password, 2000);
	if (e == TT_OK)
		tt_redis_set_db(*out, cfg->redis_db);
	return e;
}

void
tt_redis_set_db(tt_redis *r, int db)
{
	r->db = db;
}

void
tt_redis_free(tt_redis *r)
{
	if (r == NULL)
		return;
	if (r->ctx != NULL)
		redisFree(r->ctx);
	free(r);
}

/* One argv command on a fresh context whose reply must be +OK-like; false otherwise. */
static bool
setup_cmd(redisContext *c, int argc, const char **argv)
{
	redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
	bool ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;

	if (rep != NULL)
		freeReplyObject(rep);
	return ok;
}

tt_err
tt_redis_open(redisContext **out, const char *host, int port, const char *password, int db,
    int timeout_ms, char *err, size_t errlen)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisContext *c = redisConnectWithTimeout(host, port, tv);
	tt_err e = TT_OK;

	*out = NULL;
	if (c == NULL)
		return tt_seterr(err, errlen, TT_ENOMEM, "redis: out of memory");
	if (c->err != 0) {
		e = tt_seterr(err, errlen, TT_ECONN, "redis %s:%d: %s", host, port, c->errstr);
		goto fail;
	}
	redisSetTimeout(c, tv);
	if (password != NULL && password[0] != '\0' &&
	    !setup_cmd(c, 2, (const char *[]){ "AUTH", password })) {
		e = tt_seterr(err, errlen, TT_EAUTH, "redis: AUTH failed");
		goto fail;
	}
	if (db != 0) {
		char n[8];
		snprintf(n, sizeof(n), "%d", db);
		if (!setup_cmd(c, 2, (const char *[]){ "SELECT", n })) {
			e = tt_seterr(err, errlen, TT_EREDIS, "redis: SELECT %d failed", db);
			goto fail;
		}
	}
	*out = c;
	return TT_OK;
fail:
	redisFree(c);
	return e;
}

static tt_err
redis_ensure(tt_redis *r, char *err, size_t errlen)
{
	if (r == NULL)
		return tt_seterr(err, errlen, TT_ECONN, "redis: no connection");
	if (r->ctx != NULL && r->ctx->err == 0)
		return TT_OK;
	if (r->ctx != NULL) {
		redisFree(r->ctx);
		r->ctx = NULL;
	}
	return tt_redis_open(&r->ctx, r->host, r->port, r->password, r->db, r->timeout_ms, err,
	    errlen);
}

/* Converts a NULL reply or an error reply into tt_err, freeing what it must. */
static tt_err
redis_check(tt_redis *r, redisReply *rep, char *err, size_t errlen)
{
	if (rep == NULL) {
		tt_err e = tt_seterr(err, errlen, TT_EREDIS, "redis: %s",
		    r->ctx && r->ctx->errstr[0] ? r->ctx->errstr : "connection lost");
		if (r->ctx != NULL) {
			redisFree(r->ctx);
			r->ctx = NULL;
		}
		return e;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		tt_seterr(err, errlen, TT_EREDIS, "redis: %.*s", (int)rep->len, rep->str);
		freeReplyObject(rep);
		return TT_EREDIS;
	}
	return TT_OK;
}

tt_err
tt_redis_cmd(tt_redis *r, redisReply **reply, int argc, const char **argv,
    const size_t *argvlen, char *err, size_t errlen)
{
	tt_err e = redis_ensure(r, err, errlen);
	redisReply *rep;

	if (e != TT_OK)
		return e;
	rep = redisCommandArgv(r->ctx, argc, argv, argvlen);
	if ((e = redis_check(r, rep, err, errlen)) != TT_OK)
		return e;
	if (reply != NULL)
		*reply = rep;
	else
		freeReplyObject(rep);
	return TT_OK;
}

tt_err
tt_redis_pipeline(tt_redis *r, int n, const int *argcs,
    const char **const *argvs, const size_t *const *argvlens,
    redisReply **replies, char *err, size_t errlen)
{
	tt_err e = redis_ensure(r, err, errlen), first = TT_OK;

	if (e != TT_OK)
		return e;
	for (int i = 0; i < n; i++) {
		if (redisAppendCommandArgv(r->ctx, argcs[i], argvs[i],
		    argvlens ? argvlens[i] : NULL) != REDIS_OK)
			return redis_check(r, NULL, err, errlen);
	}
	for (int i = 0; i < n; i++) {
		void *rep = NULL;
		replies[i] = NULL;
		if (r->ctx == NULL || redisGetReply(r->ctx, &rep) != REDIS_OK) {
			e = redis_check(r, NULL, err, errlen);
			for (int j = 0; j < i; j++)
				if (replies[j] != NULL)
					freeReplyObject(replies[j]);
			return e;
		}
		if (((redisReply *)rep)->type == REDIS_REPLY_ERROR && first == TT_OK)
			first = redis_check(r, rep, err, errlen);
		else
			replies[i] = rep;
	}
	if (first != TT_OK) {
		for (int i = 0; i < n; i++) {
			if (replies[i] != NULL)
				freeReplyObject(replies[i]);
			replies[i] = NULL;
		}
	}
	return first;
}

tt_err
tt_redis_ping(tt_redis *r, double *latency_ms, char *err, size_t errlen)
{
	const char *argv[] = { "PING" };
	double t0 = tt_mono_sec();
	tt_err e = tt_redis_cmd(r, NULL, 1, argv, NULL, err, errlen);

	if (e == TT_OK && latency_ms != NULL)
		*latency_ms = (tt_mono_sec() - t0) * 1000.0;
	return e;
}

/* ---- per-thread connections ------------------------------------------- */

static const tt_config *thread_cfg;
static _Thread_local tt_redis *thread_conn;

void
tt_redis_thread_setup(const tt_config *cfg)
{
	thread_cfg = cfg;
}

tt_redis *
tt_redis_thread(void)
{
	if (thread_conn == NULL && thread_cfg != NULL)
		tt_redis_new_cfg(&thread_conn, thread_cfg);
	return thread_conn;
}

void
tt_redis_thread_cleanup(void)
{
	tt_redis_free(thread_conn);
	thread_conn = NULL;
}
