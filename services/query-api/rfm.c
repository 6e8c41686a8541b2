/*
 * rfm.c - naming RFM segments (see rfm.h).
 *
 * The segment is read from a grid of the recency score R (rows) and the
 * combined frequency-monetary score FM = (F + M + 1) / 2, i.e. their mean
 * rounded half up (columns). The grid follows the usual RFM segmentation
 * chart: recent and frequent/valuable customers top right, those who stopped
 * buying bottom left; a customer who spent a lot but has not come back
 * (R 1-2, FM 5) is one the venue "can't lose".
 *
 *            FM=1             FM=2                 FM=3                 FM=4             FM=5
 *   R=5   New Customers    Potential Loyalists  Potential Loyalists  Champions        Champions
 *   R=4   New Customers    Potential Loyalists  Potential Loyalists  Loyal Customers  Champions
 *   R=3   Need Attention   Need Attention       Need Attention       Loyal Customers  Loyal Customers
 *   R=2   Hibernating      Hibernating          At Risk              At Risk          Can't Lose Them
 *   R=1   Lost             Lost                 At Risk              At Risk          Can't Lose Them
 */
#include "rfm.h"

#include <stddef.h>
#include <string.h>

#include "tt/strparse.h"

static const char *const segment_names[RFM_SEGMENTS] = {
	[RFM_CHAMPIONS]           = "Champions",
	[RFM_LOYAL]               = "Loyal Customers",
	[RFM_POTENTIAL_LOYALISTS] = "Potential Loyalists",
	[RFM_NEW]                 = "New Customers",
	[RFM_NEED_ATTENTION]      = "Need Attention",
	[RFM_AT_RISK]             = "At Risk",
	[RFM_CANT_LOSE]           = "Can't Lose Them",
	[RFM_HIBERNATING]         = "Hibernating",
	[RFM_LOST]                = "Lost",
};

/* grid[R - 1][FM - 1], the table above upside down (R = 1 first). */
static const rfm_segment grid[5][5] = {
	{ RFM_LOST, RFM_LOST, RFM_AT_RISK, RFM_AT_RISK, RFM_CANT_LOSE },
	{ RFM_HIBERNATING, RFM_HIBERNATING, RFM_AT_RISK, RFM_AT_RISK, RFM_CANT_LOSE },
	{ RFM_NEED_ATTENTION, RFM_NEED_ATTENTION, RFM_NEED_ATTENTION, RFM_LOYAL, RFM_LOYAL },
	{ RFM_NEW, RFM_POTENTIAL_LOYALISTS, RFM_POTENTIAL_LOYALISTS, RFM_LOYAL, RFM_CHAMPIONS },
	{ RFM_NEW, RFM_POTENTIAL_LOYALISTS, RFM_POTENTIAL_LOYALISTS, RFM_CHAMPIONS, RFM_CHAMPIONS },
};

const char *
rfm_segment_name(rfm_segment s)
{
	if ((int)s < 0 || (int)s >= RFM_SEGMENTS)
		return NULL;
	return segment_names[s];
}

bool
rfm_segment_of(int r, int f, int m, rfm_segment *out)
{
	int fm;

	if (r < 1 || r > 5 || f < 1 || f > 5 || m < 1 || m > 5)
		return false;
	fm = (f + m + 1) / 2;
	*out = grid[r - 1][fm - 1];
	return true;
}

bool
rfm_avg_cents(int64_t total, int64_t n, int64_t *out)
{
	int64_t q, rem;

	if (n <= 0)
		return false;
	q = total / n;
	rem = total % n;
	/* Half away from zero: |rem| * 2 >= n rounds the magnitude up. */
	if (rem < 0)
		rem = -rem;
	if (rem >= n - rem)
		q += total < 0 ? -1 : 1;
	*out = q;
	return true;
}

int64_t
rfm_percent_hundredths(int64_t part, int64_t total)
{
	if (total <= 0 || part < 0)
		return 0;
	/* part <= total; counts of customers never come near INT64_MAX / 10000. */
	return (part * 20000 + total) / (2 * total);
}

bool
rfm_counts_add(const char *text, int64_t count[RFM_SEGMENTS], int64_t *total)
{
	int64_t cells[RFM_CELLS], add[RFM_SEGMENTS] = { 0 }, sum = 0;
	size_t n;

	/* A count of customers is an int4 >= 0. */
	if (text == NULL || tt_parse_pg_int_array(text, strlen(text), 0, INT32_MAX, cells,
	    RFM_CELLS, &n) != TT_OK || n != RFM_CELLS)
		return false;
	for (int cell = 0; cell < RFM_CELLS; cell++) {
		rfm_segment seg;
		if (!rfm_segment_of(cell / 25 + 1, cell / 5 % 5 + 1, cell % 5 + 1, &seg))
			return false;
		add[seg] += cells[cell];
		sum += cells[cell];
	}
	for (int i = 0; i < RFM_SEGMENTS; i++)
		count[i] += add[i];
	*total += sum;
	return true;
}
