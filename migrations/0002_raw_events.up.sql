-- 0002_raw_events: the raw event store written by ingest, and the durable
-- real-time counters. Names are part of ingest's contract.
--
-- raw_event_ids is the dedup key (a partitioned table cannot have a unique
-- index that leaves out the partition key): ingest inserts the id there with
-- ON CONFLICT DO NOTHING and writes the event to raw_events only when the id
-- was new, in the same transaction.
--
-- Month bounds are computed in UTC whatever the session's TimeZone.

CREATE TABLE raw_event_ids (
  id          varchar(128) PRIMARY KEY,
  occurred_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE raw_events (
  id            varchar(128) NOT NULL,
  type          varchar(64) NOT NULL,
  venue_id      varchar(64) NOT NULL,
  event_id      varchar(128),
  customer_hash char(64),
  session_id    varchar(128),
  occurred_at   timestamptz NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  revenue_cents bigint NOT NULL DEFAULT 0,
  quantity      integer NOT NULL DEFAULT 0,
  payload       jsonb NOT NULL
) PARTITION BY RANGE (occurred_at);

-- Rows arrive roughly in occurred_at order, so a BRIN index finds a time range
-- at a fraction of a B-tree's cost per insert (ingest's hot path). Reads by
-- venue come from the rollups, not from this table.
CREATE INDEX raw_events_time_brin ON raw_events USING brin (occurred_at);

-- analytics_raw_ensure_partition(ts): create raw_events_YYYYMM for the UTC
-- month holding ts unless it exists. Safe when called concurrently: losing
-- the race to create the same partition is not an error.
CREATE FUNCTION analytics_raw_ensure_partition(ts timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  month_start timestamp := date_trunc('month', ts AT TIME ZONE 'UTC');
  month_end   timestamp := month_start + interval '1 month';
  part        text := 'raw_events_' || to_char(month_start, 'YYYYMM');
BEGIN
  IF to_regclass(quote_ident(part)) IS NOT NULL THEN
    RETURN;
  END IF;
  BEGIN
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS %I PARTITION OF raw_events FOR VALUES FROM (%L) TO (%L)',
      part,
      to_char(month_start, 'YYYY-MM-DD HH24:MI:SS') || '+00',
      to_char(month_end, 'YYYY-MM-DD HH24:MI:SS') || '+00');
  EXCEPTION
    WHEN duplicate_table OR unique_violation THEN
      NULL;  -- created by a concurrent caller
  END;
END
$$;

COMMENT ON FUNCTION analytics_raw_ensure_partition(timestamptz) IS
  'Creates the raw_events partition (raw_events_YYYYMM) of the UTC month containing ts if missing; concurrency-safe.';

-- Partitions for 2024-01 .. 2027-12.
DO $$
DECLARE
  m timestamp;
BEGIN
  FOR m IN SELECT generate_series(timestamp '2024-01-01', timestamp '2027-12-01', interval '1 month') LOOP
    PERFORM analytics_raw_ensure_partition(m AT TIME ZONE 'UTC');
  END LOOP;
END
$$;

-- Durable per-venue, per-UTC-day counters; Redis holds the fast copy and is
-- reconciled from here.
CREATE TABLE realtime_counters (
  venue_id      varchar(64) NOT NULL,
  day           date NOT NULL,
  revenue_cents bigint NOT NULL DEFAULT 0,
  sales         bigint NOT NULL DEFAULT 0,
  traffic       bigint NOT NULL DEFAULT 0,
  version       bigint NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (venue_id, day)
);
