// Password hashing with scrypt (node:crypto, async so the event loop never waits on the KDF).
// Each hash is a self-describing string, `scrypt$ln=17,r=8,p=1$<salt>$<hash>` (unpadded base64,
// after the PHC string format), so verification always uses the parameters a hash was made with
// and the cost can be raised later: a login whose stored parameters are below the current ones
// is re-hashed (see needsRehash).
//
// Cost: OWASP Password Storage Cheat Sheet minimum for scrypt, N=2^17, r=8, p=1: 128 MiB and
// roughly 0.1-0.5 s per hash. The cost is deliberately not configurable (no environment override,
// not even for tests): a knob that lowers it is a knob someone turns in production. Tests that
// need many logins seed fixtures with cheap hashes via hashPassword(pw, { ln: … }) — verification
// honours stored parameters — while every hash the service itself writes uses CURRENT_PARAMS.
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

export const CURRENT_PARAMS: Readonly<ScryptParams> = Object.freeze({ ln: 17, r: 8, p: 1 });
const KEY_BYTES = 32;
const SALT_BYTES = 16;

// Bounds on parameters read back from storage: a corrupted or hostile row must not make the
// verifier allocate gigabytes or spin for minutes.
const MAX_LN = 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY = 1024 * 1024 * 1024;

const ENCODED = /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{22,88})\$([A-Za-z0-9+/]{43,88})$/;

function scrypt(password: string, salt: Buffer, params: ScryptParams, keyLength: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  // Node refuses unless maxmem covers 128·N·r bytes (plus small bookkeeping); give it twice that.
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r };
  return new Promise((resolve, reject) => {
    scryptCallback(normalize(password), salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * NIST SP 800-63B §5.1.1.2: passwords are normalised (NFKC) before hashing, so the same
 * password typed on different keyboards or systems verifies.
 */
export function normalize(password: string): string {
  return password.normalize('NFKC');
}

/** Hashes with a fresh random salt. `params` exists for test fixtures; services use the default. */
export async function hashPassword(password: string, params: ScryptParams = CURRENT_PARAMS): Promise<string> {
  checkParams(params);
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(password, salt, params, KEY_BYTES);
  return `scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

export interface VerifyResult {
  ok: boolean;
  /** True when ok and the stored hash was made with weaker parameters than CURRENT_PARAMS. */
  needsRehash: boolean;
}

/**
 * Checks a password against an encoded hash in constant time with respect to the password.
 * A malformed hash never matches (and never throws), so a damaged row cannot be logged into.
 */
export async function verifyPassword(password: string, encoded: string): Promise<VerifyResult> {
  const parsed = parse(encoded);
  if (parsed === undefined) return { ok: false, needsRehash: false };
  const key = await scrypt(password, parsed.salt, parsed.params, parsed.hash.length);
  const ok = timingSafeEqual(key, parsed.hash);
  return { ok, needsRehash: ok && needsRehash(encoded) };
}

/** True when the encoded hash is weaker than what hashPassword produces today. */
export function needsRehash(encoded: string): boolean {
  const parsed = parse(encoded);
  if (parsed === undefined) return true;
  const { ln, r, p } = parsed.params;
  return ln < CURRENT_PARAMS.ln || r < CURRENT_PARAMS.r || p < CURRENT_PARAMS.p || parsed.salt.length < SALT_BYTES || parsed.hash.length < KEY_BYTES;
}

function parse(encoded: string): { params: ScryptParams; salt: Buffer; hash: Buffer } | undefined {
  const m = ENCODED.exec(encoded);
  if (!m) return undefined;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (!paramsInBounds(params)) return undefined;
  return { params, salt: Buffer.from(m[4] as string, 'base64'), hash: Buffer.from(m[5] as string, 'base64') };
}

function paramsInBounds({ ln, r, p }: ScryptParams): boolean {
  return ln >= 1 && ln <= MAX_LN && r >= 1 && r <= MAX_R && p >= 1 && p <= MAX_P && 128 * 2 ** ln * r <= MAX_MEMORY;
}

function checkParams(params: ScryptParams): void {
  if (![params.ln, params.r, params.p].every(Number.isSafeInteger) || !paramsInBounds(params)) {
    throw new RangeError('scrypt parameters out of bounds');
  }
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}
