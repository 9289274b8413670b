import { execFileSync } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certFactory, type CertFactory, type TestCert } from '../../../test/support/certs.js';
import {
  certificateThumbprint,
  chainIsTrusted,
  isCertificateThumbprint,
  parseForwardedClientCert,
  parseRfc4514Dn,
  readCertificateIdentity,
  assertExchangeCertificate,
  selfSignedCertificateMatches,
  subjectDnMatches,
  tlsClientAuthExpectation,
  tlsClientAuthMatches,
  type TlsClientAuthMetadataName,
} from './mtls.js';

let f: CertFactory;
let ca: TestCert;
let intermediate: TestCert;
let otherCa: TestCert;
let client: TestCert;
let viaIntermediate: TestCert;
let selfSigned: TestCert;
let serverOnly: TestCert;
let commaOrg: TestCert;
const now = () => new Date();

beforeAll(() => {
  f = certFactory();
  ca = f.ca('ca', '/CN=Test Root CA');
  intermediate = f.ca('int', '/CN=Test Intermediate', ca);
  otherCa = f.ca('other', '/CN=Other CA');
  client = f.leaf('client', '/C=DE/O=Example Org/OU=Dev+CN=client one', {
    issuer: ca,
    multivalueRdn: true,
    san: 'DNS:Client.Example.com,URI:https://client.example.com/id,IP:192.0.2.7,IP:2001:db8::1,email:Ops@Example.COM',
  });
  viaIntermediate = f.leaf('via-int', '/CN=via intermediate', { issuer: intermediate });
  selfSigned = f.leaf('self', '/CN=self signed');
  serverOnly = f.leaf('server-only', '/CN=server', { issuer: ca, eku: 'serverAuth' });
  commaOrg = f.leaf('comma', '/O=Acme, Inc/CN=x', { issuer: ca });
}, 60_000);

afterAll(() => f?.cleanup());

describe('parseRfc4514Dn (RFC 4514 §3)', () => {
  it.each([
    ['CN=a,O=b', [[['2.5.4.3', 'a']], [['2.5.4.10', 'b']]]],
    ['cn = a , o = b', [[['2.5.4.3', 'a']], [['2.5.4.10', 'b']]]],
    ['OU=x+CN=y,C=DE', [[['2.5.4.11', 'x'], ['2.5.4.3', 'y']], [['2.5.4.6', 'DE']]]],
    ['2.5.4.3=z', [[['2.5.4.3', 'z']]]],
    ['CN=a\\,b', [[['2.5.4.3', 'a,b']]]],
    ['CN=\\C3\\A9t\\C3\\A9', [[['2.5.4.3', 'été']]]],
    ['CN=\\ lead', [[['2.5.4.3', ' lead']]]],
  ])('%s', (dn, expected) => {
    expect(parseRfc4514Dn(dn).map((rdn) => rdn.map((a) => [a.oid, a.text]))).toEqual(expected);
  });

  it('reads a #hexstring value as its encoding', () => {
    expect(parseRfc4514Dn('CN=#0c0161')).toEqual([[{ oid: '2.5.4.3', text: undefined, hex: '0c0161' }]]);
  });

  it.each(['CN', 'XX=a', 'CN=a"b', 'CN=a\\q', 'CN=#0', '=a', 'CN=a,,O=b'])('refuses %j', (dn) => {
    expect(() => parseRfc4514Dn(dn)).toThrow(/RFC 4514/);
  });
});

describe('subjectDnMatches (RFC 8705 §2.1.2)', () => {
  it.each([
    ['the RFC 4514 string', 'OU=Dev+CN=client one,O=Example Org,C=DE', true],
    ['case, spacing and multi-valued order', 'cn=CLIENT ONE + ou=dev, o=Example   Org, c=de', true],
    ['numeric OIDs', '2.5.4.3=client one+2.5.4.11=Dev,2.5.4.10=Example Org,2.5.4.6=DE', true],
    ['hex-escaped space', 'OU=Dev+CN=client\\20one,O=Example Org,C=DE', true],
    ['ASN.1 order instead of string order', 'C=DE,O=Example Org,OU=Dev+CN=client one', false],
    ['a multi-valued RDN split in two', 'CN=client one,OU=Dev,O=Example Org,C=DE', false],
    ['a missing RDN', 'OU=Dev+CN=client one,O=Example Org', false],
    ['an extra attribute', 'OU=Dev+CN=client one+L=x,O=Example Org,C=DE', false],
    ['another value', 'OU=Dev+CN=client two,O=Example Org,C=DE', false],
    ['a prefix of the value', 'OU=Dev+CN=client,O=Example Org,C=DE', false],
  ])('%s', (_, dn, expected) => {
    expect(subjectDnMatches(dn, readCertificateIdentity(client.der).subject)).toBe(expected);
  });

  it('matches an escaped comma in a value', () => {
    const subject = readCertificateIdentity(commaOrg.der).subject;
    expect(subjectDnMatches('CN=x,O=Acme\\, Inc', subject)).toBe(true);
    expect(subjectDnMatches('CN=x,O=Acme,O=Inc', subject)).toBe(false);
  });

  it('matches a #hexstring against the encoded value', () => {
    const cn = readCertificateIdentity(viaIntermediate.der).subject[0]![0]!;
    expect(subjectDnMatches(`CN=#${cn.hex}`, readCertificateIdentity(viaIntermediate.der).subject)).toBe(true);
  });
});

describe('tlsClientAuthMatches (RFC 8705 §2.1.2 SAN entries)', () => {
  it.each<[TlsClientAuthMetadataName, string, boolean]>([
    ['tls_client_auth_san_dns', 'client.example.com', true],
    ['tls_client_auth_san_dns', 'CLIENT.EXAMPLE.COM', true],
    ['tls_client_auth_san_dns', 'example.com', false],
    ['tls_client_auth_san_dns', '*.example.com', false],
    ['tls_client_auth_san_uri', 'https://client.example.com/id', true],
    ['tls_client_auth_san_uri', 'https://client.example.com/ID', false],
    ['tls_client_auth_san_uri', 'https://client.example.com/id/', false],
    ['tls_client_auth_san_ip', '192.0.2.7', true],
    ['tls_client_auth_san_ip', '192.0.2.8', false],
    ['tls_client_auth_san_ip', '2001:db8::1', true],
    ['tls_client_auth_san_ip', '2001:0db8:0:0:0:0:0:1', true],
    ['tls_client_auth_san_ip', '2001:db8::2', false],
    ['tls_client_auth_san_email', 'Ops@example.com', true],
    ['tls_client_auth_san_email', 'ops@Example.COM', false],
    ['tls_client_auth_subject_dn', 'OU=Dev+CN=client one,O=Example Org,C=DE', true],
    // The subject's CN is not a DNS SAN: only subjectAltName entries count.
    ['tls_client_auth_san_dns', 'client one', false],
  ])('%s %s → %s', (name, value, expected) => {
    expect(tlsClientAuthMatches({ name, value }, readCertificateIdentity(client.der))).toBe(expected);
  });
});

describe('tlsClientAuthExpectation (RFC 8705 §2.1.2: exactly one)', () => {
  it('returns the one value set', () => {
    expect(tlsClientAuthExpectation({ tls_client_auth_san_dns: 'a.example' })).toEqual({ name: 'tls_client_auth_san_dns', value: 'a.example' });
    expect(tlsClientAuthExpectation({ tls_client_auth_san_dns: '' })).toBeUndefined();
  });

  it('refuses two at once', () => {
    expect(() => tlsClientAuthExpectation({ tls_client_auth_san_dns: 'a.example', tls_client_auth_subject_dn: 'CN=a' })).toThrow(/only one/);
  });

  it.each<[TlsClientAuthMetadataName, string]>([
    ['tls_client_auth_subject_dn', 'not a dn'],
    ['tls_client_auth_san_dns', 'a b'],
    ['tls_client_auth_san_uri', 'relative/path'],
    ['tls_client_auth_san_ip', '999.1.1.1'],
    ['tls_client_auth_san_ip', 'host.example'],
    ['tls_client_auth_san_email', 'nobody'],
    ['tls_client_auth_san_dns', 'a\u0000.example'],
  ])('refuses %s %j', (name, value) => {
    expect(() => tlsClientAuthExpectation({ [name]: value })).toThrow();
  });
});

describe('certificateThumbprint (RFC 8705 §3.1 x5t#S256)', () => {
  it('is the base64url SHA-256 of the DER, as openssl computes it', () => {
    const out = execFileSync('openssl', ['x509', '-in', client.certPath, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
    const hex = out.split('=')[1]!.trim().replace(/:/g, '');
    const expected = Buffer.from(hex, 'hex').toString('base64url');
    expect(certificateThumbprint(client.der)).toBe(expected);
    expect(isCertificateThumbprint(expected)).toBe(true);
    expect(certificateThumbprint(selfSigned.der)).not.toBe(expected);
  });

  it.each(['', 'abc', 'x'.repeat(44), `${'a'.repeat(42)}=`, 42])('isCertificateThumbprint refuses %j', (v) => {
    expect(isCertificateThumbprint(v)).toBe(false);
  });
});

describe('selfSignedCertificateMatches (RFC 8705 §2.2)', () => {
  const jwkOf = (c: TestCert) => createPublicKey(c.keyPem).export({ format: 'jwk' });

  it('accepts the certificate whose public key is registered', () => {
    expect(selfSignedCertificateMatches(selfSigned.der, { keys: [jwkOf(client), jwkOf(selfSigned)] })).toBe(true);
  });

  it('accepts a JWK whose x5c holds the certificate', () => {
    expect(selfSignedCertificateMatches(selfSigned.der, { keys: [{ kty: 'EC', x5c: [selfSigned.der.toString('base64')] }] })).toBe(true);
  });

  it('refuses a certificate with another key', () => {
    expect(selfSignedCertificateMatches(selfSigned.der, { keys: [jwkOf(client)] })).toBe(false);
    expect(selfSignedCertificateMatches(selfSigned.der, undefined)).toBe(false);
    expect(selfSignedCertificateMatches(Buffer.from('garbage'), { keys: [jwkOf(selfSigned)] })).toBe(false);
  });
});

describe('chainIsTrusted (RFC 8705 §2.1 PKI method)', () => {
  const anchors = () => [new X509Certificate(ca.der)];

  it('accepts a certificate issued by a trust anchor', () => {
    expect(chainIsTrusted(client.der, [], anchors(), now())).toBe(true);
  });

  it('accepts a certificate issued by an intermediate the client sent', () => {
    expect(chainIsTrusted(viaIntermediate.der, [intermediate.der], anchors(), now())).toBe(true);
  });

  it('refuses a path with the intermediate missing', () => {
    expect(chainIsTrusted(viaIntermediate.der, [], anchors(), now())).toBe(false);
  });

  it('refuses a self-signed certificate (even one sent with itself as its chain)', () => {
    expect(chainIsTrusted(selfSigned.der, [selfSigned.der], anchors(), now())).toBe(false);
  });

  it('refuses a certificate of another CA', () => {
    expect(chainIsTrusted(client.der, [], [new X509Certificate(otherCa.der)], now())).toBe(false);
  });

  it('refuses an expired certificate', () => {
    expect(chainIsTrusted(client.der, [], anchors(), new Date(Date.now() + 10 * 86_400_000))).toBe(false);
  });

  it('refuses a certificate whose extended key usage excludes clientAuth', () => {
    expect(chainIsTrusted(serverOnly.der, [], anchors(), now())).toBe(false);
  });

  it('refuses a leaf signed by a non-CA certificate', () => {
    const g = certFactory();
    try {
      const notCa = g.leaf('notca', '/CN=not a ca', { issuer: ca });
      const child = g.leaf('child', '/CN=child', { issuer: notCa });
      expect(chainIsTrusted(child.der, [notCa.der], anchors(), now())).toBe(false);
    } finally {
      g.cleanup();
    }
  });
});

describe('readCertificateIdentity', () => {
  it('refuses bytes that are not a certificate', () => {
    expect(() => readCertificateIdentity(Buffer.from('3003020101', 'hex'))).toThrow(/could not be read/);
    expect(() => readCertificateIdentity(Buffer.alloc(0))).toThrow(/could not be read/);
    expect(() => readCertificateIdentity(client.der.subarray(0, 100))).toThrow(/could not be read/);
  });
});

describe('assertExchangeCertificate (RFC 8705 §3, RFC 8693 §5)', () => {
  const x5t = 'a'.repeat(43);
  const other = 'b'.repeat(43);
  it.each([
    ['its own bound subject token with the same certificate', { clientId: 'api', subject: { client_id: 'api', cnf: { 'x5t#S256': x5t } }, presentedThumbprint: x5t }],
    ['a bound token it received as audience, without a certificate', { clientId: 'api', subject: { client_id: 'spa', cnf: { 'x5t#S256': x5t } }, presentedThumbprint: undefined }],
    ['its bound actor token with that certificate', { clientId: 'api', subject: { client_id: 'spa' }, actor: { cnf: { 'x5t#S256': x5t } }, presentedThumbprint: x5t }],
    ['unbound tokens without a certificate', { clientId: 'api', subject: { client_id: 'api' }, presentedThumbprint: undefined }],
    ['a DPoP-only binding (not this rule)', { clientId: 'api', subject: { client_id: 'api', cnf: { jkt: x5t } }, presentedThumbprint: undefined }],
  ])('allows %s', (_, input) => {
    expect(() => assertExchangeCertificate(input)).not.toThrow();
  });
  it.each([
    ['its own bound subject token without a certificate', { clientId: 'api', subject: { client_id: 'api', cnf: { 'x5t#S256': x5t } }, presentedThumbprint: undefined }, /subject_token/],
    ['its own bound subject token with another certificate', { clientId: 'api', subject: { client_id: 'api', cnf: { 'x5t#S256': x5t } }, presentedThumbprint: other }, /subject_token/],
    ['a bound actor token with another certificate', { clientId: 'api', subject: { client_id: 'spa' }, actor: { cnf: { 'x5t#S256': x5t } }, presentedThumbprint: other }, /actor_token/],
  ])('refuses %s', (_, input, message) => {
    expect(() => assertExchangeCertificate(input)).toThrow(message);
  });
});

describe('parseForwardedClientCert (Envoy XFCC, SANITIZE_SET)', () => {
  const enc = (pem: string) => encodeURIComponent(pem);

  it('reads Cert and Chain as Envoy writes them', () => {
    const header = `Hash=abc;Cert="${enc(viaIntermediate.certPem)}";Chain="${enc(viaIntermediate.certPem + intermediate.certPem)}";Subject="CN=via intermediate";URI=;DNS=a.example`;
    const parsed = parseForwardedClientCert(header);
    expect(parsed?.certificate.equals(viaIntermediate.der)).toBe(true);
    expect(parsed?.chain.map((c) => c.equals(intermediate.der))).toEqual([true]);
  });

  it('answers undefined when no certificate is named', () => {
    expect(parseForwardedClientCert('Hash=abc;Subject="CN=x"')).toBeUndefined();
  });

  it.each([
    ['two elements', (c: string) => `Cert="${c}",Cert="${c}"`],
    ['a repeated key', (c: string) => `Cert="${c}";Cert="${c}"`],
    ['an unterminated quote', (c: string) => `Cert="${c}`],
    ['not URL-encoded', () => 'Cert="%E0%A4%A"'],
    ['no certificate in Cert', () => 'Cert="hello"'],
  ])('refuses %s', (_, make) => {
    expect(() => parseForwardedClientCert(make(enc(client.certPem)))).toThrow();
  });
});
