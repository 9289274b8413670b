// update_mask handling for the Update RPCs (AIP-134), shared by every resource service.
import { InvalidRequest } from '../errors/index.js';

export interface UpdateMaskSpec<F extends string> {
  /** Mask path (proto snake_case) → the field it changes. */
  fields: Readonly<Record<string, F>>;
  /** Paths that exist but cannot be changed (ids, output-only fields). */
  immutable: readonly string[];
  /** What an empty mask changes; default every field of `fields`. */
  all?: readonly F[];
}

/**
 * The fields an update changes: the named ones, or every mutable one for an empty mask. Paths
 * arrive in proto (snake_case) form over gRPC and in JSON (lowerCamelCase) form from Connect and
 * transcoders; both are accepted. Throws InvalidRequest naming the offending path.
 */
export function resolveUpdateMask<F extends string>(paths: readonly string[] | undefined, spec: UpdateMaskSpec<F>): { fields: F[]; explicit: boolean } {
  if (paths === undefined || paths.length === 0) return { fields: [...new Set(spec.all ?? Object.values(spec.fields))], explicit: false };
  const out = new Set<F>();
  for (const raw of paths) {
    const path = raw.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const field = Object.hasOwn(spec.fields, path) ? spec.fields[path] : undefined;
    if (field !== undefined) out.add(field);
    else if (spec.immutable.includes(path)) throw new InvalidRequest(`update_mask names ${path}, which cannot be changed`);
    else throw new InvalidRequest(`update_mask names an unknown field: ${raw.slice(0, 64)}`);
  }
  return { fields: [...out], explicit: true };
}
