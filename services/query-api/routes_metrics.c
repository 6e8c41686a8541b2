/*
 * routes_metrics.c - POST /metrics and POST /metrics/bulk (the seed's
 * bodies) into analytics_metrics.
 *
 * Every field is validated before anything is written, and every problem
 * is reported at once with its field path ("metricType",
 * "metrics[3].value"). A metric's value is stored in NUMERIC as the
 * shortest decimal text that reads back as the very JSON number received,
 * never through float arithmetic. A venue token may only write its own
 * venue; an admin token any. A bulk request is all-or-nothing: one INSERT
 * statement (atomic in PostgreSQL) or nothing at all. Row ids are made here
 * (UUID v4) so that the answer lists them in request order.
 */
#include "qapi.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tt/log.h"
#include "tt/metrics.h"
#include "tt/strbuf.h"
#include "tt/time.h"

#define METRICS_BULK_MAX  1000
#define METRIC_TYPE_MAX   100
#define METRIC_JSON_MAX   8192   /* dimensions / metadata, as compact JSON */
#define METRIC_COLS       7

typedef struct {
	char  id[37];
	char  venue_id[TT_AUTH_VENUE_MAX];
	char  metric_type[METRIC_TYPE_MAX + 1];
	char  value[40];
	char  timestamp[TT_ISO_MAX];
	char *dimensions;   /* compact JSON (cJSON_free), NULL = {} */
	char *metadata;
} metric_row;

static void
row_fini(metric_row *r)
{
	cJSON_free(r->dimensions);
	cJSON_free(r->metadata);
	r->dimensions = r->metadata = NULL;
}

static void
uuid4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	for (int i = 0, o = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[r[i] >> 4];
		out[o++] = hex[r[i] & 15];
		out[o] = '\0';
	}
}

static bool
metric_type_valid(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= METRIC_TYPE_MAX || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-'))
			return false;
	}
	return n > 0;
}

/* "name" or "prefix.name" into buf. */
static const char *
field(char *buf, size_t len, const char *prefix, const char *name)
{
	if (prefix[0] == '\0')
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%s.%s", prefix, name);
	return buf;
}

/* An optional object field as compact JSON (NULL when absent or null). */
static bool
json_object_field(const cJSON *o, const char *name, const char *prefix, char **out,
    tt_http_details *d)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	char f[64];
	char *s;

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsObject(v)) {
		tt_http_details_add(d, field(f, sizeof(f), prefix, name), "must be an object");
		return false;
	}
	s = cJSON_PrintUnformatted(v);
	if (s == NULL || strlen(s) > METRIC_JSON_MAX) {
		tt_http_details_add(d, field(f, sizeof(f), prefix, name),
		    "must be at most %d bytes of JSON", METRIC_JSON_MAX);
		cJSON_free(s);
		return false;
	}
	*out = s;
	return true;
}

static bool
venue_valid(const char *s)
{
	return tt_auth_venue_id_valid(s, strlen(s));
}

/*
 * A required string member key of o that valid() accepts, copied into out;
 * otherwise one detail ("is required", "must be a string" or rule) named
 * prefix.key, and false.
 */
static bool
required_string(const cJSON *o, const char *key, const char *prefix,
    bool (*valid)(const char *), const char *rule, char *out, size_t outlen,
    tt_http_details *d)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	char f[64];

	field(f, sizeof(f), prefix, key);
	if (v == NULL || cJSON_IsNull(v))
		tt_http_details_add(d, f, "is required");
	else if (!cJSON_IsString(v))
		tt_http_details_add(d, f, "must be a string");
	else if (!valid(v->valuestring))
		tt_http_details_add(d, f, "%s", rule);
	else {
		snprintf(out, outlen, "%s", v->valuestring);
		return true;
	}
	return false;
}

/* Validates one metric object into row; every problem becomes a detail. */
static bool
metric_parse(const cJSON *o, const char *prefix, int64_t now_ms, metric_row *row,
    tt_http_details *d)
{
	const cJSON *v;
	char f[64];
	bool ok = true;
	int64_t ts;

	memset(row, 0, sizeof(*row));
	if (!cJSON_IsObject(o)) {
		tt_http_details_add(d, prefix[0] ? prefix : "body", "must be an object");
		return false;
	}

	ok &= required_string(o, "venueId", prefix, venue_valid,
	    "must be 1-64 characters of A-Z a-z 0-9 . _ : -", row->venue_id,
	    sizeof(row->venue_id), d);
	ok &= required_string(o, "metricType", prefix, metric_type_valid,
	    "must be 1-100 characters of a-z 0-9 _ . -", row->metric_type,
	    sizeof(row->metric_type), d);

	v = cJSON_GetObjectItemCaseSensitive(o, "value");
	field(f, sizeof(f), prefix, "value");
	if (v == NULL || cJSON_IsNull(v)) {
		tt_http_details_add(d, f, "is required");
		ok = false;
	} else if (!cJSON_IsNumber(v)) {
		tt_http_details_add(d, f, "must be a number");
		ok = false;
	} else if (!isfinite(v->valuedouble)) {
		tt_http_details_add(d, f, "must be a finite number");
		ok = false;
	} else {
		tt_metrics_format_double(v->valuedouble, row->value, sizeof(row->value));
	}

	v = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
	field(f, sizeof(f), prefix, "timestamp");
	if (v == NULL || cJSON_IsNull(v)) {
		tt_iso_format(now_ms, row->timestamp);
	} else if (!cJSON_IsString(v) ||
	    tt_iso_parse(v->valuestring, strlen(v->valuestring),
	    TT_ISO_DATETIME | TT_ISO_DATE, &ts) != TT_OK) {
		tt_http_details_add(d, f, "must be an ISO 8601 date-time");
		ok = false;
	} else {
		tt_iso_format(ts, row->timestamp);
	}

	if (!json_object_field(o, "dimensions", prefix, &row->dimensions, d))
		ok = false;
	if (!json_object_field(o, "metadata", prefix, &row->metadata, d))
		ok = false;
	if (ok)
		uuid4(row->id);
	return ok;
}

/* The body as a JSON object, or NULL with a "body" detail. */
static cJSON *
body_object(tt_http_req *req, tt_http_details *d)
{
	size_t len;
	const char *b = tt_http_body(req, &len);
	const char *end = NULL;
	cJSON *j = len > 0 ? cJSON_ParseWithLengthOpts(b, len, &end, 0) : NULL;

	if (j != NULL) {
		for (; end < b + len; end++)
			if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n')
				break;
		if (end < b + len) {
			cJSON_Delete(j);
			j = NULL;
		}
	}
	if (j == NULL) {
		tt_http_details_add(d, "body", "must be a valid JSON object");
		return NULL;
	}
	if (!cJSON_IsObject(j)) {
		tt_http_details_add(d, "body", "must be a JSON object");
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static void
row_json(tt_strbuf *b, const metric_row *r)
{
	tt_strbuf_puts(b, "{\"id\":");
	tt_strbuf_json_str(b, r->id);
	tt_strbuf_puts(b, ",\"venueId\":");
	tt_strbuf_json_str(b, r->venue_id);
	tt_strbuf_puts(b, ",\"metricType\":");
	tt_strbuf_json_str(b, r->metric_type);
	tt_strbuf_printf(b, ",\"value\":%s,\"timestamp\":", r->value);
	tt_strbuf_json_str(b, r->timestamp);
	tt_strbuf_printf(b, ",\"dimensions\":%s,\"metadata\":%s}",
	    r->dimensions ? r->dimensions : "{}", r->metadata ? r->metadata : "{}");
}

/* Inserts rows[0..n) in one statement; TT_OK or the tt_db error (detail in err). */
static tt_err
rows_insert(qapi_ctx *ctx, const metric_row *rows, size_t n, char *err, size_t errlen)
{
	const char **params = NULL;
	PGconn *conn = NULL;
	tt_strbuf sql;
	tt_err e;

	tt_strbuf_init(&sql, 256 * 1024);
	params = calloc(n * METRIC_COLS, sizeof(*params));
	if (params == NULL) {
		e = tt_seterr(err, errlen, TT_ENOMEM, "out of memory");
		goto out;
	}
	tt_strbuf_puts(&sql, "INSERT INTO analytics_metrics "
	    "(id, venue_id, metric_type, value, timestamp, dimensions, metadata) VALUES ");
	for (size_t i = 0; i < n; i++) {
		size_t p = i * METRIC_COLS;
		tt_strbuf_printf(&sql, "%s($%zu::uuid,$%zu,$%zu,$%zu::numeric,$%zu::timestamptz,"
		    "$%zu::jsonb,$%zu::jsonb)", i ? "," : "",
		    p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7);
		params[p] = rows[i].id;
		params[p + 1] = rows[i].venue_id;
		params[p + 2] = rows[i].metric_type;
		params[p + 3] = rows[i].value;
		params[p + 4] = rows[i].timestamp;
		params[p + 5] = rows[i].dimensions ? rows[i].dimensions : "{}";
		params[p + 6] = rows[i].metadata ? rows[i].metadata : "{}";
	}
	if (tt_strbuf_truncated(&sql)) {
		e = tt_seterr(err, errlen, TT_ETOOBIG, "statement too large");
		goto out;
	}
	if ((e = tt_db_acquire(ctx->db, &conn, QAPI_DB_WAIT_MS, err, errlen)) != TT_OK)
		goto out;
	e = tt_db_exec(conn, tt_strbuf_str(&sql), (int)(n * METRIC_COLS), params, NULL, err, errlen);
	tt_db_release(ctx->db, conn, e == TT_ECONN);
out:
	free(params);
	tt_strbuf_fini(&sql);
	return e;
}

static void
h_record(tt_http_req *req, void *udata)
{
	qapi_ctx *ctx = udata;
	tt_http_details d;
	metric_row row;
	cJSON *j = NULL;
	char err[256];
	tt_strbuf b;
	tt_err e;

	memset(&row, 0, sizeof(row));
	tt_http_details_init(&d);
	tt_strbuf_init(&b, 64 * 1024);
	if (!qapi_require_permission(req, QAPI_PERM_WRITE))
		goto out;
	j = body_object(req, &d);
	if (j == NULL || !metric_parse(j, "", tt_now_ms(), &row, &d)) {
		tt_http_respond_invalid(req, &d);
		goto out;
	}
	if (!tt_auth_venue_allowed(tt_http_claims(req), row.venue_id)) {
		tt_http_respond_error(req, 403, "FORBIDDEN", "No access to this venue", NULL);
		goto out;
	}
	if ((e = rows_insert(ctx, &row, 1, err, sizeof(err))) != TT_OK) {
		qapi_fail(req, e, "metric insert failed", err);
		goto out;
	}
	row_json(&b, &row);
	tt_http_respond_data(req, 201, tt_strbuf_str(&b));
	tt_log(TT_LOG_DEBUG, "metric recorded", "venueId", row.venue_id,
	    "metricType", row.metric_type, "request_id", tt_http_request_id(req), NULL);
out:
	row_fini(&row);
	cJSON_Delete(j);
	tt_strbuf_fini(&b);
	tt_http_details_fini(&d);
}

static void
h_record_bulk(tt_http_req *req, void *udata)
{
	qapi_ctx *ctx = udata;
	tt_http_details d;
	metric_row *rows = NULL;
	cJSON *j = NULL;
	const cJSON *arr;
	size_t n = 0;
	int64_t now = tt_now_ms();
	char err[256];
	tt_strbuf b;
	tt_err e;

	tt_http_details_init(&d);
	tt_strbuf_init(&b, 128 * 1024);
	if (!qapi_require_permission(req, QAPI_PERM_WRITE))
		goto out;
	if ((j = body_object(req, &d)) == NULL) {
		tt_http_respond_invalid(req, &d);
		goto out;
	}
	arr = cJSON_GetObjectItemCaseSensitive(j, "metrics");
	if (arr == NULL || cJSON_IsNull(arr)) {
		tt_http_details_add(&d, "metrics", "is required");
	} else if (!cJSON_IsArray(arr)) {
		tt_http_details_add(&d, "metrics", "must be an array");
	} else if (cJSON_GetArraySize(arr) < 1 || cJSON_GetArraySize(arr) > METRICS_BULK_MAX) {
		tt_http_details_add(&d, "metrics", "must contain 1 to %d items", METRICS_BULK_MAX);
	}
	if (d.count > 0) {
		tt_http_respond_invalid(req, &d);
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(arr);
	rows = calloc(n, sizeof(*rows));
	if (rows == NULL) {
		qapi_fail(req, TT_ENOMEM, "bulk metrics", "out of memory");
		goto out;
	}
	{
		const cJSON *it;
		size_t i = 0;
		char prefix[40];
		cJSON_ArrayForEach(it, arr) {
			snprintf(prefix, sizeof(prefix), "metrics[%zu]", i);
			metric_parse(it, prefix, now, &rows[i], &d);
			i++;
		}
	}
	if (d.count > 0) {
		tt_http_respond_invalid(req, &d);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!tt_auth_venue_allowed(tt_http_claims(req), rows[i].venue_id)) {
			tt_http_details dd;
			char f[48];
			tt_http_details_init(&dd);
			snprintf(f, sizeof(f), "metrics[%zu].venueId", i);
			tt_http_details_add(&dd, f, "no access to this venue");
			tt_http_respond_error(req, 403, "FORBIDDEN", "No access to this venue", &dd);
			tt_http_details_fini(&dd);
			goto out;
		}
	}
	if ((e = rows_insert(ctx, rows, n, err, sizeof(err))) != TT_OK) {
		qapi_fail(req, e, "bulk metric insert failed", err);
		goto out;
	}
	tt_strbuf_printf(&b, "{\"recorded\":%zu,\"ids\":[", n);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			tt_strbuf_putc(&b, ',');
		tt_strbuf_json_str(&b, rows[i].id);
	}
	tt_strbuf_puts(&b, "]}");
	tt_http_respond_data(req, 201, tt_strbuf_str(&b));
out:
	for (size_t i = 0; rows != NULL && i < n; i++)
		row_fini(&rows[i]);
	free(rows);
	cJSON_Delete(j);
	tt_strbuf_fini(&b);
	tt_http_details_fini(&d);
}

tt_err
routes_metrics_register(tt_http_server *srv, qapi_ctx *ctx)
{
	tt_err e;

	if ((e = tt_http_route(srv, "POST", "/metrics", TT_HTTP_PROTECTED, h_record, ctx)) != TT_OK ||
	    (e = tt_http_route(srv, "POST", "/metrics/bulk", TT_HTTP_PROTECTED,
	    h_record_bulk, ctx)) != TT_OK)
		return e;
	return TT_OK;
}
