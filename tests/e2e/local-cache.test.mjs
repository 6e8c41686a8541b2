// local-cache.test.mjs - query-api's in-process copies of cached answers
// (LOCAL_CACHE_MB, services/query-api/lcache.c), kept exact by Redis'
// invalidation tracking, through GET /analytics/revenue/summary of a venue
// of this file:
//
//   - a repeated read is answered in-process: Redis sees no MGET for it
//     (INFO commandstats), the local and the cache hit counters move;
//   - a version bump by any Redis client (what the aggregator does after new
//     data) ends the copy at once: the next read goes to Redis and finds a
//     stale entry;
//   - an entry changed in Redis by someone else (a replica refreshing it, or
//     a forgery) drops the copy: the next read meets the bad MAC in Redis;
//   - the tracking connections killed: every copy is dropped, nothing is
//     served in-process until tracking is back (a version bump made meanwhile
//     is honoured), then copies are made again;
//   - a copy lives no longer than the Redis entry's TTL;
//   - the dashboard's counters of today are copied too (no HMGET) and a
//     change to their hash shows on the next read;
//   - a venue whose hash is absent from Redis: PostgreSQL's counters are
//     copied for at most 1 s, and the hash appearing ends the copy at once;
//   - LOCAL_CACHE_MB=0: every read is a Redis read.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, sleep, startQueryApi } from './lib/harness.mjs';
import { api, metricValue } from './lib/http.mjs';
import { venueToken } from './lib/jwt.mjs';

const PATH = '/analytics/revenue/summary?startDate=2026-01-01&endDate=2026-01-31';

describe('query-api local cache: copies in-process, exact through Redis invalidation tracking', { timeout: 120000 }, () => {
  let w;
  let qa;
  let base;
  let client;
  let venue;
  let entryKey;

  const metric = (series, at = base) => metricValue(at, series);
  const local = (result) => metric(`query_api_local_cache_total{result="${result}"}`);
  const cache = (result) => metric(`cache_requests_total{result="${result}"}`);

  /** MGETs Redis has run so far (every lookup that reaches Redis is one). */
  async function mgets() {
    const info = await w.redis.command('INFO', 'commandstats');
    const m = /cmdstat_mget:calls=(\d+)/.exec(info);
    return m ? Number(m[1]) : 0;
  }

  async function summary(c = client) {
    const res = await c.get(PATH);
    assert.equal(res.status, 200, `revenue summary: HTTP ${res.status} ${res.text.slice(0, 300)}`);
    return res;
  }

  /** Waits until query_api_local_cache_tracking is want. */
  async function tracking(want) {
    for (let i = 0; i < 100; i++) {
      if ((await metric('query_api_local_cache_tracking')) === want) return;
      await sleep(50);
    }
    assert.fail(`query_api_local_cache_tracking did not become ${want}`);
  }

  /** A read answered in-process: X-Cache HIT, no MGET, one more local hit. */
  async function assertLocalHit(body, what) {
    const [m0, h0] = [await mgets(), await local('hit')];
    const r = await summary();
    assert.equal(r.headers['x-cache'], 'HIT', what);
    assert.equal(r.text, body, what);
    assert.equal(await local('hit'), h0 + 1, `${what}: local hits`);
    assert.equal(await mgets(), m0, `${what}: a Redis MGET was made`);
  }

  /** Fills the copy: an answer stored in Redis, then read from Redis once. Returns the body. */
  async function warm() {
    const first = await summary();
    const again = await summary();
    assert.equal(again.headers['x-cache'], 'HIT');
    assert.equal(again.text, first.text);
    return again.text;
  }

  before(async () => {
    w = await IngestWorld.open('lcache');
    venue = `${w.tag}-venue-1`;
    entryKey = `analytics:revenue:${venue}:start=2026-01-01&end=2026-01-31`;
    ({ svc: qa, base } = await startQueryApi({ services: w.services }));
    client = api(base, { token: venueToken(venue) });
    await tracking(1);
  });

  after(async () => {
    if (qa) {
      const r = await qa.stop();
      assert.equal(r.report, null, `query-api sanitizer report:\n${r.report}`);
    }
    if (w) {
      await w.redis.deletePattern(`analytics:*:${w.tag}-*`).catch(() => {});
      await w.redis.deletePattern(`cache:version:${w.tag}-*`).catch(() => {});
      await w.close();
    }
  });

  it('a repeated read is answered in-process: no MGET reaches Redis, the hit counters move', async () => {
    const body = await warm();
    const hits = await cache('hit');
    for (let i = 0; i < 5; i++) await assertLocalHit(body, `read ${i}`);
    assert.equal(await cache('hit'), hits + 5, 'cache_requests_total{result="hit"} counts local hits');
  });

  it('a version bump by any Redis client ends the copy at once', async () => {
    const body = await warm();
    await assertLocalHit(body, 'before the bump');
    const [m0, stale] = [await mgets(), await cache('stale')];
    await w.redis.command('INCR', `cache:version:${venue}`);
    const r = await summary();
    assert.equal(r.headers['x-cache'], 'MISS');
    assert.equal(await cache('stale'), stale + 1, 'the entry in Redis was found stale');
    assert.ok((await mgets()) > m0, 'the read went to Redis');
    assert.equal(r.text, body, 'same data, recomputed');
  });

  it('an entry changed in Redis by someone else drops the copy (a forgery is then caught by its MAC)', async () => {
    const body = await warm();
    await assertLocalHit(body, 'before the forgery');
    const raw = await w.redis.get(entryKey);
    const forged = raw.replace('"total":0.00', '"total":1000.00');
    assert.notEqual(forged, raw, raw.slice(0, 300));
    const tampered = await cache('tampered');
    await w.redis.command('SET', entryKey, forged, 'KEEPTTL');
    const r = await summary();
    assert.equal(r.headers['x-cache'], 'MISS');
    assert.equal(await cache('tampered'), tampered + 1);
    assert.equal(r.text, body);
  });

  it('tracking lost: every copy dropped, nothing served in-process until it is back, then copies again', async () => {
    const body = await warm();
    await assertLocalHit(body, 'before the kill');
    const resets = await metric('query_api_local_cache_resets_total');
    const list = await w.redis.command('CLIENT', 'LIST');
    const ids = list.split('\n').filter((l) => l.includes(` name=query-api-lcache-${qa.pid} `))
      .map((l) => /(?:^|\s)id=(\d+)/.exec(l)[1]);
    assert.equal(ids.length, 2, `the tracker's two connections in CLIENT LIST:\n${list}`);
    for (const id of ids) await w.redis.command('CLIENT', 'KILL', 'ID', id);
    // A bump made while tracking may be down must still be honoured.
    await w.redis.command('INCR', `cache:version:${venue}`);
    const stale = await cache('stale');
    const r = await summary();
    assert.equal(r.headers['x-cache'], 'MISS', 'served in-process after the tracker was killed');
    assert.equal(await cache('stale'), stale + 1);
    assert.ok((await metric('query_api_local_cache_resets_total')) > resets, 'the copies were dropped');
    await tracking(1);
    const again = await summary();   // from Redis, copied again
    assert.equal(again.headers['x-cache'], 'HIT');
    await assertLocalHit(body, 'after tracking came back');
  });

  it("a copy lives no longer than the Redis entry's TTL", async () => {
    await warm();
    await w.redis.command('PEXPIRE', entryKey, '1500');
    await w.redis.command('INCR', `cache:version:${venue}`);   // drop the copy made before the PEXPIRE
    await summary();                                           // stale: recomputed, stored for 60 s again
    await w.redis.command('PEXPIRE', entryKey, '1500');
    const body = (await summary()).text;                       // from Redis: copied for <= 1.5 s
    await assertLocalHit(body, 'within the TTL');
    await sleep(1700);
    const r = await summary();
    assert.equal(r.headers['x-cache'], 'MISS', 'a copy outlived its Redis entry');
  });

  it("the dashboard's counters of today: copied in-process, a change to their hash shows on the next read", async () => {
    const hash = `counter:${venue}:${new Date().toISOString().slice(0, 10)}`;
    await w.redis.command('HSET', hash, 'revenue_cents', '1250', 'sales', '3', 'traffic', '9');
    const realtime = async () => {
      const r = await client.get('/analytics/dashboard?period=7d');
      assert.equal(r.status, 200, r.text.slice(0, 300));
      return r.json.data.realtime;
    };
    const hmgets = async () => Number(/cmdstat_hmget:calls=(\d+)/.exec(await w.redis.command('INFO', 'commandstats'))?.[1] ?? 0);
    await realtime();   // read from Redis with the cache lookup, then copied
    const h0 = await hmgets();
    assert.deepEqual(await realtime(), { todayRevenue: 12.5, todaySales: 3, currentTraffic: 9 });
    assert.equal(await hmgets(), h0, 'the counters were read from Redis again');
    await w.redis.command('HINCRBY', hash, 'sales', '2');   // what ingest does with every batch
    assert.deepEqual(await realtime(), { todayRevenue: 12.5, todaySales: 5, currentTraffic: 9 });
    assert.ok((await hmgets()) > h0, 'the changed hash was read from Redis');
    await w.redis.command('DEL', hash);
  });

  it("a venue without counters in Redis: PostgreSQL's copied for at most 1 s, a hash written in Redis shows on the next read", async () => {
    const v2 = `${w.tag}-venue-2`;
    const c2 = api(base, { token: venueToken(v2) });
    const day = new Date().toISOString().slice(0, 10);
    const hash = `counter:${v2}:${day}`;
    await w.redis.command('DEL', hash);
    await w.pool.query(
      'INSERT INTO realtime_counters (venue_id, day, revenue_cents, sales, traffic) VALUES ($1, $2, 700, 2, 4)',
      [v2, day]);
    const realtime = async () => {
      const r = await c2.get('/analytics/dashboard?period=7d');
      assert.equal(r.status, 200, r.text.slice(0, 300));
      return r.json.data.realtime;
    };
    const hmgets = async () => Number(/cmdstat_hmget:calls=(\d+)/.exec(await w.redis.command('INFO', 'commandstats'))?.[1] ?? 0);
    assert.deepEqual(await realtime(), { todayRevenue: 7, todaySales: 2, currentTraffic: 4 }, 'from PostgreSQL');
    const h0 = await hmgets();
    assert.deepEqual(await realtime(), { todayRevenue: 7, todaySales: 2, currentTraffic: 4 }, 'the copy');
    assert.equal(await hmgets(), h0, 'the absent hash was asked for again at once');

    // A change PostgreSQL alone knows of shows once the copy is over (1 s).
    await w.pool.query('UPDATE realtime_counters SET sales = 5 WHERE venue_id = $1 AND day = $2', [v2, day]);
    const t0 = Date.now();
    let now;
    while ((now = await realtime()).todaySales !== 5 && Date.now() - t0 < 5000) await sleep(100);
    assert.deepEqual(now, { todayRevenue: 7, todaySales: 5, currentTraffic: 4 }, 'the change in PostgreSQL did not show');
    assert.ok(Date.now() - t0 < 3000, `the PostgreSQL copy lived ${Date.now() - t0} ms`);

    // The hash appearing in Redis (ingest's next batch) ends the copy at once.
    await realtime();   // copied again
    await w.redis.command('HSET', hash, 'revenue_cents', '1250', 'sales', '6', 'traffic', '9');
    assert.deepEqual(await realtime(), { todayRevenue: 12.5, todaySales: 6, currentTraffic: 9 }, 'after HSET');
    await w.redis.command('DEL', hash);
  });

  it('LOCAL_CACHE_MB=0: every read is a Redis read', async () => {
    const { svc, base: b2 } = await startQueryApi({ services: w.services, env: { LOCAL_CACHE_MB: '0' } });
    try {
      const c2 = api(b2, { token: venueToken(venue) });
      await summary(c2);
      const m0 = await mgets();
      for (let i = 0; i < 3; i++) assert.equal((await summary(c2)).headers['x-cache'], 'HIT');
      assert.equal(await mgets(), m0 + 3);
      assert.equal(await metric('query_api_local_cache_total{result="hit"}', b2), 0);
    } finally {
      const r = await svc.stop();
      assert.equal(r.report, null, `query-api sanitizer report:\n${r.report}`);
    }
  });
});
