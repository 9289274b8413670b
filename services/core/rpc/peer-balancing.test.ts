// Issue 18: a peer reaches every instance of a service listed in AUTHMESH_<SVC>_ADDR, and an
// instance that drains (NOT_SERVING, delay, close) or stops costs its callers no call. Two real
// grpc-js servers on loopback, the real peer client (createRpcClient), bounded call counts.
import { credentials, makeGenericClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyServiceService } from '../../../gen/ts/authmesh/key/v1/key.js';
import { FQN, startInstance as startInstanceOf, type Instance, type Key } from '../../../test/support/peer-instances.js';
import { AuthmeshError, TemporarilyUnavailable } from '../errors/index.js';
import { drainProcess } from '../health/drain.js';
import { createRpcClient, type RpcClient } from './client.js';
import { channelTarget } from './peer-target.js';

const started: Instance[] = [];
const clients: RpcClient<Key>[] = [];
const startInstance = (name: string) => startInstanceOf(name, started);

function peerClient(...instances: Instance[]): RpcClient<Key> {
  const client = createRpcClient(KeyServiceService, FQN, instances.map((i) => `127.0.0.1:${i.port}`).join(','), { defaultTimeoutMs: 5_000 });
  clients.push(client);
  return client;
}

/** grpc.health.v1 Check of one service name on one instance: SERVING, NOT_SERVING, … */
function healthOf(port: number, name: string): Promise<string> {
  const Health = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, 'Health');
  const client = new Health(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as {
    check(req: { service: string }, opts: { deadline: number }, cb: (err: Error | null, res: { status: string }) => void): void;
    close(): void;
  };
  return new Promise((resolve, reject) =>
    client.check({ service: name }, { deadline: Date.now() + 2_000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res.status);
    }),
  );
}

/** Runs `count` calls, `concurrency` at a time, alternating a read-only and a non-idempotent RPC. */
async function load(client: RpcClient<Key>, count: number, concurrency: number, onCall?: (i: number) => Promise<void> | void) {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      await onCall?.(i);
      try {
        if (i % 2 === 0) await client.getJwks({});
        else await client.signJwt({ claims: { n: i }, typ: 'JWT' });
      } catch (err) {
        failures.push(err instanceof AuthmeshError ? `${err.code}: ${err.description}` : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const i of started.splice(0)) await i.rpc.shutdown(500);
});

describe('peers balance over the instances of a service', () => {
  it('sends calls to every listed instance (round robin), not only the first', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    const failures = await load(peerClient(a, b), 40, 1);
    expect(failures).toStrictEqual([]);
    // Round robin over two ready instances: each gets a fair share (at least a quarter).
    expect(a.served.length).toBeGreaterThanOrEqual(10);
    expect(b.served.length).toBeGreaterThanOrEqual(10);
  });

  it('balances over a list of names too (resolved by the authmesh-peers resolver), and keeps one address as it was', async () => {
    expect(channelTarget('127.0.0.1:1')).toBe('127.0.0.1:1');
    expect(channelTarget('key:50051')).toBe('key:50051');
    expect(channelTarget('127.0.0.1:1,127.0.0.2:2')).toBe('ipv4:127.0.0.1:1,127.0.0.2:2');
    expect(channelTarget('[::1]:1,[::1]:2')).toBe('ipv6:[::1]:1,[::1]:2');
    expect(channelTarget('localhost:1,127.0.0.1:2')).toBe('authmesh-peers:///localhost:1,127.0.0.1:2');
    const a = await startInstance('a');
    const b = await startInstance('b');
    const client = createRpcClient(KeyServiceService, FQN, `localhost:${a.port},localhost:${b.port}`, { defaultTimeoutMs: 5_000 });
    clients.push(client);
    expect(await load(client, 40, 1)).toStrictEqual([]);
    expect(a.served.length).toBeGreaterThanOrEqual(10);
    expect(b.served.length).toBeGreaterThanOrEqual(10);
  });

  it('loses no call while an instance drains (NOT_SERVING, delay, close) under concurrent load', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    const client = peerClient(a, b);
    let drained: Promise<void> | undefined;
    const failures = await load(client, 300, 4, (i) => {
      if (i === 60) {
        drained = drainProcess({
          notServing: () => a.rpc.setServing(false),
          delayMs: 200,
          close: () => a.rpc.shutdown(2_000),
        });
      }
    });
    await drained;
    expect(failures).toStrictEqual([]);
    const servedByAAtClose = a.served.length;
    expect(servedByAAtClose).toBeGreaterThan(0);
    // After the drain, every call goes to b.
    expect(await load(client, 20, 2)).toStrictEqual([]);
    expect(a.served.length).toBe(servedByAAtClose);
  });

  it('loses no call when an instance stops abruptly between calls (a crash)', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    const client = peerClient(a, b);
    const failures = await load(client, 120, 1, async (i) => {
      if (i === 40) {
        a.rpc.server.forceShutdown();
        a.rpc.inProcess.cancelAll();
      }
    });
    expect(failures).toStrictEqual([]);
    expect(b.served.length).toBeGreaterThan(60);
  });

  it('retries a read-only call that an instance answered UNAVAILABLE on another instance', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    const client = peerClient(a, b);
    for (let round = 0; round < 4; round++) {
      a.failNext.getJwks = true;
      b.failNext.getJwks = true;
      // Whichever instance is picked first fails; the retry lands on the other, which also has a
      // failure armed only for its first call: the third attempt succeeds. Bounded: 3 attempts.
      await expect(client.getJwks({})).resolves.toBeDefined();
    }
  });

  it('never repeats a non-idempotent call that reached a server, even when it answered UNAVAILABLE', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    const client = peerClient(a, b);
    a.failNext.signJwt = true;
    b.failNext.signJwt = true;
    const error = await client.signJwt({ claims: {}, typ: 'JWT' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(AuthmeshError);
    expect((error as AuthmeshError).code).toBe('temporarily_unavailable');
    // Exactly one instance saw it, once.
    expect(a.served.length + b.served.length).toBe(1);
  });
});

describe('the drain order of a process', () => {
  it('says NOT_SERVING first, keeps serving through the delay, finishes in-flight calls, then closes', async () => {
    const a = await startInstance('a');
    const client = peerClient(a);
    let release!: () => void;
    a.hold = new Promise<void>((resolve) => (release = resolve));
    const holding = new Promise<void>((resolve) => (a.holding = resolve));
    const inFlight = client.signJwt({ claims: {}, typ: 'JWT' });
    await holding;
    a.hold = undefined;

    const steps: string[] = [];
    let closed = false;
    let duringDelay: Promise<{ health: string; call: string }> | undefined;
    const drained = drainProcess({
      notServing: () => a.rpc.setServing(false),
      delayMs: 300,
      close: async () => {
        await a.rpc.shutdown(5_000);
        closed = true;
      },
      onStep(step) {
        steps.push(step);
        if (step === 'delay') {
          // While the delay runs: health says NOT_SERVING, and a new call is still served.
          duringDelay = (async () => ({
            health: await healthOf(a.port, FQN),
            call: (await client.signJwt({ claims: {}, typ: 'JWT' })).jwt,
          }))();
        }
        if (step === 'close') setTimeout(release, 100);
      },
    });
    expect(await duringDelay).toStrictEqual({ health: 'NOT_SERVING', call: 'a' });
    // The in-flight call (held until after close began) completes normally, before close resolves.
    expect((await inFlight).jwt).toBe('a');
    await drained;
    expect(closed).toBe(true);
    expect(steps).toStrictEqual(['not_serving', 'delay', 'close']);
    // Closed: the instance takes no call any more.
    await expect(client.getJwks({}, { deadline: new Date(Date.now() + 1_000) })).rejects.toBeInstanceOf(TemporarilyUnavailable);
  });
});
