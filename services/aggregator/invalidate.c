/*
 * invalidate.c - tells query-api's cache which venues got new rollups.
 *
 * query-api serves a cached answer only while its version equals the
 * venue's cache:version:{venue} in Redis (tt/cache.h). After a pass or a
 * rebuild COMMITs, the aggregator INCRs that key for every venue it touched,
 * so the next read of those venues recomputes from the new rollups instead
 * of waiting for the TTL.
 *
 * The venues are read from the key tables (agg_k_*) BEFORE the commit,
 * since they are ON COMMIT DELETE ROWS; the INCRs are sent AFTER it, so a
 * reader that sees the new version is sure to read the new rows. Redis is
 * best effort here: a failure is logged and counted
 * (aggregator_cache_invalidation_errors_total) and never fails the pass;
 * the cached answers then live until their TTL, as without invalidation.
 */
#include "aggregator.h"

#include <stdlib.h>

#include "tt/cache.h"
#include "tt/log.h"

static const char SQL_TOUCHED_VENUES[] =
    "SELECT venue_id FROM agg_k_hour UNION SELECT venue_id FROM agg_k_day"
    " UNION SELECT venue_id FROM agg_k_customer UNION SELECT venue_id FROM agg_k_event";

tt_err
invalidate_collect(PGconn *conn, PGresult **venues, char *err, size_t errlen)
{
	*venues = NULL;
	return tt_db_exec(conn, SQL_TOUCHED_VENUES, 0, NULL, venues, err, errlen);
}

void
invalidate_send(agg_ctx *ctx, PGresult *venues)
{
	char err[256] = "";
	int n = venues != NULL ? PQntuples(venues) : 0;
	const char **list;

	if (n == 0)
		goto out;
	if ((list = malloc((size_t)n * sizeof(*list))) == NULL) {
		tt_metric_inc(ctx->m.cache_invalidation_errors);
		goto out;
	}
	for (int i = 0; i < n; i++)
		list[i] = PQgetvalue(venues, i, 0);
	if (tt_cache_bump_venues(ctx->redis, list, (size_t)n, err, sizeof(err)) != TT_OK) {
		tt_metric_inc(ctx->m.cache_invalidation_errors);
		tt_log(TT_LOG_WARN, "cache invalidation failed (cached answers live to their TTL)",
		    "error", err, NULL);
	} else {
		tt_metric_add(ctx->m.cache_invalidations, (double)n);
	}
	free(list);
out:
	PQclear(venues);
}
