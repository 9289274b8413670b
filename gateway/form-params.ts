// Reading application/x-www-form-urlencoded requests of the token, introspection and revocation
// endpoints: the content type is checked before the body is read, repeated parameters are
// refused, and empty values count as absent.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidRequest } from '../services/core/errors/index.js';
import { mediaTypeOf } from './endpoint.js';

/** onRequest hook: POST bodies must be form-encoded (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1). */
export async function requireFormBody(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
  if (req.method !== 'POST') return;
  // RFC 6749 §3.2: "application/x-www-form-urlencoded"; a charset parameter is harmless.
  if (mediaTypeOf(req) !== 'application/x-www-form-urlencoded') {
    throw new InvalidRequest('the request body must be application/x-www-form-urlencoded');
  }
}

export interface FormParams {
  /** A parameter sent at most once; undefined when absent or empty. */
  one(name: string): string | undefined;
  /** A parameter that may repeat (RFC 8707 resource, RFC 8693 audience); empty values dropped. */
  many(name: string): string[];
  has(name: string): boolean;
}

const printableName = (name: string) => name.replace(/[^\w.-]/g, '?').slice(0, 40);

export function readForm(body: unknown, repeatable: readonly string[] = []): FormParams {
  const values = new Map<string, string[]>();
  if (body !== null && typeof body === 'object') {
    for (const [name, raw] of Object.entries(body as Record<string, unknown>)) {
      const list = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string');
      // RFC 6749 §3.2: request parameters MUST NOT be included more than once (RFC 8707 §2 and
      // RFC 8693 §2.1 let resource and audience repeat).
      if (list.length > 1 && !repeatable.includes(name)) throw new InvalidRequest(`parameter ${printableName(name)} is repeated`);
      // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
      const present = list.filter((v) => v !== '');
      if (present.length > 0) values.set(name, present);
    }
  }
  return {
    one: (name) => values.get(name)?.[0],
    many: (name) => values.get(name) ?? [],
    has: (name) => values.has(name),
  };
}
