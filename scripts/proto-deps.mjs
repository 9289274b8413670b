// Copies the third-party .proto files authmesh imports (googleapis, Envoy ext_authz and its import
// closure) from the npm package @grpc/grpc-js-xds into build/proto-deps, which is git-ignored.
// Only the transitive closure of what we import is copied, line endings normalised to LF.
// google/protobuf/* well-known types are built into buf and are not copied.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const xds = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const searchRoots = ['googleapis', 'envoy-api', 'xds', 'protoc-gen-validate'].map((d) => join(xds, 'deps', d));
const out = join(root, 'build', 'proto-deps');

// What authmesh's own protos import, directly or for their runtime (status details).
const wanted = [
  'google/api/annotations.proto',
  'google/api/field_behavior.proto',
  'google/api/httpbody.proto',
  'google/rpc/status.proto',
  'google/rpc/code.proto',
  'google/rpc/error_details.proto',
  'envoy/service/auth/v3/external_auth.proto',
];

function locate(file) {
  for (const r of searchRoots) {
    const p = join(r, file);
    if (existsSync(p)) return p;
  }
  throw new Error(`proto-deps: ${file} not found in @grpc/grpc-js-xds/deps`);
}

rmSync(out, { recursive: true, force: true });
const seen = new Set();
const queue = [...wanted];
while (queue.length > 0) {
  const file = queue.shift();
  if (seen.has(file) || file.startsWith('google/protobuf/')) continue;
  seen.add(file);
  const text = readFileSync(locate(file), 'utf8').replace(/\r\n/g, '\n');
  for (const m of text.matchAll(/^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)) queue.push(m[1]);
  const dest = join(out, file);
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, text);
}
// The health and reflection services every server hosts: in the descriptor set too, so server
// reflection can describe them like our own services.
const extra = [
  ['grpc-health-check', 'proto/health/v1/health.proto', 'grpc/health/v1/health.proto'],
  ['@grpc/reflection', 'build/proto/grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1/reflection.proto'],
  ['@grpc/reflection', 'build/proto/grpc/reflection/v1alpha/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'],
];
for (const [pkg, from, to] of extra) {
  const src = join(dirname(require.resolve(`${pkg}/package.json`)), from);
  const dest = join(out, to);
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, readFileSync(src, 'utf8').replace(/\r\n/g, '\n'));
}
console.log(`proto-deps: ${seen.size + extra.length} files from @grpc/grpc-js-xds, grpc-health-check and @grpc/reflection into build/proto-deps`);
