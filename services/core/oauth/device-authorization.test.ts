import { describe, expect, it } from 'vitest';
import {
  decidePoll,
  deviceCodeKey,
  formatUserCode,
  generateDeviceCode,
  generateUserCode,
  normalizeUserCode,
  SLOW_DOWN_INCREMENT_SECONDS,
  USER_CODE_ALPHABET,
  USER_CODE_LENGTH,
  type DeviceDecision,
  type PollInput,
} from './device-authorization.js';

describe('generateUserCode (RFC 8628 §6.1)', () => {
  it('draws 8 characters of the base-20 consonant alphabet', () => {
    expect(USER_CODE_ALPHABET).toBe('BCDFGHJKLMNPQRSTVWXZ');
    for (let i = 0; i < 200; i++) {
      const code = generateUserCode();
      expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
    }
  });

  it('rejects biased bytes (240-255) instead of folding them onto the first letters', () => {
    // 0 → B, 19 → Z, 20 → B, 239 → Z (239 % 20 = 19); 240..255 are skipped.
    const bytes = Buffer.from([255, 240, 0, 19, 20, 239, 250, 1, 2, 3, 4, 245, 5, 6, 7, 8]);
    expect(generateUserCode(() => bytes)).toBe('BZBZCDFG');
  });

  it('asks for more randomness when a whole draw is rejected', () => {
    let calls = 0;
    const source = (size: number) => (calls++ === 0 ? Buffer.alloc(size, 250) : Buffer.alloc(size, 2));
    expect(generateUserCode(source)).toBe('DDDDDDDD');
    expect(calls).toBe(2);
  });

  it('uses every letter of the alphabet (uniform draw)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) for (const c of generateUserCode()) seen.add(c);
    expect(seen.size).toBe(USER_CODE_ALPHABET.length);
  });
});

describe('formatUserCode / normalizeUserCode (RFC 8628 §6.1)', () => {
  it('shows two groups of four', () => {
    expect(formatUserCode('WDJBMJHT')).toBe('WDJB-MJHT');
  });

  it.each([
    ['as shown', 'WDJB-MJHT'],
    ['lower case', 'wdjb-mjht'],
    ['mixed case, no dash', 'WdjbMjht'],
    ['spaces instead of the dash', 'WDJB MJHT'],
    ['surrounding spaces', '  wdjb-mjht  '],
    ['several dashes', 'WD-JB-MJ-HT'],
    ['a typographic dash', 'WDJB\u2013MJHT'],
  ])('normalises what the user typed: %s', (_name, typed) => {
    expect(normalizeUserCode(typed)).toBe('WDJBMJHT');
  });

  it.each([
    ['empty', ''],
    ['too short', 'WDJB-MJH'],
    ['too long', 'WDJB-MJHTB'],
    ['a vowel', 'WDJB-MJHA'],
    ['a digit', 'WDJB-MJH1'],
    ['other punctuation', 'WDJB.MJHT'],
    ['non-ASCII letter', 'WDJB-MJHÇ'],
    ['very long input', 'B'.repeat(65)],
  ])('refuses input that cannot be a user code: %s', (_name, typed) => {
    expect(normalizeUserCode(typed)).toBeUndefined();
  });

  it('round-trips every generated code', () => {
    for (let i = 0; i < 50; i++) {
      const code = generateUserCode();
      expect(normalizeUserCode(formatUserCode(code))).toBe(code);
      expect(code).toHaveLength(USER_CODE_LENGTH);
    }
  });
});

describe('device code (RFC 8628 §3.2, §5.2)', () => {
  it('is 256 random bits, base64url, different each time', () => {
    const a = generateDeviceCode();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateDeviceCode()).not.toBe(a);
  });

  it('is stored only as its SHA-256', () => {
    const code = generateDeviceCode();
    const key = deviceCodeKey(code);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toContain(code);
    expect(deviceCodeKey(code)).toBe(key);
  });
});

describe('decidePoll (RFC 8628 §3.5)', () => {
  const T = 1_000_000;
  const base: PollInput = { now: T, expiresAt: T + 600_000, interval: 5, decision: undefined, poll: undefined };
  const approved: DeviceDecision = { status: 'approved', userId: 'u1', authTime: 1, sid: '', amr: ['pwd'] };

  it('answers authorization_pending to the first poll and remembers when it came', () => {
    expect(decidePoll(base)).toEqual({ outcome: 'authorization_pending', poll: { lastPollAt: T, interval: 5 } });
  });

  it('answers authorization_pending to a poll that waited the interval', () => {
    expect(decidePoll({ ...base, poll: { lastPollAt: T - 5_000, interval: 5 } })).toEqual({ outcome: 'authorization_pending', poll: { lastPollAt: T, interval: 5 } });
  });

  it('answers slow_down to a poll sooner than the interval and adds 5 seconds to it', () => {
    const d = decidePoll({ ...base, poll: { lastPollAt: T - 4_999, interval: 5 } });
    expect(d).toEqual({ outcome: 'slow_down', poll: { lastPollAt: T, interval: 5 + SLOW_DOWN_INCREMENT_SECONDS } });
  });

  it('keeps the increased interval for every later poll', () => {
    // 7 s after a slow_down that raised the interval to 10: still too fast.
    const d = decidePoll({ ...base, poll: { lastPollAt: T - 7_000, interval: 10 } });
    expect(d).toEqual({ outcome: 'slow_down', poll: { lastPollAt: T, interval: 15 } });
    expect(decidePoll({ ...base, poll: { lastPollAt: T - 10_000, interval: 10 } })).toEqual({ outcome: 'authorization_pending', poll: { lastPollAt: T, interval: 10 } });
  });

  it('answers expired_token once expires_in has passed, whatever was decided', () => {
    for (const decision of [undefined, approved, { status: 'denied' } as const]) {
      expect(decidePoll({ ...base, now: base.expiresAt, decision })).toEqual({ outcome: 'expired_token' });
    }
  });

  it('answers access_denied after the user denied, even when polled too fast', () => {
    expect(decidePoll({ ...base, decision: { status: 'denied' }, poll: { lastPollAt: T - 1, interval: 5 } })).toEqual({ outcome: 'access_denied' });
  });

  it('answers approved after the user approved, even when polled too fast', () => {
    expect(decidePoll({ ...base, decision: approved, poll: { lastPollAt: T - 1, interval: 5 } })).toEqual({ outcome: 'approved' });
  });

  it('says already_used once the tokens were issued', () => {
    expect(decidePoll({ ...base, decision: { status: 'consumed' } })).toEqual({ outcome: 'already_used' });
  });
});
