// Malformed RPC requests for the Connect bridge (Connect JSON and binary, gRPC-Web, gRPC over
// HTTP/1.1) and the native gRPC port: mutated valid messages of the RPC, broken envelopes
// (length prefixes, compressed flags, truncation), wrong content types, bad metadata.
import { gzipSync } from 'node:zlib';
import type { DescMethod } from '@bufbuild/protobuf';
import { encode, encodeJson, mutateBytes, mutateJson, randomMessage, type StringPool } from './messages.js';
import type { Canaries } from './http-mutators.js';
import type { Rng } from './prng.js';

/** A gRPC / gRPC-Web length-prefixed message: flag byte, 4-byte big-endian length, payload. */
export function envelope(flags: number, payload: Buffer, declaredLength = payload.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags & 0xff, 0);
  head.writeUInt32BE(declaredLength >>> 0, 1);
  return Buffer.concat([head, payload]);
}

/** The payload of one request: a valid encoding of a random message, or a mutated one. */
export function messagePayload(rng: Rng, method: DescMethod, pool: StringPool): { payload: Buffer; label: string } {
  const msg = randomMessage(rng, method.input, pool);
  const valid = Buffer.from(encode(msg));
  switch (rng.int(5)) {
    case 0:
      return { payload: valid, label: 'msg:valid-random' };
    case 1:
      return { payload: rng.bytes(rng.range(0, 512)), label: 'msg:random-bytes' };
    case 2:
      return { payload: Buffer.alloc(0), label: 'msg:empty' };
    default:
      return { payload: mutateBytes(rng, valid), label: 'msg:mutated' };
  }
}

/** A broken envelope around the payload (or a correct one), as raw frames for gRPC and gRPC-Web. */
export function framedBody(rng: Rng, payload: Buffer): { body: Buffer; label: string; encoding?: string } {
  switch (rng.int(10)) {
    case 0:
      return { body: envelope(0, payload, payload.length + rng.range(1, 1000)), label: 'frame:length-too-long' };
    case 1:
      return { body: envelope(0, payload, Math.max(0, payload.length - rng.range(1, 5))), label: 'frame:length-too-short' };
    case 2:
      return { body: envelope(0, payload, rng.pick([0xffffffff, 0x7fffffff, 64 * 1024 * 1024])), label: 'frame:huge-declared-length' };
    case 3:
      return { body: envelope(1, payload), label: 'frame:compressed-flag-no-encoding' };
    case 4:
      return { body: envelope(rng.pick([2, 0x80, 0xff, 0x7e]), payload), label: 'frame:unknown-flags' };
    case 5:
      return { body: envelope(0, payload).subarray(0, rng.range(0, 4)), label: 'frame:truncated-prefix' };
    case 6:
      return { body: Buffer.concat([envelope(0, payload), envelope(0, payload)]), label: 'frame:two-messages-unary' };
    case 7:
      return { body: Buffer.alloc(0), label: 'frame:no-message' };
    case 8:
      // Compressed flag with a gzip encoding declared but the payload a bomb or not gzip at all.
      if (rng.chance(0.5)) return { body: envelope(1, gzipSync(Buffer.alloc(rng.pick([1 << 20, 8 << 20]), 0))), label: 'frame:gzip-bomb', encoding: 'gzip' };
      return { body: envelope(1, payload), label: 'frame:compressed-not-gzip', encoding: 'gzip' };
    default:
      return { body: envelope(0, payload), label: 'frame:valid' };
  }
}

export interface RpcHttpCase {
  headers: [string, string][];
  body: Buffer;
  label: string;
}

/** Authorization for RPC cases: the valid admin token most of the time, so handlers are reached. */
function authorization(rng: Rng, bearer: string, canaries: Canaries): [string, string][] {
  const r = rng.int(10);
  if (r < 6) return [['authorization', `Bearer ${bearer}`]];
  if (r === 6) return [];
  if (r === 7) return [['authorization', `Bearer ${canaries.token}`]];
  if (r === 8) return [['authorization', `Bearer ${bearer.slice(0, -5)}${rng.text(5).replace(/[^\x21-\x7e]/g, 'A')}`]];
  return [['authorization', rng.pick(['Bearer', 'Basic ' + Buffer.from(`x:${canaries.secret}`).toString('base64'), 'Bearer ' + 'a'.repeat(10_000), `Bearer ${bearer}, Bearer ${bearer}`, '\u00ff\u00fe'])]];
}

/** One malformed (or occasionally well-formed) request to a bridged RPC path over HTTP/1.1. */
export function bridgeCase(rng: Rng, method: DescMethod, pool: StringPool, bearer: string, canaries: Canaries): RpcHttpCase {
  const auth = authorization(rng, bearer, canaries);
  const protocol = rng.int(5);
  if (protocol <= 1) {
    // Connect unary JSON.
    const msg = randomMessage(rng, method.input, pool);
    const json = encodeJson(msg) ?? {};
    let body: Buffer;
    let label: string;
    switch (rng.int(6)) {
      case 0:
        body = Buffer.from(JSON.stringify(json));
        label = 'connect-json:valid-random';
        break;
      case 1:
        body = Buffer.from(JSON.stringify(mutateJson(rng, json)));
        label = 'connect-json:mutated';
        break;
      case 2:
        body = Buffer.from(rng.pick(['', '{', 'null', '[]', '{"a":}', '\ufeff{}', '{"__proto__":{"x":1}}', '"str"', '{}{}', '{"a":"\\ud800"}']));
        label = 'connect-json:malformed';
        break;
      case 3:
        body = Buffer.concat([Buffer.from(JSON.stringify(json)), Buffer.from([0xff, 0xfe])]);
        label = 'connect-json:invalid-utf8';
        break;
      case 4:
        body = rng.bytes(rng.range(1, 512));
        label = 'connect-json:random-bytes';
        break;
      default:
        body = Buffer.from(JSON.stringify(mutateJson(rng, mutateJson(rng, json))));
        label = 'connect-json:mutated-twice';
    }
    const headers: [string, string][] = [['content-type', rng.chance(0.9) ? 'application/json' : rng.pick(['application/json; charset=latin1', 'application/json; charset=utf-8', 'text/json'])], ...auth];
    if (rng.chance(0.5)) headers.push(['connect-protocol-version', rng.pick(['1', '1', '2', 'x'])]);
    if (rng.chance(0.15)) headers.push(['connect-timeout-ms', rng.pick(['0', '-1', 'abc', '99999999999', '1'])]);
    if (rng.chance(0.15)) {
      const bomb = rng.chance(0.5);
      body = bomb ? gzipSync(Buffer.alloc(rng.pick([1 << 20, 16 << 20]), 0x20)) : rng.chance(0.5) ? gzipSync(body) : body;
      headers.push(['content-encoding', rng.pick(['gzip', 'gzip', 'br', 'x-unknown'])]);
      label += bomb ? '+gzip-bomb' : '+content-encoding';
    }
    return { headers, body, label };
  }
  if (protocol === 2) {
    // Connect unary binary.
    const { payload, label } = messagePayload(rng, method, pool);
    const headers: [string, string][] = [['content-type', 'application/proto'], ...auth];
    if (rng.chance(0.5)) headers.push(['connect-protocol-version', '1']);
    let body = payload;
    let l = `connect-proto:${label}`;
    if (rng.chance(0.15)) {
      body = rng.chance(0.5) ? gzipSync(Buffer.alloc(rng.pick([1 << 20, 16 << 20]), 0)) : rng.bytes(32);
      headers.push(['content-encoding', 'gzip']);
      l += '+gzip';
    }
    return { headers, body, label: l };
  }
  // gRPC-Web (binary or text) or gRPC over HTTP/1.1, with envelopes.
  const { payload, label } = messagePayload(rng, method, pool);
  const framed = framedBody(rng, payload);
  const kind = rng.pick(['application/grpc-web+proto', 'application/grpc-web', 'application/grpc-web-text', 'application/grpc-web+json', 'application/grpc', 'application/grpc+proto']);
  const headers: [string, string][] = [['content-type', kind], ...auth];
  if (kind.startsWith('application/grpc-web')) headers.push(['x-grpc-web', '1']);
  if (framed.encoding) headers.push([kind.startsWith('application/grpc-web') ? 'grpc-encoding' : 'grpc-encoding', framed.encoding]);
  if (rng.chance(0.1)) headers.push(['grpc-timeout', rng.pick(['1n', '99999999999H', 'abc', '-1S', '0m'])]);
  let body = framed.body;
  if (kind === 'application/grpc-web-text') body = Buffer.from(rng.chance(0.8) ? body.toString('base64') : `${body.toString('base64')}!!==`);
  return { headers, body, label: `${kind.replace('application/', '')}:${label}+${framed.label}` };
}
