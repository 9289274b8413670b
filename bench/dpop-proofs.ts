// DPoP proofs for the DPoP rows (RFC 9449 §4.2): one ES256 client key and a pool of proofs signed
// before each round (not measured), one per request, since a proof is accepted once. The pool is
// sized for the round with a wide margin; a request after it runs out reuses a proof, which the
// server refuses as a replay and the round counts as an error (never a silently easier load).
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { accessTokenHash } from '../services/core/oauth/dpop.js';

/** Proofs signed per second of a round: above any rate this machine reaches on one row. */
const PROOFS_PER_SECOND = 6_000;

export interface ProofTarget {
  htm: string;
  htu: string;
  /** For resource requests: the token the proof's ath names. */
  accessToken?: string;
}

export interface DpopProofPool {
  jkt: string;
  /** One proof now (token requests before a round; not measured). */
  proof(target: ProofTarget): Promise<string>;
  /** Signs enough proofs for a round of `seconds` s to `target`, replacing the previous pool. */
  fill(target: ProofTarget, seconds: number): Promise<void>;
  /** The next unused proof (the last one again once the pool ran out). */
  next(): string;
}

export async function dpopProofPool(): Promise<DpopProofPool> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = await exportJWK(publicKey);
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  const sign = (t: ProofTarget) => {
    const claims: Record<string, unknown> = { jti: randomUUID(), htm: t.htm, htu: t.htu, iat: Math.floor(Date.now() / 1000) };
    if (t.accessToken !== undefined) claims.ath = accessTokenHash(t.accessToken);
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey as CryptoKey);
  };
  let pool: string[] = [];
  let at = 0;
  return {
    jkt,
    proof: sign,
    async fill(target, seconds) {
      const n = Math.ceil(seconds * PROOFS_PER_SECOND);
      const next: string[] = [];
      for (let i = 0; i < n; i++) next.push(await sign(target));
      pool = next;
      at = 0;
    },
    next() {
      const p = pool[Math.min(at, pool.length - 1)]!;
      at += 1;
      return p;
    },
  };
}
