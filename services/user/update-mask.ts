// update_mask handling for UpdateUser (AIP-134): named fields only, every mutable one when empty.
import { resolveUpdateMask } from '../core/rpc/index.js';
import { CLAIM_FIELDS } from './user-claims.js';

export const MUTABLE_USER_FIELDS = ['username', 'email', 'display_name', 'roles', 'disabled', 'locked', ...CLAIM_FIELDS] as const;
export type MutableUserField = (typeof MUTABLE_USER_FIELDS)[number];

const NOT_UPDATABLE = ['user_id', 'lock_expire_time', 'password_change_time', 'create_time', 'update_time', 'etag'];
const FIELDS = Object.fromEntries(MUTABLE_USER_FIELDS.map((f) => [f, f])) as Record<string, MutableUserField>;

/** The fields to change (AIP-134). @throws InvalidRequest */
export function fieldsOfMask(paths: readonly string[] | undefined): { fields: Set<MutableUserField>; explicit: boolean } {
  const { fields, explicit } = resolveUpdateMask(paths, { fields: FIELDS, immutable: NOT_UPDATABLE });
  return { fields: new Set(fields), explicit };
}
