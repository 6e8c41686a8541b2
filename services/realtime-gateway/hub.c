/*
 * hub.c - venue rooms and the fan-out of ingest's metric messages.
 *
 * A room is the list of sessions subscribed to one venue. The bus thread
 * receives `tt1|metric|<venue>|{json}` (proto/nng.md) on an nng SUB socket
 * dialled to every ingest replica, checks the JSON as it would any input,
 * and hands the unchanged JSON to the sessions of that venue that asked
 * for its metric: one shared packet per protocol (Socket.IO, plain), one
 * coalescing slot per session. Updates of another day than today (UTC) are
 * not current values and are not forwarded.
 */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tt/log.h"
#include "tt/strbuf.h"
#include "tt/strparse.h"
#include "tt/time.h"

struct gw_room {
	gw_room *next;
	gw_sess *members;
	int      count;
	char     venue[TT_AUTH_VENUE_MAX];
};

const char *const gw_metric_names[GW_NMETRICS] = { "revenue", "sales", "traffic" };

int
gw_metric_index(const char *name)
{
	for (int m = 0; m < GW_NMETRICS; m++)
		if (strcmp(name, gw_metric_names[m]) == 0)
			return m;
	return -1;
}

static size_t
room_bucket(const gw *g, const char *venue)
{
	return tt_hash_str(venue) % g->room_buckets;
}

tt_err
gw_hub_init(gw *g)
{
	g->room_buckets = 4096;
	g->rooms = calloc(g->room_buckets, sizeof(*g->rooms));
	g->sid_buckets = 16384;
	g->sid_table = calloc(g->sid_buckets, sizeof(*g->sid_table));
	return g->rooms != NULL && g->sid_table != NULL ? TT_OK : TT_ENOMEM;
}

void
gw_hub_fini(gw *g)
{
	for (size_t i = 0; g->rooms != NULL && i < g->room_buckets; i++)
		while (g->rooms[i] != NULL) {
			gw_room *r = g->rooms[i];
			g->rooms[i] = r->next;
			free(r);
		}
	free(g->rooms);
	free(g->sid_table);
	g->rooms = NULL;
	g->sid_table = NULL;
}

static gw_room *
room_find(gw *g, const char *venue, size_t *bucket)
{
	*bucket = room_bucket(g, venue);
	for (gw_room *r = g->rooms[*bucket]; r != NULL; r = r->next)
		if (strcmp(r->venue, venue) == 0)
			return r;
	return NULL;
}

void
gw_room_join(gw *g, gw_sess *s, const char *venue)
{
	size_t b;
	gw_room *r;

	if (s->room != NULL) {
		if (strcmp(s->room->venue, venue) == 0)
			return;
		gw_room_leave(g, s);
	}
	if ((r = room_find(g, venue, &b)) == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return;
		snprintf(r->venue, sizeof(r->venue), "%s", venue);
		r->next = g->rooms[b];
		g->rooms[b] = r;
	}
	s->room = r;
	s->room_prev = NULL;
	s->room_next = r->members;
	if (r->members != NULL)
		r->members->room_prev = s;
	r->members = s;
	r->count++;
	snprintf(s->venue, sizeof(s->venue), "%s", venue);
}

void
gw_room_leave(gw *g, gw_sess *s)
{
	gw_room *r = s->room;
	size_t b;

	if (r == NULL)
		return;
	if (s->room_prev != NULL)
		s->room_prev->room_next = s->room_next;
	else
		r->members = s->room_next;
	if (s->room_next != NULL)
		s->room_next->room_prev = s->room_prev;
	s->room = NULL;
	s->room_next = s->room_prev = NULL;
	s->venue[0] = '\0';
	if (--r->count == 0 && room_find(g, r->venue, &b) == r) {
		gw_room **pp = &g->rooms[b];
		while (*pp != r)
			pp = &(*pp)->next;
		*pp = r->next;
		free(r);
	}
}

/* ------------------------------------------------------------------- bus */

/* Checks a metric message; its metric index, or -1 (reason in *why). */
static int
metric_check(const tt_bus_msg *msg, const char *today, const char **why)
{
	cJSON *j = cJSON_ParseWithLength(msg->json, msg->json_len);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	const cJSON *venue = cJSON_GetObjectItemCaseSensitive(j, "venueId");
	const cJSON *day = cJSON_GetObjectItemCaseSensitive(j, "day");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
	int m = -1;

	*why = "invalid";
	if (cJSON_IsObject(j) && cJSON_IsString(type) && cJSON_IsString(venue) &&
	    cJSON_IsString(day) && cJSON_IsObject(data) &&
	    strcmp(venue->valuestring, msg->venue) == 0 &&
	    (m = gw_metric_index(type->valuestring)) >= 0) {
		if (strcmp(day->valuestring, today) != 0) {
			*why = "not_today";
			m = -1;
		}
	} else {
		m = -1;
	}
	cJSON_Delete(j);
	return m;
}

static gw_buf *
wrap(const char *pre, const char *json, size_t len, const char *post)
{
	tt_strbuf b;
	gw_buf *out;

	tt_strbuf_init(&b, TT_BUS_MAX_MSG + 256);
	tt_strbuf_puts(&b, pre);
	tt_strbuf_put(&b, json, len);
	tt_strbuf_puts(&b, post);
	out = tt_strbuf_truncated(&b) ? NULL :
	    gw_buf_new(tt_strbuf_str(&b), tt_strbuf_len(&b), TT_WS_OP_TEXT);
	tt_strbuf_fini(&b);
	return out;
}

static void
fanout(gw *g, const tt_bus_msg *msg, int metric)
{
	gw_buf *sio = NULL, *plain = NULL;
	size_t b;
	double t0 = tt_mono_sec();
	unsigned bit = 1u << metric;

	pthread_mutex_lock(&g->mu);
	gw_room *r = room_find(g, msg->venue, &b);
	for (gw_sess *s = r != NULL ? r->members : NULL, *next; s != NULL; s = next) {
		next = s->room_next;   /* a failed send closes s and unlinks it */
		if ((s->mask & bit) == 0)
			continue;
		gw_buf **pb = s->kind == GW_KIND_SIO ? &sio : &plain;
		if (*pb == NULL) {
			*pb = s->kind == GW_KIND_SIO ?
			    wrap("42" GW_NSP ",[\"metric:update\",", msg->json, msg->json_len, "]") :
			    wrap("{\"event\":\"metric:update\",\"data\":", msg->json, msg->json_len, "}");
			if (*pb == NULL)
				break;
		}
		s->live_gen[metric]++;
		gw_sess_set_slot(g, s, metric, gw_buf_ref(*pb));
	}
	pthread_mutex_unlock(&g->mu);
	gw_buf_unref(sio);
	gw_buf_unref(plain);
	tt_metric_observe(g->m.fanout_seconds, tt_mono_sec() - t0);
}

static void *
bus_main(void *arg)
{
	gw *g = arg;
	char today[TT_ISO_MAX];

	while (!atomic_load(&g->bus_stop)) {
		tt_bus_msg msg;
		const char *why;
		tt_err e = tt_bus_recv(g->bus, &msg, 200);

		if (e == TT_ECLOSED)
			break;
		if (e == TT_ETIMEDOUT)
			continue;
		if (e != TT_OK) {
			tt_metric_inc(g->m.bus_invalid);
			continue;
		}
		tt_metric_inc(g->m.bus_received);
		tt_iso_date(tt_now_ms(), today);
		int m = metric_check(&msg, today, &why);
		if (m < 0) {
			tt_metric_inc(strcmp(why, "not_today") == 0 ? g->m.bus_not_today : g->m.bus_invalid);
		} else {
			fanout(g, &msg, m);
			tt_metric_inc(g->m.bus_forwarded);
		}
		tt_bus_msg_fini(&msg);
	}
	return NULL;
}

tt_err
gw_bus_start(gw *g, char *err, size_t errlen)
{
	tt_err e = tt_bus_sub_open(&g->bus, g->cfg->nng_sub_urls, "tt1|metric|", err, errlen);

	if (e != TT_OK)
		return e;
	if (pthread_create(&g->bus_thread, NULL, bus_main, g) != 0) {
		tt_bus_close(g->bus);
		g->bus = NULL;
		return TT_ENOMEM;
	}
	return TT_OK;
}

void
gw_bus_stop(gw *g)
{
	if (g->bus == NULL)
		return;
	atomic_store(&g->bus_stop, true);   /* seen within one receive timeout */
	pthread_join(g->bus_thread, NULL);
	tt_bus_close(g->bus);
	g->bus = NULL;
}
