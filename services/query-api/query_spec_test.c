/*
 * query_spec_test.c - POST /analytics/query bodies: what is accepted, and
 * the exact validation details of what is not (each names its field).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "query_spec.h"

/* Parses body; returns the details as rendered JSON items (static buffer). */
static const char *
details_of(const char *body, qspec *q, bool *ok)
{
	static char out[8192];
	tt_http_details d;

	tt_http_details_init(&d);
	*ok = qspec_parse(body, strlen(body), q, &d);
	snprintf(out, sizeof(out), "%s", tt_strbuf_str(&d.buf));
	tt_http_details_fini(&d);
	return out;
}

/* body must be refused with exactly the details want. */
static void
refused(const char *body, const char *want)
{
	qspec q;
	bool ok;
	const char *got = details_of(body, &q, &ok);

	if (ok || strcmp(got, want) != 0)
		print_error("body %s\n  got  %s (ok=%d)\n  want %s\n", body, got, ok, want);
	assert_false(ok);
	assert_string_equal(got, want);
}

#define TR_DAY "\"timeRange\":{\"start\":\"2024-01-01T00:00:00Z\",\"end\":\"2024-01-31T23:59:59Z\",\"granularity\":\"day\"}"

static void
the_seed_example_is_accepted(void **state)
{
	qspec q;
	bool ok;
	const char *d;

	(void)state;
	d = details_of("{\"metrics\":[\"revenue\",\"ticketSales\"]," TR_DAY ","
	    "\"filters\":{\"eventType\":\"concert\"},\"groupBy\":[\"channel\"]}", &q, &ok);
	assert_string_equal(d, "");
	assert_true(ok);
	assert_int_equal(q.nmetrics, 2);
	assert_int_equal(q.metrics[0], QSPEC_REVENUE);
	assert_int_equal(q.metrics[1], QSPEC_TICKET_SALES);
	assert_int_equal(q.granularity, QSPEC_DAY);
	assert_int_equal(q.start_ms, INT64_C(1704067200000));
	assert_int_equal(q.end_ms, INT64_C(1706745599000));
	assert_true(q.has_filter[QSPEC_EVENT_TYPE]);
	assert_false(q.has_filter[QSPEC_CHANNEL]);
	assert_string_equal(q.filter[QSPEC_EVENT_TYPE], "concert");
	assert_int_equal(q.ngroup, 1);
	assert_int_equal(q.group[0], QSPEC_CHANNEL);
	assert_string_equal(q.venue, "");
}

static void
every_metric_and_granularity_is_accepted(void **state)
{
	static const char *const gran[] = { "hour", "day", "week", "month" };
	qspec q;
	bool ok;
	char body[512];

	(void)state;
	for (int g = 0; g < 4; g++) {
		snprintf(body, sizeof(body), "{\"metrics\":[\"averageOrderValue\",\"orders\",\"refunds\","
		    "\"grossRevenue\",\"ticketSales\",\"revenue\"],\"timeRange\":{\"start\":"
		    "\"2024-03-01T00:00:00+05:30\",\"end\":\"2024-03-02T00:00:00.5-08:00\","
		    "\"granularity\":\"%s\"},\"groupBy\":[\"eventId\",\"eventType\",\"channel\"],"
		    "\"venueId\":\"v-1\",\"filters\":null}", gran[g]);
		assert_string_equal(details_of(body, &q, &ok), "");
		assert_true(ok);
		assert_int_equal(q.granularity, g);
		assert_int_equal(q.nmetrics, 6);
		assert_int_equal(q.metrics[0], QSPEC_AVG_ORDER_VALUE);
		assert_int_equal(q.ngroup, 3);
		assert_int_equal(q.group[0], QSPEC_EVENT_ID);
		assert_string_equal(q.venue, "v-1");
		assert_string_equal(qspec_granularity_name(q.granularity), gran[g]);
	}
}

static void
granularity_defaults_to_day(void **state)
{
	qspec q;
	bool ok;

	(void)state;
	details_of("{\"metrics\":[\"orders\"],\"timeRange\":{\"start\":\"2024-01-01T00:00:00Z\","
	    "\"end\":\"2024-01-01T00:00:00Z\"}}", &q, &ok);
	assert_true(ok);
	assert_int_equal(q.granularity, QSPEC_DAY);
}

static void
unknown_metrics_are_named_by_index(void **state)
{
	(void)state;
	refused("{\"metrics\":[\"revenue\",\"DROP TABLE\",\"revenue\"]," TR_DAY "}",
	    "{\"field\":\"metrics[1]\",\"message\":\"must be one of revenue, grossRevenue, refunds, "
	    "ticketSales, orders, averageOrderValue\"},"
	    "{\"field\":\"metrics[2]\",\"message\":\"is repeated\"}");
	refused("{\"metrics\":[]," TR_DAY "}",
	    "{\"field\":\"metrics\",\"message\":\"must contain 1 to 6 items\"}");
	refused("{\"metrics\":\"revenue\"," TR_DAY "}",
	    "{\"field\":\"metrics\",\"message\":\"must be an array\"}");
	refused("{" TR_DAY "}", "{\"field\":\"metrics\",\"message\":\"is required\"}");
	refused("{\"metrics\":[3]," TR_DAY "}",
	    "{\"field\":\"metrics[0]\",\"message\":\"must be one of revenue, grossRevenue, refunds, "
	    "ticketSales, orders, averageOrderValue\"}");
}

static void
time_ranges_are_checked(void **state)
{
	(void)state;
	refused("{\"metrics\":[\"revenue\"],\"timeRange\":{\"start\":\"2024-01-01T00:00:00Z\","
	    "\"end\":\"2024-01-02T00:00:00Z\",\"granularity\":\"minute\"}}",
	    "{\"field\":\"timeRange.granularity\",\"message\":\"must be one of hour, day, week, month\"}");
	refused("{\"metrics\":[\"revenue\"],\"timeRange\":{\"start\":\"2024-01-02T00:00:00Z\","
	    "\"end\":\"2024-01-01T00:00:00Z\"}}",
	    "{\"field\":\"timeRange.end\",\"message\":\"must not be before timeRange.start\"}");
	refused("{\"metrics\":[\"revenue\"],\"timeRange\":{\"start\":\"yesterday\","
	    "\"end\":\"2024-01-01\"}}",
	    "{\"field\":\"timeRange.start\",\"message\":\"must be an ISO 8601 date-time with a time "
	    "zone (2024-01-01T00:00:00Z)\"},{\"field\":\"timeRange.end\",\"message\":\"must be an "
	    "ISO 8601 date-time with a time zone (2024-01-01T00:00:00Z)\"}");
	refused("{\"metrics\":[\"revenue\"],\"timeRange\":{\"start\":\"2024-01-01T00:00:00Z\","
	    "\"end\":\"2025-01-01T00:00:00.001Z\"}}",
	    "{\"field\":\"timeRange\",\"message\":\"must span at most 366 days with granularity day\"}");
	refused("{\"metrics\":[\"revenue\"],\"timeRange\":{\"start\":\"2024-01-01T00:00:00Z\","
	    "\"end\":\"2024-02-01T00:00:00.001Z\",\"granularity\":\"hour\"}}",
	    "{\"field\":\"timeRange\",\"message\":\"must span at most 31 days with granularity hour\"}");
	refused("{\"metrics\":[\"revenue\"],\"timeRange\":{\"start\":\"2024-01-01T00:00:00Z\","
	    "\"end\":\"2024-01-01T00:00:00Z\",\"tz\":\"UTC\"}}",
	    "{\"field\":\"timeRange.tz\",\"message\":\"is not allowed (start, end, granularity)\"}");
	refused("{\"metrics\":[\"revenue\"]}", "{\"field\":\"timeRange\",\"message\":\"is required\"}");
}

static void
exactly_366_and_31_days_are_accepted(void **state)
{
	qspec q;
	bool ok;

	(void)state;
	details_of("{\"metrics\":[\"revenue\"],\"timeRange\":{\"start\":\"2024-01-01T00:00:00Z\","
	    "\"end\":\"2025-01-01T00:00:00Z\",\"granularity\":\"month\"}}", &q, &ok);
	assert_true(ok);
	details_of("{\"metrics\":[\"revenue\"],\"timeRange\":{\"start\":\"2024-01-01T00:00:00Z\","
	    "\"end\":\"2024-02-01T00:00:00Z\",\"granularity\":\"hour\"}}", &q, &ok);
	assert_true(ok);
}

static void
filters_and_group_by_are_whitelisted(void **state)
{
	(void)state;
	refused("{\"metrics\":[\"revenue\"]," TR_DAY ",\"filters\":{\"venue\":\"x\",\"channel\":7,"
	    "\"eventId\":\"\"}}",
	    "{\"field\":\"filters.venue\",\"message\":\"is not a known filter (channel, eventType, eventId)\"},"
	    "{\"field\":\"filters.channel\",\"message\":\"must be a string of 1 to 128 bytes\"},"
	    "{\"field\":\"filters.eventId\",\"message\":\"must be a string of 1 to 128 bytes\"}");
	refused("{\"metrics\":[\"revenue\"]," TR_DAY ",\"groupBy\":[\"channel\",\"venue_id; --\",\"channel\"]}",
	    "{\"field\":\"groupBy[1]\",\"message\":\"must be one of channel, eventType, eventId\"},"
	    "{\"field\":\"groupBy[2]\",\"message\":\"is repeated\"}");
	refused("{\"metrics\":[\"revenue\"]," TR_DAY ",\"groupBy\":\"channel\",\"filters\":[]}",
	    "{\"field\":\"filters\",\"message\":\"must be an object\"},"
	    "{\"field\":\"groupBy\",\"message\":\"must be an array\"}");
}

static void
bodies_that_are_not_objects_or_have_unknown_keys_are_refused(void **state)
{
	(void)state;
	refused("", "{\"field\":\"body\",\"message\":\"must be a JSON object\"}");
	refused("[1]", "{\"field\":\"body\",\"message\":\"must be a JSON object\"}");
	refused("{\"metrics\":[\"revenue\"]," TR_DAY "} x",
	    "{\"field\":\"body\",\"message\":\"must be a JSON object\"}");
	refused("{\"metrics\":[\"revenue\"]," TR_DAY ",\"sql\":\"SELECT 1\"}",
	    "{\"field\":\"sql\",\"message\":\"is not allowed (metrics, timeRange, filters, groupBy, venueId)\"}");
	refused("{\"metrics\":[\"revenue\"]," TR_DAY ",\"venueId\":\"a b\"}",
	    "{\"field\":\"venueId\",\"message\":\"must be 1-64 characters of A-Z a-z 0-9 . _ : -\"}");
}

static void
canonical_text_ignores_key_order_and_quotes_filter_values(void **state)
{
	qspec a, b;
	bool ok;
	char ca[1024], cb[1024];

	(void)state;
	details_of("{\"metrics\":[\"revenue\"],\"filters\":{\"channel\":\"w;gb=x\",\"eventId\":\"e\"}," TR_DAY "}", &a, &ok);
	assert_true(ok);
	details_of("{" TR_DAY ",\"filters\":{\"eventId\":\"e\",\"channel\":\"w;gb=x\"},\"metrics\":[\"revenue\"]}", &b, &ok);
	assert_true(ok);
	assert_true(qspec_canonical(&a, ca, sizeof(ca)));
	assert_true(qspec_canonical(&b, cb, sizeof(cb)));
	assert_string_equal(ca, cb);
	assert_string_equal(ca, "m=revenue;g=day;s=1704067200000;e=1706745599000;gb=;"
	    "f.channel=\"w;gb=x\";f.eventId=\"e\"");
	assert_false(qspec_canonical(&a, ca, 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_seed_example_is_accepted),
		cmocka_unit_test(every_metric_and_granularity_is_accepted),
		cmocka_unit_test(granularity_defaults_to_day),
		cmocka_unit_test(unknown_metrics_are_named_by_index),
		cmocka_unit_test(time_ranges_are_checked),
		cmocka_unit_test(exactly_366_and_31_days_are_accepted),
		cmocka_unit_test(filters_and_group_by_are_whitelisted),
		cmocka_unit_test(bodies_that_are_not_objects_or_have_unknown_keys_are_refused),
		cmocka_unit_test(canonical_text_ignores_key_order_and_quotes_filter_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
