// harness.mjs - what every end-to-end test file needs: start a service
// binary with its environment and wait until it is ready, stop it and check
// that it exited cleanly (code 0, no sanitizer report), isolate the test's
// RabbitMQ objects, rows and Redis keys, publish with confirms, read the
// dead-letter queue, restart the stack's servers, and clean up even when
// the test failed.
//
// Isolation: tests of one run, other engineers' runs and the developer's
// own `tt up` share one PostgreSQL, one Redis and one RabbitMQ. Every test
// file therefore gets a tag (e2e-<name>-<pid>) that prefixes its venue ids
// and event ids, its own exchange, dead-letter exchange and queues, and its
// own ports; it deletes exactly those rows, keys and objects at the start and
// at the end instead of truncating shared tables.
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import amqp from 'amqplib';
import pg from 'pg';

import * as stack from './stack-env.mjs';
import { RedisClient, redisConnectRetry } from './redis.mjs';

export { sleep };

// ------------------------------------------------------------- utilities

/** A TCP port on 127.0.0.1 that nobody listens on right now. */
export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

/**
 * Calls fn until pred(value) holds or timeoutMs passes. Returns
 * {ok, value, error, ms}: value is the last value read, so that a failing
 * assertion can show how far the system got.
 */
export async function poll(fn, pred, { timeoutMs = 30000, intervalMs = 100 } = {}) {
  const t0 = Date.now();
  let value;
  let error;
  for (;;) {
    try {
      value = await fn();
      error = undefined;
      if (pred(value)) return { ok: true, value, ms: Date.now() - t0 };
    } catch (err) {
      error = err;
    }
    if (Date.now() - t0 > timeoutMs) return { ok: false, value, error, ms: Date.now() - t0 };
    await sleep(intervalMs);
  }
}

/** The tag of a test file: prefixes its ids, venues, queues and keys. */
export function makeTag(name) {
  return `e2e-${name}-${process.pid}`;
}

/** Text a sanitizer or the C runtime writes when something went wrong. */
const SANITIZER_RE = /(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|MemorySanitizer|runtime error:|SUMMARY: \w+Sanitizer)/;

/** The first lines of a sanitizer report in text, or null. */
export function sanitizerReport(text) {
  const m = SANITIZER_RE.exec(text);
  if (!m) return null;
  return text.slice(Math.max(0, m.index - 200), m.index + 3000);
}

export const logRoot = path.join(os.tmpdir(), `tt-e2e-${process.pid}`);

// --------------------------------------------------------------- services

const running = new Set();
process.on('exit', (code) => {
  // A test that threw before its cleanup ran must not leave binaries behind.
  for (const s of running) {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  // Keep the services' logs only when something failed (failure messages name them).
  if (code === 0 && !process.exitCode && running.size === 0 && process.env.TT_E2E_KEEP_LOGS !== '1') {
    fs.rmSync(logRoot, { recursive: true, force: true });
  }
});

let serviceSeq = 0;

/**
 * One running service binary. stdout and stderr are kept in memory and
 * copied to files under logRoot (named in failure messages).
 */
export class Service {
  /**
   * name: services/<name>/<name> under TT_BIN_DIR; env: variables on top of
   * stack-env's serviceEnv(); healthPort: where /health/ready answers;
   * readyLog: a regexp of a stdout line meaning ready (for binaries whose
   * health endpoint does not exist yet).
   */
  constructor(name, { env = {}, healthPort = null, readyLog = null, readyPath = '/health/ready' } = {}) {
    this.name = name;
    this.env = env;
    this.healthPort = healthPort;
    this.readyLog = readyLog;
    this.readyPath = readyPath;
    this.stdout = '';
    this.stderr = '';
    this.exitInfo = null;
    this.seq = ++serviceSeq;
  }

  start() {
    const bin = stack.binPath(this.name);
    assert.ok(fs.existsSync(bin), `${bin} does not exist: build it (tools/tt build --asan) or set TT_BIN_DIR`);
    fs.mkdirSync(logRoot, { recursive: true });
    this.outPath = path.join(logRoot, `${this.name}-${this.seq}.out`);
    this.errPath = path.join(logRoot, `${this.name}-${this.seq}.err`);
    const outFile = fs.createWriteStream(this.outPath);
    const errFile = fs.createWriteStream(this.errPath);
    this.child = spawn(bin, [], { env: stack.serviceEnv(this.env), stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    running.add(this);
    this.child.stdout.on('data', (d) => {
      outFile.write(d);
      // Keep the most recent 4 MB; older lines are in the file.
      this.stdout = (this.stdout + d.toString()).slice(-4 * 1024 * 1024);
    });
    this.child.stderr.on('data', (d) => {
      errFile.write(d);
      this.stderr = (this.stderr + d.toString()).slice(-4 * 1024 * 1024);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        running.delete(this);
        this.exitInfo = { code, signal };
        // Give the pipes a moment to deliver the last bytes (ASan reports).
        setTimeout(() => {
          outFile.end();
          errFile.end();
          resolve(this.exitInfo);
        }, 50);
      });
    });
    return this;
  }

  get alive() {
    return this.exitInfo === null;
  }

  /** Names the log files, for failure messages. */
  get logs() {
    return `${this.outPath} ${this.errPath}`;
  }

  /** How many stdout lines match re so far. */
  count(re) {
    const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
    return (this.stdout.match(g) ?? []).length;
  }

  async #healthReady() {
    if (!this.healthPort) return false;
    try {
      const res = await fetch(`http://127.0.0.1:${this.healthPort}${this.readyPath}`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** Waits until the readiness endpoint answers 200 or the ready line is logged. */
  async waitReady({ timeoutMs = 60000 } = {}) {
    const t0 = Date.now();
    for (;;) {
      if (!this.alive) {
        assert.fail(`${this.name} exited (${JSON.stringify(this.exitInfo)}) before it was ready; ` +
          `stderr: ${this.stderr.slice(-2000)} stdout: ${this.stdout.slice(-2000)} (logs: ${this.logs})`);
      }
      if (this.readyLog && this.readyLog.test(this.stdout)) return Date.now() - t0;
      if (await this.#healthReady()) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) {
        assert.fail(`${this.name} not ready after ${timeoutMs} ms (logs: ${this.logs}); stdout tail: ${this.stdout.slice(-2000)}`);
      }
      await sleep(50);
    }
  }

  /** Sends a signal (no wait). */
  signal(sig) {
    if (this.alive) this.child.kill(sig);
  }

  /** kill -9; resolves when the process is gone. */
  async kill9() {
    this.signal('SIGKILL');
    return this.exited;
  }

  /**
   * SIGTERM and wait (SIGKILL after timeoutMs). Returns {code, signal,
   * elapsedMs, report}; report is a sanitizer report found on stderr/stdout.
   */
  async stop({ timeoutMs = 60000 } = {}) {
    const t0 = Date.now();
    if (this.alive) {
      this.signal('SIGTERM');
      const timer = sleep(timeoutMs, 'timeout', { ref: false });
      const r = await Promise.race([this.exited, timer]);
      if (r === 'timeout') {
        this.signal('SIGKILL');
        await this.exited;
        return { code: null, signal: 'SIGKILL', timedOut: true, elapsedMs: Date.now() - t0, report: sanitizerReport(this.stderr) };
      }
    }
    const info = await this.exited;
    return { ...info, timedOut: false, elapsedMs: Date.now() - t0, report: sanitizerReport(this.stderr + this.stdout) };
  }

  /** stop() and assert a clean exit: code 0, within the timeout, no sanitizer report. */
  async stopClean(opts) {
    const r = await this.stop(opts);
    assert.equal(r.timedOut, false, `${this.name} did not exit within the timeout after SIGTERM (logs: ${this.logs})`);
    assert.equal(r.report, null, `${this.name} stderr holds a sanitizer report (logs: ${this.logs}):\n${r.report}`);
    assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null },
      `${this.name} exit after SIGTERM (logs: ${this.logs}); stderr tail: ${this.stderr.slice(-3000)}`);
    return r;
  }

  /** Best effort for cleanup paths: SIGTERM, then SIGKILL. */
  async shutdown() {
    if (!this.alive) return this.exitInfo;
    return this.stop({ timeoutMs: 20000 });
  }
}

// --------------------------------------------------------------- RabbitMQ

/**
 * Starts query-api on a free port and waits until it is ready. Its rate
 * limit is out of the way (100,000 per window) unless env says otherwise;
 * services (e.g. an IngestWorld's) gets it for the cleanup when given.
 */
export async function startQueryApi({ services, env = {} } = {}) {
  const port = await freePort();
  const svc = new Service('query-api', { env: { PORT: String(port), RATE_LIMIT_MAX: '100000', LOG_LEVEL: 'info', ...env }, healthPort: port });
  services?.push(svc);
  svc.start();
  await svc.waitReady();
  return { svc, port, base: `http://127.0.0.1:${port}` };
}

/** The RabbitMQ objects of one test file (ingest's RABBITMQ_* variables). */
export function ingestNames(tag) {
  return {
    exchange: `tickettoken.events.${tag}`,
    queue: `analytics.events.${tag}`,
    dlx: `analytics.dlx.${tag}`,
    dlq: `analytics.events.dead.${tag}`,
  };
}

/** RABBITMQ_QUEUE_TYPE the tests run ingest with (ingest's default: quorum). */
export const queueType = process.env.TT_E2E_QUEUE_TYPE ?? 'quorum';

export function ingestNameEnv(n) {
  return { RABBITMQ_EXCHANGE: n.exchange, RABBITMQ_QUEUE: n.queue, RABBITMQ_DLX: n.dlx, RABBITMQ_DLQ: n.dlq, RABBITMQ_QUEUE_TYPE: queueType };
}

/**
 * Declares the proto/README.md topology with the test's names and the same
 * arguments as ingest (so that publishing may start before ingest does).
 */
export async function declareTopology(ch, n) {
  await ch.assertExchange(n.exchange, 'topic', { durable: true });
  await ch.assertExchange(n.dlx, 'fanout', { durable: true });
  await ch.assertQueue(n.dlq, { durable: true, arguments: { 'x-queue-type': queueType } });
  await ch.bindQueue(n.dlq, n.dlx, '#');
  await ch.assertQueue(n.queue, { durable: true, arguments: { 'x-queue-type': queueType, 'x-dead-letter-exchange': n.dlx } });
  await ch.bindQueue(n.queue, n.exchange, '#');
}

/** Deletes the test's queues and exchanges (on a connection of its own). */
export async function deleteTopology(n) {
  const conn = await amqpConnectRetry(15000);
  try {
    const ch = await conn.createChannel();
    for (const q of [n.queue, n.dlq]) await ch.deleteQueue(q);
    for (const x of [n.exchange, n.dlx]) await ch.deleteExchange(x);
    await ch.close();
  } finally {
    await conn.close().catch(() => {});
  }
}

export async function amqpConnectRetry(timeoutMs = 30000) {
  const t0 = Date.now();
  for (;;) {
    try {
      const conn = await amqp.connect(stack.amqpUrl);
      conn.on('error', () => {});
      return conn;
    } catch (err) {
      if (Date.now() - t0 > timeoutMs) throw err;
      await sleep(250);
    }
  }
}

/**
 * A publisher on a confirm channel: persistent, mandatory messages (an
 * unroutable one is counted in `returned`, never lost silently).
 */
export class Publisher {
  static async open() {
    const p = new Publisher();
    p.conn = await amqpConnectRetry();
    p.ch = await p.conn.createConfirmChannel();
    p.ch.on('error', () => {});
    p.returned = [];
    p.ch.on('return', (m) => p.returned.push(m));
    return p;
  }

  /**
   * Publishes msgs ({routingKey, body}) to exchange and waits for every
   * confirm. ratePerSec > 0 spreads them in time (10 ms ticks).
   */
  async publish(exchange, msgs, { ratePerSec = 0, onProgress } = {}) {
    const t0 = Date.now();
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i];
      const body = Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body);
      const ok = this.ch.publish(exchange, m.routingKey, body, { persistent: true, mandatory: true, contentType: 'application/json' });
      if (!ok) await once(this.ch, 'drain');
      if (ratePerSec > 0) {
        const due = t0 + ((i + 1) * 1000) / ratePerSec;
        const wait = due - Date.now();
        if (wait >= 10) await sleep(wait);
      }
      if (onProgress) await onProgress(i + 1);
    }
    await this.ch.waitForConfirms();
    return Date.now() - t0;
  }

  async close() {
    await this.ch.close().catch(() => {});
    await this.conn.close().catch(() => {});
  }
}

/** Number of ready messages in a queue (0 when it does not exist). */
export async function queueDepth(ch, queue) {
  const q = await ch.checkQueue(queue);
  return q.messageCount;
}

/**
 * Takes (and acks) every message of a queue: [{content: Buffer, fields,
 * properties}]. Consumes until the count the queue had at the start is in,
 * then idleMs more for stragglers.
 */
export async function takeAll(ch, queue, { idleMs = 300, timeoutMs = 30000 } = {}) {
  const { messageCount } = await ch.checkQueue(queue);
  const out = [];
  let last = Date.now();
  const { consumerTag } = await ch.consume(queue, (m) => {
    if (m === null) return;
    out.push(m);
    ch.ack(m);
    last = Date.now();
  }, { noAck: false });
  const t0 = Date.now();
  while (!(out.length >= messageCount && Date.now() - last >= idleMs) && Date.now() - t0 < timeoutMs) await sleep(20);
  await ch.cancel(consumerTag);
  return out;
}

// -------------------------------------------------------- PostgreSQL/Redis

export function pgPool() {
  const pool = new pg.Pool({ ...stack.pg, max: 4, connectionTimeoutMillis: 5000 });
  // Idle connections die when PostgreSQL restarts; that must not crash the runner.
  pool.on('error', () => {});
  return pool;
}

export async function redisClient() {
  return RedisClient.connect(stack.redis);
}

/** Deletes every row of the tag's venues and events. */
export async function deleteRows(pool, tag) {
  const like = `${tag}-%`;
  await pool.query('DELETE FROM raw_events WHERE venue_id LIKE $1', [like]);
  await pool.query('DELETE FROM raw_event_ids WHERE id LIKE $1', [like]);
  await pool.query('DELETE FROM realtime_counters WHERE venue_id LIKE $1', [like]);
  await pool.query('DELETE FROM analytics_metrics WHERE venue_id LIKE $1', [like]);
}

export async function deleteRedisKeys(redis, tag) {
  let n = 0;
  for (const p of [`counter:${tag}-*`, `realtime:${tag}-*`, `realtime:data:${tag}-*`]) n += await redis.deletePattern(p);
  return n;
}

// ------------------------------------------------------- stack servers

export const stackDir = process.env.TT_STACK_DIR ?? path.join(stack.repoRoot, '.stack');

/** Where PostgreSQL's and RabbitMQ's state lives (tools/lib/stack.sh: server-root). */
export function serverRoot() {
  try {
    return fs.readFileSync(path.join(stackDir, 'server-root'), 'utf8').trim() || stackDir;
  } catch {
    return stackDir;
  }
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 180000, ...opts }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(st);
  } catch {
    return false;
  }
}

/** `tools/tt stack up`: starts whichever server is down and waits until each answers. */
export async function stackUp() {
  return run(path.join(stack.repoRoot, 'tools', 'tt'), ['stack', 'up'], { cwd: stack.repoRoot });
}

/** Stops the stack's Redis (SIGTERM to the pid of its pid file) and waits until it is gone. */
export async function redisStop() {
  const pid = Number(fs.readFileSync(path.join(stackDir, 'run', 'redis.pid'), 'utf8').trim());
  assert.ok(pid > 0 && fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'redis-server', `no redis-server at pid ${pid}`);
  process.kill(pid, 'SIGTERM');
  const r = await poll(async () => pidAlive(pid), (alive) => !alive, { timeoutMs: 30000, intervalMs: 50 });
  assert.ok(r.ok, `redis-server ${pid} still running 30 s after SIGTERM`);
}

/** Stops the stack's RabbitMQ (SIGTERM to the Erlang VM of its pid file) and waits until it is gone. */
export async function rabbitmqStop() {
  const pidFile = path.join(serverRoot(), 'rabbitmq', 'rabbitmq.pid');
  const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  assert.ok(pid > 0 && fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'beam.smp', `no beam.smp at pid ${pid} (${pidFile})`);
  process.kill(pid, 'SIGTERM');
  const r = await poll(async () => pidAlive(pid), (alive) => !alive, { timeoutMs: 60000, intervalMs: 100 });
  assert.ok(r.ok, `rabbitmq ${pid} still running 60 s after SIGTERM`);
}

/** pg_ctl restart -m fast on the stack's cluster, as the postgres user; resolves once it accepts connections. */
export async function pgRestart() {
  const pgBin = process.env.TT_PG_BIN ?? '/usr/lib/postgresql/15/bin';
  const root = serverRoot();
  const args = ['--reuid=postgres', '--regid=postgres', '--init-groups', 'env', 'HOME=/var/lib/postgresql',
    `${pgBin}/pg_ctl`, '-D', path.join(root, 'pg', 'data'), '-l', path.join(root, 'logs', 'postgres.log'),
    '-m', 'fast', '-w', '-t', '120', '-s', 'restart'];
  // Detached: the new postmaster must not belong to the test's process group or hold its pipes.
  const child = spawn('setpriv', args, { cwd: '/', detached: true, stdio: 'ignore' });
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, `pg_ctl restart exited ${code} (see ${path.join(root, 'logs', 'postgres.log')})`);
}

// ------------------------------------------------------------ ingest world

/**
 * Everything one ingest test file works with: its tag and RabbitMQ names,
 * a publisher, an AMQP channel for queue checks, a PostgreSQL pool, a Redis
 * client, and the ingest processes it started. close() undoes all of it.
 */
export class IngestWorld {
  static async open(name, { salt } = {}) {
    const w = new IngestWorld();
    w.tag = makeTag(name);
    w.names = ingestNames(w.tag);
    w.salt = salt ?? `e2e-salt-${w.tag}`;
    w.services = [];
    w.pool = pgPool();
    w.redis = await redisClient();
    w.pub = await Publisher.open();
    w.admin = await amqpConnectRetry();
    w.#watchChannel(await w.admin.createChannel());
    await deleteRows(w.pool, w.tag);
    await deleteRedisKeys(w.redis, w.tag);
    await declareTopology(w.ch, w.names);
    return w;
  }

  /** The environment of an ingest of this world; extra on top. */
  async ingestEnv(extra = {}) {
    const healthPort = await freePort();
    const nngPort = await freePort();
    return {
      ...ingestNameEnv(this.names),
      CUSTOMER_HASH_SALT: this.salt,
      NNG_PUB_URL: `tcp://127.0.0.1:${nngPort}`,
      HEALTH_PORT: String(healthPort),
      LOG_LEVEL: 'info',
      ...extra,
    };
  }

  /** Starts an ingest and waits until it consumes. */
  async startIngest(extra = {}) {
    const env = await this.ingestEnv(extra);
    const svc = new Service('ingest', { env, healthPort: Number(env.HEALTH_PORT), readyLog: /"msg":"consuming"/ });
    this.services.push(svc);
    svc.start();
    await svc.waitReady();
    return svc;
  }

  /** Stored ids of this world. */
  async storedIdCount() {
    const r = await this.pool.query('SELECT count(*)::bigint AS n FROM raw_event_ids WHERE id LIKE $1', [`${this.tag}-%`]);
    return Number(r.rows[0].n);
  }

  async rawRowCount() {
    const r = await this.pool.query('SELECT count(*)::bigint AS n FROM raw_events WHERE venue_id LIKE $1', [`${this.tag}-%`]);
    return Number(r.rows[0].n);
  }

  /** realtime_counters of this world, sorted, values as strings. */
  async pgCounters() {
    const r = await this.pool.query(
      `SELECT venue_id, day::text AS day, revenue_cents::text, sales::text, traffic::text
         FROM realtime_counters WHERE venue_id LIKE $1 ORDER BY venue_id, day`, [`${this.tag}-%`]);
    return r.rows.map((x) => ({ venueId: x.venue_id, day: x.day, revenue_cents: x.revenue_cents, sales: x.sales, traffic: x.traffic }));
  }

  /** Reconnects the Redis client and the AMQP channel when a server restart broke them. */
  async heal() {
    if (this.redis.closed) this.redis = await redisConnectRetry(stack.redis, 60000);
    if (this.chBroken) {
      await this.admin.close().catch(() => {});
      await this.pub.close();
      this.admin = await amqpConnectRetry(60000);
      this.#watchChannel(await this.admin.createChannel());
      this.pub = await Publisher.open();
    }
  }

  #watchChannel(ch) {
    this.ch = ch;
    this.chBroken = false;
    const broken = () => {
      this.chBroken = true;
    };
    ch.on('error', broken);
    ch.on('close', broken);
    this.admin.on('close', broken);
  }

  /** Redis counter hashes of this world (optionally only some days), same shape as pgCounters(). */
  async redisCounters({ days } = {}) {
    await this.heal();
    const keys = await this.redis.keys(`counter:${this.tag}-*`);
    const out = [];
    for (const k of keys) {
      const m = /^counter:(.+):(\d{4}-\d{2}-\d{2})$/.exec(k);
      if (!m) continue;
      if (days && !days.includes(m[2])) continue;
      const h = (await this.redis.hgetall(k)) ?? {};
      out.push({ venueId: m[1], day: m[2], revenue_cents: h.revenue_cents, sales: h.sales, traffic: h.traffic });
    }
    return out.sort((a, b) => (a.venueId === b.venueId ? a.day.localeCompare(b.day) : a.venueId.localeCompare(b.venueId)));
  }

  async depth(queue) {
    await this.heal();
    return queueDepth(this.ch, queue);
  }

  /**
   * Waits until ingest has taken in everything: storedIdCount() == ids,
   * `bad` messages in the dead-letter queue and the input queue empty.
   * Returns the poll result ({ok, value: {stored, dead, ready}}).
   */
  async waitDrained({ ids, bad, badAtLeast = false, timeoutMs = 120000 }) {
    return poll(
      async () => ({ stored: await this.storedIdCount(), dead: await this.depth(this.names.dlq), ready: await this.depth(this.names.queue) }),
      (v) => v.stored === ids && (badAtLeast ? v.dead >= bad : v.dead === bad) && v.ready === 0,
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** Polls storedIdCount() until it reaches n; returns the poll result. */
  async waitStored(n, { timeoutMs = 60000, intervalMs = 10 } = {}) {
    return poll(() => this.storedIdCount(), (v) => v >= n, { timeoutMs, intervalMs });
  }

  /** Polls Redis until its counters (of `days`) equal `expected`; returns the poll result. */
  async waitRedis(expected, { days, timeoutMs = 15000 } = {}) {
    return poll(() => this.redisCounters({ days }), (v) => JSON.stringify(v) === JSON.stringify(expected), { timeoutMs, intervalMs: 200 });
  }

  /** Undo everything; never throws (it runs in finally blocks). */
  async close() {
    const errors = [];
    const step = async (what, fn) => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${err.message}`);
      }
    };
    for (const s of this.services) await step(`stop ${s.name}`, () => s.shutdown());
    await step('delete topology', () => deleteTopology(this.names));
    await step('close publisher', () => this.pub.close());
    await step('close channel', () => this.admin.close());
    await step('delete rows', () => deleteRows(this.pool, this.tag));
    await step('delete redis keys', async () => {
      const r = await redisConnectRetry(stack.redis, 10000);
      try {
        await deleteRedisKeys(r, this.tag);
      } finally {
        r.close();
      }
    });
    this.redis.close();
    await step('close pool', () => this.pool.end());
    return errors;
  }
}
