// The in-process transport keeps the wire's semantics: every case runs the same call over the
// loopback gRPC socket and in process against ONE server (the real mesh authenticator, with
// tokens signed by a real key service), and asserts what the wire gives and that the in-process
// outcome is equal to it.
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetJwksResponse, KeyServiceService, ListKeysResponse, RotateKeysResponse, SignJwtResponse, type SignJwtRequest } from '../../../gen/ts/authmesh/key/v1/key.js';
import { startTestMesh, type TestMesh } from '../../../test/support/mesh.js';
import { AuthmeshError, NotFound } from '../errors/index.js';
import { silentLogger } from '../log/index.js';
import { ADMIN_READ, ADMIN_WRITE, INTERNAL, PUBLIC, type CallContext } from './context.js';
import { createRpcClient, type CallOptions, type RpcClient } from './client.js';
import { registration, type AsyncService } from './handler.js';
import { createInProcessClient, IN_PROCESS_PEER } from './in-process.js';
import { createMeshAuthenticator, MESH_METADATA_KEY } from './mesh-authenticator.js';
import { createRpcServer, type RpcServer } from './server.js';
import { auditedAddress } from './caller-address.js';
import { createPeers } from '../../mesh-deps.js';

type Key = typeof KeyServiceService;
const FQN = 'authmesh.key.v1.KeyService';

/** What a handler of the fixture saw of one call. */
interface Seen {
  request: SignJwtRequest;
  peer: string;
  principal: CallContext['principal'];
  audited: string;
  /** Why ctx.signal aborted, once it did. */
  aborted: Promise<string>;
}

/**
 * A server whose KeyService handlers are the test's: SignJwt is INTERNAL and behaves as the
 * claims say (echo, not_found, crash, wait for ctx.signal), ListKeys is an admin read, RotateKeys
 * an admin write, GetJwks public.
 */
async function startFixture(t: TestMesh) {
  const seen: Seen[] = [];
  let onSeen: Array<(s: Seen) => void> = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const responses: SignJwtResponse[] = [];
  const implementation: AsyncService<Key> = {
    async getJwks() {
      return GetJwksResponse.fromPartial({ keys: [] });
    },
    async getKey() {
      throw new NotFound('no such key');
    },
    async listKeys() {
      return ListKeysResponse.fromPartial({ keys: [] });
    },
    async rotateKeys() {
      return RotateKeysResponse.fromPartial({});
    },
    async signJwt(request, ctx) {
      let abortedWith!: (reason: string) => void;
      const aborted = new Promise<string>((resolve) => (abortedWith = resolve));
      const signal = ctx.signal;
      signal.addEventListener('abort', () => abortedWith(String((signal.reason as Error).message)));
      const entry: Seen = { request, peer: ctx.peer, principal: ctx.principal, audited: auditedAddress(ctx, String(request.claims?.remote_ip ?? '')), aborted };
      seen.push(entry);
      const waiting = onSeen;
      onSeen = [];
      for (const w of waiting) w(entry);
      const mode = request.claims?.mode;
      if (mode === 'not_found') throw new NotFound('no key with this kid', { metadata: { kid: 'k-1' } });
      if (mode === 'crash') throw new Error('a bug, with a secret s3cr3t in its message');
      if (mode === 'slow') {
        // Holds the call until ctx.signal aborts and then until the test has seen the caller's
        // outcome, so the caller's deadline (not the handler's answer) decides it.
        await aborted;
        await released;
        throw new Error('gave up');
      }
      const response = SignJwtResponse.fromPartial({ jwt: JSON.stringify(request.claims), kid: 'k-1' });
      responses.push(response);
      return response;
    },
  };
  const rpc: RpcServer = createRpcServer({
    services: [registration(FQN, KeyServiceService, implementation, { getJwks: PUBLIC, getKey: INTERNAL, listKeys: ADMIN_READ, rotateKeys: ADMIN_WRITE, signJwt: INTERNAL })],
    authenticator: createMeshAuthenticator({ meshSecret: t.config.meshSecret!, verifier: t.mesh.deps.verifier, audience: t.config.issuer }),
    log: silentLogger(),
    realm: t.config.issuer,
  });
  const port = await rpc.listen('127.0.0.1', 0);
  rpc.setServing(true);
  const mesh = () => {
    const md = new Metadata();
    md.set(MESH_METADATA_KEY, t.config.meshSecret!);
    return md;
  };
  const clients = (metadata?: () => Metadata) => ({
    grpc: createRpcClient(KeyServiceService, FQN, `127.0.0.1:${port}`, { metadata, defaultTimeoutMs: 5_000 }),
    'in-process': createInProcessClient(KeyServiceService, rpc.inProcess, { metadata, defaultTimeoutMs: 5_000 }),
  });
  const withMesh = clients(mesh);
  const anonymous = clients();
  return {
    rpc,
    seen,
    /** Lets every held slow call end (after its caller has given up). */
    release,
    /** Resolves when the next SignJwt handler starts. */
    nextCall: () => new Promise<Seen>((resolve) => onSeen.push(resolve)),
    responses,
    withMesh,
    anonymous,
    close: async () => {
      release();
      for (const c of [withMesh, anonymous]) for (const client of Object.values(c)) client.close();
      await rpc.shutdown(1_000);
    },
  };
}

/** A call's outcome as a caller can observe it: the response, or the domain error and its trailers. */
async function outcome(call: Promise<unknown>) {
  try {
    return { response: await call };
  } catch (err) {
    if (!(err instanceof AuthmeshError)) throw err;
    const se = err.cause as Partial<ServiceError> | undefined;
    return {
      code: err.code,
      description: err.description,
      metadata: err.metadata,
      grpcStatus: se?.code,
      challenge: se?.metadata?.get('www-authenticate') ?? [],
    };
  }
}

type Clients = Record<'grpc' | 'in-process', RpcClient<Key>>;

/** Runs `call` over both transports and returns the wire's outcome after asserting they are equal. */
async function same(clients: Clients, call: (c: RpcClient<Key>) => Promise<unknown>) {
  const wire = await outcome(call(clients.grpc));
  const local = await outcome(call(clients['in-process']));
  expect(local).toEqual(wire);
  return wire;
}

const sign = (claims: Record<string, unknown>, opts?: CallOptions) => (c: RpcClient<Key>) => c.signJwt({ claims, typ: 'at+jwt' }, opts);

describe('the in-process transport gives the same outcomes as the gRPC socket', () => {
  let t: TestMesh;
  let f: Awaited<ReturnType<typeof startFixture>>;

  beforeAll(async () => {
    t = await startTestMesh();
    f = await startFixture(t);
  });
  afterAll(async () => {
    await f?.close();
    await t?.close();
  });

  it('answers a call with the mesh credential with the same message', async () => {
    const wire = await same(f.withMesh, sign({ sub: 'alice', n: 1 }));
    expect(wire).toEqual({ response: { jwt: JSON.stringify({ sub: 'alice', n: 1 }), kid: 'k-1' } });
  });

  it('refuses an internal method without the mesh credential (authentication_refused_without_mesh_credential)', async () => {
    const wire = await same(f.anonymous, sign({ sub: 'x' }));
    expect(wire).toMatchObject({ code: 'invalid_token', grpcStatus: status.UNAUTHENTICATED });
    // RFC 6750 §3.1: a call that carried no credentials gets the challenge without an error code.
    expect(wire.challenge).toEqual([`Bearer realm="${t.config.issuer}"`]);
  });

  it('refuses a wrong bearer token, with the same RFC 6750 challenge', async () => {
    const wire = await same(f.anonymous, (c) => c.listKeys({}, { bearer: 'not.a.jwt' }));
    expect(wire).toMatchObject({ code: 'invalid_token', grpcStatus: status.UNAUTHENTICATED });
    expect(String((wire.challenge as string[])[0])).toMatch(/^Bearer realm=".*", error="invalid_token"/);
  });

  it('refuses an internal method to a bearer token, even an admin one', async () => {
    const admin = await t.bearer();
    const wire = await same(f.anonymous, sign({ sub: 'x' }, { bearer: admin }));
    expect(wire).toMatchObject({ code: 'access_denied', grpcStatus: status.PERMISSION_DENIED });
  });

  it('applies the admin access policy: a read token reads, cannot write, and gets insufficient_scope with the scope needed', async () => {
    const reader = await t.bearer({ scope: ['authmesh.read'] });
    expect(await same(f.anonymous, (c) => c.listKeys({}, { bearer: reader }))).toEqual({ response: { keys: [] } });
    const refused = await same(f.anonymous, (c) => c.rotateKeys({ algorithm: 0 }, { bearer: reader }));
    expect(refused).toMatchObject({ code: 'insufficient_scope', grpcStatus: status.PERMISSION_DENIED, metadata: { scope: 'authmesh.admin' } });
    expect(String((refused.challenge as string[])[0])).toMatch(/error="insufficient_scope".*scope="authmesh.admin"/);
    const admin = await t.bearer();
    expect(await same(f.anonymous, (c) => c.rotateKeys({ algorithm: 0 }, { bearer: admin }))).toEqual({ response: { active: undefined, next: undefined } });
  });

  it('carries the error code, description and ErrorInfo metadata of a domain error', async () => {
    const wire = await same(f.withMesh, sign({ mode: 'not_found' }));
    expect(wire).toEqual({ code: 'not_found', description: 'no key with this kid', metadata: { kid: 'k-1' }, grpcStatus: status.NOT_FOUND, challenge: [] });
  });

  it('turns an unexpected handler error into server_error without its message', async () => {
    const wire = await same(f.withMesh, sign({ mode: 'crash' }));
    expect(wire).toMatchObject({ code: 'server_error', grpcStatus: status.INTERNAL });
    expect(JSON.stringify(wire)).not.toContain('s3cr3t');
  });

  it('ends a call slower than its deadline with DEADLINE_EXCEEDED mapped, and aborts the handler (deadline_exceeded)', async () => {
    const g = await startFixture(t);
    try {
      for (const transport of ['grpc', 'in-process'] as const) {
        const before = g.seen.length;
        const result = await outcome(sign({ mode: 'slow' }, { deadline: new Date(Date.now() + 200) })(g.withMesh[transport]));
        expect(result).toMatchObject({ code: 'temporarily_unavailable', grpcStatus: status.DEADLINE_EXCEEDED });
        // The handler's ctx.signal aborts (the caller's deadline passed).
        expect(await g.seen[before]!.aborted).toMatch(/deadline exceeded|cancelled by the caller/);
      }
    } finally {
      await g.close();
    }
  });

  it('cancels the call when the caller aborts: the same error, and the handler is aborted (cancelled_caller)', async () => {
    const g = await startFixture(t);
    try {
      const results = [];
      for (const transport of ['grpc', 'in-process'] as const) {
        const caller = new AbortController();
        const started = g.nextCall();
        const pending = outcome(g.withMesh[transport].signJwt({ claims: { mode: 'slow' }, typ: '' }, { signal: caller.signal }));
        const handler = await started;
        caller.abort();
        results.push(await pending);
        expect(await handler.aborted).toBe('cancelled by the caller');
      }
      expect(results[0]).toMatchObject({ code: 'server_error', grpcStatus: status.CANCELLED });
      expect(results[1]).toEqual(results[0]);
      // Already aborted: the call fails at once, the same way.
      const gone = AbortSignal.abort();
      expect(await outcome(g.withMesh['in-process'].signJwt({ claims: {}, typ: '' }, { signal: gone }))).toEqual(await outcome(g.withMesh.grpc.signJwt({ claims: {}, typ: '' }, { signal: gone })));
    } finally {
      await g.close();
    }
  });

  it('applies the default deadline when the caller gives a later one', async () => {
    const g = await startFixture(t);
    try {
      const before = g.seen.length;
      const short = createInProcessClient(KeyServiceService, g.rpc.inProcess, { metadata: () => new Metadata({}), defaultTimeoutMs: 100 });
      const md = new Metadata();
      md.set(MESH_METADATA_KEY, t.config.meshSecret!);
      const result = await outcome(short.signJwt({ claims: { mode: 'slow' }, typ: '' }, { metadata: md, deadline: new Date(Date.now() + 60_000) }));
      expect(result).toMatchObject({ code: 'temporarily_unavailable', grpcStatus: status.DEADLINE_EXCEEDED });
      expect(g.seen[before]!.request.claims).toEqual({ mode: 'slow' });
    } finally {
      await g.close();
    }
  });

  it('gives the handler its own copy of the request (request_isolation)', async () => {
    for (const transport of ['grpc', 'in-process'] as const) {
      const claims: Record<string, unknown> = { sub: 'alice', nested: { a: 1 } };
      const before = f.seen.length;
      const pending = f.withMesh[transport].signJwt({ claims, typ: 'at+jwt' });
      claims.sub = 'mallory';
      (claims.nested as Record<string, unknown>).a = 2;
      await pending;
      expect(f.seen[before]!.request.claims).toEqual({ sub: 'alice', nested: { a: 1 } });
      expect(f.seen[before]!.request.claims).not.toBe(claims);
    }
  });

  it('gives the caller its own copy of the response', async () => {
    for (const transport of ['grpc', 'in-process'] as const) {
      const res = await f.withMesh[transport].signJwt({ claims: { sub: 'bob' }, typ: '' });
      const served = f.responses[f.responses.length - 1]!;
      expect(res).not.toBe(served);
      served.jwt = 'changed by the server after answering';
      expect(res.jwt).toBe(JSON.stringify({ sub: 'bob' }));
    }
  });

  it('names the in-process caller `in-process`, and audits the address the mesh claims (caller-address)', async () => {
    const before = f.seen.length;
    await f.withMesh.grpc.signJwt({ claims: { remote_ip: '203.0.113.7' }, typ: '' });
    await f.withMesh['in-process'].signJwt({ claims: { remote_ip: '203.0.113.7' }, typ: '' });
    const [wire, local] = f.seen.slice(before);
    expect(wire!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(local!.peer).toBe(IN_PROCESS_PEER);
    expect(local!.principal).toEqual({ kind: 'mesh' });
    expect(wire!.audited).toBe('203.0.113.7');
    expect(local!.audited).toBe('203.0.113.7');
  });
});

describe('the in-process transport follows the server lifecycle as the socket does', () => {
  let t: TestMesh;
  beforeAll(async () => {
    t = await startTestMesh();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves while NOT_SERVING (health is advisory, as with grpc-js) and refuses every call after shutdown (calls_after_shutdown)', async () => {
    const f = await startFixture(t);
    try {
      f.rpc.setServing(false);
      expect(await same(f.withMesh, sign({ sub: 'a' }))).toEqual({ response: { jwt: '{"sub":"a"}', kid: 'k-1' } });
      await f.rpc.shutdown(1_000);
      const wire = await same(f.withMesh, sign({ sub: 'a' }));
      expect(wire).toMatchObject({ code: 'temporarily_unavailable', grpcStatus: status.UNAVAILABLE });
      expect(await same(f.anonymous, (c) => c.getJwks({}))).toMatchObject({ code: 'temporarily_unavailable', grpcStatus: status.UNAVAILABLE });
    } finally {
      await f.close();
    }
  });

  it('ends an in-process call that outlives the shutdown grace with UNAVAILABLE and aborts its handler', async () => {
    const f = await startFixture(t);
    try {
      const running = outcome(f.withMesh['in-process'].signJwt({ claims: { mode: 'slow' }, typ: '' }));
      await f.rpc.shutdown(50);
      expect(await running).toMatchObject({ code: 'temporarily_unavailable', grpcStatus: status.UNAVAILABLE });
      expect(await f.seen[0]!.aborted).toBe('cancelled by the caller');
    } finally {
      await f.close();
    }
  });
});

describe('which peers a mesh calls in process', () => {
  // Closing a server's in-process side (as shutdown does) while its socket stays open shows which
  // path each client takes.
  it('AUTHMESH_PEER_TRANSPORT=in-process: the peers of the mesh (and of its gateway, in embedded mode) call co-located services in process; outside callers use the socket', async () => {
    const m = await startTestMesh({ AUTHMESH_PEER_TRANSPORT: 'in-process' });
    try {
      expect(await outcome(m.peers.key.getJwks({}))).toHaveProperty('response');
      m.mesh.rpc.inProcess.close();
      expect(await outcome(m.peers.key.getJwks({}))).toMatchObject({ code: 'temporarily_unavailable', grpcStatus: status.UNAVAILABLE });
      expect(await outcome(m.anon.key.getJwks({}))).toHaveProperty('response');
    } finally {
      await m.close();
    }
  });

  it('AUTHMESH_PEER_TRANSPORT=grpc: every call crosses the socket', async () => {
    const m = await startTestMesh({ AUTHMESH_PEER_TRANSPORT: 'grpc' });
    try {
      m.mesh.rpc.inProcess.close();
      expect(await outcome(m.peers.key.getJwks({}))).toHaveProperty('response');
    } finally {
      await m.close();
    }
  });

  it('calls in process only the services the given server serves; the others at their address', async () => {
    const t = await startTestMesh();
    const f = await startFixture(t);
    // Only KeyService is served by the fixture; ClientService is the test mesh's, over its socket.
    const peers = createPeers({ ...t.mesh.addresses, key: '127.0.0.1:1' }, t.config.meshSecret!, { inProcess: f.rpc.inProcess });
    try {
      await peers.key.signJwt({ claims: { sub: 'a' }, typ: '' });
      expect(f.seen[f.seen.length - 1]!.peer).toBe(IN_PROCESS_PEER);
      const admin = await t.bearer();
      expect((await peers.client.listClients({ pageSize: 10, pageToken: '' }, { bearer: admin })).clients.length).toBeGreaterThan(0);
    } finally {
      peers.close();
      await f.close();
      await t.close();
    }
  });
});
