// gRPC adapter of the key service: maps between the proto contract and the KeyRing.
import {
  GetJwksResponse,
  GetKeyResponse,
  Jwk,
  KeyAlgorithm,
  KeyServiceService,
  KeyStatus,
  ListKeysResponse,
  RotateKeysResponse,
  SignJwtResponse,
  SigningKey as SigningKeyMessage,
} from '../../gen/ts/authmesh/key/v1/key.js';
import type { SigningAlg } from '../core/config/index.js';
import { InvalidRequest } from '../core/errors/index.js';
import { ADMIN_READ, ADMIN_WRITE, INTERNAL, PUBLIC, registration } from '../core/rpc/index.js';
import type { SigningKey } from '../core/store/types.js';
import type { KeyRing } from './key-ring.js';

export const KEY_SERVICE_NAME = 'authmesh.key.v1.KeyService';

const ALG_TO_PROTO: Record<SigningAlg, KeyAlgorithm> = {
  ES256: KeyAlgorithm.KEY_ALGORITHM_ES256,
  RS256: KeyAlgorithm.KEY_ALGORITHM_RS256,
  EdDSA: KeyAlgorithm.KEY_ALGORITHM_EDDSA,
};
const STATUS_TO_PROTO = {
  next: KeyStatus.KEY_STATUS_NEXT,
  active: KeyStatus.KEY_STATUS_ACTIVE,
  retired: KeyStatus.KEY_STATUS_RETIRED,
} as const;

export function toJwk(publicJwk: Record<string, unknown>): Jwk {
  const s = (k: string) => (typeof publicJwk[k] === 'string' ? (publicJwk[k] as string) : '');
  return Jwk.fromPartial({ kty: s('kty'), kid: s('kid'), use: s('use'), alg: s('alg'), crv: s('crv'), x: s('x'), y: s('y'), n: s('n'), e: s('e') });
}

function toMessage(k: SigningKey): SigningKeyMessage {
  return SigningKeyMessage.fromPartial({
    kid: k.kid,
    algorithm: ALG_TO_PROTO[k.alg],
    status: STATUS_TO_PROTO[k.status],
    publicJwk: toJwk(k.publicJwk),
    createTime: k.createdAt,
    activateTime: k.activatedAt,
    retireTime: k.retiredAt,
    deleteTime: k.deleteAfter,
  });
}

function algOf(a: KeyAlgorithm): SigningAlg | undefined {
  switch (a) {
    case KeyAlgorithm.KEY_ALGORITHM_UNSPECIFIED:
      return undefined;
    case KeyAlgorithm.KEY_ALGORITHM_ES256:
      return 'ES256';
    case KeyAlgorithm.KEY_ALGORITHM_RS256:
      return 'RS256';
    case KeyAlgorithm.KEY_ALGORITHM_EDDSA:
      return 'EdDSA';
    default:
      throw new InvalidRequest('algorithm must be ES256, RS256 or EDDSA');
  }
}

export function createKeyService(ring: KeyRing) {
  return registration(
    KEY_SERVICE_NAME,
    KeyServiceService,
    {
      async getJwks() {
        const keys = await ring.published();
        return GetJwksResponse.fromPartial({ keys: keys.map((k) => toJwk(k.publicJwk)) });
      },
      async getKey(req) {
        if (!req.kid) throw new InvalidRequest('kid is required');
        return GetKeyResponse.fromPartial({ key: toMessage(await ring.get(req.kid)) });
      },
      async listKeys() {
        return ListKeysResponse.fromPartial({ keys: (await ring.list()).map(toMessage) });
      },
      async rotateKeys(req, ctx) {
        const r = await ring.rotate(algOf(req.algorithm));
        ctx.log.info({ active: r.active.kid, next: r.next.kid, retired: r.retired?.kid }, 'signing keys rotated');
        return RotateKeysResponse.fromPartial({
          active: toMessage(r.active),
          next: toMessage(r.next),
          retired: r.retired ? toMessage(r.retired) : undefined,
        });
      },
      async signJwt(req) {
        if (!req.claims || typeof req.claims !== 'object') throw new InvalidRequest('claims are required');
        if (!/^[\x21-\x7e]{0,64}$/.test(req.typ)) throw new InvalidRequest('typ must be a short printable token');
        const signer = await ring.signer();
        return SignJwtResponse.fromPartial({ jwt: signer.sign(req.claims, req.typ || 'JWT'), kid: signer.kid });
      },
    },
    { getJwks: PUBLIC, getKey: ADMIN_READ, listKeys: ADMIN_READ, rotateKeys: ADMIN_WRITE, signJwt: INTERNAL },
  );
}
