// The peer side: bench/peer-oidc-provider.ts (node-oidc-provider) in its own process.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chainRound } from './http-chain-load.js';
import { dpopProofPool } from './dpop-proofs.js';
import { httpRound } from './http-load.js';
import { expectActive, expectJwt, formHeaders, postForm } from './oauth-http.js';
import { repoRoot, startServer, tsxNode } from './processes.js';
import { RefreshPool } from './refresh-pool.js';
import type { Target } from './target.js';

const OPAQUE_RESOURCE = 'urn:bench:opaque';

export function peerVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'oidc-provider', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Starts node-oidc-provider on an ephemeral loopback port and prepares its loads. */
export async function startPeer(): Promise<Target> {
  const clientId = 'bench';
  const clientSecret = randomBytes(32).toString('base64url');
  const [cmd, args] = tsxNode('bench/peer-oidc-provider.ts');
  const { server, match } = await startServer('node-oidc-provider', cmd, args, { PEER_CLIENT_ID: clientId, PEER_CLIENT_SECRET: clientSecret }, /peer listening on (http:\/\/\S+)/);
  try {
    const base = match[1]!;
    const headers = formHeaders(clientId, clientSecret);
    const ccBody = 'grant_type=client_credentials&scope=api%3Aread';
    expectJwt((await postForm(`${base}/token`, clientId, clientSecret, ccBody)).access_token, 'node-oidc-provider client_credentials');
    // Rounds outlast an access token's lifetime: a fresh one before each round (not measured).
    const newOpaque = async () => (await postForm(`${base}/token`, clientId, clientSecret, `${ccBody}&resource=${encodeURIComponent(OPAQUE_RESOURCE)}`)).access_token;
    let opaque = await newOpaque();
    await expectActive(`${base}/token/introspection`, clientId, clientSecret, opaque, 'node-oidc-provider');
    const pool = new RefreshPool();
    // RFC 9449 with features.dpop: a bound token for every request with a proof.
    const dpop = await dpopProofPool();
    const tokenTarget = { htm: 'POST', htu: `${base}/token` };
    const bound = await fetch(`${base}/token`, { method: 'POST', headers: { ...headers, dpop: await dpop.proof(tokenTarget) }, body: ccBody });
    const boundBody = (await bound.json()) as { token_type?: string };
    if (bound.status !== 200 || boundBody.token_type !== 'DPoP') throw new Error(`node-oidc-provider DPoP client_credentials: HTTP ${bound.status} ${JSON.stringify(boundBody)}`);
    return {
      side: 'peer',
      label: `node-oidc-provider ${peerVersion()} (in memory)`,
      loads: {
        client_credentials: { run: (s, c) => httpRound({ url: `${base}/token`, method: 'POST', headers, body: ccBody }, s, c) },
        dpop_client_credentials: {
          async run(s, c) {
            await dpop.fill(tokenTarget, s);
            return httpRound({ url: `${base}/token`, method: 'POST', headers, body: ccBody, perRequestHeaders: () => ({ dpop: dpop.next() }) }, s, c);
          },
          note: 'node-oidc-provider features.dpop enabled (no server nonce, as authmesh by default; jti replay in its memory)',
        },
        introspection: {
          prepare: async () => {
            opaque = await newOpaque();
          },
          run: (s, c) => httpRound({ url: `${base}/token/introspection`, method: 'POST', headers, body: `token=${opaque}` }, s, c),
          note: 'node-oidc-provider refuses to introspect its JWT access tokens: its row introspects an opaque one (a store lookup, no signature check)',
        },
        jwks: { run: (s, c) => httpRound({ url: `${base}/jwks` }, s, c) },
        refresh: {
          async prepare(connections) {
            if (pool.size >= connections) return;
            const res = await fetch(`${base}/bench/refresh-tokens?n=${connections + 4 - pool.size}`, { method: 'POST' });
            if (!res.ok) throw new Error(`peer refresh-token minting: HTTP ${res.status}: ${await res.text()}`);
            pool.add(((await res.json()) as { refresh_tokens: string[] }).refresh_tokens);
          },
          run: (s, c) => chainRound({ url: `${base}/token`, headers, next: () => pool.next(), onResponse: (st, b) => pool.onResponse(st, b) }, s, c),
          note: 'node-oidc-provider refresh tokens are minted in-process through its models (not measured); rotateRefreshToken: true',
        },
      },
      pids: () => [server.pid],
      stop: () => server.stop(),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
