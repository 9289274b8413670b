// The Connect bridge's gRPC connection to a service address, shared by every bridged call.
//
// Issue 11 item 1: one 16 MiB request forwarded over the shared HTTP/2 session left it refusing
// every later stream with NGHTTP2_ENHANCE_YOUR_CALM until restart (connect-node keeps a session
// that still looks open). Here messages are bounded both ways (never sending what the server
// would refuse), and a call that fails below gRPC — a stream or session error raised by Node, not
// a status sent by the service — retires the connection: new calls get a fresh one at once, the
// old one is closed when its last call ends.
//
// Issue 18: the address may list several instances of the service. Calls rotate over them
// (round robin), and a call that never reached a server (connection refused, a stream the server
// refused while closing: RFC 9113 §8.7 guarantees it was not processed) is made again on the next
// instance, so a restarting instance costs no admin call. A call that may have reached a server
// is never repeated: it may have taken effect.
import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';

export interface UpstreamOptions {
  /** host:port of the service's gRPC server, or a comma-separated list of its instances. */
  address: string;
  /** Largest request message sent, bytes (the services accept 1 MiB). */
  writeMaxBytes: number;
  /** Largest response message read, bytes. */
  readMaxBytes: number;
}

interface Connection {
  session: Http2SessionManager;
  clients: Map<DescService, Client<DescService>>;
  inflight: number;
  retired: boolean;
}

/** One instance of the service: its current connection, and until when it is passed over. */
interface Instance {
  address: string;
  current: Connection;
  /** Epoch ms before which new calls go to other instances (a call found it refusing). */
  avoidUntil: number;
}

// An instance that refused a call is passed over this long (it is restarting, or gone): long
// enough not to knock on a closed port for every call, short enough to take it back soon after.
const AVOID_MS = 1_000;

/** True when the failure came from this process's HTTP/2 stack rather than from the service. */
export function isTransportFailure(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return false;
  if (err.code === Code.DeadlineExceeded || err.code === Code.Canceled) return false;
  for (let e: unknown = err.cause, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (typeof (e as { code?: unknown }).code === 'string') return true; // a Node error code: ERR_HTTP2_STREAM_ERROR, ECONNRESET …
  }
  return false;
}

// Node error codes meaning the request was never sent to a server that could act on it.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION']);

/**
 * True when a transport failure shows the call never reached the service's handlers: no
 * connection (refused, unresolvable, unreachable), a session already going away, or the stream
 * refused with REFUSED_STREAM (RFC 9113 §8.7: the server did not process it). Such a call is safe
 * to make again elsewhere, whatever it does. A reset or timeout after sending is not: false.
 */
export function neverReachedServer(err: unknown): boolean {
  if (!isTransportFailure(err)) return false;
  for (let e: unknown = (err as ConnectError).cause, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
    if (code === 'ERR_HTTP2_STREAM_ERROR' && e.message.includes('NGHTTP2_REFUSED_STREAM')) return true;
  }
  return false;
}

export class Upstream {
  private readonly instances: Instance[];
  private next = 0;
  /** How many connections this upstream has retired (observability and tests). */
  retiredCount = 0;
  /** How many calls were made again on another instance because the first never reached a server. */
  failoverCount = 0;

  constructor(private readonly options: UpstreamOptions) {
    const addresses = options.address.split(',').map((a) => a.trim()).filter(Boolean);
    this.instances = addresses.map((address) => ({ address, current: this.connect(address), avoidUntil: 0 }));
  }

  private connect(address: string): Connection {
    return { session: new Http2SessionManager(`http://${address}`), clients: new Map(), inflight: 0, retired: false };
  }

  private clientOf(instance: Instance, conn: Connection, service: DescService): Client<DescService> {
    let client = conn.clients.get(service);
    if (!client) {
      const transport = createGrpcTransport({
        baseUrl: `http://${instance.address}`,
        sessionManager: conn.session,
        writeMaxBytes: this.options.writeMaxBytes,
        readMaxBytes: this.options.readMaxBytes,
      });
      client = createClient(service, transport);
      conn.clients.set(service, client);
    }
    return client;
  }

  /** The instances in the order this call tries them: round robin, avoided ones last. */
  private order(): Instance[] {
    const n = this.instances.length;
    const start = this.next;
    this.next = (this.next + 1) % n;
    const rotated = Array.from({ length: n }, (_, i) => this.instances[(start + i) % n]!);
    const now = Date.now();
    return [...rotated.filter((i) => i.avoidUntil <= now), ...rotated.filter((i) => i.avoidUntil > now)];
  }

  /**
   * Runs one call on an instance's current connection. A call that never reached a server
   * (neverReachedServer) is made again on the next instance, each instance at most once. Any
   * other transport failure retires that connection and is rethrown as Unavailable (the service
   * may or may not have acted on the call); every other error is rethrown unchanged.
   */
  async call<T>(service: DescService, fn: (client: Client<DescService>) => Promise<T>): Promise<T> {
    const order = this.order();
    for (let i = 0; ; i++) {
      const instance = order[i]!;
      const conn = instance.current;
      conn.inflight++;
      try {
        const result = await fn(this.clientOf(instance, conn, service));
        instance.avoidUntil = 0;
        return result;
      } catch (err) {
        if (!isTransportFailure(err)) throw err;
        this.retire(instance, conn);
        if (neverReachedServer(err)) {
          instance.avoidUntil = Date.now() + AVOID_MS;
          if (i + 1 < order.length) {
            this.failoverCount++;
            continue;
          }
        }
        throw new ConnectError('the connection to the service failed; the call may or may not have taken effect', Code.Unavailable);
      } finally {
        conn.inflight--;
        if (conn.retired && conn.inflight === 0) conn.session.abort();
      }
    }
  }

  private retire(instance: Instance, conn: Connection): void {
    if (conn.retired) return;
    conn.retired = true;
    this.retiredCount++;
    if (instance.current === conn) instance.current = this.connect(instance.address);
  }

  close(): void {
    for (const i of this.instances) i.current.session.abort();
  }
}
