// What a gRPC caller gets for request bytes the server cannot honour: undecodable messages and
// admin requests naming fields or enum values the schema does not define are INVALID_ARGUMENT
// (naming the field), after the access check, and change nothing.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { Client as GrpcClient, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, ListClientsResponse } from '../../../gen/ts/authmesh/client/v1/client.js';
import { CheckRequest, CheckResponse } from '../../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { startTestMesh, type TestMesh } from '../../../test/support/mesh.js';
import { uniqueId } from '../../../test/support/ids.js';
import { errorInfoOf } from '../errors/index.js';
import { createStrictRequests } from './strict-messages.js';
import { readFileSync } from 'node:fs';
import { descriptorSetPath } from './paths.js';

/** A field number no authmesh message uses (helpers add fields in the 20s and 30s). */
const UNKNOWN_FIELD = 4000;
/** A GrantType number the enum does not list. */
const UNKNOWN_GRANT_TYPE = 1000;

const CREATE = '/authmesh.client.v1.ClientService/CreateClient';
const LIST = '/authmesh.client.v1.ClientService/ListClients';
const GET_JWKS = '/authmesh.key.v1.KeyService/GetJwks';
const CHECK = '/envoy.service.auth.v3.Authorization/Check';

/** The wire bytes of a message with one extra varint field appended (what a newer client sends). */
function withUnknownField(bytes: Uint8Array, no = UNKNOWN_FIELD): Buffer {
  const extra = new BinaryWriter().uint32((no << 3) | 0).uint32(1).finish();
  return Buffer.concat([bytes, extra]);
}

/** CreateClientRequest bytes whose Client carries the given extra bytes. */
function createRequestBytes(client: Partial<Client>, clientExtra: Uint8Array = new Uint8Array()): Uint8Array {
  const inner = Buffer.concat([Client.encode(Client.fromPartial(client)).finish(), clientExtra]);
  return new BinaryWriter().uint32((1 << 3) | 2).bytes(inner).finish();
}

describe('gRPC requests the server cannot honour', () => {
  let t: TestMesh;
  let raw: GrpcClient;
  let admin: string;

  const call = (path: string, bytes: Uint8Array, bearer?: string) =>
    new Promise<{ err: ServiceError | null; res?: Buffer }>((resolve) => {
      const md = new Metadata();
      if (bearer) md.set('authorization', `Bearer ${bearer}`);
      raw.makeUnaryRequest(
        path,
        (b: Uint8Array) => Buffer.from(b),
        (b: Buffer) => b,
        bytes,
        md,
        { deadline: Date.now() + 10_000 },
        (err, res) => resolve({ err, res }),
      );
    });

  beforeAll(async () => {
    t = await startTestMesh();
    raw = new GrpcClient(`127.0.0.1:${t.mesh.port}`, credentials.createInsecure());
    admin = await t.bearer();
  }, 60_000);
  afterAll(async () => {
    raw?.close();
    await t?.close();
  });

  const clientNames = async () => {
    const { err, res } = await call(LIST, new BinaryWriter().uint32((1 << 3) | 0).int32(1000).finish(), admin);
    expect(err).toBeNull();
    return ListClientsResponse.decode(res!).clients.map((c) => c.clientName);
  };

  it('answers an undecodable message with INVALID_ARGUMENT, not INTERNAL', async () => {
    const garbage = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f]); // field 1, length far past the end
    const admin1 = await call(CREATE, garbage, admin);
    expect(admin1.err?.code).toBe(status.INVALID_ARGUMENT);
    expect(errorInfoOf(admin1.err!)?.reason).toBe('INVALID_REQUEST');
    expect(admin1.err?.details).toMatch(/not a valid protobuf encoding/);
    const pub = await call(GET_JWKS, Uint8Array.from([0x07]), undefined); // wire type 7 does not exist
    expect(pub.err?.code).toBe(status.INVALID_ARGUMENT);
  });

  it('answers undecodable bytes to health and reflection with INVALID_ARGUMENT too, and keeps serving them', async () => {
    const garbage = Uint8Array.from([0x07]); // wire type 7 does not exist
    const health = await call('/grpc.health.v1.Health/Check', garbage);
    expect(health.err?.code).toBe(status.INVALID_ARGUMENT);
    // A bidi stream (reflection) ends with that status on its first undecodable message.
    const reflection = await new Promise<ServiceError | null>((resolve) => {
      const stream = raw.makeBidiStreamRequest('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, new Metadata(), { deadline: Date.now() + 10_000 });
      stream.on('data', () => undefined);
      stream.on('error', (err: ServiceError) => resolve(err));
      stream.on('end', () => resolve(null));
      stream.write(garbage);
      stream.end();
    });
    expect(reflection?.code).toBe(status.INVALID_ARGUMENT);
    const ok = await call('/grpc.health.v1.Health/Check', new Uint8Array());
    expect(ok.err).toBeNull();
  });

  it('checks the caller before judging the bytes: no token is still UNAUTHENTICATED', async () => {
    const { err } = await call(CREATE, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f]));
    expect(err?.code).toBe(status.UNAUTHENTICATED);
  });

  it('refuses an admin write with an unknown field, naming it, and creates nothing', async () => {
    const name = uniqueId('unknown-field');
    const bytes = createRequestBytes(
      { clientName: name, clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'] },
      withUnknownField(new Uint8Array()),
    );
    const { err } = await call(CREATE, bytes, admin);
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(errorInfoOf(err!)?.reason).toBe('INVALID_REQUEST');
    expect(err?.details).toContain(`client.#${UNKNOWN_FIELD}`);
    expect(await clientNames()).not.toContain(name);
    // The same request without the extra field is accepted: the refusal is about that field alone.
    const ok = await call(CREATE, createRequestBytes({ clientName: name, clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'] }), admin);
    expect(ok.err).toBeNull();
    expect(await clientNames()).toContain(name);
  });

  it('refuses an admin write with an enum number its enum does not list, naming the field', async () => {
    const name = uniqueId('unknown-enum');
    const bytes = CreateClientRequest.encode({
      client: Client.fromPartial({
        clientName: name,
        clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
        grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS, UNKNOWN_GRANT_TYPE as GrantType],
        scopes: ['read'],
      }),
    }).finish();
    const { err } = await call(CREATE, bytes, admin);
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toContain('client.grant_types[1]');
    expect(err?.details).toContain(`${UNKNOWN_GRANT_TYPE} is not a value of authmesh.client.v1.GrantType`);
    expect(await clientNames()).not.toContain(name);
  });

  it('keeps proto3 tolerance where callers are not admins: ext_authz Check ignores fields of a newer Envoy', async () => {
    const bytes = withUnknownField(CheckRequest.encode(CheckRequest.fromPartial({})).finish());
    const { err, res } = await call(CHECK, bytes);
    expect(err).toBeNull();
    expect(CheckResponse.decode(res!).status?.code).not.toBe(0); // denied: no token, but decoded and judged
  });

  it('knows the admin surface from the descriptor set: annotated RPCs only', () => {
    const strict = createStrictRequests(readFileSync(descriptorSetPath()));
    const extra = withUnknownField(new Uint8Array());
    expect(strict.unknownFieldIn(CREATE, extra)).toContain(`#${UNKNOWN_FIELD}`);
    expect(strict.unknownFieldIn('/authmesh.client.v1.ClientService/AuthenticateClient', extra)).toBeUndefined();
    expect(strict.unknownFieldIn(CHECK, extra)).toBeUndefined();
  });
});
