import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, found from this file's location (services/core/rpc). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The FileDescriptorSet buf builds (`npm run gen`): reflection and Envoy's transcoder use it. */
export function descriptorSetPath(): string {
  const p = process.env.AUTHMESH_DESCRIPTOR_SET ?? join(repoRoot, 'build', 'descriptor.binpb');
  if (!existsSync(p)) throw new Error(`descriptor set not found at ${p}: run \`npm run gen\``);
  return p;
}
