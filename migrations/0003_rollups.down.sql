-- Undoes 0003_rollups.up.sql.
DROP INDEX IF EXISTS raw_events_received_brin;
DROP TABLE IF EXISTS aggregator_state;
DROP TABLE IF EXISTS event_stats;
DROP TABLE IF EXISTS customer_stats;
DROP TABLE IF EXISTS sales_rollups;
DROP TABLE IF EXISTS event_catalog;
DROP TABLE IF EXISTS venues;
