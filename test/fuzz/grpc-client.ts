// A raw HTTP/2 client for the gRPC fuzz suite: sends exactly the headers and bytes a case
// builds (node:http2 adds nothing gRPC-specific), and writes raw HTTP/2 frames on plain TCP for
// what node:http2 would never send.
import http2 from 'node:http2';
import net from 'node:net';

export interface GrpcAnswer {
  /** HTTP :status, 0 if none arrived. */
  httpStatus: number;
  /** grpc-status from headers or trailers, undefined if none. */
  grpcStatus: number | undefined;
  grpcMessage: string;
  /** Bytes of response messages (envelopes included). */
  body: Buffer;
  /** Stream or session error code, e.g. ERR_HTTP2_STREAM_ERROR / NGHTTP2_REFUSED_STREAM. */
  error?: string;
  timedOut?: boolean;
}

export interface GrpcCall {
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** Reset the stream after writing the body, without ending it. */
  resetAfterWrite?: boolean;
}

const BODY_KEEP = 64 * 1024;

/** One call on an existing session. Never rejects. */
export function callOn(session: http2.ClientHttp2Session, call: GrpcCall, timeoutMs: number): Promise<GrpcAnswer> {
  return new Promise((resolve) => {
    const answer: GrpcAnswer = { httpStatus: 0, grpcStatus: undefined, grpcMessage: '', body: Buffer.alloc(0) };
    let settled = false;
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (extra: Partial<GrpcAnswer> = {}) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...answer, body: Buffer.concat(chunks), ...extra });
    };
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(call.headers, { endStream: false });
    } catch (err) {
      return done({ error: `client refused: ${(err as Error).message}` });
    }
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      done({ timedOut: true, error: 'timeout' });
    }, timeoutMs);
    const readStatus = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) answer.grpcStatus = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) answer.grpcMessage = decodeGrpcMessage(String(h['grpc-message']));
    };
    stream.on('response', (h) => {
      answer.httpStatus = Number(h[':status'] ?? 0);
      readStatus(h);
    });
    stream.on('trailers', readStatus);
    stream.on('data', (d: Buffer) => {
      if (size < BODY_KEEP) chunks.push(d);
      size += d.length;
    });
    stream.on('end', () => done());
    stream.on('close', () => done(stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR && answer.grpcStatus === undefined ? { error: `rst ${stream.rstCode}` } : {}));
    stream.on('error', (err) => done({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
    stream.write(call.body, () => {
      if (call.resetAfterWrite) stream.close(http2.constants.NGHTTP2_CANCEL);
      else stream.end();
    });
  });
}

function decodeGrpcMessage(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A session with its errors swallowed (a fuzz case may make the server end it). */
export function openSession(address: string): http2.ClientHttp2Session {
  const session = http2.connect(address);
  session.on('error', () => {});
  return session;
}

/** An HTTP/2 frame: 9-byte header (length, type, flags, stream id) and payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer, declaredLength = payload.length): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(declaredLength & 0xffffff, 0, 3);
  head.writeUInt8(type & 0xff, 3);
  head.writeUInt8(flags & 0xff, 4);
  head.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([head, payload]);
}

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Writes raw bytes on a fresh TCP connection and waits until the server closes it or timeoutMs
 * passes; returns what came back (e.g. a GOAWAY). Never rejects.
 */
export function sendRawFrames(host: string, port: number, bytes: Buffer, timeoutMs: number): Promise<{ received: Buffer; closedByServer: boolean; error?: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closedByServer: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks).subarray(0, 4096), closedByServer, error });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => {
      if (chunks.length < 64) chunks.push(d);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (err) => finish(true, (err as NodeJS.ErrnoException).code ?? err.message));
  });
}
