// The certificate of a token request (RFC 8705 §2, §3): which one counts, how a bare client_id
// becomes a mutual-TLS credential, and the per-client requirement (§3.4).
import { describe, expect, it } from 'vitest';
import { certificateThumbprint } from '../core/oauth/index.js';
import { assertCertificatePolicy, presentedCertificate } from './certificate-binding.js';

const certA = { certificate: Buffer.from('certificate A'), chain: [] };
const certB = { certificate: Buffer.from('certificate B'), chain: [] };

describe('presentedCertificate', () => {
  it('binds to the forwarded certificate and turns a bare client_id into a mutual_tls credential', () => {
    const out = presentedCertificate({ credential: { $case: 'clientId', value: 'c1' } }, certA);
    expect(out.thumbprint).toBe(certificateThumbprint(certA.certificate));
    expect(out.credentials).toEqual({ credential: { $case: 'mutualTls', value: { clientId: 'c1', certificate: certA } } });
  });

  it('keeps other credentials as they are (the certificate only binds the tokens)', () => {
    const secret = { credential: { $case: 'clientSecret' as const, value: { clientId: 'c1', clientSecret: 's', method: 1 } } };
    expect(presentedCertificate(secret, certA)).toEqual({ credentials: secret, thumbprint: certificateThumbprint(certA.certificate) });
  });

  it('is unbound without a certificate (an empty one counts as none)', () => {
    const bare = { credential: { $case: 'clientId' as const, value: 'c1' } };
    expect(presentedCertificate(bare, undefined)).toEqual({ credentials: bare, thumbprint: undefined });
    expect(presentedCertificate(bare, { certificate: Buffer.alloc(0), chain: [] })).toEqual({ credentials: bare, thumbprint: undefined });
  });

  it('refuses two different certificates (a gRPC caller naming another one than the connection)', () => {
    expect(() => presentedCertificate({ credential: { $case: 'mutualTls', value: { clientId: 'c1', certificate: certB } } }, certA)).toThrow(/two different client certificates/);
  });

  it('refuses a mutual_tls credential without a certificate, and one too large to be real', () => {
    expect(() => presentedCertificate({ credential: { $case: 'mutualTls', value: { clientId: 'c1', certificate: undefined } } }, undefined)).toThrow(/needs the client certificate/);
    expect(() => presentedCertificate({ credential: { $case: 'clientId', value: 'c1' } }, { certificate: Buffer.alloc(20_000), chain: [] })).toThrow(/too large/);
  });
});

describe('assertCertificatePolicy (RFC 8705 §3.4)', () => {
  it.each([
    [true, undefined, true],
    [true, 'x5t', false],
    [false, undefined, false],
  ])('required %s, thumbprint %s → refused %s', (required, thumbprint, refused) => {
    const run = () => assertCertificatePolicy({ tlsClientCertificateBoundAccessTokens: required }, thumbprint);
    if (refused) expect(run).toThrow(/must use mutual TLS/);
    else expect(run).not.toThrow();
  });
});
