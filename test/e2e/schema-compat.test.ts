// Expand and contract (issue 18): a rolling upgrade runs the new migrations while processes of the
// previous version still serve. This test replays that order on Postgres + Hazelcast:
//   1. the previous version (the commit before the newest schema change, built from git) starts on
//      an empty database, applies its own migrations and writes clients;
//   2. this checkout starts beside it on the same database and grid, and applies the newer
//      migrations while the old process keeps serving;
//   3. both then write and read each other's rows: clients created on either authenticate on the
//      other, tokens issued by either introspect on the other, a revocation on one holds on the other.
// A migration that renames or drops what the old code uses, or adds a column it cannot fill, fails
// here. AUTHMESH_COMPAT_BASE names another commit to compare with (e.g. the last release).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientServiceService, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod, type ClientCredentials } from '../../gen/ts/authmesh/client/v1/client.js';
import { IntrospectTokenRequest, RevokeTokenRequest, TokenRequest, TokenServiceService } from '../../gen/ts/authmesh/token/v1/token.js';
import { createRpcClient, repoRoot } from '../../services/core/rpc/index.js';
import { startAuthmesh, type AuthmeshProcess } from '../support/processes.js';
import { sharedProcessEnv, stackBackends } from '../support/stack.js';

const run = promisify(execFile);
const backends = stackBackends();

/** The commit to run as "the previous version": AUTHMESH_COMPAT_BASE, else the parent of the newest commit that changed db/. */
function compatBase(): { commit: string; skip?: undefined } | { commit?: undefined; skip: string } {
  const git = (...args: string[]) => execFileSync('git', ['-C', repoRoot, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const wanted = process.env.AUTHMESH_COMPAT_BASE ?? `${git('log', '-n', '1', '--format=%H', '--', 'db')}~1`;
    return { commit: git('rev-parse', '--verify', `${wanted}^{commit}`) };
  } catch {
    const reason = 'the git history has no commit before the newest schema change (a shallow clone?)';
    if (process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error(`AUTHMESH_REQUIRE_STACK=1 but ${reason}`);
    return { skip: reason };
  }
}

const base = backends.skip ? { skip: backends.skip } : compatBase();

/**
 * Extracts `commit` into a directory and builds it as `npm run gen && npm run build` would. Its
 * node_modules is this checkout's when every dependency it pins is pinned the same here (no
 * download), else its own `npm ci --ignore-scripts`.
 */
async function buildPrevious(commit: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'authmesh-compat-'));
  execFileSync('sh', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', repoRoot, commit, dir]);
  const pins = (root: string) => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    return { ...pkg.dependencies, ...pkg.devDependencies };
  };
  const now = pins(repoRoot);
  const samePins = Object.entries(pins(dir)).every(([name, version]) => now[name] === version);
  if (samePins) symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  else await run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, timeout: 300_000 });
  await run('npm', ['run', '-s', 'gen'], { cwd: dir, timeout: 180_000 });
  await run(process.execPath, ['scripts/build.mjs'], { cwd: dir, timeout: 120_000 });
  return dir;
}

describe.skipIf(base.skip)(`the previous version beside this one on one schema${base.skip ? ` (skipped: ${base.skip})` : ''}`, () => {
  let previous: AuthmeshProcess;
  let current: AuthmeshProcess;
  const dirs: string[] = [];
  const adminSecret = randomBytes(32).toString('base64url');
  let rpc: Array<{ client: ReturnType<typeof makeClient>; token: ReturnType<typeof makeToken> }> = [];

  const makeClient = (port: number) => createRpcClient(ClientServiceService, 'authmesh.client.v1.ClientService', `127.0.0.1:${port}`);
  const makeToken = (port: number) => createRpcClient(TokenServiceService, 'authmesh.token.v1.TokenService', `127.0.0.1:${port}`);
  const basic = (clientId: string, clientSecret: string): ClientCredentials => ({
    credential: { $case: 'clientSecret', value: { clientId, clientSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } },
  });
  const OLD = 0;
  const NEW = 1;

  const adminToken = async (on: number) =>
    (await rpc[on]!.token.token(TokenRequest.fromPartial({ client: basic('authmesh-admin', adminSecret), grant: { $case: 'clientCredentials', value: { scope: 'authmesh.admin' } } }))).accessToken;
  const createClient = async (on: number, name: string) => {
    const created = await rpc[on]!.client.createClient(
      CreateClientRequest.fromPartial({ client: { clientName: name, clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'] } } as never),
      { bearer: await adminToken(on) },
    );
    return { id: created.client!.clientId, secret: created.clientSecret };
  };
  const tokenFor = async (on: number, c: { id: string; secret: string }) =>
    rpc[on]!.token.token(TokenRequest.fromPartial({ client: basic(c.id, c.secret), grant: { $case: 'clientCredentials', value: { scope: 'read' } } }));
  const introspect = async (on: number, c: { id: string; secret: string }, token: string) =>
    rpc[on]!.token.introspectToken(IntrospectTokenRequest.fromPartial({ client: basic(c.id, c.secret), token, tokenTypeHint: 'access_token' }));

  let beforeUpgrade: { id: string; secret: string };

  beforeAll(async () => {
    const oldTree = await buildPrevious(base.commit!);
    dirs.push(oldTree);
    const env = await backends.env();
    const common = {
      ...env,
      ...sharedProcessEnv(adminSecret),
    };
    const dataDir = () => {
      const d = mkdtempSync(join(tmpdir(), 'authmesh-compat-data-'));
      dirs.push(d);
      return d;
    };
    // 1. The previous version alone, on the schema it knows.
    previous = await startAuthmesh({ ...common, AUTHMESH_DATA_DIR: dataDir() }, 60_000, oldTree);
    rpc = [{ client: makeClient(previous.grpcPort), token: makeToken(previous.grpcPort) }];
    beforeUpgrade = await createClient(OLD, 'written before the upgrade');
    // 2. This version starts beside it and migrates the schema under it.
    current = await startAuthmesh({ ...common, AUTHMESH_DATA_DIR: dataDir() }, 60_000);
    rpc.push({ client: makeClient(current.grpcPort), token: makeToken(current.grpcPort) });
  }, 480_000);

  afterAll(async () => {
    for (const c of rpc) {
      c.client.close();
      c.token.close();
    }
    await current?.stop();
    await previous?.stop();
    await backends.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('rolling_upgrade_schema_compat: a client written before the upgrade authenticates on both versions', async () => {
    expect((await tokenFor(NEW, beforeUpgrade)).scope).toBe('read');
    expect((await tokenFor(OLD, beforeUpgrade)).scope).toBe('read');
  });

  it('rolling_upgrade_schema_compat: the previous version keeps writing on the migrated schema, and this one reads it (and back)', async () => {
    const byOld = await createClient(OLD, 'written by the previous version after the upgrade');
    const byNew = await createClient(NEW, 'written by this version');
    expect((await tokenFor(NEW, byOld)).scope).toBe('read');
    expect((await tokenFor(OLD, byNew)).scope).toBe('read');
  });

  it('rolling_upgrade_schema_compat: tokens issued by either version introspect on the other; a revocation on one holds on the other', async () => {
    const fromOld = (await tokenFor(OLD, beforeUpgrade)).accessToken;
    const fromNew = (await tokenFor(NEW, beforeUpgrade)).accessToken;
    expect((await introspect(NEW, beforeUpgrade, fromOld)).active).toBe(true);
    expect((await introspect(OLD, beforeUpgrade, fromNew)).active).toBe(true);
    await rpc[OLD]!.token.revokeToken(RevokeTokenRequest.fromPartial({ client: basic(beforeUpgrade.id, beforeUpgrade.secret), token: fromOld, tokenTypeHint: 'access_token' }));
    await rpc[NEW]!.token.revokeToken(RevokeTokenRequest.fromPartial({ client: basic(beforeUpgrade.id, beforeUpgrade.secret), token: fromNew, tokenTypeHint: 'access_token' }));
    expect((await introspect(NEW, beforeUpgrade, fromOld)).active).toBe(false);
    expect((await introspect(OLD, beforeUpgrade, fromNew)).active).toBe(false);
  });
});
