/*
 * metrics.c - the Prometheus registry behind tt/metrics.h.
 *
 * Families are kept in a list in registration order, each with its series
 * in registration order, so that the exposition is stable (tests compare it
 * byte for byte). A chained hash table on (name, labels) finds a series for
 * the idempotent registration calls. One rwlock guards the structure: the
 * lookups of hot paths take it for reading, a first registration for
 * writing. Values are C11 atomics, so updates never lock; a double is stored
 * as its bit pattern in an _Atomic uint64_t and added with a CAS loop.
 *
 * A histogram keeps one non-cumulative count per bucket plus the overflow;
 * render sums them, so the +Inf bucket always equals _count within one
 * rendering even while observations race with it.
 */
#include "tt/metrics.h"
#include "tt/log.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_SLOTS 1024

const double tt_metrics_latency_buckets[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};
const size_t tt_metrics_latency_nbuckets =
    sizeof(tt_metrics_latency_buckets) / sizeof(tt_metrics_latency_buckets[0]);

typedef struct metric_family metric_family;

struct tt_metric {
	tt_metric_type    type;      /* 0 for the sink */
	metric_family    *fam;
	char             *labels;    /* "" when none */
	_Atomic uint64_t  bits;      /* counter/gauge value (double bits) */
	_Atomic uint64_t  sum_bits;  /* histogram sum (double bits) */
	_Atomic uint64_t *buckets;   /* histogram: nbounds + 1 (overflow) */
	tt_metric        *fam_next;
	tt_metric        *hash_next;
};

struct metric_family {
	char           *name;
	char           *help;
	tt_metric_type  type;
	double          bounds[TT_METRICS_MAX_BUCKETS];
	size_t          nbounds;
	tt_metric      *first, *last;
	metric_family  *next;
};

struct tt_metrics {
	pthread_rwlock_t  lock;
	metric_family    *first, *last;
	tt_metric        *slots[HASH_SLOTS];
	size_t            nseries;
	_Atomic uint64_t  dropped;
	tt_metric         sink;
};

/* ---- doubles as atomic bit patterns ----------------------------------- */

static uint64_t
dbl_bits(double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return u;
}

static double
bits_dbl(uint64_t u)
{
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

static void
atomic_dbl_add(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old,
	    dbl_bits(bits_dbl(old) + v), memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---- validation -------------------------------------------------------- */

static bool
name_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL || s[0] == '\0')
		return false;
	for (; s[n] != '\0'; n++) {
		char c = s[n];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
		if (!alpha && !(n > 0 && c >= '0' && c <= '9'))
			return false;
		if (n >= TT_METRICS_NAME_MAX)
			return false;
	}
	return true;
}

/* key="value"(,key="value")* with Prometheus escapes inside the quotes. */
static bool
labels_valid(const char *s)
{
	size_t i = 0;

	if (strlen(s) > TT_METRICS_LABELS_MAX)
		return false;
	while (s[i] != '\0') {
		size_t k = i;
		while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    s[i] == '_' || (i > k && s[i] >= '0' && s[i] <= '9'))
			i++;
		if (i == k || s[i] != '=' || s[i + 1] != '"')
			return false;
		i += 2;
		while (s[i] != '"') {
			if (s[i] == '\0' || s[i] == '\n')
				return false;
			if (s[i] == '\\') {
				if (s[i + 1] != '\\' && s[i + 1] != '"' && s[i + 1] != 'n')
					return false;
				i++;
			}
			i++;
		}
		i++;
		if (s[i] == ',' && s[i + 1] != '\0')
			i++;
		else if (s[i] != '\0')
			return false;
	}
	return true;
}

static bool
bounds_valid(const double *b, size_t n)
{
	if (n > TT_METRICS_MAX_BUCKETS)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(b[i]) || (i > 0 && !(b[i] > b[i - 1])))
			return false;
	}
	return true;
}

/* ---- registry ------------------------------------------------------------ */

tt_metrics *
tt_metrics_new(void)
{
	tt_metrics *reg = calloc(1, sizeof(*reg));

	if (reg == NULL)
		return NULL;
	if (pthread_rwlock_init(&reg->lock, NULL) != 0) {
		free(reg);
		return NULL;
	}
	reg->sink.labels = (char *)"";
	return reg;
}

static void
metric_free(tt_metric *m)
{
	free(m->labels);
	free(m->buckets);
	free(m);
}

void
tt_metrics_free(tt_metrics *reg)
{
	if (reg == NULL)
		return;
	for (metric_family *f = reg->first, *fn; f != NULL; f = fn) {
		fn = f->next;
		for (tt_metric *m = f->first, *mn; m != NULL; m = mn) {
			mn = m->fam_next;
			metric_free(m);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	pthread_rwlock_destroy(&reg->lock);
	free(reg);
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static tt_metrics *default_reg;

static void
default_init(void)
{
	default_reg = tt_metrics_new();
}

tt_metrics *
tt_metrics_default(void)
{
	pthread_once(&default_once, default_init);
	return default_reg;
}

static size_t
series_hash(const char *name, const char *labels)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (const char *p = labels; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (size_t)(h % HASH_SLOTS);
}

static tt_metric *
series_find(tt_metrics *reg, size_t slot, const char *name, const char *labels)
{
	for (tt_metric *m = reg->slots[slot]; m != NULL; m = m->hash_next)
		if (strcmp(m->fam->name, name) == 0 && strcmp(m->labels, labels) == 0)
			return m;
	return NULL;
}

static metric_family *
family_find(tt_metrics *reg, const char *name)
{
	for (metric_family *f = reg->first; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static tt_metric *
dropped(tt_metrics *reg, const char *name, const char *why)
{
	/* Hot paths may ask again and again: only the first few are logged. */
	if (atomic_fetch_add(&reg->dropped, 1) < 10)
		tt_log(TT_LOG_WARN, "metric registration refused", "metric",
		    name ? name : "(null)", "reason", why, NULL);
	return &reg->sink;
}

/* Creates the family (if new) and the series, under the write lock. */
static tt_metric *
series_create(tt_metrics *reg, size_t slot, tt_metric_type type,
    const char *name, const char *help, const char *labels,
    const double *bounds, size_t nbounds)
{
	metric_family *f = family_find(reg, name);
	tt_metric *m;

	if (f != NULL && f->type != type)
		return dropped(reg, name, "registered with another type");
	if (reg->nseries >= TT_METRICS_MAX_SERIES)
		return dropped(reg, name, "series limit reached");
	if (f == NULL) {
		f = calloc(1, sizeof(*f));
		if (f == NULL)
			return dropped(reg, name, "out of memory");
		f->name = strdup(name);
		f->help = strdup(help ? help : "");
		if (f->name == NULL || f->help == NULL) {
			free(f->name);
			free(f->help);
			free(f);
			return dropped(reg, name, "out of memory");
		}
		f->type = type;
		if (type == TT_METRIC_HISTOGRAM) {
			memcpy(f->bounds, bounds, nbounds * sizeof(double));
			f->nbounds = nbounds;
		}
		if (reg->last != NULL)
			reg->last->next = f;
		else
			reg->first = f;
		reg->last = f;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return dropped(reg, name, "out of memory");
	m->type = type;
	m->fam = f;
	m->labels = strdup(labels);
	if (type == TT_METRIC_HISTOGRAM)
		m->buckets = calloc(f->nbounds + 1, sizeof(*m->buckets));
	if (m->labels == NULL || (type == TT_METRIC_HISTOGRAM && m->buckets == NULL)) {
		metric_free(m);
		return dropped(reg, name, "out of memory");
	}
	if (f->last != NULL)
		f->last->fam_next = m;
	else
		f->first = m;
	f->last = m;
	m->hash_next = reg->slots[slot];
	reg->slots[slot] = m;
	reg->nseries++;
	return m;
}

static tt_metric *
metrics_get(tt_metrics *reg, tt_metric_type type, const char *name,
    const char *help, const char *labels, const double *bounds, size_t nbounds)
{
	tt_metric *m;
	size_t slot;

	if (reg == NULL) {
		static tt_metric orphan = { .labels = (char *)"" };
		return &orphan;
	}
	if (labels == NULL)
		labels = "";
	if (!name_valid(name))
		return dropped(reg, name, "invalid name");
	if (!labels_valid(labels))
		return dropped(reg, name, "invalid labels");
	slot = series_hash(name, labels);

	pthread_rwlock_rdlock(&reg->lock);
	m = series_find(reg, slot, name, labels);
	pthread_rwlock_unlock(&reg->lock);
	if (m != NULL)
		return m->type == type ? m : dropped(reg, name, "registered with another type");

	pthread_rwlock_wrlock(&reg->lock);
	m = series_find(reg, slot, name, labels);
	if (m == NULL)
		m = series_create(reg, slot, type, name, help, labels, bounds, nbounds);
	else if (m->type != type)
		m = dropped(reg, name, "registered with another type");
	pthread_rwlock_unlock(&reg->lock);
	return m;
}

tt_metric *
tt_metrics_counter(tt_metrics *reg, const char *name, const char *help,
    const char *labels)
{
	return metrics_get(reg, TT_METRIC_COUNTER, name, help, labels, NULL, 0);
}

tt_metric *
tt_metrics_gauge(tt_metrics *reg, const char *name, const char *help,
    const char *labels)
{
	return metrics_get(reg, TT_METRIC_GAUGE, name, help, labels, NULL, 0);
}

tt_metric *
tt_metrics_histogram(tt_metrics *reg, const char *name, const char *help,
    const char *labels, const double *bounds, size_t nbounds)
{
	if (bounds == NULL || nbounds == 0) {
		bounds = tt_metrics_latency_buckets;
		nbounds = tt_metrics_latency_nbuckets;
	}
	if (!bounds_valid(bounds, nbounds))
		return reg ? dropped(reg, name, "invalid bucket bounds") :
		    metrics_get(NULL, TT_METRIC_HISTOGRAM, name, help, labels, NULL, 0);
	return metrics_get(reg, TT_METRIC_HISTOGRAM, name, help, labels, bounds, nbounds);
}

uint64_t
tt_metrics_dropped(tt_metrics *reg)
{
	return reg ? atomic_load(&reg->dropped) : 0;
}

/* ---- updates ------------------------------------------------------------ */

void
tt_metric_inc(tt_metric *m)
{
	tt_metric_add(m, 1.0);
}

void
tt_metric_add(tt_metric *m, double v)
{
	if (m == NULL || isnan(v))
		return;
	if (m->type == TT_METRIC_COUNTER && v >= 0)
		atomic_dbl_add(&m->bits, v);
	else if (m->type == TT_METRIC_GAUGE)
		atomic_dbl_add(&m->bits, v);
}

void
tt_metric_set(tt_metric *m, double v)
{
	if (m != NULL && m->type == TT_METRIC_GAUGE)
		atomic_store_explicit(&m->bits, dbl_bits(v), memory_order_relaxed);
}

void
tt_metric_observe(tt_metric *m, double v)
{
	size_t i = 0;

	if (m == NULL || m->type != TT_METRIC_HISTOGRAM || isnan(v))
		return;
	while (i < m->fam->nbounds && v > m->fam->bounds[i])
		i++;
	atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
	atomic_dbl_add(&m->sum_bits, v);
}

double
tt_metric_value(const tt_metric *m)
{
	uint64_t n = 0;

	if (m == NULL)
		return 0;
	if (m->type != TT_METRIC_HISTOGRAM)
		return bits_dbl(atomic_load_explicit(&m->bits, memory_order_relaxed));
	for (size_t i = 0; i <= m->fam->nbounds; i++)
		n += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
	return (double)n;
}

/* ---- rendering ----------------------------------------------------------- */

size_t
tt_metrics_format_double(double v, char *buf, size_t len)
{
	int n;

	if (isnan(v))
		n = snprintf(buf, len, "NaN");
	else if (isinf(v))
		n = snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		n = snprintf(buf, len, "%.0f", v);
	else {
		n = 0;
		for (int prec = 1; prec <= 17; prec++) {
			n = snprintf(buf, len, "%.*g", prec, v);
			if (n > 0 && (size_t)n < len && strtod(buf, NULL) == v)
				break;
		}
	}
	if (n < 0)
		n = 0;
	if ((size_t)n >= len)
		n = len > 0 ? (int)(len - 1) : 0;
	return (size_t)n;
}

static void
put_double(tt_strbuf *out, double v)
{
	char num[40];
	size_t n = tt_metrics_format_double(v, num, sizeof(num));

	tt_strbuf_put(out, num, n);
}

static void
put_help(tt_strbuf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			tt_strbuf_put(out, "\\\\", 2);
		else if (*s == '\n')
			tt_strbuf_put(out, "\\n", 2);
		else
			tt_strbuf_putc(out, *s);
	}
}

/* name{labels[,extra]} with the braces left out when both are empty. */
static void
put_series(tt_strbuf *out, const char *name, const char *suffix,
    const char *labels, const char *extra)
{
	tt_strbuf_puts(out, name);
	tt_strbuf_puts(out, suffix);
	if (labels[0] == '\0' && extra == NULL)
		return;
	tt_strbuf_putc(out, '{');
	tt_strbuf_puts(out, labels);
	if (extra != NULL) {
		if (labels[0] != '\0')
			tt_strbuf_putc(out, ',');
		tt_strbuf_puts(out, extra);
	}
	tt_strbuf_putc(out, '}');
}

static void
render_histogram(tt_strbuf *out, const metric_family *f, const tt_metric *m)
{
	uint64_t cum = 0;
	char le[64], num[40];

	for (size_t i = 0; i <= f->nbounds; i++) {
		cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
		if (i < f->nbounds) {
			tt_metrics_format_double(f->bounds[i], num, sizeof(num));
			snprintf(le, sizeof(le), "le=\"%s\"", num);
		} else {
			snprintf(le, sizeof(le), "le=\"+Inf\"");
		}
		put_series(out, f->name, "_bucket", m->labels, le);
		tt_strbuf_printf(out, " %llu\n", (unsigned long long)cum);
	}
	put_series(out, f->name, "_sum", m->labels, NULL);
	tt_strbuf_putc(out, ' ');
	put_double(out, bits_dbl(atomic_load_explicit(&m->sum_bits, memory_order_relaxed)));
	tt_strbuf_putc(out, '\n');
	put_series(out, f->name, "_count", m->labels, NULL);
	tt_strbuf_printf(out, " %llu\n", (unsigned long long)cum);
}

tt_err
tt_metrics_render(tt_metrics *reg, tt_strbuf *out)
{
	static const char *const type_names[] = {
		[TT_METRIC_COUNTER] = "counter",
		[TT_METRIC_GAUGE] = "gauge",
		[TT_METRIC_HISTOGRAM] = "histogram",
	};
	tt_err e = TT_OK;

	if (reg == NULL)
		return TT_EINVAL;
	pthread_rwlock_rdlock(&reg->lock);
	for (const metric_family *f = reg->first; f != NULL; f = f->next) {
		tt_strbuf_printf(out, "# HELP %s ", f->name);
		put_help(out, f->help);
		tt_strbuf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
		for (const tt_metric *m = f->first; m != NULL; m = m->fam_next) {
			if (f->type == TT_METRIC_HISTOGRAM) {
				render_histogram(out, f, m);
				continue;
			}
			put_series(out, f->name, "", m->labels, NULL);
			tt_strbuf_putc(out, ' ');
			put_double(out, bits_dbl(atomic_load_explicit(&m->bits, memory_order_relaxed)));
			tt_strbuf_putc(out, '\n');
		}
	}
	pthread_rwlock_unlock(&reg->lock);
	if (tt_strbuf_truncated(out))
		e = TT_ETOOBIG;
	return e;
}

tt_err
tt_metrics_labels(char *buf, size_t len, ...)
{
	tt_strbuf b;
	va_list ap;
	const char *k;
	tt_err e = TT_OK;

	if (buf == NULL || len == 0)
		return TT_EINVAL;
	tt_strbuf_init_fixed(&b, buf, len);
	va_start(ap, len);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		bool keyok = k[0] != '\0';
		for (size_t i = 0; k[i] != '\0'; i++) {
			char c = k[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			    (i > 0 && c >= '0' && c <= '9')))
				keyok = false;
		}
		if (!keyok) {
			e = TT_EINVAL;
			break;
		}
		if (b.len > 0)
			tt_strbuf_putc(&b, ',');
		tt_strbuf_puts(&b, k);
		tt_strbuf_put(&b, "=\"", 2);
		for (const char *p = v ? v : ""; *p != '\0'; p++) {
			if (*p == '\\')
				tt_strbuf_put(&b, "\\\\", 2);
			else if (*p == '"')
				tt_strbuf_put(&b, "\\\"", 2);
			else if (*p == '\n')
				tt_strbuf_put(&b, "\\n", 2);
			else
				tt_strbuf_putc(&b, *p);
		}
		tt_strbuf_putc(&b, '"');
	}
	va_end(ap);
	if (e == TT_OK && tt_strbuf_truncated(&b))
		e = TT_ETOOBIG;
	if (e != TT_OK)
		buf[0] = '\0';
	return e;
}
