/*
 * aggregator - raw_events into exact, re-runnable rollups (sales per hour
 * and venue-local day, customers, shows, the show catalog). main() only
 * wires the modules: aggregator.h lists them, docs/aggregator.md is the
 * design note.
 */
#include "aggregator.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tt/log.h"
#include "tt/strparse.h"
#include "tt/time.h"

static agg_ctx *the_ctx;

static void
on_signal(int sig)
{
	(void)sig;
	if (the_ctx != NULL)
		the_ctx->stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: aggregator [--once] [--few-keys N]\n"
	    "       aggregator --rebuild [--venue ID] [--from ISO] [--to ISO] [--few-keys N]\n"
	    "       aggregator --help | --version\n"
	    "\n"
	    "Recomputes the rollups (sales_rollups hour/day, sales_daily, customer_stats and\n"
	    "their RFM scores, event_stats, event_catalog, venue_analytics,\n"
	    "analytics_aggregations) from raw_events. Without options: one incremental pass every\n"
	    "AGGREGATOR_INTERVAL_MS over the raw rows received since the watermark; only\n"
	    "the replica holding the PostgreSQL advisory lock works, the others wait.\n"
	    "\n"
	    "  --once      one incremental pass, then exit (0 on success)\n"
	    "  --rebuild   recompute every bucket that intersects [--from, --to) (default:\n"
	    "              all time) of --venue (default: every venue), whatever its age;\n"
	    "              prints a one-line summary and exits\n"
	    "  --few-keys N  up to N keys of a kind (hours, days, customers, shows) are\n"
	    "              recomputed by index lookups, more with hash joins over the raw\n"
	    "              store (default 20000; the rows are the same either way)\n"
	    "\n"
	    "Configuration is read from the environment; the main variables:\n"
	    "  DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD   PostgreSQL\n"
	    "  REDIS_HOST REDIS_PORT REDIS_PASSWORD          Redis: after each commit, bumps\n"
	    "                                cache:version:{venue} of the venues touched\n"
	    "                                (query-api's cache; best effort)\n"
	    "  AGGREGATOR_INTERVAL_MS        1000\n"
	    "  AGGREGATOR_LATE_WINDOW_HOURS  48 (older buckets only change with --rebuild)\n"
	    "  AGGREGATOR_HEALTH_PORT        3011 (/health, /health/live, /health/ready,\n"
	    "                                /health/dependencies, /metrics)\n"
	    "  LOG_LEVEL NODE_ENV\n"
	    "\n"
	    "SIGTERM/SIGINT: finish the current pass, exit 0.\n");
}

static void
metrics_register(agg_metrics *m)
{
	tt_metrics *r = tt_metrics_default();

	m->passes = tt_metrics_counter(r, "aggregator_passes_total",
	    "Incremental passes committed", NULL);
	m->passes_skipped = tt_metrics_counter(r, "aggregator_passes_skipped_total",
	    "Passes skipped because another replica held the advisory lock", NULL);
	m->errors = tt_metrics_counter(r, "aggregator_pass_errors_total",
	    "Passes rolled back on an error (retried)", NULL);
	m->buckets = tt_metrics_counter(r, "aggregator_buckets_recomputed_total",
	    "Rollup buckets recomputed (hour, day, customer and show keys)", NULL);
	m->late_ignored = tt_metrics_counter(r, "aggregator_late_events_ignored_total",
	    "Raw sales events older than AGGREGATOR_LATE_WINDOW_HOURS left to --rebuild", NULL);
	m->pass_seconds = tt_metrics_histogram(r, "aggregator_pass_seconds",
	    "Duration of one incremental pass", NULL, NULL, 0);
	m->lag_seconds = tt_metrics_gauge(r, "aggregator_lag_seconds",
	    "now - watermark: age of the newest raw rows not yet rolled up", NULL);
	m->cache_invalidations = tt_metrics_counter(r, "aggregator_cache_invalidations_total",
	    "Venue cache versions bumped in Redis after a commit (query-api recomputes)", NULL);
	m->cache_invalidation_errors = tt_metrics_counter(r,
	    "aggregator_cache_invalidation_errors_total",
	    "Passes whose cache version bumps failed (Redis down: answers live to their TTL)", NULL);
}

typedef struct {
	int         once, rebuild;
	const char *venue, *from, *to, *few_keys;
	int64_t     few_keys_max;
} agg_args;

/* Returns -1 to continue, else the exit code. */
static int
args_parse(int argc, char **argv, agg_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		const char **slot = NULL;
		if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(s, "--version") == 0) {
			printf("aggregator %s\n", AGGREGATOR_VERSION);
			return 0;
		}
		if (strcmp(s, "--once") == 0) {
			a->once = 1;
			continue;
		}
		if (strcmp(s, "--rebuild") == 0) {
			a->rebuild = 1;
			continue;
		}
		if (strcmp(s, "--venue") == 0)
			slot = &a->venue;
		else if (strcmp(s, "--from") == 0)
			slot = &a->from;
		else if (strcmp(s, "--to") == 0)
			slot = &a->to;
		else if (strcmp(s, "--few-keys") == 0)
			slot = &a->few_keys;
		if (slot == NULL || i + 1 >= argc) {
			fprintf(stderr, "aggregator: %s %s (see --help)\n",
			    slot == NULL ? "unknown argument" : "missing value after", s);
			return 2;
		}
		*slot = argv[++i];
	}
	if (!a->rebuild && (a->venue || a->from || a->to)) {
		fprintf(stderr, "aggregator: --venue, --from and --to go with --rebuild\n");
		return 2;
	}
	if (a->rebuild && a->once) {
		fprintf(stderr, "aggregator: --once and --rebuild exclude each other\n");
		return 2;
	}
	a->few_keys_max = ROLLUP_FEW_KEYS_MAX;
	if (a->few_keys != NULL && tt_parse_i64(a->few_keys, strlen(a->few_keys), 0, INT64_MAX,
	    &a->few_keys_max) != TT_OK) {
		fprintf(stderr, "aggregator: --few-keys: expected an integer >= 0, got \"%.40s\"\n",
		    a->few_keys);
		return 2;
	}
	/* --from/--to: ISO 8601 with a zone, checked here so a typo never reaches SQL. */
	const char *times[] = { a->from, a->to };
	for (int i = 0; i < 2; i++) {
		int64_t ms;
		if (times[i] != NULL && tt_iso_parse(times[i], strlen(times[i]), TT_ISO_DATETIME, &ms) != TT_OK) {
			fprintf(stderr, "aggregator: %s: expected ISO 8601 with a time zone, got \"%.40s\"\n",
			    i == 0 ? "--from" : "--to", times[i]);
			return 2;
		}
	}
	return -1;
}

static int
run_rebuild(agg_ctx *ctx, const agg_args *a)
{
	char err[512] = "";
	rollup_counts c = { 0, 0, 0, 0 };
	const char *venue = a->venue ? a->venue : "";
	const char *from = a->from ? a->from : "-infinity";
	const char *to = a->to ? a->to : "infinity";
	double t0 = tt_mono_sec();

	if (pass_rebuild(ctx, venue, from, to, &c, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "aggregator: rebuild failed: %s\n", err);
		return 1;
	}
	printf("aggregator: rebuilt venue=%s from=%s to=%s: %lld hour, %lld day, %lld customer, "
	    "%lld show buckets in %.0f ms\n", a->venue ? venue : "(all)", from, to,
	    (long long)c.hours, (long long)c.days, (long long)c.customers, (long long)c.events,
	    (tt_mono_sec() - t0) * 1000.0);
	return 0;
}

static int
run_once(agg_ctx *ctx)
{
	char err[512] = "";
	rollup_counts c = { 0, 0, 0, 0 };
	int worked = 0;

	if (pass_run_once(ctx, &worked, &c, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "aggregator: pass failed: %s\n", err);
		return 1;
	}
	printf("aggregator: pass %s: %lld hour, %lld day, %lld customer, %lld show buckets\n",
	    worked ? "done" : "skipped (another replica holds the lock)",
	    (long long)c.hours, (long long)c.days, (long long)c.customers, (long long)c.events);
	return 0;
}

int
main(int argc, char **argv)
{
	static tt_config cfg;
	static agg_ctx ctx;
	agg_args args = { 0, 0, NULL, NULL, NULL, NULL, 0 };
	char err[512] = "";
	void *health = NULL;
	int rc;

	if ((rc = args_parse(argc, argv, &args)) >= 0)
		return rc;
	if ((rc = tt_config_main(1, argv, "aggregator", AGGREGATOR_VERSION, usage, &cfg)) >= 0)
		return rc;
	ctx.cfg = &cfg;
	ctx.few_keys_max = args.few_keys_max;
	the_ctx = &ctx;
	metrics_register(&ctx.m);

	tt_config_signals(on_signal);

	rc = 1;
	if (tt_db_new(&ctx.db, &cfg, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "aggregator: %s\n", err[0] ? err : "out of memory");
		goto out;
	}
	/* Redis: query-api's cache invalidation only; connects lazily, never fatal. */
	if (tt_redis_new_cfg(&ctx.redis, &cfg) != TT_OK) {
		fprintf(stderr, "aggregator: out of memory\n");
		goto out;
	}
	if (args.rebuild) {
		rc = run_rebuild(&ctx, &args);
		goto out;
	}
	if (args.once) {
		rc = run_once(&ctx);
		goto out;
	}
	if ((health = health_start(&ctx)) == NULL) {
		fprintf(stderr, "aggregator: cannot serve health on port %d\n",
		    cfg.aggregator_health_port);
		goto out;
	}
	tt_log(TT_LOG_INFO, "aggregator started", "version", AGGREGATOR_VERSION, NULL);
	rc = pass_loop(&ctx);
	tt_log(TT_LOG_INFO, "aggregator stopped", NULL);
out:
	health_stop(health);
	tt_redis_free(ctx.redis);
	tt_db_free(ctx.db);
	return rc;
}
