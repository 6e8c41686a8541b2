/*
 * lcache.c - the in-process copies of lcache.h.
 *
 * Exactness comes from Redis itself (server-assisted client-side caching,
 * RESP2 redirect mode, Redis >= 6):
 *
 *   connection A: CLIENT ID, then SUBSCRIBE __redis__:invalidate;
 *   connection B: CLIENT TRACKING on REDIRECT <A's id> BCAST PREFIX
 *                 cache:version: PREFIX analytics: PREFIX counter:
 *
 * From then on Redis publishes on A the name of every key with those
 * prefixes that any client modifies (the aggregator's INCR after new data;
 * an entry stored, refreshed with Cache-Control: no-cache, deleted or
 * forged; a flush: a null payload). The tracker bumps the generation of
 * each named version key and drops the copy of each named entry; a copy is
 * served only while the generation it was stored under is still its venue's,
 * the epoch unchanged and its TTL not over. A tampered entry in Redis is
 * thus never shadowed by a copy: the forging SET drops the copy, and the
 * next read meets the bad MAC in Redis. Today's counters (counter: hashes,
 * which ingest rewrites all the time) are copied with their own key as
 * their version key, so each counter key has its own generation;
 * generations are bounded (VGENS_MAX: past that, everything starts over).
 *
 * The epoch moves whenever tracking may have missed something: A or B
 * failing (B is PINGed every second, since a closed B ends its tracking
 * without a word on A), a flush, a restart of the tracker. Between a failure
 * and the next successful set-up, tokens say !ok and nothing is served or
 * stored here: reads go to Redis as without this module.
 *
 * Order of events for one key, and why a copy is never stale: a reader's
 * lookup takes its token (generation g) before its MGET. If the version changed
 * before the MGET, the MGET saw the new one; if after, Redis sends the
 * invalidation after the change, and the tracker bumps g either before
 * lcache_put (which then stores nothing) or after (the stored copy is then
 * dead). The window left is the tracker's wake-up after Redis wrote the
 * invalidation: microseconds, the same as any other reader of Redis racing
 * a writer.
 *
 * Memory: copies and keys count against LOCAL_CACHE_MB; a put that would
 * exceed it drops every copy first (entries are refetched from Redis).
 * One mutex guards the tables; gets copy the answer out under it.
 */
#include "lcache.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tt/log.h"
#include "tt/metrics.h"
#include "tt/redis.h"
#include "tt/strparse.h"
#include "tt/time.h"

#define NBUCKETS     4096u
#define PING_EVERY_MS 1000
#define CHANNEL      "__redis__:invalidate"
#define VPREFIX      "cache:version:"   /* the venues' data versions */
#define EPREFIX      "analytics:"       /* the entries themselves (tt/cache.h) */
#define CPREFIX      "counter:"         /* today's counters (tt/counters.h) */
#define VGENS_MAX    200000             /* generations kept before a reset */

typedef struct entry {
	struct entry *next;
	char         *key;
	uint64_t      epoch, gen;
	int64_t       expires_ms;   /* tt_mono_ms() deadline: the Redis TTL */
	size_t        len;
	char         *json;
} entry;

/* A version key's generation (never removed: one per venue). */
typedef struct vgen {
	struct vgen *next;
	uint64_t     gen;
	char         vkey[];
} vgen;

static struct {
	bool            enabled;
	size_t          budget, bytes;
	pthread_mutex_t mtx;
	entry          *tab[NBUCKETS];
	vgen           *gens[NBUCKETS];
	uint64_t        epoch;
	size_t          nvgens;
	uint64_t        kseq[NBUCKETS];  /* per bucket: entry keys reported changed (or dropped) */
	atomic_bool     ok;         /* tracking set up and believed alive */
	atomic_bool     stop;
	pthread_t       thread;
	char            host[TT_CFG_STR], password[TT_CFG_STR];
	int             port;
	tt_metric      *hit, *miss, *bypass, *invalidations, *resets, *bytes_g, *up;
} lc = { .mtx = PTHREAD_MUTEX_INITIALIZER };

/* ---- tables (lock held) --------------------------------------------------- */

static vgen *
vgen_find(const char *vkey, bool create)
{
	uint32_t b = tt_hash_str(vkey) % NBUCKETS;

	for (vgen *g = lc.gens[b]; g != NULL; g = g->next)
		if (strcmp(g->vkey, vkey) == 0)
			return g;
	if (!create)
		return NULL;
	if (lc.nvgens >= VGENS_MAX)
		return NULL;   /* lcache_lookup resets the tables first */
	size_t n = strlen(vkey) + 1;
	vgen *g = malloc(sizeof(*g) + n);
	if (g == NULL)
		return NULL;
	lc.nvgens++;
	g->gen = 0;
	memcpy(g->vkey, vkey, n);
	g->next = lc.gens[b];
	lc.gens[b] = g;
	return g;
}

static void
entry_free(entry *e)
{
	lc.bytes -= e->len + strlen(e->key) + sizeof(*e);
	free(e->key);
	free(e->json);
	free(e);
}

static void
entries_clear(void)
{
	for (unsigned b = 0; b < NBUCKETS; b++) {
		while (lc.tab[b] != NULL) {
			entry *e = lc.tab[b];
			lc.tab[b] = e->next;
			entry_free(e);
		}
	}
	tt_metric_set(lc.bytes_g, (double)lc.bytes);
}

/* Unlinks and frees the entry of key, if there is one. */
static void
entry_remove(const char *key)
{
	entry **pp = &lc.tab[tt_hash_str(key) % NBUCKETS];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->key, key) == 0) {
			entry *e = *pp;
			*pp = e->next;
			entry_free(e);
			return;
		}
	}
}

/* Frees every generation (copies must be dropped and the epoch moved with it). */
static void
vgens_clear(void)
{
	for (unsigned b = 0; b < NBUCKETS; b++) {
		while (lc.gens[b] != NULL) {
			vgen *g = lc.gens[b];
			lc.gens[b] = g->next;
			free(g);
		}
	}
	lc.nvgens = 0;
}

/* ---- the API ---------------------------------------------------------------- */

char *
lcache_lookup(const char *key, const char *vkey, lcache_token *t)
{
	char *out = NULL;

	*t = (lcache_token){ 0, 0, 0, false };
	if (!lc.enabled)
		return NULL;
	if (!atomic_load(&lc.ok)) {
		tt_metric_inc(lc.bypass);
		return NULL;
	}
	pthread_mutex_lock(&lc.mtx);
	if (lc.nvgens >= VGENS_MAX) {   /* one per venue and per venue-day: start over */
		lc.epoch++;
		entries_clear();
		vgens_clear();
	}
	const vgen *g = vgen_find(vkey, true);
	if (g == NULL || !atomic_load(&lc.ok))
		goto out;
	*t = (lcache_token){ lc.epoch, g->gen, lc.kseq[tt_hash_str(key) % NBUCKETS], true };
	for (entry *e = lc.tab[tt_hash_str(key) % NBUCKETS]; e != NULL; e = e->next) {
		if (strcmp(e->key, key) != 0)
			continue;
		if (e->epoch != lc.epoch || e->gen != g->gen || tt_mono_ms() >= e->expires_ms) {
			entry_remove(key);   /* dead for good: its data or its TTL is over */
			tt_metric_set(lc.bytes_g, (double)lc.bytes);
			break;
		}
		if ((out = malloc(e->len + 1)) != NULL) {
			memcpy(out, e->json, e->len);
			out[e->len] = '\0';
		}
		break;
	}
out:
	pthread_mutex_unlock(&lc.mtx);
	tt_metric_inc(out != NULL ? lc.hit : lc.miss);
	return out;
}

void
lcache_put(const char *key, const char *vkey, const char *json, size_t len, int64_t ttl_ms,
    const lcache_token *t)
{
	size_t cost = len + strlen(key) + sizeof(entry);

	if (!lc.enabled || !t->ok || ttl_ms <= 0 || cost > lc.budget)
		return;
	entry *e = calloc(1, sizeof(*e));
	if (e == NULL || (e->key = strdup(key)) == NULL || (e->json = malloc(len)) == NULL) {
		if (e != NULL)
			free(e->key);
		free(e);
		return;
	}
	memcpy(e->json, json, len);
	e->len = len;
	e->epoch = t->epoch;
	e->gen = t->gen;
	e->expires_ms = tt_mono_ms() + ttl_ms;

	pthread_mutex_lock(&lc.mtx);
	const vgen *g = vgen_find(vkey, false);
	if (!atomic_load(&lc.ok) || g == NULL || g->gen != t->gen || lc.epoch != t->epoch ||
	    lc.kseq[tt_hash_str(key) % NBUCKETS] != t->kseq) {
		pthread_mutex_unlock(&lc.mtx);   /* invalidated since the token: not stored */
		free(e->key);
		free(e->json);
		free(e);
		return;
	}
	entry_remove(key);
	if (lc.bytes + cost > lc.budget)
		entries_clear();
	uint32_t b = tt_hash_str(key) % NBUCKETS;
	e->next = lc.tab[b];
	lc.tab[b] = e;
	lc.bytes += cost;
	tt_metric_set(lc.bytes_g, (double)lc.bytes);
	pthread_mutex_unlock(&lc.mtx);
}

void
lcache_drop(const char *key)
{
	if (!lc.enabled)
		return;
	pthread_mutex_lock(&lc.mtx);
	entry_remove(key);
	lc.kseq[tt_hash_str(key) % NBUCKETS]++;
	tt_metric_set(lc.bytes_g, (double)lc.bytes);
	pthread_mutex_unlock(&lc.mtx);
}

/* ---- the tracker ------------------------------------------------------------ */

/* Everything copied so far may be stale: a new epoch, and nothing served until ok. */
static void
reset(bool up)
{
	pthread_mutex_lock(&lc.mtx);
	lc.epoch++;
	entries_clear();
	atomic_store(&lc.ok, up);
	pthread_mutex_unlock(&lc.mtx);
	tt_metric_set(lc.up, up ? 1 : 0);
	tt_metric_inc(lc.resets);
}

/* The invalidation message rep (a pub/sub "message" on CHANNEL); false if not one. */
static bool
invalidate(const redisReply *rep)
{
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING)
		return false;
	if (strcmp(rep->element[0]->str, "subscribe") == 0)
		return true;
	if (strcmp(rep->element[0]->str, "message") != 0)
		return false;
	const redisReply *keys = rep->element[2];
	if (keys->type == REDIS_REPLY_NIL) {   /* FLUSHDB / FLUSHALL: everything */
		reset(true);
		return true;
	}
	if (keys->type != REDIS_REPLY_ARRAY)
		return false;
	pthread_mutex_lock(&lc.mtx);
	for (size_t i = 0; i < keys->elements; i++) {
		const char *k = keys->element[i]->str;
		if (keys->element[i]->type != REDIS_REPLY_STRING)
			continue;
		if (strncmp(k, VPREFIX, sizeof(VPREFIX) - 1) == 0 ||
		    strncmp(k, CPREFIX, sizeof(CPREFIX) - 1) == 0) {
			/* A counters copy is its own version key: both kinds by generation. */
			vgen *g = vgen_find(k, false);
			if (g != NULL)
				g->gen++;   /* a key nobody read yet needs no mark */
		} else {
			/* An entry stored, refreshed, deleted or forged: its copy goes. */
			entry_remove(k);
			lc.kseq[tt_hash_str(k) % NBUCKETS]++;
		}
	}
	tt_metric_set(lc.bytes_g, (double)lc.bytes);
	pthread_mutex_unlock(&lc.mtx);
	tt_metric_add(lc.invalidations, (double)keys->elements);
	return true;
}

/* A command (argv) on c whose reply must be of type want; false with err otherwise. */
static bool
command_ok(redisContext *c, int want, long long *integer, char *err, size_t errlen, int argc,
    const char **argv)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	bool ok = r != NULL && r->type == want;

	if (!ok)
		snprintf(err, errlen, "%s: %s", argv[0], r == NULL ? c->errstr :
		    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	else if (integer != NULL)
		*integer = r->integer;
	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

/* A connected, authenticated context named for CLIENT LIST, or NULL with err. */
static redisContext *
connect_one(char *err, size_t errlen)
{
	char name[48];
	redisContext *c = NULL;

	if (tt_redis_open(&c, lc.host, lc.port, lc.password, 0, 2000, err, errlen) != TT_OK)
		return NULL;
	snprintf(name, sizeof(name), "query-api-lcache-%ld", (long)getpid());
	const char *setname[] = { "CLIENT", "SETNAME", name };
	(void)command_ok(c, REDIS_REPLY_STATUS, NULL, err, errlen, 3, setname);
	return c;
}

/* Sets tracking up on fresh A and B; false with err. */
static bool
track(redisContext *a, redisContext *b, char *err, size_t errlen)
{
	char id[24];
	long long n = 0;

	const char *client_id[] = { "CLIENT", "ID" }, *subscribe[] = { "SUBSCRIBE", CHANNEL };
	if (!command_ok(a, REDIS_REPLY_INTEGER, &n, err, errlen, 2, client_id) ||
	    !command_ok(a, REDIS_REPLY_ARRAY, NULL, err, errlen, 2, subscribe))
		return false;
	snprintf(id, sizeof(id), "%lld", n);
	const char *on[] = { "CLIENT", "TRACKING", "on", "REDIRECT", id, "BCAST",
		"PREFIX", VPREFIX, "PREFIX", EPREFIX, "PREFIX", CPREFIX };
	return command_ok(b, REDIS_REPLY_STATUS, NULL, err, errlen,
	    (int)(sizeof(on) / sizeof(on[0])), on);
}

/* Serves A until it or B fails or stop is asked. */
static void
serve(redisContext *a, redisContext *b)
{
	int64_t next_ping = tt_mono_ms() + PING_EVERY_MS;

	while (!atomic_load(&lc.stop)) {
		void *rep = NULL;
		if (redisGetReplyFromReader(a, &rep) != REDIS_OK)
			return;
		if (rep != NULL) {
			bool known = invalidate(rep);
			freeReplyObject(rep);
			if (!known)
				return;   /* not what a subscriber gets: start over */
			continue;
		}
		struct pollfd p = { .fd = a->fd, .events = POLLIN };
		int n = poll(&p, 1, 200);
		if (n < 0 && errno != EINTR)
			return;
		if (n > 0 && redisBufferRead(a) != REDIS_OK)
			return;   /* closed or failed */
		if (tt_mono_ms() >= next_ping) {
			char err[128];
			const char *ping[] = { "PING" };
			if (!command_ok(b, REDIS_REPLY_STATUS, NULL, err, sizeof(err), 1, ping))
				return;
			next_ping = tt_mono_ms() + PING_EVERY_MS;
		}
	}
}

static void *
tracker_main(void *arg)
{
	char err[256];
	bool warned = false;

	(void)arg;
	while (!atomic_load(&lc.stop)) {
		redisContext *a = connect_one(err, sizeof(err)), *b = NULL;
		if (a != NULL && (b = connect_one(err, sizeof(err))) != NULL &&
		    track(a, b, err, sizeof(err))) {
			reset(true);
			if (warned)
				tt_log(TT_LOG_INFO, "local cache: invalidation tracking up again", NULL);
			warned = false;
			serve(a, b);
			snprintf(err, sizeof(err), "%s", a->err ? a->errstr : b->err ? b->errstr :
			    "connection closed");
		}
		reset(false);
		if (!atomic_load(&lc.stop) && !warned) {
			tt_log(TT_LOG_WARN, "local cache: no invalidation tracking, reading Redis "
			    "every time until it is back", "error", err, NULL);
			warned = true;
		}
		redisFree(a);
		redisFree(b);
		for (int i = 0; i < 10 && !atomic_load(&lc.stop); i++) {
			struct timespec ts = { 0, 100 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

void
lcache_start(const tt_config *cfg)
{
	tt_metrics *reg = tt_metrics_default();

	if (cfg->local_cache_mb <= 0)
		return;
	lc.budget = (size_t)cfg->local_cache_mb << 20;
	snprintf(lc.host, sizeof(lc.host), "%s", cfg->redis_host);
	snprintf(lc.password, sizeof(lc.password), "%s", cfg->redis_password);
	lc.port = cfg->redis_port;
	lc.hit = tt_metrics_counter(reg, "query_api_local_cache_total",
	    "In-process cache lookups (bypass: invalidation tracking down)", "result=\"hit\"");
	lc.miss = tt_metrics_counter(reg, "query_api_local_cache_total", NULL, "result=\"miss\"");
	lc.bypass = tt_metrics_counter(reg, "query_api_local_cache_total", NULL, "result=\"bypass\"");
	lc.invalidations = tt_metrics_counter(reg, "query_api_local_cache_invalidations_total",
	    "Version keys Redis reported changed", NULL);
	lc.resets = tt_metrics_counter(reg, "query_api_local_cache_resets_total",
	    "Times every copy was dropped (tracking set up or lost, flush)", NULL);
	lc.bytes_g = tt_metrics_gauge(reg, "query_api_local_cache_bytes",
	    "Bytes held by in-process copies", NULL);
	lc.up = tt_metrics_gauge(reg, "query_api_local_cache_tracking",
	    "1 while Redis invalidation tracking is up", NULL);
	atomic_store(&lc.stop, false);
	lc.enabled = true;
	if (pthread_create(&lc.thread, NULL, tracker_main, NULL) != 0) {
		lc.enabled = false;
		tt_log(TT_LOG_ERROR, "local cache disabled: cannot start its thread", NULL);
	}
}

void
lcache_stop(void)
{
	if (!lc.enabled)
		return;
	atomic_store(&lc.stop, true);
	pthread_join(lc.thread, NULL);
	pthread_mutex_lock(&lc.mtx);
	atomic_store(&lc.ok, false);
	entries_clear();
	vgens_clear();
	pthread_mutex_unlock(&lc.mtx);
	lc.enabled = false;
}
