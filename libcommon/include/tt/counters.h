/*
 * counters.h - today's real-time counters of a venue, as readers see them.
 *
 * ingest keeps the truth in PostgreSQL (realtime_counters, one row per venue
 * and UTC day, written in the same transaction as the raw events) and a copy
 * in the Redis hash counter:{venueId}:{YYYY-MM-DD} (revenue_cents, sales,
 * traffic). Readers ask Redis first and fall back to PostgreSQL when Redis
 * cannot answer. Revenue stays in integer cents.
 */
#ifndef TT_COUNTERS_H
#define TT_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "tt/db.h"
#include "tt/error.h"

typedef struct {
	int64_t revenue_cents;
	int64_t sales;
	int64_t traffic;
} tt_counters;

/*
 * Reads the counters of venue on day (YYYY-MM-DD, UTC) into *c: all 0 when
 * neither store has the day. Redis through this thread's connection
 * (tt_redis_thread); PostgreSQL through db (waiting at most db_wait_ms for
 * a pooled connection) when Redis fails or has no hash for the day.
 * *source is "redis" or "postgres".
 */
tt_err tt_counters_read(tt_db *db, int db_wait_ms, const char *venue, const char *day,
    tt_counters *c, const char **source, char *err, size_t errlen);

/*
 * For a caller that sends the Redis read in a pipeline of its own: the
 * HMGET of venue's hash for day, argv[0..TT_COUNTERS_ARGC) pointing into
 * key (keep both alive while sending), then tt_counters_read_reply with its
 * reply (NULL when Redis did not answer), which reads PostgreSQL when the
 * reply has no counters, as tt_counters_read does.
 */
#define TT_COUNTERS_KEY_MAX 160
#define TT_COUNTERS_ARGC    5
void tt_counters_redis_argv(const char *venue, const char *day, char key[TT_COUNTERS_KEY_MAX],
    const char *argv[TT_COUNTERS_ARGC]);
tt_err tt_counters_read_reply(tt_db *db, int db_wait_ms, const char *venue, const char *day,
    const redisReply *rep, tt_counters *c, const char **source, char *err, size_t errlen);

/*
 * Whether rep, the reply to that HMGET, says Redis has no hash for the day
 * (a day without events, or a hash Redis lost): tt_counters_read_reply then
 * reads PostgreSQL as the normal course, not as a fallback from a failure.
 */
bool tt_counters_reply_absent(const redisReply *rep);

#endif
