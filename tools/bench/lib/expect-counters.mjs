// expect-counters.mjs LOG.ndjson - the exact day counters that a tt-publish
// log must produce, computed here independently of ingest: one line per
// venue and UTC day, "venue|day|revenue_cents|sales|traffic", sorted.
// Money is parsed from the JSON text as decimal (BigInt cents), never float.
import fs from 'node:fs';
import readline from 'node:readline';

const cents = (x) => {
  const s = String(x);
  const neg = s.startsWith('-');
  const [i, f = ''] = s.replace('-', '').split('.');
  const c = BigInt(i) * 100n + BigInt((f + '00').slice(0, 2));
  return neg ? -c : c;
};

const totals = new Map();
const rl = readline.createInterface({ input: fs.createReadStream(process.argv[2]) });
for await (const line of rl) {
  if (!line) continue;
  const rec = JSON.parse(line);
  if (rec.kind !== 'new') continue;
  const e = JSON.parse(rec.body);
  const key = `${e.venueId}|${e.occurredAt.slice(0, 10)}`;
  let t = totals.get(key);
  if (!t) totals.set(key, (t = { rev: 0n, sales: 0n, traffic: 0n }));
  t.traffic++;
  if (e.type === 'ticket.purchased') {
    const q = BigInt(e.data.quantity ?? 1);
    t.rev += cents(e.data.price) * q;
    t.sales += q;
  } else if (e.type === 'ticket.refunded') {
    t.rev -= cents(e.data.amount);
  }
}
const out = [...totals.entries()].map(([k, t]) => `${k}|${t.rev}|${t.sales}|${t.traffic}`);
out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
