// gateway-ws.test.mjs - the plain JSON WebSocket of realtime-gateway
// (docs/realtime-gateway.md, "Plain WebSocket"), spoken to with the npm `ws`
// client beside a real ingest fed through RabbitMQ:
//   the connected frame with the token's claims (header or ?token=);
//   subscribe -> subscribed + snapshots equal to the sums computed here;
//   live updates after a publication, consistent, ending at the totals, with
//     ingest's number formats;
//   refused upgrades: 401/403 and the REST error envelope;
//   bad frames -> error frames, the connection kept; unsubscribe;
//   pings every GATEWAY_PING_INTERVAL_MS, a silent client closed;
//   binary, oversized and unmasked frames closed with 1003, 1009, 1002;
//   a clean SIGTERM exit.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, sleep } from './lib/harness.mjs';
import { adminToken, venueToken } from './lib/jwt.mjs';
import {
  Gateway, METRICS, METRICS_FIELD, Venue, WsClient, WsClients, assertEnvelope, checkUpdate, clearOfMidnight, liveAt,
  noVenueToken, primeBus, refusedTokens, using, within, wsRefusal,
} from './lib/gateway.mjs';

const MAX_PAYLOAD = 4096;

/** Sends subscribe:metrics and waits for the subscribed frame; returns its data. */
async function subscribe(c, data) {
  const from = c.frames.length;
  c.send({ event: 'subscribe:metrics', data });
  const f = await c.frames.waitFor((x) => x.event === 'subscribed' || x.event === 'error', { from, what: 'subscribed frame' });
  assert.equal(f.event, 'subscribed', `subscribe ${JSON.stringify(data)}: ${f.raw}`);
  for (const m of data.metrics) assert.ok(f.data?.metrics?.includes(m), `subscribed frame ${f.raw} lacks ${m}`);
  return f.data;
}

/** Sends a frame the gateway must answer with an error frame; returns its data. */
async function refusedFrame(c, frame) {
  const from = c.frames.length;
  c.send(frame);
  const f = await c.frames.waitFor((x) => x.event === 'error' || x.event === 'subscribed', { from, what: `answer to ${frame}` });
  assert.equal(f.event, 'error', `frame ${JSON.stringify(frame)}: ${f.raw}`);
  return f.data;
}

describe('realtime-gateway: plain WebSocket', { timeout: 240000 }, () => {
  let w;
  let gw;

  before(async () => {
    await clearOfMidnight();
    w = await IngestWorld.open('gwws');
    const ingest = await w.startIngest();
    gw = await Gateway.start(w, ingest, {
      GATEWAY_PING_INTERVAL_MS: '1000', GATEWAY_PING_TIMEOUT_MS: '2000', GATEWAY_MAX_PAYLOAD: String(MAX_PAYLOAD),
    });
    await using(WsClients, async (cl) => {
      const warm = new Venue(w, 'warm');
      const c = await cl.open(gw.wsUrl, adminToken());
      await subscribe(c, { metrics: ['traffic'], venueId: warm.id });
      await primeBus(warm, c.updates);
    });
  });

  after(async () => {
    const errors = await w?.close();
    if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
  });

  it('Authorization header: the first frame is {event: "connected", data: {venueId, userId, role}}', async () => {
    const v = `${w.tag}-hello`;
    await using(WsClients, async (cl) => {
      const c = await cl.open(gw.wsUrl, venueToken(v));
      const first = c.frames.items[0];
      assert.equal(first.isBinary, false);
      assert.deepEqual(JSON.parse(first.raw), { event: 'connected', data: { venueId: v, userId: `user-of-${v}`, role: 'user' } });
      const a = await cl.open(gw.wsUrl, adminToken());
      assert.deepEqual(JSON.parse(a.frames.items[0].raw), { event: 'connected', data: { venueId: null, userId: 'e2e-admin', role: 'admin' } });
    });
  });

  it('?token= in the query works too', async () => {
    const v = `${w.tag}-query`;
    await using(WsClients, async (cl) => {
      const c = await cl.open(`${gw.wsUrl}?token=${encodeURIComponent(venueToken(v))}`, null);
      assert.deepEqual(JSON.parse(c.frames.items[0].raw).data.venueId, v);
      const s = await subscribe(c, { metrics: ['sales'] });
      assert.equal(s.venueId, v);
    });
  });

  it('subscribe -> subscribed, then one snapshot metric:update per metric equal to the sums of the published events', async () => {
    const S = new Venue(w, 'snap');
    await S.publish([S.purchase('33.33', 3), S.purchase(0.5, 4), S.refund('10'), S.scan()]);
    assert.deepEqual([S.revenue, S.sales, S.traffic], [9999n + 200n - 1000n, 7n, 4n]);
    await S.waitRedis();
    await using(WsClients, async (cl) => {
      const c = await cl.open(gw.wsUrl, venueToken(S.id));
      const s = await subscribe(c, { metrics: ['traffic', 'sales', 'revenue'] });
      assert.equal(s.venueId, S.id);
      assert.deepEqual([...s.metrics].sort(), [...METRICS]);
      for (const m of METRICS) await c.updates.waitFor((u) => u.type === m && u.snapshot === true, { what: `${m} snapshot` });
      await sleep(300);
      assert.equal(c.updates.length, 3, JSON.stringify(c.updates.items));
      for (const u of c.updates.items) {
        assert.equal(checkUpdate(u, { venueId: S.id, snapshot: true }), S.expected(u.type), `${u.type} snapshot ${JSON.stringify(u)}`);
      }
    });
  });

  it('updates after a publication: consistent, ending at the totals, numbers printed as ingest prints them', async () => {
    const U = new Venue(w, 'upd');
    await using(WsClients, async (cl) => {
      const c = await cl.open(gw.wsUrl, venueToken(U.id));
      await subscribe(c, { metrics: METRICS });
      await U.publish([U.purchase('80.10', 2), U.purchase(4.2, 5)]);
      await c.updates.waitFor(liveAt(U.id, 'traffic', U.traffic), { what: `traffic == ${U.traffic}` });
      await U.publish([U.refund('0.20')]);
      for (const m of METRICS) await c.updates.waitFor(liveAt(U.id, m, U.expected(m)), { what: `${m} == ${U.expected(m)}` });
      assert.deepEqual([U.revenue, U.sales, U.traffic], [16020n + 2100n - 20n, 7n, 3n]);
      const live = c.frames.items.filter((f) => f.event === 'metric:update' && f.data.snapshot !== true);
      assert.ok(live.length >= 4, `${live.length} live updates`);
      for (const f of live) {
        checkUpdate(f.data, { venueId: U.id, snapshot: false });
        const num = f.data.type === 'revenue' ? '-?\\d+\\.\\d{2}' : '-?\\d+';
        const re = new RegExp(`"data":\\{"currentValue":${num},"previousValue":${num},"change":${num},` +
          '"changePercent":-?\\d+\\.\\d{4},"trend":"(up|down|stable)"\\}');
        assert.match(f.raw, re, 'proto/nng.md number formats');
      }
    });
  });

  describe('refused upgrades', () => {
    const v = () => `${w.tag}-refused`;
    for (const name of Object.keys(refusedTokens('x'))) {
      it(`${name} -> HTTP 401 with {success:false, error, code:"UNAUTHORIZED"}`, async () => {
        const token = refusedTokens(v())[name];
        const r = await wsRefusal(gw.wsUrl, token === null ? {} : { headers: { Authorization: `Bearer ${token}` } });
        assert.equal(r.status, 401, r.body);
        assertEnvelope(r.json, 'UNAUTHORIZED', null, `${name}: ${r.body}`);
      });
    }

    it('bad ?token= -> HTTP 401', async () => {
      const r = await wsRefusal(`${gw.wsUrl}?token=not-a-jwt`);
      assert.equal(r.status, 401, r.body);
      assertEnvelope(r.json, 'UNAUTHORIZED', null, r.body);
    });

    it('neither venueId nor admin role -> HTTP 403 with code FORBIDDEN', async () => {
      const r = await wsRefusal(gw.wsUrl, { headers: { Authorization: `Bearer ${noVenueToken()}` } });
      assert.equal(r.status, 403, r.body);
      assertEnvelope(r.json, 'FORBIDDEN', null, r.body);
    });
  });

  it('bad frames -> {event:"error", data: envelope}; the connection stays open', async () => {
    const v = new Venue(w, 'badframes');
    await using(WsClients, async (cl) => {
      const c = await cl.open(gw.wsUrl, venueToken(v.id));
      const sub = (data) => ({ event: 'subscribe:metrics', data });
      const refusals = [
        ['invalid JSON', '{"event":"subscribe:metrics","data":{', 'VALIDATION_ERROR', null],
        ['an array', '[1,2]', 'VALIDATION_ERROR', null],
        ['unknown metric', sub({ metrics: ['tickets'] }), 'VALIDATION_ERROR', METRICS_FIELD],
        ['metrics a string', sub({ metrics: 'sales' }), 'VALIDATION_ERROR', METRICS_FIELD],
        ['empty metrics', sub({ metrics: [] }), 'VALIDATION_ERROR', METRICS_FIELD],
        ['another venue', sub({ metrics: ['sales'], venueId: `${w.tag}-elsewhere` }), 'FORBIDDEN', null],
      ];
      for (const [what, frame, code, field] of refusals) assertEnvelope(await refusedFrame(c, frame), code, field, what);
      const unknown = await refusedFrame(c, { event: 'launch:rockets', data: {} });
      assert.equal(unknown.success, false, JSON.stringify(unknown));
      assert.equal(typeof unknown.code, 'string', JSON.stringify(unknown));
      assert.equal(c.ws.readyState, c.ws.OPEN);
      // Still usable, and nothing was subscribed by the refused frames.
      await subscribe(c, { metrics: ['traffic'] });
      await v.publish([v.purchase('1.00', 1)]);
      await c.updates.waitFor(liveAt(v.id, 'traffic', v.traffic), { what: `traffic == ${v.traffic}` });
      await sleep(200);
      assert.deepEqual([...new Set(c.updates.items.map((u) => u.type))], ['traffic']);
    });
  });

  it('unsubscribe -> subscribed with what is left; that metric stops, the other flows', async () => {
    const X = new Venue(w, 'unsub');
    await using(WsClients, async (cl) => {
      const c = await cl.open(gw.wsUrl, venueToken(X.id));
      await subscribe(c, { metrics: ['sales', 'traffic'] });
      await c.updates.waitFor((u) => u.type === 'traffic' && u.snapshot === true, { what: 'traffic snapshot' });
      const from = c.frames.length;
      c.send({ event: 'unsubscribe:metrics', data: { metrics: ['sales'] } });
      const f = await c.next('subscribed', () => true, { from });
      assert.deepEqual(JSON.parse(f.raw), { event: 'subscribed', data: { venueId: X.id, metrics: ['traffic'] } });
      const u0 = c.updates.length;
      await X.publish([X.purchase('6.00', 3)]);
      // ingest publishes sales before traffic: once traffic is in, sales would be too.
      await c.updates.waitFor(liveAt(X.id, 'traffic', X.traffic), { from: u0, what: `traffic == ${X.traffic}` });
      await sleep(200);
      assert.deepEqual(c.updates.items.slice(u0).map((u) => u.type), ['traffic']);
    });
  });

  it('pings every GATEWAY_PING_INTERVAL_MS; an idle connection that answers stays open', async () => {
    await using(WsClients, async (cl) => {
      const c = await cl.open(gw.wsUrl, venueToken(`${w.tag}-idle`));
      await sleep(5500);
      assert.equal(c.ws.readyState, c.ws.OPEN);
      assert.ok(c.pings >= 4 && c.pings <= 7, `${c.pings} pings in 5.5 s at 1000 ms`);
    });
  });

  it('a client that never answers pings is closed within pingInterval + pingTimeout', async () => {
    const c = new WsClient(gw.wsUrl, { headers: { Authorization: `Bearer ${venueToken(`${w.tag}-mute`)}` }, autoPong: false });
    try {
      await c.open();
      const t0 = Date.now();
      const closed = await within(c.closed, 8000, 'close of a client that does not answer pings');
      const ms = Date.now() - t0;
      assert.ok(ms <= 1000 + 2000 + 2000, `closed after ${ms} ms (code ${closed.code})`);
      assert.ok(c.pings >= 1, 'closed without a ping');
    } finally {
      c.close();
    }
  });

  describe('frames that end the connection', () => {
    const closeOf = async (token, send) => {
      const c = new WsClient(gw.wsUrl, { headers: { Authorization: `Bearer ${token}` } });
      try {
        await c.open();
        await c.next('connected');
        send(c.ws);
        return await within(c.closed, 5000, 'close');
      } finally {
        c.close();
      }
    };

    it('a binary frame -> close 1003', async () => {
      const r = await closeOf(venueToken(`${w.tag}-bin`), (ws) => ws.send(Buffer.from('{"event":"subscribe:metrics"}'), { binary: true }));
      assert.equal(r.code, 1003, JSON.stringify(r));
    });

    it(`a frame over GATEWAY_MAX_PAYLOAD (${MAX_PAYLOAD}) -> close 1009`, async () => {
      const big = JSON.stringify({ event: 'subscribe:metrics', data: { metrics: ['sales'], pad: 'x'.repeat(MAX_PAYLOAD) } });
      const r = await closeOf(venueToken(`${w.tag}-big`), (ws) => ws.send(big));
      assert.equal(r.code, 1009, JSON.stringify(r));
    });

    it('an unmasked client frame (protocol violation) -> close 1002', async () => {
      const frame = '{"event":"subscribe:metrics","data":{"metrics":["sales"]}}';
      const r = await closeOf(venueToken(`${w.tag}-unmasked`), (ws) => ws.send(frame, { mask: false }));
      assert.equal(r.code, 1002, JSON.stringify(r));
    });
  });

  it('SIGTERM: exit code 0, no sanitizer report', async () => {
    await gw.svc.stopClean({ timeoutMs: 20000 });
  });
});
