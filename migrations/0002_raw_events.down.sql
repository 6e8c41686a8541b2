-- Undoes 0002_raw_events.up.sql (dropping raw_events drops its partitions).
DROP TABLE IF EXISTS realtime_counters;
DROP FUNCTION IF EXISTS analytics_raw_ensure_partition(timestamptz);
DROP TABLE IF EXISTS raw_events;
DROP TABLE IF EXISTS raw_event_ids;
