// ingest.restarts.test.mjs - one ingest (RECONCILE_SECONDS=2) keeps running
// while each server it depends on restarts under it:
//   Redis stopped while events flow and started again (empty): the Redis
//     counters converge to the exact values from PostgreSQL;
//   PostgreSQL restarted with pg_ctl restart -m fast mid-stream: nothing
//     lost, nothing twice;
//   RabbitMQ stopped and started while a backlog drains: ingest reconnects,
//     nothing lost, nothing twice (set TT_E2E_SKIP_RABBITMQ_RESTART=1 to skip
//     this one on a shared broker; it costs about 8 s).
// Every server is started again in a finally block, whatever happened.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { IngestWorld, pgRestart, rabbitmqStop, redisStop, sleep, stackUp, takeAll } from './lib/harness.mjs';
import { EventFactory, Expected, dayStartMs, makeStream, utcDay } from './lib/events.mjs';
import {
  assertDeadLetters, assertPgCounters, assertRedisCounters, assertStoredExactlyOnce,
} from './lib/checks.mjs';

const SEED = 4242;

describe('ingest: Redis, PostgreSQL and RabbitMQ restart under it', { timeout: 400000 }, () => {
  let w;
  let ingest;
  let factory;
  let days;
  const exp = new Expected();

  before(async () => {
    await stackUp(); // a previous file must not leave a server down; nor do we
    w = await IngestWorld.open('restart');
    const now = Date.now();
    const today = dayStartMs(utcDay(now));
    days = [utcDay(today - 86400000), utcDay(today)];
    factory = new EventFactory({
      tag: w.tag, seed: SEED, venues: 4, salt: w.salt,
      windows: [{ startMs: today, endMs: now - 1000 }, { startMs: today - 86400000, endMs: today }],
    });
    ingest = await w.startIngest({ RECONCILE_SECONDS: '2' });
  });

  after(async () => {
    try {
      await stackUp();
    } finally {
      const errors = await w?.close();
      if (errors?.length) console.error(`cleanup: ${errors.join('; ')}`);
    }
  });

  /** Publishes a stream at a steady rate and runs `disturb` after delayMs while it flows. */
  async function flowWith(msgs, delayMs, disturb) {
    exp.addAll(msgs);
    const publishing = w.pub.publish(w.names.exchange, msgs, { ratePerSec: 2500 });
    await sleep(delayMs);
    try {
      await disturb();
    } finally {
      await stackUp();
    }
    await publishing;
    assert.equal(w.pub.returned.length, 0);
  }

  it('Redis stopped while events flow, then started empty: Redis counters converge to exact', async (t) => {
    const msgs = makeStream(factory, { count: 10000, dups: 1000, bad: 50 });
    const bad = new Expected().addAll(msgs).bad;
    let downMs = 0;
    await flowWith(msgs, 1000, async () => {
      const t0 = Date.now();
      await redisStop();
      await sleep(1500);
      downMs = Date.now() - t0;
    });
    const d = await w.waitDrained({ ids: exp.events.size, bad: bad.length, timeoutMs: 120000 });
    assert.ok(ingest.alive, `ingest died: ${JSON.stringify(ingest.exitInfo)} (logs ${ingest.logs})`);
    assert.ok(d.ok, `not drained: ${JSON.stringify(d.value)} (logs ${ingest.logs})`);
    await assertStoredExactlyOnce(w, exp);
    await assertPgCounters(w, exp);
    // RECONCILE_SECONDS=2: the copy must be exact within a few reconcile periods.
    await assertRedisCounters(w, exp, { days, timeoutMs: 10000 });
    await assertDeadLetters(w, { bad }, takeAll);
    t.diagnostic(`Redis down for ${downMs} ms while ${msgs.length} messages flowed`);
  });

  it('PostgreSQL restarted (pg_ctl restart -m fast) mid-stream: nothing lost, nothing twice', async (t) => {
    const msgs = makeStream(factory, { count: 10000, dups: 1000, bad: 50 });
    const bad = new Expected().addAll(msgs).bad;
    let restartMs = 0;
    const storedBefore = await w.storedIdCount();
    let storedAtRestart = 0;
    await flowWith(msgs, 1000, async () => {
      storedAtRestart = await w.storedIdCount();
      const t0 = Date.now();
      await pgRestart();
      restartMs = Date.now() - t0;
    });
    assert.ok(storedAtRestart > storedBefore, 'the restart happened before any event of this part was stored');
    const d = await w.waitDrained({ ids: exp.events.size, bad: bad.length, badAtLeast: true, timeoutMs: 120000 });
    assert.ok(ingest.alive, `ingest died: ${JSON.stringify(ingest.exitInfo)} (logs ${ingest.logs})`);
    assert.ok(d.ok, `not drained: ${JSON.stringify(d.value)} (logs ${ingest.logs})`);
    assert.ok(storedAtRestart < exp.events.size, 'the restart was not mid-stream');
    await assertStoredExactlyOnce(w, exp);
    await assertPgCounters(w, exp);
    await assertRedisCounters(w, exp, { days, timeoutMs: 10000 });
    await assertDeadLetters(w, { bad }, takeAll, { allowRepeats: true });
    t.diagnostic(`pg_ctl restart took ${restartMs} ms with ${storedAtRestart - storedBefore} of this part's events stored`);
  });

  it('RabbitMQ stopped and started while a backlog drains: ingest reconnects, nothing lost, nothing twice',
    { skip: process.env.TT_E2E_SKIP_RABBITMQ_RESTART === '1' && 'TT_E2E_SKIP_RABBITMQ_RESTART=1' }, async (t) => {
      // A backlog first (no consumer), so that the broker goes down with
      // messages both ready and delivered-but-unacked.
      await ingest.stopClean();
      const msgs = makeStream(factory, { count: 20000, dups: 2000, bad: 100 });
      const bad = new Expected().addAll(msgs).bad;
      const before = exp.events.size;
      exp.addAll(msgs);
      await w.pub.publish(w.names.exchange, msgs);
      assert.equal(w.pub.returned.length, 0);
      ingest = await w.startIngest({ RECONCILE_SECONDS: '2' });
      const r = await w.waitStored(before + Math.floor((exp.events.size - before) * 0.3), { timeoutMs: 60000 });
      assert.ok(r.ok, `ingest did not reach 30% of the backlog (logs ${ingest.logs})`);
      const t0 = Date.now();
      let storedAtStop = 0;
      try {
        await rabbitmqStop();
        storedAtStop = await w.storedIdCount();
      } finally {
        await stackUp();
      }
      const downMs = Date.now() - t0;
      assert.ok(storedAtStop < exp.events.size, 'the backlog drained before the broker stopped');
      const d = await w.waitDrained({ ids: exp.events.size, bad: bad.length, badAtLeast: true, timeoutMs: 120000 });
      assert.ok(ingest.alive, `ingest died: ${JSON.stringify(ingest.exitInfo)} (logs ${ingest.logs})`);
      assert.ok(d.ok, `not drained: ${JSON.stringify(d.value)} after ${d.ms} ms (logs ${ingest.logs})`);
      await assertStoredExactlyOnce(w, exp);
      await assertPgCounters(w, exp);
      await assertRedisCounters(w, exp, { days, timeoutMs: 10000 });
      await assertDeadLetters(w, { bad }, takeAll, { allowRepeats: true });
      t.diagnostic(`RabbitMQ down and up again in ${downMs} ms; drained ${d.ms} ms later`);
    });

  it('after all restarts ingest still exits 0 on SIGTERM, no sanitizer report', async () => {
    await ingest.stopClean();
  });
});
