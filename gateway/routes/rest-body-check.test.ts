// The REST body check Envoy asks before its transcoder (which drops unknown JSON fields).
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REST_DPOP_REQUEST_METADATA_KEY, verifyRestDpopRequest } from '../../services/core/rpc/index.js';
import type { GatewayContext } from '../gateway.js';
import { matchRule, REST_BODY_CHECK_PREFIX, REST_SERVICES, restBodyCheckRoutes, restRules } from './rest-body-check.js';

const MESH_SECRET = 'mesh-secret-'.padEnd(43, 'm');
const EDGE_SECRET = 'edge-secret-'.padEnd(48, 'e');

describe('REST body check (Envoy ext_authz http_service before grpc_json_transcoder)', () => {
  const app = Fastify();
  beforeAll(async () => {
    await restBodyCheckRoutes({ app, config: { issuer: 'https://as.example.com', mtlsEdgeSecret: undefined, meshSecret: MESH_SECRET } } as unknown as GatewayContext);
    await app.ready();
  });
  afterAll(() => app.close());

  const check = (method: 'POST' | 'PATCH' | 'GET' | 'DELETE', path: string, body?: unknown) =>
    app.inject({ method, url: `${REST_BODY_CHECK_PREFIX}${path}`, headers: body === undefined ? {} : { 'content-type': 'application/json' }, payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });

  it('refuses a query parameter that would override what the path or body sets (the URL would name another resource than the one acted on)', async () => {
    const refused: ['POST' | 'PATCH' | 'GET' | 'DELETE', string, unknown][] = [
      ['DELETE', '/v1/clients/X?client_id=Y', undefined],
      ['GET', '/v1/clients/a?client%5Fid=authmesh-admin', undefined],
      ['PATCH', '/v1/clients/c_1?client.client_name=z', { client_name: 'y' }],
      ['POST', '/v1/clients?client.client_id=x', { client_name: 'x' }],
    ];
    for (const [method, path, body] of refused) {
      const res = await check(method, path, body);
      expect(res.statusCode, `${method} ${path}`).toBe(400);
      expect((res.json() as { message: string }).message).toContain('would override');
    }
    // Query parameters of fields nobody else sets stay allowed (paging, update masks).
    expect((await check('GET', '/v1/clients?page_size=5&page_token=x')).statusCode).toBe(200);
    expect((await check('PATCH', '/v1/clients/c_1?update_mask=client_name', { client_name: 'y' })).statusCode).toBe(200);
  });

  it('finds the RPC of a REST request by verb, path template and custom verb', () => {
    const rules = restRules();
    expect(matchRule(rules, 'POST', '/v1/clients')?.method.name).toBe('CreateClient');
    expect(matchRule(rules, 'PATCH', '/v1/clients/c_1')?.method.name).toBe('UpdateClient');
    expect(matchRule(rules, 'POST', '/v1/clients/c_1:rotateSecret')?.method.name).toBe('RotateClientSecret');
    expect(matchRule(rules, 'GET', '/v1/services:lookup')?.method.name).toBe('LookupService');
    expect(matchRule(rules, 'POST', '/v1/users/u_1:setPassword')?.method.name).toBe('SetPassword');
    expect(matchRule(rules, 'POST', '/v1/clients/c_1:unknownVerb')).toBeUndefined();
  });

  it('refuses unknown body fields and enum names with 400 naming them, in the transcoder error shape', async () => {
    const base = { client_name: 'x', client_type: 'CLIENT_TYPE_CONFIDENTIAL', grant_types: ['GRANT_TYPE_CLIENT_CREDENTIALS'] };
    const cases: ['POST' | 'PATCH', string, unknown, string][] = [
      ['POST', '/v1/clients', { ...base, frontchannel_logout_uri: 'https://a.example/fcl' }, 'frontchannel_logout_uri'],
      ['POST', '/v1/clients', { ...base, grant_types: ['GRANT_TYPE_IMPLICIT'] }, 'GRANT_TYPE_IMPLICIT'],
      ['POST', '/v1/clients', { ...base, grant_types: [1000] }, 'client.grant_types[0]'],
      ['PATCH', '/v1/clients/c_1', { client_name: 'y', colour: 'blue' }, 'colour'],
      ['POST', '/v1/clients/c_1:rotateSecret', { previous_secret_grace_seconds: 60, everything: true }, 'everything'],
      ['POST', '/v1/clients', '{"client_name":', 'not valid JSON'],
    ];
    for (const [method, path, body, named] of cases) {
      const res = await check(method, path, body);
      expect(res.statusCode, `${method} ${path}`).toBe(400);
      expect(res.json()).toMatchObject({ code: 3 });
      expect((res.json() as { message: string }).message).toContain(named);
    }
  });

  it('accepts the OIDC standard claims of a user (address nested) and refuses an unknown address member', async () => {
    const claims = { given_name: 'Zoë', email_verified: true, phone_number: '+33123456789', address: { locality: 'Paris', postal_code: '75002' } };
    expect((await check('PATCH', '/v1/users/u_1', claims)).statusCode).toBe(200);
    expect((await check('POST', '/v1/users', { user: { username: 'zoe', ...claims }, password: 'a long enough password' })).statusCode).toBe(200);
    const res = await check('PATCH', '/v1/users/u_1', { address: { planet: 'Mars' } });
    expect(res.statusCode).toBe(400);
    expect((res.json() as { message: string }).message).toContain('planet');
  });

  it('lets well-formed bodies and bodiless requests through', async () => {
    expect((await check('POST', '/v1/clients', { client_name: 'x', clientType: 'CLIENT_TYPE_PUBLIC', redirect_uris: ['https://a.example/cb'] })).statusCode).toBe(200);
    expect((await check('GET', '/v1/clients?page_size=5')).statusCode).toBe(200);
    expect((await check('DELETE', '/v1/clients/c_1')).statusCode).toBe(200);
    expect((await check('POST', '/v1/keys:rotate', {})).statusCode).toBe(200);
  });

  describe('DPoP on REST (RFC 9449 §4.3 steps 8-9): the attestation of the REST request a proof names', () => {
    const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2ln';
    const ask = (target: Fastify.FastifyInstance, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: unknown) =>
      target.inject({
        method,
        url: `${REST_BODY_CHECK_PREFIX}${path}`,
        headers: { host: 'as.example.com', 'x-forwarded-proto': 'https', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        payload: body === undefined ? undefined : JSON.stringify(body),
      });
    const attested = (res: { headers: Record<string, unknown> }) => res.headers[REST_DPOP_REQUEST_METADATA_KEY] as string | undefined;

    it('attests a DPoP-scheme request for its RPC and token: htm the method, htu the REST URL without query', async () => {
      const got = await ask(app, 'GET', '/v1/clients/c_1', { authorization: `DPoP ${TOKEN}` });
      expect(got.statusCode).toBe(200);
      expect(verifyRestDpopRequest(MESH_SECRET, attested(got)!, { rpc: '/authmesh.client.v1.ClientService/GetClient', accessToken: TOKEN, now: new Date() })).toStrictEqual({
        htm: 'GET',
        htu: 'https://as.example.com/v1/clients/c_1',
      });
      const listed = await ask(app, 'GET', '/v1/clients?page_size=5', { authorization: `DPoP ${TOKEN}` });
      expect(verifyRestDpopRequest(MESH_SECRET, attested(listed)!, { rpc: '/authmesh.client.v1.ClientService/ListClients', accessToken: TOKEN, now: new Date() }).htu).toBe('https://as.example.com/v1/clients');
      // Bound to the RPC the route maps to: not usable for another one.
      expect(() => verifyRestDpopRequest(MESH_SECRET, attested(got)!, { rpc: '/authmesh.client.v1.ClientService/DeleteClient', accessToken: TOKEN, now: new Date() })).toThrow();
    });

    it('attests nothing for a Host the edge does not answer for (a proof made for another server, RFC 9449 §11.1)', async () => {
      expect(attested(await ask(app, 'GET', '/v1/clients/c_1', { authorization: `DPoP ${TOKEN}`, host: 'api.other.example' }))).toBeUndefined();
      expect(attested(await ask(app, 'GET', '/v1/clients/c_1', { authorization: `DPoP ${TOKEN}`, host: 'as.example.com:8443' }))).toBeUndefined();
    });

    it('attests nothing for a Bearer call, a call without credentials, or a body it refuses', async () => {
      expect(attested(await ask(app, 'GET', '/v1/clients/c_1', { authorization: `Bearer ${TOKEN}` }))).toBeUndefined();
      expect(attested(await ask(app, 'GET', '/v1/clients/c_1', {}))).toBeUndefined();
      const refused = await ask(app, 'POST', '/v1/clients', { authorization: `DPoP ${TOKEN}` }, { client_name: 'x', colour: 'blue' });
      expect(refused.statusCode).toBe(400);
      expect(attested(refused)).toBeUndefined();
    });

    it('with AUTHMESH_MTLS_EDGE_SECRET, attests only a check the edge asked for (x-authmesh-edge-proof)', async () => {
      const edged = Fastify();
      await restBodyCheckRoutes({ app: edged, config: { issuer: 'https://as.example.com', mtlsEdgeSecret: EDGE_SECRET, meshSecret: MESH_SECRET } } as unknown as GatewayContext);
      await edged.ready();
      try {
        expect(attested(await ask(edged, 'GET', '/v1/clients/c_1', { authorization: `DPoP ${TOKEN}` }))).toBeUndefined();
        expect(attested(await ask(edged, 'GET', '/v1/clients/c_1', { authorization: `DPoP ${TOKEN}`, 'x-authmesh-edge-proof': EDGE_SECRET.replace(/e$/, 'x') }))).toBeUndefined();
        expect(attested(await ask(edged, 'GET', '/v1/clients/c_1', { authorization: `DPoP ${TOKEN}`, 'x-authmesh-edge-proof': EDGE_SECRET }))).toMatch(/^v1\./);
      } finally {
        await edged.close();
      }
    });
  });
});

describe("the REST check and Envoy's edge configuration agree", () => {
  const yaml = readFileSync(new URL('../../envoy/envoy.yaml', import.meta.url), 'utf8');

  it('checks (and attests DPoP for) exactly the services the transcoder serves', () => {
    const block = /services:\n((?:\s+- authmesh\.[\w.]+\n)+)/.exec(yaml)?.[1] ?? '';
    const transcoded = [...block.matchAll(/- (authmesh\.[\w.]+)/g)].map((m) => m[1]).sort();
    expect(transcoded.length).toBeGreaterThan(0);
    expect(REST_SERVICES.map((s) => s.typeName).sort()).toEqual(transcoded);
  });

  it('adds the mutual-TLS edge proof on every native gRPC route to a service (RFC 8705 §3: the certificate is believed only with it)', () => {
    const lines = yaml.split('\n');
    const missing: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s+- match: .*headers: \*grpc_content_type/.test(lines[i]!) && !/^\s+- match: \{ prefix: \/authmesh\./.test(lines[i]!)) continue;
      // The route's lines, up to the next match.
      let j = i + 1;
      while (j < lines.length && !/^\s+- match:/.test(lines[j]!) && !/^\s+http_filters:/.test(lines[j]!)) j++;
      const route = lines.slice(i, j).join('\n');
      if (/cluster: authmesh_/.test(route) && !route.includes('x-authmesh-edge-proof')) missing.push(lines[i]!.trim());
    }
    expect(missing).toEqual([]);
  });
});
