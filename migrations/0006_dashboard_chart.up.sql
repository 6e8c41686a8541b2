-- 0006_dashboard_chart: the dashboard's chart in its read model.
--
-- dashboard_periods (0005) gains the period's chart, one cell per bucket,
-- oldest first: chart_net (net cents) and chart_tickets, over the N
-- venue-local dates of a day period (the 'total' rows of sales_daily) or the
-- 24 UTC hours of the 24h period (the hour rows of sales_rollups), 0 for a
-- bucket without sales. A reader with a matching row then reads the chart
-- from it instead of N rows of sales_daily. Every stored period is marked
-- ended so that the aggregator's next pass computes the new columns.
ALTER TABLE dashboard_periods ADD COLUMN chart_net bigint[], ADD COLUMN chart_tickets bigint[];
UPDATE dashboard_periods SET t1 = '-infinity';
