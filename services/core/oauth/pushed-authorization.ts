// Pushed Authorization Requests (RFC 9126): the request_uri this server issues, the rules of the
// pushed request itself, and which parameters the authorization endpoint uses when it receives a
// request_uri. Pure: no I/O (the grid that stores pushed requests is the code service's).
import { InvalidDpopProof, InvalidRequest, InvalidRequestUri } from '../errors/index.js';
import { randomIdentifier } from './secrets.js';

/** RFC 9126 §2.2: the URN prefix of the request_uri values this server issues. */
export const PAR_REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';

/** The pushed authorization request endpoint's path under the issuer (RFC 9126 §5 metadata, RFC 9449 §10.1 htu). */
export const PAR_PATH = '/oauth2/par';

/**
 * RFC 9449 §10.1: the dpop_jkt of a pushed request that came with a DPoP proof: the proof key's
 * thumbprint, which a dpop_jkt parameter, when sent too, must equal.
 * @param parameter the request's dpop_jkt ('' when absent)
 * @param proofJkt the verified proof's JWK SHA-256 thumbprint (RFC 7638)
 * @throws InvalidDpopProof when both are present and differ
 */
export function pushedDpopJkt(parameter: string, proofJkt: string): string {
  if (parameter !== '' && parameter !== proofJkt) throw new InvalidDpopProof('dpop_jkt does not match the key of the DPoP proof');
  return proofJkt;
}

/** Random bytes of a request_uri reference (256 bits: unguessable, RFC 9126 §7.1). */
const REFERENCE_BYTES = 32;
/** base64url of REFERENCE_BYTES bytes. */
const REFERENCE = /^[A-Za-z0-9_-]{43}$/;

/** A fresh request_uri and the reference under which the pushed request is stored (RFC 9126 §2.2). */
export function newPushedRequestUri(): { requestUri: string; reference: string } {
  const reference = randomIdentifier(REFERENCE_BYTES);
  return { requestUri: `${PAR_REQUEST_URI_PREFIX}${reference}`, reference };
}

/**
 * The grid reference of a request_uri, or undefined when the value is not a request_uri this
 * server could have issued. A request_uri is never dereferenced over the network (RFC 9101 §5.2
 * allows a server to refuse remote request objects; RFC 9126 §4 needs only its own URNs), so no
 * URL of a caller's choosing is ever fetched.
 */
export function pushedRequestReference(requestUri: string): string | undefined {
  if (!requestUri.startsWith(PAR_REQUEST_URI_PREFIX)) return undefined;
  const reference = requestUri.slice(PAR_REQUEST_URI_PREFIX.length);
  return REFERENCE.test(reference) ? reference : undefined;
}

/**
 * Checks the parameters of a pushed authorization request before it is validated like an
 * authorization request.
 * @param authenticatedClientId the client the request authenticated as
 * @param params.client_id the client_id parameter of the request, if sent
 * @returns the client_id the pushed request is for
 * @throws InvalidRequest when request_uri is sent (RFC 9126 §2.1) or client_id names another client
 */
export function checkPushedRequest(authenticatedClientId: string, params: { client_id?: string | undefined; request_uri?: string | undefined }): string {
  // RFC 9126 §2.1: "The request_uri authorization request parameter is one exception, and it MUST NOT be provided."
  if (params.request_uri !== undefined && params.request_uri !== '') throw new InvalidRequest('request_uri must not be sent to the pushed authorization request endpoint');
  // RFC 9126 §2.1: the client_id of the request is the authenticated client's.
  if (params.client_id !== undefined && params.client_id !== '' && params.client_id !== authenticatedClientId) {
    throw new InvalidRequest('client_id does not match the authenticated client');
  }
  return authenticatedClientId;
}

/**
 * The client_id check of RFC 9126 §4 when the authorization endpoint receives a request_uri: the
 * client_id parameter is required and must be the pushing client's.
 * @throws InvalidRequest when client_id is missing, InvalidRequestUri when it names another client
 */
export function checkRequestUriClient(pushedClientId: string, queryClientId: string | undefined): void {
  // RFC 9126 §4 (and RFC 9101 §5): client_id is still sent with request_uri.
  if (queryClientId === undefined || queryClientId === '') throw new InvalidRequest('client_id is required with request_uri');
  // RFC 9126 §4: the request_uri must have been pushed by the client named in the request.
  if (queryClientId !== pushedClientId) throw new InvalidRequestUri('request_uri was not issued to this client');
}

/**
 * Whether the client must push its authorization requests (RFC 9126 §6): its own
 * require_pushed_authorization_requests, or the server's (RFC 9126 §5 metadata) for every client.
 */
export function pushedRequestRequired(client: { requirePushedAuthorizationRequests: boolean }, serverRequires: boolean): boolean {
  return serverRequires || client.requirePushedAuthorizationRequests;
}
