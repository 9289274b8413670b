// The admin RPCs of every service over Connect, gRPC-Web and gRPC (connect-node), so a browser
// console or `curl -H 'content-type: application/json'` can call them with an admin bearer token.
// The bridge forwards each call to the service over gRPC with the caller's Authorization header
// and nothing else: the services check the token and scope themselves, and their errors
// (status + google.rpc.ErrorInfo) travel back unchanged. Only RPCs that carry a google.api.http
// annotation (the admin surface) are exposed; internal RPCs are not reachable from the edge.
//
// Input hardening (issue 11 items 1, 12; issue 10 §3 i): the body is read only after the bearer
// token verified (signature, issuer, lifetime: ../bearer-precheck.ts; the service checks it all
// again with revocation, audience and scope), never
// beyond AUTHMESH_HTTP_BODY_LIMIT, gzip only with an output cap and ratio limit; JSON fields and
// enum names the schema does not define are refused, and so are undecodable binary bodies, all
// with INVALID_ARGUMENT. See ../connect-body.ts and ../connect-upstream.ts.
import { fromBinary, hasOption, type DescMessage, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { ConnectError, Code, createConnectRouter, type ConnectRouter } from '@connectrpc/connect';
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import type { FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import { AuditService } from '../../gen/es/authmesh/audit/v1/audit_pb.js';
import { ClientService } from '../../gen/es/authmesh/client/v1/client_pb.js';
import { KeyService } from '../../gen/es/authmesh/key/v1/key_pb.js';
import { RefreshTokenService } from '../../gen/es/authmesh/refresh_token/v1/refresh_token_pb.js';
import { ServiceRegistryService } from '../../gen/es/authmesh/service/v1/service_pb.js';
import { UserService } from '../../gen/es/authmesh/user/v1/user_pb.js';
import { http } from '../../gen/es/google/api/annotations_pb.js';
import { ErrorInfoSchema } from '../../gen/es/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../gen/es/google/rpc/status_pb.js';
import { InvalidToken, toAuthmeshError, toGrpcStatus } from '../../services/core/errors/index.js';
import { DPOP_BOUND_METADATA } from '../../services/core/rpc/mesh-authenticator.js';
import { DPOP_SIGNING_ALGS, dpopChallenge, parseBearer, parseDpopAuthorization } from '../../services/core/oauth/index.js';
import type { Peers } from '../../services/mesh-deps.js';
import { createBearerPrecheck } from '../bearer-precheck.js';
import { forwardedCertificateHeaders } from '../forwarded-client-cert.js';
import { acceptedContentEncoding, boundedGzip, gatedBody } from '../connect-body.js';
import { Upstream } from '../connect-upstream.js';
import type { RouteModule } from '../gateway.js';
import { fallbackChallenge } from '../oauth-errors.js';
import { injectTraceHeaders } from '../../services/core/telemetry/index.js';

const BRIDGED: [DescService, keyof Peers][] = [
  [ClientService, 'client'],
  [ServiceRegistryService, 'service'],
  [UserService, 'user'],
  [KeyService, 'key'],
  [RefreshTokenService, 'refreshToken'],
  // Served by the client service's process (proto/authmesh/audit/v1/audit.proto).
  [AuditService, 'client'],
];

/** The error codes a DPoP challenge may carry (RFC 9449 §7.1, §12.2). */
const DPOP_CHALLENGE_ERRORS: ReadonlySet<string> = new Set(['invalid_token', 'invalid_dpop_proof', 'use_dpop_nonce']);

/** Bridged methods anyone may call (the services declare them PUBLIC); all others need a token. */
const PUBLIC_METHODS: ReadonlySet<DescMethod> = new Set([KeyService.method.getJwks]);

/** Upstream deadline for a bridged call that brings none. */
const DEFAULT_TIMEOUT_MS = 5_000;
/** What the services' gRPC servers accept (createRpcServer's default). */
const UPSTREAM_WRITE_MAX_BYTES = 1024 * 1024;
/** Largest answer the bridge relays. */
const UPSTREAM_READ_MAX_BYTES = 16 * 1024 * 1024;

export function adminMethods(service: DescService): DescMethod[] {
  return service.methods.filter((m) => m.methodKind === 'unary' && hasOption(m, http));
}

/** A domain error as a ConnectError, through the one gRPC mapping (code, message, ErrorInfo). */
function connectErrorOf(err: unknown): ConnectError {
  const status = toGrpcStatus(toAuthmeshError(err));
  const bin = status.metadata.get('grpc-status-details-bin')[0];
  const error = new ConnectError(status.details, status.code as number as Code);
  // The details exactly as the gRPC mapping encoded them (google.rpc.ErrorInfo).
  if (bin instanceof Buffer) for (const any of fromBinary(StatusSchema, bin).details) error.details.push({ type: any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1), value: any.value });
  return error;
}

export const connectRoutes: RouteModule = async ({ app, grpcAddress, config, peers }) => {
  const limit = config.httpBodyLimit;
  const upstreams = new Map<string, Upstream>();
  const upstreamFor = (address: string) => {
    let u = upstreams.get(address);
    if (!u) {
      u = new Upstream({ address, writeMaxBytes: UPSTREAM_WRITE_MAX_BYTES, readMaxBytes: UPSTREAM_READ_MAX_BYTES });
      upstreams.set(address, u);
    }
    return u;
  };

  // Checks the token before the body is read; revocation, audience and scope are left to the
  // service, which checks everything again.
  const precheck = createBearerPrecheck({
    issuer: config.issuer,
    fetchJwks: async () => {
      const res = await peers.key.getJwks({});
      return res.keys.map((k) => Object.fromEntries(Object.entries(k).filter(([, v]) => v !== '')) as JWK);
    },
  });
  // RFC 6750 §3 / RFC 9110 §15.5.2: Unauthenticated is HTTP 401 over Connect, so it carries the
  // Bearer challenge (without an error code when no credentials were sent).
  // A call made with the DPoP scheme gets the DPoP challenge (RFC 9449 §7.1) and a bare Bearer one.
  // RFC 9449 §7.1, §9: the error the service gave (ErrorInfo reason) goes into the DPoP challenge,
  // and a nonce it asks for into DPoP-Nonce.
  const challenged = (err: ConnectError, authorization: string | null): ConnectError => {
    if (err.code !== Code.Unauthenticated) return err;
    const headers: Record<string, string> = {};
    if (authorization !== null && parseDpopAuthorization(authorization) !== undefined) {
      const info = err.findDetails(ErrorInfoSchema)[0];
      const reason = info?.reason.toLowerCase() ?? '';
      const error = DPOP_CHALLENGE_ERRORS.has(reason) ? reason : 'invalid_token';
      headers['www-authenticate'] = `${dpopChallenge({ error, description: err.rawMessage, algs: DPOP_SIGNING_ALGS })}, ${fallbackChallenge(config.issuer, false)}`;
      const nonce = info?.metadata.dpop_nonce ?? '';
      // RFC 9449 §8: nonce = 1*NQCHAR.
      if (error === 'use_dpop_nonce' && /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/.test(nonce)) headers['dpop-nonce'] = nonce;
    } else {
      const bearer = fallbackChallenge(config.issuer, authorization !== null);
      // RFC 9449 §7.1: a DPoP-bound token sent as Bearer: the DPoP scheme, with the algorithms
      // accepted, is offered beside it, as the gRPC handler does (second review N6).
      const dpopBound = err.findDetails(ErrorInfoSchema)[0]?.metadata[DPOP_BOUND_METADATA] === 'true';
      headers['www-authenticate'] = dpopBound ? `${bearer}, ${dpopChallenge({ algs: DPOP_SIGNING_ALGS })}` : bearer;
    }
    return new ConnectError(err.rawMessage, err.code, headers, err.details as ConstructorParameters<typeof ConnectError>[3]);
  };
  const authenticate = async (method: DescMethod, header: Headers) => {
    if (PUBLIC_METHODS.has(method)) return;
    const authorization = header.get('authorization');
    try {
      if (authorization === null) throw new InvalidToken('this method requires a Bearer access token');
      // RFC 6750 §2.1 Bearer, or RFC 9449 §7.1 DPoP (the service verifies the proof: it knows the RPC).
      const token = parseBearer(authorization) ?? parseDpopAuthorization(authorization);
      if (!token) throw new InvalidToken('the authorization header is not a Bearer or DPoP token');
      await precheck.check(token);
    } catch (err) {
      throw challenged(connectErrorOf(err), authorization);
    }
  };

  const routes = (router: ConnectRouter) => {
    for (const [service, peer] of BRIDGED) {
      const upstream = () => upstreamFor(grpcAddress(peer));
      const impl: Record<string, (req: unknown, ctx: { requestHeader: Headers; signal: AbortSignal; timeoutMs(): number | undefined }) => Promise<unknown>> = {};
      for (const method of adminMethods(service)) {
        impl[method.localName] = async (req, ctx) => {
          const headers = new Headers();
          const authorization = ctx.requestHeader.get('authorization');
          if (authorization) headers.set('authorization', authorization);
          // RFC 9449 §7: the proof goes to the service, which checks it against the RPC it runs
          // (POST ${issuer}/<service>/<method>, the URL this bridge is reached at).
          const proof = ctx.requestHeader.get('dpop');
          if (proof !== null) headers.set('dpop', proof);
          // RFC 8705 §3: the client certificate as Envoy forwarded it, with its edge proof, so the
          // service can hold a certificate-bound token to its certificate.
          for (const [name, value] of Object.entries(forwardedCertificateHeaders(ctx.requestHeader))) headers.set(name, value);
          // W3C Trace Context: the service's RPC span is a child of this request's span.
          injectTraceHeaders(headers);
          try {
            return await upstream().call(service, (client) => {
              const call = (client as unknown as Record<string, (req: unknown, opts: unknown) => Promise<unknown>>)[method.localName]!;
              return call(req, { headers, signal: ctx.signal, timeoutMs: ctx.timeoutMs() ?? DEFAULT_TIMEOUT_MS });
            });
          } catch (err) {
            // Service errors pass through with their code, message and details (ErrorInfo). Not
            // their metadata: it holds the upstream's gRPC response headers (content-type
            // application/grpc+proto), which would corrupt a Connect or gRPC-Web error response.
            if (err instanceof ConnectError) throw challenged(new ConnectError(err.rawMessage, err.code, undefined, err.details as ConstructorParameters<typeof ConnectError>[3]), authorization);
            throw new ConnectError('internal error', Code.Internal);
          }
        };
      }
      // Method by method, never router.service(): that would also route the internal RPCs of the
      // service, answering them 501 unimplemented; unrouted, they get the gateway's 404.
      for (const method of adminMethods(service)) {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        router.rpc(method as any, impl[method.localName] as any);
      }
    }
  };

  const shutdown = new AbortController();
  const router = createConnectRouter({
    // connect-node reads at most this much per message, also after decompression.
    readMaxBytes: limit,
    // gzip with an output cap and a ratio limit; no brotli (one codec is enough for admin calls).
    acceptCompression: [boundedGzip],
    // The proto3 JSON mapping refuses unknown fields (and with them unknown enum names);
    // connect-es ignores them by default, which let settings vanish silently.
    jsonOptions: { ignoreUnknownFields: false },
    shutdownSignal: shutdown.signal,
  });
  routes(router);
  await app.register(async (scope: FastifyInstance) => {
    // connect-node reads the raw body itself (through gatedBody): no fastify parsing here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    for (const handler of router.handlers) {
      // router.service() answers every method of a service (Unimplemented for the rest): only
      // the admin methods get a route, so internal RPCs are a plain 404 at the edge.
      if (!adminMethods(handler.service).includes(handler.method)) continue;
      const input: DescMessage = handler.method.input;
      scope.all(handler.requestPath, async (req, reply) => {
        const encoding = req.headers['content-encoding'];
        if (!acceptedContentEncoding(typeof encoding === 'string' ? encoding : encoding === undefined ? undefined : 'multiple')) {
          // RFC 9110 §15.5.16: an unsupported content coding is 415, saying which are accepted.
          return reply
            .code(415)
            .header('accept-encoding', boundedGzip.name)
            .type('application/json')
            .send({ code: 'invalid_argument', message: `content-encoding ${JSON.stringify(String(encoding).slice(0, 64))} is not supported: send gzip or no content-encoding` });
        }
        try {
          const uReq = universalRequestFromNodeRequest(req.raw, reply.raw, undefined, undefined);
          const uRes = await handler({
            ...uReq,
            body: gatedBody(uReq.body as AsyncIterable<Uint8Array>, uReq.header, { maxBytes: limit, input, authenticate: () => authenticate(handler.method, uReq.header) }),
          });
          for (const [key, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(key, value);
          await universalResponseToNodeResponse(uRes, reply.raw);
        } catch (err) {
          if (ConnectError.from(err).code !== Code.Aborted) req.log.error({ err, rpc: handler.method.name }, 'connect handler failed');
        }
        return reply;
      });
    }
  });
  app.addHook('preClose', async () => {
    setTimeout(() => shutdown.abort(new ConnectError('the server is shutting down', Code.Unavailable)), 5_000).unref();
  });
  app.addHook('onClose', async () => {
    for (const u of upstreams.values()) u.close();
    upstreams.clear();
  });
};
