// http.mjs - HTTP requests through curl, the platform's own client: status,
// headers and body (parsed as JSON when it is JSON). A source address on the
// loopback network (127.0.0.x) makes the request come from another client,
// for the per-client rate limit.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let seq = 0;

/**
 * curlRequest(url, {method, headers, body, bodyFile, sourceIp, timeoutS})
 * -> {status, headers: {lowercase: value}, text, json}
 */
export function curlRequest(url, { method = 'GET', headers = {}, body, bodyFile, sourceIp, timeoutS = 20 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-e2e-curl-'));
  const out = path.join(dir, 'body');
  const hdr = path.join(dir, 'headers');
  const args = ['-sS', '-X', method, '-o', out, '-D', hdr, '-w', '%{http_code}', '--max-time', String(timeoutS)];
  // curl would send "Expect: 100-continue" for large bodies; let it (the server must cope) only when asked.
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  if (bodyFile) args.push('--data-binary', `@${bodyFile}`);
  else if (body !== undefined) {
    const f = path.join(dir, `req-${++seq}`);
    fs.writeFileSync(f, typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
    args.push('--data-binary', `@${f}`);
  }
  if (sourceIp) args.push('--interface', sourceIp);
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: (timeoutS + 5) * 1000 }, (err, stdout, stderr) => {
      try {
        if (err && !/^\d{3}$/.test(stdout.trim())) {
          reject(new Error(`curl ${method} ${url} failed: ${stderr || err.message}`));
          return;
        }
        const status = Number(stdout.trim());
        const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
        const headersOut = {};
        const raw = fs.existsSync(hdr) ? fs.readFileSync(hdr, 'utf8') : '';
        // The last header block (after any 100 Continue).
        const blocks = raw.split(/\r?\n\r?\n/).filter((b) => b.trim());
        for (const line of (blocks.at(-1) ?? '').split(/\r?\n/).slice(1)) {
          const i = line.indexOf(':');
          if (i > 0) headersOut[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status, headers: headersOut, text, json });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/** A small client bound to a base URL and (optionally) a bearer token. */
export function api(base, { token, sourceIp } = {}) {
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  return {
    get: (p, opts = {}) => curlRequest(`${base}${p}`, { sourceIp, ...opts, headers: { ...auth, ...(opts.headers ?? {}) } }),
    post: (p, body, opts = {}) => curlRequest(`${base}${p}`, {
      method: 'POST', body, sourceIp, ...opts,
      headers: { 'Content-Type': 'application/json', ...auth, ...(opts.headers ?? {}) },
    }),
  };
}

/**
 * The value of one Prometheus series (name{labels} exactly as exposed) on
 * base's GET /metrics; 0 while the series is absent (a counter appears with
 * its first increment).
 */
export async function metricValue(base, series) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const esc = series.replace(/[{}"=]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${esc} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
