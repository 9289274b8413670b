// The limit side: bench/limit-server.ts (bare fastify + jose) in its own process.
import { randomBytes } from 'node:crypto';
import { httpRound } from './http-load.js';
import { expectActive, expectJwt, formHeaders, postForm } from './oauth-http.js';
import { startServer, tsxNode } from './processes.js';
import type { Target } from './target.js';

/** Starts the limit server on an ephemeral loopback port and prepares its loads. */
export async function startLimit(): Promise<Target> {
  const clientId = 'bench';
  const clientSecret = randomBytes(32).toString('base64url');
  const [cmd, args] = tsxNode('bench/limit-server.ts');
  const { server, match } = await startServer('limit server', cmd, args, { LIMIT_CLIENT_ID: clientId, LIMIT_CLIENT_SECRET: clientSecret }, /limit listening on (http:\/\/\S+)/);
  try {
    const base = match[1]!;
    const headers = formHeaders(clientId, clientSecret);
    const ccBody = 'grant_type=client_credentials&scope=api%3Aread';
    const newToken = async () => (await postForm(`${base}/token`, clientId, clientSecret, ccBody)).access_token;
    let current = await newToken();
    expectJwt(current, 'limit server');
    await expectActive(`${base}/introspect`, clientId, clientSecret, current, 'limit server');
    return {
      side: 'limit',
      label: 'limit: bare fastify + jose',
      loads: {
        client_credentials: { run: (s, c) => httpRound({ url: `${base}/token`, method: 'POST', headers, body: ccBody }, s, c) },
        introspection: {
          // Rounds outlast an access token's lifetime: a fresh one before each round (not measured).
          prepare: async () => {
            current = await newToken();
          },
          run: (s, c) => httpRound({ url: `${base}/introspect`, method: 'POST', headers, body: `token=${current}` }, s, c),
        },
        jwks: { run: (s, c) => httpRound({ url: `${base}/jwks` }, s, c) },
      },
      pids: () => [server.pid],
      stop: () => server.stop(),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
