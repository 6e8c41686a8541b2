-- 0004_read_models: what makes the analytics reads and the aggregator's
-- incremental pass independent of the size of the raw store
-- (docs/aggregator.md, docs/query-and-customers.md).
--
-- 1. Partial indexes on raw_events, so that a pass recomputes the hours,
--    days, customers and shows it touched from their own raw rows instead of
--    scanning the whole table (the BRIN index on occurred_at finds an hour,
--    but the hour of every venue). Only the rows those recomputations read
--    are indexed (sales and refunds; with a customer; sales, refunds and
--    catalog events with a show), which keeps the cost per ingested row down.
--    On a live store with many rows, build them per partition with
--    CREATE INDEX CONCURRENTLY and ATTACH PARTITION ... instead: this
--    statement blocks ingest's inserts while it builds.
-- 2. sales_daily: per venue, venue-local date and one dimension (or none),
--    the sums of the day rows of sales_rollups. Day-level reads (dashboard,
--    revenue summary, custom queries over at most one dimension) read a few
--    rows per date instead of every (show x channel x type) row.
-- 3. customer_rfm and customer_rfm_counts: the RFM quintile scores of each
--    buying customer of a venue and the venue's number of customers per score
--    triple, kept by the aggregator whenever a venue's customer_stats change.
--    The scores rank last_purchase itself, not the days since it, so they
--    do not move with the calendar; only the recency in days does, and
--    readers compute it.
-- 4. customer_stats (venue_id, last_purchase): the dashboard's count of the
--    customers who bought in a period.
--
-- Every new table is a function of the rollups of 0003 (and so of
-- raw_events), filled here from what is there and kept by the aggregator in
-- the same transactions as those rollups; aggregator --rebuild recomputes
-- them like the others.

CREATE INDEX raw_events_venue_time ON raw_events (venue_id, occurred_at)
  WHERE type IN ('ticket.purchased', 'ticket.refunded');

-- Covering (INCLUDE): a customer's or a show's figures are read from the
-- index alone (index-only scans, where the visibility map allows), not from
-- one heap page per raw row; a popular show has thousands of them.
CREATE INDEX raw_events_venue_customer ON raw_events (venue_id, customer_hash)
  INCLUDE (type, occurred_at, quantity, revenue_cents)
  WHERE type IN ('ticket.purchased', 'ticket.refunded') AND customer_hash IS NOT NULL;

CREATE INDEX raw_events_venue_show ON raw_events (venue_id, event_id, type)
  INCLUDE (occurred_at, quantity, revenue_cents)
  WHERE type IN ('ticket.purchased', 'ticket.refunded', 'event.created', 'event.updated')
    AND event_id IS NOT NULL;

-- dimension: 'total' (value ''), 'channel', 'event_type' or 'event_id' (value
-- the dimension's value, '' when absent, as in sales_rollups). Measures as
-- in sales_rollups.
CREATE TABLE sales_daily (
  venue_id      varchar(64)  NOT NULL,
  dimension     varchar(16)  NOT NULL
                CHECK (dimension IN ('total', 'channel', 'event_type', 'event_id')),
  local_date    date         NOT NULL,
  value         varchar(128) NOT NULL DEFAULT '',
  tickets_sold  bigint NOT NULL DEFAULT 0,
  orders        bigint NOT NULL DEFAULT 0,
  gross_cents   bigint NOT NULL DEFAULT 0,
  refund_cents  bigint NOT NULL DEFAULT 0,
  refunds       bigint NOT NULL DEFAULT 0,
  net_cents     bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (venue_id, dimension, local_date, value)
);

INSERT INTO sales_daily (venue_id, dimension, local_date, value, tickets_sold, orders,
                         gross_cents, refund_cents, refunds, net_cents)
SELECT s.venue_id, x.dimension, s.local_date, x.value, sum(s.tickets_sold), sum(s.orders),
       sum(s.gross_cents), sum(s.refund_cents), sum(s.refunds), sum(s.net_cents)
  FROM sales_rollups s
 CROSS JOIN LATERAL (VALUES ('total', ''), ('channel', s.channel), ('event_type', s.event_type),
                            ('event_id', s.event_id)) x (dimension, value)
 WHERE s.granularity = 'day'
 GROUP BY s.venue_id, x.dimension, s.local_date, x.value
 ORDER BY 1, 2, 3, 4;

-- Scores 1..5 (docs/query-and-customers.md): ntile(5) within the venue's
-- customers with a purchase, ordered by last_purchase, orders and
-- spend - refunds, each with customer_hash as the tie-breaker.
CREATE TABLE customer_rfm (
  venue_id       varchar(64) NOT NULL,
  customer_hash  char(64)    NOT NULL,
  r              smallint    NOT NULL CHECK (r BETWEEN 1 AND 5),
  f              smallint    NOT NULL CHECK (f BETWEEN 1 AND 5),
  m              smallint    NOT NULL CHECK (m BETWEEN 1 AND 5),
  PRIMARY KEY (venue_id, customer_hash)
);

-- The number of customers per score triple, one row per venue with a buying
-- customer: customers[1 + (r - 1) * 25 + (f - 1) * 5 + (m - 1)], 125 cells
-- (one row is one page read; a row per triple was up to 125).
CREATE TABLE customer_rfm_counts (
  venue_id   varchar(64) PRIMARY KEY,
  customers  integer[]   NOT NULL CHECK (cardinality(customers) = 125)
);

INSERT INTO customer_rfm (venue_id, customer_hash, r, f, m)
SELECT venue_id, customer_hash,
       ntile(5) OVER (PARTITION BY venue_id ORDER BY last_purchase, customer_hash),
       ntile(5) OVER (PARTITION BY venue_id ORDER BY orders, customer_hash),
       ntile(5) OVER (PARTITION BY venue_id ORDER BY spend_cents - refund_cents, customer_hash)
  FROM customer_stats
 WHERE last_purchase IS NOT NULL;

INSERT INTO customer_rfm_counts (venue_id, customers)
SELECT v.venue_id, array_agg(coalesce(c.n, 0) ORDER BY g.i)
  FROM (SELECT DISTINCT venue_id FROM customer_rfm) v
 CROSS JOIN generate_series(1, 125) g (i)
  LEFT JOIN (SELECT venue_id, 1 + (r - 1) * 25 + (f - 1) * 5 + (m - 1) AS i, count(*)::integer AS n
               FROM customer_rfm GROUP BY 1, 2) c ON c.venue_id = v.venue_id AND c.i = g.i
 GROUP BY v.venue_id;

CREATE INDEX customer_stats_venue_last ON customer_stats (venue_id, last_purchase);
