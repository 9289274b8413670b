import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type CryptoKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuthmeshError } from '../errors/index.js';
import {
  checkRequestObjectQuery,
  MAX_REQUEST_OBJECT_LENGTH,
  REQUEST_OBJECT_TYP,
  requestObjectAlgorithms,
  requestObjectResources,
  verifyRequestObject,
  type RequestObjectClient,
  type VerifiedRequestObject,
} from './request-object.js';

const ISSUER = 'https://as.example.com';
const CLIENT = 'client-a';
const NOW = new Date('2026-11-30T12:00:00Z');
const T = Math.floor(NOW.getTime() / 1000);

let es256: CryptoKey;
let other: CryptoKey;
let client: RequestObjectClient;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  es256 = pair.privateKey;
  other = (await generateKeyPair('ES256')).privateKey;
  client = { clientId: CLIENT, jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' }] }, requireSignedRequestObject: false, requestObjectSigningAlg: '' };
});

interface Sign {
  claims?: JWTPayload;
  header?: Record<string, unknown>;
  key?: CryptoKey;
  omit?: string[];
}

async function sign(o: Sign = {}): Promise<string> {
  const claims: JWTPayload = {
    iss: CLIENT,
    aud: ISSUER,
    iat: T,
    nbf: T,
    exp: T + 60,
    jti: 'jti-1',
    client_id: CLIENT,
    response_type: 'code',
    redirect_uri: 'https://app.example.com/cb',
    scope: 'openid read',
    state: 'st',
    code_challenge: 'x'.repeat(43),
    code_challenge_method: 'S256',
    ...o.claims,
  };
  for (const name of o.omit ?? []) delete claims[name];
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: REQUEST_OBJECT_TYP, ...o.header } as { alg: string }).sign(o.key ?? es256);
}

async function failure(jwt: string, c: Partial<RequestObjectClient> = {}): Promise<string> {
  try {
    await verifyRequestObject(jwt, { client: { ...client, ...c }, issuer: ISSUER, now: NOW });
  } catch (err) {
    if (err instanceof AuthmeshError) return `${err.code}: ${err.description}`;
    throw err;
  }
  return 'accepted';
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('requestObjectResources (RFC 8707 §2.1 in a request object)', () => {
  it.each([
    [undefined, []],
    [null, []],
    ['https://api.example.com', ['https://api.example.com']],
    [['https://a.example.com', 'https://b.example.com'], ['https://a.example.com', 'https://b.example.com']],
  ])('reads %j', (value, expected) => {
    expect(requestObjectResources(value)).toEqual(expected);
  });

  it.each([[42], [{ uri: 'https://a.example.com' }], [['https://a.example.com', 7]], [true], [[]]])('request_object_resource_type: refuses %j with invalid_request_object', (value) => {
    expect(() => requestObjectResources(value)).toThrow(expect.objectContaining({ code: 'invalid_request_object' }));
  });
});

describe('verifyRequestObject (RFC 9101 §6)', () => {
  it('returns the authorization parameters of a valid object, its jti and exp', async () => {
    const v = await verifyRequestObject(await sign({ claims: { max_age: 300, claims: { id_token: { email: null } } } }), { client, issuer: ISSUER, now: NOW });
    expect(v).toEqual({
      params: {
        client_id: CLIENT,
        response_type: 'code',
        redirect_uri: 'https://app.example.com/cb',
        scope: 'openid read',
        state: 'st',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
        max_age: '300',
        claims: '{"id_token":{"email":null}}',
      },
      resource: [],
      jti: 'jti-1',
      exp: T + 60,
    });
  });

  it('request_object_resource_array: returns the resource indicators of an object, as an array or as one string (RFC 8707 §2.1)', async () => {
    const many = await verifyRequestObject(await sign({ claims: { resource: ['https://a.example.com', 'https://b.example.com'] } }), { client, issuer: ISSUER, now: NOW });
    expect(many.resource).toEqual(['https://a.example.com', 'https://b.example.com']);
    const one = await verifyRequestObject(await sign({ claims: { resource: 'https://a.example.com', jti: 'jti-2' } }), { client, issuer: ISSUER, now: NOW });
    expect(one.resource).toEqual(['https://a.example.com']);
    await expect(verifyRequestObject(await sign({ claims: { resource: [1], jti: 'jti-3' } }), { client, issuer: ISSUER, now: NOW })).rejects.toMatchObject({ code: 'invalid_request_object' });
  });

  it('accepts a typ of application/oauth-authz-req+jwt and an object without typ when the client does not require signing', async () => {
    expect(await failure(await sign({ header: { typ: 'application/oauth-authz-req+jwt' } }))).toBe('accepted');
    expect(await failure(await sign({ header: { typ: undefined } }))).toBe('accepted');
  });

  it('fills client_id from the issuer when the object leaves it out', async () => {
    const v = await verifyRequestObject(await sign({ omit: ['client_id'] }), { client, issuer: ISSUER, now: NOW });
    expect(v.params.client_id).toBe(CLIENT);
  });

  it.each<[string, () => Promise<string>, Partial<RequestObjectClient>?]>([
    ['an unsigned object (alg none)', async () => `${b64({ alg: 'none', typ: REQUEST_OBJECT_TYP })}.${b64({ iss: CLIENT, aud: ISSUER, exp: T + 60, jti: 'j' })}.`],
    ['an HS256 object (the public key is no secret)', async () => `${b64({ alg: 'HS256' })}.${b64({ iss: CLIENT, aud: ISSUER, exp: T + 60, jti: 'j' })}.c2ln`],
    ['an encrypted object (five parts)', async () => 'a.b.c.d.e'],
    ['a garbled header', async () => 'not-a-jwt.e30.sig'],
    ['a signature by another key', () => sign({ key: other })],
    ['a tampered payload', async () => {
      const [h, , s] = (await sign()).split('.');
      return `${h}.${b64({ iss: CLIENT, aud: ISSUER, exp: T + 60, jti: 'j', scope: 'admin' })}.${s}`;
    }],
    ['another typ (an access token)', () => sign({ header: { typ: 'at+jwt' } })],
    ['no typ from a client that requires signed objects (RFC 9101 §10.8)', () => sign({ header: { typ: undefined } }), { requireSignedRequestObject: true }],
    ['an alg other than the registered one', () => sign(), { requestObjectSigningAlg: 'RS256' }],
    ['a client without registered keys', () => sign(), { jwks: undefined }],
    ['another issuer', () => sign({ claims: { iss: 'client-b' } })],
    ['another audience', () => sign({ claims: { aud: 'https://other.example.com' } })],
    ['no exp', () => sign({ omit: ['exp'] })],
    ['no jti (it could be replayed)', () => sign({ omit: ['jti'] })],
    ['an expired object', () => sign({ claims: { exp: T - 120, iat: T - 180, nbf: T - 180 } })],
    ['an object not valid before later', () => sign({ claims: { nbf: T + 600, exp: T + 660 } })],
    ['an iat in the future', () => sign({ claims: { iat: T + 600, nbf: undefined, exp: T + 660 } })],
    ['a lifetime over an hour', () => sign({ claims: { exp: T + 7200 } })],
    ['a nested request', () => sign({ claims: { request: 'x.y.z' } })],
    ['a nested request_uri', () => sign({ claims: { request_uri: 'urn:ietf:params:oauth:request_uri:x' } })],
    ['a client_id of another client', () => sign({ claims: { client_id: 'client-b' } })],
    ['a scope that is not a string', () => sign({ claims: { scope: ['openid'] } })],
    ['a negative max_age', () => sign({ claims: { max_age: -1 } })],
    ['a claims member that is an array', () => sign({ claims: { claims: ['email'] } })],
    ['an oversized object', async () => 'a'.repeat(MAX_REQUEST_OBJECT_LENGTH + 1)],
  ])('refuses %s with invalid_request_object', async (_name, make, c) => {
    expect(await failure(await make(), c)).toMatch(/^invalid_request_object: /);
  });
});

describe('requestObjectAlgorithms', () => {
  it('is the asymmetric allow-list unless the client registered one algorithm', () => {
    expect(requestObjectAlgorithms({ requestObjectSigningAlg: '' })).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
    expect(requestObjectAlgorithms({ requestObjectSigningAlg: 'ES256' })).toEqual(['ES256']);
  });
});

describe('checkRequestObjectQuery (RFC 9101 §5, §6.3)', () => {
  const object: VerifiedRequestObject = { params: { client_id: CLIENT, response_type: 'code' }, resource: [], jti: 'j', exp: T + 60 };
  it.each<[string, { client_id?: string; response_type?: string }, string | undefined]>([
    ['the same client_id and no response_type', { client_id: CLIENT }, undefined],
    ['the same client_id and response_type', { client_id: CLIENT, response_type: 'code' }, undefined],
    ['no client_id', {}, 'invalid_request'],
    ['another client_id', { client_id: 'client-b' }, 'invalid_request_object'],
    ['another response_type', { client_id: CLIENT, response_type: 'token' }, 'invalid_request_object'],
  ])('with %s', (_name, query, error) => {
    let code: string | undefined;
    try {
      checkRequestObjectQuery(query, object);
    } catch (err) {
      code = (err as AuthmeshError).code;
    }
    expect(code).toBe(error);
  });
});
