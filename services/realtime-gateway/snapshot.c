/*
 * snapshot.c - current values for a new subscriber.
 *
 * A subscription is answered at once; the values come a moment later from
 * two worker threads that read today's counters (Redis, else PostgreSQL:
 * tt_counters_read) so that no I/O thread ever waits on a server. Jobs
 * wait grouped by venue, venues in the order they first asked: a worker
 * takes a venue and reads it once for every subscriber waiting on it (a
 * venue's dashboards all come back at once after a gateway restart). Each
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
#include "tt/strparse.h"
#include "tt/time.h"

#define GW_SNAP_BUCKETS 1024

typedef struct gw_snap_job gw_snap_job;

struct gw_snap_job {
	gw_snap_job *next;
	gw_sess     *s;                    /* holds a reference */
	unsigned     bits;
	unsigned     gen[GW_NMETRICS];
};

/* The jobs of one venue waiting for a worker: one read serves them all. */
struct gw_snap_group {
	gw_snap_group *next, *hnext;
	gw_snap_job   *jobs;
	char           venue[TT_AUTH_VENUE_MAX];
};

void
gw_snap_request(gw *g, gw_sess *s, unsigned bits)
{
	gw_snap_job *j = calloc(1, sizeof(*j));
	gw_snap_group *grp;

	if (j == NULL || s->venue[0] == '\0') {
		free(j);
		return;
	}
	gw_sess_ref(s);
	j->s = s;
	j->bits = bits;
	memcpy(j->gen, s->live_gen, sizeof(j->gen));
	size_t b = tt_hash_str(s->venue) % GW_SNAP_BUCKETS;
	pthread_mutex_lock(&g->snap_mu);
	for (grp = g->snap_index[b]; grp != NULL; grp = grp->hnext)
		if (strcmp(grp->venue, s->venue) == 0)
			break;
	if (grp == NULL && (grp = calloc(1, sizeof(*grp))) != NULL) {
		snprintf(grp->venue, sizeof(grp->venue), "%s", s->venue);
		grp->hnext = g->snap_index[b];
		g->snap_index[b] = grp;
		if (g->snap_tail != NULL)
			g->snap_tail->next = grp;
		else
			g->snap_head = grp;
		g->snap_tail = grp;
		pthread_cond_signal(&g->snap_cv);
	}
	if (grp != NULL) {
		j->next = grp->jobs;
		grp->jobs = j;
	}
	pthread_mutex_unlock(&g->snap_mu);
	if (grp == NULL) {
		gw_sess_unref(g, s);   /* no memory: no snapshot, the next update will do */
		free(j);
	}
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

/* Hands the values of one read to a job's session (gw->mu held). */
static void
snap_apply(gw *g, gw_snap_job *j, const char *venue, const char *day, const tt_counters *c)
{
	gw_sess *s = j->s;

	if (!s->closed && strcmp(s->venue, venue) == 0) {
		for (int m = 0; m < GW_NMETRICS; m++) {
			if (!(j->bits & s->mask & (1u << m)) || s->live_gen[m] != j->gen[m])
				continue;
			gw_buf *b = snapshot_packet(s, venue, day, m, c);
			if (b != NULL)
				gw_sess_set_slot(g, s, m, b);
		}
		tt_metric_inc(g->m.snapshots);
	}
}

/* One read for the jobs of a venue; frees them and the group. */
static void
snap_run(gw *g, gw_snap_group *grp)
{
	char day[TT_ISO_MAX], err[256] = "";
	const char *source;
	tt_counters c;
	tt_err e;

	tt_iso_date(tt_now_ms(), day);
	e = tt_counters_read(g->db, GW_DB_WAIT_MS, grp->venue, day, &c, &source, err, sizeof(err));
	if (e != TT_OK) {
		tt_metric_inc(g->m.snapshot_errors);
		tt_log(TT_LOG_WARN, "snapshot failed", "venueId", grp->venue, "error", err, NULL);
	}
	pthread_mutex_lock(&g->mu);
	for (gw_snap_job *j = grp->jobs, *next; j != NULL; j = next) {
		next = j->next;
		if (e == TT_OK)
			snap_apply(g, j, grp->venue, day, &c);
		gw_sess_unref(g, j->s);
		free(j);
	}
	pthread_mutex_unlock(&g->mu);
	free(grp);
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
		gw_snap_group *grp = g->snap_head;
		if (grp != NULL) {
			/* Out of the index: jobs that come from now on start a new group. */
			gw_snap_group **pp = &g->snap_index[tt_hash_str(grp->venue) % GW_SNAP_BUCKETS];
			while (*pp != grp)
				pp = &(*pp)->hnext;
			*pp = grp->hnext;
			if ((g->snap_head = grp->next) == NULL)
				g->snap_tail = NULL;
		}
		pthread_mutex_unlock(&g->snap_mu);
		if (grp == NULL)
			break;
		snap_run(g, grp);
	}
	tt_redis_thread_cleanup();
	return NULL;
}

tt_err
gw_snap_start(gw *g)
{
	if ((g->snap_index = calloc(GW_SNAP_BUCKETS, sizeof(*g->snap_index))) == NULL)
		return TT_ENOMEM;
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
	free(g->snap_index);
	g->snap_index = NULL;
}
