// gateway.test.mjs - realtime-gateway (docs/realtime-gateway.md) spoken to
// with the frontend's own client, the npm socket.io-client 4, beside a real
// ingest fed through RabbitMQ:
//   transports: default options (polling, upgraded to websocket),
//     websocket only, polling only; updates flow on each;
//   authentication: missing, garbage, wrongly signed, expired, alg none,
//     HS512 and tampered tokens -> connect_error "Authentication error: ..."
//     {code: UNAUTHORIZED}; no venue and no admin role -> FORBIDDEN; the
//     token taken from auth, the Authorization header or ?token=;
//   tenancy: updates reach only their venue's sockets; a venue token naming
//     another venue -> FORBIDDEN; an admin names any venue;
//   snapshots on subscribe equal to the sums computed here (Redis, and
//     PostgreSQL when Redis has none); live updates consistent and ending at
//     the totals; yesterday's counter changes not forwarded;
//   validation errors acknowledged with the envelope, the socket kept;
//   unsubscribe; raw Engine.IO 4 over HTTP; heartbeats; two replicas fed by
//   one ingest; reconnection after a
//   gateway restart; clean SIGTERM exits.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, poll, sleep } from './lib/harness.mjs';
import { api } from './lib/http.mjs';
import { adminToken, venueToken } from './lib/jwt.mjs';
import {
  Gateway, Inbox, METRICS, METRICS_FIELD, NS, PollingSession, SioClients, Venue, ask, assertEnvelope, checkUpdate,
  clearOfMidnight, connectOutcome, connected, eio, liveAt, nextEmit, noVenueToken, primeBus, refusedTokens, subscribed,
  today, units, using, within,
} from './lib/gateway.mjs';

/** Live updates of a client (snapshots left out), each checked. */
function liveUpdates(c, venueId, from = 0) {
  const out = c.updates.items.slice(from).filter((u) => u.snapshot !== true);
  for (const u of out) checkUpdate(u, { venueId, snapshot: false });
  return out;
}

/** Waits for a client's snapshot of each metric in `metrics` (from index from). */
async function snapshots(c, metrics, from = 0) {
  const out = {};
  for (const m of metrics) {
    out[m] = await c.updates.waitFor((u) => u.type === m && u.snapshot === true, { from, what: `${m} snapshot` });
  }
  return out;
}

describe('realtime-gateway: Socket.IO', { timeout: 240000 }, () => {
  let w;
  let ingest;
  let gw;

  before(async () => {
    await clearOfMidnight();
    w = await IngestWorld.open('gw');
    ingest = await w.startIngest();
    gw = await Gateway.start(w, ingest);
    // Until the gateway's SUB has dialled ingest, nng drops what ingest publishes.
    await using(SioClients, async (cl) => {
      const warm = new Venue(w, 'warm');
      const c = await cl.connect(gw.nsUrl, adminToken(), {}, 'admin');
      await subscribed(c, { metrics: ['traffic'], venueId: warm.id }, warm.id);
      await primeBus(warm, c.updates);
    });
  });

  after(async () => {
    const errors = await w?.close();
    if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
  });

  describe('transports', () => {
    it('default options: polling, upgraded to websocket; updates flow after the upgrade', async () => {
      const v = new Venue(w, 'tr-default');
      await using(SioClients, async (cl) => {
        const c = cl.open(gw.nsUrl, { auth: { token: venueToken(v.id) } });
        const upgraded = nextEmit(c.socket.io.engine, 'upgrade');
        await connected(c);
        await subscribed(c, { metrics: ['sales'] }, v.id);
        const [transport] = await within(upgraded, 10000, 'engine "upgrade" event');
        assert.equal(transport.name, 'websocket');
        assert.equal(c.socket.io.engine.transport.name, 'websocket');
        const from = c.updates.length;
        await v.publish([v.purchase('12.50', 2), v.purchase(7, 1)]);
        await c.updates.waitFor(liveAt(v.id, 'sales', v.sales), { from, what: `sales == ${v.sales}` });
        assert.ok(liveUpdates(c, v.id, from).length >= 1);
        assert.equal(c.socket.io.engine.transport.name, 'websocket');
        assert.deepEqual(c.disconnects, []);
      });
    });

    it('transports: ["websocket"] only', async () => {
      const v = new Venue(w, 'tr-ws');
      await using(SioClients, async (cl) => {
        const c = await cl.connect(gw.nsUrl, venueToken(v.id), { transports: ['websocket'] });
        assert.equal(c.socket.io.engine.transport.name, 'websocket');
        await subscribed(c, { metrics: ['sales', 'traffic'] }, v.id);
        await v.publish([v.purchase('3.10', 4)]);
        await c.updates.waitFor(liveAt(v.id, 'sales', v.sales), { what: `sales == ${v.sales}` });
        await c.updates.waitFor(liveAt(v.id, 'traffic', v.traffic), { what: `traffic == ${v.traffic}` });
        liveUpdates(c, v.id);
      });
    });

    it('polling only (transports: ["polling"], upgrade: false)', async () => {
      const v = new Venue(w, 'tr-poll');
      await using(SioClients, async (cl) => {
        const c = await cl.connect(gw.nsUrl, venueToken(v.id), { transports: ['polling'], upgrade: false });
        await subscribed(c, { metrics: ['revenue', 'sales'] }, v.id);
        await v.publish([v.purchase('0.99', 3), v.purchase('100', 1)]);
        await c.updates.waitFor(liveAt(v.id, 'sales', v.sales), { what: `sales == ${v.sales}` });
        await c.updates.waitFor(liveAt(v.id, 'revenue', v.revenue), { what: `revenue == ${v.revenue} cents` });
        liveUpdates(c, v.id);
        assert.equal(c.socket.io.engine.transport.name, 'polling');
      });
    });
  });

  describe('authentication', () => {
    const venue = () => `${w.tag}-auth`;
    for (const name of Object.keys(refusedTokens('x'))) {
      it(`${name} -> connect_error "Authentication error: <reason>", data {code: UNAUTHORIZED, message: <reason>}`, async () => {
        await using(SioClients, async (cl) => {
          const token = refusedTokens(venue())[name];
          const c = cl.open(gw.nsUrl, token === null ? {} : { auth: { token } });
          const r = await connectOutcome(c.socket);
          assert.equal(r.connected, false, `${name}: connected`);
          const e = r.error;
          assert.ok(e.message.startsWith('Authentication error: '), `message: ${e.message}`);
          assert.equal(e.data?.code, 'UNAUTHORIZED', `data: ${JSON.stringify(e.data)}`);
          assert.equal(typeof e.data.message, 'string');
          assert.equal(e.message, `Authentication error: ${e.data.message}`);
        });
      });
    }

    it('a valid token with neither venueId nor the admin role -> connect_error {code: FORBIDDEN}', async () => {
      await using(SioClients, async (cl) => {
        const r = await connectOutcome(cl.open(gw.nsUrl, { auth: { token: noVenueToken() } }).socket);
        assert.equal(r.connected, false);
        assert.equal(r.error.data?.code, 'FORBIDDEN', `${r.error.message} ${JSON.stringify(r.error.data)}`);
        assert.ok(r.error.message.length > 0);
      });
    });

    it('after a connect_error the same socket connects with another token', async () => {
      await using(SioClients, async (cl) => {
        const c = cl.open(gw.nsUrl, { auth: { token: 'not-a-jwt' } });
        const r = await connectOutcome(c.socket);
        assert.equal(r.connected, false);
        c.socket.auth = { token: venueToken(venue()) };
        c.socket.connect();
        await connected(c, 'retry');
        await subscribed(c, { metrics: ['sales'] }, venue());
      });
    });

    const accepted = [
      ['Authorization header (polling handshake)', (t) => ({ extraHeaders: { Authorization: `Bearer ${t}` } })],
      ['Authorization header (websocket only)', (t) => ({ extraHeaders: { Authorization: `Bearer ${t}` }, transports: ['websocket'] })],
      ['?token= query', (t) => ({ query: { token: t } })],
      ['?token= query (websocket only)', (t) => ({ query: { token: t }, transports: ['websocket'] })],
    ];
    for (const [name, opts] of accepted) {
      it(`token from the ${name}: connected, scoped to its venue`, async () => {
        await using(SioClients, async (cl) => {
          const v = `${w.tag}-auth-${name.replace(/[^a-z]/gi, '')}`;
          const c = await connected(cl.open(gw.nsUrl, opts(venueToken(v))), name);
          await subscribed(c, { metrics: ['traffic'] }, v);
        });
      });
    }

    it('auth.token wins over the Authorization header', async () => {
      await using(SioClients, async (cl) => {
        const a = `${w.tag}-auth-first`;
        const b = `${w.tag}-auth-second`;
        const c = await connected(cl.open(gw.nsUrl, {
          auth: { token: venueToken(a) }, extraHeaders: { Authorization: `Bearer ${venueToken(b)}` },
        }));
        await subscribed(c, { metrics: ['sales'] }, a);
      });
    });
  });

  describe('tenancy', () => {
    it('updates reach only their venue\'s sockets; another venue -> FORBIDDEN; an admin names any venue', async () => {
      const A = new Venue(w, 'iso-a');
      const B = new Venue(w, 'iso-b');
      await using(SioClients, async (cl) => {
        const a1 = await cl.connect(gw.nsUrl, venueToken(A.id), {}, 'a1');
        const a2 = await cl.connect(gw.nsUrl, venueToken(A.id), { transports: ['websocket'] }, 'a2');
        const b1 = await cl.connect(gw.nsUrl, venueToken(B.id), {}, 'b1');
        const adm = await cl.connect(gw.nsUrl, adminToken(), {}, 'admin');
        for (const c of [a1, a2]) await subscribed(c, { metrics: ['sales', 'traffic'] }, A.id);
        await subscribed(b1, { metrics: ['sales', 'traffic'] }, B.id);
        await subscribed(adm, { metrics: ['sales', 'traffic'], venueId: B.id }, B.id);
        // Its own venue named explicitly is fine; another one is not.
        await subscribed(a1, { metrics: ['sales'], venueId: A.id }, A.id);
        const ack = await ask(a1, 'subscribe:metrics', { metrics: ['sales', 'revenue'], venueId: B.id });
        assertEnvelope(ack, 'FORBIDDEN', null, 'venue token naming another venue');

        await A.publish([A.purchase('20.00', 2), A.purchase('15.25', 1), A.scan()]);
        for (const c of [a1, a2]) {
          await c.updates.waitFor(liveAt(A.id, 'sales', A.sales), { what: `A sales == ${A.sales}` });
          await c.updates.waitFor(liveAt(A.id, 'traffic', A.traffic), { what: `A traffic == ${A.traffic}` });
        }
        // B's update published after A's: once it is in, A's would have been too.
        await B.publish([B.purchase('5.00', 1)]);
        for (const c of [b1, adm]) await c.updates.waitFor(liveAt(B.id, 'sales', B.sales), { what: `B sales == ${B.sales}` });
        await sleep(200);

        for (const c of [a1, a2]) liveUpdates(c, A.id);
        for (const c of [b1, adm]) liveUpdates(c, B.id);
        for (const [c, v] of [[a1, A.id], [a2, A.id], [b1, B.id], [adm, B.id]]) {
          const foreign = c.updates.items.filter((u) => u.venueId !== v);
          assert.deepEqual(foreign, [], `updates of another venue on a socket of ${v}`);
          assert.ok(!c.updates.items.some((u) => u.type === 'revenue'), 'revenue sent although never subscribed');
        }
      });
    });
  });

  describe('snapshot on subscribe', () => {
    let S;

    before(async () => {
      S = new Venue(w, 'snap');
      await S.publish([S.purchase('19.99', 3), S.purchase(0.07, 10), S.purchase('120', 1), S.refund('5.50'), S.scan(),
        S.purchase(45.5, 2)]);
      await S.waitRedis();
    });

    const assertSnapshots = async (c) => {
      await subscribed(c, { metrics: ['sales', 'revenue', 'traffic'] }, S.id);
      const snaps = await snapshots(c, METRICS);
      await sleep(300);
      assert.equal(c.updates.length, 3, `one update per metric: ${JSON.stringify(c.updates.items)}`);
      for (const m of METRICS) {
        const cur = checkUpdate(snaps[m], { venueId: S.id, snapshot: true });
        assert.equal(cur, S.expected(m), `${m} snapshot ${JSON.stringify(snaps[m])}; expected ${S.expected(m)} (cents for revenue)`);
      }
    };

    it('one metric:update per metric, snapshot: true, currentValue = the sums of the published events (Redis)', async () => {
      assert.equal(S.revenue, 5997n + 70n + 12000n - 550n + 9100n);
      assert.equal(S.sales, 16n);
      assert.equal(S.traffic, 6n);
      await using(SioClients, async (cl) => {
        await assertSnapshots(await cl.connect(gw.nsUrl, venueToken(S.id)));
      });
    });

    it('only newly subscribed metrics get a snapshot', async () => {
      await using(SioClients, async (cl) => {
        const c = await cl.connect(gw.nsUrl, adminToken());
        await subscribed(c, { metrics: ['sales'], venueId: S.id }, S.id);
        await snapshots(c, ['sales']);
        const from = c.updates.length;
        await subscribed(c, { metrics: ['sales', 'traffic'], venueId: S.id }, S.id);
        const { traffic } = await snapshots(c, ['traffic'], from);
        assert.equal(checkUpdate(traffic, { venueId: S.id, snapshot: true }), S.traffic);
        await sleep(300);
        assert.deepEqual(c.updates.items.map((u) => u.type), ['sales', 'traffic']);
      });
    });

    it('without a Redis counter the snapshot comes from PostgreSQL realtime_counters', async () => {
      await w.redis.command('DEL', `counter:${S.id}:${today()}`);
      await using(SioClients, async (cl) => {
        await assertSnapshots(await cl.connect(gw.nsUrl, venueToken(S.id)));
      });
    });

    it('a venue without events today gets snapshots of 0', async () => {
      await using(SioClients, async (cl) => {
        const v = `${w.tag}-snap-empty`;
        const c = await cl.connect(gw.nsUrl, venueToken(v));
        await subscribed(c, { metrics: METRICS }, v);
        const snaps = await snapshots(c, METRICS);
        for (const m of METRICS) assert.equal(checkUpdate(snaps[m], { venueId: v, snapshot: true }), 0n, m);
      });
    });
  });

  describe('live updates', () => {
    it('after RabbitMQ publications: consistent updates ending at the totals computed here', async () => {
      const U = new Venue(w, 'upd');
      await using(SioClients, async (cl) => {
        const c = await cl.connect(gw.nsUrl, venueToken(U.id));
        await subscribed(c, { metrics: METRICS }, U.id);
        // Three rounds, each waited for, so that ingest commits them as separate batches.
        await U.publish([U.purchase('25.50', 2), U.purchase(10, 1)]);
        await c.updates.waitFor(liveAt(U.id, 'traffic', U.traffic), { what: `traffic == ${U.traffic}` });
        await U.publish([U.refund('30.25')]);
        await c.updates.waitFor(liveAt(U.id, 'traffic', U.traffic), { what: `traffic == ${U.traffic}` });
        await U.publish([U.purchase('1.01', 7), U.scan(), U.purchase('0.05', 1)]);
        for (const m of METRICS) {
          await c.updates.waitFor(liveAt(U.id, m, U.expected(m)), { what: `${m} == ${U.expected(m)}` });
        }
        assert.deepEqual([U.revenue, U.sales, U.traffic], [6100n - 3025n + 707n + 5n, 11n, 6n]);

        const live = liveUpdates(c, U.id);
        for (const m of METRICS) {
          const last = live.filter((u) => u.type === m).at(-1);
          assert.equal(units(m, last.data.currentValue), U.expected(m), `last ${m} update ${JSON.stringify(last)}`);
        }
        const sales = live.filter((u) => u.type === 'sales').map((u) => u.data.currentValue);
        assert.deepEqual(sales, [...sales].sort((x, y) => x - y), `sales updates out of order: ${sales}`);
        const refund = live.find((u) => u.type === 'revenue' && u.data.change < 0);
        assert.ok(refund, `no revenue update for the refund: ${JSON.stringify(live)}`);
        assert.deepEqual([units('revenue', refund.data.change), units('revenue', refund.data.previousValue), refund.data.trend],
          [-3025n, 6100n, 'down']);
        assert.equal(refund.data.changePercent, -49.5902);
      });
    });

    it('a change of yesterday\'s counter is not forwarded', async () => {
      const Y = new Venue(w, 'late');
      await using(SioClients, async (cl) => {
        const c = await cl.connect(gw.nsUrl, venueToken(Y.id));
        await subscribed(c, { metrics: METRICS }, Y.id);
        const late = Y.purchase('40.00', 1, { occurredMs: Date.now() - 86400000 });
        await Y.publish([late]);
        const stored = await poll(async () => (await w.pool.query('SELECT 1 FROM raw_event_ids WHERE id = $1', [late.id])).rowCount,
          (n) => n === 1, { timeoutMs: 20000 });
        assert.ok(stored.ok, `the late event ${late.id} was not stored`);
        await Y.publish([Y.scan()]);
        await c.updates.waitFor(liveAt(Y.id, 'traffic', 1n), { what: 'traffic == 1 (today)' });
        const other = c.updates.items.filter((u) => u.day !== today());
        assert.deepEqual(other, [], 'updates of another day than today');
        assert.ok(!c.updates.items.some((u) => u.snapshot !== true && u.type !== 'traffic'), JSON.stringify(c.updates.items));
      });
    });
  });

  describe('subscribe validation and unsubscribe', () => {
    it('unknown metric, metrics not an array, empty, missing -> VALIDATION_ERROR on metrics; socket kept; nothing changed', async () => {
      const V = new Venue(w, 'val');
      await using(SioClients, async (cl) => {
        const c = await cl.connect(gw.nsUrl, venueToken(V.id));
        await subscribed(c, { metrics: ['sales'] }, V.id);
        const bad = [{ metrics: ['tickets'] }, { metrics: 'sales' }, { metrics: [] }, {}, { metrics: ['traffic', 'bogus'] },
          { metrics: ['sales', 42] }];
        for (const payload of bad) {
          const ack = await ask(c, 'subscribe:metrics', payload);
          assertEnvelope(ack, 'VALIDATION_ERROR', METRICS_FIELD, `subscribe ${JSON.stringify(payload)}`);
          assert.equal(c.socket.connected, true, `disconnected after ${JSON.stringify(payload)}`);
        }
        // Without an acknowledgement: an error:metrics event.
        c.socket.emit('subscribe:metrics', { metrics: ['nope'] });
        const e = await c.errors.waitFor(() => true, { what: 'error:metrics event' });
        assertEnvelope(e, 'VALIDATION_ERROR', METRICS_FIELD, 'error:metrics');
        // traffic was in a refused list: still not subscribed.
        const un = await ask(c, 'unsubscribe:metrics', { metrics: ['revenue'] });
        assert.deepEqual(un, { success: true, data: { venueId: V.id, metrics: ['sales'] } });
        await V.publish([V.purchase('2.00', 5)]);
        await c.updates.waitFor(liveAt(V.id, 'sales', V.sales), { what: `sales == ${V.sales}` });
        await sleep(200);
        assert.deepEqual([...new Set(c.updates.items.map((u) => u.type))], ['sales']);
        assert.deepEqual(c.disconnects, []);
      });
    });

    it('an admin token without venueId naming no venue -> VALIDATION_ERROR on venueId', async () => {
      await using(SioClients, async (cl) => {
        const c = await cl.connect(gw.nsUrl, adminToken());
        const ack = await ask(c, 'subscribe:metrics', { metrics: ['sales'] });
        assertEnvelope(ack, 'VALIDATION_ERROR', 'venueId', 'admin without venueId');
        assert.equal(c.socket.connected, true);
      });
    });

    it('unsubscribe stops that metric only; without metrics it stops all', async () => {
      const X = new Venue(w, 'unsub');
      await using(SioClients, async (cl) => {
        const c = await cl.connect(gw.nsUrl, venueToken(X.id));
        const watch = await cl.connect(gw.nsUrl, venueToken(X.id));
        await subscribed(c, { metrics: ['sales', 'traffic'] }, X.id);
        await subscribed(watch, { metrics: ['sales', 'traffic'] }, X.id);
        await snapshots(c, ['sales', 'traffic']);
        const un = await ask(c, 'unsubscribe:metrics', { metrics: ['sales'] });
        assert.deepEqual(un, { success: true, data: { venueId: X.id, metrics: ['traffic'] } });
        let from = c.updates.length;
        await X.publish([X.purchase('12.00', 2)]);
        // ingest publishes sales before traffic: once traffic is in, sales would be too.
        await c.updates.waitFor(liveAt(X.id, 'traffic', X.traffic), { from, what: `traffic == ${X.traffic}` });
        await watch.updates.waitFor(liveAt(X.id, 'sales', X.sales), { what: 'sales on the other socket' });
        assert.deepEqual(c.updates.items.slice(from).map((u) => u.type), ['traffic']);

        const all = await ask(c, 'unsubscribe:metrics', {});
        // Nothing left subscribed: the venue may be named or null.
        assert.deepEqual(all, { success: true, data: { venueId: all?.data?.venueId === null ? null : X.id, metrics: [] } });
        from = c.updates.length;
        await X.publish([X.purchase('1.00', 1)]);
        await watch.updates.waitFor(liveAt(X.id, 'traffic', X.traffic), { what: 'traffic on the other socket' });
        await sleep(300);
        assert.deepEqual(c.updates.items.slice(from), []);
        assert.equal(c.socket.connected, true);
      });
    });
  });

  describe('raw Engine.IO 4 over HTTP', () => {
    it('GET /socket.io/?EIO=4&transport=polling -> 0{sid, upgrades:[websocket], pingInterval, pingTimeout, maxPayload}', async () => {
      const r = await eio(gw.base, 'EIO=4&transport=polling');
      assert.equal(r.status, 200, r.text);
      assert.ok(r.text.startsWith('0{'), r.text);
      const open = JSON.parse(r.text.slice(1));
      assert.equal(typeof open.sid, 'string');
      assert.ok(open.sid.length > 0);
      assert.deepEqual({ ...open, sid: 'x' }, { sid: 'x', upgrades: ['websocket'], pingInterval: 25000, pingTimeout: 20000, maxPayload: 65536 });
      const close = await eio(gw.base, `EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`, { method: 'POST', body: '1' });
      assert.equal(close.status, 200, close.text);
    });

    for (const [what, q, code] of [['EIO=3', 'EIO=3&transport=polling', 5], ['unknown transport', 'EIO=4&transport=carrier-pigeon', 0]]) {
      it(`${what} -> 400 {code: ${code}, message}`, async () => {
        const r = await eio(gw.base, q);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json?.code, code, r.text);
        assert.equal(typeof r.json.message, 'string', r.text);
      });
    }

    it('unknown sid -> 400 {code: 1, message: "Session ID unknown"}', async () => {
      const r = await eio(gw.base, 'EIO=4&transport=polling&sid=no-such-session-0123456789');
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.json, { code: 1, message: 'Session ID unknown' });
      const p = await eio(gw.base, 'EIO=4&transport=polling&sid=no-such-session-0123456789', { method: 'POST', body: '3' });
      assert.equal(p.status, 400, p.text);
      assert.deepEqual(p.json, { code: 1, message: 'Session ID unknown' });
    });

    it('Socket.IO 5 packets: CONNECT refused then accepted on the same session, subscribe acknowledged, snapshot, close', async () => {
      const v = `${w.tag}-raw`;
      const s = await PollingSession.open(gw.base);
      await s.post([`40${NS},${JSON.stringify({ token: 'not-a-jwt' })}`]);
      const [err] = await s.receive((l) => l.length >= 1);
      assert.equal(err?.type, 4, JSON.stringify(err));
      assert.equal(err.nsp, NS);
      assert.ok(err.data.message.startsWith('Authentication error: '), JSON.stringify(err));
      assert.equal(err.data.data?.code, 'UNAUTHORIZED', JSON.stringify(err));

      await s.post([`40${NS},${JSON.stringify({ token: venueToken(v) })}`]);
      const [ok] = await s.receive((l) => l.length >= 1);
      assert.equal(ok?.type, 0, JSON.stringify(ok));
      assert.equal(ok.nsp, NS);
      assert.equal(typeof ok.data?.sid, 'string', JSON.stringify(ok));

      await s.post([`42${NS},7${JSON.stringify(['subscribe:metrics', { metrics: ['traffic'] }])}`]);
      const got = await s.receive((l) => l.some((p) => p.type === 3) && l.some((p) => p.type === 2));
      const ack = got.find((p) => p.type === 3);
      assert.deepEqual(ack, { type: 3, nsp: NS, id: 7, data: [{ success: true, data: { venueId: v, metrics: ['traffic'] } }] });
      const ev = got.find((p) => p.type === 2);
      assert.equal(ev.nsp, NS);
      assert.equal(ev.data[0], 'metric:update');
      assert.equal(checkUpdate(ev.data[1], { venueId: v, snapshot: true }), 0n);

      await s.post(['1']);
      const r = await eio(gw.base, s.q);
      assert.equal(r.status, 400, `GET after close: ${r.text}`);
      assert.deepEqual(r.json, { code: 1, message: 'Session ID unknown' });
    });
  });

  it('a polling session closed while a packet is still queued behind a delivered one: the gateway keeps running', async () => {
    const own = await Gateway.start(w, ingest);
    try {
      const s = await PollingSession.open(own.base);
      await s.post([`40${NS},${JSON.stringify({ token: venueToken(`${w.tag}-raw-close`) })}`]);
      await s.receive((l) => l.length >= 1); // the CONNECT answer is taken: the send queue's head moves on
      await s.post([`42${NS},1${JSON.stringify(['subscribe:metrics', { metrics: ['tickets'] }])}`]); // its ack stays queued
      await s.post(['1']);
      await sleep(1000); // closed sessions are freed by the 100 ms ticker
      const r = await eio(own.base, 'EIO=4&transport=polling');
      assert.equal(r.status, 200, r.text);
      await own.svc.stopClean({ timeoutMs: 20000 });
    } finally {
      await own.svc.shutdown();
    }
  });

  describe('heartbeats (GATEWAY_PING_INTERVAL_MS=1000, GATEWAY_PING_TIMEOUT_MS=2000)', () => {
    let hb;

    before(async () => {
      hb = await Gateway.start(w, ingest, { GATEWAY_PING_INTERVAL_MS: '1000', GATEWAY_PING_TIMEOUT_MS: '2000' });
    });

    it('the handshake announces pingInterval 1000, pingTimeout 2000', async () => {
      const s = await PollingSession.open(hb.base);
      assert.equal(s.open.pingInterval, 1000);
      assert.equal(s.open.pingTimeout, 2000);
      await s.post(['1']);
    });

    it('idle sockets on each transport stay connected for five intervals and then still get updates', async () => {
      const H = new Venue(w, 'hb');
      await using(SioClients, async (cl) => {
        const token = venueToken(H.id);
        const clients = [
          cl.open(hb.nsUrl, { auth: { token } }),
          cl.open(hb.nsUrl, { auth: { token }, transports: ['websocket'] }),
          cl.open(hb.nsUrl, { auth: { token }, transports: ['polling'], upgrade: false }),
        ];
        const pings = clients.map(() => 0);
        clients.forEach((c, i) => c.socket.io.on('ping', () => pings[i]++));
        for (const [i, c] of clients.entries()) {
          await connected(c, `client ${i}`);
          await subscribed(c, { metrics: ['traffic'] }, H.id);
        }
        await sleep(5500);
        assert.deepEqual(clients.map((c) => c.disconnects), [[], [], []]);
        assert.deepEqual(clients.map((c) => c.socket.connected), [true, true, true]);
        assert.ok(pings.every((n) => n >= 4), `pings seen by each client in 5.5 s: ${pings}`);
        await primeBus(H, clients[0].updates);
        for (const c of clients) await c.updates.waitFor(liveAt(H.id, 'traffic', H.traffic), { what: `traffic == ${H.traffic}` });
      });
    });

    it('a polling session that never answers a ping is closed after pingInterval + pingTimeout', async () => {
      const s = await PollingSession.open(hb.base);
      await sleep(1000 + 2000 + 1500);
      const r = await eio(hb.base, s.q);
      assert.equal(r.status, 400, `GET 4.5 s after the handshake, no pong sent: HTTP ${r.status} ${r.text}`);
      assert.deepEqual(r.json, { code: 1, message: 'Session ID unknown' });
    });

    it('SIGTERM: exit code 0, no sanitizer report', async () => {
      await hb.svc.stopClean({ timeoutMs: 20000 });
    });
  });

  it('two gateway replicas fed by the same ingest: a client on each gets every update of its venue', async () => {
    const second = await Gateway.start(w, ingest);
    const T = new Venue(w, 'replicas');
    try {
      await using(SioClients, async (cl) => {
        const a = await cl.connect(gw.nsUrl, venueToken(T.id), { transports: ['websocket'] });
        const b = await cl.connect(second.nsUrl, venueToken(T.id));
        await subscribed(a, { metrics: ['sales', 'traffic'] }, T.id);
        await subscribed(b, { metrics: ['sales', 'traffic'] }, T.id);
        await primeBus(T, b.updates);   // the new replica's SUB has dialled ingest
        const [fa, fb] = [a.updates.length, b.updates.length];
        await T.publish([T.purchase('8.00', 3), T.purchase('1.50', 2)]);
        await a.updates.waitFor(liveAt(T.id, 'sales', T.sales), { from: fa, what: `replica 1: sales == ${T.sales}` });
        await b.updates.waitFor(liveAt(T.id, 'sales', T.sales), { from: fb, what: `replica 2: sales == ${T.sales}` });
        await a.updates.waitFor(liveAt(T.id, 'traffic', T.traffic), { from: fa, what: `replica 1: traffic == ${T.traffic}` });
        await b.updates.waitFor(liveAt(T.id, 'traffic', T.traffic), { from: fb, what: `replica 2: traffic == ${T.traffic}` });
        liveUpdates(a, T.id);
        liveUpdates(b, T.id);
      });
      await second.svc.stopClean({ timeoutMs: 20000 });
    } finally {
      await second.svc.shutdown();
    }
  });

  it('health endpoints on GATEWAY_HEALTH_PORT', async () => {
    const health = api(`http://127.0.0.1:${gw.healthPort}`);
    const [h, ready, metrics] = [await health.get('/health'), await health.get('/health/ready'), await health.get('/metrics')];
    assert.deepEqual([h.status, h.json], [200, { success: true, data: { status: 'ok' } }], h.text);
    assert.deepEqual([ready.status, ready.json?.data?.status], [200, 'ready'], ready.text);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers['content-type'] ?? '', /^text\/plain/);
  });

  it('a gateway restart: the client reconnects by itself, re-subscribes on connect, and gets updates again', async () => {
    const R = new Venue(w, 'restart');
    await using(SioClients, async (cl) => {
      const c = cl.open(gw.nsUrl, { auth: { token: venueToken(R.id) } });
      const acks = new Inbox('subscribe acks');
      let connects = 0;
      // As a frontend does: (re-)subscribe on every connect.
      c.socket.on('connect', () => {
        connects++;
        ask(c, 'subscribe:metrics', { metrics: ['sales', 'traffic'] }).then((a) => acks.push(a), (e) => acks.push({ askError: e.message }));
    });
    await connected(c);
    await acks.waitFor((a) => a.success === true, { what: 'first subscribe ack' });
    await R.publish([R.purchase('9.99', 2)]);
    await c.updates.waitFor(liveAt(R.id, 'sales', R.sales), { what: `sales == ${R.sales}` });
    const engineId = c.socket.io.engine.id;

    await gw.restart();
    const from = c.updates.length;
    const ack = await acks.waitFor(() => true, { from: 1, timeoutMs: 30000, what: 'a subscribe ack after the restart' });
    assert.equal(ack.success, true, JSON.stringify(ack));
    assert.equal(connects, 2);
    assert.equal(c.disconnects.length, 1, `disconnects: ${c.disconnects}`);
    assert.ok(['transport close', 'transport error', 'ping timeout'].includes(c.disconnects[0]),
      `disconnect reason ${c.disconnects[0]}: "io server disconnect" (a DISCONNECT packet) stops socket.io-client from reconnecting`);
    assert.notEqual(c.socket.io.engine.id, engineId);
    const snap = await c.updates.waitFor((u) => u.type === 'sales' && u.snapshot === true, { from, what: 'sales snapshot after the restart' });
    assert.equal(checkUpdate(snap, { venueId: R.id, snapshot: true }), R.sales);

    await primeBus(R, c.updates);
    await R.publish([R.purchase('3.00', 4)]);
    await c.updates.waitFor(liveAt(R.id, 'sales', R.sales), { from, what: `sales == ${R.sales} after the restart` });
    liveUpdates(c, R.id);
    });
  });

  it('SIGTERM: exit code 0, no sanitizer report', async () => {
    await gw.svc.stopClean({ timeoutMs: 20000 });
  });
});
