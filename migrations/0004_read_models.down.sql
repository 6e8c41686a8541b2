-- Undoes 0004_read_models.up.sql.
DROP INDEX IF EXISTS customer_stats_venue_last;
DROP TABLE IF EXISTS customer_rfm_counts;
DROP TABLE IF EXISTS customer_rfm;
DROP TABLE IF EXISTS sales_daily;
DROP INDEX IF EXISTS raw_events_venue_show;
DROP INDEX IF EXISTS raw_events_venue_customer;
DROP INDEX IF EXISTS raw_events_venue_time;
