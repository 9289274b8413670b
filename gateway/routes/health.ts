// Health routes for orchestrators (README "Health"). Neither is an OAuth endpoint: no
// authentication, no cookies read, never cached, and no dependency detail beyond its name and
// state (no address, URL or error text: a probe answer may be shown to anyone who can reach it).
//   GET /livez   200 {"status":"ok"} whenever the event loop answers; never looks at the store or
//                grid, so an outage of theirs takes instances out of rotation instead of restarting them.
//   GET /readyz  200 {"status":"ready","checks":{…}} when every dependency this process holds
//                answers and it is not draining; 503 {"status":"not_ready","draining":…,"checks":{…}}
//                otherwise (services/core/health/readiness.ts: cached ~1 s, single-flight, bounded).
import type { RouteModule } from '../gateway.js';

export const healthRoutes: RouteModule = ({ app, readiness }) => {
  app.get('/livez', async (_req, reply) => reply.header('cache-control', 'no-store').type('application/json').send({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    // A gateway-only process holds no store or grid: ready while it is not closing (fastify then
    // answers 503 itself, return503OnClosing).
    const report = readiness ? await readiness.check() : { ready: true, draining: false, checks: {} };
    return reply
      .code(report.ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .type('application/json')
      .send(report.ready ? { status: 'ready', checks: report.checks } : { status: 'not_ready', draining: report.draining, checks: report.checks });
  });
};
