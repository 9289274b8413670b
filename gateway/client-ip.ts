// The address of the caller as the audit trail records it. X-Forwarded-For is believed only when
// the connection comes from a configured proxy (AUTHMESH_TRUSTED_PROXIES, fastify's trustProxy);
// whatever address results must be an IP, so a forged header can never put text in the trail.
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';

/**
 * The client's IP address: the nearest untrusted hop of X-Forwarded-For when the request came
 * through trusted proxies, else the connection's peer address; '' when neither is an IP.
 */
export function remoteAddress(req: FastifyRequest): string {
  // RFC 7239 §7.4: forwarded values are only as trustworthy as the proxies that wrote them.
  if (isIP(req.ip) !== 0) return req.ip;
  const peer = req.socket.remoteAddress ?? '';
  return isIP(peer) !== 0 ? peer : '';
}
