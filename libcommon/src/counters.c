/*
 * counters.c - today's counters of a venue: Redis first, PostgreSQL when
 * Redis cannot answer (see tt/counters.h).
 */
#include "tt/counters.h"

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "tt/log.h"
#include "tt/redis.h"
#include "tt/strparse.h"

/* A counter field: absent = 0, otherwise an integer (string or integer reply). */
static bool
reply_i64(const redisReply *r, int64_t *out)
{
	if (r->type == REDIS_REPLY_NIL) {
		*out = 0;
		return true;
	}
	if (r->type == REDIS_REPLY_INTEGER) {
		*out = r->integer;
		return true;
	}
	if (r->type == REDIS_REPLY_STRING)
		return tt_parse_i64(r->str, r->len, INT64_MIN, INT64_MAX, out) == TT_OK;
	return false;
}

void
tt_counters_redis_argv(const char *venue, const char *day, char key[TT_COUNTERS_KEY_MAX],
    const char *argv[TT_COUNTERS_ARGC])
{
	snprintf(key, TT_COUNTERS_KEY_MAX, "counter:%s:%s", venue, day);
	argv[0] = "HMGET";
	argv[1] = key;
	argv[2] = "revenue_cents";
	argv[3] = "sales";
	argv[4] = "traffic";
}

/* The HMGET reply into *c: TT_ENOTFOUND when the hash does not exist. */
bool
tt_counters_reply_absent(const redisReply *rep)
{
	return rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
	    rep->element[0]->type == REDIS_REPLY_NIL && rep->element[1]->type == REDIS_REPLY_NIL &&
	    rep->element[2]->type == REDIS_REPLY_NIL;
}

static tt_err
counters_from_reply(const redisReply *rep, const char *key, tt_counters *c, char *err,
    size_t errlen)
{
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    !reply_i64(rep->element[0], &c->revenue_cents) ||
	    !reply_i64(rep->element[1], &c->sales) ||
	    !reply_i64(rep->element[2], &c->traffic))
		return tt_seterr(err, errlen, TT_EREDIS, "%s: unexpected counter values", key);
	if (tt_counters_reply_absent(rep))
		return tt_seterr(err, errlen, TT_ENOTFOUND, "%s: not in redis", key);
	return TT_OK;
}

static tt_err
counters_from_postgres(tt_db *db, int db_wait_ms, const char *venue, const char *day,
    tt_counters *c, char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT revenue_cents, sales, traffic FROM realtime_counters "
	    "WHERE venue_id = $1 AND day = $2::date";
	const char *params[2] = { venue, day };
	PGconn *conn;
	PGresult *res = NULL;
	tt_err e;

	if ((e = tt_db_acquire(db, &conn, db_wait_ms, err, errlen)) != TT_OK)
		return e;
	e = tt_db_exec(conn, sql, 2, params, &res, err, errlen);
	tt_db_release(db, conn, e == TT_ECONN);
	if (e != TT_OK)
		return e;
	memset(c, 0, sizeof(*c));
	if (PQntuples(res) == 1) {
		const char *v[3] = { PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2) };
		if (tt_parse_i64(v[0], strlen(v[0]), INT64_MIN, INT64_MAX, &c->revenue_cents) != TT_OK ||
		    tt_parse_i64(v[1], strlen(v[1]), INT64_MIN, INT64_MAX, &c->sales) != TT_OK ||
		    tt_parse_i64(v[2], strlen(v[2]), INT64_MIN, INT64_MAX, &c->traffic) != TT_OK)
			e = tt_seterr(err, errlen, TT_EDB, "realtime_counters: unexpected values");
	}
	PQclear(res);
	return e;
}

tt_err
tt_counters_read_reply(tt_db *db, int db_wait_ms, const char *venue, const char *day,
    const redisReply *rep, tt_counters *c, const char **source, char *err, size_t errlen)
{
	char key[TT_COUNTERS_KEY_MAX];
	const char *argv[TT_COUNTERS_ARGC];
	tt_err e;

	memset(c, 0, sizeof(*c));
	*source = "redis";
	tt_counters_redis_argv(venue, day, key, argv);
	if (rep == NULL)
		e = tt_seterr(err, errlen, TT_ECONN, "%s: redis did not answer", key);
	else if ((e = counters_from_reply(rep, key, c, err, errlen)) == TT_OK)
		return TT_OK;
	/* Absent (expired, evicted, or a day without events): PostgreSQL knows. */
	if (e != TT_ENOTFOUND)
		tt_log(TT_LOG_WARN, "realtime counters: redis failed, reading postgres",
		    "error", err, NULL);
	memset(c, 0, sizeof(*c));
	*source = "postgres";
	return counters_from_postgres(db, db_wait_ms, venue, day, c, err, errlen);
}

tt_err
tt_counters_read(tt_db *db, int db_wait_ms, const char *venue, const char *day,
    tt_counters *c, const char **source, char *err, size_t errlen)
{
	char key[TT_COUNTERS_KEY_MAX];
	const char *argv[TT_COUNTERS_ARGC];
	tt_redis *r = tt_redis_thread();
	redisReply *rep = NULL;
	tt_err e;

	tt_counters_redis_argv(venue, day, key, argv);
	if (r != NULL)
		(void)tt_redis_cmd(r, &rep, TT_COUNTERS_ARGC, argv, NULL, err, errlen);
	e = tt_counters_read_reply(db, db_wait_ms, venue, day, rep, c, source, err, errlen);
	if (rep != NULL)
		freeReplyObject(rep);
	return e;
}
