// proto.test.mjs - proto/ is the contract and ingest's validator
// (libcommon/src/event.c) enforces it; this file checks that both say the
// same thing:
//   1. every proto/events/<type>.example.json is valid against its schema
//      (ajv, draft 2020-12, with ajv-formats);
//   2. each schema refuses mutated copies of its example: a required field
//      missing, bad id characters, a number price with three decimals
//      (the two-decimal rule on numbers is checked here, see moneyProblems()),
//      quantity 0, currency "usd", occurredAt without an offset, ...;
//   3. a running ingest agrees: every example, re-published with a fresh id,
//      lands in raw_events exactly once and is never dead-lettered, and every
//      mutated copy is dead-lettered with a reason naming the field;
//   4. the nng examples of proto/nng.md follow the documented layout and
//      proto/nng/metric.schema.json.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

import { IngestWorld, takeAll } from './lib/harness.mjs';
import { repoRoot } from './lib/stack-env.mjs';

const protoDir = path.join(repoRoot, 'proto');
const eventsDir = path.join(protoDir, 'events');

/** The types of proto/README.md's table, in its order. */
const TYPES = [
  'ticket.purchased', 'ticket.refunded', 'ticket.scanned', 'payment.completed', 'refund.processed',
  'event.created', 'event.updated', 'user.registered', 'user.login', 'listing.created', 'listing.sold',
  'marketing.touchpoint',
];

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

// ------------------------------------------------------------ schemas

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);

const envelopeSchema = readJson(path.join(eventsDir, 'envelope.schema.json'));
ajv.addSchema(envelopeSchema);
const schemas = new Map();
const validators = new Map();
for (const t of TYPES) {
  const s = readJson(path.join(eventsDir, `${t}.schema.json`));
  schemas.set(t, s);
  ajv.addSchema(s);
  validators.set(t, ajv.getSchema(s.$id));
}
const validateEnvelope = ajv.getSchema(envelopeSchema.$id);

/** Names of the data fields of a type schema that are money ($ref .../money). */
function moneyFields(schema) {
  const props = schema.properties?.data?.properties ?? {};
  return Object.keys(props).filter((k) => /#\/\$defs\/money$/.test(props[k].$ref ?? ''));
}

/**
 * The rule JSON Schema cannot state safely (multipleOf 0.01 fails on binary
 * floats): a money number has at most two decimal places, i.e. rounding it
 * to cents gives back the same double (19.99 -> 1999 -> 19.99; 12.345 ->
 * 1235 -> 12.35). Returns the problems found, [] when none.
 */
function moneyProblems(type, ev) {
  const out = [];
  for (const f of moneyFields(schemas.get(type))) {
    const v = ev?.data?.[f];
    if (typeof v === 'number' && Math.round(v * 100) / 100 !== v) out.push(`data.${f}: more than two decimal places`);
  }
  return out;
}

/** The contract's verdict on ev as type: [] when valid, else the problems. */
function contractProblems(type, ev) {
  const validate = validators.get(type);
  const out = validate(ev) ? [] : validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}`);
  if (!validateEnvelope(ev)) out.push(...validateEnvelope.errors.map((e) => `envelope ${e.instancePath || '/'} ${e.message}`));
  return [...out, ...moneyProblems(type, ev)];
}

const examples = new Map(TYPES.map((t) => [t, readJson(path.join(eventsDir, `${t}.example.json`))]));

// ---------------------------------------------------------- mutations

const clone = (o) => structuredClone(o);

/**
 * Mutated copies of a valid event of the type: [{what, field, ev}], field
 * being the path ingest's reject reason must start with.
 */
function mutations(type, base) {
  const schema = schemas.get(type);
  const dataProps = schema.properties.data.properties ?? {};
  const out = [];
  const add = (what, field, fn) => {
    const ev = clone(base);
    fn(ev);
    out.push({ what: `${type}: ${what}`, field, ev });
  };
  // Envelope rules, on every type.
  add('id with a space and a slash', 'id', (e) => { e.id = `${e.id} x/y`; });
  add('occurredAt without offset', 'occurredAt', (e) => { e.occurredAt = e.occurredAt.replace(/(Z|[+-]\d\d:\d\d)$/i, ''); });
  add('occurredAt with a ±hhmm offset', 'occurredAt', (e) => { e.occurredAt = e.occurredAt.replace(/(Z|[+-]\d\d:\d\d)$/i, '+0100'); });
  add('occurredAt with offset +24:00', 'occurredAt', (e) => { e.occurredAt = e.occurredAt.replace(/(Z|[+-]\d\d:\d\d)$/i, '+24:00'); });
  add('occurredAt in 1999', 'occurredAt', (e) => { e.occurredAt = e.occurredAt.replace(/^\d{4}/, '1999'); });
  add('venueId with a slash', 'venueId', (e) => { e.venueId = `${e.venueId}/1`; });
  add('data an array', 'data', (e) => { e.data = []; });
  add('data null', 'data', (e) => { e.data = null; });
  // Every required field of the envelope (on the first type only: the rule is shared).
  if (type === TYPES[0]) {
    for (const f of envelopeSchema.required) add(`missing ${f}`, f, (e) => { delete e[f]; });
    add('unknown type', 'type', (e) => { e.type = 'ticket.bought'; });
    add('eventId too long', 'eventId', (e) => { e.eventId = 'e'.repeat(129); });
    add('sessionId with a space', 'sessionId', (e) => { e.sessionId = 'sess 1'; });
    add('userId empty', 'userId', (e) => { e.userId = ''; });
  }
  // Every required data field.
  for (const f of schema.properties.data.required ?? []) add(`missing data.${f}`, `data.${f}`, (e) => { delete e.data[f]; });
  // Money fields: a number with three decimals, the same as a string, negative.
  for (const f of moneyFields(schema)) {
    add(`data.${f} a number with 3 decimals`, `data.${f}`, (e) => { e.data[f] = 12.345; });
    add(`data.${f} a string with 3 decimals`, `data.${f}`, (e) => { e.data[f] = '12.345'; });
    add(`data.${f} negative`, `data.${f}`, (e) => { e.data[f] = -1; });
    add(`data.${f} in an exponent string`, `data.${f}`, (e) => { e.data[f] = '1e3'; });
  }
  if ('quantity' in dataProps) {
    add('quantity 0', 'data.quantity', (e) => { e.data.quantity = 0; });
    add('quantity 10001', 'data.quantity', (e) => { e.data.quantity = 10001; });
    add('quantity 1.5', 'data.quantity', (e) => { e.data.quantity = 1.5; });
  }
  if ('currency' in dataProps) add('currency "usd"', 'data.currency', (e) => { e.data.currency = 'usd'; });
  if ('capacity' in dataProps) {
    add('capacity -1', 'data.capacity', (e) => { e.data.capacity = -1; });
    add('capacity 10000001', 'data.capacity', (e) => { e.data.capacity = 10000001; });
  }
  if ('startsAt' in dataProps) add('startsAt without offset', 'data.startsAt', (e) => { e.data.startsAt = '2026-12-05T20:00:00'; });
  // One id-like field of data with a bad character.
  const idField = Object.keys(dataProps).find((k) => /#\/\$defs\/id$/.test(dataProps[k].$ref ?? ''));
  if (idField) add(`data.${idField} with a space`, `data.${idField}`, (e) => { e.data[idField] = 'a b'; });
  // A text field: empty, and too long.
  const textField = Object.keys(dataProps).find((k) => /#\/\$defs\/text(64|256)$/.test(dataProps[k].$ref ?? ''));
  if (textField) {
    const max = /64$/.test(dataProps[textField].$ref) ? 64 : 256;
    add(`data.${textField} empty`, `data.${textField}`, (e) => { e.data[textField] = ''; });
    add(`data.${textField} ${max + 1} characters`, `data.${textField}`, (e) => { e.data[textField] = 'x'.repeat(max + 1); });
  }
  return out;
}

// -------------------------------------------------------------- money

/** Cents of a money value as ingest reads it (number or decimal string). */
function cents(v) {
  if (typeof v === 'number') return BigInt(Math.round(v * 100));
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(v);
  assert.ok(m, `not a money string: ${v}`);
  return BigInt(m[1]) * 100n + BigInt((m[2] ?? '').padEnd(2, '0'));
}

/** What an event adds to the revenue and sales counters (proto/README.md "counts as"). */
function deltas(ev) {
  if (ev.type === 'ticket.purchased') {
    const q = BigInt(ev.data.quantity ?? 1);
    return { revenue: cents(ev.data.price) * q, quantity: q };
  }
  if (ev.type === 'ticket.refunded') return { revenue: -cents(ev.data.amount), quantity: 0n };
  return { revenue: 0n, quantity: 0n };
}

const hmacHex = (key, s) => crypto.createHmac('sha256', key).update(s).digest('hex');

// ============================================================== tests

describe('proto/events: schemas and examples', () => {
  it('has a schema and an example for every type of the README table, and nothing else', () => {
    const readme = fs.readFileSync(path.join(protoDir, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Per type `data`'), readme.indexOf('## nng messages'));
    const inTable = [...section.matchAll(/^\| `([a-z]+\.[a-z]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(inTable, TYPES);
    assert.deepEqual(envelopeSchema.properties.type.enum, TYPES);
    const files = fs.readdirSync(eventsDir).sort();
    const want = ['envelope.schema.json', ...TYPES.flatMap((t) => [`${t}.example.json`, `${t}.schema.json`])].sort();
    assert.deepEqual(files, want);
  });

  for (const t of TYPES) {
    it(`${t}: the example is valid against its schema and the envelope schema`, () => {
      const ex = examples.get(t);
      assert.equal(ex.type, t);
      assert.deepEqual(contractProblems(t, ex), []);
      assert.equal(schemas.get(t).properties.type.const, t);
    });

    it(`${t}: the schema refuses every mutated example`, () => {
      const ms = mutations(t, examples.get(t));
      assert.ok(ms.length >= 6, `only ${ms.length} mutations`);
      const accepted = ms.filter((m) => contractProblems(t, m.ev).length === 0).map((m) => m.what);
      assert.deepEqual(accepted, [], 'mutations the contract accepts');
    });
  }

  it('money: numbers and strings with 0..2 decimals pass, 3 decimals fail (schema + two-decimal rule)', () => {
    const base = examples.get('ticket.purchased');
    const withPrice = (p) => ({ ...base, data: { ...base.data, price: p } });
    for (const p of [0, 1, 19.9, 19.99, 0.01, 1234567.89, 10000000000000, '0', '19.9', '19.99', '10000000000000.00']) {
      assert.deepEqual(contractProblems('ticket.purchased', withPrice(p)), [], `price ${JSON.stringify(p)}`);
    }
    for (const p of [19.999, 0.001, -0.01, 10000000000000.01, '19.999', '-1', '1.', '.5', '+1', ' 1', '1e2', '10000000000000.01', '100000000000000', null, true]) {
      assert.notDeepEqual(contractProblems('ticket.purchased', withPrice(p)), [], `price ${JSON.stringify(p)}`);
    }
  });

  it('occurredAt: RFC 3339 with Z or ±hh:mm only', () => {
    const base = examples.get('user.login');
    const at = (s) => ({ ...base, occurredAt: s });
    for (const s of ['2026-11-24T08:12:09Z', '2026-11-24t08:12:09z', '2026-11-24T08:12:09.123456789+05:30', '2026-11-24T08:12:09-00:00']) {
      assert.deepEqual(contractProblems('user.login', at(s)), [], s);
    }
    for (const s of ['2026-11-24T08:12:09', '2026-11-24 08:12:09Z', '2026-11-24T08:12:09+0530', '2026-11-24', '2026-11-24T08:12Z',
      '2026-02-30T08:12:09Z', '2026-11-24T24:00:00Z', '2026-11-24T08:12:09.1234567890Z', '2026-11-24T08:12:09+24:00',
      '2026-11-24T08:12:09+05:60', '1999-12-31T23:59:59Z']) {
      assert.notDeepEqual(contractProblems('user.login', at(s)), [], s);
    }
  });

  it('unknown fields are kept: extra top-level and data fields are valid', () => {
    const ex = clone(examples.get('ticket.purchased'));
    ex.source = 'box-office-7';
    ex.data.seat = { section: 'B', row: 12, number: 7 };
    assert.deepEqual(contractProblems('ticket.purchased', ex), []);
  });
});

describe('proto/nng.md and proto/nng/metric.schema.json', () => {
  const doc = fs.readFileSync(path.join(protoDir, 'nng.md'), 'utf8');
  const metricSchema = readJson(path.join(protoDir, 'nng', 'metric.schema.json'));
  const validateMetric = ajv.compile(metricSchema);
  // The examples: indented lines with a concrete kind (not the <kind> of the layout line).
  const lines = [...doc.matchAll(/^ {4}(tt1\|[a-z]+\|.*)$/gm)].map((m) => m[1]);

  it('documents an example of each kind in the layout tt1|<kind>|<venueId>|<json>', () => {
    const kinds = new Set();
    for (const line of lines) {
      const m = /^tt1\|([a-z]+)\|([A-Za-z0-9._:-]{1,64})\|(\{.*\})$/.exec(line);
      assert.ok(m, `not in the layout: ${line}`);
      const [, kind, venue, json] = m;
      kinds.add(kind);
      const body = JSON.parse(json);
      assert.equal(body.venueId, venue, 'the topic venue is the JSON venueId');
      if (kind === 'metric') {
        assert.ok(validateMetric(body), `${line}: ${ajv.errorsText(validateMetric.errors)}`);
      } else if (kind === 'event') {
        // The stored envelope: valid against its type schema, userId hashed.
        assert.deepEqual(contractProblems(body.type, body), [], line);
        if (body.userId !== undefined) assert.match(body.userId, /^[0-9a-f]{64}$/);
      }
    }
    assert.deepEqual([...kinds].sort(), ['event', 'metric']);
  });

  it('metric.schema.json refuses what ingest never sends', () => {
    const good = { type: 'revenue', venueId: 'v-1', day: '2026-11-25', data: { currentValue: 12.5, previousValue: 10, change: 2.5, changePercent: 25, trend: 'up' } };
    assert.ok(validateMetric(good), ajv.errorsText(validateMetric.errors));
    const bad = [
      { ...good, type: 'refunds' },
      { ...good, day: '2026-11-25T00:00:00Z' },
      { ...good, data: { ...good.data, trend: 'flat' } },
      { ...good, data: { ...good.data, changePercent: '25' } },
      { ...good, data: { ...good.data, currentValue: 12.345 } },
      (() => { const b = clone(good); delete b.data.previousValue; return b; })(),
    ];
    for (const b of bad) {
      const ok = validateMetric(b) && !(b.type === 'revenue' && Math.round(b.data.currentValue * 100) / 100 !== b.data.currentValue);
      assert.equal(ok, false, JSON.stringify(b));
    }
  });
});

describe('ingest (event.c) agrees with proto/events', { timeout: 180000 }, () => {
  let w;
  let ingest;
  let good; // [{ev, body}]
  let bad; // [{what, field, ev, body, routingKey}]
  let drained;

  before(async () => {
    w = await IngestWorld.open('proto');
    const run = Date.now().toString(36);
    let n = 0;
    const freshId = () => `${w.tag}-${run}-${++n}`;
    // Every example as a platform service would send it, with a fresh id
    // and the test's venue prefix (isolation, see harness.mjs).
    const tagged = (ex) => ({ ...clone(ex), id: freshId(), venueId: `${w.tag}-${ex.venueId}` });
    good = TYPES.map((t) => {
      const ev = tagged(examples.get(t));
      return { ev, routingKey: t, body: JSON.stringify(ev) };
    });
    bad = [];
    for (const t of TYPES) {
      for (const m of mutations(t, tagged(examples.get(t)))) {
        // A fresh id for each, unless the id is what the mutation is about.
        if (m.field !== 'id') m.ev.id = freshId();
        bad.push({ ...m, routingKey: t, body: JSON.stringify(m.ev) });
      }
    }
    // Interleaved: the mutations and the examples share batches.
    const msgs = [];
    for (let i = 0; i < Math.max(good.length, bad.length); i++) {
      if (i < good.length) msgs.push(good[i]);
      if (i < bad.length) msgs.push(bad[i]);
    }
    assert.equal(msgs.length, good.length + bad.length);

    ingest = await w.startIngest();
    await w.pub.publish(w.names.exchange, msgs);
    assert.equal(w.pub.returned.length, 0, 'messages returned unroutable by the broker');
    drained = await w.waitDrained({ ids: good.length, bad: bad.length, timeoutMs: 60000 });
  });

  after(async () => {
    const errors = await w?.close();
    if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
  });

  it('every tagged example is valid for the contract too', () => {
    for (const g of good) assert.deepEqual(contractProblems(g.ev.type, g.ev), [], g.ev.type);
  });

  it(`drains: ${TYPES.length} examples stored, every mutation dead-lettered, queue empty`, (t) => {
    t.diagnostic(`${good.length} examples and ${bad.length} mutated copies published, interleaved`);
    assert.ok(ingest.alive, `ingest died: ${JSON.stringify(ingest.exitInfo)} (logs: ${ingest.logs})`);
    assert.deepEqual(drained.value, { stored: good.length, dead: bad.length, ready: 0 },
      `not drained after ${drained.ms} ms (logs: ${ingest.logs})`);
  });

  it('each example is one raw_events row: type, venue, ids, occurred_at, revenue and quantity, scrubbed payload', async () => {
    const { rows } = await w.pool.query(
      `SELECT id, type, venue_id, event_id, session_id, customer_hash,
              (extract(epoch FROM occurred_at) * 1000)::bigint::text AS occurred_ms,
              revenue_cents::text, quantity::text, payload
         FROM raw_events WHERE venue_id LIKE $1`, [`${w.tag}-%`]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    assert.equal(rows.length, good.length, 'one row per example, none for the mutations');
    for (const { ev } of good) {
      const r = byId.get(ev.id);
      assert.ok(r, `${ev.type}: example ${ev.id} not in raw_events`);
      const d = deltas(ev);
      assert.deepEqual(
        { type: r.type, venue_id: r.venue_id, event_id: r.event_id, session_id: r.session_id, occurred_ms: r.occurred_ms,
          revenue_cents: r.revenue_cents, quantity: r.quantity, customer_hash: r.customer_hash },
        { type: ev.type, venue_id: ev.venueId, event_id: ev.eventId ?? null, session_id: ev.sessionId ?? null,
          occurred_ms: String(Date.parse(ev.occurredAt)), revenue_cents: String(d.revenue), quantity: String(d.quantity),
          customer_hash: ev.userId === undefined ? null : hmacHex(w.salt, ev.userId) },
        ev.type);
      const want = clone(ev);
      if (want.userId !== undefined) want.userId = hmacHex(w.salt, want.userId);
      want.occurredAt = new Date(Date.parse(ev.occurredAt)).toISOString();   // stored in UTC
      assert.deepEqual(r.payload, want, `${ev.type}: payload is the envelope with userId hashed and occurredAt in UTC (no PII in examples)`);
    }
  });

  it('every mutation is in the dead-letter queue once, with a reason naming its field; no example is', async () => {
    const got = await takeAll(w.ch, w.names.dlq);
    const pending = new Map();
    for (const b of bad) {
      if (!pending.has(b.body)) pending.set(b.body, []);
      pending.get(b.body).push(b);
    }
    const goodBodies = new Set(good.map((g) => g.body));
    const problems = [];
    for (const m of got) {
      const body = m.content.toString();
      if (goodBodies.has(body)) {
        problems.push(`example dead-lettered: ${body.slice(0, 200)} (${m.properties.headers?.['x-reject-reason']})`);
        continue;
      }
      const b = pending.get(body)?.shift();
      if (!b) {
        problems.push(`unexpected or repeated dead letter: ${body.slice(0, 200)}`);
        continue;
      }
      const h = m.properties.headers ?? {};
      const reason = String(h['x-reject-reason'] ?? '');
      if (!reason.startsWith(`${b.field}:`)) problems.push(`${b.what}: x-reject-reason ${JSON.stringify(reason)} does not start with "${b.field}:"`);
      if (String(h['x-original-routing-key'] ?? '') !== b.routingKey) problems.push(`${b.what}: x-original-routing-key ${h['x-original-routing-key']}`);
    }
    for (const list of pending.values()) for (const b of list) problems.push(`${b.what}: not dead-lettered`);
    assert.equal(got.length, bad.length, `dead letters: got ${got.length}, want ${bad.length}`);
    assert.deepEqual(problems, []);
  });

  it('SIGTERM: exit code 0, no sanitizer report', async () => {
    await ingest.stopClean();
  });
});
