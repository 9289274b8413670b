// The peer: node-oidc-provider (npm `oidc-provider`, pinned devDependency), in memory, configured
// the way authmesh is measured: one confidential client (client_secret_basic) allowed
// client_credentials and refresh_token, RFC 9068 JWT access tokens signed ES256 (which needs
// features.clientCredentials plus features.resourceIndicators with accessTokenFormat 'jwt'),
// introspection on, refresh tokens rotated on every use (as authmesh does).
//
// It refuses to introspect its own JWT access tokens (unsupported_token_type), so the
// introspection row introspects an opaque access token, issued for the resource
// `urn:bench:opaque` (accessTokenFormat 'opaque'): the peer's row measures a store lookup, not a
// signature check. Refresh tokens come from a bench-only route, POST /bench/refresh-tokens?n=N,
// which mints grants and refresh tokens through the provider's own models (the peer has no
// password grant to get them over HTTP); it is never measured.
//
// Run by bench/run.ts as its own process:
//   PEER_CLIENT_ID=… PEER_CLIENT_SECRET=… node --import tsx bench/peer-oidc-provider.ts
// prints `peer listening on http://127.0.0.1:<port>`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const clientId = process.env.PEER_CLIENT_ID ?? 'bench';
const clientSecret = process.env.PEER_CLIENT_SECRET;
if (!clientSecret) {
  console.error('PEER_CLIENT_SECRET is required');
  process.exit(2);
}
export const JWT_RESOURCE = 'https://api.bench';
export const OPAQUE_RESOURCE = 'urn:bench:opaque';
const SCOPE = 'api:read';

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'ES256', use: 'sig' };

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: `${SCOPE} offline_access`,
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: [SCOPE, 'offline_access'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // RFC 9449: DPoP-bound tokens for requests with a proof (the DPoP bench row; on by default in 9.x, said explicitly).
    dPoP: { enabled: true },
    // The client may introspect its own tokens only (the default policy, said explicitly).
    introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => JWT_RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) =>
        resource === OPAQUE_RESOURCE
          ? { scope: SCOPE, audience: OPAQUE_RESOURCE, accessTokenFormat: 'opaque' }
          : { scope: SCOPE, audience: JWT_RESOURCE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } },
    },
  },
  rotateRefreshToken: true,
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  ttl: { ClientCredentials: 600, AccessToken: 600, RefreshToken: 86_400, Grant: 86_400 },
});
provider.on('server_error', (_ctx, err) => console.error('peer server_error', err));

/** Mints `n` refresh tokens (each its own grant, user bench-user-<i>) for the refresh row. */
async function mintRefreshTokens(n: number): Promise<string[]> {
  const client = await provider.Client.find(clientId);
  if (!client) throw new Error('bench client missing');
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const accountId = `bench-user-${randomUUID()}`;
    const grant = new provider.Grant({ accountId, clientId });
    grant.addOIDCScope('offline_access');
    grant.addResourceScope(JWT_RESOURCE, SCOPE);
    const grantId = await grant.save();
    const rt = new provider.RefreshToken({ accountId, client, grantId, scope: `offline_access ${SCOPE}`, resource: JWT_RESOURCE, gty: 'authorization_code' });
    out.push(await rt.save());
  }
  return out;
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url?.startsWith('/bench/refresh-tokens')) {
    const n = Math.min(1000, Math.max(1, Number(new URL(req.url, issuer).searchParams.get('n') ?? '1') || 1));
    mintRefreshTokens(n).then(
      (tokens) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ refresh_tokens: tokens }));
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      },
    );
    return;
  }
  void callback(req, res);
});
console.log(`peer listening on ${issuer}`);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => server.close(() => process.exit(0)));
