import { Conflict, NotFound } from '../errors/index.js';
import type { KeyStore } from './key-store.js';
import type { SqlRow } from './sql-client.js';
import { compact, date, object, optDate, text } from './sql-rows.js';
import type { SqlArgs, SqlRunner } from './sql-runner.js';
import type { KeyStatus, SigningAlg, SigningKey } from './types.js';

const ORDER: Record<KeyStatus, number> = { next: 0, active: 1, retired: 2 };

export function createSqlKeyStore(db: SqlRunner): KeyStore {
  const q = db.dialect.statements.keys;
  return {
    async create(input) {
      const key = compact<SigningKey>({
        kid: input.kid,
        alg: input.alg,
        publicJwk: { ...input.publicJwk },
        encryptedPrivateKey: input.encryptedPrivateKey,
        status: input.status,
        createdAt: input.createdAt ?? new Date(),
        activatedAt: input.activatedAt,
        retiredAt: input.retiredAt,
        deleteAfter: input.deleteAfter,
      });
      await db.affected(q.insert, encode(key));
      return key;
    },

    async get(kid) {
      const row = await db.first(q.get, { kid });
      if (row === undefined) throw new NotFound('signing key not found');
      return decode(row);
    },

    async list() {
      return (await db.rows(q.list)).map(decode);
    },

    setStatus(kid, status, at, options) {
      return db.transaction(async (tx) => {
        const row = await tx.first(q.getForUpdate, { kid });
        if (row === undefined) throw new NotFound('signing key not found');
        const key = decode(row);
        if (ORDER[status] < ORDER[key.status]) {
          throw new Conflict(`a ${key.status} signing key cannot become ${status}`);
        }
        if (status === key.status && options?.deleteAfter === undefined) return key;
        const next = { ...key, status };
        if (status === 'active' && key.status !== 'active') next.activatedAt = at;
        if (status === 'retired' && key.status !== 'retired') next.retiredAt = at;
        if (options?.deleteAfter !== undefined) next.deleteAfter = options.deleteAfter;
        await tx.affected(q.updateStatus, encode(next));
        return next;
      });
    },

    deleteExpired(now) {
      return db.affected(q.deleteExpired, { now });
    },
  };
}

function encode(k: SigningKey): SqlArgs {
  return {
    kid: k.kid,
    alg: k.alg,
    publicJwk: JSON.stringify(k.publicJwk),
    encryptedPrivateKey: k.encryptedPrivateKey,
    status: k.status,
    createdAt: k.createdAt,
    activatedAt: k.activatedAt,
    retiredAt: k.retiredAt,
    deleteAfter: k.deleteAfter,
  };
}

function decode(row: SqlRow): SigningKey {
  return compact<SigningKey>({
    kid: text(row, 'kid'),
    alg: text(row, 'alg') as SigningAlg,
    publicJwk: object(row, 'public_jwk'),
    encryptedPrivateKey: text(row, 'encrypted_private_key'),
    status: text(row, 'status') as KeyStatus,
    createdAt: date(row, 'created_at'),
    activatedAt: optDate(row, 'activated_at'),
    retiredAt: optDate(row, 'retired_at'),
    deleteAfter: optDate(row, 'delete_after'),
  });
}
