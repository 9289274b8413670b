// The Kubernetes manifests (deploy/k8s), rendered by the real kustomize and validated offline by
// kubernetes-validate against the API schemas (scripts/k8s.sh), then checked for what the schemas
// cannot see: probes on the right ports and health names, resources, secrets only by reference,
// a NetworkPolicy in front of every workload that admits only its real callers, PDB + HPA for
// token and gateway, and — the strongest check — every authmesh container's environment accepted
// by the services' own configuration loader, and Envoy's config template rendered from its
// init container's environment.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderEnvoyConfig } from '../../scripts/envoy-render.mjs';
import { loadConfig, SERVICE_NAMES } from '../../services/core/config/index.js';
import { LIVENESS, READINESS } from '../../services/core/rpc/index.js';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '../..');
const SCRIPT = join(repoRoot, 'scripts/k8s.sh');
const TOOLS = [join(repoRoot, '.tools/bin/kustomize'), join(repoRoot, '.tools/venv/bin/kubernetes-validate')];

function skipReason(): string | undefined {
  if (TOOLS.every((t) => existsSync(t))) return undefined;
  const reason = 'kustomize / kubernetes-validate are not installed: run `scripts/k8s.sh install`';
  if (process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error(`${reason}; AUTHMESH_REQUIRE_STACK=1 requires them`);
  return reason;
}
const skip = skipReason();

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects, read as parsed JSON */
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };
type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: unknown } };
type Container = { name: string; image: string; env?: EnvVar[]; envFrom?: { configMapRef?: { name: string }; secretRef?: unknown }[]; ports?: { name: string; containerPort: number }[]; livenessProbe?: any; readinessProbe?: any; startupProbe?: any; resources?: any; securityContext?: any; command?: string[] };

const OVERLAYS = ['embedded', 'stack'] as const;
/** What the Secret `authmesh-secrets` holds (README "Kubernetes"); the manifests only reference it. */
const SECRET_KEYS = ['master-key', 'mesh-secret', 'admin-client-secret', 'cookie-secret', 'pairwise-salt', 'postgres-password'];
const GRPC_HEALTH_NAME: Record<string, string> = {
  client: 'authmesh.client.v1.ClientService',
  service: 'authmesh.service.v1.ServiceRegistryService',
  user: 'authmesh.user.v1.UserService',
  key: 'authmesh.key.v1.KeyService',
  code: 'authmesh.code.v1.CodeService',
  token: 'authmesh.token.v1.TokenService',
  'refresh-token': 'authmesh.refresh_token.v1.RefreshTokenService',
};
/** Who calls whom (services/mesh-deps.ts users; every process fetches the key service's JWKS). */
const CALLERS: Record<string, string[]> = {
  client: ['token', 'code', 'user', 'gateway', 'envoy'],
  service: ['token', 'code', 'gateway', 'envoy'],
  user: ['token', 'code', 'gateway', 'envoy'],
  key: ['client', 'service', 'user', 'code', 'token', 'refresh-token', 'gateway', 'envoy'],
  code: ['token', 'gateway', 'envoy'],
  token: ['gateway', 'envoy'],
  'refresh-token': ['token', 'gateway', 'envoy'],
  gateway: ['envoy'],
};

const rendered: Record<string, K8sObject[]> = {};
const component = (o: K8sObject) => o.metadata.labels?.['app.kubernetes.io/component'] ?? '';
const workloads = (objs: K8sObject[]) => objs.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const podSpec = (w: K8sObject) => w.spec.template.spec;
const containersOf = (w: K8sObject): Container[] => podSpec(w).containers;
const initContainersOf = (w: K8sObject): Container[] => podSpec(w).initContainers ?? [];
const isAuthmesh = (c: Container) => c.image.startsWith('authmesh:');
const named = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);

/** A value of the right shape for each secret key: what loadConfig checks (32 random bytes, base64). */
const secretValues = Object.fromEntries(SECRET_KEYS.map((k) => [k, randomBytes(32).toString(k === 'postgres-password' ? 'hex' : 'base64')]));

/** The environment a container would get: its ConfigMaps, its env (secrets filled in), $(VAR) expanded as the kubelet does. */
function environmentOf(objs: K8sObject[], c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    expect(from.secretRef, `${c.name}: envFrom a whole Secret hands every secret to every role`).toBeUndefined();
    const cm = named(objs, 'ConfigMap', from.configMapRef!.name);
    expect(cm, `${c.name}: ConfigMap ${from.configMapRef!.name}`).toBeDefined();
    Object.assign(env, cm!.data);
  }
  for (const v of c.env ?? []) {
    if (v.valueFrom?.secretKeyRef) env[v.name] = secretValues[v.valueFrom.secretKeyRef.key]!;
    else env[v.name] = (v.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m);
  }
  return env;
}

beforeAll(async () => {
  if (skip) return;
  // The same command CI runs: render both overlays with kustomize, validate them strictly.
  const { stdout } = await run('bash', [SCRIPT, 'render', 'validate', ...OVERLAYS], { cwd: repoRoot, timeout: 120_000 });
  for (const o of OVERLAYS) expect(stdout).toContain(`validated ${o} against the Kubernetes`);
  for (const o of OVERLAYS) rendered[o] = JSON.parse(readFileSync(join(repoRoot, 'build/k8s', `${o}.json`), 'utf8')) as K8sObject[];
}, 180_000);

describe.skipIf(skip !== undefined)('Kubernetes manifests', () => {
  it('the offline validator is not vacuous: it rejects a manifest with a misspelt field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authmesh-k8s-'));
    try {
      const bad = readFileSync(join(repoRoot, 'build/k8s/embedded.yaml'), 'utf8').replace('readinessProbe:', 'readinesProbe:');
      writeFileSync(join(dir, 'bad.yaml'), bad);
      const validator = join(repoRoot, '.tools/venv/bin/kubernetes-validate');
      await expect(run(validator, ['--kubernetes-version', '1.30', '--strict', '--quiet', join(dir, 'bad.yaml')])).rejects.toMatchObject({
        stdout: expect.stringContaining("'readinesProbe' was unexpected"),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(OVERLAYS)('%s: everything lives in the authmesh namespace, with a default-deny ingress policy', (o) => {
    const objs = rendered[o]!;
    expect(named(objs, 'Namespace', 'authmesh')?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const deny = named(objs, 'NetworkPolicy', 'default-deny-ingress');
    expect(deny?.spec).toStrictEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    for (const obj of objs) if (obj.kind !== 'Namespace') expect((obj.metadata as { namespace?: string }).namespace, `${obj.kind}/${obj.metadata.name}`).toBe('authmesh');
  });

  it.each(OVERLAYS)('%s: every container has liveness and readiness probes, requests and a memory limit, and runs locked down', (o) => {
    const objs = rendered[o]!;
    expect(workloads(objs).length).toBeGreaterThan(0);
    for (const w of workloads(objs)) {
      const spec = podSpec(w);
      expect(spec.automountServiceAccountToken, w.metadata.name).toBe(false);
      expect(spec.securityContext?.runAsNonRoot, w.metadata.name).toBe(true);
      expect(Number.isInteger(spec.securityContext?.runAsUser) && spec.securityContext.runAsUser > 0, `${w.metadata.name}: numeric non-root user`).toBe(true);
      for (const c of [...containersOf(w), ...initContainersOf(w)]) {
        const where = `${w.metadata.name}/${c.name}`;
        expect(c.resources?.requests?.cpu, where).toBeDefined();
        expect(c.resources?.requests?.memory, where).toBeDefined();
        expect(c.resources?.limits?.memory, where).toBeDefined();
        expect(c.securityContext, where).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      }
      for (const c of containersOf(w)) {
        expect(c.livenessProbe, `${w.metadata.name}/${c.name} liveness`).toBeDefined();
        expect(c.readinessProbe, `${w.metadata.name}/${c.name} readiness`).toBeDefined();
      }
    }
  });

  it('stack: each service probes grpc.health.v1 on its gRPC port — liveness never the store, readiness the store and grid', () => {
    const objs = rendered.stack!;
    for (const name of SERVICE_NAMES) {
      const w = named(objs, 'Deployment', name);
      expect(w, name).toBeDefined();
      const [c] = containersOf(w!);
      expect(c!.ports).toContainEqual({ name: 'grpc', containerPort: 50051 });
      expect(c!.livenessProbe.grpc).toStrictEqual({ port: 50051, service: LIVENESS });
      expect(c!.startupProbe.grpc).toStrictEqual({ port: 50051, service: LIVENESS });
      expect(c!.readinessProbe.grpc).toStrictEqual({ port: 50051, service: READINESS });
      expect(c!.env).toContainEqual({ name: 'AUTHMESH_SERVICES', value: name });
      // What Envoy health-checks on this service's pods is the name envoy.yaml names.
      expect(readFileSync(join(repoRoot, 'envoy/envoy.yaml'), 'utf8')).toContain(`service_name: ${GRPC_HEALTH_NAME[name]}`);
    }
  });

  it.each([
    ['stack', 'Deployment', 'gateway'],
    ['embedded', 'Deployment', 'authmesh'],
  ])('%s: %s %s probes the HTTP health routes (GET /livez, GET /readyz)', (o, kind, name) => {
    const [c] = containersOf(named(rendered[o]!, kind, name)!);
    const http = (p: any) => p.httpGet ?? (p.grpc ? { grpc: p.grpc } : p);
    expect(http(c!.readinessProbe)).toStrictEqual({ path: '/readyz', port: 'http' });
    expect([{ path: '/livez', port: 'http' }, { grpc: { port: 50051, service: LIVENESS } }]).toContainEqual(http(c!.livenessProbe));
    expect(c!.ports).toContainEqual({ name: 'http', containerPort: 8080 });
  });

  it.each(OVERLAYS)('%s: no secret in the manifests — no Secret object, every secret variable by reference to authmesh-secrets', (o) => {
    const objs = rendered[o]!;
    expect(objs.filter((x) => x.kind === 'Secret')).toStrictEqual([]);
    for (const w of workloads(objs)) {
      for (const c of [...containersOf(w), ...initContainersOf(w)]) {
        for (const v of c.env ?? []) {
          if (v.valueFrom?.secretKeyRef) {
            expect(v.valueFrom.secretKeyRef.name).toBe('authmesh-secrets');
            expect(SECRET_KEYS).toContain(v.valueFrom.secretKeyRef.key);
          } else if (/SECRET|MASTER_KEY|SALT|PASSWORD/.test(v.name)) {
            throw new Error(`${w.metadata.name}/${c.name}: ${v.name} has a literal value`);
          }
          // A URL may carry the password only as a reference to the secret variable.
          if (v.value?.includes('@')) expect(v.value).toMatch(/:\$\(POSTGRES_PASSWORD\)@/);
        }
      }
    }
    for (const cm of objs.filter((x) => x.kind === 'ConfigMap')) {
      for (const key of Object.keys(cm.data ?? {})) expect(key, `${cm.metadata.name}.${key}`).not.toMatch(/SECRET|MASTER_KEY|SALT|PASSWORD/);
    }
  });

  it.each(OVERLAYS)('%s: every authmesh container environment passes the services’ own configuration check for its role', (o) => {
    const objs = rendered[o]!;
    let checked = 0;
    for (const w of workloads(objs)) {
      for (const c of containersOf(w).filter(isAuthmesh)) {
        const env = environmentOf(objs, c);
        const config = loadConfig(env);
        checked++;
        // The secrets a role needs come from the Secret, never from the pod's throwaway data directory.
        expect(env.AUTHMESH_MESH_SECRET, c.name).toBeDefined();
        if (config.services.includes('key')) expect(env.AUTHMESH_MASTER_KEY, c.name).toBeDefined();
        if (config.services.includes('client')) expect(env.AUTHMESH_ADMIN_CLIENT_SECRET, `${c.name}: else the bootstrap secret is printed into the pod log`).toBeDefined();
        if (config.gateway) expect(env.AUTHMESH_COOKIE_SECRET, c.name).toBeDefined();
        expect(config.grpcHost).toBe('0.0.0.0');
        expect(config.issuer).toMatch(/^https:\/\//);
        if (o === 'stack') {
          expect(config.store).toBe(config.services.length > 0 ? 'postgres' : config.store);
          expect(config.databaseUrl ?? '').not.toContain('$(');
        }
      }
    }
    expect(checked).toBe(o === 'stack' ? 8 : 1);
  });

  it('stack: Envoy’s init container renders envoy/envoy.yaml from its environment, access log on stdout', () => {
    const objs = rendered.stack!;
    const envoy = named(objs, 'Deployment', 'envoy')!;
    const [init] = initContainersOf(envoy);
    expect(init!.image).toMatch(/^authmesh:/);
    const env = environmentOf(objs, init!);
    const config = renderEnvoyConfig(readFileSync(join(repoRoot, 'envoy/envoy.yaml'), 'utf8'), env);
    expect(config).toContain('path: /dev/stdout');
    expect(config).toMatch(/max_active_downstream_connections: \d+/);
    const [proxy] = containersOf(envoy);
    expect(proxy!.command).toContain('/etc/envoy/rendered/envoy.yaml');
    // The heap limit Envoy sheds load at sits below the container's memory limit.
    expect(Number(env.AUTHMESH_ENVOY_MAX_HEAP_BYTES)).toBeLessThan(512 * 1024 * 1024);
    expect(proxy!.resources.limits.memory).toBe('512Mi');
    // Every upstream Envoy resolves is a Service of the overlay (headless: Envoy balances over pods).
    for (const [k, v] of Object.entries(env).filter(([k]) => /_UPSTREAMS$/.test(k) && k !== 'AUTHMESH_SAMPLE_API_UPSTREAMS')) {
      const svc = named(objs, 'Service', v.split(':')[0]!);
      expect(svc, k).toBeDefined();
      expect(svc!.spec.clusterIP, k).toBe('None');
    }
  });

  it('stack: a NetworkPolicy in front of every workload admits only its callers; Envoy alone is open, on its listener port', () => {
    const objs = rendered.stack!;
    const policies = objs.filter((x) => x.kind === 'NetworkPolicy' && x.metadata.name !== 'default-deny-ingress');
    const policyFor = (c: string) => policies.filter((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/component'] === c);
    for (const w of workloads(objs)) expect(policyFor(component(w)), `policy for ${component(w)}`).toHaveLength(1);
    const admitted = (c: string) =>
      policyFor(c)[0]!.spec.ingress.flatMap((rule: any) => {
        expect(rule.from, `${c}: a rule without "from" admits everyone`).toBeDefined();
        return rule.from.flatMap((f: any) => (f.podSelector.matchLabels ? [f.podSelector.matchLabels['app.kubernetes.io/component']] : f.podSelector.matchExpressions[0].values));
      });
    for (const [c, callers] of Object.entries(CALLERS)) expect(new Set(admitted(c)), c).toStrictEqual(new Set(callers));
    expect(new Set(admitted('postgres'))).toStrictEqual(new Set(SERVICE_NAMES));
    expect(new Set(admitted('hazelcast'))).toStrictEqual(new Set([...SERVICE_NAMES, 'hazelcast']));
    expect(policyFor('envoy')[0]!.spec.ingress).toStrictEqual([{ ports: [{ port: 10000, protocol: 'TCP' }] }]);
  });

  it.each(OVERLAYS)('%s: every authmesh process serves /metrics on its pod address, annotated for Prometheus, reachable only from the monitoring namespace', (o) => {
    const objs = rendered[o]!;
    const processes = workloads(objs).filter((w) => containersOf(w).some(isAuthmesh) && component(w) !== 'envoy');
    expect(processes.length).toBeGreaterThan(0);
    for (const w of processes) {
      const c = containersOf(w).find(isAuthmesh)!;
      const env = environmentOf(objs, c);
      expect([env.AUTHMESH_METRICS_HOST, env.AUTHMESH_METRICS_PORT], w.metadata.name).toEqual(['0.0.0.0', '9464']);
      expect(c.ports, w.metadata.name).toContainEqual({ name: 'metrics', containerPort: 9464 });
      expect(w.spec.template.metadata.annotations, w.metadata.name).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9464' });
    }
    const policy = named(objs, 'NetworkPolicy', 'metrics-scrape');
    expect(policy?.spec.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 9464, protocol: 'TCP' }] }]);
  });

  it('stack: token and gateway have a HorizontalPodAutoscaler (CPU) and a PodDisruptionBudget; the HPA owns their replica count', () => {
    const objs = rendered.stack!;
    for (const name of ['token', 'gateway']) {
      const hpa = named(objs, 'HorizontalPodAutoscaler', name);
      expect(hpa?.apiVersion).toBe('autoscaling/v2');
      expect(hpa!.spec.scaleTargetRef).toStrictEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(hpa!.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa!.spec.metrics[0].resource.name).toBe('cpu');
      const pdb = named(objs, 'PodDisruptionBudget', name);
      expect(pdb?.spec.minAvailable).toBe(1);
      const deployment = named(objs, 'Deployment', name)!;
      expect(pdb!.spec.selector.matchLabels).toStrictEqual(deployment.spec.selector.matchLabels);
      expect(deployment.spec.replicas, `${name}: a fixed count would fight the HPA on every apply`).toBeUndefined();
    }
  });

  it('stack: the files the init containers take from the authmesh image are in it (Dockerfile runtime stage)', () => {
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const copied = [...runtime.matchAll(/^COPY --from=build \/app\/(\S+) /gm)].map((m) => m[1]!);
    const fromImage = (path: string) => copied.some((c) => path === c || path.startsWith(`${c.replace(/\/$/, '')}/`));
    const objs = rendered.stack!;
    const inits = workloads(objs).flatMap((w) => initContainersOf(w).filter(isAuthmesh));
    expect(inits.map((c) => c.name).sort()).toStrictEqual(['config', 'render-config']);
    for (const c of inits) {
      const paths = (c.command ?? []).join(' ').match(/(?:\/app\/)?(?:scripts|envoy|build|hazelcast)\/[\w./-]+/g) ?? [];
      expect(paths.length, c.name).toBeGreaterThan(0);
      for (const p of paths) expect(fromImage(p.replace(/^\/app\//, '')), `${c.name}: ${p}`).toBe(true);
    }
  });

  it.each(OVERLAYS)('%s: the authmesh image is set once through kustomize `images:` (override with kustomize edit set image)', (o) => {
    const images = new Set(workloads(rendered[o]!).flatMap((w) => [...containersOf(w), ...initContainersOf(w)].map((c) => c.image)));
    const own = [...images].filter((i) => i.startsWith('authmesh'));
    expect(own).toStrictEqual(['authmesh:0.1.0']);
    const kustomization = readFileSync(join(repoRoot, 'deploy/k8s/overlays', o, 'kustomization.yaml'), 'utf8');
    expect(kustomization).toMatch(/images:\n\s+- name: authmesh\n\s+newTag: "0\.1\.0"/);
  });
});
