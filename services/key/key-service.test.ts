// The gRPC pipeline end to end over loopback: the real key service on the embedded store, its
// generated ts-proto client, grpc.health.v1, server reflection (listed by `buf curl`, a client
// we did not write), and a domain error arriving as status + google.rpc.ErrorInfo.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { credentials, makeClientConstructor, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyServiceClient, KeyStatus, type GetJwksResponse } from '../../gen/ts/authmesh/key/v1/key.js';
import { errorInfoOf, fromGrpcError } from '../core/errors/index.js';
import { createMemoryGrid } from '../core/grid/index.js';
import { silentLogger } from '../core/log/index.js';
import { createRpcServer, repoRoot, type RpcServer } from '../core/rpc/index.js';
import { createPgliteStore } from '../core/store/pglite-store.js';
import type { Store } from '../core/store/index.js';
import { createKeyRing, type KeyRing } from './key-ring.js';
import { createKeyService, KEY_SERVICE_NAME } from './key-service.js';

const exec = promisify(execFile);

describe('key service over gRPC (loopback)', () => {
  let store: Store;
  let ring: KeyRing;
  let rpc: RpcServer;
  let port: number;
  let client: KeyServiceClient;

  beforeAll(async () => {
    store = await createPgliteStore();
    ring = createKeyRing({ store: store.keys, grid: createMemoryGrid(), masterKey: Buffer.alloc(32, 7), defaultAlg: 'ES256', retiredKeyTtlSeconds: 3600 });
    await ring.ensureReady();
    rpc = createRpcServer({ services: [createKeyService(ring)], log: silentLogger() });
    port = await rpc.listen('127.0.0.1', 0);
    rpc.setServing(true);
    client = new KeyServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await rpc?.shutdown(1000);
    await store?.close();
  });

  const getJwks = () =>
    new Promise<GetJwksResponse>((resolve, reject) => client.getJwks({}, (err, res) => (err ? reject(err) : resolve(res))));

  it('serves a JWKS with the active and the next key, public members only', async () => {
    const jwks = await getJwks();
    expect(jwks.keys).toHaveLength(2);
    for (const k of jwks.keys) {
      expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(k.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(k.x).not.toBe('');
      expect(k).not.toHaveProperty('d');
    }
    const keys = await ring.list();
    expect(keys.map((k) => k.status).sort()).toEqual(['active', 'next']);
    expect(jwks.keys[0]?.kid).toBe(keys.find((k) => k.status === 'active')?.kid);
  });

  it('signs with the active key and the token verifies with jose against the served JWKS', async () => {
    const signer = await ring.signer();
    const jwt = signer.sign({ sub: 'alice', iat: 1 }, 'at+jwt');
    const jwks = await getJwks();
    const header = decodeProtectedHeader(jwt);
    expect(header).toEqual({ alg: 'ES256', kid: signer.kid, typ: 'at+jwt' });
    const keySet = createLocalJWKSet({ keys: jwks.keys.map((k) => Object.fromEntries(Object.entries(k).filter(([, v]) => v !== ''))) });
    const { payload } = await compactVerify(jwt, keySet);
    expect(JSON.parse(Buffer.from(payload).toString())).toEqual({ sub: 'alice', iat: 1 });
  });

  it('rotation promotes the published next key and keeps the retired one published', async () => {
    const before = await getJwks();
    const nextKid = (await ring.list()).find((k) => k.status === 'next')?.kid;
    const rotated = await ring.rotate();
    expect(rotated.active.kid).toBe(nextKid);
    expect(before.keys.map((k) => k.kid)).toContain(rotated.active.kid);
    expect(rotated.retired?.status).toBe('retired');
    const after = await getJwks();
    expect(after.keys.map((k) => k.kid)).toEqual([rotated.active.kid, rotated.next.kid, rotated.retired?.kid]);
    expect((await ring.signer()).kid).toBe(rotated.active.kid);
  });

  it('refuses an internal RPC without the mesh credential: UNAUTHENTICATED + ErrorInfo INVALID_TOKEN', async () => {
    const err = await new Promise<ServiceError>((resolve) =>
      client.signJwt({ claims: { sub: 'x' }, typ: 'at+jwt' }, (e) => resolve(e as ServiceError)),
    );
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(errorInfoOf(err)).toEqual({ reason: 'INVALID_TOKEN', domain: 'authmesh', metadata: {} });
    const domain = fromGrpcError(err);
    expect(domain.code).toBe('invalid_token');
    expect(domain.name).toBe('InvalidToken');
  });

  it('refuses admin RPCs without a token and never lists keys anonymously', async () => {
    const err = await new Promise<ServiceError>((resolve) => client.listKeys({}, new Metadata(), (e) => resolve(e as ServiceError)));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(errorInfoOf(err)?.reason).toBe('INVALID_TOKEN');
  });

  it('reports SERVING over grpc.health.v1 for the server and the key service, NOT_SERVING after shutdown starts', async () => {
    const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health');
    const health = new Health(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as {
      check(req: { service: string }, cb: (e: Error | null, r: { status: string }) => void): void;
      close(): void;
    };
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) => health.check({ service }, (e, r) => (e ? reject(e) : resolve(r))));
    expect((await check('')).status).toBe('SERVING');
    expect((await check(KEY_SERVICE_NAME)).status).toBe('SERVING');
    await expect(check('no.such.Service')).rejects.toMatchObject({ code: status.NOT_FOUND });
    rpc.setServing(false);
    expect((await check(KEY_SERVICE_NAME)).status).toBe('NOT_SERVING');
    rpc.setServing(true);
    health.close();
  });

  it('lists every service through server reflection with buf curl', async () => {
    const buf = `${repoRoot}/node_modules/.bin/buf`;
    const { stdout } = await exec(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--list-methods', `http://127.0.0.1:${port}`]);
    const methods = stdout.trim().split('\n');
    expect(methods).toEqual(
      expect.arrayContaining([
        'authmesh.key.v1.KeyService/GetJwks',
        'authmesh.key.v1.KeyService/SignJwt',
        'grpc.health.v1.Health/Check',
      ]),
    );
  });

  it('calls GetJwks through reflection with buf curl and gets proto JSON', async () => {
    const buf = `${repoRoot}/node_modules/.bin/buf`;
    const { stdout } = await exec(buf, [
      'curl', '--protocol', 'grpc', '--http2-prior-knowledge', `http://127.0.0.1:${port}/authmesh.key.v1.KeyService/GetJwks`,
    ]);
    const body = JSON.parse(stdout) as { keys: { kid: string; kty: string }[] };
    expect(body.keys.length).toBeGreaterThanOrEqual(2);
    expect(body.keys.every((k) => k.kty === 'EC')).toBe(true);
  });

  it('keeps key status readable by kid and rejects an unknown kid with NOT_FOUND', async () => {
    const active = (await ring.list()).find((k) => k.status === 'active');
    expect((await ring.get(active!.kid)).status).toBe('active');
    await expect(ring.get('nope')).rejects.toMatchObject({ code: 'not_found' });
    expect(KeyStatus.KEY_STATUS_ACTIVE).toBe(2);
  });
});
