// The `authmesh` command-line tool as a user runs it: the built bin (dist/cli/authmesh.js, from
// `npm run build`) as a subprocess against a real mesh on loopback (every service, PGlite, the
// in-process grid), with the bootstrap admin client's credential in the environment as README
// says. Each command's table and --json output, what it changed on the server, and the exit
// statuses (0 ok, 1 refused, 2 usage, 3 unreachable) a script relies on.
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/rpc/index.js';
import { startTestMesh, type TestMesh } from '../support/mesh.js';
import { freePort } from '../support/ports.js';
import { buildOnce } from '../support/processes.js';

const BIN = join(repoRoot, 'dist', 'cli', 'authmesh.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI asynchronously (the mesh serves from this process), bounded, with `input` on stdin. */
function cli(args: string[], env: Record<string, string | undefined>, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: repoRoot, env: cleanEnv(env), timeout: 30_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input ?? '');
  });
}

/** The test runner's environment without any AUTHMESH_ credential or address, plus `env`. */
function cleanEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AUTHMESH_')) out[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

const json = (r: Run) => JSON.parse(r.stdout) as Record<string, unknown>;
/** Every error is exactly one stderr line in the documented shape. */
function expectOneErrorLine(r: Run, code: string) {
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(new RegExp(`^authmesh: ${code}: \\S`));
}

describe('authmesh CLI against a running mesh', () => {
  let t: TestMesh;
  let env: Record<string, string>;

  beforeAll(async () => {
    [t] = await Promise.all([startTestMesh(), buildOnce()]);
    env = { AUTHMESH_ADDR: `127.0.0.1:${t.mesh.port}`, AUTHMESH_CLIENT_ID: t.config.adminClientId, AUTHMESH_CLIENT_SECRET: t.config.adminClientSecret! };
  });
  afterAll(async () => {
    await t?.close();
  });

  it("creates README's device-flow client (Device flow section), which can then start the device flow", async () => {
    const created = await cli(['clients', 'create', '--id', 'my-tv', '--name', 'My TV', '--type', 'public', '--auth-method', 'none', '--grant', 'device_code', '--grant', 'refresh_token', '--scope', 'openid offline_access', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(json(created)).toMatchObject({ client: { clientId: 'my-tv', grantTypes: ['GRANT_TYPE_DEVICE_CODE', 'GRANT_TYPE_REFRESH_TOKEN'] } });
    const started = await t.anon.token.deviceAuthorization({ client: { credential: { $case: 'clientId', value: 'my-tv' } }, scope: 'openid offline_access', resource: [], remoteIp: '' });
    expect(started.userCode).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  });

  it('--help lists every command family and the exit statuses', async () => {
    const r = await cli(['--help'], {});
    expect(r.code).toBe(0);
    for (const command of ['clients', 'users', 'sessions', 'services', 'keys', 'refresh-tokens', 'tokens']) expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    for (const status of ['0  success', '1  the server refused', '2  usage error', '3  cannot reach']) expect(r.stdout).toContain(status);
    for (const args of [['help'], ['help', 'clients'], ['clients', 'help', 'list']]) {
      const help = await cli(args, {});
      expect(help.code, args.join(' ')).toBe(0);
      expect(help.stdout).toMatch(/^Usage: authmesh /);
      expect(help.stderr).toBe('');
    }
    const clients = await cli(['clients', '--help'], {});
    for (const sub of ['create', 'list', 'show', 'update', 'rotate-secret', 'delete']) expect(clients.stdout).toMatch(new RegExp(`^  ${sub} `, 'm'));
  });

  it('clients: create → list (table and --json) → show → update → rotate-secret (the old secret stops working) → delete', async () => {
    const created = await cli(['clients', 'create', '--id', 'cli-billing', '--type', 'confidential', '--grant', 'client_credentials', '--scope', 'billing.read billing.write', '--name', 'Billing job', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const firstSecret = json(created).clientSecret as string;
    expect(firstSecret.length).toBeGreaterThanOrEqual(43);
    expect(json(created).client).toMatchObject({ clientId: 'cli-billing', clientType: 'CLIENT_TYPE_CONFIDENTIAL', scopes: ['billing.read', 'billing.write'] });

    const table = await cli(['clients', 'list'], env);
    expect(table.code).toBe(0);
    const rows = table.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^CLIENT_ID\s+NAME\s+TYPE\s+GRANTS\s+SCOPES$/);
    expect(rows).toContainEqual(expect.stringMatching(/^cli-billing\s+Billing job\s+confidential\s+client_credentials\s+billing\.read, billing\.write$/));
    expect(table.stdout).not.toContain(firstSecret);
    const listed = await cli(['clients', 'list', '--json'], env);
    expect((json(listed).clients as { clientId: string }[]).map((c) => c.clientId)).toEqual(expect.arrayContaining([t.config.adminClientId, 'cli-billing']));

    // One page at a time: the table ends with how to get the next one, --json carries the token.
    const page1 = await cli(['clients', 'list', '--page-size', '1'], env);
    const next = /^\(more: --page-token (\S+)\)$/m.exec(page1.stdout)?.[1];
    expect(next, page1.stdout).toBeDefined();
    expect(page1.stdout.split('\n').filter((l) => l.startsWith(t.config.adminClientId) || l.startsWith('cli-billing'))).toHaveLength(1);
    const page2 = await cli(['clients', 'list', '--page-size', '1', '--page-token', next!, '--json'], env);
    expect((json(page2).clients as unknown[]).length).toBe(1);
    expect(page1.stdout).not.toContain((json(page2).clients as { clientId: string }[])[0]!.clientId + ' ');

    const shown = await cli(['clients', 'show', 'cli-billing'], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^clientName\s+Billing job$/m);
    expect(shown.stdout).not.toContain(firstSecret);

    const updated = await cli(['clients', 'update', 'cli-billing', '--name', 'Billing v2', '--audience', 'https://billing.example', '--json'], env);
    expect(updated.code, updated.stderr).toBe(0);
    // Only the named fields changed: the scopes stayed.
    expect((await t.peers.client.getClient({ clientId: 'cli-billing' }, { bearer: await t.bearer() })).client).toMatchObject({
      clientName: 'Billing v2',
      audience: ['https://billing.example'],
      scopes: ['billing.read', 'billing.write'],
    });
    // A stale etag is a conflict, and changes nothing.
    const stale = await cli(['clients', 'update', 'cli-billing', '--etag', '1', '--name', 'lost update'], env);
    expect(stale.code).toBe(1);
    expectOneErrorLine(stale, 'conflict');

    const asBilling = (secret: string) => cli(['tokens', 'get', '--scope', 'billing.read', '--json'], { ...env, AUTHMESH_CLIENT_ID: 'cli-billing', AUTHMESH_CLIENT_SECRET: secret });
    expect((await asBilling(firstSecret)).code).toBe(0);
    const rotated = await cli(['clients', 'rotate-secret', 'cli-billing'], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newSecret = /^clientSecret\s+(\S+)$/m.exec(rotated.stdout)?.[1];
    expect(newSecret).toBeDefined();
    expect(newSecret).not.toBe(firstSecret);
    expect(rotated.stderr).toContain('shown this once');
    const old = await asBilling(firstSecret);
    expect(old.code).toBe(1);
    expectOneErrorLine(old, 'invalid_client');
    expect(old.stderr).not.toContain(firstSecret);
    expect((await asBilling(newSecret!)).code).toBe(0);

    // A client from a proto JSON file on stdin, flags on top; a public client gets no secret.
    const spa = { clientType: 'CLIENT_TYPE_PUBLIC', redirectUris: ['http://127.0.0.1/cb'], grantTypes: ['GRANT_TYPE_AUTHORIZATION_CODE'], scopes: ['openid'], tokenEndpointAuthMethod: 'TOKEN_ENDPOINT_AUTH_METHOD_NONE' };
    const fromFile = await cli(['clients', 'create', '--file', '-', '--name', 'SPA', '--json'], env, JSON.stringify(spa));
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(json(fromFile).client).toMatchObject({ ...spa, clientName: 'SPA' });
    expect(json(fromFile).clientSecret).toBeUndefined();

    const deleted = await cli(['clients', 'delete', 'cli-billing'], env);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout.trim()).toBe('deleted client cli-billing');
    const gone = await cli(['clients', 'show', 'cli-billing'], env);
    expect(gone.code).toBe(1);
    expectOneErrorLine(gone, 'not_found');
  });

  it('users create --admin makes an administrator: the role authmesh.admin beside the roles given', async () => {
    const created = await cli(['users', 'create', 'cli-root', '--role', 'auditor', '--admin', '--password-stdin', '--json'], env, 'correct horse battery staple\n');
    expect(created.code, created.stderr).toBe(0);
    expect((json(created).user as { roles: string[] }).roles).toEqual(['auditor', 'authmesh.admin']);
  });

  it('users: create (password on stdin, never as an argument), list, set-password, update, show, delete', async () => {
    const password = 'correct horse battery staple';
    const created = await cli(['users', 'create', 'cli-alice', '--email', 'alice@example.com', '--role', 'auditor', '--password-stdin', '--json'], env, `${password}\n`);
    expect(created.code, created.stderr).toBe(0);
    const user = json(created).user as { userId: string; username: string };
    expect(user.username).toBe('cli-alice');
    expect(created.stdout).not.toContain(password);
    const listed = await cli(['users', 'list'], env);
    expect(listed.stdout).toMatch(new RegExp(`^${user.userId}\\s+cli-alice\\s+alice@example\\.com\\s+auditor`, 'm'));
    const signedIn = await t.peers.user.authenticateUser({ username: 'cli-alice', password, clientId: '', remoteIp: '', startSession: false });
    expect(signedIn.user?.userId).toBe(user.userId);
    // A password as an argument is refused: it would be readable in the process list.
    const asArg = await cli(['users', 'create', 'cli-bob', '--password', password], env);
    expect(asArg.code).toBe(2);

    const newPassword = 'a different long password';
    expect((await cli(['users', 'set-password', user.userId, '--password-stdin'], env, newPassword)).code).toBe(0);
    const again = await t.peers.user.authenticateUser({ username: 'cli-alice', password: newPassword, clientId: '', remoteIp: '', startSession: false });
    expect(again.user?.userId).toBe(user.userId);
    const updated = await cli(['users', 'update', user.userId, '--display-name', 'Alice A', '--disabled', '--json'], env);
    expect(updated.code, updated.stderr).toBe(0);
    expect(json(updated).user).toMatchObject({ displayName: 'Alice A', disabled: true, email: 'alice@example.com' });
    expect((await cli(['users', 'show', user.userId], env)).stdout).toMatch(/^displayName\s+Alice A$/m);
    expect((await cli(['users', 'delete', user.userId], env)).code).toBe(0);
    const gone = await cli(['users', 'show', user.userId], env);
    expect(gone.code).toBe(1);
    expectOneErrorLine(gone, 'not_found');
  });

  it('services: create with an endpoint, list, update, show, lookup, check-access, delete', async () => {
    const created = await cli(['services', 'create', '--id', 'cli-orders', '--audience', 'https://orders.example', '--endpoint', 'GET /orders/{id} orders.read'], env);
    expect(created.code, created.stderr).toBe(0);
    const listed = await cli(['services', 'list', '--json'], env);
    expect(json(listed).services).toContainEqual(expect.objectContaining({ serviceId: 'cli-orders', audience: 'https://orders.example', scopes: ['orders.read'] }));
    const table = await cli(['services', 'list'], env);
    expect(table.stdout).toMatch(/^cli-orders\s+https:\/\/orders\.example\s+orders\.read$/m);
    const updated = await cli(['services', 'update', 'cli-orders', '--name', 'Orders', '--endpoint', 'POST /orders orders.write', '--endpoint', 'GET /orders/{id} orders.read', '--json'], env);
    expect(updated.code, updated.stderr).toBe(0);
    expect(json(updated).service).toMatchObject({ displayName: 'Orders', audience: 'https://orders.example', scopes: ['orders.read', 'orders.write'] });
    expect((await cli(['services', 'show', 'cli-orders'], env)).stdout).toMatch(/^displayName\s+Orders$/m);
    expect(json(await cli(['services', 'lookup', '--audience', 'https://orders.example', '--json'], env)).service).toMatchObject({ serviceId: 'cli-orders' });
    const allowed = await cli(['services', 'check-access', 'cli-orders', '--method', 'get', '--path', '/orders/42', '--scope', 'orders.read', '--json'], env);
    expect(json(allowed)).toMatchObject({ decision: 'ACCESS_DECISION_ALLOW', requiredScope: 'orders.read' });
    const denied = await cli(['services', 'check-access', 'cli-orders', '--method', 'POST', '--path', '/orders', '--scope', 'orders.read'], env);
    expect(denied.code).toBe(0);
    expect(denied.stdout).toMatch(/^decision\s+deny_insufficient_scope$/m);
    expect((await cli(['services', 'delete', 'cli-orders'], env)).code).toBe(0);
    expect((await cli(['services', 'show', 'cli-orders'], env)).code).toBe(1);
  });

  it('keys: list, show, then rotate makes the next key active and retires the active one; jwks serves both', async () => {
    const before = json(await cli(['keys', 'list', '--json'], env)).keys as { kid: string; status: string }[];
    const active = before.find((k) => k.status === 'KEY_STATUS_ACTIVE')!;
    const next = before.find((k) => k.status === 'KEY_STATUS_NEXT')!;
    expect(active).toBeDefined();
    expect((await cli(['keys', 'show', active.kid], env)).stdout).toMatch(/^publicJwk\.kty\s+EC$/m);
    const table = await cli(['keys', 'list'], env);
    expect(table.stdout).toMatch(new RegExp(`^${active.kid}\\s+ES256\\s+active\\s`, 'm'));
    const rotated = await cli(['keys', 'rotate', '--json'], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(json(rotated)).toMatchObject({ active: { kid: next.kid, status: 'KEY_STATUS_ACTIVE' }, retired: { kid: active.kid, status: 'KEY_STATUS_RETIRED' } });
    const jwks = json(await cli(['keys', 'jwks', '--json'], env)).keys as { kid: string }[];
    expect(jwks.map((k) => k.kid)).toEqual(expect.arrayContaining([active.kid, next.kid]));
  });

  it('tokens: get with client_credentials, introspect it, revoke it, decode it offline (saying it did not verify)', async () => {
    const got = await cli(['tokens', 'get', '--json'], env);
    expect(got.code, got.stderr).toBe(0);
    const { accessToken, scope } = json(got) as { accessToken: string; scope: string };
    expect(scope).toBe('authmesh.admin');
    const introspected = await cli(['tokens', 'introspect', '-', '--json'], env, accessToken);
    expect(json(introspected)).toMatchObject({ active: true, clientId: t.config.adminClientId, scope: 'authmesh.admin' });
    const bogus = await cli(['tokens', 'introspect', 'not-a-token', '--json'], env);
    expect(bogus.code).toBe(0);
    expect(json(bogus)).toEqual({ active: false });
    // RFC 7009: revoked by the client it was issued to, the token is no longer active.
    const revoked = await cli(['tokens', 'revoke', '-'], env, accessToken);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(json(await cli(['tokens', 'introspect', accessToken, '--json'], env))).toEqual({ active: false });

    // Offline: no server address is reachable, no credential is given.
    const decoded = await cli(['tokens', 'decode', accessToken, '--json'], { AUTHMESH_ADDR: '127.0.0.1:1' });
    expect(decoded.code, decoded.stderr).toBe(0);
    expect(json(decoded)).toMatchObject({ header: { typ: 'at+jwt', alg: 'ES256' }, payload: { client_id: t.config.adminClientId, scope: 'authmesh.admin' }, signatureVerified: false });
    const view = await cli(['tokens', 'decode', accessToken], {});
    expect(view.stdout).toMatch(/^signature\s+NOT VERIFIED/m);
    expect(view.stdout).toMatch(/^claims\.exp\s+\d+ \(\d{4}-\d\d-\d\dT/m);
    const notJwt = await cli(['tokens', 'decode', 'abc.def'], {});
    expect(notJwt.code).toBe(2);
    expectOneErrorLine(notJwt, 'invalid_request');
  });

  it('refresh tokens: list a user\'s real tokens and revoke one family', async () => {
    const created = await cli(['users', 'create', 'cli-dave', '--password-stdin', '--json'], env, 'a password of some length');
    const userId = (json(created).user as { userId: string }).userId;
    const issue = (familyId = '') =>
      t.peers.refreshToken.issueRefreshToken({ clientId: t.config.adminClientId, userId, scopes: ['openid'], audience: [], familyId, ttlSeconds: 0, authTime: undefined, idTokenClaims: [], dpopJkt: '', certificateThumbprint: '' });
    const a = await issue();
    const b = await issue();
    const listed = await cli(['refresh-tokens', 'list', '--user', userId, '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect((json(listed).refreshTokens as { familyId: string }[]).map((r) => r.familyId).sort()).toEqual([a.info!.familyId, b.info!.familyId].sort());
    // Metadata only: the token values are never listed.
    expect(listed.stdout).not.toContain(a.refreshToken);
    const table = await cli(['refresh-tokens', 'list', '--user', userId], env);
    expect(table.stdout).toMatch(new RegExp(`^${a.info!.tokenId}\\s+${a.info!.familyId}\\s+${t.config.adminClientId}\\s+${userId}\\s+openid\\s`, 'm'));

    const revoked = await cli(['refresh-tokens', 'revoke', '--family', a.info!.familyId], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout.trim()).toBe('revoked 1 refresh token(s)');
    expect((await t.peers.refreshToken.lookupRefreshToken({ refreshToken: a.refreshToken })).active).toBe(false);
    expect((await t.peers.refreshToken.lookupRefreshToken({ refreshToken: b.refreshToken })).active).toBe(true);
    const both = await cli(['refresh-tokens', 'revoke', '--user', 'x', '--family', 'y'], env);
    expect(both.code).toBe(2);
  });

  it('sessions: list a user\'s real login sessions and revoke one', async () => {
    const password = 'another long password';
    const created = await cli(['users', 'create', 'cli-carol', '--password-stdin', '--json'], env, password);
    const userId = (json(created).user as { userId: string }).userId;
    const login = () => t.peers.user.authenticateUser({ username: 'cli-carol', password, clientId: '', remoteIp: '', startSession: true });
    const first = await login();
    const second = await login();
    const listed = await cli(['sessions', 'list', userId, '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    const sids = (json(listed).sessions as { sid: string }[]).map((s) => s.sid);
    expect(sids).toHaveLength(2);
    const table = await cli(['sessions', 'list', userId], env);
    expect(table.stdout.split('\n')[0]).toMatch(/^SID\s+AUTH_TIME\s+EXPIRES\s+CLIENTS$/);

    const revoked = await cli(['sessions', 'revoke', userId, sids[0]!], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    const still = [first, second].map((s) => t.peers.user.checkSession({ sessionId: s.sessionId, userId }).then((r) => r.active));
    expect((await Promise.all(still)).filter(Boolean)).toHaveLength(1);
    const all = await cli(['sessions', 'revoke', userId, '--all', '--json'], env);
    expect(json(all)).toEqual({ revokedCount: 1 });
    expect((await t.peers.user.checkSession({ sessionId: second.sessionId, userId })).active).toBe(false);
  });

  it('exit 1 when the server refuses: a wrong client secret or a token without the admin scope; the secret is not echoed', async () => {
    const wrong = await cli(['clients', 'list'], { ...env, AUTHMESH_CLIENT_SECRET: 'not-the-secret-at-all-0123456789' });
    expect(wrong.code).toBe(1);
    expectOneErrorLine(wrong, 'invalid_client');
    expect(wrong.stdout + wrong.stderr).not.toContain('not-the-secret-at-all');
    const weak = await cli(['keys', 'rotate'], { AUTHMESH_ADDR: env.AUTHMESH_ADDR, AUTHMESH_TOKEN: await t.bearer({ scope: ['authmesh.read'] }) });
    expect(weak.code).toBe(1);
    expectOneErrorLine(weak, 'insufficient_scope');
  });

  it('exit 2 for usage errors, before anything is sent', async () => {
    const cases = [
      ['clients', 'frob'],
      ['clients\nfrob\u001b[2J'],
      ['clients'],
      [],
      ['clients', 'show'],
      ['clients', 'update', 'x'],
      ['--timeout', 'soon', 'keys', 'list'],
      ['--addr', 'http://127.0.0.1:1', 'keys', 'list'],
      ['clients', 'create', '--type', 'bogus'],
      ['clients', 'list', '--page-size', '0'],
      // Plaintext to another machine would carry the secret and the token in clear (RFC 6749 §2.3.1).
      ['--addr', 'mesh.example.com:50051', 'clients', 'list'],
      ['--addr', '192.0.2.10:50051', 'keys', 'list'],
      ['--cacert', '/nonexistent/ca.pem', 'keys', 'list'],
    ];
    for (const args of cases) {
      const r = await cli(args, env);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expectOneErrorLine(r, 'invalid_request');
      expect(r.stdout).toBe('');
    }
    const remote = await cli(['--addr', 'mesh.example.com:50051', 'clients', 'list'], env);
    expect(remote.stderr).toContain('--tls');
    // --plaintext is the explicit choice; with it the call is attempted (nothing answers there: exit 3).
    expect((await cli(['--plaintext', '--timeout', '1', '--addr', '192.0.2.10:50051', 'keys', 'list'], env)).code).toBe(3);
    const noCredential = await cli(['clients', 'list'], { AUTHMESH_ADDR: env.AUTHMESH_ADDR });
    expect(noCredential.code).toBe(2);
    expect(noCredential.stderr).toContain('--client-id');
  });

  it('exit 3 when nothing listens at the address, or nothing answers before --timeout', async () => {
    const port = await freePort();
    const r = await cli(['clients', 'list'], { ...env, AUTHMESH_ADDR: `127.0.0.1:${port}` });
    expect(r.code).toBe(3);
    expectOneErrorLine(r, 'temporarily_unavailable');
    expect(r.stderr).toContain(`cannot reach the mesh at 127.0.0.1:${port}`);
    expect(r.stderr).not.toContain(env.AUTHMESH_CLIENT_SECRET!);

    // A service of its own address (AUTHMESH_<SVC>_ADDR, as in a stack) that is down: the
    // others still answer, and the message names the address that failed.
    const split = { ...env, AUTHMESH_KEY_ADDR: `127.0.0.1:${port}` };
    expect((await cli(['clients', 'list'], split)).code).toBe(0);
    const keyDown = await cli(['keys', 'list'], split);
    expect(keyDown.code).toBe(3);
    expect(keyDown.stderr).toContain(`cannot reach the mesh at 127.0.0.1:${port}`);

    // A port that accepts connections but never speaks HTTP/2: no answer before --timeout.
    const silent = createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const hung = await cli(['--timeout', '1', 'keys', 'list'], { ...env, AUTHMESH_ADDR: `127.0.0.1:${(silent.address() as AddressInfo).port}` });
      expect(hung.code).toBe(3);
      expectOneErrorLine(hung, 'temporarily_unavailable');
    } finally {
      silent.close();
    }
  });

  it("README's command runs as written: npm run -s authmesh -- clients list", async () => {
    const r = await new Promise<Run>((resolve) => {
      execFile('sh', ['-c', 'npm run -s authmesh -- clients list'], { cwd: repoRoot, env: cleanEnv(env), timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^${t.config.adminClientId}\\s+`, 'm'));
  });
});
