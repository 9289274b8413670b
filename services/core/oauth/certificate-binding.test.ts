// RFC 8705 §3 at authmesh's own APIs: a certificate-bound token is usable only with its certificate.
import { describe, expect, it } from 'vitest';
import { assertCertificateBinding } from './certificate-binding.js';

const X5T = 'A'.repeat(43);
const OTHER = 'B'.repeat(43);

describe('assertCertificateBinding (RFC 8705 §3)', () => {
  it.each([
    ['an unbound token without a certificate', {}, undefined],
    ['an unbound token over mutual TLS', {}, OTHER],
    ['a DPoP-bound token without a certificate', { cnf: { jkt: 'k'.repeat(43) } }, undefined],
    ['a certificate-bound token with its certificate', { cnf: { 'x5t#S256': X5T } }, X5T],
  ])('accepts %s', (_name, claims, presented) => {
    expect(() => assertCertificateBinding(claims, presented)).not.toThrow();
  });

  it.each([
    ['without a certificate (a stolen token used without mutual TLS)', undefined],
    ['with another certificate', OTHER],
    ['with an empty thumbprint', ''],
  ])('refuses a certificate-bound token %s with invalid_token', (_name, presented) => {
    expect(() => assertCertificateBinding({ cnf: { 'x5t#S256': X5T } }, presented)).toThrow(expect.objectContaining({ code: 'invalid_token' }));
  });
});
