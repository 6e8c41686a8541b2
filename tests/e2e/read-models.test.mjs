// read-models.test.mjs - the read models of migration 0004 that the
// aggregator keeps beside its rollups, for query-api's reads:
// sales_daily (the day rows summed per venue-local date and dimension),
// customer_rfm (each buying customer's RFM quintiles) and
// customer_rfm_counts (per venue, its customers per score triple).
//
// Once per dataset seed (TT_E2E_SEEDS, lib/seeds.mjs), a dataset drawn from
// it (lib/datasets.mjs: three venues in seeded zones, one with a DST change,
// customers buying again and again, refunds, anonymous purchases, late
// events) goes through the real path (RabbitMQ -> ingest -> raw_events ->
// aggregator --once). Then:
//   - sales_daily equals an independent SQL query over raw_events (venue-local
//     dates from the zone, the dimensions read from the payload);
//   - customer_rfm equals ntile(5) written here in JS over customer figures
//     computed by SQL from raw_events, customer_rfm_counts its counts;
//   - new customers and purchases through ingest and one pass: both still
//     equal, and the pass rewrote only the customer_rfm rows whose scores
//     changed;
//   - `--rebuild` with the hash-join forms (--few-keys 0) and with the
//     index-lookup forms gives byte-identical tables, old and new;
//   - a customer whose raw rows are gone (retention) leaves customer_rfm and
//     its count with a rebuild.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, sanitizerReport, sleep } from './lib/harness.mjs';
import { formatCents, isoAt, makeRng, utcDay } from './lib/events.mjs';
import { customerSales, offsetMinutes, republished, seededVenues, splitLate } from './lib/datasets.mjs';
import { deleteRollups, publishAndRollUp } from './lib/rollup.mjs';
import { e2eSeeds } from './lib/seeds.mjs';
import * as stack from './lib/stack-env.mjs';

const HOUR = 3600000;
const SALES = "('ticket.purchased', 'ticket.refunded')";

// Every table a rebuild must reproduce, with the columns that are a function
// of raw_events (the seed's tables have generated ids and time stamps).
const TABLES = [
  ['sales_rollups', 'x::text', 'venue_id, granularity, bucket, event_id, channel, event_type'],
  ['sales_daily', 'x::text', 'venue_id, dimension, local_date, value'],
  ['customer_stats', 'x::text', 'venue_id, customer_hash'],
  ['customer_rfm', 'x::text', 'venue_id, customer_hash'],
  ['customer_rfm_counts', 'x::text', 'venue_id'],
  ['event_stats', 'x::text', 'venue_id, event_id'],
  ['event_catalog', 'x::text', 'venue_id, event_id'],
  ['venue_analytics', 'ROW(venue_id, date, hour, tickets_sold, revenue, unique_customers)::text', 'venue_id, date, hour NULLS FIRST'],
  ['analytics_aggregations', 'ROW(venue_id, metric_type, period_start, period_end, granularity, data, summary)::text', 'venue_id, metric_type, period_start'],
];

// ------------------------------------------------------------ the binary

/** Runs the aggregator with args; it must exit 0 without a sanitizer report. */
function aggregator(args, env = {}) {
  return new Promise((resolve) => {
    execFile(stack.binPath('aggregator'), args,
      { env: stack.serviceEnv({ AGGREGATOR_LATE_WINDOW_HOURS: '48', LOG_LEVEL: 'warn', ...env }), timeout: 120000 },
      (err, stdout, stderr) => {
        assert.equal(sanitizerReport(stdout + stderr), null, stderr);
        assert.equal(err ? (err.code ?? 1) : 0, 0, `aggregator ${args.join(' ')}: ${stderr}`);
        resolve(stdout);
      });
  });
}

// ------------------------------------------------------------ expectations

/** sales_daily computed from raw_events: "venue|dimension|date|value" -> measures text. */
async function dailyFromRaw(pool, like) {
  const { rows } = await pool.query(`
    SELECT r.venue_id, x.dimension, (r.occurred_at AT TIME ZONE coalesce(v.timezone, 'UTC'))::date::text AS d, x.value,
           ROW(coalesce(sum(r.quantity) FILTER (WHERE r.type = 'ticket.purchased'), 0),
               count(*) FILTER (WHERE r.type = 'ticket.purchased'),
               coalesce(sum(r.revenue_cents) FILTER (WHERE r.type = 'ticket.purchased'), 0),
               coalesce(-sum(r.revenue_cents) FILTER (WHERE r.type = 'ticket.refunded'), 0),
               count(*) FILTER (WHERE r.type = 'ticket.refunded'),
               sum(r.revenue_cents))::text AS m
      FROM raw_events r LEFT JOIN venues v ON v.venue_id = r.venue_id
     CROSS JOIN LATERAL (VALUES ('total', ''), ('channel', coalesce(r.payload->'data'->>'channel', '')),
                                ('event_type', coalesce(r.payload->'data'->>'eventType', '')),
                                ('event_id', coalesce(r.event_id, ''))) x (dimension, value)
     WHERE r.venue_id LIKE $1 AND r.type IN ${SALES}
     GROUP BY 1, 2, 3, 4`, [like]);
  return new Map(rows.map((r) => [`${r.venue_id}|${r.dimension}|${r.d}|${r.value}`, r.m]));
}

async function dailyStored(pool, like) {
  const { rows } = await pool.query(`
    SELECT venue_id, dimension, local_date::text AS d, value,
           ROW(tickets_sold, orders, gross_cents, refund_cents, refunds, net_cents)::text AS m
      FROM sales_daily WHERE venue_id LIKE $1`, [like]);
  return new Map(rows.map((r) => [`${r.venue_id}|${r.dimension}|${r.d}|${r.value}`, r.m]));
}

/** ntile(5) of the row at 0-based position i of n, as PostgreSQL computes it. */
function ntile5(i, n) {
  const size = Math.floor(n / 5);
  const big = (n % 5) * (size + 1); // the first n % 5 buckets hold one row more
  return i < big ? Math.floor(i / (size + 1)) + 1 : (n % 5) + Math.floor((i - big) / size) + 1;
}

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The RFM model: the buying customers of each venue, their figures computed
 * from raw_events, ranked here. Returns {scores: "venue|hash" -> "r,f,m",
 * counts: "venue|r|f|m" -> customers}.
 */
async function rfmModel(pool, like) {
  const { rows } = await pool.query(`
    SELECT venue_id, customer_hash,
           count(*) FILTER (WHERE type = 'ticket.purchased')::text AS orders,
           (coalesce(sum(revenue_cents) FILTER (WHERE type = 'ticket.purchased'), 0)
            + coalesce(sum(revenue_cents) FILTER (WHERE type = 'ticket.refunded'), 0))::text AS net,
           (extract(epoch FROM max(occurred_at) FILTER (WHERE type = 'ticket.purchased')) * 1000000)::bigint::text AS last
      FROM raw_events WHERE venue_id LIKE $1 AND type IN ${SALES} AND customer_hash IS NOT NULL
     GROUP BY 1, 2`, [like]);
  const byVenue = new Map();
  for (const r of rows) {
    if (r.last === null) continue; // refunds only: not in the population
    const c = { hash: r.customer_hash, orders: BigInt(r.orders), net: BigInt(r.net), last: BigInt(r.last) };
    (byVenue.get(r.venue_id) ?? byVenue.set(r.venue_id, []).get(r.venue_id)).push(c);
  }
  const scores = new Map();
  const counts = new Map();
  for (const [venue, cs] of byVenue) {
    const score = new Map(cs.map((c) => [c.hash, {}]));
    for (const [k, key] of [['r', 'last'], ['f', 'orders'], ['m', 'net']]) {
      const sorted = [...cs].sort((a, b) => cmp(a[key], b[key]) || cmp(a.hash, b.hash));
      sorted.forEach((c, i) => { score.get(c.hash)[k] = ntile5(i, sorted.length); });
    }
    for (const [hash, s] of score) {
      scores.set(`${venue}|${hash}`, `${s.r},${s.f},${s.m}`);
      const ck = `${venue}|${s.r}|${s.f}|${s.m}`;
      counts.set(ck, String(BigInt(counts.get(ck) ?? 0) + 1n));
    }
  }
  return { scores, counts };
}

async function rfmStored(pool, like) {
  const s = await pool.query('SELECT venue_id, customer_hash, r, f, m, xmin::text AS xmin FROM customer_rfm WHERE venue_id LIKE $1', [like]);
  // One row per venue: the count of (r, f, m) in cell 1 + (r - 1) * 25 + (f - 1) * 5 + (m - 1), 125 cells.
  const c = await pool.query(`
    SELECT c.venue_id, (u.i - 1) / 25 + 1 AS r, (u.i - 1) / 5 % 5 + 1 AS f, (u.i - 1) % 5 + 1 AS m, u.n::text AS n
      FROM customer_rfm_counts c, unnest(c.customers) WITH ORDINALITY u (n, i)
     WHERE c.venue_id LIKE $1 AND u.n > 0`, [like]);
  const cells = await pool.query('SELECT count(*)::int AS bad FROM customer_rfm_counts WHERE venue_id LIKE $1 AND cardinality(customers) <> 125', [like]);
  assert.equal(cells.rows[0].bad, 0, 'every counts row has 125 cells');
  return {
    scores: new Map(s.rows.map((r) => [`${r.venue_id}|${r.customer_hash}`, `${r.r},${r.f},${r.m}`])),
    xmin: new Map(s.rows.map((r) => [`${r.venue_id}|${r.customer_hash}`, r.xmin])),
    counts: new Map(c.rows.map((r) => [`${r.venue_id}|${r.r}|${r.f}|${r.m}`, r.n])),
  };
}

/** Same keys and values; a failure names a few that differ. */
function assertSameMap(got, want, what) {
  const keys = [...new Set([...got.keys(), ...want.keys()])].sort();
  const diff = keys.filter((k) => got.get(k) !== want.get(k)).slice(0, 5).map((k) => `${k}: got ${got.get(k)} want ${want.get(k)}`);
  assert.deepEqual(diff, [], `${what}: ${got.size} rows, ${want.size} expected`);
  assert.ok(want.size > 0, `${what}: nothing to compare`);
}

/** Every row of TABLES for venues LIKE like, as text in primary-key order. */
async function dump(pool, like) {
  const out = [];
  for (const [t, cols, order] of TABLES) {
    const { rows } = await pool.query(`SELECT ${cols} AS t FROM ${t} x WHERE venue_id LIKE $1 ORDER BY ${order}`, [like]);
    out.push(`${t}:${rows.length}`, ...rows.map((r) => r.t));
  }
  return out;
}

// ------------------------------------------------------------------ tests

for (const SEED of e2eSeeds()) describe(`aggregator (seed ${SEED}): sales_daily, customer_rfm and customer_rfm_counts`, { timeout: 300000 }, () => {
  let w;
  let like;
  let venues;
  let rng;

  /** Passes until the customer figures of venue LIKE like hold every raw sale (another aggregator may hold the lock). */
  async function rollUp() {
    await sleep(2500); // a pass reads up to now() - 2 s
    for (let i = 0; i < 30; i++) {
      await aggregator(['--once']);
      const { rows } = await w.pool.query(`
        SELECT (SELECT count(*) FROM raw_events WHERE venue_id LIKE $1 AND type = 'ticket.purchased' AND customer_hash IS NOT NULL)
             = (SELECT coalesce(sum(orders), 0) FROM customer_stats WHERE venue_id LIKE $1) AS done`, [like]);
      if (rows[0].done) return;
      await sleep(500);
    }
    assert.fail('customer_stats did not catch up with raw_events after 30 passes');
  }

  before(async () => {
    w = await IngestWorld.open(`readm-${SEED}`);
    like = `${w.tag}-%`;
    await deleteRollups(w.pool, like);
    const now = Date.now();
    rng = makeRng(SEED);
    const seeded = seededVenues(rng, [1, 2, 3].map((i) => `${w.tag}-venue-${i}`), now);
    venues = seeded;
    const sales = customerSales(rng, { tag: w.tag, venues: seeded, now, customers: (i) => (i === 0 ? rng.int(18, 30) : rng.int(8, 14)) });
    const { first, late } = splitLate(rng, republished(rng, sales, Math.floor(sales.length / 5)), { now, republish: 40 });
    await w.startIngest();
    await publishAndRollUp(w, { venues: seeded, first, late });
  });

  after(async () => {
    if (w) {
      await deleteRollups(w.pool, like).catch(() => {});
      for (const t of ['sales_daily', 'customer_rfm', 'customer_rfm_counts'])
        await w.pool.query(`DELETE FROM ${t} WHERE venue_id LIKE $1`, [like]).catch(() => {});
      const errors = await w.close();
      if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
    }
  });

  it('sales_daily equals an SQL query over raw_events, per venue-local date and dimension', async () => {
    assertSameMap(await dailyStored(w.pool, like), await dailyFromRaw(w.pool, like), 'sales_daily');
  });

  it('customer_rfm and customer_rfm_counts equal ntile(5) in JS over the customers of raw_events', async () => {
    const got = await rfmStored(w.pool, like);
    const want = await rfmModel(w.pool, like);
    assertSameMap(got.scores, want.scores, 'customer_rfm');
    assertSameMap(got.counts, want.counts, 'customer_rfm_counts');
  });

  it('new customers and purchases: one pass keeps them equal and rewrites only the scores that changed', async () => {
    const before = await rfmStored(w.pool, like);
    const venue = venues[0];
    const msgs = [];
    const buy = (user, ms) => {
      const id = `${w.tag}-more${msgs.length}`;
      const price = BigInt(rng.int(100, 90000));
      const env = { id, type: 'ticket.purchased', occurredAt: isoAt(ms, offsetMinutes(ms, venue.tz), false), venueId: venue.id,
        eventId: `${w.tag}-show9`, userId: user, data: { ticketId: `${id}-t`, orderId: `${id}-o`, price: formatCents(price), channel: 'web' } };
      msgs.push({ kind: 'valid', id, type: env.type, routingKey: env.type, body: JSON.stringify(env), envelope: env,
        venueId: venue.id, day: utcDay(ms), occurredMs: ms, revenue: price, sales: 1n });
    };
    const now = Date.now() - 60000;
    for (let k = 0; k < 6; k++) buy(`${w.tag}-new${k}`, now - k * HOUR);   // new customers, most recent
    for (let k = 0; k < 3; k++) buy(`${w.tag}-user${k}`, now - 2 * HOUR);  // known ones come back
    await w.pub.publish(w.names.exchange, msgs);
    const total = (await w.pool.query('SELECT count(*)::int AS n FROM raw_event_ids WHERE id LIKE $1', [like])).rows[0].n;
    const r = await w.waitDrained({ ids: total + msgs.length, bad: 0, timeoutMs: 60000 });
    assert.ok(r.ok, `ingest did not store the new events: ${JSON.stringify(r.value)}`);
    await rollUp();

    assertSameMap(await dailyStored(w.pool, like), await dailyFromRaw(w.pool, like), 'sales_daily after the pass');
    const got = await rfmStored(w.pool, like);
    const want = await rfmModel(w.pool, like);
    assertSameMap(got.scores, want.scores, 'customer_rfm after the pass');
    assertSameMap(got.counts, want.counts, 'customer_rfm_counts after the pass');
    let changed = 0;
    for (const [k, s] of got.scores) {
      if (before.scores.get(k) === s) assert.equal(got.xmin.get(k), before.xmin.get(k), `${k}: scores unchanged but the row was rewritten`);
      else changed++;
    }
    assert.ok(changed >= 6, `${changed} customers with new or changed scores`);
  });

  it('--rebuild with hash joins (--few-keys 0) and with index lookups gives byte-identical tables', async () => {
    const incremental = await dump(w.pool, like);
    for (const few of [['--few-keys', '0'], []]) {
      for (const [t] of TABLES) await w.pool.query(`DELETE FROM ${t} WHERE venue_id LIKE $1`, [like]);
      for (const v of venues) await aggregator(['--rebuild', '--venue', v.id, ...few]);
      assert.deepEqual(await dump(w.pool, like), incremental, `rebuild ${few.join(' ') || '(index lookups)'}`);
    }
  });

  it('a customer whose raw rows are gone leaves customer_rfm and the counts with a rebuild', async () => {
    const venue = venues[0].id;
    const { rows } = await w.pool.query(
      'SELECT customer_hash FROM customer_rfm WHERE venue_id = $1 ORDER BY customer_hash LIMIT 1', [venue]);
    const gone = rows[0].customer_hash;
    await w.pool.query('DELETE FROM raw_events WHERE venue_id = $1 AND customer_hash = $2', [venue, gone]);
    await aggregator(['--rebuild', '--venue', venue]);
    const got = await rfmStored(w.pool, like);
    assert.equal(got.scores.has(`${venue}|${gone}`), false, 'the customer is out of customer_rfm');
    const want = await rfmModel(w.pool, like);
    assertSameMap(got.scores, want.scores, 'customer_rfm after the rebuild');
    assertSameMap(got.counts, want.counts, 'customer_rfm_counts after the rebuild');
    assertSameMap(await dailyStored(w.pool, like), await dailyFromRaw(w.pool, like), 'sales_daily after the rebuild');
  });
});
