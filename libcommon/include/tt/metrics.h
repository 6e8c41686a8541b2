/*
 * tt/metrics.h - a small Prometheus registry: counters, gauges, histograms.
 *
 * A metric family is a name, a help line and a type; a series is one family
 * with one label set. Registration (tt_metrics_counter() and friends) is
 * idempotent: asking again for the same name and labels returns the same
 * series, so hot paths may look series up per event (a hash lookup under a
 * read lock) or keep the pointer. Updates are lock-free atomics. Rendering
 * writes the text exposition format 0.0.4, families and series in the order
 * they were first registered.
 *
 * Bounded: a registry holds at most TT_METRICS_MAX_SERIES series. Asking for
 * one more (or for a name already registered with another type, or with a
 * malformed name) returns a shared sink whose updates are discarded, never
 * NULL, so callers need no error path; tt_metrics_dropped() counts those.
 *
 * Labels are given pre-rendered, as Prometheus writes them between the
 * braces: `route="/health",method="GET"` (or NULL for none). Build them from
 * untrusted values with tt_metrics_labels(), which escapes.
 */
#ifndef TT_METRICS_H
#define TT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "tt/error.h"
#include "tt/strbuf.h"

#define TT_METRICS_MAX_SERIES  4096
#define TT_METRICS_NAME_MAX    128   /* metric name length */
#define TT_METRICS_LABELS_MAX  512   /* rendered label string length */
#define TT_METRICS_MAX_BUCKETS 32

typedef struct tt_metrics tt_metrics;
typedef struct tt_metric tt_metric;

typedef enum {
	TT_METRIC_COUNTER = 1,
	TT_METRIC_GAUGE,
	TT_METRIC_HISTOGRAM,
} tt_metric_type;

/*
 * The default latency buckets in seconds:
 * .0005 .001 .0025 .005 .01 .025 .05 .1 .25 .5 1 2.5 5 (and +Inf).
 */
extern const double tt_metrics_latency_buckets[];
extern const size_t tt_metrics_latency_nbuckets;

/* A new, empty registry; NULL on allocation failure. Free with tt_metrics_free. */
tt_metrics *tt_metrics_new(void);

/* Frees the registry and every series in it; pointers into it die. NULL ok. */
void tt_metrics_free(tt_metrics *reg);

/*
 * The process-wide registry, created on first use and never freed. Thread-
 * safe. The HTTP layer records into it unless told otherwise.
 */
tt_metrics *tt_metrics_default(void);

/*
 * Returns the series name{labels}, registering it on first use. help is
 * kept from the first registration of the name. name must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*; labels as described above, or NULL. The result
 * lives as long as the registry. Thread-safe; never NULL.
 */
tt_metric *tt_metrics_counter(tt_metrics *reg, const char *name,
    const char *help, const char *labels);
tt_metric *tt_metrics_gauge(tt_metrics *reg, const char *name,
    const char *help, const char *labels);

/*
 * A histogram series; bounds are the upper bounds, strictly increasing and
 * finite (+Inf is implicit), at most TT_METRICS_MAX_BUCKETS of them; NULL
 * and 0 select tt_metrics_latency_buckets. Every series of one name uses
 * the bounds given at the first registration.
 */
tt_metric *tt_metrics_histogram(tt_metrics *reg, const char *name,
    const char *help, const char *labels, const double *bounds, size_t nbounds);

/*
 * Updates. Thread-safe and lock-free. inc/add apply to counters (a negative
 * or NaN add is ignored: counters only go up) and gauges; set to gauges;
 * observe to histograms (value usually in seconds). A call that does not
 * fit the series type is ignored.
 */
void tt_metric_inc(tt_metric *m);
void tt_metric_add(tt_metric *m, double v);
void tt_metric_set(tt_metric *m, double v);
void tt_metric_observe(tt_metric *m, double v);

/* The current value of a counter or gauge, or a histogram's count. */
double tt_metric_value(const tt_metric *m);

/*
 * Appends the text exposition of every series to out. Thread-safe with
 * respect to updates and registrations. TT_ETOOBIG when out's maximum was
 * reached (out is then truncated), TT_ENOMEM on allocation failure.
 */
tt_err tt_metrics_render(tt_metrics *reg, tt_strbuf *out);

/* The number of registrations refused (limit, type clash, bad name). */
uint64_t tt_metrics_dropped(tt_metrics *reg);

/*
 * Renders key/value pairs (ending with NULL) as a label string into buf:
 *     tt_metrics_labels(buf, sizeof(buf), "route", r, "method", m, NULL)
 * gives `route="…",method="…"` with \\, \" and \n escaped in values.
 * TT_ETOOBIG when it does not fit (buf then holds ""); TT_EINVAL for a
 * malformed key.
 */
tt_err tt_metrics_labels(char *buf, size_t len, ...);

/*
 * Formats v the shortest way that reads back exactly ("0.1", "5", "1e+21",
 * "+Inf", "-Inf", "NaN"), as Prometheus and JSON number text. buf must hold
 * at least 32 bytes; returns the length.
 */
size_t tt_metrics_format_double(double v, char *buf, size_t len);

#endif
