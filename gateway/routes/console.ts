// The admin console (console/, built into dist/console/ by scripts/build-console.mjs), served
// under /console: index.html for the page and its OAuth callback, and the content-hashed bundle.
//
// Only names of the form <name>-<hash>.<js|css|svg> directly in the console's folder are served: the
// name is checked against that pattern before any file system access, so no request can reach
// another file (no "..", no "/", no "%2f", no NUL). The few files are read once and kept.
// The page's CSP allows nothing but this origin: no inline script or style, no frames around it.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyReply } from 'fastify';
import { repoRoot } from '../../services/core/rpc/paths.js';
import type { GatewayContext, RouteModule } from '../gateway.js';

/** Where `npm run build` puts the console (scripts/build-console.mjs, consoleOutDir). */
export const CONSOLE_DIR = join(repoRoot, 'dist', 'console');

/** A built asset: esbuild's `[name]-[hash]` entry names, JavaScript or CSS, and the page's SVG icon; nothing else. */
const ASSET = /^[a-z][a-z0-9]{0,31}-[A-Z0-9]{8,16}\.(js|css|svg)$/;
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };

/**
 * The console page's Content-Security-Policy: scripts, styles, images and API calls from this
 * origin only, no plugins, no <base>, not framed (clickjacking), forms only to this origin.
 */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Headers on every console response. */
function secure(reply: FastifyReply) {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    // The callback URL carries the authorization code: never sent on in a Referer.
    .header('referrer-policy', 'no-referrer');
}

/**
 * The route module serving the console from `dir` (default CONSOLE_DIR).
 * GET /console, /console/, /console/callback: index.html, `Cache-Control: no-cache` (it names the
 * current bundle). GET /console/<name>-<hash>.js|css|svg: the asset (the svg is the page's icon), cached a year, immutable.
 * Anything else under /console/: 404. A console that was never built: 503 saying how to build it.
 */
export function consoleRoutesFrom(dir: string): RouteModule {
  return ({ app }: GatewayContext) => {
    const cache = new Map<string, Buffer>();
    async function load(name: string): Promise<Buffer | undefined> {
      const hit = cache.get(name);
      if (hit) return hit;
      let body: Buffer;
      try {
        body = await readFile(join(dir, name));
      } catch {
        return undefined;
      }
      // index.html changes with every build; the hashed assets never do.
      if (name !== 'index.html') cache.set(name, body);
      return body;
    }

    const page = async (_req: unknown, reply: FastifyReply) => {
      const body = await load('index.html');
      secure(reply);
      if (!body) {
        return reply
          .code(503)
          .header('cache-control', 'no-store')
          .type('application/json')
          .send({ error: 'temporarily_unavailable', error_description: 'the console is not built: run `npm run build` (or `npm start`)' });
      }
      return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(body);
    };
    for (const url of ['/console', '/console/', '/console/callback']) app.get(url, page);

    app.get<{ Params: { file: string } }>('/console/:file', async (req, reply) => {
      const name = req.params.file;
      const match = ASSET.exec(name);
      const body = match ? await load(name) : undefined;
      secure(reply);
      if (!match || !body) return reply.code(404).header('cache-control', 'no-store').type('application/json').send({ error: 'not_found', error_description: 'no such console file' });
      return reply.header('cache-control', 'public, max-age=31536000, immutable').type(TYPES[match[1]!]!).send(body);
    });
  };
}

/** The console's built icon (scripts/build-console.mjs): favicon-<hash>.svg. */
const ICON = /^favicon-[A-Z2-7]{8}\.svg$/;

/**
 * GET /favicon.ico for every page of this origin (the login and consent pages name no icon, so
 * browsers ask for it): the console's SVG icon, as image/svg+xml, cached a day (its content changes
 * with a build, its URL does not). No built console: 404.
 */
export function faviconRouteFrom(dir: string): RouteModule {
  return ({ app }: GatewayContext) => {
    let icon: Buffer | undefined;
    app.get('/favicon.ico', async (_req, reply) => {
      if (icon === undefined) {
        try {
          const name = (await readdir(dir)).find((n) => ICON.test(n));
          if (name !== undefined) icon = await readFile(join(dir, name));
        } catch {
          icon = undefined;
        }
      }
      secure(reply);
      if (icon === undefined) return reply.code(404).header('cache-control', 'no-store').type('application/json').send({ error: 'not_found', error_description: 'no icon: the console is not built' });
      return reply.header('cache-control', 'public, max-age=86400').type('image/svg+xml').send(icon);
    });
  };
}

export const consoleRoutes: RouteModule = async (ctx) => {
  await consoleRoutesFrom(CONSOLE_DIR)(ctx);
  await faviconRouteFrom(CONSOLE_DIR)(ctx);
};
