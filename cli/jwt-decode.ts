// `authmesh tokens decode`: shows a JWT's header and claims offline. It verifies nothing (no key,
// no signature, no expiry check) and says so in both outputs, so nobody mistakes a decoded token
// for a valid one; `tokens introspect` asks the server.
import { UsageError } from './connection.js';
import type { JsonObject } from './output.js';

/** The decoded parts of a JWS compact serialization (RFC 7515 §7.1), unverified. */
export interface DecodedJwt {
  header: JsonObject;
  payload: JsonObject;
  /** Always false: decoding checks no signature. */
  signatureVerified: false;
}

/** Largest token accepted, characters (the gateway's bound on a token parameter). */
export const MAX_JWT_CHARS = 16_384;

function part(segment: string, name: string): JsonObject {
  // RFC 7515 §2: base64url without padding.
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) throw new UsageError(`the JWT's ${name} is not base64url`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new UsageError(`the JWT's ${name} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`the JWT's ${name} is not a JSON object`);
  return parsed as JsonObject;
}

/**
 * Splits and decodes a JWS compact serialization `header.payload.signature` (RFC 7519 §7.2 steps
 * 1–6 and 10, without the signature check). Throws UsageError (exit 2) for anything else,
 * including a JWE (five parts: its claims are encrypted).
 */
export function decodeJwt(token: string): DecodedJwt {
  const text = token.trim();
  if (text.length === 0) throw new UsageError('no token given');
  if (text.length > MAX_JWT_CHARS) throw new UsageError(`the token is longer than ${MAX_JWT_CHARS} characters`);
  const parts = text.split('.');
  if (parts.length === 5) throw new UsageError('this is an encrypted JWT (JWE): its claims cannot be read without the key');
  if (parts.length !== 3) throw new UsageError('not a JWT: expected three base64url parts separated by dots');
  return { header: part(parts[0]!, 'header'), payload: part(parts[1]!, 'payload'), signatureVerified: false };
}

/** RFC 7519 §4.1.4–4.1.6: NumericDate claims, shown with their UTC date in the key/value view. */
const NUMERIC_DATES = ['exp', 'nbf', 'iat', 'auth_time'];

/** The key/value view's rows: header.*, the claims, then the verification notice. */
export function decodedView(decoded: DecodedJwt): JsonObject {
  const claims: JsonObject = {};
  for (const [k, v] of Object.entries(decoded.payload)) {
    claims[k] = NUMERIC_DATES.includes(k) && typeof v === 'number' && Math.abs(v) <= 8.64e12 ? `${v} (${new Date(v * 1000).toISOString()})` : v;
  }
  return { header: decoded.header, claims, signature: 'NOT VERIFIED (decoded offline; use `authmesh tokens introspect` to ask the server)' };
}
