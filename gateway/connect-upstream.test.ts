// Issue 18: the Connect bridge's upstream rotates over the instances of a service and makes a call
// again elsewhere only when it never reached a server. Real grpc-js servers on loopback, the real
// Upstream (connect-node's gRPC transport), bounded call counts.
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { afterEach, describe, expect, it } from 'vitest';
import { GetJwksRequestSchema, KeyService, SignJwtRequestSchema } from '../gen/es/authmesh/key/v1/key_pb.js';
import { startInstance as startInstanceOf, type Instance } from '../test/support/peer-instances.js';
import { freePort } from '../test/support/ports.js';
import { Upstream } from './connect-upstream.js';

type KeyClient = Client<typeof KeyService>;

const started: Instance[] = [];
const upstreams: Upstream[] = [];
const startInstance = (name: string) => startInstanceOf(name, started);

function upstreamOf(address: string): Upstream {
  const u = new Upstream({ address, writeMaxBytes: 1024 * 1024, readMaxBytes: 16 * 1024 * 1024 });
  upstreams.push(u);
  return u;
}

const jwks = (u: Upstream) => u.call(KeyService, (c) => (c as unknown as KeyClient).getJwks(create(GetJwksRequestSchema, {}), { timeoutMs: 5_000 }));
const sign = (u: Upstream) => u.call(KeyService, (c) => (c as unknown as KeyClient).signJwt(create(SignJwtRequestSchema, { typ: 'JWT' }), { timeoutMs: 5_000 }));

afterEach(async () => {
  for (const u of upstreams.splice(0)) u.close();
  for (const i of started.splice(0)) await i.rpc.shutdown(500);
});

describe('the Connect bridge over several instances of a service', () => {
  it('rotates calls over every listed instance', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    const u = upstreamOf(`127.0.0.1:${a.port},127.0.0.1:${b.port}`);
    for (let i = 0; i < 20; i++) await jwks(u);
    expect(a.served.length).toBe(10);
    expect(b.served.length).toBe(10);
  });

  it('makes a call refused before it reached a server (an instance down or restarting) again on the next instance', async () => {
    const b = await startInstance('b');
    const down = await freePort(); // nothing listens there: connection refused
    const u = upstreamOf(`127.0.0.1:${down},127.0.0.1:${b.port}`);
    // Non-idempotent calls too: a refused connection proves the call was never sent.
    for (let i = 0; i < 10; i++) expect((await sign(u)).jwt).toBe('b');
    expect(b.served.length).toBe(10);
    expect(u.failoverCount).toBeGreaterThan(0);
  });

  it('loses no call while an instance stops and comes back between calls (a roll)', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    const u = upstreamOf(`127.0.0.1:${a.port},127.0.0.1:${b.port}`);
    for (let i = 0; i < 10; i++) await sign(u);
    await a.rpc.shutdown(1_000);
    for (let i = 0; i < 20; i++) expect((await sign(u)).jwt).toBe('b');
  });

  it('never repeats a call that may have reached a server: it fails Unavailable, the other instance never sees it', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    const u = upstreamOf(`127.0.0.1:${a.port},127.0.0.1:${b.port}`);
    let release!: () => void;
    a.hold = new Promise<void>((resolve) => (release = resolve));
    const holding = new Promise<void>((resolve) => (a.holding = resolve));
    // Round robin starts at a: the call is held inside a's handler, then a's connections die.
    const call = sign(u).then(
      () => undefined,
      (err: unknown) => err,
    );
    await holding;
    a.rpc.server.forceShutdown();
    release();
    const err = await call;
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect(b.served).toStrictEqual([]);
  });
});
