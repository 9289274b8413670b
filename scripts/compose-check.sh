#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: against the compose-spec JSON schema that
# check-jsonschema vendors (installed by scripts/envoy.sh install into .tools/envoy-venv), then
# checks that it stays in step with the local stack: the same Envoy template renders with the
# compose environment, and every file it mounts or runs exists in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK=.tools/envoy-venv/bin/check-jsonschema
[ -x "$CHECK" ] || { echo "check-jsonschema is not installed: run scripts/envoy.sh install" >&2; exit 1; }
"$CHECK" --builtin-schema vendor.compose-spec docker-compose.yml
for f in envoy/envoy.yaml hazelcast/hazelcast.xml scripts/envoy-render.mjs scripts/grpc-health.mjs Dockerfile; do
  grep -q "$(basename "$f")" docker-compose.yml Dockerfile || { echo "docker-compose.yml no longer refers to $f" >&2; exit 1; }
  [ -e "$f" ] || { echo "$f, used by docker-compose.yml, is missing" >&2; exit 1; }
done
# The image runs compiled JavaScript (scripts/build.mjs writes dist/, which is not in the
# repository): the compose file and the Dockerfile name the .js, the repository holds its .ts.
for js in dist/services/main.js dist/test/sample-api/server.js; do
  grep -q "\"$js\"" docker-compose.yml Dockerfile || { echo "docker-compose.yml and Dockerfile no longer run $js" >&2; exit 1; }
  ts="${js#dist/}"
  ts="${ts%.js}.ts"
  [ -e "$ts" ] || { echo "$ts, compiled to $js for the image, is missing" >&2; exit 1; }
done
# Production runs no TypeScript loader (comments aside): the final image has no dev dependencies.
if grep -n 'tsx' Dockerfile docker-compose.yml | grep -v ':[0-9]*:[[:space:]]*#' >&2; then echo "Dockerfile or docker-compose.yml runs tsx (a dev dependency, not in the image)" >&2; exit 1; fi
# Render envoy/envoy.yaml with the envoy-config service's environment, as compose would.
node -e '
  const fs = require("node:fs");
  const text = fs.readFileSync("docker-compose.yml", "utf8");
  const block = text.split("\n  envoy-config:\n")[1].split("\n    volumes:")[0];
  const env = {};
  for (const m of block.matchAll(/^      (AUTHMESH_[A-Z_]+): (.*)$/gm)) {
    const v = m[2].replace(/^"|"$/g, "");
    const d = /^\$\{[A-Z_]+:[?-]([^}]*)\}$/.exec(v);
    env[m[1]] = d ? (v.includes(":?") ? "https://auth.example.com" : d[1]) : v;
  }
  process.stdout.write(Object.entries(env).map(([k, v]) => `${k}=${v}`).join("\n"));
' > /tmp/authmesh-compose-envoy.env
(
  set -a
  # shellcheck disable=SC1091
  . /tmp/authmesh-compose-envoy.env
  set +a
  node scripts/envoy-render.mjs envoy/envoy.yaml >/dev/null
)
rm -f /tmp/authmesh-compose-envoy.env
echo "docker-compose.yml OK (compose-spec schema; envoy/envoy.yaml renders with its environment)"
