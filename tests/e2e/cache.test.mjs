// cache.test.mjs - query-api's Redis cache, end to end, through
// GET /analytics/dashboard:
//
//   - a second call is a hit (cache_requests_total{result="hit"} + 1, the
//     same body, X-Cache: HIT) and the entry carries the seed's dashboard
//     TTL (120 s);
//   - an entry rewritten in Redis (its MAC no longer matches) is ignored:
//     the next call recomputes (result="tampered" + 1) and answers the same
//     body as before, and the entry is signed again afterwards;
//   - new events published through RabbitMQ -> ingest, then one aggregator
//     pass: the pass bumps cache:version:{venue}, so the very next call
//     answers the new numbers (result="stale" + 1), not the cached ones.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, sanitizerReport, sleep, startQueryApi } from './lib/harness.mjs';
import { api, metricValue } from './lib/http.mjs';
import { venueToken } from './lib/jwt.mjs';
import * as stack from './lib/stack-env.mjs';

const PATH = '/analytics/dashboard?period=7d';

/** Runs `aggregator --once` to completion and asserts a clean exit. */
function aggregatorOnce() {
  return new Promise((resolve) => {
    execFile(stack.binPath('aggregator'), ['--once'],
      { env: stack.serviceEnv({ AGGREGATOR_LATE_WINDOW_HOURS: '100000', LOG_LEVEL: 'warn' }), timeout: 120000 },
      (err, stdout, stderr) => {
        assert.equal(sanitizerReport(stderr + stdout), null, `sanitizer report from aggregator:\n${stderr}`);
        assert.equal(err ? (err.code ?? 1) : 0, 0, `aggregator --once failed: ${stderr}`);
        resolve(stdout);
      });
  });
}

/** A ticket.purchased message of quantity qty at price (text) for venue. */
function purchase(tag, venue, n, price, qty) {
  const env = {
    id: `${tag}-e${n}`,
    type: 'ticket.purchased',
    occurredAt: new Date(Date.now() - 10 * 60000).toISOString(),
    venueId: venue,
    eventId: `${tag}-show1`,
    data: { ticketId: `${tag}-tk${n}`, orderId: `${tag}-o${n}`, price, quantity: qty, currency: 'USD', channel: 'web' },
  };
  return { routingKey: env.type, body: JSON.stringify(env) };
}

describe('query-api cache: hits, tampered entries ignored, new data invalidates', { timeout: 300000 }, () => {
  let w;
  let qa;
  let base;
  let client;
  let venue;
  let entryKey;
  let published = 0;

  const counter = (result) => metricValue(base, `cache_requests_total{result="${result}"}`);

  async function dashboard() {
    const res = await client.get(PATH);
    assert.equal(res.status, 200, `dashboard: HTTP ${res.status} ${res.text.slice(0, 300)}`);
    assert.equal(res.json.success, true);
    return res;
  }

  async function venueTickets() {
    const r = await w.pool.query(
      "SELECT coalesce(sum(tickets_sold), 0)::int AS n FROM sales_rollups WHERE venue_id = $1 AND granularity = 'day'", [venue]);
    return r.rows[0].n;
  }

  /**
   * Publishes msgs through ingest, then runs `aggregator --once` until the
   * venue's day rollups hold `tickets` (another aggregator on this database,
   * e.g. a developer's `tt up`, may hold the advisory lock and take the
   * rows first: its pass bumps the version the same way).
   */
  async function publishAndAggregate(msgs, tickets) {
    published += msgs.length;
    await w.pub.publish(w.names.exchange, msgs);
    const r = await w.waitDrained({ ids: published, bad: 0, timeoutMs: 120000 });
    assert.ok(r.ok, `ingest did not store ${published} events: ${JSON.stringify(r.value)}`);
    await sleep(2500);   // the pass only takes rows received before now() - its commit-lag slack
    const t0 = Date.now();
    for (;;) {
      await aggregatorOnce();
      const n = await venueTickets();
      if (n === tickets) return;
      assert.ok(Date.now() - t0 < 60000, `rollups of ${venue} hold ${n} tickets, not ${tickets}, after 60 s of passes`);
      await sleep(500);
    }
  }

  async function cleanRedis() {
    await w.redis.deletePattern(`analytics:*:${w.tag}-*`);
    await w.redis.deletePattern(`cache:version:${w.tag}-*`);
  }

  before(async () => {
    w = await IngestWorld.open('cache');
    venue = `${w.tag}-venue-1`;
    entryKey = `analytics:dashboard:${venue}:period=7d`;
    for (const t of ['sales_rollups', 'customer_stats', 'event_stats', 'event_catalog'])
      await w.pool.query(`DELETE FROM ${t} WHERE venue_id LIKE $1`, [`${w.tag}-%`]);
    await cleanRedis();
    await w.startIngest();
    await publishAndAggregate([purchase(w.tag, venue, 1, '10.00', 2), purchase(w.tag, venue, 2, '5.50', 1)], 3);

    ({ svc: qa, base } = await startQueryApi({ services: w.services }));
    client = api(base, { token: venueToken(venue) });
  });

  after(async () => {
    if (qa) {
      const r = await qa.stop();
      assert.equal(r.report, null, `query-api sanitizer report:\n${r.report}`);
    }
    if (w) {
      for (const t of ['sales_rollups', 'customer_stats', 'event_stats', 'event_catalog'])
        await w.pool.query(`DELETE FROM ${t} WHERE venue_id LIKE $1`, [`${w.tag}-%`]).catch(() => {});
      await cleanRedis().catch(() => {});
      await w.close();
    }
  });

  let first;

  it('a second call is a hit with the same body, stored for the dashboard TTL', async () => {
    first = await dashboard();
    assert.equal(first.json.data.summary.totalTicketsSold, 3, first.text);
    const hits = await counter('hit');
    const again = await dashboard();
    assert.equal(await counter('hit'), hits + 1, 'cache_requests_total{result="hit"} did not move');
    assert.equal(again.headers['x-cache'], 'HIT');
    assert.deepEqual(again.json.data, first.json.data);
    const ttl = Number(await w.redis.command('TTL', entryKey));
    assert.ok(ttl > 100 && ttl <= 120, `TTL of ${entryKey}: ${ttl}`);
    // {version}|{hmac}|{json}
    const raw = await w.redis.get(entryKey);
    assert.match(raw, /^\d+\|[0-9a-f]{64}\|\{/);
    // The dashboard caches its rollup part; realtime is read on every request.
    const { realtime, ...rollupPart } = first.json.data;
    assert.ok(realtime, 'dashboard has a realtime block');
    const cached = JSON.parse(raw.slice(raw.indexOf('|', raw.indexOf('|') + 1) + 1));
    delete cached.realtime;
    assert.deepEqual(cached, rollupPart);
  });

  it('a tampered entry is ignored: recomputed, counted, same answer, signed again', async () => {
    const raw = await w.redis.get(entryKey);
    const forged = raw.replace('"totalTicketsSold":3', '"totalTicketsSold":9');
    assert.notEqual(forged, raw);
    await w.redis.command('SET', entryKey, forged, 'KEEPTTL');
    const tampered = await counter('tampered');
    const res = await dashboard();
    assert.equal(await counter('tampered'), tampered + 1, 'cache_requests_total{result="tampered"} did not move');
    assert.equal(res.headers['x-cache'], 'MISS');
    assert.deepEqual(res.json.data, first.json.data);
    const stored = await w.redis.get(entryKey);
    assert.ok(stored && !stored.includes('"totalTicketsSold":9'), 'the forged entry is still there');
    const hits = await counter('hit');
    assert.deepEqual((await dashboard()).json.data, first.json.data);
    assert.equal(await counter('hit'), hits + 1);
  });

  it('new data for the venue makes the next answer fresh, not the cached one', async () => {
    const before = Number((await w.redis.get(`cache:version:${venue}`)) ?? 0);
    await publishAndAggregate([purchase(w.tag, venue, 3, '20.00', 4)], 7);
    const after = Number(await w.redis.get(`cache:version:${venue}`));
    assert.ok(after > before, `cache:version:${venue} was ${before}, is ${after} after the pass`);
    const stale = await counter('stale');
    const res = await dashboard();
    assert.equal(await counter('stale'), stale + 1, 'cache_requests_total{result="stale"} did not move');
    assert.equal(res.headers['x-cache'], 'MISS');
    assert.equal(res.json.data.summary.totalTicketsSold, 7, res.text);
    assert.notDeepEqual(res.json.data, first.json.data);
    const hits = await counter('hit');
    assert.deepEqual((await dashboard()).json.data, res.json.data);
    assert.equal(await counter('hit'), hits + 1);
  });
});
