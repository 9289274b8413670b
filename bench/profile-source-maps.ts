// A CPU profile of the compiled server (dist/, scripts/build.mjs) names .js files and their lines;
// the source maps next to them (linked, written by the build) turn each frame back into the .ts
// file and line it came from, so bench:profile's tables read like the source tree. Frames without
// a map (node internals, packages, dist/gen, which is built without maps) stay as they are.
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Profile } from './cpu-profile-top.js';

/**
 * Rewrites, in place, every call frame of `profile` whose script has a `<script>.map` next to it to
 * the original source's file URL and its 0-based line/column (V8's convention, as in the profile).
 * @returns how many frames were mapped
 */
export function mapProfileToSources(profile: Profile): number {
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (url: string): SourceMap | undefined => {
    if (!maps.has(url)) {
      let map: SourceMap | undefined;
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
      } catch {
        map = undefined;
      }
      maps.set(url, map);
    }
    return maps.get(url);
  };
  let mapped = 0;
  for (const { callFrame: f } of profile.nodes) {
    if (!f.url.startsWith('file://') || !f.url.endsWith('.js')) continue;
    const map = mapOf(f.url);
    if (!map) continue;
    const entry = map.findEntry(f.lineNumber, f.columnNumber ?? 0) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (entry.originalSource === undefined || entry.originalLine === undefined) continue;
    f.url = new URL(entry.originalSource, f.url).href;
    f.lineNumber = entry.originalLine;
    f.columnNumber = entry.originalColumn ?? 0;
    mapped++;
  }
  return mapped;
}
