// datasets.mjs - seeded sales datasets for the tests that compare
// query-api's answers with raw_events (analytics, customers-query).
//
// From one seed: the venues' IANA zones (the first venue always in a zone
// with daylight saving time, the second without a venues row, i.e. UTC), one
// DST change of the last year per DST venue with sales around it and at the
// edges of its local days, customers who buy again and again at several
// venues, anonymous purchases, refunds (with a customer, without one, a
// customer with a refund only), several channels, event types and shows,
// and the split of the stream into what is published before the
// aggregator's first pass and what arrives late, inside its late window,
// newest first, with re-publications of earlier events.
//
// Messages have the shape of EventFactory's (events.mjs), so that Expected
// and Publisher take them as they are.
import { formatCents, isoAt, utcDay } from './events.mjs';

const MINUTE = 60000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ------------------------------------------------------------ time zones

// Zones whose rules have not changed for years (Node's ICU and PostgreSQL's
// tzdata agree on them). With DST: one-hour changes at 01:00, 02:00 and
// 03:00, a half-hour change (Lord Howe), half- and quarter-hour offsets
// (Adelaide, St John's, Chatham), a change at midnight (Havana: 00:00 is
// skipped in spring and happens twice in autumn).
export const DST_ZONES = ['America/New_York', 'America/Los_Angeles', 'America/Chicago', 'Europe/London', 'Europe/Berlin',
  'Australia/Sydney', 'Pacific/Auckland', 'Australia/Adelaide', 'Australia/Lord_Howe', 'America/Havana', 'America/St_Johns',
  'Pacific/Chatham'];
// Without DST: half- and quarter-hour offsets, ten and fourteen hours from UTC.
export const FIXED_ZONES = ['Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Tokyo', 'America/Sao_Paulo', 'America/Phoenix',
  'Pacific/Honolulu', 'Pacific/Kiritimati'];

const offsetFormats = new Map();

/** The UTC offset of zone tz at instant ms, in minutes east of UTC. */
export function offsetMinutes(ms, tz) {
  let f = offsetFormats.get(tz);
  if (!f) offsetFormats.set(tz, (f = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' })));
  const name = f.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName').value; // GMT, GMT-05:00, GMT+05:45
  const m = /^GMT(?:([+-])(\d\d):(\d\d))?$/.exec(name);
  if (!m) throw new Error(`UTC offset of ${tz}: ${name}`);
  return m[1] ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

/** The local date (YYYY-MM-DD) of instant ms in tz. */
export function localDate(ms, tz) {
  return new Date(ms + offsetMinutes(ms, tz) * MINUTE).toISOString().slice(0, 10);
}

/** date (YYYY-MM-DD) plus n days. */
export function addDays(date, n) {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
}

/**
 * The first instant (ms) of local date `date` in tz: its 00:00, or where
 * 00:00 is skipped the change's instant, or where it happens twice the
 * first of them.
 */
export function localDayStart(date, tz) {
  const wall = Date.parse(`${date}T00:00:00Z`);
  // The day begins at the offset of the day before or at that of the day after.
  const starts = [offsetMinutes(wall - DAY, tz), offsetMinutes(wall + DAY, tz)].map((off) => wall - off * MINUTE)
    .filter((t) => localDate(t, tz) === date && localDate(t - 1, tz) !== date);
  if (starts.length === 0) throw new Error(`no first instant of ${date} in ${tz}`);
  return Math.min(...starts);
}

/** Hours of local date `date` in tz (23, 23.5, 24, 24.5, 25). */
export function dayHours(date, tz) {
  return (localDayStart(addDays(date, 1), tz) - localDayStart(date, tz)) / HOUR;
}

/**
 * The changes of tz's UTC offset in [fromMs, toMs): [{ms (first instant
 * of the new offset), date (its local date), minutes (new - old offset)}].
 */
export function offsetChanges(tz, fromMs, toMs) {
  const out = [];
  const step = 6 * HOUR;
  for (let t = Math.floor(fromMs / HOUR) * HOUR; t < toMs; t += step) {
    const before = offsetMinutes(t, tz);
    if (offsetMinutes(t + step, tz) === before) continue;
    let lo = t; // old offset
    let hi = t + step; // new offset
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      if (offsetMinutes(mid, tz) === before) lo = mid;
      else hi = mid;
    }
    if (hi < toMs && hi >= fromMs) out.push({ ms: hi, date: localDate(hi, tz), minutes: offsetMinutes(hi, tz) - before });
  }
  return out;
}

/**
 * The venues of a dataset, zones drawn with rng: ids[0] in a DST zone,
 * ids[1] without a venues row (UTC), the others in any zone of both lists.
 * A venue whose zone changed its offset in the last year gets one of those
 * changes (half the time the latest one when it was in the last 85 days,
 * so that the 90-day dashboard spans it):
 * [{id, zone (null: no venues row), tz, change: {ms, date, minutes, hours} | null}].
 */
export function seededVenues(rng, ids, now) {
  return ids.map((id, i) => {
    const zone = i === 0 ? rng.pick(DST_ZONES) : i === 1 ? null : rng.pick([...DST_ZONES, ...FIXED_ZONES]);
    const tz = zone ?? 'UTC';
    const changes = offsetChanges(tz, now - 365 * DAY, now - 2 * DAY);
    const recent = changes.filter((c) => c.ms > now - 85 * DAY);
    const c = recent.length && rng.chance(0.5) ? recent.at(-1) : changes.length ? rng.pick(changes) : null;
    return { id, zone, tz, change: c && { ...c, hours: dayHours(c.date, tz) } };
  });
}

/** The windows of instants around each venue's change (for EventFactory): 30 h either side. */
export function changeWindows(venues) {
  return venues.filter((v) => v.change).map((v) => ({ startMs: v.change.ms - 30 * HOUR, endMs: v.change.ms + 30 * HOUR }));
}

// ------------------------------------------------------------ customers

const CHANNELS = ['web', 'mobile', 'box-office', 'partner'];
const TYPES = ['concert', 'sports', 'theater'];

/**
 * Sales of known customers at `venues` (from seededVenues), as messages:
 * per venue customers(i) people (the same userIds at every venue) buying
 * once to seven times over the last `days` days (a third of it in the last
 * 3 days), a third of them with a refund; 24 anonymous purchases and 12
 * more in the last 3 days (half of them by those customers); refunds
 * without a customer; a customer who only got a refund; around each venue's
 * change 25 purchases and a refund, and purchases one minute after the
 * start and one minute before the end of the change's local day and of the
 * day before.
 */
export function customerSales(rng, { tag, venues, now, days = 50, customers }) {
  const out = [];
  let seq = 0;
  const push = (venue, type, ms, { user, show, data, revenue, sales }) => {
    const id = `${tag}-c${seq++}`;
    const env = { id, type, occurredAt: isoAt(ms, offsetMinutes(ms, venue.tz), false), venueId: venue.id };
    if (show) env.eventId = show;
    if (user) env.userId = user;
    env.data = data;
    out.push({ kind: 'valid', id, type, routingKey: type, body: JSON.stringify(env), envelope: env,
      venueId: venue.id, day: utcDay(ms), occurredMs: ms, revenue, sales });
  };
  const cents = () => BigInt(rng.int(100, 20000));
  const purchase = (venue, ms, user) => {
    const price = cents();
    const qty = rng.int(1, 4);
    const data = { ticketId: `${tag}-ctk${seq}`, orderId: `${tag}-co${seq}`, price: formatCents(price), currency: 'USD' };
    if (qty > 1) data.quantity = qty;
    if (rng.chance(0.85)) data.channel = rng.pick(CHANNELS);
    if (rng.chance(0.8)) data.eventType = rng.pick(TYPES);
    const show = rng.chance(0.8) ? `${tag}-show${rng.int(1, 5)}` : undefined;
    push(venue, 'ticket.purchased', ms, { user, show, data, revenue: price * BigInt(qty), sales: BigInt(qty) });
  };
  const refund = (venue, ms, user) => {
    const amount = cents();
    const data = { ticketId: `${tag}-ctk${rng.int(0, seq)}`, orderId: `${tag}-co${rng.int(0, seq)}`, amount: formatCents(amount) };
    if (rng.chance(0.3)) data.channel = rng.pick(CHANNELS);
    push(venue, 'ticket.refunded', ms, { user, data, revenue: -amount, sales: 0n });
  };
  // Whole seconds, up to a minute ago, over the last 3 days or the last `days`.
  const instant = (span = rng.chance(0.35) ? 3 * DAY : days * DAY) => {
    const ms = now - MINUTE - Math.floor(rng() * span);
    return ms - (ms % 1000);
  };
  venues.forEach((venue, i) => {
    const n = customers(i);
    const someone = () => (rng.chance(0.5) ? `${tag}-user${rng.int(0, n - 1)}` : undefined);
    for (let c = 0; c < n; c++) {
      const user = `${tag}-user${c}`;
      const times = rng.int(1, c % 5 === 0 ? 7 : 3);
      for (let k = 0; k < times; k++) purchase(venue, instant(), user);
      if (rng.chance(0.3)) refund(venue, instant(), user);
    }
    for (let k = 0; k < 24; k++) purchase(venue, instant(), undefined);
    for (let k = 0; k < 12; k++) purchase(venue, instant(3 * DAY), someone());
    for (let k = 0; k < 4; k++) refund(venue, instant(), undefined);
    refund(venue, instant(), `${tag}-refund-only`);
    const c = venue.change;
    if (!c) return;
    for (let k = 0; k < 25; k++) {
      const ms = c.ms - 36 * HOUR + Math.floor(rng() * 72 * HOUR);
      purchase(venue, ms - (ms % 1000), someone());
    }
    refund(venue, c.ms + rng.int(-30, 30) * HOUR, `${tag}-user1`);
    for (const date of [addDays(c.date, -1), c.date]) {
      purchase(venue, localDayStart(date, venue.tz) + MINUTE, someone());
      purchase(venue, localDayStart(addDays(date, 1), venue.tz) - MINUTE, someone());
    }
  });
  return out;
}

// ------------------------------------------------- publication order

/** msgs with n re-publications of some of them, each placed after its original. */
export function republished(rng, msgs, n) {
  const out = [...msgs];
  for (let k = 0; k < n && msgs.length; k++) {
    const i = rng.int(0, msgs.length - 1);
    const at = out.indexOf(msgs[i]);
    out.splice(rng.int(at + 1, out.length), 0, { ...msgs[i], kind: 'dup' });
  }
  return out;
}

/**
 * Splits a stream (every publication of an event stays with its first) into
 * `first`, published before the aggregator's first pass, and `late`: about
 * `share` of the events of the last `lateMs` (inside the aggregator's 48 h
 * late window), newest first, with `republish` re-publications of events of
 * `first` among them.
 */
export function splitLate(rng, msgs, { now, lateMs = 40 * HOUR, share = 0.5, republish = 100 }) {
  const late = new Set();
  const seen = new Set();
  for (const m of msgs) {
    if (m.kind === 'bad' || seen.has(m.id)) continue;
    seen.add(m.id);
    if (m.occurredMs >= now - lateMs && rng.chance(share)) late.add(m.id);
  }
  const first = msgs.filter((m) => !late.has(m.id));
  const newest = msgs.filter((m) => late.has(m.id)).sort((a, b) => b.occurredMs - a.occurredMs);
  for (let k = 0; k < republish && first.length; k++) newest.splice(rng.int(0, newest.length), 0, { ...rng.pick(first), kind: 'dup' });
  return { first, late: newest };
}
