// How the Connect bridge reads a request body (issue 11 items 1 and 12). connect-node reads the
// raw request itself, with no size limit by default and gzip/brotli accepted, before any token
// is looked at: one 200 KB gzip bomb cost a gigabyte. Here the body is read only after the
// caller is authenticated, never beyond the gateway's body limit (declared Content-Length and
// bytes actually received), decompressed only as gzip with a hard output cap and a ratio limit,
// and a binary message that does not decode is the caller's error (INVALID_ARGUMENT), not 500.
import { promisify } from 'node:util';
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import { fromBinary, type DescMessage } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Compression } from '@connectrpc/connect/protocol';
import { findUnknownField } from '../services/core/rpc/strict-messages.js';

const gunzip = promisify(gunzipCb);
const gzip = promisify(gzipCb);

/** Largest decompressed/compressed size ratio accepted: JSON and protobuf admin requests
 * compress far less; a bomb compresses by a factor of a thousand. */
export const MAX_DECOMPRESSION_RATIO = 100;
/** Decompressed sizes up to this are accepted whatever the ratio (tiny bodies compress oddly). */
const RATIO_FREE_BYTES = 4096;
/** The 5-byte prefix of each gRPC / gRPC-Web message: flags, then big-endian length. */
const ENVELOPE_HEADER_BYTES = 5;

function tooLarge(limit: number): ConnectError {
  return new ConnectError(`the request body exceeds the ${limit}-byte limit`, Code.ResourceExhausted);
}

/**
 * gzip for the bridge's acceptCompression: decompresses to at most
 * min(readMaxBytes, max(4096, 100 × compressed size)) bytes (zlib stops there, so a bomb costs
 * no more memory than the cap). Beyond the cap: ResourceExhausted; bytes that are not gzip:
 * InvalidArgument (connect-node's own gzip answers some of those with Internal).
 */
export const boundedGzip: Compression = {
  name: 'gzip',
  async compress(bytes) {
    return new Uint8Array(await gzip(bytes));
  },
  async decompress(bytes, readMaxBytes) {
    if (bytes.byteLength === 0) return new Uint8Array(0);
    const cap = Math.min(readMaxBytes, Math.max(RATIO_FREE_BYTES, bytes.byteLength * MAX_DECOMPRESSION_RATIO));
    try {
      return new Uint8Array(await gunzip(bytes, { maxOutputLength: cap }));
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new ConnectError(
          `the request body decompresses to more than ${cap} bytes (limit: the body limit, and ${MAX_DECOMPRESSION_RATIO} times the compressed size)`,
          Code.ResourceExhausted,
        );
      }
      throw new ConnectError('the request body is not valid gzip', Code.InvalidArgument);
    }
  },
};

export interface GatedBodyOptions {
  /** Largest message accepted, bytes (after decompression too). */
  maxBytes: number;
  /** The method's request message, to judge binary bodies before connect does. */
  input: DescMessage;
  /** Runs before the first byte is read; throws (a ConnectError) to refuse the caller. */
  authenticate: () => Promise<void>;
}

/**
 * Wraps the raw request body that connect-node will read. Errors thrown here surface as the
 * protocol's own error response (Connect JSON, gRPC-Web trailers), and nothing is read before
 * `authenticate` resolves. Binary bodies are checked whole (they are small: at most maxBytes):
 * a message that does not decode, or that names fields or enum numbers the schema does not
 * define, is InvalidArgument naming what was wrong.
 */
export function gatedBody(raw: AsyncIterable<Uint8Array>, header: Headers, options: GatedBodyOptions): AsyncIterable<Uint8Array> {
  const { maxBytes } = options;
  const contentType = (header.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const enveloped = contentType.startsWith('application/grpc');
  // Enveloped bodies carry a 5-byte prefix per message; connect bounds each message itself.
  const maxBodyBytes = maxBytes + (enveloped ? ENVELOPE_HEADER_BYTES : 0);
  const binary = contentType === 'application/proto' || /^application\/grpc(-web)?(\+proto)?$/.test(contentType);
  return {
    async *[Symbol.asyncIterator]() {
      await options.authenticate();
      const declared = header.get('content-length');
      if (declared !== null && Number(declared) > maxBodyBytes) throw tooLarge(maxBytes);
      const chunks: Uint8Array[] = [];
      let received = 0;
      for await (const chunk of raw) {
        received += chunk.byteLength;
        if (received > maxBodyBytes) throw tooLarge(maxBytes);
        chunks.push(chunk);
      }
      const body = Buffer.concat(chunks);
      // Envelopes are checked whatever the codec (their flags); the message inside only when binary.
      if (enveloped) await checkEnvelopes(body, header.get('grpc-encoding'), options, binary);
      else if (binary) await checkMessage(await decompressed(body, header.get('content-encoding'), maxBytes), options.input);
      yield body;
    },
  };
}

/**
 * Content codings the bridge reads (RFC 9110 §8.4): gzip, or none. Any other is refused by the
 * route before connect-node sees it, with 415 and Accept-Encoding (RFC 9110 §15.5.16), not the
 * 501 connect-node answers.
 */
export function acceptedContentEncoding(encoding: string | undefined): boolean {
  if (encoding === undefined) return true;
  const value = encoding.trim().toLowerCase();
  return value === '' || value === 'identity' || value === boundedGzip.name;
}

/** The body as connect will see it after decompression; unknown encodings are left to connect. */
async function decompressed(body: Uint8Array, encoding: string | null, maxBytes: number): Promise<Uint8Array | undefined> {
  if (encoding === null || encoding === '' || encoding === 'identity') return body;
  if (encoding === boundedGzip.name) return boundedGzip.decompress(body, maxBytes);
  return undefined; // connect refuses the encoding itself (Unimplemented, with what it accepts)
}

async function checkEnvelopes(body: Buffer, encoding: string | null, options: GatedBodyOptions, binary: boolean): Promise<void> {
  let at = 0;
  while (at < body.byteLength) {
    if (body.byteLength - at < ENVELOPE_HEADER_BYTES) throw new ConnectError('the request body ends inside a message prefix', Code.InvalidArgument);
    const flags = body[at]!;
    const length = body.readUInt32BE(at + 1);
    const start = at + ENVELOPE_HEADER_BYTES;
    if (length > options.maxBytes) throw tooLarge(options.maxBytes);
    if (start + length > body.byteLength) throw new ConnectError('the request body ends inside a message', Code.InvalidArgument);
    const payload = body.subarray(start, start + length);
    // gRPC over HTTP/2 §Length-Prefixed-Message: flag bit 0 marks a compressed message; a request
    // has no other flag, and a compressed one needs the grpc-encoding it was compressed with.
    if ((flags & ~1) !== 0) throw new ConnectError(`a request message has unknown flags 0x${flags.toString(16)}`, Code.InvalidArgument);
    const compressed = (flags & 1) === 1;
    if (compressed && (encoding === null || encoding === '' || encoding === 'identity')) {
      throw new ConnectError('a request message is marked compressed but no grpc-encoding was sent', Code.InvalidArgument);
    }
    if (binary) await checkMessage(compressed ? await decompressed(payload, encoding, options.maxBytes) : payload, options.input);
    at = start + length;
  }
}

async function checkMessage(bytes: Uint8Array | undefined, input: DescMessage): Promise<void> {
  if (bytes === undefined) return;
  let unknown: string | undefined;
  try {
    unknown = findUnknownField(reflect(input, fromBinary(input, bytes, { readUnknownFields: true })));
  } catch (err) {
    throw new ConnectError(`the request body is not a valid binary ${input.typeName}: ${err instanceof Error ? err.message : 'undecodable'}`, Code.InvalidArgument);
  }
  if (unknown !== undefined) throw new ConnectError(`the request has a field this server does not understand: ${unknown}`, Code.InvalidArgument);
}
