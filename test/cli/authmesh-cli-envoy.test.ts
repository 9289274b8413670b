// The `authmesh` tool through a real Envoy edge, as a stack's operator runs it after
// `eval "$(scripts/stack.sh env)"` (AUTHMESH_ADDR is then Envoy's address): the token RPC and the
// admin RPCs go through Envoy's per-service gRPC routes.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/rpc/index.js';
import { envoySkipReason, startEnvoyStack, type EnvoyStack } from '../support/envoy.js';
import { buildOnce } from '../support/processes.js';

const skip = envoySkipReason();

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHMESH_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'dist', 'cli', 'authmesh.js'), ...args], { cwd: repoRoot, env: { ...clean, ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(skip !== undefined)(`authmesh CLI through Envoy${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let s: EnvoyStack;
  let env: Record<string, string>;

  beforeAll(async () => {
    [s] = await Promise.all([startEnvoyStack(), buildOnce()]);
    env = { AUTHMESH_ADDR: `127.0.0.1:${s.envoyPort}`, AUTHMESH_CLIENT_ID: s.gateway.config.adminClientId, AUTHMESH_CLIENT_SECRET: s.gateway.config.adminClientSecret! };
  });
  afterAll(async () => {
    await s?.close();
  });

  it('gets its token and lists clients, keys and services through the edge', async () => {
    const clients = await cli(['clients', 'list', '--json'], env);
    expect(clients.code, clients.stderr).toBe(0);
    expect(JSON.parse(clients.stdout).clients).toContainEqual(expect.objectContaining({ clientId: s.gateway.config.adminClientId }));
    const keys = await cli(['keys', 'list'], env);
    expect(keys.code, keys.stderr).toBe(0);
    expect(keys.stdout).toMatch(/\sactive\s/);
    const services = await cli(['services', 'list', '--json'], env);
    expect(services.code, services.stderr).toBe(0);
  });

  it('reads the audit trail through the edge (Envoy routes AuditService to the client service)', async () => {
    const refused = await cli(['clients', 'list'], { ...env, AUTHMESH_CLIENT_SECRET: 'wrong-secret-wrong-secret-wrong-secret' });
    expect(refused.code).toBe(1);
    await s.gateway.mesh.flushAudit();
    const r = await cli(['audit', 'list', '--type', 'client.auth_failed', '--client', s.gateway.config.adminClientId, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const events = JSON.parse(r.stdout).events as { type: string; clientId: string }[];
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.type === 'client.auth_failed' && e.clientId === s.gateway.config.adminClientId)).toBe(true);
    expect(r.stdout).not.toContain('wrong-secret-wrong-secret-wrong-secret');
  });

  it('a refusal through the edge is still exit 1 with its RFC error code', async () => {
    const r = await cli(['clients', 'list'], { ...env, AUTHMESH_CLIENT_SECRET: 'wrong-secret-wrong-secret-wrong-secret' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^authmesh: invalid_client: /);
  });
});
