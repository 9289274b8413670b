// Admin RPCs accept only tokens addressed to authmesh alone (issue 11 item 4, RFC 9068 §4): a
// token whose aud names another API as well (resource=<API>&resource=<issuer>, RFC 8707) would
// let that API replay what it received against authmesh's admin surface.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType } from '../../gen/ts/authmesh/client/v1/client.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { basicAuth, createFixtures, ORDERS, postForm } from './route-test-support.js';

describe('admin RPCs and tokens addressed to several audiences', () => {
  let t: TestGateway;
  let id: string;
  let secret: string;

  beforeAll(async () => {
    t = await startTestGateway();
    await createFixtures(t); // registers the orders API (ORDERS)
    const res = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({
        client: Client.fromPartial({
          clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
          grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
          scopes: ['authmesh.read', 'orders.read'],
        }),
      }),
      { bearer: await t.bearer() },
    );
    id = res.client!.clientId;
    secret = res.clientSecret;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const listClients = (token: string) =>
    fetch(`${t.baseUrl}/authmesh.client.v1.ClientService/ListClients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{}',
    });
  const token = async (resources: string[], scope = 'authmesh.read orders.read') => {
    const body = [`grant_type=client_credentials`, `scope=${encodeURIComponent(scope)}`, ...resources.map((r) => `resource=${encodeURIComponent(r)}`)].join('&');
    const res = await postForm(`${t.baseUrl}/oauth2/token`, body, { authorization: basicAuth(id, secret) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  };

  it('refuses a token for [another API, authmesh]: the other API cannot replay it at the admin RPCs', async () => {
    const both = await token([ORDERS, t.baseUrl]);
    expect(([] as string[]).concat(decodeJwt(both).aud ?? [])).toStrictEqual(expect.arrayContaining([ORDERS, t.baseUrl]));
    const res = await listClients(both);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe('unauthenticated');
  });

  it('still accepts the same client token addressed to authmesh alone', async () => {
    const own = await token([t.baseUrl], 'authmesh.read');
    expect(decodeJwt(own).aud).toBe(t.baseUrl);
    expect((await listClients(own)).status).toBe(200);
  });
});
