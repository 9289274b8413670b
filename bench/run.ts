// Benchmarks of the embedded server, one run: starts `services/main.ts` as its own process on
// loopback (fresh data directory), then loads it from this process with autocannon (HTTP) and a
// bounded gRPC load loop. Prints a table of requests/s and latency percentiles.
// Usage: npm run bench [-- --seconds 10 --connections 50]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { TokenEndpointAuthMethod, type ClientCredentials } from '../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationService, CheckRequest } from '../gen/ts/envoy/service/auth/v3/external_auth.js';
import { TokenRequest, TokenServiceService } from '../gen/ts/authmesh/token/v1/token.js';
import { createRpcClient } from '../services/core/rpc/index.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 50);
const GRPC_CALLS = arg('grpc-calls', 20_000);

const root = join(import.meta.dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'authmesh-bench-'));
const secret = randomBytes(32).toString('base64url');
const httpPort = 18080 + Math.floor(Math.random() * 1000);
const grpcPort = httpPort + 1000;

const server = spawn(join(root, 'node_modules', '.bin', 'tsx'), ['services/main.ts'], {
  cwd: root,
  env: {
    ...process.env,
    AUTHMESH_DATA_DIR: dataDir,
    AUTHMESH_HTTP_PORT: String(httpPort),
    AUTHMESH_GRPC_PORT: String(grpcPort),
    AUTHMESH_ADMIN_CLIENT_SECRET: secret,
    AUTHMESH_LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
server.stdout!.on('data', (d) => (out += d));
await new Promise<void>((resolve, reject) => {
  const t = setTimeout(() => reject(new Error('server did not start in 60 s')), 60_000);
  const poll = setInterval(() => {
    if (out.includes('HTTP on')) {
      clearInterval(poll);
      clearTimeout(t);
      resolve();
    }
  }, 50);
});

const base = `http://127.0.0.1:${httpPort}`;
const basic = `Basic ${Buffer.from(`authmesh-admin:${secret}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
const tokenBody = 'grant_type=client_credentials&scope=authmesh.read';
const first = (await (await fetch(`${base}/oauth2/token`, { method: 'POST', headers: form, body: tokenBody })).json()) as { access_token: string };

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}
const rows: Row[] = [];

async function http(name: string, opts: autocannon.Options) {
  // A short warm-up so JIT and caches (JWKS, grid copies) are settled before measuring.
  await autocannon({ ...opts, duration: 2, connections: CONNECTIONS });
  const r = await autocannon({ ...opts, duration: SECONDS, connections: CONNECTIONS });
  rows.push({ name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.non2xx + r.errors });
}

await http('HTTP POST /oauth2/token (client_credentials, Basic)', { url: `${base}/oauth2/token`, method: 'POST', headers: form, body: tokenBody });
await http('HTTP POST /oauth2/introspect', { url: `${base}/oauth2/introspect`, method: 'POST', headers: form, body: `token=${first.access_token}` });
await http('HTTP GET /.well-known/jwks.json', { url: `${base}/.well-known/jwks.json` });

async function grpcLoop(name: string, call: () => Promise<unknown>) {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  for (let i = 0; i < 500; i++) await call();
  const started = performance.now();
  const worker = async () => {
    while (next < GRPC_CALLS) {
      next += 1;
      const t = performance.now();
      try {
        await call();
      } catch {
        errors += 1;
      }
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Math.round(latencies[Math.floor((latencies.length - 1) * p)]! * 100) / 100;
  rows.push({ name, rps: Math.round(latencies.length / seconds), p50: pct(0.5), p99: pct(0.99), errors });
}

const addr = `127.0.0.1:${grpcPort}`;
const token = createRpcClient(TokenServiceService, 'authmesh.token.v1.TokenService', addr);
const creds: ClientCredentials = {
  credential: { $case: 'clientSecret', value: { clientId: 'authmesh-admin', clientSecret: secret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } },
};
const tokenReq = TokenRequest.fromPartial({ client: creds, grant: { $case: 'clientCredentials', value: { scope: 'authmesh.read' } } });
await grpcLoop(`gRPC TokenService/Token (client_credentials) ×${GRPC_CALLS}`, () => token.token(tokenReq));
const authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', addr);
const checkReq = CheckRequest.fromPartial({
  attributes: { request: { http: { method: 'GET', path: '/x', headers: { authorization: `Bearer ${first.access_token}` } } }, contextExtensions: { scope: 'authmesh.read' } },
});
await grpcLoop(`gRPC ext_authz Check (allow) ×${GRPC_CALLS}`, () => authz.check(checkReq));
token.close();
authz.close();

server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });

console.log(`\nauthmesh embedded, one process, loopback; ${CONNECTIONS} concurrent connections/calls; HTTP ${SECONDS} s per row\n`);
console.log('| benchmark | req/s | p50 ms | p99 ms | errors |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors} |`);
