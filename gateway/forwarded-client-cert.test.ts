// Who the gateway believes a forwarded client certificate from (RFC 8705 rests on the TLS
// connection, which only Envoy saw): the edge secret, compared in constant time, or nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certFactory, type CertFactory, type TestCert } from '../test/support/certs.js';
import { createForwardedCertificateReader } from './forwarded-client-cert.js';

const SECRET = 's'.repeat(40);
let f: CertFactory;
let cert: TestCert;

beforeAll(() => {
  f = certFactory();
  cert = f.leaf('c', '/CN=c');
});
afterAll(() => f?.cleanup());

const xfcc = () => `Cert="${encodeURIComponent(cert.certPem)}"`;

describe('createForwardedCertificateReader', () => {
  it('reads the certificate when the edge secret comes with it', () => {
    const read = createForwardedCertificateReader({ mtlsEdgeSecret: SECRET });
    expect(read({ 'x-forwarded-client-cert': xfcc(), 'x-authmesh-edge-proof': SECRET })?.certificate.equals(cert.der)).toBe(true);
    expect(read({})).toBeUndefined();
    // The proof alone (a request over plain TLS through Envoy) is no certificate.
    expect(read({ 'x-authmesh-edge-proof': SECRET })).toBeUndefined();
  });

  it.each([
    ['no secret configured, even with a "proof"', undefined, { 'x-authmesh-edge-proof': SECRET }],
    ['no proof', SECRET, {}],
    ['a wrong proof', SECRET, { 'x-authmesh-edge-proof': 't'.repeat(40) }],
    ['a proof that is a prefix of the secret', SECRET, { 'x-authmesh-edge-proof': SECRET.slice(0, 39) }],
    ['the proof repeated', SECRET, { 'x-authmesh-edge-proof': [SECRET, SECRET] }],
  ])('refuses XFCC with %s', (_, secret, headers) => {
    const read = createForwardedCertificateReader({ mtlsEdgeSecret: secret });
    expect(() => read({ 'x-forwarded-client-cert': xfcc(), ...headers })).toThrow(/only from the edge proxy/);
  });

  it('refuses a wrong proof even without XFCC (someone probing for the secret)', () => {
    const read = createForwardedCertificateReader({ mtlsEdgeSecret: SECRET });
    expect(() => read({ 'x-authmesh-edge-proof': 'guess' })).toThrow(/only from the edge proxy/);
  });
});
