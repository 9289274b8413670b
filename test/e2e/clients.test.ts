// The contracts consumed from other languages: the Go and Python examples in clients/, built on
// the stubs `scripts/clients.sh gen` generates with buf, run against a real mesh and must print
// what a user expects: a token, the admin listing, Envoy's Check decisions, and the ErrorInfo
// reason of a failed call. Needs `scripts/clients.sh install gen` first (.ci/run does it).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client as ClientMsg, ClientType, GrantType } from '../../gen/ts/authmesh/client/v1/client.js';
import { repoRoot } from '../../services/core/rpc/index.js';
import { startTestMesh, type TestMesh } from '../support/mesh.js';

const script = join(repoRoot, 'scripts', 'clients.sh');
const needed = ['clients/go/gen', 'clients/python/gen', '.tools/venv/bin/python'];
const missing = needed.filter((p) => !existsSync(join(repoRoot, p)));
const required = process.env.AUTHMESH_REQUIRE_STACK === '1';
const skipReason = `generated clients missing (${missing.join(', ')}): run scripts/clients.sh install gen`;
if (missing.length > 0 && !required) console.warn(`clients.test.ts skipped: ${skipReason}`);

// The first Go build compiles grpc and go-control-plane (and may download modules): generous,
// but bounded.
const RUN_TIMEOUT_MS = 240_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program asynchronously: the mesh serves from this same process. */
function runIn(cwd: string, file: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: { ...process.env, ...env }, timeout: RUN_TIMEOUT_MS, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
const run = (command: string, env: Record<string, string>) => runIn(repoRoot, script, [command], env);

/** README's snippets are these files from their first code line on, verbatim. */
const quickstarts = {
  go: {
    file: 'clients/go/cmd/quickstart/main.go',
    from: 'package main',
    fence: '```go',
    run: (env: Record<string, string>) =>
      runIn(join(repoRoot, 'clients', 'go'), 'go', ['run', './cmd/quickstart'], {
        GOTOOLCHAIN: 'local',
        GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly`.trim(),
        ...env,
      }),
  },
  python: {
    file: 'clients/python/quickstart.py',
    from: 'import os',
    fence: '```python',
    run: (env: Record<string, string>) =>
      runIn(repoRoot, join(repoRoot, '.tools', 'venv', 'bin', 'python'), ['clients/python/quickstart.py'], {
        PYTHONPATH: join(repoRoot, 'clients', 'python', 'gen'),
        PYTHONDONTWRITEBYTECODE: '1',
        ...env,
      }),
  },
};

describe.skipIf(missing.length > 0 && !required)('generated clients (Go, Python) against the mesh', () => {
  let t: TestMesh;
  let env: Record<string, string>;

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`AUTHMESH_REQUIRE_STACK=1 but ${skipReason}`);
    t = await startTestMesh();
    env = {
      AUTHMESH_ADDR: `127.0.0.1:${t.mesh.port}`,
      AUTHMESH_CLIENT_ID: t.config.adminClientId,
      AUTHMESH_CLIENT_SECRET: t.config.adminClientSecret!,
    };
    // Two more clients beside the two every mesh creates at first start (the admin client and the
    // console's), so "clients: 4" proves the listing came from this mesh's registry.
    const admin = await t.bearer();
    for (const name of ['orders', 'billing']) {
      await t.anon.client.createClient(
        {
          client: ClientMsg.fromPartial({
            clientId: `clients-e2e-${name}`,
            clientName: name,
            clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
            grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
            scopes: [`${name}.read`],
          }),
        },
        { bearer: admin },
      );
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  for (const lang of ['go', 'python'] as const) {
    describe(lang, () => {
      it(
        'gets a token, lists clients, asks Check, and reads an ErrorInfo reason',
        async () => {
          const r = await run(`run-${lang}`, env);
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
          const lines = r.stdout.trim().split('\n');
          expect(lines).toEqual([
            `token: ok (expires_in=${t.config.accessTokenTtlSeconds})`,
            'clients: 4',
            'check authmesh.admin: allowed',
            'check billing.write: denied 403',
            expect.stringMatching(/^error reason: INVALID_CLIENT \(code (Unauthenticated|UNAUTHENTICATED)\)$/),
          ]);
        },
        RUN_TIMEOUT_MS + 10_000,
      );

      it(
        'exits non-zero and says why when its own credentials are wrong',
        async () => {
          const r = await run(`run-${lang}`, { ...env, AUTHMESH_CLIENT_SECRET: 'wrong-secret' });
          expect(r.code).not.toBe(0);
          expect(r.stdout).not.toContain('token: ok');
          expect(r.stderr).toMatch(/error: .*(Unauthenticated|UNAUTHENTICATED)/);
        },
        RUN_TIMEOUT_MS + 10_000,
      );

      it(
        "README's snippet is the quickstart and works as written",
        async () => {
          const q = quickstarts[lang];
          const source = readFileSync(join(repoRoot, q.file), 'utf8');
          const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
          expect(readme).toContain(`${q.fence}\n${source.slice(source.indexOf(q.from))}\`\`\``);

          const ok = await q.run(env);
          expect(ok.code, `${ok.stdout}\n${ok.stderr}`).toBe(0);
          expect(ok.stdout.trim()).toBe('clients: 4');
          const bad = await q.run({ ...env, AUTHMESH_CLIENT_SECRET: 'wrong-secret' });
          expect(bad.code).not.toBe(0);
          expect(bad.stderr).toContain('token: INVALID_CLIENT');
        },
        RUN_TIMEOUT_MS + 10_000,
      );
    });
  }
});
