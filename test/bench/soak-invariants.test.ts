// The soak's verdict (bench/soak/invariants.ts): failures land in the window of the fault before
// them, recovery is measured from the fault, the race outcomes count as invariants and not as
// requests, and every broken invariant is named.
import { describe, expect, it } from 'vitest';
import { pickOperation, type SoakLedger } from '../../bench/soak/driver.js';
import { brokenInvariants, soakVerdict, windowOf } from '../../bench/soak/invariants.js';

const ledger = (over: Partial<SoakLedger> = {}): SoakLedger => ({ outcomes: [], acknowledged: [], codesRedeemedTwice: [], refreshRotatedTwice: [], acceptedAfterRevocation: [], tokensIssued: 0, ...over });

describe('soak verdict', () => {
  const faults = [
    { label: 'kill -9 hazelcast member 2', at: 1_000 },
    { label: 'restart postgres', at: 5_000 },
  ];

  it('puts each request in the window of the latest fault before it', () => {
    expect(windowOf(faults, 500)).toBe('steady');
    expect(windowOf(faults, 1_000)).toBe('kill -9 hazelcast member 2');
    expect(windowOf(faults, 4_999)).toBe('kill -9 hazelcast member 2');
    expect(windowOf(faults, 9_000)).toBe('restart postgres');
  });

  it('counts failures by kind and window, and recovery from the fault to the end of its last failure', () => {
    const v = soakVerdict(
      ledger({
        outcomes: [
          { kind: 'ext_authz', startedAt: 100, endedAt: 110, ok: true },
          { kind: 'ext_authz', startedAt: 1_200, endedAt: 1_450, ok: false, failure: '503' },
          { kind: 'client_credentials', startedAt: 1_500, endedAt: 2_300, ok: false, failure: 'timeout' },
          { kind: 'client_credentials', startedAt: 2_400, endedAt: 2_410, ok: true },
          { kind: 'code_replay', startedAt: 2_500, endedAt: 2_510, ok: true },
          { kind: 'ext_authz', startedAt: 6_000, endedAt: 6_010, ok: true },
        ],
        tokensIssued: 3,
      }),
      faults,
      0,
    );
    expect(v.requests).toBe(5);
    expect(v.failed).toBe(2);
    expect(v.byKind).toEqual({ ext_authz: { requests: 3, failed: 1 }, client_credentials: { requests: 2, failed: 1 } });
    expect(v.windows).toEqual([
      { window: 'steady', requests: 1, failed: 0, failures: {}, recoveryMs: 0 },
      { window: 'kill -9 hazelcast member 2', requests: 3, failed: 2, failures: { 'ext_authz 503': 1, 'client_credentials timeout': 1 }, recoveryMs: 1_300 },
      { window: 'restart postgres', requests: 1, failed: 0, failures: {}, recoveryMs: 0 },
    ]);
    expect(brokenInvariants(v)).toEqual([]);
  });

  it('names every broken invariant', () => {
    const v = soakVerdict(
      ledger({ codesRedeemedTwice: ['abc'], refreshRotatedTwice: ['def', 'ghi'], acceptedAfterRevocation: [{ via: 'ext_authz', revokedAt: 1, acceptedAt: 2 }] }),
      [],
      3,
    );
    expect(brokenInvariants(v)).toEqual([
      '3 acknowledged write(s) lost',
      '1 code(s) redeemed twice',
      '2 refresh token(s) rotated twice',
      '1 token(s) accepted after their revocation was acknowledged',
    ]);
  });

  it('picks every operation of the mix, by weight', () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const kind = pickOperation(i / 1000);
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(['admin_client', 'admin_user', 'client_credentials', 'code', 'ext_authz', 'introspection', 'refresh', 'revocation']);
    expect(seen.get('ext_authz')).toBe(250);
  });
});
