// The limit side: bench/limit-server.ts (bare fastify + jose, bare grpc-js + jose) in its own
// process. Its gRPC rows use the same client (createRpcClient) and load loop as authmesh's.
import { randomBytes } from 'node:crypto';
import { type ClientCredentials, TokenEndpointAuthMethod } from '../gen/ts/authmesh/client/v1/client.js';
import { TokenRequest, TokenServiceService } from '../gen/ts/authmesh/token/v1/token.js';
import { AuthorizationService, CheckRequest } from '../gen/ts/envoy/service/auth/v3/external_auth.js';
import { createRpcClient } from '../services/core/rpc/index.js';
import { CeilingService, EMPTY } from './grpc-ceiling.js';
import { grpcRound } from './grpc-load.js';
import { httpRound } from './http-load.js';
import { expectActive, expectJwt, formHeaders, postForm } from './oauth-http.js';
import { startServer, tsxNode } from './processes.js';
import type { Target } from './target.js';

/** Starts the limit server on an ephemeral loopback port and prepares its loads. */
export async function startLimit(): Promise<Target> {
  const clientId = 'bench';
  const clientSecret = randomBytes(32).toString('base64url');
  const [cmd, args] = tsxNode('bench/limit-server.ts');
  const { server, match } = await startServer('limit server', cmd, args, { LIMIT_CLIENT_ID: clientId, LIMIT_CLIENT_SECRET: clientSecret }, /limit listening on (http:\/\/\S+) grpc (\S+)/);
  const grpcClients: Array<{ close(): void }> = [];
  try {
    const base = match[1]!;
    const grpcAddress = match[2]!;
    const headers = formHeaders(clientId, clientSecret);
    const ccBody = 'grant_type=client_credentials&scope=api%3Aread';
    const newToken = async () => (await postForm(`${base}/token`, clientId, clientSecret, ccBody)).access_token;
    let current = await newToken();
    expectJwt(current, 'limit server');
    await expectActive(`${base}/introspect`, clientId, clientSecret, current, 'limit server');

    const ceiling = createRpcClient(CeilingService, 'bench.Ceiling', grpcAddress);
    const token = createRpcClient(TokenServiceService, 'authmesh.token.v1.TokenService', grpcAddress);
    const authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', grpcAddress);
    grpcClients.push(ceiling, token, authz);
    const creds: ClientCredentials = {
      credential: { $case: 'clientSecret', value: { clientId, clientSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } },
    };
    const tokenReq = TokenRequest.fromPartial({ client: creds, grant: { $case: 'clientCredentials', value: { scope: 'api:read' } } });
    const checkRequest = () =>
      CheckRequest.fromPartial({
        attributes: { request: { http: { method: 'GET', path: '/bench', headers: { authorization: `Bearer ${current}` } } }, contextExtensions: { scope: 'api:read' } },
      });
    let checkReq = checkRequest();
    // A Check that answers "denied" resolves too: count it as an error, the row measures allows.
    const check = async () => {
      const res = await authz.check(checkReq);
      if (res.status?.code !== 0 || res.httpResponse?.$case !== 'okResponse') throw new Error('the limit denied the bench token');
    };
    await check();
    expectJwt((await token.token(tokenReq)).accessToken, 'limit gRPC Token');
    await ceiling.ping(EMPTY);
    return {
      side: 'limit',
      label: 'limit: bare fastify + jose (HTTP), bare grpc-js + jose (gRPC)',
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
        grpc_token: {
          run: (s, c) => grpcRound(() => token.token(tokenReq), s, c),
          note: 'limit: bare grpc-js TokenService/Token (SHA-256 secret check, one ES256 signature per call)',
        },
        ext_authz: {
          prepare: async () => {
            current = await newToken();
            checkReq = checkRequest();
          },
          run: (s, c) => grpcRound(check, s, c),
          note: 'limit: bare grpc-js Authorization/Check verifying one ES256 JWT per call with jose (no revocation check)',
        },
        grpc_unary: {
          run: (s, c) => grpcRound(() => ceiling.ping(EMPTY), s, c),
          note: 'bare grpc-js, empty request and response, same client and load loop as the other gRPC rows: the most calls/s any gRPC row can reach here',
        },
      },
      pids: () => [server.pid],
      async stop() {
        for (const c of grpcClients) c.close();
        await server.stop();
      },
    };
  } catch (err) {
    for (const c of grpcClients) c.close();
    await server.stop();
    throw err;
  }
}
