// `authmesh audit list` and `authmesh audit tail` as a user runs them: the built bin as a
// subprocess against a real mesh on loopback (every service, PGlite, the in-process grid), reading
// events that real actions recorded (a client created by the CLI, a failed client authentication
// at the token service). The tail follows with the `after` cursor: exactly the events recorded
// after it started, --limit stops it, SIGINT ends it with exit 0.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, GrantType } from '../../gen/ts/authmesh/client/v1/client.js';
import { repoRoot } from '../../services/core/rpc/index.js';
import { startTestMesh, type TestMesh } from '../support/mesh.js';
import { buildOnce } from '../support/processes.js';

const BIN = join(repoRoot, 'dist', 'cli', 'authmesh.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cleanEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AUTHMESH_')) out[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

function cli(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: repoRoot, env: cleanEnv(env), timeout: 30_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
    child.stdin!.end('');
  });
}

/** A running `audit tail`: resolves `ready` once it announced its cursor on stderr; `done` when it exits (killed after 30 s at most). */
function tail(args: string[], env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, [BIN, 'audit', 'tail', ...args], { cwd: repoRoot, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let announce: () => void;
  const ready = new Promise<void>((resolve) => (announce = resolve));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (/following audit events after id \d+/.test(stderr)) announce();
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const done = new Promise<Run>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      announce();
      resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr });
    }),
  );
  return { child, ready, done, stderr: () => stderr, stdout: () => stdout };
}

interface Event {
  eventId: string;
  type: string;
  actor?: string;
  clientId?: string;
  details?: Record<string, unknown>;
}
/** A confidential client_credentials client, as CreateClient takes it. */
const emptyConfidential = (clientId: string) => Client.fromPartial({ clientId, clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS] });
const events = (r: Run) => ((JSON.parse(r.stdout) as { events?: Event[] }).events ?? []);
const lines = (r: Run) => r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Event);

describe('authmesh audit against a running mesh', () => {
  let t: TestMesh;
  let env: Record<string, string>;

  beforeAll(async () => {
    [t] = await Promise.all([startTestMesh(), buildOnce()]);
    env = { AUTHMESH_ADDR: `127.0.0.1:${t.mesh.port}`, AUTHMESH_CLIENT_ID: t.config.adminClientId, AUTHMESH_CLIENT_SECRET: t.config.adminClientSecret! };
  });
  afterAll(async () => {
    await t?.close();
  });

  it('audit list shows a created client and a failed client authentication, with filters, paging and no secret', async () => {
    const created = await cli(['clients', 'create', '--id', 'audit-cli-a', '--type', 'confidential', '--grant', 'client_credentials', '--scope', 'a.read', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const secret = (JSON.parse(created.stdout) as { clientSecret: string }).clientSecret;
    const wrongSecret = 'not-the-secret-of-audit-cli-a-0123456789';
    const refused = await cli(['tokens', 'get', '--scope', 'a.read'], { ...env, AUTHMESH_CLIENT_ID: 'audit-cli-a', AUTHMESH_CLIENT_SECRET: wrongSecret });
    expect(refused.code).toBe(1);
    await t.mesh.flushAudit();

    const about = await cli(['audit', 'list', '--client', 'audit-cli-a', '--json'], env);
    expect(about.code, about.stderr).toBe(0);
    // Newest first: the failure came after the creation.
    expect(events(about).map((e) => e.type)).toEqual(['client.auth_failed', 'client.created']);
    expect(events(about)[1]).toMatchObject({ clientId: 'audit-cli-a', actor: t.config.adminClientId });
    for (const text of [secret, wrongSecret]) expect(about.stdout).not.toContain(text);

    // Type prefix, exact type, actor and since combine with the client filter.
    expect(events(await cli(['audit', 'list', '--client', 'audit-cli-a', '--type', 'client.auth_failed', '--json'], env)).map((e) => e.type)).toEqual(['client.auth_failed']);
    expect(events(await cli(['audit', 'list', '--client', 'audit-cli-a', '--type', 'client.', '--actor', t.config.adminClientId, '--json'], env)).map((e) => e.type)).toEqual(['client.created']);
    expect(events(await cli(['audit', 'list', '--client', 'audit-cli-a', '--type', 'login.', '--json'], env))).toEqual([]);
    expect(events(await cli(['audit', 'list', '--client', 'audit-cli-a', '--since', '1m', '--json'], env))).toHaveLength(2);
    expect(events(await cli(['audit', 'list', '--client', 'audit-cli-a', '--since', '2099-01-01T00:00:00Z', '--json'], env))).toEqual([]);

    // README's example: every client event of the last hour, as a table.
    const readme = await cli(['audit', 'list', '--type', 'client.', '--since', '1h'], env);
    expect(readme.code, readme.stderr).toBe(0);
    expect(readme.stdout).toMatch(/^\d+\s+\S+Z\s+client\.created\s+\S+\s+audit-cli-a\s/m);

    // The table, one page at a time.
    const page1 = await cli(['audit', 'list', '--client', 'audit-cli-a', '--page-size', '1'], env);
    expect(page1.code).toBe(0);
    const rows = page1.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^ID\s+TIME\s+TYPE\s+ACTOR\s+SUBJECT\s+CLIENT_ID\s+IP\s+DETAILS$/);
    expect(rows[1]).toMatch(/^\d+\s+\S+Z\s+client\.auth_failed\s+audit-cli-a\s+/);
    const next = /^\(more: --page-token (\S+)\)$/m.exec(page1.stdout)?.[1];
    expect(next, page1.stdout).toBeDefined();
    const page2 = await cli(['audit', 'list', '--client', 'audit-cli-a', '--page-size', '1', '--page-token', next!, '--json'], env);
    expect(events(page2).map((e) => e.type)).toEqual(['client.created']);
  });

  it('audit tail --limit prints exactly the events recorded after it started, oldest first, then exits 0', async () => {
    const id = 'audit-cli-tail';
    expect((await cli(['clients', 'create', '--id', id, '--type', 'confidential', '--grant', 'client_credentials'], env)).code).toBe(0);
    await t.mesh.flushAudit();
    const run = tail(['--client', id, '--limit', '2', '--interval', '0.2', '--json'], env);
    await run.ready;
    // Three events after the tail took its cursor: it prints the first two, none before.
    expect((await cli(['clients', 'update', id, '--name', 'Tail v2'], env)).code).toBe(0);
    expect((await cli(['clients', 'rotate-secret', id], env)).code).toBe(0);
    expect((await cli(['clients', 'delete', id], env)).code).toBe(0);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    const printed = lines(r);
    expect(printed.map((e) => e.type)).toEqual(['client.updated', 'client.secret_rotated']);
    expect(Number(printed[0]!.eventId)).toBeLessThan(Number(printed[1]!.eventId));
    expect(printed.every((e) => e.clientId === id)).toBe(true);
  });

  it('audit tail --since prints the earlier events of that window first', async () => {
    const id = 'audit-cli-since';
    expect((await cli(['clients', 'create', '--id', id, '--type', 'confidential', '--grant', 'client_credentials'], env)).code).toBe(0);
    await t.mesh.flushAudit();
    const r = await tail(['--client', id, '--since', '1h', '--limit', '1', '--json'], env).done;
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r).map((e) => e.type)).toEqual(['client.created']);
    // For people: one line per event, time and type first, then the fields present.
    const human = await tail(['--client', id, '--since', '1h', '--limit', '1'], env).done;
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^\\S+Z  client\\.created  id=\\d+  actor=${t.config.adminClientId}  client_id=${id}  \\{"clientType":"confidential".*\\}\n$`));
  });

  it("README's tail follows failed client authentications as JSON lines until SIGINT (exit 0)", async () => {
    const run = tail(['--type', 'client.auth_failed', '--json'], env);
    await run.ready;
    const refused = await cli(['tokens', 'get'], { ...env, AUTHMESH_CLIENT_SECRET: 'not-the-admin-secret-0123456789abcdef' });
    expect(refused.code).toBe(1);
    await t.mesh.flushAudit();
    // Bounded wait (20 s at most) for the event to be polled (default interval, 2 s).
    for (let i = 0; i < 200 && run.stdout() === ''; i++) await new Promise((r) => setTimeout(r, 100));
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    const printed = lines(r);
    expect(printed.length).toBeGreaterThan(0);
    // One event per failure: the client service records the client and the address it came from.
    expect(printed.every((e) => e.type === 'client.auth_failed')).toBe(true);
    expect(printed.some((e) => e.clientId === t.config.adminClientId)).toBe(true);
    expect(r.stdout).not.toContain('not-the-admin-secret');
  });

  it('audit tail ends with exit 0 on SIGINT', async () => {
    const run = tail(['--type', 'nothing.will.match', '--interval', '0.2'], env);
    await run.ready;
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('audit tail outlives a mesh that goes away: it says so once, keeps polling, and SIGINT still exits 0', async () => {
    const other = await startTestMesh();
    let closed = false;
    try {
      const run = tail(['--interval', '0.2'], { ...env, AUTHMESH_ADDR: `127.0.0.1:${other.mesh.port}`, AUTHMESH_CLIENT_ID: other.config.adminClientId, AUTHMESH_CLIENT_SECRET: other.config.adminClientSecret! });
      await run.ready;
      await other.close();
      closed = true;
      // Bounded wait (20 s at most) for the outage line.
      for (let i = 0; i < 200 && !/retrying every 0\.2 s/.test(run.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(run.stderr()).toMatch(/^authmesh: temporarily_unavailable: cannot reach the mesh at 127\.0\.0\.1:\d+: .*; retrying every 0\.2 s$/m);
      expect(run.child.exitCode).toBeNull();
      run.child.kill('SIGINT');
      const r = await run.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.match(/retrying/g)).toHaveLength(1);
    } finally {
      if (!closed) await other.close();
    }
  });

  it('audit tail gets a new token when the one it got by client_credentials stops being valid', async () => {
    // token.issued rows (AUTHMESH_AUDIT_SUCCESS=all) name the jti of the tail's own token.
    const other = await startTestMesh({ AUTHMESH_AUDIT_SUCCESS: 'all' });
    try {
      const adminId = other.config.adminClientId;
      const run = tail(['--client', 'renewed-audit', '--limit', '1', '--interval', '0.2', '--json'], {
        AUTHMESH_ADDR: `127.0.0.1:${other.mesh.port}`,
        AUTHMESH_CLIENT_ID: adminId,
        AUTHMESH_CLIENT_SECRET: other.config.adminClientSecret!,
      });
      await run.ready;
      const issued = (await other.store.audit.list({ type: 'token.issued', subject: adminId })).items;
      expect(issued.length).toBeGreaterThan(0);
      // RFC 7009 §2.2: revoked, the token is refused from then on (invalid_token).
      for (const e of issued) await other.mesh.deps.verifier.revoke({ jti: e.details.jti as string, exp: Math.ceil(Date.now() / 1000) + 3600 });
      await other.peers.client.createClient({ client: emptyConfidential('renewed-audit') }, { bearer: await other.bearer() });
      const r = await run.done;
      expect(r.code, r.stderr).toBe(0);
      expect(lines(r).map((e) => e.type)).toEqual(['client.created']);
      // It got a second token: one more token.issued for the admin client.
      expect((await other.store.audit.list({ type: 'token.issued', subject: adminId })).items.length).toBe(issued.length + 1);
    } finally {
      await other.close();
    }
  });

  it('refuses bad flags before sending (exit 2), bad filters at the server (exit 1), and a token without an admin scope', async () => {
    for (const args of [
      ['audit', 'tail', '--interval', '0'],
      ['audit', 'tail', '--interval', '61'],
      ['audit', 'tail', '--limit', '0'],
      ['audit', 'list', '--since', 'yesterday'],
      ['audit', 'list', '--page-size', '501'],
    ]) {
      const r = await cli(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^authmesh: invalid_request: \S/);
    }
    const tooLong = await cli(['audit', 'list', '--actor', 'x'.repeat(256)], env);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toMatch(/^authmesh: invalid_request: actor must be at most 255 characters/);

    const weak = await cli(['audit', 'list'], { AUTHMESH_ADDR: env.AUTHMESH_ADDR, AUTHMESH_TOKEN: await t.bearer({ scope: ['openid'] }) });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/^authmesh: insufficient_scope: /);
    const reader = await cli(['audit', 'list', '--json'], { AUTHMESH_ADDR: env.AUTHMESH_ADDR, AUTHMESH_TOKEN: await t.bearer({ scope: ['authmesh.read'] }) });
    expect(reader.code, reader.stderr).toBe(0);
  });
});
