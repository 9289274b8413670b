// Mutual TLS at the token endpoint (RFC 8705): which certificate a token request presents, how it
// authenticates a client that sent only its client_id (tls_client_auth, self_signed_tls_client_auth,
// or a public client binding its tokens), and the thumbprint its access tokens are bound to.
import type { ClientCertificate, ClientCredentials } from '../../gen/ts/authmesh/client/v1/client.js';
import { InvalidRequest } from '../core/errors/index.js';
import { certificateThumbprint, MAX_CERTIFICATE_BYTES, MAX_CHAIN_LENGTH } from '../core/oauth/index.js';
import type { ClientView } from './client-view.js';

export interface PresentedCertificate {
  /** The credentials to authenticate with: a bare client_id becomes a mutual-TLS credential when a certificate came with it. */
  credentials: ClientCredentials | undefined;
  /** RFC 8705 §3.1: x5t#S256 of the certificate, or undefined without mutual TLS. */
  thumbprint: string | undefined;
}

function sameCertificate(a: ClientCertificate, b: ClientCertificate): boolean {
  return Buffer.from(a.certificate).equals(Buffer.from(b.certificate));
}

/**
 * RFC 8705 §2: a client certificate authenticates only because the client proved possession of its
 * private key in the TLS handshake, and that handshake ends at the edge (Envoy), which the gateway
 * believes only with the edge proof. A certificate named in an RPC proves nothing by itself: anyone
 * can copy a client's certificate. So only the mesh (the gateway) may present one, in
 * TokenRequest.client_certificate or in a mutual_tls credential; any other caller is refused.
 * @param callerIsMesh the call carried the mesh credential
 * @throws InvalidRequest when another caller presents a certificate
 */
export function assertCertificateFromEdge(callerIsMesh: boolean, credentials: ClientCredentials | undefined, forwarded?: ClientCertificate | undefined): void {
  if (callerIsMesh) return;
  const named = credentials?.credential?.$case === 'mutualTls' || (forwarded !== undefined && forwarded.certificate.length > 0);
  if (named) throw new InvalidRequest('a client certificate is accepted only as the edge forwarded it from a TLS handshake (RFC 8705 §2)');
}

/**
 * The certificate of a token request: TokenRequest.client_certificate (what the edge forwarded),
 * or the one inside a mutual_tls credential of a gRPC caller; both must agree.
 * @throws InvalidRequest for two different certificates or one too large to be real
 */
export function presentedCertificate(credentials: ClientCredentials | undefined, forwarded: ClientCertificate | undefined): PresentedCertificate {
  const mutualTls = credentials?.credential?.$case === 'mutualTls';
  const inCredential = mutualTls && credentials?.credential?.$case === 'mutualTls' ? credentials.credential.value.certificate : undefined;
  const fromEdge = forwarded !== undefined && forwarded.certificate.length > 0 ? forwarded : undefined;
  if (fromEdge !== undefined && inCredential !== undefined && !sameCertificate(fromEdge, inCredential)) {
    throw new InvalidRequest('the request presents two different client certificates');
  }
  const certificate = fromEdge ?? inCredential;
  if (certificate === undefined || certificate.certificate.length === 0) {
    // RFC 8705 §2: a mutual-TLS credential without a certificate authenticates nothing.
    if (mutualTls) throw new InvalidRequest('a mutual_tls credential needs the client certificate');
    return { credentials, thumbprint: undefined };
  }
  if (certificate.certificate.length > MAX_CERTIFICATE_BYTES || certificate.chain.length > MAX_CHAIN_LENGTH) {
    throw new InvalidRequest('the client certificate is too large');
  }
  // RFC 8705 §2: the client sends its client_id and authenticates with the TLS connection.
  const converted: ClientCredentials | undefined =
    credentials?.credential?.$case === 'clientId'
      ? { credential: { $case: 'mutualTls', value: { clientId: credentials.credential.value, certificate } } }
      : credentials;
  return { credentials: converted, thumbprint: certificateThumbprint(certificate.certificate) };
}

/**
 * RFC 8705 §3.4 tls_client_certificate_bound_access_tokens: a client that registered it gets only
 * certificate-bound tokens, so a request without a certificate is refused.
 * @throws InvalidRequest
 */
export function assertCertificatePolicy(client: Pick<ClientView, 'tlsClientCertificateBoundAccessTokens'>, thumbprint: string | undefined): void {
  if (client.tlsClientCertificateBoundAccessTokens && thumbprint === undefined) {
    throw new InvalidRequest('this client must use mutual TLS: its access tokens are bound to its certificate (RFC 8705 §3)');
  }
}
