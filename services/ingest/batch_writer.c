/*
 * batch_writer.c - one statement per batch: dedup, raw insert, counters.
 *
 * The batch travels as nine parallel arrays (PostgreSQL array literals in
 * text form) and one JSON array of the payloads (parsed once as jsonb, with
 * no escaping on our side), and one prepared statement does all of it, so it
 * is atomic without an explicit transaction and costs one round trip:
 *
 *   input  -> INSERT raw_event_ids ON CONFLICT DO NOTHING RETURNING id   (dedup)
 *          -> INSERT raw_events for those ids only                     (raw store)
 *          -> per (venue, UTC day) sums -> UPSERT realtime_counters    (exact counters)
 *
 * raw_events is partitioned by month of occurred_at; a partition is ensured
 * the first time this process sees a month (analytics_raw_ensure_partition).
 */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/log.h"
#include "tt/strbuf.h"
#include "tt/strparse.h"
#include "tt/time.h"

#define ARRAY_MAX (64 * 1024 * 1024)
#define NCOLS 10

static const char batch_sql[] =
    "WITH input AS ("
    "  SELECT t.*, p.payload FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
    "    $5::text[], $6::text[], $7::timestamptz[], $8::bigint[], $9::int[])"
    "  WITH ORDINALITY AS t(id, type, venue_id, event_id, customer_hash, session_id,"
    "    occurred_at, revenue_cents, quantity, ord)"
    "  JOIN jsonb_array_elements($10::jsonb) WITH ORDINALITY AS p(payload, pord)"
    "    ON p.pord = t.ord"
    "), ids AS ("
    "  INSERT INTO raw_event_ids (id, occurred_at) SELECT id, occurred_at FROM input"
    "  ON CONFLICT (id) DO NOTHING RETURNING id"
    "), ins AS ("
    "  INSERT INTO raw_events (id, type, venue_id, event_id, customer_hash, session_id,"
    "    occurred_at, revenue_cents, quantity, payload)"
    "  SELECT i.id, i.type, i.venue_id, i.event_id, i.customer_hash, i.session_id,"
    "    i.occurred_at, i.revenue_cents, i.quantity, i.payload"
    "  FROM input i JOIN ids ON ids.id = i.id"
    "  RETURNING id, venue_id, occurred_at, revenue_cents, quantity"
    "), agg AS ("
    "  SELECT venue_id, (occurred_at AT TIME ZONE 'UTC')::date AS day,"
    "    sum(revenue_cents)::bigint AS r, sum(quantity)::bigint AS s, count(*)::bigint AS n"
    "  FROM ins GROUP BY 1, 2"
    "), upd AS ("
    "  INSERT INTO realtime_counters AS c (venue_id, day, revenue_cents, sales, traffic, version)"
    "  SELECT venue_id, day, r, s, n, 1 FROM agg ORDER BY venue_id, day"
    "  ON CONFLICT (venue_id, day) DO UPDATE SET"
    "    revenue_cents = c.revenue_cents + EXCLUDED.revenue_cents,"
    "    sales = c.sales + EXCLUDED.sales, traffic = c.traffic + EXCLUDED.traffic,"
    "    version = c.version + 1, updated_at = now()"
    "  RETURNING c.venue_id, c.day, c.revenue_cents, c.sales, c.traffic, c.version"
    ")"
    " SELECT 'e', i.ord::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
    " FROM input i JOIN ids ON ids.id = i.id"
    " UNION ALL"
    " SELECT 'c', u.venue_id, u.day::text, u.revenue_cents::text, u.sales::text,"
    "   u.traffic::text, u.version::text, a.r::text, a.s::text, a.n::text"
    " FROM upd u JOIN agg a ON a.venue_id = u.venue_id AND a.day = u.day";

/* Months (year*12+month) whose partition this process has ensured. */
#define MONTHS_CACHED 256
static int64_t months_ok[MONTHS_CACHED];
static int nmonths_ok;

static void
arr_elem(tt_strbuf *b, const char *s, bool first)
{
	if (!first)
		tt_strbuf_putc(b, ',');
	if (s == NULL || s[0] == '\0') {
		tt_strbuf_puts(b, "NULL");
		return;
	}
	tt_strbuf_putc(b, '"');
	for (const char *p = s; *p != '\0';) {
		size_t run = strcspn(p, "\"\\");   /* copy up to the next character to escape */
		tt_strbuf_put(b, p, run);
		p += run;
		if (*p != '\0') {
			tt_strbuf_putc(b, '\\');
			tt_strbuf_putc(b, *p++);
		}
	}
	tt_strbuf_putc(b, '"');
}

static tt_err
ensure_partitions(PGconn *conn, batch_item *items, int n, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		char iso[TT_ISO_MAX];
		int64_t ms = items[i].ev.occurred_ms;
		tt_iso_date(ms, iso);
		int64_t key = (int64_t)(iso[0] - '0') * 1000 + (iso[1] - '0') * 100 +
		    (iso[2] - '0') * 10 + (iso[3] - '0');
		key = key * 12 + (iso[5] - '0') * 10 + (iso[6] - '0');
		bool known = false;
		for (int k = 0; k < nmonths_ok && !known; k++)
			known = months_ok[k] == key;
		if (known)
			continue;
		tt_iso_format(ms, iso);
		const char *params[] = { iso };
		tt_err e = tt_db_exec(conn, "SELECT analytics_raw_ensure_partition($1::timestamptz)",
		    1, params, NULL, err, errlen);
		if (e != TT_OK)
			return e;
		if (nmonths_ok < MONTHS_CACHED)
			months_ok[nmonths_ok++] = key;
	}
	return TT_OK;
}

/* SQLSTATE classes that mean "this data", not "this moment". */
static bool
data_error(const char *err)
{
	return strncmp(err, "22", 2) == 0 || strncmp(err, "23", 2) == 0 ||
	    strncmp(err, "54", 2) == 0 || strncmp(err, "42", 2) == 0;
}

tt_err
batch_write(ingest_ctx *ctx, PGconn *conn, batch_item *items, int n,
    counter_row **rows, int *nrows, char *err, size_t errlen)
{
	tt_strbuf cols[NCOLS];
	PGresult *res = NULL;
	const char *params[NCOLS];
	counter_row *out = NULL;
	int nout = 0;
	tt_err e;

	(void)ctx;
	*rows = NULL;
	*nrows = 0;
	if (n == 0)
		return TT_OK;
	if ((e = ensure_partitions(conn, items, n, err, errlen)) != TT_OK)
		return e == TT_EDB && data_error(err) ? TT_EINVAL : e;

	for (int c = 0; c < NCOLS; c++) {
		tt_strbuf_init(&cols[c], ARRAY_MAX);
		tt_strbuf_putc(&cols[c], c == NCOLS - 1 ? '[' : '{');
	}
	for (int i = 0; i < n; i++) {
		const tt_event *ev = &items[i].ev;
		char ts[TT_ISO_MAX], rev[24], qty[24];
		bool first = i == 0;
		tt_iso_format(ev->occurred_ms, ts);
		tt_fmt_i64(ev->revenue_cents, rev);
		tt_fmt_i64(ev->quantity, qty);
		arr_elem(&cols[0], ev->id, first);
		arr_elem(&cols[1], tt_event_type_name(ev->type), first);
		arr_elem(&cols[2], ev->venue_id, first);
		arr_elem(&cols[3], ev->event_id, first);
		arr_elem(&cols[4], ev->customer_hash, first);
		arr_elem(&cols[5], ev->session_id, first);
		arr_elem(&cols[6], ts, first);
		arr_elem(&cols[7], rev, first);
		arr_elem(&cols[8], qty, first);
		/* The payloads are JSON already: the tenth column is a JSON array. */
		if (!first)
			tt_strbuf_putc(&cols[9], ',');
		tt_strbuf_puts(&cols[9], items[i].json);
		items[i].is_new = false;
	}
	for (int c = 0; c < NCOLS; c++) {
		tt_strbuf_putc(&cols[c], c == NCOLS - 1 ? ']' : '}');
		if (tt_strbuf_truncated(&cols[c])) {
			e = tt_seterr(err, errlen, TT_ETOOBIG, "batch larger than %d bytes", ARRAY_MAX);
			goto out;
		}
		params[c] = tt_strbuf_str(&cols[c]);
	}

	e = tt_db_exec_prepared(conn, "ingest_batch_v2", batch_sql, NCOLS, params, &res, err, errlen);
	if (e == TT_EDB && data_error(err))
		e = TT_EINVAL;
	if (e != TT_OK)
		goto out;

	int nt = PQntuples(res);
	out = calloc((size_t)nt + 1, sizeof(*out));
	if (out == NULL) {
		e = TT_ENOMEM;
		goto out;
	}
	for (int r = 0; r < nt; r++) {
		const char *kind = PQgetvalue(res, r, 0);
		const char *id = PQgetvalue(res, r, 1);
		if (kind[0] == 'e') {
			/* ord is the 1-based position of a new id in the batch. */
			long ord = strtol(id, NULL, 10);
			if (ord >= 1 && ord <= n)
				items[ord - 1].is_new = true;
			continue;
		}
		counter_row *cr = &out[nout++];
		snprintf(cr->venue_id, sizeof(cr->venue_id), "%s", id);
		snprintf(cr->day, sizeof(cr->day), "%s", PQgetvalue(res, r, 2));
		cr->revenue_cents = strtoll(PQgetvalue(res, r, 3), NULL, 10);
		cr->sales = strtoll(PQgetvalue(res, r, 4), NULL, 10);
		cr->traffic = strtoll(PQgetvalue(res, r, 5), NULL, 10);
		cr->version = strtoll(PQgetvalue(res, r, 6), NULL, 10);
		cr->d_revenue_cents = strtoll(PQgetvalue(res, r, 7), NULL, 10);
		cr->d_sales = strtoll(PQgetvalue(res, r, 8), NULL, 10);
		cr->d_traffic = strtoll(PQgetvalue(res, r, 9), NULL, 10);
	}
	*rows = out;
	*nrows = nout;
	out = NULL;

out:
	free(out);
	PQclear(res);
	for (int c = 0; c < NCOLS; c++)
		tt_strbuf_fini(&cols[c]);
	return e;
}

tt_err
batch_write_each(ingest_ctx *ctx, PGconn *conn, batch_item *items, int n,
    counter_row **rows, int *nrows, char *err, size_t errlen)
{
	counter_row *all = NULL;
	int nall = 0;

	*rows = NULL;
	*nrows = 0;
	for (int i = 0; i < n; i++) {
		counter_row *r = NULL;
		int nr = 0;
		tt_err e = batch_write(ctx, conn, &items[i], 1, &r, &nr, err, errlen);
		if (e == TT_EINVAL) {
			items[i].failed = true;
			snprintf(items[i].reason, sizeof(items[i].reason), "storage refused: %s", err);
			continue;
		}
		if (e != TT_OK) {
			free(all);
			return e;   /* connection trouble: the caller retries the rest */
		}
		if (nr > 0) {
			counter_row *g = realloc(all, (size_t)(nall + nr) * sizeof(*all));
			if (g == NULL) {
				free(r);
				free(all);
				return TT_ENOMEM;
			}
			all = g;
			memcpy(all + nall, r, (size_t)nr * sizeof(*r));
			nall += nr;
		}
		free(r);
	}
	*rows = all;
	*nrows = nall;
	return TT_OK;
}
