// One HTTP endpoint = its allowed methods, every other method answered 405 with an Allow header,
// and (only where the issue allows it) CORS for the configured origins. CORS is attached per
// endpoint, never globally, so the authorization endpoint can never send CORS headers.
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, RouteHandlerMethod } from 'fastify';

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
type Method = (typeof ALL_METHODS)[number];

export interface EndpointSpec {
  url: string;
  /** Handlers by method; GET also answers HEAD (fastify's automatic HEAD route). */
  handlers: Partial<Record<'GET' | 'POST' | 'PUT' | 'DELETE', RouteHandlerMethod>>;
  /** Origins allowed by CORS; undefined = this endpoint never does CORS. */
  corsOrigins?: readonly string[];
  /** Hooks run before the body is read (e.g. the content-type check). */
  onRequest?: onRequestHookHandler[];
}

/** Request headers a cross-origin caller may send (client authentication, JSON/form bodies, ETags). */
const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, If-None-Match, DPoP';
/** Response headers a cross-origin caller may read besides the CORS-safelisted ones. */
const CORS_EXPOSE_HEADERS = 'WWW-Authenticate, ETag, Retry-After, Location, DPoP-Nonce';

function corsHook(origins: readonly string[]): onRequestHookHandler {
  const allowed = new Set(origins);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    // Fetch §3.2.5: the answer depends on Origin, so shared caches must key on it.
    if (allowed.size > 0) reply.header('vary', 'Origin');
    const origin = req.headers.origin;
    if (typeof origin !== 'string' || !allowed.has(origin)) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-expose-headers', CORS_EXPOSE_HEADERS);
  };
}

export function registerEndpoint(app: FastifyInstance, spec: EndpointSpec): void {
  const own = Object.keys(spec.handlers) as Method[];
  const allowedList: Method[] = [...own];
  if (own.includes('GET')) allowedList.push('HEAD');
  if (spec.corsOrigins !== undefined) allowedList.push('OPTIONS');
  const allow = allowedList.join(', ');
  const cors = spec.corsOrigins === undefined ? [] : [corsHook(spec.corsOrigins)];
  const onRequest = [...cors, ...(spec.onRequest ?? [])];

  for (const method of own) {
    app.route({ method, url: spec.url, onRequest, handler: spec.handlers[method as 'GET']! });
  }
  if (spec.corsOrigins !== undefined) {
    // Fetch §3.2.2 preflight: the headers only say yes to configured origins (set by the hook).
    app.route({
      method: 'OPTIONS',
      url: spec.url,
      onRequest: cors,
      handler: async (req, reply) => {
        reply.header('allow', allow);
        if (reply.hasHeader('access-control-allow-origin')) {
          reply.header('access-control-allow-methods', own.join(', ') + (own.includes('GET') ? ', HEAD' : ''));
          reply.header('access-control-allow-headers', CORS_ALLOW_HEADERS);
          reply.header('access-control-max-age', '600');
        }
        return reply.code(204).send();
      },
    });
  }
  const others = ALL_METHODS.filter((m) => !allowedList.includes(m));
  if (others.length > 0) {
    app.route({
      method: others,
      url: spec.url,
      onRequest: cors,
      // RFC 9110 §15.5.6: 405 names the allowed methods in Allow.
      handler: async (req, reply) =>
        reply
          .code(405)
          .header('allow', allow)
          .header('cache-control', 'no-store')
          .type('application/json')
          .send({ error: 'invalid_request', error_description: `method ${req.method} is not allowed here; use ${allow}` }),
    });
  }
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaTypeOf(req: FastifyRequest): string {
  const raw = req.headers['content-type'];
  return typeof raw === 'string' ? raw.split(';')[0]!.trim().toLowerCase() : '';
}
