// The certificate of a token request (RFC 8705 §2, §3): which one counts, how a bare client_id
// becomes a mutual-TLS credential, and the per-client requirement (§3.4).
import { describe, expect, it } from 'vitest';
import { certificateThumbprint } from '../core/oauth/index.js';
import { assertCertificateFromEdge, assertCertificatePolicy, presentedCertificate } from './certificate-binding.js';

const certA = { certificate: Buffer.from('certificate A'), chain: [] };
const certB = { certificate: Buffer.from('certificate B'), chain: [] };

describe('assertCertificateFromEdge (RFC 8705 §2: a certificate proves nothing unless a TLS handshake did)', () => {
  const mutualTls = { credential: { $case: 'mutualTls' as const, value: { clientId: 'c1', certificate: certA } } };
  const bare = { credential: { $case: 'clientId' as const, value: 'c1' } };
  it.each<[string, boolean, Parameters<typeof assertCertificateFromEdge>[1], Parameters<typeof assertCertificateFromEdge>[2], boolean]>([
    ['the mesh forwarding a certificate', true, bare, certA, true],
    ['the mesh with a mutual_tls credential', true, mutualTls, undefined, true],
    ['any caller without a certificate', false, bare, undefined, true],
    ['any caller with an empty forwarded certificate', false, bare, { certificate: Buffer.alloc(0), chain: [] }, true],
    ['another caller naming a certificate in client_certificate', false, bare, certA, false],
    ['another caller with a mutual_tls credential', false, mutualTls, undefined, false],
  ])('%s', (_name, mesh, credentials, forwarded, allowed) => {
    const run = () => assertCertificateFromEdge(mesh, credentials, forwarded);
    if (allowed) expect(run).not.toThrow();
    else expect(run).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });
});

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
