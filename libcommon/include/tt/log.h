/*
 * tt/log.h - JSON-lines logging to stdout.
 *
 * One line per record: {"ts":"…Z","level":"info","service":"ingest","msg":"…",k:v…}.
 * Thread-safe (one write(2) per line). Values are strings and are JSON-escaped;
 * callers format numbers themselves. Never pass a secret as a value.
 */
#ifndef TT_LOG_H
#define TT_LOG_H

typedef enum {
	TT_LOG_DEBUG = 0,
	TT_LOG_INFO,
	TT_LOG_WARN,
	TT_LOG_ERROR,
} tt_log_level;

/* Sets the service name stamped on every line and the minimum level. */
void tt_log_init(const char *service, tt_log_level min);

/* True when records of this level are written (skip building them otherwise). */
int tt_log_enabled(tt_log_level level);

/* Parses "debug"|"info"|"warn"|"error"; returns -1 for anything else. */
int tt_log_level_parse(const char *s);

/*
 * Writes one record: msg, then key/value string pairs ending with NULL.
 *     tt_log(TT_LOG_INFO, "batch committed", "rows", "512", NULL);
 * A NULL value is written as JSON null.
 */
void tt_log(tt_log_level level, const char *msg, ...);

/* printf-style message without fields. */
void tt_logf(tt_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define tt_info(...)  tt_logf(TT_LOG_INFO, __VA_ARGS__)
#define tt_warn(...)  tt_logf(TT_LOG_WARN, __VA_ARGS__)
#define tt_error(...) tt_logf(TT_LOG_ERROR, __VA_ARGS__)
#define tt_debug(...) tt_logf(TT_LOG_DEBUG, __VA_ARGS__)

#endif
