// Issue 18: a token-service instance stopped the graceful way (SIGTERM) while calls flow through
// Envoy costs no call. It says NOT_SERVING at once, Envoy's health check takes it out of the
// cluster within its drain delay (AUTHMESH_DRAIN_SECONDS, still serving meanwhile), and only then
// does it close and exit 0. Two real token processes behind a real Envoy, bounded call counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenServiceService } from '../../gen/ts/authmesh/token/v1/token.js';
import { createRpcClient } from '../../services/core/rpc/index.js';
import { SERVICE_FQN } from '../../services/mesh-deps.js';
import { callSampleHello, extraInstancesSkipReason, registerSampleApi, sampleTokenOverGrpc, startEnvoyStack, type EnvoyStack, type SampleApiClient } from '../support/envoy.js';

const skip = extraInstancesSkipReason();
if (skip) console.warn(`skipping the Envoy drain suite: ${skip}`);

describe.skipIf(skip !== undefined)('a token instance draining behind Envoy', () => {
  let s: EnvoyStack;
  let sample: SampleApiClient;
  let tokens: ReturnType<typeof createRpcClient<typeof TokenServiceService>>;

  const grpcToken = () => sampleTokenOverGrpc(tokens, sample, 15_000);
  const sampleCall = (token: string) => callSampleHello(s, token);

  beforeAll(async () => {
    // 3 s: Envoy checks every second and drops a NOT_SERVING host at its first such answer.
    s = await startEnvoyStack({ extraInstances: { token: 1 }, env: { AUTHMESH_DRAIN_SECONDS: '3' } });
    sample = await registerSampleApi(s);
    tokens = createRpcClient(TokenServiceService, SERVICE_FQN.token, `127.0.0.1:${s.envoyPort}`);
  }, 180_000);

  afterAll(async () => {
    tokens?.close();
    await s?.close();
  });

  it('loses no token request and no ext_authz check while an instance drains and exits on SIGTERM', async () => {
    const victim = s.extra[0]!;
    const address = `127.0.0.1:${victim.port}`;
    const valid = await grpcToken();
    let exited = false;
    let sawItOut = false;
    const stopped = victim.stop().then((code) => {
      exited = true;
      return code;
    });
    const failures: string[] = [];
    // Until the instance has exited and then 20 more rounds: bounded by the drain delay plus the
    // process's own shutdown bound, and by a hard cap on rounds.
    let after = 0;
    for (let round = 0; round < 2_000 && after < 20; round++) {
      if (exited) after++;
      try {
        const token = await grpcToken();
        const status = await sampleCall(token);
        if (status !== 200) failures.push(`new token check ${status}`);
      } catch (err) {
        failures.push(`token: ${(err as Error).message}`);
      }
      const status = await sampleCall(valid);
      if (status !== 200) failures.push(`check ${status}`);
      if (!exited && !sawItOut) sawItOut = (await s.hosts('authmesh_token')).some((h) => h.address === address && /failed_active_hc/.test(h.flags));
    }
    expect(failures).toEqual([]);
    expect(await stopped).toBe(0);
    // Envoy took it out on its NOT_SERVING answer while it was still running (the drain delay).
    expect(sawItOut).toBe(true);
  });
});
