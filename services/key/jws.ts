// Compact JWS signing (RFC 7515 §7.1) on node:crypto's synchronous sign. jose signs through
// WebCrypto, whose async thread-pool path measured ~10x slower per token here (see NOTES.md);
// the token endpoint signs on every request, so this path matters. Verification stays with jose
// (services/core/oauth), and tests verify these tokens with jose to prove interoperability.
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { SigningAlg } from '../core/config/index.js';
import { inSpan } from '../core/telemetry/index.js';

export interface Signer {
  kid: string;
  alg: SigningAlg;
  sign(payload: Record<string, unknown>, typ: string): string;
}

export function createSigner(kid: string, alg: SigningAlg, privateJwk: Record<string, unknown>): Signer {
  const key: KeyObject = createPrivateKey({ key: privateJwk as never, format: 'jwk' });
  return {
    kid,
    alg,
    sign(payload, typ) {
      return inSpan('jws.sign', { 'jws.alg': alg, 'jws.kid': kid, 'jws.typ': typ }, () => signCompact(key, kid, alg, payload, typ));
    },
  };
}

function signCompact(key: KeyObject, kid: string, alg: SigningAlg, payload: Record<string, unknown>, typ: string): string {
  const header = Buffer.from(JSON.stringify({ alg, kid, typ })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const input = Buffer.from(`${header}.${body}`);
  // RFC 7518 §3.4: ECDSA signatures are the raw R||S concatenation, not DER.
  const sig =
    alg === 'ES256'
      ? sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' })
      : alg === 'RS256'
        ? sign('sha256', input, key)
        : sign(null, input, key);
  return `${header}.${body}.${sig.toString('base64url')}`;
}
