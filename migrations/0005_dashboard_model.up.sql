-- 0005_dashboard_model: the two parts of a dashboard answer whose cost grew
-- with a venue's shows and customers, kept per venue and period by the
-- aggregator (docs/aggregator.md, "Dashboard read model"):
--
--   dashboard_periods: per venue and period (days 0 = the 24 UTC hours
--     ending with the current one, else the last 7, 30 or 90 venue-local
--     dates), the instant t1 the period ends at (next hour, next local
--     midnight) and the zone it was computed in, and the number of
--     customers whose last purchase falls in the period;
--   dashboard_tops: the ten best shows of that period (net revenue, then
--     tickets, then show id), ranked 1..10.
--
-- Both are a function of the rollups (sales_daily, sales_rollups,
-- customer_stats) and of the period, so they are valid for one period only:
-- a reader uses them when the stored t1 and tz are its own period's, and
-- computes the same figures from the rollups otherwise. The aggregator
-- recomputes them in each pass for the venues the pass touched (in the same
-- transaction as their rollups) and for every period that has ended
-- (t1 <= now()). The rows below (t1 = -infinity: ended) make its first pass
-- compute every venue that has sales.

CREATE TABLE dashboard_periods (
    venue_id   varchar(64) NOT NULL,
    days       integer     NOT NULL CHECK (days IN (0, 7, 30, 90)),
    tz         text        NOT NULL,
    t1         timestamptz NOT NULL,
    customers  bigint      NOT NULL,
    PRIMARY KEY (venue_id, days)
);
CREATE INDEX dashboard_periods_t1 ON dashboard_periods (t1);

CREATE TABLE dashboard_tops (
    venue_id      varchar(64)  NOT NULL,
    days          integer      NOT NULL,
    rank          integer      NOT NULL CHECK (rank BETWEEN 1 AND 10),
    event_id      varchar(128) NOT NULL,
    tickets_sold  bigint       NOT NULL,
    net_cents     bigint       NOT NULL,
    PRIMARY KEY (venue_id, days, rank)
);

INSERT INTO dashboard_periods (venue_id, days, tz, t1, customers)
SELECT v.venue_id, p.days, 'UTC', '-infinity', 0
  FROM (SELECT DISTINCT venue_id FROM sales_daily) v
 CROSS JOIN (VALUES (0), (7), (30), (90)) p (days);
