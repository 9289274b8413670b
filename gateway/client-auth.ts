// Extracts the client credentials an HTTP request presents (RFC 6749 §2.3, RFC 7523 §2.2) into
// the ClientCredentials message. Pure parsing: whether they are right, and whether the method
// matches the client's registration, is decided by the client service.
import {
  TokenEndpointAuthMethod,
  type ClientCredentials,
} from '../gen/ts/authmesh/client/v1/client.js';
import { InvalidClient, InvalidRequest } from '../services/core/errors/index.js';
import type { FormParams } from './form-params.js';

export interface PresentedClient {
  credentials: ClientCredentials;
  /** The client_id the request names (the request log shows it once authenticated); undefined when none is readable. */
  clientId: string | undefined;
}

// RFC 6749 §2.3.1 / Appendix B: client_id and secret are form-encoded before Basic encoding.
function formDecode(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    throw new InvalidClient('the Basic credentials are not properly encoded');
  }
}

function parseBasic(header: string): { clientId: string; clientSecret: string } {
  // RFC 7617 §2: "Basic" (case-insensitive), one space, token68.
  const m = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!m) throw new InvalidClient('the Authorization header is not valid Basic credentials');
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidClient('the Basic credentials are not properly encoded');
  const clientId = formDecode(decoded.slice(0, colon));
  const clientSecret = formDecode(decoded.slice(colon + 1));
  if (clientId === '') throw new InvalidClient('the Basic credentials name no client');
  return { clientId, clientSecret };
}

/**
 * @param authorization the Authorization header, if any
 * @param endpointUrl the absolute URL of the endpoint, passed along in the deprecated
 *   `endpoint_url` field; the client service ignores it and decides accepted assertion audiences
 *   from the issuer (RFC 7523 §3)
 * @throws InvalidRequest when more than one method is used, InvalidClient for unreadable Basic credentials
 */
export function extractClientCredentials(authorization: string | undefined, form: FormParams, endpointUrl: string): PresentedClient {
  const bodyId = form.one('client_id');
  const bodySecret = form.one('client_secret');
  const assertionType = form.one('client_assertion_type');
  const assertion = form.one('client_assertion');

  if (authorization !== undefined) {
    // RFC 6749 §2.3.1: the token endpoint authenticates clients with HTTP Basic; other schemes are not client credentials here.
    if (!/^Basic /i.test(authorization)) throw new InvalidClient('client authentication must use the Basic scheme');
    const basic = parseBasic(authorization);
    // RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
    if (bodySecret !== undefined || assertion !== undefined || assertionType !== undefined) {
      throw new InvalidRequest('more than one client authentication method was used');
    }
    // A client_id repeated in the body is harmless only when it names the same client.
    if (bodyId !== undefined && bodyId !== basic.clientId) throw new InvalidRequest('client_id does not match the Basic credentials');
    return {
      clientId: basic.clientId,
      credentials: { credential: { $case: 'clientSecret', value: { ...basic, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } } },
    };
  }

  if (assertion !== undefined || assertionType !== undefined) {
    // RFC 6749 §2.3: one method per request.
    if (bodySecret !== undefined) throw new InvalidRequest('more than one client authentication method was used');
    // RFC 7521 §4.2: client_assertion_type and client_assertion are sent together.
    if (assertion === undefined || assertionType === undefined) {
      throw new InvalidRequest('client_assertion and client_assertion_type must be sent together');
    }
    return {
      clientId: bodyId,
      credentials: {
        credential: {
          $case: 'clientAssertion',
          value: { clientAssertionType: assertionType, clientAssertion: assertion, clientId: bodyId ?? '', endpointUrl },
        },
      },
    };
  }

  if (bodySecret !== undefined) {
    // RFC 6749 §2.3.1: client_secret in the body comes with client_id.
    if (bodyId === undefined) throw new InvalidRequest('client_secret was sent without client_id');
    return {
      clientId: bodyId,
      credentials: {
        credential: {
          $case: 'clientSecret',
          value: { clientId: bodyId, clientSecret: bodySecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST },
        },
      },
    };
  }

  if (bodyId !== undefined) return { clientId: bodyId, credentials: { credential: { $case: 'clientId', value: bodyId } } };
  // No credentials at all: the client service answers invalid_client.
  return { clientId: undefined, credentials: { credential: undefined } };
}
