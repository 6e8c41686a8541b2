-- 0003_rollups: what the aggregator computes from raw_events, and the venue
-- settings it needs. Every rollup row is a pure function of raw_events (and
-- venues.timezone), so any range can be recomputed and must equal the live
-- rows (tools: aggregator --rebuild).

-- Per-venue settings. A venue without a row is in UTC.
CREATE TABLE venues (
  venue_id   varchar(64) PRIMARY KEY,
  timezone   text NOT NULL DEFAULT 'UTC'
             CHECK (timezone IS NOT NULL AND (now() AT TIME ZONE timezone) IS NOT NULL),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The shows a venue sells, from event.created / event.updated (last write wins
-- by occurred_at).
CREATE TABLE event_catalog (
  venue_id    varchar(64) NOT NULL,
  event_id    varchar(128) NOT NULL,
  name        text,
  capacity    integer,
  starts_at   timestamptz,
  event_type  varchar(64),
  occurred_at timestamptz NOT NULL,
  PRIMARY KEY (venue_id, event_id)
);

-- Sales rollups. bucket is the start of the hour (UTC instant) for 'hour',
-- and the venue-local midnight (as a UTC instant) for 'day'; local_date is
-- the venue-local calendar date of the bucket. Dimensions are '' when absent.
-- Money in integer cents. gross = sum of price x quantity of purchases,
-- refunds = sum of refunded amounts, net = gross - refunds.
CREATE TABLE sales_rollups (
  venue_id      varchar(64) NOT NULL,
  granularity   varchar(8)  NOT NULL CHECK (granularity IN ('hour', 'day')),
  bucket        timestamptz NOT NULL,
  local_date    date        NOT NULL,
  event_id      varchar(128) NOT NULL DEFAULT '',
  channel       varchar(64)  NOT NULL DEFAULT '',
  event_type    varchar(64)  NOT NULL DEFAULT '',
  tickets_sold  bigint NOT NULL DEFAULT 0,
  orders        bigint NOT NULL DEFAULT 0,
  gross_cents   bigint NOT NULL DEFAULT 0,
  refund_cents  bigint NOT NULL DEFAULT 0,
  refunds       bigint NOT NULL DEFAULT 0,
  net_cents     bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (venue_id, granularity, bucket, event_id, channel, event_type)
);
CREATE INDEX sales_rollups_venue_date ON sales_rollups (venue_id, granularity, local_date);

-- Per venue and customer (hashed id), over all time.
CREATE TABLE customer_stats (
  venue_id        varchar(64) NOT NULL,
  customer_hash   char(64)    NOT NULL,
  orders          bigint NOT NULL DEFAULT 0,
  tickets         bigint NOT NULL DEFAULT 0,
  spend_cents     bigint NOT NULL DEFAULT 0,   -- gross purchases
  refund_cents    bigint NOT NULL DEFAULT 0,
  first_purchase  timestamptz,
  last_purchase   timestamptz,
  PRIMARY KEY (venue_id, customer_hash)
);

-- Per venue and show, over all time.
CREATE TABLE event_stats (
  venue_id      varchar(64) NOT NULL,
  event_id      varchar(128) NOT NULL,
  tickets_sold  bigint NOT NULL DEFAULT 0,
  orders        bigint NOT NULL DEFAULT 0,
  gross_cents   bigint NOT NULL DEFAULT 0,
  refund_cents  bigint NOT NULL DEFAULT 0,
  first_sale    timestamptz,
  last_sale     timestamptz,
  PRIMARY KEY (venue_id, event_id)
);

-- The aggregator's progress: raw rows received up to this instant are in
-- the rollups (one row; replicas coordinate with advisory locks).
CREATE TABLE aggregator_state (
  name        text PRIMARY KEY,
  watermark   timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Finding what changed since the watermark.
CREATE INDEX raw_events_received_brin ON raw_events USING brin (received_at);
