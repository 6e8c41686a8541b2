// rollup.mjs - a dataset through the real path up to the rollups, for the
// tests that read query-api's answers over them (analytics,
// customers-query): RabbitMQ -> ingest -> raw_events -> `aggregator --once`.
//
// The first part is rolled up with the late window wide open (the dataset
// reaches back a year); the late part, published after that pass, with the
// aggregator's default 48 h window, which it must be inside of.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';

import { Expected } from './events.mjs';
import { sanitizerReport, sleep } from './harness.mjs';
import * as stack from './stack-env.mjs';

/** The rollup rows of venues LIKE $1 and the venues rows (delete before and after a test). */
export async function deleteRollups(pool, like) {
  for (const t of ['sales_rollups', 'customer_stats', 'event_stats', 'event_catalog', 'venue_analytics', 'analytics_aggregations',
    'dashboard_periods', 'dashboard_tops', 'venues'])
    await pool.query(`DELETE FROM ${t} WHERE venue_id LIKE $1`, [like]);
}

/** Runs `aggregator --once` with AGGREGATOR_LATE_WINDOW_HOURS=hours; it must exit 0 without a sanitizer report. */
export async function aggregateOnce(hours) {
  const env = stack.serviceEnv({ AGGREGATOR_LATE_WINDOW_HOURS: String(hours), LOG_LEVEL: 'warn' });
  const r = await new Promise((resolve) => {
    execFile(stack.binPath('aggregator'), ['--once'], { env, timeout: 120000 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, text: stdout + stderr }));
  });
  assert.equal(sanitizerReport(r.text), null, r.text);
  assert.equal(r.code, 0, `aggregator --once exited ${r.code}: ${r.text}`);
}

/**
 * Per venue LIKE $1: sales and refund rows, their net cents and their
 * customers in raw_events, and the same three read from the hour rollups
 * and customer_stats, which a pass writes in the same transaction as the
 * day rows. Only a condition to wait for: the tests compare every figure,
 * the day rollups' too, on their own.
 */
async function coverage(pool, like) {
  const { rows } = await pool.query(`
    SELECT r.venue_id, r.n || '/' || r.net || '/' || r.c AS raw,
           (SELECT coalesce(sum(orders + refunds), 0) || '/' || coalesce(sum(net_cents), 0) FROM sales_rollups s
             WHERE s.venue_id = r.venue_id AND granularity = 'hour') || '/' ||
           (SELECT count(*) FROM customer_stats c WHERE c.venue_id = r.venue_id) AS rolled
      FROM (SELECT venue_id, count(*) AS n, sum(revenue_cents) AS net, count(DISTINCT customer_hash) AS c FROM raw_events
             WHERE venue_id LIKE $1 AND type IN ('ticket.purchased', 'ticket.refunded') GROUP BY venue_id) r
     ORDER BY r.venue_id`, [like]);
  return rows;
}

/**
 * Writes the venues rows ({id, zone}; zone null: none), publishes `first`,
 * waits until ingest stored it, runs `aggregator --once` until the rollups
 * hold it, then the same with `late`. Returns the Expected of both.
 */
export async function publishAndRollUp(w, { venues, first, late }) {
  for (const v of venues) {
    if (v.zone) await w.pool.query('INSERT INTO venues (venue_id, timezone) VALUES ($1, $2)', [v.id, v.zone]);
  }
  const like = `${w.tag}-%`;
  const exp = new Expected();
  for (const [what, msgs, hours] of [['first', first, 100000], ['late', late, 48]]) {
    exp.addAll(msgs);
    await w.pub.publish(w.names.exchange, msgs);
    const r = await w.waitDrained({ ids: exp.events.size, bad: 0, timeoutMs: 120000 });
    assert.ok(r.ok, `ingest did not store ${exp.events.size} events: ${JSON.stringify(r.value)}`);
    await sleep(2500); // a pass reads up to now() - 2 s
    // A pass skips when another aggregator on the database holds the lock: pass again until the rollups hold every sale.
    let rows;
    for (let i = 0; i < 30; i++) {
      await aggregateOnce(hours);
      rows = await coverage(w.pool, like);
      if (rows.every((x) => x.rolled === x.raw)) break;
      await sleep(1000);
    }
    for (const x of rows) {
      assert.equal(x.rolled, x.raw, `${x.venue_id}: the rollups hold every sale (rows/net cents/customers) of the ${what} part after aggregator --once`);
    }
  }
  return exp;
}
