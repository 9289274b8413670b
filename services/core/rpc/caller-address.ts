// The end user's IP address an RPC's audit events record. Only the mesh's own callers (the
// gateway, authenticated by the mesh credential) may say whose address a request came from, in
// a request's remote_ip field; any other caller is recorded at the address it connected from.
import { isIP } from 'node:net';
import { InvalidRequest } from '../errors/index.js';
import type { CallContext } from './context.js';

/**
 * The IP address of a gRPC peer string as grpc-js reports it ("127.0.0.1:5000", "::1:5000",
 * "[::1]:5000"), or '' when it names no IP (e.g. a Unix socket).
 */
export function peerIp(peer: string): string {
  const unbracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(peer)?.[1];
  if (unbracketed !== undefined) return isIP(unbracketed) !== 0 ? unbracketed : '';
  // grpc-js appends ":port" even to an IPv6 address ("::1:5000" is itself a valid IPv6 address),
  // so the port is taken off first.
  const colon = peer.lastIndexOf(':');
  const host = colon > 0 ? peer.slice(0, colon) : '';
  if (/^\d+$/.test(peer.slice(colon + 1)) && isIP(host) !== 0) return host;
  return isIP(peer) !== 0 ? peer : '';
}

/**
 * The address to audit for this call.
 * @param claimed the request's remote_ip field ('' = not given)
 * @returns `claimed` when the caller is the mesh and it is an IP address (or ''); otherwise the
 *   peer's IP address, whatever the request claims
 * @throws InvalidRequest when the mesh sends a remote_ip that is not an IP address
 */
export function auditedAddress(ctx: Pick<CallContext, 'principal' | 'peer'>, claimed: string): string {
  if (ctx.principal.kind !== 'mesh') return peerIp(ctx.peer);
  // An IPv6 address with a zone is at most 45 + zone characters; isIP bounds the value.
  if (claimed !== '' && (claimed.length > 64 || isIP(claimed) === 0)) throw new InvalidRequest('remote_ip must be an IP address');
  return claimed;
}
