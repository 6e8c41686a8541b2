// events.mjs - a deterministic generator of platform events (proto/README.md)
// for the end-to-end tests, and the independent model of what ingest must
// make of them: exact cents (BigInt, parsed from the decimal text that is
// published, never from a float), per venue and UTC day counters, the
// scrubbed payload and the customer hashes (node:crypto).
import crypto from 'node:crypto';

// ------------------------------------------------------------------ PRNG

/**
 * A seeded 32-bit PRNG (xorshift32 state stepped through a Weyl sequence and
 * an integer finaliser). Returns a function giving floats in [0, 1).
 */
export function makeRng(seed) {
  let x = (seed >>> 0) || 0x9e3779b9;
  let w = 0;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    w = (w + 0x61c88647) >>> 0;
    let z = (x + w) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
    z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
  const rng = () => next();
  rng.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  rng.pick = (arr) => arr[Math.floor(next() * arr.length)];
  rng.chance = (p) => next() < p;
  return rng;
}

// ----------------------------------------------------------------- money

/** Parses a decimal amount ("19.99", "-5", "0.5") into BigInt cents. */
export function parseCents(text) {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(text));
  if (!m) throw new Error(`not a decimal amount with at most two places: ${text}`);
  const cents = BigInt(m[2]) * 100n + BigInt((m[3] ?? '').padEnd(2, '0') || '0');
  return m[1] === '-' ? -cents : cents;
}

/** Formats BigInt cents as a decimal with two places ("-12.30"). */
export function formatCents(cents) {
  const neg = cents < 0n;
  const a = neg ? -cents : cents;
  return `${neg ? '-' : ''}${a / 100n}.${String(a % 100n).padStart(2, '0')}`;
}

// ------------------------------------------------------------------ time

/** The UTC calendar day (YYYY-MM-DD) of an instant in ms. */
export function utcDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The UTC midnight (ms) of a day given as YYYY-MM-DD. */
export function dayStartMs(day) {
  return Date.parse(`${day}T00:00:00.000Z`);
}

/**
 * ISO 8601 text of instant ms as seen at a UTC offset of offsetMin minutes,
 * with 0 or 3 fraction digits ("2026-11-25T20:31:07+05:30").
 */
export function isoAt(ms, offsetMin, millis) {
  const local = new Date(ms + offsetMin * 60000).toISOString(); // ...Z
  const base = millis ? local.slice(0, 23) : local.slice(0, 19);
  if (offsetMin === 0) return `${base}Z`;
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  return `${base}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

// --------------------------------------------------------- personal data

/** Lowercase hex HMAC-SHA256(key, value), as ingest must compute it. */
export function hmacHex(key, value) {
  return crypto.createHmac('sha256', key).update(String(value), 'utf8').digest('hex');
}

// proto/README.md: removed at any depth of data; name only inside these objects.
const PII_KEYS = new Set(['firstName', 'lastName', 'fullName', 'email', 'phone', 'phoneNumber',
  'address', 'street', 'postalAddress', 'dateOfBirth']);
const PERSON_OBJECTS = new Set(['customer', 'buyer', 'user']);
const CUSTOMER_ID_KEYS = new Set(['customerId', 'buyerId', 'sellerId', 'userId']);

function scrubNode(node, inPerson, key) {
  if (Array.isArray(node)) return node.map((v) => scrubNode(v, false, key));
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (PII_KEYS.has(k) || (inPerson && k === 'name')) continue;
    if (CUSTOMER_ID_KEYS.has(k) && typeof v === 'string') out[k] = hmacHex(key, v);
    else out[k] = scrubNode(v, PERSON_OBJECTS.has(k), key);
  }
  return out;
}

/**
 * The envelope as ingest must store it: occurredAt as the same instant in UTC
 * (ms precision, "Z"), userId hashed, data scrubbed.
 */
export function expectedPayload(envelope, key) {
  const out = { ...envelope };
  out.occurredAt = new Date(Date.parse(envelope.occurredAt)).toISOString();
  if (typeof out.userId === 'string') out.userId = hmacHex(key, out.userId);
  out.data = scrubNode(envelope.data, false, key);
  return out;
}

// ------------------------------------------------------------- generator

const TYPE_WEIGHTS = [
  ['ticket.purchased', 40], ['ticket.refunded', 8], ['ticket.scanned', 10],
  ['payment.completed', 7], ['refund.processed', 3], ['event.created', 3],
  ['event.updated', 2], ['user.registered', 5], ['user.login', 8],
  ['listing.created', 4], ['listing.sold', 4], ['marketing.touchpoint', 6],
];
const TYPE_TOTAL = TYPE_WEIGHTS.reduce((s, [, w]) => s + w, 0);
const OFFSETS = [0, 0, 0, 0, 60, -300, 330, -480, 540, 345, -210, 840, -720];

/**
 * Deterministic event factory. Every id and venue carries `tag`, so that a
 * test can find (and delete) exactly its own rows in a shared database.
 *   tag      short unique string ([A-Za-z0-9-])
 *   seed     PRNG seed
 *   venues   number of venues
 *   windows  [{startMs, endMs}] occurredAt instants are drawn from (uniform over windows)
 *   salt     CUSTOMER_HASH_SALT ingest runs with
 */
export class EventFactory {
  constructor({ tag, seed, venues = 5, windows, salt }) {
    this.tag = tag;
    this.rng = makeRng(seed);
    this.venueIds = Array.from({ length: venues }, (_, i) => `${tag}-venue-${i + 1}`);
    this.windows = windows;
    this.salt = salt;
    this.seq = 0;
    this.badSeq = 0;
    /** Substring of every personal value put in an event (must never be stored). */
    this.piiMarker = `PII${tag.replace(/[^A-Za-z0-9]/g, '')}`;
    /** Substring of every raw customer id (must be stored only hashed). */
    this.cidMarker = `CID${tag.replace(/[^A-Za-z0-9]/g, '')}`;
  }

  #instant() {
    const r = this.rng;
    const w = r.pick(this.windows);
    return w.startMs + Math.floor(r() * (w.endMs - w.startMs));
  }

  /** A money value: the JSON value put in the event and its exact cents. */
  #money(minCents, maxCents) {
    const r = this.rng;
    let cents;
    const roll = r();
    if (roll < 0.03) cents = 0n;
    else if (roll < 0.06) cents = BigInt(r.int(1, 9)); // 0.01 .. 0.09
    else if (roll < 0.09) cents = BigInt(r.int(1, 500)) * 100n; // whole amounts
    else if (roll < 0.11) cents = BigInt(r.int(1, 99999)) * 100000n + BigInt(r.int(0, 99999)); // up to ~10^8 units
    else cents = BigInt(r.int(minCents, maxCents));
    const whole = cents / 100n;
    const frac = cents % 100n;
    const form = r.int(0, 9);
    let text;
    if (form <= 4) text = `${whole}.${String(frac).padStart(2, '0')}`; // "12.30"
    else if (frac === 0n && form <= 6) text = `${whole}`; // "12"
    else if (frac % 10n === 0n && form <= 6) text = `${whole}.${frac / 10n}`; // "12.3"
    else text = `${whole}.${String(frac).padStart(2, '0')}`;
    // Half as JSON strings, half as JSON numbers whose shortest text is `text`.
    const value = r.chance(0.5) ? text : Number(text);
    // The cents are computed from the decimal text, which is what the JSON body holds.
    return { value, cents: parseCents(typeof value === 'number' ? JSON.stringify(value) : text) };
  }

  #pii(kind) {
    const n = this.rng.int(1, 1e6);
    const m = this.piiMarker;
    switch (kind) {
      case 'email': return `${m.toLowerCase()}.${n}@example.com`;
      case 'phone': return `+1-555-${m}-${n}`;
      case 'name': return `${m} Person${n}`;
      default: return `${m} ${kind} ${n}`;
    }
  }

  #cid(prefix, space = 400) {
    return `${this.cidMarker}-${prefix}${this.rng.int(1, space)}`;
  }

  #type() {
    let x = this.rng() * TYPE_TOTAL;
    for (const [t, w] of TYPE_WEIGHTS) {
      if ((x -= w) < 0) return t;
    }
    return TYPE_WEIGHTS[0][0];
  }

  /** Personal fields for a data object (often none). */
  #withPii(data) {
    const r = this.rng;
    if (r.chance(0.15)) {
      data.customer = { name: this.#pii('name'), email: this.#pii('email'), phone: this.#pii('phone'),
        tier: r.pick(['gold', 'silver', 'none']) };
    }
    if (r.chance(0.1)) data.customerId = this.#cid('c');
    if (r.chance(0.05)) {
      data.buyer = { firstName: this.#pii('first'), lastName: this.#pii('last'), buyerId: this.#cid('b'),
        address: { street: this.#pii('street'), city: this.#pii('city'), zip: '10001' }, loyalty: 3 };
    }
    if (r.chance(0.05)) {
      data.meta = { source: 'box', contact: { email: this.#pii('email'), phoneNumber: this.#pii('phone'), note: 'keep me' },
        attendees: [{ seat: 'A1', email: this.#pii('email') }, { seat: 'A2', fullName: this.#pii('full') }] };
    }
    if (r.chance(0.03)) data.user = { name: this.#pii('name'), dateOfBirth: '1990-01-01', userId: this.#cid('u'), plan: 'x' };
    return data;
  }

  #data(type) {
    const r = this.rng;
    const n = ++this.seq;
    const t = this.tag;
    switch (type) {
      case 'ticket.purchased': {
        const price = this.#money(100, 25000);
        const data = { ticketId: `${t}-tk${n}`, orderId: `${t}-o${r.int(1, 5000)}`, price: price.value };
        let qty = 1n;
        const qr = r();
        if (qr < 0.5) { /* default 1 */ } else if (qr < 0.99) { qty = BigInt(r.int(1, 10)); data.quantity = Number(qty); } else {
          qty = 10000n; data.quantity = 10000; data.price = r.chance(0.5) ? '0.07' : 0.07;
          return { data: this.#withPii({ ...data, currency: 'USD', channel: 'bulk' }), revenue: 7n * qty, sales: qty };
        }
        if (r.chance(0.6)) data.currency = r.pick(['USD', 'EUR', 'GBP']);
        if (r.chance(0.7)) data.channel = r.pick(['web', 'mobile', 'box-office', 'partner']);
        if (r.chance(0.6)) data.eventType = r.pick(['concert', 'sports', 'theater', 'comedy']);
        return { data: this.#withPii(data), revenue: price.cents * qty, sales: qty };
      }
      case 'ticket.refunded': {
        const amount = this.#money(100, 20000);
        const data = { ticketId: `${t}-tk${r.int(1, n)}`, orderId: `${t}-o${r.int(1, 5000)}`, amount: amount.value };
        if (r.chance(0.3)) data.reason = r.pick(['cancelled', 'duplicate', 'fraud']);
        return { data: this.#withPii(data), revenue: -amount.cents, sales: 0n };
      }
      case 'ticket.scanned':
        return { data: { ticketId: `${t}-tk${r.int(1, n)}`, gate: r.pick(['A', 'B', 'North', 'VIP']) }, revenue: 0n, sales: 0n };
      case 'payment.completed': {
        const amount = this.#money(100, 90000);
        return { data: this.#withPii({ paymentId: `${t}-p${n}`, orderId: `${t}-o${r.int(1, 5000)}`, amount: amount.value, currency: 'USD' }),
          revenue: 0n, sales: 0n };
      }
      case 'refund.processed': {
        const amount = this.#money(100, 20000);
        return { data: { refundId: `${t}-r${n}`, paymentId: `${t}-p${r.int(1, n)}`, amount: amount.value }, revenue: 0n, sales: 0n };
      }
      case 'event.created':
      case 'event.updated': {
        // `name` of an event is not personal: it must be kept.
        const data = { name: `Show ${n} of ${t}`, capacity: r.int(0, 60000),
          startsAt: isoAt(Date.UTC(2027, r.int(0, 11), r.int(1, 28), r.int(0, 23), 0, 0), r.pick(OFFSETS), false),
          eventType: r.pick(['concert', 'sports']) };
        return { data, revenue: 0n, sales: 0n };
      }
      case 'user.registered':
        return { data: { email: this.#pii('email'), firstName: this.#pii('first'), lastName: this.#pii('last'),
          phoneNumber: this.#pii('phone'), dateOfBirth: '1985-05-05', userId: this.#cid('u'), marketingOptIn: r.chance(0.5) },
        revenue: 0n, sales: 0n };
      case 'user.login':
        return { data: r.chance(0.5) ? {} : { device: r.pick(['ios', 'android', 'web']) }, revenue: 0n, sales: 0n };
      case 'listing.created':
      case 'listing.sold': {
        const data = { listingId: `${t}-l${n}`, ticketId: `${t}-tk${r.int(1, n)}`, sellerId: this.#cid('s') };
        if (r.chance(0.8)) data.price = this.#money(100, 30000).value;
        return { data, revenue: 0n, sales: 0n };
      }
      case 'marketing.touchpoint':
        return { data: { channel: r.pick(['email', 'social', 'search']), campaign: `spring-${r.int(1, 9)}`,
          utmSource: 'newsletter', utmMedium: 'email', utmCampaign: 'launch' }, revenue: 0n, sales: 0n };
      default:
        throw new Error(`unknown type ${type}`);
    }
  }

  /**
   * A new valid event: {kind:'valid', id, type, routingKey, body, envelope,
   * venueId, day, occurredMs, revenue, sales}.
   */
  valid() {
    const r = this.rng;
    const type = this.#type();
    const { data, revenue, sales } = this.#data(type);
    const id = `${this.tag}-e${this.seq}`;
    const millis = r.chance(0.5);
    let ms = this.#instant();
    if (!millis) ms -= ms % 1000; // the instant the text names
    const venueId = r.pick(this.venueIds);
    const env = { id, type, occurredAt: isoAt(ms, r.pick(OFFSETS), millis), venueId };
    if (r.chance(0.6)) env.eventId = `${this.tag}-show${r.int(1, 40)}`;
    if (r.chance(0.4)) env.userId = this.#cid('u');
    if (r.chance(0.3)) env.sessionId = `${this.tag}-sess${r.int(1, 3000)}`;
    if (r.chance(0.1)) env.source = r.pick(['tickets-service', 'payments-service']); // unknown: kept
    env.data = data;
    // Key order varies between producers; shuffle the envelope's keys sometimes.
    const ordered = r.chance(0.2) ? Object.fromEntries(Object.entries(env).reverse()) : env;
    return { kind: 'valid', id, type, routingKey: type, body: JSON.stringify(ordered), envelope: env,
      venueId, day: utcDay(ms), occurredMs: ms, revenue, sales };
  }

  /**
   * A message ingest must dead-letter: {kind:'bad', routingKey, body, field,
   * what}. field is the envelope path the reason must name (null for
   * messages that are not a JSON object at all).
   */
  malformed() {
    const r = this.rng;
    const k = this.badSeq++;
    const id = `${this.tag}-bad${k}`;
    const venueId = r.pick(this.venueIds);
    const occurredAt = isoAt(this.#instant(), 0, false);
    const purchase = (data, extra = {}) => ({ id, type: 'ticket.purchased', occurredAt, venueId,
      data: { ticketId: `${this.tag}-btk${k}`, orderId: `${this.tag}-bo${k}`, price: '10.00', ...data }, ...extra });
    const cases = [
      ['invalid JSON', () => ({ body: `{"id":"${id}","type":"ticket.purchased","occurredAt":"${occurredAt}",`, field: null })],
      ['not UTF-8 JSON', () => ({ body: Buffer.concat([Buffer.from(`{"id":"${id}","x":"`), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), field: null })],
      ['a JSON array', () => ({ body: JSON.stringify([purchase({})]), field: null })],
      ['a JSON string', () => ({ body: JSON.stringify('ticket.purchased'), field: null })],
      ['a JSON number', () => ({ body: '42', field: null })],
      ['JSON null', () => ({ body: 'null', field: null })],
      ['missing id', () => { const e = purchase({}); delete e.id; return { body: JSON.stringify(e), field: 'id' }; }],
      ['id of the wrong type', () => ({ body: JSON.stringify({ ...purchase({}), id: 12345 }), field: 'id' })],
      ['id with a space', () => ({ body: JSON.stringify({ ...purchase({}), id: `${id} x` }), field: 'id' })],
      ['occurredAt not a date', () => ({ body: JSON.stringify({ ...purchase({}), occurredAt: 'yesterday' }), field: 'occurredAt' })],
      ['occurredAt without a time zone', () => ({ body: JSON.stringify({ ...purchase({}), occurredAt: '2026-03-01T10:00:00' }), field: 'occurredAt' })],
      ['occurredAt month 13', () => ({ body: JSON.stringify({ ...purchase({}), occurredAt: '2026-13-01T10:00:00Z' }), field: 'occurredAt' })],
      ['unknown type', () => ({ body: JSON.stringify({ ...purchase({}), type: 'ticket.teleported' }), field: 'type', rk: 'ticket.teleported' })],
      ['missing venueId', () => { const e = purchase({}); delete e.venueId; return { body: JSON.stringify(e), field: 'venueId' }; }],
      ['venueId a number', () => ({ body: JSON.stringify({ ...purchase({}), venueId: 77 }), field: 'venueId' })],
      ['data a string', () => ({ body: JSON.stringify({ ...purchase({}), data: 'price=10' }), field: 'data' })],
      ['price with 3 decimals (string)', () => ({ body: JSON.stringify(purchase({ price: '19.999' })), field: 'data.price' })],
      ['price with 3 decimals (number)', () => ({ body: JSON.stringify(purchase({ price: 19.999 })), field: 'data.price' })],
      ['negative price', () => ({ body: JSON.stringify(purchase({ price: '-5.00' })), field: 'data.price' })],
      ['negative price (number)', () => ({ body: JSON.stringify(purchase({ price: -5 })), field: 'data.price' })],
      ['price a boolean', () => ({ body: JSON.stringify(purchase({ price: true })), field: 'data.price' })],
      ['price not a number', () => ({ body: JSON.stringify(purchase({ price: '12abc' })), field: 'data.price' })],
      ['missing price', () => { const e = purchase({}); delete e.data.price; return { body: JSON.stringify(e), field: 'data.price' }; }],
      ['quantity a string', () => ({ body: JSON.stringify(purchase({ quantity: '2' })), field: 'data.quantity' })],
      ['quantity 0', () => ({ body: JSON.stringify(purchase({ quantity: 0 })), field: 'data.quantity' })],
      ['quantity fractional', () => ({ body: JSON.stringify(purchase({ quantity: 1.5 })), field: 'data.quantity' })],
      ['missing orderId', () => { const e = purchase({}); delete e.data.orderId; return { body: JSON.stringify(e), field: 'data.orderId' }; }],
      ['currency lowercase', () => ({ body: JSON.stringify(purchase({ currency: 'usd' })), field: 'data.currency' })],
      ['refund amount with 3 decimals', () => ({ body: JSON.stringify({ id, type: 'ticket.refunded', occurredAt, venueId,
        data: { ticketId: 'x', orderId: 'y', amount: '1.005' } }), field: 'data.amount', rk: 'ticket.refunded' })],
      ['touchpoint without channel', () => ({ body: JSON.stringify({ id, type: 'marketing.touchpoint', occurredAt, venueId,
        data: { campaign: 'c' } }), field: 'data.channel', rk: 'marketing.touchpoint' })],
    ];
    const [what, make] = cases[k % cases.length];
    const m = make();
    // PII inside a dead-lettered body is the platform's own data; keep it out of these anyway.
    return { kind: 'bad', what, routingKey: m.rk ?? 'ticket.purchased', body: m.body, field: m.field };
  }
}

/**
 * A shuffled stream of `count` messages: `dups` re-publications of earlier
 * valid events (same routing key and body), `bad` malformed ones, the rest
 * new valid events. Deterministic for a given factory seed.
 */
export function makeStream(factory, { count, dups, bad }) {
  const r = factory.rng;
  const kinds = [];
  for (let i = 0; i < count - dups - bad; i++) kinds.push('valid');
  for (let i = 0; i < dups; i++) kinds.push('dup');
  for (let i = 0; i < bad; i++) kinds.push('bad');
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
  }
  const first = kinds.indexOf('valid');
  [kinds[0], kinds[first]] = [kinds[first], kinds[0]];
  const out = [];
  const valids = [];
  for (const k of kinds) {
    if (k === 'valid') {
      const e = factory.valid();
      valids.push(e);
      out.push(e);
    } else if (k === 'dup') {
      out.push({ ...r.pick(valids), kind: 'dup' });
    } else {
      out.push(factory.malformed());
    }
  }
  return out;
}

/**
 * What ingest must have stored for a set of published messages: the
 * distinct valid events by id (first publication wins; repeats have the same
 * body) and the counters per venue and UTC day.
 */
export class Expected {
  constructor() {
    this.events = new Map(); // id -> valid event
    this.bad = []; // malformed messages, in publication order
    this.counters = new Map(); // `${venue}|${day}` -> {venueId, day, revenue, sales, traffic}
  }

  add(msg) {
    if (msg.kind === 'bad') {
      this.bad.push(msg);
      return;
    }
    if (this.events.has(msg.id)) return;
    this.events.set(msg.id, msg);
    const key = `${msg.venueId}|${msg.day}`;
    let c = this.counters.get(key);
    if (!c) {
      c = { venueId: msg.venueId, day: msg.day, revenue: 0n, sales: 0n, traffic: 0n };
      this.counters.set(key, c);
    }
    c.revenue += msg.revenue;
    c.sales += msg.sales;
    c.traffic += 1n;
  }

  addAll(msgs) {
    for (const m of msgs) this.add(m);
    return this;
  }

  /** Counters as a sorted array of plain strings (for deepEqual against the system). */
  counterRows({ days } = {}) {
    return [...this.counters.values()]
      .filter((c) => !days || days.includes(c.day))
      .sort((a, b) => (a.venueId === b.venueId ? a.day.localeCompare(b.day) : a.venueId.localeCompare(b.venueId)))
      .map((c) => ({ venueId: c.venueId, day: c.day, revenue_cents: String(c.revenue), sales: String(c.sales), traffic: String(c.traffic) }));
  }
}
