// OpenID Connect Back-Channel Logout 1.0, the sending side. When a login session ends (logout,
// admin revocation, password change, eviction at the per-user cap) every client recorded on it
// that registered a backchannel_logout_uri receives a logout token (§2.4, signed by the key
// service with typ logout+jwt) in a form POST (§2.5). Delivery runs off the request path: the
// user's logout never waits for a relying party. Each delivery has a timeout, bounded retries with
// exponential backoff, follows no redirect (§2.8: a 3xx is a failure), reads at most a few KB of
// the answer, and is audited when it finally fails.
//
// Server-side request rules (SSRF): the target is resolved by the connection itself and every
// address it resolves to must be public unicast; loopback, private (RFC 1918, fc00::/7), link-local,
// CGNAT, multicast, unspecified and IPv4-mapped forms of those are refused. Loopback targets (http or
// https) are allowed only when AUTHMESH_BACKCHANNEL_LOGOUT_ALLOW_HTTP_LOOPBACK is true (development).
// Node never calls the lookup hook for an IP-literal host, so a literal is judged by the same rule
// before any connection, and the connected socket's remote address is checked once more.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { ipLiteralOf, isAllowedTarget } from '../core/net/server-request-target.js';
import { generateId, isLoopbackIpHost, logoutTokenClaims, LOGOUT_TOKEN_TYP } from '../core/oauth/index.js';
import type { Logger } from '../core/log/index.js';
import type { NewAuditEvent } from '../core/store/index.js';
import type { Peers } from '../mesh-deps.js';
import type { EndedSession } from './login-sessions.js';

export { isAllowedTarget };

export interface BackchannelLogoutOptions {
  issuer: string;
  /** The peers, asked for at delivery time (they exist only once the mesh listens). */
  peers(): Pick<Peers, 'client' | 'key'>;
  audit(event: NewAuditEvent): Promise<void>;
  log: Logger;
  now(): Date;
  /** Allow loopback targets (and http on a loopback IP literal): development receivers only. */
  allowLoopback: boolean;
  /**
   * The user's sub for the client (OIDC Core §8: the user id, or the pairwise identifier), so the
   * logout token names the user as the client's ID Tokens did (Back-Channel Logout 1.0 §2.4).
   * Default: the user id.
   */
  subjectOf?(client: { subjectType: string; sectorIdentifierUri: string; redirectUris: readonly string[] }, userId: string): string;
  /** Per attempt, ms (default 5,000). */
  timeoutMs?: number;
  /** Attempts per delivery, the first included (default 4). */
  maxAttempts?: number;
  /** Delay before the first retry, ms; doubled after each (default 1,000). */
  backoffMs?: number;
  /** Deliveries queued or in flight at once; more are dropped and audited (default 1,000). */
  maxPending?: number;
}

export interface BackchannelLogout {
  /** Schedules the logout tokens of the ended sessions; returns at once and never throws. */
  notify(ended: readonly EndedSession[]): void;
  /** Resolves when every scheduled delivery has finished (tests, shutdown). */
  idle(): Promise<void>;
  /** Cancels pending retries; deliveries in flight are abandoned. */
  close(): void;
}

// Enough to see a status line's worth of an error body; the rest is never read (§2.8 says nothing
// of the body, and a hostile receiver must not make us buffer).
const MAX_RESPONSE_BYTES = 4096;

class DeliveryError extends Error {}

export function createBackchannelLogout(options: BackchannelLogoutOptions): BackchannelLogout {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxAttempts = options.maxAttempts ?? 4;
  const backoffMs = options.backoffMs ?? 1000;
  const maxPending = options.maxPending ?? 1000;
  // Backoff timers and how to end each wait early (close() resolves them, so nothing hangs).
  const timers = new Map<NodeJS.Timeout, () => void>();
  const running = new Set<Promise<void>>();
  let closed = false;

  /** A connection lookup that refuses any resolved address the SSRF rules forbid (no DNS rebinding window). */
  const guardedLookup = (hostname: string, opts: object, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses;
      const bad = list.find((a) => !isAllowedTarget(a.address, options.allowLoopback));
      if (bad !== undefined || list.length === 0) return callback(new DeliveryError('the backchannel_logout_uri resolves to a forbidden address'), '');
      if ((opts as { all?: boolean }).all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };

  /** One POST (§2.5); resolves on 2xx, rejects otherwise. Redirects are not followed. */
  function post(uri: URL, token: string): Promise<void> {
    const body = new URLSearchParams({ logout_token: token }).toString();
    const send = uri.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        uri,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), accept: 'application/json' },
          lookup: guardedLookup as never,
          timeout: timeoutMs,
        },
        (res: IncomingMessage) => {
          let seen = 0;
          const status = res.statusCode ?? 0;
          res.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            if (seen > MAX_RESPONSE_BYTES) res.destroy();
          });
          const done = () => (status >= 200 && status < 300 ? resolve() : reject(new DeliveryError(`HTTP ${status}`)));
          res.on('end', done);
          res.on('close', done);
          res.on('error', () => done());
        },
      );
      // Final check on the address really connected to, whatever resolved it (a TLS request has
      // sent nothing yet at TCP connect; the literal and lookup checks above come first anyway).
      req.on('socket', (socket: Socket) => {
        const check = () => {
          const remote = socket.remoteAddress;
          if (remote === undefined || !isAllowedTarget(remote, options.allowLoopback)) {
            req.destroy(new DeliveryError('the backchannel_logout_uri connects to a forbidden address'));
          }
        };
        if (socket.remoteAddress !== undefined && !socket.connecting) check();
        else socket.once('connect', check);
      });
      // One deadline for the whole exchange, so a receiver trickling bytes cannot hold it open.
      const deadline = setTimeout(() => req.destroy(new DeliveryError(`no answer within ${timeoutMs} ms`)), timeoutMs);
      deadline.unref();
      req.on('close', () => clearTimeout(deadline));
      req.on('timeout', () => req.destroy(new DeliveryError(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof DeliveryError ? err : new DeliveryError(err.message)));
      req.end(body);
    });
  }

  /** The receiver's URI when it may be called, else undefined (no URI, or http off loopback). */
  function targetOf(raw: string): URL | undefined {
    if (raw === '') return undefined;
    let uri: URL;
    try {
      uri = new URL(raw);
    } catch {
      return undefined;
    }
    if (uri.protocol === 'https:') return uri;
    // Registration allows http on a loopback IP literal only; sending needs the dev setting too.
    return uri.protocol === 'http:' && isLoopbackIpHost(uri.hostname) && options.allowLoopback ? uri : undefined;
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      timers.set(timer, resolve);
    });

  async function deliver(session: EndedSession, clientId: string): Promise<void> {
    let client;
    try {
      client = (await options.peers().client.getClient({ clientId })).client;
    } catch (err) {
      // A deleted client has no one to tell; anything else is a failure worth auditing.
      if ((err as { code?: string }).code === 'not_found') return;
      await options.audit({ type: 'backchannel_logout.failed', subject: session.userId, clientId, details: { sid: session.sid, reason: 'client lookup failed' } });
      return;
    }
    const uri = targetOf(client?.backchannelLogoutUri ?? '');
    if (uri === undefined) {
      if (client?.backchannelLogoutUri) {
        await options.audit({ type: 'backchannel_logout.failed', subject: session.userId, clientId, details: { sid: session.sid, reason: 'http receiver not allowed', attempts: 0 } });
      }
      return;
    }
    // An IP-literal host never reaches the lookup hook: judge it here, before any connection.
    const literal = ipLiteralOf(uri.hostname);
    if (literal !== undefined && !isAllowedTarget(literal, options.allowLoopback)) {
      options.log.warn({ client_id: clientId }, 'back-channel logout refused: forbidden target address');
      await options.audit({ type: 'backchannel_logout.failed', subject: session.userId, clientId, details: { sid: session.sid, reason: 'forbidden target address', attempts: 0 } });
      return;
    }
    let reason = '';
    for (let attempt = 1; attempt <= maxAttempts && !closed; attempt++) {
      try {
        // A fresh token per attempt: its jti is new and its short exp counts from now (§2.4).
        const claims = logoutTokenClaims({
          issuer: options.issuer,
          clientId,
          // §2.4: sub as the client knows it (its ID Tokens' sub, pairwise included).
          sub: client && options.subjectOf ? options.subjectOf(client, session.userId) : session.userId,
          sid: session.sid,
          iat: Math.floor(options.now().getTime() / 1000),
          jti: generateId(),
        });
        const { jwt } = await options.peers().key.signJwt({ claims, typ: LOGOUT_TOKEN_TYP });
        await post(uri, jwt);
        options.log.info({ client_id: clientId, attempt }, 'back-channel logout delivered');
        return;
      } catch (err) {
        reason = err instanceof DeliveryError ? err.message : 'signing failed';
        if (attempt < maxAttempts && !closed) await sleep(backoffMs * 2 ** (attempt - 1));
      }
    }
    // §2.8: the OP cannot do more than report; the audit trail says which RP missed the logout.
    options.log.warn({ client_id: clientId, reason }, 'back-channel logout failed');
    await options.audit({ type: 'backchannel_logout.failed', subject: session.userId, clientId, details: { sid: session.sid, reason, attempts: maxAttempts } });
  }

  return {
    notify(ended) {
      for (const session of ended) {
        for (const clientId of session.clientIds) {
          if (closed) return;
          if (running.size >= maxPending) {
            void options.audit({ type: 'backchannel_logout.failed', subject: session.userId, clientId, details: { sid: session.sid, reason: 'too many pending deliveries' } });
            continue;
          }
          const p: Promise<void> = deliver(session, clientId)
            .catch((err: unknown) => options.log.error({ err, client_id: clientId }, 'back-channel logout crashed'))
            .finally(() => running.delete(p));
          running.add(p);
        }
      }
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
    close() {
      closed = true;
      for (const [t, resolve] of timers) {
        clearTimeout(t);
        resolve();
      }
      timers.clear();
    },
  };
}
