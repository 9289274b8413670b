// Every shell command README.md shows is run by some test or by CI, and this file says which:
// a command added to README without a test, or a test's evidence that went away, fails here with
// the list. Commands nothing runs yet are listed (printed) with the reason, so they stay visible.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../services/core/rpc/index.js';
import { normalize, readmeShCommands } from './support/readme.js';

type Coverage =
  /** The file contains the command word for word (each `;`-separated part of it). */
  | { by: string; kind: 'verbatim' }
  /** The file reads the command out of README.md (test/support/readme.ts) and runs it as written. */
  | { by: string; kind: 'extracted' }
  /** The file runs the same program with the same arguments in its own words; `evidence` is what it contains. */
  | { by: string; kind: 'equivalent'; evidence: string }
  /** Nothing runs it yet; why, and who owns it. */
  | { kind: 'uncovered'; reason: string };

const FRESH_CLONE = 'test/e2e/readme-fresh-clone.test.ts';
const ENVOY_EDGE = 'test/e2e/readme-envoy-embedded.test.ts';
/** README regions whose every command a test extracts and runs as written: region name → that test. */
const REGIONS: Record<string, string> = {
  'stack-readme-test': 'test/e2e/stack-readme.test.ts',
  'oidc-rp-readme-test': 'test/e2e/oidc-rp.test.ts',
};

/** README command (as `normalize` gives it) → what runs it. */
const COVERAGE: Record<string, Coverage> = {
  'npm ci': { by: FRESH_CLONE, kind: 'extracted' },
  'npm start': { by: FRESH_CLONE, kind: 'extracted' },
  'npm test': { by: '.ci/run', kind: 'verbatim' },
  'scripts/postgres.sh up; scripts/mariadb.sh up; scripts/hazelcast.sh up': { by: '.ci/run', kind: 'verbatim' },
  'scripts/envoy.sh install; scripts/clients.sh install gen vet; scripts/k8s.sh install': { by: '.ci/run', kind: 'verbatim' },
  'scripts/prometheus.sh install; scripts/browser.sh install; scripts/otlp-protos.sh install': { by: '.ci/run', kind: 'verbatim' },
  'export AUTHMESH_TEST_POSTGRES_URL=$(scripts/postgres.sh url) AUTHMESH_TEST_MYSQL_URL=$(scripts/mariadb.sh url) AUTHMESH_TEST_HAZELCAST_MEMBERS=$(scripts/hazelcast.sh members) AUTHMESH_REQUIRE_STACK=1':
    { by: '.ci/run', kind: 'equivalent', evidence: 'AUTHMESH_TEST_POSTGRES_URL="$(scripts/postgres.sh url)"' },
  "AUTHMESH_BENCH_SMOKE=1 npx vitest run --project main test/bench/bench-harness.test.ts -t 'smoke profile'": { by: '.ci/run', kind: 'verbatim' },
  'AUTHMESH_STACK_GROUPS=token+client+key scripts/stack.sh up': { by: 'test/e2e/stack-groups.test.ts', kind: 'equivalent', evidence: "AUTHMESH_STACK_GROUPS: 'token+client+key'" },
  'AUTHMESH_TEST_STORE=postgres AUTHMESH_TEST_GRID=hazelcast AUTHMESH_TEST_PEER_TRANSPORT=grpc npx vitest run --project main services gateway': { by: '.ci/run', kind: 'verbatim' },
  "curl -s -u 'authmesh-admin:<secret>' -d grant_type=client_credentials -d scope=authmesh.admin http://127.0.0.1:8080/oauth2/token": {
    by: FRESH_CLONE,
    kind: 'extracted',
  },
  'curl -s -H "authorization: Bearer <access_token>" -H \'content-type: application/json\' -d \'{}\' http://127.0.0.1:8080/authmesh.client.v1.ClientService/ListClients': {
    by: FRESH_CLONE,
    kind: 'extracted',
  },
  'npx buf curl --protocol grpc --http2-prior-knowledge -H "authorization: Bearer <access_token>" http://127.0.0.1:50051/authmesh.client.v1.ClientService/ListClients': {
    by: FRESH_CLONE,
    kind: 'extracted',
  },
  'npx buf curl --protocol grpc --http2-prior-knowledge -d \'{"client":{"client_secret":{"client_id":"authmesh-admin","client_secret":"<secret>","method":"TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC"}},"client_credentials":{"scope":"authmesh.admin"}}\' http://127.0.0.1:50051/authmesh.token.v1.TokenService/Token':
    { by: FRESH_CLONE, kind: 'extracted' },
  "echo 'a password of 12 or more characters' | npm run -s authmesh -- users create alice --admin --password-stdin": {
    by: 'test/cli/authmesh-cli.test.ts',
    kind: 'equivalent',
    evidence: "'users', 'create', 'cli-root', '--role', 'auditor', '--admin', '--password-stdin'",
  },
  'scripts/clients.sh install gen': { by: '.ci/run', kind: 'equivalent', evidence: 'scripts/clients.sh install gen vet' },
  'scripts/clients.sh vet': { by: '.ci/run', kind: 'equivalent', evidence: 'scripts/clients.sh install gen vet' },
  'PATH="$PWD/.tools/bin:$PATH" npx buf generate --template buf.gen.go.yaml': {
    kind: 'uncovered',
    reason: 'the by-hand alternative to `scripts/clients.sh gen`, which runs buf generate with the same template (CI runs that)',
  },
  'npx buf generate --template buf.gen.python.yaml': {
    kind: 'uncovered',
    reason: 'the by-hand alternative to `scripts/clients.sh gen`, which runs buf generate with the same template (CI runs that)',
  },
  'export AUTHMESH_ADDR=127.0.0.1:50051 AUTHMESH_CLIENT_ID=authmesh-admin AUTHMESH_CLIENT_SECRET=<secret>': {
    by: 'test/e2e/clients.test.ts',
    kind: 'equivalent',
    evidence: 'AUTHMESH_CLIENT_SECRET: t.config.adminClientSecret',
  },
  'npm run -s authmesh -- audit list --type client. --since 1h': { by: 'test/cli/authmesh-cli-audit.test.ts', kind: 'equivalent', evidence: "['audit', 'list', '--type', 'client.', '--since', '1h']" },
  'npm run -s authmesh -- audit tail --type client.auth_failed --json': { by: 'test/cli/authmesh-cli-audit.test.ts', kind: 'equivalent', evidence: "tail(['--type', 'client.auth_failed', '--json']" },
  'scripts/clients.sh run-go': { by: 'test/e2e/clients.test.ts', kind: 'equivalent', evidence: 'run(`run-${lang}`, env)' },
  "npm run -s authmesh -- clients create --id my-tv --name 'My TV' --type public --auth-method none --grant device_code --grant refresh_token --scope 'openid offline_access'": {
    by: 'test/cli/authmesh-cli.test.ts',
    kind: 'equivalent',
    evidence: "['clients', 'create', '--id', 'my-tv', '--name', 'My TV', '--type', 'public', '--auth-method', 'none', '--grant', 'device_code', '--grant', 'refresh_token', '--scope', 'openid offline_access'",
  },
  "curl -s -d client_id=my-tv -d 'scope=openid offline_access' http://127.0.0.1:8080/oauth2/device_authorization": {
    by: 'gateway/routes/device.test.ts',
    kind: 'equivalent',
    evidence: 'postForm(`${t.baseUrl}/oauth2/device_authorization`, body, headers)',
  },
  'curl -s -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d client_id=my-tv -d device_code=… http://127.0.0.1:8080/oauth2/token': {
    by: 'gateway/routes/device.test.ts',
    kind: 'equivalent',
    evidence: 'grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId',
  },
  'export AUTHMESH_CLIENT_ID=authmesh-admin AUTHMESH_CLIENT_SECRET=<secret>': { by: FRESH_CLONE, kind: 'extracted' },
  'npm run -s authmesh -- clients list': { by: FRESH_CLONE, kind: 'extracted' },
  "npm run -s authmesh -- clients create --type confidential --grant client_credentials --scope billing.read --name 'Billing job'": {
    by: FRESH_CLONE,
    kind: 'extracted',
  },
  'scripts/otlp-protos.sh install': { by: '.ci/run', kind: 'verbatim' },
  'node scripts/otlp-receiver.mjs': { by: 'test/e2e/tracing-embedded.test.ts', kind: 'equivalent', evidence: "['scripts/otlp-receiver.mjs', String(port)]" },
  'OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 npm start': {
    by: 'test/e2e/tracing-embedded.test.ts',
    kind: 'equivalent',
    evidence: 'OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`',
  },
  'scripts/envoy.sh install': { by: '.ci/run', kind: 'verbatim' },
  'scripts/prometheus.sh install': { by: '.ci/run', kind: 'verbatim' },
  "scripts/stack.sh metrics | grep '/metrics$' | xargs -n1 scripts/prometheus.sh check": { by: 'test/e2e/metrics-prometheus.test.ts', kind: 'verbatim' },
  'scripts/envoy.sh validate': { by: '.ci/run', kind: 'verbatim' },
  'AUTHMESH_ISSUER=http://127.0.0.1:10000 AUTHMESH_TRUSTED_PROXIES=127.0.0.1 npm start': { by: ENVOY_EDGE, kind: 'extracted' },
  'AUTHMESH_SAMPLE_API_PORT=8090 npx tsx test/sample-api/server.ts &': { by: ENVOY_EDGE, kind: 'extracted' },
  'scripts/envoy.sh up': { by: ENVOY_EDGE, kind: 'extracted' },
  'curl -s http://127.0.0.1:10000/.well-known/oauth-authorization-server': { by: ENVOY_EDGE, kind: 'extracted' },
  'scripts/envoy.sh status; scripts/envoy.sh down': { by: ENVOY_EDGE, kind: 'extracted' },
  'curl -si http://127.0.0.1:10000/sample/hello | grep -i www-authenticate': {
    by: 'test/e2e/resource-discovery.test.ts',
    kind: 'equivalent',
    evidence: 'const metadataUrl = resourceMetadataOf(first);',
  },
  'curl -s http://127.0.0.1:10000/.well-known/oauth-protected-resource/sample': {
    by: 'test/e2e/resource-discovery.test.ts',
    kind: 'equivalent',
    evidence: '(await fetch(metadataUrl!)).json()',
  },
  'scripts/k8s.sh install render validate': { by: '.ci/run', kind: 'verbatim' },
  'SOAK_PROFILE=ci npm run soak': { by: '.ci/run', kind: 'equivalent', evidence: 'env SOAK_PROFILE=ci SOAK_JSON=build/soak-ci.json npm run -s soak' },
  'npm run soak': { by: '.ci/run', kind: 'equivalent', evidence: 'env SOAK_PROFILE=ci SOAK_JSON=build/soak-ci.json npm run -s soak' },
  'ROLL_PROFILE=ci npm run roll': { by: '.ci/run', kind: 'equivalent', evidence: 'env ROLL_PROFILE=ci ROLL_JSON=build/roll-ci.json npm run -s roll' },
  'npm run roll': { by: '.ci/run', kind: 'equivalent', evidence: 'env ROLL_PROFILE=ci ROLL_JSON=build/roll-ci.json npm run -s roll' },
  'kubectl create namespace authmesh; kubectl -n authmesh create secret generic authmesh-secrets --from-literal=master-key="$(openssl rand -base64 32)" --from-literal=mesh-secret="$(openssl rand -base64 32)" --from-literal=admin-client-secret="$(openssl rand -base64 32)" --from-literal=cookie-secret="$(openssl rand -base64 32)" --from-literal=pairwise-salt="$(openssl rand -base64 32)" --from-literal=postgres-password="$(openssl rand -hex 32)"':
    { kind: 'uncovered', reason: 'needs a Kubernetes cluster (none on this machine); test/k8s/manifests.test.ts checks the manifests reference only these keys' },
  'scripts/k8s.sh print stack | kubectl apply -f -': { kind: 'uncovered', reason: 'needs a Kubernetes cluster (none on this machine); CI renders and validates the same manifests (scripts/k8s.sh render validate)' },
  'AUTHMESH_SERVICES=key AUTHMESH_KEY_ADDR=127.0.0.1:50054 AUTHMESH_CLIENT_ADDR=127.0.0.1:50051 … AUTHMESH_ISSUER=http://127.0.0.1:10000 AUTHMESH_STORE=postgres AUTHMESH_DATABASE_URL=$(scripts/postgres.sh url) AUTHMESH_GRID=hazelcast AUTHMESH_MESH_SECRET=… AUTHMESH_MASTER_KEY=… node --enable-source-maps dist/services/main.js':
    { kind: 'uncovered', reason: 'a template with … placeholders; scripts/stack.sh starts every service this way, and the stack-readme test runs it' },
};

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const squash = (text: string) => text.replace(/\s+/g, ' ');

describe('README commands', () => {
  const commands = readmeShCommands();

  it('parses README: the fenced sh blocks hold commands', () => {
    expect(commands.map((c) => c.command)).toContain('npm start');
    expect(commands.every((c) => c.command !== '' && !c.command.startsWith('#'))).toBe(true);
  });

  it('every README command is accounted for: run by a test or CI, or listed as not run and why', () => {
    const unlisted = [...new Set(commands.filter((c) => c.region === undefined || !(c.region in REGIONS)).map((c) => c.command))].filter((c) => !(c in COVERAGE));
    expect(unlisted, `README commands no test runs (run them in a test, then list them in COVERAGE):\n${unlisted.join('\n')}`).toEqual([]);
    const stale = Object.keys(COVERAGE).filter((c) => !commands.some((x) => x.command === c));
    const regionCommands = commands.filter((c) => c.region !== undefined && c.region in REGIONS);
    expect(regionCommands.length, 'the stack-readme region of README has commands').toBeGreaterThan(0);
    expect(stale, 'COVERAGE lists commands README no longer has').toEqual([]);

    const uncovered = Object.entries(COVERAGE).filter(([, c]) => c.kind === 'uncovered');
    if (uncovered.length > 0) {
      console.warn(`README commands no test runs yet:\n${uncovered.map(([cmd, c]) => `  ${cmd}\n    (${(c as { reason: string }).reason})`).join('\n')}`);
    }
  });

  it('each covering file still shows it runs the command', () => {
    const broken: string[] = [];
    for (const [command, c] of Object.entries(COVERAGE)) {
      if (c.kind === 'uncovered') continue;
      if (!existsSync(join(repoRoot, c.by))) {
        broken.push(`${command}: ${c.by} does not exist`);
        continue;
      }
      const text = squash(read(c.by));
      const section = commands.find((x) => x.command === command)?.section ?? '';
      const ok =
        c.kind === 'verbatim'
          ? command.split(/;\s*/).every((part) => text.includes(normalize(part)))
          : c.kind === 'extracted'
            ? text.includes("from '../support/readme.js'") && text.includes(`'${section}'`)
            : text.includes(squash(c.evidence));
      if (!ok) broken.push(`${command}: ${c.by} (${c.kind}) no longer shows it`);
    }
    for (const [region, by] of Object.entries(REGIONS)) {
      // The test reads its region by name out of README.md (test/support/readme.ts or its own reader).
      if (!existsSync(join(repoRoot, by)) || !read(by).includes(region)) broken.push(`region ${region}: ${by} no longer reads it`);
    }
    expect(broken).toEqual([]);
  });
});
