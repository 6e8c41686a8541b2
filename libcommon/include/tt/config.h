/*
 * tt/config.h - configuration from environment variables.
 *
 * One struct for every binary, with the seed's variable names and local
 * defaults; each binary reads the fields it needs. tt_config_load() validates
 * every value it reads (ranges, formats) and names the variable on error.
 * Secrets (JWT_SECRET, CUSTOMER_HASH_SALT, CACHE_SECRET, DB_PASSWORD, REDIS_PASSWORD, the
 * password inside RABBITMQ_URL) are never logged by tt_config_log().
 */
#ifndef TT_CONFIG_H
#define TT_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stddef.h>

#include "tt/error.h"

#define TT_CFG_STR 256

typedef struct {
	char node_env[32];          /* NODE_ENV: development|test|production */
	char log_level[16];         /* LOG_LEVEL: debug|info|warn|error */

	int  port;                  /* PORT: query-api HTTP (3007) */
	int  websocket_port;        /* WEBSOCKET_PORT: realtime-gateway (3008) */
	int  health_port;           /* HEALTH_PORT: health/metrics of headless binaries (ingest: 3010) */
	int  http_threads;          /* HTTP_THREADS: civetweb workers (32) */
	int  http_max_body;         /* HTTP_MAX_BODY: request body limit in bytes (1 MiB) */

	char db_host[TT_CFG_STR];   /* DB_HOST */
	int  db_port;               /* DB_PORT */
	char db_name[TT_CFG_STR];   /* DB_NAME */
	char db_user[TT_CFG_STR];   /* DB_USER */
	char db_password[TT_CFG_STR]; /* DB_PASSWORD (secret) */
	int  db_pool_max;           /* DB_POOL_MAX (10) */

	char redis_host[TT_CFG_STR]; /* REDIS_HOST */
	int  redis_port;            /* REDIS_PORT */
	char redis_password[TT_CFG_STR]; /* REDIS_PASSWORD (secret) */
	int  redis_db;              /* REDIS_DB: logical database 0..15 (0) */

	char rabbitmq_url[512];     /* RABBITMQ_URL amqp://user:pass@host:port/vhost */
	char rabbitmq_exchange[TT_CFG_STR]; /* RABBITMQ_EXCHANGE (tickettoken.events) */
	char rabbitmq_queue[TT_CFG_STR];    /* RABBITMQ_QUEUE (analytics.events) */
	char rabbitmq_dlx[TT_CFG_STR];      /* RABBITMQ_DLX (analytics.dlx) */
	char rabbitmq_dlq[TT_CFG_STR];      /* RABBITMQ_DLQ (analytics.events.dead) */
	char rabbitmq_queue_type[16];       /* RABBITMQ_QUEUE_TYPE: quorum|classic (quorum) */
	int  ingest_prefetch;       /* INGEST_PREFETCH (10000): >= 3 x batch size */
	int  ingest_batch_size;     /* INGEST_BATCH_SIZE (2500) */
	int  ingest_batch_ms;       /* INGEST_BATCH_MS (20) */
	int  reconcile_seconds;     /* RECONCILE_SECONDS (60) */

	char jwt_secret[TT_CFG_STR];  /* JWT_SECRET (secret) */
	char customer_hash_salt[TT_CFG_STR]; /* CUSTOMER_HASH_SALT: HMAC key (secret) */
	char cache_secret[TT_CFG_STR]; /* CACHE_SECRET: HMAC key of cache entries (secret) */
	int  local_cache_mb;        /* LOCAL_CACHE_MB: query-api's in-process copies (64; 0 = off) */

	int  rate_limit_max;        /* RATE_LIMIT_MAX per client and path per window (100; 0 = off) */
	int  rate_limit_window;     /* RATE_LIMIT_WINDOW seconds (60) */

	char nng_pub_url[TT_CFG_STR];  /* NNG_PUB_URL: ingest's PUB listen address */
	char nng_sub_urls[1024];       /* NNG_SUB_URLS: comma-separated PUB addresses to dial */

	int  data_retention_days;   /* DATA_RETENTION_DAYS (365) */
	char mongodb_uri[TT_CFG_STR]; /* MONGODB_URI */
	bool mongodb_enabled;       /* MONGODB_ENABLED */

	int  aggregator_interval_ms;      /* AGGREGATOR_INTERVAL_MS: time between passes (1000) */
	int  aggregator_late_window_hours; /* AGGREGATOR_LATE_WINDOW_HOURS: oldest bucket a pass rewrites (48) */
	int  aggregator_health_port;      /* AGGREGATOR_HEALTH_PORT: aggregator's /health, /metrics (3011) */

	int  gateway_health_port;         /* GATEWAY_HEALTH_PORT: realtime-gateway's /health, /metrics (3012) */
	int  gateway_max_connections;     /* GATEWAY_MAX_CONNECTIONS: transports open at once (20000) */
	int  gateway_ping_interval_ms;    /* GATEWAY_PING_INTERVAL_MS: Engine.IO pingInterval (25000) */
	int  gateway_ping_timeout_ms;     /* GATEWAY_PING_TIMEOUT_MS: Engine.IO pingTimeout (20000) */
	int  gateway_connect_timeout_ms;  /* GATEWAY_CONNECT_TIMEOUT_MS: time to join the namespace (45000) */
	int  gateway_send_queue;          /* GATEWAY_SEND_QUEUE: queued packets per connection (64) */
	int  gateway_write_timeout_ms;    /* GATEWAY_WRITE_TIMEOUT_MS: slow-client limit (10000) */
	int  gateway_max_payload;         /* GATEWAY_MAX_PAYLOAD: largest client message (65536) */
} tt_config;

/*
 * Fills cfg from the environment over the defaults. On a bad value returns
 * TT_ECONFIG with "NAME: reason" in err. In production (NODE_ENV=production)
 * JWT_SECRET, CUSTOMER_HASH_SALT and CACHE_SECRET are required; elsewhere a fixed
 * development value is used and tt_config_insecure() says so.
 */
tt_err tt_config_load(tt_config *cfg, char *err, size_t errlen);

/* True when a development default stands in for a secret. */
bool tt_config_insecure(const tt_config *cfg);

/* Logs the effective configuration, secrets masked. */
void tt_config_log(const tt_config *cfg);

/*
 * The opening of every binary's main(): --help/-h (usage to stdout) and
 * --version/-V answer and give 0; any other argument gives 2 with a line on
 * stderr. Then the configuration is loaded (a bad value: 2, the reason on
 * stderr), the JSON log opened as name at LOG_LEVEL and the configuration
 * logged (secrets masked). -1 means: carry on. Binaries with options of
 * their own parse argv themselves and call it with argc 1.
 */
int tt_config_main(int argc, char **argv, const char *name, const char *version,
    void (*usage)(FILE *), tt_config *cfg);

/*
 * SIGTERM and SIGINT run on_stop (which should only set a flag the binary's
 * loop reads); SIGPIPE is ignored, so a peer that goes away is a write
 * error, not the end of the process.
 */
void tt_config_signals(void (*on_stop)(int));

/* Returns true when NODE_ENV is production. */
bool tt_config_production(const tt_config *cfg);

#endif
