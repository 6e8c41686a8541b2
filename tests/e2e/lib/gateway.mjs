// gateway.mjs - what the realtime-gateway tests share: start (and restart)
// the gateway beside a test's ingest, a per-venue model of the counters
// computed here from the events the test publishes, the checks every
// metric:update must pass (docs/realtime-gateway.md, proto/nng.md), an inbox
// to wait on with a timeout, Socket.IO and plain WebSocket clients that are
// always closed, and raw Engine.IO polling requests.
import assert from 'node:assert/strict';
import { once } from 'node:events';

import { io } from 'socket.io-client';
import WebSocket from 'ws';

import { Service, freePort, poll, sleep } from './harness.mjs';
import { parseCents, utcDay } from './events.mjs';
import { mintToken, tamper, venueToken } from './jwt.mjs';

export const NS = '/analytics/realtime';
export const METRICS = ['revenue', 'sales', 'traffic'];
/** details[].field of a refused metrics list: the list, or the refused element (metrics[1]). */
export const METRICS_FIELD = /^metrics(\[\d+\])?$/;

// ---------------------------------------------------------------- gateway

/**
 * One realtime-gateway, registered in world.services (closed with the world).
 * restart() stops it with SIGTERM (asserting a clean exit) and starts a new
 * process with the same environment, on the same ports.
 */
export class Gateway {
  static async start(world, ingest, env = {}) {
    const g = new Gateway();
    g.world = world;
    g.port = await freePort();
    g.healthPort = await freePort();
    g.env = {
      WEBSOCKET_PORT: String(g.port),
      GATEWAY_HEALTH_PORT: String(g.healthPort),
      NNG_SUB_URLS: ingest.env.NNG_PUB_URL,
      LOG_LEVEL: 'info',
      ...env,
    };
    await g.#spawn();
    return g;
  }

  async #spawn() {
    this.svc = new Service('realtime-gateway', { env: this.env, healthPort: this.healthPort });
    this.world.services.push(this.svc);
    this.svc.start();
    await this.svc.waitReady({ timeoutMs: 30000 });
  }

  async restart() {
    const r = await this.svc.stopClean({ timeoutMs: 20000 });
    await this.#spawn();
    return r;
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  get nsUrl() {
    return `${this.base}${NS}`;
  }

  get wsUrl() {
    return `ws://127.0.0.1:${this.port}${NS}`;
  }
}

// ------------------------------------------------------------------ model

/** Today's UTC day. */
export const today = () => utcDay(Date.now());

/**
 * Waits until at least marginMs remain before the next UTC midnight, so that
 * every event a test file publishes as "now" counts for the day the gateway
 * calls today.
 */
export async function clearOfMidnight(marginMs = 120000) {
  const now = Date.now();
  const next = Date.parse(`${utcDay(now)}T00:00:00.000Z`) + 86400000;
  if (next - now < marginMs) await sleep(next - now + 2000);
}

/**
 * A venue of the test (id `${tag}-${name}`), the events published for it and
 * today's counters they must give: revenue in BigInt cents (from the decimal
 * text put in the JSON), sales, traffic.
 */
export class Venue {
  constructor(world, name) {
    this.w = world;
    this.id = `${world.tag}-${name}`;
    this.revenue = 0n;
    this.sales = 0n;
    this.traffic = 0n;
    this.seq = 0;
  }

  #event(type, data, occurredMs) {
    const id = `${this.id}-e${++this.seq}`;
    const env = { id, type, occurredAt: new Date(occurredMs).toISOString(), venueId: this.id, data };
    if (utcDay(occurredMs) === today()) this.traffic += 1n;
    return { id, routingKey: type, body: JSON.stringify(env) };
  }

  /** ticket.purchased of quantity tickets at price (a decimal string or a JSON number). */
  purchase(price, quantity = 1, { occurredMs = Date.now() } = {}) {
    const n = this.seq + 1;
    const data = { ticketId: `${this.id}-t${n}`, orderId: `${this.id}-o${n}`, price, quantity, currency: 'USD' };
    const m = this.#event('ticket.purchased', data, occurredMs);
    if (utcDay(occurredMs) === today()) {
      this.revenue += parseCents(typeof price === 'number' ? JSON.stringify(price) : price) * BigInt(quantity);
      this.sales += BigInt(quantity);
    }
    return m;
  }

  /** ticket.refunded of amount. */
  refund(amount) {
    const n = this.seq + 1;
    const m = this.#event('ticket.refunded', { ticketId: `${this.id}-t${n}`, orderId: `${this.id}-o${n}`, amount }, Date.now());
    this.revenue -= parseCents(typeof amount === 'number' ? JSON.stringify(amount) : amount);
    return m;
  }

  /** ticket.scanned: traffic only. */
  scan() {
    return this.#event('ticket.scanned', { ticketId: `${this.id}-t${this.seq + 1}`, gate: 'A' }, Date.now());
  }

  async publish(msgs) {
    await this.w.pub.publish(this.w.names.exchange, msgs);
    assert.equal(this.w.pub.returned.length, 0, 'messages returned unroutable by the broker');
  }

  /** Waits until Redis counter:{venue}:{today} holds the model's values: ingest has stored everything. */
  async waitRedis(timeoutMs = 20000) {
    const key = `counter:${this.id}:${today()}`;
    const want = this.redisHash();
    const r = await poll(async () => (await this.w.redis.hgetall(key)) ?? {},
      (h) => h.revenue_cents === want.revenue_cents && h.sales === want.sales && h.traffic === want.traffic,
      { timeoutMs, intervalMs: 100 });
    assert.ok(r.ok, `Redis ${key} ${JSON.stringify(r.value)}, expected ${JSON.stringify(want)}`);
  }

  /** The expected current value of a metric: BigInt (cents for revenue). */
  expected(type) {
    return { revenue: this.revenue, sales: this.sales, traffic: this.traffic }[type];
  }

  /** Today's Redis counter hash as ingest writes it, from the model. */
  redisHash() {
    return { revenue_cents: String(this.revenue), sales: String(this.sales), traffic: String(this.traffic) };
  }
}

// ----------------------------------------------------------------- tokens

/**
 * Tokens of venueId the gateway must refuse as UNAUTHORIZED, by name (null:
 * no token at all).
 */
export function refusedTokens(venueId) {
  return {
    'no token': null,
    garbage: 'not-a-jwt',
    'wrong signature': venueToken(venueId, {}, { secret: 'not-the-secret' }),
    expired: venueToken(venueId, {}, { ttl: -120 }),
    'alg none': venueToken(venueId, {}, { alg: 'none' }),
    HS512: venueToken(venueId, {}, { alg: 'HS512' }),
    'tampered payload': tamper(venueToken(venueId), { userId: 'x', venueId: `${venueId}-other`, role: 'admin' }),
  };
}

/** A valid token with neither a venueId nor the admin role (FORBIDDEN). */
export const noVenueToken = () => mintToken({ userId: 'no-venue', role: 'user', permissions: ['analytics.read'] });

// ---------------------------------------------------------------- updates

/**
 * A metric value as BigInt units (cents for revenue); asserts the number has
 * the form proto/nng.md promises (an integer, or at most two decimals).
 */
export function units(type, v, what = '') {
  assert.equal(typeof v, 'number', `${what}: ${type} value ${JSON.stringify(v)} is not a JSON number`);
  if (type === 'revenue') {
    const c = Math.round(v * 100);
    assert.ok(Math.abs(v * 100 - c) < 1e-6, `${what}: revenue ${v} has more than two decimals`);
    return BigInt(c);
  }
  assert.ok(Number.isInteger(v), `${what}: ${type} value ${v} is not an integer`);
  return BigInt(v);
}

const UPDATE_KEYS = new Set(['type', 'venueId', 'day', 'data', 'snapshot']);
const DATA_KEYS = ['currentValue', 'previousValue', 'change', 'changePercent', 'trend'];

/**
 * Asserts that a metric:update payload is well formed and consistent:
 * previousValue + change == currentValue (exact, in units), trend the sign of
 * change, changePercent = change*100/previousValue to four decimals (0 when
 * previousValue <= 0), and for a snapshot change 0, previous == current,
 * trend stable. venueId/day: the values it must carry. Returns the current
 * value in units.
 */
export function checkUpdate(u, { venueId, day = today(), snapshot } = {}) {
  const what = `metric:update ${JSON.stringify(u)}`;
  assert.ok(u && typeof u === 'object', what);
  for (const k of ['type', 'venueId', 'day', 'data']) assert.ok(k in u, `${what}: no ${k}`);
  for (const k of Object.keys(u)) assert.ok(UPDATE_KEYS.has(k), `${what}: unexpected member ${k}`);
  assert.ok(METRICS.includes(u.type), `${what}: type`);
  if (venueId !== undefined) assert.equal(u.venueId, venueId, `${what}: venueId`);
  if (day !== undefined) assert.equal(u.day, day, `${what}: day (today, UTC)`);
  if (snapshot === true) assert.equal(u.snapshot, true, `${what}: snapshot must be true`);
  if (snapshot === false) assert.ok(u.snapshot === undefined || u.snapshot === false, `${what}: a live update marked snapshot`);
  assert.deepEqual(Object.keys(u.data).sort(), [...DATA_KEYS].sort(), `${what}: data members`);
  const cur = units(u.type, u.data.currentValue, what);
  const prev = units(u.type, u.data.previousValue, what);
  const ch = units(u.type, u.data.change, what);
  assert.equal(prev + ch, cur, `${what}: previousValue + change != currentValue`);
  assert.equal(u.data.trend, ch > 0n ? 'up' : ch < 0n ? 'down' : 'stable', `${what}: trend`);
  assert.equal(typeof u.data.changePercent, 'number', `${what}: changePercent`);
  const pct = prev > 0n ? (Number(ch) * 100) / Number(prev) : 0;
  assert.ok(Math.abs(u.data.changePercent - pct) <= 0.00005 + 1e-9,
    `${what}: changePercent ${u.data.changePercent}, expected ${pct.toFixed(4)}`);
  if (u.snapshot === true) {
    assert.equal(ch, 0n, `${what}: a snapshot has change 0`);
    assert.equal(u.data.changePercent, 0, `${what}: a snapshot has changePercent 0`);
  }
  return cur;
}

/** True for a live (not snapshot) update of venue/type whose current value is `value` units. */
export const liveAt = (venueId, type, value) => (u) =>
  u && u.venueId === venueId && u.type === type && u.snapshot !== true && u.data && typeof u.data.currentValue === 'number' &&
  (type === 'revenue' ? BigInt(Math.round(u.data.currentValue * 100)) : BigInt(Math.trunc(u.data.currentValue))) === value;

// ------------------------------------------------------------------ inbox

/** Messages as they arrive, and waits for one matching a predicate, with a timeout. */
export class Inbox {
  constructor(name = 'inbox') {
    this.name = name;
    this.items = [];
    this.waiters = new Set();
  }

  push(x) {
    this.items.push(x);
    for (const w of [...this.waiters]) w();
  }

  /** Resolves with the first item at index >= from matching pred; rejects after timeoutMs. */
  waitFor(pred, { timeoutMs = 10000, from = 0, what = 'a matching message' } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        for (let i = from; i < this.items.length; i++) {
          if (pred(this.items[i])) {
            clearTimeout(timer);
            this.waiters.delete(check);
            resolve(this.items[i]);
            return true;
          }
        }
        return false;
      };
      if (check()) return;
      timer = setTimeout(() => {
        this.waiters.delete(check);
        const got = JSON.stringify(this.items.slice(from));
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; received ${this.items.length - from}: ${got.slice(-3000)}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Like waitFor, but resolves null on timeout. */
  async maybe(pred, timeoutMs, from = 0) {
    try {
      return await this.waitFor(pred, { timeoutMs, from });
    } catch {
      return null;
    }
  }

  get length() {
    return this.items.length;
  }
}

/**
 * nng is lossy until the gateway's SUB has dialled ingest: publishes scans
 * for venue until the inbox shows a live traffic update for it (one probe a
 * second, up to `tries`). Returns the number of probes.
 */
export async function primeBus(venue, inbox, { tries = 30 } = {}) {
  for (let i = 1; i <= tries; i++) {
    const from = inbox.length;
    await venue.publish([venue.scan()]);
    const u = await inbox.maybe((x) => x && x.venueId === venue.id && x.type === 'traffic' && x.snapshot !== true, 1000, from);
    if (u) return i;
  }
  assert.fail(`no live update for ${venue.id} after ${tries} probes: the gateway does not receive ingest's nng messages`);
}

// -------------------------------------------------------------- Socket.IO

/** Runs fn(clients) with a new SioClients or WsClients, closed afterwards. */
export async function using(Clients, fn) {
  const cl = new Clients();
  try {
    return await fn(cl);
  } finally {
    cl.close();
  }
}

/**
 * Socket.IO clients opened by a test; close() disconnects every one of them
 * (stops reconnection too). Each client: {socket, updates, errors, events,
 * disconnects, acks}.
 */
export class SioClients {
  constructor() {
    this.list = [];
  }

  open(url, opts = {}) {
    const socket = io(url, { forceNew: true, ...opts });
    const c = { socket, updates: new Inbox('metric:update'), errors: new Inbox('error:metrics'), disconnects: [] };
    socket.on('metric:update', (u) => c.updates.push(u));
    socket.on('error:metrics', (e) => c.errors.push(e));
    socket.on('disconnect', (reason) => c.disconnects.push(reason));
    this.list.push(c);
    return c;
  }

  /** Opens url with auth {token} (and opts) and waits for 'connect'. */
  connect(url, token, opts = {}, what = 'connect') {
    return connected(this.open(url, { auth: { token }, ...opts }), what);
  }

  close() {
    for (const c of this.list) {
      c.socket.removeAllListeners();
      c.socket.disconnect();
      c.socket.io.engine?.close();
    }
    this.list = [];
  }
}

/**
 * Resolves 'connect' (true) or the connect_error's Error (as {error}); rejects
 * after timeoutMs.
 */
export function connectOutcome(socket, timeoutMs = 10000) {
  if (socket.connected) return Promise.resolve({ connected: true });
  return new Promise((resolve, reject) => {
    const done = (v) => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      resolve(v);
    };
    const onConnect = () => done({ connected: true });
    const onError = (error) => done({ connected: false, error });
    const timer = setTimeout(() => {
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      reject(new Error(`neither connect nor connect_error within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** Connects and asserts success. */
export async function connected(c, what = 'connect') {
  const r = await connectOutcome(c.socket);
  assert.ok(r.connected, `${what}: connect_error ${r.error?.message} ${JSON.stringify(r.error?.data)}`);
  return c;
}

/** Emits with an acknowledgement (5 s). */
export function ask(c, event, payload, timeoutMs = 5000) {
  return c.socket.timeout(timeoutMs).emitWithAck(event, payload);
}

/** subscribe:metrics and assert {success:true, data:{venueId}}; returns the ack. */
export async function subscribed(c, payload, venueId) {
  const ack = await ask(c, 'subscribe:metrics', payload);
  assert.equal(ack?.success, true, `subscribe ${JSON.stringify(payload)}: ack ${JSON.stringify(ack)}`);
  assert.equal(ack.data?.venueId, venueId, `subscribe ${JSON.stringify(payload)}: ack ${JSON.stringify(ack)}`);
  for (const m of payload.metrics) assert.ok(ack.data.metrics?.includes(m), `ack ${JSON.stringify(ack)} lacks ${m}`);
  return ack;
}

/**
 * The REST error envelope {success:false, error, code[, details]}; field (a
 * string, or a RegExp for a family such as metrics / metrics[1]) must be named
 * by one of the details.
 */
export function assertEnvelope(e, code, field, what) {
  const where = `${what}: ${JSON.stringify(e)}`;
  assert.ok(e && typeof e === 'object', where);
  assert.equal(e.success, false, where);
  assert.equal(typeof e.error, 'string', where);
  assert.ok(e.error.length > 0, where);
  assert.equal(e.code, code, where);
  if (field) {
    assert.ok(Array.isArray(e.details) && e.details.length > 0, `${where}: details`);
    for (const d of e.details) {
      assert.equal(typeof d.field, 'string', `${where}: details[].field`);
      assert.equal(typeof d.message, 'string', `${where}: details[].message`);
    }
    const named = typeof field === 'string' ? (f) => f === field : (f) => field.test(f);
    assert.ok(e.details.some((d) => named(d.field)), `${where}: no detail for ${field}`);
  }
}

/** JSON.parse(text), or undefined when text is not JSON. */
function jsonOrUndefined(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------- plain WebSocket

/**
 * A plain WebSocket client: frames (parsed JSON, with the raw text as .raw),
 * pings seen, and `closed` ({code, reason}) once the connection ends.
 */
export class WsClient {
  constructor(url, opts = {}) {
    this.ws = new WebSocket(url, opts);
    this.frames = new Inbox(`ws ${url}`);
    this.updates = new Inbox(`ws ${url} metric:update`);
    this.pings = 0;
    this.ws.on('message', (buf, isBinary) => {
      const raw = buf.toString('utf8');
      const f = jsonOrUndefined(raw) ?? { unparsable: true };
      this.frames.push({ ...f, raw, isBinary });
      if (f.event === 'metric:update') this.updates.push(f.data);
    });
    this.ws.on('ping', () => this.pings++);
    this.ws.on('error', (err) => {
      this.error = err;
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  /** Resolves when open; rejects on error, refusal or after timeoutMs. */
  async open(timeoutMs = 5000) {
    const r = await Promise.race([
      once(this.ws, 'open').then(() => 'open'),
      once(this.ws, 'unexpected-response').then(([, res]) => `HTTP ${res.statusCode}`),
      this.closed.then((c) => `closed ${c.code}`),
      sleep(timeoutMs, 'timeout', { ref: false }),
    ]);
    assert.equal(r, 'open', `WebSocket not opened: ${r} ${this.error?.message ?? ''}`);
    return this;
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  /** Frame of event `event` at index >= from matching pred. */
  next(event, pred = () => true, opts = {}) {
    return this.frames.waitFor((f) => f.event === event && pred(f.data), { what: `${event} frame`, ...opts });
  }

  close() {
    this.ws.terminate();
  }
}

/** The plain WebSocket clients of a test; close() terminates them all. */
export class WsClients {
  constructor() {
    this.list = [];
  }

  /** Opens url with `Authorization: Bearer token` (none when token is null) and waits for the connected frame. */
  async open(url, token, opts = {}) {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const c = new WsClient(url, { ...opts, headers: { ...headers, ...(opts.headers ?? {}) } });
    this.list.push(c);
    await c.open();
    await c.next('connected');
    return c;
  }

  close() {
    for (const c of this.list) c.close();
    this.list = [];
  }
}

/**
 * An upgrade the gateway must refuse: resolves {status, body, json} from the
 * 'unexpected-response' event (or fails when the connection opened).
 */
export async function wsRefusal(url, opts = {}, timeoutMs = 5000) {
  const ws = new WebSocket(url, opts);
  ws.on('error', () => {});
  try {
    const r = await Promise.race([
      once(ws, 'unexpected-response').then(async ([, res]) => {
        const chunks = [];
        for await (const ch of res) chunks.push(ch);
        const body = Buffer.concat(chunks).toString('utf8');
        return { status: res.statusCode, body, json: jsonOrUndefined(body) };
      }),
      once(ws, 'open').then(() => ({ opened: true })),
      once(ws, 'close').then(() => ({ closedWithoutResponse: true })),
      sleep(timeoutMs, { timedOut: true }, { ref: false }),
    ]);
    assert.ok(r.status !== undefined, `upgrade not refused with an HTTP response: ${JSON.stringify(r)}`);
    return r;
  } finally {
    ws.terminate();
  }
}

// ----------------------------------------------------------- raw Engine.IO

/** An HTTP request to /socket.io/ with query q: {status, text, json}. */
export async function eio(base, q, { method = 'GET', body, timeoutMs = 5000 } = {}) {
  const res = await fetch(`${base}/socket.io/?${q}`, {
    method,
    body,
    headers: body === undefined ? {} : { 'Content-Type': 'text/plain;charset=UTF-8' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, text, json: jsonOrUndefined(text) };
}

/** Parses one Socket.IO packet (the text after the Engine.IO '4'). */
export function parseSio(s) {
  let i = 1;
  const type = Number(s[0]);
  let nsp = '/';
  if (s[i] === '/') {
    const j = s.indexOf(',', i);
    nsp = j < 0 ? s.slice(i) : s.slice(i, j);
    i = j < 0 ? s.length : j + 1;
  }
  const m = /^\d+/.exec(s.slice(i));
  let id = null;
  if (m) {
    id = Number(m[0]);
    i += m[0].length;
  }
  return { type, nsp, id, data: i < s.length ? JSON.parse(s.slice(i)) : undefined };
}

/** A raw Engine.IO long-polling session (protocol 4). */
export class PollingSession {
  static async open(base, extraQuery = '') {
    const s = new PollingSession();
    s.base = base;
    const r = await eio(base, `EIO=4&transport=polling${extraQuery}`);
    assert.equal(r.status, 200, `handshake: HTTP ${r.status} ${r.text}`);
    assert.equal(r.text[0], '0', `handshake body: ${r.text}`);
    s.open = JSON.parse(r.text.slice(1));
    s.sid = s.open.sid;
    return s;
  }

  get q() {
    return `EIO=4&transport=polling&sid=${encodeURIComponent(this.sid)}`;
  }

  /** POSTs Engine.IO packets (strings), joined by the record separator. */
  async post(packets) {
    const r = await eio(this.base, this.q, { method: 'POST', body: packets.join('\x1e') });
    assert.equal(r.status, 200, `POST ${JSON.stringify(packets)}: HTTP ${r.status} ${r.text}`);
    return r;
  }

  /** GETs until the Socket.IO packets received satisfy done(list) (at most `rounds` GETs). */
  async receive(done, { rounds = 4 } = {}) {
    const got = [];
    for (let i = 0; i < rounds && !done(got); i++) {
      const r = await eio(this.base, this.q);
      assert.equal(r.status, 200, `GET: HTTP ${r.status} ${r.text}`);
      for (const p of r.text.split('\x1e')) {
        if (p[0] === '4') got.push(parseSio(p.slice(1)));
      }
    }
    return got;
  }
}

/** Resolves p, or fails with `what` after timeoutMs. */
export async function within(p, timeoutMs, what) {
  const r = await Promise.race([p.then((v) => ({ v })), sleep(timeoutMs, null, { ref: false })]);
  assert.ok(r, `${what}: not within ${timeoutMs} ms`);
  return r.v;
}

/** Resolves with the first emission of event on a component-emitter (engine, manager). */
export function nextEmit(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}
