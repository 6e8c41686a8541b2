/*
 * log.c - JSON-lines records assembled in a bounded stack buffer and written
 * with one write(2), so lines from several threads never interleave. A record
 * longer than the buffer is truncated and marked, never split.
 */
#include "tt/log.h"
#include "tt/strbuf.h"
#include "tt/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static char log_service[64] = "tickettoken";
static tt_log_level log_min = TT_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
tt_log_init(const char *service, tt_log_level min)
{
	if (service != NULL)
		snprintf(log_service, sizeof(log_service), "%s", service);
	log_min = min;
}

int
tt_log_enabled(tt_log_level level)
{
	return level >= log_min;
}

int
tt_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (s != NULL && strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

static void
log_emit(tt_log_level level, const char *msg, va_list *kv)
{
	char line[LOG_LINE_MAX];
	char ts[TT_ISO_MAX];
	tt_strbuf b;

	tt_iso_format(tt_now_ms(), ts);

	tt_strbuf_init_fixed(&b, line, sizeof(line) - 2);
	tt_strbuf_puts(&b, "{\"ts\":\"");
	tt_strbuf_puts(&b, ts);
	tt_strbuf_puts(&b, "\",\"level\":\"");
	tt_strbuf_puts(&b, level_names[level]);
	tt_strbuf_puts(&b, "\",\"service\":");
	tt_strbuf_json_str(&b, log_service);
	tt_strbuf_puts(&b, ",\"msg\":");
	tt_strbuf_json_str(&b, msg);
	if (kv != NULL) {
		const char *k;
		while ((k = va_arg(*kv, const char *)) != NULL) {
			const char *v = va_arg(*kv, const char *);
			tt_strbuf_putc(&b, ',');
			tt_strbuf_json_str(&b, k);
			tt_strbuf_putc(&b, ':');
			if (v == NULL)
				tt_strbuf_puts(&b, "null");
			else
				tt_strbuf_json_str(&b, v);
		}
	}
	if (tt_strbuf_truncated(&b)) {
		/* Keep the line valid JSON: cut back to the fixed prefix. */
		tt_strbuf_init_fixed(&b, line, sizeof(line) - 2);
		tt_strbuf_puts(&b, "{\"ts\":\"");
		tt_strbuf_puts(&b, ts);
		tt_strbuf_puts(&b, "\",\"level\":\"");
		tt_strbuf_puts(&b, level_names[level]);
		tt_strbuf_puts(&b, "\",\"msg\":\"log record truncated\"");
	}
	size_t n = tt_strbuf_len(&b);
	line[n++] = '}';
	line[n++] = '\n';
	ssize_t w = write(STDOUT_FILENO, line, n);
	(void)w;
}

void
tt_log(tt_log_level level, const char *msg, ...)
{
	va_list ap;

	if (level < log_min || level > TT_LOG_ERROR)
		return;
	va_start(ap, msg);
	log_emit(level, msg, &ap);
	va_end(ap);
}

void
tt_logf(tt_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level < log_min || level > TT_LOG_ERROR)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_emit(level, msg, NULL);
}
