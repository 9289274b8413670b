// `npm start` as a newcomer runs it: a fresh data directory, the printed address and bootstrap
// secret, a first token with buf curl exactly as README.md shows, clean SIGTERM shutdown, and
// everything still there after a restart (store, signing keys, secrets in the data dir).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/rpc/index.js';
import { startAuthmesh } from '../support/processes.js';

const exec = promisify(execFile);
const buf = join(repoRoot, 'node_modules', '.bin', 'buf');
const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');

async function start(dataDir: string) {
  // A bound, not a measure: on a loaded 2-core machine the embedded database alone can take 30 s.
  const p = await startAuthmesh({ AUTHMESH_DATA_DIR: dataDir, AUTHMESH_GRPC_PORT: '0', AUTHMESH_HTTP_PORT: '0' }, 90_000);
  return { out: p.output, port: p.grpcPort, http: p.http!, stop: p.stop };
}

/** README's first token: curl with HTTP Basic against the token endpoint. */
async function curlToken(http: string, secret: string) {
  const { stdout } = await exec('curl', ['-s', '-u', `authmesh-admin:${secret}`, '-d', 'grant_type=client_credentials', '-d', 'scope=authmesh.admin', `${http}/oauth2/token`]);
  return JSON.parse(stdout) as { access_token: string; token_type: string; expires_in: number; scope: string };
}

async function firstToken(port: number, secret: string) {
  const body = JSON.stringify({
    client: { client_secret: { client_id: 'authmesh-admin', client_secret: secret, method: 'TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC' } },
    client_credentials: { scope: 'authmesh.admin' },
  });
  const { stdout } = await exec(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '-d', body, `http://127.0.0.1:${port}/authmesh.token.v1.TokenService/Token`]);
  return JSON.parse(stdout) as { accessToken?: string; access_token?: string; tokenType?: string; expiresIn?: number };
}

describe('npm start (embedded mode)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'authmesh-start-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves a first token as README shows (curl over HTTP, buf curl over gRPC), shuts down cleanly, and keeps everything across a restart', async () => {
    const first = await start(dataDir);
    const secret = /client_secret: ([A-Za-z0-9_-]{43})/.exec(first.out())?.[1];
    expect(secret, first.out()).toBeDefined();
    expect(statSync(join(dataDir, 'master.key')).mode & 0o777).toBe(0o600);
    // The banner's CLI command names this process's gRPC address when it is not the CLI's default.
    expect(first.out()).toContain(`AUTHMESH_ADDR=127.0.0.1:${first.port} AUTHMESH_CLIENT_ID=authmesh-admin AUTHMESH_CLIENT_SECRET=<secret> npm run -s authmesh -- users create`);
    const viaCurl = await curlToken(first.http, secret!);
    expect(viaCurl).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'authmesh.admin' });
    const t1 = await firstToken(first.port, secret!);
    const access = t1.accessToken ?? t1.access_token;
    expect(access).toMatch(/^eyJ/);
    const list = await exec(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '-H', `authorization: Bearer ${access}`, `http://127.0.0.1:${first.port}/authmesh.client.v1.ClientService/ListClients`]);
    expect(list.stdout).toContain('authmesh-admin');
    expect(first.out()).not.toContain(access!);
    expect(await first.stop()).toBe(0);

    const second = await start(dataDir);
    // The secret is printed once only: the client already exists.
    expect(second.out()).not.toContain(secret!);
    const t2 = await firstToken(second.port, secret!);
    expect(t2.accessToken ?? t2.access_token).toMatch(/^eyJ/);
    // A token from before the restart still authorizes: keys and store persisted.
    const again = await exec(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '-H', `authorization: Bearer ${access}`, `http://127.0.0.1:${second.port}/authmesh.client.v1.ClientService/ListClients`]);
    expect(again.stdout).toContain('authmesh-admin');
    expect(await second.stop()).toBe(0);
  }, 300_000);

  it('refuses bad configuration with a clear message and exit status 2', async () => {
    const res = await exec(tsx, ['services/main.ts'], {
      cwd: repoRoot,
      env: { ...process.env, AUTHMESH_GRPC_PORT: 'abc', AUTHMESH_SIGNING_ALG: 'HS256', AUTHMESH_DATA_DIR: dataDir },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((res as { code: number }).code).toBe(2);
    expect((res as { stderr: string }).stderr).toContain('AUTHMESH_GRPC_PORT="abc": expected a whole number from 0 to 65535');
    expect((res as { stderr: string }).stderr).toContain('AUTHMESH_SIGNING_ALG="HS256"');
  }, 30_000);
});
