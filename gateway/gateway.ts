// The HTTP edge: parses and checks HTTP requests, authenticates the transport, calls the gRPC
// services and maps their answers back exactly as the RFCs say. It holds no OAuth rules.
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { parse as parseQuery } from 'node:querystring';
import type { Duplex } from 'node:stream';
import type { Config } from '../services/core/config/index.js';
import { toAuthmeshError } from '../services/core/errors/index.js';
import type { Readiness } from '../services/core/health/readiness.js';
import type { Logger } from '../services/core/log/index.js';
import { endHttpServerSpan, requestLogIds, startHttpServerSpan, withContext, type HttpSpan } from '../services/core/telemetry/index.js';
import type { Metrics } from '../services/core/metrics/index.js';
import type { Peers } from '../services/mesh-deps.js';
import { MAX_PARAMETERS } from './form-params.js';
import { createForwardedCertificateReader, rememberClientCertificate } from './forwarded-client-cert.js';
import { registerHttpMetrics } from './http-metrics.js';
import { fallbackChallenge, sendOAuthError } from './oauth-errors.js';
import { REST_BODY_CHECK_PREFIX } from './routes/rest-body-check.js';

export interface GatewayOptions {
  config: Config;
  log: Logger;
  /** gRPC clients of the services, carrying the mesh credential. */
  peers: Peers;
  /** gRPC address of the services (the Connect bridge forwards admin calls there). */
  grpcAddress: (service: keyof Peers) => string;
  cookieSecret: string;
  /**
   * The mesh secret (AUTHMESH_MESH_SECRET or the data directory's), to attest REST requests made
   * with DPoP (rest-body-check.ts); defaults to config.meshSecret.
   */
  meshSecret?: string | undefined;
  /**
   * Readiness of the store and grid this process holds (embedded mode), behind GET /readyz;
   * absent in a gateway-only process, which holds neither.
   */
  readiness?: Readiness | undefined;
  /** Where request counts and latencies are recorded (http-metrics.ts); none = not measured. */
  metrics?: Metrics | undefined;
}

/** Everything a route module gets. */
export interface GatewayContext extends GatewayOptions {
  app: FastifyInstance;
}

export type RouteModule = (ctx: GatewayContext) => void | Promise<void>;

/**
 * Answers a request node's HTTP parser refused (headers over maxHeaderSize: 431, a malformed
 * request: 400, a header timeout: 408) and closes the connection. The parser cannot resume
 * after such an error, so the answer says `Connection: close` (RFC 9112 §9.6) and the socket is
 * ended after the answer is flushed: a keep-alive client then opens a new connection for its
 * next request instead of sending it into a socket that is being torn down.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, description] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request header fields are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request was not received in time']
        : [400, 'Bad Request', 'the request is malformed'];
  const body = JSON.stringify({ error: 'invalid_request', error_description: description });
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nCache-Control: no-store\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  // A peer that never reads must not hold the socket open.
  const timer = setTimeout(() => socket.destroy(), 5_000).unref();
  socket.once('close', () => clearTimeout(timer));
}

export async function createGateway(options: GatewayOptions, routes: RouteModule[]): Promise<FastifyInstance> {
  const app = Fastify({
    // Our own request log line below replaces fastify's (which would log full URLs: codes and
    // tokens can sit in query strings).
    loggerInstance: options.log.child({ component: 'gateway' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.config.httpBodyLimit,
    // X-Forwarded-For is believed only from the configured proxies (see client-ip.ts).
    trustProxy: options.config.trustedProxies.length > 0 ? options.config.trustedProxies : false,
    return503OnClosing: true,
    clientErrorHandler: answerClientError,
    // A path whose percent-encoding does not decode (`/oauth2/%ff`) is refused before routing.
    // Fastify's own answer echoes the path and names its error code; ours is the edge's shape:
    // RFC 6749 §5.2 JSON, or google.rpc.Status JSON for Envoy's REST check, whose denial body
    // reaches the /v1 caller as the transcoder's errors do (second review N8).
    frameworkErrors: (err, req, reply) => {
      const restCheck = req.raw.url?.startsWith(`${REST_BODY_CHECK_PREFIX}/`) === true;
      const description = err.code === 'FST_ERR_BAD_URL' ? 'the request path is not valid percent-encoding' : 'malformed request';
      void (reply as unknown as FastifyReply)
        .code(400)
        .header('cache-control', 'no-store')
        .type('application/json')
        .send(restCheck ? { code: 3, message: description, details: [] } : { error: 'invalid_request', error_description: description });
    },
  });
  await app.register(cookie, { secret: options.cookieSecret, hook: 'onRequest' });
  // application/x-www-form-urlencoded as an object whose repeated keys become arrays, so the
  // routes can refuse repeated parameters (RFC 6749 §3.1, §3.2). One pair more than accepted is
  // parsed, so form-params.ts can tell "too many" from "exactly the limit".
  await app.register(formbody, {
    bodyLimit: options.config.httpBodyLimit,
    parser: (body: string) => parseQuery(body, '&', '=', { maxKeys: MAX_PARAMETERS + 1 }),
  });

  // RFC 8705: a forwarded client certificate is believed only from Envoy (forwarded-client-cert.ts);
  // anything else carrying one is refused before any route runs.
  const readForwardedCertificate = createForwardedCertificateReader(options.config);
  app.addHook('onRequest', async (req) => {
    rememberClientCertificate(req, readForwardedCertificate(req.headers));
  });

  // OpenTelemetry: a SERVER span per request, continuing the caller's traceparent, active from
  // the handler on (so the gRPC calls it makes carry it); nothing at all with tracing off.
  const httpSpans = new WeakMap<object, HttpSpan>();
  app.addHook('onRequest', (req, _reply, done) => {
    const http = startHttpServerSpan(req.method, req.routeOptions.url, req.headers);
    if (http) httpSpans.set(req, http);
    done();
  });
  // After the body is read (stream events would lose the context), before the route's handler.
  app.addHook('preHandler', (req, _reply, done) => withContext(httpSpans.get(req)?.context, done));
  if (options.metrics) registerHttpMetrics(app, options.metrics);

  app.addHook('onResponse', async (req, reply) => {
    const clientId = (req as { clientId?: string }).clientId;
    const http = httpSpans.get(req);
    if (http) endHttpServerSpan(http, reply.statusCode);
    options.log.info(
      {
        method: req.method,
        // The route's template, never the raw path of an unmatched request: a caller chooses that,
        // and a secret sent in a path (/oauth2/token/<secret>) must not reach the log (issue 11 item 11).
        path: req.routeOptions.url ?? '(no route)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        ...(clientId ? { client_id: clientId } : {}),
        ...(http ? { trace_id: http.span.spanContext().traceId, span_id: http.span.spanContext().spanId } : requestLogIds(req.headers.traceparent)),
      },
      'http',
    );
  });

  // RFC 9110 §15.5.2: every 401 carries a challenge. Errors answered through sendOAuthError have
  // theirs already; this covers a 401 any other part of the gateway might send.
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode === 401 && !reply.hasHeader('www-authenticate')) {
      reply.header('www-authenticate', fallbackChallenge(options.config.issuer, req.headers.authorization !== undefined));
    }
    return payload;
  });

  app.setErrorHandler((err, req, reply) => {
    const e = err as { statusCode?: number; code?: string };
    // Fastify's own refusals (body too large, bad content type, malformed body) are client errors.
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500 && !(err instanceof Error && 'description' in err)) {
      const description = e.statusCode === 413 ? 'the request body is too large' : e.statusCode === 415 ? 'unsupported content type' : 'malformed request';
      return reply.code(e.statusCode).header('cache-control', 'no-store').type('application/json').send({ error: 'invalid_request', error_description: description });
    }
    const domain = toAuthmeshError(err);
    if (domain.code === 'server_error') req.log.error({ err: domain.cause ?? err }, 'request failed');
    return sendOAuthError(reply, domain, { realm: options.config.issuer, authorizationSent: req.headers.authorization !== undefined });
  });

  app.setNotFoundHandler((_req, reply) => reply.code(404).type('application/json').send({ error: 'not_found', error_description: 'no such endpoint' }));

  const ctx: GatewayContext = { ...options, app };
  for (const route of routes) await route(ctx);
  return app;
}
