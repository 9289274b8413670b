// authmesh embedded, as production runs it: the compiled JavaScript (`npm run build`, then `node
// --enable-source-maps dist/services/main.js`, what `npm start` execs after building and the
// Dockerfile's command), one process, all seven services and the gateway in it, the in-process
// grid and the embedded store in a fresh data directory.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../test/support/ports.js';
import { authmeshLoads } from './authmesh-loads.js';
import { repoRoot, startServer } from './processes.js';
import type { Target } from './target.js';

export interface EmbeddedOptions {
  /** An existing data directory (e.g. seeded by bench:scale); default a fresh temporary one, removed on stop. */
  dataDir?: string;
  /** Extra AUTHMESH_* variables. */
  env?: Record<string, string>;
  label?: string;
  /** Which side of the rows this instance is (bench:scale runs a seeded and an empty one). */
  side?: 'authmesh' | 'empty';
  /** How to run authmesh (after the build); default `node` with {@link COMPILED_MAIN}, as `npm start` does (bench:profile adds --cpu-prof). */
  command?: { file: string; args: string[] };
  /** How long stop() waits for a clean exit, ms (a CPU profile is written on exit). */
  stopGraceMs?: number;
}

/** node's arguments for the compiled entry point, as `npm start` and the Dockerfile run it. */
export const COMPILED_MAIN = ['--enable-source-maps', 'dist/services/main.js'];

/** `npm run build`: compiles what production runs into dist/ (writes only what changed). */
export async function buildDist(): Promise<void> {
  await promisify(execFile)(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot });
}

/** Starts authmesh embedded on free loopback ports and prepares its loads. */
export async function startAuthmeshEmbedded(options: EmbeddedOptions = {}): Promise<Target> {
  await buildDist();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'authmesh-bench-'));
  const adminClientSecret = randomBytes(32).toString('base64url');
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const { server } = await startServer(
    'authmesh',
    options.command?.file ?? process.execPath,
    options.command?.args ?? COMPILED_MAIN,
    {
      AUTHMESH_DATA_DIR: dataDir,
      AUTHMESH_HTTP_PORT: String(httpPort),
      AUTHMESH_GRPC_PORT: String(grpcPort),
      AUTHMESH_METRICS_PORT: '0',
      AUTHMESH_ADMIN_CLIENT_SECRET: adminClientSecret,
      AUTHMESH_LOG_LEVEL: 'warn',
      // The refresh row gets its refresh tokens from password grants of a trusted client.
      AUTHMESH_PASSWORD_GRANT: 'true',
      ...options.env,
    },
    /HTTP on http:\/\/\S+/,
    120_000,
  );
  try {
    const at = await authmeshLoads({
      http: `http://127.0.0.1:${httpPort}`,
      tokenGrpc: `127.0.0.1:${grpcPort}`,
      checkGrpc: `127.0.0.1:${grpcPort}`,
      adminClientId: 'authmesh-admin',
      adminClientSecret,
    });
    return {
      side: options.side ?? 'authmesh',
      label: options.label ?? 'authmesh (embedded, node dist/services/main.js)',
      http: `http://127.0.0.1:${httpPort}`,
      loads: at.loads,
      pids: () => [server.pid],
      async stop() {
        at.close();
        await server.stop(options.stopGraceMs);
        if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server.stop();
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
