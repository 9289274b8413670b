// The REST request a DPoP proof names, attested by the edge (RFC 9449 §4.3 steps 8-9, §7.1).
//
// A REST admin call (`POST /v1/clients`) is transcoded by Envoy into its gRPC RPC
// (`/authmesh.client.v1.ClientService/CreateClient`) before it reaches the service, so the service
// cannot see the HTTP method and URL the client's proof was made for. Envoy first asks the
// gateway's REST check (gateway/routes/rest-body-check.ts), which sees the REST request exactly
// as the client made it (method, :authority, path, x-forwarded-proto set by Envoy) and, for a
// DPoP-scheme call, answers with this attestation; Envoy adds it to the upstream request
// (allowed_upstream_headers) after having removed any copy the caller sent (header_mutation).
//
// Why an attestation and not a proof check at the edge: the attestation only NAMES the request;
// the service still verifies the proof itself against that name, its ath, the token's cnf.jkt,
// its single use in the grid and the nonce, exactly as for gRPC and UserInfo (dpop-proofs.ts). So
// the one copy of the proof rules and of the grid state stays in the services, the gateway needs
// no grid, and a Bearer REST call costs nothing more (the gateway mints nothing for it).
//
// Why it is safe: it is an HMAC-SHA256, under a key derived from the mesh secret (never sent
// anywhere), over the RPC the REST route maps to, htm, htu, the hash of the access token and an
// expiry a few seconds ahead. Nobody without the mesh secret can make one, so a caller cannot
// choose the request its proof is checked against; one made for a token, an RPC or a moment is
// useless for any other; and even a copied one within its lifetime names a request whose proof
// must still be fresh, unused and signed by the token's key.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidDpopProof } from '../errors/index.js';

/** Metadata key (HTTP header before transcoding) carrying the attestation. */
export const REST_DPOP_REQUEST_METADATA_KEY = 'x-authmesh-dpop-request';
/** How long an attestation is accepted after it is made, seconds (edge → transcoder → service). */
export const REST_DPOP_REQUEST_TTL_SECONDS = 15;

const VERSION = 'v1';
const KEY_LABEL = 'authmesh rest-dpop-request v1';

/** The request an attestation names. */
export interface RestDpopRequest {
  /** Full gRPC method path the REST route maps to, e.g. /authmesh.client.v1.ClientService/CreateClient. */
  rpc: string;
  /** RFC 9449 §4.2 htm: the REST request's HTTP method. */
  htm: string;
  /** RFC 9449 §4.2 htu: scheme://authority/path of the REST request, without query. */
  htu: string;
}

/** One key per purpose: the mesh secret itself never signs anything but through this derivation. */
function attestationKey(meshSecret: string): Buffer {
  return createHmac('sha256', meshSecret).update(KEY_LABEL).digest();
}

function tokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'utf8').digest('base64url');
}

function mac(key: Buffer, r: RestDpopRequest, exp: number, accessToken: string): Buffer {
  // Newline-separated: none of the parts can contain one (rpc and htm are tokens, htu a URI).
  return createHmac('sha256', key).update(`${VERSION}\n${r.rpc}\n${exp}\n${r.htm}\n${r.htu}\n${tokenHash(accessToken)}`).digest();
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

/**
 * Makes the attestation of a REST request made with `Authorization: DPoP <accessToken>`.
 * @param now the current time; the attestation expires REST_DPOP_REQUEST_TTL_SECONDS later
 * @returns `v1.<exp>.<b64url htm>.<b64url htu>.<b64url mac>` (ASCII, header-safe)
 * @throws Error when a part contains a newline (never for a request Envoy forwarded)
 */
export function attestRestDpopRequest(meshSecret: string, request: RestDpopRequest, accessToken: string, now: Date): string {
  if (/[\r\n]/.test(request.rpc + request.htm + request.htu)) throw new Error('a REST DPoP request part contains a line break');
  const exp = Math.floor(now.getTime() / 1000) + REST_DPOP_REQUEST_TTL_SECONDS;
  return [VERSION, String(exp), b64(request.htm), b64(request.htu), mac(attestationKey(meshSecret), request, exp, accessToken).toString('base64url')].join('.');
}

/**
 * Checks an attestation for the call being executed and returns the REST request it names.
 * Bound to `rpc` (the method the service runs), to the access token presented, and to its expiry
 * (at most REST_DPOP_REQUEST_TTL_SECONDS ahead of `now`, not passed).
 * @returns { htm, htu } the proof must name (RFC 9449 §4.3 steps 8-9)
 * @throws InvalidDpopProof when it is malformed, forged, for another token or RPC, or expired
 */
export function verifyRestDpopRequest(meshSecret: string, attestation: string, call: { rpc: string; accessToken: string; now: Date }): { htm: string; htu: string } {
  const invalid = () => new InvalidDpopProof('the REST request attestation is not valid for this call');
  const parts = attestation.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION || !/^\d{1,12}$/.test(parts[1]!)) throw invalid();
  const exp = Number(parts[1]);
  const htm = Buffer.from(parts[2]!, 'base64url').toString('utf8');
  const htu = Buffer.from(parts[3]!, 'base64url').toString('utf8');
  const presented = Buffer.from(parts[4]!, 'base64url');
  const expected = mac(attestationKey(meshSecret), { rpc: call.rpc, htm, htu }, exp, call.accessToken);
  // Constant time: the MAC is a secret-derived value compared with what the caller sent.
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) throw invalid();
  const nowSeconds = Math.floor(call.now.getTime() / 1000);
  if (exp < nowSeconds || exp > nowSeconds + REST_DPOP_REQUEST_TTL_SECONDS + 1) throw new InvalidDpopProof('the REST request attestation has expired');
  return { htm, htu };
}
