// The sample protected API ("other services" behind the edge), for tests and demos. It trusts
// Envoy completely: it never sees a token, only the identity headers ext_authz set, and it echoes
// them as JSON. A request that still carries an Authorization header is refused, which proves
// Envoy stripped the token before the upstream. Run alone:
//   AUTHMESH_SAMPLE_API_PORT=8090 npx tsx test/sample-api/server.ts
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SampleApi {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export function createSampleApiServer(): Server {
  return createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    // Envoy's health check: no identity needed.
    if (path === '/healthz') return send(200, { status: 'ok' });
    if (req.headers.authorization !== undefined) {
      return send(400, { error: 'authorization_forwarded', error_description: 'the edge must not forward bearer tokens to upstreams' });
    }
    if (req.headers.dpop !== undefined) {
      // RFC 9449 §7: the proof was for the edge's check; the edge removes it.
      return send(400, { error: 'dpop_forwarded', error_description: 'the edge must not forward DPoP proofs to upstreams' });
    }
    const sub = req.headers['x-authmesh-sub'];
    if (typeof sub !== 'string' || sub === '') return send(401, { error: 'no_identity', error_description: 'request did not come through the edge' });
    send(200, {
      method: req.method,
      path,
      sub,
      client_id: req.headers['x-authmesh-client-id'] ?? null,
      scope: req.headers['x-authmesh-scope'] ?? null,
      act: req.headers['x-authmesh-act'] ?? null,
    });
    req.resume();
  });
}

export async function startSampleApi(port = 0, host = '127.0.0.1'): Promise<SampleApi> {
  const server = createSampleApiServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const port = Number(process.env.AUTHMESH_SAMPLE_API_PORT ?? 8090);
  const host = process.env.AUTHMESH_SAMPLE_API_HOST ?? '127.0.0.1';
  const api = await startSampleApi(port, host);
  console.warn(`sample API on http://${host}:${api.port}`);
  const stop = () => void api.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
