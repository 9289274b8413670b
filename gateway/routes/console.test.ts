// The console's static serving (console.ts): headers, cache policy, and no file outside the
// console's folder reachable by any spelling of a path.
import Fastify, { type FastifyInstance } from 'fastify';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/rpc/paths.js';
import type { GatewayContext } from '../gateway.js';
import { CONSOLE_CSP, CONSOLE_DIR, consoleRoutesFrom, faviconRouteFrom } from './console.js';

const INDEX = '<!doctype html><title>console</title><script type="module" src="/console/console-ABCD2345.js"></script>';
const SCRIPT = 'console.log("bundle")';
const OUTSIDE = 'TOP-SECRET-OUTSIDE-THE-CONSOLE';

async function serve(dir: string): Promise<FastifyInstance> {
  const app = Fastify();
  // The route module reads only `app` of the gateway context.
  await consoleRoutesFrom(dir)({ app } as unknown as GatewayContext);
  await app.ready();
  return app;
}

describe('console static files', () => {
  let root: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'authmesh-console-'));
    const dir = join(root, 'console');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'console-ABCD2345.js'), SCRIPT);
    writeFileSync(join(dir, 'notes.txt'), OUTSIDE);
    // Files beside the console's folder, named like assets: reachable only by traversal.
    writeFileSync(join(root, 'console-SECRET22.js'), OUTSIDE);
    writeFileSync(join(root, 'secret.txt'), OUTSIDE);
    app = await serve(dir);
  });
  afterAll(async () => {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  });

  it.each(['/console', '/console/', '/console/callback', '/console/callback?code=x&state=y'])('serves the page at %s, never cached stale, under a strict CSP', async (url) => {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(INDEX);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toBe(CONSOLE_CSP);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('serves a hashed asset as immutable for a year', async () => {
    const res = await app.inject({ method: 'GET', url: '/console/console-ABCD2345.js' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(SCRIPT);
    expect(res.headers['content-type']).toMatch(/^text\/javascript/);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it.each([
    '/console/..%2fconsole-SECRET22.js',
    '/console/..%2Fsecret.txt',
    '/console/%2e%2e%2fconsole-SECRET22.js',
    '/console/..%5cconsole-SECRET22.js',
    '/console/../console-SECRET22.js',
    '/console/notes.txt',
    '/console/index.html',
    '/console/console-ABCD2345.js%00.txt',
    '/console/console-abcd2345.js.map',
    '/console/%2fetc%2fpasswd',
  ])('console_path_traversal: %s reaches no file outside the assets', async (url) => {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain(OUTSIDE);
  });

  it('answers 503 with how to build when the console was never built', async () => {
    const empty = await serve(join(root, 'missing'));
    const res = await empty.inject({ method: 'GET', url: '/console/' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build');
    await empty.close();
  });
});

describe('the built console (scripts/build-console.mjs)', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build-console.mjs'), '--quiet'], { cwd: repoRoot, stdio: 'inherit' });
  });

  it('has no inline script or style, loads nothing from another origin, and every asset it names is served', async () => {
    const html = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8');
    // The CSP has no 'unsafe-inline': an inline script or style would be blocked.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(2);
    const app = await serve(CONSOLE_DIR);
    for (const ref of refs) {
      expect(ref).toMatch(/^\/console\/[a-z]+-[A-Z0-9]+\.(js|css|svg)$/);
      const res = await app.inject({ method: 'GET', url: ref });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toContain('immutable');
    }
    await app.close();
    // No CDN, no web font, no tracker: the bundle names no other origin to load from.
    for (const name of readdirSync(CONSOLE_DIR).filter((n) => n.endsWith('.css'))) {
      expect(readFileSync(join(CONSOLE_DIR, name), 'utf8')).not.toMatch(/url\(|@import|https?:/);
    }
  });

  it('console_favicon: the page names its own icon, served from this origin under the CSP, so the browser asks no /favicon.ico', async () => {
    const html = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8');
    const icon = /<link rel="icon" type="image\/svg\+xml" href="(\/console\/favicon-[A-Z2-7]{8}\.svg)">/.exec(html)?.[1];
    expect(icon).toBeDefined();
    const app = await serve(CONSOLE_DIR);
    const res = await app.inject({ method: 'GET', url: icon! });
    await app.close();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/svg+xml');
    expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    // A plain drawing: no script, no link or reference to load anything else.
    expect(res.body).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(res.body).not.toMatch(/<script|href=|url\(|\son[a-z]+=/i);
  });

  it('console_favicon: /favicon.ico (asked by the pages that name no icon) is the console\'s icon, not a 404', async () => {
    const app = Fastify();
    await faviconRouteFrom(CONSOLE_DIR)({ app } as unknown as GatewayContext);
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/favicon.ico' });
    await app.close();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/svg+xml');
    expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(res.body).toBe(readFileSync(join(repoRoot, 'console', 'favicon.svg'), 'utf8'));
  });
});
