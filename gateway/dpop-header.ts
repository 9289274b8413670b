// The DPoP header (RFC 9449 §4.1) as the gateway's OAuth endpoints read it: the token endpoint and
// the pushed authorization request endpoint (§10.1) pass it on to the service that verifies it.
import type { FastifyRequest } from 'fastify';
import { InvalidDpopProof } from '../services/core/errors/index.js';

/**
 * The DPoP header of a request (RFC 9449 §4.1), or undefined. RFC 9449 §4.3 step 1: exactly one
 * DPoP header; Node joins repeated headers with ", ", which a compact JWS never contains.
 */
export function dpopHeader(req: FastifyRequest): string | undefined {
  const value = req.headers.dpop;
  if (value === undefined) return undefined;
  if (Array.isArray(value) || value.includes(',')) throw new InvalidDpopProof('exactly one DPoP header is allowed');
  return value.trim();
}
