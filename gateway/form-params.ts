// The one parameter rule of the OAuth endpoints (authorization, token, introspection,
// revocation), wherever the parameters come from (query string or form body):
// - RFC 6749 §3.1/§3.2: a parameter sent without a value is treated as omitted;
// - RFC 6749 §3.1/§3.2: a parameter the endpoint does not recognize is ignored;
// - RFC 6749 §3.1/§3.2: a recognized parameter must not be included more than once (except
//   RFC 8707 resource and RFC 8693 audience);
// - the number of parameters and (for the form endpoints) the length of each recognized value
//   are bounded, so an oversized request is refused at once with invalid_request.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidRequest } from '../services/core/errors/index.js';
import { mediaTypeOf } from './endpoint.js';

/** Most name=value pairs a request may carry (query and body together). */
export const MAX_PARAMETERS = 64;
/** Most values of a repeatable parameter (RFC 8707 resource, RFC 8693 audience). */
export const MAX_REPEATED_VALUES = 16;

/**
 * Longest value of each recognized parameter of the form endpoints, characters. Each bound is
 * far above any legitimate value (a JWT carrying many scopes, a long redirect URI) and far below
 * what could stress a downstream hop; the authorization endpoint uses the same scope bound.
 */
export const MAX_PARAMETER_LENGTH: Readonly<Record<string, number>> = {
  grant_type: 256,
  client_id: 256,
  client_secret: 512,
  client_assertion_type: 256,
  client_assertion: 16_384,
  code: 512,
  redirect_uri: 4096,
  // RFC 7636 §4.1: code_verifier is 43 to 128 characters.
  code_verifier: 128,
  scope: 4096,
  refresh_token: 512,
  username: 256,
  password: 4096,
  resource: 2048,
  audience: 2048,
  subject_token: 16_384,
  subject_token_type: 256,
  actor_token: 16_384,
  actor_token_type: 256,
  requested_token_type: 256,
  token: 16_384,
  token_type_hint: 64,
};

/** Parameters RFC 8707 §2 (resource) and RFC 8693 §2.1 (audience) allow more than once. */
export const REPEATABLE_PARAMETERS: readonly string[] = ['resource', 'audience'];

/** onRequest hook: POST bodies must be form-encoded (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1). */
export async function requireFormBody(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
  if (req.method !== 'POST') return;
  // RFC 6749 §3.2: "application/x-www-form-urlencoded"; a charset parameter is harmless.
  if (mediaTypeOf(req) !== 'application/x-www-form-urlencoded') {
    throw new InvalidRequest('the request body must be application/x-www-form-urlencoded');
  }
}

export interface CollectedParameters {
  /** The recognized parameters that have a value, each value list in arrival order. */
  values: Map<string, string[]>;
  /** Recognized, non-repeatable parameters that came with more than one value. */
  repeated: Set<string>;
}

/**
 * Applies the rule above to name/value pairs in arrival order.
 * @param recognized the parameter names of the endpoint, every other name being ignored; 'all'
 *   for the gateway's own page forms, whose fields are all its own
 * @throws InvalidRequest when there are more than MAX_PARAMETERS pairs
 */
export function collectParameters(
  pairs: Iterable<readonly [string, string]>,
  recognized: ReadonlySet<string> | 'all',
  repeatable: readonly string[] = REPEATABLE_PARAMETERS,
): CollectedParameters {
  const values = new Map<string, string[]>();
  const repeated = new Set<string>();
  let count = 0;
  for (const [name, value] of pairs) {
    if (++count > MAX_PARAMETERS) throw new InvalidRequest(`at most ${MAX_PARAMETERS} parameters are accepted`);
    // RFC 6749 §3.1: unrecognized request parameters MUST be ignored.
    if (recognized !== 'all' && !recognized.has(name)) continue;
    // RFC 6749 §3.1: parameters sent without a value MUST be treated as if they were omitted.
    if (value === '') continue;
    const list = values.get(name);
    if (list === undefined) values.set(name, [value]);
    else {
      list.push(value);
      // RFC 6749 §3.1: request parameters MUST NOT be included more than once.
      if (!repeatable.includes(name)) repeated.add(name);
    }
  }
  return { values, repeated };
}

/** The name/value pairs of a body parsed by node:querystring (repeated names arrive as arrays). */
export function* bodyPairs(body: unknown): Generator<[string, string]> {
  if (body === null || typeof body !== 'object') return;
  for (const [name, raw] of Object.entries(body as Record<string, unknown>)) {
    for (const v of Array.isArray(raw) ? raw : [raw]) if (typeof v === 'string') yield [name, v];
  }
}

/** The name/value pairs of a request URL's query string, decoded as a form (WHATWG URL). */
export function* queryPairs(rawUrl: string): Generator<[string, string]> {
  const at = rawUrl.indexOf('?');
  if (at === -1) return;
  yield* new URLSearchParams(rawUrl.slice(at + 1));
}

export interface FormParams {
  /** A parameter sent at most once; undefined when absent or empty. */
  one(name: string): string | undefined;
  /** A parameter that may repeat (RFC 8707 resource, RFC 8693 audience); empty values dropped. */
  many(name: string): string[];
  has(name: string): boolean;
}

/**
 * The parameters of a form endpoint (token, introspection, revocation): the rule above, plus
 * each recognized value bounded by MAX_PARAMETER_LENGTH.
 * @param recognized the endpoint's parameter names, client authentication included
 * @param maxLength longest value of each parameter, characters (default MAX_PARAMETER_LENGTH; 256 for one not listed)
 * @throws InvalidRequest naming the parameter that repeats, is too long or too often repeated
 */
export function readForm(body: unknown, recognized: readonly string[], maxLength: Readonly<Record<string, number>> = MAX_PARAMETER_LENGTH): FormParams {
  const { values, repeated } = collectParameters(bodyPairs(body), new Set(recognized));
  const first = [...repeated][0];
  if (first !== undefined) throw new InvalidRequest(`parameter ${first} is repeated`);
  for (const [name, list] of values) {
    if (list.length > MAX_REPEATED_VALUES) throw new InvalidRequest(`at most ${MAX_REPEATED_VALUES} ${name} parameters are accepted`);
    const max = maxLength[name] ?? 256;
    if (list.some((v) => v.length > max)) throw new InvalidRequest(`${name} must be at most ${max} characters`);
  }
  return {
    one: (name) => values.get(name)?.[0],
    many: (name) => values.get(name) ?? [],
    has: (name) => values.has(name),
  };
}
