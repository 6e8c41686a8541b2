-- Undoes 0001_seed_tables.up.sql.
DROP TABLE IF EXISTS venue_analytics;
DROP TABLE IF EXISTS analytics_alerts;
DROP TABLE IF EXISTS analytics_aggregations;
DROP TABLE IF EXISTS analytics_metrics;
