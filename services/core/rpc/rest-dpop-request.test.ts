// The edge's attestation of the REST request a DPoP proof names (RFC 9449 §4.3 steps 8-9 on
// transcoded REST calls): only the mesh secret makes one, and it is good for one RPC, one access
// token and a few seconds.
import { describe, expect, it } from 'vitest';
import { attestRestDpopRequest, REST_DPOP_REQUEST_TTL_SECONDS, verifyRestDpopRequest } from './rest-dpop-request.js';

const SECRET = 'm'.repeat(43);
const RPC = '/authmesh.client.v1.ClientService/GetClient';
const REQUEST = { rpc: RPC, htm: 'GET', htu: 'https://as.example.com/v1/clients/abc' };
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2ln';
const NOW = new Date('2026-12-01T03:00:00Z');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

describe('REST DPoP request attestation', () => {
  it('names the REST method and URL for the RPC and token it was made for', () => {
    const a = attestRestDpopRequest(SECRET, REQUEST, TOKEN, NOW);
    expect(a).toMatch(/^v1\.\d+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyRestDpopRequest(SECRET, a, { rpc: RPC, accessToken: TOKEN, now: NOW })).toStrictEqual({ htm: 'GET', htu: REQUEST.htu });
    expect(verifyRestDpopRequest(SECRET, a, { rpc: RPC, accessToken: TOKEN, now: at(REST_DPOP_REQUEST_TTL_SECONDS) })).toStrictEqual({ htm: 'GET', htu: REQUEST.htu });
  });

  const valid = attestRestDpopRequest(SECRET, REQUEST, TOKEN, NOW);
  const parts = valid.split('.');
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  it.each([
    ['another access token', valid, { accessToken: `${TOKEN}x` }],
    ['another RPC (a proof for GetClient used for DeleteClient)', valid, { rpc: '/authmesh.client.v1.ClientService/DeleteClient' }],
    ['expired', valid, { now: at(REST_DPOP_REQUEST_TTL_SECONDS + 1) }],
    ['made under another secret (forged)', attestRestDpopRequest('f'.repeat(43), REQUEST, TOKEN, NOW), {}],
    ['a changed htu', [parts[0], parts[1], parts[2], b64('https://as.example.com/v1/clients'), parts[4]].join('.'), {}],
    ['a changed htm', [parts[0], parts[1], b64('DELETE'), parts[3], parts[4]].join('.'), {}],
    ['a later expiry', [parts[0], String(Number(parts[1]) + 600), parts[2], parts[3], parts[4]].join('.'), { now: at(60) }],
    ['an expiry too far ahead, even with its MAC', attestRestDpopRequest(SECRET, REQUEST, TOKEN, at(120)), {}],
    ['another version', ['v2', ...parts.slice(1)].join('.'), {}],
    ['a truncated MAC', valid.slice(0, -2), {}],
    ['no MAC', parts.slice(0, 4).join('.'), {}],
    ['garbage', 'not an attestation', {}],
    ['empty', '', {}],
  ])('refuses %s with invalid_dpop_proof', (_name, attestation, change) => {
    expect(() => verifyRestDpopRequest(SECRET, attestation, { rpc: RPC, accessToken: TOKEN, now: NOW, ...change })).toThrow(expect.objectContaining({ code: 'invalid_dpop_proof' }));
  });

  it('refuses to attest a request part with a line break (the MAC input is line-separated)', () => {
    expect(() => attestRestDpopRequest(SECRET, { ...REQUEST, htu: 'https://as.example.com/v1/clients\nGET' }, TOKEN, NOW)).toThrow(/line break/);
  });
});
