// cache-refresh.test.mjs - Cache-Control: no-cache on query-api's cached
// reads (docs/cache.md): such a request is computed from the rollups
// (X-Cache: MISS), whatever the entry holds, and its answer replaces the
// entry; a request without it keeps being served from the entry.
//
// The venue's read models are written here directly (sales_daily,
// customer_rfm_counts: what the aggregator would have written, without the
// version bump a pass sends), so a cached answer and a computed one differ
// and tell which one was served.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { makeTag, pgPool, redisClient, startQueryApi } from './lib/harness.mjs';
import { api, metricValue } from './lib/http.mjs';
import { venueToken } from './lib/jwt.mjs';

const PATH = '/analytics/dashboard?period=7d';

describe('query-api cache: Cache-Control: no-cache computes the answer and refreshes the entry', { timeout: 120000 }, () => {
  let pool;
  let redis;
  let qa;
  let base;
  let client;
  let venue;

  /** Sets the venue's sales of today (local date in UTC: no venues row) to tickets and cents. */
  async function setToday(tickets, cents) {
    await pool.query('DELETE FROM sales_daily WHERE venue_id = $1', [venue]);
    await pool.query(`INSERT INTO sales_daily (venue_id, dimension, local_date, value, tickets_sold, orders, gross_cents, net_cents)
      VALUES ($1, 'total', (now() AT TIME ZONE 'UTC')::date, '', $2, 1, $3, $3),
             ($1, 'event_id', (now() AT TIME ZONE 'UTC')::date, 'show-1', $2, 1, $3, $3)`, [venue, tickets, cents]);
  }

  const metric = (result) => metricValue(base, `cache_requests_total{result="${result}"}`);

  async function dashboard(headers = {}) {
    const res = await client.get(PATH, { headers });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    return { cache: res.headers['x-cache'], tickets: res.json.data.summary.totalTicketsSold, data: res.json.data };
  }

  before(async () => {
    venue = `${makeTag('cacherefresh')}-venue`;
    pool = pgPool();
    redis = await redisClient();
    await setToday(2, 1000);
    await pool.query(`INSERT INTO customer_rfm_counts (venue_id, customers)
      VALUES ($1, array_fill(0, ARRAY[124]) || 1)`, [venue]);   // one customer, scores (5, 5, 5)
    ({ svc: qa, base } = await startQueryApi());
    client = api(base, { token: venueToken(venue) });
  });

  after(async () => {
    if (qa) {
      const r = await qa.stop();
      assert.equal(r.report, null, `query-api sanitizer report:\n${r.report}`);
    }
    for (const t of ['sales_daily', 'customer_rfm_counts'])
      await pool?.query(`DELETE FROM ${t} WHERE venue_id = $1`, [venue]).catch(() => {});
    await redis?.deletePattern(`analytics:*:${venue}:*`).catch(() => {});
    await redis?.close?.();
    await pool?.end();
  });

  it('a normal request is served from the entry; no-cache computes it and replaces the entry', async () => {
    const first = await dashboard();
    assert.equal(first.cache, 'MISS');
    assert.equal(first.tickets, 2);
    assert.equal(first.data.charts.customerSegments[0].segment, 'Champions');
    assert.equal(first.data.charts.customerSegments[0].customers, 1);
    assert.equal((await dashboard()).cache, 'HIT');

    await setToday(5, 2500);   // new rollups, no version bump: the entry is still current
    const cached = await dashboard();
    assert.deepEqual([cached.cache, cached.tickets], ['HIT', 2]);

    const looked = { hit: await metric('hit'), miss: await metric('miss') };
    for (const value of ['no-cache', 'max-age=0, No-Cache']) {
      const fresh = await dashboard({ 'Cache-Control': value });
      assert.deepEqual([fresh.cache, fresh.tickets], ['MISS', 5], `Cache-Control: ${value}`);
      assert.equal(fresh.data.summary.totalRevenue, 25);
    }
    assert.deepEqual({ hit: await metric('hit'), miss: await metric('miss') }, looked, 'no-cache lookups are not counted');

    const after = await dashboard();
    assert.deepEqual([after.cache, after.tickets], ['HIT', 5], 'the entry was replaced by the fresh answer');
    assert.equal((await dashboard({ 'Cache-Control': 'max-age=60' })).cache, 'HIT', 'other directives change nothing');
  });
});
