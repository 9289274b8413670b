import { describe, expect, it } from 'vitest';
import { consentCovers, consentPair, mergeConsent, requestedConsentPairs, SERVER_CHOSEN_AUDIENCE } from './remembered-consent.js';

const ORDERS = 'https://orders.example.com';
const EU = 'https://orders-eu.example.com';

describe('remembered consent (RFC 6749 §10.2, RFC 8707 §2.1)', () => {
  it('asks for every scope at every named resource, or at the server-chosen audience when none is named', () => {
    expect(requestedConsentPairs(['a', 'b', 'a'], [ORDERS, ORDERS])).toEqual([`${ORDERS} a`, `${ORDERS} b`]);
    expect(requestedConsentPairs(['a'], undefined)).toEqual([consentPair(SERVER_CHOSEN_AUDIENCE, 'a')]);
    expect(requestedConsentPairs(['a'], [])).toEqual([' a']);
  });

  it('covers a request only when each (resource, scope) pair was approved', () => {
    const remembered = { scopes: ['orders.read'], resourceScopes: requestedConsentPairs(['orders.read'], [ORDERS]) };
    expect(consentCovers(remembered, requestedConsentPairs(['orders.read'], [ORDERS]))).toBe(true);
    // The same scope name at another API, or at the server-chosen audience: not covered.
    expect(consentCovers(remembered, requestedConsentPairs(['orders.read'], [EU]))).toBe(false);
    expect(consentCovers(remembered, requestedConsentPairs(['orders.read'], undefined))).toBe(false);
    expect(consentCovers(remembered, requestedConsentPairs(['orders.write'], [ORDERS]))).toBe(false);
    expect(consentCovers(undefined, [])).toBe(false);
  });

  it('consent_pairs_do_not_combine: orders.read at ORDERS and eu.write at EU do not approve orders.read at EU (review 9 F1)', () => {
    let consent = mergeConsent(undefined, ['orders.read'], requestedConsentPairs(['orders.read'], [ORDERS]));
    consent = mergeConsent(consent, ['eu.write'], requestedConsentPairs(['eu.write'], [EU]));
    expect(consent.scopes).toEqual(['orders.read', 'eu.write']);
    expect(consentCovers(consent, requestedConsentPairs(['orders.read'], [EU]))).toBe(false);
    expect(consentCovers(consent, requestedConsentPairs(['eu.write'], [ORDERS]))).toBe(false);
    expect(consentCovers(consent, requestedConsentPairs(['eu.write'], [EU]))).toBe(true);
    // openid with no resource, then orders.read at ORDERS: orders.read with no resource is not approved.
    const mixed = mergeConsent(mergeConsent(undefined, ['openid'], requestedConsentPairs(['openid'], undefined)), ['orders.read'], requestedConsentPairs(['orders.read'], [ORDERS]));
    expect(consentCovers(mixed, requestedConsentPairs(['orders.read'], undefined))).toBe(false);
    expect(consentCovers(mixed, requestedConsentPairs(['openid'], undefined))).toBe(true);
  });

  it('reads a consent stored before pairs as its scopes at the server-chosen audience, and keeps that on merge', () => {
    const legacy = { scopes: ['openid', 'read'], resourceScopes: [] };
    expect(consentCovers(legacy, requestedConsentPairs(['read'], undefined))).toBe(true);
    expect(consentCovers(legacy, requestedConsentPairs(['read'], [ORDERS]))).toBe(false);
    const merged = mergeConsent(legacy, ['orders.read'], requestedConsentPairs(['orders.read'], [ORDERS]));
    expect(consentCovers(merged, requestedConsentPairs(['openid', 'read'], undefined))).toBe(true);
    expect(consentCovers(merged, requestedConsentPairs(['orders.read'], [ORDERS]))).toBe(true);
  });
});
