// The command-line tool's pure pieces: what it prints for people, the offline JWT decoder and the
// mapping of a failure to its one stderr line and exit status.
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { connect, describeFailure, EXIT, isLoopbackAddr, UsageError } from '../../cli/connection.js';
import { decodedView, decodeJwt } from '../../cli/jwt-decode.js';
import { formatKeyValues, formatTable } from '../../cli/output.js';
import { fromGrpcError, InvalidClient, toGrpcStatus } from '../../services/core/errors/index.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('people view', () => {
  it('a table pads columns and shows lists joined, absent fields empty', () => {
    const out = formatTable(
      [
        { clientId: 'a', scopes: ['x', 'y'] },
        { clientId: 'long-id', clientName: 'N' },
      ],
      [
        { header: 'CLIENT_ID', field: 'clientId' },
        { header: 'NAME', field: 'clientName' },
        { header: 'SCOPES', field: 'scopes' },
      ],
    );
    expect(out.split('\n')).toEqual(['CLIENT_ID  NAME  SCOPES', 'a                x, y', 'long-id    N']);
  });

  it('terminal escapes in server data (a client name) are shown escaped, never sent to the terminal', () => {
    const hostile = 'evil\u001b[2J\u001b]0;pwned\u0007\r\nfake row';
    for (const out of [formatTable([{ clientName: hostile }], [{ header: 'NAME', field: 'clientName' }]), formatKeyValues({ clientName: hostile })]) {
      expect(out).not.toMatch(/\p{Cc}(?<!\n)/u);
      expect(out).toContain('evil\\u001b[2J');
      expect(out.split('\n').filter((l) => l.includes('fake row'))).toEqual([expect.stringContaining('\\u000d\\u000afake row')]);
    }
  });

  it('a key/value view flattens nested messages with dotted names', () => {
    expect(formatKeyValues({ kid: 'k1', publicJwk: { kty: 'EC', crv: 'P-256' } }).split('\n')).toEqual(['kid            k1', 'publicJwk.kty  EC', 'publicJwk.crv  P-256']);
  });
});

describe('tokens decode (offline, unverified)', () => {
  it('decodes header and claims and says the signature was not verified', () => {
    const decoded = decodeJwt(`${b64({ alg: 'ES256', typ: 'at+jwt' })}.${b64({ sub: 's', exp: 1_800_000_000 })}.sig`);
    expect(decoded).toEqual({ header: { alg: 'ES256', typ: 'at+jwt' }, payload: { sub: 's', exp: 1_800_000_000 }, signatureVerified: false });
    const view = decodedView(decoded);
    expect(view.claims).toMatchObject({ exp: '1800000000 (2027-01-15T08:00:00.000Z)' });
    expect(view.signature).toMatch(/^NOT VERIFIED/);
  });

  it('an absurd NumericDate is shown as it is, not a crash', () => {
    const view = decodedView(decodeJwt(`${b64({ alg: 'none' })}.${b64({ exp: 1e300, iat: -1e20 })}.`));
    expect(view.claims).toEqual({ exp: 1e300, iat: -1e20 });
  });

  it('refuses what is not a readable JWS as a usage error (exit 2)', () => {
    const cases = ['', 'abc', 'a.b', `${b64({ alg: 'x' })}.${b64([1, 2])}.s`, `${b64({ alg: 'x' })}.not+base64.s`, `${b64({ alg: 'x' })}.${Buffer.from('{').toString('base64url')}.s`, 'a.b.c.d.e', 'x'.repeat(20_000)];
    for (const token of cases) {
      let thrown: unknown;
      try {
        decodeJwt(token);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, token.slice(0, 40)).toBeInstanceOf(UsageError);
      expect(describeFailure(thrown, undefined).status).toBe(EXIT.usage);
    }
  });
});

describe('failure → stderr line and exit status', () => {
  it('a refusal the server sent with an RFC error code is exit 1 with that code', () => {
    const sent = toGrpcStatus(new InvalidClient('client authentication failed'));
    const received = fromGrpcError(Object.assign(new Error(sent.details), sent));
    expect(describeFailure(received, '127.0.0.1:50051')).toEqual({ status: EXIT.refused, line: 'authmesh: invalid_client: client authentication failed' });
  });

  it('no connection, or no answer before the deadline, is exit 3', () => {
    for (const code of [status.UNAVAILABLE, status.DEADLINE_EXCEEDED]) {
      const err = fromGrpcError(Object.assign(new Error('x'), { code, details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ', metadata: new Metadata() }));
      const out = describeFailure(err, '127.0.0.1:1');
      expect(out.status).toBe(EXIT.unreachable);
      expect(out.line).toMatch(/^authmesh: temporarily_unavailable: cannot reach the mesh at 127\.0\.0\.1:1: \S.*\S$/);
    }
  });

  it('a description cannot break the one-line shape', () => {
    const out = describeFailure(new UsageError('two\nlines\u001b[2J'), undefined);
    expect(out.line.split('\n')).toHaveLength(1);
    expect(out.line).not.toMatch(/\p{Cc}/u);
  });
});

describe('isLoopbackAddr (plaintext gRPC stays on this machine)', () => {
  it.each<[string, boolean]>([
    ['127.0.0.1:50051', true],
    ['127.8.9.10:1', true],
    ['localhost:50051', true],
    ['[::1]:50051', true],
    ['LOCALHOST:1', true],
    ['10.0.0.1:50051', false],
    ['mesh.example.com:50051', false],
    ['127.0.0.1.example.com:50051', false],
    ['[::2]:50051', false],
    // A stack's instance list (AUTHMESH_<SVC>_ADDR): loopback only when every instance is.
    ['127.0.0.1:50051,127.0.0.1:50061', true],
    ['127.0.0.1:50051,10.0.0.1:50051', false],
  ])('%s → %s', (addr, expected) => {
    expect(isLoopbackAddr(addr)).toBe(expected);
  });

  it("takes a stack's instance list from AUTHMESH_<SVC>_ADDR, and refuses plaintext when one instance is elsewhere", () => {
    const local = connect({}, { AUTHMESH_CLIENT_ADDR: '127.0.0.1:50051, 127.0.0.1:50061' });
    expect(() => local.rpc('client')).not.toThrow();
    const mixed = connect({}, { AUTHMESH_CLIENT_ADDR: '127.0.0.1:50051,10.0.0.1:50051' });
    expect(() => mixed.rpc('client')).toThrow(UsageError);
    const broken = connect({}, { AUTHMESH_CLIENT_ADDR: '127.0.0.1:50051,http://x' });
    expect(() => broken.rpc('client')).toThrow(/AUTHMESH_CLIENT_ADDR must be host:port or a comma-separated list/);
  });
});
