// analytics.test.mjs - the dashboard, revenue summary and event performance
// endpoints of query-api give the numbers of an independent SQL query over
// raw_events, to the cent.
//
// Once per dataset seed (TT_E2E_SEEDS, lib/seeds.mjs), a dataset drawn from
// it goes through the real path (RabbitMQ -> ingest -> raw_events ->
// `aggregator --once` -> rollups, lib/rollup.mjs): three venues in seeded
// zones (the first with DST, the second UTC without a venues row;
// lib/datasets.mjs), events of every type over the last 100 days, densely
// in the last day and around each venue's DST change, re-publications,
// refunds, several channels and event types, customers who buy again; part
// of the last 40 hours arrives late, after a first aggregator pass, inside
// its 48 h late window. Then, for each venue, every figure the endpoints
// answer must equal what this file computes from raw_events with its own
// SQL (local dates with AT TIME ZONE) and BigInt arithmetic (percentages,
// projection, sell-through, velocity, rounded half away from zero);
// customerSegments equal the segments endpoint and hold every buyer once.
// The dashboard is checked twice per venue and period: answered from the
// aggregator's dashboard read model, then from the rollups alone.
// Comparisons that meet the known aggregator defect of lib/rollup.mjs are
// todo subtests of their own. Also: a venue token never reads another
// venue (403), an admin names one with ?venueId=, bad parameters are 400
// with details naming the field, no token is 401.
//
// Responses are read with every JSON number kept as its text, so money is
// compared as exact decimals ("12.30"), never through a double.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, startQueryApi } from './lib/harness.mjs';
import { EventFactory, formatCents, makeRng, makeStream } from './lib/events.mjs';
import { addDays, changeWindows, customerSales, seededVenues, splitLate } from './lib/datasets.mjs';
import { api } from './lib/http.mjs';
import { adminToken, mintToken, venueToken } from './lib/jwt.mjs';
import { aggregateOnce, deleteRollups, publishAndRollUp } from './lib/rollup.mjs';
import { e2eSeeds } from './lib/seeds.mjs';

const COUNT = 2500;
const DUPS = 150;
const HOUR = 3600000;
const DAY = 24 * HOUR;
const SALES = `type IN ('ticket.purchased', 'ticket.refunded')`;
const BUY = `type = 'ticket.purchased'`;

// ---------------------------------------------------------------- helpers

/** JSON with every number kept as its source text (a string). */
function parseExact(text) {
  return JSON.parse(text.replace(/([:[,])\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?=\s*[,}\]])/g, '$1"$2"'));
}

/** GET through curl: {status, text, data (exact numbers), body}. */
async function get(client, path, opts) {
  const r = await client.get(path, opts);
  let body;
  try {
    body = parseExact(r.text);
  } catch {
    body = undefined;
  }
  return { status: r.status, text: r.text, body, data: body?.data };
}

async function getOk(client, path, opts) {
  const r = await get(client, path, opts);
  assert.equal(r.status, 200, `${path}: ${r.text.slice(0, 400)}`);
  assert.equal(r.body.success, true, r.text.slice(0, 200));
  return r.data;
}

function assertValidation(r, field, what) {
  assert.equal(r.status, 400, `${what}: ${r.text}`);
  assert.equal(r.body?.success, false, what);
  assert.equal(r.body?.code, 'VALIDATION_ERROR', what);
  const fields = (r.body?.details ?? []).map((d) => d.field);
  assert.ok(fields.includes(field), `${what}: details ${JSON.stringify(fields)} do not name ${field}`);
}

/** a / b rounded half away from zero (BigInt, b > 0). */
function divRound(a, b) {
  const q = a / b;
  const r = a % b;
  const ar = r < 0n ? -r : r;
  if (2n * ar >= b) return q + (a < 0n ? -1n : 1n);
  return q;
}

/** v / 10^places as decimal text. */
function fixed(v, places) {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const s = 10n ** BigInt(places);
  return `${neg ? '-' : ''}${a / s}.${String(a % s).padStart(places, '0')}`;
}

const percent = (part, total) => `${fixed(total === 0n ? 0n : total < 0n ? divRound(-part * 10000n, -total) : divRound(part * 10000n, total), 2)}%`;

// ---------------------------------------------------- the independent SQL

/** The venue's zone and today's local date, as the database sees them now. */
async function venueNow(pool, venue) {
  const { rows } = await pool.query(
    `SELECT tz, (now() AT TIME ZONE tz)::date::text AS today,
            (extract(epoch FROM date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') * 1000)::bigint::text AS hour
       FROM (SELECT coalesce((SELECT timezone FROM venues WHERE venue_id = $1), 'UTC') AS tz) z`, [venue]);
  return { tz: rows[0].tz, today: rows[0].today, hour: Number(rows[0].hour) };
}

/**
 * Runs fetch(now) with the venue's clock read before and after it, again
 * when an hour or a local date began in between (so that the test and the
 * server agree on "now"); returns {now, value}.
 */
async function atSteadyNow(pool, venue, fetch) {
  for (let i = 0; i < 3; i++) {
    const now = await venueNow(pool, venue);
    const value = await fetch(now);
    const later = await venueNow(pool, venue);
    if (later.today === now.today && later.hour === now.hour) return { now, value };
  }
  throw new Error(`the clock of ${venue} kept moving`);
}

/** The period as dates (or hour instants) and its [start, end) instants, for a period name. */
function periodOf(now, period) {
  if (period === '24h') {
    const keys = Array.from({ length: 24 }, (_, i) => new Date(now.hour - (23 - i) * HOUR).toISOString());
    return { keys, hours: true, start: new Date(now.hour - 23 * HOUR).toISOString(), end: new Date(now.hour + HOUR).toISOString() };
  }
  const n = Number(period.replace('d', ''));
  const keys = Array.from({ length: n }, (_, i) => addDays(now.today, i - (n - 1)));
  return { keys, hours: false, first: keys[0], last: now.today };
}

/** Net cents and tickets per bucket key (local date or UTC hour ISO) of a venue, from raw_events. */
async function rawBuckets(pool, venue, tz, hours) {
  const key = hours
    ? `to_char(date_trunc('hour', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00.000"Z"')`
    : `to_char(occurred_at AT TIME ZONE $2, 'YYYY-MM-DD')`;
  const { rows } = await pool.query(
    `SELECT ${key} AS k, sum(revenue_cents)::text AS net, coalesce(sum(quantity) FILTER (WHERE ${BUY}), 0)::text AS t
       FROM raw_events WHERE venue_id = $1 AND ${SALES} AND $2::text IS NOT NULL GROUP BY 1`, [venue, tz]);
  return new Map(rows.map((r) => [r.k, { net: BigInt(r.net), tickets: BigInt(r.t) }]));
}

/** Top shows (net desc, tickets desc, id) of a venue within the period, from raw_events. */
async function rawTop(pool, venue, tz, p, limit = 10) {
  const filter = p.hours
    ? `occurred_at >= $3::timestamptz AND occurred_at < $4::timestamptz AND $2::text IS NOT NULL`
    : `(occurred_at AT TIME ZONE $2)::date BETWEEN $3::date AND $4::date`;
  const { rows } = await pool.query(
    `SELECT r.event_id, c.name, r.t, r.net FROM (
        SELECT event_id, coalesce(sum(quantity) FILTER (WHERE ${BUY}), 0) AS t, sum(revenue_cents) AS net
          FROM raw_events WHERE venue_id = $1 AND ${SALES} AND event_id IS NOT NULL AND event_id <> '' AND ${filter}
         GROUP BY event_id) r
       LEFT JOIN event_catalog c ON c.venue_id = $1 AND c.event_id = r.event_id
      ORDER BY r.net DESC, r.t DESC, r.event_id LIMIT ${limit}`,
    [venue, tz, p.hours ? p.start : p.first, p.hours ? p.end : p.last]);
  return rows.map((r) => ({ eventId: r.event_id, name: r.name, ticketsSold: String(r.t), revenue: formatCents(BigInt(r.net)) }));
}

/** Distinct customers with a purchase in the period (UTC hours, or venue-local dates), from raw_events. */
async function rawCustomers(pool, venue, tz, p) {
  const range = p.hours
    ? `occurred_at >= $3::timestamptz AND occurred_at < $4::timestamptz AND $2::text IS NOT NULL`
    : `(occurred_at AT TIME ZONE $2)::date BETWEEN $3::date AND $4::date`;
  const { rows } = await pool.query(
    `SELECT count(DISTINCT customer_hash)::text AS n FROM raw_events
      WHERE venue_id = $1 AND ${BUY} AND customer_hash IS NOT NULL AND ${range}`,
    [venue, tz, p.hours ? p.start : p.first, p.hours ? p.end : p.last]);
  return rows[0].n;
}

/** Net cents, tickets and net up to today per value of a payload dimension, local dates [d0, d1]. */
async function rawBy(pool, venue, tz, dim, d0, d1, today) {
  const { rows } = await pool.query(
    `SELECT coalesce(payload #>> '{data,${dim}}', '') AS k, sum(revenue_cents)::text AS net,
            coalesce(sum(quantity) FILTER (WHERE ${BUY}), 0)::text AS t,
            coalesce(sum(revenue_cents) FILTER (WHERE (occurred_at AT TIME ZONE $2)::date <= $5::date), 0)::text AS upto
       FROM raw_events WHERE venue_id = $1 AND ${SALES}
        AND (occurred_at AT TIME ZONE $2)::date BETWEEN $3::date AND $4::date GROUP BY 1`, [venue, tz, d0, d1, today]);
  return rows.map((r) => ({ k: r.k, net: BigInt(r.net), tickets: BigInt(r.t), upto: BigInt(r.upto) }));
}

/** The expected breakdown list of the revenue summary (order: net desc, then key). */
function breakdown(rows, key, total) {
  const named = rows.map((r) => ({ ...r, name: r.k === '' ? 'unknown' : r.k }));
  named.sort((a, b) => (a.net !== b.net ? (a.net > b.net ? -1 : 1) : 0));
  return named.map((r) => ({ [key]: r.name, revenue: formatCents(r.net), percentage: percent(r.net, total), ticketsSold: String(r.tickets) }));
}

/** Sorted by key for comparisons that must not depend on collation of ties. */
const byKey = (key) => (a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0);

// ------------------------------------------------------------------ tests

for (const SEED of e2eSeeds()) describe(`analytics endpoints (seed ${SEED}): dashboard, revenue summary, event performance equal SQL over raw_events`, { timeout: 300000 }, () => {
  let w;
  let like;
  let qa;
  let base;
  let venues; // ids
  let seeded; // lib/datasets.mjs seededVenues()
  let admin;
  let negVenue;

  before(async () => {
    w = await IngestWorld.open(`ana-${SEED}`);
    like = `${w.tag}-%`;
    await deleteRollups(w.pool, like);
    const now = Date.now();
    // Zones, customers and the late split from their own generator (not the same draws as customers-query's for this seed).
    const rng = makeRng(SEED ^ 0x5a17c0de);
    const ids = [1, 2, 3].map((i) => `${w.tag}-venue-${i}`);
    seeded = seededVenues(rng, ids, now);
    venues = seeded.map((v) => v.id);
    const factory = new EventFactory({
      tag: w.tag,
      seed: SEED,
      venues: ids.length,
      salt: w.salt,
      windows: [
        { startMs: now - 100 * DAY, endMs: now - 60000 },
        { startMs: now - 100 * DAY, endMs: now - 60000 },
        { startMs: now - 26 * HOUR, endMs: now - 60000 },
        ...changeWindows(seeded),
      ],
    });
    assert.deepEqual(factory.venueIds, venues);
    const msgs = [...makeStream(factory, { count: COUNT, dups: DUPS, bad: 0 }),
      ...customerSales(rng, { tag: w.tag, venues: seeded, now, days: 90, customers: () => rng.int(10, 20) })];
    // A venue whose refunds exceed its sales today: a negative total.
    negVenue = `${w.tag}-venue-neg`;
    const at = now - 120000;
    const hand = (id, type, data, revenue, sales) => {
      const env = { id: `${w.tag}-${id}`, type, occurredAt: new Date(at).toISOString(), venueId: negVenue, data };
      return { kind: 'valid', id: env.id, type, routingKey: type, body: JSON.stringify(env), envelope: env, venueId: negVenue,
        day: new Date(at).toISOString().slice(0, 10), occurredMs: at, revenue, sales };
    };
    msgs.push(hand('neg1', 'ticket.purchased', { ticketId: `${w.tag}-ntk1`, orderId: `${w.tag}-no1`, price: '10.00', quantity: 1, channel: 'web' }, 1000n, 1n));
    msgs.push(hand('neg2', 'ticket.refunded', { ticketId: `${w.tag}-ntk0`, orderId: `${w.tag}-no0`, amount: '25.00' }, -2500n, 0n));
    const { first, late } = splitLate(rng, msgs, { now });
    console.log(`seed ${SEED}: zones ${seeded.map((v) => v.zone ?? '(none)').join(', ')}; DST changes ` +
      `${seeded.filter((v) => v.change).map((v) => `${v.change.date} (${v.change.hours} h)`).join(', ')}; ${first.length} + ${late.length} publications`);
    await w.startIngest();
    await publishAndRollUp(w, { venues: seeded, first, late });

    ({ svc: qa, base } = await startQueryApi({ services: w.services }));
    admin = api(base, { token: adminToken() });
  });

  after(async () => {
    if (w) {
      await deleteRollups(w.pool, like).catch(() => {});
      if (qa?.alive) {
        await qa.stopClean().catch((e) => console.error(`query-api stop: ${e.message}`));
      }
      const errors = await w.close();
      if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
    }
  });

  for (const period of ['24h', '7d', '30d', '90d']) {
    it(`GET /analytics/dashboard?period=${period}: summary, charts, topEvents, realtime equal raw_events for every venue`, async (t) => {
      const days = period === '24h' ? 0 : Number(period.replace('d', ''));
      const fresh = { headers: { 'Cache-Control': 'no-cache' } };
      /** The end of the period the aggregator's read model holds for v, as the API writes instants. */
      const modelEnd = async (v) => (await w.pool.query(
        `SELECT to_char(t1 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS t1 FROM dashboard_periods WHERE venue_id = $1 AND days = $2`,
        [v, days])).rows[0]?.t1;
      for (const v of venues) for (const source of ['read model', 'rollups']) {
        await t.test(`venue ${venues.indexOf(v)} (${seeded[venues.indexOf(v)].tz}), from the ${source}`, async () => {
          const url = `/analytics/dashboard?period=${period}&venueId=${v}`;
          // First the answer from the aggregator's dashboard read model (rows of
          // this very period), then, with those rows made to look ended, the same
          // figures computed from the rollups.
          if (source === 'rollups')
            await w.pool.query(`UPDATE dashboard_periods SET t1 = '-infinity' WHERE venue_id = $1 AND days = $2`, [v, days]);
          let { now, value: d } = await atSteadyNow(w.pool, v, () => getOk(admin, url, fresh));
          if (source === 'read model' && (await modelEnd(v)) !== d.endDate) {
            await aggregateOnce(48);   // an hour or a local date began since the last pass
            ({ now, value: d } = await atSteadyNow(w.pool, v, () => getOk(admin, url, fresh)));
          }
          if (source === 'read model') assert.equal(await modelEnd(v), d.endDate, 'the read model holds the period answered');
          const p = periodOf(now, period);
          const buckets = await rawBuckets(w.pool, v, now.tz, p.hours);
          const points = p.keys.map((k) => ({ date: k, ...(buckets.get(k) ?? { net: 0n, tickets: 0n }) }));
          const totalNet = points.reduce((s, x) => s + x.net, 0n);
          const totalTickets = points.reduce((s, x) => s + x.tickets, 0n);
          const what = `${v} ${period} (${source})`;
          assert.equal(d.period, period, what);
          assert.equal(d.timezone, now.tz, what);
          assert.deepEqual(d.charts.revenue, points.map((x) => ({ date: x.date, revenue: formatCents(x.net) })), `${what} charts.revenue`);
          assert.deepEqual(d.charts.sales, points.map((x) => ({ date: x.date, ticketsSold: String(x.tickets) })), `${what} charts.sales`);
          // The venue's RFM segments (all time), as GET /analytics/customers/segments answers them.
          const seg = await getOk(admin, `/analytics/customers/segments?venueId=${v}`);
          assert.deepEqual(d.charts.customerSegments, seg.segments, `${what} customerSegments`);
          assert.equal(d.charts.customerSegments.length, 9, what);
          const buyers = (await w.pool.query(
            `SELECT count(DISTINCT customer_hash)::text AS n FROM raw_events WHERE venue_id = $1 AND ${BUY} AND customer_hash IS NOT NULL`, [v])).rows[0].n;
          assert.equal(String(d.charts.customerSegments.reduce((a, x) => a + BigInt(x.customers), 0n)), buyers, `${what}: every buyer in one segment`);
          assert.equal(d.summary.totalRevenue, formatCents(totalNet), `${what} totalRevenue`);
          assert.equal(d.summary.totalTicketsSold, String(totalTickets), `${what} totalTicketsSold`);
          assert.equal(d.summary.uniqueCustomers, await rawCustomers(w.pool, v, now.tz, p), `${what} uniqueCustomers`);
          const top = await rawTop(w.pool, v, now.tz, p);
          assert.deepEqual(d.topEvents, top, `${what} topEvents`);
          assert.deepEqual(d.summary.topEvent, top[0] ?? null, `${what} topEvent`);
          // realtime: ingest's counters of today (UTC day).
          const day = new Date().toISOString().slice(0, 10);
          const h = (await w.redis.hgetall(`counter:${v}:${day}`)) ?? {};
          assert.deepEqual(d.realtime, {
            todayRevenue: formatCents(BigInt(h.revenue_cents ?? 0)), todaySales: String(h.sales ?? 0), currentTraffic: String(h.traffic ?? 0),
          }, `${what} realtime`);
          if (period === '90d') assert.ok(totalTickets > 0n, `${what}: the dataset has sales in the period`);
        });
      }
    });
  }

  it('GET /analytics/dashboard: the rollup part may come from the cache, realtime never does', async () => {
    const v = venues[0];
    const day = new Date().toISOString().slice(0, 10);
    const key = `counter:${v}:${day}`;
    // (Another aggregator on the same database may bump the venue's cache version in between: try a few times.)
    let first;
    let second;
    for (let i = 0; i < 3; i++) {
      first = await admin.get(`/analytics/dashboard?period=30d&venueId=${v}`);
      assert.equal(first.status, 200, first.text);
      await w.redis.command('HINCRBY', key, 'sales', '7');
      await w.redis.command('HINCRBY', key, 'traffic', '3');
      await w.redis.command('HINCRBY', key, 'revenue_cents', '1234');
      second = await admin.get(`/analytics/dashboard?period=30d&venueId=${v}`);
      assert.equal(second.status, 200, second.text);
      if (second.headers['x-cache'] === 'HIT') break;
    }
    assert.equal(second.headers['x-cache'], 'HIT', 'the second dashboard comes from the cache');
    const a = parseExact(first.text).data;
    const b = parseExact(second.text).data;
    const h = await w.redis.hgetall(key);
    assert.deepEqual(b.realtime, { todayRevenue: formatCents(BigInt(h.revenue_cents)), todaySales: h.sales, currentTraffic: h.traffic });
    assert.equal(BigInt(b.realtime.todaySales) - BigInt(a.realtime.todaySales), 7n);
    delete a.realtime;
    delete b.realtime;
    assert.deepEqual(b, a, 'the rollup part is unchanged');
  });

  it('GET /analytics/dashboard defaults to 7d', async () => {
    const d = await getOk(admin, `/analytics/dashboard?venueId=${venues[1]}`);
    assert.equal(d.period, '7d');
    assert.equal(d.charts.revenue.length, 7);
  });

  it('GET /analytics/revenue/summary: byChannel, byEventType and projection equal raw_events (dates and date-times, in venue time)', async (t) => {
    for (const [i, v] of venues.entries()) {
      const now = await venueNow(w.pool, v);
      // The DST changes of the venue's zone in the data's year, as PostgreSQL sees them: local dates that do not have
      // 96 quarter-hours (counted over instants, so that a repeated or skipped 00:00 cannot hide one). The days around each.
      const dst = (await w.pool.query(
        `SELECT d::text FROM (
            SELECT (t AT TIME ZONE $1)::date AS d, count(*) AS n
              FROM generate_series(($2::date - 368)::timestamp AT TIME ZONE 'UTC', $2::date::timestamp AT TIME ZONE 'UTC', interval '15 minutes') t
             GROUP BY 1) x
          WHERE n <> 96 AND d BETWEEN $2::date - 366 AND $2::date - 3 ORDER BY d`,
        [now.tz, now.today])).rows.map((r) => r.d);
      const change = seeded[i].change;
      if (change) assert.ok(dst.includes(change.date), `${v}: ${change.date} (${now.tz}) is a DST day for PostgreSQL too: ${dst}`);
      const cases = [
        ...dst.map((d) => ({ start: addDays(d, -1), end: addDays(d, 1) })),
        { start: addDays(now.today, -20), end: addDays(now.today, 9) }, // includes today: a projection
        { start: addDays(now.today, -80), end: addDays(now.today, -30) }, // all in the past
        { start: addDays(now.today, 0), end: addDays(now.today, 0) },
        // local date-times without offset: their own dates
        { start: `${addDays(now.today, -6)}T23:59:59`, end: `${addDays(now.today, -2)}T00:00:00.000`, local: true },
        // date-times with offsets: their local dates in the venue's zone
        { start: new Date(Date.now() - 40 * DAY).toISOString(), end: '2099-01-01T00:00:00+05:30', localOf: true, cap: true },
      ];
      for (const c of cases) {
        let d0 = c.local ? c.start.slice(0, 10) : c.start;
        let d1 = c.local ? c.end.slice(0, 10) : c.end;
        if (c.localOf) {
          const { rows } = await w.pool.query(
            `SELECT ($1::timestamptz AT TIME ZONE $3)::date::text AS a, ($2::timestamptz AT TIME ZONE $3)::date::text AS b`,
            [c.start, c.end, now.tz]);
          d0 = rows[0].a;
          d1 = rows[0].b;
        }
        const path = `/analytics/revenue/summary?venueId=${v}&startDate=${encodeURIComponent(c.start)}&endDate=${encodeURIComponent(c.end)}`;
        if (c.cap) {
          // More than 366 days: refused.
          assertValidation(await get(admin, path), 'endDate', `${v} ${c.start}..${c.end}`);
          continue;
        }
        const what = `${v} ${d0}..${d1}`;
        await t.test(`venue ${i} ${d0}..${d1} (${now.tz})`, async () => {
          const steady = await atSteadyNow(w.pool, v, () => getOk(admin, path));
          assert.equal(steady.now.today, now.today, 'the local date did not change during the test');
          const d = steady.value;
          const ch = await rawBy(w.pool, v, now.tz, 'channel', d0, d1, now.today);
          const et = await rawBy(w.pool, v, now.tz, 'eventType', d0, d1, now.today);
          const total = ch.reduce((s, r) => s + r.net, 0n);
          const upto = ch.reduce((s, r) => s + r.upto, 0n);
          assert.equal(d.startDate, d0, what);
          assert.equal(d.endDate, d1, what);
          assert.equal(d.timezone, now.tz, what);
          assert.equal(d.byChannel.total, formatCents(total), `${what} total`);
          // Ties in revenue are ordered by the database's collation: compare as sets, and the order of revenues.
          const wantCh = breakdown(ch, 'channel', total);
          assert.deepEqual([...d.byChannel.channels].sort(byKey('channel')), [...wantCh].sort(byKey('channel')), `${what} byChannel`);
          assert.deepEqual(d.byChannel.channels.map((x) => x.revenue), wantCh.map((x) => x.revenue), `${what} byChannel order`);
          const wantEt = breakdown(et, 'eventType', total);
          assert.deepEqual([...d.byEventType].sort(byKey('eventType')), [...wantEt].sort(byKey('eventType')), `${what} byEventType`);
          const totalDays = BigInt((Date.parse(d1) - Date.parse(d0)) / DAY + 1);
          let elapsed = BigInt((Date.parse(now.today) - Date.parse(d0)) / DAY + 1);
          const includesToday = elapsed >= 1n && elapsed <= totalDays;
          if (elapsed < 0n) elapsed = 0n;
          if (elapsed > totalDays) elapsed = totalDays;
          const projected = elapsed === 0n || elapsed === totalDays ? upto : divRound(upto * totalDays, elapsed);
          assert.deepEqual(d.projection, {
            method: 'linear', includesToday, totalDays: String(totalDays), elapsedDays: String(elapsed),
            revenueToDate: formatCents(upto), projectedRevenue: formatCents(projected),
          }, `${what} projection`);
          if (c.end === addDays(now.today, 9)) assert.ok(ch.length > 0, `${what}: the dataset has sales in range`);
          if (change && c.start === addDays(change.date, -1)) assert.ok(ch.length > 0, `${what}: the dataset has sales around the DST change`);
        });
      }
    }
  });

  it('GET /analytics/revenue/summary with refunds above sales: a negative total and signed percentages', async () => {
    const now = await venueNow(w.pool, negVenue);
    const d = await getOk(admin, `/analytics/revenue/summary?venueId=${negVenue}&startDate=${addDays(now.today, -1)}&endDate=${now.today}`);
    assert.equal(d.byChannel.total, '-15.00');
    assert.deepEqual(d.byChannel.channels, [
      { channel: 'web', revenue: '10.00', percentage: '-66.67%', ticketsSold: '1' },
      { channel: 'unknown', revenue: '-25.00', percentage: '166.67%', ticketsSold: '0' },
    ]);
  });

  it('GET /analytics/events/performance and /analytics/events/:eventId/performance equal raw_events and the catalog', async () => {
    for (const v of venues) {
      const now = await venueNow(w.pool, v);
      const { rows } = await w.pool.query(
        `WITH s AS (
           SELECT event_id, coalesce(sum(quantity) FILTER (WHERE ${BUY}), 0) AS t, count(*) FILTER (WHERE ${BUY}) AS o,
                  coalesce(sum(revenue_cents) FILTER (WHERE ${BUY}), 0) AS g, coalesce(-sum(revenue_cents) FILTER (WHERE NOT ${BUY}), 0) AS rf,
                  min(occurred_at) FILTER (WHERE ${BUY}) AS first
             FROM raw_events WHERE venue_id = $1 AND ${SALES} AND event_id IS NOT NULL GROUP BY event_id)
         SELECT coalesce(s.event_id, c.event_id) AS id, c.name, c.capacity, coalesce(s.t, 0)::text AS t, coalesce(s.o, 0)::text AS o,
                coalesce(s.g, 0)::text AS g, coalesce(s.rf, 0)::text AS rf,
                ($3::date - (s.first AT TIME ZONE $2)::date + 1)::text AS days
           FROM s FULL JOIN (SELECT * FROM event_catalog WHERE venue_id = $1) c ON c.event_id = s.event_id`,
        [v, now.tz, now.today]);
      const want = rows.map((r) => {
        const t = BigInt(r.t);
        const net = BigInt(r.g) - BigInt(r.rf);
        const days = r.days === null ? null : BigInt(r.days) < 1n ? 1n : BigInt(r.days);
        return {
          eventId: r.id, name: r.name, capacity: r.capacity === null ? null : String(r.capacity), ticketsSold: String(t), orders: r.o,
          grossRevenue: formatCents(BigInt(r.g)), refunds: formatCents(BigInt(r.rf)), revenue: formatCents(net),
          sellThrough: r.capacity > 0 ? fixed(divRound(t * 10000n, BigInt(r.capacity)), 4) : null,
          salesVelocity: days === null ? '0.0000' : fixed(divRound(t * 10000n, days), 4),
          net,
        };
      });
      const pick = (e) => ({
        eventId: e.eventId, name: e.name, capacity: e.capacity, ticketsSold: e.ticketsSold, orders: e.orders, grossRevenue: e.grossRevenue,
        refunds: e.refunds, revenue: e.revenue, sellThrough: e.sellThrough, salesVelocity: e.salesVelocity,
      });
      const steady = await atSteadyNow(w.pool, v, () => getOk(admin, `/analytics/events/performance?venueId=${v}&limit=1000`));
      assert.equal(steady.now.today, now.today, 'the local date did not change during the test');
      const d = steady.value;
      assert.ok(want.length > 5, `${v}: shows in the dataset`);
      assert.equal(d.count, String(want.length), v);
      assert.deepEqual(d.events.map(pick).sort(byKey('eventId')), want.map(pick).sort(byKey('eventId')), `${v} events`);
      // Ordered by revenue, descending.
      const revs = d.events.map((e) => BigInt(e.revenue.replace('.', '')));
      for (let i = 1; i < revs.length; i++) assert.ok(revs[i - 1] >= revs[i], `${v}: events ordered by revenue`);
      // limit
      const two = await getOk(admin, `/analytics/events/performance?venueId=${v}&limit=2`);
      assert.deepEqual(two.events, d.events.slice(0, 2), `${v} limit=2`);
      // One show.
      const one = want.find((e) => e.capacity !== null && e.ticketsSold !== '0') ?? want[0];
      const o = await getOk(admin, `/analytics/events/${encodeURIComponent(one.eventId)}/performance?venueId=${v}`);
      assert.deepEqual(pick(o), pick(one), `${v} ${one.eventId}`);
      const missing = await get(admin, `/analytics/events/${w.tag}-no-such-show/performance?venueId=${v}`);
      assert.equal(missing.status, 404, missing.text);
      assert.equal(missing.body?.code, 'NOT_FOUND');
    }
  });

  it('tenancy: a venue token reads its own venue only (403 for another), an admin names any', async () => {
    const [a, b] = venues;
    const mine = api(base, { token: venueToken(a) });
    for (const path of ['/analytics/dashboard?period=30d', '/analytics/revenue/summary?startDate=2026-01-01&endDate=2026-01-31',
      '/analytics/events/performance']) {
      const own = await get(mine, path);
      assert.equal(own.status, 200, `${path}: ${own.text}`);
      const named = await get(mine, `${path}${path.includes('?') ? '&' : '?'}venueId=${a}`);
      assert.equal(named.status, 200, named.text);
      const other = await get(mine, `${path}${path.includes('?') ? '&' : '?'}venueId=${b}`);
      assert.equal(other.status, 403, `${path} for another venue: ${other.text}`);
      assert.equal(other.body?.code, 'FORBIDDEN');
      assert.ok(!other.text.includes(b), 'nothing of the other venue in the answer');
      const viaAdmin = await getOk(admin, `${path}${path.includes('?') ? '&' : '?'}venueId=${a}`);
      const ownData = own.data;
      if (ownData.realtime) {
        delete ownData.realtime;
        delete viaAdmin.realtime;
      }
      assert.deepEqual(ownData, viaAdmin, `${path}: the venue token reads its own venue`);
    }
    const one = await get(mine, `/analytics/events/x/performance?venueId=${b}`);
    assert.equal(one.status, 403, one.text);
    // No analytics.read permission.
    const noPerm = api(base, { token: mintToken({ userId: 'u', venueId: a, role: 'user', permissions: ['analytics.write'] }) });
    const r = await get(noPerm, '/analytics/dashboard');
    assert.equal(r.status, 403, r.text);
  });

  it('401 without a token or with a bad one', async () => {
    for (const path of ['/analytics/dashboard', '/analytics/revenue/summary?startDate=2026-01-01&endDate=2026-01-02',
      '/analytics/events/performance', '/analytics/events/x/performance']) {
      const r = await get(api(base), path);
      assert.equal(r.status, 401, `${path}: ${r.text}`);
      assert.equal(r.body?.code, 'UNAUTHORIZED');
      const bad = await get(api(base, { token: 'garbage.token.here' }), path);
      assert.equal(bad.status, 401, `${path}: ${bad.text}`);
    }
  });

  it('400 VALIDATION_ERROR with details naming the field', async () => {
    const v = venues[2];
    const cases = [
      ['/analytics/dashboard?period=1y', 'period'],
      ['/analytics/dashboard?period=', 'period'],
      ['/analytics/dashboard?period=7D', 'period'],
      ['/analytics/revenue/summary', 'startDate'],
      ['/analytics/revenue/summary', 'endDate'],
      ['/analytics/revenue/summary?startDate=2026-01-01', 'endDate'],
      ['/analytics/revenue/summary?startDate=yesterday&endDate=2026-01-01', 'startDate'],
      ['/analytics/revenue/summary?startDate=2026-02-30&endDate=2026-03-01', 'startDate'],
      ['/analytics/revenue/summary?startDate=2026-01-01&endDate=2026-01-01T25:00:00', 'endDate'],
      ['/analytics/revenue/summary?startDate=2026-01-01T10:00&endDate=2026-01-02', 'startDate'],
      ['/analytics/revenue/summary?startDate=2026-03-01&endDate=2026-02-01', 'endDate'],
      ['/analytics/revenue/summary?startDate=2025-01-01&endDate=2026-01-02', 'endDate'],
      ['/analytics/events/performance?limit=0', 'limit'],
      ['/analytics/events/performance?limit=1001', 'limit'],
      ['/analytics/events/performance?limit=abc', 'limit'],
      ['/analytics/dashboard?venueId=bad%20venue', 'venueId'],
    ];
    for (const [path, field] of cases) {
      const r = await get(admin, `${path}${path.includes('?') ? '&' : '?'}venueId=${v}`.replace(`venueId=bad%20venue&venueId=${v}`, 'venueId=bad%20venue'));
      assertValidation(r, field, path);
    }
    // 366 dates are allowed (a leap year).
    const ok = await get(admin, `/analytics/revenue/summary?venueId=${v}&startDate=2024-01-01&endDate=2024-12-31`);
    assert.equal(ok.status, 200, ok.text);
  });

  it('query-api exits cleanly on SIGTERM (no sanitizer report)', async () => {
    await qa.stopClean();
  });
});
