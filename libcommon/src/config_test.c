/*
 * config_test.c - tt_config_load() over a controlled environment: every
 * test starts from an environment with none of the configuration variables
 * set, sets what it needs with setenv(), and loads.
 *
 * Expected defaults are the ones written in tt/config.h's field comments and
 * proto/README.md (queue names, NNG_PUB_URL), not values read from config.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt/config.h"
#include "tt/log.h"

/* Every variable tt/config.h names. */
static const char *const all_vars[] = {
	"NODE_ENV", "LOG_LEVEL", "PORT", "WEBSOCKET_PORT", "HEALTH_PORT", "HTTP_THREADS",
	"HTTP_MAX_BODY", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD",
	"DB_POOL_MAX", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "RABBITMQ_URL",
	"RABBITMQ_EXCHANGE", "RABBITMQ_QUEUE", "RABBITMQ_DLX", "RABBITMQ_DLQ",
	"INGEST_PREFETCH", "INGEST_BATCH_SIZE", "INGEST_BATCH_MS", "RECONCILE_SECONDS",
	"JWT_SECRET", "CUSTOMER_HASH_SALT", "CACHE_SECRET", "RATE_LIMIT_MAX", "RATE_LIMIT_WINDOW",
	"NNG_PUB_URL", "NNG_SUB_URLS", "DATA_RETENTION_DAYS", "MONGODB_URI",
	"MONGODB_ENABLED",
};

/* The integer variables among them. */
static const char *const int_vars[] = {
	"PORT", "WEBSOCKET_PORT", "HEALTH_PORT", "HTTP_THREADS", "HTTP_MAX_BODY",
	"DB_PORT", "DB_POOL_MAX", "REDIS_PORT", "INGEST_PREFETCH", "INGEST_BATCH_SIZE",
	"INGEST_BATCH_MS", "RECONCILE_SECONDS", "RATE_LIMIT_MAX", "RATE_LIMIT_WINDOW",
	"DATA_RETENTION_DAYS",
};

#define SECRET32 "0123456789abcdef0123456789abcdef"      /* 32 characters */
#define SECRET31 "0123456789abcdef0123456789abcde"       /* 31 characters */

static int
clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++)
		unsetenv(all_vars[i]);
	return 0;
}

static void
set(const char *name, const char *value)
{
	assert_int_equal(setenv(name, value, 1), 0);
}

/* Loads, expecting TT_ECONFIG with err starting "NAME:". */
static void
assert_config_error_names(const char *name)
{
	tt_config cfg;
	char err[256] = "";
	char prefix[64];
	assert_int_equal(tt_config_load(&cfg, err, sizeof(err)), TT_ECONFIG);
	snprintf(prefix, sizeof(prefix), "%s:", name);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, prefix);
}

static void
load_ok(tt_config *cfg)
{
	char err[256] = "";
	tt_err e = tt_config_load(cfg, err, sizeof(err));
	if (e != TT_OK)
		fail_msg("tt_config_load: %s (%s)", tt_err_name(e), err);
}

/* ---- defaults and overrides ------------------------------------------ */

static void
test_config_defaults_integers(void **state)
{
	(void)state;
	tt_config cfg;
	load_ok(&cfg);
	assert_int_equal(cfg.port, 3007);
	assert_int_equal(cfg.websocket_port, 3008);
	assert_int_equal(cfg.health_port, 3010);
	assert_int_equal(cfg.http_threads, 32);
	assert_int_equal(cfg.http_max_body, 1024 * 1024);
	assert_int_equal(cfg.db_pool_max, 10);
	assert_int_equal(cfg.ingest_batch_ms, 20);
	assert_int_equal(cfg.reconcile_seconds, 60);
	assert_int_equal(cfg.rate_limit_max, 100);
	assert_int_equal(cfg.rate_limit_window, 60);
	assert_int_equal(cfg.data_retention_days, 365);
}

static void
test_config_default_prefetch_is_at_least_three_batches(void **state)
{
	(void)state;
	/*
	 * INGEST_PREFETCH and INGEST_BATCH_SIZE are throughput knobs the ingest
	 * owner retunes; config.h promises the relation, which is tested here.
	 */
	tt_config cfg;
	load_ok(&cfg);
	assert_true(cfg.ingest_batch_size >= 1);
	assert_true(cfg.ingest_prefetch >= 3 * cfg.ingest_batch_size);
}

static void
test_config_defaults_amqp_topology_names(void **state)
{
	(void)state;
	tt_config cfg;
	load_ok(&cfg);
	assert_string_equal(cfg.rabbitmq_exchange, "tickettoken.events");
	assert_string_equal(cfg.rabbitmq_queue, "analytics.events");
	assert_string_equal(cfg.rabbitmq_dlx, "analytics.dlx");
	assert_string_equal(cfg.rabbitmq_dlq, "analytics.events.dead");
}

static void
test_config_defaults_nng_pub_url(void **state)
{
	(void)state;
	tt_config cfg;
	load_ok(&cfg);
	assert_string_equal(cfg.nng_pub_url, "tcp://127.0.0.1:5560");
}

static void
test_config_default_environment_is_not_production(void **state)
{
	(void)state;
	tt_config cfg;
	load_ok(&cfg);
	assert_false(tt_config_production(&cfg));
}

static void
test_config_env_overrides_integer(void **state)
{
	(void)state;
	tt_config cfg;
	set("PORT", "8080");
	set("INGEST_BATCH_SIZE", "250");
	load_ok(&cfg);
	assert_int_equal(cfg.port, 8080);
	assert_int_equal(cfg.ingest_batch_size, 250);
}

static void
test_config_env_overrides_string(void **state)
{
	(void)state;
	tt_config cfg;
	set("DB_HOST", "db.internal");
	set("RABBITMQ_QUEUE", "q2");
	load_ok(&cfg);
	assert_string_equal(cfg.db_host, "db.internal");
	assert_string_equal(cfg.rabbitmq_queue, "q2");
}

static void
test_config_port_bounds_are_accepted(void **state)
{
	(void)state;
	tt_config cfg;
	set("PORT", "1");
	set("DB_PORT", "65535");
	load_ok(&cfg);
	assert_int_equal(cfg.port, 1);
	assert_int_equal(cfg.db_port, 65535);
}

static void
test_config_rate_limit_zero_means_off_and_is_accepted(void **state)
{
	(void)state;
	tt_config cfg;
	set("RATE_LIMIT_MAX", "0");
	load_ok(&cfg);
	assert_int_equal(cfg.rate_limit_max, 0);
}

static void
test_config_mongodb_enabled_true(void **state)
{
	(void)state;
	tt_config cfg;
	set("MONGODB_ENABLED", "true");
	load_ok(&cfg);
	assert_true(cfg.mongodb_enabled);
}

static void
test_config_mongodb_enabled_false(void **state)
{
	(void)state;
	tt_config cfg;
	set("MONGODB_ENABLED", "false");
	load_ok(&cfg);
	assert_false(cfg.mongodb_enabled);
}

/* ---- bad values name the variable -------------------------------------- */

static void
test_config_non_numeric_integer_names_the_variable(void **state)
{
	(void)state;
	set("PORT", "abc");
	assert_config_error_names("PORT");
}

static void
test_config_every_integer_variable_is_validated(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(int_vars) / sizeof(int_vars[0]); i++) {
		clear_env(NULL);
		set(int_vars[i], "12x");
		assert_config_error_names(int_vars[i]);
	}
}

static void
test_config_port_zero_is_rejected(void **state)
{
	(void)state;
	set("PORT", "0");
	assert_config_error_names("PORT");
}

static void
test_config_port_65536_is_rejected(void **state)
{
	(void)state;
	set("REDIS_PORT", "65536");
	assert_config_error_names("REDIS_PORT");
}

static void
test_config_negative_integer_is_rejected(void **state)
{
	(void)state;
	set("DB_POOL_MAX", "-1");
	assert_config_error_names("DB_POOL_MAX");
}

static void
test_config_integer_with_space_is_rejected(void **state)
{
	(void)state;
	set("HEALTH_PORT", "3010 ");
	assert_config_error_names("HEALTH_PORT");
}

static void
test_config_integer_overflow_is_rejected(void **state)
{
	(void)state;
	set("INGEST_BATCH_SIZE", "99999999999999999999999");
	assert_config_error_names("INGEST_BATCH_SIZE");
}

static void
test_config_bad_boolean_names_the_variable(void **state)
{
	(void)state;
	set("MONGODB_ENABLED", "maybe");
	assert_config_error_names("MONGODB_ENABLED");
}

static void
test_config_unknown_node_env_is_rejected(void **state)
{
	(void)state;
	set("NODE_ENV", "staging");
	assert_config_error_names("NODE_ENV");
}

static void
test_config_unknown_log_level_is_rejected(void **state)
{
	(void)state;
	set("LOG_LEVEL", "verbose");
	assert_config_error_names("LOG_LEVEL");
}

static void
test_config_known_log_level_is_accepted(void **state)
{
	(void)state;
	tt_config cfg;
	set("LOG_LEVEL", "debug");
	load_ok(&cfg);
	assert_string_equal(cfg.log_level, "debug");
}

static void
test_config_rabbitmq_url_must_be_amqp(void **state)
{
	(void)state;
	set("RABBITMQ_URL", "http://guest:guest@127.0.0.1:5672/");
	assert_config_error_names("RABBITMQ_URL");
}

static void
test_config_rabbitmq_url_amqps_is_accepted(void **state)
{
	(void)state;
	tt_config cfg;
	set("RABBITMQ_URL", "amqps://u:p@mq.example:5671/vh");
	load_ok(&cfg);
	assert_string_equal(cfg.rabbitmq_url, "amqps://u:p@mq.example:5671/vh");
}

static void
test_config_string_longer_than_field_is_rejected(void **state)
{
	(void)state;
	char big[TT_CFG_STR + 1];
	memset(big, 'h', TT_CFG_STR);
	big[TT_CFG_STR] = '\0';       /* 256 characters: one more than fits */
	set("DB_HOST", big);
	assert_config_error_names("DB_HOST");
}

static void
test_config_string_filling_field_is_accepted(void **state)
{
	(void)state;
	tt_config cfg;
	char big[TT_CFG_STR];
	memset(big, 'h', TT_CFG_STR - 1);
	big[TT_CFG_STR - 1] = '\0';   /* 255 characters + NUL */
	set("DB_HOST", big);
	load_ok(&cfg);
	assert_string_equal(cfg.db_host, big);
}

static void
test_config_leaves_cfg_untouched_on_error(void **state)
{
	(void)state;
	tt_config cfg, before;
	char err[256];
	memset(&cfg, 0xa5, sizeof(cfg));
	memcpy(&before, &cfg, sizeof(cfg));
	set("PORT", "nope");
	assert_int_equal(tt_config_load(&cfg, err, sizeof(err)), TT_ECONFIG);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

/* ---- secrets ----------------------------------------------------------- */

static void
test_config_production_requires_jwt_secret(void **state)
{
	(void)state;
	set("NODE_ENV", "production");
	set("CUSTOMER_HASH_SALT", SECRET32);
	assert_config_error_names("JWT_SECRET");
}

static void
test_config_production_rejects_31_char_jwt_secret(void **state)
{
	(void)state;
	set("NODE_ENV", "production");
	set("JWT_SECRET", SECRET31);
	set("CUSTOMER_HASH_SALT", SECRET32);
	assert_config_error_names("JWT_SECRET");
}

static void
test_config_production_requires_customer_hash_salt(void **state)
{
	(void)state;
	set("NODE_ENV", "production");
	set("JWT_SECRET", SECRET32);
	assert_config_error_names("CUSTOMER_HASH_SALT");
}

static void
test_config_production_rejects_31_char_salt(void **state)
{
	(void)state;
	set("NODE_ENV", "production");
	set("JWT_SECRET", SECRET32);
	set("CUSTOMER_HASH_SALT", SECRET31);
	assert_config_error_names("CUSTOMER_HASH_SALT");
}

static void
test_config_production_requires_cache_secret(void **state)
{
	(void)state;
	set("NODE_ENV", "production");
	set("JWT_SECRET", SECRET32);
	set("CUSTOMER_HASH_SALT", SECRET32);
	assert_config_error_names("CACHE_SECRET");
	set("CACHE_SECRET", SECRET31);
	assert_config_error_names("CACHE_SECRET");
}

static void
test_config_production_accepts_32_char_secrets(void **state)
{
	(void)state;
	tt_config cfg;
	set("NODE_ENV", "production");
	set("JWT_SECRET", SECRET32);
	set("CUSTOMER_HASH_SALT", "fedcba9876543210fedcba9876543210");
	set("CACHE_SECRET", "0123456789abcdef0123456789abcdef");
	load_ok(&cfg);
	assert_true(tt_config_production(&cfg));
	assert_false(tt_config_insecure(&cfg));
	assert_string_equal(cfg.jwt_secret, SECRET32);
	assert_string_equal(cfg.customer_hash_salt, "fedcba9876543210fedcba9876543210");
}

static void
test_config_development_fills_default_secrets_and_is_insecure(void **state)
{
	(void)state;
	tt_config cfg;
	set("NODE_ENV", "development");
	load_ok(&cfg);
	assert_true(strlen(cfg.jwt_secret) > 0);
	assert_true(strlen(cfg.customer_hash_salt) > 0);
	assert_true(tt_config_insecure(&cfg));
	assert_false(tt_config_production(&cfg));
}

static void
test_config_development_with_both_secrets_is_not_insecure(void **state)
{
	(void)state;
	tt_config cfg;
	set("JWT_SECRET", "short-dev-secret");
	set("CUSTOMER_HASH_SALT", "short-dev-salt");
	set("CACHE_SECRET", "short-dev-cache-secret");
	load_ok(&cfg);
	assert_string_equal(cfg.jwt_secret, "short-dev-secret");
	assert_string_equal(cfg.customer_hash_salt, "short-dev-salt");
	assert_false(tt_config_insecure(&cfg));
}

static void
test_config_development_with_only_jwt_secret_is_still_insecure(void **state)
{
	(void)state;
	tt_config cfg;
	set("JWT_SECRET", SECRET32);
	load_ok(&cfg);
	assert_string_equal(cfg.jwt_secret, SECRET32);
	assert_true(strlen(cfg.customer_hash_salt) > 0);
	assert_true(tt_config_insecure(&cfg));
}

static void
test_config_test_environment_is_accepted(void **state)
{
	(void)state;
	tt_config cfg;
	set("NODE_ENV", "test");
	load_ok(&cfg);
	assert_string_equal(cfg.node_env, "test");
	assert_false(tt_config_production(&cfg));
}

/* Runs tt_config_log with stdout captured into a heap string. */
static char *
capture_config_log(const tt_config *cfg)
{
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	tt_config_log(cfg);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);

	assert_int_equal(fseek(tmp, 0, SEEK_END), 0);
	long n = ftell(tmp);
	assert_true(n > 0);
	char *s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	rewind(tmp);
	assert_int_equal(fread(s, 1, (size_t)n, tmp), (size_t)n);
	fclose(tmp);
	return s;
}

static void
test_config_log_never_prints_secrets(void **state)
{
	(void)state;
	tt_config cfg;
	set("JWT_SECRET", "jwt-SECRET-a1b2c3d4e5f6a1b2c3d4e5f6");
	set("CUSTOMER_HASH_SALT", "salt-SECRET-a1b2c3d4e5f6a1b2c3d4e5");
	set("DB_PASSWORD", "dbpw-SECRET-91");
	set("REDIS_PASSWORD", "redispw-SECRET-92");
	set("RABBITMQ_URL", "amqp://mquser:mqpw-SECRET-93@mq.local:5672/");
	load_ok(&cfg);
	tt_log_init("config_test", TT_LOG_DEBUG);
	char *out = capture_config_log(&cfg);
	tt_log_init("config_test", TT_LOG_INFO);

	assert_non_null(strstr(out, "JWT_SECRET"));    /* the name is logged */
	assert_non_null(strstr(out, "DB_HOST"));
	assert_null(strstr(out, "jwt-SECRET"));
	assert_null(strstr(out, "salt-SECRET"));
	assert_null(strstr(out, "dbpw-SECRET"));
	assert_null(strstr(out, "redispw-SECRET"));
	assert_null(strstr(out, "mqpw-SECRET"));
	free(out);
}

#define T(f) cmocka_unit_test_setup(f, clear_env)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config_defaults_integers),
		T(test_config_default_prefetch_is_at_least_three_batches),
		T(test_config_defaults_amqp_topology_names),
		T(test_config_defaults_nng_pub_url),
		T(test_config_default_environment_is_not_production),
		T(test_config_env_overrides_integer),
		T(test_config_env_overrides_string),
		T(test_config_port_bounds_are_accepted),
		T(test_config_rate_limit_zero_means_off_and_is_accepted),
		T(test_config_mongodb_enabled_true),
		T(test_config_mongodb_enabled_false),
		T(test_config_non_numeric_integer_names_the_variable),
		T(test_config_every_integer_variable_is_validated),
		T(test_config_port_zero_is_rejected),
		T(test_config_port_65536_is_rejected),
		T(test_config_negative_integer_is_rejected),
		T(test_config_integer_with_space_is_rejected),
		T(test_config_integer_overflow_is_rejected),
		T(test_config_bad_boolean_names_the_variable),
		T(test_config_unknown_node_env_is_rejected),
		T(test_config_unknown_log_level_is_rejected),
		T(test_config_known_log_level_is_accepted),
		T(test_config_rabbitmq_url_must_be_amqp),
		T(test_config_rabbitmq_url_amqps_is_accepted),
		T(test_config_string_longer_than_field_is_rejected),
		T(test_config_string_filling_field_is_accepted),
		T(test_config_leaves_cfg_untouched_on_error),
		T(test_config_production_requires_jwt_secret),
		T(test_config_production_rejects_31_char_jwt_secret),
		T(test_config_production_requires_customer_hash_salt),
		T(test_config_production_rejects_31_char_salt),
		T(test_config_production_requires_cache_secret),
		T(test_config_production_accepts_32_char_secrets),
		T(test_config_development_fills_default_secrets_and_is_insecure),
		T(test_config_development_with_both_secrets_is_not_insecure),
		T(test_config_development_with_only_jwt_secret_is_still_insecure),
		T(test_config_test_environment_is_accepted),
		T(test_config_log_never_prints_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
