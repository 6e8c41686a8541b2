// redis.mjs - a small RESP2 client for the end-to-end tests: enough to read
// the counters ingest keeps (HGETALL, GET, SCAN) and to clean up after a
// test (DEL). One connection, commands answered in order.
import net from 'node:net';

/** A Redis error reply ("-ERR ..."). */
export class RedisReplyError extends Error {}

/** Encodes one command as a RESP array of bulk strings. */
function encode(args) {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) {
    const b = Buffer.from(String(a));
    parts.push(`$${b.length}\r\n`, b, '\r\n');
  }
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
}

/**
 * Parses one reply from buf at offset; returns [value, nextOffset] or null
 * when the buffer does not hold a whole reply yet.
 */
function parse(buf, off) {
  if (off >= buf.length) return null;
  const eol = buf.indexOf('\r\n', off);
  if (eol < 0) return null;
  const kind = String.fromCharCode(buf[off]);
  const line = buf.toString('utf8', off + 1, eol);
  const next = eol + 2;
  switch (kind) {
    case '+':
      return [line, next];
    case '-':
      return [new RedisReplyError(line), next];
    case ':':
      return [BigInt(line), next];
    case '$': {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return null;
      return [buf.toString('utf8', next, next + n), next + n + 2];
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return [null, next];
      const out = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, at);
        if (r === null) return null;
        out.push(r[0]);
        at = r[1];
      }
      return [out, at];
    }
    default:
      throw new Error(`redis: unexpected reply type ${JSON.stringify(kind)}`);
  }
}

export class RedisClient {
  /** Connects to host:port; resolves when the connection is open. */
  static async connect({ host = '127.0.0.1', port = 6379, timeoutMs = 5000 } = {}) {
    const c = new RedisClient();
    await c.#open(host, port, timeoutMs);
    return c;
  }

  #sock = null;
  #buf = Buffer.alloc(0);
  #pending = [];
  #closedError = null;

  #open(host, port, timeoutMs) {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ host, port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`redis: connect to ${host}:${port} timed out`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        this.#sock = sock;
        resolve();
      });
      sock.on('error', (err) => {
        clearTimeout(timer);
        this.#fail(err);
        reject(err);
      });
      sock.on('close', () => this.#fail(new Error('redis: connection closed')));
      sock.on('data', (d) => this.#onData(d));
    });
  }

  #fail(err) {
    this.#closedError ??= err;
    const p = this.#pending;
    this.#pending = [];
    for (const { reject } of p) reject(err);
  }

  #onData(d) {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    let off = 0;
    for (;;) {
      const r = parse(this.#buf, off);
      if (r === null) break;
      off = r[1];
      const p = this.#pending.shift();
      if (p === undefined) continue;
      if (r[0] instanceof RedisReplyError) p.reject(r[0]);
      else p.resolve(r[0]);
    }
    this.#buf = this.#buf.subarray(off);
  }

  /** True once the connection failed or was closed. */
  get closed() {
    return this.#closedError !== null;
  }

  /** Sends one command; resolves with its reply. */
  command(...args) {
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#sock.write(encode(args));
    });
  }

  /** HGETALL as a plain object (null when the key does not exist). */
  async hgetall(key) {
    const flat = await this.command('HGETALL', key);
    if (!flat || flat.length === 0) return null;
    const out = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
    return out;
  }

  get(key) {
    return this.command('GET', key);
  }

  /** Every key matching a glob pattern (SCAN, so it never blocks the server). */
  async keys(pattern) {
    const out = new Set();
    let cursor = '0';
    do {
      const [next, batch] = await this.command('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000);
      for (const k of batch) out.add(k);
      cursor = next;
    } while (cursor !== '0');
    return [...out].sort();
  }

  /** Deletes every key matching pattern; returns how many were deleted. */
  async deletePattern(pattern) {
    const ks = await this.keys(pattern);
    for (let i = 0; i < ks.length; i += 500) await this.command('DEL', ...ks.slice(i, i + 500));
    return ks.length;
  }

  close() {
    if (this.#sock) {
      this.#sock.removeAllListeners('close');
      this.#sock.on('error', () => {});
      this.#sock.end();
      this.#sock.destroy();
    }
    this.#fail(new Error('redis: client closed'));
  }
}

/** Connects, retrying until deadline (for use right after a Redis restart). */
export async function redisConnectRetry(opts, deadlineMs = 30000) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      const c = await RedisClient.connect(opts);
      await c.command('PING');
      return c;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
