// aggregator.test.mjs - the aggregator's rollups are exact, incremental ==
// rebuild, and venue-local days are right across DST.
//
// A seeded dataset goes through the real path (RabbitMQ -> ingest ->
// raw_events): four venues (no venues row = UTC, America/New_York,
// Asia/Kolkata +05:30, Europe/London), events around the 2025 DST changes
// and in the last days, re-publications, refunds, out-of-order instants.
// A first `--once` pass runs on two thirds of it; the rest (late: old
// occurredAt, received after the first pass) is rolled up by the daemon.
// Then every sales_rollups / customer_stats / event_stats / event_catalog
// row of the test's venues must equal (a) a model computed here in JS from
// the published events (BigInt cents, local dates with Intl.DateTimeFormat)
// and (b) an independent SQL formulation over raw_events; `--once` again
// changes nothing; `--rebuild` gives byte-identical tables.
// The seed's tables are checked the same way: venue_analytics (daily and
// venue-local hourly rows, revenue as exact decimals) against the model and
// SQL, analytics_aggregations against venue_analytics.
//
// TT_E2E_SEEDS=1,2,3 runs the whole set once per dataset seed (default: one).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, Service, freePort, poll, sanitizerReport, sleep } from './lib/harness.mjs';
import { EventFactory, Expected, formatCents, hmacHex, makeStream } from './lib/events.mjs';
import { e2eSeeds } from './lib/seeds.mjs';
import * as stack from './lib/stack-env.mjs';

const SEEDS = e2eSeeds();
const COUNT = 3000;
const DUPS = 300;
const HOUR = 3600000;
const DAY = 24 * HOUR;
const SALES = new Set(['ticket.purchased', 'ticket.refunded']);

// venue index -> IANA zone; index 0 has no venues row (UTC by default).
const ZONES = [null, 'America/New_York', 'Asia/Kolkata', 'Europe/London'];

// ------------------------------------------------------------- the binary

const AGG_ENV = { AGGREGATOR_LATE_WINDOW_HOURS: '100000', LOG_LEVEL: 'warn' };

/** Runs the aggregator with args to completion: {code, stdout, stderr}. */
function runAggregator(args, extraEnv = {}) {
  return new Promise((resolve) => {
    execFile(stack.binPath('aggregator'), args, { env: stack.serviceEnv({ ...AGG_ENV, ...extraEnv }), timeout: 120000 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

async function runOk(args, extraEnv) {
  const r = await runAggregator(args, extraEnv);
  assert.equal(sanitizerReport(r.stderr + r.stdout), null, `sanitizer report from aggregator ${args.join(' ')}:\n${r.stderr}`);
  assert.equal(r.code, 0, `aggregator ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

// ------------------------------------------------------------ time zones

function localDate(ms, tz) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(ms));
}

/** Wall-clock of instant ms in tz, as if it were UTC (ms). */
function wallMs(ms, tz) {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
}

/** The instant of local midnight starting date (YYYY-MM-DD) in tz. */
function localMidnight(date, tz) {
  const target = Date.parse(`${date}T00:00:00Z`);
  let t = target;
  for (let i = 0; i < 4; i++) t = target - (wallMs(t, tz) - t);
  assert.equal(wallMs(t, tz), target, `no local midnight for ${date} in ${tz}`);
  return t;
}

/** The local hour (0..23) of instant ms in tz. */
function localHour(ms, tz) {
  return new Date(wallMs(ms, tz)).getUTCHours();
}

function nextDate(date) {
  return new Date(Date.parse(`${date}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
}

// ------------------------------------------------------------- the model

const s = (v) => (v === null || v === undefined ? 'null' : String(v));

/** The rollup rows the aggregator must produce from the distinct valid events. */
function model(events, salt, zoneOf) {
  const sales = new Map();
  const customers = new Map();
  const shows = new Map();
  const catalog = new Map();
  const venueDays = new Map(); // venue|date|hour ('' = daily) -> {tickets, net, buyers}
  const bump = (map, key, init) => {
    let r = map.get(key);
    if (!r) map.set(key, (r = init()));
    return r;
  };
  const salesRow = () => ({ tickets: 0n, orders: 0n, gross: 0n, refund: 0n, refunds: 0n });
  for (const e of events) {
    const env = e.envelope;
    const eventId = env.eventId ?? '';
    if (SALES.has(e.type)) {
      const buy = e.type === 'ticket.purchased';
      const tz = zoneOf(e.venueId);
      const channel = env.data.channel ?? '';
      const eventType = env.data.eventType ?? '';
      const hour = Math.floor(e.occurredMs / HOUR) * HOUR;
      const day = localDate(e.occurredMs, tz);
      const rows = [
        bump(sales, [e.venueId, 'hour', hour, localDate(hour, tz), eventId, channel, eventType].join('|'), salesRow),
        bump(sales, [e.venueId, 'day', localMidnight(day, tz), day, eventId, channel, eventType].join('|'), salesRow),
      ];
      for (const h of ['', String(localHour(e.occurredMs, tz))]) {
        const r = bump(venueDays, `${e.venueId}|${day}|${h}`, () => ({ tickets: 0n, net: 0n, buyers: new Set() }));
        r.net += e.revenue;
        if (buy) {
          r.tickets += e.sales;
          if (env.userId !== undefined) r.buyers.add(hmacHex(salt, env.userId));
        }
      }
      for (const r of rows) {
        if (buy) {
          r.tickets += e.sales;
          r.orders += 1n;
          r.gross += e.revenue;
        } else {
          r.refund -= e.revenue;
          r.refunds += 1n;
        }
      }
      const agg = (r) => {
        if (buy) {
          r.orders += 1n;
          r.tickets += e.sales;
          r.gross += e.revenue;
          r.first = r.first === null ? e.occurredMs : Math.min(r.first, e.occurredMs);
          r.last = r.last === null ? e.occurredMs : Math.max(r.last, e.occurredMs);
        } else {
          r.refund -= e.revenue;
        }
      };
      const statRow = () => ({ orders: 0n, tickets: 0n, gross: 0n, refund: 0n, first: null, last: null });
      if (env.userId !== undefined) agg(bump(customers, `${e.venueId}|${hmacHex(salt, env.userId)}`, statRow));
      if (env.eventId !== undefined) agg(bump(shows, `${e.venueId}|${env.eventId}`, statRow));
    } else if ((e.type === 'event.created' || e.type === 'event.updated') && env.eventId !== undefined) {
      const key = `${e.venueId}|${env.eventId}`;
      const cur = catalog.get(key);
      const rank = (x) => [x.occurredMs, x.type === 'event.updated' ? 1 : 0, x.id];
      const newer = (a, b) => {
        const [ra, rb] = [rank(a), rank(b)];
        if (ra[0] !== rb[0]) return ra[0] > rb[0];
        if (ra[1] !== rb[1]) return ra[1] > rb[1];
        return ra[2] > rb[2];
      };
      if (!cur || newer(e, cur)) catalog.set(key, e);
    }
  }
  const salesRows = new Map([...sales].map(([k, r]) => [k, [r.tickets, r.orders, r.gross, r.refund, r.refunds, r.gross - r.refund].map(String).join('|')]));
  const statRows = (m) => new Map([...m].map(([k, r]) => [k, [r.orders, r.tickets, r.gross, r.refund, s(r.first), s(r.last)].join('|')]));
  const catalogRows = new Map([...catalog].map(([k, e]) => {
    const d = e.envelope.data;
    return [k, [d.name, s(d.capacity), s(Date.parse(d.startsAt)), d.eventType, s(e.occurredMs)].join('|')];
  }));
  const venueRows = new Map([...venueDays].map(([k, r]) => [k, `${r.tickets}|${formatCents(r.net)}|${r.buyers.size}`]));
  return { sales: salesRows, customers: statRows(customers), shows: statRows(shows), catalog: catalogRows,
    venue: venueRows, aggregations: aggregationsModel(venueDays, zoneOf) };
}

const DAY_GRANULARITY = '{"unit": "day", "value": 1}';

/**
 * The analytics_aggregations rows implied by the venue-day cells: per venue
 * and local date, 'revenue' and 'ticketSales' with 24 hourly values, total
 * and peakHour (earliest largest value above 0, else null).
 */
function aggregationsModel(venueDays, zoneOf) {
  const out = new Map();
  for (const [k, day] of venueDays) {
    const [venue, date, h] = k.split('|');
    if (h !== '') continue;
    const start = localMidnight(date, zoneOf(venue));
    const end = localMidnight(nextDate(date), zoneOf(venue));
    for (const [metric, pick, fmt] of [['revenue', (r) => r.net, formatCents], ['ticketSales', (r) => r.tickets, String]]) {
      const values = [];
      for (let hour = 0; hour < 24; hour++) {
        const r = venueDays.get(`${venue}|${date}|${hour}`);
        values.push(r ? pick(r) : 0n);
      }
      let peak = null;
      values.forEach((v, hour) => { if (v > 0n && (peak === null || v > values[peak])) peak = hour; });
      out.set(`${venue}|${metric}|${start}|${end}|${DAY_GRANULARITY}`,
        `${values.map((v, hour) => `${hour}:${fmt(v)}`).join(',')}|${fmt(pick(day))}|${s(peak)}`);
    }
  }
  return out;
}

// ------------------------------------------------------- reading the tables

const MS = (col) => `(extract(epoch FROM ${col}) * 1000)::bigint::text`;

/** The rollup tables of the tag's venues, as key -> value maps (same shape as model()). */
async function tables(pool, like) {
  const q = async (sql) => (await pool.query(sql, [like])).rows;
  const sales = await q(`SELECT venue_id || '|' || granularity || '|' || ${MS('bucket')} || '|' || local_date::text || '|' ||
      event_id || '|' || channel || '|' || event_type AS k,
      concat_ws('|', tickets_sold, orders, gross_cents, refund_cents, refunds, net_cents) AS v
    FROM sales_rollups WHERE venue_id LIKE $1`);
  const customers = await q(`SELECT venue_id || '|' || customer_hash AS k,
      concat_ws('|', orders, tickets, spend_cents, refund_cents, coalesce(${MS('first_purchase')}, 'null'), coalesce(${MS('last_purchase')}, 'null')) AS v
    FROM customer_stats WHERE venue_id LIKE $1`);
  const shows = await q(`SELECT venue_id || '|' || event_id AS k,
      concat_ws('|', orders, tickets_sold, gross_cents, refund_cents, coalesce(${MS('first_sale')}, 'null'), coalesce(${MS('last_sale')}, 'null')) AS v
    FROM event_stats WHERE venue_id LIKE $1`);
  const catalog = await q(`SELECT venue_id || '|' || event_id AS k,
      concat_ws('|', name, coalesce(capacity::text, 'null'), coalesce(${MS('starts_at')}, 'null'), event_type, ${MS('occurred_at')}) AS v
    FROM event_catalog WHERE venue_id LIKE $1`);
  const venue = await q(`SELECT venue_id || '|' || date::text || '|' || coalesce(hour::text, '') AS k,
      concat_ws('|', tickets_sold, revenue, unique_customers) AS v
    FROM venue_analytics WHERE venue_id LIKE $1`);
  const aggregations = await q(`SELECT concat_ws('|', venue_id, metric_type, ${MS('period_start')}, ${MS('period_end')}, granularity::text) AS k,
      concat_ws('|', (SELECT string_agg((x.e->>'hour') || ':' || (x.e->>'value'), ',' ORDER BY x.n)
                        FROM jsonb_array_elements(data) WITH ORDINALITY x(e, n)),
                summary->>'total', coalesce(summary->>'peakHour', 'null')) AS v
    FROM analytics_aggregations WHERE venue_id LIKE $1`);
  const m = (rows) => new Map(rows.map((r) => [r.k, r.v]));
  return { sales: m(sales), customers: m(customers), shows: m(shows), catalog: m(catalog), venue: m(venue),
    aggregations: m(aggregations) };
}

/** The same maps from raw_events, written independently of the aggregator's SQL. */
async function independentSql(pool, like) {
  const q = async (sql) => (await pool.query(sql, [like])).rows;
  const base = `WITH r AS (
      SELECT e.*, coalesce(v.timezone, 'UTC') AS tz,
             CASE WHEN e.type = 'ticket.purchased' THEN 1 ELSE 0 END AS buy
        FROM raw_events e LEFT JOIN venues v ON v.venue_id = e.venue_id
       WHERE e.venue_id LIKE $1 AND e.type IN ('ticket.purchased', 'ticket.refunded'))`;
  const measures = `concat_ws('|', sum(quantity * buy), sum(buy), sum(revenue_cents * buy), sum(-revenue_cents * (1 - buy)),
      sum(1 - buy), sum(revenue_cents))`;
  const dims = `coalesce(event_id, '') || '|' || coalesce(payload #>> '{data,channel}', '') || '|' || coalesce(payload #>> '{data,eventType}', '')`;
  const hours = await q(`${base}
    SELECT venue_id || '|hour|' || ${MS("to_timestamp(floor(extract(epoch FROM occurred_at) / 3600) * 3600)")} || '|' ||
           to_char(to_timestamp(floor(extract(epoch FROM occurred_at) / 3600) * 3600) AT TIME ZONE tz, 'YYYY-MM-DD') || '|' || ${dims} AS k,
           ${measures} AS v
      FROM r GROUP BY 1`);
  const days = await q(`${base}
    SELECT venue_id || '|day|' || ${MS("timezone(tz, date_trunc('day', timezone(tz, occurred_at)))")} || '|' ||
           to_char(timezone(tz, occurred_at), 'YYYY-MM-DD') || '|' || ${dims} AS k,
           ${measures} AS v
      FROM r GROUP BY 1`);
  const stat = (col) => `${base}
    SELECT venue_id || '|' || ${col} AS k,
           concat_ws('|', sum(buy), sum(quantity * buy), sum(revenue_cents * buy), sum(-revenue_cents * (1 - buy)),
             coalesce(min(${MS('occurred_at')}::bigint) FILTER (WHERE buy = 1)::text, 'null'),
             coalesce(max(${MS('occurred_at')}::bigint) FILTER (WHERE buy = 1)::text, 'null')) AS v
      FROM r WHERE ${col} IS NOT NULL GROUP BY 1`;
  const customersRaw = await q(stat('customer_hash'));
  const showsRaw = await q(stat('event_id'));
  // venue_analytics: local date and local hour of each raw row's wall-clock time; cents formatted here.
  const venueCells = await q(`${base}
    SELECT venue_id || '|' || to_char(occurred_at AT TIME ZONE tz, 'YYYY-MM-DD') || '|' || h.hour AS k,
           sum(quantity * buy)::text AS tickets, sum(revenue_cents)::text AS cents,
           count(DISTINCT CASE WHEN buy = 1 THEN customer_hash END)::text AS buyers
      FROM r CROSS JOIN LATERAL (VALUES (''), (to_char(occurred_at AT TIME ZONE tz, 'FMHH24'))) h(hour)
     GROUP BY 1`);
  const venue = new Map(venueCells.map((r) => [r.k, `${r.tickets}|${formatCents(BigInt(r.cents))}|${r.buyers}`]));
  // Statistics rows: the columns are in the stored order (orders, tickets) for customers, (orders, tickets_sold) for shows.
  const m = (rows) => new Map(rows.map((r) => [r.k, r.v]));
  return { sales: new Map([...m(hours), ...m(days)]), customers: m(customersRaw), shows: m(showsRaw), venue };
}

function sorted(map) {
  return [...map].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function assertSameMap(got, want, what) {
  const g = sorted(got);
  const w = sorted(want);
  const missing = w.filter(([k]) => !got.has(k)).slice(0, 3);
  const extra = g.filter(([k]) => !want.has(k)).slice(0, 3);
  const diff = w.filter(([k, v]) => got.has(k) && got.get(k) !== v).slice(0, 3).map(([k, v]) => `${k}: got ${got.get(k)} want ${v}`);
  assert.ok(missing.length === 0 && extra.length === 0 && diff.length === 0 && g.length === w.length,
    `${what}: ${got.size} rows vs ${want.size} expected; missing ${JSON.stringify(missing)} extra ${JSON.stringify(extra)} differ ${JSON.stringify(diff)}`);
}

/** Every rollup row as its text form, in primary-key order: for byte-identical comparisons. */
async function dump(pool, like) {
  const out = [];
  for (const [t, order] of [['sales_rollups', 'venue_id, granularity, bucket, event_id, channel, event_type'],
    ['customer_stats', 'venue_id, customer_hash'], ['event_stats', 'venue_id, event_id'], ['event_catalog', 'venue_id, event_id'],
    ['venue_analytics', 'venue_id, date, hour NULLS FIRST'], ['analytics_aggregations', 'venue_id, metric_type, period_start']]) {
    // The seed's tables: every column but the generated id and the created/updated_at stamps.
    const cols = { venue_analytics: 'ROW(venue_id, date, hour, tickets_sold, revenue, unique_customers)::text',
      analytics_aggregations: 'ROW(venue_id, metric_type, period_start, period_end, granularity, data, summary)::text' }[t] ?? 'x::text';
    const { rows } = await pool.query(`SELECT ${cols} AS t FROM ${t} x WHERE venue_id LIKE $1 ORDER BY ${order}`, [like]);
    out.push(`${t}:${rows.length}`, ...rows.map((r) => r.t));
  }
  return out;
}

const ROLLUP_TABLES = ['sales_rollups', 'customer_stats', 'event_stats', 'event_catalog', 'venue_analytics', 'analytics_aggregations'];

async function deleteRollups(pool, like) {
  for (const t of [...ROLLUP_TABLES, 'venues'])
    await pool.query(`DELETE FROM ${t} WHERE venue_id LIKE $1`, [like]);
}

// ------------------------------------------------------------------ tests

for (const SEED of SEEDS) describe(`aggregator (seed ${SEED}): exact rollups, incremental == rebuild, venue-local days across DST`, { timeout: 300000 }, () => {
  let w;
  let like;
  let factory;
  let exp;
  let zoneOf;
  let daemon;

  /** Waits until ingest stored n ids, then until now() - 2 s has passed them (the pass's commit-lag slack). */
  async function drained(n) {
    const r = await w.waitDrained({ ids: n, bad: 0, timeoutMs: 120000 });
    assert.ok(r.ok, `ingest did not store ${n} events: ${JSON.stringify(r.value)}`);
    await sleep(2500);
  }

  before(async () => {
    w = await IngestWorld.open(`agg-${SEED}`);
    like = `${w.tag}-%`;
    await deleteRollups(w.pool, like);
    const now = Date.now();
    factory = new EventFactory({
      tag: w.tag,
      seed: SEED,
      venues: ZONES.length,
      salt: w.salt,
      windows: [
        { startMs: Date.UTC(2025, 2, 8), endMs: Date.UTC(2025, 2, 11) }, // New York springs forward 2025-03-09
        { startMs: Date.UTC(2025, 2, 29), endMs: Date.UTC(2025, 3, 1) }, // London springs forward 2025-03-30
        { startMs: Date.UTC(2025, 10, 1), endMs: Date.UTC(2025, 10, 4) }, // New York falls back 2025-11-02
        { startMs: now - 3 * DAY, endMs: now - 60000 }, // the last days
      ],
    });
    const zones = new Map(factory.venueIds.map((v, i) => [v, ZONES[i] ?? 'UTC']));
    zoneOf = (v) => zones.get(v);
    for (const [i, v] of factory.venueIds.entries()) {
      if (ZONES[i]) await w.pool.query('INSERT INTO venues (venue_id, timezone) VALUES ($1, $2)', [v, ZONES[i]]);
    }
    const msgs = makeStream(factory, { count: COUNT, dups: DUPS, bad: 0 });
    const first = msgs.slice(0, Math.floor((msgs.length * 2) / 3));
    const late = msgs.slice(first.length);
    exp = new Expected().addAll(first);

    await w.startIngest();
    await w.pub.publish(w.names.exchange, first);
    await drained(exp.events.size);
    await runOk(['--once']);

    // The rest arrives after that pass, out of order (newest first), with re-publications of old events.
    late.reverse();
    late.push(...first.slice(0, 200));
    exp.addAll(late);
    await w.pub.publish(w.names.exchange, late);
    await drained(exp.events.size);

    const healthPort = await freePort();
    daemon = new Service('aggregator', {
      env: { ...AGG_ENV, AGGREGATOR_INTERVAL_MS: '200', AGGREGATOR_HEALTH_PORT: String(healthPort) },
      healthPort,
    });
    w.services.push(daemon);
    daemon.start();
    await daemon.waitReady();
  });

  after(async () => {
    if (w) {
      await deleteRollups(w.pool, like).catch(() => {});
      const errors = await w.close();
      if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
    }
  });

  it('the daemon rolls up the late events: every row equals the model computed here from the published events', async () => {
    const want = model(exp.events.values(), w.salt, zoneOf);
    const r = await poll(() => tables(w.pool, like), (t) => JSON.stringify(sorted(t.sales)) === JSON.stringify(sorted(want.sales)),
      { timeoutMs: 30000, intervalMs: 250 });
    const got = r.value;
    assert.ok(want.sales.size > 500, `too few sales rows in the model: ${want.sales.size}`);
    assert.ok(want.venue.size > 300, `too few venue_analytics rows in the model: ${want.venue.size}`);
    assertSameMap(got.sales, want.sales, 'sales_rollups');
    assertSameMap(got.customers, want.customers, 'customer_stats');
    assertSameMap(got.shows, want.shows, 'event_stats');
    assertSameMap(got.catalog, want.catalog, 'event_catalog');
    assertSameMap(got.venue, want.venue, 'venue_analytics');
    assertSameMap(got.aggregations, want.aggregations, 'analytics_aggregations');
  });

  it('every row equals an independent SQL query over raw_events', async () => {
    const got = await tables(w.pool, like);
    const ind = await independentSql(w.pool, like);
    assertSameMap(got.sales, ind.sales, 'sales_rollups vs SQL');
    assertSameMap(got.customers, ind.customers, 'customer_stats vs SQL');
    assertSameMap(got.shows, ind.shows, 'event_stats vs SQL');
    assertSameMap(got.venue, ind.venue, 'venue_analytics vs SQL');
  });

  it('analytics_aggregations: two rows per venue_analytics daily row, totals equal to its revenue and tickets_sold', async () => {
    const { rows } = await w.pool.query(`
      SELECT d.venue_id, d.date::text, d.tickets_sold::text, d.revenue::text,
             (SELECT count(*) FROM analytics_aggregations a WHERE a.venue_id = d.venue_id
                 AND a.period_start = (d.date::timestamp AT TIME ZONE coalesce(v.timezone, 'UTC')))::int AS n,
             (SELECT (a.summary->>'total')::numeric::text FROM analytics_aggregations a WHERE a.venue_id = d.venue_id
                 AND a.metric_type = 'revenue' AND a.period_start = (d.date::timestamp AT TIME ZONE coalesce(v.timezone, 'UTC'))) AS rev,
             (SELECT (a.summary->>'total')::numeric::text FROM analytics_aggregations a WHERE a.venue_id = d.venue_id
                 AND a.metric_type = 'ticketSales' AND a.period_start = (d.date::timestamp AT TIME ZONE coalesce(v.timezone, 'UTC'))) AS tix
        FROM venue_analytics d LEFT JOIN venues v ON v.venue_id = d.venue_id
       WHERE d.venue_id LIKE $1 AND d.hour IS NULL`, [like]);
    assert.ok(rows.length > 20, `too few daily rows: ${rows.length}`);
    for (const r of rows) {
      assert.deepEqual({ n: r.n, rev: r.rev, tix: r.tix }, { n: 2, rev: r.revenue, tix: r.tickets_sold }, `${r.venue_id} ${r.date}`);
    }
    const all = await w.pool.query('SELECT count(*)::int AS n FROM analytics_aggregations WHERE venue_id LIKE $1', [like]);
    assert.equal(all.rows[0].n, 2 * rows.length, 'no analytics_aggregations row without its daily row');
  });

  it('venue-local days across DST: 23 h and 25 h days in New York, 23 h in London; hours of a day sum to the day', async () => {
    const cases = [
      [1, '2025-03-09', 23], [1, '2025-11-02', 25], [3, '2025-03-30', 23], [2, '2025-03-09', 24], [0, '2025-03-09', 24],
    ];
    for (const [i, date, hours] of cases) {
      const venue = factory.venueIds[i];
      const { rows } = await w.pool.query(
        `SELECT DISTINCT ${MS('bucket')} AS b FROM sales_rollups WHERE venue_id = $1 AND granularity = 'day' AND local_date = $2`,
        [venue, date]);
      assert.equal(rows.length, 1, `one day bucket start for ${venue} ${date}: ${JSON.stringify(rows)}`);
      const start = Number(rows[0].b);
      const end = localMidnight(nextDate(date), zoneOf(venue));
      assert.equal(start, localMidnight(date, zoneOf(venue)), `${venue} ${date} starts at local midnight`);
      assert.equal((end - start) / HOUR, hours, `${venue} ${date} lasts ${hours} h`);
      // Hour buckets of that local date: within the day, at most `hours` of them.
      const h = await w.pool.query(
        `SELECT ${MS('bucket')} AS b, sum(tickets_sold)::text AS t, sum(net_cents)::text AS n FROM sales_rollups
          WHERE venue_id = $1 AND granularity = 'hour' AND local_date = $2 GROUP BY bucket`, [venue, date]);
      assert.ok(h.rows.length > 0 && h.rows.length <= hours, `${h.rows.length} hour buckets on ${date}`);
      for (const r of h.rows) assert.ok(Number(r.b) >= start && Number(r.b) < end, `hour ${r.b} outside ${date}`);
      const d = await w.pool.query(
        `SELECT sum(tickets_sold)::text AS t, sum(net_cents)::text AS n FROM sales_rollups
          WHERE venue_id = $1 AND granularity = 'day' AND local_date = $2`, [venue, date]);
      // venue_analytics: local hours (at most `hours` distinct, never the skipped one) sum to the daily row in every zone.
      const va = await w.pool.query(
        `SELECT hour, tickets_sold::text AS t, revenue::text AS r FROM venue_analytics WHERE venue_id = $1 AND date = $2`, [venue, date]);
      const daily = va.rows.filter((r) => r.hour === null);
      const hourly = va.rows.filter((r) => r.hour !== null);
      assert.equal(daily.length, 1, `one venue_analytics daily row for ${venue} ${date}`);
      assert.ok(hourly.length > 0 && hourly.length <= Math.min(hours, 24), `${hourly.length} venue_analytics hours on ${date}`);
      // Local hours the day has (a spring day skips one: 02 in New York, 01 in London).
      const present = new Set();
      for (let t = start; t < end; t += HOUR / 2) present.add(localHour(t, zoneOf(venue)));
      assert.equal(present.size, Math.min(hours, 24), `${venue} ${date} has ${Math.min(hours, 24)} local hours`);
      for (const r of hourly) assert.ok(present.has(r.hour), `${venue} ${date}: row for local hour ${r.hour}, which the day skips`);
      const cents = (x) => BigInt(x.replace('.', ''));
      assert.deepEqual({ t: String(hourly.reduce((a, r) => a + BigInt(r.t), 0n)), r: formatCents(hourly.reduce((a, r) => a + cents(r.r), 0n)) },
        { t: daily[0].t, r: daily[0].r }, `venue_analytics hours of ${venue} ${date} sum to the day`);
      if (hours === 25) {
        // 01:00-02:00 local happens twice (05:00Z EDT, 06:00Z EST): one hour-1 row holding both UTC hours.
        const two = await w.pool.query(
          `SELECT coalesce(sum(tickets_sold), 0)::text AS t, coalesce(sum(net_cents), 0)::text AS n FROM sales_rollups
            WHERE venue_id = $1 AND granularity = 'hour' AND bucket IN ('2025-11-02T05:00:00Z', '2025-11-02T06:00:00Z')`, [venue]);
        const one = hourly.find((r) => r.hour === 1) ?? { t: '0', r: '0.00' };
        assert.deepEqual({ t: one.t, r: one.r }, { t: two.rows[0].t, r: formatCents(BigInt(two.rows[0].n)) },
          `${venue} ${date} local hour 1 = both UTC hours`);
      }
      // (Kolkata is +05:30: its UTC hour buckets straddle local midnight, so only whole-hour zones add up.)
      if (zoneOf(venue) === 'Asia/Kolkata') continue;
      const sum = (k) => String(h.rows.reduce((a, r) => a + BigInt(r[k]), 0n));
      assert.deepEqual({ t: sum('t'), n: sum('n') }, d.rows[0], `hours of ${venue} ${date} sum to the day`);
    }
  });

  it('health, readiness and Prometheus metrics on AGGREGATOR_HEALTH_PORT; SIGTERM exits 0', async () => {
    const get = async (p) => {
      const res = await fetch(`http://127.0.0.1:${daemon.healthPort}${p}`, { signal: AbortSignal.timeout(5000) });
      return { status: res.status, text: await res.text() };
    };
    assert.deepEqual(JSON.parse((await get('/health')).text), { success: true, data: { status: 'ok' } });
    assert.equal((await get('/health/live')).status, 200);
    const ready = await get('/health/ready');
    assert.equal(ready.status, 200, ready.text);
    assert.equal(JSON.parse(ready.text).data?.services?.database, 'ok', ready.text);
    assert.equal((await get('/health/dependencies')).status, 200);
    const m = (await get('/metrics')).text;
    for (const name of ['aggregator_passes_total', 'aggregator_buckets_recomputed_total', 'aggregator_late_events_ignored_total',
      'aggregator_lag_seconds', 'aggregator_pass_seconds_bucket']) assert.match(m, new RegExp(`^${name}(\\{[^}]*\\})? \\d`, 'm'), name);
    const passes = Number(/^aggregator_passes_total (\d+)/m.exec(m)[1]);
    assert.ok(passes >= 1, `passes ${passes}`);
    const lag = Number(/^aggregator_lag_seconds (\S+)/m.exec(m)[1]);
    assert.ok(lag >= 0 && lag < 60, `lag ${lag}`);
    await daemon.stopClean();
  });

  it('--once twice changes nothing', async () => {
    const before = await dump(w.pool, like);
    await runOk(['--once']);
    await runOk(['--once']);
    assert.deepEqual(await dump(w.pool, like), before);
  });

  it('--rebuild (per venue, and a range) gives byte-identical tables', async () => {
    const incremental = await dump(w.pool, like);
    // Wipe the test's rollups so the rebuild has to produce every row itself.
    for (const t of ROLLUP_TABLES)
      await w.pool.query(`DELETE FROM ${t} WHERE venue_id LIKE $1`, [like]);
    for (const v of factory.venueIds) {
      const r = await runOk(['--rebuild', '--venue', v]);
      assert.match(r.stdout, /^aggregator: rebuilt venue=\S+ .* buckets in \d+ ms$/m);
    }
    assert.deepEqual(await dump(w.pool, like), incremental);
    // A range rebuild (the New York DST week) rewrites its buckets to the same rows.
    await runOk(['--rebuild', '--venue', factory.venueIds[1], '--from', '2025-03-08T00:00:00Z', '--to', '2025-03-11T00:00:00Z']);
    assert.deepEqual(await dump(w.pool, like), incremental);
  });

  it('outside the late window a pass leaves the sales buckets alone; --rebuild takes the event in', async () => {
    const venue = factory.venueIds[0];
    // A purchase of venue 0 on 2025-03-09 12:34:56Z, received now.
    const env = { id: `${w.tag}-late1`, type: 'ticket.purchased', occurredAt: '2025-03-09T12:34:56Z', venueId: venue,
      eventId: `${w.tag}-show1`, data: { ticketId: `${w.tag}-tklate`, orderId: `${w.tag}-olate`, price: '12.34', quantity: 3, channel: 'web' } };
    const msg = { kind: 'valid', id: env.id, type: env.type, routingKey: env.type, body: JSON.stringify(env), envelope: env,
      venueId: venue, day: '2025-03-09', occurredMs: Date.parse(env.occurredAt), revenue: 3702n, sales: 3n };
    exp.add(msg);
    const before = await tables(w.pool, like);
    await w.pub.publish(w.names.exchange, [msg]);
    await drained(exp.events.size);
    await runOk(['--once'], { AGGREGATOR_LATE_WINDOW_HOURS: '24' });
    const after1 = await tables(w.pool, like);
    assertSameMap(after1.sales, before.sales, 'sales_rollups after a pass with the event outside the late window');
    assertSameMap(after1.venue, before.venue, 'venue_analytics after a pass with the event outside the late window');
    await runOk(['--rebuild', '--venue', venue]);
    const want = model(exp.events.values(), w.salt, zoneOf);
    const got = await tables(w.pool, like);
    assertSameMap(got.sales, want.sales, 'sales_rollups after --rebuild');
    assertSameMap(got.shows, want.shows, 'event_stats after --rebuild');
    assertSameMap(got.venue, want.venue, 'venue_analytics after --rebuild');
    assertSameMap(got.aggregations, want.aggregations, 'analytics_aggregations after --rebuild');
  });
});
