// query-api.test.mjs - the REST contract of query-api (seed: API
// Documentation, Error Handling, Monitoring; design.md: tenancy), spoken
// to with curl:
//   health shapes without a token, Prometheus text on GET /metrics;
//   401 UNAUTHORIZED for a missing, garbage, wrongly signed, expired,
//     alg:none, HS512 or tampered token (tokens minted here with node:crypto);
//   403 FORBIDDEN for a venue token naming another venue and for a token
//     without permissions; an admin may name any venue;
//   POST /metrics -> 201 and the row read back from analytics_metrics with
//     the exact value; /metrics/bulk all-or-nothing with details naming
//     metrics[i].field; bad bodies -> 400 VALIDATION_ERROR with details;
//   GET /analytics/realtime/summary equal to the Redis counters and to the
//     sums computed here after events went through ingest;
//   429 with the envelope after RATE_LIMIT_MAX requests per client and path;
//   a clean SIGTERM exit without sanitizer report.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, logRoot, startQueryApi } from './lib/harness.mjs';
import { EventFactory, Expected, dayStartMs, makeStream, parseCents, utcDay } from './lib/events.mjs';
import { assertRedisCounters } from './lib/checks.mjs';
import { api, curlRequest } from './lib/http.mjs';
import { adminToken, mintToken, tamper, venueToken } from './lib/jwt.mjs';

const SUMMARY = '/analytics/realtime/summary';

/** The seed's error envelope with the given status and code. */
function assertError(res, status, code, what) {
  const where = `${what}: HTTP ${res.status} ${res.text.slice(0, 300)}`;
  assert.equal(res.status, status, where);
  assert.ok(res.json && typeof res.json === 'object', `${where} (not a JSON object)`);
  assert.equal(res.json.success, false, where);
  assert.equal(typeof res.json.error, 'string', where);
  assert.ok(res.json.error.length > 0, where);
  if (code) assert.equal(res.json.code, code, where);
  assert.ok(!/(\.c:\d+|at \w+ \(|stack|SELECT |PQ\w+\(|jwt_\w+\()/.test(res.text), `${where} (internals in the error)`);
}

/** 400 VALIDATION_ERROR whose details name every field of `fields` (details: [{field, message}]). */
function assertValidation(res, fields, what) {
  assertError(res, 400, 'VALIDATION_ERROR', what);
  const d = res.json.details;
  assert.ok(Array.isArray(d) && d.length > 0, `${what}: details must be a non-empty array: ${res.text.slice(0, 300)}`);
  for (const x of d) {
    assert.equal(typeof x.field, 'string', `${what}: details[].field: ${JSON.stringify(x)}`);
    assert.equal(typeof x.message, 'string', `${what}: details[].message: ${JSON.stringify(x)}`);
    assert.ok(x.message.length > 0, `${what}: empty message`);
  }
  const named = d.map((x) => x.field);
  for (const f of fields) assert.ok(named.includes(f), `${what}: details name ${JSON.stringify(named)}, not ${f}`);
}

/** The exact text of a JSON number member in a response body. */
function numberText(text, key) {
  const m = new RegExp(`"${key}"\\s*:\\s*(-?[0-9][0-9.eE+-]*)`).exec(text);
  return m ? m[1] : null;
}

describe('query-api REST contract', { timeout: 300000 }, () => {
  let w;
  let qa;
  let base;
  let venueA;
  let venueB;
  let venueC;

  before(async () => {
    w = await IngestWorld.open('qapi');
    venueA = `${w.tag}-venue-a`;
    venueB = `${w.tag}-venue-b`;
    venueC = `${w.tag}-venue-c`;
    // A limit high enough for every test but the rate-limit one (which runs its own instance).
    ({ svc: qa, base } = await startQueryApi({ services: w.services }));
  });

  after(async () => {
    const errors = await w?.close();
    if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
  });

  // Rows of a venue; dimensions not sent may be stored as NULL or {} (the contract does not say).
  const metricRows = async (venueId) => (await w.pool.query(
    `SELECT metric_type, value::text AS value, nullif(dimensions, '{}'::jsonb) AS dimensions,
            (extract(epoch FROM timestamp) * 1000)::bigint::text AS ts_ms
       FROM analytics_metrics WHERE venue_id = $1 ORDER BY value`, [venueId])).rows;

  describe('health and monitoring (no token)', () => {
    it('GET /health -> 200 {success:true, data:{status:"ok"}}', async () => {
      const r = await api(base).get('/health');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.success, true, r.text);
      assert.equal(r.json?.data?.status, 'ok', r.text);
    });

    it('GET /health/live -> 200 {success:true}', async () => {
      const r = await api(base).get('/health/live');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.success, true, r.text);
    });

    it('GET /health/ready -> 200 {status:"ready", services:{database:"ok", redis:"ok"}}', async () => {
      const r = await api(base).get('/health/ready');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.success, true, r.text);
      assert.equal(r.json?.data?.status, 'ready', r.text);
      assert.equal(r.json?.data?.services?.database, 'ok', r.text);
      assert.equal(r.json?.data?.services?.redis, 'ok', r.text);
    });

    it('GET /health/dependencies -> postgres and redis {status:"ok", latency: ms}', async () => {
      const r = await api(base).get('/health/dependencies');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.success, true, r.text);
      for (const dep of ['postgres', 'redis']) {
        const d = r.json?.data?.[dep];
        assert.equal(d?.status, 'ok', `${dep}: ${r.text}`);
        assert.equal(typeof d?.latency, 'number', `${dep}.latency: ${r.text}`);
        assert.ok(d.latency >= 0 && d.latency < 5000, `${dep}.latency: ${r.text}`);
      }
    });

    it('GET /metrics -> Prometheus text with a request latency histogram', async () => {
      await api(base).get('/health');
      const r = await api(base).get('/metrics');
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
      assert.match(r.text, /^# TYPE \S+ histogram$/m, 'a histogram');
      assert.match(r.text, /^\S+_bucket\{[^}]*le="\+Inf"[^}]*\} \d+/m, 'histogram buckets');
      assert.match(r.text, /^\S+_count(\{[^}]*\})? \d+/m);
    });
  });

  describe('authentication: 401 UNAUTHORIZED', () => {
    const cases = () => {
      const good = venueToken(venueA);
      const [h, p] = good.split('.');
      return [
        ['no Authorization header', null],
        ['an empty bearer token', 'Bearer '],
        ['garbage', 'Bearer garbage'],
        ['three garbage segments', 'Bearer aaa.bbb.ccc'],
        ['the Basic scheme', 'Basic dXNlcjpwYXNz'],
        ['a token without "Bearer "', good],
        ['a bad signature (another secret)', `Bearer ${venueToken(venueA, {}, { secret: 'not-the-secret' })}`],
        ['a signature cut off', `Bearer ${h}.${p}.`],
        ['an expired token', `Bearer ${venueToken(venueA, {}, { ttl: -3600 })}`],
        ['alg none', `Bearer ${venueToken(venueA, {}, { alg: 'none' })}`],
        ['alg none with the HS256 signature', `Bearer ${mintToken({ venueId: venueA, role: 'user', permissions: ['analytics.read'] }, { alg: 'none' })}${good.split('.')[2]}`],
        ['HS512 with the right secret', `Bearer ${venueToken(venueA, {}, { alg: 'HS512' })}`],
        ['HS384 with the right secret', `Bearer ${venueToken(venueA, {}, { alg: 'HS384' })}`],
        ['a tampered payload (venue changed, signature kept)', `Bearer ${tamper(good, { userId: 'x', venueId: venueB, role: 'user', permissions: ['analytics.read'], exp: Math.floor(Date.now() / 1000) + 3600 })}`],
        ['a tampered payload (role admin, signature kept)', `Bearer ${tamper(good, { userId: 'x', venueId: venueA, role: 'admin', permissions: ['*'], exp: Math.floor(Date.now() / 1000) + 3600 })}`],
      ];
    };

    it('GET /analytics/realtime/summary refuses every bad token', async () => {
      for (const [what, header] of cases()) {
        const r = await curlRequest(`${base}${SUMMARY}`, { headers: header === null ? {} : { Authorization: header } });
        assertError(r, 401, 'UNAUTHORIZED', `GET summary with ${what}`);
      }
    });

    it('POST /metrics and /metrics/bulk refuse every bad token and store nothing', async () => {
      const body = { venueId: venueA, metricType: 'e2e-unauth', value: 1 };
      for (const [what, header] of cases()) {
        const h = { 'Content-Type': 'application/json', ...(header === null ? {} : { Authorization: header }) };
        const r = await curlRequest(`${base}/metrics`, { method: 'POST', headers: h, body });
        assertError(r, 401, 'UNAUTHORIZED', `POST /metrics with ${what}`);
        const b = await curlRequest(`${base}/metrics/bulk`, { method: 'POST', headers: h, body: { metrics: [body] } });
        assertError(b, 401, 'UNAUTHORIZED', `POST /metrics/bulk with ${what}`);
      }
      assert.deepEqual(await metricRows(venueA), []);
    });

    it('the same request with a valid token is accepted (the 401s were about the token)', async () => {
      const r = await api(base, { token: venueToken(venueA) }).get(SUMMARY);
      assert.equal(r.status, 200, r.text);
    });
  });

  describe('authorisation: 403 FORBIDDEN', () => {
    it('a venue token naming another venue in the summary query', async () => {
      const r = await api(base, { token: venueToken(venueA) }).get(`${SUMMARY}?venueId=${encodeURIComponent(venueB)}`);
      assertError(r, 403, 'FORBIDDEN', 'venue A token reading venue B');
    });

    it('a venue token posting a metric of another venue stores nothing', async () => {
      const r = await api(base, { token: venueToken(venueA) }).post('/metrics', { venueId: venueB, metricType: 'sales', value: 1 });
      assertError(r, 403, 'FORBIDDEN', 'venue A token writing venue B');
      assert.deepEqual(await metricRows(venueB), []);
    });

    it('a bulk with one metric of another venue is refused whole', async () => {
      const r = await api(base, { token: venueToken(venueA) }).post('/metrics/bulk', {
        metrics: [{ venueId: venueA, metricType: 'sales', value: 1 }, { venueId: venueB, metricType: 'sales', value: 2 }],
      });
      assertError(r, 403, 'FORBIDDEN', 'bulk with a metric of venue B');
      assert.deepEqual(await metricRows(venueA), []);
      assert.deepEqual(await metricRows(venueB), []);
    });

    it('a token without permissions may neither write nor read', async () => {
      const c = api(base, { token: venueToken(venueA, { permissions: [] }) });
      assertError(await c.post('/metrics', { venueId: venueA, metricType: 'sales', value: 1 }), 403, 'FORBIDDEN', 'POST /metrics without permissions');
      assertError(await c.get(SUMMARY), 403, 'FORBIDDEN', 'GET summary without permissions');
      assert.deepEqual(await metricRows(venueA), []);
    });

    it('an admin token may name any venue', async () => {
      const r = await api(base, { token: adminToken() }).get(`${SUMMARY}?venueId=${encodeURIComponent(venueB)}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.data?.venueId, venueB, r.text);
    });

    it('an unknown route -> 404 with the envelope', async () => {
      const r = await api(base, { token: venueToken(venueA) }).get('/analytics/no-such-thing');
      assertError(r, 404, 'NOT_FOUND', 'GET an unknown route');
    });
  });

  describe('POST /metrics and /metrics/bulk', () => {
    it('POST /metrics -> 201; the row in analytics_metrics holds exactly what was sent', async () => {
      const c = api(base, { token: venueToken(venueA) });
      const t0 = Date.now();
      const r = await c.post('/metrics', { venueId: venueA, metricType: 'revenue', value: 19.99, dimensions: { eventType: 'concert', channel: 'online' } });
      const t1 = Date.now();
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json?.success, true, r.text);
      const r2 = await c.post('/metrics', { venueId: venueA, metricType: 'sales', value: 1 });
      assert.equal(r2.status, 201, r2.text);
      const rows = await metricRows(venueA);
      assert.deepEqual(rows.map(({ ts_ms: _, ...x }) => x), [
        { metric_type: 'sales', value: '1', dimensions: null },
        { metric_type: 'revenue', value: '19.99', dimensions: { eventType: 'concert', channel: 'online' } },
      ].sort((a, b) => a.value.localeCompare(b.value)));
      const ts = Number(rows.find((x) => x.metric_type === 'revenue').ts_ms);
      assert.ok(ts >= t0 - 2000 && ts <= t1 + 2000, `timestamp ${new Date(ts).toISOString()} is the time of the request`);
    });

    it('POST /metrics/bulk -> 201; every metric stored with its exact value', async () => {
      const venueD = `${w.tag}-venue-d`;
      const c = api(base, { token: venueToken(venueD) });
      const metrics = [
        { venueId: venueD, metricType: 'sales', value: 3 },
        { venueId: venueD, metricType: 'revenue', value: 1234567.89, dimensions: { channel: 'web' } },
        { venueId: venueD, metricType: 'traffic', value: 0.01 },
      ];
      const r = await c.post('/metrics/bulk', { metrics });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json?.success, true, r.text);
      const rows = (await metricRows(venueD)).map(({ ts_ms: _, ...x }) => x);
      assert.deepEqual(rows.sort((a, b) => a.metric_type.localeCompare(b.metric_type)), [
        { metric_type: 'revenue', value: '1234567.89', dimensions: { channel: 'web' } },
        { metric_type: 'sales', value: '3', dimensions: null },
        { metric_type: 'traffic', value: '0.01', dimensions: null },
      ]);
    });

    it('POST /metrics/bulk is all-or-nothing: 400 with details naming metrics[i].field, nothing stored', async () => {
      const c = api(base, { token: venueToken(venueC) });
      const r = await c.post('/metrics/bulk', {
        metrics: [
          { venueId: venueC, metricType: 'sales', value: 1 },
          { venueId: venueC, metricType: 'sales', value: 2 },
          { venueId: venueC, metricType: 'sales', value: 'abc' },
          { venueId: venueC, metricType: 'sales', value: 4 },
          { venueId: venueC, value: 5 },
        ],
      });
      assertValidation(r, ['metrics[2].value', 'metrics[4].metricType'], 'bulk with two bad metrics');
      assert.deepEqual(await metricRows(venueC), []);
    });

    it('POST /metrics/bulk without a metrics array -> 400 naming metrics', async () => {
      const c = api(base, { token: venueToken(venueC) });
      assertValidation(await c.post('/metrics/bulk', {}), ['metrics'], 'bulk without metrics');
      assertValidation(await c.post('/metrics/bulk', { metrics: [] }), ['metrics'], 'bulk with no metric');
      assertValidation(await c.post('/metrics/bulk', { metrics: 'all' }), ['metrics'], 'bulk with metrics a string');
      assert.deepEqual(await metricRows(venueC), []);
    });

    it('bad bodies -> 400 VALIDATION_ERROR with details; nothing stored', async () => {
      const c = api(base, { token: venueToken(venueC) });
      const cases = [
        ['not JSON', '{"venueId": "x", ', []],
        ['a JSON array', JSON.stringify([{ venueId: venueC, metricType: 'sales', value: 1 }]), []],
        ['an empty object', '{}', ['venueId', 'metricType', 'value']],
        ['venueId a number', JSON.stringify({ venueId: 123, metricType: 'sales', value: 1 }), ['venueId']],
        ['metricType missing', JSON.stringify({ venueId: venueC, value: 1 }), ['metricType']],
        ['metricType an object', JSON.stringify({ venueId: venueC, metricType: { a: 1 }, value: 1 }), ['metricType']],
        ['value a string', JSON.stringify({ venueId: venueC, metricType: 'sales', value: 'abc' }), ['value']],
        ['value missing', JSON.stringify({ venueId: venueC, metricType: 'sales' }), ['value']],
        ['value null', JSON.stringify({ venueId: venueC, metricType: 'sales', value: null }), ['value']],
        ['dimensions a string', JSON.stringify({ venueId: venueC, metricType: 'sales', value: 1, dimensions: 'x' }), ['dimensions']],
        ['metricType of 101 characters', JSON.stringify({ venueId: venueC, metricType: 'm'.repeat(101), value: 1 }), ['metricType']],
      ];
      for (const [what, body, fields] of cases) assertValidation(await c.post('/metrics', body), fields, `POST /metrics with ${what}`);
      assert.deepEqual(await metricRows(venueC), []);
    });

    it('an oversized body (2 MiB) -> 413 PAYLOAD_TOO_LARGE with details naming the limit; nothing stored', async () => {
      const file = path.join(logRoot, 'oversized.json');
      fs.mkdirSync(logRoot, { recursive: true });
      fs.writeFileSync(file, JSON.stringify({ venueId: venueC, metricType: 'sales', value: 1, dimensions: { blob: 'x'.repeat(2 * 1024 * 1024) } }));
      const r = await curlRequest(`${base}/metrics`, {
        method: 'POST', bodyFile: file,
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${venueToken(venueC)}` },
      });
      fs.rmSync(file, { force: true });
      // 413 is HTTP's answer to a body over the limit; the envelope says which limit.
      assert.equal(r.status, 413, 'POST /metrics with a 2 MiB body');
      assert.deepEqual(r.json, {
        success: false, error: 'Request body too large', code: 'PAYLOAD_TOO_LARGE',
        details: [{ field: 'body', message: 'must be at most 1048576 bytes' }],
      });
      assert.deepEqual(await metricRows(venueC), []);
      // The server is still fine afterwards.
      assert.equal((await api(base).get('/health')).status, 200);
    });
  });

  describe('GET /analytics/realtime/summary after events went through ingest', () => {
    let exp;
    let venues;
    const today = utcDay(Date.now());

    before(async () => {
      const now = Date.now();
      const start = dayStartMs(today);
      // Yesterday's events must not count in today's summary.
      const factory = new EventFactory({
        tag: w.tag, seed: 99, venues: 3, salt: w.salt,
        windows: [{ startMs: start, endMs: now - 1000 }, { startMs: start, endMs: now - 1000 }, { startMs: start - 86400000, endMs: start }],
      });
      venues = factory.venueIds;
      const msgs = makeStream(factory, { count: 3000, dups: 300, bad: 30 });
      exp = new Expected().addAll(msgs);
      await w.startIngest();
      await w.pub.publish(w.names.exchange, msgs);
      const d = await w.waitDrained({ ids: exp.events.size, bad: exp.bad.length, timeoutMs: 120000 });
      assert.ok(d.ok, `ingest did not drain: ${JSON.stringify(d.value)}`);
      await assertRedisCounters(w, exp, { days: [today] });
    });

    it('a venue token reads its own venue: the Redis counters of today, equal to the sums computed here', async () => {
      if (utcDay(Date.now()) !== today) return; // the day turned during the test
      for (const v of venues) {
        const r = await api(base, { token: venueToken(v) }).get(SUMMARY);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json?.success, true, r.text);
        const d = r.json.data;
        assert.equal(d.venueId, v, r.text);
        assert.equal(d.date, today, r.text);
        const h = await w.redis.hgetall(`counter:${v}:${today}`);
        const m = exp.counters.get(`${v}|${today}`);
        assert.ok(h && m, `events of ${v} today`);
        const revText = numberText(r.text, 'todayRevenue');
        assert.ok(revText !== null, `todayRevenue must be a JSON number: ${r.text}`);
        assert.deepEqual(
          { revenueCents: String(parseCents(revText)), sales: String(d.todaySales), traffic: String(d.currentTraffic) },
          { revenueCents: h.revenue_cents, sales: h.sales, traffic: h.traffic },
          `summary of ${v} vs Redis counter:${v}:${today}: ${r.text}`);
        assert.deepEqual(
          { revenueCents: parseCents(revText), sales: BigInt(d.todaySales), traffic: BigInt(d.currentTraffic) },
          { revenueCents: m.revenue, sales: m.sales, traffic: m.traffic },
          `summary of ${v} vs the events published`);
      }
    });

    it('an admin naming the venue reads the same summary', async () => {
      const v = venues[1];
      const own = await api(base, { token: venueToken(v) }).get(SUMMARY);
      const adm = await api(base, { token: adminToken() }).get(`${SUMMARY}?venueId=${encodeURIComponent(v)}`);
      assert.equal(adm.status, 200, adm.text);
      assert.deepEqual(adm.json, own.json);
    });

    it('a venue without events today reads zeros', async () => {
      const r = await api(base, { token: venueToken(`${w.tag}-venue-quiet`) }).get(SUMMARY);
      assert.equal(r.status, 200, r.text);
      const d = r.json?.data;
      assert.deepEqual({ venueId: d?.venueId, date: d?.date, todayRevenue: d?.todayRevenue, todaySales: d?.todaySales, currentTraffic: d?.currentTraffic },
        { venueId: `${w.tag}-venue-quiet`, date: utcDay(Date.now()), todayRevenue: 0, todaySales: 0, currentTraffic: 0 }, r.text);
    });
  });

  describe('rate limit (an instance with RATE_LIMIT_MAX=5)', () => {
    let limited;
    let lbase;
    // Clients of their own: source addresses on the loopback network that no other run uses now.
    const ipA = `127.0.${1 + (process.pid % 250)}.${2 + (Math.floor(process.pid / 250) % 250)}`;
    const ipB = `127.0.${1 + (process.pid % 250)}.${3 + (Math.floor(process.pid / 250) % 250)}`;

    before(async () => {
      ({ svc: limited, base: lbase } = await startQueryApi({ services: w.services, env: { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW: '60' } }));
    });

    it('5 requests pass, the 6th and 7th get 429 with the envelope', async () => {
      const c = api(lbase, { token: venueToken(venueA), sourceIp: ipA });
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await c.get(SUMMARY)).status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
      for (let i = 0; i < 2; i++) {
        const r = await c.get(SUMMARY);
        assertError(r, 429, null, `request ${6 + i} within the window`);
        assert.equal(typeof r.json.code, 'string', r.text);
        assert.ok(r.json.code.length > 0, r.text);
      }
    });

    it('the limit is per client: another client address still passes', async () => {
      const r = await api(lbase, { token: venueToken(venueA), sourceIp: ipB }).get(SUMMARY);
      assert.equal(r.status, 200, r.text);
    });

    it('the limit is per path: the limited client may still POST /metrics', async () => {
      const r = await api(lbase, { token: venueToken(venueA), sourceIp: ipA }).post('/metrics', { venueId: venueA, metricType: 'e2e-ratelimit', value: 7 });
      assert.equal(r.status, 201, r.text);
    });

    it('SIGTERM: exit 0, no sanitizer report', async () => {
      await limited.stopClean();
    });
  });

  describe('shutdown', () => {
    it('query-api exits 0 on SIGTERM without a sanitizer report', async () => {
      await qa.stopClean();
    });
  });
});
