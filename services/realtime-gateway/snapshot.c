/*
 * snapshot.c - current values for a new subscriber.
 *
 * A subscription is answered at once; the values come a moment later from
 * two worker threads that read today's counters (Redis, else PostgreSQL:
 * tt_counters_read) so that no I/O thread ever waits on a server. Each
 * snapshot goes into the session's slot of its metric, unless a live
 * update of that metric reached the session after the subscription: the
 * live value is at least as new, and a snapshot must never overwrite it.
 */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/counters.h"
#include "tt/log.h"
#include "tt/money.h"
#include "tt/redis.h"
#include "tt/strbuf.h"
#include "tt/time.h"

struct gw_snap_job {
	gw_snap_job *next;
	gw_sess     *s;                    /* holds a reference */
	unsigned     bits;
	unsigned     gen[GW_NMETRICS];
	char         venue[TT_AUTH_VENUE_MAX];
};

void
gw_snap_request(gw *g, gw_sess *s, unsigned bits)
{
	gw_snap_job *j = calloc(1, sizeof(*j));

	if (j == NULL || s->venue[0] == '\0') {
		free(j);
		return;
	}
	gw_sess_ref(s);
	j->s = s;
	j->bits = bits;
	memcpy(j->gen, s->live_gen, sizeof(j->gen));
	snprintf(j->venue, sizeof(j->venue), "%s", s->venue);
	pthread_mutex_lock(&g->snap_mu);
	if (g->snap_tail != NULL)
		g->snap_tail->next = j;
	else
		g->snap_head = j;
	g->snap_tail = j;
	pthread_cond_signal(&g->snap_cv);
	pthread_mutex_unlock(&g->snap_mu);
}

static gw_buf *
snapshot_packet(const gw_sess *s, const char *venue, const char *day, int m, const tt_counters *c)
{
	char value[TT_MONEY_STR_MAX];
	tt_strbuf b;
	gw_buf *out;

	if (m == GW_M_REVENUE)
		tt_money_format(c->revenue_cents, value);
	else
		snprintf(value, sizeof(value), "%lld",
		    (long long)(m == GW_M_SALES ? c->sales : c->traffic));
	tt_strbuf_init(&b, 1024);
	tt_strbuf_puts(&b, s->kind == GW_KIND_SIO ? "42" GW_NSP ",[\"metric:update\"," :
	    "{\"event\":\"metric:update\",\"data\":");
	tt_strbuf_printf(&b, "{\"type\":\"%s\",\"venueId\":", gw_metric_names[m]);
	tt_strbuf_json_str(&b, venue);
	tt_strbuf_printf(&b, ",\"day\":\"%s\",\"data\":{\"currentValue\":%s,\"previousValue\":%s,"
	    "\"change\":0,\"changePercent\":0.0000,\"trend\":\"stable\"},\"snapshot\":true}%s",
	    day, value, value, s->kind == GW_KIND_SIO ? "]" : "}");
	out = tt_strbuf_truncated(&b) ? NULL :
	    gw_buf_new(tt_strbuf_str(&b), tt_strbuf_len(&b), TT_WS_OP_TEXT);
	tt_strbuf_fini(&b);
	return out;
}

static void
snap_run(gw *g, gw_snap_job *j)
{
	char day[TT_ISO_MAX], err[256] = "";
	const char *source;
	tt_counters c;
	tt_err e;

	tt_iso_date(tt_now_ms(), day);
	e = tt_counters_read(g->db, GW_DB_WAIT_MS, j->venue, day, &c, &source, err, sizeof(err));
	if (e != TT_OK) {
		tt_metric_inc(g->m.snapshot_errors);
		tt_log(TT_LOG_WARN, "snapshot failed", "venueId", j->venue, "error", err, NULL);
	}
	pthread_mutex_lock(&g->mu);
	gw_sess *s = j->s;
	if (e == TT_OK && !s->closed && strcmp(s->venue, j->venue) == 0) {
		for (int m = 0; m < GW_NMETRICS; m++) {
			if (!(j->bits & s->mask & (1u << m)) || s->live_gen[m] != j->gen[m])
				continue;
			gw_buf *b = snapshot_packet(s, j->venue, day, m, &c);
			if (b != NULL)
				gw_sess_set_slot(g, s, m, b);
		}
		tt_metric_inc(g->m.snapshots);
	}
	gw_sess_unref(g, s);
	pthread_mutex_unlock(&g->mu);
}

static void *
snap_main(void *arg)
{
	gw *g = arg;

	tt_redis_thread_setup(g->cfg);
	for (;;) {
		pthread_mutex_lock(&g->snap_mu);
		while (g->snap_head == NULL && g->snap_threads_run)
			pthread_cond_wait(&g->snap_cv, &g->snap_mu);
		gw_snap_job *j = g->snap_head;
		if (j == NULL) {
			pthread_mutex_unlock(&g->snap_mu);
			break;
		}
		g->snap_head = j->next;
		if (g->snap_head == NULL)
			g->snap_tail = NULL;
		pthread_mutex_unlock(&g->snap_mu);
		snap_run(g, j);
		free(j);
	}
	tt_redis_thread_cleanup();
	return NULL;
}

tt_err
gw_snap_start(gw *g)
{
	pthread_mutex_init(&g->snap_mu, NULL);
	pthread_cond_init(&g->snap_cv, NULL);
	g->snap_threads_run = true;
	for (int i = 0; i < 2; i++) {
		if (pthread_create(&g->snap_threads[i], NULL, snap_main, g) != 0)
			return TT_ENOMEM;
		g->nsnap_threads++;
	}
	return TT_OK;
}

/* Finishes the queued jobs, then stops the workers. */
void
gw_snap_stop(gw *g)
{
	pthread_mutex_lock(&g->snap_mu);
	g->snap_threads_run = false;
	pthread_cond_broadcast(&g->snap_cv);
	pthread_mutex_unlock(&g->snap_mu);
	for (int i = 0; i < g->nsnap_threads; i++)
		pthread_join(g->snap_threads[i], NULL);
	g->nsnap_threads = 0;
}
