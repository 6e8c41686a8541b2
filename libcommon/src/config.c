/*
 * config.c - the environment read through one table of descriptors: name,
 * kind, default, bounds and the field it fills. Adding a variable is adding a
 * row here and a field in tt_config.
 */
#include "tt/config.h"
#include "tt/log.h"
#include "tt/strparse.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEV_JWT_SECRET "dev-only-insecure-jwt-secret"
#define DEV_HASH_SALT  "dev-only-insecure-customer-hash-salt"
#define DEV_CACHE_SECRET "dev-only-insecure-cache-secret"

typedef enum { CFG_STR, CFG_INT, CFG_BOOL } cfg_kind;

typedef struct {
	const char *name;
	cfg_kind    kind;
	const char *def;
	int64_t     min, max;     /* CFG_INT bounds; CFG_STR max length */
	size_t      off, size;
	bool        secret;
} cfg_var;

#define S(n, f, d, sec) { n, CFG_STR, d, 0, 0, offsetof(tt_config, f), sizeof(((tt_config *)0)->f), sec }
#define I(n, f, d, lo, hi) { n, CFG_INT, d, lo, hi, offsetof(tt_config, f), sizeof(int), false }
#define B(n, f, d) { n, CFG_BOOL, d, 0, 1, offsetof(tt_config, f), sizeof(bool), false }

static const cfg_var cfg_vars[] = {
	S("NODE_ENV", node_env, "development", false),
	S("LOG_LEVEL", log_level, "info", false),
	I("PORT", port, "3007", 1, 65535),
	I("WEBSOCKET_PORT", websocket_port, "3008", 1, 65535),
	I("HEALTH_PORT", health_port, "3010", 1, 65535),
	I("HTTP_THREADS", http_threads, "32", 1, 1024),
	I("HTTP_MAX_BODY", http_max_body, "1048576", 1024, 64 * 1024 * 1024),
	S("DB_HOST", db_host, "127.0.0.1", false),
	I("DB_PORT", db_port, "5432", 1, 65535),
	S("DB_NAME", db_name, "tickettoken_db", false),
	S("DB_USER", db_user, "postgres", false),
	S("DB_PASSWORD", db_password, "", true),
	I("DB_POOL_MAX", db_pool_max, "10", 1, 512),
	S("REDIS_HOST", redis_host, "127.0.0.1", false),
	I("REDIS_PORT", redis_port, "6379", 1, 65535),
	S("REDIS_PASSWORD", redis_password, "", true),
	I("REDIS_DB", redis_db, "0", 0, 15),
	S("RABBITMQ_URL", rabbitmq_url, "amqp://guest:guest@127.0.0.1:5672/", true),
	S("RABBITMQ_EXCHANGE", rabbitmq_exchange, "tickettoken.events", false),
	S("RABBITMQ_QUEUE", rabbitmq_queue, "analytics.events", false),
	S("RABBITMQ_DLX", rabbitmq_dlx, "analytics.dlx", false),
	S("RABBITMQ_DLQ", rabbitmq_dlq, "analytics.events.dead", false),
	S("RABBITMQ_QUEUE_TYPE", rabbitmq_queue_type, "quorum", false),
	I("INGEST_PREFETCH", ingest_prefetch, "10000", 1, 65535),
	I("INGEST_BATCH_SIZE", ingest_batch_size, "2500", 1, 20000),
	I("INGEST_BATCH_MS", ingest_batch_ms, "20", 1, 10000),
	I("RECONCILE_SECONDS", reconcile_seconds, "60", 1, 86400),
	S("JWT_SECRET", jwt_secret, "", true),
	S("CUSTOMER_HASH_SALT", customer_hash_salt, "", true),
	S("CACHE_SECRET", cache_secret, "", true),
	I("LOCAL_CACHE_MB", local_cache_mb, "64", 0, 65536),
	I("RATE_LIMIT_MAX", rate_limit_max, "100", 0, 100000000),
	I("RATE_LIMIT_WINDOW", rate_limit_window, "60", 1, 86400),
	S("NNG_PUB_URL", nng_pub_url, "tcp://127.0.0.1:5560", false),
	S("NNG_SUB_URLS", nng_sub_urls, "tcp://127.0.0.1:5560", false),
	I("DATA_RETENTION_DAYS", data_retention_days, "365", 1, 36500),
	S("MONGODB_URI", mongodb_uri, "mongodb://127.0.0.1:27017/analytics", true),
	B("MONGODB_ENABLED", mongodb_enabled, "false"),
	I("AGGREGATOR_INTERVAL_MS", aggregator_interval_ms, "1000", 10, 3600000),
	I("AGGREGATOR_LATE_WINDOW_HOURS", aggregator_late_window_hours, "48", 1, 10000000),
	I("AGGREGATOR_HEALTH_PORT", aggregator_health_port, "3011", 1, 65535),
	I("GATEWAY_HEALTH_PORT", gateway_health_port, "3012", 1, 65535),
	I("GATEWAY_MAX_CONNECTIONS", gateway_max_connections, "20000", 1, 1000000),
	I("GATEWAY_PING_INTERVAL_MS", gateway_ping_interval_ms, "25000", 100, 3600000),
	I("GATEWAY_PING_TIMEOUT_MS", gateway_ping_timeout_ms, "20000", 100, 3600000),
	I("GATEWAY_CONNECT_TIMEOUT_MS", gateway_connect_timeout_ms, "45000", 100, 3600000),
	I("GATEWAY_SEND_QUEUE", gateway_send_queue, "64", 4, 65536),
	I("GATEWAY_WRITE_TIMEOUT_MS", gateway_write_timeout_ms, "10000", 100, 3600000),
	I("GATEWAY_MAX_PAYLOAD", gateway_max_payload, "65536", 1024, 16777216),
};

#undef S
#undef I
#undef B

static tt_err
cfg_set(tt_config *cfg, const cfg_var *v, const char *val, char *err, size_t errlen)
{
	char *field = (char *)cfg + v->off;
	size_t len = strlen(val);

	switch (v->kind) {
	case CFG_STR:
		if (len >= v->size)
			return tt_seterr(err, errlen, TT_ECONFIG,
			    "%s: longer than %zu characters", v->name, v->size - 1);
		memcpy(field, val, len + 1);
		return TT_OK;
	case CFG_INT: {
		int64_t n;
		tt_err e = tt_parse_i64(val, len, v->min, v->max, &n);
		if (e != TT_OK)
			return tt_seterr(err, errlen, TT_ECONFIG,
			    "%s: expected an integer in [%lld, %lld], got \"%.40s\"",
			    v->name, (long long)v->min, (long long)v->max, val);
		*(int *)field = (int)n;
		return TT_OK;
	}
	case CFG_BOOL: {
		int b;
		if (tt_parse_bool(val, len, &b) != TT_OK)
			return tt_seterr(err, errlen, TT_ECONFIG,
			    "%s: expected true or false, got \"%.40s\"", v->name, val);
		*(bool *)field = b != 0;
		return TT_OK;
	}
	}
	return TT_EINVAL;
}

tt_err
tt_config_load(tt_config *cfg, char *err, size_t errlen)
{
	tt_config tmp;
	tt_err e;

	memset(&tmp, 0, sizeof(tmp));
	for (size_t i = 0; i < sizeof(cfg_vars) / sizeof(cfg_vars[0]); i++) {
		const cfg_var *v = &cfg_vars[i];
		const char *val = getenv(v->name);
		if (val == NULL || val[0] == '\0')
			val = v->def;
		if ((e = cfg_set(&tmp, v, val, err, errlen)) != TT_OK)
			return e;
	}
	if (strcmp(tmp.node_env, "development") != 0 &&
	    strcmp(tmp.node_env, "test") != 0 &&
	    strcmp(tmp.node_env, "production") != 0)
		return tt_seterr(err, errlen, TT_ECONFIG,
		    "NODE_ENV: expected development, test or production");
	if (tt_log_level_parse(tmp.log_level) < 0)
		return tt_seterr(err, errlen, TT_ECONFIG,
		    "LOG_LEVEL: expected debug, info, warn or error");
	if (strcmp(tmp.rabbitmq_queue_type, "quorum") != 0 &&
	    strcmp(tmp.rabbitmq_queue_type, "classic") != 0)
		return tt_seterr(err, errlen, TT_ECONFIG,
		    "RABBITMQ_QUEUE_TYPE: expected quorum or classic");
	if (strncmp(tmp.rabbitmq_url, "amqp://", 7) != 0 &&
	    strncmp(tmp.rabbitmq_url, "amqps://", 8) != 0)
		return tt_seterr(err, errlen, TT_ECONFIG,
		    "RABBITMQ_URL: expected amqp://user:password@host:port/vhost");
	if (tt_config_production(&tmp)) {
		if (tmp.jwt_secret[0] == '\0' || strlen(tmp.jwt_secret) < 32)
			return tt_seterr(err, errlen, TT_ECONFIG,
			    "JWT_SECRET: required in production, at least 32 characters");
		if (tmp.customer_hash_salt[0] == '\0' || strlen(tmp.customer_hash_salt) < 32)
			return tt_seterr(err, errlen, TT_ECONFIG,
			    "CUSTOMER_HASH_SALT: required in production, at least 32 characters");
		if (tmp.cache_secret[0] == '\0' || strlen(tmp.cache_secret) < 32)
			return tt_seterr(err, errlen, TT_ECONFIG,
			    "CACHE_SECRET: required in production, at least 32 characters");
	} else {
		if (tmp.jwt_secret[0] == '\0')
			memcpy(tmp.jwt_secret, DEV_JWT_SECRET, sizeof(DEV_JWT_SECRET));
		if (tmp.customer_hash_salt[0] == '\0')
			memcpy(tmp.customer_hash_salt, DEV_HASH_SALT, sizeof(DEV_HASH_SALT));
		if (tmp.cache_secret[0] == '\0')
			memcpy(tmp.cache_secret, DEV_CACHE_SECRET, sizeof(DEV_CACHE_SECRET));
	}
	*cfg = tmp;
	return TT_OK;
}

bool
tt_config_production(const tt_config *cfg)
{
	return strcmp(cfg->node_env, "production") == 0;
}

bool
tt_config_insecure(const tt_config *cfg)
{
	return strcmp(cfg->jwt_secret, DEV_JWT_SECRET) == 0 ||
	    strcmp(cfg->customer_hash_salt, DEV_HASH_SALT) == 0 ||
	    strcmp(cfg->cache_secret, DEV_CACHE_SECRET) == 0;
}

void
tt_config_log(const tt_config *cfg)
{
	for (size_t i = 0; i < sizeof(cfg_vars) / sizeof(cfg_vars[0]); i++) {
		const cfg_var *v = &cfg_vars[i];
		const char *field = (const char *)cfg + v->off;
		char val[64];

		if (v->secret)
			snprintf(val, sizeof(val), "%s", field[0] ? "(set)" : "(empty)");
		else if (v->kind == CFG_STR)
			snprintf(val, sizeof(val), "%s", field);
		else if (v->kind == CFG_INT)
			snprintf(val, sizeof(val), "%d", *(const int *)field);
		else
			snprintf(val, sizeof(val), "%s", *(const bool *)field ? "true" : "false");
		tt_log(TT_LOG_DEBUG, "config", "name", v->name, "value", val, NULL);
	}
	if (tt_config_insecure(cfg))
		tt_log(TT_LOG_WARN, "development secrets in use: set JWT_SECRET, CUSTOMER_HASH_SALT and CACHE_SECRET",
		    NULL);
}

int
tt_config_main(int argc, char **argv, const char *name, const char *version,
    void (*usage)(FILE *), tt_config *cfg)
{
	char err[512] = "";
	int level;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("%s %s\n", name, version);
			return 0;
		}
		fprintf(stderr, "%s: unknown argument '%s' (see --help)\n", name, argv[i]);
		return 2;
	}
	if (tt_config_load(cfg, err, sizeof(err)) != TT_OK) {
		fprintf(stderr, "%s: %s\n", name, err);
		return 2;
	}
	level = tt_log_level_parse(cfg->log_level);
	tt_log_init(name, level < 0 ? TT_LOG_INFO : (tt_log_level)level);
	tt_config_log(cfg);
	return -1;
}

void
tt_config_signals(void (*on_stop)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
