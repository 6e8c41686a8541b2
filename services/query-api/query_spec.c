/*
 * query_spec.c - validation of POST /analytics/query bodies (see
 * query_spec.h). Every field is checked and every problem reported at
 * once, like routes_metrics.c does; names outside the whitelists are
 * refused, never passed on.
 */
#include "query_spec.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "tt/strbuf.h"
#include "tt/time.h"

#define DAY_MS INT64_C(86400000)

static const char *const metric_names[QSPEC_NMETRICS] = {
	[QSPEC_REVENUE]         = "revenue",
	[QSPEC_GROSS_REVENUE]   = "grossRevenue",
	[QSPEC_REFUNDS]         = "refunds",
	[QSPEC_TICKET_SALES]    = "ticketSales",
	[QSPEC_ORDERS]          = "orders",
	[QSPEC_AVG_ORDER_VALUE] = "averageOrderValue",
};

static const char *const granularity_names[] = {
	[QSPEC_HOUR] = "hour", [QSPEC_DAY] = "day", [QSPEC_WEEK] = "week", [QSPEC_MONTH] = "month",
};

static const char *const dim_names[QSPEC_NDIMS] = {
	[QSPEC_CHANNEL] = "channel", [QSPEC_EVENT_TYPE] = "eventType", [QSPEC_EVENT_ID] = "eventId",
};

const char *
qspec_metric_name(qspec_metric m)
{
	return (int)m >= 0 && m < QSPEC_NMETRICS ? metric_names[m] : NULL;
}

const char *
qspec_granularity_name(qspec_granularity g)
{
	return (int)g >= 0 && g <= QSPEC_MONTH ? granularity_names[g] : NULL;
}

const char *
qspec_dim_name(qspec_dim dim)
{
	return (int)dim >= 0 && dim < QSPEC_NDIMS ? dim_names[dim] : NULL;
}

/* Index of s in names[0..n), or -1. */
static int
lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* prefix.key for an unknown key (key cut to 64 bytes). */
static void
unknown_key(tt_http_details *d, const char *prefix, const char *key, const char *what)
{
	char f[96];

	if (prefix[0] != '\0')
		snprintf(f, sizeof(f), "%s.%.64s", prefix, key);
	else
		snprintf(f, sizeof(f), "%.64s", key);
	tt_http_details_add(d, f, "%s", what);
}

static void
parse_metrics(const cJSON *v, qspec *q, tt_http_details *d)
{
	const cJSON *it;
	char f[32];
	int i = 0;

	if (v == NULL || cJSON_IsNull(v)) {
		tt_http_details_add(d, "metrics", "is required");
		return;
	}
	if (!cJSON_IsArray(v)) {
		tt_http_details_add(d, "metrics", "must be an array");
		return;
	}
	if (cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > QSPEC_NMETRICS) {
		tt_http_details_add(d, "metrics", "must contain 1 to %d items", QSPEC_NMETRICS);
		return;
	}
	cJSON_ArrayForEach(it, v) {
		int m = cJSON_IsString(it) ? lookup(metric_names, QSPEC_NMETRICS, it->valuestring) : -1;
		snprintf(f, sizeof(f), "metrics[%d]", i++);
		if (m < 0) {
			tt_http_details_add(d, f, "must be one of revenue, grossRevenue, refunds, "
			    "ticketSales, orders, averageOrderValue");
			continue;
		}
		for (int k = 0; k < q->nmetrics; k++) {
			if (q->metrics[k] == (qspec_metric)m) {
				tt_http_details_add(d, f, "is repeated");
				m = -1;
				break;
			}
		}
		if (m >= 0)
			q->metrics[q->nmetrics++] = (qspec_metric)m;
	}
}

static bool
parse_instant(const cJSON *tr, const char *name, int64_t *out, tt_http_details *d)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(tr, name);
	char f[32];

	snprintf(f, sizeof(f), "timeRange.%s", name);
	if (v == NULL || cJSON_IsNull(v)) {
		tt_http_details_add(d, f, "is required");
		return false;
	}
	if (!cJSON_IsString(v) || tt_iso_parse(v->valuestring, strlen(v->valuestring),
	    TT_ISO_DATETIME, out) != TT_OK) {
		tt_http_details_add(d, f, "must be an ISO 8601 date-time with a time zone "
		    "(2024-01-01T00:00:00Z)");
		return false;
	}
	return true;
}

static void
parse_time_range(const cJSON *tr, qspec *q, tt_http_details *d)
{
	const cJSON *v;
	bool ok_start, ok_end, ok_gran = true;
	int64_t max_days;

	if (tr == NULL || cJSON_IsNull(tr)) {
		tt_http_details_add(d, "timeRange", "is required");
		return;
	}
	if (!cJSON_IsObject(tr)) {
		tt_http_details_add(d, "timeRange", "must be an object");
		return;
	}
	cJSON_ArrayForEach(v, tr) {
		if (strcmp(v->string, "start") != 0 && strcmp(v->string, "end") != 0 &&
		    strcmp(v->string, "granularity") != 0)
			unknown_key(d, "timeRange", v->string,
			    "is not allowed (start, end, granularity)");
	}
	ok_start = parse_instant(tr, "start", &q->start_ms, d);
	ok_end = parse_instant(tr, "end", &q->end_ms, d);

	v = cJSON_GetObjectItemCaseSensitive(tr, "granularity");
	q->granularity = QSPEC_DAY;
	if (v != NULL && !cJSON_IsNull(v)) {
		int g = cJSON_IsString(v) ? lookup(granularity_names, 4, v->valuestring) : -1;
		if (g < 0) {
			tt_http_details_add(d, "timeRange.granularity",
			    "must be one of hour, day, week, month");
			ok_gran = false;
		} else {
			q->granularity = (qspec_granularity)g;
		}
	}
	if (!ok_start || !ok_end)
		return;
	if (q->start_ms > q->end_ms) {
		tt_http_details_add(d, "timeRange.end", "must not be before timeRange.start");
		return;
	}
	if (!ok_gran)
		return;
	max_days = q->granularity == QSPEC_HOUR ? QSPEC_MAX_HOUR_DAYS : QSPEC_MAX_DAYS;
	if (q->end_ms - q->start_ms > max_days * DAY_MS)
		tt_http_details_add(d, "timeRange", "must span at most %lld days with granularity %s",
		    (long long)max_days, granularity_names[q->granularity]);
}

static void
parse_filters(const cJSON *v, qspec *q, tt_http_details *d)
{
	const cJSON *it;

	if (v == NULL || cJSON_IsNull(v))
		return;
	if (!cJSON_IsObject(v)) {
		tt_http_details_add(d, "filters", "must be an object");
		return;
	}
	cJSON_ArrayForEach(it, v) {
		int k = lookup(dim_names, QSPEC_NDIMS, it->string);
		char f[48];
		size_t n;

		if (k < 0) {
			unknown_key(d, "filters", it->string,
			    "is not a known filter (channel, eventType, eventId)");
			continue;
		}
		snprintf(f, sizeof(f), "filters.%s", dim_names[k]);
		if (!cJSON_IsString(it) || (n = strlen(it->valuestring)) < 1 || n > QSPEC_FILTER_MAX) {
			tt_http_details_add(d, f, "must be a string of 1 to %d bytes", QSPEC_FILTER_MAX);
			continue;
		}
		q->has_filter[k] = true;
		memcpy(q->filter[k], it->valuestring, n + 1);
	}
}

static void
parse_group_by(const cJSON *v, qspec *q, tt_http_details *d)
{
	const cJSON *it;
	int i = 0;

	if (v == NULL || cJSON_IsNull(v))
		return;
	if (!cJSON_IsArray(v)) {
		tt_http_details_add(d, "groupBy", "must be an array");
		return;
	}
	if (cJSON_GetArraySize(v) > QSPEC_NDIMS) {
		tt_http_details_add(d, "groupBy", "must contain at most %d items", QSPEC_NDIMS);
		return;
	}
	cJSON_ArrayForEach(it, v) {
		int k = cJSON_IsString(it) ? lookup(dim_names, QSPEC_NDIMS, it->valuestring) : -1;
		char f[32];

		snprintf(f, sizeof(f), "groupBy[%d]", i++);
		if (k < 0) {
			tt_http_details_add(d, f, "must be one of channel, eventType, eventId");
			continue;
		}
		for (int j = 0; j < q->ngroup; j++) {
			if (q->group[j] == (qspec_dim)k) {
				tt_http_details_add(d, f, "is repeated");
				k = -1;
				break;
			}
		}
		if (k >= 0)
			q->group[q->ngroup++] = (qspec_dim)k;
	}
}

bool
qspec_parse(const char *body, size_t len, qspec *q, tt_http_details *d)
{
	const char *end = NULL;
	const cJSON *v;
	cJSON *j;
	int before = d->count + d->dropped;

	memset(q, 0, sizeof(*q));
	j = len > 0 ? cJSON_ParseWithLengthOpts(body, len, &end, 0) : NULL;
	if (j != NULL) {
		for (; end < body + len; end++)
			if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n')
				break;
		if (end < body + len) {
			cJSON_Delete(j);
			j = NULL;
		}
	}
	if (j == NULL || !cJSON_IsObject(j)) {
		tt_http_details_add(d, "body", "must be a JSON object");
		cJSON_Delete(j);
		return false;
	}
	cJSON_ArrayForEach(v, j) {
		if (strcmp(v->string, "metrics") != 0 && strcmp(v->string, "timeRange") != 0 &&
		    strcmp(v->string, "filters") != 0 && strcmp(v->string, "groupBy") != 0 &&
		    strcmp(v->string, "venueId") != 0)
			unknown_key(d, "", v->string,
			    "is not allowed (metrics, timeRange, filters, groupBy, venueId)");
	}
	parse_metrics(cJSON_GetObjectItemCaseSensitive(j, "metrics"), q, d);
	parse_time_range(cJSON_GetObjectItemCaseSensitive(j, "timeRange"), q, d);
	parse_filters(cJSON_GetObjectItemCaseSensitive(j, "filters"), q, d);
	parse_group_by(cJSON_GetObjectItemCaseSensitive(j, "groupBy"), q, d);
	v = cJSON_GetObjectItemCaseSensitive(j, "venueId");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v) || !tt_auth_venue_id_valid(v->valuestring, strlen(v->valuestring)))
			tt_http_details_add(d, "venueId", "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
		else
			snprintf(q->venue, sizeof(q->venue), "%s", v->valuestring);
	}
	cJSON_Delete(j);
	return d->count + d->dropped == before;
}

bool
qspec_canonical(const qspec *q, char *buf, size_t len)
{
	tt_strbuf b;

	tt_strbuf_init_fixed(&b, buf, len);
	tt_strbuf_puts(&b, "m=");
	for (int i = 0; i < q->nmetrics; i++)
		tt_strbuf_printf(&b, "%s%s", i ? "," : "", metric_names[q->metrics[i]]);
	tt_strbuf_printf(&b, ";g=%s;s=%lld;e=%lld;gb=", granularity_names[q->granularity],
	    (long long)q->start_ms, (long long)q->end_ms);
	for (int i = 0; i < q->ngroup; i++)
		tt_strbuf_printf(&b, "%s%s", i ? "," : "", dim_names[q->group[i]]);
	for (int k = 0; k < QSPEC_NDIMS; k++) {
		if (!q->has_filter[k])
			continue;
		/* JSON-quoted, so that no value can forge a separator. */
		tt_strbuf_printf(&b, ";f.%s=", dim_names[k]);
		tt_strbuf_json_str(&b, q->filter[k]);
	}
	return !tt_strbuf_truncated(&b);
}
