// The Ory Hydra side (issue 12, target 3: authmesh's introspection ≥ 2× Hydra's): Hydra v2.3.0,
// built by `scripts/peers.sh hydra install` into .tools/, run as `hydra serve all --dev` with the
// in-memory SQLite store (DSN=memory), the same way the issue measured it. One process, no wrapper.
//
// Configured like the other sides: one confidential client (client_secret_basic, scope api:read)
// allowed client_credentials, JWT access tokens (strategies.access_token=jwt; header typ `JWT`,
// not RFC 9068's `at+jwt`) signed ES256: Hydra signs with the newest key of its `hydra.jwt.access-token` set (RS256 4096 by
// default), so the set is replaced by one ES256 key through the admin API before the first token.
// Hydra's defaults otherwise: client secrets hashed with PBKDF2 (25,000 iterations) and checked on
// every token request; introspection (RFC 7662) is served on the admin port without client
// authentication, and looks the token up in its store.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { freePort } from '../test/support/ports.js';
import { httpRound } from './http-load.js';
import { expectJwt, formHeaders, postForm } from './oauth-http.js';
import { repoRoot, startServer } from './processes.js';
import type { Target } from './target.js';

const run = promisify(execFile);
const SCOPE = 'api:read';
const ACCESS_TOKEN_SET = 'hydra.jwt.access-token';

/** The installed Hydra binary (scripts/peers.sh hydra path), or undefined when not installed. */
export async function hydraBinary(): Promise<string | undefined> {
  try {
    const { stdout } = await run(`${repoRoot}/scripts/peers.sh`, ['hydra', 'path'], { cwd: repoRoot });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function json<T>(url: string, init: RequestInit, what: string): Promise<T> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`hydra ${what}: HTTP ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Polls `url` until it answers 200, for at most `timeoutMs`. */
async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`hydra: ${url} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts Hydra on free loopback ports, registers the bench client and prepares its loads. */
export async function startHydra(binary: string): Promise<Target> {
  const publicPort = await freePort();
  const adminPort = await freePort();
  const pub = `http://127.0.0.1:${publicPort}`;
  const admin = `http://127.0.0.1:${adminPort}`;
  const { server } = await startServer(
    'hydra',
    binary,
    ['serve', 'all', '--dev', '--sqa-opt-out'],
    {
      DSN: 'memory',
      SERVE_PUBLIC_HOST: '127.0.0.1',
      SERVE_PUBLIC_PORT: String(publicPort),
      SERVE_ADMIN_HOST: '127.0.0.1',
      SERVE_ADMIN_PORT: String(adminPort),
      URLS_SELF_ISSUER: pub,
      SECRETS_SYSTEM: randomBytes(32).toString('base64url'),
      STRATEGIES_ACCESS_TOKEN: 'jwt',
      TTL_ACCESS_TOKEN: '10m',
      LOG_LEVEL: 'error',
      SQA_OPT_OUT: 'true',
    },
    // Its banner says it started (LOG_LEVEL=error hides the listener lines); readiness is then
    // asked of the admin API.
    /Ory Hydra v\S+/,
    60_000,
  );
  try {
    await waitReady(`${admin}/health/ready`, 30_000);
    // Only one ES256 key in the access-token set, so every token is signed ES256 like the others.
    await fetch(`${admin}/admin/keys/${ACCESS_TOKEN_SET}`, { method: 'DELETE' });
    await json(`${admin}/admin/keys/${ACCESS_TOKEN_SET}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ alg: 'ES256', use: 'sig', kid: `bench-${randomBytes(4).toString('hex')}` }) }, 'create ES256 key');
    const clientSecret = randomBytes(32).toString('base64url');
    const client = await json<{ client_id: string }>(
      `${admin}/admin/clients`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_name: 'benchmark client',
          client_secret: clientSecret,
          grant_types: ['client_credentials'],
          response_types: ['token'],
          scope: SCOPE,
          token_endpoint_auth_method: 'client_secret_basic',
          access_token_strategy: 'jwt',
        }),
      },
      'create client',
    );
    const clientId = client.client_id;
    const tokenUrl = `${pub}/oauth2/token`;
    const ccBody = `grant_type=client_credentials&scope=${encodeURIComponent(SCOPE)}`;
    const newToken = async () => (await postForm(tokenUrl, clientId, clientSecret, ccBody)).access_token;
    let current = await newToken();
    // Hydra types its JWT access tokens `JWT`, not RFC 9068's `at+jwt`; the signing work is the same.
    expectJwt(current, 'hydra client_credentials', 'JWT');
    const introspectUrl = `${admin}/admin/oauth2/introspect`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const check = await json<{ active?: boolean }>(introspectUrl, { method: 'POST', headers: form, body: `token=${encodeURIComponent(current)}` }, 'introspect');
    if (check.active !== true) throw new Error(`hydra: introspection did not answer active: ${JSON.stringify(check)}`);
    // Hydra makes its ID-token key set (RSA 4096) on the first JWKS request, which takes seconds:
    // ask once here, unmeasured, as any deployment's first client would.
    await json(`${pub}/.well-known/jwks.json`, {}, 'jwks');
    const version = (await json<{ version?: string }>(`${admin}/version`, {}, 'version')).version ?? 'v2.3.0';
    return {
      side: 'hydra',
      label: `Ory Hydra ${version} (DSN=memory, JWT ES256)`,
      http: pub,
      loads: {
        client_credentials: {
          run: (s, c) => httpRound({ url: tokenUrl, method: 'POST', headers: formHeaders(clientId, clientSecret), body: ccBody }, s, c),
          note: 'Hydra checks the client secret with PBKDF2 (25,000 iterations, its default) on every request',
        },
        introspection: {
          // Rounds outlast an access token's lifetime: a fresh one before each round (not measured).
          prepare: async () => {
            current = await newToken();
          },
          run: (s, c) => httpRound({ url: introspectUrl, method: 'POST', headers: form, body: `token=${current}` }, s, c),
          note: 'Hydra introspects on its admin port without client authentication (its design); the others authenticate the client (Basic)',
        },
        jwks: { run: (s, c) => httpRound({ url: `${pub}/.well-known/jwks.json` }, s, c) },
      },
      pids: () => [server.pid],
      stop: () => server.stop(),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
