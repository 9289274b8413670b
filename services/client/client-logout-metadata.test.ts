// OpenID Connect logout metadata of clients over real gRPC: post_logout_redirect_uris
// (RP-Initiated Logout 1.0 §3.1), backchannel_logout_uri and backchannel_logout_session_required
// (Back-Channel Logout 1.0 §2.2): stored, returned, updated by mask, and refused when unsafe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client as ClientMsg, ClientType, GrantType, type Client as ClientMessage } from '../../gen/ts/authmesh/client/v1/client.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { uniqueId } from '../../test/support/ids.js';

let t: TestMesh;
let admin: string;
beforeAll(async () => {
  t = await startTestMesh();
  admin = await t.bearer();
});
afterAll(async () => {
  await t?.close();
});

const webApp = (over: Partial<ClientMessage> = {}): Partial<ClientMessage> => ({
  clientId: uniqueId('rp'),
  clientName: 'RP',
  clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
  grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
  redirectUris: ['https://rp.example.com/cb'],
  scopes: ['openid'],
  ...over,
});
const create = (client: Partial<ClientMessage>) => t.anon.client.createClient({ client: ClientMsg.fromPartial(client) }, { bearer: admin });

describe('client logout metadata', () => {
  it('stores and returns post_logout_redirect_uris and the back-channel settings, and clears them by update_mask', async () => {
    const created = await create(
      webApp({ postLogoutRedirectUris: ['https://rp.example.com/bye', 'http://127.0.0.1:8400/bye'], backchannelLogoutUri: 'https://rp.example.com/bcl', backchannelLogoutSessionRequired: true }),
    );
    expect(created.client).toMatchObject({
      postLogoutRedirectUris: ['https://rp.example.com/bye', 'http://127.0.0.1:8400/bye'],
      backchannelLogoutUri: 'https://rp.example.com/bcl',
      backchannelLogoutSessionRequired: true,
    });
    const id = created.client!.clientId;
    expect((await t.anon.client.getClient({ clientId: id }, { bearer: admin })).client).toMatchObject({ backchannelLogoutUri: 'https://rp.example.com/bcl' });
    const updated = await t.anon.client.updateClient(
      { client: ClientMsg.fromPartial({ clientId: id }), updateMask: ['post_logout_redirect_uris', 'backchannel_logout_uri', 'backchannel_logout_session_required'] },
      { bearer: admin },
    );
    expect(updated.client).toMatchObject({ postLogoutRedirectUris: [], backchannelLogoutUri: '', backchannelLogoutSessionRequired: false });
    expect((await t.store.clients.get(id)).metadata).not.toHaveProperty('backchannel_logout_uri');
  });

  it.each([
    ['a post_logout_redirect_uri with a fragment', { postLogoutRedirectUris: ['https://rp.example.com/bye#x'] }],
    ['a relative post_logout_redirect_uri', { postLogoutRedirectUris: ['/bye'] }],
    ['an http post_logout_redirect_uri off loopback', { postLogoutRedirectUris: ['http://rp.example.com/bye'] }],
    ['21 post_logout_redirect_uris', { postLogoutRedirectUris: Array.from({ length: 21 }, (_, i) => `https://rp.example.com/bye${i}`) }],
    ['an http backchannel_logout_uri off loopback', { backchannelLogoutUri: 'http://rp.example.com/bcl' }],
    ['http on localhost (a name, not a loopback IP literal)', { backchannelLogoutUri: 'http://localhost:9000/bcl' }],
    ['a backchannel_logout_uri with a fragment', { backchannelLogoutUri: 'https://rp.example.com/bcl#f' }],
    ['a backchannel_logout_uri with credentials', { backchannelLogoutUri: 'https://user:pw@rp.example.com/bcl' }],
    ['a non-URL backchannel_logout_uri', { backchannelLogoutUri: 'not a url' }],
    // SSRF (review M1): a delivery to an IP literal never passes through the DNS lookup check.
    ['a backchannel_logout_uri on the link-local metadata address', { backchannelLogoutUri: 'https://169.254.169.254/latest/meta-data' }],
    ['a backchannel_logout_uri on IPv4-mapped loopback', { backchannelLogoutUri: 'https://[::ffff:127.0.0.1]:18491/v6' }],
    ['a backchannel_logout_uri on a private IPv4 literal', { backchannelLogoutUri: 'https://10.0.0.7/bcl' }],
    ['a backchannel_logout_uri on a unique-local IPv6 literal', { backchannelLogoutUri: 'https://[fd00::1]/bcl' }],
    ['a backchannel_logout_uri on NAT64 of a private address', { backchannelLogoutUri: 'https://[64:ff9b::10.0.0.1]/bcl' }],
  ])('refuses %s and creates nothing', async (_n, over) => {
    const m = webApp(over);
    await expect(create(m)).rejects.toMatchObject({ code: expect.stringMatching(/^invalid_(client_metadata|redirect_uri)$/) });
    await expect(t.store.clients.get(m.clientId!)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('accepts a public IP literal and 127.0.0.1 (delivery calls loopback only under the development setting)', async () => {
    for (const uri of ['https://93.184.216.34/bcl', 'https://127.0.0.1:18491/bc', 'https://[::1]:18491/bc']) {
      expect((await create(webApp({ backchannelLogoutUri: uri }))).client!.backchannelLogoutUri).toBe(uri);
    }
  });
});
