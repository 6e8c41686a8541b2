-- 0001_seed_tables: the tables of the service this project replaces (seed:
-- "Database Schema"), with venue ids as strings ('venue-123'), not UUIDs,
-- and generated UUID primary keys. Runs in one transaction with its
-- schema_migrations row (tools/tt migrate).

-- Time-series metrics recorded through POST /metrics and /metrics/bulk.
CREATE TABLE analytics_metrics (
  id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  venue_id    VARCHAR(64) NOT NULL,
  metric_type VARCHAR(100) NOT NULL,
  value       NUMERIC NOT NULL,
  timestamp   TIMESTAMPTZ NOT NULL,
  granularity JSONB,
  dimensions  JSONB,
  metadata    JSONB,
  created_at  TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX analytics_metrics_venue_type_time
  ON analytics_metrics (venue_id, metric_type, timestamp);

-- Pre-computed aggregates, one per venue, metric, period and granularity.
CREATE TABLE analytics_aggregations (
  id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  venue_id     VARCHAR(64) NOT NULL,
  metric_type  VARCHAR(100) NOT NULL,
  period_start TIMESTAMPTZ NOT NULL,
  period_end   TIMESTAMPTZ NOT NULL,
  granularity  JSONB NOT NULL,
  data         JSONB NOT NULL,
  summary      JSONB NOT NULL,
  created_at   TIMESTAMPTZ DEFAULT NOW(),
  CONSTRAINT analytics_aggregations_unique
    UNIQUE (venue_id, metric_type, period_start, period_end, granularity)
);
CREATE INDEX analytics_aggregations_venue_period
  ON analytics_aggregations (venue_id, period_start, period_end);

-- Alert rules (configurations; their firings live elsewhere).
CREATE TABLE analytics_alerts (
  id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  venue_id       VARCHAR(64) NOT NULL,
  name           VARCHAR(255) NOT NULL,
  type           VARCHAR(50) NOT NULL,
  severity       VARCHAR(50) NOT NULL,
  conditions     JSONB NOT NULL,
  actions        JSONB NOT NULL,
  enabled        BOOLEAN DEFAULT true,
  trigger_count  INTEGER DEFAULT 0,
  last_triggered TIMESTAMPTZ,
  created_at     TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX analytics_alerts_venue_enabled ON analytics_alerts (venue_id, enabled);

-- Daily (hour NULL) and hourly venue aggregates.
CREATE TABLE venue_analytics (
  id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  venue_id         VARCHAR(64) NOT NULL,
  date             DATE NOT NULL,
  hour             INTEGER CHECK (hour BETWEEN 0 AND 23),
  tickets_sold     INTEGER DEFAULT 0,
  revenue          NUMERIC DEFAULT 0,
  unique_customers INTEGER,
  updated_at       TIMESTAMPTZ DEFAULT NOW(),
  -- NULLS NOT DISTINCT: one daily row (hour NULL) per venue and day, so
  -- rollups can upsert it with ON CONFLICT (venue_id, date, hour).
  CONSTRAINT venue_analytics_venue_date_hour UNIQUE NULLS NOT DISTINCT (venue_id, date, hour)
);
