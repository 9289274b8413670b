// RFC 7591 §2.1: how a client's registered grant_types and response_types must agree.
import { InvalidClientMetadata } from '../errors/index.js';

/** The response types this server's authorization endpoint has: code only (RFC 9700 §2.1.2: no implicit). */
export const RESPONSE_TYPES = ['code'] as const;

/**
 * RFC 7591 §2.1: the grant type each response type goes with. Grant types that are not listed
 * (client_credentials, refresh_token, password, token exchange) use no response type: a client
 * with only those never visits the authorization endpoint.
 */
const GRANT_OF_RESPONSE_TYPE: Record<(typeof RESPONSE_TYPES)[number], string> = { code: 'authorization_code' };

/**
 * Checks registered response_types against grant_types and says which to register.
 * @param grantTypes the grant type names the client registers (after defaults)
 * @param responseTypes the response_types sent, or undefined when omitted
 * @returns the response types of the client: those sent, without duplicates; when omitted, the
 *   ones its grant types need (["code"] with authorization_code, else [])
 * @throws InvalidClientMetadata for an unsupported response type, or grant and response types
 *   that do not agree (RFC 7591 §2.1, §3.2.2)
 */
export function checkResponseTypes(grantTypes: readonly string[], responseTypes: readonly string[] | undefined): string[] {
  const needed = RESPONSE_TYPES.filter((r) => grantTypes.includes(GRANT_OF_RESPONSE_TYPE[r]));
  if (responseTypes === undefined) return [...needed];
  const given = [...new Set(responseTypes)];
  for (const r of given) {
    // RFC 7591 §2: only response types the server supports can be registered.
    if (!(RESPONSE_TYPES as readonly string[]).includes(r)) throw new InvalidClientMetadata('response_types may only contain code');
    // RFC 7591 §2.1: response type code goes with the authorization_code grant.
    const grant = GRANT_OF_RESPONSE_TYPE[r as (typeof RESPONSE_TYPES)[number]];
    if (!grantTypes.includes(grant)) throw new InvalidClientMetadata(`response_types ${r} requires the ${grant} grant in grant_types`);
  }
  // RFC 7591 §2.1: the authorization_code grant is used with response type code.
  const missing = needed.find((r) => !given.includes(r));
  if (missing !== undefined) throw new InvalidClientMetadata(`grant_types ${GRANT_OF_RESPONSE_TYPE[missing]} requires response_types ${missing}`);
  return given;
}
