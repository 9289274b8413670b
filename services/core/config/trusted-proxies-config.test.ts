// AUTHMESH_TRUSTED_PROXIES: whose X-Forwarded-For the gateway believes (issue 11 item 14).
import { describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';
import { configProblems } from '../../../test/support/config.js';

const problems = configProblems;

describe('trusted proxies configuration', () => {
  it('believes no proxy by default, so a direct request cannot choose its audited address', () => {
    expect(loadConfig({}).trustedProxies).toStrictEqual([]);
  });

  it('takes IPs and CIDR ranges of both families', () => {
    expect(loadConfig({ AUTHMESH_TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8,::1,fd00::/8' }).trustedProxies).toStrictEqual(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']);
  });

  it.each(['envoy', '10.0.0.0/33', '::1/129', '10.0.0.1/8/2', '*'])('refuses %j with a clear message', (value) => {
    expect(problems({ AUTHMESH_TRUSTED_PROXIES: value })).toStrictEqual([`AUTHMESH_TRUSTED_PROXIES: ${JSON.stringify(value)} is not an IP address or CIDR range like 10.0.0.0/8`]);
  });
});
