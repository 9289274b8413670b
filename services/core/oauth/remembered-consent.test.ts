import { describe, expect, it } from 'vitest';
import { consentCovers, mergeConsent, requestedConsentResources, SERVER_CHOSEN_AUDIENCE } from './remembered-consent.js';

const ORDERS = 'https://orders.example.com';
const ORDERS_EU = 'https://orders-eu.example.com';

describe('remembered consent (RFC 6749 §10.2, RFC 8707 §2.1)', () => {
  it('records a request without resource indicators as the server-chosen audience, and de-duplicates targets', () => {
    expect(requestedConsentResources(undefined)).toEqual([SERVER_CHOSEN_AUDIENCE]);
    expect(requestedConsentResources([])).toEqual([SERVER_CHOSEN_AUDIENCE]);
    expect(requestedConsentResources([ORDERS, ORDERS])).toEqual([ORDERS]);
  });

  it('covers a request only when every scope and every resource was approved', () => {
    const remembered = { scopes: ['openid', 'orders.read'], resources: [ORDERS] };
    expect(consentCovers(remembered, { scopes: ['orders.read'], resources: [ORDERS] })).toBe(true);
    // The same scope name at another API: not covered (consent_remembered_per_resource).
    expect(consentCovers(remembered, { scopes: ['orders.read'], resources: [ORDERS_EU] })).toBe(false);
    expect(consentCovers(remembered, { scopes: ['orders.read'], resources: [ORDERS, ORDERS_EU] })).toBe(false);
    expect(consentCovers(remembered, { scopes: ['orders.read'], resources: [SERVER_CHOSEN_AUDIENCE] })).toBe(false);
    expect(consentCovers(remembered, { scopes: ['orders.write'], resources: [ORDERS] })).toBe(false);
    expect(consentCovers(undefined, { scopes: [], resources: [SERVER_CHOSEN_AUDIENCE] })).toBe(false);
  });

  it('merges a new approval into what was remembered, never forgetting a wider earlier one', () => {
    const merged = mergeConsent({ scopes: ['openid', 'orders.read'], resources: [ORDERS] }, { scopes: ['orders.read'], resources: [ORDERS_EU] });
    expect(merged).toEqual({ scopes: ['openid', 'orders.read'], resources: [ORDERS, ORDERS_EU] });
    expect(mergeConsent(undefined, { scopes: ['a', 'a'], resources: [SERVER_CHOSEN_AUDIENCE] })).toEqual({ scopes: ['a'], resources: [SERVER_CHOSEN_AUDIENCE] });
  });
});
