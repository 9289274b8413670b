// The consent page names each OpenID Connect claim group the client will receive (OIDC Core
// §5.4), in plain words, as an accessible list, with everything from the client escaped.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimGroupsSection, resourcesSection, sendConsentPage, type ConsentPageInput } from './consent-page.js';

describe('consent page claim groups', () => {
  const app = Fastify();
  let input: ConsentPageInput;
  beforeAll(async () => {
    app.get('/consent', async (_req, reply) => sendConsentPage(reply, input));
    await app.ready();
  });
  afterAll(() => app.close());

  const page = async (scopes: string[], clientName = 'Photo <b>Printer</b>') => {
    input = { client: { clientId: 'c_1', clientName, logoUri: '' }, scopes, csrfToken: 'csrf', pending: 'p', rememberable: true };
    const res = await app.inject({ method: 'GET', url: '/consent' });
    expect(res.statusCode).toBe(200);
    return res.body;
  };

  it('lists each requested claim group in words, in a labelled list, and the other scopes by name', async () => {
    const body = await page(['openid', 'email', 'read', 'address', 'profile', 'phone']);
    expect(body).toContain('<p id="claims-label">It will receive this information about you:</p>');
    expect(body).toContain('<ul class="claims" aria-labelledby="claims-label">');
    const groups = [...body.matchAll(/data-claim-group="([a-z]+)"/g)].map((m) => m[1]);
    expect(groups).toEqual(['profile', 'email', 'phone', 'address']);
    expect(body).toContain('<strong>Your email address</strong>: and whether it has been verified');
    expect(body).toContain('<strong>Your postal address</strong>');
    expect(body).toContain('<ul class="scopes" aria-labelledby="scopes-label"><li>openid</li><li>read</li></ul>');
    expect(body).not.toContain('<li>email</li>');
  });

  it('shows only the groups requested', async () => {
    const body = await page(['openid', 'email']);
    expect([...body.matchAll(/data-claim-group="([a-z]+)"/g)].map((m) => m[1])).toEqual(['email']);
    expect(body).not.toContain('Your profile');
  });

  it('does not describe claim groups without openid: they release nothing then', async () => {
    const body = await page(['profile', 'email']);
    expect(body).not.toContain('claims-label');
    expect(body).toContain('<li>profile</li><li>email</li>');
    expect(claimGroupsSection(['openid'])).toBeUndefined();
  });

  it('escapes the client name', async () => {
    const body = await page(['openid', 'profile'], '<script>alert(1)</script>');
    expect(body).not.toContain('<script>alert(1)</script>');
    expect(body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('consent page resources (RFC 8707 §2.1)', () => {
  it('names each API by its display name and audience, escaped, in a labelled list; nothing when none was named', () => {
    expect(resourcesSection([])).toBeUndefined();
    const section = String(resourcesSection([
      { resource: 'https://orders.example.com/"x', name: 'Orders <API>' },
      { resource: 'https://auth.example.com', name: '' },
    ]));
    expect(section).toContain('<ul class="resources" aria-labelledby="resources-label">');
    expect(section).toContain('<strong>Orders &lt;API&gt;</strong>');
    expect(section).toContain('data-resource="https://orders.example.com/&quot;x"');
    expect(section).not.toContain('Orders <API>');
    // The issuer as a resource: this server's own API.
    expect(section).toContain('<strong>This sign-in service (your account settings)</strong>');
  });
});
