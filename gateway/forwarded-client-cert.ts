// The TLS client certificate of a request (RFC 8705), as Envoy forwards it in
// x-forwarded-client-cert (XFCC). The header is believed only from Envoy: Envoy adds
// x-authmesh-edge-proof, a secret from its environment (AUTHMESH_MTLS_EDGE_SECRET) that nobody else
// has, to the requests it forwards to the gateway, and overwrites any copy a client sent. Anyone
// else who can reach the gateway port (a local process, a misrouted request) can send an XFCC
// header but not the secret: such a request is refused (400 invalid_request), never believed and
// never silently stripped, so a misconfiguration shows at once.
import type { FastifyRequest } from 'fastify';
import type { Config } from '../services/core/config/index.js';
import { InvalidRequest } from '../services/core/errors/index.js';
import { constantTimeEqualTo, parseForwardedClientCert, type ForwardedClientCertificate } from '../services/core/oauth/index.js';
import type { PresentedClient } from './client-auth.js';

export const XFCC_HEADER = 'x-forwarded-client-cert';
export const EDGE_PROOF_HEADER = 'x-authmesh-edge-proof';

const certificates = new WeakMap<FastifyRequest, ForwardedClientCertificate>();

/**
 * Reads (and checks the origin of) the forwarded client certificate of a request.
 * @returns the certificate, or undefined when the request came without one
 * @throws InvalidRequest when XFCC (or the edge proof) comes without the right proof, or is malformed
 */
export function createForwardedCertificateReader(config: Pick<Config, 'mtlsEdgeSecret'>) {
  const isEdgeSecret = config.mtlsEdgeSecret === undefined ? undefined : constantTimeEqualTo(config.mtlsEdgeSecret);
  return (headers: FastifyRequest['headers']): ForwardedClientCertificate | undefined => {
    const xfcc = headers[XFCC_HEADER];
    const proof = headers[EDGE_PROOF_HEADER];
    if (xfcc === undefined && proof === undefined) return undefined;
    // RFC 8705 §2 / §3 rest on the TLS connection: a certificate is believed only from the proxy
    // that terminated it, proven by the secret compared in constant time.
    const fromEdge = isEdgeSecret !== undefined && typeof proof === 'string' && isEdgeSecret(proof);
    if (!fromEdge) throw new InvalidRequest('x-forwarded-client-cert is accepted only from the edge proxy');
    if (xfcc === undefined) return undefined;
    if (typeof xfcc !== 'string') throw new InvalidRequest('x-forwarded-client-cert must be sent once');
    return parseForwardedClientCert(xfcc);
  };
}

/** Stores what the onRequest hook read, for the routes. */
export function rememberClientCertificate(req: FastifyRequest, cert: ForwardedClientCertificate | undefined): void {
  if (cert !== undefined) certificates.set(req, cert);
}

/**
 * RFC 8705 §3: the two headers by which a service learns the request's client certificate (for
 * certificate-bound tokens at the admin APIs and UserInfo), copied as Envoy sent them. The
 * onRequest hook has already refused a request whose x-forwarded-client-cert came without the
 * right edge proof; the service checks the proof again (constant time) before believing it.
 * @returns header name → value, empty when the request came without them
 */
export function forwardedCertificateHeaders(headers: { [name: string]: string | string[] | undefined } | Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [XFCC_HEADER, EDGE_PROOF_HEADER]) {
    const v = headers instanceof Headers ? headers.get(name) : headers[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

/** The verified-origin client certificate of this request (DER, with its chain), if any. */
export function clientCertificateOf(req: FastifyRequest): ForwardedClientCertificate | undefined {
  return certificates.get(req);
}

/**
 * RFC 8705 §2: a client that sends only its client_id over mutual TLS authenticates with the
 * certificate (tls_client_auth, self_signed_tls_client_auth); the client service decides. Used by every endpoint that
 * authenticates clients: token, introspection, revocation, PAR (RFC 9126 §2), device authorization
 * (RFC 8628 §3.1).
 */
export function withClientCertificate(client: PresentedClient, req: FastifyRequest): PresentedClient {
  const cert = clientCertificateOf(req);
  const c = client.credentials.credential;
  if (cert === undefined || c?.$case !== 'clientId') return client;
  return {
    clientId: client.clientId,
    credentials: { credential: { $case: 'mutualTls', value: { clientId: c.value, certificate: { certificate: cert.certificate, chain: cert.chain } } } },
  };
}
