// The limit row: the least work an RFC 6749 client_credentials token endpoint can do on this
// machine with the same building blocks authmesh uses (fastify, jose, ES256), so every other
// figure also reads as a fraction of what the machine can do. It parses the form, checks HTTP
// Basic credentials against a SHA-256 hash of the one client's secret, signs an RFC 9068 access
// token, and answers. Also a JWT introspection endpoint (verify the signature, answer RFC 7662
// JSON) and a static JWKS. No store, no grid, no audit, no policy: a measuring stick, not a server.
//
// Run by bench/run.ts as its own process:
//   LIMIT_CLIENT_ID=… LIMIT_CLIENT_SECRET=… node --import tsx bench/limit-server.ts
// prints `limit listening on http://127.0.0.1:<port>` (an ephemeral loopback port).
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import formbody from '@fastify/formbody';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import fastify from 'fastify';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, createLocalJWKSet } from 'jose';
import { type TokenRequest, TokenResponse, TokenServiceService } from '../gen/ts/authmesh/token/v1/token.js';
import { HeaderValueOption, HeaderValueOption_HeaderAppendAction } from '../gen/ts/envoy/config/core/v3/base.js';
import { AuthorizationService, type CheckRequest, CheckResponse } from '../gen/ts/envoy/service/auth/v3/external_auth.js';
import { CeilingService, EMPTY } from './grpc-ceiling.js';

const clientId = process.env.LIMIT_CLIENT_ID ?? 'bench';
const secret = process.env.LIMIT_CLIENT_SECRET;
if (!secret) {
  console.error('LIMIT_CLIENT_SECRET is required');
  process.exit(2);
}
const secretHash = createHash('sha256').update(secret).digest();
const { privateKey, publicKey } = await generateKeyPair('ES256');
const kid = randomUUID();
const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };
const jwksBody = JSON.stringify(jwks);
const keySet = createLocalJWKSet(jwks);

const app = fastify({ logger: false });
await app.register(formbody);

/** The client_id when the RFC 6749 §2.3.1 Basic credentials match, else undefined. */
function authenticate(header: string | undefined): string | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString();
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const id = decodeURIComponent(decoded.slice(0, colon));
  return checkSecret(id, decodeURIComponent(decoded.slice(colon + 1)));
}

/** The client_id when `id` and `secret` match the one client (SHA-256, constant time). */
function checkSecret(id: string, secret: string): string | undefined {
  const given = createHash('sha256').update(secret).digest();
  return id === clientId && timingSafeEqual(given, secretHash) ? id : undefined;
}

/** An RFC 9068 §2.2 JWT access token for `client` with `scope`, signed ES256. */
function accessToken(client: string, scope: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: client, scope })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
    .setIssuer('http://limit.bench')
    .setSubject(client)
    .setAudience('https://api.bench')
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .setJti(randomUUID())
    .sign(privateKey);
}

app.post('/token', async (req, reply) => {
  const body = req.body as Record<string, string | undefined>;
  reply.header('cache-control', 'no-store');
  const client = authenticate(req.headers.authorization);
  // RFC 6749 §5.2: invalid_client with 401 when Basic authentication failed.
  if (!client) return reply.code(401).header('www-authenticate', 'Basic').send({ error: 'invalid_client' });
  if (body.grant_type !== 'client_credentials') return reply.code(400).send({ error: 'unsupported_grant_type' });
  const scope = body.scope ?? '';
  return { access_token: await accessToken(client, scope), token_type: 'Bearer', expires_in: 600, scope };
});

app.post('/introspect', async (req, reply) => {
  const body = req.body as Record<string, string | undefined>;
  if (!authenticate(req.headers.authorization)) return reply.code(401).header('www-authenticate', 'Basic').send({ error: 'invalid_client' });
  try {
    const { payload } = await jwtVerify(body.token ?? '', keySet, { algorithms: ['ES256'], typ: 'at+jwt', issuer: 'http://limit.bench' });
    return { active: true, ...payload };
  } catch {
    // RFC 7662 §2.2: an invalid token is just inactive.
    return { active: false };
  }
});

app.get('/jwks', async (_req, reply) => reply.header('content-type', 'application/json').send(jwksBody));

const grpc = new Server();
grpc.addService(CeilingService, {
  ping: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, EMPTY),
});
grpc.addService(TokenServiceService, {
  token: (call: ServerUnaryCall<TokenRequest, TokenResponse>, callback: sendUnaryData<TokenResponse>) => {
    const cred = call.request.client?.credential;
    const client = cred?.$case === 'clientSecret' ? checkSecret(cred.value.clientId, cred.value.clientSecret) : undefined;
    // RFC 6749 §5.2 invalid_client, as a gRPC status.
    if (!client) return callback({ code: status.UNAUTHENTICATED, details: 'invalid_client' });
    const grant = call.request.grant;
    if (grant?.$case !== 'clientCredentials') return callback({ code: status.INVALID_ARGUMENT, details: 'unsupported_grant_type' });
    const scope = grant.value.scope;
    accessToken(client, scope).then(
      (token) => callback(null, TokenResponse.fromPartial({ accessToken: token, tokenType: 'Bearer', expiresIn: 600, scope })),
      (err: unknown) => callback({ code: status.INTERNAL, details: String(err) }),
    );
  },
});
const header = (key: string, value: string) =>
  HeaderValueOption.fromPartial({ header: { key, value }, appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD });
const deny = CheckResponse.fromPartial({ status: { code: status.PERMISSION_DENIED }, httpResponse: { $case: 'deniedResponse', value: { status: { code: 403 } } } });
grpc.addService(AuthorizationService, {
  check: (call: ServerUnaryCall<CheckRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) => {
    const http = call.request.attributes?.request?.http;
    const authorization = http?.headers?.authorization ?? '';
    const required = call.request.attributes?.contextExtensions?.scope ?? '';
    // RFC 6750 §2.1: the bearer token in the Authorization header.
    if (!authorization.startsWith('Bearer ')) return callback(null, deny);
    jwtVerify(authorization.slice(7), keySet, { algorithms: ['ES256'], typ: 'at+jwt', issuer: 'http://limit.bench' }).then(
      ({ payload }) => {
        const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
        if (required && !scopes.includes(required)) return callback(null, deny);
        callback(
          null,
          CheckResponse.fromPartial({
            status: { code: status.OK },
            httpResponse: {
              $case: 'okResponse',
              value: { headers: [header('x-authmesh-sub', payload.sub ?? ''), header('x-authmesh-client-id', String(payload.client_id ?? '')), header('x-authmesh-scope', scopes.join(' '))], headersToRemove: ['authorization'] },
            },
          }),
        );
      },
      () => callback(null, deny),
    );
  },
});
const grpcPort = await new Promise<number>((resolve, reject) =>
  grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
);

const address = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`limit listening on ${address} grpc 127.0.0.1:${grpcPort}`);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    grpc.forceShutdown();
    void app.close().then(() => process.exit(0));
  });
}
