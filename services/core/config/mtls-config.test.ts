// AUTHMESH_MTLS_*: mutual TLS (RFC 8705) configuration, checked at start with clear problems.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';
import { configProblems as problems } from '../../../test/support/config.js';

const dir = mkdtempSync(join(tmpdir(), 'authmesh-mtls-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('mutual TLS configuration', () => {
  it('is off by default', () => {
    const c = loadConfig({});
    expect([c.mtlsCaPem, c.mtlsEdgeSecret, c.mtlsBaseUrl]).toStrictEqual([undefined, undefined, undefined]);
  });

  it('reads the CA bundle, the edge secret and the base URL', () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, PEM);
    const c = loadConfig({ AUTHMESH_MTLS_CA: ca, AUTHMESH_MTLS_EDGE_SECRET: 'x'.repeat(32), AUTHMESH_MTLS_BASE_URL: 'https://mtls.example.com/' });
    expect(c.mtlsCaPem).toBe(PEM);
    expect(c.mtlsEdgeSecret).toBe('x'.repeat(32));
    expect(c.mtlsBaseUrl).toBe('https://mtls.example.com');
  });

  it('refuses an unreadable CA file and one without a certificate', () => {
    const missing = join(dir, 'missing.pem');
    expect(problems({ AUTHMESH_MTLS_CA: missing })).toStrictEqual([`AUTHMESH_MTLS_CA=${JSON.stringify(missing)}: cannot read the file (expected a PEM bundle of CA certificates)`]);
    const empty = join(dir, 'empty.pem');
    writeFileSync(empty, 'not a certificate');
    expect(problems({ AUTHMESH_MTLS_CA: empty })).toStrictEqual([`AUTHMESH_MTLS_CA=${JSON.stringify(empty)}: the file holds no PEM certificate`]);
  });

  it.each(['short', `${'x'.repeat(31)}`, `${'x'.repeat(32)} y`])('refuses the edge secret %j (too short or not printable)', (v) => {
    expect(problems({ AUTHMESH_MTLS_EDGE_SECRET: v })).toStrictEqual(['AUTHMESH_MTLS_EDGE_SECRET: expected at least 32 printable characters of random data (e.g. `openssl rand -hex 32`)']);
  });

  it.each(['mtls.example.com', 'http://mtls.example.com', 'https://mtls.example.com?x=1'])('refuses the base URL %j', (v) => {
    expect(problems({ AUTHMESH_MTLS_BASE_URL: v })[0]).toMatch(/^AUTHMESH_MTLS_BASE_URL=.*expected an absolute https URL/);
  });
});
