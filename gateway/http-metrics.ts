// Request metrics of the HTTP gateway: authmesh_http_server_requests_total and
// authmesh_http_server_duration_seconds by route template (never the raw path: a caller chooses
// that), method, status code and the RFC error code of an error answer. Labels stay bounded: the
// route is one the gateway registered or "unmatched", the method one of the standard ones or
// "other", the error a code of the error vocabulary (services/core/errors) or "other".
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Metrics } from '../services/core/metrics/index.js';

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Route label of a request no route matched (404 from the not-found handler). */
export const UNMATCHED_ROUTE = 'unmatched';

const ERROR_OF = Symbol('authmesh.httpErrorCode');
type WithError = FastifyRequest & { [ERROR_OF]?: string };

// RFC 6749 §5.2 / RFC 6750 §3: the error code is the body's `error` member; our bodies start with it.
const ERROR_MEMBER = /"error":"([a-z_]{1,64})"/;

/** Adds the hooks that record every answered request in `metrics`. */
export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  // Callback-style hooks: on every request, so no promise per hook. Only error answers are
  // looked at (status ≥ 400), and only the head of their JSON body.
  app.addHook('onSend', (req, reply, payload, done) => {
    if (reply.statusCode >= 400 && typeof payload === 'string') {
      const m = ERROR_MEMBER.exec(payload.slice(0, 256));
      if (m) (req as WithError)[ERROR_OF] = m[1];
    }
    done(null, payload);
  });
  app.addHook('onResponse', (req, reply, done) => {
    const status = reply.statusCode;
    metrics.observeHttp(
      req.routeOptions.url ?? UNMATCHED_ROUTE,
      METHODS.has(req.method) ? req.method : 'other',
      status,
      status >= 400 ? ((req as WithError)[ERROR_OF] ?? 'other') : undefined,
      reply.elapsedTime / 1000,
    );
    done();
  });
}
