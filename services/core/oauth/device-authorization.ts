// The rules of the OAuth 2.0 Device Authorization Grant (RFC 8628): user codes that are easy to
// type and hard to guess, the device code as a bearer secret stored only hashed, and the token
// endpoint's answer to each poll. Pure: randomness comes from node:crypto, time is passed in.
import { randomBytes } from 'node:crypto';
import { generateCode, hashToken } from './secrets.js';

/** RFC 8628 §3.4: the grant_type of the device access token request. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * RFC 8628 §6.1: base-20 without vowels ("BCDFGHJKLMNPQRSTVWXZ"), so no word can be spelled and
 * nothing is confused by case; 8 characters give 20^8 ≈ 2^34.6 codes.
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;
/** RFC 8628 §3.5: slow_down adds 5 seconds to the polling interval, for this and every later request. */
export const SLOW_DOWN_INCREMENT_SECONDS = 5;
/** Longer typed input is refused before any normalisation work. */
const MAX_TYPED_USER_CODE_LENGTH = 64;

/**
 * A fresh user code, normalised (8 characters of USER_CODE_ALPHABET, no separator). Each
 * character is drawn uniformly by rejection sampling from crypto.randomBytes (RFC 8628 §5.1:
 * the code's entropy is what bounds a brute-force attack, so it must not be biased).
 * @param random source of random bytes (tests inject a fixed one)
 */
export function generateUserCode(random: (size: number) => Buffer = randomBytes): string {
  const n = USER_CODE_ALPHABET.length;
  // 240 is the largest multiple of 20 under 256: bytes at or above it would favour some letters.
  const limit = 256 - (256 % n);
  let out = '';
  while (out.length < USER_CODE_LENGTH) {
    for (const byte of random(USER_CODE_LENGTH * 2)) {
      if (byte >= limit) continue;
      out += USER_CODE_ALPHABET[byte % n];
      if (out.length === USER_CODE_LENGTH) break;
    }
  }
  return out;
}

/** RFC 8628 §6.1: the code as shown to the user, in two groups of four ("WDJB-MJHT"). */
export function formatUserCode(normalised: string): string {
  return `${normalised.slice(0, 4)}-${normalised.slice(4)}`;
}

/**
 * The normalised form of what a user typed, or undefined when it cannot be a user code.
 * RFC 8628 §6.1: case is ignored and the dash (and spaces, which people type instead) are
 * punctuation, not part of the code; anything else outside the alphabet makes it invalid.
 */
export function normalizeUserCode(typed: string): string | undefined {
  if (typed.length > MAX_TYPED_USER_CODE_LENGTH) return undefined;
  const code = typed.toUpperCase().replace(/[\s\-\u2010-\u2015]/g, '');
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return undefined;
  return code;
}

/**
 * A fresh device code: 256 random bits, base64url. RFC 8628 §5.2: the device code is a bearer
 * credential of the device; only its hash (deviceCodeKey) is ever stored.
 */
export function generateDeviceCode(): string {
  return generateCode();
}

/** The grid key of a device code: its SHA-256 (hex). Never store or log the code itself. */
export function deviceCodeKey(deviceCode: string): string {
  return hashToken(deviceCode);
}

/** The user's decision on the verification page, as recorded for the device code. */
export type DeviceDecision =
  | {
      status: 'approved';
      userId: string;
      /** When the user authenticated, epoch seconds (auth_time of the tokens). */
      authTime: number;
      /** The public session id (OIDC sid) of the login session that approved, '' when none. */
      sid: string;
      amr: string[];
      /** The scopes this user may be issued (admin-role.ts); absent in approvals recorded before. */
      scopes?: string[];
    }
  | { status: 'denied' }
  /** Tokens were issued for the approval: the device code is spent. */
  | { status: 'consumed' };

/** What the token endpoint remembers between polls of one device code. */
export interface DevicePollState {
  /** When the last poll was answered, epoch ms. */
  lastPollAt: number;
  /** The current minimum interval between polls, seconds (grows with each slow_down). */
  interval: number;
}

export interface PollInput {
  /** Now, epoch ms. */
  now: number;
  /** When the device code expires, epoch ms. */
  expiresAt: number;
  /** The interval announced in the device authorization response, seconds. */
  interval: number;
  decision: DeviceDecision | undefined;
  poll: DevicePollState | undefined;
}

export type PollDecision =
  /** RFC 8628 §3.5: expired_token; the client must start a new device authorization. */
  | { outcome: 'expired_token' }
  /** RFC 8628 §3.5: the user denied the request. */
  | { outcome: 'access_denied' }
  /** The user approved: issue the tokens (once: the caller consumes the decision atomically). */
  | { outcome: 'approved' }
  /** The tokens were already issued for this device code. */
  | { outcome: 'already_used' }
  /** RFC 8628 §3.5: still waiting for the user; `poll` is what to remember. */
  | { outcome: 'authorization_pending'; poll: DevicePollState }
  /** RFC 8628 §3.5: polled faster than the interval; `poll.interval` is the new, larger one. */
  | { outcome: 'slow_down'; poll: DevicePollState };

/**
 * The answer to one device access token request (RFC 8628 §3.4, §3.5). Expiry wins over
 * everything; a decided request is answered whatever the pace; only a pending request is paced:
 * a poll sooner than `interval` seconds after the previous one is slow_down and raises the
 * interval by 5 seconds for good (RFC 8628 §3.5 "for this and all subsequent requests").
 */
export function decidePoll(input: PollInput): PollDecision {
  // RFC 8628 §3.5: expired_token once expires_in has passed.
  if (input.now >= input.expiresAt) return { outcome: 'expired_token' };
  const d = input.decision;
  if (d?.status === 'consumed') return { outcome: 'already_used' };
  // RFC 8628 §3.5: access_denied when the user declined.
  if (d?.status === 'denied') return { outcome: 'access_denied' };
  if (d?.status === 'approved') return { outcome: 'approved' };
  const interval = Math.max(input.interval, input.poll?.interval ?? 0);
  if (input.poll !== undefined && input.now - input.poll.lastPollAt < interval * 1000) {
    // RFC 8628 §3.5: slow_down, and the interval MUST be increased by 5 seconds.
    return { outcome: 'slow_down', poll: { lastPollAt: input.now, interval: interval + SLOW_DOWN_INCREMENT_SECONDS } };
  }
  // RFC 8628 §3.5: authorization_pending while the user has not yet decided.
  return { outcome: 'authorization_pending', poll: { lastPollAt: input.now, interval } };
}
