// ingest.crash.test.mjs - ingest killed in mid-stream. A 20,000-message
// backlog (10% re-publications, 1% malformed) drains while ingest is killed
// with SIGKILL three times at different points; after a restart nothing is
// lost and nothing is counted twice (rows, realtime_counters, Redis). Then a
// second backlog drains while ingest gets SIGTERM: it finishes its batch and
// exits 0 without a sanitizer report, a restart completes the drain, exact.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, takeAll } from './lib/harness.mjs';
import { EventFactory, Expected, dayStartMs, makeStream, utcDay } from './lib/events.mjs';
import {
  assertDeadLetters, assertPgCounters, assertRedisCounters, assertStoredExactlyOnce,
} from './lib/checks.mjs';

const SEED = 777001;

describe('ingest: crash and stop in mid-stream', { timeout: 300000 }, () => {
  let w;
  let factory;
  let days;
  const exp = new Expected();
  let round1;

  before(async () => {
    w = await IngestWorld.open('crash');
    const now = Date.now();
    const today = dayStartMs(utcDay(now));
    // Today and yesterday only: the days ingest's reconcile copies to Redis
    // after a restart, so Redis too must be exact at the end.
    days = [utcDay(today - 86400000), utcDay(today)];
    factory = new EventFactory({
      tag: w.tag, seed: SEED, venues: 4, salt: w.salt,
      windows: [{ startMs: today, endMs: now - 1000 }, { startMs: today - 86400000, endMs: today }],
    });
  });

  after(async () => {
    const errors = await w?.close();
    if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
  });

  it('kill -9 three times while a 20,000-message backlog drains: restart, nothing lost, nothing twice', async (t) => {
    round1 = makeStream(factory, { count: 20000, dups: 2000, bad: 200 });
    exp.addAll(round1);
    await w.pub.publish(w.names.exchange, round1);
    assert.equal(w.pub.returned.length, 0);
    assert.equal(await w.depth(w.names.queue), 20000, 'backlog in the queue before ingest starts');

    const total = exp.events.size;
    const kills = [];
    for (const fraction of [0.2, 0.45, 0.7]) {
      const svc = await w.startIngest();
      const r = await w.waitStored(Math.floor(total * fraction), { timeoutMs: 60000 });
      const info = await svc.kill9();
      const storedAtKill = await w.storedIdCount();
      kills.push({ fraction, storedAtKill, info });
      assert.ok(r.ok, `ingest did not reach ${fraction * 100}% of the backlog (stored ${r.value}; logs ${svc.logs})`);
      assert.equal(info.signal, 'SIGKILL', `ingest should have died of SIGKILL: ${JSON.stringify(info)}`);
      assert.ok(storedAtKill < total, `the backlog drained before the kill at ${fraction * 100}%: the crash was not mid-stream`);
    }

    const svc = await w.startIngest();
    const d = await w.waitDrained({ ids: total, bad: exp.bad.length, badAtLeast: true, timeoutMs: 120000 });
    t.diagnostic(`drained ${d.ms} ms after the last restart`);
    assert.ok(d.ok, `not drained after the restart: ${JSON.stringify(d.value)} after ${d.ms} ms; kills: ${JSON.stringify(kills)} (logs ${svc.logs})`);
    await assertStoredExactlyOnce(w, exp);
    await assertPgCounters(w, exp);
    await assertRedisCounters(w, exp, { days });
    const dl = await assertDeadLetters(w, exp, takeAll, { allowRepeats: true });
    t.diagnostic(`kill -9 at ${kills.map((k) => k.storedAtKill).join(', ')} of ${total} stored; ${dl.repeats} dead letters repeated`);
    await svc.stopClean();
  });

  it('SIGTERM while a second backlog drains: exit 0, no sanitizer report; restart, exact', async (t) => {
    await w.ch.purgeQueue(w.names.dlq); // left-overs of a failed first part
    const before = exp.events.size;
    const round2 = makeStream(factory, { count: 20000, dups: 1500, bad: 200 });
    // Re-publications of round-1 events too: already stored, they must change nothing.
    const again = round1.filter((m) => m.kind === 'valid').slice(0, 500);
    const msgs = [...round2.slice(0, 10000), ...again, ...round2.slice(10000)];
    const exp2 = new Expected().addAll(msgs);
    exp.addAll(msgs);
    await w.pub.publish(w.names.exchange, msgs);

    const total = exp.events.size;
    const svc = await w.startIngest();
    const r = await w.waitStored(before + Math.floor((total - before) * 0.4), { timeoutMs: 60000 });
    assert.ok(r.ok, `ingest did not reach 40% of the second backlog (stored ${r.value}; logs ${svc.logs})`);
    const stop = await svc.stopClean({ timeoutMs: 30000 });
    const storedAtStop = await w.storedIdCount();
    assert.ok(storedAtStop < total, 'the backlog drained before SIGTERM: the stop was not mid-stream');
    assert.ok(await w.depth(w.names.queue) > 0, 'the unprocessed rest is back in the queue after the stop');
    // It finished its batch, Redis copy included: the copy equals the durable counters.
    const pgNow = (await w.pgCounters()).filter((c) => days.includes(c.day));
    const rr = await w.waitRedis(pgNow, { days, timeoutMs: 1000 });
    assert.deepEqual(rr.value, pgNow, 'after a graceful stop Redis holds the committed counters');

    const svc2 = await w.startIngest();
    const d = await w.waitDrained({ ids: total, bad: exp2.bad.length, badAtLeast: true, timeoutMs: 120000 });
    assert.ok(d.ok, `not drained after the restart: ${JSON.stringify(d.value)} after ${d.ms} ms (logs ${svc2.logs})`);
    await assertStoredExactlyOnce(w, exp);
    await assertPgCounters(w, exp);
    await assertRedisCounters(w, exp, { days });
    const dl = await assertDeadLetters(w, exp2, takeAll, { allowRepeats: false });
    t.diagnostic(`SIGTERM after ${stop.elapsedMs} ms with ${storedAtStop - before} of ${total - before} stored; ${dl.got.length} dead letters`);
    await svc2.stopClean();
  });
});
