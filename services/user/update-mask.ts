// update_mask handling for UpdateUser (AIP-134): named fields only, every mutable one when empty.
import { InvalidRequest } from '../core/errors/index.js';

export const MUTABLE_USER_FIELDS = ['username', 'email', 'display_name', 'roles', 'disabled', 'locked'] as const;
export type MutableUserField = (typeof MUTABLE_USER_FIELDS)[number];

const NOT_UPDATABLE = new Set(['user_id', 'lock_expire_time', 'password_change_time', 'create_time', 'update_time', 'etag']);

/**
 * The fields to change. Paths arrive in proto (snake_case) form over gRPC and may arrive in
 * JSON (camelCase) form from transcoders; both are accepted. @throws InvalidRequest
 */
export function fieldsOfMask(paths: readonly string[] | undefined): { fields: Set<MutableUserField>; explicit: boolean } {
  if (paths === undefined || paths.length === 0) return { fields: new Set(MUTABLE_USER_FIELDS), explicit: false };
  const fields = new Set<MutableUserField>();
  for (const raw of paths) {
    const path = raw.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if ((MUTABLE_USER_FIELDS as readonly string[]).includes(path)) fields.add(path as MutableUserField);
    else if (NOT_UPDATABLE.has(path)) throw new InvalidRequest(`update_mask: ${path} cannot be changed`);
    else throw new InvalidRequest(`update_mask: unknown field ${raw.slice(0, 64)}`);
  }
  return { fields, explicit: true };
}
