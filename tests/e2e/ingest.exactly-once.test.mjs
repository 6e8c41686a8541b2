// ingest.exactly-once.test.mjs - 10,000 messages through a running ingest:
// 10% re-publications of earlier events (same id, same body), 1% malformed
// of every kind, personal data in many. Proves, against a model computed
// here (BigInt cents from the published decimal text, HMAC with
// node:crypto): raw rows exactly once, realtime_counters and the Redis
// copies exact per venue and UTC day, every malformed message dead-lettered
// with its reason, no personal data stored, customer ids hashed with the
// configured key, and a clean SIGTERM exit with no sanitizer report.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, takeAll } from './lib/harness.mjs';
import { EventFactory, Expected, dayStartMs, makeStream, utcDay } from './lib/events.mjs';
import {
  assertCustomerHashes, assertDeadLetters, assertNoPii, assertPgCounters, assertRedisCounters,
  assertRowsContent, assertStoredExactlyOnce,
} from './lib/checks.mjs';

const SEED = 20261125;
const COUNT = 10000;
const DUPS = 1000; // 10 %
const BAD = 100; // 1 %

describe('ingest: 10,000 events, 10% re-published, 1% malformed', { timeout: 240000 }, () => {
  let w;
  let ingest;
  let factory;
  let msgs;
  let exp;
  let drained;

  before(async () => {
    w = await IngestWorld.open('once');
    const now = Date.now();
    const today = dayStartMs(utcDay(now));
    const DAY = 86400000;
    factory = new EventFactory({
      tag: w.tag,
      seed: SEED,
      venues: 7,
      salt: w.salt,
      windows: [
        { startMs: today, endMs: now - 1000 }, // today so far
        { startMs: today, endMs: now - 1000 },
        { startMs: today - DAY, endMs: today }, // yesterday
        { startMs: today - 3600000, endMs: Math.min(today + 3600000, now - 1000) }, // around midnight UTC
        { startMs: today - 3 * DAY, endMs: today - 2 * DAY }, // three days ago
        { startMs: Date.UTC(2023, 6, 14), endMs: Date.UTC(2023, 6, 15) }, // a month with no partition yet
      ],
    });
    msgs = makeStream(factory, { count: COUNT, dups: DUPS, bad: BAD });
    exp = new Expected().addAll(msgs);
    assert.equal(exp.events.size, COUNT - DUPS - BAD);
    assert.equal(exp.bad.length, BAD);

    // Live: ingest consumes while the publisher is still sending.
    ingest = await w.startIngest();
    await w.pub.publish(w.names.exchange, msgs);
    assert.equal(w.pub.returned.length, 0, 'messages returned unroutable by the broker');
    drained = await w.waitDrained({ ids: exp.events.size, bad: exp.bad.length, timeoutMs: 120000 });
  });

  after(async () => {
    const errors = await w?.close();
    if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
  });

  it('drains: every valid id stored, every malformed message dead-lettered, queue empty', () => {
    assert.ok(ingest.alive, `ingest died: ${JSON.stringify(ingest.exitInfo)} (logs: ${ingest.logs})`);
    assert.deepEqual(drained.value, { stored: exp.events.size, dead: exp.bad.length, ready: 0 },
      `not drained after ${drained.ms} ms (logs: ${ingest.logs})`);
  });

  it('raw_events holds each distinct valid event exactly once', async () => {
    await assertStoredExactlyOnce(w, exp);
  });

  it('each row is the scrubbed envelope with exact revenue/quantity and UTC occurred_at', async () => {
    await assertRowsContent(w, exp);
  });

  it('realtime_counters equal the sums computed here (BigInt cents) per venue and UTC day', async () => {
    await assertPgCounters(w, exp);
  });

  it('Redis counter:{venue}:{day} hashes and today\'s realtime:* keys equal the same sums', async () => {
    await assertRedisCounters(w, exp);
  });

  it('no personal value, personal key or raw customer id reached storage', async () => {
    await assertNoPii(w, factory, msgs);
  });

  it('customer ids are HMAC-SHA256(CUSTOMER_HASH_SALT, id) in lowercase hex', async () => {
    await assertCustomerHashes(w, exp);
  });

  it('every malformed message is in the dead-letter queue with a reason naming the field', async () => {
    await assertDeadLetters(w, exp, takeAll);
  });

  it('a second publication of every valid event changes nothing', async () => {
    const again = msgs.filter((m) => m.kind === 'valid');
    // A new event published last: once it is stored, everything before it was processed.
    const sentinel = factory.valid();
    exp.add(sentinel);
    await w.pub.publish(w.names.exchange, [...again, sentinel]);
    const r = await w.waitDrained({ ids: exp.events.size, bad: 0, timeoutMs: 60000 });
    assert.deepEqual(r.value, { stored: exp.events.size, dead: 0, ready: 0 }, `after ${r.ms} ms`);
    await assertStoredExactlyOnce(w, exp);
    await assertPgCounters(w, exp);
    await assertRedisCounters(w, exp);
  });

  it('health and Prometheus endpoints on HEALTH_PORT answer with the seed\'s shapes', async () => {
    const get = async (p) => {
      const res = await fetch(`http://127.0.0.1:${ingest.healthPort}${p}`, { signal: AbortSignal.timeout(5000) });
      return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
    };
    const h = await get('/health');
    assert.equal(h.status, 200, h.text);
    assert.deepEqual(JSON.parse(h.text), { success: true, data: { status: 'ok' } });
    const r = await get('/health/ready');
    assert.equal(r.status, 200, r.text);
    const ready = JSON.parse(r.text);
    assert.equal(ready.success, true, r.text);
    assert.equal(ready.data?.status, 'ready', r.text);
    assert.equal(ready.data?.services?.database, 'ok', r.text);
    assert.equal(ready.data?.services?.redis, 'ok', r.text);
    const live = await get('/health/live');
    assert.equal(live.status, 200, live.text);
    const m = await get('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain/);
    assert.match(m.text, /^# TYPE \S+ histogram$/m);
    assert.match(m.text, /^\S+_bucket\{[^}]*le="\+Inf"[^}]*\} \d+/m);
  });

  it('SIGTERM: exit code 0, no sanitizer report', async () => {
    await ingest.stopClean();
  });
});
