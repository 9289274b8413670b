// The HTTP edge: parses and checks HTTP requests, authenticates the transport, calls the gRPC
// services and maps their answers back exactly as the RFCs say. It holds no OAuth rules.
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { parse as parseQuery } from 'node:querystring';
import type { Config } from '../services/core/config/index.js';
import { toAuthmeshError } from '../services/core/errors/index.js';
import type { Logger } from '../services/core/log/index.js';
import type { Peers } from '../services/mesh-deps.js';
import { sendOAuthError } from './oauth-errors.js';

export interface GatewayOptions {
  config: Config;
  log: Logger;
  /** gRPC clients of the services, carrying the mesh credential. */
  peers: Peers;
  /** gRPC address of the services (the Connect bridge forwards admin calls there). */
  grpcAddress: (service: keyof Peers) => string;
  cookieSecret: string;
}

/** Everything a route module gets. */
export interface GatewayContext extends GatewayOptions {
  app: FastifyInstance;
}

export type RouteModule = (ctx: GatewayContext) => void | Promise<void>;

export async function createGateway(options: GatewayOptions, routes: RouteModule[]): Promise<FastifyInstance> {
  const app = Fastify({
    // Our own request log line below replaces fastify's (which would log full URLs: codes and
    // tokens can sit in query strings).
    loggerInstance: options.log.child({ component: 'gateway' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.config.httpBodyLimit,
    trustProxy: true,
    return503OnClosing: true,
  });
  await app.register(cookie, { secret: options.cookieSecret, hook: 'onRequest' });
  // application/x-www-form-urlencoded as an object whose repeated keys become arrays, so the
  // routes can refuse repeated parameters (RFC 6749 §3.1, §3.2).
  await app.register(formbody, { bodyLimit: options.config.httpBodyLimit, parser: (body: string) => parseQuery(body) });

  app.addHook('onResponse', async (req, reply) => {
    const clientId = (req as { clientId?: string }).clientId;
    options.log.info(
      {
        method: req.method,
        path: req.routeOptions.url ?? req.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        ...(clientId ? { client_id: clientId } : {}),
      },
      'http',
    );
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
    return sendOAuthError(reply, domain, { realm: options.config.issuer });
  });

  app.setNotFoundHandler((_req, reply) => reply.code(404).type('application/json').send({ error: 'not_found', error_description: 'no such endpoint' }));

  const ctx: GatewayContext = { ...options, app };
  for (const route of routes) await route(ctx);
  return app;
}
