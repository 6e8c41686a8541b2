// checks.mjs - assertions shared by the ingest test files: the stored rows,
// the durable counters, the Redis copies and the dead-letter queue against
// the independent model of lib/events.mjs.
import assert from 'node:assert/strict';

import { expectedPayload, hmacHex, parseCents, utcDay } from './events.mjs';

/** Lists the first few items of a set difference, for failure messages. */
function sample(items, n = 5) {
  const a = [...items];
  return `${a.length} (e.g. ${a.slice(0, n).join(', ')})`;
}

/** raw_event_ids and raw_events hold exactly the expected ids, each once. */
export async function assertStoredExactlyOnce(w, exp) {
  const like = `${w.tag}-%`;
  const ids = (await w.pool.query('SELECT id FROM raw_event_ids WHERE id LIKE $1', [like])).rows.map((r) => r.id);
  const raw = (await w.pool.query('SELECT id, count(*)::int AS n FROM raw_events WHERE venue_id LIKE $1 GROUP BY id', [like])).rows;
  const want = new Set(exp.events.keys());
  const gotIds = new Set(ids);
  const missing = [...want].filter((id) => !gotIds.has(id));
  const extra = [...gotIds].filter((id) => !want.has(id));
  assert.equal(missing.length, 0, `ids lost (never stored): ${sample(missing)}`);
  assert.equal(extra.length, 0, `ids stored that are not valid published events: ${sample(extra)}`);
  assert.equal(ids.length, want.size);
  const twice = raw.filter((r) => r.n !== 1).map((r) => `${r.id}x${r.n}`);
  assert.equal(twice.length, 0, `raw_events rows stored more than once: ${sample(twice)}`);
  const rawIds = new Set(raw.map((r) => r.id));
  const rawMissing = [...want].filter((id) => !rawIds.has(id));
  assert.equal(rawMissing.length, 0, `ids in raw_event_ids without a raw_events row: ${sample(rawMissing)}`);
  assert.equal(raw.length, want.size, 'raw_events rows == distinct valid ids');
}

/** Every raw_events row is the scrubbed envelope, with the derived columns right. */
export async function assertRowsContent(w, exp) {
  const { rows } = await w.pool.query(
    `SELECT id, type, venue_id, event_id, customer_hash, session_id,
            (extract(epoch FROM occurred_at) * 1000)::bigint::text AS occurred_ms,
            revenue_cents::text, quantity, payload
       FROM raw_events WHERE venue_id LIKE $1`, [`${w.tag}-%`]);
  const bad = [];
  for (const r of rows) {
    const e = exp.events.get(r.id);
    if (!e) continue; // reported by assertStoredExactlyOnce
    const want = {
      type: e.type,
      venue_id: e.venueId,
      event_id: e.envelope.eventId ?? null,
      session_id: e.envelope.sessionId ?? null,
      customer_hash: e.envelope.userId === undefined ? null : hmacHex(w.salt, e.envelope.userId),
      occurred_ms: String(e.occurredMs),
    };
    const got = { type: r.type, venue_id: r.venue_id, event_id: r.event_id, session_id: r.session_id,
      customer_hash: r.customer_hash, occurred_ms: r.occurred_ms };
    try {
      assert.deepEqual(got, want);
      if (e.type === 'ticket.purchased') {
        assert.equal(r.revenue_cents, String(e.revenue), 'revenue_cents = price x quantity');
        assert.equal(BigInt(r.quantity), e.sales, 'quantity');
      } else if (e.type === 'ticket.refunded') {
        assert.equal(r.revenue_cents, String(e.revenue), 'revenue_cents = -amount');
      }
      assert.deepEqual(r.payload, expectedPayload(e.envelope, w.salt), 'payload = scrubbed envelope');
    } catch (err) {
      bad.push(`${r.id}: ${err.message.split('\n').slice(0, 12).join(' ')}`);
    }
  }
  assert.equal(bad.length, 0, `rows that differ from the model (${bad.length}):\n${bad.slice(0, 3).join('\n')}`);
}

/** No personal value and no raw customer id was stored anywhere in raw_events. */
export async function assertNoPii(w, factory, msgs) {
  const published = msgs.filter((m) => m.kind !== 'bad' && String(m.body).toLowerCase().includes(factory.piiMarker.toLowerCase())).length;
  const cids = msgs.filter((m) => m.kind !== 'bad' && String(m.body).includes(factory.cidMarker)).length;
  assert.ok(published > 50, `the generator put personal data in only ${published} messages`);
  assert.ok(cids > 50, `the generator put customer ids in only ${cids} messages`);
  const { rows } = await w.pool.query(
    `SELECT count(*) FILTER (WHERE payload::text ILIKE $2)::int AS pii,
            count(*) FILTER (WHERE payload::text LIKE $3 OR coalesce(customer_hash, '') LIKE $3)::int AS cid
       FROM raw_events WHERE venue_id LIKE $1`,
    [`${w.tag}-%`, `%${factory.piiMarker}%`, `%${factory.cidMarker}%`]);
  assert.deepEqual(rows[0], { pii: 0, cid: 0 },
    'rows holding a personal value / a raw customer id (of the messages published, ' +
    `${published} carried personal data and ${cids} customer ids)`);
  // And no personal key at any depth (values such as channel "email" are fine).
  const keys = [];
  const walk = (node, inPerson, at) => {
    if (Array.isArray(node)) return node.forEach((v, i) => walk(v, false, `${at}[${i}]`));
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (PII_KEYS.includes(k) || (inPerson && k === 'name')) keys.push(`${at}.${k}`);
      walk(v, ['customer', 'buyer', 'user'].includes(k), `${at}.${k}`);
    }
  };
  const payloads = await w.pool.query('SELECT id, payload FROM raw_events WHERE venue_id LIKE $1', [`${w.tag}-%`]);
  for (const r of payloads.rows) walk(r.payload, false, r.id);
  assert.equal(keys.length, 0, `personal keys stored: ${sample(keys)}`);
}

const PII_KEYS = ['firstName', 'lastName', 'fullName', 'email', 'phone', 'phoneNumber', 'address', 'street', 'postalAddress', 'dateOfBirth'];

/** customer_hash and the hashed ids in data equal HMAC-SHA256(salt, raw id) computed here. */
export async function assertCustomerHashes(w, exp) {
  const { rows } = await w.pool.query(
    `SELECT id, customer_hash, payload->>'userId' AS env_user, payload->'data'->>'customerId' AS customer_id,
            payload->'data'->>'sellerId' AS seller_id, payload->'data'->'buyer'->>'buyerId' AS buyer_id
       FROM raw_events WHERE venue_id LIKE $1`, [`${w.tag}-%`]);
  let checked = 0;
  const bad = [];
  for (const r of rows) {
    const e = exp.events.get(r.id);
    if (!e) continue;
    const d = e.envelope.data;
    const pairs = [
      ['customer_hash', r.customer_hash, e.envelope.userId],
      ['payload.userId', r.env_user, e.envelope.userId],
      ['data.customerId', r.customer_id, d.customerId],
      ['data.sellerId', r.seller_id, d.sellerId],
      ['data.buyer.buyerId', r.buyer_id, d.buyer?.buyerId],
    ];
    for (const [what, got, raw] of pairs) {
      const want = raw === undefined ? null : hmacHex(w.salt, raw);
      if (raw !== undefined) checked++;
      if (got !== want) bad.push(`${r.id} ${what}: got ${got}, want HMAC-SHA256(salt, ${raw}) = ${want}`);
    }
  }
  assert.ok(checked > 100, `only ${checked} customer ids were published`);
  assert.equal(bad.length, 0, `wrong customer hashes (${bad.length}):\n${bad.slice(0, 5).join('\n')}`);
  assert.ok(rows.every((r) => r.customer_hash === null || /^[0-9a-f]{64}$/.test(r.customer_hash)), 'customer_hash is 64 lowercase hex');
}

/** realtime_counters == the model, row for row. */
export async function assertPgCounters(w, exp) {
  assert.deepEqual(await w.pgCounters(), exp.counterRows(), 'realtime_counters per venue and UTC day (revenue in cents)');
}

/**
 * Redis counter:{venue}:{day} hashes == the model (waiting for the copy to
 * catch up), versions equal to PostgreSQL's, and for today the plain keys
 * realtime:{venue}:revenue|sales|traffic.
 */
export async function assertRedisCounters(w, exp, { days, timeoutMs = 15000 } = {}) {
  const want = exp.counterRows({ days });
  const r = await w.waitRedis(want, { days, timeoutMs });
  assert.deepEqual(r.value, want, `Redis counter hashes after ${r.ms} ms${r.error ? ` (last error: ${r.error.message})` : ''}`);
  const pgv = await w.pool.query('SELECT venue_id, day::text AS day, version::text FROM realtime_counters WHERE venue_id LIKE $1', [`${w.tag}-%`]);
  for (const row of pgv.rows) {
    if (days && !days.includes(row.day)) continue;
    const h = await w.redis.hgetall(`counter:${row.venue_id}:${row.day}`);
    assert.equal(h?.version, row.version, `counter:${row.venue_id}:${row.day} version == realtime_counters.version`);
  }
  const today = utcDay(Date.now());
  for (const c of want.filter((x) => x.day === today)) {
    const [rev, sales, traffic] = await Promise.all(['revenue', 'sales', 'traffic'].map((k) => w.redis.get(`realtime:${c.venueId}:${k}`)));
    if (utcDay(Date.now()) !== today) return; // the day turned while reading: today's keys moved on
    assert.ok(rev !== null, `realtime:${c.venueId}:revenue is missing`);
    assert.equal(String(parseCents(rev)), c.revenue_cents, `realtime:${c.venueId}:revenue (${rev}) in cents`);
    assert.equal(sales, c.sales, `realtime:${c.venueId}:sales`);
    assert.equal(traffic, c.traffic, `realtime:${c.venueId}:traffic`);
  }
}

/**
 * The dead-letter queue holds each malformed message once, byte for byte,
 * persistent, with its routing key and a one-line x-reject-reason naming
 * the field. Consumes the queue.
 */
export async function assertDeadLetters(w, exp, takeAll, { allowRepeats = false } = {}) {
  const got = await takeAll(w.ch, w.names.dlq);
  const pending = new Map();
  for (const b of exp.bad) {
    const k = Buffer.from(b.body).toString('hex');
    if (!pending.has(k)) pending.set(k, []);
    pending.get(k).push(b);
  }
  const problems = [];
  let repeats = 0;
  for (const m of got) {
    const k = m.content.toString('hex');
    const list = pending.get(k);
    if (!list) {
      problems.push(`unexpected dead letter: ${m.content.toString().slice(0, 200)}`);
      continue;
    }
    if (list.length === 0) {
      // A message dead-lettered again after a crash between the DLX confirm
      // and the ack: allowed only when the test crashed ingest.
      if (!allowRepeats) problems.push(`dead-lettered twice: ${m.content.toString().slice(0, 200)}`);
      else repeats++;
      continue;
    }
    const b = list.shift();
    const h = m.properties.headers ?? {};
    const reason = h['x-reject-reason'] === undefined ? undefined : String(h['x-reject-reason']);
    const rk = h['x-original-routing-key'] === undefined ? undefined : String(h['x-original-routing-key']);
    if (!reason || /[\r\n]/.test(reason)) problems.push(`${b.what}: x-reject-reason ${JSON.stringify(reason)} is not one non-empty line`);
    else if (b.field && !reason.includes(b.field)) problems.push(`${b.what}: x-reject-reason ${JSON.stringify(reason)} does not name ${b.field}`);
    if (rk !== b.routingKey) problems.push(`${b.what}: x-original-routing-key ${JSON.stringify(rk)}, want ${b.routingKey}`);
    if (m.fields.routingKey !== b.routingKey) problems.push(`${b.what}: routing key ${m.fields.routingKey}, want ${b.routingKey}`);
    if (m.properties.deliveryMode !== 2) problems.push(`${b.what}: dead letter not persistent (deliveryMode ${m.properties.deliveryMode})`);
  }
  const lost = [...pending.values()].flat();
  for (const b of lost) problems.push(`malformed message (${b.what}) missing from the dead-letter queue: ${Buffer.from(b.body).toString().slice(0, 120)}`);
  assert.equal(got.length - repeats, exp.bad.length, `dead letters: got ${got.length} (${repeats} repeats), want ${exp.bad.length}; ${problems.slice(0, 5).join('; ')}`);
  assert.equal(problems.length, 0, problems.slice(0, 10).join('\n'));
  return { got, repeats };
}
