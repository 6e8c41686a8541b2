/* metrics_test.c - the registry's exposition text, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tt/metrics.h"

static char *
render(tt_metrics *reg)
{
	tt_strbuf b;

	tt_strbuf_init(&b, 1 << 20);
	assert_int_equal(tt_metrics_render(reg, &b), TT_OK);
	return tt_strbuf_take(&b);
}

static void
test_counter_and_gauge_render_exactly(void **state)
{
	(void)state;
	tt_metrics *reg = tt_metrics_new();
	tt_metric *c = tt_metrics_counter(reg, "events_total", "Events seen.", NULL);
	tt_metric *g = tt_metrics_gauge(reg, "queue_depth", "Depth of the queue.", "queue=\"a\"");

	tt_metric_inc(c);
	tt_metric_add(c, 2);
	tt_metric_add(c, -5);          /* ignored: counters only go up */
	tt_metric_set(g, 7.5);
	tt_metric_add(g, -0.25);
	char *s = render(reg);
	assert_string_equal(s,
	    "# HELP events_total Events seen.\n"
	    "# TYPE events_total counter\n"
	    "events_total 3\n"
	    "# HELP queue_depth Depth of the queue.\n"
	    "# TYPE queue_depth gauge\n"
	    "queue_depth{queue=\"a\"} 7.25\n");
	free(s);
	tt_metrics_free(reg);
}

static void
test_registration_is_idempotent_per_label_set(void **state)
{
	(void)state;
	tt_metrics *reg = tt_metrics_new();
	tt_metric *a = tt_metrics_counter(reg, "req_total", "Requests.", "code=\"200\"");
	tt_metric *b = tt_metrics_counter(reg, "req_total", "ignored help", "code=\"200\"");
	tt_metric *c = tt_metrics_counter(reg, "req_total", NULL, "code=\"404\"");

	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, c);
	tt_metric_inc(a);
	tt_metric_inc(b);
	tt_metric_inc(c);
	char *s = render(reg);
	assert_string_equal(s,
	    "# HELP req_total Requests.\n"
	    "# TYPE req_total counter\n"
	    "req_total{code=\"200\"} 2\n"
	    "req_total{code=\"404\"} 1\n");
	free(s);
	assert_int_equal(tt_metrics_dropped(reg), 0);
	tt_metrics_free(reg);
}

static void
test_histogram_default_buckets_are_cumulative(void **state)
{
	(void)state;
	tt_metrics *reg = tt_metrics_new();
	tt_metric *h = tt_metrics_histogram(reg, "lat_seconds", "Latency.",
	    "route=\"/x\"", NULL, 0);

	tt_metric_observe(h, 0.0005);   /* le is inclusive */
	tt_metric_observe(h, 0.003);
	tt_metric_observe(h, 0.2);
	tt_metric_observe(h, 10);       /* only +Inf */
	char *s = render(reg);
	assert_string_equal(s,
	    "# HELP lat_seconds Latency.\n"
	    "# TYPE lat_seconds histogram\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"0.0005\"} 1\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"0.001\"} 1\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"0.0025\"} 1\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"0.005\"} 2\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"0.01\"} 2\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"0.025\"} 2\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"0.05\"} 2\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"0.25\"} 3\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"0.5\"} 3\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"2.5\"} 3\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"5\"} 3\n"
	    "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
	    "lat_seconds_sum{route=\"/x\"} 10.2035\n"
	    "lat_seconds_count{route=\"/x\"} 4\n");
	free(s);
	assert_true(tt_metric_value(h) == 4.0);
	tt_metrics_free(reg);
}

static void
test_histogram_custom_bounds_without_labels(void **state)
{
	(void)state;
	tt_metrics *reg = tt_metrics_new();
	const double bounds[] = { 1, 10 };
	tt_metric *h = tt_metrics_histogram(reg, "batch_rows", "Rows.", NULL, bounds, 2);

	tt_metric_observe(h, 3);
	char *s = render(reg);
	assert_string_equal(s,
	    "# HELP batch_rows Rows.\n"
	    "# TYPE batch_rows histogram\n"
	    "batch_rows_bucket{le=\"1\"} 0\n"
	    "batch_rows_bucket{le=\"10\"} 1\n"
	    "batch_rows_bucket{le=\"+Inf\"} 1\n"
	    "batch_rows_sum 3\n"
	    "batch_rows_count 1\n");
	free(s);
	tt_metrics_free(reg);
}

static void
test_bad_registrations_return_a_sink(void **state)
{
	(void)state;
	tt_metrics *reg = tt_metrics_new();
	const double unsorted[] = { 2, 1 };
	tt_metric *ok = tt_metrics_counter(reg, "x_total", "X.", NULL);
	tt_metric *clash = tt_metrics_gauge(reg, "x_total", "X.", NULL);
	tt_metric *badname = tt_metrics_counter(reg, "9bad", "B.", NULL);
	tt_metric *badlabels = tt_metrics_counter(reg, "y_total", "Y.", "a=unquoted");
	tt_metric *badbounds = tt_metrics_histogram(reg, "h", "H.", NULL, unsorted, 2);

	assert_non_null(clash);
	assert_ptr_not_equal(ok, clash);
	tt_metric_set(clash, 5);        /* discarded */
	tt_metric_inc(badname);
	tt_metric_inc(badlabels);
	tt_metric_observe(badbounds, 1);
	assert_int_equal(tt_metrics_dropped(reg), 4);
	char *s = render(reg);
	assert_string_equal(s, "# HELP x_total X.\n# TYPE x_total counter\nx_total 0\n");
	free(s);
	tt_metrics_free(reg);
}

static void
test_wrong_update_kind_is_ignored(void **state)
{
	(void)state;
	tt_metrics *reg = tt_metrics_new();
	tt_metric *c = tt_metrics_counter(reg, "c_total", "C.", NULL);
	tt_metric *h = tt_metrics_histogram(reg, "h_seconds", "H.", NULL, NULL, 0);

	tt_metric_set(c, 9);            /* set is for gauges */
	tt_metric_observe(c, 1);
	tt_metric_inc(h);
	assert_true(tt_metric_value(c) == 0);
	assert_true(tt_metric_value(h) == 0);
	tt_metrics_free(reg);
}

static void
test_help_is_escaped(void **state)
{
	(void)state;
	tt_metrics *reg = tt_metrics_new();

	tt_metrics_gauge(reg, "g", "line1\nback\\slash", NULL);
	char *s = render(reg);
	assert_string_equal(s, "# HELP g line1\\nback\\\\slash\n# TYPE g gauge\ng 0\n");
	free(s);
	tt_metrics_free(reg);
}

static void
test_labels_builder_escapes_values(void **state)
{
	(void)state;
	char buf[128];

	assert_int_equal(tt_metrics_labels(buf, sizeof(buf), "route", "/a\"b\\c\nd",
	    "method", "GET", NULL), TT_OK);
	assert_string_equal(buf, "route=\"/a\\\"b\\\\c\\nd\",method=\"GET\"");
	assert_int_equal(tt_metrics_labels(buf, sizeof(buf), "bad-key", "v", NULL), TT_EINVAL);
	assert_string_equal(buf, "");
	assert_int_equal(tt_metrics_labels(buf, 8, "route", "/long/value", NULL), TT_ETOOBIG);
	assert_string_equal(buf, "");
	/* An escaped label string is accepted by the registry. */
	tt_metrics *reg = tt_metrics_new();
	tt_metrics_labels(buf, sizeof(buf), "path", "a\"b", NULL);
	tt_metric *m = tt_metrics_counter(reg, "p_total", "P.", buf);
	tt_metric_inc(m);
	assert_int_equal(tt_metrics_dropped(reg), 0);
	tt_metrics_free(reg);
}

static void
test_format_double_is_shortest_exact(void **state)
{
	(void)state;
	char b[40];

	tt_metrics_format_double(0.1, b, sizeof(b));
	assert_string_equal(b, "0.1");
	tt_metrics_format_double(100, b, sizeof(b));
	assert_string_equal(b, "100");
	tt_metrics_format_double(-2.5, b, sizeof(b));
	assert_string_equal(b, "-2.5");
	tt_metrics_format_double(0.1 + 0.2, b, sizeof(b));
	assert_string_equal(b, "0.30000000000000004");
	tt_metrics_format_double(1e21, b, sizeof(b));
	assert_string_equal(b, "1e+21");
	tt_metrics_format_double(1.0 / 0.0, b, sizeof(b));
	assert_string_equal(b, "+Inf");
	tt_metrics_format_double(-1.0 / 0.0, b, sizeof(b));
	assert_string_equal(b, "-Inf");
	tt_metrics_format_double(0.0 / 0.0, b, sizeof(b));
	assert_string_equal(b, "NaN");
	tt_metrics_format_double(123456789012.34, b, sizeof(b));
	assert_string_equal(b, "123456789012.34");
}

static void
test_render_reports_truncation(void **state)
{
	(void)state;
	tt_metrics *reg = tt_metrics_new();
	char mem[32];
	tt_strbuf b;

	tt_metrics_counter(reg, "a_long_metric_name_total", "A help line.", NULL);
	tt_strbuf_init_fixed(&b, mem, sizeof(mem));
	assert_int_equal(tt_metrics_render(reg, &b), TT_ETOOBIG);
	tt_metrics_free(reg);
}

#define THREADS 4
#define ROUNDS  20000

static void *
hammer(void *arg)
{
	tt_metrics *reg = arg;

	for (int i = 0; i < ROUNDS; i++) {
		tt_metric_inc(tt_metrics_counter(reg, "hits_total", "Hits.", "t=\"x\""));
		tt_metric_observe(tt_metrics_histogram(reg, "d_seconds", "D.", NULL, NULL, 0), 0.5);
		tt_metric_add(tt_metrics_gauge(reg, "g", "G.", NULL), 0.5);
	}
	return NULL;
}

static void
test_concurrent_updates_are_not_lost(void **state)
{
	(void)state;
	tt_metrics *reg = tt_metrics_new();
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, reg);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_true(tt_metric_value(tt_metrics_counter(reg, "hits_total", "", "t=\"x\"")) ==
	    THREADS * ROUNDS);
	assert_true(tt_metric_value(tt_metrics_histogram(reg, "d_seconds", "", NULL, NULL, 0)) ==
	    THREADS * ROUNDS);
	assert_true(tt_metric_value(tt_metrics_gauge(reg, "g", "", NULL)) ==
	    THREADS * ROUNDS * 0.5);
	tt_metrics_free(reg);
}

static void
test_default_registry_is_a_singleton(void **state)
{
	(void)state;
	assert_non_null(tt_metrics_default());
	assert_ptr_equal(tt_metrics_default(), tt_metrics_default());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_and_gauge_render_exactly),
		cmocka_unit_test(test_registration_is_idempotent_per_label_set),
		cmocka_unit_test(test_histogram_default_buckets_are_cumulative),
		cmocka_unit_test(test_histogram_custom_bounds_without_labels),
		cmocka_unit_test(test_bad_registrations_return_a_sink),
		cmocka_unit_test(test_wrong_update_kind_is_ignored),
		cmocka_unit_test(test_help_is_escaped),
		cmocka_unit_test(test_labels_builder_escapes_values),
		cmocka_unit_test(test_format_double_is_shortest_exact),
		cmocka_unit_test(test_render_reports_truncation),
		cmocka_unit_test(test_concurrent_updates_are_not_lost),
		cmocka_unit_test(test_default_registry_is_a_singleton),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
