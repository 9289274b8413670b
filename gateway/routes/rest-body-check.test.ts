// The REST body check Envoy asks before its transcoder (which drops unknown JSON fields).
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayContext } from '../gateway.js';
import { matchRule, REST_BODY_CHECK_PREFIX, restBodyCheckRoutes, restRules } from './rest-body-check.js';

describe('REST body check (Envoy ext_authz http_service before grpc_json_transcoder)', () => {
  const app = Fastify();
  beforeAll(async () => {
    await restBodyCheckRoutes({ app } as unknown as GatewayContext);
    await app.ready();
  });
  afterAll(() => app.close());

  const check = (method: 'POST' | 'PATCH' | 'GET' | 'DELETE', path: string, body?: unknown) =>
    app.inject({ method, url: `${REST_BODY_CHECK_PREFIX}${path}`, headers: body === undefined ? {} : { 'content-type': 'application/json' }, payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });

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
});
