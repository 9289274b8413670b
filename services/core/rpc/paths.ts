import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Repository root, found from this file's location: services/core/rpc when run from source
 * (tsx, vitest), dist/services/core/rpc when run compiled (`npm run build`, scripts/build.mjs,
 * keeps the source layout under dist/). Files that are not compiled (db/ migrations,
 * build/descriptor.binpb) are found from here, so both trees read the same ones.
 */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), ...(import.meta.url.endsWith('.js') ? ['..', '..', '..', '..'] : ['..', '..', '..']));

/** The FileDescriptorSet buf builds (`npm run gen`): reflection and Envoy's transcoder use it. */
export function descriptorSetPath(): string {
  const p = process.env.AUTHMESH_DESCRIPTOR_SET ?? join(repoRoot, 'build', 'descriptor.binpb');
  if (!existsSync(p)) throw new Error(`descriptor set not found at ${p}: run \`npm run gen\``);
  return p;
}
