// A real mesh plus the real HTTP gateway on loopback, with the issuer equal to the gateway's own
// URL (RFC 8414 §3.3: clients check that metadata names the URL they fetched it from).
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ALL_ROUTES, createGateway, type RouteModule } from '../../gateway/index.js';
import { silentLogger, type Logger } from '../../services/core/log/index.js';
import { startTestMesh, type TestMesh } from './mesh.js';
import { freePort } from './ports.js';

export interface TestGateway extends TestMesh {
  /** e.g. http://127.0.0.1:41234 — also the issuer. */
  baseUrl: string;
  app: FastifyInstance;
}


/**
 * `options.log` receives the mesh's and the gateway's log lines (default: none); `options.routes`
 * replaces the gateway's route modules (default ALL_ROUTES), e.g. to put a recorder in front.
 */
export async function startTestGateway(env: Record<string, string> = {}, options: { log?: Logger; routes?: RouteModule[] } = {}): Promise<TestGateway> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const t = await startTestMesh({ AUTHMESH_ISSUER: baseUrl, AUTHMESH_HTTP_PORT: String(port), ...env }, { log: options.log });
  const app = await createGateway(
    {
      config: t.config,
      log: options.log ?? silentLogger(),
      peers: t.peers,
      grpcAddress: () => `127.0.0.1:${t.mesh.port}`,
      cookieSecret: randomBytes(32).toString('base64url'),
      readiness: t.mesh.readiness,
      // One registry for the mesh and its gateway, as main.ts gives a process.
      metrics: t.mesh.deps.metrics,
    },
    options.routes ?? ALL_ROUTES,
  );
  await app.listen({ host: '127.0.0.1', port });
  return {
    ...t,
    baseUrl,
    app,
    async close() {
      await app.close();
      await t.close();
    },
  };
}
