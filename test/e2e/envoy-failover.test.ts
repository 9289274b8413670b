// Two token-service instances behind Envoy's round-robin cluster: both serve, then one is killed
// (SIGKILL, as a crash) and every request is still answered — retries move calls that never
// reached a server to the live instance, and health checks / outlier detection eject the dead one.
// The second instance is its own process (AUTHMESH_SERVICES=token) using the first one's other
// services; both share Postgres and the Hazelcast cluster, as a split process must.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenServiceService } from '../../gen/ts/authmesh/token/v1/token.js';
import { createRpcClient } from '../../services/core/rpc/index.js';
import { SERVICE_FQN } from '../../services/mesh-deps.js';
import { callSampleHello, extraInstancesSkipReason, registerSampleApi, sampleTokenOverGrpc, startEnvoyStack, type EnvoyStack, type SampleApiClient } from '../support/envoy.js';

const skip = extraInstancesSkipReason();
if (skip) console.warn(`skipping the Envoy failover suite: ${skip}`);

describe.skipIf(skip !== undefined)('Envoy in front of two token-service instances', () => {
  let s: EnvoyStack;
  let sample: SampleApiClient;
  let tokens: ReturnType<typeof createRpcClient<typeof TokenServiceService>>;

  // A native gRPC token request through Envoy (the authmesh_token cluster).
  const grpcToken = () => sampleTokenOverGrpc(tokens, sample);
  // A call to the protected sample API: ext_authz asks the authmesh_token cluster.
  const sampleCall = (token: string) => callSampleHello(s, token);
  const tokenHosts = () => s.hosts('authmesh_token');

  beforeAll(async () => {
    s = await startEnvoyStack({ extraInstances: { token: 1 } });
    sample = await registerSampleApi(s);
    tokens = createRpcClient(TokenServiceService, SERVICE_FQN.token, `127.0.0.1:${s.envoyPort}`);
  }, 180_000);

  afterAll(async () => {
    tokens?.close();
    await s?.close();
  });

  it('round-robins token calls and ext_authz checks over both instances', async () => {
    const hosts = await tokenHosts();
    expect(hosts).toHaveLength(2);
    expect(hosts.every((h) => h.healthy)).toBe(true);
    const before = new Map(hosts.map((h) => [h.address, h.requests]));
    for (let i = 0; i < 10; i++) {
      const token = await grpcToken();
      expect(await sampleCall(token)).toBe(200);
    }
    const after = await tokenHosts();
    for (const h of after) expect(h.requests - (before.get(h.address) ?? 0), h.address).toBeGreaterThanOrEqual(5);
  });

  it('keeps serving new tokens and checks of valid tokens when one instance is killed', async () => {
    const valid = await grpcToken();
    const victim = s.extra[0]!;
    const killedAt = Date.now();
    await victim.kill();

    // Until Envoy has noticed, a call may meet the dead instance: it must fail fast and closed
    // (UNAVAILABLE / 503, never a hang, never an allowed request), and Envoy must notice by itself
    // — active health check or outlier ejection — within seconds.
    const during: string[] = [];
    let dead;
    do {
      try {
        await grpcToken();
      } catch (err) {
        expect((err as { code?: string }).code).toBe('temporarily_unavailable');
        during.push('token unavailable');
      }
      const status = await sampleCall(valid);
      expect([200, 503]).toContain(status);
      if (status !== 200) during.push(`check ${status}`);
      dead = (await tokenHosts()).find((h) => h.address === `127.0.0.1:${victim.port}`);
    } while (dead?.healthy && Date.now() - killedAt < 10_000);
    expect(dead?.flags).toMatch(/failed_active_hc|failed_outlier_check/);

    // From then on every call is served by the live instance.
    const results: string[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        const token = await grpcToken();
        results.push(`token ${(await sampleCall(token)) === 200 ? 'ok' : 'denied'}`);
      } catch (err) {
        results.push(`token failed: ${(err as Error).message}`);
      }
      const status = await sampleCall(valid);
      results.push(status === 200 ? 'check ok' : `check ${status}`);
    }
    // On failure, say what Envoy thought of both hosts and what happened before the ejection.
    expect(results.filter((r) => !r.endsWith('ok')), JSON.stringify({ during, hosts: await tokenHosts() })).toEqual([]);
    console.warn(`failover: dead instance ejected after ${Date.now() - killedAt} ms; calls failed closed meanwhile: ${during.length}`);
  });
});
