// Random secrets, identifiers and the hashing/comparison rules for stored credentials.
import { createHash, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

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

// Identifiers (not secrets) are cut from a pool of CSPRNG output refilled 4 KiB at a time, as
// node's crypto.randomUUID does: one getrandom call per 256 identifiers instead of one each (the
// per-token randomBytes(16) was 2.6% of the token path's CPU, README "Measured"). Secrets, codes
// and refresh tokens never come from this pool: they are drawn fresh and never sit in memory
// before they are issued.
const ID_POOL_BYTES = 4096;
const idPool = Buffer.allocUnsafeSlow(ID_POOL_BYTES);
let idPoolOffset = ID_POOL_BYTES;

/**
 * `bytes` (1–256) bytes from the CSPRNG as base64url without padding, for unique, unguessable
 * identifiers that are not secrets (jti, ids). Each byte of the pool is handed out once.
 * @throws RangeError for a length outside 1–256
 */
export function randomIdentifier(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError('an identifier takes 1-256 random bytes');
  if (idPoolOffset + bytes > ID_POOL_BYTES) {
    randomFillSync(idPool);
    idPoolOffset = 0;
  }
  const id = idPool.toString('base64url', idPoolOffset, idPoolOffset + bytes);
  idPoolOffset += bytes;
  return id;
}

/**
 * A random identifier (client ids, token ids), optionally prefixed (`cli_…`) so that ids of
 * different kinds cannot be confused in logs. Identifiers are not secrets.
 */
export function generateId(prefix?: string): string {
  const id = randomIdentifier(ID_BYTES);
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

/**
 * A constant-time test against one fixed `expected` string (a configured secret checked on every
 * call, such as the mesh credential): `constantTimeEqual(presented, expected)` with the expected
 * side's SHA-256 digest computed once, so each call hashes only the presented value.
 */
export function constantTimeEqualTo(expected: string): (presented: string) => boolean {
  const expectedDigest = createHash('sha256').update(expected, 'utf8').digest();
  return (presented) => timingSafeEqual(createHash('sha256').update(presented, 'utf8').digest(), expectedDigest);
}
