import { describe, expect, it } from 'vitest';
import { AuthmeshError } from '../errors/index.js';
import {
  checkPushedRequest,
  checkRequestUriClient,
  newPushedRequestUri,
  PAR_REQUEST_URI_PREFIX,
  pushedDpopJkt,
  pushedRequestReference,
  pushedRequestRequired,
} from './pushed-authorization.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof AuthmeshError) return err.code;
    throw err;
  }
}

describe('request_uri values (RFC 9126 §2.2)', () => {
  it('issues unguessable URNs whose reference reads back, each one different', () => {
    const a = newPushedRequestUri();
    const b = newPushedRequestUri();
    expect(a.requestUri).toMatch(/^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/);
    expect(a.requestUri).not.toBe(b.requestUri);
    expect(pushedRequestReference(a.requestUri)).toBe(a.reference);
  });

  it.each([
    ['an https URL (never fetched: no SSRF)', 'https://rp.example.com/request.jwt'],
    ['a loopback URL', 'http://127.0.0.1:8080/r'],
    ['another URN namespace', 'urn:example:request:abc'],
    ['the prefix alone', PAR_REQUEST_URI_PREFIX],
    ['a short reference', `${PAR_REQUEST_URI_PREFIX}abc`],
    ['a reference with other characters', `${PAR_REQUEST_URI_PREFIX}${'a'.repeat(42)}/`],
    ['a longer reference', `${PAR_REQUEST_URI_PREFIX}${'a'.repeat(44)}`],
    ['the prefix in another case', `URN:IETF:PARAMS:OAUTH:REQUEST_URI:${'a'.repeat(43)}`],
  ])('does not take %s for one of its request_uri values', (_name, value) => {
    expect(pushedRequestReference(value)).toBeUndefined();
  });
});

describe('the pushed request itself (RFC 9126 §2.1)', () => {
  it.each([
    ['no client_id', {}, 'client-a', undefined],
    ['the authenticated client_id', { client_id: 'client-a' }, 'client-a', undefined],
    ['an empty client_id (omitted, RFC 6749 §3.1)', { client_id: '' }, 'client-a', undefined],
    ['another client_id', { client_id: 'client-b' }, undefined, 'invalid_request'],
    ['a request_uri', { request_uri: 'urn:ietf:params:oauth:request_uri:x' }, undefined, 'invalid_request'],
  ])('with %s', (_name, params, clientId, error) => {
    if (error === undefined) expect(checkPushedRequest('client-a', params)).toBe(clientId);
    else expect(codeOf(() => checkPushedRequest('client-a', params))).toBe(error);
  });
});

describe('client_id with a request_uri (RFC 9126 §4)', () => {
  it.each([
    ['the pushing client', 'client-a', undefined],
    ['no client_id', undefined, 'invalid_request'],
    ['an empty client_id', '', 'invalid_request'],
    ['another client', 'client-b', 'invalid_request_uri'],
  ])('accepts only %s', (_name, queryClientId, error) => {
    expect(codeOf(() => checkRequestUriClient('client-a', queryClientId))).toBe(error);
  });
});

describe('who must push (RFC 9126 §6)', () => {
  it.each([
    [false, false, false],
    [true, false, true],
    [false, true, true],
    [true, true, true],
  ])('client requires %s, server requires %s: required %s', (client, server, required) => {
    expect(pushedRequestRequired({ requirePushedAuthorizationRequests: client }, server)).toBe(required);
  });
});

describe('pushedDpopJkt (RFC 9449 §10.1)', () => {
  const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
  it.each<[string, string, string]>([
    ['no dpop_jkt parameter: the proof key', '', jkt],
    ['the same dpop_jkt as the proof key', jkt, jkt],
  ])('%s', (_name, parameter, expected) => {
    expect(pushedDpopJkt(parameter, jkt)).toBe(expected);
  });

  it('refuses a dpop_jkt naming another key than the proof', () => {
    expect(() => pushedDpopJkt('0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I', jkt)).toThrow(expect.objectContaining({ code: 'invalid_dpop_proof' }));
  });
});
