// jwt.mjs - JSON Web Tokens minted here with node:crypto, good and bad, for
// the REST tests: the services must accept HS256 with JWT_SECRET only.
import crypto from 'node:crypto';

import { jwtSecret } from './stack-env.mjs';

export function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/**
 * Signs claims. opts: alg (HS256|HS384|HS512|none), secret, header (extra
 * header fields), ttl (seconds until exp; negative = already expired),
 * noExp (leave iat/exp out).
 */
export function mintToken(claims, { alg = 'HS256', secret = jwtSecret, header = {}, ttl = 3600, noExp = false } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const body = noExp ? { ...claims } : { iat: now - 5, exp: now + ttl, ...claims };
  const head = { alg, typ: 'JWT', ...header };
  const signing = `${b64url(JSON.stringify(head))}.${b64url(JSON.stringify(body))}`;
  if (alg === 'none') return `${signing}.`;
  const sig = crypto.createHmac(HASH[alg], secret).update(signing).digest();
  return `${signing}.${b64url(sig)}`;
}

/** A venue user's token (read and write permissions, as `tt token --venue` mints). */
export function venueToken(venueId, extra = {}, opts = {}) {
  return mintToken({ userId: `user-of-${venueId}`, venueId, role: 'user', permissions: ['analytics.read', 'analytics.write'], ...extra }, opts);
}

/** An admin's token (sees every venue). */
export function adminToken(extra = {}, opts = {}) {
  return mintToken({ userId: 'e2e-admin', role: 'admin', permissions: ['*'], ...extra }, opts);
}

/** The token with its payload replaced and the original signature kept. */
export function tamper(token, claims) {
  const [h, , s] = token.split('.');
  return `${h}.${b64url(JSON.stringify(claims))}.${s}`;
}
