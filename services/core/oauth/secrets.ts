// Random secrets, identifiers and the hashing/comparison rules for stored credentials.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of entropy in every generated secret: 256 bits, the DESIGN.md §6 floor for client secrets. */
export const SECRET_BYTES = 32;

/** Bytes of entropy in generated identifiers: 128 bits makes collisions and guessing irrelevant. */
export const ID_BYTES = 16;

const ID_PREFIX = /^[a-z][a-z0-9]{0,15}$/;

/** A fresh client secret: 256 random bits, base64url without padding (43 characters). */
export function generateSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/**
 * A fresh authorization code or refresh token: 256 random bits. RFC 6749 §10.10 requires such
 * values to be infeasible to guess; RFC 6819 §5.1.4.2.2 asks for at least 128 bits.
 */
export function generateCode(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/**
 * A random identifier (client ids, token ids), optionally prefixed (`cli_…`) so that ids of
 * different kinds cannot be confused in logs. Identifiers are not secrets.
 */
export function generateId(prefix?: string): string {
  const id = randomBytes(ID_BYTES).toString('base64url');
  if (prefix === undefined) return id;
  if (!ID_PREFIX.test(prefix)) throw new TypeError('id prefix must be 1-16 lowercase letters or digits, starting with a letter');
  return `${prefix}_${id}`;
}

/**
 * The stored form of a high-entropy credential (authorization code, refresh token, client
 * secret): SHA-256, hex. A slow KDF protects low-entropy passwords against guessing; these values
 * carry ≥256 random bits, so a leaked hash cannot be brute-forced whatever the hash speed, and a
 * fast hash keeps every token request to one cheap lookup by hash. Never use this for passwords.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Constant-time string equality. Both sides are first reduced to SHA-256 digests so that the
 * comparison takes the same time whatever the lengths, and timingSafeEqual never throws on a
 * length mismatch; equal digests imply equal inputs by SHA-256's collision resistance.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}
