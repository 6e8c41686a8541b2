/*
 * query_spec.h - the body of POST /analytics/query, validated.
 *
 * qspec_parse turns the JSON body into a qspec or reports every problem as
 * a validation detail naming the field ("metrics[1]",
 * "timeRange.granularity", "filters.venue", "groupBy[0]"). Only names from
 * fixed whitelists get through; the SQL built from a qspec
 * (routes_query.c) uses them as indexes into constant column expressions
 * and passes every value as a parameter.
 */
#ifndef QAPI_QUERY_SPEC_H
#define QAPI_QUERY_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/auth.h"
#include "tt/http.h"

#define QSPEC_MAX_DAYS       366  /* longest range for day/week/month */
#define QSPEC_MAX_HOUR_DAYS  31   /* longest range for hour */
#define QSPEC_FILTER_MAX     128  /* bytes of one filter value */

typedef enum {
	QSPEC_REVENUE,            /* net: gross - refunds, money */
	QSPEC_GROSS_REVENUE,      /* money */
	QSPEC_REFUNDS,            /* refunded amount, money */
	QSPEC_TICKET_SALES,       /* tickets sold */
	QSPEC_ORDERS,             /* purchase events */
	QSPEC_AVG_ORDER_VALUE,    /* gross / orders, money, null without orders */
	QSPEC_NMETRICS
} qspec_metric;

typedef enum { QSPEC_HOUR, QSPEC_DAY, QSPEC_WEEK, QSPEC_MONTH } qspec_granularity;

/* Dimensions, usable as filters and in groupBy. */
typedef enum { QSPEC_CHANNEL, QSPEC_EVENT_TYPE, QSPEC_EVENT_ID, QSPEC_NDIMS } qspec_dim;

typedef struct {
	qspec_metric      metrics[QSPEC_NMETRICS];  /* in request order, no repeats */
	int               nmetrics;
	qspec_granularity granularity;
	int64_t           start_ms, end_ms;         /* start <= end */
	bool              has_filter[QSPEC_NDIMS];
	char              filter[QSPEC_NDIMS][QSPEC_FILTER_MAX + 1];
	qspec_dim         group[QSPEC_NDIMS];       /* in request order, no repeats */
	int               ngroup;
	char              venue[TT_AUTH_VENUE_MAX]; /* "" when the body names none */
} qspec;

/* The JSON names: "revenue", "hour", "channel"... */
const char *qspec_metric_name(qspec_metric m);
const char *qspec_granularity_name(qspec_granularity g);
const char *qspec_dim_name(qspec_dim d);

/*
 * Parses and validates body[0..len). True with *out filled when valid;
 * false with one detail per problem added to d (out is then unspecified).
 */
bool qspec_parse(const char *body, size_t len, qspec *out, tt_http_details *d);

/*
 * A canonical text of the query (for cache keys): equal for equal queries
 * whatever the JSON's key order or spacing. Returns false if it does not fit.
 */
bool qspec_canonical(const qspec *q, char *buf, size_t len);

#endif
