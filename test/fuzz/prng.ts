// A small deterministic PRNG for the fuzz suites. Every fuzz case gets its own generator derived
// from (run seed, route, case index), so one failing input is rebuilt from three printed values
// without replaying the whole run, whatever order concurrent requests finished in.
import { createHash, randomInt } from 'node:crypto';

export class Rng {
  private a: number;

  constructor(seed: number) {
    this.a = seed >>> 0;
  }

  /** Derives the generator of one case: (run seed, label, index) → an independent stream. */
  static forCase(seed: number, label: string, index: number): Rng {
    const h = createHash('sha256').update(`${seed}:${label}:${index}`).digest();
    return new Rng(h.readUInt32LE(0));
  }

  /** mulberry32: a uniform 32-bit integer. */
  u32(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.u32() / 4_294_967_296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** A string of printable ASCII, letters or arbitrary code points (lone surrogates included). */
  text(maxLen: number): string {
    const len = this.int(maxLen + 1);
    const kind = this.int(4);
    let s = '';
    for (let i = 0; i < len; i++) {
      if (kind === 0) s += String.fromCharCode(this.range(0x20, 0x7e));
      else if (kind === 1) s += 'abcdefghijklmnopqrstuvwxyz0123456789-._~'[this.int(40)];
      else if (kind === 2) s += String.fromCharCode(this.int(0x10000));
      else s += this.pick(INTERESTING_CHARS);
    }
    return s;
  }
}

/** Characters that tend to break parsers: separators, escapes, controls, surrogates, RTL, NUL. */
export const INTERESTING_CHARS = [
  '%', '&', '=', '+', ';', ',', ':', '/', '?', '#', '"', "'", '\\', '<', '>', '{', '}', '[', ']', ' ', '\t', '\r', '\n',
  '\0', '\u00ff', '\u200b', '\u202e', '\ud800', '\udfff', '\uffff', '😀', '𝕏', '.', '..', '*', '$', '`', '%00', '%zz', '%',
];

/** Numbers and strings that tend to sit at edges. */
export const INTERESTING_VALUES = [
  '', ' ', '0', '-1', '1e309', 'NaN', 'null', 'undefined', 'true', '[]', '{}', '__proto__', 'constructor', 'toString',
  '%', '%%', '%0', '%zz', '%ff%fe', '%c0%af', '%ed%a0%80', '\u0000', 'a'.repeat(4096), '../../etc/passwd',
  '<script>alert(1)</script>', "' OR '1'='1", '${jndi:ldap://x}', '9'.repeat(40), 'authmesh.admin', 'openid',
  'https://evil.example/cb', 'http://127.0.0.1:1/', 'javascript:alert(1)', 'S256', 'plain', 'code', 'token',
];

/** The run seed: AUTHMESH_FUZZ_SEED, else a fixed one (short CI profile) or a random one (full). */
export function runSeed(profile: 'short' | 'full'): number {
  const env = process.env.AUTHMESH_FUZZ_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`AUTHMESH_FUZZ_SEED=${env}: expected an integer 0..4294967295`);
    return n;
  }
  return profile === 'short' ? 20261130 : randomInt(0, 0xffffffff);
}

export type FuzzProfile = 'short' | 'full';

/** AUTHMESH_FUZZ_PROFILE=full (npm run fuzz) or the short CI profile. */
export function fuzzProfile(): FuzzProfile {
  const p = process.env.AUTHMESH_FUZZ_PROFILE;
  if (p === undefined || p === '' || p === 'short') return 'short';
  if (p === 'full') return 'full';
  throw new Error(`AUTHMESH_FUZZ_PROFILE=${p}: expected short or full`);
}
