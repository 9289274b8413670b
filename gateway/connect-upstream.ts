// The Connect bridge's gRPC connection to a service address, shared by every bridged call.
//
// Issue 11 item 1: one 16 MiB request forwarded over the shared HTTP/2 session left it refusing
// every later stream with NGHTTP2_ENHANCE_YOUR_CALM until restart (connect-node keeps a session
// that still looks open). Here messages are bounded both ways (never sending what the server
// would refuse), and a call that fails below gRPC — a stream or session error raised by Node, not
// a status sent by the service — retires the connection: new calls get a fresh one at once, the
// old one is closed when its last call ends.
import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';

export interface UpstreamOptions {
  /** host:port of the service's gRPC server. */
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

/** True when the failure came from this process's HTTP/2 stack rather than from the service. */
export function isTransportFailure(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return false;
  if (err.code === Code.DeadlineExceeded || err.code === Code.Canceled) return false;
  for (let e: unknown = err.cause, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (typeof (e as { code?: unknown }).code === 'string') return true; // a Node error code: ERR_HTTP2_STREAM_ERROR, ECONNRESET …
  }
  return false;
}

export class Upstream {
  private current: Connection;
  /** How many connections this upstream has retired (observability and tests). */
  retiredCount = 0;

  constructor(private readonly options: UpstreamOptions) {
    this.current = this.connect();
  }

  private connect(): Connection {
    return { session: new Http2SessionManager(`http://${this.options.address}`), clients: new Map(), inflight: 0, retired: false };
  }

  private clientOf(conn: Connection, service: DescService): Client<DescService> {
    let client = conn.clients.get(service);
    if (!client) {
      const transport = createGrpcTransport({
        baseUrl: `http://${this.options.address}`,
        sessionManager: conn.session,
        writeMaxBytes: this.options.writeMaxBytes,
        readMaxBytes: this.options.readMaxBytes,
      });
      client = createClient(service, transport);
      conn.clients.set(service, client);
    }
    return client;
  }

  /**
   * Runs one call on the current connection. A transport failure retires that connection and is
   * rethrown as Unavailable (the service may or may not have acted on the call); every other
   * error is rethrown unchanged.
   */
  async call<T>(service: DescService, fn: (client: Client<DescService>) => Promise<T>): Promise<T> {
    const conn = this.current;
    conn.inflight++;
    try {
      return await fn(this.clientOf(conn, service));
    } catch (err) {
      if (!isTransportFailure(err)) throw err;
      this.retire(conn);
      throw new ConnectError('the connection to the service failed; the call may or may not have taken effect', Code.Unavailable);
    } finally {
      conn.inflight--;
      if (conn.retired && conn.inflight === 0) conn.session.abort();
    }
  }

  private retire(conn: Connection): void {
    if (conn.retired) return;
    conn.retired = true;
    this.retiredCount++;
    if (this.current === conn) this.current = this.connect();
  }

  close(): void {
    this.current.session.abort();
  }
}
