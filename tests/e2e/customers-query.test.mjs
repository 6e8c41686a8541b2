// customers-query.test.mjs - POST /analytics/query, the customer profile,
// RFM and segment endpoints of query-api, over rollups the aggregator made
// from events that went through the real path (RabbitMQ -> ingest ->
// raw_events -> aggregator --once).
//
// Once per dataset seed (TT_E2E_SEEDS, lib/seeds.mjs), a dataset drawn from
// it (lib/datasets.mjs): three venues in seeded zones (the first with a DST
// change in the data, the second UTC without a venues row), customers with
// userIds buying several times over the last ~50 days (channels, event
// types, shows), refunds with and without a customer, purchases without a
// customer, one customer with refunds only, sales around each DST change and
// at the edges of its local days, re-publications; part of the last 40 hours
// arrives late, after a first aggregator pass, inside its 48 h late window.
// Expected answers come from (a) a model computed here from the published
// events (BigInt cents, venue-local dates from the zone's UTC offsets, ntile(5)
// written in JS) and (b) for the custom query, an independent SQL query over
// raw_events. Day-based comparisons that meet the known aggregator defect
// of lib/rollup.mjs are todo subtests of their own. Also: 400 with exact
// details, 403 across venues, 404 for an unknown customer, and a clean exit.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, startQueryApi } from './lib/harness.mjs';
import { formatCents, hmacHex, isoAt, makeRng, parseCents } from './lib/events.mjs';
import { addDays, customerSales, localDate, localDayStart, offsetMinutes, republished, seededVenues, splitLate } from './lib/datasets.mjs';
import { api } from './lib/http.mjs';
import { adminToken, mintToken, venueToken } from './lib/jwt.mjs';
import { deleteRollups, publishAndRollUp } from './lib/rollup.mjs';
import { e2eSeeds } from './lib/seeds.mjs';

const HOUR = 3600000;
const DAY = 24 * HOUR;

// ------------------------------------------------------------- time zones

const dateDays = (d) => Date.parse(`${d}T00:00:00Z`) / DAY;

/** Monday of the week of a date (YYYY-MM-DD), as PostgreSQL's date_trunc('week'). */
function weekOf(d) {
  const t = Date.parse(`${d}T00:00:00Z`);
  const dow = (new Date(t).getUTCDay() + 6) % 7; // Monday = 0
  return new Date(t - dow * DAY).toISOString().slice(0, 10);
}

const hourIso = (ms) => new Date(Math.floor(ms / HOUR) * HOUR).toISOString();

/** Instant ms as text with the zone's offset of that instant ("2026-03-06T00:00:00-05:00"). */
const isoIn = (ms, tz) => isoAt(ms, offsetMinutes(ms, tz), false);

/** The model's view of an envelope (what the rollups are defined over). */
function view(env, salt) {
  const buy = env.type === 'ticket.purchased';
  const d = env.data;
  const cents = buy ? parseCents(d.price) * BigInt(d.quantity ?? 1) : parseCents(d.amount);
  return {
    venue: env.venueId, buy, ms: Date.parse(env.occurredAt),
    hash: env.userId ? hmacHex(salt, env.userId) : null,
    eventId: env.eventId ?? '', channel: d.channel ?? '', eventType: d.eventType ?? '',
    cents, qty: buy ? BigInt(d.quantity ?? 1) : 0n,
  };
}

// ------------------------------------------------------------------ model

const DIM_FIELD = { channel: 'channel', eventType: 'eventType', eventId: 'eventId' };

/** The custom query's answer computed from the events: {series: Map key -> values, totals}. */
function modelQuery(evs, venue, tz, { metrics, start, end, granularity, filters = {}, groupBy = [] }) {
  const s = Date.parse(start);
  const e = Date.parse(end);
  const rows = new Map();
  for (const x of evs) {
    if (x.venue !== venue) continue;
    if (Object.entries(filters).some(([k, v]) => x[DIM_FIELD[k]] !== v)) continue;
    let period;
    if (granularity === 'hour') {
      const h = Math.floor(x.ms / HOUR) * HOUR;
      if (h < Math.floor(s / HOUR) * HOUR || h > e) continue;
      period = hourIso(x.ms);
    } else {
      const d = localDate(x.ms, tz);
      if (d < localDate(s, tz) || d > localDate(e, tz)) continue;
      period = granularity === 'day' ? d : granularity === 'week' ? weekOf(d) : `${d.slice(0, 7)}-01`;
    }
    const group = Object.fromEntries(groupBy.map((g) => [g, x[DIM_FIELD[g]] === '' ? null : x[DIM_FIELD[g]]]));
    const key = `${period}|${JSON.stringify(group)}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { gross: 0n, refund: 0n, tickets: 0n, orders: 0n }));
    if (x.buy) {
      r.gross += x.cents;
      r.tickets += x.qty;
      r.orders += 1n;
    } else {
      r.refund += x.cents;
    }
  }
  const total = { gross: 0n, refund: 0n, tickets: 0n, orders: 0n };
  for (const r of rows.values()) for (const k of Object.keys(total)) total[k] += r[k];
  const values = (r) => Object.fromEntries(metrics.map((m) => [m, metricText(m, r)]));
  return { series: new Map([...rows].map(([k, r]) => [k, values(r)])), totals: values(total) };
}

/** total / n rounded half away from zero (n > 0, total >= 0 here). */
const avgCents = (total, n) => (2n * total + n) / (2n * n);

function metricText(m, r) {
  switch (m) {
    case 'revenue': return formatCents(r.gross - r.refund);
    case 'grossRevenue': return formatCents(r.gross);
    case 'refunds': return formatCents(r.refund);
    case 'ticketSales': return String(r.tickets);
    case 'orders': return String(r.orders);
    case 'averageOrderValue': return r.orders === 0n ? 'null' : formatCents(avgCents(r.gross, r.orders));
    default: throw new Error(m);
  }
}

/** A response's series and totals in the model's shape (numbers as the text they print as). */
function answerOf(res, metrics) {
  assert.equal(res.status, 200, res.text.slice(0, 500));
  assert.doesNotMatch(res.text, /\d[eE][+-]?\d/, 'no exponent in numbers');
  const data = res.json.data;
  const text = (m, v) => (v === null ? 'null' : ['ticketSales', 'orders'].includes(m) ? String(v) : v.toFixed(2));
  const vals = (o) => {
    assert.deepEqual(Object.keys(o), metrics, 'values carry the requested metrics in order');
    return Object.fromEntries(metrics.map((m) => [m, text(m, o[m])]));
  };
  const series = new Map();
  for (const p of data.series) {
    const key = `${p.period}|${JSON.stringify(p.group)}`;
    assert.ok(!series.has(key), `period/group twice: ${key}`);
    series.set(key, vals(p.values));
  }
  return { series, totals: vals(data.totals), data };
}

/** Same points (period|group -> values) and totals; a failure names the points that differ. */
function assertSameSeries(got, want, what) {
  const diff = [];
  for (const k of [...new Set([...got.series.keys(), ...want.series.keys()])].sort()) {
    const [g, w] = [got.series.get(k), want.series.get(k)].map((v) => (v === undefined ? 'nothing' : JSON.stringify(v)));
    if (g !== w) diff.push(`${k}: got ${g}, want ${w}`);
  }
  assert.ok(diff.length === 0, `${what}: ${diff.length} of ${want.series.size} points differ:\n  ${diff.slice(0, 5).join('\n  ')}`);
  assert.deepEqual(got.totals, want.totals, `${what}: totals`);
}

/** The same answer from raw_events, written independently of query-api's and the aggregator's SQL (day-based granularities). */
async function sqlQuery(pool, venue, { metrics, start, end, granularity, groupBy = [] }) {
  const period = { day: 'd::text', week: "date_trunc('week', d)::date::text", month: "date_trunc('month', d)::date::text" }[granularity];
  const col = { channel: "coalesce(payload #>> '{data,channel}', '')", eventType: "coalesce(payload #>> '{data,eventType}', '')", eventId: "coalesce(event_id, '')" };
  const groups = groupBy.map((g) => `${col[g]} AS "${g}"`).join(', ');
  const { rows } = await pool.query(`
    WITH r AS (
      SELECT e.*, (e.occurred_at AT TIME ZONE coalesce(v.timezone, 'UTC'))::date AS d,
             ($2::timestamptz AT TIME ZONE coalesce(v.timezone, 'UTC'))::date AS d0,
             ($3::timestamptz AT TIME ZONE coalesce(v.timezone, 'UTC'))::date AS d1,
             (e.type = 'ticket.purchased') AS buy
        FROM raw_events e LEFT JOIN venues v ON v.venue_id = e.venue_id
       WHERE e.venue_id = $1 AND e.type IN ('ticket.purchased', 'ticket.refunded'))
    SELECT ${period} AS period ${groups ? `, ${groups}` : ''},
           coalesce(sum(revenue_cents) FILTER (WHERE buy), 0)::text AS gross,
           coalesce(-sum(revenue_cents) FILTER (WHERE NOT buy), 0)::text AS refund,
           coalesce(sum(quantity) FILTER (WHERE buy), 0)::text AS tickets,
           count(*) FILTER (WHERE buy)::text AS orders
      FROM r WHERE d BETWEEN d0 AND d1
     GROUP BY ${['period', ...groupBy.map((g) => `"${g}"`)].join(', ')}`, [venue, start, end]);
  const series = new Map();
  const total = { gross: 0n, refund: 0n, tickets: 0n, orders: 0n };
  for (const row of rows) {
    const r = { gross: BigInt(row.gross), refund: BigInt(row.refund), tickets: BigInt(row.tickets), orders: BigInt(row.orders) };
    for (const k of Object.keys(total)) total[k] += r[k];
    const group = Object.fromEntries(groupBy.map((g) => [g, row[g] === '' ? null : row[g]]));
    series.set(`${row.period}|${JSON.stringify(group)}`, Object.fromEntries(metrics.map((m) => [m, metricText(m, r)])));
  }
  return { series, totals: Object.fromEntries(metrics.map((m) => [m, metricText(m, total)])) };
}

// ----------------------------------------------------------- customers/RFM

/** ntile(n) of PostgreSQL over rows already sorted: the first (len % n) tiles get one more row. */
function ntile(sorted, n) {
  const out = new Map();
  const base = Math.floor(sorted.length / n);
  const extra = sorted.length % n;
  let i = 0;
  for (let t = 1; t <= n; t++) {
    const size = base + (t <= extra ? 1 : 0);
    for (let k = 0; k < size; k++) out.set(sorted[i++].hash, t);
  }
  return out;
}

// The segment chart (rfm.c), written again: rows R = 1..5, columns FM = round-half-up((F + M) / 2).
const CHART = [
  ['Lost', 'Lost', 'At Risk', 'At Risk', "Can't Lose Them"],
  ['Hibernating', 'Hibernating', 'At Risk', 'At Risk', "Can't Lose Them"],
  ['Need Attention', 'Need Attention', 'Need Attention', 'Loyal Customers', 'Loyal Customers'],
  ['New Customers', 'Potential Loyalists', 'Potential Loyalists', 'Loyal Customers', 'Champions'],
  ['New Customers', 'Potential Loyalists', 'Potential Loyalists', 'Champions', 'Champions'],
];
const SEGMENTS = ['Champions', 'Loyal Customers', 'Potential Loyalists', 'New Customers', 'Need Attention',
  'At Risk', "Can't Lose Them", 'Hibernating', 'Lost'];
const segmentOf = (r, f, m) => CHART[r - 1][Math.floor((f + m + 1) / 2) - 1];

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** Per customer of the venue: stats, and for buyers the RFM scores. */
function modelCustomers(evs, venue, tz, nowMs) {
  const m = new Map();
  for (const x of evs) {
    if (x.venue !== venue || !x.hash) continue;
    let c = m.get(x.hash);
    if (!c) m.set(x.hash, (c = { hash: x.hash, orders: 0n, tickets: 0n, spend: 0n, refund: 0n, first: null, last: null }));
    if (x.buy) {
      c.orders += 1n;
      c.tickets += x.qty;
      c.spend += x.cents;
      c.first = c.first === null ? x.ms : Math.min(c.first, x.ms);
      c.last = c.last === null ? x.ms : Math.max(c.last, x.ms);
    } else {
      c.refund += x.cents;
    }
  }
  const buyers = [...m.values()].filter((c) => c.orders > 0n);
  const r = ntile([...buyers].sort((a, b) => a.last - b.last || cmp(a.hash, b.hash)), 5);
  const f = ntile([...buyers].sort((a, b) => cmp(a.orders, b.orders) || cmp(a.hash, b.hash)), 5);
  const mo = ntile([...buyers].sort((a, b) => cmp(a.spend - a.refund, b.spend - b.refund) || cmp(a.hash, b.hash)), 5);
  const today = localDate(nowMs, tz);
  for (const c of buyers) {
    c.r = r.get(c.hash);
    c.f = f.get(c.hash);
    c.m = mo.get(c.hash);
    c.segment = segmentOf(c.r, c.f, c.m);
    c.recency = dateDays(today) - dateDays(localDate(c.last, tz));
  }
  return m;
}

function expectedProfile(c) {
  return {
    customerId: c.hash,
    totalSpent: formatCents(c.spend - c.refund),
    totalTickets: Number(c.tickets),
    totalOrders: Number(c.orders),
    averageOrderValue: c.orders === 0n ? null : formatCents(avgCents(c.spend, c.orders)),
    firstPurchase: c.first === null ? null : new Date(c.first).toISOString(),
    lastPurchase: c.last === null ? null : new Date(c.last).toISOString(),
    segment: c.segment ?? null,
  };
}

const money = (v) => (v === null ? null : v.toFixed(2));

// ------------------------------------------------------------------- tests

function assertValidation(res, details, what) {
  assert.equal(res.status, 400, `${what}: ${res.text.slice(0, 400)}`);
  assert.equal(res.json.success, false);
  assert.equal(res.json.code, 'VALIDATION_ERROR');
  assert.deepEqual(res.json.details, details, what);
}

function assertError(res, status, code, what) {
  assert.equal(res.status, status, `${what}: ${res.text.slice(0, 400)}`);
  assert.equal(res.json?.success, false, what);
  assert.equal(res.json?.code, code, what);
}

for (const SEED of e2eSeeds()) describe(`query-api (seed ${SEED}): custom query, customer profile, RFM and segments over the rollups`, { timeout: 300000 }, () => {
  let w;
  let like;
  let qa;
  let venues; // ids
  let zones; // id -> IANA zone
  let dst; // the first venue's DST change: {ms, date, minutes, hours}
  let evs;
  let now;
  let admin;
  let asA;
  const zoneOf = (v) => zones.get(v);
  /** Subtest options for venue v's day-based answer to q: todo only where the known aggregator defect meets it (lib/rollup.mjs). */

  before(async () => {
    w = await IngestWorld.open(`custq-${SEED}`);
    like = `${w.tag}-%`;
    await deleteRollups(w.pool, like);
    now = Date.now();
    const rng = makeRng(SEED);
    const seeded = seededVenues(rng, [1, 2, 3].map((i) => `${w.tag}-venue-${i}`), now);
    venues = seeded.map((v) => v.id);
    zones = new Map(seeded.map((v) => [v.id, v.tz]));
    dst = seeded[0].change;
    assert.ok(dst, `${seeded[0].tz} changed its UTC offset in the last year`);
    const sales = customerSales(rng, { tag: w.tag, venues: seeded, now, customers: (i) => (i === 0 ? rng.int(18, 30) : rng.int(8, 14)) });
    evs = sales.map((m) => view(m.envelope, w.salt));
    // A fifth of the events published twice (redeliveries: counted once); part of the last 40 h late.
    const { first, late } = splitLate(rng, republished(rng, sales, Math.floor(sales.length / 5)), { now, republish: 40 });
    console.log(`seed ${SEED}: zones ${seeded.map((v) => v.zone ?? '(none)').join(', ')}; DST change ${dst.date} (${dst.hours} h); ` +
      `${sales.length} events, ${first.length} + ${late.length} publications`);
    await w.startIngest();
    await publishAndRollUp(w, { venues: seeded, first, late });

    const started = await startQueryApi({ services: w.services });
    qa = started.svc;
    const { base } = started;
    admin = api(base, { token: adminToken() });
    asA = api(base, { token: venueToken(venues[0]) });
  });

  after(async () => {
    if (w) {
      await deleteRollups(w.pool, like).catch(() => {});
      const errors = await w.close();
      if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
    }
  });

  // ------------------------------------------------------------ the query

  it('day granularity grouped by channel equals the model and an independent SQL query over raw_events (every venue)', async (t) => {
    const q = { metrics: ['revenue', 'ticketSales', 'grossRevenue', 'refunds', 'orders', 'averageOrderValue'],
      start: new Date(now - 60 * DAY).toISOString(), end: new Date(now).toISOString(), granularity: 'day', groupBy: ['channel'] };
    for (const [i, v] of venues.entries()) {
      await t.test(`venue ${i} (${zoneOf(v)})`, async () => {
        const client = i === 0 ? asA : admin;
        const body = { metrics: q.metrics, timeRange: { start: q.start, end: q.end, granularity: 'day' }, groupBy: q.groupBy };
        if (i > 0) body.venueId = v;
        const got = answerOf(await client.post('/analytics/query', body), q.metrics);
        // Asked again (possibly from the cache): the same answer.
        assert.deepEqual(answerOf(await client.post('/analytics/query', body), q.metrics).series, got.series);
        const want = modelQuery(evs, v, zoneOf(v), q);
        assert.ok(want.series.size > 20, `too few points in the model: ${want.series.size}`);
        assertSameSeries(got, want, `venue ${i} vs model`);
        assertSameSeries(got, await sqlQuery(w.pool, v, q), `venue ${i} vs SQL`);
        assert.equal(got.data.granularity, 'day');
        assert.deepEqual(got.data.metrics, q.metrics);
      });
    }
  });

  it('hour granularity with a filter and groupBy eventType, channel equals the model (hours of the last 3 days, UTC instants)', async () => {
    const q = { metrics: ['ticketSales', 'revenue'], start: new Date(now - 3 * DAY + 1234).toISOString(), end: new Date(now - 5 * HOUR).toISOString(),
      granularity: 'hour', filters: { eventType: 'concert' }, groupBy: ['eventType', 'channel'] };
    let points = 0;
    for (const v of venues) {
      const res = await admin.post('/analytics/query', { venueId: v, metrics: q.metrics,
        timeRange: { start: q.start, end: q.end, granularity: 'hour' }, filters: q.filters, groupBy: q.groupBy });
      const got = answerOf(res, q.metrics);
      const want = modelQuery(evs, v, zoneOf(v), q);
      points += want.series.size;
      assertSameSeries(got, want, `hour ${v}`);
      for (const p of got.data.series) assert.match(p.period, /^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/);
    }
    assert.ok(points > 10, `too few hour points in the model: ${points}`);
  });

  it('week and month granularity (venue-local dates) equal the model and SQL; an empty range answers an empty series', async (t) => {
    const v = venues[0];
    for (const granularity of ['week', 'month']) {
      const q = { metrics: ['revenue', 'orders', 'averageOrderValue'], start: new Date(now - 55 * DAY).toISOString(),
        end: new Date(now).toISOString(), granularity, groupBy: ['eventId'] };
      await t.test(`${granularity} (${zoneOf(v)})`, async () => {
        const got = answerOf(await asA.post('/analytics/query', { metrics: q.metrics,
          timeRange: { start: q.start, end: q.end, granularity }, groupBy: q.groupBy }), q.metrics);
        assertSameSeries(got, modelQuery(evs, v, zoneOf(v), q), `${granularity} vs model`);
        assertSameSeries(got, await sqlQuery(w.pool, v, q), `${granularity} vs SQL`);
      });
    }
    const empty = await asA.post('/analytics/query', { metrics: ['revenue', 'averageOrderValue'],
      timeRange: { start: '2020-01-01T00:00:00Z', end: '2020-01-31T00:00:00Z' } });
    assert.equal(empty.status, 200, empty.text);
    assert.deepEqual(empty.json.data.series, []);
    assert.deepEqual(empty.json.data.totals, { revenue: 0, averageOrderValue: null });
  });

  it('across the first venue\'s DST change: local days (23/25 h or half-hour changes) and UTC hours equal the model and SQL', async (t) => {
    const v = venues[0];
    const tz = zoneOf(v);
    // The local days from two before the change's day to two after, as instants with the zone's offset.
    const end = localDayStart(addDays(dst.date, 3), tz) - 1000;
    const day = { metrics: ['revenue', 'ticketSales', 'orders'], start: isoIn(localDayStart(addDays(dst.date, -2), tz), tz),
      end: isoIn(end, tz), granularity: 'day', groupBy: ['eventType'] };
    const want = modelQuery(evs, v, tz, day);
    for (const d of [addDays(dst.date, -1), dst.date]) assert.ok([...want.series.keys()].some((k) => k.startsWith(`${d}|`)), `${d} has sales`);
    await t.test(`days ${addDays(dst.date, -2)}..${addDays(dst.date, 2)} (${tz}, ${dst.date}: ${dst.hours} h)`, async () => {
      const got = answerOf(await asA.post('/analytics/query', { metrics: day.metrics,
        timeRange: { start: day.start, end: day.end, granularity: 'day' }, groupBy: day.groupBy }), day.metrics);
      assertSameSeries(got, want, `days around ${dst.date} (${tz}, ${dst.hours} h) vs model`);
      assertSameSeries(got, await sqlQuery(w.pool, v, day), `days around ${dst.date} (${tz}) vs SQL`);
    });
    const hour = { metrics: ['grossRevenue', 'averageOrderValue'], start: hourIso(dst.ms - 36 * HOUR), end: hourIso(dst.ms + 36 * HOUR),
      granularity: 'hour' };
    const h = answerOf(await asA.post('/analytics/query', { metrics: hour.metrics,
      timeRange: { start: hour.start, end: hour.end, granularity: 'hour' } }), hour.metrics);
    assertSameSeries(h, modelQuery(evs, v, tz, hour), `hours around ${new Date(dst.ms).toISOString()} vs model`);
  });

  it('invalid queries are 400 with details naming each field', async () => {
    const tr = { start: '2025-01-01T00:00:00Z', end: '2025-01-31T00:00:00Z', granularity: 'day' };
    const allowed = 'must be one of revenue, grossRevenue, refunds, ticketSales, orders, averageOrderValue';
    assertValidation(await asA.post('/analytics/query', { metrics: ['revenue', 'secretColumn'], timeRange: tr }),
      [{ field: 'metrics[1]', message: allowed }], 'unknown metric');
    assertValidation(await asA.post('/analytics/query', { metrics: ['revenue'], timeRange: { ...tr, granularity: 'minute' } }),
      [{ field: 'timeRange.granularity', message: 'must be one of hour, day, week, month' }], 'bad granularity');
    assertValidation(await asA.post('/analytics/query', { metrics: ['revenue'], timeRange: { ...tr, start: '2025-02-01T00:00:00Z' } }),
      [{ field: 'timeRange.end', message: 'must not be before timeRange.start' }], 'start > end');
    assertValidation(await asA.post('/analytics/query', { metrics: ['revenue'], timeRange: { ...tr, start: '01/02/2025' } }),
      [{ field: 'timeRange.start', message: 'must be an ISO 8601 date-time with a time zone (2024-01-01T00:00:00Z)' }], 'non-ISO');
    assertValidation(await asA.post('/analytics/query', { metrics: ['revenue'], timeRange: { start: '2024-01-01T00:00:00Z', end: '2025-01-02T00:00:00Z' } }),
      [{ field: 'timeRange', message: 'must span at most 366 days with granularity day' }], 'too long');
    assertValidation(await asA.post('/analytics/query', { metrics: ['revenue'], timeRange: { start: '2025-01-01T00:00:00Z', end: '2025-02-02T00:00:00Z', granularity: 'hour' } }),
      [{ field: 'timeRange', message: 'must span at most 31 days with granularity hour' }], 'too long for hours');
    assertValidation(await asA.post('/analytics/query', { metrics: ['revenue'], timeRange: tr, filters: { "channel' OR 1=1 --": 'x' }, groupBy: ['venue_id'] }),
      [{ field: "filters.channel' OR 1=1 --", message: 'is not a known filter (channel, eventType, eventId)' },
        { field: 'groupBy[0]', message: 'must be one of channel, eventType, eventId' }], 'unknown filter and groupBy');
    assertValidation(await asA.post('/analytics/query', 'not json'), [{ field: 'body', message: 'must be a JSON object' }], 'not JSON');
    // A filter value is data, never SQL: an injection attempt matches nothing.
    const inj = await asA.post('/analytics/query', { metrics: ['orders'], timeRange: tr, filters: { channel: "web' OR '1'='1" } });
    assert.equal(inj.status, 200, inj.text);
    assert.deepEqual(inj.json.data.series, []);
    // Filter values up to 128 bytes (long cache keys are hashed), not one more.
    const long = { metrics: ['orders'], timeRange: tr, filters: { eventId: '"\\'.repeat(64) } };
    for (let k = 0; k < 2; k++) {
      const r = await asA.post('/analytics/query', long);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data.series, []);
    }
    assertValidation(await asA.post('/analytics/query', { ...long, filters: { eventId: 'x'.repeat(129) } }),
      [{ field: 'filters.eventId', message: 'must be a string of 1 to 128 bytes' }], 'filter too long');
  });

  it('a venue token never reads another venue; a token without analytics.read gets 403', async () => {
    const tr = { start: new Date(now - 10 * DAY).toISOString(), end: new Date(now).toISOString() };
    assertError(await asA.post('/analytics/query', { metrics: ['revenue'], timeRange: tr, venueId: venues[1] }), 403, 'FORBIDDEN', 'query B with A token');
    const someone = evs.find((x) => x.venue === venues[1] && x.hash).hash;
    assertError(await asA.get(`/customers/venue/${venues[1]}/${someone}`), 403, 'FORBIDDEN', 'profile B with A token');
    assertError(await asA.get(`/customers/venue/${venues[1]}/${someone}/rfm`), 403, 'FORBIDDEN', 'rfm B with A token');
    assertError(await asA.get(`/analytics/customers/segments?venueId=${venues[1]}`), 403, 'FORBIDDEN', 'segments B with A token');
    const base = `http://127.0.0.1:${qa.healthPort}`;
    const writer = api(base, { token: mintToken({ userId: 'w', venueId: venues[0], role: 'user', permissions: ['analytics.write'] }) });
    assertError(await writer.post('/analytics/query', { metrics: ['revenue'], timeRange: tr }), 403, 'FORBIDDEN', 'no analytics.read');
    assertError(await writer.get('/analytics/customers/segments'), 403, 'FORBIDDEN', 'segments without analytics.read');
    assertError(await api(base).get('/analytics/customers/segments'), 401, 'UNAUTHORIZED', 'no token');
  });

  // -------------------------------------------------------------- customers

  it('profiles of every customer of a venue equal the model (net spend, orders, average, first/last purchase, segment)', async () => {
    for (const v of [venues[0], venues[2]]) {
      const model = modelCustomers(evs, v, zoneOf(v), Date.now());
      assert.ok(model.size >= 9, `customers at ${v}: ${model.size}`);
      for (const c of model.values()) {
        const res = await admin.get(`/customers/venue/${v}/${c.hash}`);
        assert.equal(res.status, 200, res.text);
        const d = res.json.data;
        const got = { ...d, totalSpent: money(d.totalSpent), averageOrderValue: money(d.averageOrderValue) };
        assert.deepEqual(got, expectedProfile(c), `profile ${c.hash} at ${v}`);
      }
    }
    // Upper-case hex names the same customer; the venue token reads its own venue.
    const one = [...modelCustomers(evs, venues[0], zoneOf(venues[0]), Date.now()).values()].find((c) => c.orders > 0n);
    const up = await asA.get(`/customers/venue/${venues[0]}/${one.hash.toUpperCase()}`);
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.data.customerId, one.hash);
  });

  it('RFM of every buyer equals ntile(5) computed here over the venue customers, recency in venue-local days, and the named segment', async () => {
    const seen = new Set();
    for (const v of venues) {
      const model = modelCustomers(evs, v, zoneOf(v), Date.now());
      for (const c of model.values()) {
        const res = await admin.get(`/customers/venue/${v}/${c.hash}/rfm`);
        if (c.orders === 0n) {
          assertError(res, 404, 'NOT_FOUND', `rfm of a customer without purchases at ${v}`);
          continue;
        }
        assert.equal(res.status, 200, res.text);
        const d = res.json.data;
        assert.deepEqual({ ...d, monetary: money(d.monetary) }, {
          customerId: c.hash, recency: c.recency, frequency: Number(c.orders), monetary: formatCents(c.spend - c.refund),
          recencyScore: c.r, frequencyScore: c.f, monetaryScore: c.m, segment: c.segment,
          lastPurchase: new Date(c.last).toISOString(),
        }, `rfm ${c.hash} at ${v}`);
        seen.add(c.r);
      }
    }
    assert.deepEqual([...seen].sort(), [1, 2, 3, 4, 5], 'every recency score occurs');
  });

  it('segments: customers per RFM segment with percentages, equal to the model', async () => {
    for (const [i, v] of venues.entries()) {
      const client = i === 0 ? asA : admin;
      const res = await client.get(i === 0 ? '/analytics/customers/segments' : `/analytics/customers/segments?venueId=${v}`);
      assert.equal(res.status, 200, res.text);
      const buyers = [...modelCustomers(evs, v, zoneOf(v), Date.now()).values()].filter((c) => c.orders > 0n);
      const total = BigInt(buyers.length);
      const want = SEGMENTS.map((segment) => {
        const n = BigInt(buyers.filter((c) => c.segment === segment).length);
        return { segment, customers: Number(n), percentage: formatCents((n * 20000n + total) / (2n * total)) };
      });
      const got = res.json.data.segments.map((s) => ({ ...s, percentage: s.percentage.toFixed(2) }));
      assert.deepEqual(got, want, `segments of ${v}`);
      assert.equal(res.json.data.total, buyers.length);
    }
  });

  it('unknown customer is 404, a malformed customer id 400', async () => {
    const unknown = hmacHex('nobody', 'nobody');
    assertError(await asA.get(`/customers/venue/${venues[0]}/${unknown}`), 404, 'NOT_FOUND', 'unknown customer');
    assertError(await asA.get(`/customers/venue/${venues[0]}/${unknown}/rfm`), 404, 'NOT_FOUND', 'unknown customer rfm');
    const details = [{ field: 'customerId', message: 'must be the hashed customer id: 64 hexadecimal characters' }];
    assertValidation(await asA.get(`/customers/venue/${venues[0]}/customer-456`), details, 'short id');
    assertValidation(await asA.get(`/customers/venue/${venues[0]}/${'g'.repeat(64)}/rfm`), details, 'non-hex id');
    assertValidation(await asA.get(`/customers/venue/${venues[0]}/${unknown}0`), details, '65 chars');
    // A customer of venue B asked for at venue A (with A's token) is simply unknown there.
    const onlyB = [...modelCustomers(evs, venues[1], zoneOf(venues[1]), now).keys()].find((h) => !modelCustomers(evs, venues[0], zoneOf(venues[0]), now).has(h));
    if (onlyB) assertError(await asA.get(`/customers/venue/${venues[0]}/${onlyB}`), 404, 'NOT_FOUND', 'B customer at A');
  });

  it('query-api exits cleanly on SIGTERM (no sanitizer report)', async () => {
    await qa.stopClean();
  });
});
