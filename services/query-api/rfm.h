/*
 * rfm.h - RFM segmentation of a venue's customers, pure logic.
 *
 * The scores come from SQL (routes_customers.c): each customer of a venue
 * who bought at least once gets three quintiles 1..5 with ntile(5) over the
 * venue's customer_stats rows -
 *   recency   ORDER BY last_purchase ASC   (the most recent fifth scores 5)
 *   frequency ORDER BY orders ASC
 *   monetary  ORDER BY spend - refunds ASC
 * each with customer_hash as the tie-breaker, so equal values may fall in
 * neighbouring quintiles but the answer is deterministic and reproducible.
 * This module names the segment of a score triple and does the integer
 * arithmetic the customer endpoints print (averages and percentages).
 */
#ifndef QAPI_RFM_H
#define QAPI_RFM_H

#include <stdbool.h>
#include <stdint.h>

#define RFM_SEGMENTS 9

/* The segments, in the order the segments endpoint lists them. */
typedef enum {
	RFM_CHAMPIONS,
	RFM_LOYAL,
	RFM_POTENTIAL_LOYALISTS,
	RFM_NEW,
	RFM_NEED_ATTENTION,
	RFM_AT_RISK,
	RFM_CANT_LOSE,
	RFM_HIBERNATING,
	RFM_LOST,
} rfm_segment;

/*
 * The venue's ($1) customers per score triple, one row with one text
 * column (none when the venue has no buying customer): customer_rfm_counts
 * keeps, per venue, the 125 counts in cell 1 + (r - 1) * 25 + (f - 1) * 5 +
 * (m - 1) of an integer array (docs/aggregator.md), read here as its text
 * ("{0,3,...}") and summed per segment by rfm_counts_add().
 */
#define RFM_SQL_COUNTS "SELECT c.customers::text FROM customer_rfm_counts c WHERE c.venue_id = $1"
#define RFM_CELLS 125

/* "Champions", "Loyal Customers", ...; NULL for a value out of range. */
const char *rfm_segment_name(rfm_segment s);

/*
 * The segment of recency score r, frequency score f and monetary score m
 * (each 1..5; see rfm.c for the table). False when a score is out of range.
 */
bool rfm_segment_of(int r, int f, int m, rfm_segment *out);

/*
 * total / n rounded half away from zero, in cents (an average order value
 * with two decimals). False when n <= 0 (the caller prints null).
 */
bool rfm_avg_cents(int64_t total, int64_t n, int64_t *out);

/*
 * part / total as a percentage in hundredths, rounded half up (1/3 gives
 * 3333, i.e. 33.33 %). 0 when total <= 0. part and total are counts >= 0.
 */
int64_t rfm_percent_hundredths(int64_t part, int64_t total);

/*
 * Adds the counts of one customer_rfm_counts array in PostgreSQL's text
 * form, exactly RFM_CELLS non-negative decimal integers between braces,
 * separated by commas, to count[segment] and *total. False, with count
 * and *total untouched, for anything else (NULL, another length, a sign,
 * a space, NULL cells, an overflow).
 */
bool rfm_counts_add(const char *text, int64_t count[RFM_SEGMENTS], int64_t *total);

#endif
